"""The Figures 3/5 table of docs/figures.md, from the regressions CSVs `analysis.persona_similarity` writes.

One row per build, encoder and panel: the slope of the persona condition with its bootstrap interval, its t-test p and
its permutation p-values (one-sided in the paper's direction and two-sided, with their Monte Carlo error), R² over
dialogs, the random-persona control's slope and the slope (p) of the per-dialog difference own minus control, the echo
control's slope and the slope (t-test p) of own minus echo, and the persona coefficient of the fit of the score
on persona and echo similarity together. Printed, never typed by hand, so the table always matches the CSVs beside the figures.

    python -m research.similarity_table default=outputs/figures/default "rule baseline=outputs/figures/rule"
"""
from __future__ import annotations

import csv
from pathlib import Path

from common.cli import InputError, command_parser, run_cli

ENCODERS = ("minilm", "fasttext", "glove")
PANELS = ("empathy", "relevance", "intensity_decrease")
HEADER = ("| build | encoder | panel | dialogs | slope per point [95% CI] | t-test p | permutation p one-sided / "
          "two-sided (± MC SE) | R² dialogs | control slope | own − control slope (p) | echo slope "
          "| own − echo slope (p) | persona beyond echo [95% CI] (p) |\n"
          "|---|---|---|---:|---|---:|---|---:|---:|---|---:|---|---|")


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
            got = {c: rows.get((encoder, panel, c)) for c in
                   ("persona", "control", "difference", "echo", "difference_echo", "beyond_echo")}
            if got["persona"] is None:
                continue
            f = {c: {k: float(v) for k, v in (r or {}).items() if k not in ("encoder", "panel", "condition") and v != ""}
                 for c, r in got.items()}
            own, echo_diff, beyond = f["persona"], f["difference_echo"], f["beyond_echo"]
            perm = (f"{own['p_permutation_one_sided']:.3f} / {own['p_permutation']:.3f} (± {own['p_permutation_mc_se']:.3f}; "
                    f"{own['permutations']:.0f})" if "p_permutation_one_sided" in own else "-")
            echo = f"{echo_diff['slope']:+.4f} ({_p(echo_diff['p_value'])})" if "p_value" in echo_diff else "-"
            past = (f"{beyond['slope']:+.4f} [{beyond['slope_ci95_low']:+.4f}, {beyond['slope_ci95_high']:+.4f}] "
                    f"({_p(beyond['p_value'])})" if beyond else "-")
            out.append(
                f"| {label} | {encoder} | {panel} | {own['n']:.0f} | {own['slope']:+.4f} [{own['slope_ci95_low']:+.4f}, "
                f"{own['slope_ci95_high']:+.4f}] | {_p(own['p_value'])} | {perm} | {own['r2']:.4f} "
                f"| {f['control']['slope']:+.4f} | {f['difference']['slope']:+.4f} ({_p(f['difference']['p_value'])}) "
                f"| {format(f['echo']['slope'], '+.4f') if 'slope' in f['echo'] else '-'} | {echo} | {past} |")
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
