/*
 * fr_vec.cu -- elementwise Fr vector kernels (Montgomery form, the zkdl.FrVec layout).
 *
 * out may alias any input (each thread reads and writes only element i).  A scalar operand s is
 * a pointer to ONE element in device memory (a (1, 4) array, e.g. zkdl.field.scalar_limbs(x)).
 * CPU counterparts: FrVec.__add__, __sub__, __mul__, __neg__, vec * int, vec + int, int - vec.
 */
#include "zk_cuda.cuh"

/* out[i] = a[i] + b[i] */
extern "C" __global__ void fr_vec_add(fr_t *out, const fr_t *a, const fr_t *b, uint64_t n)
{
    ZKG_GRID_LOOP(i, n) fr_add(&out[i], &a[i], &b[i]);
}

/* out[i] = a[i] - b[i] */
extern "C" __global__ void fr_vec_sub(fr_t *out, const fr_t *a, const fr_t *b, uint64_t n)
{
    ZKG_GRID_LOOP(i, n) fr_sub(&out[i], &a[i], &b[i]);
}

/* out[i] = a[i] * b[i] */
extern "C" __global__ void fr_vec_mul(fr_t *out, const fr_t *a, const fr_t *b, uint64_t n)
{
    ZKG_GRID_LOOP(i, n) fr_mul(&out[i], &a[i], &b[i]);
}

/* out[i] = -a[i] */
extern "C" __global__ void fr_vec_neg(fr_t *out, const fr_t *a, uint64_t n)
{
    ZKG_GRID_LOOP(i, n) fr_neg(&out[i], &a[i]);
}

/* out[i] = s * a[i] */
extern "C" __global__ void fr_vec_scale(fr_t *out, const fr_t *a, const fr_t *s, uint64_t n)
{
    fr_t k = *s;
    ZKG_GRID_LOOP(i, n) fr_mul(&out[i], &a[i], &k);
}

/* out[i] = a[i] + s */
extern "C" __global__ void fr_vec_add_scalar(fr_t *out, const fr_t *a, const fr_t *s, uint64_t n)
{
    fr_t k = *s;
    ZKG_GRID_LOOP(i, n) fr_add(&out[i], &a[i], &k);
}

/* out[i] = s - a[i]  (logUp leaves: alpha - v) */
extern "C" __global__ void fr_vec_rsub_scalar(fr_t *out, const fr_t *a, const fr_t *s, uint64_t n)
{
    fr_t k = *s;
    ZKG_GRID_LOOP(i, n) fr_sub(&out[i], &k, &a[i]);
}

/* out[i] = s * x[i] + y[i]  (fused: one pass, one product per element) */
extern "C" __global__ void fr_vec_axpy(fr_t *out, const fr_t *s, const fr_t *x, const fr_t *y, uint64_t n)
{
    fr_t k = *s;
    ZKG_GRID_LOOP(i, n) {
        fr_t t;
        fr_mul(&t, &x[i], &k);
        fr_add(&out[i], &t, &y[i]);
    }
}
