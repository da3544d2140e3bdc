"""Aggregated matmul relation: completeness, the claims it outputs, soundness."""
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from zkdl.circuits import matmul
from zkdl.codec import Reader, Writer
from zkdl.errors import ShapeError, VerificationError
from zkdl.field import R_MODULUS, FrVec
from zkdl.mle import evaluate
from zkdl.pedersen import PedersenKey, random_scalar
from zkdl.transcript import Transcript

KEY = PedersenKey("tests/matmul", 16)


def _instance(rng, shapes):
    As = [rng.integers(-1000, 1000, (b, k)) for b, k, o in shapes]
    Ws = [rng.integers(-1000, 1000, (k, o)) for b, k, o in shapes]
    shape = matmul.MatmulShape.covering(shapes)
    A = matmul.stack(As, shape.instances, shape.rows, shape.inner)
    W = matmul.stack(Ws, shape.instances, shape.inner, shape.cols)
    Z = np.einsum("irk,iko->iro", A, W)
    return shape, A, W, Z


@settings(max_examples=12)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 4)), min_size=1, max_size=5),
       st.integers(0, 2**32))
def test_matmul_completeness_and_output_claims(shapes, seed):
    rng = np.random.default_rng(seed)
    shape, A, W, Z = _instance(rng, shapes)
    Af, Wf, Zf = (FrVec.from_int64(x) for x in (A, W, Z))
    ni, nb, nk, no = shape.vars
    z_point = [random.randrange(R_MODULUS) for _ in range(ni + nb + no)]
    y, rho = evaluate(Zf, z_point), random_scalar()
    proof, a_pt, w_pt, (oa, ow) = matmul.prove(KEY, Transcript("m"), shape, Af, Wf, z_point, rho)
    a_pt2, ca, w_pt2, cw = matmul.verify(KEY, Transcript("m"), shape, z_point, KEY.commit_scalar(y, rho), proof)
    assert (a_pt2, w_pt2) == (a_pt, w_pt)
    assert oa[0] == evaluate(Af, a_pt) and ca == KEY.commit_scalar(*oa)
    assert ow[0] == evaluate(Wf, w_pt) and cw == KEY.commit_scalar(*ow)
    w = Writer()
    proof.write(w)
    rd = Reader(w.getvalue())
    assert matmul.MatmulProof.read(rd, shape) == proof
    rd.done()


def test_matmul_rejects_wrong_product():
    rng = np.random.default_rng(1)
    shape, A, W, Z = _instance(rng, [(3, 4, 2), (2, 3, 2), (4, 4, 1)])
    Z_bad = Z.copy()
    Z_bad[1, 0, 0] += 1  # one wrong output entry of one instance
    ni, nb, nk, no = shape.vars
    z_point = [random.randrange(R_MODULUS) for _ in range(ni + nb + no)]
    y_bad, rho = evaluate(FrVec.from_int64(Z_bad), z_point), random_scalar()
    # an honest proof of the true product does not verify against the wrong claim
    proof, *_ = matmul.prove(KEY, Transcript("m"), shape, FrVec.from_int64(A), FrVec.from_int64(W), z_point, rho)
    with pytest.raises(VerificationError):
        matmul.verify(KEY, Transcript("m"), shape, z_point, KEY.commit_scalar(y_bad, rho), proof)
    # and a proof about another point does not transfer
    other = list(z_point)
    other[-1] = (other[-1] + 1) % R_MODULUS
    y = evaluate(FrVec.from_int64(Z), z_point)
    with pytest.raises(VerificationError):
        matmul.verify(KEY, Transcript("m"), shape, other, KEY.commit_scalar(y, rho), proof)


def test_matmul_shape_errors():
    with pytest.raises(ShapeError, match="power of two"):
        matmul.MatmulShape(3, 2, 2, 2)
    with pytest.raises(ShapeError, match="larger than"):
        matmul.stack([np.zeros((5, 2))], 1, 4, 2)
    shape = matmul.MatmulShape(1, 2, 2, 2)
    with pytest.raises(ShapeError, match="coordinates"):
        matmul.verify(KEY, Transcript("m"), shape, [1], KEY.h, None)
    with pytest.raises(VerificationError, match="not a MatmulProof"):
        matmul.verify(KEY, Transcript("m"), shape, [1, 2], KEY.h, None)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=4), st.data())
def test_layout_full_agrees_with_its_mask(valid, data):
    """Layout.full (from the shapes; the openings' verifier uses it to pair claims) is exactly
    "the padded mask has no zero", for plain and stacked layouts."""
    from zkdl.circuits.tensors import Layout, StackedLayout

    lay = Layout(tuple(valid))
    assert lay.full == (lay.mask.min() == 1)
    L = data.draw(st.integers(1, 5))
    widths = tuple(data.draw(st.lists(st.integers(1, 8), min_size=L, max_size=L)))
    T, B = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    pad = tuple(max(0, (v - 1).bit_length()) for v in (L, T, B, max(widths)))
    pad = tuple(p + data.draw(st.integers(0, 1)) for p in pad)
    st_lay = StackedLayout((L, T, B, max(widths)), widths=widths, pad_vars=pad)
    assert st_lay.full == (st_lay.mask.min() == 1)
