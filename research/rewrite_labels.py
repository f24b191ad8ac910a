"""Labelled rewrites: the extractor's proposals that are not a stretch of the seeker's words, judged blind.

Most kept persona sentences are the seeker's words; the rest are the extractor's rewrites ("I have a problem with
one of my friends." from "I'm having a problem with one of my friends"), and the blind audits found that the
unfaithful kept sentences are almost all among them: a tense made present, a condition made a fact, a detail
added. This draws such rewrites from a full build, kept and dropped alike (kept ones, and those the meaning rules
or `NEW_WORD` dropped after the verifier passed them), for a reader who sees only the supporter's message, the
seeker's turn and the sentence (`yes`: the seeker states or clearly implies it, with the same meaning; `no`: it
changes or adds something). `--merge` writes `research/labels/rewrite_labels.tsv`, whose `part` keeps dialogs
apart: ESConv's train split gives `train` and `dev` (a fifth of its dialogs), its valid and test splits `test`,
which the rewrite judge (`pipelines.train_judges --task rewrite`) never trains or tunes on.

    python -m research.rewrite_labels --from-build outputs/pesconv --draw 500,300 --out outputs/dev/rewrites.tsv
    python -m research.rewrite_labels --merge LABELS.tsv --key outputs/dev/rewrites.key.json \\
        --out research/labels/rewrite_labels.tsv
    python -m research.rewrite_labels --from-build outputs/pesconv --draw 593,176 --exclude \\
        research/labels/rewrite_labels.tsv --id-prefix rwb --out outputs/dev/rewrites_b.tsv  # a second round

    python -m research.rewrite_labels --from-build outputs/pesconv-named6 --kind judged-out --draw 272,125 \\
        --exclude research/labels/rewrite_labels.tsv --id-prefix rwc --seed 2028 --out outputs/dev/judged_out.tsv
    python -m research.rewrite_labels --merge A.tsv B.tsv --key outputs/dev/judged_out.key.json \\
        --parts-like research/labels/rewrite_labels.tsv --out outputs/dev/judged_out_labels.tsv  # then appended

The shipped file holds 1,569 of the 1,572 rewrites of the full build at code 3ed98d5: 800 drawn first (ids `rw`, seed
2026, by a first version of this draw that read the build's shards in directory order, so `--draw 500,300` now picks
others) and the 769 left (ids `rwb`, the second command), each labelled by one of ten readers, 160 rows each; then
all 397 proposals of the full build at code d7566c4 that the judges dropped, the meaning rules pass, and that were
not labelled yet (ids `rwc`, the last two commands), labelled by two readers, a third labelling 100 of them again.
"""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from common.cli import InputError, command_parser, quiet_libraries, run_cli

FIELDS = ("id", "dialog_id", "turn", "split", "status", "partner_said", "speaker_said", "sentence", "label", "note",
          "part")
KEPT = "kept"
DEV_SHARE = 0.2
KEPT_SHARE = 0.6  # of each draw: kept rewrites (what ships); the rest dropped ones (what the rules hold back)


KINDS = ("rewrites", "quote-parts", "judged-out")


def rewrites(build: Path, kind: str = "rewrites") -> list[dict]:
    """Every sentence of the build that is not a quote of its seeker turn: kept ones, and proposals the verifier
    passed that a meaning rule or `NEW_WORD` dropped (`unsupported.jsonl`). With kind "quote-parts": every kept
    sentence that quotes part of one of the seeker's sentences (`extractor.grounding.is_quote_part`), which may have
    left out a condition or a hedge. With kind "judged-out": the proposals that the verifier, the rewrite judge or
    `NEW_WORD` dropped and the meaning rules pass, which are what the implied-fact judge is asked about."""
    from extractor.grounding import is_quote, is_quote_part
    from extractor.meaning import MEANING_REASONS, meaning_change
    from extractor.verifier import CHANGED, NEW_WORD, NOT_STATED
    from research.persona_audit import build_rows, supporter_before

    dropped = build / "unsupported.jsonl"
    if not dropped.is_file():
        raise InputError(f"{dropped} not found (is {build} a fact-style build folder?)")
    rows = {r["dialog_id"]: r for r in build_rows(build, ("dialog_id", "split", "dialog", "persona",
                                                           "persona_evidence"))}
    found = [] if kind == "judged-out" else [(did, turn, sentence, KEPT) for did, r in rows.items()
                                             for sentence, turn in zip(r["persona"], r["persona_evidence"])]
    reasons = {"rewrites": (*MEANING_REASONS, NEW_WORD), "judged-out": (NOT_STATED, CHANGED, NEW_WORD)}.get(kind, ())
    for line in dropped.read_text(encoding="utf-8").splitlines() if reasons else ():
        d = json.loads(line)
        if d.get("reason") in reasons and d["dialog_id"] in rows:
            found.append((d["dialog_id"], d["turn"], d["sentence"], d["reason"]))
    wanted = {"rewrites": lambda s, t: not is_quote(s, t), "quote-parts": is_quote_part,
              "judged-out": lambda s, t: not is_quote(s, t) and meaning_change(s, t) is None}[kind]
    out = []
    for did, turn, sentence, status in found:
        turns = rows[did]["dialog"]
        if not wanted(sentence, turns[turn]["text"]):
            continue
        out.append({"dialog_id": did, "turn": turn, "split": rows[did]["split"], "status": status,
                    "partner_said": supporter_before(turns, turn),
                    "speaker_said": " ".join(turns[turn]["text"].split()), "sentence": " ".join(sentence.split())})
    return out


def draw(args) -> None:
    try:
        n_train, n_test = (int(x) for x in args.draw.split(","))
    except ValueError:
        raise InputError(f"--draw {args.draw!r}: give two counts, from ESConv's train split and from the others "
                         "(e.g. 500,300)") from None
    pool = rewrites(Path(args.from_build), args.kind)
    if args.exclude:  # labelled already: (dialog, turn, sentence) of each row
        from extractor.judge_data import read_tsv

        done = {(r["dialog_id"], int(r["turn"]), r["sentence"]) for r in read_tsv(Path(args.exclude))}
        pool = [c for c in pool if (c["dialog_id"], c["turn"], c["sentence"]) not in done]
    rng = random.Random(args.seed)
    picked = []
    for held, n in ((False, n_train), (True, n_test)):
        side = [c for c in pool if (c["split"] != "train") == held]
        kept = [c for c in side if c["status"] == KEPT]
        rest = [c for c in side if c["status"] != KEPT]
        n_rest = min(n - min(round(n * KEPT_SHARE), len(kept)), len(rest))
        k = n - n_rest
        if k > len(kept):
            raise InputError(f"only {len(kept)} kept and {len(rest)} dropped rewrites in {'held-out' if held else 'train'}"
                             f" dialogs: lower --draw")
        rng.shuffle(kept)
        rng.shuffle(rest)
        picked += kept[:k] + rest[:n_rest]
    rng.shuffle(picked)
    for k, c in enumerate(picked):
        c["id"] = f"{args.id_prefix}{k:03d}"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:  # what the reader sees: no dialog, no status
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["id", "supporter_said", "seeker_said", "sentence"])
        w.writerows([c["id"], c["partner_said"], c["speaker_said"], c["sentence"]] for c in picked)
    out.with_suffix(".key.json").write_text(json.dumps(picked, indent=1), encoding="utf-8")
    print(f"{len(picked)} of {len(pool)} rewrites to label: {out} (key {out.with_suffix('.key.json')})")


def merge(args) -> None:
    key = {c["id"]: c for path in args.key for c in json.loads(Path(path).read_text())}
    labels = {}
    for path in args.merge:
        with open(path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                labels[r["id"].strip()] = (r["label"].strip().lower(), (r.get("note") or "").strip())
    if set(labels) != set(key) or not {v for v, _ in labels.values()} <= {"yes", "no"}:
        missing = sorted(set(key) - set(labels))[:3]
        raise InputError(f"need a yes/no label for each of the {len(key)} ids of {args.key} (missing e.g. {missing})")
    fixed = {}  # dialog -> part, from a labelled file whose parts these rows must keep (one judge trains on both)
    if args.parts_like:
        from extractor.judge_data import read_tsv

        fixed = {r["dialog_id"]: r["part"] for r in read_tsv(Path(args.parts_like))}
    train_dialogs = sorted({c["dialog_id"] for c in key.values() if c["split"] == "train"} - set(fixed))
    random.Random(args.seed).shuffle(train_dialogs)
    dev = set(train_dialogs[:round(DEV_SHARE * len(train_dialogs))])
    rows = [{**c, "label": labels[i][0], "note": labels[i][1],
             "part": "test" if c["split"] != "train" else fixed.get(c["dialog_id"])
             or ("dev" if c["dialog_id"] in dev else "train")} for i, c in sorted(key.items())]
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, FIELDS, delimiter="\t", extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    for part in ("train", "dev", "test"):
        mine = [r for r in rows if r["part"] == part]
        print(f"{part}: {len(mine)} sentences, {sum(r['label'] == 'yes' for r in mine)} faithful; kept by the build: "
              f"{sum(r['status'] == KEPT for r in mine)}, of them faithful "
              f"{sum(r['status'] == KEPT and r['label'] == 'yes' for r in mine)}")


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.rewrite_labels", __doc__)
    p.add_argument("--from-build", help="a full fact-style build to draw rewrites from")
    p.add_argument("--draw", help="how many to draw from ESConv's train split and from the others: N,M")
    p.add_argument("--kind", choices=KINDS, default=KINDS[0],
                   help="what to draw: the extractor's rewrites, or kept quotes of part of a seeker's sentence "
                        "(default %(default)s)")
    p.add_argument("--merge", nargs="+", help="TSVs of id, label (yes / no) and note for the drawn rewrites")
    p.add_argument("--key", nargs="+", help="the keys written beside the drawn TSVs")
    p.add_argument("--parts-like", help="--merge: a labelled file whose dialogs keep their part here (so that a "
                   "judge trained on both never tunes on a dialog it trained on)")
    p.add_argument("--exclude", help="a labelled file whose rewrites are not drawn again")
    p.add_argument("--id-prefix", default="rw", help="prefix of the drawn ids (default %(default)s)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out")
    args = p.parse_args(argv)
    if not args.out:
        raise InputError("--out is needed")
    if args.draw:
        if not args.from_build:
            raise InputError("--draw needs --from-build")
        draw(args)
    elif args.merge:
        if not args.key:
            raise InputError("--merge needs the --key written by --draw")
        merge(args)
    else:
        raise InputError("give --from-build DIR --draw N,M, or --merge LABELS --key KEY")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
