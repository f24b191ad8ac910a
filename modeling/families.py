"""What differs between the two model families, behind one small interface (`ResponseModel` holds one).

- `Seq2SeqFamily`: the PAL encoder-decoder (BlenderbotSmall / BART); the persona is a second encoder input
  fused by co-attention (`modeling.pal.PALModel`); the no-persona pass of Eq. 6 encodes without it.
- `CausalFamily`: a decoder-only LM; the persona is in the prompt (`modeling.data`), targets sit at the end
  of left-padded rows, the no-persona pass is the prompt with an empty persona, a response ends at a line.
"""
from __future__ import annotations

from typing import Any

import torch

from modeling.data import collate_causal_prompts, collate_causal_train, collate_seq2seq
from modeling.guidance import CausalStepper, Seq2SeqStepper
from modeling.pal import PALModel


class Seq2SeqFamily:
    name = "seq2seq"

    def auto_class(self):
        from transformers import AutoModelForSeq2SeqLM

        return AutoModelForSeq2SeqLM

    def wrap(self, base: torch.nn.Module, variant: str) -> torch.nn.Module:
        return PALModel(base, variant)

    def base_module(self, net: torch.nn.Module) -> torch.nn.Module:
        return net.base

    def collate_train(self, rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
        return collate_seq2seq(rows, pad_id)

    def loss(self, net: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return net(batch).loss

    def teacher_forced(self, net, batch, rows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits over the targets, their labels, the logits of the first target position)."""
        logits = net(batch).logits.float()
        return logits, batch["labels"], logits[:, 0, :]

    def steppers(self, net, rows: list[dict], pad_id: int, device: str, guided: bool) -> tuple[Any, ...]:
        """(with-persona stepper, its first input, no-persona stepper or None, its first input, prefix)."""
        batch = {k: v.to(device) for k, v in collate_seq2seq(rows, pad_id).items()}
        step_p = Seq2SeqStepper(net.decode, *net.encode(batch, use_persona=True))
        step_d = Seq2SeqStepper(net.decode, *net.encode(batch, use_persona=False)) if guided else None
        first = net.decoder_start(len(rows), device)
        return step_p, first, step_d, first, first

    def extra_stop_ids(self, tokenizer, eos_id: int) -> list[int]:
        return []

    def clean(self, text: str) -> str:
        return text.strip()


class CausalFamily:
    name = "causal"

    def auto_class(self):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM

    def wrap(self, base: torch.nn.Module, variant: str) -> torch.nn.Module:
        return base

    def base_module(self, net: torch.nn.Module) -> torch.nn.Module:
        return net

    def collate_train(self, rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
        return collate_causal_train(rows, pad_id)

    @staticmethod
    def _tail(net, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of the last `keep` positions (where the targets are) and the labels they predict."""
        keep = int(batch["keep"])
        out = net(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                  position_ids=batch["position_ids"], logits_to_keep=keep)
        return out.logits[:, :-1, :], batch["labels"][:, -keep + 1:]

    def loss(self, net: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits, labels = self._tail(net, batch)
        return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                 ignore_index=-100)

    def teacher_forced(self, net, batch, rows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, labels = self._tail(net, batch)
        logits = logits.float()
        idx = torch.tensor([logits.shape[1] - len(r["labels"]) for r in rows], device=logits.device)
        return logits, labels, logits[torch.arange(len(rows), device=logits.device), idx]

    def steppers(self, net, rows: list[dict], pad_id: int, device: str, guided: bool) -> tuple[Any, ...]:
        p = {k: v.to(device) for k, v in collate_causal_prompts(rows, pad_id, "input_ids").items()}
        d = {k: v.to(device) for k, v in collate_causal_prompts(rows, pad_id, "input_ids_nop").items()}
        step_p = CausalStepper(net, p["attention_mask"])
        step_d = CausalStepper(net, d["attention_mask"]) if guided else None
        return step_p, p["input_ids"], step_d, d["input_ids"], p["input_ids"]

    def extra_stop_ids(self, tokenizer, eos_id: int) -> list[int]:
        """Every token holding a line break: the prompt has one line per turn, so a response ends there."""
        return [i for i in range(len(tokenizer)) if i != eos_id and "\n" in tokenizer.decode([i])]

    def clean(self, text: str) -> str:
        return text.lstrip(" ").split("\n")[0].strip()


FAMILIES: dict[str, Seq2SeqFamily | CausalFamily] = {"seq2seq": Seq2SeqFamily(), "causal": CausalFamily()}
