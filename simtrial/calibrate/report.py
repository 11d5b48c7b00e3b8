"""Calibration report: every calibratable figure reproduced by its model and by a simulated cohort."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from simtrial.calibrate.models import SurvivalModel, calibrate
from simtrial.calibrate.uncertainty import calibrate_response
from simtrial.errors import InvalidInput
from simtrial.evidence import get_row, load_evidence

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
        raise InvalidInput(
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
        raise InvalidInput(f"n_patients must be >= 1, got {n_patients!r}")
    frame = load_evidence() if evidence is None else evidence
    # a prevalence is a share of patients, not a figure a model of an arm reproduces
    ids = frame.index[frame["statistic"].isin(CALIBRATABLE) & (frame["endpoint"] != "prevalence")]
    checks = tuple(
        check_figure(str(i), n_patients=int(n_patients), seed=seed, evidence=frame) for i in ids
    )
    return CalibrationReport(checks, int(n_patients), int(seed))

__all__ = [
    "CALIBRATABLE",
    "TOLERANCE_MC_SE",
    "DEFAULT_SEED",
    "CalibrationCheck",
    "CalibrationReport",
    "figure_seed",
    "check_figure",
    "calibration_report",
]
