#!/usr/bin/env bash
# The issue-18 "Done when" check, reproducible: fresh ONNX cases (tools/onnx-check/make_cases.py: other seeds and sizes
# than the committed fixtures) through `rnn-simd infer`, judged against ONNX Runtime 1.32 in-process (the test
# project's OnnxCheckTests, which this sets ONNX_CHECK_DIR for) and float64 references; the output files compared byte
# for byte under DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0, DOTNET_EnableHWIntrinsic=0 and with --threads 2; damaged
# models must end in a one-line error. Writes OUT/summary.md.
#
# Run from anywhere: tools/onnx-check/run.sh [OUT=/tmp/onnx-check] [SEED=2027]   (needs /usr/bin/python3 with
# python3-torch and python3-onnx; builds the solution in Release first unless NO_BUILD=1)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-/tmp/onnx-check}"
seed="${2:-2027}"
py=/usr/bin/python3

"$py" "$root/tools/onnx-check/make_cases.py" "$out" "$seed"
[ "${NO_BUILD:-0}" = 1 ] || dotnet build "$root" -c Release -v q -nologo | tail -n 3
cli="$root/src/Rnn.Simd.Cli/bin/Release/net10.0/rnn-simd.dll"

infer() { dotnet "$cli" infer --model "$1/model.onnx" --input "$1/input.safetensors" --output "$2" "${@:3}"; }

: > "$out/identity.tsv"
for dir in "$out"/cases/*/; do
    dir="${dir%/}"
    name="$(basename "$dir")"
    infer "$dir" "$dir/out.safetensors"
    verdict=identical
    for variant in EnableAVX512 EnableAVX2 EnableHWIntrinsic; do
        env "DOTNET_$variant=0" dotnet "$cli" infer --model "$dir/model.onnx" --input "$dir/input.safetensors" --output "$dir/out.$variant.safetensors"
        cmp -s "$dir/out.safetensors" "$dir/out.$variant.safetensors" || verdict="DIFFERS under DOTNET_$variant=0"
    done
    infer "$dir" "$dir/out.threads2.safetensors" --threads 2
    cmp -s "$dir/out.safetensors" "$dir/out.threads2.safetensors" || verdict="DIFFERS with --threads 2"
    printf '%s\t%s\n' "$name" "$verdict" >> "$out/identity.tsv"
done

# Damaged models: each case's file cut in half, and with 64 bytes in its middle overwritten; every run must fail with
# exactly one line on stderr (no stack trace) and a non-zero exit code.
: > "$out/hostile.tsv"
for dir in "$out"/cases/*/; do
    dir="${dir%/}"
    size=$(stat -c %s "$dir/model.onnx")
    mkdir -p "$dir/hostile"
    head -c $((size / 2)) "$dir/model.onnx" > "$dir/hostile/model.onnx"
    cp "$dir/model.onnx" "$dir/hostile/overwritten.onnx"
    "$py" -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); m=len(b)//2; b[m:m+64]=bytes((i*37+11)%256 for i in range(64)); open(p,'wb').write(b)" "$dir/hostile/overwritten.onnx"
    for bad in model overwritten; do
        set +e
        dotnet "$cli" infer --model "$dir/hostile/$bad.onnx" --input "$dir/input.safetensors" --output "$dir/hostile/out.safetensors" 2> "$dir/hostile/$bad.err" > /dev/null
        code=$?
        set -e
        lines=$(wc -l < "$dir/hostile/$bad.err")
        printf '%s\t%s\t%s\t%s\t%s\n' "$(basename "$dir")" "$bad" "$code" "$lines" "$(head -c 160 "$dir/hostile/$bad.err" | tr '\n\t' '  ')" >> "$out/hostile.tsv"
    done
done

set +e
ONNX_CHECK_DIR="$out" dotnet test "$root/tests/Rnn.Simd.Tests" -c Release --no-build --filter "FullyQualifiedName~OnnxCheckTests" > "$out/test.log" 2>&1
tested=$?
set -e
"$py" "$root/tools/onnx-check/summarise.py" "$out" "$tested"
cat "$out/summary.md"
