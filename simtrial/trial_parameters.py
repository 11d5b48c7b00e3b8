"""Per-trial parameters: each simulated trial runs with its own drawn model parameters.

Assurance draws the unknowns (hazard ratios, the control arm's median,
response probabilities) from a prior once per simulated trial; the engine then
runs trial ``i`` with row ``i`` of these arrays in place of the scenario's
values.  Rows are indexed by the trial's index in the run (0 .. n_sims - 1),
so a block of trials ``[a, b)`` reads rows ``a .. b - 1`` wherever it runs.

For time-to-event designs the rows become kernel parameter variants
(``simtrial.engine.records.VariantArgs``) block by block, vectorised, inside
the engine task (``simtrial.simulate.TrialTask``): memory stays O(block), and
no Python loop runs per trial.  Binary designs read ``response_probability``.

Conventions (the trial designer's, see ``simtrial.engine.models``): a hazard
ratio ``r`` in true category ``c`` makes the experimental arm's model there the
control's with its hazard multiplied by ``r`` (``S_E = S_C ** r``), whatever
model the scenario gave the experimental arm in ``c``; a control hazard
multiplier ``m`` multiplies the control's hazard in ``c`` (``S_C ** m``), and
an experimental model the scenario defined relative to the control
(``hazard_ratio:``) moves with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simtrial.engine.models import MODEL_PIECEWISE_EXPONENTIAL
from simtrial.engine.records import VariantArgs


def _rows(name: str, value, shape_tail: tuple[int, ...]) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.ascontiguousarray(value, dtype=np.float64)
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        raise ValueError(f"TrialParameters.{name} must have shape (n_sims, {', '.join(map(str, shape_tail))}), got {arr.shape}")
    return arr


@dataclass(frozen=True)
class TrialParameters:
    """Drawn parameters, one row per simulated trial of a run.

    ``hazard_ratio[i, c]``: experimental vs control hazard ratio in true
    category ``c`` for trial ``i`` (NaN: the scenario's experimental model).
    ``control_hazard_multiplier[i, c]``: the control's hazard in ``c`` is
    multiplied by it (NaN or 1: unchanged).  ``response_probability[i, c, arm]``
    (arm 0 control, 1 experimental): P(response) of a patient of true category
    ``c`` (NaN: the scenario's).  ``relative_to_control[c]``: the scenario's
    experimental model in ``c`` is the control's times a hazard ratio, so it
    follows a control multiplier.  Any of the three arrays may be None.
    """

    n_sims: int
    n_categories: int
    hazard_ratio: np.ndarray | None = field(default=None, repr=False)
    control_hazard_multiplier: np.ndarray | None = field(default=None, repr=False)
    response_probability: np.ndarray | None = field(default=None, repr=False)
    relative_to_control: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        c = int(self.n_categories)
        object.__setattr__(self, "hazard_ratio", _rows("hazard_ratio", self.hazard_ratio, (c,)))
        object.__setattr__(
            self, "control_hazard_multiplier", _rows("control_hazard_multiplier", self.control_hazard_multiplier, (c,))
        )
        object.__setattr__(self, "response_probability", _rows("response_probability", self.response_probability, (c, 2)))
        for name in ("hazard_ratio", "control_hazard_multiplier", "response_probability"):
            arr = getattr(self, name)
            if arr is None:
                continue
            if arr.shape[0] != self.n_sims:
                raise ValueError(f"TrialParameters.{name} has {arr.shape[0]} rows for {self.n_sims} trials")
            ok = arr[~np.isnan(arr)]
            if name == "response_probability":
                if ((ok < 0) | (ok > 1)).any():
                    raise ValueError("TrialParameters.response_probability must lie in [0, 1]")
            elif not (np.isfinite(ok) & (ok > 0)).all():
                raise ValueError(f"TrialParameters.{name} must be finite and > 0 (NaN: unchanged)")
        rel = tuple(bool(x) for x in self.relative_to_control) or (False,) * c
        if len(rel) != c:
            raise ValueError(f"TrialParameters.relative_to_control needs {c} entries, got {len(rel)}")
        object.__setattr__(self, "relative_to_control", rel)

    @property
    def changes_event_times(self) -> bool:
        return self.hazard_ratio is not None or self.control_hazard_multiplier is not None

    def rows(self, start: int, stop: int) -> TrialParameters:
        """The parameters of trials ``start .. stop - 1`` (rows re-indexed from 0)."""
        if not 0 <= start <= stop <= self.n_sims:
            raise ValueError(f"trials {start}..{stop - 1} are outside the drawn parameters (0..{self.n_sims - 1})")

        def cut(a):
            return None if a is None else a[start:stop]

        return TrialParameters(
            stop - start, self.n_categories, cut(self.hazard_ratio), cut(self.control_hazard_multiplier),
            cut(self.response_probability), self.relative_to_control,
        )

    def variant_rows(self, base: VariantArgs, start: int, stop: int) -> VariantArgs:
        """Kernel parameter variants for trials ``start .. stop - 1``: row k is trial ``start + k``.

        ``base`` is the run's one-row variant table (the scenario's parameters).
        """
        if base.single_pair.shape[0] != 1:
            raise ValueError("per-trial parameters apply to a run of one variant (the scenario)")
        n = stop - start
        if not 0 <= start <= stop <= self.n_sims:
            raise ValueError(f"trials {start}..{stop - 1} are outside the drawn parameters (0..{self.n_sims - 1})")
        code = np.repeat(base.model_code, n, axis=0)
        params = np.repeat(base.model_params, n, axis=0)  # [n, C, 2, W]
        c = code.shape[1]
        if c != self.n_categories:
            raise ValueError(f"the run has {c} categories, the drawn parameters {self.n_categories}")
        if self.control_hazard_multiplier is not None:
            m = self.control_hazard_multiplier[start:stop]
            m = np.where(np.isnan(m), 1.0, m)
            params[:, :, 0, 1] *= m
            follows = np.array(self.relative_to_control, dtype=bool)
            params[:, follows, 1, 1] *= m[:, follows]
        if self.hazard_ratio is not None:
            hr = self.hazard_ratio[start:stop]
            drawn = ~np.isnan(hr)  # [n, C]
            code[:, :, 1] = np.where(drawn, code[:, :, 0], code[:, :, 1])
            params[:, :, 1, :] = np.where(drawn[:, :, None], params[:, :, 0, :], params[:, :, 1, :])
            params[:, :, 1, 1] = np.where(drawn, params[:, :, 0, 1] * np.where(drawn, hr, 1.0), params[:, :, 1, 1])
        dropout = np.repeat(base.dropout_hazard, n, axis=0)
        inv_total, p_event = _competing(code, params, dropout)
        return VariantArgs(
            pair_cum=np.repeat(base.pair_cum, n, axis=0),
            single_pair=np.repeat(base.single_pair, n, axis=0),
            accrual_breaks=np.repeat(base.accrual_breaks, n, axis=0),
            accrual_cum=np.repeat(base.accrual_cum, n, axis=0),
            accrual_kind=np.repeat(base.accrual_kind, n, axis=0),
            accrual_shape=np.repeat(base.accrual_shape, n, axis=0),
            model_code=np.ascontiguousarray(code),
            model_params=np.ascontiguousarray(params),
            competing_inv_total=inv_total,
            competing_p_event=p_event,
            dropout_hazard=dropout,
        )


def _competing(code: np.ndarray, params: np.ndarray, dropout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``simtrial.engine.models.competing_exponentials`` over a leading trial axis, vectorised."""
    if params.shape[-1] < 5:  # no row is wide enough to be a one-piece exponential
        zeros = np.zeros(code.shape, dtype=np.float64)
        return zeros, zeros.copy()
    plain = (code == MODEL_PIECEWISE_EXPONENTIAL) & (params[..., 0] == 0.0) & (params[..., 2] == 1.0)
    rate = np.where(plain, params[..., 4] * params[..., 1], 0.0)
    total = rate + dropout[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_total = np.where(plain, 1.0 / total, 0.0)
        p_event = np.where(plain, rate / total, 0.0)
    return np.ascontiguousarray(inv_total), np.ascontiguousarray(p_event)
