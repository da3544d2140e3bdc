"""GPU prover backend (installed as zkdl.prover_gpu): CUDA kernels for the prover's hot operations.

Status: the kernels (prover_gpu/kernels/*.cu, listed in prover_gpu.kernels) are checked without a
GPU -- compiled by nvcc for sm_80 / sm_90 with warnings as errors, and run on the host by the
emulator (prover_gpu.emu) against the CPU implementation; prover_gpu.cupy_device loads them with
CuPy (the same helpers run on the emulator in CI).  Nothing has run on a GPU yet, and the prover
does not use this backend yet (zkdl daemon --backend gpu is an error).  See docs/gpu.md.

    import zkdl.prover_gpu as pg
    st = pg.available()     # never raises; falsy with st.reason when the GPU cannot be used
    pg.require()            # raises GpuUnavailableError (a ZkdlError) carrying that reason

Importing this package never imports CuPy.
"""
from __future__ import annotations

import importlib
import os

from ._errors import GpuError, GpuKernelError, GpuUnavailableError

__all__ = ["available", "require", "GpuStatus", "GpuError", "GpuUnavailableError", "GpuKernelError",
           "MIN_COMPUTE_CAPABILITY"]

#: the kernels are compiled and checked for sm_80 and sm_90
MIN_COMPUTE_CAPABILITY = (8, 0)

_INSTALL_HINT = "install CuPy for your CUDA version (pip install 'zkdl[gpu]' for CUDA 12, or cupy-cudaXXx)"


class GpuStatus:
    """Result of :func:`available`: truthy when the GPU backend can run; ``reason`` says why not
    (empty when it can); ``device`` names the device found, if any."""

    __slots__ = ("ok", "reason", "device")

    def __init__(self, ok: bool, reason: str = "", device: str = ""):
        self.ok, self.reason, self.device = bool(ok), reason, device

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"GpuStatus(ok={self.ok}, reason={self.reason!r}, device={self.device!r})"


def available() -> GpuStatus:
    """Whether the GPU backend can run here: CuPy importable, a CUDA device visible, compute
    capability >= 8.0.  Never raises; ZKDL_GPU=0 in the environment disables the backend."""
    if os.environ.get("ZKDL_GPU", "").strip() in ("0", "off", "no", "false"):
        return GpuStatus(False, "the GPU backend is disabled by ZKDL_GPU=0 in the environment")
    try:
        cp = importlib.import_module("cupy")
    except ImportError as e:
        return GpuStatus(False, f"CuPy is not installed ({e}); {_INSTALL_HINT}")
    except Exception as e:  # a broken CuPy install (e.g. no CUDA runtime library) raises others
        return GpuStatus(False, f"CuPy failed to import ({type(e).__name__}: {e}); {_INSTALL_HINT}")
    try:
        count = int(cp.cuda.runtime.getDeviceCount())
    except Exception as e:  # cupy.cuda.runtime.CUDARuntimeError: no driver, no device
        return GpuStatus(False, f"no usable CUDA device: {type(e).__name__}: {e} (is the NVIDIA driver "
                                "installed and a GPU visible, e.g. CUDA_VISIBLE_DEVICES?)")
    if count < 1:
        return GpuStatus(False, "no CUDA device found (cupy.cuda.runtime.getDeviceCount() == 0; check "
                                "CUDA_VISIBLE_DEVICES and the NVIDIA driver)")
    try:
        dev = cp.cuda.Device()
        cc = dev.compute_capability  # e.g. "90"
        major, minor = int(cc[:-1]), int(cc[-1])
        try:
            name = cp.cuda.runtime.getDeviceProperties(dev.id)["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
        except Exception:
            name = f"device {dev.id}"
    except Exception as e:
        return GpuStatus(False, f"cannot query the CUDA device: {type(e).__name__}: {e}")
    label = f"{name} (compute capability {major}.{minor})"
    if (major, minor) < MIN_COMPUTE_CAPABILITY:
        need = ".".join(map(str, MIN_COMPUTE_CAPABILITY))
        return GpuStatus(False, f"{label} is below the supported compute capability {need} (sm_80)", label)
    return GpuStatus(True, "", label)


def require() -> GpuStatus:
    """Return the status if the GPU backend can run, else raise GpuUnavailableError saying why and
    what to do."""
    st = available()
    if not st:
        raise GpuUnavailableError(f"GPU prover backend unavailable: {st.reason}. "
                                  "Use the CPU backend (zkdl daemon --backend cpu) or fix the above.")
    return st
