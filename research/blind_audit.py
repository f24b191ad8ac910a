"""A blind audit of persona sentences: systems mixed, shuffled and unnamed, then scored per system.

`--draw`: a seeded sample of whole-dialog persona sentences from each build given (`--builds DIR ...` with
`--names`), the same number from each, shuffled together and written to a TSV that holds only what a labeller
needs: the supporter's message, the seeker's turn the sentence cites as evidence, and the sentence. Which system
wrote which item goes to a separate key file (`TSV.key.json`) that the labeller never sees.
With `--changed`, only the sentences a build holds and no other build given holds in the same dialog: what a change to
the check kept and what it took away, audited against each other.
Without `--draw`: the labelled TSV and its key -> per system, the share of each label with 95 % Wilson intervals.

Labels (one per item):
- `faithful`: the seeker's turn states or clearly implies this about the seeker, and it is a fact about them;
- `unfaithful`: it says something the turn does not (a detail added, negation / subject / tense / number
  changed, someone else's fact or words made the seeker's);
- `not_a_fact`: the seeker did say it, but it is not a fact about the seeker's life (a remark to the supporter,
  thanks, agreement, a pleasantry, a question);
- `needs_question`: a fragment that only makes sense with the supporter's question ("I would like to do that").

`--whole-dialog` shows the labeller every turn before the evidence turn (not only the supporter's message): for
sentences that name a person the dialog named earlier ("My husband ..." from "he ...").

    python -m research.blind_audit --draw outputs/audit/blind.tsv --builds outputs/pesconv outputs/pesconv-rule \\
        --names default rule --sample 100 --seed 31 [--splits valid test] [--changed]
    python -m research.blind_audit --labels outputs/audit/blind.tsv
"""
from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

from common.cli import InputError, command_parser, quiet_libraries, run_cli
from extractor.card import wilson
from research.persona_audit import build_rows

LABELS = ("faithful", "unfaithful", "not_a_fact", "needs_question")
COLUMNS = ("item", "supporter_before", "seeker_turn", "sentence", "label", "note")


def persona_items(build: Path, splits: tuple[str, ...] = (), whole_dialog: bool = False) -> list[dict]:
    """Every whole-dialog persona sentence of a build (of dialogs in `splits`, when given), with its evidence turn and
    the supporter's message before (with `whole_dialog`, every turn before it, numbered and by speaker)."""
    out = []
    for rec in build_rows(build, ("dialog_id", "split", "dialog", "persona", "persona_evidence")):
        if splits and rec["split"] not in splits:
            continue
        for sentence, turn in zip(rec["persona"], rec["persona_evidence"]):
            before = next((rec["dialog"][t]["text"] for t in range(turn - 1, -1, -1)
                           if rec["dialog"][t]["speaker"] == "supporter"), "")
            if whole_dialog:
                before = " || ".join(f"[{i}] {t['speaker'].upper()}: {t['text']}"
                                     for i, t in enumerate(rec["dialog"][:turn]))
            out.append({"dialog_id": rec["dialog_id"], "turn": turn, "sentence": sentence,
                        "supporter_before": " ".join(before.split()),
                        "seeker_turn": " ".join(rec["dialog"][turn]["text"].split())})
    return out


def draw(builds: list[Path], names: list[str], n: int, seed: int, path: Path, splits: tuple[str, ...] = (),
         changed: bool = False, whole_dialog: bool = False) -> int:
    rng = random.Random(seed)
    per = n // len(builds)
    items_of = [persona_items(build, splits, whole_dialog) for build in builds]
    if changed:  # a sentence of one build that no other build holds in the same dialog
        held = [{(x["dialog_id"], x["sentence"]) for x in items} for items in items_of]
        items_of = [[x for x in items if not any((x["dialog_id"], x["sentence"]) in h
                                                 for j, h in enumerate(held) if j != k)]
                    for k, items in enumerate(items_of)]
    picked = []
    for items, name in zip(items_of, names):
        picked += [{**x, "system": name} for x in rng.sample(items, min(per, len(items)))]
    rng.shuffle(picked)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(COLUMNS)
        out.writerows([i, x["supporter_before"], x["seeker_turn"], x["sentence"], "", ""] for i, x in enumerate(picked))
    key = {str(i): {"system": x["system"], "dialog_id": x["dialog_id"], "turn": x["turn"]} for i, x in enumerate(picked)}
    Path(f"{path}.key.json").write_text(json.dumps({"seed": seed, "splits": list(splits), "changed": changed,
                                                    "whole_dialog": whole_dialog,
                                                    "builds": [str(b) for b in builds],
                                                    "names": names, "items": key}, indent=1) + "\n")
    return len(picked)


def score(path: Path) -> str:
    key_file = Path(f"{path}.key.json")
    if not key_file.exists():
        raise InputError(f"{key_file} not found: the key written by --draw beside the TSV")
    key = json.loads(key_file.read_text())["items"]
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    bad = [r["item"] for r in rows if r["label"] not in LABELS]
    if bad:
        raise InputError(f"{path}: items {', '.join(bad[:5])} have no label among {', '.join(LABELS)}")
    systems = sorted({key[r["item"]]["system"] for r in rows})
    lines = ["| system | items | " + " | ".join(LABELS) + " |", "|---|---:|" + "---:|" * len(LABELS)]
    for system in systems:
        mine = [r for r in rows if key[r["item"]]["system"] == system]
        cells = []
        for label in LABELS:
            k = sum(r["label"] == label for r in mine)
            lo, hi = wilson(k, len(mine))
            cells.append(f"{k} ({k / len(mine):.2f} [{lo:.2f}, {hi:.2f}])")
        lines.append(f"| {system} | {len(mine)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.blind_audit", __doc__)
    p.add_argument("--draw", metavar="TSV", help="write a blind sample to label (and TSV.key.json)")
    p.add_argument("--builds", nargs="+", default=[], help="pesconv-build output folders to mix")
    p.add_argument("--names", nargs="+", default=[], help="a name per build (kept in the key only)")
    p.add_argument("--sample", type=int, default=100, help="items in all (the same number per build)")
    p.add_argument("--seed", type=int, default=31)
    p.add_argument("--splits", nargs="+", default=[], help="draw only from dialogs of these ESConv splits (e.g. "
                                                           "valid test: dialogs no judge trained on)")
    p.add_argument("--changed", action="store_true", help="draw only the sentences that the other builds do not hold "
                                                          "in the same dialog")
    p.add_argument("--whole-dialog", action="store_true",
                   help="show every turn before the evidence turn in place of the supporter's message (for sentences "
                        "that name a person the dialog named earlier)")
    p.add_argument("--labels", metavar="TSV", help="score a labelled TSV against its key")
    args = p.parse_args(argv)
    if args.draw:
        if not args.builds or len(args.names) != len(args.builds):
            raise InputError("--draw needs --builds and one --names entry per build")
        n = draw([Path(b) for b in args.builds], args.names, args.sample, args.seed, Path(args.draw),
                 tuple(args.splits), args.changed, args.whole_dialog)
        print(f"wrote {n} items to label to {args.draw} (key: {args.draw}.key.json; do not show it to the labeller)",
              file=sys.stderr)
        return 0
    if not args.labels:
        raise InputError("give --draw TSV (with --builds, --names) or --labels TSV")
    print(score(Path(args.labels)))
    return 0


def cli() -> None:
    run_cli(main)


if __name__ == "__main__":
    cli()
