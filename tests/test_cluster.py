"""Distributed proving (zkdl.cluster, zkdl.worker, deterministic prover randomness): windows of one
run proven in any order by any worker give the same bytes; Ray workers, nodes and the driver can
die without losing or duplicating a window; bad cluster input is one line and exit 2."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runhelp import CFG, ROOT, data, env, one_line_error, popen_zkdl, record, snapshot, weights, zkdl

from zkdl import randomness
from zkdl.runfiles import comparable_files
from zkdl.errors import ZkdlError


# ----------------------------------------------------------------------------- prover randomness


def test_derived_randomness_is_a_function_of_key_and_label():
    key = randomness.new_key()
    with randomness.derived(key, "window", 3, b"w"):
        a = randomness.token_bytes(64), randomness.token_bytes(64)
    with randomness.derived(key, "window", 3, b"w"):
        b = randomness.token_bytes(64), randomness.token_bytes(64)
    assert a == b and a[0] != a[1]                      # a stream: each draw is new
    with randomness.derived(key, "window", 4, b"w"):
        assert randomness.token_bytes(64) != a[0]       # another label
    with randomness.derived(randomness.new_key(), "window", 3, b"w"):
        assert randomness.token_bytes(64) != a[0]       # another key
    # labels are encoded unambiguously: ("ab", "c") is not ("a", "bc"), 1 is not b"\x01"
    with randomness.derived(key, "ab", "c"):
        x = randomness.token_bytes(32)
    with randomness.derived(key, "a", "bc"):
        assert randomness.token_bytes(32) != x
    with randomness.derived(key, 1):
        y = randomness.token_bytes(32)
    with randomness.derived(key, b"\x01"):
        assert randomness.token_bytes(32) != y
    assert not randomness.is_derived()                  # outside: the OS entropy source
    assert randomness.token_bytes(32) != randomness.token_bytes(32)
    with pytest.raises(ZkdlError):
        with randomness.derived(b"short", "x"):
            pass


def _traces(n: int):
    from zkdl.trainer import Trainer

    X, Y = data()
    tr = Trainer(CFG, weights(), X, Y)
    return [tr.step() for _ in range(n)]


@pytest.fixture(scope="module")
def run_parts():
    from zkdl.circuits.prover import commit_dataset, commit_model

    X, Y = data()
    model, msec = commit_model(CFG, weights())
    ds, dsec = commit_dataset(CFG, X, Y)
    return model, msec, ds, dsec, _traces(4)


def test_window_proofs_are_deterministic_and_starts_recomputable(run_parts):
    """With the run's key a window's proof is a function of its witness; a window proven without
    its predecessor's output (start recomputed from its first trace) is byte-identical to one
    given that output, and the chain verifies."""
    from zkdl.circuits.prover import prove_window, window_start
    from zkdl.circuits.training import verify_window

    model, msec, ds, dsec, traces = run_parts
    key = randomness.new_key()
    p0, after0, sec0 = prove_window(traces[:2], model, msec, ds, dsec, prf_key=key)
    again, _, _ = prove_window(traces[:2], model, msec, ds, dsec, prf_key=key)
    assert p0.to_bytes() == again.to_bytes()
    p1a, _, _ = prove_window(traces[2:], after0, sec0, ds, dsec, prf_key=key)
    p1b, _, _ = prove_window(traces[2:], None, None, ds, dsec, prf_key=key)
    assert p1a.to_bytes() == p1b.to_bytes()
    start, start_sec = window_start(traces[2], key)
    assert start == after0 and start_sec.W[0].blinds == sec0.W[0].blinds
    st0 = verify_window(p0.to_bytes(), ds, model)
    verify_window(p1b.to_bytes(), ds, st0)
    # without the key: fresh randomness, so two proofs of one window differ (and still verify)
    f1, _, _ = prove_window(traces[:2], model, msec, ds, dsec)
    f2, _, _ = prove_window(traces[:2], model, msec, ds, dsec)
    assert f1.to_bytes() != f2.to_bytes()
    verify_window(f1.to_bytes(), ds, model)
    with pytest.raises(ZkdlError, match="start commitment must be given"):
        prove_window(traces[2:], None, None, ds, dsec)


def test_derived_blinds_never_repeat_across_witnesses(run_parts):
    """One input of the PRF never serves two witnesses: the same step with other weights, or the
    same weights at another step, get other blinds (a digest of the weights is in the label)."""
    from zkdl.circuits.prover import commit_master

    *_, traces = run_parts
    key = randomness.new_key()
    M = traces[1].W_before
    _, s = commit_master(CFG, M, prf_key=key, step=1)
    _, same = commit_master(CFG, M, prf_key=key, step=1)
    M2 = [m.copy() for m in M]
    M2[0][0, 0] += 1
    _, other_w = commit_master(CFG, M2, prf_key=key, step=1)
    _, other_t = commit_master(CFG, M, prf_key=key, step=2)
    assert s.W[0].blinds == same.W[0].blinds
    assert s.W[0].blinds != other_w.W[0].blinds and s.W[0].blinds != other_t.W[0].blinds


# ----------------------------------------------------------------------------- runs on Ray

STEPS, WINDOW = 8, 2


@pytest.fixture(scope="module")
def spool_and_reference(tmp_path_factory):
    """A recorded spool (copied before use: proving consumes its traces) and the run directory one
    worker (this process, no Ray) proves from it."""
    base = tmp_path_factory.mktemp("cluster")
    src = str(base / "spool")
    record(src, STEPS, window=WINDOW)
    ref_spool, ref_run = str(base / "ref-spool"), str(base / "ref-run")
    shutil.copytree(src, ref_spool)
    r = zkdl("daemon", "--spool", ref_spool, "--out", ref_run, "--once", "--quiet")
    assert r.returncode == 0, r.stderr
    return src, ref_run


def _copy(src: str, tmp_path, name: str) -> str:
    dst = str(tmp_path / name)
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster of two single-CPU worker nodes on this machine (ray.cluster_utils.Cluster);
    its head runs no task."""
    import ray  # noqa: F401  (part of the test extra: a missing Ray fails here, it is not skipped)
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 0})
    nodes = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    yield c, nodes
    c.shutdown()


def test_one_and_two_local_workers_give_byte_identical_runs(spool_and_reference, tmp_path):
    src, ref_run = spool_and_reference
    spool, run = _copy(src, tmp_path, "spool"), str(tmp_path / "run")
    r = zkdl("daemon", "--spool", spool, "--out", run, "--once", "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert "2 workers on a local Ray instance" in r.stdout
    assert "in flight" in r.stdout                      # the progress line shows the windows in flight
    a, b = comparable_files(ref_run), comparable_files(run)
    assert sorted(a) == sorted(b) and any(n.startswith("window-") for n in a)
    for name in a:
        assert a[name] == b[name], f"{name} differs between 1 and 2 workers"


def _ray_jobs() -> list[int]:
    """Worker processes now running a zkdl job (Ray titles them "ray::zkdl_job")."""
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if f.read().startswith(b"ray::zkdl_job"):
                        pids.append(int(p))
            except OSError:
                pass
    return pids


def _manifest(run: str) -> dict:
    with open(os.path.join(run, "manifest.json")) as f:
        return json.load(f)


def _check_complete(run: str, ref_run: str) -> None:
    m = _manifest(run)
    assert m["complete"] and [w["index"] for w in m["windows"]] == list(range(STEPS // WINDOW))
    assert [w["t0"] for w in m["windows"]] == list(range(0, STEPS, WINDOW))      # none twice, none lost
    v = zkdl("verify", run)
    assert v.returncode == 0, v.stdout + v.stderr
    assert comparable_files(run) == comparable_files(ref_run)


def test_worker_and_node_killed_mid_run(spool_and_reference, cluster, tmp_path):
    """On a two-node cluster: a worker process killed (SIGKILL) in the middle of a window, then a
    whole node removed: the windows are retried elsewhere and the run completes, verifies, lists
    every window once and is byte-identical to the one-worker run."""
    src, ref_run = spool_and_reference
    c, nodes = cluster
    spool, run = _copy(src, tmp_path, "spool"), str(tmp_path / "run")
    p = popen_zkdl("daemon", "--spool", spool, "--out", run, "--once", "--ray", c.address, "--workers", "2",
                   "--traces", "store")
    try:
        killed = None
        t_end = time.time() + 120
        while killed is None and time.time() < t_end and p.poll() is None:
            jobs = _ray_jobs()
            if jobs:
                os.kill(jobs[0], signal.SIGKILL)
                killed = jobs[0]
            time.sleep(0.05)
        assert killed is not None, "no zkdl job ran on the cluster"
        c.remove_node(nodes[1])                          # and a whole node goes away
        out, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
        if nodes[1] not in c.worker_nodes:
            nodes[1] = c.add_node(num_cpus=1)            # the next tests have two worker nodes again
            c.wait_for_nodes()
    assert p.returncode == 0, err
    _check_complete(run, ref_run)
    # verification in parallel on the cluster: the same verdict and summary as sequential
    v1 = zkdl("verify", run, "--json")
    v2 = zkdl("verify", run, "--json", "--ray", c.address, "--workers", "2")
    assert v1.returncode == v2.returncode == 0, v2.stderr
    s1, s2 = json.loads(v1.stdout), json.loads(v2.stdout)
    for k in ("valid", "losses", "final_model_sha256", "final_model_link", "steps", "windows"):
        if k == "windows":
            s1[k] = [{a: b for a, b in w.items() if a != "verify_seconds"} for w in s1[k]]
            s2[k] = [{a: b for a, b in w.items() if a != "verify_seconds"} for w in s2[k]]
        assert s1[k] == s2[k], k
    # a tampered window is rejected by the parallel verifier too, and named
    data = bytearray(open(os.path.join(run, "window-000001.proof"), "rb").read())
    data[-40] ^= 1
    bad = str(tmp_path / "bad")
    shutil.copytree(run, bad)
    with open(os.path.join(bad, "window-000001.proof"), "wb") as f:
        f.write(bytes(data))
    m = _manifest(bad)
    from zkdl.runfiles import sha256_bytes

    m["windows"][1]["sha256"] = sha256_bytes(bytes(data))
    with open(os.path.join(bad, "manifest.json"), "w") as f:
        json.dump(m, f)
    v = zkdl("verify", bad, "--ray", c.address)
    assert v.returncode in (1, 2) and "window 1" in v.stderr, v.stderr         # invalid, or malformed


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(delay=st.floats(0.5, 12.0))
def test_driver_killed_at_any_instant_then_restarted(spool_and_reference, cluster, tmp_path_factory, delay):
    """kill -9 of the daemon (2 workers) at a hypothesis-chosen instant, then a restart: the run
    completes, verifies, and no window is lost or duplicated."""
    src, ref_run = spool_and_reference
    c, _ = cluster
    tmp = tmp_path_factory.mktemp("kill")
    spool, run = _copy(src, tmp, "spool"), str(tmp / "run")
    args = ("daemon", "--spool", spool, "--out", run, "--once", "--ray", c.address, "--workers", "2")
    p = popen_zkdl(*args)
    try:
        p.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
    r = zkdl(*args)
    assert r.returncode == 0, r.stderr
    _check_complete(run, ref_run)


def test_a_window_that_fails_on_a_worker_is_never_recorded(spool_and_reference, cluster, tmp_path):
    src, _ = spool_and_reference
    c, _ = cluster
    spool, run = _copy(src, tmp_path, "spool"), str(tmp_path / "run")
    with open(os.path.join(spool, "steps", "step-000000005.npz"), "r+b") as f:     # window 2's data, damaged
        f.seek(100)
        f.write(b"\xff" * 8)
    r = zkdl("daemon", "--spool", spool, "--out", run, "--once", "--ray", c.address, "--traces", "shared")
    assert r.returncode == 1 and one_line_error(r.stderr), r.stderr
    assert "window 2" in r.stderr and "corrupt" in r.stderr
    m = _manifest(run)
    assert [w["index"] for w in m["windows"]] in ([], [0], [0, 1])      # in order, never window 2
    assert not os.path.exists(os.path.join(run, "window-000002.proof"))


# ----------------------------------------------------------------------------- bad input


def test_missing_ray_and_unreachable_cluster_are_one_line_errors(tmp_path):
    fake = tmp_path / "noray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    e = env()
    e["PYTHONPATH"] = str(tmp_path / "noray") + os.pathsep + e["PYTHONPATH"]
    spool, run = str(tmp_path / "spool"), str(tmp_path / "run")
    record(spool, 2, window=2)

    def without_ray(*args):
        return subprocess.run([sys.executable, "-m", "zkdl", *args], capture_output=True, text=True, env=e,
                              cwd=ROOT, timeout=120)

    r = without_ray("daemon", "--spool", spool, "--out", run, "--once", "--workers", "2")
    assert r.returncode == 2 and one_line_error(r.stderr) and "zkdl[cluster]" in r.stderr, r.stderr
    assert not os.path.exists(run)                      # refused before anything was written
    r = without_ray("daemon", "--spool", spool, "--out", run, "--once", "--quiet")      # one worker: no Ray
    assert r.returncode == 0, r.stderr
    r = without_ray("verify", run, "--workers", "2")
    assert r.returncode == 2 and one_line_error(r.stderr) and "zkdl[cluster]" in r.stderr, r.stderr
    assert without_ray("verify", run).returncode == 0
    r = zkdl("daemon", "--spool", spool, "--out", str(tmp_path / "run2"), "--once", "--ray", "127.0.0.1:9")
    assert not os.path.exists(str(tmp_path / "run2"))
    assert r.returncode == 2 and one_line_error(r.stderr) and "cannot reach the Ray cluster" in r.stderr, r.stderr
    r = zkdl("daemon", "--spool", spool, "--out", str(tmp_path / "run2"), "--once", "--ray", "nonsense")
    assert r.returncode == 2 and one_line_error(r.stderr) and "HOST:PORT" in r.stderr, r.stderr


def test_continue_chain_is_the_only_way_into_a_chain(run_parts):
    """The split verifier (verify_window_alone on workers, continue_chain in order) accepts exactly
    what verify_window accepts: a statement must have been verified alone, must start where the
    previous verified window ended (or from the range-proven initial model), and the previous
    statement must itself be in the chain."""
    from zkdl.circuits.prover import prove_window
    from zkdl.circuits.training import WindowProof, continue_chain, verify_window_alone
    from zkdl.errors import VerificationError

    model, msec, ds, dsec, traces = run_parts
    key = randomness.new_key()
    p0, _, _ = prove_window(traces[:2], model, msec, ds, dsec, prf_key=key)
    p1, _, _ = prove_window(traces[2:], None, None, ds, dsec, prf_key=key)     # proven out of order
    st1 = verify_window_alone(p1.to_bytes(), ds)
    unread = WindowProof.from_bytes(p0.to_bytes()).statement                   # parsed, never verified
    with pytest.raises(VerificationError, match="verified first"):
        continue_chain(unread, model)
    with pytest.raises(VerificationError, match="does not start from the given model"):
        continue_chain(st1, model)                     # window 1 is not a chain start
    st0 = verify_window_alone(p0.to_bytes(), ds)
    with pytest.raises(VerificationError, match="returned by verify_window"):
        continue_chain(st1, st0)                       # window 0 is not in the chain yet
    continue_chain(st0, model)
    assert continue_chain(st1, st0).chain_verified
    # a window from another run (another key: other commitments) never continues this chain
    q1, _, _ = prove_window(traces[2:], None, None, ds, dsec, prf_key=randomness.new_key())
    with pytest.raises(VerificationError, match="not the previous window's after"):
        continue_chain(verify_window_alone(q1.to_bytes(), ds), st0)


class _Crash(Exception):
    pass


def test_out_of_order_windows_on_disk_are_adopted_and_unpaired_states_refused(tmp_path, monkeypatch):
    """A parallel daemon writes a window's proof and the state after it as soon as they arrive, in
    any order.  Killed with window 1 written and window 0 not yet recorded, the spool holds a state
    ahead of the manifest (state-2 with 0 windows recorded): a restart accepts it because the proof
    it names is in the run directory, adopts both windows and completes the run (the same bytes as
    an uninterrupted run); if that proof is not there (a run directory restored from an older
    copy), the state is never the daemon's to delete: it refuses and nothing changes."""
    from zkdl import cluster
    from zkdl.daemon import Daemon

    class LastFirst(cluster.Inline):
        """Two jobs in flight whose results come back latest first."""
        parallel = True

        def __init__(self):
            super().__init__()
            self.capacity = 2

        def wait(self, handles, timeout):
            done = [h for h in handles if h in self._out]
            return [max(done)] if done else []

    spool, run = str(tmp_path / "spool"), str(tmp_path / "run")
    record(spool, 6, window=2)
    ref_spool, ref_run = str(tmp_path / "ref-spool"), str(tmp_path / "ref-run")
    shutil.copytree(spool, ref_spool)
    assert Daemon(ref_spool, ref_run, once=True, quiet=True).run() == 0

    real = Daemon._record_entry

    def crash_at_0(self, k, *a):
        if k == 0:
            raise _Crash()
        return real(self, k, *a)

    monkeypatch.setattr(cluster, "executor", lambda workers=None, address=None: LastFirst())
    monkeypatch.setattr(Daemon, "_record_entry", crash_at_0)
    with pytest.raises(_Crash):
        Daemon(spool, run, once=True, quiet=True).run()
    monkeypatch.undo()
    private = os.path.join(spool, "private")
    assert _manifest(run)["windows"] == []
    assert {"state-000001.npz", "state-000002.npz"} <= set(os.listdir(private))     # 2 is ahead of 0 recorded
    assert os.path.exists(os.path.join(run, "window-000001.proof"))

    # a run directory without the proof that state-2 names: refused, nothing deleted or written
    older = str(tmp_path / "older")
    shutil.copytree(run, older)
    os.unlink(os.path.join(older, "window-000001.proof"))
    saved = str(tmp_path / "saved-run")
    shutil.move(run, saved)
    shutil.copytree(older, run)
    before = snapshot(spool, run)
    r = zkdl("daemon", "--spool", spool, "--out", run, "--once")
    assert r.returncode == 2 and one_line_error(r.stderr) and "behind the spool" in r.stderr, r.stderr
    assert snapshot(spool, run) == before

    # the run directory as the daemon left it: both windows adopted, the run completed
    shutil.rmtree(run)
    shutil.move(saved, run)
    r = zkdl("daemon", "--spool", spool, "--out", run, "--once")
    assert r.returncode == 0, r.stderr
    assert "window 0: adopted" in r.stdout and "window 1: adopted" in r.stdout
    m = _manifest(run)
    assert m["complete"] and [w["t0"] for w in m["windows"]] == [0, 2, 4]
    assert comparable_files(run) == comparable_files(ref_run)
    assert zkdl("verify", run).returncode == 0
