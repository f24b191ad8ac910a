"""Near-duplicate removal for persona sentences (cumulative personas repeat themselves a lot)."""
from __future__ import annotations

import re
from difflib import SequenceMatcher

_WORD = re.compile(r"[a-z0-9']+")


def normalise(sentence: str) -> str:
    """Lower case, words only: the form in which two persona sentences are compared."""
    return " ".join(_WORD.findall(sentence.lower().replace("\u2019", "'")))


def is_near_duplicate(a: str, b: str, threshold: float = 0.85) -> bool:
    """Same after normalising case/punctuation, or character similarity >= threshold."""
    na, nb = normalise(a), normalise(b)
    if na == nb:
        return True
    return SequenceMatcher(None, na, nb).ratio() >= threshold


def merge_persona(existing: list[str], new: list[str], threshold: float = 0.85) -> list[str]:
    """Earlier persona plus the new sentences that are not near-duplicates of any kept one."""
    merged = list(existing)
    for sentence in new:
        if not normalise(sentence):
            continue
        if not any(is_near_duplicate(sentence, kept, threshold) for kept in merged):
            merged.append(sentence)
    return merged
