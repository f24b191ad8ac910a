"""Training examples for both extractor backends, built from the same formats as inference.

Causal: the prompt is exactly `CausalExtractor.prompt` (chat template over `causal_messages`), the
target is `causal_target(sentences) + eos`; prompt tokens are masked out of the loss (label -100).
Seq2seq: `join_utterances` -> `join_persona` (the paper's setup; the tokenizer adds bos/eos).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from extractor.formatting import causal_messages, causal_target, join_persona, join_utterances

IGNORE = -100


def causal_prompt(tokenizer: Any, utterances: Sequence[str]) -> str:
    """The build's prompt (same code path as `CausalExtractor.prompt`)."""
    messages = causal_messages(list(utterances))
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in messages) + "\n"


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]  # causal: same length as input_ids; seq2seq: the target ids


def encode_causal(tokenizer: Any, utterances: Sequence[str], persona: Sequence[str], max_length: int) -> Example:
    """Prompt + target ids; the oldest utterances are dropped until it fits `max_length`."""
    target = tokenizer(causal_target(list(persona)) + tokenizer.eos_token, add_special_tokens=False).input_ids
    utts = list(utterances)
    while True:
        prompt = tokenizer(causal_prompt(tokenizer, utts), add_special_tokens=False).input_ids
        if len(prompt) + len(target) <= max_length or len(utts) <= 1:
            break
        utts = utts[1:]
    ids = (prompt + target)[:max_length]
    labels = ([IGNORE] * len(prompt) + target)[:max_length]
    return Example(ids, labels)


def encode_seq2seq(tokenizer: Any, utterances: Sequence[str], persona: Sequence[str], max_input: int,
                   max_target: int) -> Example:
    tokenizer.truncation_side = "left"  # keep the most recent utterances, as inference does
    src = tokenizer(join_utterances(list(utterances)), truncation=True, max_length=max_input).input_ids
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
