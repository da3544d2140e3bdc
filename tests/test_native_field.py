"""Fr vectors against galois, an independent implementation of the prime field."""
import galois
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import zkdl
from zkdl import FieldRangeError, FrVec, R_MODULUS, ShapeError

R = R_MODULUS
GF = galois.GF(R, primitive_element=7, verify=False)  # without these arguments galois factors r-1

EDGES = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 2**64 - 1, 2**64, 2**64 + 1,
         2**128 - 1, 2**128, 2**128 + 1, 2**192, (2**255 - 1) % R, 2**63, 2**32 - 1]
elements = st.one_of(st.sampled_from(EDGES), st.integers(0, R - 1))
vectors = st.lists(elements, min_size=1, max_size=24)


def gf(xs):
    return GF(np.array(xs, dtype=object))


def ints(a):
    return [int(v) for v in a]


@given(vectors)
def test_round_trip(xs):
    assert FrVec.from_ints(xs).to_ints() == xs
    assert FrVec.from_bytes(FrVec.from_ints(xs).to_bytes()).to_ints() == xs


@given(st.data())
def test_elementwise_ops_match_galois(data):
    n = data.draw(st.integers(1, 24))
    a = data.draw(st.lists(elements, min_size=n, max_size=n))
    b = data.draw(st.lists(elements, min_size=n, max_size=n))
    s = data.draw(elements)
    A, B = FrVec.from_ints(a), FrVec.from_ints(b)
    ga, gb, gs = gf(a), gf(b), GF(s)
    assert (A + B).to_ints() == ints(ga + gb)
    assert (A - B).to_ints() == ints(ga - gb)
    assert (A * B).to_ints() == ints(ga * gb)
    assert (-A).to_ints() == ints(-ga)
    assert A.square().to_ints() == ints(ga * ga)
    assert (A * s).to_ints() == ints(ga * gs) == (s * A).to_ints()
    assert (A + s).to_ints() == ints(ga + gs) == (s + A).to_ints()
    assert (A - s).to_ints() == ints(ga - gs)
    assert (s - A).to_ints() == ints(gs - ga)
    assert A.sum() == int(np.sum(ga))
    assert A.dot(B) == int(np.sum(ga * gb))


@given(st.lists(st.sampled_from(EDGES[1:]) | st.integers(1, R - 1), min_size=1, max_size=24))
def test_batch_inverse(xs):
    assert FrVec.from_ints(xs).inverse().to_ints() == ints(gf(xs) ** -1)


def test_inverse_of_zero_names_the_index():
    with pytest.raises(FieldRangeError, match="element 2 is zero"):
        FrVec.from_ints([3, 4, 0, 5]).inverse()


@given(elements, st.integers(0, 40))
def test_powers(x, n):
    want = [int(GF(x) ** i) for i in range(n)]
    assert FrVec.powers(x, n).to_ints() == want


@given(st.integers(1, 6), st.data())
def test_fold_and_eq_table(k, data):
    n = 1 << k
    a = data.draw(st.lists(elements, min_size=n, max_size=n))
    c = data.draw(elements)
    u = data.draw(st.lists(elements, min_size=k, max_size=k))
    ga = gf(a)
    h = n // 2
    assert FrVec.from_ints(a).fold(c).to_ints() == ints(ga[:h] + GF(c) * (ga[h:] - ga[:h]))
    table = FrVec.eq_table(u).to_ints()
    for i in range(n):
        e = GF(1)
        for j in range(k):
            bit = (i >> (k - 1 - j)) & 1  # u[0] is the most significant bit
            e = e * (GF(u[j]) if bit else GF(1) - GF(u[j]))
        assert table[i] == int(e)


def test_eq_table_zero_vars_and_odd_fold():
    assert FrVec.eq_table([]).to_ints() == [1]
    with pytest.raises(ShapeError, match="odd"):
        FrVec.from_ints([1, 2, 3]).fold(5)


int64s = st.one_of(st.sampled_from([-(2**63), 2**63 - 1, -1, 0, 1, -(2**31), 2**31]),
                   st.integers(-(2**63), 2**63 - 1))


@given(st.lists(int64s, min_size=1, max_size=30))
def test_int64_conversions(xs):
    v = FrVec.from_int64(np.array(xs, dtype=np.int64))
    assert v.to_ints() == [x % R for x in xs]
    assert v.to_int64().tolist() == xs


def test_to_int64_overflow_is_named():
    v = FrVec.from_ints([5, 2**63, 7])
    with pytest.raises(FieldRangeError, match="element 1"):
        v.to_int64()
    small = FrVec.from_int64(np.array([3, -40000, 2]))
    assert small.to_int64(bound_bits=16).tolist() == [3, -40000, 2]
    with pytest.raises(FieldRangeError, match="element 1"):
        small.to_int64(bound_bits=15)


def test_strict_decoding_and_shapes():
    with pytest.raises(FieldRangeError, match="not a canonical"):
        FrVec.from_bytes(R.to_bytes(32, "little"))
    with pytest.raises(FieldRangeError, match="element 1"):
        FrVec.from_canonical_limbs(np.array([[1, 0, 0, 0], [2**64 - 1] * 4], dtype=np.uint64))
    with pytest.raises(ShapeError, match="expected a multiple of 32"):
        FrVec.from_bytes(b"\0" * 33)
    with pytest.raises(ShapeError, match="length mismatch"):
        FrVec.from_ints([1, 2]) + FrVec.from_ints([1])
    with pytest.raises(ShapeError):
        FrVec(np.zeros((3, 3), dtype=np.uint64))
    with pytest.raises(ShapeError, match="integer array"):
        FrVec.from_int64(np.array([1.5]))
    with pytest.raises(zkdl.ZkdlError):
        FrVec.from_ints(["7"])


@pytest.mark.parametrize("threads", [1, 2])
def test_large_vectors_use_parallel_kernels(threads):
    n = 20000  # above the 8192-element threshold of the parallel kernels
    rng = np.random.default_rng(threads)
    a = [int(x) for x in rng.integers(0, 2**62, n)]
    b = [int(x) * (2**190) % R for x in rng.integers(1, 2**62, n)]
    A, B = FrVec.from_ints(a), FrVec.from_ints(b)
    ga, gb = gf(a), gf(b)
    with zkdl.threads(threads):
        assert (A * B).to_ints() == ints(ga * gb)
        assert (A - B).to_ints() == ints(ga - gb)
        assert A.dot(B) == int(np.sum(ga * gb))
        assert A.fold(3).to_ints() == ints(ga[: n // 2] + GF(3) * (ga[n // 2 :] - ga[: n // 2]))
        u = [int(x) for x in rng.integers(0, 2**62, 15)]
        table = FrVec.eq_table(u)
        assert table.sum() == 1  # eq(u, .) sums to one over the hypercube
        assert table[12345] == _eq_entry(u, 12345)


def _eq_entry(u, i):
    k = len(u)
    e = GF(1)
    for j in range(k):
        e = e * (GF(u[j]) if (i >> (k - 1 - j)) & 1 else GF(1) - GF(u[j]))
    return int(e)


@settings(max_examples=10)
@given(st.integers(1, 5))
def test_random_is_uniform_looking_and_canonical(n):
    v = FrVec.random(64 * n)
    xs = v.to_ints()
    assert all(0 <= x < R for x in xs)
    assert len(set(xs)) == len(xs)
