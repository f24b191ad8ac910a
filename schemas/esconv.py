"""One reader for both ESConv formats, normalised to one typed `Dialog` record.

Formats:
- split files (``train.json`` ...): one JSON object per line, ``dialog[] = {speaker: usr|sys, text, strategy}``;
- the original ``ESConv.json`` array: ``dialog[] = {speaker: seeker|supporter (or speaker|listener),
  content, annotation: {strategy, feedback}}``.

Reading is split in two steps so a distributed runner can validate in parallel:
`iter_raw_records` only finds record boundaries (cheap, on the driver) and `normalise_dialog`
validates one record (in a Beam worker). Invalid records become reject reasons, never silent drops.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from common.cli import InputError
from schemas.strategies import canonical_strategy

SEEKER = "seeker"
SUPPORTER = "supporter"
SPEAKER_ALIASES: dict[str, str] = {
    "usr": SEEKER, "seeker": SEEKER, "speaker": SEEKER,
    "sys": SUPPORTER, "supporter": SUPPORTER, "listener": SUPPORTER,
}
SURVEY_FIELDS = ("empathy", "relevance", "initial_emotion_intensity", "final_emotion_intensity")
REQUIRED_TEXT_FIELDS = ("emotion_type", "problem_type", "situation")
SPLIT_FILE_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "dev": "valid", "test": "test"}


class InvalidDialog(ValueError):
    """One record cannot be used; the message is the reject reason."""


@dataclass(frozen=True)
class RawRecord:
    """One record located in an input file, not yet validated."""

    source: str  # file name, e.g. "train.json"
    index: int  # 0-based position of the record in its file
    line: int | None  # 1-based line number for JSON-lines files
    text: str | None = None  # the raw JSON text (JSON-lines files)
    payload: Any = None  # the parsed object (array files)
    error: str | None = None  # set when the record could not even be located/parsed


@dataclass(frozen=True)
class Turn:
    speaker: str  # "seeker" | "supporter"
    text: str
    strategy: str | None = None  # canonical label, supporter turns only
    feedback: int | None = None  # seeker's per-turn feedback (original format only)


@dataclass(frozen=True)
class Dialog:
    dialog_id: str
    source: str
    source_index: int
    experience_type: str | None
    emotion_type: str
    problem_type: str
    situation: str
    survey: dict[str, int | None]
    supporter_relevance: int | None
    turns: tuple[Turn, ...] = field(default_factory=tuple)

    def seeker_texts_until(self, turn_index: int) -> list[str]:
        """The seeker's utterances up to and including position `turn_index`."""
        return [t.text for t in self.turns[: turn_index + 1] if t.speaker == SEEKER]


def split_of_file(source: str) -> str | None:
    """Standard split name implied by a file name (``valid.json`` -> ``valid``), if any."""
    return SPLIT_FILE_NAMES.get(Path(source).stem.lower())


def choose_input_files(names: list[str]) -> list[str]:
    """Of a folder's file names, the JSON files to read, in reading order: the split files only (train,
    valid, test first) when there are any, else every .json file but strategy.json, sorted."""
    files = [n for n in names if n.endswith(".json") and Path(n).name != "strategy.json"]
    split_files = [n for n in files if split_of_file(Path(n).name)]
    if split_files:  # a split layout: read only the split files, in a fixed order
        order = {"train": 0, "valid": 1, "test": 2}
        return sorted(split_files, key=lambda n: (order[split_of_file(Path(n).name)], Path(n).name))
    return sorted(files)


def list_input_files(path: Path) -> list[Path]:
    """JSON files to read: the file itself, or a folder's files as `choose_input_files` says."""
    if not path.exists():
        raise InputError(f"input {path} does not exist")
    if path.is_file():
        return [path]
    chosen = choose_input_files([str(p) for p in path.iterdir()])
    if not chosen:
        raise InputError(f"input folder {path} holds no .json files")
    return [Path(p) for p in chosen]


def iter_raw_records(path: Path) -> Iterator[RawRecord]:
    """Locate the records of one file of either format; malformed lines become error records."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    yield from records_from_text(path.name, content, str(path))


def records_from_text(name: str, content: str, where: str | None = None) -> Iterator[RawRecord]:
    """The records of one file's text: a JSON array, or JSON lines (a bad line is an error record)."""
    if content.lstrip().startswith("["):
        try:
            items = json.loads(content)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where or name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
                from None
        for i, item in enumerate(items):
            yield RawRecord(source=name, index=i, line=None, payload=item)
        return
    index = 0
    for lineno, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        yield RawRecord(source=name, index=index, line=lineno, text=line)
        index += 1


def parse_raw(record: RawRecord) -> Any:
    """The JSON object of a record; InvalidDialog with the line number when it is malformed."""
    if record.error:
        raise InvalidDialog(record.error)
    if record.text is None:
        return record.payload
    try:
        return json.loads(record.text)
    except json.JSONDecodeError as exc:
        raise InvalidDialog(f"malformed JSON at line {record.line}: {exc.msg} (column {exc.colno})") from None


def _score(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidDialog(f"{where}: expected an integer score, got {value!r}")
    try:
        score = int(str(value).strip())
    except ValueError:
        raise InvalidDialog(f"{where}: expected an integer score, got {value!r}") from None
    if not 0 <= score <= 10:
        raise InvalidDialog(f"{where}: score {score} out of range")
    return score


def _string(obj: dict, key: str, where: str, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidDialog(f"missing field {where}{key!r}")
        return None
    if not isinstance(value, str):
        raise InvalidDialog(f"field {where}{key!r} must be a string, got {type(value).__name__}")
    return " ".join(value.split())


def _turn(raw: Any, i: int) -> Turn:
    where = f"dialog[{i}]"
    if not isinstance(raw, dict):
        raise InvalidDialog(f"{where} must be an object, got {type(raw).__name__}")
    speaker_raw = raw.get("speaker")
    if not isinstance(speaker_raw, str):
        raise InvalidDialog(f"{where}: missing or non-string 'speaker'")
    speaker = SPEAKER_ALIASES.get(speaker_raw.strip().lower())
    if speaker is None:
        raise InvalidDialog(f"{where}: unknown speaker {speaker_raw!r}")
    text_key = "text" if "text" in raw else "content"
    text = _string(raw, text_key, f"{where}.")
    if not text:
        raise InvalidDialog(f"{where}: empty text")
    annotation = raw.get("annotation") or {}
    if not isinstance(annotation, dict):
        raise InvalidDialog(f"{where}.annotation must be an object")
    strategy = feedback = None
    if speaker == SUPPORTER:
        label = raw.get("strategy", annotation.get("strategy"))
        if label is None:
            raise InvalidDialog(f"{where}: supporter turn without a strategy")
        if not isinstance(label, str):
            raise InvalidDialog(f"{where}: strategy must be a string, got {type(label).__name__}")
        try:
            strategy = canonical_strategy(label)
        except KeyError:
            raise InvalidDialog(f"{where}: unknown strategy {label!r}") from None
    else:
        feedback = _score(annotation.get("feedback", raw.get("feedback")), f"{where}.feedback")
    return Turn(speaker=speaker, text=text, strategy=strategy, feedback=feedback)


def dialog_id_for(turns: tuple[Turn, ...]) -> str:
    """Stable content hash: the same conversation gets the same id from either format."""
    canon = json.dumps([[t.speaker, t.text] for t in turns], ensure_ascii=False, separators=(",", ":"))
    return "esconv-" + hashlib.sha256(canon.encode("utf-8")).hexdigest()[:16]


def normalise_dialog(obj: Any, source: str = "", index: int = 0) -> Dialog:
    """Validate one raw dialog of either format; InvalidDialog carries the reject reason."""
    if not isinstance(obj, dict):
        raise InvalidDialog(f"record must be a JSON object, got {type(obj).__name__}")
    raw_turns = obj.get("dialog")
    if raw_turns is None:
        raise InvalidDialog("missing field 'dialog'")
    if not isinstance(raw_turns, list):
        raise InvalidDialog(f"field 'dialog' must be a list, got {type(raw_turns).__name__}")
    if not raw_turns:
        raise InvalidDialog("field 'dialog' is empty")
    turns = tuple(_turn(t, i) for i, t in enumerate(raw_turns))
    if not any(t.speaker == SEEKER for t in turns):
        raise InvalidDialog("dialog has no seeker turn")
    texts = {k: _string(obj, k, "") for k in REQUIRED_TEXT_FIELDS}
    survey_raw = obj.get("survey_score") or {}
    if not isinstance(survey_raw, dict):
        raise InvalidDialog("field 'survey_score' must be an object")
    seeker_scores = survey_raw.get("seeker") or {}
    supporter_scores = survey_raw.get("supporter") or {}
    if not isinstance(seeker_scores, dict) or not isinstance(supporter_scores, dict):
        raise InvalidDialog("survey_score.seeker / survey_score.supporter must be objects")
    survey = {k: _score(seeker_scores.get(k), f"survey_score.seeker.{k}") for k in SURVEY_FIELDS}
    return Dialog(
        dialog_id=dialog_id_for(turns),
        source=source,
        source_index=index,
        experience_type=_string(obj, "experience_type", "", required=False),
        emotion_type=texts["emotion_type"],
        problem_type=texts["problem_type"],
        situation=texts["situation"],
        survey=survey,
        supporter_relevance=_score(supporter_scores.get("relevance"), "survey_score.supporter.relevance"),
        turns=turns,
    )


def read_dialogs(path: str | os.PathLike) -> tuple[list[Dialog], list[tuple[RawRecord, str]]]:
    """Read every file under `path` outside Beam: (valid dialogs, [(record, reject reason)]).

    Duplicates (same content hash) after the first occurrence are rejected.
    """
    dialogs: list[Dialog] = []
    rejects: list[tuple[RawRecord, str]] = []
    seen: dict[str, str] = {}
    for file in list_input_files(Path(path)):
        for rec in iter_raw_records(file):
            try:
                d = normalise_dialog(parse_raw(rec), rec.source, rec.index)
            except InvalidDialog as exc:
                rejects.append((rec, str(exc)))
                continue
            if d.dialog_id in seen:
                rejects.append((rec, f"duplicate of {seen[d.dialog_id]} ({d.dialog_id})"))
                continue
            seen[d.dialog_id] = f"{rec.source}#{rec.index}"
            dialogs.append(d)
    return dialogs, rejects
