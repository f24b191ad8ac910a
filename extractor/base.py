"""The extractor interface and its two backends (seq2seq and decoder-only causal LM)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch

from extractor.formatting import causal_messages, join_utterances, parse_persona


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; all of them are part of the inference-cache key."""

    max_new_tokens: int = 64
    num_beams: int = 1  # greedy by default (deterministic); the paper used 10 beams
    max_input_tokens: int = 512  # inputs keep their most recent tokens

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PersonaExtractor:
    """A loaded model + tokenizer that turns utterance lists into persona sentences."""

    model: Any
    tokenizer: Any
    settings: GenerationSettings
    identity: dict[str, Any] = field(default_factory=dict)  # model id, weights/adapter hashes, dtype...
    device: str = "cpu"
    backend: str = "abstract"

    @property
    def fingerprint(self) -> str:
        return str(self.identity.get("fingerprint", ""))

    def describe(self) -> dict[str, Any]:
        """Provenance record (model, hashes, settings) as resolved by `ExtractorSpec`."""
        return {"backend": self.backend, **self.identity}

    def extract(self, inputs: Sequence[Sequence[str]]) -> list[list[str]]:
        """Persona sentences for each input (a list of one speaker's utterances)."""
        if not inputs:
            return []
        return [parse_persona(t) for t in self.generate_texts(inputs)]

    def generate_texts(self, inputs: Sequence[Sequence[str]]) -> list[str]:
        raise NotImplementedError

    def input_length(self, utterances: Sequence[str]) -> int:
        """Cheap length proxy used to batch similar lengths together."""
        return sum(len(u) for u in utterances)


@dataclass
class Seq2SeqExtractor(PersonaExtractor):
    """BART-family extractor, the paper's setup: `u1 <sep> u2 ...` -> `p1 <persona> p2 ...`."""

    backend: str = "seq2seq"

    def generate_texts(self, inputs: Sequence[Sequence[str]]) -> list[str]:
        tok = self.tokenizer
        tok.truncation_side = "left"  # keep the most recent utterances
        enc = tok([join_utterances(list(u)) for u in inputs], return_tensors="pt", padding=True,
                  truncation=True, max_length=self.settings.max_input_tokens).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(
                **enc, max_new_tokens=self.settings.max_new_tokens, num_beams=self.settings.num_beams,
                do_sample=False, early_stopping=self.settings.num_beams > 1, use_cache=True,
            )
        drop = {t for t in (tok.pad_token, tok.eos_token, tok.bos_token) if t}
        texts = []
        for row in out:
            pieces = tok.convert_ids_to_tokens(row.tolist())
            kept = [p for p in pieces if p not in drop]
            texts.append(tok.convert_tokens_to_string(kept))
        return texts


@dataclass
class CausalExtractor(PersonaExtractor):
    """Decoder-only extractor: an instruction prompt (chat template when the tokenizer has one)."""

    backend: str = "causal"

    def prompt(self, utterances: Sequence[str]) -> str:
        messages = causal_messages(list(utterances))
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n"

    def fitted_prompt(self, utterances: Sequence[str]) -> str:
        """Drop the oldest utterances until the prompt fits `max_input_tokens`."""
        utts = list(utterances)
        while True:
            text = self.prompt(utts)
            if len(utts) <= 1 or len(self.tokenizer(text).input_ids) <= self.settings.max_input_tokens:
                return text
            utts = utts[1:]

    def generate_texts(self, inputs: Sequence[Sequence[str]]) -> list[str]:
        tok = self.tokenizer
        tok.padding_side = "left"
        prompts = [self.fitted_prompt(u) for u in inputs]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(
                **enc, max_new_tokens=self.settings.max_new_tokens, num_beams=self.settings.num_beams,
                do_sample=False, pad_token_id=tok.pad_token_id, use_cache=True,
            )
        new = out[:, enc["input_ids"].shape[1]:]
        return tok.batch_decode(new, skip_special_tokens=True)
