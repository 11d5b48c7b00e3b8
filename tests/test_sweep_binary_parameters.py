"""Binary designs behind the executor seam, and per-trial response probabilities (assurance's input).

Independent figures: a row of NaNs, or the scenario's own probabilities, must
give today's numbers bit for bit; P(response) = 1 makes every patient of an
arm respond and 0 none (so the counts are known without our code); a drawn
probability's mean response rate is within 4 MC SE of the binomial mean
``sum_c w_c sum_t P(t | c) p_t`` worked out by hand from the population.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_executors import ReversedOddPieces

from simtrial.designs import get_design
from simtrial.errors import InvalidInput
from simtrial.her2 import N_CATEGORIES
from simtrial.power import run
from simtrial.scenario import load_scenario
from simtrial.trial_parameters import TrialParameters

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
N = 2100  # three blocks of 1024, the last one short


def _scenario(name):
    return load_scenario(ROOT / name)


def _outcomes(sc, **kw):
    return get_design(sc.design, sc.endpoint).run(sc, n_sims=N, seed=sc.simulation.seed, **kw)


def _frames_equal(a, b) -> None:
    fa, fb = a.per_trial_frame(), b.per_trial_frame()
    assert list(fa.columns) == list(fb.columns)
    for col in fa.columns:
        np.testing.assert_array_equal(fa[col].to_numpy(), fb[col].to_numpy(), err_msg=col)


def _params(rows: np.ndarray) -> TrialParameters:
    return TrialParameters(N, N_CATEGORIES, response_probability=rows)


def _scenario_rows(sc) -> np.ndarray:
    """The scenario's own P(response) per true category and arm in every row (NaN where none is given)."""
    rows = np.full((N, N_CATEGORIES, 2), np.nan)
    for arm, resp in ((0, sc.control_response), (1, sc.experimental_response)):
        for c, p in (resp or {}).items():
            rows[:, c, arm] = p
    return rows


SCENARIOS = ["neoadjuvant_pcr_by_ihc.yaml", "simon_two_stage_orr.yaml"]


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("null", [False, True])
def test_all_nan_rows_and_the_scenarios_own_rows_give_todays_numbers(name, null):
    sc = _scenario(name)
    today = _outcomes(sc, null=null)
    _frames_equal(today, _outcomes(sc, null=null, trial_parameters=_params(np.full((N, N_CATEGORIES, 2), np.nan))))
    _frames_equal(today, _outcomes(sc, null=null, trial_parameters=_params(_scenario_rows(sc))))


@pytest.mark.parametrize("name", SCENARIOS)
def test_an_executor_in_reversed_odd_pieces_gives_todays_numbers(name):
    sc = _scenario(name)
    executor = ReversedOddPieces()
    _frames_equal(_outcomes(sc), _outcomes(sc, executor=executor))
    assert len(executor.calls) > 3


def test_single_arm_design_takes_executor_and_rows():
    sc = _scenario("simon_two_stage_orr.yaml")
    from dataclasses import replace

    from simtrial.spec import Analysis

    single = replace(sc, design="single_arm_binary",
                     analysis=Analysis(**{**sc.analysis.__dict__, "test": "exact_binomial"}), n_patients=40)
    today = _outcomes(single)
    _frames_equal(today, _outcomes(single, executor=ReversedOddPieces()))
    _frames_equal(today, _outcomes(single, trial_parameters=_params(np.full((N, N_CATEGORIES, 2), np.nan))))
    rows = np.full((N, N_CATEGORIES, 2), np.nan)
    rows[:100, :, 1] = 1.0
    changed = _outcomes(single, trial_parameters=_params(rows))
    assert (changed.events[:100] == 40).all()
    np.testing.assert_array_equal(changed.events[BLOCK:], today.events[BLOCK:])


BLOCK = 1024


def test_certain_and_impossible_responses_give_known_counts_and_leave_other_blocks_alone():
    sc = _scenario("neoadjuvant_pcr_by_ihc.yaml")
    today = _outcomes(sc)
    rows = np.full((N, N_CATEGORIES, 2), np.nan)
    rows[5:300, :, 0] = 0.0  # control: nobody responds
    rows[5:300, :, 1] = 1.0  # experimental: everybody
    changed = _outcomes(sc, trial_parameters=_params(rows))
    est, old = changed.estimates, today.estimates
    assert (est["responders_control"][5:300] == 0).all()
    np.testing.assert_array_equal(est["responders_experimental"][5:300], est["patients_experimental"][5:300])
    # cohorts and arms are drawn before responses: unchanged everywhere
    np.testing.assert_array_equal(est["patients_experimental"], old["patients_experimental"])
    # the trials before the first changed one, and every later block, keep their numbers
    for key in ("responders_control", "responders_experimental", "z"):
        np.testing.assert_array_equal(est[key][:5], old[key][:5])
        np.testing.assert_array_equal(est[key][BLOCK:], old[key][BLOCK:])
    assert changed.success[5:300].all()


def test_a_drawn_probability_moves_the_response_rate_to_its_binomial_mean():
    sc = _scenario("neoadjuvant_pcr_by_ihc.yaml")
    rows = np.full((N, N_CATEGORIES, 2), np.nan)
    rows[:, 5, 1] = 0.9  # IHC 3+ experimental (code 5); IHC 2+/ISH+ keeps the scenario's
    out = _outcomes(sc, trial_parameters=_params(rows))
    p_24 = sc.experimental_response[4]
    mix = sc.population.mix
    expected = (mix[5] * 0.9 + mix[4] * p_24) / (mix[5] + mix[4])  # no misclassification: q = p
    rate = out.estimates["response_rate_experimental"]
    se = rate.std(ddof=1) / np.sqrt(N)
    assert abs(rate.mean() - expected) < 4 * se
    # and the control arm is the scenario's
    today = _outcomes(sc)
    np.testing.assert_array_equal(out.estimates["patients_control"], today.estimates["patients_control"])


def test_under_the_null_the_experimental_arm_follows_the_trials_control():
    sc = _scenario("neoadjuvant_pcr_by_ihc.yaml")
    rows = np.full((N, N_CATEGORIES, 2), np.nan)
    rows[:, :, 0] = 1.0
    rows[:, :, 1] = 0.0  # ignored under H0: experimental = control
    out = _outcomes(sc, null=True, trial_parameters=_params(rows))
    est = out.estimates
    np.testing.assert_array_equal(est["responders_control"], est["patients_control"])
    np.testing.assert_array_equal(est["responders_experimental"], est["patients_experimental"])


def test_event_time_parameters_and_wrong_sizes_are_refused():
    sc = _scenario("neoadjuvant_pcr_by_ihc.yaml")
    with pytest.raises(InvalidInput, match="hazard ratios"):
        _outcomes(sc, trial_parameters=TrialParameters(N, N_CATEGORIES, hazard_ratio=np.ones((N, N_CATEGORIES))))
    with pytest.raises(InvalidInput, match="trials, the run"):
        _outcomes(sc, trial_parameters=TrialParameters(10, N_CATEGORIES,
                                                       response_probability=np.full((10, N_CATEGORIES, 2), 0.5)))


def test_power_run_passes_the_rows_through():
    sc = _scenario("neoadjuvant_pcr_by_ihc.yaml")
    rows = np.full((N, N_CATEGORIES, 2), np.nan)
    rows[:, :, 1] = rows[:, :, 0] = 0.3  # no difference: power falls to about the type I error
    res = run(sc, n_sims=N, trial_parameters=_params(rows))
    assert res.power < 0.025 + 4 * np.sqrt(0.025 * 0.975 / N)
