"""G1 (zkdl.curve) against py_ecc, an independent implementation of BLS12-381: group law, scalar
multiplication, the compressed encoding and its strict decoding, and the batched JacVec/PointVec
operations against the single-point ones."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from py_ecc.bls.point_compression import compress_G1, decompress_G1
from py_ecc.optimized_bls12_381 import G1 as PY_G1
from py_ecc.optimized_bls12_381 import Z1, add, curve_order, double, is_inf, is_on_curve, multiply, neg, normalize
from py_ecc.optimized_bls12_381 import b as PY_B

import zkdl
from zkdl import G1, EncodingError, FrVec, PointVec, ShapeError
from zkdl.curve import JacVec, fixed_base_mul

R, P = zkdl.R_MODULUS, zkdl.P_MODULUS
assert curve_order == R
GEN = G1.generator()
_RP = pow(2, 384, P)  # Montgomery factor of Fp


# ------------------------------------------------------------------ helpers


def examples(factor: float) -> settings:
    """max_examples relative to the loaded hypothesis profile (ci: 40, dev: 300)."""
    return settings(max_examples=max(5, round(settings.default.max_examples * factor)))


def py_affine(pt):
    """py_ecc point -> canonical (x, y) or None for the identity."""
    if is_inf(pt):
        return None
    x, y = normalize(pt)
    return int(x.n), int(y.n)


def from_py(pt) -> G1:
    """py_ecc point -> zkdl G1 through the checked affine constructor (no zkdl group law)."""
    aff = py_affine(pt)
    return G1.identity() if aff is None else G1.from_affine(*aff)


def py_mul(k: int):
    return multiply(PY_G1, k % R)


def same(p: G1, q_py) -> bool:
    return p.to_affine() == py_affine(q_py)


def enc_x(x: int, flags: int = 0x80) -> bytes:
    """48-byte encoding with the given flag byte (top three bits) and 381-bit x."""
    return ((flags << 376) | x).to_bytes(48, "big")


def _is_square(v: int) -> bool:
    return pow(v % P, (P - 1) // 2, P) == 1


def x_from(x0: int, square: bool) -> int:
    """The first x >= x0 (mod p) for which x^3 + 4 is (square) or is not (not square) a
    non-zero square mod p."""
    x = x0 % P
    while _is_square(x**3 + 4) != square or (x**3 + 4) % P == 0:
        x = (x + 1) % P
    return x


def mont_fp(v: int) -> np.ndarray:
    return np.frombuffer((v * _RP % P).to_bytes(48, "little"), dtype="<u8").astype(np.uint64)


def raw_limbs(x_limbs_value: int, y_limbs_value: int) -> np.ndarray:
    """12 raw limbs from two 384-bit integers taken as they are (Montgomery, unchecked)."""
    return np.frombuffer(x_limbs_value.to_bytes(48, "little") + y_limbs_value.to_bytes(48, "little"),
                         dtype="<u8").astype(np.uint64)


SCALAR_EDGES = [0, 1, 2, 3, R - 1, R - 2, R, R + 1, 2 * R, (R - 1) // 2, (R + 1) // 2, 2**64 - 1,
                2**64, 2**128, 2**255 - 1, -1, -2, -5, -(2**63), -R + 1]
scalars = st.one_of(st.sampled_from(SCALAR_EDGES), st.integers(0, R - 1), st.integers(-1000, -1))


def test_generator_matches_py_ecc():
    assert GEN.to_affine() == py_affine(PY_G1)
    assert G1.identity().to_affine() is None and G1.identity().is_identity()
    assert not GEN.is_identity()


# ------------------------------------------------------------------ group law


@given(scalars)
def test_scalar_multiplication(k):
    want = py_mul(k)
    assert same(GEN * k, want)
    assert same(k * GEN, want)
    if -(2**63) <= k < 2**63:
        assert same(GEN * np.int64(k), want)


@examples(0.5)
@given(st.integers(1, R - 1), scalars)
def test_scalar_multiplication_of_other_bases(a, k):
    base_py = py_mul(a)
    base = from_py(base_py)
    assert same(base * k, multiply(base_py, k % R))


@examples(0.5)
@given(scalars, scalars)
def test_add_sub_double_neg(a, b):
    pa, pb = py_mul(a), py_mul(b)
    A, B = from_py(pa), from_py(pb)
    assert same(A + B, add(pa, pb))
    assert same(B + A, add(pa, pb))
    assert same(A - B, add(pa, neg(pb)))
    assert same(A.double(), double(pa))
    assert same(-A, neg(pa))
    assert same(A + A, double(pa))


@examples(0.25)
@given(st.integers(1, R - 1))
def test_exceptional_cases(a):
    I = G1.identity()
    p = from_py(py_mul(a))
    assert p + p == p.double() == p * 2
    assert (p + (-p)).is_identity() and ((-p) + p).is_identity() and (p - p).is_identity()
    assert p + I == p and I + p == p and p - I == p
    assert (I - p) == -p
    assert (I + I).is_identity() and I.double().is_identity() and (-I).is_identity()
    assert (I * a).is_identity() and (p * 0).is_identity() and (p * R).is_identity()
    assert p * (R + 1) == p and p * (R - 1) == -p and p * -1 == -p
    assert (p.double() + p) == p * 3 and (p + p.double()) == p * 3
    assert -(-p) == p


# ------------------------------------------------------------------ encoding


@examples(0.75)
@given(scalars)
def test_compression_matches_py_ecc(k):
    pt = py_mul(k)
    p = GEN * k
    data = p.to_bytes()
    assert len(data) == 48
    assert int.from_bytes(data, "big") == compress_G1(pt)
    q = G1.from_bytes(data)
    assert q == p
    assert same(q, decompress_G1(compress_G1(pt)))
    assert G1.from_bytes(compress_G1(pt).to_bytes(48, "big")) == p


def test_identity_encoding():
    data = G1.identity().to_bytes()
    assert data == bytes([0xC0]) + bytes(47)
    assert int.from_bytes(data, "big") == compress_G1(Z1)
    assert G1.from_bytes(data).is_identity()


@examples(0.5)
@given(st.lists(scalars, min_size=0, max_size=12))
def test_pointvec_encoding_round_trip(ks):
    pts = PointVec.from_points([GEN * k for k in ks])
    data = pts.to_bytes()
    assert data == b"".join((GEN * k).to_bytes() for k in ks)
    assert PointVec.from_bytes(data) == pts
    assert PointVec.from_bytes(bytearray(data), n=len(ks)) == pts
    assert PointVec.from_bytes(memoryview(data), subgroup_check=False) == pts
    assert [p for p in pts] == [GEN * k for k in ks]


@functools.lru_cache(maxsize=None)
def malformed_cases() -> tuple:
    """Instances of each malformed case, with the message each must raise."""
    good = (GEN * 12345).to_bytes()
    x_off = x_from(1, square=False)
    x_nosub = x_from(1, square=True)
    # the oracle: py_ecc agrees that x_nosub gives a curve point outside the subgroup
    pt = decompress_G1(int.from_bytes(enc_x(x_nosub), "big"))
    assert is_on_curve(pt, PY_B) and not is_inf(multiply(pt, R))
    with pytest.raises(ValueError):
        decompress_G1(int.from_bytes(enc_x(x_off), "big"))
    return (
        ("compression flag", bytes([good[0] & 0x7F]) + good[1:]),
        ("compression flag", bytes([0x40]) + bytes(47)),  # infinity without the compression flag
        ("compression flag", bytes(48)),
        ("malformed infinity", bytes([0xE0]) + bytes(47)),  # infinity flag with the sign bit
        ("malformed infinity", bytes([0xC0]) + bytes(46) + b"\x01"),  # infinity with x bits
        ("malformed infinity", bytes([0xC1]) + bytes(47)),  # x bits in the flag byte
        ("malformed infinity", enc_x(12345, 0xC0)),
        ("not canonical", enc_x(P)),
        ("not canonical", enc_x(P + 1, 0xA0)),
        ("not canonical", enc_x(2**381 - 1)),
        ("not the coordinate of a point on the curve", enc_x(x_off)),
        ("not the coordinate of a point on the curve", enc_x(x_off, 0xA0)),
        ("not in the prime-order subgroup", enc_x(x_nosub)),
        ("not in the prime-order subgroup", enc_x(x_nosub, 0xA0)),
        ("not in the prime-order subgroup", enc_x(0)),  # (0, 2): a point of order 3
    )


@pytest.fixture(scope="module")
def bad_encodings():
    return malformed_cases()


def test_strict_decoding_rejects_every_malformed_case(bad_encodings):
    for what, data in bad_encodings:
        with pytest.raises(EncodingError, match=rf"G1 point 0: .*{what}"):
            G1.from_bytes(data)
        with pytest.raises(EncodingError, match=rf"G1 point 0: .*{what}"):
            PointVec.from_bytes(data)


def test_decoding_without_subgroup_check(bad_encodings):
    for what, data in bad_encodings:
        if what != "not in the prime-order subgroup":
            continue
        pts = PointVec.from_bytes(data, subgroup_check=False)
        assert pts.to_bytes() == data
        pts.validate(subgroup=False)
        with pytest.raises(EncodingError, match="G1 point 0 is not in the prime-order subgroup"):
            pts.validate()
        x = int.from_bytes(data, "big") % 2**381
        assert pts[0].to_affine()[0] == x
        if x:
            assert pts[0].to_affine() == py_affine(decompress_G1(int.from_bytes(data, "big")))


@pytest.mark.parametrize("n", [0, 1, 47, 49, 96])
def test_wrong_lengths(n):
    with pytest.raises(EncodingError, match=rf"G1 encoding must be 48 bytes, got {n}"):
        G1.from_bytes(((bytes([0xC0]) + bytes(47)) * 2)[:n])
    if n % 48:
        with pytest.raises(EncodingError, match=rf"G1 encoding: {n} bytes, expected a multiple of 48"):
            PointVec.from_bytes(((bytes([0xC0]) + bytes(47)) * 2)[:n])


def test_pointvec_wrong_lengths():
    data = (bytes([0xC0]) + bytes(47)) * 3
    with pytest.raises(EncodingError, match=r"G1 encoding: 145 bytes, expected a multiple of 48"):
        PointVec.from_bytes(data + b"\0")
    with pytest.raises(EncodingError, match=r"G1 encoding: 144 bytes, expected 96"):
        PointVec.from_bytes(data, n=2)
    with pytest.raises(EncodingError, match="must be bytes"):
        PointVec.from_bytes("c0" * 48)


@examples(0.5)
@given(st.integers(0, 39), st.integers(0, len(malformed_cases()) - 1), st.data())
def test_first_bad_encoding_is_named(i, case, data):
    """A vector of 40 encodings (the parallel decoder path): the first bad index is named, also
    when a later one is bad too."""
    what, bad = malformed_cases()[case]
    good = [(GEN * (k + 1)).to_bytes() for k in range(40)]
    good[i] = bad
    j = data.draw(st.integers(i, 39))
    if j > i:
        good[j] = bytes(48)
    for t in (1, 2):
        with zkdl.threads(t):
            with pytest.raises(EncodingError, match=rf"G1 point {i}: .*{what}"):
                PointVec.from_bytes(b"".join(good))


# arbitrary 48-byte strings: raw bytes, arbitrary x with every flag combination, x near p, and
# valid encodings with one bit flipped
_VALID = [(GEN * k).to_bytes() for k in (1, 2, 3, R - 1, 2**200 + 7, 0)]


@st.composite
def encodings(draw):
    kind = draw(st.sampled_from(["raw", "flags", "near_p", "bitflip", "onto_curve", "valid"]))
    if kind == "valid":  # a subgroup point, possibly with its sign flag flipped (its negation)
        v = bytearray((GEN * draw(scalars)).to_bytes())
        if draw(st.booleans()) and v[0] != 0xC0:
            v[0] ^= 0x20
        return bytes(v)
    if kind == "raw":
        return draw(st.binary(min_size=48, max_size=48))
    flags = draw(st.sampled_from([0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0]))
    if kind == "flags":
        x = draw(st.one_of(st.integers(0, 2**381 - 1), st.sampled_from([0, 1, P - 1, 2**380])))
        return enc_x(x, flags)
    if kind == "near_p":
        return enc_x(draw(st.integers(P - 3, 2**381 - 1) | st.integers(P - 3, P + 3)), flags)
    if kind == "onto_curve":  # an x of a curve point: decodes unless outside the subgroup
        x = x_from(draw(st.integers(0, P - 1)), square=True)
        return enc_x(x, draw(st.sampled_from([0x80, 0xA0])))
    v = bytearray(draw(st.sampled_from(_VALID)))
    bit = draw(st.integers(0, 383))
    v[bit // 8] ^= 1 << (bit % 8)
    return bytes(v)


def expected_decode_error(data: bytes) -> str | None:
    """The ZCash rules, evaluated independently of zkdl (py_ecc for the subgroup)."""
    z = int.from_bytes(data, "big")
    c, b, a = z >> 383 & 1, z >> 382 & 1, z >> 381 & 1
    x = z % 2**381
    if not c:
        return "compression flag"
    if b:
        return "malformed infinity" if (a or x) else None
    if x >= P:
        return "not canonical"
    if not _is_square(x**3 + 4) and (x**3 + 4) % P:
        return "not the coordinate of a point on the curve"
    if x == 0:
        return "not in the prime-order subgroup"  # (0, +-2) has order 3
    pt = decompress_G1(z)  # py_ecc: x and the root chosen by the sign flag (no subgroup check)
    return None if is_inf(multiply(pt, R)) else "not in the prime-order subgroup"


@examples(2)
@given(encodings())
def test_decoding_arbitrary_bytes(data):
    want = expected_decode_error(data)
    if want is not None:
        with pytest.raises(EncodingError, match=rf"G1 point 0: .*{want}"):
            G1.from_bytes(data)
        return
    p = G1.from_bytes(data)
    assert p.to_bytes() == data
    PointVec.from_points([p]).validate(subgroup=True)
    assert same(p, decompress_G1(int.from_bytes(data, "big")))


# ------------------------------------------------------------------ validate, from_affine


def test_validate_rejects_raw_off_curve_limbs():
    gx, gy = GEN.to_affine()
    good = GEN.limbs.copy()
    assert np.array_equal(good, np.concatenate([mont_fp(gx), mont_fp(gy)]))
    bad = good.copy()
    bad[6] ^= 1  # perturb y
    with pytest.raises(EncodingError, match="G1 point 0 is not on the curve"):
        PointVec(bad.reshape(1, 12)).validate()
    with pytest.raises(EncodingError, match="G1 point 0 is not on the curve"):
        PointVec(bad.reshape(1, 12)).validate(subgroup=False)
    # (p, 2): x is congruent to 0, and (0, 2) is on the curve, but the limbs are not canonical
    noncanon_x = raw_limbs(P, 2 * _RP % P)
    with pytest.raises(EncodingError, match="G1 point 0 is not on the curve"):
        PointVec(noncanon_x.reshape(1, 12)).validate(subgroup=False)
    # the generator with y + p: congruent, not canonical
    noncanon_y = raw_limbs(gx * _RP % P, gy * _RP % P + P)
    with pytest.raises(EncodingError, match="G1 point 0 is not on the curve"):
        PointVec(noncanon_y.reshape(1, 12)).validate()
    # (0, 2) is on the curve but of order 3
    order3 = raw_limbs(0, 2 * _RP % P).reshape(1, 12)
    PointVec(order3).validate(subgroup=False)
    with pytest.raises(EncodingError, match="G1 point 0 is not in the prime-order subgroup"):
        PointVec(order3).validate()
    PointVec.identity(3).validate()


@examples(0.5)
@given(st.integers(0, 19), st.sampled_from(["off", "noncanon", "order3"]), st.integers(0, 19))
def test_validate_names_first_bad_point(i, kind, j):
    limbs = np.stack([(GEN * (k + 1)).limbs for k in range(20)])
    gx, gy = GEN.to_affine()
    bad = {"off": raw_limbs(gx * _RP % P, (gy + 1) * _RP % P),
           "noncanon": raw_limbs(gx * _RP % P + P, gy * _RP % P),
           "order3": raw_limbs(0, 2 * _RP % P)}[kind]
    limbs[i] = bad
    if j > i:
        limbs[j, 6] ^= 1
    what = "is not in the prime-order subgroup" if kind == "order3" else "is not on the curve"
    for t in (1, 2):
        with zkdl.threads(t):
            with pytest.raises(EncodingError, match=rf"G1 point {i} {what}"):
                PointVec(limbs).validate()


def test_from_affine_checks():
    gx, gy = GEN.to_affine()
    assert G1.from_affine(gx, gy) == GEN
    assert G1.from_affine(gx, P - gy) == -GEN
    with pytest.raises(EncodingError, match="not on the curve"):
        G1.from_affine(gx, gy + 1)
    with pytest.raises(EncodingError, match=r"canonical integers in \[0, p\)"):
        G1.from_affine(gx + P, gy)
    with pytest.raises(EncodingError, match=r"canonical integers in \[0, p\)"):
        G1.from_affine(gx, -gy)
    with pytest.raises(EncodingError, match="prime-order subgroup"):
        G1.from_affine(0, 2)


# ------------------------------------------------------------------ batched operations


pair_modes = st.sampled_from(["rand", "same", "neg", "identity", "double"])


@examples(0.75)
@given(st.lists(st.tuples(scalars, pair_modes, scalars, scalars), min_size=1, max_size=6))
def test_jacvec_and_pointvec_ops_match_single_point_ops(rows):
    ps, qs, ks = [], [], []
    for a, mode, b, k in rows:
        p = GEN * a
        q = {"rand": GEN * b, "same": p, "neg": -p, "identity": G1.identity(), "double": p.double()}[mode]
        ps.append(p)
        qs.append(q)
        ks.append(k)
    PV, QV = PointVec.from_points(ps), PointVec.from_points(qs)
    J, K = PV.to_jacobian(), QV.to_jacobian()
    assert (J + K).to_affine() == PointVec.from_points([p + q for p, q in zip(ps, qs)])
    assert (K + J).to_affine() == PointVec.from_points([p + q for p, q in zip(ps, qs)])
    assert (J - K).to_affine() == PointVec.from_points([p - q for p, q in zip(ps, qs)])
    assert (-J).to_affine() == PointVec.from_points([-p for p in ps])
    assert J.double().to_affine() == PointVec.from_points([p.double() for p in ps])
    assert J.to_affine() == PV
    S = FrVec.from_ints(ks)
    assert J.scale(S).to_affine() == PointVec.from_points([p * k for p, k in zip(ps, ks)])
    # Jacobian inputs with Z != 1: doubled points plus affine-derived ones (P + P with
    # different Z, P + (-P) with different Z)
    J2 = J.double()
    assert (J2 + J).to_affine() == PointVec.from_points([p * 3 for p in ps])
    D = PointVec.from_points([p.double() for p in ps]).to_jacobian()
    assert (J2 + D).to_affine() == PointVec.from_points([p * 4 for p in ps])
    assert all(pt.is_identity() for pt in (J2 - D).to_affine())
    assert J2.scale(S).to_affine() == PointVec.from_points([p * (2 * k) for p, k in zip(ps, ks)])
    # PointVec row-wise operations
    assert PV + QV == PointVec.from_points([p + q for p, q in zip(ps, qs)])
    assert PV - QV == PointVec.from_points([p - q for p, q in zip(ps, qs)])
    assert -PV == PointVec.from_points([-p for p in ps])


@pytest.mark.parametrize("threads", [1, 2])
def test_batched_ops_threaded(threads):
    """300 points: above the 256-point threshold of the parallel add/double kernels."""
    rng = np.random.default_rng(threads)
    n = 300
    a = [int(v) for v in rng.integers(0, 2**62, n)]
    ps = [GEN * k for k in a]
    qs = [p if i % 7 == 0 else (-p if i % 11 == 0 else GEN * (k + 3)) for i, (p, k) in enumerate(zip(ps, a))]
    ps[5] = G1.identity()
    ks = [int(v) * 2**190 % R for v in rng.integers(0, 2**62, n)]
    PV, QV = PointVec.from_points(ps), PointVec.from_points(qs)
    with zkdl.threads(threads):
        J = PV.to_jacobian()
        assert (J + QV.to_jacobian()).to_affine() == PointVec.from_points([p + q for p, q in zip(ps, qs)])
        assert J.double().double().to_affine() == PointVec.from_points([p * 4 for p in ps])
        assert J.scale(FrVec.from_ints(ks)).to_affine() == PointVec.from_points([p * k for p, k in zip(ps, ks)])
        assert PV - QV == PointVec.from_points([p - q for p, q in zip(ps, qs)])


def test_batched_shape_errors():
    J = PointVec.from_points([GEN, GEN]).to_jacobian()
    with pytest.raises(ShapeError, match="JacVec operands must have equal lengths"):
        J + PointVec.from_points([GEN]).to_jacobian()
    with pytest.raises(ShapeError, match="one scalar per point"):
        J.scale(FrVec.from_ints([1]))
    with pytest.raises(ShapeError, match="one scalar per point"):
        J.scale([1, 2])
    with pytest.raises(ShapeError, match=r"shape \(n, 18\)"):
        JacVec(np.zeros((2, 12), dtype=np.uint64))
    with pytest.raises(ShapeError, match=r"shape \(n, 12\)"):
        PointVec(np.zeros((2, 18), dtype=np.uint64))


@examples(0.25)
@given(st.lists(scalars, min_size=1, max_size=20))
def test_fixed_base_mul(ks):
    base = GEN * 987654321
    want = PointVec.from_points([base * k for k in ks])
    assert fixed_base_mul(base, FrVec.from_ints(ks)) == want
    assert fixed_base_mul(G1.identity(), FrVec.from_ints(ks)) == PointVec.identity(len(ks))


# ------------------------------------------------------------------ subgroup check (endomorphism)

from zkdl import _native  # noqa: E402

BLS_U = -0xD201000000010000


def test_beta_is_the_cube_root_matching_minus_u_squared():
    """G1_BETA (zk_g1.h) re-derived: phi(x, y) = (beta x, y) acts as [-u^2] on G1 for
    beta = 2^((p-1)/3) and not for the other primitive cube root of unity."""
    from py_ecc.optimized_bls12_381 import FQ

    beta = pow(2, (P - 1) // 3, P)
    assert beta != 1 and pow(beta, 3, P) == 1
    assert beta == 0x5F19672FDF76CE51BA69C6076A0F77EADDB3A93BE6F89688DE17D813620A00022E01FFFFFFFEFFFE
    gx, gy = py_affine(PY_G1)
    want = py_affine(multiply(PY_G1, (-BLS_U * BLS_U) % R))
    assert (gx * beta % P, gy) == want
    assert (gx * beta * beta % P, gy) != want
    # through zkdl: phi(G) == G * (-u^2)
    assert (GEN * (-(BLS_U**2))).to_affine() == (gx * beta % P, gy)


def _subgroup_flags(pts: PointVec, method: int) -> list[bool]:
    out = np.zeros(len(pts), dtype=np.uint8)
    _native.g1_subgroup_flags(out, pts.limbs, method)
    return [bool(v) for v in out]


@st.composite
def curve_points(draw):
    """A curve point in or out of G1: subgroup points GEN * k, or the point of a hash-to-curve x
    without cofactor clearing (decoded with subgroup_check=False), optionally times a small
    scalar or the cofactor, or (0, +-2) (order 3), or infinity."""
    kind = draw(st.sampled_from(["sub", "raw", "raw_mul", "raw_cleared", "order3", "inf"]))
    if kind == "sub":
        return GEN * draw(scalars)
    if kind == "inf":
        return G1.identity()
    if kind == "order3":
        return PointVec.from_bytes(enc_x(0, draw(st.sampled_from([0x80, 0xA0]))), subgroup_check=False)[0]
    x = x_from(draw(st.integers(1, P - 1)), square=True)
    p = PointVec.from_bytes(enc_x(x, draw(st.sampled_from([0x80, 0xA0]))), subgroup_check=False)[0]
    if kind == "raw_mul":  # Jacobian double-and-add by a small integer (no reduction issue below r)
        p = p * draw(st.integers(1, 2**20))
    if kind == "raw_cleared":  # h_eff clears the cofactor: lands in G1
        p = p * 0xD201000000010001
    return p


@examples(1.5)
@given(st.lists(curve_points(), min_size=1, max_size=6))
def test_endomorphism_subgroup_check_matches_r_times_p(pts):
    pv = PointVec.from_points(pts)
    fast, ref = _subgroup_flags(pv, 0), _subgroup_flags(pv, 1)
    assert fast == ref
    # the independent oracle: py_ecc [r] P == O
    for p, f in zip(pts, fast):
        aff = p.to_affine()
        if aff is None:
            assert f
            continue
        from py_ecc.fields import optimized_bls12_381_FQ as FQ
        pt = (FQ(aff[0]), FQ(aff[1]), FQ(1))
        assert is_on_curve(pt, PY_B)
        assert f == is_inf(multiply(pt, R))
    # g1_check / decoding agree with the flags
    for p, f in zip(pts, fast):
        one = PointVec.from_points([p])
        if f:
            one.validate()
            assert PointVec.from_bytes(one.to_bytes()) == one
        else:
            with pytest.raises(EncodingError, match="prime-order subgroup"):
                one.validate()
            with pytest.raises(EncodingError, match="prime-order subgroup"):
                PointVec.from_bytes(one.to_bytes())


@examples(0.5)
@given(st.integers(0, 2**256 - 1), st.integers(1, R - 1))
def test_wnaf_scalar_multiplication_full_width(k, a):
    """G1 * k reduces k mod r; JacVec.scale with the same scalar must agree with py_ecc, and with
    the unreduced 256-bit scalar of the hash-to-curve path (Python side: k mod r)."""
    base_py = py_mul(a)
    base = from_py(base_py)
    assert same(base * k, multiply(base_py, k % R))
    J = PointVec.from_points([base, G1.identity(), base]).to_jacobian()
    got = J.scale(FrVec.from_ints([k % R, k % R, 0])).to_affine()
    assert same(got[0], multiply(base_py, k % R)) and got[1].is_identity() and got[2].is_identity()


#: GLV: lambda = u^2 - 1 with psi = [lambda] on G1; scalars at the edges of the split
#: k = k1 + k2 lambda (k2 = k div lambda: 0, 1, lambda, lambda + 1; k1 = 0, lambda - 1)
GLV_LAMBDA = 0xAC45A4010001A40200000000FFFFFFFF
GLV_EDGES = [0, 1, 2, GLV_LAMBDA - 1, GLV_LAMBDA, GLV_LAMBDA + 1, 2 * GLV_LAMBDA - 1, GLV_LAMBDA ** 2,
             GLV_LAMBDA ** 2 + GLV_LAMBDA - 1, GLV_LAMBDA ** 2 + GLV_LAMBDA, R - 1, R - 2, R - GLV_LAMBDA]


def test_glv_lambda_is_the_endomorphism_eigenvalue():
    assert GLV_LAMBDA ** 2 + GLV_LAMBDA + 1 == R
    assert GLV_LAMBDA == 0xD201000000010000 ** 2 - 1


@examples(0.5)
@given(st.one_of(st.sampled_from(GLV_EDGES), st.integers(0, R - 1)), st.integers(1, R - 1))
def test_glv_scalar_multiplication_against_py_ecc(k, a):
    """mul_in_group / scale(in_group=True) (the GLV split k = k1 + k2 lambda, psi(P) = [lambda] P on
    G1) agree with py_ecc and with the plain wNAF path for points of G1."""
    base_py = py_mul(a)
    base = from_py(base_py)
    want = multiply(base_py, k % R)
    assert same(base.mul_in_group(k), want)
    J = PointVec.from_points([base, G1.identity(), base, GEN]).to_jacobian()
    ks = FrVec.from_ints([k, k, 0, k])
    assert J.scale(ks, in_group=True).to_affine() == J.scale(ks).to_affine()
    assert same(J.scale(ks, in_group=True).to_affine()[0], want)
