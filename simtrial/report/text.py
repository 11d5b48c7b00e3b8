"""The sample-size justification paragraph: plain text, generated from the report's numbers only.

Every number is printed from the section dicts of ``simtrial.report.data``
(which come from ``summary.json``), so the paragraph and the tables agree.
"""

from __future__ import annotations

import math
from typing import Any

_DESIGN_WORDS = {
    "superiority": "randomised superiority trial",
    "noninferiority": "randomised non-inferiority trial",
    "biomarker": "randomised biomarker-stratified all-comers trial",
    "enrichment": "randomised enrichment trial",
    "binary": "randomised trial with a binary endpoint",
    "single_arm_binary": "single-arm trial with a binary endpoint",
    "simon_two_stage": "single-arm Simon two-stage trial",
}
_ENDPOINTS = {
    "PFS": "progression-free survival (PFS)", "iDFS": "invasive disease-free survival (iDFS)",
    "DFS": "disease-free survival (DFS)", "OS": "overall survival (OS)", "pCR": "pathological complete response (pCR)",
    "ORR": "objective response rate (ORR)",
}


_TESTS = {
    "logrank": "log-rank test", "stratified_logrank": "stratified log-rank test", "cox": "Cox (Wald) test",
    "stratified_cox": "stratified Cox (Wald) test", "fleming_harrington": "Fleming-Harrington weighted log-rank test",
    "cmh": "Cochran-Mantel-Haenszel test", "exact_binomial": "exact binomial test",
    "chisq": "chi-squared test", "fisher": "Fisher exact test",
}


def num(x: Any, digits: int = 3) -> str:
    """A number as the page prints it (``-`` for none)."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    x = float(x)
    if not math.isfinite(x):
        return "-"
    return f"{x:.{digits}f}"


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100.0 * x:.{digits}f}%"


def _endpoint(assumptions: dict) -> str | None:
    for row in assumptions.get("rows", []):
        for e in row.get("evidence", []):
            if e.get("endpoint"):
                return _ENDPOINTS.get(e["endpoint"], e["endpoint"])
    return None


def _sources(assumptions: dict, arm: str | None = None) -> list[str]:
    seen: dict[str, str] = {}
    for row in assumptions.get("rows", []):
        if arm is not None and row["arm"] != arm:
            continue
        for e in row.get("evidence", []):
            if e["id"] not in seen:
                ref = f", ref. [{e['reference']}]" if e.get("reference") else ""
                seen[e["id"]] = f"{e['id']} ({e.get('trial') or 'unknown trial'}{ref})"
    return list(seen.values())


def _hypotheses(f: dict, endpoint: str | None) -> str:
    design = f.get("design")
    if design == "noninferiority":
        m = num(f.get("ni_margin"), 2)
        return (f"H0: hazard ratio (experimental / control) >= {m} (inferior by the margin) against "
                f"H1: hazard ratio < {m}")
    if design in ("simon_two_stage", "single_arm_binary"):
        return f"H0: response rate <= {num(f.get('p0'))} against H1: response rate >= {num(f.get('p1'))}"
    if endpoint == "binary":
        return "H0: equal response rates in the two arms against H1: a higher response rate with the experimental arm"
    return "H0: hazard ratio (experimental / control) >= 1 against H1: hazard ratio < 1"


def _effects(assumptions: dict) -> str:
    parts = []
    for row in assumptions.get("rows", []):
        if row["arm"] != "experimental":
            continue
        p = row["parameters"]
        what = []
        if row.get("hazard_ratio") is not None:
            what.append(f"hazard ratio {num(row['hazard_ratio'])} vs control")
        if "probability" in p:
            what.append(f"response probability {num(p['probability'])}")
        elif row.get("median_months") is not None:
            what.append(f"median {num(row['median_months'], 1)} months")
        src = ("from " + ", ".join(e["id"] for e in row["evidence"])) if row["evidence"] else "an assumption"
        note = f" ({row['note']})" if row.get("assumption") and row.get("note") else ""
        parts.append(f"{row['category']}: {', '.join(what) or row['model']} ({src}){note}")
    return "; ".join(parts)


def _control(assumptions: dict) -> str:
    parts = []
    for row in assumptions.get("rows", []):
        if row["arm"] != "control":
            continue
        p = row["parameters"]
        if "probability" in p:
            what = f"response probability {num(p['probability'])}"
        elif row.get("median_months") is not None:
            what = f"{row['model']}, median {num(row['median_months'], 1)} months"
        else:
            what = f"{row['model']}" + (f", cure fraction {num(p['cure_fraction'])}" if "cure_fraction" in p else "")
        src = ("from " + ", ".join(e["id"] for e in row["evidence"])) if row["evidence"] else "an assumption"
        parts.append(f"{row['category']}: {what} ({src})")
    return "; ".join(parts)


def _interims(seq: dict | None) -> str:
    if not seq:
        return "There are no interim analyses."
    parts = []
    for r in seq["rows"][:-1]:
        rules = []
        if r.get("z_efficacy") is not None:
            rules.append(f"efficacy if Z >= {num(r['z_efficacy'])} (nominal one-sided p {num(r['nominal_p'], 4)}, "
                         f"estimated HR <= {num(r['hr_efficacy'])})")
        if r.get("z_futility") is not None:
            hr = f", estimated HR above {num(r['hr_futility'])}" if r.get("hr_futility") is not None else ""
            rules.append(f"futility if Z < {num(r['z_futility'])}{hr}")
        parts.append(f"look {r['look']} at {pct(r['information_fraction'], 0)} of the events ({r['events']} events): "
                     + (" and ".join(rules) or "no stopping rule"))
    final = seq["rows"][-1]
    spending = f" with {seq['spending']} alpha spending" if seq.get("spending") else ""
    binding = "binding" if seq.get("binding_futility") else "non-binding"
    return (f"Interim analyses{spending} ({binding} futility): " + "; ".join(parts)
            + f"; the final analysis at {final['events']} events rejects H0 if Z >= {num(final['z_efficacy'])}"
            + f" (nominal one-sided p {num(final['nominal_p'], 4)}).")


def justification_paragraph(sections: dict[str, dict]) -> str:
    """One paragraph, ready to paste into a protocol, from the sections ``simtrial.report.data`` collected."""
    q = sections.get("question", {})
    a = sections.get("assumptions", {})
    op = sections.get("operating", {})
    seq = sections.get("sequential")
    ss = sections.get("sample_size")
    f = q.get("facts", {})
    design = op.get("design") or f.get("design", "")
    blocks = op.get("blocks", [])
    h1 = next((b for b in blocks if not b["null"]), None)
    h0 = next((b for b in blocks if b["null"]), None)
    endpoint = _endpoint(a) or ("the binary endpoint" if op.get("endpoint") == "binary" else "the time-to-event endpoint")
    arms = "; ".join(f"{k}: {v}" for k, v in (f.get("arms") or {}).items())
    pop = f.get("population")
    sided = "one-sided" if f.get("sided") == 1 else "two-sided"
    out = [f"{q.get('name', 'The trial')} is a {_DESIGN_WORDS.get(design, design)} ({arms})"
           + (f" in the {pop} population" if pop and pop != "overall" else "") + f" with {endpoint} as primary endpoint."]
    test_name = _TESTS.get(f.get("test"), f"{f.get('test')} test")
    out.append(f"The hypotheses are {_hypotheses(f, op.get('endpoint'))}, tested with the {test_name} at "
               f"{sided} alpha {num(f.get('alpha'), 4)}.")
    effects = _effects(a)
    prior = a.get("prior") or {}
    assured = (ss or {}).get("target_quantity") == "assurance" or sections.get("assurance") is not None
    if effects:
        out.append(f"The effect {'taken for power' if assured else 'assumed'} is, by true HER2 category, {effects}.")
    if prior and assured:
        parts = []
        if prior.get("hazard_ratio"):
            parts.append("the hazard ratio in " + ", ".join(prior["hazard_ratio"]))
        if prior.get("control"):
            parts.append("the control median in " + ", ".join(prior["control"]))
        if prior.get("response"):
            parts.append("the response probabilities of the " + " and ".join(prior["response"]) + " arm")
        out.append("Assurance (the probability of success averaged over the uncertainty of the evidence, "
                   "O'Hagan, Stevens and Campbell 2005) draws, for each simulated trial, " + " and ".join(parts)
                   + " from the scenario's prior.")
    control = _control(a)
    if control and design not in ("simon_two_stage", "single_arm_binary"):
        out.append(f"The control arm is assumed to follow {control}.")
    srcs = _sources(a)
    if srcs:
        out.append("These assumptions rest on the HER2 review's figures " + ", ".join(srcs) + ".")
    mix = a.get("mix") or {}
    if mix:
        elig = f", enrolling assessed {', '.join(a['eligible'])} only" if a.get("eligible") else ""
        out.append("Patients are screened with HER2 categories " + ", ".join(f"{k} {num(v, 3)}" for k, v in mix.items())
                   + elig + ".")
    hr = a.get("hr_status")
    if hr:
        out.append("Hormone-receptor status is a second factor: P(HR+) is "
                   + ", ".join(f"{num(v, 3)} in {k}" for k, v in hr["positive_fraction"].items())
                   + f", so {pct(hr['hr_positive_screened'])} of screened and {pct(hr['hr_positive_enrolled'])} "
                   "of enrolled patients are HR+.")
    acc = a.get("accrual") or {}
    if acc.get("duration_months") is not None:
        out.append(f"Accrual is uniform over {num(acc['duration_months'], 1)} months.")
    drop = a.get("dropout") or []
    if drop:
        out.append("Dropout is " + " and ".join(f"{pct(d['by_12_months'])} by 12 months in the {d['arm']} arm"
                                               for d in drop) + ".")
    if ss:
        what = "events" if ss["solve_for"] == "events" else "patients"
        other = (f" ({ss['n_required']} patients)" if ss["solve_for"] == "events" and ss.get("n_required")
                 else (f" ({ss['events_required']} events)" if ss.get("events_required") else ""))
        unc = f" (Monte-Carlo uncertainty +/- {num(ss['uncertainty'], 1)}, 95%)" if ss.get("uncertainty") else ""
        quantity = ss.get("target_quantity", "power")
        method = "Schoenfeld-normal assurance" if quantity == "assurance" else "Schoenfeld"
        analytic = (f"; the analytic ({method}) figure is {num(ss['analytic_answer'], 1)} {what}"
                    if ss.get("analytic_answer") is not None else "")
        out.append(f"To reach {'an' if quantity[0] in 'aeiou' else 'a'} {quantity} of {num(ss['target_power'])}, "
                   f"{ss['answer']} {what}{other} are required{unc}, "
                   f"confirmed by an independent simulation of {ss['confirmation_n_sims']} trials giving {quantity} "
                   f"{num(ss['achieved_power'])} (Monte-Carlo SE {num(ss['achieved_power_mc_se'], 4)}){analytic}.")
    elif h1 is not None:
        planned = []
        if h1.get("n_patients") is not None:
            planned.append(f"{h1['n_patients']} patients")
        if h1.get("target_events") is not None:
            planned.append(f"{h1['target_events']} events at the final analysis")
        if planned:
            out.append("The design plans " + " and ".join(planned) + ".")
    out.append(_interims(seq))
    if h1 is not None:
        analytic = ", ".join(f"{k.replace('_', ' ')} {num(v)}" for k, v in h1["analytic"].items())
        analytic = f"; analytic: {analytic}" if analytic else ""
        extra = ""
        if h1.get("mean_events") is not None and h1.get("mean_duration_months") is not None:
            extra = (f", with on average {num(h1['mean_events'], 1)} events and a study duration of "
                     f"{num(h1['mean_duration_months'], 1)} months")
        where = ("drawing their parameters from the prior the assurance" if str(h1.get("label", "")).startswith("assurance")
                 else "under H1 the power")
        out.append(f"In {h1['n_sims']} simulated trials (seed {h1['seed']}) {where} is {num(h1['power'])} "
                   f"(Monte-Carlo SE {num(h1['mc_se'], 4)}; 95% CI {num(h1['ci'][0])} to {num(h1['ci'][1])}){analytic}"
                   f"{extra}.")
    if h0 is not None:
        out.append(f"In {h0['n_sims']} simulated trials under H0 the type I error is {num(h0['power'])} "
                   f"(Monte-Carlo SE {num(h0['mc_se'], 4)}; 95% CI {num(h0['ci'][0])} to {num(h0['ci'][1])}).")
    return " ".join(out)
