#!/usr/bin/python3
"""Optimiser and learning-rate schedule fixtures from PyTorch 1.13 for Rnn.Simd.Training.

    /usr/bin/python3 tools/golden/optim.py                 # writes tests/Rnn.Simd.Tests/GoldenOptim/optim.safetensors
    /usr/bin/python3 tools/golden/optim.py --out x.safetensors

Three float32 parameter tensors (sizes chosen so PyTorch's AVX2 kernels run both their vector body and their
scalar tail) start from seeded normals; each optimiser configuration takes STEPS steps with the single-tensor
implementation (foreach=False), fed the same seeded gradients, and the parameters after every step are stored.
The schedules' learning rates per epoch are stored in both of PyTorch's forms: recursive (scheduler.step()) and
closed (_get_closed_form_lr). See README.md, "Optimiser fixtures".
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safetensors_io  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "tests" / "Rnn.Simd.Tests" / "GoldenOptim" / "optim.safetensors"

SEED = 20240613
STEPS = 10
# 60 = 3·16 + 12 and 37 = 2·16 + 5 exercise the 2×8-float vector body and the scalar tail; 5 is all tail.
SHAPES: List[Tuple[int, ...]] = [(12, 5), (37,), (5,)]
# The role each tensor plays in the C# set (tensor 1 is the one a "no decay on biases" group excludes).
ROLES = ["RecurrentWeight", "RecurrentBias", "DenseWeight"]

# name -> (torch class, kwargs, learning-rate sequence kind, tensor indices with weight_decay=0)
CONFIGS: List[Tuple[str, str, Dict[str, object], str, List[int]]] = [
    ("sgd_plain", "SGD", dict(lr=0.1), "constant", []),
    ("sgd_momentum", "SGD", dict(lr=0.05, momentum=0.9), "constant", []),
    ("sgd_nesterov_wd", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), "constant", []),
    ("sgd_dampening", "SGD", dict(lr=0.05, momentum=0.8, dampening=0.3), "constant", []),
    ("sgd_momentum_wd_cosine", "SGD", dict(lr=0.07, momentum=0.6, weight_decay=0.02), "cosine", []),
    ("adam", "Adam", dict(lr=0.01), "constant", []),
    ("adam_wd", "Adam", dict(lr=0.01, weight_decay=0.05), "constant", []),
    ("adam_amsgrad", "Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=True), "constant", []),
    ("adam_cosine", "Adam", dict(lr=0.02, betas=(0.85, 0.995)), "cosine", []),
    ("adamw", "AdamW", dict(lr=0.01, weight_decay=0.1), "constant", []),
    ("adamw_amsgrad", "AdamW", dict(lr=0.003, weight_decay=0.3, amsgrad=True), "constant", []),
    ("adamw_bias_no_decay", "AdamW", dict(lr=0.01, weight_decay=0.1), "constant", [1]),
    ("rmsprop", "RMSprop", dict(lr=0.01), "constant", []),
    ("rmsprop_momentum_wd", "RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.01), "constant", []),
    ("rmsprop_centered", "RMSprop", dict(lr=0.01, alpha=0.9, centered=True), "constant", []),
    ("rmsprop_centered_momentum", "RMSprop", dict(lr=0.005, centered=True, momentum=0.5, eps=1e-4), "constant", []),
    ("sgd_momentum_bias_no_decay", "SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1), "constant", [1]),
]

EPOCHS = 25
SCHEDULES = [
    ("step_lr", "StepLR", dict(step_size=3, gamma=0.3), 0.1),
    ("cosine", "CosineAnnealingLR", dict(T_max=10, eta_min=0.001), 0.05),
    ("cosine_no_min", "CosineAnnealingLR", dict(T_max=7), 0.3),
    ("linear_warmup", "LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=4), 0.02),
]


def check_kernel_rounding() -> None:
    """Checks, element by element, that this PyTorch build rounds the ops the optimisers use as the C# code
    assumes (see README.md): add(alpha) and addcmul fused, addcdiv not, scalar div a true division. A build
    that rounds otherwise (another CPU dispatch, no FMA) would produce fixtures the C# test cannot match."""
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.fmaf.restype = ctypes.c_float
    libm.fmaf.argtypes = [ctypes.c_float] * 3

    def fma(a: np.ndarray, b, c: np.ndarray) -> np.ndarray:
        b = np.broadcast_to(np.float32(b), a.shape) if np.ndim(b) == 0 else b
        return np.array([libm.fmaf(float(x), float(y), float(z)) for x, y, z in zip(a, b, c)], dtype=np.float32)

    g = torch.Generator().manual_seed(1)
    n = 1037                                   # 64 vector blocks of 16 and a scalar tail of 13
    a, b = torch.randn(n, generator=g), torch.randn(n, generator=g)
    c = torch.rand(n, generator=g) + 0.1
    A, B, C = a.numpy(), b.numpy(), c.numpy()
    f = np.float32
    checks = {
        "add(alpha) = fma(b, alpha, a)": (a.add(b, alpha=0.3), fma(B, 0.3, A)),
        "addcmul = fma(v*b, c, a)": (a.addcmul(b, c, value=0.001), fma(f(0.001) * B, C, A)),
        "addcdiv = a + (v*b)/c": (a.addcdiv(b, c, value=-0.01), A + (f(-0.01) * B) / C),
        "mul(scalar)": (a.mul(0.9), A * f(0.9)),
        "div(scalar) = true division": (c.div(0.7), C / f(0.7)),
        "sqrt": (c.sqrt(), np.sqrt(C)),
    }
    for name, (actual, expected) in checks.items():
        mismatches = int((actual.numpy() != expected).sum())
        if mismatches:
            raise SystemExit(f"this PyTorch build rounds differently: {name}: {mismatches} of {n} elements differ")
    print(f"kernel rounding as assumed: {', '.join(checks)}")


def learning_rates(kind: str, lr: float) -> List[float]:
    """The rate of each step: constant, or a closed-form cosine over the steps (changes lr between steps)."""
    if kind == "constant":
        return [lr] * STEPS
    eta_min, t_max = lr / 10, 6
    return [eta_min + (lr - eta_min) * (1 + math.cos(math.pi * s / t_max)) / 2 for s in range(STEPS)]


def run_config(name: str, cls: str, kwargs: Dict[str, object], kind: str, no_decay: List[int],
               initial: List[np.ndarray], grads: List[np.ndarray]) -> Tuple[List[np.ndarray], List[float]]:
    params = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in initial]
    kwargs = dict(kwargs)
    kwargs["foreach"] = False
    if no_decay:
        groups = [{"params": [p for i, p in enumerate(params) if i not in no_decay]},
                  {"params": [params[i] for i in no_decay], "weight_decay": 0.0}]
    else:
        groups = [{"params": params}]
    optimizer = getattr(torch.optim, cls)(groups, **kwargs)
    rates = learning_rates(kind, float(kwargs["lr"]))
    trajectory = [np.zeros((STEPS,) + p.shape, dtype=np.float32) for p in initial]
    for step in range(STEPS):
        for group in optimizer.param_groups:
            group["lr"] = rates[step]
        for i, p in enumerate(params):
            p.grad = torch.from_numpy(grads[i][step].copy())
        optimizer.step()
        for i, p in enumerate(params):
            trajectory[i][step] = p.detach().numpy()
    return trajectory, rates


def run_schedule(cls: str, kwargs: Dict[str, object], base_lr: float) -> Tuple[np.ndarray, np.ndarray]:
    """Learning rate per epoch 0..EPOCHS-1: (recursive, closed form)."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr)
    scheduler = getattr(torch.optim.lr_scheduler, cls)(optimizer, **kwargs)
    recursive, closed = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # "call optimizer.step() before lr_scheduler.step()"
        for epoch in range(EPOCHS):
            recursive.append(scheduler.get_last_lr()[0])
            optimizer.step()
            scheduler.step()
        for epoch in range(EPOCHS):
            scheduler.last_epoch = epoch
            closed.append(scheduler._get_closed_form_lr()[0])
    return np.array(recursive, dtype=np.float64), np.array(closed, dtype=np.float64)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    check_kernel_rounding()

    generator = torch.Generator().manual_seed(SEED)
    initial = [torch.randn(shape, generator=generator).numpy() for shape in SHAPES]
    # Gradients of mixed scale (some tiny, some large) so that eps and the moments matter.
    grads = []
    for shape in SHAPES:
        g = torch.randn((STEPS,) + shape, generator=generator)
        scale = torch.exp(2 * torch.randn((STEPS,) + shape, generator=generator))
        grads.append((g * scale).numpy())

    tensors: List[Tuple[str, np.ndarray]] = []
    for i, p in enumerate(initial):
        tensors.append((f"param.{i}", p))
        tensors.append((f"grad.{i}", grads[i]))

    configs_meta = []
    for name, cls, kwargs, kind, no_decay in CONFIGS:
        trajectory, rates = run_config(name, cls, kwargs, kind, no_decay, initial, grads)
        for i, values in enumerate(trajectory):
            tensors.append((f"{name}.{i}", values))
        tensors.append((f"{name}.lr", np.array(rates, dtype=np.float64)))
        meta = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}
        configs_meta.append({"name": name, "optimizer": cls, "kwargs": meta, "lr": kind, "no_decay": no_decay})

    schedules_meta = []
    for name, cls, kwargs, base_lr in SCHEDULES:
        recursive, closed = run_schedule(cls, kwargs, base_lr)
        tensors.append((f"schedule.{name}.recursive", recursive))
        tensors.append((f"schedule.{name}.closed", closed))
        schedules_meta.append({"name": name, "scheduler": cls, "kwargs": kwargs, "base_lr": base_lr})

    metadata = {
        "description": "PyTorch optimiser/scheduler fixtures for Rnn.Simd; regenerate with "
                       "/usr/bin/python3 tools/golden/optim.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "seed": str(SEED),
        "steps": str(STEPS),
        "epochs": str(EPOCHS),
        "roles": json.dumps(ROLES),
        "configs": json.dumps(configs_meta),
        "schedules": json.dumps(schedules_meta),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    safetensors_io.write(str(args.out), tensors, metadata)

    # Re-read with the strict reader and compare every tensor.
    reread = safetensors_io.read(str(args.out))
    for name, array in tensors:
        if not np.array_equal(reread[name], array):
            raise SystemExit(f"{name}: reread differs")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(tensors)} tensors, "
          f"{len(CONFIGS)} optimiser configs, {len(SCHEDULES)} schedules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
