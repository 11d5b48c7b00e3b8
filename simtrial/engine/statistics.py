"""Two-arm statistics from event tables (layout: ``simtrial.engine.tables``).

Sign convention, everywhere in simtrial: arm 1 is experimental, arm 0 control;
hazard ratios are experimental / control; the log-rank Z is
(O1 - E1) / sqrt(V), so it has the sign of log HR and a negative Z favours the
experimental arm.

Ties: the log-rank uses the hypergeometric variance; Cox uses Efron's method.
Undefined cases return NaN (log-rank with V = 0; Cox when an arm has no
events, where the MLE is infinite, or when Newton fails) rather than raising.
"""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import kernel

COX_MAX_ITER = 50
# Newton converges quadratically: once a step is below COX_TOL the log HR is
# within ~COX_TOL**2 of the MLE, and the information, carried to the final
# beta with its derivative, is as close; a further pass would buy nothing.
COX_TOL = 1e-5


@kernel
def logrank_sums(n0, n1, d0, d1, n_rows):
    """Returns (O1 - E1, V) summed over the rows."""
    o_minus_e = 0.0
    var = 0.0
    for r in range(n_rows):
        n = n0[r] + n1[r]
        d = d0[r] + d1[r]
        o_minus_e += d1[r] - d * n1[r] / n
        if n > 1.0:
            var += d * (n - d) * n0[r] * n1[r] / (n * n * (n - 1.0))
    return o_minus_e, var


@kernel
def fleming_harrington_sums(n0, n1, d0, d1, n_rows, rho, gamma):
    """Weighted (O1 - E1, V) with w = S(t-)^rho (1 - S(t-))^gamma, S the pooled Kaplan-Meier.

    Rows are in descending time, so they are walked backwards to carry S(t-).
    """
    o_minus_e = 0.0
    var = 0.0
    surv = 1.0
    for r in range(n_rows - 1, -1, -1):
        n = n0[r] + n1[r]
        d = d0[r] + d1[r]
        w = 1.0
        if rho != 0.0:
            w *= surv**rho
        if gamma != 0.0:
            w *= (1.0 - surv) ** gamma
        o_minus_e += w * (d1[r] - d * n1[r] / n)
        if n > 1.0:
            var += w * w * d * (n - d) * n0[r] * n1[r] / (n * n * (n - 1.0))
        surv *= 1.0 - d / n
    return o_minus_e, var


@kernel
def z_from_sums(o_minus_e, var):
    if var > 0.0:
        return o_minus_e / np.sqrt(var)
    return np.nan


@kernel
def _cox_score_information(n0, n1, d0, d1, n_rows, beta):
    """Efron score, information and d(information)/d(beta) for the binary covariate 'experimental'.

    Each risk-set term has mean m = theta A / (B + theta A), so dm/dbeta =
    m (1 - m): the information is sum m (1 - m) and its derivative
    sum m (1 - m) (1 - 2 m), which costs no extra division.
    """
    theta = np.exp(beta)
    score = 0.0
    info = 0.0
    dinfo = 0.0
    for r in range(n_rows):
        dd0 = d0[r]
        dd1 = d1[r]
        d = dd0 + dd1
        s1 = n1[r] * theta
        s0 = n0[r] + s1
        score += dd1
        if d == 1.0:
            mean = s1 / s0
            v = mean * (1.0 - mean)
            score -= mean
            info += v
            dinfo += v * (1.0 - 2.0 * mean)
        else:
            tied1 = dd1 * theta
            tied0 = dd0 + tied1
            k = np.int64(d)
            for q in range(k):
                frac = q / d
                mean = (s1 - frac * tied1) / (s0 - frac * tied0)
                v = mean * (1.0 - mean)
                score -= mean
                info += v
                dinfo += v * (1.0 - 2.0 * mean)
    return score, info, dinfo


@kernel
def cox_fit(n0, n1, d0, d1, n_rows, beta_start):
    """Newton-Raphson for the Cox log hazard ratio; returns (log HR, SE, converged).

    The partial likelihood of one binary covariate is concave, so Newton from
    the log-rank one-step estimate converges in a few steps; steps are capped
    at 1 on the log scale so a poor start cannot overshoot into overflow.
    """
    events0 = 0.0
    events1 = 0.0
    for r in range(n_rows):
        events0 += d0[r]
        events1 += d1[r]
    if events0 == 0.0 or events1 == 0.0:
        return np.nan, np.nan, False
    beta = beta_start if np.isfinite(beta_start) else 0.0
    for _ in range(COX_MAX_ITER):
        score, info, dinfo = _cox_score_information(n0, n1, d0, d1, n_rows, beta)
        if not info > 0.0:
            return np.nan, np.nan, False
        step = score / info
        if step > 1.0:
            step = 1.0
        elif step < -1.0:
            step = -1.0
        beta += step
        if abs(step) < COX_TOL:
            # carry the information to the new beta to first order: error O(step^2)
            info_here = info + dinfo * step
            if not info_here > 0.0:
                info_here = info
            return beta, 1.0 / np.sqrt(info_here), True
    return np.nan, np.nan, False


@kernel
def kaplan_meier(row_time, n0, n1, d0, d1, n_rows, landmarks, out_control, out_experimental):
    """Kaplan-Meier of both arms in one pass: returns (median control, median experimental).

    Median = the first time S <= 0.5 (+inf if never), as lifelines reports it;
    ``out_*[j]`` receive S at ``landmarks[j]`` (ascending).  Rows are in
    descending time, so they are walked backwards.  Every row updates both
    arms (a factor of exactly 1 where an arm has no event), because whether a
    row's event is in one arm or the other is a coin flip for the branch
    predictor.
    """
    s0 = 1.0
    s1 = 1.0
    median0 = np.inf
    median1 = np.inf
    n_lm = landmarks.shape[0]
    lm = 0
    for r in range(n_rows - 1, -1, -1):
        t = row_time[r]
        while lm < n_lm and landmarks[lm] < t:
            out_control[lm] = s0
            out_experimental[lm] = s1
            lm += 1
        s0 *= 1.0 - d0[r] / max(n0[r], 1.0)
        s1 *= 1.0 - d1[r] / max(n1[r], 1.0)
        median0 = t if (s0 <= 0.5 and median0 == np.inf) else median0
        median1 = t if (s1 <= 0.5 and median1 == np.inf) else median1
    while lm < n_lm:
        out_control[lm] = s0
        out_experimental[lm] = s1
        lm += 1
    return median0, median1
