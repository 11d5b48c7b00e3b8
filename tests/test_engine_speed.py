"""The fast paths of issue 14 compute what the plain code computes (never a timing: see benchmarks/).

- ``neg_log_inplace`` (fdlibm's log, vectorisable) is within one ulp of libm's;
- ``weibull_times`` (Weibull inversion without pow, plain doubles) is within its rounding bound
  (4 + 2 |a log E| + |log t|) 2**-53 of an 80-bit evaluation: ~1e-15 relative for the shipped shapes,
  5e-14 at worst (shape 0.2, E = 2**-60);
- ``fill_uniforms`` writes only its range and takes one draw of the trial's stream (its lanes: test_rng);
- the compact pair table draws the pair the full table's scan draws, for every uniform, and so
  does the engine's branch-free pass over it;
- populations holding the same patients (the flagship: everyone = assessed IHC 3+) are
  computed once and equal; populations that differ are not merged;
- the stage profiler run to the last stage is the engine, bit for bit;
- the radix sort of the follow-up times is a stable argsort (ties, infinities, crowded keys);
- sorting only the patients followed to the last cut gives every look the stream of the full sort;
- the arms made in bulk are permuted blocks (Fisher-Yates, draws step-major) or simple
  randomisation from one fill of uniforms; stratified permuted blocks made in bulk are the
  patient-by-patient walk, draw for draw;
- the branch-free patient codes under enrolment from the mix are the packed (pair, arm, event),
  and the all-Weibull outcome pass is the mixed pass, bit for bit;
- the branch-free compaction of the event calendar times keeps exactly the events, in patient
  order, and writes nothing past the patients; the fused pass also returns their range, and
  the cuts from that range are the cuts of ``look_cut_times`` (which finds it itself).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from simtrial.engine.cohort import PAIR_SHIFT, PAIR_STRIDE, _compact_pairs, _pair_draws
from simtrial.engine.cut import (
    event_calendar_times,
    event_calendar_times_and_range,
    look_cut_times,
    look_cut_times_in_range,
)
from simtrial.engine.driver import profile_block_range, simulate_block_range
from simtrial.engine.eventtime import event_time
from simtrial.engine.fastmath import neg_log_inplace, weibull_coefficients, weibull_times
from simtrial.engine.models import MODEL_WEIBULL
from simtrial.engine.records import MAX_MODELS, MAX_PAIRS
from simtrial.engine.rng import _scale_below, fill_uniforms, next_u64, seed_stream
from simtrial.engine.sort import RADIX_COUNTS, radix_cosort
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


def test_fill_uniforms_writes_its_range_and_takes_one_draw_of_the_stream():
    """Whatever the length, a fill advances the trial's stream by one ``next_u64`` (its lanes' key)."""
    for m in (0, 1, 16, 1000):
        a = np.empty(4, dtype=np.uint64)
        b = np.empty(4, dtype=np.uint64)
        seed_stream(a, 20260301, 7)
        seed_stream(b, 20260301, 7)
        out = np.full(m + 3, -1.0)
        fill_uniforms(a, out, 2, 2 + m)
        next_u64(b)
        np.testing.assert_array_equal(a, b)
        assert out[0] == out[1] == out[m + 2] == -1.0
        assert np.all((out[2:2 + m] > 0.0) & (out[2:2 + m] < 1.0))


def test_fill_uniforms_depends_on_the_offset_only_through_the_slice():
    a = np.empty(4, dtype=np.uint64)
    seed_stream(a, 5, 3)
    b = a.copy()
    x = np.empty(1000)
    y = np.empty(1037)
    fill_uniforms(a, x, 0, 1000)
    fill_uniforms(b, y, 37, 1037)
    np.testing.assert_array_equal(x, y[37:])


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
    # the engine's branch-free pass: the same pairs, and each pair's true category's p_event by arm
    us = us[(us > 0) & (us < 1)]
    m = us.size
    p_event = np.random.default_rng(4).random(2 * N_CATEGORIES)
    pair, p0, p1 = np.empty(m, dtype=np.int64), np.empty(m), np.empty(m)
    _pair_draws(us, cum, value, k, m, p_event, pair, p0, p1)
    want = np.array([_scan(pair_cum, u) for u in us])
    np.testing.assert_array_equal(pair, want)
    np.testing.assert_array_equal(p0, p_event[(want >> PAIR_SHIFT) * 2])
    np.testing.assert_array_equal(p1, p_event[(want >> PAIR_SHIFT) * 2 + 1])


def _weibull_reference(e, scale, hazard_ratio, shape):
    """scale * (E / h) ** (1 / shape) in 80-bit long double, from the same doubles (1 / shape rounded as the engine does)."""
    a = np.longdouble(1.0 / shape)
    return np.longdouble(scale) * np.power(np.asarray(e, dtype=np.longdouble) / np.longdouble(hazard_ratio), a)


def _weibull_fast(e, scale, hazard_ratio, shape):
    coef = np.zeros((1, 2))
    weibull_coefficients(scale, hazard_ratio, shape, coef[0])
    n = e.size
    out = np.full(n, np.nan)
    weibull_times(e, np.zeros(n, dtype=np.int64), coef, n, out, np.empty(n), np.empty(n))
    return out


def _weibull_bound(e, shape, want):
    """The plain-double pass's rounding bound, relative: log E's (< 1 ulp) times a, y's, and exp's ulps.

    (4 + 2 |a log E| + |y|) * 2**-53, y = log t (``simtrial.engine.fastmath``).
    """
    a = 1.0 / shape
    return (4.0 + 2.0 * np.abs(a * np.log(e)) + np.abs(np.log(want.astype(float)))) * 2.0**-53


_WEIBULL_MODELS = [  # (scale months, hazard ratio, shape): the flagship's, k = 1, and extremes of shape and scale
    (41.2, 1.3, 1.047), (1.0, 1.0, 1.0), (12.0, 0.7, 1.0), (0.01, 7.0, 0.2), (1e3, 0.05, 20.0), (28.8, 1.0, 0.5),
    (5.0, 2.5, 3.3),
]


@pytest.mark.parametrize("model", _WEIBULL_MODELS)
def test_weibull_times_within_their_rounding_bound_of_long_double(model):
    # plain doubles since the sixth speed round (a double-double pass held 1e-15 everywhere at ~2 ns
    # more a patient): the bound below is a few ulps for shapes near 1 and grows with |a log E|,
    # to 5e-14 relative at shape 0.2 and E = 2**-60, far below what any statistic can show
    rng = np.random.default_rng(140)
    # the Exp(1) draws of trials, E over 2**-60 .. 2**60, and the draws' extremes (E -> 0: u -> 1; E = 37.4: u = 2**-54)
    e = np.concatenate([
        rng.standard_exponential(50_000), 2.0 ** rng.uniform(-60.0, 60.0, 50_000),
        [-np.log1p(-(2.0**-53)), 2.0**-54, 1e-300, 1.0, 2.0, -np.log(2.0**-54), 1e300],
    ])
    got = _weibull_fast(e, *model)
    want = _weibull_reference(e, *model)
    normal = (want > np.finfo(float).tiny) & (want < np.finfo(float).max)
    rel = np.abs((got[normal].astype(np.longdouble) - want[normal]) / want[normal]).astype(float)
    bound = _weibull_bound(e[normal], model[2], want[normal])
    assert np.all(rel <= bound), (model, rel.max(), (rel / bound).max())
    # E in [2**-60, 2**60] (Exp(1) draws lie in [1.1e-16, 37.4]): 5e-14 at worst
    in_range = (e[normal] >= 2.0**-60) & (e[normal] <= 2.0**60)
    assert rel[in_range].max() <= 5e-14, (model, rel[in_range].max())
    # the trial's own draws (Exp(1)) at the shipped shapes (0.5 .. 3.3): a few ulps
    if 0.5 <= model[2] <= 3.3:
        draws = rel[: np.count_nonzero(normal[:50_000])]
        assert draws.max() <= 4e-15, (model, draws.max())
    # beyond the double range: +inf and 0 (with the exponent of a product, not garbage)
    assert np.all(got[want >= np.finfo(float).max] == np.inf)
    assert np.all(got[want == 0.0] == 0.0)


def test_weibull_times_k1_is_the_exponential_inverse():
    # shape 1: t = scale * E / h, within a few ulp (exp(log) is not the identity in floating point:
    # log E and y = log t are each rounded, 2**-53 |log E| + 2**-53 |y| <= 4e-15 for these draws)
    e = np.random.default_rng(6).standard_exponential(10_000)
    np.testing.assert_allclose(_weibull_fast(e, 6.8, 0.7, 1.0), 6.8 * e / 0.7, rtol=4e-15, atol=0.0)


def test_weibull_times_reads_each_patients_row():
    rng = np.random.default_rng(9)
    models = _WEIBULL_MODELS[:4]
    coef = np.zeros((len(models), 2))
    for j, m in enumerate(models):
        weibull_coefficients(*m, coef[j])
    n = 4001  # not a multiple of the vector width: the loop's tail too
    e = rng.standard_exponential(n)
    idx = rng.integers(0, len(models), n)
    out = np.empty(n)
    weibull_times(e, idx, coef, n, out, np.empty(n), np.empty(n))
    want = np.array([_weibull_reference(e[i : i + 1], *models[idx[i]])[0] for i in range(n)])
    shape = np.array([models[j][2] for j in idx])
    rel = np.abs((out.astype(np.longdouble) - want) / want).astype(float)
    assert np.all(rel <= _weibull_bound(e, shape, want))


def test_weibull_fast_path_is_the_event_time_formula():
    # the engine's pass against event_time (libm pow) on the same Exp(1) draws
    params = np.array([0.0, 1.3, 1.047, 41.2])
    e = np.random.default_rng(5).standard_exponential(2000)
    fast = _weibull_fast(e, params[3], params[1], params[2])
    slow = np.array([event_time(MODEL_WEIBULL, params, v) for v in e])
    np.testing.assert_allclose(fast, slow, rtol=2e-15)


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


def _radix_inputs():
    rng = np.random.default_rng(41)
    e = rng.standard_exponential(700) * 9.0
    crowded = 7.0 + rng.random(300) * 1e-9  # one 16-bit key: runs longer than the insertion bound
    return {
        "exponential": e,
        "truncated": e[e < 12.0],
        "ties": np.round(e, 0),  # ~60 distinct values: runs beyond the insertion bound
        "few_ties": np.repeat(e[:100], 3),
        "with_inf": np.where(rng.random(700) < 0.2, np.inf, e),
        "all_inf": np.full(40, np.inf),
        "zeros": np.r_[np.zeros(30), e[:50], np.zeros(5)],  # 35 equal keys
        "some_zeros": np.r_[np.zeros(10), e[:50], np.zeros(5)],
        "crowded": crowded,
        "crowded_with_spread": np.r_[crowded, e[:200], np.round(crowded, 4)],
        "tiny_and_huge": np.r_[e[:100] * 1e-12, e[100:200] * 1e12, 5e-324, 1.7e308],
        "one": np.array([3.0]),
        "two_equal": np.array([2.0, 2.0]),
        "empty": np.empty(0),
    }


@pytest.mark.parametrize("name", list(_radix_inputs()))
def test_radix_cosort_is_a_stable_argsort(name):
    keys = _radix_inputs()[name]
    n = keys.size
    payload = np.arange(n, dtype=np.int64) * 3 + 1
    sorted_keys = np.full(n, -1.0)
    sorted_payload = np.full(n, -1, dtype=np.int64)
    radix_cosort(keys, payload, n, sorted_keys, sorted_payload, np.empty(n, dtype=np.int64),
                 np.empty(RADIX_COUNTS, dtype=np.int64))
    order = np.argsort(keys, kind="stable")
    np.testing.assert_array_equal(sorted_keys, keys[order])
    if name.startswith("crowded") or name in ("ties", "zeros"):
        # runs beyond the insertion bound are quicksorted (unstable): each value keeps its own payload
        np.testing.assert_array_equal(keys[(sorted_payload - 1) // 3], sorted_keys)
    else:
        np.testing.assert_array_equal(sorted_payload, payload[order])


def test_radix_cosort_reads_only_its_range():
    keys = np.array([5.0, 1.0, 3.0, 0.5, 2.0])
    out = np.full(5, -1.0)
    pay = np.full(5, -1, dtype=np.int64)
    radix_cosort(keys, np.arange(5, dtype=np.int64), 3, out, pay, np.empty(5, dtype=np.int64),
                 np.empty(RADIX_COUNTS, dtype=np.int64))
    np.testing.assert_array_equal(out, [1.0, 3.0, 5.0, -1.0, -1.0])
    np.testing.assert_array_equal(pay, [1, 2, 0, -1, -1])


def test_sorting_only_those_followed_to_the_last_cut_gives_every_look_the_full_stream():
    from simtrial.engine.cut import analysis_stream, cut_stream, followed_to_cut, gather_sorted

    rng = np.random.default_rng(8)
    for _ in range(30):
        n = int(rng.integers(1, 300))
        entry = np.sort(rng.uniform(0, 24, n))
        x = np.where(rng.random(n) < 0.1, np.inf, rng.exponential(10, n))
        pcode = rng.integers(0, 24, n)
        cuts = np.sort(rng.uniform(0, 60, 3))
        if rng.random() < 0.2:
            cuts[-1] = np.inf
        keys = np.empty(n)
        index = np.empty(n, dtype=np.int64)
        k = followed_to_cut(entry, x, n, cuts[-1], keys, index)
        assert k == np.count_nonzero((entry < cuts[-1]) & (entry + x <= cuts[-1]))
        sx = np.empty(n)
        si = np.empty(n, dtype=np.int64)
        radix_cosort(keys, index, k, sx, si, np.empty(n, dtype=np.int64), np.empty(RADIX_COUNTS, dtype=np.int64))
        order = np.argsort(x, kind="stable")
        for cut in cuts:
            scratch = [np.empty(n + 2), np.empty(n + 2, dtype=np.int64), np.empty(n + 2), np.empty(n + 2, dtype=np.int64)]
            got_t = np.empty(n)
            got_c = np.empty(n, dtype=np.int64)
            se, sc = np.empty(n), np.empty(n, dtype=np.int64)
            gather_sorted(entry, pcode, si, k, se, sc)
            m = cut_stream(entry, x, pcode, sx, se, sc, k, n, cut, got_t, got_c, *scratch)
            want_t = np.empty(n)
            want_c = np.empty(n, dtype=np.int64)
            m_full = analysis_stream(entry, x, pcode, x[order].copy(), order.astype(np.int64), n, cut, want_t,
                                     want_c, *scratch)
            assert m == m_full
            np.testing.assert_array_equal(got_t[:m], want_t[:m])
            np.testing.assert_array_equal(got_c[:m], want_c[:m])


@pytest.mark.parametrize("template", [[0, 1], [0, 1, 0, 1], [1, 1, 0, 0, 0, 1], [0, 1] * 35])
@pytest.mark.parametrize("n", [1, 7, 100, 1001])
@pytest.mark.parametrize("p_simple", [-1.0, 0.3])
def test_bulk_arms_are_blocks_shuffled_from_one_fill_step_major(template, n, p_simple):
    from simtrial.engine.cohort import _bulk_arms

    template = np.array(template, dtype=np.int64)
    size = template.size
    a = np.empty(4, dtype=np.uint64)
    b = np.empty(4, dtype=np.uint64)
    seed_stream(a, 99, n)
    seed_stream(b, 99, n)
    arms = np.full(n, -1, dtype=np.int64)
    _bulk_arms(a, n, p_simple, template, np.empty((1, size), dtype=np.int64), np.empty(n + size),
               np.empty(n, dtype=np.int64), arms)
    n_blocks = -(-n // size)
    draws = np.empty(n if p_simple >= 0.0 else n_blocks * (size - 1))
    fill_uniforms(b, draws, 0, draws.size)
    want = []
    if p_simple >= 0.0:
        want = [int(u < p_simple) for u in draws]
    for g in range(n_blocks if p_simple < 0.0 else 0):
        # Fisher-Yates of the template, block g's draw of step s at s * n_blocks + g;
        # the last block whole (and used in part)
        perm = list(template)
        for s, j in enumerate(range(size - 1, 0, -1)):
            m = _scale_below(draws[s * n_blocks + g], j + 1)
            perm[j], perm[m] = perm[m], perm[j]
        want.extend(perm)
    want = want[:n]
    np.testing.assert_array_equal(arms, want)
    np.testing.assert_array_equal(a, b)  # one fill: one draw of the stream


@pytest.mark.parametrize("template", [[0, 1], [0, 1, 0, 1], [1, 1, 0, 0, 0, 1], [0, 1] * 31])
@pytest.mark.parametrize("n", [1, 7, 100, 1001])
@pytest.mark.parametrize("n_strata", [1, 2, 5])
def test_stratified_bulk_arms_are_the_patient_by_patient_walk(template, n, n_strata):
    """The four-pass stratified blocks against the walk they replace, drawing from the same stream."""
    from simtrial.engine.cohort import _stratified_bulk_arms
    from simtrial.engine.rng import randint

    template = np.array(template, dtype=np.int64)
    size = template.size
    # strata interleaved at random, one of them rare (a partial block in most strata)
    weight = np.ones(n_strata)
    weight[-1] = 0.1 if n_strata > 1 else 1.0
    rng = np.random.default_rng(n * 7 + n_strata)
    strata = rng.choice(n_strata, n, p=weight / weight.sum()).astype(np.int64)
    a = np.empty(4, dtype=np.uint64)
    b = np.empty(4, dtype=np.uint64)
    seed_stream(a, 31, n)
    seed_stream(b, 31, n)
    arms = strata.copy()
    _stratified_bulk_arms(a, n, template, np.empty(n_strata, dtype=np.int64), np.empty(n + n_strata * size),
                          np.empty(n, dtype=np.int64), arms)
    block = {}
    pos = {}
    want = []
    for s in strata:
        if pos.get(s, size) >= size:
            perm = list(template)
            for j in range(size - 1, 0, -1):
                m = randint(b, j + 1)
                perm[j], perm[m] = perm[m], perm[j]
            block[s], pos[s] = perm, 0
        want.append(block[s][pos[s]])
        pos[s] += 1
    np.testing.assert_array_equal(arms, want)
    np.testing.assert_array_equal(a, b)  # the walk's draws, no more and no fewer


@pytest.mark.parametrize("inv_drop", [(np.inf, np.inf), (1 / 0.004, 1 / 0.009)])
def test_weibull_outcomes_are_the_mixed_loops_when_every_model_is_a_weibull(inv_drop):
    """The all-Weibull pass against the mixed pass it stands in for, bit for bit (no dropout, dropout, cured)."""
    from simtrial.engine.cohort import _KIND_WEIBULL, _mixed_outcomes, _weibull_outcomes

    rng = np.random.default_rng(21)
    n = 1003
    true_category = rng.integers(0, 6, n)
    arms = rng.integers(0, 2, n)
    pcode = (rng.integers(0, 6, n) * 2 + arms) * 2
    weibull_t = rng.exponential(20.0, n)
    weibull_t[rng.random(n) < 0.03] = np.inf  # beyond the double range
    e2 = rng.standard_exponential(n)
    kinds = np.full(12, _KIND_WEIBULL)
    fast = np.zeros((12, 4))
    fast[0::2, 0], fast[1::2, 0] = inv_drop
    fast[:, 1] = 0.0  # never read for a Weibull model
    x0 = rng.standard_exponential(n)
    want_x, want_code = x0.copy(), pcode.copy()
    _mixed_outcomes(n, true_category, weibull_t, e2, kinds, fast, want_x, want_code)
    got_x, got_code = x0.copy(), pcode.copy()
    _weibull_outcomes(n, weibull_t, e2, fast[0, 0], fast[1, 0], got_x, got_code)
    np.testing.assert_array_equal(got_x, want_x)
    np.testing.assert_array_equal(got_code, want_code)
    assert 0 < (got_code & 1).sum() < n


def test_mix_codes_are_the_packed_pair_arm_and_event():
    from simtrial.engine.cohort import _mix_codes, _single_pair_codes

    rng = np.random.default_rng(8)
    n = 777
    values = np.array([4 * PAIR_STRIDE + 4, 4 * PAIR_STRIDE + 5, 5 * PAIR_STRIDE + 5], dtype=np.int64)
    pair = values[rng.integers(0, 3, n)]
    arms = rng.integers(0, 2, n)
    u2 = rng.random(n)
    p_event = rng.random(12)
    tc = pair >> PAIR_SHIFT
    want_code = ((pair % PAIR_STRIDE) * 2 + arms) * 2 + (u2 < p_event[tc * 2 + arms])
    true_category = np.full(n, -1)
    pcode = np.full(n, -1)
    drawn = _mix_codes(n, pair, arms, u2, p_event[tc * 2], p_event[tc * 2 + 1], true_category, pcode)
    np.testing.assert_array_equal(true_category, tc)
    np.testing.assert_array_equal(pcode, want_code)
    assert drawn == np.bitwise_or.reduce(np.int64(1) << tc)
    one = int(values[1])
    drawn = _single_pair_codes(n, one, arms, u2, p_event[(one >> PAIR_SHIFT) * 2], p_event[(one >> PAIR_SHIFT) * 2 + 1],
                               true_category, pcode)
    np.testing.assert_array_equal(true_category, np.full(n, one >> PAIR_SHIFT))
    np.testing.assert_array_equal(
        pcode, ((one % PAIR_STRIDE) * 2 + arms) * 2 + (u2 < p_event[(one >> PAIR_SHIFT) * 2 + arms])
    )
    assert drawn == 1 << (one >> PAIR_SHIFT)


@pytest.mark.parametrize("p_event", [0.0, 0.45, 1.0])
def test_event_calendar_times_are_the_events_in_patient_order(p_event):
    """Against numpy's boolean mask: entry + x of the patients whose status bit is set, in order."""
    rng = np.random.default_rng(14)
    n = 997
    entry = np.sort(rng.uniform(0.0, 24.0, n))
    x = rng.exponential(9.8, n)
    x[rng.random(n) < 0.05] = np.inf  # never an event nor a dropout: never an event row
    event = (rng.random(n) < p_event) & np.isfinite(x)
    pcode = (rng.integers(0, 12, n) << 1) | event.astype(np.int64)
    out = np.full(n + 3, -7.0)
    m = event_calendar_times(entry, x, pcode, n, out)
    want = entry[event] + x[event]
    assert m == event.sum()
    np.testing.assert_array_equal(out[:m], want)
    assert (out[n:] == -7.0).all()

    m2, lo, hi = event_calendar_times_and_range(entry, x, pcode, n, out)
    assert m2 == m
    np.testing.assert_array_equal(out[:m], want)
    if m:
        assert (lo, hi) == (want.min(), want.max())
    else:
        assert (lo, hi) == (np.inf, -np.inf)
    # the cuts from the fused range equal look_cut_times' own, flags included (event and calendar looks)
    targets = np.array([1, m // 3 + 1, m, m + 5, 0], dtype=np.int64)
    calendar = np.array([np.inf, 20.0, np.inf, 30.0, 18.0])
    got_cut, got_flags = np.empty(5), np.empty(5, dtype=np.int64)
    want_cut, want_flags = np.empty(5), np.empty(5, dtype=np.int64)
    counts, gathered = np.empty(n + 2, dtype=np.int64), np.empty(n)
    look_cut_times(out, m, targets, calendar, want_cut, want_flags, counts, gathered)
    look_cut_times_in_range(out, m, lo, hi, targets, calendar, got_cut, got_flags, counts, gathered)
    np.testing.assert_array_equal(got_cut, want_cut)
    np.testing.assert_array_equal(got_flags, want_flags)
    if m >= 1:
        assert want_cut[0] == want.min()  # the first event, independently


def test_one_stratum_exponential_cohort_is_the_numpy_formula():
    """The reference design's fused pass (one pair, plain exponential arms) against numpy, from its draws.

    The draws are replayed in the documented order (entry spacings, the last spacing,
    u1, u2, the bulk arms); numpy's libm log differs from the vectorised one by at
    most an ulp, so times are compared to a few ulps and codes exactly.
    """
    from simtrial.engine.cohort import _bulk_arms
    from simtrial.engine.rng import uniform
    from simtrial.engine.trial import generate_one_cohort

    args = to_kernel_args(reference_spec())
    c = args.cohort
    assert c.single_pair >= 0 and c.n_random_strata == 1 and c.fixed_assessed.size == 0
    n = c.n_patients
    true_cat, assessed = c.single_pair // PAIR_STRIDE, c.single_pair % PAIR_STRIDE
    for trial in range(5):
        entry, x, pcode, true_category = generate_one_cohort(123, trial, c)
        state = np.empty(4, dtype=np.uint64)
        seed_stream(state, 123, trial)
        spacing, u1, u2 = np.empty(n), np.empty(n), np.empty(n)
        fill_uniforms(state, spacing, 0, n)
        last = uniform(state)
        fill_uniforms(state, u1, 0, n)
        fill_uniforms(state, u2, 0, n)
        size = c.block_template.size
        arms = np.empty(n, dtype=np.int64)
        _bulk_arms(state, n, c.p_simple, c.block_template, np.empty((1, size), dtype=np.int64),
                   np.empty(n + size), np.empty(n, dtype=np.int64), arms)
        cum = np.cumsum(-np.log(spacing))
        u = cum / (cum[-1] - np.log(last))
        np.testing.assert_allclose(entry, np.interp(u, c.accrual_cum, c.accrual_breaks), rtol=1e-12)
        p_event = c.competing_p_event[true_cat, arms]
        want_x = -np.log(u1) * c.competing_inv_total[true_cat, arms]
        np.testing.assert_allclose(x, want_x, rtol=4e-16, atol=0)
        np.testing.assert_array_equal(pcode, (assessed * 2 + arms) * 2 + (u2 < p_event))
        np.testing.assert_array_equal(true_category, np.full(n, true_cat))
        assert 0 < arms.sum() < n and 0 < (pcode & 1).sum() < n
