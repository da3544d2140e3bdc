"""The one-time range proofs of a dataset and of a model (docs/protocol.md §11, "The dataset" and
"The model").

Every committed feature and target of a dataset, and every committed weight and bias of a model,
lies in [-2^(Q-1), 2^(Q-1)): proven once (``_dataset_protocol``, ``_model_protocol``, made by the
prover's commit_dataset / commit_model) and checked once per process (:func:`verify_dataset`,
:func:`verify_model`, cached in ``_CHECKED_DATASETS`` / ``_CHECKED_MODELS``).  A run's published
model W = rescale_(R+k)(M_T) is tied to the run's last master weights by one more such proof
(:func:`verify_final_model`).
"""
from __future__ import annotations

from zkdl import sigma

import hashlib

from zkdl.codec import ProofFormatError, Writer
from zkdl.errors import VerificationError
from zkdl.fixedpoint import FixedPointConfig
from zkdl.transcript import Transcript

from .channel import Channel, VerifierChannel
from .commitments import DatasetCommitment, MasterCommitment, ModelCommitment, _dataset_layouts, _dataset_rows
from .layout import WindowLayout, model_key
from .rangecheck import _commitment_range_protocol, _range_limb_bits
from .tensors import RangeSpec


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
        with sigma.batched_checks():
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


# ---------------------------------------------------------------------------- a run's published model
LINK_KIND = 0x0107


def _final_model_protocol(ch: Channel, config: FixedPointConfig, master: MasterCommitment, model: ModelCommitment,
                          secrets=None, strict: bool = True) -> None:
    """The link between a run's last master weights M (scale 2^(2R+k)) and the model it publishes,
    W = rescale_(R+k)(M) (scale 2^R): E = M − 2^(R+k) W, derived row-wise from the two
    commitments, lies in [−2^(R+k−1), 2^(R+k−1)) (limbs 1.. sent, limb 0 derived, logUp).  With
    W's own range proof (verify_model) this makes W a chain start tied to the run."""
    ch.t.domain(b"zkdl/final-model")
    w = Writer().u32(len(config.widths))
    for d in config.widths:
        w.u32(d)
    ch.t.append_bytes(b"config", w.u32(config.R).u32(config.Q).u32(config.k).getvalue())
    ch.t.append_bytes(b"master", master.to_bytes())
    ch.t.append_bytes(b"model", model.to_bytes())
    lay = WindowLayout(config, 1)
    L = config.num_layers
    bits = config.master_bits
    f = 1 << bits
    lb = _range_limb_bits(sum(lay.weight(i).size + lay.bias(i).size for i in range(L)))
    spec = RangeSpec(bits, 1 << (bits - 1), lb)
    items = []
    for i in range(L):
        for part, l in (("W", lay.weight(i)), ("b", lay.bias(i))):
            com = getattr(master, part)[i] - getattr(model, part)[i].scale(f)
            sec = None
            if secrets is not None:
                msec, wsec = secrets
                sec = getattr(msec, part)[i] - getattr(wsec, part)[i].scale(f)
            items.append((f"E{part}{i}", l, spec, com, sec))
    _commitment_range_protocol(ch, items, lb, strict)


def verify_final_model(config: FixedPointConfig, master: MasterCommitment, model: ModelCommitment, link: bytes) -> None:
    """Check that ``model`` is the published model of a run ending at ``master``: the model's range
    proof (verify_model) and the rounding link (``link``, made by prove_final_model).
    VerificationError otherwise."""
    from zkdl.codec import unwrap

    if not isinstance(master, MasterCommitment) or not isinstance(model, ModelCommitment) \
            or isinstance(model, MasterCommitment):
        raise VerificationError("final model: need the run's last master weights and a model commitment")
    _check_model_shape(config, model)
    _check_model_shape(config, master)
    verify_model(config, model)
    try:
        body = unwrap(link, LINK_KIND)
    except ProofFormatError as e:
        raise VerificationError(f"final model link: malformed: {e}") from None
    ch = VerifierChannel(model_key(config), Transcript(b"zkdl-final-model"), body)
    try:
        with sigma.batched_checks():
            _final_model_protocol(ch, config, master, model)
            ch.done()
    except VerificationError as e:
        raise VerificationError(f"final model link: {e}") from None
    except ProofFormatError as e:
        raise VerificationError(f"final model link: malformed: {e}") from None
