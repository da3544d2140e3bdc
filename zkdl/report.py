"""``zkdl report``: a PNG (matplotlib) with the proven loss curve, proof time per step and proof
sizes of a run, and an HTML page embedding it.  Needs matplotlib (extra ``report``).

``zkdl report`` verifies the run first (``zkdl.verifier.verify_run``) and passes the summary here
as ``verified``; with ``--no-verify`` (``verified=None``) the figures are what the proofs' statements
claim, and the PNG and the page say NOT VERIFIED.

Honest figures: a window adopted after a daemon restart (proven before the restart; the manifest
says ``"adopted": true`` and ``prove_seconds`` 0 -- older daemons wrote only the 0) has no known
proving time: it is drawn as a marker labelled "adopted after restart, time unknown", never as a
0 s bar.  Past ``MAX_TICK_LABELS`` windows only every k-th window is labelled.
"""
from __future__ import annotations

import base64
import html
import io
import math
import os
import time

from . import runfiles as rf
from .errors import ZkdlError

#: the most window labels drawn on an axis (every k-th window is labelled beyond)
MAX_TICK_LABELS = 20
ADOPTED = "adopted after restart, time unknown"


def is_adopted(w: dict) -> bool:
    """A manifest window proven before a daemon restart (its proving time is unknown)."""
    return bool(w.get("adopted")) or not w.get("prove_seconds")


def tick_labels(windows: list[tuple[int, int]], max_labels: int = MAX_TICK_LABELS) -> tuple[list[int], list[str]]:
    """Positions and labels ("t0-t1") of the window ticks: every window up to ``max_labels``
    windows, else every k-th (k = ceil(n / max_labels)) and always the last one."""
    n = len(windows)
    every = max(1, math.ceil(n / max_labels))
    pos = list(range(0, n, every))
    if n and pos[-1] != n - 1:
        if n - 1 - pos[-1] < every / 2:
            pos[-1] = n - 1             # keep the last window labelled without crowding its neighbour
        else:
            pos.append(n - 1)
    return pos, [f"{windows[i][0]}-{windows[i][0] + windows[i][1] - 1}" for i in pos]


def _collect(run_dir: str) -> dict:
    from zkdl.circuits.training import WindowProof
    from zkdl.codec import ProofFormatError

    m = rf.read_json(os.path.join(run_dir, rf.MANIFEST), "manifest", rf.MANIFEST_FORMAT, rf.MANIFEST_VERSION)
    try:
        config = rf.config_from_json(m["config"])
        windows = m["windows"]
    except KeyError as e:
        raise rf.RunFormatError(f"manifest: missing field {e}") from None
    steps, losses, per_step, sizes, idx, adopted = [], [], [], [], [], []
    for w in windows:
        data = rf.read_bytes(os.path.join(run_dir, w["file"]), f"window {w['index']}")
        try:
            st = WindowProof.from_bytes(data).statement
        except ProofFormatError as e:
            raise rf.RunFormatError(f"{w['file']}: {e}") from None
        for j in range(st.T):
            steps.append(st.t0 + j)
            losses.append(None if st.losses is None else rf.loss_value(st.losses[j], config))
        ad = is_adopted(w)
        adopted.append(ad)
        per_step.append(None if ad else float(w["prove_seconds"]) / st.T)
        sizes.append(len(data))
        idx.append((st.t0, st.T))
    return {"manifest": m, "config": config, "steps": steps, "losses": losses, "per_step": per_step,
            "sizes": sizes, "windows": idx, "adopted": adopted}


def write_report(run_dir: str, out: str | None = None, verified: dict | None = None) -> tuple[str, str]:
    """Write the PNG (``out``, default RUN_DIR/report.png) and the HTML page next to it; returns
    their paths.  ``verified``: the summary of ``verify_run(run_dir)`` (the report says the run was
    verified), or None (it says NOT VERIFIED)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        raise ZkdlError("zkdl report needs matplotlib: pip install 'zkdl[report]'") from None
    if not os.path.isdir(run_dir):
        raise rf.RunFormatError(f"{run_dir}: no such directory")
    d = _collect(run_dir)
    if verified is not None and [(w["t0"], w["T"]) for w in verified["windows"]] != d["windows"]:
        raise rf.RunFormatError(f"{run_dir} changed while the report was being made; run zkdl report again")
    png = out or os.path.join(run_dir, "report.png")
    page = os.path.splitext(png)[0] + ".html"
    cfg = d["config"]
    n = len(d["windows"])
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.6))
    xs = [s for s, v in zip(d["steps"], d["losses"]) if v is not None]
    ys = [v for v in d["losses"] if v is not None]
    if ys:
        ax[0].plot(xs, ys, marker="." if len(ys) <= 200 else None, color="C0")
    else:
        ax[0].text(0.5, 0.5, "losses hidden", ha="center", va="center", transform=ax[0].transAxes)
    ax[0].set_title("proven training loss (MSE per example)" if verified else
                    "training loss claimed by the proofs (MSE per example)")
    ax[0].set_xlabel("step")
    ax[0].xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    pos, labels = tick_labels(d["windows"])
    timed = [i for i in range(n) if not d["adopted"][i]]
    ax[1].bar(timed, [d["per_step"][i] for i in timed], color="C1")
    ad = [i for i in range(n) if d["adopted"][i]]
    if ad:
        ax[1].plot(ad, [0.0] * len(ad), linestyle="none", marker="x", markersize=8, color="0.3",
                   label=f"{ADOPTED} ({len(ad)})")
        ax[1].legend(loc="upper right", fontsize=8)
    ax[1].set_title("proof time per step (s), by window")
    ax[2].bar(range(n), [s / 1024 for s in d["sizes"]], color="C2")
    ax[2].set_title("proof size (KiB), by window")
    for a in ax[1:]:
        a.set_xlim(-0.6, n - 0.4)
        a.set_xticks(pos, labels, rotation=45, ha="right", fontsize=7)
        every = pos[1] - pos[0] if len(pos) > 1 else 1
        a.set_xlabel("window (steps)" + (f", one label per {every} windows" if every > 1 else ""))
    arch = "-".join(map(str, cfg.widths))
    mark = "verified (zkdl verify: VALID)" if verified else "NOT VERIFIED: what the proofs claim"
    fig.suptitle(f"zkdl run: {arch} MLP, batch {cfg.batch_size}, lr {cfg.eta:g}, {len(d['steps'])} steps -- {mark}",
                 color="black" if verified else "firebrick")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    rf.atomic_write(png, buf.getvalue())
    m = d["manifest"]

    def cell(i):
        return ADOPTED if d["adopted"][i] else f"{d['per_step'][i]:.3f}"

    rows = "".join(f"<tr><td>{i}</td><td>{t0}..{t0 + T - 1}</td><td>{s}</td><td>{cell(i)}</td></tr>"
                   for i, ((t0, T), s) in enumerate(zip(d["windows"], d["sizes"])))
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    if verified:
        status = (f'<p class="ok"><b>Verified</b>: <code>zkdl verify</code> checked every window proof and the chain '
                  f"of commitments ({len(verified['windows'])} windows, {verified['steps']} steps) when this report "
                  f"was made ({when}): VALID. Figures from the verified proofs.</p>")
    else:
        status = ('<p class="no"><b>NOT VERIFIED</b>: this page shows what the proofs claim (made with '
                  f"<code>--no-verify</code>); run <code>zkdl verify {html.escape(run_dir)}</code> to check "
                  "them.</p>")
    note = (f"<p>{len(ad)} window{'s' if len(ad) != 1 else ''} ({', '.join(str(i) for i in ad)}) "
            f"{'were' if len(ad) != 1 else 'was'} proven before a prover restart and adopted after it: "
            "proving time unknown.</p>") if ad else ""
    doc = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>zkdl run report</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 10px;text-align:right}}
.ok{{color:#155724}} .no{{color:#b22222}}</style></head>
<body><h1>zkdl run report</h1>
{status}
<p>Run directory: <code>{html.escape(os.path.abspath(run_dir))}</code><br>
Architecture {arch} (ReLU MLP, MSE loss), batch {cfg.batch_size}, learning rate {cfg.eta:g}
(= {cfg.eta_int}/2<sup>{cfg.k}</sup>), batch-schedule seed {cfg.seed}, fixed point R={cfg.R}, Q={cfg.Q};
dataset: {m.get('n_examples')} committed examples; {len(d['steps'])} steps in {n} windows;
run {html.escape(str(m.get('status') or ('complete' if m.get('complete') else 'in progress')))}.</p>
{note}
<img alt="loss curve, proof time, proof sizes" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">
<table><tr><th>window</th><th>steps</th><th>proof bytes</th><th>prove s/step</th></tr>{rows}</table>
</body></html>
"""
    rf.atomic_write(page, doc.encode())
    return png, page
