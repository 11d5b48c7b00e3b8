"""The standard normal distribution's sf / cdf / isf / ppf / pdf without importing ``scipy.stats``.

``scipy.stats`` takes about a second to import (it builds every distribution's
docstring), more than a 10,000-trial run of the flagship; a run only needs
these five functions.  They are ``scipy.special``'s ufuncs, which is what
``scipy.stats.norm`` evaluates, so the numbers are the same bit for bit
(tests/test_cli_startup.py checks both claims).  Call sites read as before:
``from simtrial.stats import normal as norm``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def cdf(x):
    """P(Z <= x)."""
    return special.ndtr(x)


def sf(x):
    """P(Z > x), accurate in the upper tail (not 1 - cdf)."""
    return special.ndtr(np.negative(x))


def ppf(q):
    """The q-quantile."""
    return special.ndtri(q)


def isf(q):
    """The upper q-quantile: P(Z > isf(q)) = q."""
    return np.negative(special.ndtri(q))


def pdf(x):
    """The density."""
    x = np.asarray(x, dtype=float)
    return np.exp(-(x**2) / 2.0) / _SQRT_2PI  # scipy's expression, for the same doubles
