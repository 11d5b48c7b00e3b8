"""Design ``single_arm_tte`` (``simtrial.designs.single_arm_tte``): type I error, power, sample size, scenario, errors.

References, none of them this design's own output:

- exact Poisson test with every event observed (``target_events = n_patients``, no dropout): D = n and
  r0 x PY ~ Gamma(n, 1) x r0 / rate, and the test rejects when r0 x PY >= mu*, the root of
  P(Poisson(mu*) <= n) = alpha, i.e. mu* = gammainccinv(n + 1, alpha) (the Poisson-Gamma duality).  So the
  exact size is gammaincc(n, mu*) and the power at rate r1 is gammaincc(n, mu* r1 / r0) (scipy.special);
- one-sample log-rank: type I error under the reference curve within 4 MC SE of alpha with Wu's variance,
  never above alpha + 4 MC SE with the classic one (Wu 2015), and power against the independent per-trial
  simulator ``simtrial.stats.single_arm_tte.simulate_single_arm`` (a separate numpy code path, tested on
  its own in tests/test_single_arm_tte.py) within 4 combined MC SE;
- the calendar time of a patient-years futility look against a bisection on the patient-years written out
  here from its definition.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.special import gammaincc, gammainccinv

from simtrial.designs.single_arm_tte import _patient_year_times, inverse_survival
from simtrial.errors import InvalidInput
from simtrial.power import run
from simtrial.samplesize import sample_size
from simtrial.scenario import ScenarioError, load_scenario, scenario_from_dict
from simtrial.stats.single_arm_tte import simulate_single_arm
from simtrial.survival import CureMixture, Exponential, PiecewiseExponential, Weibull
from simtrial.trial_parameters import TrialParameters

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "atempt_like_single_arm_tte.yaml"


def _data(**analysis) -> dict:
    return {
        "name": "single-arm tte", "design": "single_arm_tte",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"experimental": {"survival": {"all": {"median_months": 16.0}}}},
        "n_patients": 150, "accrual": {"duration_months": 12},
        "analysis": {"test": "one_sample_logrank", "alpha": 0.025, "reference": {"median_months": 10.0},
                     "calendar_months": 30, **analysis},
        "simulation": {"n_sims": 1000, "seed": 3},
    }


def _mc_se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


@pytest.mark.mc
@pytest.mark.parametrize(("n", "rate", "alpha"), [(30, 0.2, 0.05), (12, 0.5, 0.025)])
def test_exact_poisson_size_and_power_every_event_observed(n: int, rate: float, alpha: float) -> None:
    data = _data(test="exact_poisson", reference_rate_per_patient_year=rate, alpha=alpha, target_events=n)
    del data["analysis"]["reference"], data["analysis"]["calendar_months"]
    data["n_patients"] = n
    r1 = 0.5 * rate
    data["arms"]["experimental"]["survival"] = {"all": {"hazard_per_month": r1 / 12.0}}
    sc = scenario_from_dict(data)
    mu_star = float(gammainccinv(n + 1, alpha))
    sims = 20_000
    size = float(gammaincc(n, mu_star))
    null = run(sc, n_sims=sims, seed=11, null=True)
    assert size <= alpha
    assert abs(null.power - size) <= 4 * _mc_se(size, sims), (null.power, size)
    power = float(gammaincc(n, mu_star * r1 / rate))
    h1 = run(sc, n_sims=sims, seed=12)
    assert abs(h1.power - power) <= 4 * _mc_se(power, sims), (h1.power, power)
    assert h1.details["test"] == "exact_poisson" and h1.mean_events == n


@pytest.mark.mc
def test_one_sample_logrank_type_one_error_and_power() -> None:
    sims = 8000
    wu = scenario_from_dict(_data(logrank_variance="wu"))
    p_wu = run(wu, n_sims=sims, seed=21, null=True).power
    assert abs(p_wu - 0.025) <= 4 * _mc_se(0.025, sims), p_wu
    classic = scenario_from_dict(_data())
    p_classic = run(classic, n_sims=sims, seed=21, null=True).power
    assert p_classic <= 0.025 + 4 * _mc_se(0.025, sims)
    assert p_classic < p_wu  # the classic variance E is conservative (Wu 2015)
    # power against the independent simulator (same design: uniform entry 12 months, analysis at 30)
    ours = run(classic, n_sims=4000, seed=22)
    ref = simulate_single_arm(Exponential(median_months=16.0), Exponential(median_months=10.0), n_patients=150,
                              accrual_months=12, analysis_months=30, n_sims=1500, seed=5)
    tol = 4 * math.sqrt(_mc_se(ours.power, 4000) ** 2 + _mc_se(ref.power_logrank, 1500) ** 2)
    assert abs(ours.power - ref.power_logrank) <= tol, (ours.power, ref.power_logrank)
    assert abs(ours.mean_events - ref.mean_events) <= 0.02 * ref.mean_events
    # the normal approximation printed beside it is in the same place
    assert abs(ours.analytic_power["one_sample_logrank_normal_approximation"] - ours.power) < 0.05


def test_patient_year_look_times_by_bisection() -> None:
    rng = np.random.default_rng(4)
    entry = rng.uniform(0, 12, (5, 40))
    y = np.where(rng.random((5, 40)) < 0.2, np.inf, rng.exponential(20.0, (5, 40)))
    targets = np.array([5.0, 20.0, 60.0])
    times = _patient_year_times(entry, y, targets)

    def py(i: int, t: float) -> float:
        return float(np.clip(np.minimum(t - entry[i], y[i]), 0.0, None).sum() / 12.0)

    for i in range(5):
        for j, target in enumerate(targets):
            lo, hi = 0.0, 1000.0
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if py(i, mid) < target else (lo, mid)
            assert times[i, j] == pytest.approx(hi, abs=1e-7)


def test_inverse_survival_matches_quantile_time() -> None:
    u = np.array([0.99, 0.7, 0.5, 0.31, 0.05])
    for model in (Exponential(median_months=7.0), PiecewiseExponential((0.0, 6.0), (0.02, 0.1)),
                  Weibull(1.7, 20.0), CureMixture(0.3, Weibull(1.2, 10.0), 0.8)):
        expected = [model.quantile_time(float(p)) for p in u]
        np.testing.assert_allclose(inverse_survival(model, u), expected, rtol=1e-12)


def test_trials_do_not_depend_on_n_sims() -> None:
    sc = scenario_from_dict(_data(interim_futility=[{"patient_years": 40, "max_events": 30}]))
    small = run(sc, n_sims=50, seed=9).per_trial_frame()
    large = run(sc, n_sims=1500, seed=9).per_trial_frame()
    assert small.equals(large.iloc[:50].reset_index(drop=True))


def test_futility_look_stops_and_is_counted() -> None:
    loose = run(scenario_from_dict(_data(interim_futility=[{"patient_years": 60, "max_events": 1000}])), n_sims=400,
                seed=2)
    tight = run(scenario_from_dict(_data(interim_futility=[{"patient_years": 60, "max_events": 0}])), n_sims=400,
                seed=2)
    assert loose.decisions["stop_futility_look1"]["probability"] == 0.0
    assert tight.decisions["stop_futility_look1"]["probability"] == 1.0 and tight.power == 0.0
    look = tight.details["futility_looks"][0]
    assert look["patient_years"] == 60 and look["mean_calendar_months"] < 30


def test_sample_size_exact_poisson_scan_is_confirmed() -> None:
    data = _data(test="exact_poisson", reference_rate_per_patient_year=12 * math.log(2) / 10)
    del data["analysis"]["reference"]
    data["n_patients"] = 60
    data["sample_size"] = {"target_power": 0.8}
    sc = scenario_from_dict(data)
    r = sample_size(sc, n_sims=400, seed=5)
    assert r.confirmed and r.achieved_power >= 0.8
    scan = {p["n_patients"]: p["power"] for p in r.curve}
    first = min(n for n, p in scan.items() if p >= 0.8)
    assert r.n_required >= first and scan[r.n_required] >= 0.8
    assert r.details["n_from_which_every_larger_n_reaches_target"] >= first
    # the answer reproduces: the confirmation run is the resolved scenario's run
    again = run(scenario_from_dict(r.resolved_scenario()))
    assert again.power == r.achieved_power


def test_sample_size_one_sample_logrank_uses_the_simulated_search() -> None:
    data = _data()
    data["sample_size"] = {"target_power": 0.8}
    r = sample_size(scenario_from_dict(data), n_sims=300, seed=5, precision=0.1)
    assert r.confirmed and r.achieved_power >= 0.8
    assert 20 < r.n_required < 200


def test_shipped_scenario_header_claims() -> None:
    """The Derived block of scenarios/atempt_like_single_arm_tte.yaml, measured at its seed."""
    sc = load_scenario(SCENARIO)
    h1 = run(sc)
    h0 = run(sc, null=True)
    assert round(h1.power, 2) == 0.86
    assert round(h0.power, 3) == 0.044
    assert round(h1.decisions["stop_futility_look1"]["probability"], 2) == 0.01
    assert round(h0.decisions["stop_futility_look1"]["probability"], 2) == 0.24
    # the experimental arm passes through ATEMPT's 5-year iDFS of 97%
    assert sc.experimental.models[5].survival(60.0) == pytest.approx(0.97, abs=1e-12)
    assert sc.analysis.reference_rate_per_patient_year == 0.0124


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["analysis"].pop("reference"), "analysis.reference"),
    (lambda d: d["analysis"].update(test="exact_poisson", reference={"weibull": {"shape": 1.5, "median_months": 10}}),
     "analysis.reference_rate_per_patient_year"),
    (lambda d: d["analysis"].update(test="exact_poisson", reference_rate_per_patient_year=0.5,
                                    logrank_variance="wu"), "analysis.logrank_variance"),
    (lambda d: d["analysis"].update(interim_futility=[{"patient_years": 50, "max_events": 4},
                                                      {"patient_years": 40, "max_events": 9}]),
     "analysis.interim_futility"),
    (lambda d: d["analysis"].update(interim_futility=[{"patient_years": 50}]), "analysis.interim_futility[0]"),
    (lambda d: d["analysis"].update(reference_rate_per_patient_year=-1), "analysis.reference_rate_per_patient_year"),
    (lambda d: d["analysis"].update(sided=2), "analysis.sided"),
    (lambda d: d["analysis"].update(test="logrank"), "analysis.test"),
    (lambda d: d["arms"].update(control={"survival": {"all": {"median_months": 10}}}), "arms.control"),
    (lambda d: d["analysis"].update(p0=0.2), "analysis.p0"),
    (lambda d: d["analysis"].pop("calendar_months"), "analysis.target_events"),
    (lambda d: d.update(design="superiority"), "analysis.test"),
])
def test_bad_input_names_the_field(change, field: str) -> None:
    data = _data()
    change(data)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert err.value.field_path.startswith(field), (err.value.field_path, str(err.value))


def test_other_designs_refuse_the_single_arm_fields() -> None:
    base = {"name": "two-arm", "design": "superiority", "population": {"mix": {"IHC 3+": 1.0}},
            "arms": {"control": {"survival": {"all": {"median_months": 10}}},
                     "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}}},
            "n_patients": 200, "accrual": {"duration_months": 12},
            "analysis": {"target_events": 100}}
    for name, value in (("reference", {"median_months": 10}), ("reference_rate_per_patient_year", 0.1),
                        ("interim_futility", [{"patient_years": 10, "max_events": 3}]),
                        ("logrank_variance", "wu")):
        data = copy.deepcopy(base)
        data["analysis"][name] = value
        with pytest.raises(ScenarioError) as err:
            scenario_from_dict(data)
        assert err.value.field_path == f"analysis.{name}"


def test_cli_bad_input_exits_2_naming_the_field(tmp_path: Path) -> None:
    data = _data()
    data["analysis"].pop("reference")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    out = subprocess.run([sys.executable, "-m", "cli", "run", str(path)], capture_output=True, text=True,
                         cwd=ROOT)
    if out.returncode != 2 and "No module named cli" in out.stderr:
        out = subprocess.run(["simtrial", "run", str(path)], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert "analysis.reference" in out.stderr + out.stdout


def test_per_trial_parameters_are_refused() -> None:
    sc = scenario_from_dict(_data())
    tp = TrialParameters(n_sims=10, n_categories=6, hazard_ratio=np.full((10, 6), 0.8))
    with pytest.raises(InvalidInput, match="single_arm_tte takes no per-trial parameters"):
        run(sc, n_sims=10, seed=1, trial_parameters=tp)


def test_resolved_round_trip() -> None:
    sc = load_scenario(SCENARIO)
    again = scenario_from_dict(sc.resolved)
    assert again == sc
    assert run(again, n_sims=200).power == run(sc, n_sims=200).power
