"""Self-training labels (extractor.self_training) on hand-made cases, and the evaluation's refusal to
score ESConv dialogs whose labels trained the adapter under test."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.cli import InputError
from extractor.formatting import ExtractionInput
from extractor.grounding import SupportScorer, minilm_embedder
from extractor.self_training import MISSED, NONE, STATED, UNLABELLED, label_items, label_utterance
from pipelines.evaluate_extractor import main as evaluate
from schemas.esconv import read_dialogs
from tests.helpers import ESCONV


@pytest.fixture(scope="module")
def scorer() -> SupportScorer:
    return SupportScorer(minilm_embedder())


def test_a_faithful_copy_is_a_target_and_an_invented_sentence_is_left_out(scorer):
    inp = ExtractionInput(("I work as a nurse at the city hospital and I have two dogs.",), "what do you do?")
    lab = label_utterance(inp, ["I work as a nurse at the city hospital.", "I am a pilot."], scorer)
    assert lab.label == STATED and lab.targets == ("I work as a nurse at the city hospital.",)
    assert "1 unsupported left out" in lab.reason


def test_a_supported_sentence_with_added_words_is_not_trained_on(scorer):
    inp = ExtractionInput(("I go to see one of my specialists tomorrow actually VA",), "")
    lab = label_utterance(inp, ["I am going to see my specialist tomorrow at the VA hospital."], scorer)
    assert lab.label == UNLABELLED and lab.targets == () and lab.reason == "supported but adds words: hospit"


def test_nothing_said_about_the_seeker_is_none_even_when_the_model_invented(scorer):
    inp = ExtractionInput(("Thank you so much, that helps.",), "Maybe try a walk every morning.")
    lab = label_utterance(inp, ["I like to walk every morning."], scorer)
    assert lab.label == NONE and lab.targets == ()


def test_missed_statements_are_kept_for_copy_targets(scorer):
    inp = ExtractionInput(("I live in southern Tennessee with my two kids.",), "")
    lab = label_utterance(inp, [], scorer)
    assert lab.label == UNLABELLED and lab.reason == MISSED
    assert lab.statements == ("I live in southern Tennessee with my two kids.",)


def test_label_items_split_by_dialog_and_copy_only_when_asked():
    rows = [{"dialog_id": f"d{i % 10}", "utterance": f"u{i}", "context": "", "label": label, "reason": reason,
             "targets": ["i am a nurse."] if label == STATED else [], "statements": ["i am tired."]}
            for i, (label, reason) in enumerate([(STATED, "1 faithful"), (NONE, "x"), (UNLABELLED, MISSED)] * 10)]
    train, valid, counts = label_items(rows, none_ratio=1.0, valid_fraction=0.2, seed=1)
    valid_dialogs = {r["dialog_id"] for r in rows if r["utterance"] in {i.input.utterances[0] for i in valid}}
    train_dialogs = {r["dialog_id"] for r in rows if r["utterance"] in {i.input.utterances[0] for i in train}}
    assert counts["valid_dialogs"] == 2 and not valid_dialogs & train_dialogs
    assert all(i.targets in (("i am a nurse.",), ()) for i in train) and counts["copied"] == 0
    copied_train, _, copied_counts = label_items(rows, none_ratio=1.0, valid_fraction=0.2, seed=1, copy=True)
    assert copied_counts["copied"] == copied_counts["unlabelled"] + copied_counts["copied"] > 0
    assert sum(i.targets == ("i am tired.",) for i in copied_train) == copied_counts["copied"]


def test_evaluation_refuses_dialogs_that_trained_the_adapter(tmp_path: Path):
    dialogs, _ = read_dialogs(ESCONV / "valid.json")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "split.json").write_text(json.dumps({"esconv_label_dialogs": [d.dialog_id for d in dialogs]}))
    with pytest.raises(InputError, match="trained the adapter"):
        evaluate(["--esconv", str(ESCONV / "valid.json"), "--esconv-dialogs", "3", "--adapter", str(adapter)])


def test_labelling_refuses_a_test_split():
    from pipelines.label_esconv import main as label

    with pytest.raises(InputError, match="test split"):
        label(["--esconv", str(ESCONV / "test.json")])


def test_labelling_with_the_rule_writes_copy_labels(tmp_path: Path):
    """`--extractor rule` labels without a model: a seeker's statements become faithful copies (stated) and an
    utterance that says nothing about the seeker becomes NONE; every row names its dialog and turn."""
    from pipelines.label_esconv import main as label

    out = tmp_path / "labels.jsonl"
    assert label(["--esconv", str(ESCONV / "train.json"), "--dialogs", "2", "--extractor", "rule",
                  "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    meta = json.loads(Path(str(out) + ".meta.json").read_text())
    assert len(rows) == meta["utterances"] > 0 and len(meta["dialog_ids"]) == 2
    assert {r["dialog_id"] for r in rows} == set(meta["dialog_ids"])
    stated = [r for r in rows if r["label"] == "stated"]
    assert stated and all(t.lower().rstrip(".") in r["utterance"].lower() for r in stated for t in r["targets"])
    assert all(r["label"] in {"stated", "none", "unlabelled"} for r in rows)
