"""Remarks to the supporter are not facts about the seeker.

"I will try that.", "Thank you for listening to me." pass the grounding check (the seeker said them, in the first
person) but say nothing about who the seeker is, so the build drops them (reason `REMARK`). A remark is a move
towards the supporter: thanks, agreement, taking up a suggestion, how-are-you answers, wishes for or comments on
the supporter, comments on the chat; feelings, events, plans and opinions stay facts. The detector, a logistic
regression over the grounding encoder's embeddings fitted on `extractor/remark_labels.tsv` when first needed,
favours precision (`REMARK_MIN`): dropping a fact loses what the seeker gave, keeping a remark only adds noise.
Fixed forms catch what it scores just under its threshold (`addressed_to_supporter`, `about_the_supporter`), and
`cut_remark_clauses` cuts the remark clauses from a fact said with them ("I am still looking for work, thanks
for asking." -> "I am still looking for work.") so that the fact is judged, and kept, alone.
Labels, rules and measured counts: docs/check-rules.md, section "Remark rules".
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

REMARK_LABELS = Path(__file__).with_name("remark_labels.tsv")
# Openers that address the supporter: thanks ("Thank you for caring about me.", not "thanks to my sister"),
# appreciation of the supporter's help, and a framing verb over a clause about the supporter ("I hope you
# have a good Thanksgiving.", "I think you are right", "I know you're busy").
_TO_SUPPORTER = re.compile(
    r"^\W*(?:(?:and|but|so|ok|okay|well|oh|yes|yeah|again)\W+)*(?:"
    r"thank(?:s|\s*you|\s*u)?\b(?!\s+to\b)|thx\b|many thanks\b"
    r"|i\s+(?:(?:really|truly|do|so|greatly|just|also)\s+)*appreciate\s+(?:you|your|it|this|that|all|the)\b"
    r"|(?:i|we)\s+(?:(?:really|truly|just|do|sincerely|also|still)\s+)*(?:hope|wish|know|think|guess|bet|believe|"
    r"understand|see|suppose|imagine|assume|trust|realize|realise|feel like)\s+(?:that\s+)?"
    r"(?:you|your|u|ur|you're|youre|you've|you'll|y'all)\b"
    # a request to the supporter: "Tell me about!", "please help me to overcome this", "Give me some tips",
    # "wish me luck :)", "pls give me more inspriation" ("me" is first person, but the sentence asks; it states
    # nothing); "please" in its chat spellings too
    r"|(?:(?:please|pls|plz|plse|pleas)\s+)?(?:tell|help|give|show|teach|advise|guide|wish|let|send)\s+me\b"
    r"|(?:please|pls|plz|plse|pleas)\b)", re.IGNORECASE)
_SEEKER_SUBJECT = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|i'll|we|we're|we've)\b", re.IGNORECASE)


def addressed_to_supporter(sentence: str) -> bool:
    """A sentence that opens by addressing the supporter (thanks, a wish for them, a view of what they said)
    and says nothing more about the seeker: no first-person subject after the opener. "I think you are
    right, maybe i just need to take a pause" and "Thank you and I wish ..." keep their own clause and pass."""
    text = sentence.replace("\u2019", "'")
    found = _TO_SUPPORTER.match(text)
    return bool(found) and not _SEEKER_SUBJECT.search(text[found.end():])


# A clause that is, all of it, a remark to the supporter: thanks ("thanks for asking"), agreement ("I agree
# with you there", "I think you are right"), praise of a suggestion ("that's a good idea", "I like that
# idea"), "I never thought of it that way". Matched against the whole clause, so "I agree that he's jealous"
# and "I like the idea of a virtual book club" stay facts.
_LEAD = r"\W*(?:(?:and|but|so|ok|okay|well|oh|yes|yeah|yep|again|also|hmm+|hrm+|wow|ah+)\W+)*"
_REMARK_CLAUSE = re.compile(
    _LEAD + r"(?:"
    # a bare answer word or interjection as a clause of its own ("Yes, I broke up with my partner...",
    # "I know, right!!"): it answers the supporter and states nothing
    r"(?:yes|yeah|yep|yup|no|nope|nah|ok|okay|well|oh|sure|right|true|exactly|indeed|hmm+|lol|haha|hi|hello|hey"
    r"|i\s+know|i\s+see|i\s+guess|i\s+suppose)(?:\s+(?:there|right|lol|haha))?"
    r"|(?:i\s*(?:'m|am)\s+)?(?:(?:so|very|really|also)\s+)*sorry\s+to\s+hear\s+(?:that|this|it)"
    r"|"
    r"(?:thank(?:s|\s*you|\s*u)?|thx|ty|many\s+thanks)(?:\b|(?=for))(?!\s+(?:to|god|goodness|heavens)\b).*"
    r"|i\s+(?:(?:really|truly|do|so|greatly|just|also)\s+)*appreciate\s+(?:you|your|it|this|that|all|the)\b.*"
    r"|(?:i\s+)?(?:(?:totally|completely|really|do|definitely|fully|100%|also|kind\s+of|kinda)\s+)*agree"
    r"(?:\s+with\s+(?:you|that|this|u))?(?:\s+(?:there|on\s+that|100%|completely|totally|too))*"
    r"|(?:i\s+(?:(?:think|guess|suppose|know|believe|tend\s+to\s+think|am\s+sure|hope|feel\s+like|see)\s+)"
    r"(?:that\s+)?)?(?:you'?re|you\s+are|your|ur|u\s+r|you\s+were|you\s+may\s+be|you\s+might\s+be)\s+"
    r"(?:(?:so|totally|absolutely|definitely|probably|quite|very|100%|right)\s+)*(?:right|correct)"
    r"(?:\s+(?:about|on)\s+(?:that|this|it))?(?:\s+there)?"
    r"|(?:(?:that|this|it)\s*(?:'s|s|\s+is|\s+was|\s+sounds(?:\s+like)?|\s+would\s+be)|thats|what)\s+"
    r"(?:(?:a|an|such\s+a|really|very|so|pretty|great|good|also|actually|definitely)\s+)*"
    r"(?:good|great|nice|excellent|wonderful|amazing|awesome|interesting|fantastic|brilliant|smart|helpful|useful)"
    r"(?:\s+(?:idea|advice|point|suggestion|thought|tip|plan|one)s?)?(?:\s+too)?"
    r"|(?:a\s+)?(?:(?:really|very)\s+)?(?:good|great|nice)\s+(?:idea|advice|point|suggestion)s?"
    r"|i\s+(?:(?:really|do|actually|definitely|also)\s+)*(?:like|love)\s+(?:that|this|your|the)\s+"
    r"(?:idea|suggestion|advice|thought)s?(?:\s+too)?"
    r"|i\s*(?:(?:have|had|'ve|ve)\s+)?(?:never|not|hadn'?t|haven'?t)\s+thought\s+(?:of|about)\s+(?:it|that|this)"
    r"(?:\s+(?:that|this)\s+way|\s+like\s+that)?(?:\s+before)?"
    r")\W*", re.IGNORECASE)
# Answers that share their subject with what follows them ("I'm okay, just a little stressed", "I get it, but it's
# challenging"): agreement and acknowledgement, a how-are-you answer, taking up a suggestion. A clause of these is a
# remark clause (`is_answer_clause`), but a leading one is only cut when what follows has a first-person subject of
# its own ("I'm alright, my husband left me" -> "My husband left me"); otherwise the sentence keeps it, since cutting
# it would leave a fragment without its subject.
_ANSWER_CLAUSE = re.compile(
    _LEAD + r"(?:"
    # agreement and acknowledgement ("I guess thats right.", "so true", "i hear ya", "that makes sense", "me too")
    r"(?:i\s+(?:guess|think|suppose)\s+)?(?:that'?s|thats|that\s+is|it'?s|its|so|very|how)\s+(?:so\s+|very\s+)?"
    r"(?:true|right|correct)(?:\s+(?:too|though|lol|haha))?"
    r"|i\s+(?:hear|feel|get)\s+(?:you|ya|u|it|that)|i\s+understand(?:\s+(?:you|that|it))?"
    r"|(?:that|it)\s+makes\s+(?:a\s+lot\s+of\s+|so\s+much\s+|total\s+)?sense|fair\s+enough|me\s+too|same\s+here"
    # a how-are-you answer ("nope im good", "I'm alright", "I am doing okay")
    r"|(?:(?:no|nope|nah)\s+)?(?:i\s*(?:'m|am)|im)\s+(?:(?:doing|feeling)\s+)?(?:(?:pretty|very|really|just|so)\s+)?"
    r"(?:good|fine|ok|okay|alright|all\s+right|well)(?:\s+(?:too|also|as\s+well|today|now|thanks|thank\s+you))*"
    # taking up a suggestion as a clause of its own ("..., I'll try that", "I will keep that in mind")
    r"|i\s*(?:'ll|ll|will|can|could|might|may|should|shall|(?:'m|am|m)\s+(?:going\s+to|gonna))\s+"
    r"(?:(?:definitely|certainly|surely|probably|maybe|def|totally|also|really|just|sure|have\s+to|need\s+to)\s+)*"
    r"(?:try|do|consider|look\s+into|think\s+about|check\s+out|keep|remember|give)"
    r"(?:\s+(?:that|this|it|them|those|these)(?:\s+(?:out|one|idea|advice|suggestion|in\s+mind|a\s+(?:try|shot|go)))?)?"
    r"(?:\s+(?:too|then|tonight|today|tomorrow|now|later|soon|for\s+sure|again))*"
    r")\W*", re.IGNORECASE)
_OWN_SUBJECT_FIRST = re.compile(r"^\W*(?:(?:just|still|now|also|really|honestly|actually)\s+)*"
                                r"(?:i|i'm|im|iam|i've|ive|i'd|i'll|we|we're|we've|my|our)\b", re.IGNORECASE)
# Where a persona sentence's clauses meet (commas, ellipses, dashes, a conjunction), and a closing "as you
# suggested" that credits the supporter.
_CLAUSE_EDGE = re.compile(
    r"\s*[,;:!]\s+|\s*\.{2,}\s*|\s+-+\s+|\s+(?=(?:but|and|so|because)\s+(?:again\s+)?(?:i|i'm|im|i've|ive|i'll|we|my|thanks?|"
    r"thx|you're|youre|you\s+are|that's|thats|that\s+is|this\s+is)\b)", re.IGNORECASE)
_TRAILING_REMARK = re.compile(r"[\s,;:-]+(?:thanks|thank\s+you|thx)(?:\s+(?:so|very)\s+much)?(?=[\s.!]*$)", re.IGNORECASE)
# Asides to the supporter inside a sentence of the seeker's own: "as you suggested", "like you said", "as you can
# see", "if you know what I mean", a closing "you see", and a closing question to the supporter ("I am feeling
# okay how are you?", "..., do you think that will help?"). Cut out, the rest is the seeker's words in order.
_SUPPORTER_ASIDE = re.compile(
    r"[\s,;:-]*\b(?:(?:just\s+)?(?:as|like)\s+(?:i\s+bet\s+)?(?:you|u)\s+(?:(?:just|already)\s+)?"
    r"(?:suggested|said|say|mentioned|recommended|advised|can\s+see|can\s+relate|know)(?:\s+before)?"
    r"|if\s+(?:you|u)\s+know\s+what\s+i\s+mean)\b(?:\s*,)?"
    r"|[\s,;:-]+(?:you|u)\s+see(?=[\s.!]*$)"
    r"|[\s,;:-]*(?:\band\s+)?\b(?:how|what|do|did|does|don't|dont|can|could|would|will)\b"
    r"(?:(?!\b(?:how|what|do|did|does|don't|dont|can|could|would|will)\b)[^.!?])*\b(?:you|u)\b[^.!?]*\?+[\s!]*$",
    re.IGNORECASE)
# A clause whose topic is the supporter, their words or the chat itself (`about_the_supporter`): "I feel for your
# friend", "I like your idea of transferring", "Just talking to you has brought my anxiety level down", "I'm sorry
# you felt the same way", "I doubt you do.". Each form names the supporter's words or people, an act towards
# the listener, or a view of them; the generic "you" ("things you can't control", "when you're upset",
# "it makes you worry") and quoted speech ("I pay for your education") match none.
_ABOUT_SUPPORTER = re.compile(
    r"\byour\s+(?:(?:kind|wise|great|good|helpful|encouraging|own)\s+)*(?:words?|suggestions?|ideas?|advice|"
    r"tactics?|tips?|support|point|validation|help|opinion|confidence|positivity|shoes|experience|greetings|"
    r"comments?|encouragement|kindness|thoughts?|insights?|perspective|patience|friends?|daughter|son|family|"
    r"boyfriend|girlfriend|husband|wife|fiance|fiancee|sunday|weekend)\b"
    r"|\b(?:talk|talking|talked|vent|venting|vented|speak|speaking|spoke|chat|chatting|pray|praying|prayers|"
    r"waiting|disagree|far|away)\s+(?:to|with|for|from)\s+(?:you|u)\b"
    r"|\bunloaded\s+(?:\w+\s+){0,3}on\s+(?:you|u)\b"
    r"|\b(?:bless|miss|delay|interrupt)\s+(?:you|u)\b|\bmake\s+(?:you|u)\s+(?:sad|upset)\b"
    r"|\bbecause\s+of\s+(?:you|u)\b|\b(?:people|person|someone)\s+like\s+(?:you|u)\b"
    r"|\b(?:sorry|glad|happy|pleased)\s+(?:to\s+hear\s+)?(?:that\s+)?(?:for\s+)?(?:you|u)\b"
    r"|\b(?:you|u)(?:'re|\s+are|'ve|\s+have|\s+just|\s+were)?\s+(?:said|saying|suggested|suggesting|mean|meant|"
    r"offered|referring|mentioned|recommended)\b"
    r"|\b(?:you|u)(?:'ve|\s+have)\s+given\s+me\b|\bi'?ll\s+give\s+(?:you|u)\b"
    r"|\b(?:you|u)\s+(?:seem|understood|saw\s+that|can\s+relate|can\s+suggest|could\s+help|can\s+help)\b"
    r"|\b(?:you|u)\s+do\W*$|\bif\s+(?:you|u)\s+were\s+me\b|\bif\s+(?:you|u)\s+(?:don't|do\s+not)\s+mind\b"
    r"|\bsounds?\s+like\s+(?:you|u)\b|\bwould\s+like\s+(?:you|u)\s+to\b|\b(?:than|to)\s+how\s+(?:you|u)\s+(?:are|do)\b"
    r"|\b(?:you|u)(?:'re|\s+are|\s+r)\s+(?:(?:quite|so|very|really|such\s+a|a|100%)\s+)*(?:compassionate|kind|"
    r"nice|sweet|intelligent|smart|helpful|caring|amazing|wonderful|right|correct)\b"
    r"|\bhow\s+(?:are|r)\s+(?:you|u)\b|\b(?:do|did|don't|dont|can|could|would)\s+(?:you|u)\b", re.IGNORECASE)
_COPULA_END = re.compile(r"\b(?:it'?s|it\s+is|that'?s|that\s+is|is|was|are|were|be)\s*$", re.IGNORECASE)
# Characters a seeker typed by accident at the end of a sentence ("... the time%||"), not after a number ("100%").
_TRAILING_NOISE = re.compile(r"(?<=[^\d\s%|\\*#~^])[%|\\*#~^]+(?=\s*$)")
_THANKS_AS_OBJECT = frozenset("tell told tells telling say said says saying her him them to".split())


def is_remark_clause(clause: str) -> bool:
    """A clause that only addresses the supporter (see `_REMARK_CLAUSE` and `addressed_to_supporter`)."""
    text = clause.replace("\u2019", "'").strip()
    return bool(_REMARK_CLAUSE.fullmatch(text)) or addressed_to_supporter(text) or about_the_supporter(text)


def is_answer_clause(clause: str) -> bool:
    """A clause that only answers the supporter ("I'm fine", "I guess thats right", "I'll try that"; `_ANSWER_CLAUSE`)."""
    return bool(_ANSWER_CLAUSE.fullmatch(clause.replace("\u2019", "'").strip()))


def about_the_supporter(clause: str) -> bool:
    """A clause about the supporter, their words or the chat (`_ABOUT_SUPPORTER`), not about the seeker's life."""
    return bool(_ABOUT_SUPPORTER.search(clause.replace("\u2019", "'")))


def _cut_asides(sentence: str) -> str:
    """Asides to the supporter ("like you said", "as you can see", a closing "how are you?"), a closing "thanks"
    ("i will tell her thank you" keeps its object) and trailing typing noise cut out of the sentence."""
    def cut(m: re.Match) -> str:
        if _COPULA_END.search(m.string[:m.start()]):  # "it's like you said": the aside is the clause's predicate
            return m.group(0)
        return "" if m.end() == len(m.string) or m.string[m.end()] in ".!?,;" else " "

    text = _SUPPORTER_ASIDE.sub(cut, _TRAILING_NOISE.sub("", sentence.replace("\u2019", "'")))
    found = _TRAILING_REMARK.search(text)
    if found:
        before = text[:found.start()].split()
        if not (before and before[-1].lower() in _THANKS_AS_OBJECT):
            text = text[:found.start()].rstrip(" ,;:-") + text[found.end():].strip()
    text = re.sub(r"\s{2,}", " ", text).strip()
    return sentence if text == sentence.replace("\u2019", "'") else text


# A conjunction that joined the clause to what came before it in the seeker's message ("because I used to work out
# much more daily", "And, I am just always tired", "so i still gotta find a way"), or an answer word that opened it
# ("Yes he tells me it's just in my head"): a kept sentence goes without it. "and" / "but" only before a subject
# ("and goes around and says ..." keeps it); "so", "also" and "because" only before a first-person one ("so much has
# happened" keeps "so"). An answer word goes with the "and" / "but" after it ("Yes, but he has moved" -> "He has
# moved"; "No but I did love that show" -> "I did love that show"); "No" only then: elsewhere it can carry the negation
# a typo lost ("No I actually have it looked into government-funded programs yet"), and where a comma marks it an
# answer ("No, my family all moved from the area"). "and" / "but" go before an adverb that opens the clause too ("But
# even then i still suffer", "And without a job I do not have any insurance"). An adverb or greeting that only led
# into what follows goes before a subject ("Still I was out of work for 3 weeks", "Hi I am feeling quite sad"; a
# "then" before what would follow from a condition stays: "Then I will lose my house"; "like" stays, as it can hold a
# comparison or a hedge: "like I am an ikea machine", "... Like I'm not a good mom"), and so does a short answer
# before "and" / "but" or a comma ("I have, but I haven't followed through" -> "I haven't followed through"; "I do, we
# have talked it over" -> "We have talked it over"; not "I guess," which can hedge what follows).
_SUBJECT_AHEAD = r"(?=(?:i|i'm|im|i've|ive|i'll|i'd|we|we're|my|our)\b)"
_ANY_SUBJECT_AHEAD = (r"(?=(?:i|i'm|im|iam|i've|ive|i'll|i'd|we|we're|my|our|he|she|they|his|her|their|it|it's|its|"
                      r"that|this|there|what|when|if|because|since|after|before|still|now|then|today|lately|recently|"
                      r"the|a|an|all|everything|nothing|everyone|nobody|someone|things|maybe|sometimes|so|also|plus|"
                      r"even|for|without|with|in|none|obviously|honestly|frankly|given|like|every|most|these|those|"
                      r"both|another|next|past|finally|afterwards|apparently|yes|yeah|\d+)\b)")
_LEAD_IN = (r"(?:then(?![\s,]+(?:i|we|he|she|they|it|i'll|we'll|it'll)\s+(?:will|would|could|might|won't|wouldn't)\b)|"
            r"still|yet|however|hi|hello|hey|anyway|anyways)[\s,]+" + _ANY_SUBJECT_AHEAD)
_SHORT_ANSWER = (r"(?:i|we)\s+(?:(?:do|did|have|had|can|guess|know|agree)[\s,]+(?:and|but)[\s,]+|"
                 r"(?:do|did|have|had|know|agree)\s*,\s*)" + _ANY_SUBJECT_AHEAD)


def _opening_words(first: str) -> re.Pattern:
    """`first` (the words whose rule differs between the two uses) or a conjunction before a first-person subject,
    repeated, at the start of a clause."""
    return re.compile(r"^(?:" + first + r"|(?:also|plus)(?:\s*,\s*|\s+" + _SUBJECT_AHEAD + r")"
                      r"|(?:because|cause|'cause|cuz|coz|since)\s+" + _SUBJECT_AHEAD + r")+", re.IGNORECASE)


_OPENING_WORD = _opening_words(r"(?:and|but|yes|yeah|yep|well|ok|okay|oh)[\s,]+" + _ANY_SUBJECT_AHEAD
                               + "|" + _LEAD_IN + "|" + _SHORT_ANSWER + r"|no\s*,\s*" + _ANY_SUBJECT_AHEAD
                               + r"|(?:yes|yeah|yep|well|ok|okay|oh|no)[\s,]+(?=(?:and|but)[\s,]+" + _ANY_SUBJECT_AHEAD
                               + r")|so(?:\s*,\s*|\s+" + _SUBJECT_AHEAD + r")")
# After a cut remark clause the "and" / "but" / "so" joined the seeker's words to the remark: it goes before any word
_CONJUNCTION_AFTER_REMARK = _opening_words(r"(?:and|but|so)\b[\s,]*")


def strip_opening_word(clause: str, after_remark: bool = False) -> str:
    """The clause less the conjunction that joined it to the one before, or the answer word that opened it; as it is
    when nothing would be left. "No one wants me" and "so much has happened" keep their first word."""
    text = clause.strip()
    out = (_CONJUNCTION_AFTER_REMARK if after_remark else _OPENING_WORD).sub("", text)
    if not out.strip():
        return clause
    return out[:1].upper() + out[1:] if out != text and text[:1].isupper() else out


def cut_remark_clauses(sentence: str) -> str:
    """The sentence less the clauses at its start or end that only address the supporter; "" when every clause
    does; the sentence itself when none does.

    "I am good, thanks for asking." -> "I am good."; "I think you are right, maybe i just need to take a
    pause" -> "maybe i just need to take a pause"; "I would try the food bank as you suggested." -> "I would
    try the food bank."; "I like that idea." -> "". What is kept is one unbroken stretch of the seeker's
    words: a remark between two clauses of the seeker's own is left in place, since joining the clauses
    around it could say something else ("he can't stop and you're right, letting go is all i can do")."""
    text = _cut_asides(sentence)
    edges = list(_CLAUSE_EDGE.finditer(text))
    starts = [0] + [m.end() for m in edges]
    ends = [m.start() for m in edges] + [len(text)]
    empty = [not text[a:b].strip() for a, b in zip(starts, ends)]
    hard = [e or is_remark_clause(text[a:b]) for e, a, b in zip(empty, starts, ends)]
    remark = [h or is_answer_clause(text[a:b]) for h, a, b in zip(hard, starts, ends)]
    if all(remark):
        return ""
    first = remark.index(False)
    if remark[:first] != hard[:first] and not _OWN_SUBJECT_FIRST.match(strip_opening_word(text[starts[first]:])):
        remark = hard[:first] + remark[first:]  # the leading answer holds the subject of what follows: keep it
    if text == sentence and not any(r and not e for r, e in zip(remark, empty)):
        return sentence
    first = remark.index(False)
    last = len(remark) - 1 - remark[::-1].index(False)
    if text == sentence and first == 0 and last == len(remark) - 1:  # the only remark is between own clauses
        return sentence
    out = text[starts[first]:ends[last]].strip()
    out = strip_opening_word(out, after_remark=True)
    out = out[:1].upper() + out[1:] if sentence[:1].isupper() else out
    closing = re.search(r"[.!]+$", sentence.rstrip())
    return out.rstrip(" ,;:-") + (closing.group(0) if closing and not re.search(r"[.!?]$", out) else "")


REMARK, FACT = "remark", "fact"
REMARK_MIN = 0.75  # P(remark) at which a sentence is dropped (see the module docstring)
REGULARISATION = 3.0  # logistic-regression C


@dataclass(frozen=True)
class LabelledSentence:
    sentence: str
    label: str  # REMARK | FACT
    round: int  # labelling round (2 was labelled without looking at any detector's output)


def read_labels(path: Path = REMARK_LABELS, rounds: bool = True) -> list[LabelledSentence]:
    """The hand labels (columns round, sentence, label; no round column when `rounds` is False)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    bad = [r for r in rows if r.get("label") not in (REMARK, FACT)]
    if bad:
        raise ValueError(f"{path}: label must be '{REMARK}' or '{FACT}', got {bad[0].get('label')!r}")
    return [LabelledSentence(r["sentence"], r["label"], int(r["round"]) if rounds else 0) for r in rows]


def labels_hash(path: Path = REMARK_LABELS) -> str:
    """sha256 of the label file (provenance: the detector is a function of these labels)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fit(vectors: np.ndarray, is_remark: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=REGULARISATION, class_weight="balanced", max_iter=5000).fit(vectors, is_remark)


class RemarkDetector:
    """P(remark) of sentences, from their embeddings under the same encoder as the labels'."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], threshold: float = REMARK_MIN,
                 labels: Sequence[LabelledSentence] | None = None):
        self.embed = embed
        self.threshold = threshold
        self.labels = list(labels) if labels is not None else read_labels()
        self._model = None

    def model(self):
        if self._model is None:
            vectors = np.asarray(self.embed([x.sentence for x in self.labels]), dtype=np.float32)
            self._model = fit(vectors, np.array([x.label == REMARK for x in self.labels]))
        return self._model

    def probability(self, vectors: np.ndarray) -> np.ndarray:
        """P(remark) per row of L2-normalised sentence embeddings."""
        if len(vectors) == 0:
            return np.zeros(0)
        return self.model().predict_proba(np.asarray(vectors, dtype=np.float32))[:, 1]

    def is_remark(self, sentences: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """Remarks among `sentences` (rows of `vectors` are their embeddings): the detector's probability at
        the threshold, or the fixed form of `addressed_to_supporter`."""
        by_form = np.array([addressed_to_supporter(s) for s in sentences], dtype=bool)
        return (self.probability(vectors) >= self.threshold) | by_form if len(sentences) else by_form


def cross_validate(vectors: np.ndarray, is_remark: np.ndarray, thresholds: Sequence[float],
                   folds: int = 10, seed: int = 13) -> list[dict[str, float]]:
    """Out-of-fold precision / recall of the detector at each threshold (stratified folds)."""
    from sklearn.model_selection import StratifiedKFold

    p = np.zeros(len(is_remark))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(vectors, is_remark):
        p[test] = fit(vectors[train], is_remark[train]).predict_proba(vectors[test])[:, 1]
    out = []
    for t in thresholds:
        flagged = p >= t
        hits = int((flagged & is_remark).sum())
        out.append({"threshold": float(t), "precision": hits / max(int(flagged.sum()), 1),
                    "recall": hits / max(int(is_remark.sum()), 1), "flagged": int(flagged.sum())})
    return out
