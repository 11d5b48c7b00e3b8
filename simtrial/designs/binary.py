"""Two-arm randomised trial on a binary endpoint (pCR, ORR).

Tests (``scenario.analysis.test``):

* ``chi_square`` — Pearson chi-square / pooled two-proportion Z
  (:func:`simtrial.stats.binary.two_proportion_test`);
* ``cmh`` — Cochran-Mantel-Haenszel over the analysis strata: the assessed
  HER2 categories, or their grouping ``analysis.strata`` (category -> stratum);
* ``risk_difference_ni`` — non-inferiority on the response-rate difference,
  H0: ``p_exp - p_ctrl <= -ni_margin`` (Farrington-Manning score test).

Decision (see ``simtrial.designs._decisions``): one-sided, H0 is rejected in
favour of the experimental arm when the one-sided p-value is below ``alpha``;
two-sided, when |Z| >= z_{1-alpha/2} in either direction, with the
favourable and unfavourable rejections reported beside.  ``subgroups`` are
secondary hypotheses tested behind the primary one under
``analysis.multiplicity``.  A trial whose statistic is undefined (an empty arm, nobody or everybody
responding) does not succeed and is counted in ``flags["undefined_statistic"]``.

``analysis.population`` (assessed categories), when given, restricts the
analysis to those patients; everyone enrolled still counts in ``enrolled``.

``null=True`` runs the trial at the boundary of H0: experimental response =
control response per true category (superiority), or control - ``ni_margin``
(non-inferiority).

Outputs: ``events`` = number of responders (both arms, analysis population);
``estimates``: ``response_rate_control``, ``response_rate_experimental``,
``risk_difference`` (experimental - control), ``z``, ``analysed`` (patients in
the analysis population), ``patients_control``, ``patients_experimental``;
``analytic_power["normal_approximation"]``: the large-sample power at the
expected arm sizes and the population-averaged response rates (pooled-variance
formula for chi-square and, as an approximation, for CMH; Wald variance for NI).
For chi-square and NI the spread of the statistic is the risk difference's real
variance under ``scenario.randomisation`` (permuted blocks within prognostic
strata shrink it, which makes these unstratified tests conservative; see
``risk_difference_variance``), so the figure agrees with the simulation.

Arms are allocated as ``scenario.randomisation`` says: permuted blocks within
``scenario.randomisation_strata`` (default: each assessed category) or simple
randomisation (``_binary_cohort.allocate_arms``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from simtrial.designs._binary_cohort import (
    BLOCK_TRIALS,
    BlockTask,
    CohortLaw,
    allocate_arms,
    block_q,
    block_response,
    check_allocation,
    check_run_args,
    cohort_law,
    nan_array,
    resolve_n_patients,
    response_given_assessed,
    response_rows,
    response_vector,
    risk_difference_variance,
    run_blocks,
)
from simtrial.designs._decisions import adjust, p_values, reject
from simtrial.designs.base import Progress, TrialOutcomes
from simtrial.errors import InvalidInput
from simtrial.executors import Executor
from simtrial.her2 import CATEGORIES, N_CATEGORIES
from simtrial.spec import Scenario
from simtrial.stats.binary import cmh_test, risk_difference_ni_test, two_proportion_test
from simtrial.trial_parameters import TrialParameters

TWO_ARM_TESTS = ("chi_square", "cmh", "risk_difference_ni")


def _check_alpha_sided(alpha: float, sided: int) -> tuple[float, int]:
    if sided not in (1, 2):
        raise InvalidInput(f"analysis.sided must be 1 or 2, got {sided!r}")
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise InvalidInput(f"analysis.alpha must be in (0, 1), got {alpha!r}")
    return alpha, int(sided)


def normal_approximation_power(
    p_control: float,
    p_experimental: float,
    n_control: float,
    n_experimental: float,
    alpha: float,
    sided: int = 1,
    ni_margin: float | None = None,
    variance: float | None = None,
) -> float:
    """Large-sample power of the two-proportion test (both directions when ``sided = 2``).

    Superiority (pooled variance under H0, as the chi-square test)::

        power = Phi((d - z_{1-alpha/sided} sqrt(pbar qbar (1/n0 + 1/n1))) / sqrt(p0 q0/n0 + p1 q1/n1))

    with ``d = p1 - p0`` and ``pbar`` the expected pooled rate.
    Non-inferiority (Wald variance)::

        power = Phi((d + margin) / sqrt(p0 q0/n0 + p1 q1/n1) - z_{1-alpha/sided})

    ``variance``: the true large-sample variance of the observed risk difference
    under the randomisation, when it differs from the mixture rates'
    ``p0 q0/n0 + p1 q1/n1`` the test assumes (permuted blocks within prognostic
    strata make it smaller; see ``risk_difference_variance``).  It replaces the
    denominator only::

        power = Phi((d - z sd_null) / sqrt(variance)),   Phi((d + margin - z sd_alt) / sqrt(variance))

    so under H0 it gives the test's real size, below alpha when stratified
    blocks meet an unstratified test.
    """
    from scipy.stats import norm
    p0, p1, n0, n1 = float(p_control), float(p_experimental), float(n_control), float(n_experimental)
    if n0 <= 0 or n1 <= 0:
        return float("nan")
    z_a = norm.isf(alpha / sided)
    sd_alt = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    d = p1 - p0
    sd_true = math.sqrt(variance) if variance is not None else None
    if ni_margin is not None:
        if sd_alt <= 0:
            return float(d + ni_margin > 0)
        if sd_true is not None and sd_true > 0:
            return float(norm.cdf((d + ni_margin - z_a * sd_alt) / sd_true))
        return float(norm.cdf((d + ni_margin) / sd_alt - z_a))
    pbar = (n0 * p0 + n1 * p1) / (n0 + n1)
    sd_null = math.sqrt(pbar * (1 - pbar) * (1 / n0 + 1 / n1))
    if sd_alt <= 0:
        return float(d > 0 and sd_null > 0)
    sd = sd_true if sd_true is not None and sd_true > 0 else sd_alt
    power = norm.cdf((d - z_a * sd_null) / sd)
    if sided == 2:
        power += norm.cdf((-d - z_a * sd_null) / sd)  # rejection in the other direction counts too
    return float(power)


def _analysis_mask(population: tuple[int, ...] | None) -> np.ndarray:
    mask = np.zeros(N_CATEGORIES, dtype=bool)
    if population is None:
        mask[:] = True
        return mask
    for c in population:
        if isinstance(c, bool) or not isinstance(c, int | np.integer) or not 0 <= int(c) < N_CATEGORIES:
            raise InvalidInput(f"analysis.population: HER2 category codes 0..{N_CATEGORIES - 1}, got {c!r}")
        mask[int(c)] = True
    return mask


def _strata_index(strata) -> tuple[np.ndarray, int]:
    """Stratum of each assessed category (dense 0..k-1) and the number of strata."""
    if strata is None:
        return np.arange(N_CATEGORIES), N_CATEGORIES
    raw = []
    for c in range(N_CATEGORIES):
        if c not in strata:
            raise InvalidInput(f"analysis.strata: no stratum given for category {CATEGORIES[c]} (code {c})")
        raw.append(strata[c])
    _, dense = np.unique(np.asarray(raw), return_inverse=True)
    return dense.astype(np.int64), int(dense.max()) + 1


@dataclass(frozen=True)
class _TwoArmTask(BlockTask):
    """One block of two-arm binary trials: cohort counts, arms, responders, the test (see ``BlockTask``)."""

    law: CohortLaw | None = None
    allocation: tuple[int, int, int] = (1, 1, 2)
    randomisation: str = "permuted_blocks"
    randomisation_strata: Mapping[int, int] | None = None
    q: np.ndarray | None = None  # [6, 2] the scenario's P(response | assessed, arm)
    p_control: np.ndarray | None = None  # [6] per true category
    p_experimental: np.ndarray | None = None
    null: bool = False
    margin: float | None = None
    response_probability: np.ndarray | None = None  # [n_sims, 6, 2] drawn per trial, NaN = the scenario's
    test: str = "chi_square"
    onehot: np.ndarray | None = None
    in_analysis: np.ndarray | None = None
    sub_masks: np.ndarray | None = None  # [subgroups, 6]
    alpha: float = 0.025
    sided: int = 1

    def _test(self, responders: np.ndarray, patients: np.ndarray):
        tot_r, tot_n = responders.sum(axis=1), patients.sum(axis=1)
        if self.test == "chi_square":
            return two_proportion_test(tot_r, tot_n)
        if self.test == "risk_difference_ni":
            return risk_difference_ni_test(tot_r, tot_n, self.margin)
        onehot = self.onehot
        return cmh_test(np.einsum("sca,ck->ska", responders, onehot), np.einsum("sca,ck->ska", patients, onehot))

    def _q(self, start: int, size: int) -> np.ndarray:
        """P(response | assessed, arm) of the block's trials: ``[1, 6, 2]`` (the scenario's) or ``[size, 6, 2]``."""
        rp = self.response_probability
        pc = block_response(rp, start, size, 0, self.p_control)
        if self.null:  # the experimental arm follows the trial's control, as the scenario's does
            pe = None if pc is None else (pc.copy() if self.margin is None else np.maximum(pc - self.margin, 0.0))
        else:
            pe = block_response(rp, start, size, 1, self.p_experimental)
        if pc is None and pe is None:
            return self.q[None, :, :]
        qc = block_q(pc, self.p_control, self.q[:, 0], self.law)
        qe = block_q(pe, self.p_experimental, self.q[:, 1], self.law)
        return np.stack(np.broadcast_arrays(qc, qe), axis=-1)

    def block(self, rng: np.random.Generator, start: int, size: int) -> dict[str, np.ndarray]:
        law, (ctrl, expt, multiple) = self.law, self.allocation
        counts = law.draw_assessed(rng, BLOCK_TRIALS)
        patients = allocate_arms(  # [BLOCK_TRIALS, 6, 2]
            rng, counts, (ctrl, expt), multiple, self.randomisation, self.randomisation_strata
        )
        q = self._q(start, size)
        if q.shape[0] != 1:  # the trials past the run's end draw with the scenario's q, as they always did
            q = np.concatenate([q, np.broadcast_to(self.q, (BLOCK_TRIALS - size, *self.q.shape))])
        responders_all = rng.binomial(patients, q)[:size]
        patients_all = patients[:size]
        z_sub = np.full((size, self.sub_masks.shape[0]), np.nan)
        for j, mask in enumerate(self.sub_masks):
            z_sub[:, j] = self._test(np.where(mask[None, :, None], responders_all, 0),
                                     np.where(mask[None, :, None], patients_all, 0)).z
        inside = self.in_analysis[None, :, None]
        patients = np.where(inside, patients_all, 0)
        responders = np.where(inside, responders_all, 0)
        tot_r = responders.sum(axis=1)  # [size, 2]
        tot_n = patients.sum(axis=1)
        result = self._test(responders, patients)
        if self.sided == 1:
            success = np.nan_to_num(result.p_value_one_sided, nan=1.0) < self.alpha
        else:
            success = reject(result.z, self.alpha, self.sided)[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate_c = np.where(tot_n[:, 0] > 0, tot_r[:, 0] / tot_n[:, 0], np.nan)
            rate_e = np.where(tot_n[:, 1] > 0, tot_r[:, 1] / tot_n[:, 1], np.nan)
        return {
            "success": np.asarray(success, dtype=bool), "z": np.asarray(result.z, dtype=np.float64), "z_sub": z_sub,
            "responders_arm": tot_r.astype(np.int64), "patients_arm": tot_n.astype(np.int64),
            "responders": tot_r.sum(axis=1).astype(np.int64), "analysed": tot_n.sum(axis=1).astype(np.int64),
            "rate_control": rate_c, "rate_experimental": rate_e,
        }


class TwoArmBinaryDesign:
    """Randomised control vs experimental on a binary endpoint (design name ``"binary"``)."""

    name = "binary"

    def run(
        self,
        scenario: Scenario,
        *,
        n_sims: int,
        seed: int,
        null: bool = False,
        n_patients: int | None = None,
        target_events: int | None = None,
        threads: int | None = None,
        progress: Progress | None = None,
        executor: Executor | None = None,
        trial_parameters: TrialParameters | None = None,
    ) -> TrialOutcomes:
        """Simulate ``n_sims`` trials; ``target_events`` and ``threads`` do not apply and are ignored.

        ``executor`` runs the blocks of trials (default: here, in order);
        ``trial_parameters.response_probability[i, t, arm]`` replaces the
        scenario's response probability of true category ``t`` in trial ``i``
        (NaN: the scenario's; under ``null`` the experimental arm follows the
        trial's control as the scenario's does, floored at 0 for a margin).
        """
        n_sims, seed = check_run_args(n_sims, seed)
        a = scenario.analysis
        test = a.test
        if test not in TWO_ARM_TESTS:
            raise InvalidInput(f"analysis.test must be one of {TWO_ARM_TESTS} for design 'binary', got {test!r}")
        alpha, sided = _check_alpha_sided(a.alpha, a.sided)
        margin = None
        if test == "risk_difference_ni":
            if a.ni_margin is None or not 0.0 < float(a.ni_margin) < 1.0:
                raise InvalidInput(
                    f"analysis.ni_margin must be a risk difference in (0, 1) for risk_difference_ni, got {a.ni_margin!r}"
                )
            margin = float(a.ni_margin)
        n = resolve_n_patients(scenario.n_patients, n_patients, scenario.population, self.name)
        if n < 2:
            raise InvalidInput(f"n_patients must be >= 2 for a two-arm trial, got {n}")
        allocation = check_allocation(scenario.allocation, scenario.block_multiple)
        law = cohort_law(scenario.population, n)
        p_ctrl = response_vector(scenario.control_response, law, "control_response")
        if null:
            if margin is None:
                p_exp = p_ctrl.copy()
            else:
                p_exp = p_ctrl - margin
                low = law.possible_true & (p_exp < 0)
                if low.any():
                    t = int(np.flatnonzero(low)[0])
                    raise InvalidInput(
                        f"analysis.ni_margin ({margin}) exceeds control_response[{CATEGORIES[t]}] "
                        f"({p_ctrl[t]}): the null response rate would be negative"
                    )
        else:
            p_exp = response_vector(scenario.experimental_response, law, "experimental_response")
        q = np.stack([response_given_assessed(p_ctrl, law), response_given_assessed(p_exp, law)], axis=-1)  # [6, 2]

        in_analysis = _analysis_mask(a.population)
        if not (in_analysis & law.possible_assessed).any():
            raise InvalidInput("analysis.population: no enrolled patient can belong to the analysis population")
        onehot = None
        if test == "cmh":
            stratum, n_strata = _strata_index(a.strata)
            onehot = np.zeros((N_CATEGORIES, n_strata), dtype=np.int64)
            onehot[np.arange(N_CATEGORIES), stratum] = 1
        sub_masks = np.array([_analysis_mask(sub.categories) for sub in a.subgroups], dtype=bool).reshape(-1, N_CATEGORIES)
        task = _TwoArmTask(
            seed=seed, n_sims=n_sims, law=law, allocation=allocation, randomisation=scenario.randomisation,
            randomisation_strata=scenario.randomisation_strata, q=q, p_control=p_ctrl, p_experimental=p_exp,
            null=bool(null), margin=margin, response_probability=response_rows(trial_parameters, n_sims, self.name),
            test=test, onehot=onehot, in_analysis=in_analysis, sub_masks=sub_masks, alpha=alpha, sided=sided,
        )
        out = run_blocks(task, n_sims, executor, progress)
        success, z_all, z_sub = out["success"], out["z"], out["z_sub"]
        resp_arm, n_arm = out["responders_arm"], out["patients_arm"]
        responders_out, analysed = out["responders"], out["analysed"]
        rate_c, rate_e = out["rate_control"], out["rate_experimental"]
        enrolled = np.full(n_sims, n, dtype=np.int64)

        # expected design quantities for the analytic cross-check
        w = law.assessed_weights * in_analysis
        share = w.sum()
        ctrl, expt, _ = allocation
        n_analysed = n * share
        n0, n1 = n_analysed * ctrl / (ctrl + expt), n_analysed * expt / (ctrl + expt)
        pc = float((w * q[:, 0]).sum() / share)
        pe = float((w * q[:, 1]).sum() / share)
        # the unstratified tests' real variance under the randomisation (CMH keeps the mixture formula)
        variance = None if test == "cmh" else risk_difference_variance(
            w / share, q, n0, n1, method=scenario.randomisation, strata=scenario.randomisation_strata,
            fixed_counts=law.fixed_counts is not None,
        )
        analytic = normal_approximation_power(pc, pe, n0, n1, alpha, sided, margin, variance)

        decisions = dict(reject(z_all, alpha, sided)[1])
        sub_estimates = {}
        if a.subgroups:
            # secondary hypotheses behind the primary (serial gatekeeping), as in the time-to-event designs
            rejected = adjust(p_values(z_sub, sided), alpha, a.multiplicity) & success[:, None]
            for j, sub in enumerate(a.subgroups):
                decisions[f"reject_{sub.name}"] = rejected[:, j]
                sub_estimates[f"z_{sub.name}"] = z_sub[:, j]
            decisions["reject_any"] = success | rejected.any(axis=1)

        nan = nan_array(n_sims)
        return TrialOutcomes(
            design=self.name,
            n_sims=n_sims,
            seed=seed,
            null=bool(null),
            success=success,
            events=responders_out,
            duration_months=nan,
            enrolled=enrolled,
            hazard_ratio=nan.copy(),
            median_control_months=nan.copy(),
            median_experimental_months=nan.copy(),
            estimates={
                "response_rate_control": rate_c,
                "response_rate_experimental": rate_e,
                "risk_difference": rate_e - rate_c,
                "z": z_all,
                "analysed": analysed,
                "patients_control": n_arm[:, 0],
                "patients_experimental": n_arm[:, 1],
                "responders_control": resp_arm[:, 0],
                "responders_experimental": resp_arm[:, 1],
                **sub_estimates,
            },
            decisions=decisions,
            analytic_power={"normal_approximation": analytic},
            details={
                "test": test,
                "alpha": alpha,
                "sided": sided,
                "ni_margin": margin,
                "events_are": "responders (both arms, analysis population)",
                "expected_response_rate_control": pc,
                "expected_response_rate_experimental": pe,
                "expected_patients_control": n0,
                "expected_patients_experimental": n1,
                "expected_sample_size": float(n),
            },
            flags={"undefined_statistic": int(np.isnan(z_all).sum())},
            n_patients=n,
            target_events=None,
        )


DESIGN = TwoArmBinaryDesign()
