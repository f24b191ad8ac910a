"""PERSONA-CHAT readers for the persona extractor: (utterances, persona sentences) pairs.

Three sources, one output type (`PersonaPair`):
- raw ParlAI ``*_both_original.txt`` (numbered lines; ``your persona:`` / ``partner's persona:``
  lines, then ``N partner-utterance<TAB>own-utterance<TAB><TAB>candidates``); each dialog gives
  two pairs, one per speaker side;
- the CSV form (columns ``,context,persona``): ``context`` = utterances joined by `` <sep> ``
  ending `` </s>``, ``persona`` = sentences joined by `` <persona> `` ending `` </s>``;
- a Hugging Face Hub dataset (name or ``name:split``) with the same ``context``/``persona``
  columns (strings in CSV form or lists of strings).

A malformed row raises `InputError` naming the file and row, so the user can fix the data.
"""
from __future__ import annotations

import csv
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from schemas.esconv import InputError

EOS_MARK = "</s>"
_SILENCE = "__SILENCE__"
_LINE = re.compile(r"^(\d+) (.*)$")


@dataclass(frozen=True)
class PersonaPair:
    """One speaker side: what they said and their gold persona sentences."""

    utterances: tuple[str, ...]
    persona: tuple[str, ...]
    source: str = ""  # "file:row" for error messages and provenance


def _split_marked(text: str, sep: str) -> list[str]:
    text = text.strip()
    if text.endswith(EOS_MARK):
        text = text[: -len(EOS_MARK)]
    return [p.strip() for p in text.split(sep) if p.strip()]


def pair_from_fields(context: Any, persona: Any, where: str) -> PersonaPair:
    """Validate one row (CSV-form strings or lists of strings) into a pair."""
    def as_list(value: Any, sep: str, column: str) -> list[str]:
        if isinstance(value, str):
            return _split_marked(value, sep)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return [v.strip() for v in value if v.strip()]
        raise InputError(f"{where}: column {column!r} must be text or a list of texts, got {type(value).__name__}")

    if context is None or persona is None:
        raise InputError(f"{where}: missing 'context' or 'persona' value")
    utts = as_list(context, "<sep>", "context")
    sents = as_list(persona, "<persona>", "persona")
    if not utts:
        raise InputError(f"{where}: empty 'context' (no utterances)")
    if not sents:
        raise InputError(f"{where}: empty 'persona' (no persona sentences)")
    return PersonaPair(tuple(utts), tuple(sents), where)


def read_csv(path: Path) -> list[PersonaPair]:
    pairs = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"context", "persona"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{path}: not a PERSONA-CHAT CSV: missing column(s) {', '.join(sorted(missing))} "
                             f"(expected ',context,persona')")
        for i, row in enumerate(reader, start=2):  # row 1 is the header
            if None in row:
                raise InputError(f"{path}:{i}: too many fields (unquoted comma?)")
            pairs.append(pair_from_fields(row.get("context"), row.get("persona"), f"{path}:{i}"))
    return pairs


def read_parlai(path: Path) -> list[PersonaPair]:
    """Both speaker sides of every dialog in a ParlAI ``*_both_original.txt`` file."""
    pairs: list[PersonaPair] = []
    state: dict[str, Any] | None = None

    def flush() -> None:
        if state is None:
            return
        for side in ("your", "partner"):
            utts, pers = state[f"{side}_utts"], state[f"{side}_persona"]
            where = f"{path}:{state['line']} ({side} side)"
            if utts and pers:
                pairs.append(PersonaPair(tuple(utts), tuple(pers), where))
            elif not pers:
                raise InputError(f"{where}: dialog has no \"{side} persona:\" lines")

    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            m = _LINE.match(line)
            if not m:
                raise InputError(f"{path}:{lineno}: expected a line starting with its number, got {line[:60]!r}")
            num, text = int(m.group(1)), m.group(2)
            if num == 1:
                flush()
                state = {"line": lineno, "your_utts": [], "partner_utts": [], "your_persona": [],
                         "partner_persona": [], "talking": False}
            elif state is None:
                raise InputError(f"{path}:{lineno}: dialog does not start with line number 1")
            if text.startswith("your persona:") or text.startswith("partner's persona:"):
                if state["talking"]:
                    raise InputError(f"{path}:{lineno}: persona line after the dialog started")
                side = "your" if text.startswith("your") else "partner"
                state[f"{side}_persona"].append(text.split(":", 1)[1].strip())
                continue
            fields = text.split("\t")
            if len(fields) < 2:
                raise InputError(f"{path}:{lineno}: utterance line needs 'partner<TAB>own' texts")
            state["talking"] = True
            partner, own = fields[0].strip(), fields[1].strip()
            if partner and partner != _SILENCE:
                state["partner_utts"].append(partner)
            if own:
                state["your_utts"].append(own)
    flush()
    return pairs


def read_hub(name: str) -> list[PersonaPair]:
    from datasets import load_dataset

    dataset, _, split = name.partition(":")
    try:
        ds = load_dataset(dataset, split=split or "validation")
    except Exception as exc:  # noqa: BLE001 - network, missing dataset, missing split...
        raise InputError(f"cannot load Hub dataset {name!r}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    missing = {"context", "persona"} - set(ds.column_names)
    if missing:
        raise InputError(f"Hub dataset {name!r} lacks column(s) {', '.join(sorted(missing))}")
    return [pair_from_fields(r["context"], r["persona"], f"{name}[{i}]") for i, r in enumerate(ds)]


def read_pairs(source: str | Path, limit: int | None = None) -> list[PersonaPair]:
    """Pairs from a ParlAI .txt, a CSV file, or a Hub dataset name (``owner/name[:split]``)."""
    path = Path(source)
    if path.is_file():
        if path.suffix == ".csv":
            pairs = read_csv(path)
        elif path.suffix == ".txt":
            pairs = read_parlai(path)
        else:
            raise InputError(f"{path}: unknown PERSONA-CHAT format (expected .csv or ParlAI *_both_original.txt)")
    elif path.exists():
        raise InputError(f"{path} is a folder; give the .csv or *_both_original.txt file")
    elif str(source).endswith((".csv", ".txt", ".json")) or str(source).startswith((".", "/")):
        raise InputError(f"data file {source} does not exist")
    else:
        pairs = read_hub(str(source))
    if not pairs:
        raise InputError(f"{source}: no (utterances, persona) pairs found")
    return pairs[:limit] if limit else pairs


def split_heldout(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split of row indices into (kept, held_out); the same (n, fraction, seed) -> the same split."""
    if not 0 <= fraction < 1:
        raise InputError(f"held-out fraction must be in [0, 1), got {fraction}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = math.ceil(n * fraction) if fraction > 0 else 0
    return sorted(order[k:]), sorted(order[:k])


def subset(pairs: Sequence[PersonaPair], idx: Sequence[int]) -> list[PersonaPair]:
    return [pairs[i] for i in idx]


def iter_csv_rows(pairs: Sequence[PersonaPair]) -> Iterator[tuple[str, str]]:
    """Pairs back in the CSV form (for writing held-out files)."""
    for p in pairs:
        yield (" <sep> ".join(p.utterances) + " </s>", " <persona> ".join(p.persona) + " </s>")
