"""Gradient references: autograd through the forward fixtures, clipping, truncated BPTT, losses.

Every function here runs in the dtype it is given (float32 or float64); generate.py calls each
twice, check.py calls them in float64 to re-derive and to perturb.

The scalar a case differentiates is

    L = sum(output * G_out) + sum(h_n * G_hn) [+ sum(c_n * G_cn) for LSTM]

with G_* the case's grad_output.safetensors (so dL/doutput = G_out, dL/dh_n = G_hn, ...).
Gradients are taken with respect to the input, the initial state h0 (and c0) -- zeros with
requires_grad when the case gives none -- and every parameter.
"""

from __future__ import annotations

import copy
import zlib
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from cases import Case
from manual_gru import gru_forward

Tensors = Dict[str, torch.Tensor]


def grad_seed(name: str) -> int:
    """Seed of the generator for a fixture's gradient-side random tensors (independent of the
    forward draws, so adding gradients leaves the forward fixtures byte-identical)."""
    return zlib.crc32((name + ":grad").encode("utf-8"))


def state_shapes(case: Case) -> Dict[str, Tuple[int, ...]]:
    ld = case.layers * case.directions
    shapes = {"h": (ld, case.B, case.h_out)}
    if case.is_lstm:
        shapes["c"] = (ld, case.B, case.H)
    return shapes


def output_shape(case: Case) -> Tuple[int, ...]:
    tb = (case.B, case.T) if case.batch_first else (case.T, case.B)
    return tb + (case.directions * case.h_out,)


def make_grad_output(case: Case) -> Tensors:
    """G_out (random at padded steps too), G_hn, G_cn: float32 randn from the ':grad' generator."""
    generator = torch.Generator().manual_seed(grad_seed(case.name))
    shapes = state_shapes(case)
    grad_output = {
        "output": torch.randn(*output_shape(case), generator=generator),
        "h_n": torch.randn(*shapes["h"], generator=generator),
    }
    if case.is_lstm:
        grad_output["c_n"] = torch.randn(*shapes["c"], generator=generator)
    return grad_output


def parameter_names(case: Case, module: nn.Module) -> List[str]:
    """Parameter names in state_dict order (checked equal to named_parameters order)."""
    names = list(module.state_dict().keys())
    assert names == [n for n, _ in module.named_parameters()], "state_dict/parameter order"
    return names


def forward(case: Case, module: nn.Module, x: torch.Tensor, h0: torch.Tensor,
            c0: Optional[torch.Tensor], lengths: Optional[torch.Tensor]) -> Tensors:
    """Differentiable forward with an explicit initial state, in the dtype of module and x.

    nn.RNN/LSTM/GRU, with pack_padded_sequence(enforce_sorted=False) -> module ->
    pad_packed_sequence(total_length=T) when lengths are given; gru_reset_before runs
    manual_gru.gru_forward(reset_after=False) on the module's (differentiable) parameters.
    """
    if case.cell == "gru_reset_before":
        params = dict(module.named_parameters())
        output, h_n = gru_forward(x, params, layers=case.layers, bidirectional=case.bidirectional,
                                  batch_first=case.batch_first, reset_after=False, h0=h0,
                                  lengths=lengths)
        return {"output": output, "h_n": h_n}
    hx = (h0, c0) if case.is_lstm else h0
    if lengths is not None:
        packed = pack_padded_sequence(x, lengths, batch_first=case.batch_first,
                                      enforce_sorted=False)
        packed_out, state = module(packed, hx)
        output, _ = pad_packed_sequence(packed_out, batch_first=case.batch_first,
                                        padding_value=0.0, total_length=case.T)
    else:
        output, state = module(x, hx)
    if case.is_lstm:
        return {"output": output, "h_n": state[0], "c_n": state[1]}
    return {"output": output, "h_n": state}


def leaves(case: Case, inputs: Tensors, dtype: torch.dtype) -> Tensors:
    """Fresh leaf tensors input, h0 (and c0) in dtype, requiring grad; zeros for absent states."""
    shapes = state_shapes(case)
    result = {"input": inputs["input"].to(dtype, copy=True)}
    result["h0"] = (inputs["h0"].to(dtype, copy=True) if "h0" in inputs
                    else torch.zeros(*shapes["h"], dtype=dtype))
    if case.is_lstm:
        result["c0"] = (inputs["c0"].to(dtype, copy=True) if "c0" in inputs
                        else torch.zeros(*shapes["c"], dtype=dtype))
    for t in result.values():
        t.requires_grad_(True)
    return result


def weighted_sum(results: Tensors, grad_output: Tensors, dtype: torch.dtype) -> torch.Tensor:
    """sum(output*G_out) + sum(h_n*G_hn) [+ sum(c_n*G_cn)], G cast to dtype."""
    loss = None
    for name in ("output", "h_n", "c_n"):
        if name in grad_output:
            term = (results[name] * grad_output[name].to(dtype)).sum()
            loss = term if loss is None else loss + term
    return loss


class GradRun:
    """One autograd run: forward results, the loss, the module copy and all gradients."""

    def __init__(self, results: Tensors, loss: torch.Tensor, module: nn.Module,
                 grads: Tensors):
        self.results = results
        self.loss = loss
        self.module = module
        self.grads = grads       # "grad.input", "grad.h0", ["grad.c0"], "grad.<prefix><param>"


def collect_grads(case: Case, module: nn.Module, leaf: Tensors) -> Tensors:
    grads: Tensors = {}
    for name, t in leaf.items():
        assert t.grad is not None, f"{case.name}: no gradient reached {name}"
        grads[f"grad.{name}"] = t.grad.detach().clone()
    params = dict(module.named_parameters())
    for name in parameter_names(case, module):
        g = params[name].grad
        assert g is not None, f"{case.name}: no gradient reached parameter {name}"
        grads[f"grad.{case.prefix}{name}"] = g.detach().clone()
    return grads


def run_with_grad(case: Case, module: nn.Module, inputs: Tensors, grad_output: Tensors,
                  dtype: torch.dtype) -> GradRun:
    """Autograd of L over the whole sequence, module and inputs cast to dtype."""
    m = copy.deepcopy(module).to(dtype)
    m.zero_grad(set_to_none=True)
    leaf = leaves(case, inputs, dtype)
    results = forward(case, m, leaf["input"], leaf["h0"], leaf.get("c0"), inputs.get("lengths"))
    loss = weighted_sum(results, grad_output, dtype)
    loss.backward()
    return GradRun({k: v.detach() for k, v in results.items()}, loss.detach(), m,
                   collect_grads(case, m, leaf))


# ---------------------------------------------------------------------------------------------
# Clipping

def clip(run: GradRun, case: Case, kind: str, threshold: float) -> Optional[torch.Tensor]:
    """Clip the run's parameter gradients in place with PyTorch's utilities (input/h0/c0
    gradients are not parameters and stay as they are). Returns total_norm for kind 'norm'."""
    params = [p for _, p in run.module.named_parameters()]
    total_norm = None
    if kind == "norm":
        total_norm = torch.nn.utils.clip_grad_norm_(params, max_norm=threshold, norm_type=2.0)
    elif kind == "value":
        torch.nn.utils.clip_grad_value_(params, clip_value=threshold)
    else:
        raise ValueError(kind)
    named = dict(run.module.named_parameters())
    for name in parameter_names(case, run.module):
        run.grads[f"grad.{case.prefix}{name}"] = named[name].grad.detach().clone()
    return total_norm


# ---------------------------------------------------------------------------------------------
# Truncated BPTT

def chunks(steps: int, chunk: int) -> List[Tuple[int, int]]:
    return [(start, min(steps, start + chunk)) for start in range(0, steps, chunk)]


def run_tbptt(case: Case, module: nn.Module, inputs: Tensors, grad_output: Tensors,
              dtype: torch.dtype, chunk: int) -> GradRun:
    """Truncated BPTT: chunks of `chunk` steps (the last may be shorter), each run from the
    carried state detached (chunk 0 from h0/c0 themselves), loss_c = sum(out_c * G_out_c)
    plus, for the last chunk only, sum(h_n * G_hn) (+ sum(c_n * G_cn)); backward per chunk,
    gradients accumulating across chunks. Time-major, no lengths."""
    assert not case.batch_first and not case.has_lengths and not case.bidirectional
    assert case.cell in ("rnn_tanh", "rnn_relu", "lstm", "gru")
    m = copy.deepcopy(module).to(dtype)
    m.zero_grad(set_to_none=True)
    leaf = leaves(case, inputs, dtype)
    h, c = leaf["h0"], leaf.get("c0")
    outputs, total = [], None
    spans = chunks(case.T, chunk)
    for index, (start, stop) in enumerate(spans):
        results = forward(case, m, leaf["input"][start:stop], h, c, None)
        g = {"output": grad_output["output"][start:stop]}
        if index == len(spans) - 1:
            g.update({k: v for k, v in grad_output.items() if k != "output"})
        loss = weighted_sum(results, g, dtype)
        loss.backward()
        total = loss.detach() if total is None else total + loss.detach()
        outputs.append(results["output"].detach())
        h = results["h_n"].detach()
        c = results["c_n"].detach() if case.is_lstm else None
    final = {"output": torch.cat(outputs, dim=0), "h_n": h}
    if case.is_lstm:
        final["c_n"] = c
    return GradRun(final, total, m, collect_grads(case, m, leaf))


# ---------------------------------------------------------------------------------------------
# Losses

LOSS_N, LOSS_C = 7, 5
IGNORE_INDEX = -100
IGNORED_ROWS = (1, 4)


def loss_inputs() -> Tensors:
    """The losses fixture's inputs, from the generator seeded crc32('losses')."""
    generator = torch.Generator().manual_seed(zlib.crc32(b"losses"))
    prediction = torch.randn(LOSS_N, LOSS_C, generator=generator)
    target = torch.randn(LOSS_N, LOSS_C, generator=generator)
    logits = 2.0 * torch.randn(LOSS_N, LOSS_C, generator=generator)
    targets = torch.randint(0, LOSS_C, (LOSS_N,), generator=generator, dtype=torch.int64)
    for row in IGNORED_ROWS:
        targets[row] = IGNORE_INDEX
    return {"mse.prediction": prediction, "mse.target": target, "ce.logits": logits,
            "ce.targets": targets,
            "ce_all_ignored.targets": torch.full((LOSS_N,), IGNORE_INDEX, dtype=torch.int64)}


def loss_results(inputs: Tensors, dtype: torch.dtype) -> Tensors:
    """Loss values (shape [1]) and gradients wrt the prediction/logits, in dtype."""
    out: Tensors = {}
    for reduction in ("mean", "sum"):
        prediction = inputs["mse.prediction"].to(dtype, copy=True).requires_grad_(True)
        loss = nn.MSELoss(reduction=reduction)(prediction, inputs["mse.target"].to(dtype))
        loss.backward()
        out[f"mse.{reduction}.loss"] = loss.detach().reshape(1)
        out[f"mse.{reduction}.grad"] = prediction.grad.detach()
    for prefix in ("ce", "ce_all_ignored"):
        for reduction in ("mean", "sum"):
            logits = inputs["ce.logits"].to(dtype, copy=True).requires_grad_(True)
            loss = nn.CrossEntropyLoss(reduction=reduction, ignore_index=IGNORE_INDEX)(
                logits, inputs[f"{prefix}.targets"])
            loss.backward()
            out[f"{prefix}.{reduction}.loss"] = loss.detach().reshape(1)
            out[f"{prefix}.{reduction}.grad"] = logits.grad.detach()
    return out
