"""Audit what PESConv keeps: a seeded sample of a build's persona sentences, each read beside its evidence turn.

Every other faithfulness number is measured by the grounding measure itself (`extractor.grounding`), so a
looser measure would make them look better. This one is a person's judgement: each sampled persona sentence
(whole-dialog persona, with the seeker turn it came from, `persona_evidence`) is labelled by hand
- `faithful`: it says what the seeker said (shortened, reworded or in the first person is fine);
- `unfaithful`: it says something the seeker did not say (a detail added, a negation, subject, tense or
  hedge changed, someone else's words made the seeker's);
- `not_a_fact`: the seeker did say it, but it is not a fact about the seeker ("I dunno.", a remark to the
  supporter).

- `--draw FILE`: write the seeded sample of a build (default the full default build) as a TSV to label.
- Without it: the shipped audit (`extractor/persona_audit.tsv`) by label, with 95 % Wilson intervals and the
  sentences that are not faithful; `--model-card` writes it as the "Kept-sentence audit" section.

    python -m analysis.persona_audit [--build outputs/pesconv] [--draw FILE] [--model-card extractor/default_adapter/model_card.md]
"""
from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

from common.cli import REPO_ROOT, InputError, command_parser, quiet_libraries, run_cli
from extractor.card import read_labelled, report_section, wilson

AUDIT = REPO_ROOT / "extractor" / "persona_audit.tsv"
LABELS = ("faithful", "unfaithful", "not_a_fact")
COLUMNS = ("dialog_id", "turn", "sentence", "utterance", "label", "note")


def kept_sentences(build: Path) -> list[tuple[str, int, str, str]]:
    """(dialog id, evidence turn, persona sentence, evidence turn's text) for every whole-dialog persona
    sentence of the build, in shard order (sorted files, rows, persona order): the order the sample is drawn from."""
    import pyarrow.parquet as pq

    shards = sorted((build / "data").glob("*.parquet"))
    if not shards:
        raise InputError(f"{build} has no data/*.parquet shards (is it a pesconv-build output folder?)")
    out = []
    for shard in shards:
        for rec in pq.read_table(shard, columns=["dialog_id", "dialog", "persona", "persona_evidence"]).to_pylist():
            for sentence, turn in zip(rec["persona"], rec["persona_evidence"]):
                text = " ".join(rec["dialog"][turn]["text"].split())
                out.append((rec["dialog_id"], turn, sentence, text))
    return out


def draw(build: Path, n: int, seed: int, path: Path) -> int:
    rows = kept_sentences(build)
    picked = random.Random(seed).sample(rows, min(n, len(rows)))
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(COLUMNS)
        out.writerows([*row, "", ""] for row in picked)
    return len(picked)


def read_audit(path: Path = AUDIT) -> list[dict]:
    return read_labelled(path, LABELS)


def summary(rows: list[dict]) -> list[str]:
    lines = ["| label | sentences | share [95 % Wilson] |", "|---|---:|---:|"]
    for label in LABELS:
        hits = sum(r["label"] == label for r in rows)
        low, high = wilson(hits, len(rows))
        lines.append(f"| {label} | {hits} of {len(rows)} | {hits / max(len(rows), 1):.3f} [{low:.3f}, {high:.3f}] |")
    return lines


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m analysis.persona_audit", __doc__)
    p.add_argument("--build", default="outputs/pesconv", help="a pesconv-build output folder (default outputs/pesconv)")
    p.add_argument("--draw", metavar="TSV", help="write a seeded sample of the build's persona sentences to label")
    p.add_argument("--sample", type=int, default=100, help="sentences to draw (default 100)")
    p.add_argument("--seed", type=int, default=13, help="sampling seed (default 13)")
    p.add_argument("--audit", default=str(AUDIT), help=f"the labelled audit (default {AUDIT.relative_to(REPO_ROOT)})")
    p.add_argument("--model-card", metavar="MD", help="write the result as the '## Kept-sentence audit' section")
    args = p.parse_args(argv)
    if args.draw:
        n = draw(Path(args.build), args.sample, args.seed, Path(args.draw))
        print(f"wrote {n} sentences to label to {args.draw}", file=sys.stderr)
        return 0
    rows = read_audit(Path(args.audit))
    body = "\n".join(
        [f"A seeded sample of {len(rows)} persona sentences of the full default build (`--draw`, seed {args.seed}), each "
         "read beside its evidence turn and labelled by hand (`" + Path(args.audit).name + "`; not blind: the labeller "
         "wrote the check). This is the one faithfulness number that does not come from the grounding measure.", "",
         *summary(rows), "", "Not faithful or not a fact:", ""]
        + [f'- {r["label"]}: "{r["sentence"]}" <- "{r["utterance"][:160]}"' + (f' ({r["note"]})' if r["note"] else "")
           for r in rows if r["label"] != "faithful"])
    report_section(body, args.model_card, "Kept-sentence audit", f"python -m analysis.persona_audit --build {args.build}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
