#!/usr/bin/python3
"""Self-check of tests/Rnn.Simd.Tests/Golden (generate.py runs it after writing).

    /usr/bin/python3 tools/golden/check.py [--dir DIR]

1. Layout: exactly one directory per case of cases.py plus manifest.json, exactly three files
   per case, the manifest's options equal to cases.py's, total size well under 2 MB.
2. Every file reread with safetensors_io.read (strict: offsets contiguous, aligned, no gaps),
   tensor names, shapes and dtypes as expected, metadata cell/batch_first, lengths values.
3. Outputs at padded steps exactly 0 (float32 and float64).
4. The float32-vs-float64 errors in the manifest recomputed from the files.
5. Every case's float64 results recomputed with plain Python float loops (loops.py) from the
   equations, agreeing with the stored float64 results to 1e-12.
6. manual_gru.gru_forward with reset_after=True agrees with nn.GRU's stored float64 results to
   1e-12 on every GRU case: this vouches for the plumbing the reset-before fixtures share.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loops  # noqa: E402
import safetensors_io  # noqa: E402
from cases import Case, all_cases  # noqa: E402
from generate import DEFAULT_OUT, expected_shapes, padding_mask  # noqa: E402
from manual_gru import gru_forward  # noqa: E402

TOLERANCE_F64 = 1e-12
MAX_TOTAL_BYTES = 2 * 1024 * 1024
FILES = ("model.safetensors", "input.safetensors", "expected.safetensors")
OPTION_KEYS = ("cell", "layers", "bidirectional", "batch_first", "proj_size", "has_h0",
               "has_lengths", "lengths", "prefix", "T", "B", "X", "H", "h_out", "seed")


class CheckError(Exception):
    pass


def require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckError(message)


def check_layout(root: Path, cases: List[Case], manifest: dict) -> None:
    names = [c.name for c in cases]
    on_disk = sorted(p.name for p in root.iterdir())
    require(on_disk == sorted(names + ["manifest.json"]),
            f"directory entries {on_disk} differ from the case list")
    for case in cases:
        files = sorted(p.name for p in (root / case.name).iterdir())
        require(files == sorted(FILES), f"{case.name}: files {files}")
    require([e["name"] for e in manifest["cases"]] == names, "manifest case order/names differ")
    for case, entry in zip(cases, manifest["cases"]):
        for key in OPTION_KEYS:
            require(entry[key] == getattr(case, key), f"{case.name}: manifest {key} "
                    f"{entry[key]!r} != cases.py {getattr(case, key)!r}")
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    require(total < MAX_TOTAL_BYTES, f"Golden is {total} bytes")
    print(f"layout ok: {len(cases)} cases, {total} bytes in total")


def check_files(root: Path, case: Case):
    files = {kind: safetensors_io.read(str(root / case.name / f"{kind}.safetensors"))
             for kind in ("model", "input", "expected")}
    shapes = expected_shapes(case)
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
    if case.has_lengths:
        require(files["input"]["lengths"].tolist() == case.lengths, f"{case.name}: lengths")
    return files


def check_padding(case: Case, expected) -> None:
    mask = padding_mask(case)
    if mask is None:
        return
    for name in ("output", "output.f64"):
        require(not expected[name][mask].any(), f"{case.name}: {name} not 0 at padded steps")


def check_errors(case: Case, expected, entry: dict) -> None:
    for name, stats in entry["results"].items():
        err = float(np.max(np.abs(expected[name].astype(np.float64) - expected[name + ".f64"])))
        require(err == stats["max_abs_err_f32_vs_f64"], f"{case.name}: {name} error differs")
        # float32 should track float64 closely on these tiny, well-scaled problems
        require(err < 1e-5, f"{case.name}: {name} float32 error {err} is suspiciously large")


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


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="self-check of the golden fixtures")
    parser.add_argument("--dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    root = args.dir.resolve()

    with open(root / "manifest.json", encoding="utf-8") as f:
        manifest = json.load(f)
    cases = all_cases()
    try:
        check_layout(root, cases, manifest)
        worst_loops, worst_manual = 0.0, 0.0
        for case, entry in zip(cases, manifest["cases"]):
            files = check_files(root, case)
            check_padding(case, files["expected"])
            check_errors(case, files["expected"], entry)
            worst_loops = max(worst_loops, check_against_loops(case, files))
            if case.cell == "gru":
                worst_manual = max(worst_manual, check_manual_gru_matches_pytorch(case, files))
    except CheckError as e:
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        return 1
    print(f"files ok: names, shapes, dtypes, metadata, zero padding, manifest errors")
    print(f"float64 loops vs stored float64 results: max abs diff {worst_loops:.3e} "
          f"(tolerance {TOLERANCE_F64:g}, all {len(cases)} cases)")
    print(f"manual GRU (reset after) vs nn.GRU float64: max abs diff {worst_manual:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
