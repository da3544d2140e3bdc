"""This machine's speed, printed with every benchmark run so that figures from machines that differ
up to 2-3x can be scaled: fr_mul_ns, the field multiplication of bench/core.py (1 thread, 2^20
elements, median of 5).  Issue targets assume about 20 ns."""
from __future__ import annotations

import statistics
import time


def fr_mul_ns() -> float:
    from zkdl.field import FrVec
    from zkdl.threads import threads

    n = 1 << 20
    a, b = FrVec.random(n), FrVec.random(n)
    with threads(1):
        a * b
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            a * b
            ts.append(time.perf_counter() - t0)
    return round(statistics.median(ts) / n * 1e9, 2)
