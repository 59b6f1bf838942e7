#!/usr/bin/python3
"""OUT/summary.md from run.sh's tables: results.tsv (OnnxCheckTests: each output against ONNX Runtime and the float64
reference), identity.tsv (byte identity under the ISA switches and on 2 threads) and hostile.tsv (damaged models).

Run: /usr/bin/python3 tools/onnx-check/summarise.py OUT TEST_EXIT_CODE
"""
import csv
import os
import sys

out, tested = sys.argv[1], int(sys.argv[2])


def rows(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return list(csv.reader(fh, delimiter="\t"))


results = rows("results.tsv")
identity = dict(rows("identity.tsv"))
hostile = rows("hostile.tsv")
lines = ["# tools/onnx-check", ""]
header, body = (results[0], results[1:]) if results else ([], [])
failed = [r for r in body if r[-1] != "pass"]
ratios = [float(r[4]) for r in body if r[4] != "-"]
raw = [float(r[2]) / float(r[3]) for r in body if r[4] != "-" and float(r[3]) > 0]
lines.append(f"{len({r[0] for r in body})} cases, {len(body)} outputs: {len(body) - len(failed)} pass, {len(failed)} fail "
             f"(OnnxCheckTests exit code {tested}); error ratio to ONNX Runtime's (floor 1e-6): max "
             f"{max(ratios) if ratios else float('nan'):.3f}, {sum(r <= 1 for r in ratios)} of {len(ratios)} at most 1; without the floor "
             f"(ours / ONNX Runtime's error, where its error is not 0): max {max(raw) if raw else float('nan'):.2f}, median "
             f"{sorted(raw)[len(raw) // 2] if raw else float('nan'):.2f}.")
differ = {k: v for k, v in identity.items() if v != "identical"}
lines.append(f"Output files byte-identical under DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0, DOTNET_EnableHWIntrinsic=0 "
             f"and --threads 2: {len(identity) - len(differ)} of {len(identity)} cases" + (f"; differ: {differ}" if differ else "") + ".")


def hostile_ok(r):
    code, count = int(r[2]), int(r[3])
    return (code != 0 and count == 1) or (code == 0 and count == 0 and r[1] == "overwritten")


bad = [r for r in hostile if not hostile_ok(r)]
cut_failed = sum(1 for r in hostile if r[1] == "model" and int(r[2]) != 0 and int(r[3]) == 1)
over_errors = sum(1 for r in hostile if r[1] == "overwritten" and int(r[2]) != 0)
over_ran = sum(1 for r in hostile if r[1] == "overwritten" and int(r[2]) == 0)
lines.append(f"Damaged models: {cut_failed} of {sum(r[1] == 'model' for r in hostile)} cut in half end in a one-line error; "
             f"with 64 bytes overwritten, {over_errors} end in a one-line error and {over_ran} still parse and run "
             f"(the bytes fell in weight data); {len(bad)} ended otherwise.")
lines += ["", "| case | output | ours vs float64 | ONNX Runtime vs float64 | ratio | max \\|ours − ORT\\| | verdict | bytes |",
          "|---|---|---:|---:|---:|---:|---|---|"]
for r in body:
    lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} | {identity.get(r[0], '?')} |")
if bad:
    lines += ["", "Damaged models that did not end in one line:", ""] + [f"- {r[0]} {r[1]}: exit {r[2]}, {r[3]} lines: {r[4]}" for r in bad]
examples = [r for r in hostile if int(r[2]) != 0][:3]
if examples:
    lines += ["", "Examples of the errors:", ""] + [f"- `{r[4].strip()}`" for r in examples]
with open(os.path.join(out, "summary.md"), "w") as fh:
    fh.write("\n".join(lines) + "\n")
