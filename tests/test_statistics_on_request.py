"""Statistics as data, computed on request (``TrialSpec.statistics`` -> ``AnalysisArgs.requested``).

A trial computes only the statistics it is asked for; the fields of the others
are NaN, and the requested ones are bit for bit those of the all-statistics run.
The designs ask for their test's statistic plus what the report reads (Cox,
Kaplan-Meier).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from simtrial.designs._survival import (
    REPORT_STATISTICS,
    TEST_STATISTIC,
    build_spec,
    design_statistics,
)
from simtrial.engine import layout
from simtrial.engine import statistics_registry as R
from simtrial.errors import InvalidInput
from simtrial.her2 import IHC3
from simtrial.scenario import load_scenario
from simtrial.simulate import KernelArgs, check_kernel_args, simulate, to_kernel_args
from simtrial.spec import Accrual, Arm, Cut, Population, TrialSpec, dropout_hazard
from simtrial.spec.analysis import SURVIVAL_TESTS
from simtrial.spec.engine import STATISTIC_NAMES
from simtrial.survival import Exponential

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios" / "ihc3_deescalation_ni.yaml"
N_SIMS = 150


def _time_to_event_scenarios() -> list[Path]:
    out = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        sc = load_scenario(path)
        if sc.endpoint == "time_to_event" and sc.analysis.test in TEST_STATISTIC and sc.n_patients is not None:
            out.append(path)
    return out


SCENARIOS = _time_to_event_scenarios()


def _plain_spec() -> TrialSpec:
    """One category, no strata, no statistics chosen (the engine's default: all)."""
    control = Exponential(median_months=6.8)
    h = dropout_hazard(0.05, 12.0)
    return TrialSpec(
        population=Population(mix={IHC3: 1.0}),
        control=Arm("control", {IHC3: control}, h),
        experimental=Arm("experimental", {IHC3: control.with_hazard_ratio(0.7)}, h),
        n_patients=300, accrual=Accrual(duration_months=24.0), cuts=(Cut(120),), landmark_months=(12.0,),
    )


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.int64)


def _fields(spec: TrialSpec) -> np.ndarray:
    mask = R.requested_mask(spec.statistics)
    return np.array(R.requested_fields(mask, len(spec.landmark_months)), dtype=np.int64)


def _computed_flags(mask: int) -> int:
    """The flag bits a run with ``mask`` can set (the log-rank sums start Cox, so Cox sets logrank_undefined)."""
    bits = layout.CUT_RULE_FLAGS | layout.FLAG_ARM_WITHOUT_PATIENTS
    for s in R.STATISTICS.values():
        if mask & s.code:
            for f in s.flags:
                bits |= f
    if mask & R.STAT_COX:
        bits |= layout.FLAG_LOGRANK_UNDEFINED
    return bits


def _assert_subset_matches_all(spec: TrialSpec, seed: int = 11) -> None:
    # the non-proportional-hazards statistics a design asks for run in both: they are a second mask,
    # and their flags (e.g. rmst_tau_beyond_follow_up) are the same in both runs
    nph = tuple(s for s in spec.statistics if s in R.NPH_STATISTICS)
    full = simulate(replace(spec, statistics=STATISTIC_NAMES + nph), N_SIMS, seed)
    part = simulate(spec, N_SIMS, seed)
    keep = _fields(spec)
    # the NPH columns (layout.NPH_FIELDS, after the landmarks) exist only when one is asked for: equal in both
    n_base = full.stats.shape[-1] - (layout.N_NPH_FIELDS if nph else 0)
    np.testing.assert_array_equal(_bits(part.stats[..., n_base:]), _bits(full.stats[..., n_base:]))
    dropped = np.setdiff1d(np.arange(n_base), keep)
    np.testing.assert_array_equal(_bits(part.stats[..., keep]), _bits(full.stats[..., keep]))
    assert np.isnan(part.stats[..., dropped]).all()
    np.testing.assert_array_equal(part.cut_months, full.cut_months)
    np.testing.assert_array_equal(part.enrolled, full.enrolled)
    mask = R.requested_mask(spec.statistics)
    nph_flags = 0
    for name in nph:
        for f in R.NPH_STATISTICS[name].flags:
            nph_flags |= f
    np.testing.assert_array_equal(part.flags, full.flags & (_computed_flags(mask) | nph_flags))


def test_registry_codes_and_names() -> None:
    assert tuple(R.STATISTICS) == STATISTIC_NAMES
    assert R.ALL_STATISTICS == R.STAT_LOGRANK | R.STAT_FH | R.STAT_COX | R.STAT_STRATIFIED | R.STAT_KM
    assert R.requested_mask(STATISTIC_NAMES) == R.ALL_STATISTICS
    assert R.requested_fields(R.ALL_STATISTICS, 2) == tuple(range(layout.n_fields(2)))
    with pytest.raises(ValueError, match="unknown statistic"):
        R.requested_mask(["wilcoxon"])


def test_spec_statistics_default_all_and_validated() -> None:
    spec = build_spec(load_scenario(FLAGSHIP))
    assert replace(spec, statistics=STATISTIC_NAMES).statistics == STATISTIC_NAMES
    # order and repeats do not matter: stored in registry order
    assert replace(spec, statistics=("kaplan_meier", "cox", "cox")).statistics == ("cox", "kaplan_meier")
    with pytest.raises(InvalidInput, match="unknown"):
        replace(spec, statistics=("cox", "wilcoxon"))
    with pytest.raises(InvalidInput, match="sequence of names"):
        replace(spec, statistics="cox")
    assert _plain_spec().statistics == STATISTIC_NAMES
    assert to_kernel_args(_plain_spec()).analysis.requested == R.ALL_STATISTICS


def test_check_kernel_args_refuses_a_bad_mask() -> None:
    args = to_kernel_args(build_spec(load_scenario(FLAGSHIP)))
    for bad in (-1, R.ALL_STATISTICS + 1, 64):
        broken = KernelArgs(args.cohort, args.looks, args.analysis._replace(requested=bad), args.variants)
        with pytest.raises(ValueError, match="AnalysisArgs.requested"):
            check_kernel_args(broken)


def test_logrank_only_gives_nan_elsewhere_and_the_same_logrank() -> None:
    # stratified analysis (n_strata > 1) and subgroups: every branch of the kernel
    spec = replace(build_spec(load_scenario(ROOT / "scenarios" / "tki_ihc_stratified.yaml")), statistics=("logrank",))
    assert to_kernel_args(spec).analysis.n_strata > 1
    full = simulate(replace(spec, statistics=STATISTIC_NAMES), N_SIMS, 3)
    part = simulate(spec, N_SIMS, 3)
    same = [layout.EVENTS_CONTROL, layout.EVENTS_EXPERIMENTAL, layout.PATIENTS_CONTROL, layout.PATIENTS_EXPERIMENTAL,
            layout.LOGRANK_O_MINUS_E, layout.LOGRANK_INFORMATION, layout.LOGRANK_Z]
    np.testing.assert_array_equal(_bits(part.stats[..., same]), _bits(full.stats[..., same]))
    nan = [layout.LOG_HR, layout.LOG_HR_SE, layout.STRATIFIED_LOG_HR, layout.STRATIFIED_LOG_HR_SE,
           layout.STRATIFIED_LOGRANK_Z, layout.STRATIFIED_LOGRANK_INFORMATION, layout.FH_Z,
           layout.MEDIAN_CONTROL, layout.MEDIAN_EXPERIMENTAL, *range(layout.N_FIXED_FIELDS, part.stats.shape[-1])]
    assert np.isnan(part.stats[..., nan]).all()
    assert np.isfinite(full.stats[..., layout.LOG_HR]).any() and np.isfinite(full.stats[..., layout.STRATIFIED_LOG_HR]).any()


@pytest.mark.parametrize("mask", range(R.ALL_STATISTICS + 1))
def test_every_subset_matches_the_all_statistics_run(mask: int) -> None:
    """Each of the 32 requests, stratified (n_strata > 1) with Fleming-Harrington weights and landmarks."""
    base = build_spec(load_scenario(ROOT / "scenarios" / "tki_ihc_stratified.yaml"))
    names = tuple(n for n, s in R.STATISTICS.items() if mask & s.code)
    _assert_subset_matches_all(replace(base, statistics=names, fh_rho=0.5, fh_gamma=0.5, landmark_months=(6.0, 18.0)))


@pytest.mark.parametrize("mask", [R.STAT_STRATIFIED, R.STAT_FH, R.STAT_FH | R.STAT_KM, R.STAT_STRATIFIED | R.STAT_LOGRANK])
def test_unstratified_subsets_match(mask: int) -> None:
    """n_strata == 1: stratified fields are the pooled ones; FH with rho = gamma = 0 is the log-rank Z."""
    names = tuple(n for n, s in R.STATISTICS.items() if mask & s.code)
    spec = replace(_plain_spec(), statistics=names)
    assert to_kernel_args(spec).analysis.n_strata == 1
    _assert_subset_matches_all(spec)


@pytest.mark.parametrize("test", SURVIVAL_TESTS)
def test_build_spec_requests_its_test_plus_cox_and_kaplan_meier(test: str) -> None:
    sc = load_scenario(FLAGSHIP)
    analysis = replace(sc.analysis, test=test)
    spec = build_spec(replace(sc, analysis=analysis))
    expected = {TEST_STATISTIC[test], *REPORT_STATISTICS}
    assert set(spec.statistics) == expected == {TEST_STATISTIC[test], "cox", "kaplan_meier"}
    assert set(spec.statistics) == set(design_statistics(test))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_designs_request_their_test_and_match_the_all_statistics_run(path: Path) -> None:
    sc = load_scenario(path)
    spec = build_spec(sc)
    assert set(spec.statistics) == {TEST_STATISTIC[sc.analysis.test], "cox", "kaplan_meier"}
    _assert_subset_matches_all(spec)


def test_flagship_does_not_request_the_stratified_group() -> None:
    spec = build_spec(load_scenario(FLAGSHIP))
    assert "stratified" not in spec.statistics
    assert spec.statistics == ("cox", "kaplan_meier")
    assert not to_kernel_args(spec).analysis.requested & R.STAT_STRATIFIED
