"""Run n_sims trials of a TrialSpec on the engine and return every trial's statistics.

This is the one flattening adapter between the spec objects and the compiled
driver: strings and dataclasses become integer codes and float arrays here,
once per run.

Per-trial parameter variants: ``simulate(spec, ..., variants=[spec_0, ...,
spec_{V-1}], variant_index=...)`` runs trial t with the parameters of
``variants[variant_index[t]]`` (arm models, dropout, accrual, population mix)
on the stream (seed, first_trial + t), so a trial's numbers depend only on
the seed, its index and its variant.  The variants share ``spec``'s structure
(``check_variants``); a plain run is one variant, the spec itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numba
import numpy as np
import pandas as pd

from simtrial import __version__
from simtrial.engine import layout
from simtrial.engine.cohort import PAIR_STRIDE
from simtrial.engine.driver import simulate_block_range
from simtrial.engine.entry import ENTRY_LINEAR
from simtrial.engine.models import N_HEADER, competing_exponentials, stack_models
from simtrial.engine.records import (
    FIELD_TYPES,
    MAX_LOOKS,
    MAX_MAXCOMBO,
    PARAMETER_FIELDS,
    AnalysisArgs,
    CohortArgs,
    LookArgs,
    VariantArgs,
)
from simtrial.engine.statistics_registry import ALL_STATISTICS, nph_analysis_args, requested_mask
from simtrial.engine.trial import generate_one_cohort
from simtrial.executors import Executor, LocalThreads, TrialRows, merge_pieces
from simtrial.her2 import MAX_CELLS
from simtrial.spec import TrialSpec
from simtrial.spec.accrual import ENTRY_KINDS
from simtrial.survival import Exponential
from simtrial.trial_parameters import TrialParameters

assert MAX_CELLS <= PAIR_STRIDE, "category pairs (IHC categories or IHC x HR cells) are packed with a stride of PAIR_STRIDE"
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class KernelArgs:
    """The engine's input records for one run (contracts in ``simtrial.engine.records``).

    ``variants``: the table of per-trial parameter variants (``to_kernel_args``
    always fills it, V = 1 for a plain run); None stands for the one variant
    ``cohort`` itself holds.
    """

    cohort: CohortArgs
    looks: LookArgs
    analysis: AnalysisArgs
    variants: VariantArgs | None = None

    @property
    def n_variants(self) -> int:
        return 1 if self.variants is None else int(self.variants.single_pair.shape[0])

    def variant_table(self) -> VariantArgs:
        """``variants``, or the one-row table of ``cohort``'s own parameters."""
        return self.variants if self.variants is not None else variant_table([self.cohort])


def _stratum_array(mapping, present: np.ndarray, n_categories: int) -> tuple[np.ndarray, int]:
    """Dense stratum numbers 0..k-1 over the categories (or cells) that can occur (others map to 0).

    Counting only strata that can hold patients keeps a one-category trial
    unstratified, so it skips the stratified pass rather than repeating it.
    """
    arr = np.arange(n_categories, dtype=np.int64)
    if mapping is not None:
        arr = np.array([mapping[c] for c in range(n_categories)], dtype=np.int64)
    used = np.unique(arr[present])
    dense = np.zeros(n_categories, dtype=np.int64)
    for c in range(n_categories):
        hit = np.flatnonzero(used == arr[c])
        dense[c] = hit[0] if hit.size else 0
    return dense, max(int(used.size), 1)


def variant_table(cohorts: list[CohortArgs]) -> VariantArgs:
    """Stack the parameter fields of ``cohorts`` (one per variant) into a ``VariantArgs`` table.

    Rows of different widths are padded as ``simtrial.engine.records`` describes:
    model parameters with zeros (never read: a model reads only its own entries),
    accrual laws by repeating the last break at cumulative probability 1 (never
    reached: the entry walk stops at the first segment ending at 1).
    """
    if not cohorts:
        raise ValueError("a variant table needs at least one variant")
    columns = {}
    for name in PARAMETER_FIELDS:
        values = [getattr(c, name) for c in cohorts]
        if name == "single_pair":
            columns[name] = np.array(values, dtype=np.int64)
            continue
        if name == "model_params":
            width = max(v.shape[-1] for v in values)
            values = [np.pad(v, [(0, 0)] * (v.ndim - 1) + [(0, width - v.shape[-1])]) for v in values]
        elif name in ("accrual_breaks", "accrual_cum", "accrual_kind", "accrual_shape"):
            length = max(v.shape[0] for v in values)
            fill = {"accrual_breaks": None, "accrual_cum": 1.0, "accrual_kind": 0, "accrual_shape": 0.0}[name]
            values = [
                np.concatenate([v, np.full(length - v.shape[0], v[-1] if fill is None else fill, dtype=v.dtype)])
                for v in values
            ]
        columns[name] = np.ascontiguousarray(np.stack(values))
    return VariantArgs(**columns)


#: spec fields a variant may change (parameters); every other field is structure it must share
_PARAMETER_SPEC_FIELDS = ("population", "control", "experimental", "accrual")


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_variants(spec: TrialSpec, variants) -> tuple[TrialSpec, ...]:
    """``variants`` as a tuple of TrialSpecs sharing ``spec``'s structure; ValueError naming the field.

    A variant may change the arms' event-time models (any family; a hazard ratio
    is part of a model), their dropout hazards, the accrual law and the
    population's mix probabilities.  Everything else (n_patients, cuts,
    subgroups, strata, allocation, randomisation, landmarks, fixed counts,
    eligibility, misclassification, arm labels) must equal ``spec``'s.
    """
    if isinstance(variants, TrialSpec) or not isinstance(variants, list | tuple):
        raise ValueError(f"variants must be a list or tuple of TrialSpec, got {type(variants).__name__}")
    if len(variants) < 1:
        raise ValueError("variants must hold at least one TrialSpec")
    for i, v in enumerate(variants):
        if not isinstance(v, TrialSpec):
            raise ValueError(f"variants[{i}] must be a TrialSpec, got {type(v).__name__}")
        for f in fields(TrialSpec):
            if f.name in _PARAMETER_SPEC_FIELDS:
                continue
            mine, theirs = getattr(v, f.name), getattr(spec, f.name)
            if mine != theirs:
                raise ValueError(
                    f"variants[{i}].{f.name} = {_describe(mine)} differs from the spec's {_describe(theirs)}: "
                    "variants may differ only in parameters (arm models, dropout, accrual, population mix)"
                )
        for f in fields(type(spec.population)):
            if f.name == "mix":
                continue
            mine, theirs = getattr(v.population, f.name), getattr(spec.population, f.name)
            if mine != theirs:
                raise ValueError(
                    f"variants[{i}].population.{f.name} = {_describe(mine)} differs from the spec's "
                    f"{_describe(theirs)}: a variant may change only population.mix"
                )
        if (v.population.mix is None) != (spec.population.mix is None):
            raise ValueError(f"variants[{i}].population.mix: given in one of the variant and the spec only")
        for arm in ("control", "experimental"):
            if getattr(v, arm).label != getattr(spec, arm).label:
                raise ValueError(
                    f"variants[{i}].{arm}.label = {getattr(v, arm).label!r} differs from the spec's "
                    f"{getattr(spec, arm).label!r}"
                )
    return tuple(variants)


def _check_shared_structure(i: int, base: KernelArgs, other: KernelArgs) -> None:
    """What a variant's spec flattens to outside the parameter fields equals the spec's (derived structure)."""
    pairs = [(base.cohort, other.cohort), (base.looks, other.looks), (base.analysis, other.analysis)]
    for mine, theirs in pairs:
        for name in type(mine)._fields:
            if name in PARAMETER_FIELDS and type(mine) is CohortArgs:
                continue
            a, b = getattr(mine, name), getattr(theirs, name)
            same = np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
            if not same:
                raise ValueError(
                    f"variants[{i}]: kernel record {type(mine).__name__}.{name} differs from the spec's "
                    f"({_describe(b)} vs {_describe(a)}): a variant's population.mix must allow the same "
                    "categories as the spec's (and with fixed_counts and a misclassification matrix it is "
                    "structure, not a parameter)"
                )


def to_kernel_args(spec: TrialSpec, variants=None) -> KernelArgs:
    """Flatten a spec (and its parameter ``variants``, default: the spec alone) into checked kernel records.

    Contracts in ``simtrial.engine.records``; ``variants`` as in ``check_variants``.
    """
    args = _spec_records(spec)
    if variants is None:
        cohorts = [args.cohort]
    else:
        cohorts = []
        for i, v in enumerate(check_variants(spec, variants)):
            other = _spec_records(v)
            _check_shared_structure(i, args, other)
            cohorts.append(other.cohort)
    args = KernelArgs(args.cohort, args.looks, args.analysis, variant_table(cohorts))
    check_kernel_args(args)
    return args


def _spec_records(spec: TrialSpec) -> KernelArgs:
    """The cohort, look and analysis records of one spec (no variant table), checked."""
    pop = spec.population
    # the engine's category index: the IHC category, or the IHC x HR-status cell (simtrial.her2.Cells)
    n_cat = pop.n_cells
    # kernels index a model for every category x arm; categories the
    # population cannot contain get this one, which is never sampled
    never_sampled = Exponential(median_months=1.0).to_kernel()
    rows = []
    for cat in range(n_cat):
        row = []
        for arm in spec.arms:
            model = arm.models.get(cat)
            row.append(model.to_kernel() if model is not None else never_sampled)
        rows.append(row)
    model_code, model_params = stack_models(rows)

    if pop.mix is not None and pop.fixed_counts is None:
        # pairs are indexed true * PAIR_STRIDE + assessed (see simtrial.engine.cohort)
        joint = np.zeros((n_cat, PAIR_STRIDE))
        joint[:, :n_cat] = pop.joint_probabilities()
        joint = joint.ravel() / joint.sum()
        pair_cum = np.cumsum(joint)
        pair_cum[np.flatnonzero(joint > 0)[-1]:] = 1.0
        nonzero = np.flatnonzero(joint > 0)
        single_pair = int(nonzero[0]) if nonzero.size == 1 else -1
        fixed = np.zeros(0, dtype=np.int64)
        true_given_assessed = np.eye(n_cat).cumsum(axis=1)
        identity = True
    else:
        pair_cum = np.ones(n_cat * PAIR_STRIDE)
        single_pair = -1
        fixed = np.array([pop.fixed_counts.get(c, 0) for c in range(n_cat)], dtype=np.int64)
        identity = pop.misclassification is None
        true_given_assessed = np.cumsum(pop.true_given_assessed(), axis=1)
        true_given_assessed[:, -1] = 1.0

    present = np.array(pop.assessed_categories(), dtype=np.int64)
    rand_stratum, n_random_strata = _stratum_array(spec.randomization_strata, present, n_cat)
    ctrl, expt = spec.allocation
    template = np.array([0] * ctrl + [1] * expt, dtype=np.int64)
    block_template = np.tile(template, spec.block_multiple)
    # simple randomisation: P(experimental) per patient; < 0 selects permuted blocks (simtrial.engine.cohort)
    p_simple = expt / (ctrl + expt) if spec.randomisation == "simple" else -1.0
    entry_law = spec.accrual.entry_distribution(spec.n_patients)
    dropout = np.array([a.dropout_hazard_per_month for a in spec.arms], dtype=np.float64)
    inv_total, p_event = competing_exponentials(model_code, model_params, dropout)
    cohort = CohortArgs(
        n_patients=int(spec.n_patients),
        n_categories=n_cat,
        pair_cum=pair_cum.astype(np.float64),
        single_pair=single_pair,
        fixed_assessed=fixed,
        true_given_assessed_cum=np.ascontiguousarray(true_given_assessed, dtype=np.float64),
        identity_classification=bool(identity),
        randomization_stratum=rand_stratum,
        n_random_strata=n_random_strata,
        block_template=block_template,
        p_simple=float(p_simple),
        accrual_breaks=entry_law.breaks.astype(np.float64),
        accrual_cum=entry_law.cum.astype(np.float64),
        accrual_kind=entry_law.kind.astype(np.int64),
        accrual_shape=entry_law.shape.astype(np.float64),
        model_code=model_code,
        model_params=model_params,
        competing_inv_total=inv_total,
        competing_p_event=p_event,
        dropout_hazard=dropout,
    )
    look_events = np.array([c.target_events or 0 for c in spec.cuts], dtype=np.int64)
    look_calendar = np.array(
        [c.calendar_months if c.calendar_months is not None else math.inf for c in spec.cuts], dtype=np.float64
    )
    analysis_stratum, n_strata = _stratum_array(spec.analysis_strata, present, n_cat)
    code_category = np.arange(4 * n_cat) >> 2  # packed codes: (category * 2 + arm) * 2 + event
    populations = [tuple(range(n_cat))] + [s.categories for s in spec.subgroups]
    code_in_pop = np.array([np.isin(code_category, cats) for cats in populations], dtype=np.bool_)
    code_stratum = analysis_stratum[code_category].astype(np.int64)
    analysis = AnalysisArgs(
        code_in_pop=code_in_pop,
        code_stratum=code_stratum,
        n_strata=n_strata,
        fh_rho=float(spec.fh_rho),
        fh_gamma=float(spec.fh_gamma),
        landmark_months=np.array(spec.landmark_months, dtype=np.float64),
        requested=requested_mask(spec.statistics),
        **nph_analysis_args(spec),
    )
    # -1: the rule is not used (the kernel applies a floor only when it is > 0)
    look_gap = np.array([c.min_months_after_previous_look or -1.0 for c in spec.cuts], dtype=np.float64)
    look_followup = np.array([c.min_followup_after_last_entry_months or -1.0 for c in spec.cuts], dtype=np.float64)
    looks = LookArgs(target_events=look_events, calendar_months=look_calendar,
                     min_months_after_previous_look=look_gap, min_followup_after_last_entry_months=look_followup)
    args = KernelArgs(cohort, looks, analysis)
    check_kernel_args(args)
    return args


def _fail(record: str, field_name: str, problem: str):
    raise ValueError(f"kernel record {record}.{field_name}: {problem}")


def _check_types(record, cls) -> None:
    """Every field of ``record`` has exactly the numba type ``FIELD_TYPES`` gives it (so no kernel recompiles)."""
    name = cls.__name__
    if type(record) is not cls:
        raise ValueError(f"kernel record {name}: expected a {name} record, got {type(record).__name__}")
    for field_name, expected in FIELD_TYPES[cls].items():
        value = getattr(record, field_name)
        if isinstance(expected, numba.types.Array) and not isinstance(value, np.ndarray):
            _fail(name, field_name, f"expected a numpy array ({expected}), got {type(value).__name__}")
        got = numba.typeof(value)
        if got != expected:
            _fail(name, field_name, f"expected {expected}, got {got} (value {value!r:.60})")


def _check_shape(record: str, field_name: str, value: np.ndarray, shape: tuple) -> None:
    """``shape``: exact sizes, None for any size."""
    if len(value.shape) != len(shape) or any(
        want is not None and got != want for got, want in zip(value.shape, shape, strict=True)
    ):
        sizes = ["any" if w is None else str(w) for w in shape]
        wanted = f"({sizes[0]},)" if len(sizes) == 1 else "(" + ", ".join(sizes) + ")"
        _fail(record, field_name, f"expected shape {wanted}, got {value.shape}")


def _check_cohort(cohort: CohortArgs) -> None:
    """Shapes and index ranges of a (typed) ``CohortArgs``."""
    c = cohort.n_categories
    if not 1 <= c <= PAIR_STRIDE:
        _fail("CohortArgs", "n_categories", f"must be in [1, {PAIR_STRIDE}], got {c}")
    if cohort.n_patients < 1:
        _fail("CohortArgs", "n_patients", f"must be >= 1, got {cohort.n_patients}")
    _check_shape("CohortArgs", "pair_cum", cohort.pair_cum, (c * PAIR_STRIDE,))
    if not cohort.pair_cum[-1] == 1.0:
        _fail("CohortArgs", "pair_cum", f"must be cumulative probabilities ending in 1, got {cohort.pair_cum[-1]!r}")
    if not -1 <= cohort.single_pair < c * PAIR_STRIDE:
        _fail("CohortArgs", "single_pair", f"must be -1 or a pair index < {c * PAIR_STRIDE}, got {cohort.single_pair}")
    fixed = cohort.fixed_assessed
    if fixed.shape[0] != 0:
        _check_shape("CohortArgs", "fixed_assessed", fixed, (c,))
        if (fixed < 0).any() or int(fixed.sum()) != cohort.n_patients:
            _fail("CohortArgs", "fixed_assessed", f"must be counts >= 0 summing to n_patients ({cohort.n_patients})")
    _check_shape("CohortArgs", "true_given_assessed_cum", cohort.true_given_assessed_cum, (c, c))
    _check_shape("CohortArgs", "randomization_stratum", cohort.randomization_stratum, (c,))
    if cohort.n_random_strata < 1:
        _fail("CohortArgs", "n_random_strata", f"must be >= 1, got {cohort.n_random_strata}")
    rs = cohort.randomization_stratum
    if (rs < 0).any() or (rs >= cohort.n_random_strata).any():
        _fail("CohortArgs", "randomization_stratum", f"must hold strata in [0, n_random_strata = {cohort.n_random_strata})")
    block = cohort.block_template
    if block.shape[0] < 1 or not np.isin(block, (0, 1)).all():
        _fail("CohortArgs", "block_template", "must be a non-empty block of arms 0 (control) and 1 (experimental)")
    if not (cohort.p_simple < 0.0 or 0.0 <= cohort.p_simple <= 1.0):
        _fail("CohortArgs", "p_simple", f"must be < 0 (permuted blocks) or a probability, got {cohort.p_simple}")
    if cohort.accrual_breaks.shape[0] < 2:
        _fail("CohortArgs", "accrual_breaks", f"needs at least 2 breaks, got shape {cohort.accrual_breaks.shape}")
    _check_shape("CohortArgs", "accrual_cum", cohort.accrual_cum, cohort.accrual_breaks.shape)
    _check_shape("CohortArgs", "accrual_kind", cohort.accrual_kind, cohort.accrual_breaks.shape)
    _check_shape("CohortArgs", "accrual_shape", cohort.accrual_shape, cohort.accrual_breaks.shape)
    if not np.isin(cohort.accrual_kind, ENTRY_KINDS).all():
        _fail("CohortArgs", "accrual_kind", f"must hold entry piece kinds {ENTRY_KINDS}")
    linear = cohort.accrual_kind == ENTRY_LINEAR
    if (np.abs(cohort.accrual_shape[linear]) > 1.0).any() or not np.isfinite(cohort.accrual_shape).all():
        _fail("CohortArgs", "accrual_shape", "must be finite, within [-1, 1] on linear pieces")
    _check_shape("CohortArgs", "model_code", cohort.model_code, (c, 2))
    _check_shape("CohortArgs", "model_params", cohort.model_params, (c, 2, None))
    if cohort.model_params.shape[2] <= N_HEADER:
        _fail("CohortArgs", "model_params", f"rows need more than the {N_HEADER} header entries")
    _check_shape("CohortArgs", "competing_inv_total", cohort.competing_inv_total, (c, 2))
    _check_shape("CohortArgs", "competing_p_event", cohort.competing_p_event, (c, 2))
    _check_shape("CohortArgs", "dropout_hazard", cohort.dropout_hazard, (2,))


def check_kernel_args(args: KernelArgs) -> None:
    """Check the kernel records of ``args`` against their contracts; ValueError naming record and field.

    Kernels do not check their inputs (a wrong shape there is an out-of-bounds
    write, a wrong dtype a fresh compile), so every record is checked here,
    before any kernel runs: the numba type of each field, then shapes and the
    index ranges kernels rely on.
    """
    cohort, looks, analysis = args.cohort, args.looks, args.analysis
    _check_types(cohort, CohortArgs)
    _check_types(looks, LookArgs)
    _check_types(analysis, AnalysisArgs)
    _check_cohort(cohort)
    c = cohort.n_categories

    n_looks = looks.target_events.shape[0]
    if not 1 <= n_looks <= MAX_LOOKS:
        _fail("LookArgs", "target_events", f"must hold 1 to {MAX_LOOKS} looks, got {n_looks}")
    _check_shape("LookArgs", "calendar_months", looks.calendar_months, (n_looks,))
    for name in ("min_months_after_previous_look", "min_followup_after_last_entry_months"):
        value = getattr(looks, name)
        _check_shape("LookArgs", name, value, (n_looks,))
        if not np.isfinite(value).all():
            _fail("LookArgs", name, "must be finite (<= 0: the rule is not used)")
    if (looks.target_events < 0).any():
        _fail("LookArgs", "target_events", "must be >= 0 (0: no event target)")

    n_codes = 4 * c
    _check_shape("AnalysisArgs", "code_in_pop", analysis.code_in_pop, (None, n_codes))
    if analysis.code_in_pop.shape[0] < 1:
        _fail("AnalysisArgs", "code_in_pop", "needs at least one population (everyone)")
    _check_shape("AnalysisArgs", "code_stratum", analysis.code_stratum, (n_codes,))
    if analysis.n_strata < 1:
        _fail("AnalysisArgs", "n_strata", f"must be >= 1, got {analysis.n_strata}")
    cs = analysis.code_stratum
    if (cs < 0).any() or (cs >= analysis.n_strata).any():
        _fail("AnalysisArgs", "code_stratum", f"must hold strata in [0, n_strata = {analysis.n_strata})")
    if analysis.requested < 0 or analysis.requested & ~ALL_STATISTICS:
        _fail("AnalysisArgs", "requested", f"must be a bit mask of STAT_* codes (within {ALL_STATISTICS}), got {analysis.requested}")

    gs = analysis.gs_components
    if gs.shape[1] != 3 or gs.shape[0] > MAX_MAXCOMBO:
        _fail("AnalysisArgs", "gs_components", f"must be [J <= {MAX_MAXCOMBO}, 3] (rho, gamma, t_star), got {gs.shape}")

    if args.variants is not None:
        _check_variant_table(cohort, args.variants)


def _check_variant_table(cohort: CohortArgs, variants: VariantArgs) -> None:
    """Each row of the table is a valid set of ``cohort``'s parameter fields (same checks as ``cohort``'s)."""
    _check_types(variants, VariantArgs)
    n_variants = variants.single_pair.shape[0]
    if n_variants < 1:
        _fail("VariantArgs", "single_pair", "the table needs at least one variant")
    for name in PARAMETER_FIELDS:
        value = getattr(variants, name)
        if value.shape[0] != n_variants:
            _fail("VariantArgs", name, f"expected {n_variants} variants (rows), got shape {value.shape}")
    for v in range(n_variants):
        row = cohort._replace(**{name: getattr(variants, name)[v] for name in PARAMETER_FIELDS})
        try:
            _check_cohort(row._replace(single_pair=int(row.single_pair)))
        except ValueError as error:
            raise ValueError(f"kernel record VariantArgs, variant {v}: {error}") from None


@dataclass(frozen=True)
class SimulationResult:
    """Per-trial statistics of a run.

    ``stats[trial, look, population, field]`` with ``fields`` naming the last
    axis; ``cut_months[trial, look]``, ``enrolled[trial, look]`` and
    ``flags[trial, look, population]`` (bit set, see ``simtrial.engine.layout``).
    ``variant_index[trial]``: the row of ``variants`` whose parameters the
    trial ran with (all 0 and ``variants`` None for a plain run of ``spec``).
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
    variant_index: np.ndarray | None = field(default=None, repr=False)
    variants: tuple[TrialSpec, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.variant_index is None:
            object.__setattr__(self, "variant_index", np.zeros(self.stats.shape[0], dtype=np.int64))

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
        if self.variants is not None:
            frame.insert(1, "variant", np.repeat(self.variant_index, n_looks * n_pop))
        return frame

    def to_dict(self) -> dict[str, Any]:
        out = {
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
        if self.variants is not None:
            out["variant_index"] = self.variant_index.tolist()
        return out

    def flag_counts(self) -> dict[str, int]:
        names = dict(layout.FLAG_NAMES)
        names.update(layout.cut_flag_names(self.spec.cuts))
        return {name: int(((self.flags & bit) != 0).sum()) for bit, name in names.items()}


def _versions() -> dict[str, str]:
    return {"simtrial": __version__, "numba": numba.__version__, "numpy": np.__version__}


@dataclass(frozen=True)
class TrialTask:
    """``task(first_trial, n)``: the rows of trials first_trial .. first_trial + n - 1 of one run.

    Holds only the seed, the kernel records (numpy arrays and scalars) and the
    run's variant index, so it pickles; an executor calls it on ranges of
    absolute trial indices.  ``variant_index[i]`` is the variant of trial
    ``index_offset + i``; None runs every trial with variant 0.
    """

    seed: int
    args: KernelArgs
    variant_index: np.ndarray | None = None
    index_offset: int = 0
    trial_parameters: TrialParameters | None = None

    def __post_init__(self) -> None:
        table = self.args.variant_table()  # built once here, not per range
        object.__setattr__(self, "_variants", table)
        if self.trial_parameters is not None and self.variant_index is not None:
            raise ValueError("give per-trial parameters or a variant index, not both")
        if self.variant_index is not None:
            index = _checked_variant_index(self.variant_index, None, self.args.n_variants)
            object.__setattr__(self, "variant_index", index)

    def trial_variants(self, first_trial: int, n: int) -> np.ndarray:
        """int64[n]: the variant of trials first_trial .. first_trial + n - 1."""
        if self.variant_index is None:
            return np.zeros(n, dtype=np.int64)
        lo = first_trial - self.index_offset
        if lo < 0 or lo + n > self.variant_index.shape[0]:
            raise ValueError(
                f"trials {first_trial}..{first_trial + n - 1} are outside the task's variant index "
                f"(trials {self.index_offset}..{self.index_offset + self.variant_index.shape[0] - 1})"
            )
        return self.variant_index[lo : lo + n]

    @property
    def n_looks(self) -> int:
        return int(self.args.looks.target_events.shape[0])

    @property
    def n_populations(self) -> int:
        return int(self.args.analysis.code_in_pop.shape[0])

    @property
    def n_fields(self) -> int:
        a = self.args.analysis
        return layout.n_columns(int(a.landmark_months.shape[0]), a.nph_requested != 0,
                                layout.gs_width(self.n_looks, int(a.gs_components.shape[0])))

    def empty_rows(self, n: int) -> TrialRows:
        n_looks, n_pop = self.n_looks, self.n_populations
        return TrialRows(
            stats=np.empty((n, n_looks, n_pop, self.n_fields), dtype=np.float64),
            cut_months=np.empty((n, n_looks), dtype=np.float64),
            enrolled=np.empty((n, n_looks), dtype=np.int64),
            flags=np.empty((n, n_looks, n_pop), dtype=np.int32),
        )

    def __call__(self, first_trial: int, n: int) -> TrialRows:
        first_trial, n = int(first_trial), int(n)
        rows = self.empty_rows(n)
        a = self.args
        variants, trial_variant = self._variants, self.trial_variants(first_trial, n)
        if self.trial_parameters is not None and self.trial_parameters.changes_event_times:
            # one variant row per trial of this range, built here so memory stays O(range)
            lo = first_trial - self.index_offset
            variants = self.trial_parameters.variant_rows(self._variants, lo, lo + n)
            trial_variant = np.arange(n, dtype=np.int64)
        simulate_block_range(
            self.seed, first_trial, n, a.cohort, variants, trial_variant,
            a.looks, a.analysis, rows.stats, rows.cut_months, rows.enrolled, rows.flags,
        )
        return rows


def _checked_variant_index(variant_index, n_sims: int | None, n_variants: int) -> np.ndarray:
    """``variant_index`` as C-contiguous int64[n_sims] (None: any length) with values in [0, n_variants)."""
    index = np.asarray(variant_index)
    if index.dtype == np.bool_ or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"variant_index must be an integer array, got dtype {index.dtype}")
    if index.ndim != 1 or (n_sims is not None and index.shape != (n_sims,)):
        raise ValueError(f"variant_index must have one entry per simulated trial, shape ({n_sims},), got {index.shape}")
    bad = np.flatnonzero((index < 0) | (index >= n_variants))
    if bad.size:
        raise ValueError(
            f"variant_index[{int(bad[0])}] = {int(index[bad[0]])} is not a variant: "
            f"values must be in [0, {n_variants}) ({n_variants} variant{'s' if n_variants != 1 else ''})"
        )
    return np.ascontiguousarray(index, dtype=np.int64)


def _check_rows(executor, start: int, stop: int, rows, template: TrialRows) -> TrialRows:
    """Rows an executor returned for trials start .. stop - 1 have the task's shapes and dtypes."""
    if not isinstance(rows, tuple) or len(rows) != len(TrialRows._fields):
        raise RuntimeError(f"{executor!r} returned {type(rows).__name__} for trials {start}..{stop - 1}, not TrialRows")
    rows = TrialRows(*rows)
    for name, got, want in zip(TrialRows._fields, rows, template, strict=True):
        shape = (stop - start, *want.shape[1:])
        if not isinstance(got, np.ndarray) or got.dtype != want.dtype or got.shape != shape:
            described = f"{got.dtype}{got.shape}" if isinstance(got, np.ndarray) else type(got).__name__
            raise RuntimeError(
                f"{executor!r} returned {name} of {described} for trials {start}..{stop - 1}, expected {want.dtype}{shape}"
            )
    return rows


def simulate(
    spec: TrialSpec,
    n_sims: int,
    seed: int,
    *,
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
    first_trial: int = 0,
    variants=None,
    variant_index=None,
    trial_parameters: TrialParameters | None = None,
) -> SimulationResult:
    """Simulate ``n_sims`` trials of ``spec``; trial i uses the stream (seed, first_trial + i).

    ``variants``: a sequence of V TrialSpecs sharing ``spec``'s structure and
    differing in parameters (arm models, dropout, accrual, population mix; see
    ``check_variants``); ``variant_index``: int[n_sims], trial i runs with the
    parameters of ``variants[variant_index[i]]`` (default: all 0).  Without
    ``variants`` the one variant is ``spec`` itself.  A trial's numbers depend
    only on the seed, its index and its variant's parameters, so trial i equals
    trial i of ``simulate(variants[variant_index[i]], ...)`` on the same seed.

    ``executor`` runs the trials (``simtrial.executors``; default
    ``LocalThreads(threads)``: numba threads in this process); ``threads`` is
    the default executor's option, so give one or the other.  ``progress(k)``
    is called whenever ``k`` more trials are finished.  Results do not depend
    on ``threads``, the executor or the chunking.

    ``trial_parameters`` (``simtrial.trial_parameters``): trial i runs with
    row i of the drawn per-trial parameters instead of the spec's (assurance);
    it excludes ``variants``.
    """
    if not isinstance(n_sims, int | np.integer) or n_sims < 1:
        raise ValueError(f"n_sims must be an integer >= 1, got {n_sims!r}")
    if not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    if not isinstance(first_trial, int | np.integer) or first_trial < 0:
        raise ValueError(f"first_trial must be an integer >= 0, got {first_trial!r}")
    if threads is not None and (not isinstance(threads, int | np.integer) or threads < 1):
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    if executor is None:
        executor = LocalThreads(threads)
    elif threads is not None:
        raise ValueError("threads is an option of the default executor: give LocalThreads(threads) as executor instead")
    elif not callable(getattr(executor, "map_ranges", None)):
        raise TypeError(f"executor must have a map_ranges(task, ranges) method, got {executor!r}")
    args = to_kernel_args(spec, variants)
    n_sims = int(n_sims)
    first = int(first_trial)
    if variant_index is not None:
        variant_index = _checked_variant_index(variant_index, n_sims, args.n_variants)
    if trial_parameters is not None:
        if variants is not None or variant_index is not None:
            raise ValueError("trial_parameters and variants are exclusive: give one")
        if trial_parameters.n_sims != n_sims:
            raise ValueError(f"trial_parameters hold {trial_parameters.n_sims} trials, the run {n_sims}")
    task = TrialTask(int(seed), args, variant_index=variant_index, index_offset=first, trial_parameters=trial_parameters)
    fields = layout.FIELDS + layout.landmark_fields(spec.landmark_months)
    if args.analysis.nph_requested:
        fields += layout.NPH_FIELDS
    fields += layout.gs_fields(len(spec.cuts), len(spec.group_sequential_weights))
    assert len(fields) == task.n_fields

    # chunks only pace the progress bar: every trial's stream is fixed by its index
    chunk = n_sims if progress is None else max(256, n_sims // 50)
    ranges = [(first + a, first + min(n_sims, a + chunk)) for a in range(0, n_sims, chunk)]
    template = task.empty_rows(0)
    merged: list[TrialRows | None] = [None]

    def place(lo: int, hi: int, start: int, stop: int, rows) -> None:
        rows = _check_rows(executor, start, stop, rows, template)
        if lo == 0 and hi == n_sims:
            merged[0] = rows  # the whole run in one piece: no copy
            return
        if merged[0] is None:
            merged[0] = task.empty_rows(n_sims)
        for target, piece in zip(merged[0], rows, strict=True):
            target[lo:hi] = piece

    merge_pieces(executor, executor.map_ranges(task, ranges), first, n_sims, place, progress)
    out = merged[0]
    return SimulationResult(
        spec=spec, n_sims=n_sims, seed=int(seed), fields=fields, populations=spec.population_names,
        stats=out.stats, cut_months=out.cut_months, enrolled=out.enrolled, flags=out.flags, versions=_versions(),
        variant_index=task.trial_variants(first, n_sims).copy(),
        variants=None if variants is None else tuple(variants),
    )


def patient_data(spec: TrialSpec, seed: int, trial: int = 0) -> pd.DataFrame:
    """The patients of one simulated trial (as generated, before any cut): for inspection and tests."""
    if not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    if not isinstance(trial, int | np.integer) or trial < 0:
        raise ValueError(f"trial must be an integer >= 0, got {trial!r}")
    args = to_kernel_args(spec)
    entry, x, pcode, true_category = generate_one_cohort(int(seed), int(trial), args.cohort)
    assessed = pcode >> 2
    names = [spec.population.cells.name(c) for c in range(spec.population.n_cells)]
    return pd.DataFrame(
        {
            "entry_months": entry,
            "time_to_event_or_dropout_months": x,
            "event": (pcode & 1).astype(np.int8),
            "arm": ((pcode >> 1) & 1).astype(np.int8),
            "assessed_category": pd.Categorical.from_codes(assessed, names),
            "true_category": pd.Categorical.from_codes(true_category, names),
        }
    )


@dataclass(frozen=True)
class VariantsTask:
    """``task(start, n)`` over V variants of one run, each on the same ``n_sims`` trial streams.

    Global row ``v * n_sims + t`` is trial ``t`` of variant ``v``: the stream
    (seed, t) with row ``v`` of the variant table, so variant v's rows equal a
    separate run of its spec on the same seed (common random numbers between
    variants, one engine pass for all of them).  Holds only arrays and scalars,
    so it pickles; a range crossing a variant boundary is split here.
    """

    seed: int
    args: KernelArgs
    n_sims: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "_plain", TrialTask(self.seed, self.args))

    def empty_rows(self, n: int) -> TrialRows:
        return self._plain.empty_rows(n)

    def __call__(self, start: int, n: int) -> TrialRows:
        start, n = int(start), int(n)
        out = self.empty_rows(n)
        a = self.args
        table = a.variant_table()
        done = 0
        while done < n:
            v, t0 = divmod(start + done, self.n_sims)
            count = min(n - done, self.n_sims - t0)
            piece = self.empty_rows(count)
            simulate_block_range(
                self.seed, t0, count, a.cohort, table, np.full(count, v, dtype=np.int64),
                a.looks, a.analysis, piece.stats, piece.cut_months, piece.enrolled, piece.flags,
            )
            for target, part in zip(out, piece, strict=True):
                target[done:done + count] = part
            done += count
        return out


def simulate_variants(
    specs, n_sims: int, seed: int, *, threads: int | None = None, executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[SimulationResult]:
    """``[simulate(spec, n_sims, seed) for spec in specs]`` in one engine pass (one executor map).

    The specs must share their structure (``check_variants``: they may differ in
    arm models, dropout, accrual and population mix only; ValueError otherwise).
    Each result equals the separate run of its spec, trial by trial.
    """
    specs = list(specs)
    if not specs:
        raise ValueError("simulate_variants needs at least one spec")
    if not isinstance(n_sims, int | np.integer) or n_sims < 1:
        raise ValueError(f"n_sims must be an integer >= 1, got {n_sims!r}")
    if not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    if executor is None:
        executor = LocalThreads(threads)
    elif threads is not None:
        raise ValueError("threads is an option of the default executor: give LocalThreads(threads) as executor instead")
    n = int(n_sims)
    args = to_kernel_args(specs[0], specs)
    task = VariantsTask(int(seed), args, n)
    total = n * len(specs)
    chunk = n if progress is None else max(256, n // 50)
    ranges = [(v * n + a, v * n + min(n, a + chunk)) for v in range(len(specs)) for a in range(0, n, chunk)]
    template = task.empty_rows(0)
    out = task.empty_rows(total)

    def place(lo: int, hi: int, start: int, stop: int, rows) -> None:
        rows = _check_rows(executor, start, stop, rows, template)
        for target, piece in zip(out, rows, strict=True):
            target[lo:hi] = piece

    merge_pieces(executor, executor.map_ranges(task, ranges), 0, total, place, progress)
    results = []
    for v, spec in enumerate(specs):
        rows = slice(v * n, (v + 1) * n)
        fields = layout.FIELDS + layout.landmark_fields(spec.landmark_months)
        if args.analysis.nph_requested:
            fields += layout.NPH_FIELDS
        fields += layout.gs_fields(len(spec.cuts), len(spec.group_sequential_weights))
        results.append(SimulationResult(
            spec=spec, n_sims=n, seed=int(seed), fields=fields, populations=spec.population_names,
            stats=out.stats[rows], cut_months=out.cut_months[rows], enrolled=out.enrolled[rows], flags=out.flags[rows],
            versions=_versions(),
        ))
    return results
