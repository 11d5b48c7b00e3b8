"""Analytic event projections (``simtrial.timeline``) against closed forms, rpact and simulation.

- Closed form: exponential arms, uniform accrual, exponential dropout, the
  probability of an observed event by the analysis (``simtrial.stats.analytic.
  probability_of_event``: Lachin-Foulkes/rpact's formula, written out
  independently of the numerical integration here).
- rpact ``getSampleSizeSurvival``'s ``analysisTime`` (fixture
  ``fixtures/r/rpact_two_sided_gs.json``): the calendar time at which the
  expected events reach the target, fixed and group-sequential looks.
- Simulation (``test_mc_*``): on 5 designs (cure mixture, Weibull with piecewise
  accrual, misclassified mix with enrichment, piecewise exponential with 1:2
  allocation, shipped adjuvant cure-mixture scenario) the analytic expected
  events at several calendar times are within 4 MC SE of the simulated mean.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simtrial.scenario import load_scenario, scenario_from_dict
from simtrial.stats.analytic import probability_of_event
from simtrial.timeline import expected_events, timeline

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "r" / "rpact_two_sided_gs.json").read_text())


def _base(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "timeline",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"median_months": 12}}},
                 "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}}},
        "n_patients": 400,
        "accrual": {"duration_months": 18},
        "analysis": {"target_events": 250},
        "simulation": {"n_sims": 2000, "seed": 16},
    }
    d.update(over)
    return d


def test_exponential_uniform_dropout_matches_the_closed_form() -> None:
    arms = {"control": {"survival": {"all": {"median_months": 10}}, "dropout": {"hazard_per_month": 0.01}},
            "experimental": {"survival": {"all": {"hazard_ratio": 0.6}}, "dropout": {"hazard_per_month": 0.01}}}
    sc = scenario_from_dict(_base(arms=arms, allocation={"control": 1, "experimental": 2}))
    for t in (18.0, 24.0, 40.0):
        ours = expected_events(sc, [t])["total"][0]
        ref = 400 * probability_of_event(10, 0.6, 18, t - 18, allocation_ratio=2, dropout_hazard_per_month=0.01)
        assert ours == pytest.approx(ref, rel=1e-6)
    # during accrual: entry uniform on [0, t] for the t / 18 enrolled so far
    t = 9.0
    ours = expected_events(sc, [t])["total"][0]
    ref = 400 * (t / 18) * probability_of_event(10, 0.6, t, 0.0, allocation_ratio=2, dropout_hazard_per_month=0.01)
    assert ours == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("case_id", ["sas_fixed", "sas_gs_asOF_k4", "fixed_one_sided_dropout",
                                     "fixed_one_sided_ratio2", "gs_asP_k3_one_sided_dropout"])
def test_look_times_match_rpact_analysis_time(case_id: str) -> None:
    """rpact's analysisTime: when the expected events (under H1) reach each stage's events."""
    case = next(c for c in FIXTURE["sample_size"] if c["id"] == case_id)
    inp = case["inputs"]
    dropout = -math.log(1 - inp["dropoutRate"]) / inp["dropoutTime"] if inp["dropoutRate"] else 0.0
    arms = {"control": {"survival": {"all": {"hazard_per_month": inp["lambda2"]}},
                        "dropout": {"hazard_per_month": dropout}},
            "experimental": {"survival": {"all": {"hazard_ratio": inp["hazardRatio"]}},
                             "dropout": {"hazard_per_month": dropout}}}
    ratio = inp["allocationRatioPlanned"]
    sc = scenario_from_dict(_base(arms=arms, n_patients=1000, accrual={"duration_months": inp["accrualTime"]},
                                  allocation={"control": 1, "experimental": int(ratio)}))
    n = case["maxNumberOfSubjects"]
    for events, t_ref in zip(case["eventsPerStage"], case["analysisTime"], strict=True):
        # expected events at rpact's analysis time, with rpact's (non-integer) N
        from simtrial.timeline.projection import _Projector

        proj = _Projector(sc, 1000, None, 400.0)
        ours = proj.total(t_ref) * n / 1000
        assert ours == pytest.approx(events, rel=2e-5), (events, t_ref)


def test_timeline_looks_and_tables() -> None:
    sc = scenario_from_dict(_base(analysis={"target_events": 240, "sequential": {
        "information_fractions": [0.5, 1.0]}, "calendar_months": 60}))
    tl = timeline(sc, [0, 6, 12, 18, 30])
    assert [lk.target_events for lk in tl.looks] == [120, 240]
    assert tl.looks[0].cut_by == "events" and tl.looks[1].cut_by in ("events", "calendar")
    assert tl.looks[0].expected_events == pytest.approx(120, abs=1e-6)
    assert tl.looks[0].expected_time_months < tl.looks[1].expected_time_months
    assert tl.enrolled[0] == 0 and tl.enrolled[3] == pytest.approx(400)
    assert tl.enrolled_by_arm["control"][3] == pytest.approx(200)
    assert tl.events == pytest.approx(np.add(tl.events_by_arm["control"], tl.events_by_arm["experimental"]))
    cats = tl.events_by_arm_and_category["control"]
    assert set(cats) == {"IHC 3+"}
    d = tl.to_dict()
    assert d["looks"][0]["target_events"] == 120 and len(d["times_months"]) == 5
    # a calendar cut earlier than the events: the look happens at the calendar time
    early = timeline(scenario_from_dict(_base(analysis={"target_events": 390, "calendar_months": 20})))
    assert early.looks[0].cut_by == "calendar" and early.looks[0].expected_time_months == 20.0
    # a target never reached (cure mixture with few patients)
    cure = _base(arms={"control": {"survival": {"all": {"cure_fraction": 0.6, "median_months": 12}}},
                       "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}}},
                 analysis={"target_events": 300})
    never = timeline(scenario_from_dict(cure))
    assert never.looks[0].cut_by == "never" and not never.looks[0].reached
    assert never.events_eventually < 300


def test_timeline_is_fast() -> None:
    """A timeline is numerical integration, no simulation: a few milliseconds (the benchmark asks < 0.5 s)."""
    sc = load_scenario(ROOT / "scenarios" / "ihc3_deescalation_ni_gs.yaml")
    timeline(sc)
    start = time.perf_counter()
    tl = timeline(sc)
    assert time.perf_counter() - start < 0.5
    assert tl.seconds < 0.5


# ----------------------------------------------------------------- Monte Carlo

MC_DESIGNS: dict[str, dict[str, Any]] = {
    "cure_mixture": _base(
        arms={"control": {"survival": {"all": {"cure_fraction": 0.4, "median_months": 15}},
                          "dropout": {"probability": 0.05, "by_months": 12}},
              "experimental": {"survival": {"all": {"hazard_ratio": 0.7}},
                               "dropout": {"probability": 0.05, "by_months": 12}}},
        n_patients=500, analysis={"target_events": 150}),
    "weibull_piecewise_accrual": _base(
        arms={"control": {"survival": {"all": {"weibull": {"shape": 1.6, "median_months": 14}}}},
              "experimental": {"survival": {"all": {"hazard_ratio": 0.65}}}},
        accrual={"rates_per_month": [10, 30], "start_months": [0, 6]}, analysis={"target_events": 200}),
    "misclassified_enrichment": _base(
        design="enrichment",
        population={"mix": {"IHC 3+": 0.4, "IHC 2+/ISH+": 0.2, "IHC 1+": 0.4}, "eligible": ["IHC 3+", "IHC 2+/ISH+"],
                    "misclassification": {"IHC 1+": {"IHC 1+": 0.8, "IHC 2+/ISH+": 0.2},
                                          "IHC 3+": {"IHC 3+": 0.9, "IHC 2+/ISH+": 0.1}}},
        arms={"control": {"survival": {"IHC 3+": {"median_months": 8}, "IHC 2+/ISH+": {"median_months": 12},
                                       "IHC 1+": {"median_months": 20}}},
              "experimental": {"survival": {"IHC 3+": {"hazard_ratio": 0.5}, "IHC 2+/ISH+": {"hazard_ratio": 0.7},
                                            "IHC 1+": {"hazard_ratio": 1.0}}}},
        analysis={"target_events": 250}),
    "piecewise_unequal_allocation": _base(
        arms={"control": {"survival": {"all": {"piecewise": {"start_months": [0, 6], "hazard_per_month": [0.02, 0.07]}}},
                          "dropout": {"hazard_per_month": 0.01}},
              "experimental": {"survival": {"all": {"hazard_ratio": 0.75}},
                               "dropout": {"hazard_per_month": 0.02}}},
        allocation={"control": 1, "experimental": 2}, analysis={"target_events": 200}),
}


def _check_mc(sc, times: list[float], n_sims: int, seed: int) -> None:
    tl = timeline(sc, times, simulate_n=n_sims, seed=seed)
    sim = tl.simulated["events_at_times"]
    for t, mean, se, ours in zip(sim["times_months"], sim["mean_events"], sim["mc_se"],
                                 [e for t_, e in zip(tl.times_months, tl.events, strict=True) if t_ > 0],
                                 strict=True):
        assert abs(ours - mean) <= 4 * se + 1e-9, f"t = {t}: analytic {ours:.3f}, simulated {mean:.3f} +- {se:.3f}"
    for lk in tl.looks:
        if lk.cut_by == "events":
            q = lk.simulated_time_quantiles
            assert q["p5"] <= lk.expected_time_months <= q["p95"]
            assert q["p25"] - 0.5 <= lk.expected_time_months <= q["p75"] + 0.5


@pytest.mark.mc
@pytest.mark.parametrize("name", sorted(MC_DESIGNS))
def test_mc_analytic_events_within_4_se_of_simulation(name: str) -> None:
    _check_mc(scenario_from_dict(MC_DESIGNS[name]), [3.0, 9.0, 15.0, 24.0, 36.0], 4000, 1600 + len(name))


@pytest.mark.mc
def test_mc_shipped_adjuvant_cure_mixture_scenario() -> None:
    sc = load_scenario(ROOT / "scenarios" / "adjuvant_tdm1_idfs.yaml")
    _check_mc(sc, [12.0, 24.0, 48.0], 1000, 1616)


def test_calendar_cut_analytic_power_uses_expected_events() -> None:
    """A calendar-time analysis: Schoenfeld's power at the analytic expected events, the same for any seed."""
    from simtrial.power import run
    from simtrial.stats.analytic import schoenfeld_power

    d = _base(analysis={"calendar_months": 30}, simulation={"n_sims": 200, "seed": 1})
    a = run(scenario_from_dict(d))
    d["simulation"]["seed"] = 2
    b = run(scenario_from_dict(d))
    assert a.analytic_power["schoenfeld"] == b.analytic_power["schoenfeld"]
    events = expected_events(scenario_from_dict(d), [30.0])["total"][0]
    assert a.analytic_power["schoenfeld"] == pytest.approx(schoenfeld_power(events, 0.7, 0.025))
    assert abs(float(np.mean(a.outcomes.events)) - events) < 4 * float(np.std(a.outcomes.events)) / math.sqrt(200)
    # an analysis population by assessed category counts only its patients
    sub = _base(population={"mix": {"IHC 3+": 0.5, "IHC 2+/ISH+": 0.5}}, analysis={"calendar_months": 30})
    sc = scenario_from_dict(sub)
    both = expected_events(sc, [30.0])["total"][0]
    only = expected_events(sc, [30.0], assessed=(5,))["total"][0]
    assert only == pytest.approx(both / 2)
