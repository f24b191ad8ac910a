"""The PAL encoder-decoder (paper §3.3) on a BlenderbotSmall / BART-family model, and its baselines.

The shared encoder gives H_D (dialog history) and H_P (persona); co-attention masks padding (a row whose other
side has no real token, e.g. at a turn with an empty persona, attends to nothing: Ĥ = LN(H)). Then:

    Ĥ_D = LN(H_D + softmax(H_D H_P^T) H_P),   Ĥ_P = LN(H_P + softmax(H_P H_D^T) H_D)      (Eqs. 2-3)
    memory = [ λ1 Ĥ_D + λ3 H_D ; λ2 Ĥ_P ],  mask = [ mask_D ; mask_P ],  λ = softmax(w), w = 0   (Eq. 4)

Eq. 4 adds terms of lengths L_D and L_P, so they are concatenated along the sequence axis. Cross-attention is not
linear in its memory, so this is not the paper's sum (λ2 scales the persona positions' keys and values); the
authors' code sums position-wise after padding both to one length (docs/training.md, "Deviations from the authors' code").
The no-persona pass of Eq. 6 is the same network without the persona: memory = λ1 LN(H_D) + λ3 H_D. Baselines:
`joint` (the plain model on the history), `hard-prompt` (the plain model on "Persona: ... Dialogue history: ...
Response:") and `pal-alpha0` (PAL decoded with α = 0).
"""
from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutput


def co_attention(h_d: torch.Tensor, mask_d: torch.Tensor, h_p: torch.Tensor, mask_p: torch.Tensor,
                 ln_d: nn.Module, ln_p: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 2-3 with padding masked: returns (Ĥ_D, Ĥ_P). Masks are bool (B, L), True = real token."""
    scores = torch.bmm(h_d, h_p.transpose(1, 2))  # (B, L_D, L_P)
    neg = torch.finfo(scores.dtype).min
    a_d = scores.masked_fill(~mask_p[:, None, :], neg).softmax(-1) * mask_p[:, None, :]
    a_p = scores.transpose(1, 2).masked_fill(~mask_d[:, None, :], neg).softmax(-1) * mask_d[:, None, :]
    z_d = torch.bmm(a_d, h_p)
    z_p = torch.bmm(a_p, h_d)
    return ln_d(h_d + z_d), ln_p(h_p + z_p)


class PALModel(nn.Module):
    """A seq2seq LM (`base`, e.g. BlenderbotSmallForConditionalGeneration) + PAL's persona fusion."""

    def __init__(self, base: nn.Module, variant: str = "pal"):
        super().__init__()
        self.base = base
        self.variant = variant
        self.uses_coattention = variant in ("pal", "pal-alpha0")
        if self.uses_coattention:
            d = base.config.d_model
            self.ln_d = nn.LayerNorm(d)
            self.ln_p = nn.LayerNorm(d)
            self.mix_w = nn.Parameter(torch.zeros(3))  # λ = softmax(w): equal at start

    @property
    def config(self):
        return self.base.config

    def encoder_states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.base.get_encoder()(input_ids=ids, attention_mask=mask.long()).last_hidden_state

    def encode(self, batch: dict[str, torch.Tensor], use_persona: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder memory and its bool mask, with or without the persona (Eq. 6's two conditions)."""
        if not self.uses_coattention:  # joint / hard-prompt: the plain encoder on the (prompt) input
            key = "input_ids" if use_persona else "input_ids_nop"
            mask = batch[key.replace("ids", "mask")]
            return self.encoder_states(batch[key], mask), mask
        mask_d = batch["input_mask"]
        h_d = self.encoder_states(batch["input_ids"], mask_d)
        lam = self.mix_w.softmax(-1)
        if not use_persona:
            return lam[0] * self.ln_d(h_d) + lam[2] * h_d, mask_d
        mask_p = batch["persona_mask"]
        h_p = self.encoder_states(batch["persona_ids"], mask_p)
        hat_d, hat_p = co_attention(h_d, mask_d, h_p, mask_p, self.ln_d, self.ln_p)
        memory = torch.cat([lam[0] * hat_d + lam[2] * h_d, lam[1] * hat_p], dim=1)
        return memory, torch.cat([mask_d, mask_p], dim=1)

    def decode(self, memory: torch.Tensor, mask: torch.Tensor, decoder_input_ids: torch.Tensor | None = None,
               labels: torch.Tensor | None = None, cache=None, use_cache: bool = False):
        return self.base(encoder_outputs=BaseModelOutput(last_hidden_state=memory), attention_mask=mask.long(),
                         decoder_input_ids=decoder_input_ids, labels=labels, cache=cache,
                         use_cache=use_cache)

    def forward(self, batch: dict[str, torch.Tensor], use_persona: bool = True):
        """Teacher-forced pass; `.loss` is the mean token NLL of strategy token + response + eos."""
        memory, mask = self.encode(batch, use_persona)
        return self.decode(memory, mask, labels=batch["labels"])

    def decoder_start(self, batch_size: int, device) -> torch.Tensor:
        start = self.base.config.decoder_start_token_id
        return torch.full((batch_size, 1), start, dtype=torch.long, device=device)
