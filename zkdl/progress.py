"""Progress display shared by the prover daemon, :meth:`zkdl.record.Recorder.wait_daemon` and
``zkdl verify``.

On a terminal (the stream's ``isatty()``) a live bar drawn by `tqdm <https://tqdm.github.io>`_:
count / total when known, elapsed time, throughput and ETA, plus a short postfix (e.g. the
daemon's queue depth); log lines go above the bar.  Elsewhere (a log file, a pipe, the tests)
nothing here draws: callers write plain, parseable lines instead.

tqdm rather than rich: one small pure-Python dependency with no dependencies of its own, that
draws on any stream (stdout for the daemon, stderr for ``verify`` / ``wait_daemon``) and leaves
non-terminal output alone.  It is imported only when a bar is drawn.

This module is on the verifier's path (``zkdl verify``): it imports nothing of zkdl's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Callable


def is_tty(stream) -> bool:
    """Whether ``stream`` is a terminal (a live bar is drawn only there)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def fmt_seconds(s: float) -> str:
    """12.3 s, 4 min 05 s, 1 h 02 min."""
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def eta_seconds(done: int, total: int | None, s_per_unit: float | None, queue: int | None = None) -> float | None:
    """Seconds left at ``s_per_unit``: for the rest of the total when it is known, else for the
    queue (what is waiting now); None when no rate is known yet."""
    if not s_per_unit:
        return None
    left = (total - done) if total is not None else queue
    if left is None:
        return None
    return max(0, left) * s_per_unit


def _columns(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


class Bar:
    """A tqdm bar on a terminal ``stream``: ``update_to(n, total, postfix)``, ``write(line)`` (a
    line above the bar), ``refresh()`` (redraw elapsed time / ETA while nothing changes), ``close()``."""

    def __init__(self, stream, *, unit: str, desc: str, total: int | None = None, initial: int = 0,
                 leave: bool = True):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.stream = stream
        # the terminal's width, followed when it changes; a terminal that reports none (a pty with
        # no window size, a fake stream): 100 columns
        sized = _columns(stream) > 0
        self.bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, file=stream, leave=leave,
                        dynamic_ncols=sized, ncols=None if sized else 100, nrows=None if sized else 24, mininterval=0, smoothing=0.3,
                        disable=False)

    def update_to(self, n: int, total: int | None = None, postfix: str | None = None, desc: str | None = None) -> None:
        b = self.bar
        if total is not None and total != b.total:
            b.total = total
        if desc is not None:
            b.set_description_str(desc, refresh=False)
        if postfix is not None:
            b.set_postfix_str(postfix, refresh=False)
        if n != b.n:
            b.update(n - b.n)       # refreshes (mininterval 0)
        else:
            b.refresh()

    def set_desc(self, desc: str) -> None:
        self.bar.set_description_str(desc)

    def write(self, line: str) -> None:
        self._tqdm.write(line, file=self.stream)

    def refresh(self) -> None:
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


# ----------------------------------------------------------------------------- following a run


def run_progress(run_dir: str) -> dict:
    """What a run directory's manifest says about proving: {"windows", "steps" (proven), "t0",
    "seconds" (prove + self-check seconds of the windows proven in this session, adopted ones
    excluded), "timed_steps", "ended" (total steps, or None)}.  A missing or unreadable manifest
    (the daemon has not written it yet, or is replacing it) reads as nothing proven."""
    try:
        with open(os.path.join(run_dir, "manifest.json"), "rb") as f:
            m = json.loads(f.read())
        ws = list(m.get("windows") or [])
        steps = sum(int(w["T"]) for w in ws)
        timed = [w for w in ws if w.get("prove_seconds") and not w.get("adopted")]
        return {"windows": len(ws), "steps": steps, "t0": int(m.get("t0") or 0),
                "seconds": sum(float(w["prove_seconds"]) + float(w.get("verify_seconds") or 0) for w in timed),
                "timed_steps": sum(int(w["T"]) for w in timed), "ended": m.get("total_steps")}
    except (OSError, ValueError, KeyError, TypeError):
        return {"windows": 0, "steps": 0, "t0": None, "seconds": 0.0, "timed_steps": 0, "ended": None}


def follow_daemon(proc: subprocess.Popen, run_dir: str, recorded: Callable[[int | None], int], *,
                  timeout: float | None = None, stream=None, interval: float = 0.5) -> int:
    """Wait for the daemon process ``proc`` while showing its progress from ``run_dir``'s manifest:
    windows and steps proven out of the steps recorded (``recorded(t0)``), the prover's seconds
    per step and the ETA.  A bar on a terminal ``stream`` (default stderr), else one plain line
    each time the count changes, e.g. ``zkdl: proven 4/8 steps (2 windows), 0.35 s/step, eta 1.4 s``.
    Returns the exit status; raises subprocess.TimeoutExpired like ``Popen.wait``."""
    stream = stream if stream is not None else sys.stderr
    tty = is_tty(stream)
    deadline = None if timeout is None else time.monotonic() + timeout
    bar = None
    last = None
    try:
        while True:
            rc = proc.poll()
            p = run_progress(run_dir)
            total = recorded(p["t0"])
            sps = p["seconds"] / p["timed_steps"] if p["timed_steps"] else None
            eta = eta_seconds(p["steps"], total, sps)
            if tty:
                post = f"{p['windows']} windows" + (f", {sps:.2f} s/step" if sps else "")
                if bar is None:
                    bar = Bar(stream, unit="step", desc="zkdl: proven", total=total, initial=p["steps"])
                bar.update_to(p["steps"], total, post)
            elif (p["steps"], total) != last:
                rate = f", {sps:.2f} s/step" if sps else ""
                left = f", eta {fmt_seconds(eta)}" if eta is not None and p["steps"] < total else ""
                stream.write(f"zkdl: proven {p['steps']}/{total} steps ({p['windows']} window"
                             f"{'s' if p['windows'] != 1 else ''}){rate}{left}\n")
                stream.flush()
                last = (p["steps"], total)
            if rc is not None:
                return rc
            wait = interval if deadline is None else min(interval, deadline - time.monotonic())
            if wait <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            try:
                proc.wait(wait)     # exited: the loop shows the manifest once more, then returns
            except subprocess.TimeoutExpired:
                pass
    finally:
        if bar is not None:
            bar.close()
