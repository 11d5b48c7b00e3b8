"""Kernel form of the event-time models: integer codes and one float64 parameter row.

Array contract (one row per HER2 stratum x arm, zero-padded to a common width)::

    params[0]  cure fraction c in [0, 1)            (0: no cure mixture)
    params[1]  population hazard ratio h > 0         (S(t) = S_base(t) ** h)
    params[2:] the base model, by code:
        MODEL_PIECEWISE_EXPONENTIAL (0): K, start_1..start_K (start_1 = 0), rate_1..rate_K
        MODEL_WEIBULL (1):               shape, scale (months)

    S_base(t) = c + (1 - c) * S0(t)

Sampling needs one Exp(1) draw E per patient: the survival value is
U = exp(-E); U ** (1/h) <= c means cured (event time +inf), otherwise the
event time solves S0(t) = (U ** (1/h) - c) / (1 - c).  With c = 0 this is simply
the cumulative hazard H0(t) = E / h, with no exp/log round trip.

Time-varying hazard ratio (code = base code + MODEL_TIME_VARYING_HR): the row is the
control's row (cure, h, base model) followed by ``J, t_1..t_J, r_1..r_J, B_1..B_J,
A_1..A_J``: from t_j on the hazard is r_j times the hazard of the model in front,
B_j = H_b(t_j) is that model's cumulative hazard with h = 1 (mixture included),
A_j = sum_{i<j} r_i (B_{i+1} - B_i) the cumulative hazard of the product.  Sampling maps
E / h through the pieces (A(t) = E / h gives H_b(t) = B_j + (E / h - A_j) / r_j in the
piece where A_j <= E / h) and inverts H_b exactly, so a per-trial multiplier on h scales
the whole arm's hazard (the pieces stay relative).
"""

from __future__ import annotations

import numpy as np

MODEL_PIECEWISE_EXPONENTIAL = 0
MODEL_WEIBULL = 1
N_HEADER = 2
#: added to a base code: a time-varying hazard ratio against that model (issue 15)
MODEL_TIME_VARYING_HR = 4


def pack_model_params(code: int, *, cure_fraction: float, hazard_ratio: float, shape_params) -> np.ndarray:
    """One parameter row for ``code``; see the module docstring for the layout."""
    if code not in (MODEL_PIECEWISE_EXPONENTIAL, MODEL_WEIBULL):
        raise ValueError(f"unknown model code {code!r}")
    return np.array([cure_fraction, hazard_ratio, *shape_params], dtype=np.float64)


def stack_models(rows: list[list[tuple[int, np.ndarray]]]) -> tuple[np.ndarray, np.ndarray]:
    """[stratum][arm] -> (codes int64[S, A], params float64[S, A, P]) zero-padded."""
    n_strata = len(rows)
    n_arms = len(rows[0])
    width = max(len(p) for row in rows for _, p in row)
    codes = np.zeros((n_strata, n_arms), dtype=np.int64)
    params = np.zeros((n_strata, n_arms, width), dtype=np.float64)
    for s, row in enumerate(rows):
        if len(row) != n_arms:
            raise ValueError("every stratum needs a model for every arm")
        for a, (code, p) in enumerate(row):
            codes[s, a] = code
            params[s, a, : len(p)] = p
    return codes, params


def competing_exponentials(
    codes: np.ndarray, params: np.ndarray, dropout_hazard: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For plain exponential models [stratum, arm]: 1 / (hazard + dropout hazard) and hazard's share; 0 elsewhere."""
    inv_total = np.zeros(codes.shape, dtype=np.float64)
    p_event = np.zeros(codes.shape, dtype=np.float64)
    for index in np.ndindex(codes.shape):
        p = params[index]
        if codes[index] == MODEL_PIECEWISE_EXPONENTIAL and p[0] == 0.0 and int(p[2]) == 1:
            rate = p[4] * p[1]
            total = rate + dropout_hazard[index[1]]
            inv_total[index] = 1.0 / total
            p_event[index] = rate / total
    return inv_total, p_event
