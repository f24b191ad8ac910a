"""End to end on the tiny build: train_pal (best checkpoint, resume) -> generate -> evaluate, both families."""
from __future__ import annotations

import json

import pytest

from analysis.evaluate import main as evaluate_main
from common.cli import InputError
from pipelines.generate import main as generate_main
from pipelines.train_pal import main as train_main
from schemas.strategies import STRATEGIES

FAST = ["--max-valid-examples", "6", "--max-source-len", "48", "--max-target-len", "16"]


@pytest.fixture(scope="module")
def pal_run(tmp_path_factory, tiny_build, tiny_seq2seq_dir):
    out = tmp_path_factory.mktemp("run") / "pal"
    assert train_main(["--build", str(tiny_build), "--model", str(tiny_seq2seq_dir), "--variant", "pal",
                       "--max-steps", "2", "--eval-every", "1", "--output", str(out), *FAST]) == 0
    return out


def test_train_writes_best_last_and_summary(pal_run):
    summary = json.loads((pal_run / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["family"] == "seq2seq" and len(summary["history"]) == 2
    assert summary["config"]["lr"] == 2.5e-5 and summary["config"]["batch_size"] == 4  # paper defaults
    best = min(h["valid_loss"] for h in summary["history"])
    assert summary["best_valid_loss"] == best
    meta = json.loads((pal_run / "best" / "meta.json").read_text())
    assert meta["variant"] == "pal" and meta["valid_loss"] == best
    assert (pal_run / "last" / "optimizer.pt").exists()


def test_resume_continues_from_last_step(pal_run, tiny_build, tiny_seq2seq_dir, capsys):
    args = ["--build", str(tiny_build), "--model", str(tiny_seq2seq_dir), "--variant", "pal", "--eval-every", "1",
            "--output", str(pal_run), *FAST]
    assert train_main([*args, "--max-steps", "3"]) == 0
    summary = json.loads((pal_run / "summary.json").read_text())
    assert summary["steps"] == 3 and [h["step"] for h in summary["history"]] == [1, 2, 3]
    with pytest.raises(InputError, match="other settings"):
        train_main([*args, "--max-steps", "4", "--batch-size", "2"])


def test_generate_and_evaluate(pal_run, tiny_build, tmp_path):
    common = ["--build", str(tiny_build), "--max-examples", "3", "--max-new-tokens", "5", "--batch-size", "2"]
    assert generate_main(["--checkpoint", str(pal_run), *common]) == 0
    assert generate_main(["--checkpoint", str(pal_run), "--variant", "pal-alpha0", *common]) == 0
    rows = [json.loads(x) for x in (pal_run / "generations-test.jsonl").read_text().splitlines()]
    decoded = [r for r in rows if r["generation"] is not None]
    assert len(decoded) == 3 and len(rows) > 3  # all test turns scored, 3 decoded
    for r in decoded:
        assert r["predicted_strategy"] in STRATEGIES and r["decoded_strategy"] == r["predicted_strategy"]
        assert 1 <= r["strategy_rank"] <= 8 and r["n_tokens"] > 0
        assert r["alpha"] == {"Question": 0.0, "Reflection of feelings": 0.0, "Self-disclosure": 0.0,
                              "Others": 0.375}.get(r["predicted_strategy"], 0.75)
    alpha0 = [json.loads(x) for x in (pal_run / "generations-test-pal-alpha0.jsonl").read_text().splitlines()]
    assert all(r["alpha"] == 0.0 for r in alpha0 if r["generation"] is not None)
    meta = json.loads((pal_run / "generations-test.meta.json").read_text())
    assert meta["vocab_size"] > 50000 and meta["sampling"]["top_k"] == 10
    out = tmp_path / "t3"
    assert evaluate_main([f"PAL={pal_run / 'generations-test.jsonl'}",
                          f"PAL0={pal_run / 'generations-test-pal-alpha0.jsonl'}", "--no-cos-sim",
                          "--output", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())["runs"]
    assert set(result) == {"PAL", "PAL0"} and result["PAL"]["metrics"]["decoded"] == 3


def test_decoder_only_lora_joint(tiny_build, tiny_causal_dir, tmp_path):
    out = tmp_path / "joint"
    assert train_main(["--build", str(tiny_build), "--model", str(tiny_causal_dir), "--variant", "joint",
                       "--max-steps", "1", "--output", str(out), *FAST]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["family"] == "causal" and summary["lora_r"] == 16 and summary["config"]["lr"] == 2e-4
    assert generate_main(["--checkpoint", str(out), "--build", str(tiny_build), "--max-examples", "2",
                          "--max-scored", "4", "--max-new-tokens", "4"]) == 0
    rows = [json.loads(x) for x in (out / "generations-test.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and sum(r["generation"] is not None for r in rows) == 2
    assert [r["generation"] is not None for r in rows] == [True, True, False, False]  # written in sample order
    # decoding folds the LoRA deltas into the weights: the same scores as the adapter, up to float rounding
    import torch

    from modeling.data import load_examples, tokenize_examples
    from modeling.models import ResponseModel
    from pipelines.generate import resolve_checkpoint

    model = ResponseModel.load(resolve_checkpoint(str(out)))
    model.net.eval()
    batch = list(tokenize_examples(load_examples(str(tiny_build), "test", max_examples=4), model.tokenizer,
                                   model.family, model.variant, model.token_settings))
    untrained = model.score(batch)
    torch.manual_seed(0)
    with torch.no_grad():  # one training step leaves lora_B at zero (warm-up starts at lr 0): make it count
        for name, p in model.net.named_parameters():
            if "lora_B" in name or "trainable_tokens" in name:
                p.add_(0.05 * torch.randn_like(p))
    before = model.score(batch)
    model.merge_for_inference()
    after = model.score(batch)
    assert not any("lora" in n for n, _ in model.net.named_parameters())
    assert after["nll_sum"].tolist() == pytest.approx(before["nll_sum"].tolist(), rel=1e-4)
    assert before["nll_sum"].tolist() != pytest.approx(untrained["nll_sum"].tolist(), rel=1e-3)
    with pytest.raises(InputError, match="alpha"):
        generate_main(["--checkpoint", str(out), "--build", str(tiny_build), "--alpha", "0.5"])


def test_user_errors_are_one_line(tmp_path, capsys):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pipelines.train_pal", "--build", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error:") and "Traceback" not in proc.stderr
    with pytest.raises(InputError, match="neither"):
        generate_main(["--checkpoint", str(tmp_path)])


def test_scores_do_not_depend_on_batching_or_order(pal_run, tiny_build):
    """Decoding sorts rows longest input first and batches them: every row's scores (NLL of the gold target,
    strategy rank) must be what it gets alone, in its own order; decoded rows come first."""
    import torch

    from modeling.data import load_examples, tokenize_examples
    from modeling.guidance import SamplingSettings
    from modeling.models import ResponseModel
    from pipelines.generate import decode_batches, length_order, resolve_checkpoint

    model = ResponseModel.load(resolve_checkpoint(str(pal_run)))
    model.net.eval()
    tokens = tokenize_examples(load_examples(str(tiny_build), "test"), model.tokenizer, model.family,
                               model.variant, model.token_settings)
    order = length_order(tokens, 2)
    assert sorted(order[:2]) == [0, 1] and sorted(order) == list(range(len(tokens)))
    sizes = [len(tokens[j]["input_ids"]) + len(tokens[j]["persona_ids"]) for j in order[2:]]
    assert sizes == sorted(sizes, reverse=True)
    alpha_of, settings = torch.zeros(len(STRATEGIES)), SamplingSettings(max_new_tokens=2)
    alone = dict(p for b in decode_batches(model, tokens, 0, 1, alpha_of, settings, by_length=False) for p in b)
    batched = dict(p for b in decode_batches(model, tokens, 0, 4, alpha_of, settings) for p in b)
    assert set(alone) == set(batched) == set(range(len(tokens)))
    for j in alone:
        assert batched[j]["nll_sum"] == pytest.approx(alone[j]["nll_sum"], rel=1e-4, abs=1e-4)
        assert (batched[j]["strategy_rank"], batched[j]["dialog_id"]) == (alone[j]["strategy_rank"], alone[j]["dialog_id"])


def test_decode_benchmark_runs_baseline_and_batches(pal_run, tiny_build, tmp_path, capsys):
    from benchmarks.decode import main as bench_main

    out = tmp_path / "bench.json"
    assert bench_main(["--checkpoint", str(pal_run), "--build", str(tiny_build), "--turns", "3",
                       "--batch-sizes", "2", "3", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [(r["merged"], r["longest_first"], r["batch_size"]) for r in result["results"]] == [
        (False, False, 8), (True, True, 2), (True, True, 3)]
    assert all(r["turns"] == 3 and r["turns_per_s"] > 0 for r in result["results"])
    assert "speed-up" in capsys.readouterr().out


def test_a_stopped_decode_resumes_from_its_partial_rows(pal_run, tiny_build, tmp_path):
    """Rows written before a stop are kept and not decoded again; a partial file of other settings is not
    reused; the finished file holds every row once, in the sample's order."""
    out = tmp_path / "gen.jsonl"
    common = ["--checkpoint", str(pal_run), "--build", str(tiny_build), "--max-new-tokens", "3", "--batch-size", "2",
              "--variant", "pal-alpha0", "--output", str(out)]
    assert generate_main(common) == 0
    full = [json.loads(x) for x in out.read_text().splitlines()]
    partial = out.with_suffix(".jsonl.partial")
    assert not partial.exists() and len(full) > 3
    meta = json.loads(out.with_suffix(".meta.json").read_text())
    assert meta["resumed_from"] == 0
    key = {"checkpoint": meta["checkpoint"], "variant": "pal-alpha0", "alpha": meta["alpha"], "strategy": "predicted",
           "sampling": meta["sampling"], "seed": 0, "build": str(tiny_build), "split": "test", "scored": len(full),
           "decoded": len(full), "batch_size": 2}
    marked = {**full[2], "generation": "KEPT FROM THE STOPPED RUN"}
    partial.write_text(json.dumps({"_run": key}) + "\n" + json.dumps(marked) + "\n" + '{"dialog_id": "torn')
    assert generate_main(common) == 0
    again = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["dialog_id"], r["turn"]) for r in again] == [(r["dialog_id"], r["turn"]) for r in full]
    assert again[2]["generation"] == "KEPT FROM THE STOPPED RUN" and json.loads(
        out.with_suffix(".meta.json").read_text())["resumed_from"] == 1
    partial.write_text(json.dumps({"_run": {**key, "seed": 5}}) + "\n" + json.dumps(marked) + "\n")
    assert generate_main(common) == 0  # other settings: started over
    assert "KEPT FROM THE STOPPED RUN" not in out.read_text()


@pytest.mark.slow
def test_gpu_table3_script_runs_the_decoder_rows_on_a_cpu(tmp_path, tiny_build, tiny_causal_dir):
    """The prepared GPU run (benchmarks/gpu_table3.sh, FAMILY=decoder) as a CPU smoke test: it trains both models,
    decodes the three rows per seed and writes the evaluation command with the paired comparisons."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "t3"
    env = {**os.environ, "FAMILY": "decoder", "MODEL": str(tiny_causal_dir), "BUILD": str(tiny_build),
           "OUT": str(out), "DEVICE": "cpu", "MAX_TRAIN": "4", "MAX_EXAMPLES": "2", "STEPS": "1", "MINUTES": "1",
           "SEEDS": "0 1", "EVALUATE": "0"}
    done = subprocess.run(["bash", str(root / "benchmarks" / "gpu_table3.sh")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for name in ("joint/generations-test-seed0.jsonl", "pal/generations-test-alpha0-seed1.jsonl",
                 "pal/generations-test-seed1.jsonl"):
        assert len((out / name).read_text().splitlines()) == 2
    command = (out / "evaluate_command.sh").read_text()
    assert command.count("--compare") == 6 and "persona\\ in\\ prompt\\ +\\ Eq.\\ 6\\ \\(seed\\ 1\\)" in command
    assert json.loads((out / "pal" / "summary.json").read_text())["config"]["variant"] == "pal"
    assert not (out / "hard-prompt").exists()  # the decoder family trains no separate hard-prompt model


def test_a_stopped_decode_is_scored_from_its_partial_file(pal_run, tiny_build, tmp_path, monkeypatch):
    """A run stopped after its first batch (e.g. at a machine's time limit) leaves OUTPUT.jsonl.partial, whose first
    line carries the settings: analysis.evaluate scores the finished turns and pairs them with a full run."""
    import pipelines.generate as generate

    class Stop(Exception):
        pass

    real = generate.decode_batches

    def stops_after_one_batch(*args, **kwargs):
        yield next(iter(real(*args, **kwargs)))
        raise Stop

    full, stopped = tmp_path / "full.jsonl", tmp_path / "stopped.jsonl"
    common = ["--checkpoint", str(pal_run), "--build", str(tiny_build), "--max-new-tokens", "3", "--batch-size", "2",
              "--variant", "pal-alpha0"]
    assert generate_main([*common, "--output", str(full)]) == 0
    monkeypatch.setattr(generate, "decode_batches", stops_after_one_batch)
    with pytest.raises(Stop):
        generate_main([*common, "--output", str(stopped)])
    partial = stopped.with_suffix(".jsonl.partial")
    assert partial.exists() and not stopped.exists()
    out = tmp_path / "table"
    assert evaluate_main([f"stopped={partial}", f"full={full}", "--compare", "stopped", "full", "--bootstrap", "50",
                          "--no-cos-sim", "--output", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["runs"]["stopped"]["meta"]["stopped"] is True and result["runs"]["stopped"]["metrics"]["scored"] == 2
    assert "stopped: 2 scored / 2 decoded (a stopped run" in out.with_suffix(".md").read_text()
    assert next(iter(result["paired"].values()))  # paired over the two turns both runs have
