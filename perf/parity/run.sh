#!/bin/sh
# Parity with PyTorch on real data (issue 22 item 5), one command: rnn-simd (the `rnn-simd train` command line) against
# Debian's python3-torch 1.13, same data, split, model, optimiser, schedule and update count, seeds 1..3; writes
# perf/results/parity.md and keeps every run's JSON in perf/results/parity/.
#
# Stages (STAGES, default all three, in this order):
#   lm      character-level 2-layer LSTM (H = 256, dropout 0.3, embedding 32, B = 16, T = 64, Adam 3e-3, clip 5) on
#           Debian's fortunes (make_text.py), UPDATES updates on 1 thread, the held-out loss every VALID_EVERY updates;
#           the loss comparison (and the curve: perf/results/parity-fortunes.png, rnn-simd seed 1).
#   probe   why PyTorch on 2 threads was slower than on 1 (perf/results/parity.md of the first run): the same model,
#           PROBE_UPDATES updates of PyTorch under each thread set-up (OMP_WAIT_POLICY active or passive, OpenBLAS's
#           and OpenMP's thread counts), one seed.
#   time    the same model, TIME_UPDATES updates without validation, on each of THREADS, both engines interleaved
#           seed by seed: the time per update at 1 and 2 threads.
#   rounds  the time per update again as min-of-rounds: ROUNDS rounds of rnn-simd and PyTorch at each of THREADS,
#           ROUND_UPDATES updates each, seed 1 (the fastest round of each is the closest to its unloaded speed).
#   series  a 1-layer LSTM forecaster (H = 32, B = 4, T = 16, Adam 3e-3, clip 5, SERIES_UPDATES updates) on the yearly
#           sunspots of Debian's python3-statsmodels, against persistence (sunspots_persistence.py) and PyTorch
#           (forecaster.py); held-out MSE and MAE; each rnn-simd checkpoint is also scored by forecaster.py's code.
#
# Needs: apt-get install fortunes python3-torch python3-statsmodels (and libopenblas0-pthread: without it Debian's
# torch calls the reference BLAS); the .NET SDK. Knobs (environment): STAGES, UPDATES (1500), VALID_EVERY (250),
# CHARS (0 = all of fortunes), TIME_UPDATES (100), PROBE_UPDATES (20), ROUNDS (4),
# ROUND_UPDATES (50), SERIES_UPDATES (500), THREADS ("1 2"), SEEDS ("1 2 3"), NO_BUILD=1.
#
# PyTorch threads: OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = n, torch.set_num_threads(n), one interop thread, and
# OMP_WAIT_POLICY=passive. Debian's torch runs element-wise ops on libgomp and GEMMs on OpenBLAS's pthread pool; with
# libgomp's default (active) spin-wait the two pools fight over the cores and a 2-thread update took 5-20x a 1-thread
# one here. Every run is started with nice -n 10; the load average before each run is kept in load.log.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
STAGES=${STAGES:-"lm probe time rounds series"}
UPDATES=${UPDATES:-1500}; VALID_EVERY=${VALID_EVERY:-250}; CHARS=${CHARS:-0}
TIME_UPDATES=${TIME_UPDATES:-100}; PROBE_UPDATES=${PROBE_UPDATES:-20}; ROUNDS=${ROUNDS:-4}; ROUND_UPDATES=${ROUND_UPDATES:-50}; SERIES_UPDATES=${SERIES_UPDATES:-500}
THREADS=${THREADS:-"1 2"}; SEEDS=${SEEDS:-"1 2 3"}
PY=${PY:-/usr/bin/python3}
SUNSPOTS=${SUNSPOTS:-/usr/lib/python3/dist-packages/statsmodels/datasets/sunspots/sunspots.csv}
work="$here/.work"; out="$repo/perf/results/parity"; mkdir -p "$work" "$out"
[ "${NO_BUILD:-0}" = 1 ] || dotnet build -c Release "$repo/src/Rnn.Simd.Cli" >/dev/null
cli="$repo/src/Rnn.Simd.Cli/bin/Release/net10.0/rnn-simd.dll"
export OMP_WAIT_POLICY=passive

note() { echo "$*" >&2; echo "$(date -u +%FT%TZ) $* load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/load.log"; }
rnn() { nice -n 10 dotnet "$cli" "$@"; }
torch_run() { n_threads=$1; shift; OPENBLAS_NUM_THREADS=$n_threads OMP_NUM_THREADS=$n_threads nice -n 10 "$PY" "$@"; }

model="--layers 2 --hidden 256 --embedding 32 --dropout 0.3 --batch 16 --steps 64 --lr 3e-3 --clip 5"
series="--hidden 32 --layers 1 --batch 4 --steps 16 --lr 3e-3 --clip 5"
text="$work/fortunes.txt"
case " $STAGES " in *" lm "*|*" time "*|*" probe "*|*" rounds "*) "$PY" "$here/make_text.py" "$text" "$CHARS" ;; esac

for stage in $STAGES; do
  case $stage in
  lm)
    for s in $SEEDS; do
      plot=""; [ "$s" = 1 ] && plot="--plot $repo/perf/results/parity-fortunes.png"
      note "lm rnn-simd threads=1 seed=$s"
      rm -rf "$work/lm-ckpt"
      rnn train --text "$text" $model --updates "$UPDATES" --every "$UPDATES" --valid-every "$VALID_EVERY" $plot \
        --seed "$s" --threads 1 --plain --out "$work/lm-ckpt" --json "$out/lm-rnn-simd-s$s.json" >"$work/lm-rnn-simd-s$s.log"
      note "lm pytorch threads=1 seed=$s"
      torch_run 1 "$here/char_lm.py" --text "$text" $model --updates "$UPDATES" --valid-every "$VALID_EVERY" \
        --seed "$s" --threads 1 >"$out/lm-pytorch-s$s.json"
    done ;;
  probe)
    # name  OMP_NUM_THREADS  OPENBLAS_NUM_THREADS  OMP_WAIT_POLICY  torch threads
    for v in "1-thread 1 1 passive 1" "2-active 2 2 active 2" "2-passive 2 2 passive 2" "2-omp-only 2 1 active 2" \
             "2-blas-only 1 2 active 2" "2-passive-again 2 2 passive 2" "2-active-again 2 2 active 2"; do
      set -- $v
      note "probe pytorch $1"
      OMP_NUM_THREADS=$2 OPENBLAS_NUM_THREADS=$3 OMP_WAIT_POLICY=$4 nice -n 10 "$PY" "$here/char_lm.py" --text "$text" \
        $model --updates "$PROBE_UPDATES" --seed 1 --threads "$5" >"$out/probe-$1.json"
    done ;;
  time)
    for s in $SEEDS; do
      for th in $THREADS; do
        note "time rnn-simd threads=$th seed=$s"
        rm -rf "$work/time-ckpt"
        rnn train --text "$text" $model --updates "$TIME_UPDATES" --every "$TIME_UPDATES" --valid-every 0 \
          --seed "$s" --threads "$th" --plain --out "$work/time-ckpt" --json "$out/time-rnn-simd-t$th-s$s.json" >/dev/null
        note "time pytorch threads=$th seed=$s"
        torch_run "$th" "$here/char_lm.py" --text "$text" $model --updates "$TIME_UPDATES" \
          --seed "$s" --threads "$th" >"$out/time-pytorch-t$th-s$s.json"
      done
    done ;;
  rounds)
    for r in $(seq 1 "$ROUNDS"); do
      for th in $THREADS; do
        note "rounds rnn-simd threads=$th round=$r"
        rm -rf "$work/time-ckpt"
        rnn train --text "$text" $model --updates "$ROUND_UPDATES" --every "$ROUND_UPDATES" --valid-every 0 \
          --seed 1 --threads "$th" --plain --out "$work/time-ckpt" --json "$out/rounds-rnn-simd-t$th-r$r.json" >/dev/null
        note "rounds pytorch threads=$th round=$r"
        torch_run "$th" "$here/char_lm.py" --text "$text" $model --updates "$ROUND_UPDATES" \
          --seed 1 --threads "$th" >"$out/rounds-pytorch-t$th-r$r.json"
      done
    done ;;
  series)
    "$PY" "$here/sunspots_persistence.py" "$SUNSPOTS" SUNACTIVITY >"$out/series-persistence.json"
    # One-update runs: each engine's fixed start-up cost inside the timed loop (rnn-simd: the JIT), subtracted for the
    # steady-state time per update.
    for th in $THREADS; do
      note "series warm-up runs threads=$th"
      rm -rf "$work/series-ckpt"
      rnn train --csv "$SUNSPOTS" --column SUNACTIVITY $series --updates 1 --every 1 --valid-every 1 --threads "$th" \
        --plain --out "$work/series-ckpt" --json "$out/series-warm-rnn-simd-t$th.json" >/dev/null
      torch_run "$th" "$here/forecaster.py" --csv "$SUNSPOTS" --column SUNACTIVITY $series --updates 1 --valid-every 1 \
        --threads "$th" >"$out/series-warm-pytorch-t$th.json"
    done
    for s in $SEEDS; do
      for th in $THREADS; do
        plot=""; [ "$s" = 1 ] && [ "$th" = 1 ] && plot="--plot $repo/perf/results/parity-sunspots.png"
        note "series rnn-simd threads=$th seed=$s"
        rm -rf "$work/series-ckpt"
        rnn train --csv "$SUNSPOTS" --column SUNACTIVITY $series --updates "$SERIES_UPDATES" --every "$SERIES_UPDATES" \
          --valid-every 50 $plot --seed "$s" --threads "$th" --plain --out "$work/series-ckpt" \
          --json "$out/series-rnn-simd-t$th-s$s.json" >"$work/series-rnn-simd-t$th-s$s.log"
        torch_run 1 "$here/forecaster.py" --csv "$SUNSPOTS" --column SUNACTIVITY $series \
          --evaluate "$work/series-ckpt/step-$(printf %08d "$SERIES_UPDATES").safetensors" >"$out/series-rnn-simd-t$th-s$s.scored.json"
        note "series pytorch threads=$th seed=$s"
        torch_run "$th" "$here/forecaster.py" --csv "$SUNSPOTS" --column SUNACTIVITY $series --updates "$SERIES_UPDATES" \
          --valid-every 50 --seed "$s" --threads "$th" >"$out/series-pytorch-t$th-s$s.json"
      done
    done ;;
  *) echo "unknown stage '$stage' (lm, probe, time, rounds, series)" >&2; exit 2 ;;
  esac
done
# The rnn-simd JSONs name their data and checkpoints by absolute path: keep them relative to the repository.
sed -i "s|$repo/||g" "$out"/*.json
"$PY" "$here/summarise.py" "$out" "$repo/perf/results/parity.md"
