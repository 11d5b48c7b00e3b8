"""Sweeps: a grid of scenario values, each point a plain run with the same seed; paths, ranges, errors, files.

The reference for a grid point is built without the sweep code: the
scenario file read with PyYAML, the value written into the dict by hand,
``scenario_from_dict`` and ``power.run``.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from simtrial_cli.main import main

from simtrial.errors import InvalidInput
from simtrial.power import run
from simtrial.scenario import ScenarioError, load_scenario, scenario_from_dict
from simtrial.spec.sweep import SweepPlan, expand_range, format_path, parse_path, parse_values
from simtrial.sweeps import grid_points, sweep

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
FLAGSHIP = ROOT / "ihc3_deescalation_ni.yaml"
HR_24 = 'arms.experimental.survival["IHC 2+/ISH+"].hazard_ratio'
MISCLASS = 'population.misclassification["IHC 2+/ISH+"]["IHC 3+"]'
N_SIMS = 150


def _summary(result) -> dict:
    d = result.to_dict()
    d.pop("versions")
    return d


def _by_hand(edit) -> dict:
    data = yaml.safe_load(FLAGSHIP.read_text())
    edit(data)
    return data


# --- the grid equals separate runs --------------------------------------------------------------------


def test_a_2x3_grid_equals_six_separate_runs_with_the_same_seed():
    sc = load_scenario(FLAGSHIP)
    plan = SweepPlan.from_cli([f"{HR_24}=1.0,1.6", "accrual.duration_months=18:30:6"])
    result = sweep(sc, plan, n_sims=N_SIMS, seed=7)
    assert len(result.rows) == 6
    expected_points = [(hr, d) for hr in (1.0, 1.6) for d in (18, 24, 30)]
    assert [tuple(r[p] for p in plan.paths) for r in result.rows] == expected_points
    for (hr, duration), row, res in zip(expected_points, result.rows, result.results, strict=True):
        def edit(data, hr=hr, duration=duration):
            data["arms"]["experimental"]["survival"]["IHC 2+/ISH+"]["hazard_ratio"] = hr
            data["accrual"]["duration_months"] = duration
        alone = run(scenario_from_dict(_by_hand(edit)), n_sims=N_SIMS, seed=7)
        assert _summary(res) == _summary(alone)
        assert row["power"] == alone.power and row["power_mc_se"] == alone.power_mc_se
        assert row["mean_events"] == alone.mean_events
        assert row["mean_duration_months"] == alone.mean_duration_months
        assert row["n_sims"] == N_SIMS and row["seed"] == 7
    # the points differ (the sweep changed something) and share their random numbers
    assert len({r["mean_duration_months"] for r in result.rows}) == 6


def test_zip_pairs_values_and_structure_changes_run_too():
    sc = load_scenario(FLAGSHIP)
    plan = SweepPlan.from_cli(["n_patients=700,900", "analysis.target_events=400,500"], zip=True)
    result = sweep(sc, plan, n_sims=60)
    assert [(r["n_patients"], r["target_events"]) for r in result.rows] == [(700, 400), (900, 500)]
    alone = run(scenario_from_dict(_by_hand(lambda d: (d.update(n_patients=700), d["analysis"].update(target_events=400)))),
                n_sims=60)
    assert _summary(result.results[0]) == _summary(alone)


def test_a_misclassification_entry_moves_its_rows_diagonal():
    sc = load_scenario(FLAGSHIP)
    points = grid_points(sc, SweepPlan.from_cli([f"{MISCLASS}=0.0,0.25"]))
    rows = [p.scenario.population.misclassification[4] for p in points]  # true IHC 2+/ISH+ (code 4)
    assert rows[0][4] == 1.0 and rows[0][5] == 0.0
    assert rows[1][4] == 0.75 and rows[1][5] == 0.25


def test_a_category_key_matches_any_spelling():
    sc = load_scenario(FLAGSHIP)
    a = grid_points(sc, SweepPlan.from_cli(['arms.experimental.survival["2+/ISH+"].hazard_ratio=1.5']))
    b = grid_points(sc, SweepPlan.from_cli([f"{HR_24}=1.5"]))
    assert a[0].scenario == b[0].scenario


# --- paths and values ----------------------------------------------------------------------------------


def test_paths_parse_and_print_back():
    assert parse_path(HR_24) == ("arms", "experimental", "survival", "IHC 2+/ISH+", "hazard_ratio")
    assert parse_path(MISCLASS) == ("population", "misclassification", "IHC 2+/ISH+", "IHC 3+")
    assert parse_path("analysis.landmark_months[1]") == ("analysis", "landmark_months", 1)
    assert parse_path("n_patients") == ("n_patients",)
    assert parse_path("a['b \"c\"']") == ("a", 'b "c"')
    for text in (HR_24, MISCLASS, "analysis.landmark_months[1]", "n_patients"):
        assert format_path(parse_path(text)) == text
    for bad in ("", ".a", "a.", "a..b", "a[b]", "a[\"b\"", "1a", "a b"):
        with pytest.raises(InvalidInput):
            parse_path(bad)


def test_values_lists_and_inclusive_decimal_ranges():
    assert parse_values("0.8,1.0,1.3") == (0.8, 1.0, 1.3)
    assert expand_range("0:0.3:0.1") == (0.0, 0.1, 0.2, 0.3)  # decimal steps: 0.3, not 0.30000000000000004
    assert expand_range("600:900:150") == (600, 750, 900) and all(type(v) is int for v in expand_range("1:3:1"))
    assert expand_range("1.0:1.05:0.1") == (1.0,)
    assert parse_values([1, 2]) == (1, 2) and parse_values("cox,logrank") == ("cox", "logrank")
    for bad in ("", "1:0:1", "0:1:0", "0:1:-1", "1:2", "a:b:c", "1,,2", []):
        with pytest.raises(InvalidInput):
            parse_values(bad, "x")
    with pytest.raises(InvalidInput, match="as many values"):
        SweepPlan.from_cli(["a=1,2", "b=1,2,3"], zip=True)
    with pytest.raises(InvalidInput, match="varied twice"):
        SweepPlan.from_cli(["a=1", "a=2"])


# --- bad points: exit 2 naming the path, before anything runs --------------------------------------------


@pytest.mark.parametrize(
    ("vary", "named"),
    [
        ("analysis.no_such_field=1,2", "analysis.no_such_field"),  # unknown field
        ("arms.nosuch.label=x", "arms.nosuch"),  # unknown field on the way
        ("n_patients=many", "n_patients"),  # a value of the wrong type
        ("accrual.duration_months=-3", "accrual.duration_months"),  # out of range
        (f"{HR_24}=1.3:1.2:0.1", HR_24),  # an empty range
        ("analysis.ni_margin=", "analysis.ni_margin"),  # no values
    ],
)
def test_bad_sweep_points_exit_2_naming_the_path(vary, named, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(FLAGSHIP), "--vary", vary, "--quiet", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert not out.exists() or not any(out.iterdir())  # nothing ran, nothing written


# --- the sweep: block ----------------------------------------------------------------------------------


def _with_sweep_block(tmp_path, block: dict) -> Path:
    data = yaml.safe_load(FLAGSHIP.read_text())
    data["sweep"] = block
    data["simulation"] = {"n_sims": 40, "seed": 11}
    path = tmp_path / "swept.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_sweep_block_in_the_file_is_read_carried_and_run(tmp_path):
    path = _with_sweep_block(tmp_path, {"vary": {"analysis.ni_margin": [1.25, 1.3], HR_24: "1.0:1.2:0.2"}})
    sc = load_scenario(path)
    assert sc.sweep.paths == ("analysis.ni_margin", HR_24) and sc.sweep.n_points == 4
    assert sc.resolved["sweep"] == {"vary": {"analysis.ni_margin": [1.25, 1.3], HR_24: [1.0, 1.2]}, "zip": False}
    assert scenario_from_dict(copy.deepcopy(dict(sc.resolved))) == sc
    result = CliRunner().invoke(main, ["sweep", str(path), "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["varied"] == ["analysis.ni_margin", HR_24] and len(d["rows"]) == 4
    def edit(x):
        x["analysis"]["ni_margin"] = 1.3
        x["arms"]["experimental"]["survival"]["IHC 2+/ISH+"]["hazard_ratio"] = 1.0

    alone = run(scenario_from_dict(_by_hand(edit)), n_sims=40, seed=11)
    assert d["rows"][2]["power"] == alone.power and d["rows"][2]["mean_events"] == alone.mean_events  # (1.3, 1.0)
    # a plain run ignores the block
    assert run(sc, n_sims=40).power == run(load_scenario(FLAGSHIP), n_sims=40, seed=11).power


@pytest.mark.parametrize(
    ("block", "named"),
    [({"vary": {"a..b": [1]}}, "sweep.vary"), ({"vary": {"n_patients": []}}, "sweep.vary.n_patients"),
     ({"vary": {}}, "sweep.vary"), ({"vary": {"n_patients": [1]}, "zipp": True}, "sweep"),
     ({"vary": {"n_patients": [800, 900], "analysis.ni_margin": [1.3]}, "zip": True}, "sweep")],
)
def test_a_bad_sweep_block_names_its_path(tmp_path, block, named):
    path = _with_sweep_block(tmp_path, block)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.field_path.startswith(named)


# --- outputs -----------------------------------------------------------------------------------------


def test_outputs_csv_parquet_and_json_hold_the_same_rows(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "sweep", str(FLAGSHIP), "--vary", "analysis.ni_margin=1.2,1.3", "--sims", "40", "--quiet", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert {"sweep.csv", "sweep.parquet", "sweep.json", "scenario.resolved.yaml"} <= {p.name for p in out.iterdir()}
    d = json.loads((out / "sweep.json").read_text())
    assert d["varied"] == ["analysis.ni_margin"] and [r["analysis.ni_margin"] for r in d["rows"]] == [1.2, 1.3]
    csv = pd.read_csv(out / "sweep.csv")
    parquet = pd.read_parquet(out / "sweep.parquet")
    assert list(csv.columns) == list(parquet.columns) == list(d["rows"][0])
    np.testing.assert_allclose(parquet["power"], [r["power"] for r in d["rows"]], rtol=0, atol=0)
    np.testing.assert_allclose(csv["power_mc_se"], parquet["power_mc_se"], rtol=1e-12)  # CSV text, 15+ digits
    assert "analysis.ni_margin" in result.output and "power" in result.output


# --- worst-case type I error -----------------------------------------------------------------------------


@pytest.mark.mc
def test_worst_case_type_i_error_over_margin_x_misclassification_stays_within_4_mc_se_of_alpha():
    sc = load_scenario(FLAGSHIP)
    n = 1500
    plan = SweepPlan.from_cli(["analysis.ni_margin=1.2,1.4", f"{MISCLASS}=0.0,0.3"])
    result = sweep(sc, plan, n_sims=n, null=True, seed=20260311)
    alpha = sc.analysis.alpha
    bound = 4 * math.sqrt(alpha * (1 - alpha) / n)
    for row in result.rows:
        assert abs(row["type_I_error"] - alpha) <= bound, row
    worst = result.worst_case()
    assert worst["type_I_error"] == max(r["type_I_error"] for r in result.rows)
    assert worst["point"] == {p: result.rows[worst["index"]][p] for p in plan.paths}
    assert worst["alpha"] == alpha


def test_parameter_only_sweeps_share_one_engine_run(monkeypatch):
    """Points differing only in parameters (an HR, a margin) run as variants of one engine run, and equal their
    separate runs exactly; a structural change (N) falls back to separate runs."""
    import simtrial.simulate as simulate_module
    from simtrial.power import run as power_run
    from simtrial.scenario import load_scenario
    from simtrial.spec.sweep import SweepPlan
    from simtrial.sweeps import grid_points, sweep

    calls = []
    real = simulate_module.simulate_variants

    def counting(specs, *args, **kwargs):
        out = real(specs, *args, **kwargs)  # raises ValueError when the specs differ in structure
        calls.append(len(specs))
        return out

    monkeypatch.setattr(simulate_module, "simulate_variants", counting)
    base = load_scenario("scenarios/ihc3_deescalation_ni.yaml")
    plan = SweepPlan.from_cli(['arms.experimental.survival["IHC 2+/ISH+"].hazard_ratio=1.0,1.3',
                               "analysis.ni_margin=1.25,1.3"])
    result = sweep(base, plan, n_sims=150, seed=9)
    assert calls == [4]
    for point, row in zip(grid_points(base, plan), result.rows, strict=True):
        alone = power_run(point.scenario, n_sims=150, seed=9).to_dict()
        assert row["power"] == alone["power"] and row["hr_median"] == alone["hr_median"]
        assert row["mean_duration_months"] == alone["mean_duration_months"]
    calls.clear()
    sweep(base, SweepPlan.from_cli(["n_patients=900,1000"]), n_sims=100, seed=9)
    assert calls == []  # N is structure: separate runs
