"""What every design returns: per-trial outcomes of a simulated run.

A design turns a ``Scenario`` into engine arguments (or binomial draws for
binary endpoints), runs ``n_sims`` trials and applies its decision rule.  The
result is a ``TrialOutcomes``: one entry per simulated trial for every
quantity the power summary needs, so summaries are computed in one place
(``simtrial.power``).  A design that can also run without keeping per-trial
arrays has ``run_streamed(...)`` returning ``StreamedOutcomes``: the same
summary accumulated block by block (``simtrial.summaries``), so memory does
not grow with n_sims.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from simtrial.executors import Executor
from simtrial.spec import Scenario
from simtrial.trial_parameters import TrialParameters

Progress = Callable[[int], None]


@dataclass(frozen=True)
class TrialOutcomes:
    """Per-trial results of one design run (arrays of length n_sims).

    ``success``: the primary decision (reject H0).  ``decisions``: further
    named decisions (per subgroup, interaction, ...).  ``hazard_ratio``:
    the primary estimate (HR for time to event; NaN where none).
    ``analytic_power``: a closed-form power for the same design where one
    applies, with ``analytic_method`` naming it.
    """

    design: str
    n_sims: int
    seed: int
    null: bool
    success: np.ndarray
    events: np.ndarray
    duration_months: np.ndarray
    enrolled: np.ndarray
    hazard_ratio: np.ndarray
    median_control_months: np.ndarray
    median_experimental_months: np.ndarray
    decisions: Mapping[str, np.ndarray] = field(default_factory=dict)
    estimates: Mapping[str, np.ndarray] = field(default_factory=dict)
    analytic_power: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)  # design-specific: screening, Simon, looks
    flags: Mapping[str, int] = field(default_factory=dict)
    n_patients: int | None = None
    target_events: int | None = None
    # per population name: {"per_trial": KM S(t) [n_sims, n_landmarks, 2 (control, experimental)],
    # "model": S(t) of the arms' models [n_landmarks, 2]}; landmark times in the scenario's analysis
    landmarks: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)
    landmark_months: tuple[float, ...] = ()

    def per_trial_frame(self) -> pd.DataFrame:
        columns = {
            "trial": np.arange(self.n_sims),
            "success": self.success.astype(bool),
            "events": self.events,
            "duration_months": self.duration_months,
            "enrolled": self.enrolled,
            "hazard_ratio": self.hazard_ratio,
            "median_control_months": self.median_control_months,
            "median_experimental_months": self.median_experimental_months,
        }
        for name, values in self.decisions.items():
            columns[f"decision_{name}"] = values
        for name, values in self.estimates.items():
            columns[name] = values
        for population, lm in self.landmarks.items():
            suffix = "" if population == "overall" else f"_{population}"
            for j, t in enumerate(self.landmark_months):
                for k, arm in enumerate(("control", "experimental")):
                    columns[f"survival_{arm}_at_{t:g}_months{suffix}"] = lm["per_trial"][:, j, k]
        return pd.DataFrame(columns)


@dataclass(frozen=True)
class StreamedOutcomes:
    """A run summarised block by block (``Design.run_streamed``): no per-trial arrays.

    ``summary``: the per-trial figures accumulated over blocks of trials
    (``simtrial.summaries.OutcomeSummary``); the other fields are those of
    ``TrialOutcomes`` that describe the run as a whole, computed from the
    merged block totals.  ``landmarks`` holds only each population's
    ``"model"`` S(t).  ``blocks``: how many blocks the trials ran in.
    """

    design: str
    n_sims: int
    seed: int
    null: bool
    summary: Any = field(repr=False)
    analytic_power: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, int] = field(default_factory=dict)
    n_patients: int | None = None
    target_events: int | None = None
    landmarks: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)
    landmark_months: tuple[float, ...] = ()
    blocks: int = 1


class Design(Protocol):
    name: str

    def run(
        self,
        scenario: Scenario,
        *,
        n_sims: int,
        seed: int,
        null: bool = False,
        n_patients: int | None = None,
        target_events: int | None = None,
        threads: int | None = None,
        progress: Progress | None = None,
        executor: Executor | None = None,
        trial_parameters: TrialParameters | None = None,
    ) -> TrialOutcomes: ...
