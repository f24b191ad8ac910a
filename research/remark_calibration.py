"""Measure the remark detector (`extractor.remarks`) on its hand labels and show why its threshold is set so.

Four measurements in one run:
- 10-fold cross-validated precision / recall of "remark" at several thresholds, over all labels;
- trained on labelling round 1 only, scored on round 2 (labelled blind, after round 1 was used to
  design the detector): the honest out-of-sample number;
- on a build (`--build DIR`, default the full default build if present): the share of its persona
  sentences the detector flags, with seeded examples of flagged and kept sentences to read;
- the audit (`research/labels/remark_audit.tsv`): 40 sentences the detector flagged on the full build (seeded),
  labelled by hand afterwards: the precision of what the build actually drops, with a Wilson interval.

    python -m research.remark_calibration [--build outputs/pesconv] [--model-card extractor/default_adapter/model_card.md]
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from common.cli import InputError, command_parser, quiet_libraries, run_cli
from extractor.card import report_section, wilson
from extractor.grounding import minilm_embedder
from extractor.remarks import REMARK, REMARK_LABELS, REMARK_MIN, cross_validate, fit, read_labels

AUDIT = Path(__file__).resolve().parent / "labels" / "remark_audit.tsv"

THRESHOLDS = tuple(sorted({0.5, 0.6, REMARK_MIN, 0.7, 0.8}))


def already_filtered(build: Path) -> bool:
    """True when the build dropped remarks itself (then the flagged share is what the filter missed)."""
    import json

    manifest = build / "manifest.json"
    return manifest.exists() and json.loads(manifest.read_text()).get("settings", {}).get("drop_remarks", False)


def build_sentences(build: Path) -> list[str]:
    """The distinct whole-dialog persona sentences of a build (all splits)."""
    import pyarrow.parquet as pq

    shards = sorted((build / "data").glob("*.parquet"))
    if not shards:
        raise InputError(f"no shards in {build / 'data'} (is --build a pesconv-build output folder?)")
    return sorted({s for path in shards for persona in pq.read_table(path, columns=["persona"]).column(0).to_pylist()
                   for s in persona})


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.remark_calibration", __doc__)
    p.add_argument("--build", default="outputs/pesconv", help="a build (made with --keep-remarks) whose persona "
                                                               "sentences to screen ('' to skip; default outputs/pesconv)")
    p.add_argument("--examples", type=int, default=12, help="flagged and kept examples to print (default 12)")
    p.add_argument("--model-card", metavar="MD", help="write the result as the '## Remark detector' section")
    args = p.parse_args(argv)
    labels = read_labels()
    embed = minilm_embedder()
    vectors = np.asarray(embed([x.sentence for x in labels]), dtype=np.float32)
    truth = np.array([x.label == REMARK for x in labels])
    rounds = np.array([x.round for x in labels])
    lines = [f"{len(labels)} hand-labelled persona sentences of a default ESConv build "
             f"(`extractor/{REMARK_LABELS.name}`), {int(truth.sum())} remarks. Threshold in bold.", "",
             "| threshold | CV precision | CV recall | round 1 -> round 2 precision | round 1 -> round 2 recall |",
             "|---:|---:|---:|---:|---:|"]
    model = fit(vectors[rounds == 1], truth[rounds == 1])
    held = model.predict_proba(vectors[rounds == 2])[:, 1]
    for cv in cross_validate(vectors, truth, THRESHOLDS):
        flagged = held >= cv["threshold"]
        hits = int((flagged & truth[rounds == 2]).sum())
        mark = "**" if cv["threshold"] == REMARK_MIN else ""
        lines.append(f"| {mark}{cv['threshold']}{mark} | {cv['precision']:.3f} | {cv['recall']:.3f} | "
                     f"{hits / max(int(flagged.sum()), 1):.3f} | {hits / max(int(truth[rounds == 2].sum()), 1):.3f} |")
    if AUDIT.exists():
        audit = read_labels(AUDIT, rounds=False)
        hits = sum(x.label == REMARK for x in audit)
        low, high = wilson(hits, len(audit))
        lines += ["", f"Audit (`research/labels/{AUDIT.name}`): of {len(audit)} sentences the detector flagged at "
                      f"{REMARK_MIN} on the full default build (seeded sample, labelled afterwards), {hits} are remarks: "
                      f"precision {hits / len(audit):.3f} (95 % Wilson interval [{low:.3f}, {high:.3f}]). The others "
                      "are facts wrapped in a remark: "
                      + "; ".join(f'"{x.sentence}"' for x in audit if x.label != REMARK) + "."]
    if args.build:
        sentences = build_sentences(Path(args.build))
        probability = fit(vectors, truth).predict_proba(np.asarray(embed(sentences), dtype=np.float32))[:, 1]
        flagged = [s for s, q in zip(sentences, probability) if q >= REMARK_MIN]
        kept = [s for s, q in zip(sentences, probability) if q < REMARK_MIN]
        rng = random.Random(0)
        note = (" (this build already dropped the remarks the detector finds, so few are left: screen a build made "
                "with `--keep-remarks`)" if already_filtered(Path(args.build)) else
                " (a build that kept remarks)")
        lines += ["", f"On `{args.build}`{note}: {len(flagged)} of {len(sentences)} distinct persona sentences "
                      f"({len(flagged) / max(len(sentences), 1):.1%}) are flagged as remarks at {REMARK_MIN}.", "",
                  "Flagged (seeded sample):", ""]
        lines += [f"- {s}" for s in rng.sample(flagged, min(args.examples, len(flagged)))]
        lines += ["", "Kept (seeded sample):", ""] + [f"- {s}" for s in rng.sample(kept, min(args.examples, len(kept)))]
    body = "\n".join(lines) + ("\n\nThe threshold favours precision: a dropped fact is information the seeker gave "
                               "that the dataset loses.")
    report_section(body, args.model_card, "Remark detector",
                   "python -m research.remark_calibration" + (f" --build {args.build}" if args.build else " --build ''"))
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
