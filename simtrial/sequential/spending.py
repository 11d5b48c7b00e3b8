"""Alpha- and beta-spending functions for one-sided group-sequential designs.

A spending function maps an information fraction t (0 < t, capped at 1) to the
cumulative error spent by then, reaching the total at t = 1. The families and
their parameterisation follow rpact so that designs can be compared with
``getDesignGroupSequential``:

- ``OF``  Lan-DeMets O'Brien-Fleming type: 2 (1 - Phi(Phi^-1(1 - a/2) / sqrt(t))).
  rpact uses this two-sided form even for one-sided alpha, so we do too.
- ``P``   Lan-DeMets Pocock type: a log(1 + (e - 1) t).
- ``HSD`` Hwang-Shih-DeCani: a (1 - exp(-gamma t)) / (1 - exp(-gamma)); gamma = 0 is a t.
- ``KD``  Kim-DeMets power family: a t^rho.

Alpha-spending names carry an ``as`` prefix (``asOF``), beta-spending a ``bs``
prefix (``bsOF``), as in rpact.
"""

from __future__ import annotations

import math

import numpy as np

from simtrial.errors import InvalidInput

# The names and rpact's parameter ranges (gammaA/gammaB for HSD, the Kim-DeMets exponent) are
# part of the trial as data: declared in simtrial.spec, computed with here.
from simtrial.spec.analysis import ALPHA_SPENDING, BETA_SPENDING, GAMMA_RANGE, RHO_RANGE


def validate_family_parameter(family: str, gamma: float | None, rho: float | None, *, prefix: str) -> None:
    """Raise ValueError when the parameter a family needs is missing or out of range."""
    gname, rname = f"{prefix}gamma", f"{prefix}rho"
    if family == "HSD":
        if gamma is None:
            raise InvalidInput(f"{gname} is required for Hwang-Shih-DeCani spending, allowed range {list(GAMMA_RANGE)}")
        if not (GAMMA_RANGE[0] <= gamma <= GAMMA_RANGE[1]) or not math.isfinite(gamma):
            raise InvalidInput(f"{gname} must be in {list(GAMMA_RANGE)}, got {gamma}")
    if family == "KD":
        if rho is None:
            raise InvalidInput(f"{rname} is required for Kim-DeMets spending, allowed range {list(RHO_RANGE)}")
        if not (RHO_RANGE[0] <= rho <= RHO_RANGE[1]) or not math.isfinite(rho):
            raise InvalidInput(f"{rname} must be in {list(RHO_RANGE)}, got {rho}")


def cumulative_spending(
    family: str,
    total: float,
    t: np.ndarray | list[float] | float,
    *,
    gamma: float | None = None,
    rho: float | None = None,
) -> np.ndarray:
    """Cumulative error spent at information fractions ``t`` by one family.

    ``family`` is the bare family name ("OF", "P", "HSD", "KD"); ``t`` above 1
    (information overrunning the plan) spends no more than ``total``.
    """
    from scipy.special import ndtr, ndtri
    tt = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if family == "OF":
        # Guard t = 0: the quantile over sqrt(0) is +inf, spending 0.
        with np.errstate(divide="ignore"):
            spent = 2.0 * ndtr(-ndtri(1.0 - total / 2.0) / np.sqrt(tt))
    elif family == "P":
        spent = total * np.log1p((math.e - 1.0) * tt)
    elif family == "HSD":
        assert gamma is not None
        if gamma == 0.0:
            spent = total * tt
        else:
            spent = total * np.expm1(-gamma * tt) / math.expm1(-gamma)
    elif family == "KD":
        assert rho is not None
        spent = total * tt**rho
    else:
        raise InvalidInput(f"unknown spending family {family!r}, allowed: OF, P, HSD, KD")
    # Exactly `total` at t >= 1, whatever rounding the formula does.
    return np.where(tt >= 1.0, total, np.minimum(spent, total))


def alpha_spending(
    name: str, alpha: float, t: np.ndarray | list[float] | float, *, gamma: float | None = None,
    rho: float | None = None,
) -> np.ndarray:
    """Cumulative alpha spent by an rpact-named alpha-spending function (``asOF`` ...)."""
    if name not in ALPHA_SPENDING:
        raise InvalidInput(f"spending must be one of {list(ALPHA_SPENDING)}, got {name!r}")
    validate_family_parameter(name[2:], gamma, rho, prefix="")
    return cumulative_spending(name[2:], alpha, t, gamma=gamma, rho=rho)


def beta_spending(
    name: str, beta: float, t: np.ndarray | list[float] | float, *, gamma: float | None = None,
    rho: float | None = None,
) -> np.ndarray:
    """Cumulative beta spent by an rpact-named beta-spending function (``bsOF`` ...)."""
    if name not in BETA_SPENDING:
        raise InvalidInput(f"beta_spending must be one of {list(BETA_SPENDING)}, got {name!r}")
    validate_family_parameter(name[2:], gamma, rho, prefix="beta_")
    return cumulative_spending(name[2:], beta, t, gamma=gamma, rho=rho)
