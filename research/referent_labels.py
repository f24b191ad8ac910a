"""Pronouns of kept persona sentences labelled blind with the person they mean: the data that trains and measures
`extractor.referents.ReferentRanker`.

`--draw` takes, from a build, the kept sentences whose first he/him/his/she/her has at least one candidate person
named earlier in the dialog (`extractor.referents`), and writes them for labellers: the dialog up to the sentence's
turn, the sentence with its pronoun marked, the candidates numbered. A labeller answers the number of the person
meant, or 0 when it is none of them or cannot be told. Labellers never see the features or any model's choice.
ESConv's train dialogs give the training items, its valid and test dialogs the held-out ones.

    python -m research.referent_labels --draw 520 --build outputs/pesconv --out outputs/dev/referents_to_label.tsv
    python -m research.referent_labels --merge PART_LABELS.tsv ... --key outputs/dev/referents_to_label.tsv \\
        --out research/labels/referents.tsv
    python -m research.referent_labels --agreement research/labels/referents_second_reader.tsv
    python -m research.referent_labels --train research/labels/referents.tsv    # writes extractor/referent_ranker.json
    python -m research.referent_labels --score research/labels/referents.tsv    # held out: ranker vs nearest person

`--train` fits the ranker on the train items only (by dialog), chooses the threshold by dialog-grouped
cross-validation on them (the lowest at which the rewrites are at least TARGET_PRECISION right), and
writes the weights with their card. `--score` reports, on the held-out items, how many pronouns each method rewrites
and how many of those rewrites name the labelled person (Wilson intervals): the shipped ranker, and the rule "the
nearest person of the pronoun's gender".
"""
from __future__ import annotations

import csv
import glob
import json
import random
from pathlib import Path

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli
from extractor.card import lowest_threshold, wilson
from extractor.referents import (
    FEATURES,
    HER_NEXT,
    RANKER,
    Mention,
    PronounNamer,
    candidates,
    dialog_mentions,
    features,
    first_pronoun,
    named_before,
    number,
)

FIELDS = ("id", "dialog_id", "split", "turn", "span_start", "dialog_so_far", "sentence", "candidates", "label")
LABELLED = ("id", "dialog_id", "split", "turn", "span_start", "sentence", "candidates", "label", "note")
TARGET_PRECISION = 0.95  # both rankers; with "pronouns_before", the he/she names a 0.90 target adds over 0.95 are
# only 63 % right in cross-validation (69 of 109), and "they" at 0.90 is often people in general
HELD_OUT = ("valid", "test")


def sentence_context(dialog: list[dict], turn: int, start: int) -> list[Mention]:
    """The people named before a sentence: every turn before its own, and its own turn up to the sentence."""
    return named_before(dialog_mentions([(t["speaker"], t["text"]) for t in dialog]), turn, max(start, 0))


def item(dialog_id: str, split: str, dialog: list[dict], turn: int, start: int, sentence: str,
         at: int | None = None) -> dict | None:
    """A sentence with a pronoun to resolve and its candidates, or None when it has none (or, with `at`, when the
    pronoun to resolve is no longer the one labelled there)."""
    pronoun = first_pronoun(sentence)
    if pronoun is None or (at is not None and pronoun.start != at):
        return None
    context = sentence_context(dialog, turn, start)
    cands = candidates(pronoun, context)
    if not cands:
        return None
    return {"dialog_id": dialog_id, "split": split, "turn": turn, "start": start, "sentence": sentence,
            "dialog": dialog, "pronoun": pronoun, "context": context, "cands": cands, "number": number(pronoun)}


def build_items(build: Path) -> list[dict]:
    """Every kept sentence of a build with a pronoun to resolve and at least one candidate."""
    import pyarrow.parquet as pq

    items = []
    for f in sorted(glob.glob(str(build / "data" / "*.parquet"))):
        cols = ["dialog_id", "split", "dialog", "persona", "persona_evidence", "persona_span"]
        for r in pq.read_table(f, columns=cols).to_pylist():
            for s, e, span in zip(r["persona"], r["persona_evidence"], r["persona_span"]):
                found = item(r["dialog_id"], r["split"], r["dialog"], e, span[0], s)
                if found:
                    items.append(found)
    return items


def _shown(dialog: list[dict], turn: int) -> str:
    return " || ".join(f"[{i}] {t['speaker'].upper()}: {' '.join(t['text'].split())}"
                       for i, t in enumerate(dialog[:turn + 1]))


def draw(args) -> None:
    """The held-out items and a seeded sample of --draw train items (at most --per-dialog per dialog), shuffled; with
    --number, of that number only; with --exclude, none already in that labelled file (ids continue after its)."""
    items = [i for i in build_items(Path(args.build)) if args.number in (None, i["number"])]
    first_id = 0
    if args.exclude:
        with open(args.exclude, encoding="utf-8") as fh:
            done = list(csv.DictReader(fh, delimiter="\t"))
        seen = {(r["dialog_id"], int(r["turn"]), r["sentence"].replace("[[", "").replace("]]", "")) for r in done}
        items = [i for i in items if (i["dialog_id"], i["turn"], i["sentence"]) not in seen]
        first_id = 1 + max(int(r["id"]) for r in done)
    rng = random.Random(args.seed)
    held = [i for i in items if i["split"] in HELD_OUT]
    train = [i for i in items if i["split"] not in HELD_OUT]
    rng.shuffle(train)
    per: dict[str, int] = {}
    chosen = []
    for i in train:
        if per.get(i["dialog_id"], 0) < args.per_dialog and len(chosen) < args.draw:
            per[i["dialog_id"]] = per.get(i["dialog_id"], 0) + 1
            chosen.append(i)
    out = held + chosen
    rng.shuffle(out)
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(FIELDS)
        for n, i in enumerate(out, start=first_id):
            p = i["pronoun"]
            marked = i["sentence"][:p.start] + "[[" + p.word + "]]" + i["sentence"][p.start + len(p.word):]
            cands = " ; ".join(f"{k + 1}. {c.text} (turn {c.turn})" for k, c in enumerate(i["cands"]))
            w.writerow([n, i["dialog_id"], i["split"], i["turn"], i["start"], _shown(i["dialog"], i["turn"]), marked,
                        cands, ""])
    print(f"wrote {len(out)} items ({len(held)} held out, {len(chosen)} train) to {args.out}")


def merge(args) -> None:
    """The drawn items (without their dialog text, which ESConv holds) with the labellers' answers (id, label, note)."""
    drawn: dict[str, dict] = {}
    for key in args.key:
        with open(key, encoding="utf-8") as fh:
            drawn.update((r["id"], r) for r in csv.DictReader(fh, delimiter="\t"))
    answers: dict[str, dict] = {}
    for path in args.merge:
        with open(path, encoding="utf-8") as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                if r["id"] not in drawn or not r["label"].strip().isdigit():
                    raise InputError(f"{path}: row {r} is not a drawn id with a number label")
                answers[r["id"]] = r
    missing = sorted(set(drawn) - set(answers), key=int)
    if missing:
        raise InputError(f"{len(missing)} drawn items have no label (first: {missing[:5]})")
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(LABELLED)
        for i in sorted(drawn, key=int):
            d, a = drawn[i], answers[i]
            w.writerow([i, d["dialog_id"], d["split"], d["turn"], d["span_start"], d["sentence"], d["candidates"],
                        a["label"].strip(), " ".join((a.get("note") or "").split())])
    print(f"wrote {len(drawn)} labelled items to {args.out}")


def agreement(args) -> None:
    """A second reader's labels of some items against the merged file's: agreement and Cohen's kappa."""
    from sklearn.metrics import cohen_kappa_score

    with open(args.labels, encoding="utf-8") as fh:
        first = {r["id"]: r["label"] for r in csv.DictReader(fh, delimiter="\t")}
    with open(args.agreement, encoding="utf-8") as fh:
        second = {r["id"]: r["label"].strip() for r in csv.DictReader(fh, delimiter="\t")}
    if not second or not set(second) <= set(first):
        raise InputError(f"{args.agreement}: need ids of {args.labels} with a label each")
    ids = sorted(second, key=int)
    a, b = [first[i] for i in ids], [second[i] for i in ids]
    same = sum(x == y for x, y in zip(a, b))
    print(f"{len(ids)} items labelled twice: the readers agree on {same} ({same / len(ids):.1%}), Cohen's kappa "
          f"{cohen_kappa_score(a, b):.2f}; none of the candidates: first {a.count('0')}, second {b.count('0')}")


def her_counts(args) -> None:
    """How often each word follows a possessive ("my", "your", "our", "their", "his") and an object pronoun ("me",
    "him", "them", "us") in ESConv and the PERSONA-CHAT files: what tells "her job" from "told her so" (`HER_NEXT`)."""
    import re
    from collections import Counter

    texts = []
    for split in ("train", "valid", "test"):
        with open(Path(args.esconv) / f"{split}.json", encoding="utf-8") as fh:
            texts += [t.get("text") or t.get("content") or "" for line in fh for t in json.loads(line)["dialog"]]
    for path in args.her_counts:
        with open(path, encoding="utf-8", newline="") as fh:
            texts += [cell for row in csv.reader(fh) for cell in row]
    poss, obj = Counter(), Counter()
    for text in texts:
        words = re.findall(r"[a-z']+", text.lower())
        for a, b in zip(words, words[1:]):
            if a in ("my", "your", "our", "their", "his"):
                poss[b] += 1
            elif a in ("me", "him", "them", "us"):
                obj[b] += 1
    table = {w: [poss[w], obj[w]] for w in sorted(set(poss) | set(obj)) if poss[w] + obj[w] >= 3}
    HER_NEXT.write_text(json.dumps({"counts": table, "made_from": ["ESConv"] + [Path(p).name for p in
                                                                               args.her_counts]}) + "\n")
    print(f"wrote {len(table)} words to {HER_NEXT}")


def labelled(path: str, esconv: Path) -> list[dict]:
    """The labelled file with each item's dialog read again from ESConv (features are recomputed, never stored)."""
    from schemas.esconv import read_dialogs

    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or "label" not in rows[0]:
        raise InputError(f"{path}: no labelled rows (columns {', '.join(FIELDS)})")
    dialogs = {}
    for split in ("train", "valid", "test"):
        for d in read_dialogs(esconv / f"{split}.json")[0]:
            dialogs[d.dialog_id] = [{"speaker": t.speaker, "text": t.text} for t in d.turns]
    out, passed = [], 0
    for r in rows:
        sentence = r["sentence"].replace("[[", "").replace("]]", "")
        if r["dialog_id"] not in dialogs:
            raise InputError(f"{path}: item {r['id']}: dialog {r['dialog_id']} is not in {esconv}")
        found = item(r["dialog_id"], r["split"], dialogs[r["dialog_id"]], int(r["turn"]), int(r["span_start"]),
                     sentence, r["sentence"].index("[["))
        if not found:  # the current code leaves this pronoun alone (a person or a name before it in the sentence)
            passed += 1
            continue
        label = int(r["label"])
        if not 0 <= label <= len(found["cands"]):
            raise InputError(f"{path}: item {r['id']} has label {label} for {len(found['cands'])} candidates")
        out.append({**found, "label": label})
    if passed:
        print(f"{path}: {passed} of {len(rows)} labelled pronouns are left alone by the current code")
    return out


def _rows(items: list[dict]) -> tuple[list[list[float]], list[int], list[str]]:
    x, y, groups = [], [], []
    for i in items:
        for k, row in enumerate(features(i["pronoun"], i["cands"], i["context"], i["turn"])):
            x.append(row)
            y.append(int(i["label"] == k + 1))
            groups.append(i["dialog_id"])
    return x, y, groups


def decisions(items: list[dict], probs_of) -> list[tuple[float, bool]]:
    """Per item: (the best candidate's probability, whether it is the labelled person)."""
    out = []
    for i in items:
        probs = probs_of(i)
        best = max(range(len(i["cands"])), key=lambda k: (probs[k], i["cands"][k].turn, i["cands"][k].start))
        out.append((probs[best], i["label"] == best + 1))
    return out


def fit_ranker(items: list[dict], precision: float) -> dict:
    """A ranker's card (weights, bias, threshold, what it was fitted on) from the labelled train items of one number;
    the threshold is chosen on probabilities from dialog-grouped cross-validation (items no fold trained on)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    x, y, groups = _rows(items)
    by_item: dict[int, list[tuple[int, float]]] = {}
    index = [(n, k) for n, i in enumerate(items) for k in range(len(i["cands"]))]
    for tr, te in GroupKFold(n_splits=5).split(x, y, groups):
        model = LogisticRegression(C=1.0, max_iter=1000).fit([x[j] for j in tr], [y[j] for j in tr])
        for j, p in zip(te, model.predict_proba([x[j] for j in te])[:, 1]):
            by_item.setdefault(index[j][0], []).append((index[j][1], p))
    position = {id(i): n for n, i in enumerate(items)}
    cv = decisions(items, lambda i: [p for _, p in sorted(by_item[position[id(i)]])])
    threshold = lowest_threshold(cv, precision, digits=4)
    fit = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    chosen = [ok for p, ok in cv if p >= threshold]
    return {"weights": [round(float(w), 6) for w in fit.coef_[0]], "bias": round(float(fit.intercept_[0]), 6),
            "threshold": threshold, "features": list(FEATURES), "train_items": len(items),
            "train_dialogs": len(set(groups)), "target_precision": precision,
            "cross_validated": {"rewritten": len(chosen), "right": sum(chosen),
                                "labelled_none": sum(i["label"] == 0 for i in items)}}


def train(args) -> None:
    items = [i for i in labelled(args.train, Path(args.esconv)) if i["split"] not in HELD_OUT]
    rankers = {n: fit_ranker([i for i in items if i["number"] == n], args.precision or TARGET_PRECISION)
               for n in ("singular", "plural") if any(i["number"] == n for i in items)}
    card = {"rankers": rankers, "trained_on": args.train, "code_version": code_version()}
    Path(args.ranker).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    for n, r in rankers.items():
        print(n, json.dumps({k: v for k, v in r.items() if k not in ("weights", "features")}))


def _rate(hits: int, n: int) -> str:
    lo, hi = wilson(hits, n)
    return f"{hits}/{n} = {hits / n:.1%} [{lo:.1%}, {hi:.1%}]" if n else "0/0"


def shipped_choice(ranker, i: dict) -> list[float]:
    """1 for the candidate the build names (`ReferentRanker.choose`, as `name_the_person` decides), else 0."""
    best, _, sure = ranker.choose(i["sentence"], i["pronoun"], i["cands"], i["context"], i["turn"])
    return [1.0 if sure and k == best else 0.0 for k in range(len(i["cands"]))]


def score(args) -> None:
    namer = PronounNamer.load(args.ranker)
    held = [i for i in labelled(args.score, Path(args.esconv)) if i["split"] in HELD_OUT]

    def nearest(i: dict) -> list[float]:  # the rule: the most recent person of the pronoun's gender and number
        latest = max(range(len(i["cands"])), key=lambda k: (i["cands"][k].turn, i["cands"][k].start))
        return [1.0 if k == latest else 0.0 for k in range(len(i["cands"]))]

    print(f"code {code_version()}")
    for n, ranker in namer.rankers.items():
        items = [i for i in held if i["number"] == n]
        resolvable = sum(i["label"] > 0 for i in items)
        print(f"\n{n}: {len(items)} held-out pronouns ({len(set(i['dialog_id'] for i in items))} dialogs); "
              f"{resolvable} mean one of the candidates, {len(items) - resolvable} none of them\n")
        print("| method | rewritten | right (precision) | recall of resolvable |\n|---|---:|---:|---:|")
        for name, probs_of in (("ranker", lambda i, r=ranker: shipped_choice(r, i)), ("nearest person (rule)", nearest)):
            chosen = [ok for p, ok in decisions(items, probs_of) if p >= 0.5]
            print(f"| {name} | {len(chosen)} | {_rate(sum(chosen), len(chosen))} | "
                  f"{_rate(sum(chosen), resolvable)} |")


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.referent_labels", __doc__)
    p.add_argument("--build", default="outputs/pesconv", help="the build the items come from (default %(default)s)")
    p.add_argument("--esconv", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "esconv"),
                   help="ESConv folder the labelled dialogs are read from (default ../shared/data/esconv)")
    p.add_argument("--draw", type=int, help="write the held-out items and this many train items to label")
    p.add_argument("--number", choices=("singular", "plural"), help="--draw: only pronouns of this number")
    p.add_argument("--exclude", help="--draw: a labelled TSV whose items are not drawn again")
    p.add_argument("--per-dialog", type=int, default=2, help="--draw: train items per dialog (default %(default)s)")
    p.add_argument("--train", help="a labelled TSV: fit the ranker on its train items")
    p.add_argument("--score", help="a labelled TSV: the ranker and the rule on its held-out items")
    p.add_argument("--her-counts", nargs="+", metavar="CSV",
                   help="PERSONA-CHAT-style CSV files: with ESConv, count what follows a possessive and an object "
                        "pronoun, and write extractor/her_next_words.json")
    p.add_argument("--merge", nargs="+", help="labellers' TSVs (id, label, note) of the drawn items")
    p.add_argument("--key", nargs="+", help="--merge: the drawn TSVs")
    p.add_argument("--agreement", help="a second reader's TSV (id, label) of some items: agreement with --labels")
    p.add_argument("--labels", default=str(Path(__file__).resolve().parent / "labels" / "referents.tsv"),
                   help="--agreement: the merged labels (default %(default)s)")
    p.add_argument("--ranker", default=str(RANKER), help="the ranker's file (default: the shipped one)")
    p.add_argument("--precision", type=float,
                   help="--train: the cross-validated precision both rankers' thresholds must reach (default: "
                        f"{TARGET_PRECISION})")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--out")
    args = p.parse_args(argv)
    if args.draw:
        if not args.out:
            raise InputError("--draw needs --out")
        draw(args)
    elif args.her_counts:
        her_counts(args)
    elif args.merge:
        if not (args.key and args.out):
            raise InputError("--merge needs --key (the drawn TSV) and --out")
        merge(args)
    elif args.agreement:
        agreement(args)
    elif args.train:
        train(args)
    elif args.score:
        score(args)
    else:
        raise InputError("give --draw N, --merge LABELS..., --train LABELS, --score LABELS or --agreement FILE")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
