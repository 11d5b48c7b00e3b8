"""What "rejecting H0" means, in one place, for every design's Z statistic.

Every decision uses Z_eff, positive when the experimental arm is better.

- One-sided (``sided = 1``): reject when Z_eff >= z_{1-alpha}.
- Two-sided (``sided = 2``): reject when |Z_eff| >= z_{1-alpha/2}, in either
  direction; this is the probability reported as power (and, under H0, as the
  type I error, which is then alpha).  Rejection in the favourable direction
  alone (Z_eff >= z_{1-alpha/2}, what a sponsor calls success) and in the
  unfavourable one are reported beside it as decisions ``reject_favourable``
  and ``reject_unfavourable``.

A NaN statistic (no events, an empty arm) never rejects.
"""

from __future__ import annotations

import numpy as np

from simtrial.errors import InvalidInput


def critical_z(alpha: float, sided: int) -> float:
    """The efficacy-scale critical value z_{1 - alpha / sided}."""
    from simtrial.stats import normal as norm
    return float(norm.isf(alpha / sided))


def reject(z_eff: np.ndarray, alpha: float, sided: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(rejected, side decisions)`` per trial; side decisions are empty for a one-sided test."""
    z = np.asarray(z_eff, dtype=float)
    crit = critical_z(alpha, sided)
    with np.errstate(invalid="ignore"):
        favourable = z >= crit
        if sided == 1:
            return favourable, {}
        unfavourable = z <= -crit
    return favourable | unfavourable, {"reject_favourable": favourable, "reject_unfavourable": unfavourable}


def p_values(z_eff: np.ndarray, sided: int) -> np.ndarray:
    """p-values of Z_eff: one-sided (favourable direction) or two-sided."""
    from simtrial.stats import normal as norm
    z = np.asarray(z_eff, dtype=float)
    return norm.sf(z) if sided == 1 else 2.0 * norm.sf(np.abs(z))


def adjust(p: np.ndarray, level: float, rule: str) -> np.ndarray:
    """Rejections [trial, hypothesis] of a family of p-values at family-wise ``level`` under ``rule``.

    ``bonferroni``: p <= level / m.  ``holm``: step-down.  ``fixed_sequence``:
    in the listed order at the full level, stopping at the first failure.  A
    NaN p-value (statistic undefined) never rejects.
    """
    p = np.where(np.isnan(p), 1.0, p)
    m = p.shape[1]
    if rule == "bonferroni":
        return p <= level / m
    if rule == "fixed_sequence":
        return np.cumprod(p <= level, axis=1).astype(bool)
    if rule == "holm":
        order = np.argsort(p, axis=1, kind="stable")
        sorted_p = np.take_along_axis(p, order, axis=1)
        passed = np.cumprod(sorted_p <= level / (m - np.arange(m)), axis=1).astype(bool)
        out = np.zeros_like(passed)
        np.put_along_axis(out, order, passed, axis=1)
        return out
    raise InvalidInput(f"analysis.multiplicity must be one of bonferroni, holm, fixed_sequence; got {rule!r}")


__all__ = ["adjust", "critical_z", "p_values", "reject"]
