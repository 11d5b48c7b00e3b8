"""Who is screened and enrolled (``Population``), and populations analysed on their own (``Subgroup``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.her2 import IHC_BY_HR, IHC_ONLY, MAX_CELLS, N_CATEGORIES, N_HR_STATUSES, Cells
from simtrial.spec._checks import _category_name, _check_category


@dataclass(frozen=True)
class Population:
    """Who is screened and who is enrolled.

    ``mix``: prevalence of each *true* HER2 category among screened patients
    (sums to 1).  ``fixed_counts``: alternatively, exact enrolled numbers per
    *assessed* category.  ``eligible``: the assessed categories that are
    enrolled (enrichment); None enrols everyone.  ``misclassification``:
    P(assessed = column | true = row), a 6 x 6 row-stochastic matrix; None
    means the assay is always right.

    ``hr_positive_fraction``: the optional hormone-receptor factor, P(HR+ | true
    IHC category) for every category of ``mix``.  With it the engine's index
    is an IHC x HR-status cell (``simtrial.her2.Cells``): ``eligible`` then
    holds cell indices, every array below is over cells, and the assay error
    acts on the IHC axis only (HR status is read without error).  Without it
    every array is over the 6 IHC categories, exactly as before the factor.
    """

    mix: Mapping[int, float] | None = None
    fixed_counts: Mapping[int, int] | None = None
    eligible: tuple[int, ...] | None = None
    misclassification: tuple[tuple[float, ...], ...] | None = None
    hr_positive_fraction: Mapping[int, float] | None = None

    @property
    def cells(self) -> Cells:
        """The meaning of the engine's category index for this population."""
        return IHC_ONLY if self.hr_positive_fraction is None else IHC_BY_HR

    @property
    def n_cells(self) -> int:
        return self.cells.n

    def _check_hr_status(self) -> None:
        if self.fixed_counts is not None:
            raise InvalidInput(
                "population: hr_status works with a prevalence mix; fixed_counts per IHC category "
                "would leave the HR-status split of the enrolled numbers undefined"
            )
        fractions = {
            _check_category("population.hr_status.positive_fraction", k): float(v)
            for k, v in dict(self.hr_positive_fraction).items()
        }
        for k, v in fractions.items():
            if not 0.0 <= v <= 1.0:
                raise InvalidInput(
                    f"population.hr_status.positive_fraction[{_category_name(k)}] must be in [0, 1], got {v!r}"
                )
        missing = [_category_name(c) for c, p in sorted((self.mix or {}).items()) if p > 0 and c not in fractions]
        if missing:
            raise InvalidInput(
                "population.hr_status.positive_fraction gives no HR+ fraction for " + ", ".join(missing)
                + ", which the mix contains"
            )
        object.__setattr__(self, "hr_positive_fraction", dict(sorted(fractions.items())))

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
        if self.hr_positive_fraction is not None:
            self._check_hr_status()
        if self.eligible is not None:
            n = self.n_cells
            eligible = tuple(sorted({_check_category("population.eligible", c, n) for c in self.eligible}))
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
            reachable = np.array([self.mix.get(c, 0.0) for c in range(N_CATEGORIES)]) @ self.ihc_classification_matrix()
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

    def ihc_classification_matrix(self) -> np.ndarray:
        """P(assessed IHC | true IHC), 6 x 6."""
        if self.misclassification is None:
            return np.eye(N_CATEGORIES)
        return np.asarray(self.misclassification, dtype=float)

    def classification_matrix(self) -> np.ndarray:
        """P(assessed index | true index): over cells, the IHC error with HR status read without error."""
        m = self.ihc_classification_matrix()
        return np.kron(m, np.eye(N_HR_STATUSES)) if self.hr_positive_fraction is not None else m

    def screened_prevalence(self) -> np.ndarray:
        """P(true index) among screened patients: the mix, split by P(HR+ | IHC) with hr_status."""
        mix = np.zeros(N_CATEGORIES)
        for k, v in (self.mix or {}).items():
            mix[k] = v
        if self.hr_positive_fraction is None:
            return mix
        positive = np.array([self.hr_positive_fraction.get(c, 0.0) for c in range(N_CATEGORIES)])
        return np.stack([mix * positive, mix * (1.0 - positive)], axis=1).ravel()

    def joint_probabilities(self) -> np.ndarray:
        """P(true, assessed) among *screened* patients restricted to the eligible, unnormalised."""
        n = self.n_cells
        joint = self.screened_prevalence()[:, None] * self.classification_matrix()
        if self.eligible is not None:
            keep = np.zeros(n, dtype=bool)
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
            return np.eye(self.n_cells)
        if self.fixed_counts is not None:
            # fixed assessed counts: the true category follows the mix as prior, through the assay
            prior = np.array([self.mix.get(c, 0.0) for c in range(N_CATEGORIES)])
            joint = prior[:, None] * self.classification_matrix()
        else:
            joint = self.joint_probabilities()
        col = joint.sum(axis=0)
        safe = np.where(col > 0, col, 1.0)
        return np.where(col[:, None] > 0, joint.T / safe[:, None], np.eye(self.n_cells))

    def true_weights(self, assessed: tuple[int, ...] | None = None) -> np.ndarray:
        """``P(true = t)`` for an enrolled patient (assessed into ``assessed``, if given), float[n_cells]."""
        if self.fixed_counts is not None:
            w = np.array([self.fixed_counts.get(c, 0) for c in range(self.n_cells)], dtype=float)
        else:
            w = self.joint_probabilities().sum(axis=0)
        if assessed is not None:
            keep = np.zeros(self.n_cells, dtype=bool)
            keep[list(assessed)] = True
            w = np.where(keep, w, 0.0)
        total = w.sum()
        return (w / total) @ self.true_given_assessed() if total > 0 else np.zeros(self.n_cells)

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
class Subgroup:
    """A population analysed on its own: the patients whose *assessed* category is in ``categories``."""

    name: str
    categories: tuple[int, ...]  # engine indices: IHC categories, or cells with hr_status

    def __post_init__(self) -> None:
        cats = tuple(sorted({_check_category(f"subgroup {self.name!r}", c, MAX_CELLS) for c in self.categories}))
        if not cats:
            raise InvalidInput(f"subgroup {self.name!r} has no categories")
        object.__setattr__(self, "categories", cats)
