"""Monte-Carlo operating characteristics of a scenario: power (or type I error) with its MC error.

``run(scenario)`` runs the scenario's design on ``n_sims`` simulated trials
and summarises them: the probability of success with its Monte-Carlo SE and a
95% Wilson interval, expected events, duration and enrolment, the hazard-ratio
estimate's median and 2.5/97.5 percentiles, per-arm Kaplan-Meier medians, the
analytic (Schoenfeld / Freedman / exact) power beside the simulated one, and
per-look figures for group-sequential designs.

``run(scenario, per_trial=False)`` keeps no per-trial outcomes: time-to-event
designs then run and summarise blocks of ``BLOCK_TRIALS`` trials
(``simtrial.summaries``), so a run's memory does not grow with n_sims (the
command line does this unless ``--out`` asks for trials.csv).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd

from simtrial import __version__
from simtrial.designs import get_design
from simtrial.designs.base import Progress, StreamedOutcomes, TrialOutcomes
from simtrial.errors import InvalidInput, check_memory, check_n_sims, check_seed
from simtrial.executors import Executor
from simtrial.spec import Scenario
from simtrial.summaries import (
    BandMissed,
    OrderStatistics,
    OutcomeSummary,
    finite_figure,
    finite_or_none,
    landmark_rows,
)
from simtrial.trial_parameters import TrialParameters

Z95 = 1.959963984540054


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _finite_stat(values: np.ndarray, fn) -> float | None:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None
    out = float(fn(v))
    return out if math.isfinite(out) else (math.inf if out > 0 else None)


def _json_number(x):
    # JSON has no inf: a median not reached is null, with its share of trials reported beside it
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _median_over_trials(order: OrderStatistics) -> tuple[float | None, float]:
    """(median over trials of a per-trial KM median, share of trials where it was not reached).

    The median is None when it was not reached in half the trials or more.
    """
    if order.count == 0:
        return None, math.nan
    not_reached = (order.n_pos_inf + order.n_neg_inf) / order.count
    m = order.median()
    return (m if math.isfinite(m) else None), not_reached


def _arm_rows(scenario: Scenario, summary: OutcomeSummary) -> dict[str, dict]:
    """Mean patients and events (responders for binary endpoints) per arm, in the analysis population."""
    means = summary.estimate_means
    arms = scenario.resolved.get("arms") or {}
    labels = {arm: (arms.get(arm) or {}).get("label") for arm in ("control", "experimental")}
    if scenario.design in ("single_arm_binary", "simon_two_stage"):
        return {"experimental": {"label": labels["experimental"], "mean_patients": summary.enrolled.value(),
                                 "mean_events": summary.events_plain.value()}}
    out = {}
    for arm in ("control", "experimental"):
        patients = means.get(f"patients_{arm}")
        events = means.get(f"events_{arm}", means.get(f"responders_{arm}"))
        if patients is None and events is None:
            continue
        out[arm] = {
            "label": labels[arm],
            "mean_patients": _finite_mean(patients) if patients is not None else None,
            "mean_events": _finite_mean(events) if events is not None else None,
        }
    return out


def _finite_mean(mean) -> float | None:
    return None if mean.count == 0 else finite_or_none(mean.value())


@dataclass(frozen=True)
class PowerResult:
    """Operating characteristics of one run.  ``to_dict()`` is the CLI's JSON."""

    scenario: str
    design: str
    n_sims: int
    seed: int
    null: bool
    power: float
    power_mc_se: float
    power_ci: tuple[float, float]
    analytic_power: dict[str, float] | None
    mean_events: float
    mean_duration_months: float | None
    mean_enrolled: float
    hr_median: float | None
    hr_percentiles: tuple[float | None, float | None]
    median_control_months: float | None
    median_experimental_months: float | None
    decisions: dict[str, dict[str, float]]
    looks: list[dict] | None
    details: dict[str, Any]
    flags: dict[str, int]
    n_patients: int | None
    target_events: int | None
    analysis: dict[str, Any] = field(default_factory=dict)
    per_arm: dict[str, dict] = field(default_factory=dict)
    landmarks: list[dict] = field(default_factory=list)
    median_not_reached: dict[str, float] = field(default_factory=dict)
    resolved_scenario: dict[str, Any] = field(repr=False, default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    outcomes: TrialOutcomes | None = field(repr=False, default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        analytic = self.analytic_power or None
        out = {
            "scenario": self.scenario,
            "design": self.design,
            "n_sims": self.n_sims,
            "seed": self.seed,
            "null": self.null,
            "hypothesis": (
                "over the prior (assurance)" if "probability_of_success" in self.details
                else "H0 (type I error)" if self.null else "H1 (power)"
            ),
            "power_label": self.power_label,
            "power": self.power,
            "power_mc_se": self.power_mc_se,
            "power_ci": list(self.power_ci),
            "analytic_power": (
                None if analytic is None else next(iter(analytic.values()))
            ),
            "analytic_powers": analytic,
            "n_patients": self.n_patients,
            "target_events": self.target_events,
            "mean_events": self.mean_events,
            "mean_duration_months": self.mean_duration_months,
            "mean_enrolled": self.mean_enrolled,
            "hr_median": self.hr_median,
            "hr_p2_5": self.hr_percentiles[0],
            "hr_p97_5": self.hr_percentiles[1],
            "median_control_months": self.median_control_months,
            "median_experimental_months": self.median_experimental_months,
            "median_not_reached_fraction": self.median_not_reached or None,
            "analysis": self.analysis,
            "per_arm": self.per_arm,
            "landmarks": self.landmarks or None,
            "decisions": self.decisions,
            "looks": self.looks,
            "details": self.details,
            "flags": self.flags,
            "versions": self.versions,
        }
        return _clean(out)

    @property
    def power_label(self) -> str:
        """What ``power`` is: the type I error under H0, the power under H1; two-sided says so."""
        base = "assurance" if "probability_of_success" in self.details else "type I error" if self.null else "power"
        if self.analysis.get("sided") == 2:
            return f"{base} (two-sided: rejection in either direction)"
        return base

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per reported quantity, with its MC SE where one applies."""
        rows = [
            ("power", self.power, self.power_mc_se),
            ("mean_events", self.mean_events, None),
            ("mean_duration_months", self.mean_duration_months, None),
            ("mean_enrolled", self.mean_enrolled, None),
            ("hr_median", self.hr_median, None),
        ]
        for name, value in (self.analytic_power or {}).items():
            rows.append((f"analytic_power_{name}", value, None))
        for name, d in self.decisions.items():
            rows.append((f"probability_{name}", d["probability"], d["mc_se"]))
        for look in self.looks or []:
            for key in ("p_stop_efficacy", "p_stop_harm", "p_stop_futility", "cumulative_power"):
                if key in look:  # p_stop_harm: two-sided plans only
                    rows.append((f"look{look['look']}_{key}", look[key], None))
        for lm in self.landmarks:
            rows.append((f"survival_{lm['arm']}_at_{lm['months']:g}_months_{lm['population']}", lm["mean"], lm["mc_se"]))
        return pd.DataFrame(rows, columns=["quantity", "value", "mc_se"])

    def per_trial_frame(self) -> pd.DataFrame:
        if self.outcomes is None:
            raise InvalidInput(
                "per-trial outcomes were not kept for this result: run with per_trial=True "
                "(the command line keeps them when --out is given)"
            )
        return self.outcomes.per_trial_frame()


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, float):
        return _json_number(obj)
    return obj


_STRATIFIED_TESTS = ("stratified_logrank", "stratified_cox", "cmh")


def analysis_summary(scenario: Scenario) -> dict[str, Any]:
    """The analysis as a reader of the results needs it: test, level, sidedness and what applies."""
    a = scenario.analysis
    resolved = dict(scenario.resolved.get("analysis", {}))
    out: dict[str, Any] = {"test": a.test, "alpha": a.alpha, "sided": a.sided}
    out["rejection_rule"] = (
        "one-sided: Z_eff >= z(1 - alpha), Z_eff > 0 favouring the experimental arm"
        if a.sided == 1
        else "two-sided: |Z_eff| >= z(1 - alpha/2), in either direction (reject_favourable: experimental better)"
    )
    if a.ni_margin is not None:
        out["ni_margin"] = a.ni_margin
    if scenario.design not in ("single_arm_binary", "simon_two_stage"):
        out["population"] = a.population_name
    if a.test in _STRATIFIED_TESTS:
        out["strata"] = resolved.get("strata", "by_category")
    if a.subgroups:
        out["subgroups"] = [sub.name for sub in a.subgroups]
        out["multiplicity"] = a.multiplicity
    return out


def summarize(scenario: Scenario, outcomes: TrialOutcomes | StreamedOutcomes) -> PowerResult:
    """The operating characteristics of a run from its per-trial outcomes, or from its block-wise summary.

    Per-trial ``TrialOutcomes`` are summarised as one block (numpy's figures,
    bit for bit) and kept in the result; ``StreamedOutcomes`` (``run(...,
    per_trial=False)``) carry the summary accumulated block by block
    (``simtrial.summaries``) and no per-trial arrays.
    """
    if isinstance(outcomes, StreamedOutcomes):
        summary, kept = outcomes.summary, None
    else:
        summary, kept = OutcomeSummary(outcomes.n_sims), outcomes
        summary.add(outcomes)
    n = outcomes.n_sims
    k = summary.success
    p = k / n
    decisions = {}
    for name, count in summary.decisions.items():
        q = count / n
        decisions[name] = {"probability": q, "mc_se": math.sqrt(q * (1 - q) / n)}
    hr = summary.hazard_ratio
    median_c, nr_c = _median_over_trials(summary.medians["control"])
    median_e, nr_e = _median_over_trials(summary.medians["experimental"])
    not_reached = {k: v for k, v in (("control", nr_c), ("experimental", nr_e)) if not math.isnan(v)}
    return PowerResult(
        scenario=scenario.name,
        design=scenario.design,
        n_sims=n,
        seed=outcomes.seed,
        null=outcomes.null,
        power=p,
        power_mc_se=math.sqrt(p * (1 - p) / n),
        power_ci=wilson_interval(k, n),
        analytic_power=dict(outcomes.analytic_power) or None,
        mean_events=summary.events.value(),
        mean_duration_months=_finite_mean(summary.duration),
        mean_enrolled=summary.enrolled.value(),
        hr_median=finite_figure(hr, OrderStatistics.median),
        hr_percentiles=(finite_figure(hr, lambda o: o.percentile(2.5)), finite_figure(hr, lambda o: o.percentile(97.5))),
        median_control_months=median_c,
        median_experimental_months=median_e,
        decisions=decisions,
        looks=outcomes.details.get("looks"),
        details={"decision_rule": outcomes.design, **{k: v for k, v in outcomes.details.items() if k != "looks"}},
        flags={**outcomes.flags, "primary_statistic_undefined": summary.undefined},
        n_patients=outcomes.n_patients,
        target_events=outcomes.target_events,
        analysis=analysis_summary(scenario),
        per_arm=_arm_rows(scenario, summary),
        landmarks=landmark_rows(summary, {p: lm["model"] for p, lm in outcomes.landmarks.items()},
                                outcomes.landmark_months),
        median_not_reached=not_reached,
        resolved_scenario=dict(scenario.resolved),
        versions={"simtrial": __version__, "numba": numba.__version__, "numpy": np.__version__},
        outcomes=kept,
    )


#: trials simulated and summarised at a time by ``run(per_trial=False)``
BLOCK_TRIALS = 50_000


def estimated_peak_bytes(
    scenario: Scenario, n_sims: int, n_patients: int | None = None, per_trial: bool = True,
    block_trials: int | None = None,
) -> float:
    """A generous estimate of a run's peak memory: per-trial results and their frames, plus scratch.

    Per trial the engine keeps looks x populations x statistics float64 values; the summary,
    the per-trial frame and its CSV text copy them a few times over.  Scratch is O(threads x
    patients), about 200 bytes a patient.  Without per-trial output (``per_trial=False``) only
    one block of trials is held at a time, plus about 8 bytes a trial for the order statistics.
    """
    import os

    a = scenario.analysis
    looks = len(a.sequential.information_fractions) if a.sequential is not None else 1
    populations = 1 + (a.population is not None) + len(a.subgroups) + (2 if a.interaction is not None else 0)
    fields = 16 + 2 * len(a.landmark_months)
    per_trial_bytes = looks * populations * (8 * fields + 4) + 16 * looks + 3 * 8 * (30 + 2 * populations * len(a.landmark_months))
    patients = n_patients or scenario.n_patients or 0
    scratch = (os.cpu_count() or 1) * patients * 200
    if not per_trial:
        held = min(int(n_sims), int(block_trials or BLOCK_TRIALS))
        return float(held) * per_trial_bytes + 8.0 * float(n_sims) + scratch
    return float(n_sims) * per_trial_bytes + scratch


def run(
    scenario: Scenario,
    *,
    n_sims: int | None = None,
    seed: int | None = None,
    null: bool = False,
    n_patients: int | None = None,
    target_events: int | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    trial_parameters: TrialParameters | None = None,
    per_trial: bool = True,
    block_trials: int | None = None,
) -> PowerResult:
    """Simulate the scenario's design and summarise it (``null=True``: under H0, for type I error).

    ``executor`` runs the engine's trials (``simtrial.executors``; default: numba
    threads here); ``trial_parameters``: trial i runs with row i of the drawn
    per-trial parameters (``simtrial.trial_parameters``), as assurance does.

    ``per_trial=False``: the per-trial outcomes are not kept (``result.outcomes``
    is None, ``per_trial_frame()`` refuses): time-to-event designs then run and
    summarise ``block_trials`` trials at a time (default ``BLOCK_TRIALS``), so
    memory does not grow with n_sims.  Counts (power, its MC SE and interval,
    decisions, stopping probabilities, flags), integer-valued means (events,
    patients, enrolment) and every median and percentile equal the
    ``per_trial=True`` run's exactly; means of real values (duration, landmark
    survival and its SE, observed information) up to summation order (about
    1e-15 relative).  Designs without a block-wise path (binary endpoints), runs
    with ``trial_parameters``, and the improbable run whose order statistics fall
    outside the kept bands (``simtrial.summaries``) keep every trial instead.
    """
    n_sims = scenario.simulation.n_sims if n_sims is None else n_sims
    seed = scenario.simulation.seed if seed is None else seed
    n_sims = check_n_sims(n_sims)
    seed = check_seed(seed)
    if block_trials is not None and (isinstance(block_trials, bool) or not isinstance(block_trials, int | np.integer)
                                     or block_trials < 1):
        raise InvalidInput(f"block_trials must be an integer >= 1, got {block_trials!r}")
    design = get_design(scenario.design, scenario.endpoint)
    streamed = not per_trial and trial_parameters is None and hasattr(design, "run_streamed")
    check_memory(estimated_peak_bytes(scenario, n_sims, n_patients, per_trial=not streamed, block_trials=block_trials),
                 f"{n_sims:,} simulated trials")
    common = dict(n_sims=int(n_sims), seed=int(seed), null=null, n_patients=n_patients, target_events=target_events,
                  threads=threads, executor=executor)
    if streamed:
        blocks = design.run_streamed(scenario, progress=progress, block_trials=int(block_trials or BLOCK_TRIALS),
                                     **common)
        try:
            return summarize(scenario, blocks)
        except BandMissed:
            # an order statistic outside the kept bands (simtrial.summaries): the same trials again, all kept
            progress = None
    outcomes = design.run(scenario, progress=progress, trial_parameters=trial_parameters, **common)
    return summarize(scenario, outcomes)
