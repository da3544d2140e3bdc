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

Creating a Recorder is atomic (it raises leaving nothing behind, or leaves a ready spool).  The
end of a run is recorded in ``end.json``: leaving the ``with`` block normally (or :meth:`Recorder.close`)
makes it "complete"; by an exception (Ctrl-C ...) or :meth:`Recorder.abort` "stopped early", which
the run directory publishes.  After a crash of the training process, :meth:`Recorder.resume`
continues the run from its last complete step.

Spool layout and formats: :mod:`zkdl.runfiles` and docs/user-guide.md.  The private files (the
dataset, every blind, the traces themselves) are created with mode 0600 in directories of mode
0700; the verifier never reads the spool.
"""
from __future__ import annotations

import os
import secrets as _secrets
import stat
import subprocess
import sys
import time
from typing import Sequence

import numpy as np

from zkdl.circuits.prover import DatasetSecret, ModelSecret, commit_dataset, commit_model
from zkdl.circuits.training import MasterCommitment, ModelCommitment
from zkdl.errors import ShapeError, ZkdlError
from zkdl.field import FrVec
from zkdl.fixedpoint import (FixedPointConfig, StepTrace, TraceMismatchError, batch_indices, check_weights,
                             round_master)
from zkdl.hyrax import HyraxSecret

from . import runfiles as rf

__all__ = ["Recorder", "write_trace", "read_trace", "save_secrets", "load_secrets", "save_state", "load_state",
           "list_steps", "read_run", "read_end", "read_owner", "bind_owner", "daemon_pid", "SpoolError"]

# list fields of a StepTrace, stored as "<name>.<i>" in the step's .npz
# (semantics v2: W_before / W_after are master weights, scale 2^(2R+k))
_LIST_FIELDS = ("W_before", "Zp", "E_fwd", "S", "A", "G_Z", "G_A", "E_bwd", "G_W", "W_after")


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
        for i, a in enumerate(trace.grad_w() if name == "G_W" else getattr(trace, name)):
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


def _secrets_bytes(dsec: DatasetSecret, msec: ModelSecret) -> bytes:
    arrays = {"format": np.array("zkdl-secrets"), "version": np.array(1), "X": dsec.X, "Y": dsec.Y,
              "bX": _fr(dsec.bX), "bY": _fr(dsec.bY)}
    arrays.update(_model_secret_arrays(msec))
    return _npz_bytes(arrays)


def save_secrets(path: str, dsec: DatasetSecret, msec: ModelSecret) -> None:
    """The private file of a spool (mode 0600): the dataset, its blinds, the initial model's
    openings."""
    rf.atomic_write(path, _secrets_bytes(dsec, msec), 0o600)


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


def prover_key(spool: str, create: bool = False) -> bytes:
    """The run's PRF key (``SPOOL/private/prover.key``, 32 bytes, mode 0600), from which every
    window's prover randomness is derived (zkdl.randomness): any worker holding it recomputes a
    window's start commitment, so windows are proven in parallel and proofs are reproducible.
    With ``create`` (the daemon, under its lock) a spool without one gets a fresh key."""
    from . import randomness

    path = os.path.join(spool, rf.PRIVATE_DIR, rf.PROVER_KEY_FILE)
    try:
        with open(path, "rb") as f:
            key = f.read()
    except FileNotFoundError:
        if not create:
            raise SpoolError(f"missing private file {path}") from None
        key = randomness.new_key()
        rf.atomic_write(path, key, 0o600)
        return key
    except OSError as e:
        raise SpoolError(f"cannot read {path}: {e.strerror}") from None
    if len(key) != randomness.KEY_BYTES:
        raise SpoolError(f"{path}: malformed prover key ({len(key)} bytes, expected {randomness.KEY_BYTES})")
    return key


#: version of the prover state files (2: the after-commitment holds master weights, semantics v2)
STATE_VERSION = 2


def save_state(path: str, windows: int, next_step: int, after: MasterCommitment, sec: ModelSecret,
               proof_sha256: str | None) -> None:
    """The prover's carried state after ``windows`` proven windows: the after-commitment (to the
    master weights, a MasterCommitment) and its opening (private, mode 0600)."""
    arrays = {"format": np.array("zkdl-prover-state"), "version": np.array(STATE_VERSION),
              "windows": np.array(windows),
              "next_step": np.array(next_step), "after": np.frombuffer(after.to_bytes(), dtype=np.uint8),
              "proof_sha256": np.array(proof_sha256 or "")}
    arrays.update(_model_secret_arrays(sec))
    rf.atomic_write(path, _npz_bytes(arrays), 0o600)


def load_state(path: str, config: FixedPointConfig) -> dict:
    from zkdl.codec import Reader

    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != "zkdl-prover-state" or int(z["version"]) != STATE_VERSION:
                raise SpoolError(f"{path}: not a zkdl prover state of version {STATE_VERSION}")
            r = Reader(z["after"].tobytes())
            after = MasterCommitment.read(r, config)
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


# ----------------------------------------------------------------------------- spool ownership, end


def read_owner(spool: str) -> dict | None:
    """The spool's ``run-dir.json`` (the run directory it belongs to), or None if the spool is not
    bound yet (SpoolError if the file is malformed)."""
    p = os.path.join(spool, rf.OWNER_FILE)
    if not os.path.exists(p):
        return None
    try:
        o = rf.read_json(p, "spool run-dir.json", rf.OWNER_FORMAT, rf.OWNER_VERSION)
    except rf.RunFormatError as e:
        raise SpoolError(str(e)) from None
    if not isinstance(o.get("run_dir"), str) or not o["run_dir"]:
        raise SpoolError(f"{p}: no run_dir")
    return o


def owner_bytes(run_dir: str, run_id: str) -> bytes:
    import json

    obj = {"format": rf.OWNER_FORMAT, "version": rf.OWNER_VERSION, "run_dir": os.path.abspath(run_dir),
           "run_id": run_id, "bound": time.time()}
    return (json.dumps(obj, indent=1) + "\n").encode()


def same_dir(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def owner_mismatch(spool: str, owner: dict) -> str:
    """The one-line refusal for a spool used with another run directory than its own."""
    return (f"spool {spool} belongs to the run directory {owner['run_dir']} (run {owner.get('run_id', '?')}); "
            f"its proofs and prover state continue there only: use --out {owner['run_dir']}")


def bind_owner(spool: str, run_dir: str, run_id: str) -> None:
    """Record in the spool the one run directory it is proven into (never overwrites a binding)."""
    try:
        rf.create_exclusive(os.path.join(spool, rf.OWNER_FILE), owner_bytes(run_dir, run_id), 0o600)
    except ZkdlError:
        o = read_owner(spool)
        if o is None or not same_dir(o["run_dir"], run_dir):
            raise SpoolError(owner_mismatch(spool, o or {"run_dir": "?"})) from None


def public_reason(reason) -> str:
    """A stop reason as it may be published: one short line."""
    r = " ".join(str(reason).split())[:120]
    return r or "stopped"


def read_end(spool: str) -> dict | None:
    """The spool's end.json as ``{"steps": n, "status": "complete" | "stopped early: <reason>"}``, or
    None while the run is in progress (SpoolError if malformed)."""
    p = os.path.join(spool, rf.END_JSON)
    if not os.path.exists(p):
        return None
    try:
        e = rf.read_json(p, "spool end.json")
        steps = int(e["steps"])
    except (rf.RunFormatError, KeyError, TypeError, ValueError) as err:
        raise SpoolError(f"spool end.json is malformed ({err})") from None
    status = e.get("status")
    reason = str(e.get("reason", ""))
    if status is None:                     # written before the end status existed
        status = rf.STATUS_COMPLETE if reason == "finished" else rf.STATUS_STOPPED
        reason = reason.removeprefix("aborted: ")
    if status == rf.STATUS_COMPLETE:
        return {"steps": steps, "status": rf.STATUS_COMPLETE}
    if status == rf.STATUS_STOPPED:
        return {"steps": steps, "status": f"{rf.STATUS_STOPPED}: {public_reason(reason)}"}
    raise SpoolError(f"spool end.json: unknown status {status!r}")


def daemon_pid(spool: str) -> int | None:
    """The pid of a prover daemon running on ``spool`` now (it holds SPOOL/daemon.lock), or None."""
    import fcntl

    p = os.path.join(spool, rf.LOCK_FILE)
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return int(os.pread(fd, 32, 0).split()[0])
            except (ValueError, IndexError, OSError):
                return -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class _RecorderLock:
    """An exclusive flock on SPOOL/recorder.lock while a process records into the spool (a crashed
    process releases it)."""

    def __init__(self, path: str, create: bool):
        import fcntl

        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
        try:
            self.fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)      # a spool of an older zkdl
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                pid = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "?"
            finally:
                os.close(self.fd)
                self.fd = None
            raise SpoolError(f"another process (pid {pid}) is recording into {os.path.dirname(path)}; "
                             "resume only after it has exited") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def weights_from_secret(config: FixedPointConfig, sec: ModelSecret) -> list[np.ndarray]:
    """The integer weights (zkdl layout, last row bias) an opening opens to: a model (scale 2^R)
    for a model opening, the master weights (scale 2^(2R+k)) for a prover state's opening."""
    from zkdl.circuits.training import WindowLayout

    lay = WindowLayout(config, 1)
    out = []
    for i in range(config.num_layers):
        wl, bl = lay.weight(i), lay.bias(i)
        d_in, d_out = wl.valid
        w = sec.W[i].values.to_int64().reshape(wl.padded)[:d_in, :d_out]
        b = sec.b[i].values.to_int64().reshape(bl.padded)[:d_out]
        out.append(np.vstack([w, b[None, :]]).astype(np.int64))
    return out


def _states(spool: str, config: FixedPointConfig) -> list[dict]:
    """Every prover state in SPOOL/private (loaded), by window count."""
    d = os.path.join(spool, rf.PRIVATE_DIR)
    out = []
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else ():
        if name.startswith("state-") and name.endswith(".npz"):
            out.append(load_state(os.path.join(d, name), config))
    return out


# ----------------------------------------------------------------------------- recorder


class Recorder:
    """Records a fixed-point training run into ``spool`` for the prover daemon.

    Args:
        spool: a new (or empty) directory; created with mode 0700.  Creation is atomic: if the
            constructor raises, it leaves nothing behind (and never touches what was there);
            otherwise the spool is ready.
        config: the public FixedPointConfig.
        W_init: the initial model: integer weights at scale 2^R (zkdl layout), committed here; training
            starts from its master weights 2^(R+k) W_init (semantics v2).
        X, Y: the integer dataset (features, targets), committed here (one row commitment each).
        window: suggested window size for the daemon (steps per proof), stored in run.json.
        reveal_losses: whether proofs reveal the per-step losses (public in the statement).
        start_daemon: start ``zkdl daemon --spool SPOOL --out OUT`` as a subprocess (needs ``out``);
            its output goes to ``daemon_log`` (default OUT/../<out name>.daemon.log next to out).
        out: the run directory of the proofs.  Given, the spool is bound to it at once
            (``run-dir.json``); otherwise the first daemon binds it.  A spool belongs to one run
            directory; a daemon pointed elsewhere refuses.
        model_opening: (commitment file, opening file) of a model committed beforehand with
            ``zkdl commit-model``; its commitment is then the run's initial commitment
            (byte-equal, so an auditor can compare it with the one published before training).
        validate: re-check every trace passed to :meth:`record` (always done for foreign traces
            unless False; the daemon's prover re-checks them anyway).
        start_step: the number of the run's first step (default 0), e.g. to continue training a
            published model (``model_opening``) from where its own run ended: the batch schedule
            goes on from there.  The run is a new chain: it starts from the committed model, whose
            range proof the verifier requires whatever the first step.

    Methods: :meth:`step` (run and record one step), :meth:`record` (record a caller's trace),
    :meth:`close` (the run is complete: the daemon then proves the last, possibly shorter,
    window), :meth:`abort` (the run stopped early: the same, but the run says so publicly),
    :meth:`wait_daemon`, :meth:`resume` (a classmethod: continue the run of a spool after the
    training process died).  ``on_train_batch_end`` is an alias of :meth:`record`.  Leaving a
    ``with Recorder(...)`` block normally closes the run; by an exception (Ctrl-C,
    TrainingRangeError, ...) aborts it with the exception's class name as the public reason.
    """

    def __init__(self, spool: str, config: FixedPointConfig, W_init: Sequence, X, Y, *, window: int = 8,
                 reveal_losses: bool = True, start_daemon: bool = False, out: str | None = None,
                 daemon_log: str | None = None, daemon_args: Sequence[str] = (),
                 model_opening: tuple[str, str] | None = None, validate: bool = True, start_step: int = 0):
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
        self._lock = None
        self.running_daemon_pid: int | None = None      # a daemon found running by resume()
        #: layer names remembered from the import (init_weights_from_float), used by export_weights
        self.layer_names = getattr(W_init, "names", None)
        W = [w.copy() for w in check_weights(config, W_init, "initial weights")]
        self._check_new_spool(spool)

        # everything that can fail on the caller's input happens before the file system is touched
        from zkdl.trainer import Trainer

        self.trainer = Trainer(config, W, X, Y, start_step=start_step)   # checks shapes and ranges
        self.dataset, dsec = commit_dataset(config, self.trainer.X, self.trainer.Y)
        if model_opening is not None:
            model, msec = load_model_opening(model_opening[0], model_opening[1], config, W)
        else:
            model, msec = commit_model(config, W)
        self.model = model
        self._prev_M = self.trainer.master             # master weights (semantics v2)
        self.next_step = self.trainer.step_index
        self.steps_recorded = 0
        self.run_id = _secrets.token_hex(16)
        ds = self.dataset.to_bytes()
        mf = rf.model_file_bytes(config, model)
        run = {"format": rf.SPOOL_FORMAT, "version": rf.SPOOL_VERSION, "run_id": self.run_id,
               "config": rf.config_to_json(config), "n_examples": int(self.trainer.num_examples),
               "t0": self.next_step, "window": window, "reveal_losses": bool(reveal_losses),
               "dataset_digest": self.dataset.digest().hex(), "dataset_sha256": rf.sha256_bytes(ds),
               "model_initial_sha256": rf.sha256_bytes(mf), "created": time.time()}
        from . import randomness

        files = [(os.path.join(rf.PRIVATE_DIR, rf.SECRETS_FILE), _secrets_bytes(dsec, msec), 0o600),
                 (os.path.join(rf.PRIVATE_DIR, rf.PROVER_KEY_FILE), randomness.new_key(), 0o600),
                 (rf.DATASET_FILE, ds, 0o644), (rf.INITIAL_MODEL_FILE, mf, 0o644)]
        if out:
            files.append((rf.OWNER_FILE, owner_bytes(out, self.run_id), 0o600))
        import json

        files.append((rf.RUN_JSON, (json.dumps(run, indent=1) + "\n").encode(), 0o644))  # last: ready
        undo = self._create(files)
        if start_daemon:
            try:
                self.start_daemon(out, daemon_log, daemon_args)
            except BaseException:
                self._lock.release()
                undo()
                raise

    # ------------------------------------------------------------------ creation
    def _check_new_spool(self, spool: str) -> None:
        if os.path.lexists(self.spool):
            if not os.path.isdir(self.spool):
                raise SpoolError(f"spool {spool} exists and is not a directory")
            names = os.listdir(self.spool)
            if names:
                what = ("a run is already recorded there" if rf.RUN_JSON in names else
                        "it holds other files")
                raise SpoolError(f"spool {spool} is not empty ({what}); use a new directory"
                                 + (", or Recorder.resume to continue that run" if rf.RUN_JSON in names else ""))

    def _create(self, files: list) -> "callable":
        """Create the spool with ``files`` ((relative path, bytes, mode); run.json last) and take
        the recorder lock.  A new spool is assembled in a temporary directory next to it and
        renamed into place; an existing empty directory is filled in place.  On any failure
        everything this call created is removed and nothing else is touched.  Returns the undo
        function (used if starting the daemon fails)."""
        import shutil
        import tempfile

        made_parents = []
        parent = os.path.dirname(self.spool)
        p = parent
        while not os.path.exists(p):
            made_parents.append(p)
            p = os.path.dirname(p)
        made_parents.reverse()

        def rm_parents():
            for d in reversed(made_parents):
                try:
                    os.rmdir(d)
                except OSError:
                    break

        def populate(root: str, created: list) -> None:
            for d in (rf.STEPS_DIR, rf.PRIVATE_DIR):
                os.mkdir(os.path.join(root, d), 0o700)
                created.append(os.path.join(root, d))
                os.chmod(os.path.join(root, d), 0o700)
            lock = os.path.join(root, rf.RECORDER_LOCK)
            self._lock = _RecorderLock(lock, create=True)
            created.append(lock)
            for rel, data, mode in files:
                path = os.path.join(root, rel)
                rf.atomic_write(path, data, mode)
                created.append(path)

        for d in made_parents:
            os.mkdir(d)
        if not os.path.exists(self.spool):
            try:
                stage = tempfile.mkdtemp(prefix=rf.TMP_PREFIX + os.path.basename(self.spool) + ".", dir=parent)
            except BaseException:
                rm_parents()
                raise
            try:
                os.chmod(stage, 0o700)
                populate(stage, [])
                try:
                    os.rename(stage, self.spool)      # atomic: the spool appears complete
                except OSError as e:
                    raise SpoolError(f"spool {self.spool}: cannot create it ({e.strerror}; another process "
                                     "created it meanwhile?)") from None
            except BaseException:
                if self._lock is not None:
                    self._lock.release()
                shutil.rmtree(stage, ignore_errors=True)      # the staging directory made above
                rm_parents()
                raise
            rf.fsync_dir(parent)

            def undo():
                # the spool renamed into place above: only this call wrote into it (the lock)
                tmp = tempfile.mkdtemp(prefix=rf.TMP_PREFIX + "undo.", dir=parent)
                os.rename(self.spool, os.path.join(tmp, "spool"))
                shutil.rmtree(tmp, ignore_errors=True)
                rm_parents()
            return undo
        created: list = []
        old_mode = stat.S_IMODE(os.stat(self.spool).st_mode)

        def undo_in_place():
            for path in reversed(created):
                try:
                    (os.rmdir if os.path.isdir(path) else os.unlink)(path)
                except OSError:
                    pass
            try:
                os.chmod(self.spool, old_mode)
            except OSError:
                pass
        try:
            os.chmod(self.spool, 0o700)
            populate(self.spool, created)
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            undo_in_place()
            raise
        return undo_in_place

    # ------------------------------------------------------------------ resume
    @classmethod
    def resume(cls, spool: str, config: FixedPointConfig | None = None, X=None, Y=None, *,
               start_daemon: bool = False, out: str | None = None, daemon_log: str | None = None,
               daemon_args: Sequence[str] = (), validate: bool = True) -> "Recorder":
        """Continue recording the run of ``spool`` after its training process died (crash, kill):
        from the last complete step, with the same checks as :meth:`record` for what follows.

        The master weights continue from the last recorded step (its trace; once the daemon has
        proven and deleted it, the prover state's opening of the last proven window; with nothing
        recorded, the initial model), the batch schedule
        from the next step, on the committed dataset (from the spool; ``X`` / ``Y``, if given,
        must be exactly the committed rows; ``config``, if given, must be the run's).  Refused
        (SpoolError) if the run has ended (end.json) or another process is recording into the
        spool.  ``start_daemon``: start the daemon (``out`` defaults to the run directory the spool
        belongs to) unless one is already running on the spool."""
        from zkdl.trainer import Trainer

        self = cls.__new__(cls)
        self.spool = os.path.abspath(spool)
        self.validate = validate
        self._daemon = None
        self._closed = False
        self._lock = None
        self.running_daemon_pid = None
        self.layer_names = None
        run = read_run(self.spool)
        try:
            cfg = rf.config_from_json(run.get("config"), "spool run.json config")
        except rf.RunFormatError as e:
            raise SpoolError(str(e)) from None
        if config is not None and config != cfg:
            raise ShapeError("Recorder.resume: config differs from the run's configuration (run.json)")
        self.config = cfg
        self.window = int(run.get("window", 8))
        self.run_id = run["run_id"]
        end = read_end(self.spool)
        if end is not None:
            raise SpoolError(f"the run in {spool} has ended ({end['status']} after {end['steps']} steps); "
                             "it cannot be resumed: record a new run into a new spool")
        owner = read_owner(self.spool)
        if out is not None and owner is not None and not same_dir(owner["run_dir"], out):
            raise SpoolError(owner_mismatch(spool, owner))
        if start_daemon and out is None:
            if owner is None:
                raise ShapeError("Recorder.resume: start_daemon needs out (the spool is not bound to a run "
                                 "directory yet)")
            out = owner["run_dir"]
        self._lock = _RecorderLock(os.path.join(self.spool, rf.RECORDER_LOCK), create=False)
        try:
            if out is not None and owner is None:
                bind_owner(self.spool, out, self.run_id)
            dsec, msec0 = load_secrets(os.path.join(self.spool, rf.PRIVATE_DIR, rf.SECRETS_FILE), cfg)
            for name, given, have in (("X", X, dsec.X), ("Y", Y, dsec.Y)):
                if given is not None and not (np.shape(given) == have.shape and np.array_equal(given, have)):
                    raise TraceMismatchError(f"Recorder.resume: {name} is not the committed dataset", tensor=name)
            try:
                self.dataset = rf.load_dataset_file(os.path.join(self.spool, rf.DATASET_FILE))
                _, self.model = rf.load_model_file(os.path.join(self.spool, rf.INITIAL_MODEL_FILE))
            except rf.RunFormatError as e:
                raise SpoolError(str(e)) from None
            if self.dataset.digest().hex() != run.get("dataset_digest"):
                raise SpoolError("spool: dataset.commitment does not match run.json")
            t0 = int(run.get("t0", 0))
            steps = list_steps(self.spool)
            states = _states(self.spool, cfg)
            proven = max([s["next_step"] for s in states], default=t0)
            if steps:
                if steps != list(range(steps[0], steps[-1] + 1)) or steps[0] > proven:
                    raise SpoolError(f"spool {spool}: recorded steps are missing (have {steps[0]}..{steps[-1]}, "
                                     f"proven up to {proven}); cannot resume")
                last = read_trace(self.spool, steps[-1], cfg)
                if validate:
                    last.validate()
                M = [np.asarray(w, dtype=np.int64).copy() for w in last.W_after]
                nxt = steps[-1] + 1
                if nxt < proven:
                    raise SpoolError(f"spool {spool}: the prover state is ahead of the recorded steps")
            elif states:
                st = max(states, key=lambda s: s["next_step"])
                M, nxt = weights_from_secret(cfg, st["secret"]), st["next_step"]     # master weights
            else:
                M, nxt = None, t0
            if M is None:       # nothing recorded yet: the initial model (scale 2^R), as committed
                self.trainer = Trainer(cfg, weights_from_secret(cfg, msec0), dsec.X, dsec.Y, start_step=nxt)
            else:               # the master weights of a trace / prover state continue the chain
                self.trainer = Trainer(cfg, None, dsec.X, dsec.Y, start_step=nxt, master=M)
            self._prev_M = self.trainer.master
            self.next_step = nxt
            self.steps_recorded = 0
            if start_daemon:
                pid = daemon_pid(self.spool)
                if pid is not None:
                    self.running_daemon_pid = pid           # it goes on proving this spool
                else:
                    self.start_daemon(out, daemon_log, daemon_args)
        except BaseException:
            self._lock.release()
            raise
        return self

    # ------------------------------------------------------------------ daemon
    def start_daemon(self, out: str, log: str | None = None, extra: Sequence[str] = ()) -> subprocess.Popen:
        """Start ``python -m zkdl daemon`` on this spool in a new session (it keeps proving if the
        training process ends; it exits once the run is ended and every step is proven)."""
        out = os.path.abspath(out)
        if log is None:
            log = out.rstrip("/") + ".daemon.log"
        cmd = [sys.executable, "-m", "zkdl", "daemon", "--spool", self.spool, "--out", out,
               "--window", str(self.window), *extra]
        new_log = not os.path.exists(log)
        self._daemon_log = open(log, "ab")
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            self._daemon = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._daemon_log,
                                            stderr=subprocess.STDOUT, start_new_session=True, env=env)
        except BaseException:
            self._daemon_log.close()
            if new_log and os.path.getsize(log) == 0:
                os.unlink(log)          # the empty log this call created
            raise
        return self._daemon

    @property
    def daemon(self) -> subprocess.Popen | None:
        return self._daemon

    def wait_daemon(self, timeout: float | None = None, *, progress: bool = False, stream=None) -> int:
        """Wait for the daemon started by this recorder (after :meth:`close`); returns its exit status
        (subprocess.TimeoutExpired after ``timeout`` seconds, like ``Popen.wait``).

        ``progress=True`` shows the daemon's progress while waiting, read from the run directory's
        manifest: windows and steps proven out of the steps recorded, the prover's seconds per step
        and the ETA -- a live bar (tqdm) when ``stream`` (default stderr) is a terminal, else a line
        ``zkdl: proven 4/8 steps (2 windows), 0.35 s/step, eta 1.4 s`` each time the count changes."""
        if self._daemon is None:
            raise ZkdlError("no daemon was started by this recorder")
        if progress:
            from .progress import follow_daemon

            args = list(self._daemon.args)
            run_dir = args[args.index("--out") + 1]
            t_first = int(read_run(self.spool).get("t0", 0))
            rc = follow_daemon(self._daemon, run_dir, lambda t0: self.next_step - (t_first if t0 is None else t0),
                               timeout=timeout, stream=stream)
        else:
            rc = self._daemon.wait(timeout)
        self._daemon_log.close()
        return rc

    # ------------------------------------------------------------------ recording
    @property
    def weights(self) -> list[np.ndarray]:
        """The current model after the last recorded step: round_master of the master weights
        (int64, zkdl layout, scale 2^R) -- what the run publishes once it ends
        (final-model.commitment), what ``export_weights`` writes and predict / accuracy take."""
        return round_master(self.config, self._prev_M)[0]

    @property
    def master(self) -> list[np.ndarray]:
        """Copies of the master weights after the last recorded step (scale 2^(2R+k)): what the
        next step starts from (a caller's own trace must start from them: ``Trainer(config, None,
        X, Y, master=rec.master, start_step=rec.next_step)``)."""
        return [m.copy() for m in self._prev_M]

    def export_weights(self, path: str, *, fixed_path: str | None = None, names: Sequence[str] | None = None,
                       overwrite: bool = False) -> tuple[str, str]:
        """Write the current model (:attr:`weights`, the published rounding of the master weights)
        as two .npz files (zkdl.trainer.save_weights): ``path``, a
        clean PyTorch-style float state dict ("<name>.weight" (out, in), "<name>.bias" (out,),
        nothing else) whose layer names are ``names``, else the names read when the initial
        weights were imported (init_weights_from_float), else nn.Sequential's ("0", "2", ...);
        and ``fixed_path`` (default model.npz -> model.fixed.npz), the exact fixed-point integers.
        Both load back with init_weights_from_float and ``zkdl commit-model``.  Never overwrites
        an existing file unless ``overwrite``.  The weights are private: publish the final-model
        commitment, not these files.  Returns (path, fixed_path)."""
        from .trainer import save_weights

        return save_weights(path, self.weights, self.config.R, fixed_path=fixed_path,
                            names=names if names is not None else self.layer_names, overwrite=overwrite)

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
        for i, (a, b) in enumerate(zip(self._prev_M, trace.W_before)):
            if not np.array_equal(a, np.asarray(b)):
                raise TraceMismatchError(f"step {trace.step}: W_before[{i}] does not continue from the previous "
                                         "master weights", tensor=f"W_before[{i}]")
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
        self._follow(trace)

    on_train_batch_end = record
    __call__ = record               # usable as Trainer.run(callback=recorder)

    def _follow(self, trace: StepTrace) -> None:
        """Keep the built-in trainer in step with a caller's trace, so that step() may follow: a
        trainer continuing from the trace's master weights (the data were checked already)."""
        import warnings

        from zkdl.trainer import Trainer

        old = self.trainer
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # the data warnings were given at creation
            new = Trainer(self.config, None, old.X, old.Y, start_step=self.next_step, master=self._prev_M)
        new.losses = old.losses + [trace.loss]
        self.trainer = new

    def _write(self, tr: StepTrace) -> None:
        write_trace(self.spool, tr)
        self._prev_M = [np.asarray(w, dtype=np.int64).copy() for w in tr.W_after]
        self.next_step = tr.step + 1
        self.steps_recorded += 1

    def _check_open(self) -> None:
        if self._closed:
            raise ZkdlError("the recorder is closed")

    def _end(self, status: str, reason: str, detail: str | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        obj = {"format": rf.END_FORMAT, "version": rf.END_VERSION, "steps": self.next_step, "status": status,
               "reason": reason, "ended": time.time()}
        if detail:
            obj["detail"] = detail                 # private (the spool): never published
        try:
            rf.atomic_write_json(os.path.join(self.spool, rf.END_JSON), obj, 0o600)
        finally:
            if self._lock is not None:
                self._lock.release()

    def close(self, reason: str | None = None) -> None:
        """The run is complete (end.json: the number of steps): the daemon proves the last, possibly
        shorter, window, publishes the final model and the status "complete".  Idempotent.
        (``close(reason)`` with a reason other than "finished" is :meth:`abort`.)"""
        if reason is not None and reason != "finished":
            return self.abort(reason)
        self._end(rf.STATUS_COMPLETE, "finished")

    def abort(self, reason: str = "aborted") -> None:
        """The run stopped early: the daemon proves the steps recorded so far, and the run directory
        (manifest, ``zkdl verify``) says "stopped early: <reason>", never "complete".  ``reason`` is
        PUBLIC (one short line; keep private details out of it).  Idempotent (a run ends once)."""
        self._end(rf.STATUS_STOPPED, public_reason(reason))

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        was_open = not self._closed
        detail = f"{exc_type.__name__}: {exc}"
        self._end(rf.STATUS_STOPPED, exc_type.__name__, detail)   # the class name only is public
        if was_open:
            self._tell_stopped(exc_type.__name__)
            try:
                exc.zkdl_reported = True        # the CLI then adds no second line
            except AttributeError:
                pass

    def _tell_stopped(self, why: str) -> None:
        """After training stopped by an exception (Ctrl-C ...): what happens to the daemon."""
        n = self.next_step
        pid = None
        if self._daemon is not None and self._daemon.poll() is None:
            pid = self._daemon.pid
        if pid is None:
            pid = daemon_pid(self.spool)
        try:
            owner = read_owner(self.spool)
        except SpoolError:
            owner = None
        run_dir = owner["run_dir"] if owner else "RUN_DIR"
        head = f"zkdl: training stopped ({why}) after {n} recorded steps; the run is marked 'stopped early: {why}'."
        if pid is not None and pid > 0:
            msg = (f"{head} The prover daemon (pid {pid}) keeps running in the background: it proves the "
                   f"recorded steps (the window in hand, then the last, shorter one), publishes the final model "
                   f"and exits. To stop it now: kill {pid} (it finishes the window in hand; a second kill "
                   f"abandons it); later: zkdl daemon --spool {self.spool} --out {run_dir}")
        else:
            msg = (f"{head} No prover daemon is running; prove the recorded steps with: "
                   f"zkdl daemon --spool {self.spool} --out {run_dir}")
        try:
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def read_model_opening(opening_path: str, config: FixedPointConfig) -> ModelSecret:
    """A model opening file (save_model_opening) for the architecture of ``config``, unchecked."""
    try:
        with np.load(opening_path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != "zkdl-model-opening" or int(z["version"]) != 1:
                raise SpoolError(f"{opening_path}: not a zkdl model opening of version 1")
            return _model_secret_from(z, config.num_layers)
    except FileNotFoundError:
        raise SpoolError(f"missing model opening {opening_path}") from None
    except IsADirectoryError:
        raise SpoolError(f"model opening: {opening_path} is a directory, not a file") from None
    except (KeyError, ValueError, OSError, EOFError, ZkdlError) as e:
        if isinstance(e, SpoolError):
            raise
        raise SpoolError(f"{opening_path}: malformed model opening ({e}); is it the opening of a "
                         f"{'-'.join(map(str, config.widths))} model?") from None


def load_model_opening(commitment_path: str, opening_path: str, config: FixedPointConfig,
                       W: Sequence[np.ndarray]) -> tuple[ModelCommitment, ModelSecret]:
    """A commitment made beforehand (``zkdl commit-model``) and its opening; checks that the
    opening opens the commitment to exactly the weights W (check_model_opening)."""
    _, model = rf.load_model_file(commitment_path)
    sec = read_model_opening(opening_path, config)
    # re-commit with the stored blinds: the commitment must be byte-equal, the values W (the
    # check prove_inference makes too)
    from zkdl.circuits.prover import ModelOpeningError, check_model_opening

    try:
        check_model_opening(config, model, sec, W, "the initial weights")
    except ModelOpeningError as e:
        raise SpoolError(str(e)) from None
    # the run starts a chain here, so the model needs a valid range proof: a commitment published
    # without one (or with a broken one) gets a fresh one (the weights are in range: the caller
    # checked them, and the opening holds exactly them)
    from zkdl.circuits.prover import prove_model_range
    from zkdl.circuits.training import verify_model
    from zkdl.errors import VerificationError

    try:
        verify_model(config, model)
    except VerificationError:
        model.range_proof = prove_model_range(config, model, sec)
    return model, sec


def save_model_opening(path: str, sec: ModelSecret, *, exclusive: bool = False) -> None:
    """Write a model opening (private, mode 0600); with ``exclusive``, never over an existing
    file (ZkdlError)."""
    arrays = {"format": np.array("zkdl-model-opening"), "version": np.array(1)}
    arrays.update(_model_secret_arrays(sec))
    (rf.create_exclusive if exclusive else rf.atomic_write)(path, _npz_bytes(arrays), 0o600)
