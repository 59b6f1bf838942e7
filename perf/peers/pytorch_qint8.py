#!/usr/bin/env python3
"""PyTorch 1.13's dynamic int8 quantisation as a peer for Rnn.Simd's int8 rows (issue 21 item 3).

  OMP_NUM_THREADS=N OPENBLAS_NUM_THREADS=N OMP_WAIT_POLICY=passive \\
    /usr/bin/python3 perf/peers/pytorch_qint8.py --threads N [--peers ../shared/peers] [--qengine onednn,qnnpack]

Rows: the `step` rows and the B = 1 `seq` row of the peers' configs.tsv (X = H, 1 layer, biases; step = one time step,
B = 1, the state carried from the previous call; seq = T steps from a zero state, all outputs). For each row the same
seeded float32 module (as ../shared/peers/pytorch/torch_rnn.py builds it) is timed as it is (`precision` f32, engine
`pytorch-py`) and after `torch.quantization.quantize_dynamic(model, {nn.LSTM, nn.GRU, nn.RNN}, dtype=torch.qint8)`
(`precision` int8, engine `pytorch-qint8`), one after the other in the same process, under torch.inference_mode(),
with the peers' own timer (common/bench.py: warm-up, then the median and minimum of 10 batches). Output: one JSON line
per row and precision on stdout in the peers' schema, plus `precision`, `qengine` (the quantised backend),
`quantized` (whether PyTorch replaced the module: it has no dynamic nn.RNN, so the RNN rows stay float32 and say so)
and, for int8, the outputs' error against the float32 module on 20 steps (`max_abs_err`, `rel_rms_err`). The keys
(cell, mode, X, H, B, T, threads, precision) join these lines with `rnn-simd bench --precision int8`'s.

  pytorch_qint8.py --table FILE.jsonl [FILE.jsonl ...]

prints the markdown table of such lines (several passes: the lowest median per row, engine and precision), with a
column for any `rnn-simd` lines in the files (append `rnn-simd bench --precision int8 --json FILE` to the same file,
or name its file too) and the ratios PyTorch int8 / PyTorch f32, PyTorch int8 / rnn-simd f32 and PyTorch int8 /
rnn-simd int8 (above 1: the other is faster).
"""
import argparse
import copy
import math
import sys
from pathlib import Path

import torch
import torch.nn as nn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class Holder(nn.Module):
    """quantize_dynamic replaces a model's children, not the model itself: the recurrent module is held as one."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, state=None):
        return self.rnn(x, state)


def rows(configs):
    from bench import read_configs
    return [r for r in read_configs(configs) if r["mode"] == "step" or (r["mode"] == "seq" and r["B"] == 1)]


def error(f32, q, r):
    """The int8 module's outputs against the float32 one's on 20 steps of one seeded sequence."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20, 1, r["X"], generator=g)
    with torch.inference_mode():
        a, _ = f32(x)
        b, _ = q(x)
    d = (b - a).double()
    return dict(max_abs_err=round(d.abs().max().item(), 6),
                rel_rms_err=round(math.sqrt((d * d).mean().item() / max((a.double() ** 2).mean().item(), 1e-30)), 6))


def timed(mod, r):
    from bench import measure
    T, B, X, H = r["T"], r["B"], r["X"], r["H"]
    torch.manual_seed(1)
    if r["mode"] == "step":
        x = torch.randn(1, B, X)
        z = torch.zeros(1, B, H)
        state = [(z.clone(), z.clone()) if r["cell"] == "lstm" else z.clone()]
        with torch.inference_mode():
            def f():
                _, state[0] = mod(x, state[0])
            return measure(f)
    x = torch.randn(T, B, X)
    with torch.inference_mode():
        return measure(lambda: mod(x))


def table(files):
    import json
    best, extra = {}, {}
    for name in files:
        for line in open(name):
            line = line.strip()
            if not line.startswith("{"):
                continue
            d = json.loads(line)
            prec = d.get("precision", "f32")
            key = (d["cell"], d["mode"], d["X"], d["H"], d["B"], d["T"], d["threads"])
            col = (d["engine"], prec)
            cur = best.setdefault(key, {})
            if col not in cur or d["median_us"] < cur[col]:
                cur[col] = d["median_us"]
                if d["engine"] == "pytorch-qint8":
                    extra[key] = d
    cols = [("pytorch-py", "f32"), ("pytorch-qint8", "int8"), ("rnn-simd", "f32"), ("rnn-simd", "int8")]
    cols = [c for c in cols if any(c in v for v in best.values())]

    def us(v):
        return f"{v:,.1f}" if v is not None else "–"
    print("| row | thr | " + " | ".join(f"{e} {p} µs" for e, p in cols)
          + " | PyTorch int8 / f32 | PyTorch int8 / rnn-simd f32 | PyTorch int8 / rnn-simd int8"
          + " | int8 error vs f32 (max abs, rel RMS) |")
    print("|---|---:|" + "---:|" * len(cols) + "---:|---:|---:|---|")
    for key in sorted(best, key=lambda k: (k[1] != "step", k[0], k[2], k[3], k[4], k[6])):
        cell, mode, X, H, B, T, th = key
        v = best[key]
        q, f = v.get(("pytorch-qint8", "int8")), v.get(("pytorch-py", "f32"))
        mine = v.get(("rnn-simd", "int8"))
        e = extra.get(key, {})
        note = "" if e.get("quantized", True) else " (not quantised)"
        ratio = f"{q / f:.2f}" if q and f else "–"
        mine_ratio = f"{q / mine:.2f}" if q and mine else "–"
        mine32 = v.get(("rnn-simd", "f32"))
        f32_ratio = f"{q / mine32:.2f}" if q and mine32 else "–"
        err = f"{e['max_abs_err']:.4f}, {e['rel_rms_err']:.4f}" if "max_abs_err" in e else "–"
        print(f"| {cell} {mode} H={H} B={B} T={T}{note} | {th} | " + " | ".join(us(v.get(c)) for c in cols)
              + f" | {ratio} | {f32_ratio} | {mine_ratio} | {err} |")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--table":
        table(sys.argv[2:])
        return
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--peers", default=str(here.parent.parent.parent / "shared" / "peers"))
    ap.add_argument("--configs", default=None, help="default: PEERS/configs.tsv")
    ap.add_argument("--qengine", default=torch.backends.quantized.engine,
                    help="quantised backends to time, comma-separated (this torch has: "
                         + ", ".join(e for e in torch.backends.quantized.supported_engines if e != "none") + ")")
    ap.add_argument("--only", default="", help="cell or cell:mode, as the peers' engines")
    a = ap.parse_args()
    sys.path.insert(0, str(Path(a.peers) / "common"))
    from bench import emit, selected

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    engines = [e for e in a.qengine.split(",") if e]
    for r in rows(a.configs or str(Path(a.peers) / "configs.tsv")):
        if not selected(a.only, r):
            continue
        torch.manual_seed(0)
        f32 = Holder(CELLS[r["cell"]](r["X"], r["H"])).eval()
        emit("pytorch-py", r, a.threads, timed(f32, r), precision="f32", torch_version=torch.__version__)
        for engine in engines:
            torch.backends.quantized.engine = engine
            q = torch.quantization.quantize_dynamic(copy.deepcopy(f32), {nn.LSTM, nn.GRU, nn.RNN}, dtype=torch.qint8)
            done = type(q.rnn) is not CELLS[r["cell"]]
            emit("pytorch-qint8", r, a.threads, timed(q, r), precision="int8" if done else "f32", qengine=engine,
                 quantized=done, **(error(f32, q, r) if done else {}), torch_version=torch.__version__)


if __name__ == "__main__":
    main()
