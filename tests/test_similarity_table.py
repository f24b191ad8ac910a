"""The Figures 3/5 table of docs/figures.md is the one the committed regressions CSVs give."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.cli import InputError
from research.similarity_table import main

ROOT = Path(__file__).parents[1]


def test_readme_table_matches_the_committed_regressions(capsys):
    assert main([f"default={ROOT / 'outputs/figures/default'}", f"rule baseline={ROOT / 'outputs/figures/rule'}"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 2 + 2 * 9  # header, rule, 2 builds x 3 encoders x 3 panels
    readme = (ROOT / "docs" / "figures.md").read_text(encoding="utf-8").splitlines()
    start = readme.index(printed[0])
    assert readme[start:start + len(printed)] == printed


def test_a_folder_without_the_csv_is_a_clear_error(tmp_path: Path):
    with pytest.raises(InputError, match="persona_similarity_regressions.csv not found"):
        main([f"x={tmp_path}"])
    with pytest.raises(InputError, match="LABEL=FOLDER"):
        main([str(tmp_path)])
