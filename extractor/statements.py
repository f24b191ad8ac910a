"""The statements of an utterance: the sentences in which a person says something, questions dropped.

Shared by the grounding check (`extractor.grounding`: only a statement can support a persona fact; asking
"where do you live?" states nothing about oneself) and the meaning check (`extractor.meaning`).
"""
from __future__ import annotations

import re

# Sentences end at . ! ? or a line break, and at the turn counter some ESConv seekers typed after a turn: "(7)"
_TURN_COUNTER = r"\s*\(\d{1,2}\)(?=\s|$)\s*"
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\s*\n\s*|" + _TURN_COUNTER)
_TURN_COUNTER_AT_END = re.compile(_TURN_COUNTER + "$")
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
# A clause that does not stand alone: it opens with a subordinating or relative word ("because they might accuse
# me", "which I knew 4 years ago") or with a conjunction that the speaker's subject does not follow ("or reduce my
# hours", "but even then ..."), or it ends a joint subject ("my husband and I are separating": "and I are ...");
# as a sentence of its own it says nothing, needs the clause before it or changes who did it.
_DEPENDENT = re.compile(r"^\W*(?:(?:because|cause|cuz|bc|though|although|which|who|whom|whose|when|whenever|while|"
                        r"if|unless|until|since|as|that|where|whereas|than)\b|(?:and|but|or|so|yet|then)\b(?!\W+"
                        r"(?:i|i'm|im|i've|ive|i'd|i'll|my|we|we're|we've|our)\b)|(?:and|or)\W+(?:i|me)\W+"
                        r"(?:are|were|both|have\s+both|have\s+been\s+together)\b)", re.IGNORECASE)
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
    return _first_person(parts)


def _first_person(parts: list[str]) -> list[str]:
    """The parts of at least three words that speak of the speaker: the clauses worth comparing or keeping."""
    return [p for p in parts if len(WORD.findall(p.lower())) >= 3 and speaks_of_self(p)]


def standalone_clauses(statement: str) -> list[str]:
    """The first-person clauses of a statement that can stand as sentences of their own, when it has more than one:
    a dependent clause (`_DEPENDENT`) in the first person stays joined to the clause before it, so "I can't tell my
    boss, because he might fire me" stays whole, "I love my job, but it is stressful" gives "I love my job" (as
    `clauses` does: a clause not in the first person is not one) and "I have two kids, and I work in retail" gives
    both. Each is a stretch of the statement (its evidence span can be found in the utterance)."""
    cuts = [0] + [x for m in _CLAUSE_SPLIT.finditer(statement) for x in (m.start(), m.end())] + [len(statement)]
    spans = [(a, b) for a, b in zip(cuts[::2], cuts[1::2]) if statement[a:b].strip()]
    joined: list[list[int]] = []
    for a, b in spans:
        if joined and _DEPENDENT.match(statement[a:b]) and speaks_of_self(statement[a:b]):
            joined[-1][1] = b
        else:
            joined.append([a, b])
    if len(joined) < 2:
        return []
    return _first_person([statement[a:b].strip() for a, b in joined])


def strip_turn_counter(sentence: str) -> str:
    """The sentence less an ESConv turn counter at its end ("I have not needed a resume for over 10 years (7)")."""
    return _TURN_COUNTER_AT_END.sub("", sentence)
