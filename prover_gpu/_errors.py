"""Errors of the GPU backend (ZkdlError subclasses, so the CLI reports them like any zkdl error)."""
from zkdl.errors import ZkdlError


class GpuError(ZkdlError):
    """Base class of the GPU backend's errors."""


class GpuUnavailableError(GpuError):
    """The GPU backend cannot run here (no CuPy, no CUDA device, unsupported device)."""


class GpuKernelError(GpuError):
    """A kernel launch failed, or a kernel's inputs are outside its limits."""
