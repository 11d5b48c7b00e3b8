"""Tests for binary endpoints (pCR, ORR), vectorised over simulated trials.

Array contract
--------------
Counts are integer-valued arrays whose **last axis is the arm** (index 0 =
control, 1 = experimental); leading axes (typically one ``n_sims`` axis) are
kept in the output.  ``responders`` and ``patients`` have the same shape and
``0 <= responders <= patients``.  The stratified test takes
``[..., n_strata, 2]``.

Sign convention: a response is good, so every ``z`` is positive when the
experimental arm responds more (``p1 > p0``).  ``p_value_one_sided`` is the
upper tail ``P(Z >= z)`` (evidence that experimental is better);
``p_value_two_sided`` is ``P(|Z| >= |z|)``.

Undefined statistics (an empty arm; no variance because everyone or no one
responded; a stratified test with no informative stratum) are NaN, never an
exception: the caller counts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.stats._validate import (
    check_alpha,
    check_count_arrays,
    check_open_probability,
    check_positive,
    check_positive_int,
    check_sided,
)


@dataclass(frozen=True)
class BinaryTestResult:
    """Signed Z statistics and p-values, one per simulated trial."""

    z: np.ndarray
    p_value_one_sided: np.ndarray
    p_value_two_sided: np.ndarray

    def to_dict(self) -> dict[str, np.ndarray]:
        return {
            "z": self.z,
            "p_value_one_sided": self.p_value_one_sided,
            "p_value_two_sided": self.p_value_two_sided,
        }


def _result(z: np.ndarray) -> BinaryTestResult:
    from scipy.stats import norm
    z = np.asarray(z, dtype=np.float64)
    return BinaryTestResult(
        z=z,
        p_value_one_sided=norm.sf(z),
        p_value_two_sided=2.0 * norm.sf(np.abs(z)),
    )


def _arm_axis(responders: np.ndarray, patients: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    r, n = check_count_arrays(responders, patients, names=("responders", "patients"))
    if r.ndim < 1 or r.shape[-1] != 2:
        raise InvalidInput(f"{name}: the last axis must be the arm (length 2: control, experimental), got shape {r.shape}")
    return r, n


# ---------------------------------------------------------------------------
# Pearson chi-square (two proportions)


def two_proportion_test(responders: np.ndarray, patients: np.ndarray) -> BinaryTestResult:
    """Pearson chi-square test of two proportions, no continuity correction.

    ``z = (p1 - p0) / sqrt(pbar (1 - pbar) (1/n0 + 1/n1))`` with the pooled
    ``pbar``; ``z**2`` is Pearson's chi-square on the 2x2 table.  NaN when an arm
    is empty or ``pbar`` is 0 or 1.
    """
    r, n = _arm_axis(responders, patients, "two_proportion_test")
    r0, r1, n0, n1 = r[..., 0], r[..., 1], n[..., 0], n[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        p0, p1 = r0 / n0, r1 / n1
        pbar = (r0 + r1) / (n0 + n1)
        se = np.sqrt(pbar * (1.0 - pbar) * (1.0 / n0 + 1.0 / n1))
        z = np.where((n0 > 0) & (n1 > 0) & (se > 0), (p1 - p0) / se, np.nan)
    return _result(z)


# ---------------------------------------------------------------------------
# Cochran-Mantel-Haenszel


def cmh_test(responders: np.ndarray, patients: np.ndarray) -> BinaryTestResult:
    """Cochran-Mantel-Haenszel test over strata, no continuity correction.

    Input shape ``[..., n_strata, 2]``.  With ``a_k`` the experimental
    responders of stratum ``k``, ``E_k = n1_k m_k / N_k`` and the
    hypergeometric ``V_k = n0_k n1_k m_k (N_k - m_k) / (N_k^2 (N_k - 1))``::

        z = sum_k (a_k - E_k) / sqrt(sum_k V_k)

    so ``z**2`` is the CMH chi-square.  A stratum with an empty arm (or fewer
    than two patients) contributes nothing; if no stratum carries variance the
    result is NaN.
    """
    r, n = _arm_axis(responders, patients, "cmh_test")
    if r.ndim < 2:
        raise InvalidInput(f"cmh_test: counts must have shape [..., n_strata, 2], got {r.shape}")
    a, n1 = r[..., 1], n[..., 1]
    n0 = n[..., 0]
    m = r[..., 0] + r[..., 1]
    total = n0 + n1
    informative = (n0 > 0) & (n1 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(informative, n1 * m / total, 0.0)
        var = np.where(
            informative,
            n0 * n1 * m * (total - m) / (total * total * (total - 1.0)),
            0.0,
        )
    diff = np.where(informative, a - expected, 0.0).sum(axis=-1)
    var = var.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, diff / np.sqrt(var), np.nan)
    return _result(z)


# ---------------------------------------------------------------------------
# Non-inferiority on the risk difference


def _fm_restricted_mle(
    p1: np.ndarray, p0: np.ndarray, n1: np.ndarray, n0: np.ndarray, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Restricted MLE of (p1, p0) under p1 - p0 = delta (Farrington & Manning 1990).

    Closed-form root of the likelihood cubic, with ``theta = n0 / n1``.
    """
    theta = n0 / n1
    a = 1.0 + theta
    b = -(1.0 + theta + p1 + theta * p0 + delta * (theta + 2.0))
    c = delta * delta + delta * (2.0 * p1 + theta + 1.0) + p1 + theta * p0
    d = -p1 * delta * (1.0 + delta)
    v = b**3 / (27.0 * a**3) - b * c / (6.0 * a * a) + d / (2.0 * a)
    u = np.sign(v) * np.sqrt(np.maximum(b * b / (9.0 * a * a) - c / (3.0 * a), 0.0))
    # u == 0 only when v == 0 too (triple root); the ratio is then taken as 0
    ratio = np.where(u != 0.0, v / np.where(u != 0.0, u**3, 1.0), 0.0)
    w = (math.pi + np.arccos(np.clip(ratio, -1.0, 1.0))) / 3.0
    p1_tilde = 2.0 * u * np.cos(w) - b / (3.0 * a)
    p1_tilde = np.clip(p1_tilde, max(delta, 0.0), min(1.0 + delta, 1.0))
    return p1_tilde, p1_tilde - delta


def risk_difference_ni_test(
    responders: np.ndarray,
    patients: np.ndarray,
    ni_margin: float,
    method: Literal["farrington-manning", "wald"] = "farrington-manning",
) -> BinaryTestResult:
    """Non-inferiority of experimental on the response-rate difference.

    H0: ``p1 - p0 <= -ni_margin`` against H1: ``p1 - p0 > -ni_margin``;
    ``z = (p1_hat - p0_hat + ni_margin) / SE`` and H0 is rejected at one-sided
    level alpha when ``p_value_one_sided < alpha`` (i.e. ``z > z_{1-alpha}``).

    ``method="farrington-manning"`` (default): SE from the restricted maximum
    likelihood estimates under ``p1 - p0 = -ni_margin`` (Farrington & Manning
    1990, score test; no ``N / (N - 1)`` factor, i.e. not Miettinen-Nurminen).
    ``method="wald"``: SE from the unrestricted estimates
    ``sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0)``; NaN when that is 0.
    """
    ni_margin = float(ni_margin)
    if not (0.0 < ni_margin < 1.0):
        raise InvalidInput(f"ni_margin must be a risk difference in (0, 1), got {ni_margin!r}")
    if method not in ("farrington-manning", "wald"):
        raise InvalidInput(f"method must be 'farrington-manning' or 'wald', got {method!r}")
    r, n = _arm_axis(responders, patients, "risk_difference_ni_test")
    r0, r1, n0, n1 = r[..., 0], r[..., 1], n[..., 0], n[..., 1]
    ok = (n0 > 0) & (n1 > 0)
    # empty arms get a dummy denominator; their z is masked to NaN below
    n0s, n1s = np.where(n0 > 0, n0, 1.0), np.where(n1 > 0, n1, 1.0)
    p0, p1 = r0 / n0s, r1 / n1s
    if method == "wald":
        v1, v0 = p1, p0
    else:
        v1, v0 = _fm_restricted_mle(p1, p0, n1s, n0s, -ni_margin)
    se = np.sqrt(v1 * (1.0 - v1) / n1s + v0 * (1.0 - v0) / n0s)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(ok & (se > 0), (p1 - p0 + ni_margin) / se, np.nan)
    return _result(z)


# ---------------------------------------------------------------------------
# Single-arm exact binomial


@dataclass(frozen=True)
class SingleArmExactDesign:
    """One-stage exact binomial design: reject H0: p <= p0 if responders >= critical_value."""

    n: int
    p0: float
    p1: float
    alpha: float
    critical_value: int
    actual_alpha: float
    power: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "p0": self.p0,
            "p1": self.p1,
            "alpha": self.alpha,
            "critical_value": self.critical_value,
            "actual_alpha": self.actual_alpha,
            "power": self.power,
        }


def binomial_critical_value(n: int, p0: float, alpha: float) -> int:
    """Smallest ``c`` with ``P(X >= c | n, p0) <= alpha``; ``n + 1`` if none (never reject)."""
    from scipy.stats import binom
    n = check_positive_int("n", n)
    p0 = check_open_probability("p0", p0)
    alpha = check_alpha("alpha", alpha)
    c = np.arange(n + 2)
    tail = binom.sf(c - 1, n, p0)  # P(X >= c)
    return int(np.flatnonzero(tail <= alpha)[0])


def single_arm_exact_design(n: int, p0: float, p1: float, alpha: float) -> SingleArmExactDesign:
    """Critical value, exact size and exact power of the one-sided binomial test."""
    from scipy.stats import binom
    n = check_positive_int("n", n)
    p0 = check_open_probability("p0", p0)
    p1 = check_open_probability("p1", p1)
    alpha = check_alpha("alpha", alpha)
    c = binomial_critical_value(n, p0, alpha)
    return SingleArmExactDesign(
        n=n,
        p0=p0,
        p1=p1,
        alpha=alpha,
        critical_value=c,
        actual_alpha=float(binom.sf(c - 1, n, p0)),
        power=float(binom.sf(c - 1, n, p1)),
    )


def exact_binomial_test(responders: np.ndarray, patients: np.ndarray | int, p0: float) -> np.ndarray:
    """Exact one-sided p-value ``P(X >= responders | patients, p0)`` for H0: p <= p0.

    Vectorised over trials; ``patients`` may be a scalar.  NaN where ``patients == 0``.
    """
    from scipy.stats import binom
    p0 = check_open_probability("p0", p0)
    r = np.asarray(responders)
    n = np.broadcast_to(np.asarray(patients), r.shape)
    r, n = check_count_arrays(r, n, names=("responders", "patients"))
    p = binom.sf(r - 1.0, n, p0)
    return np.where(n > 0, p, np.nan)


# ---------------------------------------------------------------------------
# Sample size, two proportions (normal approximation)


@dataclass(frozen=True)
class TwoProportionSampleSize:
    """Patients per arm for a two-proportion comparison (normal approximation)."""

    p0: float
    p1: float
    alpha: float
    power: float
    allocation_ratio: float
    sided: int
    ni_margin: float
    n_control_exact: float
    n_control: int
    n_experimental: int

    @property
    def n_total(self) -> int:
        return self.n_control + self.n_experimental

    def to_dict(self) -> dict[str, float | int]:
        return {
            "p0": self.p0,
            "p1": self.p1,
            "alpha": self.alpha,
            "power": self.power,
            "allocation_ratio": self.allocation_ratio,
            "sided": self.sided,
            "ni_margin": self.ni_margin,
            "n_control_exact": self.n_control_exact,
            "n_control": self.n_control,
            "n_experimental": self.n_experimental,
            "n_total": self.n_total,
        }


def two_proportion_sample_size(
    p0: float,
    p1: float,
    alpha: float,
    power: float,
    allocation_ratio: float = 1.0,
    sided: int = 1,
    ni_margin: float = 0.0,
) -> TwoProportionSampleSize:
    """Control-arm size for the two-proportion test (no continuity correction).

    Superiority (``ni_margin = 0``), for the pooled chi-square test of
    :func:`two_proportion_test`, with ``r = n1 / n0`` and
    ``pbar = (p0 + r p1) / (1 + r)``::

        n0 = (z_{1-alpha/sided} sqrt(pbar qbar (1 + 1/r)) + z_{1-beta} sqrt(p0 q0 + p1 q1 / r))^2
             / (p1 - p0)^2

    Non-inferiority (``ni_margin > 0``, H0: p1 - p0 <= -margin, one-sided), the
    unpooled (Blackwelder / Wald) version::

        n0 = (z_{1-alpha} + z_{1-beta})^2 (p0 q0 + p1 q1 / r) / (p1 - p0 + margin)^2

    ``n_experimental = ceil(r * n0_exact)``.
    """
    from scipy.stats import norm
    p0 = check_open_probability("p0", p0)
    p1 = check_open_probability("p1", p1)
    alpha = check_alpha("alpha", alpha)
    power = check_open_probability("power", power)
    r = check_positive("allocation_ratio", allocation_ratio)
    sided = check_sided(sided)
    ni_margin = float(ni_margin)
    if not (0.0 <= ni_margin < 1.0):
        raise InvalidInput(f"ni_margin must be in [0, 1) (0 = superiority), got {ni_margin!r}")
    z_a = norm.isf(alpha / sided)
    z_b = norm.isf(1.0 - power)
    if z_a + z_b <= 0:
        raise InvalidInput(f"power must exceed alpha/sided ({alpha / sided!r}), got {power!r}")
    var_alt = p0 * (1 - p0) + p1 * (1 - p1) / r
    if ni_margin > 0.0:
        if sided != 1:
            raise InvalidInput("sided must be 1 for a non-inferiority test (ni_margin > 0)")
        diff = p1 - p0 + ni_margin
        if diff <= 0:
            raise InvalidInput(f"p1 - p0 must be > -ni_margin ({-ni_margin!r}), got {p1 - p0!r}")
        n0 = (z_a + z_b) ** 2 * var_alt / diff**2
    else:
        diff = p1 - p0
        if sided == 1 and diff <= 0:
            raise InvalidInput(f"p1 must be > p0 for a one-sided superiority test, got p1={p1!r}, p0={p0!r}")
        if diff == 0:
            raise InvalidInput("p1 must differ from p0")
        pbar = (p0 + r * p1) / (1 + r)
        sd_null = math.sqrt(pbar * (1 - pbar) * (1 + 1 / r))
        n0 = (z_a * sd_null + z_b * math.sqrt(var_alt)) ** 2 / diff**2
    return TwoProportionSampleSize(
        p0=p0,
        p1=p1,
        alpha=alpha,
        power=power,
        allocation_ratio=r,
        sided=sided,
        ni_margin=ni_margin,
        n_control_exact=float(n0),
        n_control=int(math.ceil(n0 - 1e-9)),
        n_experimental=int(math.ceil(r * n0 - 1e-9)),
    )
