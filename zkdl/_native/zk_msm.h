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

#define ZK_AFFINE_MIN_BUCKETS 4096 /* batch-affine buckets pay off from this many on */
#define ZK_AFFINE_BATCH 1024       /* additions per shared inversion (<= buckets / 4: few conflicts) */
#define ZK_MAX_WINDOW 18

/* Window width c minimising the estimated cost, in units of one mixed Jacobian addition:
 * per window, n bucket additions (batch-affine ones cost ~0.45) plus the running sums over
 * 2^(c-1) buckets (~2.5).  Windows up to 18 bits let 16-bit scalars fit in one window. */
static int zk_msm_window(size_t n, int bits)
{
    int best = 2;
    double best_cost = 1e300;
    for (int c = 2; c <= ZK_MAX_WINDOW; c++) {
        int nwin = bits / c + 1;
        double nb = (double)(1u << (c - 1));
        double per_point = nb >= ZK_AFFINE_MIN_BUCKETS ? 0.45 : 1.0;
        double cost = (double)nwin * ((double)n * per_point + 2.5 * nb);
        if (cost < best_cost) { best_cost = cost; best = c; }
    }
    return best;
}

/*
 * Batch-affine bucket accumulation.  Additions into buckets are queued (at most one per bucket
 * per batch) and done in affine coordinates with one shared inversion per batch (Montgomery's
 * trick): ~6 field multiplications per addition instead of 11 for a mixed Jacobian one.  A point
 * whose bucket already has an addition queued in the current batch goes to a Jacobian side
 * bucket instead, so adversarial digit patterns (all scalars equal) cost no more than the
 * Jacobian method.  Doubling (point == bucket) is queued with the tangent slope.
 */
typedef struct {
    g1_aff *bk;        /* affine buckets (infinity = all zero) */
    g1_jac *bkj;       /* Jacobian side buckets */
    uint32_t *busy;    /* epoch of the batch that last queued an addition into the bucket */
    uint32_t epoch;
    size_t nq;
    uint32_t *qb;      /* queued: bucket index */
    g1_aff *qp;        /* queued: point to add */
    fp_t *num, *den, *pre;
} zk_affine_acc;

static void zk_affine_flush(zk_affine_acc *A)
{
    size_t k = A->nq;
    if (!k) { A->epoch++; return; }
    fp_t acc = fp_ONE;
    for (size_t i = 0; i < k; i++) { A->pre[i] = acc; fp_mul(&acc, &acc, &A->den[i]); }
    fp_t inv;
    fp_inv(&inv, &acc);
    for (size_t i = k; i-- > 0;) {
        fp_t di, lam, x3, y3, t;
        fp_mul(&di, &A->pre[i], &inv);
        fp_mul(&inv, &inv, &A->den[i]);
        g1_aff *B = &A->bk[A->qb[i]];
        const g1_aff *P = &A->qp[i];
        fp_mul(&lam, &A->num[i], &di);
        fp_sqr(&x3, &lam);
        fp_sub(&x3, &x3, &B->x);
        fp_sub(&x3, &x3, &P->x);
        fp_sub(&t, &B->x, &x3);
        fp_mul(&y3, &lam, &t);
        fp_sub(&y3, &y3, &B->y);
        B->x = x3;
        B->y = y3;
    }
    A->nq = 0;
    A->epoch++;
}

static void zk_affine_add(zk_affine_acc *A, uint32_t b, const g1_aff *P)
{
    g1_aff *B = &A->bk[b];
    if (A->busy[b] == A->epoch) { g1_jac_madd(&A->bkj[b], &A->bkj[b], P); return; }
    if (g1_aff_is_inf(B)) { *B = *P; return; }
    size_t k = A->nq;
    fp_sub(&A->den[k], &P->x, &B->x);
    if (fp_is_zero(&A->den[k])) {
        if (!fp_eq(&P->y, &B->y)) { memset(B, 0, sizeof *B); return; } /* P = -B */
        /* doubling: slope 3x^2 / 2y (y != 0: G1 has no points of order 2) */
        fp_t x2;
        fp_sqr(&x2, &P->x);
        fp_add(&A->num[k], &x2, &x2);
        fp_add(&A->num[k], &A->num[k], &x2);
        fp_dbl(&A->den[k], &P->y);
    } else {
        fp_sub(&A->num[k], &P->y, &B->y);
    }
    A->qb[k] = b;
    A->qp[k] = *P;
    A->busy[b] = A->epoch;
    if (++A->nq == ZK_AFFINE_BATCH) zk_affine_flush(A);
}

static int zk_affine_init(zk_affine_acc *A, size_t nb, int affine)
{
    memset(A, 0, sizeof *A);
    A->bkj = (g1_jac *)malloc(nb * sizeof(g1_jac));
    if (!A->bkj) return 0;
    if (!affine) return 1;
    A->bk = (g1_aff *)malloc(nb * sizeof(g1_aff));
    A->busy = (uint32_t *)malloc(nb * sizeof(uint32_t));
    A->qb = (uint32_t *)malloc(ZK_AFFINE_BATCH * sizeof(uint32_t));
    A->qp = (g1_aff *)malloc(ZK_AFFINE_BATCH * sizeof(g1_aff));
    A->num = (fp_t *)malloc(3 * ZK_AFFINE_BATCH * sizeof(fp_t));
    if (!(A->bk && A->busy && A->qb && A->qp && A->num)) return 0;
    A->den = A->num + ZK_AFFINE_BATCH;
    A->pre = A->den + ZK_AFFINE_BATCH;
    return 1;
}

static void zk_affine_reset(zk_affine_acc *A, size_t nb, int affine)
{
    for (size_t b = 0; b < nb; b++) g1_jac_set_inf(&A->bkj[b]);
    if (!affine) return;
    memset(A->bk, 0, nb * sizeof(g1_aff));
    memset(A->busy, 0, nb * sizeof(uint32_t));
    A->epoch = 1;
    A->nq = 0;
}

static void zk_affine_free(zk_affine_acc *A)
{
    free(A->bkj); free(A->bk); free(A->busy); free(A->qb); free(A->qp); free(A->num);
}

/* Scalars in {-1, 0, 1}: a plain sum of (negated) points.  Large inputs spread the points over
 * ZK_AFFINE_BATCH accumulators so that each batch adds into distinct ones (batch-affine). */
static int zk_sum_signed(g1_jac *out, const g1_aff *pts, const zk_scalars *s, size_t start, size_t n)
{
    uint64_t m[4];
    int neg;
    g1_jac acc;
    g1_jac_set_inf(&acc);
    size_t K = ZK_AFFINE_BATCH;
    int affine = n >= 4 * K;
    zk_affine_acc A;
    if (!zk_affine_init(&A, K, affine)) { zk_affine_free(&A); return -1; }
    zk_affine_reset(&A, K, affine);
    size_t j = 0;
    for (size_t i = start; i < start + n; i++) {
        zk_scalar_get(s, i, m, &neg);
        if (!m[0] || g1_aff_is_inf(&pts[i])) continue;
        g1_aff q;
        const g1_aff *P = &pts[i];
        if (neg) { g1_aff_neg(&q, P); P = &q; }
        if (affine) zk_affine_add(&A, (uint32_t)(j++ % K), P);
        else g1_jac_madd(&acc, &acc, P);
    }
    if (affine) {
        zk_affine_flush(&A);
        for (size_t b = 0; b < K; b++) {
            g1_jac_madd(&acc, &acc, &A.bk[b]);
            g1_jac_add(&acc, &acc, &A.bkj[b]);
        }
    }
    zk_affine_free(&A);
    *out = acc;
    return 0;
}

/* Accumulate the points of [start, start + n) into the buckets of window w. */
static void zk_window_accumulate(zk_affine_acc *A, const g1_aff *pts, const zk_scalars *s,
                                 size_t start, size_t n, int w, int c, int affine)
{
    uint64_t m[4];
    int neg;
    for (size_t i = start; i < start + n; i++) {
        zk_scalar_get(s, i, m, &neg);
        int d = zk_booth_digit(m, w, c);
        if (!d || g1_aff_is_inf(&pts[i])) continue;
        if (neg) d = -d;
        g1_aff q;
        const g1_aff *P = &pts[i];
        if (d < 0) { g1_aff_neg(&q, P); P = &q; d = -d; }
        if (affine) zk_affine_add(A, (uint32_t)(d - 1), P);
        else g1_jac_madd(&A->bkj[d - 1], &A->bkj[d - 1], P);
    }
    if (affine) zk_affine_flush(A);
}

/* sum_{b in [lo, hi)} (b + 1) * B_b where B_b is the sum of bucket b over the T accumulators:
 * a running sum from the top gives sum (b - lo + 1) B_b, plus lo times the plain sum. */
static void zk_reduce_range(g1_jac *out, zk_affine_acc *const *As, int T, size_t lo, size_t hi, int affine)
{
    g1_jac run, tot;
    g1_jac_set_inf(&run);
    g1_jac_set_inf(&tot);
    for (size_t b = hi; b-- > lo;) {
        for (int u = 0; u < T; u++) {
            if (affine) g1_jac_madd(&run, &run, &As[u]->bk[b]);
            g1_jac_add(&run, &run, &As[u]->bkj[b]);
        }
        g1_jac_add(&tot, &tot, &run);
    }
    if (lo) {
        uint64_t k[1] = {lo};
        g1_jac_mul_limbs(&run, &run, k, 1);
        g1_jac_add(&tot, &tot, &run);
    }
    *out = tot;
}

/* Pippenger with T threads: each thread accumulates a contiguous chunk of the points into its
 * own buckets; after a barrier, each reduces a slice of the bucket range over all threads'
 * buckets, so both phases split evenly whatever the distribution of the digits. */
static int zk_msm_pippenger(g1_jac *out, const g1_aff *pts, const zk_scalars *s, size_t n, int bits, int T)
{
    size_t chunk = (n + T - 1) / T;
    int c = zk_msm_window(chunk, bits);
    int nwin = bits / c + 1;
    size_t nb = (size_t)1 << (c - 1);
    if ((size_t)T > nb) T = 1;
    chunk = (n + T - 1) / T;
    int affine = nb >= ZK_AFFINE_MIN_BUCKETS;
    zk_affine_acc accs[64];
    zk_affine_acc *As[64];
    g1_jac *parts = (g1_jac *)malloc((size_t)nwin * T * sizeof(g1_jac));
    int ok = parts != NULL;
    for (int t = 0; t < T; t++) {
        As[t] = &accs[t];
        if (!zk_affine_init(&accs[t], nb, affine)) ok = 0;
    }
    if (ok) {
#pragma omp parallel num_threads(T)
        {
#ifdef _OPENMP
            int t = omp_get_thread_num();
#else
            int t = 0;
#endif
            size_t a = (size_t)t * chunk;
            size_t len = a >= n ? 0 : (n - a < chunk ? n - a : chunk);
            size_t lo = nb * t / T, hi = nb * (t + 1) / T;
            for (int w = nwin - 1; w >= 0; w--) {
                zk_affine_reset(As[t], nb, affine);
                zk_window_accumulate(As[t], pts, s, a, len, w, c, affine);
#pragma omp barrier
                zk_reduce_range(&parts[(size_t)w * T + t], As, T, lo, hi, affine);
#pragma omp barrier
            }
        }
        g1_jac acc;
        g1_jac_set_inf(&acc);
        for (int w = nwin - 1; w >= 0; w--) {
            for (int k = 0; k < c && w != nwin - 1; k++) g1_jac_dbl(&acc, &acc);
            for (int t = 0; t < T; t++) g1_jac_add(&acc, &acc, &parts[(size_t)w * T + t]);
        }
        *out = acc;
    }
    for (int t = 0; t < T; t++) zk_affine_free(&accs[t]);
    free(parts);
    return ok ? 0 : -1;
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

/*
 * Small MSMs: Straus (interleaved width-5 NAF).  Each point gets a table of its 8 odd multiples;
 * all points share one chain of ~bits doublings, and each non-zero digit (~bits/6 per point)
 * adds a table entry.  From ZK_STRAUS_AFFINE_MIN points on, the tables are normalised to affine
 * with one inversion (Montgomery's trick) so that the additions are mixed ones.  Pippenger's
 * bucket sums cost ~2.5 * 2^(c-1) additions per window whatever n is, which dominates below a
 * few hundred points.
 */
#define ZK_STRAUS_W 5
#define ZK_STRAUS_T (1 << (ZK_STRAUS_W - 2))   /* table entries per point */
#define ZK_STRAUS_AFFINE_MIN 4
#define ZK_STRAUS_MAX 1024                      /* never above this many points */

/* Estimated costs in mixed additions (a doubling ~0.8, a Jacobian addition ~1.45, an affine
 * table entry ~0.6 more for its share of the batch normalisation): Straus pays the tables and
 * bits/6 additions per point; single-threaded Pippenger pays ceil((bits+1)/c) windows of n
 * bucket additions and ~2.5 * 2^(c-1) for the bucket sums. */
static double zk_straus_cost(size_t n, int bits)
{
    double tab = n >= ZK_STRAUS_AFFINE_MIN ? 11.6 + 8 * 0.6 : 11.6;
    double add = n >= ZK_STRAUS_AFFINE_MIN ? 1.15 : 1.45; /* 1.15: measured crossover ~200 points */
    return (double)n * (tab + add * (bits + 1) / 6.0) + 0.8 * bits;
}

static double zk_pippenger_cost(size_t n, int bits)
{
    double best = 1e300;
    for (int c = 2; c <= 16; c++) {
        int nwin = bits / c + 1;
        double cost = (double)nwin * ((double)n + 2.5 * 1.45 * (double)(1u << (c - 1))) + 0.8 * nwin * c;
        if (cost < best) best = cost;
    }
    return best;
}

static int zk_use_straus(size_t n, int bits)
{
    return n <= ZK_STRAUS_MAX && zk_straus_cost(n, bits) < zk_pippenger_cost(n, bits);
}

/* Batch Jacobian -> affine with Montgomery's trick (one inversion); pre: n scratch elements. */
static void g1_batch_normalize_tab(g1_aff *out, const g1_jac *in, size_t n, fp_t *pre)
{
    fp_t acc = fp_ONE;
    for (size_t i = 0; i < n; i++) {
        pre[i] = acc;
        if (!g1_jac_is_inf(&in[i])) fp_mul(&acc, &acc, &in[i].Z);
    }
    fp_t inv;
    fp_inv(&inv, &acc);
    for (size_t i = n; i-- > 0;) {
        if (g1_jac_is_inf(&in[i])) { memset(&out[i], 0, sizeof out[i]); continue; }
        fp_t zi, zi2, zi3;
        fp_mul(&zi, &pre[i], &inv);
        fp_mul(&inv, &inv, &in[i].Z);
        fp_sqr(&zi2, &zi);
        fp_mul(&zi3, &zi2, &zi);
        fp_t x, y; /* temporaries: out may overlap in */
        fp_mul(&x, &in[i].X, &zi2);
        fp_mul(&y, &in[i].Y, &zi3);
        out[i].x = x;
        out[i].y = y;
    }
}

/* Odd-multiple tables of n affine points: Jacobian (tj, n * ZK_STRAUS_T) and, when ta is not
 * NULL, affine copies.  Returns 0, or -1 when out of memory. */
static int zk_straus_tables(g1_jac *tj, g1_aff *ta, const g1_aff *pts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g1_jac p;
        g1_aff_to_jac(&p, &pts[i]);
        g1_jac_odd_multiples(&tj[i * ZK_STRAUS_T], &p, ZK_STRAUS_W);
    }
    if (!ta) return 0;
    fp_t *pre = (fp_t *)malloc((n * ZK_STRAUS_T + 1) * sizeof(fp_t));
    if (!pre) return -1;
    g1_batch_normalize_tab(ta, tj, n * ZK_STRAUS_T, pre);
    free(pre);
    return 0;
}

/* sum_i [k_i] P_i from precomputed tables (affine ta, or Jacobian tj when ta is NULL);
 * dg: scratch of n * ZK_WNAF_MAX digits. */
static void zk_straus_eval(g1_jac *out, const g1_jac *tj, const g1_aff *ta, const g1_aff *pts,
                           const zk_scalars *s, size_t n, int8_t *dg)
{
    int len = 0;
    uint64_t m[4];
    int neg;
    for (size_t i = 0; i < n; i++) {
        int8_t *d = dg + i * ZK_WNAF_MAX;
        zk_scalar_get(s, i, m, &neg);
        int l = g1_aff_is_inf(&pts[i]) ? 0 : zk_wnaf(d, m, 4, ZK_STRAUS_W);
        for (int j = l; j < ZK_WNAF_MAX; j++) d[j] = 0;
        if (neg)
            for (int j = 0; j < l; j++) d[j] = (int8_t)-d[j];
        if (l > len) len = l;
    }
    g1_jac acc;
    g1_jac_set_inf(&acc);
    for (int b = len - 1; b >= 0; b--) {
        if (b != len - 1) g1_jac_dbl(&acc, &acc);
        for (size_t i = 0; i < n; i++) {
            int d = dg[i * ZK_WNAF_MAX + b];
            if (!d) continue;
            size_t t = i * ZK_STRAUS_T + (size_t)(((d < 0 ? -d : d) - 1) >> 1);
            if (ta) {
                g1_aff q = ta[t];
                if (d < 0) g1_aff_neg(&q, &q);
                g1_jac_madd(&acc, &acc, &q);
            } else {
                g1_jac_add_digit(&acc, &tj[i * ZK_STRAUS_T], d);
            }
        }
    }
    *out = acc;
}

static int zk_msm_straus(g1_jac *out, const g1_aff *pts, const zk_scalars *s, size_t n)
{
    int affine = n >= ZK_STRAUS_AFFINE_MIN;
    g1_jac *tj = (g1_jac *)malloc(n * ZK_STRAUS_T * sizeof(g1_jac));
    g1_aff *ta = affine ? (g1_aff *)malloc(n * ZK_STRAUS_T * sizeof(g1_aff)) : NULL;
    int8_t *dg = (int8_t *)malloc(n * ZK_WNAF_MAX);
    int rc = -1;
    if (tj && dg && (ta || !affine) && !zk_straus_tables(tj, ta, pts, n)) {
        zk_straus_eval(out, tj, ta, pts, s, n, dg);
        rc = 0;
    }
    free(tj); free(ta); free(dg);
    return rc;
}

/* MSM of n points with up to `threads` threads.  Returns 0, or -1 when out of memory. */
static int zk_msm(g1_jac *out, const g1_aff *pts, const zk_scalars *s, size_t n, int threads)
{
    int bits = zk_scalars_bits(s, n);
    g1_jac_set_inf(out);
    if (bits == 0 || n == 0) return 0;
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if (n < 4096) threads = 1;
    if (bits > 1 && zk_use_straus(n, bits)) return zk_msm_straus(out, pts, s, n);
    if (bits > 1) return zk_msm_pippenger(out, pts, s, n, bits, threads);
    g1_jac parts[64];
    int errs[64];
    size_t chunk = (n + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; t++) {
        size_t a = (size_t)t * chunk;
        size_t len = a >= n ? 0 : (n - a < chunk ? n - a : chunk);
        errs[t] = zk_sum_signed(&parts[t], pts, s, a, len);
    }
    for (int t = 0; t < threads; t++) {
        if (errs[t]) return -1;
        g1_jac_add(out, out, &parts[t]);
    }
    return 0;
}

/* ---- rows of MSMs over a few shared points (Pedersen pairs [v] g + [rho] h, short rows) ---- */

#define ZK_COMB_MAX_BYTES ((size_t)64 << 20)
#define ZK_ROWS_SMALL_MAX 64 /* the comb / shared-Straus paths are considered up to this many points */

static zk_scalars zk_scalars_row(const zk_scalars *s, size_t r, size_t m)
{
    zk_scalars sr = *s;
    if (sr.i64) sr.i64 += r * m; else { sr.mag += 4 * r * m; sr.neg += r * m; }
    return sr;
}

/* Fixed-base comb cost with window c: tables of m * nwin * 2^(c-1) affine points (each ~one
 * Jacobian addition plus its share of the normalisation), then nwin mixed additions per point
 * and row, no doublings. */
static double zk_comb_cost(size_t m, size_t rows, int bits, int c)
{
    int nwin = bits / c + 1;
    double nb = (double)(1u << (c - 1));
    return (double)m * nwin * (nb * (1.45 + 0.6) + 0.8 * c) + (double)rows * m * nwin;
}

static int zk_comb_window(size_t m, size_t rows, int bits, double *cost)
{
    int best = 0;
    *cost = 1e300;
    for (int c = 2; c <= 12; c++) {
        int nwin = bits / c + 1;
        if (m * (size_t)nwin * ((size_t)1 << (c - 1)) * sizeof(g1_aff) > ZK_COMB_MAX_BYTES) break;
        double v = zk_comb_cost(m, rows, bits, c);
        if (v < *cost) { *cost = v; best = c; }
    }
    return best;
}

/* Comb table: ta[(i * nwin + j) * nb + e] = (e + 1) 2^(cj) P_i, nb = 2^(c-1), for the m points
 * (affine, one shared normalisation); pre: nt scratch elements, tj: nt Jacobian scratch. */
static int zk_comb_build(g1_aff *ta, const g1_aff *pts, size_t m, int nwin, int c, int T)
{
    size_t nb = (size_t)1 << (c - 1), nt = m * (size_t)nwin * nb;
    g1_jac *base = (g1_jac *)malloc(m * (size_t)nwin * sizeof(g1_jac));
    g1_jac *tj = (g1_jac *)malloc(nt * sizeof(g1_jac));
    fp_t *pre = (fp_t *)malloc(nt * sizeof(fp_t));
    int rc = -1;
    if (base && tj && pre) {
        for (size_t i = 0; i < m; i++) {
            g1_jac b;
            g1_aff_to_jac(&b, &pts[i]);
            for (int j = 0; j < nwin; j++) {
                base[i * nwin + j] = b;
                for (int k = 0; k < c; k++) g1_jac_dbl(&b, &b);
            }
        }
        size_t nbw = m * (size_t)nwin;
#pragma omp parallel for num_threads(T) schedule(dynamic, 1)
        for (size_t q = 0; q < nbw; q++) {
            g1_jac *t = &tj[q * nb];
            t[0] = base[q];
            for (size_t e = 1; e < nb; e++) {
                if (e == 1) g1_jac_dbl(&t[1], &t[0]);
                else g1_jac_add(&t[e], &t[e - 1], &t[0]);
            }
        }
        size_t chunk = (nt + T - 1) / T;
#pragma omp parallel for num_threads(T) schedule(static, 1)
        for (int t = 0; t < T; t++) {
            size_t a = (size_t)t * chunk;
            if (a < nt) g1_batch_normalize_tab(ta + a, tj + a, nt - a < chunk ? nt - a : chunk, pre + a);
        }
        rc = 0;
    }
    free(base); free(tj); free(pre);
    return rc;
}

/* Row r = sum_i sum_j d_ij(r) 2^(cj) P_i from a comb table, with the Booth digits d of the
 * scalars (negative digits add the negated entry): nwin mixed additions per point and row, no
 * doublings. */
static void zk_comb_eval(g1_jac *out, const g1_aff *ta, const zk_scalars *s, size_t m, size_t rows,
                         int nwin, int c, int T)
{
    size_t nb = (size_t)1 << (c - 1);
#pragma omp parallel for num_threads(T) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        zk_scalars sr = zk_scalars_row(s, r, m);
        g1_jac acc;
        g1_jac_set_inf(&acc);
        uint64_t mg[4];
        int neg;
        for (size_t i = 0; i < m; i++) {
            zk_scalar_get(&sr, i, mg, &neg);
            if (!(mg[0] | mg[1] | mg[2] | mg[3])) continue;
            for (int j = 0; j < nwin; j++) {
                int d = zk_booth_digit(mg, j, c);
                if (!d) continue;
                if (neg) d = -d;
                g1_aff q = ta[(i * nwin + j) * nb + (size_t)((d < 0 ? -d : d) - 1)];
                if (d < 0) g1_aff_neg(&q, &q);
                g1_jac_madd(&acc, &acc, &q);
            }
        }
        out[r] = acc;
    }
}

/* Comb over tables built for this call (bits: the scalars' largest bit length). */
static int zk_msm_rows_comb(g1_jac *out, const g1_aff *pts, const zk_scalars *s, size_t m, size_t rows,
                            int bits, int c, int T)
{
    int nwin = bits / c + 1;
    size_t nt = m * (size_t)nwin * ((size_t)1 << (c - 1));
    g1_aff *ta = (g1_aff *)malloc(nt * sizeof(g1_aff));
    int rc = -1;
    if (ta && !zk_comb_build(ta, pts, m, nwin, c, T)) {
        zk_comb_eval(out, ta, s, m, rows, nwin, c, T);
        rc = 0;
    }
    free(ta);
    return rc;
}

/* Straus with the odd-multiple tables of the m points built once for all rows. */
static int zk_msm_rows_straus(g1_jac *out, const g1_aff *pts, const zk_scalars *s, size_t m, size_t rows, int T)
{
    g1_jac *tj = (g1_jac *)malloc(m * ZK_STRAUS_T * sizeof(g1_jac));
    g1_aff *ta = (g1_aff *)malloc(m * ZK_STRAUS_T * sizeof(g1_aff));
    int fail = !tj || !ta || zk_straus_tables(tj, ta, pts, m);
    if (!fail) {
#pragma omp parallel num_threads(T) reduction(| : fail)
        {
            int8_t *dg = (int8_t *)malloc(m * ZK_WNAF_MAX);
            if (!dg) fail = 1;
            else {
#pragma omp for schedule(static)
                for (size_t r = 0; r < rows; r++) {
                    zk_scalars sr = zk_scalars_row(s, r, m);
                    zk_straus_eval(&out[r], tj, ta, pts, &sr, m, dg);
                }
            }
            free(dg);
        }
    }
    free(tj); free(ta);
    return fail ? -1 : 0;
}

/* The Pippenger plan of zk_msm_rows: window c, rows per group G and whether the group's buckets
 * are batch-affine, by the cost per row nwin (m a + 2.5 nb) (a = 0.45 for a batch-affine
 * addition, 1 for a Jacobian one).  A group holds at most ceil(rows / T) rows, so that every
 * thread has a group (rows are never fewer than threads' worth of work left to one thread), and
 * the window is chosen knowing that a group of G rows makes G nb buckets: a row of 2^11 points
 * with 16-bit scalars takes 9-bit windows in groups of 16 rows (batch-affine) where a window
 * chosen for one MSM (6 bits, Jacobian) took all 64 rows into one group on one thread. */
static int zk_rows_plan(size_t m, size_t rows, int bits, int T, size_t *G_out, int *affine_out)
{
    size_t per_thread = (rows + (size_t)T - 1) / (size_t)T;
    double best_cost = 1e300;
    int best = 2;
    for (int c = 2; c <= ZK_MAX_WINDOW; c++) {
        size_t nb = (size_t)1 << (c - 1);
        size_t G = (4 * ZK_AFFINE_BATCH + nb - 1) / nb;      /* enough buckets for few conflicts */
        size_t gmax = ((size_t)16 << 20) / (nb * 244) + 1;    /* ~16 MB of buckets per thread */
        if (G > gmax) G = gmax;
        if (G > per_thread) G = per_thread;
        if (G < 1) G = 1;
        int affine = G * nb >= ZK_AFFINE_MIN_BUCKETS;
        int nwin = bits / c + 1;
        double cost = (double)nwin * ((double)m * (affine ? 0.45 : 1.0) + 2.5 * (double)nb);
        if (cost < best_cost) {
            best_cost = cost;
            best = c;
            *G_out = G;
            *affine_out = affine;
        }
    }
    return best;
}

/*
 * Many MSMs over the same m points, one per row of a scalar matrix (Hyrax row commitments).
 * Rows are processed in groups of G by one thread; the buckets of all G rows form one
 * batch-affine accumulator (bucket r*nb + |d| - 1), and the loop runs over points outside and
 * rows inside, so a batch of queued additions spreads over the G rows' buckets with few
 * conflicts.  This amortises the shared inversions over rows even when each row is short.
 */
static int zk_msm_rows(g1_jac *out, const g1_aff *pts, const zk_scalars *s, size_t m, size_t rows, int T)
{
    int bits = 0;
    for (size_t r = 0; r < rows; r++) {
        zk_scalars sr = *s;
        if (sr.i64) sr.i64 += r * m; else { sr.mag += 4 * r * m; sr.neg += r * m; }
        int b = zk_scalars_bits(&sr, m);
        if (b > bits) bits = b;
    }
    for (size_t r = 0; r < rows; r++) g1_jac_set_inf(&out[r]);
    if (bits == 0 || m == 0) return 0;
    if (bits < 2) bits = 2; /* {-1, 0, 1}: Pippenger with tiny windows works too */
    /* a parallel region costs a scheduling round trip (milliseconds on a loaded machine): small
     * jobs stay on the calling thread */
    if ((double)rows * (double)m * bits < 3e5) T = 1;
    if (m <= ZK_ROWS_SMALL_MAX) {
        /* few points: a comb over the shared points, Straus with shared tables, or Pippenger
         * per row, whichever the cost model prefers */
        double comb, straus = (double)m * 16.4 + (double)rows * ((double)m * (bits + 1) / 6.0 + 0.8 * bits);
        double pip = (double)rows * zk_pippenger_cost(m, bits);
        int c = zk_comb_window(m, rows, bits, &comb);
        if (c && comb <= straus && comb <= pip) return zk_msm_rows_comb(out, pts, s, m, rows, bits, c, T);
        /* Pippenger's per-row setup is not in its cost model: with a handful of points per row
         * (e.g. [g, h] commitments of a few scalars) Straus is measured faster at every row count */
        if (straus <= pip || m <= 16) return zk_msm_rows_straus(out, pts, s, m, rows, T);
    }
    size_t G;
    int affine;
    int c = zk_rows_plan(m, rows, bits, T, &G, &affine);
    int nwin = bits / c + 1;
    size_t nb = (size_t)1 << (c - 1);
    size_t ngroups = (rows + G - 1) / G;
    int fail = 0;
#pragma omp parallel for num_threads(T) schedule(dynamic, 1) reduction(| : fail)
    for (size_t g = 0; g < ngroups; g++) {
        size_t r0 = g * G, gr = rows - r0 < G ? rows - r0 : G;
        zk_affine_acc A;
        if (!zk_affine_init(&A, gr * nb, affine)) { zk_affine_free(&A); fail = 1; continue; }
        g1_jac *acc = &out[r0];
        for (int w = nwin - 1; w >= 0; w--) {
            if (w != nwin - 1)
                for (size_t r = 0; r < gr; r++)
                    for (int k = 0; k < c; k++) g1_jac_dbl(&acc[r], &acc[r]);
            zk_affine_reset(&A, gr * nb, affine);
            for (size_t i = 0; i < m; i++) {
                if (g1_aff_is_inf(&pts[i])) continue;
                g1_aff negp;
                int have_neg = 0;
                for (size_t r = 0; r < gr; r++) {
                    uint64_t mg[4];
                    int neg;
                    zk_scalar_get(s, (r0 + r) * m + i, mg, &neg);
                    int d = zk_booth_digit(mg, w, c);
                    if (!d) continue;
                    if (neg) d = -d;
                    const g1_aff *P = &pts[i];
                    if (d < 0) {
                        if (!have_neg) { g1_aff_neg(&negp, P); have_neg = 1; }
                        P = &negp;
                        d = -d;
                    }
                    size_t b = r * nb + (size_t)(d - 1);
                    if (affine) zk_affine_add(&A, (uint32_t)b, P);
                    else g1_jac_madd(&A.bkj[b], &A.bkj[b], P);
                }
            }
            if (affine) zk_affine_flush(&A);
            for (size_t r = 0; r < gr; r++) {
                g1_jac run, tot;
                g1_jac_set_inf(&run);
                g1_jac_set_inf(&tot);
                for (size_t b = nb; b-- > 0;) {
                    if (affine) g1_jac_madd(&run, &run, &A.bk[r * nb + b]);
                    g1_jac_add(&run, &run, &A.bkj[r * nb + b]);
                    g1_jac_add(&tot, &tot, &run);
                }
                g1_jac_add(&acc[r], &acc[r], &tot);
            }
        }
        zk_affine_free(&A);
    }
    return fail ? -1 : 0;
}

#endif /* ZK_MSM_H */
