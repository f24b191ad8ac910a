"""PESConv shards -> one example per supporter turn -> token ids, with `datasets.map` (cached).

An example is what a response model sees at a supporter turn: the history before it, the persona visible at that
turn (its `persona` field), the gold strategy and response. The build's Parquet shards are the only input.
Tokenisation depends on the family (`seq2seq`: Blenderbot/BART, PAL; `causal`: decoder-only) and the variant:

| variant | input_ids | input_ids_nop (no-persona pass of Eq. 6) | persona_ids |
|---|---|---|---|
| joint | history | history | [] |
| hard-prompt | "Persona: p \\n Dialogue history: h \\n Response:" | same prompt, empty persona | [] |
| pal, pal-alpha0 (seq2seq) | history | history | persona sentences |
| pal, pal-alpha0 (causal) | the hard prompt | same prompt, empty persona | [] |

Labels are `[strategy token] + response + [eos]`, and previous supporter turns carry their strategy token too.
The history is cut from the left to `max_source_len` less the template, the persona from the right to
`max_persona_len`, the response from the right; the persona never shortens the history.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from common.cli import InputError
from modeling.strategies import TOKEN_OF
from schemas.pesconv import repeats_previous

VARIANTS = ("pal", "pal-alpha0", "hard-prompt", "joint")
EXAMPLE_COLUMNS = ("dialog_id", "turn", "history", "history_speakers", "history_strategies", "persona",
                   "strategy", "response")


@dataclass(frozen=True)
class TokenSettings:
    max_source_len: int = 160  # ESConv/PAL code: 160 input tokens
    max_persona_len: int = 128
    max_target_len: int = 40  # ESConv/PAL code: 40 decoder tokens (strategy + response + eos)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _explode(batch: dict[str, list], skip_repeats: bool = False) -> dict[str, list]:
    """Batched map: dialogs -> supporter-turn examples (less those repeating the turn before, with `skip_repeats`)."""
    out: dict[str, list] = {c: [] for c in EXAMPLE_COLUMNS}
    for dialog_id, dialog in zip(batch["dialog_id"], batch["dialog"]):
        for i, turn in enumerate(dialog):
            if turn["speaker"] != "supporter" or i == 0 or not turn["strategy"]:
                continue  # PAL/ESConv skip a supporter opening with no history
            if skip_repeats and repeats_previous(turn["text"], turn["speaker"], dialog[i - 1]["text"],
                                                 dialog[i - 1]["speaker"]):
                continue
            prev = dialog[:i]
            out["dialog_id"].append(dialog_id)
            out["turn"].append(i)
            out["history"].append([t["text"] for t in prev])
            out["history_speakers"].append([t["speaker"] for t in prev])
            out["history_strategies"].append([t["strategy"] or "" for t in prev])
            out["persona"].append(list(turn["persona"] or []))
            out["strategy"].append(turn["strategy"])
            out["response"].append(turn["text"])
    return out


def check_build(build: str | Path) -> Path:
    """The build folder, or a one-line InputError when it is not one (checked before any model loads)."""
    build = Path(build)
    if not (build / "data").is_dir():
        raise InputError(f"{build} is not a PESConv build folder (no data/ inside); run python -m pipelines.build_pesconv")
    return build


def load_examples(build: str | Path, split: str, max_examples: int | None = None, seed: int = 0,
                  skip_repeats: bool = False):
    """The supporter-turn examples of one split of a build (a `datasets.Dataset`).

    `max_examples` keeps a seeded random sample (spread over all dialogs), for quick runs. `skip_repeats`
    leaves out a response that repeats the turn before it word for word (`schemas.pesconv.repeats_previous`).
    Without the `datasets` package (e.g. a bare GPU worker) the shards are read with pyarrow into
    a small in-memory stand-in with the same methods and the same seeded sample.
    """
    build = check_build(build)
    try:
        import datasets
    except ImportError:
        datasets = None
    if datasets is None:
        dialogs = RowsDataset.from_parquet(build, split)
    else:
        try:
            dialogs = datasets.load_dataset(str(build), split=split)
        except (ValueError, KeyError, FileNotFoundError) as exc:
            raise InputError(f"cannot load split {split!r} of {build}: {str(exc).splitlines()[0]}") from None
    examples = dialogs.map(_explode, batched=True, remove_columns=dialogs.column_names,
                           fn_kwargs={"skip_repeats": skip_repeats}, desc=f"{split}: supporter turns")
    if max_examples is not None and max_examples < len(examples):
        examples = examples.shuffle(seed=seed).select(range(max_examples))
    return examples


class RowsDataset:
    """The few `datasets.Dataset` methods used here, over a list of dicts (no caching)."""

    def __init__(self, rows: list[dict], fingerprint: str = "rows"):
        self.rows, self._fingerprint = rows, fingerprint

    @classmethod
    def from_parquet(cls, build: Path, split: str) -> "RowsDataset":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError("reading the shards needs `datasets` or `pyarrow`: pip install datasets") from None
        files = sorted((build / "data").glob(f"{split}-*.parquet"))
        if not files:
            raise InputError(f"no {split}-*.parquet shards in {build / 'data'}")
        rows = [r for f in files for r in pq.read_table(f).to_pylist()]
        return cls(rows, f"{build}:{split}:{len(rows)}")

    @property
    def column_names(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int | str) -> dict | list:
        """A row by index, or a whole column by name (as `datasets.Dataset` does)."""
        return [r[i] for r in self.rows] if isinstance(i, str) else self.rows[i]

    def map(self, fn, batched: bool = False, remove_columns=None, desc=None, fn_kwargs=None, **_):
        kwargs = fn_kwargs or {}
        if batched:
            batch = {c: [r[c] for r in self.rows] for c in self.column_names}
            out = fn(batch, **kwargs)
            n = len(next(iter(out.values()))) if out else 0
            return RowsDataset([{k: v[i] for k, v in out.items()} for i in range(n)], self._fingerprint + "+b")
        return RowsDataset([{**r, **fn(r, **kwargs)} for r in self.rows], self._fingerprint + "+m")

    def shuffle(self, seed: int = 0) -> "RowsDataset":
        import numpy as np

        order = np.random.default_rng(seed).permutation(len(self.rows))  # the permutation `datasets` uses
        return RowsDataset([self.rows[i] for i in order], f"{self._fingerprint}+s{seed}")

    def select(self, indices) -> "RowsDataset":
        return RowsDataset([self.rows[i] for i in indices], self._fingerprint + "+sel")

    def select_columns(self, columns: list[str]) -> "RowsDataset":
        return RowsDataset([{c: r[c] for c in columns} for r in self.rows], self._fingerprint)


# ---------------------------------------------------------------------------------------- tokenising

def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def _history_ids(tokenizer, ex: dict, family: str, sep: list[int]) -> list[list[int]]:
    pieces = []
    for text, speaker, strategy in zip(ex["history"], ex["history_speakers"], ex["history_strategies"]):
        strat = TOKEN_OF.get(strategy) if speaker == "supporter" else None
        if family == "causal":
            who = "Supporter" if speaker == "supporter" else "Seeker"
            piece = _ids(tokenizer, f"{who}: ") + (tokenizer.convert_tokens_to_ids([strat]) if strat else []) \
                + _ids(tokenizer, f" {text}\n" if strat else f"{text}\n")
        else:
            piece = (tokenizer.convert_tokens_to_ids([strat]) if strat else []) + _ids(tokenizer, text) + sep
        pieces.append(piece)
    return pieces


def _left_truncate(pieces: list[list[int]], budget: int) -> list[int]:
    flat = [t for p in pieces for t in p]
    return flat[-budget:] if budget > 0 else []


def make_tokenize_fn(tokenizer, family: str, variant: str, settings: TokenSettings):
    """The per-example function given to `datasets.map` (a closure over plain values + the tokenizer)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r} (choose {', '.join(VARIANTS)})")
    eos = tokenizer.eos_token_id
    sep = [eos]
    prompt_style = variant == "hard-prompt" or (family == "causal" and variant in ("pal", "pal-alpha0"))
    separate_persona = family == "seq2seq" and variant in ("pal", "pal-alpha0")
    s = settings

    def persona_text(persona: list[str]) -> str:
        return " ".join(p.strip() for p in persona)

    def prompt(persona: list[str] | None, hist_pieces: list[list[int]]) -> list[int]:
        """The persona never takes tokens from the history: the history keeps `max_source_len` minus the
        template's own tokens whatever the persona, and the persona (up to `max_persona_len`) comes on top,
        so the with-persona and no-persona inputs of Eq. 6 differ only by the persona tokens."""
        tail = _ids(tokenizer, "\nResponse:" if family == "causal" else "response:")
        if persona is None:  # joint: history only
            head = _ids(tokenizer, "Dialogue history:\n") if family == "causal" else []
            tail = tail if family == "causal" else []
            p_ids: list[int] = []
        else:
            p_ids = _ids(tokenizer, persona_text(persona))[: s.max_persona_len]
            head = _ids(tokenizer, "Persona: ") + p_ids + _ids(tokenizer, "\nDialogue history:\n")
        history_budget = s.max_source_len - (len(head) - len(p_ids)) - len(tail)
        return head + _left_truncate(hist_pieces, history_budget) + tail

    def fn(ex: dict[str, Any]) -> dict[str, list[int]]:
        pieces = _history_ids(tokenizer, ex, family, sep)
        if prompt_style:
            input_ids, input_nop = prompt(ex["persona"], pieces), prompt([], pieces)
        else:
            input_ids = prompt(None, pieces)
            input_nop = input_ids
        persona_ids: list[int] = []
        if separate_persona:
            for sent in ex["persona"]:
                persona_ids += _ids(tokenizer, sent.strip()) + sep
            persona_ids = persona_ids[: s.max_persona_len]
        strat = tokenizer.convert_tokens_to_ids([TOKEN_OF[ex["strategy"]]])
        resp = _ids(tokenizer, (" " if family == "causal" else "") + ex["response"].strip())
        labels = strat + resp[: s.max_target_len - 2] + [eos]
        return {"input_ids": input_ids, "input_ids_nop": input_nop, "persona_ids": persona_ids, "labels": labels}

    return fn


def tokenize_examples(examples, tokenizer, family: str, variant: str, settings: TokenSettings):
    """Add input_ids / input_ids_nop / persona_ids / labels with `datasets.map` (cached by fingerprint)."""
    import hashlib
    import json

    fn = make_tokenize_fn(tokenizer, family, variant, settings)
    # Tokenizers do not hash deterministically, so the cache key is explicit: the examples' own
    # fingerprint, the tokenizer's vocabulary, the options and this file's code.
    key = json.dumps([examples._fingerprint, tokenizer.name_or_path, sorted(tokenizer.get_vocab().items()),
                      family, variant, settings.as_dict(), Path(__file__).read_text()])
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:32]
    return examples.map(fn, desc=f"tokenising ({family}, {variant})", new_fingerprint=fingerprint)


# ---------------------------------------------------------------------------------------- batching

def _pad(seqs: list[list[int]], value: int, left: bool = False, min_len: int = 1) -> torch.Tensor:
    n = max(min_len, max((len(x) for x in seqs), default=0))
    rows = [([value] * (n - len(x)) + list(x)) if left else (list(x) + [value] * (n - len(x))) for x in seqs]
    return torch.tensor(rows, dtype=torch.long)


def collate_seq2seq(rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded encoder inputs, persona, and labels (-100 on padding)."""
    out = {}
    for key in ("input_ids", "input_ids_nop", "persona_ids"):
        ids = _pad([r[key] for r in rows], pad_id)
        out[key] = ids
        out[key.replace("ids", "mask")] = (_pad([[1] * len(r[key]) for r in rows], 0)).bool()
    out["labels"] = _pad([r["labels"] for r in rows], -100)
    return out


def collate_causal_train(rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """prompt + target, LEFT-padded so that every target ends at the last position (the LM head then
    runs on the last `keep` positions only); labels are -100 on the prompt and on padding."""
    seqs = [list(r["input_ids"]) + list(r["labels"]) for r in rows]
    labels = [[-100] * len(r["input_ids"]) + list(r["labels"]) for r in rows]
    mask = _pad([[1] * len(s) for s in seqs], 0, left=True)
    return {"input_ids": _pad(seqs, pad_id, left=True), "attention_mask": mask,
            "position_ids": (mask.cumsum(-1) - 1).clamp(min=0), "labels": _pad(labels, -100, left=True),
            "keep": torch.tensor(max(len(r["labels"]) for r in rows) + 1)}


def collate_causal_prompts(rows: list[dict], pad_id: int, key: str = "input_ids") -> dict[str, torch.Tensor]:
    """Left-padded prompts (for scoring and generation)."""
    return {"input_ids": _pad([r[key] for r in rows], pad_id, left=True),
            "attention_mask": _pad([[1] * len(r[key]) for r in rows], 0, left=True)}
