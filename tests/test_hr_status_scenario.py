"""The shipped IHC x HR-status scenario runs and does what its header says; the evidence table's HR column.

``scenarios/antiher2_ihc_by_hr_stratified.yaml`` claims (header): P(HR+) 0.5 in IHC 3+ and 0.6 in
IHC 2+/ISH+; hazard ratio 0.70 in IHC 3+ and IHC 2+/ISH+ HR-, 1.0 (no effect) in IHC 2+/ISH+ HR+
after Atallah's ER+/IHC 2+ row; randomisation and analysis stratified by IHC category x HR status.
Each is checked on the loaded scenario or on a run; the figures come from the header, not from a run.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simtrial.evidence import EvidenceError, get_row, load_evidence, row_hr_status
from simtrial.her2 import HR_NEGATIVE, HR_POSITIVE
from simtrial.power import run
from simtrial.scenario import ScenarioError, load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "scenarios" / "antiher2_ihc_by_hr_stratified.yaml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(PATH)


def _hr(scenario, cell: str) -> float:
    code = next(c for c in range(12) if scenario.population.cells.name(c) == cell)
    c, e = scenario.control.models[code], scenario.experimental.models[code]
    return math.log(e.survival(24.0)) / math.log(c.survival(24.0))


def test_header_assumptions_are_what_the_file_does(scenario):
    assert scenario.population.hr_positive_fraction == {4: 0.6, 5: 0.5}  # IHC 2+/ISH+, IHC 3+
    assert _hr(scenario, "IHC 3+/HR+") == pytest.approx(0.70)
    assert _hr(scenario, "IHC 3+/HR-") == pytest.approx(0.70)
    assert _hr(scenario, "IHC 2+/ISH+/HR-") == pytest.approx(0.70)
    assert _hr(scenario, "IHC 2+/ISH+/HR+") == pytest.approx(1.0)
    assert scenario.resolved["randomisation"]["strata"] == "by_category_and_hr_status"
    assert scenario.resolved["analysis"]["strata"] == "by_category_and_hr_status"
    # the control medians of the header: 120 months, 90 in HR-
    assert scenario.control.models[5 * 2].median() == pytest.approx(120.0)
    assert scenario.control.models[5 * 2 + 1].median() == pytest.approx(90.0)


@pytest.mark.mc
def test_no_effect_in_ihc2_hr_positive_and_benefit_where_atallah_reports_it(scenario):
    n = 600
    result = run(scenario, n_sims=n, seed=17)
    d = result.decisions
    alpha = scenario.analysis.alpha
    # HR 1 in IHC 2+/ISH+ HR+: its (Holm-adjusted) rejection rate is at most the one-sided level
    p = d["reject_IHC 2+/ISH+/HR+"]["probability"]
    assert p <= alpha + 4 * math.sqrt(alpha * (1 - alpha) / n)
    # benefit elsewhere: the overall test and the HR- subgroup (most of its events in HR 0.7 cells) reject
    # far more often than the level
    for name in ("reject_overall", "reject_HR-"):
        q = d[name]["probability"]
        assert q > alpha + 8 * math.sqrt(alpha * (1 - alpha) / n), (name, q)
    # a quarter of HR+ events sit in the no-effect cell, so HR+ rejects less often than HR-
    assert d["reject_HR+"]["probability"] < d["reject_HR-"]["probability"]


def test_a_figure_in_one_hr_status_may_not_reach_the_other(scenario):
    data = dict(scenario.resolved)
    exp = dict(data["arms"]["experimental"]["survival"])
    exp["IHC 2+/ISH+/HR+"] = {"hazard_ratio": 0.7, "source": ["ATALLAH.antiHER2.BCSS.ERneg_IHC2"]}
    data["arms"] = {**data["arms"], "experimental": {**data["arms"]["experimental"], "survival": exp}}
    with pytest.raises(ScenarioError, match="ER- patients only") as err:
        scenario_from_dict(data)
    assert "IHC 2+/ISH+/HR+" in err.value.field_path


def test_evidence_rows_carry_the_receptor_status_the_review_reports():
    frame = load_evidence()
    marked = frame[frame["hr_status"] != ""]
    assert dict(zip(marked["id"], marked["hr_status"], strict=True)) == {
        "ATALLAH.antiHER2.BCSS.ERneg_IHC2": "ER-", "ATALLAH.antiHER2.BCSS.ERpos_IHC2": "ER+"}
    for row_id, status in (("ATALLAH.antiHER2.BCSS.ERneg_IHC2", "ER-"), ("ATALLAH.antiHER2.BCSS.ERpos_IHC2", "ER+")):
        row = get_row(row_id)
        assert row["subgroup_reported"].startswith(status)  # the review's own label says so
        assert status in row["source_quote"]
    assert row_hr_status(get_row("ATALLAH.antiHER2.BCSS.ERneg_IHC2")) == HR_NEGATIVE
    assert row_hr_status(get_row("ATALLAH.antiHER2.BCSS.ERpos_IHC2")) == HR_POSITIVE
    assert row_hr_status(get_row("ATALLAH.antiHER2.BCSS.IHC3")) is None


def test_a_bad_hr_status_in_the_evidence_file_is_refused(tmp_path):
    text = (ROOT / "simtrial" / "evidence" / "her2_review.csv").read_text(encoding="utf-8")
    bad = text.replace(",ER-\n", ",PR-\n", 1)
    assert bad != text
    path = tmp_path / "bad.csv"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(EvidenceError, match="'PR-' is not allowed") as err:
        load_evidence(path)
    assert err.value.column == "hr_status" and err.value.row_id == "ATALLAH.antiHER2.BCSS.ERneg_IHC2"


def test_cli_lists_the_hr_rows():
    from click.testing import CliRunner
    from simtrial_cli.main import main

    out = CliRunner().invoke(main, ["evidence", "--hr-status", "HR+"])
    assert out.exit_code == 0, out.output
    assert "ATALLAH.antiHER2.BCSS.ERpos_IHC2" in out.output and "ERneg" not in out.output
    assert "(ER+)" in out.output
