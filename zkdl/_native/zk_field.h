/*
 * zk_field.h -- Montgomery arithmetic for the two prime fields of BLS12-381.
 *
 *   Fr (scalar field, 255 bits, 4 limbs): everything zkdl proves is arithmetic in Fr.
 *   Fp (base field, 381 bits, 6 limbs):   coordinates of points of G1.
 *
 * Elements are little-endian arrays of 64-bit limbs in Montgomery form (a*2^(64N) mod m).
 * Both moduli leave the top bit of their top limb clear, which allows the "no-carry" CIOS
 * multiplication (the running total never needs an extra limb).
 *
 * The header is plain C99 + unsigned __int128 so that the C extension and the CUDA kernels of
 * prover_gpu/ include the same definitions (ZK_FN adds __host__ __device__ under nvcc).
 */
#ifndef ZK_FIELD_H
#define ZK_FIELD_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define ZK_FN static __host__ __device__ __forceinline__
#define ZK_CONST __device__ __constant__
#else
#define ZK_FN static inline __attribute__((always_inline))
#define ZK_CONST static const
#endif

/* ZK_FN_OUTLINE: a function worth a call.  Fp multiplication is kept out of line on the CPU:
 * inlined into every point formula (7-16 products each) it bloats the code and makes GCC spill,
 * and a Jacobian addition measured ~2x slower than with one shared out-of-line copy. */
#if defined(__CUDACC__)
#define ZK_FN_OUTLINE ZK_FN
#else
#define ZK_FN_OUTLINE static __attribute__((noinline))
#endif

/* ZK_UNROLL: full unrolling of the fixed-length limb loops (GCC does not fully peel the nested
 * 6 x 6 Montgomery loop by itself; the scratch array then lives in memory). */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define ZK_UNROLL _Pragma("GCC unroll 8")
#else
#define ZK_UNROLL
#endif

typedef unsigned __int128 zk_u128;

/* (hi, lo) = a * b + c + d  -- never overflows 128 bits. */
ZK_FN uint64_t zk_mac(uint64_t a, uint64_t b, uint64_t c, uint64_t *carry)
{
    zk_u128 t = (zk_u128)a * b + c + *carry;
    *carry = (uint64_t)(t >> 64);
    return (uint64_t)t;
}

ZK_FN uint64_t zk_adc(uint64_t a, uint64_t b, uint64_t *carry)
{
    zk_u128 t = (zk_u128)a + b + *carry;
    *carry = (uint64_t)(t >> 64);
    return (uint64_t)t;
}

ZK_FN uint64_t zk_sbb(uint64_t a, uint64_t b, uint64_t *borrow)
{
    zk_u128 t = (zk_u128)a - b - *borrow;
    *borrow = (uint64_t)(t >> 127);
    return (uint64_t)t;
}

/*
 * ZK_DEFINE_FIELD(pre, N): defines type pre_t and the functions
 *   pre_is_zero, pre_eq, pre_add, pre_sub, pre_neg, pre_dbl, pre_mul, pre_sqr,
 *   pre_reduce_once, pre_to_mont, pre_from_mont, pre_pow, pre_inv, pre_geq_mod
 * given constants pre_MOD, pre_INV, pre_ONE (R mod m), pre_R2 (R^2 mod m).
 */
#define ZK_DEFINE_FIELD(pre, N)                                                            \
typedef struct { uint64_t v[N]; } pre##_t;                                                 \
ZK_CONST pre##_t pre##_MODULUS = {{ pre##_MOD_LIMBS }};                                      \
ZK_CONST pre##_t pre##_ONE = {{ pre##_R1_LIMBS }};                                           \
ZK_CONST pre##_t pre##_RR = {{ pre##_R2_LIMBS }};                                            \
                                                                                           \
ZK_FN int pre##_is_zero(const pre##_t *a)                                                  \
{                                                                                          \
    uint64_t t = 0;                                                                        \
    for (int i = 0; i < N; i++) t |= a->v[i];                                              \
    return t == 0;                                                                         \
}                                                                                          \
ZK_FN int pre##_eq(const pre##_t *a, const pre##_t *b)                                     \
{                                                                                          \
    uint64_t t = 0;                                                                        \
    for (int i = 0; i < N; i++) t |= a->v[i] ^ b->v[i];                                    \
    return t == 0;                                                                         \
}                                                                                          \
/* 1 if a >= modulus (a given as plain limbs). */                                          \
ZK_FN int pre##_geq_mod(const pre##_t *a)                                                  \
{                                                                                          \
    for (int i = N - 1; i >= 0; i--) {                                                     \
        if (a->v[i] > pre##_MODULUS.v[i]) return 1;                                        \
        if (a->v[i] < pre##_MODULUS.v[i]) return 0;                                        \
    }                                                                                      \
    return 1;                                                                              \
}                                                                                          \
/* r = a - m if a >= m (a < 2m). */                                                        \
ZK_FN void pre##_reduce_once(pre##_t *r, const pre##_t *a)                                 \
{                                                                                          \
    pre##_t t;                                                                             \
    uint64_t borrow = 0;                                                                   \
    for (int i = 0; i < N; i++) t.v[i] = zk_sbb(a->v[i], pre##_MODULUS.v[i], &borrow);     \
    uint64_t mask = (uint64_t)0 - borrow; /* all ones: a < m, keep a */                    \
    for (int i = 0; i < N; i++) r->v[i] = (a->v[i] & mask) | (t.v[i] & ~mask);             \
}                                                                                          \
ZK_FN void pre##_add(pre##_t *r, const pre##_t *a, const pre##_t *b)                       \
{                                                                                          \
    pre##_t t;                                                                             \
    uint64_t carry = 0;                                                                    \
    for (int i = 0; i < N; i++) t.v[i] = zk_adc(a->v[i], b->v[i], &carry);                 \
    pre##_reduce_once(r, &t);                                                              \
}                                                                                          \
ZK_FN void pre##_dbl(pre##_t *r, const pre##_t *a) { pre##_add(r, a, a); }                 \
ZK_FN void pre##_sub(pre##_t *r, const pre##_t *a, const pre##_t *b)                       \
{                                                                                          \
    pre##_t t;                                                                             \
    uint64_t borrow = 0;                                                                   \
    for (int i = 0; i < N; i++) t.v[i] = zk_sbb(a->v[i], b->v[i], &borrow);                \
    uint64_t mask = (uint64_t)0 - borrow, carry = 0;                                       \
    for (int i = 0; i < N; i++)                                                            \
        r->v[i] = zk_adc(t.v[i], pre##_MODULUS.v[i] & mask, &carry);                       \
}                                                                                          \
ZK_FN void pre##_neg(pre##_t *r, const pre##_t *a)                                         \
{                                                                                          \
    pre##_t z;                                                                             \
    memset(&z, 0, sizeof z);                                                               \
    pre##_sub(r, &z, a);                                                                   \
}                                                                                          \
/* Montgomery product, no-carry CIOS (top bit of the modulus is clear). */                 \
pre##_MUL_FN void pre##_mul(pre##_t *r, const pre##_t *a, const pre##_t *b)                \
{                                                                                          \
    uint64_t t[N];                                                                         \
    for (int i = 0; i < N; i++) t[i] = 0;                                                  \
    ZK_UNROLL                                                                              \
    for (int i = 0; i < N; i++) {                                                          \
        uint64_t A = 0, C = 0;                                                             \
        t[0] = zk_mac(a->v[0], b->v[i], t[0], &A);                                         \
        uint64_t m = t[0] * pre##_INV;                                                     \
        (void)zk_mac(m, pre##_MODULUS.v[0], t[0], &C);                                     \
        ZK_UNROLL                                                                          \
        for (int j = 1; j < N; j++) {                                                      \
            t[j] = zk_mac(a->v[j], b->v[i], t[j], &A);                                     \
            t[j - 1] = zk_mac(m, pre##_MODULUS.v[j], t[j], &C);                            \
        }                                                                                  \
        t[N - 1] = C + A;                                                                  \
    }                                                                                      \
    pre##_t u;                                                                             \
    for (int i = 0; i < N; i++) u.v[i] = t[i];                                             \
    pre##_reduce_once(r, &u);                                                              \
}                                                                                          \
ZK_FN void pre##_sqr(pre##_t *r, const pre##_t *a) { pre##_mul(r, a, a); }                 \
ZK_FN void pre##_to_mont(pre##_t *r, const pre##_t *a) { pre##_mul(r, a, &pre##_RR); }     \
ZK_FN void pre##_from_mont(pre##_t *r, const pre##_t *a)                                   \
{                                                                                          \
    pre##_t one;                                                                           \
    memset(&one, 0, sizeof one);                                                           \
    one.v[0] = 1;                                                                          \
    pre##_mul(r, a, &one);                                                                 \
}                                                                                          \
/* r = a^e, e given as plain little-endian limbs (NE of them): fixed 4-bit windows (a table   \
 * of a^0..a^15; 4 squarings and at most one product per window; not constant-time in e,    \
 * which is always public here: p - 2, (p + 1) / 4, r - 2). */                              \
ZK_FN void pre##_pow(pre##_t *r, const pre##_t *a, const uint64_t *e, int ne)              \
{                                                                                          \
    pre##_t tab[16], acc = pre##_ONE;                                                      \
    tab[0] = pre##_ONE;                                                                    \
    tab[1] = *a;                                                                           \
    for (int i = 2; i < 16; i++) pre##_mul(&tab[i], &tab[i - 1], a);                       \
    int started = 0;                                                                       \
    for (int i = ne * 16 - 1; i >= 0; i--) {                                               \
        unsigned d = (unsigned)(e[i >> 4] >> (4 * (i & 15))) & 15;                         \
        if (started) {                                                                     \
            pre##_sqr(&acc, &acc); pre##_sqr(&acc, &acc);                                  \
            pre##_sqr(&acc, &acc); pre##_sqr(&acc, &acc);                                  \
        }                                                                                  \
        if (d) {                                                                           \
            if (started) pre##_mul(&acc, &acc, &tab[d]);                                   \
            else acc = tab[d];                                                             \
            started = 1;                                                                   \
        }                                                                                  \
    }                                                                                      \
    *r = acc;                                                                              \
}                                                                                          \
/* r = a^(m-2) = 1/a for a != 0 (and 0 for a == 0). */                                     \
ZK_FN void pre##_inv(pre##_t *r, const pre##_t *a)                                         \
{                                                                                          \
    uint64_t e[N];                                                                         \
    uint64_t borrow = 0;                                                                   \
    for (int i = 0; i < N; i++) e[i] = zk_sbb(pre##_MODULUS.v[i], i == 0 ? 2 : 0, &borrow); \
    pre##_pow(r, a, e, N);                                                                 \
}

/* ---- Fr: r = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001 ---- */
#define fr_MOD_LIMBS 0xffffffff00000001ULL, 0x53bda402fffe5bfeULL, 0x3339d80809a1d805ULL, \
                     0x73eda753299d7d48ULL
#define fr_R1_LIMBS  0x00000001fffffffeULL, 0x5884b7fa00034802ULL, 0x998c4fefecbc4ff5ULL, \
                     0x1824b159acc5056fULL
#define fr_R2_LIMBS  0xc999e990f3f29c6dULL, 0x2b6cedcb87925c23ULL, 0x05d314967254398fULL, \
                     0x0748d9d99f59ff11ULL
#define fr_INV 0xfffffffeffffffffULL
#define fr_MUL_FN ZK_FN /* inlined: the Fr vector kernels are tight loops around one product */
ZK_DEFINE_FIELD(fr, 4)

/* ---- Fp: p = 0x1a0111ea...ffffaaab (381 bits) ---- */
#define fp_MOD_LIMBS 0xb9feffffffffaaabULL, 0x1eabfffeb153ffffULL, 0x6730d2a0f6b0f624ULL, \
                     0x64774b84f38512bfULL, 0x4b1ba7b6434bacd7ULL, 0x1a0111ea397fe69aULL
#define fp_R1_LIMBS  0x760900000002fffdULL, 0xebf4000bc40c0002ULL, 0x5f48985753c758baULL, \
                     0x77ce585370525745ULL, 0x5c071a97a256ec6dULL, 0x15f65ec3fa80e493ULL
#define fp_R2_LIMBS  0xf4df1f341c341746ULL, 0x0a76e6a609d104f1ULL, 0x8de5476c4c95b6d5ULL, \
                     0x67eb88a9939d83c0ULL, 0x9a793e85b519952dULL, 0x11988fe592cae3aaULL
#define fp_INV 0x89f3fffcfffcfffdULL
#define fp_MUL_FN ZK_FN_OUTLINE
ZK_DEFINE_FIELD(fp, 6)

/* sqrt in Fp (p = 3 mod 4): r = a^((p+1)/4); returns 1 iff r^2 == a. */
ZK_FN int fp_sqrt(fp_t *r, const fp_t *a)
{
    /* (p+1)/4 */
    uint64_t e[6] = {0xee7fbfffffffeaabULL, 0x07aaffffac54ffffULL, 0xd9cc34a83dac3d89ULL,
                     0xd91dd2e13ce144afULL, 0x92c6e9ed90d2eb35ULL, 0x0680447a8e5ff9a6ULL};
    fp_t s, chk;
    fp_pow(&s, a, e, 6);
    fp_sqr(&chk, &s);
    *r = s;
    return fp_eq(&chk, a);
}

#endif /* ZK_FIELD_H */
