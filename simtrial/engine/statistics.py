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
def cox_fit(n0, n1, d0, d1, n_rows, beta_start, events0, events1):
    """Newton-Raphson for the Cox log hazard ratio; returns (log HR, SE, converged).

    ``events0``, ``events1``: the events per arm in the rows (the event-table pass counts them).
    The partial likelihood of one binary covariate is concave, so Newton from
    the log-rank one-step estimate converges in a few steps; steps are capped
    at 1 on the log scale so a poor start cannot overshoot into overflow.
    """
    if events0 == 0 or events1 == 0:
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


# --- non-proportional-hazards statistics (issue 15) -------------------------------------------


@kernel
def rmst_milestone(row_time, n0, n1, d0, d1, n_rows, tau, milestone, out):
    """RMST to ``tau`` and Kaplan-Meier at ``milestone`` of both arms, in one ascending pass.

    ``out`` (float64[8]) receives, per arm a = 0, 1:
    out[2a] = RMST = int_0^tau S_a(u) du, out[2a + 1] = its variance
    sum_{t_j < tau} A_j^2 d_j / (n_j (n_j - d_j)), A_j = int_{t_j}^tau S_a (R ``survfit``'s
    ``se(rmean)``; a term with n_j = d_j is 0, as in R), out[4 + 2a] = S_a(milestone) and
    out[5 + 2a] = the Greenwood sum sum_{t_j <= milestone} d_j / (n_j (n_j - d_j)) (+inf when an
    arm dies out at or before it).  A_j = R - C_j with C_j = int_0^{t_j} S_a, so the variance is
    R^2 sum h - 2 R sum C h + sum C^2 h: one forward pass.  A negative ``tau`` / ``milestone`` skips it.
    """
    for a in range(2):
        dd = d0 if a == 0 else d1
        nn = n0 if a == 0 else n1
        s = 1.0
        prev = 0.0
        area = 0.0
        sh = 0.0
        sch = 0.0
        scch = 0.0
        s_ms = 1.0
        gw = 0.0
        for r in range(n_rows - 1, -1, -1):
            d = dd[r]
            if d == 0.0:
                continue
            t = row_time[r]
            n = nn[r]
            if t <= milestone:
                s_ms *= 1.0 - d / n
                gw += d / (n * (n - d)) if n > d else np.inf
            if t < tau:
                area += s * (t - prev)
                prev = t
                if n > d:
                    h = d / (n * (n - d))
                    sh += h
                    sch += area * h
                    scch += area * area * h
                s *= 1.0 - d / n
            elif t > milestone:
                break
        if tau >= 0.0:
            area += s * (tau - prev)
            out[2 * a] = area
            out[2 * a + 1] = max(area * area * sh - 2.0 * area * sch + scch, 0.0)
        else:
            out[2 * a] = np.nan
            out[2 * a + 1] = np.nan
        out[4 + 2 * a] = s_ms if milestone >= 0.0 else np.nan
        out[5 + 2 * a] = gw if milestone >= 0.0 else np.nan


@kernel
def stratified_rmst(srow_time, srow_stratum, sn0, sn1, sd0, sd1, n_srows, n_strata, tau, state):
    """Inverse-variance weighted RMST difference (experimental - control) over strata; returns (diff, se, used).

    Per stratum s and arm a, ``state[s, a]`` (float64[n_strata, 2, 7] scratch) carries
    S, the last event time, the area and the three variance sums of :func:`rmst_milestone`
    and the largest number at risk seen.  Strata whose difference has zero variance (no
    events, or an arm absent) are left out; ``used`` counts the strata combined.
    """
    state[:, :, :] = 0.0
    state[:, :, 0] = 1.0
    for r in range(n_srows - 1, -1, -1):
        t = srow_time[r]
        s_ = np.int64(srow_stratum[r])
        for a in range(2):
            n = sn0[r] if a == 0 else sn1[r]
            d = sd0[r] if a == 0 else sd1[r]
            st = state[s_, a]
            if n > st[6]:
                st[6] = n
            if d == 0.0 or not t < tau:
                continue
            st[2] += st[0] * (t - st[1])
            st[1] = t
            if n > d:
                h = d / (n * (n - d))
                st[3] += h
                st[4] += st[2] * h
                st[5] += st[2] * st[2] * h
            st[0] *= 1.0 - d / n
    num = 0.0
    den = 0.0
    used = 0
    for s_ in range(n_strata):
        diff = 0.0
        var = 0.0
        ok = True
        for a in range(2):
            st = state[s_, a]
            if st[6] == 0.0:
                ok = False
            area = st[2] + st[0] * (tau - st[1])
            v = max(area * area * st[3] - 2.0 * area * st[4] + st[5], 0.0)
            diff += area if a == 1 else -area
            var += v
        if ok and var > 0.0:
            num += diff / var
            den += 1.0 / var
            used += 1
    if den > 0.0:
        return num / den, 1.0 / np.sqrt(den), used
    return np.nan, np.nan, used


@kernel
def _power_weight(x, p):
    """x ** p with the exponents the FH family uses (0, 1, 2) exact and cheap."""
    if p == 0.0:
        return 1.0
    if p == 1.0:
        return x
    if p == 2.0:
        return x * x
    return x**p


@kernel
def weighted_logrank_components(n0, n1, d0, d1, n_rows, rhos, gammas, k, u, cov):
    """FH(rho_i, gamma_i) scores u[i] = sum w_i (O1 - E1) and their covariance cov[i, j] = sum w_i w_j v.

    One backward (ascending-time) pass; w_i = S(t-)^rho_i (1 - S(t-))^gamma_i with S the pooled
    Kaplan-Meier and v the hypergeometric variance of the log-rank (as
    :func:`fleming_harrington_sums`, whose Z each component equals).  ``u`` float64[>= k],
    ``cov`` float64[>= k, >= k]; ``cov`` is symmetric on exit.
    """
    for i in range(k):
        u[i] = 0.0
        for j in range(k):
            cov[i, j] = 0.0
    w = np.empty(k)
    surv = 1.0
    for r in range(n_rows - 1, -1, -1):
        n = n0[r] + n1[r]
        d = d0[r] + d1[r]
        oe = d1[r] - d * n1[r] / n
        v = d * (n - d) * n0[r] * n1[r] / (n * n * (n - 1.0)) if n > 1.0 else 0.0
        for i in range(k):
            w[i] = _power_weight(surv, rhos[i]) * _power_weight(1.0 - surv, gammas[i])
            u[i] += w[i] * oe
        for i in range(k):
            wi = w[i] * v
            for j in range(i, k):
                cov[i, j] += wi * w[j]
        surv *= 1.0 - d / n
    for i in range(k):
        for j in range(i):
            cov[i, j] = cov[j, i]


@kernel
def modestly_weighted_sums(row_time, n0, n1, d0, d1, n_rows, t_star):
    """Magirr-Burman modestly weighted log-rank: w(t) = 1 / max(S(t-), S(t*)), S the pooled KM; (O1 - E1, V)."""
    o_minus_e = 0.0
    var = 0.0
    surv = 1.0
    cap = -1.0
    for r in range(n_rows - 1, -1, -1):
        t = row_time[r]
        if cap < 0.0 and t > t_star:
            cap = surv  # S(t*): no event in (t*, t)
        n = n0[r] + n1[r]
        d = d0[r] + d1[r]
        w = 1.0 / (surv if cap < 0.0 else cap)
        o_minus_e += w * (d1[r] - d * n1[r] / n)
        if n > 1.0:
            var += w * w * d * (n - d) * n0[r] * n1[r] / (n * n * (n - 1.0))
        surv *= 1.0 - d / n
    return o_minus_e, var
