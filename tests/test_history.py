"""The history-term reductions of semantics v2 (circuits/history.py), on their own: completeness
against directly computed products with the evolving weights, and rejection of false claims."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from zkdl.circuits.channel import VerifierChannel
from zkdl.circuits.history import (Operand, StackShape, Weights, backward, classes, forward, lt_eval, lt_row,
                                   later_steps, resize, window_end)
from zkdl.circuits.prover import ProverChannel
from zkdl.errors import VerificationError
from zkdl.field import R_MODULUS as P, FrVec
from zkdl.pedersen import PedersenKey
from zkdl.transcript import Transcript

KEY = PedersenKey("zkdl/test/history", 16)


def _pad(arr, shape):
    out = np.zeros(shape, dtype=object)
    out[tuple(slice(0, s) for s in arr.shape)] = arr
    return out.reshape(-1)


def _mle(table, point):
    """Plain MLE of a Python-int table (zero-padded, row-major, MSB first)."""
    vals = [int(v) % P for v in table]
    return FrVec.from_ints(vals).dot(FrVec.eq_table(list(point)) if point else FrVec.ones(1))


def _problem(T, B, widths, eta, R, seed, big=False, wrong=None):
    """Random per-layer A, G, M_0 and the products with the evolving weights M_t (Z = [A | 2^R] M_t,
    Y = G M_t^T) for layers of the given widths.  ``wrong = (which, t, dt, layer)``: step t of "Z"
    or "Y" of that layer uses the weights of step t + dt instead (a prover with M from the wrong
    step; the rest honest)."""
    rng = np.random.default_rng(seed)
    L = len(widths) - 1
    lim = 1 << 40 if big else 100
    out = {k: [] for k in ("A", "G", "M0", "m0", "M1", "m1", "Z", "Y")}
    for l in range(L):
        d_in, d_out = widths[l], widths[l + 1]
        A = rng.integers(0, 50, size=(T, B, d_in)).astype(object)
        G = rng.integers(-50, 50, size=(T, B, d_out)).astype(object)
        M0 = rng.integers(-lim, lim, size=(d_in, d_out)).astype(object)
        m0 = rng.integers(-lim, lim, size=(d_out,)).astype(object)
        Ms = [(M0.copy(), m0.copy())]
        for t in range(T):
            M, m = Ms[-1]
            Ms.append((M - eta * A[t].T.dot(G[t]), m - eta * (1 << R) * G[t].sum(axis=0)))
        Z, Y = [], []
        for t in range(T):
            tz = ty = t
            if wrong is not None:
                which, tw, dt, lw = wrong
                if t == tw and l == lw:
                    tz, ty = (t + dt, t) if which == "Z" else (t, t + dt)
            Z.append(A[t].dot(Ms[tz][0]) + (1 << R) * np.tile(Ms[tz][1], (B, 1)))
            Y.append(G[t].dot(Ms[ty][0].T))
        for k, v in (("A", A), ("G", G), ("M0", M0), ("m0", m0), ("M1", Ms[-1][0]), ("m1", Ms[-1][1]),
                     ("Z", np.array(Z)), ("Y", np.array(Y))):
            out[k].append(v)
    return out


def _stacked(per_layer, sh, width_vars):
    """Per-layer (T, B, d_l) arrays stacked and padded to (Lp, Tp, Bp, 2^width_vars)."""
    shape = (sh.Tp, sh.Bp, 1 << width_vars)
    parts = [_pad(a, shape) for a in per_layer]
    parts += [np.zeros(int(np.prod(shape)), dtype=object)] * (sh.Lp - len(parts))
    return np.concatenate(parts)


def _fr(vals):
    return FrVec.from_ints([int(v) % P for v in vals])


def _run(ch, sh, prob, eta, R, tamper=None):
    """Forward, backward and window end over the layer stack, at points the channel draws; the
    layer weights are eq(u_l, .) over the valid layers.  Returns the output claims
    {name: [(point, Claimed)]} (weights per layer: "M0.l") and the prover's tables."""
    L = sh.L
    tabs = {}
    if ch.prover:
        tabs["A"] = _fr(_stacked(prob["A"], sh, sh.ni))
        tabs["G"] = _fr(_stacked(prob["G"], sh, sh.no))
        tabs["Z"] = _fr(_stacked(prob["Z"], sh, sh.no))
        tabs["Y"] = _fr(_stacked(prob["Y"], sh, sh.ni))
        for n in ("M0", "M1"):
            for l in range(L):
                tabs[f"{n}.{l}"] = _fr(_pad(prob[n][l], (1 << sh.in_vars(l), 1 << sh.out_vars(l))))
        for n in ("m0", "m1"):
            for l in range(L):
                tabs[f"{n}.{l}"] = _fr(_pad(prob[n][l], (1 << sh.out_vars(l),)))
    names = ["A", "G"] + [f"{n}.{l}" for n in ("M0", "m0", "M1", "m1") for l in range(L)]
    claims = {n: [] for n in names}
    ops = {n: Operand(lambda n=n: tabs[n], lambda p, c, n=n: claims[n].append((list(p), c))) for n in ("A", "G")}
    claims["combinations"] = []
    ws = {n: Weights(lambda n=n: [tabs[f"{n}.{l}"] for l in range(L)],
                     lambda l, p, c, n=n: claims[f"{n}.{l}"].append((list(p), c)),
                     names=[f"{n}.{l}" for l in range(L)],
                     combine=lambda ms, c: claims["combinations"].append((ms, c))) for n in ("M0", "m0", "M1", "m1")}
    nl, nt, nb, ni, no = sh.nl, sh.nt, sh.nb, sh.ni, sh.no
    u = ch.challenges(b"u", nl + nt + nb + no)
    omega = [e if l < L else 0 for l, e in enumerate(FrVec.eq_table(u[:nl]).to_ints() if nl else [1])]
    off = (tamper == "forward")
    lhs = ch.send_scalar_com(b"lhs", lambda: tabs["Z"].dot(FrVec.eq_table(u)) + off)
    forward(ch, sh, ops["A"], ops["G"], ws["M0"], ws["m0"], omega, u[nl:], lhs, eta=eta, R=R, what="forward")
    v = ch.challenges(b"v", nl + nt + nb + ni)
    omega = [e if l < L else 0 for l, e in enumerate(FrVec.eq_table(v[:nl]).to_ints() if nl else [1])]
    off = (tamper == "backward")
    lhs = ch.send_scalar_com(b"lhs2", lambda: tabs["Y"].dot(FrVec.eq_table(v)) + off)
    backward(ch, sh, ops["A"], ops["G"], ws["M0"], omega, v[nl:], lhs, eta=eta, what="backward")
    window_end(ch, sh, ops["A"], ops["G"], ws["M0"], ws["m0"], ws["M1"], ws["m1"], eta=eta, R=R, what="end")
    return claims, tabs


def _shape(T, B, widths):
    return StackShape(T, B, tuple(widths))


@pytest.mark.parametrize("T,B,widths,big", [(1, 2, (3, 2), False), (3, 3, (3, 2), False), (4, 2, (2, 4), True),
                                            (5, 1, (1, 1), False), (3, 2, (3, 5, 2), False),
                                            (2, 3, (4, 2, 3, 1), True)])
def test_history_relations_complete(T, B, widths, big):
    eta, R = 3, 2
    prob = _problem(T, B, widths, eta, R, seed=T * 7 + B, big=big)
    sh = _shape(T, B, widths)
    pc = ProverChannel(KEY, Transcript(b"t"), derived=True)
    pclaims, tabs = _run(pc, sh, prob, eta, R)
    # every claim the relations output is true of the tables
    assert _false_claims(pclaims, tabs) == []
    assert any(len(ms) > 1 for ms, _ in pclaims["combinations"])     # the window end's at least
    vc = VerifierChannel(KEY, Transcript(b"t"), pc.getvalue(), derived=True)
    vclaims, _ = _run(vc, sh, prob, eta, R)
    vc.done()
    _same_claims(pclaims, vclaims)


@pytest.mark.parametrize("tamper", ["forward", "backward"])
def test_false_product_claim_rejected(tamper):
    eta, R = 3, 2
    prob = _problem(3, 2, (3, 2, 2), eta, R, seed=1)
    sh = _shape(3, 2, (3, 2, 2))
    pc = ProverChannel(KEY, Transcript(b"t"), derived=True)
    _run(pc, sh, prob, eta, R, tamper=tamper)
    vc = VerifierChannel(KEY, Transcript(b"t"), pc.getvalue(), derived=True)
    with pytest.raises(VerificationError, match=tamper):
        _run(vc, sh, prob, eta, R)


def test_lt_extension():
    rng = np.random.default_rng(0)
    for n in range(0, 5):
        for s in range(1 << n):
            xs = [(s >> (n - 1 - j)) & 1 for j in range(n)]
            row = lt_row(xs).to_ints()
            for t in range(1 << n):
                ys = [(t >> (n - 1 - j)) & 1 for j in range(n)]
                assert lt_eval(xs, ys) == int(s < t) == row[t]
        # multilinear: the row at a random x is the eq-combination of boolean rows
        x = [int(rng.integers(1, 1 << 62)) ** 4 % P for _ in range(n)]
        y = [int(rng.integers(1, 1 << 62)) ** 4 % P for _ in range(n)]
        assert lt_row(x).dot(FrVec.eq_table(y) if n else FrVec.ones(1)) == lt_eval(x, y)
    assert later_steps([], 1) == [0]


def _at(tabs, name, pt):
    return tabs[name].dot(FrVec.eq_table(pt) if pt else FrVec.ones(1))


def _false_claims(claims, tabs):
    """Names of the tensors on which some output claim of the reduction is false (what the
    openings of a full proof would catch); a false claim on a combination names its tensors."""
    false = {n for n, cl in claims.items() if n != "combinations"
             and any(c.val != _at(tabs, n, pt) for pt, c in cl)}
    for ms, c in claims["combinations"]:
        if c.val != sum(k * _at(tabs, n, pt) for n, pt, k in ms) % P:
            false |= {n for n, _, _ in ms}
    return sorted(false)


def _same_claims(pclaims, vclaims):
    """The verifier derives the same claims (points, coefficients and commitments) as the prover."""
    for n in pclaims:
        if n == "combinations":
            assert [(ms, c.com) for ms, c in pclaims[n]] == [(ms, c.com) for ms, c in vclaims[n]]
        else:
            assert [(p, c.com) for p, c in pclaims[n]] == [(p, c.com) for p, c in vclaims[n]]


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 5), B=st.integers(1, 3), widths=st.lists(st.integers(1, 5), min_size=2, max_size=4),
       eta=st.integers(1, 9), R=st.integers(0, 6), big=st.booleans(), seed=st.integers(0, 1 << 16))
def test_history_relations_complete_random_shapes(T, B, widths, eta, R, big, seed):
    prob = _problem(T, B, widths, eta, R, seed, big=big)
    sh = _shape(T, B, widths)
    assert sh.history == (T > 1)
    pc = ProverChannel(KEY, Transcript(b"t"), derived=True)
    pclaims, tabs = _run(pc, sh, prob, eta, R)
    assert _false_claims(pclaims, tabs) == []
    vc = VerifierChannel(KEY, Transcript(b"t"), pc.getvalue(), derived=True)
    vclaims, _ = _run(vc, sh, prob, eta, R)
    vc.done()
    _same_claims(pclaims, vclaims)


class _LyingChannel(ProverChannel):
    """A prover that adds offsets to the scalar values it commits to under some labels: the
    k-th value sent under ``label`` gets ``offsets[label][k]`` (mod r)."""

    def __init__(self, key, transcript, offsets):
        super().__init__(key, transcript, derived=True)
        self.offsets = {k: list(v) for k, v in offsets.items()}

    def send_scalar_com(self, label, value):
        queue = self.offsets.get(label)
        off = queue.pop(0) if queue else 0
        return super().send_scalar_com(label, lambda: (int(value()) + off) % P)


def _prove_and_verify(sh, prob, eta, R, offsets=None, tamper=None):
    """Prove (with a lying channel when offsets are given), then verify: the verifier's error,
    or None with the names of the tensors on which the prover's output claims are false."""
    pc = _LyingChannel(KEY, Transcript(b"t"), offsets or {})
    pclaims, tabs = _run(pc, sh, prob, eta, R, tamper=tamper)
    vc = VerifierChannel(KEY, Transcript(b"t"), pc.getvalue(), derived=True)
    try:
        _run(vc, sh, prob, eta, R)
        vc.done()
    except VerificationError as e:
        return str(e), None
    return None, _false_claims(pclaims, tabs)


@pytest.mark.parametrize("which,t,dt,T,layer", [("Z", 1, -1, 3, 0), ("Z", 1, +1, 3, 1), ("Z", 0, +1, 2, 2),
                                                ("Y", 2, -1, 3, 1), ("Y", 0, +1, 4, 0)])
def test_weights_of_the_wrong_step_rejected(which, t, dt, T, layer):
    """Z (or Y) of step t of one layer of three computed with M_(t+dt): the start-weight
    sumcheck's claim is false."""
    eta, R = 3, 2
    widths = (3, 2, 4, 2)
    prob = _problem(T, 2, widths, eta, R, seed=11, wrong=(which, t, dt, layer))
    err, _ = _prove_and_verify(_shape(T, 2, widths), prob, eta, R)
    assert err is not None and err.startswith(("forward" if which == "Z" else "backward") + ", start weights"), err


@pytest.mark.parametrize("which", ["forward", "backward"])
def test_false_history_value_rejected(which):
    """The prover claims a wrong history value Σ H K.  With a true product claim the start term
    becomes false (start-weight sumcheck); with a false product claim (lhs + 1) and the history
    value chosen to make the start term true (hist - 1/eta), the history sumcheck rejects it."""
    eta, R, T = 3, 2, 3
    prob = _problem(T, 2, (3, 2, 2), eta, R, seed=5)
    sh = _shape(T, 2, (3, 2, 2))
    k = 0 if which == "forward" else 1                   # the forward relation sends the first "history"
    offs = [0, 0]
    offs[k] = 1
    err, _ = _prove_and_verify(sh, prob, eta, R, {b"history": offs})
    assert err is not None and err.startswith(f"{which}, start weights"), err
    offs[k] = P - pow(eta, -1, P)
    err, _ = _prove_and_verify(sh, prob, eta, R, {b"history": offs}, tamper=which)
    assert err is not None and err.startswith(f"{which}, history"), err
    # a wrong bias-history value (forward only) makes the start term false as well
    if which == "forward":
        err, _ = _prove_and_verify(sh, prob, eta, R, {b"bias-history": [1]})
        assert err is not None and err.startswith("forward, start weights"), err


def test_history_value_of_a_wrong_step_rejected():
    """The fully consistent liar: Z of step 1 made with M_0, and the history value the prover
    sends chosen so that the start term is true; the history sumcheck rejects it."""
    eta, R, T = 3, 2, 3
    widths = (3, 2, 2)
    prob = _problem(T, 2, widths, eta, R, seed=7, wrong=("Z", 1, -1, 1))
    honest = _problem(T, 2, widths, eta, R, seed=7)
    sh = _shape(T, 2, widths)
    # the lhs the prover sends is Z~(u) of the wrong Z; find u as the prover will (same transcript)
    pc = ProverChannel(KEY, Transcript(b"t"), derived=True)
    u = pc.challenges(b"u", sh.nl + sh.nt + sh.nb + sh.no)
    dz = _mle(_stacked(prob["Z"], sh, sh.no), u) - _mle(_stacked(honest["Z"], sh, sh.no), u)
    assert dz % P
    # lhs off by dz: the history value off by -dz / eta keeps the start term true
    off = (P - dz) * pow(eta, -1, P) % P
    err, _ = _prove_and_verify(sh, prob, eta, R, {b"history": [off]})
    assert err is not None and err.startswith("forward, history"), err


@pytest.mark.parametrize("part", ["weights", "bias"])
def test_end_weights_off_in_one_entry(part):
    """M_T (or the bias m_T) differs from M_0 - eta sum_s A_s^T G_s in one entry: the weight part is
    rejected by the window-end product sumcheck; the bias part becomes a false claim on G (which
    the full proof's openings catch)."""
    eta, R, T = 3, 2, 3
    widths = (3, 2, 2)
    prob = _problem(T, 2, widths, eta, R, seed=3)
    if part == "weights":
        prob["M1"][1][1, 0] += 1
    else:
        prob["m1"][1][1] += 1
    err, false = _prove_and_verify(_shape(T, 2, widths), prob, eta, R)
    if part == "weights":
        assert err is not None and err.startswith("end, window end"), err
    else:
        assert err is None and false == ["G"]


def test_false_class_value_becomes_false_weight_claims():
    """Layers 1 and 2 of (2, 2, 2, 3) have one shape: the forward start term claims them as one
    combination.  A prover that sends that class's value off by one leaves the relations
    accepting, but the claim on the combination (M0.0, M0.1) and the derived claim on the last
    layer (M0.2) are false: what the openings reject (tests/test_openings.py)."""
    eta, R, T = 3, 2, 3
    widths = (2, 2, 2, 3)
    sh = _shape(T, 2, widths)
    assert classes(sh, bias=False) == [[0, 1], [2]] and classes(sh, bias=True) == [[0, 1], [2]]
    prob = _problem(T, 2, widths, eta, R, seed=9)
    err, false = _prove_and_verify(sh, prob, eta, R, {b"layer-weight-claims": [1]})
    assert err is None and false == ["M0.0", "M0.1", "M0.2"], (err, false)
    # the honest prover's claims are all true, the same class sent as one combination
    err, false = _prove_and_verify(sh, prob, eta, R)
    assert err is None and false == []
