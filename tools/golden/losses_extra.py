#!/usr/bin/python3
"""Fixtures for the losses added after losses.safetensors: BCE with logits and label-smoothed cross-entropy.

    /usr/bin/python3 tools/golden/losses_extra.py     # writes tests/Rnn.Simd.Tests/GoldenLosses/losses_extra.safetensors

Per case: the float32 inputs, PyTorch 1.13's float32 loss gradient ("<case>.grad") and a float64 run of the same
module on the same (float32-exact) inputs ("<case>.loss.f64", "<case>.grad.f64"), which the C# tests compare against
with a tolerance set by PyTorch's own float32 error. Modules: nn.BCEWithLogitsLoss (with and without pos_weight,
logits up to ±40 so the stable form matters) and nn.CrossEntropyLoss(label_smoothing=ε, ignore_index=-100).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safetensors_io  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "tests" / "Rnn.Simd.Tests" / "GoldenLosses" / "losses_extra.safetensors"
SEED = 20261207


def run(module_f32, module_f64, inputs: np.ndarray, target) -> Tuple[np.ndarray, float, np.ndarray]:
    """Float32 gradient, float64 loss and float64 gradient of module(inputs, target)."""
    out = []
    for module, dtype in ((module_f32, torch.float32), (module_f64, torch.float64)):
        x = torch.tensor(inputs, dtype=dtype, requires_grad=True)
        t = torch.tensor(target) if target.dtype == np.int64 else torch.tensor(target, dtype=dtype)
        loss = module(x, t)
        loss.backward()
        out.append((float(loss.detach()), x.grad.detach().numpy()))
    return out[0][1].astype(np.float32), out[1][0], out[1][1].astype(np.float64)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(SEED)
    tensors: List[Tuple[str, np.ndarray]] = []

    # BCE with logits: [R, C] = [7, 5] logits, a few extreme; targets 0/1 and soft labels.
    rows, cols = 7, 5
    logits = (rng.standard_normal((rows, cols)) * 3).astype(np.float32)
    logits[0, :] = [40.0, -40.0, 0.0, 17.5, -17.5]
    targets = rng.integers(0, 2, (rows, cols)).astype(np.float32)
    targets[1, :] = [0.25, 0.5, 0.75, 0.1, 0.9]
    pos_weight = np.array([1.0, 3.0, 0.5, 2.5, 0.0], dtype=np.float32)
    tensors += [("bce.logits", logits), ("bce.targets", targets), ("bce.pos_weight", pos_weight)]
    for reduction in ("mean", "sum"):
        for weighted in (False, True):
            kwargs32 = {"reduction": reduction}
            kwargs64 = {"reduction": reduction}
            if weighted:
                kwargs32["pos_weight"] = torch.tensor(pos_weight, dtype=torch.float32)
                kwargs64["pos_weight"] = torch.tensor(pos_weight, dtype=torch.float64)
            g32, l64, g64 = run(torch.nn.BCEWithLogitsLoss(**kwargs32), torch.nn.BCEWithLogitsLoss(**kwargs64),
                                logits, targets)
            name = f"bce{'_pw' if weighted else ''}.{reduction}"
            tensors += [(name + ".grad", g32), (name + ".loss.f64", np.array([l64])), (name + ".grad.f64", g64)]

    # Label-smoothed cross-entropy: [9, 6] logits, two ignored rows; an all-ignored target set.
    rows, classes = 9, 6
    logits = (rng.standard_normal((rows, classes)) * 2).astype(np.float32)
    ce_targets = rng.integers(0, classes, rows).astype(np.int64)
    ce_targets[2] = -100
    ce_targets[6] = -100
    all_ignored = np.full(rows, -100, dtype=np.int64)
    tensors += [("ls.logits", logits), ("ls.targets", ce_targets), ("ls_all_ignored.targets", all_ignored)]
    for prefix, t in (("ls", ce_targets), ("ls_all_ignored", all_ignored)):
        for eps in (0.1, 0.25):
            for reduction in ("mean", "sum"):
                make = lambda: torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=eps)  # noqa: E731
                g32, l64, g64 = run(make(), make(), logits, t)
                name = f"{prefix}.{int(eps * 100):02d}.{reduction}"
                tensors += [(name + ".grad", g32), (name + ".loss.f64", np.array([l64])), (name + ".grad.f64", g64)]

    args.out.parent.mkdir(parents=True, exist_ok=True)
    safetensors_io.write(str(args.out), tensors, {"generator": "tools/golden/losses_extra.py", "torch": torch.__version__})
    print(f"wrote {len(tensors)} tensors to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
