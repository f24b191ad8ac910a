"""Is the extractor's F1 really above a baseline's? A paired bootstrap over the pairs of one evaluation run.

`pipelines.evaluate_extractor` gives each system's F1 with its own interval; two overlapping intervals say
little about the difference, because both systems are scored on the same pairs. This re-scores the outputs
an evaluation stored (`--json` of that command: every pair's utterances, supported gold and each system's
sentences) with the same measure (`extractor.evaluation.score_pair`), then resamples the pairs (seeded) and
recomputes both systems' F1 on each resample: the difference, its 95 % percentile interval and the share of
resamples in which the extractor is ahead. Per dataset too (PERSONA-CHAT, Synthetic-Persona-Chat). Beside it, the
same with a mutual match (each sentence states the other: what a persona of short facts needs, since a copied
utterance "states" every gold fact it contains) and the paired ROUGE-L difference.

No model runs here: only the grounding encoder, to match sentences.

    python -m research.extractor_comparison [--eval outputs/extractor_eval.json] [--model-card MD]
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cli import InputError, command_parser, quiet_libraries, run_cli
from extractor.card import report_section
from extractor.evaluation import BOOTSTRAP, PairScore, rouge_l_per_item, score_pair, summarise


def read_eval(path: Path) -> dict:
    if not path.exists():
        raise InputError(f"{path} does not exist (write it with python -m pipelines.evaluate_extractor --json {path})")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not data.get("outputs"):
        raise InputError(f"{path} holds no per-pair outputs (is it a pipelines.evaluate_extractor --json file?)")
    return data


def paired_difference(ours: Sequence[PairScore], theirs: Sequence[PairScore], seed: int = 13,
                      rounds: int = BOOTSTRAP) -> dict[str, float]:
    """F1(ours) - F1(theirs) on the pairs, its percentile 95 % interval and the share of resamples with ours ahead."""
    rng = np.random.default_rng(seed)
    n = len(ours)
    diffs = []
    for _ in range(rounds if n > 1 else 0):
        pick = rng.integers(0, n, n)
        diffs.append(summarise([ours[i] for i in pick])["f1"] - summarise([theirs[i] for i in pick])["f1"])
    f1, baseline_f1 = summarise(ours)["f1"], summarise(theirs)["f1"]
    low, high = (np.percentile(diffs, [2.5, 97.5]) if diffs else (float("nan"), float("nan")))
    return {"f1": f1, "baseline_f1": baseline_f1, "difference": f1 - baseline_f1,
            "low": float(low), "high": float(high), "ahead_share": float(np.mean([d > 0 for d in diffs])) if diffs else 0.0,
            "pairs": n}


def paired_mean_difference(ours: Sequence[float], theirs: Sequence[float], seed: int = 13,
                           rounds: int = BOOTSTRAP) -> tuple[float, float, float]:
    """mean(ours) - mean(theirs) over the same items and its percentile 95 % interval (paired resamples)."""
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(a), (rounds, len(a))) if len(a) > 1 else np.zeros((0, len(a)), dtype=int)
    diffs = (a[picks] - b[picks]).mean(axis=1)
    low, high = np.percentile(diffs, [2.5, 97.5]) if len(diffs) else (float("nan"), float("nan"))
    return float(a.mean() - b.mean()), float(low), float(high)


def dataset_of(source: str) -> str:
    return "synthetic-persona-chat" if "synthetic" in source.lower() else "personachat"


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.extractor_comparison", __doc__)
    p.add_argument("--eval", default="outputs/extractor_eval.json", help="a pipelines.evaluate_extractor --json file")
    p.add_argument("--system", default="extractor + check", help="the system to test (default 'extractor + check')")
    p.add_argument("--against", nargs="+", default=["rule", "rule + check"], help="baselines (default: rule, rule + check)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--model-card", metavar="MD", help="write the result as the '## Paired comparison' section")
    args = p.parse_args(argv)
    data = read_eval(Path(args.eval))
    rows = data["outputs"]
    missing = [s for s in [args.system, *args.against] if s not in rows[0]]
    if missing:
        known = [k for k in rows[0] if k not in ("source", "utterances", "gold", "supported_gold")]
        raise InputError(f"{args.eval} has no system {missing[0]!r}; it has {', '.join(known)}")

    from extractor.grounding import SupportScorer, minilm_embedder

    scorer = SupportScorer(minilm_embedder(), remarks=True)
    scorer.prepare([t for r in rows for t in (*r["utterances"], *r["supported_gold"],
                                              *(s for k in [args.system, *args.against] for s in r[k]))])
    scores = {k: [score_pair(scorer, r[k], r["supported_gold"]) for r in rows]
              for k in [args.system, *args.against]}
    mutual = {k: [score_pair(scorer, r[k], r["supported_gold"], mutual=True) for r in rows]
              for k in [args.system, *args.against]}
    stored = {k: data["results"][k]["f1"] for k in scores if k in data.get("results", {})}
    drift = {k: summarise(v)["f1"] - stored[k] for k, v in scores.items() if k in stored}
    groups = {"all": list(range(len(rows)))}
    for i, r in enumerate(rows):
        groups.setdefault(dataset_of(r["source"]), []).append(i)
    rouge = {k: rouge_l_per_item([r[k] for r in rows], [r["supported_gold"] for r in rows])
             for k in [args.system, *args.against]}
    lines = ["| pairs | baseline | extractor F1 | baseline F1 | difference [95 %] | resamples with the extractor ahead "
             "| ROUGE-L difference [95 %] | mutual-match F1: extractor / baseline, difference [95 %] |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    result = {}
    for group, idx in groups.items():
        for base in args.against:
            d = paired_difference([scores[args.system][i] for i in idx], [scores[base][i] for i in idx], args.seed)
            scored = [i for i in idx if rouge[args.system][i] is not None]
            r_diff, r_low, r_high = paired_mean_difference([rouge[args.system][i] for i in scored],
                                                           [rouge[base][i] for i in scored], args.seed)
            m = paired_difference([mutual[args.system][i] for i in idx], [mutual[base][i] for i in idx], args.seed)
            d.update(rouge_l_difference=r_diff, rouge_l_low=r_low, rouge_l_high=r_high,
                     mutual={k: m[k] for k in ("f1", "baseline_f1", "difference", "low", "high", "ahead_share")})
            result[f"{group} vs {base}"] = d
            lines.append(f"| {group} ({d['pairs']}) | {base} | {d['f1']:.3f} | {d['baseline_f1']:.3f} | "
                         f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] | {d['ahead_share']:.2f} | "
                         f"{r_diff:+.3f} [{r_low:+.3f}, {r_high:+.3f}] | {m['f1']:.3f} / {m['baseline_f1']:.3f}, "
                         f"{m['difference']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}] |")
    note = "" if all(abs(x) < 1e-9 for x in drift.values()) else (
        "\n\nNote: re-scored F1 differs from the stored run's (" + ", ".join(f"{k} {x:+.4f}" for k, x in drift.items())
        + "): the grounding measure changed since that run.")
    body = (f"`{args.system}` against each baseline on the same {len(rows)} held-out pairs of `{args.eval}` "
            f"({data.get('data', '')}); paired percentile bootstrap over pairs ({BOOTSTRAP} resamples, seed {args.seed}); "
            "ROUGE-L: each pair's joined sentences against its joined stated gold, over the pairs with gold; "
            "mutual match: a sentence matches a gold sentence only when each states the other, so a whole utterance "
            "that contains a gold fact does not match it:"
            "\n\n" + "\n".join(lines) + note)
    print(json.dumps(result, indent=1))
    report_section(body, args.model_card, "Paired comparison", f"python -m research.extractor_comparison --eval {args.eval}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
