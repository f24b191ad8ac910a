"""Persona inference inside Beam: a RunInference ModelHandler, a resumable result cache, progress.

The cache is an append-only folder of JSON-lines parts keyed by (extractor fingerprint, input):
every finished batch is flushed at once, so an interrupted build loses at most one batch and a
resumed build skips everything already inferred.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from extractor.base import PersonaExtractor
from extractor.formatting import ExtractionInput
from extractor.loading import ExtractorSpec

log = logging.getLogger("pesconv")
NAMESPACE = "pesconv"
Example = tuple[str, ExtractionInput]  # (cache key, what the extractor reads)


def request_key(fingerprint: str, inp: ExtractionInput) -> str:
    """Cache key of one extraction: the model fingerprint plus the exact input (utterances and context)."""
    blob = json.dumps([fingerprint, list(inp.utterances), inp.context], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class InferenceCache:
    """Append-only JSON-lines parts under `root/<fingerprint>/`; each writer owns one part file."""

    def __init__(self, root: str | os.PathLike, fingerprint: str):
        self.folder = Path(root) / fingerprint
        self._handle = None

    def load(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        if not self.folder.is_dir():
            return found
        for part in sorted(self.folder.glob("part-*.jsonl")):
            with open(part, encoding="utf-8") as f:
                for line in f:
                    try:  # a line cut short by a crash is simply recomputed
                        row = json.loads(line)
                        found[row["key"]] = list(row["persona"])
                    except (json.JSONDecodeError, KeyError, TypeError):
                        continue
        return found

    def append(self, rows: Iterable[tuple[str, list[str]]]) -> None:
        if self._handle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.folder / f"part-{uuid.uuid4().hex}.jsonl", "a", encoding="utf-8")
        for key, persona in rows:
            self._handle.write(json.dumps({"key": key, "persona": persona}, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Progress:
    """Process-wide progress line for local runners (a distributed runner has its own UI)."""

    _lock = threading.Lock()
    total = 0
    done = 0
    reused = 0
    dialogs = 0
    started = 0.0
    last_print = 0.0
    every_s = 10.0

    @classmethod
    def reset(cls, total: int, every_s: float = 10.0) -> None:
        with cls._lock:
            cls.total, cls.done, cls.reused, cls.dialogs, cls.every_s = total, 0, 0, 0, every_s
            cls.started = cls.last_print = time.monotonic()

    @classmethod
    def add(cls, computed: int = 0, reused: int = 0, dialogs: int = 0) -> None:
        with cls._lock:
            cls.done += computed
            cls.reused += reused
            cls.dialogs += dialogs
            now = time.monotonic()
            if now - cls.last_print < cls.every_s:
                return
            cls.last_print = now
            elapsed = max(now - cls.started, 1e-6)
            rate = cls.done / elapsed
            left = max(cls.total - cls.done - cls.reused, 0)
            eta = f", about {left / rate / 60:.1f} min left" if rate > 0 and cls.total else ""
            log.info(f"persona inference: {cls.done + cls.reused}/{cls.total or '?'} inputs "
                     f"({cls.reused} reused from cache), {rate:.2f} inputs/s{eta}; {cls.dialogs} dialogs folded")


class LazyExtractor:
    """Loads the model on the first batch: a fully cached (resumed) build never pays the load."""

    def __init__(self, spec: ExtractorSpec):
        self.spec = spec
        self._model: PersonaExtractor | None = None

    def get(self) -> PersonaExtractor:
        if self._model is None:
            started = time.monotonic()
            self._model = self.spec.load()
            log.info(f"extractor loaded in {time.monotonic() - started:.0f}s")
        return self._model


class ExtractorModelHandler(ModelHandler[Example, PredictionResult, "LazyExtractor"]):
    """RunInference handler: loads the extractor once per worker, infers batches of similar length."""

    def __init__(self, spec: ExtractorSpec, batch_size: int = 16):
        super().__init__(
            min_batch_size=1, max_batch_size=batch_size,
            # Bucket by input length so a batch pads little; boundaries are in characters.
            batch_length_fn=lambda ex: ex[1].size(),
            batch_bucket_boundaries=[200, 400, 800, 1600, 3200],
        )
        self.spec = spec

    def load_model(self) -> "LazyExtractor":
        return LazyExtractor(self.spec)

    def run_inference(self, batch: Sequence[Example], lazy: "LazyExtractor",
                      inference_args: Optional[dict[str, Any]] = None) -> Iterable[PredictionResult]:
        model = lazy.get()
        order = sorted(range(len(batch)), key=lambda i: model.input_length(batch[i][1]))
        outputs = model.extract([batch[i][1] for i in order])
        by_index = dict(zip(order, outputs))
        return [PredictionResult(example=batch[i], inference=by_index[i], model_id=model.fingerprint)
                for i in range(len(batch))]

    def get_metrics_namespace(self) -> str:
        return "PersonaExtractor"


class SplitCached(beam.DoFn):
    """Route each unique input to its cached result, (key, (input, sentences)), or to inference ('missing')."""

    MISSING = "missing"

    def __init__(self, cache_root: str, fingerprint: str):
        self.cache_root, self.fingerprint = cache_root, fingerprint
        self.hits = Metrics.counter(NAMESPACE, "cache_hits")

    def setup(self) -> None:
        self.cached = InferenceCache(self.cache_root, self.fingerprint).load()

    def process(self, example: Example):
        key = example[0]
        if key in self.cached:
            self.hits.inc()
            Progress.add(reused=1)
            yield key, (example[1], self.cached[key])
        else:
            yield beam.pvalue.TaggedOutput(self.MISSING, example)


class StoreResults(beam.DoFn):
    """Persist inferred results batch by batch (resume safety) and pass (key, (input, sentences)) on."""

    def __init__(self, cache_root: str, fingerprint: str, flush_every: int = 16):
        self.cache_root, self.fingerprint, self.flush_every = cache_root, fingerprint, flush_every
        self.computed = Metrics.counter(NAMESPACE, "inferred")

    def setup(self) -> None:
        self.cache = InferenceCache(self.cache_root, self.fingerprint)
        self.buffer: list[tuple[str, list[str]]] = []

    def _flush(self) -> None:
        if self.buffer:
            self.cache.append(self.buffer)
            self.computed.inc(len(self.buffer))
            Progress.add(computed=len(self.buffer))
            self.buffer = []

    def process(self, result: PredictionResult):
        key, inp = result.example
        self.buffer.append((key, list(result.inference)))
        if len(self.buffer) >= self.flush_every:
            self._flush()
        yield key, (inp, list(result.inference))

    def finish_bundle(self) -> None:
        self._flush()

    def teardown(self) -> None:
        self._flush()
        self.cache.close()
