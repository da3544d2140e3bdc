"""The group G1 of BLS12-381 (y^2 = x^3 + 4 over Fp) and multi-scalar multiplication.

Points live in numpy ``uint64`` arrays: affine points as 12 limbs (x, y in Montgomery form,
infinity encoded as all zeros), Jacobian points as 18 limbs (X, Y, Z; infinity has Z = 0).
:class:`G1` is one affine point, :class:`PointVec` a vector of them, :class:`JacVec` a vector of
Jacobian points for batched arithmetic.  Encoding is the ZCash-standard compressed form
(48 bytes, big-endian x, flags 0x80 compressed / 0x40 infinity / 0x20 larger y) with strict
decoding: every malformed encoding raises :class:`~zkdl.errors.EncodingError`.
"""
from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from . import _native
from . import backend as _backend
from .errors import EncodingError, ShapeError, ZkdlError
from .field import R_MODULUS, FrVec, scalar_limbs

P_MODULUS = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
_R_FP = pow(2, 384, P_MODULUS)
_R_FP_INV = pow(_R_FP, -1, P_MODULUS)

# the standard generator of G1
_GEN_X = 0x17F1D3A73197D7942695638C4FA9AC0FC3688C4F9774B905A14E3A3F171BAC586C55E83FF97A1AEFFB3AF00ADB22C6BB
_GEN_Y = 0x08B3F481E3AAA0F1A09E30ED741D8AE4FCF5E095D5D00AF600DB18CB2C04B3EDD03CC744A2888AE40CAA232946C5E7E1

_DECODE_ERRORS = {
    1: "compression flag (0x80) is not set",
    2: "malformed infinity encoding (infinity flag with other bits set)",
    3: "x coordinate is not canonical (>= p)",
    4: "x is not the coordinate of a point on the curve",
    5: "point is not in the prime-order subgroup",
}


def _fp_limbs(v: int) -> np.ndarray:
    return np.frombuffer(v.to_bytes(48, "little"), dtype="<u8").astype(np.uint64)


def _fp_int(limbs: np.ndarray) -> int:
    return int.from_bytes(np.ascontiguousarray(limbs, dtype="<u8").tobytes(), "little")


def _affine_array(n: int) -> np.ndarray:
    return np.zeros((n, 12), dtype=np.uint64)


def _to_jac(aff: np.ndarray) -> np.ndarray:
    out = np.empty((aff.shape[0], 18), dtype=np.uint64)
    _native.g1_aff_to_jac(out, aff)
    return out


def _normalize(jac: np.ndarray) -> np.ndarray:
    out = np.empty((jac.shape[0], 12), dtype=np.uint64)
    _native.g1_normalize(out, jac)
    return out


class G1:
    """One point of G1 in affine coordinates."""

    __slots__ = ("limbs",)

    def __init__(self, limbs: np.ndarray):
        """Wrap 12 trusted Montgomery limbs; use from_bytes / from_affine for outside data."""
        limbs = np.ascontiguousarray(limbs, dtype=np.uint64).reshape(12)
        self.limbs = limbs

    @classmethod
    def identity(cls) -> "G1":
        return cls(np.zeros(12, dtype=np.uint64))

    @classmethod
    def generator(cls) -> "G1":
        """The standard generator of G1 (for tests; commitments use hash-to-curve generators)."""
        return cls.from_affine(_GEN_X, _GEN_Y)

    @classmethod
    def from_affine(cls, x: int, y: int) -> "G1":
        """From canonical affine coordinates; checks the curve equation and the subgroup."""
        if not (0 <= x < P_MODULUS and 0 <= y < P_MODULUS):
            raise EncodingError("affine coordinates must be canonical integers in [0, p)")
        limbs = np.concatenate([_fp_limbs(x * _R_FP % P_MODULUS), _fp_limbs(y * _R_FP % P_MODULUS)])
        pt = PointVec(limbs.reshape(1, 12))
        pt.validate()
        return cls(limbs)

    def to_affine(self) -> tuple[int, int] | None:
        """Canonical (x, y), or None for the identity."""
        if self.is_identity():
            return None
        x = _fp_int(self.limbs[:6]) * _R_FP_INV % P_MODULUS
        y = _fp_int(self.limbs[6:]) * _R_FP_INV % P_MODULUS
        return x, y

    @classmethod
    def from_bytes(cls, data: bytes) -> "G1":
        if len(data) != 48:
            raise EncodingError(f"G1 encoding must be 48 bytes, got {len(data)}")
        return PointVec.from_bytes(data)[0]

    def to_bytes(self) -> bytes:
        return PointVec(self.limbs.reshape(1, 12)).to_bytes()

    def is_identity(self) -> bool:
        return not self.limbs.any()

    def _jac(self) -> np.ndarray:
        return _to_jac(self.limbs.reshape(1, 12))

    def __add__(self, other: "G1") -> "G1":
        if not isinstance(other, G1):
            return NotImplemented
        out = np.empty((1, 18), dtype=np.uint64)
        _native.g1_jac_add(out, self._jac(), other._jac())
        return G1(_normalize(out))

    def __neg__(self) -> "G1":
        j = self._jac()
        _native.g1_jac_neg(j, j)
        return G1(_normalize(j))

    def __sub__(self, other: "G1") -> "G1":
        if not isinstance(other, G1):
            return NotImplemented
        return self + (-other)

    def double(self) -> "G1":
        j = self._jac()
        _native.g1_jac_dbl(j, j)
        return G1(_normalize(j))

    def __mul__(self, k) -> "G1":
        if not isinstance(k, (int, np.integer)):
            return NotImplemented
        out = np.empty((1, 18), dtype=np.uint64)
        _native.g1_jac_mul(out, self._jac(), scalar_limbs(int(k)))
        return G1(_normalize(out))

    __rmul__ = __mul__

    def mul_in_group(self, k: int) -> "G1":
        """[k] self for a point known to be in G1 (a generator, a key's g or h), by the GLV
        endomorphism (about half the doublings of ``*``); wrong for points outside G1."""
        out = np.empty((1, 18), dtype=np.uint64)
        _native.g1_jac_mul_glv(out, self._jac(), scalar_limbs(int(k)))
        return G1(_normalize(out))

    def __eq__(self, other) -> bool:
        if not isinstance(other, G1):
            return NotImplemented
        return bool(np.array_equal(self.limbs, other.limbs))

    def __hash__(self) -> int:
        return hash(self.limbs.tobytes())

    def __repr__(self) -> str:
        return "G1(identity)" if self.is_identity() else f"G1({self.to_bytes().hex()[:16]}...)"


class PointVec:
    """A vector of affine G1 points: uint64 array of shape (n, 12)."""

    __slots__ = ("limbs",)

    def __init__(self, limbs: np.ndarray):
        if not isinstance(limbs, np.ndarray) or limbs.dtype != np.uint64 or limbs.ndim != 2 \
                or limbs.shape[1] != 12:
            raise ShapeError("PointVec limbs must be a uint64 array of shape (n, 12)")
        self.limbs = np.ascontiguousarray(limbs)

    @classmethod
    def identity(cls, n: int) -> "PointVec":
        return cls(_affine_array(n))

    @classmethod
    def from_points(cls, points: Sequence[G1]) -> "PointVec":
        if not points:
            return cls.identity(0)
        return cls(np.stack([p.limbs for p in points]))

    @classmethod
    def concat(cls, parts: Sequence["PointVec"]) -> "PointVec":
        if not parts:
            return cls.identity(0)
        return cls(np.concatenate([p.limbs for p in parts], axis=0))

    @classmethod
    def from_bytes(cls, data: bytes, n: int | None = None, subgroup_check: bool = True) -> "PointVec":
        """Strict decoding of concatenated 48-byte compressed points."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise EncodingError("point encodings must be bytes")
        data = bytes(data)
        if len(data) % 48 or (n is not None and len(data) != 48 * n):
            want = "a multiple of 48" if n is None else str(48 * n)
            raise EncodingError(f"G1 encoding: {len(data)} bytes, expected {want}")
        out = _affine_array(len(data) // 48)
        pending = _pending_subgroup() if subgroup_check else None
        idx, code = _native.g1_decompress(out, np.frombuffer(data, dtype=np.uint8),
                                          subgroup_check and pending is None)
        if idx >= 0:
            raise EncodingError(f"G1 point {idx}: {_DECODE_ERRORS[code]}")
        if pending is not None:
            pending.append(out)
        return cls(out)

    def to_bytes(self) -> bytes:
        out = np.empty(48 * len(self), dtype=np.uint8)
        _native.g1_compress(out, self.limbs)
        return out.tobytes()

    def validate(self, subgroup: bool = True) -> None:
        """Raise EncodingError unless every point is on the curve (and in the subgroup)."""
        idx, code = _native.g1_check(self.limbs, subgroup)
        if idx >= 0:
            what = "is not on the curve" if code == 1 else "is not in the prime-order subgroup"
            raise EncodingError(f"G1 point {idx} {what}")

    def __len__(self) -> int:
        return self.limbs.shape[0]

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)):
            return G1(self.limbs[int(idx)].copy())
        return PointVec(np.ascontiguousarray(self.limbs[idx]))

    def __iter__(self):
        return (G1(row.copy()) for row in self.limbs)

    def __eq__(self, other) -> bool:
        if not isinstance(other, PointVec):
            return NotImplemented
        return self.limbs.shape == other.limbs.shape and bool(np.array_equal(self.limbs, other.limbs))

    __hash__ = None

    def __repr__(self) -> str:
        return f"PointVec(n={len(self)})"

    def to_jacobian(self) -> "JacVec":
        return JacVec(_to_jac(self.limbs))

    # row-wise group operations (Hyrax row commitments compose through these)
    def __add__(self, other: "PointVec") -> "PointVec":
        return (self.to_jacobian() + other.to_jacobian()).to_affine()

    def __sub__(self, other: "PointVec") -> "PointVec":
        return (self.to_jacobian() - other.to_jacobian()).to_affine()

    def __neg__(self) -> "PointVec":
        return (-self.to_jacobian()).to_affine()


class JacVec:
    """A vector of Jacobian points (uint64 array of shape (n, 18)) for batched arithmetic;
    convert back with :meth:`to_affine` (one field inversion for the whole batch)."""

    __slots__ = ("limbs",)

    def __init__(self, limbs: np.ndarray):
        if not isinstance(limbs, np.ndarray) or limbs.dtype != np.uint64 or limbs.ndim != 2 \
                or limbs.shape[1] != 18:
            raise ShapeError("JacVec limbs must be a uint64 array of shape (n, 18)")
        self.limbs = np.ascontiguousarray(limbs)

    def __len__(self) -> int:
        return self.limbs.shape[0]

    def _same(self, other: "JacVec") -> None:
        if not isinstance(other, JacVec) or len(other) != len(self):
            raise ShapeError("JacVec operands must have equal lengths")

    def __add__(self, other: "JacVec") -> "JacVec":
        self._same(other)
        out = np.empty_like(self.limbs)
        _native.g1_jac_add(out, self.limbs, other.limbs)
        return JacVec(out)

    def __neg__(self) -> "JacVec":
        out = np.empty_like(self.limbs)
        _native.g1_jac_neg(out, self.limbs)
        return JacVec(out)

    def __sub__(self, other: "JacVec") -> "JacVec":
        return self + (-other)

    def double(self) -> "JacVec":
        out = np.empty_like(self.limbs)
        _native.g1_jac_dbl(out, self.limbs)
        return JacVec(out)

    def scale(self, scalars: FrVec, in_group: bool = False) -> "JacVec":
        """Elementwise scalar multiplication [k_i] P_i.  ``in_group``: every P_i is known to be in
        G1 (generators), so the GLV endomorphism applies (about half the doublings)."""
        if not isinstance(scalars, FrVec) or len(scalars) != len(self):
            raise ShapeError("scale: need an FrVec with one scalar per point")
        out = np.empty_like(self.limbs)
        (_native.g1_jac_mul_glv if in_group else _native.g1_jac_mul)(out, self.limbs, scalars.limbs)
        return JacVec(out)

    def to_affine(self) -> PointVec:
        return PointVec(_normalize(self.limbs))


def _scalar_args(scalars, n: int, fn: str):
    """(array, kind) for the native MSM: kind 0 = int64, 1 = Montgomery Fr."""
    if isinstance(scalars, FrVec):
        arr, kind = scalars.limbs, 1
        count = len(scalars)
    else:
        arr = np.asarray(scalars)
        if arr.dtype.kind not in "iub":
            raise ShapeError(f"{fn}: scalars must be an FrVec or an integer array, got {arr.dtype}")
        if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ShapeError(f"{fn}: unsigned scalars must fit in int64; use an FrVec")
        arr = np.ascontiguousarray(arr, dtype=np.int64)
        kind = 0
        count = arr.size
    if count != n:
        raise ShapeError(f"{fn}: {count} scalars for {n} points")
    return arr, kind


def msm(points: PointVec, scalars) -> G1:
    """sum_i [k_i] P_i.  scalars: FrVec (any values; small ones in centred form take the fast
    path) or an int64 array (quantized values, negative allowed)."""
    if not isinstance(points, PointVec):
        raise ShapeError("msm: points must be a PointVec")
    arr, kind = _scalar_args(scalars, len(points), "msm")
    out = np.empty((1, 12), dtype=np.uint64)
    _backend.active().msm(out, points.limbs, arr, kind)
    return G1(out)


def msm_pair(points1: PointVec, scalars1, points2: PointVec, scalars2) -> tuple[G1, G1]:
    """Two independent MSMs, (msm(points1, scalars1), msm(points2, scalars2)).  On the C
    extension, two small ones (under 4096 points each, where one MSM runs on a single thread) run
    at once on two threads (native msm2: the inner-product argument's L and R); otherwise, and on
    other backends, one after the other."""
    if _backend.active() is not _native:
        return msm(points1, scalars1), msm(points2, scalars2)
    for p in (points1, points2):
        if not isinstance(p, PointVec):
            raise ShapeError("msm_pair: points must be PointVecs")
    a1, k1 = _scalar_args(scalars1, len(points1), "msm_pair")
    a2, k2 = _scalar_args(scalars2, len(points2), "msm_pair")
    out = np.empty((2, 12), dtype=np.uint64)
    _native.msm2(out, points1.limbs, a1, k1, points2.limbs, a2, k2)
    return G1(out[0:1].copy()), G1(out[1:2].copy())


def msm_rows(points: PointVec, scalars) -> PointVec:
    """One MSM per row over the same points: scalars is a 2-D integer array of shape
    (rows, len(points)), or an FrVec of length rows * len(points) in row-major order."""
    if not isinstance(points, PointVec):
        raise ShapeError("msm_rows: points must be a PointVec")
    arr, kind, rows = _row_scalar_args(scalars, len(points), "msm_rows")
    out = _affine_array(rows)
    _backend.active().msm_rows(out, points.limbs, arr, kind)
    return PointVec(out)


def _row_scalar_args(scalars, m: int, what: str):
    """(native scalars, kind, rows) for rows of m scalars: an FrVec of rows * m (row-major) or a
    2-D integer array of shape (rows, m)."""
    if isinstance(scalars, FrVec):
        total = len(scalars)
    else:
        scalars = np.asarray(scalars)
        if scalars.ndim != 2 or scalars.shape[1] != m:
            raise ShapeError(f"{what}: integer scalars must have shape (rows, {m}), got {scalars.shape}")
        total = scalars.size
    if m == 0 or total % m:
        raise ShapeError(f"{what}: {total} scalars do not form rows of {m}")
    arr, kind = _scalar_args(scalars, total, what)
    return arr, kind, total // m


def fixed_base_mul(base: G1, scalars: FrVec) -> PointVec:
    """[k_i] base for every k_i (one base point, many scalars): a fixed-base comb, ~32 mixed
    additions per scalar after a table of 8160 points built per call (worth it from ~30 scalars)."""
    if not isinstance(base, G1) or not isinstance(scalars, FrVec):
        raise ShapeError("fixed_base_mul: need a G1 base and an FrVec of scalars")
    out = _affine_array(len(scalars))
    _native.g1_fixed_base_mul(out, base.limbs.reshape(1, 12), scalars.limbs)
    return PointVec(out)


class CombTable:
    """A fixed-base comb over a few points kept for many MSMs (the Pedersen bases g, h of every
    scalar commitment: zkdl.pedersen.PedersenKey).  Built once: len(points) * (255 // c + 1) *
    2^(c-1) affine entries (c = 8: 4096 per point, 384 kB); then sum_i [k_i] P_i costs at most
    255 // c + 1 mixed additions per point and no doubling (a 2-point commitment ~10x faster than
    Straus, which builds its tables and doubles 255 times per call)."""

    def __init__(self, points: PointVec, c: int = 8):
        if not isinstance(points, PointVec) or not len(points):
            raise ShapeError("CombTable: need a non-empty PointVec")
        if not 2 <= c <= 12:
            raise ShapeError("CombTable: window c must be in [2, 12]")
        self.points, self.c = points, c
        self.table = _affine_array(len(points) * (255 // c + 1) * (1 << (c - 1)))
        _native.comb_table(self.table, points.limbs, c)

    def msm_rows(self, scalars) -> PointVec:
        """One MSM per row: scalars an FrVec of length rows * len(points) (row-major) or an
        integer array of shape (rows, len(points))."""
        arr, kind, rows = _row_scalar_args(scalars, len(self.points), "CombTable.msm_rows")
        out = _affine_array(rows)
        _native.comb_msm_rows(out, self.table, arr, kind, self.c)
        return PointVec(out)

    def msm(self, scalars) -> G1:
        """sum_i [k_i] P_i (one row)."""
        if len(scalars) != len(self.points):
            raise ShapeError(f"CombTable.msm: need {len(self.points)} scalars, got {len(scalars)}")
        return self.msm_rows(scalars if isinstance(scalars, FrVec) else np.asarray(scalars)[None])[0]


def naive_msm(points: PointVec, scalars: Sequence[int]) -> G1:
    """Reference sum of scalar multiplications (slow; for tests)."""
    if len(scalars) != len(points):
        raise ZkdlError("naive_msm: length mismatch")
    acc = G1.identity()
    for p, k in zip(points, scalars):
        acc = acc + p * (int(k) % R_MODULUS)
    return acc


# ---------------------------------------------------------------------------- deferred subgroup checks
_DEFER = threading.local()


def _pending_subgroup() -> list | None:
    return getattr(_DEFER, "pending", None)


class deferred_subgroup_checks:
    """Context manager for a verifier reading a whole proof: points decoded inside it
    (PointVec.from_bytes / G1.from_bytes with the subgroup check) are decoded strictly at once --
    flags, canonical x, on the curve -- but their membership in the prime-order subgroup is checked
    for all of them together, in one multithreaded native call, by :meth:`check` (the caller's
    acceptance must wait for it; sigma.batched_checks runs it before the deferred equations).
    Nested uses join the outermost.  Per thread."""

    def __enter__(self) -> "deferred_subgroup_checks":
        self.own = _pending_subgroup() is None
        if self.own:
            _DEFER.pending = []
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.own:
            self.points = _DEFER.pending
            _DEFER.pending = None

    def check(self) -> None:
        """Raise EncodingError unless every point decoded inside the context is in the subgroup."""
        pts = getattr(self, "points", None)
        if self.own and pts:
            rows = np.unique(np.concatenate(pts, axis=0), axis=0)     # each distinct point once
            idx, code = _native.g1_check(np.ascontiguousarray(rows), True)
            if idx >= 0:
                raise EncodingError("a G1 point of the proof is not in the prime-order subgroup")
