"""Two-sided group-sequential designs against rpact, mvtnorm and SAS PROC SEQDESIGN.

References (``fixtures/r/rpact_two_sided_gs.json``, made by
``Rscript tests/fixtures/r/rpact_two_sided_gs.R``, rpact 3.3.4, mvtnorm 1.1-3):

- ``symmetric``: rpact ``getDesignGroupSequential(sided = 2)`` -- bounds,
  cumulative alpha, rpact's two-sided beta spending (inner futility wedge,
  binding and non-binding), shift = drift^2, per-stage rejection under H0/H1;
- ``asymmetric``: a lower harm bound spending its own alpha with its own
  function, which rpact cannot express, solved in R by ``mvtnorm::pmvnorm``
  (Miwa) + ``uniroot``, stage by stage: independent of our recursive
  integration;
- SAS PROC SEQDESIGN (issue 16, gsDesign's benchmark outputs): 4 equally
  spaced looks, Lan-DeMets O'Brien-Fleming, two-sided symmetric alpha 0.05:
  Z = 4.33263 / 2.96333 / 2.35902 / 2.01409.  rpact gives 2.963132 and
  2.359044 at looks 2-3 (SAS differs there in the 4th decimal); we match
  rpact to 1e-5 and SAS at looks 1 and 4, where they agree, to its 5 printed
  decimals.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simtrial.errors import InvalidInput
from simtrial.sequential import group_sequential_design
from simtrial.sequential.two_sided import (
    two_sided_bounds_from_information,
    two_sided_design,
    two_sided_probabilities,
)

FIXTURE = Path(__file__).parent / "fixtures" / "r" / "rpact_two_sided_gs.json"
DATA = json.loads(FIXTURE.read_text())
SYMMETRIC = {c["id"]: c for c in DATA["symmetric"]}
ASYMMETRIC = {c["id"]: c for c in DATA["asymmetric"]}


def _kwargs(inputs: dict[str, Any]) -> dict[str, Any]:
    kw: dict[str, Any] = {"alpha": inputs["alpha"], "beta": inputs["beta"], "spending": inputs["typeOfDesign"]}
    if inputs["typeOfDesign"] == "asHSD":
        kw["gamma"] = inputs["gammaA"]
    if inputs["typeOfDesign"] == "asKD":
        kw["rho"] = inputs["gammaA"]
    if inputs["typeBetaSpending"] != "none":
        kw["beta_spending"] = inputs["typeBetaSpending"]
        kw["binding_futility"] = bool(inputs["bindingFutility"])
        if inputs["typeBetaSpending"] == "bsHSD":
            kw["beta_gamma"] = inputs["gammaB"]
    return kw


def _design(case_id: str):
    case = SYMMETRIC[case_id]
    return two_sided_design(case["inputs"]["informationRates"], **_kwargs(case["inputs"]))


def test_sas_seqdesign_obrien_fleming_four_looks() -> None:
    d = _design("sas_asOF_k4_equal")
    z = d.z_upper
    # SAS to its printed precision where SAS and rpact agree
    assert round(z[0], 5) == 4.33263
    assert round(z[3], 5) == 2.01409
    # rpact (issue 16) at looks 2-3
    assert z[1] == pytest.approx(2.963132, abs=1e-6)
    assert z[2] == pytest.approx(2.359044, abs=1e-6)
    assert d.z_lower == pytest.approx(tuple(-v for v in z), abs=0)
    assert d.cumulative_alpha_spent[-1] == pytest.approx(0.05, abs=1e-10)
    assert d.cumulative_alpha_spent_upper[-1] == pytest.approx(0.025, abs=1e-10)
    assert d.cumulative_alpha_spent_lower[-1] == pytest.approx(0.025, abs=1e-10)


@pytest.mark.parametrize("case_id", sorted(SYMMETRIC))
def test_symmetric_bounds_and_alpha_match_rpact(case_id: str) -> None:
    case, d = SYMMETRIC[case_id], _design(case_id)
    assert d.z_upper == pytest.approx(case["criticalValues"], abs=1e-5)
    assert d.z_lower == pytest.approx([-v for v in case["criticalValues"]], abs=1e-5)
    # rpact's alphaSpent is cumulative over both sides; its last value is alpha - 1e-6 (its tolerance)
    assert d.cumulative_alpha_spent == pytest.approx(case["alphaSpent"], abs=2e-6)
    # rpact integrates two-sided designs on 49 Newton-Cotes points per interval: its shift is good to
    # ~1.5e-5 (ours is converged to 1e-8 in the grid: test_grid_is_converged)
    assert d.drift**2 == pytest.approx(case["shift"], rel=3e-5)
    assert d.inflation_factor == pytest.approx(case["inflationFactor"], rel=3e-5)


@pytest.mark.parametrize("case_id", sorted(SYMMETRIC))
def test_symmetric_stopping_probabilities_match_rpact(case_id: str) -> None:
    case, d = SYMMETRIC[case_id], _design(case_id)
    h0 = np.add(d.reject_upper_h0, d.reject_lower_h0)
    h1 = np.add(d.reject_upper_h1, d.reject_lower_h1)
    assert h0 == pytest.approx(case["rejectPerStage_H0"], abs=2e-6)
    assert h1 == pytest.approx(case["rejectPerStage_H1"], abs=2e-5)
    assert d.type_one_error == pytest.approx(case["overallReject"][0], abs=2e-6)
    if case["betaSpent"] is None:
        assert d.power == pytest.approx(case["overallReject"][1], abs=2e-6)


@pytest.mark.parametrize("case_id", [c for c in sorted(SYMMETRIC) if SYMMETRIC[c]["futilityBounds"] is not None])
def test_two_sided_beta_spending_futility_matches_rpact(case_id: str) -> None:
    case, d = SYMMETRIC[case_id], _design(case_id)
    assert d.z_futility is not None
    ours = [None if v <= 1e-5 else v for v in d.z_futility[:-1]]  # rpact writes "no wedge" as NA
    for a, b in zip(ours, case["futilityBounds"], strict=True):
        assert (a is None) == (b is None), (ours, case["futilityBounds"])
        if a is not None:
            assert a == pytest.approx(b, abs=1e-5)
    assert d.cumulative_beta_spent == pytest.approx(case["betaSpent"], abs=2e-6)
    # rpact's power (twoSidedPower = FALSE) is the favourable side alone
    assert d.power_favourable == pytest.approx(case["power_upper_side"][-1], abs=2e-6)
    assert d.power == pytest.approx(1 - case["inputs"]["beta"], abs=1e-7)


@pytest.mark.parametrize("case_id", sorted(ASYMMETRIC))
def test_asymmetric_harm_bound_matches_mvtnorm(case_id: str) -> None:
    case = ASYMMETRIC[case_id]
    inp = case["inputs"]
    kw: dict[str, Any] = {"spending": inp["upper_spending"], "lower_spending": inp["lower_spending"],
                          "alpha": inp["upper_alpha"] + inp["lower_alpha"], "lower_alpha": inp["lower_alpha"]}
    if inp["upper_spending"] == "asHSD":
        kw["gamma"] = inp["upper_gamma"]
    if inp["lower_spending"] == "asHSD":
        kw["lower_gamma"] = inp["lower_gamma"]
    d = two_sided_design(inp["informationRates"], **kw)
    assert d.z_upper == pytest.approx(case["upper"], abs=1e-6)
    assert d.z_lower == pytest.approx(case["lower"], abs=1e-6)
    assert d.cumulative_alpha_spent_upper == pytest.approx(case["cumulative_upper"], abs=1e-9)
    assert d.cumulative_alpha_spent_lower == pytest.approx(case["cumulative_lower"], abs=1e-9)
    assert d.alpha_upper == pytest.approx(inp["upper_alpha"])
    assert d.symmetric is (inp["upper_spending"] == inp["lower_spending"] and inp["upper_alpha"] == inp["lower_alpha"]
                           and inp["upper_gamma"] == inp["lower_gamma"])


def test_symmetric_design_is_close_to_the_one_sided_design_at_half_alpha() -> None:
    """Only paths stopped at the lower bound that would have crossed the upper one later differ:
    the two-sided bounds are a hair lower after look 1, equal at look 1."""
    t = [0.2, 0.5, 0.8, 1.0]
    two = two_sided_design(t, alpha=0.05, spending="asHSD", gamma=-3)
    one = group_sequential_design(t, alpha=0.025, spending="asHSD", gamma=-3)
    assert two.z_upper[0] == pytest.approx(one.z_efficacy[0], abs=1e-12)
    assert two.z_upper == pytest.approx(one.z_efficacy, abs=1e-5)
    assert all(a <= b + 1e-12 for a, b in zip(two.z_upper, one.z_efficacy, strict=True))


def test_grid_is_converged() -> None:
    t = [0.5, 0.75, 1.0]
    kw = {"alpha": 0.05, "spending": "asP", "beta_spending": "bsP", "binding_futility": True}
    a, b = two_sided_design(t, **kw), two_sided_design(t, grid_r=96, **kw)
    assert a.drift == pytest.approx(b.drift, abs=1e-7)
    assert a.z_upper == pytest.approx(b.z_upper, abs=1e-7)
    assert a.z_futility == pytest.approx(b.z_futility, abs=1e-7)


def _simulate_z(t: np.ndarray, drift: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    inc = rng.standard_normal((n, t.size)) * np.sqrt(np.diff(np.concatenate(([0.0], t))))
    s = np.cumsum(inc, axis=1) + drift * t
    return s / np.sqrt(t)


def test_stopping_probabilities_by_monte_carlo() -> None:
    """Brownian-motion Monte Carlo of the asymmetric design: per-look stops within 4 MC SE."""
    t = np.array([0.25, 0.5, 0.75, 1.0])
    d = two_sided_design(t, alpha=0.05, lower_alpha=0.01, lower_spending="asP", beta=0.15)
    n = 200_000
    for drift, up_ref, low_ref in ((0.0, d.reject_upper_h0, d.reject_lower_h0),
                                   (d.drift, d.reject_upper_h1, d.reject_lower_h1)):
        z = _simulate_z(t, drift, n, seed=16)
        alive = np.ones(n, bool)
        for k in range(t.size):
            up = alive & (z[:, k] >= d.z_upper[k])
            low = alive & (z[:, k] <= d.z_lower[k])
            for p, ref in ((up.mean(), up_ref[k]), (low.mean(), low_ref[k])):
                assert abs(p - ref) <= 4 * math.sqrt(max(ref, 1e-6) * (1 - ref) / n) + 1e-6
            alive &= ~(up | low)


def test_bounds_from_planned_information_equal_the_design() -> None:
    t = (0.25, 0.5, 0.75, 1.0)
    d = two_sided_design(t, alpha=0.05, lower_alpha=0.01, lower_spending="asP")
    lo, up = two_sided_bounds_from_information(t, alpha=0.05, lower_alpha=0.01, lower_spending="asP")
    assert up == pytest.approx(d.z_upper, abs=1e-12)
    assert lo == pytest.approx(d.z_lower, abs=1e-12)
    # observed information short of the plan: the last look spends what is left on each side
    lo, up = two_sided_bounds_from_information((0.3, 0.55, 0.9), alpha=0.05, spend_all_at_last=True)
    u, low_, _ = two_sided_probabilities(np.array([0.3, 0.55, 0.9]), lo, up, None, 0.0, 32)
    assert u.sum() == pytest.approx(0.025, abs=1e-9)
    assert low_.sum() == pytest.approx(0.025, abs=1e-9)


def test_table_and_dict() -> None:
    pytest.importorskip("pandas")
    d = _design("asOF_bsOF_k3_binding")
    frame = d.to_frame()
    assert list(frame["look"]) == [1, 2, 3]
    assert {"z_lower", "z_upper", "z_futility", "cumulative_alpha_lower", "cumulative_alpha_upper"} <= set(frame)
    out = d.to_dict()
    assert out["sided"] == 2 and isinstance(out["z_upper"], list)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"alpha": 1.2}, "alpha"),
        ({"lower_alpha": 0.06}, "lower_alpha"),
        ({"lower_spending": "bsOF"}, "lower_spending"),
        ({"spending": "OF", "lower_alpha": 0.01}, "harm"),
        ({"beta_spending": "bsOF", "lower_alpha": 0.01}, "symmetric"),
        ({"beta_spending": "xx"}, "beta_spending"),
    ],
)
def test_bad_parameters_raise(kwargs: dict[str, Any], names: str) -> None:
    with pytest.raises(InvalidInput, match=names):
        two_sided_design([0.5, 1.0], **kwargs)


def test_asymmetric_inflation_factor_uses_the_favourable_sides_alpha() -> None:
    """Against the fixed design at the efficacy side's alpha: a harm bound barely costs information."""
    t = [0.25, 0.5, 0.75, 1.0]
    asym = two_sided_design(t, alpha=0.05, lower_alpha=0.01, lower_spending="asP", beta=0.2)
    one = group_sequential_design(t, alpha=0.04, beta=0.2)
    assert asym.inflation_factor == pytest.approx(one.inflation_factor, abs=2e-3)
    assert asym.inflation_factor > 1.0
