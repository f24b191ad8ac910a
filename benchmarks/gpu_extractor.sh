#!/usr/bin/env bash
# One GPU run for the extractor: retrain the LoRA adapter from prepared examples (`train_extractor --items`, aligned
# on a machine with the MiniLM encoder), then infer, with the new adapter and with the shipped one, every input of
# the held-out pairs and of all ESConv dialogs into one inference cache. The check and every score then run on a CPU
# from that cache (docs/extractor.md, "Retraining on a GPU"). Sized for under 10 minutes on one GPU; the inference
# steps stop at their time limits and what they finished stays in the cache.
#   ITEMS=outputs/gpu/items.json bash benchmarks/gpu_extractor.sh
# Writes under $OUT (default outputs/gpu_extractor): train.log, adapter.tar (the adapter folder, at $ADAPTER),
# cache.tar.gz (the cache folder, outputs/gpu/cache), inference_*.json (inputs/s per adapter).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu_extractor}
ITEMS=${ITEMS:?set ITEMS to an examples file of train_extractor --items}
DEVICE=${DEVICE:-cuda}
MINUTES=${MINUTES:-3.5}          # training budget (the best validation checkpoint is kept)
BATCH=${BATCH:-256}              # generation batch
TRAIN_ARGS=${TRAIN_ARGS:---valid-fraction 0.03 --esconv-labels rule_labels.jsonl --esconv-copy --batch-size 32 --epochs 1 --warmup-steps 30 --eval-every 100 --save-every 10000}
ESCONV=${ESCONV:-../shared/data/esconv}
INFER_S=${INFER_S:-270}          # time limit of each inference process
ADAPTER=outputs/gpu/adapter      # the same relative path here and where the cache is read: it is part of the key
CACHE=outputs/gpu/cache
mkdir -p "$OUT"
if [ "$DEVICE" = cuda ]; then
  python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible: this script needs one')"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi
TRAIN=${TRAIN:-1}                # TRAIN=0: infer only, with the adapter already at $ADAPTER
rm -rf outputs/gpu/train "$CACHE"
if [ "$TRAIN" = 1 ]; then
rm -rf "$ADAPTER"
# 1. train (the prepared examples decide the data; TRAIN_ARGS must repeat the data options they were prepared with)
# shellcheck disable=SC2086
timeout $(python -c "print(int(float('$MINUTES') * 60 + 150))") python -m pipelines.train_extractor --device "$DEVICE" \
    --items "$ITEMS" --output outputs/gpu/train --max-minutes "$MINUTES" --no-progress $TRAIN_ARGS 2>&1 \
    | tee "$OUT/train.log"
mkdir -p "$ADAPTER"
for f in adapter_config.json adapter_model.safetensors model_card.md split.json training_metrics.json; do
  cp "outputs/gpu/train/$f" "$ADAPTER/"
done
tar cf "$OUT/adapter.tar" "$ADAPTER"
fi
# 2. inference into the cache, both adapters side by side in float32 (the CPU default, so CPU runs reuse it)
infer() {  # $1 = adapter, $2 = name, $3 = --esconv (or empty)
  timeout "$INFER_S" python -m pipelines.evaluate_extractor --infer-only --cache "$CACHE" --device "$DEVICE" \
      --dtype float32 --batch-size "$BATCH" --split-of "$ADAPTER" ${3:+--esconv "$3"} --adapter "$1" \
      --no-baselines --json "$OUT/inference_$2.json" > "$OUT/inference_$2.log" 2>&1 || echo "inference $2 stopped: $?"
}
started=$(date +%s)
infer "$ADAPTER" new "$ESCONV" &
infer auto shipped "$ESCONV" &
wait
echo "inference: $(( $(date +%s) - started )) s"
tail -n 2 "$OUT"/inference_*.log
tar czf "$OUT/cache.tar.gz" "$CACHE"
ls -la "$OUT"
