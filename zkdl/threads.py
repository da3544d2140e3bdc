"""Number of threads used by the native kernels (default: all cores)."""
from contextlib import contextmanager

from . import _native
from .errors import ZkdlError


def set_num_threads(n: int) -> None:
    if not isinstance(n, int) or not 1 <= n <= 64:
        raise ZkdlError(f"thread count must be an integer in [1, 64], got {n!r}")
    _native.set_num_threads(n)


def get_num_threads() -> int:
    return _native.get_num_threads()


def max_threads() -> int:
    return _native.max_threads()


@contextmanager
def threads(n: int):
    """Run the enclosed block with n native threads."""
    old = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        _native.set_num_threads(old)
