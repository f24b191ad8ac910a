"""Would the implied-fact judge add cleaner facts if it were asked only about one-phrase rewrites?

The check keeps a proposal in other words than the seeker's only when the rewrite judge accepts it, so "I lost my
job." from "I got laid off" is dropped; the implied-fact judge (`pipelines.train_judges --task implied`), asked
about every proposal the verifier, the rewrite judge or `NEW_WORD` dropped, adds rewrites that are about twice as
often unfaithful as those the check keeps. Its errors drop or change a word that changes the claim ("I usually eat
dinner" for "I usually only eat dinner"). This asks whether a lexical gate, `one_phrase_changed` (the sentence is a
stretch of the seeker's words with one phrase of at most `MAX_PHRASE` words said in other English words), leaves
the judge only the comparisons it makes well.

It runs the whole check, as the build runs it, with the implied-fact judge of `--judges` turned on, on every
labelled rewrite of `research/labels/rewrite_labels.tsv` (each its proposal for its turn), and reports per part
(train, dev, test: dialogs apart; the judge may have trained on the train part): the rewrites the check keeps
without the judge and how many are unfaithful, then at each threshold what the judge adds, with and without the
gate (and with the gate when the new phrase must lie inside the stretch, not at an end of it), and how many of those
are unfaithful (95 % Wilson intervals).

    python -m research.implied_gate --judges JUDGES_DIR [--out outputs/dev/implied_gate.md]

`JUDGES_DIR` holds verifier/, fact/, rewrite/ (as `extractor/judges`) and implied/ (a trained implied-fact judge).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli
from extractor.one_phrase import one_phrase_changed

GRID = (0.5, 0.6, 0.7, 0.8, 0.9)


def judged(rows: Sequence[dict], judges: Path) -> list[dict]:
    """Each labelled rewrite with what the check, implied-fact judge on, made of it: kept without the judge, or
    P(implied) where the judge was asked, and whether it passes the gate."""
    from extractor.formatting import ExtractionInput
    from extractor.grounding import SupportScorer, minilm_embedder
    from extractor.verifier import CheckSettings, PersonaCheck

    check = PersonaCheck(SupportScorer(minilm_embedder()), judges=judges,
                         settings=CheckSettings(implied_judge=True, implied_gate=False))  # the gate is a column
    requests = [(ExtractionInput((r["speaker_said"],), r["partner_said"]), [r["sentence"]]) for r in rows]
    out = []
    for k in range(0, len(requests), 64):
        for r, verdicts in zip(rows[k:k + 64], check.check_many(requests[k:k + 64])):
            v = verdicts[0]
            out.append({"part": r["part"], "faithful": r["label"] == "yes", "implied": v.implied,
                        "kept_without": v.kept and v.implied is None,
                        "gated": one_phrase_changed(r["sentence"], r["speaker_said"]) is not None,
                        "inside": one_phrase_changed(r["sentence"], r["speaker_said"], ends=False) is not None})
    return out


def table(scored: Sequence[dict], grid: Sequence[float] = GRID) -> str:
    """Per part: the check's kept rewrites, then what the judge adds at each threshold, gated and not."""
    from extractor.card import wilson

    def share(rows: list[dict]) -> str:
        bad = sum(not r["faithful"] for r in rows)
        lo, hi = wilson(bad, len(rows))
        return f"{bad} of {len(rows)} ({bad / len(rows):.2f} [{lo:.2f}, {hi:.2f}])" if rows else "0 of 0"

    lines = ["| part | kept without the judge: unfaithful | asked (gated) | threshold | added: unfaithful | "
             "added with the gate: unfaithful | the gate, the phrase inside the stretch |", "|---|---|---:|---:|---|---|---|"]
    for part in ("train", "dev", "test"):
        rows = [r for r in scored if r["part"] == part]
        asked = [r for r in rows if r["implied"] is not None]
        for t in grid:
            added = [r for r in asked if r["implied"] >= t]
            lines.append(f"| {part} | {share([r for r in rows if r['kept_without']])} | {len(asked)} "
                         f"({sum(r['gated'] for r in asked)}) | {t:g} | {share(added)} | "
                         f"{share([r for r in added if r['gated']])} | {share([r for r in added if r['inside']])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    p = command_parser("python -m research.implied_gate", __doc__)
    p.add_argument("--judges", required=True, help="a folder with verifier/, fact/, rewrite/ and implied/")
    p.add_argument("--labels", default="research/labels/rewrite_labels.tsv")
    p.add_argument("--grid", type=float, nargs="+", default=list(GRID))
    p.add_argument("--out", help="write the table here (markdown)")
    args = p.parse_args(argv)
    from extractor.judge_data import read_tsv
    from extractor.verifier import JUDGES, check_judges

    check_judges(Path(args.judges), JUDGES + ("implied",))
    if not Path(args.labels).exists():
        raise InputError(f"{args.labels} not found")
    text = (f"Labelled rewrites `{args.labels}`, judges `{args.judges}`, code {code_version()}.\n\n"
            + table(judged(read_tsv(Path(args.labels)), Path(args.judges)), args.grid))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def cli() -> None:
    run_cli(main)


if __name__ == "__main__":
    cli()
