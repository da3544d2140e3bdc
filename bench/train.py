"""FAC4DNN training-proof benchmark (one JSON line per figure).

    python bench/train.py                       # every configuration, each in its own process
    python bench/train.py --config digits       # one configuration

Configurations (issue "FAC4DNN"):
  digits         64-64-64-10, batch 64, T = 16, scikit-learn digits (real data)
  mnist256       784-256-256-10, batch 64, T = 4, synthetic MNIST-shaped data (pixels uniform in
                 [0, 1]; no download on these machines -- proof cost does not depend on the values)
  zkdl_headline  784 - 8 x 1024 - 10, batch 64, one step (zkDL's headline shape), synthetic data; the
                 window is step 1 (steady state): window 0 also range-checks the initial weights
  infer784       inference of 784-128-128-10 at batch 1 (public input and output, hidden weights)
  growth         proof bytes of small windows (widths 16, batch 8) as T and the number of layers
                 grow (figure proof_bytes_per_window with T and layers fields)

Figures: {"bench": "train", "config": C, "figure": F, "value": V, ...} with F in
prove_s_per_step, verify_s_per_window, proof_bytes_per_window, peak_rss_mb, commit_s_per_step,
sumcheck_s_per_step (plus lookup_s_per_step, open_s_per_step, other_s_per_step, witness_mb,
rss_over_witness, trace_s_per_step, dataset_verify_s and model_verify_s: the one-time checks of the
dataset's and the starting model's range proofs, cached and excluded from verify_s_per_window); for
infer784: prove_s, verify_s, proof_bytes, commit_model_s (with the model's range proof),
model_verify_s, peak_rss_mb.  Timings of one process, wall clock; verify is the median of --repeat runs.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CONFIGS = {
    "digits": dict(widths=(64, 64, 64, 10), batch=64, T=16, data="digits", eta_int=1, k=8),
    "mnist256": dict(widths=(784, 256, 256, 10), batch=64, T=4, data="synthetic", eta_int=1, k=10),
    "zkdl_headline": dict(widths=(784,) + (1024,) * 8 + (10,), batch=64, T=1, skip=1, data="synthetic", eta_int=1,
                          k=12),
    "infer784": dict(widths=(784, 128, 128, 10), batch=1, infer=True),
    "growth": dict(growth=True),
}


def emit(config, figure, value, **kw):
    print(json.dumps({"bench": "train", "config": config, "figure": figure, "value": value, **kw}), flush=True)


def emit_machine_speed():
    """This machine's field-multiplication speed (bench/core.py's fr_mul_ns, 1 thread, 2^20
    elements, median of 5), printed with every run so that figures from machines that differ up
    to 2x can be scaled (the targets assume about 20 ns)."""
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
    print(json.dumps({"bench": "train", "figure": "fr_mul_ns", "threads": 1,
                      "value": round(statistics.median(ts) / n * 1e9, 2)}), flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _data(spec, R):
    if spec["data"] == "digits":
        from zkdl.datasets import load_digits_fixed

        ds = load_digits_fixed(R)
        return ds.X_train, ds.Y_train
    rng = np.random.default_rng(0)
    d0, dL = spec["widths"][0], spec["widths"][-1]
    n = max(spec["batch"] * spec["T"], 256)
    X = rng.integers(0, 1 << R, size=(n, d0), dtype=np.int64)
    Y = np.zeros((n, dL), dtype=np.int64)
    Y[np.arange(n), rng.integers(0, dL, size=n)] = 1 << R
    return X, Y


def run_train(name, spec, repeat):
    from zkdl.circuits import prover as pv
    from zkdl.circuits import training as tr
    from zkdl.fixedpoint import FixedPointConfig
    from zkdl.trainer import Trainer, init_mlp, init_weights_from_float

    cfg = FixedPointConfig(widths=spec["widths"], eta_int=spec["eta_int"], k=spec["k"], batch_size=spec["batch"])
    X, Y = _data(spec, cfg.R)
    W0 = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    T = spec["T"]
    skip = spec.get("skip", 0)
    t0 = time.perf_counter()
    trainer = Trainer(cfg, W0, X, Y)
    traces = trainer.run(skip + T)[skip:]
    t_trace = (time.perf_counter() - t0) * T / (skip + T)
    if skip:  # a steady-state window: its starting weights are the trained ones
        W0 = traces[0].W_before
    model, msec = pv.commit_model(cfg, W0)
    data, dsec = pv.commit_dataset(cfg, X, Y)
    tr.training_key(tr.WindowLayout(cfg, T).key_size())  # generators: derived/cached once, not timed
    t0 = time.perf_counter()
    proof, _, _ = pv.prove_window(traces, model, msec, data, dsec)
    t_prove = time.perf_counter() - t0
    blob = proof.to_bytes()
    t0 = time.perf_counter()
    tr.verify_dataset(cfg, data)  # once per run (cached): not part of a window's verification
    t_data = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr.verify_model(cfg, model)   # once per chain start (cached), likewise
    t_model = time.perf_counter() - t0
    vt = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        tr.verify_window(blob, data, model)
        vt.append(time.perf_counter() - t0)
    tm = proof.timings
    phases = {p: tm.get(p, 0.0) for p in ("commit", "sumcheck", "lookup", "open")}
    lay = tr.WindowLayout(cfg, T)
    lb = tr.limb_bits(lay)
    # committed witness: every committed limb / sign table (padded sizes), as field elements
    n_committed = 0
    for i in range(cfg.num_layers):
        per_act = (1 + 2 + 2 + 1 + 1 + 1) if i < cfg.num_layers - 1 else (1 + 2)
        n_committed += per_act * lay.act(i).size + 4 * (lay.weight_stack(i).size + lay.bias_stack(i).size)
    witness_mb = n_committed * 32 / 2 ** 20
    extra = dict(T=T, t0=skip, batch=cfg.batch_size, widths=list(cfg.widths), data=spec["data"], limb_bits=lb)
    emit(name, "prove_s_per_step", round(t_prove / T, 4), **extra)
    emit(name, "verify_s_per_window", round(statistics.median(vt), 4), repeat=repeat)
    emit(name, "proof_bytes_per_window", len(blob))
    emit(name, "dataset_verify_s", round(t_data, 4), examples=len(X))
    emit(name, "model_verify_s", round(t_model, 4))
    emit(name, "commit_s_per_step", round(phases["commit"] / T, 4))
    emit(name, "sumcheck_s_per_step", round(phases["sumcheck"] / T, 4))
    emit(name, "lookup_s_per_step", round(phases["lookup"] / T, 4))
    emit(name, "open_s_per_step", round(phases["open"] / T, 4))
    emit(name, "other_s_per_step", round((t_prove - sum(phases.values())) / T, 4))
    emit(name, "trace_s_per_step", round(t_trace / T, 4))
    emit(name, "witness_mb", round(witness_mb, 1))
    rss = peak_rss_mb()
    emit(name, "peak_rss_mb", round(rss, 1))
    emit(name, "rss_over_witness", round(rss / witness_mb, 2))


def run_infer(name, spec, repeat):
    from zkdl.circuits import prover as pv
    from zkdl.circuits import training as tr
    from zkdl.trainer import init_mlp, init_weights_from_float

    cfg = tr.inference_config(spec["widths"], spec["batch"])
    W = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 1 << cfg.R, size=(spec["batch"], cfg.widths[0]), dtype=np.int64)
    tr.training_key(tr.WindowLayout(cfg, 1).key_size())
    t0 = time.perf_counter()
    model, msec = pv.commit_model(cfg, W)
    t_commit = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr.verify_model(cfg, model)   # once per model (cached): not part of an inference's verification
    t_model = time.perf_counter() - t0
    pt, vt = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        proof = pv.prove_inference(cfg, W, model, msec, X)
        pt.append(time.perf_counter() - t0)
        blob = proof.to_bytes()
        t0 = time.perf_counter()
        tr.verify_inference(blob, model)
        vt.append(time.perf_counter() - t0)
    emit(name, "prove_s", round(statistics.median(pt), 4), repeat=repeat, widths=list(cfg.widths), batch=spec["batch"])
    emit(name, "verify_s", round(statistics.median(vt), 4), repeat=repeat)
    emit(name, "proof_bytes", len(blob))
    emit(name, "commit_model_s", round(t_commit, 4))
    emit(name, "model_verify_s", round(t_model, 4))
    emit(name, "peak_rss_mb", round(peak_rss_mb(), 1))


def run_growth(name, spec, repeat):
    from zkdl.circuits import prover as pv
    from zkdl.fixedpoint import FixedPointConfig
    from zkdl.trainer import Trainer, init_mlp, init_weights_from_float

    def size(widths, T, B=8):
        cfg = FixedPointConfig(widths=widths, eta_int=1, k=6, batch_size=B, seed=0)
        rng = np.random.default_rng(0)
        n = max(64, B * T)
        X = rng.integers(0, 1 << cfg.R, size=(n, widths[0]))
        Y = rng.integers(0, 1 << cfg.R, size=(n, widths[-1]))
        W0 = init_weights_from_float(init_mlp(widths, 0), cfg.R)
        traces = Trainer(cfg, W0, X, Y).run(T)
        model, msec = pv.commit_model(cfg, W0)
        data, dsec = pv.commit_dataset(cfg, X, Y)
        proof, _, _ = pv.prove_window(traces, model, msec, data, dsec)
        return len(proof.to_bytes())

    for T in (1, 2, 4, 8, 16):
        w = (16, 16, 16, 4)
        emit(name, "proof_bytes_per_window", size(w, T), T=T, layers=len(w) - 1, widths=list(w))
    for L in (1, 2, 3, 4, 6):
        w = (16,) * L + (4,)
        emit(name, "proof_bytes_per_window", size(w, 4), T=4, layers=L, widths=list(w))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=sorted(CONFIGS), help="run one configuration (default: all, each in "
                    "its own process)")
    ap.add_argument("--repeat", type=int, default=None, help="verification (and inference proving) repetitions; "
                    "default 3 for digits and infer784, 1 otherwise")
    a = ap.parse_args(argv)
    if a.config is None:
        rc = 0
        for name in CONFIGS:
            cmd = [sys.executable, os.path.abspath(__file__), "--config", name]
            if a.repeat is not None:
                cmd += ["--repeat", str(a.repeat)]
            rc |= subprocess.call(cmd)
        return rc
    spec = CONFIGS[a.config]
    repeat = a.repeat or (3 if a.config in ("digits", "infer784") else 1)
    emit_machine_speed()
    run = run_growth if spec.get("growth") else run_infer if spec.get("infer") else run_train
    run(a.config, spec, repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
