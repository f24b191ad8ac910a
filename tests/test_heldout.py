"""Held-out extractor data shares no persona sentence with training (PERSONA-CHAT reuses a sentence pool)."""
from __future__ import annotations

import json
from difflib import SequenceMatcher

import pytest

from extractor.dedup import normalise
from extractor.heldout import NEAR_DUPLICATE, canonical, persona_groups, split_by_persona
from schemas.personachat import PersonaPair, read_sources
from tests.helpers import PERSONACHAT_CSV, REPO, SYNTHETIC_CSV


@pytest.fixture(scope="module")
def real_pairs() -> list[PersonaPair]:
    return read_sources([PERSONACHAT_CSV, SYNTHETIC_CSV])[0]


def assert_persona_disjoint(pairs: list[PersonaPair], kept: list[int], held: list[int]) -> None:
    train_sentences = {canonical(s) for i in kept for s in pairs[i].persona}  # every possible training target
    held_sentences = {canonical(s) for i in held for s in pairs[i].persona}
    assert held_sentences and not held_sentences & train_sentences
    for h in held_sentences:  # not even a near-duplicate ("i have 2 dogs" / "i have two dogs")
        assert all(SequenceMatcher(None, h, t).ratio() < NEAR_DUPLICATE for t in train_sentences), h


def test_a_row_split_would_leak_but_the_persona_split_does_not(real_pairs):
    every_other = list(range(0, len(real_pairs), 10))
    rest = [i for i in range(len(real_pairs)) if i % 10]
    leaked = {normalise(s) for i in every_other for s in real_pairs[i].persona} & \
             {normalise(s) for i in rest for s in real_pairs[i].persona}
    assert len(leaked) > 100  # the trap: a split by row shares most persona sentences
    kept, held = split_by_persona(real_pairs, 0.12, seed=13)
    assert not set(kept) & set(held) and len(kept) + len(held) == len(real_pairs)
    assert 0.1 < len(held) / len(real_pairs) < 0.2
    assert_persona_disjoint(real_pairs, kept, held)
    assert split_by_persona(real_pairs, 0.12, seed=13) == (kept, held)  # seeded


def test_the_shipped_adapter_was_trained_on_a_persona_disjoint_split(real_pairs):
    split = json.loads((REPO / "extractor" / "default_adapter" / "split.json").read_text())
    assert split["data"] == ["../shared/data/personachat/valid.csv", "../shared/data/synthetic-persona-chat/valid.csv"]
    assert split["n_pairs"] == [2000, 2000] and split["limit"] is None
    held = split["heldout"]
    kept = sorted(set(range(len(real_pairs))) - set(held))
    assert_persona_disjoint(real_pairs, kept, held)


def test_groups_follow_shared_sentences():
    pairs = [PersonaPair(("hi",), ("i have two dogs.", "i am a nurse.")),
             PersonaPair(("hi",), ("i am a nurse .", "i like tea.")),
             PersonaPair(("hi",), ("i have 2 dogs.",)),
             PersonaPair(("hi",), ("i ride horses.",))]
    groups = persona_groups(pairs)
    assert groups[0] == groups[1]  # "i am a nurse" after normalising
    assert groups[2] == groups[0]  # near-duplicate of "i have two dogs"
    assert groups[3] != groups[0]


def test_reading_a_split_checks_its_sources_with_one_line_errors(tmp_path):
    from common.cli import InputError
    from extractor.heldout import read_split

    pairs, split = read_split(REPO / "extractor" / "default_adapter")
    assert len(pairs) == sum(split["n_pairs"]) and split["heldout"] and isinstance(split["data"], list)
    with pytest.raises(InputError, match="split.json not found"):
        read_split(tmp_path)
    (tmp_path / "split.json").write_text(json.dumps({"data": str(PERSONACHAT_CSV), "n_pairs": 3, "heldout": [0]}))
    with pytest.raises(InputError, match=r"hold \[2000\] pairs but .* was made from \[3\]"):
        read_split(tmp_path)
