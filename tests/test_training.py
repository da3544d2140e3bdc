"""FAC4DNN training-window proofs: completeness, chaining, soundness against cheating provers,
bad input.  Small shapes keep each proof to a second or two."""
from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from zkdl.circuits import prover as pv, training as tr
from zkdl.codec import ProofFormatError
from zkdl.errors import ShapeError, VerificationError, ZkdlError
from zkdl.fixedpoint import FixedPointConfig, batch_indices, train_step
from zkdl.trainer import Trainer, init_mlp, init_weights_from_float

CFG = FixedPointConfig(widths=(3, 4, 2), eta_int=3, k=4, batch_size=2, seed=5)


def _data(cfg, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 1 << cfg.R, size=(n, cfg.widths[0]))
    Y = rng.integers(0, 1 << cfg.R, size=(n, cfg.widths[-1]))
    return X, Y


class Run:
    def __init__(self, cfg, T, n=8, seed=0):
        self.cfg = cfg
        self.X, self.Y = _data(cfg, n, seed)
        self.W0 = init_weights_from_float(init_mlp(cfg.widths, seed + 1), cfg.R)
        self.trainer = Trainer(cfg, self.W0, self.X, self.Y)
        self.traces = self.trainer.run(T)
        self.model, self.model_sec = pv.commit_model(cfg, self.W0)
        self.data, self.data_sec = pv.commit_dataset(cfg, self.X, self.Y)

    def prove(self, traces=None, unsafe=False, **kw):
        return pv.prove_window(self.traces if traces is None else traces, self.model, self.model_sec, self.data,
                               self.data_sec, unsafe_skip_checks=unsafe, **kw)


@pytest.fixture(scope="module")
def run():
    return Run(CFG, 2)


@pytest.fixture(scope="module")
def honest(run):
    return run.prove()


def test_honest_window_verifies(run, honest):
    proof, after, _ = honest
    data = proof.to_bytes()
    st_ = tr.verify_window(data, run.data, run.model)
    assert st_.T == 2 and st_.t0 == 0
    assert st_.losses == [t.loss_int for t in run.traces]
    # the derived after-commitment opens to the trainer's weights
    want, _ = pv.commit_model(CFG, run.trainer.weights)
    assert [c.num_vars for c in after.W] == [c.num_vars for c in want.W]


def test_after_commitment_opens_to_trained_weights(run, honest):
    _, _, sec = honest
    lay = tr.WindowLayout(CFG, 1)
    for i, w in enumerate(run.trainer.weights):
        from zkdl.field import FrVec

        assert sec.W[i].values == FrVec.from_int64(lay.weight(i).pad(w[:-1]))
        assert sec.b[i].values == FrVec.from_int64(lay.bias(i).pad(w[-1]))


def test_windows_chain():
    r = Run(CFG, 4, seed=3)
    p1, after1, sec1 = pv.prove_window(r.traces[:2], r.model, r.model_sec, r.data, r.data_sec, reveal_losses=False)
    p2, after2, sec2 = pv.prove_window(r.traces[2:], after1, sec1, r.data, r.data_sec)
    s1 = tr.verify_window(p1.to_bytes(), r.data, r.model)
    s2 = tr.verify_window(p2.to_bytes(), r.data, s1)
    assert s1.losses is None and s2.t0 == 2
    assert s1.after == s2.before
    # a second window that does not start from the first one's weights is refused by the prover
    with pytest.raises(ShapeError, match="committed model"):
        pv.prove_window(r.traces[2:], r.model, r.model_sec, r.data, r.data_sec)


def test_verify_in_fresh_process_on_digits(tmp_path):
    pytest.importorskip("sklearn")
    from zkdl.datasets import load_digits_fixed

    cfg = FixedPointConfig(widths=(64, 16, 10), eta_int=1, k=6, batch_size=8, seed=1)
    ds = load_digits_fixed(cfg.R)
    X, Y = ds.X_train[:64], ds.Y_train[:64]
    W0 = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    traces = Trainer(cfg, W0, X, Y).run(2)
    model, msec = pv.commit_model(cfg, W0)
    data, dsec = pv.commit_dataset(cfg, X, Y)
    proof, _, _ = pv.prove_window(traces, model, msec, data, dsec)
    (tmp_path / "w.proof").write_bytes(proof.to_bytes())
    (tmp_path / "data.com").write_bytes(data.to_bytes())
    from zkdl import runfiles as rf
    (tmp_path / "model.com").write_bytes(rf.model_file_bytes(cfg, model))
    code = textwrap.dedent(f"""
        import sys
        from zkdl.circuits import training as tr
        from zkdl import runfiles as rf
        ds = tr.DatasetCommitment.from_bytes(open({str(tmp_path / 'data.com')!r}, 'rb').read())
        _, model = rf.read_model_file(open({str(tmp_path / 'model.com')!r}, 'rb').read())
        st = tr.verify_window(open({str(tmp_path / 'w.proof')!r}, 'rb').read(), ds, model)
        leaked = sorted(m for m in sys.modules if m in ('zkdl.circuits.prover', 'zkdl.trainer', 'zkdl.prover_gpu', 'cupy'))
        assert not leaked, leaked
        print('verified', st.T, st.losses)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("verified 2 ")
    # a flipped byte in the proof body fails in the fresh process too
    data_b = bytearray(proof.to_bytes())
    data_b[-100] ^= 1
    (tmp_path / "w.proof").write_bytes(bytes(data_b))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode != 0


# ---------------------------------------------------------------------------- soundness
def _retrain(run, traces, j, W=None, X=None, Y=None, batch=None, cfg=None):
    """Recompute step j consistently from (possibly tampered) inputs, keeping its step number."""
    old = traces[j]
    new = train_step(cfg or run.cfg, old.W_before if W is None else W, old.X if X is None else X,
                     old.Y if Y is None else Y, old.step, old.batch if batch is None else batch)
    new.config = run.cfg
    traces[j] = new


class _Picks:
    """Where a corruption goes: drawn by hypothesis, or the first choice (fixed tests)."""

    def __init__(self, data=None):
        self.data = data

    def int(self, lo, hi, label=None):
        return lo if self.data is None else self.data.draw(st.integers(lo, hi), label=label)

    def one_of(self, seq, label=None):
        return seq[0] if self.data is None else self.data.draw(st.sampled_from(seq), label=label)


def _cheat(run, kind, pick):
    trs = [copy.deepcopy(t) for t in run.traces]
    T, L = len(trs), run.cfg.num_layers
    j = pick.int(0, T - 1, "step")
    if kind == "weight":
        i = pick.int(0, L - 1, "layer")
        W = [w.copy() for w in trs[j].W_before]
        a = pick.int(0, W[i].shape[0] - 1)
        b = pick.int(0, W[i].shape[1] - 1)
        W[i][a, b] += pick.one_of([1, -1, 1000])
        _retrain(run, trs, j, W=W)
    elif kind == "relu_sign":
        t = trs[j]
        i = pick.int(0, L - 2, "layer")
        a = pick.int(0, t.S[i].shape[0] - 1)
        b = pick.int(0, t.S[i].shape[1] - 1)
        t.S[i][a, b] ^= 1
        t.A[i + 1][a, b] = t.S[i][a, b] * t.Zp[i][a, b]
    elif kind == "learning_rate":
        wrong = FixedPointConfig(widths=run.cfg.widths, eta_int=run.cfg.eta_int + 1, k=run.cfg.k,
                                 batch_size=run.cfg.batch_size, seed=run.cfg.seed)
        _retrain(run, trs, j, cfg=wrong)
    elif kind == "step_skipped":
        # steps j and j+1 of the proof are really steps j+1 and j+2 of training (step j skipped)
        r2 = Run(run.cfg, T + 1, seed=0)
        trs = [copy.deepcopy(t) for t in r2.traces[:j]] + [copy.deepcopy(t) for t in r2.traces[j + 1:]]
        for s, t in enumerate(trs):
            t.step = s
    elif kind == "batch_swapped":
        other = batch_indices(run.cfg.seed, trs[j].step + 1, len(run.X), run.cfg.batch_size)
        _retrain(run, trs, j, X=run.X[other], Y=run.Y[other], batch=other)
    elif kind == "dataset_row":
        r = pick.int(0, run.cfg.batch_size - 1)
        X = trs[j].X.copy()
        X[r] = run.X[(trs[j].batch[r] + 1) % len(run.X)]
        if np.array_equal(X, trs[j].X):
            X[r, 0] += 1
        _retrain(run, trs, j, X=X)
    elif kind == "remainder_out_of_range":
        t = trs[j]
        i = pick.int(0, L - 1, "layer")
        a = pick.int(0, t.Zp[i].shape[0] - 1)
        b = pick.int(0, t.Zp[i].shape[1] - 1)
        # Z = 2^R Z' + E still holds, E leaves [-2^(R-1), 2^(R-1))
        t.Zp[i][a, b] -= 1
        t.E_fwd[i][a, b] += 1 << run.cfg.R
        if i < L - 1:
            t.A[i + 1][a, b] = t.S[i][a, b] * t.Zp[i][a, b]
    elif kind == "update_remainder":
        t = trs[j]
        i = pick.int(0, L - 1, "layer")
        t.dW[i][0, 0] += 1
        t.E_upd[i][0, 0] -= 1 << (run.cfg.R + run.cfg.k)
        t.W_after[i][0, 0] -= 1
        for t2 in trs[j + 1:]:
            t2.W_before[i][0, 0] -= 1
    elif kind == "loss":
        trs[j].loss_int += pick.one_of([1, -1, 1 << 20])
    return trs


KINDS = ["weight", "relu_sign", "learning_rate", "step_skipped", "batch_swapped", "dataset_row",
         "remainder_out_of_range", "update_remainder", "loss"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_cheating_prover_is_rejected(run, kind, data):
    trs = _cheat(run, kind, _Picks(data))
    try:
        proof, _, _ = run.prove(trs, unsafe=True)
    except ZkdlError:
        # the cheating prover could not even build its messages (e.g. a negative loss)
        return
    with pytest.raises((VerificationError, ProofFormatError)):
        tr.verify_window(proof.to_bytes(), run.data, run.model)


@pytest.mark.parametrize("kind", KINDS)
def test_each_cheat_is_rejected(run, kind):
    """Every corruption kind once, at a fixed place (the hypothesis test varies the place)."""

    trs = _cheat(run, kind, _Picks())
    try:
        proof, _, _ = run.prove(trs, unsafe=True)
    except ZkdlError:
        return
    with pytest.raises((VerificationError, ProofFormatError)):
        tr.verify_window(proof.to_bytes(), run.data, run.model)


def test_honest_prover_refuses_corrupt_traces(run):
    trs = [copy.deepcopy(t) for t in run.traces]
    trs[1].S[0][0, 0] ^= 1
    with pytest.raises(ZkdlError, match="step 1"):
        run.prove(trs)


def test_tampered_statement_is_rejected(run, honest):
    proof, _, _ = honest
    for field, value in (("t0", 1), ("losses", [proof.statement.losses[0] + 1] + proof.statement.losses[1:]),
                         ("n_examples", proof.statement.n_examples - 1)):
        st2 = copy.copy(proof.statement)
        setattr(st2, field, value)
        with pytest.raises((VerificationError, ProofFormatError)):
            tr.verify_window(tr.WindowProof(st2, proof.body).to_bytes(), run.data, run.model)
    st2 = copy.copy(proof.statement)
    st2.after = proof.statement.before
    with pytest.raises(VerificationError, match="after"):
        tr.verify_window(tr.WindowProof(st2, proof.body).to_bytes(), run.data, run.model)


def test_expected_statement_names_the_difference(run, honest):
    proof, _, _ = honest
    exp = copy.copy(proof.statement)
    exp.t0 = 7
    with pytest.raises(VerificationError, match="t0"):
        tr.verify_window(proof, run.data, run.model, expected=exp)
    assert tr.verify_window(proof, run.data, run.model, expected=proof.statement) is proof.statement


def test_wrong_dataset_is_rejected(run, honest):
    proof, _, _ = honest
    other, _ = pv.commit_dataset(CFG, run.X, run.Y)  # same data, fresh blinds: a different commitment
    with pytest.raises(VerificationError, match="dataset"):
        tr.verify_window(proof, other, run.model)


def test_malformed_proof_bytes(run, honest):
    proof, _, _ = honest
    data = proof.to_bytes()
    for bad in (data[:-1], data + b"\0", data[:40], b"", b"ZKDL" + data[4:6] + b"\x09\x09" + data[8:]):
        with pytest.raises((ProofFormatError, VerificationError)):
            tr.verify_window(bad, run.data, run.model)


def test_statement_round_trip(honest):
    proof, _, _ = honest
    st2 = tr.Statement.from_bytes(proof.statement.to_bytes())
    assert st2.differences(proof.statement) == []


def test_bad_traces_refused_before_proving(run):
    with pytest.raises(ShapeError, match="no traces"):
        run.prove([])
    trs = [copy.deepcopy(t) for t in run.traces]
    trs[1].step = 5
    with pytest.raises(ShapeError, match="consecutive"):
        run.prove(trs)
    other = Run(FixedPointConfig(widths=(3, 5, 2), eta_int=3, k=4, batch_size=2, seed=5), 1)
    with pytest.raises(ShapeError, match="configuration"):
        run.prove([run.traces[0], other.traces[0]])
    trs = [copy.deepcopy(t) for t in run.traces]
    trs[0].E_fwd[0] = trs[0].E_fwd[0][:, :2]
    with pytest.raises(ZkdlError):
        run.prove(trs)


# ---------------------------------------------------------------------------- completeness
@settings(max_examples=6, deadline=None)
@given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=4), B=st.integers(1, 4), T=st.integers(1, 3),
       seed=st.integers(0, 5))
def test_completeness_random_architectures(widths, B, T, seed):
    cfg = FixedPointConfig(widths=tuple(widths), eta_int=1, k=5, batch_size=B, seed=seed)
    r = Run(cfg, T, n=max(B, 5), seed=seed)
    proof, _, _ = r.prove()
    st_ = tr.verify_window(proof.to_bytes(), r.data, r.model)
    assert st_.T == T


def test_dataset_range_proof():
    """The dataset commitment carries a one-time range proof; an out-of-range value is caught,
    and a dataset without (or with another dataset's) proof is refused."""
    X, Y = _data(CFG, 6)
    data, sec = pv.commit_dataset(CFG, X, Y)
    tr.verify_dataset(CFG, tr.DatasetCommitment.from_bytes(data.to_bytes()))
    bad_X = X.copy()
    bad_X[2, 1] = (1 << (CFG.Q - 1)) + 3
    key = tr.model_key(CFG)
    rows = np.zeros((6, 4), dtype=np.int64)
    rows[:, :3] = bad_X
    bad = tr.DatasetCommitment(6, 3, 2, key.commit_rows(rows, sec.bX), data.Y)
    bad_sec = pv.DatasetSecret(bad_X, Y, sec.bX, sec.bY)
    bad.range_proof = pv.prove_dataset_range(CFG, bad, bad_sec, unsafe_skip_checks=True)
    with pytest.raises(VerificationError, match="dataset range proof"):
        tr.verify_dataset(CFG, bad)
    bad.range_proof = None
    with pytest.raises(VerificationError, match="no range proof"):
        tr.verify_dataset(CFG, bad)
    other, _ = pv.commit_dataset(CFG, X, Y)
    bad.range_proof = other.range_proof
    with pytest.raises(VerificationError):
        tr.verify_dataset(CFG, bad)


def test_split_lookups(run, monkeypatch):
    """Windows whose limbs exceed one lookup instance are range-checked by several."""
    tr.verify_dataset(CFG, run.data)  # made with the default split (checked once, cached)
    monkeypatch.setattr(tr, "LOOKUP_MAX_BITS", 7)
    proof, _, _ = run.prove()
    tr.verify_window(proof.to_bytes(), run.data, run.model)
    trs = _cheat(run, "remainder_out_of_range", _Picks())
    bad, _, _ = run.prove(trs, unsafe=True)
    with pytest.raises(VerificationError):
        tr.verify_window(bad.to_bytes(), run.data, run.model)


# ---------------------------------------------------------------------------- inference
def test_inference_public_and_committed_input():
    from zkdl.fixedpoint import forward

    cfg = tr.inference_config((6, 5, 3), 2)
    W = init_weights_from_float(init_mlp(cfg.widths, 2), cfg.R)
    X, _ = _data(FixedPointConfig(widths=(6, 5, 3), eta_int=1, k=0, batch_size=2), 2)
    model, msec = pv.commit_model(cfg, W)
    proof = pv.prove_inference(cfg, W, model, msec, X)
    st_ = tr.verify_inference(proof.to_bytes(), model)
    assert np.array_equal(st_.Yhat, forward(cfg, W, X)) and np.array_equal(st_.X, X)
    # a wrong output is rejected
    bad = tr.InferenceProof(tr.InferenceStatement(cfg, model, X, st_.Yhat + 1), proof.body)
    with pytest.raises(VerificationError):
        tr.verify_inference(bad.to_bytes(), model)
    # another model is refused by name
    other, _ = pv.commit_model(cfg, W)
    with pytest.raises(VerificationError, match="different model"):
        tr.verify_inference(proof, other)
    # committed (hidden) input
    cproof, blinds = pv.prove_inference(cfg, W, model, msec, X, commit_input=True)
    st2 = tr.verify_inference(cproof.to_bytes(), model)
    assert st2.X is None and len(st2.X_com) == 2 and np.array_equal(st2.Yhat, st_.Yhat)
    key = tr.training_key(tr.WindowLayout(cfg, 1).key_size())
    rows = np.zeros((2, 8), dtype=np.int64)
    rows[:, :6] = X
    assert key.commit_rows(rows, blinds) == st2.X_com
    # a committed input that differs from the one used is rejected
    swapped = tr.InferenceStatement(cfg, model, None, st2.Yhat, st2.X_com[np.array([1, 0])])
    with pytest.raises(VerificationError):
        tr.verify_inference(tr.InferenceProof(swapped, cproof.body).to_bytes(), model)


def test_oversized_statement_refused_before_work(run, honest):
    """Shapes come from untrusted bytes: absurd ones are refused by name, not allocated."""
    proof, _, _ = honest
    st2 = copy.copy(proof.statement)
    st2.config = FixedPointConfig(widths=(1 << 19, 1 << 19, 2), eta_int=3, k=4, batch_size=2, seed=5)
    with pytest.raises((VerificationError, ProofFormatError)):
        tr.verify_window(tr.WindowProof(st2, proof.body).to_bytes(), run.data, run.model)
    # a statement object that bypasses parsing meets the size check itself
    with pytest.raises(VerificationError, match="exceed"):
        tr.verify_window(tr.WindowProof(st2, proof.body), _FakeDataset(st2), run.model)


class _FakeDataset(tr.DatasetCommitment):
    """A dataset commitment whose checks pass for any statement (to reach the size check)."""

    def __init__(self, st):
        self.n, self.d_in, self.d_out = st.n_examples, st.config.widths[0], st.config.widths[-1]
        self._digest = st.dataset_digest

    def digest(self):
        return self._digest
