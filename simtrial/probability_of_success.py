"""Assurance: the probability that the trial succeeds, averaged over the prior of its unknowns.

Each simulated trial draws its hazard ratios, control median or response
probabilities from the scenario's ``prior:`` (``simtrial.priors.draw``), then
is simulated and analysed exactly as in a power run (same designs, looks,
multiplicity; ``simtrial.power.run`` with per-trial parameters), so assurance
is the share of successful trials with its binomial Monte-Carlo SE (O'Hagan,
Stevens and Campbell 2005, "Assurance in clinical trial design", Pharm Stat
4:187-201).

Beside it: power at the prior's centre (same patient streams), the closed-form
assurance of a fixed design under a Schoenfeld-normal estimate where the
analysed patients' HR has one prior entry (``simtrial.priors.schoenfeld_assurance``),
success by look for group-sequential designs, a "clinically meaningful"
success (success and an estimated HR below a threshold) and what a success
says about the truth: the drawn true HR among successful and failed trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from simtrial.designs.time_to_event import _analysed_true_categories
from simtrial.errors import BudgetExhausted, InvalidInput, check_n_sims, check_seed
from simtrial.executors import Executor
from simtrial.power import PowerResult, _clean, run, wilson_interval
from simtrial.priors import (
    PriorDraws,
    covering_entry,
    describe_categories,
    draw,
    schoenfeld_assurance,
    success_limit,
)
from simtrial.spec import Scenario
from simtrial.spec.prior import Prior

#: power at the prior's centre runs on the first trials' streams, at most this many
CENTRAL_SIMS = 10_000
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_ANALYTIC_TESTS = ("logrank", "cox", "stratified_logrank", "stratified_cox")


@dataclass(frozen=True)
class AssuranceResult:
    """Assurance of one scenario with its Monte-Carlo error.  ``to_dict()`` is the CLI's JSON."""

    scenario: str
    design: str
    n_sims: int
    seed: int
    assurance: float
    assurance_mc_se: float
    assurance_ci: tuple[float, float]
    analytic_assurance: float | None
    analytic_note: str
    plateau: float | None
    power_at_prior_mean: dict[str, Any] | None
    p_success_by_look: list[dict] | None
    meaningful_success: dict[str, Any] | None
    true_hr_given_success: dict[str, dict]
    prior: dict[str, Any]
    run: PowerResult = field(repr=False)
    draws: PriorDraws = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        r = self.run
        out = {
            "scenario": self.scenario,
            "design": self.design,
            "n_sims": self.n_sims,
            "seed": self.seed,
            "assurance": self.assurance,
            "assurance_mc_se": self.assurance_mc_se,
            "assurance_ci": list(self.assurance_ci),
            "analytic_assurance": self.analytic_assurance,
            "analytic_note": self.analytic_note,
            "assurance_plateau": self.plateau,
            "power_at_prior_mean": self.power_at_prior_mean,
            "p_success_by_look": self.p_success_by_look,
            "meaningful_success": self.meaningful_success,
            "true_hr_given_success": self.true_hr_given_success,
            "prior": self.prior,
            "analysis": r.analysis,
            "n_patients": r.n_patients,
            "target_events": r.target_events,
            "mean_events": r.mean_events,
            "mean_duration_months": r.mean_duration_months,
            "mean_enrolled": r.mean_enrolled,
            "hr_median": r.hr_median,
            "decisions": r.decisions,
            "flags": r.flags,
            "versions": r.versions,
        }
        return _clean(out)

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per reported quantity, with its MC SE where one applies."""
        rows = [("assurance", self.assurance, self.assurance_mc_se),
                ("analytic_assurance", self.analytic_assurance, None),
                ]
        if self.power_at_prior_mean is not None:
            pm = self.power_at_prior_mean
            rows.append(("power_at_prior_mean", pm["power"], pm["mc_se"]))
        if self.meaningful_success is not None:
            rows.append(("meaningful_success", self.meaningful_success["probability"], self.meaningful_success["mc_se"]))
        for look in self.p_success_by_look or []:
            rows.append((f"look{look['look']}_p_success", look["p_success"], None))
        return pd.DataFrame(rows, columns=["quantity", "value", "mc_se"])

    def per_trial_frame(self) -> pd.DataFrame:
        """One row per simulated trial: the drawn parameters, then the trial's outcome."""
        frame = pd.DataFrame({"trial": np.arange(self.n_sims), **self.draws.columns})
        outcome = self.run.per_trial_frame().drop(columns=["trial"])
        return pd.concat([frame, outcome], axis=1)


def _over_prior(result: PowerResult) -> PowerResult:
    """A run over the prior: its probability of success is assurance, and the scenario's fixed-HR
    analytic power does not describe it."""
    details = {**result.details, "probability_of_success": "assurance: each trial drew its parameters from the prior"}
    return replace(result, analytic_power=None, details=details)


def _quantiles(values: np.ndarray) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    out: dict[str, Any] = {"n": int(v.size)}
    for q in QUANTILES:
        out[f"p{q * 100:g}"] = float(np.quantile(v, q)) if v.size else None
    return out


def _analytic(scenario: Scenario, prior: Prior, result: PowerResult) -> tuple[float | None, str, float | None]:
    """(closed-form assurance, how or why not, plateau)."""
    a = scenario.analysis
    categories = _analysed_true_categories(scenario)
    entry = covering_entry(prior, categories)
    margin = float(a.ni_margin) if scenario.design == "noninferiority" else 1.0
    plateau = success_limit(entry, margin) if entry is not None else None
    if scenario.design not in ("superiority", "noninferiority"):
        return None, f"no closed form for design {scenario.design}", plateau
    if entry is None:
        return None, ("no closed form: the analysed patients (" + describe_categories(categories)
                      + ") do not share one hazard-ratio prior entry"), plateau
    if a.test not in _ANALYTIC_TESTS:
        return None, f"no closed form for test {a.test}", plateau
    if a.sequential is not None:
        return None, "no closed form for a group-sequential design (the simulated figure integrates it)", plateau
    events = result.mean_events
    if not events or not events > 0:
        return None, "no events", plateau
    alpha = a.alpha if a.sided == 1 else a.alpha / 2.0
    value = schoenfeld_assurance(entry, events, alpha, scenario.allocation, margin)
    how = (f"Schoenfeld-normal closed form over the prior of {entry.key}: Phi((log margin - z sd - mu) / "
           f"sqrt(sd^2 + tau^2)), sd^2 = 1/(D pi(1-pi)), D = {events:.1f} mean events analysed")
    if prior.control:
        how += "; the control prior does not enter it"
    return value, how, plateau


def assurance(
    scenario: Scenario,
    *,
    n_sims: int | None = None,
    seed: int | None = None,
    prior: Prior | None = None,
    meaningful_hr_below: float | None = None,
    n_patients: int | None = None,
    target_events: int | None = None,
    threads: int | None = None,
    progress=None,
    executor: Executor | None = None,
    central_sims: int | None = None,
) -> AssuranceResult:
    """Simulated assurance of ``scenario`` over ``prior`` (default: the scenario's ``prior:`` block).

    ``central_sims``: trials of the power run at the prior's centre (default
    min(n_sims, CENTRAL_SIMS); 0 skips it and ``power_at_prior_mean`` is None).
    """
    prior = scenario.prior if prior is None else prior
    if prior is None:
        raise InvalidInput(f"scenario {scenario.name!r} has no prior: add a prior: block (scenarios/README.md, prior)")
    n = check_n_sims(scenario.simulation.n_sims if n_sims is None else n_sims)
    seed = check_seed(scenario.simulation.seed if seed is None else seed)
    if prior.response and scenario.endpoint != "binary":
        raise InvalidInput("a response prior applies to binary endpoints")
    draws = draw(scenario, n, seed, prior)
    common = dict(n_patients=n_patients, target_events=target_events, threads=threads, executor=executor)
    result = _over_prior(
        run(scenario, n_sims=n, seed=seed, trial_parameters=draws.trial_parameters, progress=progress, **common)
    )
    outcomes = result.outcomes
    success = np.asarray(outcomes.success, dtype=bool)
    k = int(success.sum())
    p = k / n

    power_at_mean = None
    m = min(n, CENTRAL_SIMS) if central_sims is None else int(central_sims)
    if m:  # central_sims=0 skips it (a sweep reports assurance alone)
        m = check_n_sims(m)
        centre = draw(scenario, m, seed, prior, central=True)
        central = run(scenario, n_sims=m, seed=seed, trial_parameters=centre.trial_parameters, **common)
        at = {name: float(values[0]) for name, values in centre.columns.items()}
        power_at_mean = {"power": central.power, "mc_se": central.power_mc_se, "n_sims": m, "at": at,
                         "note": "every trial at the prior's centre: HR = exp(E[log HR]), the control median at its "
                                 "CI's geometric midpoint, each Beta's mean; the first trials' patient streams"}

    threshold = prior.meaningful_hr_below if meaningful_hr_below is None else float(meaningful_hr_below)
    meaningful = None
    if threshold is not None:
        if not threshold > 0:
            raise InvalidInput(f"meaningful_hr_below must be a hazard ratio > 0, got {threshold!r}")
        hr_hat = np.asarray(outcomes.hazard_ratio, dtype=float)
        hit = success & (hr_hat < threshold)
        q = float(hit.mean())
        meaningful = {"hr_below": threshold, "probability": q, "mc_se": math.sqrt(q * (1 - q) / n),
                      "ci": list(wilson_interval(int(hit.sum()), n)),
                      "rule": f"success and estimated HR < {threshold:g}"}

    given: dict[str, dict] = {}
    for name, values in draws.columns.items():
        given[name] = {"success": _quantiles(values[success]), "failure": _quantiles(values[~success])}

    by_look = None
    if result.looks:
        by_look = [{"look": lk["look"], "p_success": lk.get("p_stop_efficacy"),
                    "cumulative_p_success": lk.get("cumulative_power"),
                    "p_stop_futility": lk.get("p_stop_futility")} for lk in result.looks]
    analytic, note, plateau = (None, "binary endpoint: no closed form", None)
    if scenario.endpoint == "time_to_event" and prior.hazard_ratio:
        analytic, note, plateau = _analytic(scenario, prior, result)
    elif scenario.endpoint == "time_to_event":
        note = "no closed form: the prior is on the control arm only"
    return AssuranceResult(
        scenario=scenario.name, design=scenario.design, n_sims=n, seed=seed, assurance=p,
        assurance_mc_se=math.sqrt(p * (1 - p) / n), assurance_ci=wilson_interval(k, n),
        analytic_assurance=analytic, analytic_note=note, plateau=plateau, power_at_prior_mean=power_at_mean,
        p_success_by_look=by_look, meaningful_success=meaningful, true_hr_given_success=given,
        prior=prior.to_dict(), run=result, draws=draws,
    )




# --- assurance-based sample size ----------------------------------------------------


def assurance_runner(prior: Prior):
    """A ``simtrial.power.run`` look-alike whose probability of success is assurance over ``prior``.

    Draws depend on (seed, trial) only, so every size a search evaluates with
    one seed sees the same draws (common random numbers across sizes).
    """

    def evaluate(scenario: Scenario, *, n_sims: int, seed: int, **kwargs) -> PowerResult:
        draws = draw(scenario, n_sims, seed, prior)
        return _over_prior(run(scenario, n_sims=n_sims, seed=seed, trial_parameters=draws.trial_parameters, **kwargs))

    return evaluate


def _analytic_events_for(scenario: Scenario, prior: Prior, target: float) -> tuple[float | None, float | None]:
    """(events giving ``target`` closed-form assurance, the plateau) where the closed form applies."""
    from scipy.optimize import brentq

    a = scenario.analysis
    entry = covering_entry(prior, _analysed_true_categories(scenario)) if prior.hazard_ratio else None
    if entry is None or scenario.design not in ("superiority", "noninferiority"):
        return None, None
    margin = float(a.ni_margin) if scenario.design == "noninferiority" else 1.0
    plateau = success_limit(entry, margin)
    if a.test not in _ANALYTIC_TESTS or a.sequential is not None or not target < plateau:
        return None, plateau
    alpha = a.alpha if a.sided == 1 else a.alpha / 2.0

    def gap(d: float) -> float:
        return schoenfeld_assurance(entry, d, alpha, scenario.allocation, margin) - target

    if gap(1e7) < 0:
        return None, plateau
    lo = 1.0
    if gap(lo) >= 0:
        return lo, plateau
    return float(brentq(gap, lo, 1e7, xtol=1e-6)), plateau


def assurance_sample_size(scenario: Scenario, *, target: float, prior: Prior | None = None, **kwargs):
    """Smallest N (or events) whose assurance reaches ``target``, confirmed by an independent run.

    Assurance tends, as the trial grows, to the prior probability that the
    true effect lies in the success region (HR < 1, or < margin): the plateau.
    A target at or above it is refused at once, naming the plateau; where no
    closed form gives the plateau, a search that reaches its maximum says the
    assurance there instead.
    """
    from simtrial.samplesize import sample_size

    prior = scenario.prior if prior is None else prior
    if prior is None:
        raise InvalidInput(f"scenario {scenario.name!r} has no prior: add a prior: block to search for assurance")
    if not 0.0 < target < 1.0:
        raise InvalidInput(f"target assurance must be in (0, 1), got {target!r}")
    analytic, plateau = _analytic_events_for(scenario, prior, target)
    if plateau is not None and target >= plateau:
        raise InvalidInput(
            f"target assurance {target:g} cannot be reached: as the trial grows, assurance tends to the prior "
            f"probability that the true HR is in the success region, {plateau:.4f} (the plateau); lower the target "
            "or narrow the prior"
        )
    try:
        result = sample_size(scenario, target_power=target, evaluate=assurance_runner(prior), quantity="assurance",
                             analytic_events=analytic, **kwargs)
    except (InvalidInput, BudgetExhausted) as err:
        if "search maximum" not in str(err):
            raise
        raise InvalidInput(
            f"{err}. Assurance may plateau below the target: it tends to the prior probability of an effect in "
            "the success region, not to 1" + (f" ({plateau:.4f} here)" if plateau is not None else "")
        ) from None
    details = dict(result.details)
    details["assurance_plateau"] = plateau
    details["analytic_note"] = ("events at which the Schoenfeld closed-form assurance reaches the target"
                                if analytic is not None else "no closed form for this design and prior")
    return replace(result, details=details)


__all__ = ["CENTRAL_SIMS", "AssuranceResult", "assurance", "assurance_runner", "assurance_sample_size"]
