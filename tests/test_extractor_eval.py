"""Extractor evaluation: metrics against hand-computed values, the rule baseline, the command."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from extractor.evaluation import rule_baseline, score

VOCAB = ["i", "like", "dogs", "have", "a", "car", "red", "am", "nurse", "and", "cats", "the", "weather", "is", "nice"]


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A transparent sentence 'encoder' (word counts), so cosines can be computed by hand."""
    rows = np.zeros((len(texts), len(VOCAB)))
    for r, t in enumerate(texts):
        for w in re.findall(r"[a-z]+", t.lower()):
            rows[r, VOCAB.index(w)] += 1
    return rows


def test_metrics_match_hand_computed_values():
    golds = [["i like dogs."], ["i have a red car."], ["i am a nurse."]]
    preds = [["i like dogs."], ["i have a car."], []]
    inputs = [["i like dogs and cats"], ["the weather is nice"], ["the weather is nice"]]
    r = score(preds, golds, inputs, bag_of_words, threshold=0.5)
    # ROUGE-L F1: 1; LCS 4 of 4 predicted / 5 gold words -> 2PR/(P+R) = 8/9; empty -> 0
    assert r["rougeL_f1"] == pytest.approx((1 + 8 / 9 + 0) / 3)
    # corpus BLEU (13a tokens, '.' separate): 1-4 gram matches 9/9, 6/7, 3/5, 1/3; 9 hyp vs 15 ref tokens
    bleu = 100 * math.exp(1 - 15 / 9) * (1 * 6 / 7 * 3 / 5 * 1 / 3) ** 0.25
    assert r["bleu"] == pytest.approx(bleu, abs=1e-6)
    # cosine of word counts: 1; 4 / (2 * sqrt 5); empty -> 0
    assert r["similarity"] == pytest.approx((1 + 4 / (2 * math.sqrt(5)) + 0) / 3)
    assert r["mean_sentences"] == pytest.approx(2 / 3)
    assert r["empty_share"] == pytest.approx(1 / 3)
    # 'i like dogs.' vs 'i like dogs and cats': 3/sqrt(15) = 0.77 >= 0.5; 'i have a car.' vs the weather: 0
    assert r["hallucination"] == pytest.approx(1 / 2)
    assert r["pairs"] == 3


def test_score_needs_aligned_inputs():
    with pytest.raises(ValueError):
        score([["a"]], [], [["a"]], bag_of_words)


def test_rule_baseline_copies_first_person_statements():
    utts = ["hi , how are you ?", "i am a nurse . do you like dogs ? my dog is called rex .",
            "that is nice .", "I am a nurse ."]
    assert rule_baseline(utts) == ["i am a nurse .", "my dog is called rex ."]


def test_command_scores_a_tiny_extractor(tmp_path, tiny_causal_dir):
    from pipelines.evaluate_extractor import main
    from tests.helpers import PERSONACHAT_CSV

    gen = tmp_path / "gen.json"
    assert main(["--data", str(PERSONACHAT_CSV), "--limit", "3", "--extractor", str(tiny_causal_dir), "--adapter",
                 "none", "--max-new-tokens", "4", "--no-baselines", "--generate-only", "--json", str(gen)]) == 0
    saved = json.loads(gen.read_text())
    assert len(saved["outputs"]) == 3 and len(saved["systems"]) == 1
    card = tmp_path / "model_card.md"
    card.write_text("# card\n\n## Evaluation\n\nold\n\n## Other\n\nkept\n")
    out = tmp_path / "eval.json"
    assert main(["--data", str(PERSONACHAT_CSV), "--limit", "3", "--outputs", str(gen), "--json", str(out),
                 "--model-card", str(card)]) == 0
    results = json.loads(out.read_text())["results"]
    assert set(results) == {saved["systems"][0], "rule baseline (first-person sentences)", "gold persona (reference)"}
    assert results["gold persona (reference)"]["rougeL_f1"] == pytest.approx(1.0)
    text = card.read_text()
    assert "| rule baseline (first-person sentences) |" in text and "\n\nold\n" not in text and "## Other\n\nkept" in text


def test_command_errors_are_one_line(tmp_path, capsys):
    from pipelines.evaluate_extractor import main
    from pipelines.cli import run_cli

    with pytest.raises(SystemExit) as exit_:
        run_cli(main, ["--data", str(tmp_path / "nope.csv")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: data file {tmp_path / 'nope.csv'} does not exist"
