/*
 * sumcheck.cu -- the sumcheck round kernel and a block-partial reduction.
 *
 * sc_round_partials computes, like _native.sc_term_evals / zkdl.field.product_evals,
 *     E[X] = sum_{i < m} w_i * prod_{j < nf} (f_j[i] + X * (f_j[m + i] - f_j[i])),   X = 0..D,
 * with w = eq (length m) or 1 when eq is NULL, m = len(f_j) / 2 (the round binds the most
 * significant variable).  Factor values at X = 0..D come by repeated addition of the difference.
 * Pass 1 (this kernel): block b writes its partial sums to partials[b * (D + 1) + X], after a
 * shared-memory tree reduction over its threads.  Pass 2: fr_sum_rows with one block sums the
 * gridDim.x rows of partials into E.  1 <= nf <= 4, 1 <= D <= 8 (other values: nothing written).
 */
#include "zk_cuda.cuh"

#define ZKG_SC_MAX_F 4
#define ZKG_SC_MAX_D 8
#define ZKG_SC_BLOCK 256 /* max blockDim.x of the kernels below (size of their shared arrays) */

extern "C" __global__ void sc_round_partials(fr_t *partials, const fr_t *eq, const fr_t *f0,
                                             const fr_t *f1, const fr_t *f2, const fr_t *f3,
                                             int nf, int D, uint64_t m)
{
    __shared__ fr_t sh[ZKG_SC_BLOCK];
    if (nf < 1 || nf > ZKG_SC_MAX_F || D < 1 || D > ZKG_SC_MAX_D || blockDim.x > ZKG_SC_BLOCK)
        return; /* uniform over the grid: no thread reaches a barrier */
    const fr_t *F[ZKG_SC_MAX_F] = {f0, f1, f2, f3};
    fr_t acc[ZKG_SC_MAX_D + 1];
    for (int X = 0; X <= D; X++) memset(&acc[X], 0, sizeof(fr_t));
    ZKG_GRID_LOOP(i, m) {
        fr_t val[ZKG_SC_MAX_F], dif[ZKG_SC_MAX_F];
        for (int j = 0; j < nf; j++) {
            val[j] = F[j][i];
            fr_sub(&dif[j], &F[j][m + i], &F[j][i]);
        }
        for (int X = 0; X <= D; X++) {
            fr_t p = eq ? eq[i] : val[0];
            for (int j = eq ? 0 : 1; j < nf; j++) fr_mul(&p, &p, &val[j]);
            fr_add(&acc[X], &acc[X], &p);
            if (X < D)
                for (int j = 0; j < nf; j++) fr_add(&val[j], &val[j], &dif[j]);
        }
    }
    for (int X = 0; X <= D; X++) zkg_block_sum_fr(sh, &acc[X], &partials[(uint64_t)blockIdx.x * (D + 1) + X]);
}

/* out[b * width + X] = sum over rows r handled by block b of parts[r * width + X]  (rows are
 * dealt to the grid's threads by a grid-stride loop).  With one block: out[X] = the column sums,
 * the second pass of sc_round_partials (width = D + 1, rows = its gridDim.x); with width 1 the
 * sum of a vector (FrVec.sum).  rows = 0 gives zeros. */
extern "C" __global__ void fr_sum_rows(fr_t *out, const fr_t *parts, int width, uint64_t rows)
{
    __shared__ fr_t sh[ZKG_SC_BLOCK];
    if (width < 1 || blockDim.x > ZKG_SC_BLOCK) return;
    for (int X = 0; X < width; X++) {
        fr_t acc;
        memset(&acc, 0, sizeof acc);
        ZKG_GRID_LOOP(r, rows) fr_add(&acc, &acc, &parts[r * width + X]);
        zkg_block_sum_fr(sh, &acc, &out[(uint64_t)blockIdx.x * width + X]);
    }
}
