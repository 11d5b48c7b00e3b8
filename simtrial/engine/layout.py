"""Names and positions of the per-trial statistics the engine returns.

``stats[trial, look, population, field]`` (float64) uses FIELDS, followed by
two columns per landmark time: S(t) control, S(t) experimental.
``flags[trial, look, population]`` (int32) is a bit set of the FLAG_* values.
"""

from __future__ import annotations

FIELDS: tuple[str, ...] = (
    "events_control",
    "events_experimental",
    "patients_control",
    "patients_experimental",
    "logrank_o_minus_e",
    "logrank_information",
    "logrank_z",
    "stratified_logrank_z",
    "stratified_logrank_information",
    "fh_z",
    "log_hr",
    "log_hr_se",
    "stratified_log_hr",
    "stratified_log_hr_se",
    "median_control_months",
    "median_experimental_months",
)
(
    EVENTS_CONTROL,
    EVENTS_EXPERIMENTAL,
    PATIENTS_CONTROL,
    PATIENTS_EXPERIMENTAL,
    LOGRANK_O_MINUS_E,
    LOGRANK_INFORMATION,
    LOGRANK_Z,
    STRATIFIED_LOGRANK_Z,
    STRATIFIED_LOGRANK_INFORMATION,
    FH_Z,
    LOG_HR,
    LOG_HR_SE,
    STRATIFIED_LOG_HR,
    STRATIFIED_LOG_HR_SE,
    MEDIAN_CONTROL,
    MEDIAN_EXPERIMENTAL,
) = range(len(FIELDS))
N_FIXED_FIELDS = len(FIELDS)

FLAG_TARGET_EVENTS_NOT_REACHED = 1  # the look cut at the last event / calendar time instead
FLAG_LOGRANK_UNDEFINED = 2  # no information (V = 0): Z is NaN
FLAG_COX_NOT_ESTIMABLE = 4  # an arm without events or no convergence: log HR is NaN
FLAG_STRATIFIED_COX_NOT_ESTIMABLE = 8
FLAG_ARM_WITHOUT_PATIENTS = 16
FLAG_STRATIFIED_LOGRANK_UNDEFINED = 32

FLAG_NAMES: dict[int, str] = {
    FLAG_TARGET_EVENTS_NOT_REACHED: "target_events_not_reached",
    FLAG_LOGRANK_UNDEFINED: "logrank_undefined",
    FLAG_COX_NOT_ESTIMABLE: "cox_not_estimable",
    FLAG_STRATIFIED_COX_NOT_ESTIMABLE: "stratified_cox_not_estimable",
    FLAG_ARM_WITHOUT_PATIENTS: "arm_without_patients",
    FLAG_STRATIFIED_LOGRANK_UNDEFINED: "stratified_logrank_undefined",
}


# kinds of entry-law pieces (CohortArgs.accrual_kind): defined by the spec, which owns the entry law
from simtrial.spec.accrual import ENTRY_EXPONENTIAL, ENTRY_LINEAR, ENTRY_UNIFORM  # noqa: E402,F401

# cut rules (simtrial.engine.cut.look_cut_floors): reported only by runs whose looks use them
FLAG_CUT_AT_MIN_GAP = 2048  # the look was delayed to the previous look + min_months_after_previous_look
FLAG_CUT_AT_MIN_FOLLOWUP = 4096  # the look was delayed to the last entry + min_followup_after_last_entry_months

CUT_FLAG_NAMES: dict[int, str] = {
    FLAG_CUT_AT_MIN_GAP: "cut_delayed_by_min_months_after_previous_look",
    FLAG_CUT_AT_MIN_FOLLOWUP: "cut_delayed_by_min_followup_after_last_entry",
}
# simtrial.engine.cut.look_cut_times: reported only by runs with a look that has both an event target and a
# calendar maximum (the flag names which of the two set the look's deadline; the floors above may delay it further)
FLAG_CUT_AT_CALENDAR_MAXIMUM = 8192  # calendar_months came before the target_events-th event

CALENDAR_FLAG_NAMES: dict[int, str] = {FLAG_CUT_AT_CALENDAR_MAXIMUM: "cut_at_calendar_maximum"}

#: every flag the cut (not a statistic) raises: which rule set or moved a look
CUT_RULE_FLAGS = (FLAG_TARGET_EVENTS_NOT_REACHED | FLAG_CUT_AT_MIN_GAP | FLAG_CUT_AT_MIN_FOLLOWUP
                  | FLAG_CUT_AT_CALENDAR_MAXIMUM)


def cut_flag_names(cuts) -> dict[int, str]:
    """The cut-rule flags a run with these looks (``simtrial.spec.Cut``) can raise, so only those are reported."""
    names: dict[int, str] = {}
    if any(c.target_events is not None and c.calendar_months is not None for c in cuts):
        names.update(CALENDAR_FLAG_NAMES)
    if any(c.has_floor for c in cuts):
        names.update(CUT_FLAG_NAMES)
    return names


def landmark_fields(landmark_months) -> tuple[str, ...]:
    names: list[str] = []
    for t in landmark_months:
        label = f"{float(t):g}"
        names += [f"survival_control_at_{label}_months", f"survival_experimental_at_{label}_months"]
    return tuple(names)


def n_fields(n_landmarks: int) -> int:
    return N_FIXED_FIELDS + 2 * n_landmarks


# --- non-proportional-hazards statistics (issue 15) -------------------------------------------
# A run that asks for any of them (``AnalysisArgs.nph_requested`` != 0) gets NPH_FIELDS as
# extra columns after the landmark columns; a run that asks for none has exactly the layout above.
NPH_FIELDS: tuple[str, ...] = (
    "rmst_control_months",
    "rmst_experimental_months",
    "rmst_difference_months",  # experimental - control
    "rmst_difference_se",
    "rmst_z",  # (control - experimental) / SE: the sign of log HR, negative favours experimental
    "stratified_rmst_difference_months",
    "stratified_rmst_difference_se",
    "stratified_rmst_z",
    "milestone_survival_control",
    "milestone_survival_experimental",
    "milestone_z",  # (S_control - S_experimental) / SE (Greenwood)
    "milestone_cloglog_z",  # (log(-log S_e) - log(-log S_c)) / SE (delta method)
    "maxcombo_z",  # the smallest component Z (sign of log HR)
    "maxcombo_p",  # one-sided p for benefit: 1 - P(max_k -Z_k <= -maxcombo_z) under the MVN
    "modestly_weighted_z",
)
(
    RMST_CONTROL,
    RMST_EXPERIMENTAL,
    RMST_DIFFERENCE,
    RMST_DIFFERENCE_SE,
    RMST_Z,
    STRATIFIED_RMST_DIFFERENCE,
    STRATIFIED_RMST_DIFFERENCE_SE,
    STRATIFIED_RMST_Z,
    MILESTONE_CONTROL,
    MILESTONE_EXPERIMENTAL,
    MILESTONE_Z,
    MILESTONE_CLOGLOG_Z,
    MAXCOMBO_Z,
    MAXCOMBO_P,
    MODESTLY_WEIGHTED_Z,
) = range(len(NPH_FIELDS))
N_NPH_FIELDS = len(NPH_FIELDS)

FLAG_RMST_UNDEFINED = 64  # zero variance (no events before tau in an arm): Z is NaN
FLAG_RMST_TAU_BEYOND_FOLLOW_UP = 128  # tau beyond the longest follow-up: the last KM value is carried to tau
FLAG_MILESTONE_UNDEFINED = 256  # S in {0, 1} in an arm at the milestone: Z (or the cloglog Z) is NaN
FLAG_MAXCOMBO_UNDEFINED = 512  # a component without information: Z and p are NaN
FLAG_MODESTLY_WEIGHTED_UNDEFINED = 1024

NPH_FLAG_NAMES: dict[int, str] = {
    FLAG_RMST_UNDEFINED: "rmst_undefined",
    FLAG_RMST_TAU_BEYOND_FOLLOW_UP: "rmst_tau_beyond_follow_up",
    FLAG_MILESTONE_UNDEFINED: "milestone_undefined",
    FLAG_MAXCOMBO_UNDEFINED: "maxcombo_undefined",
    FLAG_MODESTLY_WEIGHTED_UNDEFINED: "modestly_weighted_undefined",
}


def n_columns(n_landmarks: int, nph: bool, gs_width: int = 0) -> int:
    """Width of a stats row: the fields, the landmark columns, NPH_FIELDS if any NPH statistic is asked
    for, then the group-sequential weighted scores block (``gs_width`` = :func:`gs_width`, 0 for none)."""
    return n_fields(n_landmarks) + (N_NPH_FIELDS if nph else 0) + gs_width


# --- group-sequential weighted scores (issue 15, item 3: simtrial.engine.gs_scores) -------------
# A run with J weighted components over K looks gets, at every (look l, population) row, the J
# scores U_l. and K blocks of J x J covariances Cov(U_k., U_l.) (NaN for k > l) after the columns above.
FLAG_GS_SCORES_UNDEFINED = 16384  # a weighted component without information at a look: its Z is NaN
GS_FLAG_NAMES: dict[int, str] = {FLAG_GS_SCORES_UNDEFINED: "group_sequential_scores_undefined"}


def gs_width(n_looks: int, n_components: int) -> int:
    """Columns of the group-sequential scores block: J scores + K J x J covariance blocks (0 when J = 0)."""
    return n_components + n_looks * n_components * n_components if n_components else 0


def gs_fields(n_looks: int, n_components: int) -> tuple[str, ...]:
    """Names of the group-sequential scores block: ``gs_score_j``, ``gs_cov_look{k}_{i}_{j}`` (k, i, j from 1)."""
    if not n_components:
        return ()
    names = [f"gs_score_{j + 1}" for j in range(n_components)]
    for k in range(n_looks):
        names += [f"gs_cov_look{k + 1}_{i + 1}_{j + 1}" for i in range(n_components) for j in range(n_components)]
    return tuple(names)
