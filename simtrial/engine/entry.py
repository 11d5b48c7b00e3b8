"""Entry-law piece kinds and the closed-form inverse CDF of a shaped piece.

Codes (``CohortArgs.accrual_kind``; the spec side is ``simtrial.spec.accrual``)::

    ENTRY_UNIFORM      constant density on the piece (shape unused)
    ENTRY_EXPONENTIAL  density proportional to exp(-gamma (t - start)), shape = gamma per month
    ENTRY_LINEAR       density proportional to 1 + theta (2 s - 1), s the fraction of the piece
                       width, shape = theta in [-1, 1]
"""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import kernel

ENTRY_UNIFORM = 0
ENTRY_EXPONENTIAL = 1
ENTRY_LINEAR = 2


@kernel
def shaped_entry(kind, shape, start, end, lo, hi, u):
    """Entry time at cumulative probability ``u`` on a shaped piece [start, end] holding (lo, hi].

    Exponential: s = -log1p(p expm1(-g)) / g with g = gamma x width (both signs
    of gamma, no cancellation).  Linear: the root of s (1 - theta + theta s) =
    p, as (root - b) / (2 theta) for theta > 0 (monotone in p under rounding)
    and as its conjugate 2 p / (b + root) otherwise (no cancellation near 0).
    """
    width = end - start
    if not (hi > lo and width > 0.0):
        return start
    p = min(max((u - lo) / (hi - lo), 0.0), 1.0)
    if kind == ENTRY_EXPONENTIAL:
        g = shape * width
        s = -np.log1p(p * np.expm1(-g)) / g
    else:
        b = 1.0 - shape
        root = np.sqrt(b * b + 4.0 * shape * p)
        s = (root - b) / (2.0 * shape) if shape > 1e-3 else 2.0 * p / (b + root)
    return min(max(start + s * width, start), end)
