"""A trial as plain frozen dataclasses: population, arms, allocation, accrual, cuts, analyses.

The Python API builds these directly; scenario files are one way in.  Every
engine-side constructor checks its own values and raises ``ValueError``
naming the parameter and the allowed range, so nothing invalid reaches a
kernel.

Units: times in months, rates per month, probabilities as fractions.
Arms: index 0 = control, 1 = experimental; hazard ratios are experimental /
control.

Modules: ``population`` (Population, Subgroup), ``arms`` (Arm, dropout_hazard),
``accrual`` (Accrual), ``engine`` (TrialSpec, Cut: what one engine run
simulates), ``analysis`` (Analysis, SequentialPlan and the test, multiplicity
and spending names), ``trial`` (Trial = the whole trial, Simulation,
SampleSizeSearch, the design and endpoint names).
"""

from __future__ import annotations

from simtrial.spec.accrual import Accrual
from simtrial.spec.analysis import (
    ALPHA_SPENDING,
    BETA_SPENDING,
    BINARY_TESTS,
    CLASSICAL_BOUNDS,
    FUTILITY_RULES,
    GAMMA_RANGE,
    MULTIPLICITY,
    RHO_RANGE,
    SPENDING,
    STRATIFIED_TESTS,
    SURVIVAL_TESTS,
    Analysis,
    SequentialPlan,
)
from simtrial.spec.arms import Arm, dropout_hazard
from simtrial.spec.engine import ALL_CATEGORIES, RANDOMISATION_METHODS, Cut, TrialSpec
from simtrial.spec.population import Population, Subgroup
from simtrial.spec.trial import DESIGNS, ENDPOINTS, SampleSizeSearch, Scenario, Simulation, Trial

__all__ = [
    "ALL_CATEGORIES",
    "ALPHA_SPENDING",
    "BETA_SPENDING",
    "BINARY_TESTS",
    "CLASSICAL_BOUNDS",
    "DESIGNS",
    "ENDPOINTS",
    "FUTILITY_RULES",
    "GAMMA_RANGE",
    "MULTIPLICITY",
    "RANDOMISATION_METHODS",
    "RHO_RANGE",
    "SPENDING",
    "STRATIFIED_TESTS",
    "SURVIVAL_TESTS",
    "Accrual",
    "Analysis",
    "Arm",
    "Cut",
    "Population",
    "SampleSizeSearch",
    "Scenario",
    "SequentialPlan",
    "Simulation",
    "Subgroup",
    "Trial",
    "TrialSpec",
    "dropout_hazard",
]
