#!/usr/bin/env bash
# Table 3 in the paper's setting on one GPU, sized for 10 minutes of machine time: the encoder-decoder PAL
# (co-attention, Eq. 2-4) and Joint (no persona) from the BlenderbotSmall-90M config (random init: only the config
# is available offline) trained on the full train split of a build made with PAL's 7:2:1 split (`--split pal`),
# the whole test split decoded with three sampling seeds each (PAL with and without Eq. 6), and the table written
# with dialog-resampled intervals and paired differences. Needs a finished build at $BUILD (default
# outputs/pesconv-pal: python -m pipelines.build_pesconv --split pal --output outputs/pesconv-pal); writes $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-outputs/pesconv-pal}
OUT=${OUT:-outputs/gpu_table3}
MODEL=${MODEL:-../shared/models/blenderbot_small-90M}
STEPS=${STEPS:-3000}        # optimizer steps per model at batch 32 (about 6 epochs of the train split)
SEEDS=${SEEDS:-"0 1 2"}
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible: this script needs one')"
[ -f "$BUILD/manifest.json" ] || { echo "no finished build at $BUILD" >&2; exit 2; }
mkdir -p "$OUT"
t() { local s=$SECONDS; "$@"; echo "$((SECONDS - s)) s: $*" >> "$OUT/times.txt"; }
for v in joint pal; do
  t timeout 200 python -m pipelines.train_pal --build "$BUILD" --variant $v --model "$MODEL" --device cuda \
      --batch-size 32 --max-steps "$STEPS" --warmup-steps $((STEPS / 10)) --eval-every 500 --no-progress \
      --output "$OUT/$v"
done
RUNS=(); COMPARE=()
for seed in $SEEDS; do
  t python -m pipelines.generate --checkpoint "$OUT/joint" --build "$BUILD" --device cuda --batch-size 128 \
      --seed "$seed" --no-progress --output "$OUT/joint/generations-test-seed$seed.jsonl"
  t python -m pipelines.generate --checkpoint "$OUT/pal" --build "$BUILD" --device cuda --batch-size 128 \
      --seed "$seed" --no-progress --output "$OUT/pal/generations-test-seed$seed.jsonl"
  t python -m pipelines.generate --checkpoint "$OUT/pal" --variant pal-alpha0 --build "$BUILD" --device cuda \
      --batch-size 128 --seed "$seed" --no-progress --output "$OUT/pal/generations-test-alpha0-seed$seed.jsonl"
  J="Joint enc-dec (seed $seed)"; P="PAL enc-dec without Eq. 6 (seed $seed)"; E="PAL enc-dec (seed $seed)"
  RUNS+=("$J=$OUT/joint/generations-test-seed$seed.jsonl" "$P=$OUT/pal/generations-test-alpha0-seed$seed.jsonl"
         "$E=$OUT/pal/generations-test-seed$seed.jsonl")
  COMPARE+=(--compare "$E" "$J" --compare "$E" "$P")
done
t python -m analysis.evaluate "${RUNS[@]}" "${COMPARE[@]}" --output "$OUT/table3"
cp "$BUILD/manifest.json" "$OUT/build_manifest.json"
cat "$OUT/table3.md"
