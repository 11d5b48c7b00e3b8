"""Simulated two-sided group-sequential trials: per-look stopping on both sides.

References: under H0 the per-look rejection probabilities (both sides together)
of rpact's ``getDesignGroupSequential(sided = 2)`` design
(``fixtures/r/rpact_two_sided_gs.json``, ``Rscript
tests/fixtures/r/rpact_two_sided_gs.R``); each side separately is alpha / 2
spent by the Lan-DeMets O'Brien-Fleming function (closed form).  Under H1 the
power on each side by recursive integration at Schoenfeld's drift.  Looks are
event-driven, so the observed information equals the planned one.
Tolerance: 4 Monte-Carlo SEs.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simtrial.power import run
from simtrial.scenario import ScenarioError, scenario_from_dict
from simtrial.sequential.spending import alpha_spending

pytestmark = pytest.mark.mc

FIXTURE = Path(__file__).parent / "fixtures" / "r" / "rpact_two_sided_gs.json"
SAS = next(c for c in json.loads(FIXTURE.read_text())["symmetric"] if c["id"] == "sas_asOF_k4_equal")
N_SIMS = 6000


def _scenario(*, hr: float, seed: int, sequential: dict[str, Any] | None = None, sided: int = 2,
              n_sims: int = N_SIMS) -> dict[str, Any]:
    return {
        "name": "two-sided GS",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"median_months": 12}}},
                 "experimental": {"survival": {"all": {"hazard_ratio": hr}}}},
        "n_patients": 500,
        "accrual": {"duration_months": 24},
        "analysis": {"alpha": 0.05, "sided": sided, "target_events": 240,
                     "sequential": sequential or {"information_fractions": [0.25, 0.5, 0.75, 1.0]}},
        "simulation": {"n_sims": n_sims, "seed": seed},
    }


def _tol(p: float, n: int = N_SIMS) -> float:
    return 4 * math.sqrt(max(p, 1.0 / n) * (1 - p) / n)


def test_type_one_error_per_look_matches_rpact_both_sides() -> None:
    r = run(scenario_from_dict(_scenario(hr=1.0, seed=1601)))
    looks = r.looks
    assert looks is not None and len(looks) == 4
    for look, ref in zip(looks, SAS["rejectPerStage_H0"], strict=True):
        both = look["p_stop_efficacy"] + look["p_stop_harm"]
        assert abs(both - ref) <= _tol(ref), (look["look"], both, ref)
        assert look["z_efficacy"] == pytest.approx(SAS["criticalValues"][look["look"] - 1], abs=1e-5)
        assert look["z_harm"] == pytest.approx(-SAS["criticalValues"][look["look"] - 1], abs=1e-5)
    assert abs(r.power - 0.05) <= _tol(0.05)
    # each side spends alpha / 2 = 0.025 by the OF function
    cum_side = alpha_spending("asOF", 0.025, [0.25, 0.5, 0.75, 1.0])
    up = np.cumsum([lk["p_stop_efficacy"] for lk in looks])
    down = np.cumsum([lk["p_stop_harm"] for lk in looks])
    for k in range(4):
        assert abs(up[k] - cum_side[k]) <= _tol(cum_side[k])
        assert abs(down[k] - cum_side[k]) <= _tol(cum_side[k])
    fav = r.outcomes.decisions["reject_favourable"]
    unf = r.outcomes.decisions["reject_unfavourable"]
    assert np.array_equal(fav | unf, r.outcomes.success)
    assert not np.any(fav & unf)
    assert fav.mean() == pytest.approx(up[-1], abs=1e-12)


def test_power_per_look_matches_recursive_integration() -> None:
    """HR 0.7 with 240 events: Schoenfeld's drift; simulated per-look stops within 4 MC SE (+0.01 for
    the Schoenfeld approximation)."""
    from simtrial.sequential.two_sided import two_sided_design, two_sided_probabilities

    r = run(scenario_from_dict(_scenario(hr=0.7, seed=1602)))
    t = np.array([0.25, 0.5, 0.75, 1.0])
    d = two_sided_design(t, alpha=0.05)
    drift = -math.log(0.7) * math.sqrt(240 / 4)
    up, down, _ = two_sided_probabilities(t, np.array(d.z_lower), np.array(d.z_upper), None, drift, 32)
    for look, p_up in zip(r.looks, up, strict=True):
        assert abs(look["p_stop_efficacy"] - p_up) <= _tol(p_up) + 0.01
        assert look["p_stop_harm"] <= 1e-3
    assert r.analytic_power["schoenfeld_group_sequential"] == pytest.approx(up.sum() + down.sum(), abs=1e-9)
    assert abs(r.power - (up.sum() + down.sum())) <= _tol(up.sum()) + 0.01


def test_asymmetric_harm_bound_spends_its_own_alpha() -> None:
    """Harm side: asP with 0.01 of the 0.05; efficacy side: asOF with 0.04.  Under H0 each side's cumulative
    rejection follows its own spending function."""
    seq = {"information_fractions": [0.25, 0.5, 0.75, 1.0], "efficacy_spending": "asOF",
           "harm_alpha": 0.01, "harm_spending": "asP"}
    r = run(scenario_from_dict(_scenario(hr=1.0, seed=1603, sequential=seq)))
    t = [0.25, 0.5, 0.75, 1.0]
    cum_up = alpha_spending("asOF", 0.04, t)
    cum_down = alpha_spending("asP", 0.01, t)
    up = np.cumsum([lk["p_stop_efficacy"] for lk in r.looks])
    down = np.cumsum([lk["p_stop_harm"] for lk in r.looks])
    for k in range(4):
        assert abs(up[k] - cum_up[k]) <= _tol(cum_up[k])
        assert abs(down[k] - cum_down[k]) <= _tol(cum_down[k])
    design = r.details["group_sequential_design"]
    assert design["sided"] == 2 and design["alpha_lower"] == pytest.approx(0.01)
    assert design["z_lower"][0] > -3.0  # a Pocock-type harm bound is close to zero early


def test_two_sided_futility_wedge_stops_near_zero() -> None:
    """rpact's two-sided beta spending (binding): simulated futility stops under H1 match the design's
    per-look futility probabilities at the design drift, within 4 MC SE + 0.01."""
    seq = {"information_fractions": [0.5, 0.75, 1.0], "efficacy_spending": "asP", "futility": "beta_spending",
           "beta_spending": "bsP", "binding_futility": True}
    sc = _scenario(hr=0.7, seed=1604, sequential=seq)
    sc["analysis"]["beta"] = 0.2
    r = run(scenario_from_dict(sc))
    from simtrial.sequential.two_sided import two_sided_design, two_sided_probabilities

    d = two_sided_design([0.5, 0.75, 1.0], alpha=0.05, beta=0.2, spending="asP", beta_spending="bsP",
                         binding_futility=True)
    drift = -math.log(0.7) * math.sqrt(240 / 4)
    inner = np.array(d.z_futility)
    inner[-1] = 0.0
    up, down, fut = two_sided_probabilities(np.array(d.information_fractions), np.array(d.z_lower),
                                            np.array(d.z_upper), inner, drift, 32)
    for look, f, u in zip(r.looks[:-1], fut[:-1], up[:-1], strict=True):
        assert look["z_futility"] == pytest.approx(d.z_futility[look["look"] - 1], abs=1e-9)
        assert abs(look["p_stop_futility"] - f) <= _tol(f) + 0.01
        assert abs(look["p_stop_efficacy"] - u) <= _tol(u) + 0.01
    assert r.looks[-1]["p_stop_futility"] == 0.0


def test_two_sided_run_is_reproducible_and_one_sided_unchanged() -> None:
    a = run(scenario_from_dict(_scenario(hr=0.8, seed=7, n_sims=400)))
    b = run(scenario_from_dict(_scenario(hr=0.8, seed=7, n_sims=400)))
    assert np.array_equal(a.outcomes.success, b.outcomes.success)
    one = run(scenario_from_dict(_scenario(hr=0.8, seed=7, n_sims=400, sided=1)))
    assert "p_stop_harm" not in one.looks[0]
    assert "reject_favourable" not in one.outcomes.decisions


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s["analysis"]["sequential"].update(harm_alpha=0.01), "harm_alpha"),  # one-sided
        (lambda s: (s["analysis"].update(sided=2), s["analysis"]["sequential"].update(harm_alpha=0.06)),
         "harm_alpha"),
        # fixed futility rules work in two-sided plans (tests/test_two_sided_futility.py); a binding HR rule does not
        (lambda s: (s["analysis"].update(sided=2), s["analysis"]["sequential"].update(
            futility="hr", futility_hr=[1.0, 1.0, 1.0], binding_futility=True)), "binding_futility"),
        (lambda s: (s["analysis"].update(sided=2), s["analysis"]["sequential"].update(
            efficacy_looks=[False, True, True, True])), "efficacy_looks"),
        (lambda s: (s["analysis"].update(sided=2), s["analysis"]["sequential"].update(
            harm_spending="asHSD")), "harm_gamma"),
    ],
)
def test_loader_refuses_what_two_sided_plans_cannot_do(change, field: str) -> None:
    sc = copy.deepcopy(_scenario(hr=0.8, seed=1, sided=1))
    change(sc)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(sc)
    assert field in err.value.field_path or field in str(err.value)


def test_resolved_scenario_round_trips_and_cli_prints_both_sides(tmp_path) -> None:
    import yaml
    from click.testing import CliRunner
    from simtrial_cli.main import main

    seq = {"information_fractions": [0.5, 1.0], "harm_alpha": 0.01, "harm_spending": "asHSD", "harm_gamma": -2.0}
    sc = scenario_from_dict(_scenario(hr=0.8, seed=3, sequential=seq, n_sims=200))
    again = scenario_from_dict(copy.deepcopy(dict(sc.resolved)))
    assert again.analysis.sequential == sc.analysis.sequential
    assert again.analysis.sequential.harm_gamma == -2.0
    path = tmp_path / "two_sided.yaml"
    path.write_text(yaml.safe_dump(_scenario(hr=0.8, seed=3, sequential=seq, n_sims=200)))
    res = CliRunner().invoke(main, ["run", str(path), "--quiet"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "z_harm" in res.output and "P(harm)" in res.output


def test_samplesize_start_and_printed_schoenfeld_use_the_favourable_sides_alpha() -> None:
    """An asymmetric plan (harm 0.01 of 0.05): the 'analytic events (Schoenfeld)' figure is the favourable
    side's one-sided 0.04 design, the same number as the analytic-sizes block."""
    from simtrial.samplesize import _analytic_events
    from simtrial.stats.analytic import schoenfeld_events
    from simtrial.timeline.sizes import analytic_sample_sizes

    seq = {"information_fractions": [0.5, 1.0], "efficacy_spending": "asOF", "harm_alpha": 0.01,
           "harm_spending": "asP"}
    sc = scenario_from_dict(_scenario(hr=0.7, seed=1, sequential=seq))
    printed = _analytic_events(sc, 0.8)
    block = analytic_sample_sizes(sc, 0.8)
    assert printed == pytest.approx(block["methods"]["schoenfeld"]["events_exact"], rel=1e-12)
    fixed = schoenfeld_events(0.7, 0.04, 0.8, allocation_ratio=1.0, sided=1)
    assert printed == pytest.approx(fixed * block["inflation_factor"], rel=1e-9)
    assert printed < schoenfeld_events(0.7, 0.05, 0.8, allocation_ratio=1.0, sided=2) * block["inflation_factor"]


def test_to_frame_lists_the_harm_side() -> None:
    seq = {"information_fractions": [0.5, 1.0], "efficacy_spending": "asOF"}
    r = run(scenario_from_dict(_scenario(hr=1.0, seed=3, sequential=seq)), n_sims=200)
    frame = r.to_frame().set_index("quantity")
    for look in r.looks:
        assert frame.loc[f"look{look['look']}_p_stop_harm", "value"] == look["p_stop_harm"]
