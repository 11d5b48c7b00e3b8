"""Event-time models as small frozen dataclasses.

Every model describes the survival function S(t) of one HER2 IHC stratum x arm,
with t in months.  Each one flattens to a ``(model_code, params)`` pair that the
engine's kernels understand (see ``simtrial.engine.models`` for the layout), so
compiled code never sees a Python object.

Proportional hazards is applied at the population level: an arm with hazard
ratio ``h`` against a model with survival ``S`` has survival ``S(t) ** h``.  For
exponential, piecewise-exponential and Weibull models this stays in the same
family; for a cure mixture it also lowers the cure fraction to ``c ** h``, which
is what a Cox model fitted to the two arms would estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from simtrial.engine.models import (
    MODEL_PIECEWISE_EXPONENTIAL,
    MODEL_TIME_VARYING_HR,
    MODEL_WEIBULL,
    pack_model_params,
)
from simtrial.errors import InvalidInput

LOG2 = math.log(2.0)


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not (value > 0.0 and math.isfinite(value)):
        raise InvalidInput(f"{name} must be a finite number > 0, got {value!r}")
    return value


def _check_probability(name: str, value: float, *, open_upper: bool = False) -> float:
    value = float(value)
    upper_ok = value < 1.0 if open_upper else value <= 1.0
    if not (value >= 0.0 and upper_ok):
        allowed = "[0, 1)" if open_upper else "[0, 1]"
        raise InvalidInput(f"{name} must be a probability in {allowed}, got {value!r}")
    return value


class SurvivalModel(Protocol):
    """What every event-time model offers."""

    def survival(self, t_months: np.ndarray | float) -> np.ndarray | float: ...

    def median(self) -> float: ...

    def quantile_time(self, survival_probability: float) -> float: ...

    def with_hazard_ratio(self, hazard_ratio: float) -> SurvivalModel: ...

    def to_kernel(self) -> tuple[int, np.ndarray]: ...


@dataclass(frozen=True)
class PiecewiseExponential:
    """Constant hazard ``hazard_per_month[j]`` from ``start_months[j]`` on.

    ``start_months`` begins at 0 and increases; the last piece lasts forever.
    """

    start_months: tuple[float, ...]
    hazard_per_month: tuple[float, ...]

    def __post_init__(self) -> None:
        starts = tuple(float(s) for s in self.start_months)
        rates = tuple(float(r) for r in self.hazard_per_month)
        if len(starts) == 0 or len(starts) != len(rates):
            raise InvalidInput(
                "start_months and hazard_per_month must be non-empty and of equal length, "
                f"got {len(starts)} and {len(rates)}"
            )
        if starts[0] != 0.0:
            raise InvalidInput(f"start_months must begin at 0, got {starts[0]!r}")
        if any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
            raise InvalidInput(f"start_months must be strictly increasing, got {starts!r}")
        for j, r in enumerate(rates):
            if not (r >= 0.0 and math.isfinite(r)):
                raise InvalidInput(f"hazard_per_month[{j}] must be a finite number >= 0, got {r!r}")
        if rates[-1] <= 0.0:
            raise InvalidInput("the last hazard_per_month must be > 0 (use a cure mixture for a plateau)")
        object.__setattr__(self, "start_months", starts)
        object.__setattr__(self, "hazard_per_month", rates)

    def cumulative_hazard(self, t_months):
        t = np.asarray(t_months, dtype=float)
        starts = np.asarray(self.start_months)
        rates = np.asarray(self.hazard_per_month)
        ends = np.append(starts[1:], np.inf)
        exposure = np.clip(t[..., None] - starts, 0.0, ends - starts)
        return (exposure * rates).sum(axis=-1)

    def survival(self, t_months):
        out = np.exp(-self.cumulative_hazard(t_months))
        return float(out) if np.ndim(out) == 0 else out

    def quantile_time(self, survival_probability: float) -> float:
        """Time at which S(t) falls to ``survival_probability``."""
        p = _check_probability("survival_probability", survival_probability)
        if p == 0.0:
            return math.inf
        if p == 1.0:
            return 0.0
        target = -math.log(p)
        acc = 0.0
        for j, (start, rate) in enumerate(zip(self.start_months, self.hazard_per_month, strict=True)):
            end = self.start_months[j + 1] if j + 1 < len(self.start_months) else math.inf
            piece = rate * (end - start)
            if acc + piece >= target:
                return start + (target - acc) / rate
            acc += piece
        return math.inf  # unreachable: the last piece has a positive rate

    def median(self) -> float:
        return self.quantile_time(0.5)

    def with_hazard_ratio(self, hazard_ratio: float) -> PiecewiseExponential:
        hr = _check_positive("hazard_ratio", hazard_ratio)
        return PiecewiseExponential(self.start_months, tuple(r * hr for r in self.hazard_per_month))

    def to_kernel(self) -> tuple[int, np.ndarray]:
        return MODEL_PIECEWISE_EXPONENTIAL, pack_model_params(
            MODEL_PIECEWISE_EXPONENTIAL,
            cure_fraction=0.0,
            hazard_ratio=1.0,
            shape_params=(len(self.start_months), *self.start_months, *self.hazard_per_month),
        )


def Exponential(*, median_months: float | None = None, hazard_per_month: float | None = None) -> PiecewiseExponential:  # noqa: N802
    """An exponential model, from its median (months) or its hazard (per month)."""
    if (median_months is None) == (hazard_per_month is None):
        raise InvalidInput("give exactly one of median_months or hazard_per_month")
    if median_months is not None:
        rate = LOG2 / _check_positive("median_months", median_months)
    else:
        rate = _check_positive("hazard_per_month", hazard_per_month)
    return PiecewiseExponential((0.0,), (rate,))


@dataclass(frozen=True)
class Weibull:
    """S(t) = exp(-(t / scale_months) ** shape)."""

    shape: float
    scale_months: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _check_positive("shape", self.shape))
        object.__setattr__(self, "scale_months", _check_positive("scale_months", self.scale_months))

    def survival(self, t_months):
        t = np.maximum(np.asarray(t_months, dtype=float), 0.0)
        out = np.exp(-((t / self.scale_months) ** self.shape))
        return float(out) if np.ndim(out) == 0 else out

    def quantile_time(self, survival_probability: float) -> float:
        p = _check_probability("survival_probability", survival_probability)
        if p == 0.0:
            return math.inf
        return self.scale_months * (-math.log(p)) ** (1.0 / self.shape)

    def median(self) -> float:
        return self.quantile_time(0.5)

    def with_hazard_ratio(self, hazard_ratio: float) -> Weibull:
        hr = _check_positive("hazard_ratio", hazard_ratio)
        return Weibull(self.shape, self.scale_months * hr ** (-1.0 / self.shape))

    def to_kernel(self) -> tuple[int, np.ndarray]:
        return MODEL_WEIBULL, pack_model_params(
            MODEL_WEIBULL, cure_fraction=0.0, hazard_ratio=1.0, shape_params=(self.shape, self.scale_months)
        )


@dataclass(frozen=True)
class CureMixture:
    """S(t) = cure_fraction + (1 - cure_fraction) * S_uncured(t), optionally raised to a hazard ratio.

    ``hazard_ratio`` (default 1) applies proportional hazards to the whole
    population, so an experimental arm is ``control.with_hazard_ratio(hr)``.
    """

    cure_fraction: float
    uncured: PiecewiseExponential | Weibull
    hazard_ratio: float = field(default=1.0)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "cure_fraction", _check_probability("cure_fraction", self.cure_fraction, open_upper=True)
        )
        object.__setattr__(self, "hazard_ratio", _check_positive("hazard_ratio", self.hazard_ratio))
        if not isinstance(self.uncured, PiecewiseExponential | Weibull):
            raise InvalidInput("uncured must be a PiecewiseExponential/Exponential or Weibull model")

    def survival(self, t_months):
        c = self.cure_fraction
        out = (c + (1.0 - c) * np.asarray(self.uncured.survival(t_months))) ** self.hazard_ratio
        return float(out) if np.ndim(out) == 0 else out

    def quantile_time(self, survival_probability: float) -> float:
        p = _check_probability("survival_probability", survival_probability)
        base = p ** (1.0 / self.hazard_ratio)
        c = self.cure_fraction
        if base <= c:
            return math.inf
        return self.uncured.quantile_time((base - c) / (1.0 - c))

    def median(self) -> float:
        return self.quantile_time(0.5)

    @property
    def population_cure_fraction(self) -> float:
        return self.cure_fraction**self.hazard_ratio

    def with_hazard_ratio(self, hazard_ratio: float) -> CureMixture:
        hr = _check_positive("hazard_ratio", hazard_ratio)
        return CureMixture(self.cure_fraction, self.uncured, self.hazard_ratio * hr)

    def to_kernel(self) -> tuple[int, np.ndarray]:
        code, inner = self.uncured.to_kernel()
        return code, pack_model_params(
            code,
            cure_fraction=self.cure_fraction,
            hazard_ratio=self.hazard_ratio,
            shape_params=tuple(inner[2:]),
        )


@dataclass(frozen=True)
class TimeVaryingHazardRatio:
    """An arm whose hazard is ``values[j]`` times the hazard of ``control`` from ``start_months[j]`` on.

    h(t) = r_j h_c(t) for t_j <= t < t_{j+1}; the last piece lasts forever.  A delayed
    effect is ``values = (1, 0.6)``, a waning one ``(0.6, 1)``.  ``control`` is an
    exponential, piecewise-exponential or Weibull model, or a cure mixture: then h_c is
    the hazard of the whole mixture (cured patients included), so proportional hazards
    within a piece means S(t) = S(t_j) (S_c(t) / S_c(t_j)) ** r_j.  The arm still
    plateaus (at exp(-sum_j r_j [H_c(t_j+1) - H_c(t_j)]), H_c(inf) = -log of the control's
    cure fraction), but it is not a cure mixture with a lowered cure fraction unless
    there is one piece (which is exactly ``control.with_hazard_ratio(r)``).
    Event times are drawn by exact inversion of the piecewise cumulative hazard
    (``simtrial.engine.eventtime``).
    """

    control: PiecewiseExponential | Weibull | CureMixture
    start_months: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        starts = tuple(float(x) for x in self.start_months)
        values = tuple(float(x) for x in self.values)
        if not starts or len(starts) != len(values):
            raise InvalidInput(
                "hazard_ratio: start_months and values must be non-empty and of equal length, "
                f"got {len(starts)} and {len(values)}"
            )
        if starts[0] != 0.0:
            raise InvalidInput(f"hazard_ratio.start_months must begin at 0, got {starts[0]!r}")
        if any(b <= a for a, b in zip(starts, starts[1:], strict=False)) or not all(map(math.isfinite, starts)):
            raise InvalidInput(f"hazard_ratio.start_months must be finite and strictly increasing, got {starts!r}")
        for j, v in enumerate(values):
            if not (v > 0.0 and math.isfinite(v)):
                raise InvalidInput(f"hazard_ratio.values[{j}] must be a finite number > 0, got {v!r}")
        if not isinstance(self.control, PiecewiseExponential | Weibull | CureMixture):
            raise InvalidInput("a time-varying hazard ratio applies to an exponential, piecewise, Weibull or cure model")
        object.__setattr__(self, "start_months", starts)
        object.__setattr__(self, "values", values)

    def control_cumulative_hazard(self, t_months):
        with np.errstate(divide="ignore"):
            return -np.log(np.asarray(self.control.survival(np.maximum(np.asarray(t_months, dtype=float), 0.0))))

    def _piece_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(H_c(t_j), A(t_j)) at each piece start: the control's and this arm's cumulative hazards."""
        hc = np.atleast_1d(self.control_cumulative_hazard(np.array(self.start_months)))
        r = np.array(self.values)
        a = np.concatenate([[0.0], np.cumsum(r[:-1] * np.diff(hc))])
        return hc, a

    def cumulative_hazard(self, t_months):
        t = np.asarray(t_months, dtype=float)
        starts = np.array(self.start_months)
        ends = np.append(starts[1:], np.inf)
        r = np.array(self.values)
        lo = self.control_cumulative_hazard(np.minimum(t[..., None], starts))
        hi = self.control_cumulative_hazard(np.minimum(t[..., None], ends))
        return (r * (hi - lo)).sum(axis=-1)

    def survival(self, t_months):
        out = np.exp(-self.cumulative_hazard(t_months))
        return float(out) if np.ndim(out) == 0 else out

    def hazard_ratio_at(self, t_months):
        """r(t): the hazard ratio against the control at ``t_months``."""
        idx = np.searchsorted(np.array(self.start_months), np.asarray(t_months, dtype=float), side="right") - 1
        out = np.array(self.values)[np.clip(idx, 0, None)]
        return float(out) if np.ndim(out) == 0 else out

    def quantile_time(self, survival_probability: float) -> float:
        p = _check_probability("survival_probability", survival_probability)
        if p == 0.0:
            return math.inf
        if p == 1.0:
            return 0.0
        target = -math.log(p)
        hc, a = self._piece_table()
        j = int(np.searchsorted(a, target, side="right") - 1)
        h = hc[j] + (target - a[j]) / self.values[j]
        if not math.isfinite(h):
            return math.inf
        return self.control.quantile_time(math.exp(-h))

    def median(self) -> float:
        return self.quantile_time(0.5)

    def with_hazard_ratio(self, hazard_ratio: float) -> TimeVaryingHazardRatio:
        hr = _check_positive("hazard_ratio", hazard_ratio)
        return TimeVaryingHazardRatio(self.control, self.start_months, tuple(v * hr for v in self.values))

    def to_kernel(self) -> tuple[int, np.ndarray]:
        code, row = self.control.to_kernel()
        header_hr = row[1]
        hc, a = self._piece_table()
        # the kernel divides E by the header hazard ratio first: tables relative to a unit header
        b = hc / header_hr
        a = a / header_hr
        tail = np.concatenate([[len(self.values)], self.start_months, self.values, b, a])
        return code + MODEL_TIME_VARYING_HR, np.concatenate([row, tail]).astype(np.float64)


def time_varying_hazard_ratio(control, start_months, values):
    """``control`` x a piecewise-constant hazard ratio; one piece is ``control.with_hazard_ratio`` itself."""
    if len(tuple(values)) == 1 and len(tuple(start_months)) == 1 and float(tuple(start_months)[0]) == 0.0:
        return control.with_hazard_ratio(float(tuple(values)[0]))
    if isinstance(control, TimeVaryingHazardRatio):
        raise InvalidInput("a time-varying hazard ratio needs a plain control model, not another time-varying one")
    return TimeVaryingHazardRatio(control, tuple(start_months), tuple(values))
