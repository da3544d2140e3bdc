"""Inference proofs from the command line (issue 14, "inference like EZKL"): zkdl commit-model ->
prove-inference (.npy / .json inputs, public or hidden, --fixed-point) -> verify-inference /
verify / inspect; export-model of a proven run's final model; ONNX import; refusals (a missing
--model, weights that differ from the commitment, wrong input shapes, a changed output, another
model) with exit codes 1 / 2 and one line on stderr.  Small networks (6-5-3), CLI in subprocesses."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import runhelp as h
from zkdl import runfiles as rf
from zkdl.circuits import prover as pv, training as tr
from zkdl.fixedpoint import forward, quantize, round_master

WIDTHS = (6, 5, 3)
R = 16


def _float_sd(seed: int, widths=WIDTHS) -> dict:
    rng = np.random.default_rng(seed)
    sd = {}
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        sd[f"{2 * i}.weight"] = rng.normal(0, 0.5, (b, a))
        sd[f"{2 * i}.bias"] = rng.normal(0, 0.1, b)
    return sd


def _int_weights(sd: dict) -> list:
    """zkdl layout (d_in + 1, d_out), last row bias, quantized at 2^R."""
    keys = sorted({k.split(".")[0] for k in sd}, key=int)
    return [quantize(np.vstack([sd[f"{k}.weight"].T, sd[f"{k}.bias"][None, :]]), R) for k in keys]


def _ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert r.returncode == 0, r.stderr
    return r


def _refused(r: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert h.one_line_error(r.stderr), r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    return r.stderr


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A 6-5-3 model committed with the CLI, a second model of the same shape (API), inputs, and
    one proof with a public input."""
    d = tmp_path_factory.mktemp("inference")
    sd = _float_sd(1)
    np.savez(d / "w.npz", **sd)
    _ok(h.zkdl("commit-model", d / "w.npz", "--out", d / "m.commitment"))
    # a second model, same architecture, other weights
    sd2 = _float_sd(2)
    np.savez(d / "w2.npz", **sd2)
    cfg = tr.inference_config(WIDTHS, 1)
    model2, sec2 = pv.commit_model(cfg, _int_weights(sd2))
    (d / "m2.commitment").write_bytes(rf.model_file_bytes(cfg, model2))
    from zkdl.record import save_model_opening

    save_model_opening(str(d / "m2.commitment.opening"), sec2)
    X = np.random.default_rng(3).normal(0, 1, (3, WIDTHS[0]))
    np.save(d / "x.npy", X)
    r = _ok(h.zkdl("prove-inference", d / "x.npy", "--model", d / "m.commitment", "--out", d / "p.inf"))
    assert "wrote" in r.stdout and "argmax" in r.stdout
    return {"dir": d, "sd": sd, "sd2": sd2, "X": X}


# ----------------------------------------------------------------------------- point 1: the commands


def test_prove_verify_inspect_public_input(base):
    d, X = base["dir"], base["X"]
    cfg = tr.inference_config(WIDTHS, len(X))
    expected = forward(cfg, _int_weights(base["sd"]), quantize(X, R))
    out = json.loads((d / "p.inf.outputs.json").read_text())
    assert out["format"] == "zkdl-inference-output" and out["input"] == "public" and out["n_examples"] == 3
    assert np.array_equal(np.array(out["outputs_int"]), expected)
    assert np.allclose(np.array(out["outputs"]), expected / 2.0 ** R)
    assert out["argmax"] == expected.argmax(axis=1).tolist()
    assert out["proof_sha256"] == rf.sha256_file(d / "p.inf")
    # verify-inference: human and JSON
    r = _ok(h.zkdl("verify-inference", d / "p.inf", "--model", d / "m.commitment"))
    assert "VALID" in r.stdout and "6-5-3 MLP" in r.stdout and "3 examples of 6 features, public" in r.stdout
    assert "range proof verified" in r.stdout
    # zkdl verify dispatches on the file kind
    s = json.loads(_ok(h.zkdl("verify", d / "p.inf", "--model", d / "m.commitment", "--json")).stdout)
    assert s["valid"] is True and s["input"] == "public" and s["n_examples"] == 3
    assert s["outputs_int"] == out["outputs_int"] and s["inputs_int"] == quantize(X, R).tolist()
    assert s["architecture"]["widths"] == list(WIDTHS) and s["model_range_proof"] == "verified"
    # inspect: what it claims, not verified
    r = _ok(h.zkdl("inspect", d / "p.inf"))
    assert "inference proof" in r.stdout and "NOT verified" in r.stdout and "6-5-3" in r.stdout
    i = json.loads(_ok(h.zkdl("inspect", d / "p.inf", "--json")).stdout)
    assert i["kind"] == "inference proof" and i["verified"] is False and i["outputs_int"] == out["outputs_int"]


def test_hidden_input_from_json(base):
    d = base["dir"]
    X = np.random.default_rng(4).normal(0, 1, (2, WIDTHS[0]))
    (d / "x.json").write_text(json.dumps(X.tolist()))
    _ok(h.zkdl("prove-inference", d / "x.json", "--model", d / "m.commitment", "--out", d / "ph.inf",
               "--hidden-input"))
    s = json.loads(_ok(h.zkdl("verify-inference", d / "ph.inf", "--model", d / "m.commitment", "--json")).stdout)
    assert s["input"] == "committed" and s["inputs_int"] is None and s["n_examples"] == 2
    cfg = tr.inference_config(WIDTHS, 2)
    assert s["outputs_int"] == forward(cfg, _int_weights(base["sd"]), quantize(X, R)).tolist()
    # the input is not in the proof; its opening is a private file
    st = tr.InferenceProof.from_bytes((d / "ph.inf").read_bytes()).statement
    assert st.X is None and len(st.X_com) == 2
    op = d / "ph.inf.input-opening"
    assert stat.S_IMODE(os.stat(op).st_mode) == 0o600
    with np.load(op) as z:
        assert np.array_equal(z["X"], quantize(X, R))
    r = _ok(h.zkdl("inspect", d / "ph.inf"))
    assert "committed (hidden" in r.stdout


def test_fixed_point_flag_and_one_flat_example(base, tmp_path):
    d = base["dir"]
    ints = [65536, -32768, 3, 0, 7, -1]                  # already scaled by 2^16
    small = [1, -2, 3, 0, 7, -1]
    (tmp_path / "one.json").write_text(json.dumps({"input_data": [small]}))      # EZKL's input.json
    (tmp_path / "flat.json").write_text(json.dumps(ints))
    _ok(h.zkdl("prove-inference", tmp_path / "flat.json", "--model", d / "m.commitment", "--out", tmp_path / "a.inf",
               "--fixed-point"))
    i = json.loads(_ok(h.zkdl("inspect", tmp_path / "a.inf", "--json")).stdout)
    assert i["inputs_int"] == [ints] and i["n_examples"] == 1          # a flat list of d_0 is one example
    # without --fixed-point integers are real numbers, quantized (what prove-inference reads)
    from zkdl.inference import read_input

    cfg = tr.inference_config(WIDTHS, 1)
    assert read_input(str(tmp_path / "one.json"), cfg).tolist() == [[v << 16 for v in small]]
    assert read_input(str(tmp_path / "one.json"), cfg, fixed_point=True).tolist() == [small]
    # --fixed-point refuses non-integers; values beyond the fixed-point range are refused
    (tmp_path / "frac.json").write_text(json.dumps([[0.5] * 6]))
    _refused(h.zkdl("prove-inference", tmp_path / "frac.json", "--model", d / "m.commitment", "--out",
                    tmp_path / "c.inf", "--fixed-point"), 2, "--fixed-point")
    (tmp_path / "big.json").write_text(json.dumps([[1e6] * 6]))
    _refused(h.zkdl("prove-inference", tmp_path / "big.json", "--model", d / "m.commitment", "--out",
                    tmp_path / "c.inf"), 2, "range")
    assert not (tmp_path / "c.inf").exists()


# ----------------------------------------------------------------------------- point 2: the model is required


def test_verify_inference_requires_the_model(base):
    d = base["dir"]
    _refused(h.zkdl("verify-inference", d / "p.inf"), 2, "--model")
    _refused(h.zkdl("verify", d / "p.inf"), 2, "--model")
    r = h.zkdl("verify", d / "p.inf", "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["usable"] is False
    _refused(h.zkdl("verify", d / "m.commitment", "--model", d / "m.commitment"), 2, "--initial-model")
    with pytest.raises(Exception, match="model commitment the proof is about is required"):
        tr.verify_inference((d / "p.inf").read_bytes(), None)
    # verify-inference of a training proof / of a non-zkdl file: unusable input
    _refused(h.zkdl("verify-inference", d / "x.npy", "--model", d / "m.commitment"), 2, "not a zkdl file")
    _refused(h.zkdl("verify-inference", d / "nope.inf", "--model", d / "m.commitment"), 2, "no such file")


def test_changed_output_and_other_model_are_rejected(base, tmp_path):
    d = base["dir"]
    proof = tr.InferenceProof.from_bytes((d / "p.inf").read_bytes())
    proof.statement.Yhat[0, 0] += 1                          # claim another output
    (tmp_path / "bad.inf").write_bytes(proof.to_bytes())
    r = h.zkdl("verify-inference", tmp_path / "bad.inf", "--model", d / "m.commitment", "--json")
    _refused(r, 1, "invalid: proof")
    assert json.loads(r.stdout)["failed_check"] == "proof"
    _refused(h.zkdl("verify", tmp_path / "bad.inf", "--model", d / "m.commitment"), 1, "invalid: proof")
    # the honest proof checked against another model (same architecture)
    r = h.zkdl("verify-inference", d / "p.inf", "--model", d / "m2.commitment", "--json")
    _refused(r, 1, "another model commitment")
    assert json.loads(r.stdout)["failed_check"] == "model"
    # ... and a proof re-labelled as being about that model: the proof no longer verifies
    other = rf.load_model_file(str(d / "m2.commitment"))[1]
    proof = tr.InferenceProof.from_bytes((d / "p.inf").read_bytes())
    proof.statement.model = other
    (tmp_path / "relabelled.inf").write_bytes(proof.to_bytes())
    _refused(h.zkdl("verify-inference", tmp_path / "relabelled.inf", "--model", d / "m2.commitment"), 1,
             "invalid: proof")


# ----------------------------------------------------------------------------- point 3: checks before proving


def test_weights_that_differ_from_the_commitment_fail_before_proving(base, tmp_path):
    d = base["dir"]
    # the CLI: --weights of another model -> exit 1, nothing written
    _refused(h.zkdl("prove-inference", d / "x.npy", "--model", d / "m.commitment", "--weights", d / "w2.npz",
                    "--out", tmp_path / "p.inf"), 1, "does not hold the weights of")
    # an opening of another commitment
    _refused(h.zkdl("prove-inference", d / "x.npy", "--model", d / "m.commitment", "--opening",
                    d / "m2.commitment.opening", "--out", tmp_path / "p.inf"), 1, "does not open the commitment")
    assert not list(tmp_path.iterdir())
    # the API: ModelOpeningError before any proving (the protocol is never entered)
    cfg, model = rf.load_model_file(str(d / "m.commitment"))
    from zkdl.record import read_model_opening

    sec = read_model_opening(str(d / "m.commitment.opening"), cfg)
    W2 = _int_weights(base["sd2"])
    icfg = tr.inference_config(WIDTHS, 3)
    import zkdl.circuits.prover as prover_module

    real = prover_module._protocol
    prover_module._protocol = lambda *a, **k: pytest.fail("proving started")
    try:
        with pytest.raises(pv.ModelOpeningError, match="layer 1 W does not hold these weights"):
            pv.prove_inference(icfg, W2, model, sec, quantize(base["X"], R))
    finally:
        prover_module._protocol = real


def test_input_shape_errors(base, tmp_path):
    d = base["dir"]
    np.save(tmp_path / "img.npy", np.zeros((1, 2, 3)))
    err = _refused(h.zkdl("prove-inference", tmp_path / "img.npy", "--model", d / "m.commitment", "--out",
                          tmp_path / "p.inf"), 2, "(1, 2, 3)", "(n, 6)")
    assert "flatten" in err
    (tmp_path / "ragged.json").write_text("[[1, 2], [3]]")
    _refused(h.zkdl("prove-inference", tmp_path / "ragged.json", "--model", d / "m.commitment", "--out",
                    tmp_path / "p.inf"), 2, "different lengths")
    # the API: an image-shaped input gets the expected shape, not "batch_size must be >= 1"
    cfg, model = rf.load_model_file(str(d / "m.commitment"))
    W = _int_weights(base["sd"])
    with pytest.raises(pv.ShapeError, match=r"X must have shape \(n, 6\).*got \(1, 28, 28\)"):
        pv.prove_inference(cfg, W, model, None, np.zeros((1, 28, 28), dtype=np.int64))
    assert not (tmp_path / "p.inf").exists()


def test_existing_output_files_are_never_overwritten(base, tmp_path):
    d = base["dir"]
    (tmp_path / "p.inf").write_bytes(b"mine")
    _refused(h.zkdl("prove-inference", d / "x.npy", "--model", d / "m.commitment", "--out", tmp_path / "p.inf"), 1,
             "already exists")
    (tmp_path / "q.inf.outputs.json").write_text("mine")
    _refused(h.zkdl("prove-inference", d / "x.npy", "--model", d / "m.commitment", "--out", tmp_path / "q.inf"), 1,
             "already exists")
    assert (tmp_path / "p.inf").read_bytes() == b"mine" and (tmp_path / "q.inf.outputs.json").read_text() == "mine"
    assert not (tmp_path / "q.inf").exists()
    # a model without a range proof is refused before proving (no verifier would accept the proof)
    cfg, model = rf.load_model_file(str(d / "m.commitment"))
    model.range_proof = None
    (tmp_path / "bare.commitment").write_bytes(rf.model_file_bytes(cfg, model))
    _refused(h.zkdl("prove-inference", d / "x.npy", "--model", tmp_path / "bare.commitment", "--opening",
                    d / "m.commitment.opening", "--out", tmp_path / "r.inf"), 1, "no range proof")


# ----------------------------------------------------------------------------- a run's final model


def test_export_model_of_a_proven_run_then_inference(tmp_path):
    spool, run, out = tmp_path / "spool", tmp_path / "run", tmp_path / "model"
    rec = h.record(spool, 3, window=2)
    _ok(h.zkdl("daemon", "--spool", spool, "--out", run, "--once", "--quiet"))
    # the run publishes its model (the rounded master weights) and links it to the chain
    v = json.loads(_ok(h.zkdl("verify", run, "--json")).stdout)
    assert v["final_model_range_proof"] == "verified" and v["final_model_link"] == "verified"
    assert v["final_model_sha256"] == rf.model_digest(rf.load_model_file(str(run / rf.FINAL_MODEL_FILE))[1])
    assert "linked to the last window's weights" in _ok(h.zkdl("verify", run)).stdout
    r = _ok(h.zkdl("export-model", "--spool", spool, "--run", run, "--out", out))
    assert "model.opening" in r.stdout
    assert (out / "model.commitment").read_bytes() == (run / rf.FINAL_MODEL_FILE).read_bytes()
    assert stat.S_IMODE(os.stat(out / "model.opening").st_mode) == 0o600
    from zkdl.trainer import Trainer

    published = Trainer(h.CFG, h.weights(), *h.data()).run(3)
    W3 = round_master(h.CFG, published[-1].W_after)[0]             # the model: round_master of the last M
    assert all(np.array_equal(a, b) for a, b in zip(rec.weights, W3))
    with np.load(out / "weights.fixed.npz") as z:       # the exact integers, torch orientation
        assert np.array_equal(z["0.weight"], W3[0][:-1].T) and np.array_equal(z["2.bias"], W3[1][-1])
    X = h.data(2)[0]
    np.save(tmp_path / "x.npy", X)
    # the opening next to the commitment (model.opening) is found; the exported float weights check out
    _ok(h.zkdl("prove-inference", tmp_path / "x.npy", "--model", out / "model.commitment", "--weights",
               out / "weights.npz", "--fixed-point", "--out", tmp_path / "p.inf"))
    s = json.loads(_ok(h.zkdl("verify-inference", tmp_path / "p.inf", "--model", run / rf.FINAL_MODEL_FILE,
                              "--json")).stdout)
    cfg = tr.inference_config(h.CFG.widths, 2, h.CFG.R, h.CFG.Q)
    assert s["outputs_int"] == forward(cfg, W3, X).tolist()
    assert s["model_sha256"] == v["final_model_sha256"]
    # with the spool's opening of the published model (and the weights it holds) directly
    _ok(h.zkdl("prove-inference", tmp_path / "x.npy", "--model", run / rf.FINAL_MODEL_FILE, "--opening",
               spool / rf.PRIVATE_DIR / rf.FINAL_OPENING_FILE, "--fixed-point", "--hidden-input",
               "--out", tmp_path / "q.inf"))
    _ok(h.zkdl("verify-inference", tmp_path / "q.inf", "--model", run / rf.FINAL_MODEL_FILE))
    # an inference proof about the run's final model is about nothing else: not the initial model
    _refused(h.zkdl("verify-inference", tmp_path / "p.inf", "--model", run / rf.INITIAL_MODEL_FILE), 1, "model")
    # exporting again never overwrites
    before = (out / "model.opening").read_bytes()
    _refused(h.zkdl("export-model", "--spool", spool, "--run", run, "--out", out), 1, "already exists")
    assert (out / "model.opening").read_bytes() == before
    # a later run continues training the published model (the exported commitment and opening)
    from zkdl.record import Recorder

    spool_b, run_b = tmp_path / "spool-b", tmp_path / "run-b"
    with Recorder(str(spool_b), h.CFG, W3, *h.data(), window=2, start_step=3,
                  model_opening=(str(out / "model.commitment"), str(out / "model.opening"))) as rec_b:
        rec_b.run(2)
    assert (spool_b / rf.INITIAL_MODEL_FILE).read_bytes() == (run / rf.FINAL_MODEL_FILE).read_bytes()
    _ok(h.zkdl("daemon", "--spool", spool_b, "--out", run_b, "--once", "--quiet"))
    vb = json.loads(_ok(h.zkdl("verify", run_b, "--initial-model", run / rf.FINAL_MODEL_FILE, "--json")).stdout)
    assert vb["first_step"] == 3 and vb["last_step"] == 4 and vb["final_model_link"] == "verified"
    # a run directory without a final model
    (tmp_path / "empty").mkdir()
    _refused(h.zkdl("export-model", "--spool", spool, "--run", tmp_path / "empty", "--out", tmp_path / "m2"), 2,
             "final-model.commitment")


# ----------------------------------------------------------------------------- point 4: ONNX


def _onnx_mlp(kind: str, sd: dict, final_relu: bool = False, conv: bool = False):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    keys = sorted({k.split(".")[0] for k in sd}, key=int)
    nodes, inits, cur = [], [], "input"
    if conv:
        inits.append(numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "K"))
        nodes.append(helper.make_node("Conv", ["input", "K"], ["c"]))
        nodes.append(helper.make_node("Flatten", ["c"], ["f"], axis=1))
        cur = "f"
    for i, k in enumerate(keys):
        W, b = sd[f"{k}.weight"].astype(np.float32), sd[f"{k}.bias"].astype(np.float32)   # W: (out, in)
        if kind == "gemm_transB":
            inits += [numpy_helper.from_array(W, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
            nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"b{i}"], [f"z{i}"], transB=1))
        elif kind == "gemm":
            inits += [numpy_helper.from_array(np.ascontiguousarray(W.T), f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
            nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"b{i}"], [f"z{i}"], transB=0))
        else:       # MatMul + Add
            inits += [numpy_helper.from_array(np.ascontiguousarray(W.T), f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
            nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"m{i}"]))
            nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [f"z{i}"]))
        cur = f"z{i}"
        if i < len(keys) - 1 or final_relu:
            nodes.append(helper.make_node("Relu", [cur], [f"a{i}"]))
            cur = f"a{i}"
    shape = [None, 1, 2, 3] if conv else [None, WIDTHS[0]]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info(cur, TensorProto.FLOAT, [None, WIDTHS[-1]])], inits)
    return onnx.helper.make_model(g)


@pytest.mark.parametrize("kind", ["gemm_transB", "gemm", "matmul_add"])
def test_load_onnx_layer_kinds(kind, base, tmp_path):
    import onnx

    from zkdl.onnx_import import load_onnx
    from zkdl.trainer import init_weights_from_float

    sd = base["sd"]
    onnx.save(_onnx_mlp(kind, sd), str(tmp_path / "network.onnx"))
    layers = load_onnx(tmp_path / "network.onnx")
    assert [w.shape for w, _ in layers] == [(6, 5), (5, 3)]       # normalized to (in, out)
    for (w, b), k in zip(layers, ("0", "2")):
        assert np.allclose(w, sd[f"{k}.weight"].T, atol=1e-6) and np.allclose(b, sd[f"{k}.bias"], atol=1e-6)
    W = init_weights_from_float(layers, R)
    assert [x.shape for x in W] == [(7, 5), (6, 3)]


def test_onnx_network_through_the_cli(base, tmp_path):
    import onnx

    d = base["dir"]
    onnx.save(_onnx_mlp("gemm_transB", base["sd"]), str(tmp_path / "network.onnx"))
    r = _ok(h.zkdl("commit-model", tmp_path / "network.onnx", "--out", tmp_path / "net.commitment"))
    assert "6-5-3" in r.stdout
    _ok(h.zkdl("prove-inference", d / "x.npy", "--model", tmp_path / "net.commitment", "--out", tmp_path / "p.inf"))
    s = json.loads(_ok(h.zkdl("verify-inference", tmp_path / "p.inf", "--model", tmp_path / "net.commitment",
                              "--json")).stdout)
    # float32 weights, quantized: the same outputs as the float64 state dict up to rounding
    cfg = tr.inference_config(WIDTHS, 3)
    ref = forward(cfg, _int_weights(base["sd"]), quantize(base["X"], R))
    assert np.abs(np.array(s["outputs_int"]) - ref).max() < 2 ** (R - 8)
    # prove-inference --weights network.onnx: the ONNX weights are checked against the opening
    from zkdl.inference import load_model_with_opening

    *_, W = load_model_with_opening(str(tmp_path / "net.commitment"), str(tmp_path / "net.commitment.opening"),
                                    str(tmp_path / "network.onnx"))
    with pytest.raises(pv.ModelOpeningError, match="does not hold the weights of"):
        load_model_with_opening(str(tmp_path / "net.commitment"), str(tmp_path / "net.commitment.opening"),
                                str(d / "w2.npz"))


def test_onnx_outside_the_mlp_subset_is_refused(base, tmp_path):
    import onnx

    from zkdl.onnx_import import OnnxModelError, load_onnx

    onnx.save(_onnx_mlp("gemm_transB", base["sd"], conv=True), str(tmp_path / "conv.onnx"))
    _refused(h.zkdl("commit-model", tmp_path / "conv.onnx", "--out", tmp_path / "c.commitment"), 2, "Conv",
             "unsupported ONNX operator")
    assert not (tmp_path / "c.commitment").exists()
    onnx.save(_onnx_mlp("matmul_add", base["sd"], final_relu=True), str(tmp_path / "relu.onnx"))
    with pytest.raises(OnnxModelError, match="ends with a Relu"):
        load_onnx(tmp_path / "relu.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00not an onnx model")
    _refused(h.zkdl("commit-model", tmp_path / "junk.onnx", "--out", tmp_path / "j.commitment"), 2, "junk.onnx")


def test_onnx_missing_package_is_a_clear_error(base, tmp_path):
    import onnx

    onnx.save(_onnx_mlp("gemm", base["sd"]), str(tmp_path / "network.onnx"))
    code = ("import sys; sys.modules['onnx'] = None\n"          # as if onnx were not installed
            "from zkdl.cli import main\n"
            f"sys.exit(main(['commit-model', {str(tmp_path / 'network.onnx')!r}, '--out', "
            f"{str(tmp_path / 'n.commitment')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=h.env(), cwd=h.ROOT)
    _refused(r, 2, "pip install onnx")


# ----------------------------------------------------------------------------- the verifier's imports


def test_verify_inference_imports_no_prover_code(base):
    d = base["dir"]
    p, m = str(d / "p.inf"), str(d / "m.commitment")
    code = f"""
import sys
from zkdl.cli import main
for argv in (["verify-inference", {p!r}, "--model", {m!r}, "--json"], ["verify", {p!r}, "--model", {m!r}],
             ["inspect", {p!r}]):
    assert main(argv) == 0
bad = [x for x in ("zkdl.circuits.prover", "zkdl.trainer", "zkdl.record", "zkdl.daemon", "zkdl.prover_gpu", "cupy",
                   "onnx")
       if x in sys.modules or any(k.startswith(x + ".") for k in sys.modules)]
print("BAD", bad)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=h.env(), cwd=h.ROOT)
    assert r.returncode == 0, r.stderr
    assert "BAD []" in r.stdout, r.stdout


def test_export_model_only_exports_what_the_manifest_names(tmp_path):
    """A final-model.commitment the manifest does not name (e.g. left by a daemon killed while
    publishing, before its manifest write) is never exported; the run directory is unchanged."""
    spool, run, out = tmp_path / "spool", tmp_path / "run", tmp_path / "model"
    h.record(spool, 2, window=2)
    _ok(h.zkdl("daemon", "--spool", spool, "--out", run, "--once", "--quiet"))
    published = (run / rf.FINAL_MODEL_FILE).read_bytes()
    (run / rf.FINAL_MODEL_FILE).write_bytes((run / rf.INITIAL_MODEL_FILE).read_bytes())   # another valid model
    _refused(h.zkdl("export-model", "--spool", spool, "--run", run, "--out", out), 1, "manifest names")
    assert not out.exists()
    (run / rf.FINAL_MODEL_FILE).write_bytes(published)
    _ok(h.zkdl("export-model", "--spool", spool, "--run", run, "--out", out))
