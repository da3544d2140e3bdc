"""Normative fixed-point semantics, version 2 (zkdl.fixedpoint): rescale, quantize, configuration,
batch schedule, the exact wide matmuls, master weights (to_master / round_master), one training
step (against an independent Python-int implementation and a float computation),
StepTrace.validate and the range checks."""
from __future__ import annotations

import doctest
import itertools
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import zkdl.datasets
import zkdl.fixedpoint
import zkdl.trainer
from zkdl.errors import FieldRangeError, ShapeError, ZkdlError
from zkdl.fixedpoint import (
    COMMITTED, ConfigError, FixedPointConfig, StepTrace, TraceMismatchError, TrainingRangeError,
    _forward, _matmul, _matmul_rescale, batch_indices, check_weights, dequantize, epoch_permutation,
    forward, lr_to_fixed, quantize, rescale, round_master, semantics_version, to_master, train_step,
    validate_chain,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
I64 = st.integers(-(1 << 63), (1 << 63) - 1)


# ------------------------------------------------------------------ doctests of the new modules


@pytest.mark.parametrize("module", [zkdl.fixedpoint, zkdl.trainer, zkdl.datasets])
def test_doctests(module):
    res = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0


# ------------------------------------------------------------------ rescale


def ref_rescale(x: int, s: int) -> tuple[int, int]:
    """The definition, with exact rationals."""
    if s == 0:
        return x, 0
    q = (Fraction(x) + Fraction(1, 2) * (1 << s)) / (1 << s)
    q = q.numerator // q.denominator
    return q, x - q * (1 << s)


@FAST
@given(I64, st.integers(0, 62))
def test_rescale_scalar_matches_definition(x, s):
    q, e = rescale(x, s)
    assert (q, e) == ref_rescale(x, s)
    assert q * (1 << s) + e == x
    if s:
        assert -(1 << (s - 1)) <= e < (1 << (s - 1))


@FAST
@given(st.lists(I64, min_size=1, max_size=20), st.integers(0, 62))
def test_rescale_array_int64_and_object_agree(xs, s):
    arr = np.array(xs, dtype=np.int64)
    q, e = rescale(arr, s)
    assert q.dtype == np.int64 and e.dtype == np.int64
    qo, eo = rescale(np.array(xs, dtype=object), s)
    for x, qi, ei, qoi, eoi in zip(xs, q, e, qo, eo):
        assert (int(qi), int(ei)) == ref_rescale(x, s) == (qoi, eoi)


@given(st.integers(-(1 << 40), 1 << 40), st.integers(1, 20))
def test_rescale_exact_halves_round_up(m, s):
    # x = (m + 1/2) * 2^s  ->  q = m + 1 (half up, also for negatives), e = -2^(s-1)
    x = (2 * m + 1) << (s - 1)
    q, e = rescale(np.array([x]), s)
    assert int(q[0]) == m + 1 and int(e[0]) == -(1 << (s - 1))


def test_rescale_examples_and_extremes():
    q, e = rescale(np.array([-3, -2, -1, 0, 1, 2, 3]), 1)
    assert q.tolist() == [-1, -1, 0, 0, 1, 1, 2]
    assert e.tolist() == [-1, 0, -1, 0, -1, 0, -1]
    big = np.array([(1 << 63) - 1, -(1 << 63)], dtype=np.int64)
    for s in (1, 16, 62):
        q, e = rescale(big, s)
        for x, qi, ei in zip(big.tolist(), q.tolist(), e.tolist()):
            assert (qi, ei) == ref_rescale(x, s)
    with pytest.raises(ShapeError):
        rescale(np.array([1.5]), 2)
    with pytest.raises(ConfigError):
        rescale(5, 63)


# ------------------------------------------------------------------ quantize


def ref_quantize(x: float, R: int) -> int:
    v = Fraction(x) * (1 << R) + Fraction(1, 2)
    return v.numerator // v.denominator


@FAST
@given(st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 30))
def test_quantize_round_half_up(x, R):
    assert int(quantize(x, R)) == ref_quantize(x, R)
    assert abs(float(dequantize(quantize(x, R), R)) - x) <= 2.0 ** -(R + 1)


def test_quantize_edge_cases():
    # the largest double below 0.5: floor(y + 0.5) in floating point would give 1
    y = np.nextafter(0.5, 0.0)
    assert int(quantize(y, 0)) == 0
    assert quantize([0.5, -0.5, 1.5, -1.5, -2.5], 0).tolist() == [1, 0, 2, -1, -2]
    q = quantize(np.ones((2, 3)), 16)
    assert q.dtype == np.int64 and q.shape == (2, 3) and (q == 65536).all()
    for bad in (np.nan, np.inf, -np.inf, 2.0 ** 50):
        with pytest.raises(FieldRangeError):
            quantize(bad, 16)
    assert dequantize(np.array([65536, -32768]), 16).tolist() == [1.0, -0.5]


# ------------------------------------------------------------------ configuration


def test_config_defaults_and_properties():
    cfg = FixedPointConfig(widths=[64, 32, 10], eta_int=3, k=7, batch_size=32)
    assert cfg.widths == (64, 32, 10) and cfg.R == 16 and cfg.Q == 32 and cfg.seed == 0
    assert cfg.eta == 3 / 128 and cfg.num_layers == 2 and cfg.one == 65536 and cfg.bound == 1 << 31
    assert cfg.weight_shapes == ((65, 32), (33, 10))
    assert cfg.master_shift == 2 * 16 + 7 and cfg.master_bits == 16 + 7 and semantics_version == 2
    FixedPointConfig(widths=(2, 1), eta_int=1, k=30, batch_size=1)          # 2R + k = 62: the limit
    FixedPointConfig(widths=(2, 1), eta_int=1, k=0, batch_size=1, R=31, Q=63)
    with pytest.raises(Exception):
        cfg.R = 8                                   # frozen


@pytest.mark.parametrize("kw", [
    dict(widths=(3,)), dict(widths=(3, 0)), dict(widths=(3, 2.5)), dict(widths=5),
    dict(eta_int=0), dict(eta_int=1.5), dict(k=-1), dict(batch_size=0), dict(seed=-1),
    dict(R=0), dict(R=16, Q=17), dict(Q=64), dict(R=40, k=23), dict(loss="xent"), dict(eta_int=True),
    dict(k=31), dict(R=20, k=23, Q=40), dict(R=32, k=0, Q=63),          # 2R + k > 62 (R + k <= 62)
])
def test_config_validation(kw):
    base = dict(widths=(2, 3, 1), eta_int=1, k=4, batch_size=2)
    base.update(kw)
    with pytest.raises(ConfigError) as ei:
        FixedPointConfig(**base)
    assert isinstance(ei.value, ZkdlError) and isinstance(ei.value, ValueError)
    if 1 <= base.get("R", 16) <= 32 and 2 * base.get("R", 16) + base["k"] > 62:
        assert "2R + k must be <= 62" in str(ei.value)


@settings(max_examples=60, deadline=None)
@given(lr=st.floats(1e-12, 1e3), R=st.integers(1, 31), bits=st.integers(1, 31))
def test_lr_to_fixed_respects_the_master_shift_rule(lr, R, bits):
    try:
        eta_int, k = lr_to_fixed(lr, R=R, bits=bits)
    except ConfigError as e:
        assert "2R + k <= 62" in str(e) or "too large" in str(e)
        assert lr < 2.0 ** -(62 - 2 * R) or lr > 2 ** 31
        return
    assert 2 * R + k <= 62 and 1 <= eta_int <= 1 << 31
    FixedPointConfig.from_lr((2, 1), lr=lr, batch_size=1, R=R, Q=max(32, R + 2), bits=bits)
    if k < 62 - 2 * R:                                      # not capped: the relative error rule
        assert abs(eta_int / 2 ** k - lr) <= lr * 2.0 ** -bits + 2.0 ** -(k + 1)


def test_lr_to_fixed_cap_is_62_minus_2R():
    assert lr_to_fixed(0.01) == (41, 12) and lr_to_fixed(1 / 64) == (1, 6)
    assert lr_to_fixed(7e-10, R=16) == (1, 30)                  # capped at 2R + k = 62
    with pytest.raises(ConfigError, match=r"2\^-30 \(2R \+ k <= 62 with R = 16\)"):
        lr_to_fixed(1e-10, R=16)
    assert lr_to_fixed(3.0, R=31) == (3, 0)                      # R = 31: k must be 0
    with pytest.raises(ConfigError, match="2R"):
        lr_to_fixed(0.25, R=31)
    with pytest.raises(ConfigError):
        lr_to_fixed(0.01, R=32)


# ------------------------------------------------------------------ batch schedule


def test_epoch_permutation_pinned_and_deterministic():
    # regression vector: the schedule is normative, it must never change
    assert epoch_permutation(0, 0, 10).tolist() == [2, 9, 6, 0, 4, 7, 3, 5, 8, 1]
    p = epoch_permutation(0, 0, 10)
    assert p.tolist() == epoch_permutation(0, 0, 10).tolist()
    assert sorted(p.tolist()) == list(range(10))
    assert epoch_permutation(0, 0, 8).tolist() == [5, 4, 6, 2, 3, 0, 1, 7]
    assert epoch_permutation(0, 1, 8).tolist() != epoch_permutation(0, 0, 8).tolist()
    assert epoch_permutation(1, 0, 8).tolist() != epoch_permutation(0, 0, 8).tolist()
    assert epoch_permutation(3, 2, 0).tolist() == [] and epoch_permutation(3, 2, 1).tolist() == [0]


def test_epoch_permutation_matches_spec_with_raw_words():
    """Re-implement the documented Fisher-Yates directly from PCG64 raw outputs."""
    seed, epoch, n = 42, 3, 37
    bg = np.random.PCG64([seed, epoch])
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        mask = (1 << i.bit_length()) - 1
        while True:
            j = int(bg.random_raw()) & mask
            if j <= i:
                break
        perm[i], perm[j] = perm[j], perm[i]
    assert epoch_permutation(seed, epoch, n).tolist() == perm


def test_epoch_permutation_roughly_uniform():
    counts = Counter(tuple(epoch_permutation(s, 0, 3).tolist()) for s in range(1200))
    assert set(counts) == set(itertools.permutations(range(3)))
    assert all(120 < c < 280 for c in counts.values())


@given(st.integers(0, 2**32), st.integers(1, 60), st.integers(1, 9))
@settings(max_examples=40, deadline=None)
def test_batch_schedule_epochs_are_permutations(seed, N, B):
    if B > N:
        with pytest.raises(ShapeError):
            batch_indices(seed, 0, N, B)
        return
    P = N // B
    for epoch in range(2):
        batches = [batch_indices(seed, epoch * P + b, N, B) for b in range(P)]
        flat = np.concatenate(batches)
        assert all(len(b) == B and b.dtype == np.int64 for b in batches)
        assert len(set(flat.tolist())) == P * B                      # no repeats within an epoch
        assert flat.tolist() == epoch_permutation(seed, epoch, N)[:P * B].tolist()
    assert batch_indices(seed, 0, N, B).tolist() == batch_indices(seed, 0, N, B).tolist()


def test_batch_schedule_covers_everything_when_B_divides_N():
    seen = np.concatenate([batch_indices(5, t, 24, 6) for t in range(4)])
    assert sorted(seen.tolist()) == list(range(24))
    assert batch_indices(5, 4, 24, 6).tolist() == epoch_permutation(5, 1, 24)[:6].tolist()
    for bad in [(-1, 0, 10, 2), (0, -1, 10, 2), (0, 0, 10, 0), (0, 0, 1, 2)]:
        with pytest.raises(ZkdlError):
            batch_indices(*bad)


# ------------------------------------------------------------------ exact wide matmuls


def _draw_ints(rng, shape, bits: int, edge: float) -> np.ndarray:
    """Uniform in [-2^bits, 2^bits) (clipped to int64), a fraction ``edge`` of the entries
    replaced by extremes (-2^bits, 2^bits - 1, 0, +-1)."""
    lo, hi = max(-(1 << bits), -(1 << 63)), min((1 << bits) - 1, (1 << 63) - 1)
    a = rng.integers(lo, hi, size=shape, dtype=np.int64, endpoint=True)
    mask = rng.random(shape) < edge
    picks = np.array([lo, hi, 0, min(1, hi), max(-1, lo)], dtype=np.int64)
    a[mask] = picks[rng.integers(0, len(picks), size=int(mask.sum()))]
    return a


def _py_rescale_matrix(Z, s: int):
    if s == 0:
        return Z, [[0] * len(r) for r in Z]
    q = [[(v + (1 << (s - 1))) >> s for v in r] for r in Z]
    return q, [[v - (qv << s) for v, qv in zip(r, qr)] for r, qr in zip(Z, q)]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=st.integers(1, 4), n=st.integers(1, 300), p=st.integers(1, 4), bits_a=st.integers(0, 63),
       bits_b=st.integers(0, 63), s=st.integers(0, 62), seed=st.integers(0, 2**32 - 1),
       edge=st.sampled_from([0.0, 0.2, 1.0]))
def test_matmul_rescale_exact_against_python_ints(m, n, p, bits_a, bits_b, s, seed, edge):
    """rescale_s(a @ b) for any int64 operands (|values| up to 2^63, inner 1..300): exact, no
    wrap; q int64 when it fits, an object array of the exact values otherwise; e int64."""
    rng = np.random.default_rng(seed)
    a, b = _draw_ints(rng, (m, n), bits_a, edge), _draw_ints(rng, (n, p), bits_b, edge)
    Z = (a.astype(object) @ b.astype(object)).tolist()
    q_ref, e_ref = _py_rescale_matrix(Z, s)
    q, e = _matmul_rescale(a, b, s)
    assert e.dtype == np.int64 and e.tolist() == e_ref
    fits = all(-(1 << 63) <= v < 1 << 63 for r in q_ref for v in r)
    assert q.dtype == (np.int64 if fits else object)
    assert [[int(v) for v in r] for r in q.tolist()] == q_ref


def test_matmul_rescale_extremes():
    """The training magnitudes at their limits: |A| < 2^31 times |M| near 2^62 over wide inner
    dimensions, all signs, and operands at the int64 edges."""
    cases = []
    for n in (1, 2, 65, 300, 1025):
        cases.append((np.full((2, n), (1 << 31) - 1, np.int64), np.full((n, 3), (1 << 62) - 1, np.int64)))
        cases.append((np.full((2, n), -(1 << 31), np.int64), np.full((n, 3), -(1 << 62), np.int64)))
        cases.append((np.full((1, n), -(1 << 63), np.int64), np.full((n, 2), -(1 << 63), np.int64)))
        alt = np.where(np.arange(n) % 2 == 0, (1 << 63) - 1, -(1 << 63)).astype(np.int64)
        cases.append((alt[None, :], np.full((n, 1), (1 << 63) - 1, np.int64)))   # cancellations
    for a, b in cases:
        Z = (a.astype(object) @ b.astype(object)).tolist()
        for s in (0, 1, 16, 38, 61, 62):
            q_ref, e_ref = _py_rescale_matrix(Z, s)
            q, e = _matmul_rescale(a, b, s)
            assert [[int(v) for v in r] for r in q.tolist()] == q_ref and e.tolist() == e_ref


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 5), k=st.integers(1, 70), n=st.integers(1, 5), bits_a=st.integers(1, 63),
       bits_b=st.integers(1, 63), data=st.data())
def test_matmul_exact_against_python_ints(m, k, n, bits_a, bits_b, data):
    """fixedpoint._matmul (digit products in float64 BLAS summed in int64, or Python ints) is exact."""
    edge_a = [-(1 << bits_a) + 1, (1 << bits_a) - 1, -(1 << 15), (1 << 15) - 1, 0, 1, -1]
    edge_b = [-(1 << bits_b) + 1, (1 << bits_b) - 1, -(1 << 15), (1 << 15) - 1, 0, 1, -1]
    ea = st.one_of(st.integers(-(1 << bits_a) + 1, (1 << bits_a) - 1), st.sampled_from(edge_a))
    eb = st.one_of(st.integers(-(1 << bits_b) + 1, (1 << bits_b) - 1), st.sampled_from(edge_b))
    a = np.array(data.draw(st.lists(ea, min_size=m * k, max_size=m * k)), dtype=np.int64).reshape(m, k)
    b = np.array(data.draw(st.lists(eb, min_size=k * n, max_size=k * n)), dtype=np.int64).reshape(k, n)
    got = _matmul(a, b)
    want = a.astype(object) @ b.astype(object)
    assert [int(x) for x in np.asarray(got).reshape(-1)] == [int(x) for x in want.reshape(-1)]


# ------------------------------------------------------------------ master weights


def test_to_master_and_round_master():
    cfg = FixedPointConfig(widths=(3, 2), eta_int=1, k=5, batch_size=1, R=8, Q=20)
    W = [np.array([[1, -2], [3, -(1 << 19)], [(1 << 19) - 1, 0], [7, -7]], dtype=np.int64)]
    M = to_master(cfg, W)
    assert M[0].dtype == np.int64 and M[0].tolist() == [[v << 13 for v in r] for r in W[0].tolist()]
    assert M[0] is not W[0] and not np.shares_memory(M[0], W[0])
    back, E = round_master(cfg, M)
    assert back[0].tolist() == W[0].tolist() and not E[0].any() and E[0].dtype == np.int64
    # rounding half up, remainders in [-2^(R+k-1), 2^(R+k-1))
    M2 = [M[0] + np.array([[4096, -4096], [4095, -4097], [1, -1], [0, 8191]], dtype=np.int64)]
    W2, E2 = round_master(cfg, M2)
    assert (W2[0] - W[0]).tolist() == [[1, 0], [0, -1], [0, 0], [0, 1]]
    assert E2[0].tolist() == [[-4096, -4096], [4095, 4095], [1, -1], [0, -1]]
    assert ((W2[0] << 13) + E2[0] == M2[0]).all()
    # to_master checks the model a chain starts from, and int64 is an implementation limit
    with pytest.raises(TrainingRangeError, match=r"weights, layer 1: W out of range"):
        to_master(cfg, [np.array([[0, 0], [0, 1 << 19], [0, 0], [0, 0]])])
    big = FixedPointConfig(widths=(1, 1), eta_int=1, k=30, batch_size=1, R=16, Q=63)
    with pytest.raises(TrainingRangeError, match="implementation limit") as ei:
        to_master(big, [np.array([[1 << 20], [0]])])                # 2^20 * 2^46 = 2^66
    assert ei.value.tensor == "M" and ei.value.value == 1 << 66
    with pytest.raises(ShapeError):
        round_master(cfg, [np.zeros((3, 2), np.int64)])


@settings(max_examples=40, deadline=None)
@given(R=st.integers(1, 20), k=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_round_master_is_rescale(R, k, seed):
    if 2 * R + k > 62:
        return
    cfg = FixedPointConfig(widths=(2, 3), eta_int=1, k=k, batch_size=1, R=R, Q=R + 12)
    M = [_draw_ints(np.random.default_rng(seed), (3, 3), 62, 0.3)]
    W, E = round_master(cfg, M)
    for m, w, e in zip(M[0].ravel().tolist(), W[0].ravel().tolist(), E[0].ravel().tolist()):
        assert (w, e) == py_rescale(m, R + k)


@st.composite
def model_problems(draw):
    widths = tuple(draw(st.lists(st.integers(1, 5), min_size=2, max_size=4)))
    n = draw(st.integers(1, 5))
    R = draw(st.integers(1, 16))
    k = draw(st.integers(0, 62 - 2 * R))
    cfg = FixedPointConfig(widths=widths, eta_int=1, k=k, batch_size=1, R=R, Q=R + 14)
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    scale = 1 << R
    W = [rng.integers(-2 * scale, 2 * scale, size=s, dtype=np.int64) for s in cfg.weight_shapes]
    X = rng.integers(-2 * scale, 2 * scale, size=(n, widths[0]), dtype=np.int64)
    return cfg, W, X


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_problems())
def test_model_forward_equals_master_forward(problem):
    """rescale_(2R+k)([A|2^R] M) == rescale_R([A|2^R] W) for M = 2^(R+k) W: inference on the
    model and the training forward on its master weights agree (remainders scaled by 2^(R+k))."""
    cfg, W, X = problem
    M = to_master(cfg, W)
    try:
        ref = _forward(cfg, W, X, "inference")
    except TrainingRangeError as e:
        with pytest.raises(TrainingRangeError) as ei:
            _forward(cfg, M, X, "training", cfg.master_shift)
        assert (ei.value.tensor, ei.value.value) == (e.tensor, e.value)
        return
    got = _forward(cfg, M, X, "training", cfg.master_shift)
    for name, r, g in zip(("Zp", "E", "S", "A"), ref, got):
        for a, b in zip(r, g):
            assert (b == (a << cfg.master_bits if name == "E" else a)).all(), name
    assert (forward(cfg, W, X) == got[0][-1]).all()
    if X.shape[0] == 1:
        cfg1 = FixedPointConfig(widths=cfg.widths, eta_int=1, k=cfg.k, batch_size=1, R=cfg.R, Q=cfg.Q)
        Y = np.zeros((1, cfg.widths[-1]), np.int64)
        try:
            t = train_step(cfg1, M, X, Y, 0)
        except TrainingRangeError:
            return                                          # a backward value out of range
        assert all((a == b).all() for a, b in zip(t.Zp, ref[0]))


# ------------------------------------------------------------------ one step: independent implementations


def py_rescale(x: int, s: int) -> tuple[int, int]:
    if s == 0:
        return x, 0
    q = (x + (1 << (s - 1))) // (1 << s)
    return q, x - q * (1 << s)


def py_step(cfg: FixedPointConfig, M, X, Y):
    """Straight-from-the-spec step of semantics version 2 in Python ints and nested lists (no
    numpy): master weights M at scale 2^(2R+k), rescales by 2^(2R+k), M <- M - eta_int G_W."""
    s, one, L = 2 * cfg.R + cfg.k, 1 << cfg.R, len(cfg.widths) - 1
    M = [m.tolist() for m in M]
    X, Y = X.tolist(), Y.tolist()
    matmul = lambda a, b: [[sum(a[i][t] * b[t][j] for t in range(len(b))) for j in range(len(b[0]))]
                           for i in range(len(a))]
    T = lambda a: [list(r) for r in zip(*a)]
    aug = lambda a: [row + [one] for row in a]
    A, Zp, E, S = [X], [], [], []
    for l in range(L):
        qe = [[py_rescale(v, s) for v in row] for row in matmul(aug(A[l]), M[l])]
        Zp.append([[q for q, _ in row] for row in qe])
        E.append([[e for _, e in row] for row in qe])
        if l < L - 1:
            S.append([[1 if v > 0 else 0 for v in row] for row in Zp[l]])
            A.append([[sg * v for sg, v in zip(sr, zr)] for sr, zr in zip(S[l], Zp[l])])
    G_Z = [None] * L
    G_Z[L - 1] = [[a - b for a, b in zip(r1, r2)] for r1, r2 in zip(Zp[-1], Y)]
    G_A, E_bwd, G_W = [None] * (L - 1), [None] * (L - 1), [None] * L
    for l in range(L - 1, -1, -1):
        G_W[l] = matmul(T(aug(A[l])), G_Z[l])
        if l > 0:
            qe = [[py_rescale(v, s) for v in row] for row in matmul(G_Z[l], T(M[l][:-1]))]
            G_A[l - 1] = [[q for q, _ in row] for row in qe]
            E_bwd[l - 1] = [[e for _, e in row] for row in qe]
            G_Z[l - 1] = [[sg * g for sg, g in zip(sr, gr)] for sr, gr in zip(S[l - 1], G_A[l - 1])]
    W_after = [[[a - cfg.eta_int * g for a, g in zip(r1, r2)] for r1, r2 in zip(m, gw)] for m, gw in zip(M, G_W)]
    loss = sum(v * v for row in G_Z[L - 1] for v in row)
    return dict(Zp=Zp, E_fwd=E, S=S, A=A, G_Z=G_Z, G_A=G_A, E_bwd=E_bwd, G_W=G_W, W_after=W_after,
                loss_int=loss)


@st.composite
def tiny_problems(draw):
    """Master weights of every magnitude (the scale 2^(2R+k) of a model of about +-2, or any
    number of bits up to int64's edge), learning rates up to 2^31, data of about +-2."""
    widths = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)))
    B = draw(st.integers(1, 4))
    R = draw(st.integers(1, 16))
    k = draw(st.one_of(st.integers(0, min(6, 62 - 2 * R)), st.integers(0, 62 - 2 * R)))
    eta_int = draw(st.one_of(st.integers(1, 5), st.sampled_from([1 << 20, 1 << 31])))
    cfg = FixedPointConfig(widths=widths, eta_int=eta_int, k=k, batch_size=B, R=R, Q=R + 12)
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    mbits = draw(st.one_of(st.just(cfg.master_shift + 1), st.integers(0, 63)))
    M = [_draw_ints(rng, s, mbits, draw(st.sampled_from([0.0, 0.3]))) for s in cfg.weight_shapes]
    scale = 1 << R
    X = rng.integers(-2 * scale, 2 * scale, size=(B, widths[0]), dtype=np.int64)
    Y = rng.integers(-2 * scale, 2 * scale, size=(B, widths[-1]), dtype=np.int64)
    return cfg, M, X, Y


def _flat(ms):
    return [v for m in ms for r in m for v in r]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems())
def test_step_matches_python_int_reference(problem):
    cfg, M, X, Y = problem
    ref = py_step(cfg, M, X, Y)
    # docs/semantics.md §7, straight from the text: a hidden Z' in (-2^(Q-1), 2^(Q-1)], the output
    # and G_A in [-2^(Q-1), 2^(Q-1)); the master weights are not range-limited, but this
    # implementation keeps them (and G_W) in int64
    b, i64 = cfg.bound, 1 << 63
    outside = (any(not -b < v <= b for v in _flat(ref["Zp"][:-1]))
               or any(not -b <= v < b for v in _flat(ref["Zp"][-1:] + ref["G_A"]))
               or any(not -i64 <= v < i64 for v in _flat(ref["G_W"] + ref["W_after"])))
    try:
        tr = train_step(cfg, M, X, Y, step=0)
    except TrainingRangeError as e:
        event("range error" + (" (int64 master weights)" if "implementation limit" in str(e) else ""))
        assert outside        # only legitimate if a value really left its set
        return
    event("valid step")
    assert not outside        # and every value outside its set is caught
    for name in ("Zp", "E_fwd", "S", "A", "G_Z", "G_A", "E_bwd", "G_W", "W_after"):
        got = getattr(tr, name)
        assert len(got) == len(ref[name]), name
        for g, r in zip(got, ref[name]):
            assert g.dtype == np.int64 and g.tolist() == r, name
    assert tr.loss_int == ref["loss_int"]
    assert all((w == m).all() for w, m in zip(tr.W_before, M))
    tr.validate()
    # remainders lie in their ranges; Z is derived exactly
    half = 1 << (cfg.master_shift - 1)
    assert all(((-half <= e) & (e < half)).all() for e in tr.E_fwd + tr.E_bwd)
    for z, a, m in zip(tr.Z, tr.A, tr.W_before):
        aug = np.hstack([a, np.full((a.shape[0], 1), cfg.one)]).astype(object)
        assert [[int(v) for v in r] for r in np.asarray(z).tolist()] == (aug @ m.astype(object)).tolist()


def test_tiny_network_against_float():
    """The fixed-point step approximates the real-valued step (same formulas in float64)."""
    cfg = FixedPointConfig(widths=(3, 5, 4, 2), eta_int=3, k=5, batch_size=6, seed=1)
    rng = np.random.default_rng(7)
    Wf = [rng.uniform(-1, 1, s) for s in cfg.weight_shapes]
    Xf, Yf = rng.uniform(-1, 1, (6, 3)), rng.uniform(-1, 1, (6, 2))
    W, X, Y = [quantize(w) for w in Wf], quantize(Xf), quantize(Yf)
    tr = train_step(cfg, to_master(cfg, W), X, Y, step=0)
    # float computation from the same (quantized) values
    Wq, A = [dequantize(w) for w in W], [dequantize(X)]
    Zs = []
    for i, w in enumerate(Wq):
        z = np.hstack([A[i], np.ones((6, 1))]) @ w
        Zs.append(z)
        assert np.min(np.abs(z)) > 1e-3               # no sign ambiguity near 0
        if i < 2:
            A.append(np.maximum(z, 0))
    g = Zs[-1] - dequantize(Y)
    tol = 1e-3
    assert np.allclose(dequantize(tr.Yhat), Zs[-1], atol=tol)
    assert abs(tr.loss - np.sum(g * g) / 6) < tol
    for i in range(2, -1, -1):
        gw = np.hstack([A[i], np.ones((6, 1))]).T @ g
        assert np.allclose(tr.G_W[i] / 2.0 ** 32, gw, atol=tol)
        assert np.allclose(dequantize(tr.W_after[i], cfg.master_shift), Wq[i] - cfg.eta * gw, atol=tol)
        assert np.allclose(dequantize(round_master(cfg, tr.W_after)[0][i]), Wq[i] - cfg.eta * gw, atol=tol)
        if i > 0:
            ga = g @ Wq[i][:-1].T
            assert np.allclose(dequantize(tr.G_A[i - 1]), ga, atol=tol)
            g = (Zs[i - 1] > 0) * ga
            assert (tr.S[i - 1] == (Zs[i - 1] > 0)).all()
            assert np.allclose(dequantize(tr.G_Z[i - 1]), g, atol=tol)
    assert np.allclose(dequantize(forward(cfg, W, X)), Zs[-1], atol=tol)
    assert (forward(cfg, W, X) == tr.Yhat).all()           # the model's forward == training's


# ------------------------------------------------------------------ validate


@pytest.fixture(scope="module")
def honest_traces():
    cfg = FixedPointConfig(widths=(4, 6, 5, 3), eta_int=5, k=6, batch_size=4, seed=3)
    rng = np.random.default_rng(11)
    N = 10
    Xd, Yd = quantize(rng.uniform(-1, 1, (N, 4))), quantize(rng.uniform(-1, 1, (N, 3)))
    M = to_master(cfg, [quantize(rng.uniform(-0.8, 0.8, s)) for s in cfg.weight_shapes])
    traces = []
    for t in range(5):
        idx = batch_indices(cfg.seed, t, N, cfg.batch_size)
        tr = train_step(cfg, M, Xd[idx], Yd[idx], t, idx, n_examples=N)
        traces.append(tr)
        M = tr.W_after
    return traces


def test_validate_accepts_honest_trace(honest_traces):
    for tr in honest_traces:
        tr.validate()
        assert all(s.any() for s in tr.S) and all(s.dtype == np.int64 for s in tr.S)
    assert validate_chain(honest_traces) == 5
    tr = honest_traces[0]
    assert set(tr.committed()) == set(COMMITTED) == {"Zp", "E_fwd", "S", "G_A", "E_bwd"}
    assert not hasattr(tr, "dW") and not hasattr(tr, "E_upd")
    assert tr.Yhat is tr.Zp[-1] and tr.loss == tr.loss_int / (2.0 ** 32 * 4)


def test_master_weights_accumulate_exactly(honest_traces):
    """No per-step rounding: M after t steps is exactly M_0 - eta_int * sum of the G_W (in Python
    ints), and the master weights are not multiples of 2^(R+k) any more."""
    cfg = honest_traces[0].config
    M0 = [m.astype(object) for m in honest_traces[0].W_before]
    total = [sum(t.G_W[i].astype(object) for t in honest_traces) for i in range(cfg.num_layers)]
    for m0, g, m_end in zip(M0, total, honest_traces[-1].W_after):
        assert (m_end.astype(object) == m0 - cfg.eta_int * g).all()
    assert all((m % (1 << cfg.master_bits)).any() for m in honest_traces[-1].W_after)
    assert all(not (m % (1 << cfg.master_bits)).any() for m in honest_traces[0].W_before)


def _corrupted(tr: StepTrace, name: str, i: int, fn) -> StepTrace:
    lists = {f: [a.copy() for a in getattr(tr, f)] for f in
             ("Zp", "E_fwd", "S", "A", "G_Z", "G_A", "E_bwd", "G_W", "W_after")}
    arr = lists[name][i]
    fn(arr)
    return StepTrace(**{**tr.__dict__, **lists})


@pytest.mark.parametrize("name,i,fn", [
    ("W_after", 1, lambda a: a.__setitem__((2, 3), a[2, 3] + 1)),          # one master weight changed
    ("W_after", 0, lambda a: a.__setitem__((4, 0), a[4, 0] - (1 << 30))),
    ("S", 0, lambda a: a.__setitem__((1, 2), 1 - a[1, 2])),                 # one sign flipped
    ("Zp", 1, lambda a: a.__setitem__((0, 0), -a[0, 0])),
    ("E_fwd", 2, lambda a: a.__setitem__((3, 1), a[3, 1] + 1)),            # wrong remainder
    ("E_bwd", 0, lambda a: a.__setitem__((2, 2), a[2, 2] - 7)),
    ("G_A", 1, lambda a: a.__setitem__((0, 4), a[0, 4] + 1)),
    ("G_W", 2, lambda a: a.__setitem__((1, 1), a[1, 1] + 1)),
    ("A", 1, lambda a: a.__setitem__((0, 0), a[0, 0] + 1)),
    ("G_Z", 0, lambda a: a.__setitem__((3, 5), a[3, 5] - 1)),
])
def test_validate_detects_single_corruption(honest_traces, name, i, fn):
    bad = _corrupted(honest_traces[2], name, i, fn)
    with pytest.raises(TraceMismatchError) as ei:
        bad.validate()
    assert ei.value.tensor == f"{name}[{i}]" and "step 2" in str(ei.value)
    assert f"layer {i + 1}" in str(ei.value)


def test_validate_detects_other_corruptions(honest_traces):
    tr = honest_traces[1]
    bad = StepTrace(**{**tr.__dict__, "loss_int": tr.loss_int + 1})
    with pytest.raises(TraceMismatchError, match="loss_int"):
        bad.validate()
    batch = tr.batch.copy()
    batch[0] = (batch[0] + 1) % 10
    with pytest.raises(TraceMismatchError, match="batch"):
        StepTrace(**{**tr.__dict__, "batch": batch}).validate()
    with pytest.raises(TraceMismatchError, match="dtype"):
        StepTrace(**{**tr.__dict__, "G_W": [d.astype(np.int32) for d in tr.G_W]}).validate()
    with pytest.raises(TraceMismatchError, match="list of 2"):
        StepTrace(**{**tr.__dict__, "S": tr.S[:1]}).validate()
    # a changed W_before is a different (valid) step, but it breaks the chain
    Mb = [w.copy() for w in tr.W_before]
    Mb[0][0, 0] += 1
    moved = train_step(tr.config, Mb, tr.X, tr.Y, tr.step, tr.batch, n_examples=10)
    moved.validate()
    with pytest.raises(TraceMismatchError, match="W_before"):
        validate_chain([honest_traces[0], moved])
    with pytest.raises(TraceMismatchError, match="follows"):
        validate_chain([honest_traces[0], honest_traces[2]])


# ------------------------------------------------------------------ ranges


def test_forward_range_error_names_step_layer_tensor():
    cfg = FixedPointConfig(widths=(2, 2, 2), eta_int=1, k=10, batch_size=1)
    W1 = np.array([[1 << 20, 0], [0, 1 << 20], [0, 0]], dtype=np.int64)   # 16 * x
    W2 = np.array([[1 << 30, 0], [0, 0], [0, 0]], dtype=np.int64)          # 16384 * a
    X = np.array([[1 << 16, 0]], dtype=np.int64)                            # 1.0
    with pytest.raises(TrainingRangeError) as ei:
        train_step(cfg, to_master(cfg, [W1, W2]), X, np.zeros((1, 2), np.int64), step=3)
    msg = str(ei.value)
    assert msg.startswith("step 3, layer 2: Z' out of range (value ")
    assert "is outside [-2^31, 2^31)" in msg and "index [0, 0]" in msg
    assert ei.value.where == "step 3, layer 2" and ei.value.tensor == "Z'"
    assert ei.value.value == (1 << 20) * (1 << 30) >> 16 and ei.value.bound == 1 << 31
    with pytest.raises(TrainingRangeError, match="predict, layer 2: Z'"):
        forward(cfg, [W1, W2], X, where="predict")


def test_int64_overflow_falls_back_to_exact_arithmetic():
    # max|A| * max|W| * inner > 2^63: the exact product is computed and reported, never wrapped
    cfg = FixedPointConfig(widths=(3, 1), eta_int=1, k=0, batch_size=1)
    big = (1 << 31) - 1
    W = [np.array([[big], [big], [big], [0]], dtype=np.int64)]
    X = np.array([[big, big, big]], dtype=np.int64)
    with pytest.raises(TrainingRangeError) as ei:
        forward(cfg, W, X)
    assert ei.value.tensor == "Z'" and ei.value.value == (3 * big * big + (1 << 15)) >> 16
    # the same through master weights (2^(R+k) larger, the product far beyond int64)
    with pytest.raises(TrainingRangeError) as ei2:
        train_step(cfg, to_master(cfg, W), X, np.zeros((1, 1), np.int64), step=0)
    assert ei2.value.tensor == "Z'" and ei2.value.value == ei.value.value
    # one layer whose product fits exactly at the edge of int64: no error from the matmul itself
    cfg2 = FixedPointConfig(widths=(1, 1), eta_int=1, k=0, batch_size=1, R=31, Q=63)
    W2 = [np.array([[(1 << 61)], [0]], dtype=np.int64)]
    out = forward(cfg2, W2, np.array([[3]], dtype=np.int64))
    assert int(out[0, 0]) == (3 << 61) >> 31


def test_backward_range_error():
    cfg = FixedPointConfig(widths=(1, 2, 1), eta_int=1, k=0, batch_size=1)
    W1 = np.array([[-(1 << 16), -(1 << 16)], [0, 0]], dtype=np.int64)     # Z'_1 < 0: A_1 = 0
    W2 = np.array([[1 << 30], [1 << 30], [0]], dtype=np.int64)
    X = np.array([[1 << 16]], dtype=np.int64)
    Y = np.array([[1 << 30]], dtype=np.int64)
    # G_A = rescale(G_Z @ M2[:-1]^T) is computed (it is range-checked) even where S = 0
    with pytest.raises(TrainingRangeError) as ei:
        train_step(cfg, to_master(cfg, [W1, W2]), X, Y, step=0)
    assert str(ei.value).startswith("step 0, layer 1: G_A out of range")
    assert ei.value.value == 1 << 44


def test_master_int64_limit_and_input_range_errors():
    # eta_int * G_W = 2^31 * 2^16 * (2^31 - 1): the master weights would leave int64 -- an
    # implementation limit, reported, never wrapped
    cfg = FixedPointConfig(widths=(1, 1), eta_int=1 << 31, k=0, batch_size=1)
    M = [np.zeros((2, 1), np.int64)]
    X, Y = np.zeros((1, 1), np.int64), np.array([[(1 << 31) - 1]])
    with pytest.raises(TrainingRangeError, match="step 5, layer 1: M \\(updated master weights\\) out of int64 "
                                                 "range .*implementation limit") as ei:
        train_step(cfg, M, X, Y, step=5)
    assert ei.value.value == (1 << 31) * (1 << 16) * ((1 << 31) - 1) and ei.value.bound == 1 << 63
    with pytest.raises(TrainingRangeError, match=r"layer 1: W out of range \(value 2147483648 is outside"):
        check_weights(cfg, [np.array([[1 << 31], [0]])])
    with pytest.raises(TrainingRangeError, match="step 0: X out of range"):
        train_step(cfg, M, np.array([[1 << 31]]), Y, step=0)
    with pytest.raises(TrainingRangeError, match="step 0: Y out of range"):
        train_step(cfg, M, X, np.array([[-(1 << 31) - 1]]), step=0)


def test_weights_after_chain_start_are_not_range_limited():
    # the master weights after a step may round to a model outside [-2^31, 2^31): valid (docs
    # §7), the next step starts from them; only a chain's start is range-checked
    cfg = FixedPointConfig(widths=(2, 1), eta_int=1, k=0, batch_size=1)
    big = (1 << 31) - 1
    M = to_master(cfg, [np.array([[big], [-big], [0]], dtype=np.int64)])
    t = train_step(cfg, M, np.array([[1 << 16, 1 << 16]]), np.array([[1 << 30]]), step=0)
    W_end = round_master(cfg, t.W_after)[0]
    assert max(abs(int(v)) for v in W_end[0].reshape(-1)) >= 1 << 31
    train_step(cfg, t.W_after, np.array([[0, 0]]), np.array([[0]]), step=1).validate()
    with pytest.raises(TrainingRangeError, match="initial weights"):
        check_weights(cfg, W_end, "initial weights")       # but they cannot start a chain
    with pytest.raises(TrainingRangeError, match="initial weights"):
        to_master(cfg, W_end, "initial weights")


def test_shape_errors():
    cfg = FixedPointConfig(widths=(2, 1), eta_int=1, k=0, batch_size=2)
    W = [np.zeros((3, 1), np.int64)]
    X, Y = np.zeros((2, 2), np.int64), np.zeros((2, 1), np.int64)
    train_step(cfg, W, X, Y, 0)
    for args in [([np.zeros((2, 1), np.int64)], X, Y), (W, X[:1], Y), (W, X, Y.T),
                 (W, X.astype(float), Y), (W + W, X, Y), (W[0], X, Y)]:
        with pytest.raises(ShapeError):
            train_step(cfg, *args, 0)
    with pytest.raises(ConfigError):
        train_step(cfg, W, X, Y, -1)
    with pytest.raises(ShapeError):
        train_step(cfg, W, X, Y, 0, np.array([0, 1, 2]))
    with pytest.raises(ShapeError):
        to_master(cfg, [np.zeros((3, 1))])                      # floats
