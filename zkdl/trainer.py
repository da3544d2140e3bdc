"""Reference fixed-point trainer, weight import/export and the float64 reference.

The arithmetic lives in :mod:`zkdl.fixedpoint` (normative, see docs/semantics.md); this module
drives it over a dataset with the public batch schedule and produces one
:class:`~zkdl.fixedpoint.StepTrace` per step for the prover.  Training updates master weights
M = 2^(R+k) * W exactly (semantics version 2); ``trainer.weights`` is the published model
round_master(M) at scale 2^R, ``trainer.master`` the master weights themselves.

>>> import numpy as np
>>> from zkdl.fixedpoint import FixedPointConfig, quantize
>>> cfg = FixedPointConfig(widths=(2, 4, 1), eta_int=1, k=6, batch_size=4, seed=1)
>>> W0 = init_weights_from_float(init_mlp(cfg.widths, seed=0), cfg.R)
>>> X = quantize(np.random.default_rng(0).uniform(-1, 1, (8, 2)), cfg.R)
>>> trainer = Trainer(cfg, W0, X, quantize(np.ones((8, 1)), cfg.R))
>>> traces = trainer.run(3)
>>> [t.step for t in traces], trainer.step_index
([0, 1, 2], 3)
>>> traces[-1].validate()                  # the prover-side consistency check
>>> W = trainer.weights                    # the model now (scale 2^R), rounded from trainer.master
>>> [w.shape for w in W], [m.shape for m in trainer.master]
([(3, 4), (5, 1)], [(3, 4), (5, 1)])
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import ShapeError
from .fixedpoint import (
    ConfigError, FixedPointConfig, StepTrace, TrainingRangeError, _check_range, _int_matrix, _weights, batch_indices,
    dequantize, forward, quantize, round_master, to_master, train_step,
)

__all__ = [
    "Trainer", "Weights", "init_weights_from_float", "export_state_dict", "fixed_state_dict", "save_weights",
    "fixed_weights_path", "sequential_names", "init_mlp", "float_forward", "float_train", "FloatRun",
    "predict", "accuracy", "r2_score", "lr_from_pytorch", "divergence_advice", "compare_digits", "DIGITS_DEFAULTS",
]


# ----------------------------------------------------------------------------- weight import


def _as_float_array(v, name: str) -> np.ndarray:
    if hasattr(v, "detach"):                     # a torch tensor, without importing torch
        v = v.detach().cpu().numpy()
    arr = np.asarray(v)
    if arr.dtype.kind not in "fiu":
        raise ShapeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _natural_key(s: str) -> tuple:
    return tuple((0, int(c), "") if c.isdigit() else (1, 0, c) for c in re.split(r"(\d+)", s) if c)


#: format marker of the exact-integer weight file written by save_weights / Recorder.export_weights
FIXED_WEIGHTS_FORMAT = "zkdl-fixed-weights"
_META_KEYS = ("zkdl.format", "zkdl.version", "zkdl.R")


class Weights(list):
    """The list of int64 weight matrices (zkdl layout) returned by :func:`init_weights_from_float`,
    remembering what was read: ``names`` (the layer names, e.g. ``["input_layer", "hidden",
    "output"]`` or ``["0", "2"]``; used again by :func:`save_weights` and
    ``Recorder.export_weights``), ``ignored`` (keys that were not Linear parameters) and
    :meth:`describe`.  It is a plain ``list`` otherwise."""

    names: list | None = None
    ignored: list = []
    exact: bool = False

    def describe(self) -> str:
        """One line: the layers read, in order, with their shapes, and the ignored keys."""
        names = self.names or [f"layer {i + 1}" for i in range(len(self))]
        parts = [f"{n} ({w.shape[0] - 1} -> {w.shape[1]})" for n, w in zip(names, self)]
        widths = "-".join(map(str, [self[0].shape[0] - 1] + [w.shape[1] for w in self])) if len(self) else "?"
        s = (f"{len(self)} Linear layer{'s' if len(self) != 1 else ''} in this order: {', '.join(parts)}; "
             f"widths {widths}{' (exact fixed-point integers)' if self.exact else ''}")
        if self.ignored:
            s += f"; ignored {len(self.ignored)} non-parameter entr{'ies' if len(self.ignored) != 1 else 'y'}: " \
                 + ", ".join(self.ignored)
        return s


def _is_weight_key(k: str) -> bool:
    return k.endswith(".weight") or k.endswith(".bias")


def _sequential_order(prefixes: list[str]) -> list[str]:
    """nn.Sequential indices ("0", "2", "10", or "net.0", "net.2", ...: one stem and an integer)
    are ordered numerically; any other names keep their order in the mapping."""
    m = [re.fullmatch(r"(.*?)(\d+)", p) for p in prefixes]
    if all(m) and len({x.group(1) for x in m}) == 1:
        return sorted(prefixes, key=lambda p: int(re.fullmatch(r"(.*?)(\d+)", p).group(2)))
    return prefixes


def _layers_from_mapping(src: Mapping, layers: Sequence[str] | None = None
                         ) -> tuple[list[np.ndarray], list[str], list[str]]:
    """(float layers in zkdl layout, layer names, ignored keys) of a state dict."""
    keys = [str(k) for k in src.keys() if str(k) not in _META_KEYS]
    torch_keys = [k for k in keys if _is_weight_key(k)]
    if layers is not None or torch_keys:
        ignored = [k for k in keys if not _is_weight_key(k)]
        if layers is not None:
            prefixes = [str(p) for p in layers]
            if not prefixes:
                raise ShapeError("layers: an empty list of layer names")
            for p in prefixes:
                if f"{p}.weight" not in src:
                    raise ShapeError(f"state dict: no '{p}.weight' for the layer {p!r} named in layers "
                                     f"(it has {[k for k in torch_keys if k.endswith('.weight')]})")
            ignored += [k for k in torch_keys if k.rsplit(".", 1)[0] not in prefixes]
        else:
            prefixes = _sequential_order(list(dict.fromkeys(k.rsplit(".", 1)[0] for k in torch_keys)))
        out = []
        for p in prefixes:
            if f"{p}.weight" not in src:
                raise ShapeError(f"state dict: '{p}.bias' without '{p}.weight'")
            w = _as_float_array(src[f"{p}.weight"], f"{p}.weight")
            if w.ndim != 2:
                raise ShapeError(f"state dict: '{p}.weight' must be 2-D (out, in) like a Linear layer's, got "
                                 f"shape {w.shape} (zkdl models are Linear + ReLU only)")
            b = (_as_float_array(src[f"{p}.bias"], f"{p}.bias") if f"{p}.bias" in src
                 else np.zeros(w.shape[0]))
            if b.shape != (w.shape[0],):
                raise ShapeError(f"state dict: '{p}.bias' must have shape ({w.shape[0]},), got {b.shape}")
            out.append(np.vstack([w.T, b[None, :]]))     # torch Linear weight is (out, in)
        return out, prefixes, ignored
    idx = {}
    for k in keys:
        m = re.fullmatch(r"([Wb])(\d+)", k)
        if not m:
            raise ShapeError(f"weights: unexpected key {k!r} (expected W0, b0, W1, b1, ... or "
                             "torch-style '<prefix>.weight' / '<prefix>.bias')")
        idx.setdefault(int(m.group(2)), {})[m.group(1)] = k
    out = []
    for i in sorted(idx):
        if "W" not in idx[i]:
            raise ShapeError(f"weights: b{i} without W{i}")
        w = _as_float_array(src[idx[i]["W"]], f"W{i}")
        if w.ndim != 2:
            raise ShapeError(f"weights: W{i} must be 2-D (in, out), got shape {w.shape}")
        b = _as_float_array(src[idx[i]["b"]], f"b{i}") if "b" in idx[i] else np.zeros(w.shape[1])
        if b.shape != (w.shape[1],):
            raise ShapeError(f"weights: b{i} must have shape ({w.shape[1]},), got {b.shape}")
        out.append(np.vstack([w, b[None, :]]))
    return out, None, []


def _fixed_file_R(src: Mapping) -> int | None:
    """R of an exact-integer weight mapping (save_weights' integer file), None for float weights."""
    if "zkdl.format" not in src:
        return None
    try:
        fmt, R = str(np.asarray(src["zkdl.format"])), int(np.asarray(src["zkdl.R"]))
    except (KeyError, TypeError, ValueError):
        raise ShapeError("weights: malformed zkdl.format / zkdl.R entries") from None
    if fmt != FIXED_WEIGHTS_FORMAT:
        raise ShapeError(f"weights: unknown zkdl.format {fmt!r}")
    return R


def init_weights_from_float(source: Any, R: int = 16, *, widths: Sequence[int] | None = None,
                            layers: Sequence[str] | None = None, warn: bool = True) -> Weights:
    """Quantize float weights (round half up, scale 2^R) into zkdl's layout: a list
    (:class:`Weights`) of int64 W_l of shape (d_{l-1} + 1, d_l) whose last row is the bias.

    ``source`` may be
      * a list whose items are either arrays already in zkdl layout (d_in + 1, d_out) or pairs
        (W, b) with W of shape (d_in, d_out) and b of shape (d_out,);
      * a PyTorch-style state dict of Linear layers, {"0.weight": (out, in), "0.bias": (out,),
        "2.weight": ...} (values: numpy arrays, torch tensors or anything np.asarray accepts; a
        missing bias means zero bias).  The layers are taken **in the mapping's order** (a state
        dict's order is the model's), except that nn.Sequential indices (one stem and a number:
        "0", "2", "10" or "net.0", "net.2", ...) are ordered numerically; ``layers`` (a list of
        layer names, e.g. ["input_layer", "hidden", "output"]) gives the order explicitly.  Keys
        that are not "<name>.weight" / "<name>.bias" (buffers such as "num_batches_tracked" or
        "running_mean") are ignored with a warning (``warn=False``: silently; they are listed in
        ``.ignored``);
      * a dict {"W0": (in, out), "b0": (out,), "W1": ...} (b optional);
      * a path to an .npz file or an opened NpzFile holding either kind of keys -- including the
        exact-integer file of :func:`save_weights` (marked ``zkdl.format``), whose integers are
        taken as they are (its R must equal ``R``).
    ``widths``, if given, must match the layer shapes.  Consecutive layers must chain
    (d_out of layer i = d_in of layer i + 1), else ShapeError.  ``describe()`` of the result
    says what was read.

    >>> sd = {"0.weight": np.array([[1.0, -0.5]]), "0.bias": np.array([0.25])}   # Linear(2, 1)
    >>> init_weights_from_float(sd, R=4)[0].tolist()
    [[16], [-8], [4]]
    """
    names: list | None = None
    ignored: list = []
    exact_R = None
    if isinstance(source, (str, os.PathLike)):
        try:
            with np.load(source, allow_pickle=False) as npz:
                source = {k: npz[k] for k in npz.files}
        except FileNotFoundError:
            raise ShapeError(f"{os.fspath(source)}: no such file") from None
        except (OSError, ValueError) as e:
            raise ShapeError(f"{os.fspath(source)}: not a readable .npz file ({e})") from None
    if hasattr(source, "keys") and hasattr(source, "__getitem__"):
        exact_R = _fixed_file_R(source)
        if exact_R is not None and exact_R != R:
            raise ShapeError(f"the weight file holds fixed-point integers at R = {exact_R}, not R = {R}: "
                             f"use R = {exact_R}")
        layers_f, names, ignored = _layers_from_mapping(source, layers)
    elif isinstance(source, Sequence) and not isinstance(source, np.ndarray):
        if layers is not None:
            raise ShapeError("layers (layer names) applies to a state dict only")
        layers_f = []
        for i, item in enumerate(source):
            if isinstance(item, (tuple, list)):
                if len(item) != 2:
                    raise ShapeError(f"layer {i + 1}: expected a pair (W, b)")
                w, b = _as_float_array(item[0], f"W{i}"), _as_float_array(item[1], f"b{i}")
                if w.ndim != 2 or b.shape != (w.shape[1],):
                    raise ShapeError(f"layer {i + 1}: W must be (in, out) and b (out,), got "
                                     f"{w.shape} and {b.shape}")
                layers_f.append(np.vstack([w, b[None, :]]))
            else:
                w = _as_float_array(item, f"W{i}")
                if w.ndim != 2 or w.shape[0] < 2:
                    raise ShapeError(f"layer {i + 1}: expected shape (d_in + 1, d_out), got {w.shape}")
                layers_f.append(w)
        names = getattr(source, "names", None)
    else:
        raise ShapeError(f"init_weights_from_float: unsupported source of type {type(source).__name__}")
    if not layers_f:
        raise ShapeError("init_weights_from_float: no layers")
    label = (lambda i: repr(names[i])) if names else (lambda i: str(i + 1))
    for i in range(1, len(layers_f)):
        if layers_f[i].shape[0] - 1 != layers_f[i - 1].shape[1]:
            raise ShapeError(f"layers do not chain: layer {label(i)} (#{i + 1}) expects {layers_f[i].shape[0] - 1} "
                             f"inputs but layer {label(i - 1)} (#{i}) has {layers_f[i - 1].shape[1]} outputs "
                             "(pass layers=[...] to give the order)")
    if widths is not None:
        got = (layers_f[0].shape[0] - 1,) + tuple(w.shape[1] for w in layers_f)
        if tuple(widths) != got:
            raise ShapeError(f"weights have widths {got}, expected {tuple(widths)}")
    if exact_R is not None:
        out = Weights(np.rint(w).astype(np.int64) for w in layers_f)   # integers, exact below 2^53
        out.exact = True
    else:
        out = Weights(quantize(w, R) for w in layers_f)
    out.names, out.ignored = (list(names) if names else None), ignored
    if ignored and warn:
        import warnings

        many = len(ignored) != 1
        warnings.warn(f"weights: ignored {len(ignored)} entr{'ies' if many else 'y'} that {'are' if many else 'is'} "
                      f"not {'' if many else 'a '}Linear parameter{'s' if many else ''}: {', '.join(ignored)}", stacklevel=2)
    return out


def sequential_names(num_layers: int) -> list[str]:
    """The layer names of ``nn.Sequential(Linear, ReLU, Linear, ..., Linear)``: "0", "2", "4", ..."""
    return [str(2 * i) for i in range(num_layers)]


def export_state_dict(W: Sequence[np.ndarray], R: int = 16, *, names: Sequence[str] | None = None,
                      prefix: str | None = None) -> dict[str, np.ndarray]:
    """Fixed-point weights (zkdl layout) as a PyTorch-style float state dict, in layer order:
    {"<name>.weight": (out, in), "<name>.bias": (out,), ...}.  Layer names: ``names``, else
    ``W.names`` (remembered by init_weights_from_float), else ``prefix`` formatted with the
    0-based layer index i (e.g. "fc{i}"), else nn.Sequential's "0", "2", "4", ... (Linear layers
    with a ReLU between them), so ``Sequential(Linear(d0, d1), ReLU(), Linear(d1, d2))
    .load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})`` works.  Inverse of
    init_weights_from_float on quantized values (exact: every value is k / 2^R)."""
    L = len(W)
    if names is None and prefix is None:
        names = getattr(W, "names", None)
        if names is not None and len(names) != L:
            names = None
    if names is None:
        names = [prefix.format(i=i) for i in range(L)] if prefix is not None else sequential_names(L)
    names = [str(n) for n in names]
    if len(names) != L or len(set(names)) != L:
        raise ShapeError(f"export: need {L} distinct layer names, got {names}")
    out = {}
    for p, w in zip(names, W):
        f = dequantize(w, R)
        out[f"{p}.weight"] = np.ascontiguousarray(f[:-1].T)
        out[f"{p}.bias"] = f[-1].copy()
    return out


def fixed_state_dict(W: Sequence[np.ndarray], R: int = 16, *, names: Sequence[str] | None = None,
                     prefix: str | None = None) -> dict[str, np.ndarray]:
    """The exact fixed-point integers under the same keys as :func:`export_state_dict` (int64,
    scale 2^R, torch orientation), plus the markers ``zkdl.format``, ``zkdl.version``, ``zkdl.R``."""
    sd = export_state_dict(W, R, names=names, prefix=prefix)
    keys = list(sd)
    out = {"zkdl.format": np.array(FIXED_WEIGHTS_FORMAT), "zkdl.version": np.array(1), "zkdl.R": np.array(int(R))}
    for i, w in enumerate(W):
        w = np.asarray(w, dtype=np.int64)
        out[keys[2 * i]] = np.ascontiguousarray(w[:-1].T)
        out[keys[2 * i + 1]] = w[-1].copy()
    return out


def fixed_weights_path(path: str) -> str:
    """Default name of the exact-integer file next to a float state dict: model.npz -> model.fixed.npz."""
    path = os.fspath(path)
    return (path[:-4] if path.endswith(".npz") else path) + ".fixed.npz"


def save_weights(path: str, W: Sequence[np.ndarray], R: int = 16, *, fixed_path: str | None = None,
                 names: Sequence[str] | None = None, overwrite: bool = False, mode: int = 0o600
                 ) -> tuple[str, str]:
    """Write the model as two .npz files: ``path``, a float state dict (:func:`export_state_dict`:
    the user's layer names or nn.Sequential's, float64, nothing else in it), and ``fixed_path``
    (default :func:`fixed_weights_path`: model.npz -> model.fixed.npz), the exact integers
    (:func:`fixed_state_dict`).  Both load with :func:`init_weights_from_float` to the same weights
    and are accepted by ``zkdl commit-model``.  Refuses (ZkdlError) to overwrite an existing file
    unless ``overwrite``; writes atomically.  Returns (path, fixed_path)."""
    import io

    from . import runfiles as rf
    from .errors import ZkdlError

    path = os.fspath(path)
    fixed_path = os.fspath(fixed_path) if fixed_path is not None else fixed_weights_path(path)
    if os.path.abspath(fixed_path) == os.path.abspath(path):
        raise ZkdlError("save_weights: the float and the integer file need different names")
    if not overwrite:
        for p in (path, fixed_path):
            if os.path.lexists(p):
                raise ZkdlError(f"{p} already exists (pass overwrite=True to replace it)")
    blobs = []
    for arrays in (export_state_dict(W, R, names=names), fixed_state_dict(W, R, names=names)):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        blobs.append(buf.getvalue())
    rf.atomic_write(path, blobs[0], mode)
    rf.atomic_write(fixed_path, blobs[1], mode)
    return path, fixed_path


def init_mlp(widths: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """PyTorch-default-like float initialisation in zkdl layout: every entry of W_l (bias row
    included) uniform in [-1/sqrt(d_{l-1}), 1/sqrt(d_{l-1})].

    Not normative (the initial weights are committed, however they were drawn), but
    reproducible across numpy versions: the entries of all layers, in order and row-major, are
    a * (2u - 1) with u = (w >> 11) * 2^-53 for the 64-bit outputs w of
    ``np.random.PCG64([seed, 0x1A17]).random_raw()``.
    """
    bg = np.random.PCG64([int(seed), 0x1A17])
    out = []
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        a = 1.0 / np.sqrt(d_in)
        u = np.ldexp((bg.random_raw((d_in + 1) * d_out) >> np.uint64(11)).astype(np.float64), -53)
        out.append((a * (2.0 * u - 1.0)).reshape(d_in + 1, d_out))
    return out


# ----------------------------------------------------------------------------- trainer


class Trainer:
    """Runs the normative fixed-point SGD (semantics version 2: exact updates of master weights
    M at scale 2^(2R+k)) over a dataset with the public batch schedule.

    Args:
        config: the public parameters (widths, learning rate, batch size, seed, R, Q).
        W_init: the initial *model*, int64 arrays of shapes config.weight_shapes at scale 2^R (see
            init_weights_from_float); it starts a chain, so every value must lie in
            [-2^(Q-1), 2^(Q-1)) (check_weights), and training starts from the master weights
            M = 2^(R+k) * W_init (to_master).  Not modified.  With ``continuing=True``, W_init are
            master weights instead (see there); may be None when ``master`` is given.
        X_data: (N, d_0) fixed-point inputs; Y_data: (N, d_L) fixed-point targets.  Not copied;
            do not modify them while training.
        start_step: index of the first step (to resume a run).
        continuing: W_init are the master weights of a chain already under way (the last master
            weights of a run whose training process is resumed, e.g. ``trainer.master`` or a
            trace's ``W_after``): taken as they are, not range-checked, since master weights after
            a chain's first step are not range-limited (docs/semantics.md §7).
        master: the clearer spelling of ``continuing=True``: master weights to continue from
            (then leave W_init None).

    ``step()`` performs one step and returns its StepTrace; ``run(T)`` performs T steps.
    ``master`` holds the master weights, ``weights`` the published model round_master(M).
    """

    def __init__(self, config: FixedPointConfig, W_init: Sequence | None, X_data, Y_data, *,
                 start_step: int = 0, continuing: bool = False, master: Sequence | None = None):
        self.config = config
        if master is not None:
            if W_init is not None:
                raise ConfigError("Trainer: pass either W_init (a model, or master weights with continuing=True) "
                                  "or master=, not both")
            M = _weights(config, master, "master weights")
        elif W_init is None:
            raise ConfigError("Trainer: W_init (the initial model) or master= (master weights to continue from) "
                              "is required")
        elif continuing:
            M = _weights(config, W_init, "master weights")
        else:
            M = to_master(config, W_init, "initial weights")
        self._M = [m.copy() for m in M]
        for m in self._M:
            m.flags.writeable = False
        X = _int_matrix(X_data, "X_data")
        Y = _int_matrix(Y_data, "Y_data")
        if X.ndim != 2 or X.shape[1] != config.widths[0]:
            raise ShapeError(f"X_data must have shape (N, {config.widths[0]}), got {X.shape}")
        if Y.shape != (X.shape[0], config.widths[-1]):
            raise ShapeError(f"Y_data must have shape ({X.shape[0]}, {config.widths[-1]}), got {Y.shape}")
        if X.shape[0] < config.batch_size:
            raise ShapeError(f"dataset has {X.shape[0]} examples, fewer than the batch size {config.batch_size}")
        self.X = _check_range(X, config.bound, "dataset", "X")
        self.Y = _check_range(Y, config.bound, "dataset", "Y")
        from .data import check_scaled

        check_scaled(self.X, config.R, "X (training inputs)", stacklevel=3)
        check_scaled(self.Y, config.R, "Y (training targets)", stacklevel=3)
        if isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0:
            raise ConfigError(f"start_step must be an integer >= 0, got {start_step!r}")
        self.step_index = start_step
        #: loss (float, see StepTrace.loss) of every step run so far
        self.losses: list[float] = []

    @property
    def num_examples(self) -> int:
        return self.X.shape[0]

    @property
    def batches_per_epoch(self) -> int:
        return self.num_examples // self.config.batch_size

    @property
    def master(self) -> list[np.ndarray]:
        """Copies of the current master weights M (int64, zkdl layout, scale 2^(2R+k)): what the
        next step starts from (``Trainer(..., master=trainer.master, start_step=...)`` resumes)."""
        return [m.copy() for m in self._M]

    @property
    def weights(self) -> list[np.ndarray]:
        """The current model: round_master(config, M)[0] (new int64 arrays, zkdl layout, scale
        2^R), what predict/accuracy use and what a run publishes."""
        return round_master(self.config, self._M)[0]

    def step(self) -> StepTrace:
        """One training step on batch ``batch_indices(seed, step_index, N, B)``."""
        cfg = self.config
        idx = batch_indices(cfg.seed, self.step_index, self.num_examples, cfg.batch_size)
        try:
            tr = train_step(cfg, self._M, self.X[idx], self.Y[idx], self.step_index, idx,
                            n_examples=self.num_examples)
        except TrainingRangeError as e:
            raise TrainingRangeError(f"{e}. {divergence_advice(cfg)}", where=e.where, tensor=e.tensor,
                                     value=e.value, bound=e.bound) from e
        # consecutive traces share the master weights (W_before of this step is W_after of the
        # previous one, the same arrays): a window of traces holds one copy per step, not two.
        # Shared arrays are read-only, so that no holder can change another's.
        for m in tr.W_after:
            m.flags.writeable = False
        tr.W_before = self._M
        self._M = tr.W_after
        self.step_index += 1
        self.losses.append(tr.loss)
        return tr

    def run(self, steps: int, *, keep_traces: bool = True, keep_grads: bool = True,
            callback: Callable[[StepTrace], None] | None = None) -> list[StepTrace]:
        """Run ``steps`` steps; returns their traces (an empty list if keep_traces is False).
        ``callback`` is called with each trace as it is produced (e.g. to prove it and drop it).
        ``keep_grads=False`` drops each trace's weight gradients G_W (``G_W`` None; derived on
        demand by ``grad_w()``): a window of traces then holds no weight-sized array per step
        besides the master weights, which consecutive traces share."""
        out = []
        for _ in range(int(steps)):
            tr = self.step()
            if not keep_grads:
                tr.G_W = None
            if callback is not None:
                callback(tr)
            if keep_traces:
                out.append(tr)
        return out

    def predict(self, X) -> np.ndarray:
        """Forward pass of the current model (``weights``) only: Yhat (fixed point, scale 2^R)
        for inputs X (n x d_0); see :func:`predict`."""
        return predict(self.config, self.weights, X)

    def accuracy(self, X, labels) -> float:
        """Fraction of rows whose argmax of Yhat equals the label (ties: lowest index); see
        :func:`accuracy`."""
        return accuracy(self.config, self.weights, X, labels)


def divergence_advice(config: FixedPointConfig) -> str:
    """What to change when training leaves the proven ranges (appended to the TrainingRangeError
    of Trainer.step / Recorder.step)."""
    eta_int, k = max(config.eta_int // 4, 1), config.k + (2 if config.eta_int < 4 else 0)
    return (f"Training diverged or its values outgrew Q = {config.Q} bits: lower the learning rate (now "
            f"{config.eta:g} = {config.eta_int}/2^{config.k} on the summed loss; e.g. {eta_int}/2^{k}, i.e. "
            f"FixedPointConfig.from_lr(..., lr={eta_int / (1 << k):g})), scale the targets and inputs to about 1.0 "
            "(zkdl.data.standardize, zkdl.data.one_hot) or start from smaller weights; tune without proofs with "
            "zkdl.trainer.float_train or zkdl train --dry-run")


# ----------------------------------------------------------------------------- evaluation


def predict(config: FixedPointConfig, W: Sequence, X) -> np.ndarray:
    """The outputs Yhat (int64, scale 2^R) of the model W (scale 2^R, e.g. ``trainer.weights``)
    for fixed-point inputs X (n x d_0): the forward pass of docs/semantics.md section 4 with shift
    R, with its range checks.  Measured,
    not proven (an inference proof: zkdl.circuits.prover.prove_inference).  Warns when X looks
    unscaled (zkdl.data.check_scaled)."""
    from .data import check_scaled

    check_scaled(X, config.R, "X", stacklevel=2)
    return forward(config, W, X, where="predict")


def accuracy(config: FixedPointConfig, W: Sequence, X, labels) -> float:
    """Fraction of rows whose argmax of Yhat equals the class label (ties: lowest index)."""
    labels = np.asarray(labels)
    pred = np.argmax(predict(config, W, X), axis=1)
    if labels.shape != pred.shape:
        raise ShapeError(f"labels must have shape {pred.shape}, got {labels.shape}")
    return float(np.mean(pred == labels))


def r2_score(config: FixedPointConfig, W: Sequence, X, Y) -> float:
    """Coefficient of determination R^2 = 1 - SS_res / SS_tot of Yhat against the fixed-point
    targets Y (pooled over all outputs; scale-free, so Y may be at scale 2^R or standardized)."""
    Yhat = dequantize(predict(config, W, X), config.R)
    Y = dequantize(_int_matrix(Y, "Y"), config.R)
    if Y.shape != Yhat.shape:
        raise ShapeError(f"Y must have shape {Yhat.shape}, got {Y.shape}")
    ss_tot = float(np.sum((Y - Y.mean(axis=0)) ** 2))
    return 1.0 - float(np.sum((Y - Yhat) ** 2)) / ss_tot if ss_tot > 0 else float("nan")


def lr_from_pytorch(lr_torch: float, *, batch_size: int, n_outputs: int, reduction: str = "mean") -> float:
    """The zkdl learning rate equivalent to plain SGD with rate ``lr_torch`` on PyTorch's
    ``nn.MSELoss(reduction=...)``.

    zkdl's step is W <- W - eta * [A | 1]^T (Yhat - Y): gradient descent on the *summed* loss
    1/2 * sum over the batch and the outputs of (yhat - y)^2 (docs/semantics.md section 4).
    ``MSELoss(reduction="mean")`` is (1 / (B * d_out)) * sum (yhat - y)^2, whose gradient is
    2 / (B * d_out) times zkdl's, so eta = 2 * lr_torch / (B * d_out); ``reduction="sum"`` gives
    eta = 2 * lr_torch.  (For a loss 1/2 * mean over the batch of |yhat - y|^2 it is lr / B.)

    >>> lr_from_pytorch(0.1, batch_size=32, n_outputs=1)
    0.00625
    """
    if reduction == "mean":
        return 2.0 * float(lr_torch) / (int(batch_size) * int(n_outputs))
    if reduction == "sum":
        return 2.0 * float(lr_torch)
    raise ConfigError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


# ----------------------------------------------------------------------------- float reference


def float_forward(W: Sequence[np.ndarray], X: np.ndarray) -> np.ndarray:
    """Float64 forward pass of the same architecture: ReLU hidden layers, linear output."""
    a = np.asarray(X, dtype=np.float64)
    for i, w in enumerate(W):
        z = np.hstack([a, np.ones((a.shape[0], 1))]) @ w
        a = np.maximum(z, 0.0) if i < len(W) - 1 else z
    return a


@dataclass
class FloatRun:
    """Result of float_train: the final float weights and the per-step losses."""
    weights: list[np.ndarray]
    losses: list[float]


def float_train(config: FixedPointConfig, W_init: Sequence[np.ndarray], X, Y, steps: int, *,
                start_step: int = 0) -> FloatRun:
    """Float64 SGD with exactly the update of the fixed-point semantics, without rounding:
    same architecture, same batches (batch_indices with config.seed), and
    W_l <- W_l - eta * [A_{l-1} | 1]^T G_Z_l with G_Z_L = Yhat - Y (the gradient of
    0.5 * sum over the batch of |yhat - y|^2, i.e. no 1/B), G_Z_l = [Z_l > 0] * (G_Z_{l+1} W_{l+1}[:-1]^T).

    Pass ``[dequantize(w, R) for w in W_int]`` and dequantized data to start from exactly the
    fixed-point run's initial state; compare its weights with the fixed-point run's real weights
    ``dequantize(M, config.master_shift)`` of the master weights M.
    """
    W = [np.array(w, dtype=np.float64) for w in W_init]
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    eta, B, L = config.eta, config.batch_size, len(W)
    losses = []
    for t in range(start_step, start_step + int(steps)):
        idx = batch_indices(config.seed, t, X.shape[0], B)
        A, Z = [X[idx]], []
        for i, w in enumerate(W):
            z = np.hstack([A[i], np.ones((B, 1))]) @ w
            Z.append(z)
            if i < L - 1:
                A.append(np.maximum(z, 0.0))
        g = Z[-1] - Y[idx]
        losses.append(float(np.sum(g * g) / B))
        grads = [None] * L
        for i in range(L - 1, -1, -1):
            grads[i] = np.hstack([A[i], np.ones((B, 1))]).T @ g
            if i > 0:
                g = (Z[i - 1] > 0) * (g @ W[i][:-1].T)
        for i in range(L):
            W[i] = W[i] - eta * grads[i]
    return FloatRun(weights=W, losses=losses)


# ----------------------------------------------------------------------------- digits comparison

#: the digits experiment of docs/semantics.md (64-32-10 MLP)
DIGITS_DEFAULTS = dict(steps=200, hidden=32, batch_size=32, eta_int=1, k=6, seed=0, init_seed=0, R=16)


def compare_digits(*, steps: int = 200, hidden: int = 32, batch_size: int = 32, eta_int: int = 1,
                   k: int = 6, seed: int = 0, init_seed: int = 0, R: int = 16, Q: int = 32,
                   validate: bool = False) -> dict:
    """Train a 64-hidden-10 MLP on the digits in fixed point and in float64 from the same
    (quantized) initial weights with the same batches and learning rate; return the accuracies
    and losses.  ``validate`` also re-checks every trace.  Needs scikit-learn."""
    from .datasets import load_digits_fixed

    d = load_digits_fixed(R)
    cfg = FixedPointConfig(widths=(64, hidden, 10), eta_int=eta_int, k=k, batch_size=batch_size,
                           seed=seed, R=R, Q=Q)
    W0 = init_weights_from_float(init_mlp(cfg.widths, init_seed), R)
    t0 = time.perf_counter()
    tr = Trainer(cfg, W0, d.X_train, d.Y_train)
    tr.run(steps, keep_traces=False, callback=(lambda t: t.validate()) if validate else None)
    t_fixed = time.perf_counter() - t0
    fr = float_train(cfg, [dequantize(w, R) for w in W0], dequantize(d.X_train, R),
                     dequantize(d.Y_train, R), steps)

    def facc(X, labels):
        return float(np.mean(np.argmax(float_forward(fr.weights, dequantize(X, R)), axis=1) == labels))

    return {
        "widths": list(cfg.widths), "steps": steps, "batch_size": batch_size, "eta": cfg.eta,
        "eta_int": eta_int, "k": k, "R": R, "Q": Q, "seed": seed, "init_seed": init_seed,
        "fixed_train_acc": tr.accuracy(d.X_train, d.labels_train),
        "fixed_test_acc": tr.accuracy(d.X_test, d.labels_test),
        "float_train_acc": facc(d.X_train, d.labels_train),
        "float_test_acc": facc(d.X_test, d.labels_test),
        "fixed_final_loss": float(np.mean(tr.losses[-10:])),
        "float_final_loss": float(np.mean(fr.losses[-10:])),
        "max_weight_diff": float(max(np.max(np.abs(dequantize(a, cfg.master_shift) - b))
                                     for a, b in zip(tr.master, fr.weights))),
        "fixed_seconds": round(t_fixed, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m zkdl.trainer [--steps N] [--hidden H] [--batch-size B] [--eta-int E] [--k K]
    [--seed S] [--init-seed I] [--R R] [--validate]``: the digits comparison as one JSON line."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m zkdl.trainer", description=main.__doc__)
    for name, default in DIGITS_DEFAULTS.items():
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=default, dest=name)
    ap.add_argument("--validate", action="store_true", help="re-check every step trace")
    args = ap.parse_args(argv)
    print(json.dumps(compare_digits(**vars(args))))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
