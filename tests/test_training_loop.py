"""The shared training loop (common.training) on a tiny linear model: the features both trainers rely on."""
from __future__ import annotations

import json

import pytest
import torch

from common.cli import InputError
from common.training import LoopSettings, TrainingHooks, TrainingLoop, split_parts


def make_run(folder, valid_losses=None, steps=6, grad_accum=1, **settings):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    data = list(range(32))
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    scripted = iter(valid_losses or [])
    saved = []

    def loss(idx):
        return torch.nn.functional.mse_loss(model(x[idx]), y[idx])

    hooks = TrainingHooks(
        batches=lambda epoch: [data[i:i + 8] for i in range(0, 32, 8)],
        parts=lambda batch: split_parts(batch, grad_accum),
        loss=loss,
        validate=lambda: next(scripted) if valid_losses else float(loss(data).detach()),
        save_best=lambda entry: saved.append(entry["step"]),
        save_weights=lambda d: torch.save(model.state_dict(), d / "w.pt"),
        load_weights=lambda d: model.load_state_dict(torch.load(d / "w.pt")),
    )
    loop = TrainingLoop(LoopSettings(total_steps=steps, steps_per_epoch=4, eval_every=1, progress=False, **settings),
                        hooks, params, opt, sched, folder / "checkpoint", {"lr": 0.1})
    return loop, model, saved


def test_runs_validates_keeps_best_and_checkpoints(tmp_path):
    loop, _, saved = make_run(tmp_path, validate_first=True)
    state = loop.run()
    assert state["step"] == 6 and state["stopped"] == "completed"
    assert [h["step"] for h in state["history"]] == [0, 1, 2, 3, 4, 5, 6]
    assert saved and 0 not in saved  # the untrained weights are a reference, never the best
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["step"] == 6


def test_early_stopping_after_patience(tmp_path):
    loop, _, saved = make_run(tmp_path, valid_losses=[1.0, 0.9, 0.95, 0.97, 0.99, 0.8], patience=3)
    state = loop.run()
    assert state["step"] == 5 and state["stopped"].startswith("early stopping") and saved == [1, 2]


def test_time_budget_stops_validated_and_checkpointed(tmp_path):
    loop, _, _ = make_run(tmp_path, steps=100, max_minutes=1e-9)
    state = loop.run()
    assert state["step"] == 1 and state["stopped"].startswith("time budget")
    assert state["history"][-1]["step"] == 1 and (tmp_path / "checkpoint" / "w.pt").exists()


def test_gradient_accumulation_gives_the_same_step(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    one, m1, _ = make_run(tmp_path / "a", steps=3)
    four, m4, _ = make_run(tmp_path / "b", steps=3, grad_accum=4)
    one.run(), four.run()
    for a, b in zip(m1.parameters(), m4.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_resume_continues_and_refuses_other_settings(tmp_path):
    first, _, _ = make_run(tmp_path, steps=2)
    first.run()
    again, _, _ = make_run(tmp_path, steps=4)
    assert again.resume() and again.state["step"] == 2
    assert again.run()["step"] == 4
    other, _, _ = make_run(tmp_path, steps=4)
    other.run_key = {"lr": 0.2}
    with pytest.raises(InputError, match="other settings"):
        other.resume()


def test_a_loss_that_is_not_finite_stops_with_a_clear_error_and_keeps_the_checkpoint_before_it(tmp_path):
    loop, model, _ = make_run(tmp_path, steps=6)
    finite, calls = loop.hooks.loss, []

    def diverging(idx):
        calls.append(1)
        return finite(idx) * (float("nan") if len(calls) >= 3 else 1.0)

    loop.hooks.loss = diverging
    with pytest.raises(InputError, match="training loss is nan at step 3: training diverged"):
        loop.run()
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["step"] == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the diverged step was never applied
