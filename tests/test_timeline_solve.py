"""Solving the timeline for the target events, against rpact's getSampleSizeSurvival, then by simulation.

Reference: ``fixtures/r/rpact_two_sided_gs.json`` (``Rscript
tests/fixtures/r/rpact_two_sided_gs.R``), block ``solve_timeline``: rpact
solves the follow-up given N and the accrual duration
(``maxNumberOfSubjects`` + ``accrualTime``), or the accrual duration given the
accrual rate and the follow-up (``accrualIntensity`` + ``followUpTime``), for
the Schoenfeld events; we solve for rpact's (non-integer) events and compare.
The confirmation simulates the solved design: the simulated mean events at
the analysis time within 4 MC SE of the target.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from simtrial_cli.main import main

from simtrial.errors import InvalidInput
from simtrial.scenario import scenario_from_dict
from simtrial.timeline.solve import solve_timeline

ROOT = Path(__file__).resolve().parents[1]
CASES = {c["id"]: c for c in json.loads((ROOT / "tests" / "fixtures" / "r" / "rpact_two_sided_gs.json").read_text())[
    "solve_timeline"]}


def _scenario(inp: dict[str, Any], n: int = 700, accrual: float = 18.0):
    eta = -math.log(1 - inp["dropoutRate"]) / inp["dropoutTime"] if inp["dropoutRate"] else 0.0
    return scenario_from_dict({
        "name": "solve", "design": "superiority", "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"hazard_per_month": inp["lambda2"]}},
                             "dropout": {"hazard_per_month": eta}},
                 "experimental": {"survival": {"all": {"hazard_ratio": inp["hazardRatio"]}},
                                  "dropout": {"hazard_per_month": eta}}},
        "n_patients": n, "accrual": {"duration_months": accrual}, "analysis": {"target_events": 100},
        "simulation": {"n_sims": 100, "seed": 5},
    })


@pytest.mark.parametrize("case_id", ["solve_followup_given_n", "solve_followup_dropout"])
def test_follow_up_given_n_matches_rpact(case_id: str) -> None:
    c = CASES[case_id]
    inp = c["inputs"]
    r = solve_timeline(_scenario(inp, inp["maxNumberOfSubjects"], inp["accrualTime"]), "followup_months",
                       target_events=c["maxNumberOfEvents"])
    assert r.followup_months == pytest.approx(c["followUpTime"], abs=1e-5)
    assert r.analysis_months == pytest.approx(c["analysisTime"], abs=1e-5)
    assert r.expected_events == pytest.approx(c["maxNumberOfEvents"], rel=1e-9)
    assert r.seconds < 0.5


def test_accrual_given_rate_matches_rpact() -> None:
    c = CASES["solve_accrual_given_rate"]
    inp = c["inputs"]
    r = solve_timeline(_scenario(inp), "accrual_months", target_events=c["maxNumberOfEvents"],
                       accrual_rate_per_month=inp["accrualIntensity"], followup_months=inp["followUpTime"])
    assert r.accrual_months == pytest.approx(c["accrualTime"][0], abs=1e-5)
    assert r.n_patients_exact == pytest.approx(c["maxNumberOfSubjects"], rel=1e-6)
    assert r.n_patients == math.ceil(c["maxNumberOfSubjects"])


def test_n_given_accrual_and_study_length_inverts_the_follow_up_solution() -> None:
    c = CASES["solve_followup_dropout"]
    inp = c["inputs"]
    sc = _scenario(inp, inp["maxNumberOfSubjects"], inp["accrualTime"])
    r = solve_timeline(sc, "n_patients", target_events=c["maxNumberOfEvents"], study_months=c["analysisTime"])
    assert r.n_patients_exact == pytest.approx(inp["maxNumberOfSubjects"], rel=1e-6)


@pytest.mark.mc
def test_solved_design_is_confirmed_by_simulation() -> None:
    c = CASES["solve_followup_dropout"]
    inp = c["inputs"]
    r = solve_timeline(_scenario(inp, 400, 24.0), "followup_months", target_events=161, confirm_n_sims=3000, seed=9)
    conf = r.confirmation
    assert conf["within_4_mc_se"]
    assert abs(conf["simulated_mean_events_at_analysis"] - 161) <= 4 * conf["mc_se"]
    q = conf["time_of_target_event_quantiles"]
    assert q["p5"] < r.analysis_months < q["p95"]


def test_solve_refuses_impossible_requests() -> None:
    inp = CASES["solve_followup_given_n"]["inputs"]
    sc = _scenario(inp)
    with pytest.raises(InvalidInput, match="n_patients"):
        solve_timeline(sc, "followup_months", target_events=800)
    with pytest.raises(InvalidInput, match="before accrual ends"):
        solve_timeline(sc, "followup_months", target_events=50)
    with pytest.raises(InvalidInput, match="followup_months"):
        solve_timeline(sc, "accrual_months", target_events=100, accrual_rate_per_month=20)
    with pytest.raises(InvalidInput, match="solve_for"):
        solve_timeline(sc, "power", target_events=100)


def test_cli_timeline_and_solve() -> None:
    runner = CliRunner()
    path = str(ROOT / "scenarios" / "tki_ihc_stratified.yaml")
    res = runner.invoke(main, ["timeline", path, "--times", "6,12,24"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "expected month" in res.output and "no simulation" in res.output
    res = runner.invoke(main, ["timeline", path, "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["looks"][0]["target_events"] == 500 and data["looks"][0]["cut_by"] == "events"
    res = runner.invoke(main, ["timeline", path, "--solve", "followup_months", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["solved_for"] == "followup_months"
    res = runner.invoke(main, ["timeline", path, "--times", "x"])
    assert res.exit_code == 2
    res = runner.invoke(main, ["timeline", path, "--solve", "accrual_months"])
    assert res.exit_code == 2 and "followup_months" in res.output
