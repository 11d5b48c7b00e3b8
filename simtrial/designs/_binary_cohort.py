"""Shared machinery of the binary-endpoint designs: cohorts as counts, seeded in blocks.

Binary trials need no event times, so a simulated trial is a table of counts
and everything is vectorised over trials with numpy:

1. **Assessed categories of the enrolled** (``[n_sims, 6]``): a multinomial on
   the normalised ``Population.joint_probabilities()`` summed over the true
   category (screened mix, eligibility, misclassification), or the fixed
   counts per assessed category.
2. **Arms** (``[n_sims, 6, 2]``, last axis control / experimental): permuted
   blocks of ``block_multiple * (control + experimental)`` patients within
   each assessed category.  Complete blocks give the exact ratio; the last,
   partial block is the first ``m`` patients of a shuffled block, so its
   experimental count is hypergeometric.
3. **Responders**: a patient's true category ``t`` given its assessed category
   ``c`` is drawn from ``P(t | c)`` independently of the arm, and it responds
   with ``p[t, arm]``.  The responders of cell ``(c, arm)`` are therefore
   exactly ``Binomial(n[c, arm], q[c, arm])`` with
   ``q[c, arm] = sum_t P(t | c) p[t, arm]``; that one draw per cell is what
   is sampled (the same distribution as drawing each patient's true category).

Seeding: trials are cut into blocks of ``BLOCK_TRIALS``; block ``k`` draws from
``np.random.default_rng([seed, k])`` and always draws a full block (a short
last block is truncated), so trial ``i`` has the same numbers whatever
``n_sims`` is: the first 100 trials of a 10 000-trial run are a 100-trial run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from simtrial.her2 import CATEGORIES, N_CATEGORIES
from simtrial.spec import Population

BLOCK_TRIALS = 1024


def check_run_args(n_sims: int, seed: int) -> tuple[int, int]:
    if isinstance(n_sims, bool) or not isinstance(n_sims, int | np.integer) or n_sims < 1:
        raise ValueError(f"n_sims must be an integer >= 1, got {n_sims!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(n_sims), int(seed)


def trial_blocks(
    n_sims: int, seed: int, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, int, np.random.Generator]]:
    """``(start, stop, rng)`` per block of trials; ``progress(stop - start)`` after each block.

    Callers draw ``BLOCK_TRIALS`` trials from ``rng`` and keep the first ``stop - start``.
    """
    for k, start in enumerate(range(0, n_sims, BLOCK_TRIALS)):
        stop = min(n_sims, start + BLOCK_TRIALS)
        yield start, stop, np.random.default_rng([seed, k])
        if progress is not None:
            progress(stop - start)


@dataclass(frozen=True)
class CohortLaw:
    """How the enrolled patients of one trial are drawn, as arrays.

    ``assessed_probs[c]``: P(assessed = c) among the enrolled (mix), or None.
    ``fixed_counts[c]``: exact enrolled numbers per assessed category, or None.
    ``true_given_assessed[c, t]``: P(true = t | assessed = c) (rows of
    impossible assessed categories are the identity).
    """

    n_patients: int
    assessed_probs: np.ndarray | None
    fixed_counts: np.ndarray | None
    true_given_assessed: np.ndarray

    @property
    def assessed_weights(self) -> np.ndarray:
        """Expected share of the enrolled in each assessed category."""
        if self.fixed_counts is not None:
            return self.fixed_counts / self.fixed_counts.sum()
        return self.assessed_probs

    @property
    def possible_assessed(self) -> np.ndarray:
        return self.assessed_weights > 0

    @property
    def possible_true(self) -> np.ndarray:
        """True categories an enrolled patient can have."""
        rows = self.true_given_assessed[self.possible_assessed]
        return (rows > 0).any(axis=0)

    def draw_assessed(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Enrolled patients per assessed category, ``[size, 6]`` int64."""
        if self.fixed_counts is not None:
            return np.broadcast_to(self.fixed_counts, (size, N_CATEGORIES)).astype(np.int64)
        return rng.multinomial(self.n_patients, self.assessed_probs, size=size).astype(np.int64)


def resolve_n_patients(scenario_n: int | None, override: int | None, population: Population, design: str) -> int:
    """The trial size: the override, else the scenario's, else the fixed counts' sum."""
    n = override if override is not None else scenario_n
    fixed_total = sum(population.fixed_counts.values()) if population.fixed_counts is not None else None
    if n is None:
        if fixed_total is None:
            raise ValueError(f"n_patients: design {design!r} needs n_patients (none given in the scenario)")
        n = fixed_total
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n_patients must be an integer >= 1, got {n!r}")
    if fixed_total is not None and n != fixed_total:
        raise ValueError(
            f"n_patients: population.fixed_counts sum to {fixed_total}, but n_patients is {n}"
        )
    return int(n)


def cohort_law(population: Population, n_patients: int) -> CohortLaw:
    """Flatten a population into the arrays that draw one trial's enrolled patients."""
    if population.fixed_counts is None:
        joint = population.joint_probabilities()  # [true, assessed]
        total = joint.sum()
        joint = joint / total
        assessed = joint.sum(axis=0)
        assessed_probs = assessed / assessed.sum()
        fixed = None
    else:
        fixed = np.array([population.fixed_counts.get(c, 0) for c in range(N_CATEGORIES)], dtype=np.int64)
        assessed_probs = None
        if population.misclassification is None:
            joint = np.eye(N_CATEGORIES)
        else:
            if population.mix is None:
                raise ValueError(
                    "population.mix: with fixed_counts and a misclassification matrix, the prevalence mix of "
                    "true categories is needed to know P(true | assessed)"
                )
            prior = np.array([population.mix.get(c, 0.0) for c in range(N_CATEGORIES)])
            joint = prior[:, None] * population.classification_matrix()
            col = joint.sum(axis=0)
            for c in np.flatnonzero((fixed > 0) & (col <= 0)):
                raise ValueError(
                    f"population.fixed_counts[{CATEGORIES[c]}]: no patient can be assessed as {CATEGORIES[c]} "
                    "under population.mix and population.misclassification"
                )
    col = joint.sum(axis=0)
    safe = np.where(col > 0, col, 1.0)
    posterior = np.where(col[None, :] > 0, joint / safe[None, :], np.eye(N_CATEGORIES))  # [true, assessed]
    return CohortLaw(
        n_patients=int(n_patients),
        assessed_probs=assessed_probs,
        fixed_counts=fixed,
        true_given_assessed=np.ascontiguousarray(posterior.T),
    )


def response_vector(response: Mapping[int, float] | None, law: CohortLaw, field: str) -> np.ndarray:
    """P(response) per true category, ``[6]``; ValueError naming ``field`` if one is missing or invalid.

    Categories no enrolled patient can have are NaN (never used).
    """
    if response is None:
        raise ValueError(f"{field}: the response probability per HER2 category is missing")
    p = np.full(N_CATEGORIES, np.nan)
    for key, value in dict(response).items():
        if isinstance(key, bool) or not isinstance(key, int | np.integer) or not 0 <= int(key) < N_CATEGORIES:
            raise ValueError(f"{field}: keys must be HER2 category codes 0..{N_CATEGORIES - 1}, got {key!r}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{field}[{CATEGORIES[int(key)]}] must be a probability, got {value!r}") from None
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{field}[{CATEGORIES[int(key)]}] must be a probability in [0, 1], got {value!r}")
        p[int(key)] = v
    for t in np.flatnonzero(law.possible_true & np.isnan(p)):
        raise ValueError(
            f"{field}[{CATEGORIES[t]}] is missing: the population enrols patients whose true category is "
            f"{CATEGORIES[t]}"
        )
    return p


def response_given_assessed(p_true: np.ndarray, law: CohortLaw) -> np.ndarray:
    """``q[c] = sum_t P(t | c) p[t]``, ``[6]`` (0 for assessed categories that cannot occur)."""
    p = np.where(law.possible_true, np.nan_to_num(p_true, nan=0.0), 0.0)
    q = law.true_given_assessed @ p
    return np.where(law.possible_assessed, np.clip(q, 0.0, 1.0), 0.0)


def check_allocation(allocation: tuple[int, int], block_multiple: int) -> tuple[int, int, int]:
    try:
        ctrl, expt = (int(a) for a in allocation)
    except (TypeError, ValueError):
        raise ValueError(f"allocation must be two integers (control, experimental), got {allocation!r}") from None
    if ctrl < 1 or expt < 1 or (ctrl, expt) != tuple(allocation):
        raise ValueError(f"allocation must be two integers >= 1 (control, experimental), got {allocation!r}")
    if isinstance(block_multiple, bool) or not isinstance(block_multiple, int | np.integer) or block_multiple < 1:
        raise ValueError(f"block_multiple must be an integer >= 1, got {block_multiple!r}")
    return ctrl, expt, int(block_multiple)


def allocate_blocks(
    rng: np.random.Generator, counts: np.ndarray, allocation: tuple[int, int], block_multiple: int
) -> np.ndarray:
    """Split per-category counts ``[..., 6]`` into arms by permuted blocks: ``[..., 6, 2]``."""
    ctrl, expt = allocation
    block = block_multiple * (ctrl + expt)
    good = block_multiple * expt
    full, rest = np.divmod(counts, block)
    extra = rng.hypergeometric(good, block - good, rest) if rest.size else rest
    n_exp = full * good + extra
    return np.stack([counts - n_exp, n_exp], axis=-1)


def nan_array(n: int) -> np.ndarray:
    return np.full(n, np.nan)
