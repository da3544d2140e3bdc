/*
 * cuda_emu.h -- just enough of CUDA for the prover_gpu kernels to compile as host C++ (g++ -x c++),
 * force-included (-include) before each .cu source, which stays untouched.
 *
 *   __global__ / __device__ / __host__ / __constant__   -> nothing (plain functions and data)
 *   __shared__                                           -> static: one copy, which is the running
 *                                                           block's shared memory since the emulator
 *                                                           runs one block at a time
 *   threadIdx / blockIdx / blockDim / gridDim            -> globals set by the scheduler (1-D: .x;
 *                                                           .y and .z are 0 / 1)
 *   __syncthreads()                                      -> a switch back to the block scheduler
 *                                                           (emu_runtime.h)
 *   atomicAdd / atomicMax / atomicOr / atomicExch        -> plain read-modify-write: emulated threads
 *                                                           never interleave between barriers
 *
 * __CUDACC__ stays undefined, so zk_field.h / zk_g1.h take their CPU definitions (ZK_FN is
 * static inline, constants are static const).
 */
#ifndef ZK_CUDA_EMU_H
#define ZK_CUDA_EMU_H

#ifdef __CUDACC__
#error "cuda_emu.h emulates CUDA on the host: do not include it under nvcc"
#endif
#ifndef __cplusplus
#error "the CUDA emulation compiles the kernels as C++ (g++ -x c++)"
#endif

#include <stdint.h>
#include <string.h>

#define ZK_CUDA_EMU 1

#define __global__
#define __device__
#define __host__
#define __constant__
#define __shared__ static
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)

struct zk_emu_dim3 {
    unsigned x, y, z;
};
extern zk_emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

void __syncthreads(void);

static inline unsigned atomicAdd(unsigned *p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
static inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v)
{
    unsigned long long o = *p;
    *p = o + v;
    return o;
}
static inline unsigned atomicMax(unsigned *p, unsigned v) { unsigned o = *p; if (v > o) *p = v; return o; }
static inline unsigned atomicOr(unsigned *p, unsigned v) { unsigned o = *p; *p = o | v; return o; }
static inline unsigned atomicExch(unsigned *p, unsigned v) { unsigned o = *p; *p = v; return o; }

#endif /* ZK_CUDA_EMU_H */
