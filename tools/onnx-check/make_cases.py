#!/usr/bin/python3
"""Fresh ONNX cases for tools/onnx-check/run.sh, none of them in the repository: other seeds and sizes than the
committed fixtures. Three groups, one folder per case under OUT/cases/<group>__<name>/ holding model.onnx,
input.safetensors (one tensor per graph input under its graph name: F32, I64 for integers), test_data_set_0/input_N.pb
(the same inputs, for ONNX Runtime) and, where a float64 reference exists, reference.safetensors (F64, per graph output).

- pytorch: PyTorch 1.13's torch.onnx.export of every cell (tanh and ReLU Elman, LSTM, GRU), bidirectional, stacked,
  batch_first, with and without h0/c0, an embedding → GRU → linear classifier and an LSTM → linear per step; each is
  exported at one shape with dynamic axes and run at another; the reference is the module in float64;
- helper: tools/golden/onnx_cases.py's onnx.helper graphs of every attribute (peepholes, clip, input_forget, reverse,
  layout 1, every activation with alpha/beta, sequence_lens, GRU linear_before_reset 0 bidirectional), other seed and
  sizes; the reference is its float64 NumPy one (stored as float32);
- tf2onnx: tools/golden/onnx_tf2onnx.py's Keras layers in tf2onnx's shape, other seed and sizes.

Run: /usr/bin/python3 tools/onnx-check/make_cases.py OUT [SEED]
"""
import os
import shutil
import sys
import warnings
import numpy as np
import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
import safetensors_io  # noqa: E402
import onnx_cases  # noqa: E402
from onnx_stacks import Stack  # noqa: E402


class EmbeddingGruLinear(torch.nn.Module):
    def __init__(self, vocabulary, embedding, hidden, classes):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocabulary, embedding)
        self.rnn = torch.nn.GRU(embedding, hidden, batch_first=True)
        self.fc = torch.nn.Linear(hidden, classes)

    def forward(self, ids):
        y, _ = self.rnn(self.embedding(ids))
        return self.fc(y[:, -1])


class LstmLinearPerStep(torch.nn.Module):
    def __init__(self, features, hidden, outputs):
        super().__init__()
        self.rnn = torch.nn.LSTM(features, hidden)
        self.fc = torch.nn.Linear(hidden, outputs)

    def forward(self, x, h0, c0):
        y, (h, c) = self.rnn(x, (h0, c0))
        return self.fc(y), h, c


def write_case(folder, names, inputs, outputs=None):
    """input.safetensors and test_data_set_0/input_N.pb from numpy inputs; reference.safetensors from float64 outputs."""
    data = os.path.join(folder, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    for k, (n, a) in enumerate(zip(names, inputs)):
        with open(os.path.join(data, f"input_{k}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(a, n).SerializeToString())
    safetensors_io.write(os.path.join(folder, "input.safetensors"),
                         [(n, a.astype(np.int64) if a.dtype.kind in "iu" else a.astype(np.float32)) for n, a in zip(names, inputs)])
    if outputs:
        safetensors_io.write(os.path.join(folder, "reference.safetensors"), [(n, a.astype(np.float64)) for n, a in outputs])


def pytorch_case(out, name, module, export_inputs, run_inputs, input_names, output_names, dynamic_axes):
    folder = os.path.join(out, "pytorch__" + name)
    os.makedirs(folder, exist_ok=True)
    module = module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, export_inputs, os.path.join(folder, "model.onnx"), input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, opset_version=14)
    with torch.no_grad():
        ref = module.double()(*[i.double() if i.is_floating_point() else i for i in run_inputs])
    ref = ref if isinstance(ref, tuple) else (ref,)
    write_case(folder, input_names, [i.numpy() for i in run_inputs], [(n, r.numpy()) for n, r in zip(output_names, ref)])


def stack_case(out, name, rnn, states, shapes):
    """A bare stack exported at shapes[0] = (T, B) and run at shapes[1]."""
    lstm = isinstance(rnn, torch.nn.LSTM)
    rows = rnn.num_layers * (2 if rnn.bidirectional else 1)

    def make(t, b):
        x = torch.randn(b, t, rnn.input_size) if rnn.batch_first else torch.randn(t, b, rnn.input_size)
        extra = [torch.randn(rows, b, rnn.hidden_size) for _ in range((2 if lstm else 1) if states else 0)]
        return tuple([x] + extra)

    names = ["x", "h0", "c0"][:1 + ((2 if lstm else 1) if states else 0)]
    outputs = ["y", "h_n", "c_n"] if lstm else ["y", "h_n"]
    seq = {0: "batch", 1: "steps"} if rnn.batch_first else {0: "steps", 1: "batch"}
    dynamic = {"x": seq, "y": seq, **{n: {1: "batch"} for n in names[1:] + outputs[1:]}}
    pytorch_case(out, name, Stack(rnn), make(*shapes[0]), make(*shapes[1]), names, outputs, dynamic)


def main():
    out = os.path.join(sys.argv[1], "cases")
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 2027
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    torch.manual_seed(seed)
    shapes = [(5, 2), (8, 3)]
    stack_case(out, "rnn_tanh", torch.nn.RNN(5, 6), False, shapes)
    stack_case(out, "rnn_relu_l2_bidir_h0", torch.nn.RNN(5, 4, num_layers=2, nonlinearity="relu", bidirectional=True), True, shapes)
    stack_case(out, "lstm_l3_batch_first", torch.nn.LSTM(5, 7, num_layers=3, batch_first=True), False, shapes)
    stack_case(out, "lstm_bidir_h0_c0", torch.nn.LSTM(3, 4, bidirectional=True), True, shapes)
    stack_case(out, "gru_l2_bidir_batch_first_h0", torch.nn.GRU(6, 5, num_layers=2, bidirectional=True, batch_first=True), True, shapes)
    stack_case(out, "gru", torch.nn.GRU(2, 9), False, shapes)
    pytorch_case(out, "embedding_gru_linear", EmbeddingGruLinear(13, 6, 9, 4), (torch.randint(0, 13, (2, 5)),),
                 (torch.randint(0, 13, (3, 8)),), ["ids"], ["logits"], {"ids": {0: "batch", 1: "steps"}, "logits": {0: "batch"}})
    per_step = LstmLinearPerStep(4, 8, 3)
    pytorch_case(out, "lstm_linear_per_step", per_step, (torch.randn(5, 2, 4), torch.randn(1, 2, 8), torch.randn(1, 2, 8)),
                 (torch.randn(8, 3, 4), torch.randn(1, 3, 8), torch.randn(1, 3, 8)), ["x", "h0", "c0"], ["y", "h_n", "c_n"],
                 {"x": {0: "steps", 1: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"}, "y": {0: "steps", 1: "batch"},
                  "h_n": {1: "batch"}, "c_n": {1: "batch"}})

    # onnx.helper graphs of every attribute, then Keras layers in tf2onnx's shape: their own generators, other seeds
    # and sizes; their references (output_N.pb, graph outputs in order) become reference.safetensors.
    helper_root, tf_root = os.path.join(sys.argv[1], "helper"), os.path.join(sys.argv[1], "tf2onnx")
    for root in (helper_root, tf_root):
        shutil.rmtree(root, ignore_errors=True)
    onnx_cases.main(root=helper_root, seed=seed, t=7, i=3, hs=5)
    os.system(f"/usr/bin/python3 {os.path.join(HERE, '..', 'golden', 'onnx_tf2onnx.py')} --out {tf_root} --seed {seed} "
              "--steps 9 --batch 2 --units 7 > /dev/null")
    for group, root in (("helper", helper_root), ("tf2onnx", tf_root)):
        for name in sorted(os.listdir(root)):
            source = os.path.join(root, name)
            folder = os.path.join(out, f"{group}__{name}")
            shutil.copytree(source, folder)
            model = onnx.load(os.path.join(folder, "model.onnx"))
            data = os.path.join(folder, "test_data_set_0")
            inputs = [numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f"input_{k}.pb"))) for k in range(len(model.graph.input))]
            outputs = [numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f"output_{k}.pb"))) for k in range(len(model.graph.output))]
            write_case(folder, [i.name for i in model.graph.input], inputs, [(o.name, a) for o, a in zip(model.graph.output, outputs)])
    print(len(os.listdir(out)), "cases in", out)


if __name__ == "__main__":
    main()
