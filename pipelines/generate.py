"""Decode a trained model on a split of the shards: predicted strategy + response (Eq. 6), and teacher-forced scores.

    python -m pipelines.generate --checkpoint outputs/pal/pal --build outputs/pesconv --max-examples 200

For every selected supporter turn it writes one JSON line: the gold strategy and response, the
persona, the strategy the model predicts (argmax over the 8 strategy tokens at the first step),
the rank of the gold strategy (for ACC / top-n ACC), the teacher-forced NLL of the gold target
(for PPL), α, and the sampled response. `--max-scored` turns are scored (cheap: one forward),
the first `--max-examples` of them also decoded (both from the same seeded sample).
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from common.cli import InputError, check_device, code_version, command_parser, quiet_libraries, run_cli

log = logging.getLogger("generate")


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m pipelines.generate", __doc__)
    p.add_argument("--checkpoint", required=True, help="a train_pal run folder (uses its best/) or checkpoint folder")
    p.add_argument("--build", default="outputs/pesconv", help="PESConv build folder")
    p.add_argument("--split", default="test", help="split to decode")
    p.add_argument("--max-examples", type=int, default=None, help="decode a seeded sample of N turns (default all)")
    p.add_argument("--max-scored", type=int, default=None,
                   help="score (PPL, ACC) N turns of the same sample (default: all of the split)")
    p.add_argument("--variant", default=None, choices=["pal", "pal-alpha0", "hard-prompt", "joint"],
                   help="decode as this variant (default: the trained one); e.g. a pal checkpoint with pal-alpha0")
    p.add_argument("--alpha", default=None,
                   help="Eq. 6 alpha: 'paper' (the per-strategy table), one number for all strategies, or "
                        "'Strategy=value,...' overrides. Default: paper for pal, 0 for the other variants")
    p.add_argument("--strategy", default="predicted", choices=["predicted", "gold"],
                   help="decode with the predicted strategy (paper) or force the gold one")
    g = p.add_argument_group("sampling (paper defaults)")
    g.add_argument("--top-k", type=int, default=10)
    g.add_argument("--top-p", type=float, default=0.9)
    g.add_argument("--temperature", type=float, default=0.5)
    g.add_argument("--repetition-penalty", type=float, default=1.03)
    g.add_argument("--max-new-tokens", type=int, default=40)
    g.add_argument("--greedy", action="store_true", help="greedy decoding instead of sampling")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample of turns and of sampling")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--output", default=None, help="JSONL file (default CHECKPOINT_RUN/generations-SPLIT[-VARIANT].jsonl)")
    return p


def resolve_checkpoint(path: str) -> Path:
    p = Path(path)
    if (p / "meta.json").exists():
        return p
    if (p / "best" / "meta.json").exists():
        return p / "best"
    raise InputError(f"{path} is neither a train_pal run folder nor a checkpoint (no meta.json, no best/meta.json)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    from tqdm.auto import tqdm

    from modeling.data import check_build, load_examples, tokenize_examples
    from modeling.guidance import SamplingSettings
    from modeling.models import ResponseModel
    from modeling.strategies import parse_alpha
    from schemas.strategies import STRATEGIES

    started = time.time()
    check_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = resolve_checkpoint(args.checkpoint)
    check_build(args.build)
    model = ResponseModel.load(ckpt, args.device)
    model.net.eval()
    variant = args.variant or model.variant
    if variant != model.variant:
        if {variant, model.variant} <= {"pal", "pal-alpha0"}:
            model.variant = variant
        else:
            raise InputError(f"a {model.variant} checkpoint cannot be decoded as {variant}")
    alpha = parse_alpha(args.alpha if args.alpha is not None else ("paper" if variant == "pal" else "0"))
    if variant == "joint" and any(alpha.values()):
        raise InputError("the joint baseline has no persona: Eq. 6 guidance needs alpha = 0")
    alpha_of = torch.tensor([alpha[s] for s in STRATEGIES])
    settings = SamplingSettings(args.top_k, args.top_p, args.temperature, args.repetition_penalty,
                                args.max_new_tokens, not args.greedy)

    n_scored = args.max_scored if args.max_scored is not None else None
    if n_scored is not None and args.max_examples is not None and n_scored < args.max_examples:
        n_scored = args.max_examples
    examples = load_examples(args.build, args.split, max_examples=n_scored, seed=args.seed)
    if n_scored is None and args.max_examples is not None:  # scored = all; keep a seeded order so the decoded
        examples = examples.shuffle(seed=args.seed)        # sample is spread over the dialogs
    tokens = tokenize_examples(examples, model.tokenizer, model.family, model.variant, model.token_settings)
    n_decode = min(len(tokens), args.max_examples if args.max_examples is not None else len(tokens))
    run_dir = ckpt.parent if ckpt.name in ("best", "last") else ckpt
    suffix = "" if variant == model.meta["variant"] else f"-{variant}"
    out = Path(args.output or run_dir / f"generations-{args.split}{suffix}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(args.seed)
    n_rows, correct = 0, 0
    bar = tqdm(total=len(tokens), desc=f"score+decode {variant}", unit="turn", dynamic_ncols=True)
    tmp = out.with_suffix(".jsonl.partial")
    with open(tmp, "w", encoding="utf-8") as f:
        for i in range(0, len(tokens), args.batch_size):
            idx = list(range(i, min(i + args.batch_size, len(tokens))))
            rows = [tokens[j] for j in idx]
            score = model.score(rows, args.device)
            ranks = (score["strategy_logits"] > score["strategy_logits"].gather(
                1, torch.tensor([[STRATEGIES.index(r["strategy"])] for r in rows]))).sum(1) + 1
            dec_idx = [k for k, j in enumerate(idx) if j < n_decode]
            gen = None
            if dec_idx:
                forced = (torch.tensor([STRATEGIES.index(rows[k]["strategy"]) for k in dec_idx])
                          if args.strategy == "gold" else None)
                gen = model.generate([rows[k] for k in dec_idx], alpha_of, settings, args.device, forced=forced)
            for k, r in enumerate(rows):
                pred = STRATEGIES[int(score["strategy_logits"][k].argmax())]
                rec = {"dialog_id": r["dialog_id"], "turn": r["turn"], "strategy": r["strategy"],
                       "predicted_strategy": pred, "strategy_rank": int(ranks[k]),
                       "nll_sum": float(score["nll_sum"][k]), "n_tokens": int(score["n_tokens"][k]),
                       "persona": r["persona"], "context": r["history"][-1] if r["history"] else "",
                       "response": r["response"], "generation": None}
                if gen is not None and k in dec_idx:
                    g = dec_idx.index(k)
                    rec["generation"] = gen["texts"][g]
                    rec["decoded_strategy"] = STRATEGIES[int(gen["strategy"][g])]
                    rec["alpha"] = float(gen["alpha"][g])
                correct += pred == r["strategy"]
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n_rows += 1
            bar.update(len(rows))
            bar.set_postfix(acc=f"{100 * correct / n_rows:.1f}")
    bar.close()
    tmp.replace(out)
    meta = {"checkpoint": str(ckpt), "variant": variant, "trained_variant": model.meta["variant"],
            "family": model.family, "base": model.base_info, "vocab_size": len(model.tokenizer),
            "build": str(args.build), "split": args.split, "scored": n_rows, "decoded": n_decode,
            "alpha": alpha, "strategy": args.strategy, "sampling": settings.as_dict(), "seed": args.seed,
            "train_step": model.meta.get("step"), "code_version": code_version(),
            "seconds": round(time.time() - started, 1)}
    out.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2))
    print(f"\nScored {n_rows} {args.split} turns (strategy ACC {100 * correct / max(n_rows, 1):.2f}) and decoded "
          f"{n_decode} with {variant} (alpha {'by strategy' if len(set(alpha.values())) > 1 else alpha[STRATEGIES[0]]}, "
          f"{'greedy' if args.greedy else 'sampling'}) in {time.time() - started:.0f}s. Wrote {out} and "
          f"{out.with_suffix('.meta.json')}. Next: python -m analysis.evaluate {out}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
