#!/usr/bin/env bash
# Table 3 on the full default build (outputs/pesconv: all 1,300 ESConv dialogs, personas in the seeker's words), on
# this project's 2-core CPU: SmolLM2-135M + LoRA for Joint and PAL, the same number of optimizer steps each (a
# complete linear schedule with 10 % warm-up), the three rows decoded on the same seeded sample of test turns with
# the paper's sampling, every metric with a bootstrap 95 % interval over turns, and the rows compared turn by turn
# (paired differences with intervals and p-values). Times per step are in outputs/table3/times.txt.
# DECODE=all scores and decodes every test turn instead (about 4 h on this 2-core CPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-125}         # optimizer steps per model (batch 4)
DECODE=${DECODE:-600}       # test turns scored and decoded per row (the same seeded sample for every row)
BATCH=${BATCH:-16}          # decoding batch (benchmarks/decode.py)
SAMPLE=(); [ "$DECODE" = all ] || SAMPLE=(--max-examples "$DECODE" --max-scored "$DECODE")
OUT=outputs/table3
t() { local s=$SECONDS; "$@"; echo "$((SECONDS - s)) s: $*" >> $OUT/times.txt; }
for v in joint pal; do
  t python -m pipelines.train_pal --build outputs/pesconv --variant $v --max-steps "$STEPS" \
      --warmup-steps $((STEPS / 10)) --max-valid-examples 128 --eval-every 50 --no-progress --output $OUT/$v
done
t python -m pipelines.generate --checkpoint $OUT/joint --build outputs/pesconv --batch-size $BATCH "${SAMPLE[@]}" --no-progress
t python -m pipelines.generate --checkpoint $OUT/pal --build outputs/pesconv --batch-size $BATCH "${SAMPLE[@]}" --no-progress
# PAL (α=0) is the same checkpoint decoded without Eq. 6 (its ACC and PPL equal PAL's by construction), so PAL minus
# PAL (α=0) on the same turns is Eq. 6 alone
t python -m pipelines.generate --checkpoint $OUT/pal --variant pal-alpha0 --build outputs/pesconv --batch-size $BATCH \
    "${SAMPLE[@]}" --no-progress
RUNS=("Joint=$OUT/joint/generations-test.jsonl" "PAL (α=0)=$OUT/pal/generations-test-pal-alpha0.jsonl"
      "PAL=$OUT/pal/generations-test.jsonl")
COMPARE=(--compare PAL "PAL (α=0)" --compare PAL Joint --compare "PAL (α=0)" Joint)
t python -m analysis.evaluate "${RUNS[@]}" "${COMPARE[@]}" --output $OUT/table3
t python -m analysis.evaluate "${RUNS[@]}" "${COMPARE[@]}" --paper-compat --output $OUT/table3-paper-compat
cp outputs/pesconv/manifest.json $OUT/build_manifest.json  # the build these rows were trained and decoded on
