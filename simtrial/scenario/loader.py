"""Scenario file (YAML) or dict -> validated, resolved ``Scenario``.

Validation is hand-written so every message can name the field path, the value
and what is allowed (see ``errors.ScenarioError``).  The schema is documented
field by field in ``scenarios/README.md``; the field tables below are the
source of the unknown-field suggestions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from simtrial.calibrate import effect_map
from simtrial.designs import registry
from simtrial.errors import (
    MAX_ALLOCATION,
    MAX_BLOCK_MULTIPLE,
    MAX_PATIENTS,
    MAX_SEED,
    MAX_SIMS,
    InvalidInput,
)
from simtrial.evidence import get_row, row_hr_status
from simtrial.her2 import CATEGORIES, HR_STATUSES, IHC_BY_HR, IHC_ONLY, N_CATEGORIES, Cells
from simtrial.scenario import _her2keys as keys
from simtrial.scenario._analysis import analysis, analysis_dict
from simtrial.scenario._models import (
    Resolved,
    describe,
    resolved_spec,
    response_spec,
    survival_spec,
)
from simtrial.scenario._prior import prior_dict, read_prior
from simtrial.scenario._randomisation import ALLOWED as RANDOMISATION_ALLOWED
from simtrial.scenario._randomisation import randomisation as read_randomisation
from simtrial.scenario._randomisation import randomisation_dict
from simtrial.scenario._yaml import read_yaml_file
from simtrial.scenario.errors import Node, ScenarioError, one_of
from simtrial.spec import (
    DESIGNS,
    ENDPOINTS,
    Accrual,
    Arm,
    Population,
    SampleSizeSearch,
    Scenario,
    Simulation,
    dropout_hazard,
)
from simtrial.spec.sweep import SweepAxis, SweepPlan

TOP_FIELDS: dict[str, str] = {
    "name": "short name of the scenario",
    "description": "what question the scenario answers",
    "design": one_of(DESIGNS),
    "endpoint": "time_to_event | binary (default: from the design)",
    "population": "who is screened and enrolled",
    "arms": "control and experimental arms",
    "allocation": "{control: a, experimental: b}: randomisation ratio (positive whole numbers)",
    "block_multiple": "randomisation blocks hold block_multiple x (a + b) patients",
    "randomisation": RANDOMISATION_ALLOWED + " (default permuted_blocks by_category)",
    "n_patients": "number of patients enrolled",
    "accrual": "{duration_months} or {rates_per_month, start_months}; shaped by exponential_gamma_per_month or "
               "ramp_up_months",
    "analysis": "how the trial is analysed and decided",
    "simulation": "{n_sims, seed}",
    "sample_size": "optional search for the size giving a target power",
    "prior": "optional uncertainty of the unknowns, for assurance (see scenarios/README.md, prior)",
    "sweep": "optional sensitivity sweep: {vary: {field path: values or start:stop:step}, zip: false}",
}
POPULATION_FIELDS = ("mix", "fixed_counts", "eligible", "misclassification", "hr_status")
HR_STATUS_FIELDS = {"positive_fraction": "P(HR+ | IHC category): one fraction for all, or {all | group | category: "
                    "fraction in [0, 1]} (category beats group beats all)"}
ARM_FIELDS = ("label", "survival", "effect_map", "dropout", "response")
ARMS = ("control", "experimental")
SIMULATION_FIELDS = ("n_sims", "seed")
SAMPLE_SIZE_FIELDS = ("target_power", "solve_for", "minimum", "maximum", "events_per_patient")
_SPEC_KEY_HINT = "a category, a group or all"


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and resolve a scenario file; every user mistake raises ScenarioError."""
    data, name = read_yaml_file(path)
    return _build(Node(data, file=name), name)


def scenario_from_dict(data: Mapping[str, Any], path: str = "<dict>") -> Scenario:
    """Validate and resolve a scenario given as a plain dict (e.g. ``Scenario.resolved``)."""
    return _build(Node(data, file=path), path)


# --- population ------------------------------------------------------------------


def _category_mapping(node: Node, read_value: Any) -> dict[int, Any]:
    out: dict[int, Any] = {}
    written: dict[int, Any] = {}
    for key, child in node.items():
        code = keys.category(child, key)
        if code in out:
            raise child.error(f"{CATEGORIES[code]} is given twice (also as {written[code]!r})",
                              allowed="each category once", value=key)
        out[code], written[code] = read_value(child), key
    return out


def _hr_positive_fraction(node: Node, mix: dict[int, float] | None) -> dict[int, float]:
    """``hr_status: {positive_fraction: f | {all | group | category: f}}`` -> P(HR+ | IHC) per mix category."""
    node.mapping(HR_STATUS_FIELDS, "a mapping {positive_fraction}")
    frac = node.require("positive_fraction", HR_STATUS_FIELDS["positive_fraction"])
    if mix is None:
        raise node.error("hr_status splits a prevalence mix by HR status", allowed="population: {mix: ..., hr_status: ...}")
    if not isinstance(frac.value, dict):
        value = frac.number(low=0.0, high=1.0)
        return {c: value for c in sorted(mix)}
    chosen: dict[int, tuple[int, float, Any]] = {}
    for key, child in frac.items():
        if key == "all":
            codes, rank = tuple(range(N_CATEGORIES)), 0
        else:
            codes_, single = keys.category_or_group(child, key)
            codes, rank = codes_, 2 if single else 1
        value = child.number(low=0.0, high=1.0)
        for code in codes:
            if code in chosen and chosen[code][0] == rank:
                raise child.error(f"{CATEGORIES[code]} is covered twice (also by {chosen[code][2]!r})",
                                  allowed="one key per category at each level (category, group, all)", value=key)
            if code not in chosen or chosen[code][0] < rank:
                chosen[code] = (rank, value, key)
    missing = [CATEGORIES[c] for c in sorted(mix) if mix[c] > 0 and c not in chosen]
    if missing:
        raise frac.error(f"no HR+ fraction for {', '.join(missing)}, which the mix contains",
                         allowed="a key covering every category of the mix (a category, a group or all)")
    return {c: chosen[c][1] for c in sorted(mix) if c in chosen}


def _population(node: Node) -> Population:
    node.mapping(POPULATION_FIELDS)
    mix = counts = eligible = matrix = hr_fraction = None
    if (child := node.get("mix")) is not None:
        mix = _category_mapping(child, lambda n: n.number(low=0.0, high=1.0))
        total = sum(mix.values())
        if abs(total - 1.0) > 1e-6:
            raise child.error(f"prevalences sum to {total:.6g}, not 1", allowed="prevalences summing to 1 (within 1e-6)")
    if (child := node.get("fixed_counts")) is not None:
        counts = _category_mapping(child, lambda n: n.integer(low=0, high=MAX_PATIENTS))
        if sum(counts.values()) == 0:
            raise child.error("no patient at all", allowed="at least one count > 0")
        if sum(counts.values()) > MAX_PATIENTS:
            raise child.error(f"{sum(counts.values()):,} patients in all", allowed=f"at most {MAX_PATIENTS:,}")
    if mix is None and counts is None:
        raise node.child("mix").error("give the prevalence mix (or fixed_counts)",
                                      allowed="mix: {category: prevalence, ...} summing to 1")
    if (child := node.get("hr_status")) is not None:
        if counts is not None:
            raise child.error("hr_status splits a prevalence mix by HR status; fixed_counts per IHC category "
                              "leave the HR-status split of the enrolled numbers undefined",
                              allowed="population: {mix: ..., hr_status: ...} (without fixed_counts)")
        hr_fraction = _hr_positive_fraction(child, mix)
    cells = IHC_BY_HR if hr_fraction is not None else IHC_ONLY
    if (child := node.get("eligible")) is not None:
        codes: set[int] = set()
        for item in child.elements(allow_scalar=True):
            codes.update(keys.cells_of(item, cells)[0] if cells.hr_status else keys.category_or_group(item)[0])
        if not codes:
            raise child.error("must not be empty",
                              allowed=keys.ALLOWED_CELL_KEYS if cells.hr_status else keys.ALLOWED_CATEGORY_OR_GROUP)
        eligible = tuple(sorted(codes))
    if (child := node.get("misclassification")) is not None:
        m = np.eye(N_CATEGORIES)
        for key, row_node in child.items():
            true = keys.category(row_node, key)
            row = _category_mapping(row_node, lambda n: n.number(low=0.0, high=1.0))
            total = sum(row.values())
            if abs(total - 1.0) > 1e-6:
                raise row_node.error(f"the row sums to {total:.6g}, not 1",
                                     allowed="P(assessed | true) over assessed categories, summing to 1")
            m[true] = 0.0
            for assessed, p in row.items():
                m[true, assessed] = p
        matrix = tuple(tuple(float(v) for v in r) for r in m)
    try:
        return Population(mix=mix, fixed_counts=counts, eligible=eligible, misclassification=matrix,
                          hr_positive_fraction=hr_fraction)
    except ValueError as err:
        raise node.error(str(err), allowed="see scenarios/README.md, population") from None


def _population_dict(pop: Population) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if pop.mix is not None:
        out["mix"] = {CATEGORIES[c]: v for c, v in sorted(pop.mix.items())}
    if pop.fixed_counts is not None:
        out["fixed_counts"] = {CATEGORIES[c]: v for c, v in sorted(pop.fixed_counts.items())}
    if pop.hr_positive_fraction is not None:
        out["hr_status"] = {"positive_fraction": {CATEGORIES[c]: v for c, v in pop.hr_positive_fraction.items()}}
    if pop.eligible is not None:
        out["eligible"] = keys.names(pop.eligible, pop.cells)
    if pop.misclassification is not None:
        rows = {}
        for t, row in enumerate(pop.misclassification):
            if any(v != (1.0 if a == t else 0.0) for a, v in enumerate(row)):
                rows[CATEGORIES[t]] = {CATEGORIES[a]: v for a, v in enumerate(row) if v != 0.0}
        out["misclassification"] = rows
    return out


# --- arms ------------------------------------------------------------------------


def _by_category(
    node: Node, resolve: Any, base: dict[int, Resolved] | None = None, cells: Cells = IHC_ONLY
) -> dict[int, Resolved]:
    """Resolve a {key: spec} mapping over the engine's indices; the most specific key wins.

    Without hr_status: category beats group beats all.  With it the keys may
    also name an HR status, ranked by ``_her2keys.RANK_*``: category/HR >
    category > group/HR > group > HR+ / HR- > all.  ``resolve(spec_node, code)``
    builds one index's value; ``base`` holds lower-priority values (an effect
    map) that any key overrides.
    """
    chosen: dict[int, tuple[int, Node, Any]] = {}
    for key, child in node.items():
        if key == "all":
            codes, rank = tuple(range(cells.n)), keys.RANK_ALL
        else:
            codes, rank = keys.cells_of(child, cells, key)
        for code in codes:
            if code in chosen and chosen[code][0] == rank:
                level = "category, group, all" if not cells.hr_status else "cell, category, group/HR, group, HR, all"
                raise child.error(f"{cells.name(code)} is covered twice (also by {chosen[code][2]!r})",
                                  allowed=f"one key per category at each level ({level})", value=key)
            if code not in chosen or chosen[code][0] < rank:
                chosen[code] = (rank, child, key)
    out = dict(base or {})
    for code in sorted(chosen):
        result = resolve(chosen[code][1], code)
        if result is not None:
            if cells.hr_status:
                _check_evidence_hr_status(chosen[code][1], result, cells, code)
            out[code] = result
    return dict(sorted(out.items()))


def _check_evidence_hr_status(node: Node, result: Resolved, cells: Cells, code: int) -> None:
    """A model resting on a figure restricted to one HR status (Atallah's ER-/ER+ rows) may not reach the other."""
    for evidence_id in result.sources:
        status = row_hr_status(get_row(evidence_id))
        if status is not None and status != cells.hr(code):
            row = get_row(evidence_id)
            raise node.error(f"evidence {evidence_id} is a figure in {row['hr_status']} patients only, but this key "
                             f"also covers {cells.name(code)}",
                             allowed=f"a key restricted to {HR_STATUSES[status]} (e.g. "
                                     f"{CATEGORIES[cells.category(code)]}/{HR_STATUSES[status]})")


def _effect_map_models(node: Node, cells: Cells = IHC_ONLY) -> tuple[dict[int, Resolved], dict[int, str]]:
    """The map's models by IHC category, applied to every HR status of the category (maps are by IHC only)."""
    node.mapping(("name", "reference"), "a mapping {name, reference}")
    name_node = node.require("name", "T-DXd | T-DM1 | TKI | trastuzumab")
    try:
        emap = effect_map(name_node.text())
    except KeyError as err:
        raise name_node.error(str(err.args[0]).split(";")[0], allowed="T-DXd | T-DM1 | TKI | trastuzumab") from None
    ref = survival_spec(node.require("reference", "a survival model spec"))
    models: dict[int, Resolved] = {}
    direction_only: dict[int, str] = {}
    for entry in emap.entries:
        if entry.hazard_ratio is None:
            for code in cells.of_categories((entry.category,)):
                direction_only[code] = f"effect map {emap.name}: {entry.assumption}"
            continue
        try:
            model = ref.value.with_hazard_ratio(entry.hazard_ratio)
        except (ValueError, OverflowError, ZeroDivisionError) as err:
            raise node.child("reference").error(
                f"the reference model x the effect map's HR {entry.hazard_ratio:g} is not a usable model ({err})",
                allowed="a reference model whose product with the map's hazard ratios stays finite") from None
        note = (f"{describe(model)}; {emap.name} effect map: reference x HR {entry.hazard_ratio:.4g} "
                f"({emap.scale}; {entry.assumption})")
        sources = tuple(dict.fromkeys((*ref.sources, *entry.source_ids)))
        for code in cells.of_categories((entry.category,)):
            models[code] = Resolved(model, sources, note)
    return models, direction_only


def _check_needed(node: Node, have: Mapping[int, Any], needed: tuple[int, ...], what: str,
                  hints: Mapping[int, str] | None = None, cells: Cells = IHC_ONLY) -> None:
    for code in needed:
        if code not in have:
            hint = f" ({hints[code]})" if hints and code in hints else ""
            allowed = _SPEC_KEY_HINT if not cells.hr_status else "a category or group, with or without /HR+ or /HR-, HR+ / HR-, or all"
            raise node.error(f"no {what} for {cells.name(code)}, which the population can contain{hint}",
                             allowed=f"a key covering it ({allowed})")


def _arm(
    node: Node, role: str, *, endpoint: str, needed: tuple[int, ...], control: dict[int, Resolved] | None,
    cells: Cells = IHC_ONLY,
) -> tuple[str, dict[int, Resolved], float]:
    node.mapping(ARM_FIELDS)
    label = node.child("label").text() if node.get("label") is not None else role
    experimental = role == "experimental"
    tte = endpoint == "time_to_event"
    for name in (("response",) if tte else ("survival", "effect_map", "dropout")):
        if node.get(name) is not None:
            other = "survival" if tte else "response"
            raise node.child(name).error(f"a {endpoint} endpoint uses {other}, not {name}", allowed=f"remove {name}")
    if tte:
        base: dict[int, Resolved] = {}
        direction_only: dict[int, str] = {}
        if (emap := node.get("effect_map")) is not None:
            base, direction_only = _effect_map_models(emap, cells)
        surv = node.get("survival")
        if surv is None and not base:
            raise node.child("survival").error("required field is missing",
                                               allowed="{category | group | all: survival model}")

        def resolve(child: Node, code: int) -> Resolved | None:
            relative = child.has("hazard_ratio") and not child.has("cure_fraction")
            if relative and experimental and (control is None or code not in control):
                if code not in needed:
                    return None  # an unused category: nothing to multiply, nothing needed
                return survival_spec(child, control=None, allow_relative=True)
            ref = control.get(code) if control is not None else None
            return survival_spec(child, control=ref, allow_relative=experimental)

        models = _by_category(surv, resolve, base, cells) if surv is not None else base
        if emap is not None and surv is not None and all(
                code not in base or models[code] is not base[code] for code in needed):
            raise emap.error("survival gives a model for every category the population can contain, so the "
                             "effect map is never used", allowed="remove effect_map, or survival keys it should not cover")
        _check_needed(surv or node.child("effect_map"), models, needed, "survival model", direction_only, cells)
        h = 0.0
        if (drop := node.get("dropout")) is not None:
            drop.mapping(("probability", "by_months", "hazard_per_month"))
            if drop.has("hazard_per_month") == drop.has("probability"):
                raise drop.error("give {probability, by_months} or {hazard_per_month}",
                                 allowed="{probability: p, by_months: t} | {hazard_per_month: h}")
            if drop.has("hazard_per_month"):
                h = drop.child("hazard_per_month").number(low=0.0)
            else:
                p = drop.child("probability").number(low=0.0, high=1.0, high_open=True)
                t = drop.require("by_months").number(low=0.0, low_open=True)
                h = dropout_hazard(p, t)
        return label, models, h
    resp = node.require("response", "{category | group | all: {probability | from_evidence | risk_difference}}")

    def resolve_response(child: Node, code: int) -> Resolved | None:
        if child.has("risk_difference") and experimental and (control is None or code not in control):
            if code not in needed:
                return None
        ref = control.get(code) if control is not None else None
        return response_spec(child, control=ref, allow_relative=experimental)

    probs = _by_category(resp, resolve_response, cells=cells)
    _check_needed(resp, probs, needed, "response probability", cells=cells)
    return label, probs, 0.0


def _arm_dict(label: str, values: dict[int, Resolved], dropout: float, endpoint: str,
              cells: Cells = IHC_ONLY) -> dict[str, Any]:
    block = {cells.name(c): resolved_spec(r) for c, r in values.items()}
    if endpoint == "binary":
        return {"label": label, "response": block}
    return {"label": label, "survival": block, "dropout": {"hazard_per_month": dropout}}


# --- the rest --------------------------------------------------------------------


def _allocation(node: Node) -> tuple[int, int]:
    if not isinstance(node.value, dict):
        raise node.error("must be a mapping of arm to ratio",
                         allowed="{control: 1, experimental: 2} (positive whole numbers)")
    node.mapping(ARMS)
    return (node.require("control").integer(low=1, high=MAX_ALLOCATION),
            node.require("experimental").integer(low=1, high=MAX_ALLOCATION))


ACCRUAL_FIELDS: dict[str, str] = {
    "duration_months": "entry over this many months (uniform unless shaped)",
    "rates_per_month": "patients per month from each start_months (the last continues until n_patients)",
    "start_months": "when each rate starts: from 0, increasing",
    "exponential_gamma_per_month": "with duration_months: truncated exponential entry, density ~ exp(-gamma t) "
                                   "(gamma > 0 front-loaded, < 0 back-loaded; as gsDesign nSurvival entry='expo')",
    "ramp_up_months": "the rate rises linearly over these first months (from 0, or ramp_start_rate_per_month), "
                      "then holds",
    "ramp_start_rate_per_month": "with rates_per_month and ramp_up_months: the rate at month 0 (default 0)",
}


def _accrual(node: Node) -> Accrual:
    node.mapping(ACCRUAL_FIELDS)
    if node.has("duration_months") == node.has("rates_per_month"):
        raise node.error("give duration_months or rates_per_month (with start_months)",
                         allowed="{duration_months: d} | {rates_per_month: [...], start_months: [0, ...]}")
    shape: dict[str, float] = {}
    if node.has("exponential_gamma_per_month") and node.has("ramp_up_months"):
        raise node.child("ramp_up_months").error(
            "give one entry shape: exponential_gamma_per_month or ramp_up_months",
            allowed="remove one of them")
    if (child := node.get("exponential_gamma_per_month")) is not None:
        if not node.has("duration_months"):
            raise child.error("exponential entry goes with duration_months (truncated over [0, duration_months])",
                              allowed="{duration_months: d, exponential_gamma_per_month: g}")
        gamma = child.number()
        if gamma == 0.0:
            raise child.error("0 is uniform entry", allowed="a non-zero number (> 0 front-loads entry, "
                              "< 0 back-loads it), or remove the field")
        shape["exponential_gamma_per_month"] = gamma
    if (child := node.get("ramp_up_months")) is not None:
        shape["ramp_up_months"] = child.number(low=0.0, low_open=True)
    if (child := node.get("ramp_start_rate_per_month")) is not None:
        if not node.has("ramp_up_months") or not node.has("rates_per_month"):
            raise child.error("ramp_start_rate_per_month goes with rates_per_month and ramp_up_months "
                              "(with duration_months the ramp starts at 0)",
                              allowed="{rates_per_month: [r], ramp_up_months: m, ramp_start_rate_per_month: r0}")
        shape["ramp_start_rate_per_month"] = child.number(low=0.0)
    if node.has("duration_months"):
        if node.has("start_months"):
            raise node.child("start_months").error("start_months goes with rates_per_month", allowed="remove it")
        duration = node.child("duration_months").number(low=0.0, low_open=True)
        try:
            return Accrual(duration_months=duration, **shape)
        except InvalidInput as err:
            raise _shape_error(node, err) from None
    rates = node.child("rates_per_month").numbers(low=0.0)
    starts = node.child("start_months").numbers(low=0.0) if node.get("start_months") is not None else None
    if starts is None and len(rates) > 1:
        raise node.child("start_months").error("several rates need their start times",
                                               allowed="a list as long as rates_per_month, starting at 0")
    try:
        Accrual(rates_per_month=rates, start_months=starts)
    except ValueError as err:
        raise node.error(str(err).removeprefix("accrual: ").removeprefix("accrual."),
                         allowed="rates >= 0 (the last > 0), start_months from 0, increasing") from None
    try:
        return Accrual(rates_per_month=rates, start_months=starts, **shape)
    except InvalidInput as err:
        raise _shape_error(node, err) from None


def _shape_error(node: Node, err: InvalidInput) -> ScenarioError:
    """An entry-shape refusal of ``Accrual``, pinned on the shape field it names."""
    text = str(err)
    for name in ("exponential_gamma_per_month", "ramp_start_rate_per_month", "ramp_up_months"):
        if name in text and node.has(name):
            # the node error prints the value itself: drop the spec's own ", got ..."
            problem = re.sub(r",? got [^;]*$", "", text.removeprefix("accrual.").removeprefix("accrual: "))
            return node.child(name).error(problem, allowed=ACCRUAL_FIELDS[name])
    return node.error(text.removeprefix("accrual: "), allowed="see scenarios/README.md, accrual")


def _accrual_dict(acc: Accrual) -> dict[str, Any]:
    if acc.duration_months is not None:
        out: dict[str, Any] = {"duration_months": acc.duration_months}
    else:
        out = {"rates_per_month": list(acc.rates_per_month), "start_months": list(acc.start_months)}
    # shape fields only when given, so a uniform or piecewise accrual resolves as it always has
    for name in ("exponential_gamma_per_month", "ramp_up_months", "ramp_start_rate_per_month"):
        if getattr(acc, name) is not None:
            out[name] = getattr(acc, name)
    return out


def _simulation(node: Node) -> Simulation:
    if node.missing or node.value is None:
        return Simulation()
    node.mapping(SIMULATION_FIELDS)
    out: dict[str, int] = {}
    if node.get("n_sims") is not None:
        out["n_sims"] = node.child("n_sims").integer(low=1, high=MAX_SIMS)
    if node.get("seed") is not None:
        out["seed"] = node.child("seed").integer(low=0, high=MAX_SEED)
    return Simulation(**out)


def _sample_size(node: Node, endpoint: str) -> SampleSizeSearch:
    node.mapping(SAMPLE_SIZE_FIELDS)
    power = node.require("target_power", "a power in (0, 1), e.g. 0.8").number(
        low=0.0, high=1.0, low_open=True, high_open=True)
    choices = ("n_patients", "events") if endpoint == "time_to_event" else ("n_patients",)
    solve_for = node.child("solve_for").text(choices) if node.get("solve_for") is not None else "n_patients"
    bounds = [node.child(k).integer(low=1) if node.get(k) is not None else None for k in ("minimum", "maximum")]
    if None not in bounds and bounds[0] > bounds[1]:
        raise node.child("maximum").error(f"maximum is below minimum ({bounds[0]})", allowed=f">= {bounds[0]}")
    epp = None
    if (child := node.get("events_per_patient")) is not None:
        if solve_for != "n_patients" or endpoint != "time_to_event":
            raise child.error("events_per_patient applies when solving for n_patients with a time-to-event endpoint",
                              allowed="remove it")
        epp = child.number(low=0.0, high=1.0, low_open=True)
    return SampleSizeSearch(power, solve_for, bounds[0], bounds[1], epp)


def _sample_size_dict(s: SampleSizeSearch) -> dict[str, Any]:
    out: dict[str, Any] = {"target_power": s.target_power, "solve_for": s.solve_for}
    for name in ("minimum", "maximum", "events_per_patient"):
        if getattr(s, name) is not None:
            out[name] = getattr(s, name)
    return out


def _sweep(node: Node) -> SweepPlan:
    """The ``sweep:`` block's form (paths and values); each grid point is validated when the sweep runs."""
    node.mapping(("vary", "zip"))
    vary = node.require("vary", "{field path: [values] | start:stop:step}")
    if not isinstance(vary.value, Mapping) or not vary.value:
        raise vary.error("must map field paths to values", allowed="{analysis.ni_margin: [1.2, 1.3], ...}")
    axes = []
    for key, child in vary.items():
        try:
            axes.append(SweepAxis.parse(key, child.value))
        except InvalidInput as err:
            raise child.error(str(err), allowed="a list of values or start:stop:step") from None
    zipped = node.child("zip").boolean() if node.get("zip") is not None else False
    try:
        return SweepPlan(tuple(axes), zipped)
    except InvalidInput as err:
        raise node.error(str(err), allowed="paths varied once; with zip, lists of one length") from None


#: designs that run on IHC x HR-status cells (the two-arm time-to-event designs on the engine)
HR_STATUS_DESIGNS = ("superiority", "noninferiority", "biomarker", "enrichment")


def _check_hr_status_supported(root: Node, design: str, endpoint: str) -> None:
    """hr_status reaches the two-arm time-to-event engine; elsewhere it would be silently ignored, so refuse it."""
    node = root.child("population").child("hr_status")
    if design not in HR_STATUS_DESIGNS or endpoint != "time_to_event":
        raise node.error(f"hr_status is supported for the two-arm time-to-event designs "
                         f"({', '.join(HR_STATUS_DESIGNS)}), not design {design} with a {endpoint} endpoint",
                         allowed="remove hr_status, or a two-arm time-to-event design")
    if root.get("prior") is not None:
        raise root.child("prior").error("a prior is keyed by IHC category; combined with hr_status (IHC x HR "
                                        "cells) it is not supported", allowed="remove prior, or remove hr_status")


def _check_simon_exists(node: Node, an) -> None:
    """A Simon scenario validates only if a design meets its error rates (so `run` cannot fail on it later)."""
    from simtrial.stats.simon import simon_design

    level = an.alpha / an.sided
    try:
        simon_design(an.p0, an.p1, level, an.beta, kind=an.simon_kind)
    except InvalidInput:
        raise node.error(
            f"no Simon two-stage design with at most 150 patients meets alpha={level:g}, beta={an.beta:g} for "
            f"p0={an.p0:g}, p1={an.p1:g}",
            allowed="a larger difference p1 - p0, or a larger analysis.alpha or analysis.beta") from None


def _build(root: Node, path: str) -> Scenario:
    if not isinstance(root.value, Mapping):
        raise root.error("a scenario must be a mapping of fields", allowed=", ".join(TOP_FIELDS))
    root.mapping(TOP_FIELDS)
    name = root.require("name").text()
    description = ""
    if (desc := root.get("description")) is not None:
        if not isinstance(desc.value, str):
            raise desc.error("must be text", allowed="text (may be empty)")
        description = desc.value.strip()
    design = root.require("design", one_of(DESIGNS)).text(DESIGNS)
    declared = registry.REGISTRY[design]
    endpoint = (root.child("endpoint").text(ENDPOINTS) if root.get("endpoint") is not None
                else declared.default_endpoint)
    if (why := declared.endpoint_error(endpoint)) is not None:
        raise root.child("endpoint").error(why, allowed=one_of(declared.endpoints))
    two_arm = not declared.single_arm
    tte = endpoint == "time_to_event"

    population = _population(root.require("population", "{mix: {category: prevalence}, ...}"))
    needed = population.true_categories()
    cells = population.cells
    if cells.hr_status:
        _check_hr_status_supported(root, design, endpoint)
    if design == "simon_two_stage" and population.fixed_counts is not None:
        raise root.child("population").child("fixed_counts").error(
            "Simon's design chooses its own stage sizes; fixed_counts would fix the enrolled numbers",
            allowed="population: {mix: ...}")
    if design == "enrichment" and population.fixed_counts is not None:
        raise root.child("population").child("fixed_counts").error(
            "design enrichment screens a prevalence mix and enrols the eligible; fixed_counts fixes who is enrolled",
            allowed="population: {mix: ..., eligible: [...]}")
    if design == "enrichment" and population.eligible is None:
        raise root.child("population").child("eligible").error(
            "design enrichment restricts enrolment by assessed category", allowed="a list of categories or groups")
    an = analysis(root.child("analysis"), design=design, endpoint=endpoint, assessable=population.assessed_categories(),
                  cells=cells)

    if design == "simon_two_stage":
        _check_simon_exists(root.child("analysis"), an)
    sample_size = _sample_size(root.child("sample_size"), endpoint) if root.get("sample_size") is not None else None
    if an.sequential is not None and an.sequential.futility == "beta_spending" and an.beta is None:
        # the futility bounds are built for 1 - power at the design alternative: written out, so the
        # resolved scenario (and the printed table) say which beta they came from
        an = replace(an, beta=1.0 - sample_size.target_power if sample_size is not None else 0.2)
    if sample_size is not None and design == "simon_two_stage":
        raise root.child("sample_size").error("Simon's design chooses its own sample size", allowed="remove it")
    n_patients = None
    n_node = root.child("n_patients")
    if root.get("n_patients") is not None:
        if design == "simon_two_stage":
            raise n_node.error("Simon's design chooses n1 and n itself", allowed="remove n_patients")
        n_patients = n_node.integer(low=1 if not two_arm else 2, high=MAX_PATIENTS)
    if population.fixed_counts is not None:
        total = sum(population.fixed_counts.values())
        if n_patients is None:
            n_patients = total
        elif n_patients != total:
            raise n_node.error(f"population.fixed_counts sum to {total}", allowed=str(total))
    solving_n = sample_size is not None and sample_size.solve_for == "n_patients"
    if n_patients is None and design != "simon_two_stage" and not solving_n:
        raise n_node.error("required field is missing", allowed="a whole number >= 2 (or a sample_size search)")
    if tte:
        events_node = root.child("analysis").child("target_events")
        if an.target_events is not None and n_patients is not None and an.target_events > n_patients:
            raise events_node.error(f"more events than patients (n_patients = {n_patients})",
                                    allowed=f"a whole number in [1, {n_patients}]")
        derived = sample_size is not None and (
            sample_size.solve_for == "events" or sample_size.events_per_patient is not None)
        if (an.target_events is None and an.calendar_months is None
                and an.min_followup_after_last_entry_months is None and not derived):
            raise events_node.error("a time-to-event analysis needs a cut",
                                    allowed="target_events and/or calendar_months, or "
                                            "min_followup_after_last_entry_months (or a sample_size search)")
        if an.sequential is not None and an.target_events is None and not derived:
            raise events_node.error("sequential looks are fractions of target_events",
                                    allowed="a whole number of events")

    arms = root.require("arms", "{control: {...}, experimental: {...}}")
    if not two_arm and arms.has("control"):
        raise arms.child("control").error(f"design {design} is single-arm: it has no control arm",
                                          allowed="arms: {experimental: {...}} only")
    arms.mapping(ARMS)
    control = None
    if two_arm:
        c_label, c_values, c_drop = _arm(arms.require("control"), "control", endpoint=endpoint, needed=needed,
                                         control=None, cells=cells)
        control = c_values
    e_label, e_values, e_drop = _arm(arms.require("experimental"), "experimental", endpoint=endpoint,
                                     needed=needed, control=control, cells=cells)

    allocation = (1, 1)
    if root.get("allocation") is not None:
        if not two_arm:
            raise root.child("allocation").error("a single-arm design has no allocation", allowed="remove it")
        allocation = _allocation(root.child("allocation"))
    block_multiple = 2
    if root.get("block_multiple") is not None:
        if not two_arm:
            raise root.child("block_multiple").error("a single-arm design randomises nobody: block_multiple has "
                                                     "no effect", allowed="remove it")
        block_multiple = root.child("block_multiple").integer(low=1, high=MAX_BLOCK_MULTIPLE)
    rand_method, rand_strata = read_randomisation(
        root.get("randomisation"), design=design, assessable=population.assessed_categories(),
        block_multiple=root.get("block_multiple"), cells=cells)
    accrual = None
    if root.get("accrual") is not None:
        if not tte:
            raise root.child("accrual").error("a binary endpoint has no time: accrual has no effect on it",
                                              allowed="remove accrual")
        accrual = _accrual(root.child("accrual"))
    elif tte:
        raise root.child("accrual").error("required for a time-to-event endpoint",
                                          allowed="{duration_months: d} | {rates_per_month: [...], start_months: [...]}")
    simulation = _simulation(root.child("simulation"))

    kwargs: dict[str, Any] = {}
    if tte:
        if control is not None:
            kwargs["control"] = Arm(c_label, {c: r.value for c, r in control.items()}, c_drop)
        kwargs["experimental"] = Arm(e_label, {c: r.value for c, r in e_values.items()}, e_drop)
    else:
        if control is not None:
            kwargs["control_response"] = {c: r.value for c, r in control.items()}
        kwargs["experimental_response"] = {c: r.value for c, r in e_values.items()}
    prior = None
    if root.get("prior") is not None:
        relative = tuple(c for c, r in e_values.items() if getattr(r, "relative_to_control", False)) if tte else ()
        prior = read_prior(
            root.child("prior"), endpoint=endpoint, design=design, possible=population.true_categories(),
            control_models={c: r.value for c, r in control.items()} if (tte and control is not None) else None,
            relative=relative,
        )
        kwargs["prior"] = prior
    if root.get("sweep") is not None:
        kwargs["sweep"] = _sweep(root.child("sweep"))
    scenario = Scenario(
        name=name, description=description, design=design, endpoint=endpoint, population=population,
        analysis=an, simulation=simulation, n_patients=n_patients, allocation=allocation,
        block_multiple=block_multiple, randomisation=rand_method, randomisation_strata=rand_strata,
        accrual=accrual, sample_size=sample_size, path=path, **kwargs,
    )

    resolved: dict[str, Any] = {"name": name, "description": description, "design": design,
                                "endpoint": endpoint, "population": _population_dict(population)}
    resolved["arms"] = {}
    if control is not None:
        resolved["arms"]["control"] = _arm_dict(c_label, control, c_drop, endpoint, cells)
    resolved["arms"]["experimental"] = _arm_dict(e_label, e_values, e_drop, endpoint, cells)
    if two_arm:
        resolved["allocation"] = {"control": allocation[0], "experimental": allocation[1]}
    if two_arm and rand_method == "permuted_blocks":
        resolved["block_multiple"] = block_multiple
    if two_arm:
        resolved["randomisation"] = randomisation_dict(rand_method, rand_strata, cells)
    if n_patients is not None:
        resolved["n_patients"] = n_patients
    if accrual is not None:
        resolved["accrual"] = _accrual_dict(accrual)
    resolved["analysis"] = analysis_dict(an, cells)
    resolved["simulation"] = {"n_sims": simulation.n_sims, "seed": simulation.seed}
    if sample_size is not None:
        resolved["sample_size"] = _sample_size_dict(sample_size)
    if prior is not None:
        resolved["prior"] = prior_dict(prior)
    if scenario.sweep is not None:
        resolved["sweep"] = scenario.sweep.to_dict()
    _check_registered(root, scenario)
    return replace(scenario, resolved=resolved)


# Trial attribute -> where the file writes it (the rest are the same path)
_FILE_PATHS = {"control": ("arms", "control"), "experimental": ("arms", "experimental"),
               "control_response": ("arms", "control"), "experimental_response": ("arms", "experimental"),
               "randomisation_strata": ("randomisation", "strata")}


def _check_registered(root: Node, trial: Scenario) -> None:
    """What the design registry declares, checked last (the checks above say more, with positions)."""
    for path, problem, allowed in registry.problems(trial):
        parts = path.split(".")
        node = root
        for part in _FILE_PATHS.get(parts[0], (parts[0],)) + tuple(parts[1:]):
            node = node.child(part)
        raise node.error(problem, allowed=allowed)


__all__ = ["ScenarioError", "load_scenario", "scenario_from_dict"]
