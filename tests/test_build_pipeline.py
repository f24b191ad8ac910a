"""The real Beam build on real dialogs with tiny random extractors (seq2seq and causal LM)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from common.cli import run_cli
from pipelines.build_pesconv import main
from pipelines.splits import assign_splits
from schemas.esconv import SEEKER, iter_raw_records, list_input_files
from schemas.pesconv import PERSONA_JOINER, PESCONV_SCHEMA, pesconv_features
from tests.conftest import TINY_BUILD_ARGS
from tests.helpers import ESCONV, REPO, read_manifest, real_dialog_lines


def build(inp: Path, out: Path, model: Path, *extra: str) -> dict:
    assert main(["--input", str(inp), "--output", str(out), "--extractor", str(model), *TINY_BUILD_ARGS, *extra]) == 0
    return read_manifest(out)


def rows(out: Path) -> list[dict]:
    return [r for f in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_build_loads_with_declared_features_and_splits(tiny_build: Path):
    ds = datasets.load_dataset(str(tiny_build))
    assert {k: len(v) for k, v in ds.items()} == {"train": 3, "valid": 2, "test": 2}
    assert ds["train"].features == pesconv_features()
    m = read_manifest(tiny_build)
    assert m["counts"] == {"read": 7, "written": 7, "rejected": 0, "splits": {"train": 3, "valid": 2, "test": 2},
                           "utterances_repeating_the_one_before": 0}
    assert pq.read_schema(next((tiny_build / "data").glob("*.parquet"))).equals(PESCONV_SCHEMA, check_metadata=False)
    assert m["extractor"]["weights_sha256"] and m["extractor"]["fingerprint"] and m["code_version"]
    assert m["inference"]["inferred"] == m["inference"]["unique_inputs"] > 0


def test_persona_fields_follow_the_turns(tiny_build: Path):
    for row in rows(tiny_build):
        seen_seeker_positions = [i for i, t in enumerate(row["dialog"]) if t["speaker"] == SEEKER and i >= 2]
        inferred = [i for i, t in enumerate(row["dialog"]) if t["persona_inferred"]]
        assert inferred == seen_seeker_positions  # from the 3rd utterance, seeker turns only
        assert len(row["persona_list"]) == len(inferred)
        visible: list[str] = []
        for i, turn in enumerate(row["dialog"]):
            if i < 2:
                assert turn["persona"] == []
            assert turn["persona"][: len(visible)] == visible  # cumulative: never forgets
            visible = turn["persona"]
        assert [PERSONA_JOINER.join(row["dialog"][i]["persona"]) for i in inferred] == row["persona_list"]


@pytest.mark.slow
def test_seq2seq_backend_builds(tmp_path: Path, tiny_seq2seq_dir: Path, small_esconv: Path):
    m = build(small_esconv, tmp_path / "out", tiny_seq2seq_dir, "--max-dialogs", "2")
    assert m["counts"]["written"] == 2 and m["extractor"]["model"] == str(tiny_seq2seq_dir)
    assert datasets.load_dataset(str(tmp_path / "out"))["train"].features == pesconv_features()


@pytest.mark.slow
def test_same_inputs_same_rows_and_resume_reuses_cache(tmp_path: Path, tiny_causal_dir: Path, small_esconv: Path):
    fresh = build(small_esconv, tmp_path / "a", tiny_causal_dir, "--batch-size", "1")
    # An interrupted build: only the first 3 records got through; resume in the same folder.
    partial = build(small_esconv, tmp_path / "c", tiny_causal_dir, "--batch-size", "1", "--max-dialogs", "3")
    resumed = build(small_esconv, tmp_path / "c", tiny_causal_dir, "--batch-size", "1")
    done_before = partial["inference"]["inferred"]  # inputs that state nothing are skipped, never cached
    assert done_before and resumed["inference"]["reused_from_cache"] == done_before
    assert resumed["inference"]["inferred"] == fresh["inference"]["inferred"] - done_before
    assert fresh["inference"]["skipped_nothing_to_keep"] == resumed["inference"]["skipped_nothing_to_keep"] > 0
    assert rows(tmp_path / "c") == rows(tmp_path / "a")
    assert resumed["shards"] == fresh["shards"]  # byte-identical shards, however the inferences were reached
    # A second run over a finished build recomputes nothing.
    assert build(small_esconv, tmp_path / "c", tiny_causal_dir, "--batch-size", "1")["inference"]["inferred"] == 0


@pytest.mark.slow
def test_rejects_are_written_with_reasons(tmp_path: Path, tiny_causal_dir: Path):
    lines = real_dialog_lines("test", 3)
    broken = json.loads(lines[2])
    broken["dialog"][0]["speaker"] = "robot"
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "test.json").write_text(lines[0] + "{oops\n" + lines[1] + json.dumps(broken) + "\n" + lines[0])
    m = build(inp, tmp_path / "out", tiny_causal_dir)
    assert m["counts"]["read"] == 5 and m["counts"]["written"] == 2 and m["counts"]["rejected"] == 3
    rejects = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    reasons = sorted(r["reason"] for r in rejects)
    assert reasons[0] == "dialog[0]: unknown speaker 'robot'"
    assert reasons[1].startswith("duplicate of test.json#0")
    assert reasons[2].startswith("malformed JSON at line 2")


@pytest.mark.slow
def test_failed_esconv_original_format(tmp_path: Path, tiny_causal_dir: Path):
    m = build(ESCONV / "FailedESConv.json", tmp_path / "out", tiny_causal_dir, "--max-dialogs", "4")
    # the first dialog's supporter sends "hello" and "you can end the chat , or I do now" twice each
    assert m["counts"] == {"read": 4, "written": 4, "rejected": 0, "splits": {"train": 4},
                           "utterances_repeating_the_one_before": 2}


@pytest.mark.slow
def test_pal_and_ratio_splits_on_a_build(tmp_path: Path, tiny_causal_dir: Path, small_esconv: Path):
    m = build(small_esconv, tmp_path / "pal", tiny_causal_dir, "--split", "pal")
    # 7 dialogs: valid + test + train order, a = round(7/10) = 1 -> valid 2, test 1, train 4
    assert m["counts"]["splits"] == {"train": 4, "valid": 2, "test": 1}
    m = build(small_esconv, tmp_path / "ratio", tiny_causal_dir, "--split", "ratio", "--ratio", "5:1:1")
    assert m["counts"]["splits"] == {"train": 5, "valid": 1, "test": 1}


@pytest.mark.parametrize("scheme,expected", [("standard", {"train": 910, "valid": 195, "test": 195}),
                                             ("pal", {"train": 910, "valid": 260, "test": 130}),
                                             ("ratio", {"train": 910, "valid": 260, "test": 130})])
def test_split_sizes_on_the_full_data(scheme, expected):
    records = [r for f in list_input_files(ESCONV) for r in iter_raw_records(f)]
    splits = assign_splits(records, scheme, "7:2:1", 13)
    assert {s: splits.count(s) for s in expected} == expected


def test_pal_split_matches_the_documented_derivation():
    records = [r for f in list_input_files(ESCONV) for r in iter_raw_records(f)]
    splits = assign_splits(records, "pal", "7:2:1", 13)
    by_file = {name: [s for r, s in zip(records, splits) if r.source == name] for name in ("valid.json", "test.json")}
    # concatenation valid + test + train: valid rows [0:130] and [260:390]; test [130:260]
    assert by_file["valid.json"][:130] == ["valid"] * 130 and by_file["valid.json"][130:] == ["test"] * 65
    assert by_file["test.json"][:65] == ["test"] * 65 and by_file["test.json"][65:] == ["valid"] * 130


@pytest.mark.parametrize("args,message", [
    (["--input", "/nonexistent/esconv"], "error: input /nonexistent/esconv does not exist"),
    (["--batch-size", "0"], "error: --batch-size must be at least 1"),
    (["--extractor", "/tmp"], "error: extractor folder /tmp has no config.json"),
    (["--ratio", "7:x"], "error: --ratio must look like 7:2:1"),
    (["--device", "tpu"], "error: unknown --device 'tpu'"),
])
def test_user_errors_are_one_line(tmp_path: Path, capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        run_cli(main, ["--output", str(tmp_path), *args])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith(message)


def test_the_command_line_reports_a_user_error_in_one_line(tmp_path: Path):
    """The same through the real command: exit status 2, one line, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "pipelines.build_pesconv", "--output", str(tmp_path), "--input",
                           "/nonexistent/esconv"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: input /nonexistent/esconv does not exist")


@pytest.mark.slow
def test_ctranslate2_backend_builds_the_same_rows(tmp_path: Path, tiny_causal_dir: Path, small_esconv: Path,
                                                  monkeypatch):
    monkeypatch.setenv("PESCONV_CACHE", str(tmp_path / "converted"))
    torch_m = build(small_esconv, tmp_path / "torch", tiny_causal_dir, "--max-dialogs", "2", "--keep-unsupported")
    ct2_m = build(small_esconv, tmp_path / "ct2", tiny_causal_dir, "--max-dialogs", "2", "--keep-unsupported",
                  "--backend", "ctranslate2")
    assert ct2_m["extractor"]["backend"] == "ctranslate2" and torch_m["extractor"]["backend"] == "torch"
    assert ct2_m["extractor"]["fingerprint"] != torch_m["extractor"]["fingerprint"]
    assert rows(tmp_path / "ct2") == rows(tmp_path / "torch")
