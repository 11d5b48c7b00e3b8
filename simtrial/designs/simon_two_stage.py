"""Simon (1989) two-stage single-arm design on a binary endpoint.

The design (``r1/n1, r/n``) is found by :func:`simtrial.stats.simon.simon_design`
from ``analysis.p0``, ``analysis.p1``, ``analysis.beta``, the one-sided level
``alpha / sided`` and ``analysis.simon_kind`` (``optimal`` | ``minimax``).
Stage 1 enrols ``n1`` patients and stops for futility if ``<= r1`` respond;
otherwise ``n - n1`` more are enrolled and H0: ``p <= p0`` is rejected if
``> r`` respond in total.  The sample size is the design's ``n``: an
``n_patients`` (scenario or override) that differs is an error.

Patients come from the population as in every binary design (a screened mix:
each stage a multinomial; fixed counts: the stage-1 patients are a random
subset of the fixed cohort, a multivariate hypergeometric draw) and respond
with ``experimental_response`` of their true category; ``null=True`` gives
everyone ``p0``.

Outputs: ``events`` = responders among the enrolled; ``enrolled`` = ``n1`` or
``n``; ``decisions["stopped_early"]``; ``estimates``: ``response_rate``,
``stage1_responders``, ``stage2_responders`` (NaN when stopped);
``analytic_power["exact"]``: exact P(reject) at the scenario's mean response
rate (exact for a screened mix; for heterogeneous fixed counts it is the
binomial approximation at the mean rate, noted in ``details``).
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
from simtrial.designs.single_arm import check_one_sided_alpha, check_p0
from simtrial.errors import InvalidInput
from simtrial.executors import Executor
from simtrial.spec import Scenario
from simtrial.stats.simon import (
    SimonDesign,
    simon_decision,
    simon_design,
    simon_operating_characteristics,
)
from simtrial.trial_parameters import TrialParameters

SIMON_KINDS = ("optimal", "minimax")
SIMON_MAX_N = 150  # simtrial.stats.simon.simon_design's default search bound


def design_for(scenario: Scenario) -> SimonDesign:
    """The Simon design a scenario asks for (ValueError naming the missing or bad field)."""
    a = scenario.analysis
    p0 = check_p0(a.p0)
    if a.p1 is None:
        raise InvalidInput("analysis.p1: the target response rate p1 is needed for a Simon two-stage design")
    p1 = float(a.p1)
    if not p0 < p1 < 1.0:
        raise InvalidInput(f"analysis.p1 must be in (p0={p0}, 1), got {a.p1!r}")
    if a.beta is None:
        raise InvalidInput("analysis.beta: 1 - power is needed for a Simon two-stage design")
    beta = float(a.beta)
    if not 0.0 < beta < 0.5:
        raise InvalidInput(f"analysis.beta must be in (0, 0.5), got {a.beta!r}")
    if a.simon_kind not in SIMON_KINDS:
        raise InvalidInput(f"analysis.simon_kind must be one of {SIMON_KINDS}, got {a.simon_kind!r}")
    level = check_one_sided_alpha(a.alpha, a.sided)
    if not level < 0.5:
        raise InvalidInput(f"analysis.alpha / sided must be < 0.5 for a Simon design, got {level!r}")
    try:
        return simon_design(p0, p1, level, beta, kind=a.simon_kind)
    except InvalidInput as err:
        if "n_max" not in str(err):
            raise
        # the search bound is not a scenario field: say what the user can change instead
        raise InvalidInput(
            f"analysis: no Simon two-stage design with at most {SIMON_MAX_N} patients meets alpha={level:g}, "
            f"beta={beta:g} for p0={p0:g}, p1={p1:g}; allowed: a larger difference p1 - p0, or a larger "
            "analysis.alpha or analysis.beta"
        ) from None


@dataclass(frozen=True)
class _SimonTask(BlockTask):
    """One block of Simon trials: both stages' enrolled counts, then their responders (see ``BlockTask``)."""

    law: CohortLaw | None = None
    n1: int = 0
    n2: int = 0
    q: np.ndarray | None = None  # [6] the scenario's P(response | assessed)
    p_true: np.ndarray | None = None  # [6] per true category
    response_probability: np.ndarray | None = None  # [n_sims, 6, 2]; arm 1 is read

    def block(self, rng: np.random.Generator, start: int, size: int) -> dict[str, np.ndarray]:
        law = self.law
        if law.fixed_counts is None:
            c1 = rng.multinomial(self.n1, law.assessed_probs, size=BLOCK_TRIALS)
            c2 = rng.multinomial(self.n2, law.assessed_probs, size=BLOCK_TRIALS)
        else:
            c1 = rng.multivariate_hypergeometric(law.fixed_counts, self.n1, size=BLOCK_TRIALS)
            c2 = law.fixed_counts[None, :] - c1
        q = block_q(block_response(self.response_probability, start, size, 1, self.p_true), self.p_true, self.q, law)
        if q.shape[0] != 1:
            q = np.concatenate([q, np.broadcast_to(self.q, (BLOCK_TRIALS - size, self.q.shape[0]))])
        return {"stage1": rng.binomial(c1, q).sum(axis=1)[:size], "stage2": rng.binomial(c2, q).sum(axis=1)[:size]}


class SimonTwoStageDesign:
    """Simon optimal / minimax two-stage design (design name ``"simon_two_stage"``)."""

    name = "simon_two_stage"

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
        response probability of true category ``t`` in trial ``i`` (NaN: the
        scenario's; ignored under ``null``, where it is p0).
        """
        n_sims, seed = check_run_args(n_sims, seed)
        design = design_for(scenario)
        for given, field in ((n_patients, "n_patients (override)"), (scenario.n_patients, "n_patients")):
            if given is not None and given != design.n:
                raise InvalidInput(
                    f"{field}: a Simon two-stage design fixes the sample size at n={design.n} "
                    f"(r1={design.r1}, n1={design.n1}, r={design.r}), got {given!r}"
                )
        n = resolve_n_patients(design.n, None, scenario.population, self.name)
        n1, n2 = design.n1, design.n - design.n1
        law = cohort_law(scenario.population, n)
        if null:
            p_true = np.where(law.possible_true, design.p0, np.nan)
        else:
            p_true = response_vector(scenario.experimental_response, law, "experimental_response")
        q = response_given_assessed(p_true, law)

        rows = response_rows(trial_parameters, n_sims, self.name)
        task = _SimonTask(seed=seed, n_sims=n_sims, law=law, n1=n1, n2=n2, q=q, p_true=p_true,
                          response_probability=None if null else rows)
        out = run_blocks(task, n_sims, executor, progress)
        s1, s2 = out["stage1"], out["stage2"]
        decision = simon_decision(design, s1, s2)
        stopped = decision.stopped_early
        responders = np.where(stopped, s1, s1 + s2)
        enrolled = decision.patients

        mean_rate = float((law.assessed_weights * q).sum())
        homogeneous = law.fixed_counts is None or np.ptp(q[law.possible_assessed]) == 0
        oc = simon_operating_characteristics(design, mean_rate)
        nan = nan_array(n_sims)
        return TrialOutcomes(
            design=self.name,
            n_sims=n_sims,
            seed=seed,
            null=bool(null),
            success=decision.reject.copy(),
            events=responders,
            duration_months=nan,
            enrolled=enrolled,
            hazard_ratio=nan.copy(),
            median_control_months=nan.copy(),
            median_experimental_months=nan.copy(),
            decisions={"stopped_early": stopped},
            estimates={
                "response_rate": responders / enrolled,
                "stage1_responders": s1.astype(float),
                "stage2_responders": np.where(stopped, np.nan, s2.astype(float)),
            },
            analytic_power={"exact": float(oc.prob_reject)},
            details={
                "simon_design": design.to_dict(),
                "r1": design.r1,
                "n1": design.n1,
                "r": design.r,
                "n": design.n,
                "EN0": design.en0,
                "PET0": design.pet0,
                "response_rate": mean_rate,
                "exact_prob_early_stop": float(oc.prob_early_stop),
                "exact_expected_sample_size": float(oc.expected_n),
                "observed_prob_early_stop": float(stopped.mean()),
                "expected_sample_size": float(enrolled.mean()),
                "exact_is_exact": bool(homogeneous),
                "events_are": "responders among the enrolled",
            },
            flags={},
            n_patients=n,
            target_events=None,
        )


DESIGN = SimonTwoStageDesign()
