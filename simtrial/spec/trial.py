"""The whole trial as one frozen object: ``Trial`` (with ``Simulation`` and ``SampleSizeSearch``).

A scenario file (YAML, see ``scenarios/README.md``) is validated and resolved
into a ``Trial``: survival models are built (directly, from evidence ids,
from hazard ratios or effect maps), HER2 spellings become category codes and
every default is filled in.  The Python API builds one directly.  Designs
read a ``Trial``; they never see the file.  ``Trial.resolved`` is the same
content as a plain dict, written beside results so a run can be repeated
exactly.  ``Scenario`` is the same class under its older name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from simtrial.spec.accrual import Accrual
from simtrial.spec.analysis import Analysis
from simtrial.spec.arms import Arm
from simtrial.spec.population import Population
from simtrial.spec.prior import Prior
from simtrial.spec.sweep import SweepPlan

# the design names; what each accepts is declared in simtrial.designs.registry
DESIGNS: Final = (
    "superiority",
    "noninferiority",
    "biomarker",
    "enrichment",
    "binary",
    "single_arm_binary",
    "simon_two_stage",
    "single_arm_tte",
)
ENDPOINTS: Final = ("time_to_event", "binary")


@dataclass(frozen=True)
class Simulation:
    n_sims: int = 1000
    seed: int = 20261129


@dataclass(frozen=True)
class SampleSizeSearch:
    target_power: float = 0.8
    solve_for: str = "n_patients"  # or "events"
    minimum: int | None = None
    maximum: int | None = None
    events_per_patient: float | None = None  # fixed target_events / n_patients ratio while solving for N


@dataclass(frozen=True)
class Trial:
    name: str
    description: str
    design: str
    endpoint: str
    population: Population
    analysis: Analysis
    simulation: Simulation
    n_patients: int | None = None
    control: Arm | None = None  # time to event
    experimental: Arm | None = None
    control_response: Mapping[int, float] | None = None  # binary: P(response) per true category
    experimental_response: Mapping[int, float] | None = None
    allocation: tuple[int, int] = (1, 1)
    block_multiple: int = 2
    randomisation: str = "permuted_blocks"  # or "simple" (see simtrial.scenario._randomisation)
    randomisation_strata: Mapping[int, int] | None = None  # permuted-block strata by category; None = each category
    accrual: Accrual | None = None
    sample_size: SampleSizeSearch | None = None
    prior: Prior | None = None  # uncertainty of the unknowns, for assurance (simtrial.spec.prior)
    sweep: SweepPlan | None = None  # a sensitivity sweep over field paths (simtrial.spec.sweep, simtrial.sweeps)
    # Where the trial came from and its plain-dict form: not part of what the trial *is*,
    # so a trial rebuilt from its own ``resolved`` dict compares equal.
    path: str | None = field(default=None, compare=False)
    resolved: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


Scenario = Trial  # the older name
