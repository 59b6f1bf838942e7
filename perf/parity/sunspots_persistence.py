#!/usr/bin/python3
"""Persistence baseline for the sunspots forecaster (issue 22 item 5, second half): predict the previous value,
scored the way rnn-simd's SeriesRun.Validate scores a model (MSE; MAE as well): the whole column standardised by its mean and
population standard deviation, held-out = the last tenth (at most 10 000 values), mean squared error in
standardised units over the held-out values (the first one predicted from the last training value).
Usage: sunspots_persistence.py [CSV] [COLUMN]"""
import csv
import json
import math
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "/usr/lib/python3/dist-packages/statsmodels/datasets/sunspots/sunspots.csv"
column = sys.argv[2] if len(sys.argv) > 2 else "SUNACTIVITY"
raw = [float(r[column]) for r in csv.DictReader(open(path, newline=""))]
mean = sum(raw) / len(raw)
scale = math.sqrt(sum((v - mean) ** 2 for v in raw) / len(raw))
z = [(v - mean) / scale for v in raw]
held = min(len(z) // 10, 10_000) if len(z) >= 100 else 0
train = len(z) - held
mse = sum((z[i] - z[i - 1]) ** 2 for i in range(train, len(z))) / held
mae = sum(abs(z[i] - z[i - 1]) for i in range(train, len(z))) / held
print(json.dumps({"values": len(z), "held_out": held, "mean": mean, "std": scale, "persistence_mse_standardised": mse,
                  "persistence_mae_standardised": mae, "persistence_mae_units": mae * scale}))
