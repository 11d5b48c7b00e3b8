"""Single-arm trial on a binary endpoint with the exact one-sided binomial test.

Every enrolled patient gets the experimental therapy (``experimental_response``
per true HER2 category; ``allocation`` does not apply).  H0: ``p <= p0``
(``analysis.p0``) is rejected when the responders reach the critical value
``c``, the smallest count with ``P(X >= c | n, p0) <= alpha / sided``
(:func:`simtrial.stats.binary.binomial_critical_value`).

``null=True`` gives every patient the response probability ``p0``.

Outputs: ``events`` = number of responders; ``estimates``: ``response_rate``
and the exact ``p_value``; ``analytic_power["exact_binomial"]``: the exact
rejection probability under the scenario (the distribution of responders is a
binomial for a screened mix and a convolution of per-category binomials for
fixed counts, so it is exact in both cases).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simtrial.designs._binary_cohort import (
    BLOCK_TRIALS,
    BlockTask,
    CohortLaw,
    block_q,
    block_response,
    check_run_args,
    cohort_law,
    nan_array,
    resolve_n_patients,
    response_given_assessed,
    response_rows,
    response_vector,
    run_blocks,
)
from simtrial.designs.base import Progress, TrialOutcomes
from simtrial.errors import InvalidInput
from simtrial.executors import Executor
from simtrial.spec import Scenario
from simtrial.stats.binary import binomial_critical_value, exact_binomial_test
from simtrial.trial_parameters import TrialParameters


def check_p0(p0: float | None, field: str = "analysis.p0") -> float:
    if p0 is None:
        raise InvalidInput(f"{field}: the uninteresting response rate p0 is needed")
    p0 = float(p0)
    if not 0.0 < p0 < 1.0:
        raise InvalidInput(f"{field} must be a probability in (0, 1), got {p0!r}")
    return p0


def check_one_sided_alpha(alpha: float, sided: int) -> float:
    """The one-sided level ``alpha / sided`` of a single-arm test."""
    if sided not in (1, 2):
        raise InvalidInput(f"analysis.sided must be 1 or 2, got {sided!r}")
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise InvalidInput(f"analysis.alpha must be in (0, 1), got {alpha!r}")
    return alpha / sided


def responder_distribution(law: CohortLaw, q: np.ndarray) -> np.ndarray:
    """Exact pmf of the total responders (length n + 1) with P(response | assessed = c) = q[c]."""
    from scipy.stats import binom
    n = law.n_patients
    if law.fixed_counts is None:
        qbar = float((law.assessed_probs * q).sum())
        return binom.pmf(np.arange(n + 1), n, qbar)
    pmf = np.ones(1)
    for c, m in enumerate(law.fixed_counts):
        if m > 0:
            pmf = np.convolve(pmf, binom.pmf(np.arange(m + 1), m, q[c]))
    return pmf


@dataclass(frozen=True)
class _SingleArmTask(BlockTask):
    """One block of single-arm trials: enrolled counts per assessed category, then responders (see ``BlockTask``)."""

    law: CohortLaw | None = None
    q: np.ndarray | None = None  # [6] the scenario's P(response | assessed)
    p_true: np.ndarray | None = None  # [6] per true category
    response_probability: np.ndarray | None = None  # [n_sims, 6, 2]; arm 1 is read

    def block(self, rng: np.random.Generator, start: int, size: int) -> dict[str, np.ndarray]:
        counts = self.law.draw_assessed(rng, BLOCK_TRIALS)
        q = block_q(block_response(self.response_probability, start, size, 1, self.p_true), self.p_true, self.q, self.law)
        if q.shape[0] != 1:
            q = np.concatenate([q, np.broadcast_to(self.q, (BLOCK_TRIALS - size, self.q.shape[0]))])
        return {"responders": rng.binomial(counts, q).sum(axis=1)[:size]}


class SingleArmBinaryDesign:
    """One-stage single-arm exact binomial design (design name ``"single_arm_binary"``)."""

    name = "single_arm_binary"

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
        ``trial_parameters.response_probability[i, t, 1]`` replaces the
        experimental response probability of true category ``t`` in trial
        ``i`` (NaN: the scenario's; ignored under ``null``, where it is p0).
        """
        from scipy.stats import binom
        n_sims, seed = check_run_args(n_sims, seed)
        a = scenario.analysis
        if a.test != "exact_binomial":
            raise InvalidInput(f"analysis.test must be 'exact_binomial' for design 'single_arm_binary', got {a.test!r}")
        level = check_one_sided_alpha(a.alpha, a.sided)
        p0 = check_p0(a.p0)
        n = resolve_n_patients(scenario.n_patients, n_patients, scenario.population, self.name)
        law = cohort_law(scenario.population, n)
        if null:
            p_true = np.where(law.possible_true, p0, np.nan)
        else:
            p_true = response_vector(scenario.experimental_response, law, "experimental_response")
        q = response_given_assessed(p_true, law)
        critical = binomial_critical_value(n, p0, level)

        rows = response_rows(trial_parameters, n_sims, self.name)
        task = _SingleArmTask(seed=seed, n_sims=n_sims, law=law, q=q, p_true=p_true,
                              response_probability=None if null else rows)
        responders = run_blocks(task, n_sims, executor, progress)["responders"]
        success = np.zeros(n_sims, dtype=bool)
        success[:] = responders >= critical
        p_value = exact_binomial_test(responders, n, p0)

        pmf = responder_distribution(law, q)
        exact_power = float(pmf[critical:].sum())
        expected_rate = float((law.assessed_weights * q).sum())
        nan = nan_array(n_sims)
        return TrialOutcomes(
            design=self.name,
            n_sims=n_sims,
            seed=seed,
            null=bool(null),
            success=success,
            events=responders,
            duration_months=nan,
            enrolled=np.full(n_sims, n, dtype=np.int64),
            hazard_ratio=nan.copy(),
            median_control_months=nan.copy(),
            median_experimental_months=nan.copy(),
            estimates={"response_rate": responders / n, "p_value": p_value},
            analytic_power={"exact_binomial": exact_power},
            details={
                "p0": p0,
                "alpha_one_sided": level,
                "critical_value": critical,
                "actual_alpha": float(binom.sf(critical - 1, n, p0)),
                "expected_response_rate": expected_rate,
                "events_are": "responders",
                "expected_sample_size": float(n),
            },
            flags={},
            n_patients=n,
            target_events=None,
        )


DESIGN = SingleArmBinaryDesign()
