"""Monte-Carlo properties of the time-to-event designs, at fixed seeds.

Type I error under H0 within 4 MC SEs of its level, 4 sqrt(p (1 - p) / n);
multiplicity keeps the family-wise error at or below alpha; the interaction
test holds its two-sided level 2 alpha with equal hazard ratios and rejects
when they differ a lot; enrichment screens N / (eligible fraction) patients.
Expected figures come from the design's definition (alpha, the prevalences),
never from a previous run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from simtrial.power import run
from simtrial.scenario import scenario_from_dict

pytestmark = pytest.mark.mc

N_SIMS = 4000


def _se(p: float, n: int = N_SIMS) -> float:
    return math.sqrt(p * (1 - p) / n)


def _two_arm(**overrides: Any) -> dict[str, Any]:
    """A HER2-positive trial: IHC 3+ and 2+/ISH+, control median 12 months, 1:1."""
    data: dict[str, Any] = {
        "name": "two-arm",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 0.7, "IHC 2+/ISH+": 0.3}},
        "arms": {
            "control": {
                "survival": {"IHC 3+": {"median_months": 12}, "IHC 2+/ISH+": {"median_months": 8}},
                "dropout": {"probability": 0.05, "by_months": 12},
            },
            "experimental": {
                "survival": {"all": {"hazard_ratio": 0.75}},
                "dropout": {"probability": 0.05, "by_months": 12},
            },
        },
        "allocation": {"control": 1, "experimental": 1},
        "n_patients": 600,
        "accrual": {"duration_months": 24},
        "analysis": {"test": "logrank", "alpha": 0.025, "sided": 1, "target_events": 350},
        "simulation": {"n_sims": N_SIMS, "seed": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def _assert_level(observed: float, level: float, what: str, n: int = N_SIMS) -> None:
    tol = 4 * _se(level, n)
    assert abs(observed - level) <= tol, f"{what}: {observed:.4f} vs level {level} (tolerance {tol:.4f})"


# --- non-inferiority -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "allocation", "seed"),
    [("cox", {"control": 1, "experimental": 1}, 11), ("stratified_cox", {"control": 1, "experimental": 2}, 12)],
)
def test_noninferiority_type_one_error_at_the_margin(test, allocation, seed) -> None:
    """H0 at its boundary: every patient's HR equals the margin, 1.3."""
    sc = scenario_from_dict(
        _two_arm(
            design="noninferiority",
            allocation=allocation,
            analysis={"test": test, "ni_margin": 1.3, "target_events": 400},
            arms={
                "control": {"survival": {"all": {"median_months": 12}}},
                "experimental": {"survival": {"all": {"hazard_ratio": 1.0}}},
            },
            simulation={"n_sims": N_SIMS, "seed": seed},
        )
    )
    result = run(sc, null=True)
    assert result.null and result.details["true_hazard_ratio"] == pytest.approx(1.3)
    _assert_level(result.power, 0.025, f"NI {test} type I error")
    # the estimated HR centres on the margin
    assert result.hr_median == pytest.approx(1.3, rel=0.03)


def test_noninferiority_null_in_a_subpopulation_keeps_alpha() -> None:
    """NI in assessed IHC 3+ with scoring error: H0 puts every true category that can be
    assessed IHC 3+ at the margin, so the test still has level alpha."""
    sc = scenario_from_dict(
        _two_arm(
            design="noninferiority",
            n_patients=700,
            population={
                "mix": {"IHC 3+": 0.7, "IHC 2+/ISH+": 0.3},
                "misclassification": {"IHC 2+/ISH+": {"IHC 2+/ISH+": 0.8, "IHC 3+": 0.2}},
            },
            analysis={"test": "cox", "ni_margin": 1.3, "population": "IHC 3+", "target_events": 400},
            arms={
                "control": {"survival": {"all": {"median_months": 12}}},
                "experimental": {"survival": {"IHC 3+": {"hazard_ratio": 1.0}, "IHC 2+/ISH+": {"hazard_ratio": 1.5}}},
            },
            simulation={"n_sims": N_SIMS, "seed": 13},
        )
    )
    _assert_level(run(sc, null=True).power, 0.025, "NI in IHC 3+ type I error")


# --- superiority -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "seed"),
    [("logrank", 21), ("cox", 22), ("stratified_logrank", 23), ("stratified_cox", 24)],
)
def test_superiority_type_one_error(test: str, seed: int) -> None:
    sc = scenario_from_dict(_two_arm(analysis={"test": test}, simulation={"n_sims": N_SIMS, "seed": seed}))
    result = run(sc, null=True)
    assert result.details["true_hazard_ratio"] == pytest.approx(1.0)
    _assert_level(result.power, 0.025, f"{test} type I error")


def test_superiority_two_sided_type_one_error() -> None:
    """sided: 2, alpha 0.05: rejection in either direction has probability 0.05 under H0, each side 0.025,
    and the Schoenfeld and Freedman figures are the same two-sided probability (alpha at HR 1)."""
    sc = scenario_from_dict(
        _two_arm(analysis={"alpha": 0.05, "sided": 2}, simulation={"n_sims": N_SIMS, "seed": 25})
    )
    result = run(sc, null=True)
    _assert_level(result.power, 0.05, "two-sided, either direction")
    _assert_level(result.decisions["reject_favourable"]["probability"], 0.025, "two-sided, favourable side")
    _assert_level(result.decisions["reject_unfavourable"]["probability"], 0.025, "two-sided, unfavourable side")
    assert result.analytic_power["schoenfeld"] == pytest.approx(0.05, abs=1e-12)
    assert result.analytic_power["freedman"] == pytest.approx(0.05, abs=1e-12)
    assert "two-sided" in result.power_label and "type I error" in result.power_label


# --- biomarker-stratified ------------------------------------------------------------------


def _biomarker(multiplicity: str, experimental: dict[str, Any], seed: int, **analysis: Any) -> dict[str, Any]:
    return _two_arm(
        name="biomarker",
        design="biomarker",
        n_patients=800,
        population={"mix": {"IHC 3+": 0.25, "IHC 2+/ISH+": 0.10, "IHC 2+/ISH-": 0.30, "IHC 1+": 0.35}},
        arms={
            "control": {"survival": {"all": {"median_months": 8}}},
            "experimental": {"survival": experimental},
        },
        analysis={
            "test": "logrank",
            "target_events": 500,
            "subgroups": ["HER2-positive", "HER2-low"],
            "multiplicity": multiplicity,
            "interaction": {"groups": ["HER2-positive", "HER2-low"]},
            **analysis,
        },
        simulation={"n_sims": N_SIMS, "seed": seed},
    )


@pytest.mark.parametrize(("multiplicity", "seed"), [("holm", 31), ("bonferroni", 32)])
def test_biomarker_family_wise_error_at_most_alpha(multiplicity: str, seed: int) -> None:
    """No treatment effect at all: rejecting any of (overall, HER2-positive, HER2-low)
    is a family-wise error, which Holm and Bonferroni keep at or below alpha."""
    sc = scenario_from_dict(_biomarker(multiplicity, {"all": {"hazard_ratio": 0.6}}, seed))
    result = run(sc, null=True)
    d = result.decisions
    assert {"reject_overall", "reject_HER2-positive", "reject_HER2-low", "reject_any", "interaction"} <= set(d)
    fwer = d["reject_any"]["probability"]
    assert fwer <= 0.025 + 4 * _se(0.025), f"{multiplicity}: FWER {fwer:.4f}"
    if multiplicity == "bonferroni":  # each hypothesis alone is tested at alpha / 3
        for name in ("reject_overall", "reject_HER2-positive", "reject_HER2-low"):
            _assert_level(d[name]["probability"], 0.025 / 3, name)
    # success is the overall hypothesis after adjustment
    assert result.power == pytest.approx(d["reject_overall"]["probability"])
    # the per-trial decisions are there, one column per hypothesis
    frame = result.per_trial_frame()
    for name in ("overall", "HER2-positive", "HER2-low", "any"):
        assert frame[f"decision_reject_{name}"].dtype == bool
    assert (frame["decision_reject_any"] == frame[
        ["decision_reject_overall", "decision_reject_HER2-positive", "decision_reject_HER2-low"]
    ].any(axis=1)).all()


def test_biomarker_per_subgroup_decisions_follow_the_effect() -> None:
    """Effect only in HER2-positive (HR 0.5), none in HER2-low: HER2-positive is rejected
    often, HER2-low about as rarely as a null hypothesis allows."""
    sc = scenario_from_dict(
        _biomarker("holm", {"HER2-positive": {"hazard_ratio": 0.5}, "HER2-low": {"hazard_ratio": 1.0}}, 33)
    )
    d = run(sc).decisions
    assert d["reject_HER2-positive"]["probability"] > 0.8
    assert d["reject_HER2-low"]["probability"] <= 0.025 + 4 * _se(0.025)


def test_interaction_test_holds_its_level_with_equal_hazard_ratios() -> None:
    """HR 0.7 in both groups: no interaction; two-sided level 2 alpha = 0.05."""
    sc = scenario_from_dict(_biomarker("holm", {"all": {"hazard_ratio": 0.7}}, 34))
    result = run(sc)
    assert result.details["interaction_level_two_sided"] == pytest.approx(0.05)
    _assert_level(result.decisions["interaction"]["probability"], 0.05, "interaction, equal HRs")
    # the interaction estimate (ratio of the groups' HRs) centres on 1
    ratio = result.outcomes.estimates["interaction_hr_ratio"]
    assert np.nanmedian(ratio) == pytest.approx(1.0, abs=0.03)


def test_interaction_test_detects_very_different_hazard_ratios() -> None:
    """HR 0.4 in HER2-positive, 1.0 in HER2-low: the ratio of HRs is 0.4, with ~175 and
    ~325 events in the groups; Wald z ~ log(0.4) / sqrt(4/175 + 4/325) ~ -4.9: power ~1."""
    sc = scenario_from_dict(
        _biomarker("holm", {"HER2-positive": {"hazard_ratio": 0.4}, "HER2-low": {"hazard_ratio": 1.0}}, 35)
    )
    result = run(sc, n_sims=1000)
    assert result.decisions["interaction"]["probability"] > 0.95
    ratio = np.nanmedian(result.outcomes.estimates["interaction_hr_ratio"])
    assert ratio == pytest.approx(0.4, rel=0.1)


# --- enrichment ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("population", "eligible_fraction"),
    [
        ({"mix": {"IHC 3+": 0.6, "IHC 2+/ISH+": 0.4}, "eligible": ["IHC 3+"]}, 0.6),
        (
            {
                "mix": {"IHC 3+": 0.6, "IHC 2+/ISH+": 0.4},
                "eligible": ["IHC 3+"],
                "misclassification": {
                    "IHC 3+": {"IHC 3+": 0.9, "IHC 2+/ISH+": 0.1},
                    "IHC 2+/ISH+": {"IHC 2+/ISH+": 0.75, "IHC 3+": 0.25},
                },
            },
            # P(assessed 3+) = 0.6 x 0.9 + 0.4 x 0.25
            0.6 * 0.9 + 0.4 * 0.25,
        ),
        ({"mix": {"IHC 3+": 0.2, "IHC 2+/ISH+": 0.1, "IHC 1+": 0.7}, "eligible": ["HER2-positive"]}, 0.3),
    ],
)
def test_enrichment_screens_n_over_the_eligible_fraction(population, eligible_fraction) -> None:
    n = 500
    sc = scenario_from_dict(
        _two_arm(
            name="enrichment",
            design="enrichment",
            n_patients=n,
            population=population,
            arms={
                "control": {"survival": {"all": {"median_months": 10}}},
                "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}},
            },
            analysis={"target_events": 300},
            simulation={"n_sims": 2000, "seed": 41},
        )
    )
    result = run(sc)
    details = result.details
    assert details["eligible_fraction"] == pytest.approx(eligible_fraction, rel=1e-12)
    assert details["expected_screened"] == pytest.approx(n / eligible_fraction, rel=1e-12)
    assert details["expected_screen_failures"] == pytest.approx(n / eligible_fraction - n, rel=1e-12)
    # simulated screening: n + NegativeBinomial(n, p), mean n / p, SD sqrt(n (1 - p)) / p
    sd = math.sqrt(n * (1 - eligible_fraction)) / eligible_fraction
    assert abs(details["screened_mean"] - n / eligible_fraction) <= 4 * sd / math.sqrt(result.n_sims)
    assert details["screened_p95"] > n / eligible_fraction
    assert result.mean_enrolled == n
