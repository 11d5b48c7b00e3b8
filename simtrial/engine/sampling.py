"""Public, checked wrapper: draw event times from one model (calibration checks, tests)."""

from __future__ import annotations

import numpy as np

from simtrial.engine.eventtime import _sample_event_times
from simtrial.engine.models import MODEL_PIECEWISE_EXPONENTIAL, MODEL_WEIBULL


def sample_event_times(model_code: int, params: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` event times (months; +inf for cured patients) from a kernel-form model."""
    if model_code not in (MODEL_PIECEWISE_EXPONENTIAL, MODEL_WEIBULL):
        raise ValueError(f"model_code must be 0 (piecewise exponential) or 1 (Weibull), got {model_code!r}")
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    params = np.ascontiguousarray(params, dtype=np.float64)
    return _sample_event_times(int(model_code), params, int(n), int(seed))
