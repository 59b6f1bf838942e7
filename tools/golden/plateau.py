# PyTorch 1.13's ReduceLROnPlateau on fixed loss sequences: the learning rates after each step, which
# tests/Rnn.Simd.Tests/Training/ReduceLROnPlateauTests.cs holds. Run with Debian's /usr/bin/python3 (python3-torch).
import torch

CASES = [
    (dict(factor=0.5, patience=2, threshold=1e-4, cooldown=1, min_lr=0.01),
     [1.0, 0.9, 0.9, 0.89995, 0.91, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, float("nan"),
      0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]),
    (dict(factor=0.1, patience=0, threshold=0.05, threshold_mode="abs"), [3.0, 2.96, 2.9, 2.9, 2.0, 1.96, 1.9]),
]

for options, losses in CASES:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.2)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **options)
    rates = []
    for loss in losses:
        scheduler.step(loss)
        rates.append(optimizer.param_groups[0]["lr"])
    print(options)
    print(", ".join(repr(r) for r in rates))
