"""Sizes are checked before anything runs, in one place (simtrial.errors): validate refuses what run
cannot do, and a run that would not fit in memory is refused with its estimate (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from simtrial_cli.main import main

import simtrial.errors
from simtrial.errors import MAX_PATIENTS


def _tte(**top: Any) -> dict[str, Any]:
    data = {
        "name": "sizes", "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"median_months": 10}}},
                 "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}}},
        "n_patients": 300, "accrual": {"duration_months": 12},
        "analysis": {"test": "logrank", "target_events": 200},
        "simulation": {"n_sims": 100, "seed": 1},
    }
    data.update(top)
    return data


def _invoke(tmp_path: Path, data: dict[str, Any], *args: str):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return CliRunner().invoke(main, [args[0], str(path), *args[1:]])


@pytest.mark.parametrize(
    ("top", "field"),
    [
        ({"n_patients": 1e308}, "n_patients"),
        ({"n_patients": MAX_PATIENTS + 1}, "n_patients"),
        ({"allocation": {"control": 1, "experimental": 1e308}}, "allocation.experimental"),
        ({"block_multiple": 10**9}, "block_multiple"),
        ({"analysis": {"test": "logrank", "target_events": 200, "landmark_months": list(range(1, 60))}},
         "analysis.landmark_months"),
    ],
)
def test_validate_refuses_sizes_run_cannot_do(tmp_path: Path, top: dict[str, Any], field: str) -> None:
    res = _invoke(tmp_path, _tte(**top), "validate")
    assert res.exit_code == 2, res.output
    assert field in res.output and "allowed" in res.output and "Traceback" not in res.output


def test_sims_above_the_cap_is_refused(tmp_path: Path) -> None:
    res = _invoke(tmp_path, _tte(), "run", "--sims", "10000001", "--quiet")
    assert res.exit_code == 2 and "10,000,000" in res.output


def test_a_run_that_would_not_fit_is_refused_with_the_estimate(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(simtrial.errors, "available_memory_bytes", lambda: 10 * 2**20)
    res = _invoke(tmp_path, _tte(), "run", "--sims", "200000", "--quiet")
    assert res.exit_code == 2, res.output
    assert "GiB" in res.output and "available" in res.output


def test_undefined_primary_statistics_are_flagged_and_warned(tmp_path: Path) -> None:
    data = _tte(n_patients=100, analysis={"test": "cox", "target_events": 3}, simulation={"n_sims": 200, "seed": 1})
    res = _invoke(tmp_path, data, "run", "--quiet")
    assert res.exit_code == 0
    assert "primary_statistic_undefined" in res.output
    assert "warning:" in res.output and "counted as not rejecting" in res.output


def test_fleming_harrington_weights_are_bounded(tmp_path: Path) -> None:
    data = _tte(analysis={"test": "fleming_harrington", "target_events": 200,
                          "fleming_harrington": {"rho": 1000, "gamma": 1000}})
    res = _invoke(tmp_path, data, "validate")
    assert res.exit_code == 2 and "fleming_harrington.rho" in res.output


def test_validate_says_when_only_samplesize_can_use_a_file(tmp_path: Path) -> None:
    data = _tte(sample_size={"target_power": 0.8, "solve_for": "events"})
    del data["analysis"]["target_events"]
    refused = _invoke(tmp_path, data, "validate")
    assert refused.exit_code == 2 and "analysis.target_events" in refused.output and "allowed:" in refused.output
    res = _invoke(tmp_path, data, "validate", "--for", "samplesize", "--format", "json")
    import json

    d = json.loads(res.output)
    assert res.exit_code == 0 and d["runnable"] is False and d["run_needs"] == ["analysis.target_events"]
    run = _invoke(tmp_path, data, "run", "--quiet")
    assert run.exit_code == 2 and "target_events" in run.output


def test_a_cut_short_of_its_target_is_flagged(tmp_path: Path) -> None:
    # an accrual of 1e308 months puts the last entries at infinite calendar times: never analysed
    data = _tte(accrual={"duration_months": 1e308}, analysis={"test": "logrank", "target_events": 245})
    res = _invoke(tmp_path, data, "run", "--quiet", "--format", "json")
    import json

    d = json.loads(res.output)
    assert d["mean_events"] < 245
    assert d["flags"]["target_events_not_reached"] == d["n_sims"]


def test_a_model_parameter_overflow_names_the_file_and_field(tmp_path: Path) -> None:
    data = _tte(arms={"control": {"survival": {"all": {"weibull": {"shape": 0.001, "scale_months": 10}}}},
                      "experimental": {"survival": {"all": {"hazard_ratio": 0.2}}}})
    res = _invoke(tmp_path, data, "validate")
    assert res.exit_code == 2, res.output
    assert "s.yaml" in res.output and "arms.experimental.survival.all.hazard_ratio" in res.output
    assert "allowed:" in res.output and "internal error" not in res.output


def test_an_impossible_simon_design_names_fields_the_user_can_change(tmp_path: Path) -> None:
    data = {"name": "simon", "design": "simon_two_stage", "population": {"mix": {"IHC 0": 1.0}},
            "arms": {"experimental": {"response": {"all": {"probability": 0.12}}}},
            "analysis": {"test": "exact_binomial", "alpha": 0.05, "p0": 0.10, "p1": 0.12}}
    for command in (("validate",), ("run", "--quiet")):  # validate refuses what run could not do
        res = _invoke(tmp_path, data, *command)
        assert res.exit_code == 2, res.output
        assert "n_max" not in res.output and "analysis.alpha" in res.output and "allowed:" in res.output
