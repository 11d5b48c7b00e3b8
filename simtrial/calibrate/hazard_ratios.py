"""Hazard ratios from two arms' medians, under proportional hazards."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from simtrial.calibrate.models import PH_ASSUMPTION
from simtrial.calibrate.uncertainty import median_uncertainty
from simtrial.errors import InvalidInput
from simtrial.evidence import get_row, load_evidence

# --- hazard ratios from medians ------------------------------------------------


@dataclass(frozen=True)
class HazardRatioFromMedians:
    """HR of experimental vs control implied by two medians, and the assumption behind it."""

    hazard_ratio: float
    median_experimental_months: float
    median_control_months: float
    source_ids: tuple[str, ...] = ()
    log_hazard_ratio_se: float | None = None
    assumption: str = PH_ASSUMPTION

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source_ids"] = list(self.source_ids)
        return out


def hazard_ratio_from_medians(
    median_experimental_months: float,
    median_control_months: float,
    source_ids: tuple[str, ...] = (),
) -> HazardRatioFromMedians:
    """HR = median_control / median_experimental (exponential survival, proportional hazards)."""
    for name, value in (
        ("median_experimental_months", median_experimental_months),
        ("median_control_months", median_control_months),
    ):
        if not (value > 0 and math.isfinite(value)):
            raise InvalidInput(f"{name} must be a finite number > 0, got {value!r}")
    return HazardRatioFromMedians(
        float(median_control_months) / float(median_experimental_months),
        float(median_experimental_months),
        float(median_control_months),
        tuple(source_ids),
    )


def hazard_ratio_between(
    experimental_id: str, control_id: str, evidence: pd.DataFrame | None = None
) -> HazardRatioFromMedians:
    """HR between two reported medians; with both CIs, also the SE of log HR."""
    frame = load_evidence() if evidence is None else evidence
    rows = [get_row(i, frame) for i in (experimental_id, control_id)]
    for r in rows:
        if r["statistic"] != "median_months":
            raise InvalidInput(f"evidence {r['id']!r} is a {r['statistic']}, not a median")
    result = hazard_ratio_from_medians(
        rows[0]["value"], rows[1]["value"], (experimental_id, control_id)
    )
    if all(not math.isnan(r["ci_low"]) for r in rows):
        # Independent arms: the variances of the two log medians add.
        ses = [
            median_uncertainty(r["value"], r["ci_low"], r["ci_high"]).log_median_se for r in rows
        ]
        result = HazardRatioFromMedians(
            result.hazard_ratio,
            result.median_experimental_months,
            result.median_control_months,
            result.source_ids,
            math.hypot(*ses),
        )
    return result

__all__ = [
    "HazardRatioFromMedians",
    "hazard_ratio_from_medians",
    "hazard_ratio_between",
]
