"""A dask.distributed executor: blocks of trials run on dask workers, with the local backend's numbers, bit for bit.

``DaskExecutor`` implements the executor protocol of ``simtrial.executors``
(``map_ranges(task, ranges)`` yielding ``(start, stop, rows)``).  It joins the
ranges it is given into one span of trials per run and cuts that span into
blocks of ``block_trials`` trials at absolute multiples of the block size
(rounded up to the task's ``block_align``, so a binary design's seeding
block is never cut in two), sends each block to a worker and yields the
blocks as they complete, in whatever order that is.  The caller
(``simtrial.simulate.simulate``, ``simtrial.designs._binary_cohort.run_blocks``)
puts rows in place by trial index; since a trial's random numbers depend only
on (seed, trial index, parameters), the arrays equal the local backend's for
any number of workers, block size and completion order.

What travels: the task (a frozen dataclass of numpy arrays and scalars,
pickled by reference to its class in the installed ``simtrial``, never a
jitted function or closure) is sent once as a dask task of its own, so every
block depends on it, and a worker that joins late (or replaces a lost one)
fetches it from a peer or recomputes it from the scheduler's copy.  Workers
import the ``simtrial`` installed on them (its version must match; the
result records the client's), and each worker warms the numba cache once, on
joining (``WarmWorker``), by simulating one tiny trial.

A worker lost mid-run has its blocks recomputed by dask on the remaining (or
restarted) workers; the rows are the same, so the result is too.  Numba
threads: each block runs with ``numba_threads`` threads (default 1, one per
dask thread), so a cluster of single-threaded workers does not oversubscribe.

dask is imported only when a ``DaskExecutor`` is made; without it the error
says what to install (``pip install '.[dask]'``).
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from simtrial.errors import InvalidInput

#: what ``--backend dask`` says when dask.distributed is not installed
DASK_MISSING = (
    "--backend dask needs dask.distributed, which is not installed; allowed: pip install '.[dask]' "
    "(or pip install 'dask[distributed]'), or --backend local"
)
DEFAULT_BLOCK_TRIALS = 10_000


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise InvalidInput(DASK_MISSING) from None
    return distributed


def warm_numba() -> float:
    """Load (or compile, on a cold cache) the engine's kernels in this process: one 2-patient trial. Returns seconds."""
    import time

    from simtrial.simulate import simulate
    from simtrial.spec import Accrual, Arm, Cut, Population, TrialSpec
    from simtrial.survival import Exponential

    t0 = time.perf_counter()
    spec = TrialSpec(
        population=Population(mix={5: 1.0}),
        control=Arm("control", {5: Exponential(median_months=6.0)}, 0.0),
        experimental=Arm("experimental", {5: Exponential(median_months=8.0)}, 0.0),
        n_patients=2, accrual=Accrual(duration_months=1.0), cuts=(Cut(1),),
    )
    simulate(spec, 1, 0)
    return time.perf_counter() - t0


def _hold(task):
    """The task, as a dask result every block depends on (recomputable from the scheduler's copy)."""
    return task


def _run_block(task, start: int, stop: int, numba_threads: int | None):
    """Run trials start .. stop - 1 of ``task`` on this worker; returns (start, stop, rows)."""
    if numba_threads is not None:
        import numba

        numba.set_num_threads(min(int(numba_threads), numba.config.NUMBA_NUM_THREADS))
    return start, stop, task(start, stop - start)


def _warm_plugin():
    distributed = _import_distributed()

    class WarmWorker(distributed.WorkerPlugin):
        """Warm the numba cache once per worker, when it joins (replacement workers included)."""

        name = "simtrial-warm-numba"

        def setup(self, worker) -> None:
            try:
                worker.simtrial_warm_seconds = warm_numba()
            except Exception as exc:  # noqa: BLE001 - a failed warm-up only costs the first block's time
                worker.simtrial_warm_error = repr(exc)

    return WarmWorker()


def block_cuts(ranges: Sequence[tuple[int, int]], block_trials: int, align: int = 1) -> list[tuple[int, int]]:
    """Join contiguous ``ranges`` and cut them at absolute multiples of ``block_trials`` (rounded up to ``align``).

    Every trial of ``ranges`` is in exactly one block; blocks never cross a
    gap between ranges.
    """
    step = max(1, int(block_trials))
    align = max(1, int(align))
    step = -(-step // align) * align
    spans: list[list[int]] = []
    for start, stop in sorted((int(a), int(b)) for a, b in ranges if int(b) > int(a)):
        if spans and start == spans[-1][1]:
            spans[-1][1] = stop
        else:
            spans.append([start, stop])
    out = []
    for start, stop in spans:
        a = start
        while a < stop:
            b = min(stop, (a // step + 1) * step)
            out.append((a, b))
            a = b
    return out


class DaskExecutor:
    """Run blocks of trials on a dask.distributed cluster (see the module docstring).

    Give one of ``client`` (a ``distributed.Client`` you manage),
    ``scheduler`` (an address such as ``tcp://host:8786``) or ``workers``
    (start a local cluster of that many single-threaded worker processes).
    ``block_trials``: trials per dask task.  ``numba_threads``: numba threads
    per block on the worker (None: the worker's default).  Use it as a context
    manager (or call ``close()``) to release what it started.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        scheduler: str | None = None,
        workers: int | None = None,
        block_trials: int = DEFAULT_BLOCK_TRIALS,
        numba_threads: int | None = 1,
        warm: bool = True,
    ) -> None:
        given = [x is not None for x in (client, scheduler, workers)]
        if sum(given) != 1:
            raise InvalidInput("--backend dask: give one of --scheduler tcp://host:port or --workers N")
        if isinstance(block_trials, bool) or not isinstance(block_trials, int) or block_trials < 1:
            raise InvalidInput(f"block_trials must be an integer >= 1, got {block_trials!r}")
        if numba_threads is not None and (isinstance(numba_threads, bool) or not isinstance(numba_threads, int)
                                          or numba_threads < 1):
            raise InvalidInput(f"numba_threads must be an integer >= 1, got {numba_threads!r}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise InvalidInput(f"--workers must be an integer >= 1, got {workers!r}")
        distributed = _import_distributed()
        self.block_trials = int(block_trials)
        self.numba_threads = numba_threads
        self.blocks_run = 0
        self._owned: list[Any] = []
        if client is not None:
            self.client = client
        elif scheduler is not None:
            try:
                self.client = distributed.Client(scheduler, timeout="30s")
            except (OSError, TimeoutError) as exc:
                raise InvalidInput(f"--scheduler {scheduler}: cannot connect ({exc}); allowed: the address of a "
                                   "running dask scheduler, e.g. tcp://host:8786") from None
            self._owned.append(self.client)
        else:
            cluster = distributed.LocalCluster(
                n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=50,
            )
            self._owned.append(cluster)
            self.client = distributed.Client(cluster)
            self._owned.insert(0, self.client)
        if warm:
            self.client.register_plugin(_warm_plugin())

    def __repr__(self) -> str:
        return f"DaskExecutor(scheduler={self.client.scheduler.address!r}, block_trials={self.block_trials})"

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and local cluster this executor started (a client you gave stays open)."""
        while self._owned:
            with contextlib.suppress(Exception):
                self._owned.pop(0).close()

    def map_ranges(self, task, ranges: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int, Any]]:
        distributed = _import_distributed()
        blocks = block_cuts(ranges, self.block_trials, getattr(task, "block_align", 1))
        tag = uuid.uuid4().hex[:12]
        held = self.client.submit(_hold, task, key=f"simtrial-task-{tag}", pure=False)
        futures = [
            self.client.submit(
                _run_block, held, a, b, self.numba_threads, key=f"simtrial-block-{tag}-{a}-{b}",
                pure=False, priority=-i,  # earlier blocks first, so progress reads left to right
            )
            for i, (a, b) in enumerate(blocks)
        ]
        try:
            for future in distributed.as_completed(futures):
                start, stop, rows = future.result()
                future.release()
                self.blocks_run += 1
                yield start, stop, rows
        finally:
            for future in itertools.chain(futures, [held]):
                with contextlib.suppress(Exception):
                    future.cancel()
