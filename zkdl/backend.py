"""The prover's hot operations behind one interface: which implementation computes them.

The circuits and protocols compute with :class:`zkdl.field.FrVec` and :func:`zkdl.curve.msm`;
those dispatch the hot operations to the *active backend*, an object with these methods (the
C extension's buffer-in / buffer-out signatures: ``out`` is written, inputs are (n, 4) uint64
Montgomery limbs, points (n, 12) affine limbs):

    fr_add(out, a, b)            fr_sub(out, a, b)           fr_mul(out, a, b)
    fr_add_scalar(out, a, s)     fr_scale(out, a, s)         (s: one element)
    fr_fold(out, a, c)           out[i] = a[i] + c (a[h + i] - a[i]),  h = len(a) / 2
    fr_eq_table(out, u)          eq(u, x) for x in {0,1}^k, u_1 the most significant bit
    sc_term_evals(out, eq, factors, degree)     the sumcheck round kernel (field.product_evals)
    sc_frac_evals(out, eq, factors, lam, skip_one)   a logUp layer's round, all terms (field.frac_evals)
    fr_logup_layer(p_out, q_out, p, q)          a logUp fraction-tree level (logup._layer; p may be None)
    msm(out, points, scalars, kind)             sum_i [k_i] P_i (curve.msm; out: affine)
    msm_rows(out, points, scalars, kind)        one MSM per row: row commitments (curve.msm_rows)

Backends: ``cpu`` — the C extension ``zkdl._native`` itself (the default); ``gpu`` —
:class:`zkdl.prover_gpu.backend.GpuBackend` on a CUDA device through CuPy, or on the host emulator
of the same kernels (how CI checks that a proof made on the GPU path is byte-identical to the
CPU's).  Everything else (conversions, inverses, curve arithmetic) stays on the C extension.  The verifier never changes backend.

    with zkdl.backend.use(GpuBackend(device)):
        proof, after, sec = prove_window(...)
"""
from __future__ import annotations

from contextlib import contextmanager

from . import _native
from .errors import ZkdlError

#: the operations a backend provides (the rest of the C extension is shared by all backends)
OPERATIONS = ("fr_add", "fr_sub", "fr_mul", "fr_add_scalar", "fr_scale", "fr_fold", "fr_eq_table",
              "sc_term_evals", "sc_frac_evals", "fr_logup_layer", "msm", "msm_rows")

_active = _native        # the C extension has exactly these functions: it is the cpu backend


def active():
    """The backend the hot operations run on now (the C extension unless inside use())."""
    return _active


@contextmanager
def use(backend):
    """Run the enclosed block with ``backend`` (an object with the OPERATIONS, or "cpu")."""
    global _active
    if backend == "cpu":
        backend = _native
    missing = [op for op in OPERATIONS if not callable(getattr(backend, op, None))]
    if missing:
        raise ZkdlError(f"backend {backend!r} lacks {', '.join(missing)}")
    old, _active = _active, backend
    try:
        yield backend
    finally:
        _active = old


def name() -> str:
    return "cpu" if _active is _native else getattr(_active, "name", type(_active).__name__)
