"""The engine's log-rank, Fleming-Harrington, Cox and Kaplan-Meier statistics against lifelines.

Recipe (what each reference call is and why it is comparable):

* Data: 120 seeded two-arm data sets with heavy ties; times are
  ``floor(Exp(mean 6 or 12, x HR in the experimental arm) / step) + 1`` times a
  grid step, so they are strictly positive (lifelines' ``logrank_test`` fails
  on times equal to 0) and many events and censorings share a time.

* Log-rank::

      from lifelines.statistics import logrank_test
      r = logrank_test(t[arm == 1], t[arm == 0], e[arm == 1], e[arm == 0])
      r.test_statistic == Z ** 2            # chi-square, 1 df, hypergeometric variance

  and with ``weightings="fleming-harrington", p=rho, q=gamma`` (lifelines
  weights by the pooled, left-continuous Kaplan-Meier S(t-)^p (1 - S(t-))^q,
  as the engine does) for ``fh_z ** 2``.  The chi-square has no sign, so the
  sign of Z is checked separately: it is the sign of O1 - E1 and, where the
  effect is clear (|Z| > 1), the sign of lifelines' Cox log hazard ratio.

* Cox::

      from lifelines import CoxPHFitter
      CoxPHFitter().fit(df[["time", "event", "arm"]], "time", "event")
      .params_["arm"], .standard_errors_["arm"]

  lifelines' default (and only) tie handling in ``CoxPHFitter`` is Efron's,
  the engine's method; unpenalised (``penalizer=0``, the default).

* Kaplan-Meier::

      from lifelines import KaplanMeierFitter
      kmf = KaplanMeierFitter().fit(t[arm == a], e[arm == a])
      kmf.median_survival_time_               # first t with S(t) <= 0.5, inf if never
                                              # (where S is exactly 1/2 on a step, lifelines'
                                              # exp-of-log-sum S rounds above it: the median
                                              # is then checked in rational arithmetic)
      kmf.survival_function_at_times(times)   # right-continuous step function
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

from simtrial.engine import layout as L
from simtrial.engine.analyze import analyze_two_arm

N_DATASETS = 120
FH_WEIGHTS = [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.5, 2.0)]
LANDMARKS = (2.0, 5.0, 9.5, 30.0)
# lifelines stops Newton when the relative change in log-likelihood is < 1e-9 or the
# Newton decrement is < 1e-7, which leaves up to ~5e-5 in the log HR on these data;
# tighter stopping makes it converge to the MLE (the engine stops at a step < 1e-10).
LIFELINES_TIGHT = {"precision": 1e-12, "r_precision": 1e-15}


def _dataset(index: int):
    rng = np.random.default_rng(20240 + index)
    n = int(rng.integers(20, 160))
    arm = rng.integers(0, 2, n)
    arm[:2] = (0, 1)
    hr = rng.uniform(0.4, 1.6)
    mean = rng.choice([6.0, 12.0])
    step = rng.choice([0.5, 1.0, 2.0])
    raw_event = rng.exponential(mean, n) / np.where(arm == 1, hr, 1.0)
    raw_censor = rng.uniform(3.0, 40.0, n)
    raw = np.minimum(raw_event, raw_censor)
    time = (np.floor(raw / step) + 1.0) * step  # strictly positive, on a grid: ties
    event = (raw_event <= raw_censor).astype(np.int64)
    return time, event, arm


DATASETS = [_dataset(i) for i in range(N_DATASETS)]


def _lifelines_cox(time, event, arm):
    df = pd.DataFrame({"time": time, "event": event, "arm": arm})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CoxPHFitter().fit(df, "time", "event", fit_options=LIFELINES_TIGHT)
    return float(fit.params_["arm"]), float(fit.standard_errors_["arm"])


@pytest.mark.parametrize("index", range(N_DATASETS))
def test_logrank_and_fleming_harrington_equal_lifelines(index):
    time, event, arm = DATASETS[index]
    rho, gamma = FH_WEIGHTS[index % len(FH_WEIGHTS)]
    ours = analyze_two_arm(time, event, arm, fh_rho=rho, fh_gamma=gamma)
    e1, c1 = arm == 1, arm == 0
    ref = logrank_test(time[e1], time[c1], event[e1], event[c1])
    assert ours["logrank_z"] ** 2 == pytest.approx(ref.test_statistic, rel=1e-8, abs=1e-8)
    ref_fh = logrank_test(time[e1], time[c1], event[e1], event[c1], weightings="fleming-harrington", p=rho, q=gamma)
    assert ours["fh_z"] ** 2 == pytest.approx(ref_fh.test_statistic, rel=1e-8, abs=1e-8)
    # sign: Z = (O1 - E1) / sqrt(V), O1 the experimental events
    assert ours["events_experimental"] == event[e1].sum()
    assert np.sign(ours["logrank_z"]) == np.sign(ours["logrank_o_minus_e"])


@pytest.mark.parametrize("index", range(N_DATASETS))
def test_cox_equals_lifelines_efron(index):
    time, event, arm = DATASETS[index]
    ours = analyze_two_arm(time, event, arm)
    assert not ours["flags"] & L.FLAG_COX_NOT_ESTIMABLE
    coef, se = _lifelines_cox(time, event, arm)
    assert ours["log_hr"] == pytest.approx(coef, abs=1e-5)
    assert ours["log_hr_se"] == pytest.approx(se, abs=1e-5)
    # the log-rank sign is the direction of the hazard ratio (experimental / control)
    if abs(ours["logrank_z"]) > 1.0:
        assert np.sign(ours["logrank_z"]) == np.sign(coef)


def _exact_median(time, event):
    """(first t with S(t) <= 1/2, whether S(t) == 1/2 there) with S in rational arithmetic."""
    s = Fraction(1)
    for t in sorted(set(time[event == 1].tolist())):
        at_risk = int((time >= t).sum())
        deaths = int(((time == t) & (event == 1)).sum())
        s *= 1 - Fraction(deaths, at_risk)
        if s <= Fraction(1, 2):
            return t, s == Fraction(1, 2)
    return math.inf, False


@pytest.mark.parametrize("index", range(0, N_DATASETS, 3))
def test_kaplan_meier_equals_lifelines(index):
    time, event, arm = DATASETS[index]
    ours = analyze_two_arm(time, event, arm, landmark_months=LANDMARKS)
    for a, name in ((0, "control"), (1, "experimental")):
        kmf = KaplanMeierFitter().fit(time[arm == a], event[arm == a])
        median = float(kmf.median_survival_time_)
        exact_median, exactly_half = _exact_median(time[arm == a], event[arm == a])
        if exactly_half:
            # S reaches exactly 1/2 at a step; lifelines computes S as exp(cumsum(log(1 - d/n)))
            # and lands a rounding error above 1/2 there, so its median is the next step.
            # The definition (first t with S(t) <= 1/2) is checked in exact arithmetic instead.
            assert median >= exact_median
            median = exact_median
        assert ours[f"median_{name}_months"] == median
        at = kmf.survival_function_at_times(list(LANDMARKS)).to_numpy()
        got = [ours[f"survival_{name}_at_{t:g}_months"] for t in LANDMARKS]
        np.testing.assert_allclose(got, at, rtol=0, atol=1e-12)


def test_sign_convention_on_a_clear_effect():
    """Experimental patients fail first: HR > 1, Z > 0 (and the reverse when swapped)."""
    rng = np.random.default_rng(1)
    time = np.concatenate([rng.integers(1, 10, 40), rng.integers(4, 20, 40)]).astype(float)
    event = np.ones(80, dtype=np.int64)
    arm = np.repeat([1, 0], 40)
    bad = analyze_two_arm(time, event, arm)
    good = analyze_two_arm(time, event, 1 - arm)
    assert bad["logrank_z"] > 3 and bad["log_hr"] > 0 and bad["logrank_o_minus_e"] > 0
    assert good["logrank_z"] < -3 and good["log_hr"] < 0
    coef, _ = _lifelines_cox(time, event, arm)
    assert coef > 0
    assert bad["median_experimental_months"] < bad["median_control_months"]
