"""Sample-size search: the smallest N (or number of events) whose simulated power reaches a target.

Monte-Carlo power is noisy, so the search (1) starts from the analytic answer
(Schoenfeld events, inflated for group-sequential designs) where one exists,
(2) brackets and bisects on integers with *common random numbers* - every
candidate is simulated with the same seed, so trial i of one candidate and of
the next share their random streams and the power curve is nearly monotone -
and (3) confirms the answer with an independent run (a different seed) whose
power and Monte-Carlo SE are reported with every point the search evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm

from simtrial.designs._survival import constant_hazard_ratio
from simtrial.designs.base import Progress
from simtrial.power import PowerResult, _clean, run
from simtrial.scenario.model import Scenario
from simtrial.stats.analytic import schoenfeld_events

CONFIRMATION_SEED_OFFSET = 7919


@dataclass(frozen=True)
class SampleSizeResult:
    scenario: str
    design: str
    solve_for: str
    target_power: float
    n_required: int | None
    events_required: int | None
    achieved_power: float
    achieved_power_mc_se: float
    confirmed: bool
    analytic_events: float | None
    start_value: int | None
    curve: list[dict[str, float]]
    confirmation: PowerResult = field(repr=False)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        c = self.confirmation.to_dict()
        out = {
            **c,
            "solve_for": self.solve_for,
            "target_power": self.target_power,
            "n_required": self.n_required,
            "events_required": self.events_required,
            "achieved_power": self.achieved_power,
            "achieved_power_mc_se": self.achieved_power_mc_se,
            "confirmed": self.confirmed,
            "analytic_events": self.analytic_events,
            "start_value": self.start_value,
            "power_curve": self.curve,
            "search": self.details,
        }
        return _clean(out)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.curve)


def _analytic_events(scenario: Scenario, target_power: float) -> float | None:
    a = scenario.analysis
    if scenario.endpoint != "time_to_event":
        return None
    hr = constant_hazard_ratio(scenario, scenario.population.true_categories(a.population))
    margin = a.ni_margin if scenario.design == "noninferiority" else 1.0
    if hr is None or (margin == 1.0 and hr >= 1.0) or (margin != 1.0 and hr >= margin):
        return None
    ratio = scenario.allocation[1] / scenario.allocation[0]
    events = schoenfeld_events(hr, a.alpha, target_power, allocation_ratio=ratio, ni_margin=margin or 1.0, sided=a.sided)
    if a.sequential is not None:
        from simtrial.designs.sequential import planned_design

        events *= planned_design(a.sequential, a.alpha / a.sided, 1.0 - target_power).inflation_factor
    return float(events)


def _mc_uncertainty(curve: dict[int, tuple[float, float]], answer: int, power_se: float) -> float | None:
    """About how far (in the solved-for unit) the answer could move from Monte-Carlo error alone.

    Common random numbers make neighbouring points agree, but the whole curve
    shares one seed's error (one power SE); that shifts the crossing by
    SE / slope.  The slope comes from a probit-linear fit in sqrt(x), the shape
    Schoenfeld's formula gives; reported as 2 SE / slope.
    """
    xs = np.array([k for k, (p, _) in curve.items() if 0.0 < p < 1.0], dtype=float)
    ps = np.array([p for k, (p, _) in curve.items() if 0.0 < p < 1.0], dtype=float)
    if xs.size < 2 or np.ptp(xs) == 0:
        return None
    slope_probit, intercept = np.polyfit(np.sqrt(xs), norm.ppf(ps), 1)
    fitted = norm.cdf(intercept + slope_probit * math.sqrt(answer))
    slope = slope_probit * norm.pdf(norm.ppf(fitted)) / (2.0 * math.sqrt(answer))
    if not slope > 0:
        return None
    return float(2.0 * power_se / slope)


def _bracket_and_bisect(power_at, start, target, lo_bound, hi_bound, solve_for, curve) -> int:
    """Smallest x with power_at(x) >= target: bracket geometrically from ``start``, then bisect."""
    # bracket [lo, hi] with power(lo) < target <= power(hi)
    lo, hi = None, None
    x = start
    if power_at(x) >= target:
        hi = x
        while hi > lo_bound:
            y = max(lo_bound, int(math.floor(hi / 1.25)))
            if y == hi:
                break
            if power_at(y) >= target:
                hi = y
            else:
                lo = y
                break
        if lo is None:
            lo = hi  # even the minimum reaches the target
    else:
        lo = x
        while lo < hi_bound:
            y = min(hi_bound, int(math.ceil(lo * 1.25)))
            if y == lo:
                break
            if power_at(y) >= target:
                hi = y
                break
            lo = y
        if hi is None:
            raise ValueError(
                f"sample_size: even {solve_for} = {hi_bound} (the search maximum) gives power "
                f"{curve[hi_bound if hi_bound in curve else lo][0]:.3f} < {target}; raise sample_size.maximum"
            )
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if power_at(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def _exact_binomial_scan(
    scenario: Scenario, target: float, lo_bound: int, hi_bound: int, curve: dict, seed: int
) -> tuple[int, int | None]:
    """Single-arm exact binomial power is a saw-tooth in N: scan N upwards on the exact power.

    Returns the smallest N reaching ``target`` and the smallest N from which
    every larger N (within a window of 25% more) reaches it too.
    """

    def exact_power(n: int) -> float:
        if n not in curve:
            r = run(scenario, n_sims=1, seed=seed, n_patients=n)
            curve[n] = (float(r.analytic_power["exact_binomial"]), 0.0)
        return curve[n][0]

    first = next((n for n in range(lo_bound, hi_bound + 1) if exact_power(n) >= target), None)
    if first is None:
        raise ValueError(
            f"sample_size: even n_patients = {hi_bound} (the search maximum) gives exact power "
            f"{curve[hi_bound][0]:.3f} < {target}; raise sample_size.maximum"
        )
    window_end = min(hi_bound, first + max(20, first // 4))
    stable = first
    for n in range(first, window_end + 1):
        if exact_power(n) < target:
            stable = n + 1
    return first, (stable if stable <= window_end else None)


def sample_size(
    scenario: Scenario,
    *,
    target_power: float | None = None,
    solve_for: str | None = None,
    n_sims: int | None = None,
    seed: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> SampleSizeResult:
    """Smallest N (``solve_for="n_patients"``) or event count (``"events"``) reaching ``target_power``."""
    search = scenario.sample_size
    target = target_power if target_power is not None else (search.target_power if search else 0.8)
    if not 0.0 < target < 1.0:
        raise ValueError(f"target power must be in (0, 1), got {target!r}")
    solve_for = solve_for or (search.solve_for if search else "n_patients")
    if solve_for not in ("n_patients", "events"):
        raise ValueError(f"solve_for must be n_patients or events, got {solve_for!r}")
    n_sims = n_sims or scenario.simulation.n_sims
    seed = scenario.simulation.seed if seed is None else seed
    if scenario.design == "simon_two_stage":
        result = run(scenario, n_sims=n_sims, seed=seed, threads=threads, progress=progress)
        n = int(result.details.get("n", 0)) or None
        return SampleSizeResult(
            scenario.name, scenario.design, "n_patients", target, n, None, result.power, result.power_mc_se,
            True, None, n, [], result, {"note": "Simon's design fixes N (stage 1 + stage 2); no search needed"},
        )
    tte = scenario.endpoint == "time_to_event"
    if solve_for == "events" and not tte:
        raise ValueError("solve_for: events applies to time-to-event designs only")
    if tte and solve_for == "n_patients" and scenario.analysis.target_events is None:
        pass  # calendar-time analysis: N alone drives the events
    lo_bound = minimum if minimum is not None else (search.minimum if search and search.minimum else None)
    hi_bound = maximum if maximum is not None else (search.maximum if search and search.maximum else None)
    n_now = scenario.n_patients or 100
    events_per_patient = None
    if tte and search and search.events_per_patient:
        events_per_patient = search.events_per_patient
    elif tte and scenario.analysis.target_events:
        if solve_for == "n_patients" and scenario.n_patients is None:
            raise ValueError(
                "sample_size: solving for n_patients with analysis.target_events needs n_patients "
                "(whose events ratio is kept) or sample_size.events_per_patient"
            )
        events_per_patient = scenario.analysis.target_events / n_now
    if solve_for == "events":
        lo_bound = max(lo_bound or 10, 1)
        hi_bound = min(hi_bound or n_now, n_now)
    else:
        lo_bound = max(lo_bound or 10, 2)
        hi_bound = hi_bound or max(20 * n_now, 5000)
    if lo_bound > hi_bound:
        raise ValueError(f"sample_size: minimum ({lo_bound}) is above maximum ({hi_bound})")

    analytic = _analytic_events(scenario, target)
    if analytic is not None:
        start = analytic if solve_for == "events" else analytic / (events_per_patient or 0.7)
    else:
        start = scenario.analysis.target_events if (solve_for == "events" and tte) else n_now
    start = int(min(max(round(start or lo_bound), lo_bound), hi_bound))

    curve: dict[int, tuple[float, float]] = {}

    def power_at(x: int) -> float:
        if x not in curve:
            kwargs = {"target_events": x} if solve_for == "events" else {"n_patients": x}
            r = run(scenario, n_sims=n_sims, seed=seed, threads=threads, **kwargs)
            curve[x] = (r.power, r.power_mc_se)
            if progress is not None:
                progress(1)
        return curve[x][0]

    exact = scenario.design == "single_arm_binary"
    if exact:
        answer, stable = _exact_binomial_scan(scenario, target, lo_bound, hi_bound, curve, seed)
    else:
        answer = _bracket_and_bisect(power_at, start, target, lo_bound, hi_bound, solve_for, curve)

    kwargs = {"target_events": answer} if solve_for == "events" else {"n_patients": answer}
    confirmation = run(scenario, n_sims=n_sims, seed=seed + CONFIRMATION_SEED_OFFSET, threads=threads, **kwargs)
    confirmed = confirmation.power + 2.0 * confirmation.power_mc_se >= target
    if solve_for == "events":
        n_required = confirmation.n_patients
        events_required = answer
    else:
        n_required = answer
        events_required = confirmation.target_events
    details = {
        "mc_uncertainty": 0.0 if exact else _mc_uncertainty(curve, answer, confirmation.power_mc_se),
        "n_sims_per_point": n_sims,
        "seed": seed,
        "confirmation_seed": seed + CONFIRMATION_SEED_OFFSET,
        "method": (
            "scan of the exact binomial power (a saw-tooth in N), then a simulated confirmation run"
            if exact
            else "bracket and bisect with common random numbers, then an independent confirmation run"
        ),
        "bounds": [lo_bound, hi_bound],
    }
    if exact:
        details["n_from_which_every_larger_n_reaches_target"] = stable
    if "expected_screened" in confirmation.details:
        details["expected_screened"] = confirmation.details["expected_screened"]
        details["expected_screen_failures"] = confirmation.details["expected_screen_failures"]
    points = [
        {solve_for: int(k), "power": v[0], "mc_se": v[1]} for k, v in sorted(curve.items())
    ]
    return SampleSizeResult(
        scenario=scenario.name,
        design=scenario.design,
        solve_for=solve_for,
        target_power=target,
        n_required=n_required,
        events_required=events_required,
        achieved_power=confirmation.power,
        achieved_power_mc_se=confirmation.power_mc_se,
        confirmed=bool(confirmed),
        analytic_events=analytic,
        start_value=start,
        curve=points,
        confirmation=confirmation,
        details=details,
    )


__all__ = ["SampleSizeResult", "sample_size"]
