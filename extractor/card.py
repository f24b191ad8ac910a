"""Markdown model-card sections: commands that measure something write their own section of the card."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from common.cli import InputError


def card_section(card: str, title: str) -> str:
    """The body of a '## title' section of a Markdown card ('' when absent)."""
    _, sep, rest = card.partition(f"## {title}\n")
    if not sep:
        return ""
    nxt = rest.find("\n## ")
    return (rest[:nxt] if nxt >= 0 else rest).strip("\n")


def replace_section(card: str, title: str, body: str) -> str:
    head, sep, rest = card.partition(f"## {title}\n")
    if not sep:
        return card.rstrip("\n") + f"\n\n## {title}\n\n{body}\n"
    nxt = rest.find("\n## ")
    tail = rest[nxt + 1:] if nxt >= 0 else ""
    return head + f"## {title}\n\n{body}\n" + ("\n" + tail if tail else "")


def write_card_section(path: str | Path, title: str, body: str) -> None:
    """Replace (or append) the '## title' section of the Markdown card at `path`; a missing card is a user error."""
    card = Path(path)
    if not card.exists():
        raise InputError(f"model card {card} does not exist")
    card.write_text(replace_section(card.read_text(encoding="utf-8"), title, body), encoding="utf-8")


def report_section(body: str, card: str | Path | None, title: str, command: str | None = None) -> None:
    """Print a measured section, and write it into the model card when one is given. `command` (the one that
    measured it) ends the section as a code block, with `--model-card` when a card is written, so the card says
    how to reproduce every number in it."""
    import sys

    if command:
        body += f"\n\n```\n{command}" + (f" --model-card {card}" if card else "") + "\n```"
    print(body)
    if card:
        write_card_section(card, title, body)
        print(f"updated {card}", file=sys.stderr)


def wilson(hits: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of a hand-audit share (small samples: the normal interval would leave [0, 1])."""
    from scipy.stats import binomtest

    return tuple(binomtest(hits, n).proportion_ci(method="wilson")) if n else (float("nan"), float("nan"))


def lowest_threshold(scored: Iterable[tuple[float, bool]], precision: float, digits: int | None = None) -> float:
    """The lowest score at which at least `precision` of what scores that high is right (1.0, taking nothing, if
    none is): how a judge's or a ranker's threshold is chosen on data it never trained on. `digits` rounds the
    candidate thresholds (a stored card's)."""
    scored = list(scored)
    for t in sorted({p if digits is None else round(p, digits) for p, _ in scored}):
        chosen = [ok for p, ok in scored if p >= t]
        if chosen and sum(chosen) / len(chosen) >= precision:
            return t
    return 1.0


def read_labelled(path: str | Path, labels: tuple[str, ...]) -> list[dict]:
    """The rows of a hand-labelled audit TSV (`--draw` writes them unlabelled); a missing file or a label
    outside `labels` is a user error, said in one line."""
    import csv

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist (draw one with --draw FILE and label it)")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    bad = [r for r in rows if r.get("label") not in labels]
    if bad:
        raise InputError(f"{path}: label must be one of {', '.join(labels)}, got {bad[0].get('label')!r}")
    return rows
