"""prover_gpu: the CUDA kernels, checked without a GPU.

* Every kernel file compiles with nvcc for sm_80 and sm_90, warnings as errors (the compiles run
  in the background from the start of this module and are collected by the last tests).
* The emulator (prover_gpu.emu: the same .cu sources built as host C++) runs every kernel against
  the CPU implementation (zkdl.field, zkdl._native, zkdl.logup, zkdl.curve.msm) on seeded random
  inputs and edge sizes, and under several thread/block schedules.
* prover_gpu.available() / require() explain a missing CuPy or device.
See docs/gpu.md.
"""
from __future__ import annotations

import concurrent.futures
import os
import random
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import zkdl
import zkdl.prover_gpu as pg
from zkdl import logup
from zkdl.curve import G1, PointVec, _normalize, msm as cpu_msm
from zkdl.errors import ZkdlError
from zkdl.field import R_MODULUS as R, FrVec, product_evals, scalar_limbs
from zkdl.prover_gpu import emu as emu_mod, kernels as reg, pipeline as pl

U64, I32 = np.uint64, np.int32
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- nvcc (background)

def _find_nvcc() -> str | None:
    for cand in (shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if cand and os.path.exists(cand):
            return cand
    return None


COMPILE_CASES = [(f.file, arch) for f in sorted(reg.FILES, key=lambda f: f.file != "msm.cu") for arch in reg.ARCHS]


@pytest.fixture(scope="module", autouse=True)
def nvcc_jobs(request, tmp_path_factory):
    """Start the compile checks at once if any is selected, so they overlap the emulation tests
    (msm.cu first: ~15 s per architecture); the test_nvcc_* tests wait for their own result."""
    selected = {(item.callspec.params["file"], item.callspec.params["arch"]) for item in request.session.items
                if getattr(item, "originalname", "") == "test_nvcc_compiles"}
    nvcc = _find_nvcc()
    if not selected or nvcc is None:
        yield {}
        return
    out = tmp_path_factory.mktemp("nvcc")
    # one worker beside this process; a second only while the machine is otherwise idle
    cpus = os.cpu_count() or 1
    workers = 2 if cpus >= 2 and os.getloadavg()[0] < 0.5 else 1
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)

    def run(file, arch):
        cmd = reg.nvcc_command(file, arch, str(out / f"{file}.{arch}.cubin")) + ["-Xptxas", "-v"]
        cmd[0] = nvcc
        return cmd, subprocess.run(cmd, capture_output=True, text=True)

    jobs = {case: pool.submit(run, *case) for case in COMPILE_CASES if case in selected}
    yield jobs
    pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    return emu_mod.load(tmp_path_factory.mktemp("emu-build"))


@pytest.fixture
def schedule(emu):
    yield emu.set_schedule
    emu.set_schedule("forward")


def rand_fr(rng: random.Random, n: int) -> FrVec:
    return FrVec.from_ints([rng.randrange(R) for _ in range(n)])


def rand_points(rng: random.Random, n: int) -> PointVec:
    if n == 0:
        return PointVec.identity(0)
    base = PointVec.from_points([G1.generator()] * n)
    return base.to_jacobian().scale(FrVec.from_ints([rng.randrange(1, R) for _ in range(n)])).to_affine()


def s1(x: int) -> np.ndarray:
    return scalar_limbs(x)


def centred(x: int) -> int:
    x %= R
    return x - R if x > (R - 1) // 2 else x


def gpu_msm(emu, points: PointVec, k: FrVec, **kw) -> G1:
    return G1(_normalize(pl.msm(emu, points.limbs, k.limbs, **kw)))


# ---------------------------------------------------------------------------- registry

def test_registry_matches_sources(emu):
    """Every .cu is registered, every entry point exists in its file with the registered signature
    (the emulator compares the compiled signatures when it loads)."""
    on_disk = {p.name for p in reg.KERNEL_DIR.glob("*.cu")}
    assert on_disk == {f.file for f in reg.FILES}
    for f in reg.FILES:
        src = f.path.read_text()
        for k in f.kernels:
            assert f'extern "C" __global__ void {k.name}(' in src, k.name
    assert sorted(emu.names()) == sorted(reg.KERNELS)
    assert emu.signature("msm_digits") == (("ptr", "ptr", "ptr", "ptr", "u64", "i32", "i32"), False)


def test_launch_errors_are_reported(emu):
    a = np.zeros((4, 4), np.uint64)
    with pytest.raises(emu_mod.EmulationError, match="no kernel"):
        emu.launch("fr_nope", 1, 1)
    with pytest.raises(emu_mod.EmulationError, match="max_block"):
        emu.launch("fr_sum_rows", 1, 512, a, a, I32(1), U64(0))
    with pytest.raises(emu_mod.EmulationError, match="invalid launch configuration"):
        emu.launch("fr_vec_neg", 0, 32, a, a, U64(4))
    with pytest.raises(emu_mod.EmulationError, match="exactly one block"):
        emu.launch("msm_scan_exclusive", 2, 32, a, U64(0))
    with pytest.raises(emu_mod.EmulationError, match="arguments"):
        emu.launch("fr_vec_neg", 1, 32, a, a)
    assert isinstance(emu_mod.EmulationError("x"), ZkdlError)


# ---------------------------------------------------------------------------- the emulator itself

SELFTEST_CU = r"""
extern "C" __global__ void st_reverse(unsigned *out, const unsigned *in)
{
    __shared__ unsigned sh[1024];
    unsigned t = threadIdx.x, T = blockDim.x, o = blockIdx.x * T;
    sh[t] = in[o + t];
    __syncthreads();
    out[o + t] = sh[T - 1 - t];
}
extern "C" __global__ void st_divergent(unsigned *out)
{
    if (threadIdx.x == 1) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}
extern "C" __global__ void st_racy(unsigned *out)
{
    __shared__ unsigned last;
    last = threadIdx.x; /* every thread writes: the survivor depends on the order */
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = last;
}
extern "C" __global__ void st_unflagged(unsigned *out)
{
    __syncthreads();
    out[0] = 1;
}
"""


def test_emulator_barriers_divergence_and_schedules(tmp_path):
    """Shared memory is per block and __syncthreads separates phases (a block-wide reversal is
    right only then); a barrier skipped by one thread and a barrier in a kernel registered
    without one are errors; a write race between barriers shows up as schedule-dependent output."""
    cu = tmp_path / "selftest.cu"
    cu.write_text(SELFTEST_CU)
    ks = reg.KernelFile(str(cu), (reg.Kernel("st_reverse", ("ptr", "ptr"), barrier=True),
                                  reg.Kernel("st_divergent", ("ptr",), barrier=True),
                                  reg.Kernel("st_racy", ("ptr",), barrier=True),
                                  reg.Kernel("st_unflagged", ("ptr",), barrier=False)))
    st_emu = emu_mod.load(tmp_path / "build", files=[ks])
    x = np.arange(3 * 100, dtype=np.uint32)
    for mode in ("forward", "reverse", "random"):
        st_emu.set_schedule(mode, seed=7)
        out = np.zeros_like(x)
        st_emu.launch("st_reverse", 3, 100, out, x)
        assert (out == x.reshape(3, 100)[:, ::-1].reshape(-1)).all(), mode
    st_emu.set_schedule("forward")
    with pytest.raises(emu_mod.EmulationError, match="divergent __syncthreads"):
        st_emu.launch("st_divergent", 1, 4, np.zeros(4, np.uint32))
    with pytest.raises(emu_mod.EmulationError, match="barrier=False"):
        st_emu.launch("st_unflagged", 1, 2, np.zeros(1, np.uint32))
    seen = set()
    for mode in ("forward", "reverse"):
        st_emu.set_schedule(mode)
        out = np.zeros(1, np.uint32)
        st_emu.launch("st_racy", 1, 8, out)
        seen.add(int(out[0]))
    st_emu.set_schedule("forward")
    assert seen == {7, 0}


# ---------------------------------------------------------------------------- Fr vectors

VEC_OPS = {
    # name: (number of vector inputs, scalar operand?, reference)
    "fr_vec_add": (2, False, lambda a, b, s: a + b),
    "fr_vec_sub": (2, False, lambda a, b, s: a - b),
    "fr_vec_mul": (2, False, lambda a, b, s: a * b),
    "fr_vec_neg": (1, False, lambda a, b, s: -a),
    "fr_vec_scale": (1, True, lambda a, b, s: a * s),
    "fr_vec_add_scalar": (1, True, lambda a, b, s: a + s),
    "fr_vec_rsub_scalar": (1, True, lambda a, b, s: s - a),
    "fr_vec_axpy": (2, True, lambda a, b, s: a * s + b),
}
SIZES = [0, 1, 255, 257, 1000]


def _vec_launch(emu, name, out, a, b, s, n, grid=None, block=256):
    nvec, has_s, _ = VEC_OPS[name]
    grid = grid or reg.grid_for(n, block)
    if name == "fr_vec_axpy":
        args = (out, s1(s), a, b)
    else:
        args = (out, a) + ((b,) if nvec == 2 else ()) + ((s1(s),) if has_s else ())
    emu.launch(name, grid, block, *args, U64(n))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", sorted(VEC_OPS))
def test_fr_vec_ops(emu, name, n):
    rng = random.Random(f"{name}-{n}")
    a, b, s = rand_fr(rng, n), rand_fr(rng, n), rng.randrange(R)
    want = VEC_OPS[name][2](a, b, s)
    out = np.full((n, 4), 0xAB, np.uint64)
    _vec_launch(emu, name, out, a.limbs, b.limbs, s, n)
    assert FrVec(out) == want
    if n:  # a grid smaller than the data (grid-stride loop), odd block size, in place (out = a)
        inplace = a.limbs.copy()
        _vec_launch(emu, name, inplace, inplace, b.limbs, s, n, grid=2, block=33)
        assert FrVec(inplace) == want


def test_fr_vec_edge_values(emu):
    vals = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 2**64 - 1, 2**128, 2**254]
    a = FrVec.from_ints([x for x in vals for _ in vals])
    b = FrVec.from_ints([y for _ in vals for y in vals])
    n = len(a)
    for name in ("fr_vec_add", "fr_vec_sub", "fr_vec_mul"):
        out = np.zeros_like(a.limbs)
        _vec_launch(emu, name, out, a.limbs, b.limbs, 0, n)
        assert FrVec(out) == VEC_OPS[name][2](a, b, 0), name


# ---------------------------------------------------------------------------- fold, half sum, eq

@pytest.mark.parametrize("h", [0, 1, 3, 256, 257])
def test_fold_and_half_sum(emu, h):
    rng = random.Random(h)
    a, c = rand_fr(rng, 2 * h), rng.randrange(R)
    out = np.zeros((h, 4), np.uint64)
    emu.launch("fr_fold", reg.grid_for(h, 64), 64, out, a.limbs, s1(c), U64(h))
    assert FrVec(out) == a.fold(c)
    inplace = a.limbs.copy()  # out aliases a: the first half is overwritten
    emu.launch("fr_fold", 1, 7, inplace, inplace, s1(c), U64(h))
    assert FrVec(inplace[:h].copy()) == a.fold(c)
    hs = np.zeros((h, 4), np.uint64)
    emu.launch("fr_half_sum", reg.grid_for(h, 256), 256, hs, a.limbs, U64(h))
    assert FrVec(hs) == a.half_sum()


@pytest.mark.parametrize("k", [0, 1, 2, 5, 9])
def test_eq_table(emu, k):
    rng = random.Random(k)
    u = rand_fr(rng, k)
    assert FrVec(pl.eq_table(emu, u.limbs, k)) == FrVec.eq_table(u)
    assert FrVec(pl.eq_table(emu, u.limbs, k, block=3)) == FrVec.eq_table(u)


# ---------------------------------------------------------------------------- sumcheck round

@settings(max_examples=25)
@given(nf=st.integers(1, 4), degree=st.integers(1, 8), m=st.sampled_from([0, 1, 2, 3, 5, 64, 100, 257]),
       with_eq=st.booleans(), cfg=st.sampled_from([(None, None), (1, 1), (3, 96), (2, 100), (5, 32), (1, 256)]),
       seed=st.integers(0, 2**32 - 1))
def test_sumcheck_round_matches_cpu(emu, nf, degree, m, with_eq, cfg, seed):
    rng = random.Random(seed)
    fs = [rand_fr(rng, 2 * m) for _ in range(nf)]
    eq = rand_fr(rng, m) if with_eq else None
    grid, block = cfg
    got = pl.sumcheck_round(emu, None if eq is None else eq.limbs, [f.limbs for f in fs], degree,
                            grid=grid, block=block)
    assert FrVec(got).to_ints() == product_evals(eq, fs, degree)


def test_sumcheck_round_kernel_limits(emu):
    f = FrVec.ones(4).limbs
    with pytest.raises(pg.GpuKernelError):
        pl.sumcheck_round(emu, None, [f] * 5, 2)
    with pytest.raises(pg.GpuKernelError):
        pl.sumcheck_round(emu, None, [f], 9)
    parts = np.full((3, 4), 7, np.uint64)  # out-of-range nf/D: the kernel writes nothing
    emu.launch("sc_round_partials", 1, 32, parts, None, f, None, None, None, I32(1), I32(9), U64(2))
    assert (parts == 7).all()


@pytest.mark.parametrize("n,block", [(0, 128), (1, 1), (257, 128), (1000, 256), (1000, 37)])
def test_sum_rows_is_vector_sum(emu, n, block):
    a = rand_fr(random.Random(n), n)
    out = pl.sum_rows(emu, a.limbs, 1, n, block=block)
    assert FrVec(out).to_ints() == [a.sum()]


# ---------------------------------------------------------------------------- logUp layer

@pytest.mark.parametrize("k", [0, 1, 2, 5, 7])
@pytest.mark.parametrize("unit", [True, False])
def test_logup_tree_matches_cpu(emu, k, unit):
    rng = random.Random(k * 2 + unit)
    q = rand_fr(rng, 1 << k)
    p = None if unit else rand_fr(rng, 1 << k)
    quads, P, Q = logup._tree(p, q)
    levels = pl.logup_tree(emu, None if p is None else p.limbs, q.limbs, block=32)
    assert len(levels) == k + 1
    rp, rq = levels[-1]
    assert FrVec(rq).to_ints() == [Q]
    assert (FrVec(rp).to_ints() if rp is not None else [1]) == [P]
    for j in range(k):  # quads[j]: the halves of level j + 1 = levels[k - 1 - j]
        lp, lq = levels[k - 1 - j]
        want = [FrVec(x.limbs) for x in quads[j]]
        halves = [FrVec(lq[0::2].copy()), FrVec(lq[1::2].copy())]
        if lp is not None:
            halves = [FrVec(lp[0::2].copy()), FrVec(lp[1::2].copy())] + halves
        assert halves == want


# ---------------------------------------------------------------------------- MSM pieces

def _edge_scalars(rng, n):
    special = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 2**64, R - 2**64, 5]
    return special + [rng.randrange(R) for _ in range(n - len(special))]


def test_msm_scalar_bits(emu):
    rng = random.Random(1)
    for vals in ([0], [0, 0], [1], [R - 1], [3, -200 % R, 17], _edge_scalars(rng, 40)):
        k = FrVec.from_ints(vals)
        mb = np.zeros(1, np.uint32)
        emu.launch("msm_scalar_bits", 2, 3, mb, k.limbs, U64(len(vals)))
        assert int(mb[0]) == max(abs(centred(v)).bit_length() for v in vals)


@pytest.mark.parametrize("c", [1, 2, 5, 13, 16, 20])
def test_msm_digits_reconstruct_scalars(emu, c):
    rng = random.Random(c)
    vals = _edge_scalars(rng, 30)
    k = FrVec.from_ints(vals)
    n, nwin, nb = len(vals), 254 // c + 1, 1 << (c - 1)
    keys, refs, ovf = np.zeros(nwin * n, np.uint32), np.zeros(nwin * n, np.uint32), np.zeros(1, np.uint32)
    emu.launch("msm_digits", 3, 8, keys, refs, ovf, k.limbs, U64(n), I32(c), I32(nwin))
    assert int(ovf[0]) == 0
    total = [0] * n
    for o in range(nwin * n):
        j, i = divmod(o, n)
        assert refs[o] & 0x7FFFFFFF == i
        if keys[o] == 0xFFFFFFFF:
            continue
        assert keys[o] // nb == j
        d = int(keys[o]) % nb + 1
        total[i] += (-d if refs[o] >> 31 else d) << (c * j)
    assert total == [centred(v) for v in vals]
    # too few windows for a 254-bit scalar: flagged
    ovf[0] = 0
    emu.launch("msm_digits", 1, 32, keys, refs, ovf, k.limbs, U64(n), I32(c), I32(nwin - 1))
    assert int(ovf[0]) == 1


@pytest.mark.parametrize("n,block", [(0, 1024), (1, 1), (1023, 1024), (1025, 1024), (5000, 7), (5000, 1000)])
def test_msm_scan_exclusive(emu, n, block):
    data = np.random.default_rng(n).integers(0, 50, n, dtype=np.uint32)
    want = np.concatenate([[0], np.cumsum(data)[:-1]]).astype(np.uint32) if n else data
    got = data.copy()
    emu.launch("msm_scan_exclusive", 1, block, got, U64(n))
    assert (got == want).all()


def test_msm_bucket_sort(emu):
    rng = np.random.default_rng(5)
    K, total = 37, 3000
    keys = rng.integers(0, K, total, dtype=np.uint32)
    keys[rng.random(total) < 0.3] = 0xFFFFFFFF
    refs = rng.integers(0, 2**32, total, dtype=np.uint32)
    counts = np.zeros(K + 1, np.uint32)
    emu.launch("msm_bucket_count", 5, 64, counts, keys, U64(total))
    live = keys != 0xFFFFFFFF
    assert (counts[:K] == np.bincount(keys[live], minlength=K)).all() and counts[K] == 0
    emu.launch("msm_scan_exclusive", 1, 16, counts, U64(K + 1))
    cursor = counts.copy()
    sorted_refs = np.zeros(int(live.sum()), np.uint32)
    emu.launch("msm_bucket_scatter", 4, 100, sorted_refs, cursor, keys, refs, U64(total))
    assert (cursor[:K] == counts[1:]).all()
    for b in range(K):
        got = np.sort(sorted_refs[counts[b]:counts[b + 1]])
        assert (got == np.sort(refs[keys == b])).all()


# ---------------------------------------------------------------------------- MSM end to end

def _case(name, rng):
    P = rand_points(rng, 8)
    if name == "random":
        return rand_points(rng, 33), rand_fr(rng, 33)
    if name == "n1":
        return rand_points(rng, 1), rand_fr(rng, 1)
    if name == "zero_scalars":
        return P, FrVec.zeros(8)
    if name == "r_minus_1":
        return P, FrVec.from_ints([R - 1, 1, R - 1, 2, (R - 1) // 2, (R + 1) // 2, R - 2, 0])
    if name == "identity_points":
        pts = PointVec(np.concatenate([P.limbs[:4], np.zeros((4, 12), np.uint64)]))
        return PointVec(pts.limbs[[0, 4, 1, 5, 2, 6, 3, 7]].copy()), rand_fr(rng, 8)
    if name == "repeated_points":  # same point and scalar: every bucket addition is a doubling
        return PointVec(np.repeat(P.limbs[:1], 16, axis=0)), FrVec.full(16, rng.randrange(R))
    if name == "cancelling":  # P and -P in the same buckets, and k and -k on one point
        pts = PointVec.concat([P[:3], -P[:3], P[:2]])
        k = rng.randrange(R)
        return pts, FrVec.from_ints([k, 5, 7, k, 5, 7, k, R - k])
    if name == "small_int64":
        return rand_points(rng, 20), FrVec.from_int64(np.array(rng.sample(range(-300, 300), 20)))
    raise AssertionError(name)


MSM_CASES = ["random", "n1", "zero_scalars", "r_minus_1", "identity_points", "repeated_points", "cancelling",
             "small_int64"]


@pytest.mark.parametrize("name", MSM_CASES)
def test_msm_matches_cpu(emu, name):
    rng = random.Random(name)
    pts, k = _case(name, rng)
    want = cpu_msm(pts, k)
    for c in (None, 1, 3, 8):
        assert gpu_msm(emu, pts, k, c=c) == want, (name, c)


@pytest.mark.parametrize("c", [2, 4, 7, 10, 13])
def test_msm_windows_and_launch_shapes(emu, c):
    rng = random.Random(c)
    pts, k = rand_points(rng, 24), rand_fr(rng, 24)
    want = cpu_msm(pts, k)
    assert gpu_msm(emu, pts, k, c=c, bits=254) == want
    odd = {"msm_window_reduce": 3, "msm_window_reduce_grid": 2, "msm_bucket_accumulate": 5, "msm_digits": 7,
           "msm_scan_exclusive": 33, "msm_bucket_count": 1, "msm_bucket_scatter": 9}
    assert gpu_msm(emu, pts, k, c=c, blocks=odd) == want


def test_msm_large_window_small_scalars(emu):
    rng = random.Random(16)
    pts = rand_points(rng, 12)
    k = FrVec.from_int64(np.array([rng.randrange(-2**15, 2**15) for _ in range(12)]))
    assert gpu_msm(emu, pts, k, c=16) == cpu_msm(pts, k)  # one window of 2^15 buckets


def test_msm_empty_and_limits(emu):
    ident = G1.identity()
    assert gpu_msm(emu, PointVec.identity(0), FrVec.zeros(0)) == ident
    with pytest.raises(pg.GpuKernelError):
        pl.msm(emu, PointVec.identity(2).limbs, FrVec.zeros(3).limbs)
    pts = rand_points(random.Random(0), 2)
    with pytest.raises(pg.GpuKernelError, match="window"):
        pl.msm(emu, pts.limbs, FrVec.from_ints([1, 2]).limbs, c=21)
    with pytest.raises(pg.GpuKernelError, match="bits"):  # a caller's bit bound that is too small
        pl.msm(emu, pts.limbs, FrVec.from_ints([1, 2**40]).limbs, bits=8, c=4)


def test_results_do_not_depend_on_the_schedule(emu, schedule):
    """Reverse and random orders of blocks and of threads between barriers give the same results
    (the kernels have no order-dependent races the emulator can see)."""
    rng = random.Random(99)
    pts, k = rand_points(rng, 40), rand_fr(rng, 40)
    fs, eq = [rand_fr(rng, 300) for _ in range(3)], rand_fr(rng, 150)
    data = np.random.default_rng(3).integers(0, 9, 3000, dtype=np.uint32)
    results = []
    for mode, seed in (("forward", 0), ("reverse", 0), ("random", 1), ("random", 2)):
        schedule(mode, seed)
        scan = data.copy()
        emu.launch("msm_scan_exclusive", 1, 100, scan, U64(len(scan)))
        sc = pl.sumcheck_round(emu, eq.limbs, [f.limbs for f in fs], 4, grid=3, block=50)
        results.append((gpu_msm(emu, pts, k, c=5, blocks={"msm_window_reduce": 7}), FrVec(sc).to_ints(),
                        scan.tobytes()))
    assert all(r == results[0] for r in results)
    assert results[0][0] == cpu_msm(pts, k)


# ---------------------------------------------------------------------------- availability

def test_import_does_not_import_cupy():
    code = ("import sys, zkdl.prover_gpu, zkdl.prover_gpu.kernels, zkdl.prover_gpu.pipeline; "
            "assert 'cupy' not in sys.modules, 'cupy imported'")
    env = dict(os.environ, ZKDL_GPU="")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr


def _fake_cupy(count=None, error=None, cc="90"):
    def get_count():
        if error:
            raise error
        return count

    runtime = types.SimpleNamespace(getDeviceCount=get_count,
                                    getDeviceProperties=lambda i: {"name": b"Fake GPU"})
    device = lambda: types.SimpleNamespace(id=0, compute_capability=cc)  # noqa: E731
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime, Device=device))


def test_available_and_require_explain_what_is_missing(monkeypatch):
    monkeypatch.delenv("ZKDL_GPU", raising=False)
    cases = [
        (None, "CuPy is not installed"),
        (_fake_cupy(error=RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")),
         "no usable CUDA device"),
        (_fake_cupy(count=0), "no CUDA device found"),
        (_fake_cupy(count=1, cc="75"), "below the supported compute capability 8.0"),
    ]
    for module, reason in cases:
        monkeypatch.setitem(sys.modules, "cupy", module)  # None makes `import cupy` fail
        st_ = pg.available()
        assert not st_ and reason in st_.reason, st_
        with pytest.raises(pg.GpuUnavailableError, match="--backend cpu") as ei:
            pg.require()
        assert isinstance(ei.value, ZkdlError) and reason in str(ei.value)
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(count=1, cc="90"))
    ok = pg.available()
    assert ok and ok.reason == "" and "Fake GPU" in ok.device and pg.require() is not None
    monkeypatch.setenv("ZKDL_GPU", "0")
    assert "ZKDL_GPU=0" in pg.available().reason


# ---------------------------------------------------------------------------- nvcc (results)

@pytest.mark.parametrize("file,arch", COMPILE_CASES, ids=[f"{f}-{a}" for f, a in COMPILE_CASES])
def test_nvcc_compiles(nvcc_jobs, file, arch):
    if _find_nvcc() is None:
        pytest.fail("nvcc not found (PATH, /usr/local/cuda/bin): the CUDA toolkit is required to check that "
                    "the prover_gpu kernels compile (install it, or put its bin/ on PATH)")
    cmd, res = nvcc_jobs[(file, arch)].result()
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout}\n{res.stderr[-8000:]}"
    # launchability at the registry's max_block, from ptxas -v: registers are allocated per warp
    # (per thread rounded up to 8), at most 64K per block; static shared memory at most 48 KB
    usage = _ptxas_usage(res.stdout + res.stderr)
    kf = next(f for f in reg.FILES if f.file == file)
    assert set(usage) == {k.name for k in kf.kernels}
    for k in kf.kernels:
        regs, smem = usage[k.name]
        warps = -(-k.max_block // 32)
        assert -(-regs // 8) * 8 * 32 * warps <= 65536, f"{k.name}: {regs} registers x {k.max_block} threads"
        assert smem <= 48 * 1024, f"{k.name}: {smem} bytes of static shared memory"


def _ptxas_usage(text: str) -> dict[str, tuple[int, int]]:
    """{entry: (registers, static shared bytes)} from ptxas -v output."""
    usage, entry = {}, None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            entry = m.group(1)
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m and entry is not None:
            sm = re.search(r"(\d+) bytes smem", line)
            usage[entry] = (int(m.group(1)), int(sm.group(1)) if sm else 0)
            entry = None
    return usage
