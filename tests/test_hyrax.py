"""Hyrax polynomial commitment (zkdl.hyrax): layout, homomorphism, evaluation proofs
(completeness, soundness, encoding, replay) and the zero-knowledge simulator."""
from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkdl import FrVec, PointVec, ShapeError, VerificationError
from zkdl.codec import ProofFormatError, Reader, Writer
from zkdl.field import R_MODULUS
from zkdl.hyrax import (
    HyraxCommitment, HyraxEvalProof, HyraxSecret, _check_eval, commit, evaluate, prove_eval,
    simulate_eval, verify_eval,
)
from zkdl.pedersen import PedersenKey, random_scalar
from zkdl.transcript import ProgrammedTranscript, Transcript

R = R_MODULUS
FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@lru_cache(maxsize=None)
def key() -> PedersenKey:
    return PedersenKey("zkdl-test/hyrax", 128)


def T(label: str = "test") -> Transcript:
    return Transcript(label)


def rand_point(k):
    return [random_scalar() for _ in range(k)]


def naive_mle(values: list[int], r: list[int]) -> int:
    """Fold the most significant variable first, in Python ints."""
    vals = list(values) + [0] * ((1 << len(r)) - len(values))
    for x in r:
        h = len(vals) // 2
        vals = [(vals[i] + x * (vals[h + i] - vals[i])) % R for i in range(h)]
    return vals[0]


def open_rows(com: HyraxCommitment, sec: HyraxSecret) -> bool:
    """Every row commitment opens to the secret's row and blind."""
    k = key()
    return all(com.rows[i] == k.commit_vector(sec.row(i), sec.blinds[i]) for i in range(com.num_rows))


def claim(values: FrVec, r):
    y, rho_y = evaluate(values, r), random_scalar()
    return y, rho_y, key().commit_scalar(y, rho_y)


def encode(obj) -> bytes:
    w = Writer()
    obj.write(w)
    return w.getvalue()


def read_proof(data: bytes, col_vars: int) -> HyraxEvalProof:
    r = Reader(data)
    p = HyraxEvalProof.read(r, col_vars)
    r.done()
    return p


def read_com(data: bytes, **kw) -> HyraxCommitment:
    r = Reader(data)
    c = HyraxCommitment.read(r, **kw)
    r.done()
    return c


@lru_cache(maxsize=None)
def fixed():
    """A 2^6-element commitment (8 x 8), a point, a committed claim and its proof."""
    vals = np.random.randint(-(2**20), 2**20, 64)
    com, sec = commit(key(), vals)
    r = rand_point(6)
    y, rho_y, C_y = claim(FrVec.from_int64(vals), r)
    proof = prove_eval(key(), T(), com, sec, r, y, rho_y)
    return com, sec, r, y, rho_y, C_y, proof


# ---------------------------------------------------------------------------- evaluate / layout
@FAST
@given(n=st.integers(1, 40), data=st.data())
def test_evaluate_matches_naive(n, data):
    vals = FrVec.random(n)
    k = data.draw(st.integers(max(0, (n - 1).bit_length()), 7))
    r = rand_point(k)
    assert evaluate(vals, r) == naive_mle(vals.to_ints(), r)
    # on the boolean hypercube the MLE is the table (x_1 = most significant bit)
    i = data.draw(st.integers(0, (1 << k) - 1))
    bits = [(i >> (k - 1 - j)) & 1 for j in range(k)]
    assert evaluate(vals, bits) == (vals[i] if i < n else 0)


def test_evaluate_errors():
    with pytest.raises(ShapeError):
        evaluate(FrVec.random(5), [1, 2])
    assert evaluate(FrVec.from_ints([7]), []) == 7


@pytest.mark.parametrize("n,col_vars,rows,cols", [
    (1, None, 1, 1), (2, None, 1, 2), (5, None, 2, 4), (64, None, 8, 8), (128, None, 8, 16),
    (64, 0, 64, 1), (64, 6, 1, 64), (100, 2, 32, 4),
])
def test_commit_layout(n, col_vars, rows, cols):
    vals = np.random.randint(-1000, 1000, n)
    com, sec = commit(key(), vals, col_vars)
    assert (com.num_rows, com.num_cols) == (rows, cols)
    assert len(com.rows) == rows and len(sec.values) == rows * cols
    padded = np.zeros(rows * cols, dtype=np.int64)
    padded[:n] = vals
    assert sec.values == FrVec.from_int64(padded)
    assert open_rows(com, sec)
    # the same values as an FrVec give the same row bodies (blinds differ)
    com2, sec2 = commit(key(), FrVec.from_int64(vals), col_vars)
    assert sec2.values == sec.values and open_rows(com2, sec2)


def test_commit_num_vars_padding_and_errors():
    com, sec = commit(key(), np.arange(5), num_vars=4)
    assert (com.num_vars, com.col_vars, com.num_rows) == (4, 2, 4)
    with pytest.raises(ShapeError):
        commit(key(), np.arange(5), num_vars=2)
    with pytest.raises(ShapeError):
        commit(key(), np.arange(4), col_vars=3)
    with pytest.raises(ShapeError):  # rows longer than the key
        commit(PedersenKey("zkdl-test/hyrax", 4), np.arange(64))
    with pytest.raises(ShapeError):
        commit(key(), np.zeros(0, dtype=np.int64))
    with pytest.raises(ShapeError):
        commit(key(), np.ones(4, dtype=np.float64))
    with pytest.raises(ShapeError):
        HyraxCommitment(com.rows[:3], 4, 2)
    with pytest.raises(ShapeError):
        HyraxCommitment(com.rows, 4, 5)
    assert "FrVec" not in repr(sec)  # secrets do not print their contents


# ---------------------------------------------------------------------------- completeness
@FAST
@given(n=st.integers(1, 1100), data=st.data())
def test_eval_complete(n, data):
    k = (n - 1).bit_length()
    col_vars = data.draw(st.one_of(st.none(), st.integers(0, min(k, 7))), label="col_vars")
    as_ints = data.draw(st.booleans(), label="int64")
    vals = np.random.randint(-(2**30), 2**30, n) if as_ints else FrVec.random(n)
    fv = FrVec.from_int64(vals) if as_ints else vals
    com, sec = commit(key(), vals, col_vars)
    r = rand_point(com.num_vars)
    y, rho_y, C_y = claim(fv, r)
    proof = prove_eval(key(), T(), com, sec, r, y, rho_y)
    assert len(proof.dot.L) == com.col_vars
    verify_eval(key(), T(), com, r, C_y, proof)
    # the point may also be given as an FrVec; boolean points too
    verify_eval(key(), T(), com, FrVec.from_ints(r), C_y, proof)


@pytest.mark.parametrize("col_vars", [None, 4])
def test_eval_complete_4096(col_vars):
    vals = np.random.randint(-128, 128, 4096)
    com, sec = commit(key(), vals, col_vars)
    r = rand_point(12)
    y, rho_y, C_y = claim(FrVec.from_int64(vals), r)
    verify_eval(key(), T(), com, r, C_y, prove_eval(key(), T(), com, sec, r, y, rho_y))
    bits = [1, 0] * 6
    y, rho_y, C_y = claim(FrVec.from_int64(vals), bits)
    assert y == int(vals[int("10" * 6, 2)]) % R
    verify_eval(key(), T(), com, bits, C_y, prove_eval(key(), T(), com, sec, bits, y, rho_y))


def test_transcripts_stay_in_sync():
    com, sec, r, y, rho_y, C_y, _ = fixed()
    tp, tv = T(), T()
    proof = prove_eval(key(), tp, com, sec, r, y, rho_y)
    verify_eval(key(), tv, com, r, C_y, proof)
    assert tp.challenge_scalar(b"next") == tv.challenge_scalar(b"next")


# ---------------------------------------------------------------------------- homomorphism
def _prove_and_check(com, sec, values: FrVec):
    r = rand_point(com.num_vars)
    y, rho_y, C_y = claim(values, r)
    verify_eval(key(), T(), com, r, C_y, prove_eval(key(), T(), com, sec, r, y, rho_y))


def test_add_sub_scale():
    a, b = np.random.randint(-1000, 1000, 32), np.random.randint(-1000, 1000, 32)
    ca, sa = commit(key(), a)
    cb, sb = commit(key(), FrVec.from_int64(b))
    for com, sec, want in [(ca + cb, sa + sb, a + b), (ca - cb, sa - sb, a - b), (-ca, -sa, -a),
                           (ca.scale(-3), sa.scale(-3), -3 * a)]:
        assert sec.values == FrVec.from_int64(want)
        assert open_rows(com, sec)
        _prove_and_check(com, sec, FrVec.from_int64(want))
    # a commitment minus itself commits to zero with zero blinds
    z = ca - ca
    assert all(p.is_identity() for p in z.rows)


def test_integer_secrets_match_field_secrets():
    """A commitment to int64 values keeps them as integers (HyraxSecret.ints); every operation
    on such a secret gives what the same secret over FrVec gives, and it opens."""
    vals = np.random.randint(-(2**40), 2**40, 64)
    com, sec = commit(key(), vals, col_vars=3)
    assert sec.ints is not None and sec.values == FrVec.from_int64(vals)
    fsec = HyraxSecret(sec.values, sec.blinds, sec.num_vars, sec.col_vars)
    assert fsec.ints is None
    w = FrVec.random(64)
    assert sec.dot(w) == fsec.dot(w) == w.dot(FrVec.from_int64(vals))
    for k in (1, -3, R - 5):
        acc, facc = FrVec.random(128), None
        facc = acc.copy()
        assert sec.add_scaled_to(acc, k) == fsec.add_scaled_to(facc, k)
    for got, want in [(sec + fsec, fsec + fsec), (sec - sec, fsec - fsec), (-sec, -fsec), (sec.scale(7), fsec.scale(7)),
                      (sec.select_rows([3, 1]), fsec.select_rows([3, 1]))]:
        assert got.values == want.values and got.blinds == want.blinds
    assert sec.row(2) == fsec.row(2)
    assert open_rows(com, sec)
    _prove_and_check(com, sec, FrVec.from_int64(vals))
    with pytest.raises(ShapeError, match="1-D int64 array"):
        HyraxSecret(vals.astype(np.int32), sec.blinds, 6, 3)
    assert "values" not in repr(sec) and str(int(vals[0])) not in repr(sec)


def test_shape_mismatch():
    ca, sa = commit(key(), np.arange(16))
    cb, sb = commit(key(), np.arange(16), col_vars=1)
    cc, sc = commit(key(), np.arange(32))
    for x, y in [(ca, cb), (ca, cc)]:
        with pytest.raises(ShapeError):
            x + y
        with pytest.raises(ShapeError):
            x - y
    for x, y in [(sa, sb), (sa, sc)]:
        with pytest.raises(ShapeError):
            x + y
    with pytest.raises(ShapeError):
        ca + sa
    with pytest.raises(ShapeError):
        prove_eval(key(), T(), ca, sb, rand_point(4), 0, 0)


@pytest.mark.parametrize("indices", [[5], [3, 1], [0, 7, 7, 2], list(range(8))[::-1]])
def test_select_rows(indices):
    vals = np.random.randint(-1000, 1000, 64)
    com, sec = commit(key(), vals, col_vars=3)          # 8 rows of 8
    c2, s2 = com.select_rows(indices), sec.select_rows(indices)
    assert c2.num_vars == (len(indices).bit_length() - 1) + 3 and c2.col_vars == 3
    want = vals.reshape(8, 8)[indices].reshape(-1)
    assert s2.values == FrVec.from_int64(want)
    assert open_rows(c2, s2)
    _prove_and_check(c2, s2, FrVec.from_int64(want))


def test_select_rows_errors():
    com, sec = commit(key(), np.arange(64), col_vars=3)
    for bad in ([], [0, 1, 2], [8], [-1], [[0, 1]], [0.5]):
        with pytest.raises(ShapeError):
            com.select_rows(bad)
        with pytest.raises(ShapeError):
            sec.select_rows(bad)


# ---------------------------------------------------------------------------- soundness
def test_wrong_value_rejected():
    com, sec, r, y, _, _, _ = fixed()
    for wrong in (y + 1, y - 1, 0):
        rho = random_scalar()
        proof = prove_eval(key(), T(), com, sec, r, wrong, rho)
        with pytest.raises(VerificationError, match="dot-product"):
            verify_eval(key(), T(), com, r, key().commit_scalar(wrong, rho), proof)


def test_eval_at_other_point_rejected():
    com, sec, r, y, rho_y, C_y, proof = fixed()
    for j in (0, 2, 5):                                  # a row variable and a column variable
        r2 = list(r)
        r2[j] = (r2[j] + 1) % R
        with pytest.raises(VerificationError):
            verify_eval(key(), T(), com, r2, C_y, proof)
        # an honest proof of the old value at the new point fails too
        with pytest.raises(VerificationError):
            verify_eval(key(), T(), com, r2, C_y, prove_eval(key(), T(), com, sec, r2, y, rho_y))


def test_swapped_rows_rejected():
    com, sec, r, y, rho_y, C_y, proof = fixed()
    rows = list(com.rows)
    rows[1], rows[6] = rows[6], rows[1]
    swapped = HyraxCommitment(PointVec.from_points(rows), com.num_vars, com.col_vars)
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), swapped, r, C_y, proof)
    # the prover cannot make it pass either with the unswapped secret
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), swapped, r, C_y, prove_eval(key(), T(), swapped, sec, r, y, rho_y))


def test_other_commitment_and_label_rejected():
    com, sec, r, y, rho_y, C_y, proof = fixed()
    other, _ = commit(key(), np.random.randint(0, 5, 64))
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), other, r, C_y, proof)
    with pytest.raises(VerificationError):
        verify_eval(key(), T("other label"), com, r, C_y, proof)
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), com, r, key().commit_scalar(y, rho_y + 1), proof)
    # same rows, reinterpreted shape (same row count, other column split) is another statement
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), HyraxCommitment(com.rows, 5, 2), r[:5], C_y, proof)


def test_statement_shape_errors_are_verification_errors():
    com, sec, r, y, rho_y, C_y, proof = fixed()
    for bad_r in (r[:5], r + [1], None, [1.0] * 6):
        with pytest.raises(VerificationError):
            verify_eval(key(), T(), com, bad_r, C_y, proof)
    with pytest.raises(VerificationError, match="key size"):
        verify_eval(PedersenKey("zkdl-test/hyrax", 4), T(), com, r, C_y, proof)
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), com, r, None, proof)
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), com, r, C_y, proof.dot)


def _elements(proof: HyraxEvalProof):
    out = []
    for f in dataclasses.fields(proof.dot):
        v = getattr(proof.dot, f.name)
        out += [(f.name, i) for i in range(len(v))] if isinstance(v, PointVec) else [(f.name, None)]
    return out


@FAST
@given(data=st.data())
def test_every_modified_element_rejected(data):
    com, sec, r, y, rho_y, C_y, proof = fixed()
    name, idx = data.draw(st.sampled_from(_elements(proof)))
    v = getattr(proof.dot, name)
    if isinstance(v, PointVec):
        pts = list(v)
        pts[idx] = pts[idx] + key().h
        new = PointVec.from_points(pts)
    elif isinstance(v, int):
        new = (v + 1) % R
    else:
        new = v + key().g
    bad = HyraxEvalProof(dataclasses.replace(proof.dot, **{name: new}))
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), com, r, C_y, bad)


# ---------------------------------------------------------------------------- encoding
def test_roundtrip_and_size():
    com, sec, r, y, rho_y, C_y, proof = fixed()
    raw = encode(proof)
    assert len(raw) == 8 + 48 * (2 * 3 + 1) + 64
    assert read_proof(raw, 3) == proof
    raw_c = encode(com)
    assert len(raw_c) == 12 + 48 * 8
    assert read_com(raw_c) == com
    assert read_com(raw_c, num_vars=6, col_vars=3) == com
    with pytest.raises(ProofFormatError):
        read_com(raw_c, num_vars=7)
    with pytest.raises(ProofFormatError):
        read_com(raw_c, col_vars=2)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_proof_byte_tampering(data):
    com, sec, r, y, rho_y, C_y, proof = fixed()
    raw = bytearray(encode(proof))
    i = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[i] ^= data.draw(st.integers(1, 255), label="mask")
    try:
        bad = read_proof(bytes(raw), com.col_vars)
    except ProofFormatError:
        return
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), com, r, C_y, bad)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_commitment_byte_tampering(data):
    com, sec, r, y, rho_y, C_y, proof = fixed()
    raw = bytearray(encode(com))
    i = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[i] ^= data.draw(st.integers(1, 255), label="mask")
    try:
        bad = read_com(bytes(raw))
    except ProofFormatError:
        return
    with pytest.raises(VerificationError):
        verify_eval(key(), T(), bad, r, C_y, proof)


def test_truncated_and_trailing():
    com, sec, r, y, rho_y, C_y, proof = fixed()
    for raw, rd in [(encode(proof), lambda b: read_proof(b, 3)), (encode(com), read_com)]:
        for cut in (1, 47, len(raw) - 1):
            with pytest.raises(ProofFormatError):
                rd(raw[:-cut])
        with pytest.raises(ProofFormatError):
            rd(raw + b"\x00")
    with pytest.raises(ProofFormatError):
        read_proof(encode(proof), 2)


def test_commitment_read_bounds():
    def header(k, c, count):
        return Writer().u32(k).u32(c).u32(count).getvalue()

    for k, c, count in [(41, 0, 1), (3, 4, 1), (40, 0, 1 << 31), (3, 1, 3), (3, 1, 5)]:
        with pytest.raises(ProofFormatError):
            read_com(header(k, c, count) + bytes(48 * 8))
    one = commit(key(), np.array([3]))[0]
    assert (one.num_vars, one.col_vars, one.num_rows) == (0, 0, 1)
    assert read_com(encode(one)) == one


# ---------------------------------------------------------------------------- zero knowledge
@pytest.mark.parametrize("n,col_vars", [(1, None), (64, None), (64, 0), (256, 6)])
def test_simulator(n, col_vars):
    com, _ = commit(key(), np.random.randint(0, 9, n), col_vars)
    r = rand_point(com.num_vars)
    C_y = key().commit_scalar(random_scalar(), random_scalar())   # any claim: no witness is used
    c0, c = random_scalar() or 1, random_scalar()
    us = [random_scalar() or 1 for _ in range(com.col_vars)]
    p = simulate_eval(key(), com, r, C_y, c0, us, c)
    _check_eval(key(), com, r, C_y, p, c0, us, c)
    with pytest.raises(VerificationError):
        _check_eval(key(), com, r, C_y, p, (c0 + 1) % R, us, c)


def test_every_proof_byte_position_tampered():
    com, sec, r, y, rho_y, C_y, proof = fixed()
    raw = encode(proof)
    rng = np.random.default_rng()
    for i in range(len(raw)):
        bad_raw = bytearray(raw)
        bad_raw[i] ^= int(rng.integers(1, 256))
        try:
            bad = read_proof(bytes(bad_raw), com.col_vars)
        except ProofFormatError:
            continue
        with pytest.raises(VerificationError):
            verify_eval(key(), T(), com, r, C_y, bad)


def test_simulated_eval_passes_verify_in_interactive_form():
    com, sec, r, y, rho_y, C_y, proof = fixed()
    ch = [random_scalar() or 1 for _ in range(com.col_vars + 2)]
    bogus = key().commit_scalar(y + 1, rho_y)                 # a false claim: no witness needed
    p = simulate_eval(key(), com, r, bogus, ch[0], ch[1:-1], ch[-1])
    t = ProgrammedTranscript(ch)
    verify_eval(key(), t, com, r, bogus, p)
    assert t.remaining() == 0
