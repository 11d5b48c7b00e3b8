"""Sampling distributions of reported figures (median CIs, proportions), kept for assurance."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from simtrial.calibrate.models import LOG2, Z_975
from simtrial.errors import InvalidInput
from simtrial.evidence import get_row, load_evidence

# --- uncertainty for assurance -------------------------------------------------


@dataclass(frozen=True)
class LogNormalMedian:
    """Sampling distribution of a reported median: log(median) ~ Normal(log(median), se^2).

    The SE comes from the width of the 95% CI on the log scale, SE = (log hi - log
    lo) / (2 z), which tolerates the skew of published CIs.  For an exponential
    the log hazard's SE is the same and equals 1/sqrt(events), so the CI implies
    ``implied_events`` = 1 / SE^2 observed events.
    """

    median_months: float
    ci_low: float
    ci_high: float
    log_median_se: float
    source_ids: tuple[str, ...] = ()

    @property
    def implied_events(self) -> float:
        return 1.0 / self.log_median_se**2

    @property
    def hazard_per_month(self) -> float:
        return LOG2 / self.median_months

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the median (months)."""
        return np.exp(rng.normal(math.log(self.median_months), self.log_median_se, size=n))

    def sample_hazard_per_month(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the exponential hazard ln 2 / median (per month)."""
        return LOG2 / self.sample(n, rng)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source_ids"] = list(self.source_ids)
        out["implied_events"] = self.implied_events
        return out


def median_uncertainty(
    median_months: float, ci_low: float, ci_high: float, source_ids: tuple[str, ...] = ()
) -> LogNormalMedian:
    """The log-normal sampling distribution of a median with a 95% CI."""
    if not 0 < ci_low <= median_months <= ci_high or ci_low == ci_high:
        raise InvalidInput(
            f"need 0 < ci_low <= median <= ci_high with ci_low < ci_high, got {ci_low}, {median_months}, {ci_high}"
        )
    se = (math.log(ci_high) - math.log(ci_low)) / (2.0 * Z_975)
    return LogNormalMedian(
        float(median_months), float(ci_low), float(ci_high), se, tuple(source_ids)
    )


@dataclass(frozen=True)
class BetaProportion:
    """Beta(alpha, beta) uncertainty of a response probability (ORR, pCR)."""

    alpha: float
    beta: float
    method: str
    source_ids: tuple[str, ...] = ()

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def effective_sample_size(self) -> float:
        return self.alpha + self.beta

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the probability."""
        return rng.beta(self.alpha, self.beta, size=n)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source_ids"] = list(self.source_ids)
        out["mean"] = self.mean
        return out


def beta_from_counts(
    responders: int, patients: int, source_ids: tuple[str, ...] = ()
) -> BetaProportion:
    """Jeffreys posterior Beta(x + 1/2, n - x + 1/2).

    Jeffreys rather than Beta(x+1, n-x+1): it stays centred near x/n for small
    cohorts such as Panphila's 4/13 and has good frequentist coverage.
    """
    if not (patients > 0 and 0 <= responders <= patients):
        raise InvalidInput(
            f"need 0 <= responders <= patients and patients > 0, got {responders}/{patients}"
        )
    return BetaProportion(
        responders + 0.5,
        patients - responders + 0.5,
        "Jeffreys Beta(x+1/2, n-x+1/2)",
        tuple(source_ids),
    )


def beta_from_ci(
    proportion: float, ci_low: float, ci_high: float, source_ids: tuple[str, ...] = ()
) -> BetaProportion:
    """Method of moments: mean = proportion, SD = (hi - lo) / (2 z)."""
    if not 0 <= ci_low <= proportion <= ci_high <= 1 or ci_low == ci_high:
        raise InvalidInput(
            f"need 0 <= ci_low <= proportion <= ci_high <= 1, got {ci_low}, {proportion}, {ci_high}"
        )
    variance = ((ci_high - ci_low) / (2.0 * Z_975)) ** 2
    total = proportion * (1.0 - proportion) / variance - 1.0
    if not total > 0:
        raise InvalidInput(
            f"a CI of {ci_low}-{ci_high} is too wide for a Beta with mean {proportion}"
        )
    return BetaProportion(
        float(proportion * total),
        float((1.0 - proportion) * total),
        "method of moments on the 95% CI",
        tuple(source_ids),
    )


def uncertainty(
    evidence_id: str, evidence: pd.DataFrame | None = None
) -> LogNormalMedian | BetaProportion | None:
    """The sampling distribution a row supports, or None when it has neither CI nor counts."""
    row = get_row(evidence_id, load_evidence() if evidence is None else evidence)
    has_ci = not math.isnan(row["ci_low"])
    if row["statistic"] == "median_months" and has_ci:
        return median_uncertainty(row["value"], row["ci_low"], row["ci_high"], (evidence_id,))
    if row["statistic"] == "proportion":
        if not pd.isna(row["numerator"]):
            return beta_from_counts(int(row["numerator"]), int(row["denominator"]), (evidence_id,))
        if has_ci:
            return beta_from_ci(row["value"], row["ci_low"], row["ci_high"], (evidence_id,))
    return None


@dataclass(frozen=True)
class CalibratedResponse:
    """A response probability (ORR, pCR, progression) and its uncertainty, if the row has one."""

    source_ids: tuple[str, ...]
    probability: float
    uncertainty: BetaProportion | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_ids": list(self.source_ids),
            "probability": self.probability,
            "uncertainty": None if self.uncertainty is None else self.uncertainty.to_dict(),
        }


def calibrate_response(
    evidence_id: str, evidence: pd.DataFrame | None = None
) -> CalibratedResponse:
    """The probability of a reported proportion (the reported value, not the Beta mean)."""
    frame = load_evidence() if evidence is None else evidence
    row = get_row(evidence_id, frame)
    if row["statistic"] != "proportion":
        raise InvalidInput(f"evidence {evidence_id!r} is a {row['statistic']}, not a proportion")
    if row["endpoint"] == "prevalence":
        raise InvalidInput(
            f"evidence {evidence_id!r} is a prevalence (a share of patients), not a response probability"
        )
    return CalibratedResponse((evidence_id,), float(row["value"]), uncertainty(evidence_id, frame))

__all__ = [
    "LogNormalMedian",
    "median_uncertainty",
    "BetaProportion",
    "beta_from_counts",
    "beta_from_ci",
    "uncertainty",
    "CalibratedResponse",
    "calibrate_response",
]
