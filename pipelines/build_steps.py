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
from pipelines.inference import Progress
from schemas.esconv import SEEKER, Dialog, InvalidDialog, RawRecord, normalise_dialog, parse_raw
from schemas.pesconv import PERSONA_JOINER, PESCONV_SCHEMA

REJECTS = "rejects"
WHOLE_DIALOG = -1  # turn index of the whole-dialog extraction request


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


def annotated_positions(dialog: Dialog, start_utterance: int) -> list[int]:
    """Positions of the seeker turns that get a persona inference (from the start utterance on)."""
    return [i for i, t in enumerate(dialog.turns) if t.speaker == SEEKER and i >= start_utterance - 1]


def expand_requests(kv: tuple[str, tuple], start_utterance: int):
    """One request per annotated seeker turn plus one for the whole dialog: (input, (id, position))."""
    dialog_id, (_, _, dialog) = kv
    for pos in annotated_positions(dialog, start_utterance):
        yield tuple(dialog.seeker_texts_until(pos)), (dialog_id, pos)
    yield tuple(dialog.seeker_texts_until(len(dialog.turns) - 1)), (dialog_id, WHOLE_DIALOG)


def fold_dialog(kv: tuple[str, dict[str, list]], start_utterance: int, merge_threshold: float) -> dict[str, Any]:
    """Build the PESConv row: cumulative, de-duplicated persona visible at every turn."""
    dialog_id, groups = kv
    (order, split, dialog), = groups["dialog"]
    inferred = dict(groups["persona"])
    annotated = set(annotated_positions(dialog, start_utterance))
    visible: list[str] = []
    persona_list: list[str] = []
    turns = []
    for i, t in enumerate(dialog.turns):
        if i in annotated:
            visible = merge_persona(visible, inferred[i], merge_threshold)
            persona_list.append(PERSONA_JOINER.join(visible))
        turns.append({"speaker": t.speaker, "text": t.text, "strategy": t.strategy, "feedback": t.feedback,
                      "persona": list(visible), "persona_inferred": i in annotated})
    Progress.add(dialogs=1)
    return {
        "_order": order,
        "dialog_id": dialog_id,
        "split": split,
        "source": f"{dialog.source}#{dialog.source_index}",
        "experience_type": dialog.experience_type,
        "emotion_type": dialog.emotion_type,
        "problem_type": dialog.problem_type,
        "situation": dialog.situation,
        "survey_score": {**dialog.survey, "supporter_relevance": dialog.supporter_relevance},
        "dialog": turns,
        "persona": merge_persona([], inferred[WHOLE_DIALOG], merge_threshold),
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
        part = [{k: v for k, v in r.items() if k != "_order"} for r in rows[i::n]]
        table = pa.Table.from_pylist(part, schema=PESCONV_SCHEMA)
        _atomic_write(folder / f"{split}-{i:05d}-of-{n:05d}.parquet", lambda p: pq.write_table(table, p))
    yield split, len(rows)


def write_rejects(rows: list[dict], path: str) -> Iterable[int]:
    """All reject records, in input order, as JSON lines."""
    rows = sorted(rows, key=lambda r: (r["source"], r["index"]))

    def write(p: Path) -> None:
        with open(p, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")

    _atomic_write(Path(path), write)
    yield len(rows)
