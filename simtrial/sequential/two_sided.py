"""Two-sided group-sequential boundaries by recursive numerical integration.

Scale: Z_eff = -Z (positive favours the experimental arm).  At look k the
trial stops and rejects H0

- in the favourable direction when Z_eff >= ``z_upper[k]`` (efficacy), or
- in the unfavourable direction when Z_eff <= ``z_lower[k]`` (harm),

and, with an inner futility region (rpact's two-sided beta spending), stops
without rejecting when |Z_eff| < ``z_futility[k]`` at an interim look.

Designs (rpact ``getDesignGroupSequential(sided = 2)``, SAS PROC SEQDESIGN
``ALT = TWOSIDED``, gsDesign ``test.type = 2, 5``):

- **symmetric** (the default): both sides spend ``alpha / 2`` with the same
  spending function, ``z_lower = -z_upper``.  rpact's and SAS's two-sided
  designs; the bounds of the one-sided design at ``alpha / 2`` up to the
  (negligible) paths that cross one bound after the other side's region;
- **asymmetric harm bound**: the lower side spends its own ``lower_alpha``
  with its own spending function (e.g. a Pocock-type harm bound beside an
  O'Brien-Fleming efficacy bound, SAS ``ALPHA = (LOWER = UPPER =)``).  Both
  bounds are computed jointly under H0 (the harm bound is binding: crossing it
  rejects H0 and ends the trial);
- **two-sided with futility**: symmetric bounds plus an inner futility wedge
  |Z_eff| < a_k whose size spends beta under the design alternative (rpact
  ``sided = 2`` with ``typeBetaSpending``), binding (the rejection bounds
  assume futility stops are obeyed) or non-binding (they ignore them);
- **two-sided with fixed futility bounds** (``futility_z``, symmetric or with
  a harm bound): at an interim look the trial stops without rejecting when
  z_lower < Z_eff < f_k, the region between the harm bound and the futility
  bound (the continuation region is (max(z_lower, f_k), z_upper)).  As for
  one-sided plans, non-binding bounds are those of the design without the
  futility rule; binding bounds are solved with the futility stops obeyed
  under H0, each side then spending exactly its own alpha (so a binding
  symmetric design is no longer exactly symmetric: the futility region lies
  on the harm side).

``alpha`` is the total two-sided type I error: the probability under H0 of
rejecting on either side.  Power is the probability under the alternative of
rejecting on either side (as in ``simtrial.designs._decisions``); the
favourable side alone is reported beside it.  The design alternative (the
drift, the mean of Z_eff at full information under H1) gives the favourable
side power 1 - beta, as rpact (``twoSidedPower = FALSE``, its default) and
SAS solve it; with beta-spending futility, beta is everything that does not
reject (futility stops and the final non-rejection), as in rpact.  The
inflation factor is drift^2 / (z_{1-alpha_upper} + z_{1-beta})^2, with
alpha_upper = alpha / 2 for a symmetric design.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.sequential._integration import (
    Stage,
    advance,
    advance_regions,
    crossing_probabilities,
    prob_above,
    prob_below,
)
from simtrial.sequential.boundaries import (
    CLASSICAL,
    DEFAULT_GRID_R,
    _check_fractions,
    _check_futility,
    _check_grid_r,
    _check_spending,
    _solve_lower,
    _solve_upper,
)
from simtrial.sequential.spending import ALPHA_SPENDING, BETA_SPENDING, alpha_spending
from simtrial.sequential.spending import beta_spending as beta_spending_values

if TYPE_CHECKING:
    import pandas as pd

_Z_FAR: Final = 40.0
_XTOL: Final = 1e-12


@dataclass(frozen=True)
class TwoSidedDesign:
    """A solved two-sided group-sequential design (efficacy scale Z_eff = -Z).

    Per-look tuples have one entry per look.  ``z_futility`` is the inner
    futility bound (stop when |Z_eff| < it), None without futility; at the
    last look it is the efficacy bound (nothing rejected = futility).
    ``futility`` says which: ``"beta_spending"`` (the wedge above) or ``"z"``
    (fixed bounds: stop when z_lower < Z_eff < z_futility; -inf where a look
    has none).
    ``alpha_spent_upper`` / ``alpha_spent_lower`` are per look under H0 with
    the bounds as computed (non-binding futility: ignoring it);
    ``reject_upper_h*`` / ``reject_lower_h*`` / ``futility_h*`` are the
    per-look stopping probabilities with every bound obeyed.
    """

    information_fractions: tuple[float, ...]
    alpha: float
    alpha_upper: float
    alpha_lower: float
    beta: float
    spending: str
    gamma: float | None
    rho: float | None
    lower_spending: str
    lower_gamma: float | None
    lower_rho: float | None
    symmetric: bool
    beta_spending: str | None
    beta_gamma: float | None
    beta_rho: float | None
    binding_futility: bool
    z_upper: tuple[float, ...]
    z_lower: tuple[float, ...]
    z_futility: tuple[float, ...] | None
    nominal_p_upper: tuple[float, ...]
    nominal_p_lower: tuple[float, ...]
    alpha_spent_upper: tuple[float, ...]
    alpha_spent_lower: tuple[float, ...]
    cumulative_alpha_spent: tuple[float, ...]
    cumulative_alpha_spent_upper: tuple[float, ...]
    cumulative_alpha_spent_lower: tuple[float, ...]
    cumulative_beta_spent: tuple[float, ...] | None
    reject_upper_h0: tuple[float, ...]
    reject_lower_h0: tuple[float, ...]
    futility_h0: tuple[float, ...]
    reject_upper_h1: tuple[float, ...]
    reject_lower_h1: tuple[float, ...]
    futility_h1: tuple[float, ...]
    type_one_error: float
    power: float
    power_favourable: float
    drift: float
    inflation_factor: float
    expected_information_h0: float
    expected_information_h1: float

    sided: int = 2
    futility: str | None = None  # None | "beta_spending" (inner wedge) | "z" (fixed bounds, stop below)

    @property
    def n_looks(self) -> int:
        return len(self.information_fractions)

    @property
    def z_efficacy(self) -> tuple[float, ...]:
        """The upper (favourable) rejection bounds, as for a one-sided design."""
        return self.z_upper

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples become lists) for JSON reports.

        Also under the one-sided design's names, for readers of either:
        ``z_efficacy`` / ``nominal_p`` (the upper side) and ``alpha_spent``
        (both sides, per look).
        """
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        out["z_efficacy"] = list(self.z_upper)
        out["nominal_p"] = list(self.nominal_p_upper)
        out["alpha_spent"] = [u + lo for u, lo in zip(self.alpha_spent_upper, self.alpha_spent_lower, strict=True)]
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per look: information, bounds, alpha per side and stopping probabilities."""
        import pandas as pd

        k = self.n_looks
        return pd.DataFrame({
            "look": np.arange(1, k + 1),
            "information_fraction": self.information_fractions,
            "z_lower": self.z_lower,
            "z_futility": self.z_futility if self.z_futility is not None else (math.nan,) * k,
            "z_upper": self.z_upper,
            "nominal_p_lower": self.nominal_p_lower,
            "nominal_p_upper": self.nominal_p_upper,
            "cumulative_alpha_lower": self.cumulative_alpha_spent_lower,
            "cumulative_alpha_upper": self.cumulative_alpha_spent_upper,
            "cumulative_alpha": self.cumulative_alpha_spent,
            "reject_lower_h0": self.reject_lower_h0,
            "reject_upper_h0": self.reject_upper_h0,
            "reject_lower_h1": self.reject_lower_h1,
            "reject_upper_h1": self.reject_upper_h1,
            "futility_h0": self.futility_h0,
            "futility_h1": self.futility_h1,
        })


# --------------------------------------------------------------- probabilities


def _regions(lower: float, upper: float, inner: float) -> list[tuple[float, float]]:
    """Continuation region (lower, upper) minus the futility wedge [-inner, inner].

    A fixed futility bound f (stop when Z_eff < f) enters as ``lower = max(harm bound, f)``.
    """
    if not inner > 0.0:
        return [(lower, upper)]
    out = []
    if -inner > lower:
        out.append((lower, -inner))
    if inner < upper:
        out.append((inner, upper))
    return out or [(0.0, 0.0)]


def _advance(stage: Stage | None, t: float, drift: float, lower: float, upper: float, inner: float,
             r: int) -> Stage:
    if not inner > 0.0:
        return advance(stage, t, drift, lower, upper, r)
    return advance_regions(stage, t, drift, _regions(lower, upper, inner), r)


def two_sided_probabilities(
    t: np.ndarray, lower: np.ndarray, upper: np.ndarray, inner: np.ndarray | None, drift: float, r: int,
    below: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-look P(stop above upper), P(stop below lower) and P(stop for futility).

    Futility: in the wedge |Z| < ``inner`` (beta spending), or between the harm
    bound and a fixed bound, lower < Z < ``below`` (-inf: none).
    """
    k = t.size
    up, down, fut = np.zeros(k), np.zeros(k), np.zeros(k)
    stage: Stage | None = None
    inner_ = np.zeros(k) if inner is None else inner
    below_ = np.full(k, -math.inf) if below is None else below
    for j in range(k):
        tj = float(t[j])
        up[j] = prob_above(stage, tj, drift, float(upper[j]))
        low = float(min(lower[j], upper[j]))
        down[j] = prob_below(stage, tj, drift, low)
        a = float(inner_[j])
        if a > 0.0:
            fut[j] = max(0.0, prob_below(stage, tj, drift, a) - prob_below(stage, tj, drift, -a))
        f = float(min(below_[j], upper[j]))
        if f > low:
            fut[j] += max(0.0, prob_below(stage, tj, drift, f) - down[j])
        if j < k - 1:
            stage = _advance(stage, tj, drift, max(float(lower[j]), float(below_[j])), float(upper[j]), a, r)
    return up, down, fut


# ---------------------------------------------------------------------- bounds


def _cum(name: str, total: float, t: np.ndarray, gamma: float | None, rho: float | None,
         spend_all_at_last: bool) -> np.ndarray:
    cum = alpha_spending(name, total, t, gamma=gamma, rho=rho)
    if spend_all_at_last:
        cum[-1] = total
    return cum


def _spending_pair(
    t: np.ndarray, cum_up: np.ndarray, cum_low: np.ndarray, symmetric: bool, inner: np.ndarray | None, r: int,
    below: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower bounds spending ``cum_up`` / ``cum_low`` under H0, jointly (both binding).

    ``inner``: a futility wedge the H0 paths stop in (binding futility), or None; ``below``: fixed
    futility bounds the H0 paths stop under (binding; -inf: none), or None.  With ``below`` the
    sides are solved separately (``symmetric`` is ignored): the futility region removes paths
    from the harm side only.
    """
    if below is not None:
        symmetric = False
    k = t.size
    upper, lower = np.empty(k), np.empty(k)
    stage: Stage | None = None
    prev_u = prev_l = 0.0
    for j in range(k):
        tj = float(t[j])
        upper[j] = _solve_upper(stage, tj, 0.0, float(cum_up[j] - prev_u), -math.inf)
        if symmetric:
            lower[j] = -upper[j]
        else:
            lower[j] = _solve_lower(stage, tj, 0.0, float(cum_low[j] - prev_l), float(upper[j]))
        prev_u, prev_l = float(cum_up[j]), float(cum_low[j])
        if j < k - 1:
            a = 0.0 if inner is None else float(inner[j])
            low = float(lower[j]) if below is None else max(float(lower[j]), float(below[j]))
            stage = _advance(stage, tj, 0.0, low, float(upper[j]), a, r)
    return lower, upper


def _classical_pair(t: np.ndarray, kind: str, alpha: float, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric classical O'Brien-Fleming (c / sqrt(t)) or Pocock (c) bounds, two-sided total alpha."""
    from scipy.optimize import brentq

    shape = 1.0 / np.sqrt(t / t[-1]) if kind == "OF" else np.ones(t.size)

    def excess(c: float) -> float:
        up, down = crossing_probabilities(t, -c * shape, c * shape, 0.0, r)
        return float(up.sum() + down.sum()) - alpha

    c = brentq(excess, 1e-3, _Z_FAR / shape.max(), xtol=_XTOL)
    return -c * shape, c * shape


def _rejection_bounds(
    t: np.ndarray, alpha_upper: float, alpha_lower: float, spending: str, gamma, rho, lower_spending: str,
    lower_gamma, lower_rho, symmetric: bool, inner: np.ndarray | None, r: int, spend_all_at_last: bool,
    below: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    if spending in CLASSICAL:
        # binding fixed futility is refused with classical bounds (no per-side alpha to keep)
        return _classical_pair(t, spending, alpha_upper + alpha_lower, r)
    cum_up = _cum(spending, alpha_upper, t, gamma, rho, spend_all_at_last)
    cum_low = cum_up if symmetric else _cum(lower_spending, alpha_lower, t, lower_gamma, lower_rho,
                                            spend_all_at_last)
    return _spending_pair(t, cum_up, cum_low, symmetric, inner, r, below)


def _futility_pass(
    t: np.ndarray, drift: float, cum_up: np.ndarray, cum_beta: np.ndarray, skip: np.ndarray,
    fixed: tuple[np.ndarray, np.ndarray] | None, r: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Symmetric rejection bounds (binding: computed with the wedge; else ``fixed``) and the inner
    futility bounds spending ``cum_beta`` (cumulative) under ``drift``, none at looks in ``skip``.

    Returns (lower, upper, inner, beta spent); the wedge at the last look is the efficacy bound.
    """
    from scipy.optimize import brentq

    k = t.size
    upper, lower, inner = np.empty(k), np.empty(k), np.zeros(k)
    h0: Stage | None = None
    h1: Stage | None = None
    prev_a = 0.0
    spent = 0.0
    for j in range(k):
        tj = float(t[j])
        if fixed is None:
            upper[j] = _solve_upper(h0, tj, 0.0, float(cum_up[j] - prev_a), -math.inf)
            lower[j] = -upper[j]
        else:
            lower[j], upper[j] = fixed[0][j], fixed[1][j]
        prev_a = float(cum_up[j])
        u = float(upper[j])

        def wedge(a: float, h1=h1, tj=tj) -> float:
            return max(0.0, prob_below(h1, tj, drift, a) - prob_below(h1, tj, drift, -a))

        if j == k - 1:
            inner[j] = u
            spent += wedge(u)
            break
        target = float(cum_beta[j]) - spent
        if skip[j] or target <= 0.0:
            a = 0.0
        elif wedge(u) <= target:
            a = u  # the wedge would swallow the continuation region: the bounds meet
        else:
            a = brentq(lambda x, target=target: wedge(x) - target, 0.0, u, xtol=_XTOL)
        inner[j] = a
        spent += wedge(a)
        if fixed is None:
            h0 = _advance(h0, tj, 0.0, float(lower[j]), u, a, r)
        h1 = _advance(h1, tj, drift, float(lower[j]), u, a, r)
    return lower, upper, inner, spent


def _rpact_beta_schedule(
    t: np.ndarray, alpha: float, beta: float, spending: str, gamma, rho, beta_spending: str, beta_gamma,
    beta_rho, binding: bool, r: int,
) -> tuple[np.ndarray, np.ndarray]:
    """rpact's two-sided beta spending: (cumulative beta, looks without a futility wedge).

    No wedge where the one-sided design at ``alpha / 2`` has a negative
    futility bound; beta spending before the first look with a positive one
    is 0 and the rest is rescaled to reach ``beta`` (rpact's
    ``betaAdjustment = TRUE``, its default).
    """
    from simtrial.sequential.boundaries import group_sequential_design

    one = group_sequential_design(
        t, alpha=alpha / 2.0, beta=beta, spending=spending, gamma=gamma, rho=rho, beta_spending=beta_spending,
        beta_gamma=beta_gamma, beta_rho=beta_rho, binding_futility=binding, grid_r=r,
    )
    fut = np.array(one.z_futility)
    cum = beta_spending_values(beta_spending, beta, t, gamma=beta_gamma, rho=beta_rho)
    skip = np.append(fut[:-1] < 0.0, False)
    positive = np.flatnonzero(fut > 0.0)
    k_min = int(positive[0]) if positive.size else -1
    if k_min > 0:
        base = cum[k_min - 1]
        adjusted = (cum - base) / (cum[-1] - base) * cum[-1]
        adjusted[:k_min] = 0.0
        cum = adjusted
    return cum, skip


# -------------------------------------------------------------------- public API


def _check_two_sided_alpha(alpha: float) -> None:
    if not (0.0 < alpha < 1.0):
        raise InvalidInput(f"alpha (two-sided, both sides together) must be in (0, 1), got {alpha}")


def _lower_arguments(
    alpha: float, spending: str, gamma, rho, lower_alpha, lower_spending, lower_gamma, lower_rho,
) -> tuple[float, float, str, Any, Any, bool]:
    """(alpha_upper, alpha_lower, lower spending, its gamma, its rho, symmetric)."""
    given = lower_alpha is not None or lower_spending is not None or lower_gamma is not None or lower_rho is not None
    if lower_alpha is None:
        lower_alpha = alpha / 2.0
    if not (0.0 < lower_alpha < alpha):
        raise InvalidInput(f"lower_alpha (the harm side's share of alpha) must be in (0, alpha = {alpha}), "
                           f"got {lower_alpha}")
    if given and spending in CLASSICAL:
        raise InvalidInput(f"an asymmetric lower (harm) bound needs an alpha-spending efficacy function "
                           f"({list(ALPHA_SPENDING)}), got classical {spending!r}")
    if lower_spending is None:
        if spending in CLASSICAL:
            return alpha / 2.0, alpha / 2.0, spending, None, None, True
        lower_spending, lower_gamma, lower_rho = spending, (gamma if lower_gamma is None else lower_gamma), (
            rho if lower_rho is None else lower_rho)
    if lower_spending not in ALPHA_SPENDING:
        raise InvalidInput(f"lower_spending must be one of {list(ALPHA_SPENDING)}, got {lower_spending!r}")
    _check_spending(lower_spending, lower_gamma, lower_rho)
    alpha_upper = alpha - lower_alpha
    symmetric = (lower_spending == spending and lower_gamma == gamma and lower_rho == rho
                 and abs(alpha_upper - lower_alpha) <= 1e-15 * alpha)
    return alpha_upper, float(lower_alpha), lower_spending, lower_gamma, lower_rho, symmetric


def two_sided_design(
    information_fractions: Sequence[float],
    alpha: float = 0.05,
    beta: float = 0.2,
    spending: str = "asOF",
    gamma: float | None = None,
    rho: float | None = None,
    *,
    lower_alpha: float | None = None,
    lower_spending: str | None = None,
    lower_gamma: float | None = None,
    lower_rho: float | None = None,
    beta_spending: str | None = None,
    beta_gamma: float | None = None,
    beta_rho: float | None = None,
    binding_futility: bool = False,
    futility_z: Sequence[float] | None = None,
    grid_r: int = DEFAULT_GRID_R,
) -> TwoSidedDesign:
    """Solve a two-sided group-sequential design (rpact ``getDesignGroupSequential(sided = 2)``).

    ``alpha`` is two-sided (both sides together).  Symmetric by default; give
    ``lower_alpha`` (the harm side's share, default ``alpha / 2``) and/or
    ``lower_spending`` (+ ``lower_gamma`` / ``lower_rho``) for an asymmetric
    harm bound.  ``beta_spending`` adds rpact's inner futility wedge
    (symmetric designs with an alpha-spending function only).  ``futility_z``
    (one Z_eff per interim look, -inf for none; not with ``beta_spending``)
    stops for futility when z_lower < Z_eff < it; ``binding_futility`` solves
    the rejection bounds with those stops obeyed (needs an alpha-spending
    function).  The design alternative's power is computed with every
    futility stop obeyed, binding or not.
    """
    from scipy.optimize import brentq
    from scipy.special import ndtr, ndtri

    t = _check_fractions(information_fractions, last_is_one=True)
    k = t.size
    _check_two_sided_alpha(alpha)
    if not (0.0 < beta < 1.0 - alpha / 2.0):
        raise InvalidInput(f"beta must be in (0, 1 - alpha / 2), got {beta}")
    _check_spending(spending, gamma, rho)
    _check_grid_r(grid_r)
    if not isinstance(binding_futility, bool):
        raise InvalidInput(f"binding_futility must be True or False, got {binding_futility!r}")
    a_up, a_low, l_spend, l_gamma, l_rho, symmetric = _lower_arguments(
        alpha, spending, gamma, rho, lower_alpha, lower_spending, lower_gamma, lower_rho)
    inner: np.ndarray | None = None
    cum_beta: np.ndarray | None = None
    below = _fixed_futility(futility_z, k, spending, binding_futility, beta_spending)
    if beta_spending is not None:
        if beta_spending not in BETA_SPENDING:
            raise InvalidInput(f"beta_spending must be one of {list(BETA_SPENDING)} or None, got {beta_spending!r}")
        if not symmetric:
            raise InvalidInput("two-sided beta-spending futility needs symmetric bounds (no lower_alpha / "
                               "lower_spending), as in rpact")
        if spending not in ALPHA_SPENDING:
            raise InvalidInput(f"beta_spending needs an alpha-spending spending ({list(ALPHA_SPENDING)}), "
                               f"got {spending!r}")
        if k == 1:
            raise InvalidInput("beta_spending needs at least 2 looks")
        cum_up = alpha_spending(spending, a_up, t, gamma=gamma, rho=rho)
        cum_beta, skip = _rpact_beta_schedule(t, alpha, beta, spending, gamma, rho, beta_spending, beta_gamma,
                                              beta_rho, binding_futility, grid_r)
        fixed = None if binding_futility else _spending_pair(t, cum_up, cum_up, True, None, grid_r)

        def spent(d: float) -> float:
            return _futility_pass(t, d, cum_up, cum_beta, skip, fixed, grid_r)[3]

        drift = brentq(lambda d: beta - spent(d), 1e-6, _Z_FAR, xtol=1e-10)
        lower, upper, inner, _ = _futility_pass(t, drift, cum_up, cum_beta, skip, fixed, grid_r)
    else:
        if beta_gamma is not None or beta_rho is not None:
            raise InvalidInput("beta_gamma / beta_rho are only used with beta_spending")
        lower, upper = _rejection_bounds(t, a_up, a_low, spending, gamma, rho, l_spend, l_gamma, l_rho,
                                         symmetric, None, grid_r, False,
                                         below if binding_futility else None)

        def power(d: float) -> float:
            # the favourable side, as rpact (twoSidedPower = FALSE) and SAS solve the alternative;
            # futility stops obeyed (as rpact's power with non-binding futility bounds)
            up, _, _ = two_sided_probabilities(t, lower, upper, None, d, grid_r, below)
            return float(up.sum())

        drift = brentq(lambda d: power(d) - (1.0 - beta), 1e-6, _Z_FAR, xtol=1e-10)

    # alpha spent by the rejection bounds as computed (non-binding: without the wedge)
    spent_inner = inner if binding_futility else None
    if spent_inner is not None:
        spent_inner = spent_inner.copy()
        spent_inner[-1] = 0.0
    su, sl, _ = two_sided_probabilities(t, lower, upper, spent_inner, 0.0, grid_r,
                                        below if binding_futility else None)
    obey = None if inner is None else np.concatenate((inner[:-1], [0.0]))
    u0, l0, f0 = two_sided_probabilities(t, lower, upper, obey, 0.0, grid_r, below)
    u1, l1, f1 = two_sided_probabilities(t, lower, upper, obey, drift, grid_r, below)
    # at the last look, whatever is not rejected is futility
    f0[-1] = max(0.0, 1.0 - float(u0.sum() + l0.sum() + f0[:-1].sum()))
    f1[-1] = max(0.0, 1.0 - float(u1.sum() + l1.sum() + f1[:-1].sum()))
    # the fixed design at the favourable side's alpha (alpha / 2 when symmetric, as rpact)
    z_fixed = float(ndtri(1.0 - a_up) + ndtri(1.0 - beta))

    def tup(x: np.ndarray) -> tuple[float, ...]:
        return tuple(float(v) for v in x)

    futility = "beta_spending" if inner is not None else ("z" if below is not None else None)
    if below is not None:
        inner = below.copy()
        inner[-1] = upper[-1]  # at the last look whatever is not rejected is futility, as one-sided designs
        symmetric = symmetric and not binding_futility

    return TwoSidedDesign(
        information_fractions=tup(t), alpha=float(alpha), alpha_upper=float(a_up), alpha_lower=float(a_low),
        beta=float(beta), spending=spending, gamma=gamma, rho=rho, lower_spending=l_spend, lower_gamma=l_gamma,
        lower_rho=l_rho, symmetric=symmetric, beta_spending=beta_spending, beta_gamma=beta_gamma,
        beta_rho=beta_rho, binding_futility=binding_futility,
        z_upper=tup(upper), z_lower=tup(lower), z_futility=None if inner is None else tup(inner),
        nominal_p_upper=tup(ndtr(-upper)), nominal_p_lower=tup(ndtr(lower)),
        alpha_spent_upper=tup(su), alpha_spent_lower=tup(sl),
        cumulative_alpha_spent=tup(np.cumsum(su + sl)),
        cumulative_alpha_spent_upper=tup(np.cumsum(su)), cumulative_alpha_spent_lower=tup(np.cumsum(sl)),
        cumulative_beta_spent=None if cum_beta is None else tup(cum_beta),
        reject_upper_h0=tup(u0), reject_lower_h0=tup(l0), futility_h0=tup(f0),
        reject_upper_h1=tup(u1), reject_lower_h1=tup(l1), futility_h1=tup(f1),
        type_one_error=float(u0.sum() + l0.sum()), power=float(u1.sum() + l1.sum()),
        power_favourable=float(u1.sum()), drift=float(drift), inflation_factor=float(drift**2 / z_fixed**2),
        expected_information_h0=float(np.dot(u0 + l0 + f0, t)),
        expected_information_h1=float(np.dot(u1 + l1 + f1, t)),
        futility=futility,
    )


def _fixed_futility(futility_z: Sequence[float] | None, k: int, spending: str, binding: bool,
                    beta_spending: str | None) -> np.ndarray | None:
    """Fixed futility bounds per look (-inf: none; the last look has none), or None."""
    if futility_z is None:
        return None
    if beta_spending is not None:
        raise InvalidInput("give either beta_spending or futility_z, not both")
    if k == 1:
        raise InvalidInput("futility_z needs at least 2 looks")
    f = _check_futility(futility_z, k)
    if binding and spending in CLASSICAL:
        raise InvalidInput(f"binding futility_z in a two-sided design needs an alpha-spending function "
                           f"({list(ALPHA_SPENDING)}) so that each side keeps its alpha, got classical {spending!r}")
    return np.append(f, -math.inf)


def two_sided_bounds_from_information(
    information_fractions: Sequence[float],
    alpha: float = 0.05,
    spending: str = "asOF",
    gamma: float | None = None,
    rho: float | None = None,
    *,
    lower_alpha: float | None = None,
    lower_spending: str | None = None,
    lower_gamma: float | None = None,
    lower_rho: float | None = None,
    spend_all_at_last: bool = False,
    futility_inner: Sequence[float] | None = None,
    futility_below: Sequence[float] | None = None,
    grid_r: int = DEFAULT_GRID_R,
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) rejection bounds for the looks taken so far, from observed information.

    As ``efficacy_bounds_from_information`` for two sides: ``information_fractions``
    are observed over planned information, strictly increasing; the last look
    spends what is left with ``spend_all_at_last``.  ``futility_inner`` (one per
    look except the last, 0 for none) is a binding futility wedge the H0 paths
    stop in; ``futility_below`` (likewise, -inf for none) binding fixed futility bounds the H0
    paths stop under (z_lower < Z_eff < bound).  Cached.
    """
    t = _check_fractions(information_fractions, last_is_one=False)
    _check_two_sided_alpha(alpha)
    _check_spending(spending, gamma, rho)
    _check_grid_r(grid_r)
    a_up, a_low, l_spend, l_gamma, l_rho, symmetric = _lower_arguments(
        alpha, spending, gamma, rho, lower_alpha, lower_spending, lower_gamma, lower_rho)
    inner = None
    if futility_inner is not None:
        f = [float(x) for x in futility_inner]
        if len(f) != t.size - 1:
            raise InvalidInput(f"futility_inner needs one value per interim look ({t.size - 1}), got {f}")
        inner = tuple(f + [0.0])
    below = None
    if futility_below is not None:
        if futility_inner is not None:
            raise InvalidInput("give either futility_inner (a wedge) or futility_below (fixed bounds), not both")
        below = tuple(_check_futility(futility_below, t.size).tolist() + [-math.inf])
        if spending in CLASSICAL:
            raise InvalidInput(f"binding fixed futility bounds need an alpha-spending function "
                               f"({list(ALPHA_SPENDING)}), got classical {spending!r}")
    lo, up = _cached_pair(tuple(t.tolist()), a_up, a_low, spending, gamma, rho, l_spend, l_gamma, l_rho,
                          symmetric, inner, grid_r, bool(spend_all_at_last), below)
    return np.array(lo), np.array(up)


@lru_cache(maxsize=4096)
def _cached_pair(t, a_up, a_low, spending, gamma, rho, l_spend, l_gamma, l_rho, symmetric, inner, grid_r,
                 spend_all_at_last, below=None):
    tt = np.array(t)
    if spending in CLASSICAL:
        lo, up = _classical_pair(tt, spending, a_up + a_low, grid_r)
    else:
        cum_up = _cum(spending, a_up, tt, gamma, rho, spend_all_at_last)
        cum_low = cum_up if symmetric else _cum(l_spend, a_low, tt, l_gamma, l_rho, spend_all_at_last)
        lo, up = _spending_pair(tt, cum_up, cum_low, symmetric, None if inner is None else np.array(inner), grid_r,
                                None if below is None else np.array(below))
    return tuple(float(v) for v in lo), tuple(float(v) for v in up)


__all__ = ["TwoSidedDesign", "two_sided_bounds_from_information", "two_sided_design", "two_sided_probabilities"]
