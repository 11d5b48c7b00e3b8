"""Two-arm designs on a binary endpoint run the two-arm binary test; the summary keeps the scenario's design name."""

from __future__ import annotations

import math

import pytest
from scipy.stats import norm

from simtrial.power import run
from simtrial.scenario import scenario_from_dict


def _binary(design: str, **analysis) -> dict:
    return {
        "name": f"binary {design}",
        "design": design,
        "endpoint": "binary",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {
            "control": {"response": {"all": {"probability": 0.4}}},
            "experimental": {"response": {"all": {"probability": 0.55}}},
        },
        "n_patients": 400,
        "analysis": {"alpha": 0.025, **analysis},
        "simulation": {"n_sims": 4000, "seed": 9},
    }


@pytest.mark.mc
def test_binary_superiority_runs_the_chi_square_test() -> None:
    result = run(scenario_from_dict(_binary("superiority", test="chi_square")))
    assert result.design == "superiority" and result.details["decision_rule"] == "binary"
    # pooled-variance normal approximation, 200 per arm, by hand
    p0, p1, n = 0.4, 0.55, 200
    pbar = (p0 + p1) / 2
    z = (abs(p1 - p0) - norm.isf(0.025) * math.sqrt(2 * pbar * (1 - pbar) / n)) / math.sqrt(
        (p0 * (1 - p0) + p1 * (1 - p1)) / n
    )
    expected = norm.cdf(z)
    assert abs(result.power - expected) <= 4 * math.sqrt(expected * (1 - expected) / result.n_sims)


def test_binary_biomarker_is_refused_with_a_reason() -> None:
    data = _binary("biomarker", test="chi_square", subgroups=["IHC 3+"])
    with pytest.raises(ValueError, match="time-to-event only"):
        run(scenario_from_dict(data), n_sims=10)
