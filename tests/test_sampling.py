"""The engine draws what the spec says: event times, cure fractions, allocation, accrual, cuts, assay errors.

Fixed seeds throughout; distribution checks use scipy's Kolmogorov-Smirnov test
against the model's own closed-form survival function (p > 0.001 at the fixed
seed), proportions are within 4 binomial standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simtrial.engine import layout as L
from simtrial.engine.models import MODEL_PIECEWISE_EXPONENTIAL, MODEL_WEIBULL, pack_model_params
from simtrial.engine.sampling import sample_event_times
from simtrial.simulate import patient_data, simulate
from simtrial.spec import Accrual, Arm, Cut, Population, TrialSpec, dropout_hazard
from simtrial.survival import CureMixture, Exponential, PiecewiseExponential, Weibull

N = 20_000
P_MIN = 1e-3

MODELS = {
    "exponential": Exponential(median_months=6.8),
    "weibull_increasing": Weibull(1.5, 10.0),
    "weibull_decreasing": Weibull(0.7, 5.0),
    "piecewise": PiecewiseExponential((0.0, 3.0, 9.0), (0.1, 0.02, 0.3)),
    "piecewise_zero_piece": PiecewiseExponential((0.0, 2.0, 6.0), (0.2, 0.0, 0.1)),
    "cure_exponential": CureMixture(0.3, Exponential(median_months=5.0)),
    "cure_weibull": CureMixture(0.2, Weibull(1.3, 8.0)),
    "cure_piecewise": CureMixture(0.4, PiecewiseExponential((0.0, 4.0), (0.05, 0.25))),
}
CASES = {**MODELS, **{f"{k}_hr": m.with_hazard_ratio(0.6) for k, m in MODELS.items()}}
CASES["cure_exponential_hr_above_1"] = MODELS["cure_exponential"].with_hazard_ratio(1.7)


def _cure_fraction(model) -> float:
    return model.population_cure_fraction if isinstance(model, CureMixture) else 0.0


def _ks_pvalue(samples, survival, cure=0.0):
    """KS of the finite samples against F(t | cured = no) = (1 - S(t)) / (1 - cure)."""
    finite = samples[np.isfinite(samples)]

    def cdf(t):
        return (1.0 - np.asarray(survival(t), dtype=float)) / (1.0 - cure)

    return stats.kstest(finite, cdf).pvalue


@pytest.mark.parametrize("name", list(CASES))
def test_event_times_follow_the_model(name):
    model = CASES[name]
    code, params = model.to_kernel()
    samples = sample_event_times(code, params, N, seed=31)
    assert samples.shape == (N,) and (samples > 0).all()
    cure = _cure_fraction(model)
    assert _ks_pvalue(samples, model.survival, cure) > P_MIN
    cured = np.isinf(samples).mean()
    if cure == 0.0:
        assert cured == 0.0
    else:
        se = math.sqrt(cure * (1 - cure) / N)
        assert abs(cured - cure) < 4 * se, (cured, cure)


@pytest.mark.parametrize("code, shape_params, survival", [
    (MODEL_WEIBULL, (1.5, 10.0), lambda t: np.exp(-((t / 10.0) ** 1.5))),
    (MODEL_PIECEWISE_EXPONENTIAL, (2, 0.0, 5.0, 0.1, 0.3),
     lambda t: np.exp(-(0.1 * np.minimum(t, 5.0) + 0.3 * np.maximum(t - 5.0, 0.0)))),
])
@pytest.mark.parametrize("hazard_ratio", [0.5, 1.0, 2.5])
def test_kernel_hazard_ratio_parameter_raises_survival_to_the_power_h(code, shape_params, survival, hazard_ratio):
    """params[1] = h gives S(t) ** h, written here from the formulas, not from simtrial.survival."""
    params = pack_model_params(code, cure_fraction=0.0, hazard_ratio=hazard_ratio, shape_params=shape_params)
    samples = sample_event_times(code, params, N, seed=8)
    assert _ks_pvalue(samples, lambda t: survival(t) ** hazard_ratio) > P_MIN


def test_cure_fraction_is_recovered_with_hazard_ratio():
    """S(t) -> c ** h as t -> inf: the cured share of an arm with hazard ratio h."""
    c, h = 0.35, 0.6
    params = pack_model_params(MODEL_WEIBULL, cure_fraction=c, hazard_ratio=h, shape_params=(1.2, 6.0))
    samples = sample_event_times(MODEL_WEIBULL, params, N, seed=5)
    want = c**h
    assert abs(np.isinf(samples).mean() - want) < 4 * math.sqrt(want * (1 - want) / N)


def test_different_seeds_give_different_samples_and_the_same_seed_the_same():
    code, params = MODELS["exponential"].to_kernel()
    a = sample_event_times(code, params, 100, seed=1)
    np.testing.assert_array_equal(a, sample_event_times(code, params, 100, seed=1))
    assert not np.array_equal(a, sample_event_times(code, params, 100, seed=2))


# ------------------------------------------------------------ trial cohorts

CTRL = Exponential(median_months=6.8)
H = dropout_hazard(0.05, 12)


def _spec(population, n=600, **kw):
    models = {c: CTRL for c in range(6)}
    base = dict(
        population=population,
        control=Arm("control", models, H),
        experimental=Arm("experimental", {c: m.with_hazard_ratio(0.7) for c, m in models.items()}, H),
        n_patients=n,
        accrual=Accrual(duration_months=24),
        cuts=(Cut(min(n, 100)),),
    )
    base.update(kw)
    return TrialSpec(**base)


def _blocks_hold_the_ratio(arms, ctrl, expt, multiple):
    size = (ctrl + expt) * multiple
    n_complete = len(arms) // size
    for b in range(n_complete):
        block = arms[b * size : (b + 1) * size]
        assert block.sum() == expt * multiple, (b, block)
    tail = arms[n_complete * size :]
    assert tail.sum() <= expt * multiple and (len(tail) - tail.sum()) <= ctrl * multiple
    return n_complete


@pytest.mark.parametrize("allocation, multiple", [((1, 2), 2), ((2, 1), 1), ((1, 1), 3)])
def test_permuted_blocks_per_assessed_category(allocation, multiple):
    spec = _spec(Population(mix={1: 0.3, 3: 0.3, 5: 0.4}), allocation=allocation, block_multiple=multiple)
    ctrl, expt = allocation
    for trial in range(3):
        pts = patient_data(spec, seed=17, trial=trial)
        arms = pts["arm"].to_numpy().astype(int)
        cats = pts["assessed_category"].cat.codes.to_numpy()
        total_complete = 0
        for c in (1, 3, 5):
            total_complete += _blocks_hold_the_ratio(arms[cats == c], ctrl, expt, multiple)
        assert total_complete >= 3 * (len(arms) // ((ctrl + expt) * multiple) // 3 - 1)
        # the blocks are really permuted: not every block has the same order
        size = (ctrl + expt) * multiple
        first = arms[cats == 5][: 10 * size].reshape(10, size)
        assert len({tuple(row) for row in first}) > 1


def test_permuted_blocks_across_categories_with_one_randomisation_stratum():
    spec = _spec(
        Population(mix={1: 0.3, 3: 0.3, 5: 0.4}), allocation=(1, 2), block_multiple=2,
        randomization_strata={c: 0 for c in range(6)},
    )
    arms = patient_data(spec, seed=3)["arm"].to_numpy().astype(int)
    assert _blocks_hold_the_ratio(arms, 1, 2, 2) == 600 // 6
    assert arms.sum() == 400


def test_fixed_counts_enrol_exact_numbers():
    spec = _spec(Population(fixed_counts={0: 100, 2: 250, 5: 250}))
    pts = patient_data(spec, seed=4)
    counts = pts["assessed_category"].cat.codes.value_counts().to_dict()
    assert counts == {0: 100, 2: 250, 5: 250}
    assert (pts["true_category"].cat.codes == pts["assessed_category"].cat.codes).all()


def test_entry_times_sorted_and_uniform():
    spec = _spec(Population(mix={5: 1.0}), n=3000)
    entry = patient_data(spec, seed=12)["entry_months"].to_numpy()
    assert (np.diff(entry) >= 0).all()
    assert entry.min() >= 0 and entry.max() <= 24
    assert stats.kstest(entry, stats.uniform(0, 24).cdf).pvalue > P_MIN


def test_entry_times_follow_piecewise_rates():
    """10 per month for 6 months, then 30 per month: 600 patients enrolled by month 24."""
    spec = _spec(Population(mix={5: 1.0}), n=600, accrual=Accrual(rates_per_month=(10, 30), start_months=(0, 6)))
    assert spec.accrual.duration_for(600) == pytest.approx(24.0)

    def cdf(t):
        t = np.asarray(t, dtype=float)
        enrolled = np.where(t < 6, 10 * t, 60 + 30 * (t - 6))
        return np.clip(enrolled / 600, 0, 1)

    entries = []
    for trial in range(5):
        entry = patient_data(spec, seed=21, trial=trial)["entry_months"].to_numpy()
        assert (np.diff(entry) >= 0).all() and entry.max() <= 24 + 1e-9
        entries.append(entry)
    pooled = np.concatenate(entries)
    assert stats.kstest(pooled, cdf).pvalue > P_MIN
    # about 60 of 600 per trial before month 6 (binomial, 4 SE)
    share = (pooled < 6).mean()
    assert abs(share - 0.1) < 4 * math.sqrt(0.1 * 0.9 / pooled.size)


def test_entry_all_at_time_zero():
    spec = _spec(Population(mix={5: 1.0}), n=50, accrual=Accrual(duration_months=0.0), cuts=(Cut(20),))
    assert (patient_data(spec, seed=1)["entry_months"] == 0).all()
    res = simulate(spec, 5, seed=1)
    assert (res.field("events_control") + res.field("events_experimental") == 20).all()


def test_event_driven_cut_has_exactly_k_events():
    spec = _spec(Population(mix={5: 1.0}), n=1000, cuts=(Cut(150), Cut(400)))
    res = simulate(spec, 300, seed=2)
    assert not (res.flags & L.FLAG_TARGET_EVENTS_NOT_REACHED).any()
    for look, k in enumerate((150, 400)):
        events = res.field("events_control", look) + res.field("events_experimental", look)
        assert (events == k).all(), look
    assert (res.cut_months[:, 0] < res.cut_months[:, 1]).all()
    assert (res.enrolled[:, 1] <= 1000).all() and (res.enrolled[:, 0] <= res.enrolled[:, 1]).all()


def _cure_spec(cuts, dropout=0.0):
    cure = CureMixture(0.6, Exponential(median_months=6.0))
    return TrialSpec(
        population=Population(mix={5: 1.0}),
        control=Arm("control", {5: cure}, dropout),
        experimental=Arm("experimental", {5: cure}, dropout),
        n_patients=1000, accrual=Accrual(duration_months=12), cuts=cuts,
    )


@pytest.mark.parametrize("dropout", [0.0, H])
def test_cured_patients_are_never_events(dropout):
    """Regression: without dropout a cured patient (event time +inf) was counted as an event."""
    pts = patient_data(_cure_spec((Cut(10),), dropout), seed=9)
    x = pts["time_to_event_or_dropout_months"].to_numpy()
    event = pts["event"].to_numpy()
    assert (event[np.isinf(x)] == 0).all()
    assert (np.isinf(x).sum() > 0) == (dropout == 0.0)
    share = event.mean()  # no dropout: 1 - 0.6 have an event
    if dropout == 0.0:
        assert abs(share - 0.4) < 4 * math.sqrt(0.24 / 1000)


def test_unreachable_target_is_flagged():
    """A cure fraction of 60% in both arms: 600 events among 1000 patients never happen."""
    spec = _cure_spec((Cut(200), Cut(600), Cut(600, calendar_months=80.0)))
    res = simulate(spec, 50, seed=9)
    assert not (res.flags[:, 0, 0] & L.FLAG_TARGET_EVENTS_NOT_REACHED).any()
    for look in (1, 2):
        events = res.field("events_control", look) + res.field("events_experimental", look)
        assert (res.flags[:, look, 0] & L.FLAG_TARGET_EVENTS_NOT_REACHED).all()
        assert (events < 600).all() and (events > 200).all()
    # no calendar time: cut at the last event; with one, the calendar time comes first
    assert (res.cut_months[:, 1] > res.cut_months[:, 0]).all() and np.isfinite(res.cut_months[:, 1]).all()
    assert (res.cut_months[:, 2] == 80.0).all()


MISCLASSIFICATION = np.eye(6)
MISCLASSIFICATION[1] = (0.1, 0.7, 0.2, 0.0, 0.0, 0.0)
MISCLASSIFICATION[2] = (0.0, 0.15, 0.6, 0.2, 0.0, 0.05)
MISCLASSIFICATION[3] = (0.0, 0.0, 0.1, 0.8, 0.0, 0.1)


def _joint_frequencies(pts):
    true = pts["true_category"].cat.codes.to_numpy()
    assessed = pts["assessed_category"].cat.codes.to_numpy()
    joint = np.zeros((6, 6))
    np.add.at(joint, (true, assessed), 1)
    return joint / len(pts)


def _within_4_se(observed, expected, n):
    se = np.sqrt(expected * (1 - expected) / n)
    bad = np.abs(observed - expected) > 4 * se + 1e-12
    assert not bad.any(), (observed[bad], expected[bad])
    assert (observed[expected == 0] == 0).all()


def test_misclassification_joint_frequencies():
    mix = {1: 0.3, 2: 0.3, 3: 0.4}
    spec = _spec(Population(mix=mix, misclassification=tuple(map(tuple, MISCLASSIFICATION))), n=20_000)
    pts = patient_data(spec, seed=6)
    expected = np.array([mix.get(c, 0.0) for c in range(6)])[:, None] * MISCLASSIFICATION
    _within_4_se(_joint_frequencies(pts), expected, len(pts))


def test_enrichment_enrols_only_eligible_assessed_categories():
    mix = {1: 0.3, 2: 0.3, 3: 0.4}
    pop = Population(mix=mix, eligible=(2, 3), misclassification=tuple(map(tuple, MISCLASSIFICATION)))
    spec = _spec(pop, n=20_000)
    pts = patient_data(spec, seed=7)
    assert set(pts["assessed_category"].cat.codes.unique()) <= {2, 3}
    # true categories among the enrolled: the screened joint law restricted to eligible columns
    joint = np.array([mix.get(c, 0.0) for c in range(6)])[:, None] * MISCLASSIFICATION
    joint[:, [0, 1, 4, 5]] = 0.0
    expected = joint / joint.sum()
    _within_4_se(_joint_frequencies(pts), expected, len(pts))
    assert pop.eligible_fraction == pytest.approx(joint.sum())


def test_enrichment_without_assay_error():
    spec = _spec(Population(mix={0: 0.3, 1: 0.3, 5: 0.4}, eligible=(5,)), n=500)
    pts = patient_data(spec, seed=8)
    assert (pts["assessed_category"].cat.codes == 5).all()
    assert (pts["true_category"].cat.codes == 5).all()
