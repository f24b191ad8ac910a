"""Who "he" or "she" is: a kept persona sentence names the person the seeker named earlier.

A sentence cut from a seeker's turn often opens on a pronoun whose person was named before ("he throws away the
bills", after "my husband ..." two turns up). As a persona fact it then needs its dialog. This module finds the
people the dialog named (`mentions`: "my husband", and the supporter's "your husband", which is the seeker's
husband), and a small learned ranker (`ReferentRanker`, logistic regression over a few features, trained on
blind-labelled ESConv pronouns by `research.referent_labels`) picks the one a pronoun refers to, or none. The
sentence is rewritten only when the ranker is sure: "My husband throws away the bills".

The word lists below are plainly lexical: which nouns name a person, and which pronouns and nouns are male or
female. Which person a pronoun means is the ranker's judgement, measured on dialogs it never saw.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from common.cli import InputError
from extractor.remarks import strip_opening_word

RANKER = Path(__file__).parent / "referent_ranker.json"
HER_NEXT = Path(__file__).parent / "her_next_words.json"  # research.referent_labels --her-counts

MALE = frozenset("husband boyfriend bf dad daddy father brother son grandpa grandfather granddad grandson uncle nephew "
                 "fiance stepdad stepfather stepson ex-husband ex-boyfriend hubby".split())
FEMALE = frozenset("wife girlfriend gf mom mommy mum mother sister daughter grandma grandmother granny granddaughter aunt "
                   "niece fiancee stepmom stepmother stepdaughter ex-wife ex-girlfriend".split())
NEUTRAL = frozenset("partner friend bestie boss manager supervisor coworker co-worker colleague roommate neighbor "
                    "neighbour spouse ex child kid baby cousin teacher landlord doctor therapist counselor "
                    "counsellor professor mentor classmate pastor sibling grandchild grandkid".split())
PLURAL = frozenset("parents kids children friends siblings brothers sisters coworkers co-workers colleagues roommates "
                   "neighbors neighbours in-laws family daughters sons grandparents cousins classmates teachers bosses "
                   "folks relatives twins boys girls grandchildren grandkids".split())
_PERSON = MALE | FEMALE | NEUTRAL | PLURAL
_MODIFIERS = ("best", "older", "younger", "little", "big", "baby", "late", "new", "old", "oldest", "youngest",
              "eldest", "ex", "step", "close", "former", "current")
_MENTION = re.compile(r"\b(my|your)\s+((?:(?:%s)[- ]?)?(?:%s))(?='s\b|\b)(?!\s*-)" % (
    "|".join(_MODIFIERS), "|".join(sorted((re.escape(w) for w in _PERSON), key=len, reverse=True))), re.I)
# someone the ranker cannot name but who may be the one meant: "a guy", "the doctor", "my dog", "Rick"
_OTHER = re.compile(r"\b(?:a|an|the|this|that|his|her|their|our|some|another|my|your)\s+(?:[a-z]+\s+)?(?:%s)\b" % "|".join(
    sorted(_PERSON | {"guy", "man", "woman", "lady", "girl", "boy", "gentleman", "person", "dog", "cat", "puppy", "pet",
                      "kitten", "hamster", "horse", "bird"}, key=len, reverse=True)), re.I)
_PET = frozenset("dog cat puppy pet kitten hamster horse bird".split())
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}\b")
_NOT_NAMES = frozenset("monday tuesday wednesday thursday friday saturday sunday january february march april may june "
                       "july august september october november december christmas thanksgiving easter covid corona "
                       "coronavirus god facebook instagram twitter google youtube netflix zoom english america "
                       "american thank thanks hello okay yes".split())
_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers|they|them|their|theirs)\b", re.I)
MALE_PRONOUNS = frozenset({"he", "him", "his"})
PLURAL_PRONOUNS = frozenset({"they", "them", "their", "theirs"})
_CLITIC = re.compile(r"['\u2019](s|ll|d|re|ve)\b", re.I)
_VERB = {"ll": "will", "re": "are", "ve": "have"}
_HAS = frozenset("been got gotten had done gone never always already just left taken told said become lost found".split())

FEATURES = ("gender_match", "neutral", "turns_back", "same_turn", "recency_rank", "count", "from_supporter",
            "candidates", "first_in_sentence", "others_after", "pets_after", "named_last_two_turns", "names_after",
            "same_gender_others_after", "pronouns_before")
_MALE_OTHERS = frozenset("guy man boy gentleman".split()) | MALE
_FEMALE_OTHERS = frozenset("woman lady girl".split()) | FEMALE


@dataclass(frozen=True)
class Mention:
    """A person the dialog named, as the seeker would name them ("my husband"), and where."""

    text: str  # "my husband", lower case
    noun: str  # "husband"
    turn: int
    start: int  # character offset in that turn's text
    from_supporter: bool
    other: bool = False  # someone who is not a candidate: "a guy", "the doctor", "my dog", a name
    pronoun: bool = False  # not a person but a he / she / they said here (`noun`: "male", "female" or "plural"): one
    # said before a candidate was first named meant someone else ("pronouns_before")


@dataclass(frozen=True)
class Pronoun:
    """The first unresolved third-person pronoun of a sentence."""

    word: str  # as written
    start: int  # character offset in the sentence
    male: bool
    plural: bool = False  # they / them / their: people of PLURAL


def _noun(phrase: str) -> str:
    last = re.split(r"[- ]", phrase.lower())[-1]
    return phrase.lower() if phrase.lower() in _PERSON else last


def _gender(noun: str) -> str:
    base = noun.lower()
    if base in MALE or base.split("-")[-1] in MALE:
        return "male"
    if base in FEMALE or base.split("-")[-1] in FEMALE:
        return "female"
    return "neutral"


def _group(word: str) -> str:
    word = word.lower()
    return "plural" if word in PLURAL_PRONOUNS else "male" if word in MALE_PRONOUNS else "female"


def mentions(texts: Sequence[tuple[int, str, bool]]) -> list[Mention]:
    """People named in (turn, text, said by the supporter) in order: "my X" by the seeker, "your X" by the
    supporter (both the seeker's X), the others the ranker cannot name, and the pronouns said (`Mention.pronoun`).
    Plural nouns are not people a singular pronoun can mean."""
    found = []
    for turn, text, supporter in texts:
        mine = set()
        for m in _MENTION.finditer(text):
            if (m.group(1).lower() == "your") != supporter:
                continue
            phrase = m.group(2).lower()
            mine.add(m.start())
            found.append(Mention(f"my {phrase}", _noun(phrase), turn, m.start(), supporter))
        others = [m for m in _OTHER.finditer(text) if m.start() not in mine]
        others += [m for m in _NAME.finditer(text) if m.group().lower() not in _NOT_NAMES]
        found += [Mention(m.group().lower(), _noun(m.group()), turn, m.start(), supporter, other=True) for m in others]
        found += [Mention(m.group().lower(), _group(m.group()), turn, m.start(), supporter, pronoun=True)
                  for m in _PRONOUN.finditer(text)]
    return sorted(found, key=lambda m: (m.turn, m.start))


def named_before(named: Sequence[Mention], turn: int, start: int) -> list[Mention]:
    """The people of a dialog's `mentions` named before a sentence: in an earlier turn, or earlier in its own turn
    (the sentence starts at character `start` of turn `turn`)."""
    return [m for m in named if m.turn < turn or (m.turn == turn and m.start < start)]


def dialog_mentions(turns: Sequence[tuple[str, str]]) -> list[Mention]:
    """`mentions` of a whole dialog given as (speaker, text) turns."""
    return mentions([(i, text, speaker == "supporter") for i, (speaker, text) in enumerate(turns)])


def first_pronoun(sentence: str) -> Pronoun | None:
    """The sentence's first he/him/his/she/her, unless a person it could mean is named before it in the same
    sentence ("My boyfriend left and he ...": nothing to resolve)."""
    m = _PRONOUN.search(sentence)
    if m is None:
        return None
    pronoun = Pronoun(m.group(1), m.start(), m.group(1).lower() in MALE_PRONOUNS,
                      m.group(1).lower() in PLURAL_PRONOUNS)
    before = [x for x in mentions([(0, sentence[:m.start()], False)])
              if not x.pronoun and (x.other or _compatible(x.noun, pronoun))]
    if before:  # a person, a pet or a name already in the sentence
        return None
    return pronoun


def _compatible(noun: str, pronoun: Pronoun) -> bool:
    """Whether a pronoun can mean people named by `noun`: the same number, and for he / she a gender that fits."""
    if (noun in PLURAL) != pronoun.plural:
        return False
    g = _gender(noun)
    return pronoun.plural or g == "neutral" or (g == "male") == pronoun.male


def candidates(pronoun: Pronoun, context: Sequence[Mention]) -> list[Mention]:
    """The distinct people of the context a pronoun of its gender can mean, most recent mention of each."""
    latest: dict[str, Mention] = {}
    for m in context:
        if not m.other and not m.pronoun and _compatible(m.noun, pronoun):
            latest.pop(m.text, None)
            latest[m.text] = m
    return list(latest.values())


def features(pronoun: Pronoun, cands: Sequence[Mention], context: Sequence[Mention], turn: int) -> list[list[float]]:
    """One row of FEATURES per candidate."""
    order = sorted(range(len(cands)), key=lambda i: (cands[i].turn, cands[i].start), reverse=True)
    rank = {i: r for r, i in enumerate(order)}
    group = _group(pronoun.word)
    said = [(m.turn, m.start) for m in context if m.pronoun and m.noun == group]
    rows = []
    for i, c in enumerate(cands):
        g = _gender(c.noun)
        first = min((m.turn, m.start) for m in context if m.text == c.text)
        rows.append([
            float(g != "neutral"),
            float(g == "neutral"),
            math.log1p(max(turn - c.turn, 0)),
            float(c.turn == turn),
            float(rank[i]),
            math.log1p(sum(m.text == c.text for m in context)),
            float(c.from_supporter),
            math.log(len(cands)),
            float(pronoun.start == 0),
            math.log1p(sum(m.other and (m.turn, m.start) > (c.turn, c.start) for m in context)),
            float(any(m.other and m.noun in _PET and (m.turn, m.start) > (c.turn, c.start) for m in context)),
            float(any(m.text == c.text and m.turn >= turn - 2 for m in context)),
            math.log1p(sum(m.other and m.noun == m.text and (m.turn, m.start) > (c.turn, c.start) for m in context)),
            float(any(m.other and (m.turn, m.start) > (c.turn, c.start) and not pronoun.plural
                      and m.noun in (_MALE_OTHERS if pronoun.male else _FEMALE_OTHERS) for m in context)),
            math.log1p(sum(at < first for at in said)),
        ])
    return rows


def rewrite(sentence: str, pronoun: Pronoun, referent: str) -> str | None:
    """The sentence with its pronoun replaced: he/she/him/they/them -> "my husband", "my parents"; his/hers/their
    -> "my husband's", "my parents'"; he's -> "my husband is" (or "has" before "been", "gone", ...), they're ->
    "are", 've -> "have", 'll -> "will", 'd -> "would" (or "had" before "gone", ...); "her" as the object or the possessive by what follows it in
    ESConv and PERSONA-CHAT (`her_role`). None when "her" could be either."""
    word = pronoun.word.lower()
    after = sentence[pronoun.start + len(pronoun.word):]
    clitic = _CLITIC.match(after)
    nxt = re.match(r"(?:['\u2019]\w+)?\s*([A-Za-z']+)", after)
    following = nxt.group(1).lower() if nxt else ""
    owner = referent + ("'" if referent.endswith("s") else "'s")
    if word in ("his", "hers", "their", "theirs"):
        name = owner
    elif word == "her":
        role = her_role(following)
        if role is None:
            return None
        name = owner if role == "possessive" else referent
    elif clitic:
        participle = following in _HAS or following.endswith("ed")  # "she's gone", "she'd moved": has, had
        verb = {"s": "has" if participle else "is", "d": "had" if participle else "would"}.get(clitic.group(1).lower())
        verb = verb or _VERB[clitic.group(1).lower()]
        name, after = f"{referent} {verb}", after[clitic.end():]
    else:
        name = referent
    if pronoun.start == 0:
        name = name[0].upper() + name[1:]
    return sentence[:pronoun.start] + name + after


def her_role(following: str) -> str | None:
    """"object" or "possessive" for "her" before `following` ("" at the end of the sentence), None when unsure: a
    word at least three times as often after "my/your/our/their/his" as after "me/him/them/us" makes it possessive,
    and the reverse the object."""
    if not following or following.endswith("ly"):  # "I told her.", "I call her daily"
        return "object"
    poss, obj = _her_next().get(following, (0, 0))
    if poss >= 3 and poss >= 3 * obj:
        return "possessive"
    if obj >= 3 and obj >= 3 * poss:
        return "object"
    return None


@lru_cache(maxsize=1)
def _her_next() -> dict[str, tuple[int, int]]:
    try:
        return {w: tuple(c) for w, c in json.loads(HER_NEXT.read_text(encoding="utf-8"))["counts"].items()}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"cannot read {HER_NEXT}: {e}") from None


class ReferentRanker:
    """Logistic regression over FEATURES: P(this candidate is the pronoun's person); the best candidate is used
    when its probability reaches the threshold chosen on the training labels (`referent_ranker.json`)."""

    def __init__(self, weights: Sequence[float], bias: float, threshold: float, card: dict | None = None):
        if len(weights) != len(FEATURES):
            raise InputError(f"referent ranker: {len(weights)} weights for {len(FEATURES)} features")
        self.weights, self.bias, self.threshold = list(weights), float(bias), float(threshold)
        self.card = card or {}

    def probabilities(self, rows: Sequence[Sequence[float]]) -> list[float]:
        return [1 / (1 + math.exp(-(self.bias + sum(w * x for w, x in zip(self.weights, r))))) for r in rows]

    def choose(self, sentence: str, pronoun: Pronoun, cands: Sequence[Mention], context: Sequence[Mention],
               turn: int) -> tuple[int, float, bool]:
        """(index of the likeliest candidate, its probability, whether to name it): sure enough, and not the person
        the same sentence names later ("I try talking to him, but due to my grandson ...": seldom its pronoun, and
        naming them twice reads badly)."""
        probs = self.probabilities(features(pronoun, cands, context, turn))
        best = max(range(len(cands)), key=lambda i: (probs[i], cands[i].turn, cands[i].start))
        later = any(m.text == cands[best].text for m in mentions([(0, sentence[pronoun.start:], False)]))
        return best, probs[best], probs[best] >= self.threshold and not later

    def resolve(self, sentence: str, context: Sequence[Mention], turn: int,
                pronoun: Pronoun | None = None) -> tuple[str, Mention | None, float]:
        """(sentence, the person it now names or None, probability): the sentence rewritten when sure (`pronoun`:
        its `first_pronoun`, when the caller has it)."""
        pronoun = pronoun or first_pronoun(sentence)
        cands = candidates(pronoun, context) if pronoun else []
        if not cands:
            return sentence, None, 0.0
        best, p, sure = self.choose(sentence, pronoun, cands, context, turn)
        written = rewrite(sentence, pronoun, cands[best].text) if sure else None
        if written is None:
            return sentence, None, p
        return written, cands[best], p


class PronounNamer:
    """One ReferentRanker per number ("singular" for he/she, "plural" for they), as `referent_ranker.json` holds
    them; a pronoun of a number without a ranker is left alone."""

    def __init__(self, rankers: dict[str, ReferentRanker]):
        self.rankers = rankers

    def resolve(self, sentence: str, context: Sequence[Mention], turn: int) -> tuple[str, Mention | None, float]:
        pronoun = first_pronoun(sentence)
        ranker = pronoun and self.rankers.get(number(pronoun))
        return ranker.resolve(sentence, context, turn, pronoun) if ranker else (sentence, None, 0.0)

    @classmethod
    def load(cls, path: str | Path = RANKER) -> "PronounNamer":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))["rankers"]
            return cls({n: ReferentRanker(d["weights"], d["bias"], d["threshold"], d) for n, d in data.items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise InputError(f"cannot read the referent ranker {path}: {e}") from None


def number(pronoun: Pronoun) -> str:
    return "plural" if pronoun.plural else "singular"


def name_the_person(sentence: str, named: Sequence[Mention], turn: int, start: int,
                    ranker: ReferentRanker | PronounNamer | None = None) -> tuple[str, Mention | None, float]:
    """The build's and the evaluation's one call: `sentence` (at character `start` of turn `turn`) with its
    pronoun replaced by the person of `named` (a dialog's `mentions`) it means, where the ranker is sure. A
    conjunction the check kept only because a pronoun followed it goes as it would have before the person's name
    ("Because she does not like me" -> "My friend does not like me": `extractor.remarks.strip_opening_word`)."""
    written, who, p = (ranker or shipped_ranker()).resolve(sentence, named_before(named, turn, start), turn)
    return (strip_opening_word(written) if who is not None else written), who, p


@lru_cache(maxsize=2)
def shipped_ranker(path: str = str(RANKER)) -> PronounNamer:
    return PronounNamer.load(path)
