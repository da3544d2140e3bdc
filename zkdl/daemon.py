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


class WindowError(DaemonError):
    """A window failed on its worker (it could not be proven, or its proof did not verify); it was
    not recorded."""


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

    def progress(self, done: int, total: int | None, sps: float | None, queue: int,
                 inflight: int | None = None) -> None:
        from .progress import eta_seconds, fmt_seconds

        if self.quiet:
            return
        rate = f"{sps:.2f} s/step" if sps else "-- s/step"
        eta = eta_seconds(done, total, sps, queue)
        if self.tty:
            self.start(done, total)
            post = f"prover {rate}, queue {queue}" + ("" if inflight is None else f", {inflight} in flight")
            if total is None and eta is not None and queue:
                post += f" (~{fmt_seconds(eta)})"       # no total yet: tqdm shows no ETA; the queue's
            self._bar.update_to(done, total, post, desc="proven")
        else:
            tot = f"/{total}" if total else ""
            left = ""
            if eta is not None and (queue or (total and done < total)):
                left = f", eta {fmt_seconds(eta)}" + ("" if total else " for the queue")
            fl = "" if inflight is None else f", {inflight} window{'s' if inflight != 1 else ''} in flight"
            self.line(f"progress: {done}{tot} steps proven, {rate}{fl}, queue {queue} steps{left}")

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
                 quiet: bool = False, max_windows: int | None = None, workers: int | None = None,
                 ray: str | None = None, traces: str | None = None, threads: int | None = None):
        from .cluster import default_threads

        if backend not in ("cpu", "gpu"):
            raise DaemonError(f"--backend must be cpu or gpu, got {backend!r}")
        if backend == "gpu":            # before anything is written: a usable device (or ZKDL_GPU_DEVICE=emu)
            from zkdl.prover_gpu.backend import from_env

            try:
                from_env()
            except ZkdlError as e:
                raise DaemonError(f"--backend gpu: {e}") from None
        self.backend = backend
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
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise DaemonError(f"--workers must be an integer >= 1, got {workers!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 64):
            raise DaemonError(f"--threads must be an integer in [1, 64], got {threads!r}")
        if traces not in (None, "shared", "store"):
            raise DaemonError(f"--traces must be 'shared' or 'store', got {traces!r}")
        self.workers = workers
        self.ray = ray
        local_ray = ray is None and (workers or 1) > 1
        # traces: a local cluster shares the spool's file system; a remote one may not
        self.transport = traces or ("store" if ray is not None else "shared")
        if ray is None and not local_ray:
            self.transport = "store"            # one worker: this process, traces in memory
        self.threads = threads or (default_threads(workers) if local_ray else 1 if ray is not None else None)
        if local_ray or ray is not None:        # before anything is written: Ray there, the cluster reachable
            from .cluster import ClusterError, check_address, import_ray

            try:
                import_ray()
                if ray is not None:
                    check_address(ray)
            except ClusterError as e:
                raise DaemonError(str(e)) from None
        self._stop = False
        self._in_hand = False
        #: per recorded window: worker, proving / self-check / whole-job seconds on the worker and
        #: the round trip seen here (submission to result; minus job_s: scheduling and transfer)
        self.stats: list[dict] = []
        self.startup_s = self.t_ready = None     # seconds to start the workers (Ray), and when they were

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
        from .record import SpoolError, load_secrets, prover_key, read_run

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
            self.prf_key = prover_key(self.spool, create=True)
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
        """A state after more than k + 1 windows is never ours to delete: either it belongs to a
        window proven (out of order, by a worker) but not yet recorded -- its proof file, with the
        digest the state names, is in the run directory -- or the run directory is behind the
        spool."""
        from .record import SpoolError, load_state

        def pending(j: int) -> bool:
            ppath = os.path.join(self.out, rf.window_file(j - 1))
            try:
                st = load_state(os.path.join(self.private, rf.state_file(j)), self.config)
                return os.path.exists(ppath) and st["proof_sha256"] == rf.sha256_bytes(rf.read_bytes(ppath, "proof"))
            except (SpoolError, rf.RunFormatError):
                return False

        ahead = [j for j in self._state_files() if j > k + 1 and not pending(j)]
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

    # ------------------------------------------------------------------ one window
    def _window_at(self, t: int, have: set, end_steps: int | None) -> int | None:
        """The size of the window starting at step t once all its steps are recorded (T, or the
        shorter last window of an ended run), else None."""
        avail = 0
        while avail < self.T and t + avail in have:
            avail += 1
        if avail >= self.T:
            return self.T
        if end_steps is not None and avail > 0 and t + avail >= end_steps:
            return end_steps - t
        return None

    def _job(self, k: int, t0: int, T: int, start):
        from .record import SpoolError, read_trace
        from .worker import WindowJob

        job = WindowJob(k, t0, T, self.config, self.dataset, self.prf_key, self.reveal, start=start,
                        threads=self.threads, backend=self.backend)
        if self.transport == "shared":
            job.spool = self.spool          # the worker reads the steps and the dataset opening there
        else:
            try:
                job.traces = [read_trace(self.spool, t, self.config) for t in range(t0, t0 + T)]
            except SpoolError as e:
                raise DaemonError(str(e)) from None
            job.dataset_secret = self.dsec
        return job

    def _arrived(self, res) -> None:
        """A window's verified proof came back (in any order): write it and its carried state, so
        that a restart adopts it instead of proving it again; the manifest is not touched."""
        from .record import save_state

        if rf.sha256_bytes(res.proof) != res.sha256:
            raise WindowError(f"window {res.k}: the proof that came back is not the one its worker verified")
        rf.atomic_write(os.path.join(self.out, rf.window_file(res.k)), res.proof)
        save_state(os.path.join(self.private, rf.state_file(res.k + 1)), res.k + 1, res.t0 + res.T, res.after,
                   res.after_secret, res.sha256)

    def _on_disk(self, k: int, t0: int, T: int) -> bool:
        """Window k's proof and the state after it are on disk and belong together (written before
        a restart): a candidate for adoption (_adopt checks it fully)."""
        from .record import SpoolError, load_state

        ppath = os.path.join(self.out, rf.window_file(k))
        spath = os.path.join(self.private, rf.state_file(k + 1))
        if not (os.path.exists(ppath) and os.path.exists(spath)):
            return False
        try:
            st = load_state(spath, self.config)
            return st["next_step"] == t0 + T and st["proof_sha256"] == rf.sha256_bytes(rf.read_bytes(ppath, "proof"))
        except (SpoolError, rf.RunFormatError):
            return False

    def _adopt(self, k: int, t0: int, T: int):
        """The WindowResult of a proof written before a restart, verified here; None if it does not
        hold up (it is then proven again)."""
        from zkdl.circuits.training import WindowProof, verify_window_alone
        from zkdl.codec import ProofFormatError

        from .record import SpoolError, load_state
        from .worker import WindowResult

        try:
            data = rf.read_bytes(os.path.join(self.out, rf.window_file(k)), "proof")
            st = load_state(os.path.join(self.private, rf.state_file(k + 1)), self.config)
            s = WindowProof.from_bytes(data).statement
            if not (s.t0 == t0 and s.T == T and s.after == st["after"] and st["proof_sha256"] == rf.sha256_bytes(data)):
                return None
            t = time.perf_counter()
            verify_window_alone(data, self.dataset, expected=s)
        except (ZkdlError, rf.RunFormatError, SpoolError, ProofFormatError):
            return None
        return WindowResult(k, t0, T, data, rf.sha256_bytes(data), st["after"], st["secret"], 0.0,
                            time.perf_counter() - t, 0.0, "adopted", adopted=True)

    def _previous_statement(self, k: int):
        """The statement of window k - 1 (recorded, so verified by this daemon): the start of window k."""
        from zkdl.circuits.training import WindowProof

        if k == 0:
            return None
        st = WindowProof.from_bytes(rf.read_bytes(os.path.join(self.out, rf.window_file(k - 1)), "proof")).statement
        st.chain_verified = True        # this daemon verified window k - 1 before recording it
        return st

    def _record_entry(self, k: int, t0: int, T: int, res, prev):
        """Window k, verified alone by its worker: its proof file must be the bytes verified and
        continue the chain (continue_chain from the initial model or window k - 1's statement).
        Returns (manifest entry, statement)."""
        from zkdl.circuits.training import WindowProof, continue_chain
        from zkdl.errors import VerificationError

        disk = rf.read_bytes(os.path.join(self.out, rf.window_file(k)), "proof")
        if rf.sha256_bytes(disk) != res.sha256:
            raise DaemonError(f"window {k}: the proof file on disk is not the one verified (disk error?)")
        st = WindowProof.from_bytes(disk).statement
        st.body_verified = True         # the very bytes its worker verified (verify_window_alone)
        try:
            continue_chain(st, self.initial if k == 0 else prev)
        except VerificationError as e:
            raise DaemonError(f"window {k}: the proof does not continue the chain (internal error): {e}") from None
        if st.t0 != t0 or st.T != T:
            raise DaemonError(f"window {k}: the proof is about steps {st.t0}..{st.t0 + st.T - 1}, not "
                              f"{t0}..{t0 + T - 1} (internal error)")
        entry = {"index": k, "t0": t0, "T": T, "file": rf.window_file(k), "sha256": res.sha256,
                 "bytes": len(disk), "before_sha256": rf.model_digest(st.before),
                 "after_sha256": rf.model_digest(st.after),
                 "losses_int": None if st.losses is None else [str(v) for v in st.losses],
                 "prove_seconds": round(res.prove_seconds, 4), "verify_seconds": round(res.verify_seconds, 4)}
        if res.adopted:
            entry["adopted"] = True     # proven before a restart: its proving time is unknown (0 above)
        return entry, st

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
            from .worker import prover_backend

            with prover_backend(self.backend):
                model, msec, link = prove_final_model(self.config, weights_from_secret(self.config, secret), after,
                                                      secret, prf_key=self.prf_key)
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
        from .cluster import ClusterError, JobFailed, executor
        from .record import list_steps
        from .worker import run_window, warm_up

        if not os.path.isdir(self.spool):
            raise DaemonError(f"spool {self.spool} is not a directory")
        if not os.path.exists(os.path.join(self.spool, rf.RUN_JSON)):
            raise DaemonError(f"{self.spool} is not a zkdl spool (no {rf.RUN_JSON})")
        locks = [_lock(os.path.join(self.spool, rf.LOCK_FILE), self.wait_lock)]
        pool = None
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
            prev = self._previous_statement(k)
            if self._ended():
                return EXIT_OK
            t = time.perf_counter()
            try:
                pool = executor(self.workers, self.ray)
            except ClusterError as e:
                raise DaemonError(str(e)) from None
            pool.warm(warm_up)
            self.startup_s, self.t_ready = time.perf_counter() - t, time.perf_counter()
            cap = pool.capacity
            k_first = k
            planned: dict[int, tuple[int, int]] = {}    # window -> (t0, T): its steps are all recorded
            inflight: dict[int, tuple[object, float]] = {}
            results: dict = {}                          # proven, written, not yet in the manifest
            ondisk: set[int] = set()                    # written before a restart: adopt if it holds up
            rates: list[float] = []
            t_loop, steps_done = time.perf_counter(), 0
            self.log.line(f"proving {self.spool} into {self.out}: windows of {self.T} steps, "
                          f"{len(self.manifest['windows'])} already proven (next step {nxt})"
                          + (f", {pool.describe()}" if pool.parallel else ""))
            self.log.start(nxt - self.t_start, None)
            while True:
                if self._ended():
                    break
                end = self._end()
                end_steps = None if end is None else end["steps"]
                if not self._stop:
                    # plan the windows whose steps are all there (a bounded number ahead: memory)
                    have = set(list_steps(self.spool))
                    last = max(planned) if planned else k - 1
                    t = planned[last][0] + planned[last][1] if planned else nxt
                    while last + 1 - k < 2 * cap and (self.max_windows is None or last + 1 - k_first < self.max_windows):
                        T = self._window_at(t, have, end_steps)
                        if T is None:
                            break
                        last += 1
                        planned[last] = (t, T)
                        if self._on_disk(last, t, T):
                            ondisk.add(last)
                        t += T
                    for j in sorted(planned):
                        if len(inflight) >= cap:
                            break
                        if j in inflight or j in results or j in ondisk:
                            continue
                        prior = results.get(j - 1)
                        start = ((model, msec) if j == k else
                                 (prior.after, prior.after_secret) if prior is not None else None)
                        self._in_hand = True
                        self.log.working(j, *planned[j])
                        inflight[j] = (pool.submit(run_window, self._job(j, *planned[j], start)), time.perf_counter())
                if inflight:
                    self._in_hand = True
                    ready = pool.wait([h for h, _ in inflight.values()], 0 if (k in results or k in ondisk)
                                      else self.poll)
                    owner = {h: j for j, (h, _) in inflight.items()}
                    for j in sorted(owner[h] for h in ready):
                        h, t_sub = inflight.pop(j)
                        try:
                            res = pool.get(h)
                        except JobFailed as e:
                            msg = str(e)
                            if not msg.startswith(f"window {j}:"):
                                msg = f"window {j} (steps {planned[j][0]}..{sum(planned[j]) - 1}): {msg}"
                            raise WindowError(msg) from None
                        res.roundtrip_seconds = time.perf_counter() - t_sub
                        self._arrived(res)
                        results[j] = res
                # record, strictly in order
                while k in results or k in ondisk:
                    if k in ondisk:
                        ondisk.discard(k)
                        res = self._adopt(k, *planned[k])
                        if res is None:
                            break                       # proven again: submitted on the next pass
                        self.log.line(f"window {k}: adopted the proof written before a restart")
                    else:
                        res = results.pop(k)
                    entry, prev = self._record_entry(k, *planned[k], res, prev)
                    self._commit_entry(entry, k, nxt)
                    self.stats.append({"window": k, "T": res.T, "worker": res.worker, "adopted": res.adopted,
                                       "prove_s": res.prove_seconds, "verify_s": res.verify_seconds,
                                       "job_s": res.wall_seconds, "roundtrip_s": res.roundtrip_seconds,
                                       "recorded_at": time.perf_counter()})
                    del planned[k]
                    T = res.T
                    k, nxt, model, msec = k + 1, nxt + T, res.after, res.after_secret
                    steps_done += T
                    if entry["prove_seconds"] and not entry.get("adopted"):     # daemon seconds per step
                        rates.append((entry["prove_seconds"] + entry["verify_seconds"]) / T)
                    queue = len([s for s in list_steps(self.spool) if s >= nxt])
                    how = ("adopted (proved before a restart, time unknown)" if entry.get("adopted") else
                           f"proved in {entry['prove_seconds']:.2f} s ({entry['prove_seconds'] / T:.2f} s/step)")
                    where = f" by {res.worker}" if pool.parallel and not entry.get("adopted") else ""
                    self.log.line(f"window {k - 1}: steps {entry['t0']}..{entry['t0'] + T - 1} {how}{where}, "
                                  f"verified in {entry['verify_seconds']:.2f} s, {entry['bytes']} bytes")
                    total = (end_steps - self.t_start) if end is not None else None
                    if pool.parallel:
                        sps = (time.perf_counter() - t_loop) / steps_done
                        self.log.progress(nxt - self.t_start, total, sps, queue, inflight=len(inflight))
                    else:
                        recent = rates[-4:]
                        self.log.progress(nxt - self.t_start, total, sum(recent) / len(recent) if recent else None,
                                          queue)
                if not inflight:
                    self._in_hand = False
                    if self._stop:
                        break
                    if end is not None and nxt >= end_steps:
                        self._finish(nxt, model, msec, end["status"])
                        self.log.line(f"run {end['status']}: {nxt - self.t_start} steps in "
                                      f"{len(self.manifest['windows'])} windows; manifest "
                                      f"{os.path.join(self.out, rf.MANIFEST)}")
                        break
                    if self.max_windows is not None and k - k_first >= self.max_windows:
                        break
                    if not planned and self._window_at(nxt, set(list_steps(self.spool)), end_steps) is None:
                        if self.once:
                            avail = len([s for s in list_steps(self.spool) if s >= nxt])
                            self.log.line(f"--once: nothing more to prove now (next step {nxt}, "
                                          f"{avail} steps waiting)")
                            break
                        self.log.tick()
                        time.sleep(self.poll)
            if self._stop:
                self.log.line("stopped by signal")
            return EXIT_OK
        except _Abandon:
            self.log.line("abandoned the window in hand; a restart proves it again")
            return EXIT_OK
        finally:
            self._in_hand = False
            if pool is not None:
                pool.close()
            self.log.close()
            for fd in locks:
                os.close(fd)

def main(args) -> int:
    """Entry point from zkdl.cli (args: the parsed namespace)."""
    d = Daemon(args.spool, args.out, window=args.window, backend=args.backend, once=args.once,
               poll=args.poll, wait_lock=args.wait_lock, quiet=args.quiet, workers=args.workers, ray=args.ray,
               traces=args.traces, threads=args.threads)
    old = {s: signal.signal(s, d._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return d.run()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
