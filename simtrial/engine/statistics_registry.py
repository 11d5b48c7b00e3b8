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
from simtrial.spec.engine import STATISTIC_NAMES

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
