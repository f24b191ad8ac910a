#!/usr/bin/env bash
# Regenerate the full-build results in this folder (Figures 3/5 with their statistics, for the default and the
# rule-baseline builds) and the viewer screenshot. Times are those measured on this project's 2-core CPU
# (no GPU). The committed figures came from outputs/pesconv-final and outputs/pesconv-rule-final (their manifests
# are beside them as build_manifest.json). The committed screenshot came from the first 20 dialogs (--max-dialogs 20 --output outputs/pesconv-20).
set -euo pipefail
cd "$(dirname "$0")/../.."
# every committed result records a clean code version: refuse to run on uncommitted changes
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!outputs')" ]; then
  echo "uncommitted changes: commit first, so that the results record a clean code version" >&2; exit 1
fi

# 1. PESConv from all 1,300 ESConv dialogs with the default extractor (SmolLM2 + the shipped adapter)
python -m pipelines.build_pesconv --output outputs/pesconv                         # 26-46 min alone from an empty cache (2-core CPU; docs/benchmarks.md)
#    (re-running it reuses the inference cache; the check then takes most of it: about 7 min alone;
#    the cache can be filled on a GPU: docs/extractor.md, "Retraining on a GPU")
# 2. the same with the rule baseline (copy the seeker's first-person statements; no model)
python -m pipelines.build_pesconv --extractor rule --output outputs/pesconv-rule   # 7 min alone (18 min beside the default analysis)
# 3. Figures 3/5: three encoders, 1,000 random-persona permutations, the echo control, bootstrap intervals
python -m analysis.persona_similarity --data outputs/pesconv --output outputs/figures/default \
    --encoder minilm fasttext glove                                                 # 15 min (beside a judge's training for a while): the MiniLM embeddings of the echo texts are most of it
python -m analysis.persona_similarity --data outputs/pesconv-rule --output outputs/figures/rule \
    --encoder minilm fasttext glove                                                 # 18 min (beside a judge's training and tests)
#    the table of docs/figures.md from the regressions CSVs (tests/test_similarity_table.py checks docs/figures.md holds it)
cp outputs/pesconv/manifest.json outputs/figures/default/build_manifest.json      # the builds these figures were computed on
cp outputs/pesconv-rule/manifest.json outputs/figures/rule/build_manifest.json
python -m research.similarity_table default=outputs/figures/default "rule baseline=outputs/figures/rule"
# 4. the viewer and a screenshot of one dialog page
python -m analysis.browse --data outputs/pesconv --output outputs/browse           # 1.4 s for 1,300 dialogs
chromium --headless --no-sandbox --disable-gpu --window-size=1280,1100 \
    --screenshot=outputs/figures/viewer_dialog.png "file://$PWD/outputs/browse/dialogs/esconv-9fe1455d45400c12.html"
