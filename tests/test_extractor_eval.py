"""Extractor evaluation: faithfulness metrics against hand-computed values, the rule baseline, the command."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from extractor.evaluation import bootstrap, drop_counts, score_dialog, score_pair, summarise, text_overlap
from extractor.grounding import NO_SUPPORT, NOT_ABOUT_SEEKER, REMARK, SupportScorer, SupportThresholds
from extractor.meaning import NEGATION_CHANGED
from extractor.rule import rule_baseline

VOCAB = ["i", "like", "dogs", "have", "a", "car", "red", "am", "nurse", "and", "cats", "the", "weather", "is", "nice",
         "pilot", "my", "two"]


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A transparent sentence 'encoder' (word counts), so cosines can be computed by hand."""
    rows = np.zeros((len(texts), len(VOCAB)))
    for r, t in enumerate(texts):
        for w in re.findall(r"[a-z]+", t.lower()):
            rows[r, VOCAB.index(w)] += 1
    return rows


@pytest.fixture
def scorer() -> SupportScorer:
    return SupportScorer(bag_of_words, SupportThresholds(cosine_min=0.8, lexical_min=0.6, lexical_cosine_min=0.5))


def test_pair_counts_match_hand_computed_values(scorer):
    utterances = ["i have two dogs and a red car", "the weather is nice"]
    generated = ["i have two dogs", "i am a pilot", "i have a red car"]
    gold = ["i have two dogs", "i am a nurse"]
    support = scorer.check(generated, utterances)
    s = score_pair(scorer, generated, gold, drop_counts([x.reason for x in support]))
    # 'i have two dogs' matches gold 1 (cosine 1); 'i am a pilot' vs 'i am a nurse': cosine 3/4 < 0.8 and
    # overlap 0 -> no match; 'i have a red car' vs 'i have two dogs': cosine 2/sqrt(20) -> no match
    assert (s.generated, s.matched, s.gold, s.found) == (3, 1, 2, 1)
    # support in the utterances: dogs and car stated; the pilot is not
    assert s.unsupported == 1
    summary = summarise([s])
    assert summary["precision"] == pytest.approx(1 / 3) and summary["recall"] == pytest.approx(1 / 2)
    assert summary["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert summary["unsupported_share"] == pytest.approx(1 / 3)


def test_micro_average_and_bootstrap_interval(scorer):
    a = score_pair(scorer, ["i like dogs"], ["i like dogs"])
    b = score_pair(scorer, ["i am a pilot", "i like cats"], ["i am a nurse"])
    summary = summarise([a, b])
    assert summary["precision"] == pytest.approx(1 / 3) and summary["recall"] == pytest.approx(1 / 2)
    ci = bootstrap([a, b], ["precision"], seed=1, rounds=200)["precision"]
    assert 0.0 <= ci[0] <= summary["precision"] <= ci[1] <= 1.0 and ci[0] < ci[1]


def test_coverage_of_first_person_statements(scorer):
    seeker = ["hi , how are you ?", "i have two dogs . i am a nurse .", "the weather is nice ."]
    s = score_dialog(scorer, ["i have two dogs"], generated=5, seeker_utterances=seeker,
                     drop_reasons=[NO_SUPPORT, REMARK, NOT_ABOUT_SEEKER, NEGATION_CHANGED])
    assert (s.statements, s.covered) == (2, 1)  # 'i have two dogs .' and 'i am a nurse .'; the dogs are covered
    summary = summarise([s])
    assert summary["coverage"] == pytest.approx(0.5)
    # of the 5 generated sentences one had no support; the check dropped 4 (each reason counted once)
    assert summary["unsupported_share"] == pytest.approx(1 / 5) and summary["remark_share"] == pytest.approx(1 / 5)
    assert summary["not_about_self_share"] == pytest.approx(1 / 5) and summary["changed_share"] == pytest.approx(1 / 5)
    assert summary["dropped_share"] == pytest.approx(4 / 5)


def test_text_overlap_skips_items_without_gold():
    r = text_overlap([["i like dogs ."], ["anything"]], [["i like dogs ."], []])
    assert r["scored_items"] == 1 and r["rouge_l"] == pytest.approx(1.0) and r["bleu"] == pytest.approx(100.0)


def test_rule_baseline_copies_first_person_statements():
    utts = ["hi , how are you ?", "i am a nurse . do you like dogs ? my dog is called rex .",
            "that is nice . i think so too .", "I am a nurse ."]
    assert rule_baseline(utts) == ["i am a nurse .", "my dog is called rex ."]


def test_command_scores_every_system(tmp_path, tiny_causal_dir):
    from pipelines.evaluate_extractor import main
    from tests.helpers import SYNTHETIC_CSV

    card = tmp_path / "model_card.md"
    card.write_text("# card\n\n## Evaluation\n\nold\n\n## Other\n\nkept\n")
    out = tmp_path / "eval.json"
    assert main(["--data", str(SYNTHETIC_CSV), "--limit", "3", "--extractor", str(tiny_causal_dir),
                 "--max-new-tokens", "4", "--json", str(out), "--model-card", str(card)]) == 0
    saved = json.loads(out.read_text())
    assert set(saved["results"]) == {"extractor", "extractor + check", "untuned", "untuned + check", "rule",
                                     "rule + check"}
    for metrics in saved["results"].values():
        assert {"precision", "recall", "f1", "unsupported_share", "rouge_l", "bleu"} <= set(metrics)
        assert all(0.0 <= metrics[k] <= 1.0 for k in ("precision", "recall", "f1", "unsupported_share"))
    assert saved["results"]["rule"]["recall"] == pytest.approx(1.0)  # it copies every stated sentence
    assert saved["results"]["extractor + check"]["dropped_share"] == 0.0  # the check kept only what passes it
    assert len(saved["outputs"]) == 3 and saved["outputs"][0]["supported_gold"]
    text = card.read_text()
    assert "| rule |" in text and "\n\nold\n" not in text and "## Other\n\nkept" in text

    # the paired comparison re-scores the stored outputs: the same F1 as the run, and a section in the card
    from research.extractor_comparison import main as compare
    assert compare(["--eval", str(out), "--model-card", str(card)]) == 0
    text = card.read_text()
    assert "## Paired comparison" in text and "| all (3) | rule |" in text and "re-scored F1 differs" not in text
    assert "ROUGE-L difference" in text and "mutual-match F1" in text


def test_rouge_l_per_item_and_its_paired_difference():
    from extractor.evaluation import rouge_l_per_item
    from research.extractor_comparison import paired_mean_difference

    scores = rouge_l_per_item([["i have two dogs."], ["i am a nurse and i like cats"], []],
                              [["i have two dogs."], ["i am a nurse."], ["i like tea."]])
    assert scores[0] == pytest.approx(1.0) and 0.0 < scores[1] < 1.0 and scores[2] == 0.0
    assert rouge_l_per_item([["x"]], [[]]) == [None]  # no gold: not scored
    diff, low, high = paired_mean_difference([0.5, 0.7, 0.9], [0.4, 0.6, 0.8])  # ahead by 0.1 on every item
    assert diff == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)


def test_paired_difference_resamples_the_same_pairs():
    from extractor.evaluation import PairScore
    from research.extractor_comparison import paired_difference

    better = [PairScore(generated=2, matched=2, gold=2, found=2), PairScore(generated=2, matched=1, gold=1, found=1)]
    worse = [PairScore(generated=2, matched=1, gold=2, found=1), PairScore(generated=2, matched=0, gold=1, found=0)]
    d = paired_difference(better, worse, rounds=200)
    assert d["difference"] > 0 and d["low"] > 0 and d["ahead_share"] == 1.0  # ahead on every pair, so on every resample
    same = paired_difference(better, better, rounds=50)
    assert same["difference"] == same["low"] == same["high"] == 0.0 and same["ahead_share"] == 0.0


def test_command_errors_are_one_line(tmp_path, capsys):
    from common.cli import run_cli
    from pipelines.evaluate_extractor import main

    with pytest.raises(SystemExit) as exit_:
        run_cli(main, ["--data", str(tmp_path / "nope.csv")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: data file {tmp_path / 'nope.csv'} does not exist"


def test_comparison_errors_are_one_line(tmp_path, capsys):
    from common.cli import run_cli
    from research.extractor_comparison import main

    with pytest.raises(SystemExit) as exit_:
        run_cli(main, ["--eval", str(tmp_path / "nope.json")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {tmp_path / 'nope.json'} does not exist")


def test_inference_on_a_worker_without_beam_fills_the_builds_cache(tmp_path, tiny_causal_dir, small_esconv):
    """`--infer-only` needs neither Beam nor the judges (a GPU worker fills the cache), and the build then finds
    every one of its inputs there: the keys are the build's."""
    import subprocess
    import sys

    from pipelines.build_pesconv import main as build
    from tests.conftest import TINY_BUILD_ARGS

    cache = tmp_path / "cache"
    script = ("import sys; sys.modules['apache_beam'] = None\n"  # importing Beam now fails, as where it is missing
              "from pipelines.evaluate_extractor import main\n"
              f"sys.exit(main(['--infer-only', '--cache', {str(cache)!r}, '--esconv', {str(small_esconv)!r}, "
              f"'--extractor', {str(tiny_causal_dir)!r}, '--adapter', 'none', '--no-baselines', "
              "'--max-new-tokens', '8', '--json', 'timing.json']))")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    timing = json.loads((tmp_path / "timing.json").read_text())
    assert timing["dialogs"] == 7 and timing["timing"]["extractor"]["inputs"] > 0
    assert build(["--input", str(small_esconv), "--output", str(tmp_path / "build"), "--extractor",
                  str(tiny_causal_dir), "--cache-dir", str(cache), "--keep-unsupported", *TINY_BUILD_ARGS]) == 0
    inference = json.loads((tmp_path / "build" / "manifest.json").read_text())["inference"]
    assert inference["inferred"] == 0 and inference["reused_from_cache"] > 0


def test_a_mutual_match_needs_support_both_ways(scorer):
    """A whole utterance 'states' the gold fact it contains, but the fact does not state the utterance: it matches
    only one way. The concise fact matches both ways."""
    gold = ["i have two dogs"]
    long, short = "i have two dogs and a red car", "i have two dogs"
    one_way = score_pair(scorer, [long, short], gold)
    both = score_pair(scorer, [long, short], gold, mutual=True)
    assert (one_way.matched, one_way.found) == (2, 1)
    assert (both.matched, both.found) == (1, 1)
    assert score_pair(scorer, [long], gold, mutual=True).found == 0


def test_the_clause_threshold_is_chosen_on_pairs_the_split_did_not_hold_out(tmp_path, capsys):
    from common.cli import REPO_ROOT, run_cli
    from research.clause_threshold import main, training_pairs
    from schemas.personachat import read_sources

    split = json.loads((REPO_ROOT / "extractor" / "default_adapter" / "split.json").read_text())
    pairs, _ = read_sources(split["data"], split.get("limit"))
    held = {(p.source, tuple(p.utterances)) for i, p in enumerate(pairs) if i in set(split["heldout"])}
    picked, described = training_pairs(REPO_ROOT / "extractor" / "default_adapter", 20, 7)
    assert len(picked) == 40 and "training pairs" in described
    assert not {(p.source, tuple(p.utterances)) for p in picked} & held
    assert training_pairs(REPO_ROOT / "extractor" / "default_adapter", 20, 7)[0] == picked  # seeded
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, ["--split-of", str(tmp_path), "--pairs", "5"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {tmp_path / 'split.json'} not found")
