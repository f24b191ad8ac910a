"""The ESConv reader on real files of both formats and on every kind of broken input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.cli import InputError
from schemas.esconv import SEEKER, SUPPORTER, InvalidDialog, iter_raw_records, normalise_dialog, parse_raw, read_dialogs
from schemas.strategies import STRATEGIES, canonical_strategy
from tests.helpers import ESCONV, real_dialog_lines


def to_original_format(split_obj: dict) -> dict:
    """Rewrite a split-file dialog in the original ESConv.json layout (content + annotation)."""
    out = {k: v for k, v in split_obj.items() if k != "dialog"}
    out["dialog"] = []
    for t in split_obj["dialog"]:
        turn = {"speaker": "seeker" if t["speaker"] == "usr" else "supporter", "content": t["text"] + "\n",
                "annotation": {"strategy": t["strategy"]} if t["speaker"] == "sys" else {}}
        out["dialog"].append(turn)
    return out


def test_real_split_files_all_valid():
    dialogs, rejects = read_dialogs(ESCONV)
    assert len(dialogs) == 1300 and rejects == []
    assert len({d.dialog_id for d in dialogs}) == 1300
    strategies = {t.strategy for d in dialogs for t in d.turns if t.speaker == SUPPORTER}
    assert strategies <= set(STRATEGIES)
    missing = sum(d.survey["empathy"] is None for d in dialogs)
    assert missing == 150  # 1,150 dialogs have the full survey


def test_failed_esconv_original_format_normalised():
    dialogs, rejects = read_dialogs(ESCONV / "FailedESConv.json")
    assert len(dialogs) == 196 and rejects == []
    speakers = {t.speaker for d in dialogs for t in d.turns}
    assert speakers == {SEEKER, SUPPORTER}
    labels = {t.strategy for d in dialogs for t in d.turns if t.strategy}
    assert labels <= set(STRATEGIES) and "Others" in labels and "Question" in labels
    assert sum(d.survey["empathy"] is None for d in dialogs) == 54  # missing scores become null
    assert all(t.text == t.text.strip() and "\n" not in t.text for d in dialogs for t in d.turns)


def test_same_dialog_same_id_from_either_format(tmp_path: Path):
    obj = json.loads(real_dialog_lines("test", 1)[0])
    (tmp_path / "ESConv.json").write_text(json.dumps([to_original_format(obj)], indent=1))
    a = normalise_dialog(obj)
    (b,), rejects = read_dialogs(tmp_path / "ESConv.json")
    assert rejects == [] and a.dialog_id == b.dialog_id and a.turns == b.turns


@pytest.mark.parametrize("label,expected", [("Questions", "Question"), ("Other", "Others"),
                                            ("Direct Guidance", "Providing Suggestions"),
                                            ("Approval and Reassurance", "Affirmation and Reassurance"),
                                            ("Restatement", "Restatement or Paraphrasing"),
                                            ("[Self-disclosure]", "Self-disclosure")])
def test_strategy_aliases(label, expected):
    assert canonical_strategy(label) == expected


def broken_cases() -> dict[str, tuple[object, str]]:
    good = json.loads(real_dialog_lines("valid", 1)[0])
    sys_i = next(i for i, t in enumerate(good["dialog"]) if t["speaker"] == "sys")

    def edit(fn):
        obj = json.loads(json.dumps(good))
        fn(obj)
        return obj

    return {
        "missing dialog": (edit(lambda o: o.pop("dialog")), "missing field 'dialog'"),
        "missing situation": (edit(lambda o: o.pop("situation")), "missing field 'situation'"),
        "unknown speaker": (edit(lambda o: o["dialog"][sys_i].update(speaker="bot")), "unknown speaker 'bot'"),
        "unknown strategy": (edit(lambda o: o["dialog"][sys_i].update(strategy="Hugging")), "unknown strategy 'Hugging'"),
        "empty text": (edit(lambda o: o["dialog"][2].update(text="   ")), "dialog[2]: empty text"),
        "wrong type": (edit(lambda o: o["dialog"][0].update(text=42)), "must be a string, got int"),
        "bad score": (edit(lambda o: o["survey_score"]["seeker"].update(empathy="high")), "expected an integer"),
        "not an object": ([1, 2], "record must be a JSON object"),
        "supporter without strategy": (edit(lambda o: o["dialog"][sys_i].pop("strategy")), "without a strategy"),
    }


@pytest.mark.parametrize("case", sorted(broken_cases()))
def test_broken_record_rejected_with_reason(case):
    obj, reason = broken_cases()[case]
    with pytest.raises(InvalidDialog, match=None) as info:
        normalise_dialog(obj)
    assert reason in str(info.value)


def test_bad_json_line_and_duplicates_become_rejects(tmp_path: Path):
    lines = real_dialog_lines("valid", 2)
    (tmp_path / "train.json").write_text(lines[0] + "{not json\n" + lines[1] + lines[0])
    dialogs, rejects = read_dialogs(tmp_path)
    assert len(dialogs) == 2
    reasons = [r for _, r in rejects]
    assert reasons[0].startswith("malformed JSON at line 2")
    assert reasons[1].startswith("duplicate of train.json#0")
    assert len(dialogs) + len(rejects) == 4


def test_unreadable_inputs_are_one_line_errors(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        read_dialogs(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("[{\"dialog\": ")
    with pytest.raises(InputError, match="not valid JSON"):
        read_dialogs(tmp_path / "broken.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no .json files"):
        read_dialogs(empty)


def test_raw_records_keep_line_numbers(tmp_path: Path):
    f = tmp_path / "test.json"
    f.write_text("\n" + "".join(real_dialog_lines("test", 2)))
    recs = list(iter_raw_records(f))
    assert [r.line for r in recs] == [2, 3] and [r.index for r in recs] == [0, 1]
    assert parse_raw(recs[0])["dialog"]
