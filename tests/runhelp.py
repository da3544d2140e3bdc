"""Shared helpers of test_record / test_daemon / test_cli: a tiny run (widths (8, 4, 3), batch 2,
synthetic small integers) recorded into a spool, the CLI in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from zkdl.fixedpoint import FixedPointConfig
from zkdl.trainer import init_mlp, init_weights_from_float

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = FixedPointConfig(widths=(8, 4, 3), eta_int=1, k=4, batch_size=2, seed=1)


def data(n: int = 8, seed: int = 0, cfg: FixedPointConfig = CFG):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 1 << cfg.R, size=(n, cfg.widths[0]))
    Y = rng.integers(0, 1 << cfg.R, size=(n, cfg.widths[-1]))
    return X, Y


def weights(seed: int = 1, cfg: FixedPointConfig = CFG):
    return init_weights_from_float(init_mlp(cfg.widths, seed), cfg.R)


def record(spool, steps: int, window: int = 2, end: bool = True, **kw):
    from zkdl.record import Recorder

    X, Y = data()
    rec = Recorder(str(spool), CFG, weights(), X, Y, window=window, **kw)
    rec.run(steps)
    if end:
        rec.close()
    return rec


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def zkdl(*args, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m zkdl ARGS`` to completion; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "zkdl", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env(), cwd=ROOT, **kw)


def popen_zkdl(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zkdl", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT, **kw)


def one_line_error(stderr: str) -> bool:
    """Exactly one line on stderr, and no traceback."""
    return "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1


def snapshot(*dirs) -> dict:
    """{relative path: bytes} of every file under the given directories (lock files aside: they
    hold a pid): what "nothing was deleted or written" compares."""
    from pathlib import Path

    out = {}
    for d in map(Path, dirs):
        for p in sorted(d.rglob("*")):
            if p.is_file() and not p.name.endswith(".lock"):
                out[str(p.relative_to(d.parent))] = p.read_bytes()
    return out
