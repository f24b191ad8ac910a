"""Labelled implied facts for the verifier: gold persona sentences that an utterance implies in other words.

The verifier's other positives copy the speaker's words (aligned gold sentences, the speaker's own clauses), so it
learned word overlap and gives "I lost my job." from "I got laid off" a probability near zero. PERSONA-CHAT and
Synthetic-Persona-Chat hold the missing kind: a gold sentence that no utterance states under the grounding
thresholds, beside the utterance closest to it in meaning ("I'm a music major. I play guitar." / "I am a
musician."; "I like to meditate." / "I am a buddhist."). Some of them are implied, others say more than the speaker
did: both are what the verifier must tell apart, so each is labelled by a reader who sees only the partner's
message, the utterance and the sentence (`yes`: every claim follows from the speaker's words; `no`: it says more,
or something else).

    python -m research.implied_pairs --draw 420 --out outputs/dev/implied_to_label.tsv   # writes the key beside it
    python -m research.implied_pairs --merge LABELS.tsv --key outputs/dev/implied_to_label.key.json \\
        --out research/labels/implied_pairs.tsv

On ESConv there is no gold persona: `--from-build DIR` draws the proposals of a full build that `NEW_WORD` dropped
(`unsupported.jsonl`), labelled the same way, and `--score FILE` prints how the verifier ranks a labelled file's
`yes` and `no` rows (what `--implied` would keep at each threshold).

    python -m research.implied_pairs --from-build outputs/pesconv-v3 --draw 120 --out outputs/dev/esconv_new_word.tsv
    python -m research.implied_pairs --merge LABELS.tsv --key outputs/dev/esconv_new_word.key.json \
        --out research/labels/implied_esconv.tsv
    python -m research.implied_pairs --score research/labels/implied_esconv.tsv

Candidates come only from the pairs the extractor's split did not hold out. `--merge` puts whole persona groups
(`extractor.heldout.persona_groups`) in a development part (`part` = dev, about a quarter) that the verifier never
trains on, nor on any pair of those groups (`pipelines.train_judges`).
"""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from common.cli import InputError, command_parser, quiet_libraries, run_cli

FIELDS = ("id", "pair", "source", "partner_said", "speaker_said", "sentence", "label", "part")
MIN_COSINE = 0.5  # below it the closest utterance is rarely about the sentence at all
DEV_SHARE = 0.25


def not_held_out(split_of: Path):
    """The pairs of the adapter's split and the indices it did not hold out (`extractor.heldout.read_split`)."""
    from extractor.heldout import read_split

    pairs, split = read_split(split_of)
    held = set(split["heldout"])
    return pairs, [i for i in range(len(pairs)) if i not in held]


def candidates(pairs, indices, scorer, min_cosine: float = MIN_COSINE) -> list[dict]:
    """Per pair: each gold sentence no utterance states, with the utterance closest to it (cosine >= min_cosine)."""
    out = []
    for i in indices:
        p = pairs[i]
        scorer.prepare([*p.utterances, *p.persona])
        for sentence, row in zip(p.persona, scorer.support_by_utterance(list(p.persona), list(p.utterances))):
            scored = [(x.cosine, u) for u, x in enumerate(row) if x is not None]
            if not scored or any(x is not None and x.supported for x in row):
                continue
            cosine, u = max(scored)
            if cosine >= min_cosine:
                out.append({"pair": i, "source": p.source, "partner_said": " ".join(p.context_of(u).split()[-40:]),
                            "speaker_said": p.utterances[u], "sentence": sentence})
    return out


def build_candidates(build: Path) -> list[dict]:
    """The proposals of a build that `NEW_WORD` dropped, with their seeker turn and the supporter's message before it."""
    from extractor.verifier import NEW_WORD
    from research.persona_audit import build_rows, supporter_before

    dropped = build / "unsupported.jsonl"
    if not dropped.is_file():
        raise InputError(f"{dropped} not found (is {build} a fact-style build folder?)")
    rows = {r["dialog_id"]: r["dialog"] for r in build_rows(build)}
    out = []
    for line in dropped.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if d.get("reason") != NEW_WORD or d["dialog_id"] not in rows:
            continue
        turns = rows[d["dialog_id"]]
        out.append({"source": f"{d['dialog_id']}:{d['turn']}", "partner_said": supporter_before(turns, d["turn"]),
                    "speaker_said": turns[d["turn"]]["text"].strip(), "sentence": d["sentence"]})
    return out


def draw(args) -> None:
    if args.from_build:
        pool = build_candidates(Path(args.from_build))
    else:
        from extractor.grounding import SupportScorer, minilm_embedder

        pairs, train = not_held_out(Path(args.split_of))
        random.Random(args.seed).shuffle(train)
        pool = candidates(pairs, train[:args.scan], SupportScorer(minilm_embedder()))
    if len(pool) < args.draw:
        raise InputError(f"only {len(pool)} candidates: raise --scan or lower --draw")
    picked = random.Random(args.seed + 12).sample(pool, args.draw)
    for k, c in enumerate(picked):
        c["id"] = f"imp{k:03d}"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:  # what the reader sees: no source, no pair
        w = csv.writer(f, delimiter="\t")
        w.writerow(["id", "partner_said", "speaker_said", "sentence"])
        w.writerows([c["id"], c["partner_said"], c["speaker_said"], c["sentence"]] for c in picked)
    out.with_suffix(".key.json").write_text(json.dumps(picked, indent=1), encoding="utf-8")
    print(f"{len(picked)} of {len(pool)} candidates to label: {out} (key {out.with_suffix('.key.json')})")


def merge(args) -> None:
    from extractor.heldout import persona_groups, read_split

    key = {c["id"]: c for c in json.loads(Path(args.key).read_text())}
    with open(args.merge, newline="", encoding="utf-8") as f:
        labels = {r["id"]: r["label"].strip().lower() for r in csv.DictReader(f, delimiter="\t")}
    if set(labels) != set(key) or not set(labels.values()) <= {"yes", "no"}:
        raise InputError(f"{args.merge}: need a yes/no label for each of the {len(key)} ids of {args.key}")
    if any("pair" not in c for c in key.values()):  # drawn from a build: ESConv, never trained on
        write_labels(args.out, [{**c, "label": labels[i], "part": "esconv"} for i, c in sorted(key.items())])
        print(f"{args.out}: {len(key)} labelled ({sum(v == 'yes' for v in labels.values())} yes)")
        return
    pairs, _ = read_split(Path(args.split_of))
    groups = persona_groups(pairs)
    involved = sorted({groups[c["pair"]] for c in key.values()})
    random.Random(args.seed).shuffle(involved)
    dev = set(involved[:round(DEV_SHARE * len(involved))])
    write_labels(args.out, [{**c, "label": labels[i], "part": "dev" if groups[c["pair"]] in dev else "train"}
                            for i, c in sorted(key.items())])
    parts = [groups[c["pair"]] in dev for c in key.values()]
    print(f"{args.out}: {len(key)} labelled pairs ({sum(v == 'yes' for v in labels.values())} yes), "
          f"{sum(parts)} in the development part")


def write_labels(path: str, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, FIELDS, delimiter="\t", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def score(path: str) -> None:
    """How many `yes` and `no` rows of a labelled file the verifier would keep at each `--implied` threshold."""
    from extractor.cross_encoder import load_judge
    from extractor.judge_data import reading
    from extractor.verifier import JUDGES_DIR

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or not {"speaker_said", "sentence", "label"} <= set(rows[0]):
        raise InputError(f"{path}: not a labelled file of research.implied_pairs")
    judge = load_judge(JUDGES_DIR / "verifier", "verifier")
    probs = judge.probability([(reading(r["speaker_said"], r["partner_said"]), r["sentence"]) for r in rows])
    from pipelines.train_judges import IMPLIED_GRID, keep_table

    labels = [int(r["label"] == "yes") for r in rows]
    print(f"{path}: {sum(labels)} implied (yes, faithful), {len(labels) - sum(labels)} not; the shipped verifier's "
          "P(stated)\n")
    print(keep_table([(p, y, None) for p, y in zip(probs, labels)], IMPLIED_GRID))


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.implied_pairs", __doc__)
    p.add_argument("--split-of", default="extractor/default_adapter", help="the adapter folder whose split.json to read")
    p.add_argument("--draw", type=int, help="write this many candidates to label")
    p.add_argument("--scan", type=int, default=900, help="training pairs to scan for candidates (default 900)")
    p.add_argument("--merge", help="a TSV of id and label (yes / no) for the drawn candidates")
    p.add_argument("--key", help="the key written beside the drawn TSV")
    p.add_argument("--from-build", help="draw from this full build's NEW_WORD drops instead of the persona pairs")
    p.add_argument("--score", help="a labelled file: how the verifier ranks its yes and no rows")
    p.add_argument("--seed", type=int, default=29)
    p.add_argument("--out")
    args = p.parse_args(argv)
    if args.merge and not args.key:
        raise InputError("--merge needs the --key written by --draw")
    if (args.draw or args.merge) and not args.out:
        raise InputError("--draw and --merge need --out")
    if args.score:
        score(args.score)
    elif args.draw:
        draw(args)
    elif args.merge:
        merge(args)
    else:
        raise InputError("give --draw N, --merge LABELS or --score FILE")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
