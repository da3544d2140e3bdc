"""The weights inside a window, never committed (semantics v2; docs/protocol.md §11).

In a window of T steps the master weights of a layer evolve exactly (no rounding),

    M_t = M_0 − η Σ_{s<t} A_sᵀ G_s,        m_t = m_0 − η 2^R Σ_{s<t} Σ_b G_s[b, ·]   (bias row),

with A_s the layer's input and G_s = G_Z its output gradient at step s (B × d each, stacked over
the window as (T, B, d) tensors) and η = eta_int.  A claim on a product with M_t at a random point
therefore splits into a *start* term with M_0 (committed once per window) and a *history* term in
A and G only:

  forward   Σ_t eq(u_t,t) Σ_c A_t(u_r,c) M_t(c,u_o)
              = Σ_c A(u_t,u_r,c) M_0(c,u_o) − η Σ_{s,c} H(s,c) K(s,c),
            H(s,c) = Σ_b A_s(b,c) G_s(b,u_o),     K(s,c) = Σ_t eq(u_t,t) lt(s,t) A_t(u_r,c);
  backward  Σ_t eq(v_t,t) Σ_o G_t(v_r,o) M_t(v_c,o)
              = Σ_o G(v_t,v_r,o) M_0(v_c,o) − η Σ_{s,o} H'(s,o) K'(s,o),
            H'(s,o) = Σ_b A_s(b,v_c) G_s(b,o),    K'(s,o) = Σ_t eq(v_t,t) lt(s,t) G_t(v_r,o);
  window end  M_T − M_0 = −η Σ_s A_sᵀ G_s,  m_T − m_0 = −η 2^R Σ_{s,b} G_s(b, ·).

Each Σ H·K is one sumcheck over (s, c); then H(r_s, r_c) is an aggregated product over the
instances s (zkdl.circuits.matmul) and K(r_s, r_c) one sumcheck over t whose two public factors
are eq(u_t, ·) and LT(r_s, ·), the multilinear extension of "less than", which the verifier
evaluates in O(log T) (:func:`lt_eval`).  The prover's work is O(T·B·d) per relation and layer,
plus O(d²) per window for binding M_0 and for the end weights.

Claims are on masked extensions (circuits/tensors.py): A and G are zero outside the valid
(step, row, column) box, so padded steps contribute nothing to the sums; the bias terms, which
have no A factor, carry the masks of the valid steps and rows explicitly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from zkdl.field import R_MODULUS, FrVec
from zkdl.mle import ceil_log2, eq_eval, fix_leading, fix_trailing
from zkdl.sumcheck import SumcheckSpec, Term
from zkdl.codec import Writer

from .channel import Channel, Claimed
from .matmul import _bind_axis, claim_product, transpose_last

P = R_MODULUS
HALF = pow(2, -1, P)


# ---------------------------------------------------------------------------- the "less than" predicate
def lt_eval(x: Sequence[int], y: Sequence[int]) -> int:
    """The multilinear extension of [s < t] for n-bit s, t (most significant bit first) at (x, y):
    Σ_j (Π_{m<j} eq(x_m, y_m)) (1 − x_j) y_j.  O(n)."""
    acc, prefix = 0, 1
    for a, b in zip(x, y):
        a, b = int(a) % P, int(b) % P
        acc = (acc + prefix * (1 - a) % P * b) % P
        prefix = prefix * ((a * b + (1 - a) * (1 - b)) % P) % P
    return acc


def _eq(u: Sequence[int]) -> FrVec:
    return FrVec.eq_table(list(u)) if len(u) else FrVec.ones(1)


def lt_row(x: Sequence[int]) -> FrVec:
    """LT(x, t) for every t in {0,1}^n: Σ_{s<t} eq(x, s) (prefix sums)."""
    out, acc = [], 0
    for v in _eq(x).to_ints():
        out.append(acc)
        acc = (acc + v) % P
    return FrVec.from_ints(out)


def later_steps(u: Sequence[int], T: int) -> list[int]:
    """κ(s) = Σ_{s<t<T} eq(u, t) for every s in {0,1}^n (suffix sums over the valid steps)."""
    e = _eq(u).to_ints()
    out, acc = [0] * len(e), 0
    for s in range(len(e) - 1, -1, -1):
        out[s] = acc
        if s < T:
            acc = (acc + e[s]) % P
    return out


def valid_steps(u: Sequence[int], T: int) -> int:
    """Σ_{t<T} eq(u, t): the mask of the valid steps at u."""
    return sum(_eq(u).to_ints()[:T]) % P


# ---------------------------------------------------------------------------- prover-side tables
def _later_sums(rows: FrVec, u: Sequence[int], Tp: int, D: int) -> FrVec:
    """K[s] = Σ_{t>s} eq(u, t) rows[t] for a (Tp × D) table."""
    e = _eq(u).to_ints()
    acc = FrVec.zeros(D)
    out: list = [None] * Tp
    for s in range(Tp - 1, -1, -1):
        out[s] = acc
        acc = acc + rows[s * D:(s + 1) * D] * e[s]
    return FrVec.concat(out)


def _sum_rows(v: FrVec, dims: tuple[int, int, int]) -> FrVec:
    """Σ_b v[s, b, d] of a (Tp, Bp, D) table, as a (Tp, D) table."""
    idx = np.arange(len(v)).reshape(dims).transpose(1, 0, 2).reshape(-1)
    w = FrVec(v.limbs[idx])
    for _ in range(ceil_log2(dims[1])):
        w = w.half_sum()
    return w


def _weighted_rows(A: FrVec, g: FrVec, dims: tuple[int, int, int]) -> FrVec:
    """Σ_b A[s, b, c] g[s, b] for a (Tp, Bp, D) table A and a (Tp, Bp) table g: a (Tp, D) table."""
    D = dims[2]
    return _sum_rows(A * FrVec(np.repeat(g.limbs, D, axis=0)), dims)


# ---------------------------------------------------------------------------- operands
@dataclass
class Operand:
    """A tensor a relation reads: the prover's padded table (a thunk, never called by the
    verifier) and the sink for claims on it (point, Claimed)."""

    values: Callable[[], FrVec]
    claim: Callable[[list, Claimed], None]


@dataclass(frozen=True)
class LayerShape:
    """Valid and padded sizes of one layer's window: T steps of B rows, d_in → d_out."""

    T: int
    B: int
    d_in: int
    d_out: int

    @property
    def Tp(self) -> int:
        return 1 << ceil_log2(self.T)

    @property
    def Bp(self) -> int:
        return 1 << ceil_log2(self.B)

    @property
    def Dc(self) -> int:
        return 1 << ceil_log2(self.d_in)

    @property
    def Do(self) -> int:
        return 1 << ceil_log2(self.d_out)

    @property
    def vars(self) -> tuple[int, int, int, int]:
        return tuple(ceil_log2(v) for v in (self.Tp, self.Bp, self.Dc, self.Do))

    @property
    def history(self) -> bool:
        """A window of one step has no history term (M_0 is the only weights it uses)."""
        return self.T > 1

    def absorb(self, ch: Channel, label: bytes) -> None:
        ch.t.domain(label)
        ch.t.append_bytes(b"layer-shape", Writer().u32(self.T).u32(self.B).u32(self.d_in).u32(self.d_out).getvalue())


def _row_mask(sh: LayerShape, u_r: Sequence[int]) -> int:
    return sum(_eq(u_r).to_ints()[:sh.B]) % P


# ---------------------------------------------------------------------------- relations
def forward(ch: Channel, sh: LayerShape, A: Operand, G: Operand | None, M0: Operand, m0: Operand,
            u: Sequence[int], lhs: Claimed, *, eta: int, R: int, what: str) -> None:
    """Reduce the committed claim lhs = Z(u), Z_t = [A_t | 2^R] · M_t stacked over the window's
    steps (masked), to claims on A, G (the history), M_0 and m_0 (the start weights)."""
    nt, nb, nc, no = sh.vars
    Tp, Bp, Dc = sh.Tp, sh.Bp, sh.Dc
    u = list(u)
    u_t, u_r, u_o = u[:nt], u[nt:nt + nb], u[nt + nb:]
    sh.absorb(ch, b"zkdl/forward-v2")
    ch.t.append_scalars(b"point", u)
    rows = _row_mask(sh, u_r)
    bias_mask = (1 << R) * rows * valid_steps(u_t, sh.T) % P
    mb = ch.send_scalar_com(b"bias-start", lambda: m0.values().dot(_eq(u_o)))
    m0.claim(u_o, mb)
    start = lhs - mb * bias_mask
    if sh.history:
        g_o = lambda: fix_trailing(G.values(), u_o)                        # noqa: E731  (Tp, Bp)
        a_r = lambda: _bind_axis(A.values(), (Tp, Bp, Dc), 1, u_r)         # noqa: E731  (Tp, Dc)
        kappa = later_steps(u_t, sh.T)

        def hist_tables():
            return [_weighted_rows(A.values(), g_o(), (Tp, Bp, Dc)), _later_sums(a_r(), u_t, Tp, Dc)]

        def bias_tables():
            return [_sum_rows(g_o(), (Tp, Bp, 1)), FrVec.from_ints(kappa)]

        hist = ch.send_scalar_com(b"history", lambda: _dot(hist_tables()))
        bh = ch.send_scalar_com(b"bias-history", lambda: _dot(bias_tables()))
        start = start + hist * eta + bh * (eta * (1 << (2 * R)) * rows % P)
    # the start term: Σ_c A(u_t, u_r, c) M_0(c, u_o)
    with ch.check(f"{what}, start weights"):
        r, fac = ch.sumcheck(SumcheckSpec(nc, 2, (Term(1, (0, 1)),)),
                             lambda: [fix_leading(A.values(), u_t + u_r), fix_trailing(M0.values(), u_o)], start, {})
    A.claim(u_t + u_r + r, fac[0])
    M0.claim(r + u_o, fac[1])
    if not sh.history:
        return
    # the history term: Σ_{s,c} H(s,c) K(s,c)
    with ch.check(f"{what}, history"):
        r, fac = ch.sumcheck(SumcheckSpec(nt + nc, 2, (Term(1, (0, 1)),)), hist_tables, hist, {})
    r_s, r_c = r[:nt], r[nt:]
    # H(r_s, r_c) = Σ_{s,b} eq(r_s, s) A(s, b, r_c) G(s, b, u_o): a product over the instances s
    _steps_product(ch, sh, A, G, r_s + r_c + u_o, fac[0], f"{what}, history (H)")
    # K(r_s, r_c) = Σ_t eq(u_t, t) LT(r_s, t) A(t, u_r, r_c)
    _later_claim(ch, Tp, lambda: fix_trailing(a_r(), r_c), u_t, r_s, fac[1], f"{what}, history (K)",
                 lambda rt, c: A.claim(rt + u_r + r_c, c))
    # the bias history: Σ_s gb(s) κ(s), gb(s) = Σ_b G(s, b, u_o)
    with ch.check(f"{what}, bias history"):
        r, fac = ch.sumcheck(SumcheckSpec(nt, 2, (Term(1, (0, 1)),)), bias_tables, bh,
                             {1: lambda rr: FrVec.from_ints(kappa).dot(_eq(rr))})
    G.claim(r + [HALF] * nb + u_o, fac[0] * pow(2, -nb, P))


def backward(ch: Channel, sh: LayerShape, A: Operand, G: Operand, M0: Operand, v: Sequence[int], lhs: Claimed,
             *, eta: int, what: str) -> None:
    """Reduce the committed claim lhs = Y(v), Y_t = G_t · M_t[:-1]ᵀ stacked (masked; v on
    (T, B, d_in)), to claims on G, A (the history) and M_0."""
    nt, nb, nc, no = sh.vars
    Tp, Bp, Do = sh.Tp, sh.Bp, sh.Do
    v = list(v)
    v_t, v_r, v_c = v[:nt], v[nt:nt + nb], v[nt + nb:]
    sh.absorb(ch, b"zkdl/backward-v2")
    ch.t.append_scalars(b"point", v)
    start = lhs
    if sh.history:
        a_c_ = lambda: fix_trailing(A.values(), v_c)                       # noqa: E731  (Tp, Bp)
        g_r = lambda: _bind_axis(G.values(), (Tp, Bp, Do), 1, v_r)         # noqa: E731  (Tp, Do)

        def hist_tables():
            return [_weighted_rows(G.values(), a_c_(), (Tp, Bp, Do)), _later_sums(g_r(), v_t, Tp, Do)]

        hist = ch.send_scalar_com(b"history", lambda: _dot(hist_tables()))
        start = start + hist * eta
    with ch.check(f"{what}, start weights"):
        r, fac = ch.sumcheck(SumcheckSpec(no, 2, (Term(1, (0, 1)),)),
                             lambda: [fix_leading(G.values(), v_t + v_r), fix_leading(M0.values(), v_c)], start, {})
    G.claim(v_t + v_r + r, fac[0])
    M0.claim(v_c + r, fac[1])
    if not sh.history:
        return
    with ch.check(f"{what}, history"):
        r, fac = ch.sumcheck(SumcheckSpec(nt + no, 2, (Term(1, (0, 1)),)), hist_tables, hist, {})
    r_s, r_o = r[:nt], r[nt:]
    # H'(r_s, r_o) = Σ_{s,b} eq(r_s, s) A(s, b, v_c) G(s, b, r_o)
    _steps_product(ch, sh, A, G, r_s + v_c + r_o, fac[0], f"{what}, history (H)")
    # K'(r_s, r_o) = Σ_t eq(v_t, t) LT(r_s, t) G(t, v_r, r_o)
    _later_claim(ch, Tp, lambda: fix_trailing(g_r(), r_o), v_t, r_s, fac[1], f"{what}, history (K)",
                 lambda rt, c: G.claim(rt + v_r + r_o, c))


def window_end(ch: Channel, sh: LayerShape, A: Operand, G: Operand, M0: Operand, m0: Operand, M1: Operand,
               m1: Operand, *, eta: int, R: int, what: str) -> None:
    """M_T = M_0 − η Σ_s A_sᵀ G_s and m_T = m_0 − η 2^R Σ_{s,b} G_s(b, ·), checked at a random
    point: claims on the start and end weights and on A, G."""
    nt, nb, nc, no = sh.vars
    sh.absorb(ch, b"zkdl/window-end")
    w = ch.challenges(b"u-end", nc + no)
    w_c, w_o = w[:nc], w[nc:]
    c0 = ch.send_scalar_com(b"start-claim", lambda: M0.values().dot(_eq(w)))
    c1 = ch.send_scalar_com(b"end-claim", lambda: M1.values().dot(_eq(w)))
    M0.claim(w, c0)
    M1.claim(w, c1)
    half_t = [HALF] * nt
    diff = (c0 - c1).inv_scale(eta * (1 << nt))     # Σ_s (A_sᵀ G_s)(w) / 2^nt = (AᵀG)(½.., w)
    _steps_product(ch, sh, A, G, half_t + w_c + w_o, diff, f"{what}, window end")
    b0 = ch.send_scalar_com(b"bias-start-claim", lambda: m0.values().dot(_eq(w_o)))
    b1 = ch.send_scalar_com(b"bias-end-claim", lambda: m1.values().dot(_eq(w_o)))
    m0.claim(w_o, b0)
    m1.claim(w_o, b1)
    G.claim(half_t + [HALF] * nb + w_o, (b0 - b1).inv_scale(eta * (1 << (R + nt + nb))))


def _steps_product(ch: Channel, sh: LayerShape, A: Operand, G: Operand, point: list, claim: Claimed,
                   what: str) -> None:
    """A claim on (Aᵀ G)(p_s, p_c, p_o) = Σ_{s,b} eq(p_s, s) A(s, b, p_c) G(s, b, p_o): the aggregated
    product over the instances s (zkdl.circuits.matmul) → claims on A and G."""
    nt, _, nc, _ = sh.vars
    Tp, Bp, Dc, Do = sh.Tp, sh.Bp, sh.Dc, sh.Do
    a_pt, a_c, g_pt, g_c = claim_product(ch, Tp, Dc, Bp, Do, lambda: transpose_last(A.values(), (Tp, Bp, Dc)),
                                         G.values, point, claim, what)
    A.claim(a_pt[:nt] + a_pt[nt + nc:] + a_pt[nt:nt + nc], a_c)
    G.claim(g_pt, g_c)


def _later_claim(ch: Channel, Tp: int, rows_fn, u_t, r_s, claim: Claimed, what: str, sink) -> None:
    """Σ_t eq(u_t, t) LT(r_s, t) X(t) = claim for a prover table X over the steps (rows_fn)."""
    nt = ceil_log2(Tp)
    with ch.check(what):
        r, fac = ch.sumcheck(SumcheckSpec(nt, 3, (Term(1, (0, 1, 2)),)),
                             lambda: [rows_fn(), _eq(u_t), lt_row(r_s)], claim,
                             {1: lambda rr: eq_eval(u_t, rr), 2: lambda rr: lt_eval(r_s, rr)})
    sink(list(r), fac[0])


def _dot(tabs: list) -> int:
    return tabs[0].dot(tabs[1])
