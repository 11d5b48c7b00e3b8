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

Random draws, in this order (a "fill" is one ``simtrial.engine.rng.fill_uniforms``
call: one draw of the trial's stream keys its 16 lanes): a fill of n uniforms
for the entry spacings and one uniform for the last spacing, a fill of n
uniforms u1 (event time; competing exponentials: the first of event and
dropout), a fill of n uniforms u2 (dropout; competing exponentials: which of
the two came first; with no dropout in either arm it decides nothing, and only
the fill's one draw of the stream is taken), then, under enrolment from the prevalence mix with more
than one possible (true, assessed) pair, a fill of n uniforms for the pairs;
then the randomisation.  With no misclassification draw between them and one
randomisation stratum (or simple randomisation), the arms are made in bulk
from one fill (``_bulk_arms``: one uniform a patient for simple randomisation,
block_size - 1 a block, step-major, for permuted blocks).  Otherwise patient by
patient from the stream itself (about one uniform per patient for permuted
blocks, one for simple randomisation; permuted blocks in several strata take
these same draws in bulk, in the walk's order: ``_stratified_bulk_arms``), preceded under fixed-count enrolment by
the shuffle of the assessed categories and, with misclassification, one uniform
per patient for its true category.  Every u1 and spacing becomes an Exp(1) draw through one
vectorised ``-log`` pass (``simtrial.engine.fastmath``), and every u2 too unless
every model of the categories drawn is a plain exponential (then u2 only
decides event or dropout, and x is one multiply: the one-stratum exponential
fast path).

Randomisation: ``p_simple < 0`` allocates by permuted blocks of ``block_template``
within randomisation strata (``randomization_stratum[assessed category]``);
``p_simple`` in (0, 1) is simple randomisation instead: each patient is
experimental with probability ``p_simple``, from one uniform of its own (which
replaces the block draws, so the permuted-block stream is untouched).
"""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import inlined_kernel, kernel
from simtrial.engine.entry import ENTRY_UNIFORM, shaped_entry
from simtrial.engine.eventtime import event_time
from simtrial.engine.fastmath import neg_log_inplace, weibull_coefficients, weibull_times_gathered
from simtrial.engine.models import MODEL_WEIBULL
from simtrial.engine.rng import _scale_below, fill_uniforms, next_u64, randint, uniform

# a (true, assessed) category pair is true * PAIR_STRIDE + assessed: a shift
# and a mask to unpack, where dividing by the number of categories would cost
# an integer division (~25 cycles) per patient
# 4 bits hold the 12 IHC x HR-status cells (simtrial.her2.Cells); pairs are drawn
# in (true, assessed) order whatever the stride, so the stride never changes a stream
PAIR_SHIFT = 4
PAIR_STRIDE = 1 << PAIR_SHIFT

# how pass 3 of generate_cohort turns a patient's Exp(1) draws into x, per (true category, arm)
_KIND_COMPETING = 0  # plain exponential event and dropout: x = E1 / (rate + hazard)
_KIND_WEIBULL = 1  # Weibull without cure: closed form, one vectorised pass (simtrial.engine.fastmath)
_KIND_GENERAL = 2  # any other model: simtrial.engine.eventtime.event_time


@kernel
def pack_code(category, arm, event):
    return (category * 2 + arm) * 2 + event


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
def _sorted_entry_times(n, last_spacing, accrual_breaks, accrual_cum, accrual_kind, accrual_shape, entry):
    """n sorted draws from the piecewise entry law, without a sort; ``entry`` holds n Exp(1) spacings.

    Uniform order statistics are normalised partial sums of n + 1 Exp(1)
    spacings (the last is ``last_spacing``); mapping them through the (monotone)
    inverse accrual CDF keeps them sorted.  Uniform pieces map as they always
    have (bit for bit); shaped pieces (``simtrial.spec.accrual``: truncated
    exponential, linear density) through their closed-form inverse, clamped to
    the piece and to the previous entry so rounding cannot unsort them.
    """
    total = 0.0
    for i in range(n):
        total += entry[i]
        entry[i] = total
    scale = 1.0 / (total + last_spacing)
    seg = 0
    last = accrual_breaks.shape[0] - 2
    lo, start, slope = _segment(accrual_breaks, accrual_cum, seg)
    kind = accrual_kind[seg]
    if kind == ENTRY_UNIFORM and accrual_cum[1] >= 1.0:
        # one uniform piece holds every entry (u < 1 never reaches the next): the loop below's
        # numbers without its walk over the pieces, which vectorises (0.6 -> 0.1 us for 1000 patients)
        for i in range(n):
            entry[i] = start + (entry[i] * scale - lo) * slope
        return
    previous = -np.inf
    for i in range(n):
        u = entry[i] * scale
        while seg < last and accrual_cum[seg + 1] < u:
            seg += 1
            lo, start, slope = _segment(accrual_breaks, accrual_cum, seg)
            kind = accrual_kind[seg]
        if kind == ENTRY_UNIFORM:
            entry[i] = start + (u - lo) * slope
        else:
            v = shaped_entry(kind, accrual_shape[seg], start, accrual_breaks[seg + 1], lo, accrual_cum[seg + 1], u)
            entry[i] = max(v, previous)
        previous = entry[i]


@kernel
def _segment(accrual_breaks, accrual_cum, seg):
    """(cumulative probability at its start, start time, months per unit probability) of one accrual piece."""
    lo = accrual_cum[seg]
    width = accrual_cum[seg + 1] - lo
    slope = (accrual_breaks[seg + 1] - accrual_breaks[seg]) / width if width > 0.0 else 0.0
    return lo, accrual_breaks[seg], slope


@kernel
def _compact_pairs(pair_cum, pair_value, pair_cum_compact):
    """The pairs that can occur (positive probability) and their cumulative probabilities; returns their count.

    Drawing from this table picks exactly the pair the scan of the full ``pair_cum``
    picks for the same uniform (a zero-probability entry repeats the cumulative value
    before it, so the first entry above ``u`` is never one of them), in a few
    comparisons instead of up to C * P.
    """
    k = 0
    prev = 0.0
    for j in range(pair_cum.shape[0]):
        c = pair_cum[j]
        if c > prev:
            pair_value[k] = j
            pair_cum_compact[k] = c
            k += 1
            prev = c
    pair_cum_compact[k - 1] = 1.0
    return k


@kernel
def _pair_draws(pair_u, pair_cum, pair_value, n_pairs, n, p_event, pair, p0, p1):
    """``pair[i]``: the pair the uniform ``pair_u[i]`` draws from the compact table (:func:`_compact_pairs`).

    And ``p0[i]``, ``p1[i]``: ``p_event`` (flat, true category * 2 + arm) of its true
    category in each arm.  The scan's pick (the first row whose cumulative probability
    exceeds u, the last row at most) as a chain of selects: rows are increasing, so the
    last row whose predecessor's cumulative probability is at most u is the one.  One
    comparison per row and patient in loops over patients that vectorise, where the
    scan's exit was a mispredicted branch per patient and a gather from the table
    per patient kept the loops that read the pair from vectorising.
    """
    v = pair_value[0]
    q0 = p_event[(v >> PAIR_SHIFT) * 2]
    q1 = p_event[(v >> PAIR_SHIFT) * 2 + 1]
    for i in range(n):
        pair[i] = v
        p0[i] = q0
        p1[i] = q1
    for j in range(n_pairs - 1):
        c = pair_cum[j]
        v = pair_value[j + 1]
        q0 = p_event[(v >> PAIR_SHIFT) * 2]
        q1 = p_event[(v >> PAIR_SHIFT) * 2 + 1]
        for i in range(n):
            take = c <= pair_u[i]
            pair[i] = v if take else pair[i]
            p0[i] = q0 if take else p0[i]
            p1[i] = q1 if take else p1[i]


#: blocks up to this size are shuffled as a word of bits (:func:`_bulk_arms`)
_BLOCK_BITS_MAX = 62


@kernel
def _bulk_arms(state, n, p_simple, block_template, block_state, draws, words, arms):
    """``arms[:n]``: simple randomisation (one uniform each) or consecutive permuted blocks of one stratum.

    One fill of uniforms.  Simple randomisation: patient i's is ``draws[i]``.  Permuted
    blocks: block g's Fisher-Yates shuffle of the template swaps slot j (from
    block_size - 1 down to 1) with slot int(u * (j + 1)) for u = ``draws[s * n_blocks + g]``,
    s = block_size - 1 - j: step-major, so that each step is one contiguous pass over
    the blocks.  The last block is shuffled whole and used in part.  Scratch: ``draws``
    float64[n + block size], ``words`` int64[n], ``block_state`` [>= 1, block size].
    """
    if p_simple >= 0.0:
        fill_uniforms(state, draws, 0, n)
        for i in range(n):
            arms[i] = np.int64(draws[i] < p_simple)
        return
    block_size = block_template.shape[0]
    n_blocks = (n + block_size - 1) // block_size
    fill_uniforms(state, draws, 0, n_blocks * (block_size - 1))
    if block_size <= _BLOCK_BITS_MAX:
        _shuffled_block_words(draws, n_blocks, block_template, words)
        # the full blocks with a fixed trip count, then the last one's patients: expanding in place
        # (words in arms[:n_blocks], last block first) with a trip count of min(block size, patients
        # left) cost 4x as much (0.9 against 0.25 us for 1000 patients)
        full = n // block_size
        for g in range(full):
            w = words[g]
            base = g * block_size
            for j in range(block_size):
                arms[base + j] = (w >> j) & 1
        for i in range(full * block_size, n):
            arms[i] = (words[full] >> (i - full * block_size)) & 1
        return
    block = block_state[0]
    for g in range(n_blocks):
        for j in range(block_size):
            block[j] = block_template[j]
        for j in range(block_size - 1, 0, -1):
            m = _scale_below(draws[(block_size - 1 - j) * n_blocks + g], j + 1)
            tmp = block[j]
            block[j] = block[m]
            block[m] = tmp
        base = g * block_size
        for j in range(min(block_size, n - base)):
            arms[base + j] = block[j]


@kernel
def _shuffled_block_words(draws, n_blocks, block_template, words):
    """``words[g]``: block g's Fisher-Yates shuffle of the template, bit j = slot j's arm.

    Arms are 0 or 1, so a block is a word of bits.  Slot j (block_size - 1 down to 1)
    swaps with slot int(u * (j + 1)), u = ``draws[s * n_blocks + g]``, s = block_size - 1 - j
    (step-major): each step's swaps are one pass over all blocks, which vectorises
    (a block at a time, each swap waited on the one before it).  Block size <= _BLOCK_BITS_MAX.
    """
    block_size = block_template.shape[0]
    template = np.int64(0)
    for j in range(block_size):
        template |= (block_template[j] & 1) << j
    for g in range(n_blocks):
        words[g] = template
    for j in range(block_size - 1, 0, -1):
        u = draws[(block_size - 1 - j) * n_blocks:(block_size - j) * n_blocks]
        for g in range(n_blocks):
            w = words[g]
            m = _scale_below(u[g], j + 1)
            flip = ((w >> j) ^ (w >> m)) & 1
            words[g] = w ^ ((flip << j) | (flip << m))


#: a patient's slot in the stratified bulk randomisation: block rank << _SLOT_SHIFT | position in the block
_SLOT_SHIFT = 6


@kernel
def _stratified_bulk_arms(state, n, block_template, slot, draws, words, arms):
    """``arms[:n]``: permuted blocks within randomisation strata, from ``arms[:n]`` holding each patient's stratum.

    The numbers of the patient-by-patient walk (a stratum's patient that finds its block
    used up draws block_size - 1 uniforms of the stream, slot j from block_size - 1 down
    to 1 swapping with slot randint(j + 1)), in four passes with no branch on the
    stratum: (1) each patient's slot: the rank of its block among all blocks in the
    order they start, and its position in the block; (2) the blocks' draws from the
    stream, in that order (the walk's order: no other draw comes between them);
    (3) every block's shuffle at once (:func:`_shuffled_block_words`); (4) each patient's
    arm read from its slot.  Scratch: ``slot`` int64[>= strata], ``words`` int64[n],
    ``draws`` float64[>= n + strata * block size] (the blocks number at most
    n / block_size + strata).  Block size <= _BLOCK_BITS_MAX.
    """
    block_size = block_template.shape[0]
    steps = block_size - 1
    # a slot whose position is block_size is a used-up block: every stratum starts with one
    mask = (1 << _SLOT_SHIFT) - 1
    n_blocks = np.int64(0)
    if slot.shape[0] == 2:
        # two strata (IHC 3+ and 2+/ISH+): their next slots in registers, where the loop through
        # slot[s] waited on a store of the previous patient's (1.25 -> 0.99 us for 524 patients)
        q0 = np.int64(block_size)
        q1 = np.int64(block_size)
        for i in range(n):
            one = arms[i] == 1
            q = q1 if one else q0
            start = (q & mask) == block_size
            q = (n_blocks << _SLOT_SHIFT) if start else q
            n_blocks += np.int64(start)
            arms[i] = q
            q1 = q + 1 if one else q1
            q0 = q0 if one else q + 1
    else:
        slot[:] = block_size
        for i in range(n):
            s = arms[i]
            q = slot[s]
            start = (q & mask) == block_size
            q = (n_blocks << _SLOT_SHIFT) if start else q
            n_blocks += np.int64(start)
            arms[i] = q
            slot[s] = q + 1
    for g in range(n_blocks):
        for k in range(steps):
            draws[k * n_blocks + g] = uniform(state)
    _shuffled_block_words(draws, n_blocks, block_template, words)
    for i in range(n):
        q = arms[i]
        arms[i] = (words[q >> _SLOT_SHIFT] >> (q & mask)) & 1


@kernel
def _one_stratum_competing(n, true_cat, assessed, arms, u2, x, pcode, true_category, p0, p1, inv0, inv1):
    """Every patient's code and x when all share one (true, assessed) pair with plain exponential models.

    ``x`` holds the E1 draws and becomes E1 / (rate + hazard) of the patient's arm;
    the event decision ``u2 < p_event`` and the packing are those of the general path.
    """
    base = assessed * 4
    for i in range(n):
        arm = arms[i]
        # selects, not a branch or a gather from the model table: the loop vectorises
        on = arm == 1
        p = p1 if on else p0
        inv = inv1 if on else inv0
        event = np.int64(u2[i] < p)
        pcode[i] = base + arm * 2 + event
        x[i] *= inv
        true_category[i] = true_cat


@kernel
def _mix_codes(n, pair_code, arms, second, p0, p1, true_category, pcode):
    """Codes and true categories under enrolment from the mix with the arms made; returns the categories drawn.

    The general patient loop's numbers (the pair ``pair_code[i]``, event if u2 is below its
    true category's p_event in the patient's arm, ``p0[i]`` or ``p1[i]``: :func:`_pair_draws`)
    with no draw, no branch and no gather: the loop vectorises.  Returns the bit mask of
    the true categories drawn.
    """
    drawn = np.int64(0)
    for i in range(n):
        pair = pair_code[i]
        true_cat = pair >> PAIR_SHIFT
        arm = arms[i]
        true_category[i] = true_cat
        drawn |= np.int64(1) << true_cat
        event = np.int64(second[i] < (p1[i] if arm == 1 else p0[i]))
        pcode[i] = pack_code(pair & (PAIR_STRIDE - 1), arm, event)
    return drawn


@kernel
def _single_pair_codes(n, pair, arms, second, p0, p1, true_category, pcode):
    """:func:`_mix_codes` when every patient has the one pair ``pair`` (p_event ``p0``, ``p1`` by arm)."""
    true_cat = pair >> PAIR_SHIFT
    base = (pair & (PAIR_STRIDE - 1)) * 4
    for i in range(n):
        arm = arms[i]
        true_category[i] = true_cat
        pcode[i] = base + arm * 2 + np.int64(second[i] < (p1 if arm == 1 else p0))
    return np.int64(1) << true_cat


@kernel
def _weibull_outcomes(n, weibull_t, e2, inv_drop0, inv_drop1, x, pcode):
    """x and the event bit when every patient's model is a Weibull: :func:`_mixed_outcomes` with no table.

    The first of the event time ``weibull_t`` and the dropout time ``e2 * inv_drop`` of the
    patient's arm (``inv_drop`` = 1 / dropout hazard, inf for none); reading no per-model
    table, the loop vectorises (db03_replay, the flagship).
    """
    for i in range(n):
        code = pcode[i]
        t_event = weibull_t[i]
        t_drop = e2[i] * (inv_drop1 if ((code >> 1) & 1) == 1 else inv_drop0)
        # a cured patient (t_event = inf) never has an event, even with no dropout (t_drop = inf)
        event = (t_event <= t_drop) & (t_event < np.inf)
        x[i] = t_event if event else t_drop
        pcode[i] = code | np.int64(event)


@kernel
def _mixed_outcomes(n, true_category, weibull_t, e2, kinds, fast, x, pcode):
    """x and the event bit with plain exponential and Weibull models (``fast``, ``kinds``: see generate_cohort).

    Both outcomes computed and one selected: the general loop's numbers without its branch on
    the kind, which follows the randomised arm and so was mispredicted for about half the patients.
    """
    for i in range(n):
        code = pcode[i]
        k = true_category[i] * 2 + ((code >> 1) & 1)
        t_event = weibull_t[i]
        t_drop = e2[i] * fast[k, 0]
        weibull_event = (t_event <= t_drop) & (t_event < np.inf)
        competing = kinds[k] == _KIND_COMPETING
        x_weibull = t_event if weibull_event else t_drop
        x[i] = x[i] * fast[k, 1] if competing else x_weibull
        pcode[i] = code | np.int64(weibull_event & (not competing))


@inlined_kernel
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

    Three passes: (1) every random draw, in the order of the module docstring; (2) ``-log`` of the entry, u1 and u2 uniforms in one vectorised pass
    (``simtrial.engine.fastmath``), giving Exp(1) draws E1, E2; (3) the
    transforms: entry times from the spacings, and x from E1 (event, or the
    first of event and dropout for competing exponentials, where ``u2 <
    p_event`` says which) and E2 (dropout).  A patient always takes two uniforms,
    so the stream position does not depend on the models.
    """
    state = scratch.rng_state
    n = cohort.n_patients
    n_categories = cohort.n_categories
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
    second = scratch.calendar  # u2, then E2: free until the cut reads the calendar times
    pcode = scratch.pcode
    true_category = scratch.true_category
    assessed_scratch = scratch.assessed
    pair_value = scratch.pair_value
    pair_cum = scratch.pair_cum
    pair_u = scratch.sorted_x  # the pair uniforms: free until the sort
    pair_code = assessed_scratch  # under enrolment from the mix, the pair drawn
    # and its true category's p_event in each arm: free until the cut
    pair_p0 = scratch.piece_time[0]
    pair_p1 = scratch.piece_time[1]

    draws = scratch.draws
    arms = scratch.sort_bucket  # free until the sort
    block_size = block_template.shape[0]
    block_pos[:] = block_size  # every stratum starts a fresh block

    # pass 1: the draws
    fill_uniforms(state, entry, 0, n)
    last_spacing_u = uniform(state)
    fill_uniforms(state, x, 0, n)  # u1
    # with no dropout in either arm u2 decides nothing: every event comes first (p_event is
    # rate / (rate + 0) = 1 exactly, which every u2 is below) and the dropout time is inf for
    # any E2 > 0.  So the fill's one draw of the stream, and a constant standing for u2 and E2
    no_dropout = dropout_hazard[0] == 0.0 and dropout_hazard[1] == 0.0
    if no_dropout:
        next_u64(state)
        second[:n] = 0.5
    else:
        fill_uniforms(state, second, 0, n)  # u2

    fixed = fixed_assessed.shape[0] > 0
    n_pairs = 1
    single_pair = cohort.single_pair
    if fixed:
        k = 0
        for c in range(n_categories):
            for _ in range(fixed_assessed[c]):
                assessed_scratch[k] = c
                k += 1
        _shuffle(state, assessed_scratch, n)
    elif single_pair < 0:
        n_pairs = _compact_pairs(cohort.pair_cum, pair_value, pair_cum)
        fill_uniforms(state, pair_u, 0, n)
        _pair_draws(
            pair_u, pair_cum, pair_value, n_pairs, n, competing_p_event.reshape(n_categories * 2), pair_code,
            pair_p0, pair_p1,
        )

    # the arms in bulk when no other draw comes between a patient's randomisation draws and the
    # next patient's (no misclassification draw) and the stream order of the block draws is the
    # patient order (one randomisation stratum): the same draws, filled at once, and no
    # block state carried through memory from patient to patient
    stream_order_free = not (fixed and not identity_classification)
    bulk_arms = stream_order_free and (p_simple >= 0.0 or cohort.n_random_strata == 1)
    if bulk_arms:
        _bulk_arms(state, n, p_simple, block_template, block_state, draws, true_category, arms)
    elif stream_order_free and block_size <= _BLOCK_BITS_MAX:
        # permuted blocks in several strata: the walk's numbers without its branch on whether the
        # patient's block is used up, which follows the strata's random interleaving (about 8 ns a
        # patient on db03_replay's two strata, a quarter of its generation)
        if fixed:
            for i in range(n):
                arms[i] = randomization_stratum[assessed_scratch[i]]
        elif single_pair >= 0:
            arms[:n] = randomization_stratum[single_pair & (PAIR_STRIDE - 1)]
        else:
            # a select per possible pair, which vectorises where a gather per patient did not
            for j in range(n_pairs):
                v = pair_value[j]
                rs = randomization_stratum[v & (PAIR_STRIDE - 1)]
                for i in range(n):
                    arms[i] = rs if pair_code[i] == v else arms[i]
        _stratified_bulk_arms(state, n, block_template, block_pos, draws, true_category, arms)
        bulk_arms = True

    if single_pair >= 0 and not fixed and bulk_arms:
        true_cat = single_pair >> PAIR_SHIFT
        inv0 = competing_inv_total[true_cat, 0]
        inv1 = competing_inv_total[true_cat, 1]
        if inv0 > 0.0 and inv1 > 0.0:
            # one stratum, plain exponential models in both arms (the reference design): the
            # general path's numbers in one pass with no per-patient table lookup or branch
            neg_log_inplace(entry, 0, n)
            neg_log_inplace(x, 0, n)
            _sorted_entry_times(
                n, -np.log(last_spacing_u), cohort.accrual_breaks, cohort.accrual_cum, cohort.accrual_kind,
                cohort.accrual_shape, entry,
            )
            _one_stratum_competing(
                n, true_cat, single_pair & (PAIR_STRIDE - 1), arms, second, x, pcode, true_category,
                competing_p_event[true_cat, 0], competing_p_event[true_cat, 1], inv0, inv1,
            )
            return

    categories_drawn = np.int64(0)  # bit c: some patient's true category is c
    if bulk_arms and not fixed:
        if single_pair >= 0:
            categories_drawn = _single_pair_codes(
                n, single_pair, arms, second, competing_p_event[single_pair >> PAIR_SHIFT, 0],
                competing_p_event[single_pair >> PAIR_SHIFT, 1], true_category, pcode,
            )
        else:
            categories_drawn = _mix_codes(n, pair_code, arms, second, pair_p0, pair_p1, true_category, pcode)
    for i in range(n if fixed or not bulk_arms else 0):
        if fixed:
            assessed = assessed_scratch[i]
            if identity_classification:
                true_cat = assessed
            else:
                true_cat = _draw_from_row(state, true_given_assessed_cum[assessed])
        else:
            pair = single_pair
            if pair < 0:
                pair = pair_code[i]
            true_cat = pair >> PAIR_SHIFT
            assessed = pair & (PAIR_STRIDE - 1)

        true_category[i] = true_cat
        categories_drawn |= np.int64(1) << true_cat
        if bulk_arms:
            arm = arms[i]
        elif p_simple >= 0.0:
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
        u2 = second[i]
        # competing exponentials: the first of event and dropout is the event with probability
        # rate / (rate + hazard); p_event is 0 for every other model (pass 3 decides those)
        event = np.int64(u2 < competing_p_event[true_cat, arm])
        pcode[i] = pack_code(assessed, arm, event)

    # each (true category, arm) model read once per trial into scalars by kind: reading a parameter
    # row per patient (an array view passed to a call) costs more than the event time itself.
    # fast[k]: 1 / dropout hazard, 1 / (rate + hazard) of a plain exponential, then Weibull's
    # (a, c) of t = exp(a log E + c) (harmless (1, 0) for other kinds: the
    # vectorised pass runs over every patient)
    kinds = scratch.model_kind
    fast = scratch.model_fast
    any_weibull = False
    for c in range(n_categories):
        for a in range(2):
            k = c * 2 + a
            params = model_params[c, a]
            hazard = dropout_hazard[a]
            fast[k, 0] = 1.0 / hazard if hazard > 0.0 else np.inf
            fast[k, 1] = competing_inv_total[c, a]
            fast[k, 2] = 1.0
            fast[k, 3] = 0.0
            if competing_inv_total[c, a] > 0.0:
                kinds[k] = _KIND_COMPETING
            elif model_code[c, a] == MODEL_WEIBULL and params[0] == 0.0:
                # S(t) = exp(-h (t / scale) ** shape): t = scale * (E / h) ** (1 / shape)
                kinds[k] = _KIND_WEIBULL
                weibull_coefficients(params[3], params[1], params[2], fast[k, 2:4])
                any_weibull |= ((categories_drawn >> c) & 1) == 1
            else:
                kinds[k] = _KIND_GENERAL
    # with only plain exponential models among the categories drawn, u2 is read only by the
    # patient loop's event decision: no dropout draw E2, and x is one multiply per patient
    all_competing = True
    for c in range(n_categories):
        if (categories_drawn >> c) & 1:
            for a in range(2):
                all_competing &= kinds[c * 2 + a] == _KIND_COMPETING

    # pass 2: Exp(1) draws, vectorised
    neg_log_inplace(entry, 0, n)
    neg_log_inplace(x, 0, n)
    if not (all_competing or no_dropout):
        neg_log_inplace(second, 0, n)

    # pass 3: transforms
    _sorted_entry_times(
        n, -np.log(last_spacing_u), cohort.accrual_breaks, cohort.accrual_cum, cohort.accrual_kind,
        cohort.accrual_shape, entry,
    )
    if all_competing:
        for i in range(n):
            # the first of event and dropout is Exp(rate + hazard)
            x[i] *= fast[true_category[i] * 2 + ((pcode[i] >> 1) & 1), 1]
        return
    weibull_t = scratch.sorted_x  # free until the sort
    if any_weibull:
        # every patient's Weibull event time in one vectorised pass (no libm pow), its coefficients
        # gathered first (the arms are in pcode now; piece_time is free until the cut)
        coef_a = scratch.piece_time[0]
        coef_c = scratch.piece_time[1]
        for i in range(n):
            k = true_category[i] * 2 + ((pcode[i] >> 1) & 1)
            coef_a[i] = fast[k, 2]
            coef_c[i] = fast[k, 3]
        weibull_times_gathered(x, coef_a, coef_c, weibull_t, n)
    any_general = False
    all_weibull = True
    for c in range(n_categories):
        if (categories_drawn >> c) & 1:
            for a in range(2):
                any_general |= kinds[c * 2 + a] == _KIND_GENERAL
                all_weibull &= kinds[c * 2 + a] == _KIND_WEIBULL
    if all_weibull:
        # Weibull models only: the dropout scale is the arm's (fast[k, 0] of rows 0 and 1)
        _weibull_outcomes(n, weibull_t, second, fast[0, 0], fast[1, 0], x, pcode)
        return
    if not any_general:
        _mixed_outcomes(n, true_category, weibull_t, second, kinds, fast, x, pcode)
        return
    for i in range(n):
        true_cat = true_category[i]
        code = pcode[i]
        arm = (code >> 1) & 1
        k = true_cat * 2 + arm
        kind = kinds[k]
        if kind == _KIND_COMPETING:
            # the first of event and dropout is Exp(rate + hazard)
            x[i] *= fast[k, 1]
            continue
        if kind == _KIND_WEIBULL:
            t_event = weibull_t[i]
        else:
            t_event = event_time(model_code[true_cat, arm], model_params[true_cat, arm], x[i])
        t_drop = second[i] * fast[k, 0]
        # a cured patient (t_event = inf) never has an event, even with no dropout (t_drop = inf)
        if t_event <= t_drop and t_event < np.inf:
            x[i] = t_event
            pcode[i] = code | 1
        else:
            x[i] = t_drop
