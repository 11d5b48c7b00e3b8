"""Single-arm time to event (design ``single_arm_tte``): every patient gets the experimental therapy.

Tests (``analysis.test``; the statistics are ``simtrial.stats.single_arm_tte``'s):

- ``one_sample_logrank`` against ``analysis.reference`` (a survival curve):
  ``O`` events, ``E = sum_i H0(x_i)`` with ``H0 = -log S0`` at each patient's
  follow-up ``x_i``; ``Z = (E - O) / sqrt(V)`` with ``V = E`` (classic,
  ``logrank_variance: expected``) or ``(O + E) / 2`` (Wu 2015, ``wu``);
  H0 rejected when ``Z >= z(1 - alpha)``.
- ``exact_poisson`` against ``analysis.reference_rate_per_patient_year``
  (``r0``): ``D`` events over ``PY`` patient-years; H0 (rate >= r0) rejected
  when ``P(Poisson(r0 PY) <= D) <= alpha``.

Both are one-sided (fewer events than the reference = better).  Where the
other test's reference is also given its decision is reported beside
(``reject_one_sample_logrank`` / ``reject_exact_poisson``).

Cut: ``analysis.calendar_months`` after the first entry and/or
``analysis.target_events`` (whichever first; with neither reached, the last
event).  Interim futility looks (``analysis.interim_futility``): at the
calendar time the total follow-up reaches ``patient_years`` (exactly: the
follow-up is piecewise linear in calendar time), the trial stops and fails if
more than ``max_events`` events have occurred; a look whose patient-years are
not reached before the final analysis does not happen (counted).

``null=True``: the experimental arm follows the reference for every category:
the reference curve (one_sample_logrank) or the exponential with hazard
``r0 / 12`` per month (exact_poisson).  Dropout stays the arm's.

Simulation: numpy, trials in blocks of ``BLOCK_TRIALS`` seeded
``(seed, block)`` as the binary designs (``simtrial.designs._binary_cohort``),
so trial i has the same numbers whatever ``n_sims``, executor or split.  The
engine is not used: the one-sample log-rank needs ``sum H0(x_i)`` over the
patients, which is not one of its per-trial statistics.  Per trial: entry
times from the accrual's entry law (inverse CDF), assessed category (mix or
fixed counts), true category given assessed (misclassification), event time
from the true category's model (inverse survival), exponential dropout.

Outputs: ``events`` at the deciding analysis, ``hazard_ratio`` = O / E
(log-rank: the standardised event ratio, the hazard ratio against the
reference under proportional hazards) or the rate ratio (D / PY) / r0
(Poisson); ``estimates``: ``patient_years``, ``expected_events_reference``,
``z`` (log-rank), ``p_value``, ``stopped_at_look``.  ``analytic_power``
(calendar cut without target_events or futility looks): expected follow-up,
events and E by numerical integration; the exact Poisson power at the
expected patient-years and a normal approximation of the log-rank's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrial.designs._binary_cohort import (
    BLOCK_TRIALS,
    BlockTask,
    CohortLaw,
    check_run_args,
    cohort_law,
    nan_array,
    run_blocks,
)
from simtrial.designs.base import Progress, TrialOutcomes
from simtrial.errors import InvalidInput
from simtrial.executors import Executor
from simtrial.her2 import CATEGORIES, N_CATEGORIES
from simtrial.spec import Arm, Scenario
from simtrial.spec.accrual import EntryLaw
from simtrial.survival import CureMixture, Exponential, PiecewiseExponential, Weibull
from simtrial.trial_parameters import TrialParameters

#: patients x trials drawn at once inside a block (memory: a few arrays of this many float64)
_CHUNK_CELLS = 1 << 19


def inverse_survival(model: Any, u: np.ndarray) -> np.ndarray:
    """Times t with S(t) = u (inf where S never falls to u), vectorised for the usual models."""
    u = np.asarray(u, dtype=float)
    if isinstance(model, PiecewiseExponential):
        starts = np.asarray(model.start_months)
        rates = np.asarray(model.hazard_per_month)
        cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(starts))])
        target = -np.log(u)
        j = np.searchsorted(cum, target, side="right") - 1
        return starts[j] + (target - cum[j]) / rates[j]
    if isinstance(model, Weibull):
        return model.scale_months * (-np.log(u)) ** (1.0 / model.shape)
    if isinstance(model, CureMixture):
        base = u ** (1.0 / model.hazard_ratio)
        c = model.cure_fraction
        out = np.full(u.shape, np.inf)
        ok = base > c
        out[ok] = inverse_survival(model.uncured, (base[ok] - c) / (1.0 - c))
        return out
    return np.vectorize(model.quantile_time, otypes=[float])(u)


def cumulative_hazard(model: Any, t: np.ndarray) -> np.ndarray:
    """H(t) = -log S(t) (finite: S is clipped at 1e-300)."""
    s = np.asarray(model.survival(np.asarray(t, dtype=float)), dtype=float)
    return -np.log(np.clip(s, 1e-300, 1.0))


def _constant_rate(model: Any) -> float | None:
    if isinstance(model, PiecewiseExponential) and len(model.hazard_per_month) == 1:
        return float(model.hazard_per_month[0])
    return None


@dataclass(frozen=True)
class _Task(BlockTask):
    """One block of single-arm trials (numpy arrays, scalars and frozen models only: it pickles)."""

    n_patients: int = 0
    entry_law: EntryLaw | None = None  # the exact entry law (simtrial.spec.accrual)
    law: CohortLaw | None = None
    models: tuple = ()  # per true category, None where no patient can have it
    dropout_hazard: float = 0.0
    target_events: int = 0  # 0: no event-driven cut
    calendar_months: float = math.inf
    reference: Any = None
    rate_per_year: float = math.nan  # exact Poisson reference rate; NaN: not given
    variance: str = "expected"
    looks: tuple = ()  # ((patient_years, max_events), ...)

    def block(self, rng: np.random.Generator, start: int, size: int) -> dict[str, np.ndarray]:
        n = self.n_patients
        per = max(1, min(BLOCK_TRIALS, _CHUNK_CELLS // n))
        pieces = [self._chunk(rng, min(per, BLOCK_TRIALS - a)) for a in range(0, BLOCK_TRIALS, per)]
        return {k: np.concatenate([p[k] for p in pieces])[:size] for k in pieces[0]}

    def _chunk(self, rng: np.random.Generator, m: int) -> dict[str, np.ndarray]:
        n = self.n_patients
        entry = self.entry_law.quantile(rng.random((m, n)))
        law = self.law
        if law.fixed_counts is not None:
            assessed = np.broadcast_to(np.repeat(np.arange(N_CATEGORIES), law.fixed_counts), (m, n))
        else:
            cdf = np.cumsum(law.assessed_probs)
            assessed = np.minimum(np.searchsorted(cdf / cdf[-1], rng.random((m, n)), side="right"), N_CATEGORIES - 1)
        cdf_true = np.cumsum(law.true_given_assessed, axis=1)  # [assessed, true]
        true = (rng.random((m, n))[..., None] >= cdf_true[assessed][..., :-1]).sum(axis=-1)
        u = rng.random((m, n))
        t_event = np.full((m, n), np.inf)
        for c, model in enumerate(self.models):
            mask = true == c
            if model is not None and mask.any():
                t_event[mask] = inverse_survival(model, u[mask])
        if self.dropout_hazard > 0:
            t_drop = rng.exponential(1.0 / self.dropout_hazard, (m, n))
        else:
            t_drop = np.full((m, n), np.inf)
        observed = t_event <= t_drop
        y = np.minimum(t_event, t_drop)  # follow-up to event or dropout (no administrative censoring)
        event_cal = np.where(observed, entry + t_event, np.inf)
        cut = np.full(m, self.calendar_months)
        not_reached = np.zeros(m, dtype=bool)
        if self.target_events:
            k = min(self.target_events, n)
            kth = np.partition(event_cal, k - 1, axis=1)[:, k - 1]
            not_reached = ~np.isfinite(kth) & ~np.isfinite(cut)
            cut = np.minimum(cut, kth)
        if not_reached.any():  # fewer events than target_events ever, no calendar cut: the last event
            finite = np.where(np.isfinite(event_cal), event_cal, -np.inf).max(axis=1)
            last = np.where(np.isfinite(finite), finite, entry.max(axis=1))
            cut = np.where(not_reached, last, cut)

        decided = cut.copy()
        stop = np.full(m, -1, dtype=np.int64)
        look_reached = np.zeros((m, max(len(self.looks), 1)), dtype=bool)
        if self.looks:
            times = _patient_year_times(entry, y, np.array([py for py, _ in self.looks]))  # [m, looks]
            for j, (_, max_events) in enumerate(self.looks):
                t_j = times[:, j]
                happens = (t_j < cut) & (stop < 0)
                look_reached[:, j] = t_j < cut
                d_j = (event_cal <= t_j[:, None]).sum(axis=1)
                stops = happens & (d_j > max_events)
                stop[stops] = j
                decided[stops] = t_j[stops]

        admin = np.clip(decided[:, None] - entry, 0.0, None)
        x = np.minimum(y, admin)
        d = event_cal <= decided[:, None]  # on the calendar scale: (entry + t) - entry need not be t in floats
        x = np.where(d, np.minimum(x, t_event), x)
        events = d.sum(axis=1).astype(np.int64)
        patient_years = x.sum(axis=1) / 12.0
        enrolled = (entry <= decided[:, None]).sum(axis=1).astype(np.int64)
        expected = (cumulative_hazard(self.reference, x).sum(axis=1) if self.reference is not None
                    else np.full(m, np.nan))
        return {"events": events, "patient_years": patient_years, "expected": expected, "decided": decided,
                "enrolled": enrolled, "stop": stop, "look_reached": look_reached, "not_reached": not_reached}


def _patient_year_times(entry: np.ndarray, y: np.ndarray, patient_years: np.ndarray) -> np.ndarray:
    """Per trial, the calendar time (months) at which the total follow-up reaches each of ``patient_years``.

    Follow-up grows with slope = patients at risk, between the breakpoints entry_i (+1) and entry_i + y_i
    (-1): one sort per trial, exact linear interpolation.  inf where it is never reached.
    """
    m, n = entry.shape
    points = np.concatenate([entry, entry + y], axis=1)
    slope = np.concatenate([np.ones((m, n)), -np.ones((m, n))], axis=1)
    order = np.argsort(points, axis=1, kind="stable")
    pts = np.take_along_axis(points, order, axis=1)
    at_risk = np.cumsum(np.take_along_axis(slope, order, axis=1), axis=1)  # after each breakpoint
    with np.errstate(invalid="ignore"):
        gaps = np.diff(pts, axis=1)
        gaps = np.where(np.isfinite(gaps), gaps, np.inf)
        seg = np.where(at_risk[:, :-1] > 0, at_risk[:, :-1] * gaps, 0.0)
    seg = np.nan_to_num(seg, nan=0.0, posinf=np.inf)
    cum = np.concatenate([np.zeros((m, 1)), np.cumsum(seg, axis=1)], axis=1) / 12.0  # PY at each breakpoint
    out = np.full((m, patient_years.size), np.inf)
    rows = np.arange(m)
    for j, target in enumerate(patient_years):
        k = (cum < target).sum(axis=1) - 1  # last breakpoint below the target
        ok = k < cum.shape[1] - 1
        kk = np.minimum(k, cum.shape[1] - 2)
        rate = at_risk[rows, kk] / 12.0
        with np.errstate(divide="ignore", invalid="ignore"):
            t = pts[rows, kk] + (target - cum[rows, kk]) / rate
        out[:, j] = np.where(ok & (rate > 0), t, np.inf)
    return out


def _models(scenario: Scenario, law: CohortLaw, null: bool) -> tuple:
    a = scenario.analysis
    if null:
        if a.test == "one_sample_logrank":
            model = a.reference
        else:
            model = Exponential(hazard_per_month=a.reference_rate_per_patient_year / 12.0)
        return tuple(model if law.possible_true[c] else None for c in range(N_CATEGORIES))
    arm: Arm = scenario.experimental
    out = []
    for c in range(N_CATEGORIES):
        if not law.possible_true[c]:
            out.append(None)
            continue
        if c not in arm.models:
            raise InvalidInput(f"arms.experimental.survival[{CATEGORIES[c]}] is missing: the population enrols "
                               f"patients whose true category is {CATEGORIES[c]}")
        out.append(arm.models[c])
    return tuple(out)


def _expected_per_patient(models, weights, dropout: float, entry_law, cut: float, reference) -> dict[str, float]:
    """Per patient: expected follow-up (months), events and reference cumulative hazard at a calendar cut.

    E[x] = E_entry int_0^{cut - e} P(X > u) du, E[d] = E_entry int f(u) e^{-h u} du,
    E[H0(x)] = E_entry int h0(u) P(X > u) du, on a fine grid (trapezoid).
    """
    entry = entry_law.quantile((np.arange(400) + 0.5) / 400)
    u = np.linspace(0.0, cut, 4001)
    s = sum(w * np.asarray(models[c].survival(u), dtype=float) for c, w in weights.items())
    drop = np.exp(-dropout * u)
    at_risk = s * drop
    follow = np.concatenate([[0.0], np.cumsum(0.5 * (at_risk[1:] + at_risk[:-1]) * np.diff(u))])
    dens = -np.diff(s)
    events = np.concatenate([[0.0], np.cumsum(dens * 0.5 * (drop[1:] + drop[:-1]))])
    out = {"follow_up_months": 0.0, "events": 0.0, "expected_reference": math.nan}
    limit = np.clip(cut - entry, 0.0, cut)
    out["follow_up_months"] = float(np.mean(np.interp(limit, u, follow)))
    out["events"] = float(np.mean(np.interp(limit, u, events)))
    if reference is not None:
        h0 = np.diff(cumulative_hazard(reference, u))
        ref = np.concatenate([[0.0], np.cumsum(h0 * 0.5 * (at_risk[1:] + at_risk[:-1]))])
        out["expected_reference"] = float(np.mean(np.interp(limit, u, ref)))
    return out


def poisson_critical_counts(patient_years: np.ndarray, rate: float, alpha: float) -> np.ndarray:
    """Largest c with P(Poisson(rate x PY) <= c) <= alpha per PY (-1: none), vectorised."""
    from scipy.stats import poisson

    mu = rate * np.asarray(patient_years, dtype=float)
    c = poisson.ppf(alpha, mu).astype(np.int64)
    c = np.where(poisson.cdf(c, mu) > alpha, c - 1, c)
    return c


class SingleArmTimeToEventDesign:
    """Single-arm time to event (design name ``"single_arm_tte"``)."""

    name = "single_arm_tte"

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
        """Simulate ``n_sims`` trials (``threads`` does not apply: numpy; ``executor`` runs the blocks)."""
        from scipy.stats import norm, poisson

        n_sims, seed = check_run_args(n_sims, seed)
        if trial_parameters is not None:
            raise InvalidInput(
                "trial_parameters: design single_arm_tte takes no per-trial parameters (assurance, sweeps of a "
                "prior): its arm has no control to apply hazard ratios to; run it at fixed models")
        a = scenario.analysis
        if scenario.endpoint != "time_to_event" or scenario.experimental is None:
            raise InvalidInput("design 'single_arm_tte' needs a time-to-event endpoint and arms.experimental")
        if a.test not in ("one_sample_logrank", "exact_poisson"):
            raise InvalidInput(f"analysis.test must be one_sample_logrank or exact_poisson for design "
                               f"'single_arm_tte', got {a.test!r}")
        if a.test == "one_sample_logrank" and a.reference is None:
            raise InvalidInput("analysis.reference: test one_sample_logrank needs the reference survival curve")
        if a.test == "exact_poisson" and a.reference_rate_per_patient_year is None:
            raise InvalidInput("analysis.reference_rate_per_patient_year: test exact_poisson needs the reference rate")
        if a.sided != 1:
            raise InvalidInput("analysis.sided: the single-arm time-to-event tests are one-sided")
        alpha = float(a.alpha)
        n = self._n_patients(scenario, n_patients)
        events_cut = self._target_events(scenario, n, n_patients, target_events)
        calendar = float(a.calendar_months) if a.calendar_months is not None else math.inf
        if not events_cut and not math.isfinite(calendar):
            raise InvalidInput("analysis: give target_events or calendar_months (the cut of the analysis)")
        law = cohort_law(scenario.population, n)
        models = _models(scenario, law, null)
        entry_law = scenario.accrual.entry_distribution(n)
        variance = a.logrank_variance or "expected"
        rate = a.reference_rate_per_patient_year
        task = _Task(
            seed=seed, n_sims=n_sims, n_patients=n, entry_law=entry_law, law=law,
            models=models, dropout_hazard=float(scenario.experimental.dropout_hazard_per_month),
            target_events=int(events_cut or 0), calendar_months=calendar, reference=a.reference,
            rate_per_year=math.nan if rate is None else float(rate), variance=variance, looks=tuple(a.interim_futility),
        )
        rows = run_blocks(task, n_sims, executor, progress)
        events, py, expected = rows["events"], rows["patient_years"], rows["expected"]
        stop = rows["stop"]
        alive = stop < 0

        decisions: dict[str, np.ndarray] = {}
        estimates: dict[str, np.ndarray] = {"patient_years": py, "events_experimental": events.astype(float),
                                            "patients_experimental": rows["enrolled"].astype(float),
                                            "stopped_at_look": stop + 1}
        z_crit = float(norm.isf(alpha))
        reject_lr = reject_po = None
        if a.reference is not None:
            var = expected if variance == "expected" else 0.5 * (events + expected)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where((expected > 0) & (var > 0), (expected - events) / np.sqrt(var), np.nan)
            reject_lr = alive & np.isfinite(z) & (z >= z_crit)
            estimates["expected_events_reference"] = expected
            estimates["z"] = z
            estimates["p_value_one_sample_logrank"] = norm.sf(z)
            with np.errstate(divide="ignore", invalid="ignore"):
                estimates["observed_over_expected"] = np.where(expected > 0, events / expected, np.nan)
        if rate is not None:
            mu = rate * py
            p_po = np.where(mu > 0, poisson.cdf(events, np.where(mu > 0, mu, 1.0)), np.nan)
            reject_po = alive & np.isfinite(p_po) & (p_po <= alpha)
            estimates["p_value_exact_poisson"] = p_po
            estimates["critical_events"] = np.where(mu > 0, poisson_critical_counts(np.where(mu > 0, py, 1.0), rate,
                                                                                    alpha), -1)
            with np.errstate(divide="ignore", invalid="ignore"):
                estimates["rate_ratio"] = np.where(py > 0, events / py / rate, np.nan)
        if a.test == "one_sample_logrank":
            success, ratio = reject_lr, estimates["observed_over_expected"]
            estimates["p_value"] = estimates["p_value_one_sample_logrank"]
            if reject_po is not None:
                decisions["reject_exact_poisson"] = reject_po
        else:
            success, ratio = reject_po, estimates["rate_ratio"]
            estimates["p_value"] = estimates["p_value_exact_poisson"]
            if reject_lr is not None:
                decisions["reject_one_sample_logrank"] = reject_lr
        looks_out = []
        for j, (py_j, max_j) in enumerate(a.interim_futility):
            stopped = stop == j
            decisions[f"stop_futility_look{j + 1}"] = stopped
            reached = rows["look_reached"][:, j]
            looks_out.append({"look": j + 1, "patient_years": py_j, "max_events": max_j,
                              "p_stop_futility": float(stopped.mean()),
                              "p_look_not_reached": float(1.0 - reached.mean()),
                              "mean_calendar_months": float(rows["decided"][stopped].mean()) if stopped.any() else None})
        if a.interim_futility:
            decisions["stop_futility_any"] = ~alive

        details: dict[str, Any] = {
            "test": a.test, "alpha_one_sided": alpha, "events_are": "events in the single arm",
            "reference_rate_per_patient_year": rate,
            "reference": None if a.reference is None else _describe(a.reference),
            "logrank_variance": variance if a.reference is not None else None,
            "under_null": ("the experimental arm follows the reference curve" if a.test == "one_sample_logrank"
                           else f"the experimental arm is exponential at the reference rate ({rate:g} per patient-year)")
            if null else None,
            "rejection_rule": ("Z = (E - O) / sqrt(V) >= z(1 - alpha)" if a.test == "one_sample_logrank"
                               else "P(Poisson(r0 x PY) <= D) <= alpha"),
            "mean_patient_years": float(py.mean()),
            "hazard_ratio_is": ("observed / expected events under the reference" if a.test == "one_sample_logrank"
                                else "observed events per patient-year / the reference rate"),
        }
        if looks_out:
            details["futility_looks"] = looks_out
        analytic, note = self._analytic(scenario, models, law, n, entry_law, calendar, events_cut, alpha, variance)
        if note:
            details["analytic_power_note"] = note
        if "expected_patient_years" in analytic:
            details["expected_patient_years"] = analytic.pop("expected_patient_years")
            details["expected_events"] = analytic.pop("expected_events")
            if "expected_events_reference" in analytic:
                details["expected_events_under_reference"] = analytic.pop("expected_events_reference")
        flags = {"target_events_not_reached": int(rows["not_reached"].sum())} if events_cut else {}
        nan = nan_array(n_sims)
        return TrialOutcomes(
            design=self.name, n_sims=n_sims, seed=seed, null=bool(null), success=np.asarray(success, dtype=bool),
            events=events, duration_months=rows["decided"], enrolled=rows["enrolled"], hazard_ratio=ratio,
            median_control_months=nan, median_experimental_months=nan.copy(), decisions=decisions,
            estimates=estimates, analytic_power=analytic, details=details, flags=flags, n_patients=n,
            target_events=int(events_cut) if events_cut else None,
        )

    @staticmethod
    def _n_patients(scenario: Scenario, override: int | None) -> int:
        n = override if override is not None else scenario.n_patients
        if n is None:
            raise InvalidInput("n_patients: the scenario gives no n_patients; search it with sample_size")
        fixed = scenario.population.fixed_counts
        if fixed is not None and override is not None and override != sum(fixed.values()):
            raise InvalidInput(f"n_patients: population.fixed_counts sum to {sum(fixed.values())}, not {override}")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise InvalidInput(f"n_patients must be an integer >= 1, got {n!r}")
        return int(n)

    @staticmethod
    def _target_events(scenario: Scenario, n: int, n_override: int | None, events_override: int | None) -> int | None:
        a = scenario.analysis
        if events_override is not None:
            return max(1, min(int(events_override), n))
        events = a.target_events
        if n_override is not None:
            search = scenario.sample_size
            ratio = search.events_per_patient if search is not None and search.events_per_patient else None
            if ratio is None and events is not None and scenario.n_patients:
                ratio = events / scenario.n_patients
            if ratio is not None:
                events = max(1, min(n, int(round(ratio * n))))
        return None if events is None else min(int(events), n)

    @staticmethod
    def _analytic(scenario, models, law, n, entry_law, calendar, events_cut, alpha, variance):
        from scipy.stats import norm, poisson

        a = scenario.analysis
        if events_cut or not math.isfinite(calendar) or a.interim_futility:
            return {}, ("no closed form: the analytic figures assume a calendar cut without target_events or "
                        "futility looks")
        weights = {c: float(w) for c, w in enumerate(law.true_given_assessed.T @ law.assessed_weights)
                   if w > 0 and models[c] is not None}
        total = sum(weights.values())
        weights = {c: w / total for c, w in weights.items()}
        e = _expected_per_patient(models, weights, float(scenario.experimental.dropout_hazard_per_month),
                                  entry_law, calendar, a.reference)
        py = n * e["follow_up_months"] / 12.0
        o1 = n * e["events"]
        out: dict[str, float] = {"expected_patient_years": py, "expected_events": o1}
        if a.reference_rate_per_patient_year is not None:
            c = int(poisson_critical_counts(np.array([py]), a.reference_rate_per_patient_year, alpha)[0])
            power = float(poisson.cdf(c, o1)) if c >= 0 else 0.0
            key = "exact_poisson_at_expected_patient_years"
            out[key] = power
        if a.reference is not None:
            e0 = n * e["expected_reference"]
            out["expected_events_reference"] = e0
            v0 = e0 if variance == "expected" else 0.5 * (o1 + e0)
            # O - E0 approximately normal with mean o1 - e0 and variance o1 (Poisson events; E0's spread ignored)
            lr = float(norm.cdf((e0 - o1 - norm.isf(alpha) * math.sqrt(v0)) / math.sqrt(max(o1, 1e-12))))
            out["one_sample_logrank_normal_approximation"] = lr
        primary = ("exact_poisson_at_expected_patient_years" if a.test == "exact_poisson"
                   else "one_sample_logrank_normal_approximation")
        ordered = {primary: out.pop(primary)} if primary in out else {}
        ordered.update(out)
        return ordered, None


def _describe(model) -> str:
    rate = _constant_rate(model)
    if rate is not None:
        return f"exponential, hazard {rate:.6g} per month (median {math.log(2) / rate:.4g} months)"
    return f"{type(model).__name__} (median {model.median():.4g} months)"


DESIGN = SingleArmTimeToEventDesign()

__all__ = ["DESIGN", "SingleArmTimeToEventDesign", "cumulative_hazard", "inverse_survival", "poisson_critical_counts"]
