"""Stratified log-rank and stratified Cox against R ``survival`` and statsmodels.

R reference: ``tests/fixtures/survdiff_stratified.json``, written by
``Rscript tests/fixtures/r/survdiff_stratified.R`` (survival 3.5-3): 30 seeded
two-arm data sets with 2-4 strata and times on a grid (heavy ties; in data set
29 one stratum holds controls only).  Per data set::

    survdiff(Surv(time, status) ~ arm)                    -> survdiff_unstratified
    survdiff(Surv(time, status) ~ arm + strata(stratum))  -> survdiff_stratified
        z_arm1 = (obs[2] - exp[2]) / sqrt(var[2, 2])      (sign of log HR, as the engine's Z)
    coxph(Surv(time, status) ~ arm [+ strata(stratum)], ties = "efron")
        -> coxph_[un]stratified_efron: coef, se

statsmodels reference (no R needed)::

    from statsmodels.duration.survfunc import survdiff
    chisq, p = survdiff(time, status, arm, strata=stratum)       # = stratified Z^2
    from statsmodels.duration.hazard_regression import PHReg
    PHReg(time, arm[:, None], status=status, strata=stratum, ties="efron").fit()
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import survdiff

from simtrial.engine import layout as L
from simtrial.engine.analyze import analyze_two_arm

FIXTURE = Path(__file__).parent / "fixtures" / "survdiff_stratified.json"
R = json.loads(FIXTURE.read_text())
R_SETS = {d["id"]: d for d in R["datasets"]}

LOGRANK_TOL = 1e-10  # both sides are closed-form sums
COX_TOL = 1e-8  # R's coxph stops at a relative log-likelihood change of 1e-9


def _r_data(ds):
    d = ds["data"]
    time = np.asarray(d["time"], dtype=float)
    status = np.asarray(d["status"], dtype=np.int64)
    arm = np.asarray(d["arm"], dtype=np.int64)
    stratum = np.asarray(d["stratum"], dtype=np.int64) - 1  # R strata 1..S -> 0..S-1
    return time, status, arm, stratum


def test_fixture_is_what_the_tests_expect():
    assert R["fixture"] == "survdiff_stratified"
    assert len(R_SETS) == 30
    assert "sign of log HR" in R["conventions"]["z_arm1"]
    # data set 29: one stratum without experimental patients
    time, status, arm, stratum = _r_data(R_SETS[29])
    assert any(arm[stratum == s].sum() == 0 for s in np.unique(stratum))


@pytest.mark.parametrize("ds_id", sorted(R_SETS))
def test_logrank_equals_r_survdiff(ds_id):
    ds = R_SETS[ds_id]
    time, status, arm, stratum = _r_data(ds)
    ours = analyze_two_arm(time, status, arm, stratum)
    plain = ds["survdiff_unstratified"]
    strat = ds["survdiff_stratified"]
    assert ours["logrank_z"] == pytest.approx(plain["z_arm1"], rel=LOGRANK_TOL, abs=LOGRANK_TOL)
    assert ours["logrank_information"] == pytest.approx(plain["var_arm1"], rel=LOGRANK_TOL)
    assert ours["logrank_o_minus_e"] == pytest.approx(plain["obs_arm1"] - plain["exp_arm1"], abs=1e-9)
    assert ours["logrank_z"] ** 2 == pytest.approx(plain["chisq"], rel=1e-9)
    assert ours["stratified_logrank_z"] == pytest.approx(strat["z_arm1"], rel=LOGRANK_TOL, abs=LOGRANK_TOL)
    assert ours["stratified_logrank_information"] == pytest.approx(strat["var_arm1"], rel=LOGRANK_TOL)
    assert ours["stratified_logrank_z"] ** 2 == pytest.approx(strat["chisq"], rel=1e-9)
    assert ours["events_experimental"] == strat["obs_arm1"]
    assert ours["events_control"] == strat["obs_arm0"]


@pytest.mark.parametrize("ds_id", sorted(R_SETS))
def test_cox_efron_equals_r_coxph(ds_id):
    ds = R_SETS[ds_id]
    time, status, arm, stratum = _r_data(ds)
    ours = analyze_two_arm(time, status, arm, stratum)
    assert not ours["flags"] & (L.FLAG_COX_NOT_ESTIMABLE | L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE)
    plain = ds["coxph_unstratified_efron"]
    strat = ds["coxph_stratified_efron"]
    assert ours["log_hr"] == pytest.approx(plain["coef"], abs=COX_TOL)
    assert ours["log_hr_se"] == pytest.approx(plain["se"], abs=COX_TOL)
    assert ours["stratified_log_hr"] == pytest.approx(strat["coef"], abs=COX_TOL)
    assert ours["stratified_log_hr_se"] == pytest.approx(strat["se"], abs=COX_TOL)


@pytest.mark.parametrize("ds_id", sorted(R_SETS))
def test_r_data_equal_statsmodels(ds_id):
    time, status, arm, stratum = _r_data(R_SETS[ds_id])
    ours = analyze_two_arm(time, status, arm, stratum)
    chisq, _ = survdiff(time, status, arm, strata=stratum)
    assert ours["stratified_logrank_z"] ** 2 == pytest.approx(chisq, rel=1e-10)
    chisq, _ = survdiff(time, status, arm)
    assert ours["logrank_z"] ** 2 == pytest.approx(chisq, rel=1e-10)


def _random_stratified(index):
    """Tied stratified data; some strata hold one arm only or no events."""
    rng = np.random.default_rng(777 + index)
    n = int(rng.integers(30, 200))
    n_strata = int(rng.integers(2, 7))
    stratum = rng.integers(0, n_strata, n)
    arm = rng.integers(0, 2, n)
    if index % 4 == 0:
        arm[stratum == 0] = 1  # a stratum without controls
    if index % 5 == 0:
        arm[stratum == n_strata - 1] = 0  # and one without experimental patients
    arm[stratum == 1] = np.arange((stratum == 1).sum()) % 2  # a stratum that surely holds both
    rate = rng.uniform(0.03, 0.2, n_strata)[stratum] * np.where(arm == 1, rng.uniform(0.5, 1.5), 1.0)
    t_event = rng.exponential(1.0 / rate)
    t_censor = rng.uniform(2.0, 30.0, n)
    step = rng.choice([0.5, 1.0, 3.0])
    time = (np.floor(np.minimum(t_event, t_censor) / step) + 1.0) * step
    status = (t_event <= t_censor).astype(np.int64)
    return time, status, arm, stratum


@pytest.mark.parametrize("index", range(40))
def test_random_stratified_equal_statsmodels(index):
    time, status, arm, stratum = _random_stratified(index)
    ours = analyze_two_arm(time, status, arm, stratum)
    chisq, _ = survdiff(time, status, arm, strata=stratum)
    assert ours["stratified_logrank_z"] ** 2 == pytest.approx(chisq, rel=1e-10)
    fit = PHReg(time, arm[:, None].astype(float), status=status, strata=stratum, ties="efron").fit()
    assert ours["stratified_log_hr"] == pytest.approx(fit.params[0], abs=1e-7)
    assert ours["stratified_log_hr_se"] == pytest.approx(fit.bse[0], abs=1e-7)
    fit = PHReg(time, arm[:, None].astype(float), status=status, ties="efron").fit()
    assert ours["log_hr"] == pytest.approx(fit.params[0], abs=1e-7)
    assert ours["log_hr_se"] == pytest.approx(fit.bse[0], abs=1e-7)


def test_stratification_matters_when_strata_differ():
    """Strata with very different hazards and unbalanced arms: stratified != pooled (the test can fail)."""
    time, status, arm, stratum = _r_data(R_SETS[1])
    ours = analyze_two_arm(time, status, arm, stratum)
    assert abs(ours["stratified_logrank_z"] - ours["logrank_z"]) > 1e-3
    # one stratum only: the stratified statistics are the pooled ones
    one = analyze_two_arm(time, status, arm, np.zeros_like(stratum))
    assert one["stratified_logrank_z"] == one["logrank_z"] == ours["logrank_z"]
    assert one["stratified_log_hr"] == one["log_hr"]
