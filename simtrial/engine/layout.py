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


def landmark_fields(landmark_months) -> tuple[str, ...]:
    names: list[str] = []
    for t in landmark_months:
        label = f"{float(t):g}"
        names += [f"survival_control_at_{label}_months", f"survival_experimental_at_{label}_months"]
    return tuple(names)


def n_fields(n_landmarks: int) -> int:
    return N_FIXED_FIELDS + 2 * n_landmarks
