"""Turn benchmark JSON lines into the markdown tables of docs/benchmarks.md.

    python bench/core.py > core.jsonl; python bench/tables.py core.jsonl
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    rows.append(json.loads(line))
    return rows


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


if __name__ == "__main__":
    rows = load(sys.argv[1:])
    core_tables(rows)
    proof_tables(rows)
