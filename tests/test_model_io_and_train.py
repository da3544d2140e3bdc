"""Issue 14, part A: model in / model out (export, import, layer order, buffers), data scaling and
the data module, the learning rate (from_lr, the PyTorch-equivalent rate, divergence advice), the
public evaluation API and ``zkdl train`` on the user's own data."""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

import runhelp as h
from zkdl import data as zd
from zkdl.errors import ShapeError, ZkdlError
from zkdl.fixedpoint import ConfigError, FixedPointConfig, TrainingRangeError, dequantize, lr_to_fixed, quantize
from zkdl.record import Recorder
from zkdl.trainer import (
    Trainer, accuracy, float_train, init_mlp, init_weights_from_float, lr_from_pytorch, predict, r2_score,
    save_weights,
)


def _relu(x):
    return np.maximum(x, 0.0)


def _torch_style_forward(sd: dict, names: list, x: np.ndarray) -> np.ndarray:
    """What nn.Sequential(Linear, ReLU, ..., Linear) computes with this state dict: x W^T + b."""
    for i, n in enumerate(names):
        x = x @ sd[f"{n}.weight"].T + sd[f"{n}.bias"]
        if i < len(names) - 1:
            x = _relu(x)
    return x


def _small_data(cfg, n=16, seed=0):
    rng = np.random.default_rng(seed)
    Xf = rng.normal(size=(n, cfg.widths[0]))
    labels = rng.integers(0, cfg.widths[-1], size=n)
    return quantize(Xf, cfg.R), zd.one_hot(labels, cfg.widths[-1], cfg.R), Xf, labels


# ------------------------------------------------------------------ 1. round trip of models


def test_export_is_a_clean_sequential_state_dict_and_round_trips(tmp_path):
    cfg = FixedPointConfig.from_lr((4, 6, 3), lr=0.01, batch_size=4)
    X, Y, Xf, labels = _small_data(cfg)
    W0 = init_weights_from_float(init_mlp(cfg.widths, 3), cfg.R)
    with Recorder(str(tmp_path / "spool"), cfg, W0, X, Y, window=2) as rec:
        rec.run(3)
    path, fixed = rec.export_weights(str(tmp_path / "model.npz"))
    assert fixed == str(tmp_path / "model.fixed.npz")
    # a PyTorch user: torch.load-like dict of arrays keyed like Sequential(Linear, ReLU, Linear).state_dict()
    with np.load(path) as z:
        sd = {k: z[k] for k in z.files}
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert sd["0.weight"].shape == (6, 4) and sd["0.bias"].shape == (6,)        # (out, in)
    assert sd["2.weight"].shape == (3, 6) and sd["2.bias"].shape == (3,)
    assert all(v.dtype == np.float64 for v in sd.values())
    out_float = _torch_style_forward(sd, ["0", "2"], dequantize(X, cfg.R))
    out_fixed = dequantize(predict(cfg, rec.weights, X), cfg.R)
    assert np.max(np.abs(out_float - out_fixed)) < 1e-3
    assert np.array_equal(np.argmax(out_float, axis=1), np.argmax(out_fixed, axis=1))
    # import again: the float file and the exact-integer file give exactly the trained weights
    for src in (path, fixed):
        back = init_weights_from_float(src, cfg.R)
        assert all(np.array_equal(a, b) for a, b in zip(back, rec.weights))
        assert back.names == ["0", "2"]
    assert init_weights_from_float(fixed, cfg.R).exact
    with pytest.raises(ShapeError, match="R = 16, not R = 12"):
        init_weights_from_float(fixed, 12)
    # never overwrites without being asked
    before = open(path, "rb").read()
    with pytest.raises(ZkdlError, match="already exists"):
        rec.export_weights(path)
    assert open(path, "rb").read() == before
    rec.export_weights(path, overwrite=True)
    # the user's names are remembered from the import and used on export
    sd_named = {"input_layer.weight": sd["0.weight"], "input_layer.bias": sd["0.bias"],
                "output.weight": sd["2.weight"], "output.bias": sd["2.bias"]}
    Wn = init_weights_from_float(sd_named, cfg.R)
    assert Wn.names == ["input_layer", "output"]
    with Recorder(str(tmp_path / "spool2"), cfg, Wn, X, Y, window=2) as rec2:
        rec2.run(1)
    p2, _ = rec2.export_weights(str(tmp_path / "named.npz"))
    with np.load(p2) as z:
        assert z.files == ["input_layer.weight", "input_layer.bias", "output.weight", "output.bias"]
    p3, _ = save_weights(str(tmp_path / "seq.npz"), rec2.weights, cfg.R)      # a plain list: Sequential names
    with np.load(p3) as z:
        assert z.files == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_commit_model_reads_exports_and_a_run_continues_from_it(tmp_path):
    cfg = h.CFG
    X, Y = h.data()
    with Recorder(str(tmp_path / "s0"), cfg, h.weights(), X, Y, window=2) as rec:
        rec.run(2)
    path, fixed = rec.export_weights(str(tmp_path / "model.npz"))
    # the old export format (0.*, 1.* and W0, W1) is read too: W0, W1 ignored with a notice
    legacy = tmp_path / "legacy.npz"
    with np.load(path) as z:
        np.savez(legacy, **{"0.weight": z["0.weight"], "0.bias": z["0.bias"], "1.weight": z["2.weight"],
                            "1.bias": z["2.bias"], "W0": rec.weights[0], "W1": rec.weights[1]})
    r = h.zkdl("commit-model", legacy, "--out", tmp_path / "legacy.commitment", "--batch-size", 2)
    assert r.returncode == 0, r.stderr
    assert "ignored 2 non-parameter entries: W0, W1" in r.stdout
    for src, name in ((path, "f"), (fixed, "x")):
        r = h.zkdl("commit-model", src, "--out", tmp_path / f"{name}.commitment", "--batch-size", 2)
        assert r.returncode == 0, r.stderr
        assert "2 Linear layers in this order: 0 (8 -> 4), 2 (4 -> 3)" in r.stdout
    assert (tmp_path / "f.commitment").read_bytes() != b""
    # continue training from the exported model, starting at its published commitment
    W = init_weights_from_float(path, cfg.R)
    opening = (str(tmp_path / "x.commitment"), str(tmp_path / "x.commitment.opening"))
    with Recorder(str(tmp_path / "s1"), cfg, W, X, Y, window=2, model_opening=opening, start_step=2) as rec1:
        rec1.run(2)
    assert h.zkdl("daemon", "--spool", tmp_path / "s1", "--out", tmp_path / "run", "--once").returncode == 0
    r = h.zkdl("verify", tmp_path / "run", "--initial-model", tmp_path / "x.commitment")
    assert r.returncode == 0, r.stderr
    # an existing opening file is never overwritten
    (tmp_path / "y.commitment.opening").write_bytes(b"mine")
    r = h.zkdl("commit-model", path, "--out", tmp_path / "y.commitment")
    assert r.returncode == 1 and h.one_line_error(r.stderr) and "already exists" in r.stderr
    assert (tmp_path / "y.commitment.opening").read_bytes() == b"mine" and not (tmp_path / "y.commitment").exists()


# ------------------------------------------------------------------ 2. layer order, buffers, chaining


def test_layer_order_is_the_mappings_and_buffers_are_ignored_with_a_notice(tmp_path):
    rng = np.random.default_rng(1)
    sd = {"input_layer.weight": rng.normal(size=(8, 4)), "input_layer.bias": rng.normal(size=8),
          "bn.running_mean": np.zeros(8), "bn.num_batches_tracked": np.array(7),
          "hidden.weight": rng.normal(size=(6, 8)), "hidden.bias": rng.normal(size=6),
          "output.weight": rng.normal(size=(3, 6)), "output.bias": rng.normal(size=3)}
    with pytest.warns(UserWarning, match="ignored 2 entries .*bn.running_mean, bn.num_batches_tracked"):
        W = init_weights_from_float(sd)              # sorted names (hidden, input_layer, output) would not chain
    assert W.names == ["input_layer", "hidden", "output"]
    assert [w.shape for w in W] == [(5, 8), (9, 6), (7, 3)]
    assert W.ignored == ["bn.running_mean", "bn.num_batches_tracked"]
    d = W.describe()
    assert "3 Linear layers in this order: input_layer (4 -> 8), hidden (8 -> 6), output (6 -> 3)" in d
    assert "widths 4-8-6-3" in d and "bn.num_batches_tracked" in d
    x = rng.normal(size=(5, 4))
    assert np.allclose(dequantize(predict(FixedPointConfig((4, 8, 6, 3), 1, 0, 1), W, quantize(x))),
                       _torch_style_forward(sd, ["input_layer", "hidden", "output"], x), atol=1e-3)
    # an explicit layer list sets the order; a wrong order is a clear error, never a silent mis-load
    W2 = init_weights_from_float(sd, layers=["input_layer", "hidden", "output"], warn=False)
    assert all(np.array_equal(a, b) for a, b in zip(W, W2))
    with pytest.raises(ShapeError, match=r"layers do not chain: layer 'input_layer' \(#2\) expects 4 inputs but "
                                         r"layer 'hidden' \(#1\) has 6 outputs"):
        init_weights_from_float(sd, layers=["hidden", "input_layer", "output"], warn=False)
    bad = {"a.weight": np.zeros((8, 4)), "b.weight": np.zeros((3, 7))}
    with pytest.raises(ShapeError, match="layers do not chain"):
        init_weights_from_float(bad)
    with pytest.raises(ShapeError, match="no 'nope.weight'"):
        init_weights_from_float(sd, layers=["input_layer", "nope"], warn=False)
    # nn.Sequential indices are ordered numerically whatever the mapping's order
    seq = {f"{i}.weight": np.zeros(s) for i, s in ((10, (2, 5)), (0, (4, 3)), (2, (5, 4)))}
    assert init_weights_from_float(seq).names == ["0", "2", "10"]
    # the CLI says what it read and which entries it ignored, and takes --layers
    np.savez(tmp_path / "m.npz", **sd)
    r = h.zkdl("commit-model", tmp_path / "m.npz", "--out", tmp_path / "m.commitment")
    assert r.returncode == 0, r.stderr
    assert "input_layer (4 -> 8), hidden (8 -> 6), output (6 -> 3)" in r.stdout and "bn.running_mean" in r.stdout
    r = h.zkdl("commit-model", tmp_path / "m.npz", "--out", tmp_path / "m2.commitment",
               "--layers", "hidden,input_layer,output")
    assert r.returncode == 2 and h.one_line_error(r.stderr) and "layers do not chain" in r.stderr
    assert not (tmp_path / "m2.commitment").exists()


# ------------------------------------------------------------------ 3. data


def test_unscaled_integer_data_warns_and_scaled_data_does_not():
    cfg = FixedPointConfig.from_lr((4, 5, 3), lr=0.01, batch_size=4)
    W0 = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 17, size=(12, 4))                 # raw digit-like pixels 0..16
    labels = rng.integers(0, 3, size=12)
    raw_onehot = np.eye(3, dtype=np.int64)[labels]             # 0/1 targets
    with pytest.warns(zd.UnscaledDataWarning, match=r"X \(training inputs\) looks unscaled.*zkdl.data.quantize"):
        Trainer(cfg, W0, pixels, zd.one_hot(labels, 3, cfg.R))
    with pytest.warns(zd.UnscaledDataWarning, match=r"Y \(training targets\).*zkdl.data.one_hot"):
        Trainer(cfg, W0, zd.quantize(zd.standardize(pixels), cfg.R), raw_onehot)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # properly scaled: silent
        Trainer(cfg, W0, zd.quantize(zd.standardize(pixels), cfg.R), zd.one_hot(labels, 3, cfg.R))
    with pytest.warns(zd.UnscaledDataWarning):
        predict(cfg, W0, pixels)


def test_data_module():
    rng = np.random.default_rng(2)
    X = rng.normal(5.0, 3.0, size=(50, 3))
    y = rng.integers(0, 4, size=50)
    a = zd.train_test_split(X, y, test_fraction=0.2, seed=7)
    b = zd.train_test_split(X, y, test_fraction=0.2, seed=7)
    c = zd.train_test_split(X, y, test_fraction=0.2, seed=8)
    Xtr, Xte, ytr, yte = a
    assert Xtr.shape == (40, 3) and Xte.shape == (10, 3) and ytr.shape == (40,) and yte.shape == (10,)
    assert all(np.array_equal(p, q) for p, q in zip(a, b)) and not np.array_equal(a[1], c[1])
    rows = {tuple(r) for r in X}
    assert {tuple(r) for r in np.vstack([Xtr, Xte])} == rows                  # a partition
    Ztr, Zte = zd.standardize(Xtr, Xte)
    assert np.allclose(Ztr.mean(axis=0), 0) and np.allclose(Ztr.std(axis=0), 1)
    s = zd.Standardizer.fit(Xtr)                                             # fitted on train only
    assert np.allclose(Zte, (Xte - Xtr.mean(axis=0)) / Xtr.std(axis=0)) and np.allclose(s.inverse(Zte), Xte)
    q = zd.quantize(Ztr, 16)
    assert q.dtype == np.int64 and np.max(np.abs(dequantize(q, 16) - Ztr)) <= 2.0 ** -17
    oh = zd.one_hot(ytr, 4, R=16)
    assert oh.shape == (40, 4) and set(np.unique(oh)) == {0, 65536} and np.all(oh.sum(axis=1) == 65536)
    codes, classes = zd.encode_labels(np.array(["setosa", "virginica", "setosa"]))
    assert codes.tolist() == [0, 1, 0] and classes.tolist() == ["setosa", "virginica"]
    with pytest.raises(ShapeError):
        zd.one_hot(np.array(["a"]))
    # the public batch schedule is what the trainer uses
    cfg = FixedPointConfig.from_lr((3, 1), lr=0.001, batch_size=8, seed=5)
    sched = zd.batch_schedule(cfg, 40, steps=7)
    assert sched.shape == (7, 8)
    tr = Trainer(cfg, init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R), zd.quantize(Ztr), zd.quantize(oh[:, :1] / 65536))
    for t in range(7):
        assert np.array_equal(tr.step().batch, sched[t]) and np.array_equal(sched[t], zd.batch_indices(5, t, 40, 8))


# ------------------------------------------------------------------ 4. learning rate, divergence, evaluation


def test_lr_to_fixed_rule():
    for lr in (0.01, 0.3, 1e-3, 0.0123, 2.5, 1e-6):
        e, k = lr_to_fixed(lr)
        assert abs(e / 2 ** k - lr) / lr <= 2 ** -8                   # 8 significant bits
        assert 2 * 16 + k <= 62 and (e % 2 == 1 or k == 0)           # 2R + k <= 62 (master weights)
    assert lr_to_fixed(1 / 64) == (1, 6) and lr_to_fixed(0.01) == (41, 12)
    assert lr_to_fixed(0.01, bits=12) == (2621, 18)
    cfg = FixedPointConfig.from_lr((2, 3, 1), lr=0.01, batch_size=4, seed=3, R=12)
    assert (cfg.eta_int, cfg.k, cfg.R, cfg.seed, cfg.eta) == (41, 12, 12, 3, 41 / 4096)
    assert lr_to_fixed(7e-14, R=8) == (5, 46)                       # capped at 2R + k = 62: fewer bits
    with pytest.raises(ConfigError, match="smallest representable"):
        lr_to_fixed(7e-14, R=16)                                     # below 2^-30 = 2^-(62 - 2R)
    for bad in (0, -0.1, float("nan"), float("inf"), "0.1", True):
        with pytest.raises(ConfigError):
            lr_to_fixed(bad)
    with pytest.raises(ConfigError, match="smallest representable"):
        lr_to_fixed(1e-20)


def test_pytorch_equivalent_lr_matches_float_train_numerically():
    """One SGD step on PyTorch's nn.MSELoss() (mean over batch and outputs), gradient by central
    finite differences (no autodiff, no torch), equals float_train with lr_from_pytorch's rate."""
    cfg0 = FixedPointConfig((3, 4, 3), 1, 0, 4, seed=2)
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    W = [rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(5, 3)) * 0.5]
    B, lr_torch = cfg0.batch_size, 0.1
    from zkdl.fixedpoint import batch_indices

    idx = batch_indices(cfg0.seed, 0, 8, B)

    def torch_mse(Ws):
        a = np.hstack([X[idx], np.ones((B, 1))]) @ Ws[0]
        out = np.hstack([_relu(a), np.ones((B, 1))]) @ Ws[1]
        return np.mean((out - Y[idx]) ** 2)                        # nn.MSELoss(reduction="mean")

    stepped = []
    for li, w in enumerate(W):
        g = np.zeros_like(w)
        for ij in np.ndindex(w.shape):
            Wp, Wm = [x.copy() for x in W], [x.copy() for x in W]
            Wp[li][ij] += 1e-6
            Wm[li][ij] -= 1e-6
            g[ij] = (torch_mse(Wp) - torch_mse(Wm)) / 2e-6
        stepped.append(w - lr_torch * g)                           # torch.optim.SGD(lr=lr_torch)
    eta = lr_from_pytorch(lr_torch, batch_size=B, n_outputs=3)
    assert eta == 2 * lr_torch / (B * 3)
    cfg = FixedPointConfig.from_lr((3, 4, 3), lr=eta, batch_size=B, seed=2, bits=24)
    assert abs(cfg.eta - eta) <= eta * 2 ** -23                    # 24 significant bits (2R + k <= 62)
    fr = float_train(cfg, W, X, Y, 1)
    assert all(np.allclose(a, b, atol=1e-7) for a, b in zip(fr.weights, stepped))
    # lr_torch / B is the rate for 1/2 * mean over the batch of |yhat - y|^2, not for MSELoss (unless d_out = 2)
    fr_wrong = float_train(FixedPointConfig.from_lr((3, 4, 3), lr=lr_torch / B, batch_size=B, seed=2, bits=24),
                           W, X, Y, 1)
    assert not all(np.allclose(a, b, atol=1e-7) for a, b in zip(fr_wrong.weights, stepped))
    assert lr_from_pytorch(0.1, batch_size=B, n_outputs=3, reduction="sum") == 0.2


def test_divergence_error_says_what_to_change(tmp_path):
    cfg = FixedPointConfig.from_lr((4, 8, 3), lr=4.0, batch_size=4)
    X, Y, _, _ = _small_data(cfg)
    W0 = init_weights_from_float(init_mlp(cfg.widths, 0), cfg.R)
    with pytest.raises(TrainingRangeError) as ei:
        Trainer(cfg, W0, X, Y).run(50)
    e = ei.value
    assert e.where.startswith("step ") and e.tensor and e.value is not None and e.bound == 1 << 31
    assert "lower the learning rate" in str(e) and "zkdl.data.standardize" in str(e) and "--dry-run" in str(e)
    assert str(e).startswith(e.where)
    with pytest.raises(TrainingRangeError, match="lower the learning rate"):
        with Recorder(str(tmp_path / "s"), cfg, W0, X, Y, window=2) as rec:
            for _ in range(50):
                rec.step()


def test_public_evaluation_api():
    cfg = FixedPointConfig.from_lr((2, 1), lr=0.01, batch_size=2, R=8)
    W = [np.array([[256], [-512], [128]])]                     # y = x0 - 2 x1 + 0.5
    X = quantize(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), 8)
    assert predict(cfg, W, X).ravel().tolist() == [384, -384, -128]
    assert r2_score(cfg, W, X, predict(cfg, W, X)) == 1.0
    assert r2_score(cfg, W, X, quantize(np.array([[1.0], [-1.0], [0.0]]), 8)) < 1.0
    cfg2 = FixedPointConfig.from_lr((2, 2), lr=0.01, batch_size=2, R=8)
    W2 = [np.array([[256, 0], [0, 256], [0, 0]])]             # argmax picks the larger input
    X2 = quantize(np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]]), 8)
    assert accuracy(cfg2, W2, X2, np.array([0, 1, 0, 1])) == 1.0
    assert accuracy(cfg2, W2, X2, np.array([0, 1, 1, 1])) == 0.75
    with pytest.raises(ShapeError):
        accuracy(cfg2, W2, X2, np.array([0, 1]))


# ------------------------------------------------------------------ 5. zkdl train


def test_train_dry_run_on_own_data_writes_nothing(tmp_path):
    out = tmp_path / "never"
    r = h.zkdl("train", "sklearn:iris", "--dry-run", "--hidden", "8", "--steps", "30", "--batch", "16",
               "--out", out, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "learning rate: --lr 0.02 -> eta = 41/2^11 = 0.02001953125" in r.stdout          # default 0.32 / B
    assert "held-out accuracy" in r.stdout and "NOT proven" in r.stdout and "4-8-3 MLP" in r.stdout
    acc = float(r.stdout.split("held-out accuracy ")[1].split()[0])
    assert acc >= 0.8
    assert not out.exists()
    # a .csv with a named, non-last string target, and an .npz regression
    rng = np.random.default_rng(0)
    Xc = rng.normal(size=(40, 3))
    lab = np.where(Xc[:, 0] + Xc[:, 1] > 0, "pos", "neg")
    with open(tmp_path / "d.csv", "w") as f:
        f.write("a,label,b,c\n")
        for row, l_ in zip(Xc, lab):
            f.write(f"{row[0]},{l_},{row[1]},{row[2]}\n")
    r = h.zkdl("train", tmp_path / "d.csv", "--target", "label", "--dry-run", "--hidden", "4", "--steps", "10",
               "--batch", "8", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "classification, 2 classes" in r.stdout and "3 features" in r.stdout
    np.savez(tmp_path / "reg.npz", X=Xc, y=100 + 20 * Xc[:, 0] + rng.normal(size=40))
    r = h.zkdl("train", tmp_path / "reg.npz", "--dry-run", "--hidden", "4", "--steps", "20", "--batch", "8",
               timeout=120)
    assert r.returncode == 0, r.stderr
    assert "regression, 1 target (standardized)" in r.stdout and "held-out R^2" in r.stdout


def test_train_proves_verifies_and_exports(tmp_path):
    out = tmp_path / "iris"
    r = h.zkdl("train", "sklearn:iris", "--hidden", "4", "--steps", "4", "--window", "4", "--batch", "8",
               "--lr", "0.03", "--out", out, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VALID" in r.stdout and "run complete" in r.stdout
    assert "held-out accuracy" in r.stdout and "NOT proven" in r.stdout
    assert "eta = 123/2^12" in r.stdout
    assert h.zkdl("verify", out / "run").returncode == 0
    with np.load(out / "model.npz") as z:
        sd = {k: z[k] for k in z.files}
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"] and sd["0.weight"].shape == (4, 4)
    pre = json.loads((out / "preprocess.json").read_text())
    assert pre["task"] == "classify" and pre["classes"] == [0, 1, 2] and len(pre["x_standardize"]["mean"]) == 4
    W = init_weights_from_float(str(out / "model.fixed.npz"))
    assert all(np.array_equal(a, b) for a, b in zip(W, init_weights_from_float(str(out / "model.npz"))))
    with np.load(out / "heldout.npz") as z:
        Xh, yh, Xq = z["X"], z["y"], z["X_fixed"]
    cfg = FixedPointConfig.from_lr((4, 4, 3), lr=0.03, batch_size=8)
    acc = accuracy(cfg, W, Xq, yh)
    assert f"held-out accuracy {acc:.4f}" in r.stdout
    assert np.allclose(_torch_style_forward(sd, ["0", "2"], Xh), dequantize(predict(cfg, W, Xq)), atol=1e-2)
    # the output directory is never reused
    r = h.zkdl("train", "sklearn:iris", "--out", out)
    assert r.returncode == 2 and h.one_line_error(r.stderr) and "not empty" in r.stderr


@pytest.mark.parametrize("args, msg", [
    (["sklearn:iris", "--hidden", "32,abc"], "--hidden"),
    (["sklearn:nope"], "unknown dataset"),
    (["missing.csv"], "no such file"),
    (["sklearn:iris", "--lr", "-1"], "--lr"),
    (["sklearn:iris", "--steps", "0"], "--steps"),
    (["sklearn:iris", "--test-fraction", "5"], "--test-fraction"),
    (["sklearn:iris", "--batch", "500", "--dry-run"], "larger than the training set"),
    (["sklearn:iris", "--target", "x"], "--target applies to .csv"),
])
def test_train_bad_arguments_exit_2_with_one_line(tmp_path, args, msg):
    r = h.zkdl("train", *args, "--out", tmp_path / "o", timeout=60)
    assert r.returncode == 2 and h.one_line_error(r.stderr) and msg in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


def test_train_divergence_is_one_line_with_advice_and_writes_nothing(tmp_path):
    r = h.zkdl("train", "sklearn:iris", "--lr", "5", "--steps", "40", "--out", tmp_path / "o", timeout=60)
    assert r.returncode == 1 and h.one_line_error(r.stderr), r.stderr
    assert "lower the learning rate" in r.stderr and "--lr 1.25" in r.stderr
    assert not (tmp_path / "o").exists()


def test_user_guide_data_snippet_runs():
    """The guide's "Data: scale it to 2^R" example runs as printed and trains to a sensible accuracy."""
    import contextlib
    import io
    import re

    guide = open(os.path.join(h.ROOT, "docs", "user-guide.md")).read()
    section = guide.split("### Data: scale it to 2^R", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), warnings.catch_warnings():
        warnings.simplefilter("error", zd.UnscaledDataWarning)
        exec(compile(code, "user-guide.md", "exec"), ns)
    lines = buf.getvalue().split("\n")
    assert lines[0] == "41 12 0.010009765625"
    assert float(lines[1]) >= 0.8
