"""Generator vectors (zkdl.generators): the hash-to-curve derivation against an independent
Python/py_ecc implementation of its specification, determinism and prefix consistency, validity,
and the on-disk cache (written atomically, every corruption detected and rebuilt)."""
from __future__ import annotations

import hashlib
import os
import struct
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.optimized_bls12_381 import is_inf, multiply, normalize

import zkdl
import zkdl.generators as gens
from zkdl import G1, PointVec, ZkdlError
from zkdl.generators import blinding_generator, derive, generators

R, P = zkdl.R_MODULUS, zkdl.P_MODULUS
DST = b"zkdl-v1:BLS12-381:G1:try-and-increment:SHAKE256"  # pinned: changing it changes every commitment
H_EFF = 0xD201000000010001


def examples(factor: float) -> settings:
    """max_examples relative to the loaded hypothesis profile (ci: 40, dev: 300)."""
    return settings(max_examples=max(5, round(settings.default.max_examples * factor)))


def spec_point(label: str, i: int):
    """Generator i of `label`, straight from the specification in zkdl/generators.py."""
    lab = label.encode("utf-8")
    h = hashlib.shake_256(DST + struct.pack("<I", len(lab)) + lab + struct.pack("<Q", i)).digest(65)
    x = int.from_bytes(h[:64], "big") % P
    sign = h[64] & 1
    while True:
        rhs = (x**3 + 4) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            if int(y > (P - 1) // 2) != sign:
                y = P - y
            pt = multiply((FQ(x), FQ(y), FQ(1)), H_EFF)
            if not is_inf(pt):
                return pt
        x = (x + 1) % P


def affine(pt):
    x, y = normalize(pt)
    return int(x.n), int(y.n)


# ------------------------------------------------------------------ derivation


@pytest.mark.parametrize("label", ["tests/spec", "zkdl/hyrax/rows", "ünïcode-λ"])
def test_derive_matches_specification(label):
    assert gens.DST == DST
    pts = derive(label, 3)
    for i in range(3):
        want = spec_point(label, i)
        assert pts[i].to_affine() == affine(want)
        assert derive(label, 1, i)[0].to_affine() == affine(want)
    # the oracle's own subgroup check on one point: [r] P = O
    assert is_inf(multiply(spec_point(label, 0), R))


@examples(0.75)
@given(st.text(min_size=1, max_size=16), st.integers(0, 40), st.integers(0, 12))
def test_derive_deterministic_and_prefix_consistent(label, start, count):
    full = derive(label, start + count)
    assert len(full) == start + count
    assert derive(label, start + count) == full
    assert derive(label, count, start) == full[start:]


def test_prefix_example():
    L = "tests/prefix"
    assert derive(L, 10)[3:7] == derive(L, 4, 3)
    assert len(derive(L, 0)) == 0


def test_points_valid_distinct_not_identity():
    pts = derive("tests/valid", 200)
    pts.validate(subgroup=True)
    xs = [p.to_affine() for p in pts]
    assert None not in xs  # no identity
    assert len({x for x, _ in xs}) == 200  # distinct x: no P = Q and no P = -Q
    assert G1.identity().to_bytes() not in {p.to_bytes() for p in pts}
    other = derive("tests/valid2", 200)
    other.validate(subgroup=True)
    assert not {x for x, _ in xs} & {p.to_affine()[0] for p in other}
    assert derive("tests/valid", 1) != derive("tests/valid ", 1)  # labels are not normalised


def test_derive_argument_errors():
    for bad in ("", b"label", None):
        with pytest.raises(ZkdlError, match="generator label must be a non-empty string"):
            derive(bad, 1)
    with pytest.raises(ZkdlError, match="count and start must be non-negative"):
        derive("x", -1)
    with pytest.raises(ZkdlError, match="count and start must be non-negative"):
        derive("x", 1, -1)


def test_blinding_generator():
    h = blinding_generator("tests/ped")
    assert h == derive("tests/ped/blinding", 1)[0]
    assert h.to_affine()[0] not in {p.to_affine()[0] for p in derive("tests/ped", 50)}


# ------------------------------------------------------------------ cache


def _no_tmp(d):
    return [p.name for p in d.iterdir() if p.name.endswith(".tmp")] == []


def test_cache_written_loaded_and_extended(zkdl_cache, monkeypatch):
    L = "tests/cache"
    first = generators(L, 20)
    assert first == derive(L, 20)
    path = gens._cache_path(L)
    assert path.parent == zkdl_cache and path.is_file()
    assert [p.name for p in zkdl_cache.iterdir()] == [path.name]  # nothing else, no .tmp left
    assert path.read_bytes() == gens._encode_cache(L, first)

    calls = []
    real = gens.derive
    monkeypatch.setattr(gens, "derive", lambda *a: calls.append(a) or real(*a))
    # from the memo: nothing derived
    assert generators(L, 7) == first[:7]
    assert calls == []
    # from disk: only the spot checks (single points) are derived
    gens._memo.clear()
    assert generators(L, 12) == first[:12]
    assert calls and len(calls) <= gens._SPOT_CHECKS and all(c[0] == L and c[1] == 1 for c in calls)
    assert {c[2] for c in calls} >= {0, 19}  # first and last are always checked
    # extending derives only the missing tail, and rewrites the file
    calls.clear()
    longer = generators(L, 30)
    assert calls == [(L, 10, 20)]
    assert longer == real(L, 30)
    assert path.read_bytes() == gens._encode_cache(L, longer)
    assert _no_tmp(zkdl_cache)
    gens._memo.clear()
    assert generators(L, 30) == longer


def test_use_cache_false_writes_nothing(zkdl_cache):
    pts = generators("tests/nocache", 5, use_cache=False)
    assert pts == derive("tests/nocache", 5)
    assert not zkdl_cache.exists() or list(zkdl_cache.iterdir()) == []


def test_generators_argument_errors(zkdl_cache):
    for bad in (-1, 2.0, "3", None):
        with pytest.raises(ZkdlError, match="generator count must be a non-negative integer"):
            generators("tests/args", bad)
    assert len(generators("tests/args", np.int64(3))) == 3


def _with_digest(body: bytes) -> bytes:
    return body + hashlib.sha256(body).digest()


def _tampered(L: str, pts: PointVec, i: int, replacement: PointVec) -> bytes:
    limbs = pts.limbs.copy()
    limbs[i] = replacement.limbs[0]
    return gens._encode_cache(L, PointVec(limbs))


CORRUPTIONS = ["flip_middle", "flip_last", "truncate", "truncate_short", "empty", "magic", "label",
               "count", "off_curve", "swap_first", "swap_last", "swap_middle", "reorder",
               "non_subgroup"]


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_corrupt_cache_is_detected_and_rebuilt(zkdl_cache, monkeypatch, case):
    L, n = "tests/corrupt", 20
    good_pts = generators(L, n)
    path = gens._cache_path(L)
    good = path.read_bytes()
    other = derive("tests/other-label", 1)
    lab = L.encode()
    header = gens._MAGIC + struct.pack("<I", len(lab)) + lab
    payload = good_pts.limbs.astype("<u8").tobytes()
    off = good_pts.limbs.copy()
    off[7, 6] ^= 1  # y of point 7 no longer satisfies the curve equation
    order3 = np.frombuffer(bytes(48) + (2 * pow(2, 384, P) % P).to_bytes(48, "little"),
                           dtype="<u8").astype(np.uint64)  # (0, 2): on the curve, order 3
    mid = len(good) // 2
    bad, reason = {
        "flip_middle": (good[:mid] + bytes([good[mid] ^ 0x10]) + good[mid + 1 :], "digest mismatch"),
        "flip_last": (good[:-1] + bytes([good[-1] ^ 1]), "digest mismatch"),
        "truncate": (good[:-7], "digest mismatch"),
        "truncate_short": (good[:20], "not a zkdl generator cache file"),
        "empty": (b"", "not a zkdl generator cache file"),
        "magic": (_with_digest(b"ZKDLGEN0" + good[8:-32]), "not a zkdl generator cache file"),
        "label": (gens._encode_cache("tests/corrupu", good_pts), "label mismatch"),
        "count": (_with_digest(header + struct.pack("<Q", n + 1) + payload), "length mismatch"),
        "off_curve": (gens._encode_cache(L, PointVec(off)), "invalid point: G1 point 7 is not on the curve"),
        "swap_first": (_tampered(L, good_pts, 0, other), "generator 0 does not match its derivation"),
        "swap_last": (_tampered(L, good_pts, n - 1, other), "generator 19 does not match"),
        # the middle is covered by the random spot checks: force them onto the tampered index
        "swap_middle": (_tampered(L, good_pts, 5, other), "generator 5 does not match"),
        "reorder": (gens._encode_cache(L, PointVec(good_pts.limbs[[1, 0] + list(range(2, n))])),
                    "generator 0 does not match"),
        # caught by the subgroup check of the first 4096 points, whatever the spot checks pick
        "non_subgroup": (_tampered(L, good_pts, 9, PointVec(order3.reshape(1, 12))),
                         "not in the prime-order subgroup"),
    }[case]
    assert bad != good
    monkeypatch.setattr(gens.secrets, "randbelow", lambda k: {"swap_middle": 5}.get(case, 1))
    path.write_bytes(bad)
    gens._memo.clear()
    with pytest.warns(UserWarning, match=rf"ignoring generator cache .*{reason}.*it will be rebuilt"):
        got = generators(L, n)
    assert got == derive(L, n)
    assert path.read_bytes() == good  # rebuilt
    assert _no_tmp(zkdl_cache)
    gens._memo.clear()
    assert generators(L, n) == got  # and the rebuilt file loads cleanly


def test_failed_write_is_reported_and_leaves_no_temp_file(zkdl_cache, monkeypatch):
    L = "tests/write-fail"

    def failing_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.warns(UserWarning, match="could not write generator cache: disk full"):
        pts = generators(L, 6)
    assert pts == derive(L, 6)
    assert list(zkdl_cache.iterdir()) == []  # the temporary file was removed, nothing published


def test_unwritable_cache_dir(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    monkeypatch.setenv("ZKDL_CACHE_DIR", str(blocker / "sub"))
    monkeypatch.setattr(gens, "_memo", {})
    with pytest.warns(UserWarning, match="could not write generator cache"):
        assert generators("tests/unwritable", 4) == derive("tests/unwritable", 4)
    assert blocker.read_bytes() == b"x"


def test_cache_dir_default_and_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ZKDL_CACHE_DIR", str(tmp_path))
    assert gens.cache_dir() == tmp_path
    monkeypatch.delenv("ZKDL_CACHE_DIR")
    assert gens.cache_dir() == gens.Path.home() / ".cache" / "zkdl"


def test_concurrent_first_use(zkdl_cache):
    L = "tests/concurrent"
    results, errors = [], []

    def work(k):
        try:
            results.append(generators(L, k))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in (40, 10, 64, 25, 64, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    full = derive(L, 64)
    assert sorted(len(r) for r in results) == [1, 10, 25, 40, 64, 64]
    for r in results:
        assert r == full[: len(r)]
    assert [p.name for p in zkdl_cache.iterdir()] == [gens._cache_path(L).name]
    gens._memo.clear()
    assert generators(L, 64) == full
