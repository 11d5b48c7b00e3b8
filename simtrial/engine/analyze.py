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
from simtrial.engine.statistics_registry import ALL_STATISTICS
from simtrial.engine.trial import analyze_stream


@kernel
def _analyze_data(time, event, arm, stratum, n_strata, fh_rho, fh_gamma, landmarks, out):
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
    return analyze_stream(
        keys, codes, n, code_in_pop, code_stratum, n_strata, fh_rho, fh_gamma, landmarks, ALL_STATISTICS,
        scratch_f, scratch_i, out,
    )


def analyze_two_arm(
    time_months,
    event,
    arm,
    stratum=None,
    *,
    fh_rho: float = 0.0,
    fh_gamma: float = 0.0,
    landmark_months=(),
) -> dict[str, float]:
    """Log-rank (plain, stratified, Fleming-Harrington), Cox and Kaplan-Meier statistics of one data set.

    ``arm``: 0 control, 1 experimental.  ``event``: 1 event, 0 censored.
    ``stratum``: integers 0..k-1 (optional).  Returns the engine's FIELDS plus
    landmark columns and ``flags``.  Sign convention: Z and log HR are
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
    out = np.empty(layout.n_fields(lm.shape[0]))
    flags = _analyze_data(
        t, e.astype(np.int64), a.astype(np.int64), s.astype(np.int64), n_strata,
        float(fh_rho), float(fh_gamma), lm, out,
    )
    names = layout.FIELDS + layout.landmark_fields(lm)
    result = {name: float(v) for name, v in zip(names, out, strict=True)}
    result["flags"] = int(flags)
    return result
