"""Self-training labels from ESConv: the extractor's own outputs, kept only where the seeker's words bear them out.

PERSONA-CHAT and Synthetic-Persona-Chat teach the task, but ESConv seekers talk differently (long, emotional
turns) and there the model adds details nobody said. ESConv has no gold personas, so the labels come from the
model itself, filtered more strictly than the build's check: `stated` (at least one faithful copy and no other
supported sentence: the answer is the faithful copies, so the model learns to stop writing what the check
rejects), `none` (nothing supported, nothing stated about the seeker: NONE) or `unlabelled` (anything else, not
trained on: either answer would be a guess). A faithful copy is supported and adds no content word to the
utterance and its context, or has cosine >= `STRICT_COSINE`. With `train_extractor --esconv-copy`, a missed
statement about the seeker is trained on as a copy of itself (up to `COPY_MAX_WORDS` words). Only dialogs of the
ESConv *train* split may be labelled (`pipelines.evaluate_extractor` refuses an overlap with its test dialogs).
Labels in full: docs/check-rules.md, section "Self-training labels".
"""
from __future__ import annotations

from dataclasses import dataclass

from extractor.formatting import ExtractionInput
from extractor.grounding import SupportScorer, content_words, self_statements

STATED, NONE, UNLABELLED = "stated", "none", "unlabelled"
STRICT_COSINE = 0.85  # above the check's 0.8: a paraphrase this close adds nothing the seeker did not say
COPY_MAX_WORDS = 16  # longer statements are stories, not persona facts
MISSED = "states something about the seeker; nothing faithful"


@dataclass(frozen=True)
class SelfLabel:
    """One seeker utterance, what the extractor wrote for it, and the answer it is trained on (if any)."""

    input: ExtractionInput
    generated: tuple[str, ...]
    targets: tuple[str, ...]
    label: str  # STATED | NONE | UNLABELLED
    reason: str
    statements: tuple[str, ...] = ()  # the utterance's short statements about the seeker (copy targets)


def added_words(sentence: str, inp: ExtractionInput) -> frozenset[str]:
    """Content words of `sentence` that neither the utterance nor its context contains."""
    said = content_words(" ".join(inp.utterances)) | content_words(inp.context)
    return content_words(sentence) - said


def label_utterance(inp: ExtractionInput, generated: list[str], scorer: SupportScorer) -> SelfLabel:
    """Label one per-utterance extraction as the module docstring says."""
    support = scorer.check(generated, list(inp.utterances))
    faithful, loose = [], []
    for sentence, sup in zip(generated, support):
        if not sup.supported:
            continue
        sentence = sup.kept_text(sentence)
        (faithful if sup.cosine >= STRICT_COSINE or not added_words(sentence, inp) else loose).append(sentence)
    if loose:
        extra = ", ".join(sorted(added_words(loose[0], inp)))
        return SelfLabel(inp, tuple(generated), (), UNLABELLED, f"supported but adds words: {extra}")
    if faithful:
        dropped = len(generated) - len(faithful)
        return SelfLabel(inp, tuple(generated), tuple(faithful), STATED,
                         f"{len(faithful)} faithful" + (f", {dropped} unsupported left out" if dropped else ""))
    own = [s for u in inp.utterances for s in self_statements(u)]
    if own:
        short = tuple(s for s in own if len(s.split()) <= COPY_MAX_WORDS)
        return SelfLabel(inp, tuple(generated), (), UNLABELLED, MISSED, short)
    return SelfLabel(inp, tuple(generated), (), NONE,
                     "no statement about the seeker" + (f"; {len(generated)} unsupported left out" if generated else ""))


def read_labels(paths: list[str]) -> list[dict]:
    """Rows written by `pipelines.label_esconv` (one JSON object per line)."""
    import json
    from pathlib import Path

    from common.cli import InputError

    rows = []
    for path in paths:
        if not Path(path).is_file():
            raise InputError(f"ESConv label file {path} not found (write it with python -m pipelines.label_esconv)")
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                    if not all(k in row for k in ("utterance", "label", "dialog_id")):  # the fields training needs
                        raise KeyError
                except (ValueError, KeyError, TypeError):
                    raise InputError(f"{path}:{n} is not a label row of pipelines.label_esconv") from None
                rows.append(row)
    return rows


def label_items(rows: list[dict], none_ratio: float, valid_fraction: float, seed: int, copy: bool = False):
    """(train, valid, counts): training items from label rows, validation split by dialog (seeded).

    Every `stated` row (with `copy`, also the missed rows with short statements, answered by those
    statements); `none` rows up to `none_ratio` times as many (as for PERSONA-CHAT)."""
    import random

    from extractor.alignment import TrainingItem

    dialogs = sorted({r["dialog_id"] for r in rows})
    rng = random.Random(seed)
    valid_ids = set(rng.sample(dialogs, int(round(valid_fraction * len(dialogs))))) if dialogs else set()
    out: dict[bool, list] = {True: [], False: []}
    counts: dict[str, int] = {"dialogs": len(dialogs), "valid_dialogs": len(valid_ids)}
    for is_valid in (False, True):
        part = [r for r in rows if (r["dialog_id"] in valid_ids) == is_valid]
        stated = [r for r in part if r["label"] == STATED]
        copied = [{**r, "targets": r["statements"]} for r in part
                  if copy and r["label"] == UNLABELLED and r["reason"] == MISSED and r.get("statements")]
        stated += copied
        nones = [r for r in part if r["label"] == NONE]
        rng.shuffle(nones)
        nones = nones[:int(round(none_ratio * len(stated)))]
        out[is_valid] = [TrainingItem(ExtractionInput((r["utterance"],), r.get("context", "")), tuple(r["targets"]),
                                      "esconv") for r in stated + nones]
        rng.shuffle(out[is_valid])
        if not is_valid:
            counts.update(stated=len(stated), none=len(nones),
                          unlabelled=sum(r["label"] == UNLABELLED for r in part) - len(copied), copied=len(copied),
                          rows=len(part))
    return out[False], out[True], counts
