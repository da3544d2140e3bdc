"""Benchmark of the proof-system core (one JSON line per figure).

    python bench/proofcore.py                    # n = 2^16 .. 2^22
    python bench/proofcore.py --sizes 16 18      # a subset

Sumcheck: sum_x eq(tau, x) * f1(x) * f2(x) (factors 2) and * f3(x) (factors 3) over n uniformly
random field elements per table, plain and zero-knowledge, proven and verified side by side in
one process (medians over --repeat runs).  Hyrax: commit to n 16-bit signed values (quantized
tensor values) as a sqrt(n) x sqrt(n) matrix, open the MLE at a random point in zero knowledge,
verify.

Figures:
  sumcheck_prove_ns_per_element {factors, zk, n}     prover time / n
  sumcheck_verify_s             {factors, zk, n}
  sumcheck_proof_bytes          {factors, zk, n}
  sumcheck_zk_overhead          {factors, n}         zk prover time / plain prover time
  sumcheck_fr_muls_per_element  {factors, n}         field multiplications of the prover / n
  hyrax_commit_s, hyrax_open_s, hyrax_verify_s, hyrax_open_group_elements, hyrax_open_bytes {n}
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from zkdl import hyrax  # noqa: E402
from zkdl.codec import Writer  # noqa: E402
from zkdl.field import R_MODULUS, FrVec  # noqa: E402
from zkdl.pedersen import PedersenKey, random_scalar  # noqa: E402
from zkdl.sumcheck import SumcheckSpec, claimed_sum, fr_muls_per_element, prove, prove_zk, verify, verify_zk  # noqa: E402
from zkdl.transcript import Transcript  # noqa: E402


def emit(**kw):
    print(json.dumps({"bench": "proofcore", **kw}), flush=True)


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def size_of(proof) -> int:
    w = Writer()
    proof.write(w)
    return len(w.getvalue())


def bench_sumcheck(lg: int, repeat: int, key: PedersenKey):
    n = 1 << lg
    tables = [FrVec.random(n) for _ in range(3)]
    tau = [random.randrange(R_MODULUS) for _ in range(lg)]
    for factors in (2, 3):
        spec = SumcheckSpec.product(lg, factors, tau)
        tabs = tables[:factors]
        S = claimed_sum(spec, tabs)
        rho = random_scalar()
        C = key.commit_scalar(S, rho)
        dt_plain, (proof, _) = timed(lambda: prove(spec, tabs, Transcript("bench")), repeat)
        dv_plain, _ = timed(lambda: verify(spec, S, proof, Transcript("bench")), repeat)
        dt_zk, (zproof, _, _) = timed(lambda: prove_zk(key, spec, tabs, rho, Transcript("bench")), repeat)
        dv_zk, _ = timed(lambda: verify_zk(key, spec, C, zproof, Transcript("bench")), repeat)
        for zk, dt, dv, pf in ((False, dt_plain, dv_plain, proof), (True, dt_zk, dv_zk, zproof)):
            emit(figure="sumcheck_prove_ns_per_element", factors=factors, zk=zk, n=n, value=round(dt / n * 1e9, 1))
            emit(figure="sumcheck_verify_s", factors=factors, zk=zk, n=n, value=round(dv, 4))
            emit(figure="sumcheck_proof_bytes", factors=factors, zk=zk, n=n, value=size_of(pf))
        emit(figure="sumcheck_zk_overhead", factors=factors, n=n, value=round(dt_zk / dt_plain, 3))
        emit(figure="sumcheck_fr_muls_per_element", factors=factors, n=n, value=fr_muls_per_element(spec))


def bench_hyrax(lg: int, repeat: int, key: PedersenKey):
    n = 1 << lg
    rng = np.random.default_rng(lg)
    vals = rng.integers(-(1 << 15), 1 << 15, n, dtype=np.int64)
    dc, (com, secret) = timed(lambda: hyrax.commit(key, vals), max(1, repeat // 2))
    r = [random.randrange(R_MODULUS) for _ in range(lg)]
    y = hyrax.evaluate(FrVec.from_int64(vals), r)
    rho = random_scalar()
    C_y = key.commit_scalar(y, rho)
    do, proof = timed(lambda: hyrax.prove_eval(key, Transcript("bench"), com, secret, r, y, rho), repeat)
    dv, _ = timed(lambda: hyrax.verify_eval(key, Transcript("bench"), com, r, C_y, proof), repeat)
    nbytes = size_of(proof)
    emit(figure="hyrax_commit_s", n=n, value=round(dc, 4))
    emit(figure="hyrax_open_s", n=n, value=round(do, 4))
    emit(figure="hyrax_verify_s", n=n, value=round(dv, 4))
    emit(figure="hyrax_open_group_elements", n=n, value=hyrax.proof_group_elements(proof))
    emit(figure="hyrax_open_bytes", n=n, value=nbytes)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 18, 20, 22])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    key = PedersenKey("zkdl/bench/proofcore", 1 << ((max(args.sizes) + 1) // 2))
    for lg in args.sizes:
        bench_sumcheck(lg, args.repeat, key)
    for lg in args.sizes:
        bench_hyrax(lg, args.repeat, key)


if __name__ == "__main__":
    main()
