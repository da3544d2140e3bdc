"""Preparing your own data for fixed-point training: standardize, quantize, one-hot, split.

zkdl trains on integers at scale 2^R: the real number x is the integer round(x * 2^R), so the
fixed-point 1.0 is 2^R (65536 for the default R = 16).  Integer arrays handed to the trainer or the
:class:`~zkdl.record.Recorder` are taken as *already scaled*; raw integer data (pixels 0..255,
class labels 0/1) must be scaled first, or the network sees values of about 2^-16 and learns
nothing.  The usual pipeline:

>>> import numpy as np
>>> from zkdl import data
>>> X = np.array([[1.0, 200.0], [2.0, 220.0], [3.0, 180.0], [4.0, 240.0], [5.0, 160.0]])
>>> labels = np.array([0, 1, 0, 1, 2])
>>> Xtr, Xte, ytr, yte = data.train_test_split(X, labels, test_fraction=0.4, seed=0)
>>> Xtr_s, Xte_s = data.standardize(Xtr, Xte)         # fit on the training rows, apply to both
>>> Xq, Yq = data.quantize(Xtr_s, R=16), data.one_hot(ytr, 3, R=16)
>>> Xq.dtype, Yq.tolist()[0] in ([65536, 0, 0], [0, 65536, 0], [0, 0, 65536])
(dtype('int64'), True)

The batch of every training step is public and fixed by the configuration's seed
(docs/semantics.md section 6): :func:`batch_indices` / :func:`batch_schedule`.

Everything here is plain numpy (no scikit-learn needed); the split is reproducible across numpy
versions (it uses zkdl's normative permutation, :func:`zkdl.fixedpoint.epoch_permutation`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .errors import ShapeError
from .fixedpoint import FixedPointConfig, batch_indices, dequantize, epoch_permutation, quantize

__all__ = ["Standardizer", "standardize", "quantize", "dequantize", "one_hot", "encode_labels",
           "train_test_split", "batch_indices", "batch_schedule", "check_scaled", "UnscaledDataWarning"]


class UnscaledDataWarning(UserWarning):
    """Integer data that looks as if it was not scaled by 2^R (see :func:`check_scaled`)."""


#: data whose every |value| is below 2^(R - UNSCALED_BITS), i.e. below 1/64 once read as fixed
#: point, looks unscaled
UNSCALED_BITS = 6


def check_scaled(a, R: int, name: str = "data", *, stacklevel: int = 2) -> bool:
    """Warn (UnscaledDataWarning) when integer data looks unscaled: 0 < max |value| < 2^(R-6),
    i.e. every value is below 1/64 once read as fixed point at scale 2^R -- typical of raw
    integers (pixels, 0/1 labels) passed without :func:`quantize` / :func:`one_hot`.  Returns
    True when it warned.  Real data that small is legitimate but rare; the warning can then be
    ignored (``warnings.filterwarnings("ignore", category=UnscaledDataWarning)``)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu" or arr.size == 0:
        return False
    m = int(np.max(np.abs(arr.astype(np.int64, copy=False))))
    if 0 < m < 1 << max(int(R) - UNSCALED_BITS, 0):
        warnings.warn(
            f"{name} looks unscaled: its largest |value| is {m}, far below 2^R = {1 << int(R)} (the fixed-point 1.0); "
            f"zkdl reads integers as already scaled by 2^R, so it sees at most {m / (1 << int(R)):.2g}. "
            "Scale real data with zkdl.data.quantize(x, R) (after zkdl.data.standardize) and class labels with "
            "zkdl.data.one_hot(labels, num_classes, R)", UnscaledDataWarning, stacklevel=stacklevel + 1)
        return True
    return False


@dataclass(frozen=True)
class Standardizer:
    """Per-column affine map x -> (x - mean) / scale, fitted on training rows (columns with zero
    spread get scale 1).  Apply the same one to test rows and to every input given to the model
    later (inference), and :meth:`inverse` to map standardized regression outputs back."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X) -> "Standardizer":
        X = _float_2d(X, "standardize")
        if X.shape[0] < 1:
            raise ShapeError("standardize: no rows to fit on")
        sd = X.std(axis=0)
        return cls(mean=X.mean(axis=0), scale=np.where(sd > 0, sd, 1.0))

    def __call__(self, X) -> np.ndarray:
        one_d = np.ndim(X) == 1
        X = _float_2d(X, "standardize")
        if X.shape[1] != self.mean.shape[0]:
            raise ShapeError(f"standardize: expected {self.mean.shape[0]} columns, got {X.shape[1]}")
        out = (X - self.mean) / self.scale
        return out[:, 0] if one_d else out

    transform = __call__

    def inverse(self, Z) -> np.ndarray:
        one_d = np.ndim(Z) == 1
        Z = _float_2d(Z, "standardize")
        out = Z * self.scale + self.mean
        return out[:, 0] if one_d else out

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, obj: dict) -> "Standardizer":
        return cls(mean=np.asarray(obj["mean"], dtype=np.float64), scale=np.asarray(obj["scale"], dtype=np.float64))


def _float_2d(X, what: str) -> np.ndarray:
    arr = np.asarray(X)
    if arr.dtype.kind not in "fiub":
        raise ShapeError(f"{what}: expected numeric data, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ShapeError(f"{what}: expected a 1-D or 2-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ShapeError(f"{what}: the data holds NaN or infinite values")
    return arr


def standardize(train, *others):
    """Standardize columns to mean 0, standard deviation 1 using the statistics of ``train``
    only, and apply the same map to ``others`` (test sets).  Returns the standardized train
    array, or the tuple (train, *others).  For the fitted map itself: :meth:`Standardizer.fit`.

    >>> standardize(np.array([[0.0], [2.0]]), np.array([[4.0]]))[1].tolist()
    [[3.0]]
    """
    s = Standardizer.fit(train)
    if not others:
        return s(train)
    return (s(train), *(s(o) for o in others))


def one_hot(labels, num_classes: int | None = None, R: int = 16) -> np.ndarray:
    """One-hot targets at scale 2^R (the fixed-point 1.0), int64: the classification targets of
    the MSE loss.  ``labels`` are integers in [0, num_classes) (default: max + 1); for other
    labels (strings, non-contiguous codes) use :func:`encode_labels` first.

    >>> one_hot([2, 0], 3, R=4).tolist()
    [[0, 0, 16], [16, 0, 0]]
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.dtype.kind not in "iu":
        raise ShapeError(f"one_hot: labels must be a 1-D integer array, got dtype {lab.dtype}, shape {lab.shape} "
                         "(use zkdl.data.encode_labels for other labels)")
    if num_classes is None:
        num_classes = int(lab.max()) + 1 if lab.size else 1
    if lab.size and (lab.min() < 0 or lab.max() >= num_classes):
        raise ShapeError(f"one_hot: labels must lie in [0, {num_classes})")
    out = np.zeros((lab.shape[0], int(num_classes)), dtype=np.int64)
    out[np.arange(lab.shape[0]), lab.astype(np.int64)] = 1 << int(R)
    return out


def encode_labels(labels) -> tuple[np.ndarray, np.ndarray]:
    """(codes, classes): class labels of any kind (strings, floats, sparse integers) as codes
    0..C-1 in the sorted order of ``classes`` (np.unique).

    >>> codes, classes = encode_labels(["b", "a", "b"])
    >>> codes.tolist(), classes.tolist()
    ([1, 0, 1], ['a', 'b'])
    """
    classes, codes = np.unique(np.asarray(labels), return_inverse=True)
    return codes.astype(np.int64).reshape(-1), classes


def train_test_split(*arrays, test_fraction: float = 0.2, seed: int = 0):
    """Split arrays with the same number of rows into (a_train, a_test, b_train, b_test, ...),
    after a seeded shuffle (zkdl.fixedpoint.epoch_permutation(seed, 0, n): the same on every
    machine and numpy version).  At least one row goes to each side."""
    if not arrays:
        raise ShapeError("train_test_split: no arrays")
    arrs = [np.asarray(a) for a in arrays]
    n = arrs[0].shape[0] if arrs[0].ndim else 0
    if any(a.ndim == 0 or a.shape[0] != n for a in arrs):
        raise ShapeError(f"train_test_split: the arrays must have the same number of rows, got "
                         f"{[a.shape for a in arrs]}")
    if not 0 < float(test_fraction) < 1:
        raise ShapeError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction!r}")
    if n < 2:
        raise ShapeError(f"train_test_split: need at least 2 rows, got {n}")
    n_test = min(max(int(round(n * float(test_fraction))), 1), n - 1)
    perm = epoch_permutation(int(seed), 0, n)
    tr, te = perm[n_test:], perm[:n_test]
    out = []
    for a in arrs:
        out += [a[tr], a[te]]
    return tuple(out)


def batch_schedule(config: FixedPointConfig, n_examples: int, steps: int, start: int = 0) -> np.ndarray:
    """The public batch schedule: row t - start holds the dataset indices of step t's batch
    (``batch_indices(config.seed, t, n_examples, config.batch_size)``), shape (steps, B)."""
    return np.array([batch_indices(config.seed, t, int(n_examples), config.batch_size)
                     for t in range(int(start), int(start) + int(steps))], dtype=np.int64).reshape(-1, config.batch_size)
