"""The golden cases: which cell, which options, which sizes.

Not the full cross product. Each base cell gets the same six option patterns, so every option
value (1/2 layers, uni/bidirectional, time-major/batch_first, zero/given initial state,
full/per-sequence lengths) appears with every cell, and the last pattern combines them all:

    basic                       1 layer, unidirectional, time-major, zero state, full length
    l2_h0                       2 layers, given h0 (and c0)
    bidir_bf                    bidirectional, batch_first
    lengths_h0                  per-sequence lengths, given h0 (and c0)
    bidir_lengths               bidirectional, per-sequence lengths
    l2_bidir_bf_lengths_h0      everything at once, parameter names under a prefix

Lengths vary between cells: sorted, unsorted, and with max(lengths) < T (then every output
step past the longest sequence is padding).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import List, Optional

# Sizes shared by every case unless a case overrides them.
T, B, X, H, PROJ = 6, 3, 5, 7, 4


@dataclass(frozen=True)
class Case:
    name: str
    cell: str                       # rnn_tanh | rnn_relu | lstm | gru | gru_reset_before
    layers: int = 1
    bidirectional: bool = False
    batch_first: bool = False
    has_h0: bool = False            # h0 (and c0 for LSTM) given; else zeros
    lengths: Optional[List[int]] = field(default=None)   # None: every sequence has length T
    prefix: str = ""
    proj_size: int = 0              # LSTM only
    T: int = T
    B: int = B
    X: int = X
    H: int = H

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def h_out(self) -> int:
        """Size of h (the output features per direction): proj_size if set, else H."""
        return self.proj_size if self.proj_size > 0 else self.H

    @property
    def has_lengths(self) -> bool:
        return self.lengths is not None

    @property
    def is_lstm(self) -> bool:
        return self.cell == "lstm"

    @property
    def seed(self) -> int:
        """A per-case seed that does not depend on the case's position in the list."""
        return zlib.crc32(self.name.encode("utf-8"))


def _six(base: str, cell: str, lengths: List[List[int]], proj_size: int = 0,
         prefixes: dict | None = None) -> List[Case]:
    prefixes = prefixes or {}
    common = dict(cell=cell, proj_size=proj_size)

    def case(suffix: str, **options) -> Case:
        return Case(name=f"{base}_{suffix}", prefix=prefixes.get(suffix, ""), **common, **options)

    return [
        case("basic"),
        case("l2_h0", layers=2, has_h0=True),
        case("bidir_bf", bidirectional=True, batch_first=True),
        case("lengths_h0", has_h0=True, lengths=lengths[0]),
        case("bidir_lengths", bidirectional=True, lengths=lengths[1]),
        case("l2_bidir_bf_lengths_h0", layers=2, bidirectional=True, batch_first=True,
             has_h0=True, lengths=lengths[2]),
    ]


def all_cases() -> List[Case]:
    cases: List[Case] = []
    cases += _six("rnn_tanh", "rnn_tanh", [[6, 3, 1], [2, 6, 4], [6, 3, 1]],
                  prefixes={"l2_bidir_bf_lengths_h0": "rnn."})
    cases += _six("rnn_relu", "rnn_relu", [[6, 3, 1], [4, 1, 3], [3, 6, 2]],
                  prefixes={"bidir_bf": "encoder.rnn.", "l2_bidir_bf_lengths_h0": "rnn."})
    cases += _six("lstm", "lstm", [[6, 3, 1], [2, 6, 4], [3, 6, 2]],
                  prefixes={"lengths_h0": "encoder.lstm.", "l2_bidir_bf_lengths_h0": "rnn."})
    cases += _six("lstm_proj", "lstm", [[6, 3, 1], [4, 1, 3], [6, 3, 1]], proj_size=PROJ,
                  prefixes={"l2_bidir_bf_lengths_h0": "rnn."})
    cases += _six("gru", "gru", [[5, 2, 3], [2, 6, 4], [3, 6, 2]],
                  prefixes={"bidir_bf": "model.gru.", "l2_bidir_bf_lengths_h0": "rnn."})
    # Edge: one step, one sequence, given state.
    cases.append(Case(name="lstm_t1_b1_h0", cell="lstm", has_h0=True, T=1, B=1))
    # GRU with the reset gate applied before the recurrent product (ONNX linear_before_reset=0).
    # PyTorch has no such cell: expected values come from tools/golden/manual_gru.py.
    cases.append(Case(name="gru_reset_before_basic", cell="gru_reset_before"))
    cases.append(Case(name="gru_reset_before_l2_bidir_bf_lengths_h0", cell="gru_reset_before",
                      layers=2, bidirectional=True, batch_first=True, has_h0=True,
                      lengths=[3, 6, 2], prefix="rnn."))
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "case names must be unique"
    return cases


@dataclass(frozen=True)
class ClipCase:
    """A gradient fixture whose expected parameter gradients are clipped after autograd."""
    case: Case
    kind: str                       # "norm" (clip_grad_norm_, norm_type 2) | "value" (clip_grad_value_)
    threshold: float                # max_norm or clip_value

    @property
    def name(self) -> str:
        return self.case.name


@dataclass(frozen=True)
class TbpttCase:
    """A truncated-BPTT fixture: chunks of `chunk` steps, state carried detached."""
    case: Case
    chunk: int

    @property
    def name(self) -> str:
        return self.case.name


def clip_cases() -> List[ClipCase]:
    return [
        # Two layers with given h0/c0; the global norm is far above max_norm, so clipping acts.
        ClipCase(Case(name="clip_lstm", cell="lstm", layers=2, has_h0=True), "norm", 1.0),
        # Tiny GRU whose global norm is below max_norm: clip_grad_norm_ is a no-op (coef 1).
        ClipCase(Case(name="clip_gru_tiny", cell="gru", T=3, B=2, X=3, H=4), "norm", 10.0),
        # Bidirectional tanh RNN clipped elementwise: every parameter has entries above and below.
        ClipCase(Case(name="clip_value_rnn_tanh", cell="rnn_tanh", bidirectional=True),
                 "value", 2.0),
    ]


def tbptt_cases() -> List[TbpttCase]:
    return [
        # T=12 in 3 chunks of 4, zero initial state.
        TbpttCase(Case(name="tbptt_lstm", cell="lstm", T=12, B=2), chunk=4),
        # Two layers, given h0, T=10 in chunks 4, 4, 2 (the last one shorter).
        TbpttCase(Case(name="tbptt_gru", cell="gru", layers=2, has_h0=True, T=10, B=2), chunk=4),
    ]


def model_cases() -> List[Case]:
    """Every Case with a model directory: the forward cases, then clip, then TBPTT."""
    cases = all_cases() + [c.case for c in clip_cases()] + [c.case for c in tbptt_cases()]
    names = [c.name for c in cases]
    assert len(set(names)) == len(names) and "losses" not in names, "case names must be unique"
    return cases
