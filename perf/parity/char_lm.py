#!/usr/bin/python3
"""PyTorch twin of `rnn-simd train --text FILE` (character-level LM), for the parity run (issue 22 item 5).

Mirrors src/Rnn.Simd.Cli: vocabulary = the text's distinct code points in ordinal order (CharacterVocabulary);
held-out = the last tenth of the text, at most 10 000 characters (TextRun.Split); B contiguous streams of length
L = (n - 1) // B, chunks of T steps, target = next element, the state carried (detached) between chunks and reset
at an epoch start (ContiguousStreams); embedding -> stacked LSTM (dropout between layers) -> linear -> mean
softmax cross-entropy over T*B; Adam(lr), global-norm clip; held-out loss = one stream over the held-out tail from a
zero state, mean nats/char (TextRun.Validate), every --valid-every updates and after the last. `seconds` is the
training loop's wall time including those measurements (as rnn-simd's `--json` seconds), `validation_seconds` their
share. Prints one JSON object.

Threads: run with OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = --threads and OMP_WAIT_POLICY=passive (run.sh does).
Debian's torch 1.13 runs its element-wise ops on libgomp and its GEMMs on OpenBLAS's own pthread pool; with libgomp's
default active spin-wait the two pools fight over 2 vCPUs and a 2-thread update takes many times a 1-thread one.
"""
import argparse
import json
import os

import torch
import torch.nn as nn

import twin


def blas():
    """The BLAS library this process loaded (Debian's libblas.so.3 alternative: reference BLAS, OpenBLAS, BLIS …)."""
    try:
        with open("/proc/self/maps") as f:
            names = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return sorted(os.path.basename(os.path.dirname(n)) + "/" + os.path.basename(n) for n in names)
    except OSError:
        return []


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--text", required=True)
    p.add_argument("--embedding", type=int, default=32)
    twin.add_options(p, hidden=256, layers=2, dropout=0.3, batch=16, steps=64, updates=400)
    a = p.parse_args()

    twin.start(a)

    with open(a.text, "rb") as f:
        text = f.read().decode("utf-8").lstrip("\ufeff")
    vocab = sorted(set(text))                      # code-point order = Rune ordinal order
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    held = min(len(ids) // 10, 10_000) if len(ids) >= 1000 else 0
    train, held_out = ids[: len(ids) - held], ids[len(ids) - held:]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(len(vocab), a.embedding)
            self.lstm = nn.LSTM(a.embedding, a.hidden, a.layers, dropout=a.dropout if a.layers > 1 else 0.0)
            self.out = nn.Linear(a.hidden, len(vocab))

        def forward(self, x, state):
            y, state = self.lstm(self.embed(x), state)
            return self.out(y), state

    model = Model()

    def validate():
        model.eval()
        with torch.no_grad():
            logits, _ = model(held_out[:-1, None], None)
            value = lossf(logits.reshape(-1, len(vocab)), held_out[1:]).item()
        model.train()
        return value

    lossf = nn.CrossEntropyLoss()

    def step_loss(x, y, state):
        logits, state = model(x, state)
        return lossf(logits.reshape(-1, len(vocab)), y.reshape(-1)), state

    loss, seconds, curve, valid_seconds = twin.train(model, train, a, step_loss, validate)

    held_loss = curve[-1]["loss"] if curve and curve[-1]["update"] == a.updates else validate()
    print(json.dumps({
        "engine": "pytorch", "torch": torch.__version__, "threads": a.threads, "seed": a.seed,
        "updates": a.updates, "final_loss": loss.item(), "held_out_loss": held_loss,
        "seconds": seconds, "seconds_per_update": seconds / a.updates,
        "validation_seconds": valid_seconds, "held_out": curve,
        "blas": blas(), "torch_threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")}, "vocabulary": len(vocab), "train_chars": len(train), "held_out_chars": len(held_out),
    }))


if __name__ == "__main__":
    main()
