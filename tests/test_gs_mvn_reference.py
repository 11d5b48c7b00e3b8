"""The lattice MVN (simtrial.engine.gs_mvn) against R mvtnorm::pmvnorm, and its group-sequential bounds.

Fixtures: tests/fixtures/r/gs_mvn_cases.py writes the cases (dimensions 2-12: equicorrelated,
AR(1), random with some lower limits, log-rank and MaxCombo group-sequential structures),
gs_mvn_reference.R evaluates them with pmvnorm (GenzBretz, abseps 1e-7) and stores its error.
Bounds: with one component and the log-rank correlation sqrt(t_k / t_l) the per-trial bounds are
the classical spending bounds of simtrial.sequential (recursive integration, itself against rpact in
test_reference_rpact_sequential.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simtrial.engine.gs_mvn import combo_bounds, mvn_rectangle_py
from simtrial.sequential import efficacy_bounds_from_information
from simtrial.sequential.spending import alpha_spending

HERE = Path(__file__).parent / "fixtures" / "r"
CASES = json.loads((HERE / "gs_mvn_cases.json").read_text())
REFERENCE = {r["name"]: r for r in json.loads((HERE / "gs_mvn_reference.json").read_text())}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_probability_matches_pmvnorm_within_the_error_estimates(case):
    corr = np.array(case["corr"])
    upper = np.array(case["upper"])
    lower = np.array([-np.inf if v is None else v for v in case["lower"]])
    p, err = mvn_rectangle_py(lower, upper, corr, n_points=4096, n_shifts=8)
    ref = REFERENCE[case["name"]]
    assert err < 1e-3
    # the estimate (3.5 standard errors over 8 shifts of the rank-1 lattice) is itself estimated with 7
    # degrees of freedom: 20 of the 22 cases are within 0.75 of it, two 2-dimensional ones (errors ~2e-8)
    # at 1.2 of it
    assert abs(p - ref["probability"]) <= 1.25 * (err + ref["error"]) + 1e-12


def test_probability_is_deterministic():
    c = CASES[-1]
    args = (np.full(len(c["upper"]), -np.inf), np.array(c["upper"]), np.array(c["corr"]))
    assert mvn_rectangle_py(*args) == mvn_rectangle_py(*args)


def test_singular_correlation_is_defined():
    # two identical components: the pair is one variable (the smaller limit decides)
    corr = np.array([[1.0, 1.0, 0.5], [1.0, 1.0, 0.5], [0.5, 0.5, 1.0]])
    p, _ = mvn_rectangle_py(np.full(3, -np.inf), np.array([1.0, 0.5, 1.2]), corr, 4096, 8)
    from simtrial.engine.mvn import bvn_cdf

    assert p == pytest.approx(bvn_cdf(0.5, 1.2, 0.5), abs=1e-4)


def _logrank(t):
    t = np.array(t)
    return t, np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))


@pytest.mark.parametrize("fractions", [(0.5, 1.0), (0.3, 0.6, 1.0), (0.4, 0.7, 0.9)])
@pytest.mark.parametrize("spending", ["asOF", "asP"])
def test_one_component_with_logrank_correlation_gives_the_spending_bounds(fractions, spending):
    t, corr = _logrank(fractions)
    cum = alpha_spending(spending, 0.025, t)
    cum[-1] = 0.025
    bounds = np.empty(t.size)
    error = np.empty(t.size)
    combo_bounds(corr, 1, np.ones(t.size, bool), cum, np.full(t.size, -np.inf), 256, 8, bounds, error)
    ref = efficacy_bounds_from_information(tuple(t), 0.025, spending, spend_all_at_last=True)
    np.testing.assert_allclose(bounds, ref, atol=1e-5)
    assert (error == 0).all()  # dimension <= 3: the exact routines


def test_four_and_five_looks_by_the_lattice_within_its_error():
    for fractions in ((0.25, 0.5, 0.75, 1.0), (0.2, 0.4, 0.6, 0.8, 1.0)):
        t, corr = _logrank(fractions)
        cum = alpha_spending("asOF", 0.025, t)
        cum[-1] = 0.025
        bounds = np.empty(t.size)
        error = np.empty(t.size)
        combo_bounds(corr, 1, np.ones(t.size, bool), cum, np.full(t.size, -np.inf), 8192, 8, bounds, error)
        ref = efficacy_bounds_from_information(tuple(t), 0.025, "asOF", spend_all_at_last=True)
        np.testing.assert_allclose(bounds[:3], ref[:3], atol=1e-5)
        # a probability error e moves the bound by about e / (density at the bound) < 30 e here
        assert np.all(np.abs(bounds - ref)[3:] <= 30 * error[3:] + 1e-5)


def test_binding_futility_with_one_component_gives_the_binding_bounds():
    t, corr = _logrank((0.5, 1.0))
    cum = alpha_spending("asOF", 0.025, t)
    cum[-1] = 0.025
    bounds = np.empty(2)
    error = np.empty(2)
    combo_bounds(corr, 1, np.ones(2, bool), cum, np.array([0.2, -np.inf]), 8192, 8, bounds, error)
    ref = efficacy_bounds_from_information(tuple(t), 0.025, "asOF", spend_all_at_last=True, futility_z=[0.2],
                                           binding_futility=True)
    assert bounds[0] == pytest.approx(ref[0], abs=1e-7)
    assert abs(bounds[1] - ref[1]) <= 30 * error[1] + 1e-5


def test_maxcombo_bounds_spend_alpha_exactly():
    """Crossing probabilities at the solved bounds: look 1 by the exact trivariate routine, both looks by the
    (pmvnorm-checked) lattice at 16 times the points."""
    within = np.array([[1.0, 0.86, 0.92], [0.86, 1.0, 0.62], [0.92, 0.62, 1.0]])
    t, across = _logrank((0.5, 1.0))
    corr = np.kron(across, within)
    cum = alpha_spending("asOF", 0.025, t)
    cum[-1] = 0.025
    bounds = np.empty(2)
    error = np.empty(2)
    combo_bounds(corr, 3, np.ones(2, bool), cum, np.full(2, -np.inf), 256, 8, bounds, error)
    from simtrial.engine.mvn import (
        mvn_cdf_py,  # the exact trivariate routine (against pmvnorm elsewhere)
    )

    first = mvn_cdf_py(np.full(3, bounds[0]), within)
    both, err = mvn_rectangle_py(np.full(6, -np.inf), np.repeat(bounds, 3), corr, 8192, 8)
    assert 1 - first == pytest.approx(cum[0], abs=1e-6)
    assert 1 - both == pytest.approx(0.025, abs=error[1] + err + 1e-6)
    assert bounds[0] > efficacy_bounds_from_information((0.5, 1.0), 0.025, "asOF", spend_all_at_last=True)[0]
