"""Scenario files: the shipped ones load and round-trip; every user mistake is a ScenarioError.

Expected figures come from the review (medians, rates) and from closed forms
(exponential hazard = ln 2 / median; Weibull quantiles), not from loader output.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from simtrial.her2 import IHC0, IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3, ULTRALOW
from simtrial.scenario import ScenarioError, load_scenario, scenario_from_dict
from simtrial.survival import CureMixture, PiecewiseExponential, Weibull

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))

BASE = """\
name: base
design: superiority
population:
  mix: {IHC 3+: 0.7, IHC 2+/ISH+: 0.3}
arms:
  control:
    survival:
      all: {median_months: 10}
  experimental:
    survival:
      all: {hazard_ratio: 0.7}
allocation: {control: 1, experimental: 1}
n_patients: 400
accrual: {duration_months: 20}
analysis:
  target_events: 300
simulation: {n_sims: 100, seed: 1}
"""


def _base() -> dict[str, Any]:
    return yaml.safe_load(BASE)


def _write(tmp_path: Path, content: str | dict, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return path


def _error(tmp_path: Path, content: str | dict) -> ScenarioError:
    path = _write(tmp_path, content)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    text = str(err)
    assert text.startswith(str(path)), text
    assert "Traceback" not in text and 'File "' not in text
    assert err.file == str(path)
    return err


# --- shipped scenarios ------------------------------------------------------------


def test_there_are_shipped_scenarios() -> None:
    names = {p.name for p in SHIPPED}
    assert {
        "ihc3_deescalation_ni.yaml",
        "tdxd_her2_spectrum.yaml",
        "tki_ihc_stratified.yaml",
        "db03_replay.yaml",
        "db04_replay.yaml",
        "neoadjuvant_pcr_by_ihc.yaml",
        "adjuvant_tdm1_idfs.yaml",
        "simon_two_stage_orr.yaml",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_loads_and_round_trips(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.path == str(path)
    assert 1000 <= scenario.simulation.n_sims <= 2000
    # The resolved form is plain data: it survives JSON and YAML unchanged.
    assert json.loads(json.dumps(scenario.resolved)) == scenario.resolved
    again = scenario_from_dict(yaml.safe_load(yaml.safe_dump(scenario.resolved)))
    assert again == scenario
    assert again.resolved == scenario.resolved
    assert again.path == "<dict>"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_header_names_its_question_and_sources(path: Path) -> None:
    header = path.read_text().split("\nname:")[0]
    assert "# Question:" in header
    assert "# Sources" in header
    assert "[" in header  # a review reference number such as [25]


def test_flagship_models_come_from_db03() -> None:
    s = load_scenario(ROOT / "scenarios" / "ihc3_deescalation_ni.yaml")
    control = s.control.models[IHC3]
    assert isinstance(control, Weibull)
    # DB-03 [25]: median 28.8 months, 12-month PFS 75.8%.
    assert control.median() == pytest.approx(28.8, rel=1e-9)
    assert control.survival(12.0) == pytest.approx(0.758, rel=1e-9)
    assert s.experimental.models[IHC3] == control  # true HR 1.0 in IHC 3+
    assert s.analysis.ni_margin == 1.3 and s.analysis.population == (IHC3,)
    assert s.population.eligible == (IHC3,)
    assert s.population.misclassification[IHC2_ISH_POS][IHC3] == 0.10
    # 5% by 12 months -> hazard -ln(0.95)/12.
    assert s.control.dropout_hazard_per_month == pytest.approx(-math.log(0.95) / 12)


def test_replays_reproduce_reported_medians() -> None:
    db03 = load_scenario(ROOT / "scenarios" / "db03_replay.yaml")
    assert db03.experimental.models[IHC3].median() == pytest.approx(28.8)
    assert db03.control.models[IHC2_ISH_POS].median() == pytest.approx(6.8)
    assert db03.control.models[IHC3].survival(12.0) == pytest.approx(0.341)
    db04 = load_scenario(ROOT / "scenarios" / "db04_replay.yaml")
    assert db04.allocation == (1, 2)
    assert db04.experimental.models[IHC1].median() == pytest.approx(9.9)
    assert db04.control.models[IHC2_ISH_NEG].median() == pytest.approx(5.1)


def test_tdxd_effect_map_spreads_daisy_medians() -> None:
    s = load_scenario(ROOT / "scenarios" / "tdxd_her2_spectrum.yaml")
    medians = {c: m.median() for c, m in s.experimental.models.items()}
    # HER2-positive from DB-02 [24] (17.8), HER2-low from DB-04 [26] (9.9); the "T-DXd vs HER2-low"
    # map puts IHC 0 at DAISY's [28] 4.2 / 6.7 of HER2-low's rate, ultralow as HER2-low.
    assert medians[IHC3] == pytest.approx(17.8) and medians[IHC2_ISH_POS] == pytest.approx(17.8)
    assert medians[IHC1] == pytest.approx(9.9) and medians[ULTRALOW] == pytest.approx(9.9)
    assert medians[IHC0] == pytest.approx(9.9 * 4.2 / 6.7)
    assert [g.name for g in s.analysis.interaction] == ["HER2-positive", "HER2-low"]
    assert [g.name for g in s.analysis.subgroups] == ["HER2-positive", "HER2-low", "HER2-ultralow", "HER2-null"]
    assert s.analysis.subgroups[3].categories == (IHC0,)
    assert s.analysis.multiplicity == "holm"
    assert s.resolved["arms"]["experimental"]["survival"]["IHC 0"]["source"][:2] == [
        "DB04.TDXd.PFS.median", "DAISY.TDXd.PFS.median.IHC0"]


def test_binary_scenarios() -> None:
    pcr = load_scenario(ROOT / "scenarios" / "neoadjuvant_pcr_by_ihc.yaml")
    assert pcr.endpoint == "binary" and pcr.analysis.test == "cmh"
    assert pcr.experimental_response[IHC3] == pytest.approx(34 / 56, abs=6e-4)  # Panphila [31]
    assert pcr.experimental_response[IHC2_ISH_POS] == pytest.approx(4 / 13, abs=6e-4)
    simon = load_scenario(ROOT / "scenarios" / "simon_two_stage_orr.yaml")
    assert simon.control is None and simon.control_response is None
    assert (simon.analysis.p0, simon.analysis.p1) == (0.10, 0.297)
    assert simon.experimental_response[IHC0] == 0.297  # DAISY IHC 0 ORR [28]


def test_adjuvant_cure_mixture_passes_through_katherine_landmarks() -> None:
    s = load_scenario(ROOT / "scenarios" / "adjuvant_tdm1_idfs.yaml")
    ihc3, ihc2 = s.control.models[IHC3], s.control.models[IHC2_ISH_POS]
    assert isinstance(ihc3, CureMixture)
    assert ihc3.survival(36.0) == pytest.approx(0.85) and ihc2.survival(36.0) == pytest.approx(0.88)
    assert ihc3.cure_fraction == 0.75
    assert s.experimental.models[IHC3].hazard_ratio == pytest.approx(0.7)


# --- model specs -------------------------------------------------------------------


def _control_model(spec: dict[str, Any]) -> Any:
    data = _base()
    data["arms"]["control"]["survival"] = {"all": spec}
    return scenario_from_dict(data).control.models[IHC3]


def test_model_spec_forms() -> None:
    assert _control_model({"median_months": 10}) == PiecewiseExponential((0.0,), (math.log(2) / 10,))
    assert _control_model({"hazard_per_month": 0.1}) == PiecewiseExponential((0.0,), (0.1,))
    w = _control_model({"weibull": {"shape": 1.5, "median_months": 12}})
    assert w.shape == 1.5 and w.median() == pytest.approx(12.0)
    assert _control_model({"weibull": {"shape": 2, "scale_months": 8}}) == Weibull(2.0, 8.0)
    pw = _control_model({"piecewise": {"start_months": [0, 6], "hazard_per_month": [0.05, 0.1]}})
    assert pw.hazard_per_month == (0.05, 0.1)
    cure = _control_model({"cure_fraction": 0.3, "median_months": 20})
    assert cure.survival(1e6) == pytest.approx(0.3)
    cure2 = _control_model({"cure_fraction": 0.3, "uncured": {"weibull": {"shape": 1.2, "scale_months": 30}}})
    assert cure2.uncured == Weibull(1.2, 30.0)


def test_specific_keys_override_groups_and_all() -> None:
    data = _base()
    data["population"]["mix"] = {"IHC 3+": 0.5, "IHC 2+/ISH+": 0.2, "IHC 1+": 0.3}
    data["arms"]["control"]["survival"] = {
        "all": {"median_months": 5},
        "HER2-positive": {"median_months": 10},
        "IHC 3+": {"median_months": 20},
    }
    models = scenario_from_dict(data).control.models
    assert models[IHC3].median() == pytest.approx(20)
    assert models[IHC2_ISH_POS].median() == pytest.approx(10)
    assert models[IHC1].median() == pytest.approx(5)


def test_experimental_hazard_ratio_applies_to_controls_category() -> None:
    s = scenario_from_dict(_base())
    # Exponential: HR 0.7 multiplies the hazard, so the median is 10 / 0.7.
    assert s.experimental.models[IHC3].median() == pytest.approx(10 / 0.7)


def test_allocation_and_defaults() -> None:
    data = _base()
    data["allocation"] = {"control": 1, "experimental": 2}
    del data["simulation"]
    s = scenario_from_dict(data)
    assert s.allocation == (1, 2)
    assert s.simulation.n_sims == 1000 and s.analysis.test == "logrank" and s.analysis.alpha == 0.025


# --- bad files -----------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    text = BASE.replace("n_patients: 400", "n_patients: [400")
    err = _error(tmp_path, text)
    assert err.line is not None and err.column is not None
    assert "YAML syntax" in str(err)
    assert f"{tmp_path / 'bad.yaml'}:{err.line}:{err.column}" in str(err)


def test_duplicate_key(tmp_path: Path) -> None:
    err = _error(tmp_path, BASE + "n_patients: 500\n")
    assert "duplicate key 'n_patients' (first written on line 13)" in str(err) and err.line == 18


def test_unknown_field_suggests(tmp_path: Path) -> None:
    data = _base()
    data["analysis"]["target_event"] = data["analysis"].pop("target_events")
    err = _error(tmp_path, data)
    assert err.field_path == "analysis.target_event"
    assert "did you mean 'target_events'?" in str(err)


def test_unknown_top_level_field_reports_its_line(tmp_path: Path) -> None:
    err = _error(tmp_path, BASE.replace("n_patients:", "n_patient:"))
    assert err.field_path == "n_patient" and "did you mean 'n_patients'?" in str(err)
    assert err.line == 13


def test_wrong_type(tmp_path: Path) -> None:
    data = _base()
    data["n_patients"] = "four hundred"
    err = _error(tmp_path, data)
    assert err.field_path == "n_patients"
    assert "must be a whole number" in str(err) and "got 'four hundred'" in str(err)


def test_negative_median(tmp_path: Path) -> None:
    data = _base()
    data["arms"]["control"]["survival"] = {"IHC 3+": {"median_months": -3}, "all": {"median_months": 5}}
    err = _error(tmp_path, data)
    assert err.field_path == 'arms.control.survival["IHC 3+"].median_months'
    assert err.value == -3 and "got -3" in str(err) and "allowed: a number > 0" in str(err)


def test_mix_must_sum_to_one(tmp_path: Path) -> None:
    data = _base()
    data["population"]["mix"] = {"IHC 3+": 0.7, "IHC 2+/ISH+": 0.2}
    err = _error(tmp_path, data)
    assert err.field_path == "population.mix" and "sum to 0.9" in str(err)


def test_unknown_evidence_id(tmp_path: Path) -> None:
    data = _base()
    data["arms"]["control"]["survival"] = {"all": {"from_evidence": "DB03.TDXD.PFS.median"}}
    err = _error(tmp_path, data)
    assert err.field_path == "arms.control.survival.all.from_evidence"
    assert "DB03.TDXd.PFS.median" in str(err)  # the case-insensitive match is suggested


def test_evidence_id_of_a_proportion_is_not_a_survival_model(tmp_path: Path) -> None:
    data = _base()
    data["arms"]["control"]["survival"] = {"all": {"from_evidence": "DB03.TDXd.ORR"}}
    err = _error(tmp_path, data)
    assert err.field_path == "arms.control.survival.all.from_evidence" and "proportion" in str(err)


def test_unknown_ihc_category(tmp_path: Path) -> None:
    data = _base()
    data["population"]["mix"] = {"IHC 3+": 0.7, "IHC 2+": 0.3}
    err = _error(tmp_path, data)
    assert err.field_path == 'population.mix["IHC 2+"]'
    assert "ISH result" in str(err) and "IHC 2+/ISH+" in str(err)


def test_target_events_above_n_patients(tmp_path: Path) -> None:
    data = _base()
    data["analysis"]["target_events"] = 401
    err = _error(tmp_path, data)
    assert err.field_path == "analysis.target_events" and "got 401" in str(err)


def test_n_sims_zero(tmp_path: Path) -> None:
    data = _base()
    data["simulation"]["n_sims"] = 0
    err = _error(tmp_path, data)
    assert err.field_path == "simulation.n_sims" and "allowed: a whole number in [1, 10000000]" in str(err)


@pytest.mark.parametrize(
    ("allocation", "path"),
    [("2:1", "allocation"), ({"control": 0, "experimental": 1}, "allocation.control"),
     ({"control": 1, "experimental": 1.5}, "allocation.experimental"),
     ({"control": 1, "treatment": 2}, "allocation.treatment")],
)
def test_bad_allocation(tmp_path: Path, allocation: Any, path: str) -> None:
    data = _base()
    data["allocation"] = allocation
    err = _error(tmp_path, data)
    assert err.field_path == path


def test_missing_model_for_a_category(tmp_path: Path) -> None:
    data = _base()
    data["arms"]["control"]["survival"] = {"IHC 3+": {"median_months": 10}}
    err = _error(tmp_path, data)
    assert err.field_path == "arms.control.survival" and "IHC 2+/ISH+" in str(err)


def test_noninferiority_needs_a_margin_above_one(tmp_path: Path) -> None:
    data = _base()
    data["design"] = "noninferiority"
    assert _error(tmp_path, data).field_path == "analysis.ni_margin"
    data["analysis"]["ni_margin"] = 0.8
    assert "allowed: a number > 1" in str(_error(tmp_path, data))


def test_design_test_pairing(tmp_path: Path) -> None:
    data = _base()
    data["analysis"]["test"] = "chi_square"
    err = _error(tmp_path, data)
    assert err.field_path == "analysis.test" and "does not fit design superiority" in str(err)


def test_binary_design_needs_response_not_survival(tmp_path: Path) -> None:
    data = _base()
    data["design"] = "binary"
    del data["analysis"]["target_events"]
    err = _error(tmp_path, data)
    assert err.field_path == "arms.control.survival"


def test_sample_size_needs_target_power_in_unit_interval(tmp_path: Path) -> None:
    data = _base()
    data["sample_size"] = {"target_power": 1.2}
    err = _error(tmp_path, data)
    assert err.field_path == "sample_size.target_power"
    data["sample_size"] = {"solve_for": "events"}
    assert _error(tmp_path, data).field_path == "sample_size.target_power"


def test_misclassification_row_must_sum_to_one(tmp_path: Path) -> None:
    data = _base()
    data["population"]["misclassification"] = {"IHC 2+/ISH+": {"IHC 3+": 0.1, "IHC 2+/ISH+": 0.8}}
    err = _error(tmp_path, data)
    assert err.field_path == 'population.misclassification["IHC 2+/ISH+"]' and "0.9" in str(err)


def test_sequential_fractions_must_end_at_one(tmp_path: Path) -> None:
    data = _base()
    data["analysis"]["sequential"] = {"information_fractions": [0.5, 0.9]}
    err = _error(tmp_path, data)
    assert err.field_path == "analysis.sequential.information_fractions"


def test_sequential_plan_round_trips() -> None:
    data = _base()
    data["analysis"]["sequential"] = {
        "information_fractions": [0.5, 0.75, 1.0], "efficacy_spending": "asHSD", "gamma": -4,
        "futility": "beta_spending", "beta_spending": "bsKD", "beta_rho": 2, "binding_futility": True,
    }
    data["analysis"]["beta"] = 0.2
    s = scenario_from_dict(data)
    plan = s.analysis.sequential
    assert plan.gamma == -4 and plan.beta_rho == 2 and plan.binding_futility
    assert scenario_from_dict(s.resolved) == s


def test_error_text_format() -> None:
    data = _base()
    data["analysis"]["alpha"] = 0.7
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, path="mine.yaml")
    assert str(info.value) == "mine.yaml: analysis.alpha: out of range; got 0.7; allowed: a number in (0, 0.5)"
    assert info.value.allowed == "a number in (0, 0.5)" and info.value.value == 0.7


def test_missing_file() -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario("/nonexistent/scenario.yaml")


# --- no traceback for any mangled field --------------------------------------------

_JUNK: tuple[Any, ...] = ("junk", -1, 0, None, [], {}, True, 1e300)


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))] + [path]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))] + [path]
    return [path]


@pytest.mark.parametrize("name", ["ihc3_deescalation_ni.yaml", "neoadjuvant_pcr_by_ihc.yaml",
                                  "simon_two_stage_orr.yaml"])
def test_any_mangled_field_gives_a_scenario_error_or_a_scenario(name: str) -> None:
    resolved = load_scenario(ROOT / "scenarios" / name).resolved
    for path in _leaves(resolved):
        if not path:
            continue
        for junk in _JUNK:
            data = copy.deepcopy(resolved)
            target = data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = junk
            try:
                scenario_from_dict(data)
            except ScenarioError:
                pass  # any other exception fails the test with its traceback


# --- documentation ---------------------------------------------------------------------

README = ROOT / "scenarios" / "README.md"


def test_readme_example_loads() -> None:
    text = README.read_text()
    example = text.split("## A complete, annotated example")[1].split("```yaml")[1].split("```")[0]
    scenario = scenario_from_dict(yaml.safe_load(example), path="README example")
    assert scenario.analysis.ni_margin == 1.3


def test_readme_documents_every_field() -> None:
    from simtrial.scenario._analysis import ANALYSIS_FIELDS, SEQUENTIAL_FIELDS
    from simtrial.scenario._models import RESPONSE_FIELDS, SURVIVAL_FIELDS
    from simtrial.scenario.loader import POPULATION_FIELDS, SAMPLE_SIZE_FIELDS, TOP_FIELDS

    text = README.read_text()
    fields = [*TOP_FIELDS, *POPULATION_FIELDS, *ANALYSIS_FIELDS, *SEQUENTIAL_FIELDS, *SURVIVAL_FIELDS,
              *RESPONSE_FIELDS, *SAMPLE_SIZE_FIELDS]
    undocumented = [f for f in fields if f"`{f}" not in text and f"{f}:" not in text]
    assert undocumented == []
