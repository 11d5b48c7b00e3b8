"""Kernel arguments are named records, built and checked once in ``simulate.to_kernel_args``.

A wrong dtype, shape, scalar type or record class is refused there with an
error naming the record and field, before any kernel runs (the kernels check
nothing: a wrong shape would be an out-of-bounds write, a wrong dtype a fresh
compile or nonsense).
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numba
import numpy as np
import pytest

import simtrial.simulate as simulate_module
from simtrial.engine import records
from simtrial.engine.cohort import PAIR_STRIDE
from simtrial.engine.records import (
    FIELD_TYPES,
    AnalysisArgs,
    CohortArgs,
    LookArgs,
    Scratch,
    allocate_scratch,
)
from simtrial.her2 import N_CATEGORIES
from simtrial.simulate import KernelArgs, check_kernel_args, to_kernel_args
from simtrial.spec import Accrual, Arm, Cut, Population, Subgroup, TrialSpec, dropout_hazard
from simtrial.survival import Exponential, Weibull

ROOT = Path(__file__).resolve().parents[1]


def _spec(**over) -> TrialSpec:
    ctrl = {3: Exponential(median_months=8.0), 5: Weibull(1.2, 10.0)}
    expt = {k: m.with_hazard_ratio(0.7) for k, m in ctrl.items()}
    h = dropout_hazard(0.05, 12)
    kw = dict(
        population=Population(mix={3: 0.4, 5: 0.6}),
        control=Arm("control", ctrl, h),
        experimental=Arm("experimental", expt, 2 * h),
        n_patients=120,
        accrual=Accrual(duration_months=12),
        cuts=(Cut(40), Cut(80, calendar_months=36.0)),
        subgroups=(Subgroup("ihc3", (5,)),),
        analysis_strata={0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1},
        fh_rho=1.0,
        landmark_months=(6.0, 12.0, 24.0),
    )
    kw.update(over)
    return TrialSpec(**kw)


@pytest.fixture(autouse=True)
def tripwires(monkeypatch):
    """Nothing here needs a kernel, except the tests that ask for ``allocate_scratch`` directly."""

    def tripwire(*args, **kwargs):
        raise AssertionError("a kernel ran")

    monkeypatch.setattr(simulate_module, "simulate_block_range", tripwire)
    monkeypatch.setattr(simulate_module, "generate_one_cohort", tripwire)


# --- the records --------------------------------------------------------------------------------


def test_records_have_named_fields_and_a_contract_for_each():
    assert {
        "n_patients",
        "n_random_strata",
        "pair_cum",
        "block_template",
        "dropout_hazard",
        "p_simple",
    } <= set(CohortArgs._fields)
    assert LookArgs._fields == (
        "target_events", "calendar_months", "min_months_after_previous_look", "min_followup_after_last_entry_months",
    )
    assert {"code_in_pop", "n_strata", "fh_rho", "fh_gamma", "landmark_months"} <= set(
        AnalysisArgs._fields
    )
    assert {"rng_state", "entry", "x", "pcode", "block_state", "look_flags"} <= set(Scratch._fields)
    for cls in (CohortArgs, LookArgs, AnalysisArgs):
        assert tuple(FIELD_TYPES[cls]) == cls._fields
        assert (
            cls.__module__ == "simtrial.engine.records"
        )  # module level: numba caches kernels taking them


def test_to_kernel_args_returns_the_records_with_the_specs_values():
    spec = _spec()
    args = to_kernel_args(spec)
    assert isinstance(args, KernelArgs)
    c, lk, a = args.cohort, args.looks, args.analysis
    assert type(c) is CohortArgs and type(lk) is LookArgs and type(a) is AnalysisArgs
    assert c.n_patients == 120 and c.n_categories == N_CATEGORIES
    np.testing.assert_array_equal(
        c.dropout_hazard, [dropout_hazard(0.05, 12), 2 * dropout_hazard(0.05, 12)]
    )
    np.testing.assert_array_equal(c.accrual_breaks, [0.0, 12.0])
    np.testing.assert_array_equal(c.block_template, [0, 1, 0, 1])  # 1:1 allocation, blocks of 2 x 2
    assert c.p_simple < 0.0 and c.n_random_strata == 2  # permuted blocks within IHC 2+/ISH- and 3+
    assert c.fixed_assessed.shape == (0,) and c.identity_classification is True
    np.testing.assert_array_equal(lk.target_events, [40, 80])
    np.testing.assert_array_equal(lk.calendar_months, [math.inf, 36.0])
    assert a.code_in_pop.shape == (2, 4 * N_CATEGORIES) and a.n_strata == 2
    assert (a.fh_rho, a.fh_gamma) == (1.0, 0.0)
    np.testing.assert_array_equal(a.landmark_months, [6.0, 12.0, 24.0])
    # the subgroup row holds exactly the packed codes of IHC 3+ (codes are category * 4 + arm * 2 + event)
    np.testing.assert_array_equal(np.flatnonzero(a.code_in_pop[1]), [20, 21, 22, 23])


def test_every_field_has_its_contract_type():
    args = to_kernel_args(_spec(randomisation="simple"))
    for record in (args.cohort, args.looks, args.analysis):
        for name, expected in FIELD_TYPES[type(record)].items():
            assert numba.typeof(getattr(record, name)) == expected, (
                f"{type(record).__name__}.{name}"
            )


def test_allocate_scratch_returns_the_scratch_record():
    scratch = allocate_scratch(10, 3, 4, 2)
    assert type(scratch) is Scratch
    assert scratch.rng_state.shape == (4,) and scratch.rng_state.dtype == np.uint64
    assert scratch.entry.shape == (10,) and scratch.entry.dtype == np.float64
    assert scratch.block_state.shape == (3, 4) and scratch.block_pos.shape == (3,)
    assert scratch.table_f.shape == (9, 20) and scratch.table_i.shape == (12,)
    assert scratch.piece_code.shape == (2, 12) and scratch.piece_code.dtype == np.int64
    assert scratch.look_flags.shape == (records.MAX_LOOKS,)


# --- wrong records are refused where they are built --------------------------------------------

C = N_CATEGORIES


def _bad_cases():
    def cohort(**kw):
        return lambda a: KernelArgs(a.cohort._replace(**kw), a.looks, a.analysis)

    def looks(**kw):
        return lambda a: KernelArgs(a.cohort, a.looks._replace(**kw), a.analysis)

    def analysis(**kw):
        return lambda a: KernelArgs(a.cohort, a.looks, a.analysis._replace(**kw))

    return {
        "float32 array": (
            cohort(pair_cum=np.ones(C * 8, dtype=np.float32)),
            r"CohortArgs\.pair_cum: expected array\(float64, 1d, C\), got array\(float32",
        ),
        "int array for float": (
            cohort(dropout_hazard=np.zeros(2, dtype=np.int64)),
            r"CohortArgs\.dropout_hazard: expected array\(float64",
        ),
        "float array for int": (
            cohort(model_code=np.zeros((C, 2))),
            r"CohortArgs\.model_code: expected array\(int64, 2d, C\)",
        ),
        "wrong ndim": (
            cohort(model_params=np.zeros((C, 2))),
            r"CohortArgs\.model_params: expected array\(float64, 3d, C\)",
        ),
        "Fortran order": (
            cohort(true_given_assessed_cum=np.asfortranarray(np.ones((C, C)))),
            r"true_given_assessed_cum: expected array\(float64, 2d, C\), got array\(float64, 2d, F\)",
        ),
        "strided view": (
            cohort(block_template=np.zeros(8, dtype=np.int64)[::2]),
            r"block_template: expected array\(int64, 1d, C\), got array\(int64, 1d, A\)",
        ),
        "list for array": (
            cohort(accrual_cum=[0.0, 1.0]),
            r"CohortArgs\.accrual_cum: expected a numpy array",
        ),
        "float for int": (
            cohort(n_patients=120.0),
            r"CohortArgs\.n_patients: expected int64, got float64",
        ),
        "int for bool": (
            cohort(identity_classification=1),
            r"identity_classification: expected bool, got int64",
        ),
        "int for float": (analysis(fh_rho=1), r"AnalysisArgs\.fh_rho: expected float64, got int64"),
        "wrong shape": (
            cohort(model_code=np.zeros((C, 3), dtype=np.int64)),
            r"CohortArgs\.model_code: expected shape \(6, 2\), got \(6, 3\)",
        ),
        "short pair table": (
            cohort(pair_cum=np.ones(C, dtype=np.float64)),
            rf"CohortArgs\.pair_cum: expected shape \({C * PAIR_STRIDE},\)",  # 6 categories x the pair stride
        ),
        "stratum out of range": (
            cohort(n_random_strata=1),
            r"CohortArgs\.randomization_stratum: must hold strata in \[0, n_random_strata = 1\)",
        ),
        "fixed counts off": (
            cohort(fixed_assessed=np.ones(C, dtype=np.int64)),
            r"CohortArgs\.fixed_assessed: must be counts >= 0 summing to n_patients \(120\)",
        ),
        "block arms": (
            cohort(block_template=np.array([0, 2], dtype=np.int64)),
            r"CohortArgs\.block_template",
        ),
        "accrual lengths": (
            cohort(accrual_cum=np.array([0.0, 0.5, 1.0])),
            r"CohortArgs\.accrual_cum: expected shape \(2,\), got \(3,\)",
        ),
        "looks disagree": (
            looks(calendar_months=np.array([math.inf])),
            r"LookArgs\.calendar_months: expected shape \(2,\), got \(1,\)",
        ),
        "too many looks": (
            looks(target_events=np.ones(65, dtype=np.int64), calendar_months=np.full(65, math.inf)),
            r"LookArgs\.target_events: must hold 1 to 64 looks",
        ),
        "analysis stratum": (
            analysis(n_strata=1),
            r"AnalysisArgs\.code_stratum: must hold strata in \[0, n_strata = 1\)",
        ),
        "population codes": (
            analysis(code_in_pop=np.ones((2, 5), dtype=np.bool_)),
            r"AnalysisArgs\.code_in_pop: expected shape \(any, 24\)",
        ),
        "plain tuple": (
            lambda a: KernelArgs(tuple(a.cohort), a.looks, a.analysis),
            r"kernel record CohortArgs: expected a CohortArgs record, got tuple",
        ),
        "records swapped": (
            lambda a: KernelArgs(a.cohort, a.analysis, a.looks),
            r"expected a LookArgs record, got AnalysisArgs",
        ),
    }


BAD = _bad_cases()


@pytest.mark.parametrize("case", BAD)
def test_a_wrong_record_is_refused_naming_record_and_field(case):
    good = to_kernel_args(_spec())
    check_kernel_args(good)  # the good records pass
    corrupt, message = BAD[case]
    with pytest.raises(ValueError, match=message):
        check_kernel_args(corrupt(good))


def test_to_kernel_args_checks_what_it_builds(monkeypatch):
    """A flattening step that produced the wrong dtype is caught in to_kernel_args, not in a kernel."""
    real = simulate_module.competing_exponentials

    def float32_flattening(*args):
        inv_total, p_event = real(*args)
        return inv_total.astype(np.float32), p_event

    monkeypatch.setattr(simulate_module, "competing_exponentials", float32_flattening)
    with pytest.raises(
        ValueError, match=r"CohortArgs\.competing_inv_total: expected array\(float64, 2d, C\)"
    ):
        to_kernel_args(_spec())
    with pytest.raises(ValueError, match=r"competing_inv_total"):
        simulate_module.simulate(_spec(), 5, 1)  # refused before the (tripwired) kernel


def test_fixed_counts_and_misclassification_records_pass():
    m = np.full((C, C), 0.02)
    np.fill_diagonal(m, 1 - 0.02 * (C - 1))
    pop = Population(
        mix={3: 0.5, 5: 0.5}, fixed_counts={3: 50, 5: 70}, misclassification=tuple(map(tuple, m))
    )
    args = to_kernel_args(_spec(population=pop))
    np.testing.assert_array_equal(args.cohort.fixed_assessed, [0, 0, 0, 50, 0, 70])
    assert args.cohort.identity_classification is False


# --- no record is read by position outside the module that defines it ---------------------------

RECORD_NAMES = {"cohort", "looks", "analysis", "scratch"}


def _positional_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            base = node.value
            # cohort[8], args.cohort[8], scratch[13]
            name = (
                base.id
                if isinstance(base, ast.Name)
                else base.attr
                if isinstance(base, ast.Attribute)
                else None
            )
            if name in RECORD_NAMES:
                hits.append(f"{path.name}:{node.lineno}")
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name | ast.Attribute):
            # (a, b, c) = cohort: positional unpacking
            value = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
            if value in RECORD_NAMES and any(isinstance(t, ast.Tuple) for t in node.targets):
                hits.append(f"{path.name}:{node.lineno}")
    return hits


def test_no_record_is_read_by_position():
    files = sorted((ROOT / "simtrial" / "engine").glob("*.py")) + [
        ROOT / "simtrial" / "simulate.py"
    ]
    files = [f for f in files if f.name != "records.py"]
    assert len(files) > 5
    hits = [hit for f in files for hit in _positional_reads(f)]
    assert hits == [], f"records read by position: {hits}"


def test_the_positional_read_check_can_fail(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(cohort, scratch):\n    n = cohort[0]\n    (a, b) = scratch\n    return n, args.cohort[8]\n"
    )
    assert sorted(_positional_reads(bad)) == ["bad.py:2", "bad.py:3", "bad.py:4"]


def test_every_flag_is_its_own_bit():
    """Flags from every module of the engine are distinct single bits (two branches once both took 2048)."""
    from simtrial.engine import cut as cut_module
    from simtrial.engine import layout as L

    values: dict[int, str] = {}
    for module in (L, cut_module):
        for name in dir(module):
            v = getattr(module, name)
            if name.startswith("FLAG_") and not isinstance(v, dict):
                assert isinstance(v, int) and v > 0 and v & (v - 1) == 0, f"{module.__name__}.{name} = {v!r}"
                prior = values.setdefault(v, name)
                assert prior == name, f"{name} and {prior} share the bit {v}"
    assert max(values) < 2**31  # flags are int32
