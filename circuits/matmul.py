"""Aggregated matrix products (FAC4DNN): one zero-knowledge sumcheck for a whole stack of them.

Instances i = 0..N-1 (e.g. every (step, layer) of a training window) each satisfy
Z_i = A_i @ W_i.  All instances are padded to one shape (b x k) @ (k x o) with powers of two and
stacked along a leading instance axis, N padded to a power of two with zero instances:

    A[i, r, c]  (N, b, k)        W[i, c, o]  (N, k, o)        Z[i, r, o]  (N, b, o)

Z is never committed.  A claim on its MLE at (u_i, u_r, u_o), given as a commitment, reduces to
claims on A and W:

    Z(u_i, u_r, u_o) = sum_{i, c} eq(u_i, i) * A(i, u_r, c) * W(i, c, u_o)

proven by the zk sumcheck over the (log N + log k) variables (i, c) with three factors: the
partial evaluations A' = A(., u_r, .) and W' = W(., ., u_o), and E = eq(u_i, .) which is public
(the verifier evaluates it at the end).  Output: committed claims A(r_i, u_r, r_c) and
W(r_i, r_c, u_o) at the sumcheck's point (r_i, r_c), for openings or further relations.
Variable order follows docs/protocol.md: the instance axis is the most significant.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from zkdl.codec import Reader, Writer
from zkdl.errors import ShapeError, VerificationError
from zkdl.field import FrVec
from zkdl.mle import ceil_log2, eq_eval, fix_leading, fix_middle, fix_trailing
from zkdl.sumcheck import SumcheckSpec, Term, ZkSumcheckProof, prove_zk, verify_zk
from zkdl.transcript import Transcript


@dataclass(frozen=True)
class MatmulShape:
    """Padded shape of a stack of products: N instances of (b x k) @ (k x o), powers of two."""

    instances: int
    rows: int
    inner: int
    cols: int

    def __post_init__(self):
        for name in ("instances", "rows", "inner", "cols"):
            v = getattr(self, name)
            if v < 1 or v & (v - 1):
                raise ShapeError(f"matmul: {name} = {v} is not a power of two")

    @classmethod
    def covering(cls, shapes: Sequence[tuple[int, int, int]]) -> "MatmulShape":
        """The smallest padded shape holding instances of the given (b, k, o)."""
        if not shapes:
            raise ShapeError("matmul: no instances")
        return cls(1 << ceil_log2(len(shapes)), *(1 << ceil_log2(max(s[j] for s in shapes)) for j in range(3)))

    @property
    def vars(self) -> tuple[int, int, int, int]:
        return tuple(ceil_log2(v) for v in (self.instances, self.rows, self.inner, self.cols))

    def spec(self) -> SumcheckSpec:
        ni, _, nk, _ = self.vars
        return SumcheckSpec(ni + nk, 3, (Term(1, (0, 1, 2)),))

    def absorb(self, t: Transcript) -> None:
        t.append_bytes(b"matmul-shape", Writer().u32(self.instances).u32(self.rows).u32(self.inner)
                       .u32(self.cols).getvalue())


def stack(mats: Sequence[np.ndarray], count: int, rows: int, cols: int) -> np.ndarray:
    """Zero-pad each integer matrix to (rows, cols) and stack `count` of them (missing ones zero)."""
    if len(mats) > count:
        raise ShapeError(f"matmul: {len(mats)} instances do not fit in {count}")
    out = np.zeros((count, rows, cols), dtype=np.int64)
    for i, m in enumerate(mats):
        m = np.asarray(m)
        if m.ndim != 2 or m.shape[0] > rows or m.shape[1] > cols:
            raise ShapeError(f"matmul: instance {i} has shape {m.shape}, larger than ({rows}, {cols})")
        out[i, : m.shape[0], : m.shape[1]] = m
    return out


def _bind_axis(table: FrVec, dims: tuple[int, int, int], axis: int, point: Sequence[int]) -> FrVec:
    """Bind the variables of one axis of a 3-axis table (row-major) to `point`; the result keeps
    the other two axes in their order (one pass over the table, no transposition)."""
    if axis == 0:
        return fix_leading(table, point)
    if axis == 2:
        return fix_trailing(table, point)
    return fix_middle(table, dims, point)


def _split(shape: MatmulShape, point: Sequence[int]):
    ni, nb, _, no = shape.vars
    if len(point) != ni + nb + no:
        raise ShapeError(f"matmul: a point on Z needs {ni + nb + no} coordinates, got {len(point)}")
    return list(point[:ni]), list(point[ni:ni + nb]), list(point[ni + nb:])


@dataclass(frozen=True)
class MatmulProof:
    sumcheck: ZkSumcheckProof

    def write(self, w: Writer) -> None:
        self.sumcheck.write(w)

    @classmethod
    def read(cls, r: Reader, shape: MatmulShape) -> "MatmulProof":
        return cls(ZkSumcheckProof.read(r, shape.spec(), public=[2]))


def prove(key, t: Transcript, shape: MatmulShape, A: FrVec, W: FrVec, z_point: Sequence[int],
          claim_blind: int):
    """Prove the committed claim Com(Z(z_point); claim_blind) for stacked A (N*b*k) and W (N*k*o).

    Returns (proof, a_point, w_point, openings): openings[0] = (A(a_point), blind) and
    openings[1] = (W(w_point), blind) of the commitments the verifier will hold."""
    N, b, k, o = shape.instances, shape.rows, shape.inner, shape.cols
    if len(A) != N * b * k or len(W) != N * k * o:
        raise ShapeError("matmul: stacked tensors do not match the shape")
    u_i, u_r, u_o = _split(shape, z_point)
    t.domain(b"zkdl/matmul")
    shape.absorb(t)
    t.append_scalars(b"z-point", z_point)
    A1 = _bind_axis(A, (N, b, k), 1, u_r)  # (i, c)
    W1 = _bind_axis(W, (N, k, o), 2, u_o)  # (i, c)
    E = FrVec.eq_table(u_i).repeat_each(k)  # eq(u_i, i) for every c
    sc, r, openings = prove_zk(key, shape.spec(), [A1, W1, E], claim_blind, t, public=[2])
    ni = shape.vars[0]
    a_point = r[:ni] + u_r + r[ni:]
    w_point = r + u_o
    return MatmulProof(sc), a_point, w_point, (openings[0], openings[1])


def verify(key, t: Transcript, shape: MatmulShape, z_point: Sequence[int], claim_com, proof: MatmulProof):
    """Verify; returns (a_point, com_A, w_point, com_W): committed claims on A and W."""
    u_i, u_r, u_o = _split(shape, z_point)
    if not isinstance(proof, MatmulProof):
        raise VerificationError("matmul: not a MatmulProof")
    t.domain(b"zkdl/matmul")
    shape.absorb(t)
    t.append_scalars(b"z-point", z_point)
    ni = shape.vars[0]
    r, coms = verify_zk(key, shape.spec(), claim_com, proof.sumcheck, t,
                        public={2: lambda rr: eq_eval(u_i, rr[:ni])})
    return r[:ni] + u_r + r[ni:], coms[0], r + u_o, coms[1]


def claim_product(ch, N: int, b: int, k: int, o: int, A_fn, W_fn, point: Sequence[int], claim, what: str):
    """The same reduction run over a protocol channel (zkdl.circuits.channel): a committed claim
    on Z(point), Z = A (N x b x k) @ W (N x k x o) stacked, becomes claims on A and W.

    A_fn / W_fn are prover-side thunks returning the padded stacked tables.  Returns
    (a_point, a_claim, w_point, w_claim)."""
    shape = MatmulShape(N, b, k, o)
    ni, nb, nk, no = shape.vars
    u_i, u_r, u_o = _split(shape, point)
    ch.t.domain(b"zkdl/matmul")
    shape.absorb(ch.t)
    ch.t.append_scalars(b"z-point", point)

    def tables():
        A1 = _bind_axis(A_fn(), (N, b, k), 1, u_r)
        W1 = _bind_axis(W_fn(), (N, k, o), 2, u_o)
        E = (FrVec.eq_table(u_i) if u_i else FrVec.ones(1)).repeat_each(k)
        return [A1, W1, E]

    with ch.check(what):
        r, fac = ch.sumcheck(shape.spec(), tables, claim, {2: lambda rr: eq_eval(u_i, rr[:ni])})
    return r[:ni] + u_r + r[ni:], fac[0], r + u_o, fac[1]


def transpose_last(v: FrVec, dims: tuple[int, int, int]) -> FrVec:
    """Swap the last two axes of a row-major (n, a, b) table (a permutation, no arithmetic)."""
    idx = np.arange(len(v)).reshape(dims).transpose(0, 2, 1).reshape(-1)
    return FrVec(v.limbs[idx])
