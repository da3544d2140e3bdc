/*
 * zk_msm.h -- multi-scalar multiplication on the CPU (Pippenger, signed Booth digits).
 *
 * Scalars are given as sign + magnitude: either signed 64-bit integers (quantized tensors), or
 * 4-limb magnitudes produced from Fr elements by the centred lift (v or v - r, whichever is
 * smaller), so small negative field elements take the small-scalar path automatically.
 *
 *   bits <= 1 (scalars in {-1, 0, 1}): direct accumulation, one mixed addition per non-zero.
 *   otherwise: windows of c bits with Booth digits d in [-2^(c-1), 2^(c-1)]:
 *       d_j = w_j + b(cj - 1) - 2^c * b(c(j+1) - 1)
 *   where w_j is the j-th c-bit window and b(i) bit i of the magnitude; the digits telescope
 *   back to the magnitude when c * nwin > bits.  Negative digits add the negated point, so
 *   2^(c-1) buckets suffice.  c minimises nwin * (n + 2 * 1.4 * 2^(c-1)) (mixed additions into
 *   buckets plus full additions of the running sum).
 *   Threads split the points into contiguous chunks, each with its own buckets.
 */
#ifndef ZK_MSM_H
#define ZK_MSM_H

#include <stdlib.h>
#include "zk_g1.h"
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    const int64_t *i64;      /* signed small scalars, or NULL */
    const uint64_t *mag;     /* n x 4 magnitudes (when i64 == NULL) */
    const uint8_t *neg;      /* n sign flags (when i64 == NULL) */
} zk_scalars;

static inline void zk_scalar_get(const zk_scalars *s, size_t i, uint64_t m[4], int *neg)
{
    if (s->i64) {
        int64_t x = s->i64[i];
        *neg = x < 0;
        m[0] = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
        m[1] = m[2] = m[3] = 0;
    } else {
        memcpy(m, s->mag + 4 * i, 32);
        *neg = s->neg[i];
    }
}

/* bits [pos, pos + w) of a 4-limb magnitude (w <= 32); bits past 256 read as 0. */
static inline uint32_t zk_get_bits(const uint64_t m[4], int pos, int w)
{
    if (pos >= 256 || w <= 0) return 0;
    int li = pos >> 6, sh = pos & 63;
    uint64_t v = m[li] >> sh;
    if (sh && li + 1 < 4) v |= m[li + 1] << (64 - sh);
    return (uint32_t)(v & ((1ULL << w) - 1));
}

static inline int zk_booth_digit(const uint64_t m[4], int j, int c)
{
    int raw = (int)zk_get_bits(m, c * j, c);
    int inc = j > 0 ? (int)zk_get_bits(m, c * j - 1, 1) : 0;
    int top = raw >> (c - 1);
    return raw + inc - (top << c);
}

static int zk_msm_window(size_t n, int bits)
{
    int best = 2;
    double best_cost = 1e300;
    for (int c = 2; c <= 16; c++) {
        int nwin = bits / c + 1;
        double cost = (double)nwin * ((double)n + 2.8 * (double)(1u << (c - 1)));
        if (cost < best_cost) { best_cost = cost; best = c; }
    }
    return best;
}

/* Pippenger over points [start, start + n) on one thread; result added into *out. */
static int zk_msm_serial(g1_jac *out, const g1_aff *pts, const zk_scalars *s,
                         size_t start, size_t n, int bits)
{
    g1_jac acc;
    g1_jac_set_inf(&acc);
    uint64_t m[4];
    int neg;
    if (bits <= 1) {
        for (size_t i = start; i < start + n; i++) {
            zk_scalar_get(s, i, m, &neg);
            if (!m[0]) continue;
            if (neg) { g1_aff q; g1_aff_neg(&q, &pts[i]); g1_jac_madd(&acc, &acc, &q); }
            else g1_jac_madd(&acc, &acc, &pts[i]);
        }
        *out = acc;
        return 0;
    }
    int c = zk_msm_window(n, bits);
    int nwin = bits / c + 1;
    size_t nb = (size_t)1 << (c - 1);
    g1_jac *buckets = (g1_jac *)malloc(nb * sizeof(g1_jac));
    if (!buckets) return -1;
    for (int w = nwin - 1; w >= 0; w--) {
        for (int k = 0; k < c && w != nwin - 1; k++) g1_jac_dbl(&acc, &acc);
        for (size_t b = 0; b < nb; b++) g1_jac_set_inf(&buckets[b]);
        for (size_t i = start; i < start + n; i++) {
            zk_scalar_get(s, i, m, &neg);
            int d = zk_booth_digit(m, w, c);
            if (!d) continue;
            if (neg) d = -d;
            if (d > 0) g1_jac_madd(&buckets[d - 1], &buckets[d - 1], &pts[i]);
            else {
                g1_aff q;
                g1_aff_neg(&q, &pts[i]);
                g1_jac_madd(&buckets[-d - 1], &buckets[-d - 1], &q);
            }
        }
        g1_jac run, tot;
        g1_jac_set_inf(&run);
        g1_jac_set_inf(&tot);
        for (size_t b = nb; b-- > 0;) {
            g1_jac_add(&run, &run, &buckets[b]);
            g1_jac_add(&tot, &tot, &run);
        }
        g1_jac_add(&acc, &acc, &tot);
    }
    free(buckets);
    *out = acc;
    return 0;
}

/* Largest bit length among the magnitudes. */
static int zk_scalars_bits(const zk_scalars *s, size_t n)
{
    uint64_t any[4] = {0, 0, 0, 0};
    uint64_t m[4];
    int neg;
    for (size_t i = 0; i < n; i++) {
        zk_scalar_get(s, i, m, &neg);
        any[0] |= m[0]; any[1] |= m[1]; any[2] |= m[2]; any[3] |= m[3];
    }
    for (int l = 3; l >= 0; l--)
        if (any[l]) return 64 * l + 64 - __builtin_clzll(any[l]);
    return 0;
}

/* MSM of n points with up to `threads` threads.  Returns 0, or -1 when out of memory. */
static int zk_msm(g1_jac *out, const g1_aff *pts, const zk_scalars *s, size_t n, int threads)
{
    int bits = zk_scalars_bits(s, n);
    g1_jac_set_inf(out);
    if (bits == 0 || n == 0) return 0;
    if (threads < 1) threads = 1;
    if (n < 4096) threads = 1;
    g1_jac parts[64];
    int errs[64];
    if (threads > 64) threads = 64;
    size_t chunk = (n + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; t++) {
        size_t a = (size_t)t * chunk;
        size_t len = a >= n ? 0 : (n - a < chunk ? n - a : chunk);
        errs[t] = zk_msm_serial(&parts[t], pts, s, a, len, bits);
    }
    for (int t = 0; t < threads; t++) {
        if (errs[t]) return -1;
        g1_jac_add(out, out, &parts[t]);
    }
    return 0;
}

#endif /* ZK_MSM_H */
