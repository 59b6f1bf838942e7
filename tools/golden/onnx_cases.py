#!/usr/bin/python3
"""ONNX recurrent-node cases the PyTorch exporter never writes, built with onnx.helper, with expected outputs from
an independent float64 NumPy reference of the ONNX operator definitions (RNN, LSTM, GRU: gate orders i,o,f,c and
z,r,h, split W/R biases, both GRU forms, layouts 0 and 1, sequence_lens, initial states).

Writes tests/Rnn.Simd.Tests/GoldenOnnx/<case>/model.onnx and test_data_set_0/{input,output}_N.pb, the layout of
ONNX's own node tests. Run with Debian's python3 (python3-onnx, python3-numpy): /usr/bin/python3 tools/golden/onnx_cases.py
"""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "Rnn.Simd.Tests", "GoldenOnnx")


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# ONNX's activation functions with their alpha and beta (defaults as the ONNX operators of the same names).
ACT = {
    "Tanh": lambda v, a, b: np.tanh(v),
    "Relu": lambda v, a, b: np.maximum(v, 0.0),
    "Sigmoid": lambda v, a, b: sigmoid(v),
    "Affine": lambda v, a, b: a * v + b,
    "LeakyRelu": lambda v, a, b: np.where(v >= 0, v, a * v),
    "ThresholdedRelu": lambda v, a, b: np.where(v > a, v, 0.0),
    "ScaledTanh": lambda v, a, b: a * np.tanh(b * v),
    "HardSigmoid": lambda v, a, b: np.clip(a * v + b, 0.0, 1.0),
    "Elu": lambda v, a, b: np.where(v >= 0, v, a * (np.exp(v) - 1)),
    "Softsign": lambda v, a, b: v / (1 + np.abs(v)),
    "Softplus": lambda v, a, b: np.log1p(np.exp(v)),
}
DEFAULT_ALPHA = {"LeakyRelu": 0.01, "ThresholdedRelu": 1.0, "ScaledTanh": 1.0, "HardSigmoid": 0.2, "Elu": 1.0, "Affine": 1.0}
DEFAULT_BETA = {"ScaledTanh": 1.0, "HardSigmoid": 0.5, "Affine": 0.0}


def step(op, x, h, c, w, r, wb, rb, hs, lbr, fns, clip=0.0, p=None, coupled=False):
    """One step of one direction for one sequence, float64; fns are (name, alpha, beta) per activation. Returns (h, c)."""
    def f(k, v):
        name, a, b = fns[k]
        return ACT[name](np.clip(v, -clip, clip) if clip else v, a, b)

    def out(k, v):  # the LSTM output activation h(c): not clipped
        name, a, b = fns[k]
        return ACT[name](v, a, b)

    if op == "RNN":
        return f(0, w @ x + r @ h + wb + rb), None
    if op == "LSTM":
        g = w @ x + r @ h + wb + rb
        i, o, fg, cc = (g[k * hs:(k + 1) * hs] for k in range(4))
        if p is not None:
            i = i + p[:hs] * c
            fg = fg + p[2 * hs:] * c
        ig = f(0, i)
        ft = 1 - ig if coupled else f(0, fg)
        c = ft * c + ig * f(1, cc)
        if p is not None:
            o = o + p[hs:2 * hs] * c
        return f(0, o) * out(2, c), c
    gx = w @ x + wb
    z = f(0, gx[:hs] + r[:hs] @ h + rb[:hs])
    rr = f(0, gx[hs:2 * hs] + r[hs:2 * hs] @ h + rb[hs:2 * hs])
    if lbr:
        n = f(1, gx[2 * hs:] + rr * (r[2 * hs:] @ h + rb[2 * hs:]))
    else:
        n = f(1, gx[2 * hs:] + r[2 * hs:] @ (rr * h) + rb[2 * hs:])
    return (1 - z) * n + z * h, None


def reference(op, x, w, r, b, lens, h0, c0, hs, lbr, act, reverse=False, clip=0.0, p=None, coupled=False):
    """x [T, B, I] (time-major), weights [D, ...]; returns Y [T, D, B, H], Y_h [D, B, H], Y_c [D, B, H]."""
    t_, b_, _ = x.shape
    d_ = w.shape[0]
    g = w.shape[1]
    y = np.zeros((t_, d_, b_, hs))
    yh = np.zeros((d_, b_, hs))
    yc = np.zeros((d_, b_, hs))
    for d in range(d_):
        wb, rb = b[d, :g], b[d, g:]
        for s in range(b_):
            h, c = h0[d, s].copy(), c0[d, s].copy()
            order = range(lens[s]) if d == 0 and not reverse else reversed(range(lens[s]))
            per = {"RNN": 1, "LSTM": 3, "GRU": 2}[op]
            fns = act[d * per:(d + 1) * per]
            for t in order:
                h, c2 = step(op, x[t, s], h, c, w[d], r[d], wb, rb, hs, lbr, fns, clip, None if p is None else p[d], coupled)
                c = c2 if c2 is not None else c
                y[t, d, s] = h
            yh[d, s], yc[d, s] = h, c
    return y, yh, yc


def case(name, op, *, d=1, reverse=False, layout=0, lbr=None, act=None, t=5, b=3, i=4, hs=6, lens=None, init=False, bias=True,
         outputs=("Y", "Y_h", "Y_c"), opset=14, seed=0, alpha=None, beta=None, clip=None, peepholes=False, coupled=False, root=OUT):
    rng = np.random.default_rng(seed)
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[op]
    w = rng.uniform(-0.6, 0.6, (d, gates * hs, i))
    r = rng.uniform(-0.6, 0.6, (d, gates * hs, hs))
    bb = rng.uniform(-0.4, 0.4, (d, 2 * gates * hs)) if bias else np.zeros((d, 2 * gates * hs))
    x = rng.uniform(-1, 1, (t, b, i))
    lengths = np.array(lens if lens is not None else [t] * b, dtype=np.int32)
    h0 = rng.uniform(-0.5, 0.5, (d, b, hs)) if init else np.zeros((d, b, hs))
    c0 = rng.uniform(-0.5, 0.5, (d, b, hs)) if init and op == "LSTM" else np.zeros((d, b, hs))
    # The operator runs in float32: round the data first, then the reference works on those values in float64.
    w, r, bb, x, h0, c0 = (a.astype(np.float32).astype(np.float64) for a in (w, r, bb, x, h0, c0))
    per = {"RNN": 1, "LSTM": 3, "GRU": 2}[op]
    names = act if act and len(act) == per * d else (act * d if act else (["Tanh"] if op == "RNN" else ["Sigmoid", "Tanh", "Tanh"][:per]) * d)
    # activation_alpha/beta are consumed in the order of the activations, each value by the next function that takes
    # the parameter (ONNX Runtime's reading); functions left without one keep their default.
    alphas, betas, fns = list(alpha or []), list(beta or []), []
    for n in names:
        fa = alphas.pop(0) if n in DEFAULT_ALPHA and alphas else DEFAULT_ALPHA.get(n, 0.0)
        fb = betas.pop(0) if n in DEFAULT_BETA and betas else DEFAULT_BETA.get(n, 0.0)
        fns.append((n, fa, fb))
    pp = rng.uniform(-0.5, 0.5, (d, 3 * hs)).astype(np.float32).astype(np.float64) if peepholes else None
    y, yh, yc = reference(op, x, w, r, bb, lengths, h0, c0, hs, bool(lbr), fns, reverse, clip or 0.0, pp, coupled)

    f32 = lambda a: a.astype(np.float32)
    batch_major = lambda a: np.transpose(a, (1, 0, 2))            # [D|T, B, ·] → [B, D|T, ·]
    xin = batch_major(x) if layout else x
    yout = np.transpose(y, (2, 0, 1, 3)) if layout else y          # [T, D, B, H] → [B, T, D, H]
    state = batch_major if layout else (lambda a: a)

    inputs = [("X", TensorProto.FLOAT, list(xin.shape), f32(xin))]
    node_inputs = ["X", "W", "R", "B" if bias else ""]
    if lens is not None:
        inputs.append(("sequence_lens", TensorProto.INT32, [b], lengths))
        node_inputs.append("sequence_lens")
    if init:
        node_inputs += [""] * (5 - len(node_inputs))
        inputs.append(("initial_h", TensorProto.FLOAT, list(state(h0).shape), f32(state(h0))))
        node_inputs.append("initial_h")
        if op == "LSTM":
            inputs.append(("initial_c", TensorProto.FLOAT, list(state(c0).shape), f32(state(c0))))
            node_inputs.append("initial_c")
    produced = {"Y": f32(yout), "Y_h": f32(state(yh)), "Y_c": f32(state(yc))}
    node_outputs = [n if n in outputs else "" for n in (("Y", "Y_h", "Y_c") if op == "LSTM" else ("Y", "Y_h"))]
    while node_outputs and node_outputs[-1] == "":
        node_outputs.pop()

    attrs = {"hidden_size": hs}
    if d == 2:
        attrs["direction"] = "bidirectional"
    if reverse:
        attrs["direction"] = "reverse"
    if layout:
        attrs["layout"] = layout
    if lbr is not None:
        attrs["linear_before_reset"] = lbr
    if act:
        attrs["activations"] = names
    if alpha:
        attrs["activation_alpha"] = alpha
    if beta:
        attrs["activation_beta"] = beta
    if clip:
        attrs["clip"] = clip
    if coupled:
        attrs["input_forget"] = 1
    if peepholes:
        node_inputs += [""] * (7 - len(node_inputs))
        node_inputs.append("P")
    node = helper.make_node(op, node_inputs, node_outputs, name=f"{op.lower()}_0", **attrs)
    inits = [numpy_helper.from_array(f32(w), "W"), numpy_helper.from_array(f32(r), "R")]
    if bias:
        inits.append(numpy_helper.from_array(f32(bb), "B"))
    if peepholes:
        inits.append(numpy_helper.from_array(f32(pp), "P"))
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info(n, ty, shape) for n, ty, shape, _ in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(produced[n].shape)) for n in node_outputs if n],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="rnn-simd tools/golden/onnx_cases.py")
    model.ir_version = 7
    folder = os.path.join(root, name)
    data = os.path.join(folder, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    for k, (n, _, _, v) in enumerate(inputs):
        with open(os.path.join(data, f"input_{k}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(v, n).SerializeToString())
    for k, n in enumerate(n for n in node_outputs if n):
        with open(os.path.join(data, f"output_{k}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(produced[n], n).SerializeToString())


def main(root=OUT, seed=0, **sizes):
    """Every case into root; seed shifts every case's seed; sizes (t, i, hs) replace the defaults (b stays 3: the
    cases' lengths are per sequence)."""
    case("lstm_bidir_layout0_lens_init", "LSTM", d=2, lens=[5, 2, 4], init=True, seed=seed + 1, root=root, **sizes)
    case("lstm_fwd_layout1_yh_only", "LSTM", layout=1, init=True, outputs=("Y_h",), seed=seed + 2, root=root, **sizes)
    case("gru_lbr0_bidir_layout1_lens", "GRU", d=2, layout=1, lbr=0, lens=[3, 5, 1], init=True, seed=seed + 3, root=root, **sizes)
    case("gru_lbr1_fwd_opset7_nobias", "GRU", lbr=1, bias=False, opset=7, seed=seed + 4, root=root, **sizes)
    case("rnn_relu_bidir_layout1", "RNN", d=2, layout=1, act=["Relu"], init=True, seed=seed + 5, root=root, **sizes)
    case("rnn_tanh_bidir_layout0_lens", "RNN", d=2, lens=[1, 5, 3], seed=seed + 6, root=root, **sizes)
    case("lstm_reverse_layout0_lens_init", "LSTM", reverse=True, lens=[4, 5, 2], init=True, seed=seed + 7, root=root, **sizes)
    case("gru_lbr1_reverse_layout1_lens", "GRU", reverse=True, layout=1, lbr=1, lens=[2, 5, 3], seed=seed + 8, root=root, **sizes)
    case("lstm_peepholes_clip_bidir_lens", "LSTM", d=2, peepholes=True, clip=0.7, lens=[5, 3, 4], init=True, seed=seed + 9, root=root, **sizes)
    case("lstm_input_forget_activations", "LSTM", coupled=True, act=["HardSigmoid", "Softsign", "ScaledTanh"],
         alpha=[0.3, 1.2], beta=[0.4, 0.8], init=True, seed=seed + 10, root=root, **sizes)
    case("gru_lbr0_activations_clip_bidir", "GRU", d=2, lbr=0, act=["HardSigmoid", "Elu", "Sigmoid", "LeakyRelu"],
         alpha=[0.25, 0.9, 0.05], beta=[0.45], clip=1.5, layout=1, seed=seed + 11, root=root, **sizes)
    case("gru_lbr1_affine_softplus", "GRU", lbr=1, act=["Sigmoid", "Softplus"], seed=seed + 12, root=root, **sizes)
    case("rnn_thresholded_relu_reverse", "RNN", reverse=True, act=["ThresholdedRelu"], alpha=[0.1], lens=[5, 2, 4], seed=seed + 13, root=root, **sizes)
    case("rnn_affine_bidir", "RNN", d=2, act=["Affine", "Softsign"], alpha=[0.5], beta=[0.1], seed=seed + 14, root=root, **sizes)
    print("wrote", sorted(os.listdir(root)))


if __name__ == "__main__":
    main()
