"""Vectors over Fr, the scalar field of BLS12-381.

An :class:`FrVec` holds a numpy ``uint64`` array of shape ``(n, 4)``: each row one element in
Montgomery form, little-endian limbs.  All arithmetic runs in the C extension (``zkdl._native``),
which releases the GIL and uses every configured thread above a size threshold.  Single scalars
are plain Python ints reduced mod r.

>>> a = FrVec.from_ints([1, 2, 3])
>>> (a * a + 1).to_ints()
[2, 5, 10]
>>> FrVec.from_int64(np.array([-1, 5])).to_ints()[0] == R_MODULUS - 1
True
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from . import _native
from . import backend as _backend
from .errors import FieldRangeError, ShapeError, ZkdlError

R_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
_LIMB_DTYPE = np.dtype("<u8")


def _limbs_from_ints(values: Sequence[int]) -> np.ndarray:
    """Canonical little-endian limbs of ints already in [0, r)."""
    buf = b"".join(v.to_bytes(32, "little") for v in values)
    return np.frombuffer(buf, dtype=_LIMB_DTYPE).reshape(-1, 4).copy()


def _ints_from_limbs(limbs: np.ndarray) -> list[int]:
    raw = np.ascontiguousarray(limbs, dtype=_LIMB_DTYPE).tobytes()
    return [int.from_bytes(raw[i : i + 32], "little") for i in range(0, len(raw), 32)]


def scalar_limbs(x: int) -> np.ndarray:
    """One scalar (any int, reduced mod r) as a (1, 4) Montgomery array."""
    if not isinstance(x, (int, np.integer)):
        raise ZkdlError(f"expected an integer scalar, got {type(x).__name__}")
    out = np.empty((1, 4), dtype=np.uint64)
    _native.fr_from_canonical(out, _limbs_from_ints([int(x) % R_MODULUS]))
    return out


def scalar_from_limbs(limbs: np.ndarray) -> int:
    out = np.empty((1, 4), dtype=np.uint64)
    _native.fr_to_canonical(out, limbs)
    return _ints_from_limbs(out)[0]


class FrVec:
    """A vector of Fr elements in Montgomery form (numpy uint64 array of shape (n, 4))."""

    __slots__ = ("limbs",)
    # numpy scalars on the left of an operator defer to FrVec's reflected operators instead of
    # broadcasting over the object (which would give unreduced integers)
    __array_ufunc__ = None

    def __init__(self, limbs: np.ndarray):
        """Wrap Montgomery limbs as they are (no reduction); use the from_* constructors for
        values coming from outside."""
        if not isinstance(limbs, np.ndarray) or limbs.dtype != np.uint64 or limbs.ndim != 2 \
                or limbs.shape[1] != 4:
            raise ShapeError("FrVec limbs must be a uint64 array of shape (n, 4)")
        self.limbs = np.ascontiguousarray(limbs)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def zeros(cls, n: int) -> "FrVec":
        return cls(np.zeros((_check_len(n), 4), dtype=np.uint64))

    @classmethod
    def full(cls, n: int, value: int) -> "FrVec":
        out = np.empty((_check_len(n), 4), dtype=np.uint64)
        out[:] = scalar_limbs(value)
        return cls(out)

    def repeat_each(self, n: int) -> "FrVec":
        """Every element n times in a row (numpy.repeat; a broadcast copy, several times faster
        than np.repeat on rows)."""
        out = np.empty((len(self), _check_len(n), 4), dtype=np.uint64)
        out[:] = self.limbs[:, None, :]
        return FrVec(out.reshape(-1, 4))

    def tile(self, n: int) -> "FrVec":
        """The whole vector n times (numpy.tile)."""
        out = np.empty((_check_len(n), len(self), 4), dtype=np.uint64)
        out[:] = self.limbs[None, :, :]
        return FrVec(out.reshape(-1, 4))

    @classmethod
    def ones(cls, n: int) -> "FrVec":
        return cls.full(n, 1)

    @classmethod
    def from_ints(cls, values: Iterable[int]) -> "FrVec":
        """From Python ints of any size and sign (reduced mod r)."""
        vals = []
        for v in values:
            if not isinstance(v, (int, np.integer)):
                raise ZkdlError(f"FrVec.from_ints: expected integers, got {type(v).__name__}")
            vals.append(int(v) % R_MODULUS)
        return cls._from_canonical(_limbs_from_ints(vals) if vals else np.zeros((0, 4), np.uint64))

    @classmethod
    def from_canonical_limbs(cls, limbs: np.ndarray) -> "FrVec":
        """From canonical little-endian limbs; values >= r are rejected."""
        limbs = np.asarray(limbs)
        if limbs.dtype != np.uint64 or limbs.ndim != 2 or limbs.shape[1] != 4:
            raise ShapeError("canonical limbs must be a uint64 array of shape (n, 4)")
        return cls._from_canonical(np.ascontiguousarray(limbs))

    @classmethod
    def _from_canonical(cls, limbs: np.ndarray) -> "FrVec":
        out = np.empty_like(limbs)
        bad = _native.fr_from_canonical(out, limbs)
        if bad >= 0:
            raise FieldRangeError(f"element {bad} is not a canonical Fr value (>= r)")
        return cls(out)

    @classmethod
    def from_bytes(cls, data: bytes, n: int | None = None) -> "FrVec":
        """Strict decoding of 32-byte little-endian canonical encodings."""
        if len(data) % 32 or (n is not None and len(data) != 32 * n):
            want = "a multiple of 32" if n is None else str(32 * n)
            raise ShapeError(f"Fr encoding: {len(data)} bytes, expected {want}")
        return cls._from_canonical(np.frombuffer(data, dtype=_LIMB_DTYPE).reshape(-1, 4).copy())

    @classmethod
    def from_int64(cls, values) -> "FrVec":
        """From signed integers (quantized tensors): x >= 0 maps to x, x < 0 to r - |x|.
        Any shape is flattened in C order."""
        arr = np.asarray(values)
        if arr.dtype.kind not in "iub":
            raise ShapeError(f"from_int64 expects an integer array, got dtype {arr.dtype}")
        if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise FieldRangeError("from_int64: unsigned value does not fit in int64")
        arr = np.ascontiguousarray(arr.reshape(-1), dtype=np.int64)
        out = np.empty((arr.shape[0], 4), dtype=np.uint64)
        _native.fr_from_i64(out, arr)
        return cls(out)

    @classmethod
    def const_minus_int64(cls, a: int, x) -> "FrVec":
        """a - x[i] for an int64 array x, in one pass (logUp leaves alpha - v)."""
        arr = np.asarray(x)
        if arr.dtype != np.int64 or arr.ndim != 1:
            raise ShapeError(f"const_minus_int64: need a 1-D int64 array, got {arr.dtype} {arr.shape}")
        arr = np.ascontiguousarray(arr)
        out = np.empty((arr.shape[0], 4), dtype=np.uint64)
        _native.fr_rsub_i64(out, arr, scalar_limbs(a))
        return cls(out)

    @classmethod
    def random(cls, n: int) -> "FrVec":
        """Uniform elements for the prover (zkdl.randomness: the OS entropy source, or the run's PRF
        inside randomness.derived)."""
        from . import randomness

        n = _check_len(n)
        raw = np.frombuffer(randomness.token_bytes(64 * n), dtype=_LIMB_DTYPE).reshape(-1, 8)
        # reduce 512-bit values mod r in Python ints: statistically uniform (bias < 2^-256)
        vals = [int.from_bytes(raw[i].tobytes(), "little") % R_MODULUS for i in range(n)]
        return cls.from_ints(vals)

    @classmethod
    def powers(cls, x: int, n: int) -> "FrVec":
        """[1, x, x^2, ..., x^(n-1)]"""
        out = np.empty((_check_len(n), 4), dtype=np.uint64)
        _native.fr_powers(out, scalar_limbs(x))
        return cls(out)

    @classmethod
    def eq_table(cls, u: Sequence[int] | "FrVec") -> "FrVec":
        """eq(u, x) for every x in {0,1}^k, indexed with u[0] the most significant bit:
        entry i = prod_j (u_j if bit (k-1-j) of i else 1 - u_j)."""
        uv = u if isinstance(u, FrVec) else FrVec.from_ints(list(u))
        k = len(uv)
        if k > 40:
            raise ShapeError(f"eq_table: {k} variables is too many")
        out = np.empty((1 << k, 4), dtype=np.uint64)
        _backend.active().fr_eq_table(out, uv.limbs)
        return cls(out)

    @classmethod
    def concat(cls, parts: Sequence["FrVec"]) -> "FrVec":
        if not parts:
            return cls.zeros(0)
        return cls(np.concatenate([p.limbs for p in parts], axis=0))

    # ------------------------------------------------------------------ conversions
    def to_ints(self) -> list[int]:
        return _ints_from_limbs(self.canonical_limbs())

    def canonical_limbs(self) -> np.ndarray:
        out = np.empty_like(self.limbs)
        _native.fr_to_canonical(out, self.limbs)
        return out

    def to_bytes(self) -> bytes:
        """32-byte little-endian canonical encodings, concatenated."""
        return self.canonical_limbs().astype(_LIMB_DTYPE, copy=False).tobytes()

    def to_int64(self, bound_bits: int = 63) -> np.ndarray:
        """Centred lift to int64 (values above (r-1)/2 are negative).  Raises FieldRangeError
        naming the first element outside [-2^bound_bits, 2^bound_bits)."""
        if not 0 <= bound_bits <= 63:
            raise ZkdlError("bound_bits must be in [0, 63]")
        out = np.empty(len(self), dtype=np.int64)
        bad = _native.fr_to_i64(out, self.limbs, bound_bits)
        if bad >= 0:
            raise FieldRangeError(
                f"element {bad} does not fit in a signed {bound_bits + 1}-bit integer "
                f"(centred value {_centred(self[bad])})")
        return out

    # ------------------------------------------------------------------ container protocol
    def __len__(self) -> int:
        return self.limbs.shape[0]

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)):
            i = int(idx)
            if not -len(self) <= i < len(self):
                raise IndexError(f"index {i} out of range for FrVec of length {len(self)}")
            return scalar_from_limbs(self.limbs[i : i + 1] if i >= 0 else self.limbs[[i]])
        return FrVec(np.ascontiguousarray(self.limbs[idx]))

    def __setitem__(self, idx, value):
        if isinstance(value, FrVec):
            self.limbs[idx] = value.limbs
        else:
            self.limbs[idx] = scalar_limbs(value)[0]

    def __iter__(self):
        return iter(self.to_ints())

    def __repr__(self) -> str:
        vals = self.to_ints() if len(self) <= 6 else self[:3].to_ints() + ["..."] + self[-2:].to_ints()
        return f"FrVec(n={len(self)}, {vals})"

    def copy(self) -> "FrVec":
        return FrVec(self.limbs.copy())

    def __eq__(self, other) -> bool:
        if not isinstance(other, FrVec):
            return NotImplemented
        return self.limbs.shape == other.limbs.shape and bool(np.array_equal(self.limbs, other.limbs))

    __hash__ = None

    # ------------------------------------------------------------------ arithmetic
    def _binary(self, other, vec_op: str, scalar_op: str | None) -> "FrVec":
        """An elementwise operation on the active backend (zkdl.backend): vec_op with an FrVec,
        scalar_op with an integer."""
        out = np.empty_like(self.limbs)
        if isinstance(other, FrVec):
            if len(other) != len(self):
                raise ShapeError(f"length mismatch: {len(self)} vs {len(other)}")
            getattr(_backend.active(), vec_op)(out, self.limbs, other.limbs)
        elif isinstance(other, (int, np.integer)) and scalar_op is not None:
            getattr(_backend.active(), scalar_op)(out, self.limbs, scalar_limbs(other))
        else:
            return NotImplemented
        return FrVec(out)

    def __add__(self, other):
        return self._binary(other, "fr_add", "fr_add_scalar")

    __radd__ = __add__

    def __sub__(self, other):
        if isinstance(other, (int, np.integer)):
            return self._binary(-int(other), "fr_add", "fr_add_scalar")
        return self._binary(other, "fr_sub", None)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        return self._binary(other, "fr_mul", "fr_scale")

    __rmul__ = __mul__

    def __neg__(self):
        out = np.empty_like(self.limbs)
        _native.fr_neg(out, self.limbs)
        return FrVec(out)

    def square(self) -> "FrVec":
        out = np.empty_like(self.limbs)
        _native.fr_sqr(out, self.limbs)
        return FrVec(out)

    def sum(self) -> int:
        out = np.empty((1, 4), dtype=np.uint64)
        _native.fr_inner(out, self.limbs)
        return scalar_from_limbs(out)

    def dot(self, other: "FrVec") -> int:
        """Inner product sum_i self[i] * other[i]."""
        if not isinstance(other, FrVec) or len(other) != len(self):
            raise ShapeError("dot: operands must be FrVecs of equal length")
        out = np.empty((1, 4), dtype=np.uint64)
        _native.fr_inner(out, self.limbs, other.limbs)
        return scalar_from_limbs(out)

    def rows_dot(self, other: "FrVec") -> "FrVec":
        """self read as a row-major matrix of len(other) columns, times other: out[i] =
        sum_j self[i * m + j] * other[j] (one native pass)."""
        m = len(other) if isinstance(other, FrVec) else 0
        if not m or len(self) % m:
            raise ShapeError("rows_dot: need a non-empty FrVec whose length divides this one's")
        out = np.empty((len(self) // m, 4), dtype=np.uint64)
        _native.fr_inner_rows(out, self.limbs, other.limbs)
        return FrVec(out)

    def zero_where(self, off) -> "FrVec":
        """In place: self[i] = 0 wherever the boolean array ``off`` is true (a 0/1 mask applied
        without products); returns self."""
        off = np.asarray(off)
        if off.dtype != np.bool_ or off.shape != (len(self),):
            raise ShapeError(f"zero_where: need a boolean array of length {len(self)}, got {off.dtype} {off.shape}")
        self.limbs[off] = 0
        return self

    def mid_dot(self, other: "FrVec", inner: int) -> "FrVec":
        """self read as a row-major (outer, len(other), inner) table, contracted with other over
        its middle axis: out[i * inner + c] = sum_j self[(i * m + j) * inner + c] * other[j]
        (one native pass, no transposition)."""
        m = len(other) if isinstance(other, FrVec) else 0
        inner = int(inner)
        if not m or inner < 1 or len(self) % (m * inner):
            raise ShapeError("mid_dot: need a non-empty FrVec and an inner size whose product divides "
                             "this one's length")
        out = np.empty((len(self) // m, 4), dtype=np.uint64)
        _native.fr_inner_mid(out, self.limbs, other.limbs, inner)
        return FrVec(out)

    def dot_int64(self, x) -> int:
        """sum_i self[i] * x[i] for an int64 array x of the same length: one Montgomery product
        per element, no conversion of x (small-integer tensors: limbs, signs, activations)."""
        x = _int64_vector(x, len(self), "dot_int64")
        out = np.empty((1, 4), dtype=np.uint64)
        _native.fr_inner_i64(out, self.limbs, x)
        return scalar_from_limbs(out)

    def add_scaled_int64(self, x, s: int) -> "FrVec":
        """In place: self[i] += s * x[i] for an int64 array x of the same length (one Montgomery
        product per element); returns self."""
        x = _int64_vector(x, len(self), "add_scaled_int64")
        _native.fr_axpy_i64(self.limbs, x, scalar_limbs(int(s) * _MONT_R))
        return self

    def inverse(self) -> "FrVec":
        """Elementwise inverse by Montgomery's batch trick (one field inversion)."""
        out = np.empty_like(self.limbs)
        bad = _native.fr_batch_inv(out, self.limbs)
        if bad >= 0:
            raise FieldRangeError(f"inverse: element {bad} is zero")
        return FrVec(out)

    def fold(self, c: int) -> "FrVec":
        """Sumcheck fold binding the most significant variable to c:
        out[i] = a[i] + c * (a[h + i] - a[i]) with h = len / 2."""
        n = len(self)
        if n % 2:
            raise ShapeError(f"fold: length {n} is odd")
        out = np.empty((n // 2, 4), dtype=np.uint64)
        _backend.active().fr_fold(out, self.limbs, scalar_limbs(c))
        return FrVec(out)


    def half_sum(self) -> "FrVec":
        """out[i] = a[i] + a[h + i]: sums out the most significant variable (eq tables)."""
        n = len(self)
        if n % 2:
            raise ShapeError(f"half_sum: length {n} is odd")
        out = np.empty((n // 2, 4), dtype=np.uint64)
        _native.fr_half_sum(out, self.limbs)
        return FrVec(out)


#: 2^256 mod r: scalar_limbs(s * _MONT_R) stores s * R^2, the operand that makes one Montgomery
#: product of a raw small integer x give the Montgomery form of x * s (FrVec.add_scaled_int64)
_MONT_R = pow(2, 256, R_MODULUS)


def _int64_vector(x, n: int, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype != np.int64 or arr.ndim != 1 or arr.shape[0] != n:
        raise ShapeError(f"{what}: need a 1-D int64 array of length {n}, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def product_evals(eq: "FrVec | None", factors: Sequence[FrVec], degree: int, skip_one: bool = False) -> list[int]:
    """Sumcheck round kernel: for X = 0..degree,
    sum_i w_i * prod_j (f_j[i] + X * (f_j[m + i] - f_j[i])), with w = eq (length m) or 1 and
    m = len(f_j) / 2 (the round binds the most significant variable).  With ``skip_one`` the
    value at X = 1 may be left out (returned as 0 by the CPU kernel): the caller derives it."""
    out = np.empty((degree + 1, 4), dtype=np.uint64)
    args = (out, None if eq is None else eq.limbs, tuple(f.limbs for f in factors), degree)
    _backend.active().sc_term_evals(*args, *((True,) if skip_one else ()))   # 4-argument backends still work
    return FrVec(out).to_ints()


def frac_evals(eq: "FrVec | None", factors: Sequence[FrVec], lam: int, degree: int,
               skip_one: bool = False) -> list[int]:
    """Round kernel of a logUp fraction-tree layer (zkdl.logup._layer_spec), for X = 0..degree:
    sum_i w_i (pL qR + pR qL + lam qL qR)(X) for factors (pL, pR, qL, qR), or
    sum_i w_i (qR + qL + lam qL qR)(X) for (qL, qR) (unit numerators), w = eq or 1.  The same
    values as the three terms through product_evals one by one (tests/test_sumcheck.py) with
    about half the products: factored as qR (pL + lam qL) + pR qL, lam qL extended itself."""
    if len(factors) not in (2, 4):
        raise ShapeError(f"frac_evals: {len(factors)} factors, expected (qL, qR) or (pL, pR, qL, qR)")
    out = np.empty((degree + 1, 4), dtype=np.uint64)
    _backend.active().sc_frac_evals(out, None if eq is None else eq.limbs, tuple(f.limbs for f in factors),
                                    scalar_limbs(lam), bool(skip_one))
    return FrVec(out).to_ints()


def inner(a: FrVec, b: FrVec) -> int:
    return a.dot(b)


def _check_len(n) -> int:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ShapeError(f"length must be a non-negative integer, got {n!r}")
    return int(n)


def _centred(x: int) -> int:
    return x - R_MODULUS if x > (R_MODULUS - 1) // 2 else x
