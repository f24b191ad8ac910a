"""Does a persona sentence keep the meaning of the words it was taken from?

The grounding check's similarity test (`extractor.grounding`) passes a rewrite that shares nearly all of the
seeker's words but says the opposite ("We are not married ..." -> "We are married ..."). So this check aligns
the sentence word by word with the supporting seeker statement (`difflib`, contractions expanded) and names the
first change the rewrite made: a negation added or dropped (`NEGATION_CHANGED`), someone else's statement made
the seeker's (`SUBJECT_CHANGED`), past made present (`TENSE_CHANGED`), one end of an amount scale swapped for the
other (`QUANTITY_CHANGED`), a wish or plan stated as a fact (`MODALITY_CHANGED`), one third person swapped for
another (`PERSON_CHANGED`), two predicates joined (`PARTS_JOINED`). A word-for-word copy always passes; a
paraphrase that copies no word as it is is aligned again on stems, for negations only. Lexical, no model.
Rules, examples and measured counts: docs/check-rules.md, section "Meaning rules".
"""
from __future__ import annotations

import difflib
import re
from functools import lru_cache

from extractor.statements import statements

NEGATION_CHANGED = "adds or drops a negation the seeker used"
SUBJECT_CHANGED = "says of the seeker what the seeker said of someone else"
TENSE_CHANGED = "changes the tense of what the seeker said"
QUANTITY_CHANGED = "changes how much or how often the seeker said"
MODALITY_CHANGED = "states as a fact what the seeker only wished, planned or supposed"
PERSON_CHANGED = "changes who the seeker was speaking of"
PARTS_JOINED = "joins the start of one thing the seeker said to the end of another"
MEANING_REASONS = (NEGATION_CHANGED, SUBJECT_CHANGED, TENSE_CHANGED, QUANTITY_CHANGED, MODALITY_CHANGED, PERSON_CHANGED,
                   PARTS_JOINED)

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,;:!?()]")
_CLAUSE_MARK = frozenset(".,;:!?()")
_EXPAND = {
    "i'm": "i am", "im": "i am", "i've": "i have", "ive": "i have", "i'd": "i would", "i'll": "i will",
    "can't": "can not", "cant": "can not", "cannot": "can not", "won't": "will not", "wont": "will not",
    "dont": "do not", "didnt": "did not", "doesnt": "does not", "isnt": "is not", "wasnt": "was not",
    "arent": "are not", "werent": "were not", "havent": "have not", "hasnt": "has not", "hadnt": "had not",
    "couldnt": "could not", "wouldnt": "would not", "shouldnt": "should not", "dunno": "do not know",
    "didnot": "did not", "donot": "do not", "doesnot": "does not",
}
_SPACED_NOT = re.compile(r"\b(do|does|did|is|was|are|were|have|has|had|could|would|should|ca|wo)n'?\s+t\b")  # "don' t"
NEGATIONS = frozenset("not no never nothing nobody none nor neither nowhere without unable lack".split())
# Adverbs that all but negate ("I see my family rarely" -> "I see my family a lot" flips it): judged as negations.
NEAR_NEGATIONS = frozenset("rarely seldom hardly barely scarcely".split())
_NEGATING = NEGATIONS | NEAR_NEGATIONS
# Two ends of a scale of amount and frequency: "some very dear friends" is not "a lot of dear friends".
_LITTLE = frozenset("some few little bit couple several sometimes occasionally once".split())
_LOTS = frozenset("lot lots many much plenty always often constantly all".split())
# Words that limit how often or how much ("I [sometimes] wake up at night", "I am [a little] stressed"): dropped from
# between copied words, the sentence claims more than the seeker did ("a little hut" -> "a hut" is no such drop).
_LIMITING = frozenset("sometimes occasionally somewhat slightly kinda partly".split())
_LIMITING_PAIRS = (["a", "little"], ["a", "bit"])
# Words that name a subject other than the seeker ("we" includes the seeker, so it is not here).
_OTHER_SUBJECT = frozenset("he she they you u it his her their your its someone somebody everyone everybody "
                           "people he's she's they're you're it's".split())
_FIRST_PERSON = frozenset("i me my myself mine".split())
_THIRD_PERSON_SUBJECT = frozenset("he she they he's she's they're".split())
# A verb form right after these is set by grammar ("I do tried" -> "I do try" fixes, not changes, the tense).
_AUXILIARIES = frozenset("am is are was were be been being have has had do does did to will would can could "
                         "should may might must not never".split())
_ADVERBS = frozenset("even really just always ever yet quite so very too still actually".split())
_SUBJECT_VERBS = frozenset("am is are was were has had have does did do will would can could should got gets".split())
_FUNCTION_WORDS = frozenset("i me my we you he she it they a an the to of and or but so in on at for is am are was "
                            "were be do did does have has had not that this with".split())
_CLAUSE_WORDS = frozenset("and but so because that when if then or".split())
_COORDINATORS = frozenset("and but or".split())
# Words that make what follows them a wish, a plan, a condition or a guess rather than a fact: "one day i will
# have a farm" does not say "i have a farm". ("going" is not here: "going to school" is a fact.)
_IRREALIS = frozenset("if unless wish wished wishing hope hoped hoping maybe perhaps will would could might may "
                      "should shall wanna gonna want wants wanted plan plans planned planning try tries tried "
                      "trying".split())
_GOVERNING = frozenset("if unless".split())  # clause words that belong to the clause they open
_THEIR_SUBJECT = frozenset("he she they you u".split())
_THEIRS, _OURS = frozenset("his her their your".split()), frozenset("my our".split())
# One third person, in its three cases: "he" -> "him" is grammar, "him" -> "her" is someone else.
_PERSON = {w: k for k, forms in enumerate(("he him his", "she her hers", "they them their theirs")) for w in forms.split()}
# Irregular verbs by lemma: past forms and present forms.
_IRREGULAR = {
    "be": ({"was", "were"}, {"am", "is", "are"}), "have": ({"had"}, {"have", "has"}),
    "do": ({"did"}, {"do", "does"}), "go": ({"went"}, {"go", "goes"}), "lose": ({"lost"}, {"lose", "loses"}),
    "leave": ({"left"}, {"leave", "leaves"}), "feel": ({"felt"}, {"feel", "feels"}),
    "think": ({"thought"}, {"think", "thinks"}), "get": ({"got"}, {"get", "gets"}),
    "make": ({"made"}, {"make", "makes"}), "say": ({"said"}, {"say", "says"}), "take": ({"took"}, {"take", "takes"}),
    "know": ({"knew"}, {"know", "knows"}), "tell": ({"told"}, {"tell", "tells"}),
    "come": ({"came"}, {"come", "comes"}), "find": ({"found"}, {"find", "finds"}),
}
_PAST = {w: lemma for lemma, (past, _) in _IRREGULAR.items() for w in past}
_PRESENT = {w: lemma for lemma, (_, present) in _IRREGULAR.items() for w in present}


def tokens(text: str) -> list[str]:
    """Lower-cased words with contractions expanded, and punctuation kept as clause marks."""
    out: list[str] = []
    for w in _TOKEN.findall(_SPACED_NOT.sub(r"\1n't", text.lower().replace("\u2019", "'"))):
        if w in _EXPAND:
            out += _EXPAND[w].split()
        elif w.endswith("n't"):
            out += [{"ca": "can", "wo": "will", "sha": "shall"}.get(w[:-3], w[:-3]), "not"]
        else:
            out.append(w)
    return out


@lru_cache(maxsize=1)
def _stem():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer().stem


def _made_present(said: str, wrote: str) -> bool:
    """The seeker's past form became a present form of the same verb ("was" -> "am", "cared" -> "care";
    "worked" -> "working" is not: both can be past). The other way round ("my aunt pass away" -> "passed
    away") is nearly always a grammar fix, so it passes."""
    if said in _PAST:
        return _PRESENT.get(wrote) == _PAST[said]
    stem = _stem()
    past_or_ing = wrote.endswith("ing") or wrote.endswith("ed") and stem(wrote) != wrote  # "need" is no past form
    return said.endswith("ed") and len(wrote) > 2 and not past_or_ing and stem(said) == stem(wrote)


def _words(toks: list[str]) -> list[str]:
    return [t for t in toks if t not in _CLAUSE_MARK]


def _copies(toks: list[str]) -> bool:
    """An aligned run that shows copying: two words, or one word that is not a function word."""
    words = _words(toks)
    return len(words) >= 2 or bool(words) and words[0] not in _FUNCTION_WORDS


def _after_auxiliary(toks: list[str], at: int) -> bool:
    return at > 0 and toks[at - 1] in _AUXILIARIES


def _negates_kept_words(dropped: list[str]) -> bool:
    """A dropped negation flips the sentence only when what it negated was kept: nothing but adverbs and
    auxiliaries follow it in the dropped words ("hadn't stepped" -> "had stepped"). "no job and no health
    insurance" -> "no health insurance" dropped "job" with its "no"; "the never ending covid situation" ->
    "the covid situation" dropped "ending"."""
    for k, word in enumerate(dropped):
        if word in _NEGATING:
            rest = [w for w in dropped[k + 1:] if w not in _AUXILIARIES and w not in _ADVERBS]
            if not rest:
                return True
    return False


def _scale_end(words: set[str]) -> str | None:
    """Which end of the amount / frequency scale the words name; "not much" is the little end."""
    lots, little = bool(words & _LOTS), bool(words & _LITTLE)
    if lots and words & _NEGATING:
        lots, little = False, True
    return None if lots == little else ("lots" if lots else "little")


def _with_negation_before(words: list[str], toks: list[str], at: int) -> set[str]:
    """The words, plus "not" when a negation stands just before them ("have not had [much]")."""
    return set(words) | ({"not"} if _NEGATING & set(toks[max(at - 3, 0):at]) else set())


def _scale_flipped(said: set[str], wrote: set[str]) -> bool:
    """One end of the amount / frequency scale replaced by the other ("some" -> "a lot of", "always" -> "sometimes")."""
    ends = _scale_end(said), _scale_end(wrote)
    return None not in ends and ends[0] != ends[1]


def _negates_copied_clause(theirs: list[str], i1: int, i2: int, start: int) -> bool:
    """Words dropped just before the copied stretch negate it ("i do not have a garden" -> "i have a garden"):
    they end at the stretch, their negation is in its clause (no clause mark after it), and the stretch
    does not open with its own subject ("No, I have sent them emails" answers a question; "No" negates
    nothing of what follows)."""
    if i2 != start or start >= len(theirs) or theirs[start] in _FIRST_PERSON | {"we"}:
        return False
    dropped = theirs[i1:i2]
    last = max((k for k, t in enumerate(dropped) if t in _NEGATING), default=None)
    return last is not None and not _CLAUSE_MARK & set(dropped[last:])


def _own_clause(dropped: list[str]) -> list[str]:
    """The end of the dropped words that belongs to the clause of the words after them: back to a clause mark,
    a clause word ("if" and "unless" included: they open the clause they govern) or the seeker as a new
    subject ("things could be worse i do still [have some savings]": "could" is another clause's), keeping a
    word of `_IRREALIS` just before that subject ("maybe i can [do a zoom meeting]", "i wish i [had ...]").
    Empty when someone else is the subject there ("you would love the [shipyard] i work in": the partner's
    "would")."""
    out: list[str] = []
    for t in reversed(dropped):
        if t in _CLAUSE_MARK or (t in _CLAUSE_WORDS and t not in _GOVERNING):
            break
        out.insert(0, t)
        if t in _GOVERNING:
            break
    subjects = [k for k, t in enumerate(out) if t in ("i", "we")]
    if subjects:
        k = subjects[-1]
        out = out[k - 1:] if k > 0 and out[k - 1] in _IRREALIS else out[k:]
    return [] if _THEIR_SUBJECT & set(out) else out


_HEDGED = _IRREALIS | frozenset("can need needs must consider considering thinking wondering".split())
# "I would say I am athletic", "I would consider myself a gamer": an opinion softened, not a wish.
_OPINION = frozenset("say consider guess think imagine describe call bet".split())


def _irrealis_dropped(said: list[str], mine: list[str]) -> bool:
    """The seeker's words had a word of `_IRREALIS` and the sentence keeps no hedge at all ("maybe I can ask" ->
    "I can ask" and "I will probably be" -> "I might just be" stay hedged; "I'd love to work as a diplomat" ->
    "I am a diplomat" does not)."""
    marks = [w for k, w in enumerate(said) if w in _IRREALIS
             and not (w == "would" and k + 1 < len(said) and said[k + 1] in _OPINION)]
    return bool(marks) and not _HEDGED & set(mine)


def _someone_of_mine(before: list[str], copied: str) -> bool:
    """ "my manager is (very strict)", "my wife (was laid off)", "my husband works (a lot)": someone of the
    seeker's is the subject of what the sentence copies. "walk my (three dogs)" and "some of my salary
    (to charity)" are not: nothing after "my" and its noun acts as a verb."""
    if "my" not in before:
        return False
    rest = before[before.index("my") + 1:]
    if not rest:
        return False  # "my" is followed by the copied words themselves: the seeker's own thing
    verbs = rest[1:] or [copied]
    return any(w in _SUBJECT_VERBS or (w.endswith("s") and w not in ("his", "this")) for w in verbs)


def _clause_before(toks: list[str], end: int, limit: int = 4) -> list[str]:
    """Up to `limit` words before position `end`, not crossing a clause mark or a clause-opening word."""
    out: list[str] = []
    for t in reversed(toks[:end]):
        if t in _CLAUSE_MARK or t in _CLAUSE_WORDS or len(out) == limit:
            break
        out.insert(0, t)
    return out


def meaning_change(sentence: str, utterance: str) -> str | None:
    """Why `sentence` does not keep the meaning of `utterance` (one of MEANING_REASONS), or None.

    Only the utterance's statements count (`extractor.statements`: "have you ever been to disney world?"
    says nothing about the speaker). Aligned with all of them, a sentence can borrow its subject or tense
    from another statement ("I'm also pretty sure she's already aware. She's pretty sharp." -> "I am pretty
    sharp."), so the statement it copies most is checked on its own too, for subject and tense. A negation
    is only judged against all statements: a sentence joining two statements adds the other's words."""
    pieces = statements(utterance)
    if not pieces:
        return None
    mine = tokens(sentence)
    changed = _change(mine, tokens(" ".join(pieces)))
    if changed is None and len(pieces) > 1:
        closest = max(pieces, key=lambda s: _longest_copy(mine, tokens(s)))
        changed = _change(mine, tokens(closest), negation=False)
    return changed


def _longest_copy(mine: list[str], theirs: list[str]) -> int:
    return difflib.SequenceMatcher(a=theirs, b=mine, autojunk=False).find_longest_match().size


def _stems(toks: list[str]) -> list[str]:
    """Content words stemmed ("playing" -> "play"), the words the rules read (negations, function words,
    auxiliaries, clause marks) as they are."""
    keep = _NEGATING | _FUNCTION_WORDS | _AUXILIARIES | _CLAUSE_MARK
    return [t if t in keep else _stem()(t) for t in toks]


def _change(mine: list[str], theirs: list[str], negation: bool = True, stemmed: bool = False) -> str | None:
    """The first meaning change found aligning the sentence's tokens (`mine`) with the seeker's (`theirs`).

    A paraphrase that copies no word as it is is aligned again on stems, for negations only ("I don't play any
    musical instruments" -> "i enjoy playing music"): its other edits are what a paraphrase changes anyway."""
    matcher = difflib.SequenceMatcher(a=theirs, b=mine, autojunk=False)
    ops = matcher.get_opcodes()
    kept = [op for op in ops if op[0] == "equal" and _copies(theirs[op[1]:op[2]])]
    if not kept:
        return None if stemmed or not negation else _change(_stems(mine), _stems(theirs), stemmed=True)
    start, end = kept[0][1], kept[-1][2]  # the stretch of the utterance the sentence copies
    moved = NEAR_NEGATIONS & set(mine) & set(theirs)  # adverbs move freely: "I see them rarely" -> "I rarely see them"
    person = joined = False
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            continue
        said, wrote = _words(theirs[i1:i2]), _words(mine[j1:j2])
        inside = start <= i1 and i2 <= end
        if negation and _NEGATING & set(wrote) - moved and not _NEGATING & set(said):
            return NEGATION_CHANGED
        if negation and (inside or _negates_copied_clause(theirs, i1, i2, start)) and _NEGATING & set(said) - moved \
                and not _NEGATING & set(wrote) and _negates_kept_words(said):
            return NEGATION_CHANGED
        if negation and i1 == end and said and said[0] in NEAR_NEGATIONS - moved and not _NEGATING & set(wrote):
            return NEGATION_CHANGED  # an adverb right after the copied words: "I see my family [rarely]"
        if stemmed:
            continue
        if inside and tag in ("delete", "replace") and _joins_two_predicates(said):
            joined = True  # "i broke my [foot and chipped my two] front teeth" -> "i broke my front teeth" (the
            # other kinds, more specific, are looked for first)
        if tag == "replace" and (inside or i2 == start or i1 == end) and _THEIRS & set(said) and _OURS & set(wrote):
            return SUBJECT_CHANGED  # "I do all [his] paperwork" -> "I do all [my] paperwork"
        if tag == "replace" and (inside or i2 == start or i1 == end) and _OURS & set(said) and _THEIRS & set(wrote):
            return PERSON_CHANGED  # "I have gotten [my] son to go to a therapist" -> "... [his] son ..."
        if tag == "replace" and len(said) == len(wrote) == 1 and {said[0], wrote[0]} <= _PERSON.keys() \
                and _PERSON[said[0]] != _PERSON[wrote[0]]:
            person = True  # "wants me to leave [him]" -> "wants me to leave [her]" (after the subject test, below)
        if (inside or i2 == start) and said[-2:] in (["used", "to"], ["use", "to"]) and not {"used", "use"} & set(mine):
            return TENSE_CHANGED  # "I [use to] volunteer at a nursing home" -> "I volunteer at a nursing home"
        if inside and _irrealis_dropped(_own_clause(theirs[start:i2]), mine):
            return MODALITY_CHANGED  # "i [would be] required to wear a mask" -> "i am required to ..."
        if tag == "replace" and (inside or i2 == start or i1 == end) and len(said) <= 3 and _scale_flipped(
                _with_negation_before(said, theirs, i1), _with_negation_before(wrote, mine, j1)):
            return QUANTITY_CHANGED
        if tag == "delete" and 0 < k < len(ops) - 1 and ops[k - 1][0] == "equal" and ops[k + 1] in kept \
                and (_LIMITING & set(theirs[i1:i2]) and i2 - i1 <= 2 or theirs[i1:i2] in _LIMITING_PAIRS) \
                and not _LIMITING & set(mine):
            return QUANTITY_CHANGED  # "I [sometimes] wake up in the middle of the night" -> "I wake up ..."
        if tag != "replace" or _after_auxiliary(theirs, i1) or _after_auxiliary(mine, j1):
            continue
        if inside or len(said) <= 2:
            compared = [(s, w) for s in said for w in wrote]
        elif i2 == start and said and wrote:  # the word just before the copied words: its verb ("i had to cut")
            compared = [(said[-1], wrote[-1])]
            if 1 < len(said) <= 4 and said[1] != "to" and not _CLAUSE_MARK & set(theirs[i1:i2]):
                compared.append((said[0], wrote[0]))  # or the verb opening a short dropped stretch: "i [needed a lot
                # of] new things" -> "i [need] new things" (not "i [had to walk my] three dogs": "had to" is no claim)
        else:
            compared = []
        if any(_made_present(s, w) for s, w in compared):
            return TENSE_CHANGED
    if stemmed:
        return None
    if theirs[start] in ("i", "we"):  # the copied words open their own clause: only a word just before governs it
        before = theirs[start - 1:start] if start and theirs[start - 1] in _IRREALIS else []  # "if [i follow him]"
    else:
        before = _own_clause(theirs[:start])
    if _irrealis_dropped(before + theirs[start:start + 1], mine):  # (the next word tells "would say" apart)
        return MODALITY_CHANGED  # "one day i will haves me [a farm]" -> "i have a farm"
    runs = [op for op in kept if len(_words(theirs[op[1]:op[2]])) >= 2]
    if runs and _subject_changed(mine, theirs, runs[0]):
        return SUBJECT_CHANGED
    if joined:
        return PARTS_JOINED
    if any(_predicate_of_another(theirs, op[1], mine, op[3]) for op in runs[1:]):
        return SUBJECT_CHANGED  # "I am not [sure if you are] familiar with my course material" -> "I am not familiar ..."
    return PERSON_CHANGED if person else None


def _predicate_of_another(theirs: list[str], start: int, mine: list[str], at: int) -> bool:
    """A later copied run that goes on from another person's subject and auxiliary ("... if you are [familiar with
    ...]") where the sentence does not name that person before it: copied after the sentence's own first-person
    opening, it makes their predicate the seeker's ("I do worry that he might [be upset ...]" keeps "he")."""
    before = theirs[max(0, start - 2):start]
    return (len(before) == 2 and before[0] in _OTHER_SUBJECT and before[1] in _AUXILIARIES
            and before[0] not in mine[max(0, at - 2):at])


def _joins_two_predicates(dropped: list[str]) -> bool:
    """Words dropped from inside the copied stretch end one predicate and open the next: a content word before
    the last "and" / "but" / "or" and one after it ("my [foot and chipped my two] front teeth"), so the sentence
    gives the first verb the second one's object. Dropping one item of a list ("I have [a wife and] two kids")
    or a verb that the sentence keeps ("I really [need a new job and] want to move") leaves nothing after it."""
    last = max((k for k, t in enumerate(dropped) if t in _COORDINATORS), default=None)
    if last is None:
        return False
    content = [t not in _FUNCTION_WORDS and t not in _AUXILIARIES for t in dropped]
    return any(content[:last]) and any(content[last + 1:])


def _subject_changed(mine: list[str], theirs: list[str], first: tuple) -> bool:
    """The sentence speaks as the seeker, the words it copies (from the aligned run `first` on) do not start
    with the seeker, and the seeker's clause before them names someone else ("she", "my wife was")."""
    mine_before, theirs_first = _words(mine[:first[3]]), theirs[first[1]]
    as_seeker = mine_before[0] in _FIRST_PERSON | {"am"} if mine_before else bool(mine) and mine[0] in _FIRST_PERSON
    if not as_seeker or theirs_first in _FIRST_PERSON:
        return False
    before = _clause_before(theirs, first[1])
    if before and before[-1] in _THIRD_PERSON_SUBJECT:
        return True  # the subject right before the copied words: "I know [they] went to a club" -> "I went to a club"
    if not before or _FIRST_PERSON & (set(before) - {"my"}):
        return False
    return bool(_OTHER_SUBJECT & set(before)) or (_someone_of_mine(before, theirs_first) and "my" not in mine_before)
