"""Binary proof format: a strict writer/reader pair and the versioned container.

Container: ``b"ZKDL" || u16 version || u16 kind || u64 body length || body``.  Inside a body:
scalars are 32-byte little-endian canonical values (< r), points 48-byte ZCash-compressed G1
encodings, counts u32 little-endian.  The reader rejects, with a :class:`ProofFormatError`
naming the field: truncation, trailing bytes, non-canonical scalars, invalid points (off curve,
outside the subgroup, bad flags), counts above the bound the caller passes, wrong magic,
version or kind.  It never trusts a length it reads without a bound.
"""
from __future__ import annotations

import struct

from .curve import G1, PointVec
from .errors import EncodingError, ZkdlError
from .field import R_MODULUS, FrVec

MAGIC = b"ZKDL"
#: 2: statements encode every field with exactly one accepted byte string (round-trip checked);
#: model commitment files carry a range proof; windows no longer range-check their first weights
#: (the model commitment a chain starts from does).  Version 1 files are refused.
FORMAT_VERSION = 3


class ProofFormatError(EncodingError):
    """Bytes that are not a well-formed zkdl proof."""


class Writer:
    __slots__ = ("_parts",)

    def __init__(self):
        self._parts: list[bytes] = []

    def u32(self, v: int) -> "Writer":
        if not 0 <= v < 1 << 32:
            raise ZkdlError(f"u32 out of range: {v}")
        self._parts.append(struct.pack("<I", v))
        return self

    def u64(self, v: int) -> "Writer":
        if not 0 <= v < 1 << 64:
            raise ZkdlError(f"u64 out of range: {v}")
        self._parts.append(struct.pack("<Q", v))
        return self

    def scalar(self, x: int) -> "Writer":
        self._parts.append((int(x) % R_MODULUS).to_bytes(32, "little"))
        return self

    def scalars(self, xs) -> "Writer":
        """Length-prefixed scalar list (list of ints or FrVec)."""
        if isinstance(xs, FrVec):
            self.u32(len(xs))
            self._parts.append(xs.to_bytes())
        else:
            xs = list(xs)
            self.u32(len(xs))
            for x in xs:
                self.scalar(x)
        return self

    def point(self, p: G1) -> "Writer":
        self._parts.append(p.to_bytes())
        return self

    def points(self, ps) -> "Writer":
        """Length-prefixed point list (PointVec or list of G1)."""
        if not isinstance(ps, PointVec):
            ps = PointVec.from_points(list(ps))
        self.u32(len(ps))
        self._parts.append(ps.to_bytes())
        return self

    def raw(self, b: bytes) -> "Writer":
        self._parts.append(bytes(b))
        return self

    def blob(self, b: bytes) -> "Writer":
        self.u32(len(b))
        self._parts.append(bytes(b))
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    __slots__ = ("_buf", "_pos")

    def __init__(self, data: bytes):
        self._buf = memoryview(bytes(data))
        self._pos = 0

    def _take(self, n: int, what: str) -> bytes:
        if n < 0 or self._pos + n > len(self._buf):
            raise ProofFormatError(f"truncated proof: {what} needs {n} bytes at offset {self._pos}, "
                                   f"{len(self._buf) - self._pos} left")
        out = self._buf[self._pos : self._pos + n].tobytes()
        self._pos += n
        return out

    def peek(self, n: int) -> bytes:
        """The next n bytes (fewer at the end), without consuming them."""
        return self._buf[self._pos : self._pos + max(0, n)].tobytes()

    def skip(self, n: int) -> None:
        self._take(n, "skipped bytes")

    def u32(self, what: str = "count", max_value: int = 1 << 32) -> int:
        (v,) = struct.unpack("<I", self._take(4, what))
        if v > max_value:
            raise ProofFormatError(f"{what}: {v} exceeds the bound {max_value}")
        return v

    def u64(self, what: str = "u64") -> int:
        (v,) = struct.unpack("<Q", self._take(8, what))
        return v

    def scalar(self, what: str = "scalar") -> int:
        v = int.from_bytes(self._take(32, what), "little")
        if v >= R_MODULUS:
            raise ProofFormatError(f"{what}: non-canonical scalar (>= r)")
        return v

    def _count(self, what: str, max_len: int, exact: int | None, items: str) -> int:
        """A list's u32 length prefix, at most max_len and, when given, exactly exact."""
        n = self.u32(f"{what} length", max_len)
        if exact is not None and n != exact:
            raise ProofFormatError(f"{what}: {n} {items}, expected {exact}")
        return n

    def scalars(self, what: str, max_len: int, exact: int | None = None) -> list[int]:
        n = self._count(what, max_len, exact, "scalars")
        return [self.scalar(f"{what}[{i}]") for i in range(n)]

    def scalar_vec(self, what: str, max_len: int, exact: int | None = None) -> FrVec:
        """Length-prefixed scalars as one FrVec (strict: each canonical, < r)."""
        n = self._count(what, max_len, exact, "scalars")
        raw = self._take(32 * n, what)
        try:
            return FrVec.from_bytes(raw, n)
        except ZkdlError as e:                      # a value >= r
            raise ProofFormatError(f"{what}: non-canonical scalar ({e})") from None

    def point(self, what: str = "point") -> G1:
        raw = self._take(48, what)
        try:
            return G1.from_bytes(raw)
        except EncodingError as e:
            raise ProofFormatError(f"{what}: {e}") from None

    def points(self, what: str, max_len: int, exact: int | None = None) -> PointVec:
        n = self._count(what, max_len, exact, "points")
        raw = self._take(48 * n, what)
        try:
            return PointVec.from_bytes(raw)
        except EncodingError as e:
            raise ProofFormatError(f"{what}: {e}") from None

    def blob(self, what: str, max_len: int) -> bytes:
        n = self.u32(f"{what} length", max_len)
        return self._take(n, what)

    def done(self) -> None:
        if self._pos != len(self._buf):
            raise ProofFormatError(f"{len(self._buf) - self._pos} trailing bytes after the proof")


#: kinds whose format moved past FORMAT_VERSION.  Window proofs (0x0101) and inference proofs
#: (0x0114) of version 7 stack the layers into one instance per relation (FAC4DNN), reduce the
#: claims of their openings per point, leave the openings' combined row commitments out of the
#: transcript and absorb each zk sumcheck's claim instead of its final equality's two sides;
#: window proofs of version 8 also prove ReLU and G_Z = S * G_A by one sumcheck (version 7: two).
#: Window proofs of version 9, inference proofs of version 8, and version 4 of statements (0x0102),
#: inference statements (0x0104), link proofs (0x0107) and model files (0x0201) commit weight
#: matrices nearly square (circuits/layout.py, weight_col_vars); inference proofs of version 8 also
#: open groups of at most 2^9 columns with the linear dot-product proof; datasets (0x0103) keep 3.
#: Window proofs of version 10 and inference proofs of version 9 end each logUp layer with two
#: product proofs, qR (pL + lambda qL) and pR qL (docs/protocol.md §6), where the versions before
#: took three.  Window proofs of version 11 and inference proofs of version 10 claim the weights of
#: the layers of one shape as one combination (circuits/history.py, classes), where the versions
#: before sent one committed value per layer and relation, and may look up each top limb of fewer
#: than b bits once in a tagged table (zkdl/logup.py, Table; circuits/layout.lookup_tagged decides
#: from the shapes), where they always looked it up twice.
KIND_VERSIONS = {0x0101: 11, 0x0114: 10, 0x0102: 4, 0x0104: 4, 0x0107: 4, 0x0201: 4}

_WEIGHT_LAYOUT = ("its weight commitments have the earlier layout (rows of 2^10 columns or more; "
                  "weights are now committed nearly square, at most 2^8 rows)")
_PROOF_HISTORY = {3: "it proves each layer on its own (this zkdl proves every relation over all layers at "
                     "once, FAC4DNN)",
                  4: "it reduces the claims of its openings per tensor",
                  5: "its openings absorb their combined row commitments in the transcript",
                  6: "its zk sumchecks absorb both sides of their final equality in the transcript"}
#: per kind, why a file of an earlier version (at least FORMAT_VERSION) is refused
_LOGUP_THREE = "its range check ends each logUp layer with three product proofs (now two)"
_PER_LAYER = ("it claims every layer's weights on their own and looks up every top limb twice (now one claim per "
              "class of layers of one shape, opened as a combination, and top limbs once, in a tagged table, where "
              "that is cheaper)")
EARLIER = {0x0101: {**_PROOF_HISTORY, 7: "it proves ReLU and G_Z = S * G_A by two sumchecks", 8: _WEIGHT_LAYOUT,
                    9: _LOGUP_THREE, 10: _PER_LAYER},
           0x0114: {**_PROOF_HISTORY, 7: _WEIGHT_LAYOUT + "; it opens every group by the logarithmic dot-product proof",
                    8: _LOGUP_THREE, 9: _PER_LAYER},
           **{k: {3: _WEIGHT_LAYOUT} for k in (0x0102, 0x0104, 0x0107, 0x0201)}}


def wrap(kind: int, body: bytes) -> bytes:
    """Container with magic, version, kind and body length."""
    return MAGIC + struct.pack("<HHQ", KIND_VERSIONS.get(kind, FORMAT_VERSION), kind, len(body)) + body


def require_canonical(data: bytes, reencoded: bytes, what: str) -> None:
    """Every object has exactly one accepted encoding: the bytes read must be the bytes its
    parsed value writes (so a file's digest identifies what it says)."""
    if bytes(data) != reencoded:
        raise ProofFormatError(f"{what}: non-canonical encoding (the bytes differ from the canonical "
                               "encoding of the same value)")


def unwrap(data: bytes, kind: int) -> bytes:
    """Body of a container, checking magic, version, kind and length exactly."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProofFormatError("proof must be bytes")
    data = bytes(data)
    if len(data) < 16:
        raise ProofFormatError(f"not a zkdl proof: {len(data)} bytes is shorter than the header")
    if data[:4] != MAGIC:
        raise ProofFormatError("not a zkdl proof: bad magic")
    version, got_kind, length = struct.unpack_from("<HHQ", data, 4)
    want = KIND_VERSIONS.get(kind, FORMAT_VERSION)
    reason = EARLIER.get(kind, {}).get(version) if got_kind == kind and version < want else None
    if reason is not None:
        older = "an older" if version == FORMAT_VERSION and kind in (0x0101, 0x0114) else "an earlier"
        raise ProofFormatError(f"file of format version {version}, made by {older} zkdl: {reason}; this zkdl reads "
                               f"version {want}; re-create it (commit the model / prove it again) with this zkdl")
    if version != want:
        if version < FORMAT_VERSION:
            raise ProofFormatError(f"file of format version {version}, made by an older zkdl: this zkdl reads only "
                                   f"version {FORMAT_VERSION} (earlier versions proved rounded weight updates, "
                                   "semantics v1, or did not range-check every chain start); re-create it (commit the model / prove the run again) with this zkdl")
        raise ProofFormatError(f"unsupported format version {version} (this zkdl reads {want}); "
                               "upgrade zkdl")
    if got_kind != kind:
        raise ProofFormatError(f"wrong proof kind {got_kind}, expected {kind}")
    if length != len(data) - 16:
        raise ProofFormatError(f"proof body is {len(data) - 16} bytes, header says {length}")
    return data[16:]
