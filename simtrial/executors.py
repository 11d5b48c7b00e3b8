"""Where trials run: an executor maps ranges of trial indices to their per-trial result rows.

The protocol is one method::

    executor.map_ranges(task, ranges) -> iterable of (start, stop, rows)

``ranges`` are ``(start, stop)`` pairs of absolute trial indices (stop
exclusive).  ``task(first_trial, n)`` runs trials ``first_trial ..
first_trial + n - 1`` and returns their :class:`TrialRows`; it holds only
integers, the engine's kernel records (numpy arrays and scalars, including the
table of per-trial parameter variants) and the run's variant index (the variant
of each trial, looked up by absolute trial index), so it can be pickled and
shipped to another process or machine.  An executor may run the
ranges in any order, anywhere, and split them into smaller pieces of its own
choosing, as long as every trial of every range comes back exactly once;
``simtrial.simulate.simulate`` puts the rows in place by trial index and checks
that nothing is missing or doubled.  Because each trial's random stream derives
from (seed, trial index) only, every executor gives bit-identical arrays.

:class:`LocalThreads` (the default) runs each range on numba threads in this
process: the engine's ``prange`` over blocks of trials.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np


class TrialRows(NamedTuple):
    """Per-trial results of ``n`` consecutive trials (row i is trial first_trial + i)."""

    stats: np.ndarray  # float64[n, looks, populations, fields]
    cut_months: np.ndarray  # float64[n, looks]
    enrolled: np.ndarray  # int64[n, looks]
    flags: np.ndarray  # int32[n, looks, populations]


#: ``task(first_trial, n)`` -> the rows of trials first_trial .. first_trial + n - 1
Task = Callable[[int, int], TrialRows]


@runtime_checkable
class Executor(Protocol):
    """Anything with ``map_ranges``: runs ``task`` over every trial of ``ranges``, yielding (start, stop, rows)."""

    def map_ranges(
        self, task: Task, ranges: Sequence[tuple[int, int]]
    ) -> Iterable[tuple[int, int, TrialRows]]: ...


class LocalThreads:
    """Run each range in this process on numba threads (``threads``: None keeps numba's current count).

    Ranges run in the order given, one at a time; within a range the engine's
    ``prange`` spreads blocks of trials over the threads.
    """

    def __init__(self, threads: int | None = None) -> None:
        if threads is not None and (
            not isinstance(threads, int | np.integer) or isinstance(threads, bool) or threads < 1
        ):
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self.threads = None if threads is None else int(threads)

    def __repr__(self) -> str:
        return f"LocalThreads(threads={self.threads!r})"

    def map_ranges(
        self, task: Task, ranges: Sequence[tuple[int, int]]
    ) -> Iterator[tuple[int, int, TrialRows]]:
        import numba

        previous = numba.get_num_threads()
        if self.threads is not None:
            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        try:
            for start, stop in ranges:
                yield start, stop, task(start, stop - start)
        finally:
            numba.set_num_threads(previous)


def merge_pieces(
    executor: object,
    pieces: Iterator[tuple[int, int, object]],
    first: int,
    n_trials: int,
    place: Callable[[int, int, int, int, object], None],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Take an executor's pieces of trials ``first .. first + n_trials - 1`` in any order, each exactly once.

    ``place(lo, hi, start, stop, rows)`` stores a piece's rows at run rows
    ``lo:hi`` (absolute trials ``start .. stop - 1``); ``progress(k)`` follows
    each piece.  A piece outside the run or given twice, or a trial never given,
    is the executor's bug: RuntimeError naming it.  The piece iterator is closed
    on the way out (a generator then cleans up its own work).
    """
    done = np.zeros(n_trials, dtype=np.bool_)
    try:
        for start, stop, rows in pieces:
            lo, hi = int(start) - first, int(stop) - first
            if not (0 <= lo < hi <= n_trials) or done[lo:hi].any():
                raise RuntimeError(
                    f"{executor!r} returned trials {start}..{stop - 1}: outside {first}..{first + n_trials - 1} or twice"
                )
            place(lo, hi, int(start), int(stop), rows)
            done[lo:hi] = True
            if progress is not None:
                progress(hi - lo)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    if not done.all():
        missing = np.flatnonzero(~done)
        raise RuntimeError(f"{executor!r} left {missing.size} trials unrun (first: trial {first + int(missing[0])})")
