"""The weights inside a window, never committed (semantics v2; docs/protocol.md §11), for every
layer of the window at once (FAC4DNN: the layers stacked on a leading axis).

In a window of T steps the master weights of layer l evolve exactly (no rounding),

    M_t(l) = M_0(l) − η Σ_{s<t} A_s(l)ᵀ G_s(l),      m_t(l) = m_0(l) − η 2^R Σ_{s<t} Σ_b G_s(l)[b, ·],

with A_s(l) the layer's input and G_s(l) = G_Z its output gradient at step s; A and G are stacked
over the layers and the window's steps as (L, T, B, d) tensors (zero-padded to a common width:
2^ni for inputs, 2^no for outputs) and η = eta_int.  A relation is claimed for a public
combination ω of the layers (a row of layer weights: eq(u_l, ·) for the forward relation at a
random point, a shifted one for the backward relation, whose output belongs to the layer below).
A claim on a product with M_t therefore splits into a *start* term with M_0 and a *history* term
in A and G only:

  forward   Σ_l ω(l) Σ_t eq(u_t,t) Σ_c A_t(l,u_r,c) M_t(l,c,u_o)
              = Σ_{l,c} ω(l) A(l,u_t,u_r,c) M_0(l,c,u_o) − η Σ_{l,s,c} ω(l) H(l,s,c) K(l,s,c),
            H(l,s,c) = Σ_b A_s(l,b,c) G_s(l,b,u_o),     K(l,s,c) = Σ_t eq(u_t,t) lt(s,t) A_t(l,u_r,c);
  backward  Σ_l ω(l) Σ_t eq(v_t,t) Σ_o G_t(l,v_r,o) M_t(l,v_c,o)
              = Σ_{l,o} ω(l) G(l,v_t,v_r,o) M_0(l,v_c,o) − η Σ_{l,s,o} ω(l) H'(l,s,o) K'(l,s,o),
            H'(l,s,o) = Σ_b A_s(l,b,v_c) G_s(l,b,o),    K'(l,s,o) = Σ_t eq(v_t,t) lt(s,t) G_t(l,v_r,o);
  window end  M_T(l) − M_0(l) = −η Σ_s A_s(l)ᵀ G_s(l),  m_T(l) − m_0(l) = −η 2^R Σ_{s,b} G_s(l)(b, ·).

Each Σ ω H·K is one sumcheck over (l, s, c) with the public factor ω; then H(r_l, r_s, r_c) is an
aggregated product over the instances (l, s) (zkdl.circuits.matmul) and K(r_l, r_s, r_c) one
sumcheck over t whose two public factors are eq(u_t, ·) and LT(r_s, ·), the multilinear extension
of "less than", which the verifier evaluates in O(log T) (:func:`lt_eval`).  The proof of a
relation is O(log(L·T·B·d)) in size; the prover's work is O(L·T·B·d) plus O(Σ_l d_l d_(l+1))
per window for binding M_0 and for the end weights.

The weights are committed per layer (model and master commitments); a claim on the stacked M at
(r_l, r_c, r_o) is Σ_l eq(r_l, l) M_l(r_c, r_o) (each M_l zero-padded to the common widths,
:func:`zkdl.circuits.tensors.eq_ext`): per class of layers of one shape (:func:`classes`) but the
last the prover sends the class's share, the last class's is derived (:func:`_weight_claim`); a
class of one layer becomes a claim on that layer's commitment, a class of several one claim on
the combination of their commitments (Claims.add_combination).  The window end and the forward
bias term claim per class too, so a net of one hidden width sends a few values, not a few per layer.

Claims are on masked extensions (circuits/tensors.py): A and G are zero outside the valid
(layer, step, row, column) region, so padded layers and steps contribute nothing to the sums;
the bias terms, which have no A factor, carry the masks of the valid steps and rows explicitly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from zkdl.codec import Writer
from zkdl.field import R_MODULUS, FrVec
from zkdl.mle import ceil_log2, eq_eval, fix_leading, fix_trailing
from zkdl.sumcheck import SumcheckSpec, Term

from .channel import Channel, Claimed, lincomb
from .matmul import _bind_axis, claim_product, transpose_last
from .tensors import eq_ext, layer_eval

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


def resize(point: Sequence[int], n: int) -> tuple[list[int], int]:
    """A point on an axis of len(point) variables, moved to n variables, for tables whose valid part
    fits both: T_len(point) = factor · T_n(point')."""
    point = [int(x) for x in point]
    m = len(point)
    if m <= n:
        return [0] * (n - m) + point, 1
    lead = 1
    for x in point[:m - n]:
        lead = lead * (1 - x) % P
    return point[m - n:], lead


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


def _later_sums_stacked(rows: FrVec, u: Sequence[int], Lp: int, Tp: int, D: int) -> FrVec:
    """_later_sums of every layer of an (Lp × Tp × D) table."""
    n = Tp * D
    return FrVec.concat([_later_sums(rows[l * n:(l + 1) * n], u, Tp, D) for l in range(Lp)])


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
    return _sum_rows(A * g.repeat_each(D), dims)


def _repeat(v: Sequence[int] | FrVec, n: int) -> FrVec:
    """Each entry of v repeated n times (a table constant along its trailing variables)."""
    v = v if isinstance(v, FrVec) else FrVec.from_ints([int(x) % P for x in v])
    return v.repeat_each(n)


# ---------------------------------------------------------------------------- operands
@dataclass
class Operand:
    """A stacked tensor a relation reads: the prover's padded table (a thunk, never called by the
    verifier) and the sink for claims on it (point, Claimed)."""

    values: Callable[[], FrVec]
    claim: Callable[[list, Claimed], None]


@dataclass
class Weights:
    """Per-layer weights (a matrix (d_l, d_(l+1)) or a bias vector d_(l+1) per layer, each committed
    on its own): the prover's per-layer padded tables (a thunk) and the sink for claims on layer l
    at a point in that layer's own variables."""

    tables: Callable[[], list[FrVec]]
    claim: Callable[[int, list, Claimed], None]
    #: the prover's evaluation of layer l at a point of its own variables (default: from
    #: ``tables``; the window protocol evaluates the layer's commitment opening directly, without
    #: converting every layer's table)
    evaluate: Callable[[int, list], int] | None = None
    #: the layers' tensor names and the sink for a claim on a combination of tensors,
    #: combine([(name, point, coefficient)], value): sum coefficient * tensor(point) = value
    names: Sequence[str] = ()
    combine: Callable[[list, Claimed], None] | None = None

    def at(self, l: int, point: Sequence[int]) -> int:
        if self.evaluate is not None:
            return self.evaluate(l, list(point))
        return self.tables()[l].dot(_eq(point))

    def value(self, terms: Sequence[tuple[int, list, int]]) -> int:
        """The prover's sum of coefficient * W_l(point) over terms (layer, point, coefficient)."""
        return sum(c * self.at(l, pt) for l, pt, c in terms) % P

    def members(self, terms: Sequence[tuple[int, list, int]], sign: int = 1) -> list:
        return [(self.names[l], pt, sign * c % P) for l, pt, c in terms]


def classes(sh: "StackShape", bias: bool) -> list[list[int]]:
    """The layers whose weight matrices (bias: bias vectors) have the same shape, hence the same
    commitment layout, in the order of their first layer: a claim on a combination of the layers
    of a class is one claim (Claims.add_combination), opened in one group."""
    out: dict = {}
    for l in range(sh.L):
        out.setdefault(sh.widths[l + 1] if bias else (sh.widths[l], sh.widths[l + 1]), []).append(l)
    return list(out.values())


def _send_class(ch: Channel, W: Weights, terms: list, label: bytes) -> tuple[Claimed, int]:
    """Commit to the class's share of a claim: one layer (terms [(l, point, coef)]) sends W_l(point)
    (weight coef in the claim), several send sum coef W_l(point) (weight 1) and claim it on
    their combination.  Returns (value, weight)."""
    if len(terms) == 1:
        l, pt, c = terms[0]
        v = ch.send_scalar_com(label, lambda: W.at(l, pt))
        W.claim(l, pt, v)
        return v, c
    v = ch.send_scalar_com(label + b"s", lambda: W.value(terms))
    W.combine(W.members(terms), v)
    return v, 1


def _derive_class(W: Weights, terms: list, value: Claimed) -> None:
    """The last class's share of a claim, derived from the claim and the others' values."""
    if len(terms) == 1:
        l, pt, c = terms[0]
        W.claim(l, pt, value.inv_scale(c))
    else:
        W.combine(W.members(terms), value)


@dataclass(frozen=True)
class StackShape:
    """Valid and padded sizes of a window's layer stack: L layers of widths d_0 … d_L, T steps of B
    rows."""

    T: int
    B: int
    widths: tuple[int, ...]

    @property
    def L(self) -> int:
        return len(self.widths) - 1

    @property
    def nl(self) -> int:
        return ceil_log2(self.L)

    @property
    def nt(self) -> int:
        return ceil_log2(self.T)

    @property
    def nb(self) -> int:
        return ceil_log2(self.B)

    @property
    def ni(self) -> int:
        return max(ceil_log2(d) for d in self.widths[:-1])

    @property
    def no(self) -> int:
        return max(ceil_log2(d) for d in self.widths[1:])

    Lp = property(lambda self: 1 << self.nl)
    Tp = property(lambda self: 1 << self.nt)
    Bp = property(lambda self: 1 << self.nb)
    Din = property(lambda self: 1 << self.ni)
    Dout = property(lambda self: 1 << self.no)

    def in_vars(self, l: int) -> int:
        return ceil_log2(self.widths[l])

    def out_vars(self, l: int) -> int:
        return ceil_log2(self.widths[l + 1])

    @property
    def history(self) -> bool:
        """A window of one step has no history term (M_0 is the only weights it uses)."""
        return self.T > 1

    def absorb(self, ch: Channel, label: bytes) -> None:
        ch.t.domain(label)
        w = Writer().u32(self.T).u32(self.B).u32(len(self.widths))
        for d in self.widths:
            w.u32(d)
        ch.t.append_bytes(b"stack-shape", w.getvalue())


def _row_mask(sh: StackShape, u_r: Sequence[int]) -> int:
    return sum(_eq(u_r).to_ints()[:sh.B]) % P


def _bind_weights(W: list[FrVec], sh: StackShape, point: Sequence[int], axis: str) -> FrVec:
    """The stacked weights with one axis bound, every layer zero-padded to the common widths:
    axis "out": M(l, c, point) for every layer l and input c, an (Lp × Din) table;
    axis "in":  M(l, point, o) for every layer l and output o, an (Lp × Dout) table."""
    D = sh.Din if axis == "out" else sh.Dout
    parts = []
    for l in range(sh.Lp):
        if l >= sh.L:
            parts.append(FrVec.zeros(D))
            continue
        if axis == "out":
            pt, f = resize(point, sh.out_vars(l))
            v = fix_trailing(W[l], pt) * f
        else:
            pt, f = resize(point, sh.in_vars(l))
            v = fix_leading(W[l], pt) * f
        parts.append(FrVec.concat([v, FrVec.zeros(D - len(v))]))
    return FrVec.concat(parts)


def _weight_claim(ch: Channel, sh: StackShape, W: Weights, r_l: Sequence[int], p_c: Sequence[int],
                  p_o: Sequence[int], claim: Claimed) -> None:
    """claim = M(r_l, p_c, p_o) = Σ_l eq(r_l, l) f_l M_l(p_c', p_o') on the stacked (zero-padded)
    weights: per class of layers of one shape (:func:`classes`) the prover sends its share
    (M_l(p_c', p_o') for a class of one layer, Σ_(l in class) eq(r_l, l) f_l M_l(p_c', p_o') for
    several: a claim on their combination), the last class's share is derived."""
    e = _eq(r_l).to_ints()
    terms = []
    for l in range(sh.L):
        pc, fc = resize(p_c, sh.in_vars(l))
        po, fo = resize(p_o, sh.out_vars(l))
        terms.append((l, pc + po, e[l] * fc % P * fo % P))
    cls = classes(sh, bias=False)
    parts = [_send_class(ch, W, [terms[l] for l in c], b"layer-weight-claim") for c in cls[:-1]]
    rest = claim - lincomb([v for v, _ in parts], [w for _, w in parts]) if parts else claim
    _derive_class(W, [terms[l] for l in cls[-1]], rest)


# ---------------------------------------------------------------------------- relations
def forward(ch: Channel, sh: StackShape, A: Operand, G: Operand | None, M0: Weights, m0: Weights,
            omega: Sequence[int], u: Sequence[int], lhs: Claimed, *, eta: int, R: int, what: str) -> None:
    """Reduce the committed claim lhs = Σ_l ω(l) Z(l, u), Z_t(l) = [A_t(l) | 2^R] · M_t(l) (masked;
    u on (T, B, d_out)), to claims on A, G (the history), M_0 and m_0 (the start weights)."""
    nl, nt, nb, ni, no = sh.nl, sh.nt, sh.nb, sh.ni, sh.no
    Lp, Tp, Bp, Din = sh.Lp, sh.Tp, sh.Bp, sh.Din
    u = [int(x) for x in u]
    u_t, u_r, u_o = u[:nt], u[nt:nt + nb], u[nt + nb:]
    omega = [int(w) % P for w in omega]
    sh.absorb(ch, b"zkdl/forward-v3")
    ch.t.append_scalars(b"layer-weights", omega)
    ch.t.append_scalars(b"point", u)
    om = lambda rr: layer_eval(omega, rr[:nl])                             # noqa: E731
    rows = _row_mask(sh, u_r)
    bias_mask = (1 << R) * rows * valid_steps(u_t, sh.T) % P
    bterms = []
    for l in range(sh.L):
        po, fo = resize(u_o, sh.out_vars(l))
        bterms.append((l, po, omega[l] * fo % P))
    parts = [_send_class(ch, m0, [bterms[l] for l in c], b"bias-start") for c in classes(sh, bias=True)]
    start = lhs - lincomb([v for v, _ in parts], [w * bias_mask % P for _, w in parts])
    if sh.history:
        g_o = lambda: fix_trailing(G.values(), u_o)                        # noqa: E731  (Lp·Tp, Bp)
        a_r = lambda: _bind_axis(A.values(), (Lp * Tp, Bp, Din), 1, u_r)   # noqa: E731  (Lp·Tp, Din)
        kappa = later_steps(u_t, sh.T)

        def hist_tables():
            return [_weighted_rows(A.values(), g_o(), (Lp * Tp, Bp, Din)),
                    _later_sums_stacked(a_r(), u_t, Lp, Tp, Din), _repeat(omega, Tp * Din)]

        def bias_tables():
            return [_sum_rows(g_o(), (Lp * Tp, Bp, 1)), _repeat(omega, Tp) * FrVec.from_ints(kappa * Lp)]

        hist = ch.send_scalar_com(b"history", lambda: _dot3(hist_tables()))
        bh = ch.send_scalar_com(b"bias-history", lambda: _dot(bias_tables()))
        start = start + hist * eta + bh * (eta * (1 << (2 * R)) * rows % P)
    # the start term: Σ_{l,c} ω(l) A(l, u_t, u_r, c) M_0(l, c, u_o)
    with ch.check(f"{what}, start weights"):
        r, fac = ch.sumcheck(SumcheckSpec(nl + ni, 3, (Term(1, (0, 1, 2)),)),
                             lambda: [_bind_axis(A.values(), (Lp, Tp * Bp, Din), 1, u_t + u_r),
                                      _bind_weights(M0.tables(), sh, u_o, "out"), _repeat(omega, Din)], start, {2: om})
    r_l, r_c = r[:nl], r[nl:]
    A.claim(r_l + u_t + u_r + r_c, fac[0])
    _weight_claim(ch, sh, M0, r_l, r_c, u_o, fac[1])
    if not sh.history:
        return
    # the history term: Σ_{l,s,c} ω(l) H(l,s,c) K(l,s,c)
    with ch.check(f"{what}, history"):
        r, fac = ch.sumcheck(SumcheckSpec(nl + nt + ni, 3, (Term(1, (0, 1, 2)),)), hist_tables, hist, {2: om})
    r_l, r_s, r_c = r[:nl], r[nl:nl + nt], r[nl + nt:]
    # H(r_l, r_s, r_c) = Σ_{l,s,b} eq((r_l, r_s), (l, s)) A(l, s, b, r_c) G(l, s, b, u_o)
    _steps_product(ch, sh, A, G, r_l + r_s + r_c + u_o, fac[0], f"{what}, history (H)")
    # K(r_l, r_s, r_c) = Σ_t eq(u_t, t) LT(r_s, t) A(r_l, t, u_r, r_c)
    _later_claim(ch, Tp, lambda: fix_trailing(fix_leading(a_r(), r_l), r_c), u_t, r_s, fac[1],
                 f"{what}, history (K)", lambda rt, c: A.claim(r_l + rt + u_r + r_c, c))
    # the bias history: Σ_{l,s} ω(l) κ(s) gb(l, s), gb(l, s) = Σ_b G(l, s, b, u_o)
    with ch.check(f"{what}, bias history"):
        r, fac = ch.sumcheck(SumcheckSpec(nl + nt, 2, (Term(1, (0, 1)),)), bias_tables, bh,
                             {1: lambda rr: om(rr) * FrVec.from_ints(kappa).dot(_eq(rr[nl:])) % P})
    G.claim(r + [HALF] * nb + u_o, fac[0] * pow(2, -nb, P))


def backward(ch: Channel, sh: StackShape, A: Operand, G: Operand, M0: Weights, omega: Sequence[int],
             v: Sequence[int], lhs: Claimed, *, eta: int, what: str) -> None:
    """Reduce the committed claim lhs = Σ_l ω(l) Y(l, v), Y_t(l) = G_t(l) · M_t(l)[:-1]ᵀ (masked;
    v on (T, B, d_in), the input axis of 2^ni columns), to claims on G, A (the history) and M_0."""
    nl, nt, nb, ni, no = sh.nl, sh.nt, sh.nb, sh.ni, sh.no
    Lp, Tp, Bp, Dout = sh.Lp, sh.Tp, sh.Bp, sh.Dout
    v = [int(x) for x in v]
    v_t, v_r, v_c = v[:nt], v[nt:nt + nb], v[nt + nb:]
    omega = [int(w) % P for w in omega]
    sh.absorb(ch, b"zkdl/backward-v3")
    ch.t.append_scalars(b"layer-weights", omega)
    ch.t.append_scalars(b"point", v)
    om = lambda rr: layer_eval(omega, rr[:nl])                             # noqa: E731
    start = lhs
    if sh.history:
        a_c_ = lambda: fix_trailing(A.values(), v_c)                       # noqa: E731  (Lp·Tp, Bp)
        g_r = lambda: _bind_axis(G.values(), (Lp * Tp, Bp, Dout), 1, v_r)  # noqa: E731  (Lp·Tp, Dout)

        def hist_tables():
            return [_weighted_rows(G.values(), a_c_(), (Lp * Tp, Bp, Dout)),
                    _later_sums_stacked(g_r(), v_t, Lp, Tp, Dout), _repeat(omega, Tp * Dout)]

        hist = ch.send_scalar_com(b"history", lambda: _dot3(hist_tables()))
        start = start + hist * eta
    with ch.check(f"{what}, start weights"):
        r, fac = ch.sumcheck(SumcheckSpec(nl + no, 3, (Term(1, (0, 1, 2)),)),
                             lambda: [_bind_axis(G.values(), (Lp, Tp * Bp, Dout), 1, v_t + v_r),
                                      _bind_weights(M0.tables(), sh, v_c, "in"), _repeat(omega, Dout)], start, {2: om})
    r_l, r_o = r[:nl], r[nl:]
    G.claim(r_l + v_t + v_r + r_o, fac[0])
    _weight_claim(ch, sh, M0, r_l, v_c, r_o, fac[1])
    if not sh.history:
        return
    with ch.check(f"{what}, history"):
        r, fac = ch.sumcheck(SumcheckSpec(nl + nt + no, 3, (Term(1, (0, 1, 2)),)), hist_tables, hist, {2: om})
    r_l, r_s, r_o = r[:nl], r[nl:nl + nt], r[nl + nt:]
    # H'(r_l, r_s, r_o) = Σ_{l,s,b} eq((r_l, r_s), (l, s)) A(l, s, b, v_c) G(l, s, b, r_o)
    _steps_product(ch, sh, A, G, r_l + r_s + v_c + r_o, fac[0], f"{what}, history (H)")
    # K'(r_l, r_s, r_o) = Σ_t eq(v_t, t) LT(r_s, t) G(r_l, t, v_r, r_o)
    _later_claim(ch, Tp, lambda: fix_trailing(fix_leading(g_r(), r_l), r_o), v_t, r_s, fac[1],
                 f"{what}, history (K)", lambda rt, c: G.claim(r_l + rt + v_r + r_o, c))


def window_end(ch: Channel, sh: StackShape, A: Operand, G: Operand, M0: Weights, m0: Weights, M1: Weights,
               m1: Weights, *, eta: int, R: int, what: str) -> None:
    """M_T(l) = M_0(l) − η Σ_s A_s(l)ᵀ G_s(l) and m_T(l) = m_0(l) − η 2^R Σ_{s,b} G_s(l)(b, ·) for
    every layer, checked at one random point of the stacked weights: claims on the start and end
    weights of every layer and on A, G."""
    nl, nt, nb, ni, no = sh.nl, sh.nt, sh.nb, sh.ni, sh.no
    sh.absorb(ch, b"zkdl/window-end-v3")
    w = ch.challenges(b"u-end", nl + ni + no)
    w_l, w_c, w_o = w[:nl], w[nl:nl + ni], w[nl + ni:]
    e = _eq(w_l).to_ints()
    terms, bterms = [], []
    for l in range(sh.L):
        pc, fc = resize(w_c, sh.in_vars(l))
        po, fo = resize(w_o, sh.out_vars(l))
        terms.append((l, pc + po, e[l] * fc % P * fo % P))
        bterms.append((l, po, e[l] * fo % P))

    def difference(S: Weights, E: Weights, ts: list, label: bytes) -> Claimed:
        """Σ coef (S_l − E_l)(point) over a class's terms: one value, claimed on the combination."""
        d = ch.send_scalar_com(label, lambda: (S.value(ts) - E.value(ts)) % P)
        S.combine(S.members(ts) + E.members(ts, -1), d)
        return d
    # Σ_l eq(w_l, l) (M_0 − M_T)(l, w) = η Σ_s (A_sᵀ G_s)(w_l, w) = η 2^nt (AᵀG)(w_l, ½.., w)
    diffs = [difference(M0, M1, [terms[l] for l in c], b"end-difference") for c in classes(sh, bias=False)]
    bdiffs = [difference(m0, m1, [bterms[l] for l in c], b"bias-end-difference") for c in classes(sh, bias=True)]
    half_t = [HALF] * nt
    diff = lincomb(diffs, [1] * len(diffs)).inv_scale(eta * (1 << nt))
    _steps_product(ch, sh, A, G, w_l + half_t + w_c + w_o, diff, f"{what}, window end")
    bdiff = lincomb(bdiffs, [1] * len(bdiffs)).inv_scale(eta * (1 << (R + nt + nb)))
    G.claim(w_l + half_t + [HALF] * nb + w_o, bdiff)


def _steps_product(ch: Channel, sh: StackShape, A: Operand, G: Operand, point: list, claim: Claimed,
                   what: str) -> None:
    """A claim on (Aᵀ G)(p_l, p_s, p_c, p_o) = Σ_{l,s,b} eq((p_l, p_s), (l, s)) A(l, s, b, p_c) G(l, s, b, p_o):
    the aggregated product over the instances (l, s) (zkdl.circuits.matmul) → claims on A and G."""
    n_inst = sh.nl + sh.nt
    N, Bp, Din, Dout = sh.Lp * sh.Tp, sh.Bp, sh.Din, sh.Dout
    a_pt, a_c, g_pt, g_c = claim_product(ch, N, Din, Bp, Dout, lambda: transpose_last(A.values(), (N, Bp, Din)),
                                         G.values, point, claim, what)
    A.claim(a_pt[:n_inst] + a_pt[n_inst + sh.ni:] + a_pt[n_inst:n_inst + sh.ni], a_c)
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


def _dot3(tabs: list) -> int:
    return (tabs[0] * tabs[2]).dot(tabs[1])
