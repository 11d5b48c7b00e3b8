"""Parallel driver: blocks of trials over threads; each trial seeded from (seed, trial index).

Parallel over blocks only, each block allocating its scratch once, so memory is
O(threads x patients) and per-trial statistics are the only O(n_sims) data.
Because a trial's stream depends on nothing but (seed, its index), results are
bit-identical for any thread count, block size or chunking of the run.
"""

from __future__ import annotations

from numba import prange

from simtrial.engine._jit import parallel_kernel
from simtrial.engine.rng import seed_stream
from simtrial.engine.trial import allocate_scratch, simulate_trial

BLOCK_SIZE = 32


@parallel_kernel
def simulate_block_range(
    seed, first_trial, n_sims, cohort, looks, analysis, n_random_strata, out_stats, out_cut,
    out_enrolled, out_flags,
):
    """Simulate trials first_trial .. first_trial + n_sims - 1 into rows 0 .. n_sims - 1 of the outputs."""
    n = cohort[0]
    n_categories = cohort[1]
    block_size = cohort[8].shape[0]
    n_strata = analysis[2]
    n_blocks = (n_sims + BLOCK_SIZE - 1) // BLOCK_SIZE
    for b in prange(n_blocks):
        scratch = allocate_scratch(n, n_categories, n_random_strata, block_size, n_strata)
        state = scratch[13]
        stop = min(n_sims, (b + 1) * BLOCK_SIZE)
        for t in range(b * BLOCK_SIZE, stop):
            seed_stream(state, seed, first_trial + t)
            simulate_trial(
                state, cohort, looks, analysis, scratch,
                out_stats[t], out_cut[t], out_enrolled[t], out_flags[t],
            )
