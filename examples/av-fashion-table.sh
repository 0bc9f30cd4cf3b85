#!/usr/bin/env bash
# The AV-Fashion table of docs/av-fashion.md, with the CLI only: build the dataset, pretrain
# Uni-Code, the plain shared-VQ baseline and one ablation per component at the same budget, then
# evaluate them all in one eval run (every ordered pair and the X->X upper bounds).
#   bash examples/av-fashion-table.sh [out-dir]      (default runs/av-fashion-table)
# Environment: SEED (default 1; the build's too), STEPS (default 240), CLIPS (default 1000, the
# build's clip count), PRETRAIN_ARGS (extra pretrain flags for every run, e.g. "--reset-scale auto");
# TEXT=1 also pretrains A+V+T Uni-Code and plain VQ for the six pairs of three
# modalities. A finished run is kept: rerunning the script skips the pretrainings whose checkpoint
# exists, so an interrupted table resumes where it stopped. Two tables at once on 2 cores: give
# each OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 (a small step is mostly single-threaded JavaScript).
# test/av-fashion-table.test.ts runs it on a tiny budget.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/av-fashion-table}
SEED=${SEED:-1}
STEPS=${STEPS:-240}
CLIPS=${CLIPS:-1000}
CLI=(node dist/src/cli/main.js)
mkdir -p "$OUT"

[ -f "$OUT/data/manifest.json" ] || "${CLI[@]}" build-av-fashion --out "$OUT/data" --seed "$SEED" --clips "$CLIPS" --force

# name, modalities, --without list ("" for none)
RUNS=(
  "uni-code audio,video -"
  "plain-vq audio,video club,cpc,mm-ema,cmcm"
  "no-club audio,video club"
  "no-cpc audio,video cpc"
  "no-mm-ema audio,video mm-ema"
  "no-cmcm audio,video cmcm"
  "no-reset audio,video reset"
)
if [ "${TEXT:-0}" = 1 ]; then
  RUNS+=("avt-uni-code audio,video,text -" "avt-plain-vq audio,video,text club,cpc,mm-ema,cmcm")
fi

for run in "${RUNS[@]}"; do
  read -r name modalities without <<<"$run"
  [ -f "$OUT/$name/checkpoint.ckpt" ] && { echo "$name: done already"; continue; }
  # --max-steps ends the run; --epochs only has to be large enough (a step is at least 1/epoch).
  args=(pretrain --data "$OUT/data" --config small --modalities "$modalities" --batch-size 32 --lr 1.2e-3
        --epochs "$STEPS" --max-steps "$STEPS" --seed "$SEED" --out "$OUT/$name" --force)
  [ "$without" = - ] || args+=(--without "$without")
  # shellcheck disable=SC2206  # word splitting of the extra flags is intended
  [ -z "${PRETRAIN_ARGS:-}" ] || args+=(${PRETRAIN_ARGS})
  "${CLI[@]}" "${args[@]}"
done

baselines=()
for name in plain-vq no-club no-cpc no-mm-ema no-cmcm no-reset; do baselines+=(--baseline "$OUT/$name/checkpoint.ckpt"); done
"${CLI[@]}" eval --data "$OUT/data" --checkpoint "$OUT/uni-code/checkpoint.ckpt" "${baselines[@]}" \
  --modalities audio,video --tasks classify,localize --seed "$SEED" --out "$OUT/eval-av" --force
if [ "${TEXT:-0}" = 1 ]; then
  "${CLI[@]}" eval --data "$OUT/data" --checkpoint "$OUT/avt-uni-code/checkpoint.ckpt" --baseline "$OUT/avt-plain-vq/checkpoint.ckpt" \
    --modalities audio,video,text --tasks classify,localize --seed "$SEED" --out "$OUT/eval-avt" --force
fi
