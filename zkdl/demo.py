"""``zkdl demo``: train the digits MLP with proofs produced alongside, verify, report accuracy.

OUT/spool (private: data, blinds, traces), OUT/run (public: proofs, manifest, commitments),
OUT/daemon.log.  The prover daemon runs as a subprocess while training goes on; training never
waits for it.
"""
from __future__ import annotations

import os
import time


def run_demo(*, steps: int = 128, window: int = 64, out: str = "zkdl-demo", batch_size: int = 32,
             hidden: tuple = (32,), eta_int: int = 1, k: int = 6, seed: int = 0) -> int:
    import numpy as np

    from zkdl.datasets import load_digits_fixed
    from zkdl.fixedpoint import FixedPointConfig, forward
    from zkdl.trainer import init_mlp, init_weights_from_float

    from . import runfiles as rf
    from .errors import ZkdlError
    from .record import Recorder
    from .verifier import format_summary, verify_run

    if steps < 1 or window < 1 or batch_size < 1 or not hidden:
        raise ZkdlError("demo: --steps, --window and --batch-size must be >= 1, --hidden non-empty")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise ZkdlError(f"demo: {out} exists and is not empty; pass --out NEW_DIR")
    os.makedirs(out, exist_ok=True)
    spool, run_dir, log = (os.path.join(out, n) for n in ("spool", "run", "daemon.log"))

    R = 16
    d = load_digits_fixed(R)
    cfg = FixedPointConfig(widths=(64, *hidden, 10), eta_int=eta_int, k=k, batch_size=batch_size, seed=seed, R=R)
    W0 = init_weights_from_float(init_mlp(cfg.widths, seed=0), R)
    arch = "-".join(map(str, cfg.widths))
    print(f"zkdl demo: digits ({d.X_train.shape[0]} training examples), {arch} MLP, batch {batch_size}, "
          f"learning rate {cfg.eta:g}, {steps} steps, proofs in windows of {window} steps")
    t_all = time.perf_counter()
    t_commit = time.perf_counter()
    rec = Recorder(spool, cfg, W0, d.X_train, d.Y_train, window=window, start_daemon=True, out=run_dir,
                   daemon_log=log)
    t_commit = time.perf_counter() - t_commit
    print(f"  committed to the dataset and the initial weights ({t_commit:.1f} s); prover daemon started "
          f"(pid {rec.daemon.pid}, log {log})")
    t_train = time.perf_counter()
    with rec:
        for _ in range(steps):
            tr = rec.step()
            if tr.step % max(1, steps // 8) == 0 or tr.step == steps - 1:
                print(f"  train step {tr.step:>4}: loss {tr.loss:.4f}")
    t_train = time.perf_counter() - t_train
    model_path = os.path.join(out, "model-final.npz")
    _, fixed_path = rec.export_weights(model_path)  # the trained model (private; its commitment is in the run)
    acc = float(np.mean(np.argmax(forward(cfg, rec.weights, d.X_test), axis=1) == d.labels_test))
    print(f"  training done: {steps} steps in {t_train:.2f} s ({steps / max(t_train, 1e-9):.0f} steps/s); "
          f"waiting for the prover")
    last = -1
    while rec.daemon.poll() is None:
        try:
            m = rf.read_json(os.path.join(run_dir, rf.MANIFEST), "manifest")
            n = sum(w["T"] for w in m["windows"])
        except (rf.RunFormatError, KeyError, TypeError):
            n = 0
        if n != last:
            print(f"  proven: {n}/{steps} steps")
            last = n
        time.sleep(0.5)
    rc = rec.wait_daemon()
    if rc != 0:
        raise ZkdlError(f"demo: the prover daemon exited with status {rc} (see {log})")
    m = rf.read_json(os.path.join(run_dir, rf.MANIFEST), "manifest")
    prove_s = sum(w["prove_seconds"] for w in m["windows"])
    dverify_s = sum(w["verify_seconds"] for w in m["windows"])
    print(f"  prover done: {steps} steps in {len(m['windows'])} windows; proving {prove_s:.1f} s "
          f"({steps / max(prove_s, 1e-9):.2f} steps/s), self-check {dverify_s:.1f} s "
          f"(daemon throughput {steps / max(prove_s + dverify_s, 1e-9):.2f} steps/s)")
    train_sps = steps / max(t_train, 1e-9)
    daemon_sps = steps / max(prove_s + dverify_s, 1e-9)
    if daemon_sps < train_sps:
        print(f"  lag: the daemon proves {daemon_sps:.2f} steps/s, the fixed-point trainer runs {train_sps:.0f} "
              f"steps/s ({train_sps / daemon_sps:.0f}x faster): proofs trail training, which never waits for them")
    print()
    t_ver = time.perf_counter()
    s = verify_run(run_dir)
    t_ver = time.perf_counter() - t_ver
    print(format_summary(s))
    print()
    print(f"test accuracy of the trained model: {acc:.4f} ({d.X_test.shape[0]} held-out digits; not part of the proof)")
    print(f"trained model (private): {model_path} (PyTorch-style float state dict, nn.Sequential keys), "
          f"{fixed_path} (the exact fixed-point integers)")
    print(f"demo wall time {time.perf_counter() - t_all:.1f} s (verification {t_ver:.1f} s); "
          f"verify again with:  zkdl verify {run_dir}")
    return 0
