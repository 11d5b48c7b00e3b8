"""Simon (1989) two-stage single-arm phase II designs.

Convention (Simon's): enrol ``n1`` patients; **stop for futility** if the
stage-1 responders are ``<= r1``.  Otherwise enrol ``n - n1`` more and
**reject H0: p <= p0** (declare the drug promising) if the total responders
are ``> r``.  So ``0 <= r1 < n1 < n`` and ``r1 <= r < n``.

Search (exact binomial enumeration):
for every ``n`` and ``n1 < n`` and ``r1`` the smallest ``r`` with
``P(reject | p0) <= alpha`` is taken (it has the largest power among the
``r`` meeting alpha); the design is feasible if ``P(reject | p1) >= 1 - beta``.

* optimal: minimises ``EN0 = n1 + (1 - PET0)(n - n1)``, the expected sample
  size under p0 (ties: smaller ``n``, then smaller ``n1``);
* minimax: minimises ``n``; ties broken by ``EN0``.

Pruning: power needs ``PET1 = P(X1 <= r1 | p1) <= beta``, which caps ``r1``
for each ``n1`` and so bounds ``EN0 >= n1 + (1 - PET0_max(n1))(n - n1)``.  The
search stops once that bound exceeds the best ``EN0`` for every larger ``n``.
Binomial pmf / survival tables for every size up to ``n_max`` are built once.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.stats._validate import check_alpha, check_open_probability, check_positive_int

_TOL = 1e-12


@dataclass(frozen=True)
class SimonBoundaries:
    """Stopping boundaries of a two-stage design (Simon's convention)."""

    r1: int
    n1: int
    r: int
    n: int

    def __post_init__(self) -> None:
        for name in ("r1", "n1", "r", "n"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value:
                raise InvalidInput(f"{name} must be an integer, got {value!r}")
        if not (0 <= self.r1 < self.n1 < self.n):
            raise InvalidInput(
                f"need 0 <= r1 < n1 < n, got r1={self.r1}, n1={self.n1}, n={self.n}"
            )
        if not (self.r1 <= self.r < self.n):
            raise InvalidInput(f"need r1 <= r < n, got r1={self.r1}, r={self.r}, n={self.n}")

    def to_dict(self) -> dict[str, int]:
        return {"r1": self.r1, "n1": self.n1, "r": self.r, "n": self.n}


@dataclass(frozen=True)
class SimonDesign:
    """A Simon two-stage design found by :func:`simon_designs` and its exact properties."""

    kind: str
    p0: float
    p1: float
    alpha: float
    beta: float
    r1: int
    n1: int
    r: int
    n: int
    en0: float
    pet0: float
    actual_alpha: float
    power: float

    @property
    def boundaries(self) -> SimonBoundaries:
        return SimonBoundaries(self.r1, self.n1, self.r, self.n)

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "kind": self.kind,
            "p0": self.p0,
            "p1": self.p1,
            "alpha": self.alpha,
            "beta": self.beta,
            "r1": self.r1,
            "n1": self.n1,
            "r": self.r,
            "n": self.n,
            "en0": self.en0,
            "pet0": self.pet0,
            "actual_alpha": self.actual_alpha,
            "power": self.power,
        }


@dataclass(frozen=True)
class SimonOperatingCharacteristics:
    """Exact operating characteristics at true response probability ``p`` (arrays if ``p`` is)."""

    p: np.ndarray | float
    prob_reject: np.ndarray | float
    prob_early_stop: np.ndarray | float
    expected_n: np.ndarray | float

    def to_dict(self) -> dict[str, np.ndarray | float]:
        return {
            "p": self.p,
            "prob_reject": self.prob_reject,
            "prob_early_stop": self.prob_early_stop,
            "expected_n": self.expected_n,
        }


@dataclass(frozen=True)
class SimonDecision:
    """Per-trial outcome of a two-stage design applied to simulated response counts."""

    stopped_early: np.ndarray
    reject: np.ndarray
    patients: np.ndarray

    def to_dict(self) -> dict[str, np.ndarray]:
        return {"stopped_early": self.stopped_early, "reject": self.reject, "patients": self.patients}


@dataclass(frozen=True)
class SimonMonteCarloOC:
    """Monte-Carlo operating characteristics with their Monte-Carlo standard errors."""

    p: float
    n_sims: int
    seed: int
    prob_reject: float
    prob_reject_se: float
    prob_early_stop: float
    prob_early_stop_se: float
    expected_n: float
    expected_n_se: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "p": self.p,
            "n_sims": self.n_sims,
            "seed": self.seed,
            "prob_reject": self.prob_reject,
            "prob_reject_se": self.prob_reject_se,
            "prob_early_stop": self.prob_early_stop,
            "prob_early_stop_se": self.prob_early_stop_se,
            "expected_n": self.expected_n,
            "expected_n_se": self.expected_n_se,
        }


# ---------------------------------------------------------------------------
# exact search


def _binomial_tables(n_max: int, p: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pmf[m, k] = P(X = k), cdf[m, k] = P(X <= k), sf[m, k] = P(X > k) for X ~ Bin(m, p)."""
    from scipy.stats import binom
    m = np.arange(n_max + 1)[:, None]
    k = np.arange(n_max + 1)[None, :]
    pmf = binom.pmf(k, m, p)
    cdf = binom.cdf(k, m, p)
    sf = binom.sf(k, m, p)
    return pmf, cdf, sf


def _check_inputs(p0: float, p1: float, alpha: float, beta: float) -> tuple[float, float, float, float]:
    p0 = check_open_probability("p0", p0)
    p1 = check_open_probability("p1", p1)
    if not p1 > p0:
        raise InvalidInput(f"p1 must be > p0 (the response rate worth pursuing), got p0={p0!r}, p1={p1!r}")
    alpha = check_alpha("alpha", alpha)
    beta = check_alpha("beta", beta)
    return p0, p1, alpha, beta


@functools.lru_cache(maxsize=256)  # a pure search (~0.6 s): validating and running a scenario share it
def simon_designs(
    p0: float, p1: float, alpha: float, beta: float, n_max: int = 150
) -> tuple[SimonDesign, SimonDesign]:
    """Optimal and minimax Simon two-stage designs, ``(optimal, minimax)``.

    ``alpha`` and ``beta`` must each be in (0, 0.5); total sizes up to ``n_max``
    are searched.  Raises ``ValueError`` if no design with ``n <= n_max`` meets
    the constraints; warns if ``n_max`` cut the optimal search short.
    """
    p0, p1, alpha, beta = _check_inputs(p0, p1, alpha, beta)
    n_max = check_positive_int("n_max", n_max)
    pmf0, cdf0, sf0 = _binomial_tables(n_max, p0)
    pmf1, cdf1, sf1 = _binomial_tables(n_max, p1)

    # largest r1 with PET1 = P(X1 <= r1 | p1) <= beta, per n1 (-1: none)
    r1_cap = np.full(n_max + 1, -1, dtype=np.int64)
    pet0_max = np.zeros(n_max + 1)
    for n1 in range(1, n_max + 1):
        ok = np.flatnonzero(cdf1[n1, :n1] <= beta + _TOL)  # r1 < n1
        if ok.size:
            r1_cap[n1] = ok[-1]
            pet0_max[n1] = cdf0[n1, ok[-1]]

    best_opt: tuple[float, int, int] | None = None  # (en0, n, n1)
    opt = None
    mm = None  # (n, en0, n1, ...) first feasible n
    complete = False
    for n in range(2, n_max + 1):
        n1s = np.arange(1, n)
        usable = r1_cap[1:n] >= 0
        bounds = n1s + (1.0 - pet0_max[1:n]) * (n - n1s)
        if best_opt is not None:
            if n > best_opt[0] and (not usable.any() or bounds[usable].min() > best_opt[0] + _TOL):
                complete = True
                break
        found_at_n: list[tuple[float, int, int, int, float, float, float]] = []
        for n1 in range(1, n):
            cap = int(r1_cap[n1])
            if cap < 0:
                continue
            if best_opt is not None and mm is not None and bounds[n1 - 1] > best_opt[0] + _TOL:
                continue
            n2 = n - n1
            x1 = np.arange(n1 + 1)
            r = np.arange(n)
            idx = r[None, :] - x1[:, None]  # r - x1, in [-n1, n-1]
            neg = idx < 0
            idx_c = np.where(neg, 0, idx)
            # P(X2 > r - x1) (= 1 when r - x1 < 0)
            s0 = np.where(neg, 1.0, sf0[n2][idx_c])
            s1 = np.where(neg, 1.0, sf1[n2][idx_c])
            t0 = pmf0[n1, : n1 + 1, None] * s0
            t1 = pmf1[n1, : n1 + 1, None] * s1
            # tail sums over x1 > r1, rows r1 = 0..cap
            tail0 = np.cumsum(t0[::-1], axis=0)[::-1][1 : cap + 2]
            tail1 = np.cumsum(t1[::-1], axis=0)[::-1][1 : cap + 2]
            r1s = np.arange(cap + 1)
            # smallest r with alpha(r1, r) <= alpha (nonincreasing in r), then r >= r1
            first = (tail0 > alpha + _TOL).sum(axis=1)
            r_star = np.maximum(first, r1s)
            valid = r_star < n
            if not valid.any():
                continue
            rows = r1s[valid]
            rs = r_star[valid]
            power = tail1[rows, rs]
            feas = power >= 1.0 - beta - _TOL
            if not feas.any():
                continue
            for r1, rr, pw in zip(rows[feas], rs[feas], power[feas], strict=True):
                pet0 = float(cdf0[n1, r1])
                en0 = n1 + (1.0 - pet0) * n2
                found_at_n.append((en0, n1, int(r1), int(rr), pet0, float(tail0[r1, rr]), float(pw)))
        if not found_at_n:
            continue
        found_at_n.sort(key=lambda d: (d[0], d[1]))
        top = found_at_n[0]
        if mm is None:
            mm = (n, top)
        if best_opt is None or top[0] < best_opt[0] - _TOL:
            best_opt = (top[0], n, top[1])
            opt = (n, top)
    if mm is None or opt is None:
        raise InvalidInput(
            f"no Simon design with n <= n_max ({n_max}) meets alpha={alpha}, beta={beta} "
            f"for p0={p0}, p1={p1}; raise n_max"
        )
    if not complete:
        warnings.warn(
            f"n_max={n_max} may have cut the optimal-design search short; raise n_max to be sure",
            RuntimeWarning,
            stacklevel=2,
        )

    def build(kind: str, found: tuple[int, tuple[float, int, int, int, float, float, float]]) -> SimonDesign:
        n, (en0, n1, r1, rr, pet0, a, pw) = found
        return SimonDesign(kind, p0, p1, alpha, beta, r1, n1, rr, n, en0, pet0, a, pw)

    return build("optimal", opt), build("minimax", mm)


def simon_design(
    p0: float,
    p1: float,
    alpha: float,
    beta: float,
    kind: Literal["optimal", "minimax"] = "optimal",
    n_max: int = 150,
) -> SimonDesign:
    """One Simon two-stage design: ``kind="optimal"`` (min EN0) or ``"minimax"`` (min n)."""
    if kind not in ("optimal", "minimax"):
        raise InvalidInput(f"kind must be 'optimal' or 'minimax', got {kind!r}")
    optimal, minimax = simon_designs(p0, p1, alpha, beta, n_max=n_max)
    return optimal if kind == "optimal" else minimax


# ---------------------------------------------------------------------------
# operating characteristics


def _boundaries(design: SimonBoundaries | SimonDesign) -> SimonBoundaries:
    if isinstance(design, SimonBoundaries):
        return design
    return SimonBoundaries(design.r1, design.n1, design.r, design.n)


def simon_operating_characteristics(
    design: SimonBoundaries | SimonDesign, p: float | np.ndarray
) -> SimonOperatingCharacteristics:
    """Exact P(reject H0), P(stop after stage 1) and E[N] at response probability ``p``."""
    from scipy.stats import binom
    b = _boundaries(design)
    p_arr = np.asarray(p, dtype=np.float64)
    if np.any(~((p_arr >= 0.0) & (p_arr <= 1.0))):
        raise InvalidInput(f"p must be a probability in [0, 1], got {p!r}")
    n2 = b.n - b.n1
    x1 = np.arange(b.r1 + 1, b.n1 + 1)
    pp = p_arr[..., None]
    reject = (binom.pmf(x1, b.n1, pp) * binom.sf(b.r - x1, n2, pp)).sum(axis=-1)
    pet = binom.cdf(b.r1, b.n1, p_arr)
    en = b.n1 + (1.0 - pet) * n2
    if p_arr.ndim == 0:
        return SimonOperatingCharacteristics(float(p_arr), float(reject), float(pet), float(en))
    return SimonOperatingCharacteristics(p_arr, reject, pet, en)


def simon_decision(
    design: SimonBoundaries | SimonDesign,
    stage1_responders: np.ndarray,
    stage2_responders: np.ndarray,
) -> SimonDecision:
    """Apply the design to simulated counts (vectorised over trials).

    ``stage1_responders`` (of ``n1``) and ``stage2_responders`` (of ``n - n1``)
    have the same shape; stage-2 counts are ignored for trials that stop early.
    """
    b = _boundaries(design)
    s1 = np.asarray(stage1_responders)
    s2 = np.asarray(stage2_responders)
    if s1.shape != s2.shape:
        raise InvalidInput(
            f"stage1_responders and stage2_responders must have the same shape, got {s1.shape} and {s2.shape}"
        )
    if s1.size and (np.any(s1 < 0) or np.any(s1 > b.n1) or np.any(s1 != np.round(s1))):
        raise InvalidInput(f"stage1_responders must be integers in [0, n1={b.n1}]")
    if s2.size and (np.any(s2 < 0) or np.any(s2 > b.n - b.n1) or np.any(s2 != np.round(s2))):
        raise InvalidInput(f"stage2_responders must be integers in [0, n - n1={b.n - b.n1}]")
    stopped = s1 <= b.r1
    reject = ~stopped & (s1 + s2 > b.r)
    patients = np.where(stopped, b.n1, b.n).astype(np.int64)
    return SimonDecision(stopped_early=stopped, reject=reject, patients=patients)


def simulate_simon(
    design: SimonBoundaries | SimonDesign, p: float, n_sims: int, seed: int
) -> SimonMonteCarloOC:
    """Monte-Carlo operating characteristics from ``n_sims`` trials at response probability ``p``."""
    b = _boundaries(design)
    p = float(p)
    if not (0.0 <= p <= 1.0):
        raise InvalidInput(f"p must be a probability in [0, 1], got {p!r}")
    n_sims = check_positive_int("n_sims", n_sims)
    rng = np.random.default_rng(seed)
    s1 = rng.binomial(b.n1, p, size=n_sims)
    s2 = rng.binomial(b.n - b.n1, p, size=n_sims)
    d = simon_decision(b, s1, s2)
    rej = float(d.reject.mean())
    pet = float(d.stopped_early.mean())
    en = float(d.patients.mean())
    return SimonMonteCarloOC(
        p=p,
        n_sims=n_sims,
        seed=int(seed),
        prob_reject=rej,
        prob_reject_se=math.sqrt(rej * (1 - rej) / n_sims),
        prob_early_stop=pet,
        prob_early_stop_se=math.sqrt(pet * (1 - pet) / n_sims),
        expected_n=en,
        expected_n_se=float(d.patients.std(ddof=1) / math.sqrt(n_sims)) if n_sims > 1 else float("nan"),
    )
