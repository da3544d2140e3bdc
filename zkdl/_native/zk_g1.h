/*
 * zk_g1.h -- the group G1 of BLS12-381: y^2 = x^3 + 4 over Fp.
 *
 * Affine points: (x, y) in Montgomery form; the point at infinity is encoded as x = y = 0
 * (never on the curve, since 0 != 4).  Jacobian points: (X, Y, Z) with x = X/Z^2, y = Y/Z^3;
 * infinity has Z = 0.  Formulas: dbl-2009-l, madd-2007-bl, add-2007-bl (a = 0), with the
 * exceptional cases (P + P, P + (-P), infinity) handled explicitly.
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

/* r = [k] p for a plain little-endian scalar of nl limbs (double-and-add, MSB first). */
ZK_FN void g1_jac_mul_limbs(g1_jac *r, const g1_jac *p, const uint64_t *k, int nl)
{
    g1_jac acc;
    g1_jac_set_inf(&acc);
    for (int i = nl * 64 - 1; i >= 0; i--) {
        g1_jac_dbl(&acc, &acc);
        if ((k[i >> 6] >> (i & 63)) & 1) g1_jac_add(&acc, &acc, p);
    }
    *r = acc;
}

/* Subgroup membership: [r] p == infinity. */
ZK_FN int g1_jac_in_subgroup(const g1_jac *p)
{
    uint64_t rl[4] = {fr_MOD_LIMBS};
    g1_jac t;
    g1_jac_mul_limbs(&t, p, rl, 4);
    return g1_jac_is_inf(&t);
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

#endif /* ZK_G1_H */
