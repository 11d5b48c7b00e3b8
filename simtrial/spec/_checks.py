"""Shared argument checks of the spec dataclasses."""

from __future__ import annotations

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.her2 import CATEGORIES, N_CATEGORIES


def _category_name(code: int) -> str:
    return CATEGORIES[code]


def _check_category(name: str, code: int) -> int:
    if not isinstance(code, int | np.integer) or not 0 <= int(code) < N_CATEGORIES:
        raise InvalidInput(f"{name}: HER2 category code must be an integer in 0..{N_CATEGORIES - 1}, got {code!r}")
    return int(code)
