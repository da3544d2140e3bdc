"""One window of a run, proven and then verified by whichever process runs it: the daemon itself
(one worker) or a Ray worker (``zkdl daemon --workers N``, :mod:`zkdl.cluster`).

A window job is a pure function of the job: its traces, where the window starts and the run's
PRF key (``SPOOL/private/prover.key``, zkdl.randomness).  With the key, a window that continues a
chain needs nothing from the previous window's proof: it recomputes its start commitment from its
first trace (prover.window_start), bit-identical to the after-commitment the previous window
derives (docs/protocol.md §12).  So windows are proven in any order, on any node, retried any
number of times, and the proof bytes are the same.

Traces reach a worker in one of two ways (:class:`WindowJob`): ``traces`` in the job itself (Ray
moves them through its object store), or ``spool``, a path every node can read (a shared file
system), from which the worker reads the steps and the dataset opening itself.
"""
from __future__ import annotations

import os
import socket
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from .errors import ZkdlError


class WindowFailed(ZkdlError):
    """A window could not be proven, or its proof did not verify, on a worker."""


@dataclass
class WindowJob:
    k: int                          # window index in the run
    t0: int                         # its first step
    T: int                          # its number of steps
    config: object                  # FixedPointConfig
    dataset: object                 # DatasetCommitment (public)
    prf_key: bytes                  # the run's key (private)
    reveal_losses: bool = True
    spool: str | None = None        # shared-path transport: traces and dataset opening read here
    traces: list | None = None      # object-store transport: the StepTraces themselves
    dataset_secret: object = None   # object-store transport: the DatasetSecret
    start: tuple | None = None      # (commitment, opening) the window starts from, when known
    threads: int | None = None      # native threads for this job (None: leave as is)
    backend: str = "cpu"            # where the hot operations run (zkdl.backend): cpu or gpu


@dataclass
class WindowResult:
    k: int
    t0: int
    T: int
    proof: bytes                    # the proof file's bytes, verified (verify_window_alone)
    sha256: str
    after: object                   # MasterCommitment
    after_secret: object            # its opening (ModelSecret)
    prove_seconds: float
    verify_seconds: float
    wall_seconds: float             # the whole job on the worker, reading included
    worker: str                     # pid@host that ran it
    timings: dict = field(default_factory=dict)
    adopted: bool = False           # read back after a restart, not proven by this daemon
    roundtrip_seconds: float = 0.0  # submission to result, seen by the daemon (Ray overhead: minus wall)


_DSEC_CACHE: dict = {}


def _dataset_secret(job: WindowJob):
    if job.dataset_secret is not None:
        return job.dataset_secret
    from . import runfiles as rf
    from .record import load_secrets

    path = os.path.join(job.spool, rf.PRIVATE_DIR, rf.SECRETS_FILE)
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _DSEC_CACHE:
        _DSEC_CACHE.clear()
        _DSEC_CACHE[key] = load_secrets(path, job.config)[0]
    return _DSEC_CACHE[key]


def prover_backend(name: str):
    """A context running the enclosed proving on backend ``name`` (zkdl.backend): cpu, or gpu
    (prover_gpu.backend.from_env: the CUDA device, or ZKDL_GPU_DEVICE=emu for the emulator)."""
    from . import backend

    if name == "cpu":
        return nullcontext()
    from zkdl.prover_gpu.backend import from_env

    return backend.use(from_env())


def warm_up(pause: float | None = None) -> int:
    """Import what a window job needs (a worker's start-up), then hold the worker briefly so
    that concurrent warm-ups land on different workers.  Returns the process id."""
    import zkdl.circuits.proofs  # noqa: F401
    import zkdl.circuits.prover  # noqa: F401
    from .record import read_trace  # noqa: F401

    time.sleep(0.5 if pause is None else pause)
    return os.getpid()


def run_window(job: WindowJob) -> WindowResult:
    """Prove window ``job.k`` and verify the proof bytes (everything but the chain rule, which the
    daemon applies in order: continue_chain).  Raises WindowFailed with a one-line reason."""
    from zkdl.circuits.prover import prove_window
    from zkdl.circuits.proofs import verify_window_alone
    from zkdl.errors import VerificationError

    from . import runfiles as rf
    from .record import SpoolError, read_trace
    from .threads import threads as _threads

    t_wall = time.perf_counter()
    try:
        traces = job.traces
        if traces is None:
            traces = [read_trace(job.spool, t, job.config) for t in range(job.t0, job.t0 + job.T)]
        dsec = _dataset_secret(job)
    except (SpoolError, OSError, ZkdlError) as e:
        raise WindowFailed(f"window {job.k}: cannot read its steps: {e}") from None
    before, before_sec = job.start if job.start is not None else (None, None)
    with _threads(job.threads) if job.threads else nullcontext(), prover_backend(job.backend):
        t = time.perf_counter()
        try:
            proof, after, after_sec = prove_window(traces, before, before_sec, job.dataset, dsec,
                                                   reveal_losses=job.reveal_losses, prf_key=job.prf_key)
        except ZkdlError as e:
            raise WindowFailed(f"window {job.k}: proving failed: {e}") from None
        t_prove = time.perf_counter() - t
        data = proof.to_bytes()
        t = time.perf_counter()
        try:
            verify_window_alone(data, job.dataset, expected=proof.statement)
        except VerificationError as e:
            raise WindowFailed(f"window {job.k}: its proof does not verify (internal error): {e}") from None
        t_ver = time.perf_counter() - t
    return WindowResult(job.k, job.t0, job.T, data, rf.sha256_bytes(data), after, after_sec, t_prove, t_ver,
                        time.perf_counter() - t_wall, f"{os.getpid()}@{socket.gethostname()}", dict(proof.timings))
