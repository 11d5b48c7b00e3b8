"""The sample size a user takes away: confirmed by an independent run, within its stated uncertainty of
the analytic answer, reproducible from the written scenario, and honest about budgets.

Analytic references are independent of the search: Schoenfeld's events written out by hand
((z_a + z_b)^2 (1 + r)^2 / (r log(HR / M)^2)), times the group-sequential inflation factor that
rpact's getDesignCharacteristics reports for the same design (checked in test_reference_rpact_sequential).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from scipy.stats import norm
from simtrial_cli.main import main

from simtrial.errors import MAX_SEED, BudgetExhausted
from simtrial.power import run
from simtrial.samplesize import isotonic, sample_size
from simtrial.scenario import scenario_from_dict

ALPHA, POWER = 0.025, 0.8


def _schoenfeld(hr: float, margin: float = 1.0, power: float = POWER) -> float:
    return 4 * (norm.isf(ALPHA) + norm.isf(1 - power)) ** 2 / math.log(hr / margin) ** 2


def _trial(design: str = "superiority", hr: float = 0.7, **analysis: Any) -> dict[str, Any]:
    return {
        "name": f"{design} PH",
        "design": design,
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {
            "control": {"survival": {"all": {"median_months": 12.0}}},
            "experimental": {"survival": {"all": {"hazard_ratio": hr}}},
        },
        "n_patients": 1200,
        "accrual": {"duration_months": 24},
        "analysis": {"alpha": ALPHA, "sided": 1, "target_events": 300, **analysis},
        "simulation": {"n_sims": 1000, "seed": 20261201},
    }


CASES = {
    "fixed logrank": (_trial(test="logrank"), _schoenfeld(0.7)),
    "non-inferiority": (_trial("noninferiority", hr=1.0, test="cox", ni_margin=1.35), _schoenfeld(1.0, 1.35)),
    "group-sequential": (
        _trial(test="logrank", sequential={"information_fractions": [0.5, 1.0], "efficacy_spending": "asOF"}),
        None,  # Schoenfeld x the design's inflation factor, read from the result
    ),
}


@pytest.mark.mc
@pytest.mark.parametrize("case", list(CASES))
def test_answer_is_confirmed_and_near_the_analytic_one(case: str) -> None:
    data, analytic = CASES[case]
    result = sample_size(scenario_from_dict(data), target_power=POWER, solve_for="events", precision=0.04)
    assert result.confirmed
    assert result.achieved_power >= POWER, result.confirmations
    if analytic is None:
        analytic = _schoenfeld(0.7) * result.confirmation.details["inflation_factor"]
    assert result.analytic_events == pytest.approx(analytic, rel=1e-6)
    # the answer (and the refine crossing it came from) lies within 4 Monte-Carlo SE of the analytic
    # answer (the stated uncertainty is a 95% half-width, 1.96 SE; Schoenfeld is itself an
    # approximation, so a 95% bound would fail by design about one seed in twenty); confirmation
    # only ever moves the answer up from the crossing
    crossing = result.details["refine_crossing"]
    four_se = 4.0 * result.uncertainty / 1.959963984540054
    assert abs(result.events_required - analytic) <= four_se, (result.events_required, analytic, result.uncertainty)
    assert abs(crossing - analytic) <= four_se, (crossing, analytic, result.uncertainty)
    assert result.events_required >= math.ceil(crossing - 1e-9)


def test_default_precision_is_two_percent() -> None:
    data, _ = CASES["fixed logrank"]
    result = sample_size(scenario_from_dict(data), target_power=POWER, solve_for="events")
    assert result.precision == 0.02
    assert result.uncertainty <= 1.1 * 0.02 * result.events_required
    assert result.achieved_power >= POWER


def test_written_scenario_reproduces_the_confirmation_exactly(tmp_path) -> None:
    data, _ = CASES["fixed logrank"]
    out = tmp_path / "ss"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(main, ["samplesize", str(path), "--solve-for", "events", "--precision", "0.05",
                                    "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    resolved = yaml.safe_load((out / "scenario.resolved.yaml").read_text())
    assert resolved["analysis"]["target_events"] != 300  # the solved answer, not the file's value
    again = run(scenario_from_dict(resolved))
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert resolved["analysis"]["target_events"] == summary["events_required"]
    assert again.power == summary["achieved_power"]
    assert "Monte-Carlo uncertainty" in res.output and "confirmation (independent run)" in res.output


def test_budget_too_small_exits_1_with_the_reason(tmp_path) -> None:
    data, _ = CASES["fixed logrank"]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(main, ["samplesize", str(path), "--max-sims", "3000", "--quiet"])
    assert res.exit_code == 1
    assert "budget" in res.output and "--max-sims 3,000" in res.output and "Traceback" not in res.output
    with pytest.raises(BudgetExhausted, match="no confirmed answer"):
        sample_size(scenario_from_dict(data), max_sims=3000)


def test_largest_seed_is_accepted() -> None:
    data, _ = CASES["fixed logrank"]
    result = sample_size(scenario_from_dict(data), seed=MAX_SEED, n_sims=300, precision=0.1, solve_for="events")
    assert result.confirmed
    assert all(0 <= c["seed"] <= MAX_SEED for c in result.confirmations)


def test_power_curve_monotone_column_is_non_decreasing_per_stage() -> None:
    data, _ = CASES["fixed logrank"]
    result = sample_size(scenario_from_dict(data), n_sims=500, precision=0.08, solve_for="n_patients")
    for stage in {p["stage"] for p in result.curve}:
        mono = [p["power_monotone"] for p in result.curve if p["stage"] == stage]
        assert all(b >= a for a, b in zip(mono, mono[1:], strict=False))


def test_isotonic_by_hand() -> None:
    assert isotonic([0.1, 0.3, 0.2, 0.4]) == pytest.approx([0.1, 0.25, 0.25, 0.4])
    assert isotonic([0.5, 0.4, 0.3]) == pytest.approx([0.4, 0.4, 0.4])
    assert isotonic([0.1, 0.2]) == [0.1, 0.2]
