"""Pronouns of kept sentences named by the person the dialog named before (extractor.referents) in the fold."""
from __future__ import annotations

import json
import math
from pathlib import Path

import apache_beam as beam
import pytest

from common.cli import InputError
from extractor.referents import (
    FEATURES,
    PronounNamer,
    ReferentRanker,
    candidates,
    dialog_mentions,
    features,
    first_pronoun,
    mentions,
    name_the_person,
    rewrite,
    shipped_ranker,
)
from extractor.requests import seeker_positions
from pipelines.build_settings import BuildSettings
from pipelines.build_steps import CUT, REFERENT, fold_dialog
from pipelines.elements import GroundedSentence, Outcome, TurnOutcome, ValidDialog
from schemas.esconv import RawRecord, normalise_dialog
from tests.helpers import real_dialog_lines

SURE = ReferentRanker([2.0, 0, -1.0, 0, -2.0] + [0] * (len(FEATURES) - 5), 0.0, 0.5)  # gendered, recent: sure


def test_people_are_the_seekers_mine_and_the_supporters_yours():
    named = mentions([(0, "My husband and my kids are home.", False), (1, "How is your best friend?", True),
                      (2, "Your sister said my mom's cat", False)])
    assert [(m.text, m.turn, m.from_supporter) for m in named if not m.other] == [
        ("my husband", 0, False), ("my kids", 0, False), ("my best friend", 1, True), ("my mom", 2, False)]
    assert [m.text for m in named if m.other] == ["your sister"]  # the supporter's sister: someone else


def test_people_the_ranker_cannot_name_count_against_a_candidate_before_them():
    named = mentions([(0, "My dad is strict.", False), (1, "Then I met a guy at work and Rick too.", False)])
    assert [m.text for m in named if m.other] == ["a guy", "rick"]
    pronoun = first_pronoun("he called me")
    rows = features(pronoun, candidates(pronoun, named), named, 1)
    assert rows[0][FEATURES.index("others_after")] > 0


def test_a_she_said_before_the_only_woman_was_named_counts_against_her():
    """A "she" said before the seeker named their daughter was someone the dialog never named (a friend): the
    shipped ranker is less sure that a later "her" is the daughter than where nobody was "she" before her."""
    friend_first = mentions([(0, "She has time for others and not for us.", False), (1, "Is she close to you?", True),
                             (2, "My daughter has lots of dance classes.", False)])
    daughter_only = mentions([(0, "I feel left out lately.", False), (1, "I am sorry to hear that.", True),
                              (2, "My daughter has lots of dance classes.", False)])
    pronoun = first_pronoun("I miss her so much.")
    for named, said in ((friend_first, 2), (daughter_only, 0)):
        row = features(pronoun, candidates(pronoun, named), named, 3)[0]
        assert row[FEATURES.index("pronouns_before")] == pytest.approx(math.log1p(said))
    assert [m.text for m in friend_first if m.pronoun] == ["she", "she"]
    assert not candidates(pronoun, [m for m in friend_first if m.pronoun])  # a pronoun is never a candidate
    p_friend = name_the_person("I miss her so much.", friend_first, 3, 0)[2]
    p_daughter = name_the_person("I miss her so much.", daughter_only, 3, 0)[2]
    assert p_friend < p_daughter - 0.03


def test_a_named_person_takes_the_place_of_the_conjunction_before_the_pronoun():
    named = dialog_mentions([("supporter", "How is your husband?"), ("seeker", "Not good.")])
    assert name_the_person("because he works all day", named, 2, 0, SURE)[0] == "my husband works all day"
    assert name_the_person("because it works", named, 2, 0, SURE)[0] == "because it works"  # nothing named


def test_a_pronoun_whose_person_the_sentence_names_is_left_alone():
    assert first_pronoun("My boyfriend left and he took the dog.") is None
    assert first_pronoun("Then Jenny said she would call.") is None  # a name before it
    assert first_pronoun("I do not trust him.").word == "him"
    assert first_pronoun("I am tired.") is None


def test_only_people_of_the_pronouns_gender_and_number_are_candidates():
    named = mentions([(0, "my wife and my boss and my dad and my parents", False)])
    assert [c.text for c in candidates(first_pronoun("they left"), named)] == ["my parents"]
    assert [c.text for c in candidates(first_pronoun("he left"), named)] == ["my boss", "my dad"]
    assert [c.text for c in candidates(first_pronoun("she left"), named)] == ["my wife", "my boss"]
    assert [c.text for c in candidates(first_pronoun("I have to stay with him"),
                                       mentions([(0, "I take care of my grandson.", False)]))] == ["my grandson"]


@pytest.mark.parametrize("sentence, person, expected", [
    ("He throws away the bills.", "my husband", "My husband throws away the bills."),
    ("I told her that I care.", "my wife", "I told my wife that I care."),
    ("I love her.", "my wife", "I love my wife."),
    ("I miss her cooking.", "my mom", "I miss my mom's cooking."),
    ("his mother hates me", "my husband", "My husband's mother hates me"),
    ("I call her daily.", "my mom", "I call my mom daily."),
    ("She's moved on.", "my wife", "My wife has moved on."),
    ("she's bitter", "my wife", "My wife is bitter"),
    ("he'll take her side", "my brother", "My brother will take her side"),
    ("she'd gone off with someone else", "my girlfriend", "My girlfriend had gone off with someone else"),
    ("she'd like that", "my mom", "My mom would like that"),
    ("I caught her cheating.", "my wife", None),  # "her" could be either: left as written
    ("They don't approve of me.", "my parents", "My parents don't approve of me."),
    ("I don't share their beliefs", "my parents", "I don't share my parents' beliefs"),
    ("they're mad at me", "my family", "My family are mad at me"),
    ("I miss their cooking", "my children", "I miss my children's cooking"),
])
def test_the_rewrite_keeps_the_pronouns_role(sentence, person, expected):
    assert rewrite(sentence, first_pronoun(sentence), person) == expected


def test_a_sentence_is_rewritten_only_when_the_ranker_is_sure():
    named = dialog_mentions([("supporter", "How is your husband?"), ("seeker", "Not good. He left.")])
    assert name_the_person("He left.", named, 1, 10, SURE)[0] == "My husband left."
    unsure = ReferentRanker([0.0] * len(FEATURES), -3.0, 0.5)
    assert name_the_person("He left.", named, 1, 10, unsure) == ("He left.", None, pytest.approx(0.047, abs=1e-3))
    assert name_the_person("He left.", named[:0], 1, 10, SURE)[1] is None  # nobody named before
    # the same person named later in the sentence: left as written
    assert name_the_person("I talk to him, but my husband is busy.", named, 1, 10, SURE)[1] is None


def test_the_shipped_ranker_loads_and_a_broken_one_is_a_clear_error(tmp_path: Path):
    ranker = shipped_ranker().rankers["singular"]
    assert 0 < ranker.threshold <= 1 and ranker.card["train_items"] > 0
    bad = tmp_path / "ranker.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read the referent ranker"):
        PronounNamer.load(bad)
    bad.write_text(json.dumps({"rankers": {"singular": {"weights": [1.0], "bias": 0, "threshold": 0.5}}}),
                   encoding="utf-8")
    with pytest.raises(InputError, match=f"1 weights for {len(FEATURES)} features"):
        PronounNamer.load(bad)


def _fold(settings: BuildSettings):
    """A real ESConv dialog ("my boyfriend" in seeker turn 4) with a kept sentence of turn 10 ("He thinks ...")."""
    d = normalise_dialog(json.loads(real_dialog_lines("valid", 21)[20]), "valid.json", 20)
    text = d.turns[10].text
    sentence = "He thinks I have been spending so much"
    start = text.index(sentence)
    assert "my boyfriend" in d.turns[4].text.lower() and 10 in seeker_positions(d)
    results = {p: [] for p in seeker_positions(d)}
    results[10] = [GroundedSentence(sentence, True, 0, 0.0, 0.0, span=(start, start + len(sentence)),
                                    stated=0.9, fact=0.9)]
    valid = ValidDialog(d, 0, "valid", RawRecord(d.source, d.source_index, None))
    persona = [TurnOutcome(turn, Outcome(tuple(s))) for turn, s in results.items()]
    out = list(fold_dialog((d.dialog_id, {"dialog": [valid], "persona": persona}), settings))
    row = next(o for o in out if isinstance(o, dict))
    cut = [o.value for o in out if isinstance(o, beam.pvalue.TaggedOutput) and o.tag == CUT]
    return d, row, cut


def test_the_fold_names_the_person_and_lists_the_change():
    d, row, cut = _fold(BuildSettings())
    assert row["persona"] == ["My boyfriend thinks I have been spending so much"]
    assert row["persona_evidence"] == [10] and row["dialog"][-1]["persona"] == row["persona"]
    assert cut == [{"dialog_id": d.dialog_id, "turn": 10, "generated": "He thinks I have been spending so much",
                    "kept": "My boyfriend thinks I have been spending so much", "change": REFERENT,
                    "referent": "my boyfriend", "referent_turn": 4, "probability": cut[0]["probability"]}]
    assert cut[0]["probability"] >= shipped_ranker().rankers["singular"].threshold


def test_keep_pronouns_leaves_the_sentence_as_the_seeker_wrote_it():
    _, row, cut = _fold(BuildSettings(referents=False))
    assert row["persona"] == ["He thinks I have been spending so much"] and cut == []
