"""Issue 14, "cost you can see" and the CLI items: progress (tqdm bars on a terminal, plain lines
elsewhere) for the daemon, Recorder.wait_daemon and zkdl verify; zkdl report verifies first
(--no-verify marks NOT VERIFIED), thins its labels past 25 windows and shows adopted windows
honestly; zkdl --version; argument errors are usage errors (exit 2, one line)."""
from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys

import pytest

import runhelp as h
import zkdl
from zkdl import cli
from zkdl import runfiles as rf
from zkdl.circuits.training import WindowProof


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def _manifest(run):
    return json.loads((run / rf.MANIFEST).read_text())


def _save_manifest(run, m):
    (run / rf.MANIFEST).write_text(json.dumps(m))


def _on_pty(args, *, stream="stdout", timeout=120):
    """Run ``python -m zkdl ARGS`` with ``stream`` (stdout or stderr) on a pseudo-terminal, the
    other one a pipe; returns (returncode, what the terminal showed, the pipe's text)."""
    master, slave = pty.openpty()
    kw = {"stdout": slave, "stderr": subprocess.PIPE} if stream == "stdout" else \
        {"stdout": subprocess.PIPE, "stderr": slave}
    p = subprocess.Popen([sys.executable, "-m", "zkdl", *map(str, args)], env=h.env(), cwd=h.ROOT, **kw)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:                 # EIO: every end of the terminal is closed (the child exited)
            break
        if not b:
            break
        chunks.append(b)
    os.close(master)
    other = (p.stderr if stream == "stdout" else p.stdout).read().decode()
    p.wait(timeout)
    return p.returncode, b"".join(chunks).decode(errors="replace"), other


# ----------------------------------------------------------------------------- a run with an adopted window


class _Crash(Exception):
    pass


@pytest.fixture(scope="module")
def adopted_run(tmp_path_factory):
    """6 steps in windows of 2.  The first daemon (in this process) "crashes" after writing window
    1's proof and prover state but before recording it; the restarted daemon (a subprocess, not a
    terminal) adopts it and proves the rest.  Returns (run dir, the restarted daemon's stdout)."""
    from zkdl.daemon import Daemon

    base = tmp_path_factory.mktemp("adopt")
    spool, run = base / "spool", base / "run"
    h.record(spool, 6, window=2)
    real = Daemon._commit_entry

    def commit(self, entry, k, nxt):
        if k == 1:
            raise _Crash()
        return real(self, entry, k, nxt)

    Daemon._commit_entry = commit
    try:
        with pytest.raises(_Crash):
            Daemon(str(spool), str(run), once=True, stream=io.StringIO()).run()
    finally:
        Daemon._commit_entry = real
    assert len(_manifest(run)["windows"]) == 1 and (run / rf.window_file(1)).exists()
    r = h.zkdl("daemon", "--spool", spool, "--out", run, "--once")
    assert r.returncode == 0, r.stderr
    return run, r.stdout


def test_daemon_adopts_and_says_so(adopted_run):
    run, out = adopted_run
    m = _manifest(run)
    assert m["complete"] and [w["t0"] for w in m["windows"]] == [0, 2, 4]     # adopted, then went on
    w1 = m["windows"][1]
    assert w1["adopted"] is True and w1["prove_seconds"] == 0
    assert "adopted" not in m["windows"][0] and "adopted" not in m["windows"][2]
    assert "window 1: steps 2..3 adopted (proved before a restart, time unknown)" in out
    assert "proved in 0.00 s" not in out


def test_daemon_plain_progress_lines_when_not_a_tty(adopted_run):
    _, out = adopted_run
    assert "\r" not in out and "\x1b" not in out
    # window 1 was adopted (no proving time): no rate, so no ETA yet
    assert re.search(r"^zkdl daemon: progress: 4/6 steps proven, -- s/step, queue 2 steps$", out, re.M), out


def test_log_plain_lines_with_eta():
    from zkdl.daemon import _Log

    s = io.StringIO()
    log = _Log(s)
    log.start(0, None)                          # no bar off a terminal
    log.working(0, 0, 2)
    log.progress(2, 6, 0.5, 3)
    log.progress(4, None, 0.25, 4)
    log.progress(6, 6, 0.5, 0)
    log.close()
    assert s.getvalue().splitlines() == [
        "zkdl daemon: progress: 2/6 steps proven, 0.50 s/step, queue 3 steps, eta 2.0 s",
        "zkdl daemon: progress: 4 steps proven, 0.25 s/step, queue 4 steps, eta 1.0 s for the queue",
        "zkdl daemon: progress: 6/6 steps proven, 0.50 s/step, queue 0 steps",
    ]


def test_log_bar_on_a_fake_tty():
    from zkdl.daemon import _Log

    s = FakeTTY()
    log = _Log(s)
    log.start(0, None)
    log.working(0, 0, 2)
    log.line("window 0: steps 0..1 proved in 1.00 s")
    log.progress(2, None, 0.5, 4)               # total not known yet: the queue's ETA in the postfix
    log.progress(4, 8, 0.5, 4)                  # the run has ended: total known, tqdm's ETA
    log.close()
    out = s.getvalue()
    assert "\r" in out and "proving 0..1" in out
    assert "zkdl daemon: window 0: steps 0..1 proved in 1.00 s\n" in out      # a log line above the bar
    assert "queue 4 (~2.0 s)" in out and "prover 0.50 s/step" in out
    last = out.rstrip("\n").split("\r")[-1]
    assert "4/8" in last and "50%" in last and "<" in last and "step" in last, last      # ETA: elapsed<remaining
    assert "zkdl daemon: progress:" not in out


def test_daemon_bar_on_a_pseudo_terminal(tmp_path):
    spool, run = tmp_path / "spool", tmp_path / "run"
    h.record(spool, 2, window=2)
    rc, term, err = _on_pty(["daemon", "--spool", spool, "--out", run, "--once"])
    assert rc == 0 and err == "", err
    assert "\r" in term and "Traceback" not in term and "proving 0..1" in term
    assert "zkdl daemon: window 0: steps 0..1 proved in" in term           # the log lines stay
    assert "zkdl daemon: progress:" not in term                           # the bar replaces them
    final = term.rstrip("\r\n").split("\r")[-1]
    assert "100%" in final and "2/2" in final and "queue 0" in final, final
    assert _manifest(run)["complete"]


# ----------------------------------------------------------------------------- zkdl verify's bar


def test_verify_bar_on_a_terminal_only(adopted_run):
    run, _ = adopted_run
    rc, term, out = _on_pty(["verify", run], stream="stderr")
    assert rc == 0 and "VALID" in out and "verifying" not in out
    assert "verifying" in term and "3/3" in term and "window" in term, term
    rc, term, out = _on_pty(["verify", run, "--json"], stream="stderr")
    assert rc == 0 and json.loads(out)["valid"] and term == ""             # --json: nothing extra
    # not a terminal: nothing extra (test_cli.test_verify_run_human_and_json: stderr is empty)


def test_verify_run_progress_callback(adopted_run):
    from zkdl.verifier import verify_run

    calls = []
    s = verify_run(str(adopted_run[0]), progress=lambda done, total: calls.append((done, total)))
    assert s["valid"] and calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


# ----------------------------------------------------------------------------- wait_daemon(progress=True)


def test_wait_daemon_progress_plain(tmp_path):
    from zkdl.record import Recorder

    X, Y = h.data()
    s = io.StringIO()
    with Recorder(str(tmp_path / "spool"), h.CFG, h.weights(), X, Y, window=2, start_daemon=True,
                  out=str(tmp_path / "run"), daemon_args=["--poll", "0.05"]) as rec:
        rec.run(2)
    assert rec.wait_daemon(timeout=120, progress=True, stream=s) == 0
    lines = s.getvalue().splitlines()
    assert lines and all(re.fullmatch(r"zkdl: proven \d/2 steps \(\d windows?\)(, [\d.]+ s/step)?(, eta .+)?", x)
                         for x in lines), lines
    assert re.fullmatch(r"zkdl: proven 2/2 steps \(1 window\), [\d.]+ s/step", lines[-1]), lines
    counts = [int(x.split()[2].split("/")[0]) for x in lines]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)     # one line per change


class _FakeProc:
    args = ["zkdl", "daemon"]

    def __init__(self, polls_running, rc=0):
        self.left, self.rc = polls_running, rc

    def poll(self):
        return None if self.left > 0 else self.rc

    def wait(self, timeout=None):
        self.left -= 1
        if self.left > 0:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.rc


def _fake_manifest(run, proven_T):
    run.mkdir(exist_ok=True)
    ws = [{"index": i, "T": T, "prove_seconds": 1.0 * T, "verify_seconds": 0.5} for i, T in enumerate(proven_T)]
    (run / rf.MANIFEST).write_text(json.dumps({"t0": 0, "windows": ws, "total_steps": None}))


def test_follow_daemon_bar_on_a_fake_tty_and_timeout(tmp_path):
    from zkdl.progress import follow_daemon

    _fake_manifest(tmp_path / "run", [2, 2])
    s = FakeTTY()
    rc = follow_daemon(_FakeProc(3, rc=0), str(tmp_path / "run"), lambda t0: 8, stream=s, interval=0.01)
    out = s.getvalue()
    assert rc == 0 and "\r" in out and "4/8" in out and "2 windows, 1.25 s/step" in out, out
    with pytest.raises(subprocess.TimeoutExpired):
        follow_daemon(_FakeProc(10 ** 6), str(tmp_path / "run"), lambda t0: 8, timeout=0.1,
                      stream=io.StringIO(), interval=0.02)
    # no manifest yet: nothing proven, no error
    s = io.StringIO()
    assert follow_daemon(_FakeProc(1, rc=3), str(tmp_path / "none"), lambda t0: 5, stream=s) == 3
    assert s.getvalue() == "zkdl: proven 0/5 steps (0 windows)\n"


# ----------------------------------------------------------------------------- zkdl report


def test_report_verifies_first_and_shows_adopted_windows(adopted_run, tmp_path):
    pytest.importorskip("matplotlib")
    run, _ = adopted_run
    png = tmp_path / "r.png"
    r = h.zkdl("report", run, "--out", png)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "r.html").read_text()
    assert "<b>Verified</b>" in page and "NOT VERIFIED" not in page and "VALID" in page
    # window 1 was adopted: its time is unknown, not 0 s
    assert "<td>1</td><td>2..3</td><td>" in page
    row1 = re.search(r"<tr><td>1</td>.*?</tr>", page).group(0)
    assert "adopted after restart, time unknown" in row1 and "0.000" not in row1
    row0 = re.search(r"<tr><td>0</td>.*?</tr>", page).group(0)
    assert re.search(r"<td>\d+\.\d{3}</td></tr>$", row0)
    assert "proven before a prover restart and adopted after it" in page


def test_report_no_verify_is_marked(adopted_run, tmp_path):
    pytest.importorskip("matplotlib")
    r = h.zkdl("report", adopted_run[0], "--out", tmp_path / "r.png", "--no-verify")
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "r.html").read_text()
    assert "NOT VERIFIED" in page and "<b>Verified</b>" not in page and "zkdl verify" in page


def test_report_refuses_an_invalid_run(adopted_run, tmp_path):
    """A tampered loss (manifest fixed up): report exits 1 naming the check, writes nothing; with
    --no-verify it shows the (false) claim, marked NOT VERIFIED."""
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    shutil.copytree(adopted_run[0], run)
    p = run / rf.window_file(1)
    proof = WindowProof.from_bytes(p.read_bytes())
    proof.statement.losses[0] += 1
    p.write_bytes(proof.to_bytes())
    m = _manifest(run)
    m["windows"][1]["losses_int"] = [str(v) for v in proof.statement.losses]
    m["windows"][1]["sha256"] = rf.sha256_file(p)
    _save_manifest(run, m)
    r = h.zkdl("report", run, "--out", tmp_path / "r.png")
    assert r.returncode == 1 and h.one_line_error(r.stderr), r.stderr
    assert "window 1: proof" in r.stderr and "--no-verify" in r.stderr
    assert not (tmp_path / "r.png").exists() and not (tmp_path / "r.html").exists()
    r = h.zkdl("report", run, "--out", tmp_path / "r.png", "--no-verify")
    assert r.returncode == 0 and "NOT VERIFIED" in (tmp_path / "r.html").read_text()


def test_tick_labels_thin_past_25_windows():
    from zkdl.report import MAX_TICK_LABELS, tick_labels

    few = [(2 * i, 2) for i in range(25)]
    pos, labels = tick_labels(few, max_labels=25)
    assert pos == list(range(25)) and labels[3] == "6-7"
    for n in (26, 40, 41, 97, 1000):
        ws = [(4 * i, 4) for i in range(n)]
        pos, labels = tick_labels(ws)
        assert len(pos) <= MAX_TICK_LABELS + 1 and pos[0] == 0 and pos[-1] == n - 1, (n, pos)
        gaps = [b - a for a, b in zip(pos, pos[1:])]
        assert min(gaps) >= max(gaps) / 2, (n, pos)                           # evenly spread
        assert labels[-1] == f"{4 * (n - 1)}-{4 * n - 1}"


def test_report_of_40_windows(adopted_run, tmp_path):
    """A crafted run of 40 windows (window 0's proof with its statement's steps moved: the report
    reads what proofs claim), windows 5 and 6 adopted, window 7 from an older daemon (prove_seconds
    0, no flag).  Verify-first refuses it (the chain is broken); --no-verify draws it."""
    pytest.importorskip("matplotlib")
    from zkdl.report import _collect

    src = adopted_run[0]
    run = tmp_path / "run40"
    run.mkdir()
    for f in (rf.DATASET_FILE, rf.INITIAL_MODEL_FILE):
        shutil.copy(src / f, run / f)
    m = _manifest(src)
    base = m["windows"][0]
    proof = WindowProof.from_bytes((src / rf.window_file(0)).read_bytes())
    ws = []
    for k in range(40):
        proof.statement.t0 = 2 * k
        data = proof.to_bytes()
        (run / rf.window_file(k)).write_bytes(data)
        w = dict(base, index=k, t0=2 * k, file=rf.window_file(k), sha256=rf.sha256_bytes(data), bytes=len(data),
                 prove_seconds=1.0 + k / 10)
        if k in (5, 6):
            w.update(prove_seconds=0.0, adopted=True)
        if k == 7:
            w["prove_seconds"] = 0.0
        ws.append(w)
    m.update(windows=ws, total_steps=80, final_model=None, complete=False, status=rf.STATUS_IN_PROGRESS)
    _save_manifest(run, m)
    d = _collect(str(run))
    assert d["adopted"] == [k in (5, 6, 7) for k in range(40)]
    assert d["per_step"][5] is None and d["per_step"][7] is None and d["per_step"][8] == pytest.approx(0.9)
    r = h.zkdl("report", run)
    assert r.returncode == 1 and h.one_line_error(r.stderr) and not (run / "report.png").exists()
    r = h.zkdl("report", run, "--no-verify")
    assert r.returncode == 0, r.stderr
    page = (run / "report.html").read_text()
    assert page.count("<tr><td>") == 40 and "<td>39</td><td>78..79</td>" in page
    assert page.count("<td>adopted after restart, time unknown</td>") == 3 and "3 windows (5, 6, 7)" in page
    assert (run / "report.png").read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------------------- --version, usage errors


def test_version_single_sourced(capsys):
    r = h.zkdl("--version")
    assert r.returncode == 0 and r.stdout == f"zkdl {zkdl.__version__}\n" and r.stderr == ""
    assert importlib.metadata.version("zkdl") == zkdl.__version__          # the package metadata agrees
    assert cli.main(["--version"]) == 0 and capsys.readouterr().out == f"zkdl {zkdl.__version__}\n"


@pytest.mark.parametrize("argv, option", [
    (["demo", "--hidden", "32,abc"], "--hidden"),
    (["demo", "--hidden", "32,,16"], "--hidden"),
    (["demo", "--hidden", "0"], "--hidden"),
    (["demo", "--steps", "-1"], "--steps"),
    (["demo", "--window", "0"], "--window"),
    (["demo", "--batch-size", "2.5"], "--batch-size"),
    (["daemon", "--spool", "S", "--out", "O", "--window", "0"], "--window"),
    (["daemon", "--spool", "S", "--out", "O", "--window", "x"], "--window"),
    (["daemon", "--spool", "S", "--out", "O", "--poll", "nan"], "--poll"),
    (["daemon", "--spool", "S", "--out", "O", "--poll", "-1"], "--poll"),
    (["commit-model", "w.npz", "--out", "m", "--R", "1.5"], "--R"),
    (["commit-model", "w.npz", "--out", "m", "--batch-size", "0"], "--batch-size"),
])
def test_bad_numbers_are_usage_errors(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert h.one_line_error(err) and f"argument {option}:" in err and "internal error" not in err, err
    assert err.startswith(f"zkdl: {argv[0]}: ") and "expected" in err
    assert os.listdir(tmp_path) == []                                       # nothing was created


def test_usage_errors_in_subprocesses(tmp_path):
    out = tmp_path / "demo"
    r = h.zkdl("demo", "--hidden", "32,abc", "--out", out)
    assert r.returncode == 2 and h.one_line_error(r.stderr) and "--hidden" in r.stderr, r.stderr
    assert not out.exists()
    r = h.zkdl("daemon", "--spool", tmp_path, "--out", tmp_path / "o", "--window", "0")
    assert r.returncode == 2 and h.one_line_error(r.stderr) and "--window" in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


def test_argument_types():
    assert cli.positive_int(" 7 ") == 7 and cli.nonnegative_int("0") == 0
    assert cli.int_list("64, 32") == [64, 32] and cli.int_list("8") == [8]
    assert cli.positive_float("0.25") == 0.25 and cli.fraction("0.2") == 0.2
    for f, bad in [(cli.positive_int, "0"), (cli.positive_int, "1e3"), (cli.nonnegative_int, "-1"),
                   (cli.int_list, ""), (cli.int_list, "32,"), (cli.int_list, "-3"), (cli.positive_float, "inf"),
                   (cli.positive_float, "0"), (cli.fraction, "0"), (cli.fraction, "1"), (cli.fraction, "x")]:
        with pytest.raises(argparse.ArgumentTypeError):
            f(bad)
