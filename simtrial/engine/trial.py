"""One simulated trial, serially: generate -> cut -> sort -> for each look: stream -> tables -> statistics.

Kept separate from the parallel driver so it can be tested and profiled alone.
"""

from __future__ import annotations

import numpy as np

from simtrial.engine import layout as L
from simtrial.engine import statistics_registry as R
from simtrial.engine._jit import inlined_kernel, kernel
from simtrial.engine.cohort import PAIR_STRIDE, generate_cohort
from simtrial.engine.cut import (
    cut_stream,
    event_calendar_times_and_range,
    followed_to_cut,
    gather_sorted,
    look_cut_floors,
    look_cut_times_in_range,
)
from simtrial.engine.gs_scores import look_scores
from simtrial.engine.mvn import mvn_cdf
from simtrial.engine.records import allocate_scratch
from simtrial.engine.rng import seed_stream
from simtrial.engine.sort import radix_cosort
from simtrial.engine.statistics import (
    cox_fit,
    fleming_harrington_sums,
    kaplan_meier,
    logrank_sums,
    modestly_weighted_sums,
    rmst_milestone,
    stratified_rmst,
    weighted_logrank_components,
    z_from_sums,
)
from simtrial.engine.tables import event_tables


@kernel
def analyze_stream(
    stream_time,
    stream_code,
    m,
    code_in_pop,
    code_stratum,
    n_strata,
    fh_rho,
    fh_gamma,
    landmarks,
    requested,
    scratch_f,
    scratch_i,
    out,
    nph_requested,
    rmst_tau,
    milestone_t,
    mc_rho,
    mc_gamma,
    mwlr_t_star,
    scratch_s,
    nph_state,
    nph_u,
    nph_cov,
    nph_out,
):
    """The ``requested`` statistics of one population at one look into ``out`` (FIELDS layout); returns flags.

    ``requested`` is a bit mask of the STAT_* codes of
    ``simtrial.engine.statistics_registry``; the fields of the statistics not
    requested are NaN, events and patients per arm are always filled.  A flag
    is set only by what was computed (the log-rank sums, which start the Cox
    fit, also set ``FLAG_LOGRANK_UNDEFINED``).  Without stratification
    (``n_strata == 1``), or for a population within one stratum, the
    stratified statistics are the pooled ones.

    ``scratch_f`` is float64[9, n * n_strata] (pooled and stratified tables),
    ``scratch_i`` int64[5 * n_strata + 2] (at-risk and death counts per
    stratum and arm, touched strata, patients per arm).

    ``nph_requested`` (NPH_* bits) asks for the non-proportional-hazards statistics, written
    to ``out[n_fields(n_landmarks) + NPH field]`` (``out`` is then that much longer); their
    parameters and scratch follow it (``scratch_s`` float64[2, n * n_strata]: stratified rows'
    time and stratum; ``nph_state`` [n_strata, 2, 7], ``nph_u`` [K], ``nph_cov`` [K, K],
    ``nph_out`` [8]).  With ``nph_requested == 0`` nothing of it is read or written.
    """
    at_risk = scratch_i[: 2 * n_strata].reshape((n_strata, 2))
    stratum_deaths = scratch_i[2 * n_strata : 4 * n_strata].reshape((n_strata, 2))
    touched = scratch_i[4 * n_strata : 5 * n_strata]
    patients = scratch_i[5 * n_strata : 5 * n_strata + 2]
    row_time = scratch_f[0]
    n0 = scratch_f[1]
    n1 = scratch_f[2]
    d0 = scratch_f[3]
    d1 = scratch_f[4]
    sn0 = scratch_f[5]
    sn1 = scratch_f[6]
    sd0 = scratch_f[7]
    sd1 = scratch_f[8]
    want_logrank = (requested & R.STAT_LOGRANK) != 0
    want_fh = (requested & R.STAT_FH) != 0
    want_cox = (requested & R.STAT_COX) != 0
    want_stratified = (requested & R.STAT_STRATIFIED) != 0
    want_km = (requested & R.STAT_KM) != 0
    fh_is_logrank = fh_rho == 0.0 and fh_gamma == 0.0
    # a population within one stratum (a subgroup that is a stratum) has stratified tables equal to its
    # pooled ones, row for row: its stratified statistics are the pooled ones, computed once
    stratified = want_stratified and n_strata > 1 and not within_one_stratum(code_in_pop, code_stratum)
    pooled_as_stratified = want_stratified and not stratified
    need_cox = want_cox or pooled_as_stratified
    need_sums = want_logrank or need_cox or (want_fh and fh_is_logrank)

    want_rmst = (nph_requested & R.NPH_RMST) != 0
    build_strata = stratified or (want_rmst and n_strata > 1)
    n_rows, n_srows, events0, events1 = event_tables(
        stream_time, stream_code, m, code_in_pop, code_stratum, build_strata,
        at_risk, stratum_deaths, touched, row_time, n0, n1, d0, d1, sn0, sn1, sd0, sd1, patients,
        scratch_s[0], scratch_s[1],
    )
    flags = 0
    out[L.EVENTS_CONTROL] = events0
    out[L.EVENTS_EXPERIMENTAL] = events1
    out[L.PATIENTS_CONTROL] = patients[0]
    out[L.PATIENTS_EXPERIMENTAL] = patients[1]
    if patients[0] == 0 or patients[1] == 0:
        flags |= L.FLAG_ARM_WITHOUT_PATIENTS

    o_minus_e = np.nan
    var = np.nan
    z = np.nan
    if need_sums:
        o_minus_e, var = logrank_sums(n0, n1, d0, d1, n_rows)
        z = z_from_sums(o_minus_e, var)
        if not var > 0.0:
            flags |= L.FLAG_LOGRANK_UNDEFINED
    if want_logrank:
        out[L.LOGRANK_O_MINUS_E] = o_minus_e
        out[L.LOGRANK_INFORMATION] = var
        out[L.LOGRANK_Z] = z
    else:
        out[L.LOGRANK_O_MINUS_E] = np.nan
        out[L.LOGRANK_INFORMATION] = np.nan
        out[L.LOGRANK_Z] = np.nan

    if not want_fh:
        out[L.FH_Z] = np.nan
    elif fh_is_logrank:
        out[L.FH_Z] = z
    else:
        fh_oe, fh_var = fleming_harrington_sums(n0, n1, d0, d1, n_rows, fh_rho, fh_gamma)
        out[L.FH_Z] = z_from_sums(fh_oe, fh_var)

    beta = np.nan
    se = np.nan
    ok = True
    if need_cox:
        # the log-rank one-step estimate (O - E) / V starts Newton next to the MLE
        start = o_minus_e / var if var > 0.0 else 0.0
        beta, se, ok = cox_fit(n0, n1, d0, d1, n_rows, start, events0, events1)
    if want_cox:
        if not ok:
            flags |= L.FLAG_COX_NOT_ESTIMABLE
        out[L.LOG_HR] = beta
        out[L.LOG_HR_SE] = se
    else:
        out[L.LOG_HR] = np.nan
        out[L.LOG_HR_SE] = np.nan

    if stratified:
        s_oe, s_var = logrank_sums(sn0, sn1, sd0, sd1, n_srows)
        if not s_var > 0.0:
            flags |= L.FLAG_STRATIFIED_LOGRANK_UNDEFINED
        out[L.STRATIFIED_LOGRANK_Z] = z_from_sums(s_oe, s_var)
        out[L.STRATIFIED_LOGRANK_INFORMATION] = s_var
        s_start = s_oe / s_var if s_var > 0.0 else 0.0
        s_beta, s_se, s_ok = cox_fit(sn0, sn1, sd0, sd1, n_srows, s_start, events0, events1)
        if not s_ok:
            flags |= L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE
        out[L.STRATIFIED_LOG_HR] = s_beta
        out[L.STRATIFIED_LOG_HR_SE] = s_se
    elif pooled_as_stratified:
        out[L.STRATIFIED_LOGRANK_Z] = z
        out[L.STRATIFIED_LOGRANK_INFORMATION] = var
        out[L.STRATIFIED_LOG_HR] = beta
        out[L.STRATIFIED_LOG_HR_SE] = se
        if not ok:
            flags |= L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE
        if not var > 0.0:
            flags |= L.FLAG_STRATIFIED_LOGRANK_UNDEFINED
    else:
        out[L.STRATIFIED_LOGRANK_Z] = np.nan
        out[L.STRATIFIED_LOGRANK_INFORMATION] = np.nan
        out[L.STRATIFIED_LOG_HR] = np.nan
        out[L.STRATIFIED_LOG_HR_SE] = np.nan

    n_lm = landmarks.shape[0]
    lm_control = out[L.N_FIXED_FIELDS : L.N_FIXED_FIELDS + 2 * n_lm : 2]
    lm_experimental = out[L.N_FIXED_FIELDS + 1 : L.N_FIXED_FIELDS + 2 * n_lm : 2]
    if want_km:
        med0, med1 = kaplan_meier(row_time, n0, n1, d0, d1, n_rows, landmarks, lm_control, lm_experimental)
        out[L.MEDIAN_CONTROL] = med0
        out[L.MEDIAN_EXPERIMENTAL] = med1
    if patients[0] == 0 or not want_km:
        out[L.MEDIAN_CONTROL] = np.nan
        lm_control[:] = np.nan
    if patients[1] == 0 or not want_km:
        out[L.MEDIAN_EXPERIMENTAL] = np.nan
        lm_experimental[:] = np.nan
    if nph_requested != 0:
        last_time = stream_time[m - 1] if m > 0 else 0.0
        flags |= nph_statistics(
            row_time, n0, n1, d0, d1, n_rows, scratch_s[0], scratch_s[1], sn0, sn1, sd0, sd1, n_srows, n_strata,
            last_time, nph_requested, rmst_tau, milestone_t, mc_rho, mc_gamma, mwlr_t_star,
            nph_state, nph_u, nph_cov, nph_out, out[L.N_FIXED_FIELDS + 2 * n_lm :],
        )
    return flags


@kernel
def within_one_stratum(code_in_pop, code_stratum):
    """Do all the packed codes of the population lie in one analysis stratum?"""
    first = -1
    for code in range(code_in_pop.shape[0]):
        if code_in_pop[code]:
            if first < 0:
                first = code_stratum[code]
            elif code_stratum[code] != first:
                return False
    return True


@kernel
def nph_statistics(
    row_time, n0, n1, d0, d1, n_rows, srow_time, srow_stratum, sn0, sn1, sd0, sd1, n_srows, n_strata,
    last_time, nph_requested, rmst_tau, milestone_t, mc_rho, mc_gamma, mwlr_t_star,
    nph_state, nph_u, nph_cov, nph_out, out,
):
    """The requested NPH statistics into ``out`` (NPH_FIELDS layout, NaN where not requested); returns flags."""
    flags = 0
    for f in range(L.N_NPH_FIELDS):
        out[f] = np.nan
    want_rmst = (nph_requested & R.NPH_RMST) != 0
    want_ms = (nph_requested & R.NPH_MILESTONE) != 0
    if want_rmst or want_ms:
        rmst_milestone(
            row_time, n0, n1, d0, d1, n_rows, rmst_tau if want_rmst else -1.0, milestone_t if want_ms else -1.0,
            nph_out,
        )
    if want_rmst:
        r0 = nph_out[0]
        r1 = nph_out[2]
        var = nph_out[1] + nph_out[3]
        out[L.RMST_CONTROL] = r0
        out[L.RMST_EXPERIMENTAL] = r1
        out[L.RMST_DIFFERENCE] = r1 - r0
        if rmst_tau > last_time:
            flags |= L.FLAG_RMST_TAU_BEYOND_FOLLOW_UP
        if var > 0.0:
            out[L.RMST_DIFFERENCE_SE] = np.sqrt(var)
            out[L.RMST_Z] = (r0 - r1) / np.sqrt(var)
        else:
            flags |= L.FLAG_RMST_UNDEFINED
        if n_strata > 1:
            diff, se, used = stratified_rmst(
                srow_time, srow_stratum, sn0, sn1, sd0, sd1, n_srows, n_strata, rmst_tau, nph_state,
            )
            out[L.STRATIFIED_RMST_DIFFERENCE] = diff
            out[L.STRATIFIED_RMST_DIFFERENCE_SE] = se
            out[L.STRATIFIED_RMST_Z] = -diff / se if se > 0.0 else np.nan
            if not se > 0.0:
                flags |= L.FLAG_RMST_UNDEFINED
        else:
            out[L.STRATIFIED_RMST_DIFFERENCE] = out[L.RMST_DIFFERENCE]
            out[L.STRATIFIED_RMST_DIFFERENCE_SE] = out[L.RMST_DIFFERENCE_SE]
            out[L.STRATIFIED_RMST_Z] = out[L.RMST_Z]
    if want_ms:
        s0 = nph_out[4]
        s1 = nph_out[6]
        g0 = nph_out[5]
        g1 = nph_out[7]
        out[L.MILESTONE_CONTROL] = s0
        out[L.MILESTONE_EXPERIMENTAL] = s1
        var = s0 * s0 * g0 + s1 * s1 * g1
        ok = np.isfinite(var) and var > 0.0
        if ok:
            out[L.MILESTONE_Z] = (s0 - s1) / np.sqrt(var)
        inner = 0.0 < s0 < 1.0 and 0.0 < s1 < 1.0 and np.isfinite(g0) and np.isfinite(g1)
        if inner:
            l0 = np.log(s0)
            l1 = np.log(s1)
            vc = g0 / (l0 * l0) + g1 / (l1 * l1)
            out[L.MILESTONE_CLOGLOG_Z] = (np.log(-l1) - np.log(-l0)) / np.sqrt(vc)
        if not (ok and inner):
            flags |= L.FLAG_MILESTONE_UNDEFINED
    if (nph_requested & R.NPH_MAXCOMBO) != 0:
        k = min(mc_rho.shape[0], nph_u.shape[0])
        weighted_logrank_components(n0, n1, d0, d1, n_rows, mc_rho, mc_gamma, k, nph_u, nph_cov)
        zmin = np.inf
        ok = True
        for i in range(k):
            if not nph_cov[i, i] > 0.0:
                ok = False
                break
            z = nph_u[i] / np.sqrt(nph_cov[i, i])
            if z < zmin:
                zmin = z
        if ok:
            for i in range(k):
                for j in range(k):
                    if i != j:
                        nph_cov[i, j] = nph_cov[i, j] / np.sqrt(nph_cov[i, i] * nph_cov[j, j])
            for i in range(k):
                nph_cov[i, i] = 1.0
                nph_u[i] = -zmin
            out[L.MAXCOMBO_Z] = zmin
            out[L.MAXCOMBO_P] = 1.0 - mvn_cdf(nph_u, nph_cov, k)
        else:
            flags |= L.FLAG_MAXCOMBO_UNDEFINED
    if (nph_requested & R.NPH_MODESTLY_WEIGHTED) != 0:
        oe, var = modestly_weighted_sums(row_time, n0, n1, d0, d1, n_rows, mwlr_t_star)
        out[L.MODESTLY_WEIGHTED_Z] = z_from_sums(oe, var)
        if not var > 0.0:
            flags |= L.FLAG_MODESTLY_WEIGHTED_UNDEFINED
    return flags


@kernel
def _assessed_possible(cohort, c):
    """Can a patient of this cohort be assessed in category ``c``?"""
    if cohort.fixed_assessed.shape[0] > 0:
        return cohort.fixed_assessed[c] > 0
    pair_cum = cohort.pair_cum
    for t in range(cohort.n_categories):
        j = t * PAIR_STRIDE + c
        below = pair_cum[j - 1] if j > 0 else 0.0
        if pair_cum[j] > below:
            return True
    return False


@kernel
def same_population(cohort, code_in_pop, p):
    """The first population q < p holding the same patients as population p in every trial of ``cohort``, or -1.

    Two populations hold the same patients when they agree on every packed code a
    patient can have (``code_in_pop`` may differ on codes of categories nobody is
    assessed in); their statistics are then equal, so they are computed once.
    """
    for q in range(p):
        same = True
        for c in range(cohort.n_categories):
            if not _assessed_possible(cohort, c):
                continue
            for code in range(4 * c, 4 * c + 4):
                if code_in_pop[p, code] != code_in_pop[q, code]:
                    same = False
        if same:
            return q
    return -1


@kernel
def population_aliases(cohort, code_in_pop, out):
    """``out[p]`` = :func:`same_population` of each population: a property of the cohort, found once per block.

    (Per look and population it cost ~1.2 us, more than a tenth of the flagship's statistics.)
    """
    for p in range(code_in_pop.shape[0]):
        out[p] = same_population(cohort, code_in_pop, p)


#: the stages of one trial, in the order they run (``last_stage`` of :func:`simulate_trial` is an index into it)
STAGES = ("generation", "cut", "sort", "stream", "statistics")
ALL_STAGES = len(STAGES) - 1


@inlined_kernel
def simulate_trial(
    cohort, looks, analysis, scratch, alias, out_stats, out_cut, out_enrolled, out_flags, last_stage,
):
    """Simulate one trial (its stream already seeded in ``scratch.rng_state``) and fill its output rows.

    ``cohort``, ``looks``, ``analysis`` and ``scratch`` are the records of
    ``simtrial.engine.records``; ``alias`` the cohort's :func:`population_aliases`.
    out_stats[look, population, field], out_cut[look], out_enrolled[look], out_flags[look, population].

    ``last_stage`` (``ALL_STAGES`` for a real run) stops after that stage of
    ``STAGES``, leaving later outputs unwritten: the benchmark's per-stage profile
    times runs stopped after each stage and takes differences.
    """
    n = cohort.n_patients
    entry = scratch.entry
    x = scratch.x
    pcode = scratch.pcode
    sorted_x = scratch.sorted_x
    sorted_index = scratch.sorted_index
    stream_time = scratch.stream_time
    stream_code = scratch.stream_code
    piece_time = scratch.piece_time
    piece_code = scratch.piece_code
    code_in_pop = analysis.code_in_pop

    generate_cohort(cohort, scratch)
    if last_stage < 1:
        return

    # the cuts first: they need only the calendar event times (a selection, not a sort)
    n_events, lo, hi = event_calendar_times_and_range(entry, x, pcode, n, scratch.calendar)
    # the sort's bucket counts and the stream buffer are free until the sort and the stream
    look_cut_times_in_range(
        scratch.calendar, n_events, lo, hi, looks.target_events, looks.calendar_months, out_cut, scratch.look_flags,
        scratch.sort_counts, stream_time,
    )
    # the floors of the cut rules (entry is sorted: the last patient entered at entry[n - 1])
    look_cut_floors(
        entry[n - 1], looks.calendar_months, looks.target_events, looks.min_months_after_previous_look,
        looks.min_followup_after_last_entry_months, out_cut, scratch.look_flags,
    )
    if last_stage < 2:
        return

    # then only the patients whose follow-up ends by the latest cut need ordering by x (every
    # other patient is censored at cut - entry, ordered by entry): about 40% of them on the
    # reference design.  ``calendar`` and ``assessed`` are free now: they hold their x and index.
    n_looks = looks.target_events.shape[0]
    last_cut = -np.inf
    for look in range(n_looks):
        last_cut = max(last_cut, out_cut[look])
    n_sorted = followed_to_cut(entry, x, n, last_cut, scratch.calendar, scratch.assessed)
    radix_cosort(
        scratch.calendar, scratch.assessed, n_sorted, sorted_x, sorted_index, scratch.sort_bucket, scratch.sort_counts,
    )
    # the sort's inputs are free again: they take the sorted patients' entry and code
    sorted_entry = scratch.calendar
    sorted_code = scratch.assessed
    gather_sorted(entry, pcode, sorted_index, n_sorted, sorted_entry, sorted_code)
    if last_stage < 3:
        return

    n_pop = code_in_pop.shape[0]
    # group-sequential weighted scores: each look's event rows are kept for the later looks' covariances
    n_gs = analysis.gs_components.shape[0]
    gs_offset = out_stats.shape[2] - (n_gs + n_looks * n_gs * n_gs)  # layout.gs_width
    gs_store = np.empty((n_looks if n_gs > 0 else 0, n_pop, 6, n))
    gs_rows = np.zeros((n_looks, n_pop), dtype=np.int64)
    gs_cap = np.zeros((n_looks, n_pop))
    gs_i = np.zeros(8, dtype=np.int64)
    gs_w = np.empty((2, max(n_gs, 1)))
    for look in range(n_looks):
        cut = out_cut[look]
        m = cut_stream(
            entry, x, pcode, sorted_x, sorted_entry, sorted_code, n_sorted, n, cut, stream_time, stream_code,
            piece_time[0], piece_code[0], piece_time[1], piece_code[1],
        )
        out_enrolled[look] = m
        if last_stage < 4:
            continue
        for p in range(n_pop):
            q = alias[p]
            if q >= 0:
                # the same patients as population q (e.g. everyone = the eligible subgroup): the same numbers
                out_stats[look, p, :] = out_stats[look, q, :]
                out_flags[look, p] = out_flags[look, q]
                continue
            flags = analyze_stream(
                stream_time, stream_code, m, code_in_pop[p], analysis.code_stratum, analysis.n_strata,
                analysis.fh_rho, analysis.fh_gamma, analysis.landmark_months, analysis.requested,
                scratch.table_f, scratch.table_i,
                out_stats[look, p],
                analysis.nph_requested, analysis.rmst_tau_months, analysis.milestone_months,
                analysis.maxcombo_rho, analysis.maxcombo_gamma, analysis.mwlr_t_star_months,
                scratch.table_s, scratch.nph_state, scratch.nph_u, scratch.nph_cov, scratch.nph_out,
            )
            if n_gs > 0:
                undefined = look_scores(
                    stream_time, stream_code, m, code_in_pop[p], analysis.code_stratum, look, p,
                    analysis.gs_components, n_looks, gs_store, gs_rows, gs_cap, gs_i[0:2].reshape((1, 2)),
                    gs_i[2:4].reshape((1, 2)), gs_i[4:5], gs_i[6:8], gs_w, out_stats[look, p, gs_offset:],
                )
                if undefined:
                    flags |= L.FLAG_GS_SCORES_UNDEFINED
            out_flags[look, p] = flags | scratch.look_flags[look]


@kernel
def generate_one_cohort(seed, trial, cohort):
    """Per-patient data of one trial (entry, x, pcode, true category): the cohort a simulated trial sees."""
    scratch = allocate_scratch(cohort.n_patients, cohort.n_random_strata, cohort.block_template.shape[0], 1)
    seed_stream(scratch.rng_state, seed, trial)
    generate_cohort(cohort, scratch)
    return scratch.entry, scratch.x, scratch.pcode, scratch.true_category
