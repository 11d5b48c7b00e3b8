"""Every scenario field either changes what a run reports or is refused for the design.

An accepted field with no visible effect is a defect: a trial designer who writes it believes it
was used.  This test walks the schema (the loader's own field tables, so a new field without an
entry here fails ``test_every_schema_field_is_walked``) over one base scenario per design.  For
each (design, field) it applies a change and requires either

- a ScenarioError whose field path names that field (refused for the design), or
- a different output: ``run(...).to_dict()`` (without versions) plus the per-trial frame, or for
  ``sample_size.*`` fields the ``sample_size(...)`` result.

Some fields only act together with another one (``multiplicity`` needs subgroups, ``gamma``
needs asHSD spending): their entry names a *context* applied to both the base and the changed
scenario, so the comparison isolates the field.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from simtrial.power import run
from simtrial.samplesize import sample_size
from simtrial.scenario import ScenarioError, scenario_from_dict
from simtrial.scenario._analysis import ANALYSIS_FIELDS, SEQUENTIAL_FIELDS
from simtrial.scenario._randomisation import RANDOMISATION_FIELDS
from simtrial.scenario.loader import (
    ARM_FIELDS,
    POPULATION_FIELDS,
    SAMPLE_SIZE_FIELDS,
    SIMULATION_FIELDS,
    TOP_FIELDS,
)

N_SIMS = 120

_TTE_ARMS = {
    "control": {"survival": {"all": {"median_months": 10.0}}},
    "experimental": {"survival": {"IHC 3+": {"hazard_ratio": 0.6}, "IHC 2+/ISH+": {"hazard_ratio": 0.85}}},
}


def _tte(design: str, **analysis: Any) -> dict[str, Any]:
    return {
        "name": "walk",
        "description": "schema walk",
        "design": design,
        "population": {"mix": {"IHC 3+": 0.6, "IHC 2+/ISH+": 0.4}},
        "arms": copy.deepcopy(_TTE_ARMS),
        "n_patients": 240,
        "accrual": {"duration_months": 12},
        "analysis": {"test": "logrank", "alpha": 0.025, "sided": 1, "target_events": 150, **analysis},
        "simulation": {"n_sims": N_SIMS, "seed": 7},
    }


def _binary(design: str, **analysis: Any) -> dict[str, Any]:
    data = {
        "name": "walk",
        "description": "schema walk",
        "design": design,
        "population": {"mix": {"IHC 3+": 0.6, "IHC 2+/ISH+": 0.4}},
        "arms": {
            "control": {"response": {"IHC 3+": {"probability": 0.3}, "IHC 2+/ISH+": {"probability": 0.2}}},
            "experimental": {"response": {"IHC 3+": {"probability": 0.5}, "IHC 2+/ISH+": {"probability": 0.3}}},
        },
        "n_patients": 200,
        "analysis": {"alpha": 0.025, "sided": 1, **analysis},
        "simulation": {"n_sims": N_SIMS, "seed": 7},
    }
    if design in ("single_arm_binary", "simon_two_stage"):
        del data["arms"]["control"]
        data["analysis"].update({"test": "exact_binomial", "p0": 0.2})
        if design == "simon_two_stage":
            del data["n_patients"]
            data["analysis"].update({"p1": 0.45, "alpha": 0.05})
    return data


BASES: dict[str, Callable[[], dict[str, Any]]] = {
    "superiority": lambda: _tte("superiority"),
    "noninferiority": lambda: _tte("noninferiority", test="cox", ni_margin=1.3),
    "biomarker": lambda: _tte("biomarker", subgroups=["IHC 3+"]),
    "enrichment": lambda: {**_tte("enrichment"), "population": {
        "mix": {"IHC 3+": 0.5, "IHC 2+/ISH+": 0.3, "IHC 1+": 0.2}, "eligible": ["IHC 3+", "IHC 2+/ISH+"]}},
    "group_sequential": lambda: _tte("superiority", sequential={"information_fractions": [0.5, 1.0]}),
    "binary": lambda: _binary("binary", test="chi_square"),
    "single_arm_binary": lambda: _binary("single_arm_binary"),
    "simon_two_stage": lambda: _binary("simon_two_stage"),
    "single_arm_tte": lambda: {
        "name": "walk", "description": "schema walk", "design": "single_arm_tte",
        "population": {"mix": {"IHC 3+": 0.6, "IHC 2+/ISH+": 0.4}},
        "arms": {"experimental": {"survival": {"IHC 3+": {"median_months": 16.0},
                                               "IHC 2+/ISH+": {"median_months": 12.0}}}},
        "n_patients": 120, "accrual": {"duration_months": 12},
        "analysis": {"test": "one_sample_logrank", "alpha": 0.025, "reference": {"median_months": 10.0},
                     "calendar_months": 24},
        "simulation": {"n_sims": N_SIMS, "seed": 7}},
}

Change = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Change:
    def apply(data: dict[str, Any]) -> None:
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = copy.deepcopy(value)

    return apply


def _both(*changes: Change) -> Change:
    def apply(data: dict[str, Any]) -> None:
        for change in changes:
            change(data)

    return apply


def _without(path: str) -> Change:
    def apply(data: dict[str, Any]) -> None:
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node.pop(last, None)

    return apply


# field path -> (change, context applied to base and changed alike or None)
SEQ = "analysis.sequential"
FIELDS: dict[str, tuple[Change, Change | None]] = {
    "name": (_set("name", "walk 2"), None),
    "endpoint": (lambda d: d.__setitem__("endpoint", "time_to_event" if "response" in str(d["arms"]) else "binary"),
                 None),
    "population.mix": (_set("population.mix", {"IHC 3+": 0.3, "IHC 2+/ISH+": 0.7}), None),
    "population.fixed_counts": (_both(_without("population.mix"), _without("population.eligible"), _without("n_patients"),
                                      _set("population.fixed_counts", {"IHC 3+": 100, "IHC 2+/ISH+": 100})), None),
    "population.eligible": (_set("population.eligible", ["IHC 3+"]), None),
    "population.misclassification": (
        _set("population.misclassification", {"IHC 3+": {"IHC 3+": 0.8, "IHC 2+/ISH+": 0.2}}), None),
    # HR status acts through what is keyed by it (here a shorter control median in HR-), which only
    # hr_status makes possible; refused by the designs that do not support it
    "population.hr_status": (_both(_set("population.hr_status", {"positive_fraction": 0.3}),
                                   _set("arms.control.survival", {"all": {"median_months": 10.0},
                                                                  "HR-": {"median_months": 6.0}})), None),
    "arms.label": (_set("arms.experimental.label", "the new regimen"), None),
    "arms.survival": (_set("arms.experimental.survival", {"all": {"hazard_ratio": 0.5}}), None),
    "arms.effect_map": (_both(_set("arms.experimental.effect_map", {"name": "T-DXd", "reference": {"median_months": 8}}),
                              _set("arms.experimental.survival", {"IHC 3+": {"hazard_ratio": 0.6}})), None),
    "arms.dropout": (_set("arms.control.dropout", {"hazard_per_month": 0.05}), None),
    "arms.response": (_set("arms.experimental.response", {"all": {"probability": 0.7}}), None),
    "allocation": (_set("allocation", {"control": 1, "experimental": 2}), None),
    "block_multiple": (_set("block_multiple", 1), None),
    "randomisation.method": (_set("randomisation", {"method": "simple"}), None),
    "randomisation.strata": (_set("randomisation", {"method": "permuted_blocks", "strata": "none"}), None),
    "n_patients": (_set("n_patients", 260), None),
    "accrual": (_set("accrual", {"duration_months": 30}), None),
    "analysis.test": (_set("analysis.test", "stratified_logrank"), None),
    "analysis.alpha": (_set("analysis.alpha", 0.1), None),
    "analysis.sided": (_set("analysis.sided", 2), None),
    "analysis.target_events": (_set("analysis.target_events", 100), None),
    "analysis.calendar_months": (_set("analysis.calendar_months", 14.0), None),
    "analysis.ni_margin": (_set("analysis.ni_margin", 1.6), None),
    "analysis.population": (_set("analysis.population", "IHC 3+"), None),
    "analysis.strata": (_set("analysis.strata", "by_group"), _set("analysis.test", "stratified_logrank")),
    "analysis.subgroups": (_set("analysis.subgroups", ["IHC 2+/ISH+"]), None),
    "analysis.multiplicity": (_set("analysis.multiplicity", "fixed_sequence"),
                              _set("analysis.subgroups", ["IHC 2+/ISH+", "IHC 3+"])),
    "analysis.interaction": (_set("analysis.interaction", {"groups": ["IHC 3+", "IHC 2+/ISH+"]}), None),
    "analysis.fleming_harrington": (_set("analysis.fleming_harrington", {"rho": 0, "gamma": 1}),
                                    _both(_set("analysis.test", "fleming_harrington"),
                                          _set("analysis.fleming_harrington", {"rho": 0, "gamma": 0}))),
    "analysis.landmark_months": (_set("analysis.landmark_months", [6]), None),
    "analysis.rmst_tau_months": (_set("analysis.rmst_tau_months", 24),
                                 _both(_set("analysis.test", "rmst"), _set("analysis.rmst_tau_months", 12))),
    "analysis.milestone_months": (_set("analysis.milestone_months", 24),
                                  _both(_set("analysis.test", "milestone"), _set("analysis.milestone_months", 12))),
    "analysis.mwlr_t_star_months": (_set("analysis.mwlr_t_star_months", 24),
                                    _both(_set("analysis.test", "modestly_weighted_logrank"),
                                          _set("analysis.mwlr_t_star_months", 12))),
    "analysis.maxcombo": (_set("analysis.maxcombo", [{"rho": 0, "gamma": 0}, {"rho": 1, "gamma": 0}]),
                          _set("analysis.test", "maxcombo")),
    "analysis.p0": (_set("analysis.p0", 0.1), None),
    "analysis.p1": (_set("analysis.p1", 0.55), None),
    "analysis.beta": (_set("analysis.beta", 0.1), None),
    "analysis.simon_kind": (_set("analysis.simon_kind", "minimax"), None),
    "analysis.sequential": (_set(SEQ, {"information_fractions": [0.6, 1.0]}), None),
    # cut rules: 30 months after the last entry (month 12) is after the 150th event in most trials; a 20-month
    # gap after a look at 75 events
    "analysis.min_followup_after_last_entry_months": (_set("analysis.min_followup_after_last_entry_months", 30),
                                                      None),
    "analysis.min_months_after_previous_look": (_set("analysis.min_months_after_previous_look", 20),
                                                _set(SEQ, {"information_fractions": [0.5, 1.0]})),
    # design single_arm_tte (refused by every other design)
    "analysis.reference": (_set("analysis.reference", {"median_months": 11.0}), None),
    "analysis.reference_rate_per_patient_year": (_set("analysis.reference_rate_per_patient_year", 0.7), None),
    "analysis.logrank_variance": (_set("analysis.logrank_variance", "wu"), None),
    "analysis.interim_futility": (_set("analysis.interim_futility", [{"patient_years": 40, "max_events": 35}]), None),
    "sequential.information_fractions": (_set(f"{SEQ}.information_fractions", [0.7, 1.0]), None),
    "sequential.efficacy_spending": (_set(f"{SEQ}.efficacy_spending", "asP"), None),
    # an interim calendar maximum before the interim's events in most trials
    "sequential.calendar_months": (_set(f"{SEQ}.calendar_months", [8, None]), None),
    "sequential.gamma": (_set(f"{SEQ}.gamma", 1.0), _both(_set(f"{SEQ}.efficacy_spending", "asHSD"),
                                                           _set(f"{SEQ}.gamma", -4.0))),
    "sequential.rho": (_set(f"{SEQ}.rho", 1.0), _both(_set(f"{SEQ}.efficacy_spending", "asKD"),
                                                       _set(f"{SEQ}.rho", 3.0))),
    "sequential.efficacy_looks": (_set(f"{SEQ}.efficacy_looks", [False, True]), None),
    "sequential.futility": (_both(_set(f"{SEQ}.futility", "z"), _set(f"{SEQ}.futility_z", [0.5])), None),
    "sequential.futility_looks": (
        _set(f"{SEQ}.futility_looks", [False, False]),
        _both(_set(f"{SEQ}.futility", "z"), _set(f"{SEQ}.futility_z", [0.5]))),
    "sequential.beta_spending": (_set(f"{SEQ}.beta_spending", "bsP"),
                                 _both(_set(f"{SEQ}.futility", "beta_spending"), _set(f"{SEQ}.beta_spending", "bsOF"))),
    "sequential.beta_gamma": (_set(f"{SEQ}.beta_gamma", 1.0),
                              _both(_set(f"{SEQ}.futility", "beta_spending"), _set(f"{SEQ}.beta_spending", "bsHSD"),
                                    _set(f"{SEQ}.beta_gamma", -4.0))),
    "sequential.beta_rho": (_set(f"{SEQ}.beta_rho", 1.0),
                            _both(_set(f"{SEQ}.futility", "beta_spending"), _set(f"{SEQ}.beta_spending", "bsKD"),
                                  _set(f"{SEQ}.beta_rho", 3.0))),
    "sequential.binding_futility": (_set(f"{SEQ}.binding_futility", True),
                                    _both(_set(f"{SEQ}.futility", "z"), _set(f"{SEQ}.futility_z", [0.5]))),
    "sequential.futility_z": (_set(f"{SEQ}.futility_z", [1.0]),
                              _both(_set(f"{SEQ}.futility", "z"), _set(f"{SEQ}.futility_z", [0.0]))),
    "sequential.futility_hr": (_set(f"{SEQ}.futility_hr", [0.9]),
                               _both(_set(f"{SEQ}.futility", "hr"), _set(f"{SEQ}.futility_hr", [1.2]))),
    "sequential.harm_alpha": (_set(f"{SEQ}.harm_alpha", 0.01), _set("analysis.sided", 2)),
    "sequential.harm_spending": (_set(f"{SEQ}.harm_spending", "asP"), _set("analysis.sided", 2)),
    "sequential.harm_gamma": (_set(f"{SEQ}.harm_gamma", 1.0),
                              _both(_set("analysis.sided", 2), _set(f"{SEQ}.harm_spending", "asHSD"),
                                    _set(f"{SEQ}.harm_gamma", -4.0))),
    "sequential.harm_rho": (_set(f"{SEQ}.harm_rho", 1.0),
                            _both(_set("analysis.sided", 2), _set(f"{SEQ}.harm_spending", "asKD"),
                                  _set(f"{SEQ}.harm_rho", 3.0))),
    "simulation.n_sims": (_set("simulation.n_sims", N_SIMS + 10), None),
    "simulation.seed": (_set("simulation.seed", 8), None),
    "sample_size.target_power": (_set("sample_size", {"target_power": 0.6}), _set("sample_size", {"target_power": 0.5})),
    "sample_size.solve_for": (_set("sample_size", {"target_power": 0.5, "solve_for": "events"}), _set("sample_size", {"target_power": 0.5})),
    "sample_size.minimum": (_set("sample_size", {"target_power": 0.5, "minimum": 150}), _set("sample_size", {"target_power": 0.5})),
    "sample_size.maximum": (_set("sample_size", {"target_power": 0.5, "maximum": 400}), _set("sample_size", {"target_power": 0.5})),
    "sample_size.events_per_patient": (_set("sample_size", {"target_power": 0.5, "events_per_patient": 0.4}),
                                       _set("sample_size", {"target_power": 0.5})),
}
# Documentation only: shown by `simtrial validate` and written to the resolved scenario.
DOCUMENTATION = {"description"}
# Chooses which design runs: every other entry is per design.
SELECTOR = {"design"}
# Read by `simtrial sweep`, not by run (tests/test_sweep.py checks that a sweep: block is run).
SWEEP = {"sweep"}
# `simtrial run` reports power at the assumed effects and says the prior is unused there; the
# prior is what `simtrial assurance` averages over (tests/test_assurance.py checks its effect)
ASSURANCE = {"prior"}


def _schema_fields() -> set[str]:
    fields = {f for f in TOP_FIELDS if f not in ("population", "arms", "analysis", "simulation", "sample_size",
                                                 "randomisation")}
    fields |= {f"population.{f}" for f in POPULATION_FIELDS}
    fields |= {f"arms.{f}" for f in ARM_FIELDS}
    fields |= {f"analysis.{f}" for f in ANALYSIS_FIELDS}
    fields |= {f"sequential.{f}" for f in SEQUENTIAL_FIELDS}
    fields |= {f"simulation.{f}" for f in SIMULATION_FIELDS}
    fields |= {f"sample_size.{f}" for f in SAMPLE_SIZE_FIELDS}
    fields |= {f"randomisation.{f}" for f in RANDOMISATION_FIELDS}
    return fields


def test_every_schema_field_is_walked() -> None:
    missing = _schema_fields() - set(FIELDS) - DOCUMENTATION - SELECTOR - SWEEP - ASSURANCE
    assert not missing, f"schema fields without a walk entry: {sorted(missing)}"
    stale = set(FIELDS) - _schema_fields()
    assert not stale, f"walk entries for fields the schema no longer has: {sorted(stale)}"


def _output(data: dict[str, Any], field: str) -> Any:
    sc = scenario_from_dict(data)
    if field.startswith("sample_size."):
        r = sample_size(sc, n_sims=150, precision=0.25, max_sims=200_000)
        d = r.to_dict()
        d.pop("versions", None)
        d["search"].pop("seconds", None)
        return d
    r = run(sc)
    d = r.to_dict()
    d.pop("versions", None)
    return d, r.per_trial_frame().to_csv(index=False)


def _field_named(error: ScenarioError, field: str) -> bool:
    """The refusal is about this field: its path, a block it belongs to, or its name in the message.

    ``endpoint`` is special: another endpoint invalidates the arms and the test, which are then refused.
    """
    if field == "endpoint":
        return True
    parts = field.split(".")
    leaf = parts[-1]
    path = error.field_path
    return leaf in path or leaf in error.problem or path in (parts[0], f"analysis.{parts[0]}") or (
        parts[0] == "arms" and path.startswith("arms"))


_CACHE: dict[tuple[str, str], Any] = {}


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("design", sorted(BASES))
def test_field_changes_the_output_or_is_refused(design: str, field: str) -> None:
    change, context = FIELDS[field]
    base = BASES[design]()
    if field.startswith("sequential.") and "sequential" not in base["analysis"]:
        base["analysis"]["sequential"] = {"information_fractions": [0.5, 1.0]}
    if context is not None:
        with_context = copy.deepcopy(base)
        context(with_context)
        try:
            scenario_from_dict(with_context)
            base = with_context
        except ScenarioError:
            context = None  # the context does not apply to this design: the field alone must be refused
    try:
        scenario_from_dict(base)
    except ScenarioError as err:  # e.g. sequential looks on a binary design
        assert field.startswith("sequential."), f"base invalid: {err}"
        assert "sequential" in str(err), err
        return
    changed = copy.deepcopy(base)
    change(changed)
    try:
        scenario_from_dict(changed)
    except ScenarioError as err:
        assert _field_named(err, field), f"refused, but for another field: {err}"
        return
    key = (design, repr(context and field))
    if key not in _CACHE:
        _CACHE[key] = _output(base, field)
    assert _output(changed, field) != _CACHE[key], f"{design}: {field} was accepted but changed nothing"
