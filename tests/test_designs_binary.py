"""Binary-endpoint designs: two-arm (chi-square, CMH, NI), single-arm exact binomial, Simon two-stage.

Reference figures come from formulas written out here with the standard
library (``statistics.NormalDist``, ``math.comb``), never from the designs'
own output, and from Simon (1989, Table 1).  Monte-Carlo checks use fixed
seeds and a tolerance of ``4 * sqrt(p (1 - p) / n_sims)``.
"""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist

import numpy as np
import pytest

from simtrial.designs.binary import TwoArmBinaryDesign
from simtrial.designs.binary_registry import BINARY_DESIGNS
from simtrial.designs.simon_two_stage import SimonTwoStageDesign
from simtrial.designs.single_arm import SingleArmBinaryDesign
from simtrial.her2 import IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3
from simtrial.scenario.model import Analysis, Scenario, Simulation
from simtrial.spec import Population

N01 = NormalDist()
N_SIMS = 20_000


def mc_tol(p: float, n: int = N_SIMS) -> float:
    return 4.0 * math.sqrt(max(p * (1.0 - p), 1e-4) / n)


def scenario(
    design: str = "binary",
    *,
    population: Population | None = None,
    analysis: Analysis | None = None,
    n_patients: int | None = 600,
    control: dict | None = None,
    experimental: dict | None = None,
    allocation: tuple[int, int] = (1, 1),
    block_multiple: int = 2,
) -> Scenario:
    return Scenario(
        name="test",
        description="binary design test",
        design=design,
        endpoint="binary",
        population=population or Population(mix={IHC3: 0.7, IHC2_ISH_POS: 0.3}),
        analysis=analysis or Analysis(test="chi_square", alpha=0.025, sided=1),
        simulation=Simulation(n_sims=N_SIMS, seed=1),
        n_patients=n_patients,
        control_response=control if control is not None else {IHC3: 0.30, IHC2_ISH_POS: 0.30},
        experimental_response=experimental if experimental is not None else {IHC3: 0.42, IHC2_ISH_POS: 0.42},
        allocation=allocation,
        block_multiple=block_multiple,
    )


def hand_power(p0: float, p1: float, n0: float, n1: float, alpha: float) -> float:
    """One-sided pooled-variance two-proportion power (Fleiss), standard library only."""
    pbar = (n0 * p0 + n1 * p1) / (n0 + n1)
    sd0 = math.sqrt(pbar * (1 - pbar) * (1 / n0 + 1 / n1))
    sd1 = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    return N01.cdf((p1 - p0 - N01.inv_cdf(1 - alpha) * sd0) / sd1)


def binom_sf(c: int, n: int, p: float) -> float:
    """P(X >= c), X ~ Bin(n, p), by summing math.comb terms."""
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(max(c, 0), n + 1))


def binom_pmf(k: int, n: int, p: float) -> float:
    return math.comb(n, k) * p**k * (1 - p) ** (n - k) if 0 <= k <= n else 0.0


# ---------------------------------------------------------------------------
# two-arm


def test_registry_names():
    assert set(BINARY_DESIGNS) == {"binary", "single_arm_binary", "simon_two_stage"}
    for name, design in BINARY_DESIGNS.items():
        assert design.name == name


@pytest.mark.mc
def test_chi_square_power_matches_normal_approximation():
    sc = scenario(n_patients=600)
    out = TwoArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=11)
    expected = hand_power(0.30, 0.42, 300, 300, 0.025)
    assert out.analytic_power["normal_approximation"] == pytest.approx(expected, rel=1e-9)
    assert abs(out.success.mean() - expected) < mc_tol(expected)
    assert np.all(out.enrolled == 600)
    # events are responders: mean close to 600 * 0.36
    assert abs(out.events.mean() - 600 * 0.36) < 4 * math.sqrt(600 * 0.36 * 0.64 / N_SIMS) * 1.5
    assert np.all(np.isnan(out.hazard_ratio)) and np.all(np.isnan(out.duration_months))
    rd = out.estimates["risk_difference"]
    assert abs(rd.mean() - 0.12) < 4 * rd.std() / math.sqrt(N_SIMS)


@pytest.mark.mc
def test_chi_square_type_one_error_at_alpha():
    sc = scenario(n_patients=1000)
    out = TwoArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=12, null=True)
    assert out.null
    assert abs(out.success.mean() - 0.025) < mc_tol(0.025)
    # the null keeps the control rates in both arms
    assert abs(np.nanmean(out.estimates["response_rate_experimental"]) - 0.30) < 0.002


@pytest.mark.mc
def test_two_sided_alpha_is_split():
    sc = scenario(n_patients=1000, analysis=Analysis(test="chi_square", alpha=0.05, sided=2))
    out = TwoArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=13, null=True)
    # two-sided: rejection in either direction has probability alpha, each direction alpha / 2
    assert abs(out.success.mean() - 0.05) < mc_tol(0.05)
    assert abs(out.decisions["reject_favourable"].mean() - 0.025) < mc_tol(0.025)
    assert abs(out.decisions["reject_unfavourable"].mean() - 0.025) < mc_tol(0.025)
    assert out.analytic_power["normal_approximation"] == pytest.approx(0.05, abs=1e-9)


@pytest.mark.mc
def test_cmh_with_equal_stratum_effects_close_to_unstratified():
    pop = Population(mix={IHC3: 0.5, IHC2_ISH_POS: 0.3, IHC1: 0.2})
    resp_c = {IHC3: 0.30, IHC2_ISH_POS: 0.30, IHC1: 0.30}
    resp_e = {IHC3: 0.42, IHC2_ISH_POS: 0.42, IHC1: 0.42}
    base = scenario(population=pop, control=resp_c, experimental=resp_e, n_patients=600)
    cmh = dataclasses.replace(base, analysis=Analysis(test="cmh", alpha=0.025))
    out_chi = TwoArmBinaryDesign().run(base, n_sims=N_SIMS, seed=14)
    out_cmh = TwoArmBinaryDesign().run(cmh, n_sims=N_SIMS, seed=14)
    expected = hand_power(0.30, 0.42, 300, 300, 0.025)
    assert abs(out_cmh.success.mean() - expected) < mc_tol(expected)
    # same seed, same trials: the two tests agree on almost every trial
    assert np.mean(out_cmh.success != out_chi.success) < 0.03
    assert abs(out_cmh.success.mean() - out_chi.success.mean()) < mc_tol(expected)


@pytest.mark.mc
def test_cmh_grouped_strata_and_null():
    pop = Population(mix={IHC3: 0.5, IHC2_ISH_POS: 0.3, IHC1: 0.2})
    resp_c = {IHC3: 0.50, IHC2_ISH_POS: 0.35, IHC1: 0.15}
    strata = {c: (0 if c in (IHC3, IHC2_ISH_POS) else 1) for c in range(6)}
    sc = scenario(
        population=pop,
        control=resp_c,
        experimental=resp_c,
        n_patients=1000,
        analysis=Analysis(test="cmh", alpha=0.025, strata=strata),
    )
    out = TwoArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=15, null=True)
    assert abs(out.success.mean() - 0.025) < mc_tol(0.025)


@pytest.mark.mc
def test_risk_difference_ni_type_one_error_and_power():
    ana = Analysis(test="risk_difference_ni", alpha=0.025, ni_margin=0.10)
    sc = scenario(n_patients=800, analysis=ana, experimental={IHC3: 0.30, IHC2_ISH_POS: 0.30})
    null = TwoArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=16, null=True)
    assert abs(null.success.mean() - 0.025) < mc_tol(0.025)
    assert abs(np.nanmean(null.estimates["risk_difference"]) + 0.10) < 0.002
    alt = TwoArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=17)
    sd = math.sqrt(2 * 0.3 * 0.7 / 400)
    expected = N01.cdf(0.10 / sd - N01.inv_cdf(0.975))  # Wald (Blackwelder) power
    assert alt.analytic_power["normal_approximation"] == pytest.approx(expected, rel=1e-9)
    assert abs(alt.success.mean() - expected) < mc_tol(expected)


def test_block_randomisation_exact_blocks_and_hypergeometric_remainder():
    # 10 patients in one category, blocks of 4 (1:1 x 2): 2 complete blocks (4 + 4),
    # then 2 patients from a shuffled block of 2 E + 2 C: P(E = 0, 1, 2) = 1/6, 4/6, 1/6
    sc = scenario(population=Population(fixed_counts={IHC3: 10}), n_patients=10)
    out = TwoArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=18)
    n_e = out.estimates["patients_experimental"]
    assert set(np.unique(n_e)) <= {4, 5, 6}
    assert np.all(out.estimates["patients_control"] + n_e == 10)
    assert abs(np.mean(n_e == 5) - 4 / 6) < mc_tol(4 / 6)
    assert abs(np.mean(n_e == 4) - 1 / 6) < mc_tol(1 / 6)
    # 2:1 allocation, block multiple 1, 30 patients = 10 complete blocks: exactly 20 experimental
    sc21 = scenario(population=Population(fixed_counts={IHC3: 30}), n_patients=30, allocation=(1, 2), block_multiple=1)
    out21 = TwoArmBinaryDesign().run(sc21, n_sims=200, seed=19)
    assert np.all(out21.estimates["patients_experimental"] == 20)


def test_blocks_within_assessed_category():
    # 3 categories of 6 patients each with blocks of 4: each category has 4 + (2 hypergeometric),
    # so the experimental total is 6 + three independent draws in {0, 1, 2}
    sc = scenario(
        population=Population(fixed_counts={IHC3: 6, IHC2_ISH_POS: 6, IHC1: 6}),
        n_patients=18,
        control={IHC3: 0.3, IHC2_ISH_POS: 0.3, IHC1: 0.3},
        experimental={IHC3: 0.4, IHC2_ISH_POS: 0.4, IHC1: 0.4},
    )
    out = TwoArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=20)
    n_e = out.estimates["patients_experimental"]
    assert n_e.min() >= 6 and n_e.max() <= 12
    p12 = (1 / 6) ** 3
    assert abs(np.mean(n_e == 12) - p12) < mc_tol(p12)


@pytest.mark.mc
def test_misclassification_mixes_response_rates():
    # true 3+ (rate 0.6) and 1+ (rate 0.1); the assay calls 20% of true 1+ "3+"; only assessed 3+ enrolled
    m = np.eye(6)
    m[IHC1] = 0.0
    m[IHC1, IHC1], m[IHC1, IHC3] = 0.8, 0.2
    pop = Population(mix={IHC3: 0.5, IHC1: 0.5}, eligible=(IHC3,), misclassification=tuple(map(tuple, m)))
    resp = {IHC3: 0.6, IHC1: 0.1}
    sc = scenario(
        "single_arm_binary",
        population=pop,
        n_patients=50,
        experimental=resp,
        analysis=Analysis(test="exact_binomial", alpha=0.05, p0=0.3),
    )
    out = SingleArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=21)
    share_true3 = 0.5 / (0.5 + 0.5 * 0.2)
    rate = share_true3 * 0.6 + (1 - share_true3) * 0.1
    assert out.details["expected_response_rate"] == pytest.approx(rate, rel=1e-12)
    se = math.sqrt(rate * (1 - rate) / 50 / N_SIMS)
    assert abs(out.estimates["response_rate"].mean() - rate) < 4 * se
    c = out.details["critical_value"]
    assert out.analytic_power["exact_binomial"] == pytest.approx(binom_sf(c, 50, rate), rel=1e-9)


def test_same_seed_same_outcomes_and_other_seed_differs():
    sc = scenario(analysis=Analysis(test="cmh", alpha=0.025))
    design = TwoArmBinaryDesign()
    a = design.run(sc, n_sims=5000, seed=7)
    b = design.run(sc, n_sims=5000, seed=7)
    c = design.run(sc, n_sims=5000, seed=8)
    np.testing.assert_array_equal(a.success, b.success)
    np.testing.assert_array_equal(a.events, b.events)
    np.testing.assert_array_equal(a.estimates["z"], b.estimates["z"])
    assert not np.array_equal(a.events, c.events)
    # progress reporting does not change the numbers and counts every trial
    seen = []
    d = design.run(sc, n_sims=5000, seed=7, progress=seen.append)
    np.testing.assert_array_equal(a.events, d.events)
    assert sum(seen) == 5000
    # the first trials do not depend on how many trials are run
    e = design.run(sc, n_sims=100, seed=7)
    np.testing.assert_array_equal(a.events[:100], e.events)


def test_n_patients_override():
    sc = scenario(n_patients=600)
    out = TwoArmBinaryDesign().run(sc, n_sims=2000, seed=9, n_patients=200)
    assert out.n_patients == 200
    assert np.all(out.enrolled == 200)
    assert np.all(out.estimates["analysed"] == 200)
    assert out.analytic_power["normal_approximation"] == pytest.approx(
        hand_power(0.30, 0.42, 100, 100, 0.025), rel=1e-9
    )
    sa = scenario("single_arm_binary", n_patients=40, analysis=Analysis(test="exact_binomial", p0=0.3, alpha=0.05))
    out_sa = SingleArmBinaryDesign().run(sa, n_sims=500, seed=9, n_patients=55)
    assert np.all(out_sa.enrolled == 55) and out_sa.n_patients == 55
    # fixed counts fix N
    fixed = scenario(population=Population(fixed_counts={IHC3: 100}), n_patients=None)
    assert TwoArmBinaryDesign().run(fixed, n_sims=10, seed=1).n_patients == 100
    with pytest.raises(ValueError, match="fixed_counts"):
        TwoArmBinaryDesign().run(fixed, n_sims=10, seed=1, n_patients=120)


def test_analysis_population_restricts_the_analysis():
    pop = Population(mix={IHC3: 0.5, IHC2_ISH_NEG: 0.5})
    sc = scenario(
        population=pop,
        n_patients=400,
        control={IHC3: 0.3, IHC2_ISH_NEG: 0.1},
        experimental={IHC3: 0.5, IHC2_ISH_NEG: 0.1},
        analysis=Analysis(test="chi_square", population=(IHC3,)),
    )
    out = TwoArmBinaryDesign().run(sc, n_sims=2000, seed=3)
    assert np.all(out.enrolled == 400)
    assert abs(out.estimates["analysed"].mean() - 200) < 4 * math.sqrt(400 * 0.25 / 2000)
    assert out.details["expected_response_rate_experimental"] == pytest.approx(0.5)
    assert out.analytic_power["normal_approximation"] == pytest.approx(hand_power(0.3, 0.5, 100, 100, 0.025))


def test_bad_scenarios_name_the_field():
    pop = Population(mix={IHC3: 0.7, IHC1: 0.3})
    with pytest.raises(ValueError, match=r"control_response\[IHC 1\+\]"):
        TwoArmBinaryDesign().run(scenario(population=pop), n_sims=10, seed=1)
    with pytest.raises(ValueError, match="experimental_response"):
        TwoArmBinaryDesign().run(
            scenario(population=pop, control={IHC3: 0.3, IHC1: 0.2}, experimental={IHC3: 0.4}), n_sims=10, seed=1
        )
    with pytest.raises(ValueError, match=r"experimental_response\[IHC 3\+\]"):
        TwoArmBinaryDesign().run(scenario(experimental={IHC3: 1.5, IHC2_ISH_POS: 0.4}), n_sims=10, seed=1)
    with pytest.raises(ValueError, match="analysis.test"):
        TwoArmBinaryDesign().run(scenario(analysis=Analysis(test="logrank")), n_sims=10, seed=1)
    with pytest.raises(ValueError, match="analysis.ni_margin"):
        TwoArmBinaryDesign().run(scenario(analysis=Analysis(test="risk_difference_ni")), n_sims=10, seed=1)
    with pytest.raises(ValueError, match="n_patients"):
        TwoArmBinaryDesign().run(scenario(n_patients=None), n_sims=10, seed=1)
    with pytest.raises(ValueError, match="analysis.p0"):
        SingleArmBinaryDesign().run(
            scenario("single_arm_binary", analysis=Analysis(test="exact_binomial")), n_sims=10, seed=1
        )
    with pytest.raises(ValueError, match="analysis.test"):
        SingleArmBinaryDesign().run(scenario("single_arm_binary"), n_sims=10, seed=1)
    with pytest.raises(ValueError, match="analysis.p1"):
        SimonTwoStageDesign().run(
            scenario("simon_two_stage", n_patients=None, analysis=Analysis(test="exact_binomial", p0=0.1, beta=0.2)),
            n_sims=10,
            seed=1,
        )


# ---------------------------------------------------------------------------
# single arm


@pytest.mark.mc
@pytest.mark.parametrize("null", [False, True])
def test_single_arm_rejection_matches_exact_binomial(null):
    # heterogeneous true rates, screened mix: every patient responds with the mixture rate
    pop = Population(mix={IHC3: 0.6, IHC2_ISH_POS: 0.4})
    resp = {IHC3: 0.50, IHC2_ISH_POS: 0.35}
    sc = scenario(
        "single_arm_binary",
        population=pop,
        n_patients=40,
        experimental=resp,
        analysis=Analysis(test="exact_binomial", alpha=0.05, p0=0.30),
    )
    out = SingleArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=31, null=null)
    # critical value by hand: smallest c with P(X >= c | 40, 0.3) <= 0.05
    c = next(c for c in range(42) if binom_sf(c, 40, 0.30) <= 0.05)
    assert out.details["critical_value"] == c
    rate = 0.30 if null else 0.6 * 0.50 + 0.4 * 0.35
    exact = binom_sf(c, 40, rate)
    assert out.analytic_power["exact_binomial"] == pytest.approx(exact, rel=1e-9)
    assert abs(out.success.mean() - exact) < mc_tol(exact)
    np.testing.assert_array_equal(out.success, out.events >= c)
    assert np.all(out.success == (out.estimates["p_value"] <= 0.05))


@pytest.mark.mc
def test_single_arm_fixed_counts_exact_convolution():
    sc = scenario(
        "single_arm_binary",
        population=Population(fixed_counts={IHC3: 20, IHC1: 10}),
        n_patients=None,
        experimental={IHC3: 0.55, IHC1: 0.15},
        analysis=Analysis(test="exact_binomial", alpha=0.05, p0=0.25),
    )
    out = SingleArmBinaryDesign().run(sc, n_sims=N_SIMS, seed=32)
    c = out.details["critical_value"]
    exact = sum(
        binom_pmf(i, 20, 0.55) * binom_pmf(j, 10, 0.15) for i in range(21) for j in range(11) if i + j >= c
    )
    assert out.analytic_power["exact_binomial"] == pytest.approx(exact, rel=1e-9)
    assert abs(out.success.mean() - exact) < mc_tol(exact)


# ---------------------------------------------------------------------------
# Simon two-stage


def simon_exact(r1: int, n1: int, r: int, n: int, p: float) -> tuple[float, float]:
    """(P(early termination), P(reject H0)) by enumeration."""
    pet = sum(binom_pmf(x, n1, p) for x in range(r1 + 1))
    reject = sum(binom_pmf(x, n1, p) * binom_sf(r - x + 1, n - n1, p) for x in range(r1 + 1, n1 + 1))
    return pet, reject


@pytest.mark.mc
@pytest.mark.parametrize(
    ("kind", "published"),
    # Simon (1989) Table 1, p0 = 0.10, p1 = 0.30, alpha = 0.05, beta = 0.20
    [("optimal", (1, 10, 5, 29, 15.0, 0.74)), ("minimax", (1, 15, 5, 25, 19.5, 0.55))],
)
def test_simon_operating_characteristics(kind, published):
    r1, n1, r, n, en0, pet0 = published
    pop = Population(mix={IHC3: 0.5, IHC2_ISH_POS: 0.5})
    sc = scenario(
        "simon_two_stage",
        population=pop,
        n_patients=None,
        experimental={IHC3: 0.35, IHC2_ISH_POS: 0.25},  # mean 0.30 = p1
        analysis=Analysis(test="exact_binomial", alpha=0.05, p0=0.10, p1=0.30, beta=0.20, simon_kind=kind),
    )
    design = SimonTwoStageDesign()
    for null, p in ((True, 0.10), (False, 0.30)):
        out = design.run(sc, n_sims=N_SIMS, seed=41, null=null)
        d = out.details
        assert (d["r1"], d["n1"], d["r"], d["n"]) == (r1, n1, r, n)
        assert d["EN0"] == pytest.approx(en0, abs=0.05)
        assert d["PET0"] == pytest.approx(pet0, abs=0.005)
        pet, reject = simon_exact(r1, n1, r, n, p)
        assert out.analytic_power["exact"] == pytest.approx(reject, rel=1e-9)
        assert d["exact_prob_early_stop"] == pytest.approx(pet, rel=1e-9)
        stopped = out.decisions["stopped_early"]
        assert d["observed_prob_early_stop"] == stopped.mean()
        assert abs(stopped.mean() - pet) < mc_tol(pet)
        assert abs(out.success.mean() - reject) < mc_tol(reject)
        assert set(np.unique(out.enrolled)) <= {n1, n}
        np.testing.assert_array_equal(out.enrolled == n1, stopped)
        assert not np.any(out.success & stopped)
        en = n1 + (1 - pet) * (n - n1)
        assert d["exact_expected_sample_size"] == pytest.approx(en, rel=1e-9)


def test_simon_fixed_counts_and_n_patients():
    sc = scenario(
        "simon_two_stage",
        population=Population(fixed_counts={IHC3: 20, IHC2_ISH_POS: 9}),
        n_patients=None,
        experimental={IHC3: 0.3, IHC2_ISH_POS: 0.3},
        analysis=Analysis(test="exact_binomial", alpha=0.05, p0=0.10, p1=0.30, beta=0.20),
    )
    out = SimonTwoStageDesign().run(sc, n_sims=5000, seed=42)
    assert out.n_patients == 29
    _, reject = simon_exact(1, 10, 5, 29, 0.30)
    assert abs(out.success.mean() - reject) < mc_tol(reject, 5000)
    assert out.details["exact_is_exact"]
    with pytest.raises(ValueError, match="n_patients"):
        SimonTwoStageDesign().run(sc, n_sims=10, seed=1, n_patients=40)
    wrong = dataclasses.replace(sc, population=Population(fixed_counts={IHC3: 30}))
    with pytest.raises(ValueError, match="fixed_counts"):
        SimonTwoStageDesign().run(wrong, n_sims=10, seed=1)
