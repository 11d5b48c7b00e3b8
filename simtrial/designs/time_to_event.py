"""Time-to-event designs: superiority, non-inferiority (IHC-stratified de-escalation),
biomarker-stratified all-comers and enrichment — fixed or group-sequential.

Each design builds one engine spec from the scenario (under H1 as written, or
under H0 with ``null=True``), runs it, and applies its decision rule to the
per-trial statistics.  Decisions use Z_eff (positive = experimental better).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

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
    weighted_sequential_statistics,
)
from simtrial.designs.base import Progress, StreamedOutcomes, TrialOutcomes
from simtrial.designs.sequential import analytic_sequential_power, apply_sequential, design_beta
from simtrial.engine import layout
from simtrial.errors import InvalidInput
from simtrial.executors import Executor
from simtrial.simulate import SimulationResult, simulate
from simtrial.spec import Arm, Scenario, TrialSpec
from simtrial.spec.analysis import (
    FIXED_DESIGN_TESTS,
    GS_WEIGHTED_TESTS,
    weighted_sequential_problem,
)
from simtrial.summaries import Mean, OutcomeSummary, median_at, percentile_at
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


#: draws per chunk of the enrichment design's screening simulation
_SCREENING_CHUNK = 1 << 16


@dataclass
class _LookTotals:
    """One look of a group-sequential run, summed over blocks: stops, means, per-trial bounds (value: trials)."""

    stops: dict[str, int]
    events: Mean = field(default_factory=lambda: Mean(nan=True))
    fraction: Mean = field(default_factory=lambda: Mean(nan=True))
    upper: dict[float, int] = field(default_factory=dict)
    lower: dict[float, int] = field(default_factory=dict)
    # trials per cut-rule flag at this look (layout.cut_flag_names: only the rules the looks use)
    cut_flags: dict[str, int] = field(default_factory=dict)

    def merge(self, other: _LookTotals) -> _LookTotals:
        for name, k in other.stops.items():
            self.stops[name] = self.stops.get(name, 0) + k
        for name, k in other.cut_flags.items():
            self.cut_flags[name] = self.cut_flags.get(name, 0) + k
        self.events.merge(other.events)
        self.fraction.merge(other.fraction)
        for mine, theirs in ((self.upper, other.upper), (self.lower, other.lower)):
            for value, k in theirs.items():
                mine[value] = mine.get(value, 0) + k
        return self


@dataclass
class _RunTotals:
    """What a run's figures beyond the per-trial ones need from its trials, summed over blocks of trials.

    A one-block run's totals give numpy's figures on its arrays bit for bit;
    ``sequential`` is the first block's (its looks, reported as they are for one block).
    """

    seed: int
    n: int = 0
    blocks: int = 1
    final_events: Mean = field(default_factory=lambda: Mean(nan=True))  # analysis population, final look
    final_cut_months: Mean = field(default_factory=lambda: Mean(nan=True))
    flags: dict[str, int] = field(default_factory=dict)
    sequential: dict | None = None
    look_totals: list[_LookTotals] | None = None

    def merge(self, other: _RunTotals) -> _RunTotals:
        self.n += other.n
        self.blocks += other.blocks
        self.final_events.merge(other.final_events)
        self.final_cut_months.merge(other.final_cut_months)
        for name, k in other.flags.items():
            self.flags[name] = self.flags.get(name, 0) + k
        if self.look_totals is not None:
            for mine, theirs in zip(self.look_totals, other.look_totals, strict=True):
                mine.merge(theirs)
        return self


_STOP_KEYS = ("p_stop_efficacy", "p_stop_futility", "p_stop_harm")


def _look_totals(seq, monitor, fractions: np.ndarray, events: np.ndarray) -> list[_LookTotals]:
    """A block's per-look totals.  Trials with the same observed information share their bounds, so
    each distinct row of observed fractions is asked once (the block's own answer when there is one row)."""
    n = fractions.shape[0]
    out = []
    for look, d in enumerate(seq.looks):
        lt = _LookTotals(stops={k: round(d[k] * n) for k in _STOP_KEYS if k in d})
        lt.events.add(events[:, look])
        lt.fraction.add(fractions[:, look])
        out.append(lt)
    if seq.efficacy_bounds is not None:
        # per-trial bounds (weighted tests): every trial's own
        for lt, column in zip(out, seq.efficacy_bounds.T, strict=True):
            values, counts = np.unique(column, return_counts=True)
            for v, k in zip(values, counts, strict=True):
                lt.upper[float(v)] = lt.upper.get(float(v), 0) + int(k)
        return out
    _, first, counts = np.unique(np.round(fractions, 12), axis=0, return_index=True, return_counts=True)
    answers = [seq.looks] if first.size == 1 else [monitor(np.array([i])).looks for i in first]
    for looks, k in zip(answers, counts, strict=True):
        for lt, d in zip(out, looks, strict=True):
            up = math.inf if d["z_efficacy"] is None else d["z_efficacy"]
            lt.upper[up] = lt.upper.get(up, 0) + int(k)
            if "z_harm" in d:
                low = -math.inf if d["z_harm"] is None else d["z_harm"]
                lt.lower[low] = lt.lower.get(low, 0) + int(k)
    return out


def _median_of_counts(counts: dict[float, int]) -> float:
    """``np.median`` of the values ``counts`` holds with their multiplicities."""
    values = np.array(sorted(counts))
    cum = np.cumsum([counts[v] for v in values])
    return median_at(int(cum[-1]), lambda i: float(values[int(np.searchsorted(cum, i, side="right"))]))


def _merged_looks(scenario, plan, totals: _RunTotals, ni_margin: float, planned_events) -> list[dict]:
    """The looks table of a run in several blocks: ``apply_sequential``'s figures over all trials."""
    from simtrial.stats import normal as norm

    n = totals.n
    allocation = scenario.allocation
    looks = []
    cumulative = 0.0
    for look, (template, lt) in enumerate(zip(totals.sequential["looks"], totals.look_totals, strict=True)):
        d = dict(template)
        d["observed_information_fraction"] = lt.fraction.value()
        d["mean_events"] = lt.events.value()
        info_events = float(planned_events * plan.information_fractions[look]) if planned_events else d["mean_events"]
        if "p_stop_harm" in template:  # two-sided: upper (favourable) and lower (harm) bounds
            share = allocation[0] * allocation[1] / (allocation[0] + allocation[1]) ** 2
            info = info_events * share
            z_up, z_low = _median_of_counts(lt.upper), _median_of_counts(lt.lower)

            def hr_at(zb: float, info: float = info) -> float | None:
                return ni_margin * math.exp(-zb / math.sqrt(info)) if math.isfinite(zb) and info > 0 else None

            p_up, p_down = lt.stops["p_stop_efficacy"] / n, lt.stops["p_stop_harm"] / n
            d.update({
                "z_efficacy": z_up if math.isfinite(z_up) else None,
                "z_harm": z_low if math.isfinite(z_low) else None,
                "nominal_p": float(norm.sf(z_up)) if math.isfinite(z_up) else None,
                "nominal_p_harm": float(norm.cdf(z_low)) if math.isfinite(z_low) else None,
                "hr_efficacy": hr_at(z_up),
                "hr_harm": hr_at(z_low),
                "p_stop_efficacy": p_up,
                "p_stop_harm": p_down,
                "p_stop_futility": lt.stops["p_stop_futility"] / n,
            })
            cumulative += float(np.float64(p_up) + np.float64(p_down))
        else:
            z = _median_of_counts(lt.upper) if template["efficacy"] else math.inf
            info = info_events * allocation[0] * allocation[1] / (allocation[0] + allocation[1]) ** 2
            p_eff = lt.stops["p_stop_efficacy"] / n
            cumulative += p_eff
            d.update({
                "z_efficacy": z if math.isfinite(z) else None,
                "nominal_p": float(norm.sf(z)) if math.isfinite(z) else None,
                "hr_efficacy": ni_margin * math.exp(-z / math.sqrt(info)) if math.isfinite(z) and info > 0 else None,
                "p_stop_efficacy": p_eff,
                "p_stop_futility": lt.stops["p_stop_futility"] / n,
            })
        d["cumulative_power"] = cumulative
        looks.append(d)
    return looks


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
        a = scenario.analysis
        if (a.target_events is None and a.calendar_months is None and a.min_followup_after_last_entry_months is None
                and not derived):
            raise InvalidInput("analysis: give target_events, calendar_months or min_followup_after_last_entry_months "
                               "for a time-to-event design")
        if scenario.analysis.sequential is not None and scenario.analysis.test in FIXED_DESIGN_TESTS:
            raise InvalidInput(f"analysis.sequential: test {scenario.analysis.test} is fixed-design only")
        if scenario.analysis.sequential is not None and scenario.analysis.test in GS_WEIGHTED_TESTS:
            problem = weighted_sequential_problem(scenario.analysis)
            if problem is not None:
                raise InvalidInput(f"analysis.sequential: {problem}")

    def _spec(self, scenario: Scenario, null: bool, n_patients, target_events) -> tuple[TrialSpec, Arm]:
        self._check(scenario)
        plan = scenario.analysis.sequential
        experimental = self.experimental_arm(scenario, null)
        spec = build_spec(
            scenario, n_patients=n_patients, target_events=target_events, experimental=experimental,
            look_fractions=plan.information_fractions if plan else None,
        )
        return spec, experimental

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
        spec, experimental = self._spec(scenario, null, n_patients, target_events)
        if executor is not None and threads is not None:
            raise InvalidInput("give threads or an executor, not both")
        if trial_parameters is not None and trial_parameters.response_probability is not None:
            raise InvalidInput("response probabilities apply to binary endpoints, not to a time-to-event design")
        result = simulate(
            spec, n_sims, seed, threads=threads, progress=progress, executor=executor, trial_parameters=trial_parameters,
        )
        return self._outcomes(scenario, spec, result, null, experimental)

    def run_variants(
        self,
        scenarios,
        *,
        n_sims: int,
        seed: int,
        null: bool = False,
        threads: int | None = None,
        progress: Progress | None = None,
        executor: Executor | None = None,
    ) -> list[TrialOutcomes]:
        """``[run(sc, n_sims=..., seed=...) for sc in scenarios]`` as one engine run of parameter variants.

        The scenarios' specs must share their structure (``simtrial.simulate.check_variants``;
        ValueError naming the field otherwise): a sweep over hazard ratios, dropout,
        accrual or the mix runs every point in one executor map.  Each point's
        outcomes equal its separate run, trial by trial.
        """
        from simtrial.simulate import simulate_variants

        built = [self._spec(sc, null, None, None) for sc in scenarios]
        results = simulate_variants([spec for spec, _ in built], n_sims, seed, threads=threads, executor=executor,
                                    progress=progress)
        return [self._outcomes(sc, spec, result, null, experimental)
                for sc, (spec, experimental), result in zip(scenarios, built, results, strict=True)]

    def run_streamed(
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
        block_trials: int = 50_000,
        band_sigmas: float | None = None,
    ) -> StreamedOutcomes:
        """``run`` without per-trial arrays: blocks of ``block_trials`` trials, each summarised and dropped.

        Block b is ``simulate(..., first_trial=b * block_trials)``: its trials
        are those of the one-piece run (a trial's numbers depend only on the
        seed and its index), and blocks are merged in trial order, so the
        result does not depend on the executor or its completion order.
        """
        spec, experimental = self._spec(scenario, null, n_patients, target_events)
        if executor is not None and threads is not None:
            raise InvalidInput("give threads or an executor, not both")
        summary = OutcomeSummary(n_sims, band_sigmas=band_sigmas)
        totals = None
        head = None
        for start in range(0, n_sims, block_trials):
            result = simulate(spec, min(block_trials, n_sims - start), seed, threads=threads, progress=progress,
                              executor=executor, first_trial=start)
            trials, block = self._block(scenario, spec, result, experimental)
            summary.add(trials)
            totals = block if totals is None else totals.merge(block)
            if head is None:
                head = trials
            del result, trials, block
        analytic, details, flags = self._run_level(scenario, spec, totals, experimental)
        return StreamedOutcomes(
            design=self.name, n_sims=n_sims, seed=seed, null=null, summary=summary, analytic_power=analytic,
            details=details, flags=flags, n_patients=spec.n_patients, target_events=head.target_events,
            landmarks={name: {"model": lm["model"]} for name, lm in head.landmarks.items()},
            landmark_months=head.landmark_months, blocks=totals.blocks,
        )

    # -- decisions ---------------------------------------------------------
    def _outcomes(self, scenario, spec, result: SimulationResult, null: bool, experimental: Arm) -> TrialOutcomes:
        trials, totals = self._block(scenario, spec, result, experimental)
        analytic, details, flags = self._run_level(scenario, spec, totals, experimental)
        return replace(trials, null=null, analytic_power=analytic, details=details, flags=flags)

    def _block(self, scenario, spec, result: SimulationResult, experimental: Arm) -> tuple[TrialOutcomes, _RunTotals]:
        """The per-trial outcomes of a block of trials, and the block's totals for the run-level figures."""
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
        totals = _RunTotals(seed=result.seed)
        side_decisions: dict = {}
        if plan is not None:
            fractions = total_events / planned_events if planned_events else np.tile(
                np.array(plan.information_fractions), (result.n_sims, 1)
            )
            beta = design_beta(scenario)
            hazard_ratio = np.exp(log_hr)
            correlation, n_components = None, 1
            if spec.group_sequential_weights:
                # weighted log-rank / MaxCombo: each trial's bounds from its own estimated correlation
                z_eff, correlation, n_components = weighted_sequential_statistics(result, pop)

            def monitor(rows=slice(None)):
                return apply_sequential(
                    plan, z_eff[rows], fractions[rows], hazard_ratio[rows], total_events[rows], alpha=a.alpha / a.sided,
                    beta=beta, ni_margin=margin or 1.0, allocation=scenario.allocation, planned_events=planned_events,
                    sided=a.sided, correlation=None if correlation is None else correlation[rows],
                    n_components=n_components,
                )

            seq = monitor()
            success = seq.success
            side_decisions = seq.side_decisions or {}
            stop = seq.stop_look
            totals.sequential = {"looks": seq.looks, "design": seq.design,
                                 "inflation_factor": seq.design.inflation_factor,
                                 "group_sequential_design": seq.design.to_dict()}
            totals.look_totals = _look_totals(seq, monitor, fractions, total_events)
            # which rule set each look (an interim cut at its calendar maximum, a floor that delayed it): the
            # run-level flags count the final look only
            for look, lt in enumerate(totals.look_totals):
                bits = result.flags[:, look, pop]
                lt.cut_flags = {name: int(((bits & bit) != 0).sum())
                                for bit, name in layout.cut_flag_names(spec.cuts).items()}
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
        if plan is not None:
            # each trial's Z at every look, continuing past a stop: the Z paths the report draws
            for k in range(z_eff.shape[1]):
                estimates[f"z_efficacy_look{k + 1}"] = z_eff[:, k]
        # which cut rule set the trial's analysis (and, sequential, every look): only the rules the looks use
        for bit, name in layout.cut_flag_names(spec.cuts).items():
            bits = result.flags[:, :, pop] & bit
            estimates[name] = bits[rows, stop] != 0
            if plan is not None:
                for k in range(bits.shape[1]):
                    estimates[f"{name}_look{k + 1}"] = bits[:, k] != 0
        totals.n = result.n_sims
        totals.final_events.add(
            result.stats[:, -1, pop, layout.EVENTS_CONTROL] + result.stats[:, -1, pop, layout.EVENTS_EXPERIMENTAL]
        )
        totals.final_cut_months.add(result.cut_months[:, -1])
        totals.flags = flag_totals(result, pop)
        trials = TrialOutcomes(
            design=self.name,
            n_sims=result.n_sims,
            seed=result.seed,
            null=False,
            success=success,
            events=total_events[rows, stop],
            duration_months=result.cut_months[rows, stop],
            enrolled=result.enrolled[rows, stop],
            hazard_ratio=np.exp(log_hr[rows, stop]),
            median_control_months=result.stats[rows, stop, pop, layout.MEDIAN_CONTROL],
            median_experimental_months=result.stats[rows, stop, pop, layout.MEDIAN_EXPERIMENTAL],
            decisions=decisions,
            estimates=estimates,
            n_patients=spec.n_patients,
            target_events=planned_events,
            landmarks=_landmarks(scenario, result, stop, experimental),
            landmark_months=tuple(a.landmark_months),
        )
        return trials, totals

    def _run_level(self, scenario, spec, totals: _RunTotals, experimental: Arm) -> tuple[dict, dict, dict]:
        """(analytic powers, details, flags) of the run from its (merged) block totals."""
        a = scenario.analysis
        plan = a.sequential
        margin = self.ni_margin(scenario)
        planned_events = spec.cuts[-1].target_events
        details: dict = {}
        if plan is not None:
            seq = totals.sequential
            details["looks"] = seq["looks"] if totals.blocks == 1 else _merged_looks(
                scenario, plan, totals, margin or 1.0, planned_events)
            if any(lt.cut_flags for lt in totals.look_totals):
                details["looks"] = [{**d, "flags": dict(lt.cut_flags)}
                                    for d, lt in zip(details["looks"], totals.look_totals, strict=True)]
            details["inflation_factor"] = seq["inflation_factor"]
            details["group_sequential_design"] = seq["group_sequential_design"]
        categories = _analysed_true_categories(scenario)
        hr_true = constant_hazard_ratio(scenario, categories, experimental)
        final_events = totals.final_events.value()
        if plan is None and not planned_events and (a.calendar_months or a.min_followup_after_last_entry_months):
            # a calendar cut: the expected events there (numerical integration), not the seed-dependent mean;
            # with a minimum follow-up, at the later of calendar_months and E[last entry] + the follow-up
            from simtrial.timeline import expected_events
            from simtrial.timeline.projection import expected_calendar_cut

            cut_months = expected_calendar_cut(scenario, spec.n_patients)
            final_events = float(expected_events(scenario, [cut_months], n_patients=spec.n_patients,
                                                 experimental=experimental, assessed=a.population)["total"][0])
            details["analytic_events_at_calendar_cut"] = final_events
        alpha, alpha_note = self._analytic_alpha(scenario)
        if plan is None:
            analytic = analytic_powers(
                hr_true, final_events, alpha, scenario.allocation, ni_margin=margin or 1.0, sided=a.sided
            )
        elif hr_true is not None and planned_events:
            analytic = {
                "schoenfeld_group_sequential": analytic_sequential_power(
                    plan, totals.sequential["design"], hr_true, final_events, ni_margin=margin or 1.0, allocation=scenario.allocation
                )
            }
        else:
            analytic = {}
        details.update(self._details(scenario, totals, spec))
        details.update(nph_details(scenario, experimental, spec.n_patients, totals.final_cut_months.value()))
        details["true_hazard_ratio"] = hr_true
        if hr_true is None and plan is None:
            approx, mean_hr, reason = approximate_schoenfeld(
                scenario, experimental, categories, spec.n_patients, totals.final_cut_months.value(),
                final_events, ni_margin=margin or 1.0, alpha=alpha,
            )
            if approx is not None:
                analytic = {"schoenfeld_approximate": approx}
                details["events_weighted_mean_hazard_ratio"] = mean_hr
            details["analytic_power_note"] = reason
        elif not analytic:
            details["analytic_power_note"] = (
                "no closed form: the true hazard ratio is not one constant across the patients analysed"
            )
        if alpha_note and analytic:
            earlier = details.get("analytic_power_note")
            details["analytic_power_note"] = f"{earlier}; {alpha_note}" if earlier else alpha_note
        return analytic, details, dict(totals.flags)

    def _analytic_alpha(self, scenario) -> tuple[float, str | None]:
        """The level at which the analytic power of the design's success test is evaluated, and why if not alpha."""
        return scenario.analysis.alpha, None

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

    def _details(self, scenario, totals: _RunTotals, spec) -> dict:
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

    def _details(self, scenario, totals: _RunTotals, spec) -> dict:
        p = scenario.population.eligible_fraction
        n = spec.n_patients
        # patients screened until n are eligible: n + NegativeBinomial(n, p) screen failures, one draw per
        # trial from one stream, drawn in chunks (the same numbers) and kept as counts per value
        rng = np.random.default_rng([totals.seed, 0x5C4EE7])
        counts = np.zeros(1, dtype=np.int64)
        for start in range(0, totals.n, _SCREENING_CHUNK):
            drawn = np.bincount(rng.negative_binomial(n, p, size=min(_SCREENING_CHUNK, totals.n - start)))
            if drawn.size > counts.size:
                counts = np.pad(counts, (0, drawn.size - counts.size))
            counts[: drawn.size] += drawn
        cum = np.cumsum(counts)

        def screened(rank: int) -> float:
            return float(n + int(np.searchsorted(cum, rank, side="right")))

        failures = int(np.dot(np.arange(counts.size, dtype=np.int64), counts))
        return {
            "eligible_fraction": p,
            "expected_screened": n / p,
            "expected_screen_failures": n / p - n,
            "screened_mean": float(n * totals.n + failures) / totals.n,
            "screened_p95": percentile_at(totals.n, 95, screened),
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

    def _block(self, scenario, spec, result, experimental):
        if scenario.analysis.sequential is not None:
            raise InvalidInput("analysis.sequential is not supported for the biomarker design")
        outcomes, totals = super()._block(scenario, spec, result, experimental)
        # success: the overall hypothesis rejected after the multiplicity adjustment
        overall = outcomes.decisions["reject_overall"]
        decisions = dict(outcomes.decisions)
        if scenario.analysis.sided == 2:
            z = outcomes.estimates["z_overall"]
            decisions["reject_favourable"] = overall & (z > 0)
            decisions["reject_unfavourable"] = overall & (z < 0)
        return replace(outcomes, success=overall, decisions=decisions), totals

    def _extra(self, scenario, result, stop, success):
        from simtrial.stats import normal as norm
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

    def _analytic_alpha(self, scenario) -> tuple[float, str | None]:
        # success is the overall hypothesis *after* the multiplicity adjustment over the family, so a
        # closed form at the unadjusted alpha would overstate the power the run reports
        a = scenario.analysis
        m = 1 + len(a.subgroups)
        if m == 1 or a.multiplicity == "fixed_sequence":
            return a.alpha, None  # the overall hypothesis comes first, at the full level
        level = a.alpha / m
        if a.multiplicity == "bonferroni":
            return level, f"the overall test at alpha / {m} = {level:.4g} (Bonferroni over the overall and {m - 1} subgroups)"
        return level, (f"the overall test at alpha / {m} = {level:.4g}: a lower bound under {a.multiplicity}, which may "
                       "reject the overall hypothesis at a larger level once a subgroup is rejected")

    def _details(self, scenario, totals, spec):
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


