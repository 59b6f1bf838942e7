#!/usr/bin/python3
"""Graphs in the shape tf2onnx writes for Keras recurrent layers, built with onnx.helper (tf2onnx and TensorFlow are
not installable here). What its rewriters emit (tf2onnx/rewriter/lstm_tf2_rewriter.py, gru_tf2_rewriter.py,
bilstm_rewriter.py, rnn_utils.py; onnx_opset/generator.py for Fill):

- Keras is batch-major: X is Transpose(perm [1, 0, 2]) of the graph input;
- initial states are Keras's zeros [B, units]: Shape(x) → Cast int32 (TensorFlow's shapes) → Slice [0:1] → Squeeze →
  Unsqueeze (Pack) → Concat with [units] → Cast int64 → Expand of a scalar 0 (Fill at opset ≥ 11) or
  ConstantOfShape (opset 9, 10); then Unsqueeze(axes [0]) to [1, B, H]; a bidirectional layer Concats both;
- sequence_lens absent, or an int32 tensor (here: T for every row from the Shape pipeline, or a graph input cast);
- Y is Squeezed on its direction axis [1] and transposed back to [B, T, H]; a bidirectional Y is Sliced per
  direction on axis 1, Squeezed and Concatenated on the last axis; return_sequences=False takes Slice [-1:] on the
  time axis and Squeezes it; the states are Y_h / Y_c Squeezed on axis 0;
- explicit `activations`; Keras GRU with reset_after=True is linear_before_reset=1 with both biases; LSTM's
  recurrent bias is zero (Keras has one bias);
- Squeeze/Unsqueeze/Slice take axes as attributes before opset 13 (Slice before opset 10), as inputs after.

tf2onnx itself writes a Keras SimpleRNN as a Loop, which the engine refuses by name; the SimpleRNN case here puts an
RNN node in the LSTM/GRU layers' glue.

Each case: model.onnx, test_data_set_0/input_N.pb (graph inputs in order) and output_N.pb (graph outputs from a
float64 reference of the ONNX operators, tools/golden/onnx_cases.py's, with the glue in float64 NumPy).

Run: /usr/bin/python3 tools/golden/onnx_tf2onnx.py [--out DIR] [--seed N] [--steps T] [--batch B] [--units H]
"""
import argparse
import os
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

sys.path.insert(0, os.path.dirname(__file__))
from onnx_cases import reference, DEFAULT_ALPHA, DEFAULT_BETA  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "Rnn.Simd.Tests", "GoldenOnnxTf2onnx")


class Graph:
    """Nodes, initializers and a counter for names, in tf2onnx's naming style."""
    def __init__(self, opset):
        self.opset, self.nodes, self.inits, self.n = opset, [], [], 0

    def name(self, op):
        self.n += 1
        return f"{op}__{self.n}"

    def const(self, value, dtype):
        name = self.name("const")
        self.inits.append(numpy_helper.from_array(np.array(value, dtype=dtype), name))
        return name

    def node(self, op, inputs, **attrs):
        out = self.name(op) + ":0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out[:-2], **attrs))
        return out

    def axes_node(self, op, x, axes):
        """Squeeze or Unsqueeze: axes as an attribute before opset 13, as an input from it."""
        if self.opset < 13:
            return self.node(op, [x], axes=axes)
        return self.node(op, [x, self.const(axes, np.int64)])

    def slice(self, x, starts, ends, axes, dtype=np.int64):
        """Slice: attributes before opset 10, inputs from it."""
        if self.opset < 10:
            return self.node("Slice", [x], starts=starts, ends=ends, axes=axes)
        return self.node("Slice", [x, self.const(starts, dtype), self.const(ends, dtype), self.const(axes, dtype)])


def build(name, op, *, opset, units, features, steps, batch, seed, bidirectional=False, sequences=True, states=False,
          lens=None, dense=0, lbr=1, act=None, alpha=None, beta=None, root=OUT):
    rng = np.random.default_rng(seed)
    d = 2 if bidirectional else 1
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[op]
    per = {"RNN": 1, "LSTM": 3, "GRU": 2}[op]
    act = act or ["Tanh"] if op == "RNN" else act or ["Sigmoid", "Tanh", "Tanh"][:per]
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    w = f32(rng.uniform(-0.5, 0.5, (d, gates * units, features)))
    r = f32(rng.uniform(-0.5, 0.5, (d, gates * units, units)))
    b = f32(rng.uniform(-0.3, 0.3, (d, 2 * gates * units)))
    if op == "LSTM":
        b[:, gates * units:] = 0  # Keras's one bias goes in Wb; Rb is zero
    x = f32(rng.uniform(-1, 1, (batch, steps, features)))
    lengths = np.array(rng.integers(1, steps + 1, batch) if lens == "input" else [steps] * batch, dtype=np.int64)

    g = Graph(opset)
    xt = g.node("Transpose", ["input_1"], perm=[1, 0, 2])
    shape32 = g.node("Cast", [g.node("Shape", ["input_1"])], to=TensorProto.INT32)
    rows = g.axes_node("Unsqueeze", g.axes_node("Squeeze", g.slice(shape32, [0], [1], [0]), [0]), [0])
    packed = g.node("Cast", [g.node("Concat", [rows, g.const([units], np.int32)], axis=0)], to=TensorProto.INT64)
    if opset >= 11:
        zeros = g.node("Expand", [g.const(0.0, np.float32), packed])
    else:
        zeros = g.node("ConstantOfShape", [packed], value=numpy_helper.from_array(np.zeros(1, np.float32)))

    def initial():
        parts = [g.axes_node("Unsqueeze", zeros, [0]) for _ in range(d)]
        return parts[0] if d == 1 else g.node("Concat", parts, axis=0)

    inputs = [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["unk__0", "unk__1", features])]
    feeds = [numpy_helper.from_array(x, "input_1")]
    if lens == "shape":
        steps32 = g.slice(shape32, [1], [2], [0])
        seq = g.node("Expand", [steps32, g.node("Cast", [rows], to=TensorProto.INT64)])
    elif lens == "input":
        inputs.append(helper.make_tensor_value_info("lengths", TensorProto.INT64, ["unk__0"]))
        feeds.append(numpy_helper.from_array(lengths, "lengths"))
        seq = g.node("Cast", ["lengths"], to=TensorProto.INT32)
    else:
        seq = ""
    ws = [g.const(w, np.float32), g.const(r, np.float32), g.const(b, np.float32), seq, initial()]
    if op == "LSTM":
        ws.append(initial())
    attrs = {"hidden_size": units, "activations": act * d if len(act) == per else act}
    if bidirectional:
        attrs["direction"] = "bidirectional"
    if op == "GRU":
        attrs["linear_before_reset"] = lbr
    if alpha:
        attrs["activation_alpha"] = alpha
    if beta:
        attrs["activation_beta"] = beta
    outs = [g.name(op) + f":{k}" for k in range(3 if op == "LSTM" else 2)]
    g.nodes.append(helper.make_node(op, [xt] + ws, outs, name=outs[0][:-2], **attrs))

    # float64 reference of the node, then the same glue in NumPy.
    names = attrs["activations"]
    alphas, betas, fns = list(alpha or []), list(beta or []), []
    for n in names:
        fns.append((n, alphas.pop(0) if n in DEFAULT_ALPHA and alphas else DEFAULT_ALPHA.get(n, 0.0),
                    betas.pop(0) if n in DEFAULT_BETA and betas else DEFAULT_BETA.get(n, 0.0)))
    zeros64 = np.zeros((d, batch, units))
    y, yh, yc = reference(op, np.transpose(x, (1, 0, 2)).astype(np.float64), w.astype(np.float64), r.astype(np.float64),
                          b.astype(np.float64), lengths, zeros64, zeros64, units, bool(lbr) if op == "GRU" else False, fns)
    results = []
    last = lambda v, k: g.axes_node("Squeeze", g.slice(v, [-1] if k == 0 else [0], [2**31 - 1] if k == 0 else [1], [0]), [0])
    if bidirectional:
        # Each direction's half; without return_sequences, the forward half's last step and the backward half's first
        # (the step it ends at), as tf2onnx rewrites Keras's output[-1] of the backward layer.
        halves = [g.axes_node("Squeeze", g.slice(outs[0], [k], [k + 1], [1]), [1]) for k in range(2)]
        if sequences:
            seq_out, seq_ref = g.node("Concat", halves, axis=-1), np.concatenate([y[:, 0], y[:, 1]], axis=-1)
        else:
            seq_out, seq_ref = g.node("Concat", [last(halves[0], 0), last(halves[1], 1)], axis=-1), np.concatenate([y[-1, 0], y[0, 1]], axis=-1)
    else:
        seq_out, seq_ref = g.axes_node("Squeeze", outs[0], [1]), y[:, 0]
        if not sequences:
            seq_out, seq_ref = last(seq_out, 0), seq_ref[-1]
    if sequences:
        out, ref = g.node("Transpose", [seq_out], perm=[1, 0, 2]), np.transpose(seq_ref, (1, 0, 2))
    else:
        out, ref = seq_out, seq_ref
    if dense:
        k = f32(rng.uniform(-0.5, 0.5, (ref.shape[-1], dense)))
        bias = f32(rng.uniform(-0.2, 0.2, dense))
        out = g.node("Add", [g.node("MatMul", [out, g.const(k, np.float32)]), g.const(bias, np.float32)])
        ref = ref @ k.astype(np.float64) + bias.astype(np.float64)
    results.append(("output", out, ref))
    if states:
        results.append(("state_h", g.axes_node("Squeeze", outs[1], [0]), yh[0]))
        if op == "LSTM":
            results.append(("state_c", g.axes_node("Squeeze", outs[2], [0]), yc[0]))
    for graph_name, value, _ in results:
        g.nodes.append(helper.make_node("Identity", [value], [graph_name], name=graph_name + "_identity"))

    graph = helper.make_graph(g.nodes, name, inputs,
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, [f"{n}_{k}" for k in range(v.ndim)]) for n, _, v in results], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="rnn-simd tools/golden/onnx_tf2onnx.py")
    model.ir_version = 7
    onnx.checker.check_model(model)
    data = os.path.join(root, name, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    onnx.save(model, os.path.join(root, name, "model.onnx"))
    for k, t in enumerate(feeds):
        with open(os.path.join(data, f"input_{k}.pb"), "wb") as fh:
            fh.write(t.SerializeToString())
    for k, (n, _, v) in enumerate(results):
        with open(os.path.join(data, f"output_{k}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(f32(v), n).SerializeToString())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--seed", type=int, default=41)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--units", type=int, default=5)
    a = parser.parse_args()
    s = dict(units=a.units, features=4, steps=a.steps, batch=a.batch, root=a.out)
    build("keras_lstm_sequences_states_opset13", "LSTM", opset=13, states=True, seed=a.seed + 1, **s)
    build("keras_lstm_last_dense_lens_shape_opset11", "LSTM", opset=11, sequences=False, dense=3, lens="shape", seed=a.seed + 2, **s)
    build("keras_gru_reset_after_states_opset9", "GRU", opset=9, states=True, act=["HardSigmoid", "Tanh"], alpha=[0.2],
          beta=[0.5], seed=a.seed + 3, **s)
    build("keras_gru_reset_before_opset13", "GRU", opset=13, lbr=0, seed=a.seed + 4, **s)
    build("keras_bigru_lens_input_opset13", "GRU", opset=13, bidirectional=True, lens="input", seed=a.seed + 5, **s)
    build("keras_bilstm_last_dense_opset15", "LSTM", opset=15, bidirectional=True, sequences=False, dense=2, seed=a.seed + 6, **s)
    build("keras_simplernn_states_opset13", "RNN", opset=13, states=True, seed=a.seed + 7, **s)
    print("wrote", sorted(os.listdir(a.out)))


if __name__ == "__main__":
    main()
