"""The ``zkdl`` command line (``python -m zkdl`` works too).

    zkdl verify RUN_DIR_OR_PROOF [--json] [--dataset FILE] [--initial-model F] [--final-model F]
    zkdl inspect FILE [--json]
    zkdl daemon --spool DIR --out DIR [--window T] [--backend cpu|gpu] [--once] [--wait-lock]
    zkdl demo [--steps N] [--window T] [--out DIR]
    zkdl report RUN_DIR [--out FILE.png]
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
import json
import os
import sys

EXIT_OK, EXIT_INVALID, EXIT_UNUSABLE, EXIT_BUSY = 0, 1, 2, 3


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):           # one line, exit 2
        raise _UsageError(f"{self.prog}: {message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="zkdl", description="Zero-knowledge proofs of fixed-point MLP training (zkDL).")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)

    v = sub.add_parser("verify", help="verify a run directory (every window and the chain) or one proof")
    v.add_argument("target", metavar="RUN_DIR_OR_PROOF")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.add_argument("--dataset", help="dataset commitment file (for a single proof; default: next to it)")
    v.add_argument("--initial-model", help="model commitment file the run (or the single window proof) must start from")
    v.add_argument("--final-model", help="model commitment file the run must end at")

    i = sub.add_parser("inspect", help="print what a proof (or commitment file) claims, without verifying")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--json", action="store_true")

    d = sub.add_parser("daemon", help="prove the windows of a spool as they appear")
    d.add_argument("--spool", required=True, help="the spool written by zkdl.record.Recorder")
    d.add_argument("--out", required=True, help="the run directory for proofs and manifest")
    d.add_argument("--window", type=int, default=None, help="steps per window (default: the spool's)")
    d.add_argument("--backend", choices=("cpu", "gpu"), default="cpu")
    d.add_argument("--once", action="store_true", help="prove what is there, then exit")
    d.add_argument("--poll", type=float, default=0.25, help="seconds between polls of the spool")
    d.add_argument("--wait-lock", action="store_true", help="wait for another daemon instead of exiting 3")
    d.add_argument("--quiet", action="store_true")

    m = sub.add_parser("demo", help="train the digits MLP with proofs alongside, verify, report accuracy")
    m.add_argument("--steps", type=int, default=64)
    m.add_argument("--window", type=int, default=16)
    m.add_argument("--batch-size", type=int, default=32)
    m.add_argument("--hidden", default="32", help="hidden widths, comma separated (default 32: 64-32-10)")
    m.add_argument("--out", default="zkdl-demo", help="output directory (must not exist or be empty)")

    r = sub.add_parser("report", help="PNG + HTML report of a run (loss curve, proof times and sizes)")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--out", help="PNG file (default RUN_DIR/report.png; the HTML page goes next to it)")

    c = sub.add_parser("commit-model", help="commit to weights (.npz) and write the model commitment file")
    c.add_argument("weights", metavar="WEIGHTS.npz", help="float weights (W0, b0, ... or torch-style keys), "
                   "or integer fixed-point ones")
    c.add_argument("--out", required=True, help="the model commitment file (public)")
    c.add_argument("--opening", help="where to write the opening (private, mode 0600; default OUT.opening)")
    c.add_argument("--batch-size", type=int, default=1)
    c.add_argument("--R", type=int, default=16)
    c.add_argument("--Q", type=int, default=32)
    return p


def _err(msg: str) -> None:
    msg = " ".join(str(msg).split())
    sys.stderr.write(f"zkdl: {msg}\n")
    sys.stderr.flush()


# ----------------------------------------------------------------------------- verify / inspect


def cmd_verify(a) -> int:
    from . import runfiles as rf
    from .verifier import format_summary, verify_proof_file, verify_run

    def fail(code, check, msg):
        if a.json:
            print(json.dumps({"valid": False, "usable": code != EXIT_UNUSABLE, "failed_check": check, "error": msg}))
        _err(("invalid: " if code == EXIT_INVALID else "unusable input: ") + msg)
        return code

    try:
        if os.path.isdir(a.target):
            s = verify_run(a.target, initial_model=a.initial_model, final_model=a.final_model)
        elif os.path.exists(a.target):
            s = verify_proof_file(a.target, a.dataset, a.initial_model)
        else:
            return fail(EXIT_UNUSABLE, None, f"{a.target}: no such file or directory")
    except rf.RunInvalidError as e:
        return fail(EXIT_INVALID, e.check, str(e))
    except rf.RunFormatError as e:
        return fail(EXIT_UNUSABLE, None, str(e))
    print(json.dumps(s, indent=1) if a.json else format_summary(s))
    return EXIT_OK


def cmd_inspect(a) -> int:
    from zkdl.circuits.training import DATASET_KIND, PROOF_KIND, DatasetCommitment, WindowProof
    from zkdl.codec import ProofFormatError

    from . import runfiles as rf

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
        elif kind == DATASET_KIND:
            ds = DatasetCommitment.from_bytes(data)
            info = {"file": a.file, "kind": "dataset commitment", "bytes": len(data), "n_examples": ds.n,
                    "d_in": ds.d_in, "d_out": ds.d_out, "digest": ds.digest().hex()}
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
    if info["kind"] == "window proof":
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


# ----------------------------------------------------------------------------- daemon


def cmd_daemon(a) -> int:
    from .daemon import DaemonBusy, DaemonError, main

    try:
        return main(a)
    except DaemonBusy as e:
        _err(str(e))
        return EXIT_BUSY
    except DaemonError as e:
        _err(str(e))
        return EXIT_UNUSABLE


# ----------------------------------------------------------------------------- commit-model


def cmd_commit_model(a) -> int:
    import numpy as np

    from zkdl.circuits.prover import commit_model
    from zkdl.fixedpoint import FixedPointConfig
    from zkdl.trainer import init_weights_from_float

    from . import runfiles as rf
    from .record import save_model_opening

    try:
        with np.load(a.weights, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise rf.RunFormatError(f"{a.weights}: no such file") from None
    except (OSError, ValueError) as e:
        raise rf.RunFormatError(f"{a.weights}: not a readable .npz file ({e})") from None
    if arrays and all(v.dtype.kind in "iu" for v in arrays.values()):
        # already fixed point: the same keys, integer values (scale 2^R)
        W = init_weights_from_float({k: v.astype(np.float64) / (1 << a.R) for k, v in arrays.items()}, a.R)
    else:
        W = init_weights_from_float(arrays, a.R)
    widths = (W[0].shape[0] - 1,) + tuple(w.shape[1] for w in W)
    cfg = FixedPointConfig(widths=widths, eta_int=1, k=0, batch_size=a.batch_size, R=a.R, Q=a.Q)
    model, sec = commit_model(cfg, W)
    opening = a.opening or a.out + ".opening"
    rf.create_exclusive(a.out, rf.model_file_bytes(cfg, model))
    save_model_opening(opening, sec)
    print(f"wrote {a.out} (model commitment, {'-'.join(map(str, widths))}, sha256 {rf.model_digest(model)[:16]}...)")
    print(f"wrote {opening} (its opening: PRIVATE, keep it with the weights)")
    return EXIT_OK


# ----------------------------------------------------------------------------- report


def cmd_report(a) -> int:
    from .report import write_report

    png, html = write_report(a.run_dir, a.out)
    print(f"wrote {png}")
    print(f"wrote {html}")
    return EXIT_OK


# ----------------------------------------------------------------------------- demo


def cmd_demo(a) -> int:
    from .demo import run_demo

    return run_demo(steps=a.steps, window=a.window, out=a.out, batch_size=a.batch_size,
                    hidden=tuple(int(h) for h in str(a.hidden).split(",") if h.strip()))


# ----------------------------------------------------------------------------- main

_COMMANDS = {"verify": cmd_verify, "inspect": cmd_inspect, "daemon": cmd_daemon, "demo": cmd_demo,
             "report": cmd_report, "commit-model": cmd_commit_model}


def main(argv=None) -> int:
    parser = _parser()
    try:
        a = parser.parse_args(argv)
    except _UsageError as e:
        _err(str(e).removeprefix("zkdl: "))
        return EXIT_UNUSABLE
    if a.cmd is None:
        parser.print_help()
        return EXIT_UNUSABLE
    if a.cmd == "daemon" and a.backend == "gpu":
        _err("daemon --backend gpu: no GPU prover backend yet (zkdl.prover_gpu is not implemented); use --backend cpu")
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
