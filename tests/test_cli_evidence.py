"""`evidence` and `calibrate` commands, driven through click's CliRunner."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from simtrial_cli.evidence_cmds import calibrate_command, evidence_command

from simtrial.evidence import COLUMNS, DEFAULT_PATH, load_evidence


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _n_calibratable() -> int:
    statistics = load_evidence()["statistic"]
    return int(statistics.isin(["median_months", "rate_at_months", "proportion"]).sum())


def test_evidence_table_filters_by_trial(runner: CliRunner) -> None:
    result = runner.invoke(evidence_command, ["--trial", "DB-03"])
    assert result.exit_code == 0, result.output
    assert "DB03.TDXd.PFS.median" in result.output
    assert "28.8 mo" in result.output
    assert "75.8% at 12 mo" in result.output
    assert "P<0.001" in result.output
    assert "DAISY" not in result.output


def test_evidence_json_with_subgroup_and_endpoint(runner: CliRunner) -> None:
    result = runner.invoke(
        evidence_command, ["--subgroup", "her2 low", "--endpoint", "pfs", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    ids = {r["id"] for r in records}
    assert ids == {
        "DB04.TDXd.PFS.median",
        "DB04.TPC.PFS.median",
        "DB06.TDXd.PFS.median.HER2low",
        "DAISY.TDXd.PFS.median.HER2low",
    }
    daisy = next(r for r in records if r["id"] == "DAISY.TDXd.PFS.median.HER2low")
    assert (daisy["value"], daisy["ci_low"], daisy["ci_high"]) == (6.7, 4.4, 8.3)


def test_evidence_subgroup_includes_group_rows(runner: CliRunner) -> None:
    # IHC 3+ patients are part of every HER2-positive population.
    result = runner.invoke(
        evidence_command, ["--subgroup", "IHC3+", "--trial", "KATHERINE", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.output.splitlines()))
    assert [r["id"] for r in rows] == [
        "KATHERINE.TDM1.iDFS",
        "KATHERINE.TDM1.iDFS.IHC3_vs_IHC2ISHpos",
        "KATHERINE.TDM1.iDFS.3y.IHC3",
    ]
    assert list(rows[0]) == list(COLUMNS)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--subgroup", "IHC 2+"], "needs its ISH result"),
        (["--subgroup", "HER2-high"], "unknown HER2 group"),
        (["--trial", "DESTINY-Breast99"], "unknown trial"),
        (["--endpoint", "EFS"], "unknown endpoint"),
        (["--format", "xml"], "xml"),
    ],
)
def test_evidence_bad_input_is_a_usage_error(
    runner: CliRunner, args: list[str], fragment: str
) -> None:
    result = runner.invoke(evidence_command, args)
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_evidence_bad_file_names_row_and_column(runner: CliRunner, tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        "KATHERINE.TDM1.iDFS.3y.IHC3,KATHERINE,NCT01772472,adjuvant,ADC,T-DM1,experimental,IHC 3+,HER2 IHC3+,iDFS,rate_at_months,0.85,",
        "KATHERINE.TDM1.iDFS.3y.IHC3,KATHERINE,NCT01772472,adjuvant,ADC,T-DM1,experimental,IHC 3+,HER2 IHC3+,iDFS,rate_at_months,1.3,",
    )
    assert "1.3," in text
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(evidence_command, ["--file", str(path)])
    assert result.exit_code == 1
    assert "KATHERINE.TDM1.iDFS.3y.IHC3" in result.output and "'value'" in result.output
    assert "Traceback" not in result.output


def test_calibrate_table(runner: CliRunner) -> None:
    result = runner.invoke(calibrate_command, ["--patients", "100000", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "Weibull(shape=1.047" in result.output
    assert "FAIL" not in result.output
    n = _n_calibratable()
    assert f"{n}/{n} figures reproduced" in result.output


def test_calibrate_json(runner: CliRunner) -> None:
    result = runner.invoke(
        calibrate_command, ["--format", "json", "--patients", "100000", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    checks = json.loads(result.output)
    assert len(checks) == _n_calibratable()
    for check in checks:
        assert {"id", "reported", "model", "simulated", "mc_se", "ok"} <= set(check)
        assert check["ok"] is True
    db03 = next(c for c in checks if c["id"] == "DB03.TDXd.PFS.12m")
    assert db03["model"] == "Weibull" and db03["reported"] == 0.758


def test_calibrate_exits_1_when_a_figure_fails(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import simtrial.calibrate as cal

    real = cal.calibrate

    def off(evidence_id, **kwargs):
        fitted = real(evidence_id, **kwargs)
        return cal.CalibratedModel(
            fitted.source_ids, fitted.model.with_hazard_ratio(1.1), fitted.method
        )

    monkeypatch.setattr(cal.report, "calibrate", off)  # where the report looks it up
    result = runner.invoke(calibrate_command, ["--patients", "20000"])
    assert result.exit_code == 1
    assert "FAIL" in result.output


def test_calibrate_rejects_too_few_patients(runner: CliRunner) -> None:
    result = runner.invoke(calibrate_command, ["--patients", "10"])
    assert result.exit_code == 2
    assert "--patients" in result.output
