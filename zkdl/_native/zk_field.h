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
    if (pre##_MUL_ASM(r->v, a->v, b->v)) { pre##_reduce_once(r, r); return; }              \
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

/* ---- Fp: p = 0x1a0111ea...ffffaaab (381 bits) ---- */
#define fp_MOD_LIMBS 0xb9feffffffffaaabULL, 0x1eabfffeb153ffffULL, 0x6730d2a0f6b0f624ULL, \
                     0x64774b84f38512bfULL, 0x4b1ba7b6434bacd7ULL, 0x1a0111ea397fe69aULL
#define fp_R1_LIMBS  0x760900000002fffdULL, 0xebf4000bc40c0002ULL, 0x5f48985753c758baULL, \
                     0x77ce585370525745ULL, 0x5c071a97a256ec6dULL, 0x15f65ec3fa80e493ULL
#define fp_R2_LIMBS  0xf4df1f341c341746ULL, 0x0a76e6a609d104f1ULL, 0x8de5476c4c95b6d5ULL, \
                     0x67eb88a9939d83c0ULL, 0x9a793e85b519952dULL, 0x11988fe592cae3aaULL
#define fp_INV 0x89f3fffcfffcfffdULL
#define fp_MUL_FN ZK_FN_OUTLINE

/*
 * Products in x86-64 assembly (BMI2 mulx, ADX adcx/adox): the same no-carry CIOS as the portable
 * loop above, with two independent carry chains per row of products (adcx: low halves, adox:
 * high halves) and the accumulator in registers (r8.., renamed by one each row instead of
 * shifted).  Measured on this project's AMD EPYC machines: a chained Fp product 53 ns against
 * 75 ns, an Fr product 30 ns against 43 ns (independent elements).  Used when the CPU has both
 * extensions (zk_asm: set at module load by the extension, off with ZKDL_NO_ASM=1 or
 * _native.set_asm(False)); never under nvcc.  The result is < 2m; pre_mul reduces it once, as
 * the C path does.  bench/machine.py measures the machine with the portable path (the yardstick
 * every benchmark target is scaled by).
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
#define ZK_HAVE_ASM 1
#include <cpuid.h>
static int zk_asm = 0;
static int zk_cpu_has_adx(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 8)) && (b & (1u << 19));     /* BMI2 (mulx) and ADX (adcx, adox) */
}
static const uint64_t zk_fr_mod_asm[4] = {fr_MOD_LIMBS}, zk_fr_inv_asm = fr_INV;
static const uint64_t zk_fp_mod_asm[6] = {fp_MOD_LIMBS}, zk_fp_inv_asm = fp_INV;
/* t_lo += lo(x_j * rdx) on the CF chain, t_hi += hi(x_j * rdx) on the OF chain; x = a or p */
#define ZK_MA(j, tl, th) "mulxq " #j "*8(%[a]), %%rax, %%rbx\n\t" \
    "adcxq %%rax, %%" #tl "\n\t" "adoxq %%rbx, %%" #th "\n\t"
#define ZK_MP(j, tl, th) "mulxq " #j "*8+%[p], %%rax, %%rbx\n\t" \
    "adcxq %%rax, %%" #tl "\n\t" "adoxq %%rbx, %%" #th "\n\t"
/* one CIOS row: t += a * b_i (the top limb tN is 0 on entry), m = t0 * inv, t += m * p (t0
 * becomes 0: the next row's top limb) */
#define ZK_ROW_HEAD(i) "xorl %%ecx, %%ecx\n\t" "movq " #i "*8(%[b]), %%rdx\n\t"
#define ZK_ROW_MID(t0, tN) "adcxq %%rcx, %%" #tN "\n\t" \
    "movq %%" #t0 ", %%rdx\n\t" "imulq %[inv], %%rdx\n\t" "xorl %%ecx, %%ecx\n\t"
#define ZK_ROW_END(tN) "adcxq %%rcx, %%" #tN "\n\t"
#define ZK_ROW4(i, t0, t1, t2, t3, t4) ZK_ROW_HEAD(i)                                          \
    ZK_MA(0, t0, t1) ZK_MA(1, t1, t2) ZK_MA(2, t2, t3) ZK_MA(3, t3, t4) ZK_ROW_MID(t0, t4)     \
    ZK_MP(0, t0, t1) ZK_MP(1, t1, t2) ZK_MP(2, t2, t3) ZK_MP(3, t3, t4) ZK_ROW_END(t4)
#define ZK_ROW6(i, t0, t1, t2, t3, t4, t5, t6) ZK_ROW_HEAD(i)                                  \
    ZK_MA(0, t0, t1) ZK_MA(1, t1, t2) ZK_MA(2, t2, t3)                                        \
    ZK_MA(3, t3, t4) ZK_MA(4, t4, t5) ZK_MA(5, t5, t6) ZK_ROW_MID(t0, t6)                     \
    ZK_MP(0, t0, t1) ZK_MP(1, t1, t2) ZK_MP(2, t2, t3)                                        \
    ZK_MP(3, t3, t4) ZK_MP(4, t4, t5) ZK_MP(5, t5, t6) ZK_ROW_END(t6)
#define ZK_ZERO(r) "xorl %%" #r "d, %%" #r "d\n\t"
#define ZK_STORE(r, i) "movq %%" #r ", " #i "*8(%[r])\n\t"
static inline __attribute__((always_inline)) int zk_fr_mul_asm(uint64_t *r, const uint64_t *a,
                                                                const uint64_t *b)
{
    if (!zk_asm) return 0;
    __asm__ volatile(
        ZK_ZERO(r8) ZK_ZERO(r9) ZK_ZERO(r10) ZK_ZERO(r11) ZK_ZERO(r12)
        ZK_ROW4(0, r8, r9, r10, r11, r12)
        ZK_ROW4(1, r9, r10, r11, r12, r8)
        ZK_ROW4(2, r10, r11, r12, r8, r9)
        ZK_ROW4(3, r11, r12, r8, r9, r10)
        ZK_STORE(r12, 0) ZK_STORE(r8, 1) ZK_STORE(r9, 2) ZK_STORE(r10, 3)
        :
        : [a] "r"(a), [b] "r"(b), [r] "r"(r), [p] "m"(zk_fr_mod_asm), [inv] "m"(zk_fr_inv_asm)
        : "rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
    return 1;
}
static inline __attribute__((always_inline)) int zk_fp_mul_asm(uint64_t *r, const uint64_t *a,
                                                                const uint64_t *b)
{
    if (!zk_asm) return 0;
    __asm__ volatile(
        ZK_ZERO(r8) ZK_ZERO(r9) ZK_ZERO(r10) ZK_ZERO(r11) ZK_ZERO(r12) ZK_ZERO(r13) ZK_ZERO(r14)
        ZK_ROW6(0, r8, r9, r10, r11, r12, r13, r14)
        ZK_ROW6(1, r9, r10, r11, r12, r13, r14, r8)
        ZK_ROW6(2, r10, r11, r12, r13, r14, r8, r9)
        ZK_ROW6(3, r11, r12, r13, r14, r8, r9, r10)
        ZK_ROW6(4, r12, r13, r14, r8, r9, r10, r11)
        ZK_ROW6(5, r13, r14, r8, r9, r10, r11, r12)
        ZK_STORE(r14, 0) ZK_STORE(r8, 1) ZK_STORE(r9, 2)
        ZK_STORE(r10, 3) ZK_STORE(r11, 4) ZK_STORE(r12, 5)
        :
        : [a] "r"(a), [b] "r"(b), [r] "r"(r), [p] "m"(zk_fp_mod_asm), [inv] "m"(zk_fp_inv_asm)
        : "rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "cc", "memory");
    return 1;
}
#define fr_MUL_ASM(r, a, b) zk_fr_mul_asm(r, a, b)
#define fp_MUL_ASM(r, a, b) zk_fp_mul_asm(r, a, b)
#else
#define fr_MUL_ASM(r, a, b) 0
#define fp_MUL_ASM(r, a, b) 0
#endif

ZK_DEFINE_FIELD(fr, 4)
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
