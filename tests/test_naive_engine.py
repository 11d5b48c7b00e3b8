"""Engine kernels against their slow, obvious twins in ``tests/naive.py``.

Hand-made, tie-heavy inputs (all tied, one arm empty, all censored, no events
in one arm, a single patient, many strata with empty arms) and seeded random
ones.  The twins share no code with the engine, so agreement to 1e-10 means
both compute the textbook definitions.
"""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest

from simtrial.engine import layout as L
from simtrial.engine.analyze import analyze_two_arm
from simtrial.engine.cohort import pack_code
from simtrial.engine.cut import (
    analysis_stream,
    count_enrolled,
    event_calendar_times,
    look_cut_times,
)
from simtrial.engine.sort import bucket_argsort, cosort, kth_smallest
from simtrial.simulate import patient_data, simulate
from simtrial.spec import Accrual, Arm, Cut, Population, Subgroup, TrialSpec, dropout_hazard
from simtrial.survival import CureMixture, Exponential, Weibull

TOL = 1e-10


def assert_stats_equal(got: dict, want: dict, tol: float = TOL, context: str = "") -> None:
    """Every key of ``want`` matches ``got``: NaN with NaN, inf with inf, else to ``tol`` (relative above 1)."""
    for key, w in want.items():
        g = got[key]
        where = f"{context} {key}: engine {g!r}, naive {w!r}"
        if isinstance(w, float) and math.isnan(w):
            assert math.isnan(g), where
        elif math.isinf(w):
            assert g == w, where
        else:
            assert not math.isnan(g), where
            assert abs(g - w) <= tol * max(1.0, abs(w)), where


def run_both(time, event, arm, stratum=None, rho=0.0, gamma=0.0, landmarks=()):
    got = analyze_two_arm(
        time, event, arm, None if stratum is None else np.asarray(stratum, dtype=np.int64),
        fh_rho=rho, fh_gamma=gamma, landmark_months=landmarks,
    )
    want = naive.analyze(
        [float(t) for t in time], [int(e) for e in event], [int(a) for a in arm],
        None if stratum is None else [int(s) for s in stratum], rho, gamma, sorted(landmarks),
    )
    return got, want


# ------------------------------------------------------------ hand-made data

HAND_MADE = {
    # name: (time, event, arm, stratum)
    "all_tied": ([3.0] * 8, [1, 1, 0, 1, 1, 1, 0, 1], [0, 0, 0, 0, 1, 1, 1, 1], None),
    "all_tied_all_events": ([1.0] * 6, [1] * 6, [0, 1, 0, 1, 0, 1], None),
    "two_tie_groups": ([2.0, 2.0, 2.0, 5.0, 5.0, 5.0, 2.0, 5.0], [1, 0, 1, 1, 1, 0, 1, 1], [0, 1, 1, 0, 1, 0, 0, 1], None),
    "events_and_censoring_tied": ([1, 1, 2, 2, 2, 3, 3, 4, 4, 4], [1, 0, 1, 0, 1, 1, 0, 0, 1, 1], [0, 1, 1, 0, 0, 1, 0, 1, 0, 1], None),
    "one_arm_empty": ([1.0, 2.0, 2.0, 4.0], [1, 1, 0, 1], [0, 0, 0, 0], None),
    "all_censored": ([1.0, 2.0, 3.0, 3.0, 5.0], [0, 0, 0, 0, 0], [0, 1, 0, 1, 1], None),
    "no_events_in_experimental": ([1.0, 2.0, 2.0, 3.0, 4.0, 6.0], [1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1], None),
    "no_events_in_control": ([1.0, 1.0, 2.0, 3.0, 5.0], [0, 1, 1, 0, 1], [0, 1, 1, 0, 1], None),
    "single_patient": ([2.5], [1], [1], None),
    "single_patient_censored": ([2.5], [0], [0], None),
    "no_patients": ([], [], [], None),
    "median_exactly_half": ([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 0], [0, 0, 1, 1], None),
    "many_strata_with_empty_arms": (
        [1, 2, 2, 3, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9],
        [1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0],
        [0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1],
        # strata 0 and 1: one arm only; 2: no events; 4: unused; 5 mixed
        [0, 0, 0, 1, 1, 1, 2, 5, 5, 2, 3, 3, 5, 5],
    ),
    "strata_each_one_arm": ([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 1, 1], [0, 1, 0, 1, 0, 1], [0, 1, 0, 1, 0, 1]),
    # control events all before the experimental ones: monotone likelihood, Cox MLE at -inf
    "monotone_likelihood": ([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1], None),
}


@pytest.mark.parametrize("name", list(HAND_MADE))
@pytest.mark.parametrize("weights", [(0.0, 0.0), (1.0, 0.0), (0.5, 2.0)])
def test_hand_made_inputs_equal_naive(name, weights):
    time, event, arm, stratum = HAND_MADE[name]
    got, want = run_both(time, event, arm, stratum, *weights, landmarks=(0.5, 2.0, 3.0, 100.0))
    assert_stats_equal(got, want, context=name)


def test_hand_made_flags():
    def flags(name):
        time, event, arm, stratum = HAND_MADE[name]
        return analyze_two_arm(time, event, arm, None if stratum is None else np.asarray(stratum))["flags"]

    assert flags("all_tied") == 0
    assert flags("one_arm_empty") == (
        L.FLAG_ARM_WITHOUT_PATIENTS | L.FLAG_LOGRANK_UNDEFINED | L.FLAG_COX_NOT_ESTIMABLE
        | L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE | L.FLAG_STRATIFIED_LOGRANK_UNDEFINED
    )
    assert flags("all_censored") == (
        L.FLAG_LOGRANK_UNDEFINED | L.FLAG_COX_NOT_ESTIMABLE
        | L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE | L.FLAG_STRATIFIED_LOGRANK_UNDEFINED
    )
    # log-rank defined, Cox MLE at infinity: NaN + flag
    for name in ("no_events_in_experimental", "no_events_in_control"):
        assert flags(name) == L.FLAG_COX_NOT_ESTIMABLE | L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE, name
    assert flags("many_strata_with_empty_arms") == 0
    assert flags("monotone_likelihood") == L.FLAG_COX_NOT_ESTIMABLE | L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE
    # every stratum holds one arm: pooled statistics exist, stratified ones do not
    assert flags("strata_each_one_arm") == L.FLAG_STRATIFIED_LOGRANK_UNDEFINED | L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE


def test_hand_made_values_by_hand():
    """A few numbers worked out on paper, so the twins are not only checked against each other."""
    # two patients per arm, all events at t = 1: n = 4, d = 3, n1 = 2 -> E1 = 1.5,
    # V = 3 * 1 * 2 * 2 / (16 * 3) = 0.25; O1 = 2 -> Z = 0.5 / 0.5 = 1
    r = analyze_two_arm([1, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 1])
    assert r["logrank_o_minus_e"] == pytest.approx(0.5, abs=1e-14)
    assert r["logrank_information"] == pytest.approx(0.25, abs=1e-14)
    assert r["logrank_z"] == pytest.approx(1.0, abs=1e-14)
    # Efron, one tie group of 3 deaths (1 control, 2 experimental) among 4 at risk, theta = e^b:
    # score = 2 - sum_{l=0..2} (2 theta - l/3 * 2 theta) / (2 + 2 theta - l/3 (1 + 2 theta)) = 0
    b = r["log_hr"]
    theta = math.exp(b)
    score = 2 - sum((2 * theta - q / 3 * 2 * theta) / (2 + 2 * theta - q / 3 * (1 + 2 * theta)) for q in range(3))
    assert abs(score) < 1e-12


def test_median_reached_at_exactly_one_half():
    # control: 2 patients, one event at 1 -> S(1) = 0.5 -> median 1; experimental: S(3) = 0.5 -> 3
    r = analyze_two_arm([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 0], [0, 0, 1, 1], landmark_months=(0.5, 1.0, 3.5))
    assert r["median_control_months"] == 1.0
    assert r["median_experimental_months"] == 3.0
    assert r["survival_control_at_0.5_months"] == 1.0
    assert r["survival_control_at_1_months"] == 0.5  # right-continuous: includes the event at 1
    assert r["survival_experimental_at_3.5_months"] == 0.5


# ------------------------------------------------------------ random data


def _random_data(rng, n_max=80):
    n = int(rng.integers(1, n_max))
    step = rng.choice([0.25, 1.0, 3.0])
    arm = rng.integers(0, 2, n)
    t = rng.exponential(8.0, n) * np.where(arm == 1, rng.uniform(0.5, 1.5), 1.0)
    time = np.ceil(t / step) * step
    event = (rng.uniform(size=n) < rng.uniform(0.3, 1.0)).astype(np.int64)
    n_strata = int(rng.integers(1, 5))
    stratum = rng.integers(0, n_strata, n)
    return time, event, arm, stratum


@pytest.mark.parametrize("case", range(30))
def test_random_tied_data_equal_naive(case):
    rng = np.random.default_rng(1000 + case)
    time, event, arm, stratum = _random_data(rng)
    rho, gamma = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (2.0, 0.5)][case % 5]
    landmarks = tuple(sorted(rng.choice([1.0, 3.0, 6.0, 12.0, 24.0], 3, replace=False)))
    got, want = run_both(time, event, arm, stratum, rho, gamma, landmarks)
    assert_stats_equal(got, want, context=f"case {case}")


# ------------------------------------------------------------ sort kernels


def _sort_inputs():
    rng = np.random.default_rng(7)
    yield "empty", np.zeros(0)
    yield "one", np.array([3.0])
    yield "two_reversed", np.array([2.0, 1.0])
    yield "all_equal", np.full(200, 4.0)
    yield "all_inf", np.full(50, np.inf)
    yield "zeros_and_inf", rng.choice([0.0, np.inf], 300)
    yield "heavy_ties", rng.integers(0, 5, 500).astype(float)
    yield "ties_and_inf", np.where(rng.uniform(size=400) < 0.3, np.inf, rng.integers(0, 20, 400).astype(float))
    yield "exponential", rng.exponential(6.0, 1000)
    yield "exponential_with_cured", np.where(rng.uniform(size=1000) < 0.2, np.inf, rng.exponential(6.0, 1000))
    yield "sorted", np.arange(300.0)
    yield "reverse_sorted", np.arange(300.0)[::-1].copy()
    yield "organ_pipe", np.concatenate([np.arange(150.0), np.arange(150.0)[::-1]])
    # skewed: one huge value makes every other value land in the first bucket (quicksort path)
    yield "skewed", np.concatenate([rng.uniform(0, 1e-3, 300), [1e9]])
    yield "tiny_and_huge", np.concatenate([rng.uniform(0, 1, 100), rng.uniform(1e6, 1e7, 100), [np.inf] * 3])


SORT_INPUTS = dict(_sort_inputs())


@pytest.mark.parametrize("name", list(SORT_INPUTS))
def test_cosort_equals_np_sort(name):
    x = SORT_INPUTS[name]
    keys = x.copy()
    payload = np.arange(x.size, dtype=np.int64)
    cosort(keys, payload, x.size)
    np.testing.assert_array_equal(keys, np.sort(x))
    np.testing.assert_array_equal(np.sort(payload), np.arange(x.size))  # a permutation
    np.testing.assert_array_equal(x[payload], keys)  # payload moved with its key


def test_cosort_sorts_only_the_prefix():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 9, 100).astype(float)
    keys = x.copy()
    payload = np.arange(100, dtype=np.int64)
    cosort(keys, payload, 60)
    np.testing.assert_array_equal(keys[:60], np.sort(x[:60]))
    np.testing.assert_array_equal(keys[60:], x[60:])
    np.testing.assert_array_equal(payload[60:], np.arange(60, 100))


@pytest.mark.parametrize("name", [k for k, v in SORT_INPUTS.items() if v.size > 0])
def test_kth_smallest_equals_sorted(name):
    x = SORT_INPUTS[name]
    want = np.sort(x)
    for k in sorted({1, min(2, x.size), x.size // 3 + 1, x.size // 2 + 1, x.size}):
        values = x.copy()
        assert kth_smallest(values, x.size, k) == want[k - 1], (name, k)
        np.testing.assert_array_equal(np.sort(values), want)  # reordered, not changed


@pytest.mark.parametrize("name", list(SORT_INPUTS))
def test_bucket_argsort_equals_argsort(name):
    x = SORT_INPUTS[name]
    n = x.size
    sorted_x = np.empty(n)
    sorted_idx = np.empty(n, dtype=np.int64)
    bucket_argsort(x, n, sorted_x, sorted_idx, np.empty(n, dtype=np.int64), np.empty(n + 2, dtype=np.int64))
    np.testing.assert_array_equal(sorted_x, np.sort(x))
    np.testing.assert_array_equal(np.sort(sorted_idx), np.arange(n))
    np.testing.assert_array_equal(x[sorted_idx], sorted_x)
    # same as a stable argsort up to the order inside tie groups
    np.testing.assert_array_equal(x[np.argsort(x, kind="stable")], sorted_x)


# ------------------------------------------------------------ cut kernels


def _stream(entry, x, event, arm, cut, stratum=None):
    """Run the engine's cut kernels on per-patient arrays; returns (enrolled, sorted (time, code) pairs)."""
    n = entry.size
    cat = np.zeros(n, dtype=np.int64) if stratum is None else np.asarray(stratum, dtype=np.int64)
    pcode = np.array([pack_code(cat[i], arm[i], event[i]) for i in range(n)], dtype=np.int64)
    order = np.argsort(x, kind="stable")
    stream_time = np.empty(n)
    stream_code = np.empty(n, dtype=np.int64)
    m = analysis_stream(
        entry, x, pcode, x[order].copy(), order.astype(np.int64), n, cut, stream_time, stream_code,
        np.empty(n + 2), np.empty(n + 2, dtype=np.int64), np.empty(n + 2), np.empty(n + 2, dtype=np.int64),
    )
    assert all(stream_time[j] <= stream_time[j + 1] for j in range(m - 1)), "the stream must ascend in time"
    return m, sorted(zip(stream_time[:m].tolist(), stream_code[:m].tolist(), strict=True))


def _naive_stream(entry, x, event, arm, cut, stratum=None):
    t, e, a, s = naive.cut_data(entry.tolist(), x.tolist(), event.tolist(), arm.tolist(), cut, stratum)
    return len(t), sorted((t[i], (s[i] * 2 + a[i]) * 2 + e[i]) for i in range(len(t)))


def _look_cuts(entry, x, event, targets, calendars):
    n = entry.size
    pcode = event.astype(np.int64)  # only the event bit is read
    calendar = np.empty(n)
    n_events = event_calendar_times(entry, x, pcode, n, calendar)
    out_cut = np.empty(len(targets))
    out_flags = np.empty(len(targets), dtype=np.int64)
    look_cut_times(
        calendar, n_events, np.asarray(targets, dtype=np.int64), np.asarray(calendars, dtype=np.float64),
        out_cut, out_flags, np.empty(n + 2, dtype=np.int64), np.empty(n),  # histogram scratch
    )
    return n_events, out_cut, out_flags


HAND_ENTRY = np.array([0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 4.0])
HAND_X = np.array([2.0, 1.0, 1.0, np.inf, 0.5, 3.0, 0.0])
HAND_EVENT = np.array([1, 1, 1, 0, 1, 0, 1])
HAND_ARM = np.array([0, 1, 0, 1, 1, 0, 1])
# event calendar times: 2, 1, 2, 3.5, 4 -> sorted 1, 2, 2, 3.5, 4 (a tie at 2)


def test_event_calendar_times_by_hand():
    calendar = np.empty(7)
    m = event_calendar_times(HAND_ENTRY, HAND_X, HAND_EVENT.astype(np.int64), 7, calendar)
    assert m == 5
    assert sorted(calendar[:m]) == naive.event_calendar_times(HAND_ENTRY, HAND_X, HAND_EVENT) == [1, 2, 2, 3.5, 4]


@pytest.mark.parametrize(
    "target, calendar, cut, reached",
    [
        (1, None, 1.0, True),
        (2, None, 2.0, True),
        (3, None, 2.0, True),  # tied events: the 3rd event is at 2 too
        (5, None, 4.0, True),
        (6, None, 4.0, False),  # never reached, no calendar time: the last event
        (None, 3.0, 3.0, True),
        (4, 3.0, 3.0, True),  # calendar first
        (2, 3.0, 2.0, True),  # event first
        (6, 3.0, 3.0, False),  # never reached: the calendar time (it comes first)
        (6, 10.0, 10.0, False),  # never reached, calendar after the last event: still the calendar time
    ],
)
def test_look_cut_times_by_hand(target, calendar, cut, reached):
    want_cut, want_reached = naive.cut_time(HAND_ENTRY, HAND_X, HAND_EVENT, target, calendar)
    assert (want_cut, want_reached) == (cut, reached)
    _, got_cut, got_flags = _look_cuts(
        HAND_ENTRY, HAND_X, HAND_EVENT, [target or 0], [math.inf if calendar is None else calendar]
    )
    assert got_cut[0] == cut
    assert bool(got_flags[0] & L.FLAG_TARGET_EVENTS_NOT_REACHED) == (not reached)


def test_look_cut_times_several_looks_reuse_the_partition():
    rng = np.random.default_rng(11)
    n = 500
    entry = np.sort(rng.uniform(0, 24, n))
    x = rng.exponential(10, n)
    event = (rng.uniform(size=n) < 0.8).astype(np.int64)
    targets = [0, 1, 50, 50, 120, 121, 300, 0, 10**6]
    calendars = [12.0, math.inf, math.inf, 5.0, math.inf, 30.0, math.inf, 40.0, 33.0]
    n_events, cuts, flags = _look_cuts(entry, x, event, targets, calendars)
    for look, (k, c) in enumerate(zip(targets, calendars, strict=True)):
        want, reached = naive.cut_time(entry, x, event, k or None, None if math.isinf(c) else c)
        assert cuts[look] == want, look
        assert bool(flags[look] & L.FLAG_TARGET_EVENTS_NOT_REACHED) == (not reached), look


def test_look_cut_without_any_event():
    entry = np.array([0.0, 1.0])
    x = np.array([5.0, 5.0])
    event = np.array([0, 0])
    n_events, cuts, flags = _look_cuts(entry, x, event, [3, 3], [math.inf, 7.0])
    assert n_events == 0
    assert list(cuts) == [naive.cut_time(entry, x, event, 3)[0], 7.0] == [0.0, 7.0]
    assert all(flags & L.FLAG_TARGET_EVENTS_NOT_REACHED)


@pytest.mark.parametrize("cut", [0.0, 0.5, 1.0, 2.0, 3.0, 3.5, 4.0, 4.5, 100.0])
def test_analysis_stream_by_hand(cut):
    got = _stream(HAND_ENTRY, HAND_X, HAND_EVENT, HAND_ARM, cut)
    assert got == _naive_stream(HAND_ENTRY, HAND_X, HAND_EVENT, HAND_ARM, cut)
    assert got[0] == count_enrolled(HAND_ENTRY, 7, cut) == sum(1 for e in HAND_ENTRY if e < cut)


def test_analysis_stream_random_tied_entries():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(1, 120))
        entry = np.sort(np.round(rng.uniform(0, 12, n)))  # tied entry times
        x = np.where(rng.uniform(size=n) < 0.1, np.inf, np.round(rng.exponential(6, n), 1))
        event = (np.isfinite(x) & (rng.uniform(size=n) < 0.7)).astype(np.int64)
        arm = rng.integers(0, 2, n)
        stratum = rng.integers(0, 6, n)
        for cut in (0.0, float(entry[n // 2]), float(np.round(rng.uniform(1, 30))), math.inf):
            assert _stream(entry, x, event, arm, cut, stratum) == _naive_stream(entry, x, event, arm, cut, stratum)


# ------------------------------------------------- simulated trials end to end


def _spec(**over):
    ctrl = {1: Exponential(median_months=8.0), 3: Weibull(1.4, 10.0), 5: CureMixture(0.2, Exponential(median_months=6.0))}
    expt = {k: m.with_hazard_ratio(0.7) for k, m in ctrl.items()}
    h = dropout_hazard(0.1, 12)
    kw = dict(
        population=Population(mix={1: 0.3, 3: 0.3, 5: 0.4}),
        control=Arm("control", ctrl, h),
        experimental=Arm("experimental", expt, h),
        n_patients=150,
        accrual=Accrual(duration_months=12),
        cuts=(Cut(calendar_months=6.0), Cut(target_events=40), Cut(60, calendar_months=14.0), Cut(140, calendar_months=40.0),
              Cut(145, calendar_months=200.0)),  # 145 events never come: cut at 200 months
        subgroups=(Subgroup("ihc3", (5,)),),
        fh_rho=1.0,
        fh_gamma=0.5,
        landmark_months=(3.0, 6.0),
    )
    kw.update(over)
    return TrialSpec(**kw)


def test_simulated_trials_equal_naive_cut_and_analysis():
    """simulate() vs patient_data() -> naive cut -> statistics of the cut data.

    The statistics of the cut data come from ``analyze_two_arm``, which the
    tests above tie to the naive formulas; here the point is the cut, the
    stream and the population/stratum bookkeeping of a simulated trial.
    """
    spec = _spec()
    seed = 2024
    result = simulate(spec, 4, seed)
    for trial in range(4):
        pts = patient_data(spec, seed, trial)
        entry = pts["entry_months"].to_numpy()
        x = pts["time_to_event_or_dropout_months"].to_numpy()
        event = pts["event"].to_numpy().astype(int)
        arm = pts["arm"].to_numpy().astype(int)
        cat = pts["assessed_category"].cat.codes.to_numpy().astype(int)
        for look, c in enumerate(spec.cuts):
            cut, reached = naive.cut_time(entry, x, event, c.target_events, c.calendar_months)
            assert result.cut_months[trial, look] == cut
            assert bool(result.flags[trial, look, 0] & L.FLAG_TARGET_EVENTS_NOT_REACHED) == (not reached)
            t, e, a, s = naive.cut_data(entry.tolist(), x.tolist(), event.tolist(), arm.tolist(), cut, cat.tolist())
            assert result.enrolled[trial, look] == len(t)
            for p, keep_cats in enumerate([None, (5,)]):
                keep = [i for i in range(len(t)) if keep_cats is None or s[i] in keep_cats]
                want = analyze_two_arm(
                    [t[i] for i in keep], [e[i] for i in keep], [a[i] for i in keep],
                    np.array([s[i] for i in keep], dtype=np.int64),
                    fh_rho=1.0, fh_gamma=0.5, landmark_months=(3.0, 6.0),
                )
                got = dict(zip(result.fields, result.stats[trial, look, p].tolist(), strict=True))
                assert_stats_equal(got, {k: v for k, v in want.items() if k != "flags"}, tol=1e-12,
                                   context=f"trial {trial} look {look} pop {p}")
                assert result.flags[trial, look, p] & ~L.CUT_RULE_FLAGS == want["flags"]


def test_simulated_trial_statistics_equal_naive_formulas():
    """One simulated trial's statistics against the naive formulas directly (no engine in the reference)."""
    spec = _spec(n_patients=80, cuts=(Cut(target_events=30),), subgroups=())
    seed = 99
    result = simulate(spec, 1, seed)
    pts = patient_data(spec, seed, 0)
    entry = pts["entry_months"].tolist()
    x = pts["time_to_event_or_dropout_months"].tolist()
    event = pts["event"].astype(int).tolist()
    arm = pts["arm"].astype(int).tolist()
    cat = pts["assessed_category"].cat.codes.astype(int).tolist()
    cut, reached = naive.cut_time(entry, x, event, 30)
    assert reached and result.cut_months[0, 0] == cut
    t, e, a, s = naive.cut_data(entry, x, event, arm, cut, cat)
    assert sum(e) == 30
    want = naive.analyze(t, e, a, s, 1.0, 0.5, [3.0, 6.0])
    got = dict(zip(result.fields, result.stats[0, 0, 0].tolist(), strict=True))
    assert_stats_equal(got, want)
