"""Table-3 metrics against values computed by hand on tiny inputs."""
from __future__ import annotations

import json
import math

import pytest

from analysis import metrics
from analysis.evaluate import main as evaluate_main
from common.cli import InputError

HYP = "the cat sat on the mat"
REF = "the cat sat on a mat"


def test_distinct_counts_unique_over_all_ngrams():
    texts = ["a b a b", "a c"]
    # unigrams a b a b a c: 3 unique / 6; bigrams ab ba ab ac: 3 unique / 4
    assert metrics.distinct(texts, 1) == pytest.approx(50.0)
    assert metrics.distinct(texts, 2) == pytest.approx(75.0)
    assert metrics.distinct([], 1) == 0.0


def test_ead_with_known_vocabulary():
    texts = ["a b a b", "a c"]
    # N = 3 unique, C = 6 total, V = 10: 3 / (10 (1 - 0.9^6)) = 0.640260...
    assert metrics.ead(texts, 1, 10) == pytest.approx(100 * 3 / (10 * (1 - 0.9 ** 6)))
    assert metrics.ead(texts, 1, 10) == pytest.approx(64.026, abs=1e-3)
    # with a huge V, EAD tends to Distinct (N / C)
    assert metrics.ead(texts, 2, 10 ** 9) == pytest.approx(75.0, rel=1e-4)


def test_bleu_through_sacrebleu():
    # p1 = 5/6, p2 = 3/5, same length (BP = 1): BLEU-2 = sqrt(5/6 * 3/5) = sqrt(0.5)
    assert metrics.bleu([HYP], [REF], 2) == pytest.approx(100 * math.sqrt(0.5), abs=1e-6)
    # p3 = 2/4 (the cat sat, cat sat on), p4 = 1/3 (the cat sat on): (5/6 * 3/5 * 1/2 * 1/3)^(1/4) = (1/12)^(1/4)
    expected4 = 100 * (1 / 12) ** 0.25
    assert metrics.bleu([HYP], [REF], 4) == pytest.approx(expected4, abs=1e-6)
    assert metrics.bleu([REF], [REF], 4) == pytest.approx(100.0)


def test_rouge_l_through_rouge_score():
    # LCS "the cat sat on mat" = 5 of 6 tokens each side: F = 5/6
    assert metrics.rouge_l([HYP], [REF]) == pytest.approx(100 * 5 / 6)
    assert metrics.rouge_l([HYP, REF], [REF, REF]) == pytest.approx(100 * (5 / 6 + 1) / 2)


def test_accuracy_topn_and_perplexity():
    assert metrics.accuracy([1, 2, 1, 5]) == 50.0
    assert metrics.accuracy([1, 2, 1, 5], top=3) == 75.0
    assert metrics.perplexity([2.0, 4.0], [2, 4]) == pytest.approx(math.e)


def test_words_keep_contractions():
    assert metrics.words("I'm fine, thanks!") == ["i'm", "fine", ",", "thanks", "!"]


def test_cos_sim_with_the_offline_encoder():
    enc = metrics.load_encoder()
    same = metrics.cos_sim(["I love my dog"], [["I love my dog"]], enc)
    assert same == pytest.approx(1.0, abs=1e-4)
    mixed = metrics.cos_sim(["I love my dog", "hello"], [["I have a puppy"], []], enc)  # empty persona skipped
    assert 0.2 < mixed < 1.0
    assert math.isnan(metrics.cos_sim(["x"], [[]], enc))


def _write_run(folder, gens, vocab=100):
    folder.mkdir()
    rows = [{"strategy": "Question", "strategy_rank": r, "nll_sum": 1.0, "n_tokens": 1, "persona": [],
             "response": REF, "generation": g} for r, g in zip([1, 2], gens)]
    (folder / "generations-test.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    (folder / "generations-test.meta.json").write_text(json.dumps({"vocab_size": vocab}))


def test_evaluate_cli_writes_side_by_side_table(tmp_path, capsys):
    _write_run(tmp_path / "a", [HYP, None])
    _write_run(tmp_path / "b", [REF, REF])
    out = tmp_path / "t3"
    assert evaluate_main([f"A={tmp_path / 'a'}", f"B={tmp_path / 'b'}", "--no-cos-sim", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| A |" in printed and "paper: PAL" in printed
    result = json.loads(out.with_suffix(".json").read_text())["runs"]
    assert result["A"]["metrics"]["ACC"] == 50.0 and result["A"]["metrics"]["decoded"] == 1
    assert result["A"]["metrics"]["PPL"] == pytest.approx(math.e)
    assert result["B"]["metrics"]["B-4"] == pytest.approx(100.0)
    assert result["A"]["metrics"]["B-2"] == pytest.approx(100 * math.sqrt(0.5), abs=1e-6)


def test_run_names_may_hold_an_equals_sign(tmp_path):
    from analysis.evaluate import resolve_runs
    _write_run(tmp_path / "a", [HYP, REF])
    gens = tmp_path / "a" / "generations-test.jsonl"
    assert resolve_runs([f"PAL (α=0)={gens}"], "test") == [("PAL (α=0)", gens)]
    assert resolve_runs([str(gens)], "test") == [("a", gens)]


def test_paper_compat_rouge_l_weights_recall_by_beta():
    # hyp "the cat sat" vs ref "the cat sat on a mat": LCS 3, P = 1, R = 1/2
    p, r, b = 1.0, 0.5, 1.2
    expected = 100 * (1 + b * b) * p * r / (r + b * b * p)
    assert metrics.rouge_l_beta(["the cat sat"], ["the cat sat on a mat"]) == pytest.approx(expected)
    assert metrics.rouge_l_beta(["the cat sat"], ["the cat sat on a mat"]) != pytest.approx(
        metrics.rouge_l(["the cat sat"], ["the cat sat on a mat"]))  # F1 = 2/3 differs from F(beta 1.2)
    assert metrics.rouge_l_beta(["x"], ["y"]) == 0.0


def test_paper_compat_bleu_on_treebank_tokens():
    assert metrics.treebank_words("I can't sleep.") == ["i", "ca", "n't", "sleep", "."]
    assert metrics.bleu_nltk([HYP], [REF], 2) == pytest.approx(100 * math.sqrt(0.5), abs=1e-6)
    assert metrics.bleu_nltk([REF], [REF], 4) == pytest.approx(100.0)


def test_paper_compat_cos_sim_counts_every_turn():
    enc = metrics.load_encoder()
    kept = metrics.cos_sim(["I love my dog", "hello"], [["I love my dog"], []], enc)
    every = metrics.cos_sim(["I love my dog", "hello"], [["I love my dog"], []], enc, all_turns=True)
    assert kept == pytest.approx(1.0, abs=1e-4) and every < kept


def test_evaluate_cli_paper_compat(tmp_path):
    _write_run(tmp_path / "a", ["the cat sat", REF])
    out = tmp_path / "t3"
    assert evaluate_main([f"A={tmp_path / 'a'}", "--no-cos-sim", "--paper-compat", "--output", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["paper_compat"] is True
    lcs_f = (1 + 1.44) * 0.5 / (0.5 + 1.44)  # "the cat sat" vs REF: P = 1, R = 1/2
    assert record["runs"]["A"]["metrics"]["R-L"] == pytest.approx(100 * (lcs_f + 1) / 2)


def test_bootstrap_intervals_cover_the_point_and_shrink_with_more_turns():
    """Intervals resample (here: one-turn) dialogs: every metric's interval holds its point estimate, is degenerate when all
    turns agree, and narrows when the same mix of turns is repeated (more turns, same spread)."""
    def rows(n):
        return [{"strategy_rank": 1 + (i % 2), "nll_sum": 1.0 + (i % 3), "n_tokens": 2, "persona": [],
                 "response": REF, "generation": [HYP, REF, "a dog ran"][i % 3]} for i in range(n)]
    small, large = metrics.Table3Scorer(rows(12), 1000), metrics.Table3Scorer(rows(120), 1000)
    point, ci = small.metrics(), small.intervals(rounds=300, seed=1)
    for k in ("ACC", "PPL", "B-2", "B-4", "R-L"):
        assert ci[k][0] <= point[k] <= ci[k][1], k
        wide, narrow = ci[k][1] - ci[k][0], large.intervals(rounds=300, seed=1)[k]
        assert narrow[1] - narrow[0] < wide, k
    same = metrics.Table3Scorer([{"strategy_rank": 1, "nll_sum": 1.0, "n_tokens": 1, "persona": [],
                                  "response": REF, "generation": REF}] * 5, 1000)
    assert same.intervals(rounds=50)["ACC"] == [100.0, 100.0] and "Cos-Sim" not in same.intervals(rounds=5)


def test_intervals_resample_dialogs_with_all_their_turns():
    """Turns of one dialog move together: 4 dialogs of 30 turns, two all right and two all wrong, give an ACC
    interval as wide as 4 draws allow, far wider than 120 independent turns would; a resample keeps dialogs whole."""
    import numpy as np

    rows = [{"dialog_id": f"d{d}", "turn": t, "strategy_rank": 1 if d < 2 else 2, "nll_sum": 1.0, "n_tokens": 1,
             "persona": [], "response": REF, "generation": REF} for d in range(4) for t in range(30)]
    ci = metrics.Table3Scorer(rows, 1000).intervals(rounds=400, seed=3)["ACC"]
    assert ci[0] <= 25.0 and ci[1] >= 75.0  # a 120-turn bootstrap would give about [41, 59]
    groups = metrics.dialog_groups(rows)
    draw = metrics.cluster_draw(groups, np.random.default_rng(0))
    assert len(draw) == 120 and all(draw[k:k + 30] == groups[draw[k] // 30] for k in range(0, 120, 30))


@pytest.mark.parametrize("paper_compat", [False, True])
def test_corpus_bleu_from_turn_statistics_equals_the_library_score(paper_compat):
    """The bootstrap sums per-turn statistics: on the whole corpus, a resample with repeats and a few turns
    it must give what sacrebleu (or nltk) gives on those texts."""
    import random

    rng = random.Random(0)
    vocab = "i am so sorry to hear that you feel this way it must be hard have you tried talking . , ?".split()
    hyps = [" ".join(rng.choices(vocab, k=rng.randint(0, 14))) for _ in range(60)]
    refs = [" ".join(rng.choices(vocab, k=rng.randint(1, 14))) for _ in range(60)]
    library = metrics.bleu_nltk if paper_compat else metrics.bleu
    for n in (2, 4):
        corpus = metrics.CorpusBleu(hyps, refs, n, paper_compat)
        for idx in (list(range(60)), [rng.randrange(60) for _ in range(60)], [3, 3, 7]):
            assert corpus.score(idx) == pytest.approx(library([hyps[i] for i in idx], [refs[i] for i in idx], n),
                                                      rel=1e-9, abs=1e-12)


def test_distinct_and_ead_get_jackknife_intervals():
    """Leaving one response out, computed in one pass, equals recomputing on the rest; the interval holds the
    estimate, has zero width when every response is the same, and narrows with more responses."""
    texts = ["a b a b", "a c", "b c d", "a b", "e"]
    for n in (1, 2):
        full, loo = metrics.leave_one_out_counts(texts, n)
        assert full == metrics.ngram_counts(texts, n)
        assert loo == [metrics.ngram_counts(texts[:i] + texts[i + 1:], n) for i in range(len(texts))]
    ci = metrics.jackknife_intervals(texts, 50)
    assert set(ci) == {"D-1", "D-2", "E-1", "E-2"}
    assert ci["D-1"][0] < metrics.distinct(texts, 1) < ci["D-1"][1]
    assert ci["E-2"][0] < metrics.ead(texts, 2, 50) < ci["E-2"][1]
    assert metrics.jackknife_intervals(["a b c"] * 4, 50)["D-2"] == pytest.approx([25.0, 25.0])  # 2 of 8 bigrams
    many = metrics.jackknife_intervals(texts * 10, 50)  # n-grams seen in several copies: none lost, D-1 fixed
    width = ci["D-1"][1] - ci["D-1"][0]
    assert many["D-1"][1] - many["D-1"][0] < width
    scorer = metrics.Table3Scorer([{"strategy_rank": 1, "nll_sum": 1.0, "n_tokens": 1, "persona": [],
                                    "response": REF, "generation": t} for t in texts], 50)
    assert scorer.intervals(rounds=20)["D-1"] == ci["D-1"]


def test_evaluate_cli_prints_intervals(tmp_path):
    _write_run(tmp_path / "a", [HYP, REF])
    out = tmp_path / "t3"
    assert evaluate_main([f"A={tmp_path / 'a'}", "--no-cos-sim", "--bootstrap", "50", "--output", str(out)]) == 0
    run = json.loads(out.with_suffix(".json").read_text())["runs"]["A"]
    assert run["ci95"]["ACC"][0] <= run["metrics"]["ACC"] <= run["ci95"]["ACC"][1]
    assert "[" in out.with_suffix(".md").read_text()


def _turns(n: int, generation, rank=lambda i: 1) -> list[dict]:
    return [{"dialog_id": f"d{i // 4}", "turn": i % 4, "strategy_rank": rank(i), "nll_sum": 1.0 + (i % 3),
             "n_tokens": 2, "persona": [], "response": REF, "generation": generation(i)} for i in range(n)]


def test_paired_differences_pair_turns_by_dialog_and_turn():
    """A run that matches the reference on every turn is ahead of one that does on a third, clear of zero, however
    the rows are ordered; a run against itself differs by nothing (p 1); unpaired or unpairable runs are refused."""
    good = metrics.Table3Scorer(_turns(60, lambda i: REF), 1000)
    mixed_rows = _turns(60, lambda i: [REF, HYP, "a dog ran"][i % 3], rank=lambda i: 1 + (i % 2))
    mixed = metrics.Table3Scorer(list(reversed(mixed_rows)), 1000)
    d = metrics.paired_differences(good, mixed, rounds=300, seed=1)
    assert d["B-2"]["diff"] > 0 and d["B-2"]["ci95"][0] > 0 and d["B-2"]["p"] < 0.01 and d["B-2"]["turns"] == 60
    assert d["R-L"]["p"] == 0 and d["R-L"]["p_below"] == pytest.approx(2 / 300)  # no resample crossed zero
    assert d["ACC"]["diff"] == pytest.approx(50.0) and d["ACC"]["ci95"][0] > 0
    assert d["PPL"]["diff"] == pytest.approx(0.0) and d["PPL"]["p"] == 1.0  # the same NLL on every turn
    assert d["D-1"]["diff"] == pytest.approx(metrics.distinct([REF] * 60, 1) - metrics.distinct(
        [r["generation"] for r in mixed_rows], 1))
    same = metrics.paired_differences(mixed, mixed, rounds=50)
    assert all(x["diff"] == pytest.approx(0.0) and x["p"] == 1.0 for x in same.values())
    half = metrics.Table3Scorer(_turns(30, lambda i: REF), 1000)  # the first 30 turns only: paired on those
    assert metrics.paired_differences(half, mixed, rounds=20)["R-L"]["turns"] == 30
    other = metrics.Table3Scorer([dict(r, dialog_id="x" + r["dialog_id"]) for r in mixed_rows], 1000)
    with pytest.raises(ValueError, match="share no test turn"):
        metrics.paired_differences(good, other, rounds=5)


def test_evaluate_cli_compares_runs_turn_by_turn(tmp_path):
    for name, gen in (("a", lambda i: REF), ("b", lambda i: [REF, HYP][i % 2])):
        (tmp_path / name).mkdir()
        rows = _turns(24, gen)
        (tmp_path / name / "generations-test.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
        (tmp_path / name / "generations-test.meta.json").write_text(json.dumps({"vocab_size": 100}))
    out = tmp_path / "t3"
    args = [f"A={tmp_path / 'a'}", f"B={tmp_path / 'b'}", "--no-cos-sim", "--bootstrap", "50", "--output", str(out)]
    assert evaluate_main([*args, "--compare", "A", "B"]) == 0
    paired = json.loads(out.with_suffix(".json").read_text())["paired"]["A − B"]
    assert paired["R-L"]["diff"] > 0 and paired["R-L"]["turns"] == 24
    assert "| A − B | 24 |" in out.with_suffix(".md").read_text() and "p < 0.040" in out.with_suffix(".md").read_text()
    with pytest.raises(InputError, match="no run named 'C'"):
        evaluate_main([*args, "--compare", "A", "C"])
    (tmp_path / "c").mkdir()  # a run of other turns: nothing to pair
    rows = [dict(r, dialog_id="other") for r in _turns(4, lambda i: REF)]
    (tmp_path / "c" / "generations-test.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    (tmp_path / "c" / "generations-test.meta.json").write_text(json.dumps({"vocab_size": 100}))
    with pytest.raises(InputError, match="share no test turn"):
        evaluate_main([f"C={tmp_path / 'c'}", *args, "--compare", "A", "C"])
