/*
 * logup.cu -- one layer of the logUp fractional-sum tree (zkdl/logup.py, _tree).
 *
 * Level j of a tree has 2^j fractions (p, q); entry y of level j combines the children
 * L = 2y, R = 2y + 1 of level j + 1 (children differ in the LAST, least significant variable):
 *     p_out[y] = pL * qR + pR * qL,     q_out[y] = qL * qR.
 * p_in = NULL means all numerators are 1 (the witness tree's leaves): p_out[y] = qL + qR.
 * The factor tables of layer j's sumcheck are the even / odd entries of level j + 1
 * (pL = p[0::2], pR = p[1::2], ...): strided views, no kernel needed.
 * Outputs must not alias the inputs (thread y writes entry y, which thread y / 2 reads).
 */
#include "zk_cuda.cuh"

extern "C" __global__ void logup_layer(fr_t *p_out, fr_t *q_out, const fr_t *p_in, const fr_t *q_in,
                                       uint64_t n_out)
{
    ZKG_GRID_LOOP(y, n_out) {
        const fr_t *qL = &q_in[2 * y], *qR = &q_in[2 * y + 1];
        fr_t p, t, q;
        if (p_in) {
            fr_mul(&p, &p_in[2 * y], qR);
            fr_mul(&t, &p_in[2 * y + 1], qL);
            fr_add(&p, &p, &t);
        } else {
            fr_add(&p, qL, qR);
        }
        fr_mul(&q, qL, qR);
        p_out[y] = p;
        q_out[y] = q;
    }
}
