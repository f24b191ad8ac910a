"""Written implied facts: the draw of real ESConv turns, the blind shuffle, the merge into dialog-apart parts, and the
shipped check's score of a labelled file."""
from __future__ import annotations

import csv
import json

import pytest

from common.cli import InputError
from research.written_implied import FIELDS, main
from tests.helpers import ESCONV as ESCONV_DIR


def tsv(path):
    return list(csv.DictReader(path.open(newline="", encoding="utf-8"), delimiter="\t"))


def write_labelled(path, rows):
    """A labelled file of research.written_implied (its columns; others ignored)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, FIELDS, delimiter="\t", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def test_turns_are_written_for_shuffled_blind_and_merged_with_dialogs_apart(tmp_path, capsys):
    turns = tmp_path / "turns.tsv"
    assert main(["--esconv", str(ESCONV_DIR), "--draw", "40", "--out", str(turns)]) == 0
    drawn, key = tsv(turns), json.loads(turns.with_suffix(".key.json").read_text())
    assert list(drawn[0]) == ["id", "partner_said", "speaker_said", "implied", "says_more"] and len(drawn) == 40
    assert len({k["dialog_id"] for k in key}) == 40 and sum(k["split"] != "train" for k in key) == 10
    assert all(len(r["speaker_said"].split()) >= 8 for r in drawn)

    written = tmp_path / "written.tsv"
    with written.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["id", "partner_said", "speaker_said", "implied", "says_more"])
        w.writerows([r["id"], r["partner_said"], r["speaker_said"], "I have a job." if k % 2 else "-",
                     "I was fired."] for k, r in enumerate(drawn))
    to_label = tmp_path / "to_label.tsv"
    assert main(["--to-label", str(written), "--key", str(turns.with_suffix(".key.json")), "--out", str(to_label)]) == 0
    shown = tsv(to_label)
    assert len(shown) == 60 and list(shown[0]) == ["id", "partner_said", "speaker_said", "sentence", "label"]

    labels = tmp_path / "labels.tsv"
    labels.write_text("id\tlabel\n" + "".join(f"{r['id']}\t{'yes' if r['sentence'] == 'I have a job.' else 'no'}\n"
                                              for r in shown))
    out = tmp_path / "merged.tsv"
    assert main(["--merge", str(labels), "--key", str(to_label.with_suffix(".key.json")), "--out", str(out)]) == 0
    rows = tsv(out)
    assert list(rows[0]) == list(FIELDS) and "agrees with what the writer meant in 60 (100.0%)" in capsys.readouterr().out
    parts = {}
    for r in rows:
        parts.setdefault(r["dialog_id"], set()).add(r["part"])
        assert (r["part"] == "test") == (r["split"] != "train")
    assert all(len(p) == 1 for p in parts.values()) and {"train", "dev", "test"} == set().union(*parts.values())

    second = tmp_path / "second.tsv"
    second.write_text("id\tlabel\n" + "".join(f"{r['id']}\t{'yes' if k else 'no'}\n" for k, r in enumerate(rows[:4])))
    assert main(["--agreement", str(second), "--labels", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("4 sentences labelled twice: the readers agree on ") and "kappa" in said
    second.write_text("id\tlabel\nnot-an-id\tyes\n")
    with pytest.raises(InputError, match="need ids of"):
        main(["--agreement", str(second), "--labels", str(out)])

    labels.write_text("id\tlabel\n" + f"{shown[0]['id']}\tyes\n")  # the rest left unlabelled
    with pytest.raises(InputError, match="need a yes/no label for each of the 60 ids"):
        main(["--merge", str(labels), "--key", str(to_label.with_suffix(".key.json")), "--out", str(out)])
    with pytest.raises(InputError, match="need the --key"):
        main(["--to-label", str(written), "--out", str(out)])


def test_the_shipped_check_scores_a_labelled_file_by_part(tmp_path, capsys):
    rows = [{"id": "iw0", "dialog_id": "esconv-a", "turn": "3", "split": "test", "partner_said": "What happened?",
             "speaker_said": "I hate orange. It is such a loud color.", "sentence": "I hate orange.",
             "written_as": "implied", "label": "yes", "part": "test"},
            {"id": "iw1", "dialog_id": "esconv-a", "turn": "3", "split": "test", "partner_said": "What happened?",
             "speaker_said": "I hate orange. It is such a loud color.", "sentence": "I like orange.",
             "written_as": "says_more", "label": "no", "part": "test"}]
    path = write_labelled(tmp_path / "labelled.tsv", rows)
    assert main(["--score", str(path)]) == 0
    table = capsys.readouterr().out
    assert "| test | 1 of 1 (1.00" in table and "| 0 of 1 (0.00" in table
    assert "| I got laid off last week and I am scared. | I lost my job. |" in table  # the known cases, each judged
    (tmp_path / "other.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(InputError, match="not a labelled file"):
        main(["--score", str(tmp_path / "other.tsv")])
    with pytest.raises(InputError, match="holds no implied-fact judge"):
        main(["--score", str(path), "--implied-judge"])


def test_more_turns_for_the_train_part_keep_out_its_dev_dialogs_and_its_turns(tmp_path, capsys):
    turns = tmp_path / "turns.tsv"
    assert main(["--esconv", str(ESCONV_DIR), "--draw", "40", "--out", str(turns)]) == 0
    key = json.loads(turns.with_suffix(".key.json").read_text())
    rows = [{**k, "id": f"iw{n}", "sentence": "I have a job.", "written_as": "implied", "label": "yes",
             "part": "test" if k["split"] != "train" else "dev" if n % 3 == 0 else "train"} for n, k in enumerate(key)]
    labelled = write_labelled(tmp_path / "labelled.tsv", rows)
    more = tmp_path / "more.tsv"
    assert main(["--esconv", str(ESCONV_DIR), "--draw", "30", "--more-for", str(labelled), "--seed", "43",
                 "--out", str(more)]) == 0
    drawn = json.loads(more.with_suffix(".key.json").read_text())
    dev = {r["dialog_id"] for r in rows if r["part"] != "train"}
    taken = {(r["dialog_id"], r["turn"]) for r in rows}
    assert len(drawn) == 30 and all(d["split"] == "train" and d["dialog_id"] not in dev for d in drawn)
    assert not {(d["dialog_id"], d["turn"]) for d in drawn} & taken
    written = tmp_path / "written.tsv"
    with written.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["id", "partner_said", "speaker_said", "implied", "says_more"])
        w.writerows([d["id"], d["partner_said"], d["speaker_said"], "I have a job.", "I was fired."] for d in drawn)
    to_label = tmp_path / "to_label.tsv"
    assert main(["--to-label", str(written), "--key", str(more.with_suffix(".key.json")), "--out", str(to_label)]) == 0
    labels = tmp_path / "labels.tsv"
    labels.write_text("id\tlabel\n" + "".join(f"{r['id']}\tyes\n" for r in tsv(to_label)))
    out = tmp_path / "merged.tsv"
    assert main(["--merge", str(labels), "--key", str(to_label.with_suffix(".key.json")), "--more-for",
                 str(labelled), "--out", str(out)]) == 0
    assert {r["part"] for r in tsv(out)} == {"train"} and "train 60, dev 0, test 0" in capsys.readouterr().out


def test_the_sentence_alone_is_measured_against_the_label_and_its_contrast_pairs(tmp_path, capsys):
    said = ["My boss called me in on Friday.", "We argue every night about money.", "The kids are with their dad.",
            "Nobody at school talks to me.", "I moved here last spring.", "My mother is in the hospital."]
    rows = []
    for part, n in (("train", 6), ("test", 4)):
        for k in range(n):
            implied = k % 2 == 0
            rows.append({"id": f"{part}{k}", "dialog_id": f"esconv-{part}{k}", "turn": "1", "split": "train",
                         "partner_said": "How are you?", "speaker_said": said[k],
                         "sentence": "I feel low." if implied else "I was fired because of the pandemic last year.",
                         "written_as": "implied", "label": "yes" if implied else "no", "part": part})
    path = write_labelled(tmp_path / "labelled.tsv", rows)
    assert main(["--hypothesis-only", str(path)]) == 0
    # the sentence alone gives the label away here, and so gets every contrast pair wrong
    assert "| test | 4 | 1.000 | 4 | 0.000 |" in capsys.readouterr().out
    write_labelled(path, [r for r in rows if r["part"] == "test"])
    with pytest.raises(InputError, match="no train part with both labels"):
        main(["--hypothesis-only", str(path)])


def test_the_sweep_counts_what_the_implied_fact_judge_adds_on_dev_and_test(tmp_path, capsys):
    """A judge that passes everything (threshold 0) adds the dropped proposal; one that can pass nothing adds none."""
    from extractor.cross_encoder import Judge, JudgeConfig
    from extractor.verifier import JUDGES, JUDGES_DIR

    for task in JUDGES:
        (tmp_path / task).symlink_to(JUDGES_DIR / task)
    Judge(JudgeConfig(task="implied", lora_r=2, lora_alpha=4, threshold=0.0)).save(tmp_path / "implied")
    written = write_labelled(tmp_path / "labelled.tsv", [
        {"id": "iw0", "dialog_id": "esconv-a", "turn": "3", "split": "test", "partner_said": "What happened?",
         "speaker_said": "I hate orange. It is such a loud color.", "sentence": "I hate orange.",
         "written_as": "implied", "label": "yes", "part": "test"}])
    rewrites = tmp_path / "rewrites.tsv"
    with rewrites.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["id", "partner_said", "speaker_said", "sentence", "label", "part"])
        w.writerow(["rw0", "How are you?", "I got laid off last week and I am scared.", "I lost my job.", "yes", "dev"])
        w.writerow(["rw1", "How are you?", "My sister is a nurse, and I work in retail.", "I have two dogs.", "no",
                    "test"])
    assert main(["--score", str(written), "--judges", str(tmp_path), "--sweep", "0,1.01",
                 "--rewrites", str(rewrites)]) == 0
    out = capsys.readouterr().out
    assert "| 0 | 0 (none kept) |" in out  # nothing added: no share to give
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith(("| dev", "| test"))]
    added = {(r[0][2:], r[1]): (r[6], r[7].split(" (")[0]) for r in rows if len(r) == 8}
    assert added[("dev", "0")] == ("1", "0") and added[("dev", "1.01")] == ("0", "0")
    assert added[("test", "0")] == ("1", "1") and added[("test", "1.01")] == ("0", "0")
