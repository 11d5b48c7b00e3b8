"""Non-proportional hazards, analytically: the average hazard ratio (gsDesign2's definition).

gsDesign2's ``ahr()``: the hazard ratio averaged on the log scale over follow-up, each
period weighted by the events expected in it (both arms) at the analysis time T:

    AHR = exp( sum_j E_j log HR_j / sum_j E_j ),

E_j the expected events with follow-up time in period j, given the entry law, dropout
and T.  Here the periods are a fine grid (with every hazard-ratio change point on it),
HR on a grid step is the ratio of the two arms' cumulative-hazard increments (exactly
r_j for a ``TimeVaryingHazardRatio``), and the expected events of an arm in a step are
P(event in it) x exp(-dropout x t) x P(entered by T - t), mixed over the HER2 categories
by their prevalence and over the arms by the allocation.
"""

from __future__ import annotations

import math

import numpy as np


def average_hazard_ratio(
    control_models, experimental_models, weights, entry_breaks, entry_cum, dropout_per_month, allocation,
    analysis_months: float, n_grid: int = 4000,
) -> float:
    """gsDesign2's average hazard ratio at ``analysis_months`` (NaN when no events are expected).

    ``control_models`` / ``experimental_models``: category -> model; ``weights``: category
    prevalences (indexable by category); ``entry_breaks``/``entry_cum``: the piecewise-uniform
    entry CDF; ``dropout_per_month``: (control, experimental); ``allocation``: (control, experimental).
    """
    t_end = float(analysis_months)
    if not t_end > 0.0:
        return math.nan
    grid = np.linspace(0.0, t_end, n_grid + 1)
    extra = [t for m in experimental_models.values() for t in getattr(m, "start_months", ()) if 0.0 < t < t_end]
    grid = np.unique(np.concatenate([grid, extra]))
    mid = 0.5 * (grid[1:] + grid[:-1])
    entered = np.interp(t_end - mid, entry_breaks, entry_cum, left=0.0, right=1.0)
    share = np.array(allocation, dtype=float) / float(sum(allocation))
    num = 0.0
    den = 0.0
    for cat, w in enumerate(weights):
        if not w > 0 or cat not in control_models:
            continue
        curves = []
        events = np.zeros(mid.shape)
        for a, model in enumerate((control_models[cat], experimental_models[cat])):
            s = np.asarray(model.survival(grid), dtype=float)
            with np.errstate(divide="ignore"):
                h = -np.log(s)
            curves.append(np.diff(h))
            events += share[a] * (s[:-1] - s[1:]) * np.exp(-dropout_per_month[a] * mid) * entered
        with np.errstate(divide="ignore", invalid="ignore"):
            log_hr = np.log(curves[1] / curves[0])
        ok = np.isfinite(log_hr) & (events > 0)
        num += w * float(np.sum(events[ok] * log_hr[ok]))
        den += w * float(np.sum(events[ok]))
    return math.exp(num / den) if den > 0 else math.nan
