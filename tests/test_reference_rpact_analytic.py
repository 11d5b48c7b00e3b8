"""Analytic power printed beside the simulated one equals rpact's getPowerSurvival.

Fixture: tests/fixtures/rpact_simulation_survival.json (``power_analytic``,
rpact ``getPowerSurvival`` with typeOfComputation = "Schoenfeld"), made by
tests/fixtures/r/rpact_simulation_survival.R.  Fixed designs use Schoenfeld's
formula; group-sequential ones recursive integration at the planned looks
with Schoenfeld's drift, as rpact does.  Event-driven cuts always reach their
events here, so the simulated mean events equal the planned ones.
"""

from __future__ import annotations

import pytest
from rpact_reference import rpact_designs, scenario_dict

from simtrial.power import run
from simtrial.scenario import scenario_from_dict

DESIGNS = rpact_designs()


@pytest.mark.parametrize("design_id", ["d1", "d2", "d3", "d4", "d6", "d7", "d8"])
def test_analytic_power_equals_rpact(design_id: str) -> None:
    design = DESIGNS[design_id]
    expected = design["power_analytic"]["overallReject"]
    result = run(scenario_from_dict(scenario_dict(design["inputs"], n_sims=64, seed=1)))
    key = "schoenfeld_group_sequential" if design["inputs"]["kMax"] > 1 else "schoenfeld"
    assert result.analytic_power[key] == pytest.approx(expected, abs=1e-6)
