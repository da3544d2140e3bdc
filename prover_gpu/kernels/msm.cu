/*
 * msm.cu -- building blocks of a Pippenger MSM on the GPU: sum_i [k_i] P_i, k_i in Fr
 * (Montgomery limbs, zkdl.FrVec), P_i affine (zkdl.PointVec).  The host pipeline
 * (prover_gpu/pipeline.py, msm) runs:
 *
 *   1. msm_scalar_bits      b = max bit length of the centred scalars (optional; else b = 254)
 *   2. msm_digits           signed Booth digits of window c: for window j < nwin = b / c + 1,
 *                               d_j = w_j + bit(cj - 1) - 2^c bit(c(j+1) - 1)  in [-2^(c-1), 2^(c-1)]
 *                           of the centred magnitude |k| (k or k - r, whichever is smaller, as
 *                           the CPU MSM does), so sum_j d_j 2^(cj) = |k|.  Per (window j, point i)
 *                           at index j * n + i: key = j * 2^(c-1) + |d| - 1 (the global bucket),
 *                           or SKIP for d = 0; ref = i | NEG when sign(k) * sign(d) < 0.
 *   3. msm_bucket_count     counts[key] += 1                       } counting sort of the refs
 *      msm_scan_exclusive   offsets = exclusive prefix sum (1 block) } by bucket: bucket b's refs
 *      msm_bucket_scatter   sorted[cursor[key]++] = ref             } are sorted[off[b], off[b+1])
 *   4. msm_bucket_accumulate  one thread per bucket: B_b = sum of its (possibly negated) points,
 *                           mixed Jacobian additions (zk_g1.h madd-2007-bl; P + P falls back to
 *                           doubling, P + (-P) to infinity, infinity points are skipped)
 *   5. msm_window_reduce    one block per window: W_j = sum_a a * B_(j, a-1) (the running sum),
 *                           each thread a slice [lo, hi) of the buckets (running sum over the slice
 *                           plus lo times the slice's plain sum), then a tree over the block
 *   6. msm_window_reduce    again with buckets = NULL, one thread: Horner, R = sum_j 2^(cj) W_j
 *
 * Requires n < 2^31, nwin * n < 2^32 and nwin * 2^(c-1) < 2^32 (checked by the host pipeline),
 * 1 <= c <= ZKG_MSM_MAX_WINDOW.  The order of refs inside a bucket depends on the scheduling of
 * the atomics (the sum does not).
 */
#include "zk_cuda.cuh"
#include "zk_g1.h"

#define ZKG_MSM_SKIP 0xffffffffu
#define ZKG_MSM_NEG 0x80000000u
#define ZKG_MSM_MAX_WINDOW 20
#define ZKG_MSM_SCAN_BLOCK 1024  /* max blockDim.x of msm_scan_exclusive */
#define ZKG_MSM_REDUCE_BLOCK 128 /* max blockDim.x of msm_window_reduce */

/* One out-of-line copy of each point formula (the field arithmetic is inlined into them). */
ZKG_NOINLINE void zkg_jac_dbl(g1_jac *r, const g1_jac *p) { g1_jac_dbl(r, p); }
ZKG_NOINLINE void zkg_jac_add(g1_jac *r, const g1_jac *p, const g1_jac *q) { g1_jac_add(r, p, q); }
ZKG_NOINLINE void zkg_jac_madd(g1_jac *r, const g1_jac *p, const g1_aff *q) { g1_jac_madd(r, p, q); }

/* r = [k] p for a small k (double-and-add from the top set bit). */
ZKG_DEV void zkg_jac_mul_u64(g1_jac *r, const g1_jac *p, uint64_t k)
{
    g1_jac acc;
    g1_jac_set_inf(&acc);
    for (int i = 63; i >= 0; i--) {
        if (!g1_jac_is_inf(&acc)) zkg_jac_dbl(&acc, &acc);
        if ((k >> i) & 1) zkg_jac_add(&acc, &acc, p);
    }
    *r = acc;
}

/* Centred lift of a Montgomery scalar: mag = k or r - k (the smaller), returns 1 for r - k. */
ZKG_DEV int zkg_fr_centred(uint64_t mag[4], const fr_t *mont)
{
    const uint64_t half[4] = {0x7fffffff80000000ULL, 0xa9ded2017fff2dffULL, 0x199cec0404d0ec02ULL,
                              0x39f6d3a994cebea4ULL}; /* (r - 1) / 2 */
    fr_t c;
    fr_from_mont(&c, mont);
    int gt = 0;
    for (int l = 3; l >= 0; l--) {
        if (c.v[l] > half[l]) { gt = 1; break; }
        if (c.v[l] < half[l]) break;
    }
    if (!gt) {
        for (int l = 0; l < 4; l++) mag[l] = c.v[l];
        return 0;
    }
    uint64_t borrow = 0;
    for (int l = 0; l < 4; l++) mag[l] = zk_sbb(fr_MODULUS.v[l], c.v[l], &borrow);
    return 1;
}

/* *max_bits = max(*max_bits, bit length of every centred |k_i|)  (*max_bits zeroed by the host) */
extern "C" __global__ void msm_scalar_bits(unsigned *max_bits, const fr_t *k, uint64_t n)
{
    unsigned best = 0;
    ZKG_GRID_LOOP(i, n) {
        uint64_t m[4];
        zkg_fr_centred(m, &k[i]);
        unsigned b = (unsigned)zk_limbs_bits(m, 4);
        if (b > best) best = b;
    }
    if (best) atomicMax(max_bits, best);
}

/* keys / refs of shape (nwin, n) as described above; *overflow |= 1 if some |k_i| has a bit at
 * or above c * nwin - 1 (the digits would not add up: the host picked nwin too small). */
extern "C" __global__ void msm_digits(unsigned *keys, unsigned *refs, unsigned *overflow, const fr_t *k,
                                      uint64_t n, int c, int nwin)
{
    if (c < 1 || c > ZKG_MSM_MAX_WINDOW || nwin < 1) return;
    unsigned nb = 1u << (c - 1);
    ZKG_GRID_LOOP(i, n) {
        uint64_t m[4];
        int neg = zkg_fr_centred(m, &k[i]);
        if (zk_limbs_bits(m, 4) >= c * nwin) atomicOr(overflow, 1u);
        for (int j = 0; j < nwin; j++) {
            int raw = (int)zk_limbs_get_bits(m, 4, c * j, c);
            int inc = j ? (int)zk_limbs_get_bits(m, 4, c * j - 1, 1) : 0;
            int d = raw + inc - ((raw >> (c - 1)) << c);
            uint64_t o = (uint64_t)j * n + i;
            if (!d) {
                keys[o] = ZKG_MSM_SKIP;
                refs[o] = (unsigned)i;
            } else {
                unsigned a = (unsigned)(d < 0 ? -d : d);
                keys[o] = (unsigned)j * nb + a - 1;
                refs[o] = (unsigned)i | (((d < 0) != neg) ? ZKG_MSM_NEG : 0u);
            }
        }
    }
}

/* counts[keys[i]] += 1 for every key other than SKIP (counts zeroed by the host). */
extern "C" __global__ void msm_bucket_count(unsigned *counts, const unsigned *keys, uint64_t total)
{
    ZKG_GRID_LOOP(i, total) {
        unsigned kk = keys[i];
        if (kk != ZKG_MSM_SKIP) atomicAdd(&counts[kk], 1u);
    }
}

/* In-place exclusive prefix sum of data[0..n) (mod 2^32), by ONE block (blocks other than 0 do
 * nothing): each thread sums a contiguous chunk, thread 0 scans the chunk sums, each thread then
 * rewrites its chunk.  Launch with counts of length K + 1 (last entry 0): data[K] = the total. */
extern "C" __global__ void msm_scan_exclusive(unsigned *data, uint64_t n)
{
    __shared__ unsigned sh[ZKG_MSM_SCAN_BLOCK];
    if (blockIdx.x != 0 || blockDim.x > ZKG_MSM_SCAN_BLOCK) return;
    unsigned t = threadIdx.x, T = blockDim.x;
    uint64_t chunk = (n + T - 1) / T;
    uint64_t lo = (uint64_t)t * chunk;
    if (lo > n) lo = n;
    uint64_t hi = lo + chunk < n ? lo + chunk : n;
    unsigned s = 0;
    for (uint64_t i = lo; i < hi; i++) s += data[i];
    sh[t] = s;
    __syncthreads();
    if (t == 0) {
        unsigned run = 0;
        for (unsigned u = 0; u < T; u++) {
            unsigned v = sh[u];
            sh[u] = run;
            run += v;
        }
    }
    __syncthreads();
    unsigned run = sh[t];
    for (uint64_t i = lo; i < hi; i++) {
        unsigned v = data[i];
        data[i] = run;
        run += v;
    }
}

/* sorted[cursor[key]++] = ref for every key other than SKIP (cursor = a copy of the offsets). */
extern "C" __global__ void msm_bucket_scatter(unsigned *sorted, unsigned *cursor, const unsigned *keys,
                                              const unsigned *refs, uint64_t total)
{
    ZKG_GRID_LOOP(i, total) {
        unsigned kk = keys[i];
        if (kk != ZKG_MSM_SKIP) sorted[atomicAdd(&cursor[kk], 1u)] = refs[i];
    }
}

/* buckets[b] = sum of the points referenced by sorted[offsets[b] .. offsets[b + 1]) (negated
 * where the ref carries NEG), one thread per bucket. */
extern "C" __global__ void msm_bucket_accumulate(g1_jac *buckets, const unsigned *offsets, const unsigned *sorted,
                                                 const g1_aff *points, uint64_t nbuckets)
{
    ZKG_GRID_LOOP(b, nbuckets) {
        g1_jac acc;
        g1_jac_set_inf(&acc);
        for (unsigned e = offsets[b]; e < offsets[b + 1]; e++) {
            unsigned r = sorted[e];
            g1_aff p = points[r & ~ZKG_MSM_NEG];
            if (r & ZKG_MSM_NEG) {
                g1_aff q;
                g1_aff_neg(&q, &p);
                p = q;
            }
            zkg_jac_madd(&acc, &acc, &p);
        }
        buckets[b] = acc;
    }
}

/* Window reduction and final combination, one entry point for both steps (ptxas compiles every
 * entry point with its own copy of the point formulas it calls, ~6 s per copy and architecture,
 * so a separate combine kernel would cost as much compile / JIT time again):
 *
 *   buckets != NULL: wsum[w] = sum_{a=1..nb} a * buckets[w * nb + a - 1] for each window w < nwin
 *     (blocks take windows in a grid-stride loop).  Thread t of a block handles buckets [lo, hi):
 *     the running sum from hi - 1 down gives S = sum (b - lo + 1) B_b and P = sum B_b, and
 *     S + lo * P is its share; then a tree over the block in shared memory.
 *   buckets == NULL (launch with one block after the first step): thread 0 writes
 *     out[0] = sum_j 2^(c j) wsum[j] (Horner from the top window); c is unused otherwise. */
extern "C" __global__ void msm_window_reduce(g1_jac *wsum, g1_jac *out, const g1_jac *buckets, uint64_t nb,
                                             int nwin, int c)
{
    __shared__ g1_jac sh[ZKG_MSM_REDUCE_BLOCK];
    if (!buckets) {
        if (!out || zkg_tid() != 0) return;
        g1_jac acc;
        g1_jac_set_inf(&acc);
        for (int j = nwin - 1; j >= 0; j--) {
            if (j != nwin - 1)
                for (int s = 0; s < c; s++) zkg_jac_dbl(&acc, &acc);
            zkg_jac_add(&acc, &acc, &wsum[j]);
        }
        *out = acc;
        return;
    }
    if (blockDim.x > ZKG_MSM_REDUCE_BLOCK) return;
    unsigned t = threadIdx.x, T = blockDim.x;
    uint64_t chunk = (nb + T - 1) / T;
    uint64_t lo = (uint64_t)t * chunk;
    if (lo > nb) lo = nb;
    uint64_t hi = lo + chunk < nb ? lo + chunk : nb;
    for (uint64_t w = blockIdx.x; w < (uint64_t)(nwin > 0 ? nwin : 0); w += gridDim.x) {
        const g1_jac *B = buckets + w * nb;
        g1_jac run, sum, t2;
        g1_jac_set_inf(&run);
        g1_jac_set_inf(&sum);
        for (uint64_t b = hi; b-- > lo;) {
            zkg_jac_add(&run, &run, &B[b]);
            zkg_jac_add(&sum, &sum, &run);
        }
        zkg_jac_mul_u64(&t2, &run, lo);
        zkg_jac_add(&sh[t], &sum, &t2);
        __syncthreads();
        unsigned m = T;
        while (m > 1) {
            unsigned half = (m + 1) >> 1;
            if (t + half < m) zkg_jac_add(&sh[t], &sh[t], &sh[t + half]);
            __syncthreads();
            m = half;
        }
        if (t == 0) wsum[w] = sh[0];
        __syncthreads();
    }
}
