"""``zkdl report``: a PNG (matplotlib) with the proven loss curve, proof time per step and proof
sizes of a run, and an HTML page embedding it.  The losses are read from the proofs' statements
(what the proofs claim); run ``zkdl verify`` to check them.  Needs matplotlib (extra ``report``).
"""
from __future__ import annotations

import base64
import html
import os

from . import runfiles as rf
from .errors import ZkdlError


def _collect(run_dir: str) -> dict:
    from zkdl.circuits.training import WindowProof
    from zkdl.codec import ProofFormatError

    m = rf.read_json(os.path.join(run_dir, rf.MANIFEST), "manifest", rf.MANIFEST_FORMAT, rf.MANIFEST_VERSION)
    try:
        config = rf.config_from_json(m["config"])
        windows = m["windows"]
    except KeyError as e:
        raise rf.RunFormatError(f"manifest: missing field {e}") from None
    steps, losses, per_step, sizes, idx = [], [], [], [], []
    for w in windows:
        data = rf.read_bytes(os.path.join(run_dir, w["file"]), f"window {w['index']}")
        try:
            st = WindowProof.from_bytes(data).statement
        except ProofFormatError as e:
            raise rf.RunFormatError(f"{w['file']}: {e}") from None
        for j in range(st.T):
            steps.append(st.t0 + j)
            losses.append(None if st.losses is None else rf.loss_value(st.losses[j], config))
        per_step.append(float(w.get("prove_seconds") or 0.0) / st.T)
        sizes.append(len(data))
        idx.append((st.t0, st.T))
    return {"manifest": m, "config": config, "steps": steps, "losses": losses, "per_step": per_step,
            "sizes": sizes, "windows": idx}


def write_report(run_dir: str, out: str | None = None) -> tuple[str, str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ZkdlError("zkdl report needs matplotlib: pip install 'zkdl[report]'") from None
    if not os.path.isdir(run_dir):
        raise rf.RunFormatError(f"{run_dir}: no such directory")
    d = _collect(run_dir)
    png = out or os.path.join(run_dir, "report.png")
    page = os.path.splitext(png)[0] + ".html"
    cfg = d["config"]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    xs = [s for s, v in zip(d["steps"], d["losses"]) if v is not None]
    ys = [v for v in d["losses"] if v is not None]
    if ys:
        ax[0].plot(xs, ys, marker=".", color="C0")
    else:
        ax[0].text(0.5, 0.5, "losses hidden", ha="center", va="center", transform=ax[0].transAxes)
    ax[0].set_title("proven training loss (MSE per example)")
    ax[0].set_xlabel("step")
    labels = [f"{t0}-{t0 + T - 1}" for t0, T in d["windows"]]
    ax[1].bar(range(len(labels)), d["per_step"], color="C1")
    ax[1].set_title("proof time per step (s), by window")
    ax[1].set_xticks(range(len(labels)), labels, rotation=45, fontsize=7)
    ax[2].bar(range(len(labels)), [s / 1024 for s in d["sizes"]], color="C2")
    ax[2].set_title("proof size (KiB), by window")
    ax[2].set_xticks(range(len(labels)), labels, rotation=45, fontsize=7)
    arch = "-".join(map(str, cfg.widths))
    fig.suptitle(f"zkdl run: {arch} MLP, batch {cfg.batch_size}, lr {cfg.eta:g}, {len(d['steps'])} steps")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    rf.atomic_write(png, buf.getvalue())
    m = d["manifest"]
    rows = "".join(f"<tr><td>{i}</td><td>{t0}..{t0 + T - 1}</td><td>{s}</td><td>{p:.3f}</td></tr>"
                   for i, ((t0, T), s, p) in enumerate(zip(d["windows"], d["sizes"], d["per_step"])))
    doc = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>zkdl run report</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 10px;text-align:right}}</style></head>
<body><h1>zkdl run report</h1>
<p>Run directory: <code>{html.escape(os.path.abspath(run_dir))}</code><br>
Architecture {arch} (ReLU MLP, MSE loss), batch {cfg.batch_size}, learning rate {cfg.eta:g}
(= {cfg.eta_int}/2<sup>{cfg.k}</sup>), batch-schedule seed {cfg.seed}, fixed point R={cfg.R}, Q={cfg.Q};
dataset: {m.get('n_examples')} committed examples; {len(d['steps'])} steps in {len(d['windows'])} windows;
run {html.escape(str(m.get('status') or ('complete' if m.get('complete') else 'in progress')))}.</p>
<p><b>This page shows what the proofs claim; run <code>zkdl verify {html.escape(run_dir)}</code> to check them.</b></p>
<img alt="loss curve, proof time, proof sizes" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">
<table><tr><th>window</th><th>steps</th><th>proof bytes</th><th>prove s/step</th></tr>{rows}</table>
</body></html>
"""
    rf.atomic_write(page, doc.encode())
    return png, page
