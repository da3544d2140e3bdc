"""Sigma protocols (zkdl.sigma): completeness, soundness against false statements and modified
proofs, strict encoding, replay, and zero-knowledge simulators."""
from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkdl import G1, FrVec, PointVec, VerificationError, msm
from zkdl.codec import ProofFormatError, Reader, Writer
from zkdl.field import R_MODULUS
from zkdl.pedersen import PedersenKey, random_scalar
from zkdl.sigma import (
    DotProductProof, EqualityProof, KnowledgeProof, LinearDotProductProof, ProductProof, _check_dot_product,
    _check_equality, _check_knowledge, _check_linear_dot_product, _check_product, challenge_nonzero,
    dot_product_fold_weights, prove_linear_dot_product, simulate_linear_dot_product, verify_linear_dot_product,
    prove_dot_product, prove_equality, prove_knowledge, prove_product, simulate_dot_product,
    simulate_equality, simulate_knowledge, simulate_product, verify_dot_product, verify_equality,
    verify_knowledge, verify_product,
)
from zkdl.transcript import ProgrammedTranscript, Transcript

R = R_MODULUS
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
scalars = st.one_of(st.sampled_from([0, 1, 2, R - 1, R - 2]), st.integers(0, R - 1))


@lru_cache(maxsize=None)
def key() -> PedersenKey:
    return PedersenKey("zkdl-test/sigma", 256)


def T(label: str = "test") -> Transcript:
    return Transcript(label)


# ---------------------------------------------------------------------------- statements
def knowledge_instance(v=None):
    k = key()
    v = random_scalar() if v is None else v
    rho = random_scalar()
    C = k.commit_scalar(v, rho)
    return (C,), (v, rho)


def equality_instance(v=None, delta=0):
    k = key()
    v = random_scalar() if v is None else v
    r1, r2 = random_scalar(), random_scalar()
    return (k.commit_scalar(v, r1), k.commit_scalar(v + delta, r2)), (r1, r2)


def product_instance(x=None, y=None, delta=0):
    k = key()
    x = random_scalar() if x is None else x
    y = random_scalar() if y is None else y
    rx, ry, rz = random_scalar(), random_scalar(), random_scalar()
    stmt = (k.commit_scalar(x, rx), k.commit_scalar(y, ry), k.commit_scalar(x * y + delta, rz))
    return stmt, (x, rx, y, ry, rz)


def dot_instance(n, small=False, y_delta=0):
    k = key()
    x = FrVec.from_int64(np.random.randint(-100, 100, n)) if small else FrVec.random(n)
    a = FrVec.random(n)
    rho, rho_y = random_scalar(), random_scalar()
    C_vec = k.commit_vector(x, rho)
    C_y = k.commit_scalar(x.dot(a) + y_delta, rho_y)
    return (C_vec, C_y, a), (x, rho, rho_y)


PROTOCOLS = {
    "knowledge": (knowledge_instance, prove_knowledge, verify_knowledge, KnowledgeProof.read),
    "equality": (equality_instance, prove_equality, verify_equality, EqualityProof.read),
    "product": (product_instance, prove_product, verify_product, ProductProof.read),
}


#: the dot-product statement's two proofs: logarithmic ("dot") and linear ("linear")
DOTS = {"dot": (prove_dot_product, verify_dot_product), "linear": (prove_linear_dot_product, verify_linear_dot_product)}


def prove(name, stmt, wit, label="test"):
    if name in DOTS:
        return DOTS[name][0](key(), T(label), *stmt, *wit)
    return PROTOCOLS[name][1](key(), T(label), *stmt, *wit)


def verify(name, stmt, proof, label="test", t=None):
    t = T(label) if t is None else t
    if name in DOTS:
        return DOTS[name][1](key(), t, *stmt, proof)
    return PROTOCOLS[name][2](key(), t, *stmt, proof)


def read(name, data, stmt):
    r = Reader(data)
    if name == "dot":
        p = DotProductProof.read(r, len(stmt[2]).bit_length() - 1)
    elif name == "linear":
        p = LinearDotProductProof.read(r, len(stmt[2]))
    else:
        p = PROTOCOLS[name][3](r)
    r.done()
    return p


def encode(proof) -> bytes:
    w = Writer()
    proof.write(w)
    return w.getvalue()


@lru_cache(maxsize=None)
def fixed(name):
    """One honest instance and proof per protocol (dot products: n = 16)."""
    if name in DOTS:
        stmt, wit = dot_instance(16)
    else:
        stmt, wit = PROTOCOLS[name][0]()
    return stmt, prove(name, stmt, wit)


ALL = ["knowledge", "equality", "product", "dot", "linear"]


# ---------------------------------------------------------------------------- completeness
@FAST
@given(v=scalars)
def test_knowledge_complete(v):
    stmt, wit = knowledge_instance(v)
    verify("knowledge", stmt, prove("knowledge", stmt, wit))


@FAST
@given(v=scalars)
def test_equality_complete(v):
    stmt, wit = equality_instance(v)
    verify("equality", stmt, prove("equality", stmt, wit))


@FAST
@given(x=scalars, y=scalars)
def test_product_complete(x, y):
    stmt, wit = product_instance(x, y)
    verify("product", stmt, prove("product", stmt, wit))


@pytest.mark.parametrize("n", [1, 2, 4, 8, 32, 256])
def test_dot_product_complete(n):
    for small in (False, True):
        stmt, wit = dot_instance(n, small)
        proof = prove("dot", stmt, wit)
        assert len(proof.L) == len(proof.R) == n.bit_length() - 1
        verify("dot", stmt, proof)
        assert len(encode(proof)) == 8 + 48 * (2 * (n.bit_length() - 1) + 1) + 64


def test_dot_product_zero_vectors():
    k = key()
    for x, a in [(FrVec.zeros(8), FrVec.random(8)), (FrVec.random(8), FrVec.zeros(8))]:
        rho, rho_y = random_scalar(), random_scalar()
        C_vec, C_y = k.commit_vector(x, rho), k.commit_scalar(0, rho_y)
        verify_dot_product(k, T(), C_vec, C_y, a, prove_dot_product(k, T(), C_vec, C_y, a, x, rho, rho_y))


@pytest.mark.parametrize("name", ALL)
def test_transcripts_stay_in_sync(name):
    """After an accepted proof the prover's and verifier's transcripts agree (composition)."""
    if name in DOTS:
        stmt, wit = dot_instance(8)
    else:
        stmt, wit = PROTOCOLS[name][0]()
    tp, tv = T(), T()
    if name in DOTS:
        proof = DOTS[name][0](key(), tp, *stmt, *wit)
        DOTS[name][1](key(), tv, *stmt, proof)
    else:
        proof = PROTOCOLS[name][1](key(), tp, *stmt, *wit)
        PROTOCOLS[name][2](key(), tv, *stmt, proof)
    assert tp.challenge_scalar(b"next") == tv.challenge_scalar(b"next")


def test_fold_weights_match_explicit_folding():
    """G_final = msm(G, s) equals folding G' = u^-1 G_L + u G_R round by round, and
    a_final = <a, s> equals folding a' = u^-1 a_L + u a_R (the same pattern)."""
    k = key()
    n = 8
    us = [random_scalar() for _ in range(3)]
    s = dot_product_fold_weights(us)
    G = list(k.G[:n])
    a = FrVec.random(n).to_ints()
    a0 = list(a)
    for u in us:
        ui = pow(u, -1, R)
        m = len(G) // 2
        G = [G[i] * ui + G[m + i] * u for i in range(m)]
        a = [(a[i] * ui + a[m + i] * u) % R for i in range(m)]
    assert msm(k.G[:n], s) == G[0]
    assert FrVec.from_ints(a0).dot(s) == a[0]
    assert dot_product_fold_weights([]).to_ints() == [1]


def test_challenge_nonzero_redraws():
    class Fake:
        def __init__(self):
            self.out = [0, 0, 7]

        def challenge_scalar(self, label):
            return self.out.pop(0)

    assert challenge_nonzero(Fake(), b"c") == 7


# ---------------------------------------------------------------------------- false statements
def test_equality_of_different_values_rejected():
    stmt, wit = equality_instance(delta=1)
    with pytest.raises(VerificationError, match="equality"):
        verify("equality", stmt, prove("equality", stmt, wit))


@FAST
@given(delta=st.sampled_from([1, R - 1, 2**64]))
def test_wrong_product_rejected(delta):
    stmt, wit = product_instance(delta=delta)
    with pytest.raises(VerificationError, match="product"):
        verify("product", stmt, prove("product", stmt, wit))


@pytest.mark.parametrize("name", list(DOTS))
@pytest.mark.parametrize("n", [1, 4, 64])
def test_dot_product_wrong_y_rejected(name, n):
    stmt, wit = dot_instance(n, y_delta=1)
    with pytest.raises(VerificationError, match="dot-product"):
        verify(name, stmt, prove(name, stmt, wit))


@pytest.mark.parametrize("name", list(DOTS))
@pytest.mark.parametrize("n", [1, 16])
def test_dot_product_wrong_public_vector_rejected(name, n):
    stmt, wit = dot_instance(n)
    proof = prove(name, stmt, wit)
    C_vec, C_y, a = stmt
    a2 = a.copy()
    a2[n - 1] = (a[n - 1] + 1) % R
    with pytest.raises(VerificationError):
        verify(name, (C_vec, C_y, a2), proof)
    # the prover using the wrong vector for an honest y fails too
    with pytest.raises(VerificationError):
        verify(name, (C_vec, C_y, a2), prove(name, (C_vec, C_y, a2), wit))


@pytest.mark.parametrize("name", list(DOTS))
def test_dot_product_wrong_vector_commitment_rejected(name):
    (C_vec, C_y, a), (x, rho, rho_y) = dot_instance(8)
    x2 = x.copy()
    x2[3] = (x[3] + 1) % R
    C2 = key().commit_vector(x2, rho)
    with pytest.raises(VerificationError):
        verify(name, (C2, C_y, a), prove(name, (C2, C_y, a), (x, rho, rho_y)))


@pytest.mark.parametrize("n", [1, 2, 3, 16, 255, 256])
def test_linear_dot_product_complete(n):
    """Any length (not only powers of two); the size is 2 points, n + 2 scalars and one count."""
    for small in (False, True):
        stmt, wit = dot_instance(n, small)
        proof = prove("linear", stmt, wit)
        verify("linear", stmt, proof)
        assert len(encode(proof)) == 2 * 48 + 4 + 32 * (n + 2)
    k = key()
    for x, a in [(FrVec.zeros(8), FrVec.random(8)), (FrVec.random(8), FrVec.zeros(8))]:
        rho, rho_y = random_scalar(), random_scalar()
        C_vec, C_y = k.commit_vector(x, rho), k.commit_scalar(0, rho_y)
        verify("linear", (C_vec, C_y, a), prove("linear", (C_vec, C_y, a), (x, rho, rho_y)))


def test_linear_dot_product_statement_shape_rejected():
    (C_vec, C_y, a), proof = fixed("linear")
    for a2 in (a[:8], FrVec.concat([a, a]), a.to_ints()):
        with pytest.raises(VerificationError):
            verify("linear", (C_vec, C_y, a2), proof)
    with pytest.raises(VerificationError, match="key size"):
        verify_linear_dot_product(PedersenKey("zkdl-test/sigma", 8), T(), C_vec, C_y, a, proof)
    with pytest.raises(VerificationError, match="16 scalars"):
        verify("linear", (C_vec, C_y, a), dataclasses.replace(proof, z=proof.z[:15]))


def test_dot_product_statement_shape_rejected():
    (C_vec, C_y, a), proof = fixed("dot")
    with pytest.raises(VerificationError):  # length 8 needs 3 rounds, the proof has 4
        verify("dot", (C_vec, C_y, a[:8]), proof)
    with pytest.raises(VerificationError):  # not a power of two
        verify("dot", (C_vec, C_y, a[:12]), proof)
    big = PedersenKey("zkdl-test/sigma", 8)
    with pytest.raises(VerificationError, match="key size"):
        verify_dot_product(big, T(), C_vec, C_y, a, proof)


# ---------------------------------------------------------------------------- modified proofs
def _elements(proof):
    """(field name, index or None) for every group element and scalar of a proof."""
    out = []
    for f in dataclasses.fields(proof):
        v = getattr(proof, f.name)
        if isinstance(v, (PointVec, FrVec)):
            out += [(f.name, i) for i in range(len(v))]
        else:
            out.append((f.name, None))
    return out


def _modify(proof, name, idx, how):
    """Replace a point by another valid point (P + h, or a random point), a scalar by s + 1."""
    h = key().h
    v = getattr(proof, name)
    if isinstance(v, PointVec):
        pts = list(v)
        pts[idx] = pts[idx] + h if how == 0 else key().g * random_scalar()
        new = PointVec.from_points(pts)
    elif isinstance(v, FrVec):
        vals = v.to_ints()
        vals[idx] = (vals[idx] + 1) % R if how == 0 else random_scalar()
        new = FrVec.from_ints(vals)
    elif isinstance(v, G1):
        new = v + h if how == 0 else key().g * random_scalar()
    else:
        new = (v + 1) % R if how == 0 else (v + random_scalar()) % R
    return dataclasses.replace(proof, **{name: new})


@pytest.mark.parametrize("name", ALL)
@FAST
@given(data=st.data())
def test_every_modified_element_rejected(name, data):
    stmt, proof = fixed(name)
    verify(name, stmt, proof)
    field, idx = data.draw(st.sampled_from(_elements(proof)))
    bad = _modify(proof, field, idx, data.draw(st.sampled_from([0, 1])))
    with pytest.raises(VerificationError):
        verify(name, stmt, bad)


@pytest.mark.parametrize("name", ALL)
def test_all_elements_modified_exhaustively(name):
    stmt, proof = fixed(name)
    for field, idx in _elements(proof):
        with pytest.raises(VerificationError):
            verify(name, stmt, _modify(proof, field, idx, 0))


@pytest.mark.parametrize("name", ALL)
def test_ill_formed_proof_objects_rejected(name):
    stmt, proof = fixed(name)
    fields = dataclasses.fields(proof)
    bad_point = G1(np.arange(12, dtype=np.uint64) + 1)  # not on the curve
    for f in fields:
        v = getattr(proof, f.name)
        if isinstance(v, G1):
            cands = [bad_point, None]
        elif isinstance(v, PointVec):
            cands = [PointVec.identity(len(v) + 1), v[:-1] if len(v) else PointVec.identity(1),
                     PointVec.from_points([bad_point] * max(len(v), 1)), list(v)]
        else:
            cands = [R, -1, None, 1.5]
        for bad in cands:
            with pytest.raises(VerificationError):
                verify(name, stmt, dataclasses.replace(proof, **{f.name: bad}))
    other = fixed("knowledge" if name != "knowledge" else "equality")[1]
    with pytest.raises(VerificationError):
        verify(name, stmt, other)


# ---------------------------------------------------------------------------- encoding
@pytest.mark.parametrize("name", ALL)
def test_roundtrip_and_sizes(name):
    stmt, proof = fixed(name)
    data = encode(proof)
    assert read(name, data, stmt) == proof
    sizes = {"knowledge": 48 + 64, "equality": 48 + 32, "product": 3 * 48 + 5 * 32,
             "dot": 8 + (2 * 4 + 1) * 48 + 64, "linear": 2 * 48 + 4 + 18 * 32}
    assert len(data) == sizes[name]


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_byte_tampering(name, data):
    stmt, proof = fixed(name)
    raw = bytearray(encode(proof))
    i = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[i] ^= data.draw(st.integers(1, 255), label="mask")
    try:
        bad = read(name, bytes(raw), stmt)
    except ProofFormatError:
        return
    with pytest.raises(VerificationError):
        verify(name, stmt, bad)


@pytest.mark.parametrize("name", ALL)
def test_truncated_and_trailing_bytes(name):
    stmt, proof = fixed(name)
    raw = encode(proof)
    for cut in (1, 31, len(raw) - 1):
        with pytest.raises(ProofFormatError):
            read(name, raw[:-cut], stmt)
    with pytest.raises(ProofFormatError):
        read(name, raw + b"\x00", stmt)


def test_dot_product_read_wrong_round_count():
    stmt, proof = fixed("dot")
    raw = encode(proof)
    for rounds in (3, 5):
        with pytest.raises(ProofFormatError):
            r = Reader(raw)
            DotProductProof.read(r, rounds)
            r.done()


# ---------------------------------------------------------------------------- replay
@pytest.mark.parametrize("name", ALL)
def test_replay_other_statement_or_transcript(name):
    stmt, proof = fixed(name)
    with pytest.raises(VerificationError):
        verify(name, stmt, proof, label="another protocol")
    t = T()
    t.append_scalar(b"context", 1)
    with pytest.raises(VerificationError):
        verify(name, stmt, proof, t=t)
    # another true statement of the same kind
    other = dot_instance(16)[0] if name in DOTS else PROTOCOLS[name][0]()[0]
    with pytest.raises(VerificationError):
        verify(name, other, proof)
    # each statement point replaced alone
    for i in range(len(stmt)):
        if isinstance(stmt[i], G1):
            s2 = list(stmt)
            s2[i] = other[i]
            with pytest.raises(VerificationError):
                verify(name, tuple(s2), proof)


def test_swapped_statement_points_rejected():
    (Cx, Cy, Cz), proof = fixed("product")
    with pytest.raises(VerificationError):
        verify("product", (Cy, Cx, Cz), proof)
    (C1, C2), proof = fixed("equality")
    with pytest.raises(VerificationError):
        verify("equality", (C2, C1), proof)


def test_other_key_rejected():
    stmt, proof = fixed("knowledge")
    with pytest.raises(VerificationError):
        verify_knowledge(PedersenKey("zkdl-test/other", 1), T(), *stmt, proof)


# ---------------------------------------------------------------------------- zero knowledge
@FAST
@given(c=scalars)
def test_simulators_sigma(c):
    """Simulated transcripts (no witness) pass the interactive checks; with another challenge
    they fail (the simulator must pick the challenge first)."""
    k = key()
    (C,), _ = knowledge_instance()
    p = simulate_knowledge(k, C, c)
    _check_knowledge(k, C, p, c)
    with pytest.raises(VerificationError):
        _check_knowledge(k, C, p, (c + 1) % R)
    (C1, C2), _ = equality_instance(delta=5)  # even a false statement: the simulator needs no witness
    p = simulate_equality(k, C1, C2, c)
    _check_equality(k, C1, C2, p, c)
    (Cx, Cy, Cz), _ = product_instance(delta=1)
    p = simulate_product(k, Cx, Cy, Cz, c)
    _check_product(k, Cx, Cy, Cz, p, c)
    with pytest.raises(VerificationError):
        _check_product(k, Cx, Cy, Cz, p, (c + 1) % R)


@pytest.mark.parametrize("n", [1, 2, 16, 128])
def test_simulator_dot_product(n):
    k = key()
    (C_vec, C_y, a), _ = dot_instance(n, y_delta=3)  # false statement, no witness used
    rounds = n.bit_length() - 1
    c0, c = random_scalar() or 1, random_scalar()
    us = [random_scalar() or 1 for _ in range(rounds)]
    p = simulate_dot_product(k, C_vec, C_y, a, c0, us, c)
    _check_dot_product(k, C_vec, C_y, a, p, c0, us, c)
    with pytest.raises(VerificationError):
        _check_dot_product(k, C_vec, C_y, a, p, c0, us, (c + 1) % R)
    if rounds:
        with pytest.raises(VerificationError):
            _check_dot_product(k, C_vec, C_y, a, p, c0, [(us[0] + 1) % R] + us[1:], c)
        with pytest.raises(VerificationError, match="zero challenge"):
            _check_dot_product(k, C_vec, C_y, a, p, c0, [0] + us[1:], c)


@pytest.mark.parametrize("n", [1, 3, 16, 128])
def test_simulator_linear_dot_product(n):
    """Simulated proofs of a false statement (no witness) pass the check at their challenge and
    fail at another; honest responses z = c x + d are uniform like the simulator's."""
    k = key()
    (C_vec, C_y, a), _ = dot_instance(n, y_delta=3)
    c = random_scalar() or 1
    p = simulate_linear_dot_product(k, C_vec, C_y, a, c)
    _check_linear_dot_product(k, C_vec, C_y, a, p, c)
    with pytest.raises(VerificationError):
        _check_linear_dot_product(k, C_vec, C_y, a, p, (c + 1) % R or 1)
    with pytest.raises(VerificationError, match="zero challenge"):
        _check_linear_dot_product(k, C_vec, C_y, a, p, 0)
    stmt, wit = dot_instance(n)
    p1, p2 = prove("linear", stmt, wit), prove("linear", stmt, wit)
    assert p1.delta != p2.delta and not set(p1.z.to_ints()) & set(p2.z.to_ints())
    # programmed challenge: the transcript-driven verifier accepts the simulated proof
    t = ProgrammedTranscript([c])
    verify_linear_dot_product(k, t, C_vec, C_y, a, p)
    assert t.remaining() == 0


def test_linear_dot_product_checks_batch_with_others():
    """Its two checks join sigma.batched_checks (the vector check shares the key's generators with
    logarithmic dot-product checks); a false one among honest ones is named."""
    from zkdl.sigma import batched_checks, labelled

    proofs = [(name, s, prove(name, s, w)) for name, (s, w) in
              (("linear", dot_instance(16)), ("dot", dot_instance(64)), ("linear", dot_instance(5)))]
    with batched_checks() as b:
        for name, s, p in proofs:
            verify(name, s, p)
        assert len(b.items) == 5
    bad_stmt, bad_wit = dot_instance(4, y_delta=1)
    with pytest.raises(VerificationError, match=r"^opening 3: linear dot-product: c\*C_y \+ beta"):
        with batched_checks():
            verify(proofs[0][0], proofs[0][1], proofs[0][2])
            with labelled("opening 3"):
                verify("linear", bad_stmt, prove("linear", bad_stmt, bad_wit))
            verify(proofs[1][0], proofs[1][1], proofs[1][2])


def test_honest_dot_product_messages_look_uniform():
    """L and R of honest proofs are blinded: two proofs of the same statement share no message."""
    stmt, wit = dot_instance(8)
    p1, p2 = prove("dot", stmt, wit), prove("dot", stmt, wit)
    assert not set(encode(p1)[i:i + 48] for i in range(4, 4 + 48 * 3, 48)) & \
        set(encode(p2)[i:i + 48] for i in range(4, 4 + 48 * 3, 48))


@pytest.mark.parametrize("name", ALL)
def test_every_byte_position_tampered(name):
    """Each byte of the encoding flipped once (random nonzero mask): never accepted."""
    stmt, proof = fixed(name)
    raw = encode(proof)
    rng = np.random.default_rng()
    for i in range(len(raw)):
        bad_raw = bytearray(raw)
        bad_raw[i] ^= int(rng.integers(1, 256))
        try:
            bad = read(name, bytes(bad_raw), stmt)
        except ProofFormatError:
            continue
        with pytest.raises(VerificationError):
            verify(name, stmt, bad)


def test_simulated_transcripts_pass_verify_in_interactive_form():
    """The transcript-driven verifiers accept simulated proofs when the challenges are programmed."""
    k = key()
    c = random_scalar() or 1
    (C,), _ = knowledge_instance()
    verify_knowledge(k, ProgrammedTranscript([c]), C, simulate_knowledge(k, C, c))
    (C1, C2), _ = equality_instance(delta=1)
    verify_equality(k, ProgrammedTranscript([c]), C1, C2, simulate_equality(k, C1, C2, c))
    (Cx, Cy, Cz), _ = product_instance(delta=1)
    verify_product(k, ProgrammedTranscript([c]), Cx, Cy, Cz, simulate_product(k, Cx, Cy, Cz, c))
    (C_vec, C_y, a), _ = dot_instance(8, y_delta=1)
    ch = [random_scalar() or 1 for _ in range(5)]          # c0, u_1..u_3, c
    p = simulate_dot_product(k, C_vec, C_y, a, ch[0], ch[1:4], ch[4])
    t = ProgrammedTranscript(ch)
    verify_dot_product(k, t, C_vec, C_y, a, p)
    assert t.remaining() == 0
    # the interactive prover with programmed challenges gives the same kind of accepted proof
    stmt, wit = dot_instance(8)
    p = prove_dot_product(k, ProgrammedTranscript(ch), *stmt, *wit)
    _check_dot_product(k, *stmt, p, ch[0], ch[1:4], ch[4])


# ---------------------------------------------------------------------------- batched verification
def test_batched_checks_accept_honest_and_reject_one_false_among_many():
    """Inside sigma.batched_checks every Σ check is deferred to one random combination; honest
    proofs pass, and one false proof among honest ones is rejected by name, with its labels."""
    from zkdl.sigma import batched_checks, labelled

    honest = [("equality", *equality_instance()), ("product", *product_instance()), ("dot", *dot_instance(16)),
              ("knowledge", *knowledge_instance())]
    proofs = [(n, s, prove(n, s, w)) for n, s, w in honest]
    with batched_checks() as b:
        for n, s, p in proofs:
            verify(n, s, p)
        assert len(b.items) >= 4       # deferred, not yet checked
    bad_stmt, bad_wit = product_instance(delta=1)
    bad = prove("product", bad_stmt, bad_wit)
    with pytest.raises(VerificationError, match=r"^layer 7: product: delta"):
        with batched_checks():
            for n, s, p in proofs[:2]:
                verify(n, s, p)
            with labelled("layer 7"):
                verify("product", bad_stmt, bad)     # deferred: no error here
            for n, s, p in proofs[2:]:
                verify(n, s, p)
    # dot-product checks share the key's generators (their scalars are summed in the batch's
    # MSM): honest ones of different lengths pass together, and one false one among them (the
    # shortest, so its generators are a prefix of the others') is named
    dots = [(s, prove("dot", s, w)) for s, w in (dot_instance(n) for n in (16, 4, 64))]
    with batched_checks() as b:
        for s, p in dots:
            verify("dot", s, p)
        assert len(b.items) == 3 and all(item[-1] is not None for item in b.items)
    dot_stmt, dot_wit = dot_instance(4, y_delta=1)
    with pytest.raises(VerificationError, match=r"^opening 2: dot-product: z1\*Q"):
        with batched_checks():
            verify("dot", *dots[0])
            with labelled("opening 2"):
                verify("dot", dot_stmt, prove("dot", dot_stmt, dot_wit))
            verify("dot", *dots[2])
    # outside a batch the same proof fails at once, with the same message
    with pytest.raises(VerificationError, match=r"^layer 7: product: delta"):
        with labelled("layer 7"):
            verify("product", bad_stmt, bad)


@pytest.mark.parametrize("name", list(DOTS))
@pytest.mark.parametrize("n", [1, 8])
def test_dot_product_on_a_commitment_the_transcript_fixes(name, n):
    """Format 6 openings (and the linear ones of inference proofs, format 8): C_vec = 3 C1 + 5 C2
    is not absorbed and not computed; the verifier gets the combination.  A wrong combination, the
    point itself in its place (another transcript) and a malformed combination are rejected."""
    prove_dot_product, verify_dot_product = DOTS[name]
    wrong = {"dot": "final Schnorr check", "linear": "c\\*C_vec \\+ delta"}[name]
    k = key()
    x1, x2, a = FrVec.random(n), FrVec.random(n), FrVec.random(n)
    r1, r2, rho_y = random_scalar(), random_scalar(), random_scalar()
    C1, C2 = k.commit_vector(x1, r1), k.commit_vector(x2, r2)
    x, rho = x1 * 3 + x2 * 5, (3 * r1 + 5 * r2) % R_MODULUS
    C_y = k.commit_scalar(x.dot(a), rho_y)
    proof = prove_dot_product(k, T(), None, C_y, a, x, rho, rho_y)
    both = PointVec.from_points([C1, C2])
    verify_dot_product(k, T(), (both, FrVec.from_ints([3, 5])), C_y, a, proof)
    with pytest.raises(VerificationError, match=wrong):
        verify_dot_product(k, T(), (both, FrVec.from_ints([3, 6])), C_y, a, proof)
    with pytest.raises(VerificationError):
        verify_dot_product(k, T(), msm(both, FrVec.from_ints([3, 5])), C_y, a, proof)
    with pytest.raises(VerificationError, match="combination of equal lengths"):
        verify_dot_product(k, T(), (both, FrVec.from_ints([3])), C_y, a, proof)


def test_equality_of_commitments_the_transcript_fixes():
    """Format 7 zk sumchecks: both sides of the final equality are combinations the verifier
    hands to the check (not absorbed, not computed).  Wrong weights, the point itself in place of
    the derived tag (another transcript) and a malformed combination are rejected."""
    k = key()
    v, r1, r2, rho2 = random_scalar(), random_scalar(), random_scalar(), random_scalar()
    A, B = k.commit_scalar(v, r1), k.commit_scalar(2 * v, r2)        # C1 = 2A - B commits 0
    C2 = k.commit_scalar(0, rho2)
    proof = prove_equality(k, T(), None, None, (2 * r1 - r2) % R, rho2)
    lhs = (PointVec.from_points([A, B]), FrVec.from_ints([2, R - 1]))
    with pytest.raises(VerificationError):
        verify_equality(k, T(), lhs, C2, proof)                     # C2 absorbed: another transcript
    verify_equality(k, T(), lhs, (PointVec.from_points([C2]), FrVec.ones(1)), proof)
    with pytest.raises(VerificationError, match="z\\*h != alpha"):
        verify_equality(k, T(), (lhs[0], FrVec.from_ints([2, R - 2])), (PointVec.from_points([C2]), FrVec.ones(1)),
                        proof)
    with pytest.raises(VerificationError, match="combination of equal lengths"):
        verify_equality(k, T(), (lhs[0], FrVec.from_ints([2])), (PointVec.from_points([C2]), FrVec.ones(1)), proof)
