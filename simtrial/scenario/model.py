"""The resolved scenario: what a scenario file means, as frozen objects.

A scenario file (YAML, see ``scenarios/README.md``) is validated and resolved
into a ``Scenario``: survival models are built (directly, from evidence ids,
from hazard ratios or effect maps), HER2 spellings become category codes and
every default is filled in.  Designs read a ``Scenario``; they never see the
file.  ``Scenario.resolved`` is the same content as a plain dict, written
beside results so a run can be repeated exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simtrial.spec import Accrual, Arm, Population, Subgroup

DESIGNS = (
    "superiority",
    "noninferiority",
    "biomarker",
    "enrichment",
    "binary",
    "single_arm_binary",
    "simon_two_stage",
)
ENDPOINTS = ("time_to_event", "binary")
SURVIVAL_TESTS = ("logrank", "stratified_logrank", "cox", "stratified_cox", "fleming_harrington")
BINARY_TESTS = ("chi_square", "cmh", "risk_difference_ni", "exact_binomial")
MULTIPLICITY = ("bonferroni", "holm", "fixed_sequence")
SPENDING = ("asOF", "asP", "asHSD", "asKD", "OF", "P")


@dataclass(frozen=True)
class SequentialPlan:
    """Group-sequential monitoring: looks at fractions of the target events.

    ``efficacy_looks[l]`` / ``futility_looks[l]`` say whether look l may stop
    for efficacy / futility.  Futility is from beta-spending
    (``futility="beta_spending"``, with ``beta_spending`` a spending name),
    from fixed Z values (``futility_z``) or from fixed hazard ratios
    (``futility_hr``: stop if the observed HR is above it).
    """

    information_fractions: tuple[float, ...]
    efficacy_spending: str = "asOF"
    gamma: float | None = None  # Hwang-Shih-DeCani
    rho: float | None = None  # Kim-DeMets power family
    efficacy_looks: tuple[bool, ...] | None = None
    futility: str | None = None  # None | "beta_spending" | "z" | "hr"
    futility_looks: tuple[bool, ...] | None = None
    beta_spending: str | None = None
    beta_gamma: float | None = None
    beta_rho: float | None = None  # Kim-DeMets power family for beta spending
    binding_futility: bool = False
    futility_z: tuple[float, ...] | None = None
    futility_hr: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Analysis:
    """How the trial is analysed and decided."""

    test: str = "logrank"
    alpha: float = 0.025
    sided: int = 1
    target_events: int | None = None
    calendar_months: float | None = None
    ni_margin: float | None = None  # hazard ratio (time to event) or risk difference (binary)
    population: tuple[int, ...] | None = None  # categories of the primary analysis population; None = all
    population_name: str = "overall"
    strata: Mapping[int, int] | None = None  # analysis strata by category; None = each category its own
    subgroups: tuple[Subgroup, ...] = ()
    multiplicity: str = "holm"
    interaction: tuple[Subgroup, Subgroup] | None = None
    fh_rho: float = 0.0
    fh_gamma: float = 0.0
    landmark_months: tuple[float, ...] = ()
    p0: float | None = None  # single-arm / Simon: uninteresting response rate
    p1: float | None = None  # Simon: target response rate
    beta: float | None = None  # Simon: 1 - power
    simon_kind: str = "optimal"
    sequential: SequentialPlan | None = None


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
class Scenario:
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
    # Where the scenario came from and its plain-dict form: not part of what the trial *is*,
    # so a scenario rebuilt from its own ``resolved`` dict compares equal.
    path: str | None = field(default=None, compare=False)
    resolved: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
