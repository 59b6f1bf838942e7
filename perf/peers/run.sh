#!/usr/bin/env bash
# Rnn.Simd beside the peers (oneDNN, PyTorch C++ and Python, ONNX Runtime) on the rows of ../shared/peers/configs.tsv,
# on this machine, in one run: each pass runs the peers' own harness (run_all.sh, one pass) and then `rnn-simd bench`
# on the same rows and thread counts, so every engine meets the same machine state; summarize.py then keeps, per row
# and engine, the pass with the lowest median and prints the table with Rnn.Simd as a column.
#
#   perf/peers/run.sh                   2 passes, threads 1 and 2 (about 25 minutes on 2 cores)
#   PASSES=1 THREADS=1 perf/peers/run.sh
#   ENGINES="onednn" perf/peers/run.sh  fewer peers
#
# Output: perf/results/peers/summary.md (the table), perf/results/peers/all/*.jsonl (every pass's rows), and
# perf/results/peers/ratios.md (peer median / Rnn.Simd median per row: above 1 means Rnn.Simd is faster).
# The int8 peer, PyTorch's dynamic quantisation (quantize_dynamic, qint8) on the step and B = 1 seq rows with the
# float32 module beside it, runs on its own: perf/peers/qint8.sh (results: perf/results/peers/pytorch-qint8.md).
# Needs what ../shared/peers/setup.sh installs (it is run first; idempotent). Run it with nothing else on the machine.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS="${PEERS:-$REPO/../shared/peers}"
OUT="${OUT:-$REPO/perf/results/peers}"
PASSES="${PASSES:-2}"
THREADS="${THREADS:-1 2}"
ENGINES="${ENGINES:-onednn pytorch-cpp pytorch-py ort-node}"
PY="${PY:-/usr/bin/python3}"
[ -d "$PEERS" ] || { echo "peers harness not found at $PEERS (set PEERS=...)" >&2; exit 1; }

"$PEERS/setup.sh" >&2
dotnet build "$REPO/src/Rnn.Simd.Cli" -c Release -v quiet -nologo >&2
RNN_SIMD=("dotnet" "$REPO/src/Rnn.Simd.Cli/bin/Release/net10.0/rnn-simd.dll")

rm -rf "$OUT" && mkdir -p "$OUT/all"
for pass in $(seq 1 "$PASSES"); do
  dir="$OUT/pass$pass"
  skip=0; [ "$pass" -gt 1 ] && skip=1
  # The peers' harness: build, numerics check, limits (first pass), every engine, its own summary.
  (cd "$PEERS" && RESULTS_DIR="$dir" PASSES=1 THREADS="$THREADS" ENGINES="$ENGINES" SKIP_LIMITS=$skip \
     PY="$PY" ./run_all.sh > "$dir.peers.log" 2>&1) || { tail -20 "$dir.peers.log" >&2; exit 1; }
  [ "$pass" -gt 1 ] && cp "$OUT/pass1/limits.jsonl" "$dir/limits.jsonl"
  for t in $THREADS; do
    echo "pass $pass/$PASSES  engine rnn-simd  threads $t" >&2
    "${RNN_SIMD[@]}" bench --configs "$PEERS/configs.tsv" --threads "$t" >> "$dir/rnn-simd.jsonl"
  done
done

# Every pass's rows side by side (summarize.py keeps the lowest median per row and engine).
for f in "$OUT"/pass1/*.jsonl; do
  name=$(basename "$f")
  cat "$OUT"/pass*/"$name" > "$OUT/all/$name"
done
cp "$OUT/pass1/numerics.json" "$OUT/all/" 2>/dev/null || true
(cd "$PEERS" && "$PY" summarize.py --results "$OUT/all" --frac) > "$OUT/summary.md"
"$PY" "$REPO/perf/peers/ratios.py" "$OUT/all" > "$OUT/ratios.md"
cat "$OUT/summary.md" "$OUT/ratios.md"
