"""The kept-sentence audit: a seeded sample of a build's persona sentences beside their evidence turns, labelled by hand."""
from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common.cli import InputError
from research.persona_audit import AUDITS, LABELS, kept_sentences, main, read_audit


def tiny_build(root):
    (root / "data").mkdir(parents=True)
    dialogs = [{"dialog_id": "d1", "dialog": [{"text": "Hi."}, {"text": "I have  two dogs. And a cat."}],
                "persona": ["I have two dogs.", "I have a cat."], "persona_evidence": [1, 1]},
               {"dialog_id": "d2", "dialog": [{"text": "I work nights."}], "persona": ["I work nights."],
                "persona_evidence": [0]}]
    pq.write_table(pa.Table.from_pylist(dialogs), root / "data" / "train-00000-of-00001.parquet")
    return root


def test_draw_is_seeded_and_keeps_the_evidence_turn(tmp_path):
    build = tiny_build(tmp_path / "build")
    assert kept_sentences(build)[0] == ("d1", 1, "I have two dogs.", "I have two dogs. And a cat.")
    first, again = tmp_path / "a.tsv", tmp_path / "b.tsv"
    assert main(["--build", str(build), "--draw", str(first), "--sample", "2"]) == 0
    main(["--build", str(build), "--draw", str(again), "--sample", "2"])
    assert first.read_text() == again.read_text() and len(first.read_text().splitlines()) == 3
    with pytest.raises(InputError, match="label must be"):
        read_audit(first)  # drawn rows are unlabelled


def test_report_counts_each_label_and_writes_the_card(tmp_path):
    build = tiny_build(tmp_path / "build")
    drawn = tmp_path / "draw.tsv"
    main(["--build", str(build), "--draw", str(drawn), "--sample", "3"])
    rows = list(csv.DictReader(open(drawn, encoding="utf-8"), delimiter="\t"))
    for row, label in zip(rows, ["faithful", "unfaithful", "faithful"]):
        row["label"] = label
    with open(drawn, "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        out.writeheader()
        out.writerows(rows)
    card = tmp_path / "card.md"
    card.write_text("# card\n")
    assert main(["--build", str(build), "--audit", str(drawn), "--model-card", str(card)]) == 0
    text = card.read_text()
    assert "## Kept-sentence audit" in text and "| unfaithful | 1 of 3 |" in text and "| faithful | 2 of 3 |" in text
    assert f'- unfaithful: "{rows[1]["sentence"]}"' in text


def test_shipped_audits_are_labelled_and_share_no_sentence():
    rounds = [read_audit(path) for path in AUDITS]
    assert [len(rows) for rows in rounds] == [100, 100, 100]
    assert all({r["label"] for r in rows} <= set(LABELS) for rows in rounds)
    keys = [{(r["dialog_id"], r["sentence"]) for r in rows} for rows in rounds]
    assert all(not keys[i] & keys[j] for i in range(3) for j in range(i))  # each round reads fresh sentences


def test_report_pools_rounds_and_names_what_the_build_no_longer_keeps(tmp_path):
    build = tiny_build(tmp_path / "build")
    audits = []
    (build / "rewritten.jsonl").write_text(json.dumps(
        {"dialog_id": "d1", "turn": 1, "generated": "I have a cat, thanks for asking.", "kept": "I have a cat."}) + "\n")
    for name, rows in (("a.tsv", [("d1", 1, "I have two dogs.", "faithful"),
                                  ("d1", 1, "I have a cat, thanks for asking.", "faithful")]),
                       ("b.tsv", [("d2", 0, "I work days.", "unfaithful"), ("d2", 0, "I work nights.", "faithful")])):
        path = tmp_path / name
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, delimiter="\t", lineterminator="\n")
            out.writerow(("dialog_id", "turn", "sentence", "utterance", "label", "note"))
            out.writerows((d, t, s, "text", label, "") for d, t, s, label in rows)
        audits.append(str(path))
    card = tmp_path / "card.md"
    card.write_text("# card\n")
    assert main(["--build", str(build), "--audit", *audits, "--model-card", str(card)]) == 0
    text = card.read_text()
    assert "All rounds together" in text and "| faithful | 3 of 4 |" in text and "| unfaithful | 1 of 2 |" in text
    assert 'no longer keeps 1 of these 4 sentences: "I work days." (unfaithful)' in text
    assert 'It keeps "I have a cat, thanks for asking." (faithful) as "I have a cat."' in text


def test_a_folder_without_shards_is_a_one_line_error(tmp_path):
    with pytest.raises(InputError, match="no data"):
        kept_sentences(tmp_path)
