"""Typed kernel records: the named arguments that cross into compiled code.

Each record is a ``collections.namedtuple`` class defined here, at module
level, so numba types it as a (heterogeneous) ``NamedTuple``: fields keep their
own dtypes, are read by name in nopython mode (``cohort.n_patients``,
``scratch.rng_state``), and kernels taking them still cache to disk (the type
pickles by reference to this module).  Nothing outside this module reads a
record by position: swapping two slots of one dtype would compile and compute
nonsense, a name cannot be swapped.

``FIELD_TYPES[Record]`` is the written contract of each record: field -> numba
type (array dtype, dimensions, C order).  ``simtrial.simulate.to_kernel_args``
builds the input records and checks them against it (plus the shapes below)
before any kernel runs; kernels do not check.

Input records (built once per run by ``simtrial.simulate.to_kernel_args``)::

    CohortArgs   who is enrolled and how they are randomised, when they enter and when their events come
    LookArgs     when each look cuts the data
    AnalysisArgs which statistics each look computes, on which populations
    VariantArgs  the run's table of V parameter variants (a leading variant axis
                 on every CohortArgs parameter field; V = 1 for a plain run)

A trial reads its parameters from one variant row: the serial block kernel
(``simtrial.engine.driver.simulate_block``) makes that trial's ``CohortArgs``
with :func:`variant_cohort` (the structural fields of the run's ``CohortArgs``,
the parameter fields viewed from row v of ``VariantArgs``: no copy), so every
per-trial kernel reads one plain ``CohortArgs`` and nothing per patient changes.
The parameter fields of the run's own ``CohortArgs`` are those of the spec it was
built from; the driver reads them only through the variant table.

Shapes (C = n_categories, P = PAIR_STRIDE of ``simtrial.engine.cohort``,
K = 4 * C packed patient codes, see ``pack_code``)::

    CohortArgs.pair_cum                 float64[C * P]   cumulative P(true * P + assessed), last entry 1
    CohortArgs.single_pair              int64            the only possible pair, or -1
    CohortArgs.fixed_assessed           int64[C] or [0]  enrolled per assessed category (sum n_patients), or empty
    CohortArgs.true_given_assessed_cum  float64[C, C]    cumulative P(true | assessed) per row
    CohortArgs.randomization_stratum    int64[C]         randomisation stratum of each assessed category
    CohortArgs.block_template           int64[B]         arms (0/1) of one permuted block
    CohortArgs.accrual_breaks, accrual_cum  float64[J]   piecewise entry law (J >= 2): breaks, cumulative P
    CohortArgs.accrual_kind             int64[J]         kind of piece j = [break j, break j + 1]
                                        (ENTRY_* of simtrial.engine.entry); the last entry is padding
    CohortArgs.accrual_shape            float64[J]       its shape (exponential gamma per month, linear theta)
    CohortArgs.model_code               int64[C, 2]      event-time model per true category x arm
    CohortArgs.model_params             float64[C, 2, W] (layout: simtrial.engine.models)
    CohortArgs.competing_inv_total, competing_p_event  float64[C, 2]
    CohortArgs.dropout_hazard           float64[2]       per month, per arm
    LookArgs.target_events              int64[L]         0: no event target
    LookArgs.calendar_months            float64[L]       inf: no calendar cut
    LookArgs.min_months_after_previous_look        float64[L]  <= 0: no minimum gap (look 0: always none)
    LookArgs.min_followup_after_last_entry_months  float64[L]  <= 0: no minimum follow-up after the last entry
    AnalysisArgs.code_in_pop            bool[n_pop, K]   population 0 is everyone
    AnalysisArgs.code_stratum           int64[K]         analysis stratum of a packed code, < n_strata
    AnalysisArgs.landmark_months        float64[M]
    AnalysisArgs.requested              int64            bit mask of the statistics computed (STAT_* of
                                        simtrial.engine.statistics_registry); others are NaN
    AnalysisArgs.nph_requested          int64            bit mask of the NPH statistics (NPH_* of the registry);
                                        0: no NPH columns in the stats row
    AnalysisArgs.rmst_tau_months, milestone_months, mwlr_t_star_months  float64 (-1 when unused)
    AnalysisArgs.maxcombo_rho, maxcombo_gamma  float64[K], 1 <= K <= MAX_MAXCOMBO components
    AnalysisArgs.gs_components          float64[J, 3]    group-sequential weighted components (rho, gamma,
                                        t_star; t_star < 0: FH) whose scores and cross-look covariance
                                        every look stores (simtrial.engine.gs_scores); J = 0: none
    VariantArgs.<field>                 [V, *shape of CohortArgs.<field>] for the fields of
                                        PARAMETER_FIELDS; single_pair int64[V]; model_params
                                        zero-padded to a common width W, accrual_breaks /
                                        accrual_cum padded to a common J by repeating the last
                                        break with cumulative probability 1 (never reached:
                                        the entry walk stops at the first cum = 1), accrual_kind /
                                        accrual_shape with uniform pieces (kind 0, shape 0)

``Scratch`` is a block's work space, made by the kernel :func:`allocate_scratch`
(O(patients), reused by every trial of the block; its fields document what
each buffer holds).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import types

from simtrial.engine._jit import kernel
from simtrial.engine.sort import RADIX_COUNTS

CohortArgs = namedtuple(
    "CohortArgs",
    (
        "n_patients",
        "n_categories",
        "pair_cum",
        "single_pair",
        "fixed_assessed",
        "true_given_assessed_cum",
        "identity_classification",
        "randomization_stratum",
        "n_random_strata",
        "block_template",
        "p_simple",
        "accrual_breaks",
        "accrual_cum",
        "accrual_kind",
        "accrual_shape",
        "model_code",
        "model_params",
        "competing_inv_total",
        "competing_p_event",
        "dropout_hazard",
    ),
)

LookArgs = namedtuple(
    "LookArgs",
    ("target_events", "calendar_months", "min_months_after_previous_look", "min_followup_after_last_entry_months"),
)

AnalysisArgs = namedtuple(
    "AnalysisArgs",
    (
        "code_in_pop", "code_stratum", "n_strata", "fh_rho", "fh_gamma", "landmark_months", "requested",
        "nph_requested", "rmst_tau_months", "milestone_months", "maxcombo_rho", "maxcombo_gamma",
        "mwlr_t_star_months", "gs_components",
    ),
)

#: CohortArgs fields a variant may change: the per-trial parameters (prevalence mix,
#: accrual law, event-time models, competing-exponentials shortcut, dropout)
PARAMETER_FIELDS = (
    "pair_cum",
    "single_pair",
    "accrual_breaks",
    "accrual_cum",
    "accrual_kind",
    "accrual_shape",
    "model_code",
    "model_params",
    "competing_inv_total",
    "competing_p_event",
    "dropout_hazard",
)

VariantArgs = namedtuple("VariantArgs", PARAMETER_FIELDS)

Scratch = namedtuple(
    "Scratch",
    (
        "entry",  # float64[n] calendar entry (months)
        "x",  # float64[n] time to the first of event or dropout
        "pcode",  # int64[n] packed (assessed category, arm, event)
        "sorted_x",  # float64[n] x in ascending order
        "sorted_index",  # int64[n] patient of each sorted_x
        "assessed",  # int64[n] assessed categories (fixed-count enrolment)
        "calendar",  # float64[n] calendar event times
        "stream_time",  # float64[n] the look's analysis data: times
        "stream_code",  # int64[n] the look's analysis data: packed codes
        "table_f",  # float64[9, n * n_strata] event tables (pooled and stratified)
        "table_i",  # int64[5 * n_strata + 2] table counters
        "block_state",  # int64[n_random_strata, block size] permuted blocks
        "block_pos",  # int64[n_random_strata] position in each block
        "rng_state",  # uint64[4] the trial's random stream
        "sort_bucket",  # int64[n] sort work space (packed keys)
        "sort_counts",  # int64[max(n + 2, RADIX_COUNTS)] sort digit counts; the cut's histogram
        "true_category",  # int64[n] true categories
        "piece_time",  # float64[2, n + 2] stream pieces: times (and the merge's sentinels)
        "piece_code",  # int64[2, n + 2] stream pieces: codes
        "look_flags",  # int64[MAX_LOOKS] per-look flags
        "table_s",  # float64[2, n * n_strata] stratified event rows: time, stratum (stratified RMST)
        "nph_state",  # float64[n_strata, 2, 7] per stratum x arm RMST accumulators
        "nph_u",  # float64[MAX_MAXCOMBO] MaxCombo component scores
        "nph_cov",  # float64[MAX_MAXCOMBO, MAX_MAXCOMBO] their covariance
        "nph_out",  # float64[8] RMST / milestone per arm
        "pair_value",  # int64[MAX_PAIRS] the category pairs that can occur (simtrial.engine.cohort)
        "pair_cum",  # float64[MAX_PAIRS] their cumulative probabilities
        "model_kind",  # int64[MAX_MODELS] how each (true category, arm) model draws x (simtrial.engine.cohort)
        "model_fast",  # float64[MAX_MODELS, 4] its scalars: 1 / dropout hazard, then by kind
        "draws",  # float64[n + randomisation strata x block size] the randomisation draws (simtrial.engine.cohort)
    ),
)

#: MaxCombo components a trial can hold (simtrial.spec.engine.MAX_MAXCOMBO_COMPONENTS)
MAX_MAXCOMBO = 4

#: category pairs (true * PAIR_STRIDE + assessed) the scratch space holds, >= C * PAIR_STRIDE
MAX_PAIRS = 256
#: (true category, arm) models the scratch space holds, >= 2 * C
MAX_MODELS = 32

#: looks per trial the scratch space holds (``Scratch.look_flags``)
MAX_LOOKS = 64

_INT = types.int64
_FLOAT = types.float64
_BOOL = types.boolean


def _array(dtype, ndim: int) -> types.Array:
    return types.Array(dtype, ndim, "C")


FIELD_TYPES: dict[type, dict[str, types.Type]] = {
    CohortArgs: {
        "n_patients": _INT,
        "n_categories": _INT,
        "pair_cum": _array(_FLOAT, 1),
        "single_pair": _INT,
        "fixed_assessed": _array(_INT, 1),
        "true_given_assessed_cum": _array(_FLOAT, 2),
        "identity_classification": _BOOL,
        "randomization_stratum": _array(_INT, 1),
        "n_random_strata": _INT,
        "block_template": _array(_INT, 1),
        "p_simple": _FLOAT,
        "accrual_breaks": _array(_FLOAT, 1),
        "accrual_cum": _array(_FLOAT, 1),
        "accrual_kind": _array(_INT, 1),
        "accrual_shape": _array(_FLOAT, 1),
        "model_code": _array(_INT, 2),
        "model_params": _array(_FLOAT, 3),
        "competing_inv_total": _array(_FLOAT, 2),
        "competing_p_event": _array(_FLOAT, 2),
        "dropout_hazard": _array(_FLOAT, 1),
    },
    LookArgs: {
        "target_events": _array(_INT, 1),
        "calendar_months": _array(_FLOAT, 1),
        "min_months_after_previous_look": _array(_FLOAT, 1),
        "min_followup_after_last_entry_months": _array(_FLOAT, 1),
    },
    AnalysisArgs: {
        "code_in_pop": _array(_BOOL, 2),
        "code_stratum": _array(_INT, 1),
        "n_strata": _INT,
        "fh_rho": _FLOAT,
        "fh_gamma": _FLOAT,
        "landmark_months": _array(_FLOAT, 1),
        "requested": _INT,
        "nph_requested": _INT,
        "rmst_tau_months": _FLOAT,
        "milestone_months": _FLOAT,
        "maxcombo_rho": _array(_FLOAT, 1),
        "maxcombo_gamma": _array(_FLOAT, 1),
        "mwlr_t_star_months": _FLOAT,
        "gs_components": _array(_FLOAT, 2),
    },
}

# the variant table: one more (leading) axis on each parameter field of CohortArgs
FIELD_TYPES[VariantArgs] = {
    name: (
        _array(FIELD_TYPES[CohortArgs][name].dtype, FIELD_TYPES[CohortArgs][name].ndim + 1)
        if isinstance(FIELD_TYPES[CohortArgs][name], types.Array)
        else _array(FIELD_TYPES[CohortArgs][name], 1)
    )
    for name in PARAMETER_FIELDS
}

for _record, _fields in FIELD_TYPES.items():
    assert tuple(_fields) == _record._fields, (
        f"FIELD_TYPES[{_record.__name__}] must list its fields in order"
    )


@kernel
def allocate_scratch(n, n_random_strata, block_size, n_strata):
    """A block's scratch record for trials of ``n`` patients (see ``Scratch``)."""
    return Scratch(
        entry=np.empty(n, dtype=np.float64),
        x=np.empty(n, dtype=np.float64),
        pcode=np.empty(n, dtype=np.int64),
        sorted_x=np.empty(n, dtype=np.float64),
        sorted_index=np.empty(n, dtype=np.int64),
        assessed=np.empty(n, dtype=np.int64),
        calendar=np.empty(n, dtype=np.float64),
        stream_time=np.empty(n, dtype=np.float64),
        stream_code=np.empty(n, dtype=np.int64),
        table_f=np.empty((9, n * max(n_strata, 1)), dtype=np.float64),
        table_i=np.zeros(5 * n_strata + 2, dtype=np.int64),
        block_state=np.empty((n_random_strata, block_size), dtype=np.int64),
        block_pos=np.empty(n_random_strata, dtype=np.int64),
        rng_state=np.empty(4, dtype=np.uint64),
        sort_bucket=np.empty(n, dtype=np.int64),
        sort_counts=np.empty(max(n + 2, RADIX_COUNTS), dtype=np.int64),
        true_category=np.empty(n, dtype=np.int64),
        piece_time=np.empty((2, n + 2), dtype=np.float64),
        piece_code=np.empty((2, n + 2), dtype=np.int64),
        look_flags=np.empty(MAX_LOOKS, dtype=np.int64),
        table_s=np.empty((2, n * max(n_strata, 1)), dtype=np.float64),
        nph_state=np.empty((max(n_strata, 1), 2, 7), dtype=np.float64),
        nph_u=np.empty(MAX_MAXCOMBO, dtype=np.float64),
        nph_cov=np.empty((MAX_MAXCOMBO, MAX_MAXCOMBO), dtype=np.float64),
        nph_out=np.empty(8, dtype=np.float64),
        pair_value=np.empty(MAX_PAIRS, dtype=np.int64),
        pair_cum=np.empty(MAX_PAIRS, dtype=np.float64),
        model_kind=np.empty(MAX_MODELS, dtype=np.int64),
        model_fast=np.empty((MAX_MODELS, 4), dtype=np.float64),
        draws=np.empty(n + max(n_random_strata, 1) * block_size, dtype=np.float64),
    )


@kernel
def variant_cohort(cohort, variants, v):
    """The ``CohortArgs`` of a trial of variant ``v``: ``cohort``'s structure, row ``v`` of ``variants`` (views)."""
    return CohortArgs(
        n_patients=cohort.n_patients,
        n_categories=cohort.n_categories,
        pair_cum=variants.pair_cum[v],
        single_pair=variants.single_pair[v],
        fixed_assessed=cohort.fixed_assessed,
        true_given_assessed_cum=cohort.true_given_assessed_cum,
        identity_classification=cohort.identity_classification,
        randomization_stratum=cohort.randomization_stratum,
        n_random_strata=cohort.n_random_strata,
        block_template=cohort.block_template,
        p_simple=cohort.p_simple,
        accrual_breaks=variants.accrual_breaks[v],
        accrual_cum=variants.accrual_cum[v],
        accrual_kind=variants.accrual_kind[v],
        accrual_shape=variants.accrual_shape[v],
        model_code=variants.model_code[v],
        model_params=variants.model_params[v],
        competing_inv_total=variants.competing_inv_total[v],
        competing_p_event=variants.competing_p_event[v],
        dropout_hazard=variants.dropout_hazard[v],
    )
