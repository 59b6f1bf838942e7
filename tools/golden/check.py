#!/usr/bin/python3
"""Self-check of tests/Rnn.Simd.Tests/Golden (generate.py runs it after writing).

    /usr/bin/python3 tools/golden/check.py [--dir DIR]

Forward fixtures:
1. Layout: exactly one directory per case of cases.py (forward, clip, TBPTT) plus losses/ and
   manifest.json, exactly five files per case, the manifest's options equal to cases.py's,
   total size under 2 MB.
2. Every file reread with safetensors_io.read (strict: offsets contiguous, aligned, no gaps),
   tensor names, shapes and dtypes as expected, metadata, lengths values.
3. Outputs at padded steps exactly 0 (float32 and float64); input gradients there too.
4. The float32-vs-float64 errors in the manifest (results, grad_results, losses) recomputed
   from the files.
5. Every case's float64 results recomputed with plain Python float loops (loops.py) from the
   equations, agreeing with the stored float64 results to 1e-12.
6. manual_gru.gru_forward with reset_after=True agrees with nn.GRU's stored float64 results to
   1e-12 on every GRU case: this vouches for the plumbing the reset-before fixtures share.

Gradient fixtures (float64 twins, verified without autograd where it matters):
7. Central finite differences (eps 1e-6, float64 forward without autograd) on randomly chosen
   entries of every parameter, the input (plus one padded entry when there is padding), h0
   and c0, against the stored float64 gradients; the stored loss equals the forward's.
8. Padding: the float64 gradients recomputed by autograd with G.output replaced at padded
   steps (by zeros, then by large random values) are bit-identical to the stored ones.
9. Clipping: total_norm is the 2-norm of the unclipped parameter gradients (recomputed and
   finite-difference checked as in 7); clipped = unclipped * min(1, max_norm/(norm + 1e-6));
   the no-op case is exactly unclipped; value clipping is exactly clamp(unclipped, ±v).
10. TBPTT: finite differences of sum_c L_c with the state entering chunks c >= 1 held at its
   forward value; grad.h0/grad.c0 and the first chunk's grad.input equal a direct autograd run
   of chunk 0 alone; the parameter and h0 gradients differ from full BPTT's.
11. Losses: MSE and cross-entropy values and gradients recomputed with numpy formulas.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grads  # noqa: E402
import loops  # noqa: E402
import safetensors_io  # noqa: E402
from cases import Case, ClipCase, TbpttCase, all_cases, clip_cases, tbptt_cases  # noqa: E402
from generate import (DEFAULT_OUT, build_module, expected_shapes, grad_metadata,  # noqa: E402
                      padding_mask)
from manual_gru import gru_forward  # noqa: E402

TOLERANCE_F64 = 1e-12
MAX_TOTAL_BYTES = 2 * 1024 * 1024
KINDS = ("model", "input", "expected", "grad_output", "expected_grad")
FILES = tuple(f"{kind}.safetensors" for kind in KINDS)
OPTION_KEYS = ("cell", "layers", "bidirectional", "batch_first", "proj_size", "has_h0",
               "has_lengths", "lengths", "prefix", "T", "B", "X", "H", "h_out", "seed")

FD_EPS = 1e-6
FD_ENTRIES = 3              # random entries per tensor
FD_REL, FD_ABS = 1e-6, 1e-8  # |fd - g| <= FD_REL*|g| + FD_ABS


class CheckError(Exception):
    pass


def require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckError(message)


def check_layout(root: Path, manifest: dict) -> None:
    groups = (("cases", all_cases()), ("clip_cases", [c.case for c in clip_cases()]),
              ("tbptt_cases", [c.case for c in tbptt_cases()]))
    names = [c.name for _, cases in groups for c in cases]
    on_disk = sorted(p.name for p in root.iterdir())
    require(on_disk == sorted(names + ["losses", "manifest.json"]),
            f"directory entries {on_disk} differ from the case list")
    for name in names:
        files = sorted(p.name for p in (root / name).iterdir())
        require(files == sorted(FILES), f"{name}: files {files}")
    files = sorted(p.name for p in (root / "losses").iterdir())
    require(files == ["losses.safetensors"], f"losses: files {files}")
    for key, cases in groups:
        entries = manifest[key]
        require([e["name"] for e in entries] == [c.name for c in cases],
                f"manifest {key} order/names differ")
        for case, entry in zip(cases, entries):
            for option in OPTION_KEYS:
                require(entry[option] == getattr(case, option), f"{case.name}: manifest {option} "
                        f"{entry[option]!r} != cases.py {getattr(case, option)!r}")
    for extra, entry in zip(clip_cases(), manifest["clip_cases"]):
        key = "max_norm" if extra.kind == "norm" else "clip_value"
        require(entry["clip"] == {"kind": extra.kind, key: extra.threshold},
                f"{extra.name}: manifest clip {entry['clip']}")
    for extra, entry in zip(tbptt_cases(), manifest["tbptt_cases"]):
        require(entry["chunk"] == extra.chunk, f"{extra.name}: manifest chunk")
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    require(total < MAX_TOTAL_BYTES, f"Golden is {total} bytes")
    print(f"layout ok: {len(names)} cases ({len(groups[0][1])} forward, {len(groups[1][1])} "
          f"clip, {len(groups[2][1])} TBPTT) + losses, {total} bytes in total")


def check_files(root: Path, case: Case, extra: Optional[object] = None):
    files = {kind: safetensors_io.read(str(root / case.name / f"{kind}.safetensors"))
             for kind in KINDS}
    shapes = expected_shapes(case, extra)
    for kind, st in files.items():
        want = {k.split(":", 1)[1]: v for k, v in shapes.items() if k.startswith(kind + ":")}
        require(sorted(st.names()) == sorted(want),
                f"{case.name}/{kind}: tensors {sorted(st.names())} != {sorted(want)}")
        for name, shape in want.items():
            entry = st.entries[name]
            dtype = "I64" if name == "lengths" else ("F64" if name.endswith(".f64") else "F32")
            require(entry["dtype"] == dtype, f"{case.name}/{kind}/{name}: {entry['dtype']}")
            require(tuple(entry["shape"]) == shape,
                    f"{case.name}/{kind}/{name}: shape {entry['shape']} != {list(shape)}")
    meta = files["model"].metadata
    require(meta == {"cell": case.cell, "batch_first": "true" if case.batch_first else "false"},
            f"{case.name}: model metadata {meta}")
    want_meta = {"case": case.name}
    require(files["input"].metadata == want_meta, f"{case.name}: input metadata")
    require(files["expected"].metadata.get("case") == case.name, f"{case.name}: expected meta")
    if isinstance(extra, TbpttCase):
        want_meta["chunk"] = str(extra.chunk)
    require(files["grad_output"].metadata == want_meta,
            f"{case.name}: grad_output metadata {files['grad_output'].metadata}")
    require(files["expected_grad"].metadata == grad_metadata(case, extra),
            f"{case.name}: expected_grad metadata {files['expected_grad'].metadata}")
    if case.has_lengths:
        require(files["input"]["lengths"].tolist() == case.lengths, f"{case.name}: lengths")
    return files


def check_padding(case: Case, files) -> None:
    mask = padding_mask(case)
    if mask is None:
        return
    for name in ("output", "output.f64"):
        require(not files["expected"][name][mask].any(), f"{case.name}: {name} not 0 at padding")
    for name in ("grad.input", "grad.input.f64"):
        require(not files["expected_grad"][name][mask].any(),
                f"{case.name}: {name} not 0 at padded steps")
    require(files["grad_output"]["output"][mask].all(),
            f"{case.name}: G.output should be random (nonzero) at padded steps")


def error_of(a32: np.ndarray, a64: np.ndarray) -> Tuple[Optional[float], Optional[float]]:
    nan = np.isnan(a64)
    require(np.array_equal(nan, np.isnan(a32)), "NaN positions differ")
    if nan.all():
        return None, None
    return (float(np.max(np.abs(a32.astype(np.float64) - a64)[~nan])),
            float(np.max(np.abs(a64)[~nan])))


def check_errors(label: str, st, results: dict, limit: float) -> None:
    """Recompute the manifest's f32-vs-f64 errors; every F32 float tensor must be listed."""
    listed = sorted(results)
    present = sorted(n[:-4] for n in st.names() if n.endswith(".f64"))
    require(listed == present, f"{label}: manifest lists {listed}, file has {present}")
    for name, stats in results.items():
        err, scale = error_of(st[name], st[name + ".f64"])
        require(err == stats["max_abs_err_f32_vs_f64"] and scale == stats["max_abs_f64"],
                f"{label}: {name} error/scale differ from the manifest")
        # float32 should track float64 closely on these tiny, well-scaled problems
        require(err is None or err < limit * max(1.0, scale),
                f"{label}: {name} float32 error {err} is suspiciously large")


def time_major(array: np.ndarray, batch_first: bool) -> np.ndarray:
    return array.transpose(1, 0, 2) if batch_first else array


def check_against_loops(case: Case, files) -> float:
    """float64 loops on the stored float32 weights/inputs vs the stored float64 results."""
    model, inputs, expected = files["model"], files["input"], files["expected"]
    params = {name: model[name].astype(np.float64).tolist() for name in model.names()}
    x = time_major(inputs["input"].astype(np.float64), case.batch_first).tolist()
    h0 = inputs["h0"].astype(np.float64).tolist() if "h0" in inputs else None
    c0 = inputs["c0"].astype(np.float64).tolist() if "c0" in inputs else None
    lengths = inputs["lengths"].tolist() if "lengths" in inputs else None

    output, h_n, c_n = loops.forward(case.cell, params, x, layers=case.layers,
                                     bidirectional=case.bidirectional, hidden=case.H,
                                     h_out=case.h_out, h0=h0, c0=c0, lengths=lengths,
                                     prefix=case.prefix)
    worst = 0.0
    pairs = [("output", time_major(np.array(output), case.batch_first)), ("h_n", np.array(h_n))]
    if case.is_lstm:
        pairs.append(("c_n", np.array(c_n)))
    for name, ours in pairs:
        theirs = expected[name + ".f64"]
        require(ours.shape == theirs.shape, f"{case.name}: loop {name} shape {ours.shape}")
        err = float(np.max(np.abs(ours - theirs)))
        require(err <= TOLERANCE_F64, f"{case.name}: loops vs float64 {name}: {err:.3e}")
        worst = max(worst, err)
    return worst


def check_manual_gru_matches_pytorch(case: Case, files) -> float:
    model, inputs, expected = files["model"], files["input"], files["expected"]
    params = {name: torch.from_numpy(model[name].astype(np.float64)) for name in model.names()}
    x = torch.from_numpy(inputs["input"].astype(np.float64))
    h0 = torch.from_numpy(inputs["h0"].astype(np.float64)) if "h0" in inputs else None
    lengths = torch.from_numpy(inputs["lengths"]) if "lengths" in inputs else None
    with torch.no_grad():
        output, h_n = gru_forward(x, params, layers=case.layers,
                                  bidirectional=case.bidirectional, batch_first=case.batch_first,
                                  reset_after=True, h0=h0, lengths=lengths, prefix=case.prefix)
    err = max(float(np.max(np.abs(output.numpy() - expected["output.f64"]))),
              float(np.max(np.abs(h_n.numpy() - expected["h_n.f64"]))))
    require(err <= TOLERANCE_F64, f"{case.name}: manual GRU (reset after) vs nn.GRU: {err:.3e}")
    return err


# ---------------------------------------------------------------------------------------------
# Gradients

def load_torch(case: Case, files):
    """The float32 module and inputs rebuilt from the files (as generate.py had them)."""
    module = build_module(case)
    state = {name[len(case.prefix):]: torch.from_numpy(files["model"][name])
             for name in files["model"].names()}
    module.load_state_dict(state, strict=True)
    inputs = {name: torch.from_numpy(files["input"][name]) for name in files["input"].names()}
    grad_output = {name: torch.from_numpy(files["grad_output"][name])
                   for name in files["grad_output"].names()}
    return module, inputs, grad_output


def stored_f64(files) -> Dict[str, np.ndarray]:
    st = files["expected_grad"]
    result = {n[:-4]: st[n] for n in st.names() if n.endswith(".f64")}
    for name, g in result.items():
        # every gradient reaches somewhere: no parameter, input or state is cut off
        require(np.any(g != 0) and np.all(np.isfinite(g)),
                f"{st.metadata['case']}: {name}.f64 is all zeros or not finite")
    return result


class FdProblem:
    """A float64 copy of the case whose tensors can be perturbed in place: the module's
    parameters under grad.<prefix><name>, and grad.input, grad.h0, grad.c0."""

    def __init__(self, case: Case, module, inputs):
        self.case = case
        self.module = build_module(case).to(torch.float64)
        self.module.load_state_dict(module.state_dict())
        leaf = grads.leaves(case, inputs, torch.float64)
        self.x, self.h0, self.c0 = (leaf["input"].detach(), leaf["h0"].detach(),
                                    leaf["c0"].detach() if "c0" in leaf else None)
        self.lengths = inputs.get("lengths")
        self.tensors: Dict[str, torch.Tensor] = {"grad.input": self.x, "grad.h0": self.h0}
        if self.c0 is not None:
            self.tensors["grad.c0"] = self.c0
        for name, p in self.module.named_parameters():
            self.tensors[f"grad.{case.prefix}{name}"] = p.data

    def forward(self, x=None, h0=None, c0=None, lengths="default"):
        with torch.no_grad():
            return grads.forward(self.case, self.module, self.x if x is None else x,
                                 self.h0 if h0 is None else h0,
                                 self.c0 if c0 is None else c0,
                                 self.lengths if lengths == "default" else lengths)


def finite_differences(label: str, problem: FdProblem, loss: Callable[[], float],
                       reference: Dict[str, np.ndarray], mask: Optional[np.ndarray]) -> float:
    """Central differences on FD_ENTRIES random entries of every tensor (plus one padded input
    entry); returns the worst |fd - g| / (FD_REL*|g| + FD_ABS)."""
    rng = np.random.default_rng(zlib.crc32((label + ":fd").encode("utf-8")))
    worst = 0.0
    for name, tensor in problem.tensors.items():
        flat = tensor.view(-1)
        picks = list(rng.choice(flat.numel(), size=min(FD_ENTRIES, flat.numel()), replace=False))
        if name == "grad.input" and mask is not None:
            padded = np.flatnonzero(np.broadcast_to(mask[..., None], tensor.shape).reshape(-1))
            picks.append(int(rng.choice(padded)))
        for i in picks:
            original = float(flat[i])
            flat[i] = original + FD_EPS
            plus = loss()
            flat[i] = original - FD_EPS
            minus = loss()
            flat[i] = original
            fd = (plus - minus) / (2 * FD_EPS)
            g = float(reference[name].reshape(-1)[i])
            ratio = abs(fd - g) / (FD_REL * abs(g) + FD_ABS)
            require(ratio <= 1.0, f"{label}: {name}[{i}]: finite difference {fd!r} vs "
                    f"stored {g!r}")
            worst = max(worst, ratio)
    return worst


def weighted_sum_f64(results, grad_output) -> float:
    return float(grads.weighted_sum(results, grad_output, torch.float64))


def check_loss_value(label: str, value: float, stored: np.ndarray) -> None:
    require(abs(value - float(stored[0])) <= 1e-12 * max(1.0, abs(value)),
            f"{label}: loss {value!r} != stored {float(stored[0])!r}")


def check_plain_gradients(case: Case, files, extra: Optional[ClipCase]) -> float:
    """FD check of the whole-sequence gradients (unclipped: recomputed for clip cases)."""
    module, inputs, grad_output = load_torch(case, files)
    reference = stored_f64(files)
    recomputed = grads.run_with_grad(case, module, inputs, grad_output, torch.float64)
    for name, g in recomputed.grads.items():
        same = np.array_equal(g.numpy(), reference[name])
        if extra is None or not name.startswith(f"grad.{case.prefix}"):
            require(same, f"{case.name}: autograd recomputation of {name} is not bit-identical")
    unclipped = {name: g.numpy() for name, g in recomputed.grads.items()}

    problem = FdProblem(case, module, inputs)
    loss = lambda: weighted_sum_f64(problem.forward(), grad_output)  # noqa: E731
    check_loss_value(case.name, loss(), reference["loss"])
    worst = finite_differences(case.name, problem, loss, unclipped, padding_mask(case))
    if extra is not None:
        check_clipping(case, extra, files, unclipped)
    if case.has_lengths:
        check_padding_ignored(case, module, inputs, grad_output, reference)
    return worst


def check_padding_ignored(case: Case, module, inputs, grad_output, reference) -> None:
    """G.output at padded steps has no path to anything: replacing it changes no gradient."""
    mask = torch.from_numpy(padding_mask(case))[..., None].expand_as(grad_output["output"])
    generator = torch.Generator().manual_seed(zlib.crc32((case.name + ":pad").encode()))
    noise = 1e3 * torch.randn(grad_output["output"].shape, generator=generator)
    for replacement in (torch.zeros_like(noise), noise):
        changed = dict(grad_output)
        changed["output"] = torch.where(mask, replacement, grad_output["output"])
        run = grads.run_with_grad(case, module, inputs, changed, torch.float64)
        for name, g in run.grads.items():
            require(np.array_equal(g.numpy(), reference[name]),
                    f"{case.name}: {name} depends on G.output at padded steps")


def param_names(case: Case, files) -> List[str]:
    return [f"grad.{name}" for name in files["model"].names()]


def check_clipping(case: Case, extra: ClipCase, files, unclipped) -> None:
    reference = stored_f64(files)
    names = param_names(case, files)
    if extra.kind == "norm":
        norm = math.sqrt(sum(float(np.sum(unclipped[n] ** 2)) for n in names))
        stored = float(reference["total_norm"][0])
        require(abs(norm - stored) <= 1e-12 * norm, f"{case.name}: total_norm {stored} != {norm}")
        coef = min(1.0, extra.threshold / (norm + 1e-6))
        for n in names:
            err = float(np.max(np.abs(unclipped[n] * coef - reference[n])))
            require(err <= 1e-14 * max(1.0, norm), f"{case.name}: clipped {n} off by {err}")
        if coef == 1.0:
            for n in names:
                require(np.array_equal(unclipped[n], reference[n]), f"{case.name}: no-op {n}")
            # float32: the stored total_norm is below max_norm as well, gradients untouched
            require(float(files["expected_grad"]["total_norm"][0]) < extra.threshold,
                    f"{case.name}: float32 total_norm not below max_norm")
        else:
            require(coef < 0.5, f"{case.name}: clipping should act strongly (coef {coef})")
    else:
        v = extra.threshold
        for n in names:
            require(np.array_equal(np.clip(unclipped[n], -v, v), reference[n]),
                    f"{case.name}: {n} is not clamp(unclipped, -{v}, {v})")
            clipped = int(np.sum(np.abs(unclipped[n]) > v))
            require(0 < clipped < unclipped[n].size,
                    f"{case.name}: {n}: {clipped} of {unclipped[n].size} entries clipped")


def check_tbptt(case: Case, extra: TbpttCase, files) -> float:
    module, inputs, grad_output = load_torch(case, files)
    reference = stored_f64(files)
    spans = grads.chunks(case.T, extra.chunk)
    require(len(spans) >= 2, f"{case.name}: TBPTT needs at least two chunks")
    problem = FdProblem(case, module, inputs)

    # States entering chunks 1.. at their (unperturbed) forward values, held fixed.
    fixed = [None]
    h, c = problem.h0.clone(), (problem.c0.clone() if problem.c0 is not None else None)
    for start, stop in spans[:-1]:
        r = problem.forward(x=problem.x[start:stop], h0=h, c0=c, lengths=None)
        h, c = r["h_n"].clone(), (r["c_n"].clone() if case.is_lstm else None)
        fixed.append((h, c))

    def loss() -> float:
        total = 0.0
        for index, (start, stop) in enumerate(spans):
            h0, c0 = (problem.h0, problem.c0) if index == 0 else fixed[index]
            r = problem.forward(x=problem.x[start:stop], h0=h0, c0=c0, lengths=None)
            g = {"output": grad_output["output"][start:stop]}
            if index == len(spans) - 1:
                g.update({k: v for k, v in grad_output.items() if k != "output"})
            total += weighted_sum_f64(r, g)
        return total

    check_loss_value(case.name, loss(), reference["loss"])
    worst = finite_differences(case.name, problem, loss, reference, None)

    # The first chunk alone, by autograd, gives grad.h0, grad.c0 and grad.input[:chunk].
    start, stop = spans[0]
    leaf = grads.leaves(case, inputs, torch.float64)
    m = build_module(case).to(torch.float64)
    m.load_state_dict(module.state_dict())
    x0 = leaf["input"][start:stop].detach().clone().requires_grad_(True)
    r = grads.forward(case, m, x0, leaf["h0"], leaf.get("c0"), None)
    grads.weighted_sum(r, {"output": grad_output["output"][start:stop]}, torch.float64).backward()
    direct = {"grad.input": x0.grad.numpy(), "grad.h0": leaf["h0"].grad.numpy()}
    if case.is_lstm:
        direct["grad.c0"] = leaf["c0"].grad.numpy()
    for name, g in direct.items():
        stored = reference[name][start:stop] if name == "grad.input" else reference[name]
        err = float(np.max(np.abs(g - stored)))
        require(err <= 1e-14 * max(1.0, float(np.max(np.abs(g)))),
                f"{case.name}: first chunk {name} differs from a direct run by {err}")

    # Truncation matters: full BPTT gives different parameter and h0 gradients.
    full = grads.run_with_grad(case, module, inputs, grad_output, torch.float64)
    for name in param_names(case, files) + ["grad.h0"]:
        diff = float(np.max(np.abs(full.grads[name].numpy() - reference[name])))
        require(diff > 1e-6, f"{case.name}: {name} equals full BPTT's ({diff:.1e})")
    return worst


# ---------------------------------------------------------------------------------------------
# Losses

def check_losses(root: Path, entry: dict) -> float:
    st = safetensors_io.read(str(root / "losses" / "losses.safetensors"))
    n, c, ignore = grads.LOSS_N, grads.LOSS_C, grads.IGNORE_INDEX
    require(st.metadata.get("ignore_index") == str(ignore), "losses: ignore_index metadata")
    want: Dict[str, Tuple[str, Tuple[int, ...]]] = {
        "mse.prediction": ("F32", (n, c)), "mse.target": ("F32", (n, c)),
        "ce.logits": ("F32", (n, c)), "ce.targets": ("I64", (n,)),
        "ce_all_ignored.targets": ("I64", (n,)),
    }
    for loss in ("mse", "ce", "ce_all_ignored"):
        for reduction in ("mean", "sum"):
            for suffix, dtype in (("", "F32"), (".f64", "F64")):
                want[f"{loss}.{reduction}.loss{suffix}"] = (dtype, (1,))
                want[f"{loss}.{reduction}.grad{suffix}"] = (dtype, (n, c))
    require(sorted(st.names()) == sorted(want), f"losses: tensors {sorted(st.names())}")
    for name, (dtype, shape) in want.items():
        require(st.entries[name]["dtype"] == dtype and tuple(st.entries[name]["shape"]) == shape,
                f"losses: {name} dtype/shape")
    check_errors("losses", st, entry["results"], 1e-5)

    p, t = st["mse.prediction"].astype(np.float64), st["mse.target"].astype(np.float64)
    d = p - t
    computed = {"mse.mean.loss": np.mean(d * d), "mse.mean.grad": 2 * d / d.size,
                "mse.sum.loss": np.sum(d * d), "mse.sum.grad": 2 * d}
    z = st["ce.logits"].astype(np.float64)
    targets = st["ce.targets"]
    require((targets == ignore).sum() == len(grads.IGNORED_ROWS), "losses: ignored targets")
    for prefix, tgt in (("ce", targets), ("ce_all_ignored", st["ce_all_ignored.targets"])):
        shifted = z - z.max(axis=1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        counted = tgt != ignore
        terms = np.array([-log_softmax[r, tgt[r]] if counted[r] else 0.0 for r in range(n)])
        onehot = np.zeros_like(z)
        onehot[np.flatnonzero(counted), tgt[counted]] = 1.0
        grad = (np.exp(log_softmax) - onehot) * counted[:, None]
        count = int(counted.sum())
        computed[f"{prefix}.sum.loss"] = terms.sum()
        computed[f"{prefix}.sum.grad"] = grad
        computed[f"{prefix}.mean.loss"] = terms.sum() / count if count else math.nan
        computed[f"{prefix}.mean.grad"] = grad / count if count else np.zeros_like(z)
    worst = 0.0
    for name, value in computed.items():
        stored = st[name + ".f64"]
        value = np.asarray(value, dtype=np.float64).reshape(stored.shape)
        if np.isnan(value).any():
            require(np.array_equal(np.isnan(value), np.isnan(stored)), f"losses: {name} NaN")
            continue
        err = float(np.max(np.abs(value - stored)))
        require(err <= 1e-14 * max(1.0, float(np.max(np.abs(value)))),
                f"losses: {name} differs from the formula by {err}")
        worst = max(worst, err)
    return worst


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="self-check of the golden fixtures")
    parser.add_argument("--dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    with open(root / "manifest.json", encoding="utf-8") as f:
        manifest = json.load(f)
    everything = ([(case, None, entry) for case, entry in zip(all_cases(), manifest["cases"])] +
                  [(c.case, c, e) for c, e in zip(clip_cases(), manifest["clip_cases"])] +
                  [(c.case, c, e) for c, e in zip(tbptt_cases(), manifest["tbptt_cases"])])
    try:
        check_layout(root, manifest)
        worst_loops, worst_manual, worst_fd, worst_losses = 0.0, 0.0, 0.0, 0.0
        for case, extra, entry in everything:
            files = check_files(root, case, extra)
            check_padding(case, files)
            check_errors(case.name, files["expected"], entry["results"], 1e-5)
            check_errors(case.name, files["expected_grad"], entry["grad_results"], 1e-5)
            worst_loops = max(worst_loops, check_against_loops(case, files))
            if case.cell == "gru":
                worst_manual = max(worst_manual, check_manual_gru_matches_pytorch(case, files))
            if isinstance(extra, TbpttCase):
                worst_fd = max(worst_fd, check_tbptt(case, extra, files))
            else:
                worst_fd = max(worst_fd, check_plain_gradients(case, files, extra))
        worst_losses = check_losses(root, manifest["losses"])
    except CheckError as e:
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        return 1
    print("files ok: names, shapes, dtypes, metadata, zero padding, manifest errors")
    print(f"float64 loops vs stored float64 results: max abs diff {worst_loops:.3e} "
          f"(tolerance {TOLERANCE_F64:g}, all {len(everything)} cases)")
    print(f"manual GRU (reset after) vs nn.GRU float64: max abs diff {worst_manual:.3e}")
    print(f"float64 gradients vs central differences (eps {FD_EPS:g}): worst |fd-g| is "
          f"{worst_fd:.2f} of the tolerance {FD_REL:g}*|g| + {FD_ABS:g}; padding, clipping, "
          f"TBPTT ok")
    print(f"losses vs numpy formulas: max abs diff {worst_losses:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
