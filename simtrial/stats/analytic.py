"""Analytic power and sample size for a two-arm time-to-event comparison.

Sign convention: ``hazard_ratio`` is experimental / control, so a value below 1
favours the experimental arm.  ``allocation_ratio`` ``r`` is experimental :
control (``r = 2`` puts two patients on experimental for each on control).

Hypotheses (one-sided unless ``sided=2``)
-----------------------------------------
* Superiority (``ni_margin = 1``): H0: HR >= 1 against H1: HR < 1.
* Non-inferiority (``ni_margin = M > 1``): H0: HR >= M against H1: HR < M, with
  the Wald statistic ``Z = (log HR_hat - log M) / SE``; H0 is rejected for
  ``Z < -z_{1-alpha}``.

Number of events
----------------
Schoenfeld (1981, 1983), from the asymptotic distribution of the log-rank /
Cox score statistic with ``Var(log HR_hat) = (1 + r)^2 / (r D)``::

    D = (z_{1-alpha/sided} + z_{1-beta})^2 (1 + r)^2 / (r (log HR - log M)^2)

Freedman (1982), from the binomial share of events in the experimental arm
when the risk sets keep the allocation ratio::

    D = (z_{1-alpha/sided} + z_{1-beta})^2 (1 + r HR)^2 / (r (1 - HR)^2)

Freedman's formula is for superiority only (``ni_margin`` must be 1; rpact
makes the same restriction); use Schoenfeld's for non-inferiority.

Events to patients
------------------
Under an exponential control arm (hazard ``lambda_C = log 2 / median``),
proportional hazards (``lambda_E = HR * lambda_C``), uniform accrual over
``A`` months, a further ``F`` months of follow-up after the last patient
enrols (analysis at calendar time ``A + F``) and an exponential dropout
hazard ``eta`` in both arms, the probability that a patient's event is
observed by the analysis is::

    P(lambda) = lambda / (lambda + eta) *
                (1 - exp(-(lambda + eta) F) (1 - exp(-(lambda + eta) A)) / ((lambda + eta) A))

(``A = 0`` gives ``lambda / (lambda + eta) (1 - exp(-(lambda + eta) F))``),
averaged over arms with weights ``1 / (1 + r)`` and ``r / (1 + r)``.
Patients = events / P.

Power for a fixed number of events is the one-sided normal tail probability
``Phi(sqrt(D) * delta - z_{1-alpha/sided})``, with ``delta`` the standardised
per-event drift of the formula; for ``sided=2`` the (tiny) probability of
rejecting in the unfavourable direction is added, as rpact does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

from simtrial.errors import InvalidInput
from simtrial.stats._validate import (
    check_alpha,
    check_non_negative,
    check_open_probability,
    check_positive,
    check_sided,
)

LOG2 = math.log(2.0)

Method = Literal["schoenfeld", "freedman"]


def _check_common(
    hazard_ratio: float, alpha: float, allocation_ratio: float, ni_margin: float, sided: int
) -> tuple[float, float, float, float, int]:
    hazard_ratio = check_positive("hazard_ratio", hazard_ratio)
    alpha = check_alpha("alpha", alpha)
    allocation_ratio = check_positive("allocation_ratio", allocation_ratio)
    ni_margin = check_positive("ni_margin", ni_margin)
    if ni_margin < 1.0:
        raise InvalidInput(
            f"ni_margin must be >= 1 (1 = superiority, > 1 = non-inferiority margin "
            f"on the hazard ratio), got {ni_margin!r}"
        )
    sided = check_sided(sided)
    if sided == 2 and ni_margin != 1.0:
        raise InvalidInput("sided must be 1 for a non-inferiority test (ni_margin > 1)")
    return hazard_ratio, alpha, allocation_ratio, ni_margin, sided


def _check_direction(hazard_ratio: float, ni_margin: float, sided: int) -> None:
    if sided == 1 and not hazard_ratio < ni_margin:
        raise InvalidInput(
            f"hazard_ratio must be < ni_margin ({ni_margin!r}) for a one-sided test "
            f"(HR < 1 favours the experimental arm), got {hazard_ratio!r}"
        )
    if sided == 2 and hazard_ratio == ni_margin:
        raise InvalidInput(f"hazard_ratio must differ from {ni_margin!r}, got {hazard_ratio!r}")


def _z_sum(alpha: float, power: float, sided: int) -> float:
    from simtrial.stats import normal as norm
    power = check_open_probability("power", power)
    z = norm.isf(alpha / sided) + norm.isf(1.0 - power)
    if z <= 0.0:
        raise InvalidInput(
            f"power must exceed alpha/sided ({alpha / sided!r}), got {power!r}"
        )
    return float(z)


def _power_from_drift(drift: float, alpha: float, sided: int) -> float:
    """P(reject) for Z ~ N(drift, 1), rejecting for Z > z_{1-alpha/sided} (and < -z if 2-sided)."""
    from simtrial.stats import normal as norm
    z_crit = norm.isf(alpha / sided)
    power = norm.cdf(drift - z_crit)
    if sided == 2:
        power += norm.cdf(-drift - z_crit)
    return float(power)


def _check_events(events: float) -> float:
    return check_positive("events", events)


# ---------------------------------------------------------------------------
# Schoenfeld


def _schoenfeld_drift_per_event(hazard_ratio: float, allocation_ratio: float, ni_margin: float) -> float:
    r = allocation_ratio
    return math.sqrt(r) / (1.0 + r) * (math.log(ni_margin) - math.log(hazard_ratio))


def schoenfeld_events(
    hazard_ratio: float,
    alpha: float,
    power: float,
    allocation_ratio: float = 1.0,
    ni_margin: float = 1.0,
    sided: int = 1,
) -> float:
    """Number of events (not rounded) for a log-rank / Cox test, Schoenfeld's formula.

    ``alpha`` is the total type I error; with ``sided=2`` each tail gets alpha/2.
    """
    hazard_ratio, alpha, allocation_ratio, ni_margin, sided = _check_common(
        hazard_ratio, alpha, allocation_ratio, ni_margin, sided
    )
    _check_direction(hazard_ratio, ni_margin, sided)
    z = _z_sum(alpha, power, sided)
    drift = _schoenfeld_drift_per_event(hazard_ratio, allocation_ratio, ni_margin)
    return z * z / (drift * drift)


def schoenfeld_power(
    events: float,
    hazard_ratio: float,
    alpha: float,
    allocation_ratio: float = 1.0,
    ni_margin: float = 1.0,
    sided: int = 1,
) -> float:
    """Power of the log-rank / Cox test after ``events`` events, Schoenfeld's approximation.

    One-sided: ``Phi(sqrt(D r) / (1 + r) * (log M - log HR) - z_{1-alpha})``.  If the
    true ``hazard_ratio`` is not better than the margin this is the (small)
    rejection probability, e.g. ``alpha`` at ``hazard_ratio == ni_margin``.
    """
    events = _check_events(events)
    hazard_ratio, alpha, allocation_ratio, ni_margin, sided = _check_common(
        hazard_ratio, alpha, allocation_ratio, ni_margin, sided
    )
    drift = math.sqrt(events) * _schoenfeld_drift_per_event(hazard_ratio, allocation_ratio, ni_margin)
    return _power_from_drift(drift, alpha, sided)


# ---------------------------------------------------------------------------
# Freedman


def _freedman_drift_per_event(hazard_ratio: float, allocation_ratio: float, ni_margin: float) -> float:
    if ni_margin != 1.0:
        raise InvalidInput(
            f"ni_margin must be 1 for Freedman's formula (superiority only; use the "
            f"Schoenfeld functions for non-inferiority), got {ni_margin!r}"
        )
    r, hr = allocation_ratio, hazard_ratio
    return math.sqrt(r) * (1.0 - hr) / (1.0 + r * hr)


def freedman_events(
    hazard_ratio: float,
    alpha: float,
    power: float,
    allocation_ratio: float = 1.0,
    ni_margin: float = 1.0,
    sided: int = 1,
) -> float:
    """Number of events (not rounded) for the log-rank test, Freedman's formula."""
    hazard_ratio, alpha, allocation_ratio, ni_margin, sided = _check_common(
        hazard_ratio, alpha, allocation_ratio, ni_margin, sided
    )
    _check_direction(hazard_ratio, ni_margin, sided)
    z = _z_sum(alpha, power, sided)
    drift = _freedman_drift_per_event(hazard_ratio, allocation_ratio, ni_margin)
    return z * z / (drift * drift)


def freedman_power(
    events: float,
    hazard_ratio: float,
    alpha: float,
    allocation_ratio: float = 1.0,
    ni_margin: float = 1.0,
    sided: int = 1,
) -> float:
    """Power of the log-rank test after ``events`` events, Freedman's approximation."""
    events = _check_events(events)
    hazard_ratio, alpha, allocation_ratio, ni_margin, sided = _check_common(
        hazard_ratio, alpha, allocation_ratio, ni_margin, sided
    )
    drift = math.sqrt(events) * _freedman_drift_per_event(hazard_ratio, allocation_ratio, ni_margin)
    return _power_from_drift(drift, alpha, sided)


# ---------------------------------------------------------------------------
# Events <-> patients


def _arm_event_probability(
    hazard: float, accrual_months: float, followup_months: float, dropout: float
) -> float:
    total = hazard + dropout
    share = hazard / total
    if accrual_months == 0.0:
        return share * -math.expm1(-total * followup_months)
    # mean over entry times uniform on [0, A] of 1 - exp(-total * (A + F - entry))
    mean_survival = (
        math.exp(-total * followup_months) * -math.expm1(-total * accrual_months)
        / (total * accrual_months)
    )
    return share * (1.0 - mean_survival)


def probability_of_event(
    control_median_months: float,
    hazard_ratio: float,
    accrual_months: float,
    followup_months: float,
    allocation_ratio: float = 1.0,
    dropout_hazard_per_month: float = 0.0,
) -> float:
    """Probability that a randomised patient has an observed event by the analysis.

    Exponential control arm with median ``control_median_months``, proportional
    hazards ``hazard_ratio`` (experimental / control), uniform accrual over
    ``accrual_months``, analysis ``followup_months`` after the last patient is
    enrolled, exponential dropout hazard ``dropout_hazard_per_month`` in both
    arms (a dropout rate ``q`` by month ``t`` is ``-log(1 - q) / t``).
    Averaged over arms with the allocation ratio (experimental : control).
    """
    control_median_months = check_positive("control_median_months", control_median_months)
    hazard_ratio = check_positive("hazard_ratio", hazard_ratio)
    accrual_months = check_non_negative("accrual_months", accrual_months)
    followup_months = check_non_negative("followup_months", followup_months)
    if accrual_months + followup_months <= 0.0:
        raise InvalidInput("accrual_months + followup_months must be > 0")
    allocation_ratio = check_positive("allocation_ratio", allocation_ratio)
    dropout = check_non_negative("dropout_hazard_per_month", dropout_hazard_per_month)
    hazard_control = LOG2 / control_median_months
    p_control = _arm_event_probability(hazard_control, accrual_months, followup_months, dropout)
    p_experimental = _arm_event_probability(
        hazard_ratio * hazard_control, accrual_months, followup_months, dropout
    )
    r = allocation_ratio
    return (p_control + r * p_experimental) / (1.0 + r)


def events_to_patients(events: float, event_probability: float) -> float:
    """Total patients (not rounded) expected to yield ``events`` events: ``events / P(event)``."""
    events = _check_events(events)
    event_probability = float(event_probability)
    if not (0.0 < event_probability <= 1.0):
        raise InvalidInput(f"event_probability must be in (0, 1], got {event_probability!r}")
    return events / event_probability


def _ceil(x: float) -> int:
    # guard against 400.0000000001 from floating-point noise
    return int(math.ceil(x - 1e-9))


@dataclass(frozen=True)
class SurvivalSampleSize:
    """Events and patients for a two-arm time-to-event design (analytic)."""

    method: str
    hazard_ratio: float
    alpha: float
    power: float
    allocation_ratio: float
    ni_margin: float
    sided: int
    events_exact: float
    events: int
    event_probability: float
    patients_exact: float
    patients: int

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def survival_sample_size(
    hazard_ratio: float,
    alpha: float,
    power: float,
    control_median_months: float,
    accrual_months: float,
    followup_months: float,
    allocation_ratio: float = 1.0,
    ni_margin: float = 1.0,
    sided: int = 1,
    dropout_hazard_per_month: float = 0.0,
    method: Method = "schoenfeld",
) -> SurvivalSampleSize:
    """Events (Schoenfeld or Freedman) and the patients needed to observe them.

    ``events`` is the exact figure rounded up; ``patients`` is ``events_exact /
    P(event)`` rounded up (rounding the events first would inflate N twice).
    """
    if method == "schoenfeld":
        events_exact = schoenfeld_events(
            hazard_ratio, alpha, power, allocation_ratio, ni_margin, sided
        )
    elif method == "freedman":
        events_exact = freedman_events(hazard_ratio, alpha, power, allocation_ratio, ni_margin, sided)
    else:
        raise InvalidInput(f"method must be 'schoenfeld' or 'freedman', got {method!r}")
    p_event = probability_of_event(
        control_median_months,
        hazard_ratio,
        accrual_months,
        followup_months,
        allocation_ratio,
        dropout_hazard_per_month,
    )
    patients_exact = events_to_patients(events_exact, p_event)
    return SurvivalSampleSize(
        method=method,
        hazard_ratio=float(hazard_ratio),
        alpha=float(alpha),
        power=float(power),
        allocation_ratio=float(allocation_ratio),
        ni_margin=float(ni_margin),
        sided=int(sided),
        events_exact=events_exact,
        events=_ceil(events_exact),
        event_probability=p_event,
        patients_exact=patients_exact,
        patients=_ceil(patients_exact),
    )
