#!/usr/bin/env bash
# Table 3 in the paper's setting on one GPU, sized for 10 minutes of machine time: the encoder-decoder PAL
# (co-attention, Eq. 2-4), the persona given as input text (hard prompt) and Joint (no persona), all from the
# BlenderbotSmall-90M config (random init: only the config is available offline), trained side by side on the full
# train split of a build made with PAL's 7:2:1 split (`--split pal`); the whole test split decoded with three
# sampling seeds each (PAL with and without Eq. 6), and the table written with dialog-resampled intervals and
# paired differences. Needs a finished build at $BUILD (default outputs/pesconv-pal:
# python -m pipelines.build_pesconv --split pal --output outputs/pesconv-pal); writes $OUT.
#
# FAMILY=decoder gives the decoder-only rows instead: SmolLM2-135M-Instruct + LoRA (the offline default model) without
# a persona (Joint) and with the persona in the prompt, decoded with and without Eq. 6 (no co-attention).
#
# Knobs (environment): FAMILY (encdec | decoder), PRECISION (bf16 | fp32: training on the GPU; fp32 for decoder),
# BUILD, OUT, MODEL, STEPS and MINUTES (time budget per model; encdec 3000 and 4, decoder 384 and 5),
# SEEDS ("0 1 2"), DEVICE (cuda; cpu runs a smoke test), MAX_TRAIN / MAX_EXAMPLES (subsample, for smoke tests),
# EVALUATE (1; 0 leaves the table to `python -m analysis.evaluate` on another machine, the command is printed). The decoder rows decode more slowly
# than the encoder-decoder ones: on an H200, nine side by side took about 150 s (Joint) to over 3 min (Eq. 6) each.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-outputs/pesconv-pal}
OUT=${OUT:-outputs/gpu_table3}
FAMILY=${FAMILY:-encdec}
case "$FAMILY" in
  encdec) MODEL=${MODEL:-../shared/models/blenderbot_small-90M}; VARIANTS="joint pal hard-prompt"
          PRECISION=${PRECISION:-bf16}
          STEPS=${STEPS:-3000}; MINUTES=${MINUTES:-4};;  # batch 32: about 6.5 epochs, or the time budget first
  decoder) MODEL=${MODEL:-default}; VARIANTS="joint pal"  # "persona in prompt" is pal decoded without Eq. 6
           PRECISION=${PRECISION:-fp32}  # SmolLM2 + LoRA: the persona-in-prompt run diverged (NaN) under bf16
           # the same number of steps for both (about one epoch at batch 32); the time budget is only a safety cap
           # (on an H200 in fp32: Joint about 2.7 steps/s, persona in prompt about 1.9)
           STEPS=${STEPS:-384}; MINUTES=${MINUTES:-5};;
  *) echo "FAMILY must be encdec or decoder, not '$FAMILY'" >&2; exit 2;;
esac
SEEDS=${SEEDS:-"0 1 2"}
DEVICE=${DEVICE:-cuda}
export PYTHONUNBUFFERED=1
if [ "$DEVICE" = cuda ]; then
  python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible: this script needs one')"
fi
[ -f "$BUILD/manifest.json" ] || { echo "no finished build at $BUILD" >&2; exit 2; }
mkdir -p "$OUT"
python -c "from common.cli import code_version; print('code', code_version())" | tee "$OUT/code_version.txt"
train_limit=${MAX_TRAIN:+--max-train-examples $MAX_TRAIN --max-valid-examples $MAX_TRAIN}
decode_limit=${MAX_EXAMPLES:+--max-examples $MAX_EXAMPLES --max-scored $MAX_EXAMPLES}

start=$SECONDS
pids=()
for v in $VARIANTS; do  # small models: side by side they share the GPU well
  python -m pipelines.train_pal --build "$BUILD" --variant $v --model "$MODEL" --device "$DEVICE" $train_limit \
      --batch-size 32 --max-steps "$STEPS" --warmup-steps $((STEPS / 10)) --eval-every 500 --max-minutes "$MINUTES" \
      --precision "$PRECISION" --no-progress --output "$OUT/$v" > "$OUT/train_$v.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { echo "a training run failed:" >&2; tail -n 20 "$OUT"/train_*.log >&2; exit 1; }; done
echo "$((SECONDS - start)) s: trained $VARIANTS side by side" | tee -a "$OUT/times.txt"
tail -n 2 "$OUT"/train_*.log

start=$SECONDS
pids=(); RUNS=(); COMPARE=()
decode() {  # decode NAME CHECKPOINT OUTPUT SEED [ARGS...]
  local name=$1 ckpt=$2 out=$3 seed=$4; shift 4
  python -m pipelines.generate --checkpoint "$ckpt" --build "$BUILD" --device "$DEVICE" --batch-size 128 \
      --seed "$seed" --no-progress $decode_limit "$@" --output "$out" > "$out.log" 2>&1 &
  pids+=($!); RUNS+=("$name=$out")
}
for seed in $SEEDS; do
  if [ "$FAMILY" = encdec ]; then
    J="Joint enc-dec (seed $seed)"; H="persona as input enc-dec (seed $seed)"
    P="PAL enc-dec without Eq. 6 (seed $seed)"; E="PAL enc-dec (seed $seed)"
    COMPARE+=(--compare "$E" "$J" --compare "$E" "$P" --compare "$P" "$H" --compare "$H" "$J")
  else
    J="decoder-only, no persona (Joint) (seed $seed)"; P="decoder-only, persona in prompt (seed $seed)"
    E="decoder-only, persona in prompt + Eq. 6 (seed $seed)"
    COMPARE+=(--compare "$E" "$P" --compare "$E" "$J" --compare "$P" "$J")
  fi
  decode "$J" "$OUT/joint/best" "$OUT/joint/generations-test-seed$seed.jsonl" "$seed"
  [ "$FAMILY" = decoder ] || decode "$H" "$OUT/hard-prompt/best" "$OUT/hard-prompt/generations-test-seed$seed.jsonl" "$seed"
  decode "$P" "$OUT/pal/best" "$OUT/pal/generations-test-alpha0-seed$seed.jsonl" "$seed" --variant pal-alpha0
  decode "$E" "$OUT/pal/best" "$OUT/pal/generations-test-seed$seed.jsonl" "$seed"
done
for p in "${pids[@]}"; do wait "$p" || { echo "a decoding run failed:" >&2; tail -n 20 "$OUT"/*/generations-*.log >&2; exit 1; }; done
echo "$((SECONDS - start)) s: decoded ${#RUNS[@]} runs side by side" | tee -a "$OUT/times.txt"
cp "$BUILD/manifest.json" "$OUT/build_manifest.json"

cmd=(python -m analysis.evaluate "${RUNS[@]}" "${COMPARE[@]}" --output "$OUT/table3")
printf '%q ' "${cmd[@]}" > "$OUT/evaluate_command.sh"
if [ "${EVALUATE:-1}" = 1 ]; then
  start=$SECONDS
  "${cmd[@]}"
  echo "$((SECONDS - start)) s: evaluated" | tee -a "$OUT/times.txt"
  cat "$OUT/table3.md"
else
  echo "evaluate with: bash $OUT/evaluate_command.sh"
fi
