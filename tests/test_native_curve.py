"""G1, encoding, MSM and generators against py_ecc (an independent implementation)."""
import hashlib
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from py_ecc.bls.point_compression import compress_G1, decompress_G1
from py_ecc.optimized_bls12_381 import G1 as PY_G, Z1, add, double, multiply, neg, normalize

import zkdl
from zkdl import G1, EncodingError, FrVec, P_MODULUS, PointVec, R_MODULUS, ShapeError, msm, msm_rows
from zkdl import generators as gens
from zkdl.curve import JacVec, fixed_base_mul, naive_msm

R, P = R_MODULUS, P_MODULUS
GEN = G1.generator()


def to_py(p: G1):
    aff = p.to_affine()
    if aff is None:
        return Z1
    from py_ecc.fields import optimized_bls12_381_FQ as FQ

    return (FQ(aff[0]), FQ(aff[1]), FQ(1))


def same(p: G1, q_py) -> bool:
    if p.is_identity():
        return q_py[2] == 0
    x, y = normalize(q_py)
    return p.to_affine() == (int(x), int(y))


SCALARS = [0, 1, 2, 3, R - 1, R - 2, R, R + 1, 2**64, 2**128 + 7, -1, -5]
scalars = st.one_of(st.sampled_from(SCALARS), st.integers(0, R - 1))


@settings(max_examples=20)
@given(scalars)
def test_scalar_multiplication_matches_py_ecc(k):
    assert same(GEN * k, multiply(PY_G, k % R))


@settings(max_examples=10)
@given(scalars, scalars)
def test_addition_and_doubling(a, b):
    P1, P2 = GEN * a, GEN * b
    q1, q2 = multiply(PY_G, a % R), multiply(PY_G, b % R)
    assert same(P1 + P2, add(q1, q2))
    assert same(P1.double(), double(q1))
    assert same(P1 - P2, add(q1, neg(q2)))
    assert same(-P1, neg(q1))


def test_exceptional_cases():
    I = G1.identity()
    assert (GEN + GEN) == GEN.double() == GEN * 2
    assert (GEN + (-GEN)).is_identity()
    assert GEN + I == GEN and I + GEN == GEN and (I + I).is_identity()
    assert (I * 5).is_identity() and (GEN * 0).is_identity() and (GEN * R).is_identity()
    assert I.double().is_identity() and (-I).is_identity()


@settings(max_examples=20)
@given(scalars)
def test_compression_matches_py_ecc(k):
    p = GEN * k
    b = p.to_bytes()
    assert int.from_bytes(b, "big") == compress_G1(multiply(PY_G, k % R))
    assert G1.from_bytes(b) == p
    assert same(G1.from_bytes(b), decompress_G1(int.from_bytes(b, "big")))


def _x_with(square: bool) -> int:
    """The smallest x >= 1 for which x^3 + 4 is (or is not) a square mod p."""
    x = 1
    while True:
        rhs = (x**3 + 4) % P
        is_sq = pow(rhs, (P - 1) // 2, P) == 1
        if is_sq == square:
            return x
        x += 1


def test_strict_decoding_rejects_every_malformed_case():
    good = (GEN * 12345).to_bytes()
    cases = {
        "compression flag": bytes([good[0] & 0x7F]) + good[1:],
        "malformed infinity": bytes([0xE0]) + b"\0" * 47,  # infinity with the sign bit
        "malformed infinity ": bytes([0xC0]) + b"\0" * 46 + b"\x01",  # infinity with x bits
        "not canonical": bytes([0x80 | (P >> 376)]) + (P % 2**376).to_bytes(47, "big"),
        "not the coordinate of a point": (0x80 << 376 | _x_with(square=False)).to_bytes(48, "big"),
        "not in the prime-order subgroup": (0x80 << 376 | _x_with(square=True)).to_bytes(48, "big"),
    }
    for what, data in cases.items():
        with pytest.raises(EncodingError, match=what.strip()):
            G1.from_bytes(data)
    with pytest.raises(EncodingError, match="48 bytes"):
        G1.from_bytes(good[:47])
    with pytest.raises(EncodingError, match="multiple of 48"):
        PointVec.from_bytes(good + b"\0")
    with pytest.raises(EncodingError, match="point 1"):
        PointVec.from_bytes(good + cases["not canonical"])
    assert G1.from_bytes(bytes([0xC0]) + b"\0" * 47).is_identity()


@settings(max_examples=60)
@given(st.binary(min_size=48, max_size=48))
def test_decoding_arbitrary_bytes_never_crashes(data):
    try:
        p = G1.from_bytes(data)
    except EncodingError:
        return
    assert p.to_bytes() == data
    p_vec = PointVec.from_points([p])
    p_vec.validate()


def test_validate_rejects_raw_off_curve_limbs():
    limbs = GEN.limbs.copy()
    limbs[6] ^= 1  # perturb y
    with pytest.raises(EncodingError, match="not on the curve"):
        PointVec(limbs.reshape(1, 12)).validate()
    with pytest.raises(EncodingError):
        G1.from_affine(5, 7)


def test_jacobian_and_vector_ops():
    ks = [3, 5, R - 1, 0]
    pts = PointVec.from_points([GEN * k for k in ks])
    other = PointVec.from_points([GEN * (k + 1) for k in ks])
    assert (pts + other) == PointVec.from_points([GEN * (2 * k + 1) for k in ks])
    assert (pts - other) == PointVec.from_points([-GEN] * 4)
    assert (-pts) == PointVec.from_points([GEN * (-k) for k in ks])
    j = pts.to_jacobian()
    assert j.double().to_affine() == PointVec.from_points([GEN * (2 * k) for k in ks])
    s = FrVec.from_ints([7, 0, 2, R - 1])
    assert j.scale(s).to_affine() == PointVec.from_points([GEN * (k * m) for k, m in zip(ks, s.to_ints())])
    assert fixed_base_mul(GEN, FrVec.from_ints([0, 1, R - 1, 2**200])) == \
        PointVec.from_points([G1.identity(), GEN, -GEN, GEN * 2**200])
    with pytest.raises(ShapeError):
        j + JacVec(np.zeros((3, 18), dtype=np.uint64))


# ------------------------------------------------------------------ MSM

@pytest.fixture(scope="module")
def points():
    return gens.derive("tests/msm", 5000)


def _scalars(kind, n, rng):
    if kind == "01":
        return rng.integers(0, 2, n)
    if kind == "pm1":
        return rng.integers(-1, 2, n)
    if kind == "16":
        return rng.integers(-(2**15), 2**15, n)
    if kind == "32":
        return rng.integers(-(2**31), 2**31, n)
    if kind == "i64":
        return rng.integers(-(2**63), 2**63 - 1, n, endpoint=True)
    if kind == "zero":
        return np.zeros(n, dtype=np.int64)
    raise AssertionError(kind)


@settings(max_examples=25)
@given(st.integers(1, 300), st.sampled_from(["01", "pm1", "16", "32", "i64", "zero", "fr", "fr_small_neg"]),
       st.integers(0, 2**32))
def test_msm_matches_naive_sum(points, n, kind, seed):
    rng = np.random.default_rng(seed)
    pts = points[:n]
    if kind == "fr":
        sc = FrVec.random(n)
        ks = sc.to_ints()
    elif kind == "fr_small_neg":
        ks = [(R - int(v)) % R for v in rng.integers(0, 1000, n)]
        sc = FrVec.from_ints(ks)
    else:
        sc = _scalars(kind, n, rng)
        ks = [int(v) for v in sc]
    assert msm(pts, sc) == naive_msm(pts, ks)


def test_msm_against_py_ecc_small():
    pts = gens.derive("tests/msm", 4)
    ks = [5, -7, R - 1, 2**100]
    acc = Z1
    for p, k in zip(pts, ks):
        acc = add(acc, multiply(to_py(p), k % R))
    assert same(msm(pts, FrVec.from_ints(ks)), acc)


def test_msm_exceptional_inputs():
    g = gens.derive("tests/msm", 2)
    P1 = g[0]
    rep = PointVec.from_points([P1] * 600)  # the same point over and over: P+P inside buckets
    k = np.random.default_rng(1).integers(0, 2**20, 600)
    assert msm(rep, k) == P1 * int(k.sum())
    pm = PointVec.from_points([P1, -P1] * 300)  # a point and its negation
    assert msm(pm, np.ones(600, dtype=np.int64)).is_identity()
    with_inf = PointVec.from_points([P1, G1.identity(), g[1]])
    assert msm(with_inf, np.array([2, 9, 3])) == P1 * 2 + g[1] * 3
    assert msm(PointVec.identity(0), np.zeros(0, dtype=np.int64)).is_identity()


@pytest.mark.parametrize("kind", ["01", "16", "32", "fr"])
def test_msm_large_threads_and_rows(points, kind):
    """n = 5000 reaches the multi-threaded path: 1 vs 2 threads, and a split into rows."""
    rng = np.random.default_rng(7)
    n = 5000
    sc = FrVec.random(n) if kind == "fr" else _scalars(kind, n, rng)
    with zkdl.threads(1):
        one = msm(points, sc)
    with zkdl.threads(2):
        two = msm(points, sc)
    assert one == two
    halves = msm(points[:2500], sc[:2500]) + msm(points[2500:], sc[2500:])
    assert one == halves
    # both halves as rows over the same points: row 0 uses the first half, row 1 the second
    if kind == "fr":
        rows = FrVec.concat([sc[:2500], sc[2500:]])
    else:
        rows = np.stack([sc[:2500], sc[2500:]])
    r0, r1 = msm_rows(points[:2500], rows)
    assert r0 == msm(points[:2500], sc[:2500])
    assert r1 == msm(points[:2500], sc[2500:])


def test_msm_naive_oracle_at_600(points):
    sc = FrVec.random(600)
    assert msm(points[:600], sc) == naive_msm(points[:600], sc.to_ints())


def test_msm_shape_errors(points):
    with pytest.raises(ShapeError, match="3 scalars for 4 points"):
        msm(points[:4], np.array([1, 2, 3]))
    with pytest.raises(ShapeError, match="shape"):
        msm_rows(points[:4], np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ShapeError):
        msm(points[:2], np.array([1.0, 2.0]))


# ------------------------------------------------------------------ generators

def test_derive_deterministic_prefix_distinct():
    a = gens.derive("tests/gen", 10)
    assert gens.derive("tests/gen", 10) == a
    assert gens.derive("tests/gen", 4, 3) == a[3:7]
    a.validate(subgroup=True)
    enc = {p.to_bytes() for p in a}
    assert len(enc) == 10 and G1.identity().to_bytes() not in enc
    assert gens.derive("tests/gen2", 10)[0] != a[0]


def test_generator_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZKDL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gens, "_memo", {})
    first = gens.generators("tests/cache", 20)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and not [f for f in files if f.suffix == ".tmp"]
    monkeypatch.setattr(gens, "_memo", {})
    assert gens.generators("tests/cache", 12) == first[:12]  # loaded, prefix
    fresh = gens.derive("tests/cache", 20)
    path = files[0]
    good = path.read_bytes()
    # corruptions: a flipped byte, a truncation, a valid point swapped in with a fixed digest
    tampered = PointVec.concat([first[:5], gens.derive("other", 1), first[6:]])
    for bad in (good[:100] + bytes([good[100] ^ 1]) + good[101:], good[:-7],
                gens._encode_cache("tests/cache", tampered)):
        path.write_bytes(bad)
        monkeypatch.setattr(gens, "_memo", {})
        monkeypatch.setattr(gens.secrets, "randbelow", lambda n: 5)  # spot-check index 5
        with pytest.warns(UserWarning, match="ignoring generator cache"):
            assert gens.generators("tests/cache", 20) == fresh
    assert path.read_bytes() == good  # rebuilt


@pytest.mark.parametrize("kind", ["01", "pm1", "16", "fr"])
def test_msm_rows_grouped_batch_affine(kind):
    """Enough rows x buckets for the grouped batch-affine path; every row equals its own msm."""
    m, rows = 2048, 24
    pts = gens.generators("tests/msm-rows", m)
    rng = np.random.default_rng(3)
    if kind == "fr":
        sc = FrVec.random(rows * m)
        per_row = [sc[r * m:(r + 1) * m] for r in range(rows)]
    else:
        sc = _scalars(kind, rows * m, rng).reshape(rows, m)
        sc[5] = 0  # an all-zero row
        sc[6] = sc[7]  # two equal rows
        per_row = list(sc)
    for t in (1, 2):
        with zkdl.threads(t):
            got = msm_rows(pts, sc)
        for r in (0, 5, 6, 7, rows - 1):
            assert got[r] == msm(pts, per_row[r]), (t, r)
