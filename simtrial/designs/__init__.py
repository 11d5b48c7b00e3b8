"""Decision rules: each design turns a Trial into simulated trials and decisions.

What a design accepts is declared in ``simtrial.designs.registry``, which
imports no implementation: the implementations (``DESIGNS``, ``Design``,
``TrialOutcomes``) load on first use, so the scenario loader can read the
registry without importing numba or scipy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from simtrial.designs.registry import REGISTRY
from simtrial.errors import InvalidInput

if TYPE_CHECKING:
    from simtrial.designs.base import Design, TrialOutcomes

_LAZY = {"Design": "simtrial.designs.base", "TrialOutcomes": "simtrial.designs.base"}


def _implementations() -> dict[str, Design]:
    from simtrial.designs.binary_registry import BINARY_DESIGNS
    from simtrial.designs.single_arm_tte import SingleArmTimeToEventDesign
    from simtrial.designs.time_to_event import TIME_TO_EVENT_DESIGNS

    return {**TIME_TO_EVENT_DESIGNS, **BINARY_DESIGNS, "single_arm_tte": SingleArmTimeToEventDesign()}


def __getattr__(name: str) -> Any:
    if name == "DESIGNS":
        value: Any = _implementations()
    elif name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'simtrial.designs' has no attribute {name!r}")
    globals()[name] = value
    return value


def get_design(name: str, endpoint: str = "time_to_event") -> Design:
    """The design that runs ``name`` on ``endpoint`` (the registry routes, e.g. superiority on binary -> binary)."""
    info = REGISTRY.get(name)
    if info is None:
        raise InvalidInput(f"design must be one of {', '.join(REGISTRY)}; got {name!r}")
    why = info.endpoint_error(endpoint)
    if why is not None:
        raise InvalidInput(why)
    designs: dict[str, Design] = globals().get("DESIGNS") or __getattr__("DESIGNS")
    return designs[info.implementation(endpoint)]


__all__ = ["DESIGNS", "REGISTRY", "Design", "TrialOutcomes", "get_design"]
