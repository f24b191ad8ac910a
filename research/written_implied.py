"""Implied facts in ESConv's own words, written by annotators and labelled blind: the data that measures whether the
check keeps "I lost my job." from a seeker who says they were laid off, and drops a close sentence that says more.

The extractor seldom proposes a fact in other words than the seeker's, so the build's labelled rewrites hold few
implied facts, and the judges learned that a new content word means a change of meaning. Here annotators read a
seeded sample of seeker turns (with the supporter's message before each) and write, per turn, one short fact the
turn clearly implies in other words, and one that sounds close but says more or something else (a detail added, a
hedge dropped, a cause assumed, another person, a tense changed). The written sentences are then shuffled and
labelled `yes` / `no` by readers who see only the supporter's message, the seeker's turn and the sentence (never
what the writer meant): the label, not the writer's intent, is the training target. Parts keep dialogs apart:
ESConv's train dialogs give train (four fifths) and dev (a fifth), its valid and test dialogs give test.

    python -m research.written_implied --draw 480 --out outputs/dev/implied_turns.tsv      # then write
    python -m research.written_implied --to-label WRITTEN.tsv --key outputs/dev/implied_turns.key.json \\
        --out outputs/dev/implied_written_to_label.tsv                                    # then label blind
    python -m research.written_implied --merge LABELS.tsv --key outputs/dev/implied_written_to_label.key.json \\
        --out research/labels/implied_written.tsv
    python -m research.written_implied --score research/labels/implied_written.tsv   # what the shipped check keeps
    python -m research.written_implied --agreement research/labels/implied_written_second_reader.tsv
    python -m research.written_implied --hypothesis-only research/labels/implied_written.tsv  # the sentence alone
    python -m research.written_implied --draw 780 --more-for research/labels/implied_written.tsv --seed 43 \\
        --out outputs/dev/implied_turns_more.tsv    # more train turns (then write, label blind, and --merge
                                                    # --more-for ... --out research/labels/implied_written_more.tsv)

`--score` runs the whole check as the build runs it (`extractor.verifier.PersonaCheck`, judges of `--judges`) on each
written sentence as the extractor's proposal for its turn, and counts per part how many implied facts and how many
sentences that say more it keeps, with Wilson intervals. `--hypothesis-only` measures how much of the label the
sentence gives away without its turn (writers' sentences that say more look different from their implied facts), the
shortcut that `extractor.judge_data.contrast_pairs` takes from the implied-fact judge.
"""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli

FIELDS = ("id", "dialog_id", "turn", "split", "partner_said", "speaker_said", "sentence", "written_as", "label", "part")
MIN_WORDS = 8  # shorter turns seldom imply anything beyond their words
TEST_SHARE = 0.25  # of the drawn turns, from ESConv's valid and test dialogs
DEV_SHARE = 0.2  # of the train dialogs' turns, by dialog


def turns(esconv: Path, seed: int, n: int, more_for: list[dict] | None = None) -> list[dict]:
    """A seeded draw of seeker turns, at most one per dialog: a quarter from the valid and test splits. With
    `more_for` (a labelled file's rows), train turns only: none of its dev dialogs and none of its turns, so that the
    new sentences can join its train part and its dev and test parts stay unseen."""
    from extractor.requests import seeker_positions, utterance_input
    from schemas.esconv import read_dialogs

    rng = random.Random(seed)
    held = {r["dialog_id"] for r in more_for or [] if r["part"] != "train"}
    taken = {(r["dialog_id"], int(r["turn"])) for r in more_for or []}
    pools = {}
    for split in ("train",) if more_for is not None else ("train", "valid", "test"):
        dialogs, _ = read_dialogs(esconv / f"{split}.json")
        pool = []
        for d in dialogs:
            if d.dialog_id in held:
                continue
            options = [p for p in seeker_positions(d) if len(d.turns[p].text.split()) >= MIN_WORDS
                       and (d.dialog_id, p) not in taken]
            if not options:
                continue
            p = rng.choice(options)
            inp = utterance_input(d, p)
            pool.append({"dialog_id": d.dialog_id, "turn": p, "split": split,
                         "partner_said": " ".join(inp.context.split()[-40:]),
                         "speaker_said": " ".join(inp.utterances[0].split())})
        pools[split] = pool
    if more_for is not None:
        if len(pools["train"]) < n:
            raise InputError(f"too few train turns left for --draw {n} (at most {len(pools['train'])})")
        return rng.sample(pools["train"], n)
    n_test = round(TEST_SHARE * n)
    held = pools["valid"] + pools["test"]
    if len(pools["train"]) < n - n_test or len(held) < n_test:
        raise InputError(f"too few turns for --draw {n}")
    return rng.sample(pools["train"], n - n_test) + rng.sample(held, n_test)


def draw(args) -> None:
    picked = turns(Path(args.esconv), args.seed, args.draw, read_tsv(args.more_for) if args.more_for else None)
    for k, c in enumerate(picked):
        c["id"] = f"t{k:03d}"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:  # what the writer sees: no dialog, no split
        w = csv.writer(f, delimiter="\t")
        w.writerow(["id", "partner_said", "speaker_said", "implied", "says_more"])
        w.writerows([c["id"], c["partner_said"], c["speaker_said"], "", ""] for c in picked)
    out.with_suffix(".key.json").write_text(json.dumps(picked, indent=1), encoding="utf-8")
    print(f"{len(picked)} seeker turns to write for: {out} (key {out.with_suffix('.key.json')})")


def read_tsv(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def to_label(args) -> None:
    """The writers' sentences, shuffled under new ids, without what each was written as."""
    key = {c["id"]: c for c in json.loads(Path(args.key).read_text())}
    rows = []
    for r in read_tsv(args.to_label):
        if r.get("id") not in key:
            raise InputError(f"{args.to_label}: id {r.get('id')!r} is not in {args.key}")
        for kind in ("implied", "says_more"):
            sentence = " ".join((r.get(kind) or "").split())
            if sentence and sentence != "-":
                rows.append({**key[r["id"]], "sentence": sentence, "written_as": kind})
    random.Random(args.seed).shuffle(rows)
    for k, r in enumerate(rows):
        r["id"] = f"iw{k:04d}"
    out = Path(args.out)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["id", "partner_said", "speaker_said", "sentence", "label"])
        w.writerows([r["id"], r["partner_said"], r["speaker_said"], r["sentence"], ""] for r in rows)
    out.with_suffix(".key.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"{len(rows)} written sentences to label blind: {out}")


def merge(args) -> None:
    key = {c["id"]: c for c in json.loads(Path(args.key).read_text())}
    labels = {r["id"]: r["label"].strip().lower() for r in read_tsv(args.merge)}
    if set(labels) != set(key) or not set(labels.values()) <= {"yes", "no"}:
        raise InputError(f"{args.merge}: need a yes/no label for each of the {len(key)} ids of {args.key}")
    train = sorted({c["dialog_id"] for c in key.values() if c["split"] == "train"})
    random.Random(args.seed).shuffle(train)
    dev = set() if args.more_for else set(train[:round(DEV_SHARE * len(train))])  # --more-for: all train
    rows = [{**c, "label": labels[i], "part": "test" if c["split"] != "train" else "dev" if c["dialog_id"] in dev
             else "train"} for i, c in sorted(key.items())]
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, FIELDS, delimiter="\t", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    agree = sum((r["written_as"] == "implied") == (r["label"] == "yes") for r in rows)
    print(f"{args.out}: {len(rows)} labelled ({sum(r['label'] == 'yes' for r in rows)} yes); "
          f"label agrees with what the writer meant in {agree} ({agree / len(rows):.1%}); "
          + ", ".join(f"{p} {sum(r['part'] == p for r in rows)}" for p in ("train", "dev", "test")))


KNOWN_CASES = (  # (the seeker's words, the supporter's before them, a proposal): two implied facts, two changes
    ("I got laid off last week and I am scared.", "How are you doing today?", "I lost my job."),
    ("my ex-wife took the kids when we split up", "What happened?", "I am divorced."),
    ("I hate orange. It is such a loud color.", "What is your favorite color?", "I like orange."),
    ("My sister is a nurse, and I work in retail.", "What do you do?", "I am a nurse."))


def proposed(row: dict):
    """A labelled row as a request to the check: the seeker's turn (after the supporter's message) and its sentence
    as the extractor's one proposal."""
    from extractor.formatting import ExtractionInput

    return ExtractionInput((row["speaker_said"],), row["partner_said"]), [row["sentence"]]


def score(args) -> None:
    from collections import Counter

    from extractor.card import wilson
    from extractor.formatting import ExtractionInput
    from extractor.grounding import SupportScorer, minilm_embedder
    from extractor.judge_data import reading
    from extractor.verifier import CheckSettings, PersonaCheck, check_judges
    from pipelines.train_judges import auc

    rows = read_tsv(args.score)
    if not rows or not {"speaker_said", "sentence", "label", "part"} <= set(rows[0]):
        raise InputError(f"{args.score}: not a labelled file of research.written_implied")
    has_implied = (Path(args.judges) / "implied" / "judge_config.json").exists()
    if args.implied_judge and not has_implied:
        raise InputError(f"--implied-judge: {args.judges} holds no implied-fact judge "
                         "(python -m pipelines.train_judges --task implied --out DIR)")
    check_judges(Path(args.judges))
    check = PersonaCheck(SupportScorer(minilm_embedder()), judges=Path(args.judges),
                         settings=CheckSettings(implied=args.implied, implied_judge=args.implied_judge))
    verdicts = check.check_many([proposed(r) for r in rows])
    pairs = [(reading(r["speaker_said"], r["partner_said"]), r["sentence"]) for r in rows]
    judges = {"verifier": check.verifier(), "rewrite": check.rewriter(),
              **({"implied": check.implication()} if has_implied else {})}
    probs = {task: judge.probability(pairs) for task, judge in judges.items()}
    print(f"{args.score}, judges {args.judges}, --implied {args.implied:g}, code {code_version()}: a written sentence "
          "is kept when the check keeps it (or a part of it) as the extractor's proposal\n")
    print(f"--implied-judge: {'on' if args.implied_judge else 'off'}\n")
    print(f"| part | implied kept [95 %] | saying more kept [95 %] | AUC {' / '.join(judges)} | "
          "why implied facts were dropped |")
    print("|---|---:|---:|---:|---|")
    for part in ("train", "dev", "test"):
        got = [(r["label"] == "yes", next((v for v in vs if not v.fallback and v.kept), None),
                next((v.reason for v in vs if not v.fallback and not v.kept), None))
               for r, vs in zip(rows, verdicts) if r["part"] == part]
        if not got:
            continue
        cells = []
        for label in (True, False):
            k, n = sum(v is not None for y, v, _ in got if y == label), sum(y == label for y, _, _ in got)
            lo, hi = wilson(k, n)
            cells.append(f"{k} of {n} ({k / max(n, 1):.2f} [{lo:.2f}, {hi:.2f}])")
        why = Counter(reason for y, v, reason in got if y and v is None)
        labels = [r["label"] == "yes" for r in rows if r["part"] == part]
        aucs = [auc(labels, [p for p, r in zip(probs[task], rows) if r["part"] == part]) for task in judges]
        print(f"| {part} | {cells[0]} | {cells[1]} | {' / '.join(f'{a:.3f}' for a in aucs)} | "
              + "; ".join(f"{r}: {c}" for r, c in why.most_common()) + " |")
    known = [(ExtractionInput((said,), before), sentence) for said, before, sentence in KNOWN_CASES]
    known_probs = [judge.probability([(reading(i.utterances[0], i.context), s) for i, s in known])
                   for judge in judges.values()]
    print("\n| seeker said | sentence | kept | " + " | ".join(f"P {task}" for task in judges) + " |\n|---|---|---|"
          + "---:|" * len(judges))
    for k, ((inp, sentence), vs) in enumerate(zip(known, check.check_many([(i, [s]) for i, s in known]))):
        kept = any(v.kept and not v.fallback for v in vs)
        print(f"| {inp.utterances[0]} | {sentence} | {'yes' if kept else 'no'} | "
              + " | ".join(f"{p[k]:.3f}" for p in known_probs) + " |")
    if args.sweep and has_implied:
        sweep(check, rows, [float(t) for t in args.sweep.split(",")], args.rewrites)


def hypothesis_only(args) -> None:
    """How much of the label the sentence alone gives away: a logistic regression on the sentence's MiniLM embedding,
    trained on the train parts (both files), never shown the turn. Its AUC on the dev and test parts is what a judge
    could reach without reading the seeker; on their contrast pairs (each sentence beside another turn, with the
    other label) it scores one minus that, and a judge that reads the turn should not."""
    from sklearn.linear_model import LogisticRegression

    from extractor.grounding import minilm_embedder
    from extractor.judge_data import WRITTEN_MORE, contrast_pairs, written_examples
    from pipelines.train_judges import auc

    folder = Path(args.hypothesis_only).parent
    train = written_examples("train", folder, Path(args.hypothesis_only).name)
    if (folder / WRITTEN_MORE).exists():
        train += written_examples("train", folder, WRITTEN_MORE)
    if not train or len({e.label for e in train}) < 2:
        raise InputError(f"{args.hypothesis_only}: no train part with both labels to fit on")
    embed = minilm_embedder()
    model = LogisticRegression(max_iter=2000).fit(embed([e.second for e in train]), [e.label for e in train])
    print(f"{args.hypothesis_only}, code {code_version()}: the sentence alone (MiniLM embedding, logistic regression "
          f"on {len(train)} train-part sentences)\n")
    print("| part | sentences | AUC | contrast pairs | contrast AUC |\n|---|---:|---:|---:|---:|")
    for part in ("dev", "test"):
        rows = written_examples(part, folder, Path(args.hypothesis_only).name)
        if rows:
            flipped = contrast_pairs(rows)
            a, b = (auc([e.label for e in x], model.predict_proba(embed([e.second for e in x]))[:, 1])
                    for x in (rows, flipped))
            print(f"| {part} | {len(rows)} | {a:.3f} | {len(flipped)} | {b:.3f} |")


def sweep(check, rows: list[dict], thresholds: list[float], rewrites_file: str | None = None) -> None:
    """The whole check with the implied-fact judge at each threshold: what it keeps of the written facts and of the
    extractor's own labelled rewrites (`rewrite_labels.tsv`), and how many of the rewrites it keeps only because of
    the judge are unfaithful; on the dev parts (where a threshold may be chosen) and the test parts."""
    import dataclasses

    from extractor.judge_data import LABELS_DIR, REWRITES
    from pipelines.train_judges import unfaithful_share

    judge = check.implication()
    check.settings = dataclasses.replace(check.settings, implied_judge=True)
    print("\nThe whole check with the implied-fact judge at each threshold:\n")
    print("| part | P(implied) >= | written: implied kept | written: saying more kept | rewrites kept | unfaithful "
          "among them [95 %] | kept by the judge | unfaithful among those [95 %] |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")
    labelled = read_tsv(rewrites_file or str(LABELS_DIR / REWRITES))
    for part in ("dev", "test"):
        rewrites = [r for r in labelled if r["part"] == part]
        written = [r for r in rows if r["part"] == part]
        for t in thresholds:
            judge.config = dataclasses.replace(judge.config, threshold=t)
            w = check.check_many([proposed(r) for r in written])
            got = [(r["label"] == "yes", any(v.kept and not v.fallback for v in vs)) for r, vs in zip(written, w)]
            v = check.check_many([proposed(r) for r in rewrites])
            kept = [r["label"] == "yes" for r, vs in zip(rewrites, v) if vs[0].kept]
            rescued = [r["label"] == "yes" for r, vs in zip(rewrites, v) if vs[0].kept and vs[0].implied is not None]
            cells = []
            for labels in (kept, rescued):
                bad, share = unfaithful_share(labels)
                cells += [str(len(labels)), f"{bad} ({share})"]
            print(f"| {part} | {t:g} | {sum(k for y, k in got if y)} of {sum(y for y, _ in got)} | "
                  f"{sum(k for y, k in got if not y)} of {sum(not y for y, _ in got)} | " + " | ".join(cells) + " |")


def agreement(args) -> None:
    """A second reader's labels of some of the sentences against the merged file's: agreement and Cohen's kappa."""
    from sklearn.metrics import cohen_kappa_score

    first = {r["id"]: r["label"] for r in read_tsv(args.labels)}
    second = {r["id"]: r["label"].strip().lower() for r in read_tsv(args.agreement)}
    if not second or not set(second) <= set(first) or not set(second.values()) <= {"yes", "no"}:
        raise InputError(f"{args.agreement}: need ids of {args.labels} with a yes/no label each")
    ids = sorted(second)
    a, b = [first[i] for i in ids], [second[i] for i in ids]
    same = sum(x == y for x, y in zip(a, b))
    print(f"{len(ids)} sentences labelled twice: the readers agree on {same} ({same / len(ids):.1%}), Cohen's kappa "
          f"{cohen_kappa_score(a, b):.2f}; yes: first {a.count('yes')}, second {b.count('yes')}")


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.written_implied", __doc__)
    p.add_argument("--esconv", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "esconv"),
                   help="ESConv folder with train/valid/test.json (default ../shared/data/esconv)")
    p.add_argument("--draw", type=int, help="write this many seeker turns for annotators to write facts for")
    p.add_argument("--more-for", help="--draw: train turns only, outside this labelled file's dev dialogs and turns "
                   "(more sentences for its train part); --merge: every sentence in the train part")
    p.add_argument("--to-label", help="the writers' TSV (id, implied, says_more): shuffle it for blind labelling")
    p.add_argument("--merge", help="a TSV of id and label (yes / no) for the shuffled sentences")
    p.add_argument("--key", help="the key written beside the previous step's TSV")
    p.add_argument("--score", help="a labelled file: what the check keeps of its implied and saying-more sentences")
    p.add_argument("--hypothesis-only", help="a labelled file: how well its sentences alone, without the turn, predict "
                   "the label (the bias a judge can learn instead of reading the seeker)")
    p.add_argument("--agreement", help="a second reader's TSV (id, label) of some sentences: agreement with --labels")
    p.add_argument("--labels", default=str(Path(__file__).resolve().parent / "labels" / "implied_written.tsv"),
                   help="--agreement: the merged labels (default %(default)s)")
    p.add_argument("--judges", default=str(Path(__file__).resolve().parents[1] / "extractor" / "judges"),
                   help="--score: the judges' folder (default: the shipped ones)")
    p.add_argument("--implied", type=float, default=0.99, help="--score: the check's --implied (default %(default)s)")
    p.add_argument("--implied-judge", action="store_true",
                   help="--score: the check's --implied-judge (the implied-fact judge of --judges keeps what it is sure of)")
    p.add_argument("--sweep", help="--score: thresholds of the implied-fact judge of --judges to run the whole check at "
                                   "(e.g. 0.9,0.97,0.99), on the written facts and on the labelled rewrites")
    p.add_argument("--rewrites", help="--sweep: the labelled rewrites (default research/labels/rewrite_labels.tsv)")
    p.add_argument("--seed", type=int, default=41)
    p.add_argument("--out")
    args = p.parse_args(argv)
    if (args.to_label or args.merge) and not args.key:
        raise InputError("--to-label and --merge need the --key written by the previous step")
    if (args.draw or args.to_label or args.merge) and not args.out:
        raise InputError("--draw, --to-label and --merge need --out")
    if args.score:
        score(args)
    elif args.hypothesis_only:
        hypothesis_only(args)
    elif args.agreement:
        agreement(args)
    elif args.draw:
        draw(args)
    elif args.to_label:
        to_label(args)
    elif args.merge:
        merge(args)
    else:
        raise InputError("give --draw N, --to-label WRITTEN, --merge LABELS, --score FILE, --hypothesis-only FILE or --agreement FILE")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
