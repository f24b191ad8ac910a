"""What decoding a test split costs, and what the faster loop saves, in one run.

`pipelines.generate` scores every test turn and samples a response for each decoded one (Eq. 6: two
passes for PAL). Decoding the whole test split on a CPU is the slow step of Table 3, so the loop
folds the LoRA deltas into the weights and batches rows of about one input length. This measures,
on the same seeded turns of one checkpoint:

- the baseline: the adapter left unmerged, rows in their sampled order, batch 8 (the loop before);
- the loop as it is now (merged, longest input first) at each `--batch-sizes`.

Prints turns/s and the speed-up over the baseline for each.

    python -m benchmarks.decode --checkpoint outputs/table3-full/pal --build outputs/pesconv --turns 64
"""
from __future__ import annotations

import json
import time

from common.cli import command_parser, quiet_libraries, run_cli


def build_parser():
    p = command_parser("python -m benchmarks.decode", __doc__)
    p.add_argument("--checkpoint", required=True, help="a train_pal run folder or checkpoint folder")
    p.add_argument("--build", default="outputs/pesconv", help="PESConv build folder")
    p.add_argument("--split", default="test")
    p.add_argument("--turns", type=int, default=64, help="seeded test turns scored and decoded per setting")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--variant", default=None, choices=["pal", "pal-alpha0", "joint"],
                   help="decode as (default: the checkpoint's variant)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--json", default=None, help="also write the results here")
    return p


def time_setting(ckpt, tokens_for, variant: str, n: int, batch_size: int, merged: bool, by_length: bool) -> dict:
    import torch

    from modeling.guidance import SamplingSettings
    from modeling.models import ResponseModel
    from modeling.strategies import parse_alpha
    from pipelines.generate import decode_batches
    from schemas.strategies import STRATEGIES

    model = ResponseModel.load(ckpt)
    model.net.eval()
    model.variant = variant
    if merged:
        model.merge_for_inference()
    alpha = parse_alpha("paper" if variant == "pal" else "0")
    alpha_of = torch.tensor([alpha[s] for s in STRATEGIES])
    tokens = tokens_for(model)
    torch.manual_seed(0)
    started = time.perf_counter()
    rows = [r for batch in decode_batches(model, tokens, n, batch_size, alpha_of, SamplingSettings(),
                                          by_length=by_length) for _, r in batch]
    seconds = time.perf_counter() - started
    words = sum(len((r["generation"] or "").split()) for r in rows)
    return {"batch_size": batch_size, "merged": merged, "longest_first": by_length, "turns": len(rows),
            "seconds": round(seconds, 2), "turns_per_s": round(len(rows) / seconds, 3), "words_generated": words}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    import torch

    from modeling.data import check_build, load_examples, tokenize_examples
    from pipelines.generate import resolve_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = resolve_checkpoint(args.checkpoint)
    check_build(args.build)
    variant = args.variant or json.loads((ckpt / "meta.json").read_text())["variant"]
    examples = load_examples(args.build, args.split, max_examples=args.turns, seed=0)

    def tokens_for(model):
        return tokenize_examples(examples, model.tokenizer, model.family, model.variant, model.token_settings)

    n = len(examples)
    results = [time_setting(ckpt, tokens_for, variant, n, 8, merged=False, by_length=False)]
    for bs in args.batch_sizes:
        results.append(time_setting(ckpt, tokens_for, variant, n, bs, merged=True, by_length=True))
    base = results[0]["turns_per_s"]
    print(f"\n{n} {args.split} turns of {ckpt} scored and decoded as {variant}, {torch.get_num_threads()} threads:")
    print("| setting | batch | seconds | turns/s | speed-up |\n|---|---:|---:|---:|---:|")
    for r in results:
        name = "merged, longest first" if r["merged"] else "baseline: adapter, sampled order"
        print(f"| {name} | {r['batch_size']} | {r['seconds']:.1f} | {r['turns_per_s']:.2f} | "
              f"{r['turns_per_s'] / base:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"checkpoint": str(ckpt), "variant": variant, "turns": n, "threads": torch.get_num_threads(),
                       "results": results}, f, indent=2)
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
