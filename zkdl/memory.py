"""The prover's allocator setting: keep freed memory for reuse (glibc only).

A window proof allocates and frees many temporary tables of 2^20 .. 2^25 field elements (32 MiB
to 1 GiB each).  glibc serves every block above 32 MiB with its own mmap and returns it with
munmap when freed, so each new table is faulted in page by page again (measured here: ~1 µs per
4 KiB page, ~0.07 s per 2^23-element table, more on a fresh virtual machine).  With
``tune_allocator()`` such blocks come from the heap and freed ones stay there to be reused
(mallopt M_MMAP_MAX = 0, M_TRIM_THRESHOLD = 2 GiB): the headline-shaped window (784-1024-1024-10,
T = 4) proved ~15 % faster, its peak RSS +2.5 % (bench/results, docs/benchmarks.md).

Only the prover calls it (circuits/prover.py, at import); the verifier never imports the prover.
ZKDL_MALLOC=system leaves the allocator alone; other C libraries than glibc are left alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_TRIM_BYTES = 2**31 - 1          # mallopt takes an int: 2 GiB, the largest value

_done: bool | None = None


def tune_allocator() -> bool:
    """Apply the setting once per process; returns whether it is in effect."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("ZKDL_MALLOC", "").lower() == "system":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(M_TRIM_THRESHOLD, _TRIM_BYTES)) and bool(mallopt(M_MMAP_MAX, 0))
    return _done
