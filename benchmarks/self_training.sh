#!/usr/bin/env bash
# The ESConv self-training recipe and a full build, each step timed, in one go on one GPU (DEVICE=cuda by default).
#
#   bash benchmarks/self_training.sh [OUT]        (default OUT=outputs/self_training)
#
# 1. label every ESConv *train* dialog with the shipped extractor (pipelines.label_esconv);
# 2. train two adapters on PERSONA-CHAT + Synthetic-Persona-Chat + those labels: `self` (strict labels
#    only) and `copy` (missed statements answered by copies, --esconv-copy); same seed and held-out split
#    as the shipped adapter;
# 3. choose on ESConv *valid* dialogs, never on test: the lowest unsupported share among the adapters
#    (shipped one included) that cover at least as many statements as the shipped one;
# 4. score all three adapters, the untuned model and the rule baseline on the held-out pairs and on
#    ESConv *test* dialogs in one run;
# 5. build all of ESConv with the chosen adapter and record the wall time.
# Knobs (environment): DATA (../shared/data), DEVICE (cuda), BATCH (128), STEPS (600), PAIRS (300),
# DIALOGS (all train dialogs), BUILD_DIALOGS (all).
set -uo pipefail
out=${1:-outputs/self_training}
data=${DATA:-../shared/data}
device=${DEVICE:-cuda}
batch=${BATCH:-128}
steps=${STEPS:-600}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to OUT/NAME.log, print its tail and time
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    echo "== $name: rc $rc, $((SECONDS - start)) s: $*" | tee -a "$out/steps.txt"
    grep -v -i "warn" "$out/$name.log" | tail -n "${TAIL:-12}"
    return $rc
}

sources=("$data/personachat/valid.csv" "$data/synthetic-persona-chat/valid.csv")
common=(--data "${sources[@]}" --batch-size 16 --epochs 2 --max-steps "$steps" --warmup-steps 30 --eval-every 100
        --valid-fraction 0.03 --save-every 10000 --device "$device" --no-progress)
step label 200 python -m pipelines.label_esconv --esconv "$data/esconv/train.json" ${DIALOGS:+--dialogs $DIALOGS} \
    --output "$out/labels.jsonl" --batch-size "$batch" --device "$device" || exit 1
step train_self 200 python -m pipelines.train_extractor "${common[@]}" --esconv-labels "$out/labels.jsonl" \
    --output "$out/adapter_self"
step train_copy 200 python -m pipelines.train_extractor "${common[@]}" --esconv-labels "$out/labels.jsonl" \
    --esconv-copy --output "$out/adapter_copy"
step select 150 python -m pipelines.evaluate_extractor --esconv "$data/esconv/valid.json" --esconv-dialogs "${ESCONV_DIALOGS:-50}" \
    --adapter extractor/default_adapter --also-adapter "$out/adapter_self" "$out/adapter_copy" --no-baselines \
    --device "$device" --batch-size "$batch" --show 0 --show-dialogs 0 --json "$out/select_valid.json"
chosen=$(python - "$out/select_valid.json" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["esconv"]["results"]
floor = results["extractor"]["coverage"]  # the shipped adapter: a new one must cover at least as much
fine = [k for k in results if results[k]["coverage"] >= floor]
print(min(fine, key=lambda k: results[k]["unsupported_share"]))
EOF
)
case "$chosen" in
    "extractor (adapter_self)") adapter=$out/adapter_self ;;
    "extractor (adapter_copy)") adapter=$out/adapter_copy ;;
    *) adapter=extractor/default_adapter ;;
esac
echo "== chosen on ESConv valid: $chosen -> $adapter" | tee -a "$out/steps.txt"
others=()
for a in extractor/default_adapter "$out/adapter_self" "$out/adapter_copy"; do
    [ "$a" != "$adapter" ] && [ -d "$a" ] && others+=("$a")
done
TAIL=30 step evaluate 300 python -m pipelines.evaluate_extractor --split-of extractor/default_adapter \
    --limit "${PAIRS:-300}" --esconv "$data/esconv/test.json" --esconv-dialogs "${ESCONV_DIALOGS:-50}" --adapter "$adapter" --also-adapter "${others[@]}" \
    --device "$device" --batch-size "$batch" --json "$out/evaluate_test.json"
step build "${BUILD_LIMIT:-400}" python -m pipelines.build_pesconv --input "$data/esconv" --output "$out/build" \
    --adapter "$adapter" --device "$device" --batch-size "$batch" ${BUILD_DIALOGS:+--max-dialogs $BUILD_DIALOGS}
cp "$out/build/manifest.json" "$out/build_manifest.json" 2>/dev/null
echo "== done" | tee -a "$out/steps.txt"
