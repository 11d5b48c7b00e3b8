"""`simtrial run | samplesize | validate | --version` through click's CliRunner.

Exit codes (cli/main.py): 0 success, 2 bad input with a message naming the
file and field and never a traceback.  ``--out`` writes atomically: all files
or none.  Results do not depend on ``--threads``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from simtrial_cli.main import main

from simtrial import __version__

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))

SCENARIO = """\
name: cli test
design: superiority
population:
  mix: {IHC 3+: 0.7, IHC 2+/ISH+: 0.3}
arms:
  control:
    survival:
      all: {median_months: 10}
    dropout: {probability: 0.05, by_months: 12}
  experimental:
    survival:
      all: {hazard_ratio: 0.7}
allocation: {control: 1, experimental: 1}
n_patients: 400
accrual: {duration_months: 20}
analysis:
  test: logrank
  alpha: 0.025
  target_events: 250
simulation: {n_sims: 300, seed: 7}
"""

RUN_KEYS = {
    "scenario", "design", "n_sims", "seed", "power", "power_mc_se", "power_ci", "analytic_power",
    "mean_events", "mean_duration_months", "mean_enrolled", "hr_median",
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "trial.yaml"
    path.write_text(SCENARIO)
    return path


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _without_versions(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "versions"}


# --- the commands ---------------------------------------------------------------------


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output and "simtrial" in result.output


def test_run_table(runner: CliRunner, scenario_file: Path) -> None:
    result = runner.invoke(main, ["run", str(scenario_file), "--sims", "200", "--quiet"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "cli test" in out and "superiority" in out
    assert "power" in out and "MC SE" in out
    assert "200 (seed 7)" in out
    assert "analytic power (schoenfeld)" in out


def test_run_json_keys_and_values(runner: CliRunner, scenario_file: Path) -> None:
    d = _json(runner.invoke(main, ["run", str(scenario_file), "--sims", "200", "--seed", "3", "--format", "json"]))
    assert RUN_KEYS <= set(d)
    assert d["scenario"] == "cli test" and d["design"] == "superiority"
    assert d["n_sims"] == 200 and d["seed"] == 3 and d["null"] is False
    assert 0.0 <= d["power"] <= 1.0
    assert d["power_mc_se"] == pytest.approx((d["power"] * (1 - d["power"]) / 200) ** 0.5)
    lo, hi = d["power_ci"]
    assert lo <= d["power"] <= hi
    assert d["mean_events"] == 250 and d["mean_enrolled"] <= 400
    assert d["versions"]["simtrial"] == __version__


def test_run_defaults_come_from_the_scenario(runner: CliRunner, scenario_file: Path) -> None:
    d = _json(runner.invoke(main, ["run", str(scenario_file), "--format", "json"]))
    assert d["n_sims"] == 300 and d["seed"] == 7


def test_run_null(runner: CliRunner, scenario_file: Path) -> None:
    d = _json(runner.invoke(main, ["run", str(scenario_file), "--sims", "200", "--null", "--format", "json"]))
    assert d["null"] is True and d["hypothesis"].startswith("H0")
    assert d["details"]["true_hazard_ratio"] == pytest.approx(1.0)
    assert d["power"] < 0.1  # level 0.025; 200 trials


def test_samplesize_json(runner: CliRunner, scenario_file: Path) -> None:
    result = runner.invoke(
        main,
        ["samplesize", str(scenario_file), "--sims", "300", "--power", "0.8", "--solve-for", "events", "--format", "json"],
    )
    d = _json(result)
    assert RUN_KEYS <= set(d)
    assert {"n_required", "events_required", "target_power", "solve_for", "power_curve"} <= set(d)
    assert d["solve_for"] == "events" and d["target_power"] == 0.8
    assert isinstance(d["events_required"], int) and 10 <= d["events_required"] <= 400
    assert d["n_required"] == 400


def test_samplesize_table(runner: CliRunner, scenario_file: Path) -> None:
    result = runner.invoke(main, ["samplesize", str(scenario_file), "--sims", "200", "--solve-for", "n_patients"])
    assert result.exit_code == 0, result.output
    assert "patients required" in result.output and "power curve" in result.output


def test_samplesize_power_out_of_range(runner: CliRunner, scenario_file: Path) -> None:
    result = runner.invoke(main, ["samplesize", str(scenario_file), "--power", "1.5"])
    assert result.exit_code == 2
    assert "--power" in result.output and "Traceback" not in result.output


def test_validate(runner: CliRunner, scenario_file: Path) -> None:
    result = runner.invoke(main, ["validate", str(scenario_file)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    d = _json(runner.invoke(main, ["validate", str(scenario_file), "--format", "json"]))
    assert d["valid"] is True and d["design"] == "superiority"
    assert d["resolved"]["n_patients"] == 400


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_scenario_validates_and_runs(runner: CliRunner, path: Path) -> None:
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    d = _json(runner.invoke(main, ["run", str(path), "--sims", "50", "--format", "json", "--quiet"]))
    assert d["n_sims"] == 50
    assert 0.0 <= d["power"] <= 1.0


# --- bad input: exit 2, the field named, no traceback ---------------------------------------


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


BAD = {
    "yaml_syntax": (_edit(SCENARIO, "n_patients: 400", "n_patients: [400"), ["YAML"]),
    "unknown_field": (_edit(SCENARIO, "  target_events: 250", "  target_event: 250"), ["analysis.target_event", "target_events"]),
    "wrong_type": (_edit(SCENARIO, "n_patients: 400", "n_patients: four hundred"), ["n_patients"]),
    "negative_median": (_edit(SCENARIO, "{median_months: 10}", "{median_months: -3}"), ["median_months", "-3"]),
    "mix_not_summing_to_one": (_edit(SCENARIO, "IHC 2+/ISH+: 0.3}", "IHC 2+/ISH+: 0.2}"), ["population.mix"]),
    "unknown_evidence_id": (
        _edit(SCENARIO, "{median_months: 10}", "{from_evidence: NO.SUCH.ID}"), ["from_evidence", "NO.SUCH.ID"]
    ),
    "unknown_ihc_category": (_edit(SCENARIO, "IHC 3+: 0.7", "IHC 4+: 0.7"), ["population.mix", "IHC 4+"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_file_exit_2_names_the_field(runner: CliRunner, tmp_path: Path, case: str, command: str) -> None:
    text, expected = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = runner.invoke(main, [command, str(path), "--quiet"] if command == "run" else [command, str(path)])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    for fragment in expected:
        assert fragment in result.output, (fragment, result.output)
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    for command in ("validate", "run", "samplesize"):
        result = runner.invoke(main, [command, str(path)])
        assert result.exit_code == 2, result.output
        assert "nowhere.yaml" in result.output and "not found" in result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize("option", [["--sims", "0"], ["--sims", "-5"], ["--threads", "0"], ["--seed", "-1"]])
def test_bad_option_values(runner: CliRunner, scenario_file: Path, option: list[str]) -> None:
    result = runner.invoke(main, ["run", str(scenario_file), *option])
    assert result.exit_code == 2, result.output
    assert option[0] in result.output and "Traceback" not in result.output


def test_scenario_without_n_patients_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    data = yaml.safe_load(SCENARIO)
    del data["n_patients"]
    data["sample_size"] = {"target_power": 0.8, "solve_for": "n_patients", "events_per_patient": 0.6}
    path = tmp_path / "no_n.yaml"
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(main, ["run", str(path), "--sims", "20"])
    assert result.exit_code == 2, result.output
    assert "n_patients" in result.output and "internal error" not in result.output


def test_sequential_run_without_target_events_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    # the loader accepts it (a sample-size search derives the events), a plain run cannot
    data = yaml.safe_load((ROOT / "scenarios" / "ihc3_deescalation_ni_gs.yaml").read_text())
    del data["analysis"]["target_events"]
    data["analysis"]["calendar_months"] = 60
    path = tmp_path / "gs_no_events.yaml"
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(main, ["run", str(path), "--sims", "20"])
    assert result.exit_code == 2, result.output
    assert "target_events" in result.output and "internal error" not in result.output


# --- --out -----------------------------------------------------------------------------------


def test_out_writes_files_and_round_trips(runner: CliRunner, scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        main, ["run", str(scenario_file), "--sims", "200", "--seed", "9", "--out", str(out), "--format", "json"]
    )
    printed = _json(result)
    assert sorted(p.name for p in out.iterdir()) == [
        "scenario.resolved.yaml", "simtrial-manifest.json", "summary.json", "trials.csv"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary == printed
    trials = (out / "trials.csv").read_text().splitlines()
    assert trials[0].startswith("trial,success,") and len(trials) == 1 + 200
    assert sum(line.split(",")[1] == "True" for line in trials[1:]) == round(summary["power"] * 200)
    # the resolved scenario reproduces the run exactly
    again = _json(
        runner.invoke(main, ["run", str(out / "scenario.resolved.yaml"), "--sims", "200", "--seed", "9", "--format", "json"])
    )
    assert again == summary
    # and, without options, runs at the scenario's own n_sims and seed
    resolved = yaml.safe_load((out / "scenario.resolved.yaml").read_text())
    assert resolved["simulation"] == {"n_sims": 300, "seed": 7}


def test_samplesize_out_writes_the_power_curve(runner: CliRunner, scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "ss"
    result = runner.invoke(
        main, ["samplesize", str(scenario_file), "--sims", "200", "--solve-for", "events", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {"scenario.resolved.yaml", "summary.json", "trials.csv", "power_curve.csv", "simtrial-manifest.json"}
    summary = json.loads((out / "summary.json").read_text())
    assert {"n_required", "events_required"} <= set(summary)


def test_out_under_a_regular_file_fails_cleanly(runner: CliRunner, scenario_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(main, ["run", str(scenario_file), "--sims", "20", "--out", str(blocker / "out")])
    assert result.exit_code == 2, result.output
    assert "--out" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert blocker.read_text() == "not a directory"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores directory permissions")
def test_out_into_read_only_directory_leaves_nothing(runner: CliRunner, scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = runner.invoke(main, ["run", str(scenario_file), "--sims", "20", "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o700)


def test_out_failure_mid_write_leaves_no_partial_files(
    runner: CliRunner, scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If writing the second file fails, none of the files appear (atomic --out)."""
    import simtrial_cli.run_cmds as run_cmds

    def failing_dump_yaml(obj):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_cmds, "dump_yaml", failing_dump_yaml)
    out = tmp_path / "partial"
    result = runner.invoke(main, ["run", str(scenario_file), "--sims", "20", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "no files were written" in result.output
    assert list(out.iterdir()) == []


# --- threads --------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["--null"]])
def test_threads_do_not_change_results(runner: CliRunner, scenario_file: Path, args: list[str]) -> None:
    outs = [
        _json(runner.invoke(
            main, ["run", str(scenario_file), "--sims", "500", "--threads", t, "--format", "json", *args]
        ))
        for t in ("1", "2")
    ]
    assert _without_versions(outs[0]) == _without_versions(outs[1])
