"""FAC4DNN proof of a window of fixed-point training steps (docs/protocol.md §11, docs/semantics.md):
the table of contents of the training circuits.

Semantics v2 (docs/semantics.md): master weights M at scale 2^(2R+k), updated exactly. Every
tensor of every step of the window is stacked along a leading step axis, and the layers along a
leading layer axis (padded to powers of two, common widths), so **one instance per relation covers
all T steps and all L layers** (FAC4DNN).  The protocol is written once, as :func:`_protocol` over
a :mod:`zkdl.circuits.channel` channel, and run by the prover (:func:`prove_window`,
:mod:`zkdl.circuits.prover`) and the verifier (:func:`verify_window`).

Committed per window (all as Hyrax commitments, range-checked ones as limbs):

    hidden layers, stacked:  S (ReLU sign, 0/1), P = S(Z'-1) + (1-S)(-Z') in [0, 2^(Q-1)) (zkReLU: Z'
                      is never committed; Z' = 2A - S - P and A = S*(P+1)), E (forward remainder,
                      2R+k bits), G_A, E' (backward remainder, 2R+k bits)
    last layer:       Yhat = Z'_L in [-2^(Q-1), 2^(Q-1)), E_L
    once:             the master weights after the window M_T (in the statement: its `after`, per
                      layer), m, the multiplicities of the lookup table

Nothing weight-sized is committed per step.  Derived (never committed): Z, the activations A, the
gradients G_Z, the data stacks X, Y (rows of the dataset commitment selected by the public batch
schedule) and the weights of every step, M_t = M_0 - eta_int sum_{s<t} [A_s | 2^R]^T G_Z_s: claims
on products with M_t reduce to claims on M_0, A and G_Z through the history sumchecks
(:mod:`.history`), and the window-end relation ties M_T to M_0.

Where each part lives, in the order of the protocol (modules of :mod:`zkdl.circuits`):

    layout       WindowLayout (the padded shapes of the stacked tensors), the verifier's size
                 limits, limb_bits, the keys (training_key, model_key)
    statement    Statement, InferenceStatement, write_config / read_config, the proof kinds
                 (absorbed first)
    commitments  ModelCommitment, MasterCommitment, DatasetCommitment (and DATASET_KIND) and
                 their row algebra: the data stacks (_select_rows), master_of (Com(M_0) =
                 2^(R+k) Com(W))
    onetime      the one-time range proofs of a dataset and of a model, checked at a chain's
                 start (verify_dataset, verify_model)
    rangecheck   limbs and the logUp-GKR glue (_range_of, _lookup, LOOKUP_MAX_BITS)
    window       _protocol: commitments, range checks, relations, losses, derived tensors,
                 openings
    history      the relations with the weights inside a window: forward, backward and window
                 end, with the history term and the "less than" predicate
    proofs       WindowProof, InferenceProof, verify_window (= verify_window_alone + continue_chain,
                 the chain rule), verify_inference

This module re-exports every name those modules took from it, so ``from zkdl.circuits.training
import X`` and ``training.X`` keep working.  Module-level state lives in its owning module only:
the caches _KEYS (layout), _MASK_ROWS (commitments), _CHECKED_MODELS and _CHECKED_DATASETS
(onetime) are re-exported as the same objects; LOOKUP_MAX_BITS lives in :mod:`.rangecheck`, and
reading or assigning ``training.LOOKUP_MAX_BITS`` is forwarded there (set it on
``zkdl.circuits.rangecheck`` directly in new code).
"""
from __future__ import annotations

import sys
import types

from . import rangecheck as _rangecheck
from .commitments import (
    DATASET_KIND, DatasetCommitment, MasterCommitment, ModelCommitment, _MASK_ROWS, master_of, _dataset_layouts, _dataset_rows, _mask_rows,
    _mask_rows_uncached, _read_points, _select_rows,
)
from .layout import (
    KEY_LABEL, MAX_LAYERS, MAX_STEPS, MAX_TENSOR_VARS, WindowLayout, _KEYS, _bits, _check_size, _eq_tab, limb_bits,
    model_key, training_key,
)
from .onetime import (
    _CHECKED_DATASETS, _CHECKED_MODELS, _check_model_shape, _dataset_protocol, _model_protocol, _verify_range_proof,
    verify_dataset, verify_model,
    LINK_KIND, verify_final_model,
)
from .proofs import (InferenceProof, WindowProof, _check_start, continue_chain, verify_inference, verify_window,
                     verify_window_alone)
from .rangecheck import (
    _Block, _commitment_range_protocol, _lookup, _lookup_one, _range_limb_bits, _range_of, _small_ints,
)
from .statement import (
    INFERENCE_KIND, P, PROOF_KIND, STATEMENT_KIND, InferenceStatement, Statement, _public_mle, _signed,
    inference_config, read_config, write_config,
)
from .window import _protocol

__all__ = [
    # layout
    "KEY_LABEL", "MAX_LAYERS", "MAX_STEPS", "MAX_TENSOR_VARS", "WindowLayout", "_KEYS", "_bits", "_check_size",
    "_eq_tab", "limb_bits", "model_key", "training_key",
    # statement
    "INFERENCE_KIND", "P", "PROOF_KIND", "STATEMENT_KIND", "InferenceStatement", "Statement", "_public_mle",
    "_signed", "inference_config", "read_config", "write_config",
    # commitments
    "DATASET_KIND", "DatasetCommitment", "MasterCommitment", "ModelCommitment", "master_of", "LINK_KIND", "verify_final_model", "_MASK_ROWS", "_dataset_layouts", "_dataset_rows",
    "_mask_rows", "_mask_rows_uncached", "_read_points", "_select_rows",
    # onetime
    "_CHECKED_DATASETS", "_CHECKED_MODELS", "_check_model_shape", "_dataset_protocol", "_model_protocol",
    "_verify_range_proof", "verify_dataset", "verify_model",
    # rangecheck (and LOOKUP_MAX_BITS, forwarded below)
    "_Block", "_commitment_range_protocol", "_lookup", "_lookup_one", "_range_limb_bits", "_range_of",
    "_small_ints",
    # window
    "_protocol",
    # proofs
    "InferenceProof", "WindowProof", "_check_start", "continue_chain", "verify_inference", "verify_window",
    "verify_window_alone",
]

#: names whose one binding lives in another module, which reads it at call time: getting or setting
#: them here (``monkeypatch.setattr(training, "LOOKUP_MAX_BITS", 7)``) acts on that module's binding
_FORWARDED = {"LOOKUP_MAX_BITS": _rangecheck}


class _ForwardingModule(types.ModuleType):
    def __getattr__(self, name):
        if name in _FORWARDED:
            return getattr(_FORWARDED[name], name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in _FORWARDED:
            setattr(_FORWARDED[name], name, value)
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name):
        if name in _FORWARDED:
            raise AttributeError(f"{self.__name__}.{name} is forwarded to {_FORWARDED[name].__name__}; "
                                 "it cannot be deleted")
        super().__delattr__(name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(_FORWARDED))


sys.modules[__name__].__class__ = _ForwardingModule
