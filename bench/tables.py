"""Turn benchmark JSON lines into the markdown tables of docs/benchmarks.md.

    python bench/core.py > core.jsonl; python bench/tables.py core.jsonl
    python bench/tables.py bench/results/v2-*.jsonl          # training / window / growth tables

Training figures (bench/train.py, bench/window.py) are also shown scaled to the reference
machine of the targets (Fr multiplication 20 ns): time x 20 / fr_mul_ns, fr_mul_ns being the
mean of the 1-thread readings of the same file (a run prints one at its start and one at its end).
"""
from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict


REF_NS = 20.0


def load(paths):
    """Rows of the files, each tagged with "_file" and "_run": a run starts at a 1-thread fr_mul_ns
    reading that is not an end-of-run one ("when": "end"); a trailing reading with no figure after
    it (bench/window.py's second reading) belongs to the run before."""
    rows = []
    for p in paths:
        run, figures_in_run = -1, 0
        pending = []
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                r["_file"] = p
                is_start = (r.get("figure") == "fr_mul_ns" and r.get("threads") == 1 and r.get("when") != "end")
                if is_start and (figures_in_run or run < 0):
                    run, figures_in_run = run + 1, 0
                elif r.get("figure") != "fr_mul_ns":
                    figures_in_run += 1
                r["_run"] = (p, max(run, 0))
                rows.append(r)
    return rows


def fr_ns(rows, run):
    """Mean 1-thread fr_mul_ns of one run (None if it has none)."""
    v = [r["value"] for r in rows if r.get("_run") == run and r.get("figure") == "fr_mul_ns"
         and r.get("threads") == 1]
    return sum(v) / len(v) if v else None


def _scaled(v, ns):
    return "–" if v is None or ns is None else f"{v * REF_NS / ns:.3g}"


def core_tables(rows):
    msm = [r for r in rows if r.get("bench") == "core" and r["figure"] == "msm_us_per_point"]
    if not msm:
        return
    fr = {r["threads"]: r["value"] for r in rows if r.get("figure") == "fr_mul_ns"}
    print(f"Fr multiplication (vector a*b, n = 2^20): {fr.get(1)} ns/element on 1 thread, {fr.get(2)} on 2.\n")
    print("MSM, µs per point (zkdl 1 thread / zkdl 2 threads / arkworks, its default pool of 2):\n")
    print("| n | 0/1 | 16-bit | 32-bit | 255-bit |")
    print("|---|---|---|---|---|")
    cell = defaultdict(dict)
    for r in msm:
        cell[(r["n"], r["bits"])][(r["impl"], r["threads"])] = r["value"]
    for n in sorted({r["n"] for r in msm}):
        parts = []
        for b in (1, 16, 32, 255):
            c = cell.get((n, b), {})
            parts.append(" / ".join(str(c.get(k, "–")) for k in (("zkdl", 1), ("zkdl", 2), ("arkworks", 2))))
        print(f"| 2^{n.bit_length() - 1} | " + " | ".join(parts) + " |")
    print()


def proof_tables(rows):
    pc = [r for r in rows if r.get("bench") == "proofcore"]
    if not pc:
        return
    print("Sumcheck Σ eq·f1·…·fk over n random field elements per table:\n")
    print("| n | factors | prove ns/elt plain | prove ns/elt zk | zk/plain | Fr muls/elt | verify s plain / zk | proof bytes plain / zk |")
    print("|---|---|---|---|---|---|---|---|")
    idx = defaultdict(dict)
    for r in pc:
        if r["figure"].startswith("sumcheck"):
            idx[(r["n"], r["factors"])][(r["figure"], r.get("zk"))] = r["value"]
    for (n, f), d in sorted(idx.items()):
        print(f"| 2^{n.bit_length() - 1} | {f} | {d.get(('sumcheck_prove_ns_per_element', False))} | "
              f"{d.get(('sumcheck_prove_ns_per_element', True))} | {d.get(('sumcheck_zk_overhead', None))} | "
              f"{d.get(('sumcheck_fr_muls_per_element', None))} | {d.get(('sumcheck_verify_s', False))} / "
              f"{d.get(('sumcheck_verify_s', True))} | {d.get(('sumcheck_proof_bytes', False))} / "
              f"{d.get(('sumcheck_proof_bytes', True))} |")
    print("\nHyrax (16-bit signed values, √n × √n layout), zero-knowledge opening at a random point:\n")
    print("| n | commit s | open s | verify s | opening group elements | opening bytes |")
    print("|---|---|---|---|---|---|")
    hy = defaultdict(dict)
    for r in pc:
        if r["figure"].startswith("hyrax"):
            hy[r["n"]][r["figure"]] = r["value"]
    for n, d in sorted(hy.items()):
        print(f"| 2^{n.bit_length() - 1} | {d.get('hyrax_commit_s')} | {d.get('hyrax_open_s')} | "
              f"{d.get('hyrax_verify_s')} | {d.get('hyrax_open_group_elements')} | {d.get('hyrax_open_bytes')} |")
    print()


def train_tables(rows):
    tr = [r for r in rows if r.get("bench") == "train" and "config" in r]
    if not tr:
        return
    by = defaultdict(dict)
    for r in tr:
        if r["config"] != "growth":
            by[(r["_run"], r["config"])][r["figure"]] = r

    def val(d, f):
        return d[f]["value"] if f in d else None

    print("Training windows, one row per run (scaled to 20 ns in brackets):\n")
    print("| config | T | fr_mul_ns | prove s/step | commit / sumcheck / lookup / open / other s/step | "
          "verify s/window | proof bytes/window | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    scaled = defaultdict(list)
    for (run, cfg), d in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if "prove_s_per_step" not in d:
            continue
        ns = fr_ns(rows, run)
        ps = d["prove_s_per_step"]
        phases = " / ".join(str(val(d, f"{p}_s_per_step")) for p in ("commit", "sumcheck", "lookup", "open", "other"))
        v = val(d, "verify_s_per_window")
        print(f"| {cfg} | {ps.get('T')} | {ns:.1f} | {ps['value']} ({_scaled(ps['value'], ns)}) | {phases} | "
              f"{v} ({_scaled(v, ns)}) | {val(d, 'proof_bytes_per_window')} | {val(d, 'peak_rss_mb')} |")
        if ns:
            scaled[(cfg, ps.get("T"))].append((ps["value"] * REF_NS / ns, v * REF_NS / ns))
    print()
    for (cfg, T), v in sorted(scaled.items()):
        if len(v) > 1:
            print(f"{cfg} (T = {T}), {len(v)} runs, medians scaled to 20 ns: prove "
                  f"{statistics.median(x[0] for x in v):.3g} s/step, verify "
                  f"{statistics.median(x[1] for x in v):.3g} s/window.\n")
    for (run, cfg), d in sorted(by.items(), key=lambda kv: kv[0][1]):
        if "prove_s" in d:
            ns = fr_ns(rows, run)
            print(f"Inference {cfg}: prove {val(d, 'prove_s')} s ({_scaled(val(d, 'prove_s'), ns)} at 20 ns), verify "
                  f"{val(d, 'verify_s')} s ({_scaled(val(d, 'verify_s'), ns)}), proof {val(d, 'proof_bytes')} bytes, "
                  f"commit_model {val(d, 'commit_model_s')} s ({_scaled(val(d, 'commit_model_s'), ns)}), peak RSS "
                  f"{val(d, 'peak_rss_mb')} MB (fr_mul_ns {ns:.1f}).\n")
    g = [r for r in tr if r["config"] == "growth" and r["figure"] == "proof_bytes_per_window"]
    if g:
        for axis, other, fixed in (("T", "layers", 3), ("layers", "T", 4)):
            sel = sorted((r for r in g if r[other] == fixed), key=lambda r: r[axis])
            print(f"| {axis} ({other} = {fixed}) | " + " | ".join(str(r[axis]) for r in sel) + " |")
            print("|---|" + "---|" * len(sel))
            print("| proof bytes | " + " | ".join(str(r["value"]) for r in sel) + " |")
            print("| limb bits | " + " | ".join(str(r.get("limb_bits", "–")) for r in sel) + " |")
            print()


def window_tables(rows):
    w = [r for r in rows if r.get("bench") == "window"]
    if not w:
        return
    by = defaultdict(dict)
    for r in w:
        by[r["window"]][r["figure"]] = r
    ns = fr_ns(rows, w[0]["_run"])
    print(f"Window size (fr_mul_ns {ns:.1f}; prove and verify scaled to 20 ns in brackets):\n")
    print("| T | prove s/step | commit / sumcheck / lookup / open / other s/step | verify s/window | "
          "proof bytes/window | proof bytes/step | latency s |")
    print("|---|---|---|---|---|---|---|")
    for T, d in sorted(by.items()):
        def val(f):
            return d[f]["value"] if f in d else None
        ph = d.get("prove_s_per_step", {}).get("phases_s_per_step", {})
        phases = " / ".join(str(ph.get(p, "–")) for p in ("commit", "sumcheck", "lookup", "open", "other"))
        print(f"| {T} | {val('prove_s_per_step')} ({_scaled(val('prove_s_per_step'), ns)}) | {phases} | "
              f"{val('verify_s_per_window')} ({_scaled(val('verify_s_per_window'), ns)}) | "
              f"{val('proof_bytes_per_window')} | {val('proof_bytes_per_step')} | {val('latency_s')} |")
    print()


if __name__ == "__main__":
    rows = load(sys.argv[1:])
    core_tables(rows)
    proof_tables(rows)
    train_tables(rows)
    window_tables(rows)
