"""Group-sequential monitoring of a simulated trial: looks, spending boundaries, stopping.

The engine analyses every look of a trial on the same generated cohort; this
module turns the per-look statistics into decisions.  Efficacy boundaries are
recomputed from the information observed at each look (events / planned
events; the spending approach), spending alpha only at looks that may stop for
efficacy; the final look spends whatever alpha is left.  Futility is
non-binding unless the plan says otherwise: beta-spending bounds come from
the planned design, fixed rules from Z values or hazard ratios.

Two-sided plans (``analysis.sided = 2``) reject on either side: at each look
the trial stops rejecting H0 favourably when Z_eff >= the upper bound, or
unfavourably (harm) when Z_eff <= the lower bound; both bounds are recomputed
from the observed information, each side spending its own alpha (symmetric:
alpha / 2 each).  Success, as for fixed two-sided tests, is rejection on either
side, with ``reject_favourable`` / ``reject_unfavourable`` beside it; beta-
spending futility is rpact's inner wedge |Z_eff| < a_k; fixed futility rules
(``futility_z`` / ``futility_hr``) stop a trial that rejects on neither side
when Z_eff is below the bound (the observed HR above it), between the harm and
the efficacy bound.  As for one-sided plans they are non-binding unless the
plan says otherwise; binding applies to ``futility_z`` (the HR rule's Z depends
on the events observed, so a binding HR rule is refused by the scenario reader).

Scale: Z_eff, positive when the experimental arm is better.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from simtrial.errors import InvalidInput
from simtrial.sequential import efficacy_bounds_from_information, group_sequential_design
from simtrial.sequential.two_sided import (
    TwoSidedDesign,
    two_sided_bounds_from_information,
    two_sided_design,
)
from simtrial.spec import SequentialPlan


@dataclass(frozen=True)
class SequentialOutcome:
    success: np.ndarray  # bool [n_sims]
    stop_look: np.ndarray  # int [n_sims], 0-based look at which the trial ended
    stopped_for_efficacy: np.ndarray  # bool [n_sims]
    stopped_for_futility: np.ndarray  # bool [n_sims]
    looks: list[dict]  # one summary per look
    design: object  # the planned GroupSequentialDesign (TwoSidedDesign for two-sided plans)
    side_decisions: dict | None = None  # two-sided: reject_favourable / reject_unfavourable per trial
    # weighted tests: each trial's own efficacy bounds [n_sims, n_looks] (+inf: no test at that look) and
    # the lattice error estimate of the probability each was solved from (0: exact)
    efficacy_bounds: np.ndarray | None = None
    bound_error: np.ndarray | None = None


def design_beta(scenario) -> float:
    """1 - power at the design alternative: analysis.beta, else 1 - the sample-size target, else 0.2."""
    if scenario.analysis.beta is not None:
        return float(scenario.analysis.beta)
    if scenario.sample_size is not None:
        return 1.0 - float(scenario.sample_size.target_power)
    return 0.2


def _masks(plan: SequentialPlan, n_looks: int) -> tuple[np.ndarray, np.ndarray]:
    efficacy = np.ones(n_looks, dtype=bool) if plan.efficacy_looks is None else np.array(plan.efficacy_looks, bool)
    if plan.futility is None:
        futility = np.zeros(n_looks, dtype=bool)
    elif plan.futility_looks is None:
        futility = np.ones(n_looks, dtype=bool)
    else:
        futility = np.array(plan.futility_looks, bool)
    efficacy[-1] = True  # the final analysis always tests
    futility[-1] = False
    return efficacy, futility


@functools.lru_cache(maxsize=64)
def planned_design(plan: SequentialPlan, alpha: float, beta: float, sided: int = 1):
    """The design at the planned information fractions (for reporting and beta-spending futility).

    ``alpha`` is per side (the analysis alpha / sided).  Cached: a sample-size
    search asks for the same design at every point.
    """
    fractions = plan.information_fractions
    if sided == 2:
        design = two_sided_design(
            fractions, alpha=2.0 * alpha, beta=beta, spending=plan.efficacy_spending, gamma=plan.gamma,
            rho=plan.rho, **_harm_kwargs(plan),
            beta_spending=plan.beta_spending if plan.futility == "beta_spending" else None,
            beta_gamma=plan.beta_gamma, beta_rho=plan.beta_rho, binding_futility=plan.binding_futility,
            futility_z=_two_sided_futility_z(plan),
        )
        if design.futility == "z":
            for look, (f, low) in enumerate(zip(design.z_futility[:-1], design.z_lower[:-1], strict=True)):
                if math.isfinite(f) and f <= low:
                    raise InvalidInput(
                        f"analysis.sequential.futility_z: {f:g} at look {look + 1} is at or below the harm bound "
                        f"there (Z_eff = {low:.3f}): a trial that low rejects for harm first, so the rule never "
                        f"stops; allowed: a futility_z above {low:.3f} at that look")
        if design.futility == "z" and design.binding_futility and max(design.z_lower[1:]) >= 0.0:
            # binding stops remove the unfavourable paths, so the harm side can only spend its alpha
            # among trials that look favourable: it would "reject for harm" on a favourable estimate
            look = 2 + int(np.argmax(design.z_lower[1:]))
            raise InvalidInput(
                f"analysis.sequential: with binding futility_z {list(plan.futility_z or [])} the harm bound at "
                f"look {look} is Z_eff = {max(design.z_lower[1:]):+.3f}, rejecting for harm on an estimate that "
                "favours the experimental arm; allowed: binding_futility: false (the usual choice for a "
                "fixed futility rule), lower futility_z values, or a smaller harm_alpha"
            )
        return design
    efficacy, _ = _masks(plan, len(fractions))
    if plan.futility == "beta_spending":
        if not efficacy.all():
            raise InvalidInput(
                "analysis.sequential: beta-spending futility needs efficacy testing at every look; "
                "use futility: z or hr for futility-only looks"
            )
        return group_sequential_design(
            fractions, alpha=alpha, beta=beta, spending=plan.efficacy_spending, gamma=plan.gamma, rho=plan.rho,
            beta_spending=plan.beta_spending, beta_gamma=plan.beta_gamma, beta_rho=plan.beta_rho,
            binding_futility=plan.binding_futility,
        )
    # Every look enters the design, futility-only ones with efficacy bound +inf (no alpha spent), and a
    # futility_z rule is obeyed in the power, drift (inflation factor) and expected information whether
    # or not it binds: a non-binding rule only frees the efficacy bounds from assuming it (rpact's design
    # characteristics do the same).  An HR rule is left out here: its Z bound is -log(HR / margin) times
    # the square root of the information at the look, which the plan does not fix (it is set by the
    # events, the margin and the allocation, and the events by this design's inflation factor); it is
    # obeyed in the simulation and in analytic_sequential_power, converted at the planned events.
    futility_z = _two_sided_futility_z(plan)
    binding = bool(plan.binding_futility and futility_z is not None)
    return group_sequential_design(
        fractions, alpha=alpha, beta=beta, spending=plan.efficacy_spending, gamma=plan.gamma, rho=plan.rho,
        futility_z=futility_z, binding_futility=binding, efficacy_looks=tuple(bool(e) for e in efficacy),
    )


def _harm_kwargs(plan: SequentialPlan) -> dict:
    """The lower (harm) bound's arguments for ``simtrial.sequential.two_sided``; {} = symmetric."""
    out = {}
    for ours, theirs in (("harm_alpha", "lower_alpha"), ("harm_spending", "lower_spending"),
                         ("harm_gamma", "lower_gamma"), ("harm_rho", "lower_rho")):
        value = getattr(plan, ours, None)
        if value is not None:
            out[theirs] = value
    return out


def _two_sided_futility_z(plan: SequentialPlan) -> list[float] | None:
    """The fixed futility Z per interim look (-inf: none), for the planned design (one- or two-sided); None without.

    Only a ``futility: z`` rule enters the planned design: an HR rule's Z depends on the events
    at the look (it is obeyed in the simulation and in the analytic power at the planned events).
    """
    if plan.futility != "z":
        return None
    n_looks = len(plan.information_fractions)
    _, futility = _masks(plan, n_looks)
    bounds = _futility_bounds(plan, None, futility, n_looks)
    return np.where(futility, bounds, -np.inf)[:-1].tolist()


def _futility_bounds(plan: SequentialPlan, design, efficacy: np.ndarray, n_looks: int) -> np.ndarray:
    bounds = np.full(n_looks, -np.inf)
    if plan.futility == "beta_spending":
        bounds[:-1] = np.array(design.z_futility[:-1])
    elif plan.futility == "z":
        z = list(plan.futility_z or [])
        for look in range(n_looks - 1):
            bounds[look] = z[look] if look < len(z) else -np.inf
    return bounds


def apply_sequential(
    plan: SequentialPlan,
    z_eff: np.ndarray,
    information_fraction: np.ndarray,
    hazard_ratio: np.ndarray,
    events: np.ndarray,
    *,
    alpha: float,
    beta: float,
    ni_margin: float = 1.0,
    allocation: tuple[int, int] = (1, 1),
    planned_events: int | None = None,
    sided: int = 1,
    correlation: np.ndarray | None = None,
    n_components: int = 1,
) -> SequentialOutcome:
    """Decide every simulated trial from its per-look Z_eff [n_sims, n_looks].

    ``alpha`` is per side (the analysis alpha / ``sided``).  For a weighted log-rank or MaxCombo
    test, ``correlation`` [n_sims, n_looks * n_components, n_looks * n_components] is each trial's
    estimated correlation of its components across looks (``z_eff`` is then the largest component
    Z_eff at each look), and the bounds are that trial's own (:func:`weighted_efficacy_bounds`).
    """
    from simtrial.stats import normal as norm
    if sided == 2:
        return _apply_two_sided(plan, z_eff, information_fraction, hazard_ratio, events, alpha=alpha, beta=beta,
                                ni_margin=ni_margin, allocation=allocation, planned_events=planned_events)
    n_sims, n_looks = z_eff.shape
    efficacy, futility = _masks(plan, n_looks)
    design = planned_design(plan, alpha, beta)
    fut_z = _futility_bounds(plan, design, efficacy, n_looks)
    fut_hr = np.full(n_looks, np.inf)
    if plan.futility == "hr":
        hr = list(plan.futility_hr or [])
        for look in range(n_looks - 1):
            fut_hr[look] = hr[look] if look < len(hr) else np.inf
    eff_index = np.flatnonzero(efficacy)
    # the futility stops binding efficacy bounds assume: the plan's Z rule where futility_looks has one
    binding_z = None
    if plan.binding_futility and plan.futility in ("z", "beta_spending"):
        binding_z = np.where(futility, fut_z, -np.inf)
        binding_z[-1] = -np.inf

    bound_error = None
    if correlation is not None:
        binding = None if binding_z is None else np.where(efficacy, binding_z, -np.inf)
        bounds, bound_error = weighted_efficacy_bounds(
            plan, correlation, n_components, information_fraction, efficacy, alpha=alpha, binding_futility=binding,
        )
        unique = np.empty((0, eff_index.size))
        tested = eff_index
    else:
        # a binding stop at a futility-only look removes paths from the later looks' alpha too, so
        # such looks enter the bounds' computation (bound +inf there)
        tested = eff_index if binding_z is None else np.flatnonzero(efficacy | np.isfinite(binding_z))
        # efficacy bounds from observed information: trials sharing the same
        # observed fractions (all of them, with event-driven looks) share one solve
        observed = np.round(information_fraction[:, tested], 12)
        bounds = np.full((n_sims, n_looks), np.inf)
        unique, inverse = np.unique(observed, axis=0, return_inverse=True)
    tested_efficacy = efficacy[tested]
    for u, row in enumerate(unique):
        fractions = np.maximum.accumulate(row)
        # looks that add no information (a target not reached) cannot test again
        keep = np.concatenate(([True], np.diff(fractions) > 1e-12))
        if not keep[-1] and not tested_efficacy[np.flatnonzero(keep)[-1]]:
            # the final analysis at a futility-only look's information tests there instead of it
            last = np.flatnonzero(keep)[-1]
            keep[last], keep[-1] = False, True
        z = np.full(len(row), np.inf)
        z_kept = efficacy_bounds_from_information(
            tuple(fractions[keep]), alpha=alpha, spending=plan.efficacy_spending, gamma=plan.gamma, rho=plan.rho,
            spend_all_at_last=True,
            futility_z=None if binding_z is None else binding_z[tested][keep][:-1].tolist(),
            binding_futility=binding_z is not None,
            efficacy_looks=tuple(bool(e) for e in tested_efficacy[keep]),
        )
        z[keep] = z_kept
        rows = np.flatnonzero(np.ravel(inverse) == u)
        bounds[np.ix_(rows, tested)] = z

    alive = np.ones(n_sims, dtype=bool)
    success = np.zeros(n_sims, dtype=bool)
    stop_look = np.full(n_sims, n_looks - 1)
    stop_eff = np.zeros(n_sims, dtype=bool)
    stop_fut = np.zeros(n_sims, dtype=bool)
    looks = []
    cumulative = 0.0
    for look in range(n_looks):
        z = z_eff[:, look]
        # an undefined statistic (no events in an arm) neither rejects nor stops for futility
        cross_eff = alive & efficacy[look] & (z >= bounds[:, look])
        cross_fut = alive & ~cross_eff & futility[look] & (
            (z < fut_z[look]) | (hazard_ratio[:, look] > fut_hr[look])
        )
        success |= cross_eff
        stop_eff |= cross_eff
        stop_fut |= cross_fut
        ended = cross_eff | cross_fut
        stop_look[ended] = look
        alive &= ~ended
        p_eff = float(cross_eff.mean())
        cumulative += p_eff
        z_planned = float(np.nanmedian(bounds[:, look])) if efficacy[look] else math.inf
        info_events = float(planned_events * plan.information_fractions[look]) if planned_events else float(
            np.nanmean(events[:, look])
        )
        info = info_events * allocation[0] * allocation[1] / (allocation[0] + allocation[1]) ** 2
        hr_eff = ni_margin * math.exp(-z_planned / math.sqrt(info)) if math.isfinite(z_planned) and info > 0 else None
        looks.append(
            {
                "look": look + 1,
                "information_fraction": float(plan.information_fractions[look]),
                "observed_information_fraction": float(np.nanmean(information_fraction[:, look])),
                "mean_events": float(np.nanmean(events[:, look])),
                "efficacy": bool(efficacy[look]),
                "futility": bool(futility[look]),
                "z_efficacy": z_planned if math.isfinite(z_planned) else None,
                "z_futility": float(fut_z[look]) if futility[look] and math.isfinite(fut_z[look]) else None,
                "hr_futility": float(fut_hr[look]) if futility[look] and math.isfinite(fut_hr[look]) else None,
                "nominal_p": float(norm.sf(z_planned)) if math.isfinite(z_planned) else None,
                "hr_efficacy": hr_eff,
                "p_stop_efficacy": p_eff,
                "p_stop_futility": float(cross_fut.mean()),
                "cumulative_power": cumulative,
            }
        )
    if correlation is not None:
        return SequentialOutcome(success, stop_look, stop_eff, stop_fut, looks, design, None, bounds, bound_error)
    return SequentialOutcome(success, stop_look, stop_eff, stop_fut, looks, design)


def weighted_efficacy_bounds(
    plan: SequentialPlan, correlation: np.ndarray, n_components: int, information_fraction: np.ndarray,
    efficacy: np.ndarray, *, alpha: float, binding_futility: np.ndarray | None = None,
    n_points: int | None = None, n_shifts: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each trial's efficacy bounds for a statistic of ``n_components`` components (its largest Z_eff).

    Alpha is spent at each trial's observed information fraction (events / planned events: the
    log-rank's information fraction under H0, as for the log-rank designs here and as gsDesign2's
    MaxCombo designs spend on the FH(0, 0) component's information), and the bound at look k is
    the c_k with P(no earlier crossing, max_j Z_kj >= c_k) = alpha_k - alpha_(k-1) under the
    trial's own estimated correlation across looks and components
    (:func:`simtrial.engine.gs_mvn.combo_bounds`).  Looks that add no events (a target not reached)
    do not test again; the last look that does spends all of alpha.  Returns (bounds, error of
    the probability each bound was solved from) [n_sims, n_looks].
    """
    from simtrial.engine import gs_mvn
    from simtrial.sequential.spending import alpha_spending

    n_sims, n_looks = information_fraction.shape
    fractions = np.maximum.accumulate(np.nan_to_num(information_fraction, nan=0.0), axis=1)
    grows = np.concatenate([fractions[:, :1] > 0.0, np.diff(fractions, axis=1) > 1e-12], axis=1)
    active = grows & efficacy[None, :]
    cum = alpha_spending(plan.efficacy_spending, alpha, fractions, gamma=plan.gamma, rho=plan.rho)
    # the final analysis spends what is left (at the last look that tests)
    last = n_looks - 1 - np.argmax(active[:, ::-1], axis=1)
    cum[np.arange(n_sims), last] = alpha
    corr = np.ascontiguousarray(correlation, dtype=np.float64)
    bad = ~np.isfinite(corr).all(axis=(1, 2))
    corr[bad] = np.eye(corr.shape[1])  # an undefined statistic decides nothing; its bounds are moot
    fut = np.full(n_looks, -np.inf) if binding_futility is None else np.asarray(binding_futility, dtype=float)
    bounds = np.empty((n_sims, n_looks))
    error = np.empty((n_sims, n_looks))
    gs_mvn.combo_bounds_trials(
        corr, int(n_components), np.ascontiguousarray(active), np.ascontiguousarray(cum), fut,
        int(n_points or gs_mvn.DEFAULT_POINTS), int(n_shifts or gs_mvn.DEFAULT_SHIFTS), bounds, error,
    )
    bounds[bad] = np.inf
    return bounds, error


def _apply_two_sided(
    plan: SequentialPlan, z_eff: np.ndarray, information_fraction: np.ndarray, hazard_ratio: np.ndarray,
    events: np.ndarray, *, alpha: float, beta: float, ni_margin: float, allocation: tuple[int, int],
    planned_events: int | None,
) -> SequentialOutcome:
    """Two-sided monitoring: upper (favourable) and lower (harm) rejection bounds, optional futility wedge."""
    from simtrial.stats import normal as norm

    n_sims, n_looks = z_eff.shape
    design = planned_design(plan, alpha, beta, 2)
    _, futility = _masks(plan, n_looks)
    inner = np.zeros(n_looks)
    if design.futility == "beta_spending":
        inner[:-1] = np.where(futility[:-1], np.array(design.z_futility[:-1]), 0.0)
    # fixed rules: stop when Z_eff is below fut_z (or the observed HR above fut_hr), -inf / inf: none
    fut_z = np.full(n_looks, -np.inf)
    fut_hr = np.full(n_looks, np.inf)
    if plan.futility == "z":
        fut_z[:-1] = _two_sided_futility_z(plan)
    elif plan.futility == "hr":
        hr = list(plan.futility_hr or [])
        for look in range(n_looks - 1):
            if futility[look] and look < len(hr):
                fut_hr[look] = hr[look]
    harm = _harm_kwargs(plan)
    observed = np.round(information_fraction, 12)
    upper = np.full((n_sims, n_looks), np.inf)
    lower = np.full((n_sims, n_looks), -np.inf)
    unique, inverse = np.unique(observed, axis=0, return_inverse=True)
    for u, row in enumerate(unique):
        fractions = np.maximum.accumulate(row)
        keep = np.concatenate(([True], np.diff(fractions) > 1e-12))
        wedge = below = None
        if plan.binding_futility and design.futility == "beta_spending":
            wedge = [float(w) for w, k in zip(inner[:-1], keep[:-1], strict=True) if k][: int(keep.sum()) - 1]
        if plan.binding_futility and design.futility == "z":
            below = [float(f) for f, k in zip(fut_z[:-1], keep[:-1], strict=True) if k][: int(keep.sum()) - 1]
        lo_k, up_k = two_sided_bounds_from_information(
            tuple(fractions[keep]), alpha=2.0 * alpha, spending=plan.efficacy_spending, gamma=plan.gamma,
            rho=plan.rho, spend_all_at_last=True, futility_inner=wedge, futility_below=below, **harm,
        )
        lo = np.full(n_looks, -np.inf)
        up = np.full(n_looks, np.inf)
        lo[keep], up[keep] = lo_k, up_k
        rows = np.flatnonzero(np.ravel(inverse) == u)
        upper[rows] = up
        lower[rows] = lo

    alive = np.ones(n_sims, dtype=bool)
    favourable = np.zeros(n_sims, dtype=bool)
    unfavourable = np.zeros(n_sims, dtype=bool)
    stop_look = np.full(n_sims, n_looks - 1)
    stop_fut = np.zeros(n_sims, dtype=bool)
    share = allocation[0] * allocation[1] / (allocation[0] + allocation[1]) ** 2
    looks = []
    cumulative = 0.0
    for look in range(n_looks):
        z = z_eff[:, look]
        # an undefined statistic (no events in an arm) neither rejects nor stops for futility
        with np.errstate(invalid="ignore"):
            up = alive & (z >= upper[:, look])
            down = alive & ~up & (z <= lower[:, look])
            fut = alive & ~up & ~down & (look < n_looks - 1) & (
                (np.abs(z) < inner[look]) | (z < fut_z[look]) | (hazard_ratio[:, look] > fut_hr[look]))
        favourable |= up
        unfavourable |= down
        stop_fut |= fut
        ended = up | down | fut
        stop_look[ended] = look
        alive &= ~ended
        cumulative += float(up.mean() + down.mean())
        z_up = float(np.nanmedian(upper[:, look]))
        z_low = float(np.nanmedian(lower[:, look]))
        info_events = float(planned_events * plan.information_fractions[look]) if planned_events else float(
            np.nanmean(events[:, look]))
        info = info_events * share

        def hr_at(zb: float, info: float = info) -> float | None:
            return ni_margin * math.exp(-zb / math.sqrt(info)) if math.isfinite(zb) and info > 0 else None

        looks.append({
            "look": look + 1,
            "information_fraction": float(plan.information_fractions[look]),
            "observed_information_fraction": float(np.nanmean(information_fraction[:, look])),
            "mean_events": float(np.nanmean(events[:, look])),
            "efficacy": True,
            "futility": bool(inner[look] > 0.0 or math.isfinite(fut_z[look]) or math.isfinite(fut_hr[look])),
            "z_efficacy": z_up if math.isfinite(z_up) else None,
            "z_harm": z_low if math.isfinite(z_low) else None,
            "z_futility": float(inner[look]) if inner[look] > 0.0 else (
                float(fut_z[look]) if math.isfinite(fut_z[look]) else None),
            "hr_futility": float(fut_hr[look]) if math.isfinite(fut_hr[look]) else None,
            "nominal_p": float(norm.sf(z_up)) if math.isfinite(z_up) else None,
            "nominal_p_harm": float(norm.cdf(z_low)) if math.isfinite(z_low) else None,
            "hr_efficacy": hr_at(z_up),
            "hr_harm": hr_at(z_low),
            "p_stop_efficacy": float(up.mean()),
            "p_stop_harm": float(down.mean()),
            "p_stop_futility": float(fut.mean()),
            "cumulative_power": cumulative,
        })
    success = favourable | unfavourable
    return SequentialOutcome(
        success, stop_look, favourable | unfavourable, stop_fut, looks, design,
        {"reject_favourable": favourable, "reject_unfavourable": unfavourable},
    )


def analytic_sequential_power(
    plan: SequentialPlan,
    design,
    hazard_ratio: float,
    events: float,
    *,
    ni_margin: float = 1.0,
    allocation: tuple[int, int] = (1, 1),
    grid_r: int = 32,
) -> float:
    """Power by recursive integration at the planned looks, with Schoenfeld's drift.

    The drift is |log(HR / margin)| sqrt(events r / (1 + r)^2) for allocation
    control:experimental = 1:r; efficacy bounds are the planned design's,
    futility bounds (obeyed) the plan's, hazard-ratio rules converted to Z at
    each look's planned events.
    """
    from simtrial.sequential._integration import crossing_probabilities

    fractions = np.array(plan.information_fractions, dtype=float)
    if isinstance(design, TwoSidedDesign):
        # rejection on either side, every bound obeyed (the simulated success)
        from simtrial.sequential.two_sided import two_sided_probabilities

        share = allocation[0] * allocation[1] / (allocation[0] + allocation[1]) ** 2
        drift = -math.log(hazard_ratio / ni_margin) * math.sqrt(events * share)
        inner = below = None
        if design.futility == "beta_spending":
            inner = np.array(design.z_futility, dtype=float)
            inner[-1] = 0.0
        elif design.futility == "z":
            below = np.array(design.z_futility, dtype=float)
            below[-1] = -math.inf
        elif plan.futility == "hr":
            # the HR rule as a Z_eff bound at each look's planned events
            _, fut_mask = _masks(plan, fractions.size)
            below = np.full(fractions.size, -math.inf)
            for look, hr in enumerate(plan.futility_hr or []):
                if look < fractions.size - 1 and fut_mask[look]:
                    below[look] = -math.log(hr / ni_margin) * math.sqrt(events * fractions[look] * share)
        up, down, _ = two_sided_probabilities(fractions, np.array(design.z_lower), np.array(design.z_upper),
                                              inner, drift, grid_r, below)
        return float(up.sum() + down.sum())
    n_looks = fractions.size
    efficacy, futility = _masks(plan, n_looks)
    share = allocation[0] * allocation[1] / (allocation[0] + allocation[1]) ** 2
    drift = -math.log(hazard_ratio / ni_margin) * math.sqrt(events * share)
    upper = np.array(design.z_efficacy, dtype=float)  # +inf at futility-only looks
    lower = np.where(futility, _futility_bounds(plan, design, efficacy, n_looks), -np.inf)
    if plan.futility == "hr":
        for look, hr in enumerate(plan.futility_hr or []):
            if look < n_looks - 1 and futility[look]:
                lower[look] = -math.log(hr / ni_margin) * math.sqrt(events * fractions[look] * share)
    lower[-1] = upper[-1]
    up, _ = crossing_probabilities(fractions, lower, upper, drift, grid_r)
    return float(up.sum())
