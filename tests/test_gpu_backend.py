"""The backend interface (zkdl.backend) and the gpu backend (prover_gpu.backend): a training
window proven with every hot operation -- Fr vector arithmetic, folds, eq tables, the sumcheck
round, MSMs -- on the CUDA kernels is byte-identical to the CPU's proof (deterministic prover
randomness, docs/protocol.md §12).  In CI the kernels run on the host emulator; on a GPU machine
(pytest -m gpu, bench/gpu_check.sh) on the device."""
from __future__ import annotations

import pytest

from runhelp import CFG, data, weights

from zkdl import backend, randomness
from zkdl.errors import ZkdlError


@pytest.fixture(scope="module")
def window():
    from zkdl.circuits.prover import commit_dataset, commit_model
    from zkdl.trainer import Trainer

    X, Y = data()
    model, msec = commit_model(CFG, weights())
    ds, dsec = commit_dataset(CFG, X, Y)
    tr = Trainer(CFG, weights(), X, Y)
    return [tr.step()], model, msec, ds, dsec, randomness.new_key()


def _prove(window):
    from zkdl.circuits.prover import prove_window

    traces, model, msec, ds, dsec, key = window
    proof, _, _ = prove_window(traces, model, msec, ds, dsec, prf_key=key)
    return proof.to_bytes()


def _check_gpu_path(window, gpu) -> None:
    from zkdl.circuits.training import verify_window

    cpu = _prove(window)
    with backend.use(gpu):
        assert backend.name() == "gpu"
        on_gpu = _prove(window)
    assert backend.name() == "cpu"
    for op in ("fr_vec_mul", "fr_vec_add", "fr_fold", "fr_eq_table", "sc_term_evals", "fr_logup_layer", "msm",
               "msm_rows"):
        assert gpu.calls[op] > 0, op                    # the kernels really computed the proof
    assert on_gpu == cpu
    verify_window(on_gpu, window[3], window[1])


def test_window_proof_on_the_emulated_gpu_kernels_is_byte_identical(window):
    from zkdl.prover_gpu import emu
    from zkdl.prover_gpu.backend import GpuBackend

    _check_gpu_path(window, GpuBackend(emu.load(), msm_blocks={"msm_scan_exclusive": 32, "msm_window_reduce": 8}))


@pytest.mark.gpu
def test_window_proof_on_the_gpu_is_byte_identical(window):
    from zkdl.prover_gpu.backend import GpuBackend

    _check_gpu_path(window, GpuBackend())


@pytest.mark.gpu
def test_digits_window_on_the_gpu_is_byte_identical():
    """The issue's check: a digits window (64-64-64-10, batch 64, 2 steps) proven on the GPU."""
    from zkdl.circuits.prover import commit_dataset, commit_model
    from zkdl.datasets import load_digits_fixed
    from zkdl.fixedpoint import FixedPointConfig
    from zkdl.prover_gpu.backend import GpuBackend
    from zkdl.trainer import Trainer, init_mlp, init_weights_from_float

    gpu = GpuBackend()              # first: no GPU, no work
    cfg = FixedPointConfig(widths=(64, 64, 64, 10), eta_int=1, k=8, batch_size=64, seed=7)
    d = load_digits_fixed(cfg.R)
    W = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    model, msec = commit_model(cfg, W)
    ds, dsec = commit_dataset(cfg, d.X_train, d.Y_train)
    tr = Trainer(cfg, W, d.X_train, d.Y_train)
    _check_gpu_path(([tr.step(), tr.step()], model, msec, ds, dsec, randomness.new_key()), gpu)


def test_use_refuses_an_incomplete_backend_and_restores_the_cpu():
    class Half:
        def fr_add(self, *a):
            pass

    with pytest.raises(ZkdlError, match="lacks"):
        with backend.use(Half()):
            pass
    assert backend.name() == "cpu" and backend.active() is backend._native
    with backend.use("cpu"):
        assert backend.name() == "cpu"


def test_daemon_backend_gpu_on_the_emulator_gives_the_cpu_run(tmp_path):
    """zkdl daemon --backend gpu (ZKDL_GPU_DEVICE=emu: the kernels on the host emulator) proves a
    run byte-identical to --backend cpu: windows, published model, link, manifest minus timings."""
    import os
    import shutil
    import subprocess
    import sys

    from runhelp import ROOT, env, record, zkdl
    from zkdl.runfiles import comparable_files

    spool = str(tmp_path / "spool")
    record(spool, 2, window=2)
    shutil.copytree(spool, str(tmp_path / "spool-gpu"))
    r = zkdl("daemon", "--spool", spool, "--out", tmp_path / "cpu", "--once", "--quiet")
    assert r.returncode == 0, r.stderr
    e = env()
    e["ZKDL_GPU_DEVICE"] = "emu"
    r = subprocess.run([sys.executable, "-m", "zkdl", "daemon", "--spool", str(tmp_path / "spool-gpu"), "--out",
                        str(tmp_path / "gpu"), "--once", "--quiet", "--backend", "gpu"], capture_output=True, text=True,
                       env=e, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    a, b = comparable_files(str(tmp_path / "cpu")), comparable_files(str(tmp_path / "gpu"))
    assert sorted(a) == sorted(b) and "final-model.link" in a
    assert a == b
    assert os.path.exists(tmp_path / "gpu" / "window-000000.proof")


def test_gpu_device_variable_refuses_an_unknown_value(monkeypatch, tmp_path):
    """ZKDL_GPU_DEVICE other than cuda / emu is an error naming the value (not silently the CUDA
    device); the daemon turns it into one line on stderr and exit 2, before writing anything."""
    import subprocess
    import sys

    from runhelp import ROOT, env, record
    from zkdl.prover_gpu import backend as gb

    monkeypatch.setenv("ZKDL_GPU_DEVICE", "emulator")
    with pytest.raises(ZkdlError, match="ZKDL_GPU_DEVICE='emulator' is not a GPU device"):
        gb.from_env()
    spool = str(tmp_path / "spool")
    record(spool, 2, window=2)
    e = env()
    e["ZKDL_GPU_DEVICE"] = "emulator"
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "zkdl", "daemon", "--spool", spool, "--out", str(out), "--once",
                        "--quiet", "--backend", "gpu"], capture_output=True, text=True, env=e, cwd=ROOT, timeout=600)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "ZKDL_GPU_DEVICE='emulator'" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() or not any(out.iterdir())

