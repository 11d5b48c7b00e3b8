"""Non-proportional hazards in simulated trials (issue 15): time-varying effects and the NPH tests.

- sampled event times follow the survival a time-varying hazard ratio implies (KS at a fixed
  seed, for exponential, piecewise, Weibull and cure-mixture controls);
- a one-piece hazard ratio is today's constant hazard ratio, trial by trial (scenario level:
  bit for bit; kernel level: the time-varying path agrees to rounding);
- the average hazard ratio equals gsDesign2's closed form where one exists;
- type I error at HR 1 within 4 Monte-Carlo SE of alpha (MaxCombo and RMST fixed, the
  modestly weighted log-rank with 2 looks), marked ``mc``;
- on a delayed-effect design MaxCombo power is above log-rank power (paired on the same trials).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simtrial.designs._survival import build_spec, efficacy_z
from simtrial.engine import layout as L
from simtrial.engine.eventtime import _sample_event_times
from simtrial.scenario import load_scenario
from simtrial.simulate import simulate
from simtrial.stats.nph import average_hazard_ratio
from simtrial.survival import (
    CureMixture,
    Exponential,
    PiecewiseExponential,
    TimeVaryingHazardRatio,
    Weibull,
    time_varying_hazard_ratio,
)

ROOT = Path(__file__).resolve().parents[1]
CONTROLS = {
    "exponential": Exponential(median_months=10.0),
    "piecewise": PiecewiseExponential((0.0, 4.0), (0.05, 0.1)),
    "weibull": Weibull(1.5, 12.0),
    "cure": CureMixture(0.4, Exponential(median_months=20.0)),
    "cure_weibull_ph": CureMixture(0.3, Weibull(0.8, 10.0), 1.3),
}


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_time_varying_sampling_follows_the_implied_survival(name):
    model = TimeVaryingHazardRatio(CONTROLS[name], (0.0, 6.0, 18.0), (1.0, 0.5, 0.8))
    code, params = model.to_kernel()
    x = _sample_event_times(code, params, 20000, 11)
    finite = np.isfinite(x)
    plateau = model.survival(1e7)
    # cured share: binomial within 4 SE; the uncured times: KS against the conditional CDF
    assert abs((1 - finite.mean()) - plateau) <= 4 * math.sqrt(plateau * (1 - plateau) / x.size) + 1e-12
    cdf = lambda t: (1.0 - model.survival(np.asarray(t))) / (1.0 - plateau)  # noqa: E731
    assert stats.kstest(x[finite], cdf).pvalue > 0.001
    # and S(t) of the model: the control's within each piece raised to r_j
    t = np.array([3.0, 10.0, 30.0])
    sc = np.asarray(CONTROLS[name].survival(np.array([0.0, 6.0, 18.0, *t])))
    s6 = sc[1]
    s18 = s6 * (sc[2] / sc[1]) ** 0.5
    expect = [sc[3] ** 1.0, s6 * (sc[4] / s6) ** 0.5, s18 * (sc[5] / sc[2]) ** 0.8]
    np.testing.assert_allclose(model.survival(t), expect, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_one_piece_kernel_path_equals_the_constant_hazard_ratio(name):
    one = TimeVaryingHazardRatio(CONTROLS[name], (0.0,), (0.7,))
    code1, p1 = one.to_kernel()
    code0, p0 = CONTROLS[name].with_hazard_ratio(0.7).to_kernel()
    a = _sample_event_times(code1, p1, 5000, 3)
    b = _sample_event_times(code0, p0, 5000, 3)
    assert (np.isfinite(a) == np.isfinite(b)).all()
    np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=1e-12)
    assert time_varying_hazard_ratio(CONTROLS[name], [0.0], [0.7]) == CONTROLS[name].with_hazard_ratio(0.7)


def test_one_piece_hazard_ratio_in_a_scenario_is_the_constant_one_trial_by_trial(tmp_path):
    text = (ROOT / "scenarios" / "adjuvant_nph_waning_logrank.yaml").read_text()
    piece = "{hazard_ratio: {start_months: [0, 24], values: [0.6, 1.0]}"
    assert piece in text
    runs = []
    for form in ("{hazard_ratio: 0.7", "{hazard_ratio: {start_months: [0], values: [0.7]}"):
        path = tmp_path / "s.yaml"
        path.write_text(text.replace(piece, form))
        spec = build_spec(load_scenario(path))
        runs.append(simulate(spec, 64, 5))
    np.testing.assert_array_equal(runs[0].stats.view(np.int64), runs[1].stats.view(np.int64))
    np.testing.assert_array_equal(runs[0].cut_months, runs[1].cut_months)


def test_average_hazard_ratio_matches_the_closed_form():
    """All patients enter at 0 without dropout: expected events per piece are S(t_j) - S(t_j+1) per arm."""
    control = Exponential(hazard_per_month=0.05)
    model = TimeVaryingHazardRatio(control, (0.0, 6.0), (1.0, 0.6))
    t_end = 30.0
    share = 0.5
    ev = []
    for lo, hi in ((0.0, 6.0), (6.0, t_end)):
        ev.append(share * (control.survival(lo) - control.survival(hi)) + share * (model.survival(lo) - model.survival(hi)))
    expect = math.exp((ev[0] * math.log(1.0) + ev[1] * math.log(0.6)) / (ev[0] + ev[1]))
    got = average_hazard_ratio({0: control}, {0: model}, [1.0], [0.0, 1e-9], [0.0, 1.0], (0.0, 0.0), (1, 1), t_end)
    assert got == pytest.approx(expect, rel=1e-6)


def _null_spec(test: str, **kw):
    scenario = load_scenario(ROOT / "scenarios" / f"adjuvant_nph_waning_{test}.yaml")
    from simtrial.designs._survival import null_experimental_arm

    return scenario, build_spec(scenario, experimental=null_experimental_arm(scenario, 1.0), **kw)


@pytest.mark.mc
@pytest.mark.parametrize("test", ["maxcombo", "rmst"])
def test_type_one_error_at_hr_one_fixed_design(test):
    scenario, spec = _null_spec(test)
    n = 2000
    result = simulate(replace(spec, n_patients=800, cuts=(replace(spec.cuts[0], target_events=150),)), n, 17)
    z = efficacy_z(result, scenario.analysis.test, 0)[:, -1]
    alpha = scenario.analysis.alpha
    rate = float(np.mean(z >= stats.norm.isf(alpha)))
    assert abs(rate - alpha) <= 4 * math.sqrt(alpha * (1 - alpha) / n)


@pytest.mark.mc
def test_type_one_error_two_looks_modestly_weighted():
    import simtrial

    text = (ROOT / "scenarios" / "adjuvant_nph_waning_logrank.yaml").read_text()
    text = text.replace("  test: logrank\n", "  test: modestly_weighted_logrank\n  mwlr_t_star_months: 24\n"
                        "  sequential: {information_fractions: [0.5, 1.0], efficacy_spending: asOF}\n")
    text = text.replace("n_patients: 1600", "n_patients: 800").replace("target_events: 260", "target_events: 150")
    path = Path(__import__("tempfile").mkdtemp()) / "mwlr_gs.yaml"
    path.write_text(text)
    n = 2000
    out = simtrial.run(load_scenario(path), n_sims=n, seed=23, null=True)
    rate = out.to_dict()["power"]
    alpha = 0.025
    assert abs(rate - alpha) <= 4 * math.sqrt(alpha * (1 - alpha) / n)


@pytest.mark.mc
def test_delayed_effect_maxcombo_beats_logrank_on_the_same_trials(tmp_path):
    text = (ROOT / "scenarios" / "adjuvant_nph_waning_maxcombo.yaml").read_text()
    text = text.replace("{hazard_ratio: {start_months: [0, 24], values: [0.6, 1.0]}",
                        "{hazard_ratio: {start_months: [0, 12], values: [1.0, 0.5]}")
    text = text.replace("n_patients: 1600", "n_patients: 800").replace("target_events: 260", "target_events: 150")
    path = tmp_path / "delayed.yaml"
    path.write_text(text)
    scenario = load_scenario(path)
    spec = build_spec(scenario)
    spec = replace(spec, statistics=(*spec.statistics, "logrank"))
    n = 1000
    result = simulate(spec, n, 29)
    crit = stats.norm.isf(0.025)
    mc = efficacy_z(result, "maxcombo", 0)[:, -1] >= crit
    lr = efficacy_z(result, "logrank", 0)[:, -1] >= crit
    diff = mc.astype(float) - lr.astype(float)
    se = diff.std(ddof=1) / math.sqrt(n)
    assert diff.mean() > 3 * se, (mc.mean(), lr.mean(), se)
    assert result.stats.shape[-1] == L.n_columns(len(spec.landmark_months), True)
