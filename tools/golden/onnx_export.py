#!/usr/bin/python3
"""Models exported by PyTorch 1.13's torch.onnx.export (Debian's python3-torch), the graphs .NET users hold: the
recurrent nodes with the shape arithmetic, zero initial states, transposes and reshapes the exporter writes around
them, and the heads. Each case: model.onnx, test_data_set_0/input_N.pb (the graph's inputs, in order), and
expected.safetensors with every graph output in float32 (PyTorch, float32) and as "<name>.f64" (the same module in
float64: the reference the tests measure both against).

Run: /usr/bin/python3 tools/golden/onnx_export.py
"""
import os
import sys
import numpy as np
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "Rnn.Simd.Tests", "GoldenOnnxExport")


class StackedBidirectional(torch.nn.Module):
    """2-layer bidirectional LSTM, batch_first, a linear head on every step; returns the head and h_n."""
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = torch.nn.Linear(12, 3)

    def forward(self, x):
        y, (h, _) = self.rnn(x)
        return self.fc(y), h


class EmbeddingGruClassifier(torch.nn.Module):
    """Token ids → embedding → GRU → linear on the last step → softmax."""
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(10, 8)
        self.rnn = torch.nn.GRU(8, 12, batch_first=True)
        self.fc = torch.nn.Linear(12, 3)

    def forward(self, ids):
        y, _ = self.rnn(self.embedding(ids))
        return torch.softmax(self.fc(y[:, -1]), dim=-1)


class LstmWithStates(torch.nn.Module):
    """Time-major LSTM with h0, c0 inputs and a per-step linear; returns the head, h_n and c_n."""
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(5, 7)
        self.fc = torch.nn.Linear(7, 2)

    def forward(self, x, h0, c0):
        y, (h, c) = self.rnn(x, (h0, c0))
        return self.fc(y), h, c


class ReluRnn(torch.nn.Module):
    """Two-layer ReLU Elman network, time-major, tanh on the output."""
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.RNN(3, 5, num_layers=2, nonlinearity="relu")

    def forward(self, x):
        y, _ = self.rnn(x)
        return torch.tanh(y)


def export(name, module, inputs, input_names, output_names, dynamic_axes, root=OUT, opset=14):
    folder = os.path.join(root, name)
    data = os.path.join(folder, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    module = module.eval()
    path = os.path.join(folder, "model.onnx")
    torch.onnx.export(module, inputs, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=opset)
    with torch.no_grad():
        out32 = module(*inputs)
        out64 = module.double()(*[i.double() if i.is_floating_point() else i for i in inputs])
    out32 = out32 if isinstance(out32, tuple) else (out32,)
    out64 = out64 if isinstance(out64, tuple) else (out64,)
    for k, (n, t) in enumerate(zip(input_names, inputs)):
        with open(os.path.join(data, f"input_{k}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(t.numpy(), n).SerializeToString())
    tensors = []
    for n, a, b in zip(output_names, out32, out64):
        tensors.append((n, a.numpy().astype(np.float32)))
        tensors.append((n + ".f64", b.numpy().astype(np.float64)))
    safetensors_io.write(os.path.join(folder, "expected.safetensors"), tensors)


def external(name, source, location):
    """The source export re-saved with every initializer in an external file named by `location` (which the tests
    expect refused when it leaves the folder); inputs and expected outputs copied."""
    import shutil
    import onnx
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(os.path.join(OUT, source, "test_data_set_0"), os.path.join(folder, "test_data_set_0"))
    shutil.copy(os.path.join(OUT, source, "expected.safetensors"), folder)
    model = onnx.load(os.path.join(OUT, source, "model.onnx"))
    if location.startswith("/") or location.startswith(".."):
        for t in model.graph.initializer:
            t.data_location = onnx.TensorProto.EXTERNAL
            del t.external_data[:]
            e = t.external_data.add()
            e.key, e.value = "location", location
            t.ClearField("raw_data")
        onnx.save(model, os.path.join(folder, "model.onnx"))
    else:
        onnx.save_model(model, os.path.join(folder, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=0)


def main():
    torch.manual_seed(13)
    export("lstm_l2_bidir_batch_first_linear", StackedBidirectional(), (torch.randn(3, 6, 4),), ["x"], ["y", "h_n"],
           {"x": {0: "batch", 1: "steps"}, "y": {0: "batch", 1: "steps"}, "h_n": {1: "batch"}})
    export("embedding_gru_classifier", EmbeddingGruClassifier(), (torch.randint(0, 10, (4, 7)),), ["ids"], ["probabilities"],
           {"ids": {0: "batch", 1: "steps"}, "probabilities": {0: "batch"}})
    export("lstm_states_per_step_linear", LstmWithStates(), (torch.randn(5, 2, 5), torch.randn(1, 2, 7), torch.randn(1, 2, 7)),
           ["x", "h0", "c0"], ["y", "h_n", "c_n"], None)
    export("rnn_relu_l2_tanh", ReluRnn(), (torch.randn(6, 3, 3),), ["x"], ["y"], {"x": {0: "steps", 1: "batch"}, "y": {0: "steps", 1: "batch"}})
    print("wrote", sorted(os.listdir(OUT)))

    external("external_data", "lstm_states_per_step_linear", "weights.bin")
    external("external_data_absolute", "lstm_states_per_step_linear", "/etc/hostname")
    external("external_data_escaping", "lstm_states_per_step_linear", "../weights.bin")
    print("wrote external-data cases")


if __name__ == "__main__":
    main()
