/*
 * zkdl._native -- Python bindings of the field, curve and MSM kernels.
 *
 * Every function takes C-contiguous buffers (numpy arrays) whose dtype and shape were checked by
 * the Python layer (zkdl.field, zkdl.curve); here we check only byte lengths, release the GIL,
 * and run the kernel.  Results go into caller-allocated output buffers.
 *   Fr elements:      4 x uint64 (Montgomery form unless a name says "canonical")
 *   affine points:    12 x uint64 (x, y in Montgomery form; infinity = all zero)
 *   Jacobian points:  18 x uint64 (X, Y, Z; infinity has Z = 0)
 *
 * One argument layer (zcall) serves every operation: an operation is a kernel k_NAME(zargs *)
 * and one OP(...) line giving its arguments, their length relations and what it returns; see
 * "the argument layer" below.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "zk_msm.h"

static int zk_threads = 1;
#define PAR_MIN 8192 /* below this many elements kernels run on one thread */

/* ---------------------------------------------------------------- the argument layer */

/* Element sizes in bytes. */
#define FR_SZ ((Py_ssize_t)sizeof(fr_t))    /* 32 */
#define FP_SZ ((Py_ssize_t)sizeof(fp_t))    /* 48, canonical Fp limbs */
#define AFF_SZ ((Py_ssize_t)sizeof(g1_aff)) /* 96 */
#define JAC_SZ ((Py_ssize_t)sizeof(g1_jac)) /* 144 */
#define I64_SZ ((Py_ssize_t)8)
#define U8_SZ ((Py_ssize_t)1)
#define ENC_SZ ((Py_ssize_t)48)             /* compressed G1 encoding */

#define ZMAX 7 /* Python arguments of one operation (msm2 has seven) */
#define ZTUP 4 /* buffers in a tuple argument */

enum { Z_END, Z_OUT, Z_IN, Z_IN_OR_NONE, Z_TUPLE, Z_INT, Z_BOOL }; /* argument kinds */
enum { RET_NONE, RET_INDEX, RET_INDEX_CODE };                      /* None, idx, (idx, code) */
enum { Z_OK, Z_NOMEM };                                            /* kernel results */

typedef struct {
    int kind;
    Py_ssize_t unit;       /* buffers: element size in bytes (< 0: see SCALARS) */
    int omit;              /* may be left out (the optional tail of the argument list) */
    int dflt;              /* Z_INT, Z_BOOL: the value when left out */
    int lo, hi;            /* Z_INT value, Z_TUPLE size: allowed range, checked before any buffer */
    const char *range_msg; /*   ValueError message outside it (NULL: no range) */
} zarg;

/* What a kernel gets, by argument position k (a tuple argument's buffers in t, tn, nt). */
typedef struct {
    void *p[ZMAX];        /* buffers: data (NULL for None) */
    size_t n[ZMAX];       /*   element counts (0 for None) */
    int given[ZMAX];      /*   0 for None */
    int i[ZMAX];          /* int and bool arguments */
    const void *t[ZTUP];  /* the tuple argument: buffers */
    size_t tn[ZTUP];      /*   element counts */
    int nt;               /*   how many */
    long long idx;        /* result of RET_INDEX and RET_INDEX_CODE (starts at -1) */
    int code;             /* result of RET_INDEX_CODE */
} zargs;

typedef struct {
    const char *name;
    int ret;                             /* RET_* */
    int (*lens)(const zargs *z);         /* 0: ValueError "NAME: mismatched buffer lengths" */
    int (*kernel)(zargs *z);             /* runs without the GIL; Z_OK or Z_NOMEM (MemoryError) */
    zarg arg[ZMAX];                      /* ends at the first Z_END */
    const char *(*check)(const zargs *z); /* optional, after lens, with the GIL: NULL or a
                                            ValueError message */
} zop;

/* Argument specs. */
#define OUT_BUF(U) {Z_OUT, U}                       /* writable buffer */
#define IN_BUF(U) {Z_IN, U}                         /* read-only buffer */
#define IN_BUF_OR_NONE(U) {Z_IN_OR_NONE, U}         /* read-only buffer or None */
#define OPT_BUF_OR_NONE(U) {Z_IN_OR_NONE, U, .omit = 1} /* ... that may be left out (= None) */
#define SCALARS(K) {Z_IN, -(K) - 1}                 /* int64 scalars, Fr when int argument K != 0 */
#define TUPLE_OF(U, LO, HI, MSG) {Z_TUPLE, U, .lo = LO, .hi = HI, .range_msg = MSG}
#define INT_ARG {Z_INT}
#define INT_IN(LO, HI, MSG) {Z_INT, .lo = LO, .hi = HI, .range_msg = MSG}
#define BOOL_ARG {Z_BOOL}                           /* truth value ("p") */
#define OPT_BOOL_ARG(D) {Z_BOOL, .omit = 1, .dflt = D}

/* In length relations (z is the parsed zargs). */
#define LEN(k) (z->n[k])
#define GIVEN(k) (z->given[k])
#define IARG(k) (z->i[k])
#define SAME2 (LEN(1) == LEN(0))
#define SAME3 (LEN(1) == LEN(0) && LEN(2) == LEN(0))

/* OP(NAME, RET, LENS, {args...}[, check]): the spec op_NAME of kernel k_NAME, with LENS an
 * expression in LEN/GIVEN/IARG, and py_NAME, the function for the method table. */
#define OP(NAME, RET, LENS, ...)                                                              \
    static int lens_##NAME(const zargs *z) { (void)z; return (LENS); }                       \
    static const zop op_##NAME = {#NAME, RET, lens_##NAME, k_##NAME, __VA_ARGS__};            \
    static PyObject *py_##NAME(PyObject *self, PyObject *args) { return zcall(&op_##NAME, args); }

/* Every argument is parsed by PyArg_ParseTuple as "O&" into a slot; the int and bool
 * converters are PyArg_Parse's "i" and "p", so values and errors are those of "i" and "p". */
typedef struct {
    PyObject *o;
    int i, pos;
} zslot;
typedef int (*zconv)(PyObject *, void *);

static int conv_obj(PyObject *o, void *s) { ((zslot *)s)->o = o; return 1; }
static int conv_int(PyObject *o, void *s) { return PyArg_Parse(o, "i", &((zslot *)s)->i); }
static int conv_bool(PyObject *o, void *s) { return PyArg_Parse(o, "p", &((zslot *)s)->i); }
static int conv_tuple(PyObject *o, void *s)
{
    if (PyTuple_Check(o)) { ((zslot *)s)->o = o; return 1; }
    /* the words of PyArg_ParseTuple's "O!" */
    PyErr_Format(PyExc_TypeError, "argument %d must be tuple, not %.50s", ((zslot *)s)->pos,
                 o == Py_None ? "None" : Py_TYPE(o)->tp_name);
    return 0;
}
static const zconv zconvs[] = {[Z_OUT] = conv_obj, [Z_IN] = conv_obj, [Z_IN_OR_NONE] = conv_obj,
                               [Z_TUPLE] = conv_tuple, [Z_INT] = conv_int, [Z_BOOL] = conv_bool};

static int zget(PyObject *o, Py_buffer *v, int writable, Py_ssize_t unit, const char *name)
{
    if (PyObject_GetBuffer(o, v, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (v->len % unit) {
        PyErr_Format(PyExc_ValueError, "%s: buffer length %zd is not a multiple of %zd bytes",
                     name, v->len, unit);
        PyBuffer_Release(v);
        return -1;
    }
    return 0;
}

/* Parse args by op's spec, check ranges (before any buffer), take the buffers in argument
 * order, check lengths and op->check, run the kernel without the GIL, build the result. */
static PyObject *zcall(const zop *op, PyObject *args)
{
    zslot s[ZMAX];
    zconv cv[ZMAX];
    char fmt[3 * ZMAX + 2], *f = fmt;
    int na = 0, tail = 0;
    for (; na < ZMAX && op->arg[na].kind != Z_END; na++) {
        const zarg *d = &op->arg[na];
        if (d->omit && !tail++) *f++ = '|';
        *f++ = 'O';
        *f++ = '&';
        cv[na] = zconvs[d->kind];
        s[na] = (zslot){Py_None, d->dflt, na + 1}; /* what a left-out argument is */
    }
    *f = '\0';
    for (int k = na; k < ZMAX; k++) cv[k] = conv_obj; /* not read: fmt has na units */
    _Static_assert(ZMAX == 7, "zcall passes seven argument slots");
    if (!PyArg_ParseTuple(args, fmt, cv[0], &s[0], cv[1], &s[1], cv[2], &s[2], cv[3], &s[3], cv[4], &s[4],
                          cv[5], &s[5], cv[6], &s[6]))
        return NULL;

    zargs z;
    memset(&z, 0, sizeof z);
    z.idx = -1;
    for (int k = 0; k < na; k++) {
        const zarg *d = &op->arg[k];
        Py_ssize_t v = d->kind == Z_TUPLE ? PyTuple_GET_SIZE(s[k].o) : s[k].i;
        z.i[k] = s[k].i;
        if (d->range_msg && (v < d->lo || v > d->hi)) {
            PyErr_SetString(PyExc_ValueError, d->range_msg);
            return NULL;
        }
    }

    Py_buffer view[ZMAX + ZTUP];
    int held = 0;
    PyObject *ret = NULL;
    const char *msg;
    int rc;
    for (int k = 0; k < na; k++) {
        const zarg *d = &op->arg[k];
        Py_ssize_t unit = d->unit >= 0 ? d->unit : z.i[-d->unit - 1] ? FR_SZ : I64_SZ;
        if (d->kind == Z_TUPLE) {
            z.nt = (int)PyTuple_GET_SIZE(s[k].o);
            if (z.nt > ZTUP) { /* a spec without a range <= ZTUP */
                PyErr_Format(PyExc_SystemError, "%s: more than %d buffers", op->name, ZTUP);
                goto done;
            }
            for (int j = 0; j < z.nt; j++) {
                if (zget(PyTuple_GET_ITEM(s[k].o, j), &view[held], 0, unit, op->name)) goto done;
                z.t[j] = view[held].buf;
                z.tn[j] = (size_t)(view[held++].len / unit);
            }
        } else if (d->kind == Z_OUT || d->kind == Z_IN ||
                   (d->kind == Z_IN_OR_NONE && s[k].o != Py_None)) {
            if (zget(s[k].o, &view[held], d->kind == Z_OUT, unit, op->name)) goto done;
            z.p[k] = view[held].buf;
            z.n[k] = (size_t)(view[held++].len / unit);
            z.given[k] = 1;
        }
    }
    if (!op->lens(&z)) {
        PyErr_Format(PyExc_ValueError, "%s: mismatched buffer lengths", op->name);
        goto done;
    }
    if (op->check && (msg = op->check(&z))) {
        PyErr_SetString(PyExc_ValueError, msg);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = op->kernel(&z);
    Py_END_ALLOW_THREADS
    if (rc != Z_OK) { PyErr_NoMemory(); goto done; }
    if (op->ret == RET_INDEX) ret = PyLong_FromLongLong(z.idx);
    else if (op->ret == RET_INDEX_CODE) ret = Py_BuildValue("(Li)", z.idx, z.code);
    else { ret = Py_None; Py_INCREF(ret); }
done:
    while (held > 0) PyBuffer_Release(&view[--held]);
    return ret;
}

/* An elementwise kernel: for i < n = len(out), run the statements with O (out), A and B (the
 * next two buffers; B NULL when absent) of types TO, TA, TB; parallel from PAR elements on. */
#define MAP(NAME, TO, TA, TB, PAR, ...)                                                       \
static int k_##NAME(zargs *z)                                                                 \
{                                                                                             \
    TO *O = z->p[0];                                                                          \
    const TA *A = z->p[1];                                                                    \
    const TB *B = z->p[2];                                                                    \
    size_t n = z->n[0], par_min = PAR;                                                        \
    (void)B, (void)par_min; /* B: unary maps; par_min: builds without OpenMP */               \
    _Pragma("omp parallel for num_threads(zk_threads) if(n >= par_min) schedule(static)")     \
    for (size_t i = 0; i < n; i++) { __VA_ARGS__; }                                           \
    return Z_OK;                                                                              \
}

#define FR2 {OUT_BUF(FR_SZ), IN_BUF(FR_SZ)}
#define FR3 {OUT_BUF(FR_SZ), IN_BUF(FR_SZ), IN_BUF(FR_SZ)}

/* ---------------------------------------------------------------- Fr, elementwise */

MAP(fr_add, fr_t, fr_t, fr_t, PAR_MIN, fr_add(&O[i], &A[i], &B[i]))
OP(fr_add, RET_NONE, SAME3, FR3)
MAP(fr_sub, fr_t, fr_t, fr_t, PAR_MIN, fr_sub(&O[i], &A[i], &B[i]))
OP(fr_sub, RET_NONE, SAME3, FR3)
MAP(fr_mul, fr_t, fr_t, fr_t, PAR_MIN, fr_mul(&O[i], &A[i], &B[i]))
OP(fr_mul, RET_NONE, SAME3, FR3)
/* Fp Montgomery product of raw limbs (a * b / 2^384 mod p, inputs < p): only for the tests
 * that hold the assembly and portable products to an independent oracle */
MAP(fp_mont_mul, fp_t, fp_t, fp_t, PAR_MIN, fp_mul(&O[i], &A[i], &B[i]))
OP(fp_mont_mul, RET_NONE, SAME3, {OUT_BUF(FP_SZ), IN_BUF(FP_SZ), IN_BUF(FP_SZ)})
/* b holds one element: O = A * b */
MAP(fr_scale, fr_t, fr_t, fr_t, PAR_MIN, fr_mul(&O[i], &A[i], &B[0]))
OP(fr_scale, RET_NONE, LEN(1) == LEN(0) && LEN(2) == 1, FR3)
MAP(fr_add_scalar, fr_t, fr_t, fr_t, PAR_MIN, fr_add(&O[i], &A[i], &B[0]))
OP(fr_add_scalar, RET_NONE, LEN(1) == LEN(0) && LEN(2) == 1, FR3)

MAP(fr_neg, fr_t, fr_t, fr_t, PAR_MIN, fr_neg(&O[i], &A[i]))
OP(fr_neg, RET_NONE, SAME2, FR2)
MAP(fr_to_canonical, fr_t, fr_t, fr_t, PAR_MIN, fr_from_mont(&O[i], &A[i]))
OP(fr_to_canonical, RET_NONE, SAME2, FR2)
MAP(fr_sqr, fr_t, fr_t, fr_t, PAR_MIN, fr_sqr(&O[i], &A[i]))
OP(fr_sqr, RET_NONE, SAME2, FR2)

/* canonical limbs -> Montgomery; returns index of the first value >= r, or -1. */
static int k_fr_from_canonical(zargs *z)
{
    fr_t *O = z->p[0];
    const fr_t *A = z->p[1];
    size_t n = z->n[0];
    for (size_t i = 0; i < n; i++) {
        if (fr_geq_mod(&A[i])) { z->idx = (long long)i; break; }
        fr_to_mont(&O[i], &A[i]);
    }
    return Z_OK;
}
OP(fr_from_canonical, RET_INDEX, SAME2, FR2)

/* ---- products with one 64-bit integer (quantized tensors, limbs): x * K is five limbs, and one
 * Montgomery reduction round (divide by 2^64) brings it below 2^256, where a full product of
 * the zero-extended x would take four rounds.  With K = c * R * 2^64 mod r (fr_small_key) the
 * result is x * c * R, the Montgomery form of x * c. */
static inline void fr_mul_small(fr_t *out, uint64_t x, const fr_t *K)
{
    uint64_t t[5], c = 0;
    for (int l = 0; l < 4; l++) t[l] = zk_mac(K->v[l], x, 0, &c);
    t[4] = c;
    uint64_t m = t[0] * fr_INV, carry = 0;
    (void)zk_mac(m, fr_MODULUS.v[0], t[0], &carry);       /* low limb becomes 0 */
    fr_t u;
    for (int l = 1; l < 4; l++) u.v[l - 1] = zk_mac(m, fr_MODULUS.v[l], t[l], &carry);
    u.v[3] = t[4] + carry;                                  /* < 2^256: (x K + m r) / 2^64 < 2^255 + r */
    while (fr_geq_mod(&u)) {                                /* < 3r: at most two subtractions */
        uint64_t borrow = 0;
        for (int l = 0; l < 4; l++) u.v[l] = zk_sbb(u.v[l], fr_MODULUS.v[l], &borrow);
    }
    *out = u;
}
/* K = c R 2^64 for fr_mul_small, from c R^2 (stored as is: the storage of Mont(c R)): the
 * Montgomery product of c R^2 with 2^64 is c R^2 2^64 / R. */
static inline void fr_small_key(fr_t *K, const fr_t *c_r2)
{
    fr_t two64 = {{0, 1, 0, 0}};
    fr_mul(K, c_r2, &two64);
}

/* The three int64 maps over fr_mul_small, t_i = |x_i| c R (the Montgomery form of |x_i| c):
 *   SMALL_FROM  out[i] = sign(x_i) t_i                     (c = 1: from_int64)
 *   SMALL_AXPY  out[i] += sign(x_i) t_i                    (c = s: add_scaled_int64)
 *   SMALL_RSUB  out[i] = a - sign(x_i) t_i                 (c = 1: logUp leaves alpha - v)
 * K from c R^2: fr_RR for c = 1, the caller's Mont(s R) for s. */
enum { SMALL_FROM, SMALL_AXPY, SMALL_RSUB };
static void fr_small_map(fr_t *O, const int64_t *X, size_t n, const fr_t *c_r2, const fr_t *a, int mode)
{
    fr_t K;
    fr_small_key(&K, c_r2);
#pragma omp parallel for num_threads(zk_threads) if (n >= PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        int64_t x = X[i];
        if (!x && mode == SMALL_AXPY) continue;
        fr_t t;
        fr_mul_small(&t, x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x, &K);
        if (mode == SMALL_FROM) {
            if (x < 0) fr_neg(&O[i], &t); else O[i] = t;
        } else if (mode == SMALL_AXPY) {
            if (x < 0) fr_sub(&O[i], &O[i], &t); else fr_add(&O[i], &O[i], &t);
        } else {
            if (x < 0) fr_add(&O[i], a, &t); else fr_sub(&O[i], a, &t);
        }
    }
}
static int k_fr_from_i64(zargs *z)
{
    fr_small_map(z->p[0], z->p[1], z->n[0], &fr_RR, NULL, SMALL_FROM);
    return Z_OK;
}
OP(fr_from_i64, RET_NONE, SAME2, {OUT_BUF(FR_SZ), IN_BUF(I64_SZ)})
/* out[i] += x[i] * s, given s_r2 = s R^2 (the storage of Mont(s R)) */
static int k_fr_axpy_i64(zargs *z)
{
    fr_small_map(z->p[0], z->p[1], z->n[0], (const fr_t *)z->p[2], NULL, SMALL_AXPY);
    return Z_OK;
}
OP(fr_axpy_i64, RET_NONE, LEN(1) == LEN(0) && LEN(2) == 1, {OUT_BUF(FR_SZ), IN_BUF(I64_SZ), IN_BUF(FR_SZ)})
/* out[i] = a - x[i] (logUp leaves alpha - v, written once: no table of a's filled first) */
static int k_fr_rsub_i64(zargs *z)
{
    fr_small_map(z->p[0], z->p[1], z->n[0], &fr_RR, (const fr_t *)z->p[2], SMALL_RSUB);
    return Z_OK;
}
OP(fr_rsub_i64, RET_NONE, LEN(1) == LEN(0) && LEN(2) == 1, {OUT_BUF(FR_SZ), IN_BUF(I64_SZ), IN_BUF(FR_SZ)})

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
static int k_fr_to_i64(zargs *z)
{
    int64_t *O = z->p[0];
    const fr_t *A = z->p[1];
    size_t n = z->n[0];
    uint64_t lim = 1ULL << z->i[2];
    for (size_t i = 0; i < n; i++) {
        fr_t c, m;
        fr_from_mont(&c, &A[i]);
        int neg = fr_centred(&m, &c);
        /* the range of a signed (bound_bits + 1)-bit integer: [-2^bound_bits, 2^bound_bits) */
        if (m.v[1] | m.v[2] | m.v[3] || m.v[0] > lim || (m.v[0] == lim && !neg)) {
            z->idx = (long long)i;
            break;
        }
        O[i] = neg ? (int64_t)((uint64_t)0 - m.v[0]) : (int64_t)m.v[0];
    }
    return Z_OK;
}
OP(fr_to_i64, RET_INDEX, SAME2,
   {OUT_BUF(I64_SZ), IN_BUF(FR_SZ), INT_IN(0, 63, "fr_to_i64: bound_bits must be in [0, 63]")})

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

static int k_fr_inner(zargs *z)
{
    fr_dot_kernel(z->p[0], z->p[1], z->p[2], z->n[1]);
    return Z_OK;
}
OP(fr_inner, RET_NONE, LEN(0) == 1 && (!GIVEN(2) || LEN(2) == LEN(1)),
   {OUT_BUF(FR_SZ), IN_BUF(FR_SZ), OPT_BUF_OR_NONE(FR_SZ)})

/* out[i] = sum_j a[i * m + j] * b[j], m = len(b): a row-major matrix times a vector (binding the
 * trailing variables of a table: zkdl.mle.fix_trailing).  Rows split over the threads. */
static int k_fr_inner_rows(zargs *z)
{
    fr_t *out = z->p[0];
    const fr_t *A = z->p[1], *B = z->p[2];
    size_t rows = z->n[0], m = z->n[2];
    int T = (rows >= 2 && rows * m >= PAR_MIN) ? zk_threads : 1;
#pragma omp parallel for num_threads(T) schedule(static)
    for (size_t i = 0; i < rows; i++) {
        fr_t acc, p;
        memset(&acc, 0, sizeof acc);
        const fr_t *row = A + i * m;
        for (size_t j = 0; j < m; j++) { fr_mul(&p, &row[j], &B[j]); fr_add(&acc, &acc, &p); }
        out[i] = acc;
    }
    return Z_OK;
}
OP(fr_inner_rows, RET_NONE, LEN(2) >= 1 && LEN(1) == LEN(0) * LEN(2),
   {OUT_BUF(FR_SZ), IN_BUF(FR_SZ), IN_BUF(FR_SZ)})

/* out[i * n + c] = sum_j a[(i * m + j) * n + c] * b[j], m = len(b), n = inner: a row-major
 * (outer, m, n) table contracted with a vector over its middle axis (binding the variables of
 * the middle axis of a 3-axis table: zkdl.mle.fix_middle) -- one pass, no transposition.  Work
 * items are (outer index, chunk of the inner axis), accumulated in the output chunk. */
#define MID_CHUNK 512
static int k_fr_inner_mid(zargs *z)
{
    fr_t *out = z->p[0];
    const fr_t *A = z->p[1], *B = z->p[2];
    size_t m = z->n[2], n = (size_t)IARG(3), outer = z->n[0] / n;
    size_t nch = (n + MID_CHUNK - 1) / MID_CHUNK, items = outer * nch;
    int T = (items >= 2 && z->n[1] >= PAR_MIN) ? zk_threads : 1;
#pragma omp parallel for num_threads(T) schedule(static)
    for (size_t it = 0; it < items; it++) {
        size_t i = it / nch, c0 = (it % nch) * MID_CHUNK, c1 = c0 + MID_CHUNK < n ? c0 + MID_CHUNK : n;
        fr_t *o = out + i * n;
        memset(&o[c0], 0, (c1 - c0) * sizeof(fr_t));
        for (size_t j = 0; j < m; j++) {
            const fr_t *row = A + (i * m + j) * n;
            fr_t b = B[j], p;
            for (size_t c = c0; c < c1; c++) { fr_mul(&p, &row[c], &b); fr_add(&o[c], &o[c], &p); }
        }
    }
    return Z_OK;
}
OP(fr_inner_mid, RET_NONE, LEN(2) >= 1 && LEN(0) % (size_t)IARG(3) == 0 && LEN(1) == LEN(0) * LEN(2),
   {OUT_BUF(FR_SZ), IN_BUF(FR_SZ), IN_BUF(FR_SZ), INT_IN(1, 1 << 30, "fr_inner_mid: inner must be in 1..2^30")})

/* acc (six limbs) += a (four) * x: exact, no reduction. */
static inline void acc6_mac(uint64_t *acc, const uint64_t *a, uint64_t x)
{
    uint64_t c = 0;
    for (int l = 0; l < 4; l++) acc[l] = zk_mac(a[l], x, acc[l], &c);
    acc[4] = zk_adc(acc[4], 0, &c);
    acc[5] += c;
}
/* a six-limb integer mod r: lo (four limbs, < 2^256 < 3r) reduced, plus hi * 2^256 = Mont(hi * RR). */
static void acc6_reduce(fr_t *out, const uint64_t *acc)
{
    fr_t lo = {{acc[0], acc[1], acc[2], acc[3]}}, hi = {{acc[4], acc[5], 0, 0}}, h;
    while (fr_geq_mod(&lo)) {
        uint64_t borrow = 0;
        for (int l = 0; l < 4; l++) lo.v[l] = zk_sbb(lo.v[l], fr_MODULUS.v[l], &borrow);
    }
    fr_mul(&h, &hi, &fr_RR);
    fr_add(out, &lo, &h);
}
/* out[0] = sum a[i] * x[i] for small integers x (int64).  The products of the Montgomery-form
 * a[i] = a_i R with |x[i]| are summed exactly (five-limb products into six-limb accumulators,
 * one for each sign, n <= 2^40), and the sum, R sum a_i x_i, is the Montgomery form of the
 * result: reduced once at the end instead of one Montgomery product per element. */
static int k_fr_inner_i64(zargs *z)
{
    fr_t *out = z->p[0];
    const fr_t *A = z->p[1];
    const int64_t *X = z->p[2];
    size_t n = z->n[1];
    fr_t parts[64];
    int T = (n >= PAR_MIN) ? zk_threads : 1;
    if (T > 64) T = 64;
    size_t chunk = (n + T - 1) / T;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        uint64_t pos[6] = {0}, neg[6] = {0};
        size_t lo = (size_t)t * chunk, hi = lo + chunk < n ? lo + chunk : n;
        for (size_t i = lo; i < hi; i++) {
            int64_t x = X[i];
            if (x > 0) acc6_mac(pos, A[i].v, (uint64_t)x);
            else if (x < 0) acc6_mac(neg, A[i].v, (uint64_t)0 - (uint64_t)x);
        }
        fr_t p, q;
        acc6_reduce(&p, pos);
        acc6_reduce(&q, neg);
        fr_sub(&parts[t], &p, &q);
    }
    fr_t acc;
    memset(&acc, 0, sizeof acc);
    for (int t = 0; t < T; t++) fr_add(&acc, &acc, &parts[t]);
    *out = acc;
    return Z_OK;
}
OP(fr_inner_i64, RET_NONE, LEN(0) == 1 && LEN(2) == LEN(1), {OUT_BUF(FR_SZ), IN_BUF(FR_SZ), IN_BUF(I64_SZ)})

/* Montgomery's trick; returns the index of the first zero, or -1. */
static int k_fr_batch_inv(zargs *z)
{
    fr_t *O = z->p[0];
    const fr_t *A = z->p[1];
    size_t n = z->n[0];
    fr_t acc = fr_ONE;
    for (size_t i = 0; i < n; i++) {
        if (fr_is_zero(&A[i])) { z->idx = (long long)i; break; }
        O[i] = acc; /* prefix product of A[0..i) */
        fr_mul(&acc, &acc, &A[i]);
    }
    if (z->idx < 0 && n) {
        fr_t inv;
        fr_inv(&inv, &acc); /* 1 / (A0 ... A(n-1)) */
        for (size_t i = n; i-- > 0;) {
            fr_t t;
            fr_mul(&t, &O[i], &inv);   /* 1 / A[i] */
            fr_mul(&inv, &inv, &A[i]); /* 1 / (A0 ... A(i-1)) */
            O[i] = t;
        }
    }
    return Z_OK;
}
static const char *no_alias(const zargs *z)
{
    return z->p[0] == z->p[1] && z->n[0] ? "fr_batch_inv: output must not alias input" : NULL;
}
OP(fr_batch_inv, RET_INDEX, SAME2, FR2, no_alias)

/* out[i] = x^i */
static int k_fr_powers(zargs *z)
{
    fr_t *O = z->p[0];
    const fr_t *X = z->p[1];
    size_t n = z->n[0];
    fr_t acc = fr_ONE;
    for (size_t i = 0; i < n; i++) { O[i] = acc; fr_mul(&acc, &acc, X); }
    return Z_OK;
}
OP(fr_powers, RET_NONE, LEN(1) == 1, FR2)

/* out[i] = a[i] + c * (a[h + i] - a[i]), h = len(a) / 2 = len(out) = n, c = B[0]; out may
 * alias a. */
MAP(fr_fold, fr_t, fr_t, fr_t, PAR_MIN,
    fr_t t;
    fr_sub(&t, &A[n + i], &A[i]);
    fr_mul(&t, &t, B);
    fr_add(&O[i], &A[i], &t))
OP(fr_fold, RET_NONE, LEN(1) == 2 * LEN(0) && LEN(2) == 1, FR3)

/* out[x] = eq(u, x) for x in {0,1}^k, u_1 the most significant bit of the index. */
static int k_fr_eq_table(zargs *z)
{
    fr_t *O = z->p[0];
    const fr_t *U = z->p[1];
    size_t k = z->n[1];
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
    return Z_OK;
}
OP(fr_eq_table, RET_NONE, LEN(1) <= 40 && LEN(0) == (size_t)1 << LEN(1), FR2)

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

#define JAC2 {OUT_BUF(JAC_SZ), IN_BUF(JAC_SZ)}

MAP(g1_aff_to_jac, g1_jac, g1_aff, g1_aff, 1 << 30, g1_aff_to_jac(&O[i], &A[i]))
OP(g1_aff_to_jac, RET_NONE, SAME2, {OUT_BUF(JAC_SZ), IN_BUF(AFF_SZ)})
MAP(g1_jac_dbl, g1_jac, g1_jac, g1_jac, 256, g1_jac_dbl(&O[i], &A[i]))
OP(g1_jac_dbl, RET_NONE, SAME2, JAC2)
MAP(g1_jac_neg, g1_jac, g1_jac, g1_jac, 1 << 30, g1_jac_neg(&O[i], &A[i]))
OP(g1_jac_neg, RET_NONE, SAME2, JAC2)
MAP(g1_jac_add, g1_jac, g1_jac, g1_jac, 256, g1_jac_add(&O[i], &A[i], &B[i]))
OP(g1_jac_add, RET_NONE, SAME3, {OUT_BUF(JAC_SZ), IN_BUF(JAC_SZ), IN_BUF(JAC_SZ)})

static int k_g1_normalize(zargs *z)
{
    g1_batch_normalize(z->p[0], z->p[1], z->n[0]);
    return Z_OK;
}
OP(g1_normalize, RET_NONE, SAME2, {OUT_BUF(AFF_SZ), IN_BUF(JAC_SZ)})

/* out[i] = [k_i] p_i, k (B) in Montgomery Fr form (elementwise scalar multiplication). */
MAP(g1_jac_mul, g1_jac, g1_jac, fr_t, 4,
    fr_t c;
    fr_from_mont(&c, &B[i]);
    g1_jac_mul_limbs(&O[i], &A[i], c.v, 4))
OP(g1_jac_mul, RET_NONE, SAME3, {OUT_BUF(JAC_SZ), IN_BUF(JAC_SZ), IN_BUF(FR_SZ)})

/* The same for points of G1 (the prime-order subgroup) only, by the GLV endomorphism
 * (g1_jac_mul_glv): about half the doublings.  Wrong for points outside G1. */
MAP(g1_jac_mul_glv, g1_jac, g1_jac, fr_t, 4,
    fr_t c;
    fr_from_mont(&c, &B[i]);
    g1_jac_mul_glv(&O[i], &A[i], c.v))
OP(g1_jac_mul_glv, RET_NONE, SAME3, {OUT_BUF(JAC_SZ), IN_BUF(JAC_SZ), IN_BUF(FR_SZ)})

/* Validity of affine points: returns (index, code) of the first bad point or (-1, 0);
 * code 1: not on the curve, 2: not in the prime-order subgroup (checked when `subgroup`). */
static int k_g1_check(zargs *z)
{
    const g1_aff *A = z->p[0];
    size_t n = z->n[0];
    int subgroup = z->i[1];
    long long bad = (long long)n;
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
        z->code = g1_aff_on_curve(&A[bad]) && !fp_geq_mod(&A[bad].x) && !fp_geq_mod(&A[bad].y) ? 2 : 1;
        z->idx = bad;
    }
    return Z_OK;
}
OP(g1_check, RET_INDEX_CODE, 1, {IN_BUF(AFF_SZ), BOOL_ARG})

/* g1_subgroup_flags(out_u8[n], a_aff[n], method): out[i] = 1 iff point i (assumed on the curve)
 * is in the prime-order subgroup; method 0: the endomorphism test used by g1_check and
 * g1_decompress, 1: the reference [r] P == O (slow; for tests). */
static int k_g1_subgroup_flags(zargs *z)
{
    uint8_t *O = z->p[0];
    const g1_aff *A = z->p[1];
    size_t n = z->n[0];
    int method = z->i[2];
#pragma omp parallel for num_threads(zk_threads) if (n >= 8) schedule(dynamic, 4)
    for (size_t i = 0; i < n; i++) {
        g1_jac j;
        g1_aff_to_jac(&j, &A[i]);
        O[i] = (uint8_t)(method ? g1_jac_in_subgroup_ref(&j) : g1_jac_in_subgroup(&j));
    }
    return Z_OK;
}
OP(g1_subgroup_flags, RET_NONE, SAME2, {OUT_BUF(U8_SZ), IN_BUF(AFF_SZ), INT_ARG})

/* ZCash compressed encoding: 48 bytes, big-endian x, flags in the top 3 bits of byte 0:
 * 0x80 compressed, 0x40 infinity, 0x20 y is the larger root. */
static int k_g1_compress(zargs *z)
{
    uint8_t *O = z->p[0];
    const g1_aff *A = z->p[1];
    size_t n = z->n[0];
    for (size_t i = 0; i < n; i++) {
        uint8_t *out = O + 48 * i;
        memset(out, 0, 48);
        if (g1_aff_is_inf(&A[i])) { out[0] = 0xc0; continue; }
        fp_t x;
        fp_from_mont(&x, &A[i].x);
        for (int b = 0; b < 48; b++) out[47 - b] = (uint8_t)(x.v[b / 8] >> (8 * (b % 8)));
        out[0] |= 0x80 | (fp_is_large(&A[i].y) ? 0x20 : 0);
    }
    return Z_OK;
}
OP(g1_compress, RET_NONE, SAME2, {OUT_BUF(ENC_SZ), IN_BUF(AFF_SZ)})

/* Strict decoding.  Returns (index, code) of the first bad encoding or (-1, 0).
 * codes: 1 compression flag clear, 2 malformed infinity, 3 x not canonical (>= p),
 *        4 not on the curve, 5 not in the prime-order subgroup. */
static int k_g1_decompress(zargs *z)
{
    g1_aff *O = z->p[0];
    const uint8_t *A = z->p[1];
    size_t n = z->n[0];
    int subgroup = z->i[2];
    long long bad = (long long)n;
    int *codes = (int *)calloc(n ? n : 1, sizeof(int));
    if (!codes) return Z_NOMEM;
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
    if (bad < (long long)n) { z->idx = bad; z->code = codes[bad]; }
    free(codes);
    return Z_OK;
}
OP(g1_decompress, RET_INDEX_CODE, SAME2, {OUT_BUF(AFF_SZ), IN_BUF(ENC_SZ), OPT_BOOL_ARG(1)})

/* Hash to curve by try-and-increment: x0 = canonical field element from the hash (Python side);
 * x = x0, x0 + 1, ... until x^3 + 4 is a square; y = the root whose "larger" flag equals the
 * sign bit; then clear the cofactor with h_eff = 0xd201000000010001 (the effective G1
 * cofactor of the hash-to-curve standard).  Nobody knows a discrete log of the result. */
static int k_g1_hash_to_curve(zargs *z)
{
    g1_aff *O = z->p[0];
    const fp_t *X = z->p[1];
    const uint8_t *S = z->p[2];
    size_t n = z->n[0];
    g1_jac *J = (g1_jac *)malloc((n ? n : 1) * sizeof(g1_jac));
    if (!J) return Z_NOMEM;
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
    free(J);
    return Z_OK;
}
static const char *x_canonical(const zargs *z)
{
    const fp_t *X = z->p[1];
    for (size_t i = 0; i < z->n[1]; i++)
        if (fp_geq_mod(&X[i])) return "g1_hash_to_curve: x not canonical";
    return NULL;
}
OP(g1_hash_to_curve, RET_NONE, SAME3, {OUT_BUF(AFF_SZ), IN_BUF(FP_SZ), IN_BUF(U8_SZ)}, x_canonical)

/* g1_fixed_base_mul(out_aff[n], base_aff[1], k_fr[n]): out[i] = [k_i] B for one base point B.
 * Fixed-base comb with 8-bit windows: a table of j * 2^(8w) B (w < 32, 1 <= j < 256, 8160
 * affine points, built once per call), then at most 32 mixed additions per scalar.  Used for
 * the blinding terms rho_i * h of row commitments. */
static int k_g1_fixed_base_mul(zargs *z)
{
    size_t n = z->n[0];
    const size_t W = 32, J = 255;
    g1_jac *tj = (g1_jac *)malloc(W * J * sizeof(g1_jac));
    g1_aff *tab = (g1_aff *)malloc(W * J * sizeof(g1_aff));
    g1_jac *res = (g1_jac *)malloc((n ? n : 1) * sizeof(g1_jac));
    if (!tj || !tab || !res) {
        free(tj); free(tab); free(res);
        return Z_NOMEM;
    }
    const g1_aff *B = z->p[1];
    const fr_t *K = z->p[2];
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
    g1_batch_normalize(z->p[0], res, n);
    free(tj); free(tab); free(res);
    return Z_OK;
}
OP(g1_fixed_base_mul, RET_NONE, LEN(1) == 1 && LEN(2) == LEN(0),
   {OUT_BUF(AFF_SZ), IN_BUF(AFF_SZ), IN_BUF(FR_SZ)})

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
/* The scalars argument of an MSM as zk_scalars: int64 as given (kind 0), or Fr converted to
 * signed magnitudes into *mag / *neg (allocated here; the caller frees them).  0 when out of
 * memory. */
static int zk_scalars_load(zk_scalars *s, uint64_t **mag, uint8_t **neg, const void *buf, int kind, size_t n)
{
    s->i64 = NULL; s->mag = NULL; s->neg = NULL;
    *mag = NULL;
    *neg = NULL;
    if (!kind) { s->i64 = (const int64_t *)buf; return 1; }
    *mag = (uint64_t *)malloc((n ? n : 1) * 32);
    *neg = (uint8_t *)malloc(n ? n : 1);
    if (!*mag || !*neg) return 0;
    fr_to_signed_mags(*mag, *neg, (const fr_t *)buf, n);
    s->mag = *mag;
    s->neg = *neg;
    return 1;
}

static int k_msm(zargs *z)
{
    size_t n = z->n[1];
    int rc = 0;
    uint64_t *mag;
    uint8_t *neg;
    zk_scalars s;
    g1_jac r;
    if (!zk_scalars_load(&s, &mag, &neg, z->p[2], z->i[3], n)) rc = -1;
    else rc = zk_msm(&r, (const g1_aff *)z->p[1], &s, n, zk_threads);
    if (!rc) g1_jac_to_aff((g1_aff *)z->p[0], &r);
    free(mag);
    free(neg);
    return rc ? Z_NOMEM : Z_OK;
}
#define MSM_ARGS {OUT_BUF(AFF_SZ), IN_BUF(AFF_SZ), SCALARS(3), INT_ARG}
OP(msm, RET_NONE, LEN(0) == 1 && LEN(2) == LEN(1), MSM_ARGS)

/* msm2(out_aff[2], points1, scalars1, kind1, points2, scalars2, kind2): two independent MSMs.
 * Below zk_msm's threading threshold (4096 points, where each would run on one thread) they run
 * at once, one per thread (the inner-product argument's L and R of every round); otherwise one
 * after the other, each on all threads. */
#define MSM2_SMALL 4096
static int k_msm2(zargs *z)
{
    size_t n[2] = {z->n[1], z->n[4]};
    uint64_t *mag[2] = {NULL, NULL};
    uint8_t *neg[2] = {NULL, NULL};
    zk_scalars s[2];
    g1_jac r[2];
    int rc[2] = {0, 0};
    int ok = zk_scalars_load(&s[0], &mag[0], &neg[0], z->p[2], z->i[3], n[0])
             && zk_scalars_load(&s[1], &mag[1], &neg[1], z->p[5], z->i[6], n[1]);
    if (ok) {
        const g1_aff *pts[2] = {(const g1_aff *)z->p[1], (const g1_aff *)z->p[4]};
        if (zk_threads >= 2 && n[0] < MSM2_SMALL && n[1] < MSM2_SMALL) {
#pragma omp parallel for num_threads(2) schedule(static, 1)
            for (int j = 0; j < 2; j++) rc[j] = zk_msm(&r[j], pts[j], &s[j], n[j], 1);
        } else {
            for (int j = 0; j < 2; j++) rc[j] = zk_msm(&r[j], pts[j], &s[j], n[j], zk_threads);
        }
        if (!rc[0] && !rc[1])
            for (int j = 0; j < 2; j++) g1_jac_to_aff(&((g1_aff *)z->p[0])[j], &r[j]);
    }
    for (int j = 0; j < 2; j++) { free(mag[j]); free(neg[j]); }
    return ok && !rc[0] && !rc[1] ? Z_OK : Z_NOMEM;
}
OP(msm2, RET_NONE, LEN(0) == 2 && LEN(2) == LEN(1) && LEN(5) == LEN(4),
   {OUT_BUF(AFF_SZ), IN_BUF(AFF_SZ), SCALARS(3), INT_ARG, IN_BUF(AFF_SZ), SCALARS(6), INT_ARG})

/* msm_rows(out_aff[rows], points_aff[m], scalars[rows * m], kind): one MSM per row over the
 * same points (Hyrax commits a matrix row by row).  With at least as many rows as threads,
 * groups of rows share batch-affine buckets (zk_msm_rows); otherwise each row uses all threads. */
static int k_msm_rows(zargs *z)
{
    size_t m = z->n[1], rows = z->n[0];
    int fail = 0;
    uint64_t *mag;
    uint8_t *neg;
    zk_scalars s;
    g1_jac *res = (g1_jac *)malloc((rows ? rows : 1) * sizeof(g1_jac));
    if (!zk_scalars_load(&s, &mag, &neg, z->p[2], z->i[3], rows * m) || !res) fail = 1;
    else {
        int T = zk_threads;
        if (rows >= (size_t)T) {
            if (zk_msm_rows(res, (const g1_aff *)z->p[1], &s, m, rows, T)) fail = 1;
        } else {
            for (size_t r = 0; r < rows && !fail; r++) {
                zk_scalars sr = zk_scalars_row(&s, r, m);
                if (zk_msm(&res[r], (const g1_aff *)z->p[1], &sr, m, T)) fail = 1;
            }
        }
        if (!fail) g1_batch_normalize((g1_aff *)z->p[0], res, rows);
    }
    free(mag);
    free(neg);
    free(res);
    return fail ? Z_NOMEM : Z_OK;
}
OP(msm_rows, RET_NONE, LEN(2) == LEN(0) * LEN(1), MSM_ARGS)

/* Fixed-base comb tables kept by the caller (zkdl.curve.CombTable: the Pedersen bases g, h of
 * every scalar commitment): comb_table(out_table_aff, points_aff, c) builds
 * m * nwin * 2^(c-1) entries (nwin = 255 / c + 1, full-width scalars) once; then
 * comb_msm_rows(out_aff[rows], table_aff, scalars[rows * m], kind, c) evaluates one MSM per
 * row with nwin mixed additions per point and no doubling. */
#define COMB_NWIN(c) (255 / (c) + 1)
#define COMB_PER_POINT(c) ((size_t)COMB_NWIN(c) << ((c) - 1))
#define COMB_RANGE "comb: window c must be in [2, 12]"
static int k_comb_table(zargs *z)
{
    int c = z->i[2];
    return zk_comb_build((g1_aff *)z->p[0], (const g1_aff *)z->p[1], z->n[1], COMB_NWIN(c), c,
                         z->n[1] * COMB_PER_POINT(c) >= 4096 ? zk_threads : 1) ? Z_NOMEM : Z_OK;
}
OP(comb_table, RET_NONE, LEN(0) == LEN(1) * COMB_PER_POINT(IARG(2)),
   {OUT_BUF(AFF_SZ), IN_BUF(AFF_SZ), INT_IN(2, 12, COMB_RANGE)})

static int k_comb_msm_rows(zargs *z)
{
    int c = z->i[4];
    size_t rows = z->n[0], m = z->n[1] / COMB_PER_POINT(c);
    g1_jac *res = (g1_jac *)malloc((rows ? rows : 1) * sizeof(g1_jac));
    uint64_t *mag;
    uint8_t *neg;
    zk_scalars s;
    int fail = !zk_scalars_load(&s, &mag, &neg, z->p[2], z->i[3], rows * m) || !res;
    if (!fail) {
        /* a parallel region costs a scheduling round trip: a few rows stay on this thread */
        zk_comb_eval(res, (const g1_aff *)z->p[1], &s, m, rows, COMB_NWIN(c), c, rows >= 64 ? zk_threads : 1);
        g1_batch_normalize((g1_aff *)z->p[0], res, rows);
    }
    free(mag);
    free(neg);
    free(res);
    return fail ? Z_NOMEM : Z_OK;
}
OP(comb_msm_rows, RET_NONE,
   LEN(1) % COMB_PER_POINT(IARG(4)) == 0 && LEN(2) == LEN(0) * (LEN(1) / COMB_PER_POINT(IARG(4))),
   {OUT_BUF(AFF_SZ), IN_BUF(AFF_SZ), SCALARS(3), INT_ARG, INT_IN(2, 12, COMB_RANGE)})


/* ---------------------------------------------------------------- sumcheck rounds */

/* sc_term_evals(out[D+1], eq_or_None, (f_1, ..., f_nf), D[, skip_one]):
 *   out[X] = sum_{i < m} w_i * prod_j (f_j[i] + X * (f_j[m + i] - f_j[i]))   for X = 0..D
 * with w = eq (length m) or 1, m = len(f_j) / 2 (the round binds the most significant variable).
 * Factor values at X = 0..D come by repeated addition of the difference: the only
 * multiplications are the products themselves.  With skip_one, out[1] = 0 and its products are
 * not computed (the prover derives t(1) from the running claim: zkdl.sumcheck._Prover). */
#define SC_MAX_F 4
#define SC_MAX_D 8
#define SC_RANGE "sc_term_evals: 1..4 factors and degree 1..8"
#define SC_MAX_T 64 /* threads of a round kernel (their partial sums live on the stack) */
static int sc_threads(size_t m)
{
    int T = m >= PAR_MIN ? zk_threads : 1;
    return T > SC_MAX_T ? SC_MAX_T : T;
}
/* out[X] = sum over threads of their partial sums, X = 0..D */
static void sc_sum_parts(fr_t *O, fr_t parts[][SC_MAX_D + 1], int T, int D)
{
    for (int X = 0; X <= D; X++) {
        fr_t s;
        memset(&s, 0, sizeof s);
        for (int t = 0; t < T; t++) fr_add(&s, &s, &parts[t][X]);
        O[X] = s;
    }
}
static int k_sc_term_evals(zargs *z)
{
    int nf = z->nt, D = z->i[3], skip1 = z->i[4];
    size_t m = z->tn[0] / 2;
    const fr_t *F[SC_MAX_F];
    for (int j = 0; j < nf; j++) F[j] = z->t[j];
    const fr_t *W = z->p[1];
    fr_t *O = z->p[0];
    int T = sc_threads(m);
    fr_t parts[SC_MAX_T][SC_MAX_D + 1];
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
                if (X != 1 || !skip1) {
                    fr_t p = W ? W[i] : val[0];
                    for (int j = W ? 0 : 1; j < nf; j++) fr_mul(&p, &p, &val[j]);
                    fr_add(&acc[X], &acc[X], &p);
                }
                if (X < D)
                    for (int j = 0; j < nf; j++) fr_add(&val[j], &val[j], &dif[j]);
            }
        }
        memcpy(parts[t], acc, sizeof(fr_t) * (D + 1));
    }
    sc_sum_parts(O, parts, T, D);
    return Z_OK;
}
/* out has D + 1 elements; the factors one even length 2m; eq (if given) m */
static int sc_lens(const zargs *z)
{
    size_t len = z->tn[0];
    int ok = LEN(0) == (size_t)IARG(3) + 1 && len % 2 == 0 && (!GIVEN(1) || LEN(1) == len / 2);
    for (int j = 1; j < z->nt; j++) ok &= z->tn[j] == len;
    return ok;
}
OP(sc_term_evals, RET_NONE, sc_lens(z),
   {OUT_BUF(FR_SZ), IN_BUF_OR_NONE(FR_SZ), TUPLE_OF(FR_SZ, 1, SC_MAX_F, SC_RANGE),
    INT_IN(1, SC_MAX_D, SC_RANGE), OPT_BOOL_ARG(0)})

/* sc_frac_evals(out[D+1], eq_or_None, (pL, pR, qL, qR) or (qL, qR), lam[1][, skip_one]): the round
 * polynomial of a logUp fraction-tree layer (zkdl.logup), for X = 0..D (D = len(out) - 1):
 *   out[X] = sum_{i < m} w_i * (pL qR + pR qL + lam qL qR)(X)     four factors
 *   out[X] = sum_{i < m} w_i * (qR + qL + lam qL qR)(X)           two (unit numerators)
 * each factor f(X) = f[i] + X (f[m + i] - f[i]), w = eq or 1.  Factored as qR (pL + lam qL) + pR qL
 * and qL (1 + lam qR) + qR, with lam times the extended factor itself extended: per element 2 + 3D'
 * products (2 + 2D' for two factors, D' the points computed) where the three terms one by one
 * take 6D' (4D').  With skip_one, out[1] = 0 and its products are not computed. */
static int k_sc_frac_evals(zargs *z)
{
    int nf = z->nt, D = (int)z->n[0] - 1, skip1 = z->i[4];
    size_t m = z->tn[0] / 2;
    const fr_t *PL = nf == 4 ? z->t[0] : NULL, *PR = nf == 4 ? z->t[1] : NULL;
    const fr_t *QL = z->t[nf - 2], *QR = z->t[nf - 1];
    const fr_t *W = z->p[1], *LAM = z->p[3];
    fr_t *O = z->p[0];
    int T = sc_threads(m);
    fr_t parts[SC_MAX_T][SC_MAX_D + 1];
    size_t chunk = (m + T - 1) / T;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int th = 0; th < T; th++) {
        fr_t acc[SC_MAX_D + 1];
        memset(acc, 0, sizeof acc);
        size_t lo = (size_t)th * chunk, hi = lo + chunk < m ? lo + chunk : m;
        for (size_t i = lo; i < hi; i++) {
            fr_t ql = QL[i], qr = QR[i], dql, dqr, s, t;
            fr_sub(&dql, &QL[m + i], &ql);
            fr_sub(&dqr, &QR[m + i], &qr);
            if (PL) {
                fr_t pl = PL[i], pr = PR[i], dpl, dpr, lq, dlq;
                fr_sub(&dpl, &PL[m + i], &pl);
                fr_sub(&dpr, &PR[m + i], &pr);
                fr_mul(&lq, &ql, LAM);  /* lam qL, extended alongside */
                fr_mul(&dlq, &dql, LAM);
                for (int X = 0; X <= D; X++) {
                    if (X != 1 || !skip1) {
                        fr_add(&t, &pl, &lq);
                        fr_mul(&s, &t, &qr);
                        fr_mul(&t, &pr, &ql);
                        fr_add(&s, &s, &t);
                        if (W) fr_mul(&s, &s, &W[i]);
                        fr_add(&acc[X], &acc[X], &s);
                    }
                    if (X < D) {
                        fr_add(&pl, &pl, &dpl); fr_add(&pr, &pr, &dpr); fr_add(&ql, &ql, &dql);
                        fr_add(&qr, &qr, &dqr); fr_add(&lq, &lq, &dlq);
                    }
                }
            } else {
                fr_t lq, dlq;
                fr_mul(&lq, &qr, LAM);  /* lam qR */
                fr_mul(&dlq, &dqr, LAM);
                for (int X = 0; X <= D; X++) {
                    if (X != 1 || !skip1) {
                        fr_add(&t, &lq, &fr_ONE);
                        fr_mul(&s, &t, &ql);
                        fr_add(&s, &s, &qr);
                        if (W) fr_mul(&s, &s, &W[i]);
                        fr_add(&acc[X], &acc[X], &s);
                    }
                    if (X < D) {
                        fr_add(&ql, &ql, &dql); fr_add(&qr, &qr, &dqr); fr_add(&lq, &lq, &dlq);
                    }
                }
            }
        }
        memcpy(parts[th], acc, sizeof(fr_t) * (D + 1));
    }
    sc_sum_parts(O, parts, T, D);
    return Z_OK;
}
/* out: 2..9 elements (D + 1); two or four factors of one even length 2m; eq (if given) m; lam one */
static int sc_frac_lens(const zargs *z)
{
    size_t len = z->tn[0];
    int ok = LEN(0) >= 2 && LEN(0) <= SC_MAX_D + 1 && len % 2 == 0 && (!GIVEN(1) || LEN(1) == len / 2)
             && LEN(3) == 1;
    for (int j = 1; j < z->nt; j++) ok &= z->tn[j] == len;
    return ok;
}
static const char *sc_frac_check(const zargs *z)
{
    return z->nt == 2 || z->nt == 4 ? NULL : "sc_frac_evals: two factors (qL, qR) or four (pL, pR, qL, qR)";
}
OP(sc_frac_evals, RET_NONE, sc_frac_lens(z),
   {OUT_BUF(FR_SZ), IN_BUF_OR_NONE(FR_SZ), TUPLE_OF(FR_SZ, 2, SC_MAX_F, "sc_frac_evals: two factors (qL, qR) or four (pL, pR, qL, qR)"),
    IN_BUF(FR_SZ), OPT_BOOL_ARG(0)}, sc_frac_check)

/* out[i] = a[i] + a[h + i], h = n (the eq table of the remaining variables after one round) */
/* One level of the logUp fraction tree (zkdl.logup), children 2y and 2y + 1:
 * p'[y] = p[2y] q[2y+1] + p[2y+1] q[2y], q'[y] = q[2y] q[2y+1]; p None: numerators 1, p'[y] = q[2y] + q[2y+1]. */
static int k_fr_logup_layer(zargs *z)
{
    fr_t *Po = z->p[0], *Qo = z->p[1];
    const fr_t *P = GIVEN(2) ? z->p[2] : NULL, *Q = z->p[3];
    size_t n = z->n[0];
#pragma omp parallel for num_threads(zk_threads) if (n >= PAR_MIN) schedule(static)
    for (size_t y = 0; y < n; y++) {
        const fr_t *qL = &Q[2 * y], *qR = &Q[2 * y + 1];
        if (P) {
            fr_t a, b;
            fr_mul(&a, &P[2 * y], qR);
            fr_mul(&b, &P[2 * y + 1], qL);
            fr_add(&Po[y], &a, &b);
        } else {
            fr_add(&Po[y], qL, qR);
        }
        fr_mul(&Qo[y], qL, qR);
    }
    return Z_OK;
}
OP(fr_logup_layer, RET_NONE, LEN(1) == LEN(0) && LEN(3) == 2 * LEN(0) && (!GIVEN(2) || LEN(2) == LEN(3)),
   {OUT_BUF(FR_SZ), OUT_BUF(FR_SZ), IN_BUF_OR_NONE(FR_SZ), IN_BUF(FR_SZ)})

MAP(fr_half_sum, fr_t, fr_t, fr_t, PAR_MIN, fr_add(&O[i], &A[i], &A[n + i]))
OP(fr_half_sum, RET_NONE, LEN(1) == 2 * LEN(0), FR2)

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

/* set_asm(on) -> whether it was on: the mulx/adcx/adox Fr and Fp products (zk_field.h) or the
 * portable C ones.  Turning it on where the CPU lacks BMI2/ADX raises.  Tests run both paths. */
static PyObject *py_set_asm(PyObject *self, PyObject *args)
{
    int on;
    if (!PyArg_ParseTuple(args, "p", &on)) return NULL;
#ifdef ZK_HAVE_ASM
    int was = zk_asm;
    if (on && !zk_cpu_has_adx()) {
        PyErr_SetString(PyExc_ValueError, "set_asm: this CPU lacks the BMI2/ADX instructions");
        return NULL;
    }
    zk_asm = on;
    return PyBool_FromLong(was);
#else
    if (on) {
        PyErr_SetString(PyExc_ValueError, "set_asm: no assembly products in this build");
        return NULL;
    }
    Py_RETURN_FALSE;
#endif
}

static PyObject *py_asm_available(PyObject *self, PyObject *args)
{
#ifdef ZK_HAVE_ASM
    return PyBool_FromLong(zk_cpu_has_adx());
#else
    Py_RETURN_FALSE;
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
    M(fr_inner_rows, "fr_inner_rows(out[rows], a[rows * m], b[m]): out[i] = sum_j a[i*m + j] * b[j]"),
    M(fr_inner_mid, "fr_inner_mid(out[k * n], a[k * m * n], b[m], n): out[i*n + c] = sum_j a[(i*m + j)*n + c] * b[j]"),
    M(fr_inner_i64, "fr_inner_i64(out1, a, x_int64): out1 = sum a*x"),
    M(fr_rsub_i64, "fr_rsub_i64(out, x_int64, a): out = a - x (a one element)"),
    M(fr_axpy_i64, "fr_axpy_i64(out, x_int64, s_r2): out += x*s (s_r2 = Mont(s*R), one element)"),
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
    M(g1_jac_mul_glv, "g1_jac_mul_glv(out, a, k_fr): points of G1 only"),
    M(g1_check, "g1_check(a_aff, subgroup) -> (index, code)"),
    M(g1_subgroup_flags, "g1_subgroup_flags(out_u8, a_aff, method): 0 endomorphism, 1 reference [r]P"),
    M(g1_compress, "g1_compress(out_bytes, a_aff)"),
    M(g1_decompress, "g1_decompress(out_aff, bytes[, subgroup]) -> (index, code)"),
    M(g1_hash_to_curve, "g1_hash_to_curve(out_aff, x_canonical, sign_bytes)"),
    M(g1_fixed_base_mul, "g1_fixed_base_mul(out_aff, base_aff, k_fr): out[i] = k_i * base"),
    M(msm, "msm(out_aff, points_aff, scalars, kind)"),
    M(msm2, "msm2(out_aff[2], points1_aff, scalars1, kind1, points2_aff, scalars2, kind2): two MSMs at once"),
    M(msm_rows, "msm_rows(out_aff, points_aff, scalars, kind)"),
    M(comb_table, "comb_table(out_table_aff, points_aff, c): fixed-base comb table, m * (255 // c + 1) * 2^(c-1) entries"),
    M(comb_msm_rows, "comb_msm_rows(out_aff, table_aff, scalars, kind, c): one MSM per row from a comb table"),
    M(sc_term_evals, "sc_term_evals(out, eq_or_None, factors_tuple, D)"),
    M(sc_frac_evals, "sc_frac_evals(out, eq_or_None, (pL, pR, qL, qR) or (qL, qR), lam[, skip_one]): a logUp layer's round"),
    M(fr_half_sum, "fr_half_sum(out, a): out[i] = a[i] + a[h+i]"),
    M(fr_logup_layer, "fr_logup_layer(p_out, q_out, p_or_None, q): one logUp tree level, children 2y, 2y+1"),
    M(fp_mont_mul, "fp_mont_mul(out, a, b): raw-limb Montgomery product in Fp (tests)"),
    M(set_asm, "set_asm(on) -> previous: the BMI2/ADX Fr and Fp products (on where available) or portable C"),
    M(asm_available, "asm_available() -> whether this CPU has BMI2/ADX"),
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
#ifdef ZK_HAVE_ASM
    {
        const char *no = getenv("ZKDL_NO_ASM");
        zk_asm = zk_cpu_has_adx() && !(no && *no && strcmp(no, "0") != 0);
    }
#endif
    return PyModule_Create(&moddef);
}
