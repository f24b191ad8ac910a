"""Faithfulness first: scoring persona extractors against what the person actually said.

On held-out PERSONA-CHAT / Synthetic-Persona-Chat pairs (persona-disjoint from training) the reference is the
*supported* gold (`extractor.alignment.supported_gold`): gold sentences nobody said cannot be extracted and are
not counted. Per system, micro-averaged: precision, recall and F1 against that gold (a match is "stated" under the
grounding thresholds), the unsupported share and the share the build's check drops (`SupportScorer.check`, split
by reason), ROUGE-L and BLEU; 95 % intervals by a seeded percentile bootstrap over pairs. On ESConv (no gold):
the unsupported share, and the coverage of the seeker's first-person statements about themselves, of which the
rule baseline, copying them, is the reference by design.
Definitions: docs/check-rules.md, section "Evaluation definitions".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from extractor.grounding import NO_SUPPORT, NOT_ABOUT_SEEKER, REMARK, SupportScorer, lexical_overlap, self_statements
from extractor.meaning import MEANING_REASONS

BOOTSTRAP = 1000


@dataclass
class PairScore:
    """Counts for one pair (or dialog); systems are compared by summing these."""

    generated: int = 0
    matched: int = 0  # generated sentences matching a supported gold sentence
    gold: int = 0  # supported gold sentences
    found: int = 0  # supported gold sentences matched by some generated sentence
    unsupported: int = 0  # generated sentences with no support in the input
    not_about_self: int = 0  # supported, but not a statement about the speaker
    changed: int = 0  # supported, but changes the meaning of the words it copies
    remarks: int = 0  # supported, but a remark to the partner
    statements: int = 0  # ESConv: first-person statements of the seeker
    covered: int = 0  # ESConv: statements that support a persona sentence


def _matches(scorer: SupportScorer, generated: Sequence[str], gold: Sequence[str], mutual: bool = False) -> np.ndarray:
    """matches[i, j]: gold[j] is stated by generated[i] (with `mutual`, and generated[i] by gold[j]: a whole
    utterance that contains a gold fact then no longer matches it)."""
    cos, lex = scorer.scores(gold, generated)  # [gold, generated]: overlap = share of g's words found in p
    th = scorer.thresholds
    return np.array([[th.supported(float(cos[j, i]), float(lex[j, i]))
                      and (not mutual or th.supported(float(cos[j, i]), lexical_overlap(generated[i], gold[j])))
                      for j in range(len(gold))]
                     for i in range(len(generated))], dtype=bool).reshape(len(generated), len(gold))


def drop_counts(reasons: Sequence[str | None]) -> dict[str, int]:
    """The check's drops by reason, as PairScore fields (either style: not stated counts as unsupported, not a
    persona fact as a remark)."""
    from extractor.verifier import NOT_A_FACT, NOT_STATED

    return {"unsupported": sum(r in (NO_SUPPORT, NOT_STATED) for r in reasons),
            "not_about_self": sum(r == NOT_ABOUT_SEEKER for r in reasons),
            "changed": sum(r in MEANING_REASONS for r in reasons),
            "remarks": sum(r in (REMARK, NOT_A_FACT) for r in reasons)}


def score_pair(scorer: SupportScorer, generated: Sequence[str], gold: Sequence[str],
               drops: dict[str, int] | None = None, mutual: bool = False) -> PairScore:
    """Matches of `generated` against the supported `gold`, with the check's `drops` (drop_counts) of them;
    `mutual`: a match needs support both ways (docs/check-rules.md, "Evaluation definitions")."""
    m = _matches(scorer, generated, gold, mutual)
    return PairScore(generated=len(generated), matched=int(m.any(axis=1).sum()), gold=len(gold),
                     found=int(m.any(axis=0).sum()), **(drops or {}))


def score_dialog(scorer: SupportScorer, persona: Sequence[str], generated: int, drop_reasons: Sequence[str],
                 seeker_utterances: Sequence[str]) -> PairScore:
    """ESConv: coverage of the seeker's self-statements by the dialog's persona sentences (after the check);
    the drop shares are over the `generated` sentences, whose dropped ones had `drop_reasons`."""
    stmts = [s for u in seeker_utterances for s in self_statements(u)]
    covered = 0
    if stmts and persona:
        supported = _matches(scorer, stmts, persona)  # [statement, sentence]: the sentence is stated there
        covered = int(supported.any(axis=1).sum())
    return PairScore(generated=generated, statements=len(stmts), covered=covered, **drop_counts(drop_reasons))


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def summarise(scores: Sequence[PairScore]) -> dict[str, float]:
    tot = PairScore(**{k: sum(getattr(s, k) for s in scores) for k in PairScore.__dataclass_fields__})
    p, r = _ratio(tot.matched, tot.generated), _ratio(tot.found, tot.gold)
    dropped = tot.unsupported + tot.not_about_self + tot.changed + tot.remarks
    return {"precision": p, "recall": r, "f1": _ratio(2 * p * r, p + r), "unsupported_share":
            _ratio(tot.unsupported, tot.generated), "not_about_self_share": _ratio(tot.not_about_self, tot.generated),
            "changed_share": _ratio(tot.changed, tot.generated),
            "remark_share": _ratio(tot.remarks, tot.generated), "dropped_share": _ratio(dropped, tot.generated),
            "coverage": _ratio(tot.covered, tot.statements),
            "generated": tot.generated, "supported_gold": tot.gold, "statements": tot.statements,
            "sentences_per_item": _ratio(tot.generated, len(scores))}


def bootstrap(scores: Sequence[PairScore], keys: Sequence[str], seed: int = 13,
              rounds: int = BOOTSTRAP) -> dict[str, list[float]]:
    """Percentile 95 % intervals of summary metrics, resampling pairs (dialogs) with replacement."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {k: [] for k in keys}
    n = len(scores)
    for _ in range(rounds if n > 1 else 0):
        pick = [scores[i] for i in rng.integers(0, n, n)]
        summary = summarise(pick)
        for k in keys:
            samples[k].append(summary[k])
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else [float("nan")] * 2
            for k, v in samples.items()}


def rouge_l_per_item(predictions: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> list[float | None]:
    """ROUGE-L F1 of each item's joined sentences against its joined gold (None where it has no gold): how close
    the wording is to the gold persona, which a sentence-match F1 does not see."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return [None if not g else (scorer.score(" ".join(g), " ".join(p))["rougeL"].fmeasure if p else 0.0)
            for p, g in zip(predictions, golds)]


def text_overlap(predictions: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """ROUGE-L F1 (mean) and corpus BLEU of joined sentences, over the items that have gold."""
    import sacrebleu

    rows = [(" ".join(p), " ".join(g)) for p, g in zip(predictions, golds) if g]
    if not rows:
        return {"rouge_l": 0.0, "bleu": 0.0, "scored_items": 0}
    rouge = [r for r in rouge_l_per_item(predictions, golds) if r is not None]
    bleu = sacrebleu.corpus_bleu([p for p, _ in rows], [[g for _, g in rows]], lowercase=True).score
    return {"rouge_l": float(np.mean(rouge)), "bleu": float(bleu), "scored_items": len(rows)}

