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
