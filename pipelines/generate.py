"""Decode a trained model on a split of the shards: predicted strategy + response (Eq. 6), and teacher-forced scores.

    python -m pipelines.generate --checkpoint outputs/pal/pal --build outputs/pesconv --max-examples 200

For every selected supporter turn it writes one JSON line: the gold strategy and response, the
persona, the strategy the model predicts (argmax over the 8 strategy tokens at the first step),
the rank of the gold strategy (for ACC / top-n ACC), the teacher-forced NLL of the gold target
(for PPL), α, and the sampled response. `--max-scored` turns are scored (cheap: one forward),
the first `--max-examples` of them also decoded (both from the same seeded sample).

Rows are batched longest input first, with the LoRA adapter folded into the weights
(`benchmarks/decode.py` measures both), and written to OUTPUT.partial as they finish: a stopped run
started again with the same settings goes on from there (its remaining rows draw from a seed of
their own), and the finished file lists the rows in the sample's order.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from common.cli import InputError, check_device, code_version, command_parser, quiet_libraries, run_cli
from modeling.generations import read_partial

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
    p.add_argument("--no-progress", action="store_true", help="no progress bar (a line per 10 %% of the turns instead)")
    p.add_argument("--output", default=None, help="JSONL file (default CHECKPOINT_RUN/generations-SPLIT[-VARIANT].jsonl)")
    return p


def resolve_checkpoint(path: str) -> Path:
    p = Path(path)
    if (p / "meta.json").exists():
        return p
    if (p / "best" / "meta.json").exists():
        return p / "best"
    raise InputError(f"{path} is neither a train_pal run folder nor a checkpoint (no meta.json, no best/meta.json)")


def length_order(tokens, n_decode: int) -> list[int]:
    """Rows to decode first, each group longest input first: a batch then holds inputs of about one length,
    so little of it is padding (the order changes which random draws a row gets, not what is measured)."""
    persona = tokens["persona_ids"] if "persona_ids" in tokens.column_names else [[]] * len(tokens)
    size = [len(a) + len(b) for a, b in zip(tokens["input_ids"], persona)]
    return sorted(range(len(tokens)), key=lambda j: (j >= n_decode, -size[j], j))


def resume_partial(tmp: Path, run_key: dict, tokens) -> dict[int, dict]:
    """The rows a stopped run of the same settings already wrote to `tmp` (by row index); {} otherwise."""
    if not tmp.exists():
        return {}
    header, rows = read_partial(tmp)
    if header.get("_run") != json.loads(json.dumps(run_key)):
        log.warning("%s is from a run with other settings: starting over", tmp)
        return {}
    index = {(d, t): j for j, (d, t) in enumerate(zip(tokens["dialog_id"], tokens["turn"]))}
    return {index[(rec["dialog_id"], rec["turn"])]: rec for rec in rows}


def decode_batches(model, tokens, n_decode: int, batch_size: int, alpha_of: torch.Tensor, settings,
                   device: str = "cpu", gold_strategy: bool = False, by_length: bool = True,
                   skip: set[int] | frozenset = frozenset()):
    """Score every row (strategy logits, NLL of the gold target) and decode the first `n_decode` rows.

    Yields, per batch, `(row index, record)` pairs; `by_length=False` keeps the rows' own order (the
    benchmark's baseline); rows in `skip` (done by a stopped run) are left out."""
    from schemas.strategies import STRATEGIES

    order = [j for j in (length_order(tokens, n_decode) if by_length else range(len(tokens))) if j not in skip]
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        rows = [tokens[j] for j in idx]
        score = model.score(rows, device)
        gold = torch.tensor([[STRATEGIES.index(r["strategy"])] for r in rows])
        ranks = (score["strategy_logits"] > score["strategy_logits"].gather(1, gold)).sum(1) + 1
        dec = [k for k, j in enumerate(idx) if j < n_decode]
        gen = None
        if dec:
            forced = gold[dec, 0] if gold_strategy else None
            gen = model.generate([rows[k] for k in dec], alpha_of, settings, device, forced=forced)
        batch = []
        for k, r in enumerate(rows):
            rec = {"dialog_id": r["dialog_id"], "turn": r["turn"], "strategy": r["strategy"],
                   "predicted_strategy": STRATEGIES[int(score["strategy_logits"][k].argmax())],
                   "strategy_rank": int(ranks[k]), "nll_sum": float(score["nll_sum"][k]),
                   "n_tokens": int(score["n_tokens"][k]), "persona": r["persona"],
                   "context": r["history"][-1] if r["history"] else "", "response": r["response"], "generation": None}
            if gen is not None and k in dec:
                g = dec.index(k)
                rec["generation"] = gen["texts"][g]
                rec["decoded_strategy"] = STRATEGIES[int(gen["strategy"][g])]
                rec["alpha"] = float(gen["alpha"][g])
            batch.append((idx[k], rec))
        yield batch


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

    model.merge_for_inference()
    tmp = out.with_suffix(".jsonl.partial")
    run_key = {"checkpoint": str(ckpt), "variant": variant, "alpha": alpha, "strategy": args.strategy,
               "sampling": settings.as_dict(), "seed": args.seed, "build": str(args.build), "split": args.split,
               "scored": len(tokens), "decoded": n_decode, "batch_size": args.batch_size}
    done = resume_partial(tmp, run_key, tokens)
    resumed = len(done)
    if done:
        print(f"Resuming: {len(done)} of {len(tokens)} turns already in {tmp}", flush=True)
    torch.manual_seed(args.seed + len(done))  # (a resumed run draws on from a seed of its own, deterministically)
    n_rows, correct = len(done), sum(r["predicted_strategy"] == r["strategy"] for r in done.values())
    bar = tqdm(total=len(tokens), initial=n_rows, desc=f"score+decode {variant}", unit="turn", dynamic_ncols=True,
               disable=args.no_progress)
    step = max(1, len(tokens) // 10)
    next_line = n_rows + step
    with open(tmp, "a" if done else "w", encoding="utf-8") as f:  # rows as they finish (a stopped run resumes
        if not done:                                                # from them), then all in order
            f.write(json.dumps({"_run": run_key, "_meta": {  # what analysis.evaluate needs to score a stopped run
                "trained_variant": model.meta["variant"], "family": model.family, "base": model.base_info,
                "vocab_size": len(model.tokenizer), "train_step": model.meta.get("step"),
                "code_version": code_version()}}) + "\n")
        for batch in decode_batches(model, tokens, n_decode, args.batch_size, alpha_of, settings, args.device,
                                    gold_strategy=args.strategy == "gold", skip=set(done)):
            for j, rec in batch:
                done[j] = rec
                correct += rec["predicted_strategy"] == rec["strategy"]
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n_rows += 1
            f.flush()
            bar.update(len(batch))
            bar.set_postfix(acc=f"{100 * correct / n_rows:.1f}")
            if args.no_progress and n_rows >= next_line:
                print(f"{n_rows}/{len(tokens)} turns in {time.time() - started:.0f}s", flush=True)
                next_line += step
    bar.close()
    with open(out, "w", encoding="utf-8") as f:
        for j in sorted(done):
            f.write(json.dumps(done[j], ensure_ascii=False) + "\n")
    tmp.unlink()
    meta = {"checkpoint": str(ckpt), "variant": variant, "trained_variant": model.meta["variant"],
            "family": model.family, "base": model.base_info, "vocab_size": len(model.tokenizer),
            "build": str(args.build), "split": args.split, "scored": n_rows, "decoded": n_decode,
            "alpha": alpha, "strategy": args.strategy, "sampling": settings.as_dict(), "seed": args.seed,
            "train_step": model.meta.get("step"), "batch_size": args.batch_size, "order": "longest input first",
            "lora_merged": bool(model.lora_r), "resumed_from": resumed, "code_version": code_version(),
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
