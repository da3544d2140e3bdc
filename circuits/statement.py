"""Statements and their formats (docs/protocol.md §11, "Statement" and "Inference").

What a window proof proves (:class:`Statement`) and what an inference proof proves
(:class:`InferenceStatement`), the encoding of a run's configuration (``write_config`` /
``read_config``) and the container kinds of the proof formats (DATASET_KIND, the dataset
commitment's, is in :mod:`.commitments`, which this module imports).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkdl.errors import VerificationError
from zkdl.codec import ProofFormatError, Reader, Writer, require_canonical, unwrap, wrap
from zkdl.curve import PointVec
from zkdl.errors import ZkdlError
from zkdl.field import R_MODULUS, FrVec
from zkdl.fixedpoint import FixedPointConfig
from zkdl.transcript import Transcript

from .commitments import MasterCommitment, ModelCommitment, master_of
from .layout import MAX_LAYERS, MAX_STEPS, _eq_tab
from .tensors import Layout

P = R_MODULUS
PROOF_KIND = 0x0101
STATEMENT_KIND = 0x0102


# ============================================================================ statement
def _expected_before(config: FixedPointConfig, start) -> "MasterCommitment | None":
    """The master weights a window continuing ``start`` begins with, when cheaply known: a
    previous statement's ``after``, a MasterCommitment itself, or master_of a ModelCommitment of
    this architecture (None otherwise; the chain rule is still checked by verify_window)."""
    if isinstance(start, MasterCommitment):
        return start
    if isinstance(start, ModelCommitment):
        try:
            return master_of(config, start)
        except ZkdlError:
            return None
    after = getattr(start, "after", None)
    return after if isinstance(after, MasterCommitment) else None


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
    length T), the dataset (size and digest of its commitment), the commitments to the master
    weights before and after the window (scale 2^(2R+k), semantics v2), and optionally the
    per-step losses sum((Yhat - Y)^2) (exact integers, scale 2^(2R))."""

    config: FixedPointConfig
    t0: int
    T: int
    n_examples: int
    dataset_digest: bytes
    before: MasterCommitment
    after: MasterCommitment
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
    def from_bytes(cls, data: bytes, start=None) -> "Statement":
        """Strict decoding.  ``start`` (optional: the chain start verify_window is given, a
        ModelCommitment or the previous window's Statement) lets the ``before`` commitment be
        taken from it when the bytes are exactly its encoding instead of decoded again (the
        decompression and subgroup check of every weight row; see MasterCommitment.read_known)."""
        r = Reader(unwrap(data, STATEMENT_KIND))
        config = read_config(r, "statement")
        t0, T, n = r.u32("t0"), r.u32("T", MAX_STEPS), r.u32("examples", 1 << 28)
        if T < 1:
            raise ProofFormatError("statement: a window has at least one step")
        digest = r._take(32, "dataset digest")
        before = MasterCommitment.read_known(r, config, _expected_before(config, start))
        after = MasterCommitment.read(r, config)
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
        """Absorb the whole statement, the end weights' commitment included (the prover commits
        to M_T before any challenge; the window-end relation ties it to M_0 and the history)."""
        t.append_bytes(b"statement", self.to_bytes())

    def master_bound(self) -> int:
        """A bound on |M_t| for every step t of the chain up to this window's end, from the chain
        start's range (|W| < 2^(Q-1)) and the proven ranges of A (< 2^(Q-1)) and G_Z (< 2^Q):
        2^(R+k) 2^(Q-1) + (t0 + T) eta_int B 2^(2Q-1) (docs/protocol.md §11)."""
        c = self.config
        return (1 << (c.master_bits + c.Q - 1)) + (self.t0 + self.T) * c.eta_int * c.batch_size * (1 << (2 * c.Q - 1))

    def check_field_bound(self) -> None:
        """Refuse statements whose integer reading could wrap modulo r: every product with the
        master weights, (d + 1) 2^Q |M_t|, must stay below 2^250 (r/2 > 2^253)."""
        c = self.config
        if (max(c.widths) + 1) * (1 << c.Q) * self.master_bound() >= 1 << 250:
            raise VerificationError(
                f"statement: with Q = {c.Q}, eta_int = {c.eta_int}, batch {c.batch_size} and {self.t0 + self.T} steps "
                "the master weights could exceed the field's integer range; this verifier refuses such a run "
                "(lower Q, the learning rate or the batch size)")

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
