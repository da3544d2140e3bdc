"""Every chain start proves the range of what it starts from; the proven ranges are exactly the
semantics' ranges; every statement has one encoding (docs/protocol.md §11, "Ranges").

Semantics v2: a chain starts from a model W (scale 2^R, range-proven) and trains its master
weights M_0 = 2^(R+k) W (master_of); nothing weight-sized is range-limited after that.

The cheating provers here build proofs whose every relation holds -- shown by running the window
protocol's verifier without the chain-start rule (`_relations_only`) -- so that the rejection
comes from the range proof of the chain start and nothing incidental."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from zkdl import fixedpoint as fp, hyrax, runfiles as rf
from zkdl.circuits import prover as pv, training as tr
from zkdl.circuits.channel import VerifierChannel
from zkdl.codec import ProofFormatError, Writer, wrap
from zkdl.errors import ShapeError, VerificationError, ZkdlError
from zkdl.field import R_MODULUS as P, FrVec
from zkdl.fixedpoint import (FixedPointConfig, TrainingRangeError, batch_indices, check_weights, round_master,
                             to_master, train_step)
from zkdl.trainer import Trainer, init_mlp, init_weights_from_float
from zkdl.transcript import Transcript

from runhelp import one_line_error, zkdl

CFG = FixedPointConfig(widths=(3, 4, 2), eta_int=3, k=4, batch_size=2, seed=5)
B = CFG.bound                      # 2^(Q-1)
HALF = pow(2, -1, P)               # 1/2 in Fr: not an integer at all


def _data(n=8, seed=0):
    """Integer data whose first feature is always 0: the weights of that input row never touch
    a relation (forward: multiplied by 0; layer 1 has no backward-data relation; its update is
    0), so a cheating value there keeps every relation true over Fr."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 1 << CFG.R, size=(n, CFG.widths[0]))
    X[:, 0] = 0
    Y = rng.integers(0, 1 << CFG.R, size=(n, CFG.widths[-1]))
    return X, Y


def _weights(seed=1):
    W = init_weights_from_float(init_mlp(CFG.widths, seed), CFG.R)
    W[0][0, 0] = 0
    return W


def _signed(v):
    v %= P
    return v - P if v > P // 2 else v


def cheat_model(cfg, W, value):
    """A model commitment holding ``value`` (a field element) at W_1[0, 0] and W elsewhere, with
    the range proof a cheating prover can make (it cannot make a valid one)."""
    lay, key = tr.WindowLayout(cfg, 1), tr.model_key(cfg)
    cw, cb, sw, sb = [], [], [], []
    for i, w in enumerate(W):
        lw, lb = lay.weight(i), lay.bias(i)
        vals = [int(v) % P for v in lw.pad(w[:-1])]
        if i == 0:
            vals[0] = value % P
        c, s = hyrax.commit(key, FrVec.from_ints(vals), col_vars=lw.col_vars, num_vars=lw.num_vars)
        cw.append(c)
        sw.append(s)
        c, s = hyrax.commit(key, lb.pad(w[-1]), col_vars=lb.col_vars, num_vars=lb.num_vars)
        cb.append(c)
        sb.append(s)
    model, sec = tr.ModelCommitment(cw, cb), pv.ModelSecret(sw, sb)
    model.range_proof = pv.prove_model_range(cfg, model, sec, unsafe_skip_checks=True)
    return model, sec


def cheat_master(cfg, W, value):
    """The master weights of cheat_model(cfg, W, value): M_0 = 2^(R+k) W with 2^(R+k) value at
    W_1[0, 0] -- an integer (mod r) even where ``value`` is none: 2^(R+k) / 2 = 2^(R+k-1)."""
    M = to_master(cfg, W)
    M[0][0, 0] = _signed(value * (1 << cfg.master_bits))
    return M


def _relations_only(proof, data, model):
    """The window protocol's verifier without the chain-start rule: passes iff every relation of
    the window holds (what a verifier that trusted the start's range would accept).  The window
    must start from the model's master weights, master_of(config, model) -- the only part of the
    start rule kept."""
    st_ = proof.statement
    assert st_.before == tr.master_of(st_.config, model)
    lay = tr.WindowLayout(st_.config, st_.T)
    ch = VerifierChannel(tr.training_key(lay.key_size()), Transcript(b"zkdl-train"), proof.body, derived=True)
    tr._protocol(ch, st_, data, None)
    ch.done()


@pytest.fixture(scope="module")
def dataset():
    X, Y = _data()
    data, dsec = pv.commit_dataset(CFG, X, Y)
    return X, Y, data, dsec


def _cheating_traces(X, Y, value, t0, T=2):
    """Honest training from the cheating model's master weights (which an integer trainer can
    hold: see cheat_master); W_1[0, 0] meets only zero inputs, so it never changes."""
    M = cheat_master(CFG, _weights(), value)
    traces = Trainer(CFG, None, X, Y, master=M, start_step=t0).run(T)
    assert int(traces[-1].W_after[0][0, 0]) == int(M[0][0, 0])
    return traces


def _cheating_window(dataset, value, t0):
    X, Y, data, dsec = dataset
    model, msec = cheat_model(CFG, _weights(), value)
    traces = _cheating_traces(X, Y, value, t0)
    proof, _, _ = pv.prove_window(traces, model, msec, data, dsec, unsafe_skip_checks=True)
    return model, proof


# ---------------------------------------------------------------------------- chain starts
@pytest.mark.parametrize("value,t0", [(B, 0), (B + 12345, 5), (-B - 1, 0), (HALF, 5)],
                         ids=["2^(Q-1)", "above", "below", "one-half"])
def test_window_from_out_of_range_or_fractional_model_is_rejected(dataset, value, t0):
    _, _, data, _ = dataset
    model, proof = _cheating_window(dataset, value, t0)
    _relations_only(proof, data, model)   # every relation holds: only the start's range is false
    with pytest.raises(VerificationError, match=r"^model range proof: range checks"):
        tr.verify_window(proof.to_bytes(), data, model)
    with pytest.raises(VerificationError, match=r"^model range proof: range checks"):
        tr.verify_model(CFG, model)
    # without any range proof the start is refused as well
    bare = tr.ModelCommitment(model.W, model.b)
    with pytest.raises(VerificationError, match="carries none"):
        tr.verify_window(proof.to_bytes(), data, bare)
    # and a range proof of another (in-range) model does not transfer
    honest, _ = pv.commit_model(CFG, _weights())
    bare.range_proof = honest.range_proof
    with pytest.raises(VerificationError, match="model range proof"):
        tr.verify_window(proof.to_bytes(), data, bare)
    # the master weights the window starts from are no chain start at all
    with pytest.raises(VerificationError, match="not from master weights"):
        tr.verify_window(proof.to_bytes(), data, proof.statement.before)


def test_honest_window_from_a_later_step_verifies(dataset):
    """Resuming at t0 > 0 from a committed (range-proven) model is a valid chain start."""
    X, Y, data, dsec = dataset
    W = _weights()
    model, msec = pv.commit_model(CFG, W)
    traces = Trainer(CFG, W, X, Y, start_step=7).run(2)
    proof, after, asec = pv.prove_window(traces, model, msec, data, dsec)
    s1 = tr.verify_window(proof.to_bytes(), data, model)
    assert s1.t0 == 7 and s1.before == tr.master_of(CFG, model)
    p2, _, _ = pv.prove_window(Trainer(CFG, None, X, Y, master=traces[-1].W_after, start_step=9).run(1), after, asec,
                               data, dsec)
    s2 = tr.verify_window(p2.to_bytes(), data, s1)
    assert s2.t0 == 9
    # a continuation is checked against the window it claims to continue
    shifted = tr.Statement(s1.config, s1.t0 + 1, s1.T, s1.n_examples, s1.dataset_digest, s1.before, s1.after,
                           s1.losses)
    with pytest.raises(VerificationError, match="must be one returned by verify_window"):
        tr.verify_window(p2.to_bytes(), data, shifted)
    shifted.chain_verified = True
    with pytest.raises(VerificationError, match="chain: the window starts at step 9"):
        tr.verify_window(p2.to_bytes(), data, shifted)
    # the previous window's statement read back from its file is not a start until verified
    with pytest.raises(VerificationError, match="must be one returned by verify_window"):
        tr.verify_window(p2.to_bytes(), data, tr.WindowProof.from_bytes(proof.to_bytes()).statement)
    # the previous window's after-commitment alone is not a chain start: master weights, no range proof
    with pytest.raises(VerificationError, match="not from master weights"):
        tr.verify_window(p2.to_bytes(), data, s1.after)
    # nor is a model commitment with the same rows (the chain starts from its master weights)
    as_model = tr.ModelCommitment(s1.after.W, s1.after.b, model.range_proof)
    with pytest.raises(VerificationError, match="does not start from the given model"):
        tr.verify_window(p2.to_bytes(), data, as_model)
    with pytest.raises(VerificationError, match="start must be"):
        tr.verify_window(p2.to_bytes(), data, None)


def test_the_known_start_is_reused_only_for_its_exact_bytes(dataset):
    """verify_window takes the statement's before-commitment from its start (no second decoding
    of every weight row) only when the bytes are exactly the start's encoding; any other bytes
    are decoded strictly and checked by the chain rule as before."""
    from zkdl.codec import ProofFormatError

    X, Y, data, dsec = dataset
    W = _weights()
    model, msec = pv.commit_model(CFG, W)
    proof, _, _ = pv.prove_window(Trainer(CFG, W, X, Y).run(1), model, msec, data, dsec)
    blob = proof.to_bytes()
    M0 = tr.master_of(CFG, model)
    assert tr.WindowProof.from_bytes(blob, model).statement.before is M0
    plain = tr.WindowProof.from_bytes(blob).statement.before
    assert plain == M0 and plain is not M0
    assert tr.verify_window(blob, data, model).before is M0
    # another model: decoded, and refused by the chain rule
    other, _ = pv.commit_model(CFG, _weights(seed=2))
    assert tr.WindowProof.from_bytes(blob, other).statement.before is not tr.master_of(CFG, other)
    with pytest.raises(VerificationError, match="does not start from the given model"):
        tr.verify_window(blob, data, other)
    # one byte of the before-commitment changed: strict decoding (here: a point off the curve,
    # or another point, which the chain rule refuses)
    enc = M0.encoding()
    at = blob.find(enc)
    assert at > 0 and blob.find(enc, at + 1) < 0
    for off in (at + len(enc) - 20, at + len(enc) - 1):
        bad = bytearray(blob)
        bad[off] ^= 1
        with pytest.raises((ProofFormatError, VerificationError)):
            tr.verify_window(bytes(bad), data, model)


def test_inference_against_out_of_range_model_is_rejected():
    cfg = tr.inference_config(CFG.widths, 2)
    W = _weights()
    X, _ = _data(2)
    for value in (B, HALF):
        model, msec = cheat_model(cfg, W, value)
        proof = pv.prove_inference(cfg, W, model, msec, X, unsafe_skip_checks=True)   # W_1[0, 0] meets only zero inputs
        with pytest.raises(VerificationError, match=r"^model range proof: range checks"):
            tr.verify_inference(proof.to_bytes(), model)
    honest, hsec = pv.commit_model(cfg, W)
    proof = pv.prove_inference(cfg, W, honest, hsec, X)
    tr.verify_inference(proof.to_bytes(), honest)
    bare = tr.ModelCommitment(honest.W, honest.b)
    with pytest.raises(VerificationError, match="carries none"):
        tr.verify_inference(proof.to_bytes(), bare)
    with pytest.raises(VerificationError, match="required"):
        tr.verify_inference(proof.to_bytes(), None)


def _honest_run_dir(tmp_path, X, Y, W):
    """A real run directory (Recorder + daemon), then its spool's secrets."""
    from zkdl.record import Recorder, load_secrets

    spool, run = tmp_path / "spool", tmp_path / "run"
    rec = Recorder(str(spool), CFG, W, X, Y, window=2)
    rec.run(2)
    rec.close()
    r = zkdl("daemon", "--spool", spool, "--out", run, "--once", "--quiet")
    assert r.returncode == 0, r.stderr
    dsec, _ = load_secrets(str(spool / rf.PRIVATE_DIR / rf.SECRETS_FILE), CFG)
    return run, dsec


@pytest.mark.parametrize("value", [HALF], ids=["one-half"])
def test_cli_rejects_run_resumed_at_t0_from_out_of_range_model(tmp_path, value):
    """The attack of the review, end to end: a run directory whose manifest says the run starts
    at step 5 from a model holding a fractional (or out-of-range: the same path, covered in
    process above) weight."""
    X, Y = _data()
    W = _weights()
    run, dsec = _honest_run_dir(tmp_path, X, Y, W)
    assert zkdl("verify", run).returncode == 0
    data = rf.load_dataset_file(str(run / rf.DATASET_FILE))
    model, msec = cheat_model(CFG, W, value)
    traces = _cheating_traces(X, Y, value, 5)
    proof, after, _ = pv.prove_window(traces, model, msec, data, dsec, unsafe_skip_checks=True)
    _relations_only(proof, data, model)
    mf, pbytes = rf.model_file_bytes(CFG, model), proof.to_bytes()
    (run / rf.INITIAL_MODEL_FILE).write_bytes(mf)
    (run / rf.window_file(0)).write_bytes(pbytes)
    for name in (rf.FINAL_MODEL_FILE, rf.FINAL_LINK_FILE):
        if (run / name).exists():
            (run / name).unlink()
    m = json.loads((run / rf.MANIFEST).read_text())
    m["t0"] = 5
    m["initial_model"].update(sha256=rf.sha256_bytes(mf), model_sha256=rf.model_digest(model))
    w0 = dict(m["windows"][0], t0=5, T=2, sha256=rf.sha256_bytes(pbytes), bytes=len(pbytes),
              before_sha256=rf.model_digest(proof.statement.before), after_sha256=rf.model_digest(after),
              losses_int=[str(v) for v in proof.statement.losses])
    m["windows"] = [w0]
    m.update(complete=False, total_steps=None, final_model=None)
    if "status" in m:
        m["status"] = "in progress"
    (run / rf.MANIFEST).write_text(json.dumps(m))
    r = zkdl("verify", run)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert one_line_error(r.stderr) and "initial model" in r.stderr and "model range proof: range checks" in r.stderr
    r = zkdl("verify", run, "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["failed_check"] == "initial model"
    # the single proof file, checked against the model next to it, is rejected the same way
    r = zkdl("verify", run / rf.window_file(0))
    assert r.returncode == 1 and "model range proof: range checks" in r.stderr and one_line_error(r.stderr)


# ---------------------------------------------------------------------------- boundaries
@pytest.mark.parametrize("value,ok", [(-B, True), (B - 1, True), (-B - 1, False), (B, False)])
def test_weight_boundary_is_the_same_in_semantics_and_proof(value, ok):
    W = _weights()
    W[1][0, 1] = value
    if ok:
        assert check_weights(CFG, W)
        assert to_master(CFG, W)[1][0, 1] == value << CFG.master_bits
        model, _ = pv.commit_model(CFG, W)
        tr.verify_model(CFG, model)
        return
    with pytest.raises(TrainingRangeError, match=r"out of range \(value -?\d+ is outside \[-2\^31, 2\^31\)"):
        check_weights(CFG, W)
    with pytest.raises(TrainingRangeError):
        to_master(CFG, W)
    with pytest.raises(TrainingRangeError):
        pv.commit_model(CFG, W)
    model, _ = cheat_model(CFG, W, 0)        # W_1[0, 0] = 0: the only bad value is the boundary one
    with pytest.raises(VerificationError, match=r"^model range proof: range checks"):
        tr.verify_model(CFG, model)


@pytest.mark.parametrize("value,ok", [(-B, True), (B - 1, True), (-B - 1, False), (B, False)])
def test_data_boundary_is_the_same_in_semantics_and_proof(value, ok):
    X, Y = _data(4)
    X[1, 2] = value
    if ok:
        Trainer(CFG, _weights(), X, Y)        # the trainer accepts it
        data, _ = pv.commit_dataset(CFG, X, Y)
        tr.verify_dataset(CFG, data)
        return
    with pytest.raises(TrainingRangeError, match="dataset: X out of range"):
        Trainer(CFG, _weights(), X, Y)
    with pytest.raises(ShapeError, match=r"outside \[-2\^\(Q-1\), 2\^\(Q-1\)\)"):
        pv.commit_dataset(CFG, X, Y)
    key = tr.model_key(CFG)
    rows = np.zeros((4, 4), dtype=np.int64)
    rows[:, :3] = X
    good, sec = pv.commit_dataset(CFG, np.zeros_like(X), Y)
    bad = tr.DatasetCommitment(4, 3, 2, key.commit_rows(rows, sec.bX), good.Y)
    bad.range_proof = pv.prove_dataset_range(CFG, bad, pv.DatasetSecret(X, Y, sec.bX, sec.bY), unsafe_skip_checks=True)
    with pytest.raises(VerificationError, match=r"^dataset range proof: range checks"):
        tr.verify_dataset(CFG, bad)


# One-layer runs small enough to reason about by hand: R = 4, Q = 8 (values in [-128, 128)).
GROW = FixedPointConfig(widths=(1, 1), eta_int=2, k=0, batch_size=1, R=4, Q=8)


def test_master_weights_are_not_range_limited():
    """Nothing update-sized is range-limited (semantics v2 has no dW): one step takes a master
    weight far past 2^(Q-1) 2^(R+k) -- the weight 1016 = 16256 / 2^(R+k), against 127 -- and both
    that window and the next one (which starts from it) verify; only the published model, the
    rounding of the master weights, must be in range to start another chain."""
    cfg = GROW
    s0 = int(batch_indices(cfg.seed, 0, 2, 1)[0])
    assert int(batch_indices(cfg.seed, 1, 2, 1)[0]) == 1 - s0
    X = np.zeros((2, 1), dtype=np.int64)
    X[s0] = 127                                         # step 0: x = 127 / 2^4; step 1: x = 0
    Y = np.zeros((2, 1), dtype=np.int64)
    W = [np.array([[0], [-64]], dtype=np.int64)]
    traces = Trainer(cfg, W, X, Y).run(2)
    M1 = traces[0].W_after[0]
    # G_Z = -64, so M_w = 0 - 2 * 127 * (-64) and M_b = 16 * (-64) - 2 * 16 * (-64)
    assert M1.tolist() == [[16256], [1024]] and 16256 >= cfg.bound << cfg.master_bits
    assert int(traces[1].Yhat[0, 0]) == 64                 # in range: the next step only sees the bias
    model, msec = pv.commit_model(cfg, W)
    data, dsec = pv.commit_dataset(cfg, X, Y)
    p1, a1, sec1 = pv.prove_window(traces[:1], model, msec, data, dsec)
    p2, a2, sec2 = pv.prove_window(traces[1:], a1, sec1, data, dsec)
    s1 = tr.verify_window(p1.to_bytes(), data, model)
    s2 = tr.verify_window(p2.to_bytes(), data, s1)
    assert s2.t0 == 1
    # the model of these master weights (rounded to scale 2^R) is out of range: no chain starts there
    W2, _ = round_master(cfg, traces[1].W_after)
    assert int(W2[0][0, 0]) == 1016
    with pytest.raises(TrainingRangeError):
        check_weights(cfg, W2)
    with pytest.raises(TrainingRangeError):
        pv.prove_final_model(cfg, traces[1].W_after, a2, sec2)


EDGE = FixedPointConfig(widths=(1, 1), eta_int=1, k=0, batch_size=1, R=4, Q=8)


def _shifted_step(cfg, M, X, Y):
    """train_step whose forward rescale returns (Z' - 1, E + 2^(2R+k)) for the one entry: Z is
    unchanged, everything after it follows from the shifted Z'."""
    orig = fp._matmul_rescale

    def patched(a, b, s):
        q, e = orig(a, b, s)
        return q - 1, e + (1 << s)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fp, "_matmul_rescale", patched)
        return train_step(cfg, M, X, Y, step=0)


def test_remainder_boundary_is_the_same_in_semantics_and_proof():
    """The forward remainder E lies in [-2^(2R+k-1), 2^(2R+k-1)) (2R + k = 8 bits here): the
    value Z = 128 = 2^8 / 2 rounds up (Z' = 1, E = -128, the lowest remainder, accepted); the
    other reading Z' = 0, E = 128 is one past the top and rejected by the range check."""
    cfg = EDGE
    s = cfg.master_shift
    W = [np.array([[1], [0]], dtype=np.int64)]
    X, Y = np.array([[8]], dtype=np.int64), np.zeros((1, 1), dtype=np.int64)
    M = to_master(cfg, W)
    honest = train_step(cfg, M, X, Y, step=0)
    assert int(honest.Z[0][0, 0]) == 1 << (s - 1)
    assert (int(honest.Zp[0][0, 0]), int(honest.E_fwd[0][0, 0])) == (1, -(1 << (s - 1)))
    model, msec = pv.commit_model(cfg, W)
    data, dsec = pv.commit_dataset(cfg, X, Y)
    proof, _, _ = pv.prove_window([honest], model, msec, data, dsec)
    tr.verify_window(proof.to_bytes(), data, model)
    cheat = _shifted_step(cfg, M, X, Y)
    assert (int(cheat.Zp[0][0, 0]), int(cheat.E_fwd[0][0, 0])) == (0, 1 << (s - 1))
    assert int(cheat.Z[0][0, 0]) == 1 << (s - 1)
    with pytest.raises(ZkdlError):
        cheat.validate()
    proof, _, _ = pv.prove_window([cheat], model, msec, data, dsec, unsafe_skip_checks=True)
    with pytest.raises(VerificationError, match=r"^range checks"):
        tr.verify_window(proof.to_bytes(), data, model)


HTINY = FixedPointConfig(widths=(1, 1, 1), eta_int=1, k=0, batch_size=1, R=4, Q=8)
HWIDE = FixedPointConfig(widths=(1, 1, 1), eta_int=1, k=0, batch_size=1, R=4, Q=16)


@pytest.mark.parametrize("w,b,zp,ok", [(127, 1, 128, True), (-127, -1, -128, False), (-127, 0, -127, True)])
def test_hidden_preactivation_boundary_is_the_same_in_semantics_and_proof(w, b, zp, ok):
    """A hidden Z' lies in (-2^(Q-1), 2^(Q-1)]: the set zkReLU's sign split proves."""
    W = [np.array([[w], [b]], dtype=np.int64), np.zeros((2, 1), dtype=np.int64)]
    X, Y = np.array([[16]], dtype=np.int64), np.zeros((1, 1), dtype=np.int64)
    M = to_master(HTINY, W)               # the same master weights under both configurations
    trace = train_step(HWIDE, M, X, Y, step=0)
    assert int(trace.Zp[0][0, 0]) == zp
    trace.config = HTINY
    model, msec = pv.commit_model(HTINY, W)
    data, dsec = pv.commit_dataset(HTINY, X, Y)
    proof, _, _ = pv.prove_window([trace], model, msec, data, dsec, unsafe_skip_checks=True)
    if ok:
        train_step(HTINY, M, X, Y, step=0).validate()
        tr.verify_window(proof.to_bytes(), data, model)
        return
    with pytest.raises(TrainingRangeError, match=r"Z' out of range \(value -128 is outside \[-2\^7 \+ 1, 2\^7 \+ 1\)"):
        train_step(HTINY, M, X, Y, step=0)
    with pytest.raises(VerificationError, match=r"^range checks"):
        tr.verify_window(proof.to_bytes(), data, model)


# ---------------------------------------------------------------------------- one encoding
def test_old_variable_length_seed_encoding_is_refused(dataset):
    """Format 1 wrote the seed as a length-prefixed blob (several encodings of one seed); it is
    refused, and so is any file of format version 1."""
    X, Y, data, dsec = dataset
    W = _weights()
    model, msec = pv.commit_model(CFG, W)
    proof, _, _ = pv.prove_window(Trainer(CFG, W, X, Y).run(1), model, msec, data, dsec)
    good = proof.statement.to_bytes()
    assert tr.Statement.from_bytes(good).differences(proof.statement) == []
    seed = Writer().u64(CFG.seed).getvalue()
    body = good[16:]
    i = body.index(seed)
    for blob in (Writer().blob(bytes([CFG.seed])).getvalue(), Writer().blob(seed).getvalue()):
        other = wrap(tr.STATEMENT_KIND, body[:i] + blob + body[i + 8:])
        with pytest.raises(ProofFormatError):
            tr.Statement.from_bytes(other)
    old = bytearray(proof.to_bytes())
    old[4:6] = (1).to_bytes(2, "little")
    with pytest.raises(ProofFormatError, match="format version 1, made by an older zkdl"):
        tr.WindowProof.from_bytes(bytes(old))
    # the current versions: window proofs 11, statements 4
    assert proof.to_bytes()[4:6] == (11).to_bytes(2, "little")
    assert good[4:6] == (4).to_bytes(2, "little")
    # every earlier version is refused by its header, with what changed since
    _refused_versions(proof.to_bytes(), tr.WindowProof.from_bytes, {
        3: "version 3, made by an older zkdl: it proves each layer on its own",
        # the openings' claims reduced per tensor (a different transcript)
        4: "version 4, made by an earlier zkdl: it reduces the claims",
        # the openings' combined row commitments absorbed (another transcript)
        5: "version 5, made by an earlier zkdl: its openings absorb",
        # both sides of every zk sumcheck's final equality absorbed
        6: "version 6, made by an earlier zkdl: its zk sumchecks absorb both",
        # ReLU and G_Z = S * G_A by two sumchecks (two points on S)
        7: "version 7, made by an earlier zkdl: it proves ReLU and G_Z",
        # weight matrices in rows of 2^10 columns or more (the same bytes here: this model's weights
        # are one row either way, but a reader cannot know that from the header)
        8: "version 8, made by an earlier zkdl: its weight commitments have the earlier layout",
        # three product proofs per logUp layer (now two)
        9: "version 9, made by an earlier zkdl: its range check ends each logUp layer with three product proofs",
        # every layer's weights claimed on their own (now per class of layers of one shape)
        10: "version 10, made by an earlier zkdl: it claims every layer's weights",
    })


def _refused_versions(good: bytes, read, reasons: dict) -> None:
    """The file with its header's version set to each key is refused with that message."""
    for version, match in reasons.items():
        old = bytearray(good)
        old[4:6] = version.to_bytes(2, "little")
        with pytest.raises(ProofFormatError, match=match):
            read(bytes(old))


def test_files_with_the_earlier_weight_layout_are_refused(dataset):
    """Statements, model files, link proofs, inference statements and inference proofs of the
    version before weights were committed nearly square are refused by their headers, with the
    reason; datasets (no weights) keep their version."""
    X, Y, data, dsec = dataset
    W = _weights()
    model, msec = pv.commit_model(CFG, W)
    proof, _, _ = pv.prove_window(Trainer(CFG, W, X, Y).run(1), model, msec, data, dsec)
    cfg = tr.inference_config(CFG.widths, 2)
    iproof = pv.prove_inference(cfg, W, model, msec, X[:2])
    files = [(proof.statement.to_bytes(), 4, 3, tr.Statement.from_bytes),
             (rf.model_file_bytes(CFG, model), 4, 3, rf.read_model_file),
             (iproof.statement.to_bytes(), 4, 3, tr.InferenceStatement.from_bytes),
             (iproof.to_bytes(), 10, 7, tr.InferenceProof.from_bytes)]
    # a link proof: the published model of a run (rounded from its last master weights)
    traces = Trainer(CFG, W, X, Y).run(1)
    _, after, asec = pv.prove_window(traces, model, msec, data, dsec)
    final, _, link = pv.prove_final_model(CFG, traces[-1].W_after, after, asec)
    files.append((link, 4, 3, lambda b: tr.verify_final_model(CFG, after, final, b)))  # VerificationError
    for good, now, before, read in files:
        assert good[4:6] == now.to_bytes(2, "little")
        read(good)
        old = bytearray(good)
        old[4:6] = before.to_bytes(2, "little")
        with pytest.raises((ProofFormatError, VerificationError), match=f"version {before}, made by an earlier zkdl: its weight "
                                                   "commitments have the earlier layout"):
            read(bytes(old))
    assert data.to_bytes()[4:6] == (3).to_bytes(2, "little")
    # inference proofs of version 8 ended each logUp layer with three product proofs, of version 9
    # claimed every layer's weights on their own
    _refused_versions(iproof.to_bytes(), tr.InferenceProof.from_bytes, {
        8: "version 8, made by an earlier zkdl: its range check ends each logUp layer with three product proofs",
        9: "version 9, made by an earlier zkdl: it claims every layer's weights",
    })


def _statement_bytes():
    X, Y = _data()
    W = _weights()
    data, _ = pv.commit_dataset(CFG, X, Y)
    model, _ = pv.commit_model(CFG, W)
    M = tr.master_of(CFG, model)
    st_ = tr.Statement(CFG, 3, 2, data.n, data.digest(), M, M, [5, 7])
    return st_.to_bytes(), rf.model_file_bytes(CFG, model), data.to_bytes()


_ENC = {}


def _encodings():
    if not _ENC:
        _ENC["statement"], _ENC["model"], _ENC["dataset"] = _statement_bytes()
    return _ENC


def _parse(kind, data):
    if kind == "statement":
        return tr.Statement.from_bytes(data)
    if kind == "model":
        return rf.read_model_file(data)
    return tr.DatasetCommitment.from_bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["statement", "model", "dataset"]), data=st.data())
def test_every_accepted_byte_string_is_the_canonical_one(kind, data):
    """Any edit of a statement / model file / dataset file (flip, insert, delete, truncate, length
    fields changed) is either refused or parses to an object whose canonical encoding is exactly
    the edited bytes -- so two accepted files with different digests never say the same thing."""
    good = _encodings()[kind]
    op = data.draw(st.sampled_from(["flip", "insert", "delete", "set-u32"]))
    pos = data.draw(st.integers(16, len(good) - 1))
    if op == "flip":
        bad = bytearray(good)
        bad[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif op == "insert":
        bad = good[:pos] + bytes([data.draw(st.integers(0, 255))]) + good[pos:]
    elif op == "delete":
        bad = good[:pos] + good[pos + 1:]
    else:
        bad = bytearray(good)
        bad[pos:pos + 4] = data.draw(st.integers(0, 70)).to_bytes(4, "little")
    bad = bytes(bad)
    if len(bad) != len(good):      # keep the container's length field consistent with the body
        bad = bad[:8] + (len(bad) - 16).to_bytes(8, "little") + bad[16:]
    if bad == good:
        return
    try:
        obj = _parse(kind, bad)
    except (ProofFormatError, ZkdlError):
        return
    if kind == "statement":
        assert obj.to_bytes() == bad
        assert obj.differences(_parse(kind, good)) != []
    elif kind == "model":
        assert rf.model_file_bytes(*obj) == bad
    else:
        assert obj.to_bytes() == bad


# ---------------------------------------------------------------------------- runs as chains
def test_run_resumed_from_a_published_final_model(tmp_path):
    """Run A ends with a published model: final-model.commitment (its last master weights
    rounded to scale 2^R, range-proven) and final-model.link (tied to its last window); run B
    continues training from it (same commitment, next step number): B verifies with
    --initial-model A's final model, and an inference proof against it stands on its own."""
    from zkdl.record import Recorder, read_model_opening, weights_from_secret

    X, Y = _data()
    W = _weights()
    spool_a, run_a = tmp_path / "sa", tmp_path / "ra"
    rec = Recorder(str(spool_a), CFG, W, X, Y, window=2, out=str(run_a))
    rec.run(2)
    rec.close()
    assert zkdl("daemon", "--spool", spool_a, "--out", run_a, "--once", "--quiet").returncode == 0
    r = zkdl("verify", run_a, "--json")
    s = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert s["final_model_range_proof"] == "verified" and s["final_model_link"] == "verified" and s["last_step"] == 1
    final = run_a / rf.FINAL_MODEL_FILE
    _, fmodel = rf.load_model_file(str(final))
    tr.verify_model(CFG, fmodel)
    # the prover's opening of A's published model, kept in A's spool
    opening = spool_a / rf.PRIVATE_DIR / rf.FINAL_OPENING_FILE
    sec = read_model_opening(str(opening), CFG)
    W3 = weights_from_secret(CFG, sec)
    assert all(np.array_equal(a, b) for a, b in zip(W3, rec.weights))
    assert all(np.array_equal(a, b) for a, b in zip(W3, round_master(CFG, rec.master)[0]))
    spool_b, run_b = tmp_path / "sb", tmp_path / "rb"
    rec_b = Recorder(str(spool_b), CFG, W3, X, Y, window=2, out=str(run_b), model_opening=(str(final), str(opening)),
                     start_step=2)
    rec_b.run(2)
    rec_b.close()
    assert zkdl("daemon", "--spool", spool_b, "--out", run_b, "--once", "--quiet").returncode == 0
    r = zkdl("verify", run_b, "--initial-model", final, "--json")
    s = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert s["first_step"] == 2 and s["last_step"] == 3 and s["status"] == "complete"
    # B's initial model is byte-for-byte A's final commitment
    assert rf.model_digest(rf.load_model_file(str(run_b / rf.INITIAL_MODEL_FILE))[1]) == rf.model_digest(fmodel)
    # inference against A's final model, verified from the published file alone
    icfg = tr.inference_config(CFG.widths, 2)
    proof = pv.prove_inference(icfg, W3, fmodel, sec, X[:2])
    tr.verify_inference(proof.to_bytes(), rf.load_model_file(str(final))[1])
    # a model published without a range proof is given one when a run starts from it
    bare = tmp_path / "bare.commitment"
    bare.write_bytes(rf.model_file_bytes(CFG, tr.ModelCommitment(fmodel.W, fmodel.b)))
    rec_c = Recorder(str(tmp_path / "sc"), CFG, W3, X, Y, model_opening=(str(bare), str(opening)), start_step=2)
    tr.verify_model(CFG, rec_c.model)
    rec_c.close()


def test_final_weights_outside_the_range_end_the_run_but_start_no_chain(tmp_path):
    """Master weights are not range-limited: a run may end with weights whose rounding lies
    outside [-2^(Q-1), 2^(Q-1)) (valid, complete), but it then publishes no model."""
    from zkdl.record import Recorder

    cfg = FixedPointConfig(widths=(1, 1), eta_int=2, k=0, batch_size=1, R=4, Q=8)
    W = [np.array([[0], [100]], dtype=np.int64)]               # bias 100; M_b -= 2 * 2^R (Yhat - Y)
    X, Y = np.zeros((2, 1), dtype=np.int64), np.full((2, 1), 127, dtype=np.int64)
    spool, run = tmp_path / "s", tmp_path / "r"
    rec = Recorder(str(spool), cfg, W, X, Y, window=1, out=str(run))
    rec.run(1)
    assert int(rec.weights[0][-1, 0]) == 154                     # > 2^7 - 1
    assert int(rec.master[0][-1, 0]) == 154 << cfg.master_bits
    rec.close()
    assert zkdl("daemon", "--spool", spool, "--out", run, "--once", "--quiet").returncode == 0
    assert not (run / rf.FINAL_MODEL_FILE).exists() and not (run / rf.FINAL_LINK_FILE).exists()
    r = zkdl("verify", run, "--json")
    s = json.loads(r.stdout)
    assert r.returncode == 0 and s["status"] == "complete"
    assert s["final_model_range_proof"].startswith("none") and s["final_model_sha256"] is None
    r = zkdl("verify", run)
    assert "no range proof: it cannot start a chain" in r.stdout
