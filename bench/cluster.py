"""Distributed proving benchmark (issue "Distributed proving on Ray"): one JSON line per figure.

    python bench/cluster.py                    # digits, 8 windows of 8 steps, 1 and 2 workers
    python bench/cluster.py --windows 4 --T 4  # smaller

One run is recorded once (digits 64-64-64-10, batch 64, scikit-learn digits) and its spool copied;
the same run is then proven (daemon, --once) by 1 worker (this process, no Ray, 1 native thread)
and by 2 single-threaded Ray workers (a local Ray instance, traces through Ray's object store),
side by side in one process.  Figures ({"bench": "cluster", ...}):

  fr_mul_ns             this machine's field-multiplication speed (1 thread; targets assume ~20 ns)
  steps_per_s           proven steps per second, workers 1|2: steps / (wall time from the workers
                        being ready to the run's manifest being complete, the published model
                        included); Ray's start-up is excluded and reported as ray_startup_s
  speedup               steps_per_s(2) / steps_per_s(1) (target >= 1.7 on 2 cores)
  ray_overhead_fraction per window, (round trip seen by the daemon - the job's own time on its
                        worker) / the job's time, median over the windows: scheduling and moving
                        the traces, the proof and the carried opening (target <= 5 %)
  window_job_s          median seconds of one window job (prove + self-check) per worker count
  byte_identical        the two run directories agree byte for byte (manifest minus timings)
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine import fr_mul_ns  # noqa: E402


def emit(figure, value, **kw):
    print(json.dumps({"bench": "cluster", "figure": figure, "value": value, **kw}), flush=True)


def record(spool: str, steps: int, T: int) -> None:
    from zkdl.datasets import load_digits_fixed
    from zkdl.fixedpoint import FixedPointConfig
    from zkdl.record import Recorder
    from zkdl.trainer import init_mlp, init_weights_from_float

    cfg = FixedPointConfig(widths=(64, 64, 64, 10), eta_int=1, k=8, batch_size=64, seed=7)
    ds = load_digits_fixed(cfg.R)
    W = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    rec = Recorder(spool, cfg, W, ds.X_train, ds.Y_train, window=T)
    rec.run(steps)
    rec.close()


def prove(spool: str, out: str, workers: int) -> dict:
    from zkdl.daemon import Daemon

    d = Daemon(spool, out, once=True, stream=io.StringIO(), workers=workers, threads=1,
               traces="store" if workers > 1 else None)
    rc = d.run()
    t_end = time.perf_counter()
    if rc != 0:
        raise SystemExit(f"daemon exit {rc}")
    steps = sum(s["T"] for s in d.stats)
    return {"steps": steps, "wall": t_end - d.t_ready, "startup": d.startup_s, "stats": d.stats}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=8)
    ap.add_argument("--T", type=int, default=8)
    a = ap.parse_args(argv)
    emit("fr_mul_ns", fr_mul_ns(), threads=1, when="start", loadavg_1m=round(os.getloadavg()[0], 2))
    base = tempfile.mkdtemp(prefix="zkdl-bench-cluster-")
    try:
        src = os.path.join(base, "spool")
        t = time.perf_counter()
        record(src, a.windows * a.T, a.T)
        emit("record_s", round(time.perf_counter() - t, 2), config="digits", steps=a.windows * a.T)
        res = {}
        for w in (1, 2):
            spool = os.path.join(base, f"spool{w}")
            shutil.copytree(src, spool)
            r = prove(spool, os.path.join(base, f"run{w}"), w)
            res[w] = r
            emit("steps_per_s", round(r["steps"] / r["wall"], 3), workers=w, config="digits", T=a.T,
                 windows=a.windows, threads_per_worker=1, wall_s=round(r["wall"], 2))
            emit("window_job_s", round(statistics.median(s["job_s"] for s in r["stats"]), 3), workers=w,
                 config="digits", T=a.T)
            if w > 1:
                emit("ray_startup_s", round(r["startup"], 2), workers=w)
                fr = [(s["roundtrip_s"] - s["job_s"]) / s["job_s"] for s in r["stats"]]
                emit("ray_overhead_fraction", round(statistics.median(fr), 4), config="digits", workers=w,
                     max=round(max(fr), 4), overhead_s_median=round(statistics.median(
                         s["roundtrip_s"] - s["job_s"] for s in r["stats"]), 3), traces="store")
        emit("speedup", round((res[2]["steps"] / res[2]["wall"]) / (res[1]["steps"] / res[1]["wall"]), 3), workers=2,
             config="digits")
        from zkdl.runfiles import comparable_files

        same = comparable_files(os.path.join(base, "run1")) == comparable_files(os.path.join(base, "run2"))
        emit("byte_identical", same, workers=2, config="digits")
        emit("fr_mul_ns", fr_mul_ns(), threads=1, when="end", loadavg_1m=round(os.getloadavg()[0], 2))
        return 0 if same else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
