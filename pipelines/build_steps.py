"""The build's element-wise steps (DoFns and functions), composed by `pipelines.transforms`.

Each step is plain Python on one element (or one group), so a worker on any runner can run it;
files are read and written through Beam's FileSystems (`pipelines.files`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import time
import zlib
from functools import lru_cache
from typing import Any, Iterable, Sequence

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from common.cli import InputError
from extractor.dedup import merge_persona
from extractor.formatting import ExtractionInput
from extractor.grounding import NO_SUPPORT
from extractor.referents import dialog_mentions, name_the_person
from extractor.requests import UTTERANCE, WHOLE_DIALOG, annotated_positions, extraction_requests, seeker_positions
from extractor.standalone import shipped_scorer
from extractor.statements import strip_end
from extractor.verifier import OPENING_WORD, SEEKER_CLAUSE, SPLIT, SPLIT_LEFT_OUT, TURN_COUNTER
from pipelines import files
from pipelines.build_settings import DEFAULT_SETTINGS, BuildSettings
from pipelines.elements import (
    GroundedSentence,
    Located,
    Outcome,
    PackedRow,
    Request,
    SourceFile,
    TurnOutcome,
    ValidDialog,
    reject_row,
)
from pipelines.inference_cache import request_key
from pipelines.splits import assign_splits
from schemas.esconv import Dialog, InvalidDialog, RawRecord, normalise_dialog, parse_raw, records_from_text
from schemas.pesconv import PERSONA_JOINER, PESCONV_SCHEMA, repeats_previous

log = logging.getLogger("pesconv")
NAMESPACE = "pesconv"
REJECTS = "rejects"
UNSUPPORTED = "unsupported"
CUT = "cut"  # sentences kept other than the extractor wrote them (rewritten.jsonl), with the change:
REMARK_CUT = "remark clause cut"  # less a clause that only addresses the supporter (extractor.remarks)
QUOTED = "the seeker's words quoted"  # the seeker's statement in place of a paraphrase (SupportScorer.quote)
OPENING_CUT = OPENING_WORD  # less an opening conjunction or answer word (extractor.verifier, fact style)
COUNTER_CUT = TURN_COUNTER  # less an ESConv turn counter ("(7)") or a trailing comma (extractor.verifier, fact style)
IMPLIED_KEPT = "kept as implied (implied-fact judge)"  # a proposal in other words that an earlier check dropped
FALLBACK = SEEKER_CLAUSE  # the seeker's own clause, no kept proposal resting on it (extractor.verifier)
REFERENT = "pronoun named"  # "he" replaced by the person the dialog named before ("my husband"; extractor.referents)
FILE_INFO = "file_info"


# ------------------------------------------------------------------------------------------------ read
class ReadRecords(beam.DoFn):
    """One input file -> its raw records (rank, RawRecord), read on the worker; plus the file's size and
    sha256 on FILE_INFO. A file that is not JSON at all becomes one error record, rejected with its reason."""

    def process(self, source: SourceFile):
        name = source.path.rstrip("/").rsplit("/", 1)[-1]
        data = files.read_bytes(source.path)
        count = 0
        try:
            for rec in records_from_text(name, data.decode("utf-8"), source.path):
                count += 1
                yield source.rank, rec
        except (InputError, UnicodeDecodeError) as exc:
            count += 1
            reason = str(exc) if isinstance(exc, InputError) else f"{source.path} is not UTF-8 text"
            yield source.rank, RawRecord(source=name, index=0, line=None, error=reason)
        yield beam.pvalue.TaggedOutput(FILE_INFO, {"name": name, "rank": source.rank, "records": count,
                                                   "sha256": hashlib.sha256(data).hexdigest()})


@lru_cache(maxsize=4)
def _splits(sizes: tuple[tuple[str, int], ...], scheme: str, ratio: str, seed: int) -> tuple[str, ...]:
    """Split of every kept record in reading order (per worker, once): the schemes need global positions."""
    stand_ins = [RawRecord(source=name, index=i, line=None) for name, n in sizes for i in range(n)]
    return tuple(assign_splits(stand_ins, scheme, ratio, seed))


def locate(item: tuple[int, RawRecord], sizes: dict[int, int], names: dict[int, str], max_dialogs: int | None,
           scheme: str, ratio: str, seed: int):
    """(file rank, record) -> Located with its global order and split; records past --max-dialogs are skipped."""
    rank, rec = item
    kept, offset, offsets = [], 0, {}
    for r in sorted(sizes):
        n = sizes[r] if max_dialogs is None else max(0, min(sizes[r], max_dialogs - offset))
        offsets[r] = offset
        kept.append((names.get(r, str(r)), n))
        offset += n
    if rec.index >= kept[sorted(sizes).index(rank)][1]:
        return
    order = offsets[rank] + rec.index
    yield Located(record=rec, order=order, split=_splits(tuple(kept), scheme, ratio, seed)[order])


class ValidateDialog(beam.DoFn):
    """Parse + normalise one record; invalid ones go to REJECTS with the reason."""

    def process(self, item: Located):
        try:
            dialog = normalise_dialog(parse_raw(item.record), item.record.source, item.record.index)
        except InvalidDialog as exc:
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(item.record, str(exc)))
            return
        where = dataclasses.replace(item.record, text=None, payload=None)  # the parsed dialog is enough to carry
        yield dialog.dialog_id, ValidDialog(dialog, item.order, item.split, where)


def keep_first_of_duplicates(kv: tuple[str, Iterable[ValidDialog]]):
    """Same content hash seen more than once: keep the first read, reject the others."""
    dialog_id, copies = kv
    ordered = sorted(copies, key=lambda c: c.order)
    first = ordered[0]
    yield dialog_id, first
    for dup in ordered[1:]:
        yield beam.pvalue.TaggedOutput(
            REJECTS, reject_row(dup.record, f"duplicate of {first.record.source}#{first.record.index}", dialog_id))


# ------------------------------------------------------------------------------------------------ extract
def expand_requests(kv: tuple[str, ValidDialog], start_utterance: int, context: str, fingerprint: str):
    """One Request per extraction the dialog needs (see extractor.requests)."""
    dialog_id, valid = kv
    for inp, turn in extraction_requests(valid.dialog, start_utterance, context):
        yield Request(request_key(fingerprint, inp), inp, dialog_id, turn)


def asked(check, settings: BuildSettings, inputs: Sequence[ExtractionInput]) -> list[bool]:
    """Which inputs the extractor is asked about: those with a statement the check could keep
    (`extractor.grounding.may_state_a_fact`: not "Thank you!" or a question) and, in fact style, a statement or clause
    the fact classifier finds likely enough to be a persona fact (`PersonaCheck.worth_asking`). `check` is the
    PersonaCheck (None in quote style). Without `skip_statementless` (`--keep-unsupported` builds) every input is
    asked. The build and the evaluation both decide by this."""
    from extractor.grounding import may_state_a_fact

    if not settings.skip_statementless:
        return [True] * len(inputs)
    lexical = [may_state_a_fact(inp.utterances) for inp in inputs]
    if check is None or settings.style != "fact":
        return lexical
    worth = iter(check.worth_asking([inp for inp, ok in zip(inputs, lexical) if ok]))
    return [ok and next(worth) for ok in lexical]


def persona_check(settings: BuildSettings):
    """The fact-style check with the build's judges and settings (its models load on first use). The steps of a
    worker process share one: deciding which inputs to ask (`AskOrSkip`) and the check (`GroundPersonas`) then load
    the judges once, and the fact classifier scores a seeker's clause once for both."""
    from extractor.verifier import JUDGES_DIR

    return _shared_check(str(settings.judges or JUDGES_DIR), settings.device, settings.check)


@lru_cache(maxsize=2)
def _shared_check(judges: str, device: str, check: Any):
    """Held for the worker's life. Not Beam's `shared.Shared`: it keeps alive only the object acquired last, which is
    RunInference's model by the time the check starts, so the asking step's PersonaCheck was gone by then."""
    from extractor.grounding import SupportScorer, minilm_embedder
    from extractor.verifier import PersonaCheck

    return PersonaCheck(SupportScorer(minilm_embedder(device)), judges, device, check)


class AskOrSkip(beam.DoFn):
    """Batches of (key, input) -> the pairs the extractor is asked about (main) and, tagged `NOTHING`, those it is not
    (`asked`), with the milliseconds the decision took tagged `TIMING` (counted with the check's time as "ask")."""

    NOTHING = "nothing"
    TIMING = "check_time"

    def __init__(self, settings: BuildSettings = DEFAULT_SETTINGS):
        self.settings = settings

    def setup(self) -> None:
        self.check = persona_check(self.settings) if self.settings.style == "fact" else None

    def process(self, batch: list[tuple[str, ExtractionInput]]):
        started = time.perf_counter()
        decisions = asked(self.check, self.settings, [inp for _, inp in batch])
        spent = round(1000 * (time.perf_counter() - started))
        for keyed, ask in zip(batch, decisions):
            yield keyed if ask else beam.pvalue.TaggedOutput(self.NOTHING, keyed)
        yield beam.pvalue.TaggedOutput(self.TIMING, {"check": spent, "ask": spent})


def length_band(keyed: tuple[str, ExtractionInput]) -> int:
    """A coarse length class of a (key, input) pair (40 characters wide) for grouping similar inputs."""
    return keyed[1].size() // 40


def sorted_by_length(band: tuple[int, Iterable[tuple[str, ExtractionInput]]]) -> list[tuple[str, ExtractionInput]]:
    """The pairs of one length band, shortest first (ties by key, so the order is the same on every run)."""
    return sorted(band[1], key=lambda keyed: (keyed[1].size(), keyed[0]))


class GroundPersonas(beam.DoFn):
    """Judge each inferred sentence against the seeker's words of its request (batches of results).

    Style "fact" (default): propose, then verify (`extractor.verifier.PersonaCheck`: the learned verifier and
    persona-fact classifier, the seeker's clause as a fallback, evidence spans). Style "quote": the grounding
    thresholds and rules (`extractor.grounding.SupportScorer.check`); with `drop_remarks`, remarks to the supporter
    are dropped too; with `quote`, a sentence that is not the seeker's own words is replaced by their statement."""

    TIMING = "check_time"  # with `timing`: a tagged output of milliseconds per batch, the check's and each model's

    def __init__(self, settings: BuildSettings = DEFAULT_SETTINGS, timing: bool = False):
        self.settings = settings
        self.style = settings.style
        self.timing = timing

    def setup(self) -> None:
        from extractor.grounding import SupportScorer, minilm_embedder

        s = self.settings
        if self.style == "fact":
            self.check = persona_check(s)
        else:
            self.scorer = SupportScorer(minilm_embedder(s.device), remarks=s.drop_remarks, quote=s.quote)

    def process(self, batch: list[tuple[str, tuple[ExtractionInput, list[str]]]]):
        started = time.perf_counter()
        models = dict(self.check.seconds) if self.style == "fact" else {}
        results = list(self._ground(batch))  # whole, so that the time leaves out the steps downstream
        spent = {"check": time.perf_counter() - started}
        if self.style == "fact":
            spent.update((task, self.check.seconds[task] - models.get(task, 0.0)) for task in self.check.seconds)
        yield from results
        if self.timing:
            yield beam.pvalue.TaggedOutput(self.TIMING, {k: round(1000 * v) for k, v in spent.items()})

    def _ground(self, batch: list[tuple[str, tuple[ExtractionInput, list[str]]]]):
        if self.style == "fact":
            verdicts = self.check.check_many([(inp, sents) for _, (inp, sents) in batch])
            for (key, _), found in zip(batch, verdicts):
                yield key, Outcome(tuple(GroundedSentence(v.sentence, v.kept, v.utterance, 0.0, 0.0, v.reason,
                                                          v.proposed, False, v.span, v.fallback,
                                                          _rounded(v.stated), _rounded(v.fact), v.part,
                                                          _rounded(v.faithful), v.widened, _rounded(v.implied))
                                       for v in found))
            return
        from extractor.grounding import needs_model

        modelled = [(inp, sents) for _, (inp, sents) in batch if needs_model(sents, inp.utterances)]
        if modelled:  # copies (the rule extractor) are supported as they are: nothing to compare them with
            self.scorer.prepare([t for inp, sents in modelled for t in (*inp.utterances, *sents)])
        if self.settings.drop_remarks:  # every sentence is embedded for the remark detector, in one batch
            self.scorer.prepare([s for _, (_, sents) in batch for s in sents])
        for key, (inp, sentences) in batch:
            supports = self.scorer.check(sentences, list(inp.utterances))
            yield key, Outcome(tuple(GroundedSentence(x.kept_text(s), x.supported, x.utterance, round(x.cosine, 4),
                                                      round(x.lexical, 4), x.reason, s if x.text else None, x.quoted)
                                     for s, x in zip(sentences, supports)))


def _rounded(p: float | None) -> float | None:
    return None if p is None else round(p, 4)


def error_text(info: Any) -> str:
    """One line from what RunInference's dead-letter output holds: an exception, or (type, repr, traceback lines)."""
    if isinstance(info, BaseException):
        return f"{type(info).__name__}: {info}"[:300]
    if isinstance(info, tuple) and len(info) >= 3 and info[2]:
        return str(info[2][-1]).strip()[:300]  # the traceback's last line: "ValueError: message"
    return str(info)[:300]


def place_outcomes(kv: tuple[str, dict[str, list]]):
    """(key, {requests, outcome}) -> (dialog id, TurnOutcome) for every request that asked for this input."""
    _, groups = kv
    outcome = groups["outcome"][0] if groups["outcome"] else Outcome(error="no result came back for this input")
    for dialog_id, turn in groups["request"]:
        yield dialog_id, TurnOutcome(turn, outcome)


# ------------------------------------------------------------------------------------------------ fold
def _turn_of(dialog: Dialog, turn: int, utterance: int | None, context: str) -> int:
    """The dialog position of the seeker turn a grounded sentence came from."""
    if context == UTTERANCE:
        return turn
    seekers = seeker_positions(dialog)
    last = len(dialog.turns) - 1 if turn == WHOLE_DIALOG else turn
    upto = [p for p in seekers if p <= last]
    return upto[utterance] if utterance is not None and utterance < len(upto) else (upto[-1] if upto else 0)


class PersonaState:
    """The persona visible so far: sentences with the seeker turn each came from (evidence) and the span of that
    turn's text it rests on ([-1, -1] where none is recorded)."""

    def __init__(self) -> None:
        self.sentences: list[str] = []
        self.evidence: list[int] = []
        self.spans: list[list[int]] = []

    def merge(self, facts: list[tuple[str, int, tuple[int, int] | None]], threshold: float) -> None:
        merged = merge_persona(self.sentences, [s for s, _, _ in facts], threshold)
        where: dict[str, tuple[int, tuple[int, int] | None]] = {}
        for s, t, span in facts:
            where.setdefault(s, (t, span))
        for s in merged[len(self.sentences):]:
            turn, span = where[s]
            self.evidence.append(turn)
            self.spans.append(list(span) if span else [-1, -1])
        self.sentences = merged


def _change(g: GroundedSentence) -> str:
    """How a kept sentence differs from what the extractor wrote (a line of rewritten.jsonl)."""
    if g.quoted:
        return QUOTED
    if g.widened:
        return g.widened
    if g.fallback:
        return FALLBACK
    if g.part is not None:
        return SPLIT if g.supported else g.reason or SPLIT_LEFT_OUT
    if g.stated is None:
        return REMARK_CUT
    return COUNTER_CUT if g.generated and strip_end(g.generated) != g.generated else OPENING_CUT


def fold_dialog(kv: tuple[str, dict[str, list]], settings: BuildSettings):
    """Build the PESConv row: the de-duplicated persona visible at every turn, each sentence with its evidence.

    Dropped sentences (no support in the seeker's words, or failing another check) are left out unless
    `keep_unsupported`; either way each one leaves on UNSUPPORTED with its reason, so the manifest counts them; a
    sentence kept other than the extractor wrote it (less a remark clause or an opening word, quoted, or the
    seeker's own clause as a fallback) leaves on CUT with the change. A dialog one of whose
    requests made the model fail is rejected with the error (REJECTS), never written half-annotated."""
    dialog_id, groups = kv
    start_utterance, merge_threshold = settings.start_utterance, settings.merge_threshold
    context, keep_unsupported = settings.context, settings.keep_unsupported
    referents = settings.referents and settings.style == "fact"
    valid: ValidDialog = groups["dialog"][0]
    dialog = valid.dialog
    inferred = {t.turn: t.outcome for t in groups["persona"]}
    failed = sorted((turn, o.error) for turn, o in inferred.items() if o.error)
    if failed:
        turn, error = failed[0]
        yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
            valid.record, f"persona inference failed on seeker turn {turn}: {error}", dialog_id))
        return
    annotated = set(annotated_positions(dialog, start_utterance))
    unsupported_rows: list[dict[str, Any]] = []
    cut_rows: list[dict[str, Any]] = []  # kept other than generated
    named = referents and dialog_mentions([(t.speaker, t.text) for t in dialog.turns])

    def named_person(sentence: str, turn: int, span: tuple[int, int] | None) -> str:
        """The sentence with its pronoun replaced by the person it means, where the ranker is sure."""
        if not named:
            return sentence
        resolved, who, p = name_the_person(sentence, named, turn, span[0] if span else 0)
        if who is not None:
            cut_rows.append({"dialog_id": dialog_id, "turn": turn, "generated": sentence, "kept": resolved,
                             "change": REFERENT, "referent": who.text, "referent_turn": who.turn,
                             "probability": round(p, 4)})
        return resolved

    def facts(turn: int) -> list[tuple[str, int, tuple[int, int] | None]]:
        kept = []
        for g in inferred[turn].sentences if turn in inferred else ():
            scores = ({"stated": g.stated, "fact": g.fact, **({"faithful": g.faithful} if g.faithful is not None
                                                                else {})}
                      if g.stated is not None or g.fact is not None else {"cosine": g.cosine, "lexical": g.lexical})
            if not g.supported and g.reason == SPLIT_LEFT_OUT:  # a clause of a kept proposal, not a dropped proposal
                cut_rows.append({"dialog_id": dialog_id, "turn": turn, "generated": g.generated or "", "kept": "",
                                 "left_out": g.sentence, "fact": g.fact, "change": _change(g)})
            elif not g.supported:
                unsupported_rows.append({"dialog_id": dialog_id, "turn": turn, "sentence": g.sentence, **scores,
                                         "kept": keep_unsupported, "reason": g.reason or NO_SUPPORT,
                                         **({"generated": g.generated, "change": _change(g)} if g.generated else {})})
            elif g.generated or g.fallback:
                cut_rows.append({"dialog_id": dialog_id, "turn": turn, "generated": g.generated or "",
                                 "kept": g.sentence, "change": _change(g)})
            elif g.implied is not None:  # kept as proposed, though the verifier, the rewrite judge or NEW_WORD had not
                cut_rows.append({"dialog_id": dialog_id, "turn": turn, "generated": g.sentence, "kept": g.sentence,
                                 "change": IMPLIED_KEPT, "implied": g.implied, "stated": g.stated})
            if g.supported or keep_unsupported:
                span = g.span if g.span is not None and context == UTTERANCE else None
                where = _turn_of(dialog, turn, g.utterance, context)
                kept.append((named_person(g.sentence, where, span) if g.supported else g.sentence, where, span))
        return kept

    visible = PersonaState()
    persona_list: list[str] = []
    turns = []
    for i, t in enumerate(dialog.turns):
        if i in inferred:  # the turns that had a request: every seeker turn, or the annotated ones (cumulative)
            visible.merge(facts(i), merge_threshold)
        shown = bool(annotated) and i >= min(annotated)  # no persona before the start utterance
        if i in annotated:
            persona_list.append(PERSONA_JOINER.join(visible.sentences))
        turns.append({"speaker": t.speaker, "text": t.text, "strategy": t.strategy, "feedback": t.feedback,
                      "persona": list(visible.sentences) if shown else [],
                      "persona_evidence": list(visible.evidence) if shown else [],
                      "persona_span": [list(x) for x in visible.spans] if shown else [],
                      "persona_inferred": i in annotated})
    if context == UTTERANCE:
        whole = visible
    else:
        whole = PersonaState()
        whole.merge(facts(WHOLE_DIALOG), merge_threshold)
    distinct = list(dict.fromkeys([*whole.sentences, *(s for t in turns for s in t["persona"])]))
    standalone = dict(zip(distinct, shipped_scorer().probability(distinct)))
    for t in turns:
        t["persona_standalone"] = [standalone[s] for s in t["persona"]]
    for row in unsupported_rows:
        yield beam.pvalue.TaggedOutput(UNSUPPORTED, row)
    for row in cut_rows:
        yield beam.pvalue.TaggedOutput(CUT, row)
    yield {
        "_order": valid.order,
        "_generated": sum(not g.fallback and not g.part for o in inferred.values() for g in o.sentences),
        "_turns": len(annotated),
        "_repeats": sum(repeats_previous(t.text, t.speaker, u.text, u.speaker)
                        for u, t in zip(dialog.turns, dialog.turns[1:])),
        "dialog_id": dialog_id,
        "split": valid.split,
        "source": f"{dialog.source}#{dialog.source_index}",
        "experience_type": dialog.experience_type,
        "emotion_type": dialog.emotion_type,
        "problem_type": dialog.problem_type,
        "situation": dialog.situation,
        "survey_score": {**dialog.survey, "supporter_relevance": dialog.supporter_relevance},
        "dialog": turns,
        "persona": whole.sentences,
        "persona_evidence": whole.evidence,
        "persona_span": whole.spans,
        "persona_standalone": [standalone[s] for s in whole.sentences],
        "persona_list": persona_list,
    }


# ------------------------------------------------------------------------------------------------ write
def shard_of(dialog_id: str, num_shards: int) -> int:
    """A dialog's shard: a stable hash of its id, so the same input always lands in the same file."""
    return int(hashlib.sha256(dialog_id.encode("utf-8")).hexdigest()[:8], 16) % num_shards


def shard_name(split: str, index: int, num_shards: int) -> str:
    return f"{split}-{index:05d}-of-{num_shards:05d}.parquet"


def parquet_bytes(rows: list[dict]) -> bytes:
    """PESConv rows (internal `_` fields left out) as one Parquet file."""
    table = pa.Table.from_pylist([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                                 schema=PESCONV_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def pack_row(row: dict[str, Any], num_shards: int) -> PackedRow:
    """A folded row, compressed for the shuffle to its shard (see PackedRow)."""
    data = zlib.compress(json.dumps({k: v for k, v in row.items() if not k.startswith("_")},
                                    ensure_ascii=False).encode("utf-8"), 6)
    return PackedRow(row["split"], shard_of(row["dialog_id"], num_shards), row["_order"], row["_turns"],
                     row["_generated"], row["_repeats"], data)


def unpack_row(packed: PackedRow) -> dict[str, Any]:
    return json.loads(zlib.decompress(packed.data).decode("utf-8"))


def write_shard(kv: tuple[tuple[str, int], Iterable[PackedRow]], data_dir: str, num_shards: int):
    """One shard of one split, rows in input order; one worker per shard."""
    (split, index), packed = kv
    rows = [unpack_row(p) for p in sorted(packed, key=lambda p: p.order)]
    files.write_bytes(files.join(data_dir, shard_name(split, index, num_shards)), parquet_bytes(rows))
    yield split, len(rows)


def write_jsonl(rows: list[dict], path: str, sort_key) -> Iterable[int]:
    """Rows as JSON lines in a fixed order (the same input gives the same file)."""
    rows = sorted(rows, key=sort_key)
    files.write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    yield len(rows)


def write_json(value: Any, path: str) -> Any:
    files.write_text(path, json.dumps(value, sort_keys=True) + "\n")
    return value


def add_counts(rows: Iterable[dict[str, int]]) -> dict[str, int]:
    """CombineGlobally: field-wise sum of count dicts."""
    total: dict[str, int] = {}
    for row in rows:
        for k, v in row.items():
            total[k] = total.get(k, 0) + v
    return total


class LogProgress(beam.DoFn):
    """Counts elements into a Beam metric and logs a line every `every_s` seconds: works on any runner
    (the runner's UI shows the metric; local runs print the lines)."""

    def __init__(self, name: str, what: str, every_s: float = 10.0):
        self.name, self.what, self.every_s = name, what, every_s
        self.counter = beam.metrics.Metrics.counter(NAMESPACE, name)

    def setup(self) -> None:
        self.count, self.started, self.last = 0, time.monotonic(), time.monotonic()

    def process(self, element):
        self.count += 1
        self.counter.inc()
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            log.info(f"{self.what}: {self.count} in this worker, {self.count / max(now - self.started, 1e-9):.2f}/s")
        yield element
