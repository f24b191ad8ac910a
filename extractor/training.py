"""Training examples for both extractor backends, built from the same formats as inference.

Causal: the prompt is exactly `CausalExtractor.prompt` (`chat_prompt` over `causal_messages`), the
target is `causal_target(sentences) + eos`; prompt tokens are masked out of the loss (label -100).
Seq2seq: `join_utterances` -> `join_persona` (the paper's setup; the tokenizer adds bos/eos).
Each example is one `ExtractionInput` (by default one utterance + the partner's message before it)
with the persona sentences that utterance states (`extractor.alignment`), or none.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from extractor.base import chat_prompt
from extractor.formatting import ExtractionInput, InputLike, as_input, causal_target, join_persona, join_utterances

IGNORE = -100


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]  # causal: same length as input_ids; seq2seq: the target ids


def encode_causal(tokenizer: Any, inp: InputLike, persona: Sequence[str], max_length: int) -> Example:
    """Prompt + target ids; the oldest utterances are dropped until it fits `max_length`."""
    target = tokenizer(causal_target(list(persona)) + tokenizer.eos_token, add_special_tokens=False).input_ids
    inp = as_input(inp)
    while True:
        prompt = tokenizer(chat_prompt(tokenizer, inp), add_special_tokens=False).input_ids
        if len(prompt) + len(target) <= max_length or len(inp.utterances) <= 1:
            break
        inp = ExtractionInput(inp.utterances[1:], inp.context)
    ids = (prompt + target)[:max_length]
    labels = ([IGNORE] * len(prompt) + target)[:max_length]
    return Example(ids, labels)


def encode_seq2seq(tokenizer: Any, inp: InputLike, persona: Sequence[str], max_input: int,
                   max_target: int) -> Example:
    tokenizer.truncation_side = "left"  # keep the most recent utterances, as inference does
    src = tokenizer(join_utterances(as_input(inp).utterances), truncation=True, max_length=max_input).input_ids
    tokenizer.truncation_side = "right"
    tgt = tokenizer(text_target=join_persona(list(persona)), truncation=True, max_length=max_target).input_ids
    return Example(src, tgt)


def collate(batch: Sequence[Example], pad_id: int, seq2seq: bool) -> dict[str, torch.Tensor]:
    """Right-padded tensors; padded label positions are ignored by the loss."""
    def pad(rows: list[list[int]], value: int) -> torch.Tensor:
        width = max(len(r) for r in rows)
        return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)

    ids = pad([e.input_ids for e in batch], pad_id)
    mask = pad([[1] * len(e.input_ids) for e in batch], 0)
    labels = pad([e.labels for e in batch], IGNORE)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def length_batches(lengths: Sequence[int], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """Shuffled batches of similar length (less padding): shuffle, sort within chunks of 50 batches."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: lengths[i])
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in perm]


def split_shared_prefix(examples: Sequence[Example], prefix_ids: Sequence[int]) -> list[Example] | None:
    """The examples without the prompt prefix they all share (None if one of them does not start with it)."""
    n = len(prefix_ids)
    if not n or any(e.input_ids[:n] != list(prefix_ids) for e in examples):
        return None
    return [Example(e.input_ids[n:], e.labels[n:]) for e in examples]


def prefix_cached_loss(model: Any, prefix_ids: Sequence[int], suffixes: Sequence[Example], pad_id: int,
                       device: str = "cpu") -> torch.Tensor:
    """Causal-LM loss of [shared prefix][suffix] rows, the prefix run once for the whole batch.

    Every training prompt starts with the same instruction block (system prompt + worked examples),
    about 80 % of its tokens. Its keys/values are computed once (with gradients, as LoRA changes them)
    and repeated over the batch, so a step costs about a third of the plain forward/backward. Equal to
    `model(**collate(...)).loss` on the full rows (a test checks it). The prefix has no labels.
    """
    from transformers import DynamicCache

    from extractor.base import _cache_kw

    kw = _cache_kw(model)
    cache = DynamicCache(config=model.config)
    prefix = torch.tensor([list(prefix_ids)], device=device)
    model(input_ids=prefix, **{kw: cache}, use_cache=True)
    cache.batch_repeat_interleave(len(suffixes))
    b = collate(suffixes, pad_id, seq2seq=False)
    ids, mask, labels = (b[k].to(device) for k in ("input_ids", "attention_mask", "labels"))
    full_mask = torch.cat([torch.ones(len(suffixes), prefix.shape[1], dtype=mask.dtype, device=device), mask], 1)
    positions = torch.arange(prefix.shape[1], prefix.shape[1] + ids.shape[1], device=device).expand_as(ids)
    logits = model(input_ids=ids, attention_mask=full_mask, position_ids=positions, **{kw: cache},
                   use_cache=True).logits
    # the first suffix token is predicted by the prefix's last position: its label is never a target
    # (prompt tokens are masked), so shifting within the suffix loses nothing
    return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(),
                                             ignore_index=IGNORE)
