#!/usr/bin/python3
"""PyTorch twin of `rnn-simd train --text FILE` (character-level LM), for the parity run (issue 22 item 5).

Mirrors src/Rnn.Simd.Cli: vocabulary = the text's distinct code points in ordinal order (CharacterVocabulary);
held-out = the last tenth of the text, at most 10 000 characters (TextRun.Split); B contiguous streams of length
L = (n - 1) // B, chunks of T steps, target = next element, the state carried (detached) between chunks and reset
at an epoch start (ContiguousStreams); embedding -> stacked LSTM (dropout between layers) -> linear -> mean
softmax cross-entropy over T*B; Adam(lr), global-norm clip; held-out loss = one stream over the held-out tail from a
zero state, mean nats/char (TextRun.Validate). Prints one JSON object.
"""
import argparse
import json
import os
import time

import torch
import torch.nn as nn


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
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--embedding", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--updates", type=int, default=400)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)

    with open(a.text, "rb") as f:
        text = f.read().decode("utf-8").lstrip("\ufeff")
    vocab = sorted(set(text))                      # code-point order = Rune ordinal order
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    held = min(len(ids) // 10, 10_000) if len(ids) >= 1000 else 0
    train, held_out = ids[: len(ids) - held], ids[len(ids) - held:]

    B, T = a.batch, a.steps
    L = (len(train) - 1) // B
    assert L >= T, "text too short"
    # stream b = train[b*L : b*L + L]; inputs[t, b] = train[b*L + start + t], target = the next element
    base = torch.arange(B) * L

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
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    lossf = nn.CrossEntropyLoss()
    cursor, state = 0, None
    model.train()
    t0 = time.perf_counter()
    for _ in range(a.updates):
        epoch_start = cursor == 0 or cursor + T > L
        if cursor + T > L:
            cursor = 0
        start = cursor
        cursor += T
        if epoch_start:
            state = None
        pos = base[None, :] + start + torch.arange(T)[:, None]   # [T, B]
        x, y = train[pos], train[pos + 1]
        logits, state = model(x, state)
        loss = lossf(logits.reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        state = tuple(s.detach() for s in state)
    seconds = time.perf_counter() - t0

    model.eval()
    with torch.no_grad():
        logits, _ = model(held_out[:-1, None], None)
        held_loss = lossf(logits.reshape(-1, len(vocab)), held_out[1:]).item()
    print(json.dumps({
        "engine": "pytorch", "torch": torch.__version__, "threads": a.threads, "seed": a.seed,
        "updates": a.updates, "final_loss": loss.item(), "held_out_loss": held_loss,
        "seconds": seconds, "seconds_per_update": seconds / a.updates,
        "blas": blas(), "vocabulary": len(vocab), "train_chars": len(train), "held_out_chars": len(held_out),
    }))


if __name__ == "__main__":
    main()
