"""The numbers on the page: every section's data collected once, into a frozen ``ReportData``.

A section is one function ``f(inputs) -> dict | None`` registered in ``SECTIONS``
(None: the section does not apply) plus one block of the template.  Figures and
the justification paragraph read only these dicts, never the results directly.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.report.inputs import OutputSet, header_lines

Z95 = 1.959963984540054
ARMS = ("control", "experimental")


@dataclass(frozen=True)
class Inputs:
    """The output sets one report is built from: a run under H1, under H0, a sample-size search."""

    power: OutputSet | None = None
    null: OutputSet | None = None
    samplesize: OutputSet | None = None
    assurance: OutputSet | None = None
    sweep: dict[str, Any] | None = None  # sweep.json of `simtrial sweep --out`
    calibration_patients: int = 20_000
    calibration_seed: int = 20250405

    @classmethod
    def from_sets(cls, sets: list[OutputSet], **kwargs) -> Inputs:
        found: dict[str, OutputSet] = {}
        for s in sets:
            if s.kind in found:
                raise InvalidInput(f"{s.source}: two {s.kind} result sets given ({found[s.kind].source} and "
                                   f"{s.source}); allowed: at most one run under H1, one under H0 (--null) "
                                   "one sample-size search and one assurance run")
            found[s.kind] = s
        if not found:
            raise InvalidInput("no results to report")
        if set(found) == {"assurance"}:
            raise InvalidInput(f"{found['assurance'].source}: an assurance set alone has no operating "
                               "characteristics; allowed: give the scenario's `simtrial run --out` directory too")
        names = {s.summary.get("scenario") for s in found.values()}
        if len(names) > 1:
            raise InvalidInput(f"the result sets are of different scenarios ({', '.join(sorted(map(str, names)))}); "
                               "allowed: the runs of one scenario")
        return cls(found.get("power"), found.get("null"), found.get("samplesize"), found.get("assurance"), **kwargs)

    @property
    def primary(self) -> OutputSet:
        """The set whose resolved scenario the report describes (the H1 run, else H0, else the search)."""
        return self.power or self.null or self.samplesize or self.assurance

    @property
    def resolved(self) -> dict[str, Any]:
        return self.primary.resolved

    @property
    def oc(self) -> OutputSet:
        """Operating characteristics under H1: the run, else the search's confirmation run."""
        return self.power or self.samplesize or self.null

    def scenario(self):
        from simtrial.scenario import scenario_from_dict

        return scenario_from_dict(self.resolved, path="scenario.resolved.yaml")


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ReportData:
    """Every section that applies, in page order; ``to_dict()`` is JSON."""

    sections: tuple[Section, ...]
    title: str
    figures_requested: tuple[str, ...] = field(default=())

    def section(self, name: str) -> dict[str, Any] | None:
        for s in self.sections:
            if s.name == name:
                return s.data
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "sections": {s.name: s.data for s in self.sections}}


# --- helpers -----------------------------------------------------------------------


def _f(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _categories_present(resolved: dict[str, Any]) -> list[str]:
    """True categories an enrolled patient can have, in the resolved file's spelling (HER2 order)."""
    from simtrial.her2 import CATEGORIES

    try:
        from simtrial.scenario import scenario_from_dict

        sc = scenario_from_dict(resolved, path="scenario.resolved.yaml")
        return [sc.population.cells.name(c) for c in sc.population.true_categories()]
    except Exception:  # noqa: BLE001 - fall back on the mix as written
        mix = (resolved.get("population") or {}).get("mix") or {}
        return [c for c in CATEGORIES if mix.get(c, 0) > 0]


def _evidence_rows(ids) -> list[dict[str, Any]]:
    from simtrial.evidence import get_row, load_evidence

    frame = load_evidence()
    rows = []
    for i in ids or []:
        try:
            r = get_row(str(i), frame)
        except Exception:  # noqa: BLE001 - an id the table no longer holds: say so on the page
            rows.append({"id": str(i), "missing": True})
            continue

        def val(key, r=r):
            v = r.get(key)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            return v.item() if hasattr(v, "item") else v

        rows.append({
            "id": str(i), "missing": False, "trial": val("trial"), "regimen": val("regimen"), "her2_subgroup": val("her2_subgroup"),
            "endpoint": val("endpoint"), "statistic": val("statistic"), "value": val("value"),
            "ci_low": val("ci_low"), "ci_high": val("ci_high"), "time_months": val("time_months"),
            "numerator": val("numerator"), "denominator": val("denominator"),
            "reference": val("reference"), "quote": val("source_quote"),
        })
    return rows


def _model_text(m: dict[str, Any]) -> tuple[str, dict[str, float]]:
    """(model name, parameters) of a resolved survival model entry."""
    if "cure_fraction" in m:
        inner_name, inner = _model_text(m.get("uncured") or {})
        params = {"cure_fraction": m["cure_fraction"], "hazard_ratio": m.get("hazard_ratio", 1.0)}
        params.update({f"uncured {k}": v for k, v in inner.items()})
        return f"cure mixture ({inner_name.lower()} uncured)", params
    if "weibull" in m:
        w = m["weibull"]
        return "Weibull", {"shape": w["shape"], "scale_months": w["scale_months"]}
    if "hazard_per_month" in m:
        h = m["hazard_per_month"]
        if isinstance(h, list):
            return "piecewise exponential", {"hazard_per_month": h, "start_months": m.get("start_months")}
        return "exponential", {"hazard_per_month": h, "median_months": math.log(2.0) / h}
    if "piecewise" in m:
        return "piecewise exponential", dict(m["piecewise"])
    return "model", {k: v for k, v in m.items() if k not in ("source", "note")}


# --- sections ----------------------------------------------------------------------


def question(inputs: Inputs) -> dict[str, Any]:
    r = inputs.resolved
    s = inputs.oc.summary
    a = dict(r.get("analysis") or {})
    arms = r.get("arms") or {}
    rows: list[tuple[str, str]] = [("design", str(r.get("design"))), ("endpoint", str(r.get("endpoint")))]
    rows.append(("arms", "; ".join(f"{k}: {(v or {}).get('label', k)}" for k, v in arms.items())))
    test = a.get("test")
    sided = "one-sided" if a.get("sided") == 1 else "two-sided"
    rows.append(("test", f"{test}, alpha {a.get('alpha')} {sided}"))
    if s.get("analysis", {}).get("rejection_rule"):
        rows.append(("rejection rule", s["analysis"]["rejection_rule"]))
    if a.get("ni_margin") is not None:
        rows.append(("non-inferiority margin (hazard ratio)", f"{a['ni_margin']}"))
    if a.get("p0") is not None:
        rows.append(("response rates p0 / p1", f"{a.get('p0')} / {a.get('p1')}"))
    if a.get("reference") is not None:
        rows.append(("reference curve (H0)", str((s.get("details") or {}).get("reference") or a["reference"])))
    if a.get("reference_rate_per_patient_year") is not None:
        rows.append(("reference rate (H0, events per patient-year)", f"{a['reference_rate_per_patient_year']:.4g}"))
    if a.get("logrank_variance") is not None:
        rows.append(("one-sample log-rank variance", str(a["logrank_variance"])))
    for j, look in enumerate(a.get("interim_futility") or []):
        rows.append((f"futility look {j + 1}", f"at {look['patient_years']:g} patient-years: stop if more than "
                                               f"{look['max_events']} events"))
    population = a.get("population")
    if isinstance(population, dict):
        population = population.get("name") or ", ".join(population.get("categories", []))
    if population is not None and r.get("design") not in ("single_arm_binary", "simon_two_stage"):
        rows.append(("analysis population", str(population)))
    strata = a.get("strata")
    if strata is not None and test in ("stratified_logrank", "stratified_cox", "cmh"):
        rows.append(("strata", strata if isinstance(strata, str) else "; ".join(
            f"{k}: {', '.join(v)}" for k, v in strata.items())))
    subgroups = [g["name"] if isinstance(g, dict) else str(g) for g in a.get("subgroups") or []]
    if subgroups:
        rows.append(("subgroups", ", ".join(subgroups)))
        rows.append(("multiplicity", str(a.get("multiplicity", "none"))))
    if a.get("interaction"):
        groups = [g["name"] if isinstance(g, dict) else str(g) for g in a["interaction"].get("groups", [])]
        rows.append(("interaction test", " vs ".join(groups)))
    if r.get("allocation"):
        rows.append(("allocation (control : experimental)", " : ".join(str(v) for v in r["allocation"].values())))
    if s.get("n_patients") is not None:
        rows.append(("patients (planned)", str(s["n_patients"])))
    if s.get("target_events") is not None:
        rows.append(("events at the final analysis", str(s["target_events"])))
    if a.get("calendar_months") is not None:
        rows.append(("analysis at the latest (months)", f"{a['calendar_months']:g}"))
    seq = a.get("sequential")
    if seq:
        rows.append(("interim analyses", f"at {', '.join(f'{x:g}' for x in seq.get('information_fractions', []))} "
                                         "of the events"))
    facts = {"design": r.get("design"), "test": test, "alpha": a.get("alpha"), "sided": a.get("sided"),
             "ni_margin": a.get("ni_margin"), "p0": a.get("p0"), "p1": a.get("p1"), "population": population,
             "arms": {k: (v or {}).get("label", k) for k, v in arms.items()}}
    return {"name": r.get("name"), "description": (r.get("description") or "").strip(),
            "header": header_lines(inputs.primary.header), "rows": rows, "facts": facts}


def _model_facts(inputs: Inputs) -> dict[tuple[str, str], dict[str, float | None]]:
    """Per (arm, category or IHC x HR cell): the model's median and, for the experimental arm, its constant HR."""
    from simtrial.designs._survival import constant_hazard_ratio

    if inputs.resolved.get("endpoint") != "time_to_event":
        return {}
    sc = inputs.scenario()
    out = {}
    for cat in sc.population.true_categories():
        for name, arm in (("control", sc.control), ("experimental", sc.experimental)):
            if arm is None or cat not in arm.models:
                continue
            med = float(arm.models[cat].median())
            hr = constant_hazard_ratio(sc, (cat,)) if name == "experimental" and sc.control is not None else None
            out[(name, sc.population.cells.name(cat))] = {"median_months": med if math.isfinite(med) else None,
                                            "hazard_ratio": _f(hr)}
    return out


def _hr_status(inputs: Inputs) -> dict[str, Any] | None:
    """The hormone-receptor factor, when the scenario has it: P(HR+ | IHC), cell prevalences, the HR+ share."""
    hr = (inputs.resolved.get("population") or {}).get("hr_status")
    if not hr:
        return None
    pop = inputs.scenario().population
    screened = pop.screened_prevalence()
    enrolled = pop.true_weights()
    cells = [{"cell": pop.cells.name(c), "screened": float(screened[c]), "enrolled": float(enrolled[c])}
             for c in range(pop.n_cells) if screened[c] > 0 or enrolled[c] > 0]
    return {
        "positive_fraction": dict(hr.get("positive_fraction") or {}),
        "cells": cells,
        "hr_positive_screened": float(screened[0::2].sum()),
        "hr_positive_enrolled": float(enrolled[0::2].sum()),
    }


def assumptions(inputs: Inputs) -> dict[str, Any]:
    r = inputs.resolved
    present = _categories_present(r)
    facts = _model_facts(inputs)
    rows = []
    for arm in ARMS:
        spec = (r.get("arms") or {}).get(arm)
        if not spec:
            continue
        for key in ("survival", "response"):
            models = spec.get(key) or {}
            for cat in present:
                m = models.get(cat)
                if m is None:
                    continue
                if key == "response":
                    name, params = "response probability", {"probability": m.get("probability")}
                else:
                    name, params = _model_text(m)
                sources = m.get("source") or []
                rows.append({
                    "arm": arm, "label": spec.get("label", arm), "category": cat, "model": name,
                    "parameters": {k: v for k, v in params.items() if v is not None},
                    "evidence": _evidence_rows(sources), "note": m.get("note") or "",
                    "assumption": not sources,
                    **facts.get((arm, cat), {"median_months": None, "hazard_ratio": None}),
                })
    pop = r.get("population") or {}
    dropout = []
    for arm in ARMS:
        spec = (r.get("arms") or {}).get(arm) or {}
        d = spec.get("dropout")
        if d and d.get("hazard_per_month") is not None:
            h = float(d["hazard_per_month"])
            dropout.append({"arm": arm, "hazard_per_month": h, "by_12_months": 1.0 - math.exp(-12.0 * h)})
    return {
        "rows": rows,
        "hr_status": _hr_status(inputs),
        "mix": dict(pop.get("mix") or pop.get("fixed_counts") or {}),
        "eligible": list(pop.get("eligible") or []),
        "misclassification": {k: dict(v) for k, v in (pop.get("misclassification") or {}).items()},
        "accrual": dict(r.get("accrual") or {}),
        "dropout": dropout,
        "prior": dict(r.get("prior") or {}),
        "screened": _f((inputs.oc.summary.get("details") or {}).get("expected_screened")),
    }


def _km(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan-Meier at the distinct event times: (times, S, Greenwood variance)."""
    order = np.argsort(time, kind="mergesort")
    t, e = time[order], event[order]
    n = t.size
    uniq, first = np.unique(t, return_index=True)
    at_risk = n - first
    d = np.add.reduceat(e, first) if n else np.array([])
    keep = d > 0
    uniq, at_risk, d = uniq[keep], at_risk[keep], d[keep].astype(float)
    s = np.cumprod(1.0 - d / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.cumsum(d / (at_risk * (at_risk - d)))
        var = s * s * g
    return uniq, s, var


def _km_median(times, s, var) -> tuple[float | None, float | None]:
    below = np.flatnonzero(s <= 0.5)
    if below.size == 0:
        return None, None
    j = below[0]
    return float(times[j]), float(math.sqrt(var[j])) if math.isfinite(var[j]) else None


def _downsample(times: np.ndarray, s: np.ndarray, t_max: float, points: int = 240) -> tuple[list, list]:
    grid = np.linspace(0.0, t_max, points)
    idx = np.searchsorted(times, grid, side="right") - 1
    vals = np.where(idx >= 0, s[np.clip(idx, 0, None)], 1.0) if s.size else np.ones_like(grid)
    return [round(float(x), 4) for x in grid], [round(float(v), 5) for v in vals]


def _reported_points(model, evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reported figures this model passes through (a model derived by a hazard ratio does not)."""
    out = []
    for e in evidence:
        if e.get("missing") or e.get("value") is None:
            continue
        if e["statistic"] == "median_months":
            med = model.median()
            if math.isfinite(med) and abs(med - e["value"]) <= 1e-6 * max(1.0, e["value"]):
                out.append({"id": e["id"], "kind": "median", "x": e["value"], "y": 0.5,
                            "lo": e.get("ci_low"), "hi": e.get("ci_high"), "trial": e.get("trial")})
        elif e["statistic"] == "rate_at_months" and e.get("time_months"):
            s = float(model.survival(float(e["time_months"])))
            if abs(s - e["value"]) <= 1e-6:
                out.append({"id": e["id"], "kind": "landmark", "x": e["time_months"], "y": e["value"],
                            "lo": e.get("ci_low"), "hi": e.get("ci_high"), "trial": e.get("trial")})
    return out


def _density(model, t: float) -> float:
    h = 1e-4 * max(t, 1.0)
    return float((model.survival(t - h) - model.survival(t + h)) / (2.0 * h))


def calibration(inputs: Inputs) -> dict[str, Any] | None:
    """Per arm x category: the model's S(t), the KM of a large simulated cohort, the reported figures."""
    r = inputs.resolved
    if r.get("endpoint") == "binary":
        return _calibration_binary(inputs)
    from dataclasses import replace

    from simtrial.simulate import patient_data
    from simtrial.spec import Population

    sc = inputs.scenario()
    cells = sc.population.cells
    cats = sc.population.true_categories()
    n = int(inputs.calibration_patients)
    panels = []
    models_all = []
    arms = [(name, arm) for name, arm in (("control", sc.control), ("experimental", sc.experimental))
            if arm is not None]  # a single-arm design has no control
    for cat in cats:
        for _, arm in arms:
            models_all.append(arm.models[cat])
    # time axis: to where the slowest curve falls to 10% (or twice its landmark for cure mixtures), at most 120 months
    horizon = []
    for m in models_all:
        q = m.quantile_time(0.1) if float(m.survival(1e6)) < 0.1 else math.inf
        horizon.append(q if math.isfinite(q) else 2.0 * max([36.0, *(sc.analysis.landmark_months or ())]))
    t_max = float(min(120.0, max(horizon)))
    t_max = float(math.ceil(t_max / 6.0) * 6.0)
    rows_by = {(row["arm"], row["category"]): row for row in assumptions(inputs)["rows"]}
    for j, cat in enumerate(cats):
        # a cohort of this category only (no enrolment filter, no misclassification): n patients, both arms
        if cells.hr_status:  # a cohort of this IHC x HR cell: its category, all of one HR status
            cohort_pop = Population(mix={cells.category(cat): 1.0},
                                    hr_positive_fraction={cells.category(cat): 1.0 - cells.hr(cat)})
        else:
            cohort_pop = Population(mix={cat: 1.0})
        cohort_trial = replace(sc, population=cohort_pop, n_patients=n)
        spec = _cohort_spec(cohort_trial, n)
        pdata = patient_data(spec, seed=int(inputs.calibration_seed) + j)
        curves = []
        for arm_name, arm in arms:
            model = arm.models[cat]
            mask = pdata["arm"].to_numpy() == (0 if arm_name == "control" else 1)
            t = pdata["time_to_event_or_dropout_months"].to_numpy()[mask]
            e = pdata["event"].to_numpy()[mask].astype(float)
            times, s, var = _km(t, e)
            km_median, km_se_s = _km_median(times, s, var)
            model_median = float(model.median())
            dens = _density(model, model_median) if math.isfinite(model_median) else None
            grid = np.linspace(0.0, t_max, 240)
            row = rows_by.get((arm_name, cells.name(cat)), {})
            km_t, km_s = _downsample(times, s, t_max)
            curves.append({
                "arm": arm_name, "label": arm.label, "n": int(mask.sum()), "events": int(e.sum()),
                "model_t": [round(float(x), 4) for x in grid],
                "model_s": [round(float(v), 5) for v in np.asarray(model.survival(grid), dtype=float)],
                "km_t": km_t, "km_s": km_s,
                "model_median": model_median if math.isfinite(model_median) else None,
                "km_median": km_median,
                "km_median_se": (km_se_s / dens) if (km_se_s is not None and dens) else None,
                "reported": _reported_points(model, row.get("evidence", [])),
            })
        panels.append({"category": cells.name(cat), "curves": curves})
    return {"kind": "survival", "panels": panels, "n_patients_per_category": n, "seed": int(inputs.calibration_seed),
            "t_max": t_max}


def _cohort_spec(trial, n: int):
    from simtrial.spec.engine import Cut, TrialSpec

    return TrialSpec(  # a single-arm trial's cohort: its arm on both sides (only the experimental half is read)
        population=trial.population, control=trial.control or trial.experimental, experimental=trial.experimental,
        n_patients=n,
        accrual=trial.accrual, cuts=(Cut(target_events=n),), allocation=(1, 1),
    )


def _calibration_binary(inputs: Inputs) -> dict[str, Any]:
    """Response probability per arm x category, the reported proportion with its CI, a simulated cohort's rate."""
    rows = []
    rng_seed = int(inputs.calibration_seed)
    n = int(inputs.calibration_patients)
    for j, row in enumerate(assumptions(inputs)["rows"]):
        p = row["parameters"].get("probability")
        if p is None:
            continue
        rng = np.random.default_rng([rng_seed, j])
        sim = float(np.mean(rng.random(n) < p))
        reported = []
        for e in row["evidence"]:
            if e.get("statistic") != "proportion" or e.get("value") is None:
                continue
            lo, hi = e.get("ci_low"), e.get("ci_high")
            if (lo is None or hi is None) and e.get("numerator") is not None and e.get("denominator"):
                from simtrial.power import wilson_interval

                lo, hi = wilson_interval(float(e["numerator"]), int(e["denominator"]))
            reported.append({"id": e["id"], "value": e["value"], "lo": lo, "hi": hi, "trial": e.get("trial")})
        rows.append({"arm": row["arm"], "category": row["category"], "probability": p, "simulated": sim,
                     "simulated_mc_se": math.sqrt(p * (1 - p) / n), "reported": reported})
    return {"kind": "binary", "rows": rows, "n_patients": n, "seed": rng_seed}


def _hist(values, bins: int = 30) -> dict[str, Any] | None:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return {"edges": [float(x) for x in edges], "counts": [int(c) for c in counts], "n": int(v.size),
            "median": float(np.median(v)), "p2_5": float(np.percentile(v, 2.5)), "p97_5": float(np.percentile(v, 97.5))}


def _oc_block(s: OutputSet) -> dict[str, Any]:
    d = s.summary
    trials = s.trials()
    out = {
        "label": d.get("power_label") or ("type I error" if d.get("null") else "power"),
        "null": bool(d.get("null")), "n_sims": d["n_sims"], "seed": d["seed"],
        "power": d["power"], "mc_se": d["power_mc_se"], "ci": list(d["power_ci"]),
        "analytic": dict(d.get("analytic_powers") or {}),
        "analytic_note": (d.get("details") or {}).get("analytic_power_note"),
        "mean_events": _f(d.get("mean_events")), "mean_duration_months": _f(d.get("mean_duration_months")),
        "mean_enrolled": _f(d.get("mean_enrolled")), "n_patients": d.get("n_patients"),
        "target_events": d.get("target_events"),
        "hr_median": _f(d.get("hr_median")), "hr_p2_5": _f(d.get("hr_p2_5")), "hr_p97_5": _f(d.get("hr_p97_5")),
        "median_control_months": _f(d.get("median_control_months")),
        "median_experimental_months": _f(d.get("median_experimental_months")),
        "per_arm": d.get("per_arm") or {},
        "expected_screened": _f((d.get("details") or {}).get("expected_screened")),
        "decisions": {k: dict(v) for k, v in (d.get("decisions") or {}).items()},
        "landmarks": d.get("landmarks") or [],
        "flags": {k: v for k, v in (d.get("flags") or {}).items() if v},
    }
    if trials is not None:
        if "duration_months" in trials and trials["duration_months"].notna().any():
            out["duration_hist"] = _hist(trials["duration_months"])
        if "hazard_ratio" in trials and trials["hazard_ratio"].notna().any():
            out["hr_hist"] = _hist(np.log(trials["hazard_ratio"].to_numpy(dtype=float)))
    return out


def operating(inputs: Inputs) -> dict[str, Any]:
    blocks = []
    if inputs.power is not None:
        blocks.append(_oc_block(inputs.power))
    elif inputs.samplesize is not None:
        b = _oc_block(inputs.samplesize)
        b["from_search"] = True
        blocks.append(b)
    if inputs.null is not None:
        blocks.append(_oc_block(inputs.null))
    r = inputs.resolved
    return {"blocks": blocks, "ni_margin": (r.get("analysis") or {}).get("ni_margin"),
            "endpoint": r.get("endpoint"), "design": r.get("design")}


def _expected_month(trial, events_needed: float) -> float | None:
    """Calendar month at which the expected number of events reaches ``events_needed`` (design figure)."""
    from simtrial.designs._survival import model_survival

    pop = trial.population
    w = pop.true_weights(pop.eligible) if pop.eligible is not None else pop.true_weights()
    n = trial.n_patients
    if not n or trial.accrual is None:
        return None
    entry_law = trial.accrual.entry_distribution(n)
    entry = entry_law.quantile((np.arange(400) + 0.5) / 400)
    c, e = trial.allocation
    u = np.linspace(0.0, 400.0, 4001)

    def event_prob(arm) -> np.ndarray:
        # P(event by follow-up u) with the dropout hazard competing
        s = model_survival(arm, w, u)
        surv_drop = np.exp(-arm.dropout_hazard_per_month * u)
        dens = -np.diff(s)
        return np.concatenate([[0.0], np.cumsum(dens * 0.5 * (surv_drop[1:] + surv_drop[:-1]))])

    pc, pe = event_prob(trial.control), event_prob(trial.experimental)

    def expected(t: float) -> float:
        follow = np.clip(t - entry, 0.0, None)
        return n * float(np.mean(c / (c + e) * np.interp(follow, u, pc) + e / (c + e) * np.interp(follow, u, pe)))

    lo, hi = 0.0, entry_law.duration_months + 400.0
    if expected(hi) < events_needed:
        return None
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if expected(mid) < events_needed else (lo, mid)
    return hi


def sequential(inputs: Inputs) -> dict[str, Any] | None:
    h1 = inputs.oc.summary
    looks = h1.get("looks")
    if not looks:
        return None
    gs = (h1.get("details") or {}).get("group_sequential_design") or {}
    h0_looks = (inputs.null.summary.get("looks") if inputs.null is not None else None) or [None] * len(looks)
    planned = h1.get("target_events")
    trial = inputs.scenario()
    margin = (inputs.resolved.get("analysis") or {}).get("ni_margin") or 1.0
    cum_alpha = list(gs.get("cumulative_alpha_spent") or [])
    eff_index = 0
    rows = []
    cum_h0 = {"eff": 0.0, "fut": 0.0, "harm": 0.0}
    cum_h1 = {"eff": 0.0, "fut": 0.0, "harm": 0.0}
    has_harm = any("z_harm" in lk for lk in looks)  # two-sided designs: the lower (harm) bound
    # a one-sided design lists every look (a futility-only look spends nothing); a two-sided one
    # lists its efficacy looks only
    per_look = len(cum_alpha) == len(looks)
    for i, (lk, l0) in enumerate(zip(looks, h0_looks, strict=False)):
        events = int(round(planned * lk["information_fraction"])) if planned else lk.get("mean_events")
        alpha_here = None
        if lk.get("efficacy") and per_look:
            alpha_here = cum_alpha[i]
        elif lk.get("efficacy") and eff_index < len(cum_alpha):
            alpha_here = cum_alpha[eff_index]
            eff_index += 1
        cum_h1["eff"] += lk["p_stop_efficacy"]
        cum_h1["fut"] += lk["p_stop_futility"]
        cum_h1["harm"] += lk.get("p_stop_harm") or 0.0
        if l0 is not None:
            cum_h0["eff"] += l0["p_stop_efficacy"]
            cum_h0["fut"] += l0["p_stop_futility"]
            cum_h0["harm"] += l0.get("p_stop_harm") or 0.0
        month = _expected_month(trial, events) if events else None
        info = events * trial.allocation[0] * trial.allocation[1] / sum(trial.allocation) ** 2 if events else None
        z_fut = lk.get("z_futility")
        hr_fut = lk.get("hr_futility")
        if hr_fut is None and z_fut is not None and info:
            hr_fut = margin * math.exp(-z_fut / math.sqrt(info))
        rows.append({
            "look": lk["look"], "information_fraction": lk["information_fraction"], "events": events,
            "mean_events": lk.get("mean_events"), "expected_month": month,
            "z_efficacy": lk.get("z_efficacy"), "nominal_p": lk.get("nominal_p"), "hr_efficacy": lk.get("hr_efficacy"),
            "z_futility": z_fut, "hr_futility": hr_fut,
            "cumulative_alpha": alpha_here,
            "h1_stop_efficacy": lk["p_stop_efficacy"], "h1_stop_futility": lk["p_stop_futility"],
            "h1_cum_efficacy": cum_h1["eff"], "h1_cum_futility": cum_h1["fut"],
            "h0_stop_efficacy": None if l0 is None else l0["p_stop_efficacy"],
            "h0_stop_futility": None if l0 is None else l0["p_stop_futility"],
            "h0_cum_efficacy": None if l0 is None else cum_h0["eff"],
            "h0_cum_futility": None if l0 is None else cum_h0["fut"],
            "z_harm": lk.get("z_harm"), "nominal_p_harm": lk.get("nominal_p_harm"), "hr_harm": lk.get("hr_harm"),
            "h1_stop_harm": lk.get("p_stop_harm"), "h1_cum_harm": cum_h1["harm"] if has_harm else None,
            "h0_stop_harm": None if l0 is None else l0.get("p_stop_harm"),
            "h0_cum_harm": None if l0 is None or not has_harm else cum_h0["harm"],
        })
    # simulated Z at the look each trial ended at (the per-trial output keeps the Z of the deciding look)
    z_at_stop = []
    for s in (inputs.oc, inputs.null):
        if s is None:
            continue
        trials = s.trials()
        if trials is None or "z_efficacy_scale" not in trials:
            continue
        ks = np.array([r["events"] for r in rows], dtype=float)
        ev = trials["events"].to_numpy(dtype=float)
        stop = np.minimum(np.searchsorted(ks, ev - 0.5), len(ks) - 1)
        z = trials["z_efficacy_scale"].to_numpy(dtype=float)
        paths = [f"z_efficacy_look{j + 1}" for j in range(len(rows))]
        if all(p in trials for p in paths):
            # the Z paths: every trial's Z at every look (continuing past a stop)
            per = []
            for p in paths:
                zz = trials[p].to_numpy(dtype=float)
                zz = zz[np.isfinite(zz)]
                per.append(None if zz.size == 0 else {
                    "n": int(zz.size), **{f"q{q}": float(np.percentile(zz, q)) for q in (5, 25, 50, 75, 95)}})
            z_at_stop.append({"null": bool(s.summary.get("null")), "per_look": per, "paths": True})
            continue
        per = []
        for j in range(len(rows)):
            zz = z[(stop == j) & np.isfinite(z)]
            per.append(None if zz.size == 0 else {
                "n": int(zz.size), **{f"q{q}": float(np.percentile(zz, q)) for q in (5, 25, 50, 75, 95)}})
        z_at_stop.append({"null": bool(s.summary.get("null")), "per_look": per, "paths": False})
    return {"rows": rows, "spending": gs.get("spending"), "alpha": gs.get("alpha"), "beta": gs.get("beta"),
            "binding_futility": gs.get("binding_futility"), "inflation_factor": gs.get("inflation_factor"),
            "design_power": gs.get("power"), "ni_margin": margin, "z_at_stop": z_at_stop,
            "has_h0": inputs.null is not None, "has_harm": has_harm}


def _probit_fit(xs, ps, n_sims) -> tuple[float, float] | None:
    from scipy.stats import norm

    xs = np.asarray(xs, dtype=float)
    ps = np.clip(np.asarray(ps, dtype=float), 0.5 / n_sims, 1 - 0.5 / n_sims)
    if xs.size < 2 or np.ptp(xs) == 0:
        return None
    z = norm.ppf(ps)
    w = norm.pdf(z) ** 2 / (ps * (1 - ps))
    b, a = np.polyfit(np.sqrt(xs), z, 1, w=np.sqrt(w))
    return (float(a), float(b)) if b > 0 else None


def sample_size(inputs: Inputs) -> dict[str, Any] | None:
    if inputs.samplesize is None:
        return None
    from scipy.stats import norm

    d = inputs.samplesize.summary
    key = d["solve_for"]
    curve = [dict(p) for p in d.get("power_curve") or []]
    answer = d["events_required"] if key == "events" else d["n_required"]
    fit_line = None
    stages = sorted({p["stage"] for p in curve if p.get("stage") != "coarse"}) or ["coarse"]
    last = [p for p in curve if p["stage"] == stages[-1]]
    if len(last) >= 2 and all(p.get("mc_se") for p in last):
        fit = _probit_fit([p[key] for p in last], [p["power"] for p in last], last[0].get("n_sims") or 1000)
        if fit is not None:
            xs = np.linspace(min(p[key] for p in curve), max(p[key] for p in curve), 200)
            fit_line = {"stage": stages[-1], "x": [float(x) for x in xs],
                        "power": [float(norm.cdf(fit[0] + fit[1] * math.sqrt(x))) for x in xs]}
    analytic_events = _f(d.get("analytic_events"))
    r = inputs.resolved
    ss = r.get("sample_size") or {}
    analytic_answer = analytic_events
    ratio = None
    if key == "n_patients" and analytic_events is not None:
        ratio = ss.get("events_per_patient")
        if ratio is None and d.get("target_events") and d.get("n_patients"):
            ratio = d["target_events"] / d["n_patients"]
        analytic_answer = analytic_events / ratio if ratio else None
    search = d.get("search") or {}
    return {
        "solve_for": key, "target_power": d["target_power"], "answer": answer,
        "target_quantity": d.get("target_quantity", "power"),
        "n_required": d.get("n_required"), "events_required": d.get("events_required"),
        "uncertainty": _f(d.get("uncertainty")), "uncertainty_relative": _f(d.get("uncertainty_relative")),
        "achieved_power": d["achieved_power"], "achieved_power_mc_se": d["achieved_power_mc_se"],
        "confirmed": bool(d.get("confirmed")), "confirmations": d.get("confirmations") or [],
        "analytic_events": analytic_events, "analytic_answer": _f(analytic_answer), "events_per_patient": ratio,
        "curve": curve, "fit": fit_line, "method": search.get("method") or search.get("note"),
        "n_sims_coarse": search.get("n_sims_coarse"), "n_sims_refine": search.get("n_sims_refine"),
        "seed": search.get("seed"), "simulated_trials_total": search.get("simulated_trials_total"),
        "precision": _f(d.get("precision_requested")), "confirmation_n_sims": d.get("n_sims"),
        "confirmation_seed": d.get("seed"),
    }


def justification(inputs: Inputs, done: dict[str, dict]) -> dict[str, Any]:
    from simtrial.report.text import justification_paragraph

    return {"text": justification_paragraph(done)}


def reproducibility(inputs: Inputs) -> dict[str, Any]:
    s = inputs.primary
    text = s.resolved_text
    commands = []
    if inputs.power is not None:
        d = inputs.power.summary
        commands.append(f"simtrial run scenario.resolved.yaml --sims {d['n_sims']} --seed {d['seed']}")
    if inputs.null is not None:
        d = inputs.null.summary
        commands.append(f"simtrial run scenario.resolved.yaml --null --sims {d['n_sims']} --seed {d['seed']}")
    if inputs.samplesize is not None:
        search = inputs.samplesize.summary.get("search") or {}
        prec = inputs.samplesize.summary.get("precision_requested")
        extra = f" --precision {prec:g}" if prec is not None and abs(prec - 0.02) > 1e-12 else ""
        if inputs.power is not None or inputs.null is not None:
            sims = search.get("n_sims_coarse") or inputs.samplesize.summary["n_sims"]
            seed = search.get("seed", inputs.samplesize.summary["seed"])
            commands.append(f"simtrial samplesize scenario.resolved.yaml --sims {sims} --seed {seed}{extra}")
        else:
            commands.append("simtrial run scenario.resolved.yaml   # the search's answer and confirmation run")
    d = inputs.oc.summary
    report_cmd = None
    if inputs.power is not None or inputs.null is not None:
        ref = (inputs.power or inputs.null).summary
        extra = ""
        if inputs.samplesize is not None:
            prec = inputs.samplesize.summary.get("precision_requested")
            extra = f" --precision {prec:g}" if prec is not None and abs(prec - 0.02) > 1e-12 else ""
        report_cmd = (f"simtrial report scenario.resolved.yaml --sims {ref['n_sims']} --seed {ref['seed']}{extra}"
                      " --out report.html")
    import jinja2
    import matplotlib

    return {
        "report_command": report_cmd, "commands": commands,
        "seed": d.get("seed"), "n_sims": d.get("n_sims"),
        "versions": dict(d.get("versions") or {}),
        "rendered_with": {"matplotlib": matplotlib.__version__, "jinja2": jinja2.__version__},
        "resolved_text": text, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "calibration": {"patients_per_category": inputs.calibration_patients, "seed": inputs.calibration_seed},
    }


def assurance(inputs: Inputs) -> dict[str, Any] | None:
    """Assurance over the prior, beside power at the prior's centre, and what success says about the truth."""
    if inputs.assurance is None:
        return None
    d = inputs.assurance.summary
    trials = inputs.assurance.trials()
    drawn: list[dict[str, Any]] = []
    given = d.get("true_hr_given_success") or {}
    if trials is not None and "success" in trials:
        ok = trials["success"].astype(bool).to_numpy()
        for name in given:
            if name not in trials:
                continue
            v = trials[name].to_numpy(dtype=float)
            log = name.startswith("hazard_ratio")
            values = np.log(v) if log else v
            lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
            if hi <= lo:
                hi = lo + 1e-6
            edges = np.linspace(lo, hi, 31)
            drawn.append({"name": name, "log_scale": log,
                          "edges": [float(x) for x in edges],
                          "success": [int(c) for c in np.histogram(values[ok], bins=edges)[0]],
                          "failure": [int(c) for c in np.histogram(values[~ok], bins=edges)[0]]})
    pm = d.get("power_at_prior_mean") or {}
    return {
        "n_sims": d["n_sims"], "seed": d["seed"], "assurance": d["assurance"], "mc_se": d["assurance_mc_se"],
        "ci": list(d["assurance_ci"]), "analytic": _f(d.get("analytic_assurance")), "analytic_note": d.get("analytic_note"),
        "plateau": _f(d.get("assurance_plateau")), "power_at_prior_mean": pm,
        "meaningful": d.get("meaningful_success"), "by_look": d.get("p_success_by_look") or [],
        "given": given, "prior": d.get("prior") or {}, "drawn": drawn,
        "mean_events": _f(d.get("mean_events")), "mean_duration_months": _f(d.get("mean_duration_months")),
    }


def sweep(inputs: Inputs) -> dict[str, Any] | None:
    """A sensitivity sweep: its rows, and what one (line) or two (heat map) varied fields need to be drawn."""
    sw = inputs.sweep
    if sw is None:
        return None
    name = inputs.resolved.get("name")
    if sw.get("scenario") != name:
        raise InvalidInput(f"--sweep: the sweep is of scenario {sw.get('scenario')!r}, the report of {name!r}; "
                           "allowed: a sweep of the same scenario")
    varied = list(sw["varied"])
    label = "type_I_error" if sw.get("null") else "power"
    rows = [dict(r) for r in sw["rows"]]
    columns = [*varied, label, f"{label}_mc_se"] + (["assurance", "assurance_mc_se"] if any("assurance" in r for r in rows)
                                                   else []) + ["mean_events", "mean_duration_months", "n_patients"]
    out = {"varied": varied, "label": label, "null": bool(sw.get("null")), "seed": sw.get("seed"),
           "rows": rows, "columns": columns, "worst_case": sw.get("worst_case"), "zip": bool(sw.get("zip")),
           "plot": None}
    numeric = all(isinstance(r.get(v), int | float) and not isinstance(r.get(v), bool) for r in rows for v in varied)
    if numeric and len(varied) == 1:
        out["plot"] = "line"
    elif numeric and len(varied) == 2 and not sw.get("zip"):
        out["plot"] = "heatmap"
    return out


#: (name, title, builder) in page order; a builder returns None where its section does not apply.
#: The justification builder also sees the sections built before it.
SECTIONS: list[tuple[str, str, Callable[..., dict[str, Any] | None]]] = [
    ("question", "Question and design", question),
    ("assumptions", "Assumptions and their sources", assumptions),
    ("calibration", "Calibration: models against the reported figures", calibration),
    ("operating", "Operating characteristics", operating),
    ("assurance", "Assurance: the probability of success over the prior", assurance),
    ("sweep", "Sensitivity sweep", sweep),
    ("sequential", "Group-sequential boundaries", sequential),
    ("sample_size", "Sample size", sample_size),
    ("justification", "Sample-size justification", justification),
    ("reproducibility", "Reproducibility", reproducibility),
]


#: what the justification paragraph reads
TEXT_SECTIONS = ("question", "assumptions", "operating", "sequential", "sample_size", "justification")


def collect(inputs: Inputs, only: tuple[str, ...] | None = None) -> ReportData:
    """Every section's data (``only``: just these, e.g. ``TEXT_SECTIONS`` for the terminal paragraph)."""
    done: dict[str, dict] = {}
    sections = []
    for name, title, builder in SECTIONS:
        if only is not None and name not in only:
            continue
        data = builder(inputs, done) if name == "justification" else builder(inputs)
        if data is not None:
            done[name] = data
            sections.append(Section(name, title, data))
    return ReportData(tuple(sections), title=str(inputs.resolved.get("name") or "simtrial report"))
