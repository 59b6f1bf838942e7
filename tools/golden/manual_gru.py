"""GRU forward written in plain torch ops, for the variant PyTorch does not implement.

PyTorch's nn.GRU applies the reset gate after the recurrent product (ONNX
linear_before_reset=1, Keras reset_after=True):

    r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))          # reset_after=True
    h' = (1 − z) ⊙ n + z ⊙ h

The ONNX default (linear_before_reset=0) applies it to h before the product:

    n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)           # reset_after=False

Weights keep PyTorch's names and gate order (rows r, z, n of weight_ih_l{k}, weight_hh_l{k},
bias_ih_l{k}, bias_hh_l{k}). The function runs in the dtype of its arguments (float32 or
float64), supports layers, both directions, batch_first, h0 and per-sequence lengths with
pack_padded_sequence semantics: outputs at padded steps are 0, h_n is the state after each
sequence's last valid step, the reverse direction starts at t = len − 1.

With reset_after=True it must reproduce nn.GRU; check.py asserts that, which is what vouches
for the masking, direction and layer plumbing used by the reset_after=False fixtures.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch


def gru_forward(x: torch.Tensor, params: Dict[str, torch.Tensor], *, layers: int,
                bidirectional: bool, batch_first: bool, reset_after: bool,
                h0: Optional[torch.Tensor] = None, lengths: Optional[torch.Tensor] = None,
                prefix: str = "") -> Tuple[torch.Tensor, torch.Tensor]:
    if batch_first:
        x = x.transpose(0, 1)
    steps, batch, _ = x.shape
    hidden = params[f"{prefix}weight_hh_l0"].shape[1]
    directions = 2 if bidirectional else 1
    if lengths is None:
        lengths = torch.full((batch,), steps, dtype=torch.int64)

    h_n = []
    layer_input = x
    for layer in range(layers):
        direction_outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
            w_ih = params[f"{prefix}weight_ih{suffix}"]   # [3H, in]  rows r, z, n
            w_hh = params[f"{prefix}weight_hh{suffix}"]   # [3H, H]
            b_ih = params[f"{prefix}bias_ih{suffix}"]     # [3H]
            b_hh = params[f"{prefix}bias_hh{suffix}"]     # [3H]
            w_hn = w_hh[2 * hidden:]
            b_hn = b_hh[2 * hidden:]

            index = layer * directions + direction
            h = h0[index].clone() if h0 is not None else x.new_zeros(batch, hidden)
            out = x.new_zeros(steps, batch, hidden)
            order = range(steps) if direction == 0 else range(steps - 1, -1, -1)
            for t in order:
                valid = (t < lengths).unsqueeze(1)             # [B, 1]
                gi = layer_input[t] @ w_ih.t() + b_ih            # [B, 3H]
                gh = h @ w_hh.t() + b_hh                         # [B, 3H]
                r = torch.sigmoid(gi[:, :hidden] + gh[:, :hidden])
                z = torch.sigmoid(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
                if reset_after:
                    n = torch.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
                else:
                    n = torch.tanh(gi[:, 2 * hidden:] + (r * h) @ w_hn.t() + b_hn)
                h_new = (1 - z) * n + z * h
                h = torch.where(valid, h_new, h)
                out[t] = torch.where(valid, h_new, torch.zeros_like(h_new))
            direction_outputs.append(out)
            h_n.append(h)
        layer_input = torch.cat(direction_outputs, dim=2)

    output = layer_input.transpose(0, 1) if batch_first else layer_input
    return output.contiguous(), torch.stack(h_n)
