"""How a trial is analysed and decided: ``Analysis``, its ``SequentialPlan`` and the names they accept.

A test statistic is data (a name from ``SURVIVAL_TESTS`` / ``BINARY_TESTS``
with its parameters); which tests a design accepts is declared in
``simtrial.designs.registry``.  The spending names and parameter ranges are
rpact's; ``simtrial.sequential`` computes with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from simtrial.spec.population import Subgroup

SURVIVAL_TESTS: Final = (
    "logrank", "stratified_logrank", "cox", "stratified_cox", "fleming_harrington",
    # non-proportional hazards (issue 15)
    "rmst", "stratified_rmst", "milestone", "milestone_cloglog", "maxcombo", "modestly_weighted_logrank",
)
#: tests without a group-sequential form here (their ``analysis.sequential`` is refused): RMST and the
#: milestone difference would need their covariance across looks (an information-based version is not
#: straightforward: the restriction time and milestone are fixed while follow-up grows)
FIXED_DESIGN_TESTS: Final = ("rmst", "stratified_rmst", "milestone", "milestone_cloglog")
#: group-sequential weighted tests: bounds per trial from the components' estimated correlation across
#: looks (simtrial.engine.gs_scores, simtrial.engine.gs_mvn)
GS_WEIGHTED_TESTS: Final = ("fleming_harrington", "modestly_weighted_logrank", "maxcombo")
#: components per look a group-sequential MaxCombo may have: its per-trial bounds are exact-plus-lattice
#: and checked against pmvnorm to ~1e-4 in Z up to 3 (simtrial.engine.gs_mvn)
GS_MAXCOMBO_COMPONENTS: Final = 3
BINARY_TESTS: Final = ("chi_square", "cmh", "risk_difference_ni", "exact_binomial")
#: single-arm time to event (design single_arm_tte): against a reference curve / a reference rate
SINGLE_ARM_TTE_TESTS: Final = ("one_sample_logrank", "exact_poisson")
LOGRANK_VARIANCES: Final = ("expected", "wu")
STRATIFIED_TESTS: Final = ("stratified_logrank", "stratified_cox", "cmh", "stratified_rmst")
MULTIPLICITY: Final = ("bonferroni", "holm", "fixed_sequence")
ALPHA_SPENDING: Final = ("asOF", "asP", "asHSD", "asKD")
BETA_SPENDING: Final = ("bsOF", "bsP", "bsHSD", "bsKD")
CLASSICAL_BOUNDS: Final = ("OF", "P")  # classical O'Brien-Fleming / Pocock boundaries
SPENDING: Final = ALPHA_SPENDING + CLASSICAL_BOUNDS  # what efficacy_spending accepts
FUTILITY_RULES: Final = ("beta_spending", "z", "hr")
# rpact's ranges for gammaA/gammaB (HSD) and for the Kim-DeMets exponent.
GAMMA_RANGE: Final = (-10.0, 5.0)
RHO_RANGE: Final = (0.4, 8.0)


@dataclass(frozen=True)
class SequentialPlan:
    """Group-sequential monitoring: looks at fractions of the target events.

    ``efficacy_looks[l]`` / ``futility_looks[l]`` say whether look l may stop
    for efficacy / futility.  Futility is from beta-spending
    (``futility="beta_spending"``, with ``beta_spending`` a spending name),
    from fixed Z values (``futility_z``) or from fixed hazard ratios
    (``futility_hr``: stop if the observed HR is above it).  Two-sided plans
    (``Analysis.sided = 2``) reject on either side: symmetric bounds by
    default, or a lower (harm) bound spending ``harm_alpha`` with
    ``harm_spending``; their beta-spending futility is rpact's inner wedge.
    """

    information_fractions: tuple[float, ...]
    efficacy_spending: str = "asOF"
    gamma: float | None = None  # Hwang-Shih-DeCani
    rho: float | None = None  # Kim-DeMets power family
    efficacy_looks: tuple[bool, ...] | None = None
    futility: str | None = None  # None | "beta_spending" | "z" | "hr"
    futility_looks: tuple[bool, ...] | None = None
    beta_spending: str | None = None
    beta_gamma: float | None = None
    beta_rho: float | None = None  # Kim-DeMets power family for beta spending
    binding_futility: bool = False
    futility_z: tuple[float, ...] | None = None
    futility_hr: tuple[float, ...] | None = None
    # two-sided plans (analysis.sided = 2): the lower (harm) bound; None = symmetric (alpha / 2, same spending)
    harm_alpha: float | None = None  # the harm side's share of the two-sided alpha
    harm_spending: str | None = None  # one of ALPHA_SPENDING
    harm_gamma: float | None = None  # asHSD
    harm_rho: float | None = None  # asKD
    # per look: its calendar maximum in months after the first entry (None: none of its own), the
    # look at its target events or this time, whichever first; the final one is Analysis.calendar_months
    # (simtrial.spec.engine.look_calendar_maxima applies the precedence)
    calendar_months: tuple[float | None, ...] | None = None


@dataclass(frozen=True)
class Analysis:
    """How the trial is analysed and decided."""

    test: str = "logrank"
    alpha: float = 0.025
    sided: int = 1
    target_events: int | None = None
    calendar_months: float | None = None
    # cut rules (simtrial.spec.engine.Cut): floors that can only delay a look
    min_followup_after_last_entry_months: float | None = None  # the final look: >= last entry + this
    min_months_after_previous_look: float | None = None  # sequential looks after the first: >= previous + this
    ni_margin: float | None = None  # hazard ratio (time to event) or risk difference (binary)
    population: tuple[int, ...] | None = None  # categories of the primary analysis population; None = all
    population_name: str = "overall"
    strata: Mapping[int, int] | None = None  # analysis strata by category; None = each category its own
    subgroups: tuple[Subgroup, ...] = ()
    multiplicity: str = "holm"
    interaction: tuple[Subgroup, Subgroup] | None = None
    fh_rho: float = 0.0
    fh_gamma: float = 0.0
    landmark_months: tuple[float, ...] = ()
    rmst_tau_months: float | None = None  # tests rmst / stratified_rmst: restriction time
    milestone_months: float | None = None  # tests milestone / milestone_cloglog
    maxcombo: tuple[tuple[float, float], ...] | None = None  # test maxcombo: (rho, gamma) components
    mwlr_t_star_months: float | None = None  # test modestly_weighted_logrank: weights capped at t*
    p0: float | None = None  # single-arm / Simon: uninteresting response rate
    p1: float | None = None  # Simon: target response rate
    beta: float | None = None  # Simon: 1 - power
    simon_kind: str = "optimal"
    sequential: SequentialPlan | None = None
    # single-arm time to event (design single_arm_tte, simtrial.designs.single_arm_tte)
    reference: Any = None  # the reference survival model (a SurvivalModel): H0 of one_sample_logrank
    reference_sources: tuple[str, ...] = ()  # evidence ids behind the reference model
    reference_note: str | None = None
    reference_rate_per_patient_year: float | None = None  # H0 of exact_poisson: events per patient-year
    logrank_variance: str | None = None  # one_sample_logrank: "expected" (classic, the default) | "wu"
    # interim futility looks: (patient-years, max events): stop when the events so far exceed max events
    interim_futility: tuple[tuple[float, int], ...] = ()


def weighted_sequential_problem(analysis: Analysis) -> str | None:
    """Why a group-sequential plan cannot run with a weighted test (``GS_WEIGHTED_TESTS``), or None.

    Its bounds are spending bounds solved per trial under the estimated joint law; what that
    machinery does not cover is refused rather than approximated.
    """
    s = analysis.sequential
    if s is None or analysis.test not in GS_WEIGHTED_TESTS:
        return None
    test = analysis.test
    if analysis.sided != 1:
        return (f"test {test} with sided 2: two-sided group-sequential bounds are computed for log-rank-type "
                "tests only (independent increments); use sided 1")
    if s.efficacy_spending in CLASSICAL_BOUNDS:
        return (f"test {test}: efficacy_spending {s.efficacy_spending} (a classical boundary shape) is not "
                "available with per-trial bounds; use an alpha-spending function (asOF, asP, asHSD, asKD)")
    if test == "maxcombo" and analysis.maxcombo is not None and len(analysis.maxcombo) > GS_MAXCOMBO_COMPONENTS:
        return (f"test maxcombo with {len(analysis.maxcombo)} components: group-sequential bounds are verified "
                f"against R mvtnorm for up to {GS_MAXCOMBO_COMPONENTS} components per look (with 4 the lattice "
                "error is ~1e-3 in probability); give at most 3 components, or a fixed design")
    if test == "maxcombo" and s.binding_futility:
        return ("test maxcombo: binding futility would make the continuation region at each look a band of "
                "the largest component (not a rectangle); use binding_futility: false")
    return None
