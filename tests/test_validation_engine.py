"""Bad parameters raise ValueError naming the parameter, before any kernel runs.

A wrong value must never reach compiled code, where it would surface as a
numba typing error, a crash or a silently wrong number.  The kernel entry
points are replaced by tripwires here, so a check that ran too late fails the
test instead of calling the kernel.
"""

from __future__ import annotations

import math

import pytest

import simtrial.engine.analyze as analyze_module
import simtrial.engine.sampling as sampling_module
import simtrial.simulate as simulate_module
from simtrial.engine.analyze import analyze_two_arm
from simtrial.engine.sampling import sample_event_times
from simtrial.simulate import patient_data, simulate
from simtrial.spec import Accrual, Arm, Cut, Population, TrialSpec, dropout_hazard
from simtrial.survival import CureMixture, Exponential, PiecewiseExponential, Weibull

CTRL = Exponential(median_months=6.8)
H = dropout_hazard(0.05, 12)


def _spec(**over):
    kw = dict(
        population=Population(mix={5: 1.0}),
        control=Arm("control", {5: CTRL}, H),
        experimental=Arm("experimental", {5: CTRL.with_hazard_ratio(0.7)}, H),
        n_patients=100,
        accrual=Accrual(duration_months=24),
        cuts=(Cut(40),),
    )
    kw.update(over)
    return TrialSpec(**kw)


@pytest.fixture(autouse=True)
def tripwires(monkeypatch):
    """Any kernel call during these tests is a failure: validation must come first."""

    def tripwire(*args, **kwargs):
        raise AssertionError("a kernel ran before the parameters were validated")

    monkeypatch.setattr(simulate_module, "simulate_block_range", tripwire)
    monkeypatch.setattr(simulate_module, "generate_one_cohort", tripwire)
    monkeypatch.setattr(analyze_module, "_analyze_data", tripwire)
    monkeypatch.setattr(sampling_module, "_sample_event_times", tripwire)


CASES = {
    # survival models
    "negative median": (lambda: Exponential(median_months=-1.0), "median_months"),
    "zero median": (lambda: Exponential(median_months=0.0), "median_months"),
    "nan median": (lambda: Exponential(median_months=math.nan), "median_months"),
    "negative hazard": (lambda: Exponential(hazard_per_month=-0.1), "hazard_per_month"),
    "negative piecewise hazard": (lambda: PiecewiseExponential((0.0, 3.0), (0.1, -0.2)), "hazard_per_month"),
    "piecewise starts not at 0": (lambda: PiecewiseExponential((1.0, 3.0), (0.1, 0.2)), "start_months"),
    "weibull shape": (lambda: Weibull(0.0, 3.0), "shape"),
    "weibull scale": (lambda: Weibull(1.0, -3.0), "scale_months"),
    "cure fraction above 1": (lambda: CureMixture(1.2, CTRL), "cure_fraction"),
    "cure fraction negative": (lambda: CureMixture(-0.1, CTRL), "cure_fraction"),
    "cure fraction 1": (lambda: CureMixture(1.0, CTRL), "cure_fraction"),
    "hazard ratio 0": (lambda: CTRL.with_hazard_ratio(0.0), "hazard_ratio"),
    "hazard ratio negative": (lambda: Weibull(1.2, 5.0).with_hazard_ratio(-1.0), "hazard_ratio"),
    # dropout
    "dropout probability above 1": (lambda: dropout_hazard(1.2, 12), "dropout probability"),
    "dropout probability negative": (lambda: dropout_hazard(-0.1, 12), "dropout probability"),
    "dropout probability 1": (lambda: dropout_hazard(1.0, 12), "dropout probability"),
    "dropout time": (lambda: dropout_hazard(0.1, 0.0), "dropout time"),
    "arm dropout hazard": (lambda: Arm("control", {5: CTRL}, -0.1), "dropout_hazard_per_month"),
    "arm dropout nan": (lambda: Arm("control", {5: CTRL}, math.nan), "dropout_hazard_per_month"),
    # population
    "mix probability above 1": (lambda: Population(mix={5: 1.5, 3: -0.5}), r"population\.mix"),
    "mix nan": (lambda: Population(mix={5: math.nan}), r"population\.mix"),
    "empty mix": (lambda: Population(mix={}), r"population\.mix is empty"),
    "mix not summing to 1": (lambda: Population(mix={5: 0.5, 3: 0.3}), r"population\.mix must sum to 1"),
    "mix category out of range": (lambda: Population(mix={7: 1.0}), r"population\.mix"),
    "misclassification rows": (
        lambda: Population(mix={5: 1.0}, misclassification=((0.5,) * 6,) * 6), r"population\.misclassification"
    ),
    "eligible empty": (lambda: Population(mix={5: 1.0}, eligible=()), r"population\.eligible"),
    "nobody eligible": (lambda: Population(mix={5: 1.0}, eligible=(3,)), "eligible"),
    # trial spec
    "allocation 0": (lambda: _spec(allocation=(0, 1)), "allocation"),
    "allocation negative": (lambda: _spec(allocation=(1, -1)), "allocation"),
    "allocation non-integer": (lambda: _spec(allocation=(1.5, 1)), "allocation"),
    "allocation three arms": (lambda: _spec(allocation=(1, 1, 1)), "allocation"),
    "more target events than patients": (lambda: _spec(cuts=(Cut(101),)), "target_events"),
    "target events 0": (lambda: Cut(0), "target_events"),
    "target events non-integer": (lambda: Cut(10.5), "target_events"),
    "calendar cut negative": (lambda: Cut(calendar_months=-1.0), "calendar_months"),
    "targets decreasing": (lambda: _spec(cuts=(Cut(50), Cut(40))), "target_events"),
    "block multiple": (lambda: _spec(block_multiple=0), "block_multiple"),
    "n_patients": (lambda: _spec(n_patients=1), "n_patients"),
    "accrual duration": (lambda: Accrual(duration_months=-1.0), "duration_months"),
    "accrual rate": (lambda: Accrual(rates_per_month=(-1.0, 2.0), start_months=(0.0, 5.0)), "rates_per_month"),
    "fh_rho": (lambda: _spec(fh_rho=-1.0), "fh_rho"),
    "landmark negative": (lambda: _spec(landmark_months=(-1.0,)), "landmark_months"),
    "landmark nan": (lambda: _spec(landmark_months=(math.nan,)), "landmark_months"),
    "landmark inf": (lambda: _spec(landmark_months=(math.inf,)), "landmark_months"),
    "model missing for a category": (lambda: _spec(population=Population(mix={5: 0.5, 3: 0.5})), "model"),
    "model is not a model": (lambda: Arm("control", {5: "exponential"}), "survival model"),
    "analysis strata incomplete": (lambda: _spec(analysis_strata={5: 0}), "analysis_strata"),
    # simulate / patient_data
    "n_sims 0": (lambda: simulate(_spec(), 0, 1), "n_sims"),
    "n_sims negative": (lambda: simulate(_spec(), -5, 1), "n_sims"),
    "n_sims float": (lambda: simulate(_spec(), 10.5, 1), "n_sims"),
    "seed negative": (lambda: simulate(_spec(), 10, -1), "seed"),
    "seed too large": (lambda: simulate(_spec(), 10, 2**64), "seed"),
    "seed float": (lambda: simulate(_spec(), 10, 1.5), "seed"),
    "threads 0": (lambda: simulate(_spec(), 10, 1, threads=0), "threads"),
    "first_trial negative": (lambda: simulate(_spec(), 10, 1, first_trial=-1), "first_trial"),
    "patient_data seed": (lambda: patient_data(_spec(), -1), "seed"),
    "patient_data trial": (lambda: patient_data(_spec(), 1, trial=-1), "trial"),
    # analyze_two_arm
    "analyze landmark negative": (lambda: analyze_two_arm([1, 2], [1, 1], [0, 1], landmark_months=[-1.0]), "landmark_months"),
    "analyze landmark nan": (lambda: analyze_two_arm([1, 2], [1, 1], [0, 1], landmark_months=[math.nan]), "landmark_months"),
    "analyze fh_rho negative": (lambda: analyze_two_arm([1, 2], [1, 1], [0, 1], fh_rho=-1.0), "fh_rho"),
    "analyze fh_gamma nan": (lambda: analyze_two_arm([1, 2], [1, 1], [0, 1], fh_gamma=math.nan), "fh_gamma"),
    "analyze negative time": (lambda: analyze_two_arm([-1.0, 2.0], [1, 1], [0, 1]), "time_months"),
    "analyze nan time": (lambda: analyze_two_arm([math.nan, 2.0], [1, 1], [0, 1]), "time_months"),
    "analyze text time": (lambda: analyze_two_arm(["a", "b"], [1, 1], [0, 1]), "time_months"),
    "analyze scalar time": (lambda: analyze_two_arm(5.0, 1, 0), "time_months"),
    "analyze lengths": (lambda: analyze_two_arm([1.0, 2.0], [1], [0, 1]), "equal length"),
    "analyze event 2": (lambda: analyze_two_arm([1.0, 2.0], [1, 2], [0, 1]), "event"),
    "analyze arm 2": (lambda: analyze_two_arm([1.0, 2.0], [1, 1], [0, 2]), "arm"),
    "analyze stratum negative": (lambda: analyze_two_arm([1.0, 2.0], [1, 1], [0, 1], [-1, 0]), "stratum"),
    "analyze stratum float": (lambda: analyze_two_arm([1.0, 2.0], [1, 1], [0, 1], [0.5, 1.0]), "stratum"),
    # sample_event_times
    "sample n negative": (lambda: sample_event_times(0, CTRL.to_kernel()[1], -1, 1), "n must"),
    "sample seed negative": (lambda: sample_event_times(0, CTRL.to_kernel()[1], 10, -1), "seed"),
    "sample model code": (lambda: sample_event_times(5, CTRL.to_kernel()[1], 10, 1), "model_code"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_parameter_raises_value_error_naming_it(name):
    make, match = CASES[name]
    with pytest.raises(ValueError, match=match):
        make()


def test_valid_parameters_pass_validation_and_reach_the_kernel():
    """The tripwires fire on valid input: the tests above do test the order of checks."""
    with pytest.raises(AssertionError, match="kernel ran"):
        simulate(_spec(), 10, 1)
    with pytest.raises(AssertionError, match="kernel ran"):
        analyze_two_arm([1.0, 2.0], [1, 1], [0, 1], landmark_months=[0.0, 1.0], fh_rho=1.0)
