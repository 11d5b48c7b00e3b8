"""Two-sided group-sequential plans with fixed futility bounds, and the alpha of the analytic lines.

References:

- rpact (``fixtures/r/rpact_two_sided_futility.json``, ``Rscript
  tests/fixtures/r/rpact_two_sided_futility.R``): where the futility bound lies
  above the harm bound, a two-sided design's continuation region at an interim
  look is the one-sided design's (f_k, z_upper), so with binding futility the
  upper bounds, upper crossings, shift (drift^2) and inflation factor equal
  rpact's one-sided binding design at the efficacy side's alpha, and harm +
  futility stops at an interim equal rpact's futilityPerStage;
- exact crossing probabilities of the canonical joint normal of the look
  statistics (corr sqrt(t_i / t_j), mean drift sqrt(t_k)) by
  ``scipy.stats.multivariate_normal.cdf`` over boxes, written here;
- the closed-form spending functions (each side's cumulative alpha);
- rpact ``getSampleSizeSurvival`` (Schoenfeld) for the events of an asymmetric
  plan's efficacy side;
- simulation: per-side type I error and per-look stops within 4 Monte-Carlo SEs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from simtrial.errors import InvalidInput
from simtrial.scenario import ScenarioError, scenario_from_dict
from simtrial.sequential.two_sided import two_sided_bounds_from_information, two_sided_design

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "r" / "rpact_two_sided_futility.json").read_text())
ONE_SIDED = {c["id"]: c for c in FIXTURE["one_sided"]}
SIZES = {c["id"]: c for c in FIXTURE["sample_size"]}

# the two-sided designs whose efficacy side is the rpact case: (rpact id, two-sided alpha, harm arguments)
CASES = [
    ("asOF_k3_fut_0_05", 0.05, {}),  # symmetric: each side 0.025
    ("asP_k4_alpha04", 0.05, {"lower_alpha": 0.01, "lower_spending": "asOF"}),  # efficacy side 0.04
    ("asP_k4_alpha04", 0.05, {"lower_alpha": 0.01, "lower_spending": "asP"}),
]


def _design(case: str, alpha: float, harm: dict, binding: bool):
    ref = ONE_SIDED[f"{case}_{'binding' if binding else 'nonbinding'}"]
    inp = ref["inputs"]
    d = two_sided_design(inp["informationRates"], alpha=alpha, beta=inp["beta"], spending=inp["typeOfDesign"],
                         futility_z=inp["futilityBounds"], binding_futility=binding, **harm)
    return d, ref


def _corr(t: np.ndarray) -> np.ndarray:
    return np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))


def _box(t: np.ndarray, lower: list[float], upper: list[float], drift: float) -> float:
    """P(lower_i < Z_i < upper_i, i = 1..m) for the first m looks of the canonical joint normal."""
    m = len(lower)
    tt = t[:m]
    if m == 1:
        mu = drift * math.sqrt(tt[0])
        return float(norm.cdf(min(upper[0], 40) - mu) - norm.cdf(max(lower[0], -40) - mu))
    return float(multivariate_normal.cdf(
        np.minimum(upper, 40.0), mean=drift * np.sqrt(tt), cov=_corr(tt), lower_limit=np.maximum(lower, -40.0),
        abseps=1e-11, releps=1e-9, maxpts=400_000,
        rng=np.random.default_rng(20261202)))  # scipy's lattice is randomised: a fixed generator, a fixed answer


def _exact_stops(d, drift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-look P(efficacy), P(harm), P(futility) with every bound obeyed, by box probabilities."""
    t = np.array(d.information_fractions)
    k = t.size
    lo, up = list(d.z_lower), list(d.z_upper)
    fut = list(d.z_futility[:-1]) + [-math.inf]
    cont_lo = [max(a, f) for a, f in zip(lo, fut, strict=True)]
    eff, harm, stop_fut = np.zeros(k), np.zeros(k), np.zeros(k)
    for j in range(k):
        before_lo, before_up = cont_lo[:j], up[:j]
        eff[j] = _box(t, [*before_lo, up[j]], [*before_up, math.inf], drift)
        harm[j] = _box(t, [*before_lo, -math.inf], [*before_up, lo[j]], drift)
        if fut[j] > lo[j]:
            stop_fut[j] = _box(t, [*before_lo, lo[j]], [*before_up, min(fut[j], up[j])], drift)
    return eff, harm, stop_fut


# ------------------------------------------------------------------ rpact, the one-sided part


@pytest.mark.parametrize(("case", "alpha", "harm"), CASES)
def test_binding_efficacy_side_is_rpacts_one_sided_binding_design(case: str, alpha: float, harm: dict) -> None:
    d, ref = _design(case, alpha, harm, binding=True)
    assert d.alpha_upper == pytest.approx(ref["inputs"]["alpha"], abs=1e-15)
    np.testing.assert_allclose(d.z_upper, ref["criticalValues"], atol=2e-6)
    assert d.drift**2 == pytest.approx(ref["shift"], rel=2e-6)
    assert d.inflation_factor == pytest.approx(ref["inflationFactor"], rel=2e-6)
    np.testing.assert_allclose(d.reject_upper_h0, ref["rejectPerStage_H0"], atol=1e-8)
    np.testing.assert_allclose(d.reject_upper_h1, ref["rejectPerStage_H1"], atol=2e-6)
    # at an interim look, harm and futility stops together are the one-sided futility region Z < f_k
    for side, key in ((zip(d.reject_lower_h0, d.futility_h0, strict=True), "futilityPerStage_H0"),
                      (zip(d.reject_lower_h1, d.futility_h1, strict=True), "futilityPerStage_H1")):
        both = [a + b for a, b in side][:-1]
        np.testing.assert_allclose(both, ref[key], atol=2e-6)


@pytest.mark.parametrize(("case", "alpha", "harm"), CASES)
def test_non_binding_bounds_ignore_the_rule_and_match_rpact(case: str, alpha: float, harm: dict) -> None:
    d, ref = _design(case, alpha, harm, binding=False)
    without = two_sided_design(d.information_fractions, alpha=alpha, beta=d.beta, spending=d.spending, **harm)
    assert d.z_upper == without.z_upper and d.z_lower == without.z_lower
    # rpact's one-sided non-binding bounds differ only by the H0 paths that cross the harm bound first
    np.testing.assert_allclose(d.z_upper, ref["criticalValues"], atol=5e-6)
    # the design alternative obeys the futility stops, as rpact's non-binding inflation factor
    assert d.inflation_factor == pytest.approx(ref["inflationFactor"], rel=1e-5)
    assert d.inflation_factor > without.inflation_factor


# ------------------------------------------------------------------ exact joint-normal probabilities


@pytest.mark.parametrize("binding", [False, True])
@pytest.mark.parametrize("harm", [{}, {"lower_alpha": 0.015, "lower_spending": "asP"}])
def test_stopping_probabilities_equal_the_joint_normal(binding: bool, harm: dict) -> None:
    d = two_sided_design([0.3, 0.6, 1.0], alpha=0.05, beta=0.15, spending="asOF", futility_z=[-0.2, 0.4],
                         binding_futility=binding, **harm)
    for drift, got in ((0.0, (d.reject_upper_h0, d.reject_lower_h0, d.futility_h0)),
                       (d.drift, (d.reject_upper_h1, d.reject_lower_h1, d.futility_h1))):
        eff, low, fut = _exact_stops(d, drift)
        np.testing.assert_allclose(got[0], eff, atol=3e-8)
        np.testing.assert_allclose(got[1], low, atol=3e-8)
        np.testing.assert_allclose(got[2][:-1], fut[:-1], atol=3e-8)
        # at the last look whatever is not rejected is futility
        assert got[2][-1] == pytest.approx(1.0 - eff.sum() - low.sum() - fut[:-1].sum(), abs=1e-7)
    assert d.power_favourable == pytest.approx(1.0 - d.beta, abs=1e-9)


def _asof(a: float, t: np.ndarray) -> np.ndarray:
    return 2.0 * (1.0 - norm.cdf(norm.ppf(1.0 - a / 2.0) / np.sqrt(t)))


def _asp(a: float, t: np.ndarray) -> np.ndarray:
    return a * np.log(1.0 + (math.e - 1.0) * t)


@pytest.mark.parametrize("binding", [False, True])
def test_cumulative_alpha_per_side_is_each_sides_spending_function(binding: bool) -> None:
    """Binding: with the futility stops obeyed; non-binding: without them (the bounds as computed)."""
    t = np.array([0.3, 0.6, 1.0])
    d = two_sided_design(t, alpha=0.05, beta=0.15, spending="asOF", futility_z=[-0.2, 0.4], binding_futility=binding,
                         lower_alpha=0.015, lower_spending="asP")
    np.testing.assert_allclose(d.cumulative_alpha_spent_upper, _asof(0.035, t), atol=1e-9)
    np.testing.assert_allclose(d.cumulative_alpha_spent_lower, _asp(0.015, t), atol=1e-9)
    obeyed = float(np.sum(d.reject_upper_h0) + np.sum(d.reject_lower_h0))
    if binding:
        assert obeyed == pytest.approx(0.05, abs=1e-9)
        # the stops remove unfavourable paths before the harm bound sees them: it rises
        free = two_sided_design(t, alpha=0.05, beta=0.15, spending="asOF", lower_alpha=0.015, lower_spending="asP")
        assert all(a > b for a, b in zip(d.z_lower[1:], free.z_lower[1:], strict=True))
        assert all(a < b for a, b in zip(d.z_upper[1:], free.z_upper[1:], strict=True))
    else:
        assert obeyed < 0.05 - 0.005  # obeying a non-binding rule only lowers the type I error


def test_bounds_from_observed_information_reproduce_the_planned_binding_design() -> None:
    t = [0.3, 0.6, 1.0]
    d = two_sided_design(t, alpha=0.05, beta=0.15, spending="asOF", futility_z=[-0.2, 0.4], binding_futility=True,
                         lower_alpha=0.015, lower_spending="asP")
    lo, up = two_sided_bounds_from_information(t, alpha=0.05, spending="asOF", lower_alpha=0.015, lower_spending="asP",
                                               futility_below=[-0.2, 0.4])
    np.testing.assert_allclose(lo, d.z_lower, atol=1e-12)
    np.testing.assert_allclose(up, d.z_upper, atol=1e-12)


def test_api_refusals() -> None:
    with pytest.raises(InvalidInput, match="either beta_spending or futility_z"):
        two_sided_design([0.5, 1.0], beta_spending="bsOF", futility_z=[0.0])
    with pytest.raises(InvalidInput, match="alpha-spending"):
        two_sided_design([0.5, 1.0], spending="OF", futility_z=[0.0], binding_futility=True)
    with pytest.raises(InvalidInput, match="one bound per interim look"):
        two_sided_design([0.5, 1.0], futility_z=[0.0, 0.1])
    with pytest.raises(InvalidInput, match="not both"):
        two_sided_bounds_from_information([0.5, 1.0], futility_inner=[0.5], futility_below=[0.0])


# ------------------------------------------------------------------ scenario files


def _scenario(*, hr: float, seed: int, sequential: dict[str, Any], n_sims: int = 200,
              alpha: float = 0.05) -> dict[str, Any]:
    return {
        "name": "two-sided GS with futility",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"median_months": 12}}},
                 "experimental": {"survival": {"all": {"hazard_ratio": hr}}}},
        "n_patients": 500,
        "accrual": {"duration_months": 24},
        "analysis": {"alpha": alpha, "sided": 2, "target_events": 240, "sequential": sequential},
        "simulation": {"n_sims": n_sims, "seed": seed},
    }


SEQ_Z = {"information_fractions": [0.3, 0.6, 1.0], "harm_alpha": 0.015, "harm_spending": "asP",
         "futility": "z", "futility_z": [-0.2, 0.4]}


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"futility": "beta_spending", "beta_spending": "bsOF", "futility_z": [0.0]}, "futility_z",
     "does not apply with futility beta_spending"),
    ({"futility": "hr", "futility_hr": [1.0], "binding_futility": True}, "binding_futility", "HR bound"),
    ({"efficacy_spending": "OF", "futility": "z", "futility_z": [0.0], "binding_futility": True},
     "binding_futility", "alpha-spending"),
])
def test_scenario_refusals_name_the_field(change: dict, field: str, words: str) -> None:
    seq = {"information_fractions": [0.5, 1.0], **change}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_scenario(hr=1.0, seed=1, sequential=seq))
    text = str(err.value)
    assert f"sequential.{field}" in text and words in text


def test_one_sided_binding_hr_rule_is_refused_too() -> None:
    """It had no effect before: the efficacy bounds never saw the HR rule."""
    d = _scenario(hr=1.0, seed=1, sequential={"information_fractions": [0.5, 1.0], "futility": "hr",
                                              "futility_hr": [1.0], "binding_futility": True})
    d["analysis"]["sided"] = 1
    d["analysis"]["alpha"] = 0.025
    with pytest.raises(ScenarioError, match="binding_futility"):
        scenario_from_dict(d)


def test_futility_below_the_harm_bound_and_a_favourable_harm_bound_are_refused() -> None:
    from simtrial.power import run

    low = {**SEQ_Z, "futility_z": [-3.0, 0.4]}  # the planned harm bound at look 1 is -2.47
    with pytest.raises(InvalidInput, match="at or below the harm bound"):
        run(scenario_from_dict(_scenario(hr=1.0, seed=1, sequential=low)), n_sims=20)
    high = {**SEQ_Z, "futility_z": [0.3, 1.2], "binding_futility": True}
    with pytest.raises(InvalidInput, match="favours the experimental arm"):
        run(scenario_from_dict(_scenario(hr=1.0, seed=1, sequential=high)), n_sims=20)


def test_cli_refusal_exits_2(tmp_path: Path) -> None:
    import yaml
    from click.testing import CliRunner
    from simtrial_cli.main import main

    path = tmp_path / "s.yaml"
    seq = {"information_fractions": [0.5, 1.0], "futility": "hr", "futility_hr": [1.0], "binding_futility": True}
    path.write_text(yaml.safe_dump(_scenario(hr=1.0, seed=1, sequential=seq)))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "binding_futility" in result.output and "Traceback" not in result.output


def test_resolved_scenario_round_trip_keeps_the_rule() -> None:
    import yaml

    sc = scenario_from_dict(_scenario(hr=0.8, seed=1, sequential={**SEQ_Z, "binding_futility": True}))
    again = scenario_from_dict(yaml.safe_load(yaml.safe_dump(dict(sc.resolved))))
    assert again.analysis.sequential == sc.analysis.sequential
    assert again.analysis.sequential.futility_z == (-0.2, 0.4) and again.analysis.sequential.binding_futility


# ------------------------------------------------------------------ analytic lines: the alpha they use


def _sizes_scenario(seq: dict, hr: float = 0.7) -> Any:
    d = _scenario(hr=hr, seed=1, sequential=seq)
    d["arms"]["control"]["survival"]["all"] = {"median_months": 12}
    d["analysis"]["target_events"] = 300
    return scenario_from_dict(d)


def test_asymmetric_plan_schoenfeld_events_equal_rpact_at_the_efficacy_sides_alpha() -> None:
    """Harm 0.01 of 0.05, binding futility_z: the efficacy side is rpact's one-sided 0.04 binding design."""
    from simtrial.samplesize import _analytic_events
    from simtrial.timeline.sizes import analytic_sample_sizes, format_sizes

    inp = ONE_SIDED["asP_k4_alpha04_binding"]["inputs"]
    seq = {"information_fractions": inp["informationRates"], "efficacy_spending": "asP", "harm_alpha": 0.01,
           "harm_spending": "asOF", "futility": "z", "futility_z": inp["futilityBounds"], "binding_futility": True}
    sc = _sizes_scenario(seq)
    sizes = analytic_sample_sizes(sc, 0.8)
    ref = SIZES["asP_k4_alpha04_binding_hr07"]
    assert sizes["methods"]["schoenfeld"]["events_exact"] == pytest.approx(ref["maxNumberOfEvents"], rel=1e-5)
    assert sizes["inflation_factor"] == pytest.approx(ONE_SIDED["asP_k4_alpha04_binding"]["inflationFactor"],
                                                      rel=2e-6)
    fixed = SIZES["fixed_alpha04_hr07"]["maxNumberOfEvents"]
    assert sizes["methods"]["schoenfeld"]["events_exact"] / sizes["inflation_factor"] == pytest.approx(fixed, rel=1e-9)
    assert _analytic_events(sc, 0.8) == pytest.approx(ref["maxNumberOfEvents"], rel=1e-5)
    assert sizes["alpha"]["efficacy_side_alpha"] == pytest.approx(0.04)
    lines = format_sizes(sizes)
    assert any("one-sided alpha 0.04" in line and "two-sided 0.05" in line and "harm bound 0.01" in line
               for line in lines)


def test_symmetric_plan_with_futility_uses_alpha_over_2_and_the_designs_inflation() -> None:
    inp = ONE_SIDED["asOF_k3_fut_0_05_binding"]["inputs"]
    seq = {"information_fractions": inp["informationRates"], "futility": "z", "futility_z": inp["futilityBounds"],
           "binding_futility": True}
    from simtrial.timeline.sizes import analytic_sample_sizes

    sizes = analytic_sample_sizes(_sizes_scenario(seq, hr=0.75), 0.9)
    ref = SIZES["asOF_k3_fut_0_05_binding_hr075"]
    assert sizes["methods"]["schoenfeld"]["events_exact"] == pytest.approx(ref["maxNumberOfEvents"], rel=1e-5)
    # closed form: (z_{0.975} + z_{0.9})^2 * 4 / log(0.75)^2 * inflation factor
    closed = (norm.ppf(0.975) + norm.ppf(0.9)) ** 2 * 4.0 / math.log(0.75) ** 2
    assert closed == pytest.approx(SIZES["fixed_alpha025_hr075"]["maxNumberOfEvents"], rel=1e-9)
    assert sizes["alpha"]["label"] == "two-sided alpha 0.05 (0.025 per side)"


def test_cli_lines_state_their_alpha(tmp_path: Path) -> None:
    """The run's analytic power line says the alpha it used (the efficacy and harm sides of the design)."""
    import yaml
    from click.testing import CliRunner
    from simtrial_cli.main import main

    d = _scenario(hr=0.7, seed=5, sequential={"information_fractions": [0.5, 1.0], "harm_alpha": 0.01,
                                              "harm_spending": "asP", "futility": "z", "futility_z": [0.0]})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(d))
    out = CliRunner().invoke(main, ["run", str(path), "--sims", "100", "--quiet"])
    assert out.exit_code == 0, out.output
    line = next(x for x in out.output.splitlines() if "analytic power (schoenfeld_group_sequential)" in x)
    assert "efficacy side 0.04, harm side 0.01" in line


# ------------------------------------------------------------------ simulation


N_SIMS = 4000


def _tol(p: float, n: int = N_SIMS) -> float:
    return 4.0 * math.sqrt(max(p, 1.0 / n) * (1.0 - p) / n)


@pytest.mark.mc
@pytest.mark.parametrize("binding", [False, True])
def test_simulated_type_one_error_per_side_and_stops_per_look(binding: bool) -> None:
    """HR 1, event-driven looks (observed = planned information): per-look stops on each side and for
    futility within 4 MC SE of the exact joint-normal values of the planned design."""
    from simtrial.power import run

    seq = {**SEQ_Z, "binding_futility": binding}
    r = run(scenario_from_dict(_scenario(hr=1.0, seed=1616 + binding, sequential=seq, n_sims=N_SIMS)))
    design = r.details["group_sequential_design"]
    d = two_sided_design([0.3, 0.6, 1.0], alpha=0.05, beta=design["beta"], spending="asOF", futility_z=[-0.2, 0.4],
                         binding_futility=binding, lower_alpha=0.015, lower_spending="asP")
    eff, harm, fut = _exact_stops(d, 0.0)
    for k, look in enumerate(r.looks):
        assert look["z_efficacy"] == pytest.approx(d.z_upper[k], abs=1e-9)
        assert look["z_harm"] == pytest.approx(d.z_lower[k], abs=1e-9)
        assert abs(look["p_stop_efficacy"] - eff[k]) <= _tol(eff[k])
        assert abs(look["p_stop_harm"] - harm[k]) <= _tol(harm[k])
        if k < 2:
            assert look["z_futility"] == [-0.2, 0.4][k]
            assert abs(look["p_stop_futility"] - fut[k]) <= _tol(fut[k])
    fav = r.outcomes.decisions["reject_favourable"].mean()
    unf = r.outcomes.decisions["reject_unfavourable"].mean()
    assert abs(fav - eff.sum()) <= _tol(eff.sum())
    assert abs(unf - harm.sum()) <= _tol(harm.sum())
    if binding:  # each side spends its own alpha with the stops obeyed
        assert eff.sum() == pytest.approx(0.035, abs=1e-7) and harm.sum() == pytest.approx(0.015, abs=1e-7)


def test_hr_rule_stops_exactly_the_trials_that_reject_on_neither_side_with_hr_above_it() -> None:
    """The decision rule on hand-made look statistics: efficacy, then harm, then futility; NaN decides nothing."""
    from simtrial.designs.sequential import apply_sequential
    from simtrial.spec import SequentialPlan

    plan = SequentialPlan(information_fractions=(0.5, 1.0), harm_alpha=0.01, harm_spending="asP", futility="hr",
                          futility_hr=(1.0,))
    plain = two_sided_design([0.5, 1.0], alpha=0.05, lower_alpha=0.01, lower_spending="asP")
    u1, l1 = plain.z_upper[0], plain.z_lower[0]
    # look-1 Z_eff and HR: efficacy (HR < 1), harm (HR > 1), futility (HR > 1), continue (HR < 1),
    # continue (HR > 1 but its Z rejects for harm: harm first), undefined
    z1 = np.array([u1 + 0.1, l1 - 0.1, -0.3, 0.3, l1 - 0.5, np.nan])
    hr1 = np.array([0.6, 1.6, 1.05, 0.95, 1.9, np.nan])
    n = z1.size
    out = apply_sequential(plan, np.column_stack([z1, np.zeros(n)]), np.tile([0.5, 1.0], (n, 1)),
                           np.column_stack([hr1, np.ones(n)]), np.tile([120.0, 240.0], (n, 1)),
                           alpha=0.025, beta=0.2, sided=2, planned_events=240)
    assert out.stopped_for_futility.tolist() == [False, False, True, False, False, False]
    assert out.side_decisions["reject_favourable"].tolist() == [True, False, False, False, False, False]
    assert out.side_decisions["reject_unfavourable"].tolist() == [False, True, False, False, True, False]
    assert out.stop_look.tolist() == [0, 0, 0, 1, 0, 1]
    assert out.looks[0]["hr_futility"] == 1.0 and out.looks[0]["z_futility"] is None


@pytest.mark.mc
def test_simulated_hr_rule_stops_at_the_joint_normal_rate() -> None:
    """Non-binding HR rule at 1: the bounds are the plan's without it; P(stop for futility at look 1) is
    P(harm bound < Z_eff < 0) (an observed HR above 1 is a negative Z_eff, up to the rare sign
    disagreement of the Cox estimate and the log-rank score)."""
    from simtrial.power import run

    seq = {"information_fractions": [0.5, 1.0], "harm_alpha": 0.01, "harm_spending": "asP", "futility": "hr",
           "futility_hr": [1.0]}
    r = run(scenario_from_dict(_scenario(hr=1.0, seed=1617, sequential=seq, n_sims=N_SIMS)))
    plain = two_sided_design([0.5, 1.0], alpha=0.05, lower_alpha=0.01, lower_spending="asP")
    assert r.looks[0]["z_efficacy"] == pytest.approx(plain.z_upper[0], abs=1e-9)
    assert r.looks[0]["z_harm"] == pytest.approx(plain.z_lower[0], abs=1e-9)
    expected = float(norm.cdf(0.0) - norm.cdf(plain.z_lower[0]))
    assert abs(r.looks[0]["p_stop_futility"] - expected) <= _tol(expected) + 0.005
    # the harm side spends at most its alpha (obeying a non-binding rule only lowers it)
    unf = r.outcomes.decisions["reject_unfavourable"].mean()
    assert unf <= 0.01 + _tol(0.01)
