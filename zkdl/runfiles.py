"""File formats of a proven training run (docs/user-guide.md, "File formats"), shared by the
recorder, the prover daemon and the verifier CLI.

This module is on the verifier's path: it imports :mod:`zkdl.circuits.training` (the protocol and the
verifier) but never the prover (:mod:`zkdl.circuits.prover`), the trainer or a GPU backend.

Two directories:

* the **spool** (private, mode 0700), written by :mod:`zkdl.record` and read by the daemon:
  ``run.json`` (public configuration), ``dataset.commitment``, ``model-initial.commitment``,
  ``steps/step-NNNNNNNNN.npz`` + ``.json`` (one per training step), ``end.json`` (the run is over:
  complete or stopped early), ``run-dir.json`` (the one run directory the spool is proven into),
  ``private/`` (mode 0700: ``secrets.npz`` -- the data and all blinds --, ``prover.key`` (the
  run's key from which the prover's randomness is derived, zkdl.randomness), the prover's carried
  state ``state-NNNNNN.npz`` after each proven window -- the commitment to the master weights
  and its opening -- and, once the run has ended, ``final-model.opening``, the opening of the
  published model).  Never give the spool to a verifier.
* the **run directory** (public), written by the daemon and read by ``zkdl verify``:
  ``manifest.json``, ``dataset.commitment``, ``model-initial.commitment``,
  ``window-NNNNNN.proof``, ``final-model.commitment`` (the published model: the last master
  weights rounded to scale 2^R, with its range proof) and ``final-model.link`` (the proof that
  ties it to the last window's after-commitment).

Every file is written atomically: a temporary name in the same directory, fsync, ``os.replace``,
fsync of the directory.  A reader never sees a partial file under a final name.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from typing import Any

from zkdl.circuits.training import DatasetCommitment, ModelCommitment, Statement, read_config, write_config
from zkdl.codec import MAGIC, ProofFormatError, Reader, Writer, require_canonical, unwrap, wrap
from zkdl.errors import ZkdlError
from zkdl.fixedpoint import ConfigError, FixedPointConfig

#: container kind of a model commitment file (the ZKDL container of zkdl.codec)
MODEL_FILE_KIND = 0x0201
# version 2: semantics v2 (master weights; a run publishes its rounded model with a link proof).
# Spools, steps and run directories of version 1 (rounded weight updates) are refused.
SPOOL_FORMAT = "zkdl-spool"
SPOOL_VERSION = 2
STEP_FORMAT = "zkdl-step"
STEP_VERSION = 2
MANIFEST_FORMAT = "zkdl-run"
MANIFEST_VERSION = 2

MANIFEST = "manifest.json"
DATASET_FILE = "dataset.commitment"
INITIAL_MODEL_FILE = "model-initial.commitment"
#: the run's published model: round_master of its last master weights, a model commitment file
#: with its range proof (absent when those weights leave the Q-bit range)
FINAL_MODEL_FILE = "final-model.commitment"
#: the link proof (ZKDL container, circuits LINK_KIND) tying FINAL_MODEL_FILE to the last window's
#: after-commitment (zkdl.circuits.training.verify_final_model)
FINAL_LINK_FILE = "final-model.link"
#: in SPOOL/private: the opening of the published model (a model opening file, private)
FINAL_OPENING_FILE = "final-model.opening"
RUN_JSON = "run.json"
END_JSON = "end.json"
STEPS_DIR = "steps"
PRIVATE_DIR = "private"
SECRETS_FILE = "secrets.npz"
#: the run's PRF key for the prover's randomness (zkdl.randomness, record.prover_key)
PROVER_KEY_FILE = "prover.key"
LOCK_FILE = "daemon.lock"
#: the spool's owner: the one run directory its windows are proven into (written at first use)
OWNER_FILE = "run-dir.json"
OWNER_FORMAT = "zkdl-spool-owner"
OWNER_VERSION = 1
#: held (fcntl.flock) by the process recording into the spool
RECORDER_LOCK = "recorder.lock"
END_FORMAT = "zkdl-end"
END_VERSION = 1
#: the public end status of a run (manifest "status", zkdl verify)
STATUS_COMPLETE = "complete"
STATUS_IN_PROGRESS = "in progress"
STATUS_STOPPED = "stopped early"
TMP_PREFIX = ".tmp-"


class RunFormatError(ZkdlError):
    """A run or spool file is missing, of the wrong format or version, or malformed (unusable
    input, exit status 2 of the CLI)."""


class RunInvalidError(ZkdlError):
    """A run's files are well formed but do not check out (exit status 1 of the CLI).  ``check``
    names the failing check."""

    def __init__(self, check: str, message: str):
        super().__init__(f"{check}: {message}")
        self.check = check


# ----------------------------------------------------------------------------- atomic files


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_temp(path: str, data: bytes, mode: int) -> tuple[str, str]:
    """Write ``data`` (fsynced) to a fresh temporary file next to ``path``; returns (dir, temp)."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + os.path.basename(path) + ".", dir=d)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _unlink_quiet(tmp)
        raise
    return d, tmp


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename, fsync the directory).
    An existing file at ``path`` is replaced only once the new content is complete on disk."""
    d, tmp = _write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quiet(tmp)
        raise
    fsync_dir(d)


def atomic_write_json(path: str, obj: Any, mode: int = 0o644) -> None:
    atomic_write(path, (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode(), mode)


def create_exclusive(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``path`` atomically, failing (ZkdlError) if it already exists: nothing already
    written is ever overwritten."""
    d, tmp = _write_temp(path, data, mode)
    try:
        os.link(tmp, path)          # fails if path exists
    except FileExistsError:
        raise ZkdlError(f"{path} already exists; not overwriting it") from None
    finally:
        _unlink_quiet(tmp)
    fsync_dir(d)


def remove_stale_temps(directory: str, older_than: float = 0.0) -> int:
    """Delete leftovers of interrupted atomic writes (``.tmp-*``) last modified more than
    ``older_than`` seconds ago (use a margin in directories another process writes to);
    returns how many."""
    import time

    n = 0
    now = time.time()
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        if name.startswith(TMP_PREFIX):
            try:
                if older_than and now - os.stat(os.path.join(directory, name)).st_mtime < older_than:
                    continue
                os.unlink(os.path.join(directory, name))
                n += 1
            except OSError:
                pass
    return n


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: str, what: str) -> bytes:
    if os.path.isdir(path):
        raise RunFormatError(f"{what}: {path} is a directory, not a file")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise RunFormatError(f"{what}: missing file {path}") from None
    except OSError as e:
        raise RunFormatError(f"{what}: cannot read {path}: {e.strerror}") from None


def read_json(path: str, what: str, fmt: str | None = None, version: int | None = None) -> dict:
    raw = read_bytes(path, what)
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunFormatError(f"{what}: {path} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise RunFormatError(f"{what}: {path} is not a JSON object")
    if fmt is not None and obj.get("format") != fmt:
        raise RunFormatError(f"{what}: {path} is not a {fmt} file (format {obj.get('format')!r})")
    if version is not None and obj.get("version") != version:
        v = obj.get("version")
        old = ""
        if isinstance(v, int) and not isinstance(v, bool) and v < version:
            old = (" (written by an older zkdl, before semantics v2 -- master weights --; record and prove the "
                   "run again with this one)")
        raise RunFormatError(f"{what}: {path} has version {v!r}; this zkdl reads version {version}{old}")
    return obj


# ----------------------------------------------------------------------------- configuration


def config_to_json(c: FixedPointConfig) -> dict:
    return {"widths": list(c.widths), "eta_int": c.eta_int, "k": c.k, "batch_size": c.batch_size,
            "seed": c.seed, "R": c.R, "Q": c.Q, "loss": c.loss}


def config_from_json(obj: Any, what: str = "config") -> FixedPointConfig:
    if not isinstance(obj, dict):
        raise RunFormatError(f"{what}: not a JSON object")
    try:
        return FixedPointConfig(widths=tuple(obj["widths"]), eta_int=obj["eta_int"], k=obj["k"],
                                batch_size=obj["batch_size"], seed=obj["seed"], R=obj["R"], Q=obj["Q"],
                                loss=obj.get("loss", "mse"))
    except (KeyError, TypeError) as e:
        raise RunFormatError(f"{what}: missing or malformed field {e}") from None
    except ConfigError as e:
        raise RunFormatError(f"{what}: {e}") from None


def _write_config(w: Writer, c: FixedPointConfig) -> None:
    write_config(w, c)


def _read_config(r: Reader) -> FixedPointConfig:
    return read_config(r, "model commitment file")


# ----------------------------------------------------------------------------- model commitment files


def model_file_bytes(config: FixedPointConfig, model: ModelCommitment) -> bytes:
    """A model commitment file: the ZKDL container (kind MODEL_FILE_KIND) holding the
    configuration it was made for, the per-layer Hyrax commitments and the model's range proof
    (empty when it has none: such a file cannot start a chain)."""
    w = Writer()
    _write_config(w, config)
    model.write(w)
    w.blob(model.range_proof or b"")
    return wrap(MODEL_FILE_KIND, w.getvalue())


def read_model_file(data: bytes) -> tuple[FixedPointConfig, ModelCommitment]:
    """Parse a model commitment file (ProofFormatError when malformed or not canonical)."""
    r = Reader(unwrap(data, MODEL_FILE_KIND))
    config = _read_config(r)
    model = ModelCommitment.read(r, config)
    model.range_proof = r.blob("model range proof", 1 << 31) or None
    r.done()
    require_canonical(data, model_file_bytes(config, model), "model commitment file")
    return config, model


def load_model_file(path: str, what: str = "model commitment") -> tuple[FixedPointConfig, ModelCommitment]:
    data = read_bytes(path, what)
    try:
        return read_model_file(data)
    except ProofFormatError as e:
        raise RunFormatError(f"{what}: {path}: {e}") from None


def load_dataset_file(path: str) -> DatasetCommitment:
    data = read_bytes(path, "dataset commitment")
    try:
        return DatasetCommitment.from_bytes(data)
    except ProofFormatError as e:
        raise RunFormatError(f"dataset commitment: {path}: {e}") from None
    except ZkdlError as e:              # e.g. an invalid point inside PointVec.from_bytes
        raise RunFormatError(f"dataset commitment: {path}: {e}") from None


def model_digest(model: ModelCommitment) -> str:
    """sha256 (hex) of a model commitment's canonical bytes (what the manifest records)."""
    return sha256_bytes(model.to_bytes())


# ----------------------------------------------------------------------------- names


def step_stem(t: int) -> str:
    return f"step-{t:09d}"


def window_file(k: int) -> str:
    return f"window-{k:06d}.proof"


def state_file(k: int) -> str:
    """The prover's carried state after ``k`` proven windows."""
    return f"state-{k:06d}.npz"


def kind_of(data: bytes) -> int | None:
    """The container kind of a ZKDL file, or None if it is not one."""
    if len(data) >= 16 and data[:4] == MAGIC:
        return struct.unpack_from("<H", data, 6)[0]
    return None


def statement_summary(st: Statement) -> dict:
    """A JSON-ready description of a window statement (what a proof claims)."""
    c = st.config
    out = {
        "t0": st.t0, "T": st.T, "steps": [st.t0, st.t0 + st.T - 1],
        "config": config_to_json(c), "learning_rate": c.eta, "n_examples": st.n_examples,
        "dataset_digest": st.dataset_digest.hex(),
        "model_before_sha256": model_digest(st.before), "model_after_sha256": model_digest(st.after),
        "losses_int": None if st.losses is None else [str(v) for v in st.losses],
        "losses": None if st.losses is None else [loss_value(v, c) for v in st.losses],
    }
    return out


def loss_value(loss_int: int, config: FixedPointConfig) -> float:
    """Per-example loss of a step: loss_int / (2^(2R) * B)."""
    return int(loss_int) / (4.0 ** config.R * config.batch_size)


#: the manifest's per-window fields that depend on when and where a window was proven
TIMING_FIELDS = ("prove_seconds", "verify_seconds", "adopted")


def comparable_files(run_dir: str) -> dict[str, bytes]:
    """A run directory's files (name -> bytes; hidden files such as the daemon's lock left out),
    the manifest re-encoded without its timing fields: two proofs of one run, by any number of
    workers, in any order, across restarts, give equal dictionaries (docs/protocol.md §12)."""
    out = {}
    for name in sorted(os.listdir(run_dir)):
        path = os.path.join(run_dir, name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if name == MANIFEST:
            m = json.loads(data)
            for w in m.get("windows", []):
                for k in TIMING_FIELDS:
                    w.pop(k, None)
            data = json.dumps(m, sort_keys=True).encode()
        out[name] = data
    return out
