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


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 7), D=st.integers(1, 3), skip=st.booleans(), with_eq=st.booleans(),
       bound=st.sampled_from([2, 1 << 16, 1 << 24]), tagged=st.sampled_from([0, 1, 3]),
       seed=st.integers(0, 2**32 - 1))
def test_integer_leaf_round_matches_the_field_kernel(n, D, skip, with_eq, bound, tagged, seed):
    """The witness tree's last layer keeps its leaves a - v as the integers v for the first round
    (logup._IntLeafHalf; a = alpha, or alpha - beta tag on tagged blocks): its round values
    (_unit_evals_ints: integer-weighted sums per piece of constant a) and its fold equal
    frac_evals and FrVec.fold on the field leaves, for values up to the bound the prover uses
    (2^24), negative ones, and up to three tagged blocks anywhere in the leaves."""
    from zkdl.field import frac_evals

    rng = np.random.default_rng(seed)
    m2 = 1 << n                                   # each half-table: 2^n entries, m = 2^(n-1) pairs
    vL = rng.integers(-bound, bound, size=m2, dtype=np.int64)
    vR = rng.integers(-bound, bound, size=m2, dtype=np.int64)
    alpha, lam, r, beta = (random_scalar() for _ in range(4))
    cuts = sorted(set(int(c) for c in rng.integers(0, 2 * m2 + 1, size=2 * tagged)))
    tags = [(a, b, int(rng.integers(1, 4))) for a, b in zip(cuts[0::2], cuts[1::2]) if a < b]
    segs = logup._leaf_segments(alpha, beta, 2 * m2, tags)
    eq = FrVec.from_ints([random_scalar() for _ in range(m2 // 2)]) if with_eq else None
    halves = [logup._IntLeafHalf(logup._half_segments(segs, par), v) for par, v in enumerate((vL, vR))]
    full = np.empty(2 * m2, dtype=np.int64)
    full[0::2], full[1::2] = vL, vR
    consts = [logup._at(segs, i) for i in range(2 * m2)]
    leaves = [(c - int(x)) % R_MODULUS for c, x in zip(consts, full)]
    fields = [FrVec.from_ints(leaves[0::2]), FrVec.from_ints(leaves[1::2])]
    assert [h.segs for h in halves] and logup._alpha_minus(segs, full) == FrVec.from_ints(leaves)
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
        assert isinstance(logup._leaf_quad([(0, 4, 7)], np.full(4, big, dtype=np.int64))[0], FrVec)
        bad = vals.copy()
        bad[3] = big
        mm = np.bincount(bad[(bad >= 0) & (bad < N_TABLE)], minlength=N_TABLE)
        mm[0] += 1
        proof, *_ = logup.prove(KEY, Transcript("t"), bad, FrVec.from_int64(mm))
        with pytest.raises(VerificationError):
            logup.verify(KEY, Transcript("t"), k, proof)
    assert isinstance(logup._leaf_quad([(0, len(vals), 7)], vals)[0], logup._IntLeafHalf)


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


# ---------------------------------------------------------------------------- tagged tables


@settings(max_examples=25, deadline=None)
@given(b=st.integers(2, 9), data=st.data())
def test_tagged_table_columns_and_their_extensions(b, data):
    """A tagged table's value and tag columns agree with value_eval / tag_eval on the hypercube
    and at random points (multilinear extensions), and every top-width segment holds exactly
    the values below its width."""
    widths = tuple(sorted(data.draw(st.sets(st.integers(1, b - 1), max_size=3)), reverse=True))
    table = logup.Table(b, widths)
    vals, tags = table.columns()
    assert len(vals) == 1 << table.bits == len(tags)
    n = table.bits
    x = [random_scalar() for _ in range(n)]
    e = FrVec.eq_table(x)
    assert e.dot(FrVec.from_int64(vals)) == table.value_eval(x)
    assert e.dot(FrVec.from_int64(tags)) == table.tag_eval(x)
    j = data.draw(st.integers(0, (1 << n) - 1))
    bits = [(j >> (n - 1 - i)) & 1 for i in range(n)]
    assert table.value_eval(bits) == vals[j] and table.tag_eval(bits) == tags[j]
    for i, t in enumerate(widths):
        assert sorted(vals[tags == i + 1]) == list(range(1 << t))
        assert list(table.index(np.arange(1 << t), i + 1)) == list(np.flatnonzero(tags == i + 1))
    assert set(vals[tags == 0]) == set(range(1 << b))


def _tagged_instance(k, b, widths, seed, bad=None, count_plain=False):
    """2^k looked-up values: a plain block, then one block per top width (values below it);
    bad = (block, value): one entry of that block replaced (the prover counts what it can;
    count_plain: a value off its segment but below 2^b counted at its plain, untagged entry)."""
    rng = np.random.default_rng(seed)
    table = logup.Table(b, widths)
    nb = len(widths) + 1
    size = (1 << k) // nb if nb > 1 else 1 << k
    size = 1 << (size.bit_length() - 1)
    v = np.zeros(1 << k, dtype=np.int64)
    blocks = []
    for i in range(nb):
        width = b if i == 0 else widths[i - 1]
        v[i * size:(i + 1) * size] = rng.integers(0, 1 << width, size=size)
        blocks.append((i * size, (i + 1) * size, i, width))
    if bad is not None:
        blk, val = bad
        v[blocks[blk][0] + 1] = val
    m = np.zeros(1 << table.bits, dtype=np.int64)
    for st_, en, tag, width in blocks:
        vals = v[st_:en]
        ok = (vals >= 0) & (vals < 1 << width)
        m += np.bincount(table.index(vals[ok], tag), minlength=len(m))
        if count_plain:
            off = vals[~ok]
            m += np.bincount(off[(off >= 0) & (off < 1 << b)], minlength=len(m))
    m[0] += (1 << k) - nb * size
    tags = [(st_, en, tag) for st_, en, tag, _ in blocks if tag]
    return table, v, m, tags


@pytest.mark.parametrize("k,b,widths", [(6, 4, (3, 1)), (5, 6, (5,)), (7, 8, (7, 4, 2))])
def test_tagged_lookup_complete_and_claim(k, b, widths):
    """Tagged blocks (one lookup per top limb): the proof verifies and its claim on the looked-up
    vector is on v + beta tag (what circuits/rangecheck.py ties to the limbs)."""
    table, v, m, tags = _tagged_instance(k, b, widths, seed=k)
    beta = random_scalar()
    proof, x_v, (vv, vb), x_m, (mv, mb) = logup.prove(KEY, Transcript("t"), v, FrVec.from_int64(m), derived=True,
                                                      table=table, beta=beta, tags=tags)
    tag_vec = np.zeros(1 << k, dtype=np.int64)
    for st_, en, tag in tags:
        tag_vec[st_:en] = tag
    e = FrVec.eq_table(x_v)
    assert vv == (e.dot(FrVec.from_int64(v)) + beta * e.dot(FrVec.from_int64(tag_vec))) % R_MODULUS
    assert mv == FrVec.eq_table(x_m).dot(FrVec.from_int64(m))
    blob = Writer()
    proof.write(blob)
    back = logup.LogupProof.read(Reader(blob.getvalue()), k, table.bits, derived=True)
    x_v2, cv, x_m2, cm = logup.verify(KEY, Transcript("t"), k, back, table.bits, derived=True, table=table, beta=beta)
    assert (x_v2, x_m2) == (x_v, x_m) and cv == KEY.commit_scalar(vv, vb) and cm == KEY.commit_scalar(mv, mb)
    # the same proof does not verify against another tag weight, or as a plain lookup
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), k, back, table.bits, derived=True, table=table, beta=beta + 1)
    with pytest.raises((VerificationError, ShapeError)):
        logup.verify(KEY, Transcript("t"), k, back, table.bits, derived=True)


@pytest.mark.parametrize("block,value", [(1, 8), (2, 2), (1, -1), (2, 1 << 20), (0, 16)])
def test_tagged_value_off_its_segment_is_rejected(block, value):
    """A tagged top limb at its width's bound (2^t: still a plain table value), a negative one, a
    large one, and a plain limb at 2^b: each is rejected (its leaf matches no table entry)."""
    table, v, m, tags = _tagged_instance(6, 4, (3, 1), seed=5, bad=(block, value))
    beta = random_scalar()
    proof, *_ = logup.prove(KEY, Transcript("t"), v, FrVec.from_int64(m), derived=True, table=table, beta=beta,
                            tags=tags)
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), 6, proof, table.bits, derived=True, table=table, beta=beta)


@pytest.mark.parametrize("block,value", [(1, 8), (1, 13), (2, 2), (2, 15)])
def test_tagged_value_counted_as_a_plain_one_is_rejected(block, value):
    """The cheat the tags exist for: a top limb of t bits holding a value in [2^t, 2^b), counted
    at its plain table entry (value, 0).  Its leaf is alpha - value - beta tag, the entry's
    alpha - value: rejected for a random beta, and accepted when beta is 0 (what an untagged
    table with the top limb looked up once would do)."""
    table, v, m, tags = _tagged_instance(6, 4, (3, 1), seed=6, bad=(block, value), count_plain=True)
    beta = random_scalar()
    proof, *_ = logup.prove(KEY, Transcript("t"), v, FrVec.from_int64(m), derived=True, table=table, beta=beta,
                            tags=tags)
    with pytest.raises(VerificationError):
        logup.verify(KEY, Transcript("t"), 6, proof, table.bits, derived=True, table=table, beta=beta)
    proof, *_ = logup.prove(KEY, Transcript("t"), v, FrVec.from_int64(m), derived=True, table=table, beta=0,
                            tags=tags)
    logup.verify(KEY, Transcript("t"), 6, proof, table.bits, derived=True, table=table, beta=0)


def test_tagged_table_shapes_are_checked():
    with pytest.raises(ShapeError, match="distinct, decreasing"):
        logup.Table(8, (3, 5))
    with pytest.raises(ShapeError, match="distinct, decreasing"):
        logup.Table(8, (8,))
    with pytest.raises(ShapeError, match="tagged values"):
        logup.prove(KEY, Transcript("t"), np.zeros(4, dtype=np.int64), FrVec.from_int64(np.array([4, 0, 0, 0])),
                    tags=[(0, 2, 1)])
    with pytest.raises(ShapeError, match="overlaps"):
        logup._leaf_segments(1, 2, 8, [(0, 4, 1), (2, 6, 2)])
