"""The build as four composite Beam transforms: ReadDialogs -> ExtractPersonas -> FoldDialogs -> WriteShards.

    dialogs, rejects = pipeline | ReadDialogs(files, settings, counts)                       (dialog_id, ValidDialog)
    outcomes = dialogs | ExtractPersonas(handler, fingerprint, cache, counts, settings)    (dialog_id, TurnOutcome)
    folded = {"dialog": dialogs, "persona": outcomes} | FoldDialogs(settings)  rows, unsupported, cut, rejects
    folded["rows"] | WriteShards(data_dir, num_shards, counts)

Every transform reads one frozen `BuildSettings`, runs on workers (nothing is loaded on the driver), writes
through Beam's FileSystems, and tallies what it counts through one transform (`Tally`: a small count file in
`counts/`, from which the driver does the final accounting, on any runner).
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, RunInference

from pipelines import build_steps as steps
from pipelines import files
from pipelines.build_settings import DEFAULT_SETTINGS, BuildSettings
from pipelines.elements import Outcome, SourceFile


class Tally(beam.PTransform):
    """Count dicts ({"inferred": 1}, ...) -> their field-wise sum, written to `counts/NAME.json`: the build's one
    way of counting, read back by the driver (runner metrics are for progress only)."""

    def __init__(self, counts_dir: str, name: str):
        super().__init__()
        self.path = files.join(counts_dir, f"{name}.json")

    def expand(self, counts):
        return (counts | "Sum" >> beam.CombineGlobally(steps.add_counts)
                | "Write" >> beam.Map(steps.write_json, self.path))


class ReadDialogs(beam.PTransform):
    """Input files -> {"dialogs": (dialog_id, ValidDialog), "rejects": reject rows}.

    Each file is read by a worker; the split of a record depends on its position among all records,
    which the workers compute from the per-file record counts (a small side input). Writes
    `counts/read.json` (records read, per file) and `counts/files.json` (size and sha256 of each file)."""

    def __init__(self, paths: list[str], settings: BuildSettings, counts_dir: str):
        super().__init__()
        self.paths, self.settings, self.counts_dir = paths, settings, counts_dir

    def expand(self, pbegin):
        s = self.settings
        names = {i: p.rstrip("/").rsplit("/", 1)[-1] for i, p in enumerate(self.paths)}
        read = (pbegin | "Files" >> beam.Create([SourceFile(i, p) for i, p in enumerate(self.paths)])
                | "ReadFiles" >> beam.ParDo(steps.ReadRecords()).with_outputs(steps.FILE_INFO, main="records"))
        sizes = read.records | "FileRank" >> beam.Map(lambda item: item[0]) | "PerFile" >> beam.combiners.Count.PerElement()
        located = read.records | "Locate" >> beam.FlatMap(
            steps.locate, beam.pvalue.AsDict(sizes), names, s.max_dialogs, s.scheme, s.ratio, s.seed)
        validated = located | "Validate" >> beam.ParDo(steps.ValidateDialog()).with_outputs(steps.REJECTS, main="ok")
        unique = (validated.ok | "ById" >> beam.GroupByKey()
                  | "FirstCopy" >> beam.FlatMap(steps.keep_first_of_duplicates).with_outputs(steps.REJECTS, main="ok"))
        _ = (located | "SourceOf" >> beam.Map(lambda loc: {loc.record.source: 1})
             | "CountRead" >> Tally(self.counts_dir, "read"))
        _ = (read[steps.FILE_INFO] | "FileInfos" >> beam.combiners.ToList()
             | "WriteFiles" >> beam.Map(lambda rows, path: steps.write_json(sorted(rows, key=lambda r: r["rank"]), path),
                                        files.join(self.counts_dir, "files.json")))
        rejects = (validated[steps.REJECTS], unique[steps.REJECTS]) | "ReadRejects" >> beam.Flatten()
        return {"dialogs": unique.ok, "rejects": rejects}


class ExtractPersonas(beam.PTransform):
    """(dialog_id, ValidDialog) -> (dialog_id, TurnOutcome): every request inferred once, cached, grounded.

    Identical inputs are inferred once (`beam.Distinct`); cached results skip the model, and so (with
    `skip_statementless`, whenever the check drops) does an input the extractor is not asked about
    (`build_steps.asked`: no statement the check could keep, as "Thank you!" or a question, or none the fact
    classifier finds likely to be a persona fact): its outcome is empty. Inference is
    `RunInference` with exception handling: a batch that makes the model fail is retried one input at a
    time, and an input that fails alone becomes an Outcome with the error (its dialog is rejected by
    FoldDialogs) instead of aborting the build. Writes `counts/inference.json`."""

    def __init__(self, handler: ModelHandler, fingerprint: str, cache_dir: str, counts_dir: str,
                 settings: BuildSettings = DEFAULT_SETTINGS):
        super().__init__()
        self.handler, self.fingerprint, self.cache_dir, self.counts_dir = handler, fingerprint, cache_dir, counts_dir
        self.settings = settings

    def expand(self, dialogs):
        from pipelines.inference import SplitCached, StoreResults

        s = self.settings
        requests = dialogs | "Expand" >> beam.FlatMap(steps.expand_requests, s.start_utterance, s.context,
                                                      self.fingerprint)
        unique = (requests | "KeyedInputs" >> beam.Map(lambda r: (r.key, r.input))
                  | "Unique" >> beam.Distinct())
        routed = (unique | "AskBatches" >> beam.BatchElements(min_batch_size=16, max_batch_size=512)
                  | "AskOrSkip" >> beam.ParDo(steps.AskOrSkip(s)).with_outputs(
                      steps.AskOrSkip.NOTHING, steps.AskOrSkip.TIMING, main="asked"))
        unique = routed.asked
        nothing = routed[steps.AskOrSkip.NOTHING] | "NothingToKeep" >> beam.Map(lambda keyed: (keyed[0], Outcome()))
        looked_up = unique | "Cache" >> beam.ParDo(SplitCached(self.cache_dir, self.fingerprint)).with_outputs(
            SplitCached.MISSING, main="hit")
        # Like a careful loop, feed the model inputs sorted by length: a batch of similar inputs pads little
        # and, since short inputs give short answers, finishes generating together.
        missing = (looked_up[SplitCached.MISSING] | "ByLength" >> beam.GroupBy(steps.length_band)
                   | "ShortestFirst" >> beam.FlatMap(steps.sorted_by_length))
        inferred, failed = missing | "Infer" >> RunInference(KeyedModelHandler(self.handler)).with_exception_handling()
        retried, failed_alone = (failed.failed_inferences | "FailedBatch" >> beam.FlatMap(lambda bad: bad[0])
                                 | "InferAlone" >> RunInference(KeyedModelHandler(self.handler.one_at_a_time()))
                                 .with_exception_handling())
        # Stored right where each inference runs (not after a Flatten, which the local runner materialises):
        # every finished batch is in the cache at once, so progress shows and an interrupted build resumes.
        store = StoreResults(self.cache_dir, self.fingerprint, every_s=s.progress_every)
        stored = ((inferred | "Store" >> beam.ParDo(store), retried | "StoreRetried" >> beam.ParDo(store))
                  | "Inferred" >> beam.Flatten())
        errors = failed_alone.failed_inferences | "Errors" >> beam.FlatMap(
            lambda bad: [(key, Outcome(error=steps.error_text(bad[1]))) for key, _ in bad[0]])
        checked = ((looked_up.hit, stored) | "AllResults" >> beam.Flatten()
                   | "BatchResults" >> beam.BatchElements(min_batch_size=16, max_batch_size=512)
                   | "Ground" >> beam.ParDo(steps.GroundPersonas(s, timing=True)).with_outputs(
                       steps.GroundPersonas.TIMING, main="outcome"))
        grounded = checked.outcome | "CheckProgress" >> beam.ParDo(
            steps.LogProgress("inputs_checked", "persona check: inputs checked", s.progress_every))
        _ = ((checked[steps.GroundPersonas.TIMING], routed[steps.AskOrSkip.TIMING]) | "CheckTimes" >> beam.Flatten()
             | "CheckTime" >> Tally(self.counts_dir, "check_time"))
        outcomes = (grounded, errors, nothing) | "Outcomes" >> beam.Flatten()
        _ = ((looked_up.hit | "Hit" >> beam.Map(lambda _: {"reused_from_cache": 1}),
              stored | "New" >> beam.Map(lambda _: {"inferred": 1}),
              errors | "Err" >> beam.Map(lambda _: {"failed": 1}),
              nothing | "Skipped" >> beam.Map(lambda _: {"skipped": 1}))
             | "Tallies" >> beam.Flatten() | "Tally" >> Tally(self.counts_dir, "inference"))
        return ({"request": requests | "ByKey" >> beam.Map(lambda r: (r.key, (r.dialog_id, r.turn))),
                 "outcome": outcomes}
                | "JoinOutcomes" >> beam.CoGroupByKey()
                | "PerDialog" >> beam.FlatMap(steps.place_outcomes))


class FoldDialogs(beam.PTransform):
    """{"dialog", "persona"} -> {"rows", "unsupported", "cut", "rejects"}: one PESConv row per dialog (fold_dialog);
    the sentences the check dropped, and those it kept less a remark clause."""

    def __init__(self, settings: BuildSettings = DEFAULT_SETTINGS):
        super().__init__()
        self.settings = settings

    def expand(self, joined):
        folded = (joined | "JoinDialog" >> beam.CoGroupByKey()
                  | "Fold" >> beam.FlatMap(steps.fold_dialog, self.settings).with_outputs(
                      steps.UNSUPPORTED, steps.CUT, steps.REJECTS, main="rows"))
        rows = folded.rows | "Progress" >> beam.ParDo(steps.LogProgress("dialogs_folded", "dialogs folded",
                                                                        self.settings.progress_every))
        return {"rows": rows, "unsupported": folded[steps.UNSUPPORTED], "cut": folded[steps.CUT],
                "rejects": folded[steps.REJECTS]}


class WriteShards(beam.PTransform):
    """PESConv rows -> `data/{split}-0000i-of-0000n.parquet`, one worker per shard (stable hash of the
    dialog id), rows in input order, compressed on their way to the shard (PackedRow): the same input and settings give byte-identical shards. Writes
    `counts/rows.json` (rows, annotated turns, generated sentences, utterances repeating the one before)."""

    def __init__(self, data_dir: str, num_shards: int, counts_dir: str):
        super().__init__()
        self.data_dir, self.num_shards, self.counts_dir = data_dir, num_shards, counts_dir

    def expand(self, rows):
        n = self.num_shards
        packed = rows | "Pack" >> beam.Map(steps.pack_row, n)
        _ = (packed | "ToShard" >> beam.Map(lambda p: ((p.split, p.shard), p))
             | "ByShard" >> beam.GroupByKey()
             | "Write" >> beam.FlatMap(steps.write_shard, self.data_dir, n))
        return (packed | "RowCounts" >> beam.Map(lambda p: {"rows": 1, "turns": p.turns, "generated": p.generated,
                                                           "repeated_utterances": p.repeats})
                | "SumRows" >> Tally(self.counts_dir, "rows"))


class WriteJsonLines(beam.PTransform):
    """A (small) PCollection of dicts -> one JSON-lines file in a fixed order."""

    def __init__(self, path: str, sort_key):
        super().__init__()
        self.path, self.sort_key = path, sort_key

    def expand(self, pcoll):
        return (pcoll | "Collect" >> beam.combiners.ToList()
                | "Write" >> beam.FlatMap(steps.write_jsonl, self.path, self.sort_key))
