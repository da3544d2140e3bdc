"""The prover side of FAC4DNN proofs: commitments to models and datasets, witnesses from training
traces, and the prover's channel.  The protocol itself (zkdl.circuits.training._protocol) is shared
with the verifier, which imports neither this module nor the trainer.
"""
from __future__ import annotations

import hashlib

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from zkdl import hyrax, memory, randomness, sigma
from zkdl.codec import Writer
from zkdl.errors import FieldRangeError, ShapeError, ZkdlError
from zkdl.field import R_MODULUS, FrVec
from zkdl.fixedpoint import FixedPointConfig, StepTrace, batch_indices
from zkdl.hyrax import HyraxSecret
from zkdl.pedersen import PedersenKey, random_scalar, random_scalars
from zkdl.sumcheck import SumcheckSpec, prove_zk
from zkdl.transcript import Transcript

from .channel import Channel, Claimed
from .tensors import Layout
from .training import (
    InferenceProof, InferenceStatement, MasterCommitment, ModelCommitment, DatasetCommitment, Statement, WindowLayout,
    WindowProof, master_of,
    _bits, _dataset_layouts, _dataset_protocol, _model_protocol, _protocol, inference_config, model_key, training_key,
)

memory.tune_allocator()          # reuse freed tables instead of faulting fresh pages in (zkdl/memory.py)

P = R_MODULUS


class ProverChannel(Channel):
    prover = True

    def __init__(self, key: PedersenKey, transcript: Transcript, derived: bool = False):
        super().__init__(key, transcript, derived)
        self.w = Writer()
        self.sizes: dict[str, int] = {}
        #: seconds spent per phase: commit (Hyrax commitments), sumcheck (zk sumchecks), lookup
        #: (logUp-GKR), open (Hyrax dot-product proofs); the rest is bookkeeping
        self.timings: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    def _count(self, what: str, before: int) -> None:
        self.sizes[what] = self.sizes.get(what, 0) + len(self.w.getvalue()) - before

    def _pos(self) -> int:
        return len(self.w.getvalue())

    def send_scalar_com(self, label: bytes, value: Callable[[], int]) -> Claimed:
        """Commit to a value with a fresh blind, send and absorb the commitment."""
        v = int(value()) % P
        rho = random_scalar()
        c = self.key.commit_scalar(v, rho)
        self.w.point(c)
        self.t.append_point(label, c)
        return Claimed(c, v, rho, self.key)

    def send_hyrax(self, label: bytes, num_vars: int, col_vars: int, values: Callable[[], object]):
        """Commit to a table (Hyrax rows), send and absorb; returns (commitment, secret)."""
        vals = values()
        with self.phase("commit"):
            com, sec = hyrax.commit(self.key, vals, col_vars=col_vars, num_vars=num_vars)
        com.write(self.w)
        com.absorb(self.t, label)
        return com, sec

    def sumcheck(self, spec: SumcheckSpec, tables: Callable[[], list[FrVec]], claim: Claimed,
                 public: dict[int, Callable[[list[int]], int]]) -> tuple[list[int], dict[int, Claimed]]:
        """Zero-knowledge sumcheck of the claimed value; returns (r, {private factor: Claimed})."""
        tabs = tables()
        with self.phase("sumcheck"):
            proof, r, openings = prove_zk(self.key, spec, tabs, claim.blind, self.t, public=sorted(public),
                                          release=True, claim_com=claim.com if self.derived else None)
        proof.write(self.w)
        priv = [f for f in range(spec.num_factors) if f not in public]
        out = {f: Claimed(proof.factor_coms[i], *openings[f], self.key) for i, f in enumerate(priv)}
        return r, out

    def equal(self, a: Claimed, b: Claimed) -> None:
        """Prove that two commitments hold the same value."""
        sigma.prove_equality(self.key, self.t, a.com, b.com, a.blind, b.blind).write(self.w)

    def open(self, com: hyrax.HyraxCommitment, secret: hyrax.HyraxSecret, point: Sequence[int],
             claim: Claimed) -> None:
        hyrax.prove_eval(self.key, self.t, com, secret, point, claim.val, claim.blind).write(self.w)

    def getvalue(self) -> bytes:
        return self.w.getvalue()



@dataclass(eq=False)
class ModelSecret:
    """The prover's openings of a ModelCommitment."""

    W: list[HyraxSecret]
    b: list[HyraxSecret]



def _commit_layers(config: FixedPointConfig, weights: Sequence[np.ndarray]):
    """Per layer, Hyrax commitments (fresh blinds) to the W part and the bias row of integer
    weights in the zkdl layout ((d_in + 1) x d_out): (W commitments, bias commitments, secret)."""
    from zkdl import hyrax

    lay = WindowLayout(config, 1)
    key = model_key(config)
    cw, cb, sw, sb = [], [], [], []
    for i, w in enumerate(weights):
        for part, l, com, sec in ((w[:-1], lay.weight(i), cw, sw), (w[-1], lay.bias(i), cb, sb)):
            c, s = hyrax.commit(key, l.pad(part), col_vars=l.col_vars, num_vars=l.num_vars)
            com.append(c)
            sec.append(s)
    return cw, cb, ModelSecret(sw, sb)


def commit_model(config: FixedPointConfig, weights: Sequence[np.ndarray]) -> tuple[ModelCommitment, ModelSecret]:
    """Commit to integer weights in the semantics' layout ((d_in + 1) x d_out, last row bias),
    with the range proof that makes the commitment a valid chain start (every value in
    [-2^(Q-1), 2^(Q-1)), checked here first)."""
    from zkdl.fixedpoint import check_weights

    weights = check_weights(config, weights, "commit_model")
    cw, cb, sec = _commit_layers(config, weights)
    model = ModelCommitment(cw, cb)
    model.range_proof = prove_model_range(config, model, sec)
    return model, sec


class ModelOpeningError(ZkdlError):
    """A model opening does not open the commitment it is used with to the given weights."""


def check_model_opening(config: FixedPointConfig, model: ModelCommitment, secret: ModelSecret,
                        weights: Sequence[np.ndarray], what: str = "these weights") -> None:
    """Check that ``secret`` opens ``model`` to exactly the integer ``weights`` (zkdl layout):
    per layer, the opening's values are the weights (and bias) and re-committing them with the
    opening's blinds gives the commitment's rows.  ModelOpeningError naming the layer otherwise.
    Used before proving anything from a commitment (a training run's start, an inference), so
    that a mismatch is found before proving, not by the verifier."""
    lay = WindowLayout(config, 1)
    L = config.num_layers
    if len(weights) != L or len(model.W) != L or len(model.b) != L or len(secret.W) != L or len(secret.b) != L:
        raise ModelOpeningError(f"model opening: the architecture has {L} layers; the weights have {len(weights)}, "
                                f"the commitment {len(model.W)}, the opening {len(secret.W)}")
    key = model_key(config)
    for i, w in enumerate(weights):
        for part, com, s, l in (("W", model.W[i], secret.W[i], lay.weight(i)),
                                ("b", model.b[i], secret.b[i], lay.bias(i))):
            if not (s.num_vars, s.col_vars) == (com.num_vars, com.col_vars) == (l.num_vars, l.col_vars):
                raise ModelOpeningError(f"model opening: layer {i + 1} {part} does not have the commitment's shape")
            expect = np.ascontiguousarray(l.pad(w[:-1] if part == "W" else w[-1]), dtype=np.int64)
            if s.ints is not None:          # integers as committed: compared (and hashed) as integers
                same, body = np.array_equal(s.ints, expect), b"i64" + s.ints.tobytes()
            else:
                same, body = s.values == FrVec.from_int64(expect), s.values.to_bytes()
            if not same:
                raise ModelOpeningError(f"model opening: layer {i + 1} {part} does not hold {what} (the weights "
                                        "differ from the committed ones)")
            tag = hashlib.sha256(com.rows.to_bytes() + body + s.blinds.to_bytes()).digest()
            if tag in _OPENS:                 # re-committed before, in this process: it opens
                continue
            vals = s.ints.reshape(len(s.blinds), -1) if s.ints is not None else s.values
            if key.commit_rows(vals, s.blinds) != com.rows:
                raise ModelOpeningError(f"model opening: layer {i + 1} {part} does not open the commitment (an "
                                        "opening of another commitment?)")
            if len(_OPENS) > 4096:
                _OPENS.clear()
            _OPENS.add(tag)


#: digests (rows, values, blinds) of the row openings check_model_opening has re-committed: a
#: prover that proves many inferences from one model re-commits it once
_OPENS: set = set()


def prove_model_range(config: FixedPointConfig, model: ModelCommitment, secret: ModelSecret, *,
                      unsafe_skip_checks: bool = False) -> bytes:
    """The one-time proof that every value the model commitment holds is an integer in
    [-2^(Q-1), 2^(Q-1)) (for the widths, R and Q of ``config``).  FieldRangeError if not (unless
    ``unsafe_skip_checks``: soundness tests make such proofs to see them rejected)."""
    ch = ProverChannel(model_key(config), Transcript(b"zkdl-model"))
    _model_protocol(ch, config, model, secret, strict=not unsafe_skip_checks)
    return ch.getvalue()



@dataclass(eq=False)
class DatasetSecret:
    X: np.ndarray  # (n, d_in) int64
    Y: np.ndarray
    bX: FrVec
    bY: FrVec



def commit_dataset(config: FixedPointConfig, X, Y) -> tuple[DatasetCommitment, DatasetSecret]:
    """Commit to a dataset (integer features X (n x d_0) and targets Y (n x d_L)), one row each."""
    X = np.asarray(X)
    Y = np.asarray(Y)
    d0, dL = config.widths[0], config.widths[-1]
    if X.ndim != 2 or X.shape[1] != d0 or Y.ndim != 2 or Y.shape != (X.shape[0], dL):
        raise ShapeError(f"dataset: need X (n, {d0}) and Y (n, {dL}), got {X.shape} and {Y.shape}")
    if X.dtype.kind not in "iu" or Y.dtype.kind not in "iu":
        raise ShapeError("dataset: X and Y must be integer (fixed-point) arrays")
    X = X.astype(np.int64)
    Y = Y.astype(np.int64)
    bound = config.bound
    for name, a in (("X", X), ("Y", Y)):
        if a.size and (a.min() < -bound or a.max() >= bound):
            raise ShapeError(f"dataset: {name} has values outside [-2^(Q-1), 2^(Q-1))")
    key = model_key(config)
    n = X.shape[0]
    bX, bY = random_scalars(n), random_scalars(n)
    px = np.zeros((n, 1 << _bits(d0)), dtype=np.int64)
    px[:, :d0] = X
    py = np.zeros((n, 1 << _bits(dL)), dtype=np.int64)
    py[:, :dL] = Y
    cX = key.commit_rows(px, bX)
    cY = key.commit_rows(py, bY)
    data = DatasetCommitment(n, d0, dL, cX, cY)
    sec = DatasetSecret(X, Y, bX, bY)
    data.range_proof = prove_dataset_range(config, data, sec)
    return data, sec


def prove_dataset_range(config: FixedPointConfig, data: DatasetCommitment, secret: DatasetSecret, *,
                        unsafe_skip_checks: bool = False) -> bytes:
    """The one-time proof that every committed dataset value is in [-2^(Q-1), 2^(Q-1))."""
    lx, ly = _dataset_layouts(data.n, data.d_in, data.d_out)
    secs = []
    for lay, vals, blinds in ((lx, secret.X, secret.bX), (ly, secret.Y, secret.bY)):
        npad = lay.padded[0]
        secs.append(HyraxSecret(FrVec.from_int64(lay.pad(vals)), FrVec.concat([blinds, FrVec.zeros(npad - len(blinds))]),
                                lay.num_vars, lay.col_vars))
    ch = ProverChannel(model_key(config), Transcript(b"zkdl-dataset"))
    _dataset_protocol(ch, config, data, secs, strict=not unsafe_skip_checks)
    return ch.getvalue()



# ============================================================================ witness
@dataclass
class _Witness:
    """Stacked integer tensors (valid shapes, leading step axis) of a window, and the opening of
    the window's end weights."""

    t: dict[str, np.ndarray] = field(default_factory=dict)
    strict: bool = True
    after_sec: "ModelSecret | None" = None
    _fr: dict = field(default_factory=dict)

    #: tensors the relations read many times (the layer inputs and output gradients: every history
    #: sumcheck, product and claim of every relation): converted to Fr once per proof
    KEEP = ("In", "GZ")

    def fr(self, name: str, lay: Layout) -> FrVec:
        if name in self.KEEP:
            if (name, lay) not in self._fr:
                self._fr[(name, lay)] = FrVec.from_int64(lay.pad(self.t[name]))
            return self._fr[(name, lay)]
        return FrVec.from_int64(lay.pad(self.t[name]))


def _stack(traces: Sequence[StepTrace], get) -> np.ndarray:
    return np.stack([np.asarray(get(tr), dtype=np.int64) for tr in traces])


def _relu_remainder(S: np.ndarray, Zp: np.ndarray) -> np.ndarray:
    """zkReLU's committed P = S (Z' - 1) + (1 - S)(-Z'): Z' - 1 where Z' > 0, -Z' elsewhere (so
    Z' = 2A - S - P with A = S (P + 1); docs/protocol.md §11)."""
    return S * (Zp - 1) + (1 - S) * (-Zp)


def _witness(traces: Sequence[StepTrace]) -> _Witness:
    """The window's tensors, each a list over the layers of (T, B, d) stacks (the proof stacks the
    layers: circuits/layout.WindowLayout.out / inp)."""
    L = traces[0].config.num_layers
    w = _Witness()
    S = [_stack(traces, lambda tr: tr.S[i]) for i in range(L - 1)]
    Zp = [_stack(traces, lambda tr: tr.Zp[i]) for i in range(L)]
    w.t["E"] = [_stack(traces, lambda tr: tr.E_fwd[i]) for i in range(L - 1)]
    w.t["EL"] = _stack(traces, lambda tr: tr.E_fwd[L - 1])
    w.t["S"] = S
    w.t["P"] = [_relu_remainder(S[i], Zp[i]) for i in range(L - 1)]
    w.t["A"] = [_stack(traces, lambda tr: tr.A[i + 1]) for i in range(L - 1)]
    w.t["In"] = [_stack(traces, lambda tr: tr.A[i]) for i in range(L)]
    w.t["GA"] = [_stack(traces, lambda tr: tr.G_A[i]) for i in range(L - 1)]
    w.t["EB"] = [_stack(traces, lambda tr: tr.E_bwd[i]) for i in range(L - 1)]
    w.t["Yh"] = Zp[L - 1]
    w.t["GZ"] = [_stack(traces, lambda tr: tr.G_Z[i]) for i in range(L)]
    return w


def master_secret(config: FixedPointConfig, secret: ModelSecret) -> ModelSecret:
    """The opening of master_of(config, model) from the model's opening: values and blinds
    scaled by 2^(R+k) (M_0 = 2^(R+k) W, docs/semantics.md)."""
    f = 1 << config.master_bits
    return ModelSecret([s.scale(f) for s in secret.W], [s.scale(f) for s in secret.b])


def commit_master(config: FixedPointConfig, M: Sequence[np.ndarray], *, prf_key: bytes | None = None,
                  step: int | None = None) -> tuple[MasterCommitment, ModelSecret]:
    """Commit to master weights (the end of a window): per layer the W part and the bias row,
    in the model's layout; no range proof (master weights need none).  Fresh blinds, or with
    ``prf_key`` blinds derived from the run's key, the step the weights are the start of and a
    digest of the weights, so that the window ending and the window starting there compute the
    same commitment independently (docs/protocol.md §12)."""
    M = [np.asarray(m, dtype=np.int64) for m in M]
    if prf_key is None:
        cw, cb, sec = _commit_layers(config, M)
    else:
        if step is None:
            raise ZkdlError("commit_master: derived blinds need the step the weights are the start of")
        with randomness.derived(prf_key, "master", step, _digest(M)):
            cw, cb, sec = _commit_layers(config, M)
    return MasterCommitment(cw, cb), sec


def window_start(trace: StepTrace, prf_key: bytes) -> tuple[MasterCommitment, ModelSecret]:
    """The commitment (and opening) to the master weights a window starting at ``trace`` starts
    from, recomputed from the trace and the run's key: the same as the previous window's
    after-commitment when it was proven with the same key (commit_master with derived blinds)."""
    return commit_master(trace.config, trace.W_before, prf_key=prf_key, step=trace.step)


def _digest(arrays, *extra: bytes) -> bytes:
    """SHA-256 of integer arrays (shape, dtype and bytes of each, in order) and extra bytes: the
    witness part of a derived-randomness label."""
    import hashlib

    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(repr((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    for e in extra:
        h.update(len(e).to_bytes(8, "little") + e)
    return h.digest()


def _check_traces(traces: Sequence[StepTrace], config: FixedPointConfig) -> None:
    if not traces:
        raise ShapeError("prove_window: no traces")
    for j, tr in enumerate(traces):
        if not isinstance(tr, StepTrace):
            raise ShapeError(f"prove_window: item {j} is not a StepTrace")
        if tr.config != config:
            raise ShapeError(f"prove_window: step {tr.step} was recorded with a different configuration")
        if tr.step != traces[0].step + j:
            raise ShapeError(f"prove_window: steps are not consecutive (step {tr.step} at position {j}, "
                             f"expected {traces[0].step + j})")



def prove_window(traces: Sequence[StepTrace], before: "ModelCommitment | MasterCommitment | None",
                 before_secret: "ModelSecret | None", dataset: DatasetCommitment, dataset_secret: DatasetSecret, *,
                 reveal_losses: bool = True, prf_key: bytes | None = None, unsafe_skip_checks: bool = False):
    """Prove a window of consecutive training steps (semantics v2: master weights).

    ``before`` is where the window starts: the model a chain starts from (a ModelCommitment at
    scale 2^R, with its opening; the window then starts from its master weights
    M_0 = 2^(R+k) W, master_of) or the previous window's end weights (the MasterCommitment and
    opening this function returned for it).  Returns (proof, after, after_secret): the proof
    (with its statement), the commitment to the master weights after the window and its opening.
    Unless ``unsafe_skip_checks`` (for soundness tests only), every trace is re-validated against
    the semantics and the dataset, and the window's first weights must open ``before``.

    With ``prf_key`` (the run's key, zkdl.randomness) all of the window's randomness is derived
    from the key and the witness, so the proof is a deterministic function of them; ``before``
    may then be None for a window that continues a chain proven with the same key (the start is
    recomputed: window_start), and the after-commitment is the one the next window recomputes."""
    traces = list(traces)
    config = traces[0].config if traces else None
    _check_traces(traces, config)
    T = len(traces)
    if before is None:
        if prf_key is None:
            raise ZkdlError("prove_window: without the run's key the window's start commitment must be given")
        before, before_secret = window_start(traces[0], prf_key)
    if not isinstance(before, MasterCommitment):
        before, before_secret = master_of(config, before), master_secret(config, before_secret)
    if not unsafe_skip_checks:
        for tr in traces:
            tr.validate()
            want = batch_indices(config.seed, tr.step, dataset.n, config.batch_size)
            if not np.array_equal(np.asarray(tr.batch), want):
                raise ShapeError(f"step {tr.step}: batch indices do not follow the public schedule")
            if not (np.array_equal(tr.X, dataset_secret.X[want]) and np.array_equal(tr.Y, dataset_secret.Y[want])):
                raise ShapeError(f"step {tr.step}: X / Y are not the committed dataset rows")
        for a, b in zip(traces, traces[1:]):
            for i in range(config.num_layers):
                if not np.array_equal(a.W_after[i], b.W_before[i]):
                    raise ShapeError(f"step {b.step}: weights do not continue from step {a.step}")
        lay1 = WindowLayout(config, 1)
        for i in range(config.num_layers):
            w = traces[0].W_before[i]
            if not (before_secret.W[i].values == FrVec.from_int64(lay1.weight(i).pad(w[:-1]))
                    and before_secret.b[i].values == FrVec.from_int64(lay1.bias(i).pad(w[-1]))):
                raise ShapeError(f"layer {i + 1}: the first step's weights are not the committed ones the window "
                                 "starts from")
    lay = WindowLayout(config, T)
    key = training_key(lay.key_size())
    wit = _witness(traces)
    wit.strict = not unsafe_skip_checks
    t0 = traces[0].step
    after, wit.after_sec = commit_master(config, traces[-1].W_after, prf_key=prf_key, step=t0 + T)
    losses = [tr.loss_int for tr in traces] if reveal_losses else None
    st = Statement(config, t0, T, dataset.n, dataset.digest(), before, after, losses)
    st.check_field_bound()          # the verifier would refuse the statement: say so before proving
    ch = ProverChannel(key, Transcript(b"zkdl-train"), derived=True)
    if prf_key is None:
        _protocol(ch, st, dataset, wit, before_secret, dataset_secret)
    else:
        names = sorted(wit.t)
        tensors = [a for n in names for a in (wit.t[n] if isinstance(wit.t[n], list) else [wit.t[n]])]
        witness = _digest([traces[0].W_before[i] for i in range(config.num_layers)] + tensors,
                          st.to_bytes(), ",".join(names).encode())
        with randomness.derived(prf_key, "window", t0, T, witness):
            _protocol(ch, st, dataset, wit, before_secret, dataset_secret)
    return WindowProof(st, ch.getvalue(), dict(ch.timings)), after, wit.after_sec


def prove_inference(config: FixedPointConfig, weights: Sequence[np.ndarray], model: ModelCommitment,
                    model_secret: ModelSecret, X, *, commit_input: bool = False, unsafe_skip_checks: bool = False):
    """Prove Yhat = MLP(X) (the semantics' forward pass) for the committed weights.

    X is (n, d_0) fixed-point integers (n examples; a 1-D X of length d_0 is one example).  The
    input is public, or with ``commit_input`` committed (one row commitment per example, in the
    statement) and hidden; then the return value is (proof, X_blinds), the blinds being the
    openings of those commitments.  Committing the weights (commit_model) is done once,
    beforehand, and not part of this.

    Checked before proving: the shapes; that ``model_secret`` opens ``model`` to exactly
    ``weights`` (check_model_opening: ModelOpeningError otherwise); that the model carries a
    range proof (the verifier requires it); that X lies in [-2^(Q-1), 2^(Q-1)).
    ``unsafe_skip_checks`` skips the opening and range-proof checks (soundness tests prove with
    a cheating model to see the verifier reject it)."""
    from zkdl.fixedpoint import _forward, check_weights

    d0 = config.widths[0]
    X = np.asarray(X)
    if X.ndim == 1 and X.shape[0] == d0:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != d0 or X.shape[0] < 1:
        hint = (f"; flatten each example (X.reshape(len(X), -1)) to {d0} features" if X.ndim > 2
                and X.shape[0] >= 1 and int(np.prod(X.shape[1:])) == d0 else "")
        raise ShapeError(f"prove_inference: X must have shape (n, {d0}) (n >= 1 examples of {d0} features), "
                         f"got {X.shape}{hint}")
    if X.dtype.kind not in "iu":
        raise ShapeError("prove_inference: X must be an integer (fixed-point) array")
    cfg = inference_config(config.widths, X.shape[0], config.R, config.Q)
    W = check_weights(cfg, weights, "prove_inference")
    if not unsafe_skip_checks:
        check_model_opening(cfg, model, model_secret, W)
        if not model.range_proof:
            raise ZkdlError("prove_inference: the model commitment carries no range proof, so no verifier would "
                             "accept a proof about it; commit the weights with commit_model (zkdl commit-model)")
    if X.size and (int(X.min()) < -cfg.bound or int(X.max()) >= cfg.bound):
        raise FieldRangeError(f"prove_inference: X has values outside [-2^{cfg.Q - 1}, 2^{cfg.Q - 1}) (fixed point, "
                         f"{cfg.R} fractional bits)")
    X = X.astype(np.int64)
    Zp, E, S, A = _forward(cfg, W, X, "inference")
    wit = _Witness()
    X_com = None
    lay = WindowLayout(cfg, 1)
    key = training_key(lay.key_size())
    if commit_input:
        d0 = cfg.widths[0]
        rows = np.zeros((X.shape[0], 1 << _bits(d0)), dtype=np.int64)
        rows[:, :d0] = X
        blinds = random_scalars(X.shape[0])
        X_com = key.commit_rows(rows, blinds)
        wit.t["X"] = X[None]
        wit.t["X_blinds"] = blinds
    st = InferenceStatement(cfg, model, None if commit_input else X, Zp[-1], X_com)
    L = cfg.num_layers
    wit.t["E"] = [E[i][None] for i in range(L - 1)]
    wit.t["EL"] = E[L - 1][None]
    wit.t["S"] = [S[i][None] for i in range(L - 1)]
    wit.t["P"] = [_relu_remainder(S[i], Zp[i])[None] for i in range(L - 1)]
    wit.t["A"] = [A[i + 1][None] for i in range(L - 1)]
    wit.t["In"] = [A[i][None] for i in range(L)]
    ch = ProverChannel(key, Transcript(b"zkdl-inference"), derived=True)
    _protocol(ch, st, None, wit, model_secret, None)
    proof = InferenceProof(st, ch.getvalue())
    proof.timings = dict(ch.timings)
    return (proof, wit.t["X_blinds"]) if commit_input else proof


def prove_final_model(config: FixedPointConfig, M: Sequence[np.ndarray], master: MasterCommitment,
                      master_sec: ModelSecret, *, prf_key: bytes | None = None
                      ) -> tuple[ModelCommitment, ModelSecret, bytes]:
    """The model a run publishes: W = rescale_(R+k)(M) (round_master) of its last master weights
    M (opened by ``master_sec`` against ``master``), committed with its range proof
    (commit_model), and the link proof that ties it to ``master`` (verify_final_model).
    Raises TrainingRangeError (via check_weights) when W leaves [-2^(Q-1), 2^(Q-1)).
    With ``prf_key`` its randomness is derived from the run's key, M and ``master``."""
    if prf_key is not None:
        with randomness.derived(prf_key, "final-model", _digest(M, master.to_bytes())):
            return prove_final_model(config, M, master, master_sec)
    from zkdl.codec import wrap
    from zkdl.fixedpoint import round_master

    from .onetime import LINK_KIND, _final_model_protocol

    W, _ = round_master(config, M)
    model, sec = commit_model(config, W)
    ch = ProverChannel(model_key(config), Transcript(b"zkdl-final-model"))
    _final_model_protocol(ch, config, master, model, (master_sec, sec))
    return model, sec, wrap(LINK_KIND, ch.getvalue())
