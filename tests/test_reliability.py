"""Issue #11: the daemon never destroys a run's state, a stopped run says it stopped, Recorder
creation is atomic, Recorder.resume continues a crashed run; and a property test over sequences
of recording / daemon / kill -9 / wrong --out / abort / crash-and-resume operations."""
from __future__ import annotations

import json
import os
import shutil
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
from zkdl.errors import ShapeError
from zkdl.fixedpoint import FixedPointConfig, TraceMismatchError, TrainingRangeError, round_master
from zkdl.record import Recorder, SpoolError, list_steps, load_state, read_owner
from zkdl.trainer import Trainer


def _manifest(run):
    return json.loads((run / rf.MANIFEST).read_text())


_snapshot = h.snapshot


def _states(spool):
    return sorted(p.name for p in (spool / rf.PRIVATE_DIR).glob("state-*.npz"))


def _verify_json(run):
    r = h.zkdl("verify", run, "--json")
    return r, (json.loads(r.stdout) if r.stdout.strip() else None)


def _once(spool, run, **kw):
    from zkdl.daemon import Daemon

    return Daemon(str(spool), str(run), once=True, quiet=True, **kw).run()


# ----------------------------------------------------------------------------- 1: one run directory


def test_second_run_dir_is_refused_and_destroys_nothing(tmp_path):
    """The issue's reproduction (windows of 2, 6 steps: three windows, so the final model's only
    opening is state-000003): a daemon with another --out refuses at once, naming the run
    directory; every file stays; the daemon on the right run directory still works."""
    spool, runA, runB = tmp_path / "spool", tmp_path / "runA", tmp_path / "runB"
    h.record(spool, 6, window=2)
    r = h.zkdl("daemon", "--spool", spool, "--out", runA, "--once")
    assert r.returncode == 0, r.stderr
    assert read_owner(str(spool))["run_dir"] == str(runA)
    assert _states(spool) == [rf.state_file(3)]
    before = _snapshot(spool, runA)
    t = time.time()
    r = h.zkdl("daemon", "--spool", spool, "--out", runB, timeout=60)       # no --once: it used to wait forever
    assert r.returncode == 2 and h.one_line_error(r.stderr), r.stderr
    assert str(runA) in r.stderr and "belongs to" in r.stderr
    assert time.time() - t < 30
    assert not runB.exists()                                                # nothing written there
    assert _snapshot(spool, runA) == before                                  # nothing deleted here
    r = h.zkdl("daemon", "--spool", spool, "--out", runA, "--once")
    assert r.returncode == 0, r.stderr
    r, s = _verify_json(runA)
    assert r.returncode == 0 and s["status"] == "complete" and s["steps"] == 6 and s["final_model_file_checked"]


def test_recorder_out_binds_the_spool_at_creation(tmp_path):
    spool, runA, runB = tmp_path / "spool", tmp_path / "runA", tmp_path / "runB"
    rec = h.record(spool, 2, window=2, end=False, out=str(runA))
    o = read_owner(str(spool))
    assert o["run_dir"] == str(runA) and o["run_id"] == rec.run_id
    r = h.zkdl("daemon", "--spool", spool, "--out", runB, "--once")
    assert r.returncode == 2 and h.one_line_error(r.stderr) and str(runA) in r.stderr
    assert not runB.exists() and list_steps(str(spool)) == [0, 1]
    # a relative spelling of the same directory is the same run directory
    r = h.zkdl("daemon", "--spool", spool, "--out", os.path.relpath(runA, h.ROOT), "--once")
    assert r.returncode == 0, r.stderr
    assert len(_manifest(runA)["windows"]) == 1


def test_unbound_spool_with_proven_windows_is_refused(tmp_path):
    """A spool of an older zkdl (no run-dir.json) whose windows were proven elsewhere: refused
    for a run directory without a manifest (state files of any window count, not only the
    first), bound again by the run directory that holds its manifest."""
    spool, runA, runB = tmp_path / "spool", tmp_path / "runA", tmp_path / "runB"
    h.record(spool, 4, window=2)
    assert h.zkdl("daemon", "--spool", spool, "--out", runA, "--once").returncode == 0
    (spool / rf.OWNER_FILE).unlink()
    assert _states(spool) == [rf.state_file(2)]
    before = _snapshot(spool, runA)
    r = h.zkdl("daemon", "--spool", spool, "--out", runB, "--once")
    assert r.returncode == 2 and h.one_line_error(r.stderr) and "another run directory" in r.stderr
    assert _snapshot(spool, runA) == before and not runB.exists()
    assert h.zkdl("daemon", "--spool", spool, "--out", runA, "--once").returncode == 0
    assert read_owner(str(spool))["run_dir"] == str(runA)


def test_fresh_run_dir_with_stray_proofs_is_refused(tmp_path):
    spool, run = tmp_path / "spool", tmp_path / "run"
    h.record(spool, 2, window=2)
    run.mkdir()
    (run / rf.window_file(0)).write_bytes(b"someone else's proof")
    r = h.zkdl("daemon", "--spool", spool, "--out", run, "--once")
    assert r.returncode == 2 and h.one_line_error(r.stderr) and "no manifest" in r.stderr
    assert (run / rf.window_file(0)).read_bytes() == b"someone else's proof"


@pytest.mark.parametrize("copied_after", [0, 1])
def test_run_dir_behind_the_spool_is_refused_not_cleaned(tmp_path, copied_after):
    """A run directory restored from an older copy (fewer windows than the spool's prover state):
    the daemon refuses and deletes nothing (it used to delete the newer state files)."""
    spool, run = tmp_path / "spool", tmp_path / "run"
    h.record(spool, 6, window=2)
    assert _once(spool, run, max_windows=copied_after) == 0
    assert len(_manifest(run)["windows"]) == copied_after
    old = tmp_path / "old"
    shutil.copytree(run, old)
    assert _once(spool, run) == 0
    assert _manifest(run)["complete"] and _states(spool) == [rf.state_file(3)]
    shutil.rmtree(run)
    shutil.copytree(old, run)                       # "restored from a backup"
    before = _snapshot(spool, run)
    r = h.zkdl("daemon", "--spool", spool, "--out", run, "--once")
    assert r.returncode == 2 and h.one_line_error(r.stderr), r.stderr
    assert "behind the spool" in r.stderr
    assert _snapshot(spool, run) == before


def test_deletes_only_what_the_run_dir_superseded(tmp_path):
    """Every deletion path: after each window, its traces and the previous state go (and only
    they); on restart, superseded leftovers (old traces, old states, temp files) go and nothing
    else; a young temp file in steps/ (the recorder may be writing it) stays."""
    spool, run = tmp_path / "spool", tmp_path / "run"
    h.record(spool, 5, window=2)
    assert _once(spool, run, max_windows=1) == 0
    assert list_steps(str(spool)) == [2, 3, 4] and _states(spool) == [rf.state_file(1)]
    saved_state1 = (spool / "private" / rf.state_file(1)).read_bytes()
    saved_step0 = {p.name: p.read_bytes() for p in (spool / "steps").iterdir()}   # steps 2..4
    assert _once(spool, run, max_windows=1) == 0
    assert list_steps(str(spool)) == [4] and _states(spool) == [rf.state_file(2)]
    assert _once(spool, run) == 0
    m = _manifest(run)
    assert m["complete"] and _states(spool) == [rf.state_file(3)] and list_steps(str(spool)) == []
    # leftovers a crash could leave: a superseded state, covered traces, temp files
    (spool / "private" / rf.state_file(1)).write_bytes(saved_state1)
    for name, data in saved_step0.items():
        (spool / "steps" / name).write_bytes(data)
    (spool / "private" / (rf.TMP_PREFIX + "x")).write_bytes(b"")
    (run / (rf.TMP_PREFIX + "y")).write_bytes(b"")
    (spool / "steps" / (rf.TMP_PREFIX + "young")).write_bytes(b"")
    keep = {k: v for k, v in _snapshot(spool, run).items()
            if "steps/step-" not in k and rf.state_file(1) not in k and rf.TMP_PREFIX not in k}
    assert _once(spool, run) == 0
    after = _snapshot(spool, run)
    assert {k: v for k, v in after.items() if rf.TMP_PREFIX not in k} == keep
    assert (spool / "steps" / (rf.TMP_PREFIX + "young")).exists()
    assert not (spool / "private" / (rf.TMP_PREFIX + "x")).exists() and not (run / (rf.TMP_PREFIX + "y")).exists()
    # the last prover state still opens the last master weights, and the published model's opening
    # (private/final-model.opening) opens final-model.commitment: their rounding
    from zkdl.circuits.prover import check_model_opening
    from zkdl.circuits.training import MasterCommitment
    from zkdl.record import read_model_opening, weights_from_secret

    stt = load_state(str(spool / "private" / rf.state_file(3)), h.CFG)
    assert isinstance(stt["after"], MasterCommitment)
    assert rf.model_digest(stt["after"]) == m["final_model"]["master_sha256"] == m["windows"][-1]["after_sha256"]
    sec = read_model_opening(str(spool / "private" / rf.FINAL_OPENING_FILE), h.CFG)
    W = weights_from_secret(h.CFG, sec)
    assert all(np.array_equal(a, b) for a, b in zip(W, round_master(h.CFG, weights_from_secret(h.CFG, stt["secret"]))[0]))
    _, fmodel = rf.load_model_file(str(run / rf.FINAL_MODEL_FILE))
    check_model_opening(h.CFG, fmodel, sec, W)
    assert rf.model_digest(fmodel) == m["final_model"]["model_sha256"]
    assert h.zkdl("verify", run).returncode == 0


# ----------------------------------------------------------------------------- 2: the end is public


_CTRL_C = r"""
import os, signal, sys
sys.path.insert(0, {tests!r})
import runhelp as h
from zkdl.record import Recorder
X, Y = h.data()
with Recorder(sys.argv[1], h.CFG, h.weights(), X, Y, window=2, start_daemon=True, out=sys.argv[2],
              daemon_args=["--poll", "0.05"]) as rec:
    for _ in range(3):
        rec.step()
    os.kill(os.getpid(), signal.SIGINT)       # Ctrl-C
    rec.step()
"""


def test_ctrl_c_stops_early_publicly_and_says_what_the_daemon_does(tmp_path):
    spool, run = tmp_path / "spool", tmp_path / "run"
    p = subprocess.run([sys.executable, "-c", _CTRL_C.format(tests=os.path.dirname(__file__)), str(spool), str(run)],
                       capture_output=True, text=True, env=h.env(), timeout=120)
    assert p.returncode != 0 and "KeyboardInterrupt" in p.stderr
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("zkdl: training stopped")]
    assert len(line) == 1, p.stderr
    assert "after 3 recorded steps" in line[0] and "stopped early: KeyboardInterrupt" in line[0]
    pid = int(line[0].split("(pid ")[1].split(")")[0])
    assert f"kill {pid}" in line[0]
    deadline = time.time() + 300                      # the daemon finishes in the background (slow when loaded)
    while time.time() < deadline:
        if (run / rf.MANIFEST).exists() and _manifest(run)["total_steps"] is not None:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the daemon did not finish")
    m = _manifest(run)
    assert m["status"] == "stopped early: KeyboardInterrupt" and m["complete"] is False and m["total_steps"] == 3
    r = h.zkdl("verify", run)
    assert r.returncode == 0, r.stderr
    assert "stopped early: KeyboardInterrupt" in r.stdout and "run complete" not in r.stdout and "VALID" in r.stdout
    r, s = _verify_json(run)
    assert s["status"] == "stopped early: KeyboardInterrupt" and s["complete"] is False and s["steps"] == 3
    assert s["final_model_file_checked"]


def test_training_range_error_stops_early_and_reason_is_public_only_by_name(tmp_path, capsys):
    spool, run = tmp_path / "spool", tmp_path / "run"
    X, Y = h.data()
    with pytest.raises(TrainingRangeError):
        with Recorder(str(spool), h.CFG, h.weights(), X, Y, window=2) as rec:
            rec.run(3)
            raise TrainingRangeError("secret value 123456789 out of range", value=123456789)
    assert "stopped early: TrainingRangeError" in capsys.readouterr().err
    with pytest.raises(Exception):
        rec.step()                                    # closed
    assert h.zkdl("daemon", "--spool", spool, "--out", run, "--once").returncode == 0
    text = (run / rf.MANIFEST).read_text()
    assert "123456789" not in text                    # the exception's message stays private
    r, s = _verify_json(run)
    assert r.returncode == 0 and s["status"] == "stopped early: TrainingRangeError" and not s["complete"]
    assert s["steps"] == 3 and [w["T"] for w in s["windows"]] == [2, 1]
    # the manifest cannot call a stopped run complete without saying so consistently
    m = _manifest(run)
    m["complete"] = True
    (run / rf.MANIFEST).write_text(json.dumps(m))
    r = h.zkdl("verify", run)
    assert r.returncode == 1 and h.one_line_error(r.stderr) and "status" in r.stderr


def test_final_weights_out_of_range_end_the_run_without_a_published_model(tmp_path):
    """The master weights are not range-limited: a run may end with weights whose rounding lies
    outside [-2^(Q-1), 2^(Q-1)).  The run is valid and complete, but publishes no model: no
    final-model files, the manifest says so, one daemon log line says why, zkdl verify reports
    "none", export-model and --final-model refuse."""
    cfg = FixedPointConfig(widths=(1, 1), eta_int=2, k=0, batch_size=1, R=4, Q=8)
    W = [np.array([[0], [100]], dtype=np.int64)]               # bias 100; the update adds 2 * 27
    X, Y = np.zeros((2, 1), dtype=np.int64), np.full((2, 1), 127, dtype=np.int64)
    spool, run = tmp_path / "s", tmp_path / "r"
    rec = Recorder(str(spool), cfg, W, X, Y, window=1, out=str(run))
    rec.run(1)
    assert int(rec.weights[0][-1, 0]) == 154                     # > 2^7 - 1: the rounded model is out of range
    rec.close()
    r = h.zkdl("daemon", "--spool", spool, "--out", run, "--once")
    assert r.returncode == 0, r.stderr
    why = [ln for ln in r.stdout.splitlines() if "without a published model" in ln]
    assert len(why) == 1 and "[-2^7, 2^7)" in why[0], r.stdout
    m = _manifest(run)
    assert m["status"] == "complete" and m["final_model"]["file"] is None and m["final_model"]["link_file"] is None
    assert m["final_model"]["master_sha256"] == m["windows"][-1]["after_sha256"]
    assert not (run / rf.FINAL_MODEL_FILE).exists() and not (run / rf.FINAL_LINK_FILE).exists()
    assert not (spool / rf.PRIVATE_DIR / rf.FINAL_OPENING_FILE).exists()
    r, s = _verify_json(run)
    assert r.returncode == 0 and s["status"] == "complete" and s["complete"]
    assert s["final_model_range_proof"].startswith("none: no published model") and s["final_model_link"] == "none"
    assert s["final_model_sha256"] is None and not s["final_model_file_checked"]
    r = h.zkdl("verify", run)
    assert r.returncode == 0 and "none published" in r.stdout and "cannot start a chain" in r.stdout
    r = h.zkdl("export-model", "--spool", spool, "--run", run, "--out", tmp_path / "m")
    assert r.returncode == 1 and h.one_line_error(r.stderr) and "no published model" in r.stderr
    assert not (tmp_path / "m").exists()
    r = h.zkdl("verify", run, "--final-model", run / rf.INITIAL_MODEL_FILE)
    assert r.returncode == 1 and h.one_line_error(r.stderr) and "final model" in r.stderr


def test_in_progress_and_complete_status(tmp_path):
    spool, run = tmp_path / "spool", tmp_path / "run"
    rec = h.record(spool, 3, window=2, end=False)
    assert h.zkdl("daemon", "--spool", spool, "--out", run, "--once").returncode == 0
    r = h.zkdl("verify", run)
    assert r.returncode == 0 and "in progress" in r.stdout and "run complete" not in r.stdout
    r, s = _verify_json(run)
    assert s["status"] == "in progress" and s["complete"] is False and s["steps"] == 2
    rec.close()
    assert h.zkdl("daemon", "--spool", spool, "--out", run, "--once").returncode == 0
    r, s = _verify_json(run)
    assert s["status"] == "complete" and s["complete"] is True and s["steps"] == 3


def test_stopped_before_the_first_step(tmp_path):
    spool, run = tmp_path / "spool", tmp_path / "run"
    rec = h.record(spool, 0, window=2, end=False)
    rec.abort("user gave up")
    assert h.zkdl("daemon", "--spool", spool, "--out", run, "--once").returncode == 0
    assert _manifest(run)["status"] == "stopped early: user gave up"
    r = h.zkdl("verify", run)
    assert r.returncode == 1 and h.one_line_error(r.stderr) and "stopped early: user gave up" in r.stderr


# ----------------------------------------------------------------------------- 3: atomic creation


def test_failed_start_leaves_nothing_and_retry_works(tmp_path):
    X, Y = h.data()
    spool = tmp_path / "a" / "b" / "spool"
    with pytest.raises(ShapeError):
        Recorder(str(spool), h.CFG, h.weights(), X.astype(np.float64), Y)      # float data
    assert not (tmp_path / "a").exists()
    rec = Recorder(str(spool), h.CFG, h.weights(), X, Y, window=2)           # the retry works
    rec.run(1)
    assert list_steps(str(spool)) == [0]
    # an existing empty directory: left exactly as it was (mode included)
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    os.chmod(empty, 0o755)
    with pytest.raises(ShapeError):
        Recorder(str(empty), h.CFG, h.weights(), X, Y.astype(np.float32))
    assert list(empty.iterdir()) == [] and stat.S_IMODE(empty.stat().st_mode) == 0o755
    Recorder(str(empty), h.CFG, h.weights(), X, Y).run(1)
    assert list_steps(str(empty)) == [0] and stat.S_IMODE(empty.stat().st_mode) == 0o700


@pytest.mark.parametrize("existing", [False, True])
def test_failure_while_writing_the_spool_leaves_nothing(tmp_path, monkeypatch, existing):
    """A write that fails half-way (here: run.json, the last file) or a daemon that cannot be
    started: the spool is not left half-made."""
    X, Y = h.data()
    spool = tmp_path / "spool"
    if existing:
        spool.mkdir()
    real = rf.atomic_write

    def failing(path, data, mode=0o644):
        if os.path.basename(path) == rf.RUN_JSON:
            raise OSError(28, "No space left on device")
        return real(path, data, mode)

    monkeypatch.setattr(rf, "atomic_write", failing)
    with pytest.raises(OSError):
        Recorder(str(spool), h.CFG, h.weights(), X, Y)
    monkeypatch.setattr(rf, "atomic_write", real)
    assert (list(spool.iterdir()) == []) if existing else not spool.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["spool"] if existing else [])

    def no_popen(*a, **k):
        raise OSError(2, "No such file or directory")

    monkeypatch.setattr(subprocess, "Popen", no_popen)
    with pytest.raises(OSError):
        Recorder(str(spool), h.CFG, h.weights(), X, Y, start_daemon=True, out=str(tmp_path / "run"))
    monkeypatch.undo()
    assert (list(spool.iterdir()) == []) if existing else not spool.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["spool"] if existing else [])      # no log file either
    Recorder(str(spool), h.CFG, h.weights(), X, Y).run(1)                      # and the retry works


# ----------------------------------------------------------------------------- 4: resume


_CRASH = r"""
import os, signal, sys
sys.path.insert(0, {tests!r})
import runhelp as h
from zkdl.record import Recorder
X, Y = h.data()
rec = Recorder(sys.argv[1], h.CFG, h.weights(), X, Y, window=2)
rec.run(int(sys.argv[2]))
os.kill(os.getpid(), signal.SIGKILL)          # the training process dies
"""


def _crash(spool, steps):
    p = subprocess.run([sys.executable, "-c", _CRASH.format(tests=os.path.dirname(__file__)), str(spool), str(steps)],
                       capture_output=True, text=True, env=h.env(), timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert list_steps(str(spool)) == list(range(steps))


def _reference(steps):
    return Trainer(h.CFG, h.weights(), *h.data()).run(steps)


@pytest.mark.parametrize("prove_first", [False, True])
def test_resume_after_a_crash_continues_the_run(tmp_path, prove_first):
    """The training process is killed after 4 steps; Recorder.resume continues from step 4 with
    the weights after step 3 (from its trace, or -- once the daemon proved and deleted the
    traces -- from the prover state's opening); the run proves and verifies as one run."""
    spool, run = tmp_path / "spool", tmp_path / "run"
    _crash(spool, 4)
    if prove_first:
        assert h.zkdl("daemon", "--spool", spool, "--out", run, "--once").returncode == 0
        assert list_steps(str(spool)) == [] and _states(spool) == [rf.state_file(2)]
    rec = Recorder.resume(str(spool))
    ref = _reference(7)
    assert rec.next_step == 4
    # the master weights continue exactly (from the trace, or from the prover state's opening)
    assert all(np.array_equal(a, b) for a, b in zip(rec.master, ref[3].W_after))
    assert all(np.array_equal(a, b) for a, b in zip(rec.weights, round_master(h.CFG, ref[3].W_after)[0]))
    rec.step()
    tr = Trainer(h.CFG, None, *h.data(), start_step=5, master=rec.master).step()     # a caller's own trace
    rec.record(tr)
    with rec:
        rec.step()
    r = h.zkdl("daemon", "--spool", spool, "--out", run, "--once")
    assert r.returncode == 0, r.stderr
    r, s = _verify_json(run)
    assert r.returncode == 0 and s["status"] == "complete" and s["steps"] == 7
    assert [w["losses_int"] for w in s["windows"]] == [[str(t.loss_int) for t in ref[i:i + 2]] for i in (0, 2, 4, 6)]


def test_resume_with_nothing_recorded_and_with_a_running_daemon(tmp_path):
    spool, run = tmp_path / "spool", tmp_path / "run"
    _crash(spool, 0)
    rec = Recorder.resume(str(spool), h.CFG, *h.data(), out=str(run))
    assert rec.next_step == 0 and all(np.array_equal(a, b) for a, b in zip(rec.weights, h.weights()))
    rec.run(2)
    rec._lock.release()                                   # the process "dies" again
    daemon = h.popen_zkdl("daemon", "--spool", spool, "--out", run, "--poll", "0.05")
    try:
        deadline = time.time() + 60
        while not (spool / rf.LOCK_FILE).exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        rec = Recorder.resume(str(spool), start_daemon=True)          # out: the spool's run directory
        assert rec.daemon is None and rec.running_daemon_pid == daemon.pid    # no second daemon
        assert rec.next_step == 2
        rec.run(1)
        rec.close()
        out, err = daemon.communicate(timeout=120)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, err
    r, s = _verify_json(run)
    assert s["status"] == "complete" and s["steps"] == 3


def test_resume_refusals(tmp_path):
    spool = tmp_path / "spool"
    X, Y = h.data()
    live = h.record(spool, 2, window=2, end=False, out=str(tmp_path / "run"))
    with pytest.raises(SpoolError, match="another process"):
        Recorder.resume(str(spool))                       # the recorder is alive
    live._lock.release()
    with pytest.raises(SpoolError, match="belongs to"):
        Recorder.resume(str(spool), out=str(tmp_path / "elsewhere"))
    with pytest.raises(TraceMismatchError):
        Recorder.resume(str(spool), X=X + 1)
    other = FixedPointConfig(widths=(8, 4, 3), eta_int=1, k=5, batch_size=2, seed=1)
    with pytest.raises(ShapeError):
        Recorder.resume(str(spool), other)
    with pytest.raises(SpoolError):
        Recorder.resume(str(tmp_path / "nope"))
    rec = Recorder.resume(str(spool), h.CFG, X, Y)
    rec.close()
    with pytest.raises(SpoolError, match="has ended"):
        Recorder.resume(str(spool))
    # a recorder refuses a step that does not follow the resumed weights
    spool2 = tmp_path / "spool2"
    h.record(spool2, 1, window=2, end=False)._lock.release()
    rec2 = Recorder.resume(str(spool2))
    bad = Trainer(h.CFG, h.weights(), X, Y, start_step=1).step()            # not from step 0's weights
    with pytest.raises(TraceMismatchError):
        rec2.record(bad)


# ----------------------------------------------------------------------------- property test

WINDOW = 2
_OPS = st.one_of(
    st.tuples(st.just("record"), st.integers(1, 3)),
    st.tuples(st.just("daemon"), st.booleans()),              # --once, right (True) or wrong --out
    st.tuples(st.just("kill9"), st.floats(0.3, 2.5)),         # start the daemon, kill -9 it after a delay
    st.tuples(st.just("abort"), st.none()),                   # an exception leaves the `with` block
    st.tuples(st.just("close"), st.none()),
    st.tuples(st.just("crash"), st.none()),                   # the training process dies; resume
)


def _check_needed(spool, runA, runB, recorded):
    """Nothing still needed is lost: every proof the manifest lists (byte-exact), the prover state
    opening its last after-commitment, every trace not yet proven; the wrong run directory never
    got a proof."""
    assert not runB.exists()
    proven = 0
    if (runA / rf.MANIFEST).exists():
        m = _manifest(runA)
        for w in m["windows"]:
            assert rf.sha256_file(runA / w["file"]) == w["sha256"]
        proven = sum(w["T"] for w in m["windows"])
        k = len(m["windows"])
        if k:
            stt = load_state(str(spool / rf.PRIVATE_DIR / rf.state_file(k)), h.CFG)
            assert rf.model_digest(stt["after"]) == m["windows"][-1]["after_sha256"]
        if m["total_steps"] is not None:
            assert (runA / rf.FINAL_MODEL_FILE).exists() and (runA / rf.FINAL_LINK_FILE).exists()
            assert proven == recorded
    assert set(range(proven, recorded)) <= set(list_steps(str(spool)))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_OPS, min_size=2, max_size=6))
def test_any_operation_sequence_loses_nothing_and_verify_agrees(tmp_path_factory, ops):
    base = tmp_path_factory.mktemp("prop")
    spool, runA, runB = base / "spool", base / "runA", base / "runB"
    X, Y = h.data()
    rec = Recorder(str(spool), h.CFG, h.weights(), X, Y, window=WINDOW, out=str(runA))
    recorded, end = 0, None
    for op, arg in ops:
        if op == "record" and end is None:
            rec.run(arg)
            recorded += arg
        elif op == "daemon":
            r = h.zkdl("daemon", "--spool", spool, "--out", runA if arg else runB, "--once")
            if arg:
                assert r.returncode == 0, r.stderr
            else:
                assert r.returncode == 2 and h.one_line_error(r.stderr) and str(runA) in r.stderr, r.stderr
        elif op == "kill9":
            p = h.popen_zkdl("daemon", "--spool", spool, "--out", runA)
            time.sleep(arg)
            p.send_signal(signal.SIGKILL)
            p.communicate()
        elif op == "abort" and end is None:
            with pytest.raises(RuntimeError):
                with rec:
                    raise RuntimeError("private detail")
            end = "stopped early: RuntimeError"
        elif op == "close" and end is None:
            rec.close()
            end = "complete"
        elif op == "crash" and end is None:
            rec._lock.release()
            rec = Recorder.resume(str(spool))
            assert rec.next_step == recorded
        _check_needed(spool, runA, runB, recorded)
    r = h.zkdl("daemon", "--spool", spool, "--out", runA, "--once")
    assert r.returncode == 0, r.stderr
    _check_needed(spool, runA, runB, recorded)
    r, s = _verify_json(runA)
    proven = recorded if end else recorded - recorded % WINDOW
    if proven == 0:
        assert r.returncode == 1 and h.one_line_error(r.stderr) and "nothing is proven" in r.stderr
        return
    assert r.returncode == 0, r.stderr
    assert s["status"] == (end or "in progress") and s["complete"] == (end == "complete")
    assert s["steps"] == proven
