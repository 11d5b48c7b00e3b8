"""Draw a prior's unknowns once per simulated trial, and integrate analytic power over it.

Streams: entry ``j`` of the prior draws from its own generator seeded
``(derive_seed(seed, PRIOR_STREAM), kind, j, part)``, element by element, so
trial ``i``'s draws depend only on the seed and ``i``: the first ``n`` trials
of a longer run draw exactly what an ``n``-trial run draws, and the engine's
patient streams (``(seed, trial)``) are untouched — a point-mass prior
reproduces the power run trial by trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm

from simtrial.errors import derive_seed
from simtrial.her2 import CATEGORIES, N_CATEGORIES
from simtrial.spec import Scenario
from simtrial.spec.prior import HazardRatioPrior, NormalLogHR, PointMassHR, Prior
from simtrial.trial_parameters import TrialParameters

PRIOR_STREAM = 0x5052494F52  # "PRIOR"
_KIND = {"hazard_ratio": 1, "control": 2, "response": 3}


def _rng(seed: int, kind: str, j: int, part: int) -> np.random.Generator:
    return np.random.default_rng([derive_seed(seed, PRIOR_STREAM), _KIND[kind], j, part])


@dataclass(frozen=True)
class PriorDraws:
    """What one run drew: engine parameters per trial and the drawn values by name.

    ``columns``: name -> float64[n_sims] (``hazard_ratio[IHC 3+]``,
    ``control_median_months[all]``, ``response_experimental[IHC 3+]``), the
    per-trial CSV's columns; ``hazard_ratio_keys``: the names of the drawn HRs.
    """

    n_sims: int
    seed: int
    trial_parameters: TrialParameters = field(repr=False)
    columns: dict[str, np.ndarray] = field(repr=False)
    hazard_ratio_keys: tuple[str, ...] = ()


def draw_log_hazard_ratios(prior: Prior, n_sims: int, seed: int) -> list[np.ndarray]:
    """log HR per hazard-ratio entry, float64[n_sims] each (correlated normals when asked)."""
    out = []
    z_all = [_rng(seed, "hazard_ratio", j, 0).standard_normal(n_sims) for j in range(len(prior.hazard_ratio))]
    if prior.correlation is not None:
        k = len(prior.hazard_ratio)
        rho = float(prior.correlation)
        cov = np.full((k, k), rho) + np.eye(k) * (1.0 - rho)
        chol = np.linalg.cholesky(cov)
        z_all = list(chol @ np.vstack(z_all))
    for j, entry in enumerate(prior.hazard_ratio):
        values = np.empty(n_sims)
        if len(entry.components) == 1:
            choice = np.zeros(n_sims, dtype=np.int64)
        else:
            u = _rng(seed, "hazard_ratio", j, 1).random(n_sims)
            choice = np.searchsorted(np.cumsum(entry.weights)[:-1], u, side="right")
        for k, comp in enumerate(entry.components):
            hit = choice == k
            if isinstance(comp, PointMassHR):
                values[hit] = math.log(comp.hazard_ratio)
            else:
                # each normal component has its own stream, so a mixture's draws are prefix-stable too
                z = z_all[j] if k == 0 else _rng(seed, "hazard_ratio", j, 2 + k).standard_normal(n_sims)
                values[hit] = comp.mean_log + comp.sd_log * z[hit]
        out.append(values)
    return out


def _control_multipliers(scenario: Scenario, medians: np.ndarray, codes: tuple[int, ...]) -> np.ndarray:
    """Hazard multipliers m per trial x category making the control's median the drawn one: S(median) ** m = 1/2."""
    out = np.full((medians.shape[0], N_CATEGORIES), np.nan)
    for c in codes:
        model = scenario.control.models.get(c)
        if model is None:
            continue
        s = np.asarray(model.survival(medians), dtype=float)
        out[:, c] = math.log(0.5) / np.log(s)
    return out


def draw(scenario: Scenario, n_sims: int, seed: int, prior: Prior | None = None, *, central: bool = False) -> PriorDraws:
    """Per-trial parameters drawn from ``prior`` (default: the scenario's).

    ``central``: every trial gets the prior's centre instead (log HR at its
    mean, the control median at its CI's geometric midpoint, each Beta's mean): the run that gives
    power at the prior mean, on the same patient streams.
    """
    prior = scenario.prior if prior is None else prior
    if prior is None:
        raise ValueError(f"scenario {scenario.name!r} has no prior")
    n = int(n_sims)
    columns: dict[str, np.ndarray] = {}
    hr = None
    if prior.hazard_ratio:
        hr = np.full((n, N_CATEGORIES), np.nan)
        logs = (
            [np.full(n, e.mean_log) for e in prior.hazard_ratio] if central else draw_log_hazard_ratios(prior, n, seed)
        )
        for entry, log_hr in zip(prior.hazard_ratio, logs, strict=True):
            values = np.exp(log_hr)
            hr[:, list(entry.categories)] = values[:, None]
            columns[f"hazard_ratio[{entry.key}]"] = values
    mult = None
    if prior.control:
        mult = np.full((n, N_CATEGORIES), np.nan)
        for j, entry in enumerate(prior.control):
            if central:
                medians = np.full(n, entry.centre_months)
            else:
                z = _rng(seed, "control", j, 0).standard_normal(n)
                medians = np.exp(math.log(entry.centre_months) + entry.log_median_se * z)
            m = _control_multipliers(scenario, medians, entry.categories)
            cols = list(entry.categories)
            mult[:, cols] = m[:, cols]
            columns[f"control_median_months[{entry.key}]"] = medians
    response = None
    if prior.response:
        response = np.full((n, N_CATEGORIES, 2), np.nan)
        for j, entry in enumerate(prior.response):
            if central:
                p = np.full(n, entry.mean)
            else:
                p = _rng(seed, "response", j, 0).beta(entry.alpha, entry.beta, size=n)
            arm = 0 if entry.arm == "control" else 1
            response[:, list(entry.categories), arm] = p[:, None]
            columns[f"response_{entry.arm}[{entry.key}]"] = p
    relative = tuple(c in prior.experimental_follows_control for c in range(N_CATEGORIES))
    params = TrialParameters(n, N_CATEGORIES, hr, mult, response, relative)
    return PriorDraws(n, int(seed), params, columns, tuple(f"hazard_ratio[{e.key}]" for e in prior.hazard_ratio))


# --- analytic assurance ------------------------------------------------------------


def schoenfeld_assurance(
    entry: HazardRatioPrior, events: float, alpha_one_sided: float, allocation: tuple[int, int],
    ni_margin: float = 1.0,
) -> float:
    """Closed-form assurance of a fixed design with a Schoenfeld-normal estimate, over a mixture prior.

    The estimate is N(log HR, sd^2) with sd^2 = 1 / (D pi (1 - pi)); success is
    estimate < log(margin) - z_{1-alpha} sd.  A normal component N(mu, tau^2)
    gives Phi((log margin - z sd - mu) / sqrt(sd^2 + tau^2)) (O'Hagan, Stevens
    and Campbell 2005); a point mass at v gives Schoenfeld power at v.
    """
    a, b = allocation
    pi = b / (a + b)
    sd = 1.0 / math.sqrt(events * pi * (1.0 - pi))
    z = norm.ppf(1.0 - alpha_one_sided)
    shift = math.log(ni_margin) - z * sd
    total = 0.0
    for w, comp in zip(entry.weights, entry.components, strict=True):
        if isinstance(comp, PointMassHR):
            total += w * float(norm.cdf((shift - math.log(comp.hazard_ratio)) / sd))
        else:
            total += w * float(norm.cdf((shift - comp.mean_log) / math.sqrt(sd * sd + comp.sd_log**2)))
    return total


def success_limit(entry: HazardRatioPrior, ni_margin: float = 1.0) -> float:
    """Assurance as events grow without bound: the prior probability that HR < margin (the plateau)."""
    total = 0.0
    for w, comp in zip(entry.weights, entry.components, strict=True):
        if isinstance(comp, PointMassHR):
            total += w * float(comp.hazard_ratio < ni_margin)
        else:
            total += w * float(norm.cdf((math.log(ni_margin) - comp.mean_log) / comp.sd_log))
    return total


def integrate_over_prior(entry: HazardRatioPrior, power_at, nodes: int = 64) -> float:
    """E[power_at(HR)] over the prior: Gauss-Hermite for normal components, exact for point masses."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    total = 0.0
    for weight, comp in zip(entry.weights, entry.components, strict=True):
        if isinstance(comp, PointMassHR):
            total += weight * float(power_at(comp.hazard_ratio))
        else:
            assert isinstance(comp, NormalLogHR)
            values = [power_at(math.exp(comp.mean_log + comp.sd_log * xi)) for xi in x]
            total += weight * float(np.dot(w, values))
    return total


def covering_entry(prior: Prior, categories: tuple[int, ...]) -> HazardRatioPrior | None:
    """The one hazard-ratio entry deciding every category in ``categories``, if there is one."""
    for entry in prior.hazard_ratio:
        if set(categories) <= set(entry.categories):
            return entry
    return None


def describe_categories(codes: tuple[int, ...]) -> str:
    return ", ".join(CATEGORIES[c] for c in codes)


def prior_summary(prior: Prior) -> dict[str, Any]:
    return prior.to_dict()
