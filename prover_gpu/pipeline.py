"""Host-side sequences of kernel launches (the multi-launch operations), written once for any
"device" object with this protocol:

    dev.launch(name, grid, block, *args)    # a kernel launch (prover_gpu.kernels names)
    dev.zeros(shape, dtype) / dev.from_host(np_array) / dev.to_host(array) / dev.copy(array)

(a None kernel argument is a NULL pointer: a CuPy launcher passes numpy.uint64(0) for it).

prover_gpu.emu.Emulator implements it over numpy arrays; a CuPy backend implements it over cupy
arrays (launch = RawModule.get_function(name)((grid,), (block,), args)).  Arrays here are in the
zkdl layouts: Fr (n, 4) uint64 Montgomery, affine points (n, 12), Jacobian points (n, 18).
Integers go to kernels as numpy scalars of the registry's kinds (numpy.uint64 / numpy.int32).
"""
from __future__ import annotations

import numpy as np

from . import kernels as reg
from ._errors import GpuKernelError

U64, I32 = np.uint64, np.int32


def _launch_n(dev, name: str, n: int, *args, block: int | None = None, grid: int | None = None) -> None:
    k = reg.kernel(name)
    block = block or k.block
    dev.launch(name, grid or reg.grid_for(n, block), block, *args)


# ---------------------------------------------------------------------------- Fr tables


def eq_table(dev, u, k: int, block: int | None = None):
    """eq(u, x) for x in {0,1}^k (u_1 the most significant index bit), = FrVec.eq_table.
    u: a (k, 4) device array."""
    out = dev.zeros((1 << k, 4), np.uint64)
    dev.launch("fr_eq_init", 1, 1, out)
    for j in range(k - 1, -1, -1):
        length = 1 << (k - 1 - j)
        _launch_n(dev, "fr_eq_layer", length, out, u[j:j + 1], U64(length), block=block)
    return out


def sum_rows(dev, parts, width: int, rows: int, block: int | None = None):
    """Column sums of a (rows, width) Fr table: one block, out (width, 4)."""
    block = block or reg.kernel("fr_sum_rows").block
    out = dev.zeros((width, 4), np.uint64)
    dev.launch("fr_sum_rows", 1, block, out, parts, I32(width), U64(rows))
    return out


def sumcheck_round(dev, eq, factors, degree: int, grid: int | None = None, block: int | None = None):
    """Evaluations at X = 0..degree of the round polynomial (= zkdl.field.product_evals):
    sum_i w_i prod_j (f_j[i] + X (f_j[m+i] - f_j[i])), w = eq or 1.  Returns a (degree+1, 4) array.
    Two passes: sc_round_partials (a shared-memory tree per block) and fr_sum_rows (one block)."""
    nf = len(factors)
    if not 1 <= nf <= reg.SC_MAX_FACTORS or not 1 <= degree <= reg.SC_MAX_DEGREE:
        raise GpuKernelError(f"sumcheck_round: {nf} factors, degree {degree} (limits "
                             f"1..{reg.SC_MAX_FACTORS}, 1..{reg.SC_MAX_DEGREE})")
    size = factors[0].shape[0]
    if size % 2 or any(f.shape[0] != size for f in factors) or (eq is not None and eq.shape[0] != size // 2):
        raise GpuKernelError("sumcheck_round: factor tables of equal even length and eq of half that")
    m = size // 2
    k = reg.kernel("sc_round_partials")
    block = block or k.block
    grid = grid or reg.grid_for(m, block, max_grid=1024)
    parts = dev.zeros((grid * (degree + 1), 4), np.uint64)
    f = list(factors) + [None] * (reg.SC_MAX_FACTORS - nf)
    dev.launch("sc_round_partials", grid, block, parts, eq, *f, I32(nf), I32(degree), U64(m))
    return sum_rows(dev, parts, degree + 1, grid)


def logup_tree(dev, p, q, block: int | None = None):
    """All levels of a logUp fraction tree from its leaves (p None: numerators 1), as zkdl.logup._tree
    builds them: returns [(p_j, q_j) for j = n .. 0] (level n = the leaves, p_n may be None)."""
    levels = [(p, q)]
    size = q.shape[0]
    while size > 1:
        half = size // 2
        po, qo = dev.zeros((half, 4), np.uint64), dev.zeros((half, 4), np.uint64)
        _launch_n(dev, "logup_layer", half, po, qo, p, q, U64(half), block=block)
        p, q, size = po, qo, half
        levels.append((p, q))
    return levels


# ---------------------------------------------------------------------------- MSM


def msm_window(n: int, bits: int) -> int:
    """Window width minimising nwin * (n + 2 * 2^(c-1)) (bucket additions + running sums)."""
    best, best_cost = 2, None
    for c in range(2, 17):
        cost = (bits // c + 1) * (n + 2 * (1 << (c - 1)))
        if best_cost is None or cost < best_cost:
            best, best_cost = c, cost
    return best


def msm(dev, points, scalars, c: int | None = None, bits: int | None = None, blocks: dict | None = None):
    """sum_i [k_i] P_i as a (1, 18) Jacobian host array (normalise with zkdl.curve).  points: (n, 12)
    affine device array, scalars: (n, 4) Montgomery device array.  bits: the scalars' centred bit
    length if known (else measured by msm_scalar_bits); c: the window (else msm_window); blocks:
    {kernel name: blockDim} overrides, and "msm_window_reduce_grid" for that kernel's grid (the
    tests use odd launch shapes).  None arguments are NULL pointers."""
    blocks = blocks or {}
    n = int(points.shape[0])
    if scalars.shape[0] != n:
        raise GpuKernelError(f"msm: {scalars.shape[0]} scalars for {n} points")
    identity = np.zeros((1, 18), np.uint64)
    identity[0, :6] = identity[0, 6:12] = _FP_ONE
    if n == 0:
        return identity
    if n >= 1 << 31:
        raise GpuKernelError(f"msm: {n} points (at most 2^31 - 1)")
    if bits is None:
        mb = dev.zeros((1,), np.uint32)
        _launch_n(dev, "msm_scalar_bits", n, mb, scalars, U64(n), block=blocks.get("msm_scalar_bits"))
        bits = int(dev.to_host(mb)[0])
    if bits == 0:
        return identity
    c = c or msm_window(n, bits)
    if not 1 <= c <= reg.MSM_MAX_WINDOW:
        raise GpuKernelError(f"msm: window {c} outside 1..{reg.MSM_MAX_WINDOW}")
    nwin = bits // c + 1
    nb = 1 << (c - 1)
    K, total = nwin * nb, nwin * n
    if K + 1 >= 1 << 32 or total >= 1 << 32:
        raise GpuKernelError(f"msm: {nwin} windows x {n} points / {nb} buckets exceed 32-bit indices")

    keys, refs = dev.zeros((total,), np.uint32), dev.zeros((total,), np.uint32)
    overflow = dev.zeros((1,), np.uint32)
    _launch_n(dev, "msm_digits", n, keys, refs, overflow, scalars, U64(n), I32(c), I32(nwin),
              block=blocks.get("msm_digits"))
    if int(dev.to_host(overflow)[0]):
        raise GpuKernelError(f"msm: a scalar has more than {bits} bits (bits={bits} was given too small)")

    offsets = dev.zeros((K + 1,), np.uint32)
    _launch_n(dev, "msm_bucket_count", total, offsets, keys, U64(total), block=blocks.get("msm_bucket_count"))
    dev.launch("msm_scan_exclusive", 1, blocks.get("msm_scan_exclusive", reg.kernel("msm_scan_exclusive").block),
               offsets, U64(K + 1))
    nnz = int(dev.to_host(offsets[K:K + 1])[0])
    cursor = dev.copy(offsets)
    sorted_refs = dev.zeros((max(nnz, 1),), np.uint32)
    _launch_n(dev, "msm_bucket_scatter", total, sorted_refs, cursor, keys, refs, U64(total),
              block=blocks.get("msm_bucket_scatter"))

    buckets = dev.zeros((K, 18), np.uint64)
    _launch_n(dev, "msm_bucket_accumulate", K, buckets, offsets, sorted_refs, points, U64(K),
              block=blocks.get("msm_bucket_accumulate"))
    wsum = dev.zeros((nwin, 18), np.uint64)
    rb = blocks.get("msm_window_reduce", reg.kernel("msm_window_reduce").block)
    out = dev.zeros((1, 18), np.uint64)
    dev.launch("msm_window_reduce", blocks.get("msm_window_reduce_grid", nwin), rb, wsum, None, buckets,
               U64(nb), I32(nwin), I32(c))
    dev.launch("msm_window_reduce", 1, 1, wsum, out, None, U64(0), I32(nwin), I32(c))  # Horner
    return dev.to_host(out)


# 1 in Fp Montgomery form (zk_field.h fp_R1_LIMBS): X = Y = 1, Z = 0 is zk_g1.h's infinity
_FP_ONE = np.array([0x760900000002FFFD, 0xEBF4000BC40C0002, 0x5F48985753C758BA, 0x77CE585370525745,
                    0x5C071A97A256EC6D, 0x15F65EC3FA80E493], dtype=np.uint64)
