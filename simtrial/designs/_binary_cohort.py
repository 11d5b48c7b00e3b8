"""Shared machinery of the binary-endpoint designs: cohorts as counts, seeded in blocks.

Binary trials need no event times, so a simulated trial is a table of counts
and everything is vectorised over trials with numpy:

1. **Assessed categories of the enrolled** (``[n_sims, 6]``): a multinomial on
   the normalised ``Population.joint_probabilities()`` summed over the true
   category (screened mix, eligibility, misclassification), or the fixed
   counts per assessed category.
2. **Arms** (``[n_sims, 6, 2]``, last axis control / experimental), by the
   scenario's ``randomisation``: permuted blocks of
   ``block_multiple * (control + experimental)`` patients within each
   randomisation stratum (by default each assessed category).  Complete blocks
   give the exact ratio; the last, partial block is the first ``m`` patients of
   a shuffled block, so its experimental count is hypergeometric.  A stratum of
   several categories draws its experimental total that way and splits it over
   its categories by a multivariate hypergeometric draw (patients arrive in
   random category order, independently of the block sequence).  Simple
   randomisation: ``Binomial(n[c], b / (a + b))`` experimental patients per
   category.
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

Where blocks run: each design's per-block work is a picklable :class:`BlockTask`
(numpy arrays and scalars only), ``task(first_trial, n)`` returning the
per-trial results of trials ``first_trial .. first_trial + n - 1`` as a dict of
arrays; :func:`run_blocks` hands it to an executor (``simtrial.executors``:
local threads, dask workers) one block per range and merges the pieces by
trial index.  A piece that does not start or end on a block boundary redraws
its whole block and keeps its part, so any executor, splitting and order give
the same numbers.

Per-trial response probabilities (``TrialParameters.response_probability``,
assurance): trial ``i`` responds with row ``i`` where it is not NaN; its cell
probabilities ``q[c, arm] = sum_t P(t | c) p[t, arm]`` replace the scenario's
in the one binomial draw per cell, which stays where it was in the block's
stream.  A row that changes nothing (all NaN, or equal to the scenario's
probabilities) gives exactly the scenario's numbers.  Since a block shares one
stream, a changed probability in trial ``i`` also moves the draws of the later
trials of its block (not of other blocks).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrial.errors import InvalidInput, check_n_sims, check_seed
from simtrial.executors import merge_pieces
from simtrial.her2 import CATEGORIES, N_CATEGORIES
from simtrial.spec import Population
from simtrial.trial_parameters import TrialParameters

BLOCK_TRIALS = 1024


def check_run_args(n_sims: int, seed: int) -> tuple[int, int]:
    return check_n_sims(n_sims), check_seed(seed)


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
            raise InvalidInput(f"n_patients: design {design!r} needs n_patients (none given in the scenario)")
        n = fixed_total
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InvalidInput(f"n_patients must be an integer >= 1, got {n!r}")
    if fixed_total is not None and n != fixed_total:
        raise InvalidInput(
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
            # Population checked that mix is given and every counted category can be assessed
            prior = np.array([population.mix.get(c, 0.0) for c in range(N_CATEGORIES)])
            joint = prior[:, None] * population.classification_matrix()
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
        raise InvalidInput(f"{field}: the response probability per HER2 category is missing")
    p = np.full(N_CATEGORIES, np.nan)
    for key, value in dict(response).items():
        if isinstance(key, bool) or not isinstance(key, int | np.integer) or not 0 <= int(key) < N_CATEGORIES:
            raise InvalidInput(f"{field}: keys must be HER2 category codes 0..{N_CATEGORIES - 1}, got {key!r}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"{field}[{CATEGORIES[int(key)]}] must be a probability, got {value!r}") from None
        if not 0.0 <= v <= 1.0:
            raise InvalidInput(f"{field}[{CATEGORIES[int(key)]}] must be a probability in [0, 1], got {value!r}")
        p[int(key)] = v
    for t in np.flatnonzero(law.possible_true & np.isnan(p)):
        raise InvalidInput(
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
        raise InvalidInput(f"allocation must be two integers (control, experimental), got {allocation!r}") from None
    if ctrl < 1 or expt < 1 or (ctrl, expt) != tuple(allocation):
        raise InvalidInput(f"allocation must be two integers >= 1 (control, experimental), got {allocation!r}")
    if isinstance(block_multiple, bool) or not isinstance(block_multiple, int | np.integer) or block_multiple < 1:
        raise InvalidInput(f"block_multiple must be an integer >= 1, got {block_multiple!r}")
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


def stratum_index(strata: Mapping[int, int] | None) -> np.ndarray:
    """Dense stratum number (0..k-1) of each category; None = each category its own stratum."""
    if strata is None:
        return np.arange(N_CATEGORIES, dtype=np.int64)
    missing = [CATEGORIES[c] for c in range(N_CATEGORIES) if c not in strata]
    if missing:
        raise InvalidInput(f"randomisation_strata: no stratum given for {', '.join(missing)}")
    _, dense = np.unique(np.asarray([strata[c] for c in range(N_CATEGORIES)]), return_inverse=True)
    return dense.astype(np.int64)


def allocate_arms(
    rng: np.random.Generator,
    counts: np.ndarray,
    allocation: tuple[int, int],
    block_multiple: int,
    method: str = "permuted_blocks",
    strata: Mapping[int, int] | None = None,
) -> np.ndarray:
    """Split per-category counts ``[..., 6]`` into arms ``[..., 6, 2]`` by the randomisation ``method``.

    ``permuted_blocks`` within ``strata`` (category -> stratum; None = each
    category its own, which is exactly :func:`allocate_blocks`); ``simple``:
    each patient experimental with probability ``b / (a + b)``.
    """
    ctrl, expt = allocation
    if method == "simple":
        if strata is not None:
            raise InvalidInput("randomisation_strata: simple randomisation has no strata")
        n_exp = rng.binomial(counts, expt / (ctrl + expt))
        return np.stack([counts - n_exp, n_exp], axis=-1)
    if method != "permuted_blocks":
        raise InvalidInput(f"randomisation must be permuted_blocks or simple, got {method!r}")
    if strata is None:
        return allocate_blocks(rng, counts, allocation, block_multiple)
    index = stratum_index(strata)
    n_strata = int(index.max()) + 1
    onehot = np.zeros((N_CATEGORIES, n_strata), dtype=np.int64)
    onehot[np.arange(N_CATEGORIES), index] = 1
    left_n = counts @ onehot  # [..., k] patients per stratum not yet split
    left_e = allocate_blocks(rng, left_n, allocation, block_multiple)[..., 1]
    last = {int(s): int(np.flatnonzero(index == s)[-1]) for s in range(n_strata)}
    n_exp = np.zeros_like(counts)
    for c in range(N_CATEGORIES):
        s = int(index[c])
        good = counts[..., c]
        if c == last[s]:
            x = left_e[..., s].copy()  # whatever is left of the stratum's experimental patients
        else:
            x = rng.hypergeometric(good, left_n[..., s] - good, left_e[..., s])
        n_exp[..., c] = x
        left_n[..., s] -= good
        left_e[..., s] -= x
    return np.stack([counts - n_exp, n_exp], axis=-1)


def risk_difference_variance(
    weights: np.ndarray, q: np.ndarray, n_control: float, n_experimental: float, *,
    method: str = "permuted_blocks", strata: Mapping[int, int] | None = None, fixed_counts: bool = False,
) -> float:
    """Large-sample variance of the observed risk difference under the randomisation.

    ``weights[c]``: expected share of the analysed patients in category ``c``
    (summing to 1); ``q[c, arm]``: response probability.  Within each
    randomisation stratum the arms hold the same mix of patients (permuted
    blocks), so only the within-stratum binomial variance counts, plus, for a
    random (multinomial) mix, ``sum_S w_S (delta_S - delta)^2 / n`` from the
    stratum shares; simple randomisation (or ``strata: none``) is one stratum,
    which gives the usual ``p1 q1 / n1 + p0 q0 / n0`` of the mixture rates.
    """
    index = np.zeros(N_CATEGORIES, dtype=np.int64) if method == "simple" else stratum_index(strata)
    n_strata = int(index.max()) + 1
    w = np.bincount(index, weights=weights, minlength=n_strata)
    var = 0.0
    delta = np.zeros(n_strata)
    for s in np.flatnonzero(w > 0):
        rate = np.array([(weights * q[:, arm])[index == s].sum() / w[s] for arm in (0, 1)])
        var += w[s] * (rate[0] * (1 - rate[0]) / n_control + rate[1] * (1 - rate[1]) / n_experimental)
        delta[s] = rate[1] - rate[0]
    if not fixed_counts:
        overall = float((w * delta).sum())
        var += float((w * (delta - overall) ** 2).sum()) / (n_control + n_experimental)
    return float(var)


def nan_array(n: int) -> np.ndarray:
    return np.full(n, np.nan)


# --- blocks behind an executor ------------------------------------------------------


def block_response(
    response_probability: np.ndarray | None, lo: int, size: int, arm: int, p_scenario: np.ndarray
) -> np.ndarray | None:
    """P(response) per true category of trials ``lo .. lo + size - 1`` in ``arm``, ``[size, 6]``; None: all the scenario's.

    NaN entries of the drawn rows (and rows past the drawn ones) take the scenario's value.
    """
    if response_probability is None:
        return None
    rows = response_probability[lo : lo + size, :, arm]
    if not np.isnan(rows).all() or rows.shape[0] < size:
        out = np.broadcast_to(p_scenario, (size, N_CATEGORIES)).copy()
        drawn = ~np.isnan(rows)
        out[: rows.shape[0]][drawn] = rows[drawn]
        return out
    return None


def block_q(p_trials: np.ndarray | None, p_scenario: np.ndarray, q_scenario: np.ndarray, law: CohortLaw) -> np.ndarray:
    """``q[i, c] = sum_t P(t | c) p_trials[i, t]``, ``[size, 6]``; the scenario's ``q`` (exactly) where a row changes nothing.

    A row "changes nothing" when it equals the scenario's probabilities on every
    true category an enrolled patient can have (the only ones ``q`` reads).
    """
    if p_trials is None:
        return q_scenario[None, :]
    possible = law.possible_true
    same = np.all(p_trials[:, possible] == p_scenario[None, possible], axis=1)
    p = np.where(possible[None, :], np.nan_to_num(p_trials, nan=0.0), 0.0)
    q = np.einsum("ct,it->ic", law.true_given_assessed, p)
    q = np.where(law.possible_assessed[None, :], np.clip(q, 0.0, 1.0), 0.0)
    q[same] = q_scenario
    return q


def response_rows(trial_parameters: TrialParameters | None, n_sims: int, design: str) -> np.ndarray | None:
    """The drawn ``response_probability`` rows a binary design uses (None: none), checked against the run."""
    if trial_parameters is None:
        return None
    if not isinstance(trial_parameters, TrialParameters):
        raise InvalidInput(f"trial_parameters must be a TrialParameters, got {type(trial_parameters).__name__}")
    if trial_parameters.changes_event_times:
        raise InvalidInput(
            f"design {design!r} has a binary endpoint: hazard ratios and control hazard multipliers do not apply "
            "(per-trial response_probability does)"
        )
    if trial_parameters.n_sims != n_sims:
        raise InvalidInput(f"trial_parameters hold {trial_parameters.n_sims} trials, the run {n_sims}")
    if trial_parameters.n_categories != N_CATEGORIES:
        raise InvalidInput(f"trial_parameters have {trial_parameters.n_categories} categories, not {N_CATEGORIES}")
    return trial_parameters.response_probability


@dataclass(frozen=True)
class BlockTask(abc.ABC):
    """``task(first_trial, n)``: per-trial results (dict of arrays, length n) of trials first_trial .. first_trial + n - 1.

    Subclasses hold only numpy arrays and scalars (they pickle) and define
    ``block(rng, start, size)``: the results of the ``size`` trials of the block
    starting at trial ``start``, drawn from that block's ``rng`` exactly as a
    serial run draws them.  ``block_align`` tells an executor where blocks
    begin, so it need not cut one in two.
    """

    seed: int
    n_sims: int

    block_align = BLOCK_TRIALS

    @abc.abstractmethod
    def block(self, rng: np.random.Generator, start: int, size: int) -> dict[str, np.ndarray]:
        """The results of trials ``start .. start + size - 1``, drawn from the block's ``rng``."""

    def __call__(self, first_trial: int, n: int) -> dict[str, np.ndarray]:
        first_trial, n = int(first_trial), int(n)
        if n < 1 or first_trial < 0 or first_trial + n > self.n_sims:
            raise ValueError(f"trials {first_trial}..{first_trial + n - 1} are outside the run (0..{self.n_sims - 1})")
        pieces = []
        for k in range(first_trial // BLOCK_TRIALS, (first_trial + n - 1) // BLOCK_TRIALS + 1):
            start = k * BLOCK_TRIALS
            size = min(self.n_sims, start + BLOCK_TRIALS) - start
            rows = self.block(np.random.default_rng([self.seed, k]), start, size)
            lo, hi = max(first_trial, start) - start, min(first_trial + n, start + size) - start
            pieces.append({name: v[lo:hi] for name, v in rows.items()} if (lo, hi) != (0, size) else rows)
        if len(pieces) == 1:
            return pieces[0]
        return {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}


def run_blocks(
    task: BlockTask, n_sims: int, executor: Any = None, progress: Callable[[int], None] | None = None
) -> dict[str, np.ndarray]:
    """Every trial's results: ``task`` over blocks of ``BLOCK_TRIALS`` trials, here or on ``executor``, merged by trial index.

    ``progress(k)`` after each piece of ``k`` trials.  Raises RuntimeError if the
    executor loses, doubles or mangles trials.
    """
    ranges = [(a, min(n_sims, a + BLOCK_TRIALS)) for a in range(0, n_sims, BLOCK_TRIALS)]
    if executor is None:
        pieces: Any = ((a, b, task(a, b - a)) for a, b in ranges)
    elif callable(getattr(executor, "map_ranges", None)):
        pieces = executor.map_ranges(task, ranges)
    else:
        raise InvalidInput(f"executor must have a map_ranges(task, ranges) method, got {executor!r}")
    merged: dict[str, np.ndarray] = {}

    def place(lo: int, hi: int, start: int, stop: int, rows) -> None:
        if not isinstance(rows, dict) or any(
            not isinstance(v, np.ndarray) or v.shape[:1] != (hi - lo,) for v in rows.values()
        ):
            raise RuntimeError(f"{executor!r} returned malformed rows for trials {lo}..{hi - 1}")
        if not merged:
            merged.update({name: np.empty((n_sims, *v.shape[1:]), dtype=v.dtype) for name, v in rows.items()})
        if set(rows) != set(merged):
            raise RuntimeError(f"{executor!r} returned other fields for trials {lo}..{hi - 1}")
        for name, v in rows.items():
            merged[name][lo:hi] = v

    merge_pieces(executor, pieces, 0, n_sims, place, progress)
    return merged
