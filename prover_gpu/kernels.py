"""Registry of the CUDA kernels in prover_gpu/kernels/: which file defines which entry points, their
parameters and launch limits.  A CuPy backend loads a file with ``cupy.RawModule(code=source(f),
options=nvrtc_options(), name_expressions=None)`` and gets each entry by name; the emulator
(prover_gpu.emu) builds the same sources for the host from this list.  Nothing here imports CuPy.

Parameter kinds, in order: ``ptr`` (a device pointer: a CuPy array, or 0 for NULL), ``u64``
(``numpy.uint64``), ``i32`` (``numpy.int32``), ``u32`` (``numpy.uint32``).  The emulator checks these
against the compiled kernels' real signatures.

``barrier``: the kernel calls ``__syncthreads()`` (its threads are emulated as cooperative contexts);
``max_block``: the largest blockDim.x it supports (its static shared arrays are that size, or, for
the point kernels, ~250 registers per thread: 256 threads use the whole register file of an SM);
``grid``: ``"n"`` if any grid size is correct (grid-stride loop over the elements), ``"one"`` if it
must be launched with exactly one block, ``"windows"`` for one block per MSM window (more are
allowed: grid-stride).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"

#: nvcc flags of the compile check (tests/test_gpu_kernels.py); ARCHS are the targets built there
NVCC_FLAGS = ("-std=c++17", "-Werror", "all-warnings")
ARCHS = ("sm_80", "sm_90")


@dataclass(frozen=True)
class Kernel:
    name: str
    args: tuple[str, ...]
    block: int = 256
    max_block: int = 1024
    barrier: bool = False
    grid: str = "n"


@dataclass(frozen=True)
class KernelFile:
    file: str
    kernels: tuple[Kernel, ...]

    @property
    def path(self) -> Path:
        return KERNEL_DIR / self.file


def _k(name, *args, **kw) -> Kernel:
    return Kernel(name, tuple(args), **kw)


_P, _U64, _I32 = "ptr", "u64", "i32"

FILES: tuple[KernelFile, ...] = (
    KernelFile("fr_vec.cu", (
        _k("fr_vec_add", _P, _P, _P, _U64),
        _k("fr_vec_sub", _P, _P, _P, _U64),
        _k("fr_vec_mul", _P, _P, _P, _U64),
        _k("fr_vec_neg", _P, _P, _U64),
        _k("fr_vec_scale", _P, _P, _P, _U64),
        _k("fr_vec_add_scalar", _P, _P, _P, _U64),
        _k("fr_vec_rsub_scalar", _P, _P, _P, _U64),
        _k("fr_vec_axpy", _P, _P, _P, _P, _U64),
    )),
    KernelFile("fr_mle.cu", (
        _k("fr_fold", _P, _P, _P, _U64),
        _k("fr_half_sum", _P, _P, _U64),
        _k("fr_eq_init", _P, block=1),
        _k("fr_eq_layer", _P, _P, _U64),
    )),
    KernelFile("sumcheck.cu", (
        _k("sc_round_partials", _P, _P, _P, _P, _P, _P, _I32, _I32, _U64, block=128, max_block=256, barrier=True),
        _k("fr_sum_rows", _P, _P, _I32, _U64, block=128, max_block=256, barrier=True),
    )),
    KernelFile("logup.cu", (
        _k("logup_layer", _P, _P, _P, _P, _U64),
    )),
    KernelFile("msm.cu", (
        _k("msm_scalar_bits", _P, _P, _U64),
        _k("msm_digits", _P, _P, _P, _P, _U64, _I32, _I32),
        _k("msm_bucket_count", _P, _P, _U64),
        _k("msm_scan_exclusive", _P, _U64, block=1024, max_block=1024, barrier=True, grid="one"),
        _k("msm_bucket_scatter", _P, _P, _P, _P, _U64),
        _k("msm_bucket_accumulate", _P, _P, _P, _P, _U64, block=64, max_block=256),
        # (wsum, out, buckets, nb, nwin, c): buckets = NULL runs the final combination (one block)
        _k("msm_window_reduce", _P, _P, _P, _U64, _I32, _I32, block=128, max_block=128, barrier=True,
           grid="windows"),
    )),
)

#: MSM limits shared with msm.cu (ZKG_MSM_MAX_WINDOW)
MSM_MAX_WINDOW = 20
#: sumcheck limits (ZKG_SC_MAX_F, ZKG_SC_MAX_D)
SC_MAX_FACTORS = 4
SC_MAX_DEGREE = 8

KERNELS: dict[str, Kernel] = {k.name: k for f in FILES for k in f.kernels}
FILE_OF: dict[str, KernelFile] = {k.name: f for f in FILES for k in f.kernels}


def kernel(name: str) -> Kernel:
    try:
        return KERNELS[name]
    except KeyError:
        raise KeyError(f"prover_gpu: no kernel named {name!r}") from None


def native_include_dir() -> Path:
    """zkdl/_native (zk_field.h, zk_g1.h), found without importing zkdl."""
    spec = importlib.util.find_spec("zkdl")
    if spec is None or spec.origin is None:
        raise RuntimeError("prover_gpu: the zkdl package is not importable (its headers are needed)")
    return Path(spec.origin).resolve().parent / "_native"


def include_dirs() -> list[Path]:
    return [KERNEL_DIR, native_include_dir()]


def source(file: str) -> str:
    return (KERNEL_DIR / file).read_text()


def nvrtc_options(arch: str | None = None) -> tuple[str, ...]:
    """Options for cupy.RawModule (NVRTC or nvcc backend): C++17 and the include directories."""
    opts = ["--std=c++17"] + [f"-I{d}" for d in include_dirs()]
    if arch:
        opts.append(f"--gpu-architecture={arch}")
    return tuple(opts)


def nvcc_command(file: str, arch: str, out: str, mode: str = "-cubin") -> list[str]:
    """The compile check: nvcc <mode> for one architecture, warnings as errors."""
    cmd = ["nvcc", *NVCC_FLAGS, f"-arch={arch}", mode]
    cmd += [f"-I{d}" for d in include_dirs()]
    return cmd + ["-o", out, str(KERNEL_DIR / file)]


def grid_for(n: int, block: int, max_grid: int = 1 << 16) -> int:
    """Blocks for n elements with grid-stride kernels: at least 1 (n = 0 launches a no-op block),
    at most max_grid."""
    return max(1, min((int(n) + block - 1) // block, max_grid))
