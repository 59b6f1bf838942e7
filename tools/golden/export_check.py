#!/usr/bin/python3
"""Check Rnn.Simd's PyTorch export with PyTorch: tests/Rnn.Simd.Tests/GoldenExport/<case>/.

    /usr/bin/python3 tools/golden/export_check.py                 # checks every case, exit status 1 on failure
    /usr/bin/python3 tools/golden/export_check.py --dir some/GoldenExport

Each case directory holds what the C# test Import/PyTorchExportTests.cs writes (and then asserts, byte for byte, that
a re-export still gives): `model.safetensors`, written by PyTorchExport, and `io.safetensors`, a seeded `input` and
the engine's `output`, `h_n` (and `c_n`) for it from the zero state. For each case this script

1. builds the nn.RNN / nn.LSTM / nn.GRU that the shapes and the `cell` / `batch_first` metadata describe (sizes,
   layers, directions, proj_size, nonlinearity), strips the `prefix` (io metadata) from the names, and loads the
   exported tensors with `load_state_dict(strict=True)`: every name and shape must be exactly PyTorch's;
2. runs the module on `input` in float32 and in float64 (module and input cast) and compares the engine's results:
   the engine's error against float64 must be within 4x PyTorch float32's own error plus 1e-7 (and within 1e-5
   absolutely of PyTorch float32).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safetensors_io  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO / "tests" / "Rnn.Simd.Tests" / "GoldenExport"


def build_module(state: Dict[str, torch.Tensor], metadata: Dict[str, str]) -> torch.nn.Module:
    """The module the exported shapes and metadata describe."""
    cell = metadata["cell"]
    batch_first = metadata["batch_first"] == "true"
    gates_hidden, input_size = state["weight_ih_l0"].shape
    gates = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}[cell]
    hidden = gates_hidden // gates
    layers = sum(1 for name in state if name.startswith("weight_ih_l") and not name.endswith("_reverse"))
    bidirectional = "weight_ih_l0_reverse" in state
    common = dict(input_size=input_size, hidden_size=hidden, num_layers=layers,
                  bias="bias_ih_l0" in state, batch_first=batch_first, bidirectional=bidirectional)
    if cell == "lstm":
        proj = state["weight_hr_l0"].shape[0] if "weight_hr_l0" in state else 0
        return torch.nn.LSTM(proj_size=proj, **common)
    if cell == "gru":
        return torch.nn.GRU(**common)
    return torch.nn.RNN(nonlinearity=cell[len("rnn_"):], **common)


def check_case(case_dir: Path) -> List[str]:
    """Checks one case; returns the failures (empty when it passes) and prints a line of figures."""
    model = safetensors_io.read(str(case_dir / "model.safetensors"))
    io = safetensors_io.read(str(case_dir / "io.safetensors"))
    prefix = io.metadata.get("prefix", "")
    state = {}
    for name in model.names():
        if not name.startswith(prefix):
            return [f"{case_dir.name}: tensor {name!r} lies outside the prefix {prefix!r}"]
        state[name[len(prefix):]] = torch.from_numpy(np.array(model[name]))

    module = build_module(state, model.metadata)
    module.load_state_dict(state, strict=True)   # raises on any missing, unexpected or misshapen tensor
    module.eval()
    x = torch.from_numpy(np.array(io["input"]))
    with torch.no_grad():
        out32 = module(x)
        out64 = module.double()(x.double())

    names = ["output", "h_n", "c_n"] if isinstance(module, torch.nn.LSTM) else ["output", "h_n"]
    flat32 = [out32[0], *(out32[1] if isinstance(out32[1], tuple) else (out32[1],))]
    flat64 = [out64[0], *(out64[1] if isinstance(out64[1], tuple) else (out64[1],))]
    failures = []
    figures = []
    for name, r32, r64 in zip(names, flat32, flat64):
        engine = torch.from_numpy(np.array(io[name]))
        if tuple(engine.shape) != tuple(r32.shape):
            failures.append(f"{case_dir.name}: {name} has shape {tuple(engine.shape)}, PyTorch {tuple(r32.shape)}")
            continue
        engine_err = (engine.double() - r64).abs().max().item()
        torch_err = (r32.double() - r64).abs().max().item()
        vs_torch = (engine - r32).abs().max().item()
        figures.append(f"{name} engine-f64 {engine_err:.1e} torch32-f64 {torch_err:.1e} engine-torch32 {vs_torch:.1e}")
        if engine_err > 4 * torch_err + 1e-7 or vs_torch > 1e-5:
            failures.append(f"{case_dir.name}: {name}: engine error {engine_err:.3g} vs PyTorch float32 {torch_err:.3g}")
    print(f"{case_dir.name}: {type(module).__name__} strict load ok; " + "; ".join(figures))
    return failures


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the GoldenExport directory")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cases = sorted(p for p in args.dir.iterdir() if p.is_dir())
    if not cases:
        print(f"no cases under {args.dir}")
        return 1
    failures = [f for case in cases for f in check_case(case)]
    for failure in failures:
        print("FAIL " + failure)
    print(f"torch {torch.__version__}: {len(cases)} cases, {'all passed' if not failures else f'{len(failures)} failures'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
