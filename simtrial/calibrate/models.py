"""Survival models from reported figures: exponential, Weibull through two figures, cure mixture."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simtrial.errors import InvalidInput
from simtrial.evidence import get_row, load_evidence
from simtrial.survival import CureMixture, Exponential, PiecewiseExponential, Weibull

Z_975 = 1.959963984540054  # float(scipy.stats.norm.ppf(0.975)), bit for bit; a literal keeps scipy out of the import
LOG2 = math.log(2.0)

PH_ASSUMPTION = (
    "proportional hazards with exponential survival in both arms, so the hazard ratio "
    "is the inverse ratio of the medians: HR = median_control / median_experimental"
)

SurvivalModel = PiecewiseExponential | Weibull | CureMixture


# --- survival models from reported figures ----------------------------------


def exponential_from_median(median_months: float) -> PiecewiseExponential:
    """The exponential with this median: hazard = ln 2 / median."""
    return Exponential(median_months=median_months)


def exponential_from_rate(rate: float, time_months: float) -> PiecewiseExponential:
    """The exponential through S(time_months) = rate: hazard = -ln(rate) / time."""
    _check_landmark(rate, time_months)
    return Exponential(hazard_per_month=-math.log(rate) / time_months)


def cure_mixture_from_rate(rate: float, time_months: float, cure_fraction: float) -> CureMixture:
    """Cured fraction c plus exponential uncured: c + (1 - c) exp(-h t) = rate at the landmark."""
    _check_landmark(rate, time_months)
    if not 0.0 <= cure_fraction < rate:
        raise InvalidInput(
            f"cure_fraction must lie in [0, rate) = [0, {rate}) for the curve to pass through the "
            f"landmark, got {cure_fraction!r}"
        )
    uncured_rate = (rate - cure_fraction) / (1.0 - cure_fraction)
    return CureMixture(cure_fraction, exponential_from_rate(uncured_rate, time_months))


def weibull_from_median_and_rate(median_months: float, rate: float, time_months: float) -> Weibull:
    """The Weibull with S(median) = 1/2 and S(time) = rate, solved in closed form.

    With S(t) = exp(-(t/scale)^shape), log(-log S(t)) is linear in log t, so two
    points fix shape (the slope) and scale.
    """
    _check_landmark(rate, time_months)
    if not median_months > 0:
        raise InvalidInput(f"median_months must be > 0, got {median_months!r}")
    if time_months == median_months or (time_months < median_months) != (rate > 0.5):
        raise InvalidInput(
            f"a landmark rate {rate} at {time_months} months is inconsistent with a median of "
            f"{median_months} months (survival must fall through 1/2 at the median)"
        )
    median_months, rate, time_months = float(median_months), float(rate), float(time_months)
    shape = (math.log(LOG2) - math.log(-math.log(rate))) / (
        math.log(median_months) - math.log(time_months)
    )
    scale = median_months / LOG2 ** (1.0 / shape)
    return Weibull(shape=shape, scale_months=scale)


def _check_landmark(rate: float, time_months: float) -> None:
    if not 0.0 < rate < 1.0:
        raise InvalidInput(f"a landmark rate must lie strictly between 0 and 1, got {rate!r}")
    if not (time_months > 0 and math.isfinite(time_months)):
        raise InvalidInput(f"time_months must be a finite number > 0, got {time_months!r}")


def describe_model(model: SurvivalModel) -> tuple[str, dict[str, float]]:
    """A model's name and parameters in trial designers' units, for reports."""
    if isinstance(model, CureMixture):
        inner_name, inner = describe_model(model.uncured)
        params = {"cure_fraction": model.cure_fraction, "hazard_ratio": model.hazard_ratio}
        params.update({f"uncured_{k}": v for k, v in inner.items()})
        return f"CureMixture({inner_name})", params
    if isinstance(model, Weibull):
        return "Weibull", {"shape": model.shape, "scale_months": model.scale_months}
    if len(model.hazard_per_month) == 1:
        rate = model.hazard_per_month[0]
        return "Exponential", {"hazard_per_month": rate, "median_months": LOG2 / rate}
    params = {f"start_months_{j}": s for j, s in enumerate(model.start_months)}
    params.update({f"hazard_per_month_{j}": r for j, r in enumerate(model.hazard_per_month)})
    return "PiecewiseExponential", params


@dataclass(frozen=True)
class CalibratedModel:
    """A survival model fitted to evidence rows, with how and on what assumptions."""

    source_ids: tuple[str, ...]
    model: SurvivalModel
    method: str
    assumptions: tuple[str, ...] = ()

    @property
    def model_name(self) -> str:
        return describe_model(self.model)[0]

    @property
    def parameters(self) -> dict[str, float]:
        return describe_model(self.model)[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_ids": list(self.source_ids),
            "model": self.model_name,
            "parameters": self.parameters,
            "method": self.method,
            "assumptions": list(self.assumptions),
        }


def _same_arm(evidence: pd.DataFrame, row: pd.Series) -> pd.DataFrame:
    keys = ("trial", "regimen", "arm_role", "her2_subgroup", "subgroup_reported", "endpoint")
    mask = np.ones(len(evidence), dtype=bool)
    for key in keys:
        mask &= (evidence[key] == row[key]).to_numpy()
    return evidence[mask]


def landmark_partner(evidence_id: str, evidence: pd.DataFrame | None = None) -> str | None:
    """The other half of a median + landmark pair reported for the same arm, if any."""
    frame = load_evidence() if evidence is None else evidence
    row = get_row(evidence_id, frame)
    other = {"median_months": "rate_at_months", "rate_at_months": "median_months"}.get(
        row["statistic"]
    )
    if other is None:
        return None
    partners = _same_arm(frame, row)
    partners = partners[partners["statistic"] == other]
    return str(partners.index[0]) if len(partners) == 1 else None


def calibrate(
    evidence_id: str,
    *,
    pair: bool = True,
    cure_fraction: float | None = None,
    evidence: pd.DataFrame | None = None,
) -> CalibratedModel:
    """The survival model of one reported median or landmark rate.

    With ``pair`` (default) a median and a landmark rate reported for the same
    arm are used together (Weibull through both); otherwise one figure gives an
    exponential, or a cure mixture when ``cure_fraction`` is given for a rate.
    """
    frame = load_evidence() if evidence is None else evidence
    row = get_row(evidence_id, frame)
    statistic = row["statistic"]
    if statistic not in ("median_months", "rate_at_months"):
        raise InvalidInput(
            f"evidence {evidence_id!r} is a {statistic}, not a median or landmark rate; "
            "use calibrate_response for proportions"
        )
    partner = landmark_partner(evidence_id, frame) if pair and cure_fraction is None else None
    if partner is not None:
        median_row, rate_row = (row, get_row(partner, frame))
        if statistic == "rate_at_months":
            median_row, rate_row = rate_row, row
        model = weibull_from_median_and_rate(
            median_row["value"], rate_row["value"], rate_row["time_months"]
        )
        return CalibratedModel(
            (str(median_row["id"]), str(rate_row["id"])),
            model,
            "Weibull through the median and the landmark rate (exact)",
            ("Weibull shape: the hazard changes monotonically over time",),
        )
    if statistic == "median_months":
        return CalibratedModel(
            (evidence_id,),
            exponential_from_median(row["value"]),
            "exponential with the reported median",
            ("constant hazard over time",),
        )
    if cure_fraction is not None:
        return CalibratedModel(
            (evidence_id,),
            cure_mixture_from_rate(row["value"], row["time_months"], cure_fraction),
            "cure mixture through the landmark rate",
            (
                f"cure fraction {cure_fraction} supplied by the user; constant hazard in the uncured",
            ),
        )
    return CalibratedModel(
        (evidence_id,),
        exponential_from_rate(row["value"], row["time_months"]),
        "exponential through the landmark rate",
        ("constant hazard over time (no cure fraction)",),
    )

__all__ = [
    "Z_975",
    "LOG2",
    "PH_ASSUMPTION",
    "SurvivalModel",
    "exponential_from_median",
    "exponential_from_rate",
    "cure_mixture_from_rate",
    "weibull_from_median_and_rate",
    "describe_model",
    "CalibratedModel",
    "landmark_partner",
    "calibrate",
]
