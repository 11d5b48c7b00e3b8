"""The analytic power printed beside a biomarker design is the power of its success test.

Success is the overall hypothesis rejected *after* the multiplicity adjustment over
(overall, subgroups): Bonferroni tests it at alpha / m, Holm at alpha / m first (so
alpha / m gives a lower bound), a fixed sequence at the full alpha (the overall comes
first).  The closed form is written out here from Schoenfeld's formula.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from scipy.stats import norm

import simtrial as st
from simtrial.scenario import load_scenario

SCENARIO = Path(__file__).parent.parent / "scenarios" / "antiher2_ihc_by_hr_stratified.yaml"


def _schoenfeld(hr: float, events: float, level: float, ratio: float = 1.0) -> float:
    share = ratio / (1.0 + ratio) ** 2
    return float(norm.cdf(math.sqrt(events * share) * abs(math.log(hr)) - norm.isf(level)))


@pytest.mark.parametrize("rule", ["holm", "bonferroni", "fixed_sequence"])
def test_biomarker_analytic_power_is_at_the_level_of_the_success_test(rule):
    sc = load_scenario(SCENARIO)
    sc = replace(sc, analysis=replace(sc.analysis, multiplicity=rule))
    res = st.run(sc, n_sims=200, seed=5)
    details = res.to_dict()["details"]
    a = sc.analysis
    m = 1 + len(a.subgroups)
    assert m == 4
    level = a.alpha if rule == "fixed_sequence" else a.alpha / m
    hr = details["events_weighted_mean_hazard_ratio"]
    want = _schoenfeld(hr, a.target_events, level)
    got = res.analytic_power["schoenfeld_approximate"]
    assert got == pytest.approx(want, rel=1e-12)
    note = details["analytic_power_note"]
    if rule == "fixed_sequence":
        assert "alpha /" not in note
    else:
        assert f"alpha / {m}" in note and (("lower bound" in note) == (rule == "holm"))


def test_holm_power_lies_between_its_bonferroni_bound_and_the_unadjusted_closed_form():
    sc = load_scenario(SCENARIO)
    res = st.run(sc, n_sims=2000, seed=7)
    se = math.sqrt(res.power * (1 - res.power) / 2000)
    hr = res.to_dict()["details"]["events_weighted_mean_hazard_ratio"]
    lower = res.analytic_power["schoenfeld_approximate"]
    upper = _schoenfeld(hr, sc.analysis.target_events, sc.analysis.alpha)
    assert lower - 4 * se <= res.power <= upper + 4 * se
    assert upper - lower > 0.1  # the two levels differ enough for the check to mean something


@pytest.mark.parametrize(("rule", "divisor"), [("holm", 4), ("bonferroni", 4), ("fixed_sequence", 1)])
def test_biomarker_closed_form_sizes_use_the_success_tests_level(rule, divisor):
    from simtrial.timeline.sizes import efficacy_alpha

    a = replace(load_scenario(SCENARIO).analysis, multiplicity=rule)
    level = efficacy_alpha(a, "biomarker")
    assert level.alpha == pytest.approx(a.alpha / divisor, rel=1e-15)
    assert level.sided == 1
    assert efficacy_alpha(a, "superiority").alpha == a.alpha  # subgroups do not gate a superiority trial's success
    sided2 = efficacy_alpha(replace(a, sided=2, alpha=0.05), "biomarker")
    assert sided2.per_side == pytest.approx(0.05 / divisor / 2, rel=1e-15)
