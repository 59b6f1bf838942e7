"""Plain float64 loops from the equations: the independent check of the fixtures.

No torch, no numpy arithmetic: Python floats (IEEE double), one sequence at a time, one gate
row at a time. Gate orders are PyTorch's:

    RNN   h' = f(W_ih x + b_ih + W_hh h + b_hh),  f = tanh or relu
    LSTM  rows of W_ih/W_hh/b_ih/b_hh: i, f, g, o
          i, f, o = σ(·), g = tanh(·)
          c' = f ⊙ c + i ⊙ g
          h' = o ⊙ tanh(c')            then h' = W_hr h' with proj_size
    GRU   rows r, z, n
          r = σ(W_ir x + b_ir + W_hr h + b_hr),  z likewise
          reset after (PyTorch):  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
          reset before (ONNX 0):  n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
          h' = (1 − z) ⊙ n + z ⊙ h

Per-sequence lengths: sequence b runs steps 0..len_b−1 forward and len_b−1..0 in reverse;
outputs past len_b are 0; h_n/c_n are the states after the last step run.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

Vector = List[float]
Matrix = List[List[float]]


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def _affine(w: Matrix, v: Vector, b: Optional[Vector] = None) -> Vector:
    """w v (+ b), each row accumulated left to right in double."""
    result = []
    for j, row in enumerate(w):
        s = 0.0
        for k, wk in enumerate(row):
            s += wk * v[k]
        if b is not None:
            s += b[j]
        result.append(s)
    return result


def _rnn_step(cell, x, h, c, p):
    a = _affine(p["w_ih"], x, p["b_ih"])
    r = _affine(p["w_hh"], h, p["b_hh"])
    pre = [ai + ri for ai, ri in zip(a, r)]
    if cell == "rnn_tanh":
        return [math.tanh(v) for v in pre], None
    return [v if v > 0.0 else 0.0 for v in pre], None


def _lstm_step(cell, x, h, c, p):
    hidden = len(c)
    a = _affine(p["w_ih"], x, p["b_ih"])
    r = _affine(p["w_hh"], h, p["b_hh"])
    pre = [ai + ri for ai, ri in zip(a, r)]
    i = [_sigmoid(v) for v in pre[0:hidden]]
    f = [_sigmoid(v) for v in pre[hidden:2 * hidden]]
    g = [math.tanh(v) for v in pre[2 * hidden:3 * hidden]]
    o = [_sigmoid(v) for v in pre[3 * hidden:4 * hidden]]
    c_new = [f[j] * c[j] + i[j] * g[j] for j in range(hidden)]
    h_new = [o[j] * math.tanh(c_new[j]) for j in range(hidden)]
    if p.get("w_hr") is not None:
        h_new = _affine(p["w_hr"], h_new)
    return h_new, c_new


def _gru_step(cell, x, h, c, p):
    hidden = len(h)
    gi = _affine(p["w_ih"], x, p["b_ih"])
    w_hh, b_hh = p["w_hh"], p["b_hh"]
    gh_rz = _affine(w_hh[:2 * hidden], h, b_hh[:2 * hidden])
    r = [_sigmoid(gi[j] + gh_rz[j]) for j in range(hidden)]
    z = [_sigmoid(gi[hidden + j] + gh_rz[hidden + j]) for j in range(hidden)]
    w_hn, b_hn = w_hh[2 * hidden:], b_hh[2 * hidden:]
    if cell == "gru":
        gh_n = _affine(w_hn, h, b_hn)
        n = [math.tanh(gi[2 * hidden + j] + r[j] * gh_n[j]) for j in range(hidden)]
    else:  # gru_reset_before
        rh = [r[j] * h[j] for j in range(hidden)]
        gh_n = _affine(w_hn, rh, b_hn)
        n = [math.tanh(gi[2 * hidden + j] + gh_n[j]) for j in range(hidden)]
    return [(1.0 - z[j]) * n[j] + z[j] * h[j] for j in range(hidden)], None


_STEPS = {"rnn_tanh": _rnn_step, "rnn_relu": _rnn_step, "lstm": _lstm_step,
          "gru": _gru_step, "gru_reset_before": _gru_step}


def forward(cell: str, params: Dict[str, Matrix], x: List[List[Vector]], *, layers: int,
            bidirectional: bool, hidden: int, h_out: int,
            h0: Optional[List[List[Vector]]] = None, c0: Optional[List[List[Vector]]] = None,
            lengths: Optional[Sequence[int]] = None, prefix: str = ""
            ) -> Tuple[List[List[Vector]], List[List[Vector]], Optional[List[List[Vector]]]]:
    """x is time-major [T][B][X] nested lists; returns output [T][B][D*h_out], h_n, c_n."""
    step = _STEPS[cell]
    steps, batch = len(x), len(x[0])
    directions = 2 if bidirectional else 1
    lengths = list(lengths) if lengths is not None else [steps] * batch
    is_lstm = cell == "lstm"

    h_n: List[List[Vector]] = []
    c_n: List[List[Vector]] = []
    layer_input = x
    for layer in range(layers):
        outputs = [[[] for _ in range(batch)] for _ in range(steps)]
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
            p = {
                "w_ih": params[f"{prefix}weight_ih{suffix}"],
                "w_hh": params[f"{prefix}weight_hh{suffix}"],
                "b_ih": params[f"{prefix}bias_ih{suffix}"],
                "b_hh": params[f"{prefix}bias_hh{suffix}"],
                "w_hr": params.get(f"{prefix}weight_hr{suffix}"),
            }
            index = layer * directions + direction
            h_layer, c_layer = [], []
            for b in range(batch):
                h = list(h0[index][b]) if h0 is not None else [0.0] * h_out
                c = (list(c0[index][b]) if c0 is not None else [0.0] * hidden) if is_lstm else None
                out_b = [[0.0] * h_out for _ in range(steps)]
                order = range(lengths[b]) if direction == 0 else range(lengths[b] - 1, -1, -1)
                for t in order:
                    h, c = step(cell, layer_input[t][b], h, c, p)
                    out_b[t] = h
                for t in range(steps):
                    outputs[t][b] = outputs[t][b] + out_b[t]
                h_layer.append(h)
                c_layer.append(c)
            h_n.append(h_layer)
            c_n.append(c_layer)
        layer_input = outputs
    return layer_input, h_n, (c_n if is_lstm else None)
