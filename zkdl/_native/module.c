/*
 * zkdl._native -- Python bindings of the field, curve and MSM kernels.
 *
 * Every function takes C-contiguous buffers (numpy arrays) whose dtype and shape were checked by
 * the Python layer (zkdl.field, zkdl.curve); here we check only byte lengths, release the GIL,
 * and run the kernel.  Results go into caller-allocated output buffers.
 *   Fr elements:      4 x uint64 (Montgomery form unless a name says "canonical")
 *   affine points:    12 x uint64 (x, y in Montgomery form; infinity = all zero)
 *   Jacobian points:  18 x uint64 (X, Y, Z; infinity has Z = 0)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "zk_msm.h"

static int zk_threads = 1;
#define PAR_MIN 8192 /* below this many elements kernels run on one thread */

/* ---------------------------------------------------------------- buffers */

typedef struct {
    Py_buffer view;
    int held;
} zbuf;

static int zget(PyObject *o, zbuf *b, int writable, Py_ssize_t unit, const char *name)
{
    b->held = 0;
    if (PyObject_GetBuffer(o, &b->view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    b->held = 1;
    if (unit > 0 && b->view.len % unit) {
        PyErr_Format(PyExc_ValueError, "%s: buffer length %zd is not a multiple of %zd bytes",
                     name, b->view.len, unit);
        return -1;
    }
    return 0;
}

static void zrel(zbuf *b)
{
    if (b->held) PyBuffer_Release(&b->view);
    b->held = 0;
}

#define NITEMS(b, unit) ((size_t)((b).view.len / (unit)))
#define FR_SZ ((Py_ssize_t)sizeof(fr_t))
#define AFF_SZ ((Py_ssize_t)sizeof(g1_aff))
#define JAC_SZ ((Py_ssize_t)sizeof(g1_jac))

static PyObject *len_error(const char *fn)
{
    PyErr_Format(PyExc_ValueError, "%s: mismatched buffer lengths", fn);
    return NULL;
}

/* ---------------------------------------------------------------- Fr, elementwise */

#define BINOP(NAME, BN, EXPR)                                                                \
static PyObject *py_##NAME(PyObject *self, PyObject *args)                                  \
{                                                                                           \
    PyObject *o, *a, *b;                                                                    \
    zbuf bo, ba, bb;                                                                        \
    bo.held = ba.held = bb.held = 0;                                                        \
    PyObject *ret = NULL;                                                                   \
    if (!PyArg_ParseTuple(args, "OOO", &o, &a, &b)) return NULL;                            \
    if (zget(o, &bo, 1, FR_SZ, #NAME) || zget(a, &ba, 0, FR_SZ, #NAME) ||                   \
        zget(b, &bb, 0, FR_SZ, #NAME)) goto done;                                           \
    size_t n = NITEMS(bo, FR_SZ);                                                           \
    if (NITEMS(ba, FR_SZ) != n || NITEMS(bb, FR_SZ) != (BN)) { len_error(#NAME); goto done; }\
    fr_t *O = (fr_t *)bo.view.buf;                                                          \
    const fr_t *A = (const fr_t *)ba.view.buf, *B = (const fr_t *)bb.view.buf;              \
    Py_BEGIN_ALLOW_THREADS                                                                  \
    _Pragma("omp parallel for num_threads(zk_threads) if(n >= PAR_MIN) schedule(static)")   \
    for (size_t i = 0; i < n; i++) { EXPR; }                                                \
    Py_END_ALLOW_THREADS                                                                    \
    ret = Py_None; Py_INCREF(ret);                                                          \
done:                                                                                       \
    zrel(&bo); zrel(&ba); zrel(&bb);                                                        \
    return ret;                                                                             \
}

BINOP(fr_add, n, fr_add(&O[i], &A[i], &B[i]))
BINOP(fr_sub, n, fr_sub(&O[i], &A[i], &B[i]))
BINOP(fr_mul, n, fr_mul(&O[i], &A[i], &B[i]))
/* b holds one element: O = A * b */
BINOP(fr_scale, 1, fr_mul(&O[i], &A[i], &B[0]))
BINOP(fr_add_scalar, 1, fr_add(&O[i], &A[i], &B[0]))

#define UNOP(NAME, EXPR)                                                                   \
static PyObject *py_##NAME(PyObject *self, PyObject *args)                                  \
{                                                                                           \
    PyObject *o, *a;                                                                        \
    zbuf bo, ba;                                                                            \
    bo.held = ba.held = 0;                                                                  \
    PyObject *ret = NULL;                                                                   \
    if (!PyArg_ParseTuple(args, "OO", &o, &a)) return NULL;                                 \
    if (zget(o, &bo, 1, FR_SZ, #NAME) || zget(a, &ba, 0, FR_SZ, #NAME)) goto done;         \
    size_t n = NITEMS(bo, FR_SZ);                                                           \
    if (NITEMS(ba, FR_SZ) != n) { len_error(#NAME); goto done; }                            \
    fr_t *O = (fr_t *)bo.view.buf;                                                          \
    const fr_t *A = (const fr_t *)ba.view.buf;                                              \
    Py_BEGIN_ALLOW_THREADS                                                                  \
    _Pragma("omp parallel for num_threads(zk_threads) if(n >= PAR_MIN) schedule(static)")   \
    for (size_t i = 0; i < n; i++) { EXPR; }                                                \
    Py_END_ALLOW_THREADS                                                                    \
    ret = Py_None; Py_INCREF(ret);                                                          \
done:                                                                                       \
    zrel(&bo); zrel(&ba);                                                                   \
    return ret;                                                                             \
}

UNOP(fr_neg, fr_neg(&O[i], &A[i]))
UNOP(fr_to_canonical, fr_from_mont(&O[i], &A[i]))
UNOP(fr_sqr, fr_sqr(&O[i], &A[i]))

/* canonical limbs -> Montgomery; returns index of the first value >= r, or -1. */
static PyObject *py_fr_from_canonical(PyObject *self, PyObject *args)
{
    PyObject *o, *a;
    zbuf bo, ba;
    bo.held = ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO", &o, &a)) return NULL;
    if (zget(o, &bo, 1, FR_SZ, "fr_from_canonical") || zget(a, &ba, 0, FR_SZ, "fr_from_canonical"))
        goto done;
    size_t n = NITEMS(bo, FR_SZ);
    if (NITEMS(ba, FR_SZ) != n) { len_error("fr_from_canonical"); goto done; }
    fr_t *O = (fr_t *)bo.view.buf;
    const fr_t *A = (const fr_t *)ba.view.buf;
    long long bad = -1;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) {
        if (fr_geq_mod(&A[i])) { bad = (long long)i; break; }
        fr_to_mont(&O[i], &A[i]);
    }
    Py_END_ALLOW_THREADS
    ret = PyLong_FromLongLong(bad);
done:
    zrel(&bo); zrel(&ba);
    return ret;
}

/* int64 -> Montgomery (negative x maps to r - |x|). */
static PyObject *py_fr_from_i64(PyObject *self, PyObject *args)
{
    PyObject *o, *a;
    zbuf bo, ba;
    bo.held = ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO", &o, &a)) return NULL;
    if (zget(o, &bo, 1, FR_SZ, "fr_from_i64") || zget(a, &ba, 0, 8, "fr_from_i64")) goto done;
    size_t n = NITEMS(bo, FR_SZ);
    if (NITEMS(ba, 8) != n) { len_error("fr_from_i64"); goto done; }
    fr_t *O = (fr_t *)bo.view.buf;
    const int64_t *A = (const int64_t *)ba.view.buf;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(zk_threads) if (n >= PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        int64_t x = A[i];
        fr_t t = {{x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x, 0, 0, 0}};
        fr_to_mont(&O[i], &t);
        if (x < 0) fr_neg(&O[i], &O[i]);
    }
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&ba);
    return ret;
}

/* centred lift of a canonical value: magnitude and sign (v or r - v, whichever is smaller). */
ZK_FN int fr_centred(fr_t *mag, const fr_t *canon)
{
    /* (r - 1) / 2 */
    static const uint64_t half[4] = {0x7fffffff80000000ULL, 0xa9ded2017fff2dffULL,
                                     0x199cec0404d0ec02ULL, 0x39f6d3a994cebea4ULL};
    int gt = 0;
    for (int l = 3; l >= 0; l--) {
        if (canon->v[l] > half[l]) { gt = 1; break; }
        if (canon->v[l] < half[l]) break;
    }
    if (!gt) { *mag = *canon; return 0; }
    uint64_t borrow = 0;
    for (int l = 0; l < 4; l++) mag->v[l] = zk_sbb(fr_MODULUS.v[l], canon->v[l], &borrow);
    return 1;
}

/* Montgomery -> int64 by the centred lift; returns the index of the first value outside
 * [-2^bound_bits, 2^bound_bits) (bound_bits <= 63), or -1. */
static PyObject *py_fr_to_i64(PyObject *self, PyObject *args)
{
    PyObject *o, *a;
    int bound_bits;
    zbuf bo, ba;
    bo.held = ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOi", &o, &a, &bound_bits)) return NULL;
    if (bound_bits < 0 || bound_bits > 63) {
        PyErr_SetString(PyExc_ValueError, "fr_to_i64: bound_bits must be in [0, 63]");
        return NULL;
    }
    if (zget(o, &bo, 1, 8, "fr_to_i64") || zget(a, &ba, 0, FR_SZ, "fr_to_i64")) goto done;
    size_t n = NITEMS(bo, 8);
    if (NITEMS(ba, FR_SZ) != n) { len_error("fr_to_i64"); goto done; }
    int64_t *O = (int64_t *)bo.view.buf;
    const fr_t *A = (const fr_t *)ba.view.buf;
    long long bad = -1;
    uint64_t lim = 1ULL << bound_bits;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) {
        fr_t c, m;
        fr_from_mont(&c, &A[i]);
        int neg = fr_centred(&m, &c);
        /* the range of a signed (bound_bits + 1)-bit integer: [-2^bound_bits, 2^bound_bits) */
        if (m.v[1] | m.v[2] | m.v[3] || m.v[0] > lim || (m.v[0] == lim && !neg)) { bad = (long long)i; break; }
        O[i] = neg ? (int64_t)((uint64_t)0 - m.v[0]) : (int64_t)m.v[0];
    }
    Py_END_ALLOW_THREADS
    ret = PyLong_FromLongLong(bad);
done:
    zrel(&bo); zrel(&ba);
    return ret;
}

/* ---------------------------------------------------------------- Fr, reductions */

/* out[0] = sum a[i] * b[i] (b NULL: sum a[i]) */
static void fr_dot_kernel(fr_t *out, const fr_t *A, const fr_t *B, size_t n)
{
    fr_t parts[64];
    int T = (n >= PAR_MIN) ? zk_threads : 1;
    if (T > 64) T = 64;
    size_t chunk = (n + T - 1) / T;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        fr_t acc, p;
        memset(&acc, 0, sizeof acc);
        size_t lo = (size_t)t * chunk, hi = lo + chunk < n ? lo + chunk : n;
        for (size_t i = lo; i < hi; i++) {
            if (B) { fr_mul(&p, &A[i], &B[i]); fr_add(&acc, &acc, &p); }
            else fr_add(&acc, &acc, &A[i]);
        }
        parts[t] = acc;
    }
    memset(out, 0, sizeof *out);
    for (int t = 0; t < T; t++) fr_add(out, out, &parts[t]);
}

static PyObject *py_fr_inner(PyObject *self, PyObject *args)
{
    PyObject *o, *a, *b = Py_None;
    zbuf bo, ba, bb;
    bo.held = ba.held = bb.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO|O", &o, &a, &b)) return NULL;
    if (zget(o, &bo, 1, FR_SZ, "fr_inner") || zget(a, &ba, 0, FR_SZ, "fr_inner")) goto done;
    if (b != Py_None && zget(b, &bb, 0, FR_SZ, "fr_inner")) goto done;
    size_t n = NITEMS(ba, FR_SZ);
    if (NITEMS(bo, FR_SZ) != 1 || (b != Py_None && NITEMS(bb, FR_SZ) != n)) {
        len_error("fr_inner");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    fr_dot_kernel((fr_t *)bo.view.buf, (const fr_t *)ba.view.buf,
                  b != Py_None ? (const fr_t *)bb.view.buf : NULL, n);
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&ba); zrel(&bb);
    return ret;
}

/* Montgomery's trick; returns the index of the first zero, or -1. */
static PyObject *py_fr_batch_inv(PyObject *self, PyObject *args)
{
    PyObject *o, *a;
    zbuf bo, ba;
    bo.held = ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO", &o, &a)) return NULL;
    if (zget(o, &bo, 1, FR_SZ, "fr_batch_inv") || zget(a, &ba, 0, FR_SZ, "fr_batch_inv")) goto done;
    size_t n = NITEMS(bo, FR_SZ);
    if (NITEMS(ba, FR_SZ) != n) { len_error("fr_batch_inv"); goto done; }
    if (bo.view.buf == ba.view.buf && n) {
        PyErr_SetString(PyExc_ValueError, "fr_batch_inv: output must not alias input");
        goto done;
    }
    fr_t *O = (fr_t *)bo.view.buf;
    const fr_t *A = (const fr_t *)ba.view.buf;
    long long bad = -1;
    Py_BEGIN_ALLOW_THREADS
    fr_t acc = fr_ONE;
    for (size_t i = 0; i < n; i++) {
        if (fr_is_zero(&A[i])) { bad = (long long)i; break; }
        O[i] = acc; /* prefix product of A[0..i) */
        fr_mul(&acc, &acc, &A[i]);
    }
    if (bad < 0 && n) {
        fr_t inv;
        fr_inv(&inv, &acc); /* 1 / (A0 ... A(n-1)) */
        for (size_t i = n; i-- > 0;) {
            fr_t t;
            fr_mul(&t, &O[i], &inv);   /* 1 / A[i] */
            fr_mul(&inv, &inv, &A[i]); /* 1 / (A0 ... A(i-1)) */
            O[i] = t;
        }
    }
    Py_END_ALLOW_THREADS
    ret = PyLong_FromLongLong(bad);
done:
    zrel(&bo); zrel(&ba);
    return ret;
}

/* out[i] = x^i */
static PyObject *py_fr_powers(PyObject *self, PyObject *args)
{
    PyObject *o, *x;
    zbuf bo, bx;
    bo.held = bx.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO", &o, &x)) return NULL;
    if (zget(o, &bo, 1, FR_SZ, "fr_powers") || zget(x, &bx, 0, FR_SZ, "fr_powers")) goto done;
    if (NITEMS(bx, FR_SZ) != 1) { len_error("fr_powers"); goto done; }
    size_t n = NITEMS(bo, FR_SZ);
    fr_t *O = (fr_t *)bo.view.buf;
    const fr_t *X = (const fr_t *)bx.view.buf;
    Py_BEGIN_ALLOW_THREADS
    fr_t acc = fr_ONE;
    for (size_t i = 0; i < n; i++) { O[i] = acc; fr_mul(&acc, &acc, X); }
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&bx);
    return ret;
}

/* out[i] = a[i] + c * (a[h + i] - a[i]), h = len(a) / 2 = len(out); out may alias a. */
static PyObject *py_fr_fold(PyObject *self, PyObject *args)
{
    PyObject *o, *a, *c;
    zbuf bo, ba, bc;
    bo.held = ba.held = bc.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOO", &o, &a, &c)) return NULL;
    if (zget(o, &bo, 1, FR_SZ, "fr_fold") || zget(a, &ba, 0, FR_SZ, "fr_fold") ||
        zget(c, &bc, 0, FR_SZ, "fr_fold")) goto done;
    size_t h = NITEMS(bo, FR_SZ);
    if (NITEMS(ba, FR_SZ) != 2 * h || NITEMS(bc, FR_SZ) != 1) { len_error("fr_fold"); goto done; }
    fr_t *O = (fr_t *)bo.view.buf;
    const fr_t *A = (const fr_t *)ba.view.buf, *C = (const fr_t *)bc.view.buf;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(zk_threads) if (h >= PAR_MIN) schedule(static)
    for (size_t i = 0; i < h; i++) {
        fr_t t;
        fr_sub(&t, &A[h + i], &A[i]);
        fr_mul(&t, &t, C);
        fr_add(&O[i], &A[i], &t);
    }
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&ba); zrel(&bc);
    return ret;
}

/* out[x] = eq(u, x) for x in {0,1}^k, u_1 the most significant bit of the index. */
static PyObject *py_fr_eq_table(PyObject *self, PyObject *args)
{
    PyObject *o, *u;
    zbuf bo, bu;
    bo.held = bu.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO", &o, &u)) return NULL;
    if (zget(o, &bo, 1, FR_SZ, "fr_eq_table") || zget(u, &bu, 0, FR_SZ, "fr_eq_table")) goto done;
    size_t k = NITEMS(bu, FR_SZ);
    if (k > 40 || NITEMS(bo, FR_SZ) != ((size_t)1 << k)) { len_error("fr_eq_table"); goto done; }
    fr_t *O = (fr_t *)bo.view.buf;
    const fr_t *U = (const fr_t *)bu.view.buf;
    Py_BEGIN_ALLOW_THREADS
    O[0] = fr_ONE;
    /* bind u_k first: each pass doubles the table, the new variable taking the top index bit,
     * so after all passes u_1 is the most significant bit.  Each i touches O[i], O[i + len]. */
    for (size_t j = k; j-- > 0;) {
        size_t len = (size_t)1 << (k - 1 - j);
#pragma omp parallel for num_threads(zk_threads) if (len >= PAR_MIN) schedule(static)
        for (size_t i = 0; i < len; i++) {
            fr_mul(&O[i + len], &O[i], &U[j]);
            fr_sub(&O[i], &O[i], &O[i + len]);
        }
    }
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&bu);
    return ret;
}

/* ---------------------------------------------------------------- G1 */

/* 1 if the canonical y is the lexicographically larger root (y > (p - 1) / 2). */
static int fp_is_large(const fp_t *y_mont)
{
    static const uint64_t half[6] = {0xdcff7fffffffd555ULL, 0x0f55ffff58a9ffffULL,
                                     0xb39869507b587b12ULL, 0xb23ba5c279c2895fULL,
                                     0x258dd3db21a5d66bULL, 0x0d0088f51cbff34dULL};
    fp_t c;
    fp_from_mont(&c, y_mont);
    for (int l = 5; l >= 0; l--) {
        if (c.v[l] > half[l]) return 1;
        if (c.v[l] < half[l]) return 0;
    }
    return 0;
}

/* Batch Jacobian -> affine with Montgomery's trick (one inversion). */
static void g1_batch_normalize(g1_aff *out, const g1_jac *in, size_t n)
{
    fp_t *pre = (fp_t *)malloc((n ? n : 1) * sizeof(fp_t));
    if (!pre) { /* fall back to one inversion per point */
        for (size_t i = 0; i < n; i++) g1_jac_to_aff(&out[i], &in[i]);
        return;
    }
    g1_batch_normalize_tab(out, in, n, pre);
    free(pre);
}

#define G1_UNOP(NAME, ISZ, OSZ, TI, TO, EXPR, PAR)                                        \
static PyObject *py_##NAME(PyObject *self, PyObject *args)                                  \
{                                                                                           \
    PyObject *o, *a;                                                                        \
    zbuf bo, ba;                                                                            \
    bo.held = ba.held = 0;                                                                  \
    PyObject *ret = NULL;                                                                   \
    if (!PyArg_ParseTuple(args, "OO", &o, &a)) return NULL;                                 \
    if (zget(o, &bo, 1, OSZ, #NAME) || zget(a, &ba, 0, ISZ, #NAME)) goto done;             \
    size_t n = NITEMS(bo, OSZ);                                                             \
    if (NITEMS(ba, ISZ) != n) { len_error(#NAME); goto done; }                              \
    TO *O = (TO *)bo.view.buf;                                                              \
    const TI *A = (const TI *)ba.view.buf;                                                  \
    size_t par_min = PAR;                                                                   \
    Py_BEGIN_ALLOW_THREADS                                                                  \
    _Pragma("omp parallel for num_threads(zk_threads) if(n >= par_min) schedule(static)")   \
    for (size_t i = 0; i < n; i++) { EXPR; }                                                \
    Py_END_ALLOW_THREADS                                                                    \
    ret = Py_None; Py_INCREF(ret);                                                          \
done:                                                                                       \
    zrel(&bo); zrel(&ba);                                                                   \
    return ret;                                                                             \
}

G1_UNOP(g1_aff_to_jac, AFF_SZ, JAC_SZ, g1_aff, g1_jac, g1_aff_to_jac(&O[i], &A[i]), 1 << 30)
G1_UNOP(g1_jac_dbl, JAC_SZ, JAC_SZ, g1_jac, g1_jac, g1_jac_dbl(&O[i], &A[i]), 256)
G1_UNOP(g1_jac_neg, JAC_SZ, JAC_SZ, g1_jac, g1_jac, g1_jac_neg(&O[i], &A[i]), 1 << 30)

static PyObject *py_g1_normalize(PyObject *self, PyObject *args)
{
    PyObject *o, *a;
    zbuf bo, ba;
    bo.held = ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO", &o, &a)) return NULL;
    if (zget(o, &bo, 1, AFF_SZ, "g1_normalize") || zget(a, &ba, 0, JAC_SZ, "g1_normalize")) goto done;
    size_t n = NITEMS(bo, AFF_SZ);
    if (NITEMS(ba, JAC_SZ) != n) { len_error("g1_normalize"); goto done; }
    Py_BEGIN_ALLOW_THREADS
    g1_batch_normalize((g1_aff *)bo.view.buf, (const g1_jac *)ba.view.buf, n);
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&ba);
    return ret;
}

static PyObject *py_g1_jac_add(PyObject *self, PyObject *args)
{
    PyObject *o, *a, *b;
    zbuf bo, ba, bb;
    bo.held = ba.held = bb.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOO", &o, &a, &b)) return NULL;
    if (zget(o, &bo, 1, JAC_SZ, "g1_jac_add") || zget(a, &ba, 0, JAC_SZ, "g1_jac_add") ||
        zget(b, &bb, 0, JAC_SZ, "g1_jac_add")) goto done;
    size_t n = NITEMS(bo, JAC_SZ);
    if (NITEMS(ba, JAC_SZ) != n || NITEMS(bb, JAC_SZ) != n) { len_error("g1_jac_add"); goto done; }
    g1_jac *O = (g1_jac *)bo.view.buf;
    const g1_jac *A = (const g1_jac *)ba.view.buf, *B = (const g1_jac *)bb.view.buf;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(zk_threads) if (n >= 256) schedule(static)
    for (size_t i = 0; i < n; i++) g1_jac_add(&O[i], &A[i], &B[i]);
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&ba); zrel(&bb);
    return ret;
}

/* out[i] = [k_i] p_i, k in Montgomery Fr form (elementwise scalar multiplication). */
static PyObject *py_g1_jac_mul(PyObject *self, PyObject *args)
{
    PyObject *o, *a, *k;
    zbuf bo, ba, bk;
    bo.held = ba.held = bk.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOO", &o, &a, &k)) return NULL;
    if (zget(o, &bo, 1, JAC_SZ, "g1_jac_mul") || zget(a, &ba, 0, JAC_SZ, "g1_jac_mul") ||
        zget(k, &bk, 0, FR_SZ, "g1_jac_mul")) goto done;
    size_t n = NITEMS(bo, JAC_SZ);
    if (NITEMS(ba, JAC_SZ) != n || NITEMS(bk, FR_SZ) != n) { len_error("g1_jac_mul"); goto done; }
    g1_jac *O = (g1_jac *)bo.view.buf;
    const g1_jac *A = (const g1_jac *)ba.view.buf;
    const fr_t *K = (const fr_t *)bk.view.buf;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(zk_threads) if (n >= 4) schedule(static)
    for (size_t i = 0; i < n; i++) {
        fr_t c;
        fr_from_mont(&c, &K[i]);
        g1_jac_mul_limbs(&O[i], &A[i], c.v, 4);
    }
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&ba); zrel(&bk);
    return ret;
}

/* Validity of affine points: returns (index, code) of the first bad point or (-1, 0);
 * code 1: not on the curve, 2: not in the prime-order subgroup (checked when `subgroup`). */
static PyObject *py_g1_check(PyObject *self, PyObject *args)
{
    PyObject *a;
    int subgroup;
    zbuf ba;
    ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "Op", &a, &subgroup)) return NULL;
    if (zget(a, &ba, 0, AFF_SZ, "g1_check")) goto done;
    size_t n = NITEMS(ba, AFF_SZ);
    const g1_aff *A = (const g1_aff *)ba.view.buf;
    long long bad = (long long)n;
    int code = 0;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(zk_threads) if (n >= 8) schedule(dynamic, 16) reduction(min : bad)
    for (size_t i = 0; i < n; i++) {
        int ok = !fp_geq_mod(&A[i].x) && !fp_geq_mod(&A[i].y) && g1_aff_on_curve(&A[i]);
        if (ok && subgroup) {
            g1_jac j;
            g1_aff_to_jac(&j, &A[i]);
            ok = g1_jac_in_subgroup(&j) ? 1 : -1;
        }
        if (ok != 1 && (long long)i < bad) bad = (long long)i;
    }
    if (bad < (long long)n) {
        code = g1_aff_on_curve(&A[bad]) && !fp_geq_mod(&A[bad].x) && !fp_geq_mod(&A[bad].y) ? 2 : 1;
    } else {
        bad = -1;
    }
    Py_END_ALLOW_THREADS
    ret = Py_BuildValue("(Li)", bad, code);
done:
    zrel(&ba);
    return ret;
}

/* g1_subgroup_flags(out_u8[n], a_aff[n], method): out[i] = 1 iff point i (assumed on the curve)
 * is in the prime-order subgroup; method 0: the endomorphism test used by g1_check and
 * g1_decompress, 1: the reference [r] P == O (slow; for tests). */
static PyObject *py_g1_subgroup_flags(PyObject *self, PyObject *args)
{
    PyObject *o, *a;
    int method;
    zbuf bo, ba;
    bo.held = ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOi", &o, &a, &method)) return NULL;
    if (zget(o, &bo, 1, 1, "g1_subgroup_flags") || zget(a, &ba, 0, AFF_SZ, "g1_subgroup_flags")) goto done;
    size_t n = NITEMS(bo, 1);
    if (NITEMS(ba, AFF_SZ) != n) { len_error("g1_subgroup_flags"); goto done; }
    uint8_t *O = (uint8_t *)bo.view.buf;
    const g1_aff *A = (const g1_aff *)ba.view.buf;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(zk_threads) if (n >= 8) schedule(dynamic, 4)
    for (size_t i = 0; i < n; i++) {
        g1_jac j;
        g1_aff_to_jac(&j, &A[i]);
        O[i] = (uint8_t)(method ? g1_jac_in_subgroup_ref(&j) : g1_jac_in_subgroup(&j));
    }
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&ba);
    return ret;
}

/* ZCash compressed encoding: 48 bytes, big-endian x, flags in the top 3 bits of byte 0:
 * 0x80 compressed, 0x40 infinity, 0x20 y is the larger root. */
static PyObject *py_g1_compress(PyObject *self, PyObject *args)
{
    PyObject *o, *a;
    zbuf bo, ba;
    bo.held = ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO", &o, &a)) return NULL;
    if (zget(o, &bo, 1, 48, "g1_compress") || zget(a, &ba, 0, AFF_SZ, "g1_compress")) goto done;
    size_t n = NITEMS(bo, 48);
    if (NITEMS(ba, AFF_SZ) != n) { len_error("g1_compress"); goto done; }
    uint8_t *O = (uint8_t *)bo.view.buf;
    const g1_aff *A = (const g1_aff *)ba.view.buf;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) {
        uint8_t *out = O + 48 * i;
        memset(out, 0, 48);
        if (g1_aff_is_inf(&A[i])) { out[0] = 0xc0; continue; }
        fp_t x;
        fp_from_mont(&x, &A[i].x);
        for (int b = 0; b < 48; b++) out[47 - b] = (uint8_t)(x.v[b / 8] >> (8 * (b % 8)));
        out[0] |= 0x80 | (fp_is_large(&A[i].y) ? 0x20 : 0);
    }
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&ba);
    return ret;
}

/* Strict decoding.  Returns (index, code) of the first bad encoding or (-1, 0).
 * codes: 1 compression flag clear, 2 malformed infinity, 3 x not canonical (>= p),
 *        4 not on the curve, 5 not in the prime-order subgroup. */
static PyObject *py_g1_decompress(PyObject *self, PyObject *args)
{
    PyObject *o, *a;
    int subgroup = 1;
    zbuf bo, ba;
    bo.held = ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO|p", &o, &a, &subgroup)) return NULL;
    if (zget(o, &bo, 1, AFF_SZ, "g1_decompress") || zget(a, &ba, 0, 48, "g1_decompress")) goto done;
    size_t n = NITEMS(bo, AFF_SZ);
    if (NITEMS(ba, 48) != n) { len_error("g1_decompress"); goto done; }
    g1_aff *O = (g1_aff *)bo.view.buf;
    const uint8_t *A = (const uint8_t *)ba.view.buf;
    long long bad = (long long)n;
    int *codes = (int *)calloc(n ? n : 1, sizeof(int));
    if (!codes) { PyErr_NoMemory(); goto done; }
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(zk_threads) if (n >= 8) schedule(dynamic, 16) reduction(min : bad)
    for (size_t i = 0; i < n; i++) {
        const uint8_t *in = A + 48 * i;
        uint8_t flags = in[0] & 0xe0;
        int code = 0;
        memset(&O[i], 0, sizeof O[i]);
        if (!(flags & 0x80)) code = 1;
        else if (flags & 0x40) {
            uint8_t any = (uint8_t)(flags & 0x20) | (in[0] & 0x1f);
            for (int b = 1; b < 48; b++) any |= in[b];
            if (any) code = 2;
        } else {
            fp_t x;
            memset(&x, 0, sizeof x);
            for (int b = 0; b < 48; b++) {
                uint8_t byte = b == 0 ? (in[0] & 0x1f) : in[b];
                x.v[(47 - b) / 8] |= (uint64_t)byte << (8 * ((47 - b) % 8));
            }
            if (fp_geq_mod(&x)) code = 3;
            else {
                fp_t xm, rhs, y;
                fp_to_mont(&xm, &x);
                fp_sqr(&rhs, &xm);
                fp_mul(&rhs, &rhs, &xm);
                fp_add(&rhs, &rhs, &G1_B);
                if (!fp_sqrt(&y, &rhs)) code = 4;
                else {
                    if (fp_is_large(&y) != !!(flags & 0x20)) fp_neg(&y, &y);
                    O[i].x = xm;
                    O[i].y = y;
                    if (subgroup) {
                        g1_jac j;
                        g1_aff_to_jac(&j, &O[i]);
                        if (!g1_jac_in_subgroup(&j)) code = 5;
                    }
                }
            }
        }
        codes[i] = code;
        if (code && (long long)i < bad) bad = (long long)i;
    }
    Py_END_ALLOW_THREADS
    if (bad < (long long)n) ret = Py_BuildValue("(Li)", bad, codes[bad]);
    else ret = Py_BuildValue("(Li)", -1LL, 0);
    free(codes);
done:
    zrel(&bo); zrel(&ba);
    return ret;
}

/* Hash to curve by try-and-increment: x0 = canonical field element from the hash (Python side);
 * x = x0, x0 + 1, ... until x^3 + 4 is a square; y = the root whose "larger" flag equals the
 * sign bit; then clear the cofactor with h_eff = 0xd201000000010001 (the effective G1
 * cofactor of the hash-to-curve standard).  Nobody knows a discrete log of the result. */
static PyObject *py_g1_hash_to_curve(PyObject *self, PyObject *args)
{
    PyObject *o, *xs, *signs;
    zbuf bo, bx, bs;
    bo.held = bx.held = bs.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOO", &o, &xs, &signs)) return NULL;
    if (zget(o, &bo, 1, AFF_SZ, "g1_hash_to_curve") || zget(xs, &bx, 0, 48, "g1_hash_to_curve") ||
        zget(signs, &bs, 0, 1, "g1_hash_to_curve")) goto done;
    size_t n = NITEMS(bo, AFF_SZ);
    if (NITEMS(bx, 48) != n || NITEMS(bs, 1) != n) { len_error("g1_hash_to_curve"); goto done; }
    g1_aff *O = (g1_aff *)bo.view.buf;
    const fp_t *X = (const fp_t *)bx.view.buf;
    const uint8_t *S = (const uint8_t *)bs.view.buf;
    for (size_t i = 0; i < n; i++)
        if (fp_geq_mod(&X[i])) {
            PyErr_SetString(PyExc_ValueError, "g1_hash_to_curve: x not canonical");
            goto done;
        }
    g1_jac *J = (g1_jac *)malloc((n ? n : 1) * sizeof(g1_jac));
    if (!J) { PyErr_NoMemory(); goto done; }
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(zk_threads) if (n >= 4) schedule(dynamic, 8)
    for (size_t i = 0; i < n; i++) {
        static const uint64_t heff[1] = {0xd201000000010001ULL};
        fp_t x, rhs, y;
        fp_to_mont(&x, &X[i]);
        for (;;) {
            fp_sqr(&rhs, &x);
            fp_mul(&rhs, &rhs, &x);
            fp_add(&rhs, &rhs, &G1_B);
            if (fp_sqrt(&y, &rhs)) {
                if (fp_is_large(&y) != (S[i] & 1)) fp_neg(&y, &y);
                g1_aff p = {x, y};
                g1_jac pj;
                g1_aff_to_jac(&pj, &p);
                g1_jac_mul_limbs(&J[i], &pj, heff, 1);
                if (!g1_jac_is_inf(&J[i])) break;
            }
            fp_add(&x, &x, &fp_ONE);
        }
    }
    g1_batch_normalize(O, J, n);
    Py_END_ALLOW_THREADS
    free(J);
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&bx); zrel(&bs);
    return ret;
}


/* g1_fixed_base_mul(out_aff[n], base_aff[1], k_fr[n]): out[i] = [k_i] B for one base point B.
 * Fixed-base comb with 8-bit windows: a table of j * 2^(8w) B (w < 32, 1 <= j < 256, 8160
 * affine points, built once per call), then at most 32 mixed additions per scalar.  Used for
 * the blinding terms rho_i * h of row commitments. */
static PyObject *py_g1_fixed_base_mul(PyObject *self, PyObject *args)
{
    PyObject *o, *b, *k;
    zbuf bo, bb, bk;
    bo.held = bb.held = bk.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOO", &o, &b, &k)) return NULL;
    if (zget(o, &bo, 1, AFF_SZ, "g1_fixed_base_mul") || zget(b, &bb, 0, AFF_SZ, "g1_fixed_base_mul") ||
        zget(k, &bk, 0, FR_SZ, "g1_fixed_base_mul")) goto done;
    size_t n = NITEMS(bo, AFF_SZ);
    if (NITEMS(bb, AFF_SZ) != 1 || NITEMS(bk, FR_SZ) != n) { len_error("g1_fixed_base_mul"); goto done; }
    const size_t W = 32, J = 255;
    g1_jac *tj = (g1_jac *)malloc(W * J * sizeof(g1_jac));
    g1_aff *tab = (g1_aff *)malloc(W * J * sizeof(g1_aff));
    g1_jac *res = (g1_jac *)malloc((n ? n : 1) * sizeof(g1_jac));
    if (!tj || !tab || !res) {
        free(tj); free(tab); free(res);
        PyErr_NoMemory();
        goto done;
    }
    const g1_aff *B = (const g1_aff *)bb.view.buf;
    const fr_t *K = (const fr_t *)bk.view.buf;
    Py_BEGIN_ALLOW_THREADS
    g1_jac base;
    g1_aff_to_jac(&base, B);
    for (size_t w = 0; w < W; w++) {
        tj[w * J] = base;
        for (size_t j = 1; j < J; j++) g1_jac_add(&tj[w * J + j], &tj[w * J + j - 1], &base);
        for (int d = 0; d < 8; d++) g1_jac_dbl(&base, &base);
    }
    g1_batch_normalize(tab, tj, W * J);
#pragma omp parallel for num_threads(zk_threads) if (n >= 16) schedule(static)
    for (size_t i = 0; i < n; i++) {
        fr_t c;
        fr_from_mont(&c, &K[i]);
        g1_jac acc;
        g1_jac_set_inf(&acc);
        for (size_t w = 0; w < W; w++) {
            unsigned byte = (unsigned)((c.v[w / 8] >> (8 * (w % 8))) & 0xff);
            if (byte) g1_jac_madd(&acc, &acc, &tab[w * J + byte - 1]);
        }
        res[i] = acc;
    }
    g1_batch_normalize((g1_aff *)bo.view.buf, res, n);
    Py_END_ALLOW_THREADS
    free(tj); free(tab); free(res);
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&bb); zrel(&bk);
    return ret;
}

/* ---------------------------------------------------------------- MSM */

/* Centred magnitudes and signs of Montgomery Fr scalars. */
static void fr_to_signed_mags(uint64_t *mag, uint8_t *neg, const fr_t *K, size_t n)
{
#pragma omp parallel for num_threads(zk_threads) if (n >= PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        fr_t c, m;
        fr_from_mont(&c, &K[i]);
        neg[i] = (uint8_t)fr_centred(&m, &c);
        memcpy(mag + 4 * i, m.v, 32);
    }
}

/* msm(out_aff, points_aff, scalars, kind): kind 0 = int64 scalars, 1 = Montgomery Fr. */
static PyObject *py_msm(PyObject *self, PyObject *args)
{
    PyObject *o, *p, *k;
    int kind;
    zbuf bo, bp, bk;
    bo.held = bp.held = bk.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOOi", &o, &p, &k, &kind)) return NULL;
    Py_ssize_t ksz = kind ? FR_SZ : 8;
    if (zget(o, &bo, 1, AFF_SZ, "msm") || zget(p, &bp, 0, AFF_SZ, "msm") || zget(k, &bk, 0, ksz, "msm"))
        goto done;
    size_t n = NITEMS(bp, AFF_SZ);
    if (NITEMS(bo, AFF_SZ) != 1 || NITEMS(bk, ksz) != n) { len_error("msm"); goto done; }
    int rc = 0;
    uint64_t *mag = NULL;
    uint8_t *neg = NULL;
    Py_BEGIN_ALLOW_THREADS
    zk_scalars s = {NULL, NULL, NULL};
    if (kind == 0) s.i64 = (const int64_t *)bk.view.buf;
    else {
        mag = (uint64_t *)malloc((n ? n : 1) * 32);
        neg = (uint8_t *)malloc(n ? n : 1);
        if (mag && neg) fr_to_signed_mags(mag, neg, (const fr_t *)bk.view.buf, n);
        s.mag = mag;
        s.neg = neg;
    }
    g1_jac r;
    if (kind && (!mag || !neg)) rc = -1;
    else rc = zk_msm(&r, (const g1_aff *)bp.view.buf, &s, n, zk_threads);
    if (!rc) g1_jac_to_aff((g1_aff *)bo.view.buf, &r);
    Py_END_ALLOW_THREADS
    free(mag);
    free(neg);
    if (rc) { PyErr_NoMemory(); goto done; }
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&bp); zrel(&bk);
    return ret;
}

/* msm_rows(out_aff[rows], points_aff[m], scalars[rows * m], kind): one MSM per row over the
 * same points (Hyrax commits a matrix row by row).  With at least as many rows as threads,
 * groups of rows share batch-affine buckets (zk_msm_rows); otherwise each row uses all threads. */
static PyObject *py_msm_rows(PyObject *self, PyObject *args)
{
    PyObject *o, *p, *k;
    int kind;
    zbuf bo, bp, bk;
    bo.held = bp.held = bk.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOOi", &o, &p, &k, &kind)) return NULL;
    Py_ssize_t ksz = kind ? FR_SZ : 8;
    if (zget(o, &bo, 1, AFF_SZ, "msm_rows") || zget(p, &bp, 0, AFF_SZ, "msm_rows") ||
        zget(k, &bk, 0, ksz, "msm_rows")) goto done;
    size_t m = NITEMS(bp, AFF_SZ), rows = NITEMS(bo, AFF_SZ);
    if (NITEMS(bk, ksz) != rows * m) { len_error("msm_rows"); goto done; }
    int fail = 0;
    uint64_t *mag = NULL;
    uint8_t *neg = NULL;
    g1_jac *res = (g1_jac *)malloc((rows ? rows : 1) * sizeof(g1_jac));
    Py_BEGIN_ALLOW_THREADS
    if (kind) {
        mag = (uint64_t *)malloc((rows * m > 0 ? rows * m : 1) * 32);
        neg = (uint8_t *)malloc(rows * m > 0 ? rows * m : 1);
        if (mag && neg) fr_to_signed_mags(mag, neg, (const fr_t *)bk.view.buf, rows * m);
    }
    if (!res || (kind && (!mag || !neg))) fail = 1;
    else {
        int T = zk_threads;
        if (rows >= (size_t)T) {
            zk_scalars s = {NULL, NULL, NULL};
            if (kind) { s.mag = mag; s.neg = neg; }
            else s.i64 = (const int64_t *)bk.view.buf;
            if (zk_msm_rows(res, (const g1_aff *)bp.view.buf, &s, m, rows, T)) fail = 1;
        } else {
            for (size_t r = 0; r < rows && !fail; r++) {
                zk_scalars s = {NULL, NULL, NULL};
                if (kind) { s.mag = mag + 4 * r * m; s.neg = neg + r * m; }
                else s.i64 = (const int64_t *)bk.view.buf + r * m;
                if (zk_msm(&res[r], (const g1_aff *)bp.view.buf, &s, m, T)) fail = 1;
            }
        }
        if (!fail) g1_batch_normalize((g1_aff *)bo.view.buf, res, rows);
    }
    Py_END_ALLOW_THREADS
    free(mag);
    free(neg);
    free(res);
    if (fail) { PyErr_NoMemory(); goto done; }
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&bp); zrel(&bk);
    return ret;
}


/* ---------------------------------------------------------------- sumcheck rounds */

/* sc_term_evals(out[D+1], eq_or_None, (f_1, ..., f_nf), D):
 *   out[X] = sum_{i < m} w_i * prod_j (f_j[i] + X * (f_j[m + i] - f_j[i]))   for X = 0..D
 * with w = eq (length m) or 1, m = len(f_j) / 2 (the round binds the most significant variable).
 * Factor values at X = 0..D come by repeated addition of the difference: the only
 * multiplications are the products themselves. */
#define SC_MAX_F 4
#define SC_MAX_D 8
static PyObject *py_sc_term_evals(PyObject *self, PyObject *args)
{
    PyObject *o, *eq, *fl;
    int D;
    if (!PyArg_ParseTuple(args, "OOO!i", &o, &eq, &PyTuple_Type, &fl, &D)) return NULL;
    Py_ssize_t nf = PyTuple_GET_SIZE(fl);
    if (nf < 1 || nf > SC_MAX_F || D < 1 || D > SC_MAX_D) {
        PyErr_SetString(PyExc_ValueError, "sc_term_evals: 1..4 factors and degree 1..8");
        return NULL;
    }
    zbuf bo, be, bf[SC_MAX_F];
    bo.held = be.held = 0;
    for (int j = 0; j < SC_MAX_F; j++) bf[j].held = 0;
    PyObject *ret = NULL;
    int has_eq = eq != Py_None;
    if (zget(o, &bo, 1, FR_SZ, "sc_term_evals")) goto done;
    if (has_eq && zget(eq, &be, 0, FR_SZ, "sc_term_evals")) goto done;
    for (Py_ssize_t j = 0; j < nf; j++)
        if (zget(PyTuple_GET_ITEM(fl, j), &bf[j], 0, FR_SZ, "sc_term_evals")) goto done;
    size_t len = NITEMS(bf[0], FR_SZ), m = len / 2;
    int bad = NITEMS(bo, FR_SZ) != (size_t)D + 1 || len % 2 || (has_eq && NITEMS(be, FR_SZ) != m);
    for (Py_ssize_t j = 1; j < nf; j++) bad |= NITEMS(bf[j], FR_SZ) != len;
    if (bad) { len_error("sc_term_evals"); goto done; }
    const fr_t *F[SC_MAX_F];
    for (Py_ssize_t j = 0; j < nf; j++) F[j] = (const fr_t *)bf[j].view.buf;
    const fr_t *W = has_eq ? (const fr_t *)be.view.buf : NULL;
    fr_t *O = (fr_t *)bo.view.buf;
    Py_BEGIN_ALLOW_THREADS
    int T = m >= PAR_MIN ? zk_threads : 1;
    if (T > 64) T = 64;
    fr_t parts[64][SC_MAX_D + 1];
    size_t chunk = (m + T - 1) / T;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        fr_t acc[SC_MAX_D + 1];
        memset(acc, 0, sizeof acc);
        size_t lo = (size_t)t * chunk, hi = lo + chunk < m ? lo + chunk : m;
        for (size_t i = lo; i < hi; i++) {
            fr_t val[SC_MAX_F], dif[SC_MAX_F];
            for (int j = 0; j < nf; j++) {
                val[j] = F[j][i];
                fr_sub(&dif[j], &F[j][m + i], &F[j][i]);
            }
            for (int X = 0; X <= D; X++) {
                fr_t p = W ? W[i] : val[0];
                for (int j = W ? 0 : 1; j < nf; j++) fr_mul(&p, &p, &val[j]);
                fr_add(&acc[X], &acc[X], &p);
                if (X < D)
                    for (int j = 0; j < nf; j++) fr_add(&val[j], &val[j], &dif[j]);
            }
        }
        memcpy(parts[t], acc, sizeof(fr_t) * (D + 1));
    }
    for (int X = 0; X <= D; X++) {
        fr_t s;
        memset(&s, 0, sizeof s);
        for (int t = 0; t < T; t++) fr_add(&s, &s, &parts[t][X]);
        O[X] = s;
    }
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&be);
    for (int j = 0; j < SC_MAX_F; j++) zrel(&bf[j]);
    return ret;
}

/* out[i] = a[i] + a[h + i] (the eq table of the remaining variables after one round) */
static PyObject *py_fr_half_sum(PyObject *self, PyObject *args)
{
    PyObject *o, *a;
    zbuf bo, ba;
    bo.held = ba.held = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "OO", &o, &a)) return NULL;
    if (zget(o, &bo, 1, FR_SZ, "fr_half_sum") || zget(a, &ba, 0, FR_SZ, "fr_half_sum")) goto done;
    size_t h = NITEMS(bo, FR_SZ);
    if (NITEMS(ba, FR_SZ) != 2 * h) { len_error("fr_half_sum"); goto done; }
    fr_t *O = (fr_t *)bo.view.buf;
    const fr_t *A = (const fr_t *)ba.view.buf;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(zk_threads) if (h >= PAR_MIN) schedule(static)
    for (size_t i = 0; i < h; i++) fr_add(&O[i], &A[i], &A[h + i]);
    Py_END_ALLOW_THREADS
    ret = Py_None; Py_INCREF(ret);
done:
    zrel(&bo); zrel(&ba);
    return ret;
}

/* ---------------------------------------------------------------- threads, module */

static PyObject *py_set_num_threads(PyObject *self, PyObject *args)
{
    int t;
    if (!PyArg_ParseTuple(args, "i", &t)) return NULL;
    if (t < 1 || t > 64) {
        PyErr_SetString(PyExc_ValueError, "set_num_threads: threads must be in [1, 64]");
        return NULL;
    }
    zk_threads = t;
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *args)
{
    return PyLong_FromLong(zk_threads);
}

static PyObject *py_max_threads(PyObject *self, PyObject *args)
{
#ifdef _OPENMP
    return PyLong_FromLong(omp_get_num_procs());
#else
    return PyLong_FromLong(1);
#endif
}

#define M(name, doc) {#name, py_##name, METH_VARARGS, doc}
static PyMethodDef methods[] = {
    M(fr_add, "fr_add(out, a, b)"),
    M(fr_sub, "fr_sub(out, a, b)"),
    M(fr_mul, "fr_mul(out, a, b)"),
    M(fr_scale, "fr_scale(out, a, s): out = a * s[0]"),
    M(fr_add_scalar, "fr_add_scalar(out, a, s): out = a + s[0]"),
    M(fr_neg, "fr_neg(out, a)"),
    M(fr_sqr, "fr_sqr(out, a)"),
    M(fr_to_canonical, "fr_to_canonical(out, a): Montgomery -> canonical limbs"),
    M(fr_from_canonical, "fr_from_canonical(out, a) -> index of first value >= r, or -1"),
    M(fr_from_i64, "fr_from_i64(out, a_int64)"),
    M(fr_to_i64, "fr_to_i64(out_int64, a, bound_bits) -> index of first overflow, or -1"),
    M(fr_inner, "fr_inner(out1, a[, b]): out1 = sum a*b (or sum a)"),
    M(fr_batch_inv, "fr_batch_inv(out, a) -> index of first zero, or -1"),
    M(fr_powers, "fr_powers(out, x): out[i] = x^i"),
    M(fr_fold, "fr_fold(out, a, c): out[i] = a[i] + c*(a[h+i] - a[i])"),
    M(fr_eq_table, "fr_eq_table(out, u): out[x] = eq(u, x), u_1 most significant"),
    M(g1_aff_to_jac, "g1_aff_to_jac(out_jac, a_aff)"),
    M(g1_normalize, "g1_normalize(out_aff, a_jac)"),
    M(g1_jac_add, "g1_jac_add(out, a, b)"),
    M(g1_jac_dbl, "g1_jac_dbl(out, a)"),
    M(g1_jac_neg, "g1_jac_neg(out, a)"),
    M(g1_jac_mul, "g1_jac_mul(out, a, k_fr)"),
    M(g1_check, "g1_check(a_aff, subgroup) -> (index, code)"),
    M(g1_subgroup_flags, "g1_subgroup_flags(out_u8, a_aff, method): 0 endomorphism, 1 reference [r]P"),
    M(g1_compress, "g1_compress(out_bytes, a_aff)"),
    M(g1_decompress, "g1_decompress(out_aff, bytes[, subgroup]) -> (index, code)"),
    M(g1_hash_to_curve, "g1_hash_to_curve(out_aff, x_canonical, sign_bytes)"),
    M(g1_fixed_base_mul, "g1_fixed_base_mul(out_aff, base_aff, k_fr): out[i] = k_i * base"),
    M(msm, "msm(out_aff, points_aff, scalars, kind)"),
    M(msm_rows, "msm_rows(out_aff, points_aff, scalars, kind)"),
    M(sc_term_evals, "sc_term_evals(out, eq_or_None, factors_tuple, D)"),
    M(fr_half_sum, "fr_half_sum(out, a): out[i] = a[i] + a[h+i]"),
    M(set_num_threads, "set_num_threads(t)"),
    M(get_num_threads, "get_num_threads()"),
    M(max_threads, "max_threads()"),
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_native",
                                    "zkdl native core: Fr, G1, MSM", -1, methods};

PyMODINIT_FUNC PyInit__native(void)
{
#ifdef _OPENMP
    zk_threads = omp_get_num_procs();
    if (zk_threads > 64) zk_threads = 64;
#endif
    return PyModule_Create(&moddef);
}
