"""Score a persona extractor on held-out PERSONA-CHAT pairs, against two baselines in the same run.

Systems: the extractor asked for (default: SmolLM2 + the shipped LoRA adapter), the untuned
instruct model with the build's prompt (no adapter), and a rule baseline that copies the
first-person sentences of the input. Metrics: ROUGE-L F1 and BLEU against the gold persona, mean
sentence-encoder similarity (all-MiniLM-L6-v2), mean number of persona sentences, share of empty
outputs, and a hallucination proxy (share of generated sentences whose best similarity to any
input utterance is below --threshold); the gold persona is scored as a reference row.

    python -m pipelines.evaluate_extractor --split-of extractor/default_adapter --limit 100 \
        --json outputs/extractor_eval.json --model-card extractor/default_adapter/model_card.md
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

from extractor.evaluation import markdown_table, rule_baseline, score
from pipelines.cli import code_version, quiet_libraries, run_cli
from schemas.esconv import InputError
from schemas.personachat import read_pairs, subset

log = logging.getLogger("evaluate_extractor")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pipelines.evaluate_extractor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="pairs to score: PERSONA-CHAT CSV, ParlAI *_both_original.txt or Hub dataset "
                                  "(default: the data named in --split-of's split.json)")
    p.add_argument("--split-of", metavar="DIR",
                   help="a train_extractor output folder: score only the pairs its split.json held out")
    p.add_argument("--extractor", default="default", help="extractor model (as in the build; default SmolLM2)")
    p.add_argument("--adapter", default="auto", help="LoRA adapter folder, 'auto' (shipped default) or 'none'")
    p.add_argument("--limit", type=int, help="score only the first N pairs (after the held-out selection)")
    p.add_argument("--json", metavar="OUT", help="write metrics and per-pair outputs as JSON")
    p.add_argument("--model-card", metavar="MD", help="replace the '## Evaluation' section of this model card")
    p.add_argument("--no-baselines", action="store_true", help="score only --extractor")
    p.add_argument("--generate-only", action="store_true",
                   help="only run the extractors and write their outputs to --json (e.g. on a GPU machine without "
                        "the metric packages); score them later with --outputs")
    p.add_argument("--outputs", metavar="JSON",
                   help="score the outputs saved by an earlier --json run instead of running the extractors")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="hallucination proxy: best similarity to any input utterance below this (default 0.5)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quantize", default=None, help="int8 (CPU dynamic quantisation) or none")
    args = p.parse_args(argv)
    if args.limit is not None and args.limit <= 0:
        raise InputError("--limit must be positive")
    if not args.data and not args.split_of:
        raise InputError("give --data FILE and/or --split-of DIR")
    if args.generate_only and not args.json:
        raise InputError("--generate-only needs --json OUT")
    return args


def select_pairs(args: argparse.Namespace):
    if not args.split_of:
        return read_pairs(args.data), f"{args.data}"
    split_file = Path(args.split_of) / "split.json"
    if not split_file.exists():
        raise InputError(f"{split_file} not found (is --split-of a train_extractor output folder?)")
    split = json.loads(split_file.read_text())
    data = args.data or split["data"]
    pairs = read_pairs(data, split.get("limit"))
    if len(pairs) != split["n_pairs"]:
        raise InputError(f"{data} has {len(pairs)} pairs but {split_file} was made from {split['n_pairs']}")
    return subset(pairs, split["heldout"]), (f"{data}, the {len(split['heldout'])} pairs held out by "
                                              f"{split_file} (seed {split['seed']})")


def run_extractor(name: str, adapter: str, args, inputs: list[list[str]]) -> tuple[list[list[str]], float, dict]:
    from tqdm import tqdm

    from extractor.base import GenerationSettings
    from extractor.loading import resolve_extractor

    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    spec = resolve_extractor(name, adapter, device=args.device, settings=settings, quantize=args.quantize)
    ext = spec.load()
    order = sorted(range(len(inputs)), key=lambda i: ext.input_length(inputs[i]))
    out: list[list[str]] = [[] for _ in inputs]
    t0 = time.perf_counter()
    for s in tqdm(range(0, len(order), args.batch_size), desc=f"extract ({adapter or 'no'} adapter)",
                  unit="batch", file=sys.stderr):
        idx = order[s:s + args.batch_size]
        for i, r in zip(idx, ext.extract([inputs[i] for i in idx])):
            out[i] = r
    return out, time.perf_counter() - t0, spec.describe()


def replace_section(card: str, title: str, body: str) -> str:
    head, sep, rest = card.partition(f"## {title}\n")
    if not sep:
        return card.rstrip("\n") + f"\n\n## {title}\n\n{body}\n"
    nxt = rest.find("\n## ")
    tail = rest[nxt + 1:] if nxt >= 0 else ""
    return head + f"## {title}\n\n{body}\n" + ("\n" + tail if tail else "")


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    t0 = time.time()
    pairs, described = select_pairs(args)
    if args.limit:
        pairs = pairs[:args.limit]
    inputs = [list(p.utterances) for p in pairs]
    golds = [list(p.persona) for p in pairs]

    outputs: dict[str, list[list[str]]] = {}
    speed: dict[str, float] = {}
    provenance: dict[str, dict] = {}
    if args.outputs:
        saved = json.loads(Path(args.outputs).read_text())
        rows = saved["outputs"]
        if [r["utterances"] for r in rows[:len(inputs)]] != inputs or len(rows) < len(inputs):
            raise InputError(f"{args.outputs} holds outputs for other pairs than the ones selected here")
        for label in saved["systems"]:
            outputs[label] = [r[label] for r in rows[:len(inputs)]]
            speed[label] = saved.get("turns_per_s", {}).get(label)
        provenance = saved.get("provenance", {})
    else:
        systems = [(f"extractor ({args.extractor}, adapter {args.adapter})", args.extractor, args.adapter)]
        if not args.no_baselines:
            systems.append(("untuned instruct model (build prompt)", "default", "none"))
        for label, name, adapter in systems:
            preds, seconds, prov = run_extractor(name, adapter, args, inputs)
            outputs[label], provenance[label], speed[label] = preds, prov, len(preds) / seconds
    if not args.no_baselines and not any(k.startswith("rule baseline") for k in outputs):
        label = "rule baseline (first-person sentences)"
        t1 = time.perf_counter()
        outputs[label] = [rule_baseline(u) for u in inputs]
        speed[label] = len(inputs) / max(time.perf_counter() - t1, 1e-9)
    command = "python -m pipelines.evaluate_extractor " + " ".join(shlex.quote(a) for a in argv)
    record = {"data": described, "pairs": len(pairs), "threshold": args.threshold, "command": command,
              "code": code_version(), "device": args.device, "systems": list(outputs), "turns_per_s": speed,
              "provenance": provenance,
              "outputs": [{"utterances": u, "gold": g, **{k: v[i] for k, v in outputs.items()}}
                          for i, (u, g) in enumerate(zip(inputs, golds))]}
    if args.generate_only:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1, default=str))
        print(f"generated outputs of {len(outputs)} systems for {len(pairs)} pairs in "
              f"{(time.time() - t0) / 60:.1f} min; wrote {args.json} (score with --outputs {args.json})")
        return 0

    from extractor.evaluation import minilm_embedder

    embed = minilm_embedder("cuda" if str(args.device).startswith("cuda") else "cpu")
    results: dict[str, dict] = {}
    for label, preds in outputs.items():
        results[label] = {**score(preds, golds, inputs, embed, args.threshold), "turns_per_s": speed.get(label)}
        log.info("%s: ROUGE-L F1 %.4f", label, results[label]["rougeL_f1"])
    reference = score(golds, golds, inputs, embed, args.threshold)
    results["gold persona (reference)"] = reference

    table = markdown_table(results)
    print(table)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        record["results"] = results
        if args.outputs:
            record["generated_by"] = saved.get("command")
        Path(args.json).write_text(json.dumps(record, indent=1, default=str))
    if args.model_card:
        card_path = Path(args.model_card)
        if not card_path.exists():
            raise InputError(f"model card {card_path} does not exist")
        body = (f"Scored on {len(pairs)} pairs: {described}"
                f"{f', first {args.limit}' if args.limit else ''}. Greedy decoding, {args.max_new_tokens} new tokens, "
                f"device {saved.get('device') if args.outputs else args.device}. Similarity = all-MiniLM-L6-v2 cosine; hallucination = share of generated "
                f"sentences with best similarity to any input utterance < {args.threshold}; pairs/s = generation speed.\n\n{table}\n\n"
                + (f"Outputs generated by:\n\n```\n{saved.get('command')}\n```\n\nthen scored by:\n\n" if args.outputs else "")
                + f"```\n{command}\n```")
        card_path.write_text(replace_section(card_path.read_text(encoding="utf-8"), "Evaluation", body),
                             encoding="utf-8")
    best = max((k for k in results if not k.startswith("gold")), key=lambda k: results[k]["rougeL_f1"])
    print(f"scored {len(outputs)} systems on {len(pairs)} pairs in "
          f"{(time.time() - t0) / 60:.1f} min; best ROUGE-L F1: {best}"
          + (f"; wrote {args.json}" if args.json else "") + (f"; updated {args.model_card}" if args.model_card else ""))
    return 0


if __name__ == "__main__":
    run_cli(main)
