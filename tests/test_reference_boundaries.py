"""Group-sequential boundaries against rpact, plus properties of the solver.

Reference values: ``tests/fixtures/rpact_getDesignGroupSequential.json``, made
by ``Rscript tests/fixtures/r/rpact_getDesignGroupSequential.R`` (rpact
``getDesignGroupSequential`` / ``getDesignCharacteristics`` /
``getPowerAndAverageSampleNumber``). For example, the 4-look design below is

    library(rpact)
    getDesignGroupSequential(kMax = 4, alpha = 0.025, sided = 1,
                             typeOfDesign = "asOF")$criticalValues
    # 4.332634 2.963132 2.359044 2.014090
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from simtrial.sequential.boundaries import (
    GroupSequentialDesign,
    efficacy_bounds_from_information,
    group_sequential_design,
)
from simtrial.sequential.spending import alpha_spending, beta_spending

FIXTURE = Path(__file__).parent / "fixtures" / "rpact_getDesignGroupSequential.json"
RPACT = json.loads(FIXTURE.read_text())
CASES = {d["id"]: d for d in RPACT["designs"]}


def _kwargs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Translate rpact's arguments to ours."""
    kw: dict[str, Any] = {"alpha": inputs["alpha"], "beta": inputs["beta"], "spending": inputs["typeOfDesign"]}
    if inputs["typeOfDesign"] == "asHSD":
        kw["gamma"] = inputs["gammaA"]
    if inputs["typeOfDesign"] == "asKD":
        kw["rho"] = inputs["gammaA"]
    if inputs["typeBetaSpending"] != "none":
        kw["beta_spending"] = inputs["typeBetaSpending"]
        if inputs["typeBetaSpending"] == "bsHSD":
            kw["beta_gamma"] = inputs["gammaB"]
        if inputs["typeBetaSpending"] == "bsKD":
            kw["beta_rho"] = inputs["gammaB"]
    if inputs.get("bindingFutility"):
        kw["binding_futility"] = True
    if inputs.get("futilityBounds_input_z") is not None:
        kw["futility_z"] = inputs["futilityBounds_input_z"]
    return kw


def _design(case_id: str) -> GroupSequentialDesign:
    inputs = CASES[case_id]["inputs"]
    return group_sequential_design(inputs["informationRates"], **_kwargs(inputs))


def test_fixture_covers_the_required_designs() -> None:
    types = {d["inputs"]["typeOfDesign"] for d in RPACT["designs"]}
    assert {"asOF", "asP", "asHSD", "asKD", "OF", "P"} <= types
    assert {d["inputs"]["typeBetaSpending"] for d in RPACT["designs"]} >= {"bsOF", "bsHSD"}
    assert {d["inputs"]["kMax"] for d in RPACT["designs"]} >= {1, 2, 3, 4, 5}


def test_lan_demets_obrien_fleming_four_equal_looks() -> None:
    # Figures printed by rpact 3.3.4 (see module docstring), not read from our output.
    design = group_sequential_design([0.25, 0.5, 0.75, 1.0], alpha=0.025, spending="asOF")
    np.testing.assert_allclose(design.z_efficacy, [4.3326, 2.9631, 2.3590, 2.0141], atol=1e-4)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_efficacy_bounds_match_rpact(case_id: str) -> None:
    design = _design(case_id)
    np.testing.assert_allclose(design.z_efficacy, CASES[case_id]["criticalValues_z"], atol=1e-5)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_futility_bounds_match_rpact(case_id: str) -> None:
    design = _design(case_id)
    expected = [-math.inf if v is None else v for v in CASES[case_id]["futilityBounds_z"]]
    np.testing.assert_allclose(design.z_futility[:-1], expected, atol=1e-5)
    # The last look's futility bound is the efficacy bound: the trial ends there.
    assert design.z_futility[-1] == design.z_efficacy[-1]


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_alpha_spent_and_nominal_levels_match_rpact(case_id: str) -> None:
    design = _design(case_id)
    case = CASES[case_id]
    # rpact solves to tolerance 1e-8 (it reports 0.02499999).
    np.testing.assert_allclose(design.cumulative_alpha_spent, case["alphaSpent_cumulative"], atol=1e-7)
    np.testing.assert_allclose(design.nominal_p, case["stageLevels"], rtol=1e-4, atol=1e-9)
    if case["betaSpent_cumulative"] is not None:
        np.testing.assert_allclose(design.cumulative_beta_spent, case["betaSpent_cumulative"], atol=1e-7)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_inflation_factor_and_drift_match_rpact(case_id: str) -> None:
    design = _design(case_id)
    chars = CASES[case_id]["characteristics"]
    assert design.inflation_factor == pytest.approx(chars["inflationFactor"], abs=1e-5)
    assert design.drift == pytest.approx(chars["drift"], abs=1e-5)
    assert design.power == pytest.approx(1.0 - CASES[case_id]["inputs"]["beta"], abs=1e-7)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_stopping_probabilities_match_rpact(case_id: str) -> None:
    design = _design(case_id)
    stop = CASES[case_id]["stopping"]
    np.testing.assert_allclose(design.reject_h0, stop["rejectPerStage_H0"], atol=1e-7)
    np.testing.assert_allclose(design.reject_h1, stop["rejectPerStage_H1"], atol=1e-6)
    np.testing.assert_allclose(design.futility_h0[:-1], stop["futilityPerStage_H0"], atol=1e-6)
    np.testing.assert_allclose(design.futility_h1[:-1], stop["futilityPerStage_H1"], atol=1e-6)
    assert design.type_one_error == pytest.approx(stop["overallReject_H0"], abs=1e-7)


# ------------------------------------------------------------------ properties


@pytest.mark.parametrize(
    ("spending", "extra"),
    [("asOF", {}), ("asP", {}), ("asHSD", {"gamma": -4.0}), ("asKD", {"rho": 2.0}), ("OF", {}), ("P", {})],
)
@pytest.mark.parametrize("alpha", [0.025, 0.05, 0.001])
def test_one_look_is_the_fixed_design(spending: str, extra: dict[str, float], alpha: float) -> None:
    design = group_sequential_design([1.0], alpha=alpha, spending=spending, **extra)
    assert design.z_efficacy[0] == pytest.approx(norm.ppf(1 - alpha), abs=1e-9)
    assert design.inflation_factor == pytest.approx(1.0, abs=1e-9)
    bound = efficacy_bounds_from_information([1.0], alpha=alpha, spending=spending, **extra)
    assert bound[0] == pytest.approx(norm.ppf(1 - alpha), abs=1e-9)


def _simulate_z(t: np.ndarray, drift: float, n: int, seed: int) -> np.ndarray:
    """Z_eff at each look from independent Brownian increments (n paths x looks)."""
    rng = np.random.default_rng(seed)
    dt = np.diff(np.concatenate(([0.0], t)))
    s = np.cumsum(rng.normal(drift * dt, np.sqrt(dt), size=(n, t.size)), axis=1)
    return s / np.sqrt(t)


def _first_crossing(z: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[float, float]:
    """Monte-Carlo probabilities of ever rejecting, and of stopping for futility."""
    alive = np.ones(z.shape[0], dtype=bool)
    reject = futile = 0
    for k in range(z.shape[1]):
        up = alive & (z[:, k] >= upper[k])
        down = alive & ~up & (z[:, k] <= lower[k])
        reject += int(up.sum())
        futile += int(down.sum())
        alive &= ~(up | down)
    return reject / z.shape[0], futile / z.shape[0]


@pytest.mark.mc
def test_alpha_by_monte_carlo_is_alpha() -> None:
    # Independent of the integration: simulated Brownian paths, 4 unequal looks.
    t = np.array([0.2, 0.45, 0.8, 1.0])
    design = group_sequential_design(t, alpha=0.025, spending="asHSD", gamma=-2.0)
    n = 400_000
    z = _simulate_z(t, 0.0, n, seed=20240601)
    p, _ = _first_crossing(z, np.full(t.size, -np.inf), np.array(design.z_efficacy))
    assert abs(p - 0.025) < 4 * math.sqrt(0.025 * 0.975 / n)
    assert sum(design.alpha_spent) == pytest.approx(0.025, abs=1e-9)


@pytest.mark.mc
def test_power_with_beta_spending_by_monte_carlo() -> None:
    t = np.array([0.3, 0.7, 1.0])
    design = group_sequential_design(t, alpha=0.025, beta=0.15, spending="asOF", beta_spending="bsOF")
    n = 200_000
    z = _simulate_z(t, design.drift, n, seed=7)
    power, futile = _first_crossing(z, np.array(design.z_futility), np.array(design.z_efficacy))
    se = math.sqrt(0.85 * 0.15 / n)
    assert abs(power - 0.85) < 4 * se
    # Every trial ends at the last look: reject or not.
    assert power + futile == pytest.approx(1.0)


def test_binding_futility_lowers_the_efficacy_bounds() -> None:
    t = [1 / 3, 2 / 3, 1.0]
    nonbinding = group_sequential_design(t, futility_z=[0.0, 0.0])
    binding = group_sequential_design(t, futility_z=[0.0, 0.0], binding_futility=True)
    assert binding.z_efficacy[0] == pytest.approx(nonbinding.z_efficacy[0], abs=1e-9)
    assert binding.z_efficacy[1] < nonbinding.z_efficacy[1]
    assert binding.z_efficacy[2] < nonbinding.z_efficacy[2]
    assert binding.type_one_error == pytest.approx(0.025, abs=1e-8)
    assert nonbinding.type_one_error < 0.025
    # Non-binding bounds ignore the futility rule entirely.
    plain = group_sequential_design(t)
    np.testing.assert_allclose(nonbinding.z_efficacy, plain.z_efficacy, atol=1e-12)
    # The per-look function honours binding futility the same way.
    np.testing.assert_allclose(
        efficacy_bounds_from_information(t, futility_z=[0.0, 0.0], binding_futility=True),
        binding.z_efficacy,
        atol=1e-10,
    )


def test_grid_is_converged() -> None:
    # J&T's r = 18 and a much finer grid agree: the default grid is not the error source.
    kw = {"spending": "asHSD", "gamma": -2.0, "beta_spending": "bsOF", "binding_futility": True}
    coarse = group_sequential_design([0.2, 0.5, 0.8, 1.0], grid_r=18, **kw)
    fine = group_sequential_design([0.2, 0.5, 0.8, 1.0], grid_r=96, **kw)
    np.testing.assert_allclose(coarse.z_efficacy, fine.z_efficacy, atol=1e-5)
    np.testing.assert_allclose(coarse.z_futility, fine.z_futility, atol=1e-5)
    assert coarse.drift == pytest.approx(fine.drift, abs=1e-5)


def test_bounds_from_planned_information_equal_the_design() -> None:
    t = [0.3, 0.7, 1.0]
    design = group_sequential_design(t, spending="asP")
    np.testing.assert_allclose(efficacy_bounds_from_information(t, spending="asP"), design.z_efficacy, atol=1e-10)
    # Looks taken so far: the first two bounds do not depend on later looks.
    np.testing.assert_allclose(efficacy_bounds_from_information(t[:2], spending="asP"), design.z_efficacy[:2], atol=1e-10)


def test_bounds_from_observed_information_respend_alpha() -> None:
    # Observed 0.52 then 0.98 of planned events; the final look spends what is left.
    b = efficacy_bounds_from_information([0.52, 0.98], spend_all_at_last=True)
    design_like = group_sequential_design([0.52 / 0.98, 1.0])  # same correlation, all alpha spent
    assert b[0] == pytest.approx(norm.ppf(1 - alpha_spending("asOF", 0.025, 0.52)[()]), abs=1e-10)
    assert b[1] != pytest.approx(design_like.z_efficacy[1], abs=1e-4)  # spending differs at look 1
    # Total alpha is spent: check by integrating with the design solver's tools.
    from simtrial.sequential._integration import crossing_probabilities

    up, _ = crossing_probabilities(np.array([0.52, 0.98]), np.full(2, -np.inf), b, 0.0, 32)
    assert up.sum() == pytest.approx(0.025, abs=1e-9)
    # Overrunning information spends nothing beyond alpha.
    over = efficacy_bounds_from_information([0.5, 1.0, 1.2])
    assert over[2] == math.inf


def test_spending_functions_closed_forms() -> None:
    t = np.array([0.1, 0.25, 0.5, 0.8, 1.0, 1.3])
    a = 0.025
    tc = np.minimum(t, 1.0)
    np.testing.assert_allclose(
        alpha_spending("asOF", a, t), 2 * norm.sf(norm.isf(a / 2) / np.sqrt(tc)), rtol=1e-10
    )
    np.testing.assert_allclose(alpha_spending("asP", a, t), a * np.log(1 + (np.e - 1) * tc), rtol=1e-12)
    np.testing.assert_allclose(
        alpha_spending("asHSD", a, t, gamma=-4.0), a * (1 - np.exp(4 * tc)) / (1 - np.exp(4.0)), rtol=1e-12
    )
    np.testing.assert_allclose(alpha_spending("asHSD", a, t, gamma=0.0), a * tc, rtol=1e-12)
    np.testing.assert_allclose(alpha_spending("asKD", a, t, rho=2.0), a * tc**2, rtol=1e-12)
    np.testing.assert_allclose(beta_spending("bsKD", 0.2, t, rho=3.0), 0.2 * tc**3, rtol=1e-12)


def test_result_is_frozen_and_tabulates() -> None:
    design = group_sequential_design([0.5, 1.0], beta_spending="bsOF")
    with pytest.raises(AttributeError):
        design.alpha = 0.05  # type: ignore[misc]
    frame = design.to_frame()
    assert list(frame["look"]) == [1, 2]
    assert frame["reject_h1"].sum() == pytest.approx(design.power)
    json.dumps(design.to_dict())


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"information_fractions": [0.5, 1.0], "alpha": 0.7}, "alpha"),
        ({"information_fractions": [0.5, 1.0], "beta": 0.99}, "beta"),
        ({"information_fractions": [0.5, 0.4, 1.0]}, "information_fractions"),
        ({"information_fractions": [0.5, 0.9]}, "information_fractions"),
        ({"information_fractions": []}, "information_fractions"),
        ({"information_fractions": [0.5, 1.0], "spending": "asXX"}, "spending"),
        ({"information_fractions": [0.5, 1.0], "spending": "asHSD"}, "gamma"),
        ({"information_fractions": [0.5, 1.0], "spending": "asHSD", "gamma": 9.0}, "gamma"),
        ({"information_fractions": [0.5, 1.0], "spending": "asKD", "rho": 0.1}, "rho"),
        ({"information_fractions": [0.5, 1.0], "gamma": 1.0}, "gamma"),
        ({"information_fractions": [0.5, 1.0], "beta_spending": "bsXX"}, "beta_spending"),
        ({"information_fractions": [0.5, 1.0], "beta_spending": "bsHSD"}, "beta_gamma"),
        ({"information_fractions": [0.5, 1.0], "spending": "OF", "beta_spending": "bsOF"}, "beta_spending"),
        ({"information_fractions": [0.5, 1.0], "beta_spending": "bsOF", "futility_z": [0.0]}, "futility_z"),
        ({"information_fractions": [0.5, 1.0], "futility_z": [0.0, 0.0]}, "futility_z"),
        ({"information_fractions": [0.5, 1.0], "futility_z": [math.nan]}, "futility_z"),
        ({"information_fractions": [0.5, 1.0], "grid_r": 2}, "grid_r"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(kwargs: dict[str, Any], names: str) -> None:
    with pytest.raises(ValueError, match=names):
        group_sequential_design(**kwargs)


def test_bad_observed_information_raises() -> None:
    with pytest.raises(ValueError, match="information_fractions"):
        efficacy_bounds_from_information([0.6, 0.6])
    with pytest.raises(ValueError, match="alpha"):
        efficacy_bounds_from_information([0.6], alpha=0.0)
