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

from typing import Sequence

import numpy as np

from . import randomness
from .curve import G1, CombTable, PointVec, msm, msm_rows
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
        self._gh_comb: CombTable | None = None

    #: comb window of (g, h): 22 mixed additions per point and commitment; the table (8.6 MB)
    #: is built on first use in ~75 ms.  c = 8 (768 kB) costs 32 additions: a commitment of a
    #: round's four coefficients 50 against 36 µs per scalar
    GH_COMB_WINDOW = 12

    @property
    def gh_comb(self) -> CombTable:
        """The comb table of (g, h), built on first use: every scalar commitment (sumcheck
        rounds, factors, Sigma-protocol nonces) goes through it."""
        if self._gh_comb is None:
            self._gh_comb = CombTable(self._gh, self.GH_COMB_WINDOW)
        return self._gh_comb

    def commit_scalar(self, v: int, rho: int) -> G1:
        return self.gh_comb.msm(FrVec.from_ints([v, rho]))

    def commit_scalars(self, values: Sequence[int], blinds: Sequence[int]) -> PointVec:
        """Com(v_i; rho_i) = [v_i] g + [rho_i] h for each pair."""
        if len(values) != len(blinds):
            raise ShapeError("commit_scalars: one blind per value")
        if not len(values):
            return PointVec.identity(0)
        return self.gh_comb.msm_rows(FrVec.from_ints([x for pair in zip(values, blinds) for x in pair]))

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
        return body + self.blind_points(blinds)

    def blind_points(self, blinds: FrVec) -> PointVec:
        """[rho_i] h for each blind, from the comb table of (g, h) (the g digits are zero)."""
        pairs = np.zeros((2 * len(blinds), 4), dtype=np.uint64)
        pairs[1::2] = blinds.limbs
        return self.gh_comb.msm_rows(FrVec(pairs)) if len(blinds) else PointVec.identity(0)
