"""Analytic event projections: expected enrolment and events over calendar time, by numerical integration.

For a patient entering at calendar time ``u`` with true HER2 category ``c`` on
arm ``a`` (event-time survival ``S_ac``, exponential dropout hazard
``eta_a``, dropout independent of the event time), the probability that an
event is observed ``s`` months after entry is::

    P_ac(s) = integral_0^s exp(-eta_a x) dF_ac(x),   F_ac = 1 - S_ac

(a cure mixture simply never reaches 1).  Entry follows the accrual law
``G`` (``Accrual.entry_distribution``: piecewise uniform, truncated exponential
or a linear ramp-up, its exact CDF), the arm shares follow the
allocation ratio and the true categories of enrolled patients follow the mix,
the eligibility rule and the misclassification matrix
(``Population.true_weights``).  Then the expected events by calendar time t::

    E[D(t)] = N sum_a sum_c share_a w_c integral_0^t P_ac(t - u) dG(u)

computed on fine grids (``P`` by the midpoint rule on the increments of
``F``, the entry integral cell by cell with the exact entry mass); expected
enrolment is ``N G(t)``.  The calendar time of an event-driven look is the
root of E[D(t)] = its target; with a calendar maximum (``calendar_months``;
per look ``sequential.calendar_months``, each capped by the later looks') the
look happens at whichever comes first; then the floors of the cut rules (``simtrial.spec.Cut``)
apply to these expected times in the engine's order: a look no earlier than
the previous look's expected time + ``min_months_after_previous_look``, then
no earlier than E[last entry] + ``min_followup_after_last_entry_months``
(E[last entry] = integral of 1 - G(t)^N).  No simulation: a timeline is a few
milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.spec import Arm, Scenario
from simtrial.spec.accrual import EntryLaw
from simtrial.spec.engine import planned_calendar_maxima

_P_GRID = 20_000  # points of the P(s) table over [0, horizon]
_ENTRY_CELLS = 2_000  # cells of the entry integral over the accrual period
ARMS = ("control", "experimental")


def observed_event_probability(model, dropout_hazard: float, s: np.ndarray) -> np.ndarray:
    """P(event observed within ``s`` months of entry) with an exponential dropout hazard, on an increasing grid s.

    ``s`` must start at 0; the integral of exp(-eta x) dF(x) is taken by the
    midpoint rule on each interval's increment of F (exact for eta = 0).
    """
    surv = np.asarray(model.survival(s), dtype=float)
    d_f = -np.diff(surv)
    if dropout_hazard > 0.0:
        mid = 0.5 * (s[1:] + s[:-1])
        d_f = d_f * np.exp(-dropout_hazard * mid)
    return np.concatenate(([0.0], np.cumsum(d_f)))


@dataclass(frozen=True)
class _Curves:
    """P_ac(s) tables and the weights that combine them."""

    s: np.ndarray
    p: dict[tuple[int, int], np.ndarray]  # (arm, true category) -> P(s)
    weight: dict[tuple[int, int], float]  # share_a * w_c
    n_patients: int
    entry: EntryLaw


def _n_patients(scenario: Scenario, n_patients: int | None) -> int:
    if n_patients is not None:
        return int(n_patients)
    if scenario.n_patients is not None:
        return int(scenario.n_patients)
    if scenario.population.fixed_counts is not None:
        return int(sum(scenario.population.fixed_counts.values()))
    raise InvalidInput("n_patients: the scenario gives no n_patients (give it, or solve it: simtrial samplesize)")


def _arms(scenario: Scenario, experimental: Arm | None) -> tuple[Arm, Arm]:
    if scenario.endpoint != "time_to_event" or scenario.control is None or scenario.experimental is None:
        raise InvalidInput("a timeline needs a two-arm time-to-event scenario (control and experimental arms)")
    return scenario.control, experimental or scenario.experimental


def _assessed_share(scenario: Scenario, assessed: tuple[int, ...] | None) -> float:
    """P(an enrolled patient is assessed into ``assessed``); 1 for everyone."""
    if assessed is None:
        return 1.0
    pop = scenario.population
    if pop.fixed_counts is not None:
        total = sum(pop.fixed_counts.values())
        return sum(v for c, v in pop.fixed_counts.items() if c in assessed) / total if total else 0.0
    col = pop.joint_probabilities().sum(axis=0)
    return float(col[list(assessed)].sum() / col.sum()) if col.sum() > 0 else 0.0


def _curves(scenario: Scenario, n: int, horizon: float, experimental: Arm | None,
            assessed: tuple[int, ...] | None = None) -> _Curves:
    if scenario.accrual is None:
        raise InvalidInput("accrual: a timeline needs the accrual law")
    control, exp_arm = _arms(scenario, experimental)
    weights = scenario.population.true_weights(assessed) * _assessed_share(scenario, assessed)
    total = scenario.allocation[0] + scenario.allocation[1]
    shares = (scenario.allocation[0] / total, scenario.allocation[1] / total)
    s = np.linspace(0.0, horizon, _P_GRID + 1)
    p: dict[tuple[int, int], np.ndarray] = {}
    weight: dict[tuple[int, int], float] = {}
    for a, arm in enumerate((control, exp_arm)):
        for c in range(scenario.population.n_cells):  # IHC categories, or IHC x HR cells with hr_status
            if weights[c] <= 0.0:
                continue
            p[(a, c)] = observed_event_probability(arm.models[c], arm.dropout_hazard_per_month, s)
            weight[(a, c)] = shares[a] * float(weights[c])
    return _Curves(s, p, weight, n, scenario.accrual.entry_distribution(n))


def _entry_cells(curves: _Curves) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cell starts, cell ends, exact entry probability mass) over the accrual period."""
    law = curves.entry
    lo, hi = float(law.breaks[0]), float(law.breaks[-1])
    if hi <= lo:
        return np.array([lo]), np.array([lo]), np.array([1.0])
    edges = np.unique(np.concatenate((np.linspace(lo, hi, _ENTRY_CELLS + 1), law.breaks)))
    mass = np.diff(law.cdf(edges))
    return edges[:-1], edges[1:], mass


def _expected(curves: _Curves, times: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """E[events by t] / N per (arm, category), one value per calendar time."""
    a0, a1, mass = _entry_cells(curves)
    out = {key: np.zeros(times.size) for key in curves.p}
    for k, t in enumerate(times):
        # cells entirely before t, and the part of the cell containing t
        frac = np.clip((t - a0) / np.where(a1 > a0, a1 - a0, 1.0), 0.0, 1.0)
        frac = np.where(a1 > a0, frac, (t >= a0).astype(float))
        m = mass * frac
        mid = a0 + 0.5 * frac * (a1 - a0)
        follow = np.clip(t - mid, 0.0, None)
        live = m > 0
        if not live.any():
            continue
        for key, p in curves.p.items():
            out[key][k] = float(np.dot(m[live], np.interp(follow[live], curves.s, p)))
    return out


def _horizon(scenario: Scenario, n: int, times: np.ndarray) -> float:
    accrual_end = float(scenario.accrual.duration_for(n)) if scenario.accrual is not None else 0.0
    longest = float(times.max()) if times.size else 0.0
    return max(longest, accrual_end + 240.0, 2.0 * accrual_end + 120.0)


@dataclass(frozen=True)
class Look:
    look: int
    target_events: int | None
    calendar_months: float | None
    expected_time_months: float  # inf when the target is never reached
    expected_events: float
    expected_enrolled: float
    reached: bool
    # "events", "calendar", "never", or the floor that delayed it: "min_months_after_previous_look",
    # "min_followup_after_last_entry"
    cut_by: str
    simulated_time_quantiles: dict[str, float] | None = None
    simulated_mean_events: float | None = None


@dataclass(frozen=True)
class Timeline:
    """Expected enrolment and events over calendar time, and the expected time of each look."""

    scenario: str
    n_patients: int
    accrual_months: float
    times_months: tuple[float, ...]
    enrolled: tuple[float, ...]
    enrolled_by_arm: dict[str, tuple[float, ...]]
    enrolled_by_assessed_category: dict[str, tuple[float, ...]]
    events: tuple[float, ...]
    events_by_arm: dict[str, tuple[float, ...]]
    events_by_arm_and_category: dict[str, dict[str, tuple[float, ...]]]
    events_eventually: float  # E[events] with unlimited follow-up
    looks: tuple[Look, ...]
    seconds: float
    simulated: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, tuple):
                out[k] = list(v)
        out["looks"] = [{kk: (None if isinstance(vv, float) and not math.isfinite(vv) else vv)
                         for kk, vv in asdict(lk).items()} for lk in self.looks]
        return out

    def to_frame(self):
        """One row per calendar time: enrolled and expected events, overall and per arm."""
        import pandas as pd

        cols: dict[str, Any] = {"months": self.times_months, "enrolled": self.enrolled, "events": self.events}
        for arm in ARMS:
            cols[f"enrolled_{arm}"] = self.enrolled_by_arm[arm]
            cols[f"events_{arm}"] = self.events_by_arm[arm]
        return pd.DataFrame(cols)


def expected_events(
    scenario: Scenario, times_months, *, n_patients: int | None = None, experimental: Arm | None = None,
    assessed: tuple[int, ...] | None = None,
) -> dict[str, np.ndarray]:
    """E[events by t] at each calendar time: ``total``, per arm, and per ``arm:true category`` key.

    ``assessed``: count only patients assessed into these categories (an analysis population).
    """
    times = np.atleast_1d(np.asarray(times_months, dtype=float))
    if np.any(times < 0) or not np.all(np.isfinite(times)):
        raise InvalidInput(f"times_months must be finite and >= 0, got {times.tolist()}")
    n = _n_patients(scenario, n_patients)
    curves = _curves(scenario, n, _horizon(scenario, n, times), experimental, assessed)
    per = _expected(curves, times)
    out: dict[str, np.ndarray] = {"total": np.zeros(times.size)}
    for arm in ARMS:
        out[arm] = np.zeros(times.size)
    for (a, c), v in per.items():
        e = n * curves.weight[(a, c)] * v
        out[f"{ARMS[a]}:{scenario.population.cells.name(c)}"] = e
        out[ARMS[a]] = out[ARMS[a]] + e
        out["total"] = out["total"] + e
    return out


class _Projector:
    """E[total events by t] as a function of t (for root finding), on fixed tables."""

    def __init__(self, scenario: Scenario, n: int, experimental: Arm | None, horizon: float) -> None:
        self.curves = _curves(scenario, n, horizon, experimental)
        self.n = n
        self.horizon = horizon
        self.eventually = n * sum(w * float(self.curves.p[k][-1]) for k, w in self.curves.weight.items())

    def total(self, t: float) -> float:
        per = _expected(self.curves, np.array([t]))
        return self.n * sum(self.curves.weight[k] * float(v[0]) for k, v in per.items())

    def time_of(self, events: float) -> float:
        """Calendar time at which E[events] reaches ``events``; inf if never within the horizon."""
        from scipy.optimize import brentq

        if events <= 0:
            return 0.0
        if self.total(self.horizon) < events:
            return math.inf
        return float(brentq(lambda t: self.total(t) - events, 0.0, self.horizon, xtol=1e-9))


def expected_calendar_cut(scenario: Scenario, n_patients: int) -> float:
    """The time of a calendar-cut analysis: ``calendar_months``, or the later of it and E[last entry] + the
    minimum follow-up (``min_followup_after_last_entry_months``)."""
    a = scenario.analysis
    t = float(a.calendar_months) if a.calendar_months is not None else -math.inf
    if a.min_followup_after_last_entry_months is not None:
        last = scenario.accrual.entry_distribution(n_patients).expected_last_entry(n_patients)
        t = max(t, last + float(a.min_followup_after_last_entry_months))
    return t


def _look_targets(scenario: Scenario, n: int, target_events: int | None) -> list[tuple[int | None, float | None]]:
    """(target events, calendar months) per look, as ``build_spec`` cuts them."""
    a = scenario.analysis
    events = target_events if target_events is not None else a.target_events
    if events is not None:
        events = min(int(events), n)
    plan = a.sequential
    if plan is None:
        return [(events, a.calendar_months)]
    if events is None:
        raise InvalidInput("analysis.target_events: group-sequential looks are fractions of target_events")
    ks = [max(1, int(round(f * events))) for f in plan.information_fractions]
    maxima = planned_calendar_maxima(a.calendar_months, plan.calendar_months, len(ks))
    return list(zip(ks, maxima, strict=True))


def _look_floors(scenario: Scenario, n: int, n_looks: int) -> list[tuple[float | None, float | None]]:
    """(minimum gap after the previous look, E[last entry] + minimum follow-up) per look, as ``build_spec``."""
    a = scenario.analysis
    gap = a.min_months_after_previous_look
    follow = None
    if a.min_followup_after_last_entry_months is not None:
        follow = (scenario.accrual.entry_distribution(n).expected_last_entry(n)
                  + float(a.min_followup_after_last_entry_months))
    last = n_looks - 1
    return [(gap if i > 0 else None, follow if i == last else None) for i in range(n_looks)]


def timeline(
    scenario: Scenario,
    times_months=None,
    *,
    n_patients: int | None = None,
    target_events: int | None = None,
    null: bool = False,
    simulate_n: int = 0,
    seed: int | None = None,
) -> Timeline:
    """The analytic timeline of a scenario: enrolment and expected events over time, and each look's time.

    ``times_months`` default: 25 points from 0 to 1.25 x the last look's
    expected time.  ``null``: the experimental arm under H0 (as ``run(null=True)``).
    ``simulate_n`` > 0 adds a simulation of that many trials: quantiles of each
    look's calendar time and the mean events at each calendar time, beside the
    analytic values.
    """
    import time as _time

    start = _time.perf_counter()
    n = _n_patients(scenario, n_patients)
    experimental = None
    if null:
        from simtrial.designs import get_design

        experimental = get_design(scenario.design, scenario.endpoint).experimental_arm(scenario, True)
    accrual_end = float(scenario.accrual.duration_for(n))
    targets = _look_targets(scenario, n, target_events)
    horizon = max(accrual_end + 240.0, 2.0 * accrual_end + 120.0)
    if times_months is not None:
        horizon = max(horizon, float(np.max(times_months)))
    proj = _Projector(scenario, n, experimental, horizon)
    looks: list[Look] = []
    floors = _look_floors(scenario, n, len(targets))
    previous = -math.inf
    for j, (k, cal) in enumerate(targets):
        t_events = proj.time_of(float(k)) if k is not None else math.inf
        if cal is not None and cal <= t_events:
            t, by = float(cal), "calendar"
        elif math.isfinite(t_events):
            t, by = t_events, "events"
        elif k is None and cal is None:
            t, by = -math.inf, "never"  # no deadline: the floors below set the look
        else:
            t, by = math.inf, "never"
        # the floors, in the engine's order, on the expected times
        gap, follow = floors[j]
        if gap is not None and previous + gap > t:
            t, by = previous + gap, "min_months_after_previous_look"
        if follow is not None and follow > t:
            t, by = follow, "min_followup_after_last_entry"
        previous = t
        e = proj.total(t) if math.isfinite(t) else proj.eventually
        enrolled = n * float(proj.curves.entry.cdf(t)) if math.isfinite(t) else n
        looks.append(Look(j + 1, k, cal, t, e, enrolled, by != "never", by))
    if times_months is None:
        last = max((lk.expected_time_months for lk in looks if math.isfinite(lk.expected_time_months)),
                   default=accrual_end + 24.0)
        times = np.linspace(0.0, 1.25 * max(last, accrual_end), 25)
    else:
        times = np.atleast_1d(np.asarray(times_months, dtype=float))
        if np.any(times < 0) or not np.all(np.isfinite(times)):
            raise InvalidInput(f"times_months must be finite and >= 0, got {times.tolist()}")
    per = _expected(proj.curves, times)
    g = proj.curves.entry.cdf(times)
    total_alloc = scenario.allocation[0] + scenario.allocation[1]
    enrolled_by_arm = {arm: tuple(float(x) for x in n * g * scenario.allocation[a] / total_alloc)
                       for a, arm in enumerate(ARMS)}
    pop = scenario.population
    if pop.fixed_counts is not None:
        assessed = {c: v / n for c, v in pop.fixed_counts.items() if v > 0}
    else:
        joint = pop.joint_probabilities().sum(axis=0)
        assessed = {int(c): float(joint[c] / joint.sum()) for c in np.flatnonzero(joint > 0)}
    by_assessed = {pop.cells.name(c): tuple(float(x) for x in n * g * w) for c, w in assessed.items()}
    events_arm = {arm: np.zeros(times.size) for arm in ARMS}
    by_cat: dict[str, dict[str, tuple[float, ...]]] = {arm: {} for arm in ARMS}
    for (a, c), v in per.items():
        e = n * proj.curves.weight[(a, c)] * v
        events_arm[ARMS[a]] += e
        by_cat[ARMS[a]][pop.cells.name(c)] = tuple(float(x) for x in e)
    total = events_arm["control"] + events_arm["experimental"]
    simulated = None
    if simulate_n:
        looks, simulated = _simulate(scenario, n, target_events, times, looks, simulate_n, seed, null)
    return Timeline(
        scenario=scenario.name, n_patients=n, accrual_months=accrual_end,
        times_months=tuple(float(t) for t in times), enrolled=tuple(float(x) for x in n * g),
        enrolled_by_arm=enrolled_by_arm, enrolled_by_assessed_category=by_assessed,
        events=tuple(float(x) for x in total),
        events_by_arm={arm: tuple(float(x) for x in v) for arm, v in events_arm.items()},
        events_by_arm_and_category=by_cat, events_eventually=float(proj.eventually), looks=tuple(looks),
        seconds=_time.perf_counter() - start, simulated=simulated,
    )


def _simulate(scenario, n, target_events, times, looks, n_sims, seed, null):
    """Simulated look times (quantiles) and mean events at the calendar times, beside the analytic ones."""
    from dataclasses import replace

    from simtrial.designs import get_design
    from simtrial.designs._survival import build_spec
    from simtrial.engine import layout
    from simtrial.simulate import simulate
    from simtrial.spec import Cut

    seed = scenario.simulation.seed if seed is None else int(seed)
    experimental = get_design(scenario.design, scenario.endpoint).experimental_arm(scenario, null)
    plan = scenario.analysis.sequential
    spec = build_spec(scenario, n_patients=n, target_events=target_events, experimental=experimental,
                      look_fractions=plan.information_fractions if plan else None)
    res = simulate(spec, n_sims, seed)
    q = np.nanpercentile(res.cut_months, [5, 25, 50, 75, 95], axis=0)
    ev = res.stats[:, :, 0, layout.EVENTS_CONTROL] + res.stats[:, :, 0, layout.EVENTS_EXPERIMENTAL]
    out_looks = [replace(lk, simulated_time_quantiles={f"p{p}": float(q[i, j]) for i, p in
                                                       enumerate((5, 25, 50, 75, 95))},
                         simulated_mean_events=float(np.nanmean(ev[:, j]))) for j, lk in enumerate(looks)]
    # events at the calendar times: one more run cut at each time (positive times only)
    positive = [float(t) for t in times if t > 0]
    at_times: dict[str, Any] = {}
    if positive:
        from simtrial.engine.records import MAX_LOOKS

        means, ses = [], []
        for chunk_start in range(0, len(positive), MAX_LOOKS):
            chunk = positive[chunk_start: chunk_start + MAX_LOOKS]
            cal_spec = replace(spec, cuts=tuple(Cut(None, t) for t in chunk))
            r = simulate(cal_spec, n_sims, seed)
            e = r.stats[:, :, 0, layout.EVENTS_CONTROL] + r.stats[:, :, 0, layout.EVENTS_EXPERIMENTAL]
            means += [float(x) for x in np.mean(e, axis=0)]
            ses += [float(x) for x in np.std(e, axis=0, ddof=1) / math.sqrt(n_sims)]
        at_times = {"times_months": positive, "mean_events": means, "mc_se": ses}
    return out_looks, {"n_sims": n_sims, "seed": seed, "events_at_times": at_times}


__all__ = ["Look", "Timeline", "expected_events", "observed_event_probability", "timeline"]
