"""Persona-extractor inference speed on the build's real ESConv requests, three ways in one run.

1. a plain transformers `generate` loop at batch 1 (whole prompt, greedy);
2. the same loop at batch 16 (left padding, inputs in their original order);
3. the build's path as it was up to this release: `PersonaExtractor.extract` (length-sorted batches,
   shared-prompt KV cache, identical inputs generated once, early stop) decoding with `generate`,
   which steps every row until the batch's longest answer ends, at batch 16;
4. the build's path now: finished rows leave the batch (`CausalExtractor.drop_finished`), at batch 64
   (`--build-batch-size`); optionally also with int8 (CPU) quantisation or another dtype
   (`--also-dtype bfloat16`).

Each prints turns/s, new tokens/s and the ratio to the batch-1 loop, and the share of outputs
identical to the batch-1 loop (expected 100% where decoding is identical: greedy, same weights;
numerical ties aside). The plain loops stop only at the model's eos token, as `generate` does by
default; the build also stops at the chat markers (`CHAT_STOP_TOKENS`), so the plain outputs are
compared up to their first such marker.

    python -m benchmarks.extractor --turns 200 --json outputs/benchmark_extractor.json
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from common.cli import REPO_ROOT, InputError, command_parser, quiet_libraries, run_cli
from extractor.base import DEFAULT_BATCH_SIZE


def seeker_turns(path: str, n: int, context: str = "utterance", start_utterance: int = 3) -> list:
    """The build's extraction requests (`extractor.requests`), the first `n` in file order."""
    from extractor.requests import extraction_requests
    from schemas.esconv import read_dialogs

    dialogs, _ = read_dialogs(path)
    out: list = []
    for d in dialogs:
        for inp, _ in extraction_requests(d, start_utterance, context):
            out.append(inp)
            if len(out) == n:
                return out
    if not out:
        raise InputError(f"no seeker turns found in {path}")
    return out


def new_token_count(rows: torch.Tensor, eos_ids: set[int]) -> int:
    """Generated tokens up to and including the first end token of each row."""
    total = 0
    for row in rows.tolist():
        n = 0
        for t in row:
            n += 1
            if t in eos_ids:
                break
        total += n
    return total


def plain_loop(ext, inputs: list, batch_size: int) -> tuple[list[str], int]:
    """What a user would write: prompt -> tokenizer -> model.generate, fixed-size batches in input order."""
    tok, model, s = ext.tokenizer, ext.model, ext.settings
    tok.padding_side = "left"
    eos = {tok.eos_token_id, tok.pad_token_id} - {None}
    texts, tokens = [], 0
    for b in range(0, len(inputs), batch_size):
        prompts = [ext.fitted_prompt(u) for u in inputs[b:b + batch_size]]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(ext.device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=s.max_new_tokens, do_sample=False, num_beams=1,
                                 pad_token_id=tok.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        tokens += new_token_count(new, eos)
        # for the agreement check: the answer up to its first chat stop marker (where the build stops)
        stops = set(ext.stop_ids())
        for row in new.tolist():
            cut = next((k for k, t in enumerate(row) if t in stops), len(row))
            texts.append(tok.decode(row[:cut], skip_special_tokens=True))
    return texts, tokens


def build_path(ext, inputs: list) -> tuple[list[str], int]:
    before = ext.generated_tokens
    texts = ext.generate_texts(inputs)
    return texts, ext.generated_tokens - before  # each distinct input is generated once


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m benchmarks.extractor", __doc__)
    p.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "data" / "esconv" / "valid.json"),
                   help="ESConv file or folder (default ../shared/data/esconv/valid.json)")
    p.add_argument("--turns", type=int, default=200, help="extraction requests to time (default 200)")
    p.add_argument("--context", choices=["utterance", "cumulative"], default="utterance",
                   help="the build's input form (default utterance: one seeker utterance per request)")
    p.add_argument("--extractor", default="default")
    p.add_argument("--adapter", default="auto")
    p.add_argument("--batch-size", type=int, default=16, help="batch of the plain loop and of the previous build path")
    p.add_argument("--build-batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                   help="batch of the build path (default %(default)s, the build's default)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default=None, help="float32 (CPU default) or bfloat16 (GPU default)")
    p.add_argument("--int8", action="store_true", help="also time the build's path with int8 dynamic quantisation (CPU)")
    p.add_argument("--also-dtype", choices=["bfloat16", "float16"],
                   help="also time the build's path with the model in this dtype (bfloat16 uses AMX on recent Xeons)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--json", metavar="OUT", help="write the numbers and the outputs as JSON")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from extractor.base import GenerationSettings
    from extractor.loading import resolve_extractor

    inputs = seeker_turns(args.data, args.turns, args.context)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    spec = resolve_extractor(args.extractor, args.adapter, device=args.device, settings=settings, dtype=args.dtype)
    ext = spec.load()
    ext.batch_size = args.batch_size
    print(f"{len(inputs)} seeker turns from {args.data}; extractor {spec.describe().get('model')} "
          f"adapter {spec.adapter_dir}; {args.device} {spec.dtype}, {torch.get_num_threads()} threads",
          file=sys.stderr)
    ext.generate_texts(inputs[:2])  # warm-up (also builds the shared-prefix cache, once per model)

    runs: dict[str, dict] = {}
    outputs: dict[str, list[str]] = {}

    def timed(name: str, fn) -> None:
        t0 = time.perf_counter()
        texts, tokens = fn()
        sec = time.perf_counter() - t0
        outputs[name] = texts
        runs[name] = {"seconds": sec, "turns_per_s": len(inputs) / sec, "new_tokens_per_s": tokens / sec,
                      "new_tokens": tokens}
        print(f"  {name}: {sec:.1f}s, {len(inputs) / sec:.2f} turns/s", file=sys.stderr)

    timed("plain generate, batch 1", lambda: plain_loop(ext, inputs, 1))
    timed(f"plain generate, batch {args.batch_size}", lambda: plain_loop(ext, inputs, args.batch_size))
    ext.drop_finished = False
    timed(f"build path, generate, batch {args.batch_size}", lambda: build_path(ext, inputs))
    ext.drop_finished, ext.batch_size = True, args.build_batch_size
    timed("build path", lambda: build_path(ext, inputs))
    if args.int8:
        if args.device != "cpu":
            raise InputError("--int8 is CPU-only")
        q = resolve_extractor(args.extractor, args.adapter, device="cpu", settings=settings, quantize="int8").load()
        q.batch_size = args.build_batch_size
        q.generate_texts(inputs[:2])
        timed("build path + int8", lambda: build_path(q, inputs))
    if args.also_dtype:
        other = resolve_extractor(args.extractor, args.adapter, device=args.device, settings=settings,
                                  dtype=args.also_dtype).load()
        other.batch_size = args.build_batch_size
        other.generate_texts(inputs[:2])
        timed(f"build path, {args.also_dtype}", lambda: build_path(other, inputs))

    base = runs["plain generate, batch 1"]
    ref = outputs["plain generate, batch 1"]
    print("\n| method | seconds | turns/s | new tokens/s | vs batch-1 | same output as batch-1 |\n|---|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        r["speedup"] = r["turns_per_s"] / base["turns_per_s"]
        r["agreement"] = sum(a == b for a, b in zip(outputs[name], ref)) / len(ref)
        print(f"| {name} | {r['seconds']:.1f} | {r['turns_per_s']:.2f} | {r['new_tokens_per_s']:.1f} | "
              f"{r['speedup']:.2f}x | {r['agreement']:.0%} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "turns": len(inputs), "device": args.device, "dtype": spec.dtype, "threads": torch.get_num_threads(),
            "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
            "build_batch_size": args.build_batch_size, "runs": runs,
            "context": args.context, "extractor": spec.describe(),
            "inputs": [{"utterances": list(i.utterances), "context": i.context} for i in inputs], "outputs": outputs},
            indent=1, default=str))
    build, before = runs["build path"], runs[f"build path, generate, batch {args.batch_size}"]
    print(f"\nbuild path: {build['speedup']:.2f}x the batch-1 loop ({build['turns_per_s']:.2f} vs "
          f"{base['turns_per_s']:.2f} turns/s), {build['turns_per_s'] / before['turns_per_s']:.2f}x the previous "
          f"build path, on {len(inputs)} turns"
          + (f"; wrote {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    run_cli(main)
