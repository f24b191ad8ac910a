"""PERSONA-CHAT / Synthetic-Persona-Chat readers for the persona extractor: (utterances, persona) pairs.

Four sources, one output type (`PersonaPair`: one speaker side of a conversation):
- raw ParlAI ``*_both_original.txt`` (numbered lines; ``your persona:`` / ``partner's persona:``
  lines, then ``N partner-utterance<TAB>own-utterance<TAB><TAB>candidates``); each dialog gives
  two pairs, one per speaker side;
- the CSV form (columns ``,context,persona``): ``context`` = utterances joined by `` <sep> ``
  ending `` </s>``, ``persona`` = sentences joined by `` <persona> `` ending `` </s>`` (the partner's
  words are not in this form, so `partner` is empty);
- the Synthetic-Persona-Chat CSV (columns ``user 1 personas``, ``user 2 personas`` with one sentence
  per line, ``Best Generated Conversation`` with lines ``User 1: ...`` / ``User 2: ...``, or unmarked
  turns alternating between blank lines); each conversation gives two pairs, with the partner's message
  before every utterance; one whose speakers cannot be told apart is skipped and logged;
- a Hugging Face Hub dataset (name or ``name:split``) with the same ``context``/``persona``
  columns (strings in CSV form or lists of strings).

A malformed row raises `InputError` naming the file and row, so the user can fix the data.
`read_csv` tells the two CSV forms apart by their columns.
"""
from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from common.cli import InputError

log = logging.getLogger(__name__)
EOS_MARK = "</s>"
_SILENCE = "__SILENCE__"
_LINE = re.compile(r"^(\d+) (.*)$")


@dataclass(frozen=True)
class PersonaPair:
    """One speaker side: what they said and their gold persona sentences."""

    utterances: tuple[str, ...]
    persona: tuple[str, ...]
    source: str = ""  # "file:row" for error messages and provenance
    partner: tuple[str, ...] = ()  # the partner's message before each utterance ("" if none); () if unknown

    def context_of(self, i: int) -> str:
        """The partner's message before utterance `i` ("" when the source does not have it)."""
        return self.partner[i] if i < len(self.partner) else ""


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


SYNTHETIC_COLUMNS = ("user 1 personas", "user 2 personas", "Best Generated Conversation")
_SYNTHETIC_TURN = re.compile(r"^[\s*]*User\s*([12])\s*:[\s*]*(.*?)[\s*]*$")
_SYNTHETIC_MARKER = re.compile(r"User\s*[12]\s*:")


def read_csv(path: Path) -> list[PersonaPair]:
    """Either CSV form, told apart by its columns."""
    with open(path, encoding="utf-8", newline="") as f:
        columns = set(csv.DictReader(f).fieldnames or [])
    if set(SYNTHETIC_COLUMNS) <= columns:
        return read_synthetic_csv(path)
    if {"context", "persona"} <= columns:
        return read_personachat_csv(path)
    raise InputError(f"{path}: unknown CSV form: expected the PERSONA-CHAT columns ',context,persona' or the "
                     f"Synthetic-Persona-Chat columns {', '.join(repr(c) for c in SYNTHETIC_COLUMNS)}")


def _conversation_turns(text: str, where: str) -> list[tuple[str, str]] | None:
    """(speaker '1'/'2', text) turns; a line without a 'User N:' prefix continues the previous turn.

    With no 'User N:' line at all, blank-line-separated blocks are read as alternating turns
    (User 1 first), as in a few conversations of the release; None when that is ambiguous
    (fewer than 2 blocks, or a marker inside a line), for the caller to skip and count.
    """
    turns: list[list[str]] = []
    skipped = 0
    for line in text.splitlines():
        if not re.search(r"\w", line):  # blank lines and markdown rules ("* * *")
            continue
        m = _SYNTHETIC_TURN.match(line)
        if m:
            turns.append([m.group(1), m.group(2).strip()])
        elif turns:
            turns[-1][1] = f"{turns[-1][1]} {line.strip().strip('*').strip()}".strip()
        else:
            skipped += 1
    if not turns:
        return _unmarked_turns(text)
    if skipped:  # nobody can be told to have said these: say so rather than guess
        log.warning("%s: %d line(s) before the first 'User 1:' / 'User 2:' line skipped", where, skipped)
    return [(who, t) for who, t in turns if t]


def _unmarked_turns(text: str) -> list[tuple[str, str]] | None:
    """Alternating turns from blank-line-separated blocks; None unless there are 2+ blocks and no marker."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if not re.search(r"\w", line):  # blank lines and markdown rules end a block
            blocks.append([])
        else:
            blocks[-1].append(line.strip().strip("*").strip())
    texts = [" ".join(b) for b in blocks if b]
    if len(texts) < 2 or any(_SYNTHETIC_MARKER.search(t) for t in texts):
        return None
    return [("12"[i % 2], t) for i, t in enumerate(texts)]


# read_synthetic_csv's file (as given) -> row numbers of the conversations it skipped, from its last read
skipped_rows: dict[str, list[int]] = {}


def read_synthetic_csv(path: Path) -> list[PersonaPair]:
    """Both speaker sides of every Synthetic-Persona-Chat conversation, with the partner's message.

    A conversation whose speakers cannot be told apart is skipped, logged and recorded in
    `skipped_rows`, rather than aborting the whole file.
    """
    pairs = []
    skipped: list[int] = []
    with open(path, encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            where = f"{path}:{i}"
            if any(not isinstance(row.get(c), str) for c in SYNTHETIC_COLUMNS):
                raise InputError(f"{where}: missing value in one of the columns {', '.join(SYNTHETIC_COLUMNS)}")
            turns = _conversation_turns(row["Best Generated Conversation"], where)
            if turns is None:
                skipped.append(i)
                continue
            for who in ("1", "2"):
                persona = [s.strip() for s in row[f"user {who} personas"].splitlines() if s.strip()]
                utts, partner, last_other = [], [], ""
                for speaker, text in turns:
                    if speaker == who:
                        utts.append(text)
                        partner.append(last_other)
                    else:
                        last_other = text
                if not persona:
                    raise InputError(f"{where}: empty 'user {who} personas'")
                if not utts:
                    raise InputError(f"{where}: User {who} says nothing in the conversation")
                pairs.append(PersonaPair(tuple(utts), tuple(persona), f"{where} (user {who})", tuple(partner)))
    skipped_rows[str(path)] = skipped
    if skipped:
        log.warning("%s: %d conversation(s) without 'User 1:' / 'User 2:' lines and no clear alternating turns "
                    "skipped (rows %s)", path, len(skipped), ", ".join(map(str, skipped)))
    return pairs


def read_personachat_csv(path: Path) -> list[PersonaPair]:
    pairs = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
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
                pairs.append(PersonaPair(tuple(utts), tuple(pers), where, tuple(state[f"{side}_before"])))
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
                         "partner_persona": [], "your_before": [], "partner_before": [], "talking": False}
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
                state["partner_before"].append(state["your_utts"][-1] if state["your_utts"] else "")
            if own:
                state["your_utts"].append(own)
                state["your_before"].append(partner if partner != _SILENCE else "")
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
    """Pairs from a ParlAI .txt, either CSV form, or a Hub dataset name (``owner/name[:split]``)."""
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


def read_sources(sources: Sequence[str | Path], limit: int | None = None) -> tuple[list[PersonaPair], list[int]]:
    """Pairs of several sources concatenated in order, and how many came from each."""
    pairs: list[PersonaPair] = []
    counts = []
    for source in sources:
        part = read_pairs(source, limit)
        pairs += part
        counts.append(len(part))
    return pairs, counts


def subset(pairs: Sequence[PersonaPair], idx: Sequence[int]) -> list[PersonaPair]:
    return [pairs[i] for i in idx]


def iter_csv_rows(pairs: Sequence[PersonaPair]) -> Iterator[tuple[str, str]]:
    """Pairs back in the CSV form (for writing held-out files)."""
    for p in pairs:
        yield (" <sep> ".join(p.utterances) + " </s>", " <persona> ".join(p.persona) + " </s>")
