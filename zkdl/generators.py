"""Generator vectors for Pedersen/Hyrax commitments, derived by hash-to-curve from a public label.

Point i of label L is the image of a hash-to-curve map applied to
``SHAKE256(DST || len(L) || L || i, 65 bytes)``:

* x0 = first 64 bytes (big-endian) mod p, sign = last byte & 1;
* x = x0, x0 + 1, x0 + 2, ... until x^3 + 4 is a square in Fp ("try and increment");
* y = the square root whose "larger than (p-1)/2" flag equals sign;
* P = [h_eff] (x, y) with h_eff = 0xd201000000010001, which maps E(Fp) into G1.

Every step is public and deterministic, so nobody knows a discrete logarithm between any two
generators (unlike g * r_i with prover-known r_i, which makes commitments non-binding).
Timing is irrelevant here (the inputs are public).

Derived vectors are cached on disk (``$ZKDL_CACHE_DIR`` or ``~/.cache/zkdl``), one file per label,
written atomically.  A cache file is validated on load: magic, label and count in the header,
a SHA-256 digest of the whole content, every point on the curve, the first 4096 points (all a
verifier's Hyrax rows need) in the prime-order subgroup, and a few points (first, last and random
ones) re-derived and compared.  A file that fails is reported and rebuilt.  These checks catch
corruption and stale files; they do not make the cache a security boundary: a file rewritten
with care by someone who can write to the cache directory (and could as well edit the installed
code) may pass for points past the first 4096, so keep the cache directory as private as the
installation itself (files are created with mode 0600).
"""
from __future__ import annotations

import hashlib
import os
import secrets
import struct
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from . import _native
from .curve import P_MODULUS, G1, PointVec
from .errors import CacheError, ZkdlError

DST = b"zkdl-v1:BLS12-381:G1:try-and-increment:SHAKE256"
_MAGIC = b"ZKDLGEN1"
_SPOT_CHECKS = 4
_FULL_CHECK = 4096  # points of a cache file checked for subgroup membership on load
_lock = threading.Lock()
_memo: dict[str, PointVec] = {}


def _seed(label: bytes, i: int) -> bytes:
    return hashlib.shake_256(DST + struct.pack("<I", len(label)) + label + struct.pack("<Q", i)).digest(65)


def derive(label: str, count: int, start: int = 0) -> PointVec:
    """Derive generators start .. start+count-1 of `label` (no cache)."""
    if count < 0 or start < 0:
        raise ZkdlError("derive: count and start must be non-negative")
    lab = _label_bytes(label)
    xs = bytearray(48 * count)
    signs = bytearray(count)
    for j in range(count):
        h = _seed(lab, start + j)
        x0 = int.from_bytes(h[:64], "big") % P_MODULUS
        xs[48 * j : 48 * j + 48] = x0.to_bytes(48, "little")
        signs[j] = h[64] & 1
    out = np.zeros((count, 12), dtype=np.uint64)
    _native.g1_hash_to_curve(out, np.frombuffer(bytes(xs), dtype=np.uint8),
                             np.frombuffer(bytes(signs), dtype=np.uint8))
    return PointVec(out)


def cache_dir() -> Path:
    env = os.environ.get("ZKDL_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "zkdl"


def _label_bytes(label: str) -> bytes:
    if not isinstance(label, str) or not label:
        raise ZkdlError("generator label must be a non-empty string")
    return label.encode("utf-8")


def _cache_path(label: str) -> Path:
    return cache_dir() / f"g1-{hashlib.sha256(_label_bytes(label)).hexdigest()[:32]}.bin"


def _encode_cache(label: str, pts: PointVec) -> bytes:
    lab = _label_bytes(label)
    body = _MAGIC + struct.pack("<I", len(lab)) + lab + struct.pack("<Q", len(pts)) + pts.limbs.astype("<u8").tobytes()
    return body + hashlib.sha256(body).digest()


def _decode_cache(label: str, data: bytes) -> PointVec:
    lab = _label_bytes(label)
    head = len(_MAGIC) + 4
    if len(data) < head + 8 + 32 or data[: len(_MAGIC)] != _MAGIC:
        raise CacheError("not a zkdl generator cache file")
    body, digest = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != digest:
        raise CacheError("digest mismatch (file corrupt or truncated)")
    (llen,) = struct.unpack_from("<I", data, len(_MAGIC))
    if data[head : head + llen] != lab:
        raise CacheError("label mismatch")
    (count,) = struct.unpack_from("<Q", data, head + llen)
    payload = body[head + llen + 8 :]
    if len(payload) != 96 * count:
        raise CacheError("length mismatch")
    pts = PointVec(np.frombuffer(payload, dtype="<u8").astype(np.uint64).reshape(count, 12))
    try:
        pts[:_FULL_CHECK].validate(subgroup=True)
        pts[_FULL_CHECK:].validate(subgroup=False)
    except ZkdlError as e:
        raise CacheError(f"invalid point: {e}") from None
    if count:
        picks = {0, count - 1} | {secrets.randbelow(count) for _ in range(_SPOT_CHECKS - 2)}
        for i in sorted(picks):
            if derive(label, 1, i) != pts[i : i + 1]:
                raise CacheError(f"generator {i} does not match its derivation")
    return pts


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def generators(label: str, count: int, use_cache: bool = True) -> PointVec:
    """The first `count` generators of `label` (a prefix of every longer vector of that label)."""
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise ZkdlError(f"generator count must be a non-negative integer, got {count!r}")
    count = int(count)
    with _lock:
        have = _memo.get(label)
        if have is not None and len(have) >= count:
            return have[:count]
        if have is None and use_cache:
            have = _load(label)
        have = have if have is not None else PointVec.identity(0)
        if len(have) < count:
            have = PointVec.concat([have, derive(label, count - len(have), len(have))])
            if use_cache:
                try:
                    _write_atomic(_cache_path(label), _encode_cache(label, have))
                except OSError as e:
                    warnings.warn(f"zkdl: could not write generator cache: {e}")
        _memo[label] = have
        return have[:count]


def _load(label: str) -> PointVec | None:
    path = _cache_path(label)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return _decode_cache(label, data)
    except CacheError as e:
        warnings.warn(f"zkdl: ignoring generator cache {path}: {e}; it will be rebuilt")
        return None


def blinding_generator(label: str) -> G1:
    """The blinding generator h of a Pedersen scheme: a separate label, same derivation."""
    return derive(label + "/blinding", 1)[0]
