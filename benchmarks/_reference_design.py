"""The engine benchmark's reference design (issue 2), shared by the benchmark scripts.

N = 1000, 1:1, control median 6.8 months, HR 0.70, uniform accrual over 24
months, dropout 5% by 12 months in each arm, analysis at 400 events,
one-sided alpha 0.025 log-rank.
"""

from __future__ import annotations

from simtrial.her2 import IHC3
from simtrial.spec import Accrual, Arm, Cut, Population, TrialSpec, dropout_hazard
from simtrial.survival import Exponential

N_PATIENTS = 1000
TARGET_EVENTS = 400
CONTROL_MEDIAN_MONTHS = 6.8
HAZARD_RATIO = 0.70
ACCRUAL_MONTHS = 24.0
Z_CRITICAL = 1.959963984540054

RPACT_CALL = (
    "getSimulationSurvival(design = getDesignGroupSequential(kMax = 1, alpha = 0.025, sided = 1), "
    "lambda2 = log(2) / 6.8, hazardRatio = 0.7, directionUpper = FALSE, "
    "dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12, accrualTime = c(0, 24), "
    "maxNumberOfSubjects = 1000, plannedEvents = 400, maxNumberOfIterations = {n_sims}, seed = 1)"
)


def reference_spec(hazard_ratio: float = HAZARD_RATIO, cuts: tuple[Cut, ...] | None = None) -> TrialSpec:
    control = Exponential(median_months=CONTROL_MEDIAN_MONTHS)
    dropout = dropout_hazard(0.05, 12.0)
    return TrialSpec(
        population=Population(mix={IHC3: 1.0}),
        control=Arm("control", {IHC3: control}, dropout),
        experimental=Arm("experimental", {IHC3: control.with_hazard_ratio(hazard_ratio)}, dropout),
        n_patients=N_PATIENTS,
        accrual=Accrual(duration_months=ACCRUAL_MONTHS),
        cuts=cuts or (Cut(TARGET_EVENTS),),
    )
