"""The ``gpu`` backend of zkdl.backend: the prover's hot operations run by the CUDA kernels of
prover_gpu/kernels on a device -- a CUDA GPU through CuPy (prover_gpu.cupy_device.CupyDevice) or
the host emulator of the same kernel sources (prover_gpu.emu), which is how CI checks, without a
GPU, that a proof made on the GPU path is byte-identical to the CPU's.

Each operation has the C extension's buffer-in / buffer-out signature (zkdl.backend.OPERATIONS):
its inputs are copied to the device, the kernels run, the result is copied back into ``out``.
(Tables do not yet stay on the device between operations: that is the next step for speed, and
needs a device-resident FrVec; this layer fixes the interface and the bit-exact results.  Row
commitments run as one MSM per row for now.)
Shapes the kernels do not take (a sumcheck round with more than 4 factors or degree above 8)
run on the C extension and are counted in ``fallbacks``.

    from zkdl import backend
    from zkdl.prover_gpu.backend import GpuBackend
    with backend.use(GpuBackend()):             # CuPy device (GpuUnavailableError if none)
        ...
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from . import pipeline as pl
from ._errors import GpuUnavailableError

U64 = np.uint64

#: the sumcheck round kernel's limits (sumcheck.cu)
MAX_FACTORS, MAX_DEGREE = 4, 8


class GpuBackend:
    name = "gpu"

    def __init__(self, device=None, *, msm_blocks: dict | None = None):
        """device: a CupyDevice (the default: the GPU, GpuUnavailableError if there is none) or an
        emulator (prover_gpu.emu.load()).  msm_blocks: block sizes of the MSM kernels (pipeline.msm's
        ``blocks``; the emulator runs much faster with small blocks for the barrier kernels)."""
        if device is None:
            from .cupy_device import CupyDevice

            device = CupyDevice()
        self.dev = device
        self.msm_blocks = msm_blocks
        self.calls: Counter = Counter()
        self.fallbacks: Counter = Counter()

    def __repr__(self) -> str:
        return f"GpuBackend({self.dev!r})"

    # ---------------------------------------------------------------- helpers
    def _up(self, a) -> object:
        return self.dev.from_host(np.ascontiguousarray(a))

    def _down(self, out: np.ndarray, d) -> None:
        out[...] = self.dev.to_host(d).reshape(out.shape)

    def _elementwise(self, kernel: str, out, a, b) -> None:
        n = int(out.shape[0])
        self.calls[kernel] += 1
        if n == 0:
            return
        d = self.dev.zeros((n, 4), np.uint64)
        pl._launch_n(self.dev, kernel, n, d, self._up(a), self._up(b), U64(n))
        self._down(out, d)

    # ---------------------------------------------------------------- zkdl.backend.OPERATIONS
    def fr_add(self, out, a, b):
        self._elementwise("fr_vec_add", out, a, b)

    def fr_sub(self, out, a, b):
        self._elementwise("fr_vec_sub", out, a, b)

    def fr_mul(self, out, a, b):
        self._elementwise("fr_vec_mul", out, a, b)

    def fr_add_scalar(self, out, a, s):
        self._elementwise("fr_vec_add_scalar", out, a, s)

    def fr_scale(self, out, a, s):
        self._elementwise("fr_vec_scale", out, a, s)

    def fr_fold(self, out, a, c):
        h = int(out.shape[0])
        self.calls["fr_fold"] += 1
        if h == 0:
            return
        d = self.dev.zeros((h, 4), np.uint64)
        pl._launch_n(self.dev, "fr_fold", h, d, self._up(a), self._up(c), U64(h))
        self._down(out, d)

    def fr_eq_table(self, out, u):
        k = int(np.asarray(u).shape[0])
        self.calls["fr_eq_table"] += 1
        du = self._up(u) if k else self.dev.zeros((0, 4), np.uint64)
        self._down(out, pl.eq_table(self.dev, du, k))

    def sc_term_evals(self, out, eq, factors, degree, skip_one=False):
        # skip_one only allows leaving out X = 1 (the caller derives it): the device computes all
        if not 1 <= len(factors) <= MAX_FACTORS or degree > MAX_DEGREE or len(factors[0]) < 2:
            from zkdl import _native

            self.fallbacks["sc_term_evals"] += 1
            return _native.sc_term_evals(out, eq, factors, degree)
        self.calls["sc_term_evals"] += 1
        deq = None if eq is None else self._up(eq)
        self._down(out, pl.sumcheck_round(self.dev, deq, [self._up(f) for f in factors], int(degree)))

    def sc_frac_evals(self, out, eq, factors, lam, skip_one=False):
        """A logUp layer's round: on the device term by term (the round kernel per term), the
        terms summed on the host (no fused device kernel yet)."""
        from zkdl.field import FrVec

        D = int(out.shape[0]) - 1
        n = len(factors)
        lam = FrVec(np.asarray(lam).reshape(1, 4)).to_ints()[0]
        terms = ((1, (0, 3)), (1, (1, 2)), (lam, (2, 3))) if n == 4 else ((1, (1,)), (1, (0,)), (lam, (0, 1)))
        total = FrVec.zeros(D + 1)
        for c, fs in terms:
            part = np.empty((D + 1, 4), dtype=np.uint64)
            self.sc_term_evals(part, eq, tuple(factors[j] for j in fs), D, skip_one)
            total = total + FrVec(part) * c
        out[:] = total.limbs

    def fr_logup_layer(self, po, qo, p, q):
        h = int(po.shape[0])
        self.calls["fr_logup_layer"] += 1
        if h == 0:
            return
        dpo, dqo = self.dev.zeros((h, 4), np.uint64), self.dev.zeros((h, 4), np.uint64)
        pl._launch_n(self.dev, "logup_layer", h, dpo, dqo, None if p is None else self._up(p), self._up(q), U64(h))
        self._down(po, dpo)
        self._down(qo, dqo)

    def msm_rows(self, out, points, scalars, kind):
        """One MSM per row (row r: scalars[r m, (r + 1) m)); the rows run one after another."""
        m = int(np.asarray(points).reshape(-1, 12).shape[0])
        per = np.asarray(scalars).reshape(-1, 4 if kind == 1 else 1)
        for r in range(int(out.shape[0])):
            row = per[r * m:(r + 1) * m]
            self.msm(out[r:r + 1], points, row if kind == 1 else row.reshape(-1), kind)
        self.calls["msm_rows"] += 1

    def msm(self, out, points, scalars, kind):
        from zkdl.curve import PointVec
        from zkdl.field import FrVec

        from .cupy_device import msm

        self.calls["msm"] += 1
        pts = PointVec(np.ascontiguousarray(points).reshape(-1, 12))
        sc = FrVec(np.ascontiguousarray(scalars).reshape(-1, 4)) if kind == 1 else np.asarray(scalars)
        out[...] = msm(self.dev, pts, sc, blocks=self.msm_blocks).limbs.reshape(out.shape)


#: small MSM block sizes for the emulator (its barrier kernels run one coroutine per thread)
EMU_MSM_BLOCKS = {"msm_scan_exclusive": 32, "msm_window_reduce": 8}


def from_env() -> GpuBackend:
    """The gpu backend the daemon uses: on the CUDA device (CuPy), or with ZKDL_GPU_DEVICE=emu on
    the host emulator of the same kernels (slow; for checking the whole GPU path without a GPU).
    GpuUnavailableError (a ZkdlError) saying why when there is no usable device."""
    import os

    which = os.environ.get("ZKDL_GPU_DEVICE", "").strip().lower() or "cuda"
    if which not in ("cuda", "emu"):        # a typo must not silently pick the CUDA device
        raise GpuUnavailableError(f"ZKDL_GPU_DEVICE={which!r} is not a GPU device: use 'cuda' (the default) "
                                  "or 'emu' (the host emulator), or leave it unset")
    if which not in _BACKENDS:              # one per process: the device's kernels load once
        if which == "emu":
            from . import emu

            _BACKENDS[which] = GpuBackend(emu.load(), msm_blocks=EMU_MSM_BLOCKS)
        else:
            _BACKENDS[which] = GpuBackend()
    return _BACKENDS[which]


_BACKENDS: dict = {}
