"""Solve the timeline for the target events, analytically, then confirm by simulation.

As rpact's ``getSampleSizeSurvival`` and SAS PROC SEQDESIGN do, given the
events the analysis needs (``target_events``), solve one of:

- ``accrual_months``: the accrual duration A at a fixed accrual rate (N = rate x A),
  the analysis ``followup_months`` after the last patient enrols;
- ``followup_months``: the follow-up after accrual with a fixed N and accrual
  duration (the analysis at A + F);
- ``n_patients``: N with a fixed accrual duration and study length T.

"Reach" means the expected events at the analysis equal ``target_events``
(``simtrial.timeline.projection``: any model, mix, misclassification,
dropout; entry over the accrual duration with the scenario's entry shape).

Entry shapes: uniform entry, and a shape given with ``duration_months``
(truncated exponential, ``exponential_gamma_per_month``; a ramp-up,
``ramp_up_months``), keep their shape when the duration is solved or fixed:
the exponential's gamma and the ramp's length stay as written.  The accrual
rate is then the mean rate N / A (uniform, exponential) or the steady rate
after the ramp, N / (A - ramp / 2).  A ramp-up given by ``rates_per_month``
fixes the duration through N, so only ``followup_months`` is solvable (with
the scenario's own law); the other two are refused.  The confirmation
simulates the solved design (N rounded to the nearest patient) and reports
the simulated mean events at the analysis time with its Monte-Carlo SE, and
the quantiles of the calendar time of the ``target_events``-th event.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from simtrial.errors import InvalidInput
from simtrial.spec import Accrual, Scenario

SOLVABLE = ("accrual_months", "followup_months", "n_patients")
_N_REF = 10_000  # the event fraction under uniform entry does not depend on N: computed at this N


@dataclass(frozen=True)
class SolvedTimeline:
    solved_for: str
    target_events: float
    n_patients_exact: float
    n_patients: int
    accrual_months: float
    followup_months: float
    analysis_months: float
    accrual_rate_per_month: float
    expected_events: float
    seconds: float
    confirmation: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rates_ramp(scenario: Scenario) -> bool:
    acc = scenario.accrual
    return acc is not None and acc.rates_per_month is not None and acc.shaped


def _accrual_over(scenario: Scenario, accrual_months: float) -> Accrual:
    """The scenario's entry shape over ``accrual_months`` (uniform when it has none)."""
    acc = scenario.accrual
    if acc is None or not acc.shaped:
        return Accrual(duration_months=float(accrual_months))
    if acc.duration_months is None:
        raise InvalidInput("accrual: a ramp-up given by rates_per_month lasts as long as N needs, so the accrual "
                           "duration cannot be set or solved; solve followup_months, or write the accrual as "
                           "{duration_months, ramp_up_months}")
    if acc.ramp_up_months is not None and acc.ramp_up_months > accrual_months:
        raise InvalidInput(f"accrual.ramp_up_months ({acc.ramp_up_months:g}) is longer than the accrual "
                           f"duration ({accrual_months:g} months)")
    return replace(acc, duration_months=float(accrual_months))


def _patients(scenario: Scenario, rate: float, accrual_months: float) -> float:
    """N enrolled in ``accrual_months`` at ``rate`` (the steady rate after a ramp-up)."""
    ramp = scenario.accrual.ramp_up_months if scenario.accrual is not None else None
    return rate * (accrual_months - 0.5 * ramp if ramp is not None else accrual_months)


def _steady_rate(scenario: Scenario, n: float, accrual_months: float) -> float:
    """The rate that enrols ``n`` in ``accrual_months``: the mean rate, or the steady rate after a ramp-up."""
    ramp = scenario.accrual.ramp_up_months if scenario.accrual is not None else None
    span = accrual_months - 0.5 * ramp if ramp is not None else accrual_months
    return n / span if span > 0 else math.inf


def _fraction(scenario: Scenario, accrual_months: float, t: float) -> float:
    """E[events by calendar t] / N with the scenario's entry shape over ``accrual_months`` (independent of N)."""
    from simtrial.timeline.projection import expected_events

    sc = replace(scenario, accrual=_accrual_over(scenario, accrual_months))
    return float(expected_events(sc, [t], n_patients=_N_REF)["total"][0]) / _N_REF


def _own_fraction(scenario: Scenario, n: float, t: float) -> float:
    """E[events by calendar t] / N with the scenario's own accrual law at N (a ramp-up given by rates)."""
    from simtrial.timeline.projection import expected_events

    m = int(round(n))
    return float(expected_events(scenario, [t], n_patients=m)["total"][0]) / m


def _rate(scenario: Scenario, accrual_rate_per_month: float | None) -> float:
    if accrual_rate_per_month is not None:
        if not accrual_rate_per_month > 0:
            raise InvalidInput(f"accrual_rate_per_month must be > 0, got {accrual_rate_per_month!r}")
        return float(accrual_rate_per_month)
    acc = scenario.accrual
    if acc is not None and acc.rates_per_month is not None and len(acc.rates_per_month) == 1:
        return float(acc.rates_per_month[0])
    if acc is not None and acc.duration_months and scenario.n_patients:
        if acc.ramp_up_months is not None:
            return scenario.n_patients / (acc.duration_months - 0.5 * acc.ramp_up_months)  # the steady rate
        return scenario.n_patients / acc.duration_months
    raise InvalidInput("accrual_rate_per_month: give it (or accrual: {rates_per_month: [r]} in the scenario)")


def _duration(scenario: Scenario, accrual_months: float | None, n: float | None) -> float:
    if accrual_months is not None:
        if not accrual_months >= 0:
            raise InvalidInput(f"accrual_months must be >= 0, got {accrual_months!r}")
        return float(accrual_months)
    acc = scenario.accrual
    if acc is None:
        raise InvalidInput("accrual_months: give it, or an accrual block in the scenario")
    if acc.duration_months is not None:
        return float(acc.duration_months)
    if n is None:
        raise InvalidInput("accrual_months: the scenario's accrual is given by rates; give accrual_months")
    return float(acc.duration_for(int(round(n))))


def solve_timeline(
    scenario: Scenario,
    solve_for: str,
    *,
    target_events: float | None = None,
    n_patients: float | None = None,
    accrual_months: float | None = None,
    followup_months: float | None = None,
    study_months: float | None = None,
    accrual_rate_per_month: float | None = None,
    confirm_n_sims: int = 0,
    seed: int | None = None,
) -> SolvedTimeline:
    """Solve ``solve_for`` (one of ``SOLVABLE``) so that the expected events at the analysis are ``target_events``."""
    import time

    from scipy.optimize import brentq

    start = time.perf_counter()
    if solve_for not in SOLVABLE:
        raise InvalidInput(f"solve_for must be one of {list(SOLVABLE)}, got {solve_for!r}")
    d = float(target_events if target_events is not None else (scenario.analysis.target_events or 0))
    if not d > 0:
        raise InvalidInput("target_events: give the events the analysis needs (or analysis.target_events)")
    own_law = False
    if solve_for == "accrual_months":
        if _rates_ramp(scenario):
            _accrual_over(scenario, 1.0)  # refuses, saying why
        rate = _rate(scenario, accrual_rate_per_month)
        f = followup_months
        if f is None or not f >= 0:
            raise InvalidInput(f"followup_months must be given and >= 0 to solve the accrual duration, got {f!r}")
        ramp = scenario.accrual.ramp_up_months if scenario.accrual is not None else None
        a_lo = 1e-9 if ramp is None else ramp  # a ramp-up longer than the accrual is refused

        def excess(a: float) -> float:
            return _patients(scenario, rate, a) * _fraction(scenario, a, a + f) - d

        hi = max(1.0, d / rate) + (ramp or 0.0)
        while excess(hi) < 0:
            hi *= 2.0
            if hi > 1e4:
                raise InvalidInput("the target events are never reached at this accrual rate and follow-up")
        if excess(a_lo) >= 0:
            raise InvalidInput(f"the target events are reached with an accrual no longer than the ramp-up "
                               f"({ramp:g} months): shorten accrual.ramp_up_months or raise target_events")
        a_sol = brentq(excess, a_lo, hi, xtol=1e-10)
        n, acc_m, t = _patients(scenario, rate, a_sol), a_sol, a_sol + f
    elif solve_for == "followup_months":
        n = float(n_patients if n_patients is not None else (scenario.n_patients or 0))
        if not n >= d:
            raise InvalidInput(f"n_patients ({n:g}) must be at least target_events ({d:g})")
        own_law = _rates_ramp(scenario) and accrual_months is None
        acc_m = _duration(scenario, accrual_months, n)

        def frac(x: float) -> float:
            return _own_fraction(scenario, n, x) if own_law else _fraction(scenario, acc_m, x)

        if n * frac(acc_m) >= d:
            raise InvalidInput(f"the target events are reached before accrual ends ({acc_m:g} months): "
                               "no follow-up to solve (shorten the accrual or raise target_events)")
        hi = acc_m + 60.0
        while n * frac(hi) < d:
            hi = acc_m + 2.0 * (hi - acc_m)
            if hi > acc_m + 5000.0:
                raise InvalidInput(f"{n:g} patients never yield {d:g} expected events (cure fraction or dropout)")
        t = brentq(lambda x: n * frac(x) - d, acc_m, hi, xtol=1e-10)
        rate = float(scenario.accrual.rates_per_month[-1]) if own_law else _steady_rate(scenario, n, acc_m)
    else:
        if _rates_ramp(scenario):
            _accrual_over(scenario, 1.0)  # refuses, saying why
        acc_m = _duration(scenario, accrual_months, None)
        t = study_months if study_months is not None else (
            acc_m + followup_months if followup_months is not None else scenario.analysis.calendar_months)
        if t is None or not t > 0 or t < acc_m:
            raise InvalidInput("study_months (or followup_months) must be given, with the study at least as long "
                               f"as accrual ({acc_m:g} months)")
        n = d / _fraction(scenario, acc_m, float(t))
        rate = _steady_rate(scenario, n, acc_m)
    seconds = time.perf_counter() - start
    n_int = max(2, int(math.ceil(n - 1e-9)))
    confirmation = None
    expected = n * (_own_fraction(scenario, n, float(t)) if own_law else _fraction(scenario, acc_m, float(t)))
    if confirm_n_sims:
        confirmation = _confirm(scenario, n_int, acc_m, float(t), d, confirm_n_sims, seed, own_law)
    return SolvedTimeline(
        solved_for=solve_for, target_events=d, n_patients_exact=float(n), n_patients=n_int,
        accrual_months=float(acc_m), followup_months=float(t - acc_m), analysis_months=float(t),
        accrual_rate_per_month=float(rate), expected_events=float(expected),
        seconds=seconds, confirmation=confirmation,
    )


def _confirm(scenario, n, accrual_months, t, target, n_sims, seed, own_law=False) -> dict[str, Any]:
    """Simulate the solved design: mean events at the analysis time, and when the target-th event comes."""
    import numpy as np

    from simtrial.designs._survival import build_spec
    from simtrial.engine import layout
    from simtrial.simulate import simulate
    from simtrial.spec import Cut

    seed = scenario.simulation.seed if seed is None else int(seed)
    accrual = scenario.accrual if own_law else _accrual_over(scenario, accrual_months)
    sc = replace(scenario, accrual=accrual, n_patients=n)
    spec = build_spec(sc, n_patients=n, target_events=min(int(round(target)), n))
    spec = replace(spec, cuts=(Cut(None, t), Cut(min(int(math.ceil(target)), n), None)))
    res = simulate(spec, n_sims, seed)
    ev = res.stats[:, 0, 0, layout.EVENTS_CONTROL] + res.stats[:, 0, 0, layout.EVENTS_EXPERIMENTAL]
    mean, se = float(np.mean(ev)), float(np.std(ev, ddof=1) / math.sqrt(n_sims))
    times = res.cut_months[:, 1]
    q = np.nanpercentile(times, [5, 50, 95])
    expected = n * (_own_fraction(sc, n, t) if own_law else _fraction(scenario, accrual_months, t))
    return {
        "n_sims": n_sims, "seed": seed, "n_patients": n,
        "simulated_mean_events_at_analysis": mean, "mc_se": se,
        "expected_events_at_analysis": expected,
        "within_4_mc_se": bool(abs(mean - expected) <= 4 * se),
        "time_of_target_event_quantiles": {"p5": float(q[0]), "p50": float(q[1]), "p95": float(q[2])},
    }


__all__ = ["SOLVABLE", "SolvedTimeline", "solve_timeline"]
