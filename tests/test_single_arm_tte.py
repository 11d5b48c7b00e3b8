"""Single-arm time to event (``simtrial.stats.single_arm_tte``): exact Poisson test and one-sample log-rank.

References: the exact Poisson test's size by enumeration of the Poisson
probabilities written out here (``math.exp`` / ``math.lgamma``, no scipy);
the one-sample log-rank's type I error by simulation under the reference
curve (Wu 2015's variance (O + E) / 2: within 4 MC SE of alpha; the classic
variance E is conservative, as Wu reports), and its statistic against a hand
computation (Breslow 1975: E = sum of the reference cumulative hazard at each
follow-up).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simtrial.errors import InvalidInput
from simtrial.stats.single_arm_tte import (
    exact_poisson_size,
    exact_poisson_test,
    one_sample_logrank,
    poisson_critical_events,
    simulate_single_arm,
)
from simtrial.survival import PiecewiseExponential, Weibull

REF = PiecewiseExponential((0.0,), (math.log(2) / 24,))  # median 24 months
RATE = 12 * math.log(2) / 24  # per patient-year


def _pmf(k: int, mu: float) -> float:
    return math.exp(k * math.log(mu) - mu - math.lgamma(k + 1))


@pytest.mark.parametrize(("py", "rate", "alpha"), [(50.0, 0.2, 0.05), (120.0, 0.1, 0.025), (400.0, 0.35, 0.01),
                                                   (10.0, 0.05, 0.1)])
def test_exact_poisson_size_by_enumeration(py: float, rate: float, alpha: float) -> None:
    mu = py * rate
    cum, c = 0.0, -1
    for k in range(0, 10 * int(mu) + 50):
        if cum + _pmf(k, mu) > alpha:
            break
        cum += _pmf(k, mu)
        c = k
    assert poisson_critical_events(py, rate, alpha) == c
    assert exact_poisson_size(py, rate, alpha) == pytest.approx(cum, rel=1e-10, abs=1e-300)
    assert exact_poisson_size(py, rate, alpha) <= alpha
    if c >= 0:
        assert exact_poisson_test(c, py, rate) <= alpha < exact_poisson_test(c + 1, py, rate)


def test_exact_poisson_size_by_simulated_counts() -> None:
    py, rate, alpha = 80.0, 0.3, 0.05
    rng = np.random.default_rng(7)
    x = rng.poisson(py * rate, 200_000)
    rejected = np.array([exact_poisson_test(int(k), py, rate) <= alpha for k in np.unique(x)])
    table = dict(zip(np.unique(x), rejected, strict=True))
    p = float(np.mean([table[k] for k in x]))
    size = exact_poisson_size(py, rate, alpha)
    assert abs(p - size) <= 4 * math.sqrt(size * (1 - size) / x.size)


def test_one_sample_logrank_statistic_by_hand() -> None:
    x = np.array([3.0, 10.0, 24.0, 30.0, 5.5])
    d = np.array([True, False, True, False, True])
    z, p, o, e = one_sample_logrank(x, d, REF)
    e_hand = sum(t * math.log(2) / 24 for t in x)
    assert o == 3 and e == pytest.approx(e_hand)
    assert z == pytest.approx((e_hand - 3) / math.sqrt(e_hand))
    zw, _, _, _ = one_sample_logrank(x, d, REF, variance="wu")
    assert zw == pytest.approx((e_hand - 3) / math.sqrt((3 + e_hand) / 2))
    w = Weibull(1.5, 20.0)
    _, _, _, e_w = one_sample_logrank(x, d, w)
    assert e_w == pytest.approx(sum((t / 20.0) ** 1.5 for t in x))
    with pytest.raises(InvalidInput):
        one_sample_logrank(x, d, REF, variance="other")


@pytest.mark.mc
def test_mc_one_sample_logrank_type_one_error() -> None:
    n = 6000
    wu = simulate_single_arm(REF, REF, n_patients=150, accrual_months=12, analysis_months=36, n_sims=n, seed=11,
                             variance="wu", reference_rate_per_patient_year=RATE)
    assert abs(wu.power_logrank - 0.025) <= 4 * math.sqrt(0.025 * 0.975 / n)
    classic = simulate_single_arm(REF, REF, n_patients=150, accrual_months=12, analysis_months=36, n_sims=n,
                                  seed=11, reference_rate_per_patient_year=RATE)
    assert classic.power_logrank <= 0.025 + 4 * math.sqrt(0.025 * 0.975 / n)  # conservative, never liberal
    # the exact Poisson test is valid (size <= alpha up to MC error)
    assert classic.power_poisson <= 0.025 + 4 * math.sqrt(0.025 * 0.975 / n)
    # the expected events under the reference equal the observed ones on average (H0)
    assert abs(classic.mean_events - classic.mean_expected_events_reference) < 1.0


@pytest.mark.mc
def test_mc_power_and_futility_looks() -> None:
    better = PiecewiseExponential((0.0,), (0.6 * math.log(2) / 24,))
    oc = simulate_single_arm(better, REF, n_patients=150, accrual_months=12, analysis_months=36, n_sims=1500,
                             seed=12, reference_rate_per_patient_year=RATE, futility_patient_years=[60.0],
                             futility_max_events=[int(60 * RATE * 1.1)])
    assert oc.power_logrank > 0.8 and oc.power_poisson > 0.8
    assert 0.0 <= oc.p_stop_futility[0] < 0.05
    worse = simulate_single_arm(REF, REF, n_patients=150, accrual_months=12, analysis_months=36, n_sims=1500,
                                seed=13, reference_rate_per_patient_year=RATE, futility_patient_years=[60.0],
                                futility_max_events=[int(60 * RATE)])
    assert worse.p_stop_futility[0] > 0.3
