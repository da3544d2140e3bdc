"""Benchmark of the native core: Fr multiplication and MSM (one JSON line per figure).

    python bench/core.py                 # all sizes: 2^12, 2^16, 2^18, 2^20
    python bench/core.py --sizes 12 16   # a subset
    python bench/core.py --no-arkworks   # skip the side-by-side comparison

Figures (medians over --repeat runs, measured side by side in one process):
  {"bench": "core", "figure": "fr_mul_ns", "threads": t, "value": ns per element of a*b, n = 2^20}
      -- the portable C product: the machine's yardstick, which issue targets are scaled by
  {"bench": "core", "figure": "fr_mul_asm_ns", "threads": t, "value": ...}
      -- the product the prover uses on CPUs with BMI2/ADX (zk_field.h), absent elsewhere
  {"bench": "core", "figure": "msm_us_per_point", "impl": "zkdl"|"arkworks", "n": n,
   "bits": 1|16|32|255, "threads": t, "value": microseconds per point}
  {"bench": "core", "figure": "msm_thread_speedup", "n": n, "bits": b, "value": t1 / t2}
  {"bench": "core", "figure": "msm_speedup_vs_arkworks", "n": n, "bits": b, "threads": t, "value": ...}
zkdl scalars: int64 arrays for 1/16/32 bits (signed, as quantized tensors), an FrVec of uniform
field elements for 255 bits.  arkworks (py-arkworks-bls12381, optional) is timed with the
conversion of Python ints to its Scalar objects included, on its default thread pool (all cores).
The first run of a size derives and caches its generators (hash-to-curve), outside the timings.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import zkdl  # noqa: E402
from zkdl import FrVec, R_MODULUS, msm, threads  # noqa: E402
from zkdl.generators import generators  # noqa: E402

BITS = (1, 16, 32, 255)


def emit(**kw):
    print(json.dumps({"bench": "core", **kw}), flush=True)


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def make_scalars(bits: int, n: int, rng: np.random.Generator):
    if bits == 1:
        return rng.integers(0, 2, n, dtype=np.int64)
    if bits == 255:
        return FrVec.random(n)
    half = 1 << (bits - 1)
    return rng.integers(-half, half, n, dtype=np.int64)


def as_ints(sc) -> list[int]:
    if isinstance(sc, FrVec):
        return sc.to_ints()
    return [int(v) % R_MODULUS for v in sc]


def bench_fr_mul(repeat: int):
    from zkdl import _native

    n = 1 << 20
    a, b = FrVec.random(n), FrVec.random(n)
    kinds = [("fr_mul_ns", False)] + ([("fr_mul_asm_ns", True)] if _native.asm_available() else [])
    for t in (1, 2):
        for figure, asm in kinds:
            was = _native.set_asm(asm)
            try:
                with threads(t):
                    a * b  # warm up
                    dt = median_time(lambda: a * b, repeat)
            finally:
                _native.set_asm(was)
            emit(figure=figure, threads=t, value=round(dt / n * 1e9, 2))


def bench_msm(log_sizes, repeat: int, with_ark: bool):
    ark = None
    if with_ark:
        try:
            import py_arkworks_bls12381 as ark
        except ImportError:
            print("# py-arkworks-bls12381 not installed: no side-by-side figures", file=sys.stderr)
    rng = np.random.default_rng(1)
    for lg in log_sizes:
        n = 1 << lg
        pts = generators("zkdl/bench/core", n)
        ark_pts = None
        if ark is not None:
            raw = pts.to_bytes()
            ark_pts = [ark.G1Point.from_compressed_bytes_unchecked(raw[48 * i : 48 * i + 48]) for i in range(n)]
        reps = repeat if n <= (1 << 16) else max(1, repeat // 2)
        for bits in BITS:
            sc = make_scalars(bits, n, rng)
            per = {}
            for t in (1, 2):
                with threads(t):
                    ref = msm(pts, sc)
                    dt = median_time(lambda: msm(pts, sc), reps)
                per[t] = dt
                emit(figure="msm_us_per_point", impl="zkdl", n=n, bits=bits, threads=t,
                     value=round(dt / n * 1e6, 4))
            emit(figure="msm_thread_speedup", n=n, bits=bits, value=round(per[1] / per[2], 3))
            if ark_pts is not None:
                ints = as_ints(sc)

                def run_ark():
                    scal = [ark.Scalar(v) for v in ints]
                    return ark.G1Point.multiexp_unchecked(ark_pts, scal)

                got = run_ark()
                if bytes(got.to_compressed_bytes()) != ref.to_bytes():
                    raise SystemExit(f"arkworks and zkdl disagree at n={n}, bits={bits}")
                dt = median_time(run_ark, reps)
                t_ark = os.cpu_count() or 1
                emit(figure="msm_us_per_point", impl="arkworks", n=n, bits=bits, threads=t_ark,
                     value=round(dt / n * 1e6, 4))
                emit(figure="msm_speedup_vs_arkworks", n=n, bits=bits, threads=2,
                     value=round(dt / per[2], 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[12, 16, 18, 20], help="log2 of MSM sizes")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-arkworks", action="store_true")
    args = ap.parse_args()
    print(f"# zkdl {zkdl.__version__}, {zkdl.max_threads()} cores", file=sys.stderr)
    bench_fr_mul(args.repeat)
    bench_msm(args.sizes, args.repeat, not args.no_arkworks)


if __name__ == "__main__":
    main()
