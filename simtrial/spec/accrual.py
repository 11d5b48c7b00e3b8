"""When patients enter: piecewise accrual with uniform, truncated-exponential or linear-ramp pieces.

The entry law of one patient (entry times are iid from it, N of them) is a
table of pieces ``[breaks[j], breaks[j + 1]]`` holding probability
``cum[j + 1] - cum[j]``, each with a *kind* and a *shape*:

- ``ENTRY_UNIFORM`` (shape unused): constant density on the piece;
- ``ENTRY_EXPONENTIAL``, shape ``gamma`` (per month): density proportional to
  ``exp(-gamma (t - breaks[j]))`` (gsDesign's ``nSurvival(entry = "expo")``;
  gamma > 0 front-loads entry, gamma < 0 back-loads it);
- ``ENTRY_LINEAR``, shape ``theta`` in [-1, 1]: density proportional to
  ``1 + theta (2 s - 1)``, ``s = (t - breaks[j]) / width``, i.e. a rate
  rising (theta > 0) or falling linearly across the piece; theta =
  (end rate - start rate) / (end rate + start rate), so a ramp from 0 is 1.

Every kind has a closed-form inverse CDF, so the engine draws entry times
exactly (``simtrial.engine.cohort._sorted_entry_times``); the analytic side
reads the exact CDF (:meth:`EntryLaw.cdf`).  Arrays ``kind`` and ``shape`` are
as long as ``breaks``; their last entry (after the last break) is padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simtrial.errors import InvalidInput

# kinds of entry-law pieces (CohortArgs.accrual_kind; simtrial.engine.entry reads them): the spec owns
# them so that loading a scenario imports nothing of the engine
ENTRY_UNIFORM = 0  # constant density (shape unused)
ENTRY_EXPONENTIAL = 1  # density ~ exp(-gamma (t - start)), shape = gamma per month
ENTRY_LINEAR = 2  # density ~ 1 + theta (2 s - 1), s the fraction of the piece width, shape = theta in [-1, 1]

ENTRY_KINDS = (ENTRY_UNIFORM, ENTRY_EXPONENTIAL, ENTRY_LINEAR)

#: |gamma| x duration_months above this makes the density ratio across the accrual exceed e^200: refused
MAX_GAMMA_TIMES_DURATION = 200.0


def linear_piece_fraction(theta, p):
    """Where (as a fraction s of the piece width) a linear-density piece reaches fraction ``p`` of its mass.

    Solves s (1 - theta + theta s) = p.  For theta > 0 the root is written
    with a subtraction that is monotone in p under rounding; for theta <= 0
    with the conjugate form, which has no cancellation there.
    """
    theta = np.asarray(theta, dtype=float)
    p = np.asarray(p, dtype=float)
    b = 1.0 - theta
    root = np.sqrt(b * b + 4.0 * theta * p)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = (root - b) / (2.0 * theta)
        down = 2.0 * p / (b + root)
    return np.where(theta > 1e-3, up, down)


def exponential_piece_fraction(gamma_width, p):
    """Fraction s of the piece width below which fraction ``p`` of a truncated-exponential piece lies."""
    g = np.asarray(gamma_width, dtype=float)
    return -np.log1p(np.asarray(p, dtype=float) * np.expm1(-g)) / g


@dataclass(frozen=True, eq=False)
class EntryLaw:
    """The entry-time law of one patient: pieces (see the module docstring), exact CDF and inverse CDF."""

    breaks: np.ndarray = field(repr=False)
    cum: np.ndarray = field(repr=False)
    kind: np.ndarray = field(repr=False)
    shape: np.ndarray = field(repr=False)

    @property
    def duration_months(self) -> float:
        """When the last patient has entered (the last break)."""
        return float(self.breaks[-1])

    @property
    def piecewise_uniform(self) -> bool:
        return bool(np.all(self.kind == ENTRY_UNIFORM))

    def cdf(self, t) -> np.ndarray:
        """P(entry <= t), exact, at each ``t``."""
        t = np.asarray(t, dtype=float)
        if self.piecewise_uniform:
            return np.interp(t, self.breaks, self.cum)
        scalar = t.ndim == 0
        t = np.atleast_1d(t)
        out = np.interp(t, self.breaks, self.cum)
        for j in np.flatnonzero(self.kind[:-1] != ENTRY_UNIFORM):
            a, b = self.breaks[j], self.breaks[j + 1]
            if not b > a:
                continue
            inside = (t > a) & (t < b)
            s = (t[inside] - a) / (b - a)
            if self.kind[j] == ENTRY_EXPONENTIAL:
                g = self.shape[j] * (b - a)
                frac = np.expm1(-g * s) / np.expm1(-g)
            else:
                th = self.shape[j]
                frac = s * (1.0 - th + th * s)
            out[inside] = self.cum[j] + (self.cum[j + 1] - self.cum[j]) * frac
        return out[0] if scalar else out

    def quantile(self, u) -> np.ndarray:
        """The entry time at cumulative probability ``u`` (exact inverse CDF), elementwise."""
        u = np.asarray(u, dtype=float)
        if self.piecewise_uniform:
            # np.interp is the inverse of a piecewise-linear CDF: the numbers every caller had before shapes
            return np.interp(u, self.cum, self.breaks)
        last = self.breaks.shape[0] - 2
        seg = np.minimum(np.searchsorted(self.cum[1:], u, side="left"), last)
        a, b = self.breaks[seg], self.breaks[seg + 1]
        lo, hi = self.cum[seg], self.cum[seg + 1]
        width = hi - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.clip(np.where(width > 0, (u - lo) / width, 0.0), 0.0, 1.0)
        kind, shape = self.kind[seg], self.shape[seg]
        s = p.copy()
        expo = kind == ENTRY_EXPONENTIAL
        if expo.any():
            s[expo] = exponential_piece_fraction(shape[expo] * (b - a)[expo], p[expo])
        lin = kind == ENTRY_LINEAR
        if lin.any():
            s[lin] = linear_piece_fraction(shape[lin], p[lin])
        return np.clip(a + np.clip(s, 0.0, 1.0) * (b - a), a, b)

    def expected_last_entry(self, n_patients: int) -> float:
        """E[the latest of ``n_patients`` iid entry times] = integral over w in (0, 1) of Q(w^(1/n)).

        The latest entry is Q(U) with U ~ Beta(n, 1), and w = U^n is uniform, so the
        expectation is the mean of Q(w^(1/n)).  With w = x^4 (dw = 4 x^3 dx) the
        integrand's steepening at w -> 0 is flattened, and a midpoint rule on 2^16
        cells of x is accurate to ~1e-9 of the accrual period.
        """
        lo, hi = float(self.breaks[0]), float(self.breaks[-1])
        if not hi > lo:
            return hi
        cells = 1 << 16
        x = (np.arange(cells) + 0.5) / cells
        return float(np.mean(self.quantile(np.exp(4.0 * np.log(x) / n_patients)) * 4.0 * x**3))

    def table(self, points_per_piece: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """(breaks, cum) of a piecewise-linear CDF for numerical integrals that interpolate one.

        Exact (the law's own table) when every piece is uniform; otherwise the
        exact CDF tabulated at ``points_per_piece`` points per shaped piece.
        """
        if self.piecewise_uniform:
            return self.breaks, self.cum
        grid = [self.breaks]
        for j in np.flatnonzero(self.kind[:-1] != ENTRY_UNIFORM):
            grid.append(np.linspace(self.breaks[j], self.breaks[j + 1], points_per_piece + 1))
        t = np.unique(np.concatenate(grid))
        return t, self.cdf(t)


def _finite(name: str, value) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise InvalidInput(f"accrual.{name} must be finite, got {v!r}")
    return v


@dataclass(frozen=True)
class Accrual:
    """When patients enter.

    Either ``duration_months`` (entry over that time: uniform, or shaped by
    ``exponential_gamma_per_month`` or ``ramp_up_months``), or
    ``rates_per_month`` with ``start_months`` (the last rate continues until
    every patient is enrolled), optionally ramped up over ``ramp_up_months``
    from ``ramp_start_rate_per_month`` (default 0).

    - ``exponential_gamma_per_month`` (duration form only): truncated
      exponential entry on [0, duration], density proportional to exp(-gamma t),
      as gsDesign's ``nSurvival(entry = "expo", gamma = ...)``; gamma != 0.
    - ``ramp_up_months``: the accrual rate rises linearly from the starting rate
      (0, or ``ramp_start_rate_per_month`` in the rates form) to the steady
      profile over the first ``ramp_up_months``, then follows it.  In the
      duration form the steady rate is whatever enrols ``n_patients`` by
      ``duration_months``; in the rates form the ramp multiplies the piecewise
      rates by ``f0 + (1 - f0) t / ramp`` before the ramp ends, ``f0`` the
      starting rate over the first rate.
    """

    duration_months: float | None = None
    rates_per_month: tuple[float, ...] | None = None
    start_months: tuple[float, ...] | None = None
    exponential_gamma_per_month: float | None = None
    ramp_up_months: float | None = None
    ramp_start_rate_per_month: float | None = None

    def __post_init__(self) -> None:
        if (self.duration_months is None) == (self.rates_per_month is None):
            raise InvalidInput("accrual: give exactly one of duration_months or rates_per_month")
        if self.duration_months is not None:
            d = float(self.duration_months)
            if not (d >= 0.0 and math.isfinite(d)):
                raise InvalidInput(f"accrual.duration_months must be >= 0, got {d!r}")
            object.__setattr__(self, "duration_months", d)
        else:
            rates = tuple(float(r) for r in self.rates_per_month)
            starts = tuple(float(s) for s in (self.start_months or (0.0,) * (len(rates) == 1)))
            if not rates or len(starts) != len(rates):
                raise InvalidInput("accrual: rates_per_month and start_months must be non-empty and of equal length")
            if starts[0] != 0.0 or any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
                raise InvalidInput(f"accrual.start_months must start at 0 and increase, got {starts!r}")
            for j, r in enumerate(rates):
                if not (r >= 0.0 and math.isfinite(r)):
                    raise InvalidInput(f"accrual.rates_per_month[{j}] must be >= 0, got {r!r}")
            if rates[-1] <= 0.0:
                raise InvalidInput("accrual: the last rate_per_month must be > 0, or enrolment never completes")
            object.__setattr__(self, "rates_per_month", rates)
            object.__setattr__(self, "start_months", starts)
        self._check_shape()

    def _check_shape(self) -> None:
        gamma, ramp, ramp0 = self.exponential_gamma_per_month, self.ramp_up_months, self.ramp_start_rate_per_month
        if gamma is not None and ramp is not None:
            raise InvalidInput("accrual: give one entry shape, exponential_gamma_per_month or ramp_up_months, not both")
        if gamma is not None:
            g = _finite("exponential_gamma_per_month", gamma)
            if self.duration_months is None:
                raise InvalidInput("accrual.exponential_gamma_per_month goes with duration_months "
                                   "(truncated exponential entry over [0, duration_months])")
            if g == 0.0:
                raise InvalidInput("accrual.exponential_gamma_per_month must not be 0 (that is uniform entry: "
                                   "remove the field)")
            if not self.duration_months > 0.0:
                raise InvalidInput("accrual.exponential_gamma_per_month needs duration_months > 0")
            if abs(g) * self.duration_months > MAX_GAMMA_TIMES_DURATION:
                raise InvalidInput(
                    f"accrual.exponential_gamma_per_month ({g:g}) x duration_months ({self.duration_months:g}) "
                    f"must be within +/-{MAX_GAMMA_TIMES_DURATION:g} (beyond, all entry piles up at one end)")
            object.__setattr__(self, "exponential_gamma_per_month", g)
        if ramp0 is not None and ramp is None:
            raise InvalidInput("accrual.ramp_start_rate_per_month goes with ramp_up_months")
        if ramp is not None:
            r = _finite("ramp_up_months", ramp)
            if not r > 0.0:
                raise InvalidInput(f"accrual.ramp_up_months must be > 0, got {r!r}")
            if self.duration_months is not None:
                if r > self.duration_months:
                    raise InvalidInput(f"accrual.ramp_up_months ({r:g}) must not exceed duration_months "
                                       f"({self.duration_months:g})")
                if ramp0 is not None:
                    raise InvalidInput("accrual.ramp_start_rate_per_month goes with rates_per_month: with "
                                       "duration_months the steady rate follows from n_patients, and the ramp "
                                       "starts at 0")
            object.__setattr__(self, "ramp_up_months", r)
        if ramp0 is not None:
            r0 = _finite("ramp_start_rate_per_month", ramp0)
            first = self.rates_per_month[0]
            if not 0.0 <= r0 < first:
                raise InvalidInput(f"accrual.ramp_start_rate_per_month must be >= 0 and below the first "
                                   f"rates_per_month ({first:g}), got {r0!r}")
            object.__setattr__(self, "ramp_start_rate_per_month", r0)
        if ramp is not None and self.rates_per_month is not None and self.rates_per_month[0] <= 0.0:
            raise InvalidInput("accrual.ramp_up_months ramps up to the first rates_per_month, which is 0: "
                               "start the rates where enrolment opens")

    @property
    def shaped(self) -> bool:
        """True when some piece is not uniform (exponential or ramp-up entry)."""
        return self.exponential_gamma_per_month is not None or self.ramp_up_months is not None

    def entry_distribution(self, n_patients: int) -> EntryLaw:
        """The entry law of one patient when ``n_patients`` are enrolled (exact, every shape)."""
        if self.exponential_gamma_per_month is not None:
            return _law([0.0, self.duration_months], [0.0, 1.0], [ENTRY_EXPONENTIAL],
                        [self.exponential_gamma_per_month])
        if self.ramp_up_months is not None:
            if self.duration_months is not None:
                return self._ramped_duration()
            return self._ramped_rates(n_patients)
        breaks, cum = self._uniform_pieces(n_patients)
        return _law(breaks, cum, [ENTRY_UNIFORM] * (len(breaks) - 1), [0.0] * (len(breaks) - 1))

    def entry_law(self, n_patients: int) -> tuple[np.ndarray, np.ndarray]:
        """(breaks in months, cumulative probability at each break) of a piecewise-uniform entry law.

        Shaped laws have no such table: use :meth:`entry_distribution`.
        """
        if self.shaped:
            raise InvalidInput("accrual: exponential or ramp-up entry is not piecewise uniform; "
                               "read it with entry_distribution(n_patients)")
        breaks, cum = self._uniform_pieces(n_patients)
        return np.array(breaks), np.array(cum)

    def _uniform_pieces(self, n_patients: int) -> tuple[list[float], list[float]]:
        if self.duration_months is not None:
            return [0.0, self.duration_months], [0.0, 1.0]
        breaks = [0.0]
        cum = [0.0]
        enrolled = 0.0
        starts = self.start_months
        for j, rate in enumerate(self.rates_per_month):
            end = starts[j + 1] if j + 1 < len(starts) else math.inf
            capacity = rate * (end - starts[j])
            if enrolled + capacity >= n_patients:
                breaks.append(starts[j] + (n_patients - enrolled) / rate)
                cum.append(1.0)
                break
            enrolled += capacity
            breaks.append(end)
            cum.append(enrolled / n_patients)
        return breaks, cum

    def _ramped_duration(self) -> EntryLaw:
        d, r = self.duration_months, self.ramp_up_months
        if r >= d:
            return _law([0.0, d], [0.0, 1.0], [ENTRY_LINEAR], [1.0])
        # relative masses: the ramp's triangle r / 2, the steady part d - r (steady rate 1)
        ramp_mass = 0.5 * r / (0.5 * r + (d - r))
        return _law([0.0, r, d], [0.0, ramp_mass, 1.0], [ENTRY_LINEAR, ENTRY_UNIFORM], [1.0, 0.0])

    def _ramped_rates(self, n_patients: int) -> EntryLaw:
        ramp = self.ramp_up_months
        first = self.rates_per_month[0]
        f0 = (self.ramp_start_rate_per_month or 0.0) / first
        starts = list(self.start_months)
        edges = sorted(set(starts) | {ramp})

        def rate_at(t: float, j: int) -> float:
            factor = f0 + (1.0 - f0) * t / ramp if t < ramp else 1.0
            return self.rates_per_month[j] * factor

        breaks, cum, kind, shape = [0.0], [0.0], [], []
        enrolled = 0.0
        n = float(n_patients)
        for i, a in enumerate(edges):
            b = edges[i + 1] if i + 1 < len(edges) else math.inf
            j = max(k for k, s in enumerate(starts) if s <= a)  # the base rate in force on [a, b)
            ra = rate_at(a, j)
            rb = rate_at(b, j) if math.isfinite(b) else ra
            capacity = 0.5 * (ra + rb) * (b - a) if math.isfinite(b) else math.inf
            if enrolled + capacity >= n:
                m = n - enrolled
                slope = (rb - ra) / (b - a) if math.isfinite(b) else 0.0
                # the end e of enrolment: ra w + slope w^2 / 2 = m, w = e - a (rates never fall in a ramp-up)
                w = 2.0 * m / (ra + math.sqrt(ra * ra + 2.0 * slope * m)) if m > 0 else 0.0
                b, rb = a + w, ra + slope * w
                enrolled, last = n, True
            else:
                enrolled += capacity
                last = False
            breaks.append(b)
            cum.append(1.0 if last else enrolled / n)
            if ra == rb or ra + rb <= 0.0:
                kind.append(ENTRY_UNIFORM)
                shape.append(0.0)
            else:
                kind.append(ENTRY_LINEAR)
                shape.append((rb - ra) / (rb + ra))
            if last:
                break
        return _law(breaks, cum, kind, shape)

    def duration_for(self, n_patients: int) -> float:
        """When the last of ``n_patients`` has entered (months)."""
        return self.entry_distribution(n_patients).duration_months


def _law(breaks, cum, kind, shape) -> EntryLaw:
    # kind / shape per piece, padded by one entry so every array has the length of breaks
    return EntryLaw(
        breaks=np.asarray(breaks, dtype=np.float64),
        cum=np.asarray(cum, dtype=np.float64),
        kind=np.asarray(list(kind) + [ENTRY_UNIFORM], dtype=np.int64),
        shape=np.asarray(list(shape) + [0.0], dtype=np.float64),
    )
