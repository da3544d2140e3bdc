"""FAC4DNN proof of a window of fixed-point training steps (docs/protocol.md §10, docs/semantics.md).

Every tensor of every step of the window is stacked along a leading step axis (padded to a power
of two), layer by layer, so one sumcheck per (relation kind, layer) covers all T steps.  The
protocol is written once, as :func:`_protocol` over a :mod:`zkdl.circuits.channel` channel, and run by
the prover (:func:`prove_window`) and the verifier (:func:`verify_window`).

Committed per window (all as Hyrax commitments, range-checked ones as 16-bit limbs):

    per layer l < L:  S (ReLU sign, 0/1), P = S(Z'-1) + (1-S)(-Z') in [0, 2^(Q-1)) (zkReLU: Z' is
                      never committed; Z' = 2A - S - P and A = S*(P+1)), E (forward remainder),
                      G_A, E' (backward remainder)
    last layer:       Yhat = Z'_L in [-2^(Q-1), 2^(Q-1)), E
    every layer:      dW, db (the update, |.| < 2^(Q-1)), E'', E''_b (update remainders, R+k bits)
    once:             m, the multiplicities of the 16-bit lookup table

Derived (never committed): Z, the activations A, the gradients G_Z, the weight gradients G_W, the
data stacks X, Y (rows of the dataset commitment selected by the public batch schedule) and the
weight stacks W_t = W_0 - sum_{s<t} dW_s (Hyrax row homomorphism), and the weights after the
window, which must equal the statement's.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from zkdl import logup
from zkdl.codec import ProofFormatError, Reader, Writer, require_canonical, unwrap, wrap
from zkdl.curve import PointVec
from zkdl.errors import FieldRangeError, VerificationError, ZkdlError
from zkdl.field import R_MODULUS, FrVec
from zkdl.fixedpoint import FixedPointConfig, batch_indices
from zkdl.hyrax import HyraxCommitment, HyraxSecret
from zkdl.mle import ceil_log2, eq_eval
from zkdl.pedersen import PedersenKey
from zkdl.sumcheck import SumcheckSpec, Term
from zkdl.transcript import Transcript

from .channel import Channel, Claimed, VerifierChannel, lincomb
from .matmul import MatmulShape, _bind_axis
from .tensors import Claims, Layout, RangeSpec, RangeTensor, Tensor, default_col_vars

P = R_MODULUS
KEY_LABEL = "zkdl/train/v1"
PROOF_KIND = 0x0101
STATEMENT_KIND = 0x0102
DATASET_KIND = 0x0103
MAX_LAYERS = 64
MAX_STEPS = 1 << 16


def _eq_tab(u: Sequence[int]) -> FrVec:
    return FrVec.eq_table(list(u)) if len(u) else FrVec.ones(1)


def _bits(n: int) -> int:
    return ceil_log2(n)


# ============================================================================ layouts
@dataclass(frozen=True)
class WindowLayout:
    """Padded shapes of every stacked tensor of a window of T steps."""

    config: FixedPointConfig
    T: int

    @property
    def L(self) -> int:
        return self.config.num_layers

    def act(self, i: int) -> Layout:
        """Output of layer i + 1 (and its gradients), stacked: (T, B, d_{i+1})."""
        return Layout((self.T, self.config.batch_size, self.config.widths[i + 1]))

    def data(self, d: int) -> Layout:
        return Layout((self.T, self.config.batch_size, d), _bits(d))

    def weight(self, i: int) -> Layout:
        """W_{i+1} without its bias row: (d_i, d_{i+1})."""
        d_in, d_out = self.config.widths[i], self.config.widths[i + 1]
        return Layout((d_in, d_out), default_col_vars(_bits(d_in) + _bits(d_out)))

    def weight_stack(self, i: int) -> Layout:
        w = self.weight(i)
        return Layout((self.T,) + w.valid, w.col_vars)

    def bias(self, i: int) -> Layout:
        d = self.config.widths[i + 1]
        return Layout((d,), _bits(d))

    def bias_stack(self, i: int) -> Layout:
        d = self.config.widths[i + 1]
        return Layout((self.T, d), _bits(d))

    def key_size(self) -> int:
        c = max([16 // 2 + 2] + [lay.col_vars for i in range(self.L)
                                 for lay in (self.act(i), self.weight(i), self.bias(i))]
                + [_bits(self.config.widths[0]), _bits(self.config.widths[-1])])
        return 1 << c


#: largest stacked tensor (padded entries) a verifier accepts to work on: a statement is read from
#: untrusted bytes, and its shapes decide the verifier's memory
MAX_TENSOR_VARS = 30


def _check_size(lay: WindowLayout) -> None:
    for i in range(lay.L):
        for what, t in (("activations", lay.act(i)), ("weights", lay.weight_stack(i))):
            if t.num_vars > MAX_TENSOR_VARS:
                raise VerificationError(f"statement: layer {i + 1} {what} of {t.valid} exceed 2^{MAX_TENSOR_VARS} "
                                        "entries; this verifier refuses such shapes")


def limb_bits(lay: WindowLayout, infer: bool = False) -> int:
    """Limb size of the range checks, a public function of the shapes: 16-bit limbs (a 2^16-entry
    table) unless the window is so small that the table would dominate the lookup; then 8."""
    n = 0
    for i in range(lay.L):
        n += (3 if infer else 6) * lay.act(i).size
        if not infer:
            n += 4 * lay.weight_stack(i).size + 4 * lay.bias_stack(i).size
    return 8 if 2 * n <= 1 << 16 else 16


_KEYS: dict[int, PedersenKey] = {}


def training_key(n: int) -> PedersenKey:
    """The Pedersen key of training proofs (hash-to-curve generators, label KEY_LABEL)."""
    if n not in _KEYS:
        _KEYS[n] = PedersenKey(KEY_LABEL, n)
    return _KEYS[n]


def model_key(config: FixedPointConfig) -> PedersenKey:
    return training_key(WindowLayout(config, 1).key_size())


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


def _commitment_range_protocol(ch: Channel, items, lb: int, strict: bool = True) -> None:
    """Range check of tensors committed elsewhere (items: (name, layout, spec, commitment,
    secret)): limbs 1.. sent, limb 0 derived from the commitment (_range_of), one logUp-GKR over
    every limb, grouped openings."""
    cl, rts = Claims(), {}
    for name, lay, spec, com, sec in items:
        _range_of(ch, cl, rts, name, lay, spec, com, sec, strict)
    with ch.check("range checks"):
        _lookup(ch, cl, rts, lb, strict)
    with ch.check("openings"):
        cl.open_all(ch)


def _range_limb_bits(n_values: int) -> int:
    return 16 if 2 * n_values > 1 << 16 else 8


def _dataset_protocol(ch: Channel, config: FixedPointConfig, data: DatasetCommitment, secrets=None,
                      strict: bool = True) -> None:
    """Range check of every committed dataset value (features and targets), once per run."""
    ch.t.domain(b"zkdl/dataset-range")
    ch.t.append_bytes(b"config", Writer().u32(config.R).u32(config.Q).getvalue())
    ch.t.append_bytes(b"dataset", data.core_bytes())
    lb = _range_limb_bits(data.n * (data.d_in + data.d_out))
    spec = RangeSpec(config.Q, 1 << (config.Q - 1), lb)
    items = [(name, lay, spec, _dataset_rows(rows, lay), sec)
             for name, rows, lay, sec in zip(("X", "Y"), (data.X, data.Y),
                                              _dataset_layouts(data.n, data.d_in, data.d_out),
                                              secrets or (None, None))]
    _commitment_range_protocol(ch, items, lb, strict)


def _model_protocol(ch: Channel, config: FixedPointConfig, model: ModelCommitment, secret=None,
                    strict: bool = True) -> None:
    """Range check of every committed weight and bias, once per model: the start of every chain
    (docs/protocol.md §11).  Binds the widths, R and Q (not the learning rate or batch size: one
    model serves training runs and inference alike)."""
    ch.t.domain(b"zkdl/model-range")
    w = Writer().u32(len(config.widths))
    for d in config.widths:
        w.u32(d)
    ch.t.append_bytes(b"config", w.u32(config.R).u32(config.Q).getvalue())
    ch.t.append_bytes(b"model", model.to_bytes())
    lay = WindowLayout(config, 1)
    L = config.num_layers
    lb = _range_limb_bits(sum(lay.weight(i).size + lay.bias(i).size for i in range(L)))
    spec = RangeSpec(config.Q, 1 << (config.Q - 1), lb)
    items = []
    for i in range(L):
        items.append((f"W{i}", lay.weight(i), spec, model.W[i], secret.W[i] if secret else None))
        items.append((f"b{i}", lay.bias(i), spec, model.b[i], secret.b[i] if secret else None))
    _commitment_range_protocol(ch, items, lb, strict)


def _check_model_shape(config: FixedPointConfig, model: "ModelCommitment") -> None:
    lay = WindowLayout(config, 1)
    if len(model.W) != config.num_layers or len(model.b) != config.num_layers:
        raise VerificationError(f"the model commitment has {len(model.W)} layers, the architecture "
                                f"{config.num_layers}")
    for i in range(config.num_layers):
        for com, l in ((model.W[i], lay.weight(i)), (model.b[i], lay.bias(i))):
            if (com.num_vars, com.col_vars) != (l.num_vars, l.col_vars):
                raise VerificationError(f"the model commitment's layer {i + 1} does not have the "
                                        "architecture's shape")


_CHECKED_MODELS: set = set()


def verify_model(config: FixedPointConfig, model: "ModelCommitment") -> None:
    """Check a model commitment's range proof for the widths, R and Q of ``config`` (cached per
    process); VerificationError if it is missing or invalid.  Every chain start requires it."""
    if not isinstance(model, ModelCommitment):
        raise VerificationError("not a ModelCommitment")
    _check_model_shape(config, model)
    key = (model.to_bytes(), config.widths, config.R, config.Q, hashlib.blake2b(model.range_proof or b"").digest())
    _verify_range_proof(_CHECKED_MODELS, key, model.range_proof, "model range proof",
                        "the model commitment carries none (make it with commit_model or `zkdl commit-model`); a chain "
                        "cannot start from unchecked weights", config, b"zkdl-model",
                        lambda ch: _model_protocol(ch, config, model))


def _verify_range_proof(cache: set, key, proof: bytes | None, what: str, missing: str, config: FixedPointConfig,
                        label: bytes, protocol) -> None:
    """Run a one-time range proof (the dataset's, a model's) once per process and key."""
    if key in cache:
        return
    if not proof:
        raise VerificationError(f"{what}: {missing}")
    ch = VerifierChannel(model_key(config), Transcript(label), proof)
    try:
        protocol(ch)
        ch.done()
    except VerificationError as e:
        raise VerificationError(f"{what}: {e}") from None
    except ProofFormatError as e:
        raise VerificationError(f"{what}: malformed: {e}") from None
    cache.add(key)


_CHECKED_DATASETS: set = set()


def verify_dataset(config: FixedPointConfig, data: DatasetCommitment) -> None:
    """Check the dataset's range proof (cached per process by digest); VerificationError if it is
    missing or invalid."""
    if not isinstance(data, DatasetCommitment):
        raise VerificationError("not a DatasetCommitment")
    key = (data.digest(), config.R, config.Q, hashlib.blake2b(data.range_proof or b"").digest())
    _verify_range_proof(_CHECKED_DATASETS, key, data.range_proof, "dataset range proof",
                        "the dataset commitment carries no range proof (make it with commit_dataset)", config,
                        b"zkdl-dataset", lambda ch: _dataset_protocol(ch, config, data))


# ============================================================================ statement
def write_config(w: Writer, c: FixedPointConfig) -> None:
    """The public configuration of a run, as statements and run files carry it."""
    w.u32(len(c.widths))
    for d in c.widths:
        w.u32(d)
    for v in (c.eta_int, c.k, c.batch_size, c.R, c.Q):
        w.u32(v)
    w.u64(c.seed)
    w.blob(c.loss.encode("ascii"))


def read_config(r: Reader, what: str) -> FixedPointConfig:
    """Strict inverse of write_config (ProofFormatError naming `what`)."""
    from zkdl.fixedpoint import ConfigError

    nw = r.u32("widths", MAX_LAYERS + 1)
    widths = tuple(r.u32("width", 1 << 20) for _ in range(nw))
    eta_int, k, B, R, Q = (r.u32(n, 1 << 31) for n in ("eta_int", "k", "batch_size", "R", "Q"))
    seed = r.u64("seed")
    raw = r.blob("loss", 16)
    if not raw.isascii():
        raise ProofFormatError(f"{what}: the loss name is not ASCII")
    loss = raw.decode("ascii")
    try:
        return FixedPointConfig(widths=widths, eta_int=eta_int, k=k, batch_size=B, seed=seed, R=R, Q=Q, loss=loss)
    except ConfigError as e:
        raise ProofFormatError(f"{what}: invalid configuration: {e}") from None


@dataclass(eq=False)
class Statement:
    """What a window proof proves (public): the run's configuration, the window (first step t0 and
    length T), the dataset (size and digest of its commitment), the weight commitments before and
    after, and optionally the per-step losses sum((Yhat - Y)^2) (exact integers, scale 2^(2R))."""

    config: FixedPointConfig
    t0: int
    T: int
    n_examples: int
    dataset_digest: bytes
    before: ModelCommitment
    after: ModelCommitment
    losses: list[int] | None = None

    def write(self, w: Writer) -> None:
        write_config(w, self.config)
        w.u32(self.t0).u32(self.T).u32(self.n_examples)
        if len(self.dataset_digest) != 32:
            raise ZkdlError("statement: the dataset digest is 32 bytes")
        w.raw(self.dataset_digest)
        self.before.write(w)
        self.after.write(w)
        if self.losses is None:
            w.u32(0)
        else:
            w.u32(1)
            w.scalars(self.losses)

    def to_bytes(self) -> bytes:
        w = Writer()
        self.write(w)
        return wrap(STATEMENT_KIND, w.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> "Statement":
        r = Reader(unwrap(data, STATEMENT_KIND))
        config = read_config(r, "statement")
        t0, T, n = r.u32("t0"), r.u32("T", MAX_STEPS), r.u32("examples", 1 << 28)
        if T < 1:
            raise ProofFormatError("statement: a window has at least one step")
        digest = r._take(32, "dataset digest")
        before = ModelCommitment.read(r, config)
        after = ModelCommitment.read(r, config)
        flag = r.u32("losses flag", 1)
        losses = None
        if flag:
            losses = r.scalars("losses", MAX_STEPS, exact=T)
            if any(v >= 1 << 128 for v in losses):
                raise ProofFormatError("statement: a loss is not a small non-negative integer")
        r.done()
        st = cls(config, t0, T, n, digest, before, after, losses)
        require_canonical(data, st.to_bytes(), "statement")
        return st

    def absorb(self, t: Transcript) -> None:
        """Absorb everything but the after-commitment, which the protocol derives from the
        committed updates (and the verifier compares with this statement's)."""
        after, self.after = self.after, self.before
        try:
            t.append_bytes(b"statement", self.to_bytes())
        finally:
            self.after = after

    def differences(self, other: "Statement") -> list[str]:
        """Names of the fields in which two statements differ."""
        out = []
        for f in ("config", "t0", "T", "n_examples", "dataset_digest", "losses"):
            if getattr(self, f) != getattr(other, f):
                out.append(f)
        if self.before != other.before:
            out.append("before")
        if self.after != other.after:
            out.append("after")
        return out


INFERENCE_KIND = 0x0104


@dataclass(eq=False)
class InferenceStatement:
    """Inference: Yhat = MLP(X) (the semantics' forward pass) for the committed model and public
    output Yhat (n x d_L); the input is public (X, n x d_0) or committed (X_com: one Pedersen row
    commitment per example over G_0..G_{d_0-1}, its values range-checked in the proof)."""

    config: FixedPointConfig
    model: ModelCommitment
    X: np.ndarray | None
    Yhat: np.ndarray
    X_com: PointVec | None = None

    @property
    def T(self) -> int:
        return 1

    @property
    def n(self) -> int:
        return self.Yhat.shape[0]

    def to_bytes(self) -> bytes:
        c = self.config
        w = Writer()
        w.u32(len(c.widths))
        for d in c.widths:
            w.u32(d)
        w.u32(c.R).u32(c.Q).u32(self.n)
        self.model.write(w)
        if self.X_com is None:
            w.u32(0)
            w.scalars([int(v) for v in self.X.reshape(-1)])
        else:
            w.u32(1)
            w.points(self.X_com)
        w.scalars([int(v) for v in self.Yhat.reshape(-1)])
        return wrap(INFERENCE_KIND, w.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> "InferenceStatement":
        from zkdl.fixedpoint import ConfigError

        r = Reader(unwrap(data, INFERENCE_KIND))
        nw = r.u32("widths", MAX_LAYERS + 1)
        widths = tuple(r.u32("width", 1 << 20) for _ in range(nw))
        R, Q, n = r.u32("R", 64), r.u32("Q", 64), r.u32("examples", 1 << 20)
        try:
            config = inference_config(widths, n, R, Q)
        except ConfigError as e:
            raise ProofFormatError(f"inference statement: invalid configuration: {e}") from None
        model = ModelCommitment.read(r, config)
        X = X_com = None
        if r.u32("input kind", 1) == 0:
            X = _signed(r.scalars("X", 1 << 26, exact=n * widths[0]), config, "X").reshape(n, widths[0])
        else:
            X_com = r.points("X row commitments", 1 << 20, exact=n)
        Yh = _signed(r.scalars("Yhat", 1 << 26, exact=n * widths[-1]), config, "Yhat").reshape(n, widths[-1])
        r.done()
        st = cls(config, model, X, Yh, X_com)
        require_canonical(data, st.to_bytes(), "inference statement")
        return st

    def absorb(self, t: Transcript) -> None:
        t.append_bytes(b"inference-statement", self.to_bytes())


def inference_config(widths, n: int, R: int = 16, Q: int = 32) -> FixedPointConfig:
    """The configuration of an inference statement (no learning rate, batch = n examples)."""
    return FixedPointConfig(widths=tuple(widths), eta_int=1, k=0, batch_size=n, R=R, Q=Q)


def _signed(vals: list[int], config: FixedPointConfig, what: str) -> np.ndarray:
    out = np.array([v - P if v > P // 2 else v for v in vals], dtype=object)
    if len(out) and (min(out) < -config.bound or max(out) >= config.bound):
        raise ProofFormatError(f"inference statement: {what} has values outside [-2^(Q-1), 2^(Q-1))")
    return out.astype(np.int64)


def _public_mle(lay: Layout, arr: np.ndarray, point) -> int:
    return FrVec.from_int64(lay.pad(arr)).dot(_eq_tab(point))


# ============================================================================ helpers
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


def _range_value_com(key, rt: RangeTensor) -> tuple[HyraxCommitment, HyraxSecret | None]:
    """Hyrax commitment (and secret) of the value tensor sum_j 2^(16j) limb_j - offset * mask."""
    lay = rt.layout
    mrows = _mask_rows(key, lay)
    com = None
    for j, lt in enumerate(rt.limbs):
        c = lt.com.scale(rt.spec.weight(j)) if j else lt.com
        com = c if com is None else com + c
    com = com - HyraxCommitment(mrows, lay.num_vars, lay.col_vars).scale(rt.spec.offset)
    sec = None
    if rt.limbs[0].secret is not None:
        sec = None
        for j, lt in enumerate(rt.limbs):
            s = lt.secret.scale(rt.spec.weight(j)) if j else lt.secret
            sec = s if sec is None else sec + s
        msec = HyraxSecret(FrVec.from_int64(lay.mask), FrVec.zeros(lay.size >> lay.col_vars), lay.num_vars,
                           lay.col_vars)
        sec = sec - msec.scale(rt.spec.offset)
    return com, sec


def _stack_weights(lay: WindowLayout, before: HyraxCommitment, before_sec, delta: HyraxCommitment,
                   delta_sec, single: Layout, stacked: Layout):
    """Rows of W_t = W_0 - sum_{s<t} dW_s for t < T (identity / zero rows for padded steps), and
    W_T (the weights after the window)."""
    rps = single.size >> single.col_vars  # rows per step
    T = lay.T
    Tp = 1 << _bits(T)
    cur = before.rows
    rows = []
    for t in range(T):
        rows.append(cur)
        cur = cur - delta.rows[t * rps:(t + 1) * rps]
    rows.append(PointVec.identity((Tp - T) * rps))
    com = HyraxCommitment(PointVec.concat(rows), stacked.num_vars, stacked.col_vars)
    after = HyraxCommitment(cur, single.num_vars, single.col_vars)
    sec = sec_after = None
    if before_sec is not None:
        n = single.size
        vals, blinds = [], []
        cv, cb = before_sec.values, before_sec.blinds
        for t in range(T):
            vals.append(cv)
            blinds.append(cb)
            cv = cv - delta_sec.values[t * n:(t + 1) * n]
            cb = cb - delta_sec.blinds[t * rps:(t + 1) * rps]
        vals.append(FrVec.zeros((Tp - T) * n))
        blinds.append(FrVec.zeros((Tp - T) * rps))
        sec = HyraxSecret(FrVec.concat(vals), FrVec.concat(blinds), stacked.num_vars, stacked.col_vars)
        sec_after = HyraxSecret(cv, cb, single.num_vars, single.col_vars)
    return com, sec, after, sec_after


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


def _matmul(ch: Channel, N: int, b: int, kk: int, o: int, A_fn, W_fn, point, claim: Claimed, what: str = "matmul"):
    """Claim on Z(point) = sum over instances of A (N x b x kk) @ W (N x kk x o) -> claims on A and W."""
    shape = MatmulShape(N, b, kk, o)
    ni, nb, nk, no = shape.vars
    u_i, u_r, u_o = list(point[:ni]), list(point[ni:ni + nb]), list(point[ni + nb:])
    ch.t.domain(b"zkdl/matmul")
    shape.absorb(ch.t)
    ch.t.append_scalars(b"z-point", point)

    def tables():
        A1 = _bind_axis(A_fn(), (N, b, kk), 1, u_r)
        W1 = _bind_axis(W_fn(), (N, kk, o), 2, u_o)
        E = FrVec(np.repeat(_eq_tab(u_i).limbs, kk, axis=0))
        return [A1, W1, E]

    with ch.check(what):
        r, fac = ch.sumcheck(shape.spec(), tables, claim, {2: lambda rr: eq_eval(u_i, rr[:ni])})
    return r[:ni] + u_r + r[ni:], fac[0], r + u_o, fac[1]


def _transpose(v: FrVec, dims: tuple[int, int, int]) -> FrVec:
    idx = np.arange(len(v)).reshape(dims).transpose(0, 2, 1).reshape(-1)
    return FrVec(v.limbs[idx])


@dataclass
class _Block:
    tensor: Tensor
    scale: int
    offset: int = 0


def _range_of(ch: Channel, cl: Claims, rts: dict, name: str, layout: Layout, spec: RangeSpec,
              target: HyraxCommitment, target_sec, strict: bool = True) -> None:
    """Range check of a tensor committed elsewhere (the weights at a window's start, the dataset):
    send limbs 1.. and derive limb 0 = value + offset * mask - sum_j 2^(b j) limb_j row-wise from
    the existing commitment, so the limbs are bound to it without any further proof."""
    prover = ch.prover
    parts = None
    if prover:
        try:
            vals = np.asarray(target_sec.values.to_int64(62))
        except ZkdlError:
            if strict:
                raise FieldRangeError(f"{name}: a committed value is not a small integer") from None
            vals = np.zeros(layout.size, dtype=np.int64)   # a cheating prover: limb 0 takes it all
        parts = spec.limbs(vals.reshape(layout.padded), name, strict)
    com0 = target + HyraxCommitment(_mask_rows(ch.key, layout), layout.num_vars, layout.col_vars).scale(spec.offset)
    sec0 = None
    if prover:
        msec = HyraxSecret(FrVec.from_int64(layout.mask), FrVec.zeros(layout.size >> layout.col_vars),
                           layout.num_vars, layout.col_vars)
        sec0 = target_sec + msec.scale(spec.offset)
    limbs = [None]
    for j in range(1, spec.n_limbs):
        com, sec = ch.send_hyrax(f"{name}.{j}".encode(), layout.num_vars, layout.col_vars,
                                 lambda j=j: parts[j].reshape(-1) * layout.mask)
        limbs.append(cl.register(Tensor(f"{name}.{j}", layout, com, sec)))
        com0 = com0 - com.scale(spec.weight(j))
        if prover:
            sec0 = sec0 - sec.scale(spec.weight(j))
    limbs[0] = cl.register(Tensor(f"{name}.0", layout, com0, sec0))
    rts[name] = RangeTensor(name, layout, spec, limbs)


#: largest lookup witness (2^bits entries) proven by one logUp-GKR instance; larger sets of limbs
#: are split into several instances (each with its own multiplicities), which bounds the prover's
#: memory (the fraction tree is ~8 field elements per leaf) at a small cost in proof size
LOOKUP_MAX_BITS = 23


def _lookup(ch: Channel, cl: Claims, rts: dict, lb: int, strict: bool = True) -> None:
    """Commit to the multiplicities and run the logUp-GKR range check over every limb of every
    range tensor (the top limb again, scaled, when it has fewer than lb bits); tie the lookup's
    claim to claims on the limb tensors (registered in cl for the openings)."""
    blocks: list[_Block] = []
    for rt in rts.values():
        for j, lt in enumerate(rt.limbs):
            blocks.append(_Block(lt, 1))
            if j == rt.spec.n_limbs - 1 and rt.spec.top_bits < lb:
                blocks.append(_Block(lt, 1 << (lb - rt.spec.top_bits)))
    blocks.sort(key=lambda bl: -bl.tensor.layout.size)  # stable: aligned offsets
    groups: list[list[_Block]] = [[]]
    total = 0
    for bl in blocks:
        size = bl.tensor.layout.size
        if groups[-1] and total + size > 1 << LOOKUP_MAX_BITS:
            groups.append([])
            total = 0
        groups[-1].append(bl)
        total += size
    ch.t.append_u64(b"lookups", len(groups))
    for g, grp in enumerate(groups):
        _lookup_one(ch, cl, grp, lb, strict, "m" if len(groups) == 1 else f"m{g}")


def _lookup_one(ch: Channel, cl: Claims, blocks: list, lb: int, strict: bool, m_name: str) -> None:
    key, t, prover = ch.key, ch.t, ch.prover
    off = 0
    for bl in blocks:
        bl.offset = off
        off += bl.tensor.layout.size
    kv = _bits(off)
    v_fr = m_np = None
    if prover:
        v_np = np.concatenate([_small_ints(bl.tensor.values, strict) * bl.scale for bl in blocks]
                              + [np.zeros((1 << kv) - off, dtype=np.int64)])
        if strict:
            m_np = logup.multiplicities(v_np, kv, lb)
        else:  # a cheating prover counts what it can
            ok = (v_np >= 0) & (v_np < 1 << lb)
            m_np = np.bincount(v_np[ok], minlength=1 << lb).astype(np.int64)
            m_np[0] += (1 << kv) - len(v_np)
        v_fr = FrVec.from_int64(v_np)
    m_lay = Layout((1 << lb,))
    m_com, m_sec = ch.send_hyrax(b"multiplicities", m_lay.num_vars, m_lay.col_vars, lambda: m_np)
    cl.register(Tensor(m_name, m_lay, m_com, m_sec))
    if prover:
        with ch.phase("lookup"):
            lproof, x_v, (vv, vb), x_m, (mv, mb) = logup.prove(key, t, v_fr, FrVec.from_int64(m_np))
        lproof.write(ch.w)
        com_v, com_m = Claimed(key.commit_scalar(vv, vb), vv, vb), Claimed(key.commit_scalar(mv, mb), mv, mb)
    else:
        lproof = logup.LogupProof.read(ch.r, kv, lb)
        x_v, cv, x_m, cm = logup.verify(key, t, kv, lproof, lb)
        com_v, com_m = Claimed(cv), Claimed(cm)
    cl.add(m_name, x_m, com_m, masked=False)
    limb_claims: dict[str, Claimed] = {}
    terms, coeffs = [], []
    for bl in blocks:
        kb = bl.tensor.layout.num_vars
        hi, lo = x_v[:kv - kb], x_v[kv - kb:]
        name = bl.tensor.name
        if name not in limb_claims:
            limb_claims[name] = ch.send_scalar_com(b"lookup-claim", lambda tt=bl.tensor, lo=lo: tt.mle(lo))
            cl.add(name, lo, limb_claims[name], masked=False)
        idx = bl.offset >> kb
        bits = [(idx >> (len(hi) - 1 - j)) & 1 for j in range(len(hi))]
        terms.append(limb_claims[name])
        coeffs.append(eq_eval(hi, bits) * bl.scale % P)
    ch.equal(lincomb(terms, coeffs), com_v)


# ============================================================================ the protocol
def _protocol(ch: Channel, st: Statement, data: DatasetCommitment, wit=None, model_sec=None, data_sec=None):
    """The protocol, for both roles.  wit (the prover's _Witness), model_sec and data_sec are
    None on the verifier's side; every use of them is inside prover-only thunks or branches."""
    cfg = st.config
    L, R, Q, k, B = cfg.num_layers, cfg.R, cfg.Q, cfg.k, cfg.batch_size
    lay = WindowLayout(cfg, st.T)
    T = st.T
    Tp, Bp = 1 << _bits(T), 1 << _bits(B)
    dp = [1 << _bits(d) for d in cfg.widths]
    key = ch.key
    t = ch.t
    prover = ch.prover
    infer = isinstance(st, InferenceStatement)
    t.domain(b"zkdl/inference" if infer else b"zkdl/train-window")
    st.absorb(t)
    cl = Claims()
    rts: dict[str, RangeTensor] = {}

    def commit_range(name: str, layout: Layout, spec: RangeSpec) -> RangeTensor:
        parts = spec.limbs(wit.t[name], name, wit.strict) if prover else None
        limbs = []
        for j in range(spec.n_limbs):
            com, sec = ch.send_hyrax(f"{name}.{j}".encode(), layout.num_vars, layout.col_vars,
                                     lambda j=j: layout.pad(parts[j]))
            limbs.append(cl.register(Tensor(f"{name}.{j}", layout, com, sec)))
        rts[name] = RangeTensor(name, layout, spec, limbs)
        return rts[name]

    def commit_plain(name: str, layout: Layout) -> Tensor:
        com, sec = ch.send_hyrax(name.encode(), layout.num_vars, layout.col_vars,
                                 lambda: layout.pad(wit.t[name]))
        return cl.register(Tensor(name, layout, com, sec))

    lb = limb_bits(lay, infer)
    E_spec = RangeSpec(R, 1 << (R - 1), lb)
    V_spec = RangeSpec(Q, 1 << (Q - 1), lb)
    U_spec = RangeSpec(R + k, 1 << (R + k - 1), lb)
    # ---------------------------------------------------------------- 1. commitments
    for i in range(L):
        a = lay.act(i)
        commit_range(f"E{i}", a, E_spec)
        if i < L - 1:
            commit_plain(f"S{i}", a)
            commit_range(f"P{i}", a, RangeSpec(Q - 1, 0, lb))
        if infer:
            continue
        if i < L - 1:
            commit_range(f"GA{i}", a, V_spec)
            commit_range(f"EB{i}", a, E_spec)
        else:
            commit_range("Yh", a, V_spec)
        commit_range(f"dW{i}", lay.weight_stack(i), V_spec)
        commit_range(f"EU{i}", lay.weight_stack(i), U_spec)
        commit_range(f"db{i}", lay.bias_stack(i), V_spec)
        commit_range(f"EUb{i}", lay.bias_stack(i), U_spec)

    # external (derived) tensors: data stacks, weight stacks
    W_after, b_after, W_after_sec, b_after_sec = [], [], [], []
    if infer:  # the model's own commitments; Yhat is public, X public or committed
        for i in range(L):
            cl.register(Tensor(f"W{i}", lay.weight_stack(i), st.model.W[i], model_sec.W[i] if prover else None))
            cl.register(Tensor(f"b{i}", lay.bias_stack(i), st.model.b[i], model_sec.b[i] if prover else None))
        if st.X_com is not None:
            xl0 = lay.data(cfg.widths[0])
            rows = PointVec.concat([st.X_com, PointVec.identity(xl0.size // (1 << xl0.col_vars) - len(st.X_com))])
            xsec = None
            if prover:
                bl = wit.t["X_blinds"]
                xsec = HyraxSecret(FrVec.from_int64(xl0.pad(wit.t["X"])),
                                   FrVec.concat([bl, FrVec.zeros(len(rows) - len(bl))]), xl0.num_vars, xl0.col_vars)
            cl.register(Tensor("X", xl0, HyraxCommitment(rows, xl0.num_vars, xl0.col_vars), xsec))
    batches = [] if infer else [batch_indices(cfg.seed, st.t0 + s, st.n_examples, B) for s in range(T)]
    xl, yl = lay.data(cfg.widths[0]), lay.data(cfg.widths[-1])
    if not infer:
        com, sec = _select_rows(lay, data.X, data_sec.bX if prover else None, data_sec.X if prover else None,
                                batches, xl)
        cl.register(Tensor("X", xl, com, sec))
        com, sec = _select_rows(lay, data.Y, data_sec.bY if prover else None, data_sec.Y if prover else None,
                                batches, yl)
        cl.register(Tensor("Y", yl, com, sec))
    for i in range(0 if infer else L):
        # weights (W) and biases (b): stacks W_t = W_t0 - sum_{s<t} dW_s and the after-commitment
        for name, delta, single, stacked, outs in (
                ("W", "dW", lay.weight(i), lay.weight_stack(i), (W_after, W_after_sec)),
                ("b", "db", lay.bias(i), lay.bias_stack(i), (b_after, b_after_sec))):
            dcom, dsec = _range_value_com(key, rts[f"{delta}{i}"])
            before_sec = getattr(model_sec, name)[i] if prover else None
            com, sec, aft, aft_sec = _stack_weights(lay, getattr(st.before, name)[i], before_sec, dcom, dsec,
                                                    single, stacked)
            cl.register(Tensor(f"{name}{i}", stacked, com, sec))
            outs[0].append(aft)
            outs[1].append(aft_sec)
    if not prover and not infer:
        for i in range(L):
            if W_after[i] != st.after.W[i] or b_after[i] != st.after.b[i]:
                raise VerificationError(f"layer {i + 1}: the weights after the window do not match the "
                                        "statement's commitment (before - sum of committed updates)")

    strict = wit.strict if prover else True
    if infer and st.X_com is not None:  # a committed input must be an integer input in range
        _range_of(ch, cl, rts, "Xr", cl.tensors["X"].layout, V_spec, cl.tensors["X"].com,
                  cl.tensors["X"].secret, strict)
    # the weights a window starts from are not range-checked here: a chain starts from a model
    # commitment whose own range proof the verifier requires (verify_model), and every later
    # window from weights derived from it by range-checked integer updates (docs/protocol.md §11)
    with ch.check("range checks"):
        _lookup(ch, cl, rts, lb, strict)

    # ---------------------------------------------------------------- 3. relations
    A_claims: dict[int, list] = {i: [] for i in range(L - 1)}
    GZ_claims: dict[int, list] = {i: [] for i in range(L)}
    inv = lambda x: pow(x % P, -1, P)  # noqa: E731
    row_mask = Layout((B,))
    eta_inv = inv(cfg.eta_int)

    def fr(name, layout):
        return wit.fr(name, layout)

    def input_fn(i):
        if i == 0 and infer and st.X_com is None:
            return lambda: FrVec.from_int64(xl.pad(st.X[None]))
        if i == 0:
            return lambda: cl.tensors["X"].values
        return lambda: fr(f"A{i - 1}", lay.act(i - 1))

    def add_input_claim(i, point, c):
        if i == 0 and infer and st.X_com is None:  # public input: the verifier evaluates it
            ch.equal(c, ch.const(_public_mle(xl, st.X[None], point)))
        elif i == 0:
            cl.add("X", point, c)
        else:
            A_claims[i - 1].append((point, c))

    for i in reversed(range(L)):
        a_lay = lay.act(i)
        nt, nb = _bits(T), _bits(B)
        # R1: forward matmul and rescale: 2^R Z' + E = [A | 2^R] W
        u = ch.challenges(b"u-fwd", a_lay.num_vars)
        u_t, u_r, u_o = u[:nt], u[nt:nt + nb], u[nt + nb:]
        if i == L - 1 and infer:
            zc = ch.const(_public_mle(a_lay, st.Yhat[None], u))
        elif i == L - 1:
            zc = cl.send_value(ch, rts["Yh"], u)
        else:
            ac = ch.send_scalar_com(b"A-claim", lambda: fr(f"A{i}", a_lay).dot(_eq_tab(u)))
            A_claims[i].append((u, ac))
            sc = ch.send_scalar_com(b"S-claim", lambda: cl.tensors[f"S{i}"].mle(u))
            cl.add(f"S{i}", u, sc)
            pc = cl.send_value(ch, rts[f"P{i}"], u)
            zc = ac * 2 - sc - pc
        ec = cl.send_value(ch, rts[f"E{i}"], u)
        bc = ch.send_scalar_com(b"bias-claim", lambda: cl.tensors[f"b{i}"].mle(u_t + u_o))
        cl.add(f"b{i}", u_t + u_o, bc)
        mm = zc * (1 << R) + ec - bc * ((1 << R) * row_mask.mask_at(u_r))
        a_pt, a_c, w_pt, w_c = _matmul(ch, Tp, Bp, dp[i], dp[i + 1], input_fn(i),
                                       lambda: cl.tensors[f"W{i}"].values, u, mm,
                                       f"layer {i + 1}: forward (2^R Z' + E = A W + b)")
        add_input_claim(i, a_pt, a_c)
        cl.add(f"W{i}", w_pt, w_c)
        if infer:
            continue
        # R2: backward data: 2^R G_A + E' = G_Z W^T
        if i >= 1:
            pl = lay.act(i - 1)
            v = ch.challenges(b"u-bwd", pl.num_vars)
            lhs = cl.send_value(ch, rts[f"GA{i - 1}"], v) * (1 << R) + cl.send_value(ch, rts[f"EB{i - 1}"], v)
            g_pt, g_c, m_pt, m_c = _matmul(
                ch, Tp, Bp, dp[i + 1], dp[i], lambda: fr(f"GZ{i}", a_lay),
                lambda: _transpose(cl.tensors[f"W{i}"].values, (Tp, dp[i], dp[i + 1])), v, lhs,
                f"layer {i + 1}: backward (2^R G_A + E' = G_Z W^T)")
            GZ_claims[i].append((g_pt, g_c))
            no, nc = _bits(dp[i + 1]), _bits(dp[i])
            cl.add(f"W{i}", m_pt[:nt] + m_pt[nt + no:] + m_pt[nt:nt + no], m_c)
        # R3: weight update: 2^(R+k) dW + E'' = eta_int A^T G_Z
        wl = lay.weight_stack(i)
        w = ch.challenges(b"u-upd", wl.num_vars)
        lhs = cl.send_value(ch, rts[f"dW{i}"], w) * (1 << (R + k)) + cl.send_value(ch, rts[f"EU{i}"], w)
        a_pt, a_c, g_pt, g_c = _matmul(
            ch, Tp, dp[i], Bp, dp[i + 1],
            lambda: _transpose(input_fn(i)(), (Tp, Bp, dp[i])), lambda: fr(f"GZ{i}", a_lay), w, lhs * eta_inv,
            f"layer {i + 1}: weight update (2^(R+k) dW + E'' = eta A^T G_Z)")
        nc = _bits(dp[i])
        add_input_claim(i, a_pt[:nt] + a_pt[nt + nc:] + a_pt[nt:nt + nc], a_c)
        GZ_claims[i].append((g_pt, g_c))
        # R3b: bias update: 2^(R+k) db + E''_b = eta_int 2^R sum_rows G_Z
        bl_ = lay.bias_stack(i)
        z = ch.challenges(b"u-upd-bias", bl_.num_vars)
        lhs = cl.send_value(ch, rts[f"db{i}"], z) * (1 << (R + k)) + cl.send_value(ch, rts[f"EUb{i}"], z)
        half = inv(2)
        GZ_claims[i].append((z[:nt] + [half] * nb + z[nt:], lhs * inv(cfg.eta_int * (1 << (R + nb)))))

    # proven losses: sum_{rows, outputs} G_Z_L^2 per step
    if not infer and st.losses is not None:
        a_lay = lay.act(L - 1)
        nt = _bits(T)
        u_t = ch.challenges(b"u-loss", nt)
        value = sum(eq_eval(u_t, [(s >> (nt - 1 - j)) & 1 for j in range(nt)]) * st.losses[s]
                    for s in range(T)) % P
        rest = a_lay.num_vars - nt
        spec = SumcheckSpec(a_lay.num_vars, 2, (Term(1, (0, 0, 1)),))
        with ch.check("revealed losses"):
            r, fac = ch.sumcheck(spec, lambda: [fr(f"GZ{L - 1}", a_lay),
                                                FrVec(np.repeat(_eq_tab(u_t).limbs, 1 << rest, axis=0))],
                                 ch.const(value), {1: lambda rr: eq_eval(u_t, rr[:nt])})
        GZ_claims[L - 1].append((r, fac[0]))

    # ---------------------------------------------------------------- 4. derived tensors
    for i in range(0 if infer else L):
        a_lay = lay.act(i)
        claims = GZ_claims[i]
        if i == L - 1:  # G_Z = Yhat - Y
            for pt, c in claims:
                yh = cl.send_value(ch, rts["Yh"], pt)
                cl.add("Y", pt, yh - c)
            continue
        # G_Z = S * G_A, all claims at once
        beta = ch.challenges(b"beta-gz", len(claims))
        start = lincomb([c for _, c in claims], beta)
        pts = [p for p, _ in claims]
        spec = SumcheckSpec(a_lay.num_vars, 3, (Term(1, (0, 1, 2)),))

        def eq_comb(pts=pts, beta=beta):
            acc = FrVec.zeros(a_lay.size)
            for p, bta in zip(pts, beta):
                acc = acc + _eq_tab(p) * bta
            return acc

        with ch.check(f"layer {i + 1}: G_Z = S * G_A"):
            r, fac = ch.sumcheck(spec, lambda: [cl.tensors[f"S{i}"].values, fr(f"GA{i}", a_lay), eq_comb()], start,
                                 {2: lambda rr, pts=pts, beta=beta: sum(bt * eq_eval(p, rr)
                                                                        for p, bt in zip(pts, beta)) % P})
        cl.add(f"S{i}", r, fac[0])
        cl.value_claim(ch, rts[f"GA{i}"], r, fac[1])
    for i in range(L - 1):
        a_lay = lay.act(i)
        claims = A_claims[i]
        beta = ch.challenges(b"beta-a", len(claims))
        tau = ch.challenges(b"tau-binary", a_lay.num_vars)
        gam = ch.challenge(b"gamma-binary")
        start = lincomb([c for _, c in claims], beta)
        pts = [p for p, _ in claims]
        # A = S (P + 1) on every claim; S (S - 1) = 0 everywhere (zero-check at tau)
        spec = SumcheckSpec(a_lay.num_vars, 4, (Term(1, (0, 1, 2)), Term(1, (0, 2)), Term(gam, (0, 0, 3)),
                                                 Term(P - gam, (0, 3))))

        def tabs(pts=pts, beta=beta, tau=tau, i=i, a_lay=a_lay):
            acc = FrVec.zeros(a_lay.size)
            for p, bta in zip(pts, beta):
                acc = acc + _eq_tab(p) * bta
            vals = fr(f"P{i}", a_lay)
            return [cl.tensors[f"S{i}"].values, vals, acc, _eq_tab(tau)]

        with ch.check(f"layer {i + 1}: ReLU (A = S * (P + 1), S binary)"):
            r, fac = ch.sumcheck(spec, tabs, start, {
                2: lambda rr, pts=pts, beta=beta: sum(bt * eq_eval(p, rr) for p, bt in zip(pts, beta)) % P,
                3: lambda rr, tau=tau: eq_eval(tau, rr)})
        cl.add(f"S{i}", r, fac[0])
        cl.value_claim(ch, rts[f"P{i}"], r, fac[1])

    # ---------------------------------------------------------------- 5. openings
    with ch.check("openings"):
        cl.open_all(ch)
    return W_after, b_after, W_after_sec, b_after_sec


def _small_ints(v: FrVec, strict: bool) -> np.ndarray:
    """Limb values as int64 (a cheating prover's values outside int64 become -1: not counted)."""
    try:
        return v.to_int64(62)
    except Exception:
        if strict:
            raise
        return np.array([x if x < 1 << 62 else -1 for x in v.to_ints()], dtype=np.int64)


# ============================================================================ API
@dataclass(eq=False)
class WindowProof:
    statement: Statement
    body: bytes
    timings: dict = field(default_factory=dict)  # prover phase seconds (not serialized)

    def to_bytes(self) -> bytes:
        w = Writer()
        w.blob(self.statement.to_bytes())
        w.raw(self.body)
        return wrap(PROOF_KIND, w.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> "WindowProof":
        r = Reader(unwrap(data, PROOF_KIND))
        st = Statement.from_bytes(r.blob("statement", 1 << 30))
        body = r._take(len(r._buf) - r._pos, "proof body")
        return cls(st, body)


def verify_window(proof: "WindowProof | bytes", dataset: DatasetCommitment,
                  start: "ModelCommitment | Statement", expected: Statement | None = None) -> Statement:
    """Verify a window proof against the dataset commitment; returns the proven statement.

    ``start`` says where the window's weights come from, which the proof alone cannot (its
    integer reading needs weights in range, docs/protocol.md §11):

    * the ModelCommitment a chain starts from (any t0: a run's initial model, a published model a
      run resumes from): it must be the statement's ``before`` and carry a valid range proof
      (verify_model);
    * or the Statement of the previous window of the same chain, as returned by verify_window:
      this window must continue it (same configuration and dataset, t0 = its t0 + T, before =
      its after).

    With ``expected``, the proof's statement must equal it (else VerificationError naming the
    fields that differ).  Raises VerificationError (or ProofFormatError for malformed bytes)."""
    if isinstance(proof, (bytes, bytearray, memoryview)):
        proof = WindowProof.from_bytes(bytes(proof))
    if not isinstance(proof, WindowProof):
        raise VerificationError("verify_window: not a WindowProof")
    st = proof.statement
    if expected is not None:
        diff = expected.differences(st)
        if diff:
            raise VerificationError("the proof's statement differs from the expected one in: " + ", ".join(diff))
    if not isinstance(dataset, DatasetCommitment):
        raise VerificationError("verify_window: the dataset must be a DatasetCommitment")
    if st.n_examples != dataset.n or st.dataset_digest != dataset.digest():
        raise VerificationError("the statement's dataset digest does not match the dataset commitment")
    if dataset.d_in != st.config.widths[0] or dataset.d_out != st.config.widths[-1]:
        raise VerificationError("the dataset's widths do not match the architecture")
    if st.n_examples < st.config.batch_size:
        raise VerificationError("the dataset is smaller than one batch")
    lay = WindowLayout(st.config, st.T)
    _check_size(lay)
    _check_start(st, start)
    verify_dataset(st.config, dataset)
    key = training_key(lay.key_size())
    ch = VerifierChannel(key, Transcript(b"zkdl-train"), proof.body)
    _protocol(ch, st, dataset, None)
    ch.done()
    st.chain_verified = True        # this statement may now serve as the next window's start
    return st


def _check_start(st: Statement, start) -> None:
    """The chain-start rule of verify_window (see there)."""
    if isinstance(start, ModelCommitment):
        if st.before != start:
            raise VerificationError("chain start: the window does not start from the given model commitment")
        verify_model(st.config, start)
    elif isinstance(start, Statement):
        if not getattr(start, "chain_verified", False):
            raise VerificationError("chain: the previous window's Statement must be one returned by verify_window "
                                    "(a statement read from a file proves nothing until its window is verified)")
        if st.config != start.config or st.dataset_digest != start.dataset_digest or st.n_examples != start.n_examples:
            raise VerificationError("chain: the window belongs to another run (configuration or dataset differ)")
        if st.t0 != start.t0 + start.T:
            raise VerificationError(f"chain: the window starts at step {st.t0}, the previous one ends before "
                                    f"step {start.t0 + start.T}")
        if st.before != start.after:
            raise VerificationError("chain: the weights before the window are not the previous window's after")
    else:
        raise VerificationError("verify_window: start must be the ModelCommitment the chain starts from or the "
                                "previous window's Statement")


@dataclass(eq=False)
class InferenceProof:
    statement: InferenceStatement
    body: bytes

    def to_bytes(self) -> bytes:
        w = Writer()
        w.blob(self.statement.to_bytes())
        w.raw(self.body)
        return wrap(INFERENCE_KIND + 0x10, w.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> "InferenceProof":
        r = Reader(unwrap(data, INFERENCE_KIND + 0x10))
        st = InferenceStatement.from_bytes(r.blob("statement", 1 << 30))
        return cls(st, r._take(len(r._buf) - r._pos, "proof body"))


def verify_inference(proof: "InferenceProof | bytes", model: ModelCommitment) -> InferenceStatement:
    """Verify an inference proof about ``model``: the statement must be about that commitment, and
    the model must carry a valid range proof (verify_model, checked once per model and process),
    so the proof stands on its own, whatever the model's origin."""
    if isinstance(proof, (bytes, bytearray, memoryview)):
        proof = InferenceProof.from_bytes(bytes(proof))
    if not isinstance(proof, InferenceProof):
        raise VerificationError("verify_inference: not an InferenceProof")
    if not isinstance(model, ModelCommitment):
        raise VerificationError("verify_inference: the model commitment the proof is about is required")
    st = proof.statement
    if st.X_com is not None and len(st.X_com) != st.n:
        raise VerificationError("inference statement: one input commitment per example is needed")
    if model != st.model:
        raise VerificationError("the proof is about a different model commitment")
    lay = WindowLayout(st.config, 1)
    _check_size(lay)
    verify_model(st.config, model)
    ch = VerifierChannel(training_key(lay.key_size()), Transcript(b"zkdl-inference"), proof.body)
    _protocol(ch, st, None, None)
    ch.done()
    return st
