"""--export pal-json: a build in PAL's PESConv.json layout, with every field the authors' reformat script reads."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from common.cli import InputError
from pipelines.export_pal import main, pal_persona
from schemas.strategies import STRATEGIES


def read_as_pal_does(d: dict) -> dict:
    """The reads of PAL's `codes/_reformat/process.py` (process_data) on one record, as that script makes them."""
    out = {"emotion_type": d["emotion_type"], "problem_type": d["problem_type"], "situation": d["situation"],
           "persona": d["persona"], "persona_list": d["persona_list"], "dialog": []}
    for uttr in d["dialog"]:
        text = " ".join(uttr["content"].strip().split())
        if uttr["speaker"] == "seeker":
            out["dialog"].append({"text": text, "speaker": "usr"})
        else:
            out["dialog"].append({"text": text, "speaker": "sys", "strategy": uttr["annotation"]["strategy"]})
    return out


def test_export_has_what_pal_reads(tiny_build: Path, tmp_path: Path):
    out = tmp_path / "PESConv.json"
    assert main(["--build", str(tiny_build), "--output", str(out)]) == 0
    records = json.loads(out.read_text(encoding="utf-8"))
    rows = {r["dialog_id"]: r for f in (tiny_build / "data").glob("*.parquet") for r in pq.read_table(f).to_pylist()}
    assert len(records) == len(rows) and {r["dialog_id"] for r in records} == set(rows)
    for rec in records:
        pal = read_as_pal_does(rec)
        row = rows[rec["dialog_id"]]
        assert all(isinstance(pal[k], str) for k in ("emotion_type", "problem_type", "situation", "persona"))
        assert pal["persona"] == pal_persona(row["persona"]) and pal["persona"].startswith("<input>")
        seekers = [t for t in row["dialog"] if t["speaker"] == "seeker"]
        assert pal["persona_list"] == [pal_persona(t["persona"]) for t in seekers[2:]]  # PAL's entry k-3
        assert [t["speaker"] for t in pal["dialog"]] == ["usr" if t["speaker"] == "seeker" else "sys"
                                                         for t in row["dialog"]]
        assert all(t["strategy"] in STRATEGIES for t in pal["dialog"] if t["speaker"] == "sys")
    assert any(r["persona"] != "<input>" for r in records)  # the tiny build keeps sentences: the markers are tested


def test_persona_string_markers():
    assert pal_persona([]) == "<input>"
    assert pal_persona(["I lost my job.", "I have  two kids."]) == "<input><persona>I lost my job.<persona>I have two kids."


def test_a_folder_without_shards_is_a_clear_error(tmp_path: Path):
    with pytest.raises(InputError, match="no data/\\*.parquet shards"):
        main(["--build", str(tmp_path)])
