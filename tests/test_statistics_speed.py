"""The statistics-stage shortcuts of issue 14 compute what the plain code computes, bit for bit.

- the event-table pass counts each arm's events (Cox reads them instead of summing the rows);
- a subgroup's event tables, built with membership as a 0/1 factor, are the tables of the
  stream with the other patients removed;
- a population within one analysis stratum (a subgroup that is a stratum) reports as its
  stratified statistics those of its stratified tables, computed by the pooled path;
- the population aliases found once per block are ``same_population`` of every population;
- the merge of the stream from both ends is the stable merge (A first on a tie), ties included;
- every look's cut, its values gathered in one pass for all looks, is the k-th of the sorted event times.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simtrial.engine import layout as L
from simtrial.engine import statistics_registry as R
from simtrial.engine.records import allocate_scratch
from simtrial.engine.statistics import cox_fit, logrank_sums, z_from_sums
from simtrial.engine.tables import event_tables
from simtrial.engine.trial import (
    analyze_stream,
    generate_one_cohort,
    population_aliases,
    same_population,
    within_one_stratum,
)
from simtrial.simulate import to_kernel_args

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _spec(name):
    from simtrial.designs._survival import build_spec
    from simtrial.designs.time_to_event import TIME_TO_EVENT_DESIGNS
    from simtrial.scenario import load_scenario

    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    return build_spec(sc, experimental=TIME_TO_EVENT_DESIGNS[sc.design].experimental_arm(sc, False))


def _stream(args, trial, target):
    """One trial's analysis stream at the cut of ``target`` events, built with numpy (times ascending)."""
    entry, x, pcode, _ = generate_one_cohort(5, trial, args.cohort)
    cut = np.sort((entry + x)[(pcode & 1) == 1])[target - 1]
    enrolled = entry < cut
    time = np.minimum(x, cut - entry)[enrolled]
    code = np.where(entry[enrolled] + x[enrolled] <= cut, pcode[enrolled], pcode[enrolled] & ~1)
    order = np.argsort(time, kind="stable")
    return np.ascontiguousarray(time[order]), np.ascontiguousarray(code[order].astype(np.int64))


def _tables(time, code, in_pop, code_stratum, n_strata, stratified):
    n = time.size
    f = np.zeros((9, n * n_strata))
    s = np.zeros((2, n * n_strata))
    i = np.zeros(5 * n_strata + 2, dtype=np.int64)
    rows, srows, events0, events1 = event_tables(
        time, code, n, in_pop, code_stratum, stratified,
        i[: 2 * n_strata].reshape((n_strata, 2)), i[2 * n_strata : 4 * n_strata].reshape((n_strata, 2)),
        i[4 * n_strata : 5 * n_strata], *f, i[5 * n_strata :], s[0], s[1],
    )
    # the event totals the pass counts are the rows' events
    assert (events0, events1) == (f[3, :rows].sum(), f[4, :rows].sum())
    return f, s, i[5 * n_strata :].copy(), rows, srows, events0, events1


@pytest.fixture(scope="module")
def tki():
    return to_kernel_args(_spec("tki_ihc_stratified"))


@pytest.mark.parametrize("trial", range(4))
def test_subgroup_tables_are_the_tables_of_its_patients_alone(tki, trial):
    a = tki.analysis
    time, code = _stream(tki, trial, 500)
    for p in range(1, a.code_in_pop.shape[0]):
        in_pop = a.code_in_pop[p]
        keep = in_pop[code]
        assert 0 < keep.sum() < keep.size  # a real subgroup of this trial
        everyone = np.ones_like(in_pop)
        for stratified in (False, True):
            got = _tables(time, code, in_pop, a.code_stratum, a.n_strata, stratified)
            want = _tables(time[keep], code[keep], everyone, a.code_stratum, a.n_strata, stratified)
            assert got[3:] == want[3:]
            np.testing.assert_array_equal(got[2], want[2])
            rows, srows = got[3], got[4]
            np.testing.assert_array_equal(got[0][:5, :rows], want[0][:5, :rows])
            np.testing.assert_array_equal(got[0][5:, :srows], want[0][5:, :srows])
            np.testing.assert_array_equal(got[1][:, :srows], want[1][:, :srows])


def test_within_one_stratum_is_a_single_stratum_among_the_populations_codes(tki):
    a = tki.analysis
    assert a.n_strata == 2
    assert not within_one_stratum(a.code_in_pop[0], a.code_stratum)  # everyone: both IHC strata
    assert within_one_stratum(a.code_in_pop[1], a.code_stratum)
    assert within_one_stratum(a.code_in_pop[2], a.code_stratum)
    assert within_one_stratum(np.zeros_like(a.code_in_pop[0]), a.code_stratum)  # no codes: nothing to split


def _analyze(args, time, code, p):
    a = args.analysis
    n = time.size
    s = allocate_scratch(n, 1, 2, a.n_strata)
    out = np.full(L.n_fields(a.landmark_months.shape[0]), -7.0)
    flags = analyze_stream(
        time, code, n, a.code_in_pop[p], a.code_stratum, a.n_strata, a.fh_rho, a.fh_gamma, a.landmark_months,
        R.STAT_COX | R.STAT_STRATIFIED | R.STAT_KM, s.table_f, s.table_i, out,
        0, -1.0, -1.0, a.maxcombo_rho, a.maxcombo_gamma, -1.0, s.table_s, s.nph_state, s.nph_u, s.nph_cov, s.nph_out,
    )
    return out, flags


@pytest.mark.parametrize("trial", range(4))
def test_a_population_within_one_stratum_reports_its_stratified_tables_statistics(tki, trial):
    """The stratified log-rank and Cox of the subgroup's own stratified tables (the path it skips)."""
    a = tki.analysis
    time, code = _stream(tki, trial, 500)
    for p in (1, 2):
        out, flags = _analyze(tki, time, code, p)
        f, _, _, _, srows, events0, events1 = _tables(time, code, a.code_in_pop[p], a.code_stratum, a.n_strata, True)
        oe, var = logrank_sums(f[5], f[6], f[7], f[8], srows)
        beta, se, ok = cox_fit(f[5], f[6], f[7], f[8], srows, oe / var, events0, events1)
        assert ok and var > 0.0
        assert out[L.STRATIFIED_LOGRANK_Z] == z_from_sums(oe, var)
        assert out[L.STRATIFIED_LOGRANK_INFORMATION] == var
        assert out[L.STRATIFIED_LOG_HR] == beta
        assert out[L.STRATIFIED_LOG_HR_SE] == se
        assert flags & (L.FLAG_STRATIFIED_LOGRANK_UNDEFINED | L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE) == 0


@pytest.mark.parametrize("name", ["ihc3_deescalation_ni", "db04_replay", "tki_ihc_stratified"])
def test_population_aliases_are_same_population_of_each(name):
    args = to_kernel_args(_spec(name))
    pops = args.analysis.code_in_pop
    out = np.full(pops.shape[0], -9, dtype=np.int64)
    population_aliases(args.cohort, pops, out)
    assert list(out) == [same_population(args.cohort, pops, p) for p in range(pops.shape[0])]


def _merged_by_hand(entry, x, pcode, cut, sorted_index):
    """The stream in its exact order: A (follow-up ends by the cut) in the sort's order of x; B (censored
    at the cut) latest entry first; then a stable merge by time with A first on equal times."""
    enrolled = np.flatnonzero(entry < cut)
    a = [i for i in sorted_index if entry[i] < cut and entry[i] + x[i] <= cut]
    b = [i for i in enrolled[::-1] if entry[i] + x[i] > cut]
    a_items = [(x[i], 0, k, int(pcode[i])) for k, i in enumerate(a)]
    b_items = [(cut - entry[i], 1, k, int(pcode[i]) & ~1) for k, i in enumerate(b)]
    merged = sorted(a_items + b_items)  # time, then A before B, then each piece's own order
    return [t for t, *_ in merged], [c for *_, c in merged]


@pytest.mark.parametrize("seed", range(12))
def test_both_ends_merge_is_the_stable_merge_with_ties(seed):
    """Times on a coarse grid make many ties within and across the pieces; odd and even streams."""
    from simtrial.engine.cut import cut_stream, followed_to_cut, gather_sorted
    from simtrial.engine.sort import RADIX_COUNTS, radix_cosort

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    entry = np.sort(np.round(rng.uniform(0, 12, n)))
    x = np.round(rng.exponential(6, n))
    if seed % 3 == 0:
        x[rng.random(n) < 0.2] = np.inf
    pcode = rng.integers(0, 24, n).astype(np.int64)
    for cut in (np.round(rng.uniform(1, 20)), 30.0, np.inf):
        keys = np.empty(n)
        index = np.empty(n, dtype=np.int64)
        k = followed_to_cut(entry, x, n, cut, keys, index)
        sx = np.empty(n)
        si = np.empty(n, dtype=np.int64)
        radix_cosort(keys, index, k, sx, si, np.empty(n, dtype=np.int64), np.empty(max(n + 2, RADIX_COUNTS), dtype=np.int64))
        t = np.full(n, -1.0)
        c = np.full(n, -1, dtype=np.int64)
        pieces = [np.empty(n + 2), np.empty(n + 2, dtype=np.int64), np.empty(n + 2), np.empty(n + 2, dtype=np.int64)]
        se, sc = np.empty(n), np.empty(n, dtype=np.int64)
        gather_sorted(entry, pcode, si, k, se, sc)
        np.testing.assert_array_equal(se[:k], entry[si[:k]])
        np.testing.assert_array_equal(sc[:k], pcode[si[:k]])
        enrolled = cut_stream(entry, x, pcode, sx, se, sc, k, n, cut, t, c, *pieces)
        want_t, want_c = _merged_by_hand(entry, x, pcode, cut, si[:k])
        assert enrolled == np.count_nonzero(entry < cut) == len(want_t)
        np.testing.assert_array_equal(t[:enrolled], want_t)
        np.testing.assert_array_equal(c[:enrolled], want_c)
        assert (t[enrolled:] == -1.0).all()


def test_cut_stream_refuses_short_piece_scratch():
    from simtrial.engine.cut import cut_stream

    n = 4
    e = np.arange(n, dtype=np.float64)
    with pytest.raises(ValueError, match="n \\+ 2"):
        cut_stream(e, e, np.zeros(n, dtype=np.int64), e, e, np.arange(n), 0, n, 2.0, np.empty(n), np.empty(n, dtype=np.int64),
                   np.empty(n), np.empty(n, dtype=np.int64), np.empty(n), np.empty(n, dtype=np.int64))


def _cuts_by_sorting(values, targets, calendars):
    from simtrial.engine.cut import FLAG_CUT_AT_CALENDAR_MAXIMUM, FLAG_TARGET_EVENTS_NOT_REACHED

    ordered = np.sort(values)
    cuts, flags = [], []
    for k, cal in zip(targets, calendars, strict=True):
        cut, flag = cal, 0
        if k > 0:
            if k <= ordered.size:
                event_cut = ordered[k - 1]
            else:
                flag |= FLAG_TARGET_EVENTS_NOT_REACHED
                event_cut = cal if np.isfinite(cal) else (ordered[-1] if ordered.size else 0.0)
            if event_cut < cut:
                cut = event_cut
            elif np.isfinite(cal) and (k > ordered.size or event_cut > cal):
                flag |= FLAG_CUT_AT_CALENDAR_MAXIMUM
        cuts.append(cut)
        flags.append(flag)
    return np.array(cuts), np.array(flags)


@pytest.mark.parametrize("seed", range(40))
def test_every_looks_cut_from_one_gather_is_the_sorted_kth_event(seed):
    """Up to 12 looks: equal targets, targets in one bin, beyond the events, none, calendar maxima, ties."""
    from simtrial.engine.cut import look_cut_times

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    values = rng.exponential(10.0, n)
    if seed % 4 == 1:
        values = np.round(values)  # ties
    if seed % 4 == 2 and n:
        values[:] = 3.0  # every value equal: one bin
    n_looks = int(rng.integers(1, 13))
    targets = np.sort(rng.integers(0, n + 6, n_looks)).astype(np.int64)
    if n_looks > 2:
        targets[1] = targets[2]  # two looks with the same target share a region
    calendars = np.where(rng.random(n_looks) < 0.3, rng.uniform(0, 40, n_looks), np.inf)
    cut, flags = np.empty(n_looks), np.empty(n_looks, dtype=np.int64)
    look_cut_times(values.copy(), n, targets, calendars, cut, flags, np.empty(n + 2, dtype=np.int64), np.empty(max(n, 1)))
    want_cut, want_flags = _cuts_by_sorting(values, targets, calendars)
    np.testing.assert_array_equal(cut, want_cut)
    np.testing.assert_array_equal(flags, want_flags)
