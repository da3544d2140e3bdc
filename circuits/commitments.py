"""Commitments outside the proof and their row algebra (docs/protocol.md §11, "Commitments
outside the proof" and "Derived, never committed").

:class:`ModelCommitment` (per layer: W without its bias row, and the bias) and
:class:`DatasetCommitment` (one row commitment per example), their encodings, and the Hyrax row
homomorphisms the window protocol derives tensors with: the dataset's rows selected by the batch
schedule (``_select_rows``), the master weights a chain starts from, Com(M_0) = 2^(R+k) Com(W)
(:func:`master_of`, :class:`MasterCommitment`), and the commitments to the validity mask of a
layout (cached in ``_MASK_ROWS``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from zkdl.codec import ProofFormatError, Reader, Writer, require_canonical, unwrap, wrap
from zkdl.curve import PointVec
from zkdl.errors import ZkdlError
from zkdl.field import FrVec
from zkdl.fixedpoint import FixedPointConfig
from zkdl.hyrax import HyraxCommitment, HyraxSecret
from zkdl.pedersen import PedersenKey

from .layout import MAX_LAYERS, WindowLayout, _bits
from .tensors import Layout

#: container kind of a dataset commitment file (here, not in .statement with the other kinds:
#: .statement imports this module)
DATASET_KIND = 0x0103


# ============================================================================ model and data
@dataclass(eq=False)
class ModelCommitment:
    """Per layer: Hyrax commitments to W (d_in x d_out, without the bias row) and to the bias; and
    the one-time proof that every committed weight lies in [-2^(Q-1), 2^(Q-1)) (`range_proof`,
    made by commit_model / prove_model_range, checked by verify_model).  A chain of training
    windows, and every inference proof, starts from a model whose range proof verifies.  Equality
    and the digest are of the commitments only."""

    W: list[HyraxCommitment]
    b: list[HyraxCommitment]
    range_proof: bytes | None = None

    def write(self, w: Writer) -> None:
        w.u32(len(self.W))
        for cw, cb in zip(self.W, self.b):
            cw.write(w)
            cb.write(w)

    @classmethod
    def read(cls, r: Reader, config: FixedPointConfig) -> "ModelCommitment":
        L = r.u32("layers", MAX_LAYERS)
        if L != config.num_layers:
            raise ProofFormatError(f"model commitment: {L} layers, the architecture has {config.num_layers}")
        lay = WindowLayout(config, 1)
        W, b = [], []
        for i in range(L):
            W.append(HyraxCommitment.read(r, lay.weight(i).num_vars, lay.weight(i).col_vars))
            b.append(HyraxCommitment.read(r, lay.bias(i).num_vars, lay.bias(i).col_vars))
        return cls(W, b)

    def __eq__(self, other) -> bool:
        return isinstance(other, ModelCommitment) and self.W == other.W and self.b == other.b

    def to_bytes(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()


class MasterCommitment(ModelCommitment):
    """Commitments to master weights M (scale 2^(2R+k), semantics v2), in the model's layout: a
    window's start and end weights.  Encoded like a ModelCommitment, never range-proven (an
    integer combination of range-checked values, docs/protocol.md §11), and never equal to a
    ModelCommitment: a chain that starts from a model W starts from master_of(config, W)."""

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self.W == other.W and self.b == other.b

    def encoding(self) -> bytes:
        """The bytes write() produces (cached: the commitment is never modified)."""
        enc = getattr(self, "_encoding", None)
        if enc is None:
            enc = self._encoding = self.to_bytes()
        return enc

    @classmethod
    def read_known(cls, r: Reader, config: FixedPointConfig, known: "MasterCommitment | None") -> "MasterCommitment":
        """read(), except that when the next bytes are exactly ``known``'s encoding (a commitment
        already decoded and checked: a chain's start, the previous window's end) and its shapes
        are the configuration's, ``known`` itself is returned without decoding its points again
        (the same object strict decoding would give, and its points are already known to lie in
        the prime-order subgroup).  Anything else is decoded strictly."""
        if isinstance(known, MasterCommitment) and _shapes_match(config, known):
            enc = known.encoding()
            if r.peek(len(enc)) == enc:
                r.skip(len(enc))
                return known
        return cls.read(r, config)


def _shapes_match(config: FixedPointConfig, mc: ModelCommitment) -> bool:
    if len(mc.W) != config.num_layers or len(mc.b) != config.num_layers:
        return False
    lay = WindowLayout(config, 1)
    return all((c.num_vars, c.col_vars) == (t.num_vars, t.col_vars)
               for i in range(config.num_layers)
               for c, t in ((mc.W[i], lay.weight(i)), (mc.b[i], lay.bias(i))))


def master_of(config: FixedPointConfig, model: ModelCommitment) -> MasterCommitment:
    """Com(M_0) = 2^(R+k) Com(W): the master weights a chain starting from ``model`` starts
    from (a public linear map of its row commitments)."""
    if isinstance(model, MasterCommitment):
        raise ZkdlError("master_of: the commitment already holds master weights")
    cache = model.__dict__.setdefault("_masters", {})   # per model object: commitments never change
    f = 1 << config.master_bits
    if f not in cache:
        cache[f] = MasterCommitment([c.scale(f) for c in model.W], [c.scale(f) for c in model.b])
    return cache[f]


@dataclass(eq=False)
class DatasetCommitment:
    """One row commitment per example for its features and one for its target (label), and the
    one-time proof that every committed value lies in [-2^(Q-1), 2^(Q-1)) (`range_proof`, made by
    commit_dataset; checked once per process by verify_window, see verify_dataset)."""

    n: int
    d_in: int
    d_out: int
    X: PointVec
    Y: PointVec
    range_proof: bytes | None = None

    def write(self, w: Writer) -> None:
        w.u32(self.n).u32(self.d_in).u32(self.d_out)
        w.raw(self.X.to_bytes())
        w.raw(self.Y.to_bytes())

    def core_bytes(self) -> bytes:
        """The commitment itself (what the digest and the statements bind)."""
        w = Writer()
        self.write(w)
        return w.getvalue()

    def to_bytes(self) -> bytes:
        w = Writer()
        self.write(w)
        w.blob(self.range_proof or b"")
        return wrap(DATASET_KIND, w.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> "DatasetCommitment":
        r = Reader(unwrap(data, DATASET_KIND))
        n = r.u32("examples", 1 << 28)
        d_in, d_out = r.u32("d_in", 1 << 20), r.u32("d_out", 1 << 20)
        if n < 1 or d_in < 1 or d_out < 1:
            raise ProofFormatError("dataset commitment: empty dataset or zero width")
        X = _read_points(r, "dataset X rows", n)
        Y = _read_points(r, "dataset Y rows", n)
        proof = r.blob("dataset range proof", 1 << 31)
        r.done()
        out = cls(n, d_in, d_out, X, Y, proof or None)
        require_canonical(data, out.to_bytes(), "dataset commitment")
        return out

    def digest(self) -> bytes:
        return hashlib.blake2b(self.core_bytes(), digest_size=32, person=b"zkdl-dataset").digest()


def _read_points(r: Reader, what: str, n: int) -> PointVec:
    from zkdl.errors import EncodingError

    raw = r._take(48 * n, what)
    try:
        return PointVec.from_bytes(raw)
    except EncodingError as e:
        raise ProofFormatError(f"{what}: {e}") from None


def _dataset_layouts(n: int, d_in: int, d_out: int) -> tuple[Layout, Layout]:
    return Layout((n, d_in), _bits(d_in)), Layout((n, d_out), _bits(d_out))


def _dataset_rows(rows: PointVec, lay: Layout) -> HyraxCommitment:
    npad = lay.padded[0]
    return HyraxCommitment(PointVec.concat([rows, PointVec.identity(npad - len(rows))]), lay.num_vars, lay.col_vars)


# ============================================================================ row algebra
_MASK_ROWS: dict = {}


def _mask_rows(key: PedersenKey, lay: Layout) -> PointVec:
    """Commitments (blind 0) to the rows of the layout's 0/1 validity table (cached)."""
    ck = (key.label, lay)
    if ck not in _MASK_ROWS:
        if len(_MASK_ROWS) > 256:
            _MASK_ROWS.clear()
        _MASK_ROWS[ck] = _mask_rows_uncached(key, lay)
    return _MASK_ROWS[ck]


def _mask_rows_uncached(key: PedersenKey, lay: Layout) -> PointVec:
    c = lay.col_vars
    rows = lay.mask.reshape(-1, 1 << c)
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    com = key.commit_rows(uniq, FrVec.zeros(len(uniq)))
    return com[np.asarray(inv).reshape(-1)]


def _select_rows(lay: WindowLayout, rows: PointVec, blinds, values: np.ndarray | None, batches, stacked: Layout):
    """The data stack: dataset rows of every step's batch, identity rows for padding."""
    T, B = lay.T, lay.config.batch_size
    Tp, Bp = 1 << _bits(T), 1 << _bits(B)
    idx = np.full((Tp, Bp), -1, dtype=np.int64)
    idx[:T, :B] = np.stack(batches)
    flat = idx.reshape(-1)
    valid = flat >= 0
    pts = PointVec.identity(len(flat))
    sel = rows[flat[valid]]
    limbs = pts.limbs.copy()
    limbs[valid] = sel.limbs
    com = HyraxCommitment(PointVec(limbs), stacked.num_vars, stacked.col_vars)
    sec = None
    if values is not None:
        d = values.shape[1]
        arr = np.zeros((Tp, Bp, 1 << stacked.col_vars), dtype=np.int64)
        arr[:T, :B, :d] = values[np.stack(batches)]
        bl = FrVec.zeros(len(flat))
        bl.limbs[valid] = blinds.limbs[flat[valid]]
        sec = HyraxSecret(FrVec.from_int64(arr.reshape(-1)), bl, stacked.num_vars, stacked.col_vars)
    return com, sec
