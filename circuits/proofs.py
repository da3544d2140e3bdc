"""Proof containers and the verifier's entry points (docs/protocol.md §11, "Chains and their
starts" and "Inference").

:class:`WindowProof` and :class:`InferenceProof` (statement + proof body), :func:`verify_window`
(with the chain-start rule, ``_check_start``) and :func:`verify_inference`.
"""
from __future__ import annotations

from zkdl import sigma

from dataclasses import dataclass, field

from zkdl.codec import Reader, Writer, unwrap, wrap
from zkdl.errors import VerificationError
from zkdl.transcript import Transcript

from .channel import VerifierChannel
from .commitments import DatasetCommitment, MasterCommitment, ModelCommitment, master_of
from .layout import WindowLayout, _check_size, training_key
from .onetime import _check_model_shape, verify_dataset, verify_model
from .statement import INFERENCE_KIND, PROOF_KIND, InferenceStatement, Statement
from .window import _protocol


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
    def from_bytes(cls, data: bytes, start=None) -> "WindowProof":
        """Strict decoding; ``start`` as for Statement.from_bytes (a shortcut, never a check)."""
        r = Reader(unwrap(data, PROOF_KIND))
        st = Statement.from_bytes(r.blob("statement", 1 << 30), start)
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
    fields that differ).  Raises VerificationError (or ProofFormatError for malformed bytes).

    verify_window = verify_window_alone (the proof, any number of them in parallel) then
    continue_chain (the chain rule, sequential and cheap)."""
    if isinstance(proof, (bytes, bytearray, memoryview)):
        proof = WindowProof.from_bytes(bytes(proof), start)
    st = _precheck(proof, dataset, expected)
    _check_start(st, start)         # cheap: a wrong start is refused before the proof is checked
    _check_proof(proof, st, dataset)
    st.chain_verified = True        # this statement may now serve as the next window's start
    return st


def verify_window_alone(proof: "WindowProof | bytes", dataset: DatasetCommitment,
                        expected: Statement | None = None) -> Statement:
    """Everything verify_window checks except where the window starts: the returned statement is
    *not* yet sound on its own (its ``before`` is unchecked) and cannot start the next window
    until continue_chain accepts it.  Windows of a run can be checked this way concurrently."""
    if isinstance(proof, (bytes, bytearray, memoryview)):
        proof = WindowProof.from_bytes(bytes(proof))
    st = _precheck(proof, dataset, expected)
    _check_proof(proof, st, dataset)
    st.body_verified = True         # continue_chain may now place it in its chain
    return st


def _precheck(proof, dataset, expected) -> Statement:
    """The statement's own checks (shapes, sizes, dataset, field bound), before any proof work."""
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
    _check_size(WindowLayout(st.config, st.T))
    st.check_field_bound()
    return st


def _check_proof(proof: WindowProof, st: Statement, dataset: DatasetCommitment) -> None:
    """The dataset's range proof (cached per process) and the window's protocol."""
    verify_dataset(st.config, dataset)
    lay = WindowLayout(st.config, st.T)
    ch = VerifierChannel(training_key(lay.key_size()), Transcript(b"zkdl-train"), proof.body, derived=True)
    with sigma.batched_checks():
        _protocol(ch, st, dataset, None)
        ch.done()


def continue_chain(st: Statement, start: "ModelCommitment | Statement") -> Statement:
    """The chain-start rule of verify_window for a statement verify_window_alone accepted (see
    verify_window for ``start``).  Marks it as a valid start for the next window and returns it."""
    if not getattr(st, "body_verified", False):
        raise VerificationError("chain: the window's proof must be verified first (verify_window_alone)")
    _check_start(st, start)
    st.chain_verified = True        # this statement may now serve as the next window's start
    return st


def _check_start(st: Statement, start) -> None:
    """The chain-start rule of verify_window (see there)."""
    if isinstance(start, MasterCommitment):
        raise VerificationError("chain start: a chain starts from a model commitment (with its range proof), not "
                                "from master weights; continue a chain with the previous window's Statement")
    if isinstance(start, ModelCommitment):
        _check_model_shape(st.config, start)
        if st.before != master_of(st.config, start):
            raise VerificationError("chain start: the window does not start from the given model commitment "
                                    "(its master weights 2^(R+k) W)")
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
    ch = VerifierChannel(training_key(lay.key_size()), Transcript(b"zkdl-inference"), proof.body, derived=True)
    with sigma.batched_checks():
        _protocol(ch, st, None, None)
        ch.done()
    return st
