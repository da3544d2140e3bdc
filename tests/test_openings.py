"""Openings of claimed tensors (circuits/tensors.py, Claims.open_all): plain claims and claims on
combinations of tensors (the weights of layers of one shape), prover and verifier channels."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from zkdl.circuits.channel import VerifierChannel
from zkdl.circuits.prover import ProverChannel
from zkdl.circuits.tensors import Claims, Layout, Tensor
from zkdl.errors import ShapeError, VerificationError
from zkdl.field import R_MODULUS as P, FrVec
from zkdl.hyrax import commit
from zkdl.pedersen import PedersenKey
from zkdl.transcript import Transcript

KEY = PedersenKey("zkdl/test/openings", 1 << 6)

# three tensors of one layout (a class of layers), one smaller tensor of the same column split
LAYOUTS = {"M0": Layout((5, 6), 3), "M1": Layout((5, 6), 3), "M2": Layout((5, 6), 3), "b": Layout((4, 8), 3)}


def _tensors(seed):
    rng = np.random.default_rng(seed)
    out = {}
    for n, lay in LAYOUTS.items():
        vals = lay.pad(rng.integers(-1000, 1000, size=lay.valid))
        com, sec = commit(KEY, vals, lay.col_vars, lay.num_vars)
        out[n] = (lay, com, sec)
    return out


def _run(ch, tensors, points, coefs, offsets=(0, 0), by_point=True, bounded=False, swap=False):
    """Claims: M0 at points[0] (plain), the combination sum_l coefs[l] M_l at points[1], b at
    points[2] (plain); offsets: added to the combination's value, then to the plain M0 claim;
    swap: the prover's combination value uses M1 and M0 with each other's coefficients."""
    cl = Claims()
    for n, (lay, com, sec) in tensors.items():
        cl.register(Tensor(n, lay, com, sec if ch.prover else None))
    t = cl.tensors
    v0 = ch.send_scalar_com(b"plain", lambda: (t["M0"].mle(points[0]) + offsets[1]) % P)
    cl.add("M0", points[0], v0)
    order = ["M1", "M0", "M2"] if swap else ["M0", "M1", "M2"]
    v1 = ch.send_scalar_com(b"combination", lambda: (sum(c * t[n].mle(points[1]) for c, n in zip(coefs, order))
                                                     + offsets[0]) % P)
    cl.add_combination([(f"M{l}", points[1], coefs[l]) for l in range(3)], v1)
    v2 = ch.send_scalar_com(b"plain-b", lambda: t["b"].mle(points[2]))
    cl.add("b", points[2], v2)
    cl.open_all(ch, by_point=by_point, bounded=bounded)


def _prove_verify(seed, **kw):
    rng = np.random.default_rng(seed + 1)
    tensors = _tensors(seed)
    nv = LAYOUTS["M0"].num_vars
    points = [[int(x) for x in rng.integers(1, 1 << 60, size=nv)] for _ in range(2)]
    points.append([int(x) for x in rng.integers(1, 1 << 60, size=LAYOUTS["b"].num_vars)])
    coefs = [int(x) for x in rng.integers(1, 1 << 60, size=3)]
    pc = ProverChannel(KEY, Transcript(b"o"), derived=True)
    _run(pc, tensors, points, coefs, **kw)
    vc = VerifierChannel(KEY, Transcript(b"o"), pc.getvalue(), derived=True)
    _run(vc, {n: (lay, com, None) for n, (lay, com, _) in tensors.items()}, points, coefs,
         **{k: v for k, v in kw.items() if k in ("by_point", "bounded")})
    vc.done()


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 1 << 16), by_point=st.booleans(), bounded=st.booleans())
def test_combination_claims_open(seed, by_point, bounded):
    """Plain claims and a claim on a combination open together, with either pairing; a bounded
    opening too (its split never separates a combination's tensors)."""
    Claims.OPEN_MAX_ENTRIES, old = 1, Claims.OPEN_MAX_ENTRIES      # every tensor would be a group of its own
    try:
        _prove_verify(seed, by_point=by_point, bounded=bounded)
    finally:
        Claims.OPEN_MAX_ENTRIES = old


@pytest.mark.parametrize("by_point", [True, False])
def test_false_combination_claim_rejected(by_point):
    """A combination's value off by one, or made with two coefficients swapped: the opening rejects."""
    with pytest.raises(VerificationError):
        _prove_verify(3, offsets=(1, 0), by_point=by_point)
    with pytest.raises(VerificationError):
        _prove_verify(3, swap=True, by_point=by_point)
    with pytest.raises(VerificationError):            # and a plain claim beside it still counts
        _prove_verify(3, offsets=(0, P - 1), by_point=by_point)


def test_combination_of_different_splits_is_refused():
    cl = Claims()
    for n, lay in (("x", Layout((4, 4), 2)), ("y", Layout((4, 4), 3))):
        cl.register(Tensor(n, lay, None))
    with pytest.raises(ShapeError, match="different column splits"):
        cl.add_combination([("x", [0] * 4, 1), ("y", [0] * 4, 1)], None)
    with pytest.raises(ShapeError, match="3 coordinates"):
        cl.add_combination([("x", [0] * 3, 1)], None)
    with pytest.raises(ShapeError, match="without tensors"):
        cl.add_combination([], None)
