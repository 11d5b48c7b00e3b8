"""When patients enter: piecewise-constant accrual."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simtrial.errors import InvalidInput


@dataclass(frozen=True)
class Accrual:
    """Piecewise-constant accrual.

    Either ``duration_months`` (uniform entry over that time), or
    ``rates_per_month`` with ``start_months`` (the last rate continues until
    every patient is enrolled).
    """

    duration_months: float | None = None
    rates_per_month: tuple[float, ...] | None = None
    start_months: tuple[float, ...] | None = None

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

    def entry_law(self, n_patients: int) -> tuple[np.ndarray, np.ndarray]:
        """(breaks in months, cumulative probability at each break) of one patient's entry time."""
        if self.duration_months is not None:
            return np.array([0.0, self.duration_months]), np.array([0.0, 1.0])
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
        return np.array(breaks), np.array(cum)

    def duration_for(self, n_patients: int) -> float:
        return float(self.entry_law(n_patients)[0][-1])
