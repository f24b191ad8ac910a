"""research.compare_builds: what a change to the check did to two builds' persona sentences."""
from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common.cli import InputError
from research.compare_builds import compare, main

UTTERANCES = ["Hi", "I'm okay, just a little stressed. I lost my job.", "ok", "I am fine. And I have two kids."]


def _build(folder, persona: list[tuple[str, int]]):
    (folder / "data").mkdir(parents=True)
    dialog = [{"speaker": "seeker" if i % 2 else "supporter", "text": t} for i, t in enumerate(UTTERANCES)]
    table = pa.Table.from_pylist([{"dialog_id": "d1", "dialog": dialog, "persona": [s for s, _ in persona],
                                   "persona_evidence": [t for _, t in persona]}])
    pq.write_table(table, folder / "data" / "test-00000-of-00001.parquet")
    return folder


def test_removed_changed_and_added_sentences_are_told_apart(tmp_path, capsys):
    before = _build(tmp_path / "a", [("I'm okay, just a little stressed.", 1), ("I lost my job.", 1),
                                     ("I am fine.", 3), ("And I have two kids.", 3)])
    after = _build(tmp_path / "b", [("I'm okay, just a little stressed.", 1), ("I lost my job.", 1),
                                    ("I have two kids.", 3), ("I was stressed.", 1)])
    out = tmp_path / "diff.tsv"
    assert main([str(before), str(after), "--output", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    # turn 3 lost two sentences and gained one: both are listed as changed, beside what the turn now keeps
    assert [(r["kind"], r["turn"], r["before"], r["after"]) for r in rows] == [
        ("changed", "3", "I am fine.", "I have two kids."), ("changed", "3", "And I have two kids.", "I have two kids."),
        ("added", "1", "", "I was stressed.")]
    assert rows[0]["utterance"] == UTTERANCES[3]
    assert "4 persona sentences before, 4 after: 0 removed, 2 changed, 1 added" in capsys.readouterr().out
    only_removed = compare([("d1", 3, "I am fine.", UTTERANCES[3]), ("d1", 1, "I lost my job.", UTTERANCES[1])],
                           [("d1", 1, "I lost my job.", UTTERANCES[1])])
    assert [(r["kind"], r["before"]) for r in only_removed] == [("removed", "I am fine.")]


def test_builds_of_different_corpora_are_refused(tmp_path):
    with pytest.raises(InputError, match="share no persona sentence"):
        compare([("d1", 1, "I lost my job.", "")], [("d2", 1, "I have a dog.", "")])
    with pytest.raises(InputError, match="no data/\\*.parquet"):
        main([str(tmp_path), str(tmp_path)])
