"""The engine's statistics on data you already have (one trial): checked wrapper + kernel.

Used by the designs for single data sets and by the tests, which compare it
with lifelines and R on the same data.  It runs exactly the code a simulated
trial runs after its cut: sort, stream, event tables, statistics.
"""

from __future__ import annotations

import numpy as np

from simtrial.engine import layout
from simtrial.engine._jit import kernel
from simtrial.engine.cohort import pack_code
from simtrial.engine.sort import cosort
from simtrial.engine.statistics import weighted_logrank_components
from simtrial.engine.statistics_registry import ALL_NPH_STATISTICS, ALL_STATISTICS
from simtrial.engine.tables import event_tables
from simtrial.engine.trial import analyze_stream


@kernel
def _analyze_data(
    time, event, arm, stratum, n_strata, fh_rho, fh_gamma, landmarks, out,
    nph_requested, rmst_tau, milestone_t, mc_rho, mc_gamma, mwlr_t_star, comp_u, comp_cov,
):
    n = time.shape[0]
    keys = time.copy()
    codes = np.empty(n, dtype=np.int64)
    for i in range(n):
        codes[i] = pack_code(stratum[i], arm[i], event[i])
    cosort(keys, codes, n)
    n_codes = 4 * n_strata
    code_in_pop = np.ones(n_codes, dtype=np.bool_)
    code_stratum = np.empty(n_codes, dtype=np.int64)
    for c in range(n_codes):
        code_stratum[c] = c >> 2
    scratch_f = np.empty((9, max(n, 1) * n_strata), dtype=np.float64)
    scratch_i = np.zeros(5 * n_strata + 2, dtype=np.int64)
    scratch_s = np.empty((2, max(n, 1) * n_strata), dtype=np.float64)
    k = mc_rho.shape[0]
    flags = analyze_stream(
        keys, codes, n, code_in_pop, code_stratum, n_strata, fh_rho, fh_gamma, landmarks, ALL_STATISTICS,
        scratch_f, scratch_i, out,
        nph_requested, rmst_tau, milestone_t, mc_rho, mc_gamma, mwlr_t_star,
        scratch_s, np.empty((n_strata, 2, 7)), np.empty(max(k, 1)), np.empty((max(k, 1), max(k, 1))), np.empty(8),
    )
    if k > 0:
        # the MaxCombo components themselves (scores and covariance), from the pooled tables again
        at_risk = scratch_i[: 2 * n_strata].reshape((n_strata, 2))
        deaths = scratch_i[2 * n_strata : 4 * n_strata].reshape((n_strata, 2))
        touched = scratch_i[4 * n_strata : 5 * n_strata]
        patients = scratch_i[5 * n_strata : 5 * n_strata + 2]
        n_rows, _, _, _ = event_tables(
            keys, codes, n, code_in_pop, code_stratum, False, at_risk, deaths, touched,
            scratch_f[0], scratch_f[1], scratch_f[2], scratch_f[3], scratch_f[4],
            scratch_f[5], scratch_f[6], scratch_f[7], scratch_f[8], patients, scratch_s[0], scratch_s[1],
        )
        weighted_logrank_components(
            scratch_f[1], scratch_f[2], scratch_f[3], scratch_f[4], n_rows, mc_rho, mc_gamma, k, comp_u, comp_cov,
        )
    return flags


def analyze_two_arm(
    time_months,
    event,
    arm,
    stratum=None,
    *,
    fh_rho: float = 0.0,
    fh_gamma: float = 0.0,
    landmark_months=(),
    rmst_tau_months: float | None = None,
    milestone_months: float | None = None,
    maxcombo=None,
    mwlr_t_star_months: float | None = None,
) -> dict[str, float]:
    """Log-rank (plain, stratified, Fleming-Harrington), Cox and Kaplan-Meier statistics of one data set.

    ``arm``: 0 control, 1 experimental.  ``event``: 1 event, 0 censored.
    ``stratum``: integers 0..k-1 (optional).  Returns the engine's FIELDS plus
    landmark columns and ``flags``; with any of ``rmst_tau_months``, ``milestone_months``,
    ``maxcombo`` (a sequence of (rho, gamma)) or ``mwlr_t_star_months`` also the NPH_FIELDS
    (NaN for the ones not asked for) and, for MaxCombo, ``maxcombo_component_z`` and
    ``maxcombo_correlation`` (lists).  Sign convention: Z and log HR are
    experimental versus control, negative favouring experimental.
    """
    try:
        t = np.asarray(time_months, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("time_months must be numbers (months)") from None
    e = np.asarray(event)
    a = np.asarray(arm)
    n = t.shape[0] if t.ndim == 1 else -1
    if t.ndim != 1 or e.shape != (n,) or a.shape != (n,):
        raise ValueError("time_months, event and arm must be 1-D arrays of equal length")
    if not (np.isfinite(t).all() and (t >= 0).all()):
        raise ValueError("time_months must be finite and >= 0")
    if not np.isin(e, (0, 1)).all():
        raise ValueError("event must hold 0 (censored) or 1 (event) only")
    if not np.isin(a, (0, 1)).all():
        raise ValueError("arm must hold 0 (control) or 1 (experimental) only")
    if stratum is None:
        s = np.zeros(n, dtype=np.int64)
    else:
        s = np.asarray(stratum)
        if s.shape != (n,) or (n and (s.min() < 0 or not np.issubdtype(s.dtype, np.integer))):
            raise ValueError("stratum must be non-negative integers, one per patient")
    n_strata = int(s.max()) + 1 if n else 1
    for name, value in (("fh_rho", fh_rho), ("fh_gamma", fh_gamma)):
        if not (np.isfinite(value) and value >= 0.0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    lm = np.sort(np.asarray(landmark_months, dtype=np.float64).ravel())
    if not (np.isfinite(lm).all() and (lm >= 0).all()):
        raise ValueError(f"landmark_months must be finite and >= 0, got {list(landmark_months)!r}")
    from simtrial.engine import statistics_registry as R
    from simtrial.engine.records import MAX_MAXCOMBO

    nph = 0
    times = {}
    for name, value, bit in (("rmst_tau_months", rmst_tau_months, R.NPH_RMST),
                             ("milestone_months", milestone_months, R.NPH_MILESTONE),
                             ("mwlr_t_star_months", mwlr_t_star_months, R.NPH_MODESTLY_WEIGHTED)):
        if value is None:
            times[name] = -1.0
            continue
        v = float(value)
        if not (np.isfinite(v) and v > 0.0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        times[name] = v
        nph |= bit
    comps = np.zeros((0, 2))
    if maxcombo is not None:
        comps = np.array([(float(r), float(g)) for r, g in maxcombo], dtype=np.float64).reshape(-1, 2)
        if not 1 <= comps.shape[0] <= MAX_MAXCOMBO or not (np.isfinite(comps).all() and (comps >= 0).all()):
            raise ValueError(f"maxcombo: 1 to {MAX_MAXCOMBO} components (rho >= 0, gamma >= 0), got {maxcombo!r}")
        nph |= R.NPH_MAXCOMBO
    assert nph & ~ALL_NPH_STATISTICS == 0
    k = comps.shape[0]
    out = np.empty(layout.n_columns(lm.shape[0], nph != 0))
    comp_u = np.zeros(max(k, 1))
    comp_cov = np.zeros((max(k, 1), max(k, 1)))
    flags = _analyze_data(
        t, e.astype(np.int64), a.astype(np.int64), s.astype(np.int64), n_strata,
        float(fh_rho), float(fh_gamma), lm, out,
        nph, times["rmst_tau_months"], times["milestone_months"],
        np.ascontiguousarray(comps[:, 0]), np.ascontiguousarray(comps[:, 1]), times["mwlr_t_star_months"],
        comp_u, comp_cov,
    )
    names = layout.FIELDS + layout.landmark_fields(lm) + (layout.NPH_FIELDS if nph else ())
    result = {name: float(v) for name, v in zip(names, out, strict=True)}
    result["flags"] = int(flags)
    if k:
        var = np.diag(comp_cov[:k, :k])
        with np.errstate(divide="ignore", invalid="ignore"):
            result["maxcombo_component_z"] = (comp_u[:k] / np.sqrt(var)).tolist()
            result["maxcombo_correlation"] = (comp_cov[:k, :k] / np.sqrt(np.outer(var, var))).tolist()
    return result
