"""The resolved scenario: moved to ``simtrial.spec`` (the trial as data); re-exported here.

``Scenario`` is ``simtrial.spec.Trial`` under its older name.
"""

from __future__ import annotations

from simtrial.spec.analysis import (
    BINARY_TESTS,
    MULTIPLICITY,
    SPENDING,
    SURVIVAL_TESTS,
    Analysis,
    SequentialPlan,
)
from simtrial.spec.trial import DESIGNS, ENDPOINTS, SampleSizeSearch, Scenario, Simulation, Trial

__all__ = [
    "BINARY_TESTS",
    "DESIGNS",
    "ENDPOINTS",
    "MULTIPLICITY",
    "SPENDING",
    "SURVIVAL_TESTS",
    "Analysis",
    "SampleSizeSearch",
    "Scenario",
    "SequentialPlan",
    "Simulation",
    "Trial",
]
