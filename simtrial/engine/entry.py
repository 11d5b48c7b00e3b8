"""The closed-form inverse CDF of a shaped entry-law piece.

Piece kinds (``CohortArgs.accrual_kind``) are the ``ENTRY_*`` codes of
``simtrial.engine.layout`` (numba-free, so the spec can read them without
compiling anything); the spec side is ``simtrial.spec.accrual``.
"""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import kernel
from simtrial.engine.layout import ENTRY_EXPONENTIAL, ENTRY_LINEAR, ENTRY_UNIFORM

__all__ = ["ENTRY_EXPONENTIAL", "ENTRY_LINEAR", "ENTRY_UNIFORM", "shaped_entry"]


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
