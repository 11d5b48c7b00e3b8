"""Slow, obvious twins of the engine kernels, in plain Python loops.

Each function here restates a definition from a textbook, one patient or one
risk set at a time, with no numpy vectorisation, no sorting tricks and no
shared code with ``simtrial.engine``.  ``tests/test_naive_engine.py`` checks
that the kernels give the same numbers on tie-heavy hand-made inputs and on
seeded random ones.

Conventions (those of the engine): arm 0 = control, 1 = experimental; event
1 = event, 0 = censored; O - E and Z are for the experimental arm, so they
have the sign of log HR (experimental / control).
"""

from __future__ import annotations

import math

INF = math.inf
NAN = math.nan


# --------------------------------------------------------------------- cuts


def event_calendar_times(entry, x, event):
    """Calendar times (entry + x) of the patients whose event came before dropout, ascending."""
    times = []
    for i in range(len(entry)):
        if event[i]:
            times.append(entry[i] + x[i])
    return sorted(times)


def cut_time(entry, x, event, target_events=None, calendar_months=None):
    """Cut of one look: the k-th event calendar time or ``calendar_months``, whichever comes first.

    Returns ``(cut, target_reached)``.  A target that is never reached leaves
    the calendar time as the cut if one was given; otherwise the trial is cut
    at its last event (at 0 if there is none).
    """
    if target_events is None and calendar_months is None:
        raise ValueError("a cut needs target_events or calendar_months")
    times = event_calendar_times(entry, x, event)
    cut = INF if calendar_months is None else float(calendar_months)
    reached = True
    if target_events is not None:
        if target_events <= len(times):
            kth = times[target_events - 1]
            if kth < cut:
                cut = kth
        else:
            reached = False
            if calendar_months is None:
                cut = times[-1] if times else 0.0
    return cut, reached


def cut_data(entry, x, event, arm, cut, stratum=None):
    """The analysis data set at calendar time ``cut``.

    Enrolled: entry < cut.  Follow-up: min(x, cut - entry), written as
    ``x if entry + x <= cut else cut - entry`` so that the patient whose event
    defines the cut keeps its time ``x`` bit for bit.  The event is observed
    iff it is an event and entry + x <= cut.
    Returns lists (time, event, arm, stratum) of the enrolled patients, in input order.
    """
    times, events, arms, strata = [], [], [], []
    for i in range(len(entry)):
        if not entry[i] < cut:
            continue
        if entry[i] + x[i] <= cut:
            times.append(x[i])
            events.append(1 if event[i] else 0)
        else:
            times.append(cut - entry[i])
            events.append(0)
        arms.append(arm[i])
        strata.append(0 if stratum is None else stratum[i])
    return times, events, arms, strata


# ----------------------------------------------------------------- log-rank


def _distinct_event_times(time, event, keep):
    seen = set()
    for i in range(len(time)):
        if keep[i] and event[i]:
            seen.add(time[i])
    return sorted(seen)


def _risk_set_counts(time, event, arm, keep, t):
    """(n0, n1, d0, d1) at time t among the patients with keep[i]."""
    n = [0, 0]
    d = [0, 0]
    for i in range(len(time)):
        if not keep[i]:
            continue
        if time[i] >= t:
            n[arm[i]] += 1
            if time[i] == t and event[i]:
                d[arm[i]] += 1
    return n[0], n[1], d[0], d[1]


def kaplan_meier_curve(time, event, keep=None):
    """[(t, S(t))] at each distinct event time of the patients with keep[i] (all if None)."""
    if keep is None:
        keep = [True] * len(time)
    curve = []
    s = 1.0
    for t in _distinct_event_times(time, event, keep):
        at_risk = 0
        deaths = 0
        for i in range(len(time)):
            if keep[i] and time[i] >= t:
                at_risk += 1
                if time[i] == t and event[i]:
                    deaths += 1
        s = s * (1.0 - deaths / at_risk)
        curve.append((t, s))
    return curve


def logrank(time, event, arm, stratum=None, rho=0.0, gamma=0.0):
    """Returns (O1 - E1, V) summed over strata, with Fleming-Harrington weights.

    At each distinct event time t of a stratum, with n_a at risk (time >= t)
    and d_a events in arm a, n = n0 + n1, d = d0 + d1:
        O1 - E1 += w (d1 - d n1 / n)
        V       += w^2 d (n - d) n0 n1 / (n^2 (n - 1))      (hypergeometric; 0 if n = 1)
    w = S(t-)^rho (1 - S(t-))^gamma with S the Kaplan-Meier curve of the
    stratum's pooled arms (rho = gamma = 0: w = 1, the plain log-rank).
    """
    if stratum is None:
        stratum = [0] * len(time)
    o_minus_e = 0.0
    var = 0.0
    for s in sorted(set(stratum)):
        keep = [stratum[i] == s for i in range(len(time))]
        km = kaplan_meier_curve(time, event, keep)
        s_before = 1.0
        for t, s_after in km:
            n0, n1, d0, d1 = _risk_set_counts(time, event, arm, keep, t)
            n = n0 + n1
            d = d0 + d1
            w = 1.0
            if rho != 0.0:
                w = w * s_before**rho
            if gamma != 0.0:
                w = w * (1.0 - s_before) ** gamma
            o_minus_e += w * (d1 - d * n1 / n)
            if n > 1:
                var += w * w * d * (n - d) * n0 * n1 / (n * n * (n - 1.0))
            s_before = s_after
    return o_minus_e, var


def logrank_z(time, event, arm, stratum=None, rho=0.0, gamma=0.0):
    o_minus_e, var = logrank(time, event, arm, stratum, rho, gamma)
    return o_minus_e / math.sqrt(var) if var > 0.0 else NAN


# ------------------------------------------------------------ Kaplan-Meier


def kaplan_meier(time, event, arm, which_arm, landmarks=()):
    """Median (first t with S(t) <= 0.5, +inf if never) and S(t) at each landmark for one arm.

    S is right-continuous: S(t) includes the events at t.  NaN if the arm has no patients.
    """
    keep = [arm[i] == which_arm for i in range(len(time))]
    if not any(keep):
        return NAN, [NAN for _ in landmarks]
    curve = kaplan_meier_curve(time, event, keep)
    median = INF
    for t, s in curve:
        if s <= 0.5:
            median = t
            break
    at = []
    for lm in landmarks:
        s_lm = 1.0
        for t, s in curve:
            if t <= lm:
                s_lm = s
        at.append(s_lm)
    return median, at


# --------------------------------------------------------------------- Cox


def _efron_terms(time, event, arm, stratum, beta):
    """Efron log partial likelihood, score and information, one patient at a time.

    For each stratum and distinct event time t with death set D (size d) and
    risk set R (time >= t), with r_i = exp(beta x_i):
        loglik += sum_{i in D} beta x_i - sum_{l<d} log(S0_R - l/d S0_D)
        mean_l  = (S1_R - l/d S1_D) / (S0_R - l/d S0_D)
        score  += sum_{i in D} x_i - sum_l mean_l
        info   += sum_l mean_l (1 - mean_l)        (x binary: x^2 = x)
    with S0 = sum r_i and S1 = sum x_i r_i over the set.
    """
    loglik = 0.0
    score = 0.0
    info = 0.0
    for s in sorted(set(stratum)):
        keep = [stratum[i] == s for i in range(len(time))]
        for t in _distinct_event_times(time, event, keep):
            s0_r = s1_r = s0_d = s1_d = 0.0
            deaths = 0
            x_deaths = 0.0
            for i in range(len(time)):
                if not keep[i] or time[i] < t:
                    continue
                r = math.exp(beta * arm[i])
                s0_r += r
                s1_r += arm[i] * r
                if time[i] == t and event[i]:
                    s0_d += r
                    s1_d += arm[i] * r
                    deaths += 1
                    x_deaths += arm[i]
            loglik += beta * x_deaths
            # one time's score term whole: x_deaths - sum(mean), so a term that is
            # exactly 0 (only one arm at risk) stays 0 beside a tiny one
            expected = 0.0
            for ell in range(deaths):
                frac = ell / deaths
                denom = s0_r - frac * s0_d
                mean = (s1_r - frac * s1_d) / denom
                loglik -= math.log(denom)
                expected += mean
                info += mean * (1.0 - mean)
            score += x_deaths - expected
    return loglik, score, info


def cox_efron(time, event, arm, stratum=None, tol=1e-12, max_iter=100):
    """Cox log HR (experimental / control) and SE, Efron ties; Newton with step halving.

    NaN, NaN if an arm has no events or Newton does not converge (the MLE is at infinity).
    """
    if stratum is None:
        stratum = [0] * len(time)
    events = [0, 0]
    for i in range(len(time)):
        if event[i]:
            events[arm[i]] += 1
    if events[0] == 0 or events[1] == 0:
        return NAN, NAN
    beta = 0.0
    loglik, score, info = _efron_terms(time, event, arm, stratum, beta)
    for _ in range(max_iter):
        if not info > 0.0:
            return NAN, NAN  # no risk set holds both arms: nothing to estimate
        step = score / info
        if abs(step) < tol:  # the Newton step, before any halving, is negligible
            beta = beta + step
            loglik, score, info = _efron_terms(time, event, arm, stratum, beta)
            return beta, 1.0 / math.sqrt(info)
        new_beta = beta + step
        new = _efron_terms(time, event, arm, stratum, new_beta)
        halvings = 0
        while new[0] < loglik - 1e-12 and halvings < 60:
            step = step / 2.0
            new_beta = beta + step
            new = _efron_terms(time, event, arm, stratum, new_beta)
            halvings += 1
        beta = new_beta
        loglik, score, info = new
    return NAN, NAN  # no convergence: the estimate runs off to infinity


# ---------------------------------------------------------------- analysis


def analyze(time, event, arm, stratum=None, rho=0.0, gamma=0.0, landmarks=()):
    """The engine's FIELDS (and landmark columns) computed from the definitions above."""
    n_pat = [0, 0]
    n_ev = [0, 0]
    for i in range(len(time)):
        n_pat[arm[i]] += 1
        if event[i]:
            n_ev[arm[i]] += 1
    o_minus_e, var = logrank(time, event, arm)
    z = o_minus_e / math.sqrt(var) if var > 0.0 else NAN
    strat = stratum if stratum is not None else [0] * len(time)
    s_oe, s_var = logrank(time, event, arm, strat)
    log_hr, se = cox_efron(time, event, arm)
    s_log_hr, s_se = cox_efron(time, event, arm, strat)
    med0, lm0 = kaplan_meier(time, event, arm, 0, landmarks)
    med1, lm1 = kaplan_meier(time, event, arm, 1, landmarks)
    out = {
        "events_control": float(n_ev[0]),
        "events_experimental": float(n_ev[1]),
        "patients_control": float(n_pat[0]),
        "patients_experimental": float(n_pat[1]),
        "logrank_o_minus_e": o_minus_e,
        "logrank_information": var,
        "logrank_z": z,
        "stratified_logrank_z": s_oe / math.sqrt(s_var) if s_var > 0.0 else NAN,
        "stratified_logrank_information": s_var,
        "fh_z": logrank_z(time, event, arm, None, rho, gamma),
        "log_hr": log_hr,
        "log_hr_se": se,
        "stratified_log_hr": s_log_hr,
        "stratified_log_hr_se": s_se,
        "median_control_months": med0,
        "median_experimental_months": med1,
    }
    for j, t in enumerate(landmarks):
        label = f"{float(t):g}"
        out[f"survival_control_at_{label}_months"] = lm0[j]
        out[f"survival_experimental_at_{label}_months"] = lm1[j]
    return out
