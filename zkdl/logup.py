"""Zero-knowledge range check by logUp with a GKR fractional sumcheck (Papini–Haböck 2023).

Statement.  A committed vector v of length 2^k (entries claimed in [0, 2^16)) and a committed
multiplicity vector m of length 2^16 (m[j] = number of i with v_ext[i] = j).  The caller has
committed v and m in its own way and absorbed those commitments into the transcript.  The proof
shows, for alpha drawn from the transcript,

    sum_i 1/(alpha - v_ext[i])  =  sum_{j < 2^16} m[j]/(alpha - j),

which (alpha random, Schwartz–Zippel on the cleared-denominator identity of rational functions)
implies that every v_i lies in [0, 2^16).  It outputs evaluation CLAIMS on v and m at random
points, as Pedersen commitments to the claimed values; the caller proves those claims against
its commitments (this module never opens v or m).

The table size is a parameter: 2^b entries with 1 <= b <= 16 (default b = 16, written 16 below).
Small witnesses (inference) use a small table, so that the table side does not dominate; the
prover infers b from len(m), the verifier is told b (it is part of the public statement and is
absorbed into the transcript with k and K).  Everywhere below read 16 as b and K = max(b, k).

Construction.  K = max(16, k).  v_ext is v zero-extended to 2^K, m_ext is m zero-extended to 2^K.
The padding entries of v_ext are the value 0, which is in range, so the honest m counts them in
m[0] (:func:`multiplicities` does).  Variable order as everywhere in zkdl: x_1 is the MOST
significant index bit (docs/protocol.md §2).

* Leaves (level K+1): 2^(K+1) fractions (p, q) indexed by (side, x), side the most significant
  bit.  Witness side (side = 0): p = 1, q = alpha - v_ext[x].  Table side (side = 1):
  p = -m_ext[x], q = alpha - x (x read as an integer).
* Tree: level j has 2^j entries, (p, q)_j[y] = (p_L q_R + p_R q_L, q_L q_R) with L = entry 2y and
  R = entry 2y+1 of level j+1 (children differ in the LAST, least significant, variable).
  The root p_0 / q_0 is the sum of all leaf fractions, so the statement is p_0 = 0.  The verifier
  takes the identity point (value 0, blind 0) as the commitment to p_0; the prover sends
  Com(q_0; random blind).  No proof that q_0 != 0 is needed: q_0 is the product of the 2^(K+1)
  factors alpha - value, and is zero only if alpha hits one of those values, probability at
  most 2^(K+1)/r for the alpha drawn after the commitments to v and m.
* Layer j -> j+1 (j = 0..K): from claims Com(p_j(u)), Com(q_j(u)) at u in F^j the verifier draws
  lambda and runs the zero-knowledge sumcheck (zkdl.sumcheck.prove_zk / verify_zk) over j
  variables with eq factor at u of

      Com(p_j(u)) + lambda Com(q_j(u)) = sum_y eq(u, y) [pL qR + pR qL + lambda qL qR](y)

  with factor tables pL = p_{j+1}[0::2], pR = p_{j+1}[1::2], qL, qR (factor order 0..3).  This
  yields r (j coordinates) and commitments to pL(r), pR(r), qL(r), qR(r).  The verifier draws mu
  and sets Com(p_{j+1}(r, mu)) = (1 - mu) Com(pL(r)) + mu Com(pR(r)), the same for q, and the
  next point u' = r + [mu].  At j = 0 the sumcheck has no variables (prove_zk/verify_zk handle
  that: the factor commitments, product proofs and the final equality proof, no rounds).
* Leaves: at rho = (rho_side, x) (K+1 coordinates) the multilinear leaf tables are
      p_leaf(rho) = (1 - rho_side) - rho_side m_ext(x)
      q_leaf(rho) = alpha - (1 - rho_side) v_ext(x) - rho_side idx(x),
  idx(x) = sum_b 2^(K-1-b) x_b the MLE of the index.  The verifier DERIVES, homomorphically,
      Com(m_ext(x)) = ((1 - rho_side) g - Com(p_leaf(rho))) / rho_side
      Com(v_ext(x)) = ((alpha - rho_side idx(x)) g - Com(q_leaf(rho))) / (1 - rho_side)
  and undoes the zero-extension: v_ext(x) = prod_{i < K-k} (1 - x_i) v(x[K-k:]), so
  Com(v(x_v)) = Com(v_ext(x)) / prod_{i < K-k}(1 - x_i) with x_v = x[K-k:], and likewise
  Com(m(x_m)) with x_m = x[K-16:].  A zero divisor has probability <= 1/r per division
  (prover: ZkdlError, verifier: VerificationError).  The prover transforms its values and blinds
  by the same affine maps, so the outputs open to v(x_v) and m(x_m).

Transcript.  Domain b"zkdl/logup", then k, K and the table bits; then alpha; then Com(q_0); then
per layer lambda, the sumcheck (which absorbs its own messages), mu.

Proof size.  Com(q_0), and per layer j a zero-knowledge sumcheck of degree 2 over j variables with
4 private factors and 3 two-factor terms: 2j round commitments (C_0 is derived), 4 factor commitments, 3 product
commitments, 3 product proofs (3 points + 5 scalars each) and one equality proof (1 point +
1 scalar).  In all 1 + K(K+1) + 17(K+1) group elements and 16(K+1) scalars (K = 16: 562
points, 272 scalars, about 36 kB with the u32 counts).

Soundness.  If sum_i 1/(X - v_ext[i]) = sum_j m[j]/(X - j) as rational functions over F_r, then
every value occurring in v_ext is a pole of the right side, i.e. some j < 2^16 (its multiplicity,
at most 2^30 < r, cannot vanish mod r).  Otherwise the cleared-denominator polynomial is nonzero of
degree < 2^K + 2^16 <= 2^(K+1), so a random alpha satisfies the identity with probability at
most 2^(K+1)/r.  Layer j adds 3j/r (sumcheck rounds of degree 3 with the eq factor), 1/r for the
batching by lambda and 1/r for mu; the Σ-protocols and Pedersen binding rest on discrete logs in
G1.  All negligible for r ~ 2^255.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .codec import ProofFormatError, Reader, Writer
from .curve import G1, PointVec, msm
from .errors import FieldRangeError, ShapeError, VerificationError, ZkdlError
from .field import R_MODULUS, FrVec
from .mle import log2_exact
from .pedersen import random_scalar
from .sumcheck import SumcheckSpec, Term, ZkSumcheckProof, prove_zk, verify_zk
from .transcript import Transcript

TABLE_BITS = 16
MAX_K = 30

__all__ = ["TABLE_BITS", "LogupProof", "multiplicities", "prove", "verify", "proof_size_points"]


def _big_k(k: int, tb: int = TABLE_BITS) -> int:
    return max(tb, k)


def _check_tb(tb) -> int:
    if isinstance(tb, bool) or not isinstance(tb, (int, np.integer)) or not 1 <= int(tb) <= TABLE_BITS:
        raise ShapeError(f"logup: table bits = {tb!r}, expected an integer in [1, {TABLE_BITS}]")
    return int(tb)


def _check_k(k) -> int:
    if not isinstance(k, (int, np.integer)) or not 0 <= int(k) <= MAX_K:
        raise ShapeError(f"logup: k = {k!r}, expected an integer in [0, {MAX_K}]")
    return int(k)


# ---------------------------------------------------------------------------- multiplicities


def multiplicities(values, k: int, table_bits: int = TABLE_BITS) -> np.ndarray:
    """m[j] = number of entries equal to j in `values` zero-extended to 2^max(16, k).

    `values` is an integer array of at most 2^k entries (any shape, flattened; a shorter vector is
    taken as zero-padded to 2^k, which is what the MLE of a padded tensor means).  The padding
    zeros are counted in m[0].  Raises FieldRangeError naming the first value outside
    [0, 2^16)."""
    k = _check_k(k)
    tb = _check_tb(table_bits)
    arr = np.asarray(values)
    if arr.dtype.kind not in "iub":
        raise ShapeError(f"multiplicities: expected an integer array, got dtype {arr.dtype}")
    arr = arr.reshape(-1)
    if arr.size > 1 << k:
        raise ShapeError(f"multiplicities: {arr.size} values for k = {k} (at most {1 << k})")
    if arr.dtype.kind == "u":
        bad = np.flatnonzero(arr >= (1 << tb))
    else:
        bad = np.flatnonzero((arr < 0) | (arr >= (1 << tb)))
    if bad.size:
        i = int(bad[0])
        raise FieldRangeError(f"multiplicities: value {int(arr[i])} at index {i} is outside "
                              f"[0, 2^{tb})")
    m = np.bincount(arr.astype(np.int64, copy=False), minlength=1 << tb).astype(np.int64)
    m[0] += (1 << _big_k(k, tb)) - arr.size
    return m


# ---------------------------------------------------------------------------- proof object


def _layer_spec(j: int, lam: int = 1, u=None) -> SumcheckSpec:
    """Layer j's sumcheck: eq(u, y) [pL qR + pR qL + lambda qL qR], factors pL, pR, qL, qR."""
    point = tuple(u) if u is not None else (0,) * j
    return SumcheckSpec(j, 4, (Term(1, (0, 3)), Term(1, (1, 2)), Term(lam % R_MODULUS, (2, 3))), point)


@dataclass(frozen=True)
class LogupProof:
    """Com(q_0) and one zero-knowledge sumcheck per layer j = 0..K."""

    root_q: G1
    layers: tuple  # ZkSumcheckProof per layer, layer j has j rounds

    def write(self, w: Writer) -> None:
        w.point(self.root_q)
        w.u32(len(self.layers))
        for layer in self.layers:
            layer.write(w)

    @classmethod
    def read(cls, r: Reader, k: int, table_bits: int = TABLE_BITS) -> "LogupProof":
        k = _check_k(k)
        K = _big_k(k, _check_tb(table_bits))
        root = r.point("logup root q")
        n = r.u32("logup layers", MAX_K + 1)
        if n != K + 1:
            raise ProofFormatError(f"logup: {n} layers, expected {K + 1}")
        layers = tuple(ZkSumcheckProof.read(r, _layer_spec(j)) for j in range(n))
        return cls(root, layers)


def proof_size_points(k: int, table_bits: int = TABLE_BITS) -> tuple[int, int]:
    """(group elements, scalars) of a proof for 2^k values (u32 counts not included)."""
    K = _big_k(_check_k(k), _check_tb(table_bits))
    return 1 + K * (K + 1) + 17 * (K + 1), 16 * (K + 1)


# ---------------------------------------------------------------------------- shared pieces


def _start(t: Transcript, k: int, K: int, tb: int) -> int:
    t.domain(b"zkdl/logup")
    t.append_u64(b"k", k)
    t.append_u64(b"K", K)
    t.append_u64(b"table-bits", tb)
    return t.challenge_scalar(b"alpha")


def _idx_eval(x) -> int:
    K = len(x)
    return sum(pow(2, K - 1 - b, R_MODULUS) * xb for b, xb in enumerate(x)) % R_MODULUS


def _prod_one_minus(xs) -> int:
    acc = 1
    for x in xs:
        acc = acc * (1 - x) % R_MODULUS
    return acc


def _inv(x: int, what: str, err) -> int:
    x %= R_MODULUS
    if x == 0:
        raise err(f"logup: {what} is zero (probability 1/r); retry the proof")
    return pow(x, -1, R_MODULUS)


def _leaf_maps(alpha: int, rho, k: int, K: int, err, tb: int):
    """Affine maps from the leaf claims to the claims on v and m:
        m(x_m) = (c_m - p_leaf) * s_m,   v(x_v) = (c_v - q_leaf) * s_v
    returns (x_v, c_v, s_v, x_m, c_m, s_m)."""
    s, x = rho[0], list(rho[1:])
    inv_s = _inv(s, "rho_side", err)
    inv_1s = _inv(1 - s, "1 - rho_side", err)
    inv_zv = _inv(_prod_one_minus(x[:K - k]), "the zero-extension factor of v", err)
    inv_zm = _inv(_prod_one_minus(x[:K - tb]), "the zero-extension factor of m", err)
    c_m = (1 - s) % R_MODULUS
    s_m = inv_s * inv_zm % R_MODULUS
    c_v = (alpha - s * _idx_eval(x)) % R_MODULUS
    s_v = inv_1s * inv_zv % R_MODULUS
    return x[K - k:], c_v, s_v, x[K - tb:], c_m, s_m


def _lin(points, scalars) -> G1:
    return msm(PointVec.from_points(list(points)), FrVec.from_ints([int(s) % R_MODULUS for s in scalars]))


# ---------------------------------------------------------------------------- prover


def _split(vec: FrVec) -> tuple[FrVec, FrVec]:
    return FrVec(vec.limbs[0::2]), FrVec(vec.limbs[1::2])


def prove(key, t: Transcript, v: FrVec, m: FrVec):
    """Prove sum 1/(alpha - v_ext) = sum m/(alpha - j) for v of length 2^k and m of length 2^16.

    Returns (proof, x_v, (v(x_v), blind), x_m, (m(x_m), blind)): the caller must prove that its
    commitments to v and m evaluate at x_v, x_m to the values committed as
    key.commit_scalar(value, blind) (verify returns those commitments).  The prover does not check
    the range of v: an out-of-range v gives a proof the verifier rejects."""
    if not isinstance(v, FrVec) or not isinstance(m, FrVec):
        raise ShapeError("logup: v and m must be FrVecs")
    k = _check_k(log2_exact(len(v)))
    if len(m) < 2 or len(m) & (len(m) - 1) or len(m) > 1 << TABLE_BITS:
        raise ShapeError(f"logup: m has length {len(m)}, expected 2^b with 1 <= b <= {TABLE_BITS}")
    tb = len(m).bit_length() - 1
    K = _big_k(k, tb)
    alpha = _start(t, k, K, tb)

    # leaves (side = most significant bit)
    n = 1 << K
    v_ext = v if k == K else FrVec.concat([v, FrVec.zeros(n - len(v))])
    m_ext = m if K == tb else FrVec.concat([m, FrVec.zeros(n - len(m))])
    idx = FrVec.from_int64(np.arange(n, dtype=np.int64))
    p = FrVec.concat([FrVec.ones(n), -m_ext])
    q = FrVec.concat([alpha - v_ext, alpha - idx])
    del v_ext, m_ext, idx

    # the tree: quads[j] = (pL, pR, qL, qR) of level j+1
    quads = [None] * (K + 1)
    for j in range(K, -1, -1):
        pL, pR = _split(p)
        qL, qR = _split(q)
        quads[j] = (pL, pR, qL, qR)
        p = pL * qR + pR * qL
        q = qL * qR
    q0 = q[0]

    bq0 = random_scalar()
    root_q = key.commit_scalar(q0, bq0)
    t.append_point(b"root-q", root_q)

    # running claims (value, blind); p_0 is committed as the identity (value 0, blind 0)
    p_val, p_bl = 0, 0
    q_val, q_bl = q0, bq0
    u: list[int] = []
    layers = []
    for j in range(K + 1):
        lam = t.challenge_scalar(b"lambda")
        spec = _layer_spec(j, lam, u)
        tables = list(quads[j])
        quads[j] = None
        proof_j, r, op = prove_zk(key, spec, tables, (p_bl + lam * q_bl) % R_MODULUS, t)
        del tables
        layers.append(proof_j)
        mu = t.challenge_scalar(b"mu")
        a, b = (1 - mu) % R_MODULUS, mu
        p_val = (a * op[0][0] + b * op[1][0]) % R_MODULUS
        p_bl = (a * op[0][1] + b * op[1][1]) % R_MODULUS
        q_val = (a * op[2][0] + b * op[3][0]) % R_MODULUS
        q_bl = (a * op[2][1] + b * op[3][1]) % R_MODULUS
        u = list(r) + [mu]

    x_v, c_v, s_v, x_m, c_m, s_m = _leaf_maps(alpha, u, k, K, ZkdlError, tb)
    v_open = ((c_v - q_val) * s_v % R_MODULUS, (-q_bl) * s_v % R_MODULUS)
    m_open = ((c_m - p_val) * s_m % R_MODULUS, (-p_bl) * s_m % R_MODULUS)
    return LogupProof(root_q, tuple(layers)), x_v, v_open, x_m, m_open


# ---------------------------------------------------------------------------- verifier


def verify(key, t: Transcript, k: int, proof: LogupProof, table_bits: int = TABLE_BITS):
    """Check a logUp range proof for 2^k values.  Returns (x_v, Com(v(x_v)), x_m, Com(m(x_m)));
    the caller must prove those claims against its commitments to v and m.  Raises
    VerificationError on a bad proof."""
    k = _check_k(k)
    tb = _check_tb(table_bits)
    K = _big_k(k, tb)
    if not isinstance(proof, LogupProof) or not isinstance(proof.root_q, G1) \
            or not isinstance(proof.layers, tuple) or len(proof.layers) != K + 1 \
            or any(not isinstance(layer, ZkSumcheckProof) for layer in proof.layers):
        raise VerificationError("logup: proof shape does not match the instance")
    alpha = _start(t, k, K, tb)
    t.append_point(b"root-q", proof.root_q)
    com_p, com_q = G1.identity(), proof.root_q
    u: list[int] = []
    for j in range(K + 1):
        lam = t.challenge_scalar(b"lambda")
        spec = _layer_spec(j, lam, u)
        claim = com_p + com_q * lam
        try:
            r, coms = verify_zk(key, spec, claim, proof.layers[j], t)
        except VerificationError as e:
            raise VerificationError(f"logup: layer {j}: {e}") from None
        mu = t.challenge_scalar(b"mu")
        a = (1 - mu) % R_MODULUS
        com_p = _lin([coms[0], coms[1]], [a, mu])
        com_q = _lin([coms[2], coms[3]], [a, mu])
        u = list(r) + [mu]
    x_v, c_v, s_v, x_m, c_m, s_m = _leaf_maps(alpha, u, k, K, VerificationError, tb)
    com_v = _lin([key.g, com_q], [c_v * s_v, -s_v])
    com_m = _lin([key.g, com_p], [c_m * s_m, -s_m])
    return x_v, com_v, x_m, com_m
