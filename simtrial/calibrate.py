"""From the review's figures to models the engine runs, with their uncertainty.

* A median gives an exponential; a median plus a landmark rate of the same arm
  gives the Weibull through both, solved exactly; a landmark rate alone gives the
  exponential through it (or a cure mixture when a cure fraction is supplied).
* Two arms' medians give a hazard ratio under proportional hazards with
  exponential survival: HR = median_control / median_experimental.
* A median's 95% CI gives a log-normal sampling distribution of the median (and
  hazard) and the number of events that precision implies; a proportion's counts
  or CI give a Beta distribution.  These are kept for assurance calculations.
* Effect maps turn the review's conclusions about therapy class x HER2 IHC into
  hazard ratios, each entry citing the evidence ids it rests on and the
  assumption it makes.
* ``calibration_report`` checks every calibratable figure twice: the model must
  reproduce it exactly, and a simulated cohort drawn by the engine must
  reproduce it within Monte-Carlo error.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from simtrial.evidence import get_row, load_evidence
from simtrial.her2 import CATEGORIES, GROUPS, IHC0, IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3, ULTRALOW
from simtrial.survival import CureMixture, Exponential, PiecewiseExponential, Weibull

Z_975 = float(stats.norm.ppf(0.975))  # 1.959964...
LOG2 = math.log(2.0)

PH_ASSUMPTION = (
    "proportional hazards with exponential survival in both arms, so the hazard ratio "
    "is the inverse ratio of the medians: HR = median_control / median_experimental"
)

SurvivalModel = PiecewiseExponential | Weibull | CureMixture


# --- survival models from reported figures ----------------------------------


def exponential_from_median(median_months: float) -> PiecewiseExponential:
    """The exponential with this median: hazard = ln 2 / median."""
    return Exponential(median_months=median_months)


def exponential_from_rate(rate: float, time_months: float) -> PiecewiseExponential:
    """The exponential through S(time_months) = rate: hazard = -ln(rate) / time."""
    _check_landmark(rate, time_months)
    return Exponential(hazard_per_month=-math.log(rate) / time_months)


def cure_mixture_from_rate(rate: float, time_months: float, cure_fraction: float) -> CureMixture:
    """Cured fraction c plus exponential uncured: c + (1 - c) exp(-h t) = rate at the landmark."""
    _check_landmark(rate, time_months)
    if not 0.0 <= cure_fraction < rate:
        raise ValueError(
            f"cure_fraction must lie in [0, rate) = [0, {rate}) for the curve to pass through the "
            f"landmark, got {cure_fraction!r}"
        )
    uncured_rate = (rate - cure_fraction) / (1.0 - cure_fraction)
    return CureMixture(cure_fraction, exponential_from_rate(uncured_rate, time_months))


def weibull_from_median_and_rate(median_months: float, rate: float, time_months: float) -> Weibull:
    """The Weibull with S(median) = 1/2 and S(time) = rate, solved in closed form.

    With S(t) = exp(-(t/scale)^shape), log(-log S(t)) is linear in log t, so two
    points fix shape (the slope) and scale.
    """
    _check_landmark(rate, time_months)
    if not median_months > 0:
        raise ValueError(f"median_months must be > 0, got {median_months!r}")
    if time_months == median_months or (time_months < median_months) != (rate > 0.5):
        raise ValueError(
            f"a landmark rate {rate} at {time_months} months is inconsistent with a median of "
            f"{median_months} months (survival must fall through 1/2 at the median)"
        )
    median_months, rate, time_months = float(median_months), float(rate), float(time_months)
    shape = (math.log(LOG2) - math.log(-math.log(rate))) / (
        math.log(median_months) - math.log(time_months)
    )
    scale = median_months / LOG2 ** (1.0 / shape)
    return Weibull(shape=shape, scale_months=scale)


def _check_landmark(rate: float, time_months: float) -> None:
    if not 0.0 < rate < 1.0:
        raise ValueError(f"a landmark rate must lie strictly between 0 and 1, got {rate!r}")
    if not (time_months > 0 and math.isfinite(time_months)):
        raise ValueError(f"time_months must be a finite number > 0, got {time_months!r}")


def describe_model(model: SurvivalModel) -> tuple[str, dict[str, float]]:
    """A model's name and parameters in trial designers' units, for reports."""
    if isinstance(model, CureMixture):
        inner_name, inner = describe_model(model.uncured)
        params = {"cure_fraction": model.cure_fraction, "hazard_ratio": model.hazard_ratio}
        params.update({f"uncured_{k}": v for k, v in inner.items()})
        return f"CureMixture({inner_name})", params
    if isinstance(model, Weibull):
        return "Weibull", {"shape": model.shape, "scale_months": model.scale_months}
    if len(model.hazard_per_month) == 1:
        rate = model.hazard_per_month[0]
        return "Exponential", {"hazard_per_month": rate, "median_months": LOG2 / rate}
    params = {f"start_months_{j}": s for j, s in enumerate(model.start_months)}
    params.update({f"hazard_per_month_{j}": r for j, r in enumerate(model.hazard_per_month)})
    return "PiecewiseExponential", params


@dataclass(frozen=True)
class CalibratedModel:
    """A survival model fitted to evidence rows, with how and on what assumptions."""

    source_ids: tuple[str, ...]
    model: SurvivalModel
    method: str
    assumptions: tuple[str, ...] = ()

    @property
    def model_name(self) -> str:
        return describe_model(self.model)[0]

    @property
    def parameters(self) -> dict[str, float]:
        return describe_model(self.model)[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_ids": list(self.source_ids),
            "model": self.model_name,
            "parameters": self.parameters,
            "method": self.method,
            "assumptions": list(self.assumptions),
        }


def _same_arm(evidence: pd.DataFrame, row: pd.Series) -> pd.DataFrame:
    keys = ("trial", "regimen", "arm_role", "her2_subgroup", "subgroup_reported", "endpoint")
    mask = np.ones(len(evidence), dtype=bool)
    for key in keys:
        mask &= (evidence[key] == row[key]).to_numpy()
    return evidence[mask]


def landmark_partner(evidence_id: str, evidence: pd.DataFrame | None = None) -> str | None:
    """The other half of a median + landmark pair reported for the same arm, if any."""
    frame = load_evidence() if evidence is None else evidence
    row = get_row(evidence_id, frame)
    other = {"median_months": "rate_at_months", "rate_at_months": "median_months"}.get(
        row["statistic"]
    )
    if other is None:
        return None
    partners = _same_arm(frame, row)
    partners = partners[partners["statistic"] == other]
    return str(partners.index[0]) if len(partners) == 1 else None


def calibrate(
    evidence_id: str,
    *,
    pair: bool = True,
    cure_fraction: float | None = None,
    evidence: pd.DataFrame | None = None,
) -> CalibratedModel:
    """The survival model of one reported median or landmark rate.

    With ``pair`` (default) a median and a landmark rate reported for the same
    arm are used together (Weibull through both); otherwise one figure gives an
    exponential, or a cure mixture when ``cure_fraction`` is given for a rate.
    """
    frame = load_evidence() if evidence is None else evidence
    row = get_row(evidence_id, frame)
    statistic = row["statistic"]
    if statistic not in ("median_months", "rate_at_months"):
        raise ValueError(
            f"evidence {evidence_id!r} is a {statistic}, not a median or landmark rate; "
            "use calibrate_response for proportions"
        )
    partner = landmark_partner(evidence_id, frame) if pair and cure_fraction is None else None
    if partner is not None:
        median_row, rate_row = (row, get_row(partner, frame))
        if statistic == "rate_at_months":
            median_row, rate_row = rate_row, row
        model = weibull_from_median_and_rate(
            median_row["value"], rate_row["value"], rate_row["time_months"]
        )
        return CalibratedModel(
            (str(median_row["id"]), str(rate_row["id"])),
            model,
            "Weibull through the median and the landmark rate (exact)",
            ("Weibull shape: the hazard changes monotonically over time",),
        )
    if statistic == "median_months":
        return CalibratedModel(
            (evidence_id,),
            exponential_from_median(row["value"]),
            "exponential with the reported median",
            ("constant hazard over time",),
        )
    if cure_fraction is not None:
        return CalibratedModel(
            (evidence_id,),
            cure_mixture_from_rate(row["value"], row["time_months"], cure_fraction),
            "cure mixture through the landmark rate",
            (
                f"cure fraction {cure_fraction} supplied by the user; constant hazard in the uncured",
            ),
        )
    return CalibratedModel(
        (evidence_id,),
        exponential_from_rate(row["value"], row["time_months"]),
        "exponential through the landmark rate",
        ("constant hazard over time (no cure fraction)",),
    )


# --- hazard ratios from medians ------------------------------------------------


@dataclass(frozen=True)
class HazardRatioFromMedians:
    """HR of experimental vs control implied by two medians, and the assumption behind it."""

    hazard_ratio: float
    median_experimental_months: float
    median_control_months: float
    source_ids: tuple[str, ...] = ()
    log_hazard_ratio_se: float | None = None
    assumption: str = PH_ASSUMPTION

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source_ids"] = list(self.source_ids)
        return out


def hazard_ratio_from_medians(
    median_experimental_months: float,
    median_control_months: float,
    source_ids: tuple[str, ...] = (),
) -> HazardRatioFromMedians:
    """HR = median_control / median_experimental (exponential survival, proportional hazards)."""
    for name, value in (
        ("median_experimental_months", median_experimental_months),
        ("median_control_months", median_control_months),
    ):
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return HazardRatioFromMedians(
        float(median_control_months) / float(median_experimental_months),
        float(median_experimental_months),
        float(median_control_months),
        tuple(source_ids),
    )


def hazard_ratio_between(
    experimental_id: str, control_id: str, evidence: pd.DataFrame | None = None
) -> HazardRatioFromMedians:
    """HR between two reported medians; with both CIs, also the SE of log HR."""
    frame = load_evidence() if evidence is None else evidence
    rows = [get_row(i, frame) for i in (experimental_id, control_id)]
    for r in rows:
        if r["statistic"] != "median_months":
            raise ValueError(f"evidence {r['id']!r} is a {r['statistic']}, not a median")
    result = hazard_ratio_from_medians(
        rows[0]["value"], rows[1]["value"], (experimental_id, control_id)
    )
    if all(not math.isnan(r["ci_low"]) for r in rows):
        # Independent arms: the variances of the two log medians add.
        ses = [
            median_uncertainty(r["value"], r["ci_low"], r["ci_high"]).log_median_se for r in rows
        ]
        result = HazardRatioFromMedians(
            result.hazard_ratio,
            result.median_experimental_months,
            result.median_control_months,
            result.source_ids,
            math.hypot(*ses),
        )
    return result


# --- uncertainty for assurance -------------------------------------------------


@dataclass(frozen=True)
class LogNormalMedian:
    """Sampling distribution of a reported median: log(median) ~ Normal(log(median), se^2).

    The SE comes from the width of the 95% CI on the log scale, SE = (log hi - log
    lo) / (2 z), which tolerates the skew of published CIs.  For an exponential
    the log hazard's SE is the same and equals 1/sqrt(events), so the CI implies
    ``implied_events`` = 1 / SE^2 observed events.
    """

    median_months: float
    ci_low: float
    ci_high: float
    log_median_se: float
    source_ids: tuple[str, ...] = ()

    @property
    def implied_events(self) -> float:
        return 1.0 / self.log_median_se**2

    @property
    def hazard_per_month(self) -> float:
        return LOG2 / self.median_months

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the median (months)."""
        return np.exp(rng.normal(math.log(self.median_months), self.log_median_se, size=n))

    def sample_hazard_per_month(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the exponential hazard ln 2 / median (per month)."""
        return LOG2 / self.sample(n, rng)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source_ids"] = list(self.source_ids)
        out["implied_events"] = self.implied_events
        return out


def median_uncertainty(
    median_months: float, ci_low: float, ci_high: float, source_ids: tuple[str, ...] = ()
) -> LogNormalMedian:
    """The log-normal sampling distribution of a median with a 95% CI."""
    if not 0 < ci_low <= median_months <= ci_high or ci_low == ci_high:
        raise ValueError(
            f"need 0 < ci_low <= median <= ci_high with ci_low < ci_high, got {ci_low}, {median_months}, {ci_high}"
        )
    se = (math.log(ci_high) - math.log(ci_low)) / (2.0 * Z_975)
    return LogNormalMedian(
        float(median_months), float(ci_low), float(ci_high), se, tuple(source_ids)
    )


@dataclass(frozen=True)
class BetaProportion:
    """Beta(alpha, beta) uncertainty of a response probability (ORR, pCR)."""

    alpha: float
    beta: float
    method: str
    source_ids: tuple[str, ...] = ()

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def effective_sample_size(self) -> float:
        return self.alpha + self.beta

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the probability."""
        return rng.beta(self.alpha, self.beta, size=n)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source_ids"] = list(self.source_ids)
        out["mean"] = self.mean
        return out


def beta_from_counts(
    responders: int, patients: int, source_ids: tuple[str, ...] = ()
) -> BetaProportion:
    """Jeffreys posterior Beta(x + 1/2, n - x + 1/2).

    Jeffreys rather than Beta(x+1, n-x+1): it stays centred near x/n for small
    cohorts such as Panphila's 4/13 and has good frequentist coverage.
    """
    if not (patients > 0 and 0 <= responders <= patients):
        raise ValueError(
            f"need 0 <= responders <= patients and patients > 0, got {responders}/{patients}"
        )
    return BetaProportion(
        responders + 0.5,
        patients - responders + 0.5,
        "Jeffreys Beta(x+1/2, n-x+1/2)",
        tuple(source_ids),
    )


def beta_from_ci(
    proportion: float, ci_low: float, ci_high: float, source_ids: tuple[str, ...] = ()
) -> BetaProportion:
    """Method of moments: mean = proportion, SD = (hi - lo) / (2 z)."""
    if not 0 <= ci_low <= proportion <= ci_high <= 1 or ci_low == ci_high:
        raise ValueError(
            f"need 0 <= ci_low <= proportion <= ci_high <= 1, got {ci_low}, {proportion}, {ci_high}"
        )
    variance = ((ci_high - ci_low) / (2.0 * Z_975)) ** 2
    total = proportion * (1.0 - proportion) / variance - 1.0
    if not total > 0:
        raise ValueError(
            f"a CI of {ci_low}-{ci_high} is too wide for a Beta with mean {proportion}"
        )
    return BetaProportion(
        float(proportion * total),
        float((1.0 - proportion) * total),
        "method of moments on the 95% CI",
        tuple(source_ids),
    )


def uncertainty(
    evidence_id: str, evidence: pd.DataFrame | None = None
) -> LogNormalMedian | BetaProportion | None:
    """The sampling distribution a row supports, or None when it has neither CI nor counts."""
    row = get_row(evidence_id, load_evidence() if evidence is None else evidence)
    has_ci = not math.isnan(row["ci_low"])
    if row["statistic"] == "median_months" and has_ci:
        return median_uncertainty(row["value"], row["ci_low"], row["ci_high"], (evidence_id,))
    if row["statistic"] == "proportion":
        if not pd.isna(row["numerator"]):
            return beta_from_counts(int(row["numerator"]), int(row["denominator"]), (evidence_id,))
        if has_ci:
            return beta_from_ci(row["value"], row["ci_low"], row["ci_high"], (evidence_id,))
    return None


@dataclass(frozen=True)
class CalibratedResponse:
    """A response probability (ORR, pCR, progression) and its uncertainty, if the row has one."""

    source_ids: tuple[str, ...]
    probability: float
    uncertainty: BetaProportion | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_ids": list(self.source_ids),
            "probability": self.probability,
            "uncertainty": None if self.uncertainty is None else self.uncertainty.to_dict(),
        }


def calibrate_response(
    evidence_id: str, evidence: pd.DataFrame | None = None
) -> CalibratedResponse:
    """The probability of a reported proportion (the reported value, not the Beta mean)."""
    frame = load_evidence() if evidence is None else evidence
    row = get_row(evidence_id, frame)
    if row["statistic"] != "proportion":
        raise ValueError(f"evidence {evidence_id!r} is a {row['statistic']}, not a proportion")
    return CalibratedResponse((evidence_id,), float(row["value"]), uncertainty(evidence_id, frame))


# --- effect maps: therapy class x HER2 category ----------------------------------


@dataclass(frozen=True)
class EffectEntry:
    """One HER2 category's effect in a map; ``hazard_ratio`` is None when the review gives only a direction."""

    category: int
    hazard_ratio: float | None
    median_months: float | None
    source_ids: tuple[str, ...]
    assumption: str
    direction: str | None = None

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.category]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["category_name"] = self.category_name
        out["source_ids"] = list(self.source_ids)
        return out


@dataclass(frozen=True)
class EffectMap:
    """How one therapy class's effect varies with HER2 IHC category, on one stated scale."""

    name: str
    therapy_class: str
    endpoint: str
    scale: str
    entries: tuple[EffectEntry, ...] = field(default=())

    def __post_init__(self) -> None:
        codes = [e.category for e in self.entries]
        if len(set(codes)) != len(codes):
            raise ValueError(f"effect map {self.name!r} lists a category twice")

    @property
    def categories(self) -> tuple[int, ...]:
        return tuple(e.category for e in self.entries)

    def __getitem__(self, category: int) -> EffectEntry:
        for entry in self.entries:
            if entry.category == category:
                return entry
        have = ", ".join(e.category_name for e in self.entries)
        name = CATEGORIES[category] if 0 <= category < len(CATEGORIES) else repr(category)
        raise KeyError(f"effect map {self.name!r} has no evidence for {name}; it covers {have}")

    def __contains__(self, category: object) -> bool:
        return category in self.categories

    def hazard_ratio(self, category: int) -> float:
        """The entry's hazard ratio; an error if the review gives only a direction."""
        entry = self[category]
        if entry.hazard_ratio is None:
            raise ValueError(
                f"effect map {self.name!r}: {entry.category_name} has a direction only "
                f"({entry.direction}); {entry.assumption}"
            )
        return entry.hazard_ratio

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "therapy_class": self.therapy_class,
            "endpoint": self.endpoint,
            "scale": self.scale,
            "entries": [e.to_dict() for e in self.entries],
        }

    def to_frame(self) -> pd.DataFrame:
        rows = [{"map": self.name, "scale": self.scale, **e.to_dict()} for e in self.entries]
        frame = pd.DataFrame(rows)
        frame["source_ids"] = frame["source_ids"].map(", ".join)
        return frame


def _value(ev: pd.DataFrame, evidence_id: str) -> float:
    return float(get_row(evidence_id, ev)["value"])


def _t_dxd_map(ev: pd.DataFrame) -> EffectMap:
    pos, low, null = (f"DAISY.TDXd.PFS.median.{t}" for t in ("HER2pos", "HER2low", "IHC0"))
    m_ref = _value(ev, pos)
    exp_note = "exponential PFS in each DAISY cohort, so HR vs IHC 3+ = median(IHC 3+ or ISH+) / median(cohort)"
    low_hr = hazard_ratio_from_medians(_value(ev, low), m_ref).hazard_ratio
    low_entry = {"hazard_ratio": low_hr, "median_months": _value(ev, low)}
    entries = [
        EffectEntry(
            IHC3,
            1.0,
            m_ref,
            (pos,),
            "reference: DAISY pools IHC 3+ with ISH+ in one cohort (median 9.7 months)",
        ),
        EffectEntry(
            IHC2_ISH_POS,
            1.0,
            m_ref,
            (pos, "DB01.TDXd.ORR.IHC3", "DB01.TDXd.ORR.IHC2ISHpos"),
            "same as IHC 3+: DAISY reports one IHC 3+ or ISH+ cohort and DB-01 found no significant ORR difference",
        ),
        *(
            EffectEntry(
                code,
                source_ids=(low,),
                assumption=exp_note + "; both HER2-low categories share the cohort median",
                **low_entry,
            )
            for code in GROUPS["HER2-low"]
        ),
        EffectEntry(
            ULTRALOW,
            source_ids=(low, "DB06.TDXd.PFS.median.HER2low", "DB06.TDXd.PFS.median.HER2ultralow"),
            assumption="DAISY has no ultralow cohort; DB-06 reports the same median for HER2-low and HER2-ultralow, "
            "so ultralow takes the HER2-low value",
            **low_entry,
        ),
        EffectEntry(
            IHC0,
            hazard_ratio_from_medians(_value(ev, null), m_ref).hazard_ratio,
            _value(ev, null),
            (null,),
            exp_note + "; DAISY's IHC 0 cohort as the review labels it",
        ),
    ]
    return EffectMap(
        "T-DXd",
        "ADC",
        "PFS",
        "hazard ratio vs IHC 3+ on T-DXd",
        tuple(sorted(entries, key=lambda e: e.category)),
    )


def _tki_map(ev: pd.DataFrame) -> EffectMap:
    ref, pos2 = "NALA.pooled.PFS.median.IHC3", "NALA.pooled.PFS.median.IHC2ISHpos"
    hr = hazard_ratio_from_medians(_value(ev, pos2), _value(ev, ref)).hazard_ratio
    return EffectMap(
        "TKI",
        "TKI",
        "PFS",
        "hazard ratio vs IHC 3+ on the TKI",
        (
            EffectEntry(
                IHC2_ISH_POS,
                hr,
                _value(ev, pos2),
                (
                    pos2,
                    ref,
                    "PHILA.pyrotinib.progression.IHC1or2ISHpos",
                    "PHILA.pyrotinib.progression.IHC3",
                ),
                "exponential PFS: HR = 5.59 / 4.17 from NALA's neratinib and lapatinib arms pooled (no per-drug "
                "split reported), applied to every TKI; PHILA (pyrotinib) points the same way",
            ),
            EffectEntry(IHC3, 1.0, _value(ev, ref), (ref,), "reference category"),
        ),
    )


def _t_dm1_map(ev: pd.DataFrame) -> EffectMap:
    r3, r2 = (
        _value(ev, "KATHERINE.TDM1.iDFS.3y.IHC3"),
        _value(ev, "KATHERINE.TDM1.iDFS.3y.IHC2ISHpos"),
    )
    data_hr = math.log(r2) / math.log(r3)
    sources = (
        "KATHERINE.TDM1.iDFS.IHC3_vs_IHC2ISHpos",
        "KATHERINE.TDM1.iDFS.3y.IHC3",
        "KATHERINE.TDM1.iDFS.3y.IHC2ISHpos",
        "ATEMPT.TDM1.iDFS.5y.IHC3",
        "ATEMPT.TDM1.iDFS.5y.IHCle2",
    )
    low_note = (
        "direction only: the review calls T-DM1's efficacy 'limited' in HER2-low; it gives no size, so the "
        "map holds no number and a scenario must state one"
    )
    return EffectMap(
        "T-DM1",
        "ADC",
        "iDFS",
        "hazard ratio vs IHC 3+ on T-DM1",
        (
            EffectEntry(IHC1, None, None, ("REVIEW.TDM1.HER2low",), low_note, "limited"),
            EffectEntry(IHC2_ISH_NEG, None, None, ("REVIEW.TDM1.HER2low",), low_note, "limited"),
            EffectEntry(
                IHC2_ISH_POS,
                1.0,
                None,
                sources,
                "the review reads KATHERINE (85% vs 88% at 3 years) and ATEMPT (96.9% vs 96.7% at 5 years) as "
                f"similar benefit, so HR 1; exponential fits to KATHERINE alone would give {data_hr:.2f}",
                "similar",
            ),
            EffectEntry(IHC3, 1.0, None, sources[1:2], "reference category"),
        ),
    )


def _trastuzumab_map(ev: pd.DataFrame) -> EffectMap:
    del ev  # direction-only evidence: nothing numeric to read
    return EffectMap(
        "trastuzumab",
        "mAb",
        "DFS/iDFS",
        "hazard ratio of adding trastuzumab vs not (within the category)",
        (
            *(
                EffectEntry(
                    code,
                    1.0,
                    None,
                    ("B47.trastuzumab.iDFS.HER2low",),
                    "NSABP B-47's 'no iDFS benefit' taken as HR exactly 1",
                    "no benefit",
                )
                for code in GROUPS["HER2-low"]
            ),
            EffectEntry(
                IHC2_ISH_POS,
                1.0,
                None,
                ("N9831.trastuzumab.DFS.IHC0to2ISHpos",),
                "N9831's 'no benefit' for IHC 0-2+/FISH+ taken as HR 1 and placed in IHC 2+/ISH+, the only "
                "ISH-positive category below 3+; ER status is ignored (Atallah saw a BCSS benefit in ER-negative "
                "IHC 2+ tumours only)",
                "no benefit",
            ),
            EffectEntry(
                IHC3,
                None,
                None,
                (
                    "N9831.trastuzumab.DFS.IHC3",
                    "CLEOPATRA.long_term_response.IHC3",
                    "NEOADJ.mAb.pCR.IHC3",
                    "ATALLAH.antiHER2.BCSS.IHC3",
                ),
                "direction only: benefit (HR < 1); the review gives no size, so a scenario must state one",
                "benefit",
            ),
        ),
    )


@lru_cache(maxsize=1)
def _default_effect_maps() -> dict[str, EffectMap]:
    return effect_maps(load_evidence())


def effect_maps(evidence: pd.DataFrame | None = None) -> dict[str, EffectMap]:
    """All effect maps, built from the evidence table (default: the review's)."""
    if evidence is None:
        return dict(_default_effect_maps())
    builders = (_t_dxd_map, _t_dm1_map, _tki_map, _trastuzumab_map)
    return {m.name: m for m in (build(evidence) for build in builders)}


def effect_map(name: str) -> EffectMap:
    """One effect map by name: "T-DXd", "T-DM1", "TKI" or "trastuzumab" (case-insensitive)."""
    maps = _default_effect_maps()
    for key, value in maps.items():
        if key.lower() == str(name).strip().lower():
            return value
    raise KeyError(f"unknown effect map {name!r}; available: {', '.join(maps)}")


def __getattr__(name: str) -> Any:
    # EFFECT_MAPS is built on first use so importing this module reads no file.
    if name == "EFFECT_MAPS":
        return _default_effect_maps()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- calibration report ----------------------------------------------------------

CALIBRATABLE = ("median_months", "rate_at_months", "proportion")
TOLERANCE_MC_SE = 4.0
DEFAULT_SEED = 20250405


@dataclass(frozen=True)
class CalibrationCheck:
    """One reported figure against its model and a simulated cohort drawn from that model."""

    id: str
    statistic: str
    time_months: float | None
    reported: float
    model: str
    parameters: dict[str, float]
    source_ids: tuple[str, ...]
    implied: float
    simulated: float
    mc_se: float
    tolerance: float
    n_patients: int
    seed: int
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source_ids"] = list(self.source_ids)
        return out


@dataclass(frozen=True)
class CalibrationReport:
    """All checks (iterable like a list of CalibrationCheck) with the settings that made them."""

    checks: tuple[CalibrationCheck, ...]
    n_patients: int
    seed: int

    def __iter__(self) -> Iterator[CalibrationCheck]:
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    def __getitem__(self, index: int) -> CalibrationCheck:
        return self.checks[index]

    @property
    def all_ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, evidence_id: str) -> CalibrationCheck:
        for c in self.checks:
            if c.id == evidence_id:
                return c
        raise KeyError(f"no calibration check for {evidence_id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_patients": self.n_patients,
            "seed": self.seed,
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame([c.to_dict() for c in self.checks])
        if len(frame):
            frame["source_ids"] = frame["source_ids"].map(", ".join)
        return frame


def figure_seed(seed: int, evidence_id: str) -> int:
    """A per-figure seed from the report seed and the id, so adding rows never moves other figures."""
    state = np.random.SeedSequence([int(seed), zlib.crc32(evidence_id.encode())]).generate_state(
        1, np.uint64
    )
    return int(state[0] >> np.uint64(1))


def _density(model: SurvivalModel, t: float) -> float:
    h = 1e-6 * max(t, 1.0)
    return float((model.survival(t - h) - model.survival(t + h)) / (2.0 * h))


def check_figure(
    evidence_id: str,
    *,
    n_patients: int = 100_000,
    seed: int = DEFAULT_SEED,
    evidence: pd.DataFrame | None = None,
) -> CalibrationCheck:
    """Calibrate one figure, simulate ``n_patients`` from it and compare (no censoring: plain empirical estimates)."""
    # Imported here: loading the numba kernels costs time that model fitting alone never needs.
    from simtrial.engine.sampling import sample_event_times

    frame = load_evidence() if evidence is None else evidence
    row = get_row(evidence_id, frame)
    statistic = row["statistic"]
    reported = float(row["value"])
    fig_seed = figure_seed(seed, evidence_id)
    time = None
    if statistic == "proportion":
        p = calibrate_response(evidence_id, frame).probability
        implied, name, params, sources = p, "Bernoulli", {"probability": p}, (evidence_id,)
        simulated = float(np.mean(np.random.default_rng(fig_seed).random(n_patients) < p))
        mc_se = math.sqrt(p * (1.0 - p) / n_patients)
    elif statistic in ("median_months", "rate_at_months"):
        fitted = calibrate(evidence_id, evidence=frame)
        model, sources = fitted.model, fitted.source_ids
        name, params = fitted.model_name, fitted.parameters
        times = sample_event_times(*model.to_kernel(), n_patients, fig_seed)
        if statistic == "median_months":
            implied = model.median()
            simulated = float(np.median(times))
            # Asymptotic SE of a sample median: sqrt(p(1-p)/n) / f(median).
            mc_se = math.sqrt(0.25 / n_patients) / _density(model, implied)
        else:
            time = float(row["time_months"])
            implied = float(model.survival(time))
            simulated = float(np.mean(times > time))
            mc_se = math.sqrt(implied * (1.0 - implied) / n_patients)
    else:
        raise ValueError(
            f"evidence {evidence_id!r} is a {statistic}; only {', '.join(CALIBRATABLE)} are calibrated"
        )
    tolerance = TOLERANCE_MC_SE * mc_se
    exact = abs(implied - reported) <= 1e-9 * max(1.0, abs(reported))
    return CalibrationCheck(
        evidence_id,
        statistic,
        time,
        reported,
        name,
        params,
        tuple(sources),
        implied,
        simulated,
        mc_se,
        tolerance,
        int(n_patients),
        fig_seed,
        bool(exact and abs(simulated - reported) <= tolerance),
    )


def calibration_report(
    n_patients: int = 100_000, seed: int = DEFAULT_SEED, evidence: pd.DataFrame | None = None
) -> CalibrationReport:
    """Check every calibratable figure (medians, landmark rates, proportions) of the evidence table."""
    if int(n_patients) < 1:
        raise ValueError(f"n_patients must be >= 1, got {n_patients!r}")
    frame = load_evidence() if evidence is None else evidence
    ids = frame.index[frame["statistic"].isin(CALIBRATABLE)]
    checks = tuple(
        check_figure(str(i), n_patients=int(n_patients), seed=seed, evidence=frame) for i in ids
    )
    return CalibrationReport(checks, int(n_patients), int(seed))
