#!/usr/bin/env bash
# The full build on one GPU, sized to finish in under 8 minutes: all 1,300 ESConv dialogs with the default extractor
# in bfloat16 and large batches from an empty cache (target: the build itself in at most 2 minutes), then where the
# time goes, stage by stage, on 100 seeded dialogs. Prints turns/s and writes everything under $OUT (default
# outputs/gpu_build). Run it as is on a machine with a CUDA GPU and this repository installed.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu_build}
BATCH=${BATCH:-256}
mkdir -p "$OUT"
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible: this script needs one')"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
rm -rf "$OUT/build"
# 1. the full build (model load included in wall_time_s; the manifest counts turns and inputs)
timeout 330 /usr/bin/time -v -o "$OUT/build_time.txt" python -m pipelines.build_pesconv --device cuda \
    --batch-size "$BATCH" --output "$OUT/build" --progress-every 30 2>&1 | tail -n 5 | tee "$OUT/build.log"
python - "$OUT" <<'PY'
import json, sys
m = json.load(open(f"{sys.argv[1]}/build/manifest.json"))
inf = m["inference"]
print(f"full build on GPU: {m['counts']['written']} dialogs, {inf['annotated_seeker_turns']} seeker turns in "
      f"{m['wall_time_s']} s ({m['turns_per_s']} turns/s); {inf['inferred']} inputs inferred")
PY
grep -E "Maximum resident|Elapsed" "$OUT/build_time.txt" || true
# 2. where the time goes (read, load, infer, check, fold, write), model load apart
timeout 120 python -m benchmarks.build --sizes --model-dialogs 0 --backend-dialogs 100 --backends torch \
    --device cuda --batch-size "$BATCH" --json "$OUT/stages.json" | tee "$OUT/stages.log"
