"""Decision rules: each design turns a Scenario into simulated trials and decisions."""

from __future__ import annotations

from simtrial.designs.base import Design, TrialOutcomes
from simtrial.designs.binary_registry import BINARY_DESIGNS
from simtrial.designs.time_to_event import TIME_TO_EVENT_DESIGNS
from simtrial.errors import InvalidInput

DESIGNS: dict[str, Design] = {**TIME_TO_EVENT_DESIGNS, **BINARY_DESIGNS}


# two-arm designs whose decision on a binary endpoint is the two-arm binary test
# (chi-square / CMH for superiority and enrichment, risk difference for NI)
_BINARY_TWO_ARM = ("superiority", "noninferiority", "enrichment")


def get_design(name: str, endpoint: str = "time_to_event") -> Design:
    """The design that runs ``name`` on ``endpoint``."""
    if endpoint == "binary" and name in _BINARY_TWO_ARM:
        return BINARY_DESIGNS["binary"]
    if endpoint == "binary" and name == "biomarker":
        raise InvalidInput(
            "design: biomarker subgroup and interaction tests are time-to-event only; "
            "for a binary endpoint use design binary with test cmh (stratified by IHC)"
        )
    try:
        return DESIGNS[name]
    except KeyError:
        raise InvalidInput(f"design must be one of {', '.join(DESIGNS)}; got {name!r}") from None


__all__ = ["DESIGNS", "Design", "TrialOutcomes", "get_design"]
