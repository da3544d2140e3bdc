"""The window protocol, run by both channels (docs/protocol.md §11, "Order of the proof", "zkReLU"
and "Aggregated matrix products").

:func:`_protocol` states the proof of a training window (and of an inference) once, over a
:mod:`zkdl.circuits.channel` channel: (1) the commitments and the derived data stacks (the start
and end master weights are in the statement); (2) the logUp-GKR range check; (3) per layer, the
forward and backward relations with the weights of every step and the window-end relation
(:mod:`.history`: start term, history term, aggregated products of :mod:`.matmul`); (4) the
revealed losses; (5) the derived tensors G_Z and A (zkReLU); (6) the openings.
"""
from __future__ import annotations

import numpy as np

from zkdl.curve import PointVec
from zkdl.field import R_MODULUS, FrVec
from zkdl.fixedpoint import batch_indices
from zkdl.hyrax import HyraxCommitment, HyraxSecret
from zkdl.mle import eq_eval
from zkdl.sumcheck import SumcheckSpec, Term

from .channel import Channel, lincomb
from .commitments import DatasetCommitment, _select_rows
from .layout import WindowLayout, _bits, _eq_tab, limb_bits
from . import history
from .history import LayerShape, Operand
from .rangecheck import _lookup, _range_of
from .statement import InferenceStatement, Statement, _public_mle
from .tensors import Claims, Layout, RangeSpec, RangeTensor, Tensor

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
        parts = spec.limbs(wit.t[name], name, wit.strict) if prover else None
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
    # ---------------------------------------------------------------- 1. commitments
    for i in range(L):
        a = lay.act(i)
        commit_range(f"E{i}", a, E_spec)
        if i < L - 1:
            commit_plain(f"S{i}", a)
            commit_range(f"P{i}", a, RangeSpec(Q - 1, 0, lb))
        if infer:
            continue
        if i < L - 1:
            commit_range(f"GA{i}", a, V_spec)
            commit_range(f"EB{i}", a, E_spec)
        else:
            commit_range("Yh", a, V_spec)

    # external tensors: the weights (a model for inference; a window's start and end master
    # weights, in the statement), the data stacks
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
        _lookup(ch, cl, rts, lb, strict)

    # ---------------------------------------------------------------- 3. relations
    A_claims: dict[int, list] = {i: [] for i in range(L - 1)}
    GZ_claims: dict[int, list] = {i: [] for i in range(L)}

    def fr(name, layout):
        return wit.fr(name, layout)

    def input_fn(i):
        if i == 0 and infer and st.X_com is None:
            return lambda: FrVec.from_int64(xl.pad(st.X[None]))
        if i == 0:
            return lambda: cl.tensors["X"].values
        return lambda: fr(f"A{i - 1}", lay.act(i - 1))

    def add_input_claim(i, point, c):
        if i == 0 and infer and st.X_com is None:  # public input: the verifier evaluates it
            ch.equal(c, ch.const(_public_mle(xl, st.X[None], point)))
        elif i == 0:
            cl.add("X", point, c)
        else:
            A_claims[i - 1].append((point, c))

    def tensor_op(name):
        return Operand(lambda: cl.tensors[name].values, lambda pt, c: cl.add(name, pt, c))

    for i in reversed(range(L)):
        a_lay = lay.act(i)
        sh = LayerShape(T, B, cfg.widths[i], cfg.widths[i + 1])
        A_op = Operand(input_fn(i), lambda pt, c, i=i: add_input_claim(i, pt, c))
        G_op = None if infer else Operand(lambda i=i, a_lay=a_lay: fr(f"GZ{i}", a_lay),
                                          lambda pt, c, i=i: GZ_claims[i].append((pt, c)))
        # R1: forward: 2^shift Z' + E = [A | 2^R] M_t (M_t from the start weights and the history)
        u = ch.challenges(b"u-fwd", a_lay.num_vars)
        if i == L - 1 and infer:
            zc = ch.const(_public_mle(a_lay, st.Yhat[None], u))
        elif i == L - 1:
            zc = cl.send_value(ch, rts["Yh"], u)
        else:
            ac = ch.send_scalar_com(b"A-claim", lambda: fr(f"A{i}", a_lay).dot(_eq_tab(u)))
            A_claims[i].append((u, ac))
            sc = ch.send_scalar_com(b"S-claim", lambda: cl.tensors[f"S{i}"].mle(u))
            cl.add(f"S{i}", u, sc)
            pc = cl.send_value(ch, rts[f"P{i}"], u)
            zc = ac * 2 - sc - pc
        lhs = zc * (1 << shift) + cl.send_value(ch, rts[f"E{i}"], u)
        history.forward(ch, sh, A_op, G_op, tensor_op(f"M{i}"), tensor_op(f"Mb{i}"), u, lhs, eta=cfg.eta_int, R=R,
                        what=f"layer {i + 1}: forward (2^{shift} Z' + E = [A | 2^R] M)")
        if infer:
            continue
        # R2: backward: 2^shift G_A + E' = G_Z M_t[:-1]^T
        if i >= 1:
            v = ch.challenges(b"u-bwd", lay.act(i - 1).num_vars)
            lhs = cl.send_value(ch, rts[f"GA{i - 1}"], v) * (1 << shift) + cl.send_value(ch, rts[f"EB{i - 1}"], v)
            history.backward(ch, sh, A_op, G_op, tensor_op(f"M{i}"), v, lhs, eta=cfg.eta_int,
                             what=f"layer {i + 1}: backward (2^{shift} G_A + E' = G_Z M^T)")
        # R3: the window's end weights: M_T = M_0 - eta_int sum_s [A_s | 2^R]^T G_Z_s
        history.window_end(ch, sh, A_op, G_op, tensor_op(f"M{i}"), tensor_op(f"Mb{i}"), tensor_op(f"Mend{i}"),
                           tensor_op(f"Mbend{i}"), eta=cfg.eta_int, R=R,
                           what=f"layer {i + 1}: update (M after = M before - eta_int A^T G_Z)")

    # proven losses: sum_{rows, outputs} G_Z_L^2 per step
    if not infer and st.losses is not None:
        a_lay = lay.act(L - 1)
        nt = _bits(T)
        u_t = ch.challenges(b"u-loss", nt)
        value = sum(eq_eval(u_t, [(s >> (nt - 1 - j)) & 1 for j in range(nt)]) * st.losses[s]
                    for s in range(T)) % P
        rest = a_lay.num_vars - nt
        spec = SumcheckSpec(a_lay.num_vars, 2, (Term(1, (0, 0, 1)),))
        with ch.check("revealed losses"):
            r, fac = ch.sumcheck(spec, lambda: [fr(f"GZ{L - 1}", a_lay),
                                                FrVec(np.repeat(_eq_tab(u_t).limbs, 1 << rest, axis=0))],
                                 ch.const(value), {1: lambda rr: eq_eval(u_t, rr[:nt])})
        GZ_claims[L - 1].append((r, fac[0]))

    # ---------------------------------------------------------------- 4. derived tensors
    for i in range(0 if infer else L):
        a_lay = lay.act(i)
        claims = GZ_claims[i]
        if i == L - 1:  # G_Z = Yhat - Y
            for pt, c in claims:
                yh = cl.send_value(ch, rts["Yh"], pt)
                cl.add("Y", pt, yh - c)
            continue
        # G_Z = S * G_A, all claims at once
        beta = ch.challenges(b"beta-gz", len(claims))
        start = lincomb([c for _, c in claims], beta)
        pts = [p for p, _ in claims]
        spec = SumcheckSpec(a_lay.num_vars, 3, (Term(1, (0, 1, 2)),))

        def eq_comb(pts=pts, beta=beta):
            acc = FrVec.zeros(a_lay.size)
            for p, bta in zip(pts, beta):
                acc = acc + _eq_tab(p) * bta
            return acc

        with ch.check(f"layer {i + 1}: G_Z = S * G_A"):
            r, fac = ch.sumcheck(spec, lambda: [cl.tensors[f"S{i}"].values, fr(f"GA{i}", a_lay), eq_comb()], start,
                                 {2: lambda rr, pts=pts, beta=beta: sum(bt * eq_eval(p, rr)
                                                                        for p, bt in zip(pts, beta)) % P})
        cl.add(f"S{i}", r, fac[0])
        cl.value_claim(ch, rts[f"GA{i}"], r, fac[1])
    for i in range(L - 1):
        a_lay = lay.act(i)
        claims = A_claims[i]
        beta = ch.challenges(b"beta-a", len(claims))
        tau = ch.challenges(b"tau-binary", a_lay.num_vars)
        gam = ch.challenge(b"gamma-binary")
        start = lincomb([c for _, c in claims], beta)
        pts = [p for p, _ in claims]
        # A = S (P + 1) on every claim; S (S - 1) = 0 everywhere (zero-check at tau)
        spec = SumcheckSpec(a_lay.num_vars, 4, (Term(1, (0, 1, 2)), Term(1, (0, 2)), Term(gam, (0, 0, 3)),
                                                 Term(P - gam, (0, 3))))

        def tabs(pts=pts, beta=beta, tau=tau, i=i, a_lay=a_lay):
            acc = FrVec.zeros(a_lay.size)
            for p, bta in zip(pts, beta):
                acc = acc + _eq_tab(p) * bta
            vals = fr(f"P{i}", a_lay)
            return [cl.tensors[f"S{i}"].values, vals, acc, _eq_tab(tau)]

        with ch.check(f"layer {i + 1}: ReLU (A = S * (P + 1), S binary)"):
            r, fac = ch.sumcheck(spec, tabs, start, {
                2: lambda rr, pts=pts, beta=beta: sum(bt * eq_eval(p, rr) for p, bt in zip(pts, beta)) % P,
                3: lambda rr, tau=tau: eq_eval(tau, rr)})
        cl.add(f"S{i}", r, fac[0])
        cl.value_claim(ch, rts[f"P{i}"], r, fac[1])

    # ---------------------------------------------------------------- 5. openings
    with ch.check("openings"):
        cl.open_all(ch)
