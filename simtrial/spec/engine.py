"""What the engine simulates: one two-arm design (``TrialSpec``) and its looks (``Cut``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.her2 import N_CATEGORIES
from simtrial.spec._checks import _check_category
from simtrial.spec.accrual import Accrual
from simtrial.spec.arms import Arm
from simtrial.spec.population import Population, Subgroup


@dataclass(frozen=True)
class Cut:
    """When a look happens.

    The look's time, in this order (the engine's ``look_cut_times``):

    1. the ``target_events``-th event or ``calendar_months``, whichever comes
       first (either alone if only one is given; neither: no deadline yet);
    2. no earlier than the previous look + ``min_months_after_previous_look``;
    3. no earlier than the last patient's entry + ``min_followup_after_last_entry_months``.

    Steps 2 and 3 only ever delay a look, so ``calendar_months`` bounds an
    event-driven look from above and the floors from below: a look with
    ``calendar_months`` and a minimum follow-up is at the later of the two.
    A look with both ``target_events`` and ``calendar_months`` whose calendar
    time comes first raises the flag ``cut_at_calendar_maximum``.

    The engine cuts each look on its own; keeping looks in calendar order is
    the plan's job: :func:`planned_calendar_maxima` caps each look's maximum
    by the later looks' (what ``build_spec`` does with a scenario).
    """

    target_events: int | None = None
    calendar_months: float | None = None
    min_months_after_previous_look: float | None = None
    min_followup_after_last_entry_months: float | None = None

    def __post_init__(self) -> None:
        if self.target_events is None and self.calendar_months is None and (
                self.min_followup_after_last_entry_months is None):
            raise InvalidInput("cut: give target_events, calendar_months or min_followup_after_last_entry_months")
        if self.target_events is not None:
            if not isinstance(self.target_events, int | np.integer) or self.target_events < 1:
                raise InvalidInput(f"cut.target_events must be an integer >= 1, got {self.target_events!r}")
            object.__setattr__(self, "target_events", int(self.target_events))
        for name in ("calendar_months", "min_months_after_previous_look", "min_followup_after_last_entry_months"):
            value = getattr(self, name)
            if value is not None:
                c = float(value)
                if not (c > 0.0 and math.isfinite(c)):
                    raise InvalidInput(f"cut.{name} must be > 0, got {c!r}")
                object.__setattr__(self, name, c)

    @property
    def has_floor(self) -> bool:
        """True when a minimum gap or minimum follow-up can delay this look."""
        return self.min_months_after_previous_look is not None or self.min_followup_after_last_entry_months is not None


def look_calendar_maxima(own: Sequence[float | None]) -> tuple[float | None, ...]:
    """Each look's effective calendar maximum from the maxima given per look (None: none of its own).

    A look cannot come after a later look's calendar maximum (the trial's last
    look is due by then): each look's maximum is the smallest of its own and
    those of the looks after it.  With event targets that do not decrease,
    the deadlines (target events or maximum, whichever first) then never
    decrease from look to look, so the looks stay in calendar order; the
    floors of the cut rules only delay a look after the previous one.  A look
    whose maximum comes from a later look (e.g. an interim before an
    ``analysis.calendar_months`` that bounds only the final look) and whose
    events come too late is at that later maximum, with the same data as the
    later look: that one then adds no information, so the group-sequential
    monitoring decides at the first of them with all the alpha.
    """
    out: list[float | None] = []
    cap: float | None = None
    for value in reversed(tuple(own)):
        if value is not None:
            cap = float(value) if cap is None else min(cap, float(value))
        out.append(cap)
    return tuple(reversed(out))


def planned_calendar_maxima(calendar_months: float | None, per_look: Sequence[float | None] | None,
                            n_looks: int) -> tuple[float | None, ...]:
    """The looks' effective calendar maxima from the analysis block: ``sequential.calendar_months`` per look
    (``per_look``), else ``analysis.calendar_months`` (``calendar_months``) for the final look only."""
    own = tuple(per_look) if per_look is not None else (None,) * (n_looks - 1) + (calendar_months,)
    if len(own) != n_looks:
        raise InvalidInput(f"sequential.calendar_months: one value per look ({n_looks}), got {len(own)}")
    return look_calendar_maxima(own)


ALL_CATEGORIES = tuple(range(N_CATEGORIES))
# permuted_blocks: blocks of block_multiple x (a + b) within randomisation strata;
# simple: each patient experimental with probability b / (a + b), independently
RANDOMISATION_METHODS = ("permuted_blocks", "simple")
# the statistics a trial can compute (simtrial.engine.statistics_registry, which checks this list)
STATISTIC_NAMES = ("logrank", "fleming_harrington", "cox", "stratified", "kaplan_meier")
# non-proportional-hazards statistics (issue 15): computed only on request, never by default
NPH_STATISTIC_NAMES = ("rmst", "milestone", "maxcombo", "modestly_weighted")
#: MaxCombo components (rho, gamma) when none are given: FH(0,0), FH(0,1), FH(1,0)
DEFAULT_MAXCOMBO = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0))
MAX_MAXCOMBO_COMPONENTS = 4


@dataclass(frozen=True)
class TrialSpec:
    """Everything the engine needs to simulate one two-arm trial design."""

    population: Population
    control: Arm
    experimental: Arm
    n_patients: int
    accrual: Accrual
    cuts: tuple[Cut, ...]
    allocation: tuple[int, int] = (1, 1)
    block_multiple: int = 2
    randomization_strata: Mapping[int, int] | None = None
    analysis_strata: Mapping[int, int] | None = None
    randomisation: str = "permuted_blocks"
    subgroups: tuple[Subgroup, ...] = field(default_factory=tuple)
    fh_rho: float = 0.0
    fh_gamma: float = 0.0
    landmark_months: tuple[float, ...] = field(default_factory=tuple)
    # what each trial computes (the fields of the others are NaN); default: everything but NPH_STATISTIC_NAMES
    statistics: tuple[str, ...] = STATISTIC_NAMES
    # parameters of the NPH statistics (used only when asked for in ``statistics``)
    rmst_tau_months: float | None = None
    milestone_months: float | None = None
    maxcombo: tuple[tuple[float, float], ...] = DEFAULT_MAXCOMBO
    mwlr_t_star_months: float | None = None
    # group-sequential weighted tests (issue 15, item 3): the weighted log-rank components whose scores
    # and covariance across looks each look stores, (rho, gamma, t_star): t_star None is FH(rho, gamma),
    # a time the modestly weighted log-rank capped at t_star (rho, gamma unused, 0); () = none
    group_sequential_weights: tuple[tuple[float, float, float | None], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.n_patients, int | np.integer) or self.n_patients < 2:
            raise InvalidInput(f"n_patients must be an integer >= 2, got {self.n_patients!r}")
        object.__setattr__(self, "n_patients", int(self.n_patients))
        if self.population.fixed_counts is not None and sum(self.population.fixed_counts.values()) != self.n_patients:
            raise InvalidInput(
                f"population.fixed_counts sum to {sum(self.population.fixed_counts.values())}, "
                f"but n_patients is {self.n_patients}"
            )
        alloc = tuple(self.allocation)
        if len(alloc) != 2 or any(not isinstance(a, int | np.integer) or a <= 0 for a in alloc):
            raise InvalidInput(
                f"allocation must be two positive integers (control, experimental), e.g. (1, 2), got {self.allocation!r}"
            )
        object.__setattr__(self, "allocation", (int(alloc[0]), int(alloc[1])))
        if not isinstance(self.block_multiple, int | np.integer) or self.block_multiple < 1:
            raise InvalidInput(f"block_multiple must be an integer >= 1, got {self.block_multiple!r}")
        if self.randomisation not in RANDOMISATION_METHODS:
            raise InvalidInput(
                f"randomisation must be one of {', '.join(RANDOMISATION_METHODS)}, got {self.randomisation!r}"
            )
        if self.randomisation == "simple" and self.randomization_strata is not None:
            raise InvalidInput(
                "randomization_strata apply to permuted_blocks randomisation; simple randomisation has no strata"
            )
        cuts = tuple(self.cuts)
        if not 1 <= len(cuts) <= 64:
            raise InvalidInput(f"cuts: between 1 and 64 analyses (looks) are allowed, got {len(cuts)}")
        targets = [c.target_events for c in cuts if c.target_events is not None]
        if any(b < a for a, b in zip(targets, targets[1:], strict=False)):
            raise InvalidInput(f"cuts: target_events must not decrease from look to look, got {targets}")
        for c in cuts:
            if c.target_events is not None and c.target_events > self.n_patients:
                raise InvalidInput(
                    f"cut.target_events ({c.target_events}) exceeds n_patients ({self.n_patients}): "
                    "at most one event per patient"
                )
        if cuts[0].min_months_after_previous_look is not None:
            raise InvalidInput("cuts: the first look has no previous look (min_months_after_previous_look "
                               "applies from the second look on)")
        object.__setattr__(self, "cuts", cuts)
        cells = self.population.cells
        for name, mapping in (("randomization_strata", self.randomization_strata), ("analysis_strata", self.analysis_strata)):
            if mapping is not None:
                clean = {_check_category(name, k, cells.n): int(v) for k, v in dict(mapping).items()}
                if set(clean) != set(range(cells.n)):
                    what = "HER2 category" if not cells.hr_status else "IHC x HR-status cell"
                    raise InvalidInput(f"{name} must give a stratum for every {what}")
                if min(clean.values()) < 0:
                    raise InvalidInput(f"{name}: stratum numbers must be >= 0")
                object.__setattr__(self, name, clean)
        for name in ("fh_rho", "fh_gamma"):
            v = float(getattr(self, name))
            if not (v >= 0.0 and math.isfinite(v)):
                raise InvalidInput(f"{name} must be >= 0, got {v!r}")
            object.__setattr__(self, name, v)
        lms = tuple(sorted(float(t) for t in self.landmark_months))
        if any(not (t > 0 and math.isfinite(t)) for t in lms):
            raise InvalidInput(f"landmark_months must be > 0, got {lms!r}")
        object.__setattr__(self, "landmark_months", lms)
        object.__setattr__(self, "subgroups", tuple(self.subgroups))
        for sub in self.subgroups:
            for code in sub.categories:
                _check_category(f"subgroup {sub.name!r}", code, cells.n)
        if isinstance(self.statistics, str):
            raise InvalidInput(f"statistics must be a sequence of names, got the string {self.statistics!r}")
        asked = tuple(self.statistics)
        known = STATISTIC_NAMES + NPH_STATISTIC_NAMES
        unknown = [s for s in asked if s not in known]
        if unknown:
            raise InvalidInput(f"statistics: unknown {unknown!r}; known: {', '.join(known)}")
        object.__setattr__(self, "statistics", tuple(s for s in known if s in asked))
        self._check_nph()
        for arm in (self.control, self.experimental):
            for cat in arm.models:
                _check_category(f"arm {arm.label!r} models", cat, cells.n)
            for cat in self.population.true_categories():
                if cat not in arm.models:
                    raise InvalidInput(
                        f"arm {arm.label!r} has no event-time model for {cells.name(cat)}, "
                        "which the population can contain"
                    )

    def _check_nph(self) -> None:
        for name in ("rmst_tau_months", "milestone_months", "mwlr_t_star_months"):
            value = getattr(self, name)
            if value is None:
                continue  # its statistic is then NaN (the scenario loader requires the time with its test)
            v = float(value)
            if not (v > 0.0 and math.isfinite(v)):
                raise InvalidInput(f"{name} must be > 0 months, got {value!r}")
            object.__setattr__(self, name, v)
        comps = tuple((float(r), float(g)) for r, g in self.maxcombo)
        if not 1 <= len(comps) <= MAX_MAXCOMBO_COMPONENTS:
            raise InvalidInput(f"maxcombo: 1 to {MAX_MAXCOMBO_COMPONENTS} components (rho, gamma), got {len(comps)}")
        if any(not (0.0 <= x <= 10.0) for c in comps for x in c):
            raise InvalidInput(f"maxcombo: rho and gamma must be in [0, 10], got {comps!r}")
        object.__setattr__(self, "maxcombo", comps)
        weights = []
        for item in self.group_sequential_weights:
            if len(item) != 3:
                raise InvalidInput(f"group_sequential_weights: (rho, gamma, t_star) triples, got {item!r}")
            rho, gamma, t_star = float(item[0]), float(item[1]), item[2]
            if not (0.0 <= rho <= 10.0 and 0.0 <= gamma <= 10.0):
                raise InvalidInput(f"group_sequential_weights: rho and gamma must be in [0, 10], got {item!r}")
            if t_star is not None:
                t_star = float(t_star)
                if not (t_star > 0.0 and math.isfinite(t_star)):
                    raise InvalidInput(f"group_sequential_weights: t_star must be > 0 months, got {item!r}")
            weights.append((rho, gamma, t_star))
        if len(weights) > MAX_MAXCOMBO_COMPONENTS:
            raise InvalidInput(
                f"group_sequential_weights: at most {MAX_MAXCOMBO_COMPONENTS} components, got {len(weights)}")
        object.__setattr__(self, "group_sequential_weights", tuple(weights))

    @property
    def arms(self) -> tuple[Arm, Arm]:
        return (self.control, self.experimental)

    @property
    def population_names(self) -> tuple[str, ...]:
        return ("overall", *(s.name for s in self.subgroups))
