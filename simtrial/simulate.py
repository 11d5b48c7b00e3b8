"""Run n_sims trials of a TrialSpec on the engine and return every trial's statistics.

This is the one flattening adapter between the spec objects and the compiled
driver: strings and dataclasses become integer codes and float arrays here,
once per run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd

from simtrial import __version__
from simtrial.engine import layout
from simtrial.engine.cohort import PAIR_STRIDE
from simtrial.engine.driver import simulate_block_range
from simtrial.engine.models import competing_exponentials, stack_models
from simtrial.engine.trial import generate_one_cohort
from simtrial.her2 import CATEGORIES, N_CATEGORIES
from simtrial.spec import TrialSpec
from simtrial.survival import Exponential

N_CODES = N_CATEGORIES * 4
assert N_CATEGORIES <= PAIR_STRIDE, "category pairs are packed with a stride of PAIR_STRIDE"
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class KernelArgs:
    cohort: tuple
    looks: tuple
    analysis: tuple
    n_random_strata: int


def _stratum_array(mapping, present: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense stratum numbers 0..k-1 over the categories that can occur (others map to 0).

    Counting only strata that can hold patients keeps a one-category trial
    unstratified, so it skips the stratified pass rather than repeating it.
    """
    arr = np.arange(N_CATEGORIES, dtype=np.int64)
    if mapping is not None:
        arr = np.array([mapping[c] for c in range(N_CATEGORIES)], dtype=np.int64)
    used = np.unique(arr[present])
    dense = np.zeros(N_CATEGORIES, dtype=np.int64)
    for c in range(N_CATEGORIES):
        hit = np.flatnonzero(used == arr[c])
        dense[c] = hit[0] if hit.size else 0
    return dense, max(int(used.size), 1)


def to_kernel_args(spec: TrialSpec) -> KernelArgs:
    """Flatten a spec into the engine's array arguments (contracts in simtrial.engine.*)."""
    pop = spec.population
    # kernels index a model for every category x arm; categories the
    # population cannot contain get this one, which is never sampled
    never_sampled = Exponential(median_months=1.0).to_kernel()
    rows = []
    for cat in range(N_CATEGORIES):
        row = []
        for arm in spec.arms:
            model = arm.models.get(cat)
            row.append(model.to_kernel() if model is not None else never_sampled)
        rows.append(row)
    model_code, model_params = stack_models(rows)

    if pop.mix is not None and pop.fixed_counts is None:
        # pairs are indexed true * PAIR_STRIDE + assessed (see simtrial.engine.cohort)
        joint = np.zeros((N_CATEGORIES, PAIR_STRIDE))
        joint[:, :N_CATEGORIES] = pop.joint_probabilities()
        joint = joint.ravel() / joint.sum()
        pair_cum = np.cumsum(joint)
        pair_cum[np.flatnonzero(joint > 0)[-1]:] = 1.0
        nonzero = np.flatnonzero(joint > 0)
        single_pair = int(nonzero[0]) if nonzero.size == 1 else -1
        fixed = np.zeros(0, dtype=np.int64)
        true_given_assessed = np.eye(N_CATEGORIES).cumsum(axis=1)
        identity = True
    else:
        pair_cum = np.ones(N_CATEGORIES * PAIR_STRIDE)
        single_pair = -1
        fixed = np.array([pop.fixed_counts.get(c, 0) for c in range(N_CATEGORIES)], dtype=np.int64)
        identity = pop.misclassification is None
        true_given_assessed = np.cumsum(pop.true_given_assessed(), axis=1)
        true_given_assessed[:, -1] = 1.0

    present = np.array(pop.assessed_categories(), dtype=np.int64)
    rand_stratum, n_random_strata = _stratum_array(spec.randomization_strata, present)
    ctrl, expt = spec.allocation
    template = np.array([0] * ctrl + [1] * expt, dtype=np.int64)
    block_template = np.tile(template, spec.block_multiple)
    # simple randomisation: P(experimental) per patient; < 0 selects permuted blocks (simtrial.engine.cohort)
    p_simple = expt / (ctrl + expt) if spec.randomisation == "simple" else -1.0
    breaks, cum = spec.accrual.entry_law(spec.n_patients)
    dropout = np.array([a.dropout_hazard_per_month for a in spec.arms], dtype=np.float64)
    cohort = (
        spec.n_patients, N_CATEGORIES, pair_cum.astype(np.float64), single_pair, fixed,
        np.ascontiguousarray(true_given_assessed, dtype=np.float64), identity, rand_stratum,
        block_template, breaks.astype(np.float64), cum.astype(np.float64), model_code, model_params,
        *competing_exponentials(model_code, model_params, dropout), dropout, float(p_simple),
    )
    look_events = np.array([c.target_events or 0 for c in spec.cuts], dtype=np.int64)
    look_calendar = np.array(
        [c.calendar_months if c.calendar_months is not None else math.inf for c in spec.cuts], dtype=np.float64
    )
    analysis_stratum, n_strata = _stratum_array(spec.analysis_strata, present)
    code_category = np.arange(N_CODES) >> 2
    populations = [tuple(range(N_CATEGORIES))] + [s.categories for s in spec.subgroups]
    code_in_pop = np.array([np.isin(code_category, cats) for cats in populations], dtype=np.bool_)
    code_stratum = analysis_stratum[code_category].astype(np.int64)
    analysis = (
        code_in_pop, code_stratum, n_strata, float(spec.fh_rho), float(spec.fh_gamma),
        np.array(spec.landmark_months, dtype=np.float64),
    )
    return KernelArgs(cohort, (look_events, look_calendar), analysis, n_random_strata)


@dataclass(frozen=True)
class SimulationResult:
    """Per-trial statistics of a run.

    ``stats[trial, look, population, field]`` with ``fields`` naming the last
    axis; ``cut_months[trial, look]``, ``enrolled[trial, look]`` and
    ``flags[trial, look, population]`` (bit set, see ``simtrial.engine.layout``).
    The spec, seed and versions are kept so the run can be reproduced.
    """

    spec: TrialSpec
    n_sims: int
    seed: int
    fields: tuple[str, ...]
    populations: tuple[str, ...]
    stats: np.ndarray = field(repr=False)
    cut_months: np.ndarray = field(repr=False)
    enrolled: np.ndarray = field(repr=False)
    flags: np.ndarray = field(repr=False)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def n_looks(self) -> int:
        return self.stats.shape[1]

    def field(self, name: str, look: int = -1, population: int | str = 0) -> np.ndarray:
        """One statistic across trials, e.g. ``result.field("logrank_z")``."""
        if isinstance(population, str):
            population = self.populations.index(population)
        try:
            j = self.fields.index(name)
        except ValueError:
            raise KeyError(f"unknown field {name!r}; fields are {', '.join(self.fields)}") from None
        return self.stats[:, look, population, j]

    def to_frame(self) -> pd.DataFrame:
        """One row per (trial, look, population), one column per statistic."""
        n, n_looks, n_pop, n_fields = self.stats.shape
        frame = pd.DataFrame(self.stats.reshape(n * n_looks * n_pop, n_fields), columns=list(self.fields))
        frame.insert(0, "trial", np.repeat(np.arange(n), n_looks * n_pop))
        frame.insert(1, "look", np.tile(np.repeat(np.arange(1, n_looks + 1), n_pop), n))
        frame.insert(2, "population", np.tile(np.array(self.populations, dtype=object), n * n_looks))
        frame.insert(3, "cut_months", np.repeat(self.cut_months.ravel(), n_pop))
        frame.insert(4, "enrolled", np.repeat(self.enrolled.ravel(), n_pop))
        frame["flags"] = self.flags.ravel()
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_sims": self.n_sims,
            "seed": self.seed,
            "fields": list(self.fields),
            "populations": list(self.populations),
            "stats": self.stats.tolist(),
            "cut_months": self.cut_months.tolist(),
            "enrolled": self.enrolled.tolist(),
            "flags": self.flags.tolist(),
            "versions": dict(self.versions),
        }

    def flag_counts(self) -> dict[str, int]:
        return {name: int(((self.flags & bit) != 0).sum()) for bit, name in layout.FLAG_NAMES.items()}


def _versions() -> dict[str, str]:
    return {"simtrial": __version__, "numba": numba.__version__, "numpy": np.__version__}


def simulate(
    spec: TrialSpec,
    n_sims: int,
    seed: int,
    *,
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
    first_trial: int = 0,
) -> SimulationResult:
    """Simulate ``n_sims`` trials of ``spec``; trial i uses the stream (seed, first_trial + i).

    ``progress(k)`` is called after every chunk with the number of trials just
    finished.  Results do not depend on ``threads`` or on the chunking.
    """
    if not isinstance(n_sims, int | np.integer) or n_sims < 1:
        raise ValueError(f"n_sims must be an integer >= 1, got {n_sims!r}")
    if not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    if not isinstance(first_trial, int | np.integer) or first_trial < 0:
        raise ValueError(f"first_trial must be an integer >= 0, got {first_trial!r}")
    if threads is not None and (not isinstance(threads, int | np.integer) or threads < 1):
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    args = to_kernel_args(spec)
    n_sims = int(n_sims)
    n_looks = len(spec.cuts)
    n_pop = 1 + len(spec.subgroups)
    fields = layout.FIELDS + layout.landmark_fields(spec.landmark_months)
    stats = np.empty((n_sims, n_looks, n_pop, len(fields)), dtype=np.float64)
    cut = np.empty((n_sims, n_looks), dtype=np.float64)
    enrolled = np.empty((n_sims, n_looks), dtype=np.int64)
    flags = np.empty((n_sims, n_looks, n_pop), dtype=np.int32)

    previous_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    try:
        # chunks only pace the progress bar: every trial's stream is fixed by its index
        chunk = n_sims if progress is None else max(256, n_sims // 50)
        for start in range(0, n_sims, chunk):
            stop = min(n_sims, start + chunk)
            simulate_block_range(
                int(seed), int(first_trial) + start, stop - start, args.cohort, args.looks, args.analysis,
                args.n_random_strata, stats[start:stop], cut[start:stop], enrolled[start:stop], flags[start:stop],
            )
            if progress is not None:
                progress(stop - start)
    finally:
        numba.set_num_threads(previous_threads)
    return SimulationResult(
        spec=spec, n_sims=n_sims, seed=int(seed), fields=fields, populations=spec.population_names,
        stats=stats, cut_months=cut, enrolled=enrolled, flags=flags, versions=_versions(),
    )


def patient_data(spec: TrialSpec, seed: int, trial: int = 0) -> pd.DataFrame:
    """The patients of one simulated trial (as generated, before any cut): for inspection and tests."""
    if not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    if not isinstance(trial, int | np.integer) or trial < 0:
        raise ValueError(f"trial must be an integer >= 0, got {trial!r}")
    args = to_kernel_args(spec)
    entry, x, pcode, true_category = generate_one_cohort(int(seed), int(trial), args.cohort, args.n_random_strata)
    assessed = pcode >> 2
    return pd.DataFrame(
        {
            "entry_months": entry,
            "time_to_event_or_dropout_months": x,
            "event": (pcode & 1).astype(np.int8),
            "arm": ((pcode >> 1) & 1).astype(np.int8),
            "assessed_category": pd.Categorical.from_codes(assessed, CATEGORIES),
            "true_category": pd.Categorical.from_codes(true_category, CATEGORIES),
        }
    )
