"""The `.jsonl.partial` file of a decoding run: a first line with the run's settings, then one row per finished
turn, written as the turns finish. `pipelines.generate` resumes from it; `analysis.evaluate` scores it as it is."""
from __future__ import annotations

import json
from pathlib import Path


def read_partial(path: Path) -> tuple[dict, list[dict]]:
    """(settings line, rows) of a partial file; a torn last line (the row being written when the run stopped) is
    skipped, and an unreadable first line gives empty settings."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    rows = []
    for line in lines[1:]:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return header, rows
