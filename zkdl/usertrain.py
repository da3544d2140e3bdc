"""``zkdl train``: proven training on your own data (.npz, .csv or a scikit-learn bundled dataset).

    zkdl train sklearn:iris --hidden 16 --steps 48 --window 16 --out iris-run
    zkdl train data.csv --target price --task regress --lr 0.002 --dry-run

Pipeline: load -> seeded train/test split -> standardize the features (fitted on the training rows)
-> targets: class labels one-hot (1.0 = 2^R), regression targets standardized -> quantize at scale
2^R -> the learning rate as eta_int / 2^k -> a fixed-point rehearsal (catches divergence before
anything is written) -> record with zkdl.record.Recorder while the prover daemon proves the
windows -> verify the run -> export the model (float state dict + exact integers) -> the held-out
metric (measured, NOT proven).  ``--dry-run`` stops after the rehearsal: no proofs, no files.

Files under OUT: spool/ (private), run/ (public: proofs, manifest, commitments), daemon.log,
model.npz + model.fixed.npz (the trained model, private), preprocess.json (how inputs were
standardized and which class is which output: apply it to new inputs), heldout.npz (the held-out
rows, standardized floats and fixed point; private).
"""
from __future__ import annotations

import csv
import os
import time

import numpy as np

from .errors import ZkdlError

SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "diabetes", "digits")
#: a 1-D integer-valued target with at most this many distinct values is read as class labels
MAX_AUTO_CLASSES = 20
#: the default learning rate is this / batch size (0.01 at batch 32): on the summed loss the step
#: grows with the batch, so the rate that works scales like 1 / B
DEFAULT_LR_TIMES_BATCH = 0.32


class DataError(ZkdlError):
    """Unusable data or arguments for ``zkdl train`` (exit status 2)."""


# ----------------------------------------------------------------------------- loading


def load_source(spec: str, target: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(X float (n, d), y (n,) or Y (n, c), description) from ``sklearn:NAME``, an .npz file
    (arrays X and y, or X and Y) or a .csv file (the last column is the target, or ``target``)."""
    if spec.startswith("sklearn:"):
        name = spec.split(":", 1)[1]
        if name not in SKLEARN_DATASETS:
            raise DataError(f"unknown dataset {spec!r}: choose one of " + ", ".join(f"sklearn:{n}" for n in SKLEARN_DATASETS))
        if target is not None:
            raise DataError("--target applies to .csv files only")
        try:
            import sklearn.datasets as skd
        except ImportError:
            raise DataError("sklearn: datasets need scikit-learn: pip install scikit-learn") from None
        X, y = getattr(skd, f"load_{name}")(return_X_y=True)
        return np.asarray(X, dtype=np.float64), np.asarray(y), f"scikit-learn {name}"
    if not os.path.exists(spec):
        raise DataError(f"{spec}: no such file (expected an .npz or .csv file, or sklearn:NAME)")
    if os.path.isdir(spec):
        raise DataError(f"{spec} is a directory, not a data file")
    low = spec.lower()
    if low.endswith(".npz"):
        if target is not None:
            raise DataError("--target applies to .csv files only (an .npz holds X and y)")
        return _load_npz(spec)
    if low.endswith(".csv"):
        return _load_csv(spec, target)
    raise DataError(f"{spec}: unknown file type (expected .npz with arrays X and y, or .csv)")


def _load_npz(path: str):
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    if "X" not in arrays or not ({"y", "Y"} & set(arrays)):
        raise DataError(f"{path}: expected arrays 'X' and 'y' (or 'Y'), found {sorted(arrays)}")
    X = arrays["X"]
    y = arrays["y"] if "y" in arrays else arrays["Y"]
    if X.ndim != 2 or X.dtype.kind not in "fiub":
        raise DataError(f"{path}: X must be a numeric 2-D array (n, d), got dtype {X.dtype}, shape {X.shape}")
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise DataError(f"{path}: y must have {X.shape[0]} rows like X, got shape {y.shape}")
    return X.astype(np.float64), y, f"{os.path.basename(path)}"


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _load_csv(path: str, target: str | None):
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read it ({e})") from None
    if not rows:
        raise DataError(f"{path}: empty file")
    header = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    ncol = len(header) if header else len(rows[0]) if rows else 0
    if not rows or ncol < 2:
        raise DataError(f"{path}: need a header (optional), at least one row and two columns (features, target)")
    for i, r in enumerate(rows):
        if len(r) != ncol:
            raise DataError(f"{path}: row {i + 1 + (header is not None)} has {len(r)} columns, expected {ncol}")
    if target is None:
        t = ncol - 1
    elif header is not None and target in header:
        t = header.index(target)
    else:
        raise DataError(f"{path}: no column named {target!r}" + (f" (columns: {', '.join(header)})" if header else
                                                                  " (the file has no header row)"))
    cols = list(zip(*rows))
    feats = []
    for j, c in enumerate(cols):
        if j == t:
            continue
        try:
            feats.append([float(v) for v in c])
        except ValueError:
            name = header[j] if header else f"#{j + 1}"
            raise DataError(f"{path}: feature column {name} is not numeric (encode it first)") from None
    yc = [v.strip() for v in cols[t]]
    y = np.array([float(v) for v in yc]) if all(_is_number(v) for v in yc) else np.array(yc)
    return np.array(feats, dtype=np.float64).T, y, os.path.basename(path)


# ----------------------------------------------------------------------------- preparation


def detect_task(y: np.ndarray, task: str = "auto") -> str:
    """"classify" or "regress": integer labels with few classes, strings or one-hot rows are
    classes; anything else is a regression target."""
    if task in ("classify", "regress"):
        if task == "regress" and y.dtype.kind not in "fiub":
            raise DataError("--task regress needs numeric targets")
        return task
    if task != "auto":
        raise DataError(f"unknown task {task!r}")
    if y.dtype.kind not in "fiub":
        return "classify"
    yf = y.astype(np.float64)
    if y.ndim == 2:
        if y.shape[1] > 1 and np.all((yf == 0) | (yf == 1)) and np.all(yf.sum(axis=1) == 1):
            return "classify"
        return "regress"
    if np.all(yf == np.round(yf)) and len(np.unique(yf)) <= MAX_AUTO_CLASSES:
        return "classify"
    return "regress"


def prepare(X, y, task: str, *, test_fraction: float, seed: int, R: int):
    """Split, standardize, encode and quantize; returns a dict of everything the run needs."""
    from . import data as zd

    if not np.all(np.isfinite(X)):
        raise DataError("the features hold NaN or infinite values (impute or drop them first)")
    if task == "classify":
        if y.ndim == 2:
            if y.shape[1] == 1:
                y = y[:, 0]
            else:
                y = np.argmax(y, axis=1)
        codes, classes = zd.encode_labels(y)
        if len(classes) < 2:
            raise DataError("classification needs at least two classes")
        target = codes
    else:
        if y.dtype.kind not in "fiub":
            raise DataError("regression targets must be numeric")
        target = y.astype(np.float64).reshape(y.shape[0], -1)
        if not np.all(np.isfinite(target)):
            raise DataError("the targets hold NaN or infinite values")
        classes = None
    n = X.shape[0]
    if n < 4:
        raise DataError(f"need at least 4 examples, got {n}")
    try:
        Xtr, Xte, ttr, tte = zd.train_test_split(X, target, test_fraction=test_fraction, seed=seed)
    except ZkdlError as e:
        raise DataError(str(e)) from None
    xs = zd.Standardizer.fit(Xtr)
    out = {"task": task, "x_scaler": xs, "classes": classes, "X_train_f": xs(Xtr), "X_test_f": xs(Xte),
           "t_train": ttr, "t_test": tte}
    if task == "classify":
        C = len(classes)
        out["Y_train"], out["Y_test"] = zd.one_hot(ttr, C, R), zd.one_hot(tte, C, R)
        out["d_out"], out["y_scaler"] = C, None
    else:
        ys = zd.Standardizer.fit(ttr)
        out["Y_train"], out["Y_test"] = zd.quantize(ys(ttr), R), zd.quantize(ys(tte), R)
        out["d_out"], out["y_scaler"] = ttr.shape[1], ys
    out["X_train"], out["X_test"] = zd.quantize(out["X_train_f"], R), zd.quantize(out["X_test_f"], R)
    return out


def heldout_metric(cfg, W, p) -> tuple[str, dict]:
    """The held-out metric line and values (measured with the fixed-point forward pass)."""
    from .fixedpoint import dequantize
    from .trainer import accuracy, predict

    if p["task"] == "classify":
        acc = accuracy(cfg, W, p["X_test"], p["t_test"])
        return f"held-out accuracy {acc:.4f} ({len(p['t_test'])} examples)", {"accuracy": acc}
    pred = p["y_scaler"].inverse(dequantize(predict(cfg, W, p["X_test"]), cfg.R))
    truth = p["t_test"]
    mse = float(np.mean((pred - truth) ** 2))
    ss_tot = float(np.sum((truth - truth.mean(axis=0)) ** 2))
    r2 = 1.0 - float(np.sum((pred - truth) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
    return (f"held-out R^2 {r2:.4f}, MSE {mse:.4g} (in the target's units; {truth.shape[0]} examples)",
            {"r2": r2, "mse": mse})


def _check_out(out: str) -> None:
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise DataError(f"{out} exists and is not empty; nothing was written (pass --out NEW_DIR)")


# ----------------------------------------------------------------------------- the command


def run_train(*, data: str, target: str | None = None, hidden: tuple = (32,), lr: float | None = None,
              batch: int = 32, steps: int = 64, window: int = 16, out: str = "zkdl-train",
              task: str = "auto", test_fraction: float = 0.2, seed: int = 0, dry_run: bool = False,
              init: str | None = None, R: int = 16) -> int:
    from .fixedpoint import ConfigError, FixedPointConfig, TrainingRangeError, dequantize
    from .trainer import Trainer, float_forward, float_train, init_mlp, init_weights_from_float

    if steps < 1 or window < 1 or batch < 1:
        raise DataError("--steps, --window and --batch must be >= 1")
    if not 0 < test_fraction < 1:
        raise DataError(f"--test-fraction must be in (0, 1), got {test_fraction}")
    if seed < 0:
        raise DataError(f"--seed must be >= 0, got {seed}")
    if not dry_run:
        _check_out(out)
    X, y, desc = load_source(data, target)
    task = detect_task(np.asarray(y), task)
    p = prepare(X, np.asarray(y), task, test_fraction=test_fraction, seed=seed, R=R)
    n_tr, d_in = p["X_train"].shape
    if batch > n_tr:
        raise DataError(f"--batch {batch} is larger than the training set ({n_tr} examples)")
    if lr is None:
        lr = DEFAULT_LR_TIMES_BATCH / batch
    if init is not None:
        try:
            W0 = init_weights_from_float(init, R)
        except ZkdlError as e:
            raise DataError(f"--init {init}: {e}") from None
        widths = (W0[0].shape[0] - 1,) + tuple(w.shape[1] for w in W0)
        if widths[0] != d_in or widths[-1] != p["d_out"]:
            raise DataError(f"--init {init}: the model has widths {widths}, but the data needs {d_in} inputs and "
                            f"{p['d_out']} outputs")
    else:
        widths = (d_in, *hidden, p["d_out"])
    try:
        cfg = FixedPointConfig.from_lr(widths, lr, batch, seed=seed, R=R)
    except ConfigError as e:
        raise DataError(str(e)) from None
    if init is None:
        W0 = init_weights_from_float(init_mlp(widths, seed=seed), R)
    what = ("classification, " + f"{p['d_out']} classes" if task == "classify" else
            f"regression, {p['d_out']} target{'s' if p['d_out'] > 1 else ''} (standardized)")
    arch = "-".join(map(str, widths))
    print(f"zkdl train: {desc}: {n_tr} training / {p['X_test'].shape[0]} held-out examples, {d_in} features "
          f"(standardized), {what}")
    print(f"  model {arch} MLP (ReLU){' from ' + init if init else ''}, batch {batch}, {steps} steps, seed {seed}, "
          f"R = {R}")
    print(f"  learning rate: --lr {lr:g} -> eta = {cfg.eta_int}/2^{cfg.k} = {cfg.eta!r} (exact; SGD on the summed "
          f"loss 1/2 * sum over the batch of |yhat - y|^2; PyTorch MSELoss(reduction='mean') equivalent: "
          f"lr = {cfg.eta * batch * p['d_out'] / 2:g})")

    # rehearsal in fixed point, no proofs: divergence is found before anything is written
    t0 = time.perf_counter()
    tr = Trainer(cfg, W0, p["X_train"], p["Y_train"])
    every = max(1, steps // 8)
    try:
        for _ in range(steps):
            t = tr.step()
            if dry_run and (t.step % every == 0 or t.step == steps - 1):
                print(f"  step {t.step:>5}: loss {t.loss:.5f}")
    except TrainingRangeError as e:
        raise ZkdlError(f"{e} With zkdl train: e.g. --lr {lr / 4:.3g}. (Nothing was written.)") from None
    t_train = time.perf_counter() - t0
    if dry_run:
        line, _ = heldout_metric(cfg, tr.weights, p)
        fr = float_train(cfg, [dequantize(w, R) for w in W0], p["X_train_f"], dequantize(p["Y_train"], R), steps)
        print(f"  fixed-point training: {steps} steps in {t_train:.2f} s; final loss {np.mean(tr.losses[-max(1, steps // 8):]):.5f}")
        if task == "classify":
            facc = float(np.mean(np.argmax(float_forward(fr.weights, p["X_test_f"]), axis=1) == p["t_test"]))
            ref = f"float64 reference (same steps, no rounding): held-out accuracy {facc:.4f}"
        else:
            ref = f"float64 reference final loss {np.mean(fr.losses[-max(1, steps // 8):]):.5f}"
        print(f"dry run (no proofs, nothing written): {line}; {ref} -- measured, NOT proven")
        return 0
    return _record(cfg, W0, p, steps=steps, window=window, out=out, final_W=tr.weights, task=task)


def _record(cfg, W0, p, *, steps, window, out, final_W, task) -> int:
    from . import runfiles as rf
    from .record import Recorder
    from .verifier import format_summary, verify_run

    os.makedirs(out, exist_ok=True)
    spool, run_dir, log = (os.path.join(out, n) for n in ("spool", "run", "daemon.log"))
    t0 = time.perf_counter()
    rec = Recorder(spool, cfg, W0, p["X_train"], p["Y_train"], window=window, start_daemon=True, out=run_dir,
                   daemon_log=log)
    print(f"  committed to the dataset and the initial weights ({time.perf_counter() - t0:.1f} s); prover daemon "
          f"pid {rec.daemon.pid} (log {log})")
    every = max(1, steps // 8)
    with rec:
        for _ in range(steps):
            t = rec.step()
            if t.step % every == 0 or t.step == steps - 1:
                print(f"  train step {t.step:>5}: loss {t.loss:.5f}")
    if any(not np.array_equal(a, b) for a, b in zip(rec.weights, final_W)):     # deterministic: never
        raise ZkdlError("internal: the recorded run differs from the rehearsal")
    model_path, fixed_path = rec.export_weights(os.path.join(out, "model.npz"))
    pre = {"format": "zkdl-preprocess", "version": 1, "task": task, "R": cfg.R, "widths": list(cfg.widths),
           "x_standardize": p["x_scaler"].to_json(),
           "classes": None if p["classes"] is None else [c.item() if hasattr(c, "item") else c for c in p["classes"]],
           "y_standardize": None if p["y_scaler"] is None else p["y_scaler"].to_json()}
    rf.atomic_write_json(os.path.join(out, "preprocess.json"), pre, 0o600)
    np.savez(os.path.join(out, "heldout.npz"), X=p["X_test_f"], X_fixed=p["X_test"], y=p["t_test"])
    os.chmod(os.path.join(out, "heldout.npz"), 0o600)
    print(f"  training done; waiting for the prover daemon ({steps} steps in windows of {window})")
    rc = rec.wait_daemon()
    if rc != 0:
        raise ZkdlError(f"the prover daemon exited with status {rc} (see {log})")
    print()
    s = verify_run(run_dir)
    print(format_summary(s))
    print()
    line, _ = heldout_metric(cfg, rec.weights, p)
    print(f"{line} -- measured here, NOT proven")
    print(f"trained model (private): {model_path} (float state dict, PyTorch-style keys), {fixed_path} (exact "
          f"fixed-point integers); preprocessing: {os.path.join(out, 'preprocess.json')}")
    print(f"verify again with:  zkdl verify {run_dir}")
    return 0
