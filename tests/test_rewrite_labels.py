"""research.rewrite_labels: the extractor's rewrites drawn from a real build, labelled, merged with dialogs apart."""
from __future__ import annotations

import csv
import json

import pytest

from common.cli import InputError
from extractor.grounding import is_quote


def _labels(path, ids, skip=()):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["id", "label", "note"])
        w.writerows([i, "yes" if k % 2 else "no", "" if k % 2 else "a detail added"]
                    for k, i in enumerate(ids) if i not in skip)


def test_rewrites_are_drawn_blind_and_merged_with_dialogs_apart(tmp_path, tiny_build):
    from research.rewrite_labels import main, rewrites

    pool = rewrites(tiny_build)
    assert pool and all(not is_quote(c["sentence"], c["speaker_said"]) for c in pool)
    n_train = sum(c["split"] == "train" for c in pool)
    n_other = len(pool) - n_train
    assert n_train and n_other  # the tiny build's random extractor rewrites everything
    drawn = tmp_path / "draw.tsv"
    assert main(["--from-build", str(tiny_build), "--draw", f"{min(n_train, 4)},{min(n_other, 3)}",
                 "--out", str(drawn)]) == 0
    with open(drawn, newline="", encoding="utf-8") as f:
        shown = list(csv.DictReader(f, delimiter="\t"))
    assert list(shown[0]) == ["id", "supporter_said", "seeker_said", "sentence"]  # no dialog, no verdict
    key = drawn.with_suffix(".key.json")
    ids = [r["id"] for r in shown]

    _labels(tmp_path / "partial.tsv", ids, skip=ids[:1])
    with pytest.raises(InputError, match="need a yes/no label"):
        main(["--merge", str(tmp_path / "partial.tsv"), "--key", str(key), "--out", str(tmp_path / "x.tsv")])

    _labels(tmp_path / "labels.tsv", ids)
    merged = tmp_path / "rewrite_labels.tsv"
    assert main(["--merge", str(tmp_path / "labels.tsv"), "--key", str(key), "--out", str(merged)]) == 0
    with open(merged, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == len(ids)
    for r in rows:  # ESConv's valid and test dialogs are the test part; train splits into train and dev by dialog
        assert (r["part"] == "test") == (r["split"] != "train")
        assert r["label"] == ("yes" if ids.index(r["id"]) % 2 else "no")
    for part in ("train", "dev"):
        other = {"train": "dev", "dev": "train"}[part]
        assert not ({r["dialog_id"] for r in rows if r["part"] == part}
                    & {r["dialog_id"] for r in rows if r["part"] == other})

    again = tmp_path / "again.tsv"
    left = len(pool) - len(ids)
    if left:
        main(["--from-build", str(tiny_build), "--draw", f"{min(left, 1)},0", "--exclude", str(merged),
              "--id-prefix", "rwb", "--out", str(again)])
        picked = json.loads(again.with_suffix(".key.json").read_text())
        first = {(r["dialog_id"], int(r["turn"]), r["sentence"]) for r in rows}
        assert all((c["dialog_id"], c["turn"], c["sentence"]) not in first for c in picked)
        assert all(c["id"].startswith("rwb") for c in picked)


def test_quote_parts_are_the_kept_quotes_of_part_of_a_sentence(tmp_path, tiny_build):
    from extractor.grounding import is_quote_part
    from research.rewrite_labels import main, rewrites

    pool = rewrites(tiny_build, "quote-parts")
    kept = rewrites(tiny_build)  # the rewrites, for contrast: no quote part is among them
    assert pool and all(c["status"] == "kept" and is_quote_part(c["sentence"], c["speaker_said"]) for c in pool)
    assert not {(c["dialog_id"], c["sentence"]) for c in pool} & {(c["dialog_id"], c["sentence"]) for c in kept}
    n_train = sum(c["split"] == "train" for c in pool)
    drawn = tmp_path / "parts.tsv"
    assert main(["--from-build", str(tiny_build), "--kind", "quote-parts", "--draw", f"{min(n_train, 3)},0",
                 "--out", str(drawn)]) == 0
    picked = json.loads(drawn.with_suffix(".key.json").read_text())
    found = {(c["dialog_id"], c["turn"], c["sentence"]) for c in pool}
    assert len(picked) == min(n_train, 3) and all((c["dialog_id"], c["turn"], c["sentence"]) in found for c in picked)


def test_judged_out_are_the_drops_the_implied_fact_judge_is_asked_about(tmp_path, tiny_build):
    """Only proposals the verifier, the rewrite judge or NEW_WORD dropped, not quotes, and that the meaning rules
    pass: what `--implied-judge` asks about."""
    import shutil

    from extractor.meaning import NEGATION_CHANGED, meaning_change
    from extractor.verifier import CHANGED, NEW_WORD, NOT_A_FACT, NOT_STATED
    from research.persona_audit import build_rows
    from research.rewrite_labels import rewrites

    build = tmp_path / "build"
    shutil.copytree(tiny_build, build)
    row = next(iter(build_rows(build, ("dialog_id", "dialog"))))
    turn = next(k for k, t in enumerate(row["dialog"]) if t["speaker"] == "seeker")
    said = row["dialog"][turn]["text"]
    lines = [("I lost my job.", CHANGED), ("I have two kids.", NOT_STATED), ("I am a nurse.", NEW_WORD),
             (said, NOT_STATED),                      # a quote of the turn: not a rewrite
             ("I have a dog.", NOT_A_FACT),           # dropped by another check: never asked
             ("I do not have two kids.", NEGATION_CHANGED),  # a meaning rule's drop: never asked
             ("I am not a nurse.", CHANGED)]                 # asked only if the meaning rules pass it
    (build / "unsupported.jsonl").write_text("".join(
        json.dumps({"dialog_id": row["dialog_id"], "turn": turn, "sentence": s, "reason": r}) + "\n"
        for s, r in lines), encoding="utf-8")
    pool = rewrites(build, "judged-out")
    passes = meaning_change("I am not a nurse.", said) is None
    assert [(c["sentence"], c["status"]) for c in pool] == lines[:3] + lines[-1:] * passes
    assert all(c["speaker_said"] == " ".join(said.split()) for c in pool)
