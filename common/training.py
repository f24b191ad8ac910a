"""The one training loop of the project: the extractor adapters and the PAL response models both run it.

What a caller gives: its batches per epoch (seeded by the caller, so a resumed run sees the same order),
how a batch splits into micro-batches for gradient accumulation, the loss of a micro-batch, a validation
loss, and how to save / load its trainable weights. What the loop adds, the same for every model:
a progress bar (or a line per validation), validation every `eval_every` steps with the best one saved,
resumable checkpoints (weights, optimiser, scheduler and loop state in one folder, written whole, then
renamed), resume only with the same settings (`run_key`), early stopping (`patience`), a time budget
(`max_minutes`), gradient clipping, bf16 autocast on a GPU (unless `bf16=False`), and a clear stop when the
training loss stops being finite (nothing after it is saved).
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from common.cli import InputError

log = logging.getLogger("pesconv.training")


@dataclass
class LoopSettings:
    total_steps: int
    steps_per_epoch: int
    eval_every: int
    save_every: int | None = None  # resumable checkpoint every N steps; None: at every validation
    patience: int = 0  # validations without improvement before stopping (0 = never)
    max_minutes: float | None = None  # stop (validated and checkpointed) once this much time has passed
    validate_first: bool = False  # record the validation loss before the first step (step 0)
    clip_norm: float = 1.0
    device: str = "cpu"
    bf16: bool = True  # bf16 autocast on a GPU; False trains in float32 there too
    progress: bool = True
    desc: str = "train"


@dataclass
class TrainingHooks:
    batches: Callable[[int], Sequence[Any]]  # epoch -> its batches in order
    parts: Callable[[Any], Sequence[tuple[Any, float]]]  # batch -> (micro-batch, weight of its mean loss)
    loss: Callable[[Any], torch.Tensor]  # micro-batch -> mean loss
    validate: Callable[[], float]  # validation loss (NaN when there is no validation data)
    save_best: Callable[[dict], None]  # the new best: called with its history entry
    save_weights: Callable[[Path], None]  # trainable weights into a checkpoint folder
    load_weights: Callable[[Path], None]


def split_parts(batch: Sequence[Any], grad_accum: int) -> list[tuple[Sequence[Any], float]]:
    """Gradient accumulation by example count: `grad_accum` micro-batches, each weighted by its share."""
    size = math.ceil(len(batch) / max(grad_accum, 1))
    return [(batch[i:i + size], len(batch[i:i + size]) / len(batch)) for i in range(0, len(batch), size)]


def autocast(device: str, bf16: bool = True):
    """bf16 autocast on a GPU (unless `bf16` is False); plain float32 on the CPU."""
    if bf16 and str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


class TrainingLoop:
    """Runs `settings.total_steps` optimiser steps (see the module docstring); `state` is what it records."""

    def __init__(self, settings: LoopSettings, hooks: TrainingHooks, params: list[torch.nn.Parameter],
                 optimizer: torch.optim.Optimizer, scheduler: Any, checkpoint_dir: Path, run_key: dict):
        self.s, self.hooks, self.params = settings, hooks, params
        self.optimizer, self.scheduler = optimizer, scheduler
        self.checkpoint_dir = Path(checkpoint_dir)
        self.run_key = json.loads(json.dumps(run_key, default=str))
        self.state: dict[str, Any] = {"step": 0, "history": [], "best": {"loss": float("inf"), "step": 0},
                                      "bad_evals": 0, "recent": [], "run_key": self.run_key, "stopped": None}
        self.started = time.time()

    # -------------------------------------------------------------- checkpoints
    def resume(self) -> bool:
        """Continue from `checkpoint_dir` if it holds a run with the same settings; False when there is none."""
        path = self.checkpoint_dir / "state.json"
        if not path.exists():
            return False
        saved = json.loads(path.read_text())
        if saved.get("run_key") != self.run_key:
            diff = sorted(k for k in set(self.run_key) | set(saved.get("run_key") or {})
                          if (saved.get("run_key") or {}).get(k) != self.run_key.get(k))
            raise InputError(f"{self.checkpoint_dir} was made with other settings ({', '.join(diff)}); "
                             "use another output folder or start over")
        self.hooks.load_weights(self.checkpoint_dir)
        opt = torch.load(self.checkpoint_dir / "optimizer.pt", map_location=self.s.device, weights_only=True)
        self.optimizer.load_state_dict(opt["optimizer"])
        self.scheduler.load_state_dict(opt["scheduler"])
        self.state = saved
        log.info("resuming from %s at step %d", self.checkpoint_dir, self.state["step"])
        return True

    def save_checkpoint(self) -> None:
        tmp = self.checkpoint_dir.with_name(self.checkpoint_dir.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        self.hooks.save_weights(tmp)
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()},
                   tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps(self.state, indent=1))
        if self.checkpoint_dir.exists():
            shutil.rmtree(self.checkpoint_dir)
        tmp.rename(self.checkpoint_dir)

    # -------------------------------------------------------------- validation
    def validate(self, bar=None, before_training: bool = False) -> bool:
        """Record a validation (and save a new best, unless `before_training`: the untrained weights are the
        reference, never the result); True when early stopping says stop."""
        st = self.state
        loss = float(self.hooks.validate())
        recent = st["recent"][-self.s.eval_every:]
        entry = {"step": st["step"], "epoch": st["step"] / self.s.steps_per_epoch,
                 "train_loss": sum(recent) / len(recent) if recent else None, "valid_loss": loss,
                 "elapsed_s": round(time.time() - self.started, 1)}
        st["history"].append(entry)
        if before_training:
            msg = f"validation loss before training: {loss:.4f}"
        else:
            if math.isnan(loss) or loss < st["best"]["loss"]:
                st["best"] = {"loss": loss, "step": st["step"]}
                st["bad_evals"] = 0
                self.hooks.save_best(entry)
            else:
                st["bad_evals"] += 1
            msg = (f"step {st['step']}: " + (f"train loss {entry['train_loss']:.4f}, " if recent else "")
                   + f"validation loss {loss:.4f} (best {st['best']['loss']:.4f} at step {st['best']['step']})")
        (bar.write if bar is not None else log.info)(msg)
        return bool(self.s.patience) and st["bad_evals"] >= self.s.patience

    # -------------------------------------------------------------- steps
    def run(self) -> dict:
        from tqdm import tqdm

        s, st = self.s, self.state
        if s.validate_first and st["step"] == 0 and not st["history"]:
            self.validate(before_training=True)
        deadline = self.started + 60 * s.max_minutes if s.max_minutes else None
        bar = tqdm(total=s.total_steps, initial=st["step"], desc=s.desc, unit="step", disable=not s.progress,
                   dynamic_ncols=True, file=sys.stderr)
        shown = bar if s.progress else None
        while st["step"] < s.total_steps and not st["stopped"]:
            epoch, pos = divmod(st["step"], s.steps_per_epoch)
            for batch in list(self.hooks.batches(epoch))[pos:]:
                self.optimizer.zero_grad(set_to_none=True)
                total = 0.0
                for part, weight in self.hooks.parts(batch):
                    with autocast(s.device, s.bf16):
                        loss = self.hooks.loss(part)
                    (loss * weight).backward()
                    total += float(loss.detach()) * weight
                if not math.isfinite(total):
                    hint = ("bf16 autocast on the GPU: try float32 (--precision fp32)"
                            if s.bf16 and str(s.device).startswith("cuda") else "try a lower learning rate")
                    raise InputError(f"the training loss is {total} at step {st['step'] + 1}: training diverged "
                                     f"({hint}); the checkpoints in {self.checkpoint_dir.parent} are from before it")
                torch.nn.utils.clip_grad_norm_(self.params, s.clip_norm)
                self.optimizer.step()
                self.scheduler.step()
                st["step"] += 1
                st["recent"] = (st["recent"] + [total])[-max(s.eval_every, 50):]
                window = st["recent"][-20:]
                bar.set_postfix(loss=f"{sum(window) / len(window):.4f}", epoch=epoch + 1)
                bar.update(1)
                validated = st["step"] % s.eval_every == 0 or st["step"] == s.total_steps
                if validated and self.validate(shown):
                    st["stopped"] = f"early stopping (no validation improvement in {s.patience} validations)"
                elif deadline and time.time() > deadline and st["step"] < s.total_steps:
                    st["stopped"] = f"time budget of {s.max_minutes:g} min"
                    log.info("time budget of %g min reached at step %d", s.max_minutes, st["step"])
                if st["stopped"] and not validated:
                    self.validate(shown)  # a run stopped by the clock is validated, so its best is current
                if (st["stopped"] or st["step"] == s.total_steps
                        or (s.save_every and st["step"] % s.save_every == 0) or (validated and not s.save_every)):
                    self.save_checkpoint()
                if st["stopped"] or st["step"] >= s.total_steps:
                    break
        bar.close()
        if not st["history"] or st["history"][-1]["step"] != st["step"]:
            self.validate()
            self.save_checkpoint()
        st["stopped"] = st["stopped"] or "completed"
        return st
