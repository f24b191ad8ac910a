"""The Figures 3/5 table of docs/figures.md, from the regressions CSVs `analysis.persona_similarity` writes.

One row per build, encoder and panel: the slope of the persona condition with its bootstrap interval, t-test and
permutation p-values, R² over dialogs and over level means, the control's slope, and the slope (p) of the
per-dialog difference. Printed, never typed by hand, so the table always matches the CSVs beside the figures.

    python -m research.similarity_table default=outputs/figures/default "rule baseline=outputs/figures/rule"
"""
from __future__ import annotations

import csv
from pathlib import Path

from common.cli import InputError, command_parser, run_cli

ENCODERS = ("minilm", "fasttext", "glove")
PANELS = ("empathy", "relevance", "intensity_decrease")
HEADER = ("| build | encoder | panel | dialogs | slope per point [95% CI] | t-test p | permutation p (200) | R² dialogs "
          "| R² level means | control slope | difference slope (p) |\n"
          "|---|---|---|---:|---|---:|---:|---:|---:|---:|---|")


def read_regressions(folder: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """(encoder, panel, condition) -> the CSV row."""
    path = folder / "persona_similarity_regressions.csv"
    if not path.exists():
        raise InputError(f"{path} not found: run python -m analysis.persona_similarity --output {folder} first")
    with open(path, newline="", encoding="utf-8") as f:
        return {(r["encoder"], r["panel"], r["condition"]): r for r in csv.DictReader(f)}


def _p(value: float) -> str:
    return f"{value:.2g}" if value < 1e-3 else f"{value:.3g}"


def table_rows(label: str, rows: dict[tuple[str, str, str], dict[str, str]]) -> list[str]:
    out = []
    for encoder in ENCODERS:
        for panel in PANELS:
            own, control, diff = (rows.get((encoder, panel, c)) for c in ("persona", "control", "difference"))
            if own is None:
                continue
            f = {k: float(v) for k, v in own.items() if k not in ("encoder", "panel", "condition") and v != ""}
            out.append(
                f"| {label} | {encoder} | {panel} | {own['n']} | {f['slope']:+.4f} [{f['slope_ci95_low']:+.4f}, "
                f"{f['slope_ci95_high']:+.4f}] | {_p(f['p_value'])} | {f['p_permutation']:.3f} | {f['r2']:.4f} "
                f"| {f['r2_level_means']:.2f} | {float(control['slope']):+.4f} | "
                f"{float(diff['slope']):+.4f} ({_p(float(diff['p_value']))}) |")
    return out


def main(argv: list[str] | None = None) -> int:
    p = command_parser("python -m research.similarity_table", __doc__)
    p.add_argument("builds", nargs="+", metavar="LABEL=FOLDER",
                   help="a label and the folder of analysis.persona_similarity's output, one per build")
    args = p.parse_args(argv)
    lines = [HEADER]
    for item in args.builds:
        label, sep, folder = item.rpartition("=")
        if not sep or not label:
            raise InputError(f"expected LABEL=FOLDER, got {item!r}")
        lines += table_rows(label, read_regressions(Path(folder)))
    print("\n".join(lines))
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
