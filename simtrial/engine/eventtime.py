"""Event time of one patient from one Exp(1) draw (layout: ``simtrial.engine.models``)."""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import kernel
from simtrial.engine.models import MODEL_PIECEWISE_EXPONENTIAL, MODEL_TIME_VARYING_HR, MODEL_WEIBULL
from simtrial.engine.rng import seed_stream, standard_exponential


@kernel
def _base_time_from_cumhaz(code, params, cumhaz):
    """Invert the base (uncured) cumulative hazard H0(t) = cumhaz."""
    if code == MODEL_WEIBULL:
        return params[3] * cumhaz ** (1.0 / params[2]) if cumhaz > 0.0 else 0.0
    k = np.int64(params[2])
    acc = 0.0
    for j in range(k):
        start = params[3 + j]
        rate = params[3 + k + j]
        if j + 1 < k:
            piece = rate * (params[3 + j + 1] - start)
            if acc + piece < cumhaz:
                acc += piece
                continue
        return start + (cumhaz - acc) / rate
    return np.inf  # not reached: the last rate is positive


@kernel
def _time_varying_event_time(code, params, exp1):
    """Event time under a time-varying hazard ratio (layout: ``simtrial.engine.models``)."""
    base = code - MODEL_TIME_VARYING_HR
    off = 2 + (1 + 2 * np.int64(params[2]) if base == MODEL_PIECEWISE_EXPONENTIAL else 2)
    n_pieces = np.int64(params[off])
    e = exp1 / params[1]
    j = 0
    while j + 1 < n_pieces and params[off + 1 + 3 * n_pieces + j + 1] <= e:
        j += 1
    target = params[off + 1 + 2 * n_pieces + j] + (e - params[off + 1 + 3 * n_pieces + j]) / params[off + 1 + n_pieces + j]
    cure = params[0]
    if cure == 0.0:
        return _base_time_from_cumhaz(base, params, target)
    u = np.exp(-target)
    if u <= cure:
        return np.inf
    return _base_time_from_cumhaz(base, params, -np.log((u - cure) / (1.0 - cure)))


@kernel
def event_time(code, params, exp1):
    """Event time (months) for a patient whose Exp(1) draw is ``exp1``; +inf if cured."""
    if code >= MODEL_TIME_VARYING_HR:
        return _time_varying_event_time(code, params, exp1)
    cure = params[0]
    hr = params[1]
    if cure == 0.0:
        return _base_time_from_cumhaz(code, params, exp1 / hr)
    # survival value U = exp(-E) raised to 1/h; at or below the cure fraction means cured
    u = np.exp(-exp1 / hr)
    if u <= cure:
        return np.inf
    return _base_time_from_cumhaz(code, params, -np.log((u - cure) / (1.0 - cure)))


@kernel
def _sample_event_times(code, params, n, seed):
    state = np.empty(4, dtype=np.uint64)
    seed_stream(state, seed, 0)
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = event_time(code, params, standard_exponential(state))
    return out
