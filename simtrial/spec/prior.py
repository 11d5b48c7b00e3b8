"""Priors on a trial's unknowns, for assurance: what is uncertain and how.

A ``Prior`` holds one entry per uncertain quantity, each drawn once per
simulated trial (``simtrial.priors.draw``):

* ``HazardRatioPrior`` — the experimental vs control hazard ratio in a set of
  true HER2 categories (one draw shared by the set): a mixture of normal
  components on log HR and point masses on the HR scale (one normal, or one
  point, is a mixture of one);
* ``ControlMedianPrior`` — the control arm's median (months) in a set of
  categories, log-normal (from a reported median and its 95% CI);
* ``ResponsePrior`` — an arm's response probability in a set of categories, Beta.

``correlation``: an exchangeable correlation between the log HRs of the
hazard-ratio entries that are single normals (categories of one drug are not
independent).  ``meaningful_hr_below``: a "clinically meaningful success" is a
success whose estimated HR is also below this value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from simtrial.errors import InvalidInput


@dataclass(frozen=True)
class NormalLogHR:
    """log HR ~ Normal(mean_log, sd_log**2); sd_log > 0."""

    mean_log: float
    sd_log: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean_log):
            raise InvalidInput(f"a normal prior's mean log HR must be finite, got {self.mean_log!r}")
        if not (self.sd_log > 0 and math.isfinite(self.sd_log)):
            raise InvalidInput(f"a normal prior's SD on log HR must be > 0, got {self.sd_log!r}")

    @property
    def median_hr(self) -> float:
        return math.exp(self.mean_log)

    def to_dict(self) -> dict[str, Any]:
        lo, hi = (math.exp(self.mean_log + s * 1.959963984540054 * self.sd_log) for s in (-1, 1))
        return {"kind": "normal_log_hr", "mean_log": self.mean_log, "sd_log": self.sd_log,
                "median_hr": self.median_hr, "hr_95_interval": [lo, hi]}


@dataclass(frozen=True)
class PointMassHR:
    """HR equal to ``hazard_ratio`` (e.g. 1: no effect)."""

    hazard_ratio: float

    def __post_init__(self) -> None:
        if not (self.hazard_ratio > 0 and math.isfinite(self.hazard_ratio)):
            raise InvalidInput(f"a point mass needs a hazard ratio > 0, got {self.hazard_ratio!r}")

    @property
    def mean_log(self) -> float:
        return math.log(self.hazard_ratio)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "point_mass", "hazard_ratio": self.hazard_ratio}


Component = NormalLogHR | PointMassHR


@dataclass(frozen=True)
class HazardRatioPrior:
    """One draw of the HR per trial, shared by ``categories`` (true HER2 category codes).

    ``components``/``weights``: the mixture (weights sum to 1).  ``fit``: how an
    elicited form was turned into it (e.g. SHELF quantiles), reported as is.
    """

    key: str
    categories: tuple[int, ...]
    components: tuple[Component, ...]
    weights: tuple[float, ...]
    fit: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if len(self.components) < 1 or len(self.components) != len(self.weights):
            raise InvalidInput(f"prior {self.key!r}: needs components with one weight each")
        if any(not (w > 0 and math.isfinite(w)) for w in self.weights):
            raise InvalidInput(f"prior {self.key!r}: mixture weights must be > 0, got {list(self.weights)}")
        if abs(sum(self.weights) - 1.0) > 1e-9:
            raise InvalidInput(f"prior {self.key!r}: mixture weights sum to {sum(self.weights):.6g}, not 1")

    @property
    def is_single_normal(self) -> bool:
        return len(self.components) == 1 and isinstance(self.components[0], NormalLogHR)

    @property
    def mean_log(self) -> float:
        """E[log HR] over the mixture: the prior's centre on the log scale."""
        return sum(w * c.mean_log for w, c in zip(self.weights, self.components, strict=True))

    def to_dict(self) -> dict[str, Any]:
        out = {
            "key": self.key,
            "components": [{"weight": w, **c.to_dict()} for w, c in zip(self.weights, self.components, strict=True)],
            "mean_log_hr": self.mean_log,
            "hr_at_mean_log": math.exp(self.mean_log),
        }
        if self.fit is not None:
            out["fit"] = self.fit
        return out


@dataclass(frozen=True)
class ControlMedianPrior:
    """log(control median) ~ Normal(log centre_months, log_median_se**2) in ``categories``.

    The centre is the 95% CI's geometric midpoint, so the drawn medians
    reproduce the reported CI; a published CI is often skewed around its
    median on the log scale, and ``median_months`` (the reported figure) is
    kept beside it.
    """

    key: str
    categories: tuple[int, ...]
    median_months: float
    log_median_se: float
    ci95: tuple[float, float]
    source_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.median_months > 0 and math.isfinite(self.median_months)):
            raise InvalidInput(f"prior control {self.key!r}: the median must be > 0 months, got {self.median_months!r}")
        if not (self.log_median_se > 0 and math.isfinite(self.log_median_se)):
            raise InvalidInput(f"prior control {self.key!r}: the SE of log median must be > 0, got {self.log_median_se!r}")

    @property
    def centre_months(self) -> float:
        return math.sqrt(self.ci95[0] * self.ci95[1])

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": "log_normal_median", "median_months": self.median_months,
                "centre_months": self.centre_months, "ci95": list(self.ci95), "log_median_se": self.log_median_se,
                "implied_events": 1.0 / self.log_median_se**2, "source_ids": list(self.source_ids)}


@dataclass(frozen=True)
class ResponsePrior:
    """P(response) ~ Beta(alpha, beta) for ``arm`` in ``categories``."""

    arm: str
    key: str
    categories: tuple[int, ...]
    alpha: float
    beta: float
    method: str = "given"
    source_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.arm not in ("control", "experimental"):
            raise InvalidInput(f"a response prior's arm must be control or experimental, got {self.arm!r}")
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise InvalidInput(f"prior response {self.arm}.{self.key}: Beta {name} must be > 0, got {v!r}")

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def to_dict(self) -> dict[str, Any]:
        return {"arm": self.arm, "key": self.key, "kind": "beta", "alpha": self.alpha, "beta": self.beta,
                "mean": self.mean, "method": self.method, "source_ids": list(self.source_ids)}


@dataclass(frozen=True)
class Prior:
    """Every uncertain quantity of a scenario (see the module docstring)."""

    hazard_ratio: tuple[HazardRatioPrior, ...] = ()
    control: tuple[ControlMedianPrior, ...] = ()
    response: tuple[ResponsePrior, ...] = ()
    correlation: float | None = None
    meaningful_hr_below: float | None = None
    # true categories whose experimental model moves with a drawn control median (it was
    # given relative to the control, as a hazard ratio), unless a hazard-ratio entry decides them
    experimental_follows_control: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not (self.hazard_ratio or self.control or self.response):
            raise InvalidInput("a prior needs at least one entry (hazard_ratio, control or response)")
        if self.correlation is not None:
            rho = float(self.correlation)
            normals = [p for p in self.hazard_ratio if p.is_single_normal]
            if len(normals) != len(self.hazard_ratio) or len(normals) < 2:
                raise InvalidInput("prior correlation needs two or more hazard-ratio entries, each a single normal")
            lower = -1.0 / (len(normals) - 1)
            if not lower < rho < 1.0:
                raise InvalidInput(
                    f"prior correlation {rho!r} is not a valid exchangeable correlation for {len(normals)} "
                    f"entries: it must be in ({lower:.4g}, 1)"
                )
        if self.meaningful_hr_below is not None and not (
            self.meaningful_hr_below > 0 and math.isfinite(self.meaningful_hr_below)
        ):
            raise InvalidInput(f"meaningful_hr_below must be a hazard ratio > 0, got {self.meaningful_hr_below!r}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.hazard_ratio:
            out["hazard_ratio"] = [p.to_dict() for p in self.hazard_ratio]
        if self.control:
            out["control"] = [p.to_dict() for p in self.control]
        if self.response:
            out["response"] = [p.to_dict() for p in self.response]
        if self.correlation is not None:
            out["correlation"] = self.correlation
        if self.meaningful_hr_below is not None:
            out["meaningful_hr_below"] = self.meaningful_hr_below
        if self.control:
            out["experimental_follows_control"] = list(self.experimental_follows_control)
        return out
