#!/usr/bin/env bash
# The streaming service under load, batched against per-stream, on this machine: first the engine's side alone (the
# load generator's --in-process runs: the same streams and model, no gRPC), then for each mode the most frames/s
# 512 streams sustain through the service (closed loop: each stream's next frame when its last output is back), then
# a fixed rate of half the batched maximum (open loop) for latency, GC counts and bytes per frame, measured over
# RATE_SECONDS after WARMUP seconds. The server and the load generator share the machine's cores.
#
#   perf/serving/run.sh           STREAMS=512 MAX_SECONDS=20 RATE_SECONDS=60 WARMUP=15 (about 4.5 minutes)
#   STREAMS=64 RATE_SECONDS=10 WARMUP=5 perf/serving/run.sh
#   SERVER_ARGS="--batchers 2" perf/serving/run.sh                     two batchers side by side (the service's --batchers)
#   SERVER_TASKSET="taskset -c 0" LOAD_TASKSET="taskset -c 1" perf/serving/run.sh
#                                 the server on one vCPU, the load generator on the other (a stand-in for a client machine)
#   HALF_RATE=39 MODES=batched TAG=-pinned perf/serving/run.sh          only the fixed-rate runs, at this rate per stream
#   LOAD_ARGS="--pacing timers" TAG=-timers perf/serving/run.sh          more load-generator options (here the old pacing)
#
# Output: perf/results/serving/*.json (one load-generator report per run; *.load the load average before and after
# it) and the tables on stdout.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${OUT:-$REPO/perf/results/serving}"
STREAMS="${STREAMS:-512}"
MAX_SECONDS="${MAX_SECONDS:-20}"
RATE_SECONDS="${RATE_SECONDS:-60}"
WARMUP="${WARMUP:-15}"
PORT="${PORT:-5077}"
SERVER_ARGS="${SERVER_ARGS:-}"
SERVER_TASKSET="${SERVER_TASKSET:-}"
LOAD_TASKSET="${LOAD_TASKSET:-}"
HALF_RATE="${HALF_RATE:-}"
MODES="${MODES:-batched per-stream}"
TAG="${TAG:-}"
LOAD_ARGS="${LOAD_ARGS:-}"
mkdir -p "$OUT"
LOGS="$(mktemp -d)"
dotnet build "$REPO/samples/Rnn.Simd.StreamingService" -c Release -v quiet -nologo >&2
dotnet build "$REPO/samples/Rnn.Simd.LoadGenerator" -c Release -v quiet -nologo >&2
SERVER=("dotnet" "$REPO/samples/Rnn.Simd.StreamingService/bin/Release/net10.0/Rnn.Simd.StreamingService.dll")
LOAD=("dotnet" "$REPO/samples/Rnn.Simd.LoadGenerator/bin/Release/net10.0/Rnn.Simd.LoadGenerator.dll")

server_pid=""
stop_server() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; fi; }
trap stop_server EXIT
start_server() { # mode
  $SERVER_TASKSET "${SERVER[@]}" --port "$PORT" --mode "$1" --max-streams 4096 --slots "$STREAMS" $SERVER_ARGS > "$LOGS/server-$1.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -sf --http2-prior-knowledge "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "the $1 server did not start (see $LOGS/server-$1.log)" >&2; exit 1
}
load() { # name, then load-generator options
  local name=$1$TAG; shift
  echo "== $name" >&2
  cut -d' ' -f1-3 /proc/loadavg > "$OUT/$name.load"
  # shellcheck disable=SC2086
  $LOAD_TASKSET "${LOAD[@]}" --port "$PORT" --streams "$STREAMS" --json "$OUT/$name.json" "$@" $LOAD_ARGS || true
  cut -d' ' -f1-3 /proc/loadavg >> "$OUT/$name.load"
}
rate_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['frames_per_second'])" "$1"; }

if [ -z "$HALF_RATE" ]; then
  for mode in $MODES; do
    load "$mode-in-process" --in-process "$mode" --seconds "$MAX_SECONDS" --warmup 5
  done

  for mode in $MODES; do
    start_server "$mode"
    load "$mode-max" --rate 0 --seconds "$MAX_SECONDS" --warmup 5
    stop_server
  done
fi

# Half the batched maximum, spread evenly over the streams.
half="${HALF_RATE:-$(python3 -c "import sys; print(round(float(sys.argv[1]) / 2 / int(sys.argv[2]), 3))" "$(rate_of "$OUT/batched-max$TAG.json")" "$STREAMS")}"
for mode in $MODES; do
  start_server "$mode"
  load "$mode-half" --rate "$half" --seconds "$((RATE_SECONDS + WARMUP))" --warmup "$WARMUP"
  stop_server
done

# The issue's table: streams × rate → p50/p99/p99.9, frames/s, GCs, bytes per frame, batched and per-stream.
python3 - "$OUT" "$TAG" "$MODES" "$STREAMS" <<'PY'
import json, os, sys
out, tag, modes, streams = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]
print(f"\n| run | streams | rate/stream | load avg | frames/s | p50 ms | p99 ms | p99.9 ms | max ms | gen0 | gen1 | gen2 | server B/frame | engine B/frame | server CPU µs/frame | mean batch | send error p99 ms |")
print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for kind in ("in-process", "max", "half"):
    for mode in modes:
        name = f"{mode}-{kind}{tag}"
        path = os.path.join(out, name + ".json")
        if not os.path.exists(path):
            continue
        r = json.load(open(path))
        load = " → ".join(l.split()[0] for l in open(os.path.join(out, name + ".load")).read().splitlines())
        rate = f"{r['rate_per_stream']:g}" if r["rate_per_stream"] > 0 else "max"
        print(f"| {name} | {streams} | {rate} | {load} | {r['frames_per_second']:,.0f} | {r['latency_p50_us']/1e3:.3f} | {r['latency_p99_us']/1e3:.3f} | {r['latency_p999_us']/1e3:.3f} | {r['latency_max_us']/1e3:.1f} | {r['gen0']} | {r['gen1']} | {r['gen2']} | {r['server_bytes_per_frame']:.0f} | {r['engine_bytes_per_frame']:.1f} | {r['server_cpu_us_per_frame']:.1f} | {r['mean_batch_size']:.1f} | {r['send_error_p99_us']/1e3:.3f} |")
PY
