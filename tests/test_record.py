"""zkdl.record: the spool written from a training loop (formats, permissions, checks of foreign
traces, atomicity)."""
from __future__ import annotations

import json
import copy
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import runhelp as h
from zkdl import runfiles as rf
from zkdl.errors import ZkdlError
from zkdl.fixedpoint import TraceMismatchError, round_master, to_master, train_step
from zkdl.record import Recorder, SpoolError, list_steps, load_secrets, read_run, read_trace, write_trace
from zkdl.trainer import Trainer


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_recorder_writes_spool(tmp_path):
    spool = tmp_path / "spool"
    rec = h.record(spool, 3)
    run = read_run(str(spool))
    assert run["format"] == rf.SPOOL_FORMAT and run["version"] == rf.SPOOL_VERSION
    assert rf.config_from_json(run["config"]) == h.CFG and run["n_examples"] == 8
    assert list_steps(str(spool)) == [0, 1, 2]
    assert json.loads((spool / "end.json").read_text())["steps"] == 3
    # private material: 0700 directories, 0600 files
    assert _mode(spool) == 0o700 and _mode(spool / "private") == 0o700 and _mode(spool / "steps") == 0o700
    assert _mode(spool / "private" / "secrets.npz") == 0o600
    assert all(_mode(p) == 0o600 for p in (spool / "steps").iterdir())
    # the traces read back exactly
    ref = Trainer(h.CFG, h.weights(), *h.data()).run(3)
    for t in range(3):
        tr = read_trace(str(spool), t, h.CFG)
        tr.validate()
        for name in ("X", "Y", "batch"):
            assert np.array_equal(getattr(tr, name), getattr(ref[t], name))
        assert all(np.array_equal(a, b) for a, b in zip(tr.W_after, ref[t].W_after))
        assert tr.loss_int == ref[t].loss_int
    dsec, msec = load_secrets(str(spool / "private" / "secrets.npz"), h.CFG)
    assert np.array_equal(dsec.X, h.data()[0]) and len(msec.W) == 2
    # public files parse
    rf.load_dataset_file(str(spool / rf.DATASET_FILE))
    cfg, _ = rf.load_model_file(str(spool / rf.INITIAL_MODEL_FILE))
    assert cfg.widths == h.CFG.widths
    # semantics v2: the traces carry master weights; the recorder's model is their rounding
    assert [m.tolist() for m in rec.master] == [w.tolist() for w in ref[-1].W_after]
    assert [w.tolist() for w in rec.weights] == [w.tolist() for w in round_master(h.CFG, ref[-1].W_after)[0]]
    assert all(np.array_equal(a, b) for a, b in zip(read_trace(str(spool), 0, h.CFG).W_before,
                                                   to_master(h.CFG, h.weights())))
    assert not any(n.startswith(("dW.", "E_upd.")) for n in np.load(spool / "steps" / "step-000000000.npz").files)


def test_foreign_traces_are_checked(tmp_path):
    X, Y = h.data()
    W = h.weights()
    rec = Recorder(str(tmp_path / "s"), h.CFG, W, X, Y)
    tr = Trainer(h.CFG, W, X, Y)
    good = tr.step()
    bad = tr.step()                       # step 1 offered as step 0: refused
    with pytest.raises(TraceMismatchError):
        rec.record(bad)
    forged = Trainer(h.CFG, W, X, Y).step()
    forged.G_W[0] = forged.G_W[0] + 1     # not the semantics (W_after = W_before - eta_int G_W)
    with pytest.raises(ZkdlError):
        rec.record(forged)
    forged = Trainer(h.CFG, W, X, Y).step()
    forged.W_after[0] = forged.W_after[0] + 1       # an update that is not the exact master-weight update
    with pytest.raises(ZkdlError):
        rec.record(forged)
    assert list_steps(rec.spool) == []    # nothing recorded
    rec.record(good)
    rec.record(bad)
    rec.step()                            # the built-in trainer continues from the caller's weights
    assert list_steps(rec.spool) == [0, 1, 2]
    ref = Trainer(h.CFG, W, X, Y).run(3)
    assert all(np.array_equal(a, b) for a, b in zip(rec.master, ref[-1].W_after))
    assert all(np.array_equal(a, b) for a, b in zip(read_trace(rec.spool, 2, h.CFG).W_after, ref[-1].W_after))
    # a trace that starts from the rounded model instead of the master weights does not continue
    off = Trainer(h.CFG, rec.weights, X, Y, start_step=3).step()
    if any(not np.array_equal(a, b) for a, b in zip(to_master(h.CFG, rec.weights), rec.master)):
        with pytest.raises(TraceMismatchError, match="master weights"):
            rec.record(off)
    # a trace on other data rows
    other = train_step(h.CFG, rec.master, X[:2], Y[:2], 3, [0, 1], n_examples=8)
    with pytest.raises(TraceMismatchError):
        rec.record(other)


def test_callback_style(tmp_path):
    X, Y = h.data()
    W = h.weights()
    with Recorder(str(tmp_path / "s"), h.CFG, W, X, Y, validate=True) as rec:
        Trainer(h.CFG, W, X, Y).run(3, keep_traces=False, callback=rec)     # Trainer.run(callback=...)
    assert list_steps(rec.spool) == [0, 1, 2]
    with pytest.raises(ZkdlError):
        rec.step()                        # closed


def test_used_spool_is_refused_and_kept(tmp_path):
    spool = tmp_path / "s"
    h.record(spool, 1)
    before = {p.name: p.read_bytes() for p in spool.rglob("*") if p.is_file()}
    with pytest.raises(SpoolError):
        h.record(spool, 1)
    after = {p.name: p.read_bytes() for p in spool.rglob("*") if p.is_file()}
    assert before == after


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    spool = tmp_path / "s"
    rec = h.record(spool, 1, end=False)
    tr = rec.trainer.step()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_trace(str(spool), tr)
    monkeypatch.undo()
    names = sorted(p.name for p in (spool / "steps").iterdir())
    assert names == ["step-000000000.json", "step-000000000.npz"]   # no temp file, no step 1


def test_trace_without_grads_is_written_whole(tmp_path):
    """A trace that dropped G_W (Trainer.run(keep_grads=False)) is spooled with G_W derived: the
    step file reads back equal to the full trace and validates."""
    spool = tmp_path / "s"
    rec = h.record(spool, 1, end=False)
    full = rec.trainer.step()
    lean = copy.deepcopy(full)
    lean.G_W = None
    lean.step = full.step + 1          # a new step number for the file; compared to `full` below
    write_trace(str(spool), lean)
    back = read_trace(str(spool), lean.step, h.CFG)
    assert all(np.array_equal(a, b) for a, b in zip(back.G_W, full.G_W))


_WRITER = r"""
import sys
sys.path.insert(0, {root!r})
import runhelp as h
from zkdl.record import Recorder
X, Y = h.data()
rec = Recorder(sys.argv[1], h.CFG, h.weights(), X, Y)
print("ready", flush=True)
while True:
    rec.step()
"""


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(delay=st.floats(0.0, 0.4))
def test_killed_recorder_leaves_only_complete_files(tmp_path_factory, delay):
    """kill -9 a recorder at a random instant: every step visible under its final name is
    complete (its .npz matches the sha256 in its .json), and the steps are 0..n-1."""
    spool = tmp_path_factory.mktemp("kill") / "spool"
    p = subprocess.Popen([sys.executable, "-c", _WRITER.format(root=os.path.dirname(__file__)), str(spool)],
                         stdout=subprocess.PIPE, text=True, env=h.env())
    assert p.stdout.readline().strip() == "ready"
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()
    steps = list_steps(str(spool))
    assert steps == list(range(len(steps)))
    for t in steps:
        read_trace(str(spool), t, h.CFG).validate()
    for p_ in (spool / "steps").iterdir():
        if p_.name.startswith(rf.TMP_PREFIX):
            continue                     # an interrupted write: never under a final name
        assert p_.suffix in (".json", ".npz")


def test_export_weights_round_trip(tmp_path):
    """The recorder exports the trained model as a PyTorch-style float state dict (and the exact
    integers); init_weights_from_float reads the floats back to the same fixed-point weights."""
    import numpy as np

    from zkdl.fixedpoint import FixedPointConfig
    from zkdl.record import Recorder
    from zkdl.trainer import init_mlp, init_weights_from_float

    cfg = FixedPointConfig(widths=(4, 3, 2), eta_int=1, k=4, batch_size=2, seed=0)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 1 << 16, size=(6, 4))
    Y = rng.integers(0, 1 << 16, size=(6, 2))
    rec = Recorder(str(tmp_path / "spool"), cfg, init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R), X, Y,
                   window=2)
    with rec:
        rec.run(2)
    path = str(tmp_path / "model.npz")
    assert rec.export_weights(path) == (path, str(tmp_path / "model.fixed.npz"))
    z = dict(np.load(path))
    assert list(z) == ["0.weight", "0.bias", "2.weight", "2.bias"]            # nn.Sequential's keys only
    zi = dict(np.load(str(tmp_path / "model.fixed.npz")))                       # the exact integers, apart
    assert all(np.array_equal(zi[f"{n}.weight"], w[:-1].T) and np.array_equal(zi[f"{n}.bias"], w[-1])
               for n, w in zip(["0", "2"], rec.weights))
    for src in (z, path, str(tmp_path / "model.fixed.npz")):
        back = init_weights_from_float(src, cfg.R)
        assert all(np.array_equal(a, b) for a, b in zip(back, rec.weights))


def test_spool_of_an_older_version_is_refused(tmp_path):
    """A spool recorded before semantics v2 (run.json version 1: rounded weight updates) cannot be
    resumed or proven by this zkdl: a clear refusal."""
    spool = tmp_path / "s"
    h.record(spool, 1, end=False)._lock.release()
    run = json.loads((spool / rf.RUN_JSON).read_text())
    run["version"] = 1
    (spool / rf.RUN_JSON).write_text(json.dumps(run))
    with pytest.raises(SpoolError, match="older zkdl"):
        Recorder.resume(str(spool))
    r = h.zkdl("daemon", "--spool", spool, "--out", tmp_path / "run", "--once")
    assert r.returncode == 2 and h.one_line_error(r.stderr) and "older zkdl" in r.stderr
