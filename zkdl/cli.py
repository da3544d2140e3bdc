"""The ``zkdl`` command line (``python -m zkdl`` works too).

    zkdl verify RUN_DIR_OR_PROOF [--json] [--dataset FILE] [--initial-model F] [--final-model F] [--workers N]
    zkdl inspect FILE [--json]
    zkdl prove-inference INPUT.npy|.json --model M.commitment --out PROOF [--opening F] [--weights F] [--hidden-input] [--fixed-point]
    zkdl verify-inference PROOF --model M.commitment [--json]
    zkdl export-model --spool SPOOL --run RUN_DIR --out DIR
    zkdl daemon --spool DIR --out DIR [--window T] [--backend cpu|gpu] [--once] [--wait-lock]
                [--workers N] [--ray ADDRESS] [--traces shared|store] [--threads N]
    zkdl demo [--steps N] [--window T] [--out DIR]
    zkdl report RUN_DIR [--out FILE.png] [--no-verify]
    zkdl --version
    zkdl commit-model WEIGHTS.npz --out FILE [--opening FILE] [--batch-size B] [--R R] [--Q Q]

Exit status: 0 success (``verify``: valid), 1 invalid (the failing check is named on stderr) or
a failure, 2 unusable input (missing file, wrong format or version, not a zkdl file, bad
arguments; ``daemon``: the spool belongs to another run directory, or the run directory is behind
the spool), 3 (``daemon``) another daemon holds the spool.  Errors are one line on stderr, never
a traceback (set ZKDL_DEBUG=1 to see one).

``verify`` and ``inspect`` import no prover code (zkdl.circuits.prover, zkdl.trainer, zkdl.prover_gpu).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

EXIT_OK, EXIT_INVALID, EXIT_UNUSABLE, EXIT_BUSY = 0, 1, 2, 3


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):           # one line, exit 2
        raise _UsageError(f"{self.prog}: {message} (see --help)")


# ----------------------------------------------------------------------------- argument types
# Validating argparse types for every numeric option of every subcommand (use them for new ones):
# a bad value is a usage error -- exit 2, one line on stderr naming the option -- never an
# internal error.


def _int_value(text: str, what: str) -> int:
    try:
        return int(str(text).strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1 (steps, window, batch size, widths)."""
    v = _int_value(text, "an integer >= 1")
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return v


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (a step number, a seed)."""
    v = _int_value(text, "an integer >= 0")
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


def _float_value(text: str, what: str) -> float:
    import math

    try:
        v = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """A finite number > 0 (seconds, a learning rate)."""
    v = _float_value(text, "a number > 0")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return v


def fraction(text: str) -> float:
    """A number strictly between 0 and 1 (e.g. a held-out share of the data)."""
    v = _float_value(text, "a fraction between 0 and 1")
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1 (exclusive), got {text!r}")
    return v


def int_list(text: str) -> list[int]:
    """Comma-separated integers >= 1, at least one (e.g. hidden widths: 32 or 64,32)."""
    what = "comma-separated integers >= 1 (e.g. 64,32)"
    parts = [t.strip() for t in str(text).split(",")]
    try:
        vals = [int(t, 10) for t in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return vals


def _version() -> str:
    from . import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="zkdl", description="Zero-knowledge proofs of fixed-point MLP training (zkDL).")
    p.add_argument("--version", action="version", version=f"zkdl {_version()}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)

    v = sub.add_parser("verify", help="verify a run directory (every window and the chain) or one proof")
    v.add_argument("target", metavar="RUN_DIR_OR_PROOF")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.add_argument("--dataset", help="dataset commitment file (for a single proof; default: next to it)")
    v.add_argument("--initial-model", help="model commitment file the run (or the single window proof) must start from")
    v.add_argument("--final-model", help="model commitment file the run must publish as its final model "
                   "(final-model.commitment)")
    v.add_argument("--model", help="for an inference proof: the model commitment file it is about (required there)")
    v.add_argument("--workers", type=positive_int, default=None,
                   help="a run directory's windows verified in parallel by N local Ray workers (the chain is "
                        "still checked in order); needs the cluster extra")
    v.add_argument("--ray", metavar="ADDRESS", default=None, help="verify the windows on an existing Ray cluster")

    i = sub.add_parser("inspect", help="print what a proof (or commitment file) claims, without verifying")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--json", action="store_true")

    pi = sub.add_parser("prove-inference", help="prove a committed model's outputs on inputs (.npy or .json)")
    pi.add_argument("input", metavar="INPUT", help=".npy array or .json list of examples (n x d_0; one flat example "
                    "of d_0 values is one example; EZKL's {\"input_data\": ...} too): real numbers, quantized at 2^R")
    pi.add_argument("--model", required=True, metavar="MODEL.commitment",
                    help="model commitment file (zkdl commit-model, or zkdl export-model of a run's final model)")
    pi.add_argument("--opening", help="its private opening (default: M.commitment.opening as commit-model writes "
                    "it, or M.opening as export-model does)")
    pi.add_argument("--weights", help="the weights (.npz or .onnx), checked against the commitment before proving "
                    "(default: the opening's, which holds exactly the committed integers)")
    pi.add_argument("--out", required=True, metavar="PROOF", help="the inference proof file to write (public)")
    pi.add_argument("--outputs", help="the proven outputs as JSON (default PROOF.outputs.json)")
    pi.add_argument("--hidden-input", action="store_true",
                    help="commit to the input (hidden) instead of publishing it in the proof")
    pi.add_argument("--input-opening", help="with --hidden-input: where to write the input's opening (private; "
                    "default PROOF.input-opening)")
    pi.add_argument("--fixed-point", action="store_true",
                    help="the input holds integers already scaled by 2^R (default: real numbers, quantized)")
    pi.add_argument("--json", action="store_true", help="print the summary as JSON")

    vi = sub.add_parser("verify-inference", help="verify an inference proof about a model commitment")
    vi.add_argument("proof", metavar="PROOF")
    vi.add_argument("--model", required=True, metavar="MODEL.commitment",
                    help="the model commitment file the proof is about (required; its range proof is checked)")
    vi.add_argument("--json", action="store_true", help="print the result as JSON")

    em = sub.add_parser("export-model", help="export a proven run's published model: commitment, opening, weights")
    em.add_argument("--spool", required=True, help="the run's spool (private: it holds the opening)")
    em.add_argument("--run", required=True, metavar="RUN_DIR", help="the run directory (final-model.commitment)")
    em.add_argument("--out", required=True, metavar="DIR", help="directory for model.commitment, model.opening, "
                    "weights.npz, weights.fixed.npz (created; existing files are never overwritten)")

    d = sub.add_parser("daemon", help="prove the windows of a spool as they appear")
    d.add_argument("--spool", required=True, help="the spool written by zkdl.record.Recorder")
    d.add_argument("--out", required=True, help="the run directory for proofs and manifest")
    d.add_argument("--window", type=positive_int, default=None, help="steps per window (default: the spool's)")
    d.add_argument("--backend", choices=("cpu", "gpu"), default="cpu")
    d.add_argument("--once", action="store_true", help="prove what is there, then exit")
    d.add_argument("--poll", type=positive_float, default=0.25, help="seconds between polls of the spool")
    d.add_argument("--wait-lock", action="store_true", help="wait for another daemon instead of exiting 3")
    d.add_argument("--quiet", action="store_true")
    d.add_argument("--workers", type=positive_int, default=None,
                   help="windows proven in parallel (default 1: this process; N > 1: a local Ray instance with "
                        "N workers; needs the cluster extra)")
    d.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="prove on an existing Ray cluster (HOST:PORT of its head, or auto); --workers then bounds "
                        "the windows in flight (default: the cluster's CPUs)")
    d.add_argument("--traces", choices=("shared", "store"), default=None,
                   help="how workers get a window's steps: read from the spool (shared: a path every node can "
                        "read; default for a local cluster) or through Ray's object store (store; default with --ray)")
    d.add_argument("--threads", type=positive_int, default=None,
                   help="native threads per worker (default: the cores shared out locally, 1 per task with --ray)")

    m = sub.add_parser("demo", help="train the digits MLP with proofs alongside, verify, report accuracy")
    m.add_argument("--steps", type=positive_int, default=128)
    m.add_argument("--window", type=positive_int, default=64)
    m.add_argument("--batch-size", type=positive_int, default=32)
    m.add_argument("--hidden", type=int_list, default=[32], help="hidden widths, comma separated (default 32: "
                   "64-32-10)")
    m.add_argument("--out", default="zkdl-demo", help="output directory (must not exist or be empty)")

    r = sub.add_parser("report", help="PNG + HTML report of a run (loss curve, proof times and sizes)")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--out", help="PNG file (default RUN_DIR/report.png; the HTML page goes next to it)")
    r.add_argument("--no-verify", action="store_true", help="do not verify the run first: the report then "
                   "shows what the proofs claim, marked NOT VERIFIED")

    c = sub.add_parser("commit-model", help="commit to weights (.npz) and write the model commitment file")
    c.add_argument("weights", metavar="WEIGHTS.npz", help="float weights (W0, b0, ... or torch-style keys), "
                   "or integer fixed-point ones; or an ONNX MLP (.onnx: Gemm / MatMul + Add, Relu)")
    c.add_argument("--out", required=True, help="the model commitment file (public)")
    c.add_argument("--opening", help="where to write the opening (private, mode 0600; default OUT.opening)")
    c.add_argument("--batch-size", type=positive_int, default=1)
    c.add_argument("--R", type=positive_int, default=16)
    c.add_argument("--Q", type=positive_int, default=32)
    c.add_argument("--layers", help="layer names in order, comma separated (default: the file's order; "
                   "nn.Sequential indices numerically)")

    t = sub.add_parser("train", help="proven training on your own data (.npz, .csv, sklearn:NAME); --dry-run: no proofs")
    t.add_argument("data", metavar="DATA", help="X,y .npz | .csv (last column the target) | "
                   "sklearn:iris|wine|breast_cancer|diabetes|digits")
    t.add_argument("--target", help=".csv: the target column's name (default: the last column)")
    t.add_argument("--task", choices=("auto", "classify", "regress"), default="auto",
                   help="auto: integer labels with few classes (or one-hot rows, or strings) -> classify")
    t.add_argument("--hidden", type=_train_widths, default=(32,), help="hidden widths, comma separated "
                   "(default 32; '' for a linear model)")
    t.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate on the summed loss 1/2*sum_batch|yhat-y|^2 (default 0.32/batch: 0.01 at 32)")
    t.add_argument("--batch", type=positive_int, default=32, help="batch size (default 32)")
    t.add_argument("--steps", type=positive_int, default=64, help="training steps (default 64)")
    t.add_argument("--window", type=positive_int, default=16, help="steps per proof (default 16)")
    t.add_argument("--test-fraction", type=fraction, default=0.2, help="held-out fraction (default 0.2)")
    t.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed of the split, the initial weights and the batch schedule")
    t.add_argument("--init", metavar="MODEL.npz", help="start from these weights (float state dict or .fixed.npz)")
    t.add_argument("--out", default="zkdl-train", help="output directory (must not exist or be empty)")
    t.add_argument("--dry-run", action="store_true", help="train in fixed point without proofs, print the "
                   "held-out metric, write nothing")
    return p


def _train_widths(text: str) -> tuple:
    """Hidden widths for zkdl train: int_list, or '' for a linear model."""
    return tuple(int_list(text)) if str(text).strip() else ()


def _err(msg: str) -> None:
    msg = " ".join(str(msg).split())
    sys.stderr.write(f"zkdl: {msg}\n")
    sys.stderr.flush()


# ----------------------------------------------------------------------------- verify / inspect


@contextlib.contextmanager
def _verify_progress(a):
    """A bar over the windows being verified (verify_run's ``progress`` callback) on a terminal
    stderr; None -- nothing extra -- with --json or when stderr is not a terminal."""
    from .progress import Bar, is_tty

    if getattr(a, "json", False) or not is_tty(sys.stderr):
        yield None
        return
    bar = None

    def cb(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = Bar(sys.stderr, unit="window", desc="verifying", total=total, leave=False)
        bar.update_to(done, total)

    try:
        yield cb
    finally:
        if bar is not None:
            bar.close()


def _verify_failure(a, code: int, check, msg: str) -> int:
    """A failed verification: one stderr line (and the JSON verdict with --json); returns the exit status."""
    if a.json:
        print(json.dumps({"valid": False, "usable": code != EXIT_UNUSABLE, "failed_check": check, "error": msg}))
    _err(("invalid: " if code == EXIT_INVALID else "unusable input: ") + msg)
    return code


def _report_verification(a, verify, summarize) -> int:
    """Run ``verify()`` (a summary dict) and print it, or report the failure: exit 0 / 1 / 2."""
    from . import runfiles as rf

    try:
        s = verify()
    except rf.RunInvalidError as e:
        return _verify_failure(a, EXIT_INVALID, e.check, str(e))
    except rf.RunFormatError as e:
        return _verify_failure(a, EXIT_UNUSABLE, None, str(e))
    print(json.dumps(s, indent=1) if a.json else summarize(s))
    return EXIT_OK


def cmd_verify(a) -> int:
    from .inference import is_inference_proof
    from .verifier import format_summary, verify_proof_file, verify_run

    if getattr(a, "model", None) and not is_inference_proof(a.target) and os.path.exists(a.target):
        return _verify_failure(a, EXIT_UNUSABLE, None, "--model is for an inference proof; a run or a training "
                                                       "proof takes --initial-model")
    if os.path.isdir(a.target):
        def run():
            with _verify_progress(a) as cb:
                return verify_run(a.target, initial_model=a.initial_model, final_model=a.final_model, progress=cb,
                                  workers=a.workers, ray=a.ray)
        return _report_verification(a, run, format_summary)
    if not os.path.exists(a.target):
        return _verify_failure(a, EXIT_UNUSABLE, None, f"{a.target}: no such file or directory")
    if is_inference_proof(a.target):     # an inference proof: about one model (--model)
        return _verify_inference(a, a.target, getattr(a, "model", None) or a.initial_model)
    return _report_verification(a, lambda: verify_proof_file(a.target, a.dataset, a.initial_model), format_summary)


def cmd_inspect(a) -> int:
    from zkdl.circuits.training import DATASET_KIND, LINK_KIND, PROOF_KIND, DatasetCommitment, WindowProof
    from zkdl.codec import ProofFormatError

    from . import runfiles as rf
    from .inference import INFERENCE_PROOF_KIND, inference_info, inspect_lines, parse_inference_proof

    data = rf.read_bytes(a.file, "inspect")
    kind = rf.kind_of(data)
    try:
        if kind == PROOF_KIND:
            st = WindowProof.from_bytes(data).statement
            info = {"file": a.file, "kind": "window proof", "bytes": len(data), "verified": False}
            info.update(rf.statement_summary(st))
        elif kind == rf.MODEL_FILE_KIND:
            cfg, model = rf.read_model_file(data)
            info = {"file": a.file, "kind": "model commitment", "bytes": len(data), "widths": list(cfg.widths),
                    "R": cfg.R, "Q": cfg.Q, "model_sha256": rf.model_digest(model),
                    "range_proof_bytes": len(model.range_proof or b"")}
        elif kind == INFERENCE_PROOF_KIND:
            info = {"file": a.file, "kind": "inference proof", "bytes": len(data), "verified": False}
            info.update(inference_info(parse_inference_proof(data, a.file).statement))
        elif kind == DATASET_KIND:
            ds = DatasetCommitment.from_bytes(data)
            info = {"file": a.file, "kind": "dataset commitment", "bytes": len(data), "n_examples": ds.n,
                    "d_in": ds.d_in, "d_out": ds.d_out, "digest": ds.digest().hex()}
        elif kind == LINK_KIND:
            info = {"file": a.file, "kind": "final model link", "bytes": len(data),
                    "claims": "final-model.commitment is the rounding to scale 2^R of the last window's master weights "
                              "(checked by zkdl verify RUN_DIR)"}
        elif kind is None:
            raise rf.RunFormatError(f"{a.file}: not a zkdl file (no ZKDL header)")
        else:
            raise rf.RunFormatError(f"{a.file}: a zkdl file of kind {kind:#06x}, which inspect does not describe")
    except ProofFormatError as e:
        raise rf.RunFormatError(f"{a.file}: {e}") from None
    if a.json:
        print(json.dumps(info, indent=1))
        return EXIT_OK
    print(f"{info['file']}: {info['kind']}, {info['bytes']} bytes (NOT verified: run zkdl verify)")
    if info["kind"] == "inference proof":
        print("\n".join(inspect_lines(info)[1:]))
    elif info["kind"] == "window proof":
        c = info["config"]
        print(f"  claims steps {info['t0']}..{info['t0'] + info['T'] - 1} ({info['T']} steps) of training a "
              f"{'-'.join(map(str, c['widths']))} MLP")
        print(f"  learning rate {info['learning_rate']:g} (= {c['eta_int']}/2^{c['k']}), batch {c['batch_size']}, "
              f"batch-schedule seed {c['seed']}, R={c['R']} Q={c['Q']}, loss {c['loss']}")
        print(f"  dataset: {info['n_examples']} examples, digest {info['dataset_digest'][:16]}...")
        print(f"  weights before: commitment sha256 {info['model_before_sha256'][:16]}...")
        print(f"  weights after:  commitment sha256 {info['model_after_sha256'][:16]}...")
        if info["losses"] is None:
            print("  losses: hidden")
        else:
            print("  losses: " + ", ".join(f"{v:.5f}" for v in info["losses"]))
    else:
        for k, v in info.items():
            if k not in ("file", "kind", "bytes"):
                print(f"  {k}: {v}")
    return EXIT_OK


# ----------------------------------------------------------------------------- inference


def _verify_inference(a, proof: str, model: str | None) -> int:
    """verify-inference, and verify of an inference proof file: exit 0 valid, 1 invalid, 2 unusable."""
    from .inference import format_inference_summary, verify_inference_file

    if not model:
        return _verify_failure(a, EXIT_UNUSABLE, None, f"{proof} is an inference proof, which is about one model: "
                                                       "pass --model MODEL.commitment")
    if not os.path.exists(proof):
        return _verify_failure(a, EXIT_UNUSABLE, None, f"{proof}: no such file")
    return _report_verification(a, lambda: verify_inference_file(proof, model), format_inference_summary)


def cmd_verify_inference(a) -> int:
    return _verify_inference(a, a.proof, a.model)


def cmd_prove_inference(a) -> int:
    from . import runfiles as rf
    from .inference import format_prove_summary, prove_inference_files

    opening = a.opening
    if opening is None:
        stem = a.model[:-len(".commitment")] if a.model.endswith(".commitment") else None
        cands = [a.model + ".opening"] + ([stem + ".opening"] if stem else [])
        opening = next((c for c in cands if os.path.exists(c)), None)
        if opening is None:
            raise rf.RunFormatError(f"no model opening found ({' or '.join(cands)}); pass --opening FILE (the private "
                                    "file written with the commitment)")
    s = prove_inference_files(a.model, opening, a.input, a.out, weights_path=a.weights, hidden_input=a.hidden_input,
                              fixed_point=a.fixed_point, outputs_path=a.outputs, input_opening_path=a.input_opening)
    print(json.dumps(s, indent=1) if a.json else format_prove_summary(s))
    return EXIT_OK


def cmd_export_model(a) -> int:
    from .inference import export_model

    s = export_model(a.spool, a.run, a.out)
    print(f"wrote {s['commitment']} (model commitment, {'-'.join(map(str, s['widths']))}, sha256 "
          f"{s['model_sha256'][:16]}...; a copy of the run's published model, final-model.commitment)")
    print(f"wrote {s['opening']} (its opening: PRIVATE)")
    print(f"wrote {s['weights']} and {s['weights_fixed']} (the weights: float state dict and exact integers; PRIVATE)")
    if not s["range_proof"]:
        print("note: this model has no range proof: it can back neither an inference proof nor another run")
    return EXIT_OK


# ----------------------------------------------------------------------------- daemon


def cmd_daemon(a) -> int:
    from .daemon import DaemonBusy, DaemonError, WindowError, main

    try:
        return main(a)
    except DaemonBusy as e:
        _err(str(e))
        return EXIT_BUSY
    except WindowError as e:
        _err(str(e))
        return EXIT_INVALID
    except DaemonError as e:
        _err(str(e))
        return EXIT_UNUSABLE


# ----------------------------------------------------------------------------- commit-model


def cmd_commit_model(a) -> int:
    import numpy as np

    from zkdl.circuits.prover import commit_model
    from zkdl.errors import ZkdlError
    from zkdl.fixedpoint import FixedPointConfig
    from zkdl.trainer import init_weights_from_float

    from . import runfiles as rf
    from .record import save_model_opening

    if str(a.weights).lower().endswith(".onnx"):     # an ONNX MLP: its float layers (zkdl.onnx_import)
        from .onnx_import import onnx_state_dict

        arrays = onnx_state_dict(a.weights)
    else:
        try:
            with np.load(a.weights, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise rf.RunFormatError(f"{a.weights}: no such file") from None
        except (OSError, ValueError) as e:
            raise rf.RunFormatError(f"{a.weights}: not a readable .npz file ({e})") from None
    import warnings

    from .errors import ShapeError

    layers = [n.strip() for n in a.layers.split(",") if n.strip()] if getattr(a, "layers", None) else None
    opening = a.opening or a.out + ".opening"
    if os.path.lexists(opening):      # checked before anything is written; a.out by create_exclusive
        raise ZkdlError(f"{opening} already exists; nothing was written (pass --opening NEW_FILE)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # the ignored keys are printed below
            if arrays and all(v.dtype.kind in "iu" for v in arrays.values()):
                # already fixed point: the same keys, integer values (scale 2^R)
                W = init_weights_from_float({k: v.astype(np.float64) / (1 << a.R) for k, v in arrays.items()},
                                            a.R, layers=layers)
                W.exact = True
            else:    # a float state dict, or the exact integers of save_weights / export_weights
                W = init_weights_from_float(arrays, a.R, layers=layers)
    except ShapeError as e:
        raise rf.RunFormatError(f"{a.weights}: {e}") from None
    print(f"read {a.weights}: {W.describe()}")
    widths = (W[0].shape[0] - 1,) + tuple(w.shape[1] for w in W)
    cfg = FixedPointConfig(widths=widths, eta_int=1, k=0, batch_size=a.batch_size, R=a.R, Q=a.Q)
    model, sec = commit_model(cfg, W)
    rf.create_exclusive(a.out, rf.model_file_bytes(cfg, model))
    save_model_opening(opening, sec)
    print(f"wrote {a.out} (model commitment, {'-'.join(map(str, widths))}, sha256 {rf.model_digest(model)[:16]}...)")
    print(f"wrote {opening} (its opening: PRIVATE, keep it with the weights)")
    return EXIT_OK


# ----------------------------------------------------------------------------- report


def cmd_report(a) -> int:
    from . import runfiles as rf
    from .report import write_report

    verified = None
    if not a.no_verify:                 # verify first: the report then shows proven facts
        from .verifier import verify_run

        try:
            with _verify_progress(a) as cb:
                verified = verify_run(a.run_dir, progress=cb)
        except rf.RunInvalidError as e:
            raise rf.RunInvalidError(e.check, f"{str(e).removeprefix(e.check + ': ')}; no report written "
                                     "(zkdl report --no-verify shows what the proofs claim, unverified)") from None
    png, html = write_report(a.run_dir, a.out, verified=verified)
    print(f"wrote {png}")
    print(f"wrote {html}")
    return EXIT_OK


# ----------------------------------------------------------------------------- demo


def cmd_demo(a) -> int:
    from .demo import run_demo

    return run_demo(steps=a.steps, window=a.window, out=a.out, batch_size=a.batch_size, hidden=tuple(a.hidden))


# ----------------------------------------------------------------------------- train


def cmd_train(a) -> int:
    from .usertrain import DataError, run_train

    try:
        return run_train(data=a.data, target=a.target, hidden=a.hidden, lr=a.lr, batch=a.batch, steps=a.steps,
                         window=a.window, out=a.out, task=a.task, test_fraction=a.test_fraction, seed=a.seed,
                         dry_run=a.dry_run, init=a.init)
    except DataError as e:
        _err(str(e))
        return EXIT_UNUSABLE


# ----------------------------------------------------------------------------- main

_COMMANDS = {"verify": cmd_verify, "inspect": cmd_inspect, "daemon": cmd_daemon, "demo": cmd_demo,
             "report": cmd_report, "commit-model": cmd_commit_model,
             "train": cmd_train}
_COMMANDS.update({"prove-inference": cmd_prove_inference, "verify-inference": cmd_verify_inference,
                  "export-model": cmd_export_model})


def main(argv=None) -> int:
    parser = _parser()
    try:
        a = parser.parse_args(argv)
    except _UsageError as e:
        _err(str(e).removeprefix("zkdl: ").removeprefix("zkdl "))     # "zkdl: demo: argument --steps: ..."
        return EXIT_UNUSABLE
    except SystemExit as e:             # --help, --version: printed, status 0
        return e.code if isinstance(e.code, int) else EXIT_OK
    if a.cmd is None:
        parser.print_help()
        return EXIT_UNUSABLE
    from zkdl.errors import EncodingError, VerificationError, ZkdlError

    from .runfiles import RunFormatError, RunInvalidError

    try:
        return _COMMANDS[a.cmd](a)
    except KeyboardInterrupt as e:
        if not getattr(e, "zkdl_reported", False):     # a Recorder has said what happens already
            _err("interrupted")
        return 130
    except (RunFormatError, EncodingError) as e:
        _err(f"unusable input: {e}")
        return EXIT_UNUSABLE
    except (RunInvalidError, VerificationError) as e:
        _err(f"invalid: {e}")
        return EXIT_INVALID
    except ZkdlError as e:
        _err(str(e))
        return EXIT_INVALID
    except OSError as e:
        _err(f"{e.filename or ''}: {e.strerror or e}".lstrip(": "))
        return EXIT_UNUSABLE
    except Exception as e:  # never a traceback for a user
        if os.environ.get("ZKDL_DEBUG"):
            raise
        _err(f"internal error: {type(e).__name__}: {e} (set ZKDL_DEBUG=1 for a traceback)")
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
