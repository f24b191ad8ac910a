"""Is a persona sentence supported by what the person said? One measure for training and for the build.

The same test aligns PERSONA-CHAT / Synthetic-Persona-Chat targets with the utterances that state them (training
data), drops generated sentences the seeker never stated (the build's check) and scores faithfulness
(evaluation), so the three can never disagree. A sentence is compared with every statement of the utterances
(questions dropped; each first-person clause offered too, `pieces`): it is supported when, for its best statement,
the encoder cosine reaches `cosine_min`, or the share of its content words in the statement reaches `lexical_min`
with cosine >= `lexical_cosine_min`; a fact about the speaker needs a first-person statement or a short answer.
`SupportScorer.check` then drops a supported sentence that is not about the speaker (`about_self`), changes the
meaning (`extractor.meaning`) or is a remark (`extractor.remarks`; remark clauses are cut from a fact said with
them), each with its `reason`; with `quote` a paraphrase is first replaced by the seeker's supporting statement.
Thresholds, examples and measured counts: docs/check-rules.md, section "Grounding thresholds".
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np

from common.offline_models import minilm_path
from extractor.dedup import normalise
from extractor.meaning import MEANING_REASONS, meaning_change
from extractor.remarks import RemarkDetector, cut_remark_clauses, strip_opening_word
from extractor.statements import WORD as _WORD
from extractor.statements import clauses, speaks_of_self, statements

Embed = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised rows

_DIGIT_EDGE = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80",
                 "ninety": "90", "hundred": "100"})
# Words too generic to count as evidence on their own ("I like X" vs "I like Y" share only "like").
_GENERIC = frozenset(
    "like love enjoy really just lot lots ve don didn doesn isn wasn t s m ll d re im ive dont good great nice "
    "thing things want get got go going make think know time day today people yes yeah oh ok okay well hi hello "
    "hey thanks thank sure pretty kind sort way also sorry hear understand agree glad hope guess mean see bet "
    "wish maybe probably definitely totally absolutely dunno haven hasn hadn".split())  # "No, I haven't yet."
_FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|ive|i'd|i'll|my|me|mine|myself)\b", re.IGNORECASE)
SHORT_ANSWER_WORDS = 5
# Why the check drops a sentence (a Support's `reason`; counted in the build manifest).
NO_SUPPORT = "no support in the seeker's words"
NOT_ABOUT_SEEKER = "not a statement about the seeker"
REMARK = "a remark to the supporter, not a fact"
DROP_REASONS = (NO_SUPPORT, NOT_ABOUT_SEEKER, *MEANING_REASONS, REMARK)


@dataclass(frozen=True)
class SupportThresholds:
    """When a sentence counts as stated (see the module docstring; calibrated in the model card)."""

    cosine_min: float = 0.8
    lexical_min: float = 0.6
    lexical_cosine_min: float = 0.5

    def supported(self, cosine: float, lexical: float) -> bool:
        return cosine >= self.cosine_min or (lexical >= self.lexical_min and cosine >= self.lexical_cosine_min)


@dataclass(frozen=True)
class Support:
    """How well one persona sentence is supported; `utterance` indexes the best supporting utterance."""

    supported: bool
    utterance: int | None  # index into the utterances compared against (None: nothing to compare)
    cosine: float
    lexical: float
    reason: str | None = None  # why it is not supported (one of DROP_REASONS); None when it is
    text: str | None = None  # what was judged (and is kept) when the check cut a remark clause or quoted; None: as given
    statement: str | None = None  # the seeker's statement (or clause) that supports it best
    quoted: bool = False  # `text` is the seeker's supporting statement in place of the sentence (SupportScorer.quote)

    def kept_text(self, sentence: str) -> str:
        """The sentence as the check judged it (less any remark clause; the seeker's words when quoted)."""
        return self.text or sentence


def is_quote(sentence: str, utterance: str) -> bool:
    """The sentence is the seeker's own words: a stretch of the utterance, word for word (case and punctuation
    aside). "I lost my job." is a quote of "Yes, I lost my job last week"; "I have a dog." is not one of
    "My dog died a month ago"."""
    words = normalise(sentence)
    return bool(words) and f" {words} " in f" {normalise(utterance)} "


def is_quote_part(sentence: str, utterance: str) -> bool:
    """A quote of part of one of the seeker's sentences: "I'm just burnt out" of "I'm just burnt out I think.", or "I
    will be alone this year" of "normally I would spend the holidays with my family but I will be alone this year".
    What was left out may have been its condition or hedge: such a quote takes back its hedge and, with `--part`, is
    judged as a rewrite is (`extractor.verifier`). A whole sentence (less an opening answer word or a remark to the
    supporter) is not a part."""
    words = normalise(sentence)
    return is_quote(sentence, utterance) and all(
        words not in {normalise(s), normalise(strip_opening_word(s)), normalise(cut_remark_clauses(s))}
        for s in statements(utterance))


def supports_the_speaker(statement: str) -> bool:
    """A statement that can support a fact about the speaker: first person, or a short answer."""
    return speaks_of_self(statement) or len(_WORD.findall(statement.lower())) <= SHORT_ANSWER_WORDS


def can_support(sentence: str, statement: str) -> bool:
    """Subject check: a fact about the speaker needs a first-person statement or a short answer."""
    return not speaks_of_self(sentence) or supports_the_speaker(statement)


def may_state_a_fact(utterances: Sequence[str]) -> bool:
    """Could the check keep anything generated from these utterances? A kept sentence is about the speaker,
    so it needs a statement that `supports_the_speaker` (as `can_support` requires). Without one
    ("Thank you!", "How do I start?", "Things are hard right now though") whatever the model wrote would be
    dropped, so the build does not ask it."""
    return any(supports_the_speaker(s) for u in utterances for s in statements(u))


def about_self(sentence: str) -> bool:
    """A persona sentence says something about the speaker: first person (I, my, we, ...) and a content
    word, and not a tautology. "Thank you.", "Very true." or "I think so too" copy the seeker's words but are
    not facts about the seeker; "This whole covid thing makes it worse" is about the world; "My best friend is
    my best friend." (from "my partner is my best friend") says nothing at all; "where do i get the magic
    candle?" asks."""
    return (speaks_of_self(sentence) and bool(content_words(sentence)) and not is_tautology(sentence)
            and bool(statements(sentence)))


_DETERMINERS = frozenset("my our your the a an".split())
_COPULA = re.compile(r"^(.+?)\s+(?:is|are|am|was|were)\s+(.+)$")


def is_tautology(sentence: str) -> bool:
    """'X is X' ("my friend is my friend.", "my hair braider is hair braider."): both sides the same
    words, determiners aside."""
    found = _COPULA.match(" ".join(_WORD.findall(sentence.lower())))
    if not found:
        return False
    left, right = ([w for w in side.split() if w not in _DETERMINERS] for side in found.groups())
    return left == right


def pieces(utterance: str) -> list[str]:
    """What a persona sentence is compared with: each statement of the utterance, and each first-person clause
    of a statement that has several (`extractor.statements.clauses`)."""
    return [p for s in statements(utterance) for p in (s, *clauses(s))]


def self_statements(utterance: str) -> list[str]:
    """The statements in which the person says something about themselves: first person, not a question,
    with at least one content word ("i think so too" and "me too" are not about the person)."""
    return [s for s in statements(utterance) if _FIRST_PERSON.search(s.replace("\u2019", "'")) and content_words(s)]


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _GENERIC


@lru_cache(maxsize=65536)
def _stemmed_words(text: str, generic: bool) -> frozenset[str]:
    """Stemmed words of `text` less the stop words (with `generic`, also `_GENERIC`), number words as digits."""
    stop, stem = _stop_words() if generic else _function_words(), _stemmer()
    text = _DIGIT_EDGE.sub(" ", text.lower().replace("\u2019", "'"))  # "60years" -> "60 years"
    words = (NUMBER_WORDS.get(w, w) for w in _WORD.findall(text))
    return frozenset(stem.stem(w) for w in words if w not in stop and (len(w) > 1 or w.isdigit()))


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    return _stop_words() - _GENERIC


def content_words(text: str) -> frozenset[str]:
    """Stemmed content words of `text`, number words written as digits."""
    return _stemmed_words(text, True)


def new_words(sentence: str, utterance: str) -> frozenset[str]:
    """Stemmed words of `sentence` that `utterance` does not have, function words aside. Unlike `content_words`,
    "like", "love", "want" and "good" count here: "I like orange." from "I hate orange" has the new word "like"."""
    return _stemmed_words(sentence, False) - _stemmed_words(utterance, False)


def lexical_overlap(sentence: str, statement: str) -> float:
    """Share of the sentence's content words found in the statement (0 when it has none)."""
    own = content_words(sentence)
    return len(own & content_words(statement)) / len(own) if own else 0.0


def minilm_embedder(device: str = "cpu") -> Embed:
    """all-MiniLM-L6-v2 sentence embeddings (L2-normalised), the default grounding encoder."""
    from sentence_transformers import SentenceTransformer

    @lru_cache(maxsize=1)
    def model() -> SentenceTransformer:  # loaded on first use: a build whose sentences are all copies never loads it
        return SentenceTransformer(str(minilm_path()), device=device)

    def embed(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, model().get_embedding_dimension()), dtype=np.float32)
        return np.asarray(model().encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False))

    return embed


class SupportScorer:
    """Scores persona sentences against utterances; embeddings are memoised (texts repeat a lot).

    With `remarks=True` the check also drops remarks to the supporter (`extractor.remarks`), scored
    on the same embeddings."""

    def __init__(self, embed: Embed, thresholds: SupportThresholds | None = None, remarks: bool = False,
                 quote: bool = False):
        self.embed = embed
        self.thresholds = thresholds or SupportThresholds()
        self.remarks = RemarkDetector(embed) if remarks else None
        self.quote = quote
        self._vectors: dict[str, np.ndarray] = {}

    def _vecs(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new:
            rows = np.asarray(self.embed(new), dtype=np.float32)
            rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            self._vectors.update(zip(new, rows))
        if len(self._vectors) > 200_000:  # a long build: keep memory bounded
            self._vectors = {t: self._vectors[t] for t in texts}
        return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)

    def prepare(self, texts: Sequence[str]) -> None:
        """Embed many texts in one batch before scoring them piecemeal (much faster)."""
        todo = [p for t in texts for p in pieces(t)] + list(texts)
        for start in range(0, len(todo), 4096):
            self._vecs(todo[start:start + 4096])

    def prepare_support(self, requests: Sequence[tuple[Sequence[str], Sequence[str]]]) -> None:
        """Embed in one batch what `support` will compare for each (sentences, utterances) request: the sentences
        that copy no statement word for word, and the statements of their utterances. A request whose sentences are
        all copies needs no encoder."""
        texts = []
        for sentences, utterances in requests:
            rest = _not_copied(sentences, _copied_statements(utterances))
            if rest:
                texts += rest + [p for utterance in utterances for p in pieces(utterance)]
        for start in range(0, len(texts), 4096):
            self._vecs(texts[start:start + 4096])

    def scores(self, sentences: Sequence[str], texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Cosine and content-word overlap of every sentence against every text: two [sentences, texts] arrays."""
        if not sentences or not texts:
            return np.zeros((len(sentences), len(texts))), np.zeros((len(sentences), len(texts)))
        cos = self._vecs(list(sentences)) @ self._vecs(list(texts)).T
        lex = np.array([[lexical_overlap(s, t) for t in texts] for s in sentences])
        return cos, lex

    def support_by_utterance(self, sentences: Sequence[str],
                             utterances: Sequence[str]) -> list[list[Support | None]]:
        """[sentence][utterance]: the best support of each sentence within each utterance (None: the
        utterance has no statement)."""
        owners = [(u, p) for u, utt in enumerate(utterances) for p in pieces(utt)]
        cos, lex = self.scores(sentences, [s for _, s in owners])
        out = []
        for i, sentence in enumerate(sentences):
            ok = [self.thresholds.supported(float(c), float(x)) and can_support(sentence, s)
                  for c, x, (_, s) in zip(cos[i], lex[i], owners)]
            row: list[Support | None] = [None] * len(utterances)
            for k, (u, _) in enumerate(owners):
                candidate = Support(ok[k], u, float(cos[i][k]), float(lex[i][k]), None if ok[k] else NO_SUPPORT,
                                    statement=owners[k][1])
                if row[u] is None or _rank(candidate) > _rank(row[u]):
                    row[u] = candidate
            out.append(row)
        return out

    def check(self, sentences: Sequence[str], utterances: Sequence[str]) -> list[Support]:
        """The build's grounding check: `support`; then a sentence that is not about the speaker (`about_self`),
        that changes the meaning of its supporting utterance (`extractor.meaning`), or (with a remark
        detector) that is a remark to the supporter, is not supported however closely it copies the
        seeker's words. Each unsupported sentence says why (`reason`).

        With a remark detector, a sentence that passes is then cut of the clauses that only address the
        supporter (`extractor.remarks.cut_remark_clauses`): "I am still looking for work, thanks for asking."
        is kept as "I am still looking for work." (`Support.text`) if that passes the same tests; a sentence
        of such clauses only ("I like that idea.") is a remark. The cut never keeps what the whole sentence
        failed, so a fact is never rescued from a sentence the detector found a remark.

        With `quote`, a supported sentence that is not the seeker's own words (`is_quote`) is replaced, before
        all of the above, by the seeker's statement (or clause) that supports it best, which is then checked
        as if the extractor had written it: "I have a dog." from "My dog died a month ago" is judged, and
        kept, as "My dog died a month ago" (`Support.quoted`). A paraphrase can pass every test and still say
        something else; a quote says what the seeker said.

        With a remark detector, a kept sentence finally loses an opening conjunction or answer word before its
        subject ("because I used to work out" -> "I used to work out", "Yes he tells me ..." -> "He tells me ...";
        `extractor.remarks.strip_opening_word`), after it was judged, so that word decides nothing."""
        supports = self.support(sentences, utterances)
        quotes: dict[int, str] = {}
        if self.quote:
            for i, (s, x) in enumerate(zip(sentences, supports)):
                if x.supported and x.statement and not is_quote(s, utterances[x.utterance]):
                    quotes[i] = x.statement
            for i, x in zip(quotes, self.support(list(quotes.values()), utterances)):
                supports[i] = x  # a statement is its own copy: supported without the encoder
        out = self._check([quotes.get(i, s) for i, s in enumerate(sentences)], utterances, supports)
        for i, statement in quotes.items():
            out[i] = dataclasses.replace(out[i], text=out[i].text or statement, quoted=True)
        if self.remarks is not None:  # judged as the seeker wrote it, kept less an opening "and" / "Yes"
            for i, (s, x) in enumerate(zip(sentences, out)):
                if x.supported and (bare := strip_opening_word(x.kept_text(s))) != x.kept_text(s):
                    out[i] = dataclasses.replace(x, text=bare)
        return out

    def _check(self, sentences: Sequence[str], utterances: Sequence[str], supports: list[Support]) -> list[Support]:
        out = self._judge(sentences, utterances, supports)
        if self.remarks is None:
            return out
        cuts = {i: cut_remark_clauses(sentences[i]) for i, x in enumerate(out) if x.supported}
        redo = [i for i, cut in cuts.items() if cut and cut != sentences[i]]
        for i, cut in cuts.items():
            if not cut:
                out[i] = dataclasses.replace(out[i], supported=False, reason=REMARK)
        for i, x in zip(redo, self._judge([cuts[i] for i in redo], utterances)):
            out[i] = dataclasses.replace(x, text=cuts[i])
        return out

    def _judge(self, sentences: Sequence[str], utterances: Sequence[str],
               supports: list[Support] | None = None) -> list[Support]:
        """`support` (or the `supports` already computed for these sentences), then the tests on a supported one."""
        out = []
        for s, x in zip(sentences, self.support(sentences, utterances) if supports is None else supports):
            if x.supported and not about_self(s):
                x = dataclasses.replace(x, supported=False, reason=NOT_ABOUT_SEEKER)
            elif x.supported and x.utterance is not None and (changed := meaning_change(s, utterances[x.utterance])):
                x = dataclasses.replace(x, supported=False, reason=changed)
            out.append(x)
        candidates = [i for i, x in enumerate(out) if x.supported]
        if self.remarks is not None and candidates:
            texts = [sentences[i] for i in candidates]
            for i, remark in zip(candidates, self.remarks.is_remark(texts, self._vecs(texts))):
                if remark:
                    out[i] = dataclasses.replace(out[i], supported=False, reason=REMARK)
        return out

    def support(self, sentences: Sequence[str], utterances: Sequence[str]) -> list[Support]:
        """For each sentence: its best-supporting utterance and whether that support is enough. A sentence
        that is one of the statements word for word is supported by it without running the encoder."""
        copied = _copied_statements(utterances)
        rest = _not_copied(sentences, copied)
        scored = dict(zip(rest, (best_support(row) for row in self.support_by_utterance(rest, utterances))))
        return [Support(True, copied[_norm(s)], 1.0, 1.0, statement=s) if _norm(s) in copied else scored[s]
                for s in sentences]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _not_copied(sentences: Sequence[str], copied: dict[str, int]) -> list[str]:
    """The sentences that are none of the statements word for word (`_copied_statements`): those the encoder compares."""
    return [s for s in sentences if _norm(s) not in copied]


def _copied_statements(utterances: Sequence[str]) -> dict[str, int]:
    """Each statement of the utterances (normalised) -> the first utterance that makes it."""
    return {_norm(p): u for u, utt in reversed(list(enumerate(utterances))) for p in pieces(utt)}


def needs_model(sentences: Sequence[str], utterances: Sequence[str]) -> bool:
    """False when every sentence is one of the utterances' statements word for word (supported as it is)."""
    copies = _copied_statements(utterances)
    return any(_norm(s) not in copies for s in sentences)


def best_support(row: Sequence[Support | None]) -> Support:
    """The best of a sentence's per-utterance supports (unsupported, utterance None, when there is none)."""
    found = [x for x in row if x is not None]
    return max(found, key=_rank) if found else Support(False, None, 0.0, 0.0, NO_SUPPORT)


def _rank(s: Support) -> float:
    """Best statement first: a supporting one if any (highest cosine + overlap), else the closest.
    Ties keep the earliest (`max` returns the first maximum)."""
    return s.cosine + s.lexical + 10.0 * s.supported
