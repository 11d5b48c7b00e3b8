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
    evidence = load_evidence()
    statistics = evidence["statistic"]
    calibratable = statistics.isin(["median_months", "rate_at_months", "proportion"])
    return int((calibratable & (evidence["endpoint"] != "prevalence")).sum())


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


# --- --maps and --unsupported -------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_maps_table_shows_status_and_sources(runner: CliRunner) -> None:
    result = runner.invoke(evidence_command, ["--maps"])
    assert result.exit_code == 0, result.output
    for name in ("T-DXd", "T-DXd ultralow=DB-06", "T-DXd vs HER2-low", "TKI no IHC effect", "trastuzumab N9831"):
        assert f"\n{name}  (" in "\n" + result.output, name
    assert "[assumption]" in result.output and "[derived]" in result.output and "[reported]" in result.output
    assert "no direct comparison has been made between the two groups" in " ".join(result.output.split())
    assert "sources: DAISY.TDXd.PFS.median.HER2low" in result.output
    assert "variant of T-DXd:" in result.output


def test_maps_json_and_one_map(runner: CliRunner) -> None:
    result = runner.invoke(evidence_command, ["--maps", "--map", "tki", "--format", "json"])
    assert result.exit_code == 0, result.output
    (tki,) = json.loads(result.output)
    assert tki["name"] == "TKI" and "tucatinib" in tki["scope"]
    ihc2 = next(e for e in tki["entries"] if e["category_name"] == "IHC 2+/ISH+")
    assert ihc2["status"].startswith("derived: 5.59 / 4.17")
    assert ihc2["status_kind"] == "derived"
    assert ihc2["hazard_ratio"] == pytest.approx(5.59 / 4.17)
    assert "NALA.pooled.PFS.median.IHC2ISHpos" in ihc2["source_ids"]
    csv_out = runner.invoke(evidence_command, ["--maps", "--format", "csv"])
    assert csv_out.exit_code == 0
    rows = list(csv.DictReader(csv_out.output.splitlines()))
    assert {"map", "category_name", "hazard_ratio", "status", "source_ids", "variant_of"} <= set(rows[0])
    assert all(r["status"] for r in rows)


def test_unsupported_lists_assumptions_per_shipped_scenario(runner: CliRunner) -> None:
    result = runner.invoke(evidence_command, ["--unsupported", "--format", "json"])
    assert result.exit_code == 0, result.output
    reports = {Path(r["scenario"]).name: r for r in json.loads(result.output)}
    assert {p.name for p in (ROOT / "scenarios").glob("*.yaml")} == set(reports)
    flagship = {a["path"]: a for a in reports["ihc3_deescalation_ni.yaml"]["assumptions"]}
    hr = flagship["arms.experimental.survival['IHC 2+/ISH+']"]
    assert hr["value"] == "hazard_ratio: 1.3" and hr["why"].startswith("assumption: pessimistic")
    assert hr["evidence_ids"] == []
    assert "population.misclassification" in flagship
    assert reports["ihc3_deescalation_ni.yaml"]["header_problems"] == []
    spectrum = {a["path"] for a in reports["tdxd_her2_spectrum.yaml"]["assumptions"]}
    assert "arms.control.survival['all']" in spectrum  # DB-04's HER2-low control applied to IHC 0
    table = runner.invoke(evidence_command, ["--unsupported", "--scenario",
                                             str(ROOT / "scenarios" / "tki_ihc_stratified.yaml")])
    assert table.exit_code == 0, table.output
    assert table.output.startswith(str(ROOT / "scenarios" / "tki_ihc_stratified.yaml") + ": ")
    assert "arms.experimental.survival['all']: hazard_ratio: 0.75" in table.output
    assert "(no evidence id)" in table.output and "header:" not in table.output
    flat = runner.invoke(evidence_command, ["--unsupported", "--format", "csv", "--scenario",
                                            str(ROOT / "scenarios" / "db04_replay.yaml")])
    rows = list(csv.DictReader(flat.output.splitlines()))
    assert flat.exit_code == 0 and {r["path"] for r in rows} >= {"population.mix", "accrual"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--maps", "--unsupported"], "not both"),
        (["--maps", "--map", "pertuzumab"], "unknown effect map"),
        (["--map", "TKI"], "--map goes with --maps"),
        (["--maps", "--trial", "DB-03"], "do not apply"),
        (["--unsupported", "--endpoint", "PFS"], "do not apply"),
        (["--scenario", "scenarios/db03_replay.yaml"], "--scenario goes with --unsupported"),
        (["--unsupported", "--scenario", "no/such/file.yaml"], "does not exist"),
        (["--unsupported", "--file", "x.csv"], "--file does not apply"),
    ],
)
def test_maps_and_unsupported_bad_input_exit_2(runner: CliRunner, args: list[str], fragment: str) -> None:
    result = runner.invoke(evidence_command, args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_unsupported_refuses_an_invalid_scenario(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("# Question: x\nname: x\ndesign: superiority\n")
    result = runner.invoke(evidence_command, ["--unsupported", "--scenario", str(bad)])
    assert result.exit_code == 2, result.output
    assert "bad.yaml" in result.output and "Traceback" not in result.output
