"""Calibrate the grounding thresholds (`extractor.grounding.SupportThresholds`) and show why they are set so.

Two measurements per threshold setting, in one run:
- against hand labels (`research/labels/grounding_labels.tsv`: a gold persona sentence, the statement of its
  speaker that supports it best, and whether that statement really states the sentence; drawn from
  the first 600 pairs of each dataset among candidates with cosine >= 0.45 or overlap >= 0.34): precision
  and recall of "supported";
- against a null: each pair's persona sentences scored against the utterances of another pair with
  no shared persona sentence (seeded). A sentence "supported" there is a false alarm (an upper
  bound: generic facts such as "I have a dog" are sometimes said in the other dialog too). Beside it,
  the share of gold sentences supported by their own speaker's utterances.

    python -m research.grounding_calibration [--pairs 600] [--model-card extractor/default_adapter/model_card.md]
"""
from __future__ import annotations

import csv
import random
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cli import REPO_ROOT, InputError, command_parser, quiet_libraries, run_cli
from extractor.card import report_section
from extractor.grounding import SupportScorer, SupportThresholds, can_support, minilm_embedder, pieces
from schemas.personachat import PersonaPair, read_pairs

LABELS = REPO_ROOT / "research" / "labels" / "grounding_labels.tsv"
DATA = [REPO_ROOT.parent / "shared" / "data" / "personachat" / "valid.csv",
        REPO_ROOT.parent / "shared" / "data" / "synthetic-persona-chat" / "valid.csv"]
GRID = [SupportThresholds(c, lx, lc) for c in (0.7, 0.75, 0.8, 0.85) for lx in (0.5, 0.6, 0.67) for lc in (0.4, 0.5)]


def read_labels(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or {"persona_sentence", "statement", "label"} - set(rows[0]):
        raise InputError(f"{path}: expected columns persona_sentence, statement, label")
    return rows


Scores = tuple[np.ndarray, np.ndarray, np.ndarray]  # per statement: cosine, overlap, subject check passed


def best_scores(scorer: SupportScorer, sentences: Sequence[str], utterances: Sequence[str]) -> list[Scores]:
    """Per sentence: cosine, overlap and the subject check against every statement (and clause, as the scorer
    compares them: `extractor.grounding.pieces`) of the utterances."""
    return scores_against(scorer, sentences, [s for u in utterances for s in pieces(u)])


def scores_against(scorer: SupportScorer, sentences: Sequence[str], stmts: Sequence[str]) -> list[Scores]:
    cos, lex = scorer.scores(sentences, stmts)
    return [(cos[i], lex[i], np.array([can_support(s, t) for t in stmts], dtype=bool)) for i, s in enumerate(sentences)]


def own_and_null(scorer: SupportScorer, pairs: list[PersonaPair], seed: int) -> tuple[list, list]:
    rng = random.Random(seed)
    own, null = [], []
    for pair in pairs:
        other = rng.choice(pairs)
        while set(other.persona) & set(pair.persona):
            other = rng.choice(pairs)
        own += best_scores(scorer, pair.persona, pair.utterances)
        null += best_scores(scorer, pair.persona, other.utterances)
    return own, null


def rate(th: SupportThresholds, scores: list[Scores]) -> float:
    return float(np.mean([any(th.supported(float(c), float(x)) and ok for c, x, ok in zip(*row)) for row in scores]))


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.grounding_calibration", __doc__)
    p.add_argument("--labels", default=str(LABELS), help=f"hand-labelled pairs (default {LABELS.relative_to(REPO_ROOT)})")
    p.add_argument("--pairs", type=int, default=600, help="pairs of each dataset for the null test (default 600)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model-card", metavar="MD", help="write the result as the '## Grounding thresholds' section")
    args = p.parse_args(argv)
    labels = read_labels(Path(args.labels))
    scorer = SupportScorer(minilm_embedder())
    datasets = {path.parent.name: read_pairs(path, args.pairs) for path in DATA if path.exists()}
    if not datasets:
        raise InputError(f"none of {', '.join(map(str, DATA))} exists")
    sentences, stmts = [r["persona_sentence"] for r in labels], [r["statement"] for r in labels]
    scorer.prepare(sentences + stmts + [t for pairs in datasets.values() for q in pairs for t in (*q.utterances,
                                                                                                 *q.persona)])
    # each label: one statement, compared as the scorer compares it (a piece by piece; as it is if it has none)
    labelled = [scores_against(scorer, [s], pieces(t) or [t])[0] for s, t in zip(sentences, stmts)]
    best = [int(np.argmax(c + x)) if len(c) else None for c, x, _ in labelled]  # its best piece, for the examples
    cos = [float(c[b]) if b is not None else 0.0 for (c, _, _), b in zip(labelled, best)]
    lex = [float(x[b]) if b is not None else 0.0 for (_, x, _), b in zip(labelled, best)]
    truth = [r["label"] == "stated" for r in labels]
    measured = {name: own_and_null(scorer, pairs, args.seed) for name, pairs in datasets.items()}
    chosen = SupportThresholds()
    lines = ["| cosine_min | lexical_min | lexical_cosine_min | labelled precision | labelled recall | "
             + " | ".join(f"{n}: own supported | {n}: null supported" for n in measured) + " |",
             "|---:|---:|---:|---:|---:|" + "---:|---:|" * len(measured)]
    for th in GRID + ([chosen] if chosen not in GRID else []):
        pred = [any(th.supported(float(c), float(x)) and ok for c, x, ok in zip(*row)) for row in labelled]
        tp = sum(a and b for a, b in zip(pred, truth))
        precision, recall = tp / max(sum(pred), 1), tp / max(sum(truth), 1)
        cells = [f"{rate(th, own):.3f} | {rate(th, null):.3f}" for own, null in measured.values()]
        mark = "**" if th == chosen else ""
        lines.append(f"| {mark}{th.cosine_min}{mark} | {mark}{th.lexical_min}{mark} | {mark}{th.lexical_cosine_min}"
                     f"{mark} | {precision:.3f} | {recall:.3f} | " + " | ".join(cells) + " |")
    examples = ["", "Labelled examples around the chosen thresholds (cosine / overlap -> supported? ; label):", ""]
    order = sorted(range(len(labels)), key=lambda i: abs(cos[i] - chosen.lexical_cosine_min - 0.1))[:12]
    for i in sorted(order, key=lambda i: -cos[i]):
        verdict = "supported" if any(chosen.supported(float(c), float(x)) and ok for c, x, ok in zip(*labelled[i])) \
            else "not supported"
        examples.append(f"- \"{sentences[i]}\" <- \"{stmts[i]}\": {cos[i]:.2f} / {lex[i]:.2f} -> {verdict}; "
                        f"label: {labels[i]['label']}")
    body = (f"Chosen (bold): `{asdict(chosen)}`: a sentence is supported by a statement when cosine >= "
            f"{chosen.cosine_min}, or content-word overlap >= {chosen.lexical_min} with cosine >= "
            f"{chosen.lexical_cosine_min}, and a fact about the speaker needs a first-person statement or a short "
            f"answer (the subject check of `extractor.grounding`). {len(labels)} hand-labelled pairs ({sum(truth)} stated; partial "
            "statements, which add a detail the speaker did not say, count as not stated) and a null of "
            f"{args.pairs} pairs per dataset (persona sentences against another pair's utterances):\n\n"
            + "\n".join(lines) + "\n" + "\n".join(examples)
            + "\n\nThe chosen row trades a little recall for precision (faithfulness first); its null rate bounds "
              "how often a sentence the speaker never said passes the check.")
    report_section(body, args.model_card, "Grounding thresholds",
                   f"python -m research.grounding_calibration --pairs {args.pairs}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
