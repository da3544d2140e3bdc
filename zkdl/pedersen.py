"""Pedersen commitments with hash-to-curve generators.

A :class:`PedersenKey` of label L and size n holds
  G_0 .. G_(n-1) = generators(L + "/G", n)   vector generators
  g              = generators(L + "/g", 1)   scalar generator
  h              = generators(L + "/h", 1)   blinding generator
Scalar commitment:  Com(v; rho) = v*g + rho*h.
Vector commitment:  Com(x; rho) = sum_i x_i*G_i + rho*h  (x may be shorter than n).
All generators come from independent labels, so no discrete-log relation between any of them is
known.  Blinds must come from :func:`random_scalar` (zkdl.randomness: OS entropy, or the run's PRF).
"""
from __future__ import annotations

import numpy as np

from . import randomness
from .curve import G1, PointVec, fixed_base_mul, msm, msm_rows
from .errors import ShapeError, ZkdlError
from .field import R_MODULUS, FrVec
from .generators import generators


def random_scalar() -> int:
    """A uniform element of Fr for the prover (zkdl.randomness; 512 bits reduced, bias < 2^-256)."""
    return int.from_bytes(randomness.token_bytes(64), "big") % R_MODULUS


def random_scalars(n: int) -> FrVec:
    return FrVec.random(n)


class PedersenKey:
    """Generators for scalar and vector commitments (see module docstring)."""

    def __init__(self, label: str, n: int):
        if not isinstance(n, int) or n < 1:
            raise ZkdlError(f"PedersenKey size must be a positive integer, got {n!r}")
        self.label = label
        self.n = n
        self.G: PointVec = generators(label + "/G", n)
        self.g: G1 = generators(label + "/g", 1)[0]
        self.h: G1 = generators(label + "/h", 1)[0]
        self._gh = PointVec.from_points([self.g, self.h])

    def commit_scalar(self, v: int, rho: int) -> G1:
        return msm(self._gh, FrVec.from_ints([v, rho]))

    def commit_vector(self, x, rho: int) -> G1:
        """x: FrVec or an integer array (small values take the fast MSM path)."""
        m = len(x)
        if m > self.n:
            raise ShapeError(f"vector of length {m} exceeds the key size {self.n}")
        body = msm(self.G[:m], x) if m else G1.identity()
        return body + self.h * rho

    def commit_rows(self, rows, blinds: FrVec) -> PointVec:
        """Row-wise commitments of a matrix: rows is a 2-D integer array (r, m) or an FrVec of
        length r*m (row-major); blinds has one element per row."""
        m = rows.shape[1] if isinstance(rows, np.ndarray) else len(rows) // max(len(blinds), 1)
        if m > self.n:
            raise ShapeError(f"rows of length {m} exceed the key size {self.n}")
        body = msm_rows(self.G[:m], rows)
        if len(body) != len(blinds):
            raise ShapeError(f"{len(body)} rows but {len(blinds)} blinds")
        if len(blinds) < 32:
            hs = PointVec(np.repeat(self.h.limbs.reshape(1, 12), len(blinds), axis=0))
            return (body.to_jacobian() + hs.to_jacobian().scale(blinds)).to_affine()
        return body + fixed_base_mul(self.h, blinds)
