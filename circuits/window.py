"""The window protocol, run by both channels (docs/protocol.md §11, "Order of the proof", "zkReLU"
and "Aggregated matrix products").

:func:`_protocol` states the proof of a training window (and of an inference) once, over a
:mod:`zkdl.circuits.channel` channel: (1) the commitments and the derived data stacks (the start
and end master weights are in the statement); (2) the logUp-GKR range check; (3) for all layers
at once (docs/protocol.md §11, "Stacking: steps and layers"), the forward and backward relations
with the weights of every step and the window-end relation (:mod:`.history`: start term, history
term, aggregated products of :mod:`.matmul`); (4) the revealed losses; (5) the derived tensors G_Z
and A (zkReLU); (6) the openings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


from zkdl.curve import PointVec
from zkdl.field import R_MODULUS, FrVec
from zkdl.fixedpoint import batch_indices
from zkdl.hyrax import HyraxCommitment, HyraxSecret
from zkdl.mle import eq_eval, fix_leading
from zkdl.sumcheck import SumcheckSpec, Term

from .channel import Channel, lincomb
from .commitments import DatasetCommitment, _select_rows
from .layout import WindowLayout, _bits, _eq_tab, limb_bits, lookup_tagged
from . import history
from .history import StackShape
from .rangecheck import _lookup, _range_of
from .statement import InferenceStatement, Statement, _public_mle
from .tensors import LINEAR_OPEN_MAX_COLS, Claims, Layout, RangeSpec, RangeTensor, StackedLayout, Tensor, eq_ext, eq_ext_table, layer_eval

P = R_MODULUS


# ============================================================================ the protocol
def _protocol(ch: Channel, st: Statement, data: DatasetCommitment, wit=None, model_sec=None, data_sec=None):
    """The protocol, for both roles.  wit (the prover's _Witness), model_sec and data_sec are
    None on the verifier's side; every use of them is inside prover-only thunks or branches."""
    cfg = st.config
    L, R, Q, B = cfg.num_layers, cfg.R, cfg.Q, cfg.batch_size
    lay = WindowLayout(cfg, st.T)
    T = st.T
    t = ch.t
    prover = ch.prover
    infer = isinstance(st, InferenceStatement)
    t.domain(b"zkdl/inference" if infer else b"zkdl/train-window")
    st.absorb(t)
    cl = Claims()
    rts: dict[str, RangeTensor] = {}

    def commit_range(name: str, layout: Layout, spec: RangeSpec) -> RangeTensor:
        parts = None
        if prover and isinstance(layout, StackedLayout):     # per layer, then stacked
            per = [spec.limbs(a, f"{name} (layer {l + 1})", wit.strict) for l, a in enumerate(wit.t[name])]
            parts = [[p[j] for p in per] for j in range(spec.n_limbs)]
        elif prover:
            parts = spec.limbs(wit.t[name], name, wit.strict)
        limbs = []
        for j in range(spec.n_limbs):
            com, sec = ch.send_hyrax(f"{name}.{j}".encode(), layout.num_vars, layout.col_vars,
                                     lambda j=j: layout.pad(parts[j]))
            limbs.append(cl.register(Tensor(f"{name}.{j}", layout, com, sec)))
        rts[name] = RangeTensor(name, layout, spec, limbs)
        return rts[name]

    def commit_plain(name: str, layout: Layout) -> Tensor:
        com, sec = ch.send_hyrax(name.encode(), layout.num_vars, layout.col_vars,
                                 lambda: layout.pad(wit.t[name]))
        return cl.register(Tensor(name, layout, com, sec))

    lb = limb_bits(lay, infer)
    shift = R if infer else cfg.master_shift         # forward / backward rescale (semantics v2: 2R + k)
    E_spec = RangeSpec(shift, 1 << (shift - 1), lb)
    V_spec = RangeSpec(Q, 1 << (Q - 1), lb)
    out_l, hid_l, yh_l = lay.out(), (lay.out(L - 1) if L > 1 else None), lay.yhat()
    # ---------------------------------------------------------------- 1. commitments (layers stacked)
    commit_range("EL", yh_l, E_spec)
    if L > 1:
        commit_range("E", hid_l, E_spec)
        commit_plain("S", hid_l)
        commit_range("P", hid_l, RangeSpec(Q - 1, 0, lb))
        if not infer:
            commit_range("GA", hid_l, V_spec)
            commit_range("EB", hid_l, E_spec)
    if not infer:
        commit_range("Yh", yh_l, V_spec)

    # external tensors: the weights (a model for inference; a window's start and end master
    # weights, in the statement), per layer; the data stacks
    start_w = st.model if infer else st.before
    for i in range(L):
        cl.register(Tensor(f"M{i}", lay.weight(i), start_w.W[i], model_sec.W[i] if prover else None))
        cl.register(Tensor(f"Mb{i}", lay.bias(i), start_w.b[i], model_sec.b[i] if prover else None))
        if not infer:
            cl.register(Tensor(f"Mend{i}", lay.weight(i), st.after.W[i], wit.after_sec.W[i] if prover else None))
            cl.register(Tensor(f"Mbend{i}", lay.bias(i), st.after.b[i], wit.after_sec.b[i] if prover else None))
    if infer and st.X_com is not None:   # Yhat is public, X public or committed
        xl0 = lay.data(cfg.widths[0])
        rows = PointVec.concat([st.X_com, PointVec.identity(xl0.size // (1 << xl0.col_vars) - len(st.X_com))])
        xsec = None
        if prover:
            bl = wit.t["X_blinds"]
            xsec = HyraxSecret(FrVec.from_int64(xl0.pad(wit.t["X"])),
                               FrVec.concat([bl, FrVec.zeros(len(rows) - len(bl))]), xl0.num_vars, xl0.col_vars)
        cl.register(Tensor("X", xl0, HyraxCommitment(rows, xl0.num_vars, xl0.col_vars), xsec))
    batches = [] if infer else [batch_indices(cfg.seed, st.t0 + s, st.n_examples, B) for s in range(T)]
    xl, yl = lay.data(cfg.widths[0]), lay.data(cfg.widths[-1])
    if not infer:
        com, sec = _select_rows(lay, data.X, data_sec.bX if prover else None, data_sec.X if prover else None,
                                batches, xl)
        cl.register(Tensor("X", xl, com, sec))
        com, sec = _select_rows(lay, data.Y, data_sec.bY if prover else None, data_sec.Y if prover else None,
                                batches, yl)
        cl.register(Tensor("Y", yl, com, sec))

    strict = wit.strict if prover else True
    if infer and st.X_com is not None:  # a committed input must be an integer input in range
        _range_of(ch, cl, rts, "Xr", cl.tensors["X"].layout, V_spec, cl.tensors["X"].com,
                  cl.tensors["X"].secret, strict)
    # the weights a window starts from are not range-checked here: a chain starts from a model
    # commitment whose own range proof the verifier requires (verify_model), and every later
    # window from weights derived from it by range-checked integer updates (docs/protocol.md §11)
    with ch.check("range checks"):
        _lookup(ch, cl, rts, lb, strict, tagged=lookup_tagged(lay, infer))

    # ---------------------------------------------------------------- 3. relations (all layers at once)
    sh = StackShape(T, B, tuple(cfg.widths))
    nl, nt, nb, ni, no = sh.nl, sh.nt, sh.nb, sh.ni, sh.no
    nlh = hid_l.axis_vars[0] if L > 1 else 0      # layer variables of the hidden stacks
    in_l = lay.inp()
    A_claims: list[_LayerClaim] = []     # claims on the hidden activations A (from S, P: ReLU)
    GZ_claims: list[tuple] = []          # claims on the stacked G_Z, (point, Claimed)

    def fr(name, layout):
        return wit.fr(name, layout)

    def in_claim(point, c):
        """A claim on the stacked layer inputs In(l) = X (l = 0), A(l - 1) (l >= 1) at
        (r_l, t, b, c): the X part is sent (derived for one layer), the rest is a claim on A with
        the layer weights eq(r_l, l + 1)."""
        r_l, mid, col = point[:nl], point[nl:nl + nt + nb], point[nl + nt + nb:]
        pc, f = history.resize(col, _bits(cfg.widths[0]))
        e = _eq_tab(r_l).to_ints() if r_l else [1]
        coef = e[0] * f % P
        if L == 1:
            x = c.inv_scale(coef)
        elif infer and st.X_com is None:
            x = ch.const(_public_mle(xl, st.X[None], mid + pc))
        else:
            x = ch.send_scalar_com(b"input-claim", lambda: cl.tensors["X"].mle(mid + pc))
        if infer and st.X_com is None:
            if L == 1:              # the whole claim is on the public input: the verifier evaluates it
                ch.equal(x, ch.const(_public_mle(xl, st.X[None], mid + pc)))
        else:
            cl.add("X", mid + pc, x)
        if L > 1:
            shifted = [e[j + 1] if j + 1 < L else 0 for j in range(1 << nlh)]
            A_claims.append(_LayerClaim(shifted, mid, col, c - x * coef))

    In_op = history.Operand(lambda: fr("In", in_l), in_claim)
    G_op = None if infer else history.Operand(lambda: fr("GZ", out_l), lambda pt, c: GZ_claims.append((list(pt), c)))

    def weights(name):
        return history.Weights(lambda: [cl.tensors[f"{name}{i}"].values for i in range(L)],
                               lambda i, pt, c: cl.add(f"{name}{i}", pt, c),
                               lambda i, pt: cl.tensors[f"{name}{i}"].mle(pt),
                               [f"{name}{i}" for i in range(L)], cl.add_combination)

    # R1: forward, every layer: 2^shift Z'(l) + E(l) = [In(l) | 2^R] M_t(l), at a random point u
    # of the stacked outputs; below the last layer Z'(l) = 2 A(l) - S(l) - P(l) (zkReLU) and E(l)
    # are read from the hidden stacks (their fewer layer slots: a zero-extension factor), at the
    # last layer Z' = Yhat and E = E_L are tensors of their own
    u = ch.challenges(b"u-fwd", out_l.num_vars)
    u_l, u_rest, u_o = u[:nl], u[nl:], u[nl + nt + nb:]
    e_u = _eq_tab(u_l).to_ints() if u_l else [1]
    py, fy = history.resize(u_o, yh_l.axis_vars[2])
    y_pt = u[nl:nl + nt + nb] + py
    if infer:
        yc = ch.const(_public_mle(yh_l, st.Yhat[None], y_pt))
    else:
        yc = cl.send_value(ch, rts["Yh"], y_pt)
    lhs = (yc * (1 << shift) + cl.send_value(ch, rts["EL"], y_pt)) * (e_u[L - 1] * fy % P)
    if L > 1:
        uh, fh = history.resize(u_l, nlh)
        u_h = uh + u_rest
        ac = ch.send_scalar_com(b"A-claim", lambda: _stacked_a(wit, hid_l).dot(_eq_tab(u_h)))
        A_claims.append(_LayerClaim(_eq_tab(uh).to_ints() if uh else [1], u[nl:nl + nt + nb], u_o, ac))
        sc = ch.send_scalar_com(b"S-claim", lambda: cl.tensors["S"].mle(u_h))
        cl.add("S", u_h, sc)
        pc = cl.send_value(ch, rts["P"], u_h)
        lhs = lhs + ((ac * 2 - sc - pc) * (1 << shift) + cl.send_value(ch, rts["E"], u_h)) * fh
    omega = [e_u[l] if l < L else 0 for l in range(1 << nl)]
    history.forward(ch, sh, In_op, G_op, weights("M"), weights("Mb"), omega, u_rest, lhs, eta=cfg.eta_int, R=R,
                    what=f"forward (2^{shift} Z' + E = [A | 2^R] M)")
    if not infer:
        # R2: backward, layers 2..L: 2^shift G_A(l) + E'(l) = G_Z(l + 1) M_t(l + 1)[:-1]^T, at a random
        # point of the stacked hidden gradients (G_A(l) is the gradient of layer l + 1's input)
        if L > 1:
            v = ch.challenges(b"u-bwd", hid_l.num_vars)
            lhs = cl.send_value(ch, rts["GA"], v) * (1 << shift) + cl.send_value(ch, rts["EB"], v)
            v_l = v[:nlh]
            e_v = _eq_tab(v_l).to_ints() if v_l else [1]
            omega = [e_v[l - 1] if 1 <= l < L else 0 for l in range(1 << nl)]     # l - 1 < 2^nlh
            pc_, f = history.resize(v[nlh + nt + nb:], ni)
            history.backward(ch, sh, In_op, G_op, weights("M"), omega, v[nlh:nlh + nt + nb] + pc_, lhs.inv_scale(f),
                             eta=cfg.eta_int, what=f"backward (2^{shift} G_A + E' = G_Z M^T)")
        # R3: the window's end weights, every layer: M_T = M_0 - eta_int sum_s [A_s | 2^R]^T G_Z_s
        history.window_end(ch, sh, In_op, G_op, weights("M"), weights("Mb"), weights("Mend"), weights("Mbend"),
                           eta=cfg.eta_int, R=R, what="update (M after = M before - eta_int A^T G_Z)")

    # proven losses: sum_{rows, outputs} G_Z_L^2 per step
    last = [(L - 1 >> (nl - 1 - j)) & 1 for j in range(nl)]     # the last layer's index, as a point
    if not infer and st.losses is not None:
        rest = nt + nb + no
        u_t = ch.challenges(b"u-loss", nt)
        value = sum(eq_eval(u_t, [(s >> (nt - 1 - j)) & 1 for j in range(nt)]) * st.losses[s]
                    for s in range(T)) % P
        spec = SumcheckSpec(rest, 2, (Term(1, (0, 0, 1)),))
        with ch.check("revealed losses"):
            r, fac = ch.sumcheck(spec, lambda: [fix_leading(fr("GZ", out_l), last),
                                                _eq_tab(u_t).repeat_each(1 << (rest - nt))],
                                 ch.const(value), {1: lambda rr: eq_eval(u_t, rr[:nt])})
        GZ_claims.append((last + list(r), fac[0]))

    # ---------------------------------------------------------------- 4. derived tensors
    # G_Z: Yhat - Y at the last layer, S * G_A below it
    hidden = []
    for pt, c in ([] if infer else GZ_claims):
        p_l, mid, p_o = pt[:nl], pt[nl:nl + nt + nb], pt[nl + nt + nb:]
        e = _eq_tab(p_l).to_ints()[L - 1] if p_l else 1
        py, fy = history.resize(p_o, yh_l.axis_vars[2])
        coef = e * fy % P
        if L == 1:
            g = c.inv_scale(coef)
        else:
            g = ch.send_scalar_com(b"output-gradient-claim",
                                   lambda mid=mid, py=py: _last_gz(wit, yh_l).dot(_eq_tab(mid + py)))
            ph, fh = history.resize(p_l, nlh)          # hidden part: fh * (S * G_A)(ph, mid, p_o)
            hidden.append((ph + pt[nl:], fh, c - g * coef))
        yh = cl.send_value(ch, rts["Yh"], mid + py)
        cl.add("Y", mid + py, yh - g)
    if L > 1:
        # one sumcheck over the hidden stacks for zkReLU: A = S (P + 1) on every claim on A (each
        # with its layer weights and column embedding), S (S - 1) = 0 everywhere (zero-check at
        # tau) and, in training, G_Z = S * G_A on every claim on the hidden G_Z; it ends at one
        # point r for S, P and G_A (docs/protocol.md §11, "zkReLU")
        claims = A_claims
        beta_g = ch.challenges(b"beta-gz", len(hidden)) if hidden else []
        beta = ch.challenges(b"beta-a", len(claims))
        tau = ch.challenges(b"tau-binary", hid_l.num_vars)
        gam = ch.challenge(b"gamma-binary")
        start = lincomb([c.value for c in claims] + [c for _, _, c in hidden], beta + beta_g)
        pts = [p for p, _, _ in hidden]
        w_g = [b * f % P for b, (_, f, _) in zip(beta_g, hidden)]     # with the zero-extension factors
        terms = [Term(1, (0, 1, 2)), Term(1, (0, 2)), Term(gam, (0, 0, 3)), Term(P - gam, (0, 3))]
        if hidden:
            terms.append(Term(1, (0, 4, 5)))

        def tabs():
            acc = FrVec.zeros(hid_l.size)
            for c, bta in zip(claims, beta):
                acc = acc + c.table(nt + nb, no) * bta
            out = [cl.tensors["S"].values, fr("P", hid_l), acc, _eq_tab(tau)]
            if hidden:
                eqc = FrVec.zeros(hid_l.size)
                for p, w in zip(pts, w_g):
                    eqc = eqc + _eq_tab(p) * w
                out += [fr("GA", hid_l), eqc]
            return out

        public = {2: lambda rr: sum(bt * c.at(rr, nlh, nt + nb) for c, bt in zip(claims, beta)) % P,
                  3: lambda rr: eq_eval(tau, rr)}
        if hidden:
            public[5] = lambda rr: sum(w * eq_eval(p, rr) for p, w in zip(pts, w_g)) % P
        what = "ReLU (A = S * (P + 1), S binary)" + (" and G_Z = S * G_A" if hidden else "")
        with ch.check(what):
            r, fac = ch.sumcheck(SumcheckSpec(hid_l.num_vars, 6 if hidden else 4, tuple(terms)), tabs, start,
                                 public)
        cl.add("S", r, fac[0])
        cl.value_claim(ch, rts["P"], r, fac[1])
        if hidden:
            cl.value_claim(ch, rts["GA"], r, fac[4])

    # ---------------------------------------------------------------- 5. openings
    with ch.check("openings"):
        cl.open_all(ch, by_point=True, bounded=True, linear_max_cols=LINEAR_OPEN_MAX_COLS if infer else 0)


@dataclass
class _LayerClaim:
    """A claim on the stacked hidden activations A with public layer weights λ (a row over the
    layer slots: eq(r_l, ·), or eq(r_l, · + 1) for a claim on the next layer's input), a point on
    the (step, row) axes and a column point (on the output-width axis, or the input-width axis of
    a claim on layer inputs, zero-extended: tensors.eq_ext):  value = Σ_{l,t,b,o} λ(l) eq(mid, (t, b))
    eq_ext(col, o) A(l, t, b, o)."""

    lam: list
    mid: list
    col: list
    value: object

    def table(self, n_mid: int, no: int) -> FrVec:
        lam = FrVec.from_ints([int(x) % P for x in self.lam])
        mid = _eq_tab(self.mid)
        col = eq_ext_table(self.col, no)
        t = lam.repeat_each(len(mid)) * mid.tile(len(lam))
        return t.repeat_each(len(col)) * col.tile(len(t))

    def at(self, r: Sequence[int], nl: int, n_mid: int) -> int:
        return layer_eval(self.lam, r[:nl]) * eq_eval(self.mid, r[nl:nl + n_mid]) % P * \
            eq_ext(self.col, r[nl + n_mid:]) % P


def _stacked_a(wit, layout) -> FrVec:
    return FrVec.from_int64(layout.pad(wit.t["A"]))


def _last_gz(wit, layout) -> FrVec:
    return FrVec.from_int64(layout.pad(wit.t["GZ"][-1]))
