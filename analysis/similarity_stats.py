"""The statistics behind Figures 3 and 5: level means, the trend over dialogs, and how sure we are of it.

A trend of "persona similarity per dialog" on a 1-5 rating has two enemies: few dialogs at some
levels (wide level intervals), and responses whose wording tracks the rating whatever the persona
(generic emotional words, length). The first is answered by a bootstrap interval of the slope over
dialogs; the second by a permutation test: the same responses compared with *other* seekers'
personas (many seeded donor draws) give the slopes one gets when the persona is not this seeker's,
and the real slope is placed in that null distribution.
"""
from __future__ import annotations

import math

import numpy as np


def level_stats(x: np.ndarray, y: np.ndarray) -> list[dict]:
    """Per score level: mean of y, its 95 % Student-t interval, the count."""
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


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x (NaN when x is constant)."""
    dx = x - x.mean()
    ss = float((dx * dx).sum())
    return float((dx * (y - y.mean())).sum() / ss) if ss > 0 else float("nan")


def fit_ok(x: np.ndarray) -> bool:
    return x.size >= 3 and np.unique(x).size >= 2


def regression(x: np.ndarray, y: np.ndarray) -> dict:
    """`scipy.stats.linregress` over dialogs (slope, its t-test p-value, R^2) plus R^2 over level means."""
    from scipy import stats

    res = {"n": int(x.size), "slope": None, "intercept": None, "r2": None, "p_value": None, "slope_stderr": None,
           "r2_level_means": None}
    if not fit_ok(x):
        res["note"] = "needs at least 3 dialogs and 2 different scores"
        return res
    fit = stats.linregress(x, y)
    res.update(slope=float(fit.slope), intercept=float(fit.intercept), r2=float(fit.rvalue ** 2),
               p_value=float(fit.pvalue), slope_stderr=float(fit.stderr))
    levels = level_stats(x, y)
    if len(levels) >= 3:  # what the paper's plots suggest: a line through the level means
        lx = np.asarray([e["level"] for e in levels], dtype=float)
        ly = np.asarray([e["mean"] for e in levels])
        res["r2_level_means"] = float(stats.linregress(lx, ly).rvalue ** 2)
    return res


def bootstrap_slope(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 13) -> tuple[float, float] | None:
    """Percentile 95 % interval of the slope, resampling dialogs with replacement."""
    if not fit_ok(x):
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(reps, x.size))
    slopes = np.asarray([slope(x[i], y[i]) for i in idx])
    slopes = slopes[~np.isnan(slopes)]
    return float(np.percentile(slopes, 2.5)), float(np.percentile(slopes, 97.5))


def permutation_test(real: float, null: np.ndarray) -> dict:
    """Where the real slope falls among the slopes of random-persona permutations.

    Two-sided around the null's own centre (random personas need not give slope 0: the responses'
    wording alone can track the rating): p = (1 + #{|s_k - m| >= |real - m|}) / (K + 1), m the null mean.
    Also the one-sided share of null slopes at least as large as the real one."""
    null = null[~np.isnan(null)]
    if null.size == 0 or real is None or math.isnan(real):
        return {"permutations": int(null.size), "p_value": None}
    m = float(null.mean())
    far = int((np.abs(null - m) >= abs(real - m) - 1e-15).sum())
    k = null.size
    p_two = (1 + far) / (k + 1)
    p_one = (1 + int((null >= real - 1e-15).sum())) / (k + 1)
    return {"permutations": int(k), "p_value": p_two, "p_greater": p_one,
            # Monte Carlo standard error of each p from K draws: sqrt(p (1 - p) / K)
            "p_value_mc_se": math.sqrt(p_two * (1 - p_two) / k), "p_greater_mc_se": math.sqrt(p_one * (1 - p_one) / k),
            "tests": {"p_value": "two-sided, around the null's mean", "p_greater": "one-sided, the paper's direction "
                      "(the real slope above the random-persona slopes)"},
            "null_mean": m, "null_ci95": [float(np.percentile(null, 2.5)), float(np.percentile(null, 97.5))]}


def partial_slope(score: np.ndarray, persona: np.ndarray, echo: np.ndarray, reps: int = 2000,
                  seed: int = 13) -> dict:
    """OLS of the score on persona similarity and echo similarity together, over dialogs: does persona
    similarity go with the score beyond what similarity to the seeker's own words does? The persona
    coefficient with its t-test p and a percentile interval from resampling dialogs."""
    from scipy import stats

    ok = ~(np.isnan(score) | np.isnan(persona) | np.isnan(echo))
    y, a, b = score[ok], persona[ok], echo[ok]
    n = y.size
    if n < 5 or np.std(a) == 0 or np.std(b) == 0:
        return {"n": int(n), "persona_coef": None}

    def fit(y, a, b):
        x = np.column_stack([np.ones_like(a), a, b])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        return coef, x

    coef, x = fit(y, a, b)
    resid = y - x @ coef
    sigma2 = float(resid @ resid) / (n - 3)
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    se = float(np.sqrt(cov[1, 1]))
    t = float(coef[1]) / se if se > 0 else float("nan")
    rng = np.random.default_rng(seed)
    boots = []
    for idx in rng.integers(0, n, size=(reps, n)):
        if np.std(a[idx]) > 0 and np.std(b[idx]) > 0:
            boots.append(fit(y[idx], a[idx], b[idx])[0][1])
    return {"n": int(n), "persona_coef": float(coef[1]), "echo_coef": float(coef[2]), "persona_coef_stderr": se,
            "persona_p_value": float(2 * stats.t.sf(abs(t), n - 3)),
            "persona_coef_ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
            "persona_echo_correlation": float(np.corrcoef(a, b)[0, 1])}
