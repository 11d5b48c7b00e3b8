"""Decision rules: each design turns a Scenario into simulated trials and decisions."""

from __future__ import annotations

from simtrial.designs.base import Design, TrialOutcomes
from simtrial.designs.binary_registry import BINARY_DESIGNS
from simtrial.designs.time_to_event import TIME_TO_EVENT_DESIGNS

DESIGNS: dict[str, Design] = {**TIME_TO_EVENT_DESIGNS, **BINARY_DESIGNS}


def get_design(name: str) -> Design:
    try:
        return DESIGNS[name]
    except KeyError:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}; got {name!r}") from None


__all__ = ["DESIGNS", "Design", "TrialOutcomes", "get_design"]
