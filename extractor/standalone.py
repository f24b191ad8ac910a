"""Does a persona sentence read as a fact on its own, without the dialog? A learned score for each kept sentence.

About a third of the kept sentences are true to the seeker but need the dialog to be understood: a pronoun whose
person an earlier turn named ("He was my life."), an answer to the supporter's question ("Only to the grocery
store."), a "that" or "it" said before. Blind readers labelled thousands of kept sentences of the builds as standing
on their own (`faithful`) or needing the dialog (`needs_question`) (`research/labels/blind_audit*.tsv`). A logistic
regression on the sentence's MiniLM embedding, trained on the labels of three dialogs in four and measured on the
others (`research.standalone_labels`), gives P(standalone); the build writes it beside each persona
sentence (`persona_standalone`), so that users can keep only the sentences that read alone. Weights, provenance and
held-out numbers: `standalone.json`.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cli import InputError

WEIGHTS = Path(__file__).parent / "standalone.json"


class StandaloneScorer:
    """P(the sentence reads as a fact on its own) = sigmoid(w . embedding + b), the embedding from all-MiniLM-L6-v2."""

    def __init__(self, weights: Sequence[float], bias: float, embed=None):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias = float(bias)
        self._embed = embed

    @classmethod
    def load(cls, path: str | Path = WEIGHTS, embed=None) -> "StandaloneScorer":
        """The shipped weights; a missing or damaged file is a one-line error."""
        try:
            saved = json.loads(Path(path).read_text(encoding="utf-8"))
            scorer = cls(saved["weights"], saved["bias"], embed)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: cannot read the standalone scorer ({type(exc).__name__}: {exc}); "
                             "reinstall the package or retrain: python -m research.standalone_labels --train") from None
        if scorer.weights.shape != (384,):
            raise InputError(f"{path}: the standalone scorer holds {scorer.weights.size} weights, not 384")
        return scorer

    def probability(self, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        if self._embed is None:
            from extractor.grounding import minilm_embedder

            self._embed = minilm_embedder()
        x = np.asarray(self._embed(list(sentences)), dtype=np.float64)
        return [round(float(p), 4) for p in 1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias)))]


@lru_cache(maxsize=1)
def shipped_scorer() -> StandaloneScorer:
    """One scorer per process (a Beam worker loads the encoder once)."""
    return StandaloneScorer.load(WEIGHTS)
