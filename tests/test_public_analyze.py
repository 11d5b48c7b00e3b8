"""``simtrial.analyze`` on one data set, checked against lifelines (Cox HR and its 95% CI, log-rank,
Kaplan-Meier at landmarks), with strictly positive times as lifelines needs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

import simtrial as st
from simtrial.errors import InvalidInput


def _data(seed: int, n: int = 240):
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    t = rng.exponential(np.where(arm == 1, 14.0, 10.0))
    c = rng.uniform(1.0, 30.0, n)
    return np.round(np.minimum(t, c), 1) + 0.1, (t <= c).astype(int), arm  # rounding makes ties


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_against_lifelines(seed: int) -> None:
    import pandas as pd

    time, event, arm = _data(seed)
    r = st.analyze(time, event, arm, landmark_months=[6, 12])
    df = pd.DataFrame({"T": time, "E": event, "arm": arm})
    cph = CoxPHFitter().fit(df, "T", "E")
    assert r.hazard_ratio == pytest.approx(math.exp(cph.params_["arm"]), rel=1e-6)
    lo, hi = np.exp(cph.confidence_intervals_.values[0])
    assert r.hazard_ratio_ci == pytest.approx((lo, hi), rel=1e-6)
    lr = logrank_test(time[arm == 0], time[arm == 1], event[arm == 0], event[arm == 1])
    assert r.logrank_z**2 == pytest.approx(lr.test_statistic, rel=1e-9)
    for a, k in ((0, 0), (1, 1)):
        km = KaplanMeierFitter().fit(time[arm == a], event[arm == a])
        for months in (6.0, 12.0):
            assert r.landmarks[months][k] == pytest.approx(float(km.survival_function_at_times(months).iloc[0]), rel=1e-12)
        assert r.__getattribute__("median_control_months" if a == 0 else "median_experimental_months") == pytest.approx(
            km.median_survival_time_)
    d = r.to_dict()
    assert d["n_control"] + d["n_experimental"] == len(time)
    assert set(r.to_frame()["statistic"]) >= {"logrank_z", "hazard_ratio", "hazard_ratio_ci_lower"}


def test_frozen_and_flags() -> None:
    r = st.analyze([1.0, 2.0, 3.0], [0, 0, 0], [0, 1, 1])
    assert "logrank_undefined" in r.flags and math.isnan(r.logrank_z)
    assert r.to_dict()["logrank_z"] is None
    with pytest.raises(AttributeError):
        r.hazard_ratio = 1.0  # type: ignore[misc]


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(InvalidInput, match="arm"):
        st.analyze([1.0, 2.0], [1, 0], [0, 2])


def test_trial_built_in_python_equals_the_scenario_file() -> None:
    """No YAML: the trial as frozen dataclasses gives the same trials as the equivalent scenario."""
    ihc3 = st.CATEGORIES.index("IHC 3+")
    control = st.Exponential(median_months=10.0)
    scenario = st.Scenario(
        name="python", description="", design="superiority", endpoint="time_to_event",
        population=st.Population(mix={ihc3: 1.0}),
        analysis=st.Analysis(test="logrank", alpha=0.025, target_events=200),
        simulation=st.Simulation(n_sims=300, seed=5),
        n_patients=300,
        control=st.Arm("control", {ihc3: control}),
        experimental=st.Arm("experimental", {ihc3: control.with_hazard_ratio(0.7)}),
        accrual=st.Accrual(duration_months=12.0),
    )
    from_file = st.scenario_from_dict({
        "name": "python", "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"median_months": 10}}},
                 "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}}},
        "n_patients": 300, "accrual": {"duration_months": 12},
        "analysis": {"test": "logrank", "alpha": 0.025, "target_events": 200},
        "simulation": {"n_sims": 300, "seed": 5},
    })
    a, b = st.run(scenario), st.run(from_file)
    assert a.power == b.power and a.analytic_power == b.analytic_power
    assert a.per_trial_frame().equals(b.per_trial_frame())
