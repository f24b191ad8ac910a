"""The one-phrase gate of research.implied_gate, its table, and a run of the real check on labelled rewrites."""
from __future__ import annotations

import csv

import pytest

from common.cli import InputError
from extractor.one_phrase import one_phrase_changed
from research.implied_gate import main, table


def test_the_gate_passes_one_short_phrase_in_other_words_and_nothing_else():
    assert one_phrase_changed("I lost my job.", "I got laid off last week and I am scared.") == (
        "got laid off last", "lost my job")
    assert one_phrase_changed("I just got laid off.", "I just got layed off") == ("layed", "laid")
    assert one_phrase_changed("Job security is a big concern.", "Job stability is a big concern") == (
        "stability", "security")
    assert one_phrase_changed("I lost my job.", "I got laid off last week", ends=False) is None  # at the end
    assert one_phrase_changed("Job security is a big concern.", "Job stability is a big concern", ends=False) == (
        "stability", "security")
    assert one_phrase_changed("I lost my job.", "I lost my job") is None  # a copy: nothing to judge
    assert one_phrase_changed("i am not ablent to find work.", "i am not ablle to find work") is None  # no word
    assert one_phrase_changed("I often eat dinner alone.", "I usually only eat dinner with friends") is None  # two
    assert one_phrase_changed("I am a driver.", "I was thinking about becoming an Uber and Lyft driver") is None


def row(part, faithful, implied=None, kept_without=False, gated=False):
    return {"part": part, "faithful": faithful, "implied": implied, "kept_without": kept_without, "gated": gated,
            "inside": gated and not faithful}


def test_the_table_counts_what_the_judge_adds_with_and_without_the_gate():
    scored = [row("dev", True, kept_without=True), row("dev", False, kept_without=True),
              row("dev", True, 0.9, gated=True), row("dev", False, 0.8), row("dev", False, 0.3, gated=True)]
    lines = {line.split("|")[4].strip(): line for line in table(scored, (0.5, 0.85)).splitlines()
             if line.startswith("| dev")}
    assert "| 1 of 2 (0.50" in lines["0.5"] and "| 3 (2) |" in lines["0.5"]
    added, gated, inside = lines["0.5"].split("|")[5:8]  # 0.9 and 0.8 added, only the first gated
    assert added.strip().startswith("1 of 2 (0.50") and gated.strip().startswith("0 of 1 (0.00")
    assert inside.strip() == "0 of 0"
    assert lines["0.85"].split("|")[5].strip().startswith("0 of 1 (0.00")


def test_a_run_scores_labelled_rewrites_with_the_real_check(tmp_path, capsys):
    from extractor.cross_encoder import Judge, JudgeConfig
    from extractor.verifier import JUDGES, JUDGES_DIR

    judges = tmp_path / "judges"
    judges.mkdir()
    for task in JUDGES:
        (judges / task).symlink_to(JUDGES_DIR / task)
    with pytest.raises(InputError, match="implied judge is missing"):
        main(["--judges", str(judges)])
    Judge(JudgeConfig(task="implied", lora_r=2, lora_alpha=4)).save(judges / "implied")
    labels = tmp_path / "labels.tsv"
    with labels.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["part", "partner_said", "speaker_said", "sentence", "label"], delimiter="\t")
        w.writeheader()
        w.writerows([{"part": "dev", "partner_said": "How are you?", "speaker_said": "I got laid off last week.",
                      "sentence": "I lost my job.", "label": "yes"},
                     {"part": "test", "partner_said": "", "speaker_said": "I am a nurse and I love it.",
                      "sentence": "I am a nurse.", "label": "yes"}])
    out = tmp_path / "gate.md"
    assert main(["--judges", str(judges), "--labels", str(labels), "--grid", "0", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| dev | 0 of 0 | 1 (1) | 0 | 0 of 1" in text  # asked about the laid-off rewrite, and it passes the gate
    dev = next(line for line in text.splitlines() if line.startswith("| dev"))
    assert dev.endswith("| 0 of 0 |")  # but not with the phrase inside the stretch
    assert "| test | 0 of 1 (0.00" in text  # the nurse quote is kept without the judge
