"""The zkdl CLI end to end, in subprocesses: record -> daemon --once -> verify; tampering and bad
input (exit 1 naming the check / exit 2, one line on stderr, never a traceback); inspect,
report, commit-model, demo; the verifier imports no prover code."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import runhelp as h
from zkdl.circuits.training import WindowProof
from zkdl import runfiles as rf


@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    spool, run = base / "spool", base / "run"
    h.record(spool, 5, window=2)
    r = h.zkdl("daemon", "--spool", spool, "--out", run, "--once")
    assert r.returncode == 0, r.stderr
    return run


@pytest.fixture
def run_copy(proven, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(proven, dst)
    return dst


def _manifest(run):
    return json.loads((run / rf.MANIFEST).read_text())


def _save_manifest(run, m):
    (run / rf.MANIFEST).write_text(json.dumps(m))


def _rehash(run, k):
    m = _manifest(run)
    m["windows"][k]["sha256"] = rf.sha256_file(run / rf.window_file(k))
    _save_manifest(run, m)


def _invalid(r, check):
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert h.one_line_error(r.stderr), r.stderr
    assert check in r.stderr, r.stderr


def _unusable(r):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert h.one_line_error(r.stderr), r.stderr


def test_verify_run_human_and_json(proven):
    r = h.zkdl("verify", proven)
    assert r.returncode == 0, r.stderr
    assert "VALID" in r.stdout and "8-4-3" in r.stdout and "batch 2" in r.stdout and "run complete" in r.stdout
    assert r.stderr == ""
    r = h.zkdl("verify", proven, "--json")
    s = json.loads(r.stdout)
    assert r.returncode == 0 and s["valid"] and s["steps"] == 5 and s["complete"]
    assert s["final_model_range_proof"] == "verified" and s["final_model_link"] == "verified"
    assert [w["t0"] for w in s["windows"]] == [0, 2, 4] and len(s["losses"]) == 5
    assert s["architecture"]["widths"] == [8, 4, 3] and s["hyperparameters"]["batch_size"] == 2


def test_verify_single_proof(proven, tmp_path):
    """A single window is verified as a chain start only: from the range-proven model next to it
    (or --initial-model); a window that continues the chain is sent to its run."""
    r = h.zkdl("verify", proven / rf.window_file(0))
    assert r.returncode == 0 and "steps            0..1" in r.stdout, r.stderr
    r = h.zkdl("verify", proven / rf.window_file(1))
    assert r.returncode == 2 and h.one_line_error(r.stderr) and "zkdl verify RUN_DIR" in r.stderr
    alone = tmp_path / "alone"
    alone.mkdir()
    for f in (rf.window_file(0), rf.DATASET_FILE):
        (alone / f).write_bytes((proven / f).read_bytes())
    r = h.zkdl("verify", alone / rf.window_file(0))
    assert r.returncode == 2 and "--initial-model" in r.stderr and h.one_line_error(r.stderr)
    r = h.zkdl("verify", alone / rf.window_file(0), "--initial-model", proven / rf.INITIAL_MODEL_FILE)
    assert r.returncode == 0, r.stderr


def test_verifier_imports_no_prover_code(proven):
    code = f"""
import sys
from zkdl.cli import main
for argv in (["verify", {str(proven)!r}, "--json"], ["inspect", {str(proven / rf.window_file(0))!r}]):
    assert main(argv) == 0
bad = [m for m in ("zkdl.circuits.prover", "zkdl.trainer", "zkdl.record", "zkdl.daemon", "zkdl.prover_gpu", "cupy")
       if m in sys.modules or any(k.startswith(m + ".") for k in sys.modules)]
print("BAD", bad)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=h.env(), cwd=h.ROOT)
    assert r.returncode == 0, r.stderr
    assert "BAD []" in r.stdout, r.stdout


def test_tampered_statement_is_rejected_by_the_proof(run_copy):
    """Change a revealed loss inside the proof and fix up the manifest (hash, losses): the proof
    itself no longer verifies."""
    p = run_copy / rf.window_file(1)
    proof = WindowProof.from_bytes(p.read_bytes())
    proof.statement.losses[0] += 1
    p.write_bytes(proof.to_bytes())
    m = _manifest(run_copy)
    m["windows"][1]["losses_int"] = [str(v) for v in proof.statement.losses]
    m["windows"][1]["sha256"] = rf.sha256_file(p)
    _save_manifest(run_copy, m)
    _invalid(h.zkdl("verify", run_copy), "window 1: proof")
    r = h.zkdl("verify", run_copy, "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["failed_check"] == "window 1: proof"


def test_bitflip_without_rehash_is_a_hash_failure(run_copy):
    p = run_copy / rf.window_file(0)
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 1
    p.write_bytes(bytes(b))
    _invalid(h.zkdl("verify", run_copy), "window 0: sha256")


def test_swapped_windows_break_the_chain(run_copy):
    a, b = run_copy / rf.window_file(0), run_copy / rf.window_file(1)
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    _rehash(run_copy, 0)
    _rehash(run_copy, 1)
    _invalid(h.zkdl("verify", run_copy), "window 0: consecutive steps")


def test_dropped_window_breaks_the_chain(run_copy):
    m = _manifest(run_copy)
    (run_copy / rf.window_file(1)).unlink()
    os.replace(run_copy / rf.window_file(2), run_copy / rf.window_file(1))
    w = m["windows"].pop(2)
    w.update(index=1, file=rf.window_file(1))
    m["windows"][1] = w
    _save_manifest(run_copy, m)
    _invalid(h.zkdl("verify", run_copy), "window 1: consecutive steps")


def test_wrong_final_model(run_copy):
    shutil.copy(run_copy / rf.INITIAL_MODEL_FILE, run_copy / rf.FINAL_MODEL_FILE)
    _invalid(h.zkdl("verify", run_copy), "final model")                  # the manifest's sha256
    m = _manifest(run_copy)
    m["final_model"]["sha256"] = rf.sha256_file(run_copy / rf.FINAL_MODEL_FILE)
    _save_manifest(run_copy, m)
    _invalid(h.zkdl("verify", run_copy), "final model")                  # the manifest's model digest


def _swap_final_model(run, data: bytes):
    """Replace final-model.commitment and fix up the manifest (sha256, model digest)."""
    (run / rf.FINAL_MODEL_FILE).write_bytes(data)
    m = _manifest(run)
    m["final_model"]["sha256"] = rf.sha256_bytes(data)
    m["final_model"]["model_sha256"] = rf.model_digest(rf.read_model_file(data)[1])
    _save_manifest(run, m)


def test_final_model_swapped_for_another_range_proven_model_is_rejected_by_the_link(proven, run_copy):
    """final-model.commitment replaced by another range-proven model -- the run's initial model, or
    a fresh commitment to the very same published weights -- with the manifest fixed up: its own
    range proof verifies, but the link to the last window's weights does not."""
    from zkdl.circuits.prover import commit_model
    from zkdl.circuits.training import verify_model
    from zkdl.record import read_model_opening, weights_from_secret

    good = (run_copy / rf.FINAL_MODEL_FILE).read_bytes()
    _swap_final_model(run_copy, (run_copy / rf.INITIAL_MODEL_FILE).read_bytes())
    r = h.zkdl("verify", run_copy)
    _invalid(r, "final model")
    assert "link" in r.stderr
    r = h.zkdl("verify", run_copy, "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["failed_check"] == "final model"
    # the same rounded weights, committed again (other blinds): still not the linked commitment
    spool = proven.parent / "spool"
    W = weights_from_secret(h.CFG, read_model_opening(str(spool / rf.PRIVATE_DIR / rf.FINAL_OPENING_FILE), h.CFG))
    other, _ = commit_model(h.CFG, W)
    verify_model(h.CFG, other)
    _swap_final_model(run_copy, rf.model_file_bytes(h.CFG, other))
    r = h.zkdl("verify", run_copy)
    _invalid(r, "final model")
    assert "link" in r.stderr
    _swap_final_model(run_copy, good)
    assert h.zkdl("verify", run_copy).returncode == 0


def test_tampered_final_model_link(run_copy):
    """A changed final-model.link: exit 1 naming the final model, whether the manifest's sha256
    catches it or (rehashed) the link proof itself fails; a missing one is unusable input."""
    p = run_copy / rf.FINAL_LINK_FILE
    good = p.read_bytes()
    for pos in (len(good) // 2, len(good) - 1):
        b = bytearray(good)
        b[pos] ^= 0x10
        p.write_bytes(bytes(b))
        _invalid(h.zkdl("verify", run_copy), "final model")               # sha256
        m = _manifest(run_copy)
        m["final_model"]["link_sha256"] = rf.sha256_file(p)
        _save_manifest(run_copy, m)
        r = h.zkdl("verify", run_copy)                                     # the proof
        _invalid(r, "final model")
        r = h.zkdl("verify", run_copy, "--json")
        assert json.loads(r.stdout)["failed_check"] == "final model"
    p.write_bytes(good)
    m = _manifest(run_copy)
    m["final_model"]["link_sha256"] = rf.sha256_bytes(good)
    _save_manifest(run_copy, m)
    r = h.zkdl("verify", run_copy, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["final_model_link"] == "verified", r.stderr
    p.unlink()
    _unusable(h.zkdl("verify", run_copy))


def test_wrong_initial_model_claim(run_copy, tmp_path):
    assert h.zkdl("verify", run_copy, "--final-model", run_copy / rf.FINAL_MODEL_FILE).returncode == 0
    _invalid(h.zkdl("verify", run_copy, "--final-model", run_copy / rf.INITIAL_MODEL_FILE), "final model")
    _invalid(h.zkdl("verify", run_copy, "--initial-model", run_copy / rf.FINAL_MODEL_FILE), "initial model")


def test_other_dataset(run_copy, tmp_path):
    h.record(tmp_path / "s2", 1)
    shutil.copy(tmp_path / "s2" / rf.DATASET_FILE, run_copy / rf.DATASET_FILE)
    m = _manifest(run_copy)
    m["dataset_commitment"]["sha256"] = rf.sha256_file(run_copy / rf.DATASET_FILE)
    _save_manifest(run_copy, m)
    _invalid(h.zkdl("verify", run_copy), "dataset digest")


@pytest.mark.parametrize("damage", ["no-manifest", "no-proof", "no-dataset", "manifest-version", "manifest-junk",
                                    "missing-dir", "not-a-run"])
def test_unusable_run_dirs(run_copy, tmp_path, damage):
    target = run_copy
    if damage == "no-manifest":
        (run_copy / rf.MANIFEST).unlink()
    elif damage == "no-proof":
        (run_copy / rf.window_file(2)).unlink()
    elif damage == "no-dataset":
        (run_copy / rf.DATASET_FILE).unlink()
    elif damage == "manifest-version":
        m = _manifest(run_copy)
        m["version"] = 99
        _save_manifest(run_copy, m)
    elif damage == "manifest-junk":
        (run_copy / rf.MANIFEST).write_text("{ not json")
    elif damage == "missing-dir":
        target = tmp_path / "nope"
    else:
        target = tmp_path
    r = h.zkdl("verify", target)
    _unusable(r)
    assert "Traceback" not in r.stdout


@pytest.mark.parametrize("damage", ["empty", "text", "version", "kind", "truncated", "trailing", "header-only"])
def test_unusable_proof_files(proven, tmp_path, damage):
    data = (proven / rf.window_file(0)).read_bytes()
    bad = {"empty": b"", "text": b"hello, not a proof\n", "version": data[:4] + b"\x63\x00" + data[6:],
           "kind": data[:6] + b"\x77\x77" + data[8:], "truncated": data[: len(data) // 3],
           "trailing": data + b"\x00", "header-only": data[:16]}[damage]
    p = tmp_path / "x.proof"
    p.write_bytes(bad)
    shutil.copy(proven / rf.DATASET_FILE, tmp_path / rf.DATASET_FILE)
    _unusable(h.zkdl("verify", p))
    _unusable(h.zkdl("inspect", p))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.floats(0.0, 1.0, exclude_max=True), bit=st.integers(0, 7))
def test_bitflipped_proof_never_verifies(proven, tmp_path_factory, capsys, pos, bit):
    from zkdl.cli import main

    d = tmp_path_factory.mktemp("flip")
    data = bytearray((proven / rf.window_file(0)).read_bytes())
    i = int(pos * len(data))
    data[i] ^= 1 << bit
    (d / "w.proof").write_bytes(bytes(data))
    shutil.copy(proven / rf.DATASET_FILE, d / rf.DATASET_FILE)
    capsys.readouterr()
    rc = main(["verify", str(d / "w.proof")])
    out = capsys.readouterr()
    assert rc in (1, 2), (i, bit)
    assert h.one_line_error(out.err), out.err


def test_inspect(proven):
    r = h.zkdl("inspect", proven / rf.window_file(1))
    assert r.returncode == 0 and "NOT verified" in r.stdout and "steps 2..3" in r.stdout
    r = h.zkdl("inspect", proven / rf.window_file(1), "--json")
    s = json.loads(r.stdout)
    assert s["kind"] == "window proof" and s["t0"] == 2 and s["verified"] is False
    for f in (rf.DATASET_FILE, rf.FINAL_MODEL_FILE, rf.FINAL_LINK_FILE):
        r = h.zkdl("inspect", proven / f)
        assert r.returncode == 0, r.stderr
    assert "final model link" in r.stdout and "NOT verified" in r.stdout
    _unusable(h.zkdl("inspect", proven / "nope.proof"))


def test_usage_errors_are_one_line(tmp_path):
    _unusable(h.zkdl("verify"))
    _unusable(h.zkdl("frobnicate"))
    _unusable(h.zkdl("daemon", "--spool", tmp_path))
    r = h.zkdl()
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_report(proven, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "r.png"
    r = h.zkdl("report", proven, "--out", png)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "r.html").read_text()
    assert "data:image/png;base64," in page and "zkdl verify" in page
    _unusable(h.zkdl("report", tmp_path / "nope"))


def test_commit_model_and_recording_from_it(tmp_path):
    import numpy as np

    from zkdl.record import Recorder
    from zkdl.trainer import export_state_dict

    W = h.weights()
    np.savez(tmp_path / "w.npz", **export_state_dict(W, h.CFG.R))
    r = h.zkdl("commit-model", tmp_path / "w.npz", "--out", tmp_path / "m.commitment", "--batch-size", 2)
    assert r.returncode == 0, r.stderr
    assert oct(os.stat(tmp_path / "m.commitment.opening").st_mode & 0o777) == "0o600"
    before = (tmp_path / "m.commitment").read_bytes()
    r = h.zkdl("commit-model", tmp_path / "w.npz", "--out", tmp_path / "m.commitment")
    assert r.returncode == 1 and h.one_line_error(r.stderr) and "already exists" in r.stderr
    assert (tmp_path / "m.commitment").read_bytes() == before            # nothing destroyed
    # a run that starts from the published commitment: byte-equal initial model
    X, Y = h.data()
    with Recorder(str(tmp_path / "s"), h.CFG, W, X, Y, window=2,
                  model_opening=(str(tmp_path / "m.commitment"), str(tmp_path / "m.commitment.opening"))) as rec:
        rec.run(2)
    assert h.zkdl("daemon", "--spool", tmp_path / "s", "--out", tmp_path / "run", "--once").returncode == 0
    r = h.zkdl("verify", tmp_path / "run", "--initial-model", tmp_path / "m.commitment")
    assert r.returncode == 0, r.stderr
    # the opening must open the commitment to the given weights
    W2 = [w + 1 for w in W]
    with pytest.raises(Exception, match="does not hold the initial weights"):
        Recorder(str(tmp_path / "s3"), h.CFG, W2, X, Y,
                 model_opening=(str(tmp_path / "m.commitment"), str(tmp_path / "m.commitment.opening")))


def test_demo_end_to_end(tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "demo"
    r = h.zkdl("demo", "--steps", 3, "--window", 2, "--batch-size", 4, "--hidden", 8, "--out", out, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VALID" in r.stdout and "test accuracy" in r.stdout
    assert h.zkdl("verify", out / "run").returncode == 0
    # the demo refuses to reuse a directory
    _unusable_or_invalid = h.zkdl("demo", "--out", out)
    assert _unusable_or_invalid.returncode != 0 and h.one_line_error(_unusable_or_invalid.stderr)
