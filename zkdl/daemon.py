"""The prover daemon: ``zkdl daemon --spool DIR --out DIR [--window T] [--once]``.

It watches a spool written by :class:`zkdl.record.Recorder` (polling), proves every complete
window of T consecutive steps as soon as it is there, and writes into the run directory (OUT):
``window-NNNNNN.proof`` and ``manifest.json`` (plus, once, copies of the dataset and initial model
commitments).  At the end it publishes the run's model: the last master weights rounded to scale
2^R (round_master), ``final-model.commitment`` with its range proof, and ``final-model.link``, the
proof that ties it to the last window's after-commitment (prove_final_model); the model's opening
goes to ``SPOOL/private/final-model.opening`` (``zkdl export-model``, a later run).  If the rounded
weights leave [-2^(Q-1), 2^(Q-1)) the run is still complete but publishes no model (the manifest's
``final_model`` says so).

Crash safety.  Every file is written atomically (:func:`zkdl.runfiles.atomic_write`).  For window
k the daemon (1) proves, (2) writes ``window-k.proof``, (3) writes its carried state (the
after-commitment to the master weights and its opening) to ``SPOOL/private/state-(k+1).npz``, (4) re-reads the proof file
and verifies it, (5) appends the window to the manifest, (6) deletes the window's traces and the
previous state.  Killed at any instant and restarted, it resumes from the manifest: a proof file
with no manifest entry is adopted when the carried state written next to it matches (else it is
proved again, replacing the file); traces already covered by a manifest entry are deleted.  So no
window is lost, none is proven into the manifest twice, and the manifest is never partial.

One daemon per spool (and per run directory): an exclusive ``fcntl.flock`` on
``SPOOL/daemon.lock`` and ``OUT/.daemon.lock``; a second daemon exits with status 3 (or, with
``--wait-lock``, waits for the first to finish).

A spool belongs to one run directory: the first daemon (or a Recorder given ``out``) records it in
``SPOOL/run-dir.json``; a daemon pointed at another ``--out`` refuses at once (exit 2, naming the
run directory), before writing anything.  No file is deleted unless the run directory has
superseded it: a trace once a manifest entry covers it, a prover state once the next one is
written and recorded; a spool whose prover state is ahead of the run directory's manifest (an
older copy of the run directory) is refused, not "cleaned up".

The end of a run is public: the manifest's ``status`` is "in progress", "complete" or "stopped
early: <reason>" (from the recorder's end.json; ``complete`` is true only for "complete").

Signals: the first SIGTERM / SIGINT lets the window in hand finish (proved, verified, recorded)
and exits 0; a second one abandons it at once (nothing is recorded for it; a restart proves it
again) and exits 0.
"""
from __future__ import annotations

import fcntl
import os
import signal
import sys
import time

from . import runfiles as rf
from .errors import FieldRangeError, ZkdlError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


class DaemonError(ZkdlError):
    """The daemon cannot run (bad spool / run directory, unsupported backend)."""


class DaemonBusy(DaemonError):
    """Another daemon holds the lock."""


class _Abandon(BaseException):
    pass


def _listdir(d: str) -> list[str]:
    try:
        return os.listdir(d)
    except OSError:
        return []


def owner_mismatch(spool: str, owner: dict) -> str:
    from .record import owner_mismatch as msg

    return msg(spool, owner)


class _Log:
    """The daemon's output.  On a TTY: a live progress bar (zkdl.progress, drawn by tqdm) -- steps
    proven / total once the run has ended (else the count), throughput, ETA, the window in hand
    and the queue depth -- with the log lines above it.  Otherwise (a log file, a pipe): plain
    lines, ``zkdl daemon: window K: steps A..B proved in ...`` and ``zkdl daemon: progress: 4/6
    steps proven, 0.31 s/step, queue 2 steps, eta 0.6 s``."""

    def __init__(self, stream=None, quiet: bool = False):
        from .progress import is_tty

        self.s = stream or sys.stdout
        self.tty = is_tty(self.s)
        self.quiet = quiet
        self._bar = None

    def line(self, msg: str) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(f"zkdl daemon: {msg}")
            return
        self.s.write(f"zkdl daemon: {msg}\n")
        self.s.flush()

    def start(self, done: int, total: int | None) -> None:
        """Before the first window (``done`` steps proven already): the bar, on a TTY."""
        if self.quiet or not self.tty or self._bar is not None:
            return
        from .progress import Bar

        self._bar = Bar(self.s, unit="step", desc="proven", total=total, initial=done)

    def working(self, k: int, t0: int, T: int) -> None:
        """Window k (steps t0..t0+T-1) is being proven."""
        if self._bar is not None:
            self._bar.set_desc(f"proving {t0}..{t0 + T - 1}")

    def tick(self) -> None:
        """While idle: redraw the bar (elapsed time)."""
        if self._bar is not None:
            self._bar.refresh()

    def progress(self, done: int, total: int | None, sps: float | None, queue: int) -> None:
        from .progress import eta_seconds, fmt_seconds

        if self.quiet:
            return
        rate = f"{sps:.2f} s/step" if sps else "-- s/step"
        eta = eta_seconds(done, total, sps, queue)
        if self.tty:
            self.start(done, total)
            post = f"prover {rate}, queue {queue}"
            if total is None and eta is not None and queue:
                post += f" (~{fmt_seconds(eta)})"       # no total yet: tqdm shows no ETA; the queue's
            self._bar.update_to(done, total, post, desc="proven")
        else:
            tot = f"/{total}" if total else ""
            left = ""
            if eta is not None and (queue or (total and done < total)):
                left = f", eta {fmt_seconds(eta)}" + ("" if total else " for the queue")
            self.line(f"progress: {done}{tot} steps proven, {rate}, queue {queue} steps{left}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _lock(path: str, wait: bool):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        raise DaemonBusy(f"another zkdl daemon holds {path}; not starting a second one") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


class Daemon:
    def __init__(self, spool: str, out: str, *, window: int | None = None, backend: str = "cpu",
                 once: bool = False, poll: float = 0.25, wait_lock: bool = False, stream=None,
                 quiet: bool = False, max_windows: int | None = None):
        if backend != "cpu":
            raise DaemonError(f"--backend {backend}: no GPU prover backend yet (zkdl.prover_gpu is not "
                              "implemented); use --backend cpu")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise DaemonError(f"--window must be an integer >= 1, got {window!r}")
        self.spool = os.path.abspath(spool)
        self.out = os.path.abspath(out)
        self.window_arg = window
        self.once = once
        self.poll = poll
        self.wait_lock = wait_lock
        self.log = _Log(stream, quiet)
        self.max_windows = max_windows
        self._stop = False
        self._in_hand = False

    # ------------------------------------------------------------------ signals
    def _on_signal(self, signum, frame):
        if self._stop or not self._in_hand:
            if self._in_hand:
                self.log.line(f"signal {signum} again: abandoning the window in hand")
                raise _Abandon()
            self._stop = True
            return
        self._stop = True
        self.log.line(f"signal {signum}: finishing the window in hand, then exiting "
                      "(send it again to abandon the window)")

    # ------------------------------------------------------------------ set-up
    def _setup(self) -> None:
        from zkdl.circuits import prover  # noqa: F401  (fail early if the prover is missing)
        from .record import SpoolError, load_secrets, read_run

        if not os.path.isdir(self.spool):
            raise DaemonError(f"spool {self.spool} is not a directory")
        try:
            run = read_run(self.spool)
        except SpoolError as e:
            raise DaemonError(str(e)) from None
        self.run = run
        self.config = rf.config_from_json(run.get("config"), "spool run.json config")
        self.t_start = int(run.get("t0", 0))
        self.reveal = bool(run.get("reveal_losses", True))
        self.dataset = rf.load_dataset_file(os.path.join(self.spool, rf.DATASET_FILE))
        if self.dataset.digest().hex() != run.get("dataset_digest"):
            raise DaemonError("spool: dataset.commitment does not match run.json")
        _, self.initial = rf.load_model_file(os.path.join(self.spool, rf.INITIAL_MODEL_FILE))
        self.private = os.path.join(self.spool, rf.PRIVATE_DIR)
        try:
            self.dsec, self.msec0 = load_secrets(os.path.join(self.private, rf.SECRETS_FILE), self.config)
        except SpoolError as e:
            raise DaemonError(str(e)) from None
        os.makedirs(self.out, exist_ok=True)
        for d in (self.out, self.private):
            rf.remove_stale_temps(d)
        # the recorder may be writing a step right now: only leftovers older than an hour
        rf.remove_stale_temps(os.path.join(self.spool, rf.STEPS_DIR), older_than=3600)
        m = self._read_manifest(run)
        if m is not None:
            self.manifest = m
            self._bind()
        else:
            if any(n.startswith("state-") for n in _listdir(self.private)):
                raise DaemonError(f"windows of this spool were already proven into another run directory; "
                                  f"{self.out} has no manifest")
            stray = [n for n in _listdir(self.out)
                     if n.startswith("window-") or n in (rf.FINAL_MODEL_FILE, rf.FINAL_LINK_FILE)]
            if stray:
                raise DaemonError(f"{self.out} holds proofs ({stray[0]}) but no manifest; use a new --out")
            self._bind()
            ds = rf.read_bytes(os.path.join(self.spool, rf.DATASET_FILE), "dataset commitment")
            mf = rf.read_bytes(os.path.join(self.spool, rf.INITIAL_MODEL_FILE), "initial model")
            rf.atomic_write(os.path.join(self.out, rf.DATASET_FILE), ds)
            rf.atomic_write(os.path.join(self.out, rf.INITIAL_MODEL_FILE), mf)
            self.manifest = {
                "format": rf.MANIFEST_FORMAT, "version": rf.MANIFEST_VERSION, "run_id": run["run_id"],
                "config": rf.config_to_json(self.config), "n_examples": self.dataset.n,
                "dataset_digest": self.dataset.digest().hex(),
                "dataset_commitment": {"file": rf.DATASET_FILE, "sha256": rf.sha256_bytes(ds)},
                "initial_model": {"file": rf.INITIAL_MODEL_FILE, "sha256": rf.sha256_bytes(mf),
                                  "model_sha256": rf.model_digest(self.initial)},
                "t0": self.t_start, "window": self.window_arg or int(run.get("window", 8)),
                "reveal_losses": self.reveal, "windows": [], "total_steps": None, "complete": False,
                "status": rf.STATUS_IN_PROGRESS, "final_model": None,
            }
            rf.atomic_write_json(os.path.join(self.out, rf.MANIFEST), self.manifest)
        self.T = int(self.manifest["window"])
        if self.window_arg is not None and self.window_arg != self.T:
            raise DaemonError(f"this run is proven in windows of {self.T} steps; --window {self.window_arg} differs")

    def _carried(self):
        """(next window index, next step, the commitment the next window starts from, its opening):
        the initial model (a ModelCommitment) before the first window, else the after-commitment
        of the last one (a MasterCommitment)."""
        from .record import SpoolError, load_state

        ws = self.manifest["windows"]
        k = len(ws)
        nxt = self.t_start + sum(w["T"] for w in ws)
        self._check_states(k)
        if k == 0:
            return k, nxt, self.initial, self.msec0
        try:
            st = load_state(os.path.join(self.private, rf.state_file(k)), self.config)
        except SpoolError as e:
            raise DaemonError(f"cannot continue the chain: {e}") from None
        if rf.model_digest(st["after"]) != ws[-1]["after_sha256"] or st["next_step"] != nxt:
            raise DaemonError(f"cannot continue the chain: {rf.state_file(k)} does not match the manifest")
        return k, nxt, st["after"], st["secret"]

    def _cleanup(self, k: int, nxt: int) -> None:
        """Delete what this run directory's manifest has superseded: traces of steps < nxt (proven
        in a recorded window) and prover states before state k (the one _carried loaded)."""
        from .record import delete_step

        self._cleanup_states(k)
        steps_dir = os.path.join(self.spool, rf.STEPS_DIR)
        for name in os.listdir(steps_dir):
            if name.startswith("step-") and name.endswith((".json", ".npz")):
                try:
                    t = int(name[5:].split(".")[0])
                except ValueError:
                    continue
                if t < nxt:
                    delete_step(self.spool, t)

    def _state_files(self) -> dict[int, str]:
        out = {}
        for name in _listdir(self.private):
            if name.startswith("state-") and name.endswith(".npz"):
                try:
                    out[int(name[6:-4])] = name
                except ValueError:
                    continue
        return out

    def _check_states(self, k: int) -> None:
        """A state after more than k + 1 windows is never ours to delete (state k + 1 may be a
        window proven but not yet recorded): the run directory is behind the spool."""
        ahead = [j for j in self._state_files() if j > k + 1]
        if ahead:
            raise DaemonError(f"the spool holds the prover state after {max(ahead)} windows but {self.out} "
                              f"lists {k}: this run directory is behind the spool (restored from an older "
                              "copy?); nothing was deleted")

    def _cleanup_states(self, k: int) -> None:
        self._check_states(k)
        for j, name in self._state_files().items():
            if j < k:                           # superseded by state k (loaded by _carried)
                os.unlink(os.path.join(self.private, name))

    def _end(self) -> dict | None:
        """The recorder's end of the run: {"steps", "status"}, or None while it is in progress."""
        from .record import SpoolError, read_end

        try:
            return read_end(self.spool)
        except SpoolError as e:
            raise DaemonError(str(e)) from None

    def _ended(self) -> bool:
        return self.manifest.get("total_steps") is not None or bool(self.manifest.get("complete"))

    def _check_owner(self) -> None:
        """Before anything is written: the spool must be a zkdl spool and either belong to this
        run directory or be unbound and fit it (no window proven elsewhere)."""
        from .record import SpoolError, read_owner, read_run, same_dir

        try:
            run = read_run(self.spool)
            owner = read_owner(self.spool)
        except SpoolError as e:
            raise DaemonError(str(e)) from None
        if owner is not None:
            if not same_dir(owner["run_dir"], self.out):
                raise DaemonError(owner_mismatch(self.spool, owner))
            return
        proven = any(n.startswith("state-") for n in _listdir(os.path.join(self.spool, rf.PRIVATE_DIR)))
        if self._read_manifest(run) is None and proven:
            raise DaemonError(f"windows of this spool were already proven into another run directory; "
                              f"{self.out} has no manifest")

    def _read_manifest(self, run: dict) -> dict | None:
        """The run directory's manifest (None if there is none yet); refused if it is another run's."""
        mpath = os.path.join(self.out, rf.MANIFEST)
        if not os.path.exists(mpath):
            return None
        try:
            m = rf.read_json(mpath, "manifest", rf.MANIFEST_FORMAT, rf.MANIFEST_VERSION)
        except rf.RunFormatError as e:
            raise DaemonError(str(e)) from None
        if m.get("run_id") != run.get("run_id"):
            raise DaemonError(f"{self.out} holds the proofs of another run (run_id differs); use another --out")
        return m

    def _bind(self) -> None:
        """Record (once) that the spool belongs to this run directory (under both locks)."""
        from .record import SpoolError, bind_owner

        try:
            bind_owner(self.spool, self.out, self.run["run_id"])
        except SpoolError as e:
            raise DaemonError(str(e)) from None

    def _master_before(self, model):
        """The master-weight commitment a window starting from ``model`` starts from: itself for
        a window's after-commitment, master_of(model) for the initial model (semantics v2)."""
        from zkdl.circuits.training import MasterCommitment, master_of

        return model if isinstance(model, MasterCommitment) else master_of(self.config, model)

    # ------------------------------------------------------------------ one window
    def _prove_window(self, k: int, t0: int, T: int, model, msec):
        from zkdl.circuits.prover import prove_window
        from zkdl.circuits.training import WindowProof, verify_window
        from zkdl.codec import ProofFormatError
        from .record import SpoolError, load_state, read_trace, save_state

        ppath = os.path.join(self.out, rf.window_file(k))
        spath = os.path.join(self.private, rf.state_file(k + 1))
        adopted = None
        before = self._master_before(model)
        if os.path.exists(ppath) and os.path.exists(spath):     # crashed after writing both: adopt
            try:
                data = rf.read_bytes(ppath, "proof")
                proof = WindowProof.from_bytes(data)
                st = load_state(spath, self.config)
                s = proof.statement
                if (s.after == st["after"] and s.before == before and s.t0 == t0 and s.T == T
                        and st["proof_sha256"] == rf.sha256_bytes(data)):
                    adopted = (proof, st["after"], st["secret"], 0.0)
            except (ZkdlError, rf.RunFormatError, SpoolError, ProofFormatError):
                adopted = None
        if adopted is None:
            try:
                traces = [read_trace(self.spool, t, self.config) for t in range(t0, t0 + T)]
            except SpoolError as e:
                raise DaemonError(str(e)) from None
            t_prove = time.perf_counter()
            proof, after, after_sec = prove_window(traces, model, msec, self.dataset, self.dsec,
                                                   reveal_losses=self.reveal)
            t_prove = time.perf_counter() - t_prove
            data = proof.to_bytes()
            rf.atomic_write(ppath, data)
            save_state(spath, k + 1, t0 + T, after, after_sec, rf.sha256_bytes(data))
        else:
            proof, after, after_sec, t_prove = adopted
            self.log.line(f"window {k}: adopted the proof written before a restart")
        # verify what is on disk before anything is deleted
        t_ver = time.perf_counter()
        disk = rf.read_bytes(ppath, "proof")
        # the chain start: the spool's (range-proven) initial model, else the previous window
        start = model if k == 0 else WindowProof.from_bytes(
            rf.read_bytes(os.path.join(self.out, rf.window_file(k - 1)), "proof")).statement
        if k:
            start.chain_verified = True     # this daemon verified window k - 1 before recording it
        st = verify_window(disk, self.dataset, start, expected=proof.statement)
        t_ver = time.perf_counter() - t_ver
        if st.before != before or st.t0 != t0 or st.T != T:
            raise DaemonError(f"window {k}: the proof does not continue the chain (internal error)")
        entry = {"index": k, "t0": t0, "T": T, "file": rf.window_file(k), "sha256": rf.sha256_bytes(disk),
                 "bytes": len(disk), "before_sha256": rf.model_digest(st.before),
                 "after_sha256": rf.model_digest(st.after),
                 "losses_int": None if st.losses is None else [str(v) for v in st.losses],
                 "prove_seconds": round(t_prove, 4), "verify_seconds": round(t_ver, 4)}
        if adopted is not None:
            entry["adopted"] = True     # proven before a restart: its proving time is unknown (0 above)
        return entry, after, after_sec

    def _commit_entry(self, entry: dict, k: int, nxt: int) -> None:
        from .record import delete_step

        self.manifest["windows"].append(entry)
        rf.atomic_write_json(os.path.join(self.out, rf.MANIFEST), self.manifest)
        for t in range(entry["t0"], entry["t0"] + entry["T"]):
            delete_step(self.spool, t)
        old = os.path.join(self.private, rf.state_file(k))
        if k >= 1 and os.path.exists(old) and os.path.exists(os.path.join(self.private, rf.state_file(k + 1))):
            os.unlink(old)              # superseded: state k+1 opens the after-commitment just recorded

    def _finish(self, total: int, after, secret, status: str) -> None:
        """The end of the run: publish its model and record the end in the manifest.

        The published model is W = round_master(M) of the last master weights M (opened by
        ``secret`` against ``after``, the last window's after-commitment): final-model.commitment
        (W committed, with its range proof, so that it can start a chain: a later run, inference
        proofs) and final-model.link (the proof tying it to ``after``), both verified from disk
        first; its opening goes to SPOOL/private/final-model.opening.  Weights whose rounding
        leaves [-2^(Q-1), 2^(Q-1)) are a valid, complete end of this run, which then publishes
        no model.  Written in the order opening, commitment, link, manifest: the manifest is the
        commit point (a crash before it makes a restart publish afresh)."""
        from zkdl.circuits.prover import master_secret, prove_final_model
        from zkdl.circuits.training import MasterCommitment, master_of, verify_final_model
        from zkdl.errors import VerificationError
        from zkdl.fixedpoint import TrainingRangeError

        from .record import save_model_opening, weights_from_secret

        if not isinstance(after, MasterCommitment):     # no window proven: the chain's start itself
            after, secret = master_of(self.config, after), master_secret(self.config, secret)
        final = {"file": None, "sha256": None, "model_sha256": None, "link_file": None, "link_sha256": None,
                 "master_sha256": rf.model_digest(after)}
        fpath, lpath = os.path.join(self.out, rf.FINAL_MODEL_FILE), os.path.join(self.out, rf.FINAL_LINK_FILE)
        opath = os.path.join(self.private, rf.FINAL_OPENING_FILE)
        try:
            model, msec, link = prove_final_model(self.config, weights_from_secret(self.config, secret), after,
                                                  secret)
        except (TrainingRangeError, FieldRangeError):
            model = None
        if model is None:
            for p in (fpath, lpath, opath):         # a stale attempt (never recorded): not this run's model
                if os.path.exists(p):
                    os.unlink(p)
            final["reason"] = (f"the final weights, rounded to scale 2^R, lie outside [-2^{self.config.Q - 1}, "
                               f"2^{self.config.Q - 1})")
            self.log.line(f"{final['reason']}: the run ends without a published model (no {rf.FINAL_MODEL_FILE}; "
                          "it cannot start another run or back inference proofs)")
        else:
            mf = rf.model_file_bytes(self.config, model)
            save_model_opening(opath, msec)
            rf.atomic_write(fpath, mf)
            rf.atomic_write(lpath, link)
            # check what is on disk before the manifest names it
            _, disk_model = rf.load_model_file(fpath, "final model")
            disk_link = rf.read_bytes(lpath, "final model link")
            try:
                verify_final_model(self.config, after, disk_model, disk_link)
            except VerificationError as e:
                raise DaemonError(f"the published model does not verify (internal error): {e}") from None
            final.update(file=rf.FINAL_MODEL_FILE, sha256=rf.sha256_bytes(mf), model_sha256=rf.model_digest(model),
                         link_file=rf.FINAL_LINK_FILE, link_sha256=rf.sha256_bytes(disk_link))
        self.manifest["total_steps"] = total
        self.manifest["status"] = status
        self.manifest["complete"] = status == rf.STATUS_COMPLETE
        self.manifest["final_model"] = final
        rf.atomic_write_json(os.path.join(self.out, rf.MANIFEST), self.manifest)

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        from .record import list_steps

        if not os.path.isdir(self.spool):
            raise DaemonError(f"spool {self.spool} is not a directory")
        if not os.path.exists(os.path.join(self.spool, rf.RUN_JSON)):
            raise DaemonError(f"{self.spool} is not a zkdl spool (no {rf.RUN_JSON})")
        locks = [_lock(os.path.join(self.spool, rf.LOCK_FILE), self.wait_lock)]
        try:
            self._check_owner()                 # before anything is written (--out not even created)
            try:
                os.makedirs(self.out, exist_ok=True)
            except OSError as e:
                raise DaemonError(f"cannot create the run directory {self.out}: {e.strerror}") from None
            locks.append(_lock(os.path.join(self.out, ".daemon.lock"), self.wait_lock))
            self._setup()
            k, nxt, model, msec = self._carried()
            self._cleanup(k, nxt)
            rates: list[float] = []
            done_windows = 0
            if not self._ended():
                self.log.line(f"proving {self.spool} into {self.out}: windows of {self.T} steps, "
                              f"{len(self.manifest['windows'])} already proven (next step {nxt})")
                self.log.start(nxt - self.t_start, None)
            while not self._stop:
                if self._ended():
                    break
                end = self._end()
                end_steps = None if end is None else end["steps"]
                have = set(list_steps(self.spool))
                avail = 0
                while nxt + avail in have:
                    avail += 1
                if end is not None and nxt >= end_steps:
                    self._finish(nxt, model, msec, end["status"])
                    self.log.line(f"run {end['status']}: {nxt - self.t_start} steps in "
                                  f"{len(self.manifest['windows'])} windows; manifest "
                                  f"{os.path.join(self.out, rf.MANIFEST)}")
                    break
                if avail >= self.T:
                    T = self.T
                elif end is not None and avail > 0 and nxt + avail >= end_steps:
                    T = end_steps - nxt                      # the last, shorter window
                else:
                    if self.once:
                        self.log.line(f"--once: nothing more to prove now (next step {nxt}, "
                                      f"{avail} steps waiting)")
                        break
                    self.log.tick()
                    time.sleep(self.poll)
                    continue
                if self.max_windows is not None and done_windows >= self.max_windows:
                    break
                self._in_hand = True
                self.log.working(k, nxt, T)
                try:
                    entry, after, after_sec = self._prove_window(k, nxt, T, model, msec)
                    self._commit_entry(entry, k, nxt)
                finally:
                    self._in_hand = False
                done_windows += 1
                k, nxt, model, msec = k + 1, nxt + T, after, after_sec
                if entry["prove_seconds"] and not entry.get("adopted"):     # daemon seconds per step
                    rates.append((entry["prove_seconds"] + entry["verify_seconds"]) / T)
                queue = len([t for t in list_steps(self.spool) if t >= nxt])
                how = ("adopted (proved before a restart, time unknown)" if entry.get("adopted") else
                       f"proved in {entry['prove_seconds']:.2f} s ({entry['prove_seconds'] / T:.2f} s/step)")
                self.log.line(f"window {k - 1}: steps {entry['t0']}..{entry['t0'] + T - 1} {how}, "
                              f"verified in {entry['verify_seconds']:.2f} s, {entry['bytes']} bytes")
                total = (end_steps - self.t_start) if end is not None else None
                recent = rates[-4:]
                self.log.progress(nxt - self.t_start, total, sum(recent) / len(recent) if recent else None, queue)
            if self._stop:
                self.log.line("stopped by signal")
            return EXIT_OK
        except _Abandon:
            self.log.line("abandoned the window in hand; a restart proves it again")
            return EXIT_OK
        finally:
            self.log.close()
            for fd in locks:
                os.close(fd)


def main(args) -> int:
    """Entry point from zkdl.cli (args: the parsed namespace)."""
    d = Daemon(args.spool, args.out, window=args.window, backend=args.backend, once=args.once,
               poll=args.poll, wait_lock=args.wait_lock, quiet=args.quiet)
    old = {s: signal.signal(s, d._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return d.run()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
