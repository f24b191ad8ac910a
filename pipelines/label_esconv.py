"""Self-training labels for the extractor from ESConv *train* dialogs (see `extractor.self_training`).

Runs the extractor on every seeker utterance of the given dialogs (one request per utterance, the
supporter's message before it as context, as the build does), labels each output with the strict
faithfulness filter, and writes one JSON line per utterance plus `OUTPUT.meta.json` (extractor
provenance, settings, counts and the dialog ids, so an evaluation can prove it never scores them).

    python -m pipelines.label_esconv --esconv ../shared/data/esconv/train.json --dialogs 400 \\
        --output outputs/esconv_labels.jsonl
    python -m pipelines.train_extractor --esconv-labels outputs/esconv_labels.jsonl --output outputs/extractor
"""
from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli
from extractor.base import DEFAULT_BATCH_SIZE


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = command_parser("python -m pipelines.label_esconv", __doc__)
    p.add_argument("--esconv", required=True, help="ESConv dialogs to label: the train split only (file or folder)")
    p.add_argument("--output", default="outputs/esconv_labels.jsonl", help="JSON lines (default %(default)s)")
    p.add_argument("--dialogs", type=int, help="a seeded sample of N dialogs (default: all)")
    p.add_argument("--extractor", default="default", help="extractor model (default SmolLM2)")
    p.add_argument("--adapter", default="auto", help="LoRA adapter folder, 'auto' (shipped default) or 'none'")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="generation batch (default %(default)s)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--backend", choices=["torch", "ctranslate2"], default="torch",
                   help="inference backend, as the build's --backend (default %(default)s)")
    p.add_argument("--cache", metavar="DIR", help="inference cache folder (as the build's --cache)")
    p.add_argument("--seed", type=int, default=13)
    args = p.parse_args(argv)
    for name in ("dialogs", "batch_size", "max_new_tokens"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise InputError(f"--{name.replace('_', '-')} must be positive")
    if "test" in Path(args.esconv).name.lower():
        raise InputError(f"{args.esconv} looks like a test split: label train dialogs only (evaluation reads test)")
    return args


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    args = parse_args(argv)
    from extractor.grounding import SupportScorer, minilm_embedder
    from extractor.requests import UTTERANCE, extraction_requests
    from extractor.self_training import label_utterance
    from pipelines.evaluate_extractor import Runner, System
    from schemas.esconv import read_dialogs

    dialogs, _ = read_dialogs(args.esconv)
    if not dialogs:
        raise InputError(f"no usable ESConv dialogs in {args.esconv}")
    if args.dialogs and args.dialogs < len(dialogs):
        pick = sorted(random.Random(args.seed).sample(range(len(dialogs)), args.dialogs))
        dialogs = [dialogs[i] for i in pick]
    requests = [(d.dialog_id, turn, inp) for d in dialogs for inp, turn in extraction_requests(d, 1, UTTERANCE)]
    runner = Runner(args)  # the evaluation's batched extraction: load once, length-sorted batches, progress
    inputs = [inp for _, _, inp in requests]
    outs, seconds = runner.extract(System("extract", args.extractor, args.adapter), inputs)
    scorer = SupportScorer(minilm_embedder("cuda" if args.device.startswith("cuda") else "cpu"))
    scorer.prepare([t for inp, o in zip(inputs, outs) for t in (*inp.utterances, *o)])
    counts: Counter = Counter()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for (dialog_id, turn, inp), generated in zip(requests, outs):
            lab = label_utterance(inp, generated, scorer)
            counts[lab.label] += 1
            f.write(json.dumps({"dialog_id": dialog_id, "turn": turn, "utterance": inp.utterances[0],
                                "context": inp.context, "generated": list(lab.generated),
                                "targets": list(lab.targets), "label": lab.label, "reason": lab.reason,
                                "statements": list(lab.statements)}) + "\n")
    tmp.replace(out)
    meta = {"esconv": args.esconv, "dialogs": len(dialogs), "utterances": len(requests), "labels": dict(counts),
            "extractor": runner.provenance["extract"], "seconds_extracting": round(seconds, 1),
            "utterances_per_s": round(len(requests) / max(seconds, 1e-9), 2), "code": code_version(),
            "settings": {k: v for k, v in vars(args).items()},
            "dialog_ids": sorted({d.dialog_id for d in dialogs})}
    Path(str(out) + ".meta.json").write_text(json.dumps(meta, indent=1))
    print(f"labelled {len(requests)} utterances of {len(dialogs)} dialogs in {seconds:.0f} s "
          f"({meta['utterances_per_s']} utterances/s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; wrote {out} and {out}.meta.json")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
