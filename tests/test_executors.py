"""Any executor gives the same arrays: each trial's stream depends only on (seed, trial index).

The default ``LocalThreads`` runs the ranges in order on numba threads; the
executors here run them backwards, in odd-sized pieces, from a pickled task,
and must give arrays equal element for element (NaN and inf positions
included) to the default.  Executors that lose, double or mangle trials are
refused with an error naming them.
"""

from __future__ import annotations

import itertools
import pickle

import numba
import numpy as np
import pytest

import simtrial.simulate as simulate_module
from simtrial.executors import Executor, LocalThreads, TrialRows
from simtrial.simulate import TrialTask, simulate, to_kernel_args
from simtrial.spec import Accrual, Arm, Cut, Population, Subgroup, TrialSpec, dropout_hazard
from simtrial.survival import CureMixture, Exponential, Weibull

SEED = 20240611
N_SIMS = 300


def _spec() -> TrialSpec:
    # a rare subgroup (IHC 1+, 3%) and an early 10-event look: many NaN and inf statistics and flags
    ctrl = {
        1: Exponential(median_months=8.0),
        3: Weibull(1.3, 12.0),
        5: CureMixture(0.2, Exponential(median_months=6.0)),
    }
    expt = {k: m.with_hazard_ratio(0.75) for k, m in ctrl.items()}
    h = dropout_hazard(0.05, 12)
    return TrialSpec(
        population=Population(mix={1: 0.03, 3: 0.37, 5: 0.6}),
        control=Arm("control", ctrl, h),
        experimental=Arm("experimental", expt, h),
        n_patients=60,
        accrual=Accrual(duration_months=18),
        cuts=(Cut(10), Cut(calendar_months=40.0)),
        subgroups=(Subgroup("ihc1", (1,)),),
        analysis_strata={0: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 1},
        fh_gamma=1.0,
        landmark_months=(6.0, 12.0),
    )


def assert_same(a, b) -> None:
    np.testing.assert_array_equal(a.stats, b.stats)  # NaN == NaN here, at the same positions only
    np.testing.assert_array_equal(a.cut_months, b.cut_months)
    np.testing.assert_array_equal(a.enrolled, b.enrolled)
    np.testing.assert_array_equal(a.flags, b.flags)
    assert (
        a.stats.dtype == b.stats.dtype
        and a.flags.dtype == b.flags.dtype
        and a.enrolled.dtype == b.enrolled.dtype
    )


class ReversedOddPieces:
    """Runs the ranges last first, each cut into pieces of 7, 13, 1, 29, 3, ... trials, last piece first."""

    sizes = (7, 13, 1, 29, 3)

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def map_ranges(self, task, ranges):
        sizes = itertools.cycle(self.sizes)
        for start, stop in reversed(list(ranges)):
            pieces = []
            a = start
            while a < stop:
                b = min(stop, a + next(sizes))
                pieces.append((a, b))
                a = b
            for a, b in reversed(pieces):
                self.calls.append((a, b))
                yield a, b, task(a, b - a)


class PickledTask:
    """Ships the task the way a process pool or dask would: pickled, then called elsewhere."""

    def map_ranges(self, task, ranges):
        shipped = pickle.loads(pickle.dumps(task))
        for start, stop in ranges:
            yield start, stop, shipped(start, stop - start)


@pytest.fixture(scope="module")
def reference():
    ref = simulate(_spec(), N_SIMS, SEED)
    # the comparison is only strict if there are NaNs, infs and flags to misplace
    assert np.isnan(ref.stats).any() and np.isinf(ref.stats).any() and (ref.flags != 0).any()
    return ref


def test_reversed_odd_sized_pieces_give_the_default_arrays(reference):
    executor = ReversedOddPieces()
    result = simulate(_spec(), N_SIMS, SEED, executor=executor)
    assert_same(result, reference)
    # it really ran out of order and in pieces of several sizes
    starts = [a for a, _ in executor.calls]
    assert starts != sorted(starts) and len({b - a for a, b in executor.calls}) >= 4


def test_reversed_pieces_with_progress_count_every_trial_once(reference):
    calls: list[int] = []
    executor = ReversedOddPieces()
    result = simulate(_spec(), N_SIMS, SEED, executor=executor, progress=calls.append)
    assert_same(result, reference)
    assert sum(calls) == N_SIMS and len(calls) == len(executor.calls)


def test_pickled_task_gives_the_default_arrays(reference):
    assert_same(simulate(_spec(), N_SIMS, SEED, executor=PickledTask()), reference)


def test_one_thread_and_two_threads_identical(reference):
    one = simulate(_spec(), N_SIMS, SEED, threads=1)
    two = simulate(_spec(), N_SIMS, SEED, threads=2)
    assert_same(one, reference)
    assert_same(two, reference)
    assert_same(simulate(_spec(), N_SIMS, SEED, executor=LocalThreads(threads=2)), reference)


def test_local_threads_restores_the_thread_count():
    before = numba.get_num_threads()
    simulate(_spec(), 40, SEED, threads=1)
    assert numba.get_num_threads() == before


def test_first_trial_offsets_compose(reference):
    # trials 0..99 are the first 100 rows of a run of trials 0..299, however either is run
    head = simulate(_spec(), 100, SEED)
    assert_same(head, _rows(reference, 0, 100))
    tail = simulate(_spec(), 200, SEED, first_trial=100, executor=ReversedOddPieces())
    assert_same(tail, _rows(reference, 100, 300))
    middle = simulate(_spec(), 50, SEED, first_trial=125, threads=1)
    assert_same(middle, _rows(reference, 125, 175))


def test_task_runs_trials_by_absolute_index():
    task = TrialTask(SEED, to_kernel_args(_spec()))
    whole = task(0, 40)
    part = task(15, 10)
    assert isinstance(part, TrialRows) and part.stats.shape[0] == 10
    for got, want in zip(part, whole, strict=True):
        np.testing.assert_array_equal(got, want[15:25])


def _rows(result, start, stop) -> TrialRows:
    return TrialRows(
        result.stats[start:stop],
        result.cut_months[start:stop],
        result.enrolled[start:stop],
        result.flags[start:stop],
    )


# --- executors that break the contract ------------------------------------------------------


class Skips:
    def map_ranges(self, task, ranges):
        for start, stop in ranges:
            yield start, stop - 1, task(start, stop - 1 - start)


class Doubles:
    def map_ranges(self, task, ranges):
        for start, stop in ranges:
            yield start, stop, task(start, stop - start)
            yield start, start + 1, task(start, 1)


class WrongDtype:
    def map_ranges(self, task, ranges):
        for start, stop in ranges:
            rows = task(start, stop - start)
            yield start, stop, rows._replace(flags=rows.flags.astype(np.int64))


class WrongRows:
    def map_ranges(self, task, ranges):
        for start, stop in ranges:
            yield start, stop, task(start, stop - start + 1)


class OutsideTheRun:
    def map_ranges(self, task, ranges):
        for start, stop in ranges:
            yield start + 1, stop + 1, task(start + 1, stop - start)


@pytest.mark.parametrize(
    ("executor", "message"),
    [
        (Skips(), "left 1 trials unrun"),
        (Doubles(), "twice"),
        (WrongDtype(), "flags of int64"),
        (WrongRows(), "stats of float64"),
        (OutsideTheRun(), "outside 0..19"),
    ],
)
def test_a_broken_executor_is_refused(executor, message):
    with pytest.raises(RuntimeError, match=message):
        simulate(_spec(), 20, SEED, executor=executor)


def test_threads_and_an_executor_together_are_refused():
    with pytest.raises(ValueError, match="threads is an option of the default executor"):
        simulate(_spec(), 10, SEED, threads=2, executor=LocalThreads())


def test_an_object_without_map_ranges_is_refused(monkeypatch):
    def tripwire(*args, **kwargs):
        raise AssertionError("the kernel ran")

    monkeypatch.setattr(simulate_module, "simulate_block_range", tripwire)
    with pytest.raises(TypeError, match="map_ranges"):
        simulate(_spec(), 10, SEED, executor=object())


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_local_threads_checks_its_thread_count(threads):
    with pytest.raises(ValueError, match="threads"):
        LocalThreads(threads)


def test_the_executors_satisfy_the_protocol():
    assert isinstance(LocalThreads(), Executor)
    assert isinstance(ReversedOddPieces(), Executor)
    assert not isinstance(object(), Executor)
