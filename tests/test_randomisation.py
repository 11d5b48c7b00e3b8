"""Randomisation: permuted blocks within strata (the default) or simple randomisation.

Reference figures are written out here from first principles: Binomial and
hypergeometric moments for the arm counts, the block bound for permuted blocks,
and for the chi-square size under stratified blocks the ratio of the
within-stratum to the total binomial variance (standard library only).
Monte-Carlo checks use fixed seeds and 4 Monte-Carlo standard errors.
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from simtrial_cli.main import main

from simtrial.designs._binary_cohort import allocate_arms
from simtrial.designs._survival import build_spec
from simtrial.designs.binary import TwoArmBinaryDesign
from simtrial.engine import layout as L
from simtrial.her2 import IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3
from simtrial.scenario import load_scenario, scenario_from_dict
from simtrial.scenario.errors import ScenarioError
from simtrial.simulate import patient_data, simulate
from simtrial.spec import Accrual, Arm, Cut, Population, Subgroup, TrialSpec
from simtrial.survival import Exponential

ROOT = Path(__file__).resolve().parents[1]
N01 = NormalDist()
DEFAULT_BLOCK = {"method": "permuted_blocks", "strata": "by_category"}


def _yaml(name: str) -> dict:
    return yaml.safe_load((ROOT / "scenarios" / name).read_text())


def _spec(population: Population, *, allocation=(1, 1), randomisation="permuted_blocks", strata=None,
          block_multiple=2, subgroups=()) -> TrialSpec:
    """Everyone enrolled within 12 months, analysed at month 200: all patients count in every look."""
    n = sum(population.fixed_counts.values()) if population.fixed_counts else 300
    model = Exponential(median_months=12.0)
    arm = Arm("arm", dict.fromkeys(range(6), model))
    return TrialSpec(
        population=population, control=arm, experimental=arm, n_patients=n,
        accrual=Accrual(duration_months=12.0), cuts=(Cut(calendar_months=200.0),), allocation=allocation,
        block_multiple=block_multiple, randomisation=randomisation, randomization_strata=strata,
        subgroups=tuple(subgroups),
    )


def _within(mean: float, expected: float, se: float) -> bool:
    return abs(mean - expected) < 4.0 * se


def _binomial_var_se(n: int, p: float, trials: int) -> tuple[float, float]:
    """Variance of Binomial(n, p) and the standard error of a sample variance over ``trials`` draws."""
    q = 1.0 - p
    var = n * p * q
    mu4 = n * p * q * (1.0 + 3.0 * (n - 2) * p * q)
    return var, math.sqrt((mu4 - (trials - 3) / (trials - 1) * var**2) / trials)


# --- the default is today's behaviour ----------------------------------------------------


@pytest.mark.parametrize("name", ["tki_ihc_stratified.yaml", "ihc3_deescalation_ni.yaml"])
def test_explicit_default_block_is_the_absent_field_trial_by_trial(name: str) -> None:
    data = _yaml(name)
    assert "randomisation" not in data
    absent = scenario_from_dict(data)
    explicit = scenario_from_dict({**data, "randomisation": DEFAULT_BLOCK})
    assert absent == explicit
    assert absent.randomisation == "permuted_blocks" and absent.randomisation_strata is None
    assert absent.resolved["randomisation"] == DEFAULT_BLOCK
    a = simulate(build_spec(absent), 400, seed=5)
    b = simulate(build_spec(explicit), 400, seed=5)
    np.testing.assert_array_equal(a.stats, b.stats)
    np.testing.assert_array_equal(a.cut_months, b.cut_months)
    np.testing.assert_array_equal(a.flags, b.flags)
    # and a spec with no randomisation argument at all is the same run
    spec = build_spec(absent)
    plain = TrialSpec(**{f: getattr(spec, f) for f in spec.__dataclass_fields__ if f not in (
        "randomisation", "randomization_strata")})
    np.testing.assert_array_equal(simulate(plain, 400, seed=5).stats, a.stats)


def test_binary_explicit_default_block_is_the_absent_field() -> None:
    data = _yaml("neoadjuvant_pcr_by_ihc.yaml")
    for test in ("cmh", "chi_square"):
        data["analysis"]["test"] = test
        if test == "chi_square":
            data["analysis"].pop("strata", None)  # analysis strata belong to stratified tests
        absent = scenario_from_dict(data)
        explicit = scenario_from_dict({**data, "randomisation": DEFAULT_BLOCK})
        a = TwoArmBinaryDesign().run(absent, n_sims=3000, seed=3)
        b = TwoArmBinaryDesign().run(explicit, n_sims=3000, seed=3)
        np.testing.assert_array_equal(a.success, b.success)
        np.testing.assert_array_equal(a.estimates["z"], b.estimates["z"])
        np.testing.assert_array_equal(a.estimates["patients_experimental"], b.estimates["patients_experimental"])
        assert a.analytic_power == b.analytic_power


# --- simple randomisation ----------------------------------------------------------------------


@pytest.mark.mc
@pytest.mark.parametrize("allocation", [(1, 1), (1, 2)])
def test_simple_randomisation_arm_counts_are_binomial(allocation) -> None:
    trials, n = 4000, 300
    p = allocation[1] / sum(allocation)
    spec = _spec(Population(mix={IHC3: 0.5, IHC2_ISH_POS: 0.3, IHC1: 0.2}), allocation=allocation,
                 randomisation="simple")
    res = simulate(spec, trials, seed=11)
    n_exp = res.stats[:, -1, 0, L.PATIENTS_EXPERIMENTAL]
    assert np.all(n_exp + res.stats[:, -1, 0, L.PATIENTS_CONTROL] == n)
    var, var_se = _binomial_var_se(n, p, trials)
    assert _within(n_exp.mean(), n * p, math.sqrt(var / trials))
    assert _within(n_exp.var(ddof=1), var, var_se)
    # the same spec with permuted blocks keeps the arms within one block of the ratio
    blocks = simulate(_spec(spec.population, allocation=allocation), trials, seed=11)
    b_exp = blocks.stats[:, -1, 0, L.PATIENTS_EXPERIMENTAL]
    assert b_exp.var() < var / 20


@pytest.mark.mc
def test_simple_randomisation_in_binary_designs_is_binomial() -> None:
    trials, n = 20_000, 301
    sc = _binary_scenario(n_patients=n, allocation={"control": 1, "experimental": 2},
                          randomisation={"method": "simple"})
    out = TwoArmBinaryDesign().run(sc, n_sims=trials, seed=2, null=True)
    n_exp = out.estimates["patients_experimental"]
    var, var_se = _binomial_var_se(n, 2 / 3, trials)
    assert _within(n_exp.mean(), n * 2 / 3, math.sqrt(var / trials))
    assert _within(n_exp.var(ddof=1), var, var_se)


def test_simple_randomisation_is_one_coin_per_patient_whatever_the_category() -> None:
    spec = _spec(Population(fixed_counts={IHC3: 200, IHC1: 200}), randomisation="simple")
    pts = patient_data(spec, seed=4)
    # no block structure: long runs of one arm occur (a permuted block of 4 allows at most 4 in a row)
    arms = pts["arm"].to_numpy()
    starts = np.flatnonzero(np.diff(np.r_[-1, arms, -1]) != 0)
    assert np.diff(starts).max() > 4
    # the same seed reproduces the allocation
    np.testing.assert_array_equal(patient_data(spec, seed=4)["arm"].to_numpy(), arms)


# --- permuted blocks ------------------------------------------------------------------------


def _prefix_imbalance(arms: np.ndarray, allocation) -> np.ndarray:
    """a * (experimental so far) - b * (control so far) after each patient."""
    ctrl, expt = allocation
    return np.cumsum(np.where(arms == 1, ctrl, -expt))


@pytest.mark.parametrize("allocation, multiple", [((1, 1), 2), ((1, 2), 1), ((2, 3), 2)])
@pytest.mark.parametrize("strata", ["by_category", "by_group", "none"])
def test_permuted_block_imbalance_is_bounded_within_each_stratum(allocation, multiple, strata) -> None:
    pop = Population(mix={IHC3: 0.3, IHC2_ISH_POS: 0.2, IHC2_ISH_NEG: 0.2, IHC1: 0.3})
    mapping = {"by_category": None, "by_group": {c: (0 if c in (IHC2_ISH_POS, IHC3) else 1) for c in range(6)},
               "none": dict.fromkeys(range(6), 0)}[strata]
    spec = _spec(pop, allocation=allocation, block_multiple=multiple, strata=mapping)
    bound = multiple * allocation[0] * allocation[1]
    for trial in range(3):
        pts = patient_data(spec, seed=9, trial=trial)
        arms = pts["arm"].to_numpy()
        cats = pts["assessed_category"].cat.codes.to_numpy()
        stratum = cats if mapping is None else np.array([mapping[c] for c in cats])
        for s in np.unique(stratum):
            imbalance = _prefix_imbalance(arms[stratum == s], allocation)
            assert np.abs(imbalance).max() <= bound
    # simple randomisation of the same population breaks the bound somewhere
    simple = patient_data(_spec(pop, allocation=allocation, randomisation="simple"), seed=9)
    cats = simple["assessed_category"].cat.codes.to_numpy()
    worst = max(np.abs(_prefix_imbalance(simple["arm"].to_numpy()[cats == c], allocation)).max()
                for c in np.unique(cats))
    assert worst > bound


@pytest.mark.mc
def test_strata_by_group_and_none_change_the_balance_within_categories() -> None:
    """100 patients in each of IHC 3+ and 2+/ISH+ (HER2-positive) and IHC 1+ (HER2-low), 1:1, blocks of 4.

    The block sequence of a stratum is independent of the (shuffled) order of
    categories, so within a stratum holding exactly E experimental of N, a
    category of K patients gets Hypergeometric(N, K, E) of them:
    D = experimental - control = 2 X - K has variance 4 K (E/N)(1 - E/N)(N - K)/(N - 1).
    """
    trials = 3000
    pop = Population(fixed_counts={IHC3: 100, IHC2_ISH_POS: 100, IHC1: 100})
    subgroups = [Subgroup(str(c), (c,)) for c in (IHC3, IHC2_ISH_POS, IHC1)]
    by_group = {c: (0 if c in (IHC2_ISH_POS, IHC3) else 1) for c in range(6)}
    runs = {
        "by_category": (None, "permuted_blocks"),
        "by_group": (by_group, "permuted_blocks"),
        "none": (dict.fromkeys(range(6), 0), "permuted_blocks"),
        "simple": (None, "simple"),
    }
    d = {}
    for name, (strata, method) in runs.items():
        res = simulate(_spec(pop, strata=strata, randomisation=method, subgroups=subgroups), trials, seed=21)
        exp_ = res.stats[:, -1, :, L.PATIENTS_EXPERIMENTAL]
        d[name] = exp_ - res.stats[:, -1, :, L.PATIENTS_CONTROL]  # [trial, overall/3+/2+ISH+/1+]

    def hyper_var(n, k):
        return 4 * k * 0.25 * (n - k) / (n - 1)

    def check_var(x, expected):
        se = expected * math.sqrt(2 / (trials - 1))  # normal-theory SE of a sample variance
        assert _within(x.var(ddof=1), expected, se), (x.var(ddof=1), expected)

    # by category: every category balanced exactly (100 = 25 complete blocks)
    assert np.all(d["by_category"] == 0)
    # by group: each group balanced exactly; within HER2-positive the categories are hypergeometric
    assert np.all(d["by_group"][:, 0] == 0) and np.all(d["by_group"][:, 3] == 0)
    assert np.all(d["by_group"][:, 1] == -d["by_group"][:, 2])
    check_var(d["by_group"][:, 1], hyper_var(200, 100))
    # none: only the overall total is balanced; every category (IHC 1+ too) is hypergeometric in 300
    assert np.all(d["none"][:, 0] == 0)
    for j in (1, 2, 3):
        check_var(d["none"][:, j], hyper_var(300, 100))
    # simple: nothing is balanced; a category's D = 2 Bin(100, 1/2) - 100
    check_var(d["simple"][:, 1], 100.0)
    check_var(d["simple"][:, 0], 300.0)


def test_binary_strata_split_is_hypergeometric_and_totals_are_blocked() -> None:
    rng = np.random.default_rng(7)
    counts = np.zeros((20_000, 6), dtype=np.int64)
    counts[:, IHC3], counts[:, IHC2_ISH_POS], counts[:, IHC1] = 100, 100, 100
    by_group = {c: (0 if c in (IHC2_ISH_POS, IHC3) else 1) for c in range(6)}
    arms = allocate_arms(rng, counts, (1, 1), 2, "permuted_blocks", by_group)
    assert np.all(arms.sum(axis=-1) == counts)
    n_exp = arms[..., 1]
    assert np.all(n_exp[:, IHC3] + n_exp[:, IHC2_ISH_POS] == 100) and np.all(n_exp[:, IHC1] == 50)
    var = 100 * 0.25 * 100 / 199  # Hypergeometric(200, 100, 100)
    assert _within(n_exp[:, IHC3].var(ddof=1), var, var * math.sqrt(2 / 20_000))
    assert _within(n_exp[:, IHC3].mean(), 50, math.sqrt(var / 20_000))
    # default strata = the per-category blocks
    per_cat = allocate_arms(np.random.default_rng(7), counts, (1, 1), 2)
    assert np.all(per_cat[..., 1][:, [IHC3, IHC2_ISH_POS, IHC1]] == 50)


# --- the chi-square test on a prognostic population ---------------------------------------------

# three equally common categories with very different response rates
RATES = {"IHC 3+": 0.7, "IHC 2+/ISH+": 0.4, "IHC 1+": 0.1}


def _binary_scenario(*, n_patients=600, allocation=None, randomisation=None, test="chi_square"):
    data = {
        "name": "prognostic strata", "design": "binary",
        "population": {"mix": dict.fromkeys(RATES, 1 / 3)},
        "arms": {"control": {"response": {k: {"probability": v} for k, v in RATES.items()}},
                 "experimental": {"response": {"all": {"risk_difference": 0.0}}}},
        "n_patients": n_patients, "analysis": {"test": test, "alpha": 0.025},
    }
    if allocation is not None:
        data["allocation"] = allocation
    if randomisation is not None:
        data["randomisation"] = randomisation
    return scenario_from_dict(data)


def _size_under_stratified_blocks(alpha: float) -> float:
    """P(reject) when the pooled variance overstates the within-stratum variance by total / within."""
    p = list(RATES.values())
    pbar = sum(p) / 3
    within = sum(x * (1 - x) for x in p) / 3
    return N01.cdf(-N01.inv_cdf(1 - alpha) * math.sqrt(pbar * (1 - pbar) / within))


@pytest.mark.mc
@pytest.mark.parametrize(
    "randomisation, conservative",
    [(None, True), ({"method": "simple"}, False), ({"strata": "none"}, False)],
    ids=["stratified_blocks", "simple", "strata_none"],
)
def test_chi_square_size_on_a_prognostic_population(randomisation, conservative) -> None:
    trials, alpha = 20_000, 0.025
    sc = _binary_scenario(randomisation=randomisation)
    out = TwoArmBinaryDesign().run(sc, n_sims=trials, seed=5, null=True)
    size = out.success.mean()
    expected = _size_under_stratified_blocks(alpha) if conservative else alpha
    se = math.sqrt(expected * (1 - expected) / trials)
    assert _within(size, expected, se), (size, expected, se)
    if conservative:
        assert expected == pytest.approx(0.0118, abs=1e-4)  # the 0.012
        assert size < alpha - 4 * math.sqrt(alpha * (1 - alpha) / trials)
    # the printed analytic figure is the size this randomisation gives
    assert out.analytic_power["normal_approximation"] == pytest.approx(expected, rel=1e-6)


# --- resolved files and the spec ------------------------------------------------------------------


@pytest.mark.parametrize("block", [{"method": "simple"}, {"strata": "by_group"}, {"strata": "none"},
                                   {"strata": {"positive": ["HER2-positive"], "rest": ["IHC 1+"]}}])
def test_resolved_scenario_reproduces_the_randomisation(block) -> None:
    sc = _binary_scenario(randomisation=block)
    resolved = sc.resolved
    assert resolved["randomisation"]["method"] == block.get("method", "permuted_blocks")
    assert ("block_multiple" in resolved) == (resolved["randomisation"]["method"] == "permuted_blocks")
    again = scenario_from_dict(yaml.safe_load(yaml.safe_dump(dict(resolved))))
    assert again == sc and again.resolved == resolved
    a = TwoArmBinaryDesign().run(sc, n_sims=500, seed=1)
    b = TwoArmBinaryDesign().run(again, n_sims=500, seed=1)
    np.testing.assert_array_equal(a.estimates["z"], b.estimates["z"])


def test_time_to_event_resolved_simple_run_repeats() -> None:
    data = _yaml("tki_ihc_stratified.yaml")
    data.pop("block_multiple", None)
    sc = scenario_from_dict({**data, "randomisation": {"method": "simple"}})
    assert sc.resolved["randomisation"] == {"method": "simple"} and "block_multiple" not in sc.resolved
    again = scenario_from_dict(sc.resolved)
    np.testing.assert_array_equal(simulate(build_spec(sc), 200, seed=2).stats,
                                  simulate(build_spec(again), 200, seed=2).stats)
    assert build_spec(again).randomisation == "simple"


def test_spec_refuses_bad_randomisation() -> None:
    pop = Population(mix={IHC3: 1.0})
    with pytest.raises(ValueError, match="randomisation must be one of permuted_blocks, simple"):
        _spec(pop, randomisation="coin")
    with pytest.raises(ValueError, match="randomization_strata"):
        _spec(pop, randomisation="simple", strata=dict.fromkeys(range(6), 0))


def test_loader_refuses_with_a_field_path() -> None:
    with pytest.raises(ScenarioError, match=r"randomisation\.strata"):
        _binary_scenario(randomisation={"method": "simple", "strata": "by_group"})
    with pytest.raises(ScenarioError, match=r"randomisation\.strata"):
        _binary_scenario(randomisation={"strata": {"positive": ["HER2-positive"]}})  # IHC 1+ left out


# --- bad input through the CLI ----------------------------------------------------------------------

SURVIVAL = """\
name: randomisation test
design: superiority
population:
  mix: {IHC 3+: 0.7, IHC 2+/ISH+: 0.3}
arms:
  control:
    survival:
      all: {median_months: 10}
  experimental:
    survival:
      all: {hazard_ratio: 0.7}
n_patients: 200
accrual: {duration_months: 20}
analysis: {test: logrank, target_events: 120}
simulation: {n_sims: 50, seed: 7}
"""
SIMON = (ROOT / "scenarios" / "simon_two_stage_orr.yaml").read_text()

BAD = {
    "simple_with_strata": (SURVIVAL + "randomisation: {method: simple, strata: by_group}\n",
                           ["randomisation.strata", "simple", "permuted_blocks"]),
    "unknown_method": (SURVIVAL + "randomisation: {method: minimisation}\n",
                       ["randomisation.method", "minimisation", "permuted_blocks", "simple"]),
    "unknown_field": (SURVIVAL + "randomisation: {method: simple, stratum: none}\n",
                      ["randomisation.stratum", "unknown field", "strata"]),
    "simple_with_block_multiple": (SURVIVAL + "block_multiple: 3\nrandomisation: {method: simple}\n",
                                   ["block_multiple", "randomisation.method simple"]),
    "bad_strata": (SURVIVAL + "randomisation: {strata: by_lab}\n", ["randomisation.strata", "by_lab"]),
    "not_a_mapping": (SURVIVAL + "randomisation: simple\n", ["randomisation", "method"]),
    "single_arm": (SIMON + "randomisation: {method: simple}\n", ["randomisation", "single-arm"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_randomisation_exit_2_names_the_field(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    for fragment in expected:
        assert fragment in result.output, (fragment, result.output)
    assert "Traceback" not in result.output


def test_good_randomisation_validates_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(SURVIVAL + "randomisation: {method: permuted_blocks, strata: none}\nblock_multiple: 3\n")
    runner = CliRunner()
    assert runner.invoke(main, ["validate", str(path)]).exit_code == 0
    result = runner.invoke(main, ["run", str(path), "--quiet", "--format", "json"])
    assert result.exit_code == 0, result.output
    sc = load_scenario(path)
    assert sc.randomisation_strata == dict.fromkeys(range(6), 0) and sc.block_multiple == 3
