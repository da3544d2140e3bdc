/*
 * fr_mle.cu -- multilinear-extension tables: the sumcheck fold, the half sum and the eq table.
 *
 * zkdl convention (zkdl/field.py, module.c): x_1 is the MOST significant bit of a table index,
 * and a sumcheck round binds it, so a table of length 2h splits into halves a[0..h) (x_1 = 0)
 * and a[h..2h) (x_1 = 1).
 */
#include "zk_cuda.cuh"

/* fold (= FrVec.fold, _native.fr_fold): out[i] = a[i] + c * (a[h + i] - a[i]) for i < h.
 * out may alias a (thread i writes a[i] and reads a[i], a[h + i]; no other thread touches them). */
extern "C" __global__ void fr_fold(fr_t *out, const fr_t *a, const fr_t *c, uint64_t h)
{
    fr_t k = *c;
    ZKG_GRID_LOOP(i, h) {
        fr_t t;
        fr_sub(&t, &a[h + i], &a[i]);
        fr_mul(&t, &t, &k);
        fr_add(&out[i], &a[i], &t);
    }
}

/* half sum (= FrVec.half_sum): out[i] = a[i] + a[h + i]; out may alias a. */
extern "C" __global__ void fr_half_sum(fr_t *out, const fr_t *a, uint64_t h)
{
    ZKG_GRID_LOOP(i, h) fr_add(&out[i], &a[i], &a[h + i]);
}

/* eq table, step 0: o[0] = 1 (one thread). */
extern "C" __global__ void fr_eq_init(fr_t *o)
{
    if (zkg_tid() == 0) o[0] = fr_ONE;
}

/* eq table, one layer (= one pass of _native.fr_eq_table): for i < len,
 *     o[i + len] = o[i] * u,   o[i] = o[i] - o[i + len].
 * Host loop for eq(u_1..u_k, x) into o of length 2^k:
 *     fr_eq_init(o); for j = k-1 down to 0: fr_eq_layer(o, &u[j], 2^(k-1-j))
 * (u_k is bound first; each layer doubles the table and the new variable takes the top index
 * bit, so u_1 ends up most significant).  Thread i touches only o[i] and o[i + len]. */
extern "C" __global__ void fr_eq_layer(fr_t *o, const fr_t *u, uint64_t len)
{
    fr_t k = *u;
    ZKG_GRID_LOOP(i, len) {
        fr_mul(&o[i + len], &o[i], &k);
        fr_sub(&o[i], &o[i], &o[i + len]);
    }
}
