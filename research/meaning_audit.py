"""Audit the meaning check (`extractor.meaning`): what it drops from a build, and how often it is right.

- From a build (`--build`, default the full default build): how many generated persona sentences the
  meaning check dropped, by kind (negation, subject, tense, amount, modality, person, joined
  parts), out of all generated sentences.
- `--draw FILE`: a seeded sample of those drops, written as a TSV to label by hand (label column:
  `changed` when the sentence says something the seeker did not say, `faithful` when it keeps the
  meaning). The shipped audit (`research/labels/meaning_audit.tsv`) is this sample of the full default build,
  labelled afterwards, plus every drop of the rules added after it (modality, someone else's thing made the
  seeker's, a dropped "used to", a negation under a paraphrase, one third person for another, two parts of
  what the seeker said joined), labelled when they were written.
- The audit: the precision of what the check drops (share labelled `changed`), with a Wilson 95 %
  interval, per kind, and the faithful sentences it lost.

    python -m research.meaning_audit [--build outputs/pesconv] [--draw FILE] [--model-card extractor/default_adapter/model_card.md]
"""
from __future__ import annotations

import csv
import json
import random
import sys
from collections import Counter
from pathlib import Path

from common.cli import InputError, command_parser, quiet_libraries, run_cli
from extractor.card import read_labelled, report_section, wilson
from extractor.meaning import MEANING_REASONS

AUDIT = Path(__file__).resolve().parent / "labels" / "meaning_audit.tsv"
CHANGED, FAITHFUL = "changed", "faithful"
SHOWN = 12  # examples of each label written into the card
COLUMNS = ("dialog_id", "turn", "reason", "sentence", "utterance", "label", "note")


def dropped_for_meaning(build: Path) -> tuple[list[dict], int]:
    """The build's sentences dropped by the meaning check (file order), and all sentences it generated."""
    listed, manifest = build / "unsupported.jsonl", build / "manifest.json"
    if not listed.exists() or not manifest.exists():
        raise InputError(f"{build} has no unsupported.jsonl and manifest.json (is it a pesconv-build output folder?)")
    rows = [json.loads(line) for line in listed.read_text(encoding="utf-8").splitlines() if line.strip()]
    generated = json.loads(manifest.read_text(encoding="utf-8")).get("grounding", {}).get("generated", 0)
    return [r for r in rows if r.get("reason") in MEANING_REASONS], int(generated)


def draw(rows: list[dict], build: Path, n: int, seed: int, path: Path) -> None:
    """Write a seeded sample of drops with the seeker utterance each came from, label column empty."""
    import pyarrow.parquet as pq

    picked = random.Random(seed).sample(rows, min(n, len(rows)))
    wanted = {r["dialog_id"] for r in picked}
    dialogs = {}
    for shard in sorted((build / "data").glob("*.parquet")):
        for rec in pq.read_table(shard, columns=["dialog_id", "dialog"]).to_pylist():
            if rec["dialog_id"] in wanted:
                dialogs[rec["dialog_id"]] = rec["dialog"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(COLUMNS)
        for r in picked:
            utterance = " ".join(dialogs[r["dialog_id"]][r["turn"]]["text"].split())
            out.writerow([r["dialog_id"], r["turn"], r["reason"], r["sentence"].strip(), utterance, "", ""])


def read_audit(path: Path = AUDIT) -> list[dict]:
    return read_labelled(path, (CHANGED, FAITHFUL))


def precision_line(rows: list[dict]) -> str:
    hits = sum(r["label"] == CHANGED for r in rows)
    low, high = wilson(hits, len(rows))
    return f"{hits} of {len(rows)} ({hits / len(rows):.3f}, 95 % Wilson interval [{low:.3f}, {high:.3f}])"


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.meaning_audit", __doc__)
    p.add_argument("--build", default="outputs/pesconv", help="a pesconv-build output folder (default outputs/pesconv)")
    p.add_argument("--draw", metavar="TSV", help="write a seeded sample of the build's meaning drops to label")
    p.add_argument("--sample", type=int, default=40, help="sentences to draw (default 40)")
    p.add_argument("--seed", type=int, default=13, help="sampling seed (default 13)")
    p.add_argument("--model-card", metavar="MD", help="write the result as the '## Meaning check' section")
    args = p.parse_args(argv)
    build = Path(args.build)
    rows, generated = dropped_for_meaning(build)
    if args.draw:
        draw(rows, build, args.sample, args.seed, Path(args.draw))
        print(f"wrote {min(args.sample, len(rows))} sentences to label to {args.draw}", file=sys.stderr)
    kinds = Counter(r["reason"] for r in rows)
    lines = [f"On `{build}`: the meaning check dropped {len(rows)} of {generated} generated persona sentences "
             f"({len(rows) / max(generated, 1):.1%}): " + "; ".join(f"{kinds[k]} {k}" for k in MEANING_REASONS) + "."]
    audit = read_audit()
    lines += ["", f"Audit (`research/labels/{AUDIT.name}`): a seeded sample of those drops (`--draw`, seed 13) on the full "
                  "default build, labelled by hand afterwards, plus all the drops of the rules added after it (modality, "
                  "possessive, \"used to\", negation under a paraphrase, person, joined parts; each labelled when it was "
                  "written). Not blind: the rules were written while reading drops of the same build, and "
                  "some audited sentences were among those read. Labelled `changed` (the sentence says something the "
                  f"seeker did not say): {precision_line(audit)}.", "",
              "| kind | changed / audited |", "|---|---|"]
    lines += [f"| {k} | {precision_line(sub)} |" for k in MEANING_REASONS if (sub := [r for r in audit if r["reason"] == k])]
    faithful = [r for r in audit if r["label"] == FAITHFUL]
    lines += ["", f"Faithful sentences it dropped (the cost; {len(faithful)} in all, every one in the audit file):", ""]
    lines += [f'- "{r["sentence"]}" <- "{r["utterance"][:160]}"' + (f' ({r["note"]})' if r["note"] else "")
              for r in faithful[:SHOWN]]
    lines += ["", "Changed sentences it dropped (examples):", ""]
    lines += [f'- "{r["sentence"]}" <- "{r["utterance"][:160]}"' for r in audit if r["label"] == CHANGED][:SHOWN]
    body = "\n".join(lines) + (
        "\n\nTense changes are the mildest kind and the least precise: past -> present is a real change of what is "
        "claimed (\"I worked in a restaurant\" -> \"I work in a restaurant\") but sometimes only a matter of "
        "wording. The check is lexical and misses what it cannot align (a paraphrase that flips a meaning). "
        "Joined parts are the least precise kind: a sentence that skips words between two predicates is as often a "
        "faithful shortening (\"I have [experience and I am pretty hard-working. I have also] made quite a few "
        "connections\") as a changed fact (\"my son lives in [Chicago ... and my daughter lives in] Nashville\"); "
        "the rule is kept because a persona fact the seeker did not state is a defect and a missed one is not.")
    report_section(body, args.model_card, "Meaning check", f"python -m research.meaning_audit --build {args.build}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
