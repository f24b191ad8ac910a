"""Persona inference inside Beam: a RunInference ModelHandler and a resumable result cache.

The cache (`pipelines.inference_cache`) is a folder of JSON-lines parts keyed by (extractor fingerprint,
input): every finished batch becomes a new part at once, so an interrupted build loses at most one batch
and a resumed build skips everything already inferred.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterable, Optional, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from extractor.base import PersonaExtractor
from extractor.formatting import ExtractionInput
from extractor.loading import ExtractorSpec
from pipelines.build_steps import NAMESPACE
from pipelines.inference_cache import InferenceCache

log = logging.getLogger("pesconv")


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


class ExtractorModelHandler(ModelHandler[ExtractionInput, PredictionResult, "LazyExtractor"]):
    """RunInference handler: loads the extractor once per worker, infers batches of similar length.
    Wrap it in `KeyedModelHandler` to carry each input's cache key through inference."""

    def __init__(self, spec: ExtractorSpec, batch_size: int = 16):
        super().__init__(
            # Full batches: Beam's adaptive batching would start at 1 and, with slow batches, stay small.
            min_batch_size=batch_size, max_batch_size=batch_size,
            # Bucket by input length so a batch pads little; boundaries are in characters. Elements are
            # (key, input) pairs: KeyedModelHandler batches the keyed elements.
            batch_length_fn=lambda keyed: keyed[1].size(),
            batch_bucket_boundaries=[60, 120, 200, 400, 800, 1600, 3200],
        )
        self.spec = spec

    def one_at_a_time(self) -> "ExtractorModelHandler":
        """The same model, batches of one: finds which input of a failed batch made the model fail."""
        return type(self)(self.spec, 1)

    def load_model(self) -> "LazyExtractor":
        return LazyExtractor(self.spec)

    def run_inference(self, batch: Sequence[ExtractionInput], lazy: "LazyExtractor",
                      inference_args: Optional[dict[str, Any]] = None) -> Iterable[PredictionResult]:
        model = lazy.get()
        order = sorted(range(len(batch)), key=lambda i: model.input_length(batch[i]))
        outputs = model.extract([batch[i] for i in order])
        by_index = dict(zip(order, outputs))
        return [PredictionResult(example=batch[i], inference=by_index[i], model_id=model.fingerprint)
                for i in range(len(batch))]

    def get_metrics_namespace(self) -> str:
        return "PersonaExtractor"


class SplitCached(beam.DoFn):
    """Route each unique (key, input) to its cached result, (key, (input, sentences)), or to inference (MISSING)."""

    MISSING = "missing"

    def __init__(self, cache_root: str, fingerprint: str):
        self.cache_root, self.fingerprint = cache_root, fingerprint
        self.hits = Metrics.counter(NAMESPACE, "cache_hits")

    def setup(self) -> None:
        self.cached = InferenceCache(self.cache_root, self.fingerprint).load()

    def process(self, example: tuple[str, ExtractionInput]):
        key, inp = example
        if key in self.cached:
            self.hits.inc()
            yield key, (inp, self.cached[key])
        else:
            yield beam.pvalue.TaggedOutput(self.MISSING, example)


class StoreResults(beam.DoFn):
    """Persist inferred results batch by batch (resume safety), log progress, pass (key, (input, sentences)) on."""

    def __init__(self, cache_root: str, fingerprint: str, flush_every: int = 16, every_s: float = 10.0):
        self.cache_root, self.fingerprint, self.flush_every, self.every_s = cache_root, fingerprint, flush_every, every_s
        self.computed = Metrics.counter(NAMESPACE, "inferred")

    def setup(self) -> None:
        self.cache = InferenceCache(self.cache_root, self.fingerprint)
        self.buffer: list[tuple[str, list[str]]] = []
        self.done, self.started, self.last = 0, time.monotonic(), time.monotonic()

    def _flush(self) -> None:
        if self.buffer:
            self.cache.append(self.buffer)
            self.computed.inc(len(self.buffer))
            self.done += len(self.buffer)
            self.buffer = []
            now = time.monotonic()
            if now - self.last >= self.every_s:
                self.last = now
                log.info(f"persona inference: {self.done} inputs inferred by this worker "
                         f"({self.done / max(now - self.started, 1e-9):.2f} inputs/s)")

    def process(self, keyed: tuple[str, PredictionResult]):
        key, result = keyed
        self.buffer.append((key, list(result.inference)))
        if len(self.buffer) >= self.flush_every:
            self._flush()
        yield key, (result.example, list(result.inference))

    def finish_bundle(self) -> None:
        self._flush()

    def teardown(self) -> None:
        self._flush()
