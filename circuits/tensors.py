"""Committed tensors, evaluation claims on them, and their batched openings.

**Layouts.**  A tensor of logical shape (v_1, …, v_m) is stored zero-padded to (2^e_1, …, 2^e_m)
and flattened row-major (docs/protocol.md §2), committed with Hyrax in rows of 2^c columns.  The
*valid box* is the logical shape; everything outside it is padding.

**Masked claims.**  A prover may put anything in the padding of a commitment it makes.  So every
claim about a tensor that the circuits use is a claim on its *masked* multilinear extension

    T~(u) = sum_{x in valid box} eq(u, x) T[x],

and the openings below check exactly that: garbage in the padding is invisible to every relation.
(Raw claims, over the whole padded table, are used by the range check, which must also cover the
padding it reads.)  The mask of a box is a product over axes, so the verifier evaluates the masked
eq weights axis by axis: sum_{x in box} eq(r, x) eq(s, x) = prod_a sum_{x_a < v_a} eq(r_a, x_a) eq(s_a, x_a).

**Openings.**  All claims are collected during the proof.  At the end, committed tensors with the
same padded shape and column split form a group; one zero-knowledge sumcheck reduces all claims of
the group to one common point s,

    sum_i alpha_i y_i = sum_x sum_p V_p(x) W_p(x),

over pairs p of a public weight table W_p (multiplications by it need no product proofs) and a
combination V_p of the tensors: per tensor (W_j = sum_{i on T_j} alpha_i eq(r_i, .)[ * mask_j ],
V_j = T_j) or per claimed point q (W_q = eq(q, .)[ * mask ], V_q = sum_{i at q} alpha_i T_(j_i)),
whichever has fewer pairs (window and inference proofs; the one-time range proofs always per
tensor).  A random combination sum_p gamma_p V_p = sum_j delta_j T_j is opened at s with one
Hyrax dot-product proof against sum_j delta_j Com(T_j), formed by the verifier with one MSM over
all row commitments of the group.

**Range tensors.**  A tensor whose entries must lie in [-offset, 2^bits - offset) is committed as
its limbs: value = sum_j 2^(16 j) limb_j - offset, every limb in [0, 2^16) by the lookup of
zkdl.logup (the top limb, if it has fewer than 16 bits, is looked up again scaled by
2^(16 - top bits)).  The value itself is never committed: a claim on it at u splits into claims on
the limbs at u, the first limb's commitment being derived from the others.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from zkdl.errors import FieldRangeError, ShapeError
from zkdl.field import R_MODULUS, FrVec
from zkdl.hyrax import HyraxCommitment, HyraxSecret
from zkdl.mle import ceil_log2, eq_eval
from zkdl.sumcheck import SumcheckSpec, Term
from zkdl import sigma

from .channel import Channel, Claimed, lincomb

P = R_MODULUS
LIMB_BITS = 16


def default_col_vars(num_vars: int, min_cols: int = 10) -> int:
    """Hyrax split: at least 2^min_cols columns and two variables more than half (few row
    commitments in the proof, which dominate it for large tensors; openings cost O(2^c) instead),
    at most all of them."""
    return min(num_vars, max((num_vars + 1) // 2 + 2, min_cols))


@dataclass(frozen=True)
class Layout:
    """Padded shape (powers of two), valid box and Hyrax column split of a tensor."""

    valid: tuple[int, ...]
    col_vars: int | None = None

    def __post_init__(self):
        if any(v < 1 for v in self.valid):
            raise ShapeError(f"layout: empty axis in {self.valid}")
        if self.col_vars is None:
            object.__setattr__(self, "col_vars", default_col_vars(self.num_vars))
        if not 0 <= self.col_vars <= self.num_vars:
            raise ShapeError(f"layout: {self.col_vars} column variables for {self.num_vars} variables")

    @property
    def axis_vars(self) -> tuple[int, ...]:
        return tuple(ceil_log2(v) for v in self.valid)

    @property
    def padded(self) -> tuple[int, ...]:
        return tuple(1 << e for e in self.axis_vars)

    @property
    def num_vars(self) -> int:
        return sum(self.axis_vars)

    @property
    def size(self) -> int:
        return 1 << self.num_vars

    @property
    def group_key(self) -> tuple:
        return (self.num_vars, self.col_vars)

    @property
    def full(self) -> bool:
        """No padding: every entry lies in the valid box (``mask`` is all ones), from the shapes."""
        return all(v == 1 << e for v, e in zip(self.valid, self.axis_vars))

    def split(self, point: Sequence[int]) -> list[list[int]]:
        if len(point) != self.num_vars:
            raise ShapeError(f"layout {self.valid}: point of {len(point)} coordinates, expected {self.num_vars}")
        out, i = [], 0
        for e in self.axis_vars:
            out.append(list(point[i:i + e]))
            i += e
        return out

    def mask_at(self, point: Sequence[int]) -> int:
        """MLE of the valid box's indicator at a point."""
        acc = 1
        for seg, v in zip(self.split(point), self.valid):
            if v == 1 << len(seg):
                continue
            acc = acc * (FrVec.eq_table(seg)[:v].sum() if seg else 1) % P
        return acc

    def masked_eq(self, r: Sequence[int], s: Sequence[int]) -> int:
        """sum over the valid box of eq(r, x) eq(s, x)."""
        acc = 1
        for ra, sa, v in zip(self.split(r), self.split(s), self.valid):
            if v == 1 << len(ra):
                acc = acc * eq_eval(ra, sa) % P
            elif ra:
                acc = acc * FrVec.eq_table(ra)[:v].dot(FrVec.eq_table(sa)[:v]) % P
        return acc

    @cached_property
    def mask(self) -> np.ndarray:
        """0/1 int64 table of the valid box, padded and flattened."""
        m = np.zeros(self.padded, dtype=np.int64)
        m[tuple(slice(0, v) for v in self.valid)] = 1
        return m.reshape(-1)

    def pad(self, arr: np.ndarray) -> np.ndarray:
        """Zero-pad an integer array of the valid shape and flatten it."""
        arr = np.asarray(arr)
        if arr.shape != self.valid:
            raise ShapeError(f"tensor of shape {arr.shape}, expected {self.valid}")
        out = np.zeros(self.padded, dtype=np.int64)
        out[tuple(slice(0, v) for v in self.valid)] = arr
        return out.reshape(-1)


def eq_ext(a: Sequence[int], b: Sequence[int]) -> int:
    """eq of two points of possibly different lengths, the shorter zero-extended on the left
    (most significant side): for a table whose valid part lies in the first 2^min entries, its
    extension to more variables is its zero-padding, and eq_ext is the matching weight."""
    n = max(len(a), len(b))
    a = [0] * (n - len(a)) + [int(x) for x in a]
    b = [0] * (n - len(b)) + [int(x) for x in b]
    return eq_eval(a, b)


def eq_ext_table(a: Sequence[int], n: int) -> FrVec:
    """The table of eq_ext(a, .) over n variables."""
    m = len(a)
    if m >= n:
        lead = 1
        for x in a[:m - n]:
            lead = lead * (1 - int(x)) % P
        return (FrVec.eq_table(list(a[m - n:])) if n else FrVec.ones(1)) * lead
    small = FrVec.eq_table(list(a)) if m else FrVec.ones(1)
    return FrVec.concat([small, FrVec.zeros((1 << n) - len(small))])


def layer_eval(weights: Sequence[int], r: Sequence[int]) -> int:
    """MLE of a public table over the layer axis (length 2^len(r)) at r."""
    if not r:
        return int(weights[0]) % P
    return FrVec.from_ints([int(w) % P for w in weights]).dot(FrVec.eq_table(list(r)))


@dataclass(frozen=True)
class StackedLayout(Layout):
    """The tensors of every layer of a window stacked on a leading layer axis (FAC4DNN):
    logical shape (layers, T, B, width_l) -- the valid width differs per layer -- padded to the
    common (2^nl, 2^nt, 2^nb, 2^nd) given by ``pad_vars``.  ``valid`` is the bounding box; the
    valid region is the union over the valid layers l of {l} x [0, T) x [0, B) x [0, width_l),
    whose indicator's extension the verifier evaluates layer by layer (O(layers * 2^nd))."""

    widths: tuple[int, ...] = ()
    pad_vars: tuple[int, ...] = ()

    def __post_init__(self):
        if len(self.pad_vars) != 4 or len(self.valid) != 4 or len(self.widths) != self.valid[0]:
            raise ShapeError(f"stacked layout: valid {self.valid}, widths {self.widths}, vars {self.pad_vars}")
        if any(v > (1 << e) for v, e in zip(self.valid, self.pad_vars)) or min(self.widths) < 1:
            raise ShapeError(f"stacked layout: valid {self.valid} does not fit {self.pad_vars}")
        super().__post_init__()

    @property
    def axis_vars(self) -> tuple[int, ...]:
        return self.pad_vars

    @property
    def full(self) -> bool:
        return super().full and all(w == 1 << self.pad_vars[3] for w in self.widths)

    def _last_axis(self, ra: Sequence[int], sa: Sequence[int] | None) -> list[int]:
        """Per distinct width w: sum_{x < w} eq(ra, x) [eq(sa, x)]."""
        e = FrVec.eq_table(list(ra)) if ra else FrVec.ones(1)
        if sa is not None:
            e = e * (FrVec.eq_table(list(sa)) if sa else FrVec.ones(1))
        vals = e.to_ints()
        pref, acc = [0], 0
        for v in vals:
            acc = (acc + v) % P
            pref.append(acc)
        return [pref[w] for w in self.widths]

    def _middle(self, parts_r, parts_s) -> int:
        acc = 1
        for ax in (1, 2):
            ra, v = parts_r[ax], self.valid[ax]
            sa = parts_s[ax] if parts_s is not None else None
            e = FrVec.eq_table(ra) if ra else FrVec.ones(1)
            if sa is not None:
                e = e * (FrVec.eq_table(sa) if sa else FrVec.ones(1))
            acc = acc * (sum(e.to_ints()[:v]) % P) % P
        return acc

    def mask_at(self, point: Sequence[int]) -> int:
        r = self.split(point)
        lay = FrVec.eq_table(r[0]).to_ints() if r[0] else [1]
        last = self._last_axis(r[3], None)
        return self._middle(r, None) * (sum(a * b for a, b in zip(lay, last)) % P) % P

    def masked_eq(self, r: Sequence[int], s: Sequence[int]) -> int:
        pr, ps = self.split(r), self.split(s)
        lay = (FrVec.eq_table(pr[0]) * FrVec.eq_table(ps[0])).to_ints() if pr[0] else [1]
        last = self._last_axis(pr[3], ps[3])
        return self._middle(pr, ps) * (sum(a * b for a, b in zip(lay, last)) % P) % P

    @cached_property
    def mask(self) -> np.ndarray:
        m = np.zeros(self.padded, dtype=np.int64)
        for l, w in enumerate(self.widths):
            m[l, :self.valid[1], :self.valid[2], :w] = 1
        return m.reshape(-1)

    def pad(self, arr) -> np.ndarray:
        """Zero-pad a list of per-layer integer arrays (T, B, width_l) and flatten."""
        if len(arr) != len(self.widths):
            raise ShapeError(f"stacked tensor of {len(arr)} layers, expected {len(self.widths)}")
        out = np.zeros(self.padded, dtype=np.int64)
        for l, (a, w) in enumerate(zip(arr, self.widths)):
            a = np.asarray(a)
            if a.shape != (self.valid[1], self.valid[2], w):
                raise ShapeError(f"layer {l + 1}: tensor of shape {a.shape}, expected {(self.valid[1], self.valid[2], w)}")
            out[l, :a.shape[0], :a.shape[1], :w] = a
        return out.reshape(-1)


_EQ_CACHE: dict = {}


def _eq_cached(point: Sequence[int]) -> FrVec:
    """eq(point, .), remembered for the last few points: the prover evaluates every limb of a
    tensor (and other tensors of its shape) at the same point."""
    key = tuple(int(x) for x in point)
    eq = _EQ_CACHE.get(key)
    if eq is None:
        if len(_EQ_CACHE) >= 3:
            _EQ_CACHE.pop(next(iter(_EQ_CACHE)))
        eq = _EQ_CACHE[key] = FrVec.eq_table(list(key))
    return eq


def mle(table: FrVec, point: Sequence[int]) -> int:
    """Plain MLE evaluation (prover side)."""
    if not point:
        return table[0]
    return table.dot(_eq_cached(point))


@dataclass(eq=False)
class Tensor:
    """A committed (or derived-from-commitments) tensor: the verifier holds `com`, the prover also
    `secret` (values and row blinds)."""

    name: str
    layout: Layout
    com: HyraxCommitment
    secret: HyraxSecret | None = None

    @property
    def values(self) -> FrVec:
        return self.secret.values

    def mle(self, point: Sequence[int]) -> int:
        """Masked MLE (= plain MLE for honest, zero-padded tables)."""
        if not point:
            return self.values[0]
        return self.secret.dot(_eq_cached(point))


@dataclass(frozen=True)
class RangeSpec:
    """Entries in [-offset, 2^bits - offset), stored as limbs of limb_bits bits of value + offset."""

    bits: int
    offset: int
    limb_bits: int = LIMB_BITS

    @property
    def n_limbs(self) -> int:
        return max(1, -(-self.bits // self.limb_bits))

    @property
    def top_bits(self) -> int:
        return self.bits - self.limb_bits * (self.n_limbs - 1)

    def weight(self, j: int) -> int:
        return 1 << (self.limb_bits * j)

    def limbs(self, values: np.ndarray, what: str, strict: bool = True) -> list[np.ndarray]:
        """16-bit limbs of values + offset.  With strict=False (cheating provers in soundness
        tests) an out-of-range value keeps the linear relation with its top limb outside
        [0, 2^16) instead of raising."""
        v = np.asarray(values, dtype=np.int64)
        lo, hi = -self.offset, (1 << self.bits) - self.offset
        if not strict:
            u = v + self.offset
            n = self.n_limbs
            lb = self.limb_bits
            out = [(u >> (lb * j)) & ((1 << lb) - 1) for j in range(n - 1)]
            return out + [u >> (lb * (n - 1))]
        if v.size and (v.min() < lo or v.max() >= hi):
            bad = np.argwhere((v < lo) | (v >= hi))[0]
            raise FieldRangeError(f"{what}: value {int(v[tuple(bad)])} at index {bad.tolist()} is outside "
                                  f"[{lo}, {hi})")
        u = v + self.offset  # < 2^bits <= 2^62
        lb = self.limb_bits
        return [(u >> (lb * j)) & ((1 << lb) - 1) for j in range(self.n_limbs)]


@dataclass(eq=False)
class RangeTensor:
    name: str
    layout: Layout
    spec: RangeSpec
    limbs: list[Tensor]


@dataclass
class _Claim:
    point: list[int]
    value: Claimed
    masked: bool


@dataclass
class _Combination:
    """A claim on a public combination of tensors, each at its own point:
    sum_m coef_m T_(name_m)(point_m) = value."""

    members: list[tuple[str, list[int], int]]
    value: Claimed
    masked: bool


class Claims:
    """All evaluation claims of a proof, per tensor, in registration order, and the claims on
    combinations of tensors (in the order made)."""

    def __init__(self):
        self.tensors: dict[str, Tensor] = {}
        self.claims: dict[str, list[_Claim]] = {}
        self.combinations: list[_Combination] = []

    def register(self, t: Tensor) -> Tensor:
        if t.name in self.tensors:
            raise ShapeError(f"tensor {t.name} registered twice")
        self.tensors[t.name] = t
        self.claims[t.name] = []
        return t

    def add(self, name: str, point: Sequence[int], value: Claimed, masked: bool = True) -> None:
        t = self.tensors[name]
        if len(point) != t.layout.num_vars:
            raise ShapeError(f"claim on {name}: {len(point)} coordinates, expected {t.layout.num_vars}")
        self.claims[name].append(_Claim([int(x) % P for x in point], value, masked))

    def add_combination(self, members: Sequence[tuple[str, Sequence[int], int]], value: Claimed,
                        masked: bool = True) -> None:
        """A claim sum_m coef_m T_m(point_m) = value (members: (tensor, point, coef)); one claim
        where per-tensor claims would take one committed value each.  Its tensors are opened in
        one group (open_all keeps them together)."""
        ms = []
        for name, point, coef in members:
            t = self.tensors[name]
            if len(point) != t.layout.num_vars:
                raise ShapeError(f"claim on {name}: {len(point)} coordinates, expected {t.layout.num_vars}")
            ms.append((name, [int(x) % P for x in point], int(coef) % P))
        if not ms:
            raise ShapeError("a combination claim without tensors")
        if len({self.tensors[n].layout.col_vars for n, _, _ in ms}) != 1:
            raise ShapeError("a combination claim on tensors of different column splits")
        self.combinations.append(_Combination(ms, value, masked))

    # -- range tensors
    def value_claim(self, ch: Channel, rt: RangeTensor, point: Sequence[int], value: Claimed,
                    limb_values: Sequence[int] | None = None) -> None:
        """A claim on the value of a range tensor: send claims on limbs 1.., derive limb 0.
        limb_values: the prover's limb evaluations at point, when already computed."""
        mask = rt.layout.mask_at(point)
        acc = value + ch.const(rt.spec.offset * mask)
        for j in range(1, rt.spec.n_limbs):
            lj = rt.limbs[j]
            c = ch.send_scalar_com(b"limb-claim", lambda lj=lj, j=j: limb_values[j] if limb_values is not None
                                   else lj.mle(point))
            self.add(lj.name, point, c)
            acc = acc - c * rt.spec.weight(j)
        self.add(rt.limbs[0].name, point, acc)

    def send_value(self, ch: Channel, rt: RangeTensor, point: Sequence[int]) -> Claimed:
        """Commit to the value of a range tensor at a point (a new claim) and return it."""
        limbs = [lj.mle(point) for lj in rt.limbs] if ch.prover else None

        def val():
            return -rt.spec.offset * rt.layout.mask_at(point) + sum(v * rt.spec.weight(j) for j, v in enumerate(limbs))
        c = ch.send_scalar_com(b"value-claim", val)
        self.value_claim(ch, rt, point, c, limbs)
        return c

    # -- openings
    #: a group's tensors are zero-extended to its largest; smaller ones join it only when the
    #: extension wastes at most this factor (2^3) of work
    MERGE_VARS = 3
    #: with ``bounded``: a group's reduction holds at most this many field elements of tables
    #: (2^26: 2 GiB); larger groups are split (one more sumcheck and opening each)
    OPEN_MAX_ENTRIES = 1 << 26

    def open_all(self, ch: Channel, by_point: bool = False, bounded: bool = False, linear_max_cols: int = 0) -> None:
        """Open every claimed tensor: tensors with the same column split are grouped (largest first;
        a tensor joins a group whose largest member has at most MERGE_VARS more variables) and each
        group is reduced and opened once.  ``by_point`` selects the pairing of the reduction
        (_open_group): one weight table per claimed point (window and inference proofs, formats 5 and later)
        or one per tensor (the one-time range proofs of models and datasets).  ``bounded`` splits
        a group whose tables (two per tensor, of the largest member's size) would exceed
        OPEN_MAX_ENTRIES (window and inference proofs, formats 5 and later).  A group of at most
        ``linear_max_cols`` columns is opened with the linear dot-product proof (inference proofs,
        format 8: LINEAR_OPEN_MAX_COLS), larger ones with the logarithmic one."""
        in_combo = {n for cb in self.combinations for n, _, _ in cb.members}
        names = [n for n, cl in self.claims.items() if cl or n in in_combo]
        unit = {n: n for n in names}            # the tensors of a combination open in one group

        def root(n):
            while unit[n] != n:
                n = unit[n]
            return n
        for cb in self.combinations:
            for n, _, _ in cb.members[1:]:
                unit[root(n)] = root(cb.members[0][0])
        nv = lambda n: self.tensors[n].layout.num_vars      # noqa: E731
        by_c: dict[int, list[str]] = {}
        for n in names:
            by_c.setdefault(self.tensors[n].layout.col_vars, []).append(n)
        for c in by_c:
            members = sorted(by_c[c], key=lambda n: -nv(n))  # stable
            groups: list[list[str]] = []
            placed: set = set()
            for n in members:
                if root(n) in placed:
                    continue
                placed.add(root(n))
                u = [m for m in members if root(m) == root(n)]
                if groups and nv(groups[-1][0]) - nv(n) <= self.MERGE_VARS and not (
                        bounded and 2 * (len(groups[-1]) + len(u)) << nv(groups[-1][0]) > self.OPEN_MAX_ENTRIES):
                    groups[-1].extend(u)
                else:
                    groups.append(u)
            for g in groups:
                gs = set(g)
                combos = [cb for cb in self.combinations if cb.members[0][0] in gs]
                self._open_group(ch, g, by_point, linear=(1 << c) <= linear_max_cols, combos=combos)

    def _open_group(self, ch: Channel, names: list[str], by_point: bool, linear: bool = False,
                    combos: Sequence[_Combination] = ()) -> None:
        """Reduce every claim on the group's tensors (zero-extended to the largest: the extra
        leading variables are 0) to one point s by one zk sumcheck, then open one random
        combination of the tensors at s.

        With the claims' batching coefficients alpha, sum_i alpha_i y_i = sum_x sum_p V_p(x) W_p(x)
        over *pairs* p of a public weight table W_p and a combination V_p of the tensors:
        per tensor (W_j = sum_{i on T_j} alpha_i eq(r_i, .)[* mask_j], V_j = T_j), or per
        distinct (point, mask) q (W_q = eq(q, .)[* mask], V_q = sum_{i at q} alpha_i T_(j_i)):
        every limb of a range tensor, and every tensor of a relation, is claimed at the same
        points, so the second needs a few tables where the first needs one per tensor.  The
        sumcheck ends in claims V_p(s); gamma combines them into one claim on
        sum_j delta_j T_j, delta_j = sum_p gamma_p (coefficient of T_j in V_p), opened at s.
        With ``by_point`` the pairing with fewer pairs is used (both sides count the distinct
        points; ties go to the points); without, always per tensor."""
        t = ch.t
        t.domain(b"zkdl/open-points" if by_point else b"zkdl/open-group")
        t.append_u64(b"tensors", len(names))
        # every claim as (value, members [(tensor j, point, masked, coefficient)])
        flat: list[tuple[Claimed, list]] = []
        for j, n in enumerate(names):
            t.append_bytes(b"tensor", n.encode())
            t.append_u64(b"num_vars", self.tensors[n].layout.num_vars)
            for c in self.claims[n]:
                t.append_scalars(b"point", c.point)
                t.append_point(b"claim", c.value.com)
                t.append_u64(b"masked", int(c.masked))
                flat.append((c.value, [(j, c.point, c.masked, 1)]))
        if combos:                  # absent from proofs without combinations (their format is unchanged)
            index_of = {n: j for j, n in enumerate(names)}
            t.append_u64(b"combinations", len(combos))
            for cb in combos:
                t.append_u64(b"members", len(cb.members))
                for n, point, coef in cb.members:
                    t.append_u64(b"tensor", index_of[n])
                    t.append_scalars(b"point", point)
                    t.append_scalar(b"coefficient", coef)
                t.append_point(b"claim", cb.value.com)
                t.append_u64(b"masked", int(cb.masked))
                flat.append((cb.value, [(index_of[n], point, cb.masked, coef) for n, point, coef in cb.members]))
        alpha = ch.challenges(b"alpha", len(flat))
        layouts = [self.tensors[n].layout for n in names]
        k = max(lay.num_vars for lay in layouts)
        ext = [k - lay.num_vars for lay in layouts]
        # pairs: (weights [(coefficient, tensor j, point, masked)], values {tensor j: coefficient})
        pairs: list[tuple[list, dict]] = []
        if by_point:
            index: dict = {}
            for a, (_, ms) in zip(alpha, flat):
                for j, point, masked, coef in ms:
                    q = (ext[j], tuple(point), layouts[j] if masked and not layouts[j].full else None)
                    if q not in index:
                        index[q] = len(pairs)
                        pairs.append(([(1, j, point, masked)], {}))
                    vals = pairs[index[q]][1]
                    vals[j] = (vals.get(j, 0) + a * coef) % P
            t.append_u64(b"points", len(pairs))
        if not by_point or len(pairs) > len(names):     # per tensor, when that needs fewer tables
            pairs = [([(a * coef % P, jj, point, masked) for a, (_, ms) in zip(alpha, flat)
                       for jj, point, masked, coef in ms if jj == j], {j: 1}) for j in range(len(names))]
        m = len(pairs)
        spec = SumcheckSpec(k, 2 * m, tuple(Term(1, (i, m + i)) for i in range(m)))
        start = lincomb([v for v, _ in flat], alpha)

        def weight(i):
            def w(s):
                acc = 0
                for a, j, point, masked in pairs[i][0]:
                    e0 = ext[j]
                    lead = 1
                    for x in s[:e0]:
                        lead = lead * (1 - x) % P
                    rest = s[e0:]
                    e = layouts[j].masked_eq(point, rest) if masked else eq_eval(point, rest)
                    acc += a * e % P * lead
                return acc % P
            return w

        def extend(v: FrVec, e: int) -> FrVec:
            return v if not e else FrVec.concat([v, FrVec.zeros((1 << k) - len(v))])

        def tables():
            off: dict = {}                  # per masked tensor: where its 0/1 mask is 0
            vs, ws = [], []
            for wts, vals in pairs:
                e0 = ext[next(iter(vals))]          # every member of a pair has the same extension
                w = None
                for a, j, point, masked in wts:
                    e = FrVec.eq_table(point) if point else FrVec.ones(1)
                    if a != 1:
                        e = e * a
                    if masked and not layouts[j].full:
                        if j not in off:
                            off[j] = layouts[j].mask == 0
                        e = e.zero_where(off[j])     # e is this loop's own table
                    w = e if w is None else w + e       # per point: one table, no sum
                if w is None:
                    w = FrVec.zeros(1 << (k - e0))
                v = FrVec.zeros(1 << (k - e0))
                for j, a in vals.items():
                    v = self.tensors[names[j]].secret.add_scaled_to(v, a)
                vs.append(extend(v, e0))
                ws.append(extend(w, e0))
            return vs + ws

        s, fac = ch.sumcheck(spec, tables, start, {m + i: weight(i) for i in range(m)})
        gamma = ch.challenges(b"gamma", m)
        claim = lincomb([fac[i] for i in range(m)], gamma)
        delta = [0] * len(names)
        for g, (_, vals) in zip(gamma, pairs):
            for j, a in vals.items():
                delta[j] = (delta[j] + g * a) % P
        _open_combined(ch, [self.tensors[nm] for nm in names], delta, s, claim, k, derived=by_point, linear=linear)


#: inference proofs (format 8) open a group of at most this many columns with the linear
#: dot-product proof (sigma.LinearDotProductProof: 2^c + 2 scalars, 16 kB at 2^9 columns; one MSM
#: for the prover where the logarithmic proof folds its 2^c generators, ~5x the time at 2^9)
LINEAR_OPEN_MAX_COLS = 1 << 9


def _open_combined(ch: Channel, tensors: list[Tensor], gamma: list[int], point: list[int],
                   claim: Claimed, k: int, derived: bool = False, linear: bool = False) -> None:
    """Hyrax opening of sum_j gamma_j T_j (each zero-extended to k variables) at point against
    sum_j gamma_j Com(T_j) (the missing rows of a smaller tensor are the identity).

    ``derived`` (window and inference proofs, formats 6 and 7): the combined row commitment C_comb =
    sum_j gamma_j sum_i eq_row_i Com(T_j)_i is a public function of the transcript (every row was
    absorbed, point and gamma were drawn), so it is neither absorbed again nor computed: the
    verifier hands its terms to the dot-product check, whose MSM joins the proof's batch.  The
    one-time range proofs (format 3) absorb it as before.  ``linear``: the dot-product proof is
    sigma.LinearDotProductProof (same statement and transcript position), not DotProductProof."""
    from zkdl.curve import PointVec, msm

    c = tensors[0].layout.col_vars
    rv = k - c
    eq_row = FrVec.eq_table(point[:rv]) if rv else FrVec.ones(1)
    eq_col = FrVec.eq_table(point[rv:]) if c else FrVec.ones(1)
    if derived and ch.prover:
        c_comb = None               # fixed by the transcript; the prover never needs the point
    else:
        rows = PointVec.concat([tt.com.rows for tt in tensors])
        scal = FrVec.concat([eq_row[:len(tt.com.rows)] * g for g, tt in zip(gamma, tensors)])
        c_comb = (rows, scal) if derived else msm(rows, scal)
    ch.t.domain(b"zkdl/open-combined")
    ch.t.append_scalars(b"point", point)
    ch.t.append_point(b"claim", claim.com)
    if ch.prover:
        vals = FrVec.zeros(1 << k)
        blinds = FrVec.zeros(1 << rv)
        for g, tt in zip(gamma, tensors):
            nb = len(tt.secret.blinds)
            vals = tt.secret.add_scaled_to(vals, g)
            if nb < len(blinds):
                blinds[:nb] = blinds[:nb] + tt.secret.blinds * g
            else:
                blinds = blinds + tt.secret.blinds * g
        w = vals
        for x in point[:rv]:
            w = w.fold(x)
        prove = sigma.prove_linear_dot_product if linear else sigma.prove_dot_product
        with ch.phase("open"):
            proof = prove(ch.key, ch.t, c_comb, claim.com, eq_col, w, eq_row.dot(blinds), claim.blind)
        proof.write(ch.w)
    elif linear:
        proof = sigma.LinearDotProductProof.read(ch.r, 1 << c)
        sigma.verify_linear_dot_product(ch.key, ch.t, c_comb, claim.com, eq_col, proof)
    else:
        proof = sigma.DotProductProof.read(ch.r, c)
        sigma.verify_dot_product(ch.key, ch.t, c_comb, claim.com, eq_col, proof)
