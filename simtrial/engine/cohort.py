"""Generate one trial's patients into caller-owned scratch arrays.

Array contract (patients indexed in order of calendar entry, i = 0..n-1)::

    entry[i]   float64  calendar entry (months), non-decreasing in i
    x[i]       float64  time from entry to the first of event or dropout (months; +inf possible)
    pcode[i]   int64    packed (category, arm, status): ((assessed_category * 2 + arm) * 2 + event)
                        event = 1 if the event came before dropout
    true_category[i] int64  the category that drew the event time

Arms: 0 = control, 1 = experimental.  A patient's *true* IHC category picks its
event-time model; its *assessed* category (the one a lab reports) drives
enrolment, block randomisation and every stratified analysis.

Random draws per patient: one Exp(1) for the entry spacing, one for the event,
one for the dropout (or, when both are exponential, one Exp(1) for the first of
the two and one uniform for which it was), one uniform for the category pair (skipped when only one
pair is possible) and about one for the permuted block.

Randomisation: ``p_simple < 0`` allocates by permuted blocks of ``block_template``
within randomisation strata (``randomization_stratum[assessed category]``);
``p_simple`` in (0, 1) is simple randomisation instead: each patient is
experimental with probability ``p_simple``, from one uniform of its own (which
replaces the block draws, so the permuted-block stream is untouched).
"""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import kernel
from simtrial.engine.eventtime import event_time
from simtrial.engine.rng import randint, standard_exponential, uniform

# a (true, assessed) category pair is true * PAIR_STRIDE + assessed: a shift
# and a mask to unpack, where dividing by the number of categories would cost
# an integer division (~25 cycles) per patient
PAIR_SHIFT = 3
PAIR_STRIDE = 1 << PAIR_SHIFT


@kernel
def pack_code(category, arm, event):
    return (category * 2 + arm) * 2 + event


@kernel
def _draw_pair(state, pair_cum, single_pair):
    if single_pair >= 0:
        return single_pair  # one possible pair: no draw
    return _draw_from_row(state, pair_cum)


@kernel
def _draw_from_row(state, cum_row):
    """Index drawn from cumulative probabilities ``cum_row`` (last entry 1)."""
    u = uniform(state)
    j = 0
    last = cum_row.shape[0] - 1
    while j < last and cum_row[j] <= u:
        j += 1
    return j


@kernel
def _shuffle(state, values, n):
    for i in range(n - 1, 0, -1):
        j = randint(state, i + 1)
        tmp = values[i]
        values[i] = values[j]
        values[j] = tmp


@kernel
def _sorted_entry_times(state, n, accrual_breaks, accrual_cum, entry):
    """n sorted draws from the piecewise-uniform accrual law, without a sort.

    Uniform order statistics are normalised partial sums of n + 1 Exp(1)
    spacings; mapping them through the (monotone) inverse accrual CDF keeps
    them sorted.
    """
    total = 0.0
    for i in range(n):
        total += standard_exponential(state)
        entry[i] = total
    scale = 1.0 / (total + standard_exponential(state))
    seg = 0
    last = accrual_breaks.shape[0] - 2
    lo, start, slope = _segment(accrual_breaks, accrual_cum, seg)
    for i in range(n):
        u = entry[i] * scale
        while seg < last and accrual_cum[seg + 1] < u:
            seg += 1
            lo, start, slope = _segment(accrual_breaks, accrual_cum, seg)
        entry[i] = start + (u - lo) * slope


@kernel
def _segment(accrual_breaks, accrual_cum, seg):
    """(cumulative probability at its start, start time, months per unit probability) of one accrual piece."""
    lo = accrual_cum[seg]
    width = accrual_cum[seg + 1] - lo
    slope = (accrual_breaks[seg + 1] - accrual_breaks[seg]) / width if width > 0.0 else 0.0
    return lo, accrual_breaks[seg], slope


@kernel
def generate_cohort(cohort, scratch):
    """Fill ``scratch.entry``, ``x``, ``pcode`` and ``true_category`` for one trial (see the module contract).

    ``cohort`` is a ``CohortArgs`` record, ``scratch`` a ``Scratch`` record
    (``simtrial.engine.records``) whose ``rng_state`` is already seeded.
    ``cohort.competing_inv_total[c, a]`` > 0 marks a plain exponential model, which
    takes the competing-exponentials shortcut: it holds 1 / (event hazard +
    dropout hazard), and ``competing_p_event[c, a]`` the event's share.
    ``fixed_assessed`` holds per-category counts (sum n) for fixed-count
    enrolment, or is empty for enrolment from the prevalence mix ``pair_cum``
    (cumulative probabilities over true * PAIR_STRIDE + assessed).
    """
    state = scratch.rng_state
    n = cohort.n_patients
    n_categories = cohort.n_categories
    pair_cum = cohort.pair_cum
    single_pair = cohort.single_pair
    fixed_assessed = cohort.fixed_assessed
    true_given_assessed_cum = cohort.true_given_assessed_cum
    identity_classification = cohort.identity_classification
    randomization_stratum = cohort.randomization_stratum
    block_template = cohort.block_template
    p_simple = cohort.p_simple
    model_code = cohort.model_code
    model_params = cohort.model_params
    competing_inv_total = cohort.competing_inv_total
    competing_p_event = cohort.competing_p_event
    dropout_hazard = cohort.dropout_hazard
    block_state = scratch.block_state
    block_pos = scratch.block_pos
    entry = scratch.entry
    x = scratch.x
    pcode = scratch.pcode
    true_category = scratch.true_category
    assessed_scratch = scratch.assessed

    block_size = block_template.shape[0]
    block_pos[:] = block_size  # every stratum starts a fresh block
    _sorted_entry_times(state, n, cohort.accrual_breaks, cohort.accrual_cum, entry)

    fixed = fixed_assessed.shape[0] > 0
    if fixed:
        k = 0
        for c in range(n_categories):
            for _ in range(fixed_assessed[c]):
                assessed_scratch[k] = c
                k += 1
        _shuffle(state, assessed_scratch, n)

    for i in range(n):
        if fixed:
            assessed = assessed_scratch[i]
            if identity_classification:
                true_cat = assessed
            else:
                true_cat = _draw_from_row(state, true_given_assessed_cum[assessed])
        else:
            pair = _draw_pair(state, pair_cum, single_pair)
            true_cat = pair >> PAIR_SHIFT
            assessed = pair & (PAIR_STRIDE - 1)

        true_category[i] = true_cat
        if p_simple >= 0.0:
            arm = np.int64(uniform(state) < p_simple)
        else:
            # permuted block of the patient's randomisation stratum, inline: as a called kernel
            # (not inlined by LLVM) it cost ~30 us per 1000-patient trial, +70% of the engine
            rs = randomization_stratum[assessed]
            if block_pos[rs] >= block_size:
                for j in range(block_size):
                    block_state[rs, j] = block_template[j]
                for j in range(block_size - 1, 0, -1):
                    m = randint(state, j + 1)
                    tmp = block_state[rs, j]
                    block_state[rs, j] = block_state[rs, m]
                    block_state[rs, m] = tmp
                block_pos[rs] = 0
            arm = block_state[rs, block_pos[rs]]
            block_pos[rs] += 1

        hazard = dropout_hazard[arm]
        inv_total = competing_inv_total[true_cat, arm]
        if inv_total > 0.0:
            # competing exponentials: the first of event and dropout is Exp(rate + hazard)
            # and it is the event with probability rate / (rate + hazard)
            x[i] = standard_exponential(state) * inv_total
            # a comparison, not a branch: p_event = 1 without dropout, and u < 1 always
            event = np.int64(uniform(state) < competing_p_event[true_cat, arm])
            pcode[i] = pack_code(assessed, arm, event)
            continue
        t_event = event_time(model_code[true_cat, arm], model_params[true_cat, arm], standard_exponential(state))
        t_drop = standard_exponential(state) / hazard if hazard > 0.0 else np.inf
        # a cured patient (t_event = inf) never has an event, even with no dropout (t_drop = inf)
        if t_event <= t_drop and t_event < np.inf:
            x[i] = t_event
            pcode[i] = pack_code(assessed, arm, 1)
        else:
            x[i] = t_drop
            pcode[i] = pack_code(assessed, arm, 0)
