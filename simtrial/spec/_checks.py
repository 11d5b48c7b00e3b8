"""Shared argument checks of the spec dataclasses."""

from __future__ import annotations

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.her2 import CATEGORIES, N_CATEGORIES


def _category_name(code: int) -> str:
    return CATEGORIES[code]


def _check_category(name: str, code: int, n: int = N_CATEGORIES) -> int:
    """``code`` as an int in 0..n-1: an IHC category (n = 6), or an IHC x HR-status cell (n = 12)."""
    if isinstance(code, bool) or not isinstance(code, int | np.integer) or not 0 <= int(code) < n:
        what = "HER2 category code" if n == N_CATEGORIES else "HER2 category (or IHC x HR-status cell) code"
        raise InvalidInput(f"{name}: {what} must be an integer in 0..{n - 1}, got {code!r}")
    return int(code)
