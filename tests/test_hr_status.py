"""Hormone-receptor status as a second patient factor: prevalence, keys and precedence, parsing, round trip.

The expected figures are written out by hand here (products of the stated
prevalences, Bayes' rule in explicit loops, a precedence table written from
the documented rule), never taken from the code under test.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import yaml
from scipy.stats import chisquare

from simtrial.designs._survival import build_spec
from simtrial.her2 import (
    CATEGORIES,
    IHC1,
    IHC2_ISH_NEG,
    IHC2_ISH_POS,
    IHC3,
    Cells,
    parse_hr_status,
    split_hr_key,
)
from simtrial.scenario import ScenarioError, scenario_from_dict
from simtrial.simulate import patient_data
from simtrial.spec import Population

BASE = {
    "name": "hr",
    "design": "superiority",
    "population": {"mix": {"IHC 3+": 0.5, "IHC 2+/ISH+": 0.2, "IHC 1+": 0.3},
                   "hr_status": {"positive_fraction": {"all": 0.6, "IHC 3+": 0.45}}},
    "arms": {"control": {"survival": {"all": {"median_months": 10.0}}},
             "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}}},
    "n_patients": 400,
    "accrual": {"duration_months": 12},
    "analysis": {"test": "logrank", "target_events": 250},
    "simulation": {"n_sims": 50, "seed": 3},
}
CELLS = Cells(True)


def _load(**changes):
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return scenario_from_dict(data)


def _cell(name: str) -> int:
    her2, hr = split_hr_key(name)
    return CATEGORIES.index(her2) * 2 + hr


# --- names --------------------------------------------------------------------------------------


def test_spellings_of_hr_status():
    for text in ("HR+", "hr+", "HR positive", "HR-positive", "HR pos"):
        assert parse_hr_status(text) == 0
    for text in ("HR-", "HR negative", "HR-negative", "HR\u2212"):
        assert parse_hr_status(text) == 1
    assert split_hr_key("IHC 2+/ISH+/HR-") == ("IHC 2+/ISH+", 1)
    assert split_hr_key("IHC 2+/ISH+") == ("IHC 2+/ISH+", None)
    assert split_hr_key("HER2-low/HR positive") == ("HER2-low", 0)
    assert CELLS.name(IHC3 * 2 + 1) == "IHC 3+/HR-"
    assert CELLS.codes_name(CELLS.of_categories((IHC1, IHC2_ISH_NEG), 0)) == "HER2-low/HR+"
    assert CELLS.codes_name(CELLS.of_categories(range(6), 1)) == "HR-"


# --- prevalence arithmetic --------------------------------------------------------------------------


def test_cell_prevalence_is_mix_times_hr_fraction():
    pop = _load().population
    mix = {IHC3: 0.5, IHC2_ISH_POS: 0.2, IHC1: 0.3}
    positive = {IHC3: 0.45, IHC2_ISH_POS: 0.6, IHC1: 0.6}
    want = np.zeros(12)
    for c, p in mix.items():
        want[2 * c] = p * positive[c]
        want[2 * c + 1] = p * (1 - positive[c])
    assert pop.n_cells == 12
    np.testing.assert_allclose(pop.screened_prevalence(), want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(pop.true_weights(), want, atol=1e-15)
    # overall HR+ share: 0.5 x 0.45 + 0.2 x 0.6 + 0.3 x 0.6 = 0.525
    assert pop.true_weights()[0::2].sum() == pytest.approx(0.525, abs=1e-15)
    # aggregated over HR status the IHC mix is unchanged
    np.testing.assert_allclose(pop.true_weights().reshape(6, 2).sum(axis=1),
                               [mix.get(c, 0.0) for c in range(6)], atol=1e-15)


def test_eligible_fraction_of_an_hr_positive_her2_low_trial():
    pop = _load(population__eligible=["HER2-low/HR+"]).population
    # only IHC 1+/HR+ exists among HER2-low/HR+ cells here: 0.3 x 0.6
    assert pop.eligible_fraction == pytest.approx(0.18, abs=1e-15)
    assert pop.assessed_categories() == (_cell("IHC 1+/HR+"),)
    pop = _load(population__eligible=["HR-"]).population
    assert pop.eligible_fraction == pytest.approx(0.5 * 0.55 + 0.2 * 0.4 + 0.3 * 0.4, abs=1e-15)


def test_misclassification_acts_on_ihc_only():
    m = {"IHC 2+/ISH+": {"IHC 2+/ISH+": 0.8, "IHC 3+": 0.15, "IHC 1+": 0.05},
         "IHC 3+": {"IHC 3+": 0.9, "IHC 2+/ISH+": 0.1}}
    pop = _load(population__misclassification=m, population__eligible=["HER2-positive"]).population
    mix = {IHC3: 0.5, IHC2_ISH_POS: 0.2, IHC1: 0.3}
    positive = {IHC3: 0.45, IHC2_ISH_POS: 0.6, IHC1: 0.6}
    scoring = {(IHC2_ISH_POS, IHC2_ISH_POS): 0.8, (IHC2_ISH_POS, IHC3): 0.15, (IHC2_ISH_POS, IHC1): 0.05,
               (IHC3, IHC3): 0.9, (IHC3, IHC2_ISH_POS): 0.1, (IHC1, IHC1): 1.0}
    joint = np.zeros((12, 12))  # written loop by loop: P(true cell, assessed cell), eligible HER2-positive
    for (t, a), p in scoring.items():
        for hr in (0, 1):
            share = positive[t] if hr == 0 else 1 - positive[t]
            if a in (IHC2_ISH_POS, IHC3):
                joint[2 * t + hr, 2 * a + hr] = mix[t] * share * p
    np.testing.assert_allclose(pop.joint_probabilities(), joint, atol=1e-15)
    assert pop.eligible_fraction == pytest.approx(joint.sum(), abs=1e-15)
    # Bayes: P(true = IHC 1+/HR+ | assessed) is 0 for every eligible cell (1+ is always scored right);
    # P(true = IHC 2+/ISH+/HR- | assessed IHC 3+/HR-) = 0.2 x 0.4 x 0.15 / (0.2 x 0.4 x 0.15 + 0.5 x 0.55 x 0.9)
    tga = pop.true_given_assessed()
    a = _cell("IHC 3+/HR-")
    assert tga[a, _cell("IHC 2+/ISH+/HR-")] == pytest.approx(0.012 / (0.012 + 0.2475), abs=1e-15)
    assert tga[a, _cell("IHC 2+/ISH+/HR+")] == 0.0  # HR status is read without error
    assert pop.true_categories() == tuple(sorted(_cell(n) for n in (
        "IHC 2+/ISH+/HR+", "IHC 2+/ISH+/HR-", "IHC 3+/HR+", "IHC 3+/HR-")))


def test_without_hr_status_every_array_is_the_six_categories():
    pop = Population(mix={IHC3: 0.7, IHC2_ISH_POS: 0.3})
    assert pop.n_cells == 6 and pop.cells == Cells(False)
    np.testing.assert_array_equal(pop.joint_probabilities(), np.diag([0, 0, 0, 0, 0.3, 0.7]))


# --- sampled cell frequencies -----------------------------------------------------------------------


def test_sampled_cells_follow_the_prevalence():
    m = {"IHC 2+/ISH+": {"IHC 2+/ISH+": 0.8, "IHC 3+": 0.2}}
    scenario = _load(population__misclassification=m, n_patients=20000, analysis__target_events=100)
    spec = build_spec(scenario)
    pts = patient_data(spec, seed=11)
    pop = scenario.population
    true = pts["true_category"].cat.codes.to_numpy()
    assessed = pts["assessed_category"].cat.codes.to_numpy()
    joint = pop.joint_probabilities()
    pairs = [(t, a) for t, a in itertools.product(range(12), range(12)) if joint[t, a] > 0]
    observed = [int(((true == t) & (assessed == a)).sum()) for t, a in pairs]
    assert sum(observed) == 20000  # no patient outside the cells that can occur
    expected = [20000 * joint[t, a] / joint.sum() for t, a in pairs]
    assert chisquare(observed, expected).pvalue > 1e-3
    assert list(pts["true_category"].cat.categories[:2]) == ["IHC 0/HR+", "IHC 0/HR-"]
    # HR status is never misclassified: every patient keeps her HR status
    assert ((true % 2) == (assessed % 2)).all()


def test_randomisation_within_hr_strata_balances_the_arms_there():
    scenario = _load(randomisation={"strata": "by_hr_status"}, n_patients=999, analysis__target_events=100)
    pts = patient_data(build_spec(scenario), seed=5)
    hr = pts["assessed_category"].cat.codes.to_numpy() % 2
    arm = pts["arm"].to_numpy().astype(int)
    for h in (0, 1):  # permuted blocks of 4 within each HR stratum: at most 2 apart
        assert abs(2 * arm[hr == h].sum() - (hr == h).sum()) <= 2


# --- precedence -------------------------------------------------------------------------------------


def test_most_specific_key_wins():
    survival = {"all": {"median_months": 1.0}, "HR-": {"median_months": 2.0}, "HER2-low": {"median_months": 3.0},
                "HER2-positive/HR+": {"median_months": 4.0}, "IHC 3+": {"median_months": 5.0},
                "IHC 3+/HR-": {"median_months": 6.0}}
    mix = {c: 1 / 6 for c in CATEGORIES}
    sc = _load(population__mix=mix, population__hr_status={"positive_fraction": 0.5},
               arms__control__survival=survival)
    # the documented order: cell > category > group/HR > group > HR > all
    want = {"IHC 0/HR+": 1, "IHC 0/HR-": 2, "ultralow/HR+": 1, "ultralow/HR-": 2,
            "IHC 1+/HR+": 3, "IHC 1+/HR-": 3, "IHC 2+/ISH-/HR+": 3, "IHC 2+/ISH-/HR-": 3,
            "IHC 2+/ISH+/HR+": 4, "IHC 2+/ISH+/HR-": 2, "IHC 3+/HR+": 5, "IHC 3+/HR-": 6}
    got = {CELLS.name(c): m.median() for c, m in sc.control.models.items()}
    assert got == pytest.approx(want)
    # the experimental arm's HR 0.7 multiplies each cell's own control model
    assert sc.experimental.models[_cell("IHC 3+/HR-")].median() == pytest.approx(6.0 / 0.7)


def test_an_effect_map_applies_to_both_hr_statuses_below_every_key():
    sc = _load(arms__experimental={"effect_map": {"name": "T-DXd", "reference": {"median_months": 10.0}},
                                   "survival": {"IHC 3+/HR-": {"median_months": 99.0}}})
    e = sc.experimental.models
    assert e[_cell("IHC 3+/HR+")].median() != pytest.approx(99.0)
    assert e[_cell("IHC 3+/HR-")].median() == pytest.approx(99.0)
    assert e[_cell("IHC 1+/HR+")] == e[_cell("IHC 1+/HR-")]


def test_two_keys_at_one_level_may_not_overlap():
    with pytest.raises(ScenarioError, match="IHC 1\\+/HR\\+ is covered twice") as err:
        _load(arms__control__survival={"all": {"median_months": 1.0}, "HER2-low/HR+": {"median_months": 2.0},
                                       "IHC 1+-2+/ISH-/HR+": {"median_months": 3.0}})
    assert err.value.field_path == 'arms.control.survival["IHC 1+-2+/ISH-/HR+"]'


# --- parser errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("change, path, words", [
    ({"population__hr_status": {"positive_fractions": 0.5}}, "population.hr_status", "positive_fractions"),
    ({"population__hr_status": {"positive_fraction": 1.2}}, "population.hr_status.positive_fraction", "1.2"),
    ({"population__hr_status": {"positive_fraction": {"IHC 3+": 0.5, "IHC 1+": 0.5}}},
     "population.hr_status.positive_fraction", "IHC 2+/ISH+"),
    ({"population__hr_status": {"positive_fraction": {"all": 0.5, "IHC 4+": 0.5}}},
     "population.hr_status.positive_fraction", "IHC 4+"),
    ({"population__hr_status": None, "arms__control__survival": {"all": {"median_months": 5}, "HR-": {
        "median_months": 3}}}, "arms.control.survival", "no hr_status"),
    ({"population__hr_status": None, "analysis__subgroups": ["IHC 3+/HR+"]}, "analysis.subgroups", "no hr_status"),
    ({"population__mix": {"IHC 3+/HR+": 0.5, "IHC 3+/HR-": 0.5}}, "population.mix", "population.hr_status"),
    ({"population__fixed_counts": {"IHC 3+": 400}, "population__mix": None}, "population.hr_status",
     "fixed_counts"),
    ({"design": "binary", "arms": {"control": {"response": {"all": {"probability": 0.3}}},
                                   "experimental": {"response": {"all": {"probability": 0.5}}}},
      "accrual": None, "analysis": {"test": "chi_square"}}, "population.hr_status", "time-to-event"),
    ({"randomisation": {"strata": "by_hr_statuses"}}, "randomisation.strata", "by_hr_statuses"),
    ({"population__hr_status": None, "analysis": {"test": "stratified_logrank", "target_events": 250,
                                                  "strata": "by_hr_status"}}, "analysis.strata", "hr_status"),
    ({"analysis__subgroups": ["HER2-low/HR+"], "population__eligible": ["HER2-positive"]}, "analysis.subgroups",
     "no enrolled patient"),
])
def test_bad_input_names_field_and_value(change, path, words):
    with pytest.raises(ScenarioError) as err:
        _load(**change)
    assert err.value.field_path.startswith(path), err.value
    assert words in str(err.value), err.value


def test_a_prior_is_refused_with_hr_status():
    with pytest.raises(ScenarioError, match="prior") as err:
        _load(prior={"experimental": {"all": {"hazard_ratio": {"lognormal": {"median": 0.7, "sd": 0.1}}}}})
    assert err.value.field_path.startswith("prior")


def test_cli_refuses_with_exit_2(tmp_path):
    from click.testing import CliRunner
    from simtrial_cli.main import main

    data = copy.deepcopy(BASE)
    data["population"]["hr_status"]["positive_fraction"]["all"] = -0.1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(main, ["validate", str(path)])
    assert out.exit_code == 2, out.output
    assert "population.hr_status.positive_fraction" in out.output and "Traceback" not in out.output


# --- round trip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [
    {},
    {"population__eligible": ["HER2-positive/HR-", "IHC 1+/HR+"], "analysis__subgroups": ["HR-", "IHC 3+/HR-"]},
    {"randomisation": {"strata": "by_group_and_hr_status"},
     "analysis": {"test": "stratified_cox", "target_events": 250, "strata": "by_hr_status",
                  "population": "HR+", "subgroups": ["HER2-positive/HR+"]}},
    {"randomisation": {"strata": {"a": ["HR+"], "b": ["IHC 3+/HR-"], "c": ["HER2-low/HR-", "IHC 2+/ISH+/HR-"]}}},
])
def test_resolved_scenario_round_trips(extra):
    sc = _load(**extra)
    again = scenario_from_dict(yaml.safe_load(yaml.safe_dump(dict(sc.resolved))))
    assert again == sc
    assert again.resolved == sc.resolved
    assert sc.resolved["population"]["hr_status"]["positive_fraction"] == {
        "IHC 1+": 0.6, "IHC 2+/ISH+": 0.6, "IHC 3+": 0.45}
