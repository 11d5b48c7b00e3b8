"""Group-sequential weighted scores (issue 15, item 3): the engine's per-look scores and their covariance
across looks and components, against a direct computation from each simulated trial's patients.

The direct twin (numpy, patient by patient, no event tables): at each look's cut, a patient entered
before it is followed for min(x, cut - entry), with an event if it came by the cut; the pooled
Kaplan-Meier of that look gives the weights; Cov(U_ki, U_lj) = sum over look k's event times of
w_ki(t) w_lj(t) v_k(t), v_k the hypergeometric variance in look k's risk sets.
"""

from __future__ import annotations

import numpy as np
import pytest

from simtrial.engine import layout as L
from simtrial.engine.trial import generate_one_cohort
from simtrial.simulate import simulate, to_kernel_args
from simtrial.spec import Accrual, Arm, Cut, Population, Subgroup, TrialSpec
from simtrial.survival import Exponential, Weibull

COMPONENTS = ((0.0, 0.0, None), (0.0, 1.0, None), (0.5, 2.0, None), (0.0, 0.0, 9.0))


def _spec(components, cuts, subgroups=(), hr=0.7) -> TrialSpec:
    ctrl = {3: Weibull(1.3, 10.0), 5: Exponential(median_months=12.0)}
    expt = {k: m.with_hazard_ratio(hr) for k, m in ctrl.items()}
    return TrialSpec(
        population=Population(mix={3: 0.4, 5: 0.6}), control=Arm("c", ctrl, 0.004), experimental=Arm("e", expt, 0.004),
        n_patients=160, accrual=Accrual(duration_months=15), cuts=cuts, subgroups=subgroups,
        statistics=("logrank", "fleming_harrington"), fh_rho=0.0, fh_gamma=1.0,
        group_sequential_weights=components,
    )


def _look_data(entry, x, pcode, cut, categories):
    inside = (entry < cut) & np.isin(pcode >> 2, categories)
    follow = np.minimum(x, cut - entry)[inside]
    event = ((pcode & 1) == 1)[inside] & (entry + x <= cut)[inside]
    arm = ((pcode >> 1) & 1)[inside]
    return follow, event, arm


def _direct(looks, components):
    """Scores U[l, j] and Cov[(k, i), (l, j)] straight from the patients at each look."""
    def tables(follow, event, arm):
        times = np.unique(follow[event])
        n0 = np.array([np.sum((follow >= t) & (arm == 0)) for t in times], float)
        n1 = np.array([np.sum((follow >= t) & (arm == 1)) for t in times], float)
        d0 = np.array([np.sum((follow == t) & event & (arm == 0)) for t in times], float)
        d1 = np.array([np.sum((follow == t) & event & (arm == 1)) for t in times], float)
        n, d = n0 + n1, d0 + d1
        surv_after = np.cumprod(1 - d / n)
        surv_before = np.concatenate([[1.0], surv_after[:-1]])
        return times, n0, n1, d0, d1, surv_before

    def km_before(tab, t):
        times, surv_before = tab[0], tab[5]
        i = np.searchsorted(times, t, side="left")  # rows strictly before t
        return 1.0 if i == 0 else surv_before[i - 1] * (1 - (tab[3][i - 1] + tab[4][i - 1]) / (tab[1][i - 1] + tab[2][i - 1]))

    def weight(tab, t, comp):
        rho, gamma, t_star = comp
        s = km_before(tab, t)
        if t_star is not None:
            times = tab[0]
            s_star = km_before(tab, np.nextafter(t_star, np.inf)) if times.size else 1.0
            return 1.0 / max(s, s_star)
        return s**rho * (1 - s) ** gamma

    tabs = [tables(*d) for d in looks]
    K, J = len(looks), len(components)
    U = np.zeros((K, J))
    C = np.full((K * J, K * J), np.nan)
    for lk, tab in enumerate(tabs):
        times, n0, n1, d0, d1, _ = tab
        n, d = n0 + n1, d0 + d1
        oe = d1 - d * n1 / n
        for j, c in enumerate(components):
            U[lk, j] = sum(weight(tab, t, c) * o for t, o in zip(times, oe, strict=True))
    for k in range(K):
        times, n0, n1, d0, d1, _ = tabs[k]
        n, d = n0 + n1, d0 + d1
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where(n > 1, d * (n - d) * n0 * n1 / (n * n * (n - 1)), 0.0)
        for lk in range(k, K):
            for i, ci in enumerate(components):
                for j, cj in enumerate(components):
                    val = sum(weight(tabs[k], t, ci) * weight(tabs[lk], t, cj) * vt for t, vt in zip(times, v, strict=True))
                    C[k * J + i, lk * J + j] = C[lk * J + j, k * J + i] = val
    return U, C


def _engine_block(result, trial, population, K, J):
    width = L.gs_width(K, J)
    block = result.stats[trial, :, population, result.stats.shape[-1] - width:]
    U = block[:, :J]
    C = np.full((K * J, K * J), np.nan)
    for lk in range(K):
        for k in range(lk + 1):
            c = block[lk, J + k * J * J: J + (k + 1) * J * J].reshape(J, J)
            C[k * J:(k + 1) * J, lk * J:(lk + 1) * J] = c
            C[lk * J:(lk + 1) * J, k * J:(k + 1) * J] = c.T
    return U, C


@pytest.mark.parametrize("cuts", [
    (Cut(40), Cut(90)),
    (Cut(30), Cut(60), Cut(calendar_months=40.0)),
    (Cut(25), Cut(50), Cut(75), Cut(100)),
])
def test_scores_and_covariance_match_a_direct_computation(cuts):
    spec = _spec(COMPONENTS, cuts, subgroups=(Subgroup("ihc3", (5,)),))
    n_sims = 6
    result = simulate(spec, n_sims, seed=77)
    args = to_kernel_args(spec)
    K, J = len(cuts), len(COMPONENTS)
    for trial in range(n_sims):
        entry, x, pcode, _ = generate_one_cohort(77, trial, args.cohort)
        for population, cats in ((0, (3, 5)), (1, (5,))):
            looks = [_look_data(entry, x, pcode, result.cut_months[trial, look], cats) for look in range(K)]
            U, C = _direct(looks, COMPONENTS)
            U_e, C_e = _engine_block(result, trial, population, K, J)
            np.testing.assert_allclose(U_e, U, rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(C_e, C, rtol=1e-10, atol=1e-10)


def test_component_z_equal_the_fixed_design_statistics():
    """Z of FH(0,0) at each look is the log-rank Z, FH(0,1)'s the engine's FH(0,1) Z; the log-rank
    components' covariance across looks is V of the earlier look (independent increments)."""
    spec = _spec(COMPONENTS, (Cut(40), Cut(90)))
    result = simulate(spec, 40, seed=5)
    K, J = 2, len(COMPONENTS)
    for trial in range(40):
        U, C = _engine_block(result, trial, 0, K, J)
        for look in range(K):
            v = np.diag(C)[look * J:(look + 1) * J]
            z = U[look] / np.sqrt(v)
            assert z[0] == pytest.approx(result.stats[trial, look, 0, L.LOGRANK_Z], rel=1e-12)
            assert z[1] == pytest.approx(result.stats[trial, look, 0, L.FH_Z], rel=1e-12)
        assert C[0, J] == pytest.approx(C[0, 0], rel=1e-12)


def test_a_run_without_weights_keeps_its_layout():
    spec = _spec((), (Cut(40), Cut(90)))
    result = simulate(spec, 3, seed=1)
    assert result.stats.shape[-1] == L.n_columns(0, False)
    assert not any(f.startswith("gs_") for f in result.fields)
