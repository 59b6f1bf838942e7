#!/usr/bin/python3
"""Regenerate tests/Rnn.Simd.Tests/Golden: PyTorch forward and gradient fixtures for RNN/LSTM/GRU.

Run with Debian's interpreter (PyTorch 1.13 from python3-torch):

    /usr/bin/python3 tools/golden/generate.py            # rewrite Golden/, then self-check
    /usr/bin/python3 tools/golden/generate.py --out DIR  # write elsewhere (e.g. to diff)

The output directory is deleted and rebuilt, so no stale case survives. See README.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grads  # noqa: E402
import safetensors_io  # noqa: E402
from cases import Case, ClipCase, TbpttCase, all_cases, clip_cases, tbptt_cases  # noqa: E402
from manual_gru import gru_forward  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "tests" / "Rnn.Simd.Tests" / "Golden"
GOLDEN_DIR_NAME = "Golden"


def build_module(case: Case) -> nn.Module:
    common = dict(input_size=case.X, hidden_size=case.H, num_layers=case.layers, bias=True,
                  batch_first=case.batch_first, bidirectional=case.bidirectional)
    if case.cell in ("rnn_tanh", "rnn_relu"):
        return nn.RNN(nonlinearity=case.cell[4:], **common)
    if case.cell == "lstm":
        return nn.LSTM(proj_size=case.proj_size, **common)
    if case.cell in ("gru", "gru_reset_before"):
        # gru_reset_before only borrows nn.GRU's parameter shapes, names and initialisation.
        return nn.GRU(**common)
    raise ValueError(case.cell)


def make_inputs(case: Case) -> Dict[str, torch.Tensor]:
    """Inputs drawn after the module's parameters from the same seeded generator."""
    layer_dirs = case.layers * case.directions
    shape = (case.B, case.T, case.X) if case.batch_first else (case.T, case.B, case.X)
    inputs = {"input": torch.randn(*shape)}
    if case.has_h0:
        inputs["h0"] = torch.randn(layer_dirs, case.B, case.h_out)
        if case.is_lstm:
            inputs["c0"] = torch.randn(layer_dirs, case.B, case.H)
    if case.has_lengths:
        assert len(case.lengths) == case.B and all(1 <= n <= case.T for n in case.lengths)
        inputs["lengths"] = torch.tensor(case.lengths, dtype=torch.int64)
    return inputs


def run_pytorch(case: Case, module: nn.Module, inputs: Dict[str, torch.Tensor],
                dtype: torch.dtype) -> Dict[str, torch.Tensor]:
    """One forward pass in `dtype` (the module and float inputs are cast to it)."""
    module = copy.deepcopy(module).to(dtype)
    x = inputs["input"].to(dtype)
    h0 = inputs["h0"].to(dtype) if "h0" in inputs else None
    c0 = inputs["c0"].to(dtype) if "c0" in inputs else None
    lengths = inputs.get("lengths")

    if case.cell == "gru_reset_before":
        params = {k: v for k, v in module.state_dict().items()}
        output, h_n = gru_forward(x, params, layers=case.layers,
                                  bidirectional=case.bidirectional,
                                  batch_first=case.batch_first, reset_after=False,
                                  h0=h0, lengths=lengths)
        return {"output": output, "h_n": h_n}

    if case.is_lstm:
        hx = (h0, c0) if h0 is not None else None
    else:
        hx = h0
    if lengths is not None:
        packed = pack_padded_sequence(x, lengths, batch_first=case.batch_first,
                                      enforce_sorted=False)
        packed_out, state = module(packed, hx)
        output, _ = pad_packed_sequence(packed_out, batch_first=case.batch_first,
                                        padding_value=0.0, total_length=case.T)
    else:
        output, state = module(x, hx)

    results = {"output": output.contiguous()}
    if case.is_lstm:
        results["h_n"], results["c_n"] = state[0].contiguous(), state[1].contiguous()
    else:
        results["h_n"] = state.contiguous()
    return results


def expected_shapes(case: Case, extra: Optional[object] = None) -> Dict[str, Tuple[int, ...]]:
    """Shapes of every tensor of a case's five files, as "file:tensor" (used by check.py).

    extra is the case's ClipCase or TbpttCase, if any."""
    ld = case.layers * case.directions
    shapes: Dict[str, Tuple[int, ...]] = {}
    gates = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}[case.cell]
    for layer in range(case.layers):
        for direction in range(case.directions):
            sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
            layer_in = case.X if layer == 0 else case.directions * case.h_out
            p = case.prefix
            shapes[f"model:{p}weight_ih{sfx}"] = (gates * case.H, layer_in)
            shapes[f"model:{p}weight_hh{sfx}"] = (gates * case.H, case.h_out)
            shapes[f"model:{p}bias_ih{sfx}"] = (gates * case.H,)
            shapes[f"model:{p}bias_hh{sfx}"] = (gates * case.H,)
            if case.proj_size > 0:
                shapes[f"model:{p}weight_hr{sfx}"] = (case.proj_size, case.H)
    tb = (case.B, case.T) if case.batch_first else (case.T, case.B)
    shapes["input:input"] = tb + (case.X,)
    if case.has_h0:
        shapes["input:h0"] = (ld, case.B, case.h_out)
        if case.is_lstm:
            shapes["input:c0"] = (ld, case.B, case.H)
    if case.has_lengths:
        shapes["input:lengths"] = (case.B,)
    for suffix in ("", ".f64"):
        shapes[f"expected:output{suffix}"] = tb + (case.directions * case.h_out,)
        shapes[f"expected:h_n{suffix}"] = (ld, case.B, case.h_out)
        if case.is_lstm:
            shapes[f"expected:c_n{suffix}"] = (ld, case.B, case.H)
    shapes["grad_output:output"] = shapes["expected:output"]
    shapes["grad_output:h_n"] = shapes["expected:h_n"]
    if case.is_lstm:
        shapes["grad_output:c_n"] = shapes["expected:c_n"]
    params = [(k.split(":", 1)[1], v) for k, v in shapes.items() if k.startswith("model:")]
    for suffix in ("", ".f64"):
        shapes[f"expected_grad:grad.input{suffix}"] = shapes["input:input"]
        shapes[f"expected_grad:grad.h0{suffix}"] = (ld, case.B, case.h_out)
        if case.is_lstm:
            shapes[f"expected_grad:grad.c0{suffix}"] = (ld, case.B, case.H)
        for name, shape in params:
            shapes[f"expected_grad:grad.{name}{suffix}"] = shape
        shapes[f"expected_grad:loss{suffix}"] = (1,)
        if isinstance(extra, ClipCase) and extra.kind == "norm":
            shapes[f"expected_grad:total_norm{suffix}"] = (1,)
    return shapes


def padding_mask(case: Case) -> Optional[np.ndarray]:
    """Boolean mask over output[..., :] of the padded (t >= len_b) positions, or None."""
    if not case.has_lengths:
        return None
    t = np.arange(case.T)[:, None]
    mask = t >= np.array(case.lengths)[None, :]          # [T, B]
    return mask.T if case.batch_first else mask


def generate_case(case: Case, out_dir: Path, extra: Optional[object] = None) -> dict:
    torch.manual_seed(case.seed)
    module = build_module(case)
    module.eval()
    inputs = make_inputs(case)

    with torch.no_grad():
        r32 = run_pytorch(case, module, inputs, torch.float32)
        r64 = run_pytorch(case, module, inputs, torch.float64)

    mask = padding_mask(case)
    if mask is not None:
        for results in (r32, r64):
            padded = results["output"].numpy()[mask]
            assert not padded.any(), f"{case.name}: padded outputs are not exactly zero"

    case_dir = out_dir / case.name
    case_dir.mkdir(parents=True)

    state = [(case.prefix + name, t.detach().to(torch.float32).numpy())
             for name, t in module.state_dict().items()]
    safetensors_io.write(str(case_dir / "model.safetensors"), state, {
        "cell": case.cell,
        "batch_first": "true" if case.batch_first else "false",
    })

    input_tensors = [(name, t.numpy()) for name, t in inputs.items()]
    safetensors_io.write(str(case_dir / "input.safetensors"), input_tensors, {"case": case.name})

    expected = [(name, t.numpy()) for name, t in r32.items()]
    expected += [(name + ".f64", t.numpy()) for name, t in r64.items()]
    safetensors_io.write(str(case_dir / "expected.safetensors"), expected, {
        "case": case.name,
        "reference": reference_of(case),
    })

    errors = {}
    for name in r32:
        a32 = r32[name].numpy().astype(np.float64)
        a64 = r64[name].numpy()
        errors[name] = {
            "max_abs_err_f32_vs_f64": float(np.max(np.abs(a32 - a64))),
            "max_abs_f64": float(np.max(np.abs(a64))),
        }

    entry = {
        "name": case.name,
        "cell": case.cell,
        "reference": reference_of(case),
        "layers": case.layers,
        "bidirectional": case.bidirectional,
        "batch_first": case.batch_first,
        "proj_size": case.proj_size,
        "has_h0": case.has_h0,
        "has_c0": case.has_h0 and case.is_lstm,
        "has_lengths": case.has_lengths,
        "lengths": case.lengths,
        "prefix": case.prefix,
        "T": case.T,
        "B": case.B,
        "X": case.X,
        "H": case.H,
        "h_out": case.h_out,
        "seed": case.seed,
        "results": errors,
    }
    entry.update(generate_gradients(case, module, inputs, r32, r64, case_dir, extra))
    return entry


def grad_metadata(case: Case, extra: Optional[object]) -> Dict[str, str]:
    """Metadata of expected_grad.safetensors (grad_output gets case and, for TBPTT, chunk)."""
    reference = "torch.autograd through " + reference_of(case)
    meta = {"case": case.name}
    if isinstance(extra, ClipCase):
        if extra.kind == "norm":
            reference += ", then torch.nn.utils.clip_grad_norm_(parameters, max_norm, 2.0)"
            meta["max_norm"] = repr(extra.threshold)
        else:
            reference += ", then torch.nn.utils.clip_grad_value_(parameters, clip_value)"
            meta["clip_value"] = repr(extra.threshold)
    elif isinstance(extra, TbpttCase):
        reference += (", truncated BPTT: chunks of `chunk` steps from the carried state detached, "
                      "backward per chunk, gradients accumulated")
        meta["chunk"] = str(extra.chunk)
    meta["reference"] = reference
    return meta


def grad_run(case: Case, module: nn.Module, inputs, grad_output, dtype: torch.dtype,
             extra: Optional[object]) -> "grads.GradRun":
    if isinstance(extra, TbpttCase):
        return grads.run_tbptt(case, module, inputs, grad_output, dtype, extra.chunk)
    run = grads.run_with_grad(case, module, inputs, grad_output, dtype)
    if isinstance(extra, ClipCase):
        total_norm = grads.clip(run, case, extra.kind, extra.threshold)
        if total_norm is not None:
            run.grads["total_norm"] = total_norm.detach().reshape(1)
    return run


def generate_gradients(case: Case, module: nn.Module, inputs, r32, r64, case_dir: Path,
                       extra: Optional[object]) -> dict:
    """Write grad_output.safetensors and expected_grad.safetensors; return manifest fields."""
    grad_output = grads.make_grad_output(case)
    meta = {"case": case.name}
    if isinstance(extra, TbpttCase):
        meta["chunk"] = str(extra.chunk)
    safetensors_io.write(str(case_dir / "grad_output.safetensors"),
                         [(name, t.numpy()) for name, t in grad_output.items()], meta)

    g32 = grad_run(case, module, inputs, grad_output, torch.float32, extra)
    g64 = grad_run(case, module, inputs, grad_output, torch.float64, extra)

    # The differentiable forward (explicit zero state, chunked for TBPTT) reproduces the
    # forward fixture bit for bit.
    for run, ref in ((g32, r32), (g64, r64)):
        for name, t in ref.items():
            assert torch.equal(run.results[name], t), \
                f"{case.name}: grad-path forward {name} differs from the forward fixture"

    mask = padding_mask(case)
    if mask is not None:
        for run in (g32, g64):
            padded = run.grads["grad.input"].numpy()[mask]
            assert not padded.any(), f"{case.name}: input gradient not 0 at padded steps"

    tensors32 = dict(g32.grads)
    tensors32["loss"] = g32.loss.reshape(1)
    tensors64 = dict(g64.grads)
    tensors64["loss"] = g64.loss.reshape(1)
    for name, t in tensors32.items():
        assert t.dtype == torch.float32 and tensors64[name].dtype == torch.float64, name
    expected = [(name, t.numpy()) for name, t in tensors32.items()]
    expected += [(name + ".f64", t.numpy()) for name, t in tensors64.items()]
    safetensors_io.write(str(case_dir / "expected_grad.safetensors"), expected,
                         grad_metadata(case, extra))

    fields: dict = {"grad_results": {name: error_stats(tensors32[name], tensors64[name])
                                     for name in tensors32}}
    if isinstance(extra, ClipCase):
        fields["clip"] = {"kind": extra.kind,
                          ("max_norm" if extra.kind == "norm" else "clip_value"): extra.threshold}
    if isinstance(extra, TbpttCase):
        fields["chunk"] = extra.chunk
    return fields


def error_stats(t32: torch.Tensor, t64: torch.Tensor) -> dict:
    """max |f32 - f64| and max |f64|; NaN entries must agree and are left out (None if all)."""
    a32 = t32.numpy().astype(np.float64)
    a64 = t64.numpy()
    nan = np.isnan(a64)
    assert np.array_equal(nan, np.isnan(a32)), "NaN positions differ between float32 and float64"
    if nan.all():
        return {"max_abs_err_f32_vs_f64": None, "max_abs_f64": None}
    return {
        "max_abs_err_f32_vs_f64": float(np.max(np.abs(a32 - a64)[~nan])),
        "max_abs_f64": float(np.max(np.abs(a64)[~nan])),
    }


def generate_losses(out_dir: Path) -> dict:
    """losses/losses.safetensors: MSE and cross-entropy values and input gradients."""
    inputs = grads.loss_inputs()
    r32 = grads.loss_results(inputs, torch.float32)
    r64 = grads.loss_results(inputs, torch.float64)
    tensors = [(name, t.numpy()) for name, t in inputs.items()]
    tensors += [(name, t.numpy()) for name, t in r32.items()]
    tensors += [(name + ".f64", t.numpy()) for name, t in r64.items()]
    directory = out_dir / "losses"
    directory.mkdir()
    safetensors_io.write(str(directory / "losses.safetensors"), tensors, {
        "reference": "torch.nn.MSELoss(reduction) and torch.nn.CrossEntropyLoss(reduction, "
                     "ignore_index=-100), gradients by torch.autograd",
        "ignore_index": str(grads.IGNORE_INDEX),
    })
    return {
        "N": grads.LOSS_N,
        "C": grads.LOSS_C,
        "ignore_index": grads.IGNORE_INDEX,
        "ignored_rows": list(grads.IGNORED_ROWS),
        "seed": grads.zlib.crc32(b"losses"),
        "results": {name: error_stats(r32[name], r64[name]) for name in r32},
    }


def reference_of(case: Case) -> str:
    if case.cell == "gru_reset_before":
        return "manual torch ops (tools/golden/manual_gru.py, reset_after=False)"
    return f"torch.nn.{ {'lstm': 'LSTM', 'gru': 'GRU'}.get(case.cell, 'RNN') }"


def debian_torch_package() -> str:
    """The Debian package that provided torch (its version is more precise than __version__)."""
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}", "python3-torch"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def safe_to_replace(out_dir: Path) -> bool:
    """Only ever delete a directory named Golden, or an empty/new one."""
    return out_dir.name == GOLDEN_DIR_NAME or not out_dir.exists() or not any(out_dir.iterdir())


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output directory (default {DEFAULT_OUT.relative_to(REPO)})")
    parser.add_argument("--no-check", action="store_true", help="skip check.py afterwards")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)          # reproducible float32 bits, and polite to benchmarks
    torch.use_deterministic_algorithms(True)

    out_dir: Path = args.out.resolve()
    if not safe_to_replace(out_dir):
        parser.error(f"refusing to delete {out_dir}: not named {GOLDEN_DIR_NAME} and not empty")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)

    cases = all_cases()
    entries = [generate_case(case, out_dir) for case in cases]
    clip_entries = [generate_case(c.case, out_dir, c) for c in clip_cases()]
    tbptt_entries = [generate_case(c.case, out_dir, c) for c in tbptt_cases()]
    losses_entry = generate_losses(out_dir)

    manifest = {
        "description": "PyTorch forward and gradient fixtures for Rnn.Simd; regenerate with "
                       "/usr/bin/python3 tools/golden/generate.py",
        "torch_version": torch.__version__,
        "torch_package": debian_torch_package(),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "files": {
            "model.safetensors": "state_dict() in float32 under PyTorch's names (with the "
                                 "case's prefix); metadata cell, batch_first",
            "input.safetensors": "input F32 [T,B,X] or [B,T,X] if batch_first; optional h0 F32 "
                                 "[L*D,B,h_out], c0 F32 [L*D,B,H], lengths I64 [B]",
            "expected.safetensors": "output, h_n, c_n (LSTM) from the float32 run; output.f64, "
                                    "h_n.f64, c_n.f64 from the same weights and inputs run in "
                                    "float64",
            "grad_output.safetensors": "upstream gradients F32: output (shape and layout of "
                                       "expected output, random at padded steps too), h_n, "
                                       "c_n (LSTM); metadata case (and chunk for TBPTT)",
            "expected_grad.safetensors": "gradients of loss = sum(output*G.output) + "
                                         "sum(h_n*G.h_n) [+ sum(c_n*G.c_n)]: grad.input, "
                                         "grad.h0, grad.c0 (LSTM; zeros state when the case "
                                         "has none), grad.<prefix><param> for every "
                                         "parameter, loss [1], total_norm [1] (clip by norm); "
                                         "each with an F64 .f64 twin; metadata case, "
                                         "reference, and max_norm | clip_value | chunk",
            "losses/losses.safetensors": "MSE and cross-entropy fixtures (see README)",
        },
        "error_note": "results.<name>.max_abs_err_f32_vs_f64 is the reference's own float32 max "
                      "abs error against its float64 twin; grad_results likewise for "
                      "expected_grad.safetensors (null where the value is NaN)",
        "cases": entries,
        "clip_cases": clip_entries,
        "tbptt_cases": tbptt_entries,
        "losses": losses_entry,
    }
    with open(out_dir / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, allow_nan=False)
        f.write("\n")

    print(f"wrote {len(entries)} cases, {len(clip_entries)} clip, {len(tbptt_entries)} TBPTT "
          f"and the losses to {out_dir}")
    if not args.no_check:
        import check
        return check.main(["--dir", str(out_dir)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
