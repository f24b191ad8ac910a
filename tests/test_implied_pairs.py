"""The labelled implied facts: merging a reader's labels, and how the shipped verifier ranks a labelled file."""
from __future__ import annotations

import csv
import json

import pytest

from common.cli import InputError
from research.implied_pairs import FIELDS, main


def test_labels_from_a_build_merge_into_an_esconv_file_and_are_scored(tmp_path, capsys):
    key = [{"id": "imp000", "source": "esconv-x:3", "partner_said": "What happened?",
            "speaker_said": "I got laid off last week and I am scared.", "sentence": "I lost my job."},
           {"id": "imp001", "source": "esconv-x:5", "partner_said": "What is your favorite color?",
            "speaker_said": "I hate orange. It is such a loud color.", "sentence": "I like orange."}]
    (tmp_path / "key.json").write_text(json.dumps(key))
    (tmp_path / "labels.tsv").write_text("id\tlabel\nimp000\tyes\nimp001\tno\n")
    out = tmp_path / "merged.tsv"
    assert main(["--merge", str(tmp_path / "labels.tsv"), "--key", str(tmp_path / "key.json"), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(), delimiter="\t"))
    assert list(rows[0]) == list(FIELDS) and [(r["label"], r["part"]) for r in rows] == [("yes", "esconv"), ("no", "esconv")]
    assert main(["--score", str(out)]) == 0
    table = capsys.readouterr().out
    assert "1 implied (yes, faithful), 1 not" in table and "| 0.63 |" in table

    (tmp_path / "labels.tsv").write_text("id\tlabel\nimp000\tyes\n")  # a row left unlabelled
    with pytest.raises(InputError, match="need a yes/no label for each of the 2 ids"):
        main(["--merge", str(tmp_path / "labels.tsv"), "--key", str(tmp_path / "key.json"), "--out", str(out)])
    with pytest.raises(InputError, match="not a labelled file"):
        main(["--score", str(tmp_path / "key.json")])
