"""The statements of an utterance: the sentences in which a person says something, questions dropped.

Shared by the grounding check (`extractor.grounding`: only a statement can support a persona fact; asking
"where do you live?" states nothing about oneself) and the meaning check (`extractor.meaning`).
"""
from __future__ import annotations

import re

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_QUESTION_OPENER = (r"(?:(?:what|how|where|when|why|who|which)\s+)?"
                    r"(?:do|does|did|are|is|were|was|can|could|would|will|have|has|about)\s+(?:you|your|u|ya)\b")
_QUESTION_START = re.compile(r"\s+(?=" + _QUESTION_OPENER + ")", re.IGNORECASE)
# A question typed without "?": a wh-word, at most two words, an auxiliary, then its subject
# ("how many times should i do this", "what can i do"); "when i was young" is a statement.
_WH_QUESTION = (r"(?:how|what|where|when|why|who|which)(?:\s+\w+){0,2}?\s+"
                r"(?:should|can|could|do|does|did|would|will|is|are|am|was|were)\s+(?:i|you|we|he|she|they|it|my|your)\b")
# ... or an auxiliary before the speaker's own subject ("should I try to get her back though")
_SELF_QUESTION = r"(?:should|shall|can|could|would|will|do|does|did|am|may|might|must)\s+(?:i|we)\b"
_IS_QUESTION = re.compile(r"^\W*(?:" + _QUESTION_OPENER + "|" + _WH_QUESTION + "|" + _SELF_QUESTION + ")",
                          re.IGNORECASE)
WORD = re.compile(r"[a-z0-9]+")
# Where a statement's clauses meet: a comma or semicolon, or a conjunction before a new subject.
_CLAUSE_SPLIT = re.compile(r"\s*[,;:]\s+|\s+(?=(?:but|because|though|although)\s)|"
                           r"\s+(?=(?:so|and|or)\s+(?:i|we|my|our|i'm|im|i've|yeah|it|its|it's|that|they|he|she)\b)",
                           re.IGNORECASE)
_SPEAKER = re.compile(r"\b(i|i'm|im|iam|i've|ive|i'd|i'll|my|me|mine|myself|we|we're|we've|us|our|ours)\b",
                      re.IGNORECASE)


def speaks_of_self(text: str) -> bool:
    """First person (I, my, we, ...) anywhere in the text."""
    return bool(_SPEAKER.search(text.replace("\u2019", "'")))


def statements(utterance: str) -> list[str]:
    """The declarative sentences of an utterance (questions and one-word fragments dropped).

    Chat text often runs a statement into a question without punctuation ("i walk 3 miles to work
    everyday what do you do ?"): a question opener addressed to the partner starts a new sentence."""
    out = []
    pieces = [p for chunk in _SENTENCE_SPLIT.split(utterance.strip()) for p in _QUESTION_START.split(chunk)]
    for piece in pieces:
        s = piece.strip()
        if s and not s.rstrip(" *\"')").endswith("?") and not _IS_QUESTION.match(s) and len(WORD.findall(s.lower())) >= 2:
            out.append(s)
    return out


def clauses(statement: str) -> list[str]:
    """The first-person clauses of a statement with at least three words, when it has more than one clause
    ("i am in new york so yeah its very cold" -> "i am in new york"; "the boy was 12 , i am a school
    teacher" -> "i am a school teacher"). A short persona sentence is compared with them too: against the
    whole statement its encoder similarity is diluted by the rest."""
    parts = [p.strip() for p in _CLAUSE_SPLIT.split(statement) if p and p.strip()]
    if len(parts) < 2:
        return []
    return [p for p in parts if len(WORD.findall(p.lower())) >= 3 and speaks_of_self(p)]
