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

Tagged tables (window and inference proofs, :class:`Table`): entries are pairs (value, tag), a
witness entry of a tagged block is (v_i, tag) and every leaf carries alpha - value - beta tag for
a challenge beta drawn after the commitments, so that a top limb of t < b bits is range-checked
by one lookup in its width's segment (docs/protocol.md §10, "Tagged tables").

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
#: largest table a proof may use (2^20 entries, 2^21 tagged: worth it only for very large windows)
MAX_TABLE_BITS = 21
MAX_K = 30

__all__ = ["TABLE_BITS", "LogupProof", "Table", "multiplicities", "prove", "verify", "proof_size_points"]


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= int(k) <= MAX_K:
        raise ShapeError(f"logup: k = {k!r}, expected an integer in [0, {MAX_K}]")
    return int(k)


def _check_tb(tb) -> int:
    if isinstance(tb, bool) or not isinstance(tb, (int, np.integer)) or not 1 <= int(tb) <= MAX_TABLE_BITS:
        raise ShapeError(f"logup: table bits = {tb!r}, expected an integer in [1, {MAX_TABLE_BITS}]")
    return int(tb)


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Table:
    """The lookup table: entries (value, tag), the leaf of entry j being alpha - value_j - beta tag_j.

    Plain (``widths`` empty): 2^b entries (j, 0).  Tagged (window and inference proofs, for the top
    limbs of fewer than b bits): 2^(b+1) entries, the first half (j, 0) for j < 2^b; in the second
    half, for each width t of ``widths`` (distinct, below b, in decreasing order) an aligned
    segment of 2^t entries (u, i + 1), u < 2^t, at offset o_i = sum of the sizes before it; the
    rest of the second half (p, 0), p = j - 2^b (plain values again, so every entry is valid).
    A looked-up pair (v, tag i + 1) is then in the table iff v < 2^(t_i): one lookup per top limb.
    The verifier evaluates both columns' extensions in O(b * len(widths)) (value_eval, tag_eval)."""

    b: int
    widths: tuple[int, ...] = ()

    def __post_init__(self):
        _check_tb(self.b)
        if list(self.widths) != sorted(set(self.widths), reverse=True) or any(not 1 <= t < self.b for t in self.widths):
            raise ShapeError(f"logup table: top widths {self.widths} must be distinct, decreasing, in [1, {self.b})")
        _check_tb(self.bits)

    @property
    def bits(self) -> int:
        return self.b + 1 if self.widths else self.b

    def offsets(self) -> list[int]:
        out, o = [], 0
        for t in self.widths:
            out.append(o)
            o += 1 << t
        return out

    def tag_of(self, width: int) -> int:
        """The tag of limbs of ``width`` bits: 0 for full limbs (width b)."""
        return 0 if width == self.b else 1 + self.widths.index(width)

    def columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, tags) of every entry, int64."""
        n = 1 << self.b
        vals = np.arange(n, dtype=np.int64)
        tags = np.zeros(n, dtype=np.int64)
        if not self.widths:
            return vals, tags
        v2, t2 = np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        for i, (t, o) in enumerate(zip(self.widths, self.offsets())):
            v2[o:o + (1 << t)] = np.arange(1 << t)
            t2[o:o + (1 << t)] = i + 1
        return np.concatenate([vals, v2]), np.concatenate([tags, t2])

    def index(self, values: np.ndarray, tag: int) -> np.ndarray:
        """Table indices of looked-up values with one tag (values already in range)."""
        if tag == 0:
            return values
        return values + ((1 << self.b) + self.offsets()[tag - 1])

    def _segments(self, x):
        """(i, o_i, eq(x', segment i)) for the second half's segments, x' = x[1:]."""
        xs = [int(c) % R_MODULUS for c in x[1:]]
        for i, (t, o) in enumerate(zip(self.widths, self.offsets())):
            hi, idx = xs[:self.b - t], o >> t
            e = 1
            for j, c in enumerate(hi):
                bit = (idx >> (len(hi) - 1 - j)) & 1
                e = e * (c if bit else 1 - c) % R_MODULUS
            yield i, o, e

    def value_eval(self, x) -> int:
        """The extension of the value column at x (bits coordinates, most significant first)."""
        if not self.widths:
            return _idx_eval(x)
        x0 = int(x[0]) % R_MODULUS
        return (_idx_eval(x[1:]) - x0 * sum(o * e for _, o, e in self._segments(x))) % R_MODULUS

    def tag_eval(self, x) -> int:
        if not self.widths:
            return 0
        x0 = int(x[0]) % R_MODULUS
        return x0 * sum((i + 1) * e for i, _, e in self._segments(x)) % R_MODULUS


def _table_leaf_eval(table: Table, alpha: int, beta: int, x) -> int:
    """The extension of the table's leaves alpha - value - beta tag at x (the verifier's check)."""
    return (alpha - table.value_eval(x) - beta * table.tag_eval(x)) % R_MODULUS


def _table_leaves(table: Table, alpha: int, beta: int) -> FrVec:
    """alpha - value_j - beta tag_j for every entry."""
    vals, tags = table.columns()
    q = FrVec.const_minus_int64(alpha, vals)
    return q.add_scaled_int64(tags, (-beta) % R_MODULUS) if table.widths else q


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


def _start(t: Transcript, k: int, tb: int, table: "Table | None" = None) -> int:
    t.domain(b"zkdl/logup")
    t.append_u64(b"k", k)
    t.append_u64(b"table-bits", tb)
    if table is not None and table.widths:     # a tagged table (plain ones absorb as before)
        t.append_bytes(b"table-top-widths", bytes(table.widths))
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


def _leaf_segments(alpha: int, beta: int, n: int, tags) -> list:
    """The leaves' constants over [0, n): [(start, end, alpha - beta tag)], covering [0, n) in order
    (tags: [(start, end, tag)] of the tagged blocks, None or empty: alpha everywhere)."""
    segs, pos = [], 0
    for st, en, tag in sorted(tags or ()):
        if not 0 <= pos <= st < en <= n:
            raise ShapeError(f"logup: tagged block [{st}, {en}) overlaps another or leaves [0, {n})")
        if pos < st:
            segs.append((pos, st, alpha))
        segs.append((st, en, (alpha - beta * tag) % R_MODULUS))
        pos = en
    if pos < n:
        segs.append((pos, n, alpha))
    return segs


def _half_segments(segs: list, parity: int) -> list:
    """The segments of the even (parity 0: qL) or odd (1: qR) entries, in that half's indices."""
    out = []
    for st, en, a in segs:
        lo, hi = ((st + 1) // 2, (en + 1) // 2) if parity == 0 else (st // 2, en // 2)
        if lo < hi:
            out.append((lo, hi, a))
    return out


def _at(segs: list, i: int) -> int:
    for st, en, a in segs:
        if st <= i < en:
            return a
    raise ShapeError("logup: position outside the leaf segments")


def _pair_pieces(segs_list: list, m: int) -> list:
    """Pieces [s, e) of [0, m) on which every segment list's constants at i and at i + m are fixed:
    [(s, e, [(a(s), a(s + m)) per list])]."""
    cuts = {0, m}
    for segs in segs_list:
        for st, en, _ in segs:
            for c in (st, en):
                if 0 < c < m:
                    cuts.add(c)
                elif m < c < 2 * m:
                    cuts.add(c - m)
    cs = sorted(cuts)
    return [(a, b, [(_at(segs, a), _at(segs, a + m)) for segs in segs_list]) for a, b in zip(cs, cs[1:])]


def _alpha_minus(segs: list, v: np.ndarray) -> FrVec:
    """segment constant - v[i], as field elements."""
    if len(segs) == 1:
        return FrVec.const_minus_int64(segs[0][2], np.ascontiguousarray(v))
    return FrVec.concat([FrVec.const_minus_int64(a, np.ascontiguousarray(v[st:en])) for st, en, a in segs])


class _IntLeafHalf:
    """One half (qL or qR) of the witness tree's leaves q = a - v (a = alpha, or alpha - beta tag
    on a tagged block: ``segs``), kept as the integers v until the last layer's first round binds
    it.  A sumcheck table in the sense of zkdl.sumcheck._Prover (len, fold); the round itself is
    _unit_evals_ints."""

    __slots__ = ("segs", "v")

    def __init__(self, segs: list, v: np.ndarray):
        self.segs, self.v = segs, v

    def __len__(self) -> int:
        return len(self.v)

    def fold(self, r: int) -> FrVec:
        """a(r) - (v_lo + r (v_hi - v_lo)): the bound table, as field elements."""
        m = len(self.v) // 2
        lo, hi = self.v[:m], self.v[m:]
        parts = []
        for st, en, [(a0, a1)] in _pair_pieces([self.segs], m):
            a = (a0 + r * (a1 - a0)) % R_MODULUS
            parts.append(FrVec.const_minus_int64(a, np.ascontiguousarray(lo[st:en]))
                         .add_scaled_int64(hi[st:en] - lo[st:en], (-r) % R_MODULUS))
        return parts[0] if len(parts) == 1 else FrVec.concat(parts)


def _unit_evals_ints(eq: "FrVec | None", L: _IntLeafHalf, R: _IntLeafHalf, lam: int, D: int,
                     skip_one: bool) -> list[int]:
    """The unit-numerator layer's round values (frac_evals with factors qL, qR) when qL = A - a,
    qR = B - b for integers a, b and constants A, B (per piece of the leaves: A = B = alpha but on
    tagged blocks): per element (A - a)(1 + lam (B - b)) + B - b = A + B + lam A B - (1 + lam B) a
    - (1 + lam A) b + lam a b, so each value is a few integer-weighted sums of eq (one product per
    element each) instead of the field kernel's products of extended field elements; with A = B,
    c0 - c1 (a + b) + lam a b (c0 = 2A + lam A^2, c1 = 1 + lam A): two sums."""
    Rm = R_MODULUS
    vL, vR = L.v, R.v
    m = len(vL) // 2
    aL, dL = vL[:m], vL[m:] - vL[:m]
    bL, dR = vR[:m], vR[m:] - vR[:m]
    pieces = _pair_pieces([L.segs, R.segs], m)
    out = []
    for X in range(D + 1):
        if X == 1 and skip_one:
            out.append(0)
            continue
        a = aL + X * dL if X else aL
        b = bL + X * dR if X else bL
        p_ab = a * b
        total = 0
        for st, en, [(A0, A1), (B0, B1)] in pieces:
            A, B = (A0 + X * (A1 - A0)) % Rm, (B0 + X * (B1 - B0)) % Rm
            whole = st == 0 and en == m
            e = eq if eq is None or whole else eq[st:en]
            sl = slice(None) if whole else slice(st, en)
            w_sum = e.sum() if e is not None else en - st

            def S(x):
                x = x[sl]
                return e.dot_int64(np.ascontiguousarray(x)) if e is not None else int(x.sum())
            if A == B:
                c0, c1 = (2 * A + lam * A * A) % Rm, (1 + lam * A) % Rm
                total += c0 * w_sum - c1 * S(a + b) + lam * S(p_ab)
            else:
                total += (A + B + lam * A * B) * w_sum - (1 + lam * B) * S(a) - (1 + lam * A) * S(b) + lam * S(p_ab)
        out.append(total % Rm)
    return out


def _leaf_quad(segs: list, v: np.ndarray):
    """(qL, qR) of the witness tree's leaves q = a - v, from the integers v: recomputed for the
    last layer instead of kept through the whole proof (a field element per leaf).  Kept as
    integers (_IntLeafHalf) for the layer's first round when it has one and the values are small."""
    halves = [(_half_segments(segs, par), np.ascontiguousarray(v[par::2])) for par in (0, 1)]
    if len(v) >= 4 and v.min() >= -_INT_LEAF_MAX and v.max() < _INT_LEAF_MAX:
        return tuple(_IntLeafHalf(sg, h) for sg, h in halves)
    return tuple(_alpha_minus(sg, h) for sg, h in halves)


def _layer_kernel(lam: int):
    """The round kernel of a layer: frac_evals, or _unit_evals_ints on integer leaves."""
    def kernel(eq, tabs, D, skip):
        if isinstance(tabs[0], _IntLeafHalf):
            return _unit_evals_ints(eq, tabs[0], tabs[1], lam, D, skip)
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


def prove(key, t: Transcript, v: "FrVec | np.ndarray", m: FrVec, derived: bool = False,
          table: "Table | None" = None, beta: int = 0, tags=None):
    """Prove sum 1/(alpha - v) = sum m/(alpha - j) for v of length 2^k and m of length 2^b.
    With a tagged ``table`` (Table): sum 1/(alpha - v_i - beta tag_i) = sum_j m_j/(alpha - value_j
    - beta tag_j), tags = [(start, end, tag)] of the tagged blocks of v (an int64 array), beta drawn
    by the caller after the commitments to v and m; the claim on v at x_v is then on
    v + beta tag (its extension).
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
    table = Table(tb) if table is None else table
    if table.bits != tb:
        raise ShapeError(f"logup: m has 2^{tb} entries, the table 2^{table.bits}")
    if tags and not (ints and table.widths):
        raise ShapeError("logup: tagged values need an int64 v and a tagged table")
    alpha = _start(t, k, tb, table)
    segs = _leaf_segments(alpha, beta % R_MODULUS, len(v), tags)

    if ints:
        w_quads, Pw, Qw = _tree(None, _alpha_minus(segs, v), keep_leaves=False)
    else:
        w_quads, Pw, Qw = _tree(None, alpha - v)
    t_quads, Pt, Qt = _tree(-m, _table_leaves(table, alpha, beta % R_MODULUS))
    X = Pw * Qt % R_MODULUS
    vals = [Pw, Qw, Pt, Qt, X]
    blinds = [random_scalar() for _ in vals]
    roots = PointVec.from_points([key.commit_scalar(a, b) for a, b in zip(vals, blinds)])
    t.append_points(b"roots", roots)
    C = list(roots)
    prods = (prove_product(key, t, C[0], C[3], C[4], Pw, blinds[0], Qt, blinds[3], blinds[4]),
             prove_product(key, t, C[2], C[1], -C[4], Pt, blinds[2], Qw, blinds[1], (-blinds[4]) % R_MODULUS))

    w_layers, x_v, (pv_, pb), (qv, qb) = _gkr_prove(key, t, w_quads, (Pw, blinds[0]), (Qw, blinds[1]),
                                                    leaves=(lambda: _leaf_quad(segs, v)) if ints else None,
                                                    derived=derived)
    # the numerators are 1: implicit in the last layer's sumcheck, or (one leaf) shown on the root
    w_leaf = prove_equality(key, t, C[0], key.g, blinds[0], 0) if k == 0 else None
    v_open = ((alpha - qv) % R_MODULUS, (-qb) % R_MODULUS)

    t_layers, x_m, (pv_, pb), (qv, qb) = _gkr_prove(key, t, t_quads, (Pt, blinds[2]), (Qt, blinds[3]),
                                                    derived=derived)
    t_leaf = prove_equality(key, t, key.commit_scalar(qv, qb), key.commit_scalar(_table_leaf_eval(table, alpha, beta, x_m), 0),
                            qb, 0)
    m_open = ((-pv_) % R_MODULUS, (-pb) % R_MODULUS)
    return LogupProof(roots, prods, w_layers, w_leaf, t_layers, t_leaf), x_v, v_open, x_m, m_open


# ---------------------------------------------------------------------------- verifier


def verify(key, t: Transcript, k: int, proof: LogupProof, table_bits: int = TABLE_BITS, derived: bool = False,
           table: "Table | None" = None, beta: int = 0):
    """Check a logUp range proof for 2^k values against a 2^b table (or a tagged ``table``, its
    tags weighted by beta: the claim on v is then on v + beta tag).  Returns
    (x_v, Com(v(x_v)), x_m, Com(m(x_m))); the caller must prove those claims against its
    commitments to v and m.  Raises VerificationError on a bad proof."""
    k = _check_k(k)
    tb = _check_tb(table_bits)
    table = Table(tb) if table is None else table
    if table.bits != tb:
        raise VerificationError(f"logup: a table of 2^{table.bits} entries for {tb} table bits")
    if not isinstance(proof, LogupProof) or not isinstance(proof.roots, PointVec) or len(proof.roots) != 5 \
            or len(proof.root_products) != 2 \
            or any(not isinstance(p, ProductProof) for p in proof.root_products) \
            or len(proof.witness_layers) != k or len(proof.table_layers) != tb \
            or any(not isinstance(x, ZkSumcheckProof) for x in proof.witness_layers + proof.table_layers) \
            or not isinstance(proof.witness_leaf, EqualityProof if k == 0 else type(None)) \
            or not isinstance(proof.table_leaf, EqualityProof):
        raise VerificationError("logup: proof shape does not match the instance")
    alpha = _start(t, k, tb, table)
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
        verify_equality(key, t, cq, key.g.mul_in_group(_table_leaf_eval(table, alpha, beta, x_m)), proof.table_leaf)
    com_m = -cp
    return x_v, com_v, x_m, com_m
