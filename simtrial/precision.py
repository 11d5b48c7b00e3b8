"""Precision-driven run length: simulate blocks of trials until the Monte-Carlo SE of power reaches a target.

``run_to_precision(scenario, target_mc_se=0.002)`` runs ``block_sims``
trials, then more, until the first multiple of ``block_sims`` trials whose
power (or, with ``null=True``, type I error) has an MC SE at or below the
target, or ``max_sims`` is reached (reported, not an error).  The answer is
``simtrial.power.run`` at that final size with the same seed, exactly: trial
``i``'s numbers depend only on (seed, i), so the trials of a larger run begin
with those of a smaller one, and the rows already simulated are reused from a
cache (:class:`RowCache`, an executor wrapper) instead of being simulated again.

The stopping SE is the reported one, ``sqrt(p (1 - p) / n)``, except that an
observed 0 or 1 counts as one trial's worth (``p = 1/n``), so a run never
stops on a first block with no rejection at all.  Sizes grow towards the
size the current estimate needs (at most 8 times per step); once a size at
or beyond the target is simulated, the first multiple of ``block_sims`` that
reaches it is found from the running sums of the per-trial successes, so the
stop is the first block size that reaches the target, never a later one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrial.errors import MAX_SIMS, InvalidInput
from simtrial.executors import LocalThreads
from simtrial.power import PowerResult, run
from simtrial.spec import Scenario

DEFAULT_BLOCK_SIMS = 1_000
DEFAULT_MAX_SIMS = 1_000_000


def _slice(rows: Any, a: int, b: int) -> Any:
    if isinstance(rows, dict):
        return {k: v[a:b] for k, v in rows.items()}
    return type(rows)(*(x[a:b] for x in rows))


def _concat(pieces: list[Any]) -> Any:
    if len(pieces) == 1:
        return pieces[0]
    if isinstance(pieces[0], dict):
        return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
    return type(pieces[0])(*(np.concatenate(parts) for parts in zip(*pieces, strict=True)))


class RowCache:
    """An executor that remembers the rows it has run: ranges seen before come back from memory.

    Valid only while every task it is given computes the same rows for the
    same trial indices (one scenario, seed, hypothesis and size options), as
    ``run_to_precision`` guarantees.  ``progress(k)`` reports trials actually
    simulated (not those served from memory).
    """

    def __init__(self, inner: Any, progress: Callable[[int], None] | None = None) -> None:
        self.inner = inner
        self.progress = progress
        self.pieces: list[tuple[int, int, Any]] = []  # disjoint, sorted by start
        self.simulated = 0

    def __repr__(self) -> str:
        return f"RowCache({self.inner!r})"

    def _split(self, start: int, stop: int) -> tuple[list[tuple[int, int, Any]], list[tuple[int, int]]]:
        hits, gaps, a = [], [], start
        for s, e, rows in self.pieces:
            if e <= a or s >= stop:
                continue
            if s > a:
                gaps.append((a, s))
            lo, hi = max(a, s), min(stop, e)
            hits.append((lo, hi, _slice(rows, lo - s, hi - s)))
            a = hi
            if a >= stop:
                break
        if a < stop:
            gaps.append((a, stop))
        return hits, gaps

    def map_ranges(self, task, ranges: Sequence[tuple[int, int]]):
        gaps: list[tuple[int, int]] = []
        for start, stop in ranges:
            hits, missing = self._split(int(start), int(stop))
            yield from hits
            gaps.extend(missing)
        if not gaps:
            return
        new = []
        pieces = self.inner.map_ranges(task, gaps)
        try:
            for start, stop, rows in pieces:
                new.append((int(start), int(stop), rows))
                self.simulated += int(stop) - int(start)
                if self.progress is not None:
                    self.progress(int(stop) - int(start))
                yield start, stop, rows
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
            self.pieces = sorted(self.pieces + new, key=lambda p: p[0])


def stopping_se(successes: int | np.ndarray, n: int | np.ndarray) -> np.ndarray | float:
    """``sqrt(p (1 - p) / n)`` with ``p = k / n``, where an observed 0 or 1 counts as ``p = 1 / n``."""
    n = np.asarray(n, dtype=float)
    p = np.asarray(successes, dtype=float) / n
    var = np.maximum(p * (1.0 - p), (n - 1.0) / (n * n))
    out = np.sqrt(var / n)
    return float(out) if out.ndim == 0 else out


def first_size_reaching(success: np.ndarray, block_sims: int, target: float, *, final: bool = False) -> int | None:
    """The first multiple of ``block_sims`` (or the whole array, if ``final``) whose stopping SE is <= target."""
    success = np.asarray(success, dtype=bool)
    n = success.shape[0]
    sizes = np.arange(block_sims, n + 1, block_sims, dtype=np.int64)
    if final and (sizes.size == 0 or sizes[-1] != n):
        sizes = np.append(sizes, n)
    if sizes.size == 0:
        return None
    k = np.cumsum(success, dtype=np.int64)[sizes - 1]
    hit = np.flatnonzero(stopping_se(k, sizes) <= target)
    return int(sizes[hit[0]]) if hit.size else None


@dataclass(frozen=True)
class Precision:
    """How a precision-driven run ended: the target, the size reached, whether the target was met."""

    target_mc_se: float
    block_sims: int
    max_sims: int
    n_sims: int
    mc_se: float
    reached: bool
    stages: tuple[int, ...]
    simulated: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_mc_se": self.target_mc_se, "block_sims": self.block_sims, "max_sims": self.max_sims,
            "n_sims": self.n_sims, "mc_se": self.mc_se, "reached": self.reached,
            "stopped_by": "target reached" if self.reached else "max_sims reached before the target",
            "sizes_simulated": list(self.stages), "trials_simulated": self.simulated,
        }


def check_precision_args(target_mc_se: float, block_sims: int, max_sims: int) -> tuple[float, int, int]:
    try:
        target = float(target_mc_se)
    except (TypeError, ValueError):
        raise InvalidInput(f"--target-mc-se must be a number in (0, 0.5), got {target_mc_se!r}") from None
    if not 0.0 < target < 0.5:
        raise InvalidInput(f"--target-mc-se must be in (0, 0.5), e.g. 0.002, got {target_mc_se!r}")
    for name, v in (("block size (--sims)", block_sims), ("--max-sims", max_sims)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 1 <= v <= MAX_SIMS:
            raise InvalidInput(f"{name} must be a whole number in [1, {MAX_SIMS:,}], got {v!r}")
    if block_sims > max_sims:
        raise InvalidInput(f"the block size ({block_sims:,} trials) exceeds --max-sims ({max_sims:,})")
    return target, int(block_sims), int(max_sims)


def run_to_precision(
    scenario: Scenario,
    target_mc_se: float,
    *,
    block_sims: int = DEFAULT_BLOCK_SIMS,
    max_sims: int = DEFAULT_MAX_SIMS,
    seed: int | None = None,
    null: bool = False,
    n_patients: int | None = None,
    target_events: int | None = None,
    threads: int | None = None,
    executor: Any = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[PowerResult, Precision]:
    """``power.run`` at the first multiple of ``block_sims`` trials whose MC SE is <= ``target_mc_se`` (or ``max_sims``).

    ``executor`` / ``threads`` as in ``power.run``; ``progress(k)`` counts trials simulated.
    """
    target, block, cap = check_precision_args(target_mc_se, block_sims, max_sims)
    if executor is not None and threads is not None:
        raise InvalidInput("give threads or an executor, not both")
    cache = RowCache(executor if executor is not None else LocalThreads(threads), progress)

    def quiet(_k: int) -> None:  # keeps the library running in chunks; the cache reports progress
        return None

    def at(n: int) -> PowerResult:
        return run(scenario, n_sims=n, seed=seed, null=null, n_patients=n_patients, target_events=target_events,
                   executor=cache, progress=quiet)

    n = min(block, cap)
    stages = []
    while True:
        stages.append(n)
        result = at(n)
        hit = first_size_reaching(result.outcomes.success, block, target, final=n == cap)
        if hit is not None:
            if hit != n:
                result = at(hit)  # every row comes from the cache
            return result, Precision(target, block, cap, hit, result.power_mc_se, True, tuple(stages), cache.simulated)
        if n >= cap:
            return result, Precision(target, block, cap, n, result.power_mc_se, False, tuple(stages), cache.simulated)
        p = result.power
        var = max(p * (1.0 - p), (n - 1.0) / (n * n))
        need = math.ceil(var / target**2 * 1.05 / block) * block
        n = int(min(cap, max(n + block, min(need, 8 * n))))
