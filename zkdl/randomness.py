"""Where the prover's randomness comes from (blinds, masking polynomials, Σ-protocol nonces).

By default: the OS entropy source (:mod:`secrets`).  Inside :func:`derived` it comes instead from a
PRF keyed by a per-run secret (the spool's ``private/prover.key``), so that any process holding the
key and the witness recomputes it bit for bit: that is what lets windows of one run be proven in
parallel by different workers (each recomputes the commitment its window starts from, identical to
the one the previous window ends with) and makes a run proven by 1 worker and by N workers
byte-identical (docs/protocol.md §12).

The PRF is SHAKE-256 in counter mode over a domain tag, the key and a length-prefixed label; the
label names what is being proven *and binds the witness* (a digest of it), like deterministic
nonces (RFC 6979): the same input is never used for two different witnesses, so deterministic
randomness reveals no more than fresh randomness would (two identical proofs of one witness).

Only the prover's randomness goes through here.  A verifier's own randomness (the batching
coefficients of :func:`zkdl.sigma.batched_checks`, spot checks) is always drawn from
:mod:`secrets` directly: a prover must never be able to predict it.
"""
from __future__ import annotations

import contextvars
import hashlib
import secrets
from contextlib import contextmanager

from .errors import ZkdlError

_DOMAIN = b"zkdl-prover-prf-v1"
KEY_BYTES = 32


class _Prf:
    """SHAKE-256(domain || key || label || counter), one counter value per draw."""

    def __init__(self, key: bytes, label: bytes):
        self._prefix = _DOMAIN + len(key).to_bytes(2, "little") + key + len(label).to_bytes(4, "little") + label
        self._counter = 0

    def token_bytes(self, n: int) -> bytes:
        h = hashlib.shake_256(self._prefix + self._counter.to_bytes(8, "little"))
        self._counter += 1
        return h.digest(n)


_source: contextvars.ContextVar["_Prf | None"] = contextvars.ContextVar("zkdl_prover_randomness", default=None)


def token_bytes(n: int) -> bytes:
    """n uniformly random bytes for the prover: OS entropy, or the PRF of the enclosing derived()."""
    src = _source.get()
    return secrets.token_bytes(n) if src is None else src.token_bytes(n)


def new_key() -> bytes:
    """A fresh per-run PRF key from the OS entropy source."""
    return secrets.token_bytes(KEY_BYTES)


def _encode(part) -> bytes:
    if isinstance(part, (bytes, bytearray)):
        b, tag = bytes(part), b"b"
    elif isinstance(part, str):
        b, tag = part.encode(), b"s"
    elif isinstance(part, int) and not isinstance(part, bool):
        if part < 0:
            raise ZkdlError("derived randomness: label integers must be >= 0")
        b, tag = part.to_bytes((part.bit_length() + 7) // 8 or 1, "little"), b"i"
    else:
        raise ZkdlError(f"derived randomness: label part of type {type(part).__name__}")
    return tag + len(b).to_bytes(4, "little") + b


@contextmanager
def derived(key: bytes, *label):
    """Within the block, the prover's randomness is PRF(key, label): label parts are bytes, str or
    non-negative ints, encoded unambiguously.  Callers put a digest of the witness in the label."""
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise ZkdlError("derived randomness: the key must be at least 16 bytes")
    tok = _source.set(_Prf(bytes(key), b"".join(_encode(p) for p in label)))
    try:
        yield
    finally:
        _source.reset(tok)


def is_derived() -> bool:
    return _source.get() is not None
