#!/usr/bin/env bash
# Table 3 on the full default build (outputs/pesconv: all 1,300 ESConv dialogs, grounded personas), on this
# project's 2-core CPU: SmolLM2-135M + LoRA for Joint and PAL under a fixed time budget each, every test
# supporter turn scored (ACC, PPL), a seeded sample of test turns decoded with the paper's sampling, and every
# metric with a bootstrap 95 % interval over turns. Times per step are in outputs/table3/times.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUDGET=${BUDGET:-12}        # minutes of training per model
DECODE=${DECODE:-240}       # test turns decoded per row (all 2,801 are scored)
OUT=outputs/table3
t() { local s=$SECONDS; "$@"; echo "$((SECONDS - s)) s: $*" >> $OUT/times.txt; }
for v in joint pal; do
  t python -m pipelines.train_pal --build outputs/pesconv --variant $v --max-minutes $BUDGET \
      --max-valid-examples 128 --eval-every 100 --no-progress --output $OUT/$v
done
t python -m pipelines.generate --checkpoint $OUT/joint --build outputs/pesconv --max-examples $DECODE
t python -m pipelines.generate --checkpoint $OUT/pal --build outputs/pesconv --max-examples $DECODE
# PAL (α=0) is the same checkpoint decoded without Eq. 6: its ACC and PPL equal PAL's by construction (Eq. 6 acts
# only at decoding), so only its decoded turns are scored (saves 10 min of CPU here)
t python -m pipelines.generate --checkpoint $OUT/pal --variant pal-alpha0 --build outputs/pesconv --max-examples $DECODE \
    --max-scored $DECODE
t python -m analysis.evaluate "Joint=$OUT/joint/generations-test.jsonl" \
    "Hard Prompt = PAL (α=0)=$OUT/pal/generations-test-pal-alpha0.jsonl" "PAL=$OUT/pal/generations-test.jsonl" \
    --output $OUT/table3
