"""Binary-endpoint tests against scipy, statsmodels and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import binomtest, chi2_contingency
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.power import normal_sample_size_one_tail

from simtrial.stats.binary import (
    binomial_critical_value,
    cmh_test,
    exact_binomial_test,
    risk_difference_ni_test,
    single_arm_exact_design,
    two_proportion_sample_size,
    two_proportion_test,
)

Z975, Z80 = 1.959964, 0.841621


def _random_counts(rng: np.random.Generator, shape: tuple[int, ...], n_max: int = 60):
    patients = rng.integers(2, n_max, size=shape)
    p = rng.uniform(0.1, 0.9, size=shape)
    responders = rng.binomial(patients, p)
    return responders, patients


def _table(responders, patients):
    """2x2 table rows = arm (control, experimental), columns = (responder, non-responder)."""
    return np.array([[responders[0], patients[0] - responders[0]], [responders[1], patients[1] - responders[1]]])


# --------------------------------------------------------------------------- chi-square


def test_two_proportion_test_matches_scipy_chi2():
    rng = np.random.default_rng(20240501)
    responders, patients = _random_counts(rng, (200, 2))
    res = two_proportion_test(responders, patients)
    assert res.z.shape == (200,)
    for i in range(200):
        table = _table(responders[i], patients[i])
        if table.sum(axis=0).min() == 0:
            assert np.isnan(res.z[i])
            continue
        chi2, p, dof, _ = chi2_contingency(table, correction=False)
        assert res.z[i] ** 2 == pytest.approx(chi2, rel=1e-10)
        assert res.p_value_two_sided[i] == pytest.approx(p, rel=1e-8)
        diff = responders[i, 1] / patients[i, 1] - responders[i, 0] / patients[i, 0]
        assert np.sign(res.z[i]) == np.sign(diff)


def test_two_proportion_hand_value_and_sign():
    # control 10/50, experimental 20/50: pbar = 0.3, SE = sqrt(0.21 * 0.04) = 0.091652
    res = two_proportion_test(np.array([[10, 20], [20, 10]]), np.array([[50, 50], [50, 50]]))
    z = 0.2 / math.sqrt(0.21 * 0.04)
    np.testing.assert_allclose(res.z, [z, -z], rtol=1e-12)
    np.testing.assert_allclose(res.p_value_one_sided[0], 0.5 * math.erfc(z / math.sqrt(2)), rtol=1e-9)


def test_two_proportion_keeps_leading_axes_and_nan_for_degenerate():
    responders = np.array([[[0, 0], [0, 3]], [[5, 5], [0, 2]]])
    patients = np.array([[[10, 10], [0, 4]], [[5, 5], [6, 6]]])
    res = two_proportion_test(responders, patients)
    assert res.z.shape == (2, 2)
    assert np.isnan(res.z[0, 0])  # nobody responded
    assert np.isnan(res.z[0, 1])  # empty control arm
    assert np.isnan(res.z[1, 0])  # everybody responded
    assert np.isfinite(res.z[1, 1])
    d = res.to_dict()
    assert set(d) == {"z", "p_value_one_sided", "p_value_two_sided"}


# --------------------------------------------------------------------------- CMH


def _statsmodels_cmh(responders, patients):
    """responders/patients [n_strata, 2] -> (statistic, pvalue) from statsmodels."""
    tables = np.stack([_table(responders[k], patients[k]) for k in range(len(responders))], axis=-1)
    res = StratifiedTable(tables.astype(float)).test_null_odds(correction=False)
    return res.statistic, res.pvalue


def test_cmh_matches_statsmodels():
    rng = np.random.default_rng(7)
    responders, patients = _random_counts(rng, (100, 4, 2))
    res = cmh_test(responders, patients)
    assert res.z.shape == (100,)
    for i in range(100):
        stat, p = _statsmodels_cmh(responders[i], patients[i])
        assert res.z[i] ** 2 == pytest.approx(stat, rel=1e-10)
        assert res.p_value_two_sided[i] == pytest.approx(p, rel=1e-8)


def test_cmh_sign_positive_when_experimental_better_in_every_stratum():
    responders = np.array([[[2, 8], [5, 9], [1, 4]]])
    patients = np.array([[[10, 10], [12, 12], [8, 8]]])
    assert cmh_test(responders, patients).z[0] > 0
    assert cmh_test(responders[..., ::-1], patients[..., ::-1]).z[0] < 0


def test_cmh_single_stratum_equals_chi_square():
    rng = np.random.default_rng(3)
    responders, patients = _random_counts(rng, (50, 2))
    cmh = cmh_test(responders[:, None, :], patients[:, None, :]).z
    chi = two_proportion_test(responders, patients).z
    # the MH variance uses N - 1 where Pearson uses N: z_cmh = z_chi * sqrt((N - 1) / N)
    n = patients.sum(axis=1)
    np.testing.assert_allclose(cmh, chi * np.sqrt((n - 1) / n), rtol=1e-12)


def test_cmh_strata_with_an_empty_arm_contribute_nothing():
    responders = np.array([[[2, 8], [5, 9], [0, 4], [3, 0]]])
    patients = np.array([[[10, 10], [12, 12], [0, 8], [7, 0]]])
    stat, p = _statsmodels_cmh(responders[0, :2], patients[0, :2])
    res = cmh_test(responders, patients)
    assert res.z[0] ** 2 == pytest.approx(stat, rel=1e-10)
    assert res.p_value_two_sided[0] == pytest.approx(p, rel=1e-8)


def test_cmh_all_strata_empty_or_uninformative_is_nan():
    responders = np.array([[[0, 0], [0, 0]], [[0, 3], [2, 0]], [[0, 0], [0, 0]]])
    patients = np.array([[[0, 0], [0, 0]], [[0, 5], [4, 0]], [[3, 3], [4, 4]]])
    res = cmh_test(responders, patients)
    assert np.all(np.isnan(res.z))
    assert np.all(np.isnan(res.p_value_two_sided))


# --------------------------------------------------------------------------- NI risk difference


def _fm_by_optimisation(x1, n1, x0, n0, margin):
    """Restricted MLE under p1 = p0 - margin by numerical maximisation, then the FM z."""

    def nll(p0):
        p1 = p0 - margin
        terms = []
        for x, n, p in ((x1, n1, p1), (x0, n0, p0)):
            if x > 0:
                terms.append(x * math.log(p))
            if n - x > 0:
                terms.append((n - x) * math.log(1 - p))
        return -sum(terms)

    eps = 1e-12
    p0 = minimize_scalar(nll, bounds=(margin + eps, 1 - eps), method="bounded", options={"xatol": 1e-12}).x
    p1 = p0 - margin
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return (x1 / n1 - x0 / n0 + margin) / se


def test_fm_matches_numerical_restricted_mle():
    rng = np.random.default_rng(11)
    responders, patients = _random_counts(rng, (60, 2), n_max=120)
    for margin in (0.05, 0.1, 0.2):
        z = risk_difference_ni_test(responders, patients, margin).z
        for i in range(60):
            expected = _fm_by_optimisation(
                responders[i, 1], patients[i, 1], responders[i, 0], patients[i, 0], margin
            )
            assert z[i] == pytest.approx(expected, rel=1e-6)


def test_fm_hand_value_no_responders():
    # 0/10 vs 0/10, margin 0.1: restricted MLE p1 = 0, p0 = 0.1, SE = sqrt(0.09 / 10)
    res = risk_difference_ni_test(np.array([[0, 0]]), np.array([[10, 10]]), 0.1)
    assert res.z[0] == pytest.approx(0.1 / math.sqrt(0.009), rel=1e-9)


def test_wald_hand_value():
    # control 60/100, experimental 55/100, margin 0.1:
    # (0.55 - 0.60 + 0.1) / sqrt(0.55 * 0.45 / 100 + 0.6 * 0.4 / 100)
    res = risk_difference_ni_test(np.array([[60, 55]]), np.array([[100, 100]]), 0.1, method="wald")
    z = 0.05 / math.sqrt((0.2475 + 0.24) / 100)
    assert res.z[0] == pytest.approx(z, rel=1e-12)
    assert res.p_value_one_sided[0] == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-9)


def test_ni_degenerate_cases():
    responders = np.array([[0, 3], [0, 0], [5, 5]])
    patients = np.array([[0, 5], [10, 10], [5, 5]])
    fm = risk_difference_ni_test(responders, patients, 0.1).z
    wald = risk_difference_ni_test(responders, patients, 0.1, method="wald").z
    assert np.isnan(fm[0]) and np.isnan(wald[0])  # empty arm
    assert np.isfinite(fm[1]) and np.isnan(wald[1])  # Wald SE is 0, FM's is not
    assert np.isfinite(fm[2]) and np.isnan(wald[2])


# --------------------------------------------------------------------------- exact binomial


def test_exact_binomial_matches_scipy_binomtest():
    rng = np.random.default_rng(5)
    n = 30
    x = rng.integers(0, n + 1, size=40)
    p = exact_binomial_test(x, n, 0.2)
    for xi, pi in zip(x, p, strict=True):
        assert pi == pytest.approx(binomtest(int(xi), n, 0.2, alternative="greater").pvalue, rel=1e-10)


@pytest.mark.parametrize("n, p0, alpha", [(20, 0.1, 0.05), (35, 0.2, 0.025), (50, 0.3, 0.1), (5, 0.5, 0.01)])
def test_critical_value_is_the_smallest_rejecting_count(n, p0, alpha):
    c = binomial_critical_value(n, p0, alpha)
    if c <= n:
        assert binomtest(c, n, p0, alternative="greater").pvalue <= alpha
    if c >= 1:
        assert binomtest(c - 1, n, p0, alternative="greater").pvalue > alpha


def test_single_arm_design_hand_values():
    # n = 20, p0 = 0.1, alpha = 0.05: P(X >= 5 | 0.1) = 0.0432 <= 0.05 < P(X >= 4) = 0.1330
    design = single_arm_exact_design(20, 0.1, 0.3, 0.05)
    assert design.critical_value == 5

    def tail(c, p):
        return sum(math.comb(20, k) * p**k * (1 - p) ** (20 - k) for k in range(c, 21))

    assert design.actual_alpha == pytest.approx(tail(5, 0.1), rel=1e-10)
    assert design.actual_alpha == pytest.approx(0.0432, abs=5e-5)
    assert design.power == pytest.approx(tail(5, 0.3), rel=1e-10)
    assert design.to_dict()["critical_value"] == 5


def test_critical_value_never_reject():
    # n = 5, p0 = 0.5: P(X = 5) = 1/32 = 0.03125 > 0.01, so no count rejects
    assert binomial_critical_value(5, 0.5, 0.01) == 6


# --------------------------------------------------------------------------- sample size


def test_sample_size_fleiss_classic():
    # p 0.2 vs 0.4, two-sided 0.05, power 0.8, no continuity correction: 82 per arm
    # (81.2 = (1.96 sqrt(2 * 0.3 * 0.7) + 0.8416 sqrt(0.16 + 0.24))^2 / 0.2^2)
    res = two_proportion_sample_size(0.2, 0.4, 0.05, 0.8, sided=2)
    expected = (Z975 * math.sqrt(0.42) + Z80 * math.sqrt(0.4)) ** 2 / 0.04
    assert res.n_control_exact == pytest.approx(expected, rel=1e-5)
    assert res.n_control == res.n_experimental == 82
    assert res.to_dict()["n_total"] == 164


@pytest.mark.parametrize("p0, p1, r, alpha", [(0.3, 0.45, 1.0, 0.025), (0.25, 0.5, 2.0, 0.05), (0.6, 0.7, 0.5, 0.025)])
def test_sample_size_matches_statsmodels(p0, p1, r, alpha):
    pbar = (p0 + r * p1) / (1 + r)
    std_null = math.sqrt(pbar * (1 - pbar) * (1 + 1 / r))
    std_alt = math.sqrt(p0 * (1 - p0) + p1 * (1 - p1) / r)
    expected = normal_sample_size_one_tail(p1 - p0, 0.9, alpha, std_null=std_null, std_alternative=std_alt)
    res = two_proportion_sample_size(p0, p1, alpha, 0.9, allocation_ratio=r)
    assert res.n_control_exact == pytest.approx(expected, rel=1e-10)
    assert res.n_experimental == math.ceil(r * expected)


def test_sample_size_non_inferiority_hand_value():
    # p0 = p1 = 0.8, margin 0.1, one-sided 0.025, power 0.8: (1.96 + 0.8416)^2 * 0.32 / 0.01
    res = two_proportion_sample_size(0.8, 0.8, 0.025, 0.8, ni_margin=0.1)
    assert res.n_control_exact == pytest.approx((Z975 + Z80) ** 2 * 0.32 / 0.01, rel=1e-5)
    assert res.n_control == 252


# --------------------------------------------------------------------------- bad parameters


def test_bad_counts():
    with pytest.raises(ValueError, match="responders must be <= patients"):
        two_proportion_test(np.array([[3, 1]]), np.array([[2, 5]]))
    with pytest.raises(ValueError, match="counts >= 0"):
        two_proportion_test(np.array([[-1, 1]]), np.array([[2, 5]]))
    with pytest.raises(ValueError, match="integer counts"):
        two_proportion_test(np.array([[1.5, 1]]), np.array([[2, 5]]))
    with pytest.raises(ValueError, match="same shape"):
        two_proportion_test(np.array([[1, 1]]), np.array([2, 5, 3]))
    with pytest.raises(ValueError, match="last axis must be the arm"):
        two_proportion_test(np.array([[1, 1, 1]]), np.array([[2, 5, 3]]))
    with pytest.raises(ValueError, match="n_strata"):
        cmh_test(np.array([1, 1]), np.array([2, 5]))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: risk_difference_ni_test([[1, 1]], [[2, 2]], 0.0), r"ni_margin must be a risk difference in \(0, 1\)"),
        (lambda: risk_difference_ni_test([[1, 1]], [[2, 2]], 0.1, method="mn"), "method"),
        (lambda: binomial_critical_value(20, 1.0, 0.05), r"p0 must be a probability in \(0, 1\)"),
        (lambda: binomial_critical_value(20, 0.1, 0.6), r"alpha must be in \(0, 0.5\)"),
        (lambda: binomial_critical_value(0, 0.1, 0.05), "n must be an integer >= 1"),
        (lambda: single_arm_exact_design(20, 0.1, 0.0, 0.05), r"p1 must be a probability in \(0, 1\)"),
        (lambda: exact_binomial_test([1], 5, -0.1), "p0"),
        (lambda: two_proportion_sample_size(0.4, 0.2, 0.025, 0.8), "p1 must be > p0"),
        (lambda: two_proportion_sample_size(0.2, 0.4, 0.025, 1.2), "power"),
        (lambda: two_proportion_sample_size(0.2, 0.4, 0.025, 0.8, allocation_ratio=-1), "allocation_ratio"),
        (lambda: two_proportion_sample_size(0.2, 0.4, 0.025, 0.8, ni_margin=1.5), "ni_margin"),
        (lambda: two_proportion_sample_size(0.5, 0.3, 0.025, 0.8, ni_margin=0.1), "p1 - p0 must be > -ni_margin"),
    ],
)
def test_bad_parameters(call, match):
    with pytest.raises(ValueError, match=match):
        call()
