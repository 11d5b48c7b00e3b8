"""Recursive numerical integration for group-sequential crossing probabilities.

Jennison & Turnbull (2000), *Group Sequential Methods*, ch. 19. The statistic
at look k is Z_k = S_k / sqrt(t_k), where S is Brownian motion with drift
``drift`` in information time scaled so that t = 1 is the maximum information:
S_k - S_{k-1} ~ N(drift (t_k - t_{k-1}), t_k - t_{k-1}). Hence
E[Z_k] = drift sqrt(t_k). Everything here is on the efficacy scale (large Z
favours the experimental arm).

The sub-density of Z_k on the continuation region (a_k, b_k) is carried on a
grid as ``h = Simpson weight * density``, so any integral against it is a
dot product. The grid is J&T's: dense near the mean, log-spaced in the tails,
cut at the boundaries, with Simpson midpoints added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _phi(x: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def grid(mean: float, lower: float, upper: float, r: int) -> tuple[np.ndarray, np.ndarray]:
    """J&T grid (section 19.2.1) on [lower, upper] with Simpson weights.

    Returns the nodes z (odd count) and weights w with sum(w f(z)) ~ integral of f.
    """
    i = np.arange(1, 6 * r)
    x = np.empty(i.size)
    left = i < r
    mid = (i >= r) & (i <= 5 * r)
    right = i > 5 * r
    x[left] = mean - 3.0 - 4.0 * np.log(r / i[left])
    x[mid] = mean - 3.0 + 3.0 * (i[mid] - r) / (2.0 * r)
    x[right] = mean + 3.0 + 4.0 * np.log(r / (6 * r - i[right]))
    if not lower < upper:
        # Empty continuation region: nothing to integrate.
        return np.array([lower]), np.array([0.0])
    # Replace the points beyond a boundary by one point on it, so the grid
    # spans exactly the continuation region (or all non-negligible mass).
    parts = [x[(x > lower) & (x < upper)]]
    if lower > x[0]:
        parts.insert(0, np.array([lower]))
    if upper < x[-1]:
        parts.append(np.array([upper]))
    pts = np.unique(np.concatenate(parts))
    if pts.size < 2:
        return np.array([pts[0] if pts.size else lower]), np.array([0.0])
    z = np.empty(2 * pts.size - 1)
    z[0::2] = pts
    z[1::2] = 0.5 * (pts[:-1] + pts[1:])
    width = pts[1:] - pts[:-1]
    w = np.zeros(z.size)
    w[0:-1:2] += width / 6.0
    w[1::2] += 4.0 * width / 6.0
    w[2::2] += width / 6.0
    return z, w


@dataclass(frozen=True)
class Stage:
    """Weighted sub-density of Z at one look, restricted to continuation."""

    t: float
    z: np.ndarray
    h: np.ndarray  # Simpson weight * sub-density at z


def _args(stage: Stage | None, t: float, drift: float, bound: float) -> np.ndarray | float:
    """Standardised distance of ``bound`` at information t from each prior node."""
    if stage is None:
        return bound - drift * math.sqrt(t)
    dt = t - stage.t
    return (bound * math.sqrt(t) - stage.z * math.sqrt(stage.t) - drift * dt) / math.sqrt(dt)


def prob_above(stage: Stage | None, t: float, drift: float, bound: float) -> float:
    """P(continued up to the previous look and Z at t >= bound)."""
    from scipy.special import ndtr
    if bound == math.inf:
        return 0.0
    if stage is None:
        return float(ndtr(-_args(None, t, drift, bound)))
    return float(np.dot(stage.h, ndtr(-_args(stage, t, drift, bound))))


def prob_below(stage: Stage | None, t: float, drift: float, bound: float) -> float:
    """P(continued up to the previous look and Z at t <= bound)."""
    from scipy.special import ndtr
    if bound == -math.inf:
        return 0.0
    if stage is None:
        return float(ndtr(_args(None, t, drift, bound)))
    return float(np.dot(stage.h, ndtr(_args(stage, t, drift, bound))))


def advance(stage: Stage | None, t: float, drift: float, lower: float, upper: float, r: int) -> Stage:
    """Sub-density at information t on (lower, upper), given the previous look."""
    z, w = grid(drift * math.sqrt(t), lower, upper, r)
    if stage is None:
        return Stage(t, z, w * _phi(z - drift * math.sqrt(t)))
    dt = t - stage.t
    scale = math.sqrt(dt)
    # Transition density of Z_k = z given Z_{k-1} = u (change of variables
    # from S_k to Z_k contributes sqrt(t_k)).
    arg = (z[None, :] * math.sqrt(t) - stage.z[:, None] * math.sqrt(stage.t) - drift * dt) / scale
    dens = stage.h @ (_phi(arg) * (math.sqrt(t) / scale))
    return Stage(t, z, w * dens)


def crossing_probabilities(
    t: np.ndarray, lower: np.ndarray, upper: np.ndarray, drift: float, r: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-look probabilities of stopping above ``upper`` and below ``lower``.

    Stopping happens at the first look where Z >= upper or Z <= lower.
    """
    k = len(t)
    up = np.zeros(k)
    down = np.zeros(k)
    stage: Stage | None = None
    for j in range(k):
        up[j] = prob_above(stage, float(t[j]), drift, float(upper[j]))
        down[j] = prob_below(stage, float(t[j]), drift, float(min(lower[j], upper[j])))
        if j < k - 1:
            stage = advance(stage, float(t[j]), drift, float(lower[j]), float(upper[j]), r)
    return up, down


def advance_regions(
    stage: Stage | None, t: float, drift: float, regions: list[tuple[float, float]], r: int
) -> Stage:
    """As ``advance``, on a continuation region made of disjoint intervals (e.g. a futility wedge removed).

    Each interval gets its own J&T grid and Simpson weights; the nodes are
    concatenated, so integrals against the stage stay dot products.
    """
    zs, ws = [], []
    mean = drift * math.sqrt(t)
    for lower, upper in regions:
        z, w = grid(mean, lower, upper, r)
        zs.append(z)
        ws.append(w)
    z = np.concatenate(zs)
    w = np.concatenate(ws)
    if stage is None:
        return Stage(t, z, w * _phi(z - mean))
    dt = t - stage.t
    scale = math.sqrt(dt)
    arg = (z[None, :] * math.sqrt(t) - stage.z[:, None] * math.sqrt(stage.t) - drift * dt) / scale
    dens = stage.h @ (_phi(arg) * (math.sqrt(t) / scale))
    return Stage(t, z, w * dens)
