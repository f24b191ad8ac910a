"""The three-panel figure of one encoder (Figures 3 and 5): level means with intervals, fits, counts."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from analysis.panels import CONDITION_LABELS, CONDITIONS, PANELS


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "p < 0.001" if p < 1e-3 else f"p = {p:.3f}"


def _fit_text(reg: dict) -> str:
    if reg["slope"] is None:
        return "no fit (too few dialogs)"
    text = f"slope {reg['slope']:+.4f}/point ({_fmt_p(reg['p_value'])}), R² = {reg['r2']:.3f}"
    if reg.get("r2_level_means") is not None:
        text += f" (level means {reg['r2_level_means']:.2f})"
    perm = reg.get("permutation") or {}
    extra = []
    if reg.get("slope_ci95"):
        extra.append(f"95% CI [{reg['slope_ci95'][0]:+.4f}, {reg['slope_ci95'][1]:+.4f}]")
    if perm.get("p_value") is not None:
        extra.append(f"permutation p two-sided {perm['p_value']:.3f}, one-sided {perm['p_greater']:.3f} "
                     f"(± {perm.get('p_value_mc_se', 0):.3f}; {perm['permutations']} random personas)")
    return text + ("\n    " + "; ".join(extra) if extra else "")


def draw_figure(result: dict, png: Path, svg: Path, records: list[dict] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    colors = {"persona": "#1f5fa8", "control": "#c0392b", "echo": "#27864a", "echo_last": "#8e6c1f"}
    markers = {"persona": "o", "control": "s", "echo": "^", "echo_last": "v"}
    offsets = {"persona": -0.15, "control": -0.05, "echo": 0.05, "echo_last": 0.15}
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
        beyond = entry.get("beyond_echo") or {}
        if beyond.get("persona_coef") is not None:
            texts.append(("persona", f"beyond echo: score ~ persona + echo, persona coef {beyond['persona_coef']:+.2f} "
                                     f"[{beyond['persona_coef_ci95'][0]:+.2f}, {beyond['persona_coef_ci95'][1]:+.2f}], "
                                     f"{_fmt_p(beyond['persona_p_value'])}"))
        for i, (cond, text) in enumerate(texts):
            ax.text(0.02, 0.98 - 0.075 * i, f"{cond.replace('_', ' ')}: " + text,
                    transform=ax.transAxes, ha="left", va="top", fontsize=6.5, color=colors[cond])
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
    values = [r[c] for r in records or [] for c in CONDITIONS if r.get(c) is not None]  # every condition drawn
    if values:
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.08 or 0.05
        axes[0].set_ylim(lo - pad, hi + (hi - lo) * 0.6 + pad)
    axes[0].set_ylabel("Mean cosine similarity per dialog:\nsupporter response vs. seeker persona")
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    enc = result["encoder"]["name"]
    fig.suptitle(f"Do supporters who echo the seeker's persona get better ratings?  Encoder: {enc}, "
                 f"persona mode: {result['definition']['persona_mode']}", fontsize=12)
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8.5, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.text(0.5, 0.095, "Each dialog contributes the mean cosine similarity between its supporter responses and the "
                         "seeker persona visible at that turn. Points: mean over dialogs with that score; bars: 95% "
                         "t-interval (cut at the range of dialog values); lines: least-squares fit over dialogs.\nControl: the same responses compared "
                         "with another, randomly chosen seeker's persona - if it shows the same trend, the effect is "
                         "not about this seeker's persona. Echo: the same responses compared with what the seeker had "
                         "said so far (or last) - if persona similarity adds nothing beyond it, the figure measures echo.", ha="center", va="bottom", fontsize=8, color="#333333")
    fig.tight_layout(rect=(0, 0.17, 1, 0.95))
    fig.savefig(png, dpi=150)
    fig.savefig(svg)
    plt.close(fig)
