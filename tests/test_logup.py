"""logUp range check with a GKR fractional sumcheck (zkdl/logup.py)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from zkdl import logup, mle
from zkdl.codec import ProofFormatError, Reader, Writer
from zkdl.errors import FieldRangeError, ShapeError, VerificationError
from zkdl.field import R_MODULUS, FrVec
from zkdl.pedersen import PedersenKey, random_scalar
from zkdl.sumcheck import ZkSumcheckProof
from zkdl.transcript import Transcript

KEY = PedersenKey("tests/logup", 1)
T_BITS = logup.TABLE_BITS
N_TABLE = 1 << T_BITS


def _prove(vals, m=None, k=None, label="t"):
    """Prove with the module's prover; vals may contain out-of-range entries (cheating)."""
    vals = np.asarray(vals, dtype=np.int64)
    k = int(np.log2(len(vals))) if k is None else k
    if m is None:
        m = logup.multiplicities(vals, k)
    v, mm = FrVec.from_int64(vals), FrVec.from_int64(np.asarray(m, dtype=np.int64))
    return (v, mm) + logup.prove(KEY, Transcript(label), v, mm)


def _check_outputs(v, m, k, proof, x_v, v_open, x_m, m_open):
    xv2, com_v, xm2, com_m = logup.verify(KEY, Transcript("t"), k, proof)
    assert xv2 == x_v and xm2 == x_m
    assert len(x_v) == k and len(x_m) == T_BITS
    assert v_open[0] == mle.evaluate(v, x_v) and com_v == KEY.commit_scalar(*v_open)
    assert m_open[0] == mle.evaluate(m, x_m) and com_m == KEY.commit_scalar(*m_open)


@pytest.fixture(scope="module")
def honest():
    rng = np.random.default_rng(1)
    vals = rng.integers(0, N_TABLE, size=8)
    vals[0], vals[1] = 0, N_TABLE - 1
    v, m, proof, x_v, v_open, x_m, m_open = _prove(vals)
    return vals, v, m, proof, x_v, v_open, x_m, m_open


# ------------------------------------------------------------------ completeness


@pytest.mark.parametrize("k", [0, 3, 8, 17])
def test_completeness_and_claims_open_to_mles(k):
    rng = np.random.default_rng(k)
    vals = rng.integers(0, N_TABLE, size=1 << k)
    v, m, proof, x_v, v_open, x_m, m_open = _prove(vals)
    _check_outputs(v, m, k, proof, x_v, v_open, x_m, m_open)
    pts, scs = logup.proof_size_points(k)
    w = Writer()
    proof.write(w)
    # u32 counts: the roots' length; per tree the layer count and per layer the round count, one
    # per round, the factor and the product lists
    n_counts = 1 + sum(1 + sum(3 + j for j in range(n)) for n in (k, T_BITS))
    assert len(w.getvalue()) == 48 * pts + 32 * scs + 4 * n_counts


@pytest.mark.parametrize("k", [0, 1, 5])
def test_integer_witness_gives_the_same_proof(k):
    """v given as int64 (leaves computed from the integers and recomputed for the last layer)
    proves exactly what the FrVec witness proves: with the same randomness, the same bytes."""
    from zkdl import randomness

    vals = np.random.default_rng(k).integers(0, N_TABLE, size=1 << k)
    mm = FrVec.from_int64(logup.multiplicities(vals, k))
    outs = []
    for v in (FrVec.from_int64(vals), vals.astype(np.int64)):
        with randomness.derived(b"0123456789abcdef", "logup-test"):
            proof, *rest = logup.prove(KEY, Transcript("t"), v, mm)
        w = Writer()
        proof.write(w)
        outs.append((w.getvalue(), rest))
    assert outs[0] == outs[1]
    _check_outputs(FrVec.from_int64(vals), mm, k, proof, *outs[1][1])
    # a cheating integer witness (a value off the table) is rejected like a field one
    bad = vals.astype(np.int64).copy()
    bad[0] = N_TABLE
    proof, *_ = logup.prove(KEY, Transcript("t"), bad, mm)
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), k, proof)


@settings(max_examples=3)
@given(st.lists(st.sampled_from([0, 1, 2, 255, 256, N_TABLE - 2, N_TABLE - 1]), min_size=16, max_size=16))
def test_completeness_edge_values(values):
    v, m, proof, x_v, v_open, x_m, m_open = _prove(values)
    _check_outputs(v, m, 4, proof, x_v, v_open, x_m, m_open)


def test_transcript_binding(honest):
    _, _, _, proof, *_ = honest
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("other"), 3, proof)


# ------------------------------------------------------------------ serialization


def test_serialization_round_trip_and_strict_reading(honest):
    vals, v, m, proof, x_v, v_open, x_m, m_open = honest
    w = Writer()
    proof.write(w)
    body = w.getvalue()
    rd = Reader(body)
    back = logup.LogupProof.read(rd, 3)
    rd.done()
    assert back == proof
    _check_outputs(v, m, 3, back, x_v, v_open, x_m, m_open)
    for cut in (0, 1, 47, 48, 52, len(body) // 2, len(body) - 1):
        with pytest.raises(ProofFormatError):
            rd = Reader(body[:cut])
            logup.LogupProof.read(rd, 3)
            rd.done()
    rd = Reader(body + b"\x00")
    logup.LogupProof.read(rd, 3)
    with pytest.raises(ProofFormatError, match="trailing"):
        rd.done()
    with pytest.raises(ProofFormatError, match="layers"):  # k = 17 needs 17 witness layers
        logup.LogupProof.read(Reader(body), 17)


def test_wrong_k_rejected(honest):
    _, _, _, proof, *_ = honest
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), 17, proof)
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), 4, proof)


# ------------------------------------------------------------------ soundness


@pytest.mark.parametrize("bad", [N_TABLE, -1, N_TABLE + 5])
def test_out_of_range_value_rejected_by_verifier(bad):
    vals = np.array([3, 7, 7, bad, 0, 65535, 12, 9], dtype=np.int64)
    # the cheating prover's best fix-up: count the bad entry as a 0, so that the counts add up
    m = logup.multiplicities(np.where(vals == bad, 0, vals), 3)
    assert m.sum() == 8
    v, mm, proof, *_ = _prove(vals, m=m)
    with pytest.raises(VerificationError, match="do not cancel"):  # the two sums differ
        logup.verify(KEY, Transcript("t"), 3, proof)


def test_root_sum_is_zero_only_for_honest_witness():
    """The fractional sum the tree computes (checked directly on the leaves, mod r)."""
    alpha = random_scalar()
    vals = [1, 2, 2, 0]
    m = logup.multiplicities(vals, 2)

    def root(vs, ms):
        lhs = sum(pow(alpha - x, -1, R_MODULUS) for x in list(vs))
        nz = np.flatnonzero(ms)
        rhs = sum(int(ms[j]) * pow(alpha - int(j), -1, R_MODULUS) for j in nz)
        return (lhs - rhs) % R_MODULUS

    assert root(vals, m) == 0
    assert root([1, 2, 2, N_TABLE], logup.multiplicities([1, 2, 2, 0], 2)) != 0


def test_wrong_multiplicities_rejected(honest):
    vals = honest[0]
    m = logup.multiplicities(vals, 3)
    j = int(vals[2])
    m[j] -= 1
    m[(j + 1) % N_TABLE] += 1  # one count moved
    v, mm, proof, *_ = _prove(vals, m=m)
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), 3, proof)


def _replace_round(sc: ZkSumcheckProof, i: int, point) -> ZkSumcheckProof:
    rounds = list(sc.rounds)
    pts = list(rounds[0])
    pts[i] = point
    rounds[0] = type(sc.rounds[0]).from_points(pts)
    return ZkSumcheckProof(tuple(rounds), sc.factor_coms, sc.product_coms, sc.product_proofs, sc.final_proof)


def _with(proof, **kw):
    f = dict(roots=proof.roots, root_products=proof.root_products, witness_layers=proof.witness_layers,
             witness_leaf=proof.witness_leaf, table_layers=proof.table_layers, table_leaf=proof.table_leaf)
    f.update(kw)
    return logup.LogupProof(**f)


@pytest.mark.parametrize("tree, layer", [("witness", 1), ("witness", 2), ("table", 1), ("table", 9),
                                         ("table", 15)])
def test_tampered_round_commitment_rejected(honest, tree, layer):
    _, _, _, proof, *_ = honest
    layers = list(getattr(proof, f"{tree}_layers"))
    layers[layer] = _replace_round(layers[layer], 0, KEY.h * random_scalar())
    bad = _with(proof, **{f"{tree}_layers": tuple(layers)})
    with pytest.raises(VerificationError, match=f"{tree} layer {layer}"):
        logup.verify(KEY, Transcript("t"), 3, bad)


def test_tampered_root_and_factor_commitments_rejected(honest):
    _, _, _, proof, *_ = honest
    for i in range(5):
        pts = list(proof.roots)
        pts[i] = pts[i] + KEY.g
        with pytest.raises(VerificationError):
            logup.verify(KEY, Transcript("t"), 3, _with(proof, roots=type(proof.roots).from_points(pts)))
    sc = proof.table_layers[5]
    pts = list(sc.factor_coms)
    pts[2] = pts[2] + KEY.h
    layers = list(proof.table_layers)
    layers[5] = ZkSumcheckProof(sc.rounds, type(sc.factor_coms).from_points(pts), sc.product_coms,
                                sc.product_proofs, sc.final_proof)
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), 3, _with(proof, table_layers=tuple(layers)))
    # a leaf proof where none belongs (k >= 1), or the table's leaf proof replaced
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), 3, _with(proof, witness_leaf=proof.table_leaf))
    other = logup.prove(KEY, Transcript("t"), FrVec.from_int64(np.zeros(8, dtype=np.int64)),
                        FrVec.from_int64(logup.multiplicities(np.zeros(8, dtype=np.int64), 3)))[0]
    with pytest.raises(VerificationError, match="leaves"):
        logup.verify(KEY, Transcript("t"), 3, _with(proof, table_leaf=other.table_leaf))


def test_one_value_witness():
    """k = 0: the root numerator is shown to be 1 directly."""
    for val, ok in ((5, True), (N_TABLE, False)):
        vals = np.array([val], dtype=np.int64)
        m = logup.multiplicities(np.minimum(vals, N_TABLE - 1) * (vals < N_TABLE), 0)
        v, mm, proof, x_v, v_open, x_m, m_open = _prove(vals, m=m, k=0)
        assert proof.witness_leaf is not None
        if ok:
            _check_outputs(v, mm, 0, proof, x_v, v_open, x_m, m_open)
        else:
            with pytest.raises(VerificationError):
                logup.verify(KEY, Transcript("t"), 0, proof)


def test_leaf_claims_bind_the_outputs(honest):
    """A proof for one witness does not give claims that open to another witness's MLEs."""
    vals, v, m, proof, x_v, v_open, x_m, m_open = honest
    _, com_v, _, com_m = logup.verify(KEY, Transcript("t"), 3, proof)
    other = FrVec.from_int64(np.roll(vals, 1))
    assert mle.evaluate(other, x_v) != v_open[0]
    assert com_v != KEY.commit_scalar(mle.evaluate(other, x_v), v_open[1])


def test_malformed_proof_object_rejected(honest):
    _, _, _, proof, *_ = honest
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), 3, _with(proof, table_layers=proof.table_layers[:-1]))
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), 3, "not a proof")


# ------------------------------------------------------------------ multiplicities and shapes


@given(st.integers(0, 5), st.data())
def test_multiplicities_counts(k, data):
    vals = np.array(data.draw(st.lists(st.integers(0, N_TABLE - 1), min_size=1 << k, max_size=1 << k)),
                    dtype=np.int64)
    m = logup.multiplicities(vals, k)
    assert m.dtype == np.int64 and m.shape == (N_TABLE,)
    assert m.sum() == 1 << k
    ref = np.zeros(N_TABLE, dtype=np.int64)
    for x in vals:
        ref[x] += 1
    assert np.array_equal(m, ref)


def test_multiplicities_padding():
    vals = np.full(1 << 17, 5, dtype=np.int64)
    vals[:10] = 0
    m = logup.multiplicities(vals, 17)
    assert m[5] == (1 << 17) - 10 and m[0] == 10 and m.sum() == 1 << 17
    m = logup.multiplicities(vals[:1000], 17)  # shorter than 2^k: zero padding up to 2^k
    assert m[5] == 990 and m[0] == 10 + (1 << 17) - 1000
    assert logup.multiplicities(np.array([], dtype=np.int64), 0)[0] == 1
    assert logup.multiplicities(np.array([7], dtype=np.uint16), 0)[7] == 1


@pytest.mark.parametrize("bad, idx", [(N_TABLE, 3), (-1, 1), (1 << 40, 0)])
def test_multiplicities_out_of_range(bad, idx):
    vals = np.array([1, 2, 3, 4], dtype=np.int64)
    vals[idx] = bad
    with pytest.raises(FieldRangeError, match=f"value {bad} at index {idx}"):
        logup.multiplicities(vals, 2)


def test_shape_errors():
    with pytest.raises(ShapeError):
        logup.multiplicities(np.zeros(5, dtype=np.int64), 2)
    with pytest.raises(ShapeError):
        logup.multiplicities(np.zeros(4), 2)  # floats
    with pytest.raises(ShapeError):
        logup.multiplicities(np.zeros(4, dtype=np.int64), 31)
    m = FrVec.zeros(N_TABLE)
    with pytest.raises(ShapeError):
        logup.prove(KEY, Transcript("t"), FrVec.zeros(3), m)
    with pytest.raises(ShapeError):
        logup.prove(KEY, Transcript("t"), FrVec.zeros(4), FrVec.zeros(3))
    with pytest.raises(ShapeError):
        logup.prove(KEY, Transcript("t"), FrVec.zeros(4), FrVec.zeros(2 << logup.MAX_TABLE_BITS))
    with pytest.raises(ShapeError):
        logup.multiplicities(np.zeros(4, dtype=np.int64), 2, table_bits=logup.MAX_TABLE_BITS + 1)
    with pytest.raises(ShapeError):
        logup.proof_size_points(-1)


@pytest.mark.parametrize("tb", [1, 8])
def test_small_tables(tb):
    """A 2^b-entry table: in-range witnesses verify, a value 2^b is rejected."""
    rng = np.random.default_rng(tb)
    k = 6
    v = rng.integers(0, 1 << tb, size=1 << k)
    m = logup.multiplicities(v, k, table_bits=tb)
    assert len(m) == 1 << tb and m.sum() == 1 << k
    proof, x_v, (vv, vb), x_m, (mv, mb) = logup.prove(KEY, Transcript("tb"), FrVec.from_int64(v),
                                                      FrVec.from_int64(m))
    w = Writer()
    proof.write(w)
    r = Reader(w.getvalue())
    proof2 = logup.LogupProof.read(r, k, table_bits=tb)
    r.done()
    xv, cv, xm, cm = logup.verify(KEY, Transcript("tb"), k, proof2, table_bits=tb)
    assert xv == x_v and cv == KEY.commit_scalar(vv, vb) and vv == mle.evaluate(FrVec.from_int64(v), x_v)
    assert cm == KEY.commit_scalar(mv, mb) and mv == mle.evaluate(FrVec.from_int64(m), x_m)
    with pytest.raises(ShapeError):
        logup.multiplicities(v, k, table_bits=logup.MAX_TABLE_BITS + 1)
    bad = v.copy()
    bad[3] = 1 << tb
    mb_ = np.bincount(bad[bad < 1 << tb], minlength=1 << tb)
    mb_[0] += 1
    proof, *_ = logup.prove(KEY, Transcript("tb"), FrVec.from_int64(bad), FrVec.from_int64(mb_))
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("tb"), k, proof, table_bits=tb)
    # verifying with the wrong table size fails too
    proof, *_ = logup.prove(KEY, Transcript("tb"), FrVec.from_int64(v), FrVec.from_int64(m))
    with pytest.raises((VerificationError, ShapeError)):
        logup.verify(KEY, Transcript("tb"), k, proof, table_bits=tb + 1)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 9), unit=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_tree_layer_matches_the_fraction_formula(k, unit, seed):
    """logup._layer (the backend's fr_logup_layer) against p' = pL qR + pR qL, q' = qL qR with
    L = 2y, R = 2y + 1 (unit numerators: p' = qL + qR), in plain integers mod r."""
    import random

    from zkdl.field import R_MODULUS as r
    from zkdl.logup import _layer

    rng = random.Random(seed)
    q = [rng.randrange(r) for _ in range(1 << k)]
    p = None if unit else [rng.randrange(r) for _ in range(1 << k)]
    po, qo = _layer(None if p is None else FrVec.from_ints(p), FrVec.from_ints(q))
    h = len(q) // 2
    want_q = [q[2 * y] * q[2 * y + 1] % r for y in range(h)]
    want_p = [(q[2 * y] + q[2 * y + 1]) % r if p is None else (p[2 * y] * q[2 * y + 1] + p[2 * y + 1] * q[2 * y]) % r
              for y in range(h)]
    assert qo.to_ints() == want_q and po.to_ints() == want_p


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 7), D=st.integers(1, 3), skip=st.booleans(), with_eq=st.booleans(),
       bound=st.sampled_from([2, 1 << 16, 1 << 24]), seed=st.integers(0, 2**32 - 1))
def test_integer_leaf_round_matches_the_field_kernel(n, D, skip, with_eq, bound, seed):
    """The witness tree's last layer keeps its leaves alpha - v as the integers v for the first
    round (logup._IntLeafHalf): its round values (_unit_evals_ints, two integer-weighted sums) and
    its fold equal frac_evals and FrVec.fold on the field leaves, for values up to the bound the
    prover uses (2^24) and negative ones."""
    from zkdl.field import frac_evals

    rng = np.random.default_rng(seed)
    m2 = 1 << n                                   # each half-table: 2^n entries, m = 2^(n-1) pairs
    vL = rng.integers(-bound, bound, size=m2, dtype=np.int64)
    vR = rng.integers(-bound, bound, size=m2, dtype=np.int64)
    alpha, lam, r = (random_scalar() for _ in range(3))
    eq = FrVec.from_ints([random_scalar() for _ in range(m2 // 2)]) if with_eq else None
    halves = [logup._IntLeafHalf(alpha, v) for v in (vL, vR)]
    fields = [FrVec.const_minus_int64(alpha, v) for v in (vL, vR)]
    got = logup._layer_kernel(lam)(eq, halves, D, skip)
    assert got == frac_evals(eq, fields, lam, D, skip)
    assert got == logup._layer_kernel(lam)(eq, fields, D, skip)
    for h, f in zip(halves, fields):
        assert len(h) == len(f) and h.fold(r) == f.fold(r)


def test_large_integer_leaves_take_the_field_path():
    """Leaves of 2^24 or more (a cheating prover's limbs) are not kept as integers (their
    products could leave int64): the proof is then rejected as any off-table value is."""
    k = 4
    vals = np.arange(1 << k, dtype=np.int64) % N_TABLE
    for big in (1 << 24, -(1 << 24) - 1, 1 << 40):
        assert isinstance(logup._leaf_quad(7, np.full(4, big, dtype=np.int64))[0], FrVec)
        bad = vals.copy()
        bad[3] = big
        mm = np.bincount(bad[(bad >= 0) & (bad < N_TABLE)], minlength=N_TABLE)
        mm[0] += 1
        proof, *_ = logup.prove(KEY, Transcript("t"), bad, FrVec.from_int64(mm))
        with pytest.raises(VerificationError):
            logup.verify(KEY, Transcript("t"), k, proof)
    assert isinstance(logup._leaf_quad(7, vals)[0], logup._IntLeafHalf)


@pytest.mark.parametrize("k", [0, 1, 6])
def test_factored_layers_of_derived_proofs(k):
    """Window and inference proofs (derived=True) end each layer with qR (pL + lambda qL) + pR qL,
    pL + lambda qL a combined factor: two product proofs per layer instead of three, the size
    proof_size_points(k, derived=True) gives, the same claims; such a proof is read only as one
    (a reader expecting three products per layer refuses it), and one with a value off the
    table is rejected."""
    rng = np.random.default_rng(k)
    vals = rng.integers(0, N_TABLE, size=1 << k)
    v, mm = FrVec.from_int64(vals), FrVec.from_int64(logup.multiplicities(vals, k))
    proof, x_v, v_open, x_m, m_open = logup.prove(KEY, Transcript("t"), v, mm, derived=True)
    xv2, com_v, xm2, com_m = logup.verify(KEY, Transcript("t"), k, proof, derived=True)
    assert (xv2, xm2) == (x_v, x_m)
    assert v_open[0] == mle.evaluate(v, x_v) and com_v == KEY.commit_scalar(*v_open)
    assert m_open[0] == mle.evaluate(mm, x_m) and com_m == KEY.commit_scalar(*m_open)
    layers = proof.witness_layers + proof.table_layers
    unit = 1 if k else 0
    assert sum(len(p.product_proofs) for p in layers) == 2 * (len(layers) - unit) + unit
    w = Writer()
    proof.write(w)
    pts, scs = logup.proof_size_points(k, derived=True)
    n_counts = 1 + sum(1 + sum(3 + j for j in range(n)) for n in (k, T_BITS))
    assert len(w.getvalue()) == 48 * pts + 32 * scs + 4 * n_counts
    assert logup.proof_size_points(k, derived=True)[0] < logup.proof_size_points(k)[0]
    back = logup.LogupProof.read(Reader(w.getvalue()), k, derived=True)
    logup.verify(KEY, Transcript("t"), k, back, derived=True)
    with pytest.raises(ProofFormatError):
        rd = Reader(w.getvalue())
        logup.LogupProof.read(rd, k)
        rd.done()
    # the factored proof does not verify as the three-product one (another instance, another
    # transcript), and a value off the table is rejected on the factored path too
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), k, proof)
    bad = vals.copy()
    bad[0] = N_TABLE
    mb = np.bincount(bad[bad < N_TABLE], minlength=N_TABLE)
    mb[0] += 1
    proof, *_ = logup.prove(KEY, Transcript("t"), FrVec.from_int64(bad), FrVec.from_int64(mb), derived=True)
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), k, proof, derived=True)
