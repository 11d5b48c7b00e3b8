"""Calendar maxima for interim looks (``analysis.sequential.calendar_months``) and the flag that says which rule
set each look (``cut_at_calendar_maximum``) — issue 16, item 6.

The reference is written here from the documented precedence (``scenarios/README.md``, *Cut rules*), from the
scenario's own per-look lists and the trial's per-patient data (``simtrial.simulate.patient_data``), without
the package's ``look_calendar_maxima``:

1. each look's maximum is the smallest of its own (``null``: none; the final one ``analysis.calendar_months``)
   and those of the later looks;
2. the deadline: the k-th smallest calendar event time or that maximum, whichever first (the maximum when the
   k-th event never comes), flagged ``cut_at_calendar_maximum`` when the maximum came strictly first;
3. the gap after the previous look, then the minimum follow-up after the last entry (the final look).

It must match the engine's ``cut_months`` and flags exactly.  The timeline's expected look times are checked
against a closed form of E[D(t)] for exponential arms with uniform entry, solved with scipy's brentq.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.optimize import brentq
from simtrial_cli.main import main

from simtrial.designs._survival import build_spec
from simtrial.engine import layout
from simtrial.scenario import scenario_from_dict
from simtrial.scenario.errors import ScenarioError
from simtrial.simulate import patient_data, simulate

CAL, GAP, FOLLOW = (layout.FLAG_CUT_AT_CALENDAR_MAXIMUM, layout.FLAG_CUT_AT_MIN_GAP,
                    layout.FLAG_CUT_AT_MIN_FOLLOWUP)
RULES = CAL | GAP | FOLLOW
MEDIAN_CONTROL = 12.0


def _scenario(analysis: dict[str, Any], *, hr: float = 0.7, n: int = 300, accrual: float = 18.0,
              n_sims: int = 200, dropout: float | None = None) -> dict[str, Any]:
    arms: dict[str, Any] = {"control": {"survival": {"all": {"median_months": MEDIAN_CONTROL}}},
                            "experimental": {"survival": {"all": {"hazard_ratio": hr}}}}
    if dropout is not None:
        for arm in arms.values():
            arm["dropout"] = {"hazard_per_month": dropout}
    return {
        "name": "interim calendar maxima",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": arms,
        "n_patients": n,
        "accrual": {"duration_months": accrual},
        "analysis": copy.deepcopy(analysis),
        "simulation": {"n_sims": n_sims, "seed": 16},
    }


def _reference(analysis: dict[str, Any], pts) -> tuple[np.ndarray, np.ndarray]:
    """Cut times and rule flags of one trial, from the YAML analysis block and the trial's patients."""
    entry = pts["entry_months"].to_numpy()
    x = pts["time_to_event_or_dropout_months"].to_numpy()
    events = np.sort((entry + x)[pts["event"].to_numpy() == 1])
    seq = analysis["sequential"]
    fractions = seq["information_fractions"]
    targets = [max(1, int(round(f * analysis["target_events"]))) for f in fractions]
    own = list(seq.get("calendar_months") or [None] * (len(fractions) - 1) + [analysis.get("calendar_months")])
    own = [math.inf if c is None else float(c) for c in own]
    maxima = np.minimum.accumulate(np.array(own)[::-1])[::-1]  # 1. no look due after a later look's maximum
    gap = analysis.get("min_months_after_previous_look")
    follow = analysis.get("min_followup_after_last_entry_months")
    cuts: list[float] = []
    flags: list[int] = []
    for look, (k, cap) in enumerate(zip(targets, maxima, strict=True)):
        flag = 0
        kth = events[k - 1] if k <= events.size else math.inf
        if cap < kth:  # 2. the maximum came strictly first
            t, flag = cap, CAL
        else:
            t = kth if math.isfinite(kth) else (events[-1] if events.size else 0.0)
        if gap is not None and look > 0 and cuts[-1] + gap > t:  # 3. the floors
            t, flag = cuts[-1] + gap, flag | GAP
        if follow is not None and look == len(targets) - 1 and entry.max() + follow > t:
            t, flag = entry.max() + follow, flag | FOLLOW
        cuts.append(t)
        flags.append(flag)
    return np.array(cuts), np.array(flags)


# 300 patients over 18 months, control median 12, HR 0.7 (closed form below): the expected 63rd event near
# month 14, the 125th near 20.7, the 168th near 26.6, the 250th near 47.2
CASES: dict[str, dict[str, Any]] = {
    # the interim maximum binds in some trials and not in others, the final one likewise
    "both_looks": {"target_events": 250, "sequential": {"information_fractions": [0.5, 1.0],
                                                        "calendar_months": [21, 47]}},
    # the final's maximum caps the interim (null = none of its own): an interim due after it is at it
    "interim_capped_by_final": {"target_events": 250, "calendar_months": 21,
                                "sequential": {"information_fractions": [0.5, 1.0]}},
    "null_interim_capped": {"target_events": 280, "sequential": {"information_fractions": [0.6, 1.0],
                                                                 "calendar_months": [None, 26.5]}},
    # three looks, a gap that delays a calendar-fired look, and the minimum follow-up on the final
    "three_looks_with_floors": {
        "target_events": 250, "min_months_after_previous_look": 4, "min_followup_after_last_entry_months": 30,
        "sequential": {"information_fractions": [0.25, 0.5, 1.0], "calendar_months": [14, 17, 60]}},
    # equal maxima: both looks at month 20 when neither target has come
    "equal_maxima": {"target_events": 250, "sequential": {"information_fractions": [0.5, 1.0],
                                                          "calendar_months": [20, 20]}},
}
# with dropout (0.02 per month) about 200 of 300 patients ever have their event: a target of 280 never comes,
# the look is at its maximum (and target_events_not_reached)
DROPOUT = 0.02
NEVER = {"target_events": 280, "sequential": {"information_fractions": [0.5, 1.0], "calendar_months": [20, 200]}}


def _spec_of(analysis: dict[str, Any], dropout: float | None = None):
    sc = scenario_from_dict(_scenario(analysis, dropout=dropout))
    return sc, build_spec(sc, look_fractions=sc.analysis.sequential.information_fractions)


@pytest.mark.parametrize("name", [*sorted(CASES), "target_never_reached"])
def test_engine_cuts_and_flags_equal_the_reference(name: str) -> None:
    analysis, dropout = (NEVER, DROPOUT) if name == "target_never_reached" else (CASES[name], None)
    _, spec = _spec_of(analysis, dropout)
    res = simulate(spec, 30, 2026)
    for trial in range(30):
        cuts, flags = _reference(analysis, patient_data(spec, 2026, trial))
        np.testing.assert_array_equal(res.cut_months[trial], cuts, err_msg=f"{name} trial {trial}")
        np.testing.assert_array_equal(res.flags[trial, :, 0] & RULES, flags, err_msg=f"{name} trial {trial}")
        assert np.all(np.diff(res.cut_months[trial]) >= 0), "looks out of calendar order"


def test_the_cases_exercise_each_branch() -> None:
    """Not vacuous: the calendar flag fires at interim and final looks in some trials and not in others, and a
    gap delays a calendar-fired look."""
    seen: dict[str, set[bool]] = {"interim": set(), "final": set()}
    delayed_calendar_look = False
    for analysis in CASES.values():
        _, spec = _spec_of(analysis)
        f = simulate(spec, 30, 2026).flags[:, :, 0]
        seen["interim"].update(bool(v) for v in (f[:, 0] & CAL))
        seen["final"].update(bool(v) for v in (f[:, -1] & CAL))
        delayed_calendar_look |= bool(np.any(((f & CAL) != 0) & ((f & GAP) != 0)))
    assert seen == {"interim": {True, False}, "final": {True, False}}
    assert delayed_calendar_look


def test_a_target_never_reached_cuts_at_the_maximum_with_both_flags() -> None:
    _, spec = _spec_of(NEVER, DROPOUT)
    res = simulate(spec, 30, 2026)
    final = res.flags[:, -1, 0]
    assert np.all(final & CAL) and np.all(final & layout.FLAG_TARGET_EVENTS_NOT_REACHED)
    assert np.all(res.cut_months[:, -1] == 200.0)


def test_a_look_without_its_own_maximum_is_capped_by_the_later_one() -> None:
    _, spec = _spec_of(CASES["null_interim_capped"])
    assert [c.calendar_months for c in spec.cuts] == [26.5, 26.5]
    _, spec = _spec_of(CASES["interim_capped_by_final"])
    assert [c.calendar_months for c in spec.cuts] == [21.0, 21.0]


# --- the scenario file ------------------------------------------------------------------------------

def test_round_trip_of_the_resolved_scenario() -> None:
    sc = scenario_from_dict(_scenario(CASES["three_looks_with_floors"]))
    resolved = sc.resolved["analysis"]
    assert resolved["sequential"]["calendar_months"] == [14.0, 17.0, 60.0]
    assert resolved["calendar_months"] == 60.0  # the final entry supplies analysis.calendar_months
    again = scenario_from_dict(sc.resolved)
    assert again.analysis == sc.analysis
    with_null = scenario_from_dict(_scenario(CASES["null_interim_capped"]))
    assert with_null.resolved["analysis"]["sequential"]["calendar_months"] == [None, 26.5]
    assert scenario_from_dict(with_null.resolved).analysis == with_null.analysis
    # the final entry agreeing with analysis.calendar_months is accepted and changes nothing
    same = scenario_from_dict(_scenario({"target_events": 250, "calendar_months": 47,
                                         "sequential": {"information_fractions": [0.5, 1.0],
                                                        "calendar_months": [21, 47]}}))
    assert same.analysis == scenario_from_dict(_scenario(CASES["both_looks"])).analysis


def _with_maxima(maxima: Any, **analysis: Any) -> dict[str, Any]:
    return {"target_events": 300, **analysis,
            "sequential": {"information_fractions": [0.5, 1.0], "calendar_months": maxima}}


BAD: dict[str, tuple[dict[str, Any], str, str]] = {
    "too short": (_with_maxima([40]), "needs one value per look (2)", "a list of 2 months"),
    "too long": (_with_maxima([20, 30, 40]), "needs one value per look (2)", "a list of 2 months"),
    "decreasing": (_with_maxima([40, 30]), "decreases from 40 to 30", "not decreasing"),
    "decreasing across a null": (_with_maxima([40, None]), "contradicts", "remove analysis.calendar_months"),
    "zero": (_with_maxima([0, 30]), "out of range", "> 0"),
    "negative": (_with_maxima([20, -3]), "out of range", "> 0"),
    "text": (_with_maxima(["soon", 30]), "must be a number", "> 0"),
    "not a list": (_with_maxima(30), "must be a list", "YAML list"),
    "all null": (_with_maxima([None, None]), "every look is null", "remove calendar_months"),
    "contradicts analysis.calendar_months": (_with_maxima([20, 50], calendar_months=60),
                                             "contradicts analysis.calendar_months (60)", "a final entry of 60"),
    "null final with analysis.calendar_months": (_with_maxima([20, None], calendar_months=60),
                                                 "null (no maximum)", "a final entry of 60"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_maxima_are_refused_naming_the_file_field_and_what_is_allowed(case: str) -> None:
    analysis, problem, allowed = BAD[case]
    if case == "decreasing across a null":
        analysis["calendar_months"] = 30  # [40, null] with a final maximum of 30: null contradicts it
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_scenario(analysis), "bad.yaml")
    text = str(err.value)
    assert "bad.yaml" in text and "analysis.sequential.calendar_months" in text, text
    assert problem in text and allowed in text, text


def test_the_cli_refuses_with_exit_2_and_reports_the_rules(tmp_path) -> None:
    import yaml

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_scenario(_with_maxima([40, 30]))))
    out = CliRunner().invoke(main, ["run", str(bad)])
    assert out.exit_code == 2 and "Traceback" not in out.output, out.output
    assert "analysis.sequential.calendar_months" in out.output
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_scenario(CASES["both_looks"], n_sims=120)))
    text = CliRunner().invoke(main, ["run", str(good)])
    assert text.exit_code == 0, text.output
    assert "cut by (trials)" in text.output and "calendar max" in text.output
    js = CliRunner().invoke(main, ["run", str(good), "--format", "json"])
    d = json.loads(js.output)
    spec = _spec_of(CASES["both_looks"])[1]
    res = simulate(spec, 120, 16)
    for look in range(2):  # the looks table counts the engine's per-look flags
        expected = int(((res.flags[:, look, 0] & CAL) != 0).sum())
        assert d["looks"][look]["flags"]["cut_at_calendar_maximum"] == expected
    assert d["flags"]["cut_at_calendar_maximum"] == int(((res.flags[:, -1, 0] & CAL) != 0).sum())


def test_per_trial_columns_say_which_rule_set_each_look() -> None:
    from simtrial.power import run

    analysis = CASES["three_looks_with_floors"]
    sc = scenario_from_dict(_scenario(analysis))
    r = run(sc, n_sims=60, seed=3, per_trial=True)
    frame = r.per_trial_frame()
    spec = build_spec(sc, look_fractions=sc.analysis.sequential.information_fractions)
    for trial in (0, 7, 31):
        _, flags = _reference(analysis, patient_data(spec, 3, trial))
        for look in range(3):
            assert frame[f"cut_at_calendar_maximum_look{look + 1}"][trial] == bool(flags[look] & CAL)
            assert frame[f"cut_delayed_by_min_months_after_previous_look_look{look + 1}"][trial] == bool(
                flags[look] & GAP)
    # the unsuffixed column is the look the trial's analysis ended at
    stops = frame["duration_months"].to_numpy()
    res = simulate(spec, 60, 3)
    at_stop = np.array([int(np.flatnonzero(res.cut_months[i] == stops[i])[0]) for i in range(60)])
    expected = (res.flags[np.arange(60), at_stop, 0] & CAL) != 0
    np.testing.assert_array_equal(frame["cut_at_calendar_maximum"].to_numpy(), expected)


def test_runs_without_calendar_maxima_report_no_such_flag() -> None:
    from simtrial.power import run

    d = run(scenario_from_dict(_scenario({"target_events": 300, "sequential": {
        "information_fractions": [0.5, 1.0]}})), n_sims=40, seed=1).to_dict()
    assert "cut_at_calendar_maximum" not in d["flags"] and "flags" not in d["looks"][0]


# --- the timeline -----------------------------------------------------------------------------------

def _expected_events(t: float, hr: float, n: int, accrual: float) -> float:
    """E[D(t)], 1:1 exponential arms, uniform entry on [0, R], no dropout: N/2 sum_arm (1/R) int_0^min(t,R)
    (1 - exp(-lambda (t - u))) du, in closed form."""
    a = min(t, accrual)
    total = 0.0
    for lam in (math.log(2) / MEDIAN_CONTROL, hr * math.log(2) / MEDIAN_CONTROL):
        total += (a - (math.exp(-lam * (t - a)) - math.exp(-lam * t)) / lam) / accrual
    return n / 2 * total


def _time_of(k: int, hr: float = 0.7, n: int = 300, accrual: float = 18.0) -> float:
    return brentq(lambda t: _expected_events(t, hr, n, accrual) - k, 1e-6, 500.0, xtol=1e-10)


def test_timeline_look_times_under_the_precedence() -> None:
    from simtrial.timeline import timeline

    t125, t250 = _time_of(125), _time_of(250)
    # interim maximum before the expected 125th event, final maximum after the expected 250th
    sc = scenario_from_dict(_scenario({"target_events": 250, "sequential": {
        "information_fractions": [0.5, 1.0], "calendar_months": [t125 - 2.0, t250 + 5.0]}}))
    first, last = timeline(sc).looks
    assert first.cut_by == "calendar" and first.expected_time_months == pytest.approx(t125 - 2.0, abs=1e-12)
    assert first.expected_events == pytest.approx(_expected_events(t125 - 2.0, 0.7, 300, 18.0), rel=1e-4)
    assert last.cut_by == "events" and last.expected_time_months == pytest.approx(t250, abs=1e-3)
    # a null interim maximum capped by the final's, which comes before the interim's expected events
    sc = scenario_from_dict(_scenario({"target_events": 250, "calendar_months": t125 - 3.0, "sequential": {
        "information_fractions": [0.5, 1.0]}}))
    first, last = timeline(sc).looks
    assert first.cut_by == last.cut_by == "calendar" and first.calendar_months == t125 - 3.0
    assert first.expected_time_months == last.expected_time_months == t125 - 3.0
    # the interim's own maximum after its expected events: event-driven
    sc = scenario_from_dict(_scenario({"target_events": 250, "sequential": {
        "information_fractions": [0.5, 1.0], "calendar_months": [t125 + 1.0, None]}}))
    first, last = timeline(sc).looks
    assert first.cut_by == "events" and first.expected_time_months == pytest.approx(t125, abs=1e-3)
    # then the gap: a calendar-fired interim at month 10, the final no earlier than month 50 (> t250 - 1)
    sc = scenario_from_dict(_scenario({"target_events": 200, "min_months_after_previous_look": 40, "sequential": {
        "information_fractions": [0.5, 1.0], "calendar_months": [10.0, None]}}))
    first, last = timeline(sc).looks
    assert first.cut_by == "calendar" and first.expected_time_months == 10.0
    assert _time_of(200) < 50.0 and last.cut_by == "min_months_after_previous_look"
    assert last.expected_time_months == 50.0


# --- type I error with calendar-fired interims ---------------------------------------------------------

@pytest.mark.mc
def test_mc_type_one_error_when_the_interim_is_often_calendar_fired() -> None:
    """HR 1, two looks (50% / 100% of 250 events), Pocock-type spending (asP, so the interim carries much of the
    alpha), the interim maximum at the interim's expected event time: about half the interims are calendar-fired
    with fewer events.  Each trial's interim bound is the one of its observed information fraction f = events /
    250, checked against the closed form z1 = Phi^-1(1 - alpha ln(1 + (e - 1) f)) (Lan-DeMets Pocock spending),
    and the size is within 4 MC SE of alpha."""
    from scipy.stats import norm

    from simtrial.power import run

    # under H0 (both arms median 12) the 125th event is expected near month 19.1 (closed form above, hr = 1)
    t125 = brentq(lambda t: _expected_events(t, 1.0, 300, 18.0) - 125, 1e-6, 500.0)
    analysis = {"target_events": 250, "alpha": 0.025, "sequential": {
        "information_fractions": [0.5, 1.0], "efficacy_spending": "asP", "calendar_months": [t125, 60]}}
    n_sims, seed = 3000, 161
    sc = scenario_from_dict(_scenario(analysis, hr=1.0, n_sims=n_sims))
    r = run(sc, n_sims=n_sims, seed=seed, per_trial=True)
    d = r.to_dict()
    fired = d["looks"][0]["flags"]["cut_at_calendar_maximum"] / n_sims
    assert 0.3 < fired < 0.7, fired  # the interim is calendar-fired often, not always
    assert d["looks"][0]["observed_information_fraction"] < 0.5
    # the interim stops are those of the observed-information bounds
    res = simulate(build_spec(sc, look_fractions=(0.5, 1.0)), n_sims, seed)
    f = (res.stats[:, 0, 0, layout.EVENTS_CONTROL] + res.stats[:, 0, 0, layout.EVENTS_EXPERIMENTAL]) / 250
    assert np.any(f < 0.45) and np.any(f == 0.5)
    z1 = norm.ppf(1 - 0.025 * np.log(1 + (math.e - 1) * f))
    stops = int(np.sum(r.per_trial_frame()["z_efficacy_look1"].to_numpy() >= z1))
    assert stops == round(d["looks"][0]["p_stop_efficacy"] * n_sims)
    alpha, se = 0.025, math.sqrt(0.025 * 0.975 / n_sims)
    assert abs(d["power"] - alpha) <= 4 * se, (d["power"], se)


def test_look_flag_counts_are_the_same_in_blocks_and_threads() -> None:
    from simtrial.power import run

    sc = scenario_from_dict(_scenario(CASES["three_looks_with_floors"]))
    full = run(sc, n_sims=403, seed=5).to_dict()
    streamed = run(sc, n_sims=403, seed=5, per_trial=False, block_trials=100).to_dict()
    threaded = run(sc, n_sims=403, seed=5, threads=1).to_dict()
    counts = [lk["flags"] for lk in full["looks"]]
    assert counts == [lk["flags"] for lk in streamed["looks"]] == [lk["flags"] for lk in threaded["looks"]]
    assert full["flags"] == streamed["flags"] == threaded["flags"]
    res = simulate(build_spec(sc, look_fractions=sc.analysis.sequential.information_fractions), 403, 5)
    for look, c in enumerate(counts):
        for bit, name in ((CAL, "cut_at_calendar_maximum"), (GAP, "cut_delayed_by_min_months_after_previous_look"),
                          (FOLLOW, "cut_delayed_by_min_followup_after_last_entry")):
            assert c[name] == int(((res.flags[:, look, 0] & bit) != 0).sum())
    assert counts[0]["cut_at_calendar_maximum"] > 0 and counts[1]["cut_delayed_by_min_months_after_previous_look"] > 0
