"""Persona de-duplication: near-identical sentences merge only when they state the same fact."""
from difflib import SequenceMatcher

import pytest

from extractor.dedup import is_near_duplicate, merge_persona, normalise

DIFFERENT_FACTS = [
    ("I am not married.", "I am married."),  # negation
    ("I don't like cats.", "I do like cats."),  # negation as a contraction
    ("I dont like cats.", "I like cats."),  # ... and as its apostrophe-less typo
    ("I am 40 years old.", "I am 48 years old."),  # number
    ("I have two kids.", "I have 3 kids."),  # number word against digits
    ("My wife left me.", "My wife loves me."),  # content word
    ("I work at a bank.", "I work at a bar."),  # content word
    ("I really love my dog.", "I love my dog."),  # "really" is no sklearn stop word: a content word, kept apart
]

SAME_FACTS = [
    ("I love my dog.", "I LOVE my dog!!"),  # case and punctuation only: the same after normalising
    ("I have two kids.", "i have 2 kids"),  # a number word and its digits
    ("I love my dog.", "I love my dogs!"),  # inflection: the same stem
    ("I'm a nurse.", "I am a nurse."),  # "i'm" -> "i", a stop word like "am": the same content, no negation
    ("My wife's name is Ann.", "My wifes name is Ann."),  # trailing "'s"
    ("I love my dog so much.", "I love my dog very much."),  # stop words only ("so", "very")
]


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, normalise(a), normalise(b)).ratio()


@pytest.mark.parametrize("a, b", DIFFERENT_FACTS)
def test_different_facts_stay_apart(a, b):
    assert not is_near_duplicate(a, b)
    assert not is_near_duplicate(b, a)
    # not just the character similarity: even a threshold both pairs pass keeps them apart
    low = min(similarity(a, b), 0.85)
    assert not is_near_duplicate(a, b, threshold=low)
    assert merge_persona([a], [b], threshold=low) == [a, b]


def test_the_reported_pairs_pass_the_character_threshold():
    """The three of the four reported pairs that the character similarity alone would merge at 0.85."""
    for a, b in [("I am not married.", "I am married."), ("I am 40 years old.", "I am 48 years old."),
                 ("I work at a bank.", "I work at a bar.")]:
        assert similarity(a, b) >= 0.85
        assert not is_near_duplicate(a, b)


@pytest.mark.parametrize("a, b", SAME_FACTS)
def test_same_facts_merge(a, b):
    assert is_near_duplicate(a, b)
    assert is_near_duplicate(b, a)
    assert merge_persona([a], [b]) == [a]


def test_dissimilar_sentences_with_the_same_facts_stay_apart():
    """The guards only veto a merge; the character similarity still has to be reached."""
    assert not is_near_duplicate("I have three dogs and a cat.", "I have a cat and three dogs.")


def test_threshold_above_one_merges_only_normalised_equals():
    assert is_near_duplicate("I love my dog.", "i love my dog", threshold=1.01)
    assert not is_near_duplicate("I love my dog.", "I love my dogs.", threshold=1.01)


def test_merge_persona_keeps_the_first_of_duplicates_and_the_order():
    existing = ["I am not married.", "I work at a bank."]
    new = ["I am married.", "i am not married", "I have two kids.", "I work at a bar.", "I have 2 kids!", "",
           "I love my dogs.", "I love my dog.", "I am 40 years old.", "I am 48 years old.", "My wife left me.",
           "My wife loves me.", "!!"]
    assert merge_persona(existing, new) == [
        "I am not married.", "I work at a bank.", "I am married.", "I have two kids.", "I work at a bar.",
        "I love my dogs.", "I am 40 years old.", "I am 48 years old.", "My wife left me.", "My wife loves me."]
    assert existing == ["I am not married.", "I work at a bank."]  # not modified in place
