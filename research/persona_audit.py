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
- Without it: the shipped audits by label, each round and pooled, with 95 % Wilson intervals and the
  sentences that are not faithful; `--model-card` writes it as the "Kept-sentence audit" section. Three rounds
  ship (`research/labels/persona_audit*.tsv`), each drawn from a full default build of the rule-based check
  (`--persona-style quote` in the last round), the sentences of earlier rounds left out, so a later rule is read on
  fresh sentences (round 2: `--draw FILE --seed 25 --sample 120`, first 100 kept; round 3: `--seed 28 --sample 130`).
  When `--build` holds shards, the report also says which audited sentences that build no longer keeps.

    python -m research.persona_audit [--build outputs/pesconv] [--draw FILE] [--model-card extractor/default_adapter/model_card.md]
"""
from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

from common.cli import InputError, command_parser, quiet_libraries, run_cli
from extractor.card import read_labelled, report_section, wilson
from extractor.remarks import strip_opening_word

AUDIT = Path(__file__).resolve().parent / "labels" / "persona_audit.tsv"
AUDITS = {AUDIT: "round 1: seed 13, a full default build of the rule-based check",
          AUDIT.with_name("persona_audit_round2.tsv"): "round 2: seed 25, a full default build of the rule-based "
                                                       "check, round 1's sentences left out",
          AUDIT.with_name("persona_audit_round3.tsv"): "round 3: seed 28, a full build quoting the seeker where the "
                                                       "extractor paraphrased, the sentences of rounds 1-2 left out"}
LABELS = ("faithful", "unfaithful", "not_a_fact")
COLUMNS = ("dialog_id", "turn", "sentence", "utterance", "label", "note")


def build_rows(build: Path, columns: tuple[str, ...] = ("dialog_id", "dialog", "persona", "persona_evidence")):
    """The rows of a build's shards in shard order (sorted files, rows); a folder without shards is a user error."""
    import pyarrow.parquet as pq

    shards = sorted((build / "data").glob("*.parquet"))
    if not shards:
        raise InputError(f"{build} has no data/*.parquet shards (is it a pesconv-build output folder?)")
    for shard in shards:
        yield from pq.read_table(shard, columns=list(columns)).to_pylist()


def supporter_before(turns: list[dict], turn: int, words: int = 40) -> str:
    """The supporter's message just before seeker turn `turn` of a build row's dialog, cut to its last `words` words
    (what a labeller sees beside the seeker's turn); "" when the dialog opens with the seeker."""
    before = [t["text"] for t in turns[:turn] if t["speaker"] != "seeker"]
    return " ".join((before or [""])[-1].split()[-words:])


def kept_sentences(build: Path) -> list[tuple[str, int, str, str]]:
    """(dialog id, evidence turn, persona sentence, evidence turn's text) for every whole-dialog persona
    sentence of the build, in shard order (sorted files, rows, persona order): the order the sample is drawn from."""
    return [(rec["dialog_id"], turn, sentence, " ".join(rec["dialog"][turn]["text"].split()))
            for rec in build_rows(build) for sentence, turn in zip(rec["persona"], rec["persona_evidence"])]


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
    p = command_parser("python -m research.persona_audit", __doc__)
    p.add_argument("--build", default="outputs/pesconv", help="a pesconv-build output folder (default outputs/pesconv)")
    p.add_argument("--draw", metavar="TSV", help="write a seeded sample of the build's persona sentences to label")
    p.add_argument("--sample", type=int, default=100, help="sentences to draw (default 100)")
    p.add_argument("--seed", type=int, default=13, help="sampling seed (default 13)")
    p.add_argument("--audit", nargs="+", default=[str(a) for a in AUDITS],
                   help="labelled audit files (default the shipped rounds, research/labels/persona_audit*.tsv)")
    p.add_argument("--model-card", metavar="MD", help="write the result as the '## Kept-sentence audit' section")
    args = p.parse_args(argv)
    if args.draw:
        n = draw(Path(args.build), args.sample, args.seed, Path(args.draw))
        print(f"wrote {n} sentences to label to {args.draw}", file=sys.stderr)
        return 0
    rounds = {Path(a): read_audit(Path(a)) for a in args.audit}
    rows = [r for labelled in rounds.values() for r in labelled]
    lines = ["Seeded samples of the full default build's persona sentences (`--draw`), each read beside its evidence "
             "turn and labelled by hand (not blind: the labeller wrote the check). This is the one faithfulness number "
             "that does not come from the grounding measure.", ""]
    for path, labelled in rounds.items():
        lines += [f"`{path.name}` ({AUDITS.get(path.resolve(), 'a sample drawn with --draw')}):", "", *summary(labelled), ""]
    if len(rounds) > 1:
        lines += ["All rounds together:", "", *summary(rows), ""]
    lines += ["Not faithful or not a fact:", ""]
    lines += [f'- {r["label"]}: "{r["sentence"]}" <- "{r["utterance"][:160]}"' + (f' ({r["note"]})' if r["note"] else "")
              for r in rows if r["label"] != "faithful"]
    if list((build := Path(args.build)).glob("data/*.parquet")):
        kept = {(d, s) for d, _, s, _ in kept_sentences(build)}
        # a sentence the check rewrote (less a remark clause, or the seeker's words quoted; rewritten.jsonl, named
        # remark_cuts.jsonl in older builds) is still kept, as its new text
        path = next((p for p in (build / "rewritten.jsonl", build / "remark_cuts.jsonl") if p.exists()),
                    build / "rewritten.jsonl")
        cut_rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x] if path.exists() else []
        cuts = {(c["dialog_id"], c["generated"]): c["kept"] for c in cut_rows}
        for r in rows:  # an audited sentence the check now keeps less its opening "And" / "Yes"
            bare = strip_opening_word(r["sentence"])
            if (r["dialog_id"], r["sentence"]) not in kept and bare != r["sentence"] and (r["dialog_id"], bare) in kept:
                cuts.setdefault((r["dialog_id"], r["sentence"]), bare)
        missing = [r for r in rows if (r["dialog_id"], r["sentence"]) not in kept]
        cut = [r for r in missing if (r["dialog_id"], cuts.get((r["dialog_id"], r["sentence"]))) in kept]
        gone = [r for r in missing if r not in cut]
        lines += ["", f"`{build}` no longer keeps {len(gone)} of these {len(rows)} sentences"
                  + (": " + "; ".join(f'"{r["sentence"]}" ({r["label"]})' for r in gone) if gone else "") + "."]
        if cut:
            lines += ["It keeps " + "; ".join(f'"{r["sentence"]}" ({r["label"]}) as "{cuts[(r["dialog_id"], r["sentence"])]}"'
                                             for r in cut) + f" (rewritten by the check, `{path.name}`)."]
    body = "\n".join(lines)
    report_section(body, args.model_card, "Kept-sentence audit", f"python -m research.persona_audit --build {args.build}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
