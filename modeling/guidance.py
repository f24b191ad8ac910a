"""Strategy-based controllable decoding (paper §3.4, Eq. 6) as a sampling loop with two KV caches.

    logits_final = (1 + α) · logits(r | d, p) − α · logits(r | d)

computed as l_p + α (l_p − l_d) (bit-identical to l_p when α = 0). Each condition is a *stepper*:
a callable that takes the next token(s), runs one forward pass with *its own* KV cache and returns
the last position's logits. The with-persona pass and the without-persona pass never share a
cache (their prefixes differ: a longer prompt, or a decoder memory with the persona positions).

α is per example, chosen by the strategy the model predicts at the first decoding step (the
argmax over the 8 strategy tokens of the with-persona pass), from `modeling.strategies`'s table.
After the strategy token, the combined logits go through the paper's sampling settings in
Hugging Face's order (repetition penalty, temperature, top-k, top-p) and a multinomial draw on
the global torch RNG, so that with α = 0 the output equals `model.generate(do_sample=True, ...)`
under the same seed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)


@dataclass(frozen=True)
class SamplingSettings:
    """Paper §4.3: top-k 10, top-p 0.9, temperature 0.5, repetition penalty 1.03."""

    top_k: int = 10
    top_p: float = 0.9
    temperature: float = 0.5
    repetition_penalty: float = 1.03
    max_new_tokens: int = 40
    do_sample: bool = True

    def processors(self) -> LogitsProcessorList:
        procs = LogitsProcessorList()
        if self.repetition_penalty != 1.0:
            procs.append(RepetitionPenaltyLogitsProcessor(self.repetition_penalty))
        if self.do_sample:
            if self.temperature != 1.0:
                procs.append(TemperatureLogitsWarper(self.temperature))
            if self.top_k:
                procs.append(TopKLogitsWarper(self.top_k))
            if self.top_p < 1.0:
                procs.append(TopPLogitsWarper(self.top_p))
        return procs

    def generate_kwargs(self) -> dict:
        """The same settings for `model.generate` (the reference in tests)."""
        return {"do_sample": self.do_sample, "top_k": self.top_k, "top_p": self.top_p, "temperature": self.temperature,
                "repetition_penalty": self.repetition_penalty, "max_new_tokens": self.max_new_tokens}

    def as_dict(self) -> dict:
        return asdict(self)


Stepper = Callable[[torch.Tensor], torch.Tensor]


class Seq2SeqStepper:
    """Incremental decoder passes over a fixed encoder memory, with this stepper's own cache."""

    def __init__(self, decode: Callable, memory: torch.Tensor, mask: torch.Tensor):
        self.decode, self.memory, self.mask = decode, memory, mask
        self.past = None

    @torch.no_grad()
    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        out = self.decode(self.memory, self.mask, decoder_input_ids=tokens, cache=self.past, use_cache=True)
        self.past = out.cache
        return out.logits[:, -1, :].float()


class CausalStepper:
    """Incremental passes of a decoder-only LM over a left-padded prompt, with its own cache."""

    def __init__(self, model: torch.nn.Module, attention_mask: torch.Tensor):
        self.model = model
        self.mask = attention_mask.long()
        self.past = None
        self.positions: torch.Tensor | None = None

    @torch.no_grad()
    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.past is None:  # the prompt (+ any tokens after it): positions skip the left padding
            extra = tokens.shape[1] - self.mask.shape[1]
            if extra > 0:
                self.mask = torch.cat([self.mask, self.mask.new_ones(tokens.shape[0], extra)], dim=1)
            pos = (self.mask.cumsum(-1) - 1).clamp(min=0)
        else:
            n = tokens.shape[1]
            self.mask = torch.cat([self.mask, self.mask.new_ones(tokens.shape[0], n)], dim=1)
            pos = self.positions[:, -1:] + torch.arange(1, n + 1, device=tokens.device)
        out = self.model(input_ids=tokens, attention_mask=self.mask, position_ids=pos, cache=self.past,
                         use_cache=True)
        self.past = out.cache
        self.positions = pos
        return out.logits[:, -1, :].float()


def combine(logits_p: torch.Tensor, logits_d: torch.Tensor | None, alpha: torch.Tensor) -> torch.Tensor:
    """Eq. 6, per example: (1+α)·l_p − α·l_d, written as l_p + α(l_p − l_d)."""
    if logits_d is None:
        return logits_p
    return logits_p + alpha[:, None].to(logits_p.dtype) * (logits_p - logits_d)


@torch.no_grad()
def sample_loop(step_p: Stepper, step_d: Stepper | None, logits_p: torch.Tensor, logits_d: torch.Tensor | None,
                seq: torch.Tensor, alpha: torch.Tensor, settings: SamplingSettings, eos_token_id: int | list[int],
                pad_token_id: int, record: list | None = None, banned: list[int] | None = None) -> torch.Tensor:
    """Sample until every row has emitted eos or `max_new_tokens` tokens; returns the new tokens (B, T).

    `banned` tokens are never emitted (the strategy tokens after the first step, as the authors' code
    does with `bad_words_ids`).

    `eos_token_id` may be a list: any of them ends a row (the decoder-only family also stops at a line break).
    `seq` is what the repetition penalty looks at (the prompt or decoder prefix, as in `generate`).
    `record`, when given, receives the combined logits of each step (before the processors).
    """
    procs = settings.processors()
    guided = step_d is not None and bool((alpha != 0).any())
    unfinished = torch.ones(seq.shape[0], dtype=torch.bool, device=seq.device)
    stop = torch.tensor(eos_token_id if isinstance(eos_token_id, (list, tuple)) else [eos_token_id],
                        device=seq.device)
    new_tokens = []
    for t in range(settings.max_new_tokens):
        combined = combine(logits_p, logits_d if guided else None, alpha)
        if record is not None:
            record.append(combined.clone())
        if banned:
            combined = combined.index_fill(1, torch.tensor(banned, device=combined.device), float("-inf"))
        scores = procs(seq, combined)
        if settings.do_sample:
            nxt = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)
        else:
            nxt = scores.argmax(-1)
        nxt = torch.where(unfinished, nxt, torch.full_like(nxt, pad_token_id))
        new_tokens.append(nxt)
        seq = torch.cat([seq, nxt[:, None]], dim=1)
        unfinished &= ~torch.isin(nxt, stop)
        if not unfinished.any() or t == settings.max_new_tokens - 1:
            break
        logits_p = step_p(nxt[:, None])
        if guided:
            logits_d = step_d(nxt[:, None])
    return torch.stack(new_tokens, dim=1) if new_tokens else seq[:, :0]


@torch.no_grad()
def strategy_then_sample(step_p: Stepper, first_p: torch.Tensor, step_d: Stepper | None, first_d: torch.Tensor | None,
                         seq: torch.Tensor, strategy_ids: list[int], alpha_of: torch.Tensor,
                         settings: SamplingSettings, eos_token_id: int | list[int], pad_token_id: int,
                         forced: torch.Tensor | None = None, record: list | None = None) -> dict[str, torch.Tensor]:
    """Predict the strategy (first step, with-persona pass), pick α, then sample the response with Eq. 6.

    `first_p`/`first_d`: the prefixes each stepper is first fed (prompt, or decoder start token);
    `alpha_of`: α for each of the 8 strategies; `forced`: gold strategy indices to decode with instead.
    Returns the strategy logits (B, 8), the strategy index used, α and the response tokens.
    """
    logits_p = step_p(first_p)
    sid = torch.tensor(strategy_ids, device=logits_p.device)
    strat_logits = logits_p[:, sid]
    pred = strat_logits.argmax(-1) if forced is None else forced.to(logits_p.device)
    alpha = alpha_of.to(logits_p.device)[pred]
    strat_tok = sid[pred][:, None]
    logits_p = step_p(strat_tok)
    logits_d = None
    if step_d is not None and bool((alpha != 0).any()):
        logits_d = step_d(torch.cat([first_d, strat_tok], dim=1))
    else:
        step_d = None
    tokens = sample_loop(step_p, step_d, logits_p, logits_d, torch.cat([seq, strat_tok], dim=1), alpha, settings,
                         eos_token_id, pad_token_id, record=record, banned=list(strategy_ids))
    return {"strategy_logits": strat_logits, "strategy": pred, "alpha": alpha, "tokens": tokens}
