"""FAC4DNN training-proof benchmark, semantics v2 (one JSON line per figure).

    python bench/train.py                       # every configuration, each in its own process
    python bench/train.py --config digits       # one configuration, in this process
    python bench/train.py --config zkdl_headline --T 4 --timeout 1200 --max-rss-gb 12
                                                # one configuration in a child process, killed
                                                # past the time limit or the resident-memory limit

Configurations (issue "FAC4DNN v2"):
  digits         64-64-64-10, batch 64, T = 16, scikit-learn digits (real data); the measured
                 window is a continuing one (t0 = 1, it starts from the master weights a first,
                 one-step window ended with, and is verified against that window's statement)
  mnist256       784-256-256-10, batch 64, T = 4, synthetic MNIST-shaped data (pixels uniform in
                 [0, 1]; no download on these machines -- proof cost does not depend on the values)
  zkdl_headline  784 - 8 x 1024 - 10, batch 64, T = 16 (zkDL's headline shape), synthetic data; the
                 window starts the chain (t0 = 0, from the model commitment): in semantics v2 a
                 chain's first window proves exactly what any later one does (the starting model's
                 range proof is the model commitment's, checked once), so its cost per step is the
                 steady state's, the window's commitments (M after, multiplicities) amortized over T
  headline2      784-1024-1024-10, batch 64, T = 16: two of the headline's eight hidden layers, a
                 slice small enough to measure at T = 4 and T = 16 on a small machine (how the
                 headline's cost per step falls with T, the weight-sized work amortized)
  infer784       inference of 784-128-128-10 at batch 1 (public input and output, hidden weights)
  growth         proof bytes of small windows (widths 16, batch 8) as T grows (1 ... 256, 3 layers)
                 and as the number of layers grows (1 ... 16, T = 4): figure proof_bytes_per_window
                 with T and layers fields

--backend gpu runs the prover's hot operations on the CUDA kernels (zkdl.prover_gpu, through
zkdl.backend) instead of the C extension; figures then carry "backend": "gpu" lines before them.

Every run prints first this machine's {"bench": "train", "figure": "fr_mul_ns", ...} (1 thread,
2^20 elements, median of 5; "when": "start", with the 1-minute load average) and again at its end
("when": "end"): the targets assume about 20 ns; scale times by 20 / fr_mul_ns (on a shared
machine, by the mean of the two readings).

Figures: {"bench": "train", "config": C, "figure": F, "value": V, ...} with F in
  prove_s_per_step          proving time of the window / T (median of --prove-repeat proofs)
  verify_s_per_window       median of --repeat verifications of the window proof
  proof_bytes_per_window
  commit_s_per_step         Hyrax commitments (the channel's "commit" phase, plus the commitment
                            to the master weights after the window, commit_master, which the
                            prover makes outside the channel: commit_after_s, once per window)
  sumcheck_s_per_step       zk sumchecks (relations, history sumchecks, losses)
  lookup_s_per_step         logUp-GKR range checks
  open_s_per_step           Hyrax dot-product openings
  other_s_per_step          the rest: re-validation of the traces (validate_s_per_step), witness
                            stacking, limb splitting, field conversions, transcript
  commit_after_s, validate_s_per_step, trace_s_per_step (the fixed-point training step itself),
  witness_mb (every table committed per window, as 32-byte field elements),
  peak_rss_mb (ru_maxrss of the process: one process per configuration), rss_over_witness,
  dataset_verify_s and model_verify_s (the one-time checks of the dataset's and the starting
  model's range proofs, cached and excluded from verify_s_per_window; with t0 = 1 the measured
  window is verified against the first window's statement, which needs no model check),
  first_window_prove_s (t0 = 1 only: the one-step window the chain starts with);
for infer784: prove_s, verify_s, proof_bytes, commit_model_s (with the model's range proof),
model_verify_s, peak_rss_mb.  Wall clock, one process.
With --timeout / --max-rss-gb the parent prints {"figure": "error", ...} when it kills the child,
and {"figure": "child_peak_rss_mb", ...} (the child's ru_maxrss from wait4) when it ends.
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

CONFIGS = {  # in the order of a full run: the heavy headline last
    "digits": dict(widths=(64, 64, 64, 10), batch=64, T=16, skip=1, data="digits", eta_int=1, k=8),
    "growth": dict(growth=True),
    "infer784": dict(widths=(784, 128, 128, 10), batch=1, infer=True),
    "mnist256": dict(widths=(784, 256, 256, 10), batch=64, T=4, data="synthetic", eta_int=1, k=10),
    "headline2": dict(widths=(784, 1024, 1024, 10), batch=64, T=16, data="synthetic", eta_int=1, k=12),
    "zkdl_headline": dict(widths=(784,) + (1024,) * 8 + (10,), batch=64, T=16, data="synthetic", eta_int=1,
                          k=12),
}


def emit(config, figure, value, **kw):
    print(json.dumps({"bench": "train", "config": config, "figure": figure, "value": value, **kw}), flush=True)


def emit_machine_speed(when="start"):
    """This machine's field-multiplication speed (bench/core.py's fr_mul_ns, 1 thread, 2^20
    elements, median of 5), printed with every run so that figures from machines that differ up
    to 3x can be scaled (the targets assume about 20 ns)."""
    from machine import fr_mul_ns

    print(json.dumps({"bench": "train", "figure": "fr_mul_ns", "threads": 1,
                      "value": fr_mul_ns(), "when": when,
                      "loadavg_1m": round(os.getloadavg()[0], 2)}), flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _data(spec, R, T):
    if spec["data"] == "digits":
        from zkdl.datasets import load_digits_fixed

        ds = load_digits_fixed(R)
        return ds.X_train, ds.Y_train
    rng = np.random.default_rng(0)
    d0, dL = spec["widths"][0], spec["widths"][-1]
    n = max(spec["batch"] * (T + spec.get("skip", 0)), 256)
    X = rng.integers(0, 1 << R, size=(n, d0), dtype=np.int64)
    Y = np.zeros((n, dL), dtype=np.int64)
    Y[np.arange(n), rng.integers(0, dL, size=n)] = 1 << R
    return X, Y


def committed_elements(cfg, T: int) -> int:
    """Field elements committed by one window of T steps (padded tables), as the window protocol
    (zkdl.circuits.window._protocol) commits them: per layer the limbs of E, S, P, G_A, E' (hidden
    layers) or E, Yhat (last layer), stacked over the T steps; once, the master weights after
    the window and the lookup multiplicities."""
    from zkdl.circuits import training as tr
    from zkdl.circuits.tensors import RangeSpec

    lay = tr.WindowLayout(cfg, T)
    lb = tr.limb_bits(lay)
    shift, Q = cfg.master_shift, cfg.Q
    e = RangeSpec(shift, 1 << (shift - 1), lb).n_limbs
    v = RangeSpec(Q, 1 << (Q - 1), lb).n_limbs
    p = RangeSpec(Q - 1, 0, lb).n_limbs
    n = 1 << lb
    n += (e + v) * lay.yhat().size                           # the last layer's E and Yhat
    if cfg.num_layers > 1:
        n += (e + 1 + p + v + e) * lay.out(cfg.num_layers - 1).size  # E, S, P, G_A, E' (hidden layers stacked)
    for i in range(cfg.num_layers):
        n += lay.weight(i).size + lay.bias(i).size
    return n


class _Timers:
    """Times commit_master and StepTrace.validate inside prove_window (both outside the prover
    channel's phases) by wrapping them for the duration of a proof."""

    def __init__(self):
        self.commit_after = 0.0
        self.validate = 0.0

    def __enter__(self):
        from zkdl.circuits import prover as pv
        from zkdl.fixedpoint import StepTrace

        self._cm, self._val = pv.commit_master, StepTrace.validate
        timers = self

        def commit_master(*a, **kw):
            t0 = time.perf_counter()
            try:
                return timers._cm(*a, **kw)
            finally:
                timers.commit_after += time.perf_counter() - t0

        def validate(tr_self):
            t0 = time.perf_counter()
            try:
                return timers._val(tr_self)
            finally:
                timers.validate += time.perf_counter() - t0

        pv.commit_master = commit_master
        StepTrace.validate = validate
        return self

    def __exit__(self, *exc):
        from zkdl.circuits import prover as pv
        from zkdl.fixedpoint import StepTrace

        pv.commit_master = self._cm
        StepTrace.validate = self._val
        return False


def _prove_timed(traces, before, bsec, data, dsec):
    from zkdl.circuits import prover as pv

    with _Timers() as tm:
        t0 = time.perf_counter()
        proof, after, asec = pv.prove_window(traces, before, bsec, data, dsec)
        total = time.perf_counter() - t0
    ph = {p: proof.timings.get(p, 0.0) for p in ("commit", "sumcheck", "lookup", "open")}
    ph["commit"] += tm.commit_after
    ph["other"] = total - sum(ph.values())
    return dict(proof=proof, after=after, asec=asec, total=total, phases=ph, commit_after=tm.commit_after,
                validate=tm.validate)


def run_train(name, spec, repeat, prove_repeat, T=None):
    from zkdl.circuits import prover as pv
    from zkdl.circuits import training as tr
    from zkdl.fixedpoint import FixedPointConfig
    from zkdl.trainer import Trainer, init_mlp, init_weights_from_float

    cfg = FixedPointConfig(widths=spec["widths"], eta_int=spec["eta_int"], k=spec["k"], batch_size=spec["batch"])
    T = T or spec["T"]
    skip = spec.get("skip", 0)
    X, Y = _data(spec, cfg.R, T)
    W0 = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    trainer = Trainer(cfg, W0, X, Y)
    first = trainer.run(skip, keep_grads=False)
    t0 = time.perf_counter()
    traces = trainer.run(T, keep_grads=False)   # G_W: derived, never read by the prover
    t_trace = time.perf_counter() - t0
    del trainer
    model, msec = pv.commit_model(cfg, W0)
    data, dsec = pv.commit_dataset(cfg, X, Y)
    tr.training_key(tr.WindowLayout(cfg, T).key_size())  # generators: derived/cached once, not timed
    t0 = time.perf_counter()
    tr.verify_dataset(cfg, data)  # once per run (cached): not part of a window's verification
    t_data = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr.verify_model(cfg, model)   # once per chain start (cached), likewise
    t_model = time.perf_counter() - t0
    before, bsec, start = model, msec, model
    extra_first = {}
    if skip:  # a first window (the chain's start); the measured one continues it
        tr.training_key(tr.WindowLayout(cfg, skip).key_size())
        r0 = _prove_timed(first, model, msec, data, dsec)
        start = tr.verify_window(r0["proof"].to_bytes(), data, model)
        before, bsec = r0["after"], r0["asec"]
        extra_first = dict(first_window_prove_s=round(r0["total"], 4), first_window_T=skip)
        del r0, first
    runs = []
    for _ in range(prove_repeat):
        r = _prove_timed(traces, before, bsec, data, dsec)
        r["blob"] = r.pop("proof").to_bytes()
        r.pop("after"), r.pop("asec")
        runs.append(r)
    runs.sort(key=lambda r: r["total"])
    med = runs[(len(runs) - 1) // 2]  # the median run (the lower one for an even count)
    blob = med["blob"]
    vt = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        tr.verify_window(blob, data, start)
        vt.append(time.perf_counter() - t0)
    lb = tr.limb_bits(tr.WindowLayout(cfg, T))
    witness_mb = committed_elements(cfg, T) * 32 / 2 ** 20
    ph = med["phases"]
    extra = dict(T=T, t0=skip, batch=cfg.batch_size, widths=list(cfg.widths), data=spec["data"], limb_bits=lb,
                 prove_repeat=prove_repeat, all_s_per_step=[round(r["total"] / T, 4) for r in runs])
    emit(name, "prove_s_per_step", round(med["total"] / T, 4), **extra)
    emit(name, "verify_s_per_window", round(statistics.median(vt), 4), repeat=repeat,
         start="previous window's statement" if skip else "model commitment")
    emit(name, "proof_bytes_per_window", len(blob), T=T)
    emit(name, "dataset_verify_s", round(t_data, 4), examples=len(X))
    emit(name, "model_verify_s", round(t_model, 4))
    for p in ("commit", "sumcheck", "lookup", "open", "other"):
        emit(name, f"{p}_s_per_step", round(ph[p] / T, 4))
    emit(name, "commit_after_s", round(med["commit_after"], 4))
    emit(name, "validate_s_per_step", round(med["validate"] / T, 4))
    emit(name, "trace_s_per_step", round(t_trace / T, 4))
    if extra_first:
        emit(name, "first_window_prove_s", extra_first["first_window_prove_s"], T=skip, t0=0)
    emit(name, "witness_mb", round(witness_mb, 1))
    rss = peak_rss_mb()
    emit(name, "peak_rss_mb", round(rss, 1))
    emit(name, "rss_over_witness", round(rss / witness_mb, 2))


def run_infer(name, spec, repeat, prove_repeat, T=None):
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
    for _ in range(max(repeat, prove_repeat)):
        t0 = time.perf_counter()
        proof = pv.prove_inference(cfg, W, model, msec, X)
        pt.append(time.perf_counter() - t0)
        blob = proof.to_bytes()
        t0 = time.perf_counter()
        tr.verify_inference(blob, model)
        vt.append(time.perf_counter() - t0)
    n = len(pt)
    emit(name, "prove_s", round(statistics.median(pt), 4), repeat=n, widths=list(cfg.widths), batch=spec["batch"])
    emit(name, "verify_s", round(statistics.median(vt), 4), repeat=n)
    emit(name, "proof_bytes", len(blob))
    emit(name, "commit_model_s", round(t_commit, 4))
    emit(name, "model_verify_s", round(t_model, 4))
    emit(name, "peak_rss_mb", round(peak_rss_mb(), 1))


def run_growth(name, spec, repeat, prove_repeat, T=None):
    from zkdl.circuits import prover as pv
    from zkdl.circuits import training as tr
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
        t0 = time.perf_counter()
        proof, _, _ = pv.prove_window(traces, model, msec, data, dsec)
        t_prove = time.perf_counter() - t0
        return len(proof.to_bytes()), t_prove, tr.limb_bits(tr.WindowLayout(cfg, T))

    for T in (1, 4, 16, 64, 256):
        w = (16, 16, 16, 4)
        b, t, lb = size(w, T)
        emit(name, "proof_bytes_per_window", b, T=T, layers=len(w) - 1, widths=list(w), limb_bits=lb,
             prove_s=round(t, 3))
    for L in (1, 2, 4, 8, 16):
        w = (16,) * L + (4,)
        b, t, lb = size(w, 4)
        emit(name, "proof_bytes_per_window", b, T=4, layers=L, widths=list(w), limb_bits=lb, prove_s=round(t, 3))


def _run_child(name, argv, timeout, max_rss_gb):
    """Run one configuration in a child process; kill it past ``timeout`` seconds or when its
    resident memory exceeds ``max_rss_gb`` (polled every 0.5 s).  Returns its exit status."""
    cmd = [sys.executable, os.path.abspath(__file__), "--config", name, "--in-process"] + argv
    t_start = time.monotonic()
    proc = subprocess.Popen(cmd)
    why = None
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if timeout and time.monotonic() - t_start > timeout:
            why = f"timeout after {timeout} s"
        elif max_rss_gb:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    rss_kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            except (OSError, StopIteration):
                rss_kb = 0
            if rss_kb > max_rss_gb * 2 ** 20:
                why = f"resident memory above {max_rss_gb} GB"
        if why:
            proc.kill()
            pid, status, ru = os.wait4(proc.pid, 0)
            emit(name, "error", why, wall_s=round(time.monotonic() - t_start, 1))
            break
        time.sleep(0.5)
    proc.returncode = os.waitstatus_to_exitcode(status)
    emit(name, "child_peak_rss_mb", round(ru.ru_maxrss / 1024.0, 1), wall_s=round(time.monotonic() - t_start, 1),
         exit=proc.returncode)
    return 1 if why else (proc.returncode != 0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=sorted(CONFIGS), help="run one configuration (default: all, each in "
                    "its own process)")
    ap.add_argument("--repeat", type=int, default=None, help="verification (and inference proving) repetitions; "
                    "default 3 for digits and infer784, 1 otherwise")
    ap.add_argument("--prove-repeat", type=int, default=None, help="window proofs per configuration (median); "
                    "default 3 for digits, 1 otherwise")
    ap.add_argument("--T", type=int, default=None, help="override the configuration's window size T")
    ap.add_argument("--timeout", type=float, default=None, help="run in a child process, killed after this "
                    "many seconds")
    ap.add_argument("--max-rss-gb", type=float, default=None, help="run in a child process, killed when its "
                    "resident memory exceeds this")
    ap.add_argument("--backend", choices=("cpu", "gpu"), default="cpu", help="where the prover's hot operations "
                    "run (zkdl.backend): the C extension (default) or the CUDA kernels (zkdl.prover_gpu; needs "
                    "CuPy and a GPU; ZKDL_GPU_DEVICE=emu runs them on the host emulator)")
    ap.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    child_argv = ["--backend", a.backend]
    for flag, v in (("--repeat", a.repeat), ("--prove-repeat", a.prove_repeat), ("--T", a.T)):
        if v is not None:
            child_argv += [flag, str(v)]
    if a.config is None:
        rc = 0
        for name in CONFIGS:
            rc |= _run_child(name, child_argv, a.timeout, a.max_rss_gb)
        return rc
    if not a.in_process and (a.timeout or a.max_rss_gb):
        return _run_child(a.config, child_argv, a.timeout, a.max_rss_gb)
    spec = CONFIGS[a.config]
    repeat = a.repeat or (3 if a.config in ("digits", "infer784") else 1)
    prove_repeat = a.prove_repeat or (3 if a.config == "digits" else 1)
    emit_machine_speed()
    run = run_growth if spec.get("growth") else run_infer if spec.get("infer") else run_train
    from zkdl import backend
    from zkdl.errors import ZkdlError

    be = "cpu"
    if a.backend == "gpu":
        from zkdl.prover_gpu.backend import from_env

        try:
            be = from_env()         # the daemon's choice: the CUDA device, or ZKDL_GPU_DEVICE=emu
        except ZkdlError as e:
            emit(a.config, "unavailable", str(e), backend="gpu")    # as bench/gpu.py: exit code 3
            return 3
        emit(a.config, "backend", "gpu", device=repr(be.dev))
    with backend.use(be):
        run(a.config, spec, repeat, prove_repeat, a.T)
    if a.backend == "gpu":
        emit(a.config, "gpu_fallbacks", dict(be.fallbacks))  # operations the kernels do not take
    emit_machine_speed("end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
