"""Each composite transform of the build on its own (TestPipeline + assert_that), a model failure turned
into a reject, and a build on separate worker processes giving the same shards."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from extractor.grounding import may_state_a_fact
from extractor.loading import resolve_extractor
from extractor.requests import UTTERANCE, extraction_requests, seeker_positions
from extractor.rule import RuleExtractor, rule_baseline
from extractor.verifier import CHECKS, SPLIT_LEFT_OUT
from pipelines import build_steps as steps
from pipelines.build_pesconv import main
from pipelines.build_settings import BuildSettings
from pipelines.inference import ExtractorModelHandler
from pipelines.splits import assign_splits
from pipelines.transforms import ExtractPersonas, FoldDialogs, ReadDialogs, WriteShards
from schemas.esconv import iter_raw_records, list_input_files, read_dialogs
from tests.helpers import read_manifest, real_dialog_lines

RULE = resolve_extractor("rule")


def paths_of(folder: Path) -> list[str]:
    return [str(p) for p in list_input_files(folder)]


def test_read_dialogs_splits_validates_and_rejects_duplicates(tmp_path: Path, small_esconv: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    for f in small_esconv.iterdir():
        (folder / f.name).write_text(f.read_text())
    (folder / "test.json").write_text((folder / "test.json").read_text() + "{oops\n" + real_dialog_lines("train", 1)[0])
    records = [r for p in list_input_files(folder) for r in iter_raw_records(p)]
    expected_splits = dict(zip(((r.source, r.index) for r in records), assign_splits(records, "pal")))
    dialogs, _ = read_dialogs(folder)  # the reference reader (outside Beam) keeps the first of duplicates
    expected = sorted((d.dialog_id, expected_splits[(d.source, d.source_index)]) for d in dialogs)
    with BeamTestPipeline() as p:
        read = p | ReadDialogs(paths_of(folder), BuildSettings(scheme="pal"), str(tmp_path / "counts"))
        assert_that(read["dialogs"] | beam.Map(lambda kv: (kv[0], kv[1].split)), equal_to(expected), label="dialogs")
        assert_that(read["rejects"] | beam.Map(lambda r: (r["source"], r["reason"].split(" (")[0].split(":")[0])),
                    equal_to([("test.json", "malformed JSON at line 3"), ("test.json", "duplicate of train.json#0")]),
                    label="rejects")
    counts = json.loads((tmp_path / "counts" / "read.json").read_text())
    assert counts == {"train.json": 3, "valid.json": 2, "test.json": 4}


def test_read_dialogs_max_dialogs_takes_the_first_records_in_file_order(tmp_path: Path, small_esconv: Path):
    dialogs, _ = read_dialogs(small_esconv)
    with BeamTestPipeline() as p:
        read = p | ReadDialogs(paths_of(small_esconv), BuildSettings(max_dialogs=4), str(tmp_path / "counts"))
        assert_that(read["dialogs"] | beam.Map(lambda kv: (kv[1].order, kv[0], kv[1].split)),
                    equal_to([(i, d.dialog_id, d.source.split(".")[0]) for i, d in enumerate(dialogs[:4])]))


def keyed(dialogs):
    from pipelines.elements import ValidDialog
    from schemas.esconv import RawRecord

    return [(d.dialog_id, ValidDialog(d, i, "train", RawRecord(d.source, d.source_index, None)))
            for i, d in enumerate(dialogs)]


def test_extract_personas_with_the_rule_extractor(tmp_path: Path, small_esconv: Path):
    dialogs, _ = read_dialogs(small_esconv)
    unique = list(dict.fromkeys(inp for d in dialogs for inp, _ in extraction_requests(d, 3, UTTERANCE)))
    decided = dict(zip(unique, steps.asked(steps.persona_check(BuildSettings()), BuildSettings(), unique)))
    expected = sorted((d.dialog_id, p, tuple(rule_baseline([d.turns[p].text]) if decided[inp] else ()))
                      for d in dialogs for inp, p in extraction_requests(d, 3, UTTERANCE))
    with BeamTestPipeline() as p:
        out = (p | beam.Create(keyed(dialogs))
               | ExtractPersonas(ExtractorModelHandler(RULE, 4), RULE.fingerprint, str(tmp_path / "cache"),
                                 str(tmp_path / "counts"), BuildSettings(context=UTTERANCE)))
        assert_that(out | beam.Map(lambda kv: (kv[0], kv[1].turn,
                                               tuple(g.generated or g.sentence for g in kv[1].outcome.sentences
                                                     if not g.fallback and not g.part))),
                    equal_to(expected), label="sentences")
        # every proposal the check drops says which check (a clause split from a kept proposal, why it is left out);
        # what it keeps carries its evidence span
        assert_that(out | beam.Map(lambda kv: all((g.supported and g.span is not None) or g.reason in CHECKS
                                                  or (g.part is not None and g.reason == SPLIT_LEFT_OUT)
                                                  for g in kv[1].outcome.sentences)),
                    equal_to([True] * len(expected)), label="drops are named, kept sentences located")
    asked = sum(decided.values())
    lexical = sum(may_state_a_fact(inp.utterances) for inp in unique)
    assert 0 < asked < lexical < len(unique)  # real dialogs have turns that state nothing ("Thank you!") and turns
    # whose statements the fact classifier finds no persona fact in ("I appreciate your suggestions.")
    assert json.loads((tmp_path / "counts" / "inference.json").read_text()) == {"inferred": asked,
                                                                              "skipped": len(unique) - asked}


@dataclass
class FailingExtractor(RuleExtractor):
    """The rule extractor, but the model 'crashes' on any input that contains BOOM."""

    def extract(self, inputs):
        if any("BOOM" in " ".join(i.utterances) for i in inputs):
            raise ValueError("the model cannot read BOOM")
        return super().extract(inputs)


@dataclass(frozen=True)
class FailingSpec:
    fingerprint: str = "failing-test-extractor"

    def load(self):
        return FailingExtractor(model=None, tokenizer=None, settings=RULE.settings)


def test_an_input_that_makes_the_model_fail_becomes_a_reject(tmp_path: Path, small_esconv: Path):
    dialogs, _ = read_dialogs(small_esconv)
    bad = dialogs[1]
    turns = list(bad.turns)
    p0 = seeker_positions(bad)[2]
    turns[p0] = dataclasses.replace(turns[p0], text=turns[p0].text + " BOOM")
    dialogs[1] = dataclasses.replace(bad, turns=tuple(turns))
    good_ids = sorted(d.dialog_id for i, d in enumerate(dialogs) if i != 1)
    with BeamTestPipeline() as p:
        dialog_pc = p | beam.Create(keyed(dialogs))
        outcomes = dialog_pc | ExtractPersonas(ExtractorModelHandler(FailingSpec(), 8), "failing-test-extractor",
                                               str(tmp_path / "cache"), str(tmp_path / "counts"))
        folded = {"dialog": dialog_pc, "persona": outcomes} | FoldDialogs()
        assert_that(folded["rows"] | beam.Map(lambda r: r["dialog_id"]), equal_to(good_ids), label="rows")
        assert_that(folded["rejects"] | beam.Map(lambda r: (r["dialog_id"], r["reason"])),
                    equal_to([(dialogs[1].dialog_id, f"persona inference failed on seeker turn {p0}: "
                                                     "ValueError: the model cannot read BOOM")]), label="rejects")
    assert json.loads((tmp_path / "counts" / "inference.json").read_text())["failed"] == 1


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("text", ["Could you say that again, BOOM?", "Thank you, I appreciate your suggestions BOOM."])
def test_an_input_that_states_nothing_never_reaches_the_model(tmp_path: Path, small_esconv: Path, skip: bool,
                                                              text: str):
    """A seeker turn with no statement the check could keep (a question), or none the fact classifier finds a persona
    fact in (thanks), is not sent to the model: the model that fails on BOOM never sees it. Without the skip
    (`--keep-unsupported` builds) it does."""
    dialogs, _ = read_dialogs(small_esconv)
    turns = list(dialogs[0].turns)
    p0 = seeker_positions(dialogs[0])[1]
    turns[p0] = dataclasses.replace(turns[p0], text=text)
    dialogs[0] = dataclasses.replace(dialogs[0], turns=tuple(turns))
    with BeamTestPipeline() as p:
        dialog_pc = p | beam.Create(keyed(dialogs))
        outcomes = dialog_pc | ExtractPersonas(ExtractorModelHandler(FailingSpec(), 8), "failing-test-extractor",
                                               str(tmp_path / "cache"), str(tmp_path / "counts"),
                                               BuildSettings(skip_statementless=skip))
        folded = {"dialog": dialog_pc, "persona": outcomes} | FoldDialogs()
        assert_that(folded["rejects"] | beam.Map(lambda r: r["dialog_id"]),
                    equal_to([] if skip else [dialogs[0].dialog_id]))
    tally = json.loads((tmp_path / "counts" / "inference.json").read_text())
    assert ("failed" in tally) != skip and ("skipped" in tally) == skip


def test_write_shards_is_deterministic_and_one_file_per_shard(tmp_path: Path):
    rows = [{"_order": i, "_turns": 1, "_generated": 0, "_repeats": i % 2, "dialog_id": f"esconv-{i:04d}", "split": "train" if i % 3 else "test",
             "source": "x", "experience_type": None, "emotion_type": None, "problem_type": None, "situation": None,
             "survey_score": {}, "dialog": [], "persona": [], "persona_evidence": [], "persona_list": []}
            for i in range(40)]
    for run in ("a", "b"):
        with BeamTestPipeline() as p:
            _ = p | beam.Create(list(reversed(rows)) if run == "b" else rows) | WriteShards(
                str(tmp_path / run), 3, str(tmp_path / f"counts-{run}"))
    names = sorted(f.name for f in (tmp_path / "a").iterdir())
    assert names == sorted(f.name for f in (tmp_path / "b").iterdir()) and len(names) == 6
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)
    assert json.loads((tmp_path / "counts-a" / "rows.json").read_text()) == {"rows": 40, "turns": 40, "generated": 0,
                                                                                "repeated_utterances": 20}
    packed = steps.pack_row({**rows[1], "persona": ["I lost my job."] * 50}, 3)  # rows travel compressed, losslessly
    assert steps.unpack_row(packed) == {k: v for k, v in {**rows[1], "persona": ["I lost my job."] * 50}.items()
                                        if not k.startswith("_")}
    assert (packed.split, packed.order, packed.shard) == ("train", 1, steps.shard_of("esconv-0001", 3))
    assert len(packed.data) < 300


RULE_BUILD = ["--extractor", "rule", "--num-shards", "2", "--progress-every", "1"]


@pytest.fixture(scope="module")
def local_rule_build(tmp_path_factory, small_esconv: Path) -> Path:
    """The reference: the rule build of the small ESConv folder on the default local runner."""
    out = tmp_path_factory.mktemp("local") / "one"
    assert main(["--input", str(small_esconv), *RULE_BUILD, "--output", str(out)]) == 0
    return out


@pytest.mark.slow
def test_separate_worker_processes_write_identical_shards(tmp_path: Path, small_esconv: Path, local_rule_build: Path):
    common = ["--input", str(small_esconv), *RULE_BUILD]
    assert main([*common, "--output", str(tmp_path / "two"), "--direct_running_mode=multi_processing",
                 "--direct_num_workers=2"]) == 0
    one, two = read_manifest(local_rule_build), read_manifest(tmp_path / "two")
    assert one["shards"] == two["shards"] and one["counts"] == two["counts"]
    assert one["counts"]["read"] == one["counts"]["written"] == 7
    assert two["settings"]["beam_options"] == ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


@pytest.mark.slow
def test_portable_runner_with_an_external_worker_pool_writes_identical_shards(tmp_path: Path, small_esconv: Path,
                                                                             local_rule_build: Path):
    """The path a Flink or Spark cluster takes: the pipeline is translated to Beam's portable form, submitted
    through the Job API (Beam's embedded job service stands in for the runner's Java job server) and run by
    SDK workers that a separate worker-pool process starts (`--environment_type EXTERNAL`, as a Beam worker
    pool beside each Flink task manager or Spark executor). The shards must equal the local runner's."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    log = tmp_path / "pool.log"
    with open(log, "w") as out:
        pool = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                                 "--service_port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
        # (the pool starts its workers as "python ...": this interpreter's, whatever PATH says)
    try:
        deadline = time.time() + 60
        while "Started worker pool" not in log.read_text() and time.time() < deadline:
            time.sleep(0.5)
        assert main(["--input", str(small_esconv), *RULE_BUILD, "--output", str(tmp_path / "portable"),
                     "--runner", "PortableRunner",
                     "--job_endpoint", "embed", "--environment_type", "EXTERNAL",
                     "--environment_config", f"localhost:{port}"]) == 0
    finally:
        pool.terminate()
        pool.wait(timeout=30)
    assert "Starting worker" in log.read_text()  # the work ran in the pool's worker processes
    local, portable = read_manifest(local_rule_build), read_manifest(tmp_path / "portable")
    assert local["shards"] == portable["shards"] and local["counts"] == portable["counts"]
    assert portable["counts"]["read"] == portable["counts"]["written"] == 7
    for shard in (local_rule_build / "data").iterdir():
        assert shard.read_bytes() == (tmp_path / "portable" / "data" / shard.name).read_bytes()


@pytest.mark.slow
def test_run_builds_on_a_given_pipeline_and_returns_the_manifest(tmp_path: Path, small_esconv: Path,
                                                                 local_rule_build: Path):
    """`run(argv, test_pipeline)`: the same graph on the pipeline a caller hands in, the same shards as the
    command, and the manifest it wrote returned."""
    from pipelines.build_pesconv import run

    out = tmp_path / "given"
    result = run(["--input", str(small_esconv), *RULE_BUILD, "--output", str(out)], test_pipeline=BeamTestPipeline())
    assert result.exit_code == 0 and result.output == str(out)
    assert result.manifest == read_manifest(out)
    reference = read_manifest(local_rule_build)
    assert result.manifest["shards"] == reference["shards"] and result.manifest["counts"] == reference["counts"]
    assert result.manifest["settings"]["persona_style"] == "fact"
