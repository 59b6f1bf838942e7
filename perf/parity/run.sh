#!/bin/sh
# Parity run (issue 22 item 5): rnn-simd vs PyTorch (Debian's python3-torch) on a character-level 2-layer LSTM
# (H = 256, dropout 0.3, embedding 32, Adam 3e-3, clip 5, B = 16, T = 64) over a fixed prefix of Debian's fortunes,
# seeds 1..3, on the given thread counts; writes perf/results/parity.md.
# Needs: apt-get install fortunes python3-torch; dotnet build -c Release (done here unless NO_BUILD=1).
# Knobs (environment): UPDATES (400), CHARS (500000; 0 = all of fortunes), THREADS ("1 2"), SEEDS ("1 2 3").
# PT_NAME (pytorch) names the PyTorch result files (e.g. pytorch-openblas after installing libopenblas0-pthread);
# SKIP_RNN=1 runs only PyTorch.
# A longer run is one variable away, e.g. UPDATES=5000 CHARS=0 perf/parity/run.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
UPDATES=${UPDATES:-400}; CHARS=${CHARS:-500000}; THREADS=${THREADS:-"1 2"}; SEEDS=${SEEDS:-"1 2 3"}
PT_NAME=${PT_NAME:-pytorch}; SKIP_RNN=${SKIP_RNN:-0}
work="$here/.work"; mkdir -p "$work"
[ "${NO_BUILD:-0}" = 1 ] || dotnet build -c Release "$repo/src/Rnn.Simd.Cli" >/dev/null
cli="$repo/src/Rnn.Simd.Cli/bin/Release/net10.0/rnn-simd.dll"
text="$work/fortunes.txt"
/usr/bin/python3 "$here/make_text.py" "$text" "$CHARS"
model="--layers 2 --hidden 256 --embedding 32 --dropout 0.3 --batch 16 --steps 64 --lr 3e-3 --clip 5"
for th in $THREADS; do
  for s in $SEEDS; do
    if [ "$SKIP_RNN" != 1 ]; then
    rm -rf "$work/ckpt"
    echo "rnn-simd threads=$th seed=$s" >&2
    dotnet "$cli" train --text "$text" $model --updates "$UPDATES" --every "$UPDATES" --valid-every 0 \
      --seed "$s" --threads "$th" --plain --out "$work/ckpt" --json "$work/rnn-simd-t$th-s$s.json" >"$work/rnn-simd-t$th-s$s.log"
    fi
    echo "$PT_NAME threads=$th seed=$s" >&2
    OPENBLAS_NUM_THREADS=$th OMP_NUM_THREADS=$th /usr/bin/python3 "$here/char_lm.py" --text "$text" $model --updates "$UPDATES" --seed "$s" --threads "$th" \
      >"$work/$PT_NAME-t$th-s$s.json"
  done
done
/usr/bin/python3 "$here/summarise.py" "$work" "$repo/perf/results/parity.md" "$UPDATES" "$CHARS" "$THREADS" "$SEEDS"
