"""Analyses stratified by hormone-receptor status, and HR subgroups, against R ``survival``.

R reference: ``tests/fixtures/hr_strata.json``, written by
``Rscript tests/fixtures/r/hr_strata.R`` (survival 3.5-3) from the trials in
``tests/fixtures/hr_strata_data.csv`` (``python tests/fixtures/r/hr_strata_data.py``:
the engine's patients of an IHC x HR scenario with IHC scoring error, cut at
the target events by ``tests/naive.py``).  R builds its strata from the
assessed IHC and HR columns::

    survdiff(Surv(time, status) ~ arm + strata(hr))          # analysis.strata: by_hr_status
    survdiff(Surv(time, status) ~ arm + strata(ihc, hr))     # by_category_and_hr_status
    coxph(Surv(time, status) ~ arm + strata(hr), ties = "efron")
    survdiff / coxph on the subsets hr == "HR-" and (ihc == 5, hr == "HR+")   # subgroups

so what is checked here is the path scenario -> cells -> engine strata and
populations, against strata R forms itself.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import survdiff

from simtrial.designs._survival import build_spec
from simtrial.scenario import scenario_from_dict
from simtrial.simulate import simulate
from simtrial.spec.engine import STATISTIC_NAMES

FIXTURES = Path(__file__).parent / "fixtures"
R = json.loads((FIXTURES / "hr_strata.json").read_text())
_spec_file = importlib.util.spec_from_file_location("hr_strata_data", FIXTURES / "r" / "hr_strata_data.py")
DATA = importlib.util.module_from_spec(_spec_file)
_spec_file.loader.exec_module(DATA)

LOGRANK_TOL = 1e-10  # closed-form sums on both sides
COX_TOL = 1e-8  # R's coxph stops at a relative log-likelihood change of 1e-9


def _run(strata):
    data = copy.deepcopy(DATA.HR_SCENARIO)
    data["analysis"]["strata"] = strata
    scenario = scenario_from_dict(data)
    spec = replace(build_spec(scenario), statistics=STATISTIC_NAMES)  # every statistic, Cox included
    result = simulate(spec, DATA.N_TRIALS, DATA.SEED)
    return scenario, result


def _trial_columns(trial: int):
    with (FIXTURES / "hr_strata_data.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if int(r["trial"]) == trial]
    return (np.array([float(r["time"]) for r in rows]), np.array([int(r["status"]) for r in rows]),
            np.array([int(r["arm"]) for r in rows]), np.array([int(r["ihc"]) for r in rows]),
            np.array([r["hr"] for r in rows]))


def _stats(result, trial: int, population: str) -> dict[str, float]:
    p = result.populations.index(population)
    return dict(zip(result.fields, result.stats[trial, 0, p].tolist(), strict=True))


def test_fixture_data_are_the_engines_trials():
    """The CSV R read is what the engine generates today for the fixture scenario (else regenerate both)."""
    with (FIXTURES / "hr_strata_data.csv").open() as f:
        stored = [(int(r["trial"]), float(r["time"]), int(r["status"]), int(r["arm"]), int(r["ihc"]), r["hr"])
                  for r in csv.DictReader(f)]
    assert stored == DATA.trials()
    assert R["fixture"] == "hr_strata" and len(R["trials"]) == DATA.N_TRIALS
    # the fixture has both HR statuses in several IHC categories, and scoring error moved some patients
    assert {(r[4], r[5]) for r in stored} >= {(5, "HR+"), (5, "HR-"), (4, "HR+"), (4, "HR-"), (2, "HR+"), (2, "HR-")}


@pytest.mark.parametrize("strata, key", [
    ("by_hr_status", "by_hr"),
    ("by_category_and_hr_status", "by_ihc_hr"),
    ({"positive": ["HR+"], "negative": ["HR-"]}, "by_hr"),
    ({"HER2-positive/HR+": ["HER2-positive/HR+"], "HER2-positive/HR-": ["HER2-positive/HR-"],
      "HER2-low/HR+": ["IHC 1+/HR+", "IHC 2+/ISH-/HR+"], "HER2-low/HR-": ["HER2-low/HR-"]}, None),
])
def test_stratified_logrank_and_cox_equal_r(strata, key):
    scenario, result = _run(strata)
    for trial, ref in enumerate(R["trials"]):
        got = _stats(result, trial, "overall")
        assert got["events_control"] + got["events_experimental"] == ref["events"]
        assert got["logrank_z"] == pytest.approx(ref["survdiff_unstratified"]["z_arm1"], rel=LOGRANK_TOL)
        if key is None:
            # HER2 group x HR strata: statsmodels' survdiff on strata formed from the CSV's columns
            time, status, arm, ihc, hr = _trial_columns(trial)
            group = np.where(ihc >= 4, 0, 1) * 2 + (hr == "HR-")
            chisq, _ = survdiff(time, status, arm, strata=group)
            assert got["stratified_logrank_z"] ** 2 == pytest.approx(chisq, rel=1e-10)
            fit = PHReg(time, arm[:, None].astype(float), status=status, strata=group, ties="efron").fit()
            assert got["stratified_log_hr"] == pytest.approx(fit.params[0], abs=1e-7)
            # pooling IHC 2+/ISH+ with 3+ is neither of R's stratifications
            assert got["stratified_logrank_z"] != pytest.approx(ref["survdiff_by_ihc_hr"]["z_arm1"], rel=1e-6)
            continue
        lr, cox = ref[f"survdiff_{key}"], ref[f"coxph_{key}"]
        assert got["stratified_logrank_z"] == pytest.approx(lr["z_arm1"], rel=LOGRANK_TOL, abs=LOGRANK_TOL)
        assert got["stratified_logrank_information"] == pytest.approx(lr["var_arm1"], rel=LOGRANK_TOL)
        assert got["stratified_log_hr"] == pytest.approx(cox["coef"], abs=COX_TOL)
        assert got["stratified_log_hr_se"] == pytest.approx(cox["se"], abs=COX_TOL)


def test_hr_subgroups_equal_r_on_their_subsets():
    scenario, result = _run("by_hr_status")
    assert [s.name for s in scenario.analysis.subgroups] == ["HR-", "IHC 3+/HR+"]
    for trial, ref in enumerate(R["trials"]):
        neg = _stats(result, trial, "HR-")
        assert neg["patients_control"] + neg["patients_experimental"] == ref["n_hr_negative"]
        assert neg["logrank_z"] == pytest.approx(ref["survdiff_hr_negative"]["z_arm1"], rel=LOGRANK_TOL,
                                                 abs=LOGRANK_TOL)
        assert neg["log_hr"] == pytest.approx(ref["coxph_hr_negative"]["coef"], abs=COX_TOL)
        assert neg["log_hr_se"] == pytest.approx(ref["coxph_hr_negative"]["se"], abs=COX_TOL)
        cell = _stats(result, trial, "IHC 3+/HR+")
        assert cell["patients_control"] + cell["patients_experimental"] == ref["n_ihc3_hr_positive"]
        assert cell["logrank_z"] == pytest.approx(ref["survdiff_ihc3_hr_positive"]["z_arm1"], rel=LOGRANK_TOL,
                                                  abs=LOGRANK_TOL)


def test_stratification_by_hr_matters_here():
    """The two R stratifications differ on these data, so the parametrised checks above can tell them apart."""
    z_hr = np.array([t["survdiff_by_hr"]["z_arm1"] for t in R["trials"]])
    z_cell = np.array([t["survdiff_by_ihc_hr"]["z_arm1"] for t in R["trials"]])
    z_plain = np.array([t["survdiff_unstratified"]["z_arm1"] for t in R["trials"]])
    assert np.abs(z_hr - z_cell).min() > 1e-3
    assert np.abs(z_hr - z_plain).min() > 1e-4
