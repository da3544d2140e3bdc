"""Zero-knowledge range check by logUp with GKR fractional sumchecks (Papini–Haböck 2023).

Statement.  A committed vector v of length 2^k (entries claimed in [0, 2^b), b <= 20 the table
bits, public) and a committed multiplicity vector m of length 2^b (m[j] = #{i : v[i] = j}).  The
caller has committed v and m in its own way and absorbed those commitments into the transcript.
For alpha drawn from the transcript the proof shows

    sum_i 1/(alpha - v[i])  +  sum_{j < 2^b} (-m[j])/(alpha - j)  =  0,

which (alpha random, Schwartz–Zippel on the cleared-denominator identity) implies that every v_i
lies in [0, 2^b).  It outputs evaluation CLAIMS on v and m at random points, as Pedersen
commitments to the claimed values; the caller proves them against its own commitments (this
module never opens v or m).

Construction.  Two binary trees of fractions, one over the witness (2^k leaves p = 1,
q = alpha - v[i]) and one over the table (2^b leaves p = -m[j], q = alpha - j), so neither side is
padded to the other's size.  Level j of a tree has 2^j entries (p, q)_j[y] =
(p_L q_R + p_R q_L, q_L q_R) with L = entry 2y, R = entry 2y+1 of level j+1 (children differ in the
LAST, least significant, variable; x_1 is the most significant index bit everywhere in zkdl).

* Roots.  The prover commits to the roots (P_w, Q_w) and (P_t, Q_t) and to X = P_w Q_t; two
  product proofs show X = P_w Q_t and -X = P_t Q_w (the verifier forms Com(-X) = -Com(X)), i.e.
  P_w Q_t + P_t Q_w = 0, so P_w/Q_w + P_t/Q_t = 0 when both denominators are nonzero -- they are
  the products of all alpha - value and vanish only if alpha hits a value (probability
  <= (2^k + 2^b)/r for the alpha drawn after the commitments to v and m).
* Layer j -> j+1 of a tree: from claims Com(p_j(u)), Com(q_j(u)) at u in F^j the verifier draws
  lambda and runs the zero-knowledge sumcheck (zkdl.sumcheck) over j variables with eq factor at u
  of   Com(p_j(u)) + lambda Com(q_j(u)) = sum_y eq(u, y) [pL qR + pR qL + lambda qL qR](y)
  (factor tables pL, pR, qL, qR = the even / odd entries of level j+1), then draws mu and sets
  Com(p_{j+1}(r, mu)) = (1 - mu) Com(pL(r)) + mu Com(pR(r)), the same for q, u' = r + [mu].
* Leaves.  Witness tree at rho (k coordinates): its numerators are the constant 1, so its last
  layer's sumcheck is eq(u, y) [qR + qL + lambda qL qR] over the two denominator tables only (no
  numerator claims remain; with k = 0 an equality proof shows P_w = 1 on the root instead), and
  Com(v(rho)) = alpha g - Com(q_leaf(rho)) is derived.  Table tree
  at rho_t (b coordinates): q_leaf(rho_t) = alpha - idx(rho_t) is public (idx the MLE of the
  index), shown by an equality proof; Com(m(rho_t)) = -Com(p_leaf(rho_t)) is derived.

Transcript.  Domain b"zkdl/logup", k, b; alpha; the four root commitments and Com(X); the two
product proofs; the witness tree's layers (lambda, sumcheck, mu each), its leaf equality proof; the
table tree's layers and its leaf equality proof.

Proof size.  5 points, 2 product proofs (3 points + 5 scalars each), and per layer j of either
tree a zk sumcheck of degree 2 over j variables: 2j round commitments (C_0 is derived), 4 factor
commitments, 3 product commitments, 3 product proofs and one equality proof (1 point + 1 scalar);
the table's leaf equality proof; the witness tree's last layer has 2 factor commitments and one
product.  In all, with n = k + b layers and S = k(k-1) + b(b-1) round points: 13 + S + 17 n group
elements and 12 + 16 n scalars, 11 fewer of each when k >= 1 (see proof_size_points).  With
``derived`` (window and inference proofs) a layer's final relation is factored, qR (pL + lambda qL)
+ pR qL with a combined factor: 2 product commitments and proofs instead of 3, so 13 points and
11 scalars per layer besides its rounds.

Soundness.  If the rational identity holds then every value of v is a pole of the table side,
i.e. some j < 2^b (multiplicities are < 2^31 < r, so they cannot vanish mod r).  Otherwise the
cleared-denominator polynomial is nonzero of degree < 2^k + 2^b and a random alpha satisfies it
with probability at most (2^k + 2^b)/r.  Each layer adds its sumcheck error (3j/r), 1/r for lambda
and 1/r for mu; the Σ-protocols and Pedersen binding rest on discrete logarithms in G1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .codec import ProofFormatError, Reader, Writer
from .curve import G1, PointVec, msm
from .errors import FieldRangeError, ShapeError, VerificationError
from .field import R_MODULUS, FrVec, frac_evals
from .mle import log2_exact
from . import backend as _backend
from .pedersen import random_scalar
from .sigma import (
    EqualityProof, ProductProof, labelled, prove_equality, prove_product, verify_equality, verify_product,
)
from .sumcheck import SumcheckSpec, Term, ZkSumcheckProof, prove_zk, verify_zk
from .transcript import Transcript

TABLE_BITS = 16
#: largest table a proof may use (2^20 entries: worth it only for very large windows)
MAX_TABLE_BITS = 20
MAX_K = 30

__all__ = ["TABLE_BITS", "LogupProof", "multiplicities", "prove", "verify", "proof_size_points"]


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= int(k) <= MAX_K:
        raise ShapeError(f"logup: k = {k!r}, expected an integer in [0, {MAX_K}]")
    return int(k)


def _check_tb(tb) -> int:
    if isinstance(tb, bool) or not isinstance(tb, (int, np.integer)) or not 1 <= int(tb) <= MAX_TABLE_BITS:
        raise ShapeError(f"logup: table bits = {tb!r}, expected an integer in [1, {MAX_TABLE_BITS}]")
    return int(tb)


# ---------------------------------------------------------------------------- multiplicities


def multiplicities(values, k: int, table_bits: int = TABLE_BITS) -> np.ndarray:
    """m[j] = number of entries equal to j in `values` zero-padded to 2^k.

    `values` is an integer array of at most 2^k entries (flattened; a shorter vector is taken as
    zero-padded to 2^k, which is what the MLE of a padded tensor means): the padding zeros are
    counted in m[0].  Raises FieldRangeError naming the first value outside [0, 2^b)."""
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
        raise FieldRangeError(f"multiplicities: value {int(arr[i])} at index {i} is outside [0, 2^{tb})")
    m = np.bincount(arr.astype(np.int64, copy=False), minlength=1 << tb).astype(np.int64)
    m[0] += (1 << k) - arr.size
    return m


# ---------------------------------------------------------------------------- proof object


def _layer_spec(j: int, lam: int = 1, u=None, unit_leaves: bool = False, factored: bool = False) -> SumcheckSpec:
    """Layer j's sumcheck: eq(u, y) [pL qR + pR qL + lambda qL qR], factors pL, pR, qL, qR; with
    unit_leaves (the witness tree's last layer, whose numerators are all 1) eq(u, y) [qR + qL +
    lambda qL qR] with factors qL, qR only.  ``factored`` (window and inference proofs, derived
    statements): the same polynomial as qR (pL + lambda qL) + pR qL, pL + lambda qL a combined
    factor, so the final relation takes two product proofs instead of three."""
    point = tuple(u) if u is not None else (0,) * j
    lam %= R_MODULUS
    if unit_leaves:
        return SumcheckSpec(j, 2, (Term(1, (1,)), Term(1, (0,)), Term(lam, (0, 1))), point)
    if factored:
        return SumcheckSpec(j, 4, (Term(1, (3, 4)), Term(1, (1, 2))), point, combos=(((0, 1), (2, lam)),))
    return SumcheckSpec(j, 4, (Term(1, (0, 3)), Term(1, (1, 2)), Term(lam, (2, 3))), point)


@dataclass(frozen=True)
class LogupProof:
    """Root commitments (P_w, Q_w, P_t, Q_t, X), the two root product proofs, the layer sumchecks
    of the witness and the table trees, and the two leaf equality proofs."""

    roots: PointVec
    root_products: tuple  # two ProductProofs
    witness_layers: tuple  # ZkSumcheckProof per layer j = 0..k-1 (j rounds; the last one unit_leaves)
    witness_leaf: EqualityProof | None  # P_w = 1 when k = 0 (one leaf); None otherwise
    table_layers: tuple  # per layer j = 0..b-1
    table_leaf: EqualityProof

    def write(self, w: Writer) -> None:
        w.points(self.roots)
        for p in self.root_products:
            p.write(w)
        for layers, leaf in ((self.witness_layers, self.witness_leaf), (self.table_layers, self.table_leaf)):
            w.u32(len(layers))
            for layer in layers:
                layer.write(w)
            if leaf is not None:
                leaf.write(w)

    @classmethod
    def read(cls, r: Reader, k: int, table_bits: int = TABLE_BITS, derived: bool = False) -> "LogupProof":
        """``derived``: the layers of window and inference proofs (factored final relations)."""
        k = _check_k(k)
        tb = _check_tb(table_bits)
        roots = r.points("logup roots", 5, exact=5)
        prods = (ProductProof.read(r), ProductProof.read(r))
        trees = []
        for what, n_layers in (("witness", k), ("table", tb)):
            n = r.u32(f"logup {what} layers", MAX_K)
            if n != n_layers:
                raise ProofFormatError(f"logup: {n} {what} layers, expected {n_layers}")
            unit = what == "witness"
            layers = tuple(ZkSumcheckProof.read(r, _layer_spec(j, unit_leaves=unit and j == n - 1, factored=derived))
                           for j in range(n))
            trees.append((layers, EqualityProof.read(r) if not unit or n == 0 else None))
        return cls(roots, prods, trees[0][0], trees[0][1], trees[1][0], trees[1][1])


def proof_size_points(k: int, table_bits: int = TABLE_BITS, derived: bool = False) -> tuple[int, int]:
    """(group elements, scalars) of a proof for 2^k values (u32 counts not included).  A layer
    has 17 points and 16 scalars besides its rounds (13 and 11 factored, ``derived``); the
    witness tree's unit last layer 7 and 6, and it has no leaf equality proof."""
    k, tb = _check_k(k), _check_tb(table_bits)
    n = k + tb
    S = k * (k - 1) + tb * (tb - 1)
    lp, ls = (13, 11) if derived else (17, 16)
    up, us = (lp - 6, ls - 5) if k else (0, 0)  # unit layer 7 / 6, and one leaf proof (1 / 1) fewer
    return 13 + S + lp * n - up, 12 + ls * n - us


# ---------------------------------------------------------------------------- shared pieces


def _start(t: Transcript, k: int, tb: int) -> int:
    t.domain(b"zkdl/logup")
    t.append_u64(b"k", k)
    t.append_u64(b"table-bits", tb)
    return t.challenge_scalar(b"alpha")


def _idx_eval(x) -> int:
    n = len(x)
    return sum(pow(2, n - 1 - b, R_MODULUS) * xb for b, xb in enumerate(x)) % R_MODULUS


def _lin(points, scalars) -> G1:
    return msm(PointVec.from_points(list(points)), FrVec.from_ints([int(s) % R_MODULUS for s in scalars]))


def _split(vec: FrVec) -> tuple[FrVec, FrVec]:
    return FrVec(vec.limbs[0::2]), FrVec(vec.limbs[1::2])


def _layer(p: FrVec | None, q: FrVec) -> tuple[FrVec, FrVec]:
    """One level up the fraction tree, on the active backend (zkdl.backend): p' = pL qR + pR qL
    (qL + qR when p is None: unit numerators), q' = qL qR."""
    h = len(q) // 2
    po, qo = np.empty((h, 4), dtype=np.uint64), np.empty((h, 4), dtype=np.uint64)
    _backend.active().fr_logup_layer(po, qo, None if p is None else p.limbs, q.limbs)
    return FrVec(po), FrVec(qo)


def _tree(p: FrVec | None, q: FrVec, keep_leaves: bool = True) -> tuple[list, int, int]:
    """quads[j] = (pL, pR, qL, qR) of level j+1, and the root (p_0, q_0).  p = None: all leaf
    numerators are 1 (the witness tree): the last layer keeps (qL, qR) only, or nothing without
    ``keep_leaves`` (the caller recomputes them for the last layer: _leaf_quad)."""
    n = len(q).bit_length() - 1
    quads = [None] * n
    for j in range(n - 1, -1, -1):
        if j < n - 1 or keep_leaves:
            qL, qR = _split(q)
            quads[j] = (qL, qR) if p is None else (*_split(p), qL, qR)
        p, q = _layer(p, q)
    if p is None:  # a single leaf
        return quads, 1, q[0]
    return quads, p[0], q[0]


#: the last layer's first round is summed from the leaves' integers while they stay below this
#: bound (products of two extended leaves fit in int64); a cheating prover's larger "limbs" take
#: the field path
_INT_LEAF_MAX = 1 << 24


class _IntLeafHalf:
    """One half (qL or qR) of the witness tree's leaves q = alpha - v, kept as the integers v
    until the last layer's first round binds it.  A sumcheck table in the sense of
    zkdl.sumcheck._Prover (len, fold); the round itself is _unit_evals_ints."""

    __slots__ = ("alpha", "v")

    def __init__(self, alpha: int, v: np.ndarray):
        self.alpha, self.v = alpha, v

    def __len__(self) -> int:
        return len(self.v)

    def fold(self, r: int) -> FrVec:
        """alpha - (v_lo + r (v_hi - v_lo)): the bound table, as field elements."""
        m = len(self.v) // 2
        lo, hi = self.v[:m], self.v[m:]
        return FrVec.const_minus_int64(self.alpha, lo).add_scaled_int64(hi - lo, (-r) % R_MODULUS)


def _unit_evals_ints(eq: "FrVec | None", vL: np.ndarray, vR: np.ndarray, alpha: int, lam: int, D: int,
                     skip_one: bool) -> list[int]:
    """The unit-numerator layer's round values (frac_evals with factors qL, qR) when qL = alpha - a,
    qR = alpha - b for integers a, b: per element (alpha - a)(1 + lam (alpha - b)) + alpha - b =
    c0 - c1 (a + b) + lam a b with c0 = 2 alpha + lam alpha^2, c1 = 1 + lam alpha, so each value
    is two integer-weighted sums of eq (one product per element each) instead of the field
    kernel's products of extended field elements."""
    R = R_MODULUS
    m = len(vL) // 2
    aL, dL = vL[:m], vL[m:] - vL[:m]
    bL, dR = vR[:m], vR[m:] - vR[:m]
    c0 = (2 * alpha + lam * alpha * alpha) % R
    c1 = (1 + lam * alpha) % R
    w_sum = eq.sum() if eq is not None else m
    out = []
    for X in range(D + 1):
        if X == 1 and skip_one:
            out.append(0)
            continue
        a = aL + X * dL if X else aL
        b = bL + X * dR if X else bL
        s_ab, p_ab = a + b, a * b
        if eq is not None:
            S1, S2 = eq.dot_int64(s_ab), eq.dot_int64(p_ab)
        else:
            S1, S2 = int(s_ab.sum()), int(p_ab.sum())
        out.append((c0 * w_sum - c1 * S1 + lam * S2) % R)
    return out


def _leaf_quad(alpha: int, v: np.ndarray):
    """(qL, qR) of the witness tree's leaves q = alpha - v, from the integers v: recomputed for
    the last layer instead of kept through the whole proof (a field element per leaf).  Kept as
    integers (_IntLeafHalf) for the layer's first round when it has one and the values are small."""
    if len(v) >= 4 and v.min() >= -_INT_LEAF_MAX and v.max() < _INT_LEAF_MAX:
        return tuple(_IntLeafHalf(alpha, np.ascontiguousarray(half)) for half in (v[0::2], v[1::2]))
    return tuple(FrVec.const_minus_int64(alpha, np.ascontiguousarray(half)) for half in (v[0::2], v[1::2]))


def _layer_kernel(lam: int):
    """The round kernel of a layer: frac_evals, or _unit_evals_ints on integer leaves."""
    def kernel(eq, tabs, D, skip):
        if isinstance(tabs[0], _IntLeafHalf):
            return _unit_evals_ints(eq, tabs[0].v, tabs[1].v, tabs[0].alpha, lam, D, skip)
        return frac_evals(eq, tabs, lam, D, skip)
    return kernel


def _gkr_prove(key, t: Transcript, quads: list, p_claim: tuple, q_claim: tuple, leaves=None,
               derived: bool = False):
    """Layers j = 0..n-1 from root claims (value, blind); returns the leaf point and the leaf
    claims (value, blind) of p and q (p is None after a unit-leaves last layer).  ``leaves``:
    computes the last layer's quad when the tree did not keep it.  ``derived`` (format 7, derived
    statements): each layer's sumcheck absorbs its claim commitment Com(p) + lambda Com(q), as the
    verifier holds it (the prover computes it from the claims' openings)."""
    (p_val, p_bl), (q_val, q_bl) = p_claim, q_claim
    u: list[int] = []
    layers = []
    for j in range(len(quads)):
        lam = t.challenge_scalar(b"lambda")
        if quads[j] is None:
            quads[j] = leaves()
        unit = len(quads[j]) == 2
        spec = _layer_spec(j, lam, u, unit_leaves=unit, factored=derived)
        tables = list(quads[j])
        quads[j] = None
        kernel = _layer_kernel(lam)
        # the claim's commitment from its opening: one comb evaluation, the same point as
        # Com(p) + lam Com(q) (which the verifier computes)
        claim_com = None if not derived else key.commit_scalar((p_val + lam * q_val) % R_MODULUS,
                                                                (p_bl + lam * q_bl) % R_MODULUS)
        proof_j, r, op = prove_zk(key, spec, tables, (p_bl + lam * q_bl) % R_MODULUS, t, kernel=kernel,
                                  claim_com=claim_com)
        del tables
        layers.append(proof_j)
        mu = t.challenge_scalar(b"mu")
        a = (1 - mu) % R_MODULUS
        iq = 0 if unit else 2
        if not unit:
            p_val = (a * op[0][0] + mu * op[1][0]) % R_MODULUS
            p_bl = (a * op[0][1] + mu * op[1][1]) % R_MODULUS
        q_val = (a * op[iq][0] + mu * op[iq + 1][0]) % R_MODULUS
        q_bl = (a * op[iq][1] + mu * op[iq + 1][1]) % R_MODULUS
        u = list(r) + [mu]
        if unit:
            p_val = p_bl = None
    return tuple(layers), u, (p_val, p_bl), (q_val, q_bl)


def _gkr_verify(key, t: Transcript, layers: tuple, com_p: G1, com_q: G1, what: str, unit_leaves: bool,
                derived: bool = False):
    u: list[int] = []
    for j, layer in enumerate(layers):
        lam = t.challenge_scalar(b"lambda")
        unit = unit_leaves and j == len(layers) - 1
        spec = _layer_spec(j, lam, u, unit_leaves=unit, factored=derived)
        with labelled(f"logup: {what} layer {j}"):
            r, coms = verify_zk(key, spec, com_p + com_q * lam, layer, t, derived=derived)
        mu = t.challenge_scalar(b"mu")
        a = (1 - mu) % R_MODULUS
        iq = 0 if unit else 2
        com_p = None if unit else _lin([coms[0], coms[1]], [a, mu])
        com_q = _lin([coms[iq], coms[iq + 1]], [a, mu])
        u = list(r) + [mu]
    return u, com_p, com_q


# ---------------------------------------------------------------------------- prover


def prove(key, t: Transcript, v: "FrVec | np.ndarray", m: FrVec, derived: bool = False):
    """Prove sum 1/(alpha - v) = sum m/(alpha - j) for v of length 2^k and m of length 2^b.
    v may be an int64 array (limbs): the leaves alpha - v are then computed from the integers
    and recomputed for the last layer, not kept (the prover's memory: about three field elements
    per leaf at most, instead of five).

    Returns (proof, x_v, (v(x_v), blind), x_m, (m(x_m), blind)): the caller must prove that its
    commitments to v and m evaluate at x_v, x_m to the values committed as
    key.commit_scalar(value, blind) (verify returns those commitments).  The prover does not check
    the range of v: an out-of-range v gives a proof the verifier rejects.  With ``derived``
    (window and inference proofs, format 7) every layer's sumcheck absorbs its claim commitment
    and leaves its final equality's sides out of the transcript (verify likewise)."""
    ints = isinstance(v, np.ndarray)
    if ints and (v.dtype != np.int64 or v.ndim != 1):
        raise ShapeError("logup: v must be an FrVec or a 1-D int64 array")
    if not (ints or isinstance(v, FrVec)) or not isinstance(m, FrVec):
        raise ShapeError("logup: v and m must be FrVecs")
    k = _check_k(log2_exact(len(v)))
    if len(m) < 2 or len(m) & (len(m) - 1) or len(m) > 1 << MAX_TABLE_BITS:
        raise ShapeError(f"logup: m has length {len(m)}, expected 2^b with 1 <= b <= {MAX_TABLE_BITS}")
    tb = len(m).bit_length() - 1
    alpha = _start(t, k, tb)

    if ints:
        w_quads, Pw, Qw = _tree(None, FrVec.const_minus_int64(alpha, v), keep_leaves=False)
    else:
        w_quads, Pw, Qw = _tree(None, alpha - v)
    idx = FrVec.from_int64(np.arange(len(m), dtype=np.int64))
    t_quads, Pt, Qt = _tree(-m, alpha - idx)
    X = Pw * Qt % R_MODULUS
    vals = [Pw, Qw, Pt, Qt, X]
    blinds = [random_scalar() for _ in vals]
    roots = PointVec.from_points([key.commit_scalar(a, b) for a, b in zip(vals, blinds)])
    t.append_points(b"roots", roots)
    C = list(roots)
    prods = (prove_product(key, t, C[0], C[3], C[4], Pw, blinds[0], Qt, blinds[3], blinds[4]),
             prove_product(key, t, C[2], C[1], -C[4], Pt, blinds[2], Qw, blinds[1], (-blinds[4]) % R_MODULUS))

    w_layers, x_v, (pv_, pb), (qv, qb) = _gkr_prove(key, t, w_quads, (Pw, blinds[0]), (Qw, blinds[1]),
                                                    leaves=(lambda: _leaf_quad(alpha, v)) if ints else None,
                                                    derived=derived)
    # the numerators are 1: implicit in the last layer's sumcheck, or (one leaf) shown on the root
    w_leaf = prove_equality(key, t, C[0], key.g, blinds[0], 0) if k == 0 else None
    v_open = ((alpha - qv) % R_MODULUS, (-qb) % R_MODULUS)

    t_layers, x_m, (pv_, pb), (qv, qb) = _gkr_prove(key, t, t_quads, (Pt, blinds[2]), (Qt, blinds[3]),
                                                    derived=derived)
    t_leaf = prove_equality(key, t, key.commit_scalar(qv, qb), key.commit_scalar((alpha - _idx_eval(x_m)) % R_MODULUS, 0),
                            qb, 0)
    m_open = ((-pv_) % R_MODULUS, (-pb) % R_MODULUS)
    return LogupProof(roots, prods, w_layers, w_leaf, t_layers, t_leaf), x_v, v_open, x_m, m_open


# ---------------------------------------------------------------------------- verifier


def verify(key, t: Transcript, k: int, proof: LogupProof, table_bits: int = TABLE_BITS, derived: bool = False):
    """Check a logUp range proof for 2^k values against a 2^b table.  Returns
    (x_v, Com(v(x_v)), x_m, Com(m(x_m))); the caller must prove those claims against its
    commitments to v and m.  Raises VerificationError on a bad proof."""
    k = _check_k(k)
    tb = _check_tb(table_bits)
    if not isinstance(proof, LogupProof) or not isinstance(proof.roots, PointVec) or len(proof.roots) != 5 \
            or len(proof.root_products) != 2 \
            or any(not isinstance(p, ProductProof) for p in proof.root_products) \
            or len(proof.witness_layers) != k or len(proof.table_layers) != tb \
            or any(not isinstance(x, ZkSumcheckProof) for x in proof.witness_layers + proof.table_layers) \
            or not isinstance(proof.witness_leaf, EqualityProof if k == 0 else type(None)) \
            or not isinstance(proof.table_leaf, EqualityProof):
        raise VerificationError("logup: proof shape does not match the instance")
    alpha = _start(t, k, tb)
    t.append_points(b"roots", proof.roots)
    C = list(proof.roots)
    with labelled("logup: the two sums do not cancel"):
        verify_product(key, t, C[0], C[3], C[4], proof.root_products[0])
        verify_product(key, t, C[2], C[1], -C[4], proof.root_products[1])
    x_v, cp, cq = _gkr_verify(key, t, proof.witness_layers, C[0], C[1], "witness", unit_leaves=True, derived=derived)
    if k == 0:
        with labelled("logup: witness leaves"):
            verify_equality(key, t, C[0], key.g, proof.witness_leaf)
    com_v = key.g.mul_in_group(alpha) - cq
    x_m, cp, cq = _gkr_verify(key, t, proof.table_layers, C[2], C[3], "table", unit_leaves=False, derived=derived)
    with labelled("logup: table leaves"):
        verify_equality(key, t, cq, key.g.mul_in_group((alpha - _idx_eval(x_m)) % R_MODULUS), proof.table_leaf)
    com_m = -cp
    return x_v, com_v, x_m, com_m
