"""Weighted log-rank scores at every look of a trial and their covariance across looks and components.

For a group-sequential weighted log-rank or MaxCombo test (J components, K looks), at look l
component j: U_lj = sum over event times t of w_lj(t) (O1 - E1)(t) and

    Cov(U_ki, U_lj) = sum over the event times t of look k's data of w_ki(t) w_lj(t) v_k(t),  k <= l,

v_k the hypergeometric variance at t in look k's risk sets (the earlier look's: its data hold
fewer patients at risk at t, those censored at cut k who are still followed at cut l), and each
weight evaluated with its own look's pooled Kaplan-Meier: w_ki from S_k(t-), w_lj from S_l(t-).
With w = 1 this is V_k, the log-rank's independent increments.  An event before cut k is an event
at the same follow-up time at every later cut, so look k's event times are among look l's; S_l(t-)
at them is read by walking both looks' event rows in time order.

Weights: FH(rho, gamma): S(t-)^rho (1 - S(t-))^gamma; modestly weighted (Magirr-Burman, t* >= 0):
1 / max(S(t-), S(t*)) — the same weights as ``simtrial.engine.statistics``.

Array contract: ``store[look, population]`` (float64[6, n]) holds that look's pooled event rows
as :func:`simtrial.engine.tables.event_tables` writes them (descending time: time, n0, n1, d0, d1)
and, in row 5, S(t-) of each row; ``store_rows[look, population]`` their count and
``store_cap[look, population]`` S(t*) for a modestly weighted component.  The output block of one
(look l, population) row is ``[U_l0 .. U_l(J-1), C[0], ..., C[K-1]]``, C[k] (J x J, row-major) =
Cov(U_k., U_l.) for k <= l and NaN for k > l (``simtrial.engine.layout.gs_fields``).
"""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import kernel
from simtrial.engine.tables import event_tables


@kernel
def _weight(surv, cap, rho, gamma, t_star):
    if t_star >= 0.0:
        return 1.0 / max(surv, cap)
    w = 1.0
    if rho != 0.0:
        w = surv if rho == 1.0 else surv**rho
    if gamma != 0.0:
        w *= (1.0 - surv) if gamma == 1.0 else (1.0 - surv) ** gamma
    return w


@kernel
def look_scores(
    stream_time, stream_code, m, code_in_pop, code_stratum, look, p, components, n_looks,
    store, store_rows, store_cap, at_risk, deaths, touched, patients, w, out,
):
    """Fill ``store[look, p]`` from the look's stream and write the look's block into ``out``; returns 1 if undefined.

    ``components`` float64[J, 3]: (rho, gamma, t_star), t_star < 0 for a FH weight.  The looks
    before ``look`` must have been stored already (they are: looks run in order).  Scratch:
    ``at_risk``, ``deaths`` int64[1, 2], ``touched`` int64[1], ``patients`` int64[2], ``w`` float64[2, J].
    Undefined (a component without information at this look): its U and C are NaN-free but its
    variance is 0; the caller's Z is then NaN.
    """
    J = components.shape[0]
    rows = store[look, p]
    n_rows, _, _, _ = event_tables(
        stream_time, stream_code, m, code_in_pop, code_stratum, False, at_risk, deaths, touched,
        rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], rows[5], rows[5], rows[5], patients, rows[5], rows[5],
    )
    store_rows[look, p] = n_rows
    time = rows[0]
    n0 = rows[1]
    n1 = rows[2]
    d0 = rows[3]
    d1 = rows[4]
    surv_before = rows[5]
    # the pooled KM just before each row, and S(t*) for the modestly weighted components
    t_star = -1.0
    for j in range(J):
        if components[j, 2] >= 0.0:
            t_star = components[j, 2]
    surv = 1.0
    cap = -1.0
    for r in range(n_rows - 1, -1, -1):
        if cap < 0.0 and t_star >= 0.0 and time[r] > t_star:
            cap = surv
        surv_before[r] = surv
        surv *= 1.0 - (d0[r] + d1[r]) / (n0[r] + n1[r])
    if cap < 0.0:
        cap = surv
    store_cap[look, p] = cap

    width = J * J
    for f in range(J + n_looks * width):
        out[f] = np.nan
    for j in range(J):
        out[j] = 0.0
    base = J + look * width
    for f in range(width):
        out[base + f] = 0.0
    # this look: scores and the within-look covariance
    for r in range(n_rows - 1, -1, -1):
        n = n0[r] + n1[r]
        d = d0[r] + d1[r]
        oe = d1[r] - d * n1[r] / n
        v = d * (n - d) * n0[r] * n1[r] / (n * n * (n - 1.0)) if n > 1.0 else 0.0
        for j in range(J):
            w[0, j] = _weight(surv_before[r], cap, components[j, 0], components[j, 1], components[j, 2])
            out[j] += w[0, j] * oe
        for i in range(J):
            wi = w[0, i] * v
            for j in range(J):
                out[base + i * J + j] += wi * w[0, j]
    undefined = 0
    for j in range(J):
        if not out[base + j * J + j] > 0.0:
            undefined = 1
    # the earlier looks: their event rows and variances, this look's weights at their times
    for k in range(look):
        kb = J + k * width
        for f in range(width):
            out[kb + f] = 0.0
        krows = store[k, p]
        k_n = store_rows[k, p]
        k_cap = store_cap[k, p]
        ptr = n_rows - 1  # this look's rows, ascending from the earliest
        s_l = 1.0  # this look's S(t-) at the current look-k time
        for r in range(k_n - 1, -1, -1):
            t = krows[0, r]
            while ptr >= 0 and time[ptr] < t:
                s_l *= 1.0 - (d0[ptr] + d1[ptr]) / (n0[ptr] + n1[ptr])
                ptr -= 1
            n = krows[1, r] + krows[2, r]
            d = krows[3, r] + krows[4, r]
            if not n > 1.0:
                continue
            v = d * (n - d) * krows[1, r] * krows[2, r] / (n * n * (n - 1.0))
            for j in range(J):
                w[0, j] = _weight(krows[5, r], k_cap, components[j, 0], components[j, 1], components[j, 2])
                w[1, j] = _weight(s_l, cap, components[j, 0], components[j, 1], components[j, 2])
            for i in range(J):
                wi = w[0, i] * v
                for j in range(J):
                    out[kb + i * J + j] += wi * w[1, j]
    return undefined
