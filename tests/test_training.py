"""FAC4DNN training-window proofs (semantics v2: master weights, docs/semantics.md): completeness,
chaining, soundness against cheating provers, bad input.  Small shapes keep each proof to a
second or two.

The cheating provers build traces that are consistent everywhere except at the cheat (every
step after a tampered one is recomputed honestly from its weights, `_continue`), prove them with
``unsafe_skip_checks`` and check that the verifier names the part of the proof that fails."""
from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
import textwrap
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from zkdl import fixedpoint as fp
from zkdl.circuits import channel as chmod, prover as pv, rangecheck, training as tr, window
from zkdl.codec import ProofFormatError
from zkdl.errors import ShapeError, VerificationError, ZkdlError
from zkdl.field import FrVec
from zkdl.fixedpoint import FixedPointConfig, batch_indices, round_master, train_step
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

    def verify(self, proof):
        return tr.verify_window(proof.to_bytes(), self.data, self.model)


@pytest.fixture(scope="module")
def run():
    return Run(CFG, 2)


@pytest.fixture(scope="module")
def honest(run):
    return run.prove()


@contextmanager
def _checks_seen():
    """Record the label of every part (ch.check) the verifier runs."""
    seen = []
    orig = chmod.Channel.check

    @contextmanager
    def check(self, label):
        if not self.prover:
            seen.append(label)
        with orig(self, label):
            yield

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(chmod.Channel, "check", check)
        yield seen


def test_honest_window_verifies(run, honest):
    proof, after, _ = honest
    data = proof.to_bytes()
    st_ = tr.verify_window(data, run.data, run.model)
    assert st_.T == 2 and st_.t0 == 0
    assert st_.losses == [t.loss_int for t in run.traces]
    # the window starts from the model's master weights 2^(R+k) W and ends at master weights
    assert isinstance(st_.before, tr.MasterCommitment) and st_.before == tr.master_of(CFG, run.model)
    assert isinstance(after, tr.MasterCommitment) and st_.after == after
    want, _ = pv.commit_model(CFG, run.trainer.weights)
    assert [c.num_vars for c in after.W] == [c.num_vars for c in want.W]
    # master weights are not a chain start (no range proof); a Statement or a model is
    with pytest.raises(VerificationError, match="not from master weights"):
        tr.verify_window(data, run.data, st_.before)


def test_after_commitment_opens_to_trained_master_weights(run, honest):
    _, _, sec = honest
    lay = tr.WindowLayout(CFG, 1)
    M = run.trainer.master
    assert all(np.array_equal(m, w) for m, w in zip(M, run.traces[-1].W_after))
    for i, m in enumerate(M):
        assert sec.W[i].values == FrVec.from_int64(lay.weight(i).pad(m[:-1]))
        assert sec.b[i].values == FrVec.from_int64(lay.bias(i).pad(m[-1]))
    # the published model is the rounded master weights, not the master weights themselves
    assert all(np.array_equal(w, q) for w, q in zip(run.trainer.weights, round_master(CFG, M)[0]))


def test_chain_of_windows_of_1_3_and_4_steps():
    """Three windows (T = 1, 3, 4: a single step, odd and even lengths) chain, each verified from
    the previous Statement; the window of one step runs no history sumcheck (its only weights are
    M_0) but still proves its update by the window-end relation."""
    r = Run(CFG, 8, seed=3)
    p1, a1, s1 = pv.prove_window(r.traces[:1], r.model, r.model_sec, r.data, r.data_sec, reveal_losses=False)
    p2, a2, s2 = pv.prove_window(r.traces[1:4], a1, s1, r.data, r.data_sec)
    p3, a3, s3 = pv.prove_window(r.traces[4:], a2, s2, r.data, r.data_sec)
    with _checks_seen() as seen1:
        st1 = tr.verify_window(p1.to_bytes(), r.data, r.model)
    with _checks_seen() as seen2:
        st2 = tr.verify_window(p2.to_bytes(), r.data, st1)
    st3 = tr.verify_window(p3.to_bytes(), r.data, st2)
    assert (st1.t0, st1.T, st2.t0, st2.T, st3.t0, st3.T) == (0, 1, 1, 3, 4, 4)
    assert st1.losses is None and st3.losses == [t.loss_int for t in r.traces[4:]]
    assert st1.after == st2.before and st2.after == st3.before
    assert not any("history" in s for s in seen1), seen1
    assert any("update" in s for s in seen1)
    assert sum("history" in s for s in seen2) >= 2 * CFG.num_layers, seen2
    # the last after opens to the trainer's master weights
    lay = tr.WindowLayout(CFG, 1)
    for i, m in enumerate(r.trainer.master):
        assert s3.W[i].values == FrVec.from_int64(lay.weight(i).pad(m[:-1]))
    # windows out of order, or verified from the wrong start, are refused
    with pytest.raises(VerificationError, match="chain: the window starts at step 4"):
        tr.verify_window(p3.to_bytes(), r.data, st1)
    with pytest.raises(VerificationError, match="chain start"):
        tr.verify_window(p2.to_bytes(), r.data, r.model)
    # a window that does not start from the previous window's weights is refused by the prover
    with pytest.raises(ShapeError, match="not the committed ones"):
        pv.prove_window(r.traces[1:4], r.model, r.model_sec, r.data, r.data_sec)
    with pytest.raises(ShapeError, match="not the committed ones"):
        pv.prove_window(r.traces[4:], a1, s1, r.data, r.data_sec)


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
        assert st.before == tr.master_of(st.config, model)
        leaked = sorted(m for m in sys.modules if m in ('zkdl.circuits.prover', 'zkdl.trainer', 'zkdl.prover_gpu',
                                                        'cupy'))
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
def _continue(run, trs, j):
    """Recompute every step after j honestly from the weights step j ends with (its W_after), so
    that the traces are consistent everywhere but at the cheat."""
    for s in range(j + 1, len(trs)):
        old = trs[s]
        trs[s] = train_step(run.cfg, trs[s - 1].W_after, old.X, old.Y, old.step, old.batch)


def _retrain(run, trs, j, M=None, X=None, Y=None, batch=None, cfg=None):
    """Recompute step j consistently from (possibly tampered) inputs -- M the master weights it
    uses, cfg the semantics it follows -- keeping its step number and the statement's
    configuration; then the steps after it (_continue)."""
    old = trs[j]
    new = train_step(cfg or run.cfg, old.W_before if M is None else M, old.X if X is None else X,
                     old.Y if Y is None else Y, old.step, old.batch if batch is None else batch)
    new.config = run.cfg
    trs[j] = new
    _continue(run, trs, j)


def _shifted_rescale(run, trs, j, call, a, b):
    """Step j with one rescale -- the call-th of train_step: forward layers 1..L, then backward
    layers L..2 -- returning (q - 1, e + 2^(2R+k)) at (a, b): 2^(2R+k) Z' + E = Z still holds and
    E leaves [-2^(2R+k-1), 2^(2R+k-1)); everything after it is computed from the shifted value."""
    orig = fp._matmul_rescale
    n = [0]

    def patched(x, y, s):
        q, e = orig(x, y, s)
        if n[0] == call:
            assert s == run.cfg.master_shift
            q, e = q.copy(), e.copy()
            q[a, b] -= 1
            e[a, b] += 1 << s
        n[0] += 1
        return q, e

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fp, "_matmul_rescale", patched)
        old = trs[j]
        trs[j] = train_step(run.cfg, old.W_before, old.X, old.Y, old.step, old.batch)
    _continue(run, trs, j)


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
    T, L, cfg = len(trs), run.cfg.num_layers, run.cfg
    if kind in ("stale_weights", "step_skipped"):
        j = pick.int(1, T - 1, "step")
    elif kind == "future_weights":
        j = pick.int(0, T - 2, "step")
    else:
        j = pick.int(0, T - 1, "step")
    if kind == "weight":
        # step j uses master weights off by some amount in one entry (the rest consistent)
        i = pick.int(0, L - 1, "layer")
        M = [w.copy() for w in trs[j].W_before]
        a = pick.int(0, M[i].shape[0] - 1)
        b = pick.int(0, M[i].shape[1] - 1)
        M[i][a, b] += pick.one_of([1, -1, 1000, 1 << cfg.master_bits])
        _retrain(run, trs, j, M=M)
    elif kind == "stale_weights":
        # step j computed with the weights of step j - 1
        _retrain(run, trs, j, M=[w.copy() for w in trs[j - 1].W_before])
    elif kind == "future_weights":
        # step j computed with the weights of step j + 1
        _retrain(run, trs, j, M=[w.copy() for w in trs[j].W_after])
    elif kind == "relu_sign":
        t = trs[j]
        i = pick.int(0, L - 2, "layer")
        a = pick.int(0, t.S[i].shape[0] - 1)
        b = pick.int(0, t.S[i].shape[1] - 1)
        t.S[i][a, b] ^= 1
        t.A[i + 1][a, b] = t.S[i][a, b] * t.Zp[i][a, b]
    elif kind == "learning_rate":
        # step j's update made with eta_int + 1
        _retrain(run, trs, j, cfg=dataclasses.replace(cfg, eta_int=cfg.eta_int + 1))
    elif kind == "eta_off_by_one":
        # the whole window trained with eta_int + 1, under a statement that says eta_int
        wrong = dataclasses.replace(cfg, eta_int=cfg.eta_int + pick.one_of([1, -1]))
        M = trs[0].W_before
        for s, old in enumerate(trs):
            trs[s] = train_step(wrong, M, old.X, old.Y, old.step, old.batch)
            trs[s].config = cfg
            M = trs[s].W_after
    elif kind == "update_omitted":
        # step j's update is not applied: step j + 1 starts from step j's weights
        trs[j].W_after = [w.copy() for w in trs[j].W_before]
        _continue(run, trs, j)
    elif kind == "step_skipped":
        # steps j.. of the proof are really steps j+1.. of training (step j skipped), relabeled
        full = Trainer(cfg, run.W0, run.X, run.Y).run(T + 1)
        trs = full[:j] + full[j + 1:]
        for s, t in enumerate(trs):
            t.step = s
    elif kind == "batch_swapped":
        other = batch_indices(cfg.seed, trs[j].step + 1, len(run.X), cfg.batch_size)
        _retrain(run, trs, j, X=run.X[other], Y=run.Y[other], batch=other)
    elif kind == "dataset_row":
        r = pick.int(0, cfg.batch_size - 1)
        X = trs[j].X.copy()
        X[r] = run.X[(trs[j].batch[r] + 1) % len(run.X)]
        if np.array_equal(X, trs[j].X):
            X[r, 0] += 1
        _retrain(run, trs, j, X=X)
    elif kind == "remainder_out_of_range":
        i = pick.int(0, L - 1, "layer")
        _shifted_rescale(run, trs, j, i, pick.int(0, cfg.batch_size - 1), pick.int(0, cfg.widths[i + 1] - 1))
    elif kind == "backward_remainder_out_of_range":
        i = pick.int(1, L - 1, "layer")            # backward of layer i + 1 (G_A of layer i)
        _shifted_rescale(run, trs, j, L + (L - 1 - i), pick.int(0, cfg.batch_size - 1),
                         pick.int(0, cfg.widths[i] - 1))
    elif kind == "end_weight":
        # M after the window differs from M_0 - eta_int sum_s A_s^T G_Z_s in one entry
        i = pick.int(0, L - 1, "layer")
        trs[-1].W_after[i][pick.int(0, cfg.widths[i] - 1), pick.int(0, cfg.widths[i + 1] - 1)] += \
            pick.one_of([1, -1, 1 << 40])
    elif kind == "end_bias":
        i = pick.int(0, L - 1, "layer")
        trs[-1].W_after[i][-1, pick.int(0, cfg.widths[i + 1] - 1)] += pick.one_of([1, -1, 1 << 40])
    elif kind == "loss":
        trs[j].loss_int += pick.one_of([1, -1, 1 << 20])
    else:
        raise AssertionError(kind)
    return trs


#: every kind of cheat, and the part of the proof that rejects it at the fixed place (_Picks():
#: first step, first layer, first entry, first value).  Every relation covers all layers at once
#: (the layers are stacked), so the part named is the relation, whatever the layer.  A step
#: computed with other weights than M_t makes its product claim false; the history value, which
#: the prover computes from the committed A and G_Z, is then true, so the false claim lands on the
#: start-weight sumcheck (tests/test_history.py has a prover that lies about the history instead)
KINDS = {
    "weight": r"^forward .*, start weights",                      # step 0 uses M_0 + 1 at W_1[0, 0]
    "stale_weights": r"^forward .*, start weights",               # step 1 uses M_0
    "future_weights": r"^forward .*, start weights",              # step 0 uses M_1
    "relu_sign": r"^range checks",                       # P = S (Z' - 1) + (1 - S)(-Z') < 0
    "learning_rate": r"^forward .*, start weights",               # step 1 uses M_0 - (eta + 1) ...
    "eta_off_by_one": r"^forward .*, start weights",
    "update_omitted": r"^forward .*, start weights",              # step 1 uses M_0
    "step_skipped": r"^forward .*, start weights",                # step 1 is really step 2
    # only the data rows differ: the data stack is derived from the dataset commitment by the
    # public schedule; the claim on the stacked layer inputs splits into X's part (the prover
    # evaluates the committed data stack) and the hidden activations' part, which is then false
    "batch_swapped": r"^ReLU \(A = S \* \(P \+ 1\)",
    "dataset_row": r"^ReLU \(A = S \* \(P \+ 1\)",
    "remainder_out_of_range": r"^range checks",
    "backward_remainder_out_of_range": r"^range checks",
    "end_weight": r"^update \(M after = M before - eta_int A\^T G_Z\), window end",
    "end_bias": r"^ReLU .* and G_Z = S \* G_A",   # the bias part reduces to a claim on G_Z
    "loss": r"^revealed losses",
}


def _assert_rejected(run, trs, match=None):
    try:
        proof, _, _ = run.prove(trs, unsafe=True)
    except ZkdlError:
        # the cheating prover could not even build its messages (e.g. a negative loss)
        assert match is None
        return
    with pytest.raises((VerificationError, ProofFormatError), match=match):
        run.verify(proof)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(KINDS)), data=st.data())
def test_cheating_prover_is_rejected(run, kind, data):
    _assert_rejected(run, _cheat(run, kind, _Picks(data)))


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_cheat_is_rejected(run, kind):
    """Every corruption kind once, at a fixed place (the hypothesis test varies the place), and
    the part of the proof that rejects it."""
    _assert_rejected(run, _cheat(run, kind, _Picks()), KINDS[kind])


def _relabel(traces, cfg):
    for t in traces:
        t.config = cfg
    return traces


@pytest.mark.parametrize("delta", [1, -1])
def test_eta_off_by_one_in_a_window_of_one_step(run, delta):
    """A window of one step uses only M_0 (no history term): an update made with eta_int +- 1
    is caught by the window-end relation of the last layer (processed first)."""
    wrong = dataclasses.replace(CFG, eta_int=CFG.eta_int + delta)
    trs = _relabel([train_step(wrong, run.traces[0].W_before, run.traces[0].X, run.traces[0].Y, 0,
                               run.traces[0].batch)], CFG)
    _assert_rejected(run, trs, r"^update \(M after = M before - eta_int A\^T G_Z\), window end")


def test_omitted_last_update_is_rejected_by_the_window_end(run):
    trs = [copy.deepcopy(t) for t in run.traces]
    trs[-1].W_after = [w.copy() for w in trs[-1].W_before]        # M_T = M_(T-1)
    _assert_rejected(run, trs, r"^update .*, window end")


@pytest.mark.parametrize("layer,row,match", [
    (1, 0, r"^update .*, window end"),
    # the last layer's bias: a claim on the stacked G_Z; the prover sends the last layer's part
    # (Yhat - Y) honestly, so the rest, claimed of S * G_A, is false
    (1, -1, r"^ReLU .* and G_Z = S \* G_A"),
])
def test_end_weights_off_in_one_entry(run, layer, row, match):
    """M_T differs from M_0 - eta_int sum_s [A_s | 2^R]^T G_Z_s in one entry (the weight part is
    checked by the window-end product; the bias part reduces to a claim on G_Z, checked where G_Z
    is derived).  Layer 1 is in KINDS (end_weight, end_bias)."""
    trs = [copy.deepcopy(t) for t in run.traces]
    trs[-1].W_after[layer][row, 1] += 1
    _assert_rejected(run, trs, match)


def _non_binary_sign(monkeypatch, Zp):
    """Patch the semantics' forward pass and the prover's P so that at the first hidden entry of
    Zp (layer 1) with Z' = 2 (mod 3), Z' != 0, the sign is S = 2 (or -1) with P and A chosen so that
    the circuit's zkReLU relations hold there -- Z' = 2A - S - P and A = S (P + 1), P in range --
    and everything after it is computed from that A (the next layer, G_Z = S * G_A in the backward
    pass, the update).  Installs the P patch; returns (a, b, s, a_val, forward), forward the
    patched fixedpoint._forward for the caller to install around the cheating step."""
    hits = [tuple(h) for h in np.argwhere((Zp % 3 == 2) & (Zp != 0))]
    assert hits, "no hidden entry with Z' = 2 (mod 3)"
    a, b = hits[0]
    z = int(Zp[a, b])
    s = 2 if z > 0 else -1                 # Z' = (2s - 1) P + s: P = (z - s) / (2s - 1) >= 0
    p = (z - s) // (2 * s - 1)
    assert (2 * s - 1) * p + s == z and 0 <= p < 1 << (CFG.Q - 1)
    a_val = s * (p + 1)
    assert 2 * a_val - s - p == z

    def forward(config, W, X, where, shift=None):        # fixedpoint._forward with the cheat
        L = config.num_layers
        Zs, E, S, A = [], [], [], [X]
        for i in range(L):
            q, e = fp._matmul_rescale(fp._with_one(A[i], config.one), W[i], shift or config.R)
            Zs.append(q)
            E.append(e)
            if i < L - 1:
                sg, act = (q > 0).astype(np.int64), np.maximum(q, 0)
                if i == 0:
                    sg[a, b], act[a, b] = s, a_val
                S.append(sg)
                A.append(act)
        return Zs, E, S, A

    orig = pv._relu_remainder

    def remainder(S, Zs):                                # P from the cheat (the only S of value s)
        out = orig(S, Zs)
        out[S == s] = p
        return out

    monkeypatch.setattr(pv, "_relu_remainder", remainder)
    return a, b, s, a_val, forward


_NON_BINARY = r"^ReLU \(A = S \* \(P \+ 1\), S binary\)"


@pytest.mark.parametrize("path", ["window", "resumed one-step window", "inference"])
def test_non_binary_relu_sign_is_caught_by_the_zero_check(run, monkeypatch, path):
    """A sign S = 2 (or -1) at one hidden entry with P and A chosen so that every relation of the
    proof holds but S (S - 1) = 0 (_non_binary_sign): only the zero-check of the zkReLU sumcheck
    can reject it, and does -- in a training window from t0 = 0, in a one-step window resumed at
    t0 = 3 from the committed model, and in an inference proof.  (With the zero-check's gamma set
    to 0 in the circuit the same proofs verify.)"""
    if path == "inference":
        X = run.X[:4]
        Zp, _, _, _ = fp._forward(CFG, run.W0, X, "test")
        with monkeypatch.context() as mp:
            a, b, s, a_val, forward = _non_binary_sign(mp, Zp[0])
            mp.setattr(fp, "_forward", forward)
            proof = pv.prove_inference(CFG, run.W0, run.model, run.model_sec, X, unsafe_skip_checks=True)
        with pytest.raises(VerificationError, match=_NON_BINARY + ": "):
            tr.verify_inference(proof.to_bytes(), run.model)
        return
    if path == "window":
        old = run.traces
        j = next(k for k, t in enumerate(old) if ((t.Zp[0] % 3 == 2) & (t.Zp[0] != 0)).any())
    else:
        old = Trainer(CFG, run.W0, run.X, run.Y, start_step=3).run(1)
        j = 0
    trs = [copy.deepcopy(t) for t in old]
    with monkeypatch.context() as mp:
        a, b, s, a_val, forward = _non_binary_sign(mp, trs[j].Zp[0])
        t = trs[j]
        with monkeypatch.context() as mf:
            mf.setattr(fp, "_forward", forward)
            trs[j] = train_step(run.cfg, t.W_before, t.X, t.Y, t.step, t.batch)
        assert trs[j].S[0][a, b] == s and trs[j].A[1][a, b] == a_val and trs[j].Zp[0][a, b] == t.Zp[0][a, b]
        _continue(run, trs, j)
        proof, _, _ = run.prove(trs, unsafe=True)
    with pytest.raises(VerificationError, match=_NON_BINARY + r" and G_Z = S \* G_A"):
        run.verify(proof)


def test_remainder_out_of_range_is_caught_by_the_range_check_alone(run, monkeypatch):
    """E = Z - 2^(2R+k) Z' outside [-2^(2R+k-1), 2^(2R+k-1)) with Z' shifted to compensate (and
    every later value computed from the shifted Z'): with the range check removed from both
    sides, the proof verifies -- every relation holds -- so the rejection above is the range
    check's."""
    s = CFG.master_shift
    monkeypatch.setattr(window, "_lookup", lambda *a, **k: None)
    for kind in ("remainder_out_of_range", "backward_remainder_out_of_range"):
        trs = _cheat(run, kind, _Picks())
        bad = [e for t in trs for e in t.E_fwd + t.E_bwd if e.max() >= 1 << (s - 1)]
        assert len(bad) == 1 and bad[0].max() < 3 << (s - 1)
        proof, _, _ = run.prove(trs, unsafe=True)
        run.verify(proof)


@pytest.mark.parametrize("tagged", [False, True])
def test_top_limbs_tagged_or_looked_up_twice(run, monkeypatch, tagged):
    """The range check's two ways with top limbs of fewer than b bits (this window's 36-bit
    remainders and 31-bit P have 4- and 7-bit top limbs at b = 8): looked up twice in a plain
    table, or once in a tagged one (circuits/layout.lookup_tagged decides from the shapes; here
    forced both ways on both sides).  The honest proof verifies; remainders out of range are
    rejected by the range check either way."""
    monkeypatch.setattr(window, "lookup_tagged", lambda lay, infer=False: tagged)
    proof, _, _ = run.prove()
    run.verify(proof)
    for kind in ("remainder_out_of_range", "backward_remainder_out_of_range"):
        _assert_rejected(run, _cheat(run, kind, _Picks()), KINDS[kind])


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
    # other end weights (the statement, absorbed first, binds them: every later check moves)
    st2 = copy.copy(proof.statement)
    st2.after = tr.MasterCommitment(proof.statement.before.W, proof.statement.before.b)
    with pytest.raises(VerificationError):
        tr.verify_window(tr.WindowProof(st2, proof.body).to_bytes(), run.data, run.model)
    # other start weights: refused by the chain-start rule before any work
    other, _ = pv.commit_model(CFG, run.W0)
    st2 = copy.copy(proof.statement)
    st2.before = tr.master_of(CFG, other)
    with pytest.raises(VerificationError, match="chain start: the window does not start from the given model"):
        tr.verify_window(tr.WindowProof(st2, proof.body).to_bytes(), run.data, run.model)
    with pytest.raises(VerificationError):
        tr.verify_window(tr.WindowProof(st2, proof.body).to_bytes(), run.data, other)


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
@settings(max_examples=3, deadline=None)
@given(widths=st.lists(st.integers(1, 5), min_size=2, max_size=4), B=st.integers(1, 3), T=st.integers(1, 3),
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
    monkeypatch.setattr(rangecheck, "LOOKUP_MAX_BITS", 8)
    assert tr.LOOKUP_MAX_BITS == 8          # training forwards the name to rangecheck
    instances = []
    orig = rangecheck._lookup_one
    monkeypatch.setattr(rangecheck, "_lookup_one", lambda ch, *a: (instances.append(ch.prover), orig(ch, *a))[1])
    proof, _, _ = run.prove()
    tr.verify_window(proof.to_bytes(), run.data, run.model)
    assert instances.count(True) == instances.count(False) > 1
    trs = _cheat(run, "remainder_out_of_range", _Picks())
    bad, _, _ = run.prove(trs, unsafe=True)
    with pytest.raises(VerificationError, match="^range checks"):
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


def test_statement_whose_integers_could_wrap_is_refused(run, honest):
    """The integer reading of v2 bounds |M_t| by the chain start's range plus t updates
    (docs/protocol.md §11): a statement for which (d + 1) 2^Q |M_t| could reach 2^250 is refused
    before any work -- here Q = 63 with the largest learning rate the format allows, late in a long
    run --, and a reasonable one passes the same check."""
    proof, _, _ = honest
    st2 = copy.copy(proof.statement)
    st2.config = FixedPointConfig(widths=(1 << 10, 1 << 10, 2), eta_int=1 << 31, k=0, batch_size=run.cfg.batch_size,
                                  seed=5, R=16, Q=63)
    st2.t0 = (1 << 32) - 1
    with pytest.raises(VerificationError, match="field's integer range"):
        st2.check_field_bound()
    with pytest.raises(VerificationError, match="field's integer range"):
        tr.verify_window(tr.WindowProof(st2, proof.body), _FakeDataset(st2), run.model)
    # the bound grows with the step count: the same run is accepted early and refused late
    st3 = copy.copy(proof.statement)
    st3.config = FixedPointConfig(widths=(8, 8, 2), eta_int=1 << 20, k=10, batch_size=1 << 20, seed=5, R=16, Q=60)
    st3.t0 = 0
    st3.check_field_bound()
    st3.t0 = (1 << 32) - 1
    with pytest.raises(VerificationError, match="field's integer range"):
        st3.check_field_bound()
    proof.statement.check_field_bound()                 # the honest run's own statement


# ---------------------------------------------------------------------------- the layer stack
CFG4 = FixedPointConfig(widths=(3, 4, 4, 4, 2), eta_int=3, k=4, batch_size=2, seed=5)


@pytest.fixture(scope="module")
def run4():
    return Run(CFG4, 2)


def test_four_layer_window_verifies(run4):
    """Four layers in one instance per relation (two layer slots' worth of padding: 4 of 4 used,
    widths 3 / 4 / 4 / 4 / 2 zero-padded to common widths)."""
    proof, after, _ = run4.prove()
    assert run4.verify(proof).T == 2
    # the proof size depends on the number of layers only through their weights' claims and
    # the commitments, not through per-layer instances
    assert len(proof.to_bytes()) < 90_000


@pytest.mark.parametrize("j", [0, 1])
def test_weights_of_another_layer_rejected(run4, j):
    """Step j computed with the weights of layers 2 and 3 swapped (both 4 x 4, so every shape
    fits): the stacked forward relation binds each layer slot to its own layer's commitment."""
    trs = [copy.deepcopy(t) for t in run4.traces]
    M = [w.copy() for w in trs[j].W_before]
    assert M[1].shape == M[2].shape and not np.array_equal(M[1], M[2])
    M[1], M[2] = M[2], M[1]
    _retrain(run4, trs, j, M=M)
    _assert_rejected(run4, trs, r"^forward .*, start weights")


def test_layers_outputs_shifted_rejected(run4):
    """The hidden activations of layers 2 and 3 swapped in one step's trace (the layer-input
    shift of the stack, In(l) = A(l - 1), read at the wrong layer): some relation rejects it."""
    trs = [copy.deepcopy(t) for t in run4.traces]
    t = trs[0]
    for name in ("S", "Zp", "E_fwd"):
        arr = getattr(t, name)
        arr[1], arr[2] = arr[2].copy(), arr[1].copy()
    t.A[2], t.A[3] = t.A[3].copy(), t.A[2].copy()
    _assert_rejected(run4, trs)


def _send_a_claim_with_order3_component(monkeypatch):
    """Make the prover channel send its A-claim commitment plus a point of order 3 (absorbed and
    used from there on, so every later message is consistent with it)."""
    from zkdl.curve import PointVec

    order3 = PointVec.from_bytes(bytes([0x80]) + bytes(47), subgroup_check=False)[0]
    assert not order3.is_identity() and (order3 + order3 + order3).is_identity()
    orig = pv.ProverChannel.send_scalar_com

    def send(self, label, value):
        if label != b"A-claim":
            return orig(self, label, value)
        v, rho = int(value()) % tr.P, 12345
        bad = self.key.commit_scalar(v, rho) + order3
        self.w.point(bad)
        self.t.append_point(label, bad)
        return chmod.Claimed(bad, v, rho)

    monkeypatch.setattr(pv.ProverChannel, "send_scalar_com", send)


def test_point_outside_the_subgroup_is_refused(run, monkeypatch):
    """The verifier decodes a proof's points at once but checks their membership in the
    prime-order subgroup for all of them together, before accepting: a prover whose A-claim
    commitment carries a component of order 3 (every later message consistent with it) is refused
    as a malformed proof, naming the subgroup."""
    _send_a_claim_with_order3_component(monkeypatch)
    proof, _, _ = run.prove()
    with pytest.raises(ProofFormatError, match="not in the prime-order subgroup"):
        run.verify(proof)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(widths=st.lists(st.integers(1, 9), min_size=2, max_size=5), T=st.integers(1, 3),
       batch=st.integers(1, 3))
def test_layer_stack_complete_for_any_widths(widths, T, batch):
    """Completeness of the layer stack for any widths (input, hidden and output widths of
    different powers of two: the zero-extensions between the 2^ni and 2^no column axes and the
    hidden stacks' own layer slots), steps and batch sizes."""
    cfg = dataclasses.replace(CFG, widths=tuple(widths), batch_size=batch)
    r = Run(cfg, T)
    proof, _, _ = r.prove()
    assert r.verify(proof).T == T


def test_inference_point_outside_the_subgroup_is_refused(monkeypatch):
    """The same deferred subgroup check on the inference path: an inference proof whose A-claim
    commitment carries a component of order 3 is refused as malformed."""
    cfg = tr.inference_config((5, 4, 3), 2)
    W = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    X = np.random.default_rng(1).integers(0, 1 << cfg.R, size=(2, 5), dtype=np.int64)
    model, msec = pv.commit_model(cfg, W)
    tr.verify_inference(pv.prove_inference(cfg, W, model, msec, X).to_bytes(), model)
    _send_a_claim_with_order3_component(monkeypatch)
    proof = pv.prove_inference(cfg, W, model, msec, X)
    with pytest.raises(ProofFormatError, match="not in the prime-order subgroup"):
        tr.verify_inference(proof.to_bytes(), model)


def _lie_in_one_limb_claim(monkeypatch, nth):
    """Make the prover add 1 to the limb claim number state["nth"] it sends (a claim on limb
    j >= 1 of a range tensor at a relation's point): the derived limb-0 claim absorbs it, so every
    relation still holds and only the openings can tell (both limb claims are false)."""
    orig = pv.ProverChannel.send_scalar_com
    state = {"sent": 0, "nth": nth}

    def send(self, label, value):
        if label == b"limb-claim":
            state["sent"] += 1
            if state["sent"] == state["nth"] + 1:
                return orig(self, label, lambda: int(value()) + 1)
        return orig(self, label, value)

    monkeypatch.setattr(pv.ProverChannel, "send_scalar_com", send)
    return state


@pytest.mark.parametrize("nth", [0, 3])
def test_false_limb_claim_is_caught_by_the_openings(run, monkeypatch, nth):
    """The openings reduce the claims per claimed point (format 5): a limb claim off by one,
    its limb 0 derived consistently, passes every relation and is rejected by the openings
    (whose pairs join several tensors claimed at the same point); on the window path and on the
    inference path."""
    state = _lie_in_one_limb_claim(monkeypatch, nth)
    proof, _, _ = run.prove()
    assert state["sent"] > nth
    with pytest.raises(VerificationError, match=r"^openings"):
        run.verify(proof)
    cfg = tr.inference_config((5, 4, 3), 2)
    W = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    X = np.random.default_rng(1).integers(0, 1 << cfg.R, size=(2, 5), dtype=np.int64)
    model, msec = pv.commit_model(cfg, W)
    state.update(sent=0, nth=0)
    proof = pv.prove_inference(cfg, W, model, msec, X)
    assert state["sent"] > 0
    with pytest.raises(VerificationError, match=r"^openings"):
        tr.verify_inference(proof.to_bytes(), model)


def test_inference_opening_of_another_vector_is_caught_by_the_linear_proof(monkeypatch):
    """Inference proofs (format 8) open groups of at most LINEAR_OPEN_MAX_COLS columns with the
    linear dot-product proof.  Cheating prover: in one opening it proves the inner product for a
    vector other than the committed one with the same inner product (x + t (a_1 e_0 - a_0 e_1)),
    so the value check passes and only the binding to C_vec can tell: rejected there.  Honest
    inference proofs use the linear proof for every opening of this model and no logarithmic one."""
    from zkdl import sigma

    cfg = tr.inference_config((5, 4, 3), 2)
    W = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    X = np.random.default_rng(1).integers(0, 1 << cfg.R, size=(2, 5), dtype=np.int64)
    model, msec = pv.commit_model(cfg, W)
    used = {"linear": 0, "log": 0}
    lin, log = sigma.prove_linear_dot_product, sigma.prove_dot_product
    monkeypatch.setattr(sigma, "prove_dot_product", lambda *a: used.__setitem__("log", used["log"] + 1) or log(*a))
    state = {"n": 0, "cheat": None}

    def prove_linear(key, t, C_vec, C_y, a, x, rho, rho_y):
        used["linear"] += 1
        state["n"] += 1
        if state["n"] == state["cheat"] and len(a) >= 2:
            e = [0] * len(a)
            e[0], e[1] = a[1], -a[0]
            x = x + FrVec.from_ints(e) * 7
            assert x.dot(a) == (x - FrVec.from_ints(e) * 7).dot(a)
        return lin(key, t, C_vec, C_y, a, x, rho, rho_y)

    monkeypatch.setattr(sigma, "prove_linear_dot_product", prove_linear)
    tr.verify_inference(pv.prove_inference(cfg, W, model, msec, X).to_bytes(), model)
    assert used["linear"] > 1 and used["log"] == 0
    for cheat in (1, used["linear"]):
        state.update(n=0, cheat=cheat)
        proof = pv.prove_inference(cfg, W, model, msec, X)
        with pytest.raises(VerificationError, match=r"^openings: linear dot-product: c\*C_vec \+ delta"):
            tr.verify_inference(proof.to_bytes(), model)


#: the values a prover sends per class of layers of one shape (circuits/history.py): CFG4's layers
#: (3, 4), (4, 4), (4, 4), (4, 2) form the classes [0], [1, 2], [3] (the last derived), its biases
#: [0, 1, 2], [3]; "layer-weight-claims" and "bias-starts" are the classes of several layers
_CLASS_CHEATS = [(path, label) for path in ("first window", "later t0", "one-step window", "inference")
                 for label in (b"layer-weight-claims", b"bias-starts", b"end-difference", b"bias-end-difference")
                 if path != "inference" or label in (b"layer-weight-claims", b"bias-starts")]


#: where each lie is caught: a sent class value of the weights (the last class is derived from the
#: claim) leaves the relations true and two claims false, for the openings; a bias class value and
#: a window-end difference enter their relation's claim, whose sumcheck rejects
_CLASS_REJECTS = {b"layer-weight-claims": r"^openings", b"bias-starts": r", start weights",
                  b"end-difference": r"window end", b"bias-end-difference": r"^(ReLU|openings)"}


@pytest.mark.parametrize("path,label", _CLASS_CHEATS)
def test_false_class_value_is_rejected_on_every_path(run4, monkeypatch, path, label):
    """A prover that sends one class's value (a combination of several layers' weights, or a
    class's start-minus-end difference) off by one is rejected (_CLASS_REJECTS: by the openings,
    or by the relation the value enters) -- in a first window, a window at a later t0
    (chained to an honest first window; the lie is in the later one), a one-step window and an
    inference proof.  The honest proof of the same path verifies."""
    cfg, tr_ = CFG4, run4.traces
    first, after, asec = run4.prove(tr_[:1])    # honest: a later window's chain start
    start = run4.verify(first)

    def prove_and_verify():
        if path == "inference":
            icfg = tr.inference_config(cfg.widths, 2)
            proof = pv.prove_inference(icfg, run4.W0, run4.model, run4.model_sec, run4.X[:2])
            return tr.verify_inference(proof.to_bytes(), run4.model)
        if path == "first window":
            return run4.verify(run4.prove()[0])
        if path == "one-step window":
            return run4.verify(run4.prove(tr_[:1])[0])
        proof, _, _ = pv.prove_window(tr_[1:], after, asec, run4.data, run4.data_sec)
        assert proof.statement.t0 == 1
        return tr.verify_window(proof.to_bytes(), run4.data, start)

    prove_and_verify()
    send = pv.ProverChannel.send_scalar_com
    seen = {"n": 0}

    def lying(self, lab, value):
        if lab == label and not seen["n"]:
            seen["n"] += 1
            return send(self, lab, lambda: int(value()) + 1)
        return send(self, lab, value)

    monkeypatch.setattr(pv.ProverChannel, "send_scalar_com", lying)
    with pytest.raises(VerificationError, match=_CLASS_REJECTS[label]):
        prove_and_verify()
    assert seen["n"] == 1           # the class value was sent (and lied about) on this path
