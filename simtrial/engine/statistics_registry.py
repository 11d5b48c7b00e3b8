"""The statistics a trial can compute, as data: a name, a code (one bit) and the fields it fills.

A run asks for a set of statistics (``TrialSpec.statistics``), which travels
into the kernels as the bit mask ``AnalysisArgs.requested``;
``simtrial.engine.trial.analyze_stream`` computes only the requested groups and
leaves the fields of the others NaN.  The event tables and their counts
(``ALWAYS_FIELDS``: events and patients per arm) are always filled: every
statistic reads them, and the designs and the cut checks need them.

A statistic's parameters travel beside the mask in ``AnalysisArgs``
(Fleming-Harrington: ``fh_rho``, ``fh_gamma``; Kaplan-Meier:
``landmark_months``).  Adding a statistic means one kernel function (called
from ``analyze_stream`` under its bit), one code here, one ``STATISTICS``
entry (and its name in ``simtrial.spec.engine.STATISTIC_NAMES``, which the
spec layer validates against without importing the engine).
"""

from __future__ import annotations

from dataclasses import dataclass

from simtrial.engine import layout as L
from simtrial.spec.engine import NPH_STATISTIC_NAMES, STATISTIC_NAMES

STAT_LOGRANK = 1
STAT_FH = 2
STAT_COX = 4
STAT_STRATIFIED = 8  # stratified log-rank and stratified Cox: they share the stratified tables
STAT_KM = 16


@dataclass(frozen=True)
class Statistic:
    name: str
    code: int
    fields: tuple[int, ...]  # positions in layout.FIELDS
    landmarks: bool = False  # also fills the landmark columns after the fixed fields
    flags: tuple[int, ...] = ()  # the FLAG_* bits it may set


STATISTICS: dict[str, Statistic] = {
    s.name: s
    for s in (
        Statistic(
            "logrank", STAT_LOGRANK, (L.LOGRANK_O_MINUS_E, L.LOGRANK_INFORMATION, L.LOGRANK_Z),
            flags=(L.FLAG_LOGRANK_UNDEFINED,),
        ),
        Statistic("fleming_harrington", STAT_FH, (L.FH_Z,)),
        Statistic("cox", STAT_COX, (L.LOG_HR, L.LOG_HR_SE), flags=(L.FLAG_COX_NOT_ESTIMABLE,)),
        Statistic(
            "stratified", STAT_STRATIFIED,
            (L.STRATIFIED_LOGRANK_Z, L.STRATIFIED_LOGRANK_INFORMATION, L.STRATIFIED_LOG_HR, L.STRATIFIED_LOG_HR_SE),
            flags=(L.FLAG_STRATIFIED_LOGRANK_UNDEFINED, L.FLAG_STRATIFIED_COX_NOT_ESTIMABLE),
        ),
        Statistic("kaplan_meier", STAT_KM, (L.MEDIAN_CONTROL, L.MEDIAN_EXPERIMENTAL), landmarks=True),
    )
}

#: always filled, whatever is requested
ALWAYS_FIELDS: tuple[int, ...] = (L.EVENTS_CONTROL, L.EVENTS_EXPERIMENTAL, L.PATIENTS_CONTROL, L.PATIENTS_EXPERIMENTAL)

ALL_STATISTICS = 0
for _s in STATISTICS.values():
    assert _s.code & (_s.code - 1) == 0 and not ALL_STATISTICS & _s.code, f"{_s.name}: codes are distinct bits"
    ALL_STATISTICS |= _s.code

assert tuple(STATISTICS) == STATISTIC_NAMES, "simtrial.spec.engine.STATISTIC_NAMES must list the registry's names in order"
assert sorted(ALWAYS_FIELDS + tuple(f for s in STATISTICS.values() for f in s.fields)) == list(range(L.N_FIXED_FIELDS)), (
    "every fixed field belongs to exactly one statistic (or is always filled)"
)


def requested_mask(names) -> int:
    """The bit mask of the statistics ``names`` (ValueError on an unknown name)."""
    mask = 0
    for name in names:
        if name in NPH_STATISTIC_NAMES:
            continue  # the second mask: nph_requested_mask
        if name not in STATISTICS:
            raise ValueError(f"unknown statistic {name!r}; known: {', '.join(STATISTICS)}")
        mask |= STATISTICS[name].code
    return mask


def requested_fields(mask: int, n_landmarks: int = 0) -> tuple[int, ...]:
    """Positions (in the stats row of ``n_landmarks`` landmarks) that a run with ``mask`` fills."""
    out = list(ALWAYS_FIELDS)
    for s in STATISTICS.values():
        if mask & s.code:
            out += s.fields
            if s.landmarks:
                out += range(L.N_FIXED_FIELDS, L.n_fields(n_landmarks))
    return tuple(sorted(out))


# --- non-proportional-hazards statistics (issue 15): a second mask, AnalysisArgs.nph_requested ---
# Their fields are layout.NPH_FIELDS, stored after the landmark columns only when one is asked for,
# so a run without them has the layout (and the numbers) it had before.
NPH_RMST = 1
NPH_MILESTONE = 2
NPH_MAXCOMBO = 4
NPH_MODESTLY_WEIGHTED = 8

NPH_STATISTICS: dict[str, Statistic] = {
    s.name: s
    for s in (
        Statistic(
            "rmst", NPH_RMST,
            (L.RMST_CONTROL, L.RMST_EXPERIMENTAL, L.RMST_DIFFERENCE, L.RMST_DIFFERENCE_SE, L.RMST_Z,
             L.STRATIFIED_RMST_DIFFERENCE, L.STRATIFIED_RMST_DIFFERENCE_SE, L.STRATIFIED_RMST_Z),
            flags=(L.FLAG_RMST_UNDEFINED, L.FLAG_RMST_TAU_BEYOND_FOLLOW_UP),
        ),
        Statistic(
            "milestone", NPH_MILESTONE,
            (L.MILESTONE_CONTROL, L.MILESTONE_EXPERIMENTAL, L.MILESTONE_Z, L.MILESTONE_CLOGLOG_Z),
            flags=(L.FLAG_MILESTONE_UNDEFINED,),
        ),
        Statistic("maxcombo", NPH_MAXCOMBO, (L.MAXCOMBO_Z, L.MAXCOMBO_P), flags=(L.FLAG_MAXCOMBO_UNDEFINED,)),
        Statistic(
            "modestly_weighted", NPH_MODESTLY_WEIGHTED, (L.MODESTLY_WEIGHTED_Z,),
            flags=(L.FLAG_MODESTLY_WEIGHTED_UNDEFINED,),
        ),
    )
}
ALL_NPH_STATISTICS = 0
for _s in NPH_STATISTICS.values():
    ALL_NPH_STATISTICS |= _s.code
assert tuple(NPH_STATISTICS) == NPH_STATISTIC_NAMES, "simtrial.spec.engine.NPH_STATISTIC_NAMES must list them in order"
assert sorted(f for s in NPH_STATISTICS.values() for f in s.fields) == list(range(L.N_NPH_FIELDS))


def nph_requested_mask(names) -> int:
    """The NPH bit mask of ``names`` (names of the first registry are ignored; unknown ones raise)."""
    mask = 0
    for name in names:
        if name in NPH_STATISTICS:
            mask |= NPH_STATISTICS[name].code
        elif name not in STATISTICS:
            raise ValueError(f"unknown statistic {name!r}; known: {', '.join((*STATISTICS, *NPH_STATISTICS))}")
    return mask


def nph_analysis_args(spec) -> dict:
    """The NPH fields of ``AnalysisArgs`` for a ``TrialSpec`` (-1 marks an unused time)."""
    import numpy as np

    comps = np.array(spec.maxcombo, dtype=np.float64).reshape(-1, 2)
    gs = np.array([(r, g, -1.0 if t is None else t) for r, g, t in spec.group_sequential_weights],
                  dtype=np.float64).reshape(-1, 3)
    return {
        "gs_components": np.ascontiguousarray(gs),
        "nph_requested": nph_requested_mask(spec.statistics),
        "rmst_tau_months": float(spec.rmst_tau_months) if spec.rmst_tau_months is not None else -1.0,
        "milestone_months": float(spec.milestone_months) if spec.milestone_months is not None else -1.0,
        "maxcombo_rho": np.ascontiguousarray(comps[:, 0]),
        "maxcombo_gamma": np.ascontiguousarray(comps[:, 1]),
        "mwlr_t_star_months": float(spec.mwlr_t_star_months) if spec.mwlr_t_star_months is not None else -1.0,
    }
