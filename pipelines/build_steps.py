"""The Beam transforms of the build: validate, de-duplicate, expand to requests, fold, write."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from extractor.dedup import merge_persona
from extractor.formatting import ExtractionInput
from extractor.requests import UTTERANCE, WHOLE_DIALOG, annotated_positions, extraction_requests, seeker_positions
from pipelines.inference import Progress
from schemas.esconv import Dialog, InvalidDialog, RawRecord, normalise_dialog, parse_raw
from schemas.pesconv import PERSONA_JOINER, PESCONV_SCHEMA

REJECTS = "rejects"
UNSUPPORTED = "unsupported"



@dataclass(frozen=True)
class Located:
    """A raw record with its global reading order and its split (assigned on the driver)."""

    record: RawRecord
    order: int
    split: str


def reject_row(record: RawRecord, reason: str, dialog_id: str | None = None) -> dict[str, Any]:
    return {"source": record.source, "index": record.index, "line": record.line, "dialog_id": dialog_id,
            "reason": reason}


class ValidateDialog(beam.DoFn):
    """Parse + normalise one record; invalid ones go to the 'rejects' output with the reason."""

    def process(self, item: Located):
        try:
            dialog = normalise_dialog(parse_raw(item.record), item.record.source, item.record.index)
        except InvalidDialog as exc:
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(item.record, str(exc)))
            return
        yield dialog.dialog_id, (item.order, item.split, dialog, item.record)


def keep_first_of_duplicates(kv: tuple[str, Iterable[tuple]]):
    """Same content hash seen more than once: keep the first read, reject the others."""
    dialog_id, copies = kv
    ordered = sorted(copies, key=lambda c: c[0])
    order, split, dialog, record = ordered[0]
    yield dialog_id, (order, split, dialog)
    for _, _, _, dup in ordered[1:]:
        first = ordered[0][3]
        yield beam.pvalue.TaggedOutput(
            REJECTS, reject_row(dup, f"duplicate of {first.source}#{first.index}", dialog_id))


def expand_requests(kv: tuple[str, tuple], start_utterance: int, context: str = UTTERANCE):
    """Beam step: one (input, (dialog id, turn)) element per extraction request."""
    dialog_id, (_, _, dialog) = kv
    for inp, turn in extraction_requests(dialog, start_utterance, context):
        yield inp, (dialog_id, turn)


@dataclass(frozen=True)
class GroundedSentence:
    """A generated persona sentence and its support among the request's utterances (see extractor.grounding)."""

    sentence: str
    supported: bool
    utterance: int | None  # index into the request's utterances of the best-supporting one
    cosine: float
    lexical: float


class GroundPersonas(beam.DoFn):
    """Score each inferred sentence against the seeker's words of its request (batches of results)."""

    def __init__(self, device: str = "cpu"):
        self.device = device

    def setup(self) -> None:
        from extractor.grounding import SupportScorer, minilm_embedder

        self.scorer = SupportScorer(minilm_embedder(self.device))

    def process(self, batch: list[tuple[str, tuple[ExtractionInput, list[str]]]]):
        self.scorer.prepare([t for _, (inp, sents) in batch if sents for t in (*inp.utterances, *sents)])
        for key, (inp, sentences) in batch:
            supports = self.scorer.support(sentences, list(inp.utterances))
            yield key, [GroundedSentence(s, x.supported, x.utterance, round(x.cosine, 4), round(x.lexical, 4))
                        for s, x in zip(sentences, supports)]


def _turn_of(dialog: Dialog, turn: int, utterance: int | None, context: str) -> int:
    """The dialog position of the seeker turn a grounded sentence came from."""
    if context == UTTERANCE:
        return turn
    seekers = seeker_positions(dialog)
    last = len(dialog.turns) - 1 if turn == WHOLE_DIALOG else turn
    upto = [p for p in seekers if p <= last]
    return upto[utterance] if utterance is not None and utterance < len(upto) else (upto[-1] if upto else 0)


@dataclass
class PersonaState:
    """The persona visible so far: sentences with the seeker turn each came from (evidence)."""

    sentences: list[str]
    evidence: list[int]

    def merge(self, facts: list[tuple[str, int]], threshold: float) -> None:
        merged = merge_persona(self.sentences, [s for s, _ in facts], threshold)
        turn_of = {}
        for s, t in facts:
            turn_of.setdefault(s, t)
        self.evidence += [turn_of[s] for s in merged[len(self.sentences):]]
        self.sentences = merged


def fold_dialog(kv: tuple[str, dict[str, list]], start_utterance: int, merge_threshold: float,
                context: str = UTTERANCE, keep_unsupported: bool = False):
    """Build the PESConv row: the de-duplicated persona visible at every turn, each sentence with its evidence.

    Unsupported sentences (no support in the seeker's words) are dropped unless `keep_unsupported`;
    either way each one leaves on the UNSUPPORTED output, so the manifest counts them."""
    dialog_id, groups = kv
    (order, split, dialog), = groups["dialog"]
    inferred: dict[int, list[GroundedSentence]] = dict(groups["persona"])
    annotated = set(annotated_positions(dialog, start_utterance))
    generated = sum(len(sentences) for sentences in inferred.values())
    unsupported_rows: list[dict[str, Any]] = []

    def facts(turn: int) -> list[tuple[str, int]]:
        kept = []
        for g in inferred.get(turn, []):
            if not g.supported:
                unsupported_rows.append({"dialog_id": dialog_id, "turn": turn, "sentence": g.sentence,
                                         "cosine": g.cosine, "lexical": g.lexical, "kept": keep_unsupported})
            if g.supported or keep_unsupported:
                kept.append((g.sentence, _turn_of(dialog, turn, g.utterance, context)))
        return kept

    visible = PersonaState([], [])
    persona_list: list[str] = []
    turns = []
    for i, t in enumerate(dialog.turns):
        if i in inferred:  # the turns that had a request: every seeker turn, or the annotated ones (cumulative)
            visible.merge(facts(i), merge_threshold)
        shown = bool(annotated) and i >= min(annotated)  # no persona before the start utterance
        if i in annotated:
            persona_list.append(PERSONA_JOINER.join(visible.sentences))
        turns.append({"speaker": t.speaker, "text": t.text, "strategy": t.strategy, "feedback": t.feedback,
                      "persona": list(visible.sentences) if shown else [],
                      "persona_evidence": list(visible.evidence) if shown else [],
                      "persona_inferred": i in annotated})
    if context == UTTERANCE:
        whole = visible
    else:
        whole = PersonaState([], [])
        whole.merge(facts(WHOLE_DIALOG), merge_threshold)
    Progress.add(dialogs=1)
    for row in unsupported_rows:
        yield beam.pvalue.TaggedOutput(UNSUPPORTED, row)
    yield {
        "_order": order,
        "_generated": generated,
        "dialog_id": dialog_id,
        "split": split,
        "source": f"{dialog.source}#{dialog.source_index}",
        "experience_type": dialog.experience_type,
        "emotion_type": dialog.emotion_type,
        "problem_type": dialog.problem_type,
        "situation": dialog.situation,
        "survey_score": {**dialog.survey, "supporter_relevance": dialog.supporter_relevance},
        "dialog": turns,
        "persona": whole.sentences,
        "persona_evidence": whole.evidence,
        "persona_list": persona_list,
    }


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_split_shards(kv: tuple[str, list[dict]], data_dir: str, num_shards: int) -> Iterable[tuple[str, int]]:
    """Write one split as `data/{split}-0000i-of-0000n.parquet`, rows in input order."""
    split, rows = kv
    rows = sorted(rows, key=lambda r: r["_order"])
    n = max(1, min(num_shards, len(rows)))
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        part = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows[i::n]]
        table = pa.Table.from_pylist(part, schema=PESCONV_SCHEMA)
        _atomic_write(folder / f"{split}-{i:05d}-of-{n:05d}.parquet", lambda p: pq.write_table(table, p))
    yield split, len(rows)


def write_rejects(rows: list[dict], path: str) -> Iterable[int]:
    """All reject records, in input order, as JSON lines."""
    rows = sorted(rows, key=lambda r: (r["source"], r["index"]))
    _atomic_write(Path(path), lambda p: _write_jsonl(p, rows))
    yield len(rows)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_unsupported(rows: list[dict], path: str) -> Iterable[int]:
    """Generated sentences without support in the seeker's words, in dialog/turn order, as JSON lines."""
    rows = sorted(rows, key=lambda r: (r["dialog_id"], r["turn"], r["sentence"]))
    _atomic_write(Path(path), lambda p: _write_jsonl(p, rows))
    yield len(rows)


def write_count(count: int, path: str) -> int:
    _atomic_write(Path(path), lambda p: p.write_text(json.dumps({"generated_sentences": count}) + "\n"))
    return count
