"""Analytic sample sizes (Schoenfeld, Freedman, Lachin-Foulkes; fixed and group-sequential).

References:
- SAS PROC SEQDESIGN benchmarks quoted in issue 16 (gsDesign's repository keeps
  them): fixed design, lambda_C = 0.03466, HR 0.5, two-sided 0.05, 90% power,
  uniform accrual 24 + follow-up 12: D = 87.4793, N = 197.1152; 4 equally
  spaced looks, LD O'Brien-Fleming, two-sided symmetric, accrual 10 +
  follow-up 10: Dmax = 89.07847, N = 282.6166.
- rpact ``getSampleSizeSurvival`` (``fixtures/r/rpact_two_sided_gs.json``,
  ``Rscript tests/fixtures/r/rpact_two_sided_gs.R``): events and N, Schoenfeld
  and Freedman, fixed and group-sequential, dropout, 2:1 allocation.
- Lachin-Foulkes: gsDesign's published ``nSurvival`` print-out (its
  testthat snapshot ``tests/testthat/_snaps/independent-test-print.nSurvival.md``,
  which prints ``2 * ceiling(n / 2)`` patients and ``ceiling(nEvents)`` events),
  and an independent implementation below from the paper's equations with the
  event probability integrated numerically (scipy ``quad``) over the entry law.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from scipy import integrate
from scipy.stats import norm

from simtrial.scenario import scenario_from_dict
from simtrial.stats.analytic import (
    freedman_events,
    probability_of_event,
    schoenfeld_events,
)
from simtrial.stats.lachin_foulkes import event_probability, lachin_foulkes_sample_size
from simtrial.timeline.sizes import analytic_sample_sizes, format_sizes

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "r" / "rpact_two_sided_gs.json").read_text())
SS = {c["id"]: c for c in FIXTURE["sample_size"]}


def _scenario(**over: Any):
    d: dict[str, Any] = {
        "name": "sizes", "design": "superiority", "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"hazard_per_month": 0.03466}}},
                 "experimental": {"survival": {"all": {"hazard_ratio": 0.5}}}},
        "n_patients": 200, "accrual": {"duration_months": 24},
        "analysis": {"alpha": 0.05, "sided": 2, "calendar_months": 36},
        "simulation": {"n_sims": 100, "seed": 1},
    }
    d.update(over)
    return scenario_from_dict(d)


# --------------------------------------------------------------------- SAS


def test_sas_fixed_design() -> None:
    sizes = analytic_sample_sizes(_scenario(), 0.9)
    s = sizes["methods"]["schoenfeld"]
    assert round(s["events_exact"], 4) == 87.4793
    assert round(s["patients_exact"], 4) == 197.1152
    assert sizes["inflation_factor"] == 1.0


def test_sas_group_sequential_design() -> None:
    """Dmax = D x inflation factor of the two-sided LD OF design; N = Dmax / P(event by 20 months)."""
    from simtrial.timeline.sizes import _events_fraction

    sc = _scenario(accrual={"duration_months": 10}, n_patients=283,
                   analysis={"alpha": 0.05, "sided": 2, "target_events": 89,
                             "sequential": {"information_fractions": [0.25, 0.5, 0.75, 1.0]}})
    sizes = analytic_sample_sizes(sc, 0.9)
    d_max = sizes["methods"]["schoenfeld"]["events_exact"]
    assert d_max == pytest.approx(89.07847, abs=1e-4)  # SAS prints 89.07847; rpact 89.078421
    assert d_max == pytest.approx(SS["sas_gs_asOF_k4"]["maxNumberOfEvents"], rel=1e-5)
    n = d_max / _events_fraction(sc, 283, 20.0)
    assert n == pytest.approx(282.6166, abs=5e-4)
    assert n == pytest.approx(SS["sas_gs_asOF_k4"]["maxNumberOfSubjects"], rel=1e-5)


# ------------------------------------------------------------------- rpact


@pytest.mark.parametrize("case_id", sorted(SS))
def test_events_and_patients_match_rpact(case_id: str) -> None:
    case = SS[case_id]
    inp = case["inputs"]
    dropout = -math.log(1 - inp["dropoutRate"]) / inp["dropoutTime"] if inp["dropoutRate"] else 0.0
    arms = {"control": {"survival": {"all": {"hazard_per_month": inp["lambda2"]}},
                        "dropout": {"hazard_per_month": dropout}},
            "experimental": {"survival": {"all": {"hazard_ratio": inp["hazardRatio"]}},
                             "dropout": {"hazard_per_month": dropout}}}
    analysis: dict[str, Any] = {"alpha": inp["alpha"], "sided": inp["sided"],
                                "calendar_months": inp["accrualTime"] + inp["followUpTime"]}
    if inp["kMax"] > 1:
        seq: dict[str, Any] = {"information_fractions": [k / inp["kMax"] for k in range(1, inp["kMax"] + 1)],
                               "efficacy_spending": inp["typeOfDesign"]}
        if inp["typeBetaSpending"] != "none":
            seq.update(futility="beta_spending", beta_spending=inp["typeBetaSpending"])
            analysis["beta"] = inp["beta"]
        analysis = {"alpha": inp["alpha"], "sided": inp["sided"], "target_events": 100, "sequential": seq}
    sc = _scenario(arms=arms, accrual={"duration_months": inp["accrualTime"]}, analysis=analysis,
                   allocation={"control": 1, "experimental": int(inp["allocationRatioPlanned"])})
    sizes = analytic_sample_sizes(sc, 1 - inp["beta"])
    method = "freedman" if inp["typeOfComputation"] == "Freedman" else "schoenfeld"
    events = sizes["methods"][method]["events_exact"]
    assert events == pytest.approx(case["maxNumberOfEvents"], rel=2e-5)
    assert sizes["inflation_factor"] == pytest.approx(case["inflationFactor"], rel=3e-5)
    if inp["kMax"] == 1:
        assert sizes["methods"][method]["patients_exact"] == pytest.approx(case["maxNumberOfSubjects"], rel=2e-5)
    else:
        # N = Dmax / P(event by the end of the study), as rpact computes it for a fixed study length
        from simtrial.timeline.sizes import _events_fraction

        p = _events_fraction(sc, 1000, inp["accrualTime"] + inp["followUpTime"])
        assert events / p == pytest.approx(case["maxNumberOfSubjects"], rel=3e-5)


def test_closed_forms_agree_with_stats_module() -> None:
    sc = _scenario(analysis={"alpha": 0.025, "calendar_months": 36})
    sizes = analytic_sample_sizes(sc, 0.8)
    assert sizes["methods"]["schoenfeld"]["events_exact"] == pytest.approx(schoenfeld_events(0.5, 0.025, 0.8))
    assert sizes["methods"]["freedman"]["events_exact"] == pytest.approx(freedman_events(0.5, 0.025, 0.8))
    p = probability_of_event(math.log(2) / 0.03466, 0.5, 24, 12)
    assert sizes["methods"]["schoenfeld"]["patients_exact"] == pytest.approx(schoenfeld_events(0.5, 0.025, 0.8) / p,
                                                                            rel=1e-6)


# ---------------------------------------------------------- Lachin-Foulkes


def _lf_reference(lam_c, hr, alpha, power, r, f, ratio=1.0, eta=0.0, gamma=None, sided=1):
    """Lachin & Foulkes (1986), eqs. (2.3)-(2.5) on the log-hazard scale, with P(event) by quadrature."""
    t_end = r + f

    def density(u):
        if gamma is None:
            return 1.0 / r
        return gamma * math.exp(-gamma * u) / (1 - math.exp(-gamma * r))

    def p_event(lam):
        # P(event before T and before dropout | entry u) = lam/(lam+eta) (1 - exp(-(lam+eta)(T-u)))
        mu = lam + eta
        return integrate.quad(lambda u: density(u) * lam / mu * (1 - math.exp(-mu * (t_end - u))), 0, r,
                              epsabs=1e-13, epsrel=1e-12)[0]

    qe = ratio / (1 + ratio)
    qc = 1 - qe
    lam_e = hr * lam_c
    lam_bar = qc * lam_c + qe * lam_e
    pc, pe, pbar = p_event(lam_c), p_event(lam_e), p_event(lam_bar)
    za, zb = norm.isf(alpha / sided), norm.isf(1 - power)
    n = ((za * math.sqrt(1 / (qc * qe * pbar)) + zb * math.sqrt(1 / (qc * pc) + 1 / (qe * pe))) / math.log(hr)) ** 2
    return n, n * (qc * pc + qe * pe)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"eta": 0.02},
        {"ratio": 2.0, "eta": 0.01},
        {"gamma": 0.3},
        {"gamma": -0.2, "eta": 0.015},
        {"sided": 2},
    ],
)
def test_lachin_foulkes_against_the_papers_equations(kw: dict[str, Any]) -> None:
    n_ref, e_ref = _lf_reference(0.05, 0.7, 0.025 * kw.get("sided", 1), 0.85, 18.0, 12.0, **kw)
    res = lachin_foulkes_sample_size(
        0.05, 0.7, 0.025 * kw.get("sided", 1), 0.85, 18.0, 12.0, allocation_ratio=kw.get("ratio", 1.0),
        sided=kw.get("sided", 1), dropout_hazard_per_month=kw.get("eta", 0.0),
        entry="exponential" if "gamma" in kw else "uniform", entry_gamma=kw.get("gamma"),
    )
    assert res.patients_exact == pytest.approx(n_ref, rel=1e-9)
    assert res.events_exact == pytest.approx(e_ref, rel=1e-9)


@pytest.mark.parametrize(
    ("kw", "n_printed", "events_printed"),
    [
        ({"dropout_hazard_per_month": 0.1}, 430, 91),
        ({"dropout_hazard_per_month": 0.1, "entry": "exponential", "entry_gamma": 1.0}, 426, 91),
        ({"entry": "exponential", "entry_gamma": 1.0, "allocation_ratio": 1.25}, 400, 89),
        ({"entry": "exponential", "entry_gamma": 1.0, "allocation_ratio": 0.8}, 396, 94),
        ({"dropout_hazard_per_month": 6.9}, 4308, 92),
    ],
)
def test_lachin_foulkes_matches_gsdesign_nsurvival_snapshot(kw, n_printed: int, events_printed: int) -> None:
    """nSurvival(lambda1 = .2, lambda2 = .1, Ts = 2, Tr = .5, alpha = .025, beta = .1, ...)."""
    res = lachin_foulkes_sample_size(0.2, 0.5, 0.025, 0.9, 0.5, 1.5, **kw)
    assert 2 * math.ceil(res.patients_exact / 2) == n_printed
    assert math.ceil(res.events_exact) == events_printed


def test_uniform_entry_probability_is_rpacts() -> None:
    assert event_probability(0.05, 18, 30, 0.01) == pytest.approx(
        probability_of_event(math.log(2) / 0.05, 1.0, 18, 12, dropout_hazard_per_month=0.01), rel=1e-12)
    # exponential entry with a tiny shape is uniform entry
    assert event_probability(0.05, 18, 30, 0.0, "exponential", 1e-9) == pytest.approx(
        event_probability(0.05, 18, 30), rel=1e-7)


def test_group_sequential_inflation_and_notes() -> None:
    sc = _scenario(analysis={"alpha": 0.025, "target_events": 150, "sequential": {
        "information_fractions": [0.5, 1.0]}}, n_patients=300)
    sizes = analytic_sample_sizes(sc, 0.9)
    fixed = schoenfeld_events(0.5, 0.025, 0.9)
    assert sizes["inflation_factor"] > 1.0
    assert sizes["methods"]["schoenfeld"]["events_exact"] == pytest.approx(fixed * sizes["inflation_factor"])
    # event-driven: N keeps the scenario's events per patient
    assert sizes["methods"]["schoenfeld"]["patients_exact"] == pytest.approx(
        sizes["methods"]["schoenfeld"]["events_exact"] / 0.5)
    lf = sizes["methods"]["lachin_foulkes"]
    assert lf["followup_months"] > 0
    lines = format_sizes(sizes)
    assert any(line.startswith("Schoenfeld") for line in lines) and any("Lachin-Foulkes" in x for x in lines)
    # a Weibull control: no Lachin-Foulkes, with the reason
    weib = _scenario(arms={"control": {"survival": {"all": {"weibull": {"shape": 1.5, "median_months": 12}}}},
                           "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}}})
    s2 = analytic_sample_sizes(weib, 0.8)
    assert "lachin_foulkes" not in s2["methods"] and "exponential" in s2["notes"]["lachin_foulkes"]
    assert s2["methods"]["schoenfeld"]["patients"] is not None
    # non-inferiority: Schoenfeld only
    ni = _scenario(design="noninferiority", analysis={"test": "cox", "alpha": 0.025, "ni_margin": 1.3,
                                                      "calendar_months": 36},
                   arms={"control": {"survival": {"all": {"median_months": 12}}},
                         "experimental": {"survival": {"all": {"hazard_ratio": 1.0}}}})
    s3 = analytic_sample_sizes(ni, 0.8)
    assert set(s3["methods"]) == {"schoenfeld"}


def test_analytic_sizes_are_fast() -> None:
    sc = _scenario()
    analytic_sample_sizes(sc, 0.9)
    start = time.perf_counter()
    analytic_sample_sizes(sc, 0.9)
    assert time.perf_counter() - start < 0.5


def test_asymmetric_two_sided_plan_sizes_the_favourable_side() -> None:
    """harm_alpha 0.01 of 0.05: the efficacy side tests at 0.04, so the fixed design is one-sided 0.04."""
    sc = _scenario(n_patients=500, analysis={"alpha": 0.05, "sided": 2, "target_events": 240, "sequential": {
        "information_fractions": [0.5, 1.0], "harm_alpha": 0.01, "harm_spending": "asP"}})
    sizes = analytic_sample_sizes(sc, 0.8)
    assert sizes["methods"]["schoenfeld"]["events_exact"] == pytest.approx(
        schoenfeld_events(0.5, 0.04, 0.8) * sizes["inflation_factor"])
