"""Where window jobs run: in the calling process (one worker, Ray never imported) or on Ray
(``--workers N``: a local Ray instance with N worker slots; ``--ray ADDRESS``: an existing cluster).

Both executors take a module-level function and its argument (a :class:`zkdl.worker.WindowJob`, or
a verification job of :mod:`zkdl.verifier`) and hand back its result; the daemon and the verifier
schedule with them and never touch Ray themselves.

Faults (Ray): a worker process or a node that dies mid-task has its task retried elsewhere
(``max_retries``); the result is the same bytes wherever it runs (deterministic prover randomness,
zkdl.randomness), and only the daemon appends to the manifest, in order.  A job that raises (a
window that fails to prove or verify) is not retried: its error reaches the daemon.

Ray is an optional extra (``pip install -e ".[cluster]"``).
"""
from __future__ import annotations

import logging
import os
import signal
import socket

from .errors import ZkdlError

#: attempts of a task after its worker process or node died (Ray's max_retries)
RETRIES = 4


class ClusterError(ZkdlError):
    """Ray is missing, or the cluster cannot be reached or used (a usage problem: exit 2)."""


class JobFailed(ZkdlError):
    """A job raised, or its worker died more often than it is retried."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("more than one worker (or --ray) needs Ray, an optional extra: "
                           "pip install 'zkdl[cluster]' (or pip install ray)") from None
    return ray


def check_address(address: str) -> None:
    """A Ray address is "auto", "HOST:PORT" or "ray://HOST:PORT"; a HOST:PORT must accept a TCP
    connection within a few seconds (ray.init itself would wait a minute before failing)."""
    if address == "auto":
        return
    hp = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = hp.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterError(f"--ray {address}: expected HOST:PORT (the head node's GCS address), ray://HOST:PORT "
                           "or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ClusterError(f"--ray {address}: cannot reach the Ray cluster ({e.strerror or e}); is "
                           "`ray start --head` running there?") from None


class Inline:
    """Runs each job at submission, in this process (one worker; Ray is not imported)."""

    parallel = False

    def __init__(self):
        self.capacity = 1
        self._out: dict[int, tuple[bool, object]] = {}
        self._n = 0

    def submit(self, fn, arg) -> int:
        self._n += 1
        try:
            self._out[self._n] = (True, fn(arg))
        except ZkdlError as e:
            self._out[self._n] = (False, e)
        return self._n

    def wait(self, handles, timeout: float | None):
        return [h for h in handles if h in self._out]

    def get(self, handle):
        ok, v = self._out.pop(handle)
        if not ok:
            raise JobFailed(str(v))
        return v

    def cancel(self, handle) -> None:
        self._out.pop(handle, None)

    def warm(self, fn, arg=None) -> None:
        pass

    def describe(self) -> str:
        return "1 worker (this process)"

    def close(self) -> None:
        self._out.clear()


class RayPool:
    """Jobs as Ray tasks (one CPU each) on a local Ray instance with ``workers`` CPUs, or on the
    cluster at ``address`` (then ``workers`` bounds the jobs in flight; default its CPU count)."""

    parallel = True

    def __init__(self, workers: int | None = None, address: str | None = None):
        ray = import_ray()
        if address is not None:
            check_address(address)
        elif not workers or workers < 1:
            raise ClusterError("a local Ray instance needs a number of workers")
        old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        kw = dict(logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
        try:
            if address is not None:
                ray.init(address=address, **kw)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, **kw)
        except Exception as e:          # Ray raises many kinds (ConnectionError, RuntimeError, ...)
            msg = " ".join(str(e).split())[:300]
            raise ClusterError(f"cannot start Ray ({type(e).__name__}: {msg})") from None
        finally:
            if _main_thread():
                for s, h in old.items():      # keep the daemon's own signal handling
                    signal.signal(s, h)
        self._ray = ray
        self._address = address
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = workers if workers else max(1, cpus)
        self._task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(zkdl_job)

    def submit(self, fn, arg):
        return self._task.remote(fn, arg)

    def warm(self, fn, arg=None) -> None:
        """Run ``fn(arg)`` (an import of what the jobs need) as ``capacity`` concurrent tasks, so
        that the workers' start-up is paid here, not by the first window."""
        self._ray.get([self._task.remote(fn, arg) for _ in range(self.capacity)])

    def wait(self, handles, timeout: float | None):
        if not handles:
            return []
        ready, _ = self._ray.wait(list(handles), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self._ray.wait(list(handles), num_returns=len(handles), timeout=0)
        return ready

    def get(self, handle):
        from ray import exceptions as rx

        try:
            return self._ray.get(handle)
        except rx.RayTaskError as e:
            cause = getattr(e, "cause", None)
            msg = str(cause) if isinstance(cause, ZkdlError) else " ".join(str(e).split())[:300]
            raise JobFailed(msg) from None
        except rx.RayError as e:
            raise JobFailed(f"lost its worker more than {RETRIES} times ({type(e).__name__})") from None

    def cancel(self, handle) -> None:
        try:
            self._ray.cancel(handle, force=True)
        except Exception:
            pass

    def describe(self) -> str:
        where = f"the Ray cluster at {self._address}" if self._address else "a local Ray instance"
        return f"{self.capacity} workers on {where}"

    def close(self) -> None:
        try:
            self._ray.shutdown()
        except Exception:
            pass


def zkdl_job(fn, arg):
    """The one Ray task: run fn(arg) (its process title on a worker is "ray::zkdl_job")."""
    return fn(arg)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def executor(workers: int | None = None, address: str | None = None):
    """Inline() for one local worker (the default), else a RayPool: ``workers`` local Ray
    workers, or on the cluster at ``address`` ``workers`` jobs in flight (default: its CPUs)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ClusterError(f"--workers must be an integer >= 1, got {workers!r}")
    if address is None and (workers or 1) == 1:
        return Inline()
    return RayPool(workers, address)


def default_threads(workers: int) -> int:
    """Native threads per local worker: the machine's cores shared out."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))
