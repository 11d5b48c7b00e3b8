"""Analytic survival power / sample size against hand calculations and rpact.

Hand figures use normal quantiles from tables: z_0.975 = 1.959964,
z_0.95 = 1.644854, z_0.90 = 1.281552, z_0.80 = 0.841621.

rpact figures: tests/fixtures/r/rpact_analytic_survival.csv, made by the R
script beside it (rpact 3.3.4, getSampleSizeSurvival / getPowerSurvival).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from simtrial.stats.analytic import (
    events_to_patients,
    freedman_events,
    freedman_power,
    probability_of_event,
    schoenfeld_events,
    schoenfeld_power,
    survival_sample_size,
)

Z975, Z95, Z90, Z80 = 1.959964, 1.644854, 1.281552, 0.841621

RPACT_CSV = Path(__file__).parent / "fixtures" / "r" / "rpact_analytic_survival.csv"


def _rpact_rows() -> list[dict[str, str]]:
    with RPACT_CSV.open() as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- hand values


def test_schoenfeld_hr07_hand_value():
    # 4 (z_0.975 + z_0.90)^2 / log(0.7)^2 = 4 * 3.241516^2 / 0.357^2 = 330.38
    expected = 4 * (Z975 + Z90) ** 2 / math.log(0.7) ** 2
    assert expected == pytest.approx(330.38, abs=0.01)
    assert schoenfeld_events(0.7, 0.025, 0.9) == pytest.approx(expected, rel=1e-6)


def test_schoenfeld_classic_hr05_two_sided_66_events():
    # HR 0.5, alpha 0.05 two-sided, power 0.8: 4 (1.96 + 0.84)^2 / log(2)^2 = 65.3 -> 66 events
    expected = 4 * (Z975 + Z80) ** 2 / math.log(2.0) ** 2
    got = schoenfeld_events(0.5, 0.05, 0.8, sided=2)
    assert got == pytest.approx(expected, rel=1e-6)
    assert math.ceil(got) == 66


def test_schoenfeld_allocation_2_to_1_hand_value():
    # (1 + r)^2 / r = 9 / 2 for r = 2
    expected = 4.5 * (Z975 + Z80) ** 2 / math.log(0.75) ** 2
    assert schoenfeld_events(0.75, 0.025, 0.8, allocation_ratio=2) == pytest.approx(expected, rel=1e-6)


def test_allocation_ratio_is_symmetric_for_schoenfeld():
    # r and 1/r give the same information (1 + r)^2 / r
    a = schoenfeld_events(0.7, 0.025, 0.9, allocation_ratio=2.0)
    b = schoenfeld_events(0.7, 0.025, 0.9, allocation_ratio=0.5)
    assert a == pytest.approx(b, rel=1e-12)


def test_schoenfeld_non_inferiority_hand_value():
    # H0: HR >= 1.3, true HR 1.0: 4 (z_0.975 + z_0.80)^2 / (log 1.3)^2
    expected = 4 * (Z975 + Z80) ** 2 / math.log(1.3) ** 2
    assert schoenfeld_events(1.0, 0.025, 0.8, ni_margin=1.3) == pytest.approx(expected, rel=1e-6)


def test_freedman_hand_values():
    # 1:1, HR 0.7: (1 + 0.7)^2 / (1 - 0.7)^2 (z_a + z_b)^2 = 32.111 * 10.5074 = 337.4
    expected = (1.7 / 0.3) ** 2 * (Z975 + Z90) ** 2
    assert freedman_events(0.7, 0.025, 0.9) == pytest.approx(expected, rel=1e-6)
    # HR 0.5, two-sided 0.05, power 0.8: 9 * (1.96 + 0.84)^2 = 70.6 -> 71 events
    expected = 9 * (Z975 + Z80) ** 2
    assert freedman_events(0.5, 0.05, 0.8, sided=2) == pytest.approx(expected, rel=1e-6)
    # r = 2, HR 0.65: (1 + 2 * 0.65)^2 / (2 * 0.35^2)
    expected = (1 + 2 * 0.65) ** 2 / (2 * 0.35**2) * (Z975 + Z80) ** 2
    assert freedman_events(0.65, 0.025, 0.8, allocation_ratio=2) == pytest.approx(expected, rel=1e-6)


def test_freedman_needs_more_events_than_schoenfeld_for_hr_below_one():
    for hr in (0.5, 0.7, 0.85):
        assert freedman_events(hr, 0.025, 0.9) > schoenfeld_events(hr, 0.025, 0.9)


def test_power_hand_value():
    # 264 events, HR 0.7, one-sided 0.025: Phi(sqrt(264)/2 * 0.356675 - 1.959964)
    drift = math.sqrt(264) / 2 * -math.log(0.7) - Z975
    expected = 0.5 * math.erfc(-drift / math.sqrt(2))
    assert schoenfeld_power(264, 0.7, 0.025) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "events_fn, power_fn", [(schoenfeld_events, schoenfeld_power), (freedman_events, freedman_power)]
)
@pytest.mark.parametrize("hr, r", [(0.6, 1.0), (0.8, 2.0), (0.75, 0.5)])
def test_power_inverts_events(events_fn, power_fn, hr, r):
    d = events_fn(hr, 0.025, 0.85, allocation_ratio=r)
    assert power_fn(d, hr, 0.025, allocation_ratio=r) == pytest.approx(0.85, abs=1e-10)


def test_power_at_the_null_is_alpha():
    assert schoenfeld_power(300, 1.0, 0.025) == pytest.approx(0.025, abs=1e-12)
    assert schoenfeld_power(300, 1.3, 0.025, ni_margin=1.3) == pytest.approx(0.025, abs=1e-12)
    assert freedman_power(300, 1.0, 0.025) == pytest.approx(0.025, abs=1e-12)
    assert schoenfeld_power(300, 1.0, 0.05, sided=2) == pytest.approx(0.05, abs=1e-12)


# --------------------------------------------------------------------------- event probability


def test_probability_of_event_no_accrual_no_dropout():
    # everyone followed for one control median: P = 1 - 0.5
    assert probability_of_event(12, 1.0, 0, 12) == pytest.approx(0.5, abs=1e-12)
    # experimental HR 0.5 followed one control median: 1 - 0.5^0.5; averaged 1:1
    expected = (0.5 + (1 - 0.5**0.5)) / 2
    assert probability_of_event(12, 0.5, 0, 12) == pytest.approx(expected, abs=1e-12)
    # 2:1 weights the experimental arm 2/3
    expected = (0.5 + 2 * (1 - 0.5**0.5)) / 3
    assert probability_of_event(12, 0.5, 0, 12, allocation_ratio=2) == pytest.approx(expected, abs=1e-12)


def test_probability_of_event_uniform_accrual_hand_value():
    # lambda = log2/12, A = 24, F = 12:
    # 1 - exp(-lambda F)(1 - exp(-lambda A)) / (lambda A) = 1 - 0.5 * 0.75 / (2 log 2) = 0.729495
    expected = 1 - 0.5 * 0.75 / (2 * math.log(2))
    assert expected == pytest.approx(0.729495, abs=1e-6)
    assert probability_of_event(12, 1.0, 24, 12) == pytest.approx(expected, abs=1e-12)


def test_probability_of_event_with_dropout_hand_value():
    # A = 0: P = lambda / (lambda + eta) * (1 - exp(-(lambda + eta) F))
    lam, eta, f = math.log(2) / 10, 0.01, 20
    expected = lam / (lam + eta) * (1 - math.exp(-(lam + eta) * f))
    assert probability_of_event(10, 1.0, 0, f, dropout_hazard_per_month=eta) == pytest.approx(
        expected, abs=1e-12
    )


def test_events_to_patients():
    assert events_to_patients(330.0, 0.66) == pytest.approx(500.0)


def test_survival_sample_size_rounds_up_and_has_dict():
    res = survival_sample_size(0.7, 0.025, 0.9, 12, 24, 12)
    assert res.events == 331
    assert res.patients_exact == pytest.approx(res.events_exact / res.event_probability)
    assert res.patients == math.ceil(res.patients_exact)
    d = res.to_dict()
    assert d["method"] == "schoenfeld" and d["events"] == 331
    with pytest.raises(AttributeError):
        res.events = 1  # frozen


# --------------------------------------------------------------------------- rpact


@pytest.mark.parametrize("row", _rpact_rows(), ids=lambda r: r["id"])
def test_against_rpact(row):
    f = float
    method = row["type"].lower()
    hr, margin = f(row["hazard_ratio"]), f(row["ni_margin"])
    alpha, beta, sided, r = f(row["alpha"]), f(row["beta"]), int(row["sided"]), f(row["allocation_ratio"])
    eta = -math.log(1 - f(row["dropout_rate"])) / f(row["dropout_time_months"])
    res = survival_sample_size(
        hr,
        alpha,
        1 - beta,
        control_median_months=f(row["control_median_months"]),
        accrual_months=f(row["accrual_months"]),
        followup_months=f(row["followup_months"]),
        allocation_ratio=r,
        ni_margin=margin,
        sided=sided,
        dropout_hazard_per_month=eta,
        method=method,
    )
    assert res.events_exact == pytest.approx(f(row["events"]), rel=1e-9)
    assert res.patients_exact == pytest.approx(f(row["patients"]), rel=1e-9)
    power_fn = schoenfeld_power if method == "schoenfeld" else freedman_power
    power = power_fn(f(row["power_events"]), hr, alpha, r, margin, sided)
    assert power == pytest.approx(f(row["power"]), abs=1e-9)


# --------------------------------------------------------------------------- bad parameters


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(hazard_ratio=0.0), "hazard_ratio"),
        (dict(hazard_ratio=-0.5), "hazard_ratio"),
        (dict(alpha=0.0), r"alpha must be in \(0, 0.5\)"),
        (dict(alpha=0.5), r"alpha must be in \(0, 0.5\)"),
        (dict(power=1.0), r"power must be a probability in \(0, 1\)"),
        (dict(power=0.01), "power must exceed alpha"),
        (dict(allocation_ratio=0.0), "allocation_ratio"),
        (dict(ni_margin=0.9), "ni_margin must be >= 1"),
        (dict(sided=3), "sided must be 1 or 2"),
        (dict(hazard_ratio=1.1), "hazard_ratio must be < ni_margin"),
        (dict(hazard_ratio=1.3, ni_margin=1.3), "hazard_ratio must be < ni_margin"),
        (dict(ni_margin=1.3, sided=2), "sided must be 1"),
    ],
)
def test_schoenfeld_bad_parameters(kwargs, match):
    args = dict(hazard_ratio=0.7, alpha=0.025, power=0.9)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        schoenfeld_events(**args)


def test_freedman_rejects_non_inferiority():
    with pytest.raises(ValueError, match="ni_margin must be 1"):
        freedman_events(1.0, 0.025, 0.8, ni_margin=1.3)
    with pytest.raises(ValueError, match="ni_margin must be 1"):
        freedman_power(300, 1.0, 0.025, ni_margin=1.3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(control_median_months=0), "control_median_months"),
        (dict(accrual_months=-1), "accrual_months"),
        (dict(followup_months=-1), "followup_months"),
        (dict(accrual_months=0, followup_months=0), "accrual_months \\+ followup_months"),
        (dict(dropout_hazard_per_month=-0.1), "dropout_hazard_per_month"),
        (dict(hazard_ratio=0), "hazard_ratio"),
    ],
)
def test_probability_of_event_bad_parameters(kwargs, match):
    args = dict(control_median_months=12, hazard_ratio=0.7, accrual_months=24, followup_months=12)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        probability_of_event(**args)


def test_power_bad_events():
    with pytest.raises(ValueError, match="events must be a finite number > 0"):
        schoenfeld_power(0, 0.7, 0.025)
    with pytest.raises(ValueError, match="event_probability"):
        events_to_patients(100, 1.5)
    with pytest.raises(ValueError, match="method"):
        survival_sample_size(0.7, 0.025, 0.9, 12, 24, 12, method="lachin")  # type: ignore[arg-type]
