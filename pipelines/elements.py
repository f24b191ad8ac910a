"""The elements that flow between the build's transforms: small frozen dataclasses, not positional tuples.

Frozen dataclasses encode deterministically in Beam, so they can be grouped on and de-duplicated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from extractor.formatting import ExtractionInput
from schemas.esconv import Dialog, RawRecord


@dataclass(frozen=True)
class SourceFile:
    """An input file and its rank in the reading order (records are numbered file by file)."""

    rank: int
    path: str


@dataclass(frozen=True)
class Located:
    """A raw record with its global reading order and its split."""

    record: RawRecord
    order: int
    split: str


@dataclass(frozen=True)
class ValidDialog:
    """A dialog that passed validation, where it was read and which split it belongs to."""

    dialog: Dialog
    order: int
    split: str
    record: RawRecord  # where it was read (without its text), for the reject row of a duplicate or failed inference


@dataclass(frozen=True)
class Request:
    """One extraction request: what the extractor reads, keyed for the cache, and where it belongs."""

    key: str
    input: ExtractionInput
    dialog_id: str
    turn: int


@dataclass(frozen=True)
class GroundedSentence:
    """A generated persona sentence and its support among the request's utterances (see extractor.grounding)."""

    sentence: str
    supported: bool
    utterance: int | None  # index into the request's utterances of the best-supporting one
    cosine: float
    lexical: float
    reason: str | None = None  # why it is not supported (extractor.grounding.DROP_REASONS); None when it is
    generated: str | None = None  # what the extractor wrote, when the check cut a remark clause from it or quoted
    quoted: bool = False  # `sentence` is the seeker's statement that supported what the extractor wrote
    span: tuple[int, int] | None = None  # [start, end) characters of the supporting utterance it rests on
    fallback: bool = False  # the seeker's own clause, kept because no kept proposal restates it (extractor.verifier)
    stated: float | None = None  # verifier probability (fact style)
    fact: float | None = None  # persona-fact classifier probability (fact style)
    part: int | None = None  # the clause's place in the proposal the check split it from (fact style)
    faithful: float | None = None  # rewrite-judge probability, for a proposal in other words (fact style)
    widened: str | None = None  # how a quote of part of a sentence grew back (extractor.verifier.HEDGE_KEPT, WIDENED)
    implied: float | None = None  # implied-fact judge probability, for a proposal an earlier check dropped (fact style)


@dataclass(frozen=True)
class Outcome:
    """What one request produced: grounded sentences, or the error that made the model fail on it."""

    sentences: tuple[GroundedSentence, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class TurnOutcome:
    """A request's outcome placed at its seeker turn of one dialog."""

    turn: int
    outcome: Outcome


@dataclass(frozen=True)
class PackedRow:
    """A PESConv row on its way to its shard: the row compressed (zlib'd JSON), so the shuffle that groups rows
    by shard holds a few kB per dialog, not the row's repeated per-turn persona lists (tens of kB)."""

    split: str
    shard: int
    order: int  # reading order: rows are written in it
    turns: int  # annotated seeker turns (for the build's counts)
    generated: int  # persona sentences the extractor generated
    repeats: int  # utterances that repeat the one before word for word (schemas.pesconv.repeats_previous)
    data: bytes


def reject_row(record: RawRecord, reason: str, dialog_id: str | None = None) -> dict[str, Any]:
    """A line of rejects.jsonl: where the record was and why it is not in the dataset."""
    return {"source": record.source, "index": record.index, "line": record.line, "dialog_id": dialog_id,
            "reason": reason}
