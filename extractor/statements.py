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
# Where a statement's clauses meet: a comma or semicolon, or a conjunction before a new subject; a "though" right
# before "because" ends the clause before it ("I'm worried how it'll go though because we have kids").
_CLAUSE_SPLIT = re.compile(r"\s*[,;:]\s+|\s+(?=(?:but|because|(?:al)?though(?!\s+(?:because|cause|cuz|bc)\b))\s)|"
                           r"\s+(?=(?:so|and|or)\s+(?:i|we|my|our|i'm|im|i've|yeah|it|its|it's|that|they|he|she)\b)",
                           re.IGNORECASE)
# A clause that does not stand alone: it opens with a subordinating or relative word ("because they might accuse
# me", "which I knew 4 years ago") or with a conjunction that the speaker's subject does not follow ("or reduce my
# hours", "but even then ..."), or it ends a joint subject ("my husband and I are separating": "and I are ...");
# A purpose is one too: "so I can live somewhere better" is what the seeker wants, not a fact ("so I can't sleep",
# a result, stands alone).
# As a sentence of its own it says nothing, needs the clause before it or changes who did it.
_SUBORDINATE = (r"(?:even\s+)?(?:because|cause|cuz|bc|though|although|which|who|whom|whose|when|whenever|while|if|"
                r"unless|until|since|as|that|where|whereas|than)\b")
_DEPENDENT = re.compile(r"^\W*(?:" + _SUBORDINATE + r"|(?:and|but|or|so|yet|then)"
                        r"\b(?!\W+(?:i|i'm|im|i've|ive|i'd|i'll|my|we|we're|we've|our)\b)|(?:and|or)\W+(?:i|me)\W+"
                        r"(?:are|were|both|have\s+both|have\s+been\s+together)\b|so\s+(?:that\s+)?(?:i|we)\s+"
                        r"(?:can|could)\s+(?!not\b))", re.IGNORECASE)
_OPENS_SUBORDINATE = re.compile(r"^\W*" + _SUBORDINATE, re.IGNORECASE)
# ... except a reason the speaker gives in the first person after a clause of theirs: "I have anxiety because my job
# is unfulfilling" states both ("I have anxiety", "my job is unfulfilling"), each a fact of its own. A reason that opens
# the statement ("Because I was sad, I left") stays with the clause after it (`_MODIFIER`), and one after what the
# speaker fears, thinks or was told (`_FRAME`, below) may be part of it and stays too.
_OWN_REASON = re.compile(r"^\W*(?:because|cause|'cause|cuz|coz|bc)\s+(?:i|i'm|im|i've|ive|i'd|i'll|my|we|we're|we've|"
                         r"our)\b", re.IGNORECASE)
# ... and only when the clause before neither ends in a word that makes the reason part of it ("just because", "not
# because", "and because", "is because") nor opens with a hedge over the whole statement ("Maybe I failed because I'm
# stupid" does not state "I'm stupid"), and no "not because" follows, whose scope the cut would move ("I'm upset
# because I want to call her off, not because I lost a friendship").
_HELD_REASON = re.compile(r"\b(?:just|only|simply|mainly|partly|mostly|all|not|never|and|or|but|so|is|was|are|be|"
                          r"it's|its|that's|thats)\W*$|^\W*(?:maybe|perhaps|probably|possibly)\b", re.IGNORECASE)
_NOT_BECAUSE = re.compile(r"\bnot\s+(?:just\s+|only\s+)?because\b", re.IGNORECASE)
# A piece that sets the time, condition or reason of a clause ("if I lose my job", "in the past", "after 15 years
# and 4 kids", "Due to the mandates in my area"): it belongs to the clause before it, or, at the start (after at most
# an answer such as "Yes" or "Exactly right"), to the clause after it; cut off, "If I lose my job, I will lose my
# house" would state "I will lose my house".
_TIME_OR_CONDITION = ("if|when|whenever|while|since|once|unless|until|after|before|in|at|on|during|for|over|by|within|"
                      "from|with|without")
_MODIFIER = re.compile(r"^\W*(?:(?:and|but|or|so|so that|then)\s+)?(?:even\s+)?(?:" + _TIME_OR_CONDITION
                       + r"|because|cause|as|though|although|due\s+to|despite|given|instead\s+of|thanks\s+to|"
                         r"in\s+spite\s+of|regardless\s+of|according\s+to)\b", re.IGNORECASE)
# ... of which those that set a time or a condition stay with the clause before them too ("I will be fine, if he
# comes back"); a reason or a concession ("because ...", "though ...") not in the first person may be cut off.
_CONDITION = re.compile(r"^\W*(?:even\s+)?(?:" + _TIME_OR_CONDITION + r")\b", re.IGNORECASE)
# A joint subject: "my boyfriend and I just broke up" is one clause, not "my boyfriend" and "and I just broke up"; nor is
# "My dad and my GF's dad both have opinions" "and my GF's dad both have opinions". Two noun phrases with nothing after
# them ("The ongoing pandemic and my financial situation.", an answer) are no subject: at least three words must follow.
_JOINT_SUBJECT = re.compile(r"^\W*(?:my|our|his|her|their|the|a|an)(?:\s+\w+){1,2}\s+(?:and|&)\s+"
                            r"(?:(?:i|me)\b|(?:my|our|his|her|their|the)(?:\s+\S+){3})", re.IGNORECASE)
# The last thing a statement names after "and" / "or", a noun phrase of two or three words, is what its clause names too
# ("I am very sad about this country and my work situation", "I love my wife and my great kids"), not a clause of its own.
_LISTED_LAST = re.compile(r"^\W*(?:and|or|&)\s+(?:my|our|his|her|their|the|a|an)(?:\s+[\w'-]+){1,2}\W*$", re.IGNORECASE)
# ... or the speaker first: "me and my bf and friends just have to hang out online" is not "me" and "my bf ...", nor
# "I or my Mom will get it" "I" and "my Mom will get it".
_ME_AND = re.compile(r"\b(?:me|i)\s+(?:and|&|or)\s+(?:my|our|his|her|their|the|a|an)$", re.IGNORECASE)
# ... or someone and the speaker, at the start or after a reason or a time: "because my boyfriend and I just broke up",
# "My best friend and I constantly argue" (not "I lost my job and I can't find another": a verb comes before "my").
_AND_ME = re.compile(r"(?:^\W*|\b(?:because|cause|since|when|after|before|until|while|like|that|if|recently|now|and|but|"
                     r"so)\s+)(?:my|our|his|her|their)(?:\s+[\w'-]+){1,2}\s+(?:and|&)\s+(?:i|me)$", re.IGNORECASE)
# The words a piece with a subject of its own (or an answer, a greeting, a reason) opens with, after an optional conjunction;
# a piece after a clause that opens otherwise continues that clause's subject ("I have had back surgery, tried
# Yoga, and physical therapy"; "I lost my job, can't find another"; "I feel lonely, going in circles in my head")
# and stays with it, unless it opens with the speaker (`_SELF_OPENER`: "and my daughter lost her godmother").
# What the speaker fears, thinks, feels or was told: "I fear that I will bring this home to my family and I will not
# survive it" does not state "I will not survive it", nor "I'm scared that if I continue to work, I'm putting him in
# danger" "I'm putting him in danger", nor "I'm still anxious that I won't prepare enough and I'll get bad grades"
# "I'll get bad grades". A clause joined by and / or / then after such a frame (no comma between) stays inside it,
# unless it opens a frame of its own ("... and I'm worried I made a mistake"), and so does the clause after a
# condition the frame opened ("... that if ..., ...", "I think if I am late again, I will be let go").
_FRAME = re.compile(r"\b(?:(?:anxious|nervous|concerned)(?=\s+that\b)|fears?|feared|worry|worried|worrying|afraid|scared|terrified|think|thinks|thought|"
                    r"(?:feel|feels|felt|feeling)\s+like|hope|hoping|wish|dreams?|believe|guess|suppose|wonder|"
                    r"wondering|said|says|told\s+me|tells\s+me)\s+(?:that\s+|whether\s+|like\s+)?"
                    r"(?P<open>if|when|i|i'm|im|i'd|i'll|i've|he|she|they|it|it's|its|my|we|you|this|there|that|the)\b",
                    re.IGNORECASE)
_IN_FRAME = re.compile(r"^\W*(?:and|or|then)\b", re.IGNORECASE)
_CONJUNCTIONS = r"^\W*(?:(?:and|but|or|so|yet|then|now|also|plus)\s+)*"  # what may open a piece before its subject
_OWN_OPENER = re.compile(_CONJUNCTIONS + r"(?:[A-Z]|\d|(?:you|u|he|she|it|we|they|"
                         r"this|that|these|those|there|here|your|his|her|its|our|their|the|a|an|some|any|all|every|"
                         r"each|no|none|both|many|most|one|someone|something|somebody|anyone|anything|anybody|"
                         r"everyone|everything|everybody|nobody|nothing|who|what|which|yes|yeah|yep|nope|ok|okay|oh|"
                         r"well|lol|haha|thank\w*|sorry|please|hi|hello|hey|wow|great|sure|right|exactly|"
                         r"really|maybe|honestly|anyway|too|either|even|because|cause|cuz|bc|though|although|whom|whose|"
                         r"whereas|than|as|where|[a-z]+'(?:s|re|ve|ll|d))\b)")
_SELF_OPENER = re.compile(_CONJUNCTIONS + r"(?:i|i'm|im|iam|i've|ive|i'd|i'll|"
                          r"my|me|we|we're|we've|our)\b", re.IGNORECASE)
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


def _pieces(statement: str, reasons: bool = True) -> list[str]:
    """The statement cut where its clauses meet, each modifier (`_MODIFIER`), dependent clause in the first person
    (`_DEPENDENT`, but for a reason after a clause: `_OWN_REASON`, unless `reasons` is False) or continuation without a
    subject of its own (`_OWN_OPENER`) kept with its clause, and a joint subject left whole (`_JOINT_SUBJECT`,
    `_ME_AND`)."""
    cuts = [0] + [x for m in _CLAUSE_SPLIT.finditer(statement) for x in (m.start(), m.end())] + [len(statement)]
    spans = [(a, b) for a, b in zip(cuts[::2], cuts[1::2]) if statement[a:b].strip()]
    joined: list[list[int]] = []
    opens_at: int | None = None  # where modifiers waiting for the clause after them start
    for k, (a, b) in enumerate(spans):
        piece = statement[a:b]
        before = statement[joined[-1][0]:a] if joined else ""  # the piece before this one, with what cut them apart
        clause_before = bool(joined) and opens_at is None and _is_clause(before)
        opening = len(WORD.findall(before.lower())) <= 3
        if (opening or opens_at is not None) and not clause_before and _MODIFIER.match(piece) and k < len(spans) - 1:
            opens_at = a if opens_at is None else opens_at
        elif opens_at is not None:
            joined.append([opens_at, b])
            opens_at = None
        elif (reasons and clause_before and _OWN_REASON.match(piece)
              and not (_FRAME.search(before) or _HELD_REASON.search(before))
              and not _NOT_BECAUSE.search(statement, b)):
            joined.append([a, b])
        elif joined and ((_DEPENDENT.match(piece) and speaks_of_self(piece))
                         or (clause_before and (_CONDITION.match(piece)
                                                or not (_SELF_OPENER.match(piece) or _OWN_OPENER.match(piece))))
                         or (not clause_before and _JOINT_SUBJECT.match(before + piece))
                         or (clause_before and k == len(spans) - 1 and _LISTED_LAST.match(piece))
                         or _in_frame(before, piece)
                         or _joins_the_speaker(before + " ".join(piece.split()[:2]))):
            cut_off = statement[joined[-1][0]:a]
            joined[-1][1] = b
            if (len(joined) > 1 and _OPENS_SUBORDINATE.match(cut_off) and not speaks_of_self(cut_off)
                    and speaks_of_self(piece)):
                joined[-2][1] = b  # "because of Covid, which I had": the reason was cut off; with "I" it stays
                joined.pop()
        else:
            joined.append([a, b])
    return [statement[a:b].strip() for a, b in joined]


def _joins_the_speaker(seam: str) -> bool:
    """The end of the piece before and the first words of this one name the speaker and someone together
    (`_ME_AND`: "I or my Mom will ..."; `_AND_ME`: "because my boyfriend and I ...")."""
    return bool(_ME_AND.search(seam) or _AND_ME.search(seam))


def _in_frame(before: str, piece: str) -> bool:
    """The piece continues what the clause before it fears, thinks or was told (`_FRAME`)."""
    frame = _FRAME.search(before)
    return bool(frame) and ((bool(_IN_FRAME.match(piece)) and not before.rstrip().endswith((",", ";"))
                             and not _FRAME.search(piece))
                            or frame.group("open").lower() in ("if", "when"))


def _is_clause(piece: str) -> bool:
    return len(WORD.findall(piece.lower())) >= 3 and speaks_of_self(piece)


def standalone_clauses(statement: str, reasons: bool = True) -> list[str]:
    """The first-person clauses of a statement that can stand as sentences of their own, when it has more than one
    (`_pieces`): "I can't tell my boss, because he might fire me" and "If I lose my job, I will lose my house" stay
    whole, "I love my job, but it is stressful" gives "I love my job" (as `clauses` does: a clause not in the first
    person is not one) and "I have two kids, and I work in retail" gives both. Each is a stretch of the statement
    (its evidence span can be found in the utterance). `reasons=False`: a reason stays with its clause."""
    pieces = _pieces(statement, reasons)
    return _first_person(pieces) if len(pieces) >= 2 else []


def atomic_clauses(statement: str) -> list[str]:
    """The statement's clauses when it joins two or more that each stand alone and nothing else ("I lost my job and I
    can't find another" -> both); [] when it is one clause or a split would leave a piece out."""
    pieces = _pieces(statement)
    return pieces if len(pieces) >= 2 and len(_first_person(pieces)) == len(pieces) else []


# A comma, slash or dash the seeker left at the end of a clause ("I really miss him,"); an emoticon (":/") stays.
_TRAILING_MARK = re.compile(r"(?<![:;])[\s,/\-]+$")


def strip_end(sentence: str) -> str:
    """The sentence less an ESConv turn counter at its end ("I have not needed a resume for over 10 years (7)") and
    a comma, slash or dash after its last word ("I really miss him,")."""
    return _TRAILING_MARK.sub("", _TURN_COUNTER_AT_END.sub("", sentence))


_WORDS = re.compile(r"[A-Za-z0-9']+")


def word_span(sentence: str, text: str, start: int = 0) -> tuple[int, int] | None:
    """Where the sentence's words stand in the text, word for word (case, punctuation and spacing aside; a final
    mark the sentence has and the text has right there is in the span); None when they are not a stretch of it."""
    words = [re.escape(w) for w in _WORDS.findall(sentence)]
    if not words:
        return None
    pattern = re.compile(r"(?<![A-Za-z0-9'])" + r"[^A-Za-z0-9']+".join(words) + r"(?![A-Za-z0-9'])", re.IGNORECASE)
    found = pattern.search(text, start) or pattern.search(text)
    if not found:
        return None
    end = found.end()
    mark = sentence.rstrip()[-1:]
    if mark in ".!?" and text[end:end + 1] == mark:
        end += 1
    return found.start(), end


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each statement of the text (`statements`, in order)."""
    out, at = [], 0
    for s in statements(text):
        found = text.find(s, at)
        if found >= 0:
            out.append((found, found + len(s)))
            at = found + len(s)
    return out


def wider_stretches(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Stretches of the text that hold [start, end) and more, smallest first: the clauses of its sentence that hold it
    (`_pieces`), then the whole sentence; [] when no statement of the text holds it."""
    for a, b in sentence_spans(text):
        if a <= start and end <= b:
            if (a, b) == (start, end):
                return []
            sentence, spans, at = text[a:b], [], 0
            for piece in _pieces(sentence):
                found = sentence.find(piece, at)
                if found >= 0:
                    spans.append((a + found, a + found + len(piece)))
                    at = found + len(piece)
            held = [s for s in spans if s[1] > start and s[0] < end]
            clause = (held[0][0], held[-1][1]) if held else (a, b)
            wider_clause = clause != (a, b) and (clause[0] < start or clause[1] > end)
            return [clause, (a, b)] if wider_clause else [(a, b)]
    return []


# A hedge the speaker put right before or after a stretch: "I guess I am just scared" does not state "I am just
# scared", nor "I'm just burnt out I think" "I'm just burnt out". A quote of part of a sentence keeps it.
_HEDGE_BEFORE = re.compile(r"(?:\b(?:i\s+)?(?:guess|think|suppose|believe)|\bi\s+dunno|\bmaybe|\bmay\s+be|\bprobably|"
                           r"\bperhaps|\bi\s+(?:just\s+|really\s+)?(?:feel|felt)\s+like|\bit\s+seems(?:\s+like)?)"
                           r"[\s,]*$", re.IGNORECASE)
_HEDGE_AFTER = re.compile(r"^[\s,]*(?i:i\s+(?:think|guess|suppose|believe|feel)|probably|maybe|i\s+dunno|it\s+seems)"
                          r"\b[.!]*(?=\s*$|\s+[A-Z(])")  # ... and then the sentence ends (not one ended before it)


# A condition the speaker put right before a stretch, up to a comma: "if I press charges, the state will press charges
# against me" does not state "the state will press charges against me". It opens a clause (after the start, a
# punctuation mark, a conjunction or "I feel like"; not "I don't know if ...") and has at least two words after "if"
# ("but if not," belongs to what came before).
_CONDITION_BEFORE = re.compile(r"(?:^|[.!?,;]\s*|\b(?:and|but|so|that|because|then|like|think)\s+)"
                               r"\b((?:if|when|whenever|unless)\s+[^\s,.!?;]+\s+[^,.!?;]*),\s*$", re.IGNORECASE)


def with_hedges(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) of the text widened to a condition that stands right before it (`_CONDITION_BEFORE`), then to a
    hedge right before or after it (`_HEDGE_BEFORE`, `_HEDGE_AFTER`); as it is when there is none."""
    condition = _CONDITION_BEFORE.search(text[:start])
    start = condition.start(1) if condition else start
    before = _HEDGE_BEFORE.search(text[:start])
    after = None if text[start:end].rstrip().endswith((".", "!", "?")) else _HEDGE_AFTER.match(text[end:])
    return (before.start() if before else start), (end + len(after.group(0)) if after else end)
