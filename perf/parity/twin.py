"""What the PyTorch twins of `rnn-simd train` share (char_lm.py, forecaster.py): the options, the threads and seed, and
the stateful training loop over B contiguous streams (src/Rnn.Simd.Cli/Data/ContiguousStreams.cs, TrainingRun)."""
import time

import torch
import torch.nn as nn


def add_options(p, hidden, layers, dropout, batch, steps, updates):
    """The model and schedule options both twins take, with each one's defaults (those of its run.sh call)."""
    p.add_argument("--layers", type=int, default=layers)
    p.add_argument("--hidden", type=int, default=hidden)
    p.add_argument("--dropout", type=float, default=dropout)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--updates", type=int, default=updates)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--valid-every", type=int, default=0,
                   help="measure the held-out loss every this many updates (0: only at the end), as rnn-simd's --valid-every")


def start(a):
    """torch.set_num_threads(--threads), one interop thread, the seed."""
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)


def train(model, sequence, a, step_loss, validate):
    """Adam(--lr) with global-norm clipping over chunks of --steps positions of --batch contiguous streams of
    `sequence`: stream b = sequence[b·L : b·L + L], L = (n − 1) // B, target = the next element, the state carried
    (detached) between chunks and reset when the cursor wraps. `step_loss(x, y, state)` returns (loss, state);
    `validate()` the held-out loss, measured every --valid-every updates.
    Returns (last loss, seconds of the whole loop, curve, seconds spent in validate)."""
    B, T = a.batch, a.steps
    L = (len(sequence) - 1) // B
    assert L >= T, "the data is too short for --batch streams of --steps steps"
    base = torch.arange(B) * L
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    cursor, state, loss = 0, None, None
    curve, valid_seconds = [], 0.0
    model.train()
    t0 = time.perf_counter()
    for update in range(1, a.updates + 1):
        epoch_start = cursor == 0 or cursor + T > L
        if cursor + T > L:
            cursor = 0
        first = cursor
        cursor += T
        if epoch_start:
            state = None
        pos = base[None, :] + first + torch.arange(T)[:, None]   # [T, B]
        loss, state = step_loss(sequence[pos], sequence[pos + 1], state)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        state = tuple(s.detach() for s in state)
        if a.valid_every > 0 and update % a.valid_every == 0:
            v0 = time.perf_counter()
            curve.append({"update": update, "loss": validate()})
            model.train()
            valid_seconds += time.perf_counter() - v0
    return loss, time.perf_counter() - t0, curve, valid_seconds
