"""Parallel driver: blocks of trials over threads; each trial seeded from (seed, trial index).

Parallel over blocks only, each block allocating its scratch once, so memory is
O(threads x patients) and per-trial statistics are the only O(n_sims) data.
Because a trial's stream depends on nothing but (seed, its index), results are
bit-identical for any thread count, block size or chunking of the run.

The ``prange`` body only calls the serial kernel :func:`simulate_block`: numba's
parallel lowering silently drops writes to arrays reached through a namedtuple
field inside a ``prange`` loop (numba issues #7135, #5872, #10338: still open in
numba 0.68), so no record field is touched in the parallel loop itself.

Per-trial parameter variants: ``trial_variant[t]`` is the row of ``variants``
(a ``VariantArgs`` table) that trial row t reads its parameters from.
:func:`simulate_block` makes that row's ``CohortArgs`` (views, see
``simtrial.engine.records.variant_cohort``) once per change of variant, so a
plain run (V = 1) makes it once per block and the per-patient loops are
untouched.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from simtrial.engine._jit import kernel, parallel_kernel
from simtrial.engine.records import allocate_scratch, variant_cohort
from simtrial.engine.rng import seed_stream
from simtrial.engine.trial import ALL_STAGES, population_aliases, simulate_trial

BLOCK_SIZE = 32


@kernel
def simulate_block(
    seed, first_trial, start, stop, cohort, variants, trial_variant, looks, analysis,
    out_stats, out_cut, out_enrolled, out_flags, last_stage,
):
    """Trials first_trial + start .. first_trial + stop - 1 into rows start .. stop - 1, on one scratch.

    Row t reads its parameters from row ``trial_variant[t]`` of ``variants``.
    """
    scratch = allocate_scratch(
        cohort.n_patients, cohort.n_random_strata, cohort.block_template.shape[0], analysis.n_strata
    )
    state = scratch.rng_state
    v = trial_variant[start]
    trial_cohort = variant_cohort(cohort, variants, v)
    alias = np.empty(analysis.code_in_pop.shape[0], dtype=np.int64)
    population_aliases(trial_cohort, analysis.code_in_pop, alias)
    for t in range(start, stop):
        if trial_variant[t] != v:
            v = trial_variant[t]
            trial_cohort = variant_cohort(cohort, variants, v)
            population_aliases(trial_cohort, analysis.code_in_pop, alias)
        seed_stream(state, seed, first_trial + t)
        simulate_trial(
            trial_cohort, looks, analysis, scratch, alias, out_stats[t], out_cut[t], out_enrolled[t], out_flags[t],
            last_stage,
        )


@parallel_kernel
def simulate_block_range(
    seed, first_trial, n_sims, cohort, variants, trial_variant, looks, analysis,
    out_stats, out_cut, out_enrolled, out_flags,
):
    """Simulate trials first_trial .. first_trial + n_sims - 1 into rows 0 .. n_sims - 1 of the outputs.

    ``cohort``, ``variants``, ``looks``, ``analysis``: the records of ``simtrial.engine.records``;
    ``trial_variant``: int64[n_sims], the variant (row of ``variants``) of each output row.
    """
    n_blocks = (n_sims + BLOCK_SIZE - 1) // BLOCK_SIZE
    for b in prange(n_blocks):
        simulate_block(
            seed, first_trial, b * BLOCK_SIZE, min(n_sims, (b + 1) * BLOCK_SIZE), cohort, variants, trial_variant,
            looks, analysis, out_stats, out_cut, out_enrolled, out_flags, ALL_STAGES,
        )


@kernel
def profile_block_range(
    seed, first_trial, n_sims, cohort, variants, trial_variant, looks, analysis,
    out_stats, out_cut, out_enrolled, out_flags, last_stage,
):
    """:func:`simulate_block_range` serially (one thread), each trial stopped after stage ``last_stage``.

    For the benchmark's per-stage profile (``simtrial.engine.trial.STAGES``); the
    blocks and their scratch are those of a real run.
    """
    for start in range(0, n_sims, BLOCK_SIZE):
        simulate_block(
            seed, first_trial, start, min(n_sims, start + BLOCK_SIZE), cohort, variants, trial_variant,
            looks, analysis, out_stats, out_cut, out_enrolled, out_flags, last_stage,
        )
