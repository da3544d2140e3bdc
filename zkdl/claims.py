"""Reduction of several evaluation claims on one committed table to a single one.

Claims: Com(y_i; rho_i) with y_i = T(r_i), i = 1..m, for one multilinear table T of k variables.
The verifier draws alpha_1..alpha_m; then
    sum_i alpha_i y_i = sum_x T(x) * W(x),   W(x) = sum_i alpha_i eq(r_i, x),
is proven with the zero-knowledge sumcheck (W is public: the verifier evaluates it at the final
point itself), starting from the commitment sum_i alpha_i Com(y_i).  The output is one committed
claim Com(T(r*)) at the sumcheck's point r*, so each committed tensor is opened once per proof.
A single claim is returned unchanged (no proof).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .codec import Reader, Writer
from .curve import G1, PointVec, msm
from .errors import ShapeError, VerificationError
from .field import R_MODULUS, FrVec
from .mle import eq_eval
from .sumcheck import SumcheckSpec, ZkSumcheckProof, prove_zk, verify_zk
from .transcript import Transcript


@dataclass(frozen=True)
class ClaimReductionProof:
    sumcheck: ZkSumcheckProof | None

    def write(self, w: Writer) -> None:
        w.u32(0 if self.sumcheck is None else 1)
        if self.sumcheck is not None:
            self.sumcheck.write(w)

    @classmethod
    def read(cls, r: Reader, num_vars: int, num_claims: int) -> "ClaimReductionProof":
        flag = r.u32("claim reduction flag", 1)
        if flag != (1 if num_claims > 1 else 0):
            from .codec import ProofFormatError

            raise ProofFormatError("claim reduction: presence flag does not match the claim count")
        return cls(ZkSumcheckProof.read(r, _spec(num_vars), public=[1]) if flag else None)


def _spec(k: int) -> SumcheckSpec:
    return SumcheckSpec.product(k, 2)


def _start(t: Transcript, points: Sequence[Sequence[int]], coms: Sequence[G1]) -> list[int]:
    t.domain(b"zkdl/claim-reduction")
    t.append_u64(b"claims", len(points))
    for p, c in zip(points, coms):
        t.append_scalars(b"point", p)
        t.append_point(b"claim", c)
    return t.challenge_scalars(b"alpha", len(points))


def _check_points(points, num_vars: int) -> None:
    if not points:
        raise ShapeError("claim reduction: no claims")
    if any(len(p) != num_vars for p in points):
        raise ShapeError("claim reduction: every point needs one coordinate per variable")


def prove(key, t: Transcript, table: FrVec, points: Sequence[Sequence[int]],
          coms: Sequence[G1], values: Sequence[int], blinds: Sequence[int]):
    """Returns (proof, r*, (value, blind)) for the reduced claim Com(value; blind) at r*."""
    k = len(points[0]) if points else 0
    _check_points(points, k)
    if len(table) != 1 << k:
        raise ShapeError("claim reduction: table length does not match the points")
    if len(points) == 1:
        return ClaimReductionProof(None), list(points[0]), (values[0] % R_MODULUS, blinds[0] % R_MODULUS)
    alpha = _start(t, points, coms)
    W = FrVec.zeros(1 << k)
    for a, p in zip(alpha, points):
        W = W + FrVec.eq_table(list(p)) * a
    blind = sum(a * b for a, b in zip(alpha, blinds)) % R_MODULUS
    sc, r, openings = prove_zk(key, _spec(k), [table, W], blind, t, public=[1])
    return ClaimReductionProof(sc), r, openings[0]


def verify(key, t: Transcript, points: Sequence[Sequence[int]], coms: Sequence[G1],
           proof: ClaimReductionProof) -> tuple[list[int], G1]:
    """Returns (r*, Com(T(r*))) to be opened by the caller."""
    k = len(points[0]) if points else 0
    _check_points(points, k)
    if len(coms) != len(points):
        raise ShapeError("claim reduction: one commitment per point")
    if len(points) == 1:
        if proof.sumcheck is not None:
            raise VerificationError("claim reduction: unexpected sumcheck for a single claim")
        return list(points[0]), coms[0]
    if proof.sumcheck is None:
        raise VerificationError("claim reduction: missing sumcheck")
    alpha = _start(t, points, coms)
    start = msm(PointVec.from_points(list(coms)), FrVec.from_ints(alpha))

    def w_at(r):
        return sum(a * eq_eval(p, r) for a, p in zip(alpha, points)) % R_MODULUS

    r, fcoms = verify_zk(key, _spec(k), start, proof.sumcheck, t, public={1: w_at})
    return r, fcoms[0]
