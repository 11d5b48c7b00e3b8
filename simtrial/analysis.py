"""``analyze``: the engine's two-arm statistics on your own data, as a frozen result object.

The same code a simulated trial runs after its cut (sort, one ordered pass,
event tables, statistics), so a user can check a design's statistics on a real
or hand-made data set.  Sign convention: Z and log HR are experimental versus
control, negative favouring the experimental arm; ``z_efficacy`` is −Z.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from simtrial.errors import InvalidInput

_Z95 = 1.959963984540054


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


@dataclass(frozen=True)
class TwoArmAnalysis:
    """Log-rank (plain, stratified, Fleming-Harrington), Cox and Kaplan-Meier of one data set.

    ``median_*_months`` is ``inf`` when the median is not reached; ``landmarks``
    maps months to ``(S_control, S_experimental)``; ``flags`` names the
    statistics that are undefined (NaN) for this data set.
    """

    n_control: int
    n_experimental: int
    events_control: int
    events_experimental: int
    logrank_z: float
    logrank_o_minus_e: float
    logrank_information: float
    stratified_logrank_z: float
    fh_z: float
    fh_rho: float
    fh_gamma: float
    hazard_ratio: float
    log_hr_se: float
    hazard_ratio_ci: tuple[float, float]
    stratified_hazard_ratio: float
    stratified_hazard_ratio_ci: tuple[float, float]
    median_control_months: float
    median_experimental_months: float
    landmarks: dict[float, tuple[float, float]] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    #: RMST / milestone / MaxCombo / modestly weighted log-rank, when asked for (None otherwise)
    nph: NonProportionalHazardsAnalysis | None = None

    @property
    def z_efficacy(self) -> float:
        """−Z of the log-rank test: positive when the experimental arm does better."""
        return -self.logrank_z

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["landmarks"] = {f"{k:g}": list(v) for k, v in self.landmarks.items()}
        out["hazard_ratio_ci"] = list(self.hazard_ratio_ci)
        out["stratified_hazard_ratio_ci"] = list(self.stratified_hazard_ratio_ci)
        out["flags"] = list(self.flags)
        if self.nph is None:
            del out["nph"]
        else:
            out["nph"] = self.nph.to_dict()
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out

    def to_frame(self):
        """Long format: one row per statistic."""
        import pandas as pd

        rows = [(k, v) for k, v in self.to_dict().items() if not isinstance(v, list | dict)]
        rows += [(f"hazard_ratio_ci_{side}", v) for side, v in zip(("lower", "upper"), self.hazard_ratio_ci, strict=True)]
        for months, (s0, s1) in self.landmarks.items():
            rows += [(f"survival_control_at_{months:g}_months", s0), (f"survival_experimental_at_{months:g}_months", s1)]
        return pd.DataFrame(rows, columns=["statistic", "value"])


@dataclass(frozen=True)
class NonProportionalHazardsAnalysis:
    """RMST, milestone, MaxCombo and modestly weighted log-rank of one data set (issue 15).

    Sign convention as the log-rank: every ``*_z`` is negative when the experimental arm
    does better.  ``rmst_*``: restricted mean survival to ``rmst_tau_months`` per arm, the
    difference experimental - control, its SE (R ``survfit``'s Greenwood-type ``se(rmean)``
    of each arm, combined) and, with strata, the inverse-variance weighted stratified
    difference.  ``milestone_*``: Kaplan-Meier at ``milestone_months``, Z from Greenwood's
    variance and the complementary log-log Z.  ``maxcombo_*``: the FH components (rho,
    gamma), their Z's and correlation (the same-data covariance of the weighted scores),
    the smallest Z and the one-sided p-value for benefit from the multivariate normal.
    Fields of statistics not asked for are NaN / empty.
    """

    rmst_tau_months: float | None = None
    rmst_control_months: float = math.nan
    rmst_experimental_months: float = math.nan
    rmst_difference_months: float = math.nan
    rmst_difference_se: float = math.nan
    rmst_z: float = math.nan
    stratified_rmst_difference_months: float = math.nan
    stratified_rmst_difference_se: float = math.nan
    stratified_rmst_z: float = math.nan
    milestone_months: float | None = None
    milestone_survival_control: float = math.nan
    milestone_survival_experimental: float = math.nan
    milestone_z: float = math.nan
    milestone_cloglog_z: float = math.nan
    maxcombo_components: tuple[tuple[float, float], ...] = ()
    maxcombo_component_z: tuple[float, ...] = ()
    maxcombo_correlation: tuple[tuple[float, ...], ...] = ()
    maxcombo_z: float = math.nan
    maxcombo_p: float = math.nan
    mwlr_t_star_months: float | None = None
    modestly_weighted_z: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = [list(v) if isinstance(v, tuple) else v for v in value]
            elif isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out


def _ci(log_hr: float, se: float) -> tuple[float, float]:
    if not (math.isfinite(log_hr) and math.isfinite(se)):
        return (math.nan, math.nan)
    return (math.exp(log_hr - _Z95 * se), math.exp(log_hr + _Z95 * se))


def analyze(
    time_months,
    event,
    arm,
    stratum=None,
    *,
    fh_rho: float = 0.0,
    fh_gamma: float = 0.0,
    landmark_months=(),
    rmst_tau_months: float | None = None,
    milestone_months: float | None = None,
    maxcombo=None,
    mwlr_t_star_months: float | None = None,
) -> TwoArmAnalysis:
    """Two-arm survival statistics of one data set (``arm``: 0 control, 1 experimental; ``event``: 1/0).

    ``stratum``: integers 0..k-1 for the stratified log-rank and Cox; FH(rho,
    gamma) weights S(t-)^rho (1 - S(t-))^gamma.  Bad input raises
    ``InvalidInput`` naming the argument.

    Non-proportional hazards (``result.nph``): ``rmst_tau_months`` (RMST difference),
    ``milestone_months`` (milestone survival), ``maxcombo`` (``True`` for FH(0,0), FH(0,1),
    FH(1,0), or a sequence of (rho, gamma), 2 to 4) and ``mwlr_t_star_months`` (Magirr-Burman
    modestly weighted log-rank).
    """
    from simtrial.engine.analyze import analyze_two_arm
    from simtrial.engine.layout import FLAG_NAMES, NPH_FIELDS, NPH_FLAG_NAMES

    try:
        if maxcombo is True:
            from simtrial.spec.engine import DEFAULT_MAXCOMBO

            maxcombo = DEFAULT_MAXCOMBO
        elif maxcombo is False:
            maxcombo = None
        raw = analyze_two_arm(time_months, event, arm, stratum, fh_rho=fh_rho, fh_gamma=fh_gamma,
                              landmark_months=landmark_months, rmst_tau_months=rmst_tau_months,
                              milestone_months=milestone_months, maxcombo=maxcombo,
                              mwlr_t_star_months=mwlr_t_star_months)
    except InvalidInput:
        raise
    except ValueError as exc:  # the engine wrapper's argument checks
        raise InvalidInput(str(exc)) from None
    lm = np.sort(np.asarray(landmark_months, dtype=float).ravel())
    landmarks = {
        float(t): (raw[f"survival_control_at_{t:g}_months"], raw[f"survival_experimental_at_{t:g}_months"])
        for t in lm
    }
    flags = tuple(name for bit, name in {**FLAG_NAMES, **NPH_FLAG_NAMES}.items() if raw["flags"] & bit)
    nph = None
    if "rmst_z" in raw:
        nph = NonProportionalHazardsAnalysis(
            rmst_tau_months=None if rmst_tau_months is None else float(rmst_tau_months),
            milestone_months=None if milestone_months is None else float(milestone_months),
            mwlr_t_star_months=None if mwlr_t_star_months is None else float(mwlr_t_star_months),
            maxcombo_components=tuple((float(r), float(g)) for r, g in maxcombo) if maxcombo else (),
            maxcombo_component_z=tuple(raw.get("maxcombo_component_z", ())),
            maxcombo_correlation=tuple(tuple(row) for row in raw.get("maxcombo_correlation", ())),
            **{name: raw[name] for name in NPH_FIELDS},
        )
    return TwoArmAnalysis(
        n_control=int(raw["patients_control"]),
        n_experimental=int(raw["patients_experimental"]),
        events_control=int(raw["events_control"]),
        events_experimental=int(raw["events_experimental"]),
        logrank_z=raw["logrank_z"],
        logrank_o_minus_e=raw["logrank_o_minus_e"],
        logrank_information=raw["logrank_information"],
        stratified_logrank_z=raw["stratified_logrank_z"],
        fh_z=raw["fh_z"],
        fh_rho=float(fh_rho),
        fh_gamma=float(fh_gamma),
        hazard_ratio=math.exp(raw["log_hr"]) if math.isfinite(raw["log_hr"]) else math.nan,
        log_hr_se=raw["log_hr_se"],
        hazard_ratio_ci=_ci(raw["log_hr"], raw["log_hr_se"]),
        stratified_hazard_ratio=math.exp(raw["stratified_log_hr"]) if math.isfinite(raw["stratified_log_hr"]) else math.nan,
        stratified_hazard_ratio_ci=_ci(raw["stratified_log_hr"], raw["stratified_log_hr_se"]),
        median_control_months=raw["median_control_months"],
        median_experimental_months=raw["median_experimental_months"],
        landmarks=landmarks,
        flags=flags,
        nph=nph,
    )


__all__ = ["NonProportionalHazardsAnalysis", "TwoArmAnalysis", "analyze"]
