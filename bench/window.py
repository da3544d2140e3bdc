"""Window size trade-off benchmark (one JSON line per figure): what T, the number of steps per
window proof, costs in proving time, verification time, proof size and latency.

    python bench/window.py                   # T = 1, 4, 16, 64 on the demo model
    python bench/window.py --windows 1 4     # a subset

Model: the demo's (``zkdl demo``): scikit-learn digits, 64-32-10 MLP, batch 32, learning rate
2^-6 (eta_int 1, k 6), R = 16.  Semantics v2 (master weights): for each T, a chain is started
with a one-step window (step 0, from the model commitment; proven and verified, not counted),
then one continuing window of T steps (steps 1 .. T, from the master weights that first window
ended with, a MasterCommitment) is traced, proven, then verified ``--repeat`` times against the
first window's statement -- what every window of a run after its first costs.  The one-time
checks of the dataset's and the starting model's range proofs are done (and cached) before, not
counted, as a verifier following a run pays them once.  Generators are derived and cached
beforehand.

Figures: {"bench": "window", "figure": F, "window": T, "value": V} with F in
  prove_s_per_step       proving time of the window / T, with its split (phases_s_per_step: the
                         prover channel's commit / sumcheck / lookup / open phases, the rest other)
  verify_s_per_window    median verification time of the window proof
  verify_s_per_step      verify_s_per_window / T
  proof_bytes_per_step   proof bytes / T (proof_bytes_per_window is printed too)
  latency_s              from the first step of the window being recorded (its trace produced) to the
                         window's proof verified, with an idle prover: the T - 1 further training steps,
                         proving, verifying.  The daemon's poll interval (0.25 s) and spool I/O come on top.
  train_s_per_step       the fixed-point training step itself (part of the latency)
plus, in the same run so that results can be scaled to another machine, bench/core.py's
{"bench": "core", "figure": "fr_mul_ns", "threads": 1|2, ...}.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def emit(figure, T, value, **kw):
    print(json.dumps({"bench": "window", "figure": figure, "window": T, "value": value, **kw}), flush=True)


def _core():
    """bench/core.py as a module (its fr_mul_ns figure)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "core.py")
    spec = importlib.util.spec_from_file_location("zkdl_bench_core", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_window(T: int, repeat: int, cfg, X, Y, W0) -> None:
    from zkdl.circuits import prover as pv
    from zkdl.circuits import training as tr
    from zkdl.trainer import Trainer

    tr.training_key(tr.WindowLayout(cfg, T).key_size())      # generators: derived / cached, not timed
    tr.training_key(tr.WindowLayout(cfg, 1).key_size())
    data, dsec = pv.commit_dataset(cfg, X, Y)
    tr.verify_dataset(cfg, data)                              # once per run (cached), not timed
    model, msec = pv.commit_model(cfg, W0)
    tr.verify_model(cfg, model)                               # once per chain start (cached), not timed
    trainer = Trainer(cfg, W0, X, Y)
    # the chain's first window (step 0), not timed: the measured window continues it
    proof0, before, bsec = pv.prove_window(trainer.run(1), model, msec, data, dsec)
    start = tr.verify_window(proof0.to_bytes(), data, model)
    traces = [trainer.step()]
    t_recorded = time.perf_counter()                          # the window's first step is recorded
    traces += [trainer.step() for _ in range(T - 1)]
    t_train = time.perf_counter() - t_recorded
    t0 = time.perf_counter()
    proof, _, _ = pv.prove_window(traces, before, bsec, data, dsec)
    t_prove = time.perf_counter() - t0
    blob = proof.to_bytes()
    vt = []
    for i in range(repeat):
        t0 = time.perf_counter()
        tr.verify_window(blob, data, start)
        vt.append(time.perf_counter() - t0)
        if i == 0:
            latency = time.perf_counter() - t_recorded
    v = statistics.median(vt)
    ph = {p: round(proof.timings.get(p, 0.0) / T, 4) for p in ("commit", "sumcheck", "lookup", "open")}
    ph["other"] = round(t_prove / T - sum(ph.values()), 4)
    emit("prove_s_per_step", T, round(t_prove / T, 4), widths=list(cfg.widths), batch=cfg.batch_size, t0=1,
         phases_s_per_step=ph)
    emit("verify_s_per_window", T, round(v, 4), repeat=repeat)
    emit("verify_s_per_step", T, round(v / T, 4))
    emit("proof_bytes_per_window", T, len(blob))
    emit("proof_bytes_per_step", T, round(len(blob) / T, 1))
    emit("latency_s", T, round(latency, 3))
    emit("train_s_per_step", T, round(t_train / max(1, T - 1), 5) if T > 1 else None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", type=int, nargs="+", default=[1, 4, 16, 64], help="window sizes T")
    ap.add_argument("--repeat", type=int, default=3, help="verification repetitions (median)")
    a = ap.parse_args(argv)

    import zkdl
    from zkdl.datasets import load_digits_fixed
    from zkdl.fixedpoint import FixedPointConfig
    from zkdl.trainer import init_mlp, init_weights_from_float

    print(f"# zkdl {zkdl.__version__}, {zkdl.max_threads()} threads", file=sys.stderr)
    _core().bench_fr_mul(5)
    d = load_digits_fixed(16)
    cfg = FixedPointConfig(widths=(64, 32, 10), eta_int=1, k=6, batch_size=32, seed=0, R=16)
    W0 = init_weights_from_float(init_mlp(cfg.widths, seed=0), cfg.R)
    for T in a.windows:
        run_window(T, a.repeat, cfg, d.X_train, d.Y_train, W0)
    _core().bench_fr_mul(5)      # again at the end: the machine may be shared, its speed may drift
    return 0


if __name__ == "__main__":
    sys.exit(main())
