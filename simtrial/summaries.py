"""Summaries of a run accumulated block by block, so memory does not grow with n_sims.

A run's summary (``simtrial.power.PowerResult``) needs, over its trials,
proportions, means, a standard deviation, medians and 2.5/97.5 percentiles.
Everything but the order statistics is a sum, merged across blocks of trials
exactly (counts, integer-valued sums) or up to floating-point summation order
(sums of real values; one block reproduces numpy's figure bit for bit).

Order statistics (``OrderStatistics``) are exact, not sketched: the first
block (the pilot) fixes, for each quantile asked for, a band of values around
the pilot's estimate of it, ``BAND_SIGMAS`` Monte-Carlo standard errors of a
quantile's rank wide on either side; later blocks keep only the values inside
the bands and count the others.  The median and percentiles are then read off
the kept values with numpy's own arithmetic (``np.median``, ``np.percentile``
with linear interpolation): the same bits as numpy on the whole array.  A band
holds about ``2 * BAND_SIGMAS * sqrt(2 q (1 - q) / pilot)`` of the trials
(6% at the median, 2% at a 2.5% tail, with a 50,000-trial pilot), 8 bytes
each.  If a needed order statistic fell outside the kept values (a rank error
of more than ``BAND_SIGMAS`` standard errors: about 1e-23 per quantile at 10),
``value()`` raises ``BandMissed`` and the caller recomputes keeping every trial.

This module is pure numpy: it knows ``TrialOutcomes`` by its field names only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

#: half-width of a kept band, in Monte-Carlo standard errors of the quantile's rank
BAND_SIGMAS = 10.0
#: a pilot shorter than this keeps collecting before the bands are chosen
MIN_PILOT = 2048


class BandMissed(RuntimeError):
    """An order statistic fell outside the values kept: recompute the run keeping every trial."""


# --- numpy's order-statistic arithmetic on a sorted stream ---------------------------------


def median_at(m: int, at) -> float:
    """``np.median`` of ``m`` non-NaN values, ``at(i)`` giving the i-th smallest (same bits as numpy)."""
    if m % 2 == 1:
        middle = np.array([at(m // 2)], dtype=np.float64)
    else:
        middle = np.array([at(m // 2 - 1), at(m // 2)], dtype=np.float64)
    return float(np.mean(middle))


def percentile_at(m: int, percent: float, at) -> float:
    """``np.percentile(v, percent)`` (method linear) of ``m`` non-NaN values, ``at(i)`` the i-th smallest.

    numpy's steps: virtual index (m - 1) q, neighbours floor and floor + 1
    (both the last index above it, both 0 below), gamma = index - previous,
    then ``a + (b - a) gamma``, or ``b - (b - a)(1 - gamma)`` from gamma 0.5.
    """
    q = np.true_divide(percent, 100)
    virtual = (m - 1) * q
    previous = float(np.floor(virtual))
    if virtual >= m - 1:
        previous = -1.0
    if virtual < 0:
        previous = 0.0
    nxt = previous if previous == -1.0 or virtual < 0 else previous + 1.0
    gamma = np.float64(virtual - previous)
    a = np.float64(at(int(previous) % m))
    b = np.float64(at(int(nxt) % m))
    diff = b - a
    out = a + diff * gamma
    if gamma >= 0.5:
        out = b - diff * (1 - gamma)
    return float(out)


# --- exact order statistics with bounded memory ----------------------------------------------


class OrderStatistics:
    """Exact order statistics of a stream of float64 values (NaN dropped, ±inf kept as values).

    ``fractions``: the quantiles (0..1) to be read; ``expected``: how many
    values (NaN included) the stream will bring.  A stream that arrives in one
    piece keeps every finite value.
    """

    def __init__(self, fractions: Sequence[float], expected: int, band_sigmas: float | None = None):
        self.fractions = tuple(float(f) for f in fractions)
        self.expected = int(expected)
        self.band_sigmas = BAND_SIGMAS if band_sigmas is None else float(band_sigmas)
        self.seen = 0
        self.n_nan = 0
        self.n_neg_inf = 0
        self.n_pos_inf = 0
        self.bands: np.ndarray | None = None  # [k, 2] disjoint [lo, hi], sorted; None: keep every value
        self.gaps: np.ndarray | None = None  # finite values outside the bands, per gap (k + 1)
        self._kept: list[np.ndarray] = []
        self._sorted: np.ndarray | None = None

    # accumulation
    def add(self, values) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        self.seen += v.size
        nan = np.isnan(v)
        self.n_nan += int(nan.sum())
        pos, neg = np.isposinf(v), np.isneginf(v)
        self.n_pos_inf += int(pos.sum())
        self.n_neg_inf += int(neg.sum())
        finite = v[~(nan | pos | neg)]
        self._sorted = None
        if self.bands is None:
            self._kept.append(finite.copy())
            if self.seen < self.expected and self.count >= MIN_PILOT:
                self._choose_bands()
        else:
            self._keep(finite)

    @property
    def count(self) -> int:
        """Non-NaN values seen (±inf included)."""
        return self.seen - self.n_nan

    @property
    def kept(self) -> int:
        return int(sum(k.size for k in self._kept))

    def _choose_bands(self) -> None:
        pilot = np.sort(np.concatenate(self._kept))
        p = self.count  # ranks over [-inf..., pilot..., +inf...]

        def at(rank: int) -> float:
            if rank < self.n_neg_inf:
                return -math.inf
            rank -= self.n_neg_inf
            return float(pilot[rank]) if rank < pilot.size else math.inf

        bands = []
        for q in self.fractions:
            w = self.band_sigmas * math.sqrt(2.0 * q * (1.0 - q) / p) + 2.0 / p
            lo_rank, hi_rank = math.floor((q - w) * (p - 1)), math.ceil((q + w) * (p - 1))
            lo = -math.inf if lo_rank < 0 else at(lo_rank)
            hi = math.inf if hi_rank > p - 1 else at(hi_rank)
            bands.append((lo, hi))
        bands.sort()
        merged = [list(bands[0])]
        for lo, hi in bands[1:]:
            if lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.bands = np.array(merged, dtype=np.float64)
        self.gaps = np.zeros(len(merged) + 1, dtype=np.int64)
        self._kept = []
        self._keep(pilot)

    def _keep(self, finite: np.ndarray) -> None:
        lo, hi = self.bands[:, 0], self.bands[:, 1]
        inside = ((finite[:, None] >= lo[None, :]) & (finite[:, None] <= hi[None, :])).any(axis=1)
        self._kept.append(finite[inside].copy())
        outside = finite[~inside]
        if outside.size:
            gap = np.searchsorted(hi, outside, side="left")  # bands wholly below the value
            self.gaps += np.bincount(gap, minlength=self.gaps.size)

    # reading
    def _values(self) -> np.ndarray:
        if self._sorted is None:
            self._sorted = np.sort(np.concatenate(self._kept)) if self._kept else np.zeros(0)
            self._kept = [self._sorted]
        return self._sorted

    def value(self, rank: int) -> float:
        """The ``rank``-th smallest non-NaN value (0-based); ``BandMissed`` if it was not kept."""
        if not 0 <= rank < self.count:
            raise IndexError(rank)
        if rank < self.n_neg_inf:
            return -math.inf
        r = rank - self.n_neg_inf
        kept = self._values()
        if self.bands is None:
            return float(kept[r]) if r < kept.size else math.inf
        offset = 0
        for i, (lo, hi) in enumerate(self.bands):
            if r < self.gaps[i]:
                raise BandMissed(f"rank {rank} of {self.count} fell below kept band {i} [{lo:.6g}, {hi:.6g}]")
            r -= int(self.gaps[i])
            end = int(np.searchsorted(kept, hi, side="right"))
            size = end - offset
            if r < size:
                return float(kept[offset + r])
            r -= size
            offset = end
        if r < self.gaps[-1]:
            raise BandMissed(f"rank {rank} of {self.count} fell above the kept bands")
        return math.inf

    def median(self) -> float:
        return median_at(self.count, self.value)

    def percentile(self, percent: float) -> float:
        return percentile_at(self.count, percent, self.value)


# --- sums ------------------------------------------------------------------------------------


def _block_sum(values: np.ndarray):
    """Sum of one block: exact Python int for integer arrays, numpy's pairwise float sum otherwise."""
    if values.dtype.kind in "iub":
        return int(values.sum(dtype=np.int64))
    return np.sum(values)


class Mean:
    """``np.mean`` (``nan=False``: NaN propagates), ``np.nanmean`` (``nan=True``: NaN as 0, not counted).

    ``finite=True``: ``np.mean`` of the non-NaN values (``simtrial.power._finite_stat``).
    """

    def __init__(self, nan: bool = False):
        self.nan = nan
        self.total = 0
        self.count = 0
        self.n = 0
        self.any_nan = False

    def add(self, values) -> None:
        v = np.asarray(values)
        self.n += v.size
        if v.dtype.kind == "f":
            mask = np.isnan(v)
            if mask.any():
                self.any_nan = True
                if self.nan:  # np.nanmean: the NaNs replaced by 0 in place, the sum over the whole array
                    v = np.where(mask, 0.0, v)
                    self.count += int(v.size - mask.sum())
                    self.total = self.total + _block_sum(v)
                    return
        self.count += v.size
        self.total = self.total + _block_sum(v)

    def merge(self, other: Mean) -> Mean:
        """Add another block's totals (blocks merged in trial order)."""
        self.total = self.total + other.total
        self.count += other.count
        self.n += other.n
        self.any_nan = self.any_nan or other.any_nan
        return self

    def value(self) -> float:
        if not self.nan and self.any_nan:
            return math.nan
        if self.count == 0:
            return math.nan
        if isinstance(self.total, int):
            return float(self.total) / self.count if abs(self.total) < 2**53 else self.total / self.count
        return float(np.float64(self.total) / self.count)


class FiniteMean(Mean):
    """``np.mean`` of the non-NaN values, as float (None when there are none)."""

    def add(self, values) -> None:
        v = np.asarray(values, dtype=float)
        v = v[~np.isnan(v)]
        self.n += v.size
        self.count += v.size
        self.total = self.total + _block_sum(v)

    def value(self) -> float:
        return math.nan if self.count == 0 else float(np.float64(self.total) / self.count)


class Moments:
    """Count, mean and sum of squared deviations of the non-NaN values (Chan et al.'s merge of blocks).

    One block gives ``np.mean`` and ``np.std(ddof=1)`` bit for bit (numpy's two-pass formula).
    """

    def __init__(self):
        self.count = 0
        self.total = 0.0
        self.m2 = 0.0

    def add(self, ok: np.ndarray) -> None:
        n_b = ok.size
        if n_b == 0:
            return
        total_b = np.sum(ok)
        mean_b = total_b / n_b
        dev = ok - mean_b
        m2_b = np.sum(np.multiply(dev, dev))
        if self.count == 0:
            self.count, self.total, self.m2 = n_b, total_b, m2_b
            return
        mean_a = self.total / self.count
        n = self.count + n_b
        delta = mean_b - mean_a
        self.m2 = self.m2 + m2_b + delta * delta * (self.count * n_b / n)
        self.total = self.total + total_b
        self.count = n

    def mean(self) -> float:
        return float(np.float64(self.total) / self.count)

    def std(self) -> float:
        return float(np.sqrt(np.float64(self.m2) / (self.count - 1)))


# --- the summary of TrialOutcomes blocks -----------------------------------------------------


class OutcomeSummary:
    """What ``simtrial.power.summarize`` reads from per-trial outcomes, accumulated over blocks.

    ``add(outcomes)`` takes a block's ``TrialOutcomes`` (trials in index order);
    the figures (``figures()``) equal those of the concatenated outcomes: counts
    exactly, means up to summation order, order statistics exactly.
    """

    def __init__(self, n_sims: int, band_sigmas: float | None = None):
        self.n_sims = int(n_sims)
        self.band_sigmas = band_sigmas
        self.n = 0
        self.success = 0
        self.decisions: dict[str, int] = {}
        self.hazard_ratio = self._order((0.025, 0.5, 0.975))
        self.medians = {arm: self._order((0.5,)) for arm in ("control", "experimental")}
        self.events = Mean(nan=True)
        self.events_plain = Mean()
        self.duration = FiniteMean()
        self.enrolled = Mean()
        self.estimate_means: dict[str, FiniteMean] = {}
        self.undefined = 0
        self.landmarks: dict[str, list] = {}  # population -> [(j, k, Moments, OrderStatistics, n, n_nan)]

    def _order(self, fractions) -> OrderStatistics:
        return OrderStatistics(fractions, self.n_sims, self.band_sigmas)

    def add(self, outcomes) -> None:
        n = int(np.asarray(outcomes.success).shape[0])
        self.n += n
        self.success += int(np.asarray(outcomes.success, dtype=bool).sum())
        for name, values in outcomes.decisions.items():
            self.decisions[name] = self.decisions.get(name, 0) + int(np.asarray(values, dtype=bool).sum())
        self.hazard_ratio.add(outcomes.hazard_ratio)
        self.medians["control"].add(outcomes.median_control_months)
        self.medians["experimental"].add(outcomes.median_experimental_months)
        self.events.add(outcomes.events)
        self.events_plain.add(outcomes.events)
        self.duration.add(outcomes.duration_months)
        self.enrolled.add(outcomes.enrolled)
        for name in _ARM_ESTIMATES:
            if name in outcomes.estimates:
                self.estimate_means.setdefault(name, FiniteMean()).add(outcomes.estimates[name])
        z = outcomes.estimates.get("z_efficacy_scale", outcomes.estimates.get("z"))
        if z is not None:
            self.undefined += int(np.isnan(np.asarray(z, dtype=float)).sum())
        for population, lm in outcomes.landmarks.items():
            per_trial = lm["per_trial"]
            cells = self.landmarks.get(population)
            if cells is None:
                cells = self.landmarks[population] = [
                    [j, k, Moments(), self._order((0.025, 0.975)), 0, 0]
                    for j in range(per_trial.shape[1]) for k in range(per_trial.shape[2])
                ]
            for cell in cells:
                v = np.asarray(per_trial[:, cell[0], cell[1]], dtype=float)
                nan = np.isnan(v)
                cell[2].add(v[~nan])
                cell[3].add(v)
                cell[4] += v.size
                cell[5] += int(nan.sum())

    @property
    def kept_values(self) -> int:
        """Values held for order statistics (the memory that grows with n_sims: 8 bytes each)."""
        orders = [self.hazard_ratio, *self.medians.values()]
        orders += [cell[3] for cells in self.landmarks.values() for cell in cells]
        return sum(o.kept for o in orders)


#: per-arm estimates whose means the summary reports (``simtrial.power._arm_rows``)
_ARM_ESTIMATES = ("patients_control", "patients_experimental", "events_control", "events_experimental",
                  "responders_control", "responders_experimental")


def finite_or_none(out: float) -> float | None:
    """``simtrial.power._finite_stat``'s reading of a figure: inf kept if positive, else None when not finite."""
    return out if math.isfinite(out) else (math.inf if out > 0 else None)


def finite_figure(order: OrderStatistics, read) -> float | None:
    """A figure over the non-NaN values (None if none), as ``_finite_stat`` reports it."""
    if order.count == 0:
        return None
    return finite_or_none(read(order))


def landmark_rows(summary: OutcomeSummary, models: Mapping[str, np.ndarray], months: Sequence[float]) -> list[dict]:
    rows = []
    for population, cells in summary.landmarks.items():
        model = models[population]
        for j, k, moments, order, n, n_nan in cells:
            size = moments.count
            rows.append({
                "population": population,
                "arm": ("control", "experimental")[k],
                "months": float(months[j]),
                "mean": moments.mean() if size else None,
                "mc_se": float(np.float64(moments.std()) / math.sqrt(size)) if size > 1 else None,
                "p2_5": order.percentile(2.5) if size else None,
                "p97_5": order.percentile(97.5) if size else None,
                "model": float(model[j, k]),
                "not_estimable_fraction": n_nan / n if n else math.nan,
            })
    return rows
