"""What a user reads: labels that say what they mean, design-level bad input as exit 2 naming the
field, our own bugs as exit 1, landmark survival that matches the model it was simulated from.

The landmark reference is the model's own S(t) (a mixture over categories) evaluated by the
survival classes, an independent path from the engine's Kaplan-Meier.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from simtrial_cli.main import main

import simtrial.power
from simtrial.errors import MAX_SEED
from simtrial.power import run
from simtrial.scenario import scenario_from_dict


def _tte(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "answers",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 0.5, "IHC 2+/ISH+": 0.5}},
        "arms": {
            "control": {"survival": {"IHC 3+": {"median_months": 10}, "IHC 2+/ISH+": {"median_months": 6}}},
            "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}},
        },
        "n_patients": 400,
        "accrual": {"duration_months": 12},
        "analysis": {"test": "logrank", "alpha": 0.025, "target_events": 250},
        "simulation": {"n_sims": 300, "seed": 3},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def _invoke(tmp_path: Path, data: dict[str, Any], *args: str):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return CliRunner().invoke(main, [*args[:1], str(path), *args[1:]])


# --- labels ----------------------------------------------------------------------------------


def test_null_run_is_labelled_type_one_error(tmp_path: Path) -> None:
    res = _invoke(tmp_path, _tte(), "run", "--null", "--quiet")
    assert res.exit_code == 0, res.output
    assert "type I error" in res.output
    assert "probability of success" not in res.output and "analytic power" not in res.output
    assert "analytic type I error" in res.output


def test_table_names_test_alpha_sidedness_and_per_arm_counts(tmp_path: Path) -> None:
    res = _invoke(tmp_path, _tte(analysis={"sided": 2, "alpha": 0.05}), "run", "--quiet")
    assert res.exit_code == 0, res.output
    assert "logrank, alpha 0.0500 two-sided" in res.output
    assert "power (two-sided: rejection in either direction)" in res.output
    assert "P(reject_favourable)" in res.output
    assert "control" in res.output and "experimental" in res.output and "means over trials" in res.output
    assert "spread of estimates, not a CI" in res.output


def test_hr_varying_by_category_prints_an_approximate_schoenfeld_with_reason(tmp_path: Path) -> None:
    data = _tte(arms={"control": {"survival": {"all": {"median_months": 8}}},
                      "experimental": {"survival": {"IHC 3+": {"hazard_ratio": 0.6},
                                                    "IHC 2+/ISH+": {"hazard_ratio": 0.9}}}})
    res = _invoke(tmp_path, data, "run", "--quiet", "--format", "json")
    d = json.loads(res.output)
    assert set(d["analytic_powers"]) == {"schoenfeld_approximate"}
    assert "events-weighted mean log HR" in d["details"]["analytic_power_note"]
    hr = d["details"]["events_weighted_mean_hazard_ratio"]
    assert 0.6 < hr < 0.9
    assert abs(d["power"] - d["analytic_power"]) < 0.08


def test_median_not_reached_is_null_in_json_and_said_in_the_table(tmp_path: Path) -> None:
    data = _tte(arms={"control": {"survival": {"all": {"median_months": 60}}},
                      "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}}},
                analysis={"target_events": 60})
    res = _invoke(tmp_path, data, "run", "--quiet", "--format", "json")
    d = json.loads(res.output)
    assert d["median_experimental_months"] is None
    assert d["median_not_reached_fraction"]["experimental"] > 0.5
    assert "inf" not in res.output
    table = _invoke(tmp_path, data, "run", "--quiet").output
    assert "not reached (" in table and "% of trials)" in table


def test_group_sequential_table_shows_alpha_spent_expected_events_and_beta(tmp_path: Path) -> None:
    seq = {"information_fractions": [0.5, 1.0], "futility": "beta_spending", "beta_spending": "bsOF"}
    data = _tte(analysis={"sequential": seq})
    res = _invoke(tmp_path, data, "run", "--quiet")
    assert res.exit_code == 0, res.output
    assert "alpha spent per look" in res.output
    assert "expected events under H0 / H1" in res.output
    line = next(x for x in res.output.splitlines() if "futility bounds built for beta" in x)
    assert line.split()[-1] == "0.200"
    validate = _invoke(tmp_path, data, "validate")
    resolved = yaml.safe_load(validate.output.split("\n", 1)[1])
    assert resolved["analysis"]["beta"] == pytest.approx(0.2)


# --- landmarks -------------------------------------------------------------------------------


@pytest.mark.mc
def test_landmark_survival_of_a_large_arm_matches_the_model() -> None:
    data = _tte(n_patients=2000, analysis={"target_events": 1800, "landmark_months": [6, 12]},
                simulation={"n_sims": 400, "seed": 11})
    result = run(scenario_from_dict(data))
    sc = scenario_from_dict(data)
    for lm in result.landmarks:
        if lm["population"] != "overall":
            continue
        arm = sc.control if lm["arm"] == "control" else sc.experimental
        truth = 0.5 * float(arm.models[5].survival(lm["months"])) + 0.5 * float(arm.models[4].survival(lm["months"]))
        assert lm["model"] == pytest.approx(truth, rel=1e-12)
        assert abs(lm["mean"] - truth) <= 4 * lm["mc_se"], lm
        assert lm["not_estimable_fraction"] == 0.0
    frame = result.per_trial_frame()
    assert {"survival_control_at_6_months", "survival_experimental_at_12_months"} <= set(frame.columns)


def test_landmark_beyond_the_analysis_is_not_estimable() -> None:
    data = _tte(analysis={"target_events": 50, "landmark_months": [120]}, simulation={"n_sims": 50, "seed": 1})
    result = run(scenario_from_dict(data))
    assert all(lm["not_estimable_fraction"] == 1.0 and lm["mean"] is None for lm in result.landmarks)


# --- design-level bad input ------------------------------------------------------------------


def test_fixed_counts_with_misclassification_and_no_mix_is_refused(tmp_path: Path) -> None:
    data = _tte(population={"fixed_counts": {"IHC 3+": 200, "IHC 2+/ISH+": 200},
                            "misclassification": {"IHC 3+": {"IHC 3+": 0.9, "IHC 2+/ISH+": 0.1}}})
    data["population"].pop("mix")
    res = _invoke(tmp_path, data, "validate")
    assert res.exit_code == 2, res.output
    assert "population" in res.output and "mix" in res.output and "Traceback" not in res.output


def test_mix_fixed_counts_and_misclassification_need_only_reachable_models(tmp_path: Path) -> None:
    # IHC 1+ has prevalence 0: no enrolled patient can truly be IHC 1+, so no model is needed for it
    data = _tte(population={"mix": {"IHC 3+": 0.5, "IHC 2+/ISH+": 0.5, "IHC 1+": 0.0},
                            "fixed_counts": {"IHC 3+": 200, "IHC 2+/ISH+": 200},
                            "misclassification": {"IHC 3+": {"IHC 3+": 0.9, "IHC 2+/ISH+": 0.1},
                                                  "IHC 1+": {"IHC 1+": 0.5, "IHC 2+/ISH+": 0.5}}})
    res = _invoke(tmp_path, data, "run", "--quiet", "--sims", "50")
    assert res.exit_code == 0, res.output


def test_largest_seed_runs_the_sample_size_search(tmp_path: Path) -> None:
    res = _invoke(tmp_path, _tte(), "samplesize", "--seed", str(MAX_SEED), "--sims", "200",
                  "--precision", "0.15", "--solve-for", "events", "--quiet")
    assert res.exit_code == 0, res.output
    assert "seed + 7919" not in res.output


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1])
def test_seed_out_of_bounds_is_exit_2_with_the_bounds(tmp_path: Path, seed: int) -> None:
    res = _invoke(tmp_path, _tte(), "run", "--seed", str(seed), "--quiet")
    assert res.exit_code == 2
    assert "2**63 - 1" in res.output


def test_a_value_error_from_a_bug_is_exit_1_not_bad_input(tmp_path: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(simtrial.power, "summarize", broken)
    res = _invoke(tmp_path, _tte(), "run", "--quiet")
    assert res.exit_code == 1
    assert "internal error" in res.output and "Traceback" not in res.output


def test_binary_two_sided_analytic_counts_both_tails() -> None:
    from simtrial.designs.binary import normal_approximation_power

    one = normal_approximation_power(0.3, 0.3, 200, 200, 0.05, sided=2)
    assert one == pytest.approx(0.05, abs=1e-12)
    # far from H0 the other tail is negligible, so two-sided power ~ one-sided power at alpha / 2
    a = normal_approximation_power(0.3, 0.45, 200, 200, 0.05, sided=2)
    b = normal_approximation_power(0.3, 0.45, 200, 200, 0.025, sided=1)
    assert a > b and a - b < 1e-4
    assert math.isfinite(a) and np.isfinite(b)
