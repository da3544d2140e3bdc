"""Hyrax polynomial commitment (Wahby et al., S&P 2018, section 6) over a Pedersen key.

A vector T of length 2^k is the table of its multilinear extension with variable x_1 the most
significant bit of the index (see zkdl.mle): T(r) = sum_i eq(r, i) T[i].  It is laid out as a
matrix of 2^(k-c) rows and 2^c columns in row-major order, so the row index holds the first
k - c variables and the column index the last c.  Each row is committed separately:

    rows[i] = sum_j M[i, j] G_j + rho_i h          (rho_i uniform, G_j = key.G[j])

so commitments (and the prover's secrets) are homomorphic row by row.  The default
c = ceil(k/2) balances commitment size against proof work; callers may choose c (e.g. one data
sample per row).

Evaluation proof at a point r = (r_row, r_col) of a value committed as C_y = Com(y; rho_y):
the verifier forms C_comb = sum_i eq(r_row)_i rows[i], a commitment to
w = sum_i eq(r_row)_i M[i, :] with blind sum_i eq(r_row)_i rho_i, and the prover shows
<w, eq(r_col)> = y with the logarithmic dot-product proof of zkdl.sigma.  Nothing about T or y
is revealed.  Proof size: 2c + 1 points and 2 scalars; verifier work: an MSM of 2^(k-c) points
and one of 2^c + 2c + 5 points.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .codec import ProofFormatError, Reader, Writer
from .curve import G1, PointVec, msm
from .errors import ShapeError, VerificationError
from .field import R_MODULUS, FrVec
from .pedersen import PedersenKey, random_scalars
from .sigma import (
    DotProductProof, _check_dot_product, _smul, prove_dot_product, simulate_dot_product,
    verify_dot_product,
)
from .transcript import Transcript

#: largest number of variables a commitment may have
MAX_VARS = 40

__all__ = [
    "HyraxCommitment", "HyraxSecret", "HyraxEvalProof", "commit", "evaluate", "prove_eval",
    "verify_eval", "simulate_eval", "default_col_vars", "MAX_VARS",
]


def default_col_vars(num_vars: int) -> int:
    """ceil(num_vars / 2)."""
    return (num_vars + 1) // 2


def _ceil_log2(n: int) -> int:
    return max(0, (int(n) - 1).bit_length())


def _check_shape(num_vars, col_vars, what: str) -> None:
    if isinstance(num_vars, bool) or not isinstance(num_vars, int) or not 0 <= num_vars <= MAX_VARS:
        raise ShapeError(f"{what}: num_vars must be an integer in [0, {MAX_VARS}], got {num_vars!r}")
    if isinstance(col_vars, bool) or not isinstance(col_vars, int) or not 0 <= col_vars <= num_vars:
        raise ShapeError(f"{what}: col_vars must be an integer in [0, num_vars={num_vars}], got {col_vars!r}")


def _row_indices(indices, num_rows: int, what: str) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise ShapeError(f"{what}: row indices must be a 1-D integer sequence")
    n = idx.size
    if n == 0 or n & (n - 1):
        raise ShapeError(f"{what}: {n} rows selected, need a power of two")
    idx = idx.astype(np.int64)
    if idx.min() < 0 or idx.max() >= num_rows:
        raise ShapeError(f"{what}: row index out of range [0, {num_rows})")
    return idx


# ============================================================================ commitment
@dataclass(frozen=True, eq=False)
class HyraxCommitment:
    """Row commitments of a 2^(num_vars - col_vars) x 2^col_vars matrix (see module docstring)."""
    rows: PointVec
    num_vars: int
    col_vars: int

    def __post_init__(self):
        _check_shape(self.num_vars, self.col_vars, "HyraxCommitment")
        if not isinstance(self.rows, PointVec) or len(self.rows) != 1 << (self.num_vars - self.col_vars):
            raise ShapeError(f"HyraxCommitment: need {1 << (self.num_vars - self.col_vars)} row commitments")

    @property
    def row_vars(self) -> int:
        return self.num_vars - self.col_vars

    @property
    def num_rows(self) -> int:
        return 1 << self.row_vars

    @property
    def num_cols(self) -> int:
        return 1 << self.col_vars

    def __eq__(self, other) -> bool:
        if not isinstance(other, HyraxCommitment):
            return NotImplemented
        return (self.num_vars, self.col_vars) == (other.num_vars, other.col_vars) and self.rows == other.rows

    __hash__ = None

    def _same(self, other, op: str) -> None:
        if not isinstance(other, HyraxCommitment):
            raise ShapeError(f"HyraxCommitment {op}: operand is not a HyraxCommitment")
        if (self.num_vars, self.col_vars) != (other.num_vars, other.col_vars):
            raise ShapeError(f"HyraxCommitment {op}: shapes ({self.num_vars}, {self.col_vars}) and "
                             f"({other.num_vars}, {other.col_vars}) differ")

    def __add__(self, other: "HyraxCommitment") -> "HyraxCommitment":
        self._same(other, "+")
        return HyraxCommitment(self.rows + other.rows, self.num_vars, self.col_vars)

    def __sub__(self, other: "HyraxCommitment") -> "HyraxCommitment":
        self._same(other, "-")
        return HyraxCommitment(self.rows - other.rows, self.num_vars, self.col_vars)

    def __neg__(self) -> "HyraxCommitment":
        return HyraxCommitment(-self.rows, self.num_vars, self.col_vars)

    def scale(self, k: int) -> "HyraxCommitment":
        """Commitment to k*T (the secret's blinds scale too: use HyraxSecret.scale)."""
        rows = self.rows.to_jacobian().scale(FrVec.full(len(self.rows), int(k))).to_affine()
        return HyraxCommitment(rows, self.num_vars, self.col_vars)

    def select_rows(self, indices: Sequence[int]) -> "HyraxCommitment":
        """Commitment to the matrix made of the given rows (in that order; repeats allowed).
        len(indices) must be a power of two; num_vars becomes log2(len) + col_vars."""
        idx = _row_indices(indices, self.num_rows, "select_rows")
        return HyraxCommitment(self.rows[idx], (len(idx).bit_length() - 1) + self.col_vars, self.col_vars)

    def absorb(self, t: Transcript, label: bytes = b"hyrax-commitment") -> None:
        """Absorb the shape and the row commitments."""
        t.append_u64(label + b"/num_vars", self.num_vars)
        t.append_u64(label + b"/col_vars", self.col_vars)
        t.append_points(label + b"/rows", self.rows)

    def write(self, w: Writer) -> None:
        w.u32(self.num_vars).u32(self.col_vars).points(self.rows)

    @classmethod
    def read(cls, r: Reader, num_vars: int | None = None, col_vars: int | None = None) -> "HyraxCommitment":
        """Strict: num_vars <= MAX_VARS, col_vars <= num_vars, exactly 2^(num_vars - col_vars)
        points; num_vars / col_vars must equal the expected values when given."""
        k = r.u32("hyrax num_vars", MAX_VARS)
        if num_vars is not None and k != num_vars:
            raise ProofFormatError(f"hyrax commitment: {k} variables, expected {num_vars}")
        c = r.u32("hyrax col_vars", k)
        if col_vars is not None and c != col_vars:
            raise ProofFormatError(f"hyrax commitment: {c} column variables, expected {col_vars}")
        n_rows = 1 << (k - c)
        rows = r.points("hyrax rows", n_rows, exact=n_rows)
        return cls(rows, k, c)


# ============================================================================ prover's secret
class HyraxSecret:
    """The prover's side of a HyraxCommitment: the padded values (row-major) and one blind per
    row.  Supports the same homomorphic operations as the commitment, so secrets follow
    commitments.  The repr hides the contents.

    ``values`` may be given as an FrVec or as a 1-D int64 array (the small integers of a
    quantized tensor or a limb): those are kept as they are, a quarter of the memory of field
    elements, and ``values`` converts them on each read; ``ints`` gives them (None for an FrVec),
    for the integer kernels (FrVec.dot_int64, FrVec.add_scaled_int64)."""

    __slots__ = ("_values", "_ints", "blinds", "num_vars", "col_vars")

    def __init__(self, values, blinds: FrVec, num_vars: int, col_vars: int):
        _check_shape(num_vars, col_vars, "HyraxSecret")
        n = 1 << num_vars
        if isinstance(values, np.ndarray):
            if values.dtype != np.int64 or values.shape != (n,):
                raise ShapeError(f"HyraxSecret: need {n} values (an FrVec or a 1-D int64 array)")
            values, ints = None, values
        elif isinstance(values, FrVec) and len(values) == n:
            ints = None
        else:
            raise ShapeError(f"HyraxSecret: need {n} values")
        if not isinstance(blinds, FrVec) or len(blinds) != 1 << (num_vars - col_vars):
            raise ShapeError(f"HyraxSecret: need {1 << (num_vars - col_vars)} blinds")
        self._values, self._ints = values, ints
        self.blinds, self.num_vars, self.col_vars = blinds, num_vars, col_vars

    @property
    def values(self) -> FrVec:
        return self._values if self._values is not None else FrVec.from_int64(self._ints)

    @property
    def ints(self) -> "np.ndarray | None":
        return self._ints

    def __repr__(self) -> str:
        return f"HyraxSecret(num_vars={self.num_vars}, col_vars={self.col_vars})"

    @property
    def row_vars(self) -> int:
        return self.num_vars - self.col_vars

    def _same(self, other, op: str) -> None:
        if not isinstance(other, HyraxSecret):
            raise ShapeError(f"HyraxSecret {op}: operand is not a HyraxSecret")
        if (self.num_vars, self.col_vars) != (other.num_vars, other.col_vars):
            raise ShapeError(f"HyraxSecret {op}: shapes ({self.num_vars}, {self.col_vars}) and "
                             f"({other.num_vars}, {other.col_vars}) differ")

    def __add__(self, other: "HyraxSecret") -> "HyraxSecret":
        self._same(other, "+")
        return HyraxSecret(self.values + other.values, self.blinds + other.blinds, self.num_vars, self.col_vars)

    def __sub__(self, other: "HyraxSecret") -> "HyraxSecret":
        self._same(other, "-")
        return HyraxSecret(self.values - other.values, self.blinds - other.blinds, self.num_vars, self.col_vars)

    def __neg__(self) -> "HyraxSecret":
        return HyraxSecret(-self.values, -self.blinds, self.num_vars, self.col_vars)

    def scale(self, k: int) -> "HyraxSecret":
        return HyraxSecret(_smul(self.values, int(k)), _smul(self.blinds, int(k)), self.num_vars, self.col_vars)

    def select_rows(self, indices: Sequence[int]) -> "HyraxSecret":
        idx = _row_indices(indices, 1 << self.row_vars, "select_rows")
        cols = 1 << self.col_vars
        nv = (len(idx).bit_length() - 1) + self.col_vars
        if self._ints is not None:
            return HyraxSecret(self._ints.reshape(-1, cols)[idx].reshape(-1), self.blinds[idx], nv, self.col_vars)
        vals = self.values.limbs.reshape(-1, cols, 4)[idx].reshape(-1, 4)
        return HyraxSecret(FrVec(vals), self.blinds[idx], nv, self.col_vars)

    def row(self, i: int) -> FrVec:
        cols = 1 << self.col_vars
        if self._ints is not None:
            return FrVec.from_int64(self._ints[i * cols : (i + 1) * cols])
        return self.values[i * cols : (i + 1) * cols]

    def add_scaled_to(self, acc: FrVec, k: int) -> FrVec:
        """acc[:len] += k * values (acc at least as long; in place when the values are integers);
        returns acc."""
        n = 1 << self.num_vars
        if self._ints is not None:
            if len(acc) == n:
                return acc.add_scaled_int64(self._ints, k)
            head = FrVec(acc.limbs[:n])            # a view: updated in place
            head.add_scaled_int64(self._ints, k)
            return acc
        if len(acc) == n:
            return acc + self.values * k
        acc[:n] = acc[:n] + self.values * k
        return acc

    def dot(self, weights: FrVec) -> int:
        """sum_i weights[i] * values[i]."""
        if self._ints is not None:
            return weights.dot_int64(self._ints)
        return weights.dot(self.values)


def commit(key: PedersenKey, values, col_vars: int | None = None, num_vars: int | None = None
           ) -> tuple[HyraxCommitment, HyraxSecret]:
    """Commit to a vector (FrVec, or an integer numpy array of any shape, flattened in C order;
    pad a tensor with zkdl.mle.pad_tensor first to keep its axes aligned with variables).
    The vector is zero-padded to 2^num_vars (default: the next power of two).
    col_vars defaults to ceil(num_vars / 2); key.n must be at least 2^col_vars.
    Integer input keeps the fast small-scalar MSM path."""
    if isinstance(values, FrVec):
        n = len(values)
        ints = None
    else:
        arr = np.asarray(values)
        if arr.dtype.kind not in "iub":
            raise ShapeError(f"hyrax.commit: values must be an FrVec or an integer array, got {arr.dtype}")
        arr = arr.reshape(-1)
        if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ShapeError("hyrax.commit: unsigned values must fit in int64; use an FrVec")
        ints = arr.astype(np.int64)
        n = ints.size
    if n == 0:
        raise ShapeError("hyrax.commit: empty vector")
    k = _ceil_log2(n) if num_vars is None else num_vars
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= MAX_VARS or n > 1 << k:
        raise ShapeError(f"hyrax.commit: {n} values do not fit in 2^{k} (num_vars <= {MAX_VARS})")
    c = default_col_vars(k) if col_vars is None else col_vars
    _check_shape(k, c, "hyrax.commit")
    if 1 << c > key.n:
        raise ShapeError(f"hyrax.commit: rows of 2^{c} exceed the key size {key.n}")
    size, n_rows = 1 << k, 1 << (k - c)
    blinds = random_scalars(n_rows)
    if ints is not None:
        padded = ints if n == size else np.concatenate([ints, np.zeros(size - n, dtype=np.int64)])
        rows = key.commit_rows(padded.reshape(n_rows, 1 << c), blinds)
        return HyraxCommitment(rows, k, c), HyraxSecret(padded, blinds, k, c)
    vals = values if n == size else FrVec.concat([values, FrVec.zeros(size - n)])
    rows = key.commit_rows(vals, blinds)
    return HyraxCommitment(rows, k, c), HyraxSecret(vals.copy(), blinds, k, c)


def evaluate(values: FrVec, r: Sequence[int] | FrVec) -> int:
    """The multilinear extension of values (zero-padded to 2^len(r)) at r, x_1 = the most
    significant index bit."""
    rv = r if isinstance(r, FrVec) else FrVec.from_ints([int(x) for x in r])
    k = len(rv)
    if k > MAX_VARS:
        raise ShapeError(f"evaluate: {k} variables is too many")
    if not isinstance(values, FrVec) or len(values) > 1 << k:
        raise ShapeError(f"evaluate: need an FrVec of at most 2^{k} values")
    if len(values) == 0:
        return 0
    eq = FrVec.eq_table(rv)
    return eq[: len(values)].dot(values) if len(values) < len(eq) else eq.dot(values)


def _fold_rows(values: FrVec, r_row: Sequence[int]) -> FrVec:
    """sum_i eq(r_row, i) * row_i: bind the leading (row) variables one by one."""
    w = values
    for x in r_row:
        w = w.fold(x)
    return w


# ============================================================================ evaluation proof
@dataclass(frozen=True)
class HyraxEvalProof:
    """The dot-product proof for <w, eq(r_col)> = y: 2*col_vars + 1 points, 2 scalars."""
    dot: DotProductProof

    def write(self, w: Writer) -> None:
        self.dot.write(w)

    @classmethod
    def read(cls, r: Reader, col_vars: int) -> "HyraxEvalProof":
        return cls(DotProductProof.read(r, col_vars))


def _point(r, num_vars: int, who: str, err) -> list[int]:
    if isinstance(r, FrVec):
        pt = r.to_ints()
    else:
        try:
            pt = list(r)
        except TypeError:
            pt = None
        if pt is None or any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) for x in pt):
            raise err(f"{who}: the evaluation point must be a sequence of integers")
        pt = [int(x) for x in pt]
    if len(pt) != num_vars:
        raise err(f"{who}: point has {len(pt)} coordinates, the commitment {num_vars} variables")
    return [x % R_MODULUS for x in pt]


def _eval_statement(t: Transcript, key: PedersenKey, com: HyraxCommitment, r: list[int], C_y: G1) -> None:
    t.domain(b"zkdl/hyrax-eval")
    t.append_bytes(b"key", key.label.encode("utf-8"))
    com.absorb(t, b"com")
    t.append_scalars(b"r", r)
    t.append_point(b"C_y", C_y)


def _combine(com: HyraxCommitment, r: list[int]) -> tuple[G1, FrVec]:
    """(C_comb = sum_i eq(r_row)_i rows[i], eq(r_col))."""
    rv = com.row_vars
    eq_row = FrVec.eq_table(r[:rv])
    c_comb = msm(com.rows, eq_row)
    return c_comb, FrVec.eq_table(r[rv:])


def prove_eval(key: PedersenKey, t: Transcript, com: HyraxCommitment, secret: HyraxSecret,
               r: Sequence[int] | FrVec, y: int, rho_y: int) -> HyraxEvalProof:
    """Prove that key.commit_scalar(y, rho_y) commits to T(r), T the vector committed in com."""
    if not isinstance(com, HyraxCommitment) or not isinstance(secret, HyraxSecret):
        raise ShapeError("prove_eval: need a HyraxCommitment and its HyraxSecret")
    if (com.num_vars, com.col_vars) != (secret.num_vars, secret.col_vars):
        raise ShapeError("prove_eval: commitment and secret shapes differ")
    if com.num_cols > key.n:
        raise ShapeError(f"prove_eval: rows of {com.num_cols} exceed the key size {key.n}")
    pt = _point(r, com.num_vars, "prove_eval", ShapeError)
    C_y = key.commit_scalar(y, rho_y)
    _eval_statement(t, key, com, pt, C_y)
    rv = com.row_vars
    c_comb, eq_col = _combine(com, pt)
    w = _fold_rows(secret.values, pt[:rv])
    blind = FrVec.eq_table(pt[:rv]).dot(secret.blinds)
    return HyraxEvalProof(prove_dot_product(key, t, c_comb, C_y, eq_col, w, blind, rho_y))


def _verify_shapes(key: PedersenKey, com, r, C_y, proof) -> list[int]:
    if not isinstance(com, HyraxCommitment):
        raise VerificationError("hyrax-eval: not a HyraxCommitment")
    if not isinstance(proof, HyraxEvalProof):
        raise VerificationError("hyrax-eval: not a HyraxEvalProof")
    if not isinstance(C_y, G1):
        raise VerificationError("hyrax-eval: C_y is not a G1 point")
    if com.num_cols > key.n:
        raise VerificationError(f"hyrax-eval: rows of {com.num_cols} exceed the key size {key.n}")
    return _point(r, com.num_vars, "hyrax-eval", VerificationError)


def _check_eval(key: PedersenKey, com: HyraxCommitment, r: Sequence[int], C_y: G1,
                proof: HyraxEvalProof, c0: int, us: list[int], c: int) -> None:
    """The verifier's check given the dot-product challenges (interactive form)."""
    pt = _verify_shapes(key, com, r, C_y, proof)
    c_comb, eq_col = _combine(com, pt)
    _check_dot_product(key, c_comb, C_y, eq_col, proof.dot, c0, us, c)


def verify_eval(key: PedersenKey, t: Transcript, com: HyraxCommitment, r: Sequence[int] | FrVec,
                C_y: G1, proof: HyraxEvalProof) -> None:
    """Accept (return None) iff proof shows that C_y commits to T(r); else VerificationError."""
    pt = _verify_shapes(key, com, r, C_y, proof)
    _eval_statement(t, key, com, pt, C_y)
    c_comb, eq_col = _combine(com, pt)
    verify_dot_product(key, t, c_comb, C_y, eq_col, proof.dot)


def simulate_eval(key: PedersenKey, com: HyraxCommitment, r: Sequence[int], C_y: G1,
                  c0: int, us: list[int], c: int) -> HyraxEvalProof:
    """HVZK simulator (no secret) for the interactive form, for tests."""
    pt = _point(r, com.num_vars, "simulate_eval", ShapeError)
    c_comb, eq_col = _combine(com, pt)
    return HyraxEvalProof(simulate_dot_product(key, c_comb, C_y, eq_col, c0, us, c))


def proof_group_elements(proof: HyraxEvalProof) -> int:
    """Group elements in an opening proof: L_j, R_j of every folding round and A."""
    return len(proof.dot.L) + len(proof.dot.R) + 1
