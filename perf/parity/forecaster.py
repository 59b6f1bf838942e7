#!/usr/bin/python3
"""PyTorch twin of `rnn-simd train --csv FILE --column C` (next-value forecaster), for the parity run (issue 22 item 5).

Mirrors src/Rnn.Simd.Cli/Runs/SeriesRun.cs: the column standardised by its mean and population standard deviation
(over the whole column, float64, then float32); held-out = the last tenth (at most 10 000 values; none under 100);
B contiguous streams of length L = (n - 1) // B over the training part, chunks of T steps, target = the next value,
the state carried (detached) between chunks and reset at an epoch start (ContiguousStreams); x [T, B, 1] -> stacked
LSTM (PyTorch's default init) -> linear [H -> 1]; loss = mean squared error over T*B; Adam(lr), global-norm clip.
Held-out (SeriesRun.Validate): the model primed on the whole training part from a zero state, then each held-out value
predicted one step ahead and fed in, MSE in standardised units; MAE is reported too, standardised and in the column's
units. Prints one JSON object.

  forecaster.py --csv F --column C [model options]            train and score (the run's JSON)
  forecaster.py --csv F --column C --evaluate CHECKPOINT      score an rnn-simd checkpoint's weights with this code
"""
import argparse
import csv
import json
import math
import os
import struct

import torch
import torch.nn as nn

import twin


def read_column(path, column):
    with open(path, newline="") as f:
        return [float(r[column]) for r in csv.DictReader(f)]


def safetensors_params(path):
    """The `param/…` tensors of an rnn-simd checkpoint (a safetensors file; read here without the safetensors package)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, v in header.items():
        if name.startswith("param/"):
            assert v["dtype"] == "F32", name
            lo, hi = v["data_offsets"]
            t = torch.frombuffer(bytearray(data[lo:hi]), dtype=torch.float32).reshape(v["shape"])
            out[name[len("param/"):]] = t.clone()
    return out


class Model(nn.Module):
    def __init__(self, hidden, layers, dropout):
        super().__init__()
        self.rnn = nn.LSTM(1, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, state):
        y, state = self.rnn(x, state)
        return self.head(y), state


def score(model, series, train_len, scale):
    """SeriesRun.Validate: prime on the training part, then one-step-ahead predictions of each held-out value."""
    model.eval()
    with torch.no_grad():
        y, _ = model(series[:-1, None, None], None)
    model.train()
    pred = y[train_len - 1:, 0, 0].double()
    target = series[train_len:].double()
    err = pred - target
    mse = (err * err).mean().item()
    mae = err.abs().mean().item()
    return {"mse": mse, "mae": mae, "mae_units": mae * scale, "rmse_units": math.sqrt(mse) * scale}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--csv", required=True)
    p.add_argument("--column", required=True)
    twin.add_options(p, hidden=32, layers=1, dropout=0.0, batch=4, steps=16, updates=500)
    p.add_argument("--evaluate", default=None, help="an rnn-simd checkpoint: score its weights instead of training")
    a = p.parse_args()

    twin.start(a)

    raw = read_column(a.csv, a.column)
    mean = sum(raw) / len(raw)
    scale = math.sqrt(sum((v - mean) ** 2 for v in raw) / len(raw))
    series = torch.tensor([(v - mean) / scale for v in raw], dtype=torch.float32)
    held = min(len(series) // 10, 10_000) if len(series) >= 100 else 0
    train_len = len(series) - held
    train = series[:train_len]

    model = Model(a.hidden, a.layers, a.dropout)
    if a.evaluate:
        model.load_state_dict(safetensors_params(a.evaluate), strict=True)
        print(json.dumps({"engine": "rnn-simd weights scored by forecaster.py", "checkpoint": os.path.basename(a.evaluate),
                          "held_out": held, "scale": scale, **score(model, series, train_len, scale)}))
        return

    lossf = nn.MSELoss()

    def step_loss(x, y, state):
        pred, state = model(x[..., None], state)
        return lossf(pred, y[..., None]), state

    loss, seconds, curve, valid_seconds = twin.train(
        model, train, a, step_loss, lambda: score(model, series, train_len, scale)["mse"])
    final = score(model, series, train_len, scale)
    print(json.dumps({
        "engine": "pytorch", "torch": torch.__version__, "threads": a.threads, "seed": a.seed, "updates": a.updates,
        "final_loss": loss.item(), "held_out_loss": final["mse"], "held_out_mae": final["mae"],
        "held_out_mae_units": final["mae_units"], "seconds": seconds, "seconds_per_update": seconds / a.updates,
        "validation_seconds": valid_seconds, "held_out": curve, "values": len(series), "held_out_values": held,
        "mean": mean, "scale": scale, "torch_threads": torch.get_num_threads(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")},
    }))


if __name__ == "__main__":
    main()
