"""One-sided group-sequential boundaries by recursive numerical integration.

Boundaries are on the efficacy scale Z_eff = -Z (the engine's log-rank Z has
the sign of log HR, so Z_eff > 0 favours the experimental arm): reject H0 at
look k when Z_eff >= z_efficacy[k], stop for futility when
Z_eff <= z_futility[k].

The design solver mirrors rpact's ``getDesignGroupSequential`` (sided = 1):

- efficacy bounds spend alpha by a spending function (``asOF``, ``asP``,
  ``asHSD``, ``asKD``) or are classical O'Brien-Fleming (c / sqrt(t)) or
  Pocock (c) bounds with c solved for total alpha;
- futility bounds are fixed Z values or spend beta (``bsOF`` ...) under the
  design alternative. The alternative's drift is then solved so that alpha and
  beta are both spent exactly, the futility and efficacy bounds meeting at
  the last look;
- binding futility: the efficacy bounds are computed assuming the trial
  stops at a futility bound; non-binding: ignoring the futility bounds (so
  alpha is controlled even if futility stops are overruled).

The drift is the mean of Z_eff at full information under H1; the inflation
factor is drift^2 / (z_{1-alpha} + z_{1-beta})^2, the ratio of maximum to
fixed-design information (rpact's ``inflationFactor``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.sequential._integration import (
    Stage,
    advance,
    crossing_probabilities,
    prob_above,
    prob_below,
)
from simtrial.sequential.spending import ALPHA_SPENDING, BETA_SPENDING, alpha_spending
from simtrial.sequential.spending import beta_spending as beta_spending_values

if TYPE_CHECKING:
    import pandas as pd

CLASSICAL: Final = ("OF", "P")
SPENDING_TYPES: Final = ALPHA_SPENDING + CLASSICAL
MAX_LOOKS: Final = 20
DEFAULT_GRID_R: Final = 32  # J&T use 16-18; 32 costs little and keeps Z errors ~1e-7
# Beyond |Z| = 40 every normal tail probability is 0 in double precision.
_Z_FAR: Final = 40.0
_XTOL: Final = 1e-12


@dataclass(frozen=True)
class GroupSequentialDesign:
    """A solved one-sided group-sequential design (efficacy scale Z_eff = -Z).

    Per-look tuples have one entry per look. ``z_futility`` is -inf where a
    look has no futility bound; at the last look it equals the efficacy bound
    (the trial ends there either way), so ``reject + futility`` sums to one
    over the looks under each hypothesis. Stopping probabilities assume the
    futility bounds are obeyed, also for non-binding designs;
    ``alpha_spent`` is what the efficacy bounds spend under H0 as they were
    computed (ignoring non-binding futility bounds).
    """

    information_fractions: tuple[float, ...]
    alpha: float
    beta: float
    spending: str
    gamma: float | None
    rho: float | None
    beta_spending: str | None
    beta_gamma: float | None
    beta_rho: float | None
    binding_futility: bool
    z_efficacy: tuple[float, ...]
    z_futility: tuple[float, ...]
    nominal_p: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    cumulative_alpha_spent: tuple[float, ...]
    cumulative_beta_spent: tuple[float, ...] | None
    reject_h0: tuple[float, ...]
    futility_h0: tuple[float, ...]
    reject_h1: tuple[float, ...]
    futility_h1: tuple[float, ...]
    type_one_error: float
    power: float
    drift: float
    inflation_factor: float
    expected_information_h0: float
    expected_information_h1: float

    @property
    def n_looks(self) -> int:
        return len(self.information_fractions)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples become lists) for JSON reports."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def to_frame(self) -> pd.DataFrame:
        """One row per look: information, bounds, spending and stopping probabilities."""
        import pandas as pd

        k = self.n_looks
        cols: dict[str, Any] = {
            "look": np.arange(1, k + 1),
            "information_fraction": self.information_fractions,
            "z_efficacy": self.z_efficacy,
            "z_futility": self.z_futility,
            "nominal_p": self.nominal_p,
            "alpha_spent": self.alpha_spent,
            "cumulative_alpha_spent": self.cumulative_alpha_spent,
            "cumulative_beta_spent": self.cumulative_beta_spent or (math.nan,) * k,
            "reject_h0": self.reject_h0,
            "futility_h0": self.futility_h0,
            "reject_h1": self.reject_h1,
            "futility_h1": self.futility_h1,
        }
        return pd.DataFrame(cols)


# ---------------------------------------------------------------- validation


def _check_fractions(fractions: Sequence[float], *, last_is_one: bool) -> np.ndarray:
    t = np.asarray(fractions, dtype=float)
    if t.ndim != 1 or t.size == 0 or t.size > MAX_LOOKS:
        raise InvalidInput(
            f"information_fractions must be a non-empty 1-D sequence of at most {MAX_LOOKS} looks, got {fractions!r}"
        )
    if not np.all(np.isfinite(t)) or t[0] <= 0.0 or np.any(np.diff(t) <= 0.0):
        raise InvalidInput(
            f"information_fractions must be finite, > 0 and strictly increasing, got {list(t)}"
        )
    if last_is_one and abs(t[-1] - 1.0) > 1e-9:
        raise InvalidInput(f"information_fractions must end at 1 (maximum information), got last {t[-1]}")
    if last_is_one:
        t[-1] = 1.0
    return t


def _check_alpha(alpha: float) -> None:
    if not (0.0 < alpha < 0.5):
        raise InvalidInput(f"alpha (one-sided) must be in (0, 0.5), got {alpha}")


def _check_spending(spending: str, gamma: float | None, rho: float | None) -> None:
    if spending not in SPENDING_TYPES:
        raise InvalidInput(f"spending must be one of {list(SPENDING_TYPES)}, got {spending!r}")
    if gamma is not None and spending != "asHSD":
        raise InvalidInput(f"gamma is only used with spending='asHSD', got spending={spending!r}")
    if rho is not None and spending != "asKD":
        raise InvalidInput(f"rho is only used with spending='asKD', got spending={spending!r}")
    if spending in ALPHA_SPENDING:
        alpha_spending(spending, 0.025, 1.0, gamma=gamma, rho=rho)  # validates gamma / rho


def _check_futility(futility_z: Sequence[float] | None, k: int) -> np.ndarray:
    """Futility bounds for looks 1..k-1 (none at the last look), -inf where absent."""
    if futility_z is None:
        return np.full(k - 1, -math.inf)
    f = np.asarray(futility_z, dtype=float)
    if f.ndim != 1 or f.size != k - 1:
        raise InvalidInput(
            f"futility_z must give one bound per interim look ({k - 1} values, -inf for none), got {futility_z!r}"
        )
    if np.any(np.isnan(f)) or np.any(f == math.inf):
        raise InvalidInput(f"futility_z values must be finite or -inf, got {list(f)}")
    return f


def _check_efficacy_looks(efficacy_looks: Sequence[bool] | None, k: int) -> np.ndarray:
    """Which looks may stop for efficacy; the final analysis always tests."""
    if efficacy_looks is None:
        return np.ones(k, dtype=bool)
    e = list(efficacy_looks)
    if len(e) != k or not all(isinstance(x, (bool, np.bool_)) for x in e):
        raise InvalidInput(f"efficacy_looks must give one True/False per look ({k} values), got {efficacy_looks!r}")
    if not e[-1]:
        raise InvalidInput(f"efficacy_looks: the final analysis always tests for efficacy (last value True), "
                           f"got {e}")
    return np.array(e, dtype=bool)


def _check_grid_r(grid_r: int) -> None:
    if not (isinstance(grid_r, int) and 8 <= grid_r <= 200):
        raise InvalidInput(f"grid_r must be an integer in [8, 200], got {grid_r!r}")


# ------------------------------------------------------------------ solvers


def _solve_upper(stage: Stage | None, t: float, drift: float, target: float, lower: float) -> float:
    """Bound b >= lower with P(continue so far, Z_t >= b) = target."""
    from scipy.optimize import brentq
    if target <= 0.0:
        return math.inf
    lo = lower if math.isfinite(lower) else -_Z_FAR
    if prob_above(stage, t, drift, lo) <= target:
        # Not enough probability left to spend: reject on the whole region.
        return lo
    return brentq(lambda b: prob_above(stage, t, drift, b) - target, lo, _Z_FAR, xtol=_XTOL)


def _solve_lower(stage: Stage | None, t: float, drift: float, target: float, upper: float) -> float:
    """Bound a <= upper with P(continue so far, Z_t <= a) = target."""
    from scipy.optimize import brentq
    if target <= 0.0:
        return -math.inf
    hi = upper if math.isfinite(upper) else _Z_FAR
    if prob_below(stage, t, drift, hi) <= target:
        # Futility would overlap efficacy: the bounds meet (rpact adjusts
        # beta spending instead when betaAdjustment = TRUE).
        return hi
    return brentq(lambda a: prob_below(stage, t, drift, a) - target, -_Z_FAR, hi, xtol=_XTOL)


def _spending_bounds(t: np.ndarray, cum_alpha: np.ndarray, lower: np.ndarray, r: int) -> np.ndarray:
    """Efficacy bounds spending ``cum_alpha`` under H0, with stops at ``lower`` (binding)."""
    bounds = np.empty(t.size)
    stage: Stage | None = None
    prev = 0.0
    for k in range(t.size):
        bounds[k] = _solve_upper(stage, float(t[k]), 0.0, float(cum_alpha[k] - prev), float(lower[k]))
        prev = float(cum_alpha[k])
        if k < t.size - 1:
            stage = advance(stage, float(t[k]), 0.0, float(lower[k]), float(bounds[k]), r)
    return bounds


def _classical_bounds(
    t: np.ndarray, kind: str, alpha: float, lower: np.ndarray, r: int, efficacy: np.ndarray | None = None,
) -> np.ndarray:
    """O'Brien-Fleming (c / sqrt(t)) or Pocock (c) bounds with total H0 crossing alpha (+inf off ``efficacy``)."""
    from scipy.optimize import brentq
    shape = 1.0 / np.sqrt(t / t[-1]) if kind == "OF" else np.ones(t.size)
    if efficacy is not None:
        shape = np.where(efficacy, shape, math.inf)

    def excess(c: float) -> float:
        up, _ = crossing_probabilities(t, lower, c * shape, 0.0, r)
        return float(up.sum()) - alpha

    # c -> 0 rejects almost surely (excess > 0); c = 40 / max(shape) never does.
    c = brentq(excess, 1e-3, _Z_FAR / shape[np.isfinite(shape)].max(), xtol=_XTOL)
    return c * shape


def _efficacy_bounds(
    t: np.ndarray, alpha: float, spending: str, gamma: float | None, rho: float | None,
    lower: np.ndarray, r: int, spend_all_at_last: bool, efficacy: np.ndarray | None = None,
) -> np.ndarray:
    """Efficacy bounds at looks ``t``; +inf at looks where ``efficacy`` is False (futility-only looks).

    A futility-only look spends no alpha (rpact: ``userAlphaSpending`` 0 there): the spending
    function is evaluated at the efficacy looks' information only.  Without binding stops below
    (``lower`` all -inf) the bounds are those of the efficacy looks alone, solved without the
    other looks so that they equal the bounds used from observed information bit for bit.
    """
    if efficacy is not None and not efficacy.all():
        if not np.isfinite(lower[:-1]).any():
            out = np.full(t.size, math.inf)
            out[efficacy] = _efficacy_bounds(t[efficacy], alpha, spending, gamma, rho, lower[efficacy], r,
                                             spend_all_at_last)
            return out
        if spending in CLASSICAL:
            return _classical_bounds(t, spending, alpha, lower, r, efficacy)
        cum = alpha_spending(spending, alpha, t, gamma=gamma, rho=rho)
        if spend_all_at_last:
            cum[-1] = alpha
        # a look that cannot reject carries the cumulative alpha of the last one that can
        carried = np.maximum.accumulate(np.where(efficacy, cum, 0.0))
        return _spending_bounds(t, carried, lower, r)
    if spending in CLASSICAL:
        return _classical_bounds(t, spending, alpha, lower, r)
    cum = alpha_spending(spending, alpha, t, gamma=gamma, rho=rho)
    if spend_all_at_last:
        cum[-1] = alpha
    return _spending_bounds(t, cum, lower, r)


def _beta_spending_pass(
    t: np.ndarray, drift: float, cum_alpha: np.ndarray, cum_beta: np.ndarray,
    fixed_upper: np.ndarray | None, r: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Bounds for one drift: efficacy under H0 (given, or binding), futility under H1.

    Returns (lower, upper, probability of ending below the last efficacy bound
    under H1), the last being the beta actually spent.
    """
    k_max = t.size
    upper = np.empty(k_max)
    lower = np.empty(k_max)
    h0: Stage | None = None
    h1: Stage | None = None
    prev_a = prev_b = 0.0
    spent = 0.0
    for k in range(k_max):
        tk = float(t[k])
        if fixed_upper is None:
            # Binding: the H0 stage already carries the earlier futility stops.
            upper[k] = _solve_upper(h0, tk, 0.0, float(cum_alpha[k] - prev_a), -math.inf)
        else:
            upper[k] = fixed_upper[k]
        prev_a = float(cum_alpha[k])
        if k == k_max - 1:
            lower[k] = upper[k]
            spent += prob_below(h1, tk, drift, float(upper[k]))
            break
        lower[k] = _solve_lower(h1, tk, drift, float(cum_beta[k] - prev_b), float(upper[k]))
        spent += prob_below(h1, tk, drift, float(lower[k]))
        prev_b = float(cum_beta[k])
        if fixed_upper is None:
            h0 = advance(h0, tk, 0.0, float(lower[k]), float(upper[k]), r)
        h1 = advance(h1, tk, drift, float(lower[k]), float(upper[k]), r)
    return lower, upper, spent


def _power(t: np.ndarray, lower: np.ndarray, upper: np.ndarray, drift: float, r: int) -> float:
    up, _ = crossing_probabilities(t, lower, upper, drift, r)
    return float(up.sum())


def _solve_drift(target: float, fn: Callable[[float], float]) -> float:
    """Drift in (0, 40) with fn(drift) = target, fn increasing (power)."""
    from scipy.optimize import brentq
    return brentq(lambda d: fn(d) - target, 1e-6, _Z_FAR, xtol=1e-10)


# ----------------------------------------------------------------- public API


def group_sequential_design(
    information_fractions: Sequence[float],
    alpha: float = 0.025,
    beta: float = 0.2,
    spending: str = "asOF",
    gamma: float | None = None,
    rho: float | None = None,
    beta_spending: str | None = None,
    beta_gamma: float | None = None,
    beta_rho: float | None = None,
    binding_futility: bool = False,
    futility_z: Sequence[float] | None = None,
    grid_r: int = DEFAULT_GRID_R,
    efficacy_looks: Sequence[bool] | None = None,
) -> GroupSequentialDesign:
    """Solve a one-sided group-sequential design (rpact ``getDesignGroupSequential``).

    ``information_fractions`` are cumulative, strictly increasing and end at 1.
    ``spending``: ``asOF``, ``asP``, ``asHSD`` (needs ``gamma``), ``asKD``
    (needs ``rho``), or classical ``OF`` / ``P``. Futility: either
    ``beta_spending`` (``bsOF``, ``bsP``, ``bsHSD`` + ``beta_gamma``,
    ``bsKD`` + ``beta_rho``; needs an alpha-spending ``spending``) or fixed
    ``futility_z`` (one Z_eff per interim look, -inf for none; convert an HR
    bound with Z_eff = -log(HR) * sqrt(information) before calling).
    ``beta`` fixes the design alternative: the drift giving power 1 - beta.
    ``efficacy_looks`` (one bool per look, the last True; default all True) marks the looks that
    may stop for efficacy: the others are futility-only looks, with efficacy bound +inf and no
    alpha spent there (rpact ``typeOfDesign = "asUser"`` with ``userAlphaSpending`` 0 at them).
    Power, drift, crossing probabilities and expected information run over all looks with the
    futility bounds obeyed (binding or not); binding efficacy bounds assume the futility stops at
    every look, futility-only ones included; non-binding ones ignore them.
    """
    from scipy.optimize import brentq
    from scipy.special import ndtr, ndtri
    t = _check_fractions(information_fractions, last_is_one=True)
    k_max = t.size
    _check_alpha(alpha)
    if not (0.0 < beta < 1.0 - alpha):
        raise InvalidInput(f"beta must be in (0, 1 - alpha) = (0, {1.0 - alpha}), got {beta}")
    _check_spending(spending, gamma, rho)
    _check_grid_r(grid_r)
    if not isinstance(binding_futility, bool):
        raise InvalidInput(f"binding_futility must be True or False, got {binding_futility!r}")
    if beta_spending is not None:
        if futility_z is not None:
            raise InvalidInput("give either beta_spending or futility_z, not both")
        if spending not in ALPHA_SPENDING:
            raise InvalidInput(
                f"beta_spending needs an alpha-spending spending ({list(ALPHA_SPENDING)}), got {spending!r}"
            )
        if beta_spending not in BETA_SPENDING:
            raise InvalidInput(f"beta_spending must be one of {list(BETA_SPENDING)} or None, got {beta_spending!r}")
        if k_max == 1:
            raise InvalidInput("beta_spending needs at least 2 looks (information_fractions of length >= 2)")
    if beta_gamma is not None and beta_spending != "bsHSD":
        raise InvalidInput(f"beta_gamma is only used with beta_spending='bsHSD', got {beta_spending!r}")
    if beta_rho is not None and beta_spending != "bsKD":
        raise InvalidInput(f"beta_rho is only used with beta_spending='bsKD', got {beta_spending!r}")
    fixed_futility = _check_futility(futility_z, k_max)
    efficacy = _check_efficacy_looks(efficacy_looks, k_max)
    if beta_spending is not None and not efficacy.all():
        raise InvalidInput("beta_spending needs efficacy testing at every look (efficacy_looks all True); "
                           "use fixed futility_z for futility-only looks")

    z_fixed = float(ndtri(1.0 - alpha) + ndtri(1.0 - beta))
    cum_beta: np.ndarray | None = None
    if beta_spending is not None:
        cum_alpha = alpha_spending(spending, alpha, t, gamma=gamma, rho=rho)
        cum_beta = beta_spending_values(beta_spending, beta, t, gamma=beta_gamma, rho=beta_rho)
        fixed_upper = None if binding_futility else _spending_bounds(t, cum_alpha, np.full(k_max, -math.inf), grid_r)

        def beta_spent(d: float) -> float:
            return _beta_spending_pass(t, d, cum_alpha, cum_beta, fixed_upper, grid_r)[2]

        # Beta spent falls as the drift grows; solve beta_spent(drift) = beta.
        drift = brentq(lambda d: beta - beta_spent(d), 1e-6, _Z_FAR, xtol=1e-10)
        lower, upper, _ = _beta_spending_pass(t, drift, cum_alpha, cum_beta, fixed_upper, grid_r)
    else:
        lower = np.append(fixed_futility, -math.inf)
        eff_lower = lower if binding_futility else np.full(k_max, -math.inf)
        upper = _efficacy_bounds(t, alpha, spending, gamma, rho, eff_lower, grid_r, False, efficacy)
        drift = _solve_drift(1.0 - beta, lambda d: _power(t, lower, upper, d, grid_r))
        lower = lower.copy()
        lower[-1] = upper[-1]

    # Alpha spent by the efficacy bounds as computed (binding: with futility stops).
    eff_lower = lower.copy() if binding_futility else np.full(k_max, -math.inf)
    eff_lower[-1] = -math.inf
    spent, _ = crossing_probabilities(t, eff_lower, upper, 0.0, grid_r)
    rej0, fut0 = crossing_probabilities(t, lower, upper, 0.0, grid_r)
    rej1, fut1 = crossing_probabilities(t, lower, upper, drift, grid_r)
    z_fut = lower.copy()
    z_fut[:-1] = np.where(lower[:-1] <= -_Z_FAR, -math.inf, lower[:-1])

    def tup(x: np.ndarray) -> tuple[float, ...]:
        return tuple(float(v) for v in x)

    return GroupSequentialDesign(
        information_fractions=tup(t),
        alpha=alpha,
        beta=beta,
        spending=spending,
        gamma=gamma,
        rho=rho,
        beta_spending=beta_spending,
        beta_gamma=beta_gamma,
        beta_rho=beta_rho,
        binding_futility=binding_futility,
        z_efficacy=tup(upper),
        z_futility=tup(z_fut),
        nominal_p=tup(ndtr(-upper)),
        alpha_spent=tup(spent),
        cumulative_alpha_spent=tup(np.cumsum(spent)),
        cumulative_beta_spent=None if cum_beta is None else tup(cum_beta),
        reject_h0=tup(rej0),
        futility_h0=tup(fut0),
        reject_h1=tup(rej1),
        futility_h1=tup(fut1),
        type_one_error=float(rej0.sum()),
        power=float(rej1.sum()),
        drift=float(drift),
        inflation_factor=float(drift**2 / z_fixed**2),
        expected_information_h0=float(np.dot(rej0 + fut0, t)),
        expected_information_h1=float(np.dot(rej1 + fut1, t)),
    )


def efficacy_bounds_from_information(
    information_fractions: Sequence[float],
    alpha: float = 0.025,
    spending: str = "asOF",
    gamma: float | None = None,
    rho: float | None = None,
    *,
    spend_all_at_last: bool = False,
    futility_z: Sequence[float] | None = None,
    binding_futility: bool = False,
    grid_r: int = DEFAULT_GRID_R,
    efficacy_looks: Sequence[bool] | None = None,
) -> np.ndarray:
    """Efficacy bounds (Z_eff) for the looks taken so far, from observed information.

    ``information_fractions`` are observed information over the planned
    maximum (e.g. events / planned events), strictly increasing; values above
    1 (overrunning) spend no more than alpha. With ``spend_all_at_last`` the
    last look spends all remaining alpha (the final analysis, whether or not
    the planned information was reached). Classical ``OF`` / ``P`` bounds are
    solved over exactly the given looks. ``futility_z`` (one per look except
    the last, -inf for none) only matters when ``binding_futility``.
    ``efficacy_looks`` (default all True): looks marked False are futility-only looks (bound +inf,
    no alpha spent), given so that binding bounds can assume their futility stops.
    Results are cached: event-driven looks repeat the same fractions.
    """
    t = _check_fractions(information_fractions, last_is_one=False)
    _check_alpha(alpha)
    _check_spending(spending, gamma, rho)
    _check_grid_r(grid_r)
    fut = _check_futility(futility_z, t.size)
    efficacy = _check_efficacy_looks(efficacy_looks, t.size)
    lower = np.append(fut, -math.inf) if binding_futility else np.full(t.size, -math.inf)
    return np.array(
        _cached_bounds(tuple(t.tolist()), alpha, spending, gamma, rho, bool(spend_all_at_last),
                       tuple(lower.tolist()), grid_r, None if efficacy.all() else tuple(efficacy.tolist()))
    )


@lru_cache(maxsize=4096)
def _cached_bounds(
    t: tuple[float, ...], alpha: float, spending: str, gamma: float | None, rho: float | None,
    spend_all_at_last: bool, lower: tuple[float, ...], grid_r: int, efficacy: tuple[bool, ...] | None = None,
) -> tuple[float, ...]:
    b = _efficacy_bounds(np.array(t), alpha, spending, gamma, rho, np.array(lower), grid_r, spend_all_at_last,
                         None if efficacy is None else np.array(efficacy, dtype=bool))
    return tuple(float(v) for v in b)
