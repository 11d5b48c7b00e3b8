"""Sample-size search: the smallest N (or number of events) whose simulated power reaches a target.

Monte-Carlo power is noisy, so the answer is found in three stages, each with
its own seed, and every simulated point is reported:

1. **coarse**: from the analytic answer (Schoenfeld events, inflated for
   group-sequential designs) where one exists, bracket and bisect on integers
   with *common random numbers* (every candidate simulated with one seed, so
   trial i of neighbouring candidates shares its random stream);
2. **refine**: around the coarse answer, a grid of candidates with enough
   simulations per point that the answer's own Monte-Carlo uncertainty (95%)
   is within ``precision`` (default 2%) of the answer; the crossing of the
   target comes from a probit fit of power on sqrt(x), the shape of
   Schoenfeld's formula, over the grid;
3. **confirm**: an independent run (a fresh seed) at the answer.  If its power
   falls short of the target, the answer moves up and is confirmed again with
   a new seed, so the printed answer is one whose independent confirmation
   reaches the target.

A simulation budget (``max_sims``, total simulated trials) or a time limit
(``max_seconds``) that stops the search before a confirmation raises
``BudgetExhausted``.  Single-arm exact binomial designs scan the exact power
(a saw-tooth in N) instead; Simon's design fixes its own N.

Power is not strictly monotone in N even with common random numbers (a larger
N redraws every trial's cohort, and more events change every trial's
statistic), so each stage's points also carry ``power_monotone``: the
isotonic (pool-adjacent-violators) fit, since the true power never decreases.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrial.designs._survival import constant_hazard_ratio
from simtrial.designs.base import Progress
from simtrial.designs.registry import REGISTRY
from simtrial.errors import BudgetExhausted, InvalidInput, check_n_sims, check_seed, derive_seed
from simtrial.power import PowerResult, _clean, run
from simtrial.spec import Scenario
from simtrial.stats.analytic import schoenfeld_events

DEFAULT_PRECISION = 0.02
MAX_SIMS_PER_POINT = 400_000
_GRID = (-3, -2, -1, 0, 1, 2, 3)  # refine grid, in units of precision x answer / 1.5
_MAX_CONFIRMATIONS = 12
_Z95 = 1.959963984540054


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
    curve: list[dict[str, Any]]
    confirmation: PowerResult = field(repr=False)
    details: dict[str, Any] = field(default_factory=dict)
    uncertainty: float | None = None  # 95% Monte-Carlo half-width of the answer, in its unit
    precision: float | None = None  # requested: uncertainty / answer
    confirmations: list[dict[str, Any]] = field(default_factory=list)
    target_quantity: str = "power"  # or "assurance": what target_power and achieved_power are
    # closed forms beside the simulated answer: Schoenfeld, Freedman, Lachin-Foulkes (simtrial.timeline.sizes)
    analytic_sizes: dict[str, Any] = field(default_factory=dict)

    @property
    def answer(self) -> int | None:
        return self.events_required if self.solve_for == "events" else self.n_required

    def to_dict(self) -> dict[str, Any]:
        c = self.confirmation.to_dict()
        out = {
            **c,
            "solve_for": self.solve_for,
            "target_quantity": self.target_quantity,
            "target_power": self.target_power,
            "n_required": self.n_required,
            "events_required": self.events_required,
            "achieved_power": self.achieved_power,
            "achieved_power_mc_se": self.achieved_power_mc_se,
            "confirmed": self.confirmed,
            "uncertainty": self.uncertainty,
            "uncertainty_relative": (
                self.uncertainty / self.answer if self.uncertainty is not None and self.answer else None
            ),
            "precision_requested": self.precision,
            "confirmations": self.confirmations,
            "analytic_events": self.analytic_events,
            "analytic_sample_sizes": self.analytic_sizes,
            "start_value": self.start_value,
            "power_curve": self.curve,
            "search": self.details,
        }
        return _clean(out)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.curve)

    def resolved_scenario(self) -> dict[str, Any]:
        """The scenario with the answer written in: running it repeats the confirmation run exactly."""
        resolved = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.confirmation.resolved_scenario.items()}
        if self.n_required is not None:
            resolved["n_patients"] = int(self.n_required)
        analysis = dict(resolved.get("analysis", {}))
        if self.events_required is not None and resolved.get("design") != "simon_two_stage":
            has_events = "target_events" in analysis or self.solve_for == "events" or (
                (resolved.get("sample_size") or {}).get("events_per_patient") is not None
            )
            if has_events:
                analysis["target_events"] = int(self.events_required)
        if analysis:
            resolved["analysis"] = analysis
        resolved["simulation"] = {"n_sims": self.confirmation.n_sims, "seed": self.confirmation.seed}
        return resolved


def _chunked(_: int) -> None:
    """A no-op progress callback: it makes every run go in chunks, so a signal stops a search point promptly
    (results do not depend on the chunking)."""


class _Budget:
    """Total simulated trials and wall time a search may use."""

    def __init__(self, max_sims: int | None, max_seconds: float | None) -> None:
        self.max_sims = max_sims
        self.max_seconds = max_seconds
        self.used = 0
        self.start = time.monotonic()

    def spend(self, n: int, what: str) -> None:
        elapsed = time.monotonic() - self.start
        if self.max_sims is not None and self.used + n > self.max_sims:
            raise BudgetExhausted(
                f"sample size: the simulation budget (--max-sims {self.max_sims:,}) would be exceeded by {what} "
                f"({self.used:,} trials simulated so far, {n:,} more needed); no confirmed answer"
            )
        if self.max_seconds is not None and elapsed > self.max_seconds:
            raise BudgetExhausted(
                f"sample size: the time limit (--max-seconds {self.max_seconds:g}) was reached after {elapsed:.1f} s "
                f"before {what}; no confirmed answer"
            )
        self.used += n


def isotonic(values: list[float], weights: list[float] | None = None) -> list[float]:
    """Non-decreasing least-squares fit (pool adjacent violators)."""
    w = list(weights) if weights is not None else [1.0] * len(values)
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, wt in zip(values, w, strict=True):
        blocks.append([float(v), float(wt), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    out: list[float] = []
    for m, _, c in blocks:
        out += [m] * c
    return out


def _probit_fit(points: dict[int, tuple[float, float]], n_sims: int) -> tuple[float, float] | None:
    """(intercept, slope) of probit(power) = a + b sqrt(x), weighted by the binomial variance."""
    from simtrial.stats import normal as norm
    xs = np.array(sorted(points), dtype=float)
    ps = np.array([points[int(x)][0] for x in xs])
    lo, hi = 0.5 / n_sims, 1.0 - 0.5 / n_sims
    ps = np.clip(ps, lo, hi)
    if xs.size < 2 or np.ptp(xs) == 0:
        return None
    z = norm.ppf(ps)
    w = norm.pdf(z) ** 2 / (ps * (1 - ps))  # 1 / var(probit p-hat), up to n
    b, a = np.polyfit(np.sqrt(xs), z, 1, w=np.sqrt(w))
    if not b > 0:
        return None
    return float(a), float(b)


def _slope_at(fit: tuple[float, float], x: float) -> float:
    """d power / dx of the probit fit at x."""
    from simtrial.stats import normal as norm
    a, b = fit
    return float(norm.pdf(a + b * math.sqrt(x)) * b / (2.0 * math.sqrt(x)))


def _crossing(fit: tuple[float, float], target: float) -> float:
    from simtrial.stats import normal as norm
    a, b = fit
    root = (norm.ppf(target) - a) / b
    return float(root * root) if root > 0 else 0.0


def _analytic_events(scenario: Scenario, target_power: float) -> float | None:
    a = scenario.analysis
    if scenario.endpoint != "time_to_event" or scenario.control is None:  # single-arm: no hazard ratio
        return None
    hr = constant_hazard_ratio(scenario, scenario.population.true_categories(a.population))
    margin = a.ni_margin if scenario.design == "noninferiority" else 1.0
    if hr is None or (margin == 1.0 and hr >= 1.0) or (margin != 1.0 and hr >= margin):
        return None
    from simtrial.timeline.sizes import efficacy_alpha

    # the favourable side's alpha (alpha - harm_alpha for an asymmetric two-sided plan), as every
    # analytic line (simtrial.timeline.sizes.efficacy_alpha)
    level = efficacy_alpha(a, scenario.design)
    ratio = scenario.allocation[1] / scenario.allocation[0]
    events = schoenfeld_events(hr, level.alpha, target_power, allocation_ratio=ratio, ni_margin=margin or 1.0,
                               sided=level.sided)
    if a.sequential is not None:
        from simtrial.designs.sequential import planned_design

        events *= planned_design(a.sequential, a.alpha / a.sided, 1.0 - target_power, a.sided).inflation_factor
    return float(events)


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
            raise InvalidInput(
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
        raise InvalidInput(
            f"sample_size: even n_patients = {hi_bound} (the search maximum) gives exact power "
            f"{curve[hi_bound][0]:.3f} < {target}; raise sample_size.maximum"
        )
    window_end = min(hi_bound, first + max(20, first // 4))
    stable = first
    for n in range(first, window_end + 1):
        if exact_power(n) < target:
            stable = n + 1
    return first, (stable if stable <= window_end else None)


class _Stage:
    """One seed's power curve: every candidate simulated with the same seed (common random numbers)."""

    def __init__(self, name, scenario, solve_for, n_sims, seed, threads, budget, progress, evaluate=None) -> None:
        self.evaluate = evaluate or run
        self.name, self.scenario, self.solve_for = name, scenario, solve_for
        self.n_sims, self.seed, self.threads = n_sims, seed, threads
        self.budget, self.progress = budget, progress
        self.points: dict[int, tuple[float, float]] = {}
        self.results: dict[int, PowerResult] = {}

    def power_at(self, x: int) -> float:
        if x not in self.points:
            self.budget.spend(self.n_sims, f"the {self.name} run at {self.solve_for} = {x}")
            kwargs = {"target_events": x} if self.solve_for == "events" else {"n_patients": x}
            r = self.evaluate(self.scenario, n_sims=self.n_sims, seed=self.seed, threads=self.threads,
                              progress=_chunked, **kwargs)
            self.points[x] = (r.power, r.power_mc_se)
            self.results[x] = r
            if self.progress is not None:
                self.progress(1)
        return self.points[x][0]

    def rows(self) -> list[dict[str, Any]]:
        xs = sorted(self.points)
        mono = isotonic([self.points[x][0] for x in xs])
        return [
            {"stage": self.name, self.solve_for: int(x), "n_sims": self.n_sims, "seed": self.seed,
             "power": self.points[x][0], "mc_se": self.points[x][1], "power_monotone": m}
            for x, m in zip(xs, mono, strict=True)
        ]


def _refine(stage: _Stage, centre: int, precision: float, lo_bound: int, hi_bound: int, target: float,
            fallback_slope: float | None) -> tuple[float, float | None, tuple[float, float] | None]:
    """Evaluate a grid around ``centre``; (crossing, slope there, fit).  Recentres up to 4 times."""
    fit = None
    crossing = float(centre)
    for _ in range(5):
        step = max(1.0, precision * centre / 1.5)
        grid = sorted({int(min(max(round(centre + k * step), lo_bound), hi_bound)) for k in _GRID})
        for x in grid:
            stage.power_at(x)
        window = {x: stage.points[x] for x in grid}
        fit = _probit_fit(window, stage.n_sims)
        if fit is None:
            break
        crossing = _crossing(fit, target)
        if grid[0] <= crossing <= grid[-1] or (crossing < grid[0] and grid[0] == lo_bound) or (
            crossing > grid[-1] and grid[-1] == hi_bound
        ):
            break
        centre = int(min(max(round(crossing), lo_bound), hi_bound))
    if fit is None:
        return crossing, fallback_slope, None
    return min(max(crossing, lo_bound), hi_bound), _slope_at(fit, max(crossing, 1.0)), fit


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
    precision: float = DEFAULT_PRECISION,
    max_sims: int | None = None,
    max_seconds: float | None = None,
    evaluate=None,
    quantity: str = "power",
    analytic_events: float | None = None,
) -> SampleSizeResult:
    """Smallest N (``solve_for="n_patients"``) or event count (``"events"``) reaching ``target_power``.

    ``n_sims`` is the per-point count of the coarse stage (default: the
    scenario's); the refine and confirmation stages choose theirs from
    ``precision`` (the 95% Monte-Carlo half-width of the answer, relative to
    it).  ``max_sims`` / ``max_seconds`` bound the whole search; exceeding
    either before a confirmed answer raises ``BudgetExhausted``.

    ``evaluate`` replaces ``simtrial.power.run`` as the function giving the
    probability of success at one size (assurance passes its own, see
    ``simtrial.probability_of_success.assurance_sample_size``); ``quantity`` names that
    probability in results and messages; ``analytic_events`` replaces the
    Schoenfeld events as the closed-form answer (and starting point).
    """
    evaluate = evaluate or run
    search = scenario.sample_size
    target = target_power if target_power is not None else (search.target_power if search else 0.8)
    if not 0.0 < target < 1.0:
        raise InvalidInput(f"target power must be in (0, 1), got {target!r}")
    if not (isinstance(precision, float | int) and 0.0 < precision < 1.0):
        raise InvalidInput(f"precision must be a fraction in (0, 1), e.g. 0.02, got {precision!r}")
    if max_sims is not None and (isinstance(max_sims, bool) or not isinstance(max_sims, int) or max_sims < 1):
        raise InvalidInput(f"max_sims must be a whole number >= 1 (simulated trials in all), got {max_sims!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise InvalidInput(f"max_seconds must be > 0, got {max_seconds!r}")
    solve_for = solve_for or (search.solve_for if search else "n_patients")
    if solve_for not in ("n_patients", "events"):
        raise InvalidInput(f"solve_for must be n_patients or events, got {solve_for!r}")
    n_sims = check_n_sims(n_sims if n_sims is not None else scenario.simulation.n_sims)
    seed = check_seed(scenario.simulation.seed if seed is None else seed)
    budget = _Budget(max_sims, max_seconds)
    registration = REGISTRY.get(scenario.design)
    if quantity != "power" and (scenario.design in ("single_arm_binary", "simon_two_stage")):
        raise InvalidInput(f"a {quantity} sample size is searched for two-arm designs; design {scenario.design} "
                           "has an exact power search (or fixes its own N)")
    if registration is not None and "n_patients" in registration.refuses:  # Simon: the design fixes its own N
        budget.spend(n_sims, "the Simon run")
        result = run(scenario, n_sims=n_sims, seed=seed, threads=threads, progress=progress)
        n = int(result.details.get("n", 0)) or None
        return SampleSizeResult(
            scenario.name, scenario.design, "n_patients", target, n, None, result.power, result.power_mc_se,
            True, None, n, [], result, {"note": "Simon's design fixes N (stage 1 + stage 2); no search needed"},
            uncertainty=0.0,
        )
    tte = scenario.endpoint == "time_to_event"
    if solve_for == "events" and not tte:
        raise InvalidInput("solve_for: events applies to time-to-event designs only")
    lo_bound = minimum if minimum is not None else (search.minimum if search and search.minimum else None)
    hi_bound = maximum if maximum is not None else (search.maximum if search and search.maximum else None)
    n_now = scenario.n_patients or 100
    events_per_patient = None
    if tte and search and search.events_per_patient:
        events_per_patient = search.events_per_patient
    elif tte and scenario.analysis.target_events:
        if solve_for == "n_patients" and scenario.n_patients is None:
            raise InvalidInput(
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
        raise InvalidInput(f"sample_size: minimum ({lo_bound}) is above maximum ({hi_bound})")

    analytic = _analytic_events(scenario, target) if quantity == "power" else analytic_events
    if analytic is not None:
        start = analytic if solve_for == "events" else analytic / (events_per_patient or 0.7)
    else:
        start = scenario.analysis.target_events if (solve_for == "events" and tte) else n_now
    start = int(min(max(round(start or lo_bound), lo_bound), hi_bound))

    if scenario.design == "single_arm_binary":
        return _exact_search(scenario, target, lo_bound, hi_bound, n_sims, seed, threads, budget, analytic, start)
    if scenario.design == "single_arm_tte" and scenario.analysis.test == "exact_poisson" and solve_for == "n_patients":
        return _poisson_scan(scenario, target, lo_bound, hi_bound, n_sims, seed, threads, budget, start, progress)

    coarse = _Stage("coarse", scenario, solve_for, n_sims, seed, threads, budget, progress, evaluate)
    x0 = _bracket_and_bisect(coarse.power_at, start, target, lo_bound, hi_bound, solve_for, coarse.points)
    coarse_fit = _probit_fit(coarse.points, n_sims)
    slope = _slope_at(coarse_fit, x0) if coarse_fit is not None else None

    def needed_sims(slope_: float | None, answer: float) -> int:
        if not slope_ or not slope_ > 0:
            return max(n_sims, 10_000)
        se_needed = precision * answer * slope_ / _Z95
        # 1.2: the slope is estimated from the coarse stage; aim a little past the precision asked for
        return int(min(max(math.ceil(1.2 * target * (1 - target) / se_needed**2), n_sims), MAX_SIMS_PER_POINT))

    refine_sims = needed_sims(slope, x0)
    stages = [coarse]
    crossing, fit = float(x0), None
    for attempt in range(2):
        refine = _Stage("refine" if attempt == 0 else f"refine{attempt + 1}", scenario, solve_for, refine_sims,
                        derive_seed(seed, 1 + attempt), threads, budget, progress, evaluate)
        stages.append(refine)
        crossing, slope_r, fit = _refine(refine, x0, precision, lo_bound, hi_bound, target, slope)
        slope = slope_r or slope
        se_p = math.sqrt(target * (1 - target) / refine_sims)
        uncertainty = _Z95 * se_p / slope if slope else None
        if uncertainty is None or uncertainty <= 1.1 * precision * max(crossing, 1.0) or refine_sims >= MAX_SIMS_PER_POINT:
            break
        refine_sims = needed_sims(slope, crossing)
        x0 = int(round(crossing))
    answer = int(min(max(math.ceil(crossing - 1e-9), lo_bound), hi_bound))
    if fit is None:
        # no usable fit (power 0 or 1 across the grid): the smallest refine point reaching the target
        reached = [x for x, (p, _) in sorted(stages[-1].points.items()) if p >= target]
        answer = reached[0] if reached else hi_bound

    confirmations: list[dict[str, Any]] = []
    confirmation: PowerResult | None = None
    for k in range(_MAX_CONFIRMATIONS):
        budget.spend(refine_sims, f"the confirmation run at {solve_for} = {answer}")
        conf_seed = derive_seed(seed, 100 + k)
        kwargs = {"target_events": answer} if solve_for == "events" else {"n_patients": answer}
        confirmation = evaluate(scenario, n_sims=refine_sims, seed=conf_seed, threads=threads, progress=_chunked,
                                **kwargs)
        if progress is not None:
            progress(1)
        confirmations.append({solve_for: answer, "n_sims": refine_sims, "seed": conf_seed,
                              "power": confirmation.power, "mc_se": confirmation.power_mc_se,
                              "reached_target": confirmation.power >= target})
        if confirmation.power >= target:
            break
        if answer >= hi_bound:
            raise BudgetExhausted(
                f"sample size: the confirmation at the search maximum {solve_for} = {hi_bound} gives power "
                f"{confirmation.power:.3f} < {target}; raise sample_size.maximum"
            )
        shortfall = target - confirmation.power + confirmation.power_mc_se
        step = max(1, math.ceil(shortfall / slope)) if slope else max(1, math.ceil(0.01 * answer))
        answer = int(min(answer + step, hi_bound))
    else:
        raise BudgetExhausted(
            f"sample size: {_MAX_CONFIRMATIONS} independent confirmation runs did not reach power {target} "
            f"(last: {solve_for} = {answer}, power {confirmation.power:.3f}); no confirmed answer"
        )

    if solve_for == "events":
        n_required, events_required = confirmation.n_patients, answer
    else:
        n_required, events_required = answer, confirmation.target_events
    se_p = math.sqrt(target * (1 - target) / refine_sims)
    uncertainty = _Z95 * se_p / slope if slope else None
    details = {
        "method": (
            "coarse bracket-and-bisect with common random numbers, a probit fit over a refine grid with enough "
            "simulations for the requested precision, then independent confirmation runs"
        ),
        "n_sims_coarse": n_sims,
        "n_sims_refine": refine_sims,
        "seed": seed,
        "refine_crossing": crossing,
        "slope_power_per_unit": slope,
        "simulated_trials_total": budget.used,
        "seconds": time.monotonic() - budget.start,
        "bounds": [lo_bound, hi_bound],
        "mc_uncertainty": uncertainty,
    }
    if "expected_screened" in confirmation.details:
        details["expected_screened"] = confirmation.details["expected_screened"]
        details["expected_screen_failures"] = confirmation.details["expected_screen_failures"]
    curve = [row for st in stages for row in st.rows()]
    return SampleSizeResult(
        scenario=scenario.name,
        design=scenario.design,
        solve_for=solve_for,
        target_power=target,
        n_required=n_required,
        events_required=events_required,
        achieved_power=confirmation.power,
        achieved_power_mc_se=confirmation.power_mc_se,
        confirmed=True,
        analytic_events=analytic,
        start_value=start,
        curve=curve,
        confirmation=confirmation,
        details=details,
        uncertainty=uncertainty,
        precision=precision,
        confirmations=confirmations,
        target_quantity=quantity,
        analytic_sizes=_analytic_sizes(scenario, target) if quantity == "power" else {},
    )


def _analytic_sizes(scenario: Scenario, target: float) -> dict[str, Any]:
    """Schoenfeld / Freedman / Lachin-Foulkes events and N for the answer's table (never fails the search)."""
    from simtrial.timeline.sizes import analytic_sample_sizes

    try:
        return analytic_sample_sizes(scenario, target)
    except InvalidInput as err:
        return {"methods": {}, "notes": {"all": str(err)}}


def _poisson_scan(scenario, target, lo_bound, hi_bound, n_sims, seed, threads, budget, start, progress):
    """Single-arm exact Poisson test: its power is a saw-tooth in N, so every N near the crossing is simulated.

    The critical count c(PY) jumps by one each time the reference's expected events r0 x PY pass an integer,
    so power rises and falls with N; a calendar cut makes PY random, which smooths the teeth but need not
    remove them.  Bracket-and-bisect with common random numbers finds a first crossing; every N within
    +-10% of it (at least 10) is then simulated with the same seed; the answer is the smallest N there
    reaching the target, confirmed by an independent run (a fresh seed; if it falls short, the next N that
    reached the target in the scan), and the smallest N from which every scanned N reaches it is reported
    beside (the safe choice), with the analytic power at the expected patient-years where the cut allows it.
    """
    coarse = _Stage("scan", scenario, "n_patients", n_sims, seed, threads, budget, progress)
    x0 = _bracket_and_bisect(coarse.power_at, start, target, lo_bound, hi_bound, "n_patients", coarse.points)
    window = max(10, x0 // 10)
    lo, hi = max(lo_bound, x0 - window), min(hi_bound, x0 + window)
    for x in range(lo, hi + 1):
        coarse.power_at(x)
    scanned = list(range(lo, hi + 1))
    reaching = [x for x in scanned if coarse.points[x][0] >= target]
    stable = None
    for x in reversed(scanned):
        if coarse.points[x][0] < target:
            break
        stable = x
    confirmations: list[dict[str, Any]] = []
    confirmation: PowerResult | None = None
    conf_sims = max(n_sims, 2000)
    answer = None
    for k, x in enumerate(reaching[:_MAX_CONFIRMATIONS]):
        budget.spend(conf_sims, f"the confirmation run at n_patients = {x}")
        conf_seed = derive_seed(seed, 100 + k)
        confirmation = run(scenario, n_sims=conf_sims, seed=conf_seed, threads=threads, n_patients=x, progress=_chunked)
        confirmations.append({"n_patients": x, "n_sims": conf_sims, "seed": conf_seed, "power": confirmation.power,
                              "mc_se": confirmation.power_mc_se, "reached_target": confirmation.power >= target})
        if confirmation.power >= target:
            answer = x
            break
    if answer is None:
        raise BudgetExhausted(
            f"sample size: no N in the scan {lo}..{hi} reaching power {target} was confirmed by an independent run "
            f"({len(confirmations)} tried); raise n_sims or sample_size.maximum")
    analytic_key = "exact_poisson_at_expected_patient_years"
    curve = []
    mono = isotonic([coarse.points[x][0] for x in sorted(coarse.points)])
    for x, m in zip(sorted(coarse.points), mono, strict=True):
        r = coarse.results[x]
        curve.append({"stage": "scan", "n_patients": int(x), "n_sims": n_sims, "seed": seed,
                      "power": coarse.points[x][0], "mc_se": coarse.points[x][1], "power_monotone": m,
                      "analytic_power": (r.analytic_power or {}).get(analytic_key)})
    details = {
        "method": ("exact Poisson test: bracket-and-bisect with common random numbers, then every N within +-10% "
                   "of the crossing simulated with the same seed (the power is a saw-tooth in N), then an "
                   "independent confirmation run"),
        "n_sims_scan": n_sims, "n_sims_confirmation": conf_sims, "seed": seed, "scan": [lo, hi],
        "n_from_which_every_larger_n_reaches_target": stable,
        "note": "the exact Poisson power is a saw-tooth in N (the critical count jumps with the patient-years): "
                "a larger N can have lower power; n_from_which_every_larger_n_reaches_target is the safe choice "
                "within the scanned window",
        "simulated_trials_total": budget.used, "seconds": time.monotonic() - budget.start,
        "bounds": [lo_bound, hi_bound],
    }
    return SampleSizeResult(
        scenario=scenario.name, design=scenario.design, solve_for="n_patients", target_power=target,
        n_required=answer, events_required=confirmation.target_events, achieved_power=confirmation.power,
        achieved_power_mc_se=confirmation.power_mc_se, confirmed=True, analytic_events=None, start_value=start,
        curve=curve, confirmation=confirmation, details=details, uncertainty=None, precision=None,
        confirmations=confirmations,
    )


def _exact_search(scenario, target, lo_bound, hi_bound, n_sims, seed, threads, budget, analytic, start):
    """Single-arm exact binomial: the exact power decides; a simulated run checks the engine agrees."""
    curve: dict[int, tuple[float, float]] = {}
    answer, stable = _exact_binomial_scan(scenario, target, lo_bound, hi_bound, curve, seed)
    budget.spend(n_sims, f"the confirmation run at n_patients = {answer}")
    conf_seed = derive_seed(seed, 100)
    confirmation = run(scenario, n_sims=n_sims, seed=conf_seed, threads=threads, n_patients=answer)
    exact = float(confirmation.analytic_power["exact_binomial"])
    agrees = abs(confirmation.power - exact) <= 4 * math.sqrt(exact * (1 - exact) / n_sims) + 1e-12
    details = {
        "method": "scan of the exact binomial power (a saw-tooth in N), then a simulated confirmation run",
        "exact_power": exact,
        "simulation_agrees_with_exact": agrees,
        "n_from_which_every_larger_n_reaches_target": stable,
        "seed": seed,
        "bounds": [lo_bound, hi_bound],
        "mc_uncertainty": 0.0,
        "note": "the exact power is a saw-tooth in N: a larger N can have lower power; "
                "n_from_which_every_larger_n_reaches_target is the safe choice",
    }
    points = [
        {"stage": "exact", "n_patients": int(k), "power": v[0], "mc_se": 0.0, "power_monotone": None}
        for k, v in sorted(curve.items())
    ]
    return SampleSizeResult(
        scenario=scenario.name, design=scenario.design, solve_for="n_patients", target_power=target,
        n_required=answer, events_required=None, achieved_power=confirmation.power,
        achieved_power_mc_se=confirmation.power_mc_se, confirmed=bool(exact >= target and agrees),
        analytic_events=analytic, start_value=start, curve=points, confirmation=confirmation, details=details,
        uncertainty=0.0, precision=None,
        confirmations=[{"n_patients": answer, "n_sims": n_sims, "seed": conf_seed, "power": confirmation.power,
                        "mc_se": confirmation.power_mc_se, "exact_power": exact, "reached_target": exact >= target}],
    )


__all__ = ["DEFAULT_PRECISION", "SampleSizeResult", "isotonic", "sample_size"]
