#!/usr/bin/env python3
"""Ratios of one run of perf/peers/run.sh: per row and thread count, each peer's median divided by Rnn.Simd's
(above 1: Rnn.Simd is faster), Rnn.Simd's median as a percentage of the harness's floor (floor_us / median: 100 %
would be the machine's limit), and the 2-thread speed-up.

  python3 perf/peers/ratios.py RESULTS_DIR [--peers ../shared/peers]

Reads the harness's own floor (summarize.floor_us) and limits, so the figures match summary.md.
"""
import argparse
import json
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("--peers", default=str(here.parent.parent.parent / "shared" / "peers"))
a = ap.parse_args()
sys.path.insert(0, a.peers)
sys.path.insert(0, str(Path(a.peers) / "common"))
from summarize import Limits, floor_us, load_jsonl  # noqa: E402
from bench import read_configs  # noqa: E402

res = Path(a.results)
best = {}  # engine -> key -> lowest median over passes
for p in sorted(res.glob("*.jsonl")):
    if p.stem in ("limits", "overheads"):
        continue
    for r in load_jsonl(p):
        key = (r["cell"], r["mode"], r["X"], r["H"], r["B"], r["T"], r["threads"])
        e = best.setdefault(r["engine"], {})
        e[key] = min(e.get(key, float("inf")), r["median_us"])
ours = best.pop("rnn-simd", {})
peers = [e for e in ("onednn", "pytorch-cpp", "pytorch-py", "ort-node") if e in best] + sorted(
    e for e in best if e not in ("onednn", "pytorch-cpp", "pytorch-py", "ort-node"))
L = Limits(load_jsonl(res / "limits.jsonl") if (res / "limits.jsonl").exists() else [])
threads = sorted({k[-1] for k in ours}) or [1, 2]

print("### Rnn.Simd against each peer (peer median / Rnn.Simd median; > 1 = Rnn.Simd faster)\n")
print("| row | thr | Rnn.Simd µs | " + " | ".join(peers) + " | % of floor | 2T speed-up |")
print("|---|---:|---:|" + "---:|" * len(peers) + "---:|---:|")
slower = []
for r in read_configs(Path(a.peers) / "configs.tsv"):
    for t in threads:
        key = (r["cell"], r["mode"], r["X"], r["H"], r["B"], r["T"], t)
        us = ours.get(key)
        if us is None:
            continue
        cells = []
        for e in peers:
            v = best[e].get(key)
            if v is None:
                cells.append("—")
                continue
            cells.append(f"{v / us:.2f}×")
            if v < us:
                slower.append(f"{r['cell']} {r['mode']} H={r['H']} B={r['B']} thr={t} vs {e} ({v / us:.2f}×)")
        fl = floor_us(r, t, L)
        one = ours.get(key[:-1] + (1,))
        speedup = f"{one / us:.2f}×" if t > 1 and one else ""
        name = f"{r['cell']} {r['mode']} X={r['X']} H={r['H']} B={r['B']} T={r['T']}"
        floor = f"{100 * fl / us:.0f} %" if fl else "—"
        print(f"| {name} | {t} | {us:,.1f} | " + " | ".join(cells) + f" | {floor} | {speedup} |")
print()
print("Rows where a peer is faster: " + ("; ".join(slower) if slower else "none") + ".")
