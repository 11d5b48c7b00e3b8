"""Sample-size search: events against Schoenfeld's formula, N keeping the events ratio,
a clear error when the maximum is too small, and reproducibility at a fixed seed.

Schoenfeld (1983) for a 1:1 log-rank test at one-sided alpha and power 1 - beta:
D = 4 (z_alpha + z_beta)^2 / log(HR)^2, computed here by hand (246.8 events at
HR 0.7, alpha 0.025, power 0.8; rpact's getSampleSizeSurvival gives the same,
``fixtures/rpact_simulation_survival.json``).  Near 0.8 the power rises by
~0.0016 per event, so with 10,000 trials per point (MC SE 0.004, i.e. ~2.5
events) the 3% (7 events) tolerance is about three SEs of the search's answer.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from rpact_reference import FIXTURE
from scipy.stats import norm

from simtrial.samplesize import sample_size
from simtrial.scenario import scenario_from_dict

ALPHA, POWER, HR = 0.025, 0.8, 0.7


def _ph(**overrides: Any) -> dict[str, Any]:
    """Proportional hazards, 1:1, exponential control median 6.8 months, HR 0.7."""
    data: dict[str, Any] = {
        "name": "PH 1:1",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {
            "control": {"survival": {"all": {"median_months": 6.8}}},
            "experimental": {"survival": {"all": {"hazard_ratio": HR}}},
        },
        "allocation": {"control": 1, "experimental": 1},
        "n_patients": 1000,
        "accrual": {"duration_months": 24},
        "analysis": {"test": "logrank", "alpha": ALPHA, "sided": 1, "target_events": 300},
        "simulation": {"n_sims": 1000, "seed": 20260401},
    }
    data.update(overrides)
    return data


def _schoenfeld_events(hr: float, alpha: float, power: float) -> float:
    return 4 * (norm.isf(alpha) + norm.isf(1 - power)) ** 2 / math.log(hr) ** 2


def test_hand_schoenfeld_equals_rpact_required_events() -> None:
    """The hand formula is the one rpact's getSampleSizeSurvival uses (independent check of the check)."""
    rows = [r for r in json.loads(FIXTURE.read_text())["sample_size"] if r["id"] == "d1_reference"]
    assert rows
    for row in rows:
        assert _schoenfeld_events(row["hazardRatio"], row["alpha"], row["power"]) == pytest.approx(
            row["rpact_maxNumberOfEvents"], rel=1e-9
        )


def test_events_within_three_percent_of_schoenfeld() -> None:
    expected = _schoenfeld_events(HR, ALPHA, POWER)
    result = sample_size(scenario_from_dict(_ph()), target_power=POWER, solve_for="events", n_sims=2000, seed=11,
                         precision=0.03)
    assert result.solve_for == "events"
    # within 3% of Schoenfeld, or within 4 Monte-Carlo SE of it when the search's own MC error is wider
    four_se = 4.0 * result.uncertainty / 1.959963984540054
    assert abs(result.events_required - expected) <= max(0.03 * expected, four_se), (
        result.events_required, expected, result.uncertainty)
    assert result.analytic_events == pytest.approx(expected, rel=1e-9)
    assert result.n_required == 1000  # solving for events leaves N alone
    # the printed answer is one whose independent confirmation reaches the target
    assert result.confirmed and result.achieved_power >= POWER
    assert result.confirmations[-1]["events"] == result.events_required
    assert all(not c["reached_target"] for c in result.confirmations[:-1])


@pytest.mark.parametrize(
    ("n_patients", "target_events", "events_per_patient", "ratio"),
    [(400, 200, None, 0.5), (1000, 300, 0.6, 0.6)],
)
def test_solving_for_n_patients_keeps_the_events_ratio(n_patients, target_events, events_per_patient, ratio) -> None:
    search: dict[str, Any] = {"target_power": POWER, "solve_for": "n_patients"}
    if events_per_patient is not None:
        search["events_per_patient"] = events_per_patient
    sc = scenario_from_dict(
        _ph(
            n_patients=n_patients,
            analysis={"test": "logrank", "alpha": ALPHA, "sided": 1, "target_events": target_events},
            sample_size=search,
        )
    )
    result = sample_size(sc, n_sims=2000, seed=5)
    n = result.n_required
    assert result.solve_for == "n_patients"
    assert result.events_required == round(ratio * n)
    assert result.confirmation.n_patients == n
    # every point of the search ran at the kept ratio: N ~ Schoenfeld's events / ratio
    assert n == pytest.approx(_schoenfeld_events(HR, ALPHA, POWER) / ratio, rel=0.08)


def test_events_per_patient_without_n_patients_drives_the_events() -> None:
    """n_patients may be left out when the search derives the events from events_per_patient."""
    data = _ph(
        analysis={"test": "logrank", "alpha": ALPHA, "sided": 1},
        sample_size={"target_power": POWER, "solve_for": "n_patients", "events_per_patient": 0.5},
    )
    del data["n_patients"]
    result = sample_size(scenario_from_dict(data), n_sims=2000, seed=5)
    assert result.events_required == round(0.5 * result.n_required)
    assert result.n_required == pytest.approx(_schoenfeld_events(HR, ALPHA, POWER) / 0.5, rel=0.08)


@pytest.mark.parametrize(("solve_for", "maximum"), [("n_patients", 100), ("events", 60)])
def test_too_small_maximum_raises_a_clear_error(solve_for: str, maximum: int) -> None:
    sc = scenario_from_dict(_ph())
    with pytest.raises(ValueError) as info:
        sample_size(sc, target_power=POWER, solve_for=solve_for, n_sims=500, seed=1, maximum=maximum)
    message = str(info.value)
    assert f"{solve_for} = {maximum}" in message
    assert "maximum" in message and "0.8" in message


def test_minimum_above_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="minimum"):
        sample_size(scenario_from_dict(_ph()), solve_for="n_patients", n_sims=100, minimum=900, maximum=800)


def test_search_is_reproducible() -> None:
    sc = scenario_from_dict(_ph())
    a = sample_size(sc, target_power=POWER, solve_for="events", n_sims=1000, seed=42, precision=0.05)
    b = sample_size(sc, target_power=POWER, solve_for="events", n_sims=1000, seed=42, precision=0.05)
    assert a.events_required == b.events_required
    assert a.curve == b.curve
    assert a.achieved_power == b.achieved_power
    # every stage and confirmation has its own seed
    seeds = {p["seed"] for p in a.curve} | {c["seed"] for c in a.confirmations}
    assert len(seeds) == len({p["stage"] for p in a.curve}) + len(a.confirmations)


def test_fixed_target_events_without_n_patients_or_ratio_is_refused() -> None:
    """Fixed events and no N: nothing says how the events grow with N, so the search is undefined."""
    data = _ph(sample_size={"target_power": POWER, "solve_for": "n_patients"})
    del data["n_patients"]
    with pytest.raises(ValueError, match="events_per_patient"):
        sample_size(scenario_from_dict(data), n_sims=100, seed=1)


def test_running_a_scenario_without_n_patients_names_the_field() -> None:
    from simtrial.power import run

    data = _ph(sample_size={"target_power": POWER, "solve_for": "n_patients", "events_per_patient": 0.5})
    del data["n_patients"]
    with pytest.raises(ValueError, match="n_patients"):
        run(scenario_from_dict(data), n_sims=10)


def test_mc_uncertainty_matches_the_schoenfeld_slope() -> None:
    """1.96 SE / slope at the refine stage's simulations, with Schoenfeld's slope dP/dD = phi(z) |log HR| / (4 sqrt(D))."""
    result = sample_size(scenario_from_dict(_ph()), target_power=POWER, solve_for="events", n_sims=1000, seed=3,
                         precision=0.04)
    d = _schoenfeld_events(HR, ALPHA, POWER)
    slope = norm.pdf(norm.isf(1 - POWER)) * abs(math.log(HR)) / (4 * math.sqrt(d))
    n_refine = result.details["n_sims_refine"]
    expected = 1.959963984540054 * math.sqrt(POWER * (1 - POWER) / n_refine) / slope
    assert result.uncertainty == pytest.approx(expected, rel=0.3)
    # the refine stage was sized for the precision asked for
    assert result.uncertainty <= 1.1 * 0.04 * result.events_required


def test_single_arm_exact_scan_is_the_smallest_n_by_hand() -> None:
    """Exact binomial power is a saw-tooth in N; the search scans it exactly (checked with scipy by hand)."""
    from scipy.stats import binom

    p0, p1, alpha, target = 0.2, 0.4, 0.05, 0.8
    data = {
        "name": "single arm",
        "design": "single_arm_binary",
        "population": {"mix": {"IHC 0": 1.0}},
        "arms": {"experimental": {"response": {"all": {"probability": p1}}}},
        "n_patients": 30,
        "analysis": {"test": "exact_binomial", "alpha": alpha, "p0": p0},
        "simulation": {"n_sims": 2000, "seed": 4},
    }

    def exact_power(n: int) -> float:
        c = next(c for c in range(n + 2) if binom.sf(c - 1, n, p0) <= alpha)
        return binom.sf(c - 1, n, p1)

    expected = next(n for n in range(2, 200) if exact_power(n) >= target)
    result = sample_size(scenario_from_dict(data), target_power=target, n_sims=2000, seed=4)
    assert result.n_required == expected
    stable = result.details["n_from_which_every_larger_n_reaches_target"]
    assert stable >= expected and all(exact_power(n) >= target for n in range(stable, stable + 20))
    assert abs(result.achieved_power - exact_power(expected)) <= 4 * result.achieved_power_mc_se + 1e-9
