"""Time-to-event designs: superiority, non-inferiority (IHC-stratified de-escalation),
biomarker-stratified all-comers and enrichment — fixed or group-sequential.

Each design builds one engine spec from the scenario (under H1 as written, or
under H0 with ``null=True``), runs it, and applies its decision rule to the
per-trial statistics.  Decisions use Z_eff (positive = experimental better).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simtrial.designs._decisions import adjust, p_values, reject
from simtrial.designs._survival import (
    ANALYSIS_POPULATION,
    analytic_powers,
    approximate_schoenfeld,
    build_spec,
    constant_hazard_ratio,
    efficacy_z,
    flag_totals,
    model_survival,
    nph_details,
    null_experimental_arm,
    primary_index,
)
from simtrial.designs.base import Progress, TrialOutcomes
from simtrial.designs.sequential import analytic_sequential_power, apply_sequential, design_beta
from simtrial.engine import layout
from simtrial.errors import InvalidInput
from simtrial.executors import Executor
from simtrial.simulate import SimulationResult, simulate
from simtrial.spec import Arm, Scenario
from simtrial.spec.analysis import FIXED_DESIGN_TESTS
from simtrial.trial_parameters import TrialParameters


def _analysed_true_categories(scenario: Scenario) -> tuple[int, ...]:
    """True categories of the patients in the primary analysis population."""
    return scenario.population.true_categories(scenario.analysis.population)


def _landmarks(scenario, result: SimulationResult, stop: np.ndarray, experimental: Arm) -> dict:
    """Per population: KM survival at each landmark per trial [n_sims, n_lm, 2] and the model's S(t).

    A landmark later than a trial's analysis time cannot be estimated (no
    patient has been followed that long): NaN, counted in the summary.
    """
    times = np.array(scenario.analysis.landmark_months, dtype=float)
    if times.size == 0:
        return {}
    rows = np.arange(result.n_sims)
    first = layout.N_FIXED_FIELDS
    cut = result.cut_months[rows, stop]
    beyond = times[None, :] > cut[:, None]
    pop = scenario.population
    out = {}
    for j, name in enumerate(result.populations):
        values = result.stats[rows, stop, j, first : first + 2 * times.size].reshape(result.n_sims, times.size, 2)
        values = np.where(beyond[:, :, None], np.nan, values)
        cats = None if j == 0 else _population_categories(scenario, result.spec, name)
        weights = pop.true_weights(cats)
        model = np.stack([model_survival(scenario.control, weights, times),
                          model_survival(experimental, weights, times)], axis=-1)
        shown = scenario.analysis.population_name if name == ANALYSIS_POPULATION else name
        if shown in out:
            continue  # the analysis population is also a declared subgroup
        out[shown] = {"per_trial": values, "model": model}
    return out


def _population_categories(scenario, spec, name: str) -> tuple[int, ...]:
    for sub in spec.subgroups:
        if sub.name == name:
            return sub.categories
    raise KeyError(name)


class TimeToEventDesign:
    """Superiority on the primary analysis population (all patients, or ``analysis.population``)."""

    name = "superiority"

    def ni_margin(self, scenario: Scenario) -> float | None:
        return None

    def experimental_arm(self, scenario: Scenario, null: bool) -> Arm:
        if not null:
            return scenario.experimental
        return null_experimental_arm(scenario, 1.0)

    def _check(self, scenario: Scenario) -> None:
        if scenario.endpoint != "time_to_event" or scenario.control is None or scenario.experimental is None:
            raise InvalidInput(f"design {self.name!r} needs a time-to-event endpoint with control and experimental arms")
        derived = scenario.sample_size is not None and scenario.sample_size.events_per_patient is not None
        if scenario.analysis.target_events is None and scenario.analysis.calendar_months is None and not derived:
            raise InvalidInput("analysis: give target_events or calendar_months for a time-to-event design")
        if scenario.analysis.sequential is not None and scenario.analysis.test in FIXED_DESIGN_TESTS:
            raise InvalidInput(f"analysis.sequential: test {scenario.analysis.test} is fixed-design only")

    def run(
        self,
        scenario: Scenario,
        *,
        n_sims: int,
        seed: int,
        null: bool = False,
        n_patients: int | None = None,
        target_events: int | None = None,
        threads: int | None = None,
        progress: Progress | None = None,
        executor: Executor | None = None,
        trial_parameters: TrialParameters | None = None,
    ) -> TrialOutcomes:
        self._check(scenario)
        a = scenario.analysis
        plan = a.sequential
        experimental = self.experimental_arm(scenario, null)
        spec = build_spec(
            scenario, n_patients=n_patients, target_events=target_events, experimental=experimental,
            look_fractions=plan.information_fractions if plan else None,
        )
        if executor is not None and threads is not None:
            raise InvalidInput("give threads or an executor, not both")
        if trial_parameters is not None and trial_parameters.response_probability is not None:
            raise InvalidInput("response probabilities apply to binary endpoints, not to a time-to-event design")
        result = simulate(
            spec, n_sims, seed, threads=threads, progress=progress, executor=executor, trial_parameters=trial_parameters,
        )
        return self._outcomes(scenario, spec, result, null, experimental)

    # -- decisions ---------------------------------------------------------
    def _outcomes(self, scenario, spec, result: SimulationResult, null: bool, experimental: Arm) -> TrialOutcomes:
        a = scenario.analysis
        plan = a.sequential
        margin = self.ni_margin(scenario)
        pop = primary_index(result, scenario)
        z_eff = efficacy_z(result, a.test, pop, ni_margin=margin)  # [n_sims, n_looks]
        stratified = a.test in ("stratified_cox", "stratified_logrank")
        log_hr = result.stats[:, :, pop, layout.STRATIFIED_LOG_HR if stratified else layout.LOG_HR]
        total_events = (
            result.stats[:, :, 0, layout.EVENTS_CONTROL] + result.stats[:, :, 0, layout.EVENTS_EXPERIMENTAL]
        )
        planned_events = spec.cuts[-1].target_events
        details: dict = {}
        side_decisions: dict = {}
        if plan is not None:
            fractions = total_events / planned_events if planned_events else np.tile(
                np.array(plan.information_fractions), (result.n_sims, 1)
            )
            beta = design_beta(scenario)
            seq = apply_sequential(
                plan, z_eff, fractions, np.exp(log_hr), total_events, alpha=a.alpha / a.sided, beta=beta,
                ni_margin=margin or 1.0, allocation=scenario.allocation, planned_events=planned_events,
                sided=a.sided,
            )
            success = seq.success
            side_decisions = seq.side_decisions or {}
            stop = seq.stop_look
            details["looks"] = seq.looks
            details["inflation_factor"] = seq.design.inflation_factor
            details["group_sequential_design"] = seq.design.to_dict()
        if plan is None:
            success, side_decisions = reject(z_eff[:, -1], a.alpha, a.sided)
            stop = np.full(result.n_sims, result.n_looks - 1)
        rows = np.arange(result.n_sims)
        decisions, estimates = self._extra(scenario, result, stop, success)
        decisions = {**side_decisions, **decisions}
        analysis_events = (
            result.stats[rows, stop, pop, layout.EVENTS_CONTROL] + result.stats[rows, stop, pop, layout.EVENTS_EXPERIMENTAL]
        )
        per_arm = {
            "patients_control": result.stats[rows, stop, pop, layout.PATIENTS_CONTROL],
            "patients_experimental": result.stats[rows, stop, pop, layout.PATIENTS_EXPERIMENTAL],
            "events_control": result.stats[rows, stop, pop, layout.EVENTS_CONTROL],
            "events_experimental": result.stats[rows, stop, pop, layout.EVENTS_EXPERIMENTAL],
        }
        estimates = {
            "analysis_population_events": analysis_events, "z_efficacy_scale": z_eff[rows, stop],
            **per_arm, **estimates,
        }
        categories = _analysed_true_categories(scenario)
        hr_true = constant_hazard_ratio(scenario, categories, experimental)
        final_events = float(np.nanmean(
            result.stats[:, -1, pop, layout.EVENTS_CONTROL] + result.stats[:, -1, pop, layout.EVENTS_EXPERIMENTAL]
        ))
        if plan is None and not planned_events and a.calendar_months:
            # a calendar cut: the expected events there (numerical integration), not the seed-dependent mean
            from simtrial.timeline import expected_events

            final_events = float(expected_events(scenario, [a.calendar_months], n_patients=spec.n_patients,
                                                 experimental=experimental, assessed=a.population)["total"][0])
            details["analytic_events_at_calendar_cut"] = final_events
        if plan is None:
            analytic = analytic_powers(
                hr_true, final_events, a.alpha, scenario.allocation, ni_margin=margin or 1.0, sided=a.sided
            )
        elif hr_true is not None and planned_events:
            analytic = {
                "schoenfeld_group_sequential": analytic_sequential_power(
                    plan, seq.design, hr_true, final_events, ni_margin=margin or 1.0, allocation=scenario.allocation
                )
            }
        else:
            analytic = {}
        details.update(self._details(scenario, result, spec))
        details.update(nph_details(scenario, experimental, result))
        details["true_hazard_ratio"] = hr_true
        if hr_true is None and plan is None:
            approx, mean_hr, reason = approximate_schoenfeld(
                scenario, experimental, categories, spec.n_patients, float(np.nanmean(result.cut_months[:, -1])),
                final_events, ni_margin=margin or 1.0,
            )
            if approx is not None:
                analytic = {"schoenfeld_approximate": approx}
                details["events_weighted_mean_hazard_ratio"] = mean_hr
            details["analytic_power_note"] = reason
        elif not analytic:
            details["analytic_power_note"] = (
                "no closed form: the true hazard ratio is not one constant across the patients analysed"
            )
        return TrialOutcomes(
            design=self.name,
            n_sims=result.n_sims,
            seed=result.seed,
            null=null,
            success=success,
            events=total_events[rows, stop],
            duration_months=result.cut_months[rows, stop],
            enrolled=result.enrolled[rows, stop],
            hazard_ratio=np.exp(log_hr[rows, stop]),
            median_control_months=result.stats[rows, stop, pop, layout.MEDIAN_CONTROL],
            median_experimental_months=result.stats[rows, stop, pop, layout.MEDIAN_EXPERIMENTAL],
            decisions=decisions,
            estimates=estimates,
            analytic_power=analytic,
            details=details,
            flags=flag_totals(result, pop),
            n_patients=spec.n_patients,
            target_events=planned_events,
            landmarks=_landmarks(scenario, result, stop, experimental),
            landmark_months=tuple(a.landmark_months),
        )

    def _subgroup_z(self, scenario, result, index: int) -> np.ndarray:
        """Z_eff of the design's own test in one population at the final look."""
        return efficacy_z(result, scenario.analysis.test, index, look=-1, ni_margin=self.ni_margin(scenario))

    def _extra(self, scenario, result, stop, success) -> tuple[dict, dict]:
        """Subgroups as secondary hypotheses behind the primary one (serial gatekeeping).

        Tested only in trials whose primary hypothesis was rejected, among
        themselves under ``analysis.multiplicity`` at the full level: the
        family-wise error over (primary, subgroups) stays at alpha in the
        strong sense.  ``reject_any`` is any rejection at all (the FWER under H0).
        """
        a = scenario.analysis
        if not a.subgroups:
            return {}, {}
        idx = [result.populations.index(s.name) for s in a.subgroups]
        z = np.stack([self._subgroup_z(scenario, result, i) for i in idx], axis=1)
        rejected = adjust(p_values(z, a.sided), a.alpha, a.multiplicity) & np.asarray(success, dtype=bool)[:, None]
        decisions = {f"reject_{s.name}": rejected[:, j] for j, s in enumerate(a.subgroups)}
        decisions["reject_any"] = np.asarray(success, dtype=bool) | rejected.any(axis=1)
        estimates = {}
        for j, (s, i) in enumerate(zip(a.subgroups, idx, strict=True)):
            estimates[f"hr_{s.name}"] = np.exp(result.stats[:, -1, i, layout.LOG_HR])
            estimates[f"z_{s.name}"] = z[:, j]
        return decisions, estimates

    def _details(self, scenario, result, spec) -> dict:
        return {}


class SuperiorityDesign(TimeToEventDesign):
    name = "superiority"


class NonInferiorityDesign(TimeToEventDesign):
    """H0: HR >= ni_margin in the analysis population; Z = (log HR - log margin) / SE (Cox)."""

    name = "noninferiority"

    def ni_margin(self, scenario: Scenario) -> float:
        margin = scenario.analysis.ni_margin
        if margin is None or not margin > 1.0:
            raise InvalidInput(f"analysis.ni_margin must be a hazard ratio > 1 for non-inferiority, got {margin!r}")
        return float(margin)

    def experimental_arm(self, scenario: Scenario, null: bool) -> Arm:
        if not null:
            return scenario.experimental
        # H0 at its boundary: HR = margin for every patient the NI population can hold
        cats = _analysed_true_categories(scenario)
        return null_experimental_arm(scenario, self.ni_margin(scenario), cats)


class EnrichmentDesign(TimeToEventDesign):
    """Superiority in a trial that enrols only the selected (assessed) categories."""

    name = "enrichment"

    def _check(self, scenario: Scenario) -> None:
        super()._check(scenario)
        if scenario.population.eligible is None:
            raise InvalidInput("population.eligible: an enrichment design needs the enrolled HER2 categories")

    def _details(self, scenario, result, spec) -> dict:
        p = scenario.population.eligible_fraction
        n = spec.n_patients
        # patients screened until n are eligible: n + NegativeBinomial(n, p) screen failures
        rng = np.random.default_rng([result.seed, 0x5C4EE7])
        failures = rng.negative_binomial(n, p, size=result.n_sims)
        return {
            "eligible_fraction": p,
            "expected_screened": n / p,
            "expected_screen_failures": n / p - n,
            "screened_mean": float(np.mean(n + failures)),
            "screened_p95": float(np.percentile(n + failures, 95)),
        }


class BiomarkerDesign(TimeToEventDesign):
    """All-comers trial with an overall test, subgroup tests under a multiplicity rule and an interaction test.

    The family is (overall, subgroups in the listed order).  Success = the
    overall hypothesis rejected after adjustment.  The interaction test is a
    Wald test of the difference of the two groups' Cox log HRs, i.e. a Cox
    model with treatment x group interaction and baseline hazards stratified
    by group, at two-sided level 2 x alpha.
    """

    name = "biomarker"

    def _outcomes(self, scenario, spec, result, null, experimental):
        if scenario.analysis.sequential is not None:
            raise InvalidInput("analysis.sequential is not supported for the biomarker design")
        outcomes = super()._outcomes(scenario, spec, result, null, experimental)
        # success: the overall hypothesis rejected after the multiplicity adjustment
        overall = outcomes.decisions["reject_overall"]
        decisions = dict(outcomes.decisions)
        if scenario.analysis.sided == 2:
            z = outcomes.estimates["z_overall"]
            decisions["reject_favourable"] = overall & (z > 0)
            decisions["reject_unfavourable"] = overall & (z < 0)
        return replace(outcomes, success=overall, decisions=decisions)

    def _extra(self, scenario, result, stop, success):
        from scipy.stats import norm
        a = scenario.analysis
        names = ["overall"] + [s.name for s in a.subgroups]
        idx = [0] + [result.populations.index(s.name) for s in a.subgroups]
        z = np.stack([efficacy_z(result, a.test, i, look=-1) for i in idx], axis=1)
        rejected = adjust(p_values(z, a.sided), a.alpha, a.multiplicity)
        decisions = {f"reject_{name}": rejected[:, j] for j, name in enumerate(names)}
        decisions["reject_any"] = rejected.any(axis=1)
        estimates = {}
        for j, (name, i) in enumerate(zip(names, idx, strict=True)):
            estimates[f"hr_{name}"] = np.exp(result.stats[:, -1, i, layout.LOG_HR])
            estimates[f"z_{name}"] = z[:, j]
        if a.interaction is not None:
            g1, g2 = a.interaction
            i1, i2 = result.populations.index(g1.name), result.populations.index(g2.name)
            b1, s1 = result.stats[:, -1, i1, layout.LOG_HR], result.stats[:, -1, i1, layout.LOG_HR_SE]
            b2, s2 = result.stats[:, -1, i2, layout.LOG_HR], result.stats[:, -1, i2, layout.LOG_HR_SE]
            z_int = (b1 - b2) / np.sqrt(s1**2 + s2**2)
            level = min(2.0 * a.alpha / a.sided, 0.5)
            decisions["interaction"] = np.abs(z_int) >= norm.isf(level / 2.0)
            estimates["interaction_hr_ratio"] = np.exp(b1 - b2)
        return decisions, estimates

    def _details(self, scenario, result, spec):
        a = scenario.analysis
        out = {"multiplicity": a.multiplicity, "family": ["overall"] + [s.name for s in a.subgroups]}
        if a.interaction is not None:
            out["interaction_groups"] = [g.name for g in a.interaction]
            out["interaction_level_two_sided"] = min(2.0 * a.alpha / a.sided, 0.5)
        return out


TIME_TO_EVENT_DESIGNS = {
    "superiority": SuperiorityDesign(),
    "noninferiority": NonInferiorityDesign(),
    "enrichment": EnrichmentDesign(),
    "biomarker": BiomarkerDesign(),
}


