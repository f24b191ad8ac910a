"""Choose `CheckSettings.clause_fact` on pairs the extractor trained on, never on the held-out ones.

The fact-style check keeps a seeker's clause on which no kept proposal rests when the fact classifier gives it at
least `clause_fact` (`extractor.verifier`). The extractor passed such a clause over, and most of them are not the
facts a persona keeps ("i am good", "i just got off work"): each costs precision, each true fact among them adds
recall. This scores the extractor + check and the rule + the same check at each threshold of a grid, on a seeded
sample of the PERSONA-CHAT / Synthetic-Persona-Chat pairs that the adapter's `split.json` did *not* hold out (its
training pairs: the extractor's own outputs there are better than on new pairs, so the sample favours its proposals
over the clauses; the held-out pairs stay for the one measurement of what ships, `pipelines.evaluate_extractor`).

Per threshold: precision, recall and F1 (one-way "stated" match and mutual match, `extractor.evaluation`), kept
sentences per pair and their median words, for both systems, and the paired difference with its 95 % bootstrap
interval over pairs.

The same grid on ESConv (`--esconv-labels`): the fact classifier on the hand-labelled ESConv persona sentences it
never trained on (`persona_audit_round3.tsv`, `remark_audit.tsv`), how many non-facts and how many facts each
threshold drops; ESConv has no gold persona, so this is the cost the held-out pairs do not show.

    python -m research.clause_threshold [--pairs 150] [--cache outputs/dev/cache] [--out outputs/dev/clause_threshold.md]
    python -m research.clause_threshold --esconv-labels
"""
from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli

GRID = (0.0, 0.9, 0.95, 0.97, 0.98, 0.99)


def training_pairs(split_dir: Path, per_source: int, seed: int):
    """A seeded sample of `per_source` pairs from each source of the split that it did not hold out."""
    from extractor.heldout import read_split
    from schemas.personachat import subset

    pairs, split = read_split(split_dir)
    held, rng, start, picked = set(split["heldout"]), random.Random(seed), 0, []
    for size in split["n_pairs"]:
        pool = [i for i in range(start, start + size) if i not in held]
        picked += rng.sample(pool, min(per_source, len(pool)))
        start += size
    return subset(pairs, sorted(picked)), f"{len(picked)} training pairs of {', '.join(split['data'])} (seed {seed})"


def persona_per_pair(check, inputs, outs, pairs) -> list[list[str]]:
    """The kept sentences of each pair, folded over its utterances as the evaluation does."""
    from pipelines.evaluate_extractor import fold_pairs

    kept: list[list[str]] = []
    for s in range(0, len(inputs), 256):
        verdicts = check.check_many(list(zip(inputs[s:s + 256], outs[s:s + 256])))
        kept += [[v.sentence for v in vs if v.kept] for vs in verdicts]
    return fold_pairs(pairs, kept)


def row(scorer, personas: Sequence[list[str]], golds, baseline=None) -> tuple[dict, list, list]:
    from extractor.evaluation import score_pair, summarise
    from research.extractor_comparison import paired_difference

    scorer.prepare([s for p in personas for s in p])
    stated = [score_pair(scorer, p, g) for p, g in zip(personas, golds)]
    mutual = [score_pair(scorer, p, g, mutual=True) for p, g in zip(personas, golds)]
    out = {**{k: round(v, 4) for k, v in summarise(stated).items() if k in ("precision", "recall", "f1")},
           "mutual_f1": round(summarise(mutual)["f1"], 4),
           "sentences_per_pair": round(float(np.mean([len(p) for p in personas])), 2),
           "median_words": float(np.median([len(s.split()) for p in personas for s in p] or [0]))}
    if baseline is not None:
        out["difference"] = paired_difference(stated, baseline[0])
        out["mutual_difference"] = paired_difference(mutual, baseline[1])
    return out, stated, mutual


def esconv_label_effect(grid: Sequence[float]) -> str:
    """Per threshold: non-facts and facts of the fact classifier's held-out ESConv label files it would drop."""
    from extractor.cross_encoder import load_judge
    from extractor.judge_data import FACT_HELDOUT_FILES, fact_labels
    from extractor.verifier import JUDGES_DIR

    judge = load_judge(JUDGES_DIR / "fact", "fact", "cpu")
    examples = [e for name, e in fact_labels() if name in FACT_HELDOUT_FILES]
    p = np.array(judge.probability([(e.first, e.second) for e in examples]))
    y = np.array([e.label for e in examples])
    lines = [f"Fact classifier on {len(examples)} held-out ESConv persona sentences ({', '.join(FACT_HELDOUT_FILES)}; "
             f"{int((y == 0).sum())} not facts), code {code_version()}:", "",
             "| P(fact) >= | non-facts dropped | facts dropped |", "|---:|---:|---:|"]
    for t in grid:
        drop = p < t
        lines.append(f"| {t:g} | {int((drop & (y == 0)).sum())} of {int((y == 0).sum())} | "
                     f"{int((drop & (y == 1)).sum())} of {int((y == 1).sum())} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.clause_threshold", __doc__)
    p.add_argument("--split-of", default="extractor/default_adapter", help="the adapter folder whose split.json to read")
    p.add_argument("--pairs", type=int, default=150, help="training pairs per source (default 150)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--grid", type=float, nargs="+", default=list(GRID))
    p.add_argument("--cache", default="outputs/dev/cache", help="inference cache (default outputs/dev/cache)")
    p.add_argument("--out", help="write the table here (markdown) and the numbers beside it (.json)")
    p.add_argument("--esconv-labels", action="store_true",
                   help="only the fact classifier on its held-out ESConv label files, at each threshold")
    args = p.parse_args(argv)
    if args.esconv_labels:
        print(esconv_label_effect([0.49, *[t for t in args.grid if t > 0]]))
        return 0
    if args.pairs <= 0:
        raise InputError("--pairs must be positive")

    from extractor.alignment import supported_gold
    from extractor.grounding import SupportScorer, minilm_embedder
    from extractor.verifier import CheckSettings, PersonaCheck
    from pipelines.evaluate_extractor import Runner, System, pair_inputs, parse_args, rule_sentences

    pairs, described = training_pairs(Path(args.split_of), args.pairs, args.seed)
    inputs = pair_inputs(pairs)
    runner = Runner(parse_args(["--data", "unused", "--cache", args.cache]))
    outs, _ = runner.extract(System("extractor", "default", "auto"), inputs)
    rule = [rule_sentences(i) for i in inputs]
    scorer = SupportScorer(minilm_embedder(), remarks=True)
    scorer.prepare([t for q in pairs for t in (*q.utterances, *q.persona)])
    golds = [supported_gold(q, scorer) for q in pairs]
    check = PersonaCheck(SupportScorer(minilm_embedder()))
    lines = ["| clause P(fact) >= | system | precision | recall | F1 | mutual F1 | sentences / pair | median words "
             "| F1 difference [95 %] | mutual difference [95 %] |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    results = []
    for threshold in args.grid:
        check.settings = replace(CheckSettings(), clause_fact=threshold)
        base, *scores = row(scorer, persona_per_pair(check, inputs, rule, pairs), golds)
        ours, _, _ = row(scorer, persona_per_pair(check, inputs, outs, pairs), golds, scores)
        results.append({"clause_fact": threshold, "rule + check": base, "extractor + check": ours})
        for name, r in (("rule + check", base), ("extractor + check", ours)):
            d, m = r.get("difference"), r.get("mutual_difference")
            diff = (f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] | "
                    f"{m['difference']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}]") if d else "| "
            lines.append(f"| {threshold:g} | {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
                         f"{r['mutual_f1']:.3f} | {r['sentences_per_pair']:.2f} | {r['median_words']:g} | {diff} |")
        print(lines[-2] + "\n" + lines[-1], flush=True)
    command = f"python -m research.clause_threshold --pairs {args.pairs} --seed {args.seed}"
    text = (f"# The clause threshold, chosen on training pairs\n\n{described}; extractor + check against rule + the same "
            f"check at each `--clause-fact`; paired bootstrap over pairs. Code {code_version()}.\n\n"
            + "\n".join(lines) + f"\n\n```\n{command}\n```\n")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        Path(args.out).with_suffix(".json").write_text(json.dumps({"data": described, "code": code_version(),
                                                                   "command": command, "results": results}, indent=1))
    else:
        print(text)
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
