"""Analytic sample sizes beside the simulated one: Schoenfeld, Freedman and Lachin-Foulkes, fixed or sequential.

Events: Schoenfeld (log-rank / Cox, superiority or non-inferiority), Freedman
(superiority) -- ``simtrial.stats.analytic`` -- and Lachin-Foulkes
(``simtrial.stats.lachin_foulkes``: exponential arms, uniform or truncated
exponential entry, dropout;
its events follow from its N).  A group-sequential plan multiplies events and
N by the planned design's inflation factor (maximum over fixed information).

Patients, for Schoenfeld and Freedman: ``events / P(event by the analysis)``.
The analysis time is ``analysis.calendar_months`` for a calendar cut;
for an event-driven cut the scenario's events-per-patient ratio is kept (as
the simulated search keeps it), so N = events / ratio.  P(event) comes from the
analytic timeline (``simtrial.timeline.projection``: any survival model, mix,
misclassification, accrual and dropout) under the alternative.
Every formula tests the favourable (efficacy) side at its own alpha
(:func:`efficacy_alpha`): ``alpha`` one-sided, ``alpha / 2`` per side for a
symmetric two-sided test or plan, and ``alpha - harm_alpha`` for a two-sided
plan whose harm bound spends ``harm_alpha``; the inflation factor is the
actual design's, relative to the fixed design at that same alpha (with its
futility rule: binding or not, the design alternative obeys the futility
stops).  Each printed line says which alpha it used.

Lachin-Foulkes needs one exponential control hazard for every analysed
patient, a constant hazard ratio, accrual over ``duration_months``
(uniform, or truncated exponential with ``exponential_gamma_per_month``: its
``entry = "expo", gamma``; a ramp-up is neither and is refused) and, for an event-driven cut, the calendar time at which the expected
events per patient reach the ratio (its follow-up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from simtrial.spec import Analysis, Scenario
from simtrial.stats.analytic import freedman_events, schoenfeld_events
from simtrial.stats.lachin_foulkes import lachin_foulkes_sample_size

METHODS = ("schoenfeld", "freedman", "lachin_foulkes")


@dataclass(frozen=True)
class EfficacyAlpha:
    """The alpha at which the closed forms test the favourable side.

    ``alpha`` and ``sided`` are what the formulas take (z_{1 - alpha / sided});
    ``per_side`` is that one-sided level; ``label`` says it in words.
    """

    alpha: float
    sided: int
    per_side: float
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "sided": self.sided, "efficacy_side_alpha": self.per_side, "label": self.label}


def efficacy_alpha(analysis: Analysis, design: str | None = None) -> EfficacyAlpha:
    """The favourable side's alpha of the analysis: one source for every analytic line.

    A ``biomarker`` design's success is the overall hypothesis after the multiplicity
    adjustment over (overall, subgroups), so its closed forms take alpha / m under
    Bonferroni and Holm (for Holm the level the overall test is sure to get; it may
    reject at a larger one after a subgroup), and alpha under a fixed sequence, whose
    first hypothesis is the overall one.
    """
    a = analysis
    m = 1 + len(a.subgroups)
    if design == "biomarker" and m > 1 and a.multiplicity in ("bonferroni", "holm"):
        base = efficacy_alpha(replace(a, alpha=a.alpha / m))
        return replace(base, label=f"{base.label}: alpha {a.alpha:g} / {m} for the overall test under {a.multiplicity}")
    harm_alpha = a.sequential.harm_alpha if (a.sided == 2 and a.sequential is not None) else None
    if harm_alpha is not None:
        # an asymmetric two-sided plan: the efficacy side spends alpha - harm_alpha, not alpha / 2
        up = a.alpha - harm_alpha
        return EfficacyAlpha(up, 1, up, f"one-sided alpha {up:g} (the efficacy side of two-sided {a.alpha:g}; "
                                        f"harm bound {harm_alpha:g})")
    if a.sided == 2:
        return EfficacyAlpha(a.alpha, 2, a.alpha / 2.0, f"two-sided alpha {a.alpha:g} ({a.alpha / 2.0:g} per side)")
    return EfficacyAlpha(a.alpha, 1, a.alpha, f"one-sided alpha {a.alpha:g}")


def _ceil(x: float) -> int:
    return int(math.ceil(x - 1e-9))


def _events_fraction(scenario: Scenario, n: int, t: float) -> float:
    """E[events by t] / N under the alternative (the scenario as written)."""
    from simtrial.timeline.projection import expected_events

    return float(expected_events(scenario, [t], n_patients=n)["total"][0]) / n


def _common_exponential_control(scenario: Scenario, categories: tuple[int, ...]) -> float | None:
    """The control hazard when every analysed category has the same exponential model, else None."""
    from simtrial.survival import PiecewiseExponential

    hazards = set()
    for c in categories:
        m = scenario.control.models[c]
        if not isinstance(m, PiecewiseExponential) or len(m.hazard_per_month) != 1:
            return None
        hazards.add(round(m.hazard_per_month[0], 14))
    return hazards.pop() if len(hazards) == 1 else None


def _inflation(scenario: Scenario, power: float) -> float:
    a = scenario.analysis
    if a.sequential is None:
        return 1.0
    from simtrial.designs.sequential import planned_design

    return float(planned_design(a.sequential, a.alpha / a.sided, 1.0 - power, a.sided).inflation_factor)


def analytic_sample_sizes(scenario: Scenario, target_power: float) -> dict[str, Any]:
    """The closed-form answers for a scenario: per method, events and patients (exact and rounded up).

    Returns ``{"methods": {name: {...} | None}, "notes": {name: why not}, "inflation_factor": x,
    "analysis_months": T or None, "events_per_patient": ratio or None}``.
    """
    from simtrial.designs._survival import constant_hazard_ratio

    a = scenario.analysis
    out: dict[str, Any] = {"methods": {}, "notes": {}, "inflation_factor": 1.0, "analysis_months": None,
                           "events_per_patient": None}
    if scenario.endpoint != "time_to_event" or scenario.control is None or scenario.experimental is None:
        out["notes"] = dict.fromkeys(METHODS, "closed forms are for two-arm time-to-event designs")
        return out
    categories = scenario.population.true_categories(a.population)
    hr = constant_hazard_ratio(scenario, categories)
    margin = float(a.ni_margin) if scenario.design == "noninferiority" and a.ni_margin else 1.0
    if hr is None:
        out["notes"] = dict.fromkeys(METHODS, "the hazard ratio is not one constant across the analysed patients")
        return out
    if not hr < margin:
        out["notes"] = dict.fromkeys(METHODS, f"the hazard ratio {hr:g} does not favour the experimental arm")
        return out
    ratio = scenario.allocation[1] / scenario.allocation[0]
    inflation = _inflation(scenario, target_power)
    out["inflation_factor"] = inflation
    # the analysis time (calendar cut) or the events-per-patient ratio (event-driven cut)
    n_now = scenario.n_patients or (sum(scenario.population.fixed_counts.values())
                                    if scenario.population.fixed_counts else None)
    search = scenario.sample_size
    per_patient = None
    if search is not None and search.events_per_patient:
        per_patient = float(search.events_per_patient)
    elif a.target_events and n_now:
        per_patient = a.target_events / n_now
    t_analysis = float(a.calendar_months) if (a.calendar_months and not a.target_events) else None
    if a.min_followup_after_last_entry_months and not a.target_events and n_now:
        from simtrial.timeline.projection import expected_calendar_cut

        t_analysis = expected_calendar_cut(scenario, int(n_now))  # the later of the calendar time and the floor
    out["analysis_months"], out["events_per_patient"] = t_analysis, per_patient

    def patients_for(events: float) -> float | None:
        if per_patient is not None:
            return events / per_patient
        if t_analysis is None or scenario.accrual is None:
            return None
        n = max(int(math.ceil(events)), 2)
        for _ in range(30):  # accrual given by rates lasts longer for a larger N: a fixed point
            p = _events_fraction(scenario, n, t_analysis)
            if not p > 0:
                return None
            new = events / p
            if abs(new - n) < 1e-6 or scenario.accrual.duration_months is not None:
                return new
            n = max(int(round(new)), 2)
        return new

    level = efficacy_alpha(a, scenario.design)
    alpha, sided = level.alpha, level.sided
    if a.sided == 2 or level.alpha != a.alpha:
        out["alpha"] = level.to_dict()  # other one-sided outputs stay as they were (their alpha is analysis.alpha)
    events_by = {"schoenfeld": schoenfeld_events(hr, alpha, target_power, allocation_ratio=ratio,
                                                 ni_margin=margin, sided=sided)}
    if margin == 1.0:
        events_by["freedman"] = freedman_events(hr, alpha, target_power, allocation_ratio=ratio, sided=sided)
    else:
        out["notes"]["freedman"] = "Freedman's formula is for superiority (no non-inferiority margin)"
    for name, ev in events_by.items():
        ev *= inflation
        n = patients_for(ev)
        out["methods"][name] = {
            "events_exact": ev, "events": _ceil(ev),
            "patients_exact": n, "patients": None if n is None else _ceil(n),
        }
    lf, why = _lachin_foulkes(scenario, categories, hr, margin, ratio, target_power, inflation, per_patient,
                              t_analysis, n_now)
    if lf is None:
        out["notes"]["lachin_foulkes"] = why
    else:
        out["methods"]["lachin_foulkes"] = lf
    return out


def _lachin_foulkes(scenario, categories, hr, margin, ratio, power, inflation, per_patient, t_analysis, n_now):
    a = scenario.analysis
    if margin != 1.0:
        return None, "Lachin-Foulkes is for superiority here (no non-inferiority margin)"
    lam = _common_exponential_control(scenario, categories)
    if lam is None:
        return None, "Lachin-Foulkes needs one exponential control model for every analysed patient"
    acc = scenario.accrual
    if acc is None or acc.duration_months is None:
        return None, "Lachin-Foulkes needs uniform or exponential accrual over accrual.duration_months"
    if acc.ramp_up_months is not None:
        return None, ("Lachin-Foulkes has uniform or exponential entry only: a linear ramp-up "
                      "(accrual.ramp_up_months) is neither")
    entry, gamma = ("exponential", acc.exponential_gamma_per_month) if acc.exponential_gamma_per_month else (
        "uniform", None)
    r = float(acc.duration_months)
    if t_analysis is None:
        if per_patient is None or not n_now:
            return None, "Lachin-Foulkes needs the analysis time: calendar_months, or target_events with n_patients"
        # the follow-up at which the expected events per patient reach the scenario's ratio
        from simtrial.timeline.projection import _Projector

        proj = _Projector(scenario, int(n_now), None, r + 600.0)
        t = proj.time_of(per_patient * n_now)
        if not math.isfinite(t):
            return None, "the events-per-patient ratio is never reached"
        t_analysis = t
    if t_analysis < r:
        return None, f"the analysis ({t_analysis:.2f} months) comes before accrual ends ({r:g} months)"
    dropout = (scenario.control.dropout_hazard_per_month, scenario.experimental.dropout_hazard_per_month)
    level = efficacy_alpha(a, scenario.design)
    alpha, sided = level.alpha, level.sided
    res = lachin_foulkes_sample_size(lam, hr, alpha, power, r, t_analysis - r, allocation_ratio=ratio,
                                     sided=sided, dropout_hazard_per_month=dropout, inflation_factor=inflation,
                                     entry=entry, entry_gamma=gamma)
    out = {"events_exact": res.events_exact, "events": res.events, "patients_exact": res.patients_exact,
           "patients": res.patients, "accrual_months": r, "followup_months": t_analysis - r}
    if gamma is not None:
        out["entry"], out["entry_gamma_per_month"] = entry, gamma  # only when not uniform: old outputs unchanged
    return out, None


def format_sizes(sizes: dict[str, Any], alpha_label: str | None = None) -> list[str]:
    """Lines for a terminal: one per method, named, then the alpha they test at.

    ``alpha_label``: :func:`efficacy_alpha`'s label (default: the one stored in ``sizes``, which
    two-sided analyses carry).
    """
    label = {"schoenfeld": "Schoenfeld", "freedman": "Freedman", "lachin_foulkes": "Lachin-Foulkes"}
    lines = []
    for name in METHODS:
        m = sizes["methods"].get(name)
        if m is None:
            why = sizes["notes"].get(name)
            if why:
                lines.append(f"{label[name]:<15} n/a: {why}")
            continue
        n = "" if m["patients"] is None else f", {m['patients']} patients ({m['patients_exact']:.2f})"
        entry = f" (exponential entry, gamma {m['entry_gamma_per_month']:g}/month)" if "entry" in m else ""
        lines.append(f"{label[name]:<15} {m['events']} events ({m['events_exact']:.2f}){n}{entry}")
    label = alpha_label or (sizes.get("alpha") or {}).get("label")
    if label and sizes["methods"]:
        lines.append(f"(closed forms at {label})")
    if sizes.get("inflation_factor", 1.0) != 1.0:
        lines.append(f"(group-sequential: fixed-design figures x inflation factor {sizes['inflation_factor']:.4f})")
    return lines


__all__ = ["METHODS", "EfficacyAlpha", "analytic_sample_sizes", "efficacy_alpha", "format_sizes"]
