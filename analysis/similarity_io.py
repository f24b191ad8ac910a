"""Reading PESConv for the analysis (a build folder, a shard or a Hub id) and writing its tables, JSON and figure."""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

from analysis.panels import CONDITIONS
from analysis.similarity_figure import draw_figure
from common.cli import InputError

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def load_dialogs(data: str, splits: list[str] | None = None, max_dialogs: int | None = None) -> list[dict]:
    """PESConv rows from a build folder (data/*.parquet), a single shard, or a Hub dataset id."""
    path = Path(data)
    rows: list[dict] = []
    if path.exists():
        import pyarrow.parquet as pq

        if path.is_file():
            if path.suffix != ".parquet":
                raise InputError(f"{data}: expected a PESConv build folder or a .parquet shard")
            files = [path]
        else:
            files = sorted((path / "data").glob("*.parquet")) or sorted(path.glob("*.parquet"))
        if not files:
            if any(path.glob("*.json")) or any(path.glob("*.jsonl")):
                raise InputError(f"{data} looks like raw ESConv; build PESConv first: "
                                 f"python -m pipelines.build_pesconv --input {data}")
            raise InputError(f"{data}: no PESConv shards (expected {data}/data/*.parquet)")
        for f in files:
            table = pq.read_table(f)
            missing = {"dialog_id", "dialog", "survey_score"} - set(table.column_names)
            if missing:
                raise InputError(f"{f}: not a PESConv shard (no column {', '.join(sorted(missing))})")
            for row in table.to_pylist():
                row.setdefault("split", f.name.split("-")[0])
                rows.append(row)
    elif HUB_ID.fullmatch(data):
        try:
            import datasets

            dsd = datasets.load_dataset(data)
        except Exception as exc:  # noqa: BLE001 - one line for the user
            raise InputError(f"cannot load Hub dataset {data!r}: {type(exc).__name__}: "
                             f"{(str(exc).splitlines() or [''])[0]}") from None
        for split, ds in dsd.items():
            for row in ds:
                row.setdefault("split", split)
                rows.append(row)
    else:
        raise InputError(f"--data {data}: no such folder or file, and not a Hub dataset id (org/name)")
    if splits:
        rows = [r for r in rows if r.get("split") in splits]
    if max_dialogs is not None:
        rows = rows[:max_dialogs]
    if not rows:
        raise InputError(f"no dialogs in {data}" + (f" for splits {','.join(splits)}" if splits else ""))
    return rows


def _clean(obj: Any) -> Any:
    """NaN/inf -> None so the JSON is valid."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _csv_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return v


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: _csv_value(r.get(c)) for c in columns})


def regression_rows(result: dict) -> list[dict]:
    rows = []
    for key, entry in result["panels"].items():
        for cond in (*CONDITIONS, "difference", "difference_echo"):
            reg = entry[cond]["regression"]
            ci, perm = reg.get("slope_ci95") or [None, None], reg.get("permutation") or {}
            rows.append({"encoder": result["encoder"]["name"], "panel": key, "condition": cond, **reg,
                         "slope_ci95_low": ci[0], "slope_ci95_high": ci[1], "p_permutation": perm.get("p_value"),
                         "p_permutation_one_sided": perm.get("p_greater"),
                         "p_permutation_mc_se": perm.get("p_value_mc_se"),
                         "null_slope_mean": perm.get("null_mean"), "permutations": perm.get("permutations")})
        beyond = entry.get("beyond_echo") or {}
        if beyond.get("persona_coef") is not None:  # score ~ persona + echo: the persona coefficient as the slope
            ci = beyond["persona_coef_ci95"]
            rows.append({"encoder": result["encoder"]["name"], "panel": key, "condition": "beyond_echo",
                         "n": beyond["n"], "slope": beyond["persona_coef"], "slope_stderr": beyond["persona_coef_stderr"],
                         "p_value": beyond["persona_p_value"], "slope_ci95_low": ci[0], "slope_ci95_high": ci[1]})
    return rows


REG_COLUMNS = ["encoder", "panel", "condition", "n", "slope", "slope_stderr", "p_value", "slope_ci95_low",
               "slope_ci95_high", "p_permutation", "p_permutation_one_sided", "p_permutation_mc_se", "null_slope_mean",
               "permutations", "r2", "r2_level_means", "intercept"]


def write_outputs(result: dict, records: list[dict], out: Path) -> dict[str, Path]:
    slug = result["encoder"]["name"]
    base = out / f"persona_similarity_{slug}"
    paths = {k: Path(f"{base}{suffix}") for k, suffix in
             (("png", ".png"), ("svg", ".svg"), ("json", ".json"), ("levels", "_levels.csv"),
              ("regression", "_regression.csv"), ("dialogs", "_dialogs.csv"))}
    level_rows = []
    for key, entry in result["panels"].items():
        for cond in CONDITIONS:
            for e in entry[cond]["levels"]:
                level_rows.append({"encoder": slug, "panel": key, "condition": cond, **e})
    write_csv(paths["levels"], level_rows,
              ["encoder", "panel", "condition", "level", "n", "mean", "sd", "ci95_low", "ci95_high"])
    write_csv(paths["regression"], regression_rows(result), REG_COLUMNS)
    write_csv(paths["dialogs"], records, DIALOG_COLUMNS)
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(_clean({**result, "dialogs": records}), f, indent=2, ensure_ascii=False)
    draw_figure(result, paths["png"], paths["svg"], records)
    return paths


DIALOG_COLUMNS = ["dialog_id", "split", "persona", "control", "echo", "echo_last", "control_donor", "turns_used", "control_turns_used",
                  "turns_undefined", "supporter_turns", "turns_no_persona", "empathy", "relevance",
                  "intensity_decrease"]
