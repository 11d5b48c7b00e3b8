"""Single-arm time to event: one-sample log-rank against a reference curve, exact Poisson test on patient-years.

One-sample log-rank (Breslow 1975; Finkelstein, Muzikansky & Schoenfeld 2003):
with each patient's follow-up ``x_i`` (to event or censoring) and the
reference cumulative hazard ``H0 = -log S0``, the expected events under the
reference are ``E = sum_i H0(x_i)`` and the observed ``O = sum_i d_i``;
``Z = (E - O) / sqrt(E)`` is approximately N(0, 1) under H0 (positive: fewer
events than the reference, the new regimen better).  One-sided p = 1 - Phi(Z).

Exact Poisson test (ATEMPT-style: events per patient-years of follow-up):
with ``D`` events over ``PY`` patient-years and a reference rate ``r0`` (per
patient-year), H0: rate >= r0 is rejected when ``P(Poisson(r0 PY) <= D) <=
alpha``; the critical count is the largest ``c`` with that probability below
alpha, and the test's exact size at a given PY is ``P(Poisson(r0 PY) <= c)``.
Interim futility looks at given patient-years stop when the events already
exceed a bound.

``simulate_single_arm`` gives operating characteristics of both tests by
simulation (numpy; each trial from ``(seed, trial index)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.stats._validate import check_alpha, check_non_negative, check_positive


def one_sample_logrank(follow_up_months, event, reference, variance: str = "expected") -> tuple[float, float, float, float]:
    """(Z, one-sided p, observed O, expected E) for follow-up times and event flags against a reference model.

    ``variance``: ``expected`` (the classic statistic, variance E: conservative
    in small samples, as the events' lower tail is lighter than the normal's)
    or ``wu`` (Wu 2015: variance (O + E) / 2, closer to the nominal level).
    """
    from scipy.stats import norm

    x = np.asarray(follow_up_months, dtype=float)
    d = np.asarray(event, dtype=bool)
    if x.shape != d.shape or x.ndim != 1 or x.size == 0:
        raise InvalidInput("follow_up_months and event must be equal-length 1-D arrays")
    if np.any(x < 0) or not np.all(np.isfinite(x)):
        raise InvalidInput("follow_up_months must be finite and >= 0")
    s0 = np.clip(np.asarray(reference.survival(x), dtype=float), 1e-300, 1.0)
    expected = float(np.sum(-np.log(s0)))
    observed = float(d.sum())
    if variance not in ("expected", "wu"):
        raise InvalidInput(f"variance must be 'expected' or 'wu', got {variance!r}")
    var = expected if variance == "expected" else 0.5 * (observed + expected)
    if not expected > 0 or not var > 0:
        return math.nan, math.nan, observed, expected
    z = (expected - observed) / math.sqrt(var)
    return z, float(norm.sf(z)), observed, expected


def poisson_critical_events(patient_years: float, reference_rate: float, alpha: float) -> int:
    """Largest events count c with P(Poisson(rate x PY) <= c) <= alpha; -1 if even 0 events is not significant."""
    from scipy.stats import poisson

    py = check_positive("patient_years", patient_years)
    rate = check_positive("reference_rate", reference_rate)
    alpha = check_alpha("alpha", alpha)
    mu = rate * py
    c = int(poisson.ppf(alpha, mu))  # smallest c with cdf(c) >= alpha
    while c >= 0 and poisson.cdf(c, mu) > alpha:
        c -= 1
    while poisson.cdf(c + 1, mu) <= alpha:
        c += 1
    return c


def exact_poisson_test(events: int, patient_years: float, reference_rate: float) -> float:
    """One-sided exact p-value P(Poisson(rate x PY) <= events) for H0: rate >= reference_rate."""
    from scipy.stats import poisson

    if events < 0:
        raise InvalidInput(f"events must be >= 0, got {events!r}")
    mu = check_positive("reference_rate", reference_rate) * check_positive("patient_years", patient_years)
    return float(poisson.cdf(int(events), mu))


def exact_poisson_size(patient_years: float, reference_rate: float, alpha: float) -> float:
    """The exact test's size at a fixed PY: P(Poisson(rate x PY) <= critical count) (<= alpha)."""
    from scipy.stats import poisson

    c = poisson_critical_events(patient_years, reference_rate, alpha)
    return 0.0 if c < 0 else float(poisson.cdf(c, reference_rate * patient_years))


@dataclass(frozen=True)
class SingleArmOC:
    """Operating characteristics of a simulated single-arm time-to-event trial."""

    n_sims: int
    seed: int
    power_logrank: float
    power_poisson: float
    mc_se_logrank: float
    mc_se_poisson: float
    p_stop_futility: tuple[float, ...]
    mean_events: float
    mean_patient_years: float
    mean_expected_events_reference: float


def _draw_times(model, u: np.ndarray) -> np.ndarray:
    """Event times with S(T) = u (inverse survival), inf for the cured."""
    q = np.vectorize(model.quantile_time, otypes=[float])
    return q(u)


def simulate_single_arm(
    model,
    reference,
    *,
    n_patients: int,
    accrual_months: float,
    analysis_months: float,
    reference_rate_per_patient_year: float | None = None,
    dropout_hazard_per_month: float = 0.0,
    alpha: float = 0.025,
    futility_patient_years: Sequence[float] = (),
    futility_max_events: Sequence[int] = (),
    n_sims: int = 2000,
    seed: int = 1,
    variance: str = "expected",
) -> SingleArmOC:
    """Simulate ``n_sims`` single-arm trials: uniform entry over ``accrual_months``, analysis at ``analysis_months``.

    Event times from ``model``; the one-sample log-rank against ``reference``
    and the exact Poisson test against ``reference_rate_per_patient_year``
    (default: the reference's average hazard over the observed follow-up is
    not used -- give the rate) at level ``alpha``.  Interim futility looks: at
    the calendar time when the patient-years reach ``futility_patient_years[k]``,
    the trial stops (fails) if its events exceed ``futility_max_events[k]``.
    """
    if not isinstance(n_patients, int) or n_patients < 2:
        raise InvalidInput(f"n_patients must be an integer >= 2, got {n_patients!r}")
    check_non_negative("accrual_months", accrual_months)
    check_positive("analysis_months", analysis_months)
    check_non_negative("dropout_hazard_per_month", dropout_hazard_per_month)
    alpha = check_alpha("alpha", alpha)
    if len(futility_patient_years) != len(futility_max_events):
        raise InvalidInput("futility_patient_years and futility_max_events need one value per look")
    from scipy.stats import norm

    z_crit = float(norm.isf(alpha))
    rej_lr = np.zeros(n_sims, bool)
    rej_po = np.zeros(n_sims, bool)
    stopped = np.zeros((n_sims, len(futility_patient_years)), bool)
    ev_tot = py_tot = e_tot = 0.0
    grid = np.linspace(0.0, analysis_months, 801)
    for i in range(n_sims):
        rng = np.random.default_rng([seed, i])
        entry = rng.uniform(0.0, accrual_months, n_patients) if accrual_months > 0 else np.zeros(n_patients)
        t_event = _draw_times(model, rng.uniform(0.0, 1.0, n_patients))
        t_drop = rng.exponential(1.0 / dropout_hazard_per_month, n_patients) if dropout_hazard_per_month > 0 \
            else np.full(n_patients, np.inf)

        def at(cal: float, entry=entry, t_event=t_event, t_drop=t_drop):
            admin = np.clip(cal - entry, 0.0, None)
            x = np.minimum(np.minimum(t_event, t_drop), admin)
            d = (t_event <= np.minimum(t_drop, admin)) & (admin > 0)
            return x, d

        alive = True
        if futility_patient_years:
            py_curve = np.array([at(c)[0].sum() / 12.0 for c in grid])
            for k, (py_k, max_k) in enumerate(zip(futility_patient_years, futility_max_events, strict=True)):
                j = int(np.searchsorted(py_curve, py_k))
                if j >= grid.size:
                    continue
                _, d = at(float(grid[j]))
                if d.sum() > max_k:
                    stopped[i, k] = True
                    alive = False
                    break
        x, d = at(analysis_months)
        z, _, o, e = one_sample_logrank(x, d, reference, variance)
        py = float(x.sum() / 12.0)
        ev_tot += o
        py_tot += py
        e_tot += e
        if not alive:
            continue
        rej_lr[i] = bool(z >= z_crit) if math.isfinite(z) else False
        if reference_rate_per_patient_year is not None and py > 0:
            rej_po[i] = exact_poisson_test(int(o), py, reference_rate_per_patient_year) <= alpha
    p_lr, p_po = float(rej_lr.mean()), float(rej_po.mean())
    return SingleArmOC(
        n_sims=n_sims, seed=seed, power_logrank=p_lr, power_poisson=p_po,
        mc_se_logrank=math.sqrt(p_lr * (1 - p_lr) / n_sims), mc_se_poisson=math.sqrt(p_po * (1 - p_po) / n_sims),
        p_stop_futility=tuple(float(x) for x in stopped.mean(axis=0)), mean_events=ev_tot / n_sims,
        mean_patient_years=py_tot / n_sims, mean_expected_events_reference=e_tot / n_sims,
    )


__all__ = [
    "SingleArmOC", "exact_poisson_size", "exact_poisson_test", "one_sample_logrank", "poisson_critical_events",
    "simulate_single_arm",
]
