"""A trial as plain frozen dataclasses: population, arms, allocation, accrual, cuts, analyses.

The Python API builds these directly; scenario files are one way in.  Every
constructor checks its own values and raises ``ValueError`` naming the
parameter and the allowed range, so nothing invalid reaches a kernel.

Units: times in months, rates per month, probabilities as fractions.
Arms: index 0 = control, 1 = experimental; hazard ratios are experimental /
control.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.her2 import CATEGORIES, N_CATEGORIES
from simtrial.survival import SurvivalModel


def _category_name(code: int) -> str:
    return CATEGORIES[code]


def _check_category(name: str, code: int) -> int:
    if not isinstance(code, int | np.integer) or not 0 <= int(code) < N_CATEGORIES:
        raise InvalidInput(f"{name}: HER2 category code must be an integer in 0..{N_CATEGORIES - 1}, got {code!r}")
    return int(code)


@dataclass(frozen=True)
class Population:
    """Who is screened and who is enrolled.

    ``mix``: prevalence of each *true* HER2 category among screened patients
    (sums to 1).  ``fixed_counts``: alternatively, exact enrolled numbers per
    *assessed* category.  ``eligible``: the assessed categories that are
    enrolled (enrichment); None enrols everyone.  ``misclassification``:
    P(assessed = column | true = row), a 6 x 6 row-stochastic matrix; None
    means the assay is always right.
    """

    mix: Mapping[int, float] | None = None
    fixed_counts: Mapping[int, int] | None = None
    eligible: tuple[int, ...] | None = None
    misclassification: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        if self.mix is None and self.fixed_counts is None:
            raise InvalidInput("population: give a prevalence mix or fixed_counts (both empty)")
        if self.mix is not None and self.fixed_counts is not None and self.misclassification is None:
            raise InvalidInput(
                "population: give either mix or fixed_counts, not both "
                "(both only with a misclassification matrix, where mix is the prior of true categories)"
            )
        if self.mix is not None:
            mix = {_check_category("population.mix", k): float(v) for k, v in dict(self.mix).items()}
            if not mix:
                raise InvalidInput("population.mix is empty: give at least one HER2 category with prevalence > 0")
            for k, v in mix.items():
                if not (0.0 <= v <= 1.0):
                    raise InvalidInput(f"population.mix[{_category_name(k)}] must be in [0, 1], got {v!r}")
            total = sum(mix.values())
            if abs(total - 1.0) > 1e-6:
                raise InvalidInput(f"population.mix must sum to 1, got {total:.6g}")
            object.__setattr__(self, "mix", mix)
        if self.fixed_counts is not None:
            counts = {_check_category("population.fixed_counts", k): v for k, v in dict(self.fixed_counts).items()}
            for k, v in counts.items():
                if not isinstance(v, int | np.integer) or v < 0:
                    raise InvalidInput(
                        f"population.fixed_counts[{_category_name(k)}] must be an integer >= 0, got {v!r}"
                    )
            if sum(counts.values()) == 0:
                raise InvalidInput("population.fixed_counts is empty: at least one patient is needed")
            object.__setattr__(self, "fixed_counts", {k: int(v) for k, v in counts.items()})
        if self.eligible is not None:
            eligible = tuple(sorted({_check_category("population.eligible", c) for c in self.eligible}))
            if not eligible:
                raise InvalidInput("population.eligible is empty: at least one HER2 category must be enrolled")
            object.__setattr__(self, "eligible", eligible)
        if self.misclassification is not None:
            m = np.asarray(self.misclassification, dtype=float)
            if m.shape != (N_CATEGORIES, N_CATEGORIES):
                raise InvalidInput(
                    f"population.misclassification must be {N_CATEGORIES} x {N_CATEGORIES}, got shape {m.shape}"
                )
            if (m < 0).any() or (m > 1).any() or np.abs(m.sum(axis=1) - 1.0).max() > 1e-6:
                raise InvalidInput("population.misclassification rows must be probabilities in [0, 1] summing to 1")
            object.__setattr__(self, "misclassification", tuple(tuple(float(v) for v in row) for row in m))
        if self.fixed_counts is not None and self.misclassification is not None and self.mix is None:
            raise InvalidInput(
                "population: fixed_counts with a misclassification matrix needs mix, the prevalence of "
                "the true categories (P(true | assessed) comes from mix x misclassification)"
            )
        if self.fixed_counts is not None and self.misclassification is not None:
            reachable = np.array([self.mix.get(c, 0.0) for c in range(N_CATEGORIES)]) @ self.classification_matrix()
            for c, v in sorted(self.fixed_counts.items()):
                if v > 0 and not reachable[c] > 0:
                    raise InvalidInput(
                        f"population.fixed_counts[{_category_name(c)}]: no patient can be assessed as "
                        f"{_category_name(c)} under population.mix and population.misclassification"
                    )
        if self.fixed_counts is not None and self.eligible is not None:
            raise InvalidInput("population: eligible applies to a screened mix, not to fixed_counts")
        if self.mix is not None and self.joint_probabilities().sum() <= 1e-9:
            raise InvalidInput("population: no screened patient can be eligible (mix x eligible is empty)")

    def classification_matrix(self) -> np.ndarray:
        if self.misclassification is None:
            return np.eye(N_CATEGORIES)
        return np.asarray(self.misclassification, dtype=float)

    def joint_probabilities(self) -> np.ndarray:
        """P(true, assessed) among *screened* patients restricted to the eligible, unnormalised."""
        mix = np.zeros(N_CATEGORIES)
        for k, v in (self.mix or {}).items():
            mix[k] = v
        joint = mix[:, None] * self.classification_matrix()
        if self.eligible is not None:
            keep = np.zeros(N_CATEGORIES, dtype=bool)
            keep[list(self.eligible)] = True
            joint[:, ~keep] = 0.0
        return joint

    @property
    def eligible_fraction(self) -> float:
        """Share of screened patients who are enrolled (1 without enrichment)."""
        if self.mix is None:
            return 1.0
        return float(self.joint_probabilities().sum())

    def assessed_categories(self) -> tuple[int, ...]:
        """Categories an enrolled patient can be *assessed* as (what enrolment, strata and analyses see)."""
        if self.fixed_counts is not None:
            return tuple(sorted(c for c, v in self.fixed_counts.items() if v > 0))
        return tuple(int(c) for c in np.flatnonzero(self.joint_probabilities().sum(axis=0) > 0))

    def true_given_assessed(self) -> np.ndarray:
        """``P(true = t | assessed = a)`` as a [assessed, true] matrix; rows of impossible ``a`` are the identity."""
        if self.fixed_counts is not None and self.misclassification is None:
            return np.eye(N_CATEGORIES)
        if self.fixed_counts is not None:
            # fixed assessed counts: the true category follows the mix as prior, through the assay
            prior = np.array([self.mix.get(c, 0.0) for c in range(N_CATEGORIES)])
            joint = prior[:, None] * self.classification_matrix()
        else:
            joint = self.joint_probabilities()
        col = joint.sum(axis=0)
        safe = np.where(col > 0, col, 1.0)
        return np.where(col[:, None] > 0, joint.T / safe[:, None], np.eye(N_CATEGORIES))

    def true_weights(self, assessed: tuple[int, ...] | None = None) -> np.ndarray:
        """``P(true = t)`` for an enrolled patient (assessed into ``assessed``, if given), float[6]."""
        if self.fixed_counts is not None:
            w = np.array([self.fixed_counts.get(c, 0) for c in range(N_CATEGORIES)], dtype=float)
        else:
            w = self.joint_probabilities().sum(axis=0)
        if assessed is not None:
            keep = np.zeros(N_CATEGORIES, dtype=bool)
            keep[list(assessed)] = True
            w = np.where(keep, w, 0.0)
        total = w.sum()
        return (w / total) @ self.true_given_assessed() if total > 0 else np.zeros(N_CATEGORIES)

    def true_categories(self, assessed: tuple[int, ...] | None = None) -> tuple[int, ...]:
        """True categories an enrolled patient can have (among those assessed into ``assessed``, if given).

        This is the one place that says which event-time or response models can
        ever be used; the loader, the engine adapter and the designs all ask it.
        """
        possible = set(self.assessed_categories())
        rows = sorted(possible if assessed is None else possible & set(assessed))
        if not rows:
            return ()
        m = self.true_given_assessed()[rows]
        return tuple(int(t) for t in np.flatnonzero((m > 0).any(axis=0)))


@dataclass(frozen=True)
class Arm:
    """One arm: an event-time model per true HER2 category, and its dropout hazard."""

    label: str
    models: Mapping[int, SurvivalModel]
    dropout_hazard_per_month: float = 0.0

    def __post_init__(self) -> None:
        models = {_check_category(f"arm {self.label!r} models", k): v for k, v in dict(self.models).items()}
        for k, model in models.items():
            if not hasattr(model, "to_kernel"):
                raise InvalidInput(f"arm {self.label!r}: the model for {_category_name(k)} is not a survival model")
        object.__setattr__(self, "models", models)
        h = float(self.dropout_hazard_per_month)
        if not (h >= 0.0 and math.isfinite(h)):
            raise InvalidInput(f"arm {self.label!r}: dropout_hazard_per_month must be >= 0, got {h!r}")
        object.__setattr__(self, "dropout_hazard_per_month", h)


def dropout_hazard(probability: float, by_months: float) -> float:
    """Exponential dropout hazard per month giving ``probability`` of dropout by ``by_months``."""
    p = float(probability)
    t = float(by_months)
    if not 0.0 <= p < 1.0:
        raise InvalidInput(f"dropout probability must be in [0, 1), got {p!r}")
    if not (t > 0.0 and math.isfinite(t)):
        raise InvalidInput(f"dropout time (months) must be > 0, got {t!r}")
    return -math.log1p(-p) / t


@dataclass(frozen=True)
class Accrual:
    """Piecewise-constant accrual.

    Either ``duration_months`` (uniform entry over that time), or
    ``rates_per_month`` with ``start_months`` (the last rate continues until
    every patient is enrolled).
    """

    duration_months: float | None = None
    rates_per_month: tuple[float, ...] | None = None
    start_months: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if (self.duration_months is None) == (self.rates_per_month is None):
            raise InvalidInput("accrual: give exactly one of duration_months or rates_per_month")
        if self.duration_months is not None:
            d = float(self.duration_months)
            if not (d >= 0.0 and math.isfinite(d)):
                raise InvalidInput(f"accrual.duration_months must be >= 0, got {d!r}")
            object.__setattr__(self, "duration_months", d)
        else:
            rates = tuple(float(r) for r in self.rates_per_month)
            starts = tuple(float(s) for s in (self.start_months or (0.0,) * (len(rates) == 1)))
            if not rates or len(starts) != len(rates):
                raise InvalidInput("accrual: rates_per_month and start_months must be non-empty and of equal length")
            if starts[0] != 0.0 or any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
                raise InvalidInput(f"accrual.start_months must start at 0 and increase, got {starts!r}")
            for j, r in enumerate(rates):
                if not (r >= 0.0 and math.isfinite(r)):
                    raise InvalidInput(f"accrual.rates_per_month[{j}] must be >= 0, got {r!r}")
            if rates[-1] <= 0.0:
                raise InvalidInput("accrual: the last rate_per_month must be > 0, or enrolment never completes")
            object.__setattr__(self, "rates_per_month", rates)
            object.__setattr__(self, "start_months", starts)

    def entry_law(self, n_patients: int) -> tuple[np.ndarray, np.ndarray]:
        """(breaks in months, cumulative probability at each break) of one patient's entry time."""
        if self.duration_months is not None:
            return np.array([0.0, self.duration_months]), np.array([0.0, 1.0])
        breaks = [0.0]
        cum = [0.0]
        enrolled = 0.0
        starts = self.start_months
        for j, rate in enumerate(self.rates_per_month):
            end = starts[j + 1] if j + 1 < len(starts) else math.inf
            capacity = rate * (end - starts[j])
            if enrolled + capacity >= n_patients:
                breaks.append(starts[j] + (n_patients - enrolled) / rate)
                cum.append(1.0)
                break
            enrolled += capacity
            breaks.append(end)
            cum.append(enrolled / n_patients)
        return np.array(breaks), np.array(cum)

    def duration_for(self, n_patients: int) -> float:
        return float(self.entry_law(n_patients)[0][-1])


@dataclass(frozen=True)
class Cut:
    """When a look happens: at ``target_events`` events, at ``calendar_months``, or whichever comes first."""

    target_events: int | None = None
    calendar_months: float | None = None

    def __post_init__(self) -> None:
        if self.target_events is None and self.calendar_months is None:
            raise InvalidInput("cut: give target_events, calendar_months or both")
        if self.target_events is not None:
            if not isinstance(self.target_events, int | np.integer) or self.target_events < 1:
                raise InvalidInput(f"cut.target_events must be an integer >= 1, got {self.target_events!r}")
            object.__setattr__(self, "target_events", int(self.target_events))
        if self.calendar_months is not None:
            c = float(self.calendar_months)
            if not (c > 0.0 and math.isfinite(c)):
                raise InvalidInput(f"cut.calendar_months must be > 0, got {c!r}")
            object.__setattr__(self, "calendar_months", c)


@dataclass(frozen=True)
class Subgroup:
    """A population analysed on its own: the patients whose *assessed* category is in ``categories``."""

    name: str
    categories: tuple[int, ...]

    def __post_init__(self) -> None:
        cats = tuple(sorted({_check_category(f"subgroup {self.name!r}", c) for c in self.categories}))
        if not cats:
            raise InvalidInput(f"subgroup {self.name!r} has no categories")
        object.__setattr__(self, "categories", cats)


ALL_CATEGORIES = tuple(range(N_CATEGORIES))
# permuted_blocks: blocks of block_multiple x (a + b) within randomisation strata;
# simple: each patient experimental with probability b / (a + b), independently
RANDOMISATION_METHODS = ("permuted_blocks", "simple")


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
        object.__setattr__(self, "cuts", cuts)
        for name, mapping in (("randomization_strata", self.randomization_strata), ("analysis_strata", self.analysis_strata)):
            if mapping is not None:
                clean = {_check_category(name, k): int(v) for k, v in dict(mapping).items()}
                if set(clean) != set(ALL_CATEGORIES):
                    raise InvalidInput(f"{name} must give a stratum for every HER2 category")
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
        for arm in (self.control, self.experimental):
            for cat in self.population.true_categories():
                if cat not in arm.models:
                    raise InvalidInput(
                        f"arm {arm.label!r} has no event-time model for {_category_name(cat)}, "
                        "which the population can contain"
                    )

    @property
    def arms(self) -> tuple[Arm, Arm]:
        return (self.control, self.experimental)

    @property
    def population_names(self) -> tuple[str, ...]:
        return ("overall", *(s.name for s in self.subgroups))
