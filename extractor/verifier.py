"""Propose, then verify: which persona sentences the build keeps, and why each of the others is dropped.

The extractor proposes short first-person facts, implied ones included ("I got laid off last week" -> "I lost
my job."). Each proposal then passes, in order, the checks of `CHECKS`; the first that fails drops it with its
name as the reason (counted in the build manifest):

| # | check | kind | drops a proposal that |
|---|---|---|---|
| 1 | `NOT_ABOUT_SEEKER` | rule (lexical) | has no first person or no content word, asks, or says "X is X" (`grounding.about_self`) |
| 2 | `NOT_STATED` | learned (verifier) | the seeker's words (after the supporter's message) do not state or clearly imply |
| 3 | `MEANING_REASONS` | rules (`extractor.meaning`) | drops or adds a negation, changes the subject or tense, states a wish as a fact, ... |
| 4 | `CHANGED` | learned (rewrite judge) | is not a stretch of the seeker's words, and says more or less than they did: a hedge or a "sometimes" dropped, a detail added, garbled (trained on blind-labelled ESConv rewrites) |
| 5 | `NEW_WORD` | rule (lexical) | uses a word the seeker's turn does not have, function words aside ("I like orange." from "I hate orange"; `grounding.new_words`), unless the rewrite judge gives P >= `implied` (0.99; `--no-rewrite-judge`: never) |
| - | implied | learned (implied-fact judge), off by default | (keeps, not drops) a proposal that check 2, 4 or 5 dropped, the meaning rules pass and that is the seeker's words with one short phrase in other words (`extractor.one_phrase`), when P(implied) reaches its threshold: the seeker's turn implies every claim of it in other words ("I lost my job." from "I got laid off"; trained on written ESConv facts; `--implied-judge`, with a judges folder that holds one) |
| 6 | `NOT_A_FACT` | learned (fact classifier) | is not a fact about the seeker's life: a remark to the supporter, a pleasantry, agreement, a fragment |

The meaning rules and `NEW_WORD` stay: the verifier learned word overlap, and passes a rewrite that keeps the
seeker's words but swaps one; the rewrite judge, trained on the extractor's own rewrites, catches more of them
after the rules than either alone (`extractor/judges/model_card.md`, section "Rewrite judge"). A kept sentence loses an
opening conjunction or answer word (`OPENING_WORD`) and an ESConv turn counter copied from the turn ("(7)") or a
comma, slash or dash at its end (`TURN_COUNTER`), and a kept proposal that joins clauses of the seeker's that each
stand alone becomes those clauses (`SPLIT`: "I lost my job and I can't find another" -> two facts;
`--whole-proposals` keeps it whole). A kept quote of part of a seeker's sentence takes back a condition right before it
and a hedge right before or after it (`HEDGE_KEPT`: "I guess I am the only kid.", not "I am the only kid."), and
grows back to its clause, else its whole sentence, when the rewrite judge gives it P(faithful) < `part` (`WIDENED`:
"I start to feel panicked." of "Even the thought of leaving the house fills me with worry and I start to feel
panicked."; what it then holds is dropped as `PARTIAL`); the seeker's
own first-person clauses on which no kept
proposal rests are kept when they pass check 1 and the fact classifier is sure of them (P >= `clause_fact`, 0.98: the
extractor passed them over); a clause whose content words its kept proposals do not restate (overlap < 0.6) is
kept in their place when it passes checks 1 and 6 (`PARTIAL`: "I own a dog walking business." from "I have 3 dogs
and own a dog walking business" gives way to the clause; one resting on more than the clause stays beside it). A
failed proposal is never replaced (`SEEKER_CLAUSE`,
`CheckSettings.fallback`). Every kept sentence carries its evidence: the supporting utterance and the character span it
rests on. Before the extractor runs, `worth_asking` spares it the turns where the fact classifier finds no likely
persona fact in any statement of the seeker's (`CheckSettings.ask`). `--persona-style quote` judges by the grounding thresholds and the meaning and remark rules instead,
keeping the seeker's supporting statement in place of any paraphrase (`extractor.grounding.SupportScorer.check`).
Examples and measurements: docs/check-rules.md, section "Verifier"; `extractor/judges/model_card.md`.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Sequence

from extractor.formatting import ExtractionInput
from extractor.grounding import (
    NO_SUPPORT,
    NOT_ABOUT_SEEKER,
    SupportScorer,
    SupportThresholds,
    about_self,
    is_quote,
    is_quote_part,
    lexical_overlap,
    new_words,
    self_statements,
    supports_the_speaker,
)
from extractor.judge_data import reading
from extractor.meaning import MEANING_REASONS, meaning_change
from extractor.one_phrase import one_phrase_changed
from extractor.remarks import strip_opening_word
from extractor.statements import (
    atomic_clauses,
    standalone_clauses,
    statements,
    strip_end,
    wider_stretches,
    with_hedges,
    word_span,
)

JUDGES_DIR = Path(__file__).resolve().parent / "judges"
STYLES = ("fact", "quote")
NOT_STATED = "not stated by the seeker (verifier)"
NOT_A_FACT = "not a persona fact (fact classifier)"
NEW_WORD = "uses a content word the seeker did not"
CHANGED = "says in other words more or less than the seeker did (rewrite judge)"
PARTIAL = "restates only part of the seeker's clause, which is kept in its place"
COVERED = SupportThresholds().lexical_min  # share of a clause's content words its kept proposals must restate
CHECKS = (NOT_ABOUT_SEEKER, NOT_STATED, NO_SUPPORT, *MEANING_REASONS, CHANGED, NEW_WORD, NOT_A_FACT, PARTIAL)
STATED_BY = ("verifier", "thresholds")
FALLBACKS = ("empty", "uncovered", "none")
FACT_MEMO = 200_000  # sentences whose P(fact) a PersonaCheck remembers (a few tens of MB)


@dataclass(frozen=True)
class CheckSettings:
    """How the fact-style check decides; one object for the build and the evaluation."""

    stated_by: str = "verifier"  # who judges "stated": the learned verifier, or the grounding thresholds
    meaning: bool = True  # the meaning rules (extractor.meaning) after "stated"
    new_words: bool = True  # drop a proposal with a content word its seeker turn does not have (NEW_WORD)
    fallback: str = "uncovered"  # the seeker's clauses: where no proposal of a request is kept ("empty"), where no kept
    # proposal restates them ("uncovered"), or never ("none")
    clause_fact: float = 0.98  # a clause no kept proposal rests on needs this P(fact): the extractor passed it over
    # (chosen on pairs the extractor trained on, never on held-out ones: research.clause_threshold)
    split: bool = True  # a kept proposal that joins clauses of the seeker's that each stand alone becomes those clauses
    rewrite: bool = True  # a proposal that is not a stretch of the seeker's words must pass the rewrite judge (CHANGED)
    implied: float = 0.99  # a proposal with a word the seeker did not use is kept when the rewrite judge gives it at
    # least this P(faithful) ("I am bullied by my coworkers at work." from "... at my job"); 1.0: never (NEW_WORD drops
    # it). Chosen on the labelled rewrites' dev part (extractor/judges/model_card.md, "Rewrite judge")
    ask: float = 0.02  # the extractor is asked about an input only when the fact classifier gives one of its seeker's
    # statements or clauses at least this P(fact) (`PersonaCheck.worth_asking`); 0: about every input that may state
    # a fact. At 0.02 the full default build asks about 27 % fewer inputs and keeps 13 fewer of its 11,453 sentences
    # ("hi im sad", "thank you i feel energized now"): docs/benchmarks.md, "The full build"
    part: float = 0.0  # a kept quote of part of a seeker's sentence with a lower P(faithful) from the rewrite judge is
    # widened to its clause or sentence (WIDENED); 0: never, the default: at 0.91, the best F1 on the labelled quote
    # parts' dev part, it widens a third of them to take the unfaithful from 7.5 % to 5.5 % (test part), and widens
    # "I work in retail." of "My sister is a nurse, and I work in retail." (docs/check-rules.md, "Quote parts")
    implied_judge: bool = False  # a proposal that the verifier, the rewrite judge or NEW_WORD dropped and the meaning
    # rules pass is kept when the implied-fact judge gives it at least its threshold. Off: the best judges (SmolLM2,
    # `--base SmolLM2-135M-Instruct --with-rewrites [--with-edits]`), asked behind `implied_gate`, add extractor
    # rewrites that are 14-19 % unfaithful on the labelled test part, against 9-10 % among those the check keeps
    # (docs/personas.md, "Implied facts, measured"); not shipped, trained by `pipelines.train_judges --task implied`
    implied_gate: bool = True  # the implied-fact judge is asked only about a proposal that is a stretch of the seeker's
    # words with one phrase of at most four words said in other words (`extractor.one_phrase`): it halves what the
    # judge adds wrongly (docs/personas.md, "Asked only about one-phrase rewrites")
OPENING_WORD = "opening word dropped"
TURN_COUNTER = "turn counter or trailing comma dropped"
SEEKER_CLAUSE = "the seeker's clause (no kept proposal restates it)"
SPLIT = "split into the seeker's clauses"
SPLIT_LEFT_OUT = "a clause of a split proposal left out: not a persona fact (fact classifier)"
HEDGE_KEPT = "the seeker's hedge or condition kept with it"
WIDENED = "widened to the seeker's clause or sentence: the part quoted left out what it rests on (rewrite judge)"


@dataclass(frozen=True)
class Verdict:
    """One sentence the check judged: a proposal (kept or dropped) or a fallback clause of the seeker's."""

    sentence: str  # what is kept (or, when dropped, what was proposed)
    kept: bool
    reason: str | None = None  # the failed check (one of CHECKS); None when kept
    proposed: str | None = None  # what the extractor wrote, when the kept sentence differs from it
    fallback: bool = False  # the seeker's own clause, kept because no kept proposal restates it
    utterance: int | None = None  # index of the supporting utterance in the request
    span: tuple[int, int] | None = None  # [start, end) characters of that utterance it rests on
    stated: float | None = None  # verifier probability
    fact: float | None = None  # fact-classifier probability
    part: int | None = None  # the clause's place in the proposal it was split from (`CheckSettings.split`)
    faithful: float | None = None  # rewrite-judge probability (a proposal in other words than the seeker's)
    widened: str | None = None  # HEDGE_KEPT or WIDENED: a quote of part of a sentence grown back to what it rests on
    implied: float | None = None  # implied-fact judge probability (a proposal checks 2, 4 or 5 dropped)


def locate(piece: str, text: str, start: int = 0) -> tuple[int, int] | None:
    """Where `piece` stands in `text` (exact, else ignoring case), from `start` on if it is there; None when it is not
    a stretch of it."""
    for begin in dict.fromkeys((start, 0)):
        at = text.find(piece, begin)
        if at < 0:
            at = text.lower().find(piece.lower(), begin)
        if at >= 0 and piece:
            return at, at + len(piece)
    return None


def seeker_clauses(utterance: str) -> list[str]:
    """The seeker's first-person statements, split into their first-person clauses that stand alone where they have
    several (`extractor.statements.standalone_clauses`)."""
    out: list[str] = []
    for s in self_statements(utterance):
        out += standalone_clauses(s) or [s]
    return list(dict.fromkeys(out))


def reasons_kept_whole(utterance: str) -> dict[str, tuple[str, ...]]:
    """Each clause of the seeker's that a reason split into facts of their own (`seeker_clauses`), whole, with its
    pieces: "I'm shaking because I don't know what I'm going to do" -> ("I'm shaking", "I don't know what I'm going to
    do"). Kept, as a fallback, only when neither a piece nor a proposal resting on it is (`PersonaCheck.check_many`)."""
    out: dict[str, tuple[str, ...]] = {}
    for s in self_statements(utterance):
        split = standalone_clauses(s) or [s]
        for whole in standalone_clauses(s, reasons=False) or [s]:
            pieces = tuple(p for p in split if p in whole and p != whole)
            if len(pieces) >= 2:
                out[whole] = pieces
    return out


class PersonaCheck:
    """The checks of the module docstring, over batches; the judges load on first use."""

    def __init__(self, scorer: SupportScorer, judges: Path = JUDGES_DIR, device: str = "cpu",
                 settings: CheckSettings = CheckSettings()):
        self.scorer = scorer
        self.judges, self.device, self.settings = Path(judges), device, settings
        self._loaded: dict[str, object] = {}
        self.seconds: Counter[str] = Counter()  # time spent in each model ("embedding" and the judges' tasks)
        self._facts: dict[str, float] = {}  # P(fact) of each sentence the classifier read, at most FACT_MEMO of them
        self._memo_lock = threading.Lock()

    def _judge_of(self, task: str):
        if task not in self._loaded:
            from extractor.cross_encoder import load_judge

            self._loaded[task] = load_judge(self.judges / task, task, self.device)
        return self._loaded[task]

    def _probability(self, task: str, pairs: list[tuple[str, str]], timed_as: str | None = None) -> list[float]:
        started = time.perf_counter()
        try:
            return self._judge_of(task).probability(pairs) if pairs else []
        finally:
            self.seconds[timed_as or task] += time.perf_counter() - started

    def _fact(self, texts: Sequence[str], timed_as: str | None = None) -> list[float]:
        """P(fact) per text. The classifier reads a sentence alone, and the check asks it about the same sentences
        more than once (a seeker's clause first to decide whether to ask the extractor, then as the fallback or
        the kept quote), so each distinct text is scored once and remembered (the oldest forgotten past FACT_MEMO)."""
        with self._memo_lock:  # the steps of a worker may run in threads (Beam's multi_threading mode)
            known = {t: self._facts[t] for t in dict.fromkeys(texts) if t in self._facts}
        new = [t for t in dict.fromkeys(texts) if t not in known]
        scored = dict(zip(new, self._probability("fact", [(t, "") for t in new], timed_as)))
        with self._memo_lock:
            self._facts.update(scored)
            for old in list(islice(self._facts, max(0, len(self._facts) - FACT_MEMO))):
                del self._facts[old]
        return [known.get(t, scored.get(t)) for t in texts]

    def worth_asking(self, inputs: Sequence[ExtractionInput]) -> list[bool]:
        """Which inputs the extractor is asked about (`CheckSettings.ask`): those where the fact classifier gives
        some statement or clause of the seeker's at least `ask`. From the others ("thank you", "I guess so", "It
        feels good someone else knows how frustrating it is") a kept sentence is rare, so the model is not run on
        them. One batch for all the inputs' pieces; the time is counted as "ask"."""
        if self.settings.ask <= 0.0:
            return [True] * len(inputs)
        pieces = [_pieces(inp) for inp in inputs]
        distinct = list(dict.fromkeys(p for ps in pieces for p in ps))
        fact = dict(zip(distinct, self._fact(distinct, timed_as="ask")))
        return [any(fact[p] >= self.settings.ask for p in ps) for ps in pieces]

    def verifier(self):
        return self._judge_of("verifier")

    def classifier(self):
        return self._judge_of("fact")

    def rewriter(self):
        return self._judge_of("rewrite")

    def implication(self):
        return self._judge_of("implied")

    def check_many(self, requests: Sequence[tuple[ExtractionInput, Sequence[str]]]) -> list[list[Verdict]]:
        """Verdicts per request: its proposals in order, then any fallback clauses. The judges run once per batch."""
        started = time.perf_counter()
        self.scorer.prepare_support([(sents, inp.utterances) for inp, sents in requests])
        self.seconds["embedding"] += time.perf_counter() - started
        drafts = [self._proposals(inp, list(sents)) for inp, sents in requests]
        self._judge([v for d in drafts for v in d], [inp for (inp, _), d in zip(requests, drafts) for _ in d])
        out: list[list[Verdict]] = []
        fallback_of: list[tuple[int, list[_Draft]]] = []
        for k, ((inp, _), d) in enumerate(zip(requests, drafts)):
            out.append([x.verdict() for x in d])
            wanted = self.settings.fallback == "uncovered" or (self.settings.fallback == "empty"
                                                                 and not any(x.kept for x in d))
            clauses = self._clauses(inp) if wanted else []
            if self.settings.fallback == "uncovered":
                for c in clauses:
                    c.replaces = tuple(x for x in d if x.kept and x.rests_on(c))
                clauses = [c for c in clauses if not c.restated()]
            if clauses:
                fallback_of.append((k, clauses))
        flat = [x for _, c in fallback_of for x in c]
        self._judge(flat, [requests[k][0] for k, c in fallback_of for _ in c], verify=False)
        for k, c in fallback_of:
            kept = [x for x in c if x.kept and (x.replaces or (x.fact or 0.0) >= self.settings.clause_fact)]
            pieces_kept = {x.original for x in kept}
            kept = [x for x in kept if not x.whole_of or not (x.replaces or any(p in pieces_kept for p in x.whole_of))]
            # a clause split at its reason is kept whole only where nothing else kept rests on it
            for x in kept:  # a proposal resting on more than this clause stays: the clause is kept beside it
                for proposal in x.replaces:  # so does one the implied-fact judge kept: it says the clause in other words
                    if proposal.within(x) and proposal.implied is None:
                        proposal.reason = PARTIAL
            out[k] = [x.verdict() for x in drafts[k]] + [x.verdict() for x in kept]
        inputs = [inp for inp, _ in requests]
        if self.settings.split:
            self._split(inputs, out)
        self._keep_hedges(inputs, out)
        if self.settings.rewrite and self.settings.part > 0.0:
            self._widen(inputs, out)
        return out

    def check(self, inp: ExtractionInput, sentences: Sequence[str]) -> list[Verdict]:
        return self.check_many([(inp, sentences)])[0]

    # ------------------------------------------------------------------ steps
    def _proposals(self, inp: ExtractionInput, sentences: list[str]) -> list[_Draft]:
        supports = self.scorer.support(sentences, list(inp.utterances)) if sentences else []
        drafts = []
        for s, x in zip(sentences, supports):
            u = x.utterance if x.utterance is not None else len(inp.utterances) - 1
            span = locate(x.statement, inp.utterances[u]) if x.statement else None
            reason = None if about_self(s) else NOT_ABOUT_SEEKER
            if reason is None and self.settings.stated_by == "thresholds" and not x.supported:
                reason = NO_SUPPORT
            drafts.append(_Draft(s, u, span, reason))
        return drafts

    def _clauses(self, inp: ExtractionInput) -> list[_Draft]:
        out = []
        for u, utterance in enumerate(inp.utterances):
            clauses, wholes = seeker_clauses(utterance), reasons_kept_whole(utterance)
            for c in [*clauses, *(w for w in wholes if w not in clauses)]:
                if about_self(c):
                    out.append(_Draft(c, u, locate(c, utterance), None, fallback=True, whole_of=wholes.get(c, ())))
        return out

    def _split(self, inputs: list[ExtractionInput], out: list[list[Verdict]]) -> None:
        """A kept proposal that joins two or more clauses of the seeker's, each standing alone and nothing else
        (`extractor.statements.atomic_clauses`: "I lost my job and I can't find another"), becomes those clauses, each
        a fact of its own with its span. Each is a stretch of what passed the checks; it must also pass check 1 and
        the fact classifier (a clause that fails is left out: SPLIT_LEFT_OUT); where none passes the proposal stays
        whole."""
        todo = []
        for k, (inp, verdicts) in enumerate(zip(inputs, out)):
            for i, v in enumerate(verdicts):
                if v.kept and not v.fallback and v.utterance is not None:
                    start = v.span[0] if v.span else 0
                    pieces = [(p, locate(p, inp.utterances[v.utterance], start)) for p in atomic_clauses(v.sentence)]
                    if pieces and all(span for _, span in pieces):
                        todo.append((k, i, pieces))
        if not todo:
            return
        facts = iter(self._fact([p for *_, pieces in todo for p, _ in pieces]))
        scored = [(k, i, [(p, span, next(facts)) for p, span in pieces]) for k, i, pieces in todo]
        threshold = self.classifier().config.threshold
        for k, i, pieces in reversed(scored):  # from the end, so that the places still to replace stay where they are
            v, utterance = out[k][i], inputs[k].utterances[out[k][i].utterance]
            passed = [f >= threshold and about_self(p) for p, _, f in pieces]
            if not any(passed):
                continue
            proposed = v.proposed or v.sentence
            parts = []
            for j, ((p, span, f), ok) in enumerate(zip(pieces, passed)):
                bare = strip_opening_word(strip_end(p))
                parts.append(Verdict(bare, True, None, proposed, False, v.utterance, locate(bare, utterance, span[0]),
                                     v.stated, f, j) if ok else
                             Verdict(p, False, SPLIT_LEFT_OUT, proposed, False, v.utterance, None, v.stated, f, j))
            out[k][i:i + 1] = parts

    def _keep_hedges(self, inputs: list[ExtractionInput], out: list[list[Verdict]]) -> None:
        """A kept quote of part of a seeker's sentence takes back the condition right before it and the hedge right
        before or after it (HEDGE_KEPT: "I am the only kid." of "I guess I am the only kid." becomes the latter, and
        "I feel sad." of "When I am alone, I feel sad." the whole; `extractor.statements.with_hedges`)."""
        for k, verdicts in enumerate(out):
            for i, v in enumerate(verdicts):
                found = _quoted_part(v, inputs[k])
                if found:
                    text, (a, b) = found
                    a2, b2 = with_hedges(text, a, b)
                    if (a2, b2) != (a, b):
                        out[k][i] = _grown(v, text, (a2, b2), HEDGE_KEPT)

    def _widen(self, inputs: list[ExtractionInput], out: list[list[Verdict]]) -> None:
        """A kept quote of part of a seeker's sentence that the rewrite judge doubts (P(faithful) < `part`) grows to
        the smallest stretch the judge accepts: the clauses that hold it, else the whole sentence (WIDENED: "I start to
        feel panicked." of "Even the thought of leaving the house still fills me with worry and I start to feel
        panicked."). A kept sentence that then lies within another of the same turn is dropped (PARTIAL)."""
        todo = [(k, i, found) for k, verdicts in enumerate(out) for i, v in enumerate(verdicts)
                if (found := _quoted_part(v, inputs[k]))]
        if not todo:
            return
        probs = self._probability("rewrite", [(reading(text, _context(inputs[k])), out[k][i].sentence)
                                             for k, i, (text, _) in todo])
        doubted = []
        for (k, i, (text, at)), p in zip(todo, probs):
            out[k][i] = replace(out[k][i], faithful=p)
            if p < self.settings.part:
                wider = [span for span in wider_stretches(text, *at) if _bare(text, span) != _bare(text, at)]
                if wider:
                    doubted.append((k, i, text, wider))
        clauses = [(k, i, text, wider) for k, i, text, wider in doubted if len(wider) > 1]
        probs = iter(self._probability("rewrite", [(reading(text, _context(inputs[k])), _bare(text, wider[0]))
                                                  for k, i, text, wider in clauses]))
        clause_passes = {(k, i): next(probs) >= self.settings.part for k, i, _, _ in clauses}
        grown = set()
        for k, i, text, wider in doubted:  # the clause when the judge accepts it, else the whole sentence
            span = wider[0] if len(wider) == 1 or clause_passes[(k, i)] else wider[-1]
            out[k][i] = _grown(out[k][i], text, span, WIDENED)
            grown.add(k)
        for k in grown:
            _drop_contained(out[k], inputs[k])

    def _implied(self, d: _Draft) -> bool:
        """The rewrite judge is sure enough that the seeker said this proposal, in other words of their own."""
        return self.settings.implied < 1.0 and d.faithful is not None and d.faithful >= self.settings.implied

    def _judge(self, drafts: list[_Draft], inputs: list[ExtractionInput], verify: bool = True) -> None:
        """Run checks 2 to 6 on the drafts still standing (each judge in one batch), then the opening-word rewrite."""
        if verify and self.settings.stated_by == "verifier":
            todo = [(d, i) for d, i in zip(drafts, inputs) if d.reason is None]
            probs = self._probability("verifier", _readings(todo))
            for (d, _), p in zip(todo, probs):
                d.stated = p
                if p < self.verifier().config.threshold:
                    d.reason = NOT_STATED
        if verify and self.settings.meaning:
            for d, i in zip(drafts, inputs):
                if d.reason is None:
                    d.reason = meaning_change(d.text, i.utterances[d.utterance])
        if verify and self.settings.rewrite:
            todo = [(d, i) for d, i in zip(drafts, inputs)
                    if d.reason is None and not is_quote(d.text, i.utterances[d.utterance])]
            probs = self._probability("rewrite", _readings(todo))
            for (d, _), p in zip(todo, probs):
                d.faithful = p
                if p < self.rewriter().config.threshold:
                    d.reason = CHANGED
        if verify and self.settings.new_words:
            for d, i in zip(drafts, inputs):
                if d.reason is None and new_words(d.text, i.utterances[d.utterance]) and not self._implied(d):
                    d.reason = NEW_WORD
        if verify and self.settings.implied_judge:
            todo = [(d, i) for d, i in zip(drafts, inputs) if d.reason in (NOT_STATED, CHANGED, NEW_WORD)
                    and (not self.settings.meaning or meaning_change(d.text, i.utterances[d.utterance]) is None)
                    and (not self.settings.implied_gate or one_phrase_changed(d.text, i.utterances[d.utterance]))]
            probs = self._probability("implied", _readings(todo))
            for (d, _), p in zip(todo, probs):
                d.implied = p
                if p >= self.implication().config.threshold:
                    d.reason = None
        todo = [d for d in drafts if d.reason is None]
        for d, p in zip(todo, self._fact([d.text for d in todo])):
            d.fact = p
            if p < self.classifier().config.threshold:
                d.reason = NOT_A_FACT
        for d, i in zip(drafts, inputs):
            if d.reason is None:
                bare = strip_opening_word(strip_end(d.text))
                if bare != d.text:
                    if d.span is not None and d.fallback:
                        d.span = locate(bare, i.utterances[d.utterance], d.span[0]) or d.span
                    d.text = bare


def _pieces(inp: ExtractionInput) -> list[str]:
    """What the fact classifier reads to decide whether to ask the extractor: each statement of the seeker's that
    could support a fact about them, and their first-person clauses."""
    return [p for u in inp.utterances
            for p in [s for s in statements(u) if supports_the_speaker(s)] + seeker_clauses(u)]


def _context(inp: ExtractionInput) -> str:
    """The supporter's message the judges read before the seeker's words: only for a request of one utterance."""
    return inp.context if len(inp.utterances) == 1 else ""


def _quoted_part(v: Verdict, inp: ExtractionInput) -> tuple[str, tuple[int, int]] | None:
    """(utterance, where the sentence stands in it) for a kept sentence that quotes part of a seeker's sentence."""
    if not v.kept or v.utterance is None:
        return None
    text = inp.utterances[v.utterance]
    if not is_quote_part(v.sentence, text):
        return None
    at = word_span(v.sentence, text, v.span[0] if v.span else 0)
    return (text, at) if at else None


def _bare(text: str, span: tuple[int, int]) -> str:
    """A stretch of an utterance as a kept sentence: less an opening word, a turn counter and a trailing comma."""
    return strip_opening_word(strip_end(text[span[0]:span[1]].strip()))


def _grown(v: Verdict, text: str, span: tuple[int, int], how: str) -> Verdict:
    bare = _bare(text, span)
    return replace(v, sentence=bare, span=(span[1] - len(bare), span[1]) if text[span[0]:span[1]].endswith(bare)
                   else span, proposed=v.proposed or (None if v.fallback else v.sentence), widened=how)


def _drop_contained(verdicts: list[Verdict], inp: ExtractionInput) -> None:
    """Drop (PARTIAL) each kept sentence whose stretch lies within another kept sentence's of the same utterance, or
    repeats an earlier one: a widened sentence holds it."""
    where = {}
    for i, v in enumerate(verdicts):
        if v.kept and v.utterance is not None:
            at = word_span(v.sentence, inp.utterances[v.utterance], v.span[0] if v.span else 0)
            if at:
                where[i] = (v.utterance, *at)
    for i, (u, a, b) in where.items():
        if any(j != i and u == w and a2 <= a and b <= b2 and ((a2, b2) != (a, b) or j < i)
               for j, (w, a2, b2) in where.items()):
            verdicts[i] = replace(verdicts[i], kept=False, reason=PARTIAL, span=None)


def _readings(todo: Sequence[tuple[_Draft, ExtractionInput]]) -> list[tuple[str, str]]:
    """What the verifier and the rewrite judge read: the supporting utterance (after the supporter's message, for a
    request of one utterance) and the sentence."""
    return [(reading(i.utterances[d.utterance], _context(i)), d.text) for d, i in todo]


@dataclass
class _Draft:
    text: str
    utterance: int
    span: tuple[int, int] | None
    reason: str | None
    fallback: bool = False
    stated: float | None = None
    fact: float | None = None
    faithful: float | None = None
    implied: float | None = None
    original: str = ""
    original_span: tuple[int, int] | None = None  # where it stood before an opening word was dropped
    replaces: tuple[_Draft, ...] = ()  # a clause: the kept proposals resting on it, which it replaces unless they
    # restate it
    whole_of: tuple[str, ...] = ()  # a clause a reason split (`reasons_kept_whole`): its pieces

    def restated(self) -> bool:
        """A clause is restated when the kept proposals resting on it hold most of its content words."""
        return bool(self.replaces) and lexical_overlap(self.text, " ".join(x.text for x in self.replaces)) >= COVERED

    def __post_init__(self):
        self.original = self.text
        self.original_span = self.span

    @property
    def kept(self) -> bool:
        return self.reason is None

    def rests_on(self, clause: _Draft) -> bool:
        """This sentence's evidence span overlaps the clause's (the same utterance)."""
        return (self.span is not None and clause.span is not None and self.utterance == clause.utterance
                and self.span[0] < clause.span[1] and clause.span[0] < self.span[1])

    def within(self, clause: _Draft) -> bool:
        """This sentence's evidence span lies inside the clause's (as the seeker wrote it, opening word and all)."""
        at = clause.original_span
        return (self.span is not None and at is not None and self.utterance == clause.utterance
                and at[0] <= self.span[0] and self.span[1] <= at[1])

    def verdict(self) -> Verdict:
        changed = self.text != self.original and not self.fallback
        return Verdict(self.text if self.kept else self.original, self.kept, self.reason,
                       self.original if changed else None, self.fallback, self.utterance,
                       self.span if self.kept else None, self.stated, self.fact, faithful=self.faithful,
                       implied=self.implied)


def add_check_options(parser) -> None:
    """The fact-style check's options, shared by the build and the evaluation (so both run one configuration)."""
    default = CheckSettings()
    parser.add_argument("--stated-by", choices=STATED_BY, default=default.stated_by,
                        help="fact style: who judges whether the seeker stated a proposal: the learned verifier or "
                             "the grounding thresholds (default %(default)s)")
    parser.add_argument("--no-meaning-check", action="store_true",
                        help="fact style: skip the meaning rules (negation, subject, tense, ...: extractor/meaning.py)")
    parser.add_argument("--no-rewrite-judge", action="store_true",
                        help="fact style: keep a proposal in other words than the seeker's without the rewrite judge "
                             "(CHANGED: extractor/judges/model_card.md)")
    parser.add_argument("--allow-new-words", action="store_true",
                        help="fact style: keep proposals that use a content word the seeker's turn does not have "
                             "(by default they are dropped: NEW_WORD)")
    parser.add_argument("--fallback", choices=FALLBACKS, default=default.fallback,
                        help="fact style: keep the seeker's own clauses where no proposal of a turn is kept (empty), "
                             "where no kept proposal restates them (uncovered), or never (default %(default)s)")
    parser.add_argument("--implied", type=float, default=default.implied, metavar="P",
                        help="fact style: keep a proposal with a word the seeker did not use when the rewrite judge "
                             "gives it at least P (an implied fact); 1 drops every such proposal (default %(default)s)")
    parser.add_argument("--implied-judge", action="store_true",
                        help="fact style: keep a proposal that the verifier, the rewrite judge or NEW_WORD dropped when "
                             "the implied-fact judge of --judges is sure the seeker implied it (not shipped: train it "
                             "with pipelines.train_judges --task implied; see docs/personas.md before use)")
    parser.add_argument("--part", type=float, default=default.part, metavar="P",
                        help="fact style: a kept quote of part of a seeker's sentence to which the rewrite judge gives "
                             "less than P grows back to its clause or sentence (WIDENED); 0: never (default %(default)s)")
    parser.add_argument("--whole-proposals", action="store_true",
                        help="fact style: keep a proposal that joins several of the seeker's clauses whole (by default it "
                             "becomes those clauses, each a fact of its own)")
    parser.add_argument("--ask", type=float, default=default.ask, metavar="P",
                        help="fact style: ask the extractor about a seeker turn only when the fact classifier gives one "
                             "of its statements at least P; 0 asks about every turn that may state a fact (default "
                             "%(default)s)")
    parser.add_argument("--clause-fact", type=float, default=default.clause_fact, metavar="P",
                        help="fact style: a seeker's clause on which no kept proposal rests is kept only when the fact "
                             "classifier gives it at least P (default %(default)s)")


def check_settings(args) -> CheckSettings:
    from common.cli import InputError

    implied = getattr(args, "implied", CheckSettings().implied)
    part = getattr(args, "part", CheckSettings().part)
    ask = getattr(args, "ask", CheckSettings().ask)
    for name, value in (("--clause-fact", args.clause_fact), ("--implied", implied), ("--part", part), ("--ask", ask)):
        if not 0.0 <= value <= 1.0:
            raise InputError(f"{name} must be a probability in [0, 1], not {value}")
    return CheckSettings(stated_by=args.stated_by, meaning=not args.no_meaning_check, fallback=args.fallback,
                         new_words=not args.allow_new_words, clause_fact=args.clause_fact, implied=implied, part=part,
                         ask=ask, split=not getattr(args, "whole_proposals", False),
                         rewrite=not getattr(args, "no_rewrite_judge", False),
                         implied_judge=getattr(args, "implied_judge", False))


JUDGES = ("verifier", "fact", "rewrite")  # the shipped judges; "implied" is trained on demand (`--implied-judge`)


def check_judges(folder: Path = JUDGES_DIR, tasks: Sequence[str] = JUDGES) -> dict[str, dict]:
    """The judges' configs and weight hashes, read before any work: a missing or damaged file is a one-line error."""
    import json

    from common.cli import InputError
    from extractor.cross_encoder import CONFIG, WEIGHTS, file_hash

    out = {}
    for task in tasks:
        weights, config = Path(folder) / task / WEIGHTS, Path(folder) / task / CONFIG
        for f in (weights, config):
            if not f.exists():
                raise InputError(f"{f} not found: the {task} judge is missing "
                                 f"(python -m pipelines.train_judges --task {task})")
        try:
            from safetensors import safe_open

            with safe_open(str(weights), framework="pt") as handle:
                handle.keys()
            saved = json.loads(config.read_text())
        except Exception as exc:  # noqa: BLE001 - any damage is the same user-facing problem
            raise InputError(f"{weights.parent}: the {task} judge cannot be read ({type(exc).__name__})") from None
        if saved.get("task") != task:
            raise InputError(f"{weights.parent} holds a {saved.get('task')} judge, not a {task} judge")
        out[task] = {"threshold": saved.get("threshold"), "sha256": file_hash(weights)}
    return out
