"""Scenario files: YAML -> validated, resolved ``Scenario`` (see ``scenarios/README.md``)."""

from simtrial.scenario.errors import ScenarioError
from simtrial.scenario.loader import load_scenario, scenario_from_dict
from simtrial.scenario.model import Analysis, SampleSizeSearch, Scenario, SequentialPlan, Simulation

__all__ = [
    "Analysis",
    "SampleSizeSearch",
    "Scenario",
    "ScenarioError",
    "SequentialPlan",
    "Simulation",
    "load_scenario",
    "scenario_from_dict",
]
