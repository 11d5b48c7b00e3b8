"""Simon two-stage designs against Simon (1989), Controlled Clinical Trials 10:1-10, Tables 1-2.

Each row: p0, p1, alpha, beta; optimal (r1, n1, r, n, EN0, PET0);
minimax (r1, n1, r, n, EN0, PET0) as printed in the paper (EN0 to 0.1, PET0 to 0.01).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simtrial.stats.simon import (
    SimonBoundaries,
    simon_decision,
    simon_design,
    simon_designs,
    simon_operating_characteristics,
    simulate_simon,
)

SIMON_1989 = [
    # p0,   p1,  alpha, beta,  optimal,                        minimax
    (0.05, 0.25, 0.05, 0.20, (0, 9, 2, 17, 12.0, 0.63), (0, 12, 2, 16, 13.8, 0.54)),
    (0.05, 0.25, 0.05, 0.10, (0, 9, 3, 30, 16.8, 0.63), (0, 15, 3, 25, 20.4, 0.46)),
    (0.10, 0.30, 0.05, 0.20, (1, 10, 5, 29, 15.0, 0.74), (1, 15, 5, 25, 19.5, 0.55)),
    (0.10, 0.30, 0.05, 0.10, (2, 18, 6, 35, 22.5, 0.73), (2, 22, 6, 33, 26.2, 0.62)),
    (0.20, 0.40, 0.05, 0.20, (3, 13, 12, 43, 20.6, 0.75), (4, 18, 10, 33, 22.3, 0.72)),
    (0.20, 0.40, 0.05, 0.10, (4, 19, 15, 54, 30.4, 0.67), (5, 24, 13, 45, 31.2, 0.66)),
    (0.30, 0.50, 0.05, 0.20, (5, 15, 18, 46, 23.6, 0.72), (6, 19, 16, 39, 25.7, 0.67)),
    (0.30, 0.50, 0.05, 0.10, (8, 24, 24, 63, 34.7, 0.73), (7, 24, 21, 53, 36.6, 0.56)),
]


def _exact_by_hand(r1, n1, r, n, p):
    """P(reject), PET, EN from explicit binomial sums with math.comb (no scipy)."""

    def pmf(k, m):
        return math.comb(m, k) * p**k * (1 - p) ** (m - k)

    n2 = n - n1
    pet = sum(pmf(x, n1) for x in range(r1 + 1))
    reject = sum(
        pmf(x1, n1) * pmf(x2, n2) for x1 in range(r1 + 1, n1 + 1) for x2 in range(n2 + 1) if x1 + x2 > r
    )
    return reject, pet, n1 + (1 - pet) * n2


@pytest.mark.parametrize("p0, p1, alpha, beta, optimal, minimax", SIMON_1989)
def test_matches_simon_1989_table(p0, p1, alpha, beta, optimal, minimax):
    opt, mm = simon_designs(p0, p1, alpha, beta)
    for design, expected, kind in ((opt, optimal, "optimal"), (mm, minimax, "minimax")):
        r1, n1, r, n, en0, pet0 = expected
        assert design.kind == kind
        assert (design.r1, design.n1, design.r, design.n) == (r1, n1, r, n)
        assert design.en0 == pytest.approx(en0, abs=0.05 + 1e-9)
        assert design.pet0 == pytest.approx(pet0, abs=0.005 + 1e-9)
        assert design.actual_alpha <= alpha
        assert design.power >= 1 - beta


def test_design_figures_equal_hand_binomial_sums():
    design = simon_design(0.1, 0.3, 0.05, 0.1, kind="optimal")
    reject0, pet0, en0 = _exact_by_hand(design.r1, design.n1, design.r, design.n, 0.1)
    reject1, _, _ = _exact_by_hand(design.r1, design.n1, design.r, design.n, 0.3)
    assert design.actual_alpha == pytest.approx(reject0, abs=1e-12)
    assert design.power == pytest.approx(reject1, abs=1e-12)
    assert design.pet0 == pytest.approx(pet0, abs=1e-12)
    assert design.en0 == pytest.approx(en0, abs=1e-10)


def test_minimax_via_simon_design_and_to_dict():
    design = simon_design(0.05, 0.25, 0.05, 0.2, kind="minimax")
    d = design.to_dict()
    assert (d["r1"], d["n1"], d["r"], d["n"]) == (0, 12, 2, 16)
    assert set(d) >= {"en0", "pet0", "actual_alpha", "power"}
    assert design.boundaries == SimonBoundaries(0, 12, 2, 16)
    with pytest.raises(AttributeError):
        design.n = 3  # frozen


@pytest.mark.parametrize("p", [0.0, 0.05, 0.17, 0.3, 0.62, 1.0])
def test_operating_characteristics_equal_hand_sums(p):
    b = SimonBoundaries(2, 18, 6, 35)
    oc = simon_operating_characteristics(b, p)
    reject, pet, en = _exact_by_hand(2, 18, 6, 35, p)
    assert oc.prob_reject == pytest.approx(reject, abs=1e-12)
    assert oc.prob_early_stop == pytest.approx(pet, abs=1e-12)
    assert oc.expected_n == pytest.approx(en, abs=1e-10)


def test_operating_characteristics_vectorised_over_p():
    b = SimonBoundaries(1, 10, 5, 29)
    ps = np.array([0.1, 0.2, 0.3])
    oc = simon_operating_characteristics(b, ps)
    assert oc.prob_reject.shape == (3,)
    for i, p in enumerate(ps):
        assert oc.prob_reject[i] == pytest.approx(_exact_by_hand(1, 10, 5, 29, p)[0], abs=1e-12)
    assert np.all(np.diff(oc.prob_reject) > 0)


def test_decision_rule_by_hand():
    b = SimonBoundaries(1, 10, 5, 29)
    s1 = np.array([0, 1, 2, 2, 3, 6])
    s2 = np.array([9, 9, 3, 4, 2, 0])
    d = simon_decision(b, s1, s2)
    np.testing.assert_array_equal(d.stopped_early, [True, True, False, False, False, False])
    # total > 5 rejects: 2+3=5 no, 2+4=6 yes, 3+2=5 no, 6+0=6 yes
    np.testing.assert_array_equal(d.reject, [False, False, False, True, False, True])
    np.testing.assert_array_equal(d.patients, [10, 10, 29, 29, 29, 29])


@pytest.mark.mc
@pytest.mark.parametrize("p", [0.1, 0.3])
def test_monte_carlo_oc_agrees_with_exact(p):
    b = SimonBoundaries(2, 18, 6, 35)
    exact = simon_operating_characteristics(b, p)
    mc = simulate_simon(b, p, n_sims=20_000, seed=20240601)
    assert abs(mc.prob_reject - exact.prob_reject) <= 4 * math.sqrt(
        exact.prob_reject * (1 - exact.prob_reject) / mc.n_sims
    )
    assert abs(mc.prob_early_stop - exact.prob_early_stop) <= 4 * math.sqrt(
        exact.prob_early_stop * (1 - exact.prob_early_stop) / mc.n_sims
    )
    sd_n = (b.n - b.n1) * math.sqrt(exact.prob_early_stop * (1 - exact.prob_early_stop))
    assert abs(mc.expected_n - exact.expected_n) <= 4 * sd_n / math.sqrt(mc.n_sims)
    assert mc.to_dict()["seed"] == 20240601
    # same seed, same numbers
    assert simulate_simon(b, p, n_sims=20_000, seed=20240601) == mc


# --------------------------------------------------------------------------- bad parameters


@pytest.mark.parametrize(
    "args, match",
    [
        ((0.0, 0.3, 0.05, 0.2), r"p0 must be a probability in \(0, 1\)"),
        ((0.1, 1.0, 0.05, 0.2), r"p1 must be a probability in \(0, 1\)"),
        ((0.3, 0.1, 0.05, 0.2), "p1 must be > p0"),
        ((0.1, 0.3, 0.5, 0.2), r"alpha must be in \(0, 0.5\)"),
        ((0.1, 0.3, 0.05, 0.0), r"beta must be in \(0, 0.5\)"),
    ],
)
def test_bad_design_parameters(args, match):
    with pytest.raises(ValueError, match=match):
        simon_designs(*args)


def test_no_design_within_n_max():
    with pytest.raises(ValueError, match="no Simon design with n <= n_max"):
        simon_designs(0.1, 0.3, 0.05, 0.1, n_max=20)


def test_bad_kind_and_boundaries():
    with pytest.raises(ValueError, match="kind"):
        simon_design(0.1, 0.3, 0.05, 0.2, kind="admissible")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="0 <= r1 < n1 < n"):
        SimonBoundaries(3, 3, 5, 10)
    with pytest.raises(ValueError, match="r1 <= r < n"):
        SimonBoundaries(2, 5, 1, 10)
    b = SimonBoundaries(1, 10, 5, 29)
    with pytest.raises(ValueError, match="stage1_responders must be integers in"):
        simon_decision(b, np.array([11]), np.array([0]))
    with pytest.raises(ValueError, match="stage2_responders must be integers in"):
        simon_decision(b, np.array([2]), np.array([20]))
    with pytest.raises(ValueError, match="p must be a probability"):
        simon_operating_characteristics(b, 1.5)
