"""Normative fixed-point training semantics, version 2 (see docs/semantics.md).

This module is the single implementation of the integer arithmetic that the training proofs
attest to: quantization, rounding rescales, the forward pass with ReLU, the MSE gradient,
backpropagation with zkReLU (the forward sign vector reused backwards), the SGD update on master
weights and the public batch schedule.  Everything is exact integer arithmetic on numpy int64
arrays; products that may exceed int64 are computed exactly (digit-split float64 BLAS with
carries, or Python ints), and a value that leaves its range raises :class:`TrainingRangeError`
naming the step, the layer and the tensor -- nothing ever wraps or rounds silently.

Version 2 ("exact accumulation with master weights"): training updates master weights
M = 2^(R+k) * W (scale 2^(2R+k)) exactly, M <- M - eta_int * G_W, with no rounding of the
update; the matmuls with M are rescaled by 2^(2R+k).  The published model of a run is
``round_master(config, M)[0]`` (scale 2^R).

Conventions:

* A real x is the integer round(x * 2^R) (round half up).  ``R`` is the number of fractional bits.
* A model W is at scale 2^R; master weights M are at scale 2^(2R+k) (``config.master_shift``).
* Layer l = 1..L maps width d_{l-1} to d_l.  Its weight W_l has shape (d_{l-1} + 1, d_l): the
  last row is the bias, multiplied by a constant-one input column (the fixed-point one, 2^R).
  The master weights M_l have the same shapes.
* Python lists are 0-based: ``W[i]``, ``Zp[i]``, ``G_W[i]`` ... belong to layer ``i + 1``;
  ``A[i]`` is the *input* of layer ``i + 1`` (``A[0]`` is X); ``S[i]``, ``G_A[i]``, ``E_bwd[i]``
  (i = 0..L-2) belong to the hidden layer ``i + 1``.

>>> import numpy as np
>>> cfg = FixedPointConfig(widths=(2, 3, 1), eta_int=1, k=4, batch_size=2, seed=7)
>>> rescale(np.array([3, -3, 2, -2, 5]), 2)      # x = 4q + e, e in [-2, 2)
(array([ 1, -1,  1,  0,  1]), array([-1,  1, -2, -2,  1]))
>>> quantize(0.75, 4), dequantize(12, 4)
(array(12), array(0.75))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Iterator, Sequence

import numpy as np

from .errors import FieldRangeError, ShapeError, ZkdlError

__all__ = [
    "FixedPointConfig", "TrainingRangeError", "TraceMismatchError", "ConfigError",
    "quantize", "dequantize", "rescale", "epoch_permutation", "batch_indices",
    "forward", "train_step", "StepTrace", "validate_chain", "check_weights", "COMMITTED", "lr_to_fixed",
    "to_master", "round_master", "semantics_version",
]

#: version of the normative semantics implemented here (2: exact accumulation with master weights)
semantics_version = 2

_I64_MAX = (1 << 63) - 1
_I64_MIN = -(1 << 63)


# ----------------------------------------------------------------------------- errors


class ConfigError(ZkdlError, ValueError):
    """A :class:`FixedPointConfig` parameter is invalid."""


class TrainingRangeError(ZkdlError, ArithmeticError):
    """A tensor of an (honest) training run left the range the proofs require, or would overflow
    int64.  ``where`` ("step 3, layer 2"), ``tensor`` (e.g. "Z'"), ``value`` (the offending
    magnitude, a Python int) and ``bound`` carry the details; the message states them all."""

    def __init__(self, message: str, *, where: str = "", tensor: str = "", value: int | None = None,
                 bound: int | None = None):
        super().__init__(message)
        self.where = where
        self.tensor = tensor
        self.value = value
        self.bound = bound


class TraceMismatchError(ZkdlError):
    """A :class:`StepTrace` disagrees with the recomputation from its inputs (``validate``).
    ``tensor`` names the first mismatching tensor (e.g. "G_A[0]")."""

    def __init__(self, message: str, *, tensor: str = ""):
        super().__init__(message)
        self.tensor = tensor


# ----------------------------------------------------------------------------- configuration


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


@dataclass(frozen=True)
class FixedPointConfig:
    """Public parameters of a fixed-point training run.

    Attributes:
        widths: layer widths (d_0, d_1, ..., d_L), at least two entries, all >= 1.
        eta_int, k: learning rate eta = eta_int * 2^-k (eta_int >= 1, k >= 0).
        batch_size: B, examples per step (the last partial batch of an epoch is dropped).
        seed: public seed of the batch schedule (integer >= 0).
        R: fractional bits of the fixed-point scale 2^R (1 <= R, 2R + k <= 62: the rescales by
           2^(2R+k) of the master-weight matmuls have remainders that fit int64).
        Q: range parameter: committed values (Z', G_A), data and starting models satisfy
           |v| < 2^(Q-1) (R + 2 <= Q <= 63, so the fixed-point 1 = 2^R is representable).
        loss: "mse" (the only loss so far).

    >>> cfg = FixedPointConfig(widths=(64, 32, 10), eta_int=1, k=8, batch_size=32, seed=0)
    >>> cfg.eta, cfg.num_layers, cfg.weight_shapes
    (0.00390625, 2, ((65, 32), (33, 10)))
    >>> cfg.master_bits, cfg.master_shift        # M = 2^(R+k) W, at scale 2^(2R+k)
    (24, 40)
    """

    widths: tuple[int, ...]
    eta_int: int
    k: int
    batch_size: int
    seed: int = 0
    R: int = 16
    Q: int = 32
    loss: str = "mse"

    def __post_init__(self) -> None:
        try:
            widths = tuple(self.widths)
        except TypeError:
            raise ConfigError(f"widths must be a sequence of integers, got {self.widths!r}") from None
        if len(widths) < 2 or not all(_is_int(w) and w >= 1 for w in widths):
            raise ConfigError(f"widths must be >= 2 positive integers (d_0, ..., d_L), got {self.widths!r}")
        object.__setattr__(self, "widths", tuple(int(w) for w in widths))
        for name in ("eta_int", "k", "batch_size", "seed", "R", "Q"):
            v = getattr(self, name)
            if not _is_int(v):
                raise ConfigError(f"{name} must be an integer, got {v!r}")
            object.__setattr__(self, name, int(v))
        if self.eta_int < 1:
            raise ConfigError(f"eta_int must be >= 1, got {self.eta_int}")
        if self.k < 0:
            raise ConfigError(f"k must be >= 0, got {self.k}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0 <= self.seed < 1 << 64:
            raise ConfigError(f"seed must be in [0, 2^64), got {self.seed}")
        if len(widths) > 65 or max(widths) > 1 << 20:
            raise ConfigError("at most 64 layers of width at most 2^20 (the statement format's bounds)")
        if self.eta_int > 1 << 31 or self.batch_size > 1 << 31:
            raise ConfigError("eta_int and batch_size must be at most 2^31 (the statement format's bounds)")
        if self.R < 1:
            raise ConfigError(f"R must be >= 1, got {self.R}")
        if 2 * self.R + self.k > 62:
            raise ConfigError(f"2R + k must be <= 62 (the master-weight rescales shift by 2R + k and their "
                              f"remainders must fit int64), got 2R + k = {2 * self.R + self.k} with R = {self.R}, "
                              f"k = {self.k}")
        if not self.R + 2 <= self.Q <= 63:
            raise ConfigError(f"Q must satisfy R + 2 <= Q <= 63, got Q = {self.Q} with R = {self.R}")
        if self.loss != "mse":
            raise ConfigError(f"loss must be 'mse', got {self.loss!r}")

    @property
    def eta(self) -> float:
        """The learning rate as a float, eta_int * 2^-k."""
        return self.eta_int / (1 << self.k)

    @classmethod
    def from_lr(cls, widths: Sequence[int], lr: float, batch_size: int, *, seed: int = 0, R: int = 16,
                Q: int = 32, bits: int = 8) -> "FixedPointConfig":
        """A configuration whose learning rate eta_int * 2^-k approximates the float ``lr``
        (:func:`lr_to_fixed`: eta_int has ``bits`` significant bits, 2R + k <= 62); ``cfg.eta`` is
        the exact rate used.  ``lr`` is the step on the *summed* loss 1/2 * sum over the batch of
        |yhat - y|^2 (docs/semantics.md section 4): a PyTorch rate for a mean-reduced loss must be
        converted first (zkdl.trainer.lr_from_pytorch).

        >>> cfg = FixedPointConfig.from_lr((4, 8, 3), lr=0.01, batch_size=16)
        >>> cfg.eta_int, cfg.k, cfg.eta
        (41, 12, 0.010009765625)
        """
        eta_int, k = lr_to_fixed(lr, R=R, bits=bits)
        return cls(widths=tuple(widths), eta_int=eta_int, k=k, batch_size=batch_size, seed=seed, R=R, Q=Q)

    @property
    def master_shift(self) -> int:
        """2R + k: the scale 2^(2R+k) of the master weights M, and the shift of the rescales of
        [A | 2^R] @ M (forward) and G_Z @ M^T (backward)."""
        return 2 * self.R + self.k

    @property
    def master_bits(self) -> int:
        """R + k: a model W (scale 2^R) starts master weights M = 2^(R+k) * W, and the published
        model of master weights M is rescale_(R+k)(M) (:func:`round_master`)."""
        return self.R + self.k

    @property
    def num_layers(self) -> int:
        """L, the number of linear layers."""
        return len(self.widths) - 1

    @property
    def weight_shapes(self) -> tuple[tuple[int, int], ...]:
        """Shapes of W_1..W_L: (d_{l-1} + 1, d_l), the last row being the bias."""
        return tuple((self.widths[i] + 1, self.widths[i + 1]) for i in range(self.num_layers))

    @property
    def one(self) -> int:
        """The fixed-point 1, 2^R (the constant bias column)."""
        return 1 << self.R

    @property
    def bound(self) -> int:
        """2^(Q-1): committed values v satisfy |v| < bound."""
        return 1 << (self.Q - 1)


def lr_to_fixed(lr: float, R: int = 16, bits: int = 8) -> tuple[int, int]:
    """(eta_int, k) with eta_int * 2^-k approximating the learning rate ``lr`` > 0.

    Rule: k is the smallest shift >= 0 for which eta_int = round(lr * 2^k) has ``bits``
    significant bits (eta_int >= 2^(bits-1)), capped so that 2R + k <= 62 (the configuration's
    rule); then common factors of two are removed (an exact power of two gives eta_int = 1).  The
    relative error is at most 2^-bits (0.4 % for the default 8 bits) unless the cap applies.
    ConfigError if lr is not a positive finite number or rounds to 0 at k = 62 - 2R.

    >>> lr_to_fixed(1 / 64), lr_to_fixed(0.01), lr_to_fixed(0.3)
    ((1, 6), (41, 12), (77, 8))
    """
    import math

    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(lr)) or float(lr) <= 0:
        raise ConfigError(f"learning rate must be a positive number, got {lr!r}")
    if not _is_int(R) or not 1 <= R <= 31 or not _is_int(bits) or not 1 <= bits <= 31:
        raise ConfigError(f"lr_to_fixed: need integers 1 <= R <= 31 and 1 <= bits <= 31, got R={R!r}, bits={bits!r}")
    lr, kmax = float(lr), 62 - 2 * int(R)
    k = 0
    while k < kmax and math.floor(math.ldexp(lr, k) + 0.5) < 1 << (bits - 1):
        k += 1
    eta_int = math.floor(math.ldexp(lr, k) + 0.5)
    if eta_int < 1:
        raise ConfigError(f"learning rate {lr!r} is below the smallest representable one, 2^-{kmax} "
                          f"(2R + k <= 62 with R = {R})")
    if eta_int > 1 << 31:
        raise ConfigError(f"learning rate {lr!r} is too large (eta_int must be at most 2^31)")
    while k > 0 and eta_int % 2 == 0:
        eta_int //= 2
        k -= 1
    return int(eta_int), int(k)


# ----------------------------------------------------------------------------- scalars


def quantize(x, R: int = 16) -> np.ndarray:
    """round(x * 2^R), rounding half up (floor(x * 2^R + 1/2)), exactly, as int64.

    The float product x * 2^R is exact; the rounding is done without the classic
    floor(y + 0.5) double-rounding error.  Raises FieldRangeError for non-finite values or
    |x * 2^R| > 2^62.

    >>> quantize([0.5, -0.5, 1.25, -1.25, 0.1], 2)
    array([ 2, -2,  5, -5,  0])
    >>> quantize(-0.375, 2)                          # -1.5 rounds up to -1
    array(-1)
    """
    R = _check_shift(R, "R")
    y = np.ldexp(np.asarray(x, dtype=np.float64), R)
    if not np.all(np.isfinite(y)):
        raise FieldRangeError("quantize: non-finite value")
    if y.size and float(np.max(np.abs(y))) > 2.0 ** 62:
        raise FieldRangeError(f"quantize: |x * 2^{R}| exceeds 2^62")
    fl = np.floor(y)
    frac = y - fl                        # exact: fl holds a prefix of y's bits
    return np.asarray(fl.astype(np.int64) + (frac >= 0.5).astype(np.int64))


def dequantize(x, R: int = 16) -> np.ndarray:
    """x / 2^R as float64 (exact while |x| < 2^53).

    >>> dequantize([3, -2], 1)
    array([ 1.5, -1. ])
    """
    R = _check_shift(R, "R")
    return np.asarray(np.ldexp(np.asarray(x, dtype=np.float64), -R))


def _check_shift(s, name: str = "s") -> int:
    if not _is_int(s) or not 0 <= int(s) <= 62:
        raise ConfigError(f"{name} must be an integer in [0, 62], got {s!r}")
    return int(s)


def rescale(x, s: int) -> tuple:
    """Rounding rescale by 2^s: q = floor((x + 2^(s-1)) / 2^s) (round half up) and the remainder
    e = x - q * 2^s, which lies in [-2^(s-1), 2^(s-1)).  For s = 0, (x, 0).

    ``x`` may be a Python int, an int64 array (no intermediate can overflow: q is computed as
    (x >> s) + bit_{s-1}(x)) or an object array of Python ints.  Returns (q, e) of the same kind.

    >>> rescale(np.array([6, -6, 5, -5, 4]), 2)       # 6/4 = 1.5 -> 2, -6/4 = -1.5 -> -1
    (array([ 2, -1,  1, -1,  1]), array([-2, -2,  1, -1,  0]))
    >>> rescale(-(1 << 63), 16)
    (-140737488355328, 0)
    """
    s = _check_shift(s)
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        x = int(x)
        if s == 0:
            return x, 0
        q = (x + (1 << (s - 1))) >> s
        return q, x - (q << s)
    arr = np.asarray(x)
    if arr.dtype == object:
        if s == 0:
            return arr.copy(), np.zeros(arr.shape, dtype=object)
        q = (arr + (1 << (s - 1))) // (1 << s)
        return q, arr - q * (1 << s)
    if arr.dtype.kind not in "iu" or arr.dtype.itemsize > 8 or arr.dtype == np.uint64:
        raise ShapeError(f"rescale expects int64-compatible integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if s == 0:
        return arr.copy(), np.zeros_like(arr)
    bit = (arr >> (s - 1)) & 1                      # bit s-1 of x (two's complement)
    q = (arr >> s) + bit
    e = (arr & ((1 << s) - 1)) - (bit << s)
    return q, e


# ----------------------------------------------------------------------------- exact helpers


def _maxabs(a: np.ndarray) -> int:
    """max |a| as a Python int (0 for empty arrays); no int64 overflow at -2^63."""
    if a.size == 0:
        return 0
    return max(-int(a.min()), int(a.max()))


def _argmaxabs(a: np.ndarray) -> tuple[int, ...]:
    flat = np.abs(a.astype(object).reshape(-1)) if a.dtype == object else np.abs(a.astype(np.float64).reshape(-1))
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(flat)), a.shape))


def _fits_i64(a: np.ndarray) -> bool:
    return a.size == 0 or (int(a.min()) >= _I64_MIN and int(a.max()) <= _I64_MAX)


def _as_exact(a: np.ndarray) -> np.ndarray:
    """int64 when every value fits, object (Python ints) otherwise."""
    if a.dtype == object:
        return a.astype(np.int64) if _fits_i64(a) else a
    return a


# Exact integer matmuls through float64 BLAS, also for products wider than int64 (the
# master-weight matmuls: |A| up to 2^31 times |M| up to ~2^62, summed over up to 2^20 + 1 terms).
# Both operands are split into digits, a = sum_i a_i 2^(wa i), b = sum_j b_j 2^(wb j) (the low
# digits are the bit fields x mod 2^w in [0, 2^w), the top digit is the signed rest x >> (w (n-1)));
# every digit product a_i @ b_j is computed with float64 BLAS, exactly, because the digit widths
# are chosen so that max|a_i| * max|b_j| * inner <= 2^53 (every partial sum is then an integer
# that float64 represents exactly, whatever the summation order or FMA use).  The products P_ij
# (|P_ij| <= 2^53, int64) are then combined exactly:
#   * _matmul: when max|a| max|b| inner < 2^63 the result fits int64 and sum_ij P_ij 2^(sh_ij) is
#     summed in int64 (modulo 2^64, which is exact since the true sum fits);
#   * _matmul_rescale: q = floor((a @ b + 2^(s-1)) / 2^s) and the remainder for any int64
#     operands: each P_ij 2^(sh) with sh < s is split into its part above 2^s (added to q) and the
#     part below (summed, with carries, in an int64 accumulator < 2^63); q is accumulated in int64
#     when a bound computed with Python ints proves it fits, else in Python ints (an object array,
#     which the caller's range check reports exactly).
# Nothing wraps and nothing is rounded but the one rescale.

_F64_EXACT = 1 << 53
_MAX_DIGITS = 8


@lru_cache(maxsize=128)
def _digit_options(bits: int) -> dict[int, tuple[int, tuple[int, ...]]]:
    """For |x| < 2^bits: {n: (w, bounds)} -- n digits of width w (the w minimizing the largest
    digit) and a bound on |digit i| for each i (2^w - 1 for the low digits, the top one is the
    rest)."""
    mx = (1 << bits) - 1
    out = {1: (0, (mx,))}
    for n in range(2, _MAX_DIGITS + 1):
        best = None
        for w in range(1, 64):
            top = (mx >> (w * (n - 1))) + 1          # |floor(x / 2^(w(n-1)))|, x negative included
            d = max((1 << w) - 1, top)
            if best is None or d < best[0]:
                best = (d, w, top)
        d, w, top = best
        out[n] = (w, ((1 << w) - 1,) * (n - 1) + (top,))
    return out


@lru_cache(maxsize=4096)
def _digit_plan(bits_a: int, bits_b: int, inner: int, a_larger: bool = False) -> tuple[int, int, int, int, int]:
    """(wa, na, wb, nb, T): digit widths and counts for |a| < 2^bits_a, |b| < 2^bits_b and the
    inner dimension with the fewest BLAS products na * nb such that every digit product is exact
    in float64 (ties: fewer digits of the larger operand); T >= sum_ij max|a_i| max|b_j| inner
    2^(wa i + wb j) bounds every partial sum of a @ b as computed here."""
    oa, ob = _digit_options(bits_a), _digit_options(bits_b)
    best = None
    for na, (wa, da) in oa.items():
        for nb, (wb, db) in ob.items():
            if max(da) * max(db) * inner > _F64_EXACT:
                continue
            key = (na * nb, na if a_larger else nb, na + nb)
            if best is None or key < best[0]:
                best = (key, wa, na, wb, nb, da, db)
    if best is None:                                  # pragma: no cover - inner <= 2^21 always fits
        raise ZkdlError(f"exact matmul: inner dimension {inner} too large")
    _, wa, na, wb, nb, da, db = best
    T = sum(x * y * inner << (wa * i + wb * j) for i, x in enumerate(da) for j, y in enumerate(db))
    return wa, na, wb, nb, T


def _float_digits(x: np.ndarray, w: int, n: int) -> list[np.ndarray]:
    """x = sum_i d_i 2^(w i) as float64 arrays (exact: the caller's plan bounds every digit by
    2^53): d_i = (x >> w i) mod 2^w for i < n - 1, d_(n-1) = x >> w (n - 1) (arithmetic shift)."""
    if n == 1:
        return [x.astype(np.float64)]
    mask = (1 << w) - 1
    out = [(x & mask).astype(np.float64)]
    out += [((x >> (w * i)) & mask).astype(np.float64) for i in range(1, n - 1)]
    out.append((x >> (w * (n - 1))).astype(np.float64))
    return out


def _digit_products(a: np.ndarray, b: np.ndarray):
    """(plan, [(shift, P_ij)]) with a @ b = sum P_ij 2^shift exactly, P_ij int64 (|.| <= 2^53)."""
    ma, mb = _maxabs(a), _maxabs(b)
    plan = _digit_plan(ma.bit_length(), mb.bit_length(), max(a.shape[1], 1), a.size > b.size)
    wa, na, wb, nb, _ = plan
    fa, fb = _float_digits(a, wa, na), _float_digits(b, wb, nb)
    return plan, [(wa * i + wb * j, (x @ y).astype(np.int64)) for i, x in enumerate(fa) for j, y in enumerate(fb)]


def _matmul_rescale(a: np.ndarray, b: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """(q, e) = rescale_s(a @ b) for int64 matrices a (m x n) and b (n x p), exactly, for any
    int64 values and 0 <= s <= 62 (see the comment above).  e is int64 in [-2^(s-1), 2^(s-1));
    q is int64 when it fits, else an object array of Python ints (for the caller's range check,
    which then reports the exact value)."""
    (wa, na, wb, nb, T), prods = _digit_products(a, b)
    half = (1 << (s - 1)) if s else 0
    wide = (T >> s) + na * nb + 2 > 1 << 62          # q might not fit int64: Python ints
    shape = (a.shape[0], b.shape[1])
    q = np.zeros(shape, dtype=object if wide else np.int64)
    low = np.full(shape, half, dtype=np.int64)       # 2^(s-1) plus values in [0, 2^s)
    units = 1                                          # low < units * 2^s
    for sh, P in prods:
        if sh >= s:
            q += P.astype(object) << (sh - s) if wide else P << (sh - s)
            continue
        r = s - sh
        H = P >> r
        q += H.astype(object) if wide else H
        if (units + 1) << s > 1 << 63:                # the next addition could leave int64: carry
            c = low >> s
            low &= (1 << s) - 1
            q += c.astype(object) if wide else c
            units = 1
        low += (P & ((1 << r) - 1)) << sh
        units += 1
    c = low >> s
    low &= (1 << s) - 1
    q += c.astype(object) if wide else c
    return (_as_exact(q) if wide else q), low - half


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer a @ b of 2-D integer arrays.  int64 when max|a| * max|b| * inner < 2^63
    (then the result fits): digit products in float64 BLAS summed in int64 (see above); else
    computed with Python ints and returned as int64 if the result fits, as an object array if not
    (the caller's range check then reports it)."""
    if a.dtype != object and b.dtype != object and _maxabs(a) * _maxabs(b) * a.shape[1] <= _I64_MAX:
        _, prods = _digit_products(a, b)
        sh, out = prods[0]
        out = out << sh if sh else out
        for sh, P in prods[1:]:
            out += P << sh                             # modulo 2^64: exact, the true sum fits
        return out
    return _as_exact(a.astype(object) @ b.astype(object))


def _scale(c: int, a: np.ndarray) -> np.ndarray:
    """Exact c * a for a Python int c."""
    if a.dtype != object and abs(c) * _maxabs(a) <= _I64_MAX:
        return a * np.int64(c)
    return _as_exact(a.astype(object) * c)


def _sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact a - b (int64 when it fits, else Python ints for the caller's check)."""
    if _maxabs(a) + _maxabs(b) <= _I64_MAX:
        return a - b
    return _as_exact(a.astype(object) - b.astype(object))


def _with_one(a: np.ndarray, one: int) -> np.ndarray:
    """[a | one]: append the constant bias column."""
    col = np.full((a.shape[0], 1), one, dtype=a.dtype)
    return np.concatenate([a, col], axis=1)


def _pow2(v: int) -> str:
    """An interval end for messages: -2^31, 2^31, -2^31 + 1, 2^31 + 1, or the plain number."""
    sign, m = (-1, -v) if v < 0 else (1, v)
    for adj in (0, -1, 1):           # m = 2^e + adj
        b = m - adj
        if b >= 16 and b & (b - 1) == 0:
            head = f"{'-' if sign < 0 else ''}2^{b.bit_length() - 1}"
            off = sign * adj
            return head + ("" if off == 0 else f" + {off}" if off > 0 else f" - {-off}")
    return str(v)


def _check_interval(a: np.ndarray, lo: int, hi: int, bound: int, where: str, tensor: str) -> np.ndarray:
    """Require lo <= a < hi; return a as int64.  The error reports the first value outside."""
    if a.size and (int(a.min()) < lo or int(a.max()) >= hi):
        bad = (a < lo) | (a >= hi) if a.dtype != object else np.vectorize(lambda v: v < lo or v >= hi)(a)
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        v = int(a[idx])
        raise TrainingRangeError(
            f"{where}: {tensor} out of range (value {v} is outside [{_pow2(lo)}, {_pow2(hi)}), at index {list(idx)})",
            where=where, tensor=tensor, value=abs(v), bound=bound)
    return a.astype(np.int64, copy=False)


def _check_range(a: np.ndarray, bound: int, where: str, tensor: str) -> np.ndarray:
    """Require a in [-bound, bound) (bound = 2^(Q-1): a signed Q-bit integer, the range the proof
    checks, docs/semantics.md §7); return a as int64."""
    return _check_interval(a, -bound, bound, bound, where, tensor)


def _check_hidden(a: np.ndarray, bound: int, where: str, tensor: str) -> np.ndarray:
    """A hidden layer's Z' lies in (-bound, bound]: the range zkReLU's sign split proves."""
    return _check_interval(a, -bound + 1, bound + 1, bound, where, tensor)


def _check_i64(a: np.ndarray, where: str, tensor: str) -> np.ndarray:
    if not _fits_i64(a):
        m = _maxabs(a)
        raise TrainingRangeError(f"{where}: {tensor} out of int64 range (|value| = {m} >= 2^63)",
                                 where=where, tensor=tensor, value=m, bound=1 << 63)
    return a.astype(np.int64, copy=False)


def _int_matrix(a, name: str, shape: tuple | None = None) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu" or (arr.dtype.kind == "u" and arr.dtype.itemsize == 8):
        raise ShapeError(f"{name} must be an integer (fixed-point) array, got dtype {arr.dtype}; "
                         "use zkdl.fixedpoint.quantize for float data")
    arr = arr.astype(np.int64, copy=False)
    if shape is not None and arr.shape != shape:
        raise ShapeError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


def _weights(config: FixedPointConfig, W: Sequence, where: str) -> list[np.ndarray]:
    """Count, shapes (d_{l-1} + 1, d_l) and integer dtype of a weight list -- a model or master
    weights -- as int64 arrays (not copied when already int64); no range: master weights after a
    chain's first step are whatever the exact updates make them (docs/semantics.md §7)."""
    if isinstance(W, np.ndarray) or not isinstance(W, Sequence):
        raise ShapeError(f"{where}: weights must be a list of {config.num_layers} arrays")
    if len(W) != config.num_layers:
        raise ShapeError(f"{where}: expected {config.num_layers} weight matrices, got {len(W)}")
    return [_int_matrix(w, f"W[{i}] (layer {i + 1})", shape) for i, (w, shape) in enumerate(zip(W, config.weight_shapes))]


def check_weights(config: FixedPointConfig, W: Sequence, where: str = "weights") -> list[np.ndarray]:
    """Validate the weights a chain starts from (a run's initial model, a committed model):
    count, shapes (d_{l-1} + 1, d_l), integer dtype and every value in [-2^(Q-1), 2^(Q-1)); returns
    them as a list of int64 arrays (not copied when already int64)."""
    return [_check_range(w, config.bound, f"{where}, layer {i + 1}", "W")
            for i, w in enumerate(_weights(config, W, where))]


def _check_master(a: np.ndarray, where: str, tensor: str) -> np.ndarray:
    """Master weights must fit int64 -- an implementation limit, not part of the semantics."""
    if a.dtype == object or not _fits_i64(a):
        m = _maxabs(a)
        raise TrainingRangeError(
            f"{where}: {tensor} out of int64 range (|value| = {m} >= 2^63): an implementation limit of the "
            "reference trainer, which stores the master weights in int64 (docs/semantics.md §7), not a range "
            "of the semantics", where=where, tensor=tensor, value=m, bound=1 << 63)
    return a.astype(np.int64, copy=False)


def to_master(config: FixedPointConfig, W: Sequence, where: str = "weights") -> list[np.ndarray]:
    """The master weights M_l = 2^(R+k) * W_l (scale 2^(2R+k); new int64 arrays, exact) that a
    chain starting from the model W (scale 2^R) trains.  W is checked first (:func:`check_weights`:
    every value in [-2^(Q-1), 2^(Q-1))); TrainingRangeError if some M_l leaves int64 (an
    implementation limit; impossible for Q + R + k <= 64).

    >>> cfg = FixedPointConfig(widths=(1, 1), eta_int=1, k=2, batch_size=1, R=4, Q=16)
    >>> to_master(cfg, [np.array([[24], [-8]])])[0].tolist()            # 2^(R+k) = 64
    [[1536], [-512]]
    """
    return [_check_master(_scale(1 << config.master_bits, w).copy(), f"{where}, layer {i + 1}", "M")
            for i, w in enumerate(check_weights(config, W, where))]


def round_master(config: FixedPointConfig, M: Sequence, where: str = "master weights"
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(W, E) with (W_l, E_l) = rescale_(R+k)(M_l) for every layer: the published model of master
    weights M (scale 2^R, rounded half up) and the remainders, in [-2^(R+k-1), 2^(R+k-1)).  For
    M = to_master(config, W0), W is W0 and E is 0.  No range check (the model of a run's end may
    be checked with check_weights where it starts a new chain).

    >>> cfg = FixedPointConfig(widths=(1, 1), eta_int=1, k=2, batch_size=1, R=4, Q=16)
    >>> W, E = round_master(cfg, [np.array([[1536 + 32], [-512 - 33]])])
    >>> W[0].tolist(), E[0].tolist()                                      # 24.5 -> 25, -8.52 -> -9
    ([[25], [-9]], [[-32], [31]])
    """
    out = [rescale(m, config.master_bits) for m in _weights(config, M, where)]
    return [q for q, _ in out], [e for _, e in out]


# ----------------------------------------------------------------------------- batch schedule


def _pcg_words(seed: int, epoch: int) -> Iterator[int]:
    bg = np.random.PCG64([seed, epoch])
    while True:
        yield from (int(v) for v in bg.random_raw(1024))


@lru_cache(maxsize=64)
def _epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    perm = np.arange(n, dtype=np.int64)
    words = _pcg_words(seed, epoch)
    for i in range(n - 1, 0, -1):
        mask = (1 << i.bit_length()) - 1
        while True:
            j = next(words) & mask
            if j <= i:
                break
        perm[i], perm[j] = perm[j], perm[i]
    perm.flags.writeable = False
    return perm


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The public permutation of range(n) for an epoch (normative, numpy-version independent).

    Fisher-Yates driven by the 64-bit outputs w_1, w_2, ... of
    ``np.random.PCG64([seed, epoch]).random_raw()`` (NumPy guarantees bit-generator streams):
    for i = n-1 down to 1, draw j = w & (2^bitlen(i) - 1) until j <= i, then swap perm[i], perm[j].

    >>> epoch_permutation(0, 0, 8).tolist()
    [5, 4, 6, 2, 3, 0, 1, 7]
    """
    for name, v in (("seed", seed), ("epoch", epoch), ("n", n)):
        if not _is_int(v) or v < 0:
            raise ConfigError(f"epoch_permutation: {name} must be an integer >= 0, got {v!r}")
    return _epoch_permutation(int(seed), int(epoch), int(n)).copy()


def batch_indices(seed: int, step: int, N: int, B: int) -> np.ndarray:
    """Indices (into the dataset of N examples) of the batch used by training step ``step``.

    With P = N // B batches per epoch (the last partial batch dropped), step t uses epoch
    e = t // P and batch b = t % P: ``epoch_permutation(seed, e, N)[b*B : (b+1)*B]``.

    >>> batch_indices(0, 0, 8, 3).tolist(), batch_indices(0, 1, 8, 3).tolist()
    ([5, 4, 6], [2, 3, 0])
    """
    if not _is_int(B) or B < 1 or not _is_int(N) or N < B:
        raise ShapeError(f"batch_indices: need integers 1 <= B <= N, got B = {B!r}, N = {N!r}")
    for name, v in (("seed", seed), ("step", step)):
        if not _is_int(v) or v < 0:
            raise ConfigError(f"batch_indices: {name} must be an integer >= 0, got {v!r}")
    per_epoch = int(N) // int(B)
    epoch, b = divmod(int(step), per_epoch)
    perm = _epoch_permutation(int(seed), epoch, int(N))
    return perm[b * B:(b + 1) * B].copy()


# ----------------------------------------------------------------------------- forward / step


def _forward(config: FixedPointConfig, W: list[np.ndarray], X: np.ndarray, where: str, shift: int | None = None):
    """Forward pass with the weights W and the rescale shift ``shift``: R (the default) for a model
    at scale 2^R (inference, :func:`forward`), 2R + k for master weights (``train_step``).
    Returns Zp, E, S, A (lists as in StepTrace); raises TrainingRangeError on range exits."""
    s = config.R if shift is None else _check_shift(shift, "shift")
    L = config.num_layers
    Zp, E, S, A = [], [], [], [X]
    for i in range(L):
        w = f"{where}, layer {i + 1}"
        q, e = _matmul_rescale(_with_one(A[i], config.one), W[i], s)
        q = (_check_hidden if i < L - 1 else _check_range)(q, config.bound, w, "Z'")
        Zp.append(q)
        E.append(e)
        if i < L - 1:
            sg = (q > 0).astype(np.int64)
            S.append(sg)
            A.append(sg * q)
    return Zp, E, S, A


def forward(config: FixedPointConfig, W: Sequence, X, *, where: str = "forward") -> np.ndarray:
    """Yhat = Z'_L of the *model* W (scale 2^R, e.g. ``round_master(config, M)[0]``) for a batch X
    (n x d_0, fixed-point ints), with the range checks of training.  For master weights
    M = to_master(config, W) the training forward (shift 2R + k) computes the same values.

    >>> cfg = FixedPointConfig(widths=(1, 1), eta_int=1, k=0, batch_size=1, R=4, Q=16)
    >>> forward(cfg, [np.array([[24], [8]])], np.array([[16], [-16]]))   # 1.5*x + 0.5
    array([[ 32],
           [-16]])
    """
    W = _weights(config, W, where)
    X = _int_matrix(X, "X")
    if X.ndim != 2 or X.shape[1] != config.widths[0]:
        raise ShapeError(f"{where}: X must have shape (n, {config.widths[0]}), got {X.shape}")
    X = _check_range(X, config.bound, where, "X")
    return _forward(config, W, X, where)[0][-1]


def train_step(config: FixedPointConfig, M: Sequence, X, Y, step: int, batch_idx=None, *,
               n_examples: int | None = None) -> "StepTrace":
    """One SGD step of the normative semantics (version 2) from the master weights ``M`` (scale
    2^(2R+k), e.g. ``to_master(config, W0)``; not modified, not range-checked) on the batch rows
    X (B x d_0) and targets Y (B x d_L), both fixed-point int arrays.  ``batch_idx`` (the dataset
    indices of the rows) and ``n_examples`` (dataset size, enables the schedule check in
    ``validate``) are recorded only.  The trace's ``W_after`` is M - eta_int * G_W, exactly.

    Raises TrainingRangeError ("step t, layer l: <tensor> out of range ...") when an honest value
    leaves its range or the master weights leave int64, ShapeError for malformed inputs.

    >>> cfg = FixedPointConfig(widths=(2, 2, 1), eta_int=1, k=2, batch_size=1, R=4, Q=16)
    >>> W = [np.array([[16, -8], [0, 16], [0, 0]]), np.array([[16], [8], [0]])]   # scale 2^4
    >>> M = to_master(cfg, W)                                        # 64 * W, scale 2^10
    >>> t = train_step(cfg, M, np.array([[16, 8]]), np.array([[0]]), step=0)
    >>> t.Yhat.tolist(), t.loss_int, t.G_W[1].tolist()
    ([[16]], 256, [[256], [0], [256]])
    >>> t.W_after[1].tolist()                                        # M - 1 * G_W: no rounding
    [[768], [512], [-256]]
    >>> round_master(cfg, t.W_after)[0][1].tolist()                  # the model, scale 2^4
    [[12], [8], [-4]]
    """
    if not _is_int(step) or step < 0:
        raise ConfigError(f"step must be an integer >= 0, got {step!r}")
    step = int(step)
    where = f"step {step}"
    M = _weights(config, M, where)
    B, L, shift = config.batch_size, config.num_layers, config.master_shift
    X = _int_matrix(X, "X", (B, config.widths[0]))
    Y = _int_matrix(Y, "Y", (B, config.widths[-1]))
    X = _check_range(X, config.bound, where, "X")
    Y = _check_range(Y, config.bound, where, "Y")
    if batch_idx is None:
        batch = np.arange(B, dtype=np.int64)
    else:
        batch = _int_matrix(batch_idx, "batch_idx", (B,)).copy()

    Zp, E_fwd, S, A = _forward(config, M, X, where, shift)
    Yhat = Zp[-1]
    diff = Yhat - Y                                   # |.| < 2^Q: no overflow
    m = _maxabs(diff)
    if m * m * diff.size <= _I64_MAX:
        loss_int = int(np.sum(diff * diff))
    else:
        loss_int = sum(int(v) * int(v) for v in diff.reshape(-1))

    G_Z: list = [None] * L
    G_A: list = [None] * (L - 1)
    E_bwd: list = [None] * (L - 1)
    G_W: list = [None] * L
    G_Z[L - 1] = diff
    for i in range(L - 1, -1, -1):                   # layer l = i + 1
        G_W[i] = _check_i64(_matmul(_with_one(A[i], config.one).T, G_Z[i]), f"{where}, layer {i + 1}", "G_W")
        if i > 0:
            ga, eb = _matmul_rescale(G_Z[i], M[i][:-1].T, shift)
            # G_A[i-1] is the gradient w.r.t. A_i, the output of layer i
            G_A[i - 1] = _check_range(ga, config.bound, f"{where}, layer {i}", "G_A")
            E_bwd[i - 1] = eb
            G_Z[i - 1] = S[i - 1] * G_A[i - 1]
    M_after = [_check_master(_sub(M[i], _scale(config.eta_int, G_W[i])), f"{where}, layer {i + 1}",
                             "M (updated master weights)") for i in range(L)]
    return StepTrace(config=config, step=step, batch=batch, X=X, Y=Y, W_before=[w.copy() for w in M],
                     Zp=Zp, E_fwd=E_fwd, S=S, A=A, G_Z=G_Z, G_A=G_A, E_bwd=E_bwd, G_W=G_W,
                     W_after=M_after, loss_int=loss_int, n_examples=n_examples)


# ----------------------------------------------------------------------------- step trace

#: names of the per-step tensors that the prover commits to (besides the data X, Y and the weights)
COMMITTED = ("Zp", "E_fwd", "S", "G_A", "E_bwd")

# field order of the comparison in StepTrace.validate
_COMPARED = ("Zp", "E_fwd", "S", "A", "G_Z", "G_A", "E_bwd", "G_W", "W_after")


@dataclass(eq=False)
class StepTrace:
    """Every tensor of one training step (semantics version 2; int64 arrays), as a prover needs
    them.  The weights are master weights M at scale 2^(2R+k) (s = 2R + k = config.master_shift).

    List indexing (0-based, layer l = i + 1), L = number of layers, B = batch size:

    ========  ======  ==========================  =====================================
    field     length  item i, shape               meaning
    ========  ======  ==========================  =====================================
    W_before  L       (d_i + 1, d_{i+1})          master weights M (last row bias) before
                                                  the step, scale 2^(2R+k)
    A         L       (B, d_i)                    input of layer i+1 (A[0] is X)
    Zp        L       (B, d_{i+1})                Z' = rescale_s([A|2^R] @ M) value
    E_fwd     L       (B, d_{i+1})                its remainder, in [-2^(s-1), 2^(s-1))
    S         L-1     (B, d_{i+1})                ReLU sign [Z'_{i+1} > 0] (0/1)
    G_Z       L       (B, d_{i+1})                gradient w.r.t. Z'; G_Z[L-1] = Yhat - Y
    G_A       L-1     (B, d_{i+1})                rescale_s(G_Z[i+1] @ M[i+1][:-1]^T) value
    E_bwd     L-1     (B, d_{i+1})                its remainder, in [-2^(s-1), 2^(s-1))
    G_W       L       (d_i + 1, d_{i+1})          [A|2^R]^T @ G_Z (scale 2^(2R))
    W_after   L       (d_i + 1, d_{i+1})          W_before - eta_int * G_W (exact)
    ========  ======  ==========================  =====================================

    ``loss_int`` = sum((Yhat - Y)^2) as a Python int (scale 2^(2R)); ``loss`` its float value per
    example.  ``Z`` (the pre-rescale matmul outputs) is derived: Zp * 2^s + E_fwd.  The model of
    the weights after the step is ``round_master(config, W_after)[0]``.
    """

    config: FixedPointConfig
    step: int
    batch: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    W_before: list[np.ndarray]
    Zp: list[np.ndarray]
    E_fwd: list[np.ndarray]
    S: list[np.ndarray]
    A: list[np.ndarray]
    G_Z: list[np.ndarray]
    G_A: list[np.ndarray]
    E_bwd: list[np.ndarray]
    G_W: list[np.ndarray] | None
    W_after: list[np.ndarray]
    loss_int: int
    n_examples: int | None = field(default=None)

    def grad_w(self) -> list[np.ndarray]:
        """G_W, recomputed as [A | 2^R]^T G_Z when the trace does not keep it (``G_W`` None:
        Trainer.run(keep_grads=False) drops it, since the prover never reads it and a window of
        traces of a wide model would hold one weight-sized array per step for it)."""
        if self.G_W is not None:
            return self.G_W
        return [_check_i64(_matmul(_with_one(a, self.config.one).T, g), f"step {self.step}, layer {i + 1}", "G_W")
                for i, (a, g) in enumerate(zip(self.A, self.G_Z))]

    @property
    def num_layers(self) -> int:
        return self.config.num_layers

    @property
    def Yhat(self) -> np.ndarray:
        """The network output Z'_L (no ReLU on the last layer)."""
        return self.Zp[-1]

    @property
    def Z(self) -> list[np.ndarray]:
        """Pre-rescale matmul outputs [A|2^R] @ M (scale 2^(3R+k)), recomputed as
        Zp * 2^(2R+k) + E_fwd (never committed): int64 arrays when the values fit, else object
        arrays of Python ints."""
        s = self.config.master_shift
        out = []
        for zp, e in zip(self.Zp, self.E_fwd):
            if (_maxabs(zp) << s) + (1 << s) <= _I64_MAX:
                out.append(zp * np.int64(1 << s) + e)
            else:
                out.append(_as_exact(zp.astype(object) * (1 << s) + e.astype(object)))
        return out

    @property
    def loss(self) -> float:
        """Mean over the batch of the squared error summed over outputs: loss_int / (2^(2R) B)."""
        return self.loss_int / (4.0 ** self.config.R * self.config.batch_size)

    def committed(self) -> dict[str, list[np.ndarray]]:
        """The per-step tensors the prover commits to, by name (see COMMITTED)."""
        return {name: list(getattr(self, name)) for name in COMMITTED}

    def validate(self) -> None:
        """Recompute the step from (config, step, X, Y, W_before) and compare every tensor
        (the forward and backward tensors, G_W and the master weights after the step).

        Raises TraceMismatchError naming the first mismatch (tensor, layer, index, both values),
        or the TrainingRangeError / ShapeError the recomputation raises.  Also checks the batch
        indices against the public schedule when ``n_examples`` is set.
        """
        cfg = self.config
        where = f"step {self.step}"
        if self.n_examples is not None:
            expect = batch_indices(cfg.seed, self.step, self.n_examples, cfg.batch_size)
            _compare(f"{where}: batch", np.asarray(self.batch), expect, "batch")
        ref = train_step(cfg, self.W_before, self.X, self.Y, self.step, self.batch,
                         n_examples=self.n_examples)
        for name in _COMPARED:
            got, exp = getattr(self, name), getattr(ref, name)
            if name == "G_W" and got is None:   # not kept: W_after = W_before - eta_int G_W is compared
                continue
            if not isinstance(got, (list, tuple)) or len(got) != len(exp):
                raise TraceMismatchError(f"{where}: {name} must be a list of {len(exp)} arrays",
                                         tensor=name)
            for i, (g, e) in enumerate(zip(got, exp)):
                layer = f"input of layer {i + 1}" if name == "A" else f"layer {i + 1}"
                _compare(f"{where}: {name}[{i}] ({layer})", np.asarray(g), e, f"{name}[{i}]")
        if self.loss_int != ref.loss_int:
            raise TraceMismatchError(f"{where}: loss_int is {self.loss_int}, recomputed {ref.loss_int}",
                                     tensor="loss_int")


def _compare(what: str, got: np.ndarray, exp: np.ndarray, tensor: str) -> None:
    if got.shape != exp.shape:
        raise TraceMismatchError(f"{what}: shape {got.shape}, expected {exp.shape}", tensor=tensor)
    if got.dtype != np.int64:
        raise TraceMismatchError(f"{what}: dtype {got.dtype}, expected int64", tensor=tensor)
    bad = np.argwhere(got != exp)
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise TraceMismatchError(
            f"{what}: mismatch at index {list(idx)}: trace has {int(got[idx])}, recomputed {int(exp[idx])}"
            f" ({len(bad)} entries differ)", tensor=tensor)


def validate_chain(traces: Iterable[StepTrace]) -> int:
    """Validate consecutive traces: each one (``validate``), consecutive step numbers and
    W_after of step t == W_before of step t + 1 (the master weights carry over exactly).
    Returns the number of traces checked."""
    prev = None
    n = 0
    for tr in traces:
        tr.validate()
        if prev is not None:
            if tr.step != prev.step + 1:
                raise TraceMismatchError(f"step {tr.step} follows step {prev.step}", tensor="step")
            for i, (a, b) in enumerate(zip(prev.W_after, tr.W_before)):
                _compare(f"step {tr.step}: W_before[{i}] vs previous W_after", np.asarray(b), a,
                         f"W_before[{i}]")
        prev = tr
        n += 1
    return n
