"""Argument checks shared by the statistics modules.

Every check raises ``ValueError`` naming the parameter, the allowed range and
the value received, so a caller (or a scenario file's error reporter) can say
exactly what is wrong.
"""

from __future__ import annotations

import math

import numpy as np

from simtrial.errors import InvalidInput


def check_open_probability(name: str, value: float) -> float:
    """A probability strictly inside (0, 1)."""
    value = float(value)
    if not (0.0 < value < 1.0):
        raise InvalidInput(f"{name} must be a probability in (0, 1), got {value!r}")
    return value


def check_alpha(name: str, value: float) -> float:
    """A significance level strictly inside (0, 0.5)."""
    value = float(value)
    if not (0.0 < value < 0.5):
        raise InvalidInput(f"{name} must be in (0, 0.5), got {value!r}")
    return value


def check_positive(name: str, value: float) -> float:
    """A finite number > 0."""
    value = float(value)
    if not (value > 0.0 and math.isfinite(value)):
        raise InvalidInput(f"{name} must be a finite number > 0, got {value!r}")
    return value


def check_non_negative(name: str, value: float) -> float:
    """A finite number >= 0."""
    value = float(value)
    if not (value >= 0.0 and math.isfinite(value)):
        raise InvalidInput(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def check_sided(value: int) -> int:
    """Sidedness of a test: 1 or 2."""
    if value not in (1, 2):
        raise InvalidInput(f"sided must be 1 or 2, got {value!r}")
    return int(value)


def check_positive_int(name: str, value: int) -> int:
    """An integer >= 1."""
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise InvalidInput(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_count_arrays(
    responders: np.ndarray, patients: np.ndarray, *, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Integer-valued, non-negative counts with ``0 <= responders <= patients``."""
    r_name, n_name = names
    responders = np.asarray(responders)
    patients = np.asarray(patients)
    if responders.shape != patients.shape:
        raise InvalidInput(
            f"{r_name} and {n_name} must have the same shape, got "
            f"{responders.shape} and {patients.shape}"
        )
    for name, arr in ((r_name, responders), (n_name, patients)):
        if arr.size and not np.all(np.isfinite(arr)):
            raise InvalidInput(f"{name} must be finite counts")
        if arr.size and not np.all(arr == np.round(arr)):
            raise InvalidInput(f"{name} must be integer counts")
        if arr.size and np.any(arr < 0):
            raise InvalidInput(f"{name} must be counts >= 0")
    if responders.size and np.any(responders > patients):
        raise InvalidInput(f"{r_name} must be <= {n_name} in every cell (0 <= {r_name} <= {n_name})")
    return responders.astype(np.float64), patients.astype(np.float64)
