"""Training and development data for the judges (`extractor.cross_encoder`), built from files in place.

Verifier pairs: (what the seeker read and wrote, a candidate persona sentence) -> does the seeker state or
clearly imply this about themselves?
- positives: gold persona sentences aligned with the utterance that states them (`extractor.alignment`), and
  the speaker's own first-person statements and clauses;
- negatives in the manner of FactCC: each positive edited so that it no longer holds (`EDITS`: a negation
  flipped, someone else made the subject, a number changed, an antonym, a past state made present, a wish or
  plan made a fact), the speaker's fact told about someone else made the speaker's, other sentences of the
  same persona that the utterance does not touch, what the partner said about themselves, and look-alikes
  (`LookAlikes`): other people's sentences that share a word or an opening with the utterance but say something
  it does not.
Rewrite-judge pairs: the extractor's rewrites of ESConv turns and the build's quotes of part of a seeker's sentence,
labelled blind (`REWRITES`, `QUOTE_PARTS`, their train parts; the dev parts choose the thresholds, the test parts
are only scored), with the labelled meaning changes and implied facts of ESConv and a replay of the verifier's ESConv
pairs.
Fact-classifier sentences: a fact about the speaker's life (gold persona sentences, hand-labelled facts) vs
not one (hand-labelled remarks and non-facts; the ESConv supporters' sentences other than self-disclosure:
sympathy, questions, suggestions, pleasantries).

The hand-labelled audit files (`research/labels/*.tsv` and `extractor/remark_labels.tsv`) are the development data of
the verifier and the fact classifier: the verifier never trains on them; the fact classifier trains on some files
and is scored on the others (`FACT_HELDOUT_FILES`), never on a file it trained on. ESConv dialogs named in any label
file are left out of their generated training pairs, so that no development utterance is seen in training (the
quote parts' file, drawn from nearly every dialog, aside: its dev dialogs the rewrite judge leaves out itself). The
rewrite judge trains on ESConv label files (`meaning_audit.tsv`, `implied_esconv.tsv`, the train parts of `REWRITES`
and `QUOTE_PARTS`, and of `WRITTEN` when asked), none of whose dialogs is in its test parts.
"""
from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from common.cli import InputError
from extractor.dedup import normalise
from extractor.remarks import REMARK_LABELS
from extractor.statements import statements

LABELS_DIR = Path(__file__).resolve().parents[1] / "research" / "labels"  # the hand-labelled audit files
FACT_HELDOUT_FILES = ("persona_audit_round3.tsv", "remark_audit.tsv")
IMPLIED = "implied_pairs.tsv"  # labelled implied facts and sentences that say more (research.implied_pairs)
IMPLIED_REPEAT = 3  # each labelled training pair is seen this many times: a few hundred among thousands
REWRITES = "rewrite_labels.tsv"  # the extractor's rewrites on ESConv, labelled blind (research.rewrite_labels)
WRITTEN = "implied_written.tsv"  # implied facts in ESConv's words, written and labelled blind (research.written_implied)
WRITTEN_MORE = "implied_written_more.tsv"  # more of them, all for training (train dialogs outside WRITTEN's dev part)
QUOTE_PARTS = "quote_part_labels.tsv"  # kept quotes of part of a seeker's sentence, labelled blind (the same tool)
PART_NEGATIVE_REPEAT = 3  # an unfaithful quote part is seen this many times more: one in thirteen is one
CONTRAST_TRIES = 20  # turns of other dialogs tried for an implied fact's contrast pair
CONTEXT_WORDS = 40  # the supporter's message is cut to its last words: the seeker's own words matter most


@dataclass(frozen=True)
class Example:
    first: str
    second: str
    label: int  # 1 positive (stated / a fact), 0 negative
    kind: str  # where it came from (counted in the model card)
    group: str = ""  # what must not be split between training and validation (a pair, a dialog, a file row)


def reading(utterance: str, context: str = "") -> str:
    """The verifier's first text: the supporter's message (cut to its last words), marked, then the seeker's."""
    words = context.split()
    said = " ".join(words[-CONTEXT_WORDS:])
    return (f"Supporter: {said} " if said else "") + f"Seeker: {utterance}"


def seeker_words(first: str) -> str:
    """The seeker's utterance of a `reading` (what the rules compare a sentence with)."""
    return first.split("Seeker: ", 1)[-1]


# ------------------------------------------------------------------------------------------ FactCC-style edits
_NEGATABLE = [(r"\bi am\b", "i am not"), (r"\bi'm\b", "i'm not"), (r"\bi have\b", "i do not have"),
              (r"\bi was\b", "i was not"), (r"\bi like\b", "i do not like"), (r"\bi love\b", "i do not love"),
              (r"\bi can\b", "i can not"), (r"\bi will\b", "i will not"), (r"\bi work\b", "i do not work"),
              (r"\bi live\b", "i do not live"), (r"\bi enjoy\b", "i do not enjoy"), (r"\bi want\b", "i do not want"),
              (r"\bmy (\w+) is\b", r"my \1 is not"), (r"\bi (\w+ed)\b", r"i did not \1")]
_UNNEGATE = [(r"\b(?:do|does|did) not\s+|\b(?:do|does|did)n'?t\s+", ""), (r"\b(am|is|was|are|were) not\b", r"\1"),
             (r"\bcan not\b|\bcan'?t\b", "can"), (r"\bwill not\b|\bwon'?t\b", "will"), (r"\bnever\s+", ""),
             (r"\bno longer\s+", "")]
_ANTONYMS = {"love": "hate", "hate": "love", "like": "dislike", "happy": "sad", "sad": "happy", "married": "single",
             "single": "married", "old": "young", "young": "old", "older": "younger", "younger": "older",
             "big": "small", "small": "big", "always": "never", "good": "bad", "bad": "good", "more": "less",
             "less": "more", "rich": "poor", "poor": "rich", "tall": "short", "short": "tall", "first": "last",
             "brother": "sister", "sister": "brother", "husband": "wife", "wife": "husband", "son": "daughter",
             "daughter": "son", "mom": "dad", "dad": "mom", "mother": "father", "father": "mother", "lost": "found",
             "fired": "hired", "hired": "fired", "quit": "started", "started": "quit", "won": "lost", "cat": "dog",
             "dog": "cat", "boyfriend": "girlfriend", "girlfriend": "boyfriend", "early": "late", "late": "early"}
_OTHERS = ("my sister", "my brother", "my friend", "my mom", "my husband", "my wife", "my boss", "my son")
_THIRD = {"am": "is", "was": "was", "have": "has", "do": "does", "'m": " is"}
_PAST_TO_PRESENT = [(r"\bi was\b", "i am"), (r"\bi used to (\w+)", r"i \1"), (r"\bi had\b", "i have"),
                    (r"\bmy (\w+) was\b", r"my \1 is"), (r"\bi've been\b", "i am"), (r"\bi lived\b", "i live"),
                    (r"\bi worked\b", "i work"), (r"\bwe were\b", "we are")]
_WISH_TO_FACT = [(r"\bi (?:want|would like|wish|hope|plan|am going|'m going|need) to (?:be|become) (?:a |an )?",
                  "i am a "),
                 (r"\bi (?:want|would like|hope|plan|am going|'m going|am trying|'m trying) to (\w+)", r"i \1"),
                 (r"\bi wish i (?:was|were|had|could)\b", "i am"), (r"\bi might\b", "i"), (r"\bi may\b", "i"),
                 (r"\bi think i (?:might|may|will)\b", "i"), (r"\bmaybe i (?:will|should|could)\b", "i")]
_NUMBER = re.compile(r"\b\d+\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty)\b")
_NUMBER_WORDS = "one two three four five six seven eight nine ten twenty thirty forty fifty".split()


def _sub_first(patterns, text: str) -> str | None:
    for pattern, repl in patterns:
        new, n = re.subn(pattern, repl, text, count=1)
        if n and new != text:
            return new
    return None


def negation_flipped(s: str) -> str | None:
    """A negated sentence loses its negation; any other gains one ("i am a nurse" -> "i am not a nurse")."""
    low = s.lower()
    for pattern, repl in _UNNEGATE:
        if re.search(pattern, low):
            return re.sub(pattern, repl, low, count=1)
    return _sub_first(_NEGATABLE, low)


def someone_else(s: str, rng: random.Random) -> str | None:
    """"i am a nurse" -> "my sister is a nurse": the speaker's fact told of someone else."""
    low = s.lower()
    other = rng.choice(_OTHERS)
    m = re.match(r"^(.*?)\bi\s+(am|was|have|do|'m)\b(.*)$", low)
    if m:
        return f"{m.group(1)}{other} {_THIRD[m.group(2)].strip()}{m.group(3)}"
    m = re.match(r"^(.*?)\bmy\b(.*)$", low)
    if m:
        return f"{m.group(1)}{other}'s{m.group(2)}"
    return None


def made_mine(s: str) -> str | None:
    """"my sister is a nurse" -> "i am a nurse": someone else's fact made the speaker's (the reverse edit)."""
    m = re.match(r"^(?:.*?\b)?(?:my|her|his|our) (?:\w+ )?(?:sister|brother|friend|mom|mother|dad|father|husband|wife|"
                 r"boss|son|daughter|boyfriend|girlfriend|partner|cousin|aunt|uncle|kids?|parents?) (is|was|has|had|"
                 r"works|lives|loves|likes|got|lost)\b(.*)$", s.lower())
    if not m:
        return None
    verb = {"is": "am", "has": "have", "works": "work", "lives": "live", "loves": "love", "likes": "like"}.get(
        m.group(1), m.group(1))
    return f"i {verb}{m.group(2)}"


def number_changed(s: str, rng: random.Random) -> str | None:
    m = _NUMBER.search(s.lower())
    if not m:
        return None
    old = m.group(0)
    if old.isdigit():
        new = str(int(old) + rng.choice([-3, -2, 2, 3, 5, 10])) if int(old) > 3 else str(int(old) + rng.choice([1, 2, 3]))
    else:
        new = rng.choice([w for w in _NUMBER_WORDS if w != old])
    return s.lower()[:m.start()] + new + s.lower()[m.end():]


def antonym(s: str, rng: random.Random) -> str | None:
    words = s.lower().split()
    spots = [i for i, w in enumerate(words) if w.strip(".,!") in _ANTONYMS]
    if not spots:
        return None
    i = rng.choice(spots)
    bare = words[i].strip(".,!")
    words[i] = words[i].replace(bare, _ANTONYMS[bare])
    return " ".join(words)


def made_present(s: str) -> str | None:
    return _sub_first(_PAST_TO_PRESENT, s.lower())


def wish_made_fact(s: str) -> str | None:
    return _sub_first(_WISH_TO_FACT, s.lower())


EDITS = ("negation", "someone else", "number", "antonym", "made present", "wish made fact")


def recased(edited: str, original: str) -> str:
    """The edits work in lower case; give the result the original's capitals (a first capital, "I") so that case
    never tells an edited sentence from a true one."""
    if original[:1].isupper():
        edited = edited[:1].upper() + edited[1:]
    if re.search(r"\bI\b", original):
        edited = re.sub(r"\bi\b", "I", edited)
    return edited


def edits_of(sentence: str, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, edited sentence) for every edit that applies to a true sentence; each edit makes it false."""
    found = [("negation", negation_flipped(sentence)), ("someone else", someone_else(sentence, rng)),
             ("number", number_changed(sentence, rng)), ("antonym", antonym(sentence, rng)),
             ("made present", made_present(sentence)), ("wish made fact", wish_made_fact(sentence))]
    return [(k, recased(e, sentence)) for k, e in found if e and e.strip() and e.strip() != sentence.lower().strip()]


# --------------------------------------------------------------------------------- rewrite-judge edits
# What the blind-labelled rewrites show the extractor doing and the verifier passing: a hedge or a frequency dropped
# ("i sometimes wake up panicking" -> "i wake up panicking"), an intensity added, a garbled agreement ("i has been
# applying"); and what it may do, which changes nothing (a contraction written out).
_HEDGES = re.compile(r"\b(?:sometimes|usually|mostly|often|probably|likely|maybe|almost|kind of|sort of|a little|"
                     r"i think|i guess|i feel like|seem to|seems to)\s+")
_INTENSIFIABLE = re.compile(r"\b(i am|i'm|i feel|i was|i get)\s+(?!very\b|so\b|really\b|not\b)([a-z]+)")
_GARBLES = [(r"\bi have\b", "i has"), (r"\bi am\b", "i is"), (r"\bi don't\b", "i doesn't"), (r"\bi was\b", "i were"),
            (r"\bi do\b", "i does")]
_FORM_ONLY = [(r"\bi'm\b", "i am"), (r"\bi've\b", "i have"), (r"\bi'll\b", "i will"), (r"\bi'd\b", "i would"),
              (r"\bcan't\b", "can not"), (r"\bdon't\b", "do not"), (r"\bdidn't\b", "did not"),
              (r"\bim\b", "i am"), (r"\bive\b", "i have")]


def hedge_dropped(s: str) -> str | None:
    low = s.lower()
    m = _HEDGES.search(low)
    return low[:m.start()] + low[m.end():] if m else None


def intensified(s: str) -> str | None:
    return _sub_first([(_INTENSIFIABLE.pattern, r"\1 very \2")], s.lower())


def rewrite_edits(sentence: str) -> list[tuple[str, str, int]]:
    """(kind, edited sentence, label) for each rewrite edit that applies: 0 for an edit that changes what the
    speaker said, 1 for one that changes only its form."""
    found = [("hedge dropped", hedge_dropped(sentence), 0), ("intensity added", intensified(sentence), 0),
             ("garbled", _sub_first(_GARBLES, sentence.lower()), 0),
             ("contraction written out", _sub_first(_FORM_ONLY, sentence.lower()), 1)]
    return [(k, recased(e, sentence), y) for k, e, y in found
            if e and e.strip() and e.strip() != sentence.lower().strip()]


def esconv_rewrite_examples(dialogs: Sequence, seed: int = 13, folder: Path | None = None) -> list[Example]:
    """Rewrite-judge pairs from ESConv seeker turns (dialogs named in a label file left out): each turn's
    first-person clauses through `rewrite_edits`, at most one edit of each kind per turn."""
    from extractor.verifier import seeker_clauses

    rng = random.Random(seed)
    out: list[Example] = []
    for dialog_id, turns in unlabelled_seeker_turns(dialogs, folder):
        for text, before in turns:
            mine = [c for c in seeker_clauses(text) if len(c.split()) >= 3]
            rng.shuffle(mine)
            done: set[str] = set()
            for c in mine:
                for kind, edited, label in rewrite_edits(c):
                    if kind not in done:
                        done.add(kind)
                        out.append(Example(reading(text, before), edited, label, f"esconv edit: {kind}", dialog_id))
    return out


def unlabelled_seeker_turns(dialogs: Sequence, folder: Path | None = None) -> Iterable[tuple[str, list[tuple[str, str]]]]:
    """(dialog id, [(seeker turn, the supporter's message just before it or "")]) per ESConv dialog that no label
    file names: what the judges' generated ESConv pairs are built from."""
    from schemas.esconv import SEEKER

    skip = labelled_dialogs(folder or LABELS_DIR)
    for d in dialogs:
        if d.dialog_id not in skip:
            yield d.dialog_id, [(t.text, d.turns[i - 1].text if i and d.turns[i - 1].speaker != SEEKER else "")
                                for i, t in enumerate(d.turns) if t.speaker == SEEKER]


# ------------------------------------------------------------------------------------------ verifier examples
class LookAlikes:
    """Hard negatives that share words with the utterance but are not stated by it.

    A verifier trained only on edits and unrelated sentences learns that word overlap means "stated" ("He used to
    leave me at parties" would state "I like to go to parties."). From a pool of other people's persona sentences
    and clauses it draws, for an utterance: one that shares its rarest content word (`shares a word`), and one
    that begins with one of the speaker's own clauses and says more (`says more`: "i worry" -> "i worry about my
    health"). A candidate the utterance even nearly states (`NEAR`, or all its content words said) is never drawn."""

    def __init__(self, pool: Iterable[str], scorer):
        from extractor.grounding import content_words

        self.scorer = scorer
        self.pool = sorted({s.strip() for s in pool if len(s.split()) >= 3})
        self.words = {s: content_words(s) for s in self.pool}
        self.by_word: dict[str, list[str]] = {}
        self.by_opening: dict[str, list[str]] = {}
        for s in self.pool:
            for w in self.words[s]:
                self.by_word.setdefault(w, []).append(s)
            self.by_opening.setdefault(_opening(s), []).append(s)
        scorer.prepare(self.pool)

    def _unstated(self, candidates: Sequence[str], utterance: str) -> list[str]:
        from extractor.alignment import NEAR
        from extractor.grounding import content_words, pieces

        said = content_words(utterance)
        todo = [c for c in candidates if c.lower() not in utterance.lower()
                and not (self.words.get(c) or content_words(c)) <= said]
        texts = [*pieces(utterance), utterance]
        if not todo:
            return []
        cos, lex = self.scorer.scores(todo, texts)
        return [c for i, c in enumerate(todo)
                if not any(NEAR.supported(float(cos[i, j]), float(lex[i, j])) for j in range(len(texts)))]

    def draw(self, utterance: str, own: Sequence[str], rng: random.Random) -> list[tuple[str, str]]:
        """(kind, sentence) hard negatives for `utterance` whose own clauses are `own`."""
        from extractor.grounding import content_words

        out = []
        words = sorted(content_words(utterance), key=lambda w: (len(self.by_word.get(w, ())), w))
        for w in words:
            found = self.by_word.get(w, [])
            if len(found) >= 2000:  # a word that common says nothing about what the sentence is about
                continue
            picked = self._unstated(rng.sample(found, min(len(found), 8)), utterance)
            if picked:
                out.append(("shares a word", rng.choice(picked)))
                break
        for clause in own:
            key = normalise(clause)
            longer = [c for c in self.by_opening.get(_opening(clause), ())
                      if normalise(c).startswith(key + " ") and len(normalise(c).split()) >= len(key.split()) + 2]
            tails = {" ".join(normalise(c).split()[len(key.split()):]): c for c in rng.sample(longer, min(len(longer), 8))}
            picked = self._unstated(list(tails), utterance)  # what it says beyond the clause is not said
            if picked:
                out.append(("says more", tails[rng.choice(picked)]))
                break
        return out


def look_alike_pool(pairs: Sequence, indices: Iterable[int], dialogs: Sequence, folder: Path | None = None) -> list[str]:
    """The training personas' sentences and the ESConv seekers' first-person clauses (dialogs named in a label file
    left out): the sentences `LookAlikes` draws from."""
    from extractor.verifier import seeker_clauses
    from schemas.esconv import SEEKER

    skip = labelled_dialogs(folder or LABELS_DIR)
    return ([s for i in indices for s in pairs[i].persona]
            + [c for d in dialogs if d.dialog_id not in skip for t in d.turns if t.speaker == SEEKER
               for c in seeker_clauses(t.text)])


def _opening(s: str) -> str:
    return " ".join(normalise(s).split()[:2])


def verifier_examples(pairs: Sequence, indices: Iterable[int], scorer, seed: int = 13,
                      look_alikes: LookAlikes | None = None) -> list[Example]:
    """Positives and edited / borrowed negatives of the chosen persona pairs (see the module docstring)."""
    from extractor.alignment import NEAR
    from extractor.grounding import pieces, self_statements

    rng = random.Random(seed)
    indices = list(indices)
    scorer.prepare([t for i in indices for t in (*pairs[i].utterances, *pairs[i].persona)])
    out: list[Example] = []
    for i in indices:
        pair = pairs[i]
        group = f"pair{i}"
        rows = scorer.support_by_utterance(list(pair.persona), list(pair.utterances))
        for u, utterance in enumerate(pair.utterances):
            first = reading(utterance, pair.context_of(u))
            stated = [s for s, row in zip(pair.persona, rows) if row[u] is not None and row[u].supported]
            near = {s for s, row in zip(pair.persona, rows)
                    if row[u] is not None and NEAR.supported(row[u].cosine, row[u].lexical)}
            own = [p for s in self_statements(utterance) for p in dict.fromkeys((s, *pieces(s))) if len(p.split()) >= 3]
            for s in stated:
                out.append(Example(first, s, 1, "gold stated", group))
            for s in own[:2]:
                out.append(Example(first, s, 1, "own statement", group))
            for s in stated + own[:1]:
                for kind, edited in edits_of(s, rng):
                    out.append(Example(first, edited, 0, f"edit: {kind}", group))
            for s in statements(utterance):
                if (mine := made_mine(s)):
                    out.append(Example(first, recased(mine, s), 0, "edit: made the speaker's", group))
            untouched = [s for s in pair.persona if s not in near]
            for s in rng.sample(untouched, min(len(untouched), 1)):
                out.append(Example(first, s, 0, "same persona, not stated", group))
            partner = self_statements(pair.context_of(u))
            for s in partner[:1]:
                if s.lower() not in utterance.lower():
                    out.append(Example(first, s, 0, "the partner's own statement", group))
            if look_alikes is not None and (stated or own):
                for kind, s in look_alikes.draw(utterance, own, rng):
                    out.append(Example(first, s, 0, f"another's sentence: {kind}", group))
    return out


def esconv_verifier_examples(dialogs: Sequence, seed: int = 13, folder: Path | None = None,
                             look_alikes: LookAlikes | None = None) -> list[Example]:
    """Verifier pairs from ESConv seeker turns (the build's own domain), dialogs named in a label file left out:
    each turn's first-person clauses (+), their edits (-), a clause of another seeker turn of the same dialog that
    shares few content words with this one (-: said, but not here), and the supporter's own first-person
    statement just before (-: the supporter's, not the seeker's)."""
    from extractor.grounding import lexical_overlap, self_statements
    from extractor.verifier import seeker_clauses

    rng = random.Random(seed)
    out: list[Example] = []
    for dialog_id, turns in unlabelled_seeker_turns(dialogs, folder):
        own = [[c for c in seeker_clauses(text) if len(c.split()) >= 3] for text, _ in turns]
        for k, ((text, before), mine) in enumerate(zip(turns, own)):
            if not mine:
                continue
            first = reading(text, before)
            group = dialog_id
            for c in rng.sample(mine, min(2, len(mine))):
                out.append(Example(first, c, 1, "esconv own clause", group))
                if (mine_of := made_mine(c)):  # "my mom is sick" -> "I am sick": someone else's made the seeker's
                    out.append(Example(first, recased(mine_of, c), 0, "esconv edit: made the speaker's", group))
            for kind, edited in edits_of(rng.choice(mine), rng)[:2]:
                out.append(Example(first, edited, 0, f"esconv edit: {kind}", group))
            elsewhere = [c for j, cs in enumerate(own) if j != k for c in cs
                         if lexical_overlap(c, text) < 0.3]
            if elsewhere:
                out.append(Example(first, rng.choice(elsewhere), 0, "esconv another turn's clause", group))
            theirs = [s for s in self_statements(before) if len(s.split()) >= 3]
            if theirs:
                out.append(Example(first, rng.choice(theirs), 0, "esconv the supporter's own statement", group))
            if look_alikes is not None:
                for kind, s in look_alikes.draw(text, mine, rng):
                    out.append(Example(first, s, 0, f"esconv another's sentence: {kind}", group))
    return out


def balanced(examples: Sequence[Example], n: int, seed: int) -> list[Example]:
    """A seeded sample of at most n examples, half positive and half negative where the pool allows."""
    rng = random.Random(seed)
    pos = [e for e in examples if e.label == 1]
    neg = [e for e in examples if e.label == 0]
    k = min(n // 2, len(pos), len(neg))
    return rng.sample(pos, k) + rng.sample(neg, k)


# ------------------------------------------------------------------------------------------ label files
def read_tsv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError(f"hand-label file not found: {path} (the labels ship in research/labels/ and extractor/)")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def verifier_dev(folder: Path = LABELS_DIR) -> list[tuple[str, Example]]:
    """(file, example) for every hand-labelled (utterance, sentence) judgement of faithfulness; never trained on.

    Label 1: the sentence says what the utterance said (faithful / stated); 0: it does not (unfaithful,
    changed, not stated). Sentences labelled only as not a fact are left out (faithfulness is not in question)."""
    out: list[tuple[str, Example]] = []

    def add(name: str, utterance: str, sentence: str, label: str, yes: set[str], no: set[str]) -> None:
        if label in yes or label in no:
            out.append((name, Example(reading(utterance), sentence, int(label in yes), name)))

    for name in ("persona_audit.tsv", "persona_audit_round2.tsv", "persona_audit_round3.tsv"):
        for r in read_tsv(folder / name):
            add(name, r["utterance"], r["sentence"], r["label"], {"faithful"}, {"unfaithful"})
    for r in read_tsv(folder / "meaning_audit.tsv"):
        add("meaning_audit.tsv", r["utterance"], r["sentence"], r["label"], {"faithful"}, {"changed"})
    for r in read_tsv(folder / "quote_audit.tsv"):
        add("quote_audit.tsv", r["utterance"], r["generated"], r["generated_label"], {"faithful"}, {"unfaithful"})
    for r in read_tsv(folder / "grounding_labels.tsv"):
        add("grounding_labels.tsv", r["statement"], r["persona_sentence"], r["label"], {"stated"}, {"not stated"})
    out += [(f"{IMPLIED} (dev part)", e) for e in implied_examples("dev", folder)]
    return out


def implied_examples(part: str, folder: Path = LABELS_DIR) -> list[Example]:
    """The labelled implied facts (`research.implied_pairs`) of one part: "train" or "dev" (persona groups apart).

    Label 1: the speaker's words imply every claim of the gold sentence ("I'm a music major." / "I study music.");
    0: it says more than they do, or something else ("I like to meditate." / "I am a buddhist.")."""
    return [Example(reading(r["speaker_said"], r["partner_said"]), r["sentence"], int(r["label"] == "yes"),
                    "implied, labelled" if r["label"] == "yes" else "says more, labelled", f"pair{r['pair']}")
            for r in read_tsv(folder / IMPLIED) if r["part"] == part]


def rewrite_examples(part: str, folder: Path = LABELS_DIR) -> list[Example]:
    """The labelled ESConv rewrites (`research.rewrite_labels`) of one part: "train", "dev" or "test" (dialogs apart).

    Label 1: the seeker states or clearly implies the sentence, with the same meaning; 0: it changes or adds
    something (a tense, a hedge dropped, a detail added, someone else's made the seeker's, garbled)."""
    return [Example(reading(r["speaker_said"], r["partner_said"]), r["sentence"], int(r["label"] == "yes"),
                    f"esconv rewrite, labelled {'faithful' if r['label'] == 'yes' else 'unfaithful'}", r["dialog_id"])
            for r in read_tsv(folder / REWRITES) if r["part"] == part]


def quote_part_examples(part: str, folder: Path = LABELS_DIR) -> list[Example]:
    """The labelled quotes of part of a seeker's sentence (`research.rewrite_labels --kind quote-parts`) of one part.

    Label 1: read alone, it still says what the seeker said; 0: cutting it out changed that (a hedge, a condition or
    a scope left out, a worry or someone else's words made a fact, a fragment that claims nothing)."""
    return [Example(reading(r["speaker_said"], r["partner_said"]), r["sentence"], int(r["label"] == "yes"),
                    f"esconv quote part, labelled {'faithful' if r['label'] == 'yes' else 'unfaithful'}", r["dialog_id"])
            for r in read_tsv(folder / QUOTE_PARTS) if r["part"] == part]


def written_examples(part: str, folder: Path = LABELS_DIR, file: str = WRITTEN,
                     kind: str = "esconv written fact") -> list[Example]:
    """The written ESConv facts (`research.written_implied`) of one part: "train", "dev" or "test" (dialogs apart).

    Label 1: the seeker's turn states or clearly implies the sentence ("I got fired last month" / "I lost my job.");
    0: it says more or something else (a detail added, a hedge dropped, a cause assumed, someone else's made theirs)."""
    return [Example(reading(r["speaker_said"], r["partner_said"]), r["sentence"], int(r["label"] == "yes"),
                    f"{kind}, labelled {'implied' if r['label'] == 'yes' else 'says more'}", r["dialog_id"])
            for r in read_tsv(folder / file) if r["part"] == part]


def implied_judge_examples(folder: Path = LABELS_DIR, seed: int = 13, rewrites: bool = False,
                           edits: bool = False) -> list[Example]:
    """What the implied-fact judge trains on: the written facts' train part and the further written facts of
    `WRITTEN_MORE` (ESConv train dialogs outside the dev part), all labelled blind, with their contrast pairs; with
    `rewrites`, also the extractor's labelled rewrites' train part (the proposals the check is asked about); with
    `edits`, each of those labelled faithful once more, edited to say something else (`edited_facts`)."""
    more = written_examples("train", folder, WRITTEN_MORE, "esconv written fact (more)") \
        if (folder / WRITTEN_MORE).exists() else []
    written = written_examples("train", folder) + more
    revised = rewrite_examples("train", folder) if rewrites else []
    if not edits:  # the order the judges without edits trained in (training batches depend on it)
        return written + contrast_pairs(written, seed) + revised
    return written + revised + contrast_pairs(written, seed) + edited_facts(written + revised, seed)


def edited_facts(examples: Sequence[Example], seed: int = 13) -> list[Example]:
    """Each sentence labelled faithful, beside its own turn, with one FactCC-style edit that makes it false (a
    negation, someone else, a number, an antonym, a past made present, a wish made a fact, a hedge dropped, an
    intensity added; one drawn among those that apply): the edits that keep every other word of a faithful
    sentence, which a judge asked about one changed phrase must not pass."""
    rng = random.Random(seed)
    out: list[Example] = []
    for e in examples:
        if e.label != 1:
            continue
        found = edits_of(e.second, rng) + [(k, s) for k, s, y in rewrite_edits(e.second)
                                           if y == 0 and k in ("hedge dropped", "intensity added")]
        if found:
            kind, edited = rng.choice(found)
            out.append(Example(e.first, edited, 0, f"edit of a faithful sentence: {kind}", e.group))
    return out


def contrast_pairs(examples: Sequence[Example], seed: int = 13) -> list[Example]:
    """Each written sentence again with the other label, so that the sentence alone cannot decide: an implied fact
    beside a turn of another dialog that shares few of its words (-), and a sentence that says more beside its turn
    with the sentence itself said after it (+). Without them the judge learns which sentences writers tend to invent
    ("I lost my job." is written as saying more a dozen times) and gives "I lost my job." P 0.11 even beside
    "I lost my job.", and "I have a cat." P 0.96 beside "I have two kids and a dog."."""
    from extractor.grounding import lexical_overlap

    rng = random.Random(seed)
    turns = sorted({(e.first, e.group) for e in examples})
    out: list[Example] = []
    for e in examples:
        if e.label == 1:
            for first, group in rng.sample(turns, min(CONTRAST_TRIES, len(turns))):
                if group != e.group and lexical_overlap(e.second, seeker_words(first)) < 0.2:
                    out.append(Example(first, e.second, 0, "contrast: an implied fact beside another dialog's turn",
                                       group))
                    break
        else:
            out.append(Example(f"{e.first} {e.second}", e.second, 1,
                               "contrast: a sentence that says more, said after its turn", e.group))
    return out


def implied_dev_pairs(folder: Path = LABELS_DIR) -> set[int]:
    """Pairs of the labelled implied facts' development part: with their persona groups, never trained on."""
    return {int(r["pair"]) for r in read_tsv(folder / IMPLIED) if r["part"] == "dev"}


def labelled_dialogs(folder: Path = LABELS_DIR) -> set[str]:
    """ESConv dialog ids that any label file names (kept out of training). The quote parts' file is not one: it was
    drawn from nearly every dialog of a build, its train part is training data, and the rewrite judge keeps its dev
    dialogs out itself (`pipelines.train_judges`); nor is the written facts' file, whose dialogs the judges keep out
    when they train on it (`--written-facts`)."""
    ids: set[str] = set()
    for path in [*sorted(p for p in folder.glob("*.tsv") if p.name not in (QUOTE_PARTS, WRITTEN, WRITTEN_MORE)),
                 REMARK_LABELS]:
        ids |= {r["dialog_id"] for r in read_tsv(path) if r.get("dialog_id")}
    return ids


def fact_labels(folder: Path = LABELS_DIR) -> list[tuple[str, Example]]:
    """(file, example) for every hand-labelled judgement of "is this a fact about the seeker?".

    1: a fact (fact, faithful); 0: not one (remark, not_a_fact). Mixed and unclear sentences are left out."""
    out: list[tuple[str, Example]] = []
    spec = {"remark_labels.tsv": ("sentence", {"fact"}, {"remark"}),
            "remark_audit.tsv": ("sentence", {"fact"}, {"remark"}),
            "supporter_audit.tsv": ("sentence", {"fact"}, {"remark"}),
            "persona_audit.tsv": ("sentence", {"faithful"}, {"not_a_fact"}),
            "persona_audit_round2.tsv": ("sentence", {"faithful"}, {"not_a_fact"}),
            "persona_audit_round3.tsv": ("sentence", {"faithful"}, {"not_a_fact"}),
            "remark_cut_audit.tsv": ("judged", {"faithful"}, {"remark", "not_a_fact", "not_about_seeker"})}
    for name, (column, yes, no) in spec.items():
        for r in read_tsv(REMARK_LABELS if name == REMARK_LABELS.name else folder / name):
            if r["label"] in yes | no and r[column].strip():
                out.append((name, Example(r[column], "", int(r["label"] in yes), name,
                                          r.get("dialog_id") or r[column].lower())))
    return out


def fact_examples(pairs: Sequence, indices: Iterable[int], dialogs: Sequence, seed: int = 13,
                  folder: Path = LABELS_DIR) -> list[Example]:
    """Training sentences of the fact classifier: gold persona sentences (as written and capitalised, so that
    case does not decide), the labelled files not held out, the ESConv supporters' sentences other than
    self-disclosure (dialogs named in a label file left out), and the persona pairs' questions and replies with no
    first person ("what do you do for fun?", "that sounds like fun")."""
    from extractor.statements import speaks_of_self
    from schemas.esconv import SUPPORTER

    rng = random.Random(seed)
    indices = list(indices)
    out: list[Example] = []
    golds = sorted({s for i in indices for s in pairs[i].persona})
    for s in golds:
        text = s if rng.random() < 0.5 else s[:1].upper() + s[1:].replace(" i ", " I ").replace(" .", ".")
        out.append(Example(text, "", 1, "gold persona sentence", s.lower()))
    out += [e for name, e in fact_labels(folder) if name not in FACT_HELDOUT_FILES]
    skip = labelled_dialogs(folder)
    supporter = sorted({s for d in dialogs if d.dialog_id not in skip for t in d.turns
                        if t.speaker == SUPPORTER and t.strategy != "Self-disclosure" for s in _sentences(t.text)})
    for s in rng.sample(supporter, min(len(supporter), len(golds))):
        out.append(Example(s, "", 0, "supporter sentence", s.lower()))
    replies = sorted({s for i in indices for u in pairs[i].utterances for s in _sentences(u)
                      if s.rstrip().endswith("?") or not speaks_of_self(s)})
    for s in rng.sample(replies, min(len(replies), len(golds) // 2)):
        out.append(Example(s, "", 0, "question or reply without first person", s.lower()))
    return out


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 2]
