"""What did a change to the check do to the data? Two builds' whole-dialog persona sentences, side by side.

    python -m research.compare_builds outputs/pesconv-before outputs/pesconv --output outputs/build_diff.tsv

Each persona sentence of the first build that the second does not keep, at the same dialog and evidence turn, is
`changed` when the second keeps another sentence from that turn that the first did not (listed beside it), else
`removed`; a sentence only the second keeps, at a turn where nothing was removed, is `added`. The TSV gives, for
each, the evidence turn's text, so every change can be read by hand before a new check is trusted (an answer-word
rule, for one, lost "I'm okay, just a little stressed" that way).
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from common.cli import InputError, command_parser, run_cli
from research.persona_audit import kept_sentences

COLUMNS = ("kind", "dialog_id", "turn", "before", "after", "utterance")


Kept = list[tuple[str, int, str, str]]  # (dialog id, evidence turn, sentence, evidence text): `kept_sentences`


def compare(old: Kept, new: Kept) -> list[dict[str, str]]:
    """The rows of the diff (see the module docstring), in the first build's shard order, added rows last."""
    old_keys = {(d, t, s) for d, t, s, _ in old}
    new_keys = {(d, t, s) for d, t, s, _ in new}
    if old and new and not old_keys & new_keys:
        raise InputError("the two builds share no persona sentence: are they builds of the same corpus?")
    only_new: dict[tuple[str, int], list[str]] = defaultdict(list)
    texts = {}
    for d, t, s, text in new:
        texts[d, t] = text
        if (d, t, s) not in old_keys:
            only_new[d, t].append(s)
    rows, touched = [], set()
    for d, t, s, text in old:
        if (d, t, s) in new_keys:
            continue
        after_text = " | ".join(only_new.get((d, t), []))
        rows.append({"kind": "changed" if after_text else "removed", "dialog_id": d, "turn": str(t), "before": s,
                     "after": after_text, "utterance": text})
        touched.add((d, t))
    rows += [{"kind": "added", "dialog_id": d, "turn": str(t), "before": "", "after": s, "utterance": texts[d, t]}
             for (d, t), sentences in only_new.items() if (d, t) not in touched for s in sentences]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = command_parser("python -m research.compare_builds", __doc__)
    p.add_argument("before", help="the build folder before the change")
    p.add_argument("after", help="the build folder after the change")
    p.add_argument("--output", default="outputs/build_diff.tsv", help="the TSV of every change (default: %(default)s)")
    args = p.parse_args(argv)
    old, new = kept_sentences(Path(args.before)), kept_sentences(Path(args.after))
    rows = compare(old, new)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    counts = ", ".join(f"{sum(r['kind'] == k for r in rows)} {k}" for k in ("removed", "changed", "added"))
    print(f"{len(old)} persona sentences before, {len(new)} after: {counts}. Wrote {out}.")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
