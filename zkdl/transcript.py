"""Fiat–Shamir transcript shared by prover and verifier.

Everything absorbed is labeled and length-prefixed: ``u32 len(label) || label || u64 len(data) ||
data`` is fed to a running BLAKE2b-512 state.  A challenge with label L is
``BLAKE2b-512(state || "challenge" || L)`` (64 bytes, big-endian) reduced mod r (bias < 2^-250),
after which the 64 output bytes are absorbed too, so later challenges depend on earlier ones.
A transcript starts with a protocol domain separator; sub-proofs add their own with
:meth:`Transcript.domain`.  The public statement must be absorbed before any prover message.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Iterable

from .curve import G1, PointVec
from .errors import ZkdlError
from .field import R_MODULUS, FrVec

_VERSION_TAG = b"zkdl-transcript-v1"


class Transcript:
    """A labeled Fiat–Shamir transcript (see module docstring)."""

    __slots__ = ("_h",)

    def __init__(self, protocol: bytes | str):
        self._h = hashlib.blake2b(digest_size=64)
        self._absorb(b"protocol", _VERSION_TAG + b"/" + _as_bytes(protocol))

    def _absorb(self, label: bytes, data: bytes) -> None:
        self._h.update(struct.pack("<I", len(label)) + label + struct.pack("<Q", len(data)))
        self._h.update(data)

    # ------------------------------------------------------------------ absorbing
    def domain(self, label: bytes | str) -> None:
        """Domain separation for a sub-protocol."""
        self._absorb(b"domain", _as_bytes(label))

    def append_bytes(self, label: bytes | str, data: bytes) -> None:
        self._absorb(_as_bytes(label), bytes(data))

    def append_u64(self, label: bytes | str, value: int) -> None:
        if not 0 <= value < 1 << 64:
            raise ZkdlError(f"transcript: {value} does not fit in u64")
        self._absorb(_as_bytes(label), struct.pack("<Q", value))

    def append_scalar(self, label: bytes | str, x: int) -> None:
        self._absorb(_as_bytes(label), (int(x) % R_MODULUS).to_bytes(32, "little"))

    def append_scalars(self, label: bytes | str, xs: Iterable[int] | FrVec) -> None:
        data = xs.to_bytes() if isinstance(xs, FrVec) else b"".join(
            (int(x) % R_MODULUS).to_bytes(32, "little") for x in xs)
        self._absorb(_as_bytes(label), data)

    def append_point(self, label: bytes | str, p: G1) -> None:
        self._absorb(_as_bytes(label), p.to_bytes())

    def append_points(self, label: bytes | str, ps: PointVec | Iterable[G1]) -> None:
        if not isinstance(ps, PointVec):
            ps = PointVec.from_points(list(ps))
        self._absorb(_as_bytes(label), ps.to_bytes())

    # ------------------------------------------------------------------ squeezing
    def challenge_scalar(self, label: bytes | str) -> int:
        d = self._h.copy()
        d.update(b"challenge" + struct.pack("<I", len(lab := _as_bytes(label))) + lab)
        out = d.digest()
        self._absorb(b"challenge-output", out)
        return int.from_bytes(out, "big") % R_MODULUS

    def challenge_scalars(self, label: bytes | str, n: int) -> list[int]:
        lab = _as_bytes(label)
        return [self.challenge_scalar(lab + b"/" + str(i).encode()) for i in range(n)]

    def fork(self) -> "Transcript":
        """An independent copy (for simulators and tests)."""
        t = Transcript.__new__(Transcript)
        t._h = self._h.copy()
        return t


def _as_bytes(label: bytes | str) -> bytes:
    if isinstance(label, str):
        return label.encode("utf-8")
    if isinstance(label, (bytes, bytearray)):
        return bytes(label)
    raise ZkdlError(f"transcript label must be bytes or str, got {type(label).__name__}")


class ProgrammedTranscript(Transcript):
    """The interactive form of a protocol, for zero-knowledge simulators and their tests: absorbs
    nothing and answers challenges from a given list, in order.  Never use it in a real proof."""

    __slots__ = ("_queue",)

    def __init__(self, challenges):
        self._queue = list(challenges)

    def _absorb(self, label: bytes, data: bytes) -> None:
        pass

    def challenge_scalar(self, label: bytes | str) -> int:
        if not self._queue:
            raise ZkdlError("programmed transcript: no challenge left")
        return self._queue.pop(0) % R_MODULUS

    def remaining(self) -> int:
        return len(self._queue)

    def fork(self) -> "ProgrammedTranscript":
        return ProgrammedTranscript(self._queue)
