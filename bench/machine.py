"""This machine's speed, printed with every benchmark run so that figures from machines that differ
up to 2-3x can be scaled: fr_mul_ns, the field multiplication of bench/core.py (1 thread, 2^20
elements, median of 5).  Issue targets assume about 20 ns.

The yardstick is the portable C product (zk_field.h without its assembly path), whatever the
prover uses: it measures the machine with the code the targets were set with, so that a faster
product in the prover shows as a faster prover, not as a faster machine."""
from __future__ import annotations

import statistics
import time


def fr_mul_ns() -> float:
    from zkdl import _native
    from zkdl.field import FrVec

    n = 1 << 20
    a, b = FrVec.random(n), FrVec.random(n)
    was = _native.set_asm(False)
    try:
        return _median_ns(a, b, n)
    finally:
        _native.set_asm(was)


def _median_ns(a, b, n) -> float:
    from zkdl.threads import threads

    with threads(1):
        a * b
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            a * b
            ts.append(time.perf_counter() - t0)
    return round(statistics.median(ts) / n * 1e9, 2)
