#!/usr/bin/env python3
"""The precision table of one run of perf/peers/run.sh (issue 21): per row, thread count and weight precision
(f32, bf16, int8), Rnn.Simd's median, its percentage of the floor *at that precision's bytes* (the weights streamed
at 4, 2 or 1 byte each, plus int8's float32 scale per output row), its speed-up over its own float32 row, and each
peer's median divided by Rnn.Simd's (above 1: Rnn.Simd is faster). The float32 peers (oneDNN, PyTorch C++ and
Python, ONNX Runtime from Node and from C#) are compared with every precision of Rnn.Simd, since a user choosing an
engine chooses between them; PyTorch's dynamic int8 quantisation (`pytorch-qint8`, perf/peers/pytorch_qint8.py) is
compared with the int8 rows on the rows it runs (step and B = 1 seq; it has no dynamic nn.RNN, so not the Elman rows).

  python3 perf/peers/precision.py RESULTS_DIR [--peers ../shared/peers]

RESULTS_DIR is run.sh's `all/` folder: the peers' float32 lines (*.jsonl), `rnn-simd.jsonl` (float32) and
`reduced/*.jsonl` (Rnn.Simd's bf16 and int8 lines and pytorch-qint8's int8 lines, kept out of the peers' own summary).
Several passes: the lowest median per row, engine and precision.
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
from summarize import GATES, Limits, flops, load_jsonl  # noqa: E402
from bench import read_configs  # noqa: E402

BYTES = {"f32": 4, "bf16": 2, "int8": 1}
F32_PEERS = ["onednn", "pytorch-cpp", "pytorch-py", "ort-node", "ort-csharp"]

res = Path(a.results)
best = {}  # (engine, precision) -> key -> lowest median over passes
for p in sorted(res.glob("*.jsonl")) + sorted((res / "reduced").glob("*.jsonl")):
    if p.stem in ("limits", "overheads"):
        continue
    for r in load_jsonl(p):
        key = (r["cell"], r["mode"], r["X"], r["H"], r["B"], r["T"], r["threads"])
        e = best.setdefault((r["engine"], r.get("precision", "f32")), {})
        e[key] = min(e.get(key, float("inf")), r["median_us"])
L = Limits(load_jsonl(res / "limits.jsonl") if (res / "limits.jsonl").exists() else [])
peers = [e for e in F32_PEERS if (e, "f32") in best]
qint8 = ("pytorch-qint8", "int8") in best
precisions = [p for p in BYTES if ("rnn-simd", p) in best]
threads = sorted({k[-1] for k in best.get(("rnn-simd", "f32"), {})}) or [1, 2]


def floor_us(r, t, precision):
    """The harness's floor (summarize.floor_us) with the weights at `precision`'s bytes."""
    peak = L.peak(t)
    if not peak:
        return None
    comp = flops(r) / (peak * 1e3)
    if r["mode"] == "train":
        return comp
    G, X, H = GATES[r["cell"]], r["X"], r["H"]
    b = BYTES[precision]
    scales = 4 * G * H if precision == "int8" else 0
    wx, wh = b * G * H * X + scales, b * G * H * H + scales
    try:
        if r["mode"] == "step":
            mem = (wx + wh) / (L.read_bw(wx + wh, t) * 1e3)
        else:
            mem = wx / (L.read_bw(wx, t) * 1e3) + r["T"] * wh / (L.read_bw(wh, t) * 1e3)
    except TypeError:
        return comp
    return max(comp, mem)


print("### Rnn.Simd at each weight precision against each peer (peer median / Rnn.Simd median; > 1 = Rnn.Simd "
      "faster)\n")
print("Peers run float32 weights, except `pytorch-qint8` (PyTorch's dynamic int8), shown on the int8 rows. "
      "% of floor: the harness's floor with the weights at the row's precision. Speed-up: Rnn.Simd's float32 "
      "median / this row's.\n")
cols = peers + (["pytorch-qint8"] if qint8 else [])
print("| row | thr | precision | Rnn.Simd µs | % of floor | speed-up over f32 | " + " | ".join(cols) + " |")
print("|---|---:|---|---:|---:|---:|" + "---:|" * len(cols))
slower = []
for r in read_configs(Path(a.peers) / "configs.tsv"):
    for t in threads:
        key = (r["cell"], r["mode"], r["X"], r["H"], r["B"], r["T"], t)
        f32 = best.get(("rnn-simd", "f32"), {}).get(key)
        for p in precisions:
            us = best[("rnn-simd", p)].get(key)
            if us is None:
                continue
            cells = []
            for e in cols:
                v = best.get((e, "int8" if e == "pytorch-qint8" else "f32"), {}).get(key)
                if v is None or (e == "pytorch-qint8" and p != "int8"):
                    cells.append("—")
                    continue
                cells.append(f"{v / us:.2f}×")
                if v < us:
                    slower.append(f"{r['cell']} {r['mode']} H={r['H']} B={r['B']} thr={t} {p} vs {e} ({v / us:.2f}×)")
            fl = floor_us(r, t, p)
            floor = f"{100 * fl / us:.0f} %" if fl else "—"
            gain = f"{f32 / us:.2f}×" if f32 and p != "f32" else ""
            name = f"{r['cell']} {r['mode']} X={r['X']} H={r['H']} B={r['B']} T={r['T']}"
            print(f"| {name} | {t} | {p} | {us:,.1f} | {floor} | {gain} | " + " | ".join(cells) + " |")
print()
print("Rows where a peer is faster: " + ("; ".join(slower) if slower else "none") + ".")
