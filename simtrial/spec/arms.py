"""One arm of a trial: an event-time model per true HER2 category and its dropout."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from simtrial.errors import InvalidInput
from simtrial.her2 import MAX_CELLS
from simtrial.spec._checks import _check_category
from simtrial.survival import SurvivalModel


@dataclass(frozen=True)
class Arm:
    """One arm: an event-time model per true HER2 category, and its dropout hazard."""

    label: str
    models: Mapping[int, SurvivalModel]
    dropout_hazard_per_month: float = 0.0

    def __post_init__(self) -> None:
        # keys are engine indices (IHC categories, or cells with hr_status): TrialSpec checks them
        # against its population
        models = {_check_category(f"arm {self.label!r} models", k, MAX_CELLS): v for k, v in dict(self.models).items()}
        for k, model in models.items():
            if not hasattr(model, "to_kernel"):
                raise InvalidInput(f"arm {self.label!r}: the model for index {k} is not a survival model")
        object.__setattr__(self, "models", models)
        h = float(self.dropout_hazard_per_month)
        if not (h >= 0.0 and math.isfinite(h)):
            raise InvalidInput(f"arm {self.label!r}: dropout_hazard_per_month must be >= 0, got {h!r}")
        object.__setattr__(self, "dropout_hazard_per_month", h)


def dropout_hazard(probability: float, by_months: float) -> float:
    """Exponential dropout hazard per month giving ``probability`` of dropout by ``by_months``."""
    p = float(probability)
    t = float(by_months)
    if not 0.0 <= p < 1.0:
        raise InvalidInput(f"dropout probability must be in [0, 1), got {p!r}")
    if not (t > 0.0 and math.isfinite(t)):
        raise InvalidInput(f"dropout time (months) must be > 0, got {t!r}")
    return -math.log1p(-p) / t
