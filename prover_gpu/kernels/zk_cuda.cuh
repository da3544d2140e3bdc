/*
 * zk_cuda.cuh -- helpers shared by the prover_gpu kernels.
 *
 * The kernels are plain CUDA C++ over the shared headers of the C extension (zk_field.h,
 * zk_g1.h: ZK_FN is __host__ __device__ under nvcc).  The same sources compile as host C++ for the
 * emulator (prover_gpu/emu/cuda_emu.h is force-included there), so they use only: 1-D grids,
 * blockIdx/threadIdx/blockDim/gridDim .x, static __shared__ arrays, __syncthreads(), and
 * atomicAdd / atomicMax / atomicOr on 32-bit unsigned words.  No warp intrinsics, no dynamic
 * shared memory (the emulator runs a block's threads one after another between barriers and
 * could not model either faithfully).
 *
 * Conventions (see prover_gpu/kernels.py for the registry):
 *   - sizes and element counts are uint64_t parameters (pass numpy.uint64 from CuPy);
 *   - Fr vectors are (n, 4) uint64 arrays in Montgomery form (zkdl.FrVec limbs);
 *   - affine points (n, 12), Jacobian points (n, 18) (zkdl.curve layout);
 *   - elementwise kernels use grid-stride loops: any grid size is correct, and n = 0 is a no-op;
 *   - kernels whose registry entry says barrier=True contain __syncthreads(): launch them with
 *     blockDim.x <= the registry's max_block; every thread of a block reaches every barrier.
 */
#ifndef ZK_CUDA_CUH
#define ZK_CUDA_CUH

#include "zk_field.h"

#ifdef __CUDACC__
#define ZKG_DEV static __device__ __forceinline__
#define ZKG_NOINLINE static __device__ __noinline__
#else
#define ZKG_DEV static inline
#define ZKG_NOINLINE static __attribute__((noinline))
#endif

/* global index of this thread and the grid's stride, both 64-bit */
ZKG_DEV uint64_t zkg_tid(void) { return (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; }
ZKG_DEV uint64_t zkg_stride(void) { return (uint64_t)gridDim.x * blockDim.x; }

#define ZKG_GRID_LOOP(i, n) for (uint64_t i = zkg_tid(); i < (uint64_t)(n); i += zkg_stride())

/* sh[threadIdx.x] = *v for every thread, then a tree sum over the block: *out = sum of all v
 * (written by thread 0).  Any blockDim.x (not only powers of two); sh holds >= blockDim.x
 * elements.  Every thread of the block must call it (it contains __syncthreads). */
ZKG_DEV void zkg_block_sum_fr(fr_t *sh, const fr_t *v, fr_t *out)
{
    unsigned t = threadIdx.x, n = blockDim.x;
    sh[t] = *v;
    __syncthreads();
    while (n > 1) {
        unsigned half = (n + 1) >> 1; /* writers t < n - half <= half <= readers' indices */
        if (t + half < n) fr_add(&sh[t], &sh[t], &sh[t + half]);
        __syncthreads();
        n = half;
    }
    if (t == 0) *out = sh[0];
    __syncthreads(); /* sh may be reused at once */
}

#endif /* ZK_CUDA_CUH */
