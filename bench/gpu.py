"""GPU prover kernels benchmark: one JSON line per figure, each GPU figure beside the CPU's,
measured in the same run, and each GPU result checked once against the CPU's.

    python bench/gpu.py                         # the CuPy device (needs CuPy and a CUDA GPU)
    python bench/gpu.py --device emu            # dry run of this script through the host emulator
                                                # (tiny sizes; its "GPU" figures mean nothing)

Figures ({"bench": "gpu", "figure": ..., "value": ..., ...}):
  device                the device's name and compute capability, the compile backend
  unavailable           why the GPU cannot be used (then exit code 3)
  fr_mul_ns             this machine's CPU field-multiplication speed (1 thread, as bench/cluster.py)
  compile_s             seconds to compile (or load from the cache) every kernel file
  msm_ms                MSM of 2^20 points with 32-bit scalars, median of 5 after a warm-up (target
                        <= 10 ms); data already on the device, result back on the host
  fr_mul_G_per_s        elementwise Fr products per second on 2^24 elements (kernel only; target >= 20)
  sumcheck_round_M_per_s  one sumcheck round (eq x factors, the round polynomial at 0..D): table
                        pairs (m) per second, both passes
  logup_layer_M_per_s   one level of the logUp fraction tree: outputs per second
  mismatch              a GPU result differs from the CPU's (exit code 1 at the end)
  error                 the device could not be set up (exit code 4)
CPU figures use all of zkdl's native threads (cpu_threads); speedup = GPU rate / CPU rate.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from machine import fr_mul_ns  # noqa: E402

EXIT_MISMATCH, EXIT_UNAVAILABLE, EXIT_ERROR = 1, 3, 4


def emit(figure, value, **kw):
    print(json.dumps({"bench": "gpu", "figure": figure, "value": value, **kw}), flush=True)


def rand_fr(seed: int, n: int):
    """Reduced Montgomery limbs, uniform below r's top limb (no Python ints: fast for 2^24)."""
    from zkdl.field import R_MODULUS, FrVec

    g = np.random.default_rng(seed)
    limbs = g.integers(0, 2**64, (n, 4), dtype=np.uint64)
    limbs[:, 3] %= np.uint64(R_MODULUS >> 192)
    return FrVec(limbs)


def median_s(fn, repeat: int, sync=lambda: None, warmup: bool = True) -> float:
    if warmup:
        fn()
        sync()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


class Bench:
    def __init__(self, dev, args):
        from zkdl.prover_gpu import cupy_device as cd

        self.dev, self.a, self.cd = dev, args, cd
        self.sync = lambda: cd.synchronize(dev)
        self.mismatches = 0
        from zkdl.threads import get_num_threads

        self.cpu_threads = get_num_threads()

    def check(self, op: str, ok: bool, **kw) -> None:
        if not ok:
            self.mismatches += 1
            emit("mismatch", op, **kw)

    def msm(self) -> None:
        from zkdl.curve import G1, _normalize, fixed_base_mul, msm as cpu_msm
        from zkdl.field import FrVec
        from zkdl.prover_gpu import pipeline as pl

        a, dev = self.a, self.dev
        n = 1 << a.log2_msm
        t = time.perf_counter()
        pts = fixed_base_mul(G1.generator(), FrVec.from_int64(np.random.default_rng(1).integers(1, 2**62, n)))
        k = FrVec.from_int64(np.random.default_rng(2).integers(0, 2**32, n))
        setup_s = time.perf_counter() - t
        dp, dk = dev.from_host(pts.limbs), dev.from_host(k.limbs)
        got = G1(_normalize(pl.msm(dev, dp, dk)))  # also the warm-up
        want = cpu_msm(pts, k)
        self.check("msm", got == want, n=n, scalar_bits=32)
        gpu = median_s(lambda: pl.msm(dev, dp, dk), a.repeat, self.sync, warmup=False)
        cpu = median_s(lambda: cpu_msm(pts, k), a.cpu_repeat, warmup=False)
        emit("msm_ms", round(gpu * 1e3, 3), n=n, log2_n=a.log2_msm, scalar_bits=32,
             window=pl.msm_window(n, 32), repeat=a.repeat, cpu_ms=round(cpu * 1e3, 2),
             cpu_threads=self.cpu_threads, speedup=round(cpu / gpu, 2), target_ms=10,
             meets_target=gpu * 1e3 <= 10, points_setup_s=round(setup_s, 2), **self.tag)

    def fr_mul(self) -> None:
        from zkdl.field import FrVec

        a, dev, cd = self.a, self.dev, self.cd
        n = 1 << a.log2_mul
        x, y = rand_fr(3, n), rand_fr(4, n)
        dx, dy, out = dev.from_host(x.limbs), dev.from_host(y.limbs), dev.zeros((n, 4), np.uint64)
        cd.fr_mul_device(dev, out, dx, dy)
        want = x * y
        self.check("fr_mul", FrVec(dev.to_host(out)) == want, n=n)
        gpu = median_s(lambda: cd.fr_mul_device(dev, out, dx, dy), a.repeat, self.sync)
        cpu = median_s(lambda: x * y, a.cpu_repeat, warmup=False)
        emit("fr_mul_G_per_s", round(n / gpu / 1e9, 3), n=n, log2_n=a.log2_mul, gpu_ms=round(gpu * 1e3, 3),
             cpu_G_per_s=round(n / cpu / 1e9, 4), cpu_ms=round(cpu * 1e3, 2), cpu_threads=self.cpu_threads,
             speedup=round(cpu / gpu, 2), target_G_per_s=20, meets_target=n / gpu / 1e9 >= 20, **self.tag)

    def sumcheck(self) -> None:
        from zkdl.field import FrVec, product_evals

        a, dev, cd = self.a, self.dev, self.cd
        m, nf, D = 1 << a.log2_sc, a.sc_factors, a.sc_degree
        fs = [rand_fr(10 + j, 2 * m) for j in range(nf)]
        eq = rand_fr(9, m)
        deq, dfs = dev.from_host(eq.limbs), [dev.from_host(f.limbs) for f in fs]
        got = FrVec(dev.to_host(cd.sumcheck_round_device(dev, deq, dfs, D))).to_ints()
        want = product_evals(eq, fs, D)
        self.check("sumcheck_round", got == want, m=m, factors=nf, degree=D)
        gpu = median_s(lambda: cd.sumcheck_round_device(dev, deq, dfs, D), a.repeat, self.sync)
        cpu = median_s(lambda: product_evals(eq, fs, D), a.cpu_repeat, warmup=False)
        emit("sumcheck_round_M_per_s", round(m / gpu / 1e6, 2), m=m, log2_m=a.log2_sc, factors=nf, eq=True,
             degree=D, gpu_ms=round(gpu * 1e3, 3), cpu_M_per_s=round(m / cpu / 1e6, 3),
             cpu_ms=round(cpu * 1e3, 2), cpu_threads=self.cpu_threads, speedup=round(cpu / gpu, 2), **self.tag)

    def logup(self) -> None:
        from zkdl.field import FrVec

        a, dev, cd = self.a, self.dev, self.cd
        n = 1 << a.log2_logup
        p, q = rand_fr(20, n), rand_fr(21, n)
        dp, dq = dev.from_host(p.limbs), dev.from_host(q.limbs)

        def cpu_layer():
            pL, pR, qL, qR = (FrVec(v.limbs[s::2]) for v in (p, q) for s in (0, 1))
            return pL * qR + pR * qL, qL * qR

        po, qo = cd.logup_layer_device(dev, dp, dq)
        want = cpu_layer()
        self.check("logup_layer", (FrVec(dev.to_host(po)), FrVec(dev.to_host(qo))) == want, n_in=n)
        gpu = median_s(lambda: cd.logup_layer_device(dev, dp, dq), a.repeat, self.sync)
        cpu = median_s(cpu_layer, a.cpu_repeat, warmup=False)
        half = n // 2
        emit("logup_layer_M_per_s", round(half / gpu / 1e6, 2), n_in=n, n_out=half, log2_n_in=a.log2_logup,
             numerators=True, gpu_ms=round(gpu * 1e3, 3), cpu_M_per_s=round(half / cpu / 1e6, 3),
             cpu_ms=round(cpu * 1e3, 2), cpu_threads=self.cpu_threads, speedup=round(cpu / gpu, 2), **self.tag)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("cupy", "emu"), default="cupy",
                    help="cupy: the GPU; emu: the host emulator (a dry run of this script, tiny sizes)")
    ap.add_argument("--backend", default=None, help="compile backend: auto | nvcc | nvrtc ($ZKDL_GPU_COMPILER)")
    ap.add_argument("--log2-msm", type=int, default=None, help="MSM points (default 20; emu 7)")
    ap.add_argument("--log2-mul", type=int, default=None, help="fr_mul elements (default 24; emu 12)")
    ap.add_argument("--log2-sc", type=int, default=None, help="sumcheck round: half table length m (default 22; emu 9)")
    ap.add_argument("--sc-factors", type=int, default=2, help="factors besides eq (default 2: eq pL qR, logUp's)")
    ap.add_argument("--sc-degree", type=int, default=3)
    ap.add_argument("--log2-logup", type=int, default=None, help="logUp layer inputs (default 24; emu 12)")
    ap.add_argument("--repeat", type=int, default=5, help="timed GPU runs after the warm-up (median)")
    ap.add_argument("--cpu-repeat", type=int, default=3, help="timed CPU runs (median)")
    ap.add_argument("--only", default="", help="comma list of msm,fr_mul,sumcheck,logup (default all)")
    a = ap.parse_args(argv)
    emu = a.device == "emu"
    for name, full, small in (("log2_msm", 20, 7), ("log2_mul", 24, 12), ("log2_sc", 22, 9), ("log2_logup", 24, 12)):
        if getattr(a, name) is None:
            setattr(a, name, small if emu else full)

    import zkdl.prover_gpu as pg
    from zkdl.prover_gpu import cupy_device as cd

    if emu:
        from zkdl.prover_gpu import emu as emu_mod

        dev = emu_mod.load()
        emit("device", "host emulator (prover_gpu.emu)", emulated=True, note="a dry run: the GPU figures mean nothing")
    else:
        st = pg.available()
        if not st:
            emit("unavailable", st.reason)
            return EXIT_UNAVAILABLE
        try:
            dev = cd.CupyDevice(backend=a.backend)
            emit("device", dev.name, arch=dev.arch, backend=dev.backend, cupy=dev.cp.__version__)
        except pg.GpuUnavailableError as e:
            emit("unavailable", str(e))
            return EXIT_UNAVAILABLE
        except Exception as e:
            emit("error", f"{type(e).__name__}: {e}", stage="device")
            return EXIT_ERROR
    emit("fr_mul_ns", fr_mul_ns(), threads=1, loadavg_1m=round(os.getloadavg()[0], 2))
    if not emu:
        try:
            t = time.perf_counter()
            per_file = dev.compile()
            emit("compile_s", round(time.perf_counter() - t, 2), backend=dev.backend, files=per_file)
        except Exception as e:
            emit("error", f"{type(e).__name__}: {e}", stage="compile")
            return EXIT_ERROR
    b = Bench(dev, a)
    b.tag = {"emulated": True} if emu else {}
    only = {s.strip() for s in a.only.split(",") if s.strip()}
    for name in ("msm", "fr_mul", "sumcheck", "logup"):
        if only and name not in only:
            continue
        try:
            getattr(b, name)()
        except Exception as e:  # one failing figure does not hide the others
            emit("error", f"{type(e).__name__}: {e}", stage=name)
            b.mismatches += 1
    return EXIT_MISMATCH if b.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
