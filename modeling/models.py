"""One interface over both families (seq2seq PAL / decoder-only): build, train step, score, generate, save, load.

A checkpoint folder holds `meta.json` (family, variant, base model, LoRA, token settings),
the tokenizer (with the 8 strategy tokens), `base_config.json`, and `weights.safetensors`:
the whole model (full fine-tuning, incl. random init) or only the trainable LoRA/token
parameters (then the base is re-loaded from `meta.base`).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from common.cli import InputError
from modeling.data import TokenSettings
from modeling.decoder_only import causal_source, init_new_rows, lora_wrap
from modeling.families import FAMILIES
from modeling.guidance import SamplingSettings, strategy_then_sample
from modeling.strategies import STRATEGY_TOKENS, add_strategy_tokens
from schemas.strategies import STRATEGIES

log = logging.getLogger(__name__)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


def _has_weights(folder: Path) -> bool:
    return any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir())


def load_base(model: str | None, family_hint: str | None = None, dtype: torch.dtype = torch.float32):
    """(tokenizer, model, family, base_info). A config-only folder gives a random-init model (with a notice)."""
    from transformers import AutoConfig, AutoTokenizer

    src = causal_source(model)
    kwargs: dict[str, Any] = {}
    if src["gguf_file"]:
        kwargs["gguf_file"] = src["gguf_file"]
    source = src["source"]
    path = Path(source)
    if path.is_dir() and not src["gguf_file"] and not (path / "config.json").exists():
        raise InputError(f"model folder {path} has no config.json")
    if not path.exists() and (str(model).startswith((".", "/")) or str(model).count("/") > 1):
        raise InputError(f"--model {model!r} is neither an existing folder/.gguf file nor a Hub model id")
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load model {model!r}: {str(exc).strip().splitlines()[0]}") from None
    family = "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"
    cls = FAMILIES[family].auto_class()
    random_init = path.is_dir() and not src["gguf_file"] and not _has_weights(path)
    if random_init:
        log.warning("notice: %s has a config but no weights: building a RANDOMLY INITIALISED %s model from the "
                    "config (train it before reading anything into its outputs)", path, config.model_type)
        net = cls.from_config(config, dtype=dtype)
    else:
        try:
            net = cls.from_pretrained(source, dtype=dtype, **kwargs)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot load weights of {model!r}: {str(exc).strip().splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    info = {"model": src["label"], "source": source, "gguf_file": src["gguf_file"], "random_init": random_init}
    return tokenizer, net, family, info


class ResponseModel:
    """A trainable/decodable response model of one family and variant."""

    def __init__(self, tokenizer, net: torch.nn.Module, family: str, variant: str, base_info: dict,
                 token_settings: TokenSettings, lora_r: int = 0, lora_layers: int | None = None):
        self.tokenizer, self.net, self.family, self.variant = tokenizer, net, family, variant
        self.impl = FAMILIES[family]
        self.base_info, self.token_settings, self.lora_r = base_info, token_settings, lora_r
        self.lora_layers = lora_layers
        self.strategy_ids = tokenizer.convert_tokens_to_ids(list(STRATEGY_TOKENS))
        self.pad_id = tokenizer.pad_token_id
        self.eos_id = tokenizer.eos_token_id

    # ------------------------------------------------------------------ building / saving
    @classmethod
    def build(cls, model: str | None, variant: str, token_settings: TokenSettings | None = None,
              lora_r: int | None = None, lora_layers: int | None = None) -> "ResponseModel":
        tokenizer, base, family, info = load_base(model)
        n_before = len(tokenizer)
        new_ids = add_strategy_tokens(tokenizer)
        if len(tokenizer) != base.get_input_embeddings().weight.shape[0]:
            base.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        added = [i for i in new_ids if i >= n_before]
        if added and not info["random_init"]:
            init_new_rows(base, tokenizer, new_ids, list(STRATEGIES))
        if lora_r is None:
            lora_r = 16 if (family == "causal" and not info["random_init"]) else 0
        if (lora_r or lora_layers) and family != "causal":
            raise InputError("--lora-r is for the decoder-only family; the encoder-decoder PAL is fully fine-tuned")
        net = FAMILIES[family].wrap(lora_wrap(base, lora_r, new_ids, lora_layers) if lora_r else base, variant)
        return cls(tokenizer, net, family, variant, info, token_settings or TokenSettings(), lora_r, lora_layers)

    def base_module(self) -> torch.nn.Module:
        return self.impl.base_module(self.net)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().cpu().contiguous() for n, p in self.net.named_parameters() if p.requires_grad}

    def save(self, folder: Path, extra: dict | None = None) -> None:
        from safetensors.torch import save_file, save_model

        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(folder)
        base = self.base_module()
        if self.lora_r:
            base = base.get_base_model()
        base.config.to_json_file(folder / "base_config.json")
        if self.lora_r:
            save_file(self.trainable_state(), str(folder / "weights.safetensors"))
        else:
            save_model(self.net, str(folder / "weights.safetensors"))
        meta = {"family": self.family, "variant": self.variant, "base": self.base_info, "lora_r": self.lora_r,
                "lora_layers": self.lora_layers, "token_settings": self.token_settings.as_dict(), "vocab_size": len(self.tokenizer), **(extra or {})}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2))

    def load_weights(self, folder: Path) -> None:
        from safetensors.torch import load_file, load_model

        if self.lora_r:
            missing = self.net.load_state_dict(load_file(str(folder / "weights.safetensors")), strict=False)
            if missing.unexpected_keys:
                raise InputError(f"checkpoint {folder} does not match the model: {missing.unexpected_keys[:3]}")
        else:
            load_model(self.net, str(folder / "weights.safetensors"))

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "ResponseModel":
        from transformers import AutoConfig, AutoTokenizer

        folder = Path(folder)
        if not (folder / "meta.json").exists():
            raise InputError(f"{folder} is not a checkpoint of pipelines.train_pal (no meta.json)")
        meta = json.loads((folder / "meta.json").read_text())
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        family, lora_r = meta["family"], meta["lora_r"]
        if lora_r:  # the base from its source, then the adapter + token rows
            _, base, _, _ = load_base(meta["base"]["source"] if not meta["base"]["gguf_file"]
                                      else str(Path(meta["base"]["source"]) / meta["base"]["gguf_file"]))
            base.resize_token_embeddings(len(tokenizer), mean_resizing=False)
            init_new_rows(base, tokenizer, tokenizer.convert_tokens_to_ids(list(STRATEGY_TOKENS)), list(STRATEGIES))
            net = lora_wrap(base, lora_r, tokenizer.convert_tokens_to_ids(list(STRATEGY_TOKENS)),
                            meta.get("lora_layers"))
        else:
            config = AutoConfig.from_pretrained(folder / "base_config.json")
            net = FAMILIES[family].wrap(FAMILIES[family].auto_class().from_config(config), meta["variant"])
        model = cls(tokenizer, net, family, meta["variant"], meta["base"], TokenSettings(**meta["token_settings"]),
                    lora_r, meta.get("lora_layers"))
        model.load_weights(folder)
        model.meta = meta
        model.net.to(device)
        return model

    def merge_for_inference(self) -> None:
        """Fold the LoRA deltas (and trained token rows) into the base weights: the same function up to float
        rounding, without the adapter's extra matmuls at every layer (decoding only; the model stops being
        trainable or savable as an adapter)."""
        if self.lora_r and hasattr(self.net, "merge_and_unload"):
            self.net = self.net.merge_and_unload()
            self.net.eval()

    def stop_ids(self) -> list[int]:
        """eos, and the family's own stops (the decoder-only family ends a response at a line break)."""
        if not hasattr(self, "_stop_ids"):
            self._stop_ids = [self.eos_id] + self.impl.extra_stop_ids(self.tokenizer, self.eos_id)
        return self._stop_ids

    # ------------------------------------------------------------------ batches
    def collate_train(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        return self.impl.collate_train(rows, self.pad_id)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean token NLL of `[strategy] response <eos>` (the training loss)."""
        return self.impl.loss(self.net, batch)

    @torch.no_grad()
    def score(self, rows: list[dict], device: str = "cpu") -> dict[str, torch.Tensor]:
        """Teacher-forced: per-example NLL sum and token count of the target, and the strategy logits (B, 8)."""
        batch = {k: v.to(device) for k, v in self.collate_train(rows).items()}
        logits, labels, first = self.impl.teacher_forced(self.net, batch, rows)
        logp = logits.log_softmax(-1)
        valid = labels != -100
        tok = logp.gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
        nll = -(tok * valid).sum(-1)
        return {"nll_sum": nll.cpu(), "n_tokens": valid.sum(-1).cpu(),
                "strategy_logits": first[:, self.strategy_ids].cpu()}

    @torch.no_grad()
    def generate(self, rows: list[dict], alpha_of: torch.Tensor, settings: SamplingSettings, device: str = "cpu",
                 forced: torch.Tensor | None = None, record: list | None = None) -> dict[str, Any]:
        """Strategy prediction + Eq. 6 sampling for a batch of examples; returns texts and strategies."""
        step_p, first_p, step_d, first_d, seq = self.impl.steppers(self.net, rows, self.pad_id, device,
                                                                  guided=self.variant != "joint")
        out = strategy_then_sample(step_p, first_p, step_d, first_d, seq, self.strategy_ids, alpha_of, settings,
                                   self.stop_ids(), self.pad_id, forced=forced, record=record)
        texts = []
        for row in out["tokens"].tolist():
            if self.eos_id in row:
                row = row[: row.index(self.eos_id)]
            texts.append(self.impl.clean(self.tokenizer.decode(row, skip_special_tokens=True)))
        out["texts"] = texts
        return out
