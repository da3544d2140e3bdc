"""Datasets in fixed point (scale 2^R) for the reference trainer and the training proofs.

The bundled scikit-learn digits (1797 grey 8x8 images, pixels 0..16, 10 classes) need no
download; scikit-learn is an optional dependency (extra ``examples``) imported only when a loader
is called.

    d = load_digits_fixed(R=16)
    d.X_train.shape, d.Y_train.shape, d.X_test.shape   # (1500, 64), (1500, 10), (297, 64)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ZkdlError
from .fixedpoint import ConfigError, epoch_permutation

__all__ = ["FixedDataset", "MissingDependencyError", "load_digits_fixed", "one_hot_fixed",
           "DIGITS_SHUFFLE_SEED", "DIGITS_TRAIN_SIZE"]

#: public seed of the digits shuffle: order = epoch_permutation(DIGITS_SHUFFLE_SEED, 0, 1797)
DIGITS_SHUFFLE_SEED = 1234
#: the first DIGITS_TRAIN_SIZE examples of the shuffled order are the training set
DIGITS_TRAIN_SIZE = 1500


class MissingDependencyError(ZkdlError, ImportError):
    """An optional dependency (e.g. scikit-learn for the digits data) is not installed."""


@dataclass(frozen=True, eq=False)
class FixedDataset:
    """A train/test split in fixed point.  X: (n, d) int64 features (scale 2^R); Y: (n, c) int64
    one-hot targets times 2^R; labels: (n,) int64 class indices."""

    X_train: np.ndarray
    Y_train: np.ndarray
    labels_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    labels_test: np.ndarray
    R: int
    num_classes: int


def one_hot_fixed(labels, num_classes: int, R: int = 16) -> np.ndarray:
    """One-hot rows scaled by 2^R (the fixed-point 1), int64.

    >>> one_hot_fixed([2, 0], 3, R=4).tolist()
    [[0, 0, 16], [16, 0, 0]]
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= num_classes)):
        raise ConfigError(f"labels must be a 1-D array of classes in [0, {num_classes})")
    out = np.zeros((labels.shape[0], num_classes), dtype=np.int64)
    out[np.arange(labels.shape[0]), labels] = 1 << R
    return out


def _pixels_fixed(pixels: np.ndarray, R: int) -> np.ndarray:
    """round_half_up(p * 2^R / 16) for integer pixels p, exactly."""
    return ((pixels << R) + 8) // 16


def load_digits_fixed(R: int = 16) -> FixedDataset:
    """The scikit-learn digits as fixed-point data, with a deterministic split.

    Features are pixel / 16 in [0, 1] (exactly round_half_up(pixel * 2^R / 16)); targets are
    one-hot times 2^R.  The 1797 examples are put in the order
    ``epoch_permutation(DIGITS_SHUFFLE_SEED, 0, 1797)``; the first 1500 are the training set, the
    remaining 297 the test set.

    Raises MissingDependencyError when scikit-learn is missing (``pip install 'zkdl[examples]'``).
    """
    if isinstance(R, bool) or not isinstance(R, (int, np.integer)) or not 1 <= R <= 40:
        raise ConfigError(f"R must be an integer in [1, 40], got {R!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "the digits dataset needs scikit-learn, an optional dependency of zkdl: "
            "pip install 'zkdl[examples]' (or pip install scikit-learn)") from exc
    raw = load_digits()
    data = np.asarray(raw.data)
    pixels = np.rint(data).astype(np.int64)
    if not np.array_equal(pixels, data) or pixels.min() < 0 or pixels.max() > 16:
        raise ZkdlError("unexpected digits data: pixels are not integers in [0, 16]")
    labels = np.asarray(raw.target, dtype=np.int64)
    order = epoch_permutation(DIGITS_SHUFFLE_SEED, 0, labels.shape[0])
    X = _pixels_fixed(pixels[order], int(R))
    lab = labels[order]
    Y = one_hot_fixed(lab, 10, int(R))
    n = DIGITS_TRAIN_SIZE
    return FixedDataset(X_train=X[:n], Y_train=Y[:n], labels_train=lab[:n], X_test=X[n:],
                        Y_test=Y[n:], labels_test=lab[n:], R=int(R), num_classes=10)
