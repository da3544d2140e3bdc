"""Verifying a proven training run (``zkdl verify``): every window proof, the chain and, once the
run has ended, its published model (final-model.commitment, range-proven, and final-model.link,
which ties it to the last window's master weights).

Imports only the verifier side (:mod:`zkdl.circuits.training`, :mod:`zkdl.runfiles`), never the
prover, the trainer or a GPU backend.

Errors: :class:`zkdl.runfiles.RunFormatError` (unusable input: missing file, wrong format or
version, malformed bytes) and :class:`zkdl.runfiles.RunInvalidError` (a check failed; ``check``
names it).
"""
from __future__ import annotations

import os
import time
from typing import Callable

from zkdl.circuits.training import (DatasetCommitment, ModelCommitment, Statement, WindowProof, master_of,
                                    verify_final_model, verify_model, verify_window, verify_window_alone)
from zkdl.codec import ProofFormatError
from zkdl.errors import VerificationError, ZkdlError

from . import runfiles as rf
from .runfiles import RunFormatError, RunInvalidError


def _parse_proof(data: bytes, what: str, start=None) -> WindowProof:
    try:
        return WindowProof.from_bytes(data, start)
    except ProofFormatError as e:
        raise RunFormatError(f"{what}: malformed proof: {e}") from None
    except ZkdlError as e:
        raise RunFormatError(f"{what}: malformed proof: {e}") from None


def _verify(proof: WindowProof, dataset: DatasetCommitment, start: "ModelCommitment | Statement", what: str):
    try:
        return verify_window(proof, dataset, start)
    except VerificationError as e:
        raise RunInvalidError(f"{what}: proof", f"rejected: {e}") from None
    except ProofFormatError as e:
        raise RunFormatError(f"{what}: malformed proof: {e}") from None


def _end_status(m: dict) -> tuple[bool, str]:
    """(complete, status) of a manifest: status is "complete", "in progress" or "stopped early:
    <reason>" and complete is true exactly for "complete" (a manifest without status, written
    before it existed: from ``complete``)."""
    complete = m.get("complete")
    status = m.get("status")
    if not isinstance(complete, bool):
        raise RunFormatError("manifest: missing or malformed field 'complete'")
    if status is None:
        status = rf.STATUS_COMPLETE if complete else rf.STATUS_IN_PROGRESS
    if not isinstance(status, str) or not (status in (rf.STATUS_COMPLETE, rf.STATUS_IN_PROGRESS)
                                           or status.startswith(rf.STATUS_STOPPED + ": ")):
        raise RunFormatError(f"manifest: unknown status {status!r}")
    if complete != (status == rf.STATUS_COMPLETE):
        raise RunInvalidError("manifest: status", f"status {status!r} contradicts complete={complete}")
    return complete, status


def _final_model(run_dir: str, m: dict, config, last_after, ended: bool):
    """The run's published model: (model, range-proof status, link status).  Only an ended run
    publishes one, named by the manifest's ``final_model``: final-model.commitment (the last
    master weights rounded to scale 2^R; its range proof is checked) and final-model.link (ties
    it to ``last_after``, the last verified window's after-commitment).  (None, "none: ...",
    "none") for a run in progress or one whose rounded weights left the range."""
    if not ended:
        return None, "none: the run is in progress", "none"
    fm = m.get("final_model")
    if not isinstance(fm, dict):
        raise RunFormatError("manifest: the run has ended but its manifest has no final_model entry")
    if fm.get("master_sha256") is not None and fm["master_sha256"] != rf.model_digest(last_after):
        raise RunInvalidError("final model", "the manifest's final master weights are not the last window's")
    if fm.get("file") is None:
        why = " ".join(str(fm.get("reason") or "the run publishes none").split())[:200]
        return None, f"none: no published model ({why})", "none"
    if fm.get("file") != rf.FINAL_MODEL_FILE or fm.get("link_file") != rf.FINAL_LINK_FILE:
        raise RunFormatError(f"manifest: final_model must name {rf.FINAL_MODEL_FILE} and {rf.FINAL_LINK_FILE}")
    fmodel = _listed_model(run_dir, rf.FINAL_MODEL_FILE, fm.get("sha256"), "final model", config)
    link = rf.read_bytes(os.path.join(run_dir, rf.FINAL_LINK_FILE), "final model link")
    if rf.sha256_bytes(link) != fm.get("link_sha256"):
        raise RunInvalidError("final model", f"{rf.FINAL_LINK_FILE} does not match the manifest's sha256")
    if rf.model_digest(fmodel) != fm.get("model_sha256"):
        raise RunInvalidError("final model", "the manifest's model digest differs from the commitment's")
    try:
        verify_final_model(config, last_after, fmodel, link)
    except VerificationError as e:
        raise RunInvalidError("final model", f"{rf.FINAL_MODEL_FILE} is not the published rounding of the last "
                              f"window's weights: {e}") from None
    return fmodel, "verified", "verified"


def _listed_model(run_dir: str, name: str, sha256, what: str, config):
    """A model file the manifest lists: its bytes must have the manifest's sha256 and its
    architecture the run's (RunInvalidError naming ``what`` otherwise)."""
    path = os.path.join(run_dir, name)
    data = rf.read_bytes(path, f"{what} commitment")
    if rf.sha256_bytes(data) != sha256:
        raise RunInvalidError(what, f"{name} does not match the manifest's sha256")
    cfg, model = rf.load_model_file(path, f"{what} commitment")
    if cfg.widths != config.widths:
        raise RunInvalidError(what, "its architecture differs from the manifest's")
    return model


def _body_job(arg) -> tuple[str, str, float]:
    """A Ray task of ``verify_run(workers=N)``: verify one window proof alone (verify_window_alone:
    everything but the chain, which verify_run checks in order).  Returns (outcome, message,
    seconds): outcome "ok", "invalid" (a check failed) or "format" (malformed bytes)."""
    data, dataset = arg
    t = time.perf_counter()
    try:
        verify_window_alone(data, dataset)
        return "ok", "", time.perf_counter() - t
    except VerificationError as e:
        return "invalid", str(e), time.perf_counter() - t
    except (ProofFormatError, ZkdlError) as e:
        return "format", str(e), time.perf_counter() - t


def verify_run(run_dir: str, *, initial_model: str | None = None, final_model: str | None = None,
               progress: Callable[[int, int], None] | None = None, workers: int | None = None,
               ray: str | None = None) -> dict:
    """Check a run directory; returns a JSON-ready summary (``valid``: True).  ``progress(done,
    total)``, if given, is called with the number of window proofs verified so far (0 first) and
    their total (``zkdl verify`` draws a bar with it on a terminal).

    With ``workers`` > 1 (a local Ray instance) or ``ray`` (a cluster's address) the window proofs
    are verified concurrently (verify_window_alone) and the chain is then checked in order
    (continue_chain), which is cheap; the verdict is the same as with one worker."""
    t_start = time.perf_counter()
    pool = None
    if (workers or 1) > 1 or ray is not None:
        from .cluster import ClusterError, executor

        try:
            pool = executor(workers, ray)
        except ClusterError as e:
            raise RunFormatError(str(e)) from None
    try:
        return _verify_run(run_dir, initial_model, final_model, progress, pool, t_start)
    finally:
        if pool is not None:
            pool.close()


def _verify_run(run_dir, initial_model, final_model, progress, pool, t_start) -> dict:
    if not os.path.isdir(run_dir):
        raise RunFormatError(f"{run_dir}: no such directory")
    mpath = os.path.join(run_dir, rf.MANIFEST)
    if not os.path.exists(mpath):
        raise RunFormatError(f"{run_dir} is not a zkdl run directory (no {rf.MANIFEST})")
    m = rf.read_json(mpath, "manifest", rf.MANIFEST_FORMAT, rf.MANIFEST_VERSION)
    try:
        config = rf.config_from_json(m["config"], "manifest config")
        windows = list(m["windows"])
        t_first = int(m["t0"])
        ds_meta, im_meta = m["dataset_commitment"], m["initial_model"]
        for w in windows:
            for key in ("index", "t0", "T", "file", "sha256", "before_sha256", "after_sha256"):
                w[key]
    except (KeyError, TypeError, ValueError) as e:
        raise RunFormatError(f"manifest: missing or malformed field {e}") from None

    # dataset commitment
    dpath = os.path.join(run_dir, rf.DATASET_FILE)
    dbytes = rf.read_bytes(dpath, "dataset commitment")
    if rf.sha256_bytes(dbytes) != ds_meta.get("sha256"):
        raise RunInvalidError("dataset commitment", f"{rf.DATASET_FILE} does not match the manifest's sha256")
    dataset = rf.load_dataset_file(dpath)
    digest = dataset.digest()
    if digest.hex() != m.get("dataset_digest") or dataset.n != m.get("n_examples"):
        raise RunInvalidError("dataset digest", "the dataset commitment's digest / size differ from the manifest's")
    if dataset.d_in != config.widths[0] or dataset.d_out != config.widths[-1]:
        raise RunInvalidError("dataset commitment", "its widths do not match the architecture")

    # initial model
    initial = _listed_model(run_dir, rf.INITIAL_MODEL_FILE, im_meta.get("sha256"), "initial model", config)
    if initial_model is not None:
        _, want = rf.load_model_file(initial_model, "--initial-model")
        if want != initial:
            raise RunInvalidError("initial model", f"the run starts from another model than {initial_model}")
    # the chain start: whatever the first step (t0 is the prover's word), the model the run starts
    # from must carry a valid range proof (docs/protocol.md §11)
    try:
        verify_model(config, initial)
    except VerificationError as e:
        raise RunInvalidError("initial model", str(e)) from None

    if not windows:
        if _end_status(m)[1].startswith(rf.STATUS_STOPPED):
            raise RunInvalidError("windows", f"the run {_end_status(m)[1]} before its first step (nothing is proven)")
        raise RunInvalidError("windows", "the run has no proven window yet (nothing is proven)")

    if progress is not None:
        progress(0, len(windows))
    # semantics v2: the chain runs on master weights; it starts from those of the initial model
    prev_after = master_of(config, initial)
    prev_st: "ModelCommitment | Statement" = initial
    deferred: dict = {}             # window -> (handle, statement, what): proofs verified by workers
    t_next = t_first
    losses: list = []
    out_windows = []
    total_bytes = 0
    for k, w in enumerate(windows):
        what = f"window {k}"
        if w["index"] != k or w["file"] != rf.window_file(k):
            raise RunInvalidError(f"{what}: manifest", "windows are not listed in order")
        ppath = os.path.join(run_dir, w["file"])
        data = rf.read_bytes(ppath, what)
        total_bytes += len(data)
        if rf.sha256_bytes(data) != w["sha256"]:
            raise RunInvalidError(f"{what}: sha256", f"{w['file']} does not match the manifest's sha256")
        proof = _parse_proof(data, f"{what} ({w['file']})", prev_after)
        st = proof.statement
        if st.config != config:
            raise RunInvalidError(f"{what}: config", "the proof's configuration differs from the manifest's")
        if st.t0 != t_next or w["t0"] != st.t0:
            raise RunInvalidError(f"{what}: consecutive steps", f"starts at step {st.t0}, expected {t_next}")
        if st.T != w["T"]:
            raise RunInvalidError(f"{what}: steps", f"proves {st.T} steps, the manifest says {w['T']}")
        if st.n_examples != dataset.n or st.dataset_digest != digest:
            raise RunInvalidError(f"{what}: dataset digest", "the proof is about another dataset commitment")
        if st.before != prev_after:
            check = "chain (initial model)" if k == 0 else "chain"
            raise RunInvalidError(f"{what}: {check}", "the weights before the window are not the weights after "
                                  + ("the initial commitment" if k == 0 else f"window {k - 1}"))
        if rf.model_digest(st.before) != w["before_sha256"] or rf.model_digest(st.after) != w["after_sha256"]:
            raise RunInvalidError(f"{what}: manifest", "the manifest's model digests differ from the proof's")
        want_losses = None if st.losses is None else [str(v) for v in st.losses]
        if w.get("losses_int") != want_losses:
            raise RunInvalidError(f"{what}: losses", "the manifest's losses differ from the proof's")
        t0v = time.perf_counter()
        if pool is None:
            _verify(proof, dataset, prev_st, what)
            prev_st = st
        else:
            deferred[k] = (pool.submit(_body_job, (data, dataset)), st, what)
        t_ver = time.perf_counter() - t0v
        if st.losses is None:
            losses.extend([None] * st.T)
        else:
            losses.extend(rf.loss_value(v, config) for v in st.losses)
        out_windows.append({"index": k, "t0": st.t0, "T": st.T, "file": w["file"], "bytes": len(data),
                            "verify_seconds": round(t_ver, 3), "losses_int": want_losses,
                            "after_sha256": rf.model_digest(st.after)})
        prev_after = st.after
        t_next = st.t0 + st.T
        if progress is not None and pool is None:
            progress(k + 1, len(windows))
    if pool is not None:
        _check_deferred(pool, deferred, initial, out_windows, progress)

    steps = t_next - t_first
    complete, status = _end_status(m)
    ended = status != rf.STATUS_IN_PROGRESS       # complete or stopped early: the run is over
    if ended and m.get("total_steps") != t_next:
        raise RunInvalidError("steps", f"the manifest claims {m.get('total_steps')} steps, the proofs cover "
                              f"steps up to {t_next}")
    fmodel, final_range, final_link = _final_model(run_dir, m, config, prev_after, ended)
    if final_model is not None:
        _, want = rf.load_model_file(final_model, "--final-model")
        if fmodel is None:
            raise RunInvalidError("final model", "the run publishes no final model " + (
                "(in progress)" if not ended else f"({final_range.removeprefix('none: ')})")
                + f", so it does not end at the model of {final_model}")
        if want != fmodel:
            raise RunInvalidError("final model", f"the run does not end at the model of {final_model}")

    c = config
    return {
        "valid": True, "run_dir": os.path.abspath(run_dir), "complete": complete, "status": status,
        "steps": steps, "first_step": t_first, "last_step": t_next - 1, "windows": out_windows,
        "architecture": {"widths": list(c.widths), "layers": c.num_layers, "activation": "relu", "loss": c.loss},
        "hyperparameters": {"learning_rate": c.eta, "eta_int": c.eta_int, "k": c.k, "batch_size": c.batch_size,
                            "batch_schedule_seed": c.seed, "R": c.R, "Q": c.Q},
        "dataset": {"n_examples": dataset.n, "digest": digest.hex()},
        "initial_model_sha256": rf.model_digest(initial),
        "final_model_sha256": None if fmodel is None else rf.model_digest(fmodel),
        "final_master_sha256": rf.model_digest(prev_after),
        "final_model_file_checked": fmodel is not None, "initial_model_range_proof": "verified",
        "final_model_range_proof": final_range, "final_model_link": final_link,
        "losses": losses, "proof_bytes": total_bytes,
        "verify_seconds": round(time.perf_counter() - t_start, 3),
    }


def _check_deferred(pool, deferred: dict, initial, out_windows: list, progress) -> None:
    """Collect the workers' verdicts, then check the chain in order; the first failing window (in
    order) is the one reported."""
    from zkdl.circuits.training import continue_chain

    from .cluster import JobFailed

    handles = {h: k for k, (h, _, _) in deferred.items()}
    verdicts: dict = {}
    while len(verdicts) < len(deferred):
        for h in pool.wait([h for h in handles if handles[h] not in verdicts], None):
            try:
                verdicts[handles[h]] = pool.get(h)
            except JobFailed as e:
                verdicts[handles[h]] = ("failed", str(e), 0.0)
            if progress is not None:
                progress(len(verdicts), len(deferred))
    prev = initial
    for k in sorted(deferred):
        _, st, what = deferred[k]
        outcome, msg, secs = verdicts[k]
        if outcome == "format":
            raise RunFormatError(f"{what}: malformed proof: {msg}")
        if outcome != "ok":
            raise RunInvalidError(f"{what}: proof", f"rejected: {msg}" if outcome == "invalid" else
                                  f"could not be checked: {msg}")
        st.body_verified = True         # its worker ran verify_window_alone on these bytes
        try:
            prev = continue_chain(st, prev)
        except VerificationError as e:
            raise RunInvalidError(f"{what}: proof", f"rejected: {e}") from None
        out_windows[k]["verify_seconds"] = round(secs, 3)


def verify_proof_file(path: str, dataset_path: str | None = None, initial_model: str | None = None) -> dict:
    """Check a single window proof against the dataset commitment (``dataset_path``, or
    dataset.commitment next to the proof).  Alone, a window is sound only if it starts a chain:
    from the range-proven model commitment ``initial_model`` (or model-initial.commitment next
    to the proof); a later window is verified with its run (verify_run)."""
    t_start = time.perf_counter()
    data = rf.read_bytes(path, "proof")
    if not data:
        raise RunFormatError(f"{path}: empty file (not a zkdl proof)")
    proof = _parse_proof(data, path)
    if dataset_path is None:
        dataset_path = os.path.join(os.path.dirname(os.path.abspath(path)), rf.DATASET_FILE)
        if not os.path.exists(dataset_path):
            raise RunFormatError(f"no {rf.DATASET_FILE} next to {path}; pass --dataset FILE")
    dataset = rf.load_dataset_file(dataset_path)
    st = proof.statement
    if st.dataset_digest != dataset.digest() or st.n_examples != dataset.n:
        raise RunInvalidError("dataset digest", "the proof is about another dataset commitment")
    if initial_model is None:
        initial_model = os.path.join(os.path.dirname(os.path.abspath(path)), rf.INITIAL_MODEL_FILE)
        if not os.path.exists(initial_model):
            raise RunFormatError(f"no {rf.INITIAL_MODEL_FILE} next to {path}; pass --initial-model FILE (the "
                                 "range-proven model the window starts from)")
    _, start = rf.load_model_file(initial_model, "initial model commitment")
    if st.before != master_of(st.config, start):        # a chain starts from the model's master weights
        raise RunFormatError(f"{os.path.basename(path)} (steps {st.t0}..{st.t0 + st.T - 1}) does not start from "
                             f"{initial_model}: a window that continues a chain is verified with its run "
                             "(zkdl verify RUN_DIR)")
    _verify(proof, dataset, start, os.path.basename(path))
    s = rf.statement_summary(st)
    c = st.config
    return {
        "valid": True, "proof": os.path.abspath(path), "complete": None, "status": None, "steps": st.T,
        "first_step": st.t0, "last_step": st.t0 + st.T - 1,
        "windows": [{"index": None, "t0": st.t0, "T": st.T, "file": os.path.basename(path), "bytes": len(data),
                     "losses_int": s["losses_int"], "after_sha256": s["model_after_sha256"]}],
        "architecture": {"widths": list(c.widths), "layers": c.num_layers, "activation": "relu", "loss": c.loss},
        "hyperparameters": {"learning_rate": c.eta, "eta_int": c.eta_int, "k": c.k, "batch_size": c.batch_size,
                            "batch_schedule_seed": c.seed, "R": c.R, "Q": c.Q},
        "dataset": {"n_examples": dataset.n, "digest": dataset.digest().hex()},
        "initial_model_sha256": rf.model_digest(start), "final_model_sha256": None,
        "final_master_sha256": s["model_after_sha256"], "final_model_file_checked": False,
        "losses": s["losses"] if s["losses"] is not None else [None] * st.T, "proof_bytes": len(data),
        "verify_seconds": round(time.perf_counter() - t_start, 3),
    }


def format_summary(s: dict) -> str:
    """The human summary printed by ``zkdl verify``."""
    a, h = s["architecture"], s["hyperparameters"]
    lines = []
    target = s.get("run_dir") or s.get("proof")
    lines.append(f"zkdl verify  {target}")
    lines.append(f"  architecture     {'-'.join(map(str, a['widths']))} MLP ({a['layers']} linear layers, "
                 f"ReLU hidden layers), loss {a['loss']}")
    lines.append(f"  hyperparameters  learning rate {h['learning_rate']:g} (= {h['eta_int']}/2^{h['k']}), "
                 f"batch {h['batch_size']}, batch-schedule seed {h['batch_schedule_seed']}, "
                 f"fixed point R={h['R']} Q={h['Q']}")
    lines.append(f"  dataset          {s['dataset']['n_examples']} examples (committed), digest "
                 f"{s['dataset']['digest'][:16]}...")
    ws = s["windows"]
    sizes = sorted({w["T"] for w in ws})
    status = s.get("status")
    if status is None:
        status = None if s["complete"] is None else (rf.STATUS_COMPLETE if s["complete"] else rf.STATUS_IN_PROGRESS)
    if status is None:
        state = ""
    elif status == rf.STATUS_COMPLETE:
        state = "; run complete"
    elif status == rf.STATUS_IN_PROGRESS:
        state = "; run in progress, NOT complete (more steps may follow)"
    else:
        state = f"; run {status}, NOT complete (training ended after these steps)"
    lines.append(f"  steps            {s['first_step']}..{s['last_step']} ({s['steps']} steps) in {len(ws)} "
                 f"window{'s' if len(ws) != 1 else ''} of {'/'.join(map(str, sizes))}{state}")
    start = " (range proof verified: a valid chain start)" if s.get("initial_model_range_proof") else ""
    lines.append(f"  initial model    commitment sha256 {s['initial_model_sha256'][:16]}...{start}")
    if s.get("final_model_sha256"):
        link = "; linked to the last window's weights" if s.get("final_model_link") == "verified" else ""
        lines.append(f"  final model      commitment sha256 {s['final_model_sha256'][:16]}... (final-model.commitment: "
                     f"the published model, range proof verified{link})")
    elif s.get("run_dir") and str(s.get("final_model_range_proof") or "").startswith("none: no published"):
        why = s["final_model_range_proof"].removeprefix("none: no published model").strip(" ()")
        lines.append(f"  final model      none published ({why}; no range proof: it cannot start a chain)")
    elif s.get("run_dir"):
        lines.append("  final model      none yet (published when the run ends)")
    if s.get("final_master_sha256"):
        lines.append(f"  final weights    master-weight commitment sha256 {s['final_master_sha256'][:16]}... (after the "
                     "last window)")
    losses = s["losses"]
    if all(v is None for v in losses):
        lines.append("  losses           hidden (the proofs do not reveal them)")
    else:
        lines.append("  losses (proven; mean squared error per example, per step):")
        t = s["first_step"]
        row = []
        for j, v in enumerate(losses):
            row.append(f"{t + j:>6}: {'hidden' if v is None else f'{v:.5f}'}")
            if len(row) == 6:
                lines.append("   " + "  ".join(row))
                row = []
        if row:
            lines.append("   " + "  ".join(row))
    lines.append(f"  proofs           {len(ws)} file{'s' if len(ws) != 1 else ''}, {s['proof_bytes']} bytes, "
                 f"checked in {s['verify_seconds']:.2f} s")
    if status is not None and status.startswith(rf.STATUS_STOPPED):
        lines.append(f"  end              the run {status}: the proofs cover the {s['steps']} steps recorded "
                     "before it stopped, not a complete training run")
    lines.append("VALID: every window proof verified and the chain of commitments is consistent")
    return "\n".join(lines)
