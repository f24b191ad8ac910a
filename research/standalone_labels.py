"""Train and measure `extractor.standalone`: does a kept persona sentence read as a fact without its dialog?

The labels are the blind audits' (`research/labels/blind_audit*.tsv` with their keys): readers who never saw the code
labelled kept sentences of several builds `faithful` (true, and a fact that reads on its own) or `needs_question`
(true, but it needs the supporter's question or the dialog before it to be understood); `unfaithful` and
`not_a_fact` are left out. A sentence labelled more than once takes its majority label (ties: needs the dialog).
The dialogs are split, by a stable hash of their id, into training (three in four) and held-out ones (never trained on).

The audit of `CHECK` (a blind audit of the full build that ships the score, both systems' sentences) is never
trained on: `--score` measures the shipped weights on it too.

`--train` fits a logistic regression (C chosen by dialog-grouped cross-validation on the training sentences) on
their MiniLM embeddings and writes `extractor/standalone.json` with its provenance and the held-out numbers;
`--score` reports them for the weights as they are: AUC, and at each threshold of P(standalone), how many held-out
sentences it keeps and how many of those read alone (Wilson intervals), beside the share among all.

    python -m research.standalone_labels --train
    python -m research.standalone_labels --score
"""
from __future__ import annotations

import csv
import glob
import hashlib
import json
from collections import defaultdict
from pathlib import Path

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli

LABELS = Path(__file__).parent / "labels"
HELD_OUT_EVERY = 4  # one dialog in four is held out
CHECK = ("blind_audit_v15.tsv",)  # an audit of the full build that ships the score, drawn after it was trained
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9)


def labelled(folder: Path = LABELS, check: bool = False) -> list[dict]:
    """One row per distinct sentence: its dialog and whether readers found that it needs the dialog. The audits of
    `CHECK` are never trained on (`check` True reads only them)."""
    votes: dict[str, list[bool]] = defaultdict(list)
    dialog: dict[str, str] = {}
    files = [f for f in sorted(glob.glob(str(folder / "blind_audit*.tsv"))) if (Path(f).name in CHECK) == check]
    if not files:
        raise InputError(f"no blind audit labels in {folder}" + (f" ({', '.join(CHECK)})" if check else ""))
    for f in files:
        items = json.loads(Path(f + ".key.json").read_text(encoding="utf-8"))["items"]
        with open(f, newline="", encoding="utf-8") as handle:
            for r in csv.DictReader(handle, delimiter="\t"):
                if r["label"] in ("faithful", "needs_question"):
                    s = r["sentence"].strip()
                    votes[s].append(r["label"] == "needs_question")
                    dialog.setdefault(s, items[r["item"]]["dialog_id"])
    return [{"sentence": s, "dialog_id": dialog[s], "standalone": sum(v) * 2 < len(v)} for s, v in votes.items()]


def held_out(dialog_id: str) -> bool:
    """A quarter of the dialogs, by a stable hash of the id: never trained on."""
    return int(hashlib.sha256(dialog_id.encode("utf-8")).hexdigest()[:8], 16) % HELD_OUT_EVERY == 0


def parts(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    return [r for r in rows if not held_out(r["dialog_id"])], [r for r in rows if held_out(r["dialog_id"])]


def held_out_table(rows: list[dict], probs: list[float]) -> tuple[str, float]:
    from sklearn.metrics import roc_auc_score

    from extractor.card import wilson

    y = [r["standalone"] for r in rows]
    auc = roc_auc_score(y, probs)
    lines = [f"Held out (one dialog in four): {len(rows)} sentences, {sum(y)} read alone "
             f"({sum(y) / len(rows):.2f}); AUC {auc:.3f}.", "",
             "| P(standalone) >= | kept | of them read alone [95 %] | of all that read alone |",
             "|---:|---:|---|---:|"]
    for t in THRESHOLDS:
        kept = [yy for p, yy in zip(probs, y) if p >= t]
        lo, hi = wilson(sum(kept), len(kept))
        lines.append(f"| {t:g} | {len(kept)} | {sum(kept)} ({sum(kept) / max(1, len(kept)):.2f} [{lo:.2f}, {hi:.2f}]) "
                     f"| {sum(kept) / max(1, sum(y)):.2f} |")
    return "\n".join(lines), auc


def train(train_rows: list[dict], embed) -> tuple[list[float], float, float]:
    """(weights, bias, C): C by 5-fold cross-validation grouped by dialog (AUC)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score

    x = np.asarray(embed([r["sentence"] for r in train_rows]))
    y = np.asarray([r["standalone"] for r in train_rows])
    groups = [r["dialog_id"] for r in train_rows]
    folds = min(5, len(set(groups)))
    score = {c: cross_val_score(LogisticRegression(C=c, max_iter=5000), x, y, groups=groups,
                                cv=GroupKFold(folds), scoring="roc_auc").mean() for c in C_GRID}
    best = max(C_GRID, key=lambda c: score[c])
    model = LogisticRegression(C=best, max_iter=5000).fit(x, y)
    return [round(float(w), 6) for w in model.coef_[0]], round(float(model.intercept_[0]), 6), best


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.standalone_labels", __doc__)
    p.add_argument("--train", action="store_true", help="fit on the train dialogs' labels; write --weights")
    p.add_argument("--score", action="store_true", help="the held-out numbers of --weights")
    p.add_argument("--labels", default=str(LABELS), help="folder of blind_audit*.tsv and their keys")
    p.add_argument("--weights", default=None, help="default: extractor/standalone.json")
    args = p.parse_args(argv)
    if not (args.train or args.score):
        raise InputError("give --train or --score")
    from extractor.grounding import minilm_embedder
    from extractor.standalone import WEIGHTS, StandaloneScorer

    weights = Path(args.weights) if args.weights else WEIGHTS
    train_rows, held = parts(labelled(Path(args.labels)))
    embed = minilm_embedder()
    if args.train:
        w, b, c = train(train_rows, embed)
        probs = StandaloneScorer(w, b, embed).probability([r["sentence"] for r in held])
        table, auc = held_out_table(held, probs)
        weights.write_text(json.dumps({
            "model": "logistic regression on all-MiniLM-L6-v2 sentence embeddings (normalised)", "C": c,
            "trained_on": f"{len(train_rows)} sentences of three dialogs in four, {sum(r['standalone'] for r in train_rows)}"
                          " read alone (research/labels/blind_audit*.tsv)",
            "held_out_auc": round(auc, 4), "held_out": table, "code": code_version(),
            "command": "python -m research.standalone_labels --train", "bias": b, "weights": w}, indent=1) + "\n",
            encoding="utf-8")
        print(f"wrote {weights} (C {c})")
    scorer = StandaloneScorer.load(weights, embed)
    print(held_out_table(held, scorer.probability([r["sentence"] for r in held]))[0])
    if any((Path(args.labels) / name).is_file() for name in CHECK):
        check = labelled(Path(args.labels), check=True)
        table, _ = held_out_table(check, scorer.probability([r["sentence"] for r in check]))
        print("\n" + table.replace("Held out (one dialog in four)", f"Audit {', '.join(CHECK)} (never trained on)"))
        seen = {r["sentence"] for r in train_rows}  # the same sentence labelled in an earlier audit of a train dialog
        unseen = [r for r in check if r["sentence"] not in seen]
        table, _ = held_out_table(unseen, scorer.probability([r["sentence"] for r in unseen]))
        print("\n" + table.replace("Held out (one dialog in four)", "Of it, the sentences no training label holds"))
    return 0


def cli() -> None:
    run_cli(main)


if __name__ == "__main__":
    cli()
