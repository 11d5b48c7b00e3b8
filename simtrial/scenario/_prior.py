"""The ``prior:`` block of a scenario file: what is uncertain, for assurance.

Schema (documented with an example in ``scenarios/README.md``)::

    prior:
      hazard_ratio:            # experimental vs control, per category | group | all (one draw per key)
        IHC 3+: {median: 1.0, ci95: [0.8, 1.25]}           # normal on log HR from a median HR and 95% interval
        IHC 2+/ISH+: {mean_log: 0.26, sd_log: 0.2}          # normal on log HR directly
        HER2-low: {quantiles: {0.1: 0.5, 0.5: 0.7, 0.9: 1.0}}  # elicited (SHELF-style), fitted by least squares
        IHC 0:
          mixture:                                          # weights sum to 1
            - {weight: 0.25, point: 1.0}                    # "no effect with probability 0.25"
            - {weight: 0.75, median: 0.7, ci95: [0.5, 0.98]}
      correlation: 0.5         # exchangeable correlation of the (single-normal) log HRs
      control:                 # the control arm's median, per category | group | all
        all: {from_evidence: DB03.TDM1.PFS.median}          # spread from the figure's 95% CI, never a guess
        IHC 3+: {median_months: 6.8, ci95: [5.6, 8.2]}
      response:                # binary endpoints: P(response) per arm, per category | group | all
        experimental:
          IHC 3+: {from_evidence: ...}                      # Beta from the counts (Jeffreys) or the CI
          IHC 2+/ISH+: {beta: [4.5, 9.5]}                   # or {mean: p, ci95: [lo, hi]}
      meaningful_hr_below: 0.8 # "clinically meaningful success": success and estimated HR below this
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from simtrial.calibrate.uncertainty import (
    BetaProportion,
    LogNormalMedian,
    beta_from_ci,
    uncertainty,
)
from simtrial.errors import InvalidInput
from simtrial.her2 import CATEGORIES, N_CATEGORIES
from simtrial.scenario import _her2keys as keys
from simtrial.scenario.errors import Node
from simtrial.spec.prior import (
    ControlMedianPrior,
    HazardRatioPrior,
    NormalLogHR,
    PointMassHR,
    Prior,
    ResponsePrior,
)

Z975 = 1.959963984540054
PRIOR_FIELDS = {
    "hazard_ratio": "{category | group | all: HR prior}",
    "correlation": "exchangeable correlation of the log HRs, in (-1/(k-1), 1)",
    "control": "{category | group | all: {from_evidence: id} | {median_months, ci95}}",
    "response": "{control | experimental: {category | group | all: Beta prior}}",
    "meaningful_hr_below": "a hazard ratio > 0",
    "experimental_follows_control": "categories whose experimental model moves with a drawn control median "
    "(default: those given as a hazard_ratio relative to control)",
}
_HR_FORMS = ("{mean_log, sd_log} | {median, ci95: [lo, hi]} | {median, sd_log_from_evidence: id} | {point: hr} | "
             "{quantiles: {p: hr, ...}} | "
             "{experimental_median_from_evidence: id} | {mixture: [...]}")
_COMPONENT_FIELDS = ("mean_log", "sd_log", "median", "ci95", "sd_log_from_evidence", "point", "quantiles",
                     "experimental_median_from_evidence", "note", "weight", "mixture", "source")
_CONTROL_FORMS = "{from_evidence: id} | {median_months: m, ci95: [lo, hi]}"
_RESPONSE_FORMS = "{from_evidence: id} | {beta: [a, b]} | {mean: p, ci95: [lo, hi]}"


def _keyed(node: Node, possible: tuple[int, ...], what: str) -> list[tuple[str, tuple[int, ...], Node]]:
    """(key, categories it decides, node) per key; a category goes to its most specific key.

    Keys covering no category the population can contain are refused: they would have no effect.
    """
    ranked: list[tuple[str, tuple[int, ...], int, Node]] = []
    for key, child in node.items():
        if key == "all":
            codes, rank = tuple(range(N_CATEGORIES)), 0
        else:
            codes, single = keys.category_or_group(child, key)
            rank = 2 if single else 1
        ranked.append((str(key), tuple(codes), rank, child))
    if not ranked:
        raise node.error("must not be empty", allowed=f"{{category | group | all: {what}}}")
    owner: dict[int, tuple[int, str]] = {}
    for key, codes, rank, child in ranked:
        for c in codes:
            if c in owner and owner[c][0] == rank:
                raise child.error(f"{CATEGORIES[c]} is covered twice (also by {owner[c][1]!r})",
                                  allowed="one key per category at each level (category, group, all)", value=key)
            if c not in owner or owner[c][0] < rank:
                owner[c] = (rank, key)
    out = []
    for key, codes, _rank, child in ranked:
        mine = tuple(c for c in codes if c in possible and owner[c][1] == key)
        if not mine:
            raise child.error(
                "this prior decides no category the population can contain, so it would have no effect",
                allowed="a key covering " + ", ".join(CATEGORIES[c] for c in possible), value=key)
        out.append((key, mine, child))
    return out


def _interval(node: Node, *, low: float = 0.0, high: float | None = None) -> tuple[float, float]:
    values = node.numbers(low=low, low_open=True, high=high)
    if len(values) != 2 or not values[0] < values[1]:
        raise node.error("must be a 95% interval [lo, hi] with lo < hi", allowed="[lo, hi], lo < hi")
    return values[0], values[1]


def _evidence_median(node: Node, what: str, instead: str) -> LogNormalMedian:
    """The sampling distribution of the evidence median ``node`` names; refused without a 95% CI."""
    return _evidence(node, LogNormalMedian, what, "an evidence median with a 95% CI, or give " + instead + " yourself",
                     "it reports no 95% CI", "it is a proportion, not a median")


def _evidence(node: Node, kind: type, what: str, allowed: str, no_spread: str, wrong_kind: str):
    """``uncertainty(id)`` for the evidence id in ``node``, of type ``kind``, or an error naming the field.

    ``from_evidence`` spreads come from the table's CI or counts, never from a guess: a
    figure without them is refused and the user is asked to give the spread.
    """
    ev = node.text()
    try:
        dist = uncertainty(ev)
    except (KeyError, InvalidInput, ValueError) as err:
        raise node.error(str(err).strip("'\""), allowed="an id of simtrial/evidence/her2_review.csv") from None
    if not isinstance(dist, kind):
        raise node.error(f"evidence {ev!r} cannot give {what}: {no_spread if dist is None else wrong_kind}",
                         allowed=allowed)
    return dist


def _evidence_log_se(node: Node) -> tuple[float, dict[str, Any]]:
    """The SD on the log scale of an evidence median, from its 95% CI (refused without one)."""
    dist = _evidence_median(node, "a spread", "ci95 / sd_log")
    return dist.log_median_se, {"method": "SD of log HR = SD of the log median of an evidence figure, from its 95% CI",
                                "source_ids": list(dist.source_ids), "evidence_ci95": [dist.ci_low, dist.ci_high],
                                "sd_log": dist.log_median_se}


def _normal_from_median(node: Node) -> tuple[NormalLogHR, dict[str, Any] | None]:
    median = node.child("median").number(low=0.0, low_open=True)
    if node.has("sd_log_from_evidence"):
        if node.has("ci95"):
            raise node.child("ci95").error("give ci95 or sd_log_from_evidence, not both", allowed="one of them")
        sd, fit = _evidence_log_se(node.child("sd_log_from_evidence"))
        return NormalLogHR(math.log(median), sd), fit
    lo, hi = _interval(node.require("ci95", "[lo, hi]: the 95% interval of the HR"))
    if not lo < median < hi:
        raise node.child("median").error(f"the median HR {median:g} is outside its 95% interval [{lo:g}, {hi:g}]",
                                         allowed=f"a median in ({lo:g}, {hi:g})")
    return NormalLogHR(math.log(median), (math.log(hi) - math.log(lo)) / (2 * Z975)), None


def fit_quantiles(probabilities: list[float], hazard_ratios: list[float]) -> tuple[NormalLogHR, dict[str, Any]]:
    """Normal on log HR through elicited quantiles by least squares (log q_p = mean + sd z_p), as SHELF fits.

    Returns the fit and its report: the elicited and fitted quantiles and the largest relative error.
    """
    from scipy.stats import norm  # here, not at import: loading a scenario must not import scipy

    z = norm.ppf(np.asarray(probabilities, dtype=float))
    y = np.log(np.asarray(hazard_ratios, dtype=float))
    sd, mean = np.polyfit(z, y, 1)
    fitted = np.exp(mean + sd * z)
    report = {
        "method": "normal on log HR, least squares on the elicited quantiles (SHELF-style)",
        "elicited": {f"{p:g}": float(q) for p, q in zip(probabilities, hazard_ratios, strict=True)},
        "fitted": {f"{p:g}": float(q) for p, q in zip(probabilities, fitted, strict=True)},
        "max_relative_error": float(np.max(np.abs(fitted / np.exp(y) - 1.0))),
        "mean_log": float(mean),
        "sd_log": float(sd),
    }
    return NormalLogHR(float(mean), float(sd)), report


def _quantiles(node: Node) -> tuple[NormalLogHR, dict[str, Any]]:
    probs, hrs = [], []
    for key, child in node.items():
        if isinstance(key, bool) or not isinstance(key, int | float) or not 0.0 < float(key) < 1.0:
            raise child.error("a quantile's key must be a probability in (0, 1)", allowed="{0.1: hr, 0.5: hr, 0.9: hr}",
                              value=key)
        probs.append(float(key))
        hrs.append(child.number(low=0.0, low_open=True))
    if len(probs) < 2:
        raise node.error("needs at least two elicited quantiles", allowed="{0.1: hr, 0.5: hr, 0.9: hr}")
    order = np.argsort(probs)
    probs = [probs[i] for i in order]
    hrs = [hrs[i] for i in order]
    if any(b <= a for a, b in zip(hrs, hrs[1:], strict=False)):
        raise node.error("elicited quantiles must increase with their probability", allowed="increasing hazard ratios")
    normal, report = fit_quantiles(probs, hrs)
    if not normal.sd_log > 0:
        raise node.error("the quantiles fit a distribution without spread", allowed="distinct quantiles")
    return normal, report


def _from_experimental_median(node: Node, codes: tuple[int, ...], control_models: Mapping[int, Any] | None):
    """HR = the control model's median / an evidence median of the experimental arm, spread from its 95% CI.

    The same ratio of medians (exponential reading) the effect maps use; the
    control's median is the scenario's model, taken as known here.
    """
    dist = _evidence_median(node, "the HR's uncertainty", "{median, ci95}")
    if not control_models:
        raise node.error("needs the control arm's model", allowed="a two-arm time-to-event design")
    medians = {c: float(control_models[c].median()) for c in codes if c in control_models}
    values = sorted(set(round(m, 9) for m in medians.values()))
    if len(values) != 1 or not math.isfinite(values[0]):
        raise node.error("the control's median differs across (or is undefined in) the categories of this key",
                         allowed="a key whose categories share one control median")
    control_median = values[0]
    # centred on the CI's geometric midpoint so the drawn medians reproduce the reported CI
    centre = math.sqrt(dist.ci_low * dist.ci_high)
    normal = NormalLogHR(math.log(control_median) - math.log(centre), dist.log_median_se)
    fit = {"method": "derived: the control model's median / the experimental evidence median (ratio of medians), "
                     "SD of log HR from the evidence's 95% CI",
           "control_median_months": control_median, "experimental_median_months": dist.median_months,
           "experimental_centre_months": centre,
           "experimental_ci95": [dist.ci_low, dist.ci_high], "source_ids": list(dist.source_ids)}
    return normal, fit


def _component(node: Node, *, in_mixture: bool, codes: tuple[int, ...] = (),
               control_models: Mapping[int, Any] | None = None) -> tuple[Any, dict[str, Any] | None]:
    node.mapping(_COMPONENT_FIELDS if in_mixture else [f for f in _COMPONENT_FIELDS if f != "weight"],
                 "an HR prior " + _HR_FORMS)
    forms = [f for f in ("mean_log", "median", "point", "quantiles", "experimental_median_from_evidence", "mixture")
             if node.has(f)]
    if len(forms) != 1:
        raise node.error("give exactly one form of HR prior" + (f" (got {', '.join(forms)})" if forms else ""),
                         allowed=_HR_FORMS)
    form = forms[0]
    extra = {"mean_log": ("sd_log",), "median": ("ci95", "sd_log_from_evidence")}.get(form, ())
    for f in ("sd_log", "ci95", "sd_log_from_evidence"):
        if node.has(f) and f not in extra:
            raise node.child(f).error(f"{f} does not go with {form}", allowed="remove it")
    if form == "mean_log":
        mean = node.child("mean_log").number()
        sd = node.require("sd_log", "a standard deviation > 0 on log HR").number(low=0.0, low_open=True)
        return NormalLogHR(mean, sd), None
    if form == "median":
        return _normal_from_median(node)
    if form == "point":
        return PointMassHR(node.child("point").number(low=0.0, low_open=True)), None
    if form == "quantiles":
        return _quantiles(node.child("quantiles"))
    if form == "experimental_median_from_evidence":
        return _from_experimental_median(node.child(form), codes, control_models)
    if in_mixture:
        raise node.child("mixture").error("a mixture component cannot itself be a mixture", allowed=_HR_FORMS)
    return None, None


def _hazard_ratio_prior(key: str, codes: tuple[int, ...], node: Node,
                        control_models: Mapping[int, Any] | None) -> HazardRatioPrior:
    component, fit = _component(node, in_mixture=False, codes=codes, control_models=control_models)
    if component is not None:
        return HazardRatioPrior(key, codes, (component,), (1.0,), fit)
    parts = node.child("mixture").elements()
    if not parts:
        raise node.child("mixture").error("must not be empty", allowed="a list of weighted components")
    components, weights, fits = [], [], {}
    for i, part in enumerate(parts):
        c, f = _component(part, in_mixture=True, codes=codes, control_models=control_models)
        w = part.require("weight", "a weight in (0, 1]").number(low=0.0, low_open=True, high=1.0)
        components.append(c)
        weights.append(w)
        if f is not None:
            fits[str(i)] = f
    total = sum(weights)
    if abs(total - 1.0) > 1e-6:
        raise node.child("mixture").error(f"the weights sum to {total:.6g}, not 1", allowed="weights summing to 1")
    weights = [w / total for w in weights]
    return HazardRatioPrior(key, codes, tuple(components), tuple(weights), fits or None)


def _control_prior(key: str, codes: tuple[int, ...], node: Node, control_models: Mapping[int, Any]) -> ControlMedianPrior:
    node.mapping(("from_evidence", "median_months", "ci95", "source", "note"), "a control prior " + _CONTROL_FORMS)
    if node.has("from_evidence"):
        if node.has("median_months") or node.has("ci95"):
            raise node.error("from_evidence takes its median and CI from the evidence table", allowed="remove median_months/ci95")
        dist = _evidence_median(node.child("from_evidence"), "a control median's uncertainty",
                                "{median_months: m, ci95: [lo, hi]}")
        median, ci, se, sources = dist.median_months, (dist.ci_low, dist.ci_high), dist.log_median_se, dist.source_ids
    else:
        median = node.require("median_months", _CONTROL_FORMS).number(low=0.0, low_open=True)
        lo, hi = _interval(node.require("ci95", "[lo, hi]: the 95% CI of the median (months)"))
        if not lo <= median <= hi:
            raise node.child("median_months").error(f"the median {median:g} is outside its CI [{lo:g}, {hi:g}]",
                                                    allowed=f"a median in [{lo:g}, {hi:g}]")
        ci, se = (lo, hi), (math.log(hi) - math.log(lo)) / (2 * Z975)
        sources = (node.child("source").text(),) if node.has("source") else ()
    for c in codes:
        model = control_models.get(c)
        if model is None:
            continue
        tail = float(np.asarray(model.survival(1e6)))
        if not tail < 0.5:
            raise node.error(f"the control model in {CATEGORIES[c]} never falls below 50% (a cure fraction of "
                             f"{tail:.2f}), so it has no median to draw", allowed="a control model with a median")
    return ControlMedianPrior(key, codes, float(median), float(se), (float(ci[0]), float(ci[1])), tuple(sources))


def _response_prior(arm: str, key: str, codes: tuple[int, ...], node: Node) -> ResponsePrior:
    node.mapping(("from_evidence", "beta", "mean", "ci95", "source", "note"), "a response prior " + _RESPONSE_FORMS)
    forms = [f for f in ("from_evidence", "beta", "mean") if node.has(f)]
    if len(forms) != 1:
        raise node.error("give exactly one form of response prior", allowed=_RESPONSE_FORMS)
    if forms[0] == "from_evidence":
        dist = _evidence(node.child("from_evidence"), BetaProportion, "a response probability's uncertainty",
                         "an evidence proportion with counts or a CI, or give {beta: [a, b]} yourself",
                         "it reports neither counts nor a CI", "it is a median, not a proportion")
        return ResponsePrior(arm, key, codes, dist.alpha, dist.beta, dist.method, dist.source_ids)
    if forms[0] == "beta":
        values = node.child("beta").numbers(low=0.0, low_open=True)
        if len(values) != 2:
            raise node.child("beta").error("must be [alpha, beta]", allowed="[a, b], both > 0")
        sources = (node.child("source").text(),) if node.has("source") else ()
        return ResponsePrior(arm, key, codes, values[0], values[1], "given", sources)
    mean = node.child("mean").number(low=0.0, high=1.0, low_open=True, high_open=True)
    lo, hi = _interval(node.require("ci95", "[lo, hi]: the 95% CI of the probability"), high=1.0)
    try:
        dist = beta_from_ci(mean, lo, hi)
    except InvalidInput as err:
        raise node.child("ci95").error(str(err), allowed="a CI around the mean, narrow enough for a Beta") from None
    sources = (node.child("source").text(),) if node.has("source") else ()
    return ResponsePrior(arm, key, codes, dist.alpha, dist.beta, dist.method, sources)


def read_prior(
    node: Node, *, endpoint: str, design: str, possible: tuple[int, ...], control_models: Mapping[int, Any] | None,
    relative: tuple[int, ...] = (),
) -> Prior:
    """Validate the ``prior:`` block; ``possible``: the true categories the population can contain.

    ``relative``: the categories whose experimental model the file gave relative to the control.
    """
    node.mapping(PRIOR_FIELDS)
    tte = endpoint == "time_to_event"
    hr: list[HazardRatioPrior] = []
    ctrl: list[ControlMedianPrior] = []
    resp: list[ResponsePrior] = []
    for field in ("hazard_ratio", "control"):
        if node.get(field) is not None and not tte:
            raise node.child(field).error(f"a binary endpoint has no {field.replace('_', ' ')}",
                                          allowed="prior: {response: ...}")
    if node.get("response") is not None and tte:
        raise node.child("response").error("a time-to-event endpoint has no response probability",
                                           allowed="prior: {hazard_ratio: ..., control: ...}")
    if node.get("hazard_ratio") is not None:
        for key, codes, child in _keyed(node.child("hazard_ratio"), possible, "HR prior"):
            hr.append(_hazard_ratio_prior(key, codes, child, control_models))
    if node.get("control") is not None:
        if control_models is None:
            raise node.child("control").error(f"design {design} has no control arm", allowed="remove it")
        for key, codes, child in _keyed(node.child("control"), possible, "control prior"):
            ctrl.append(_control_prior(key, codes, child, control_models))
    if node.get("response") is not None:
        rnode = node.child("response")
        rnode.mapping(("control", "experimental"))
        for arm, arm_node in rnode.items():
            if arm == "control" and design in ("single_arm_binary", "simon_two_stage"):
                raise arm_node.error(f"design {design} is single-arm: it has no control arm", allowed="remove it")
            for key, codes, child in _keyed(arm_node, possible, "Beta prior"):
                resp.append(_response_prior(str(arm), key, codes, child))
    correlation = None
    if node.get("correlation") is not None:
        correlation = node.child("correlation").number(low=-1.0, high=1.0, low_open=True, high_open=True)
    meaningful = None
    if node.get("meaningful_hr_below") is not None:
        if not tte:
            raise node.child("meaningful_hr_below").error("applies to time-to-event designs (an HR estimate)",
                                                          allowed="remove it")
        meaningful = node.child("meaningful_hr_below").number(low=0.0, low_open=True)
    follows = tuple(c for c in relative if c in possible)
    if node.get("experimental_follows_control") is not None:
        fnode = node.child("experimental_follows_control")
        codes: set[int] = set()
        for item in fnode.elements():
            codes.update(keys.category_or_group(item)[0])
        follows = tuple(sorted(c for c in codes if c in possible))
    decided = {c for p in hr for c in p.categories}
    follows = tuple(c for c in follows if c not in decided) if ctrl else ()
    # a canonical order (by key): each entry's random stream is numbered by its place, and a
    # resolved scenario written with sorted keys must draw what the file drew
    hr.sort(key=lambda p: p.key)
    ctrl.sort(key=lambda p: p.key)
    resp.sort(key=lambda p: (p.arm, p.key))
    try:
        return Prior(tuple(hr), tuple(ctrl), tuple(resp), correlation, meaningful, follows)
    except InvalidInput as err:
        raise node.error(str(err), allowed="see scenarios/README.md, prior") from None


def prior_dict(prior: Prior) -> dict[str, Any]:
    """The prior in the file's own (canonical) form: reloading it gives the same prior."""
    out: dict[str, Any] = {}
    if prior.hazard_ratio:
        out["hazard_ratio"] = {}
        for p in prior.hazard_ratio:
            parts = [
                {"point": c.hazard_ratio} if isinstance(c, PointMassHR) else {"mean_log": c.mean_log, "sd_log": c.sd_log}
                for c in p.components
            ]
            if len(parts) == 1:
                out["hazard_ratio"][p.key] = parts[0]
            else:
                out["hazard_ratio"][p.key] = {"mixture": [{"weight": w, **b} for w, b in zip(p.weights, parts, strict=True)]}
    if prior.correlation is not None:
        out["correlation"] = prior.correlation
    if prior.control:
        out["control"] = {}
        for p in prior.control:
            entry: dict[str, Any] = {"median_months": p.median_months, "ci95": list(p.ci95)}
            if p.source_ids:
                entry["source"] = ", ".join(p.source_ids)
            out["control"][p.key] = entry
    if prior.response:
        out["response"] = {}
        for p in prior.response:
            entry = {"beta": [p.alpha, p.beta]}
            if p.source_ids:
                entry["source"] = ", ".join(p.source_ids)
            out["response"].setdefault(p.arm, {})[p.key] = entry
    if prior.meaningful_hr_below is not None:
        out["meaningful_hr_below"] = prior.meaningful_hr_below
    if prior.control:
        out["experimental_follows_control"] = [CATEGORIES[c] for c in prior.experimental_follows_control]
    return out
