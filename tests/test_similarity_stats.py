"""The statistics of Figures 3/5 on synthetic data whose answer is known."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.similarity_stats import bootstrap_slope, permutation_test, regression, slope


def test_slope_and_regression_with_level_means():
    x = np.asarray([1, 1, 2, 2, 3, 3, 4, 5], dtype=float)
    y = 0.5 + 0.1 * x + np.asarray([0.01, -0.01, 0.02, -0.02, 0.0, 0.0, 0.01, -0.01])
    assert slope(x, y) == pytest.approx(regression(x, y)["slope"])
    reg = regression(x, y)
    assert reg["slope"] == pytest.approx(0.1, abs=0.01) and reg["r2"] > 0.9
    assert reg["r2_level_means"] > reg["r2"]  # the level means average the noise away
    assert regression(np.asarray([2.0, 2.0, 2.0]), np.asarray([1.0, 2.0, 3.0]))["slope"] is None


def test_bootstrap_interval_covers_the_true_slope_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (40, 400):
        x = rng.integers(1, 6, n).astype(float)
        y = 0.2 * x + rng.normal(0, 0.5, n)
        lo, hi = bootstrap_slope(x, y, reps=500, seed=1)
        assert lo < 0.2 < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_permutation_p_value():
    null = np.random.default_rng(3).normal(0.05, 0.01, 199)  # random personas: slope 0.05 +- 0.01
    extreme = permutation_test(0.2, null)
    assert extreme["p_value"] == pytest.approx(1 / 200) and extreme["p_greater"] == pytest.approx(1 / 200)
    typical = permutation_test(0.05, null)
    assert typical["p_value"] > 0.9 and typical["null_mean"] == pytest.approx(0.05, abs=0.003)
    low = permutation_test(0.0, null)  # far below the null: two-sided p small, one-sided p_greater ~ 1
    assert low["p_value"] < 0.01 and low["p_greater"] > 0.99
    assert permutation_test(float("nan"), null)["p_value"] is None
