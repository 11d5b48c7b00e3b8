"""Cut rules (issue 16, item 6): a minimum follow-up after the last entry, a minimum gap between looks.

The reference is a numpy implementation written here from the documented
precedence (``scenarios/README.md``, *cut rules*), computed from the same
trial's per-patient data (``simtrial.simulate.patient_data``, the cohort the
engine analyses): per look,

1. the k-th smallest calendar event time (entry + x of the patients whose event
   came first) or ``calendar_months``, whichever first; neither: no deadline;
2. no earlier than the previous look + ``min_months_after_previous_look``;
3. no earlier than the last entry + ``min_followup_after_last_entry_months``;

and the flags of the floors that moved the look.  It must match the engine's
``cut_months`` and flags exactly.  The expected look times of the timeline are
checked against E[last of n uniform entries on [0, R]] = R n / (n + 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from simtrial.engine import layout
from simtrial.errors import InvalidInput
from simtrial.scenario import scenario_from_dict
from simtrial.scenario.errors import ScenarioError
from simtrial.simulate import patient_data, simulate
from simtrial.spec import Accrual, Arm, Cut, Population, TrialSpec
from simtrial.survival import Exponential, Weibull

CTRL = {c: Exponential(median_months=10.0) for c in range(6)}
EXPT = {c: Weibull(shape=1.3, scale_months=20.0) for c in range(6)}
GAP, FOLLOW = layout.FLAG_CUT_AT_MIN_GAP, layout.FLAG_CUT_AT_MIN_FOLLOWUP
CAL = layout.FLAG_CUT_AT_CALENDAR_MAXIMUM
RULES = GAP | FOLLOW | CAL


def _spec(cuts: tuple[Cut, ...], n: int = 240, accrual: Accrual | None = None) -> TrialSpec:
    return TrialSpec(population=Population(mix={5: 0.7, 4: 0.3}), control=Arm("c", CTRL, 0.004),
                     experimental=Arm("e", EXPT, 0.004), n_patients=n,
                     accrual=accrual or Accrual(duration_months=18.0), cuts=cuts)


def _reference_cuts(spec: TrialSpec, seed: int, trial: int) -> tuple[np.ndarray, np.ndarray]:
    pts = patient_data(spec, seed, trial)
    entry = pts["entry_months"].to_numpy()
    x = pts["time_to_event_or_dropout_months"].to_numpy()
    events = np.sort((entry + x)[pts["event"].to_numpy() == 1])
    last_entry = entry.max()
    cuts, flags = [], []
    for look, c in enumerate(spec.cuts):
        flag = 0
        t = math.inf if (c.target_events is not None or c.calendar_months is not None) else -math.inf
        if c.calendar_months is not None:
            t = c.calendar_months
        if c.target_events is not None:
            if c.target_events <= events.size:
                t = min(t, events[c.target_events - 1])
            elif not math.isfinite(t):
                t = events[-1] if events.size else 0.0
            if c.calendar_months is not None and (c.target_events > events.size
                                                  or events[c.target_events - 1] > c.calendar_months):
                flag |= CAL  # the calendar maximum came first
        if c.min_months_after_previous_look is not None and look > 0:
            if cuts[-1] + c.min_months_after_previous_look > t:
                t, flag = cuts[-1] + c.min_months_after_previous_look, flag | GAP
        if c.min_followup_after_last_entry_months is not None:
            if last_entry + c.min_followup_after_last_entry_months > t:
                t, flag = last_entry + c.min_followup_after_last_entry_months, flag | FOLLOW
        cuts.append(t)
        flags.append(flag)
    return np.array(cuts), np.array(flags)


CASES: dict[str, tuple[Cut, ...]] = {
    # the minimum follow-up comes after the whichever-first deadline: later than both
    "events_calendar_then_followup": (Cut(150, 20.0, min_followup_after_last_entry_months=12.0),),
    # calendar later than last entry + follow-up: the floor does not fire
    "calendar_beyond_the_floor": (Cut(None, 40.0, min_followup_after_last_entry_months=6.0),),
    "followup_only": (Cut(None, None, min_followup_after_last_entry_months=9.0),),
    "events_then_followup": (Cut(60, min_followup_after_last_entry_months=3.0),),
    # group-sequential looks: a gap binding at some trials and not at others
    "looks_with_gap": (Cut(50), Cut(100, min_months_after_previous_look=4.0), Cut(150, min_months_after_previous_look=4.0)),
    "looks_gap_and_followup": (
        Cut(40), Cut(80, min_months_after_previous_look=6.0),
        Cut(160, 36.0, min_months_after_previous_look=6.0, min_followup_after_last_entry_months=20.0),
    ),
    # a target never reached (240 patients, a 239-event target at a short calendar-free look) + a floor
    "target_short_then_gap": (Cut(30), Cut(239, min_months_after_previous_look=200.0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_cuts_equal_the_numpy_reference(name: str) -> None:
    spec = _spec(CASES[name])
    res = simulate(spec, 24, 2024)
    for trial in range(24):
        cuts, flags = _reference_cuts(spec, 2024, trial)
        np.testing.assert_array_equal(res.cut_months[trial], cuts, err_msg=f"trial {trial}")
        got = res.flags[trial, :, 0] & RULES
        np.testing.assert_array_equal(got, flags, err_msg=f"trial {trial}")


def test_the_cases_exercise_each_branch() -> None:
    """The reference cases are not vacuous: each floor fires in some trials and not in others."""
    fired: dict[str, set[bool]] = {"gap": set(), "follow": set()}
    for cuts in CASES.values():
        res = simulate(_spec(cuts), 24, 2024)
        f = res.flags[:, :, 0]
        for look, c in enumerate(cuts):
            if c.min_months_after_previous_look is not None:
                fired["gap"].update(bool(v) for v in (f[:, look] & GAP))
            if c.min_followup_after_last_entry_months is not None:
                fired["follow"].update(bool(v) for v in (f[:, look] & FOLLOW))
    assert fired == {"gap": {True, False}, "follow": {True, False}}


def test_cuts_without_floors_are_unchanged() -> None:
    plain = (Cut(50), Cut(120, 30.0))
    res = simulate(_spec(plain), 16, 7)
    for trial in range(16):
        cuts, flags = _reference_cuts(_spec(plain), 7, trial)
        np.testing.assert_array_equal(res.cut_months[trial], cuts)
        assert not (flags & (GAP | FOLLOW)).any() and not (res.flags[trial] & (GAP | FOLLOW)).any()
        np.testing.assert_array_equal(res.flags[trial, :, 0] & CAL, flags & CAL)
    assert "cut_delayed_by_min_followup_after_last_entry" not in res.flag_counts()


def test_same_cuts_whatever_the_threads() -> None:
    spec = _spec(CASES["looks_gap_and_followup"])
    a, b = simulate(spec, 40, 9, threads=1), simulate(spec, 40, 9, threads=2)
    np.testing.assert_array_equal(a.cut_months, b.cut_months)
    np.testing.assert_array_equal(a.flags, b.flags)


def test_spec_refusals() -> None:
    with pytest.raises(InvalidInput, match="first look has no previous look"):
        _spec((Cut(50, min_months_after_previous_look=3.0), Cut(100)))
    with pytest.raises(InvalidInput, match="give target_events, calendar_months or min_followup"):
        Cut(None, None, min_months_after_previous_look=3.0)
    for bad in (0.0, -2.0, math.inf, math.nan):
        with pytest.raises(InvalidInput, match="min_followup_after_last_entry_months must be > 0"):
            Cut(10, min_followup_after_last_entry_months=bad)
        with pytest.raises(InvalidInput, match="min_months_after_previous_look must be > 0"):
            Cut(10, min_months_after_previous_look=bad)


# --- the scenario file ----------------------------------------------------------------------------

def _scenario(analysis: dict[str, Any], **over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "cut rules",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"median_months": 12}}},
                 "experimental": {"survival": {"all": {"hazard_ratio": 0.7}}}},
        "n_patients": 400,
        "accrual": {"duration_months": 18},
        "analysis": analysis,
        "simulation": {"n_sims": 200, "seed": 16},
    }
    d.update(over)
    return d


SEQ = {"information_fractions": [0.5, 1.0], "efficacy_spending": "asOF"}


def test_scenario_fields_reach_the_cuts_and_round_trip() -> None:
    from simtrial.designs._survival import build_spec

    sc = scenario_from_dict(_scenario({"target_events": 250, "calendar_months": 40,
                                       "min_followup_after_last_entry_months": 12,
                                       "min_months_after_previous_look": 6, "sequential": SEQ}))
    spec = build_spec(sc, look_fractions=sc.analysis.sequential.information_fractions)
    # analysis.calendar_months bounds the final look, and so the interim too (a look is never due after a
    # later look's calendar maximum: simtrial.spec.engine.look_calendar_maxima)
    assert spec.cuts == (Cut(125, 40.0), Cut(250, 40.0, min_months_after_previous_look=6.0,
                                             min_followup_after_last_entry_months=12.0))
    again = scenario_from_dict(sc.resolved)
    assert again.analysis == sc.analysis
    assert sc.resolved["analysis"]["min_followup_after_last_entry_months"] == 12.0
    assert sc.resolved["analysis"]["min_months_after_previous_look"] == 6.0
    plain = scenario_from_dict(_scenario({"target_events": 250}))
    assert "min_followup_after_last_entry_months" not in plain.resolved["analysis"]


BAD = {
    "zero follow-up": ({"calendar_months": 30, "min_followup_after_last_entry_months": 0},
                       "analysis.min_followup_after_last_entry_months", "> 0"),
    "text follow-up": ({"target_events": 200, "min_followup_after_last_entry_months": "a year"},
                       "analysis.min_followup_after_last_entry_months", "number"),
    "gap without looks": ({"target_events": 200, "min_months_after_previous_look": 6},
                          "analysis.min_months_after_previous_look", "sequential"),
    "negative gap": ({"target_events": 200, "min_months_after_previous_look": -1, "sequential": SEQ},
                     "analysis.min_months_after_previous_look", "> 0"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_cut_rules_are_refused_naming_the_field(case: str) -> None:
    analysis, path, allowed = BAD[case]
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_scenario(analysis), "bad.yaml")
    text = str(err.value)
    assert "bad.yaml" in text and path in text and allowed in text, text


def test_binary_endpoint_refuses_a_minimum_follow_up() -> None:
    data = {"name": "b", "design": "superiority", "endpoint": "binary", "population": {"mix": {"IHC 3+": 1.0}},
            "arms": {"control": {"response": {"all": {"probability": 0.3}}},
                     "experimental": {"response": {"all": {"probability": 0.45}}}},
            "n_patients": 200, "analysis": {"test": "chi_square", "min_followup_after_last_entry_months": 6}}
    with pytest.raises(ScenarioError, match="min_followup_after_last_entry_months"):
        scenario_from_dict(data, "b.yaml")


# --- expected look times and results ------------------------------------------------------------------

def test_timeline_look_at_the_expected_last_entry_plus_follow_up() -> None:
    from simtrial.timeline import timeline

    sc = scenario_from_dict(_scenario({"calendar_months": 20, "min_followup_after_last_entry_months": 12}))
    (look,) = timeline(sc).looks
    # E[max of n iid U(0, R)] = R n / (n + 1)
    assert look.expected_time_months == pytest.approx(18.0 * 400 / 401 + 12.0, abs=1e-6)
    assert look.cut_by == "min_followup_after_last_entry"
    later = scenario_from_dict(_scenario({"calendar_months": 40, "min_followup_after_last_entry_months": 12}))
    (look,) = timeline(later).looks
    assert look.expected_time_months == 40.0 and look.cut_by == "calendar"


@pytest.mark.mc
def test_mc_delayed_looks_and_the_reported_flags() -> None:
    from simtrial.power import run
    from simtrial.timeline import timeline

    sc = scenario_from_dict(_scenario({"target_events": 250, "min_months_after_previous_look": 10,
                                       "sequential": {"information_fractions": [0.3, 0.6, 1.0]}}))
    res = run(sc, n_sims=400, seed=5)
    d = res.to_dict()
    flags = d["flags"]
    # the gap of 10 months binds at look 2 in most trials (30% -> 60% of events takes about 6 months)
    assert flags["cut_delayed_by_min_months_after_previous_look"] > 0
    looks = d["looks"]
    # a delayed look holds more events than planned: the bounds use the observed information
    assert looks[1]["observed_information_fraction"] > looks[1]["information_fraction"] + 0.02
    tl = timeline(sc, simulate_n=400, seed=5)
    for lk in tl.looks:
        q = lk.simulated_time_quantiles
        assert q["p5"] - 0.5 <= lk.expected_time_months <= q["p95"] + 0.5, (lk, q)
    assert tl.looks[1].cut_by == "min_months_after_previous_look"
