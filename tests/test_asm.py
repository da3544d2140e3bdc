"""The Fr and Fp products in x86-64 assembly (mulx/adcx/adox, zk_field.h) against the portable C
ones and independent oracles (galois for Fr, py_ecc's Fp), and the G1 operations built on them
under both.

Every other test runs with the assembly products wherever the CPU has BMI2/ADX (the default);
here both paths are held to the same oracles, edge values included (0, 1, m - 1, limbs all ones,
values just under the modulus)."""
from __future__ import annotations

import functools
import os
import subprocess
import sys

import galois
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.optimized_bls12_381 import Z1, add, multiply, normalize

import zkdl
from zkdl import FrVec, msm
from zkdl.threads import threads
from zkdl import _native as nat
from zkdl.generators import derive

P = FQ.field_modulus
R_MONT_INV = pow(2**384, -1, P)
R = zkdl.R_MODULUS
HAVE_ASM = nat.asm_available()

EDGES = [0, 1, 2, P - 1, P - 2, (P - 1) // 2, (P + 1) // 2, 2**64 - 1, 2**128 - 1, 2**380,
         P - 2**64, (1 << 320) - 1, 2**383 % P, P - (1 << 320)]
fp_values = st.one_of(st.sampled_from(EDGES), st.integers(0, P - 1))


def examples(factor: float) -> settings:
    """max_examples relative to the loaded hypothesis profile (ci: 40, dev: 300)."""
    return settings(max_examples=max(5, round(settings.default.max_examples * factor)))


def limbs(xs) -> np.ndarray:
    return np.array([[(x >> (64 * i)) & (2**64 - 1) for i in range(6)] for x in xs], dtype=np.uint64)


def ints(arr: np.ndarray) -> list[int]:
    return [sum(int(v) << (64 * i) for i, v in enumerate(row)) for row in arr]


def mont_mul(a, b, asm: bool) -> list[int]:
    was = nat.set_asm(asm)
    try:
        out = np.zeros((len(a), 6), dtype=np.uint64)
        nat.fp_mont_mul(out, limbs(a), limbs(b))
        return ints(out)
    finally:
        nat.set_asm(was)


both = pytest.mark.parametrize("asm", [False, True] if HAVE_ASM else [False])


@both
@examples(2)
@given(st.lists(st.tuples(fp_values, fp_values), min_size=1, max_size=40))
def test_montgomery_product_matches_py_ecc(asm, pairs):
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    want = [int(FQ(x) * FQ(y) * FQ(R_MONT_INV)) for x, y in pairs]
    assert mont_mul(a, b, asm) == want


def test_assembly_and_portable_products_agree_on_many_values():
    """20 000 random pairs and every pair of edge values, threaded (from 8192 elements on)."""
    rng = np.random.default_rng(7)
    a = [int.from_bytes(rng.bytes(48), "little") % P for _ in range(20_000)] + EDGES * len(EDGES)
    b = [int.from_bytes(rng.bytes(48), "little") % P for _ in range(20_000)] + \
        [e for e in EDGES for _ in EDGES]
    c = mont_mul(a, b, False)
    assert c[:5] == [x * y * R_MONT_INV % P for x, y in zip(a[:5], b[:5])]
    if HAVE_ASM:
        assert mont_mul(a, b, True) == c
    else:
        with pytest.raises(ValueError, match="BMI2/ADX"):
            nat.set_asm(True)


R_EDGES = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 2**64 - 1, 2**192, R - 2**64, 2**254]
fr_values = st.one_of(st.sampled_from(R_EDGES), st.integers(0, R - 1))


@functools.lru_cache(maxsize=None)
def GF():
    # primitive_element and verify=False: without them galois spends ~100 s factoring r - 1
    return galois.GF(R, primitive_element=7, verify=False)


@both
@examples(1)
@given(st.lists(st.tuples(fr_values, fr_values), min_size=1, max_size=40), st.sampled_from([1, 2]))
def test_fr_products_match_galois(asm, pairs, nthreads):
    """FrVec products (conversions to and from Montgomery form included) against galois."""
    F = GF()
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    was = nat.set_asm(asm)
    try:
        with threads(nthreads):
            got = (FrVec.from_ints(a) * FrVec.from_ints(b)).to_ints()
            sq = FrVec.from_ints(a).square().to_ints()
    finally:
        nat.set_asm(was)
    assert got == [int(v) for v in F(a) * F(b)]
    assert sq == [int(v) for v in F(a) ** 2]


def test_fr_assembly_and_portable_agree_threaded():
    """2^15 random products (threaded kernels) and every pair of edge values."""
    rng = np.random.default_rng(11)
    a = FrVec.from_ints([int.from_bytes(rng.bytes(32), "little") % R for _ in range(1 << 15)] +
                        R_EDGES * len(R_EDGES))
    b = FrVec.from_ints([int.from_bytes(rng.bytes(32), "little") % R for _ in range(1 << 15)] +
                        [e for e in R_EDGES for _ in R_EDGES])
    was = nat.set_asm(False)
    try:
        c = (a * b).to_ints()
        if HAVE_ASM:
            nat.set_asm(True)
            assert (a * b).to_ints() == c
    finally:
        nat.set_asm(was)
    assert c[-1] == R_EDGES[-1] * R_EDGES[-1] % R


@both
@examples(0.5)
@given(st.lists(st.one_of(st.sampled_from([0, 1, R - 1, (R - 1) // 2]), st.integers(0, R - 1)),
                min_size=1, max_size=5))
def test_curve_operations_under_either_product(asm, ks):
    """MSM and single scalar multiplication (both built from Fp products) against py_ecc."""
    pts = derive("tests/fp-asm", len(ks))
    was = nat.set_asm(asm)
    try:
        got = msm(pts, FrVec.from_ints(ks))
        one = pts[0] * ks[0]
    finally:
        nat.set_asm(was)
    py = [(FQ(x), FQ(y), FQ(1)) for x, y in (p.to_affine() for p in pts)]
    acc = Z1
    for p, k in zip(py, ks):
        acc = add(acc, multiply(p, k))
    assert got.to_affine() == affine(acc)
    assert one.to_affine() == affine(multiply(py[0], ks[0]))


def affine(pt):
    """py_ecc point -> (x, y) integers, None for the identity."""
    if pt[2] == FQ(0):
        return None
    x, y = normalize(pt)
    return int(x), int(y)


def test_environment_turns_the_assembly_off():
    code = "from zkdl import _native as n; print(n.set_asm(False))"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ZKDL_NO_ASM": "1"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
    out = subprocess.run([sys.executable, "-c", code], env={k: v for k, v in os.environ.items()
                                                             if k != "ZKDL_NO_ASM"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == str(HAVE_ASM)
