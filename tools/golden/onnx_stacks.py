#!/usr/bin/python3
"""Bare recurrent stacks exported by PyTorch 1.13's torch.onnx.export: nn.LSTM / nn.GRU / nn.RNN with several layers,
both directions, batch_first, with and without initial states, nothing around them. The engine loads each as one
RecurrentNetwork (OnnxRecurrentStack) and streams it; the tests compare that with ONNX Runtime and with OnnxModel.
Each case is written as onnx_export.py writes its cases (model.onnx, test_data_set_0/input_N.pb,
expected.safetensors with float32 and float64 outputs).

Run: /usr/bin/python3 tools/golden/onnx_stacks.py [--out DIR] [--seed N] [--steps T] [--batch B]
(the committed cases: the defaults, into tests/Rnn.Simd.Tests/GoldenOnnxStack)
"""
import argparse
import os
import sys
import torch

sys.path.insert(0, os.path.dirname(__file__))
from onnx_export import export  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "Rnn.Simd.Tests", "GoldenOnnxStack")


class Stack(torch.nn.Module):
    """The module alone: returns its output sequence and final states; initial states from inputs when given."""
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, *states):
        if isinstance(self.rnn, torch.nn.LSTM):
            y, (h, c) = self.rnn(x, (states[0], states[1]) if states else None)
            return y, h, c
        y, h = self.rnn(x, states[0] if states else None)
        return y, h


def cases():
    """(name, module, initial states wanted, opset): opset 9 writes Slice's and Squeeze's parameters as attributes."""
    return [
        ("lstm_l2", torch.nn.LSTM(4, 6, num_layers=2), False, 14),
        ("lstm_l2_bidir_batch_first_h0", torch.nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True), True, 14),
        ("lstm_l1_h0", torch.nn.LSTM(3, 7), True, 14),
        ("gru_l2_h0", torch.nn.GRU(3, 5, num_layers=2), True, 14),
        ("gru_bidir_batch_first", torch.nn.GRU(4, 6, bidirectional=True, batch_first=True), False, 14),
        ("rnn_tanh_l3_batch_first", torch.nn.RNN(3, 4, num_layers=3, batch_first=True), False, 14),
        ("rnn_relu_l2_bidir_h0", torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True), True, 14),
        ("lstm_l2_h0_opset9", torch.nn.LSTM(3, 4, num_layers=2), True, 9),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--batch", type=int, default=3)
    a = parser.parse_args()
    torch.manual_seed(a.seed)
    for name, rnn, with_states, opset in cases():
        lstm = isinstance(rnn, torch.nn.LSTM)
        x = torch.randn(a.batch, a.steps, rnn.input_size) if rnn.batch_first else torch.randn(a.steps, a.batch, rnn.input_size)
        rows = rnn.num_layers * (2 if rnn.bidirectional else 1)
        inputs, names = [x], ["x"]
        sequence_axes = {0: "batch", 1: "steps"} if rnn.batch_first else {0: "steps", 1: "batch"}
        dynamic = {"x": sequence_axes, "y": sequence_axes, "h_n": {1: "batch"}}
        if with_states:
            inputs.append(torch.randn(rows, a.batch, rnn.hidden_size))
            names.append("h0")
            dynamic["h0"] = {1: "batch"}
            if lstm:
                inputs.append(torch.randn(rows, a.batch, rnn.hidden_size))
                names.append("c0")
                dynamic["c0"] = {1: "batch"}
        outputs = ["y", "h_n", "c_n"] if lstm else ["y", "h_n"]
        if lstm:
            dynamic["c_n"] = {1: "batch"}
        export(name, Stack(rnn), tuple(inputs), names, outputs, dynamic, root=a.out, opset=opset)
    print("wrote", sorted(os.listdir(a.out)))


if __name__ == "__main__":
    main()
