"""The rpact survival fixture (``fixtures/rpact_simulation_survival.json``) as scenario dicts.

Each rpact design's ``inputs`` are written out in the scenario schema
(``scenarios/README.md``), field by field, following the fixture's
``conventions``: group 1 = experimental, group 2 = control;
``allocation1 : allocation2`` = experimental : control; uniform accrual of
``maxNumberOfSubjects`` over ``accrualTime``; exponential dropout with
P(dropout by ``dropoutTime``) = ``dropoutRate`` per arm; ``hazardRatio`` is
the ratio of hazard functions (for a Weibull too: lambda1 = lambda2 *
HR^(1/kappa)), which is what our ``{hazard_ratio: x}`` (S_c(t)^x) means.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "rpact_simulation_survival.json"


def rpact_designs() -> dict[str, dict[str, Any]]:
    """The fixture's designs by short id (``d1`` ... ``d8``)."""
    data = json.loads(FIXTURE.read_text())
    return {d["id"].split("_")[0]: d for d in data["designs"]}


def combined_se(p: float, n_ours: int, n_rpact: int) -> float:
    """MC SE of the difference of two independent estimates of the same probability p."""
    return math.sqrt(p * (1 - p) / n_ours + p * (1 - p) / n_rpact)


def scenario_dict(inputs: dict[str, Any], *, n_sims: int, seed: int) -> dict[str, Any]:
    """An rpact design's inputs as a scenario dict (log-rank, or the Cox NI test if thetaH0 != 1)."""
    kappa = inputs["kappa"]
    if kappa == 1:
        control_model: dict[str, Any] = {"median_months": inputs["median2"]}
    else:
        control_model = {"weibull": {"shape": kappa, "median_months": inputs["median2"]}}
    noninferiority = inputs["thetaH0"] != 1
    assert inputs["accrualTime"][0] == 0 and len(inputs["accrualTime"]) == 2
    assert inputs["sided"] == 1 and inputs["directionUpper"] is False
    analysis: dict[str, Any] = {
        "test": "cox" if noninferiority else "logrank",
        "alpha": inputs["alpha"],
        "sided": 1,
        "target_events": inputs["maxNumberOfEvents"],
    }
    if noninferiority:
        analysis["ni_margin"] = inputs["thetaH0"]
    if inputs["kMax"] > 1:
        assert inputs["typeOfDesign"] == "asOF"
        plan: dict[str, Any] = {
            "information_fractions": list(inputs["informationRates"]),
            "efficacy_spending": "asOF",
        }
        if inputs["futilityBounds_z"]:
            plan.update(
                futility="z", futility_z=list(inputs["futilityBounds_z"]),
                binding_futility=bool(inputs["bindingFutility"]),
            )
        analysis["sequential"] = plan
    return {
        "name": inputs.get("id", "rpact design"),
        "design": "noninferiority" if noninferiority else "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {
            "control": {
                "survival": {"all": control_model},
                "dropout": {"probability": inputs["dropoutRate2"], "by_months": inputs["dropoutTime"]},
            },
            "experimental": {
                "survival": {"all": {"hazard_ratio": inputs["hazardRatio"]}},
                "dropout": {"probability": inputs["dropoutRate1"], "by_months": inputs["dropoutTime"]},
            },
        },
        "allocation": {
            "control": inputs["allocation2_control"],
            "experimental": inputs["allocation1_experimental"],
        },
        "n_patients": inputs["maxNumberOfSubjects"],
        "accrual": {"duration_months": inputs["accrualTime"][1]},
        "analysis": analysis,
        "simulation": {"n_sims": n_sims, "seed": seed},
    }
