"""Near-duplicate removal for persona sentences (cumulative personas repeat themselves a lot).

Two sentences are duplicates when they are the same after normalising, or near-identical in characters and
the same in the three ways a small edit changes a fact: negation ("I am not married." / "I am married."),
numbers ("I am 40" / "I am 48") and content words ("I work at a bank." / "I work at a bar.")."""
from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9']+")
_NEGATIONS = frozenset(
    "not no never nothing nobody none neither nor cannot without nowhere "
    "dont cant didnt wont isnt doesnt arent wasnt werent havent hasnt hadnt couldnt wouldnt shouldnt aint".split())
_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBERS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
                 "hundred": 100})
_CLITICS = ("'s", "'m", "'re", "'ve", "'ll", "'d")  # "wife's" -> "wife", "i'm" -> "i" (a stop word)
_NO_APOSTROPHE = frozenset({"im", "ive"})  # "Im a nurse." says what "I'm a nurse." says


def normalise(sentence: str) -> str:
    """Lower case, words only: the form in which two persona sentences are compared."""
    return " ".join(_WORD.findall(sentence.lower().replace("\u2019", "'")))


def _negated(words: list[str]) -> bool:
    """Whether the sentence has a negation (contractions and their apostrophe-less typos included):
    one character separates "I am married." from "I am not married.", "I do like" from "I don't like"."""
    return any(_is_negation(w) for w in words)


def _is_negation(word: str) -> bool:
    return word in _NEGATIONS or word.endswith("n't")


def _numbers(words: list[str]) -> tuple[int, ...]:
    """The numbers the sentence states, digits and number words alike ("two kids" == "2 kids"; "forty eight"
    == "48"), sorted: "I am 40 years old." and "I am 48 years old." differ only here."""
    found: list[int] = []
    tens = False  # the last word was "twenty".."ninety", so a following "one".."nine" adds to it
    for w in words:
        if w in _NUMBERS:
            value = _NUMBERS[w]
            if tens and 0 < value < 10:
                found[-1] += value
            else:
                found.append(value)
            tens = 20 <= value < 100
        else:
            found += [int(d) for d in re.findall(r"\d+", w)]  # "40s" -> 40
            tens = False
    return tuple(sorted(found))


def _content(words: list[str]) -> frozenset[str]:
    """Stemmed content words (not stop words, negations or numbers, which the other guards compare), so
    "a bank" / "a bar" differ while "my dog" / "my dogs" and "I am" / "I'm" do not."""
    stop, stem = _stop_words(), _stemmer()
    out = set()
    for w in words:
        for clitic in _CLITICS:
            w = w.removesuffix(clitic)
        if w in stop or w in _NO_APOSTROPHE or w in _NUMBERS or _is_negation(w) or re.search(r"\d", w):
            continue
        out.add(stem(w))
    return frozenset(out)


@lru_cache(maxsize=65536)
def _facts(normalised: str) -> tuple[bool, tuple[int, ...], frozenset[str]]:
    """What two near-identical sentences must share to be merged: negation, numbers, content words."""
    words = [w.strip("'") for w in normalised.split()]
    words = [w for w in words if w]
    return _negated(words), _numbers(words), _content(words)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer().stem


def is_near_duplicate(a: str, b: str, threshold: float = 0.85) -> bool:
    """Same after normalising case/punctuation, or character similarity >= threshold with the same negation,
    numbers and content words (a high similarity alone merges "I work at a bank." with "I work at a bar.")."""
    na, nb = normalise(a), normalise(b)
    if na == nb:
        return True
    return SequenceMatcher(None, na, nb).ratio() >= threshold and _facts(na) == _facts(nb)


def merge_persona(existing: list[str], new: list[str], threshold: float = 0.85) -> list[str]:
    """Earlier persona plus the new sentences that are not near-duplicates of any kept one."""
    merged = list(existing)
    for sentence in new:
        if not normalise(sentence):
            continue
        if not any(is_near_duplicate(sentence, kept, threshold) for kept in merged):
            merged.append(sentence)
    return merged
