"""Lachin-Foulkes (1986) sample size for the log-rank / hazard-ratio test, with entry shape and dropout.

Lachin JM, Foulkes MA (1986). Evaluation of sample size and power for analyses
of survival with allowance for nonuniform patient entry, losses to follow-up,
noncompliance, and stratification. *Biometrics* 42, 507-519.  The same method
as gsDesign's ``nSurvival(type = "rr")``.

Exponential event hazards ``lambda_C`` (control) and ``lambda_E = HR *
lambda_C``, an exponential dropout hazard ``eta`` per arm, entry over
``[0, R]`` (accrual ``R`` months) and analysis at study time ``T = R + F``.
The probability that a patient's event is observed by ``T`` is, for hazard
``lambda`` and dropout ``eta`` (``mu = lambda + eta``)::

    P(lambda) = lambda / mu * (1 - E[exp(-mu (T - U))]),   U the entry time.

Uniform entry, U ~ U(0, R)::

    E[exp(-mu (T - U))] = exp(-mu (T - R)) (1 - exp(-mu R)) / (mu R)

Truncated exponential entry with shape ``gamma`` (density
gamma exp(-gamma u) / (1 - exp(-gamma R)) on [0, R]: gamma > 0 front-loads
entry, gamma < 0 back-loads it; gamma -> 0 is uniform)::

    E[exp(-mu (T - U))] = gamma exp(-mu T) (exp((mu - gamma) R) - 1) / ((mu - gamma) (1 - exp(-gamma R)))

The estimated log hazard ratio has variance ``1 / (N xi P)`` per arm (xi its
share of the patients), so, with the variance under H0 from the pooled hazard
``lambda_bar = xi_C lambda_C + xi_E lambda_E`` (Lachin-Foulkes eq. 4.3 on the
log scale)::

    sqrt(N) |log HR| = z_{1-alpha/sided} sqrt(1 / (xi_C xi_E P(lambda_bar)))
                       + z_{1-beta} sqrt(1 / (xi_C P_C) + 1 / (xi_E P_E))

and the expected events are ``N (xi_C P_C + xi_E P_E)``.  ``allocation_ratio``
``r`` is experimental : control (``xi_E = r / (1 + r)``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from simtrial.errors import InvalidInput
from simtrial.stats._validate import (
    check_alpha,
    check_non_negative,
    check_open_probability,
    check_positive,
    check_sided,
)

ENTRY_SHAPES = ("uniform", "exponential")


def _mean_exp_decay(mu: float, accrual_months: float, study_months: float, entry: str,
                    entry_gamma: float | None) -> float:
    """E[exp(-mu (T - U))] over the entry time U on [0, R]."""
    r, t = accrual_months, study_months
    if mu == 0.0:
        return 1.0
    if r == 0.0:
        return math.exp(-mu * t)
    if entry == "uniform" or entry_gamma is None or abs(entry_gamma) < 1e-12:
        return math.exp(-mu * (t - r)) * -math.expm1(-mu * r) / (mu * r)
    g = float(entry_gamma)
    d = mu - g
    # integral of g exp(-g u) exp(-mu (t - u)) du over [0, r], normalised by 1 - exp(-g r)
    if abs(d) < 1e-12:
        integral = g * math.exp(-mu * t) * r
    else:
        integral = g * math.exp(-mu * t) * math.expm1(d * r) / d
    return integral / -math.expm1(-g * r)


def event_probability(
    hazard_per_month: float,
    accrual_months: float,
    study_months: float,
    dropout_hazard_per_month: float = 0.0,
    entry: str = "uniform",
    entry_gamma: float | None = None,
) -> float:
    """P(event observed by study time ``study_months``) for an exponential hazard, entry law and dropout."""
    lam = check_positive("hazard_per_month", hazard_per_month)
    r = check_non_negative("accrual_months", accrual_months)
    t = check_positive("study_months", study_months)
    if t < r:
        raise InvalidInput(f"study_months ({t}) must be >= accrual_months ({r})")
    eta = check_non_negative("dropout_hazard_per_month", dropout_hazard_per_month)
    if entry not in ENTRY_SHAPES:
        raise InvalidInput(f"entry must be one of {list(ENTRY_SHAPES)}, got {entry!r}")
    if entry == "exponential" and entry_gamma is None:
        raise InvalidInput("entry 'exponential' needs entry_gamma (the shape; > 0 front-loads entry)")
    mu = lam + eta
    return lam / mu * (1.0 - _mean_exp_decay(mu, r, t, entry, entry_gamma))


@dataclass(frozen=True)
class LachinFoulkesSize:
    """Patients and events by Lachin-Foulkes (not rounded, and rounded up)."""

    method: str
    patients_exact: float
    patients: int
    events_exact: float
    events: int
    event_probability_control: float
    event_probability_experimental: float
    event_probability_pooled: float
    hazard_ratio: float
    alpha: float
    power: float
    sided: int
    allocation_ratio: float
    accrual_months: float
    followup_months: float
    entry: str
    entry_gamma: float | None
    inflation_factor: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


def _ceil(x: float) -> int:
    return int(math.ceil(x - 1e-9))


def lachin_foulkes_sample_size(
    control_hazard_per_month: float,
    hazard_ratio: float,
    alpha: float,
    power: float,
    accrual_months: float,
    followup_months: float,
    allocation_ratio: float = 1.0,
    sided: int = 1,
    dropout_hazard_per_month: float | tuple[float, float] = 0.0,
    entry: str = "uniform",
    entry_gamma: float | None = None,
    inflation_factor: float = 1.0,
) -> LachinFoulkesSize:
    """Patients and events for the log-rank test (Lachin-Foulkes, variance under H0 and H1).

    ``dropout_hazard_per_month``: one hazard for both arms, or (control,
    experimental).  ``inflation_factor`` (a group-sequential design's maximum
    over fixed information) multiplies patients and events.
    """
    lam_c = check_positive("control_hazard_per_month", control_hazard_per_month)
    hr = check_positive("hazard_ratio", hazard_ratio)
    if hr == 1.0:
        raise InvalidInput("hazard_ratio must differ from 1")
    alpha = check_alpha("alpha", alpha)
    power = check_open_probability("power", power)
    sided = check_sided(sided)
    ratio = check_positive("allocation_ratio", allocation_ratio)
    r = check_non_negative("accrual_months", accrual_months)
    f = check_non_negative("followup_months", followup_months)
    if r + f <= 0.0:
        raise InvalidInput("accrual_months + followup_months must be > 0")
    if not (inflation_factor >= 1.0 and math.isfinite(inflation_factor)):
        raise InvalidInput(f"inflation_factor must be >= 1, got {inflation_factor!r}")
    eta_c, eta_e = (dropout_hazard_per_month, dropout_hazard_per_month) if isinstance(
        dropout_hazard_per_month, int | float) else tuple(dropout_hazard_per_month)
    from scipy.stats import norm

    xi_c, xi_e = 1.0 / (1.0 + ratio), ratio / (1.0 + ratio)
    lam_e = hr * lam_c
    lam_bar = xi_c * lam_c + xi_e * lam_e
    eta_bar = xi_c * eta_c + xi_e * eta_e
    t = r + f
    p_c = event_probability(lam_c, r, t, eta_c, entry, entry_gamma)
    p_e = event_probability(lam_e, r, t, eta_e, entry, entry_gamma)
    p_bar = event_probability(lam_bar, r, t, eta_bar, entry, entry_gamma)
    z_a, z_b = float(norm.isf(alpha / sided)), float(norm.isf(1.0 - power))
    root = (z_a * math.sqrt(1.0 / (xi_c * xi_e * p_bar)) + z_b * math.sqrt(1.0 / (xi_c * p_c) + 1.0 / (xi_e * p_e)))
    n = (root / math.log(hr)) ** 2 * inflation_factor
    events = n * (xi_c * p_c + xi_e * p_e)
    return LachinFoulkesSize(
        method="lachin_foulkes", patients_exact=n, patients=_ceil(n), events_exact=events, events=_ceil(events),
        event_probability_control=p_c, event_probability_experimental=p_e, event_probability_pooled=p_bar,
        hazard_ratio=hr, alpha=alpha, power=power, sided=sided, allocation_ratio=ratio, accrual_months=r,
        followup_months=f, entry=entry, entry_gamma=entry_gamma, inflation_factor=float(inflation_factor),
    )


__all__ = ["ENTRY_SHAPES", "LachinFoulkesSize", "event_probability", "lachin_foulkes_sample_size"]
