"""Grounded training data: each target persona sentence aligned with the utterance that states it.

PERSONA-CHAT-style targets are whole personas, and many of their sentences are never said ("i only
eat kosher" with no word about food); trained on them as they are, a model learns to invent. Here
every gold sentence is scored against the speaker's utterances with the grounding measure
(`extractor.grounding`); a supported sentence becomes a target of its best-supporting utterance.

Each utterance then becomes one per-utterance example (the utterance, with the partner's message
before it as context):
- `stated`: it states at least one gold sentence -> those sentences are the answer;
- `none`: no first-person statement about the speaker and no gold sentence even close to it
  (a question, a greeting, a reaction) -> the answer is NONE;
- `unlabelled`: a statement about the speaker that the gold persona does not cover, or only a weak
  match -> left out of training (NONE would teach the model to miss real facts; a target would be a guess).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from extractor.formatting import ExtractionInput
from extractor.grounding import Support, SupportScorer, SupportThresholds, best_support, self_statements
from schemas.personachat import PersonaPair

STATED, NONE, UNLABELLED = "stated", "none", "unlabelled"
# "Even close": any weak sign that the utterance touches a gold sentence keeps it out of the NONE class.
NEAR = SupportThresholds(cosine_min=0.45, lexical_min=0.34, lexical_cosine_min=0.0)


@dataclass(frozen=True)
class UtteranceExample:
    """One training example: what the extractor reads and the persona sentences it should answer."""

    input: ExtractionInput
    targets: tuple[str, ...]
    label: str  # STATED | NONE | UNLABELLED
    pair: int  # index of the source pair
    utterance: int  # index of the utterance in its pair


def align_pair(pair: PersonaPair, scorer: SupportScorer) -> list[Support]:
    """For each gold sentence of the pair: its best-supporting utterance and whether it is stated."""
    return scorer.support(list(pair.persona), list(pair.utterances))


def utterance_examples(pair: PersonaPair, index: int, scorer: SupportScorer) -> list[UtteranceExample]:
    """One example per utterance of the pair, labelled as the module docstring says."""
    per_utterance = scorer.support_by_utterance(list(pair.persona), list(pair.utterances))
    supports = [best_support(row) for row in per_utterance]  # = align_pair, without scoring twice
    out = []
    for u, utterance in enumerate(pair.utterances):
        targets = tuple(s for s, sup in zip(pair.persona, supports) if sup.supported and sup.utterance == u)
        if targets:
            label = STATED
        else:
            touched = any(row[u] is not None and NEAR.supported(row[u].cosine, row[u].lexical) for row in per_utterance)
            label = UNLABELLED if touched or self_statements(utterance) else NONE
        out.append(UtteranceExample(ExtractionInput((utterance,), pair.context_of(u)), targets, label, index, u))
    return out


def grounded_examples(pairs: Sequence[PersonaPair], indices: Iterable[int],
                      scorer: SupportScorer) -> tuple[list[UtteranceExample], dict[str, int]]:
    """Examples of the chosen pairs, and counts: utterances per label, gold sentences stated / not stated."""
    indices = list(indices)
    scorer.prepare([t for i in indices for t in (*pairs[i].utterances, *pairs[i].persona)])
    examples: list[UtteranceExample] = []
    counts: Counter = Counter()
    for i in indices:
        pair_examples = utterance_examples(pairs[i], i, scorer)
        examples += pair_examples
        counts.update(e.label for e in pair_examples)
        stated = sum(len(e.targets) for e in pair_examples)
        counts["gold_sentences"] += len(pairs[i].persona)
        counts["gold_stated"] += stated
    return examples, dict(counts)


def supported_gold(pair: PersonaPair, scorer: SupportScorer) -> list[str]:
    """The gold sentences the pair's utterances state: the reference that evaluation scores against."""
    return [s for s, sup in zip(pair.persona, align_pair(pair, scorer)) if sup.supported]


@dataclass(frozen=True)
class TrainingItem:
    """An (input, answer) pair the extractor is trained on."""

    input: ExtractionInput
    targets: tuple[str, ...]
    kind: str  # "utterance" or "cumulative"


def training_items(pairs: Sequence[PersonaPair], indices: Iterable[int], scorer: SupportScorer,
                   none_ratio: float = 0.5, cumulative_share: float = 0.1, window: int = 6,
                   seed: int = 13) -> tuple[list[TrainingItem], dict[str, int]]:
    """Grounded training items of the chosen pairs (seeded, deterministic).

    Every `stated` utterance; `none` utterances up to `none_ratio` times as many; and, so the paper's
    cumulative input is learned too, `cumulative_share` extra items reading up to `window` consecutive
    utterances whose answer is every sentence those utterances state (NONE allowed).
    """
    import random

    examples, counts = grounded_examples(pairs, indices, scorer)
    rng = random.Random(seed)
    stated = [e for e in examples if e.label == STATED]
    nones = [e for e in examples if e.label == NONE]
    rng.shuffle(nones)
    nones = nones[:int(round(none_ratio * len(stated)))]
    items = [TrainingItem(e.input, e.targets, "utterance") for e in stated + nones]
    by_pair: dict[int, list[UtteranceExample]] = {}
    for e in examples:
        by_pair.setdefault(e.pair, []).append(e)
    pair_ids = sorted(by_pair)
    wanted, added = int(round(cumulative_share * len(items))) if pair_ids else 0, 0
    for _ in range(20 * wanted):
        if added >= wanted:
            break
        rows = by_pair[rng.choice(pair_ids)]
        end = rng.randrange(len(rows))
        span = rows[max(0, end - rng.randrange(window)):end + 1]
        if any(e.label == UNLABELLED for e in span):  # an unlabelled statement would make the answer a guess
            continue
        targets = tuple(t for e in span for t in e.targets)
        items.append(TrainingItem(ExtractionInput(tuple(e.input.utterances[0] for e in span)), targets, "cumulative"))
        added += 1
    rng.shuffle(items)
    counts = {**counts, "items_utterance_stated": len(stated), "items_utterance_none": len(nones),
              "items_cumulative": sum(i.kind == "cumulative" for i in items)}
    return items, counts
