"""What the time-to-event designs share: scenario -> TrialSpec, test statistics, analytic power.

Statistic scale: every decision here uses Z_eff, positive when the
experimental arm is better (Z_eff = -Z of the engine, whose Z has the sign of
log HR).  For non-inferiority Z_eff = -(log HR - log margin) / SE.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from simtrial.engine import layout
from simtrial.errors import InvalidInput
from simtrial.simulate import SimulationResult
from simtrial.spec import Arm, Cut, Scenario, Subgroup, TrialSpec
from simtrial.spec.engine import planned_calendar_maxima
from simtrial.stats.analytic import freedman_power, schoenfeld_power

ANALYSIS_POPULATION = "analysis_population"

#: the engine statistic (simtrial.engine.statistics_registry name) each time-to-event test reads
TEST_STATISTIC = {
    "logrank": "logrank",
    "stratified_logrank": "stratified",
    "stratified_cox": "stratified",
    "fleming_harrington": "fleming_harrington",
    "cox": "cox",
    # non-proportional hazards (issue 15): fields after the landmark columns (layout.NPH_FIELDS)
    "rmst": "rmst",
    "stratified_rmst": "rmst",
    "milestone": "milestone",
    "milestone_cloglog": "milestone",
    "maxcombo": "maxcombo",
    "modestly_weighted_logrank": "modestly_weighted",
}
#: Z_eff = -(this NPH field) for the tests read from one (maxcombo: from its p-value)
_NPH_Z = {
    "rmst": layout.RMST_Z,
    "stratified_rmst": layout.STRATIFIED_RMST_Z,
    "milestone": layout.MILESTONE_Z,
    "milestone_cloglog": layout.MILESTONE_CLOGLOG_Z,
    "modestly_weighted_logrank": layout.MODESTLY_WEIGHTED_Z,
}
#: what every time-to-event summary reads whatever the test: the Cox log HR and its SE (the reported
#: HR, subgroup HRs, the interaction test, non-inferiority and group-sequential decisions) and
#: Kaplan-Meier (medians, landmark survival)
REPORT_STATISTICS = ("cox", "kaplan_meier")


def sequential_weights(a) -> tuple[tuple[float, float, float | None], ...]:
    """The weighted components of a group-sequential weighted log-rank / MaxCombo analysis; () for other tests.

    (rho, gamma, t_star): FH(rho, gamma) with t_star None, else the modestly weighted log-rank at t_star.
    """
    from simtrial.spec.engine import DEFAULT_MAXCOMBO

    if a.sequential is None:
        return ()
    if a.test == "fleming_harrington":
        return ((a.fh_rho, a.fh_gamma, None),)
    if a.test == "modestly_weighted_logrank":
        return ((0.0, 0.0, a.mwlr_t_star_months),)
    if a.test == "maxcombo":
        return tuple((r, g, None) for r, g in (a.maxcombo or DEFAULT_MAXCOMBO))
    return ()


def weighted_sequential_statistics(result: SimulationResult, population: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(Z_eff of the test per trial and look [n, K], the components' correlation [n, K J, K J], J).

    Read from the group-sequential scores block (``simtrial.engine.gs_scores``): Z_lj = U_lj /
    sqrt(V_lj), Z_eff = -Z (positive favours experimental), the test's Z_eff the largest component's;
    Corr(Z_ki, Z_lj) = Cov(U_ki, U_lj) / sqrt(V_ki V_lj).  Undefined components give NaN.
    """
    n_looks = result.n_looks
    J = len(result.spec.group_sequential_weights)
    width = layout.gs_width(n_looks, J)
    block = result.stats[:, :, population, result.stats.shape[-1] - width:]  # [n, K, width]
    n = block.shape[0]
    cov = np.full((n, n_looks * J, n_looks * J), np.nan)
    for look in range(n_looks):
        for k in range(look + 1):
            c = block[:, look, J + k * J * J: J + (k + 1) * J * J].reshape(n, J, J)  # Cov(U_k., U_look.)
            cov[:, k * J:(k + 1) * J, look * J:(look + 1) * J] = c
            cov[:, look * J:(look + 1) * J, k * J:(k + 1) * J] = np.swapaxes(c, 1, 2)
    var = np.diagonal(cov, axis1=1, axis2=2)  # [n, K J]
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.where(var > 0, var, np.nan))
        corr = cov / (sd[:, :, None] * sd[:, None, :])
        z = -block[:, :, :J].reshape(n, n_looks * J) / sd
    z_test = np.max(z.reshape(n, n_looks, J), axis=2)  # NaN if any component is undefined
    return z_test, corr, J


def design_statistics(test: str) -> tuple[str, ...]:
    """The statistics a time-to-event design computes per trial: its test's and the report's."""
    if test not in TEST_STATISTIC:
        raise InvalidInput(f"analysis.test {test!r} is not a time-to-event test")
    return (TEST_STATISTIC[test], *(s for s in REPORT_STATISTICS if s != TEST_STATISTIC[test]))


def null_experimental_arm(scenario: Scenario, hazard_ratio: float, categories=None) -> Arm:
    """The experimental arm under H0: control's model times ``hazard_ratio`` (in ``categories``, or all)."""
    control = scenario.control
    models = dict(scenario.experimental.models)
    for cat, model in control.models.items():
        if categories is None or cat in categories:
            models[cat] = model.with_hazard_ratio(hazard_ratio)
    return replace(scenario.experimental, models=models)


def build_spec(
    scenario: Scenario,
    *,
    n_patients: int | None = None,
    target_events: int | None = None,
    experimental: Arm | None = None,
    look_fractions: tuple[float, ...] | None = None,
) -> TrialSpec:
    """The engine spec of one run.  Looks at ``look_fractions`` of the target events if given.

    When the primary analysis is a subgroup (``analysis.population``), it is
    added as a population named ``analysis_population`` so its statistics come
    from its own risk sets.  Each trial computes only ``design_statistics(analysis.test)``
    (the other statistics' fields are NaN).
    """
    a = scenario.analysis
    if n_patients is None and scenario.n_patients is None:
        raise InvalidInput("n_patients: the scenario gives no n_patients; search it with sample_size (simtrial samplesize)")
    n = int(n_patients if n_patients is not None else scenario.n_patients)
    events = target_events if target_events is not None else a.target_events
    if n_patients is not None and target_events is None:
        # solving for N keeps the events-per-patient ratio: sample_size.events_per_patient, else the scenario's
        ratio = (scenario.sample_size.events_per_patient if scenario.sample_size and scenario.sample_size.events_per_patient else None)
        if ratio is None and events is not None and scenario.n_patients:
            ratio = a.target_events / scenario.n_patients
        if ratio is not None:
            events = max(1, min(n, int(round(ratio * n))))
    if events is not None:
        events = min(int(events), n)
    if look_fractions is not None and events is None:
        raise InvalidInput(
            "analysis.target_events: group-sequential looks are fractions of target_events, "
            "which this run does not have (give target_events, or run `simtrial samplesize` to find it)"
        )
    follow = a.min_followup_after_last_entry_months
    if look_fractions is None:
        cuts = (Cut(events, a.calendar_months, min_followup_after_last_entry_months=follow),)
    else:
        ks = [max(1, int(round(f * events))) for f in look_fractions]
        last = len(ks) - 1
        # each look's calendar maximum (a.sequential.calendar_months, else a.calendar_months for the final
        # look), capped by the later looks' so the looks stay in calendar order; the minimum follow-up bounds
        # the final analysis; the gap, every later look
        plan = a.sequential
        maxima = planned_calendar_maxima(a.calendar_months, plan.calendar_months if plan is not None else None,
                                         len(ks))
        cuts = tuple(Cut(k, maxima[i],
                         min_months_after_previous_look=a.min_months_after_previous_look if i > 0 else None,
                         min_followup_after_last_entry_months=follow if i == last else None)
                     for i, k in enumerate(ks))
    subgroups: list[Subgroup] = []
    if a.population is not None:
        subgroups.insert(0, Subgroup(ANALYSIS_POPULATION, a.population))
    subgroups += [s for s in a.subgroups if s.name not in {g.name for g in subgroups}]
    if a.interaction is not None:
        subgroups += [s for s in a.interaction if s.name not in {g.name for g in subgroups}]
    return TrialSpec(
        population=scenario.population,
        control=scenario.control,
        experimental=experimental or scenario.experimental,
        n_patients=n,
        accrual=scenario.accrual,
        cuts=cuts,
        allocation=scenario.allocation,
        block_multiple=scenario.block_multiple,
        randomisation=scenario.randomisation,
        randomization_strata=scenario.randomisation_strata,
        analysis_strata=a.strata,
        subgroups=tuple(subgroups),
        fh_rho=a.fh_rho,
        fh_gamma=a.fh_gamma,
        landmark_months=a.landmark_months,
        statistics=design_statistics(a.test),
        group_sequential_weights=sequential_weights(a) if look_fractions is not None else (),
        **_nph_spec_fields(a),
    )


def _nph_spec_fields(a) -> dict:
    """The NPH test parameters the engine spec carries (empty for the other tests: their specs are unchanged)."""
    out = {}
    for name in ("rmst_tau_months", "milestone_months", "mwlr_t_star_months"):
        if getattr(a, name, None) is not None:
            out[name] = getattr(a, name)
    if getattr(a, "maxcombo", None):
        out["maxcombo"] = a.maxcombo
    return out


def primary_index(result: SimulationResult, scenario: Scenario) -> int:
    return result.populations.index(ANALYSIS_POPULATION) if scenario.analysis.population is not None else 0


def efficacy_z(result: SimulationResult, test: str, population: int, look=slice(None), ni_margin: float | None = None):
    """Z_eff (positive = experimental better) per trial [and look] for ``test``."""
    stats = result.stats[:, look, population, :]
    if ni_margin is not None:
        stratified = test in ("stratified_cox", "stratified_logrank")
        log_hr = stats[..., layout.STRATIFIED_LOG_HR if stratified else layout.LOG_HR]
        se = stats[..., layout.STRATIFIED_LOG_HR_SE if stratified else layout.LOG_HR_SE]
        return -(log_hr - math.log(ni_margin)) / se
    if test == "logrank":
        return -stats[..., layout.LOGRANK_Z]
    if test == "stratified_logrank":
        return -stats[..., layout.STRATIFIED_LOGRANK_Z]
    if test == "fleming_harrington":
        return -stats[..., layout.FH_Z]
    if test == "cox":
        return -stats[..., layout.LOG_HR] / stats[..., layout.LOG_HR_SE]
    if test == "stratified_cox":
        return -stats[..., layout.STRATIFIED_LOG_HR] / stats[..., layout.STRATIFIED_LOG_HR_SE]
    if result.spec.group_sequential_weights and test in ("fleming_harrington", "modestly_weighted_logrank", "maxcombo"):
        return weighted_sequential_statistics(result, population)[0][:, look]
    if test in _NPH_Z or test == "maxcombo":
        offset = layout.n_fields(len(result.spec.landmark_months))
        if test == "maxcombo":
            from scipy.stats import norm

            # the Z with the same one-sided p: rejecting at Z_eff >= z_(1-alpha) is rejecting at p <= alpha
            return norm.isf(stats[..., offset + layout.MAXCOMBO_P])
        return -stats[..., offset + _NPH_Z[test]]
    raise InvalidInput(f"analysis.test {test!r} is not a time-to-event test")


def constant_hazard_ratio(scenario: Scenario, categories=None, experimental: Arm | None = None) -> float | None:
    """The common hazard ratio of the categories analysed, if hazards are proportional and equal.

    Checked numerically on the cumulative hazards at several times, so it
    holds for any model family; None when the ratio varies with time or
    between categories (then no closed-form power applies).
    """
    experimental = experimental or scenario.experimental
    cats = scenario.population.true_categories() if categories is None else categories
    ratios = []
    times = np.array([0.5, 2.0, 6.0, 12.0, 24.0, 48.0])
    for cat in cats:
        sc = np.asarray(scenario.control.models[cat].survival(times))
        se = np.asarray(experimental.models[cat].survival(times))
        ok = (sc < 1 - 1e-12) & (sc > 1e-300) & (se > 1e-300)
        if not ok.any():
            continue
        r = np.log(se[ok]) / np.log(sc[ok])
        ratios.extend(r.tolist())
    if not ratios:
        return None
    ratios = np.array(ratios)
    if np.ptp(ratios) > 1e-6 * max(1.0, abs(ratios.mean())):
        return None
    return float(ratios.mean())


def analytic_powers(
    hazard_ratio: float | None, events: float, alpha: float, allocation: tuple[int, int],
    ni_margin: float = 1.0, sided: int = 1,
) -> dict[str, float]:
    """Schoenfeld (and, for superiority, Freedman) power at ``events`` events."""
    if hazard_ratio is None or not events or events <= 0:
        return {}
    ratio = allocation[1] / allocation[0]
    out = {
        "schoenfeld": float(
            schoenfeld_power(events, hazard_ratio, alpha, allocation_ratio=ratio, ni_margin=ni_margin, sided=sided)
        )
    }
    if ni_margin == 1.0:
        out["freedman"] = float(freedman_power(events, hazard_ratio, alpha, allocation_ratio=ratio, sided=sided))
    return out


def model_survival(arm: Arm, weights: np.ndarray, times) -> np.ndarray:
    """S(t) of an arm over a population: the mixture of its categories' models with ``weights``.

    Kaplan-Meier of a randomised arm estimates exactly this (entry and dropout
    are independent of the category), so it is the reference for the
    simulated landmark survival.
    """
    times = np.asarray(times, dtype=float)
    out = np.zeros_like(times)
    for cat in np.flatnonzero(weights > 0):
        out = out + weights[cat] * np.asarray(arm.models[int(cat)].survival(times), dtype=float)
    return out


def _event_probability(model, entry: np.ndarray, cut_months: float) -> float:
    """P(event by the cut) of a patient entering at one of ``entry`` (equally likely), ignoring dropout."""
    follow = np.clip(cut_months - entry, 0.0, None)
    return float(np.mean(1.0 - np.asarray(model.survival(follow), dtype=float)))


def approximate_schoenfeld(
    scenario: Scenario, experimental: Arm, categories: tuple[int, ...], n_patients: int, cut_months: float,
    events: float, ni_margin: float = 1.0, alpha: float | None = None,
) -> tuple[float | None, float | None, str]:
    """Schoenfeld's power at the events-weighted mean log HR, when the HR differs between categories.

    Each category's share of the events is estimated from its prevalence and
    its probability of an event by the mean analysis time (entry from the
    accrual law; dropout ignored), at level ``alpha`` (default: the analysis's).  Returns ``(power, mean HR, reason)``, or
    ``(None, None, reason)`` when a category's own HR is not constant over time.
    """
    a = scenario.analysis
    weights = scenario.population.true_weights(a.population)
    entry = scenario.accrual.entry_distribution(n_patients).quantile((np.arange(200) + 0.5) / 200)
    ctrl, expt = scenario.allocation
    num = den = 0.0
    for cat in categories:
        hr = constant_hazard_ratio(scenario, (cat,), experimental)
        if hr is None:
            return None, None, "the hazard ratio varies over time within a category: no Schoenfeld figure"
        share = weights[cat] * (
            ctrl * _event_probability(scenario.control.models[cat], entry, cut_months)
            + expt * _event_probability(experimental.models[cat], entry, cut_months)
        )
        num += share * math.log(hr)
        den += share
    if not den > 0:
        return None, None, "no events expected"
    mean_hr = math.exp(num / den)
    level = a.alpha if alpha is None else alpha
    power = analytic_powers(mean_hr, events, level, scenario.allocation, ni_margin=ni_margin, sided=a.sided)
    reason = (
        "approximate: the hazard ratio differs between HER2 categories, so Schoenfeld's formula is "
        f"evaluated at the events-weighted mean log HR (HR {mean_hr:.3f})"
    )
    return power.get("schoenfeld"), mean_hr, reason


def flag_totals(result: SimulationResult, population: int = 0, look=-1) -> dict[str, int]:
    """Trials flagged per condition at ``look``.

    A look whose cut holds fewer events than its target is flagged
    ``target_events_not_reached`` whatever the cut kernel said (events at an
    infinite calendar time, e.g. with extreme hazards, are never analysed).
    """
    flags = result.flags[:, look, population].copy()
    target = result.spec.cuts[look].target_events
    if target:
        events = result.stats[:, look, 0, layout.EVENTS_CONTROL] + result.stats[:, look, 0, layout.EVENTS_EXPERIMENTAL]
        short = events < target
        calendar = result.spec.cuts[look].calendar_months
        if calendar is not None:
            short &= result.cut_months[:, look] < calendar  # a calendar cut that came first is not a shortfall
        flags[short] |= layout.FLAG_TARGET_EVENTS_NOT_REACHED
    names = dict(layout.FLAG_NAMES)
    names.update(layout.cut_flag_names(result.spec.cuts))  # only runs whose looks use the cut rules raise these
    if result.stats.shape[-1] > layout.n_fields(len(result.spec.landmark_months)):
        names.update(layout.NPH_FLAG_NAMES)  # only runs with NPH statistics can raise these
    return {name: int(((flags & bit) != 0).sum()) for bit, name in names.items()}


def nph_details(scenario: Scenario, experimental: Arm, n_patients: int, months: float) -> dict:
    """Average hazard ratio (gsDesign2) beside the result when an arm's hazard ratio varies over time; else {}.

    ``months``: the mean final analysis time over the simulated trials.
    """
    from simtrial.stats.nph import average_hazard_ratio
    from simtrial.survival import TimeVaryingHazardRatio

    if not any(isinstance(m, TimeVaryingHazardRatio) for m in experimental.models.values()):
        return {}
    a = scenario.analysis
    cats = scenario.population.true_categories(a.population)
    weights = scenario.population.true_weights(a.population)
    # the average HR's integral interpolates the entry CDF: exact for piecewise-uniform entry, tabulated else
    breaks, cum = scenario.accrual.entry_distribution(n_patients).table()
    months = float(months)
    ahr = average_hazard_ratio(
        {c: scenario.control.models[c] for c in cats}, {c: experimental.models[c] for c in cats}, weights,
        breaks, cum, (scenario.control.dropout_hazard_per_month, experimental.dropout_hazard_per_month),
        scenario.allocation, months,
    )
    return {
        "average_hazard_ratio": ahr,
        "average_hazard_ratio_note": (
            "gsDesign2's average hazard ratio: exp of the log hazard ratio over follow-up weighted by the "
            f"expected events (both arms), at the mean final analysis time {months:.4g} months"
        ),
    }
