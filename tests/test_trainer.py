"""Reference trainer (zkdl.trainer; semantics version 2: master weights), weight import/export,
float reference and the digits data (zkdl.datasets), including the fixed-vs-float accuracy
comparison of docs/semantics.md."""
from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest

from zkdl.errors import ShapeError, ZkdlError
from zkdl.fixedpoint import (
    ConfigError, FixedPointConfig, TrainingRangeError, batch_indices, dequantize, quantize,
    round_master, to_master, validate_chain,
)
from zkdl.trainer import (
    DIGITS_DEFAULTS, Trainer, compare_digits, export_state_dict, float_forward, float_train,
    init_mlp, init_weights_from_float,
)


def toy(seed=0, N=20, widths=(3, 6, 2), B=4, eta_int=1, k=5):
    cfg = FixedPointConfig(widths=widths, eta_int=eta_int, k=k, batch_size=B, seed=seed)
    rng = np.random.default_rng(seed)
    Xf = rng.uniform(-1, 1, (N, widths[0]))
    Yf = np.tanh(Xf @ rng.uniform(-1, 1, (widths[0], widths[-1])))
    W0 = init_weights_from_float(init_mlp(widths, seed), cfg.R)
    return cfg, W0, quantize(Xf, cfg.R), quantize(Yf, cfg.R)


# ------------------------------------------------------------------ trainer


def test_trainer_runs_the_schedule_and_chains():
    cfg, W0, X, Y = toy()
    W0_copy = [w.copy() for w in W0]
    tr = Trainer(cfg, W0, X, Y)
    traces = tr.run(12)
    assert [t.step for t in traces] == list(range(12)) and tr.step_index == 12
    assert all(np.array_equal(a, b) for a, b in zip(W0, W0_copy))            # input not modified
    assert validate_chain(traces) == 12
    for t in traces:
        assert t.batch.tolist() == batch_indices(cfg.seed, t.step, 20, 4).tolist()
        assert np.array_equal(t.X, X[t.batch]) and np.array_equal(t.Y, Y[t.batch])
    assert all(np.array_equal(a, b) for a, b in zip(tr.master, traces[-1].W_after))
    assert all(np.array_equal(a, b) for a, b in zip(traces[0].W_before, to_master(cfg, W0)))
    assert all(np.array_equal(a, b) for a, b in zip(tr.weights, round_master(cfg, traces[-1].W_after)[0]))
    # exact accumulation: M_T = M_0 - eta_int * sum_t G_W(t)
    for i, m in enumerate(tr.master):
        total = sum(t.G_W[i].astype(object) for t in traces)
        assert (m.astype(object) == to_master(cfg, W0)[i].astype(object) - cfg.eta_int * total).all()
    assert tr.losses == [t.loss for t in traces]
    assert np.mean(tr.losses[-4:]) < np.mean(tr.losses[:4])                  # it learns
    # consecutive traces share the master weights (read-only); G_W may be dropped and derived
    assert all(a is b and not a.flags.writeable for t, u in zip(traces, traces[1:]) for a, b in zip(t.W_after, u.W_before))
    lean = Trainer(cfg, W0, X, Y).run(3, keep_grads=False)
    assert all(t.G_W is None for t in lean) and validate_chain(lean) == 3
    assert all(np.array_equal(a, b) for t, u in zip(lean, traces) for a, b in zip(t.grad_w(), u.G_W))
    assert tr.batches_per_epoch == 5 and tr.num_examples == 20


def test_trainer_resume_and_callback_are_deterministic():
    cfg, W0, X, Y = toy(seed=3)
    full = Trainer(cfg, W0, X, Y)
    full.run(9)
    first = Trainer(cfg, W0, X, Y)
    seen = []
    assert first.run(4, keep_traces=False, callback=lambda t: seen.append(t.step)) == []
    assert seen == [0, 1, 2, 3]
    second = Trainer(cfg, None, X, Y, start_step=4, master=first.master)    # resume from M
    second.run(5)
    assert all(np.array_equal(a, b) for a, b in zip(full.master, second.master))
    assert all(np.array_equal(a, b) for a, b in zip(full.weights, second.weights))
    third = Trainer(cfg, first.master, X, Y, start_step=4, continuing=True)  # the older spelling
    third.run(5)
    assert all(np.array_equal(a, b) for a, b in zip(full.master, third.master))
    # restarting from the rounded model is a new chain (its own master weights), not a resume
    fresh = Trainer(cfg, first.weights, X, Y, start_step=4)
    assert all(np.array_equal(a, b) for a, b in zip(fresh.master, to_master(cfg, first.weights)))
    for prop in ("weights", "master"):                                      # copies
        w = getattr(second, prop)
        w[0][0, 0] += 1
        assert not np.array_equal(w[0], getattr(second, prop)[0])


def test_trainer_master_argument_errors():
    cfg, W0, X, Y = toy()
    M0 = to_master(cfg, W0)
    with pytest.raises(ConfigError, match="not both"):
        Trainer(cfg, W0, X, Y, master=M0)
    with pytest.raises(ConfigError, match="required"):
        Trainer(cfg, None, X, Y)
    with pytest.raises(ShapeError):
        Trainer(cfg, None, X, Y, master=M0[:1])
    # master weights are not range-checked (they continue a chain); a model is
    huge = [m * 1024 for m in M0]
    assert Trainer(cfg, None, X, Y, master=huge).master[0][0, 0] == huge[0][0, 0]
    with pytest.raises(TrainingRangeError, match="initial weights"):
        Trainer(cfg, M0, X, Y)                                              # M0 is not a model in V_Q
    tr = Trainer(cfg, W0, X, Y)
    assert all(np.array_equal(a, b) for a, b in zip(tr.master, M0))
    assert all(np.array_equal(a, b) for a, b in zip(tr.weights, W0))


def test_trainer_predict_accuracy_and_errors():
    cfg, W0, X, Y = toy()
    tr = Trainer(cfg, W0, X, Y)
    yhat = tr.predict(X)
    assert yhat.shape == (20, 2) and yhat.dtype == np.int64
    assert np.allclose(dequantize(yhat), float_forward([dequantize(w) for w in W0], dequantize(X)),
                       atol=1e-3)
    labels = np.argmax(yhat, axis=1)
    assert tr.accuracy(X, labels) == 1.0
    with pytest.raises(ShapeError):
        tr.accuracy(X, labels[:3])
    with pytest.raises(ShapeError):
        Trainer(cfg, W0, X[:3], Y[:3])                                       # fewer than B
    with pytest.raises(ShapeError):
        Trainer(cfg, W0, X, Y[:, :1])
    with pytest.raises(ShapeError):
        Trainer(cfg, W0, dequantize(X), Y)                                   # floats
    with pytest.raises(TrainingRangeError, match="dataset: X out of range"):
        Trainer(cfg, W0, X * (1 << 16), Y)
    with pytest.raises(TrainingRangeError, match="initial weights, layer 2: W out of range"):
        Trainer(cfg, [W0[0], W0[1] * (1 << 20)], X, Y)


def test_float_reference_tracks_fixed_point():
    cfg, W0, X, Y = toy(seed=5, N=32, widths=(3, 8, 8, 2), B=8, eta_int=3, k=7)
    tr = Trainer(cfg, W0, X, Y)
    tr.run(20)
    fr = float_train(cfg, [dequantize(w) for w in W0], dequantize(X), dequantize(Y), 20)
    assert len(fr.losses) == 20
    assert np.allclose(fr.losses, tr.losses, rtol=1e-3, atol=1e-4)
    for a, m, b in zip(tr.weights, tr.master, fr.weights):
        assert np.max(np.abs(dequantize(a) - b)) < 2e-3
        assert np.max(np.abs(dequantize(m, cfg.master_shift) - b)) < 2e-3


def test_float_reference_is_gradient_descent_on_half_sse():
    """One float_train step equals W - eta * d/dW [0.5 * sum_batch |yhat - y|^2] (finite differences)."""
    cfg = FixedPointConfig(widths=(2, 3, 2), eta_int=1, k=0, batch_size=4, seed=2)
    rng = np.random.default_rng(1)
    W = [rng.uniform(-1, 1, s) for s in cfg.weight_shapes]
    X, Y = rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (4, 2))
    idx = batch_indices(cfg.seed, 0, 4, 4)
    loss = lambda Ws: 0.5 * np.sum((float_forward(Ws, X[idx]) - Y[idx]) ** 2)
    after = float_train(cfg, W, X, Y, 1).weights
    h = 1e-6
    for i, w in enumerate(W):
        for j in np.ndindex(w.shape):
            Wp = [v.copy() for v in W]
            Wm = [v.copy() for v in W]
            Wp[i][j] += h
            Wm[i][j] -= h
            grad = (loss(Wp) - loss(Wm)) / (2 * h)
            assert abs((w[j] - after[i][j]) - cfg.eta * grad) < 1e-5


# ------------------------------------------------------------------ weight import / export


def test_state_dict_import_transposes_and_orders_by_prefix():
    rng = np.random.default_rng(0)
    # nn.Sequential(Linear(3,4), ReLU, ..., Linear(4,5), ..., Linear(5,2)): prefixes 0, 2, 10
    shapes = {"0": (4, 3), "2": (5, 4), "10": (2, 5)}
    sd = {}
    for p in ["10", "0", "2"]:                                       # insertion order irrelevant
        sd[f"net.{p}.weight"] = rng.uniform(-1, 1, shapes[p])
        sd[f"net.{p}.bias"] = rng.uniform(-1, 1, shapes[p][0])
    W = init_weights_from_float(sd, R=16, widths=(3, 4, 5, 2))
    assert [w.shape for w in W] == [(4, 4), (5, 5), (6, 2)] and all(w.dtype == np.int64 for w in W)
    for w, p in zip(W, ["0", "2", "10"]):
        assert np.array_equal(w[:-1], quantize(sd[f"net.{p}.weight"].T, 16))
        assert np.array_equal(w[-1], quantize(sd[f"net.{p}.bias"], 16))
    # the imported network computes what torch's Linear layers compute: x W^T + b
    x = rng.uniform(-1, 1, (3, 3))
    ref = x
    for i, p in enumerate(["0", "2", "10"]):
        ref = ref @ sd[f"net.{p}.weight"].T + sd[f"net.{p}.bias"]
        ref = np.maximum(ref, 0) if i < 2 else ref
    assert np.allclose(float_forward([dequantize(w) for w in W], x), ref, atol=1e-3)


def test_state_dict_round_trip(tmp_path):
    cfg = FixedPointConfig(widths=(4, 3, 2), eta_int=1, k=4, batch_size=1)
    W = init_weights_from_float(init_mlp(cfg.widths, 9), cfg.R)
    sd = export_state_dict(W, cfg.R, prefix="fc{i}")
    assert set(sd) == {"fc0.weight", "fc0.bias", "fc1.weight", "fc1.bias"}
    assert sd["fc0.weight"].shape == (3, 4) and sd["fc1.bias"].shape == (2,)
    for back in (init_weights_from_float(sd, cfg.R), init_weights_from_float(dict(sd), cfg.R, widths=cfg.widths)):
        assert all(np.array_equal(a, b) for a, b in zip(W, back))
    # npz files: torch-style names and W{i}/b{i} names ((in, out) orientation)
    p1, p2 = tmp_path / "torch.npz", tmp_path / "plain.npz"
    np.savez(p1, **sd)
    np.savez(p2, W0=dequantize(W[0][:-1]), b0=dequantize(W[0][-1]),
             W1=dequantize(W[1][:-1]), b1=dequantize(W[1][-1]))
    for src in (p1, str(p2)):
        back = init_weights_from_float(src, cfg.R)
        assert all(np.array_equal(a, b) for a, b in zip(W, back))
    with np.load(p2) as npz:
        back = init_weights_from_float(npz, cfg.R)
    assert all(np.array_equal(a, b) for a, b in zip(W, back))
    # lists: zkdl layout, or (W, b) pairs
    pairs = [(dequantize(w[:-1]), dequantize(w[-1])) for w in W]
    for src in ([dequantize(w) for w in W], pairs):
        back = init_weights_from_float(src, cfg.R)
        assert all(np.array_equal(a, b) for a, b in zip(W, back))


def test_state_dict_import_errors():
    w = np.zeros((2, 3))
    cases = [
        {"0.bias": np.zeros(2)},                                                    # bias only
        {"0.weight": w, "0.bias": np.zeros(3)},                                     # bias shape
        {"0.weight": np.zeros(3)},                                                  # not 2-D
        {"0.weight": w, "1.weight": np.zeros((2, 3))},                              # chain mismatch
        {"W0": np.zeros((3, 2)), "c0": np.zeros(2)},
        {"b0": np.zeros(2)},
        {"W0": np.zeros((3, 2)), "b0": np.zeros(3)},
        [np.zeros((3, 2)), np.zeros((4, 2))],
        [(np.zeros((3, 2)),)],
        np.zeros((3, 2)),
        {},
        42,
    ]
    for c in cases:
        with pytest.raises(ShapeError):
            init_weights_from_float(c)
    with pytest.raises(ShapeError, match="widths"):
        init_weights_from_float({"0.weight": w}, widths=(3, 3))
    W = init_weights_from_float({"0.weight": w})                                    # no bias: zero row
    assert W[0].shape == (4, 2) and not W[0].any()
    with pytest.warns(UserWarning, match="ignored 1 entry that is not a Linear parameter: 0.running_mean"):
        W = init_weights_from_float({"0.weight": w, "0.bias": np.zeros(2), "0.running_mean": np.zeros(2)})
    assert W[0].shape == (4, 2) and not W[0].any()


# ------------------------------------------------------------------ datasets


def test_digits_fixed():
    from zkdl.datasets import DIGITS_TRAIN_SIZE, load_digits_fixed

    d = load_digits_fixed(16)
    assert d.X_train.shape == (DIGITS_TRAIN_SIZE, 64) and d.X_test.shape == (297, 64)
    assert d.Y_train.shape == (1500, 10) and d.labels_test.shape == (297,)
    for X in (d.X_train, d.X_test):
        assert X.dtype == np.int64 and X.min() >= 0 and X.max() <= 1 << 16
        assert not np.any(X % (1 << 12))                      # pixel / 16 at scale 2^16 is exact
    assert np.array_equal(d.Y_train, (1 << 16) * np.eye(10, dtype=np.int64)[d.labels_train])
    assert set(d.labels_test.tolist()) == set(range(10))
    again = load_digits_fixed(16)
    assert np.array_equal(again.X_train, d.X_train) and np.array_equal(again.labels_test, d.labels_test)
    low = load_digits_fixed(3)                                # R < 4: round half up of p * 2^R / 16
    assert np.array_equal(low.X_train, (d.X_train // (1 << 12) * 8 + 8) // 16)
    with pytest.raises(ZkdlError):
        load_digits_fixed(0)


def test_digits_missing_sklearn_is_a_clear_error(monkeypatch):
    from zkdl.datasets import MissingDependencyError, load_digits_fixed

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(MissingDependencyError, match=r"zkdl\[examples\]"):
        load_digits_fixed()


def test_digits_golden_trace_digest():
    """The normative arithmetic (semantics version 2) must not drift: 20 steps of the digits run, pinned."""
    from zkdl.datasets import load_digits_fixed

    d = load_digits_fixed(16)
    cfg = FixedPointConfig(widths=(64, 32, 10), eta_int=1, k=6, batch_size=32, seed=0)
    tr = Trainer(cfg, init_weights_from_float(init_mlp(cfg.widths, 0), 16), d.X_train, d.Y_train)
    h = hashlib.sha256()
    for t in tr.run(20):
        for name in ("Zp", "E_fwd", "G_A", "E_bwd", "G_W", "W_after"):
            for a in getattr(t, name):
                h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
    print("digest", h.hexdigest(), "loss", tr.losses[-1])
    assert h.hexdigest() == GOLDEN_DIGEST


# semantics version 2 (master weights); version 1's digest was 76ceacc985d4...133610fe
GOLDEN_DIGEST = "f35520e293637cdaced09e2b3793193469fc86ebde42fbffe591bff716b0ef71"


def test_digits_fixed_vs_float_accuracy():
    res = compare_digits(**DIGITS_DEFAULTS, validate=True)
    print(f"\ndigits 64-32-10, {res['steps']} steps, B={res['batch_size']}, eta={res['eta']}: "
          f"test accuracy fixed {res['fixed_test_acc']:.4f} float {res['float_test_acc']:.4f}; "
          f"train fixed {res['fixed_train_acc']:.4f} float {res['float_train_acc']:.4f}")
    assert res["fixed_test_acc"] >= res["float_test_acc"] - 0.03
    assert res["fixed_test_acc"] >= 0.90
    assert abs(res["fixed_final_loss"] - res["float_final_loss"]) < 0.02


@pytest.mark.parametrize("seed", [0, 1])
def test_digits_deeper_network_learns(seed):
    """The digits config 64-64-64-10, B = 64, eta = 2^-7, 200 steps: held-out accuracy as under
    version 1 of the semantics (0.909 / 0.960 for seeds 0 / 1; version 2 gives 0.902 / 0.963) and
    close to the float64 run from the same initial weights and batches."""
    from zkdl.datasets import load_digits_fixed

    d = load_digits_fixed(16)
    cfg = FixedPointConfig(widths=(64, 64, 64, 10), eta_int=1, k=7, batch_size=64, seed=seed)
    W0 = init_weights_from_float(init_mlp(cfg.widths, seed), 16)
    tr = Trainer(cfg, W0, d.X_train, d.Y_train)
    tr.run(200, keep_traces=False)
    acc = tr.accuracy(d.X_test, d.labels_test)
    fr = float_train(cfg, [dequantize(w) for w in W0], dequantize(d.X_train), dequantize(d.Y_train), 200)
    facc = float(np.mean(np.argmax(float_forward(fr.weights, dequantize(d.X_test)), axis=1) == d.labels_test))
    print(f"\ndigits 64-64-64-10, B=64, seed {seed}: test accuracy fixed {acc:.4f} float {facc:.4f}")
    assert acc >= 0.88 and acc >= facc - 0.03
    assert np.mean(tr.losses[-20:]) < 0.5 * np.mean(tr.losses[:20])
