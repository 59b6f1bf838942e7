#!/usr/bin/env bash
# The int8 peer (issue 21 item 3): PyTorch 1.13's dynamic quantisation (pytorch_qint8.py) on the step rows and the
# B = 1 seq row of ../shared/peers/configs.tsv, with the float32 module in the same process, at each thread count, in
# PASSES interleaved passes; and `rnn-simd bench` on the same rows in the same passes (its f32 and int8 rows once
# it has `--precision`; until then its float32 rows, which carry no precision field and count as f32). The table
# keeps the lowest median per row over the passes.
#
#   perf/peers/qint8.sh                        2 passes, threads 1 and 2 (about 3 minutes on 2 cores)
#   PASSES=1 THREADS=1 perf/peers/qint8.sh
#   QENGINE=onednn,qnnpack perf/peers/qint8.sh also the qnnpack backend (it logs a warning per call on x86)
#
# Output: perf/results/peers/qint8/*.jsonl and table.md. Run it with nothing else heavy on the machine.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS="${PEERS:-$REPO/../shared/peers}"
OUT="${OUT:-$REPO/perf/results/peers/qint8}"
PASSES="${PASSES:-2}"
THREADS="${THREADS:-1 2}"
QENGINE="${QENGINE:-onednn}"
PY="${PY:-/usr/bin/python3}"
[ -d "$PEERS" ] || { echo "peers harness not found at $PEERS (set PEERS=...)" >&2; exit 1; }

mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl
# The rows: step, and seq with B = 1.
awk '/^#/ || NF != 6 { next } $2 == "step" || ($2 == "seq" && $5 == 1)' "$PEERS/configs.tsv" > "$OUT/rows.tsv"

RNN_SIMD=(); PRECISIONS=""
if dotnet build "$REPO/src/Rnn.Simd.Cli" -c Release -v quiet -nologo >&2; then
  cli="$REPO/src/Rnn.Simd.Cli/bin/Release/net10.0/rnn-simd.dll"
  RNN_SIMD=(dotnet "$cli")
  if dotnet "$cli" bench --help 2>/dev/null | grep -q -- --precision; then PRECISIONS="f32 int8"; fi
fi
[ -n "$PRECISIONS" ] || echo "rnn-simd bench has no --precision yet: its float32 rows only" >&2

for pass in $(seq 1 "$PASSES"); do
  for t in $THREADS; do
    echo "pass $pass/$PASSES  pytorch (f32 and qint8)  threads $t" >&2
    OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_WAIT_POLICY=passive nice -n 10 \
      "$PY" "$REPO/perf/peers/pytorch_qint8.py" --threads "$t" --peers "$PEERS" --configs "$OUT/rows.tsv" \
      --qengine "$QENGINE" >> "$OUT/pytorch-qint8.jsonl" 2>> "$OUT/pytorch-qint8.log"
    if [ ${#RNN_SIMD[@]} -gt 0 ]; then
      if [ -z "$PRECISIONS" ]; then
        echo "pass $pass/$PASSES  rnn-simd f32  threads $t" >&2
        nice -n 10 "${RNN_SIMD[@]}" bench --configs "$OUT/rows.tsv" --threads "$t" >> "$OUT/rnn-simd.jsonl" 2>> "$OUT/rnn-simd.log"
      fi
      for p in $PRECISIONS; do
        echo "pass $pass/$PASSES  rnn-simd $p  threads $t" >&2
        nice -n 10 "${RNN_SIMD[@]}" bench --configs "$OUT/rows.tsv" --threads "$t" --precision "$p" \
          >> "$OUT/rnn-simd.jsonl" 2>> "$OUT/rnn-simd.log"
      done
    fi
  done
done
"$PY" "$REPO/perf/peers/pytorch_qint8.py" --table "$OUT"/*.jsonl | tee "$OUT/table.md"
