"""Calibration: reported figures -> survival models, uncertainty, effect maps, and the cohort check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import simtrial.calibrate as cal
from simtrial.calibrate import (
    BetaProportion,
    CalibrationCheck,
    LogNormalMedian,
    beta_from_ci,
    beta_from_counts,
    calibrate,
    calibrate_response,
    calibration_report,
    check_figure,
    cure_mixture_from_rate,
    effect_map,
    effect_maps,
    exponential_from_median,
    exponential_from_rate,
    hazard_ratio_between,
    hazard_ratio_from_medians,
    median_uncertainty,
    uncertainty,
    weibull_from_median_and_rate,
)
from simtrial.evidence import get_row, load_evidence
from simtrial.her2 import IHC0, IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3, ULTRALOW
from simtrial.survival import CureMixture, Weibull

# --- DESTINY-Breast03: median + 12-month rate -> Weibull, exactly -----------------


@pytest.mark.parametrize(
    ("median_id", "median", "rate"),
    [("DB03.TDXd.PFS.median", 28.8, 0.758), ("DB03.TDM1.PFS.median", 6.8, 0.341)],
)
def test_weibull_reproduces_both_db03_figures(median_id: str, median: float, rate: float) -> None:
    fitted = calibrate(median_id)
    assert isinstance(fitted.model, Weibull)
    assert fitted.model.median() == pytest.approx(median, abs=1e-9)
    assert fitted.model.survival(12.0) == pytest.approx(rate, abs=1e-9)
    # scipy's Weibull is an independent implementation of the same curve.
    curve = stats.weibull_min(c=fitted.model.shape, scale=fitted.model.scale_months)
    assert curve.sf(median) == pytest.approx(0.5, abs=1e-9)
    assert curve.sf(12.0) == pytest.approx(rate, abs=1e-9)
    # The landmark row calibrates to the same model, and cites both figures.
    partner = median_id.replace("median", "12m")
    assert calibrate(partner).model == fitted.model
    assert set(fitted.source_ids) == {median_id, partner}


def test_weibull_shape_by_hand() -> None:
    # T-DXd: shape = ln(ln 2 / -ln 0.758) / ln(28.8 / 12) = ln(0.69315 / 0.27707) / ln(2.4) = 1.0474
    model = weibull_from_median_and_rate(28.8, 0.758, 12.0)
    assert model.shape == pytest.approx(1.0474, abs=1e-4)
    # T-DM1 falls faster early than later: shape < 1 (decreasing hazard), about 0.774.
    assert weibull_from_median_and_rate(6.8, 0.341, 12.0).shape == pytest.approx(0.774, abs=1e-3)


@pytest.mark.parametrize(
    ("median", "rate", "time"), [(28.8, 0.4, 12.0), (6.8, 0.6, 12.0), (12.0, 0.5, 12.0)]
)
def test_inconsistent_median_and_landmark_are_refused(
    median: float, rate: float, time: float
) -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        weibull_from_median_and_rate(median, rate, time)


def test_pairing_can_be_switched_off() -> None:
    single = calibrate("DB03.TDXd.PFS.median", pair=False)
    assert single.model_name == "Exponential"
    assert single.parameters["hazard_per_month"] == pytest.approx(math.log(2) / 28.8, rel=1e-12)


# --- medians and landmark rates alone ----------------------------------------------


def test_median_gives_exponential() -> None:
    fitted = calibrate("DAISY.TDXd.PFS.median.HER2low")
    assert fitted.model_name == "Exponential"
    assert fitted.model.median() == pytest.approx(6.7, abs=1e-12)
    assert fitted.model.survival(6.7) == pytest.approx(0.5, abs=1e-12)
    assert exponential_from_median(6.7) == fitted.model


@pytest.mark.parametrize(
    ("row_id", "rate", "months"),
    [
        ("KATHERINE.TDM1.iDFS.3y.IHC3", 0.85, 36),
        ("KATHERINE.TDM1.iDFS.3y.IHC2ISHpos", 0.88, 36),
        ("ATEMPT.TDM1.iDFS.5y.IHC3", 0.969, 60),
        ("ATEMPT.TDM1.iDFS.5y.IHCle2", 0.967, 60),
    ],
)
def test_landmark_rate_gives_exponential_through_it(row_id: str, rate: float, months: int) -> None:
    fitted = calibrate(row_id)
    assert fitted.model_name == "Exponential"
    assert fitted.parameters["hazard_per_month"] == pytest.approx(
        -math.log(rate) / months, rel=1e-12
    )
    assert fitted.model.survival(float(months)) == pytest.approx(rate, abs=1e-12)


def test_landmark_with_cure_fraction_gives_cure_mixture() -> None:
    fitted = calibrate("KATHERINE.TDM1.iDFS.3y.IHC3", cure_fraction=0.7)
    assert isinstance(fitted.model, CureMixture)
    assert fitted.model.survival(36.0) == pytest.approx(0.85, abs=1e-12)
    assert fitted.model.survival(1e6) == pytest.approx(0.7, abs=1e-9)
    # By hand: uncured fraction alive at 3 years = (0.85 - 0.7) / 0.3 = 0.5 -> median of the uncured is 36 months.
    assert fitted.model.uncured.median() == pytest.approx(36.0, rel=1e-12)
    with pytest.raises(ValueError, match="cure_fraction"):
        cure_mixture_from_rate(0.85, 36.0, 0.9)


def test_non_survival_rows_are_refused() -> None:
    with pytest.raises(ValueError, match="not a median or landmark"):
        calibrate("DB03.TDXd.ORR")
    with pytest.raises(ValueError, match="not a proportion"):
        calibrate_response("DB03.TDXd.PFS.median")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        exponential_from_rate(1.0, 12.0)


# --- hazard ratios from medians ----------------------------------------------------


def test_hazard_ratio_from_medians_states_its_assumption() -> None:
    hr = hazard_ratio_between("DB03.TDXd.PFS.median", "DB03.TDM1.PFS.median")
    assert hr.hazard_ratio == pytest.approx(6.8 / 28.8, rel=1e-12)  # 0.2361
    assert "proportional hazards" in hr.assumption
    assert hr.log_hazard_ratio_se is None  # DB-03 medians carry no CI in the review
    assert hr.to_dict()["source_ids"] == ["DB03.TDXd.PFS.median", "DB03.TDM1.PFS.median"]
    assert hazard_ratio_from_medians(5.59, 4.17).hazard_ratio == pytest.approx(0.74597, abs=1e-5)


def test_hazard_ratio_se_from_two_cis_by_hand() -> None:
    hr = hazard_ratio_between("DAISY.TDXd.PFS.median.HER2low", "DAISY.TDXd.PFS.median.HER2pos")
    assert hr.hazard_ratio == pytest.approx(9.7 / 6.7, rel=1e-12)
    # sqrt(0.161904^2 + 0.165316^2), the two log-median SEs below
    assert hr.log_hazard_ratio_se == pytest.approx(0.23139, abs=1e-4)


# --- uncertainty ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row_id", "se", "events"),
    [
        # By hand: SE = ln(hi / lo) / (2 * 1.959964), events = 1 / SE^2
        ("DAISY.TDXd.PFS.median.HER2pos", 0.165316, 36.59),  # ln(13 / 6.8) = 0.648027
        ("DAISY.TDXd.PFS.median.HER2low", 0.161904, 38.15),  # ln(8.3 / 4.4) = 0.634640
        ("DAISY.TDXd.PFS.median.IHC0", 0.267178, 14.01),  # ln(5.7 / 2.0) = 1.047319
    ],
)
def test_ci_implies_log_median_se_and_events(row_id: str, se: float, events: float) -> None:
    spread = uncertainty(row_id)
    assert isinstance(spread, LogNormalMedian)
    assert spread.log_median_se == pytest.approx(se, abs=2e-6)
    assert spread.implied_events == pytest.approx(events, abs=0.01)


def test_median_sampling_distribution() -> None:
    spread = median_uncertainty(9.7, 6.8, 13.0)
    draws = spread.sample(200_000, np.random.default_rng(11))
    logs = np.log(draws)
    # Tolerances: 4 MC SE of a mean (se / sqrt(n)) and of an SD (se / sqrt(2n)).
    assert abs(logs.mean() - math.log(9.7)) < 4 * spread.log_median_se / math.sqrt(200_000)
    assert abs(logs.std() - spread.log_median_se) < 4 * spread.log_median_se / math.sqrt(400_000)
    hazards = spread.sample_hazard_per_month(10, np.random.default_rng(11))
    assert np.allclose(hazards, math.log(2) / draws[:10])


def test_beta_from_counts_is_jeffreys() -> None:
    assert uncertainty("Panphila.TCbHPy.pCR.IHC3") == BetaProportion(
        34.5, 22.5, "Jeffreys Beta(x+1/2, n-x+1/2)", ("Panphila.TCbHPy.pCR.IHC3",)
    )
    b = beta_from_counts(4, 13)
    assert (b.alpha, b.beta) == (4.5, 9.5)
    with pytest.raises(ValueError):
        beta_from_counts(14, 13)


def test_beta_from_ci_by_hand() -> None:
    # DAISY ORR 70.6% (58.3-81): sd = 0.227 / 3.919928 = 0.057909, var = 0.0033535,
    # alpha + beta = 0.706 * 0.294 / 0.0033535 - 1 = 60.894 -> alpha 42.99, beta 17.90
    b = uncertainty("DAISY.TDXd.ORR.HER2pos")
    assert isinstance(b, BetaProportion)
    assert b.alpha == pytest.approx(42.99, abs=0.02)
    assert b.beta == pytest.approx(17.90, abs=0.02)
    assert b.mean == pytest.approx(0.706, abs=1e-12)
    draws = b.sample(200_000, np.random.default_rng(5))
    assert draws.std() == pytest.approx(0.057909, abs=4 * 0.057909 / math.sqrt(400_000))
    with pytest.raises(ValueError, match="too wide"):
        beta_from_ci(0.02, 0.0, 0.6)


def test_rows_without_spread_have_no_uncertainty() -> None:
    assert uncertainty("DB03.TDXd.PFS.median") is None
    assert calibrate_response("DB03.TDXd.ORR").uncertainty is None
    assert calibrate_response("DB03.TDXd.ORR").probability == 0.797


# --- effect maps --------------------------------------------------------------------


def test_t_dxd_map_from_daisy() -> None:
    tdxd = effect_map("T-DXd")
    assert tdxd.hazard_ratio(IHC3) == 1.0
    assert tdxd.hazard_ratio(IHC2_ISH_POS) == 1.0
    assert tdxd.hazard_ratio(IHC1) == pytest.approx(9.7 / 6.7, rel=1e-12)  # 1.4478
    assert tdxd.hazard_ratio(IHC2_ISH_NEG) == pytest.approx(9.7 / 6.7, rel=1e-12)
    assert tdxd.hazard_ratio(ULTRALOW) == pytest.approx(9.7 / 6.7, rel=1e-12)
    assert tdxd.hazard_ratio(IHC0) == pytest.approx(9.7 / 4.2, rel=1e-12)  # 2.3095
    assert tdxd[IHC0].median_months == 4.2
    assert "DB06.TDXd.PFS.median.HER2ultralow" in tdxd[ULTRALOW].source_ids
    assert "ultralow" in tdxd[ULTRALOW].assumption


def test_tki_map_from_nala() -> None:
    tki = effect_map("tki")
    assert tki.hazard_ratio(IHC2_ISH_POS) == pytest.approx(5.59 / 4.17, rel=1e-12)  # 1.3405
    assert tki.hazard_ratio(IHC3) == 1.0
    with pytest.raises(KeyError, match="no evidence for IHC 1\\+"):
        tki[IHC1]


def test_t_dm1_map_equal_in_her2_positive_direction_only_in_low() -> None:
    tdm1 = effect_map("T-DM1")
    assert tdm1.hazard_ratio(IHC2_ISH_POS) == 1.0
    assert "KATHERINE.TDM1.iDFS.IHC3_vs_IHC2ISHpos" in tdm1[IHC2_ISH_POS].source_ids
    assert tdm1[IHC1].hazard_ratio is None and tdm1[IHC1].direction == "limited"
    with pytest.raises(ValueError, match="direction only"):
        tdm1.hazard_ratio(IHC1)


def test_trastuzumab_map_no_benefit_in_her2_low() -> None:
    trast = effect_map("trastuzumab")
    for code in (IHC1, IHC2_ISH_NEG):
        assert trast.hazard_ratio(code) == 1.0
        assert trast[code].source_ids == ("B47.trastuzumab.iDFS.HER2low",)
    assert trast[IHC3].direction == "benefit" and trast[IHC3].hazard_ratio is None
    assert "assum" in trast[IHC3].assumption or "direction only" in trast[IHC3].assumption
    # IHC 2+/ISH+: graded and mixed in the review, so direction only; N9831's HR 1 is a named variant
    assert trast[IHC2_ISH_POS].hazard_ratio is None
    assert effect_map("trastuzumab N9831").hazard_ratio(IHC2_ISH_POS) == 1.0


def test_every_effect_entry_cites_existing_evidence() -> None:
    evidence = load_evidence()
    defaults = {"T-DXd", "T-DM1", "TKI", "trastuzumab"}
    assert {n for n, m in cal.EFFECT_MAPS.items() if m.variant_of is None} == defaults
    assert {m.variant_of for m in cal.EFFECT_MAPS.values()} - {None} <= defaults
    for m in effect_maps(evidence).values():
        frame = m.to_frame()
        assert len(frame) == len(m.entries)
        assert list(frame["status"]) == [e.status for e in m.entries]
        for entry in m.entries:
            assert entry.source_ids and entry.assumption.startswith(entry.status)
            for source in entry.source_ids:
                get_row(source, evidence)


def test_unknown_effect_map() -> None:
    with pytest.raises(KeyError, match="available: T-DXd"):
        effect_map("pertuzumab")


# --- simulated cohorts reproduce every calibrated figure -------------------------------


@pytest.mark.mc
def test_simulated_cohorts_reproduce_every_figure() -> None:
    report = calibration_report(n_patients=100_000, seed=20250405)
    evidence = load_evidence()
    calibratable = evidence[
        evidence["statistic"].isin(["median_months", "rate_at_months", "proportion"])
        & (evidence["endpoint"] != "prevalence")  # a share of patients, not a figure an arm's model reproduces
    ]
    assert [c.id for c in report] == list(calibratable.index)
    for check in report:
        assert check.n_patients >= 100_000
        assert check.implied == pytest.approx(check.reported, abs=1e-9), check.id
        assert abs(check.simulated - check.reported) <= 4 * check.mc_se, check.id
        assert check.tolerance == pytest.approx(4 * check.mc_se)
        assert check.ok, check.id
    assert report.all_ok
    frame = report.to_frame()
    assert {"id", "reported", "model", "simulated", "mc_se", "ok"} <= set(frame.columns)


def test_median_mc_se_by_hand() -> None:
    # Exponential: f(median) = hazard / 2, so SE = 0.5 / sqrt(n) / (ln2 / m / 2) = m / (ln 2 * sqrt(n)).
    check = check_figure("DB01.TDXd.PFS.median", n_patients=100_000, seed=1)
    assert check.mc_se == pytest.approx(
        16.4 / (math.log(2) * math.sqrt(100_000)), rel=1e-6
    )  # 0.07482
    rate = check_figure("KATHERINE.TDM1.iDFS.3y.IHC3", n_patients=100_000, seed=1)
    assert rate.mc_se == pytest.approx(math.sqrt(0.85 * 0.15 / 100_000), rel=1e-12)
    assert isinstance(check, CalibrationCheck) and check.to_dict()["id"] == "DB01.TDXd.PFS.median"


def test_report_catches_a_wrong_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # A model 5% off its median must fail both the exact and the simulated check.
    real = cal.calibrate

    def off_by_five_percent(evidence_id, **kwargs):
        fitted = real(evidence_id, **kwargs)
        return cal.CalibratedModel(
            fitted.source_ids, fitted.model.with_hazard_ratio(1.05), fitted.method
        )

    monkeypatch.setattr(cal.report, "calibrate", off_by_five_percent)  # where check_figure looks it up
    check = check_figure("DB01.TDXd.PFS.median", n_patients=100_000, seed=3)
    assert not check.ok
    assert abs(check.simulated - check.reported) > check.tolerance


def test_figure_seeds_are_stable_and_distinct() -> None:
    a = cal.figure_seed(1, "DB03.TDXd.PFS.median")
    assert a == cal.figure_seed(1, "DB03.TDXd.PFS.median")
    assert a != cal.figure_seed(1, "DB03.TDM1.PFS.median")
    assert a != cal.figure_seed(2, "DB03.TDXd.PFS.median")
    assert 0 <= a < 2**63
