"""FrVec (zkdl.field) against galois, an independent implementation of the prime field Fr.

Every operation of the native core is compared with galois on hypothesis-drawn vectors whose
elements are biased towards edge values (0, 1, r-1, (r+-1)/2, limb boundaries, values whose
Montgomery form is an edge), plus one large non-hypothesis test per thread count that reaches the
multi-threaded kernel paths (8192-element threshold).
"""
from __future__ import annotations

import galois
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import zkdl
from zkdl import FieldRangeError, FrVec, ShapeError, ZkdlError

R = zkdl.R_MODULUS
# primitive_element and verify=False: without them galois spends ~100 s factoring r - 1
GF = galois.GF(R, primitive_element=7, verify=False)

_MONT_INV = pow(2**256, -1, R)  # x * _MONT_INV has Montgomery form x (mod r)
EDGES = [
    0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, (R - 1) // 2 - 1, (R + 1) // 2 + 1,
    2**32 - 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**64 + 1, 2**128 - 1, 2**128, 2**128 + 1,
    2**192 - 1, 2**192, (2**255 - 1) % R, 2**254, R - 2**64, R - 2**128,
    # values whose Montgomery representation is 1, r - 1, 2^64 - 1, 2^255 mod r
    _MONT_INV, (R - 1) * _MONT_INV % R, (2**64 - 1) * _MONT_INV % R, 2**255 % R * _MONT_INV % R,
]
assert all(0 <= e < R for e in EDGES)

elements = st.one_of(st.sampled_from(EDGES), st.integers(0, R - 1))
nonzero = elements.filter(bool)
# scalars of the int API: any Python int (negative, >= r), reduced mod r by zkdl
any_ints = st.one_of(elements, st.integers(-(2**300), 2**300),
                     st.sampled_from([-1, -2, -R, R, R + 1, 2 * R - 1, -(2**63), -(R - 1), 2**256]))

INT64_EDGES = [-(2**63), -(2**63) + 1, 2**63 - 1, 2**63 - 2, -1, 0, 1, -(2**31), 2**31, 2**32 - 1,
               -(2**32)]
int64s = st.one_of(st.sampled_from(INT64_EDGES), st.integers(-(2**63), 2**63 - 1))


def vectors(min_size=1, max_size=24, elem=elements):
    return st.lists(elem, min_size=min_size, max_size=max_size)


def gf(xs):
    return GF(np.array([x % R for x in xs], dtype=object))


def ints(a) -> list[int]:
    return [int(v) for v in np.atleast_1d(a).tolist()]


def le32(xs) -> bytes:
    return b"".join(x.to_bytes(32, "little") for x in xs)


def eq_oracle(u: list[int]) -> list[int]:
    """eq(u, x) for every index i (u[0] = most significant bit), vectorised over galois arrays."""
    k = len(u)
    idx = np.arange(1 << k)
    out = GF(np.ones(1 << k, dtype=object))
    for j, uj in enumerate(u):
        bit = (idx >> (k - 1 - j)) & 1
        choice = np.array([int(GF(1) - GF(uj % R)), uj % R], dtype=object)  # bit 0, bit 1
        out = out * GF(choice[bit])
    return ints(out)


# ------------------------------------------------------------------ conversions


@given(st.lists(any_ints, min_size=0, max_size=24))
def test_from_ints_reduces_and_round_trips(xs):
    v = FrVec.from_ints(xs)
    want = [x % R for x in xs]
    assert len(v) == len(xs)
    assert v.to_ints() == want
    assert list(v) == want
    for i in range(len(xs)):
        assert v[i] == want[i]
        assert v[i - len(xs)] == want[i]  # negative indices
    # the same values given as numpy integers
    small = [x for x in xs if -(2**63) <= x < 2**63]
    assert FrVec.from_ints(np.array(small, dtype=np.int64)).to_ints() == [x % R for x in small]


@given(vectors(min_size=0))
def test_bytes_and_limbs_round_trip(xs):
    v = FrVec.from_ints(xs)
    enc = v.to_bytes()
    assert enc == le32(xs)  # 32-byte little-endian canonical values, concatenated
    assert FrVec.from_bytes(enc) == v
    assert FrVec.from_bytes(enc, n=len(xs)) == v
    limbs = v.canonical_limbs()
    assert limbs.dtype == np.uint64 and limbs.shape == (len(xs), 4)
    assert [sum(int(l) << (64 * j) for j, l in enumerate(row)) for row in limbs] == xs
    assert FrVec.from_canonical_limbs(limbs) == v
    assert FrVec(v.limbs.copy()) == v and v.copy() == v


@given(vectors(), st.data())
def test_getitem_setitem_slices_concat(xs, data):
    v = FrVec.from_ints(xs)
    i = data.draw(st.integers(0, len(xs) - 1))
    val = data.draw(any_ints)
    w = v.copy()
    w[i] = val
    want = list(xs)
    want[i] = val % R
    assert w.to_ints() == want
    assert v.to_ints() == xs  # copy is independent
    assert v[1:].to_ints() == xs[1:] and v[::2].to_ints() == xs[::2]
    assert FrVec.concat([v[:i], v[i:]]) == v
    with pytest.raises(IndexError, match="out of range"):
        v[len(xs)]


@given(vectors(), st.data())
def test_from_bytes_rejects_non_canonical(xs, data):
    i = data.draw(st.integers(0, len(xs) - 1))
    bad = data.draw(st.one_of(st.sampled_from([R, R + 1, 2**256 - 1, 2**255, R + 2**64]),
                              st.integers(R, 2**256 - 1)))
    enc = bytearray(le32(xs))
    enc[32 * i : 32 * i + 32] = bad.to_bytes(32, "little")
    with pytest.raises(FieldRangeError, match=rf"element {i} is not a canonical Fr value"):
        FrVec.from_bytes(bytes(enc))
    limbs = np.frombuffer(bytes(enc), dtype="<u8").reshape(-1, 4).astype(np.uint64)
    with pytest.raises(FieldRangeError, match=rf"element {i} is not a canonical"):
        FrVec.from_canonical_limbs(limbs)
    # a second bad value after the first: the first one is named
    if i + 1 < len(xs):
        enc[32 * (i + 1) : 32 * (i + 2)] = (2**256 - 1).to_bytes(32, "little")
        with pytest.raises(FieldRangeError, match=rf"element {i} is not"):
            FrVec.from_bytes(bytes(enc))


@given(st.integers(0, 200).filter(lambda k: k % 32), st.integers(0, 5))
def test_from_bytes_wrong_lengths(nbytes, n):
    with pytest.raises(ShapeError, match=rf"{nbytes} bytes, expected a multiple of 32"):
        FrVec.from_bytes(b"\x01" * nbytes)
    good = le32([7] * n)
    for m in (n + 1, n + 2):
        with pytest.raises(ShapeError, match=rf"{32 * n} bytes, expected {32 * m}"):
            FrVec.from_bytes(good, n=m)
    assert FrVec.from_bytes(good, n=n).to_ints() == [7] * n


def test_shape_errors_of_constructors():
    with pytest.raises(ShapeError, match=r"shape \(n, 4\)"):
        FrVec(np.zeros((3, 3), dtype=np.uint64))
    with pytest.raises(ShapeError, match=r"shape \(n, 4\)"):
        FrVec(np.zeros((3, 4), dtype=np.int64))
    with pytest.raises(ShapeError, match=r"canonical limbs must be a uint64 array"):
        FrVec.from_canonical_limbs(np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ShapeError, match=r"canonical limbs must be a uint64 array"):
        FrVec.from_canonical_limbs(np.zeros(8, dtype=np.uint64))
    with pytest.raises(ShapeError, match="integer array"):
        FrVec.from_int64(np.array([1.5, 2.0]))
    with pytest.raises(ZkdlError, match="expected integers, got str"):
        FrVec.from_ints([1, "7"])
    with pytest.raises(ShapeError, match="non-negative integer"):
        FrVec.zeros(-1)
    assert FrVec.zeros(3).to_ints() == [0, 0, 0]
    assert FrVec.ones(2).to_ints() == [1, 1]
    assert FrVec.full(2, -1).to_ints() == [R - 1, R - 1]


# ------------------------------------------------------------------ int64


@given(st.lists(int64s, min_size=0, max_size=40))
def test_int64_round_trip(xs):
    arr = np.array(xs, dtype=np.int64)
    v = FrVec.from_int64(arr)
    assert v.to_ints() == [x % R for x in xs]
    assert v == FrVec.from_ints(xs)
    out = v.to_int64()
    assert out.dtype == np.int64 and out.tolist() == xs


@given(st.lists(st.integers(-128, 127), min_size=1, max_size=12),
       st.sampled_from([np.int8, np.int16, np.int32, np.int64]))
def test_from_int64_other_dtypes_and_shapes(xs, dtype):
    if len(xs) % 2:
        xs = xs + [0]
    arr = np.array(xs, dtype=dtype).reshape(2, -1)  # 2-D: flattened in C order
    assert FrVec.from_int64(arr).to_ints() == [x % R for x in xs]
    assert FrVec.from_int64(arr.T).to_ints() == [x % R for x in arr.T.reshape(-1).tolist()]
    u = np.abs(np.array(xs, dtype=np.int64)).astype(np.uint64)
    assert FrVec.from_int64(u).to_ints() == [abs(x) for x in xs]
    assert FrVec.from_int64(np.array(xs) > 0).to_ints() == [int(x > 0) for x in xs]


def test_from_int64_rejects_large_unsigned():
    ok = np.array([0, 2**63 - 1], dtype=np.uint64)
    assert FrVec.from_int64(ok).to_ints() == [0, 2**63 - 1]
    for big in (2**63, 2**64 - 1):
        with pytest.raises(FieldRangeError, match="unsigned value does not fit in int64"):
            FrVec.from_int64(np.array([1, big], dtype=np.uint64))


def _centred(x: int) -> int:
    x %= R
    return x - R if x > (R - 1) // 2 else x


def _bound_values(b: int):
    lo, hi = -(1 << b), (1 << b) - 1
    return st.one_of(st.sampled_from([lo, hi, lo - 1, hi + 1, lo + 1, hi - 1, 0, -1, 2**63,
                                      -(2**63) - 1, (R - 1) // 2, (R + 1) // 2, R - 1]),
                     st.integers(lo - 3, hi + 3), st.integers(-(2**64), 2**64), elements)


@given(st.integers(0, 63).flatmap(lambda b: st.tuples(st.just(b), st.lists(_bound_values(b),
                                                                             min_size=1, max_size=8))))
def test_to_int64_bound_bits(case):
    """Centred lift; the first element outside [-2^b, 2^b) is named."""
    b, xs = case
    v = FrVec.from_ints(xs)
    cs = [_centred(x) for x in xs]
    bad = [i for i, c in enumerate(cs) if not -(1 << b) <= c < (1 << b)]
    if bad:
        with pytest.raises(FieldRangeError, match=rf"element {bad[0]} does not fit in a signed "
                                                   rf"{b + 1}-bit integer \(centred value {cs[bad[0]]}\)"):
            v.to_int64(bound_bits=b)
    else:
        assert v.to_int64(bound_bits=b).tolist() == cs


def test_to_int64_edges_and_argument_errors():
    assert FrVec.from_ints([-(2**63), 2**63 - 1]).to_int64().tolist() == [-(2**63), 2**63 - 1]
    for x, i in ((2**63, 0), (-(2**63) - 1, 0), ((R - 1) // 2, 0), ((R + 1) // 2, 0)):
        with pytest.raises(FieldRangeError, match=rf"element {i} does not fit in a signed 64-bit"):
            FrVec.from_ints([x, 1]).to_int64()
    with pytest.raises(FieldRangeError, match="element 2 does not fit in a signed 1-bit"):
        FrVec.from_ints([0, -1, 1]).to_int64(bound_bits=0)
    for b in (-1, 64, 100):
        with pytest.raises(ZkdlError, match=r"bound_bits must be in \[0, 63\]"):
            FrVec.from_ints([1]).to_int64(bound_bits=b)
    assert FrVec.zeros(0).to_int64().tolist() == []


# ------------------------------------------------------------------ arithmetic


@given(st.data())
def test_elementwise_ops(data):
    n = data.draw(st.integers(1, 24))
    a = data.draw(vectors(n, n))
    b = data.draw(vectors(n, n))
    A, B = FrVec.from_ints(a), FrVec.from_ints(b)
    ga, gb = gf(a), gf(b)
    assert (A + B).to_ints() == ints(ga + gb)
    assert (A - B).to_ints() == ints(ga - gb)
    assert (B - A).to_ints() == ints(gb - ga)
    assert (A * B).to_ints() == ints(ga * gb)
    assert (-A).to_ints() == ints(-ga)
    assert A.square().to_ints() == ints(ga * ga)
    if n % 2 == 0:
        assert A.half_sum().to_ints() == ints(ga[: n // 2] + ga[n // 2 :])
    # operands are left untouched
    assert A.to_ints() == a and B.to_ints() == b


@given(vectors(), any_ints)
def test_scalar_ops_either_side(a, s):
    A, ga, gs = FrVec.from_ints(a), gf(a), GF(s % R)
    assert (A * s).to_ints() == ints(ga * gs)
    assert (s * A).to_ints() == ints(ga * gs)
    assert (A + s).to_ints() == ints(ga + gs)
    assert (s + A).to_ints() == ints(ga + gs)
    assert (A - s).to_ints() == ints(ga - gs)
    assert (s - A).to_ints() == ints(gs - ga)
    if -(2**63) <= s < 2**63:  # numpy integer scalars on the right
        assert (A * np.int64(s)).to_ints() == ints(ga * gs)
        assert (A + np.int64(s)).to_ints() == ints(ga + gs)
        assert (A - np.int64(s)).to_ints() == ints(ga - gs)


@given(vectors(min_size=0, max_size=40), st.data())
def test_sum_and_dot(a, data):
    b = data.draw(vectors(len(a), len(a)))
    A, B = FrVec.from_ints(a), FrVec.from_ints(b)
    assert A.sum() == sum(a) % R
    assert A.dot(B) == sum(x * y for x, y in zip(a, b)) % R
    if a:
        assert A.sum() == int(np.sum(gf(a)))
        assert A.dot(B) == int(np.sum(gf(a) * gf(b)))


@given(vectors(min_size=0, max_size=40), st.data())
def test_integer_kernels_against_galois(a, data):
    """dot_int64, add_scaled_int64 and const_minus_int64 (products with one 64-bit integer: exact
    accumulation, one reduction round) agree with galois for int64 values at the edges, negative
    ones included."""
    x = data.draw(st.lists(int64s, min_size=len(a), max_size=len(a)))
    s = data.draw(any_ints)
    A, X = FrVec.from_ints(a), np.array(x, dtype=np.int64)
    assert A.dot_int64(X) == (int(np.sum(gf(a) * gf(x))) if a else 0)
    out = A.copy().add_scaled_int64(X, s)
    assert out.to_ints() == (ints(gf(a) + gf(x) * GF(s % R)) if a else [])
    assert FrVec.const_minus_int64(s, X).to_ints() == (ints(GF(s % R) - gf(x)) if x else [])


@pytest.mark.parametrize("n", [4097, 1 << 15])
def test_integer_kernels_on_threads_at_the_extremes(n):
    """The same kernels below and above the threaded path's length (PAR_MIN 8192), with the largest
    magnitudes (every x = -2^63 or 2^63 - 1, elements r - 1: the exact sums carry through all six
    accumulator limbs) and random ones, against Python integers; from_int64 too."""
    rng = np.random.default_rng(n)
    for x in (np.full(n, np.iinfo(np.int64).min, dtype=np.int64), np.full(n, np.iinfo(np.int64).max, dtype=np.int64),
              rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=n, dtype=np.int64)):
        for a in ([R - 1] * n, [int(v) for v in rng.integers(0, 2**62, size=n)]):
            A, xs = FrVec.from_ints(a), [int(v) for v in x]
            assert A.dot_int64(x) == sum(p * q for p, q in zip(a, xs)) % R
            assert A.copy().add_scaled_int64(x, R - 2).to_ints() == [(p + (R - 2) * q) % R for p, q in zip(a, xs)]
        assert FrVec.from_int64(x).to_ints() == [q % R for q in xs]
        assert FrVec.const_minus_int64(R - 1, x).to_ints() == [(R - 1 - q) % R for q in xs]


def test_integer_kernels_reject_other_arrays():
    A = FrVec.from_ints([1, 2, 3])
    for bad in (np.zeros(2, dtype=np.int64), np.zeros(3, dtype=np.int32), np.zeros((3, 1), dtype=np.int64)):
        with pytest.raises(ShapeError, match="1-D int64 array of length 3"):
            A.dot_int64(bad)
        with pytest.raises(ShapeError, match="1-D int64 array of length 3"):
            A.add_scaled_int64(bad, 5)
    for bad in (np.zeros(3, dtype=np.int32), np.zeros((3, 1), dtype=np.int64)):
        with pytest.raises(ShapeError, match="1-D int64 array"):
            FrVec.const_minus_int64(5, bad)


def test_binary_shape_errors():
    a, b = FrVec.from_ints([1, 2]), FrVec.from_ints([1])
    for op in (lambda: a + b, lambda: a - b, lambda: a * b):
        with pytest.raises(ShapeError, match="length mismatch: 2 vs 1"):
            op()
    with pytest.raises(ShapeError, match="equal length"):
        a.dot(b)
    with pytest.raises(ShapeError, match="equal length"):
        a.dot([1, 2])
    with pytest.raises(TypeError):
        a + 1.5
    with pytest.raises(ZkdlError, match="expected an integer scalar"):
        a.fold(1.5)


@given(vectors(elem=nonzero, max_size=32))
def test_batch_inverse(a):
    inv = FrVec.from_ints(a).inverse()
    assert inv.to_ints() == ints(gf(a) ** -1)
    assert inv.to_ints() == [pow(x, -1, R) for x in a]


@given(vectors(elem=nonzero, max_size=20), st.lists(st.integers(0, 20), min_size=1, max_size=3))
def test_inverse_of_zero_names_the_first_zero(a, positions):
    xs = list(a)
    for p in sorted(positions):
        xs.insert(min(p, len(xs)), 0)
    first = xs.index(0)
    with pytest.raises(FieldRangeError, match=rf"inverse: element {first} is zero"):
        FrVec.from_ints(xs).inverse()


@given(any_ints, st.integers(0, 40))
def test_powers(x, n):
    want = ints(GF(x % R) ** np.arange(n)) if n else []
    assert FrVec.powers(x, n).to_ints() == want
    assert want == [pow(x, i, R) for i in range(n)]


@given(st.integers(0, 6), st.data())
def test_fold(k, data):
    n = 2 << k
    a = data.draw(vectors(n, n))
    c = data.draw(any_ints)
    ga, h = gf(a), n // 2
    want = ints(ga[:h] + GF(c % R) * (ga[h:] - ga[:h]))
    assert FrVec.from_ints(a).fold(c).to_ints() == want
    # folding at 0 and 1 selects the halves
    assert FrVec.from_ints(a).fold(0).to_ints() == a[:h]
    assert FrVec.from_ints(a).fold(1).to_ints() == a[h:]


@given(st.integers(1, 6), st.integers(1, 5), st.data())
def test_rows_dot_and_fix_trailing(rows, k, data):
    """rows_dot (native fr_inner_rows, threaded from 8192 products) against galois'
    matrix-vector product; fix_trailing (which uses it) against the MLE at the joined point."""
    from zkdl.mle import evaluate, fix_trailing

    m = 1 << k
    a = data.draw(vectors(rows * m, rows * m))
    b = data.draw(vectors(m, m))
    want = ints(gf(a).reshape(rows, m) @ gf(b))
    assert FrVec.from_ints(a).rows_dot(FrVec.from_ints(b)).to_ints() == want
    big = FrVec.from_ints(a * (8192 // len(a) + 1))[:(8192 // m + 1) * m]
    assert big.rows_dot(FrVec.from_ints(b)).to_ints() == ints(
        gf(big.to_ints()).reshape(-1, m) @ gf(b))
    lead = data.draw(vectors(0, 3))
    table = FrVec.from_ints(data.draw(vectors(m << len(lead), m << len(lead))))
    trail = data.draw(vectors(k, k))
    assert evaluate(fix_trailing(table, trail), lead) == evaluate(table, lead + trail)
    with pytest.raises(ShapeError, match="rows_dot"):
        FrVec.ones(3).rows_dot(FrVec.ones(2))


@given(st.integers(1, 4), st.integers(0, 4), st.integers(1, 5), st.data())
def test_mid_dot_and_fix_middle(outer, k, inner, data):
    """mid_dot (native fr_inner_mid) against galois' contraction over the middle axis, also at a
    size past its threading threshold; fix_middle against the MLE at the joined point; the matmul
    circuits' _bind_axis against binding the moved-to-front axis by folds."""
    from zkdl.circuits.matmul import _bind_axis
    from zkdl.mle import evaluate, fix_leading, fix_middle

    m = 1 << k
    n = outer * m * inner
    a = data.draw(vectors(n, n))
    b = data.draw(vectors(m, m))
    def contract(vals, rows):
        t3 = gf(vals).reshape(rows, m, inner)
        return [x for i in range(rows) for x in ints(gf(b) @ t3[i])]

    want = contract(a, outer)
    assert FrVec.from_ints(a).mid_dot(FrVec.from_ints(b), inner).to_ints() == want
    reps = 8192 // n + 1
    big = FrVec.from_ints(a * reps)
    assert big.mid_dot(FrVec.from_ints(b), inner).to_ints() == contract(big.to_ints(), outer * reps)
    # binding the middle variables: the MLE of the result at (x, z) is the table's at (x, y, z)
    ao, ai = (outer - 1).bit_length(), (inner - 1).bit_length()
    dims = (1 << ao, m, 1 << ai)
    table = FrVec.from_ints(data.draw(vectors(dims[0] * m * dims[2], dims[0] * m * dims[2])))
    x, y, z = data.draw(vectors(ao, ao)), data.draw(vectors(k, k)), data.draw(vectors(ai, ai))
    assert evaluate(fix_middle(table, dims, y), x + z) == evaluate(table, x + y + z)
    moved = FrVec(table.limbs[np.arange(len(table)).reshape(dims).transpose(1, 0, 2).reshape(-1)])
    assert _bind_axis(table, dims, 1, y).to_ints() == fix_leading(moved, y).to_ints()
    with pytest.raises(ShapeError, match="mid_dot"):
        FrVec.ones(6).mid_dot(FrVec.ones(2), 4)
    with pytest.raises(ShapeError, match="fix_middle"):
        fix_middle(table, (dims[0], 2 * m, dims[2]), y)


@given(st.integers(1, 40), st.data())
def test_zero_where_is_the_product_by_a_mask(n, data):
    """zero_where (the openings' masked weight tables) equals the product by the 0/1 mask."""
    a = data.draw(vectors(n, n))
    keep = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    mask = np.array(keep, dtype=np.int64)
    v = FrVec.from_ints(a)
    assert v.zero_where(mask == 0) is v
    assert v.to_ints() == (FrVec.from_ints(a) * FrVec.from_int64(mask)).to_ints()
    with pytest.raises(ShapeError, match="zero_where"):
        v.zero_where(mask)
    with pytest.raises(ShapeError, match="zero_where"):
        v.zero_where(np.zeros(n + 1, dtype=bool))


@given(st.integers(0, 12).map(lambda h: 2 * h + 1))
def test_fold_and_half_sum_of_odd_length(n):
    with pytest.raises(ShapeError, match=rf"fold: length {n} is odd"):
        FrVec.zeros(n).fold(3)
    with pytest.raises(ShapeError, match=rf"half_sum: length {n} is odd"):
        FrVec.zeros(n).half_sum()


@given(vectors(min_size=0, max_size=7))
def test_eq_table(u):
    k = len(u)
    table = FrVec.eq_table(u)
    want = eq_oracle(u)
    assert table.to_ints() == want
    # the definition, entry by entry, for a few entries
    for i in {0, (1 << k) - 1, (1 << k) // 3}:
        e = GF(1)
        for j in range(k):
            e = e * (GF(u[j]) if (i >> (k - 1 - j)) & 1 else GF(1) - GF(u[j]))
        assert table[i] == int(e)
    assert FrVec.eq_table(FrVec.from_ints(u)) == table  # FrVec argument
    assert table.sum() == 1


def test_eq_table_too_many_variables():
    with pytest.raises(ShapeError, match="41 variables is too many"):
        FrVec.eq_table([0] * 41)


# ------------------------------------------------------------------ large vectors: threaded kernels


def _rand_fr(rng, n) -> list[int]:
    raw = rng.bytes(40 * n)
    return [int.from_bytes(raw[40 * i : 40 * i + 40], "little") % R for i in range(n)]


@pytest.mark.parametrize("threads", [1, 2])
def test_large_vectors_threaded(threads):
    n = 20000  # above the 8192-element threshold of the parallel kernels
    rng = np.random.default_rng(1234)
    a = _rand_fr(rng, n)
    b = _rand_fr(rng, n)
    # edge values sprinkled in (both halves, so both threads see them)
    for j, e in enumerate(EDGES):
        a[7 * j] = e
        b[n - 1 - 5 * j] = e
    a[n // 2 + 1] = R - 1
    b[n // 2 + 1] = R - 1
    A, B = FrVec.from_ints(a), FrVec.from_ints(b)
    ga, gb = gf(a), gf(b)
    s = 2**200 + 12345
    h = n // 2
    with zkdl.threads(threads):
        assert zkdl.get_num_threads() == threads
        assert (A + B).to_ints() == ints(ga + gb)
        assert (A - B).to_ints() == ints(ga - gb)
        assert (A * B).to_ints() == ints(ga * gb)
        assert (-A).to_ints() == ints(-ga)
        assert A.square().to_ints() == ints(ga * ga)
        assert (A * s).to_ints() == ints(ga * GF(s))
        assert (A + s).to_ints() == ints(ga + GF(s))
        assert A.sum() == int(np.sum(ga))
        assert A.dot(B) == int(np.sum(ga * gb))
        assert A.fold(s).to_ints() == ints(ga[:h] + GF(s) * (ga[h:] - ga[:h]))
        assert A.half_sum().to_ints() == ints(ga[:h] + ga[h:])
        nz = [x or 1 for x in a]
        assert FrVec.from_ints(nz).inverse().to_ints() == [pow(x, -1, R) for x in nz]
        assert FrVec.from_bytes(A.to_bytes()) == A
        i64 = rng.integers(-(2**63), 2**63 - 1, n, endpoint=True)
        i64[:4] = [-(2**63), 2**63 - 1, -1, 0]
        v = FrVec.from_int64(i64)
        assert v.to_ints() == [int(x) % R for x in i64]
        assert np.array_equal(v.to_int64(), i64)
        u = _rand_fr(rng, 15)  # 2^15 entries: the last passes double tables of >= 8192 entries
        table = FrVec.eq_table(u)
        assert table.to_ints() == eq_oracle(u)
        assert FrVec.powers(s, n).to_ints()[-3:] == [pow(s, i, R) for i in range(n - 3, n)]


def test_large_results_identical_across_thread_counts():
    rng = np.random.default_rng(99)
    n = 3 * 8192 + 6  # even (fold), halves above the threshold too
    A, B = FrVec.from_ints(_rand_fr(rng, n)), FrVec.from_ints(_rand_fr(rng, n))
    results = []
    for t in (1, 2):
        with zkdl.threads(t):
            results.append(((A * B).limbs.copy(), (A + B).limbs.copy(), A.dot(B), A.sum(),
                            A.fold(5).limbs.copy(), FrVec.eq_table(_rand_fr(np.random.default_rng(5), 14)).limbs))
    for x, y in zip(*results):
        assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y


def test_threads_context_manager_restores():
    before = zkdl.get_num_threads()
    with zkdl.threads(1):
        assert zkdl.get_num_threads() == 1
    assert zkdl.get_num_threads() == before
    with pytest.raises(ZkdlError, match=r"thread count must be an integer in \[1, 64\]"):
        zkdl.set_num_threads(0)
    with pytest.raises(ZkdlError, match="thread count"):
        with zkdl.threads(65):
            pass
    assert zkdl.get_num_threads() == before


def test_numpy_scalar_on_the_left_defers_to_frvec():
    """np.int64(3) * v must be an FrVec reduced mod r, not a numpy object array."""
    a = FrVec.from_ints([R - 1, 5])
    for op, want in ((lambda x: np.int64(3) * x, [(3 * (R - 1)) % R, 15]),
                     (lambda x: np.int64(3) - x, [4, (3 - 5) % R]),
                     (lambda x: np.uint8(2) + x, [1, 7])):
        got = op(a)
        assert isinstance(got, FrVec) and got.to_ints() == want


def test_allocator_setting_is_the_provers_only():
    """zkdl.memory.tune_allocator: on by default in a prover process (glibc), off with
    ZKDL_MALLOC=system, never applied by the verifier."""
    import os
    import platform
    import subprocess
    import sys

    code = "import sys, zkdl.{m}; print('zkdl.memory' in sys.modules and sys.modules['zkdl.memory']._done)"
    run = lambda mod, **env: subprocess.run([sys.executable, "-c", code.format(m=mod)], capture_output=True,  # noqa: E731
                                            text=True, env={**os.environ, **env}, check=True).stdout.strip()
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert run("circuits.prover") == str(glibc)
    assert run("circuits.prover", ZKDL_MALLOC="system") == "False"
    assert run("verifier") == "False"


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40), st.integers(0, 6), st.integers(0, R - 1))
def test_repeat_each_tile_and_full_agree_with_numpy(n, k, value):
    v = FrVec.random(n)
    assert v.repeat_each(k) == FrVec(np.repeat(v.limbs, k, axis=0))
    assert v.tile(k) == FrVec(np.tile(v.limbs, (k, 1)))
    assert FrVec.full(k, value) == FrVec.from_ints([value] * k)
