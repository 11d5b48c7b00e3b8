"""The fast paths of issue 14 compute what the plain code computes (never a timing: see benchmarks/).

- ``neg_log_inplace`` (fdlibm's log, vectorisable) is within one ulp of libm's;
- ``fill_uniforms`` is the same stream as repeated ``uniform`` calls;
- the compact pair table draws the pair the full table's scan draws, for every uniform;
- populations holding the same patients (the flagship: everyone = assessed IHC 3+) are
  computed once and equal; populations that differ are not merged;
- the stage profiler run to the last stage is the engine, bit for bit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from simtrial.engine.cohort import PAIR_STRIDE, _compact_pairs
from simtrial.engine.driver import profile_block_range, simulate_block_range
from simtrial.engine.eventtime import event_time
from simtrial.engine.fastmath import neg_log_inplace
from simtrial.engine.models import MODEL_WEIBULL
from simtrial.engine.records import MAX_MODELS, MAX_PAIRS
from simtrial.engine.rng import fill_uniforms, seed_stream, uniform
from simtrial.engine.trial import ALL_STAGES, STAGES, same_population
from simtrial.her2 import N_CATEGORIES
from simtrial.simulate import TrialTask, to_kernel_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _reference_design import reference_spec  # noqa: E402

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def test_scratch_bounds_hold_every_category():
    assert N_CATEGORIES * PAIR_STRIDE <= MAX_PAIRS
    assert 2 * N_CATEGORIES <= MAX_MODELS


def test_neg_log_within_one_ulp_of_libm():
    rng = np.random.default_rng(14)
    edges = [2.0**-54, 2.0**-53, 1.0 - 2.0**-53, 0.5, 1.0, 2.0, 0.7071067811865475, 0.7071067811865476,
             1.4142135623730951, 1e-300, 1e300, 37.0]
    x = np.concatenate([rng.random(100_000), rng.standard_exponential(100_000), edges])
    got = x.copy()
    neg_log_inplace(got, 0, got.size)
    want = -np.log(x)
    ulp = np.spacing(np.abs(want))
    assert np.all(np.abs(got - want) <= ulp), np.max(np.abs(got - want) / ulp)
    assert got[x == 1.0][0] == 0.0


def test_neg_log_touches_only_its_range():
    x = np.array([0.25, 0.5, 0.75, 0.125])
    neg_log_inplace(x, 1, 3)
    np.testing.assert_array_equal(x[[0, 3]], [0.25, 0.125])
    np.testing.assert_allclose(x[1:3], -np.log([0.5, 0.75]), rtol=3e-16)


def test_fill_uniforms_is_the_uniform_stream():
    a = np.empty(4, dtype=np.uint64)
    b = np.empty(4, dtype=np.uint64)
    seed_stream(a, 20260301, 7)
    seed_stream(b, 20260301, 7)
    out = np.full(1003, -1.0)
    fill_uniforms(a, out, 2, 1002)
    want = np.array([uniform(b) for _ in range(1000)])
    np.testing.assert_array_equal(out[2:1002], want)
    assert out[0] == out[1] == out[1002] == -1.0
    np.testing.assert_array_equal(a, b)  # the state continues where the calls leave it


def _scan(pair_cum, u):
    j = 0
    while j < pair_cum.shape[0] - 1 and pair_cum[j] <= u:
        j += 1
    return j


@pytest.mark.parametrize("name", ["ihc3_deescalation_ni", "tdxd_her2_spectrum", "db04_replay"])
def test_compact_pairs_draw_the_pair_the_full_scan_draws(name):
    from simtrial.designs._survival import build_spec
    from simtrial.designs.time_to_event import TIME_TO_EVENT_DESIGNS
    from simtrial.scenario import load_scenario

    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    spec = build_spec(sc, experimental=TIME_TO_EVENT_DESIGNS[sc.design].experimental_arm(sc, False))
    pair_cum = to_kernel_args(spec).cohort.pair_cum
    value = np.empty(MAX_PAIRS, dtype=np.int64)
    cum = np.empty(MAX_PAIRS)
    k = _compact_pairs(pair_cum, value, cum)
    assert k == np.count_nonzero(np.diff(np.r_[0.0, pair_cum]) > 0)
    rng = np.random.default_rng(3)
    # random uniforms and every cumulative boundary, with its neighbours
    us = np.concatenate([rng.random(20_000), pair_cum, np.nextafter(pair_cum, 0), [2.0**-54, 1 - 2.0**-53]])
    for u in us[(us > 0) & (us < 1)]:
        j = 0
        while j < k - 1 and cum[j] <= u:
            j += 1
        assert value[j] == _scan(pair_cum, u), u


def test_weibull_fast_path_is_the_event_time_formula():
    # pass 3's closed form scale * (E / h) ** (1 / shape) against event_time on the same Exp(1) draws
    params = np.array([0.0, 1.3, 1.047, 41.2])
    e = np.random.default_rng(5).standard_exponential(2000)
    fast = params[3] * (e * (1.0 / params[1])) ** (1.0 / params[2])
    slow = np.array([event_time(MODEL_WEIBULL, params, v) for v in e])
    np.testing.assert_allclose(fast, slow, rtol=1e-14)


def _spec(name):
    from simtrial.designs._survival import build_spec
    from simtrial.designs.time_to_event import TIME_TO_EVENT_DESIGNS
    from simtrial.scenario import load_scenario

    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    plan = sc.analysis.sequential
    return build_spec(
        sc, experimental=TIME_TO_EVENT_DESIGNS[sc.design].experimental_arm(sc, False),
        look_fractions=plan.information_fractions if plan else None,
    )


def test_same_population_merges_only_populations_with_the_same_patients():
    flagship = to_kernel_args(_spec("ihc3_deescalation_ni"))
    assert flagship.analysis.code_in_pop.shape[0] == 2  # everyone, and the primary IHC 3+ population
    assert same_population(flagship.cohort, flagship.analysis.code_in_pop, 1) == 0
    db04 = to_kernel_args(_spec("db04_replay"))  # subgroups IHC 1+ and IHC 2+/ISH-: all different
    for p in range(db04.analysis.code_in_pop.shape[0]):
        assert same_population(db04.cohort, db04.analysis.code_in_pop, p) == -1


def _run(args, n, profile_stage=None):
    task = TrialTask(11, args)
    rows = task.empty_rows(n)
    variants = args.variant_table()
    tv = np.zeros(n, dtype=np.int64)
    a = args
    common = (a.cohort, variants, tv, a.looks, a.analysis, rows.stats, rows.cut_months, rows.enrolled, rows.flags)
    if profile_stage is None:
        simulate_block_range(11, 5, n, *common)
    else:
        profile_block_range(11, 5, n, *common, profile_stage)
    return rows


@pytest.mark.parametrize("name", ["reference", "ihc3_deescalation_ni", "ihc3_deescalation_ni_gs", "tdxd_her2_spectrum"])
def test_profiler_to_the_last_stage_is_the_engine(name):
    args = to_kernel_args(reference_spec() if name == "reference" else _spec(name))
    assert STAGES[ALL_STAGES] == "statistics"
    a = _run(args, 70)
    b = _run(args, 70, ALL_STAGES)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_flagship_everyone_equals_its_primary_population():
    args = to_kernel_args(_spec("ihc3_deescalation_ni"))
    rows = _run(args, 40)
    np.testing.assert_array_equal(rows.stats[:, :, 0], rows.stats[:, :, 1])
    np.testing.assert_array_equal(rows.flags[:, :, 0], rows.flags[:, :, 1])
