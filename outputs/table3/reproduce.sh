#!/usr/bin/env bash
# Table 3 on the full default build (outputs/pesconv: all 1,300 ESConv dialogs, personas in the seeker's words), on
# this project's 2-core CPU: SmolLM2-135M + LoRA for Joint and PAL, the same number of optimizer steps each (a
# complete linear schedule with 10 % warm-up), the three rows decoded on the same seeded sample of test turns with
# the paper's sampling, every metric with a 95 % interval from resampling dialogs (each with all its turns), and
# the rows compared turn by turn (paired differences with dialog-resampled intervals and p-values). The rows are
# decoder-only SmolLM2 models (no co-attention): without a persona (Joint), with the persona in the prompt, and with
# the persona in the prompt plus Eq. 6. Times per step are in outputs/table3/times.txt.
# DECODE=all scores and decodes every test turn instead (about 4 h on this 2-core CPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
# every committed result records a clean code version: refuse to run on uncommitted changes
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!outputs')" ]; then
  echo "uncommitted changes: commit first, so that the results record a clean code version" >&2; exit 1
fi
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
# "persona in prompt" is the same checkpoint decoded without Eq. 6 (its ACC and PPL equal the Eq. 6 row's by
# construction), so the difference of those two rows on the same turns is Eq. 6 alone
t python -m pipelines.generate --checkpoint $OUT/pal --variant pal-alpha0 --build outputs/pesconv --batch-size $BATCH \
    "${SAMPLE[@]}" --no-progress
J="decoder-only, no persona (Joint)"; P="decoder-only, persona in prompt"; E="decoder-only, persona in prompt + Eq. 6"
RUNS=("$J=$OUT/joint/generations-test.jsonl" "$P=$OUT/pal/generations-test-pal-alpha0.jsonl"
      "$E=$OUT/pal/generations-test.jsonl")
COMPARE=(--compare "$E" "$P" --compare "$E" "$J" --compare "$P" "$J")
t python -m analysis.evaluate "${RUNS[@]}" "${COMPARE[@]}" --output $OUT/table3
t python -m analysis.evaluate "${RUNS[@]}" "${COMPARE[@]}" --paper-compat --output $OUT/table3-paper-compat
cp outputs/pesconv/manifest.json $OUT/build_manifest.json  # the build these rows were trained and decoded on
