/*
 * zk_g1.h -- the group G1 of BLS12-381: y^2 = x^3 + 4 over Fp.
 *
 * Affine points: (x, y) in Montgomery form; the point at infinity is encoded as x = y = 0
 * (never on the curve, since 0 != 4).  Jacobian points: (X, Y, Z) with x = X/Z^2, y = Y/Z^3;
 * infinity has Z = 0.  Formulas: dbl-2009-l, madd-2007-bl, add-2007-bl (a = 0), with the
 * exceptional cases (P + P, P + (-P), infinity) handled explicitly.  Scalar multiplication by
 * width-5 NAF; subgroup membership by the endomorphism phi (below).
 * Shared by the C extension and the CUDA kernels.
 */
#ifndef ZK_G1_H
#define ZK_G1_H

#include "zk_field.h"

typedef struct { fp_t x, y; } g1_aff;
typedef struct { fp_t X, Y, Z; } g1_jac;

/* 4 in Montgomery form (the curve constant b). */
ZK_CONST fp_t G1_B = {{0xaa270000000cfff3ULL, 0x53cc0032fc34000aULL, 0x478fe97a6b0a807fULL,
                       0xb1d37ebee6ba24d7ULL, 0x8ec9733bbf78ab2fULL, 0x09d645513d83de7eULL}};

ZK_FN int g1_aff_is_inf(const g1_aff *p) { return fp_is_zero(&p->x) && fp_is_zero(&p->y); }
ZK_FN int g1_jac_is_inf(const g1_jac *p) { return fp_is_zero(&p->Z); }

ZK_FN void g1_jac_set_inf(g1_jac *r)
{
    memset(r, 0, sizeof *r);
    r->X = fp_ONE;
    r->Y = fp_ONE;
}

ZK_FN void g1_aff_to_jac(g1_jac *r, const g1_aff *p)
{
    if (g1_aff_is_inf(p)) { g1_jac_set_inf(r); return; }
    r->X = p->x;
    r->Y = p->y;
    r->Z = fp_ONE;
}

ZK_FN void g1_aff_neg(g1_aff *r, const g1_aff *p)
{
    r->x = p->x;
    if (g1_aff_is_inf(p)) { r->y = p->y; return; }
    fp_neg(&r->y, &p->y);
}

ZK_FN void g1_jac_neg(g1_jac *r, const g1_jac *p)
{
    r->X = p->X;
    fp_neg(&r->Y, &p->Y);
    r->Z = p->Z;
}

/* y^2 == x^3 + 4 (infinity counts as on the curve). */
ZK_FN int g1_aff_on_curve(const g1_aff *p)
{
    if (g1_aff_is_inf(p)) return 1;
    fp_t l, r;
    fp_sqr(&l, &p->y);
    fp_sqr(&r, &p->x);
    fp_mul(&r, &r, &p->x);
    fp_add(&r, &r, &G1_B);
    return fp_eq(&l, &r);
}

/* dbl-2009-l */
ZK_FN void g1_jac_dbl(g1_jac *r, const g1_jac *p)
{
    if (g1_jac_is_inf(p)) { *r = *p; return; }
    fp_t A, B, C, D, E, F, t;
    fp_sqr(&A, &p->X);
    fp_sqr(&B, &p->Y);
    fp_sqr(&C, &B);
    fp_add(&t, &p->X, &B);
    fp_sqr(&t, &t);
    fp_sub(&t, &t, &A);
    fp_sub(&t, &t, &C);
    fp_dbl(&D, &t);
    fp_dbl(&E, &A);
    fp_add(&E, &E, &A);
    fp_sqr(&F, &E);
    fp_t Z3;
    fp_mul(&Z3, &p->Y, &p->Z);
    fp_dbl(&r->Z, &Z3);
    fp_dbl(&t, &D);
    fp_sub(&r->X, &F, &t);
    fp_sub(&t, &D, &r->X);
    fp_mul(&t, &E, &t);
    fp_dbl(&C, &C);
    fp_dbl(&C, &C);
    fp_dbl(&C, &C);
    fp_sub(&r->Y, &t, &C);
}

/* r = p + q, q affine (madd-2007-bl).  r may alias p. */
ZK_FN void g1_jac_madd(g1_jac *r, const g1_jac *p, const g1_aff *q)
{
    if (g1_aff_is_inf(q)) { *r = *p; return; }
    if (g1_jac_is_inf(p)) { g1_aff_to_jac(r, q); return; }
    fp_t Z1Z1, U2, S2, H, HH, I, J, rr, V, t;
    fp_sqr(&Z1Z1, &p->Z);
    fp_mul(&U2, &q->x, &Z1Z1);
    fp_mul(&S2, &q->y, &p->Z);
    fp_mul(&S2, &S2, &Z1Z1);
    fp_sub(&H, &U2, &p->X);
    fp_sub(&rr, &S2, &p->Y);
    if (fp_is_zero(&H)) {
        if (fp_is_zero(&rr)) { g1_jac_dbl(r, p); return; }
        g1_jac_set_inf(r);
        return;
    }
    fp_dbl(&rr, &rr);
    fp_sqr(&HH, &H);
    fp_dbl(&I, &HH);
    fp_dbl(&I, &I);
    fp_mul(&J, &H, &I);
    fp_mul(&V, &p->X, &I);
    fp_t X3, Y3, Z3;
    fp_sqr(&X3, &rr);
    fp_sub(&X3, &X3, &J);
    fp_sub(&X3, &X3, &V);
    fp_sub(&X3, &X3, &V);
    fp_sub(&t, &V, &X3);
    fp_mul(&Y3, &rr, &t);
    fp_mul(&t, &p->Y, &J);
    fp_dbl(&t, &t);
    fp_sub(&Y3, &Y3, &t);
    fp_add(&Z3, &p->Z, &H);
    fp_sqr(&Z3, &Z3);
    fp_sub(&Z3, &Z3, &Z1Z1);
    fp_sub(&Z3, &Z3, &HH);
    r->X = X3;
    r->Y = Y3;
    r->Z = Z3;
}

/* r = p + q (add-2007-bl).  r may alias p or q. */
ZK_FN void g1_jac_add(g1_jac *r, const g1_jac *p, const g1_jac *q)
{
    if (g1_jac_is_inf(q)) { *r = *p; return; }
    if (g1_jac_is_inf(p)) { *r = *q; return; }
    fp_t Z1Z1, Z2Z2, U1, U2, S1, S2, H, I, J, rr, V, t;
    fp_sqr(&Z1Z1, &p->Z);
    fp_sqr(&Z2Z2, &q->Z);
    fp_mul(&U1, &p->X, &Z2Z2);
    fp_mul(&U2, &q->X, &Z1Z1);
    fp_mul(&S1, &p->Y, &q->Z);
    fp_mul(&S1, &S1, &Z2Z2);
    fp_mul(&S2, &q->Y, &p->Z);
    fp_mul(&S2, &S2, &Z1Z1);
    fp_sub(&H, &U2, &U1);
    fp_sub(&rr, &S2, &S1);
    if (fp_is_zero(&H)) {
        if (fp_is_zero(&rr)) { g1_jac_dbl(r, p); return; }
        g1_jac_set_inf(r);
        return;
    }
    fp_dbl(&rr, &rr);
    fp_dbl(&I, &H);
    fp_sqr(&I, &I);
    fp_mul(&J, &H, &I);
    fp_mul(&V, &U1, &I);
    fp_t X3, Y3, Z3;
    fp_sqr(&X3, &rr);
    fp_sub(&X3, &X3, &J);
    fp_sub(&X3, &X3, &V);
    fp_sub(&X3, &X3, &V);
    fp_sub(&t, &V, &X3);
    fp_mul(&Y3, &rr, &t);
    fp_mul(&t, &S1, &J);
    fp_dbl(&t, &t);
    fp_sub(&Y3, &Y3, &t);
    fp_add(&Z3, &p->Z, &q->Z);
    fp_sqr(&Z3, &Z3);
    fp_sub(&Z3, &Z3, &Z1Z1);
    fp_sub(&Z3, &Z3, &Z2Z2);
    fp_mul(&Z3, &Z3, &H);
    r->X = X3;
    r->Y = Y3;
    r->Z = Z3;
}

/* Jacobian -> affine with one inversion. */
ZK_FN void g1_jac_to_aff(g1_aff *r, const g1_jac *p)
{
    if (g1_jac_is_inf(p)) { memset(r, 0, sizeof *r); return; }
    fp_t zi, zi2, zi3;
    fp_inv(&zi, &p->Z);
    fp_sqr(&zi2, &zi);
    fp_mul(&zi3, &zi2, &zi);
    fp_mul(&r->x, &p->X, &zi2);
    fp_mul(&r->y, &p->Y, &zi3);
}

/* Jacobian equality (as group elements). */
ZK_FN int g1_jac_eq(const g1_jac *p, const g1_jac *q)
{
    int pi = g1_jac_is_inf(p), qi = g1_jac_is_inf(q);
    if (pi || qi) return pi && qi;
    fp_t Z1Z1, Z2Z2, a, b;
    fp_sqr(&Z1Z1, &p->Z);
    fp_sqr(&Z2Z2, &q->Z);
    fp_mul(&a, &p->X, &Z2Z2);
    fp_mul(&b, &q->X, &Z1Z1);
    if (!fp_eq(&a, &b)) return 0;
    fp_mul(&a, &p->Y, &Z2Z2);
    fp_mul(&a, &a, &q->Z);
    fp_mul(&b, &q->Y, &Z1Z1);
    fp_mul(&b, &b, &p->Z);
    return fp_eq(&a, &b);
}

/* Reference scalar multiplication: r = [k] p for a plain little-endian scalar of nl limbs
 * (double-and-add over every bit, MSB first).  Kept as the oracle of the tests
 * (g1_jac_in_subgroup_ref); the kernels use g1_jac_mul_limbs below. */
ZK_FN void g1_jac_mul_limbs_ref(g1_jac *r, const g1_jac *p, const uint64_t *k, int nl)
{
    g1_jac acc;
    g1_jac_set_inf(&acc);
    for (int i = nl * 64 - 1; i >= 0; i--) {
        g1_jac_dbl(&acc, &acc);
        if ((k[i >> 6] >> (i & 63)) & 1) g1_jac_add(&acc, &acc, p);
    }
    *r = acc;
}

/* Bit length of a little-endian limb array. */
ZK_FN int zk_limbs_bits(const uint64_t *k, int nl)
{
    for (int l = nl - 1; l >= 0; l--)
        if (k[l]) return 64 * l + 64 - __builtin_clzll(k[l]);
    return 0;
}

/* bits [pos, pos + w) of a little-endian limb array (w <= 32); bits past the end read as 0. */
ZK_FN uint32_t zk_limbs_get_bits(const uint64_t *k, int nl, int pos, int w)
{
    int li = pos >> 6, sh = pos & 63;
    if (li >= nl) return 0;
    uint64_t v = k[li] >> sh;
    if (sh && li + 1 < nl) v |= k[li + 1] << (64 - sh);
    return (uint32_t)(v & ((1ULL << w) - 1));
}

#define ZK_WNAF_MAX (4 * 64 + 2)

/* Width-w NAF of k (nl <= 4 limbs): digits[i] in {0, +-1, +-3, ..., +-(2^(w-1) - 1)}, at most
 * one non-zero among any w consecutive digits, sum digits[i] 2^i = k.  Returns the number of
 * digits (0 for k = 0); digits past it are not written.  (The carry form of libsecp256k1's
 * ecmult_wnaf: the scalar is not modified.) */
ZK_FN int zk_wnaf(int8_t *digits, const uint64_t *k, int nl, int w)
{
    int len = zk_limbs_bits(k, nl);
    if (!len) return 0;
    len += 1; /* room for a final carry */
    int bit = 0, carry = 0, last = -1;
    while (bit < len) {
        if ((int)zk_limbs_get_bits(k, nl, bit, 1) == carry) { digits[bit++] = 0; continue; }
        int now = w < len - bit ? w : len - bit;
        int word = (int)zk_limbs_get_bits(k, nl, bit, now) + carry;
        carry = (word >> (w - 1)) & 1;
        word -= carry << w;
        digits[bit] = (int8_t)word;
        last = bit;
        for (int j = 1; j < now; j++) digits[bit + j] = 0;
        bit += now;
    }
    return last + 1;
}

#define G1_WNAF_W 5 /* 8 odd multiples; ~1/6 of the digits non-zero */

/* tab[j] = (2j + 1) p for j < 2^(w-2). */
ZK_FN void g1_jac_odd_multiples(g1_jac *tab, const g1_jac *p, int w)
{
    g1_jac p2;
    g1_jac_dbl(&p2, p);
    tab[0] = *p;
    for (int j = 1; j < (1 << (w - 2)); j++) g1_jac_add(&tab[j], &tab[j - 1], &p2);
}

/* acc += d * T where T holds odd multiples (d odd, |d| < 2^(w-1)). */
ZK_FN void g1_jac_add_digit(g1_jac *acc, const g1_jac *tab, int d)
{
    if (d > 0) g1_jac_add(acc, acc, &tab[(d - 1) >> 1]);
    else {
        g1_jac t;
        g1_jac_neg(&t, &tab[(-d - 1) >> 1]);
        g1_jac_add(acc, acc, &t);
    }
}

/* r = [k] p for any curve point p and a plain little-endian scalar of nl <= 4 limbs: width-5
 * NAF (leading zeros skipped), a table of 8 odd multiples: ~bits doublings and bits/6
 * additions (double-and-add: bits/2 additions). */
ZK_FN void g1_jac_mul_limbs(g1_jac *r, const g1_jac *p, const uint64_t *k, int nl)
{
    int8_t dg[ZK_WNAF_MAX];
    int len = zk_wnaf(dg, k, nl, G1_WNAF_W);
    g1_jac acc;
    g1_jac_set_inf(&acc);
    if (!len || g1_jac_is_inf(p)) { *r = acc; return; }
    g1_jac tab[1 << (G1_WNAF_W - 2)];
    g1_jac_odd_multiples(tab, p, G1_WNAF_W);
    for (int i = len - 1; i >= 0; i--) {
        if (i != len - 1) g1_jac_dbl(&acc, &acc);
        if (dg[i]) g1_jac_add_digit(&acc, tab, dg[i]);
    }
    *r = acc;
}

/* Reference subgroup membership: [r] p == infinity (~256 doublings, ~128 additions). */
ZK_FN int g1_jac_in_subgroup_ref(const g1_jac *p)
{
    uint64_t rl[4] = {fr_MOD_LIMBS};
    g1_jac t;
    g1_jac_mul_limbs_ref(&t, p, rl, 4);
    return g1_jac_is_inf(&t);
}

/*
 * The endomorphism phi(x, y) = (beta x, y) of y^2 = x^3 + 4, beta a primitive cube root of
 * unity in Fp.  On G1 it acts as multiplication by lambda = -u^2 mod r (a cube root of unity
 * mod r, since r = u^4 - u^2 + 1), u = -0xd201000000010000 the BLS parameter, for exactly one
 * of the two cube roots beta and beta^2.  G1_BETA is that one:
 *   beta = 0x5f19672fdf76ce51ba69c6076a0f77eaddb3a93be6f89688de17d813620a00022e01fffffffefffe
 *        = 2^((p-1)/3) mod p;
 * chosen by checking with py_ecc that phi(G) == [-u^2] G for the standard generator G (the
 * other root, beta^2 = 0x1a0111ea...4f49fffd8bfd00000000aaac, gives phi(G) = [u^2 - 1] G).
 * tests/test_curve.py re-derives it.  Montgomery form below.
 */
ZK_CONST fp_t G1_BETA = {{0x30f1361b798a64e8ULL, 0xf3b8ddab7ece5a2aULL, 0x16a8ca3ac61577f7ULL,
                          0xc26a2ff874fd029bULL, 0x3636b76660701c6eULL, 0x051ba4ab241b6160ULL}};
#define G1_U_ABS 0xd201000000010000ULL /* |u|; u is negative */

/* r = phi(p) (Jacobian: X scales by beta as x does). */
ZK_FN void g1_jac_phi(g1_jac *r, const g1_jac *p)
{
    fp_mul(&r->X, &p->X, &G1_BETA);
    r->Y = p->Y;
    r->Z = p->Z;
}

/* r = [|u|] p: 63 doublings and 5 additions (|u| has 6 bits set: 63, 62, 60, 57, 48, 16). */
ZK_FN void g1_jac_mul_u_abs(g1_jac *r, const g1_jac *p)
{
    g1_jac acc = *p;
    for (int i = 62; i >= 0; i--) {
        g1_jac_dbl(&acc, &acc);
        if ((G1_U_ABS >> i) & 1) g1_jac_add(&acc, &acc, p);
    }
    *r = acc;
}

/*
 * Subgroup membership by the endomorphism (Scott 2021, "A note on group membership tests for
 * G1, G2 and GT on BLS pairing-friendly curves"; the test blst uses): a point p of the curve is
 * in G1 iff phi(p) == [-u^2] p.  [u^2] p = [|u|]([|u|] p): 126 doublings and 10 additions
 * instead of the ~256 doublings and ~128 additions of [r] p.  Infinity is in G1.
 */
ZK_FN int g1_jac_in_subgroup(const g1_jac *p)
{
    if (g1_jac_is_inf(p)) return 1;
    g1_jac q, ph;
    g1_jac_mul_u_abs(&q, p);
    g1_jac_mul_u_abs(&q, &q);
    g1_jac_neg(&q, &q);
    g1_jac_phi(&ph, p);
    return g1_jac_eq(&ph, &q);
}

/*
 * GLV scalar multiplication on G1 (Gallant-Lambert-Vanstone): psi(x, y) = (beta^2 x, y) acts on
 * G1 as multiplication by lambda = u^2 - 1 (128 bits; r = lambda^2 + lambda + 1), so
 * k = k1 + k2 lambda with k2 = floor(k / lambda), k1 = k mod lambda (both < 2^128 + 1 for k < r)
 * and [k] p = [k1] p + [k2] psi(p): about 128 doublings instead of 255, the additions of two
 * width-5 NAFs sharing them.  Valid for points of G1 only (psi = [lambda] there and nowhere else):
 * callers use it for generators and other points known to be in the group.
 */
#define G1_LAMBDA_LO 0x00000000ffffffffULL
#define G1_LAMBDA_HI 0xac45a4010001a402ULL

/* (k2, k1) = divmod(k, lambda) for a plain little-endian 4-limb k < r (bitwise long division). */
ZK_FN void g1_glv_split(uint64_t k1[3], uint64_t k2[3], const uint64_t k[4])
{
    zk_u128 lam = ((zk_u128)G1_LAMBDA_HI << 64) | G1_LAMBDA_LO;
    zk_u128 rem = 0;
    uint64_t q[4] = {0, 0, 0, 0};
    for (int i = 255; i >= 0; i--) {
        int top = (int)(rem >> 127);              /* rem < lambda < 2^128: the shift may carry out */
        rem = (rem << 1) | ((k[i >> 6] >> (i & 63)) & 1);
        if (top || rem >= lam) {
            rem -= lam;
            q[i >> 6] |= 1ULL << (i & 63);
        }
    }
    k1[0] = (uint64_t)rem; k1[1] = (uint64_t)(rem >> 64); k1[2] = 0;
    k2[0] = q[0]; k2[1] = q[1]; k2[2] = q[2];     /* q <= lambda + 1 < 2^129 */
}

/* r = [k] p for p in G1 and a plain little-endian 4-limb scalar k < r. */
ZK_FN void g1_jac_mul_glv(g1_jac *r, const g1_jac *p, const uint64_t *k)
{
    uint64_t k1[3], k2[3];
    g1_glv_split(k1, k2, k);
    int8_t d1[ZK_WNAF_MAX], d2[ZK_WNAF_MAX];
    int n1 = zk_wnaf(d1, k1, 3, G1_WNAF_W), n2 = zk_wnaf(d2, k2, 3, G1_WNAF_W);
    g1_jac acc;
    g1_jac_set_inf(&acc);
    int len = n1 > n2 ? n1 : n2;
    if (!len || g1_jac_is_inf(p)) { *r = acc; return; }
    g1_jac t1[1 << (G1_WNAF_W - 2)], t2[1 << (G1_WNAF_W - 2)];
    g1_jac_odd_multiples(t1, p, G1_WNAF_W);
    fp_t beta2;
    fp_mul(&beta2, &G1_BETA, &G1_BETA);
    for (int j = 0; j < (1 << (G1_WNAF_W - 2)); j++) {    /* psi of every odd multiple */
        fp_mul(&t2[j].X, &t1[j].X, &beta2);
        t2[j].Y = t1[j].Y;
        t2[j].Z = t1[j].Z;
    }
    for (int i = len - 1; i >= 0; i--) {
        if (i != len - 1) g1_jac_dbl(&acc, &acc);
        if (i < n1 && d1[i]) g1_jac_add_digit(&acc, t1, d1[i]);
        if (i < n2 && d2[i]) g1_jac_add_digit(&acc, t2, d2[i]);
    }
    *r = acc;
}

#endif /* ZK_G1_H */
