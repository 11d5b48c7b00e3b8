"""``--target-mc-se``: stop at the first block size whose MC SE reaches the target, equal to a fixed run of that size.

The reference is independent of the stopping code: fixed runs at 1, 2, 3, ...
blocks with the same seed, their SE ``sqrt(p (1 - p) / n)`` computed here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from simtrial_cli.main import main

from simtrial.errors import InvalidInput
from simtrial.executors import LocalThreads
from simtrial.power import run
from simtrial.precision import RowCache, run_to_precision
from simtrial.scenario import load_scenario
from simtrial.spec.sweep import SweepPlan
from simtrial.sweeps import sweep

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
BINARY = ROOT / "neoadjuvant_pcr_by_ihc.yaml"
FLAGSHIP = ROOT / "ihc3_deescalation_ni.yaml"


def _summary(result) -> dict:
    d = result.to_dict()
    d.pop("versions")
    return d


def _first_fixed_size(sc, block: int, target: float, blocks: int, **kw) -> int:
    for k in range(1, blocks + 1):
        r = run(sc, n_sims=k * block, **kw)
        if math.sqrt(r.power * (1 - r.power) / r.n_sims) <= target and 0 < r.power < 1:
            return k * block
    raise AssertionError("the target is not reached within the blocks tried")


@pytest.mark.parametrize(("path", "block", "target", "null"), [
    (BINARY, 200, 0.014, False),
    (FLAGSHIP, 100, 0.03, False),
    (BINARY, 500, 0.0045, True),
])
def test_stops_at_the_first_block_size_reaching_the_target_and_equals_that_fixed_run(path, block, target, null):
    sc = load_scenario(path)
    expected = _first_fixed_size(sc, block, target, 20, null=null)
    result, precision = run_to_precision(sc, target, block_sims=block, max_sims=100_000, null=null)
    assert precision.reached and precision.n_sims == expected == result.n_sims
    assert result.power_mc_se <= target
    assert _summary(result) == _summary(run(sc, n_sims=expected, null=null))
    if expected > block:  # the size before it does not reach the target
        before = run(sc, n_sims=expected - block, null=null)
        assert before.power_mc_se > target
    # trials are simulated once, however many sizes were looked at
    assert precision.simulated == max(precision.stages)


def test_the_cap_is_reported_and_equals_a_fixed_run_of_the_cap():
    sc = load_scenario(FLAGSHIP)
    result, precision = run_to_precision(sc, 0.0005, block_sims=100, max_sims=250)
    assert not precision.reached and precision.n_sims == 250 and result.n_sims == 250
    assert precision.to_dict()["stopped_by"].startswith("max_sims")
    assert _summary(result) == _summary(run(sc, n_sims=250))


def test_bad_precision_arguments_are_refused():
    sc = load_scenario(BINARY)
    for kwargs in ({"target_mc_se": 0.0}, {"target_mc_se": 0.7}, {"target_mc_se": 0.01, "block_sims": 0},
                   {"target_mc_se": 0.01, "block_sims": 500, "max_sims": 100}):
        with pytest.raises(InvalidInput):
            run_to_precision(sc, **kwargs)


def test_the_row_cache_serves_a_range_once_simulated_from_memory():
    sc = load_scenario(FLAGSHIP)
    cache = RowCache(LocalThreads())
    a = run(sc, n_sims=120, executor=cache)
    simulated = cache.simulated
    b = run(sc, n_sims=120, executor=cache)
    assert cache.simulated == simulated == 120
    assert _summary(a) == _summary(b) == _summary(run(sc, n_sims=120))


def test_cli_run_with_target_mc_se_equals_the_fixed_run_it_reports():
    runner = CliRunner()
    got = runner.invoke(main, ["run", str(BINARY), "--target-mc-se", "0.014", "--sims", "200", "--format", "json",
                               "--quiet"])
    assert got.exit_code == 0, got.output
    d = json.loads(got.output)
    n = d["precision"]["n_sims"]
    assert d["precision"]["reached"] and d["n_sims"] == n and n % 200 == 0
    fixed = json.loads(runner.invoke(main, ["run", str(BINARY), "--sims", str(n), "--format", "json"]).output)
    for key in ("power", "power_mc_se", "mean_events", "decisions"):
        assert d[key] == fixed[key]
    table = runner.invoke(main, ["run", str(BINARY), "--target-mc-se", "0.014", "--sims", "200", "--quiet"])
    assert "MC SE target" in table.output and f"reached at {n:,} trials" in table.output
    bad = runner.invoke(main, ["run", str(BINARY), "--max-sims", "100"])
    assert bad.exit_code == 2 and "--target-mc-se" in bad.output


def test_every_sweep_point_runs_to_the_target():
    sc = load_scenario(BINARY)
    plan = SweepPlan.from_cli(['arms.control.response["IHC 3+"].probability=0.4,0.5'])
    result = sweep(sc, plan, n_sims=200, target_mc_se=0.014)
    assert len(result.precision) == 2
    for row, prec, res in zip(result.rows, result.precision, result.results, strict=True):
        assert prec["reached"] and row["n_sims"] == prec["n_sims"] == res.n_sims
        assert row["power_mc_se"] <= 0.014
