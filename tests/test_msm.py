"""Multi-scalar multiplication (zkdl.msm, zkdl.msm_rows) against the naive sum of scalar
multiplications (zkdl.curve.naive_msm: the double-and-add single-point path, itself checked
against py_ecc in test_curve.py) and, for small cases, against py_ecc directly.

Scalar kinds: int64 in {0,1}, {-1,0,1}, 16/32-bit signed, full int64 (with -2^63), FrVec full
width, FrVec small negatives (r - k), FrVec edges around r/2, all zeros.  Point layouts: distinct,
one point repeated (P + P inside buckets), a point and its negation, identity points mixed in.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from py_ecc.optimized_bls12_381 import Z1, add, is_inf, multiply, normalize
from py_ecc.fields import optimized_bls12_381_FQ as FQ

import zkdl
from zkdl import G1, FrVec, PointVec, ShapeError, msm, msm_rows
from zkdl.curve import CombTable, naive_msm
from zkdl.generators import derive

R = zkdl.R_MODULUS
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

INT_KINDS = ["01", "pm1", "i16", "i32", "i64", "i64_edges", "zeros_i64"]
FR_KINDS = ["fr", "fr_small_neg", "fr_edges", "zeros_fr"]
LAYOUTS = ["distinct", "repeated", "pm", "with_identity", "mixed"]
FR_EDGES = [0, 1, R - 1, (R - 1) // 2, (R + 1) // 2, (R - 1) // 2 + 1, 2**254, 2**255 % R, 2**64,
            R - 2**64, 2**128, R - 2**63, 2**63]


def examples(factor: float) -> settings:
    """max_examples relative to the loaded hypothesis profile (ci: 40, dev: 300)."""
    return settings(max_examples=max(5, round(settings.default.max_examples * factor)))


@pytest.fixture(scope="module")
def points() -> PointVec:
    return derive("tests/msm-oracle", 5000)


def rand_fr(rng, n) -> list[int]:
    raw = rng.bytes(40 * n)
    return [int.from_bytes(raw[40 * i : 40 * i + 40], "little") % R for i in range(n)]


def make_scalars(kind: str, n: int, rng):
    """(scalars as given to msm, the same as a list of Python ints)."""
    if kind == "01":
        sc = rng.integers(0, 2, n)
    elif kind == "pm1":
        sc = rng.integers(-1, 2, n)
    elif kind == "i16":
        sc = rng.integers(-(2**15), 2**15, n)
    elif kind == "i32":
        sc = rng.integers(-(2**31), 2**31, n)
    elif kind == "i64":
        sc = rng.integers(I64_MIN, I64_MAX, n, endpoint=True)
        sc[rng.integers(0, n)] = I64_MIN
    elif kind == "i64_edges":
        sc = rng.choice(np.array([I64_MIN, I64_MAX, -1, 0, 1, -(2**62), 2**32, I64_MIN + 1]), n)
    elif kind == "zeros_i64":
        sc = np.zeros(n, dtype=np.int64)
    elif kind == "fr":
        ks = rand_fr(rng, n)
        return FrVec.from_ints(ks), ks
    elif kind == "fr_small_neg":
        ks = [(R - int(k)) % R for k in rng.integers(0, 2**20, n)]
        return FrVec.from_ints(ks), ks
    elif kind == "fr_edges":
        ks = [FR_EDGES[i] for i in rng.integers(0, len(FR_EDGES), n)]
        return FrVec.from_ints(ks), ks
    elif kind == "zeros_fr":
        return FrVec.zeros(n), [0] * n
    else:
        raise AssertionError(kind)
    sc = sc.astype(np.int64)
    return sc, [int(v) for v in sc]


def make_points(layout: str, n: int, pool: PointVec, rng) -> PointVec:
    P = pool[0]
    if layout == "distinct":
        return pool[:n]
    if layout == "repeated":
        return PointVec.from_points([P] * n)
    if layout == "pm":
        return PointVec.from_points([P if i % 2 == 0 else -P for i in range(n)])
    if layout == "with_identity":
        limbs = pool[:n].limbs.copy()
        limbs[rng.random(n) < 0.3] = 0
        return PointVec(limbs)
    if layout == "mixed":
        choices = [P, -P, G1.identity(), pool[1], None]
        return PointVec.from_points([choices[c] if choices[c] is not None else pool[int(rng.integers(0, len(pool)))]
                                     for c in rng.integers(0, 5, n)])
    raise AssertionError(layout)


def to_py(p: G1):
    aff = p.to_affine()
    return Z1 if aff is None else (FQ(aff[0]), FQ(aff[1]), FQ(1))


def same_py(p: G1, q_py) -> bool:
    if is_inf(q_py):
        return p.is_identity()
    x, y = normalize(q_py)
    return p.to_affine() == (int(x.n), int(y.n))


# ------------------------------------------------------------------ small n: naive oracle


@given(st.integers(1, 300) | st.integers(150, 300), st.sampled_from(INT_KINDS + FR_KINDS), st.sampled_from(LAYOUTS),
       st.integers(0, 2**32 - 1))
def test_msm_matches_naive_sum(points, n, kind, layout, seed):
    rng = np.random.default_rng(seed)
    pts = make_points(layout, n, points, rng)
    sc, ks = make_scalars(kind, n, rng)
    got = msm(pts, sc)
    assert got == naive_msm(pts, ks)
    if kind in INT_KINDS:
        # the same values as Fr elements (centred lift: small negatives take the small path)
        assert msm(pts, FrVec.from_int64(sc)) == got
        if sc.min(initial=0) >= 0:
            assert msm(pts, sc.astype(np.uint64)) == got


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, 3, 64, 700, 2500]), st.sampled_from([1, 9, 4095, 4096, 5000]),
       st.sampled_from(INT_KINDS + FR_KINDS), st.sampled_from(INT_KINDS + FR_KINDS), st.sampled_from(LAYOUTS),
       st.integers(0, 2**32 - 1))
def test_msm_pair_equals_two_msms(points, n1, n2, kind1, kind2, layout, seed):
    """msm_pair (native msm2: the two at once below 4096 points each, else one after the other)
    equals two msm calls, for every scalar kind and point layout, each half on its own kind."""
    from zkdl.curve import msm_pair
    from zkdl.threads import threads

    rng = np.random.default_rng(seed)
    p1, p2 = make_points(layout, n1, points, rng), make_points(layout, n2, points, rng)
    (s1, _), (s2, _) = make_scalars(kind1, n1, rng), make_scalars(kind2, n2, rng)
    assert msm_pair(p1, s1, p2, s2) == (msm(p1, s1), msm(p2, s2))
    with threads(1):
        assert msm_pair(p2, s2, p1, s1) == (msm(p2, s2), msm(p1, s1))


def test_msm_pair_shape_errors_and_other_backends(points):
    from zkdl import backend
    from zkdl.curve import msm_pair

    p4 = points[:4]
    with pytest.raises(ShapeError, match="msm_pair: 3 scalars for 4 points"):
        msm_pair(p4, np.array([1, 2, 3]), p4, np.arange(4))
    with pytest.raises(ShapeError, match="msm_pair: 5 scalars for 4 points"):
        msm_pair(p4, np.arange(4), p4, FrVec.zeros(5))
    with pytest.raises(ShapeError, match="msm_pair: points must be PointVecs"):
        msm_pair(p4, np.arange(4), [points[0]], np.array([1]))

    class Counting:             # a backend with the operations: msm_pair falls back to its msm
        calls = 0

        def __getattr__(self, name):
            return getattr(zkdl._native, name)

        def msm(self, *a):
            Counting.calls += 1
            return zkdl._native.msm(*a)

    with backend.use(Counting()):
        got = msm_pair(p4, np.arange(4), points[4:9], FrVec.from_ints([5, 6, 7, 8, 9]))
    assert Counting.calls == 2
    assert got == (msm(p4, np.arange(4)), msm(points[4:9], FrVec.from_ints([5, 6, 7, 8, 9])))


def test_msm_against_py_ecc():
    pts = derive("tests/msm-oracle", 4)
    py_pts = [to_py(p) for p in pts]
    for ks, sc in (([5, -7, R - 1, 2**100], None),
                   ([I64_MIN, I64_MAX, -1, 12345], np.array([I64_MIN, I64_MAX, -1, 12345], dtype=np.int64)),
                   ([(R + 1) // 2, (R - 1) // 2, 0, 1], None)):
        acc = Z1
        for p, k in zip(py_pts, ks):
            acc = add(acc, multiply(p, k % R))
        assert same_py(msm(pts, FrVec.from_ints(ks)), acc)
        if sc is not None:
            assert same_py(msm(pts, sc), acc)


@examples(0.75)
@given(st.one_of(st.sampled_from([I64_MIN, I64_MAX, -1, 0, 1, 2, -2, 2**32, -(2**31)]),
                 st.integers(I64_MIN, I64_MAX)),
       st.one_of(st.sampled_from(FR_EDGES), st.integers(0, R - 1)))
def test_single_point(points, k64, kfr):
    p = points[:1]
    assert msm(p, np.array([k64], dtype=np.int64)) == p[0] * k64
    assert msm(p, FrVec.from_ints([kfr])) == p[0] * kfr
    ident = PointVec.identity(1)
    assert msm(ident, np.array([k64], dtype=np.int64)).is_identity()
    assert msm(ident, FrVec.from_ints([kfr])).is_identity()


def test_empty_and_zero_inputs(points):
    assert msm(PointVec.identity(0), np.zeros(0, dtype=np.int64)).is_identity()
    assert msm(PointVec.identity(0), FrVec.zeros(0)).is_identity()
    assert msm(points[:50], np.zeros(50, dtype=np.int64)).is_identity()
    assert msm(points[:50], FrVec.zeros(50)).is_identity()
    assert msm(PointVec.identity(50), np.arange(50)).is_identity()


@pytest.mark.parametrize("n", [2, 3, 17, 600])
def test_repeated_point_and_negation(points, n):
    """P + P inside buckets, P + (-P) inside buckets."""
    P = points[7]
    rep = PointVec.from_points([P] * n)
    rng = np.random.default_rng(n)
    for sc in (np.ones(n, dtype=np.int64), np.full(n, 12345, dtype=np.int64),
               rng.integers(-(2**15), 2**15, n), rng.integers(I64_MIN, I64_MAX, n)):
        assert msm(rep, sc) == P * (sum(int(v) for v in sc) % R)
    pm = PointVec.from_points([P, -P] * n)
    assert msm(pm, np.ones(2 * n, dtype=np.int64)).is_identity()
    assert msm(pm, np.full(2 * n, -99, dtype=np.int64)).is_identity()
    assert msm(pm, FrVec.full(2 * n, R - 3)).is_identity()
    # P, P, -P: a bucket first doubles then cancels back
    ppm = PointVec.from_points([P, P, -P] * n)
    assert msm(ppm, np.ones(3 * n, dtype=np.int64)) == P * n


def test_naive_oracle_at_600(points):
    rng = np.random.default_rng(600)
    for kind, layout in (("fr", "distinct"), ("i64", "mixed")):
        pts = make_points(layout, 600, points, rng)
        sc, ks = make_scalars(kind, 600, rng)
        assert msm(pts, sc) == naive_msm(pts, ks)


# ------------------------------------------------------------------ large n: threaded Pippenger


@pytest.mark.parametrize("kind", ["01", "pm1", "i16", "i32", "i64", "fr", "fr_small_neg", "fr_edges"])
def test_msm_large_threads_halves_and_rows(points, kind):
    """n = 5000 reaches the multi-threaded path (threshold 4096); the halves (2500) do not."""
    rng = np.random.default_rng(5000)
    n, h = 5000, 2500
    sc, ks = make_scalars(kind, n, rng)
    with zkdl.threads(1):
        one = msm(points, sc)
    with zkdl.threads(2):
        two = msm(points, sc)
    assert one == two
    halves = msm(points[:h], sc[:h]) + msm(points[h:], sc[h:])
    assert one == halves
    # both halves as two rows over the same 2500 points
    rows = FrVec.concat([sc[:h], sc[h:]]) if isinstance(sc, FrVec) else np.stack([sc[:h], sc[h:]])
    for t in (1, 2):
        with zkdl.threads(t):
            r0, r1 = msm_rows(points[:h], rows)
        assert r0 == msm(points[:h], sc[:h])
        assert r1 == msm(points[:h], sc[h:])
    assert msm(points[:h], sc[h:]) + msm(points[h:], sc[:h]) == \
        msm(points, FrVec.concat([sc[h:], sc[:h]]) if isinstance(sc, FrVec) else np.concatenate([sc[h:], sc[:h]]))
    # one row of 5000 with 2 threads: fewer rows than threads, the row uses all threads
    with zkdl.threads(2):
        (row,) = msm_rows(points, FrVec.concat([sc]) if isinstance(sc, FrVec) else sc.reshape(1, n))
    assert row == one


@pytest.mark.parametrize("layout", ["repeated", "pm", "with_identity", "mixed"])
def test_msm_large_exceptional_layouts(points, layout):
    rng = np.random.default_rng(42)
    n = 5000
    pts = make_points(layout, n, points, rng)
    for kind in ("pm1", "i16", "fr_small_neg"):
        sc, ks = make_scalars(kind, n, rng)
        with zkdl.threads(1):
            one = msm(pts, sc)
        with zkdl.threads(2):
            two = msm(pts, sc)
        assert one == two
        if layout in ("repeated", "pm"):
            P = points[0]
            want = sum(k * (1 if layout == "repeated" or i % 2 == 0 else -1) for i, k in enumerate(ks))
            assert one == P * (want % R)
        else:
            h = 2000
            assert one == msm(pts[:h], sc[:h]) + msm(pts[h:], sc[h:])


def test_msm_large_repeated_double_then_cancel(points):
    P = points[3]
    n = 3 * 1700
    pts = PointVec.from_points([P, P, -P] * 1700)
    for t in (1, 2):
        with zkdl.threads(t):
            assert msm(pts, np.ones(n, dtype=np.int64)) == P * 1700
            assert msm(pts, np.full(n, -7, dtype=np.int64)) == P * (-7 * 1700)
            assert msm(pts, np.full(n, 40000, dtype=np.int64)) == P * (40000 * 1700)


# ------------------------------------------------------------------ msm_rows


@examples(0.75)
@given(st.integers(1, 6), st.integers(1, 64), st.sampled_from(INT_KINDS + FR_KINDS),
       st.sampled_from(LAYOUTS), st.integers(0, 2**32 - 1))
def test_msm_rows_equal_per_row_msm(points, rows, m, kind, layout, seed):
    rng = np.random.default_rng(seed)
    pts = make_points(layout, m, points, rng)
    sc, ks = make_scalars(kind, rows * m, rng)
    if isinstance(sc, FrVec):
        per_row = [sc[r * m : (r + 1) * m] for r in range(rows)]
        forms = [sc]
    else:
        mat = sc.reshape(rows, m)
        per_row = list(mat)
        forms = [mat, FrVec.from_int64(mat)]
    want = [msm(pts, row) for row in per_row]
    assert want[0] == naive_msm(pts, ks[:m])
    for form in forms:
        for t in (1, 2):
            with zkdl.threads(t):
                got = msm_rows(pts, form)
            assert len(got) == rows
            assert list(got) == want, (t, type(form).__name__)


@pytest.mark.parametrize("kind", ["01", "pm1", "i16", "i64"])
def test_msm_rows_grouped_batch_affine(kind):
    """Enough rows x buckets for the grouped batch-affine path; an all-zero row, equal rows, a
    row of -2^63 and a repeated point."""
    m, rows = 2048, 24
    pts = derive("tests/msm-rows", m)
    pts.limbs[100] = pts.limbs[101]  # one point twice
    pts.limbs[200] = 0  # an identity point
    rng = np.random.default_rng(3)
    sc, _ = make_scalars(kind, rows * m, rng)
    sc = sc.reshape(rows, m)
    sc[5] = 0
    sc[6] = sc[7]
    if kind == "i64":
        sc[8] = I64_MIN
    fr_form = FrVec.from_int64(sc)
    want = [msm(pts, sc[r]) for r in range(rows)]
    for t in (1, 2):
        with zkdl.threads(t):
            assert list(msm_rows(pts, sc)) == want, t
            assert list(msm_rows(pts, fr_form)) == want, t
    assert want[5].is_identity() and want[6] == want[7]


# ------------------------------------------------------------------ shapes and types


def test_shape_errors(points):
    p4 = points[:4]
    with pytest.raises(ShapeError, match="msm: 3 scalars for 4 points"):
        msm(p4, np.array([1, 2, 3]))
    with pytest.raises(ShapeError, match="msm: 5 scalars for 4 points"):
        msm(p4, FrVec.zeros(5))
    with pytest.raises(ShapeError, match="scalars must be an FrVec or an integer array, got float64"):
        msm(points[:2], np.array([1.0, 2.0]))
    with pytest.raises(ShapeError, match="unsigned scalars must fit in int64"):
        msm(points[:2], np.array([1, 2**63], dtype=np.uint64))
    with pytest.raises(ShapeError, match="msm: points must be a PointVec"):
        msm([points[0]], np.array([1]))
    with pytest.raises(ShapeError, match=r"integer scalars must have shape \(rows, 4\), got \(2, 3\)"):
        msm_rows(p4, np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ShapeError, match=r"must have shape \(rows, 4\), got \(8,\)"):
        msm_rows(p4, np.zeros(8, dtype=np.int64))
    with pytest.raises(ShapeError, match="msm_rows: 9 scalars do not form rows of 4"):
        msm_rows(p4, FrVec.zeros(9))
    with pytest.raises(ShapeError, match="do not form rows of 0"):
        msm_rows(PointVec.identity(0), FrVec.zeros(0))
    with pytest.raises(ShapeError, match="msm_rows: points must be a PointVec"):
        msm_rows(p4.limbs, FrVec.zeros(4))
    with pytest.raises(ShapeError, match="scalars must be an FrVec or an integer array"):
        msm_rows(p4, np.zeros((2, 4), dtype=np.float32))
    assert len(msm_rows(p4, np.zeros((0, 4), dtype=np.int64))) == 0


# ------------------------------------------------------------------ small MSMs (Straus) and short rows (comb)

SMALL_EDGES = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 2**128, 2**255 % R]


@examples(1.0)
@given(st.lists(st.tuples(st.sampled_from(["pool", "P", "-P", "inf", "2P"]), st.integers(0, 40),
                          st.sampled_from(SMALL_EDGES) | st.integers(0, R - 1)), min_size=1, max_size=12))
def test_small_msm_edges_against_py_ecc(points, items):
    """Straus (n below ~200, both the Jacobian-table path n < 4 and the affine-table path):
    scalars 0, 1, r - 1, ..., identity points, repeated points, P and -P together."""
    P = points[0]
    choose = {"P": P, "-P": -P, "inf": G1.identity(), "2P": P.double()}
    pts = PointVec.from_points([points[1 + j] if w == "pool" else choose[w] for w, j, _ in items])
    ks = [k for _, _, k in items]
    got = msm(pts, FrVec.from_ints(ks))
    acc = Z1
    for p, k in zip(pts, ks):
        acc = add(acc, multiply(to_py(p), k))
    assert same_py(got, acc)
    assert got == naive_msm(pts, ks)


@pytest.mark.parametrize("kind", ["fr", "fr_edges", "fr_small_neg", "i16", "pm1", "01", "i64", "zeros_fr"])
@pytest.mark.parametrize("m", [1, 2, 3])
def test_msm_rows_few_points_many_rows(points, kind, m):
    """Short rows over many rows take the fixed-base comb (or the shared-table Straus): equal to
    the per-row msm (itself checked against the naive sum), with an identity point, a repeated
    point, P and -P, and all-zero / equal rows."""
    rows = 300
    rng = np.random.default_rng(m * 101 + len(kind))
    base = [points[0], points[0], -points[0]] if kind == "fr_edges" else [points[7], G1.identity(), points[9]]
    pts = PointVec.from_points(base[:m])
    sc, ks = make_scalars(kind, rows * m, rng)
    if isinstance(sc, FrVec):
        per_row = [sc[r * m : (r + 1) * m] for r in range(rows)]
        forms = [sc]
    else:
        mat = sc.reshape(rows, m)
        mat[3] = 0
        mat[4] = mat[5]
        per_row = list(mat)
        forms = [mat]
    want = [msm(pts, row) for row in per_row]
    for r in (0, 1, rows - 1):
        assert want[r] == naive_msm(pts, [int(v) for v in (ks[r * m : (r + 1) * m] if isinstance(sc, FrVec) else per_row[r])])
    for form in forms:
        for t in (1, 2):
            with zkdl.threads(t):
                assert list(msm_rows(pts, form)) == want, t


def test_msm_rows_two_generators_against_py_ecc(points):
    """[v] g + [rho] h rows (Pedersen pairs), full-width scalars, against py_ecc."""
    g, h = points[11], points[12]
    rng = np.random.default_rng(5)
    ks = rand_fr(rng, 2 * 40)
    ks[:4] = [0, 1, R - 1, 0]
    got = msm_rows(PointVec.from_points([g, h]), FrVec.from_ints(ks))
    gp, hp = to_py(g), to_py(h)
    for r in range(40):
        assert same_py(got[r], add(multiply(gp, ks[2 * r]), multiply(hp, ks[2 * r + 1])))


# ------------------------------------------------------------------ fixed-base comb tables


@examples(0.5)
@given(st.integers(1, 5), st.integers(1, 6), st.sampled_from(INT_KINDS + FR_KINDS), st.sampled_from(LAYOUTS),
       st.sampled_from([2, 5, 8, 12]), st.integers(0, 2**32 - 1))
def test_comb_table_rows_match_msm(points, m, rows, kind, layout, c, seed):
    """CombTable (kept tables, no doubling) against the per-row MSM, every scalar kind (edges,
    negatives, zeros) and point layout (repeated, negated, identity points)."""
    rng = np.random.default_rng(seed)
    pts = make_points(layout, m, points, rng)
    sc, _ = make_scalars(kind, rows * m, rng)
    table = CombTable(pts, c)
    if isinstance(sc, FrVec):
        got = table.msm_rows(sc)
        want = [msm(pts, sc[r * m:(r + 1) * m]) for r in range(rows)]
    else:
        got = table.msm_rows(sc.reshape(rows, m))
        want = [msm(pts, sc[r * m:(r + 1) * m]) for r in range(rows)]
    assert list(got) == want
    assert table.msm(sc[:m] if isinstance(sc, FrVec) else sc[:m]) == want[0]


def test_comb_table_against_py_ecc_and_pedersen():
    pts = derive("tests/msm-oracle", 2)
    ks = [(R - 1) // 2, R - 1]
    acc = add(multiply(to_py(pts[0]), ks[0]), multiply(to_py(pts[1]), ks[1]))
    assert same_py(CombTable(pts).msm(FrVec.from_ints(ks)), acc)
    from zkdl.pedersen import PedersenKey

    key = PedersenKey("tests/comb", 4)
    assert key.commit_scalar(5, 7) == key.g * 5 + key.h * 7
    assert list(key.commit_scalars([0, R - 1, 3], [1, 0, R - 2])) == [
        key.h, -key.g, key.g * 3 - key.h * 2]
    assert len(key.commit_scalars([], [])) == 0
    # Hyrax rows: the blinds' [rho] h come from the same table
    rows = np.array([[1, -2, 3, 0], [0, 0, 0, 0], [2**40, 5, -7, 1]], dtype=np.int64)
    blinds = FrVec.from_ints([R - 1, 0, 2**200])
    got = key.commit_rows(rows, blinds)
    gh = PointVec.concat([key.G[:4], PointVec.from_points([key.h])])
    assert list(got) == [msm(gh, FrVec.concat([FrVec.from_int64(rows[i]), blinds[i:i + 1]])) for i in range(3)]


def test_comb_table_shape_errors(points):
    with pytest.raises(ShapeError):
        CombTable(points[:0])
    with pytest.raises(ShapeError):
        CombTable(points[:2], 13)
    t = CombTable(points[:3], 4)
    with pytest.raises(ShapeError):
        t.msm_rows(FrVec.from_ints([1, 2, 3, 4]))          # not rows of 3
    with pytest.raises(ShapeError):
        t.msm_rows(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ShapeError):
        t.msm(FrVec.from_ints([1, 2]))
    from zkdl import _native

    with pytest.raises(ValueError):      # a table of the wrong size for its window
        _native.comb_msm_rows(np.zeros((1, 12), dtype=np.uint64), t.table[:-1], np.zeros(3, dtype=np.int64), 0, 4)
    with pytest.raises(ValueError, match="window"):
        _native.comb_table(np.zeros((1, 12), dtype=np.uint64), points[:1].limbs, 1)
