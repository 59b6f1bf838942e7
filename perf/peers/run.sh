#!/usr/bin/env bash
# Rnn.Simd beside the peers (oneDNN, PyTorch C++ and Python, ONNX Runtime) on the rows of ../shared/peers/configs.tsv,
# on this machine, in one run: each pass runs the peers' own harness (run_all.sh, one pass) and then `rnn-simd bench`
# on the same rows and thread counts, so every engine meets the same machine state; summarize.py then keeps, per row
# and engine, the pass with the lowest median and prints the table with Rnn.Simd as a column.
#
#   perf/peers/run.sh                   2 passes, threads 1 and 2 (about 35 minutes on 2 cores)
#   PASSES=1 THREADS=1 perf/peers/run.sh
#   ENGINES="onednn" perf/peers/run.sh  fewer peers
#
# Output: perf/results/peers/summary.md (the float32 table), perf/results/peers/all/*.jsonl (every pass's rows),
# perf/results/peers/ratios.md (peer median / Rnn.Simd median per row: above 1 means Rnn.Simd is faster), and
# perf/results/peers/precision.md (Rnn.Simd at f32, bf16 and int8 against every peer, % of floor at each precision's
# bytes; PyTorch's dynamic int8 beside the int8 rows; all/reduced/*.jsonl holds those lines).
# PyTorch's dynamic int8 quantisation (quantize_dynamic, qint8) runs in each pass too (QINT8=0 to skip);
# perf/peers/qint8.sh runs it on its own with the float32 module beside it (perf/results/peers/pytorch-qint8.md).
# Needs what ../shared/peers/setup.sh installs (it is run first; idempotent). Run it with nothing else on the machine.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS="${PEERS:-$REPO/../shared/peers}"
OUT="${OUT:-$REPO/perf/results/peers}"
PASSES="${PASSES:-2}"
THREADS="${THREADS:-1 2}"
ENGINES="${ENGINES:-onednn pytorch-cpp pytorch-py ort-node ort-csharp}"
PRECISIONS="${PRECISIONS:-bf16 int8}"   # Rnn.Simd's reduced weight precisions beside float32 ("" = float32 only)
QINT8="${QINT8:-1}"                     # 1 = PyTorch's dynamic int8 (perf/peers/pytorch_qint8.py) on the int8 rows
PY="${PY:-/usr/bin/python3}"
[ -d "$PEERS" ] || { echo "peers harness not found at $PEERS (set PEERS=...)" >&2; exit 1; }

"$PEERS/setup.sh" >&2
dotnet build "$REPO/src/Rnn.Simd.Cli" -c Release -v quiet -nologo >&2
RNN_SIMD=("dotnet" "$REPO/src/Rnn.Simd.Cli/bin/Release/net10.0/rnn-simd.dll")

# Only this script's own outputs are replaced (qint8.sh's qint8/ and pytorch-qint8.md live here too).
rm -rf "$OUT"/pass* "$OUT/all" "$OUT"/{summary,ratios,precision}.md "$OUT/qint8-rows.tsv"
mkdir -p "$OUT/all/reduced"
# The rows PyTorch's dynamic int8 runs: step, and seq with B = 1.
awk '/^#/ || NF != 6 { next } $2 == "step" || ($2 == "seq" && $5 == 1)' "$PEERS/configs.tsv" > "$OUT/qint8-rows.tsv"
for pass in $(seq 1 "$PASSES"); do
  dir="$OUT/pass$pass"
  mkdir -p "$dir/reduced"
  skip=0; [ "$pass" -gt 1 ] && skip=1
  # The peers' harness: build, numerics check, limits (first pass), every engine, its own summary.
  (cd "$PEERS" && RESULTS_DIR="$dir" PASSES=1 THREADS="$THREADS" ENGINES="$ENGINES" SKIP_LIMITS=$skip \
     PY="$PY" ./run_all.sh > "$dir.peers.log" 2>&1) || { tail -20 "$dir.peers.log" >&2; exit 1; }
  [ "$pass" -gt 1 ] && cp "$OUT/pass1/limits.jsonl" "$dir/limits.jsonl"
  for t in $THREADS; do
    echo "pass $pass/$PASSES  engine rnn-simd  threads $t" >&2
    "${RNN_SIMD[@]}" bench --configs "$PEERS/configs.tsv" --threads "$t" >> "$dir/rnn-simd.jsonl"
    # Reduced precisions and the int8 peer go to reduced/, outside the peers' float32 summary.
    for p in $PRECISIONS; do
      echo "pass $pass/$PASSES  engine rnn-simd $p  threads $t" >&2
      "${RNN_SIMD[@]}" bench --configs "$PEERS/configs.tsv" --threads "$t" --precision "$p" >> "$dir/reduced/rnn-simd.jsonl"
    done
    if [ "$QINT8" = 1 ]; then
      echo "pass $pass/$PASSES  engine pytorch-qint8  threads $t" >&2
      OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_WAIT_POLICY=passive \
        "$PY" "$REPO/perf/peers/pytorch_qint8.py" --threads "$t" --peers "$PEERS" --configs "$OUT/qint8-rows.tsv" \
        2>> "$dir/pytorch-qint8.log" | grep '"pytorch-qint8"' >> "$dir/reduced/pytorch-qint8.jsonl" || true
    fi
  done
done

# Every pass's rows side by side (summarize.py keeps the lowest median per row and engine).
for f in "$OUT"/pass1/*.jsonl; do
  name=$(basename "$f")
  cat "$OUT"/pass*/"$name" > "$OUT/all/$name"
done
for f in "$OUT"/pass1/reduced/*.jsonl; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  cat "$OUT"/pass*/reduced/"$name" > "$OUT/all/reduced/$name"
done
cp "$OUT/pass1/numerics.json" "$OUT/all/" 2>/dev/null || true
(cd "$PEERS" && "$PY" summarize.py --results "$OUT/all" --frac) > "$OUT/summary.md"
"$PY" "$REPO/perf/peers/ratios.py" "$OUT/all" > "$OUT/ratios.md"
"$PY" "$REPO/perf/peers/precision.py" "$OUT/all" > "$OUT/precision.md"
cat "$OUT/summary.md" "$OUT/ratios.md" "$OUT/precision.md"
