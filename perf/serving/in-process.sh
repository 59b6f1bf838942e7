#!/usr/bin/env bash
# The engine's side alone (the load generator's --in-process runs: no server, no gRPC), several configurations
# interleaved round by round, so that each round's figures share the machine's load; the load average beside each run.
#
#   perf/serving/in-process.sh                      ROUNDS=3 STREAMS=512 SECONDS_=15 WARMUP=5, closed loop
#   RATE=39 perf/serving/in-process.sh              open loop: RATE frames/s per stream (latency at a fixed rate)
#   CONFIGS="per-stream|batched --threads 2" perf/serving/in-process.sh
#   RATE=39 CONFIGS="batched --pacing timers|batched" perf/serving/in-process.sh   the old per-stream timers against the pacer
#   TASKSET="taskset -c 1" perf/serving/in-process.sh      on one vCPU
#
# Output: perf/results/serving/in-process/<round>-<n>.json (one report per run) and the table rows on stdout.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${OUT:=$REPO/perf/results/serving/in-process}" "${ROUNDS:=3}" "${STREAMS:=512}" "${SECONDS_:=15}" "${WARMUP:=5}" "${RATE:=}" "${TASKSET:=}"
: "${CONFIGS:=per-stream|batched --threads 1|batched --threads 2|batched --batchers 2}"
mkdir -p "$OUT"
dotnet build "$REPO/samples/Rnn.Simd.LoadGenerator" -c Release -v quiet -nologo >&2
LOAD=("dotnet" "$REPO/samples/Rnn.Simd.LoadGenerator/bin/Release/net10.0/Rnn.Simd.LoadGenerator.dll")
IFS='|' read -r -a configs <<< "$CONFIGS"
rate=()
if [ -n "$RATE" ]; then rate=(--rate "$RATE"); fi
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!configs[@]}"; do
    before=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2086
    row=$($TASKSET "${LOAD[@]}" --in-process ${configs[$i]} --streams "$STREAMS" --seconds "$SECONDS_" --warmup "$WARMUP" "${rate[@]}" \
      --json "$OUT/$round-$i.json" | tail -1) || true
    echo "round $round | load $before-$(cut -d' ' -f1 /proc/loadavg) $row"
  done
done
