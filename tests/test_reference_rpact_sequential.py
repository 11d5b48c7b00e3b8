"""Group-sequential rejection probabilities against rpact's getSimulationSurvival.

Reference: ``fixtures/rpact_simulation_survival.json`` designs d6 (3 looks at
0.5/0.75/1, asOF, HR 0.75), d7 (2 looks, asOF, non-binding futility stop when
Z_eff < 0 at look 1, HR 0.7) and d8 (d6 under HR 1), 100,000 iterations each.
rpact analyses at round(450 x fraction) = 225/338/450 events with the design's
boundaries; we recompute them from the observed fractions (338/450 = 0.7511 at
d6's second look), a difference far below the Monte-Carlo error.
Tolerance: 4 combined MC SEs, sqrt(p (1 - p) / n_ours + p (1 - p) / 100000).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from rpact_reference import combined_se, rpact_designs, scenario_dict

from simtrial.power import run
from simtrial.scenario import scenario_from_dict
from simtrial.scenario.model import SequentialPlan

pytestmark = pytest.mark.mc

N_SIMS = 8000
DESIGNS = rpact_designs()


def _run(key: str, seed: int):
    sc = scenario_from_dict(scenario_dict(DESIGNS[key]["inputs"], n_sims=N_SIMS, seed=seed))
    assert sc.analysis.sequential is not None
    return run(sc)


def _close(ours: float, p_ref: float, what: str) -> None:
    tol = 4 * combined_se(p_ref, N_SIMS, 100_000)
    assert abs(ours - p_ref) <= tol, f"{what}: ours {ours:.5f} vs rpact {p_ref:.5f} (tolerance {tol:.5f})"


@pytest.mark.parametrize(("key", "seed"), [("d6", 206), ("d7", 207), ("d8", 208)])
def test_overall_and_per_stage_rejection_match_rpact(key: str, seed: int) -> None:
    reference = DESIGNS[key]["simulation"]
    assert reference["iterations"][0] == 100_000
    result = _run(key, seed)
    looks = result.looks
    assert len(looks) == DESIGNS[key]["inputs"]["kMax"]
    _close(result.power, reference["overallReject"], f"{key} overall")
    for look, p_ref in zip(looks, reference["rejectPerStage"], strict=True):
        _close(look["p_stop_efficacy"], p_ref, f"{key} look {look['look']} efficacy")
    for look, p_ref in zip(looks[:-1], reference["futilityPerStage"], strict=True):
        _close(look["p_stop_futility"], p_ref, f"{key} look {look['look']} futility")
    # per-look decisions add up to the overall one
    assert sum(lk["p_stop_efficacy"] for lk in looks) == pytest.approx(result.power, abs=1e-12)


@pytest.mark.parametrize("key", ["d6", "d7"])
def test_efficacy_bounds_match_rpacts_design(key: str) -> None:
    """Look 1 sits at exactly half the events, so its bound is the design's; later looks
    differ only through rounding of the planned events (338 / 450 instead of 0.75)."""
    bounds = DESIGNS[key]["design_boundaries"]["criticalValues_z"]
    result = run(
        scenario_from_dict(scenario_dict(DESIGNS[key]["inputs"], n_sims=50, seed=1))
    )
    z = [lk["z_efficacy"] for lk in result.looks]
    assert z[0] == pytest.approx(bounds[0], abs=1e-6)
    assert z[1:] == pytest.approx(bounds[1:], abs=5e-3)


def test_d8_type_one_error_within_mc_error_of_alpha() -> None:
    """Under H0 the asOF design spends exactly alpha = 0.025 (rpact: 0.02486)."""
    alpha = DESIGNS["d8"]["inputs"]["alpha"]
    result = _run("d8", 218)
    assert abs(result.power - alpha) <= 4 * np.sqrt(alpha * (1 - alpha) / N_SIMS)
    # the same trial run with null=True from its H1 version (d6) is the H0 trial
    h0 = run(scenario_from_dict(scenario_dict(DESIGNS["d6"]["inputs"], n_sims=N_SIMS, seed=218)), null=True)
    assert np.array_equal(h0.outcomes.success, result.outcomes.success)


@pytest.mark.parametrize(("key", "seed"), [("d1", 301), ("d3", 303), ("d4", 304)])
def test_one_look_plan_reproduces_fixed_design_exactly(key: str, seed: int) -> None:
    """A sequential plan with a single look at information 1 is the fixed design: same seed,
    identical per-trial decisions.  (Scenario files ask for 2-20 looks, so the plan is set
    on the Scenario object directly.)"""
    fixed = scenario_from_dict(scenario_dict(DESIGNS[key]["inputs"], n_sims=3000, seed=seed))
    one_look = replace(
        fixed, analysis=replace(fixed.analysis, sequential=SequentialPlan(information_fractions=(1.0,)))
    )
    a, b = run(fixed), run(one_look)
    assert b.looks is not None and len(b.looks) == 1
    assert np.array_equal(a.outcomes.success, b.outcomes.success)
    assert np.array_equal(a.outcomes.events, b.outcomes.events)
    assert 0.0 < a.power < 1.0  # decisions that can differ
