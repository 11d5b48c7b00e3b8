"""Per-trial parameter variants: one run, a table of V parameter sets, a variant per trial.

The oracle is the engine's reproducibility contract, not a number of our own
pasted back: a trial's numbers depend only on (seed, trial index, its
variant's parameters), so trial t of a run with variants equals trial t of a
plain run of ``variants[variant_index[t]]`` on the same seed, bit for bit.
The variants below differ in every parameter the table carries (hazard
ratios, model families and widths, dropout, accrual laws of different
lengths, the population mix), so a kernel reading the wrong row, a padding
that changes a draw or an index shifted by a range offset shows up as a
differing trial.
"""

from __future__ import annotations

import itertools
import pickle

import numba
import numpy as np
import pytest
from test_executors import ReversedOddPieces

from simtrial.engine.records import FIELD_TYPES, PARAMETER_FIELDS, CohortArgs, VariantArgs
from simtrial.simulate import KernelArgs, TrialTask, check_kernel_args, simulate, to_kernel_args
from simtrial.spec import Accrual, Arm, Cut, Population, Subgroup, TrialSpec, dropout_hazard
from simtrial.survival import CureMixture, Exponential, PiecewiseExponential, Weibull

SEED = 20260311
N_SIMS = 150
ARRAYS = ("stats", "cut_months", "enrolled", "flags")


def _spec(
    hr: float = 0.7,
    dropout: float = 0.05,
    accrual: Accrual | None = None,
    mix: dict | None = None,
    ihc3=None,
    **over,
) -> TrialSpec:
    ihc3 = Weibull(1.2, 10.0) if ihc3 is None else ihc3
    ctrl = {3: Exponential(median_months=8.0), 5: ihc3}
    expt = {k: m.with_hazard_ratio(hr) for k, m in ctrl.items()}
    h = dropout_hazard(dropout, 12)
    kw = dict(
        population=Population(mix=mix or {3: 0.4, 5: 0.6}),
        control=Arm("control", ctrl, h),
        experimental=Arm("experimental", expt, 2 * h),
        n_patients=120,
        accrual=accrual or Accrual(duration_months=12),
        cuts=(Cut(40), Cut(80, calendar_months=36.0)),
        subgroups=(Subgroup("ihc3", (5,)),),
        analysis_strata={0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1},
        fh_rho=1.0,
        landmark_months=(6.0, 12.0, 24.0),
    )
    kw.update(over)
    return TrialSpec(**kw)


def _variants() -> list[TrialSpec]:
    return [
        _spec(),
        # another hazard ratio, no dropout, a three-piece accrual law (longer than the others: padded)
        _spec(
            hr=0.5,
            dropout=0.0,
            accrual=Accrual(rates_per_month=(4.0, 12.0, 20.0), start_months=(0.0, 3.0, 6.0)),
        ),
        # a null effect, heavy dropout, a wider model row (piecewise exponential; the others are padded),
        # a cure mixture and another population mix
        _spec(
            hr=1.0,
            dropout=0.2,
            accrual=Accrual(duration_months=30),
            mix={3: 0.7, 5: 0.3},
            ihc3=CureMixture(0.2, PiecewiseExponential((0.0, 6.0, 12.0), (0.05, 0.1, 0.08))),
        ),
    ]


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def _assert_rows_equal(result, reference, rows) -> None:
    """Rows ``rows`` of ``result`` equal the same rows of ``reference``, array by array, bit for bit."""
    for name in ARRAYS:
        got, want = getattr(result, name)[rows], getattr(reference, name)[rows]
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert _bits(got) == _bits(want), name  # NaN payloads and signed zeros too


def _assert_same(result, reference) -> None:
    _assert_rows_equal(result, reference, slice(None))


@pytest.fixture(scope="module")
def separate():
    """Each variant run alone, on the same seed: the reference for every trial of a mixed run."""
    return [simulate(v, N_SIMS, SEED) for v in _variants()]


# --- a mixed run equals the separate runs, trial by trial -----------------------------------------


def test_three_variants_in_one_run_equal_three_separate_runs(separate):
    variants = _variants()
    index = np.arange(N_SIMS) % 3
    mixed = simulate(variants[0], N_SIMS, SEED, variants=variants, variant_index=index)
    np.testing.assert_array_equal(mixed.variant_index, index)
    assert mixed.variants == tuple(variants)
    for k in range(3):
        rows = np.flatnonzero(index == k)
        assert rows.size == N_SIMS // 3
        _assert_rows_equal(mixed, separate[k], rows)


def test_the_variants_really_differ(separate):
    """Without this, the test above could pass on a kernel that ignores the variant index."""
    z = [r.field("logrank_z") for r in separate]
    cuts = [r.cut_months for r in separate]
    for a, b in itertools.combinations(range(3), 2):
        assert not np.array_equal(z[a], z[b])
        assert not np.array_equal(cuts[a], cuts[b])
    # the strong effect gives larger |z| on average than the null variant
    assert np.mean(-z[1]) > np.mean(-z[2]) + 1.0


def test_an_irregular_variant_index_and_unused_variants(separate):
    rng = np.random.default_rng(7)
    index = rng.choice([0, 2], size=N_SIMS)  # variant 1 never used; runs of equal variants of any length
    mixed = simulate(_spec(), N_SIMS, SEED, variants=_variants(), variant_index=index)
    for k in (0, 2):
        _assert_rows_equal(mixed, separate[k], np.flatnonzero(index == k))


def test_the_spec_is_only_the_structure_when_variants_are_given(separate):
    """The default index is all 0: every trial runs variants[0], whatever parameters ``spec`` has."""
    variants = _variants()
    result = simulate(_spec(hr=0.3), N_SIMS, SEED, variants=variants[1:])
    np.testing.assert_array_equal(result.variant_index, np.zeros(N_SIMS))
    _assert_same(result, separate[1])


def test_one_variant_equals_a_plain_run(separate):
    plain = separate[0]
    _assert_same(simulate(_spec(), N_SIMS, SEED, variants=[_spec()]), plain)
    _assert_same(simulate(_spec(), N_SIMS, SEED, variants=[_spec()], variant_index=np.zeros(N_SIMS, int)), plain)
    _assert_same(simulate(_spec(), N_SIMS, SEED, variant_index=[0] * N_SIMS), plain)
    np.testing.assert_array_equal(plain.variant_index, np.zeros(N_SIMS))
    assert plain.variants is None and "variant_index" not in plain.to_dict()
    assert "variant" not in plain.to_frame().columns


def test_the_result_records_the_variant_of_each_trial():
    index = np.array([2, 0, 1, 1, 0])
    result = simulate(_spec(), 5, SEED, variants=_variants(), variant_index=index)
    assert result.to_dict()["variant_index"] == [2, 0, 1, 1, 0]
    frame = result.to_frame()
    n_rows = result.n_looks * len(result.populations)
    np.testing.assert_array_equal(frame["variant"].to_numpy(), np.repeat(index, n_rows))


# --- executors, offsets and pickling ---------------------------------------------------------------


def test_an_executor_in_reverse_odd_pieces_gives_identical_arrays_with_variants():
    index = (np.arange(N_SIMS) * 7) % 3
    kw = dict(variants=_variants(), variant_index=index)
    local = simulate(_spec(), N_SIMS, SEED, **kw)
    pieces = simulate(_spec(), N_SIMS, SEED, executor=ReversedOddPieces(), **kw)
    one_thread = simulate(_spec(), N_SIMS, SEED, threads=1, progress=lambda k: None, **kw)
    _assert_same(pieces, local)
    _assert_same(one_thread, local)


def test_first_trial_offsets_keep_each_trial_with_its_variant():
    index = np.arange(N_SIMS) % 3
    whole = simulate(_spec(), N_SIMS, SEED, variants=_variants(), variant_index=index)
    tail = simulate(
        _spec(), N_SIMS - 50, SEED, first_trial=50, variants=_variants(), variant_index=index[50:],
        executor=ReversedOddPieces(),
    )
    np.testing.assert_array_equal(tail.variant_index, index[50:])
    for name in ARRAYS:
        assert _bits(getattr(tail, name)) == _bits(getattr(whole, name)[50:]), name


def test_a_task_runs_absolute_trial_ranges_and_pickles():
    index = np.array([1, 2, 0, 0, 2, 1, 1, 2, 0, 1])
    task = TrialTask(SEED, to_kernel_args(_spec(), _variants()), variant_index=index, index_offset=100)
    whole = task(100, 10)
    part = pickle.loads(pickle.dumps(task))(104, 4)
    for got, want in zip(part, whole, strict=True):
        np.testing.assert_array_equal(got, want[4:8])
    with pytest.raises(ValueError, match="outside the task's variant index"):
        task(95, 10)
    with pytest.raises(ValueError, match="outside the task's variant index"):
        task(105, 10)


# --- the kernel records -------------------------------------------------------------------------


def test_the_variant_table_has_a_leading_variant_axis_with_consistent_padding():
    variants = _variants()
    table = to_kernel_args(variants[0], variants).variants
    singles = [to_kernel_args(v).variants for v in variants]
    assert type(table) is VariantArgs and table._fields == PARAMETER_FIELDS
    for name, expected in FIELD_TYPES[VariantArgs].items():
        value = getattr(table, name)
        assert value.shape[0] == 3 and numba.typeof(value) == expected, name
    width = max(s.model_params.shape[-1] for s in singles)
    assert table.model_params.shape == (3, 6, 2, width)
    assert table.dropout_hazard.shape == (3, 2) and table.competing_inv_total.shape == (3, 6, 2)
    assert table.accrual_breaks.shape == table.accrual_cum.shape == (3, 4)  # the 3-piece law: 4 breaks
    for v, single in enumerate(singles):
        p = single.model_params[0]
        np.testing.assert_array_equal(table.model_params[v, ..., : p.shape[-1]], p)
        assert not table.model_params[v, ..., p.shape[-1] :].any()
        j = single.accrual_breaks.shape[1]
        np.testing.assert_array_equal(table.accrual_breaks[v, :j], single.accrual_breaks[0])
        np.testing.assert_array_equal(table.accrual_cum[v, :j], single.accrual_cum[0])
        # padding repeats the last break at cumulative probability 1
        assert (table.accrual_breaks[v, j:] == single.accrual_breaks[0, -1]).all()
        assert (table.accrual_cum[v, j:] == 1.0).all()
        for name in ("pair_cum", "single_pair", "dropout_hazard", "competing_p_event", "model_code"):
            np.testing.assert_array_equal(getattr(table, name)[v], getattr(single, name)[0], err_msg=name)
    # a plain run is a one-row table of the spec's own parameters
    plain = to_kernel_args(variants[0])
    for name in PARAMETER_FIELDS:
        np.testing.assert_array_equal(getattr(plain.variants, name)[0], getattr(plain.cohort, name))


def test_a_wrong_variant_table_is_refused():
    good = to_kernel_args(_spec(), _variants())
    t = good.variants
    bad = {
        "rows disagree": (t._replace(dropout_hazard=t.dropout_hazard[:2]), r"VariantArgs\.dropout_hazard: expected 3"),
        "dtype": (t._replace(single_pair=t.single_pair.astype(np.int32)), r"VariantArgs\.single_pair: expected"),
        "no variant axis": (t._replace(model_params=t.model_params[0]), r"VariantArgs\.model_params: expected"),
        "bad row": (
            t._replace(pair_cum=np.ascontiguousarray(t.pair_cum * 0.5)),
            r"VariantArgs, variant 0: kernel record CohortArgs\.pair_cum: must be cumulative",
        ),
        "plain tuple": (tuple(t), r"expected a VariantArgs record"),
    }
    for case, (table, message) in bad.items():
        with pytest.raises(ValueError, match=message):
            check_kernel_args(KernelArgs(good.cohort, good.looks, good.analysis, table))
        assert case


def test_cohort_args_keep_their_contract():
    """Per-trial kernels read one plain CohortArgs: the variant table adds a record, it changes none."""
    args = to_kernel_args(_spec(), _variants())
    assert type(args.cohort) is CohortArgs
    check_kernel_args(KernelArgs(args.cohort, args.looks, args.analysis))  # no table: the cohort's own row


# --- what is refused -----------------------------------------------------------------------------


STRUCTURAL = {
    "n_patients": (dict(n_patients=130), r"variants\[1\]\.n_patients = 130 differs"),
    "cuts": (dict(cuts=(Cut(40), Cut(90))), r"variants\[1\]\.cuts = .* differs"),
    "subgroups": (dict(subgroups=()), r"variants\[1\]\.subgroups"),
    "strata": (dict(analysis_strata=None), r"variants\[1\]\.analysis_strata"),
    "allocation": (dict(allocation=(1, 2)), r"variants\[1\]\.allocation"),
    "randomisation": (dict(randomisation="simple"), r"variants\[1\]\.randomisation"),
    "landmarks": (dict(landmark_months=(6.0,)), r"variants\[1\]\.landmark_months"),
    "fh": (dict(fh_rho=0.0), r"variants\[1\]\.fh_rho"),
    "eligibility": (
        dict(population=Population(mix={3: 0.4, 5: 0.6}, eligible=(5,))),
        r"variants\[1\]\.population\.eligible",
    ),
    "categories of the mix": (
        dict(mix={5: 1.0}),  # a category fewer: other randomisation and analysis strata
        r"variants\[1\]: kernel record CohortArgs\.randomization_stratum differs",
    ),
}


@pytest.mark.parametrize("case", STRUCTURAL)
def test_a_structural_difference_between_variants_is_refused(case, monkeypatch):
    import simtrial.simulate as simulate_module

    def tripwire(*args, **kwargs):
        raise AssertionError("a kernel ran")

    monkeypatch.setattr(simulate_module, "simulate_block_range", tripwire)
    over, message = STRUCTURAL[case]
    with pytest.raises(ValueError, match=message):
        simulate(_spec(), 10, SEED, variants=[_spec(), _spec(**over)])


def test_arm_labels_are_structure(monkeypatch):
    other = _spec()
    other = TrialSpec(**{**other.__dict__, "control": Arm("placebo", other.control.models, 0.0)})
    with pytest.raises(ValueError, match=r"variants\[0\]\.control\.label = 'placebo'"):
        to_kernel_args(_spec(), [other])


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([], "at least one TrialSpec"),
        ("spec", "list or tuple of TrialSpec"),
        ([_spec(), "x"], r"variants\[1\] must be a TrialSpec"),
    ],
)
def test_variants_that_are_not_specs_are_refused(variants, message):
    with pytest.raises(ValueError, match=message):
        simulate(_spec(), 5, SEED, variants=_spec() if variants == "spec" else variants)


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ([0, 1, 3, 0, 1], r"variant_index\[2\] = 3 is not a variant: values must be in \[0, 3\)"),
        ([0, -1, 0, 0, 0], r"variant_index\[1\] = -1 is not a variant"),
        ([0, 1, 2, 0], r"one entry per simulated trial, shape \(5,\), got \(4,\)"),
        ([[0, 1, 2, 0, 1]], r"one entry per simulated trial"),
        ([0.0, 1.0, 2.0, 0.0, 1.0], "integer array"),
        ([True, False, True, False, True], "integer array"),
    ],
)
def test_a_wrong_variant_index_is_refused(index, message, monkeypatch):
    import simtrial.simulate as simulate_module

    monkeypatch.setattr(simulate_module, "simulate_block_range", lambda *a: pytest.fail("a kernel ran"))
    with pytest.raises(ValueError, match=message):
        simulate(_spec(), 5, SEED, variants=_variants(), variant_index=index)


def test_without_variants_the_only_variant_is_zero():
    with pytest.raises(ValueError, match=r"variant_index\[0\] = 1 is not a variant: values must be in \[0, 1\) \(1 variant\)"):
        simulate(_spec(), 3, SEED, variant_index=[1, 0, 0])
