"""Inference proofs from files: ``zkdl prove-inference``, ``zkdl verify-inference``,
``zkdl export-model`` and the inference branch of ``zkdl inspect`` / ``zkdl verify``.

The verifier side (:func:`verify_inference_file`, :func:`format_inference_summary`,
:func:`inference_info`) imports only :mod:`zkdl.circuits.training` and :mod:`zkdl.runfiles` at
module level; the prover side (:func:`prove_inference_files`, :func:`read_input`,
:func:`read_weights`, :func:`export_model`) imports the prover, the trainer and zkdl.record
inside the functions, so ``zkdl verify-inference`` never loads prover code.

Files (docs/user-guide.md, "File formats"):

* an **inference proof** (``InferenceProof.to_bytes``, ZKDL container kind 0x0114): the statement
  (widths, R, Q, the number of examples n, the model commitment, the public input X or one
  Pedersen commitment per example, the output Yhat) and the proof;
* the **outputs** JSON written next to it (``"format": "zkdl-inference-output"``): the proven
  outputs as fixed-point integers and floats (integer / 2^R), and per example the argmax;
* with a hidden input, the **input opening** (private, 0600): X and the blinds of its commitments.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from zkdl.circuits.training import INFERENCE_KIND, InferenceProof, InferenceStatement, verify_inference
from zkdl.codec import ProofFormatError
from zkdl.errors import VerificationError, ZkdlError

from . import runfiles as rf
from .runfiles import RunFormatError, RunInvalidError

#: container kind of an inference proof file (InferenceProof.to_bytes)
INFERENCE_PROOF_KIND = INFERENCE_KIND + 0x10
OUTPUT_FORMAT = "zkdl-inference-output"
OUTPUT_VERSION = 1
INPUT_OPENING_FORMAT = "zkdl-input-opening"
#: how many examples the human summaries print (``--json`` has them all)
SHOW_EXAMPLES = 10


# ============================================================================ verifier side


def is_inference_proof(path: str) -> bool:
    """Whether ``path`` is a file starting with the header of an inference proof."""
    try:
        with open(path, "rb") as f:
            return rf.kind_of(f.read(16)) == INFERENCE_PROOF_KIND
    except OSError:
        return False


def parse_inference_proof(data: bytes, what: str) -> InferenceProof:
    kind = rf.kind_of(data)
    if kind is None:
        raise RunFormatError(f"{what}: not a zkdl file (no ZKDL header)")
    if kind == 0x0101:
        raise RunFormatError(f"{what}: a training window proof, not an inference proof (use zkdl verify)")
    if kind != INFERENCE_PROOF_KIND:
        raise RunFormatError(f"{what}: a zkdl file of kind {kind:#06x}, not an inference proof")
    try:
        return InferenceProof.from_bytes(data)
    except (ProofFormatError, ZkdlError) as e:
        raise RunFormatError(f"{what}: malformed inference proof: {e}") from None


def _widths(c) -> str:
    return "-".join(map(str, c.widths))


def inference_info(st: InferenceStatement) -> dict:
    """A JSON-ready description of an inference statement (what the proof claims)."""
    c = st.config
    one = float(1 << c.R)
    Y = np.asarray(st.Yhat, dtype=np.int64)
    info = {
        "architecture": {"widths": list(c.widths), "layers": c.num_layers, "activation": "relu"},
        "R": c.R, "Q": c.Q, "n_examples": st.n,
        "input": "public" if st.X_com is None else "committed",
        "inputs_int": None if st.X is None else np.asarray(st.X, dtype=np.int64).tolist(),
        "outputs_int": Y.tolist(),
        "outputs": (Y / one).tolist(),
        "argmax": Y.argmax(axis=1).tolist() if Y.shape[1] > 1 else None,
        "model_sha256": rf.model_digest(st.model),
    }
    return info


def _example_lines(info: dict, indent: str = "    ") -> list[str]:
    out = []
    for j, (row, arg) in enumerate(zip(info["outputs"], info["argmax"] or [None] * info["n_examples"])):
        if j == SHOW_EXAMPLES:
            out.append(f"{indent}... ({info['n_examples'] - SHOW_EXAMPLES} more; --json shows every output)")
            break
        vals = ", ".join(f"{v:.5g}" for v in row[:12]) + (", ..." if len(row) > 12 else "")
        out.append(f"{indent}{j:>4}: [{vals}]" + (f"  argmax {arg}" if arg is not None else ""))
    return out


def _input_line(info: dict) -> str:
    d0 = info["architecture"]["widths"][0]
    n = info["n_examples"]
    what = (f"{n} example{'s' if n != 1 else ''} of {d0} features, ")
    if info["input"] == "public":
        return what + "public (in the proof, fixed point)"
    return what + "committed (hidden: one Pedersen commitment per example, range-checked in the proof)"


def inspect_lines(info: dict) -> list[str]:
    """``zkdl inspect`` of an inference proof (NOT verified)."""
    a = info["architecture"]
    lines = [f"{info['file']}: inference proof, {info['bytes']} bytes (NOT verified: run zkdl verify-inference "
             "PROOF --model MODEL.commitment)",
             f"  claims the outputs of a {'-'.join(map(str, a['widths']))} MLP (ReLU hidden layers), fixed point "
             f"R={info['R']} Q={info['Q']}",
             f"  model: commitment sha256 {info['model_sha256'][:16]}...",
             f"  input: {_input_line(info)}",
             f"  outputs (claimed; float = integer / 2^{info['R']}):"]
    return lines + _example_lines(info)


def verify_inference_file(path: str, model_path: str) -> dict:
    """Verify the inference proof at ``path`` about the model commitment file ``model_path``
    (required: an inference proof is about one model, whose range proof is checked too); returns
    a JSON-ready summary (``valid``: True).  RunFormatError (unusable input) or RunInvalidError
    (``check``: "model" -- the proof is about another model --, "model range proof" or "proof")."""
    t_start = time.perf_counter()
    if not model_path:
        raise RunFormatError("an inference proof is about one model: pass --model MODEL.commitment")
    data = rf.read_bytes(path, "inference proof")
    proof = parse_inference_proof(data, path)
    cfg, model = rf.load_model_file(model_path, "model commitment")
    st = proof.statement
    c = st.config
    if (tuple(cfg.widths), cfg.R, cfg.Q) != (tuple(c.widths), c.R, c.Q):
        raise RunInvalidError("model", f"the proof is about a {_widths(c)} model (R={c.R}, Q={c.Q}); {model_path} "
                                       f"is a {_widths(cfg)} model (R={cfg.R}, Q={cfg.Q})")
    if model != st.model:
        raise RunInvalidError("model", f"the proof is about another model commitment (sha256 "
                                       f"{rf.model_digest(st.model)[:16]}...), not {model_path} (sha256 "
                                       f"{rf.model_digest(model)[:16]}...)")
    try:
        verify_inference(proof, model)
    except VerificationError as e:
        if str(e).startswith("model range proof"):
            raise RunInvalidError("model range proof", f"{model_path}: {e}") from None
        raise RunInvalidError("proof", f"rejected: {e}") from None
    except ProofFormatError as e:
        raise RunFormatError(f"{path}: malformed inference proof: {e}") from None
    out = {"valid": True, "kind": "inference proof", "proof": os.path.abspath(path),
           "model": os.path.abspath(model_path), "model_range_proof": "verified"}
    out.update(inference_info(st))
    out["proof_bytes"] = len(data)
    out["verify_seconds"] = round(time.perf_counter() - t_start, 3)
    return out


def format_inference_summary(s: dict) -> str:
    """The human summary printed by ``zkdl verify-inference``."""
    a = s["architecture"]
    lines = [f"zkdl verify-inference  {s['proof']}",
             f"  model            {'-'.join(map(str, a['widths']))} MLP ({a['layers']} linear layers, ReLU hidden "
             f"layers), fixed point R={s['R']} Q={s['Q']}",
             f"                   commitment {s['model']} (sha256 {s['model_sha256'][:16]}...; range proof verified)",
             f"  input            {_input_line(s)}",
             f"  outputs (proven; float = integer / 2^{s['R']}):"]
    lines += _example_lines(s)
    lines.append(f"  proof            {s['proof_bytes']} bytes, checked in {s['verify_seconds']:.2f} s")
    lines.append("VALID: the outputs are the committed model's forward pass (zkdl's fixed-point semantics) on the "
                 + ("public" if s["input"] == "public" else "committed") + " input")
    return "\n".join(lines)


# ============================================================================ prover side


def _expected_shape_error(what: str, shape, d0: int) -> RunFormatError:
    hint = ""
    if len(shape) > 2 and shape[0] >= 1 and int(np.prod(shape[1:])) == d0:
        hint = f"; flatten each example to {d0} features (e.g. X.reshape(len(X), -1))"
    return RunFormatError(f"{what}: input of shape {tuple(shape)}; the model expects (n, {d0}): n examples of "
                          f"{d0} features (one example may be a flat list of {d0}){hint}")


def read_input(path: str, config, *, fixed_point: bool = False) -> np.ndarray:
    """The examples to prove, as fixed-point integers (n, d_0) for the model ``config``.

    ``path``: a ``.npy`` array or a ``.json`` file holding a list of examples (lists of numbers),
    one example (a flat list of d_0 numbers), or EZKL's ``{"input_data": ...}`` of either kind.
    Values are real numbers, quantized at 2^R (round half up) -- integers too (raw pixel 3 is
    3.0) -- unless ``fixed_point``: then they must be integers already scaled by 2^R.
    RunFormatError for an unreadable file, a wrong shape or values out of range."""
    from zkdl.errors import FieldRangeError
    from zkdl.fixedpoint import quantize

    d0 = config.widths[0]
    if os.path.isdir(path):
        raise RunFormatError(f"input: {path} is a directory, not a file")
    if not os.path.exists(path):
        raise RunFormatError(f"input: {path}: no such file")
    low = path.lower()
    if low.endswith(".npy"):
        try:
            X = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise RunFormatError(f"input: {path}: not a readable .npy array ({e})") from None
        if not isinstance(X, np.ndarray) or X.dtype.kind not in "biuf":
            raise RunFormatError(f"input: {path}: expected a numeric array, got dtype {getattr(X, 'dtype', '?')}")
    elif low.endswith(".json"):
        try:
            with open(path, encoding="utf-8") as f:
                obj = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RunFormatError(f"input: {path} is not valid JSON ({e})") from None
        if isinstance(obj, dict):
            if "input_data" not in obj:
                raise RunFormatError(f"input: {path}: a JSON object without \"input_data\"; expected a list of "
                                     "examples (or EZKL's {\"input_data\": [...]})")
            obj = obj["input_data"]
        X = _json_array(obj, path)
    else:
        raise RunFormatError(f"input: {path}: expected a .npy or .json file")
    if X.ndim == 1 and X.shape[0] == d0:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != d0 or X.shape[0] < 1:
        raise _expected_shape_error(f"input {path}", X.shape, d0)
    if fixed_point:
        if X.dtype.kind == "f":
            if not np.all(np.isfinite(X)) or not np.all(X == np.round(X)):
                raise RunFormatError(f"input: {path}: --fixed-point needs integers (already scaled by 2^{config.R}); "
                                     "the file holds non-integer values (leave out --fixed-point to quantize them)")
            if np.abs(X).max() >= 2.0 ** 62:
                raise RunFormatError(f"input: {path}: values too large for fixed point")
        Xi = X.astype(np.int64)
    else:
        try:
            Xi = quantize(np.asarray(X, dtype=np.float64), config.R)
        except FieldRangeError as e:
            raise RunFormatError(f"input: {path}: {e}") from None
    lim = 1 << (config.Q - 1)
    if Xi.size and (int(Xi.min()) < -lim or int(Xi.max()) >= lim):
        real = f"[-2^{config.Q - 1 - config.R}, 2^{config.Q - 1 - config.R})"
        raise RunFormatError(f"input: {path}: values outside the model's fixed-point range (R={config.R}, "
                             f"Q={config.Q}: reals in {real}, integers in [-2^{config.Q - 1}, 2^{config.Q - 1}))"
                             + ("" if fixed_point else "; are they already scaled? then pass --fixed-point"))
    return Xi


def _json_array(obj, path: str) -> np.ndarray:
    def bad(msg):
        return RunFormatError(f"input: {path}: {msg}")

    if not isinstance(obj, list) or not obj:
        raise bad("expected a non-empty list of examples (lists of numbers) or one flat example")
    rows = obj if all(isinstance(r, list) for r in obj) else None
    flat = rows is None
    if flat:
        rows = [obj]
    vals = []
    for r in rows:
        if not r:
            raise bad("an empty example")
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad(f"expected numbers, got {type(v).__name__} {v!r}" if not isinstance(v, list) else
                          "nested lists deeper than examples of features (flatten each example)")
        vals.append(r)
    if len({len(r) for r in vals}) != 1:
        raise bad("examples of different lengths")
    if all(isinstance(v, int) for r in vals for v in r):
        if all(-(1 << 62) < v < (1 << 62) for r in vals for v in r):
            X = np.array(vals, dtype=np.int64)
        else:
            X = np.array(vals, dtype=np.float64)
    else:
        X = np.array(vals, dtype=np.float64)
    return X[0] if flat else X


def read_weights(path: str, R: int, widths) -> list[np.ndarray]:
    """Integer weights (zkdl layout) from ``path``: an ``.onnx`` model (zkdl.onnx_import) or an
    ``.npz`` as ``zkdl commit-model`` reads it (float state dict quantized at 2^R, the exact
    integer file of zkdl.trainer.save_weights, or integer arrays taken as fixed point); their
    widths must be ``widths``."""
    from zkdl.errors import ShapeError
    from zkdl.trainer import init_weights_from_float

    if os.path.isdir(path):
        raise RunFormatError(f"weights: {path} is a directory, not a file")
    if not os.path.exists(path):
        raise RunFormatError(f"weights: {path}: no such file")
    try:
        if path.lower().endswith(".onnx"):
            from .onnx_import import load_onnx

            return list(init_weights_from_float(load_onnx(path), R, widths=tuple(widths)))
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise RunFormatError(f"weights: {path}: not a readable .npz file ({e})") from None
        params = {k: v for k, v in arrays.items() if not k.startswith("zkdl.")}
        if params and all(v.dtype.kind in "iu" for v in params.values()) and len(params) == len(arrays):
            # integer arrays without the exact-file marker: fixed point already (as zkdl commit-model)
            W = init_weights_from_float({k: v.astype(np.float64) / (1 << R) for k, v in params.items()}, R,
                                        widths=tuple(widths))
        else:
            W = init_weights_from_float(path, R, widths=tuple(widths))
        return [np.asarray(w, dtype=np.int64) for w in W]
    except ShapeError as e:
        raise RunFormatError(f"weights: {path}: {e}") from None


def json_text(obj: dict) -> str:
    """JSON with one line per key and one line per row of a matrix (readable outputs files)."""
    parts = []
    for k, v in obj.items():
        if isinstance(v, list) and v and isinstance(v[0], list):
            rows = ",\n  ".join(json.dumps(r) for r in v)
            parts.append(f" {json.dumps(k)}: [\n  {rows}\n ]")
        else:
            parts.append(f" {json.dumps(k)}: {json.dumps(v)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _npz_bytes(arrays: dict) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _check_new(paths) -> None:
    for p in paths:
        if os.path.lexists(p):
            raise ZkdlError(f"{p} already exists; not overwriting it")
        d = os.path.dirname(os.path.abspath(p))
        if not os.path.isdir(d):
            raise RunFormatError(f"{p}: the directory {d} does not exist")


def load_model_with_opening(model_path: str, opening_path: str, weights_path: str | None = None):
    """(config, model, opening, integer weights) of a committed model: the commitment file, its
    opening (``zkdl commit-model``'s OUT.opening, or ``zkdl export-model``'s), and the weights
    (``weights_path``, or read from the opening, which holds exactly the committed integers).
    Checks that the opening opens the commitment to these weights (ModelOpeningError, a ZkdlError,
    naming the layer, if not)."""
    from zkdl.circuits.prover import check_model_opening

    from .record import SpoolError, read_model_opening, weights_from_secret

    cfg, model = rf.load_model_file(model_path, "model commitment")
    if not os.path.exists(opening_path):
        raise RunFormatError(f"model opening: {opening_path}: no such file (the private file written with the "
                             "commitment: commit-model's --opening, default MODEL.commitment.opening)")
    try:
        sec = read_model_opening(opening_path, cfg)
    except SpoolError as e:
        raise RunFormatError(str(e)) from None
    W = read_weights(weights_path, cfg.R, cfg.widths) if weights_path else weights_from_secret(cfg, sec)
    check_model_opening(cfg, model, sec, W, f"the weights of {weights_path}" if weights_path else "its weights")
    return cfg, model, sec, W


def prove_inference_files(model_path: str, opening_path: str, input_path: str, out: str, *,
                          weights_path: str | None = None, hidden_input: bool = False, fixed_point: bool = False,
                          outputs_path: str | None = None, input_opening_path: str | None = None) -> dict:
    """``zkdl prove-inference``: prove the outputs of the committed model on the examples of
    ``input_path``; writes the proof (``out``), the outputs JSON (``outputs_path``, default
    OUT.outputs.json) and, with ``hidden_input``, the input opening (``input_opening_path``, default
    OUT.input-opening; private).  Everything is checked before proving (files, shapes, the opening
    against the commitment and the weights, ranges, that no output file exists); nothing is
    overwritten.  Returns a summary dict."""
    from zkdl.circuits.prover import prove_inference
    from zkdl.circuits.training import inference_config

    from .record import _fr

    outputs_path = outputs_path or out + ".outputs.json"
    input_opening_path = (input_opening_path or out + ".input-opening") if hidden_input else None
    targets = [out, outputs_path] + ([input_opening_path] if hidden_input else [])
    if len({os.path.abspath(p) for p in targets}) != len(targets):
        raise RunFormatError("the proof, outputs and input-opening files need different names")
    _check_new(targets)
    cfg, model, sec, W = load_model_with_opening(model_path, opening_path, weights_path)
    if not model.range_proof:
        raise ZkdlError(f"{model_path}: the model commitment carries no range proof, so no verifier accepts an "
                        "inference proof about it (commit the weights with zkdl commit-model, or use a run's "
                        "final-model.commitment)")
    X = read_input(input_path, cfg, fixed_point=fixed_point)
    icfg = inference_config(cfg.widths, X.shape[0], cfg.R, cfg.Q)
    t0 = time.perf_counter()
    res = prove_inference(icfg, W, model, sec, X, commit_input=hidden_input)
    proof, blinds = res if hidden_input else (res, None)
    seconds = time.perf_counter() - t0
    data = proof.to_bytes()
    info = inference_info(proof.statement)
    outputs = {"format": OUTPUT_FORMAT, "version": OUTPUT_VERSION, "proof": os.path.basename(out),
               "proof_sha256": rf.sha256_bytes(data), "model_sha256": info["model_sha256"],
               "widths": list(cfg.widths), "R": cfg.R, "Q": cfg.Q, "n_examples": info["n_examples"],
               "input": info["input"], "outputs_int": info["outputs_int"], "outputs": info["outputs"],
               "argmax": info["argmax"]}
    rf.create_exclusive(out, data)
    rf.create_exclusive(outputs_path, json_text(outputs).encode())
    if hidden_input:
        rf.create_exclusive(input_opening_path, _npz_bytes({
            "format": np.array(INPUT_OPENING_FORMAT), "version": np.array(1), "X": X, "blinds": _fr(blinds)}), 0o600)
    info.update({"proof": out, "outputs_file": outputs_path, "input_opening": input_opening_path,
                 "proof_bytes": len(data), "prove_seconds": round(seconds, 3)})
    return info


def format_prove_summary(s: dict) -> str:
    a = s["architecture"]
    lines = [f"wrote {s['proof']} (inference proof: {s['n_examples']} example{'s' if s['n_examples'] != 1 else ''} "
             f"through the {'-'.join(map(str, a['widths']))} MLP, {s['proof_bytes']} bytes, proved in "
             f"{s['prove_seconds']:.2f} s)",
             f"wrote {s['outputs_file']} (the proven outputs, fixed point and float)"]
    if s.get("input_opening"):
        lines.append(f"wrote {s['input_opening']} (the input's opening: PRIVATE)")
    lines.append(f"  input: {_input_line(s)}")
    lines.append(f"  outputs (float = integer / 2^{s['R']}):")
    lines += _example_lines(s)
    lines.append("verify with: zkdl verify-inference PROOF --model MODEL.commitment")
    return "\n".join(lines)


def export_model(spool: str, run_dir: str, out_dir: str) -> dict:
    """``zkdl export-model``: the published model of a proven run, ready for ``prove-inference``
    (or to start another run): writes OUT_DIR/model.commitment (a byte copy of
    RUN_DIR/final-model.commitment: the run's last master weights rounded to scale 2^R, with its
    range proof), OUT_DIR/model.opening (its opening, from SPOOL/private/final-model.opening;
    private) and OUT_DIR/weights.npz + weights.fixed.npz (the float state dict and the exact
    integers, zkdl.trainer.save_weights; private).  Verify the run first (zkdl verify RUN_DIR):
    this checks only that the spool's opening opens the run's published commitment."""
    from zkdl.circuits.prover import ModelOpeningError, check_model_opening

    from .record import SpoolError, read_model_opening, read_run, save_model_opening, weights_from_secret
    from .trainer import save_weights

    if not os.path.isdir(spool):
        raise RunFormatError(f"spool: {spool}: no such directory")
    if not os.path.isdir(run_dir):
        raise RunFormatError(f"run directory: {run_dir}: no such directory")
    try:
        config = rf.config_from_json(read_run(spool).get("config"), "spool run.json config")
    except SpoolError as e:
        raise RunFormatError(str(e)) from None
    final = os.path.join(run_dir, rf.FINAL_MODEL_FILE)
    if not os.path.exists(final):
        mpath = os.path.join(run_dir, rf.MANIFEST)
        fm = None
        if os.path.exists(mpath):
            fm = rf.read_json(mpath, "manifest").get("final_model")
        if isinstance(fm, dict) and fm.get("file") is None:
            why = fm.get("reason") or "the run publishes none"
            raise ZkdlError(f"{run_dir}: the run has no published model ({why}); there is nothing to export")
        raise RunFormatError(f"{run_dir} has no {rf.FINAL_MODEL_FILE}: the run has not ended, or the daemon has not "
                             f"proven its last window yet (zkdl daemon --spool {spool} --out {run_dir})")
    data = rf.read_bytes(final, "final model")
    mpath = os.path.join(run_dir, rf.MANIFEST)
    fm = rf.read_json(mpath, "manifest").get("final_model") if os.path.exists(mpath) else None
    if not isinstance(fm, dict) or fm.get("sha256") != rf.sha256_bytes(data):
        # e.g. left by a daemon killed while publishing, before its manifest named it
        raise ZkdlError(f"{final} is not the published model the run's manifest names; run the daemon to the "
                        f"end of the run first (zkdl daemon --spool {spool} --out {run_dir})")
    _, fmodel = rf.load_model_file(final, "final model")
    opening = os.path.join(spool, rf.PRIVATE_DIR, rf.FINAL_OPENING_FILE)
    if not os.path.exists(opening):
        raise ZkdlError(f"{spool} holds no opening of the published model ({rf.PRIVATE_DIR}/{rf.FINAL_OPENING_FILE}; "
                        f"is {run_dir} the run directory of this spool?)")
    try:
        sec = read_model_opening(opening, config)
    except SpoolError as e:
        raise RunFormatError(str(e)) from None
    W = weights_from_secret(config, sec)
    try:
        check_model_opening(config, fmodel, sec, W, "the run's published model")
    except ModelOpeningError:
        raise ZkdlError(f"the spool's {rf.FINAL_OPENING_FILE} does not open {final} (is {run_dir} the run directory "
                        "of this spool?)") from None
    paths = {"commitment": os.path.join(out_dir, "model.commitment"),
             "opening": os.path.join(out_dir, "model.opening"),
             "weights": os.path.join(out_dir, "weights.npz"),
             "weights_fixed": os.path.join(out_dir, "weights.fixed.npz")}
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise RunFormatError(f"{out_dir} exists and is not a directory")
    for p in paths.values():
        if os.path.lexists(p):
            raise ZkdlError(f"{p} already exists; not overwriting it")
    os.makedirs(out_dir, exist_ok=True)
    rf.create_exclusive(paths["commitment"], data)
    save_model_opening(paths["opening"], sec, exclusive=True)
    save_weights(paths["weights"], W, config.R, fixed_path=paths["weights_fixed"])
    return {"widths": list(config.widths), "R": config.R, "Q": config.Q, "model_sha256": rf.model_digest(fmodel),
            "range_proof": bool(fmodel.range_proof), **paths}
