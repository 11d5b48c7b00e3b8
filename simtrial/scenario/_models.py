"""Survival-model and response specs of a scenario file, and writing them back out.

A spec is a small mapping (``{median_months: 9.7}``, ``{weibull: {...}}``,
``{from_evidence: DB03.TDXd.PFS.median}`` ...).  Each resolves to a model plus
the evidence ids it rests on and a one-line note for readers; ``model_spec``
writes the model back as the explicit spec that rebuilds it bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from simtrial.calibrate import calibrate, calibrate_response
from simtrial.evidence import UnknownEvidenceId, get_row
from simtrial.scenario.errors import Node
from simtrial.survival import (
    LOG2,
    CureMixture,
    Exponential,
    PiecewiseExponential,
    TimeVaryingHazardRatio,
    Weibull,
    time_varying_hazard_ratio,
)

SurvivalModel = PiecewiseExponential | Weibull | CureMixture | TimeVaryingHazardRatio

# Field -> what it means; the table drives unknown-field suggestions and the README.
SURVIVAL_FIELDS: dict[str, str] = {
    "median_months": "exponential: median time to event (months); with cure_fraction, the median of the uncured",
    "hazard_per_month": "exponential: constant hazard (events per patient-month)",
    "weibull": "Weibull: {shape, scale_months} or {shape, median_months}",
    "piecewise": "piecewise exponential: {start_months: [0, ...], hazard_per_month: [...]}",
    "cure_fraction": "cure mixture: fraction never having the event, in [0, 1)",
    "uncured": "cure mixture: the model of the uncured (exponential, Weibull or piecewise)",
    "hazard_ratio": "experimental arm: control's model for the same category x this HR; "
    "or time-varying {start_months: [0, t1, ...], values: [r0, r1, ...]} (r_j x the control's hazard "
    "from t_j on); inside a cure mixture: PH applied to the whole mixture",
    "relative_to": "with a time-varying hazard_ratio: the model it multiplies (written by the resolved "
    "scenario; default the control arm's model)",
    "from_evidence": "an evidence id: the model calibrated from that reported figure",
    "pair": "with from_evidence: use a median and landmark rate of the same arm together (default true)",
    "source": "evidence ids the model rests on (informational, checked to exist)",
    "note": "free text for readers",
}
RESPONSE_FIELDS: dict[str, str] = {
    "probability": "P(response), in [0, 1]",
    "from_evidence": "an evidence id of a reported proportion (ORR, pCR)",
    "risk_difference": "experimental arm: control's probability + this difference",
    "source": "evidence ids the probability rests on (informational, checked to exist)",
    "note": "free text for readers",
}
_MODEL_KINDS = "median_months | hazard_per_month | weibull | piecewise | cure_fraction | from_evidence | hazard_ratio"
_EVIDENCE_HINT = "an id of simtrial/evidence/her2_review.csv (list them with `simtrial evidence`)"


@dataclass(frozen=True)
class Resolved:
    """A resolved model or probability with its evidence ids and a note for readers."""

    value: Any
    sources: tuple[str, ...] = ()
    note: str = ""
    relative_to_control: bool = False  # built as the control's model x a hazard ratio


def describe(model: SurvivalModel) -> str:
    median = model.median()
    m = "median not reached" if math.isinf(median) else f"median {median:.4g} months"
    if isinstance(model, TimeVaryingHazardRatio):
        return f"time-varying hazard ratio {describe_hazard_ratio(model)} x ({describe(model.control)}), {m}"
    if isinstance(model, CureMixture):
        return f"cure mixture, cure fraction {model.population_cure_fraction:.4g}, {m}"
    if isinstance(model, Weibull):
        return f"Weibull shape {model.shape:.4g}, {m}"
    if len(model.hazard_per_month) == 1:
        return f"exponential, {m}"
    return f"piecewise exponential ({len(model.hazard_per_month)} pieces), {m}"


def describe_hazard_ratio(model: TimeVaryingHazardRatio) -> str:
    """'0.9 from 0, 0.6 from 6 months' and the implied survival at a few times, for readers."""
    pieces = ", ".join(f"{v:g} from {t:g}" for t, v in zip(model.start_months, model.values, strict=True))
    return f"{pieces} months"


def implied_curve(model: TimeVaryingHazardRatio, months=(6.0, 12.0, 24.0, 36.0, 60.0)) -> str:
    """The survival the pieces imply beside the control's, at ``months``."""
    parts = [f"S({t:g}) {model.survival(t):.3f} vs control {model.control.survival(t):.3f}" for t in months]
    return "implied: " + "; ".join(parts)


def evidence_row(node: Node) -> str:
    """A known evidence id (the node's text), or a ScenarioError listing close ids."""
    evidence_id = node.text()
    try:
        get_row(evidence_id)
    except UnknownEvidenceId as err:
        raise node.error(str(err).split(". There are")[0], allowed=_EVIDENCE_HINT) from None
    return evidence_id


def _sources_and_note(node: Node) -> tuple[tuple[str, ...] | None, str | None]:
    sources = None
    if (src := node.get("source")) is not None:
        sources = tuple(evidence_row(item) for item in src.elements(allow_scalar=True))
    note = node.get("note")
    return sources, (note.text() if note is not None else None)


def _wrap(node: Node, build: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a model constructor; its ValueError becomes a ScenarioError at ``node``."""
    try:
        return build(*args, **kwargs)
    except ValueError as err:
        raise node.error(str(err), allowed="see scenarios/README.md, survival models") from None


def _base_model(node: Node, allow_cure: bool) -> SurvivalModel:
    """Exponential, Weibull or piecewise (and, when allowed, a cure mixture) written explicitly."""
    node.mapping(SURVIVAL_FIELDS, "a survival model mapping")
    if allow_cure and node.has("cure_fraction"):
        node.mapping(("cure_fraction", "median_months", "hazard_per_month", "uncured", "hazard_ratio",
                      "source", "note"))
        cure = node.child("cure_fraction").number(low=0.0, high=1.0, high_open=True)
        shapes = [k for k in ("median_months", "hazard_per_month", "uncured") if node.has(k)]
        if len(shapes) != 1:
            raise node.error("a cure mixture needs exactly one of median_months, hazard_per_month or uncured",
                             allowed="{cure_fraction, median_months} | {cure_fraction, uncured: <model>}")
        uncured = node.child("uncured")
        inner = _base_model(uncured, allow_cure=False) if shapes == ["uncured"] else _exponential(node)
        hr = node.child("hazard_ratio").number(low=0.0, low_open=True) if node.get("hazard_ratio") else 1.0
        return _wrap(node, CureMixture, cure, inner, hr)
    if node.has("weibull"):
        node.mapping(("weibull", "source", "note"))
        w = node.child("weibull").mapping(("shape", "scale_months", "median_months"), "a mapping {shape, ...}")
        shape = w.require("shape").number(low=0.0, low_open=True)
        if w.has("scale_months") == w.has("median_months"):
            raise w.error("give exactly one of scale_months or median_months",
                          allowed="{shape, scale_months} | {shape, median_months}")
        if w.has("scale_months"):
            scale = w.child("scale_months").number(low=0.0, low_open=True)
        else:
            scale = w.child("median_months").number(low=0.0, low_open=True) / LOG2 ** (1.0 / shape)
        return _wrap(w, Weibull, shape, scale)
    if node.has("piecewise"):
        node.mapping(("piecewise", "source", "note"))
        p = node.child("piecewise").mapping(("start_months", "hazard_per_month"), "a mapping")
        starts = p.require("start_months").numbers(low=0.0)
        rates = p.require("hazard_per_month").numbers(low=0.0)
        return _wrap(p, PiecewiseExponential, starts, rates)
    if node.has("median_months") or node.has("hazard_per_month"):
        node.mapping(("median_months", "hazard_per_month", "source", "note"))
        return _exponential(node)
    if allow_cure and node.has("uncured"):
        raise node.error("uncured needs cure_fraction beside it", allowed="{cure_fraction, uncured: <model>}")
    raise node.error("a survival model needs one of its kinds", allowed=_MODEL_KINDS)


def _exponential(node: Node) -> PiecewiseExponential:
    if node.has("median_months") and node.has("hazard_per_month"):
        raise node.error("give median_months or hazard_per_month, not both",
                         allowed="{median_months: m} | {hazard_per_month: h}")
    if node.has("median_months"):
        return Exponential(median_months=node.child("median_months").number(low=0.0, low_open=True))
    return Exponential(hazard_per_month=node.child("hazard_per_month").number(low=0.0, low_open=True))


def survival_spec(
    node: Node, *, control: Resolved | None = None, allow_relative: bool = False
) -> Resolved:
    """Resolve one survival-model spec; ``control`` is the control arm's model for ``hazard_ratio``."""
    node.mapping(SURVIVAL_FIELDS, "a survival model mapping")
    sources, note = _sources_and_note(node)
    if node.has("from_evidence"):
        node.mapping(("from_evidence", "pair", "cure_fraction", "source", "note"))
        evidence_id = evidence_row(node.child("from_evidence"))
        pair = node.child("pair").boolean() if node.get("pair") is not None else True
        cure = None
        if node.get("cure_fraction") is not None:
            cure = node.child("cure_fraction").number(low=0.0, high=1.0, high_open=True)
        try:
            fitted = calibrate(evidence_id, pair=pair, cure_fraction=cure)
        except ValueError as err:
            raise node.child("from_evidence").error(
                str(err), allowed="the id of a reported median or landmark rate (cure_fraction: a rate)"
            ) from None
        auto = f"{describe(fitted.model)}; {fitted.method} ({', '.join(fitted.source_ids)})"
        return Resolved(fitted.model, sources or fitted.source_ids, note or auto)
    if node.has("hazard_ratio") and not node.has("cure_fraction"):
        node.mapping(("hazard_ratio", "relative_to", "source", "note"))
        hr_node = node.child("hazard_ratio")
        if isinstance(hr_node.value, dict) or node.has("relative_to"):
            return _time_varying(node, control, allow_relative, sources, note)
        if not allow_relative:
            raise node.error(
                "a bare hazard_ratio is relative to the control arm, so only the experimental arm may use it",
                allowed=_MODEL_KINDS.replace(" | hazard_ratio", ""),
            )
        hr = node.child("hazard_ratio").number(low=0.0, low_open=True)
        if control is None:
            raise node.error("the control arm has no model for this category to apply the hazard ratio to",
                             allowed="a control model for the same category, or an explicit model here")
        try:
            model = control.value.with_hazard_ratio(hr)
        except (ValueError, OverflowError, ZeroDivisionError) as err:
            # e.g. a Weibull with a tiny shape: scale x HR^(-1/shape) is not a finite number
            raise node.child("hazard_ratio").error(
                f"the control model x this hazard ratio is not a usable model ({err})",
                allowed="a hazard ratio whose product with the control model stays finite",
            ) from None
        auto = f"{describe(model)}; control's model x hazard ratio {hr:g}"
        return Resolved(model, sources or control.sources, note or auto, relative_to_control=True)
    model = _base_model(node, allow_cure=True)
    return Resolved(model, sources or (), note or describe(model))


def _time_varying(node: Node, control: Resolved | None, allow_relative: bool, sources, note) -> Resolved:
    """``hazard_ratio: {start_months, values}`` against the control's model (or ``relative_to``)."""
    hr_node = node.child("hazard_ratio")
    hr_node.mapping(("start_months", "values"), "a mapping {start_months: [0, ...], values: [...]}")
    starts = hr_node.require("start_months", "[0, t1, ...] (months)").numbers(low=0.0)
    values = hr_node.require("values", "one hazard ratio > 0 per piece").numbers(low=0.0, low_open=True)
    if len(starts) != len(values):
        raise hr_node.error(f"start_months has {len(starts)} entries, values {len(values)}",
                            allowed="one value per piece start")
    if node.has("relative_to"):
        base = survival_spec(node.child("relative_to"))
        if isinstance(base.value, TimeVaryingHazardRatio):
            raise node.child("relative_to").error("relative_to must be a plain model", allowed=_MODEL_KINDS)
    else:
        if not allow_relative:
            raise node.error("a hazard_ratio is relative to the control arm, so only the experimental arm may use it "
                             "(or give relative_to: <model>)", allowed=_MODEL_KINDS.replace(" | hazard_ratio", ""))
        if control is None:
            raise node.error("the control arm has no model for this category to apply the hazard ratio to",
                             allowed="a control model for the same category, or relative_to: <model>")
        base = control
    model = _wrap(hr_node, time_varying_hazard_ratio, base.value, starts, values)
    if isinstance(model, TimeVaryingHazardRatio):
        auto = f"{describe(model)}; control's model x these hazard ratios; {implied_curve(model)}"
    else:
        auto = f"{describe(model)}; control's model x hazard ratio {values[0]:g}"
    return Resolved(model, sources or base.sources, note or auto, relative_to_control=not node.has("relative_to"))


def model_spec(model: SurvivalModel) -> dict[str, Any]:
    """The explicit spec that rebuilds ``model`` exactly."""
    if isinstance(model, TimeVaryingHazardRatio):
        return {"hazard_ratio": {"start_months": list(model.start_months), "values": list(model.values)},
                "relative_to": model_spec(model.control)}
    if isinstance(model, CureMixture):
        return {"cure_fraction": model.cure_fraction, "uncured": model_spec(model.uncured),
                "hazard_ratio": model.hazard_ratio}
    if isinstance(model, Weibull):
        return {"weibull": {"shape": model.shape, "scale_months": model.scale_months}}
    if len(model.hazard_per_month) == 1:
        return {"hazard_per_month": model.hazard_per_month[0]}
    return {"piecewise": {"start_months": list(model.start_months), "hazard_per_month": list(model.hazard_per_month)}}


def resolved_spec(resolved: Resolved) -> dict[str, Any]:
    out = model_spec(resolved.value) if not isinstance(resolved.value, float) else {"probability": resolved.value}
    if resolved.sources:
        out["source"] = list(resolved.sources)
    if resolved.note:
        out["note"] = resolved.note
    return out


def response_spec(node: Node, *, control: Resolved | None = None, allow_relative: bool = False) -> Resolved:
    """Resolve one response-probability spec."""
    node.mapping(RESPONSE_FIELDS, "a response mapping")
    sources, note = _sources_and_note(node)
    kinds = [k for k in ("probability", "from_evidence", "risk_difference") if node.has(k)]
    if len(kinds) != 1:
        raise node.error("give exactly one of probability, from_evidence or risk_difference",
                         allowed="{probability: p} | {from_evidence: id} | {risk_difference: d}")
    kind = kinds[0]
    if kind == "probability":
        p = node.child("probability").number(low=0.0, high=1.0)
        return Resolved(p, sources or (), note or f"P(response) {p:.4g}")
    if kind == "from_evidence":
        evidence_id = evidence_row(node.child("from_evidence"))
        try:
            fitted = calibrate_response(evidence_id)
        except ValueError as err:
            raise node.child("from_evidence").error(str(err), allowed="the id of a reported proportion") from None
        p = fitted.probability
        return Resolved(p, sources or fitted.source_ids, note or f"P(response) {p:.4g} reported ({evidence_id})")
    diff_node = node.child("risk_difference")
    if not allow_relative:
        raise diff_node.error("risk_difference is relative to the control arm; only the experimental arm may use it",
                              allowed="{probability: p} | {from_evidence: id}")
    d = diff_node.number(low=-1.0, high=1.0)
    if control is None:
        raise diff_node.error("the control arm has no response probability for this category",
                              allowed="a control probability for the same category, or an explicit one here")
    p = control.value + d
    if not 0.0 <= p <= 1.0:
        raise diff_node.error(f"control probability {control.value:g} + {d:g} = {p:g} is not a probability",
                              allowed=f"a difference in [{-control.value:g}, {1 - control.value:g}]")
    return Resolved(p, sources or control.sources, note or f"P(response) {p:.4g}: control {control.value:g} + {d:g}")
