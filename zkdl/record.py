"""Recording a training run for the prover daemon (issue #5).

:class:`Recorder` sits in a training loop (a context manager, or a callback in the style of
PyTorch Lightning / Keras ``on_train_batch_end``).  It either runs the fixed-point step itself
(:meth:`Recorder.step`, through :class:`zkdl.trainer.Trainer`) or checks a step trace the caller
produced (:meth:`Recorder.record`: ``StepTrace.validate`` against the normative semantics, the
public batch schedule, the committed dataset rows and the weights of the previous step), and
writes each trace atomically to a spool directory.  Training never waits for proving: the
prover daemon (``zkdl daemon``, :mod:`zkdl.daemon`) picks the steps up from the spool, optionally
started by the recorder as a subprocess.

    from zkdl.record import Recorder
    with Recorder("spool", config, W0, X, Y, start_daemon=True, out="run", window=8) as rec:
        for _ in range(100):
            trace = rec.step()             # one SGD step (fixed point), recorded
            print(trace.step, trace.loss)

Spool layout and formats: :mod:`zkdl.runfiles` and docs/user-guide.md.  The private files (the
dataset, every blind, the traces themselves) are created with mode 0600 in directories of mode
0700; the verifier never reads the spool.
"""
from __future__ import annotations

import os
import secrets as _secrets
import subprocess
import sys
import time
from typing import Sequence

import numpy as np

from circuits.prover import DatasetSecret, ModelSecret, commit_dataset, commit_model
from circuits.training import ModelCommitment
from zkdl.errors import ShapeError, ZkdlError
from zkdl.field import FrVec
from zkdl.fixedpoint import FixedPointConfig, StepTrace, TraceMismatchError, batch_indices, check_weights
from zkdl.hyrax import HyraxSecret

from . import runfiles as rf

__all__ = ["Recorder", "write_trace", "read_trace", "save_secrets", "load_secrets", "save_state", "load_state",
           "list_steps", "read_run", "SpoolError"]

# list fields of a StepTrace, stored as "<name>.<i>" in the step's .npz
_LIST_FIELDS = ("W_before", "Zp", "E_fwd", "S", "A", "G_Z", "G_A", "E_bwd", "G_W", "dW", "E_upd", "W_after")


class SpoolError(ZkdlError):
    """A spool directory is missing, already used, or holds files that do not check out."""


# ----------------------------------------------------------------------------- traces


def _npz_bytes(arrays: dict) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def write_trace(spool: str, trace: StepTrace) -> None:
    """Write one step: ``steps/step-N.npz`` (the tensors) and then ``steps/step-N.json`` (format,
    version, step, loss, sha256 of the .npz).  The .json appears last and marks the step as
    complete; both are written atomically (mode 0600)."""
    arrays = {"batch": np.asarray(trace.batch, dtype=np.int64), "X": trace.X, "Y": trace.Y}
    for name in _LIST_FIELDS:
        for i, a in enumerate(getattr(trace, name)):
            arrays[f"{name}.{i}"] = np.asarray(a, dtype=np.int64)
    data = _npz_bytes(arrays)
    stem = os.path.join(spool, rf.STEPS_DIR, rf.step_stem(trace.step))
    rf.atomic_write(stem + ".npz", data, 0o600)
    meta = {"format": rf.STEP_FORMAT, "version": rf.STEP_VERSION, "step": int(trace.step),
            "loss_int": str(int(trace.loss_int)), "n_examples": trace.n_examples,
            "npz_sha256": rf.sha256_bytes(data), "npz_bytes": len(data), "written": time.time()}
    rf.atomic_write_json(stem + ".json", meta, 0o600)


def read_trace(spool: str, step: int, config: FixedPointConfig) -> StepTrace:
    """Read a recorded step back (SpoolError if missing, corrupt or inconsistent)."""
    stem = os.path.join(spool, rf.STEPS_DIR, rf.step_stem(step))
    try:
        meta = rf.read_json(stem + ".json", f"step {step}", rf.STEP_FORMAT, rf.STEP_VERSION)
        data = rf.read_bytes(stem + ".npz", f"step {step}")
    except rf.RunFormatError as e:
        raise SpoolError(str(e)) from None
    if rf.sha256_bytes(data) != meta.get("npz_sha256") or meta.get("step") != step:
        raise SpoolError(f"step {step}: {stem}.npz does not match its .json (corrupt spool)")
    import io

    L = config.num_layers
    counts = {"S": L - 1, "G_A": L - 1, "E_bwd": L - 1}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            kw = {n: [z[f"{n}.{i}"] for i in range(counts.get(n, L))] for n in _LIST_FIELDS}
            tr = StepTrace(config=config, step=step, batch=z["batch"], X=z["X"], Y=z["Y"],
                           loss_int=int(meta["loss_int"]), n_examples=meta.get("n_examples"), **kw)
    except (KeyError, ValueError, OSError) as e:
        raise SpoolError(f"step {step}: malformed trace file ({e})") from None
    return tr


def list_steps(spool: str) -> list[int]:
    """Step numbers whose .json marker is present (complete steps), sorted."""
    out = []
    try:
        names = os.listdir(os.path.join(spool, rf.STEPS_DIR))
    except FileNotFoundError:
        return out
    for name in names:
        if name.startswith("step-") and name.endswith(".json"):
            try:
                out.append(int(name[5:-5]))
            except ValueError:
                pass
    return sorted(out)


def delete_step(spool: str, step: int) -> None:
    stem = os.path.join(spool, rf.STEPS_DIR, rf.step_stem(step))
    for ext in (".json", ".npz"):              # the marker first
        try:
            os.unlink(stem + ext)
        except FileNotFoundError:
            pass


# ----------------------------------------------------------------------------- secrets


def _fr(v: FrVec) -> np.ndarray:
    return np.frombuffer(v.to_bytes(), dtype=np.uint8)


def _unfr(a: np.ndarray) -> FrVec:
    return FrVec.from_bytes(np.asarray(a, dtype=np.uint8).tobytes())


def _model_secret_arrays(sec: ModelSecret, prefix: str = "") -> dict:
    out = {}
    for kind, lst in (("W", sec.W), ("b", sec.b)):
        for i, s in enumerate(lst):
            out[f"{prefix}{kind}{i}.values"] = _fr(s.values)
            out[f"{prefix}{kind}{i}.blinds"] = _fr(s.blinds)
            out[f"{prefix}{kind}{i}.shape"] = np.array([s.num_vars, s.col_vars], dtype=np.int64)
    return out


def _model_secret_from(z, L: int, prefix: str = "") -> ModelSecret:
    parts = {}
    for kind in ("W", "b"):
        lst = []
        for i in range(L):
            nv, cv = (int(v) for v in z[f"{prefix}{kind}{i}.shape"])
            lst.append(HyraxSecret(_unfr(z[f"{prefix}{kind}{i}.values"]), _unfr(z[f"{prefix}{kind}{i}.blinds"]), nv, cv))
        parts[kind] = lst
    return ModelSecret(parts["W"], parts["b"])


def save_secrets(path: str, dsec: DatasetSecret, msec: ModelSecret) -> None:
    """The private file of a spool (mode 0600): the dataset, its blinds, the initial model's
    openings."""
    arrays = {"format": np.array("zkdl-secrets"), "version": np.array(1), "X": dsec.X, "Y": dsec.Y,
              "bX": _fr(dsec.bX), "bY": _fr(dsec.bY)}
    arrays.update(_model_secret_arrays(msec))
    rf.atomic_write(path, _npz_bytes(arrays), 0o600)


def load_secrets(path: str, config: FixedPointConfig) -> tuple[DatasetSecret, ModelSecret]:
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != "zkdl-secrets" or int(z["version"]) != 1:
                raise SpoolError(f"{path}: not a zkdl secrets file of version 1")
            d = DatasetSecret(z["X"].astype(np.int64), z["Y"].astype(np.int64), _unfr(z["bX"]), _unfr(z["bY"]))
            m = _model_secret_from(z, config.num_layers)
    except FileNotFoundError:
        raise SpoolError(f"missing private file {path}") from None
    except (KeyError, ValueError, OSError, ZkdlError) as e:
        if isinstance(e, SpoolError):
            raise
        raise SpoolError(f"{path}: malformed secrets file ({e})") from None
    return d, m


def save_state(path: str, windows: int, next_step: int, after: ModelCommitment, sec: ModelSecret,
               proof_sha256: str | None) -> None:
    """The prover's carried state after ``windows`` proven windows: the after-commitment and its
    opening (private, mode 0600)."""
    arrays = {"format": np.array("zkdl-prover-state"), "version": np.array(1), "windows": np.array(windows),
              "next_step": np.array(next_step), "after": np.frombuffer(after.to_bytes(), dtype=np.uint8),
              "proof_sha256": np.array(proof_sha256 or "")}
    arrays.update(_model_secret_arrays(sec))
    rf.atomic_write(path, _npz_bytes(arrays), 0o600)


def load_state(path: str, config: FixedPointConfig) -> dict:
    from zkdl.codec import Reader

    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != "zkdl-prover-state" or int(z["version"]) != 1:
                raise SpoolError(f"{path}: not a zkdl prover state of version 1")
            r = Reader(z["after"].tobytes())
            after = ModelCommitment.read(r, config)
            r.done()
            return {"windows": int(z["windows"]), "next_step": int(z["next_step"]), "after": after,
                    "secret": _model_secret_from(z, config.num_layers), "proof_sha256": str(z["proof_sha256"])}
    except FileNotFoundError:
        raise SpoolError(f"missing prover state {path}") from None
    except (KeyError, ValueError, OSError, ZkdlError) as e:
        if isinstance(e, SpoolError):
            raise
        raise SpoolError(f"{path}: malformed prover state ({e})") from None


def read_run(spool: str) -> dict:
    """The spool's run.json (SpoolError if missing or of another format / version)."""
    try:
        return rf.read_json(os.path.join(spool, rf.RUN_JSON), "spool run.json", rf.SPOOL_FORMAT, rf.SPOOL_VERSION)
    except rf.RunFormatError as e:
        raise SpoolError(str(e)) from None


# ----------------------------------------------------------------------------- recorder


class Recorder:
    """Records a fixed-point training run into ``spool`` for the prover daemon.

    Args:
        spool: a new (or empty) directory; created with mode 0700.
        config: the public FixedPointConfig.
        W_init: the initial integer weights (zkdl layout), committed here.
        X, Y: the integer dataset (features, targets), committed here (one row commitment each).
        window: suggested window size for the daemon (steps per proof), stored in run.json.
        reveal_losses: whether proofs reveal the per-step losses (public in the statement).
        start_daemon: start ``zkdl daemon --spool SPOOL --out OUT`` as a subprocess (needs ``out``);
            its output goes to ``daemon_log`` (default OUT/../<out name>.daemon.log next to out).
        model_opening: (commitment file, opening file) of a model committed beforehand with
            ``zkdl commit-model``; its commitment is then the run's initial commitment
            (byte-equal, so an auditor can compare it with the one published before training).
        validate: re-check every trace passed to :meth:`record` (always done for foreign traces
            unless False; the daemon's prover re-checks them anyway).

    Methods: :meth:`step` (run and record one step), :meth:`record` (record a caller's trace),
    :meth:`close` (mark the run as ended: the daemon then proves the last, possibly shorter,
    window), :meth:`wait_daemon`.  ``on_train_batch_end`` is an alias of :meth:`record`.
    """

    def __init__(self, spool: str, config: FixedPointConfig, W_init: Sequence, X, Y, *, window: int = 8,
                 reveal_losses: bool = True, start_daemon: bool = False, out: str | None = None,
                 daemon_log: str | None = None, daemon_args: Sequence[str] = (),
                 model_opening: tuple[str, str] | None = None, validate: bool = True):
        if not isinstance(config, FixedPointConfig):
            raise ShapeError("Recorder: config must be a FixedPointConfig")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ShapeError(f"Recorder: window must be an integer >= 1, got {window!r}")
        if start_daemon and not out:
            raise ShapeError("Recorder: start_daemon needs out (the run directory for the proofs)")
        self.spool = os.path.abspath(spool)
        self.config = config
        self.validate = validate
        self.window = window
        self._daemon: subprocess.Popen | None = None
        self._closed = False
        W = [w.copy() for w in check_weights(config, W_init, "initial weights")]
        if os.path.exists(self.spool):
            if not os.path.isdir(self.spool):
                raise SpoolError(f"spool {spool} exists and is not a directory")
            if os.listdir(self.spool):
                raise SpoolError(f"spool {spool} is not empty (a run is already recorded there); "
                                 "use a new directory")
        else:
            os.makedirs(self.spool, mode=0o700)
        os.chmod(self.spool, 0o700)
        os.makedirs(os.path.join(self.spool, rf.STEPS_DIR), mode=0o700, exist_ok=True)
        os.makedirs(os.path.join(self.spool, rf.PRIVATE_DIR), mode=0o700, exist_ok=True)

        from zkdl.trainer import Trainer

        self.trainer = Trainer(config, W, X, Y)             # checks shapes and ranges
        self.dataset, dsec = commit_dataset(config, self.trainer.X, self.trainer.Y)
        if model_opening is not None:
            model, msec = load_model_opening(model_opening[0], model_opening[1], config, W)
        else:
            model, msec = commit_model(config, W)
        self.model = model
        self._prev_W = W
        self.next_step = 0
        self.steps_recorded = 0
        save_secrets(os.path.join(self.spool, rf.PRIVATE_DIR, rf.SECRETS_FILE), dsec, msec)
        ds = self.dataset.to_bytes()
        mf = rf.model_file_bytes(config, model)
        rf.atomic_write(os.path.join(self.spool, rf.DATASET_FILE), ds)
        rf.atomic_write(os.path.join(self.spool, rf.INITIAL_MODEL_FILE), mf)
        self.run_id = _secrets.token_hex(16)
        run = {"format": rf.SPOOL_FORMAT, "version": rf.SPOOL_VERSION, "run_id": self.run_id,
               "config": rf.config_to_json(config), "n_examples": int(self.trainer.num_examples),
               "t0": 0, "window": window, "reveal_losses": bool(reveal_losses),
               "dataset_digest": self.dataset.digest().hex(), "dataset_sha256": rf.sha256_bytes(ds),
               "model_initial_sha256": rf.sha256_bytes(mf), "created": time.time()}
        rf.atomic_write_json(os.path.join(self.spool, rf.RUN_JSON), run)   # last: the spool is ready
        if start_daemon:
            self.start_daemon(out, daemon_log, daemon_args)

    # ------------------------------------------------------------------ daemon
    def start_daemon(self, out: str, log: str | None = None, extra: Sequence[str] = ()) -> subprocess.Popen:
        """Start ``python -m zkdl daemon`` on this spool in a new session (it keeps proving if the
        training process ends; it exits once the run is ended and every step is proven)."""
        out = os.path.abspath(out)
        if log is None:
            log = out.rstrip("/") + ".daemon.log"
        cmd = [sys.executable, "-m", "zkdl", "daemon", "--spool", self.spool, "--out", out,
               "--window", str(self.window), *extra]
        self._daemon_log = open(log, "ab")
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._daemon = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._daemon_log,
                                        stderr=subprocess.STDOUT, start_new_session=True, env=env)
        return self._daemon

    @property
    def daemon(self) -> subprocess.Popen | None:
        return self._daemon

    def wait_daemon(self, timeout: float | None = None) -> int:
        """Wait for the daemon started by this recorder (after :meth:`close`); returns its exit status."""
        if self._daemon is None:
            raise ZkdlError("no daemon was started by this recorder")
        rc = self._daemon.wait(timeout)
        self._daemon_log.close()
        return rc

    # ------------------------------------------------------------------ recording
    @property
    def weights(self) -> list[np.ndarray]:
        """The current weights (after the last recorded step)."""
        return [w.copy() for w in self._prev_W]

    def export_weights(self, path: str) -> None:
        """Write the current weights as a PyTorch-style float state dict in an .npz
        ("0.weight" (out, in), "0.bias", ...; zkdl.trainer.export_state_dict) plus the exact
        fixed-point integers ("W0", "W1", ...), atomically.  The weights are private: publish the
        final-model commitment, not this file."""
        import io

        from .trainer import export_state_dict

        arrays = export_state_dict(self.weights, self.config.R)
        arrays.update({f"W{i}": w for i, w in enumerate(self.weights)})
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        rf.atomic_write(path, buf.getvalue(), 0o600)

    def step(self) -> StepTrace:
        """Run one fixed-point SGD step (zkdl.trainer.Trainer) and record it."""
        self._check_open()
        if self.trainer.step_index != self.next_step:
            raise SpoolError("Recorder.step: steps were recorded from another source; keep to one")
        tr = self.trainer.step()
        self._write(tr)
        return tr

    def run(self, steps: int) -> list[float]:
        """Run and record ``steps`` steps; returns their losses."""
        return [self.step().loss for _ in range(int(steps))]

    def record(self, trace: StepTrace) -> None:
        """Record a step trace produced by the caller: it must be the next step, continue from the
        previous weights, follow the public batch schedule on the committed data and (unless
        ``validate`` is False) match the normative semantics (``StepTrace.validate``).  Raises
        TraceMismatchError / ShapeError and records nothing if not."""
        self._check_open()
        if not isinstance(trace, StepTrace):
            raise ShapeError("Recorder.record: expected a zkdl.fixedpoint.StepTrace")
        if trace.config != self.config:
            raise ShapeError(f"step {trace.step}: the trace was made with a different configuration")
        if trace.step != self.next_step:
            raise TraceMismatchError(f"step {trace.step}: expected step {self.next_step} next", tensor="step")
        for i, (a, b) in enumerate(zip(self._prev_W, trace.W_before)):
            if not np.array_equal(a, np.asarray(b)):
                raise TraceMismatchError(f"step {trace.step}: W_before[{i}] does not continue from the previous "
                                         "weights", tensor=f"W_before[{i}]")
        cfg = self.config
        want = batch_indices(cfg.seed, trace.step, self.trainer.num_examples, cfg.batch_size)
        if not np.array_equal(np.asarray(trace.batch), want):
            raise TraceMismatchError(f"step {trace.step}: batch indices do not follow the public schedule",
                                     tensor="batch")
        if not (np.array_equal(trace.X, self.trainer.X[want]) and np.array_equal(trace.Y, self.trainer.Y[want])):
            raise TraceMismatchError(f"step {trace.step}: X / Y are not the committed dataset rows", tensor="X")
        if self.validate:
            trace.validate()
        if trace.n_examples is None:
            trace.n_examples = self.trainer.num_examples
        self._write(trace)
        # keep the built-in trainer in step so that step() may follow
        self.trainer._W = [np.asarray(w).copy() for w in trace.W_after]
        self.trainer.step_index = self.next_step

    on_train_batch_end = record
    __call__ = record               # usable as Trainer.run(callback=recorder)

    def _write(self, tr: StepTrace) -> None:
        write_trace(self.spool, tr)
        self._prev_W = [np.asarray(w).copy() for w in tr.W_after]
        self.next_step = tr.step + 1
        self.steps_recorded += 1

    def _check_open(self) -> None:
        if self._closed:
            raise ZkdlError("the recorder is closed")

    def close(self, reason: str = "finished") -> None:
        """Mark the run as ended (end.json: the number of steps).  Idempotent."""
        if self._closed:
            return
        self._closed = True
        rf.atomic_write_json(os.path.join(self.spool, rf.END_JSON),
                             {"format": "zkdl-end", "version": 1, "steps": self.next_step, "reason": reason,
                              "ended": time.time()})

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("finished" if exc_type is None else f"aborted: {exc_type.__name__}")


def load_model_opening(commitment_path: str, opening_path: str, config: FixedPointConfig,
                       W: Sequence[np.ndarray]) -> tuple[ModelCommitment, ModelSecret]:
    """A commitment made beforehand (``zkdl commit-model``) and its opening; checks that the
    opening opens the commitment to exactly the weights W."""
    from circuits.training import model_key
    _, model = rf.load_model_file(commitment_path)
    try:
        with np.load(opening_path, allow_pickle=False) as z:
            if str(z["format"]) != "zkdl-model-opening" or int(z["version"]) != 1:
                raise SpoolError(f"{opening_path}: not a zkdl model opening of version 1")
            sec = _model_secret_from(z, config.num_layers)
    except FileNotFoundError:
        raise SpoolError(f"missing model opening {opening_path}") from None
    except (KeyError, ValueError, OSError) as e:
        raise SpoolError(f"{opening_path}: malformed model opening ({e})") from None
    # re-commit with the stored blinds: the commitment must be byte-equal, the values W
    from circuits.training import WindowLayout

    lay = WindowLayout(config, 1)
    key = model_key(config)
    for i, w in enumerate(W):
        for part, com, s, l in (("W", model.W[i], sec.W[i], lay.weight(i)), ("b", model.b[i], sec.b[i], lay.bias(i))):
            vals = l.pad(w[:-1] if part == "W" else w[-1])
            if s.values != FrVec.from_int64(vals):
                raise SpoolError(f"model opening: layer {i + 1} {part} does not hold the initial weights")
            rows = key.commit_rows(s.values, s.blinds)
            if (s.num_vars, s.col_vars) != (com.num_vars, com.col_vars) or rows != com.rows:
                raise SpoolError(f"model opening: layer {i + 1} {part} does not open the commitment")
    return model, sec


def save_model_opening(path: str, sec: ModelSecret) -> None:
    arrays = {"format": np.array("zkdl-model-opening"), "version": np.array(1)}
    arrays.update(_model_secret_arrays(sec))
    rf.atomic_write(path, _npz_bytes(arrays), 0o600)
