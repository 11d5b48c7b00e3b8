"""The ``analysis`` block: test, error rates, cut, populations, strata, sequential looks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simtrial.designs import registry
from simtrial.designs.registry import SINGLE_ARM
from simtrial.errors import MAX_LIST_LENGTH
from simtrial.her2 import GROUPS, HR_STATUSES, IHC_ONLY, N_CATEGORIES, Cells
from simtrial.scenario import _her2keys as keys
from simtrial.scenario.errors import Node, one_of
from simtrial.spec import (
    BETA_SPENDING,
    BINARY_TESTS,
    GAMMA_RANGE,
    MULTIPLICITY,
    RHO_RANGE,
    SPENDING,
    STRATIFIED_TESTS,
    SURVIVAL_TESTS,
    Analysis,
    SequentialPlan,
    Subgroup,
)
from simtrial.spec.analysis import (
    FIXED_DESIGN_TESTS,
    LOGRANK_VARIANCES,
    SINGLE_ARM_TTE_TESTS,
    weighted_sequential_problem,
)

ANALYSIS_FIELDS: dict[str, str] = {
    "test": "the primary test (depends on the design; see valid_tests)",
    "alpha": "type I error rate, in (0, 0.5)",
    "sided": "1 or 2",
    "target_events": "analysis when this many events have occurred (time to event)",
    "calendar_months": "analysis at this time after the first patient enters (months); with target_events: whichever first",
    "min_followup_after_last_entry_months": "the final analysis no earlier than this many months after the last "
                                            "patient enrols (with target_events / calendar_months: the later)",
    "min_months_after_previous_look": "with sequential: each look after the first no earlier than this many "
                                      "months after the previous look",
    "ni_margin": "non-inferiority margin: a hazard ratio > 1, or a risk difference in (0, 1) for binary",
    "population": "the primary analysis population: overall, a category, a group or {name, categories}",
    "strata": "by_category | by_group | none | {stratum name: [categories or groups]}; with population.hr_status "
              "also by_hr_status | by_category_and_hr_status | by_group_and_hr_status",
    "subgroups": "populations analysed on their own: names, or {name, categories}",
    "multiplicity": "adjustment across subgroups: " + one_of(MULTIPLICITY),
    "interaction": "treatment x biomarker interaction test: {groups: [A, B]}",
    "fleming_harrington": "weights of test fleming_harrington: {rho, gamma}, each >= 0",
    "rmst_tau_months": "tests rmst / stratified_rmst: restriction time tau (months) of the restricted mean survival",
    "milestone_months": "tests milestone / milestone_cloglog: the time (months) survival is compared at",
    "maxcombo": "test maxcombo: FH components [{rho, gamma}, ...] (2 to 4; default FH(0,0), FH(0,1), FH(1,0))",
    "mwlr_t_star_months": "test modestly_weighted_logrank: t* (months); weights 1 / max(S(t-), S(t*))",
    "landmark_months": "times (months) at which Kaplan-Meier survival is reported",
    "p0": "single-arm: response rate of no interest (H0)",
    "p1": "Simon: target response rate (H1)",
    "beta": "Simon: 1 - power; sequential beta spending: 1 - power at the design alternative",
    "simon_kind": "optimal | minimax",
    "sequential": "group-sequential looks and alpha (and beta) spending",
    "reference": "single_arm_tte: the reference survival curve (H0 of one_sample_logrank), a survival model "
                 "such as {median_months: m} or {from_evidence: id}",
    "reference_rate_per_patient_year": "single_arm_tte: the reference event rate (H0 of exact_poisson), events per "
                                       "patient-year (default with an exponential reference: 12 x its monthly hazard)",
    "logrank_variance": "one_sample_logrank: expected (classic, variance E; default) | wu (Wu 2015, (O + E) / 2)",
    "interim_futility": "single_arm_tte: [{patient_years, max_events}, ...]: when the follow-up reaches "
                        "patient_years, stop for futility if more than max_events events have occurred",
}
SEQUENTIAL_FIELDS: dict[str, str] = {
    "information_fractions": "cumulative fractions of target_events at each look, increasing, ending at 1",
    "calendar_months": "per look: its calendar maximum (months after the first entry; null: none), the look at its "
                       "events or this time, whichever first; the last one is analysis.calendar_months",
    "efficacy_spending": "alpha spending: " + one_of(SPENDING),
    "gamma": "asHSD parameter",
    "rho": "asKD parameter",
    "efficacy_looks": "per look: may stop for efficacy (default all true)",
    "futility": "none | beta_spending | z | hr",
    "futility_looks": "per look: may stop for futility (default all interim looks)",
    "beta_spending": "with futility beta_spending: " + one_of(BETA_SPENDING),
    "beta_gamma": "bsHSD parameter",
    "beta_rho": "bsKD parameter",
    "binding_futility": "true: efficacy bounds assume futility stops are obeyed",
    "futility_z": "with futility z: Z bounds for the interim looks in order (stop if the efficacy-scale Z is below it)",
    "futility_hr": "with futility hr: HR bounds for the interim looks in order (stop if the observed HR is above it)",
    "harm_alpha": "sided 2: the lower (harm) side's share of alpha, in (0, alpha) (default alpha / 2: symmetric)",
    "harm_spending": "sided 2: alpha spending of the lower (harm) bound: " + one_of(("asOF", "asP", "asHSD", "asKD"))
    + " (default efficacy_spending)",
    "harm_gamma": "harm_spending asHSD parameter",
    "harm_rho": "harm_spending asKD parameter",
}


def valid_tests(design: str, endpoint: str) -> tuple[str, ...]:
    """Tests that answer the design's question, the default first (declared in the design registry)."""
    return registry.valid_tests(design, endpoint)


def _population(node: Node, cells: Cells = IHC_ONLY) -> tuple[tuple[int, ...], str]:
    def codes_of(item: Node) -> tuple[tuple[int, ...], int]:
        if cells.hr_status:
            return keys.cells_of(item, cells)
        codes_, single = keys.category_or_group(item)
        return codes_, keys.RANK_CATEGORY if single else keys.RANK_GROUP

    if isinstance(node.value, dict):
        node.mapping(("name", "categories"), "a mapping {name, categories}")
        name = node.require("name").text()
        codes: set[int] = set()
        for item in node.require("categories").elements(allow_scalar=True):
            codes.update(codes_of(item)[0])
        if not codes:
            raise node.child("categories").error("must not be empty", allowed="at least one category or group")
        return tuple(sorted(codes)), name
    if not isinstance(node.value, str | int) or isinstance(node.value, bool):
        raise node.error("must be a category or group name, or {name, categories}",
                         allowed=keys.ALLOWED_CELL_KEYS if cells.hr_status else keys.ALLOWED_CATEGORY_OR_GROUP)
    codes_, rank = codes_of(node)
    single = rank in (keys.RANK_CATEGORY, keys.RANK_CELL)
    # "HER2-ultralow" also parses as the category "ultralow": keep the group name the user wrote.
    her2 = str(node.value).strip().lower().split("/")[0]
    written_group = her2 in {g.lower() for g in GROUPS}
    return tuple(sorted(codes_)), keys.codes_name(codes_, group=written_group or not single, cells=cells)


def subgroup(node: Node, cells: Cells = IHC_ONLY) -> Subgroup:
    codes, name = _population(node, cells)
    return Subgroup(name, codes)


#: strata keywords that need population.hr_status, and the (IHC grouping, by HR) they mean
_HR_STRATA = {"by_hr_status": ("none", True), "by_category_and_hr_status": ("by_category", True),
              "by_group_and_hr_status": ("by_group", True)}


def _keyword_strata(kind: str, cells: Cells) -> dict[int, int] | None:
    """Strata of a keyword over the engine's indices (None: each index its own stratum)."""
    ihc, by_hr = _HR_STRATA.get(kind, (kind, False))
    if ihc == "by_category":
        by_category = {c: c for c in range(N_CATEGORIES)}
    elif ihc == "none":
        by_category = dict.fromkeys(range(N_CATEGORIES), 0)
    else:
        by_category = {c: g for g, members in enumerate(GROUPS.values()) for c in members}
    if not cells.hr_status:
        return None if kind == "by_category" else _canonical(by_category) if kind == "by_group" else by_category
    if kind == "by_category_and_hr_status":
        return None
    n_hr = len(HR_STATUSES)
    return _canonical({code: by_category[cells.category(code)] * n_hr + (cells.hr(code) if by_hr else 0)
                       for code in range(cells.n)})


def _strata(node: Node, assessable: tuple[int, ...], cells: Cells = IHC_ONLY) -> dict[int, int] | None:
    if isinstance(node.value, str):
        kinds = ("by_category", "by_group", "none") + (tuple(_HR_STRATA) if cells.hr_status else ())
        if not cells.hr_status and node.value in _HR_STRATA:
            raise node.error(f"{node.value} needs population.hr_status", allowed="by_category | by_group | none | "
                             "{name: [categories or groups]} (or add population.hr_status)")
        return _keyword_strata(node.text(kinds), cells)
    if not isinstance(node.value, dict) or not node.value:
        raise node.error("must be by_category, by_group, none or a mapping of stratum name to categories",
                         allowed="by_category | by_group | none | {name: [categories or groups]}")
    out: dict[int, int] = {}
    for index, (label, child) in enumerate(node.items()):
        members = child.elements(allow_scalar=True)
        if not members:
            raise child.error(f"stratum {label!r} is empty", allowed="at least one category or group")
        for item in members:
            codes = keys.cells_of(item, cells)[0] if cells.hr_status else keys.category_or_group(item)[0]
            for code in codes:
                if code in out:
                    raise item.error(f"{cells.name(code)} is already in another stratum",
                                     allowed="each category in one stratum")
                out[code] = index
    left = [c for c in range(cells.n) if c not in out]
    missing = [cells.name(c) for c in left if c in assessable]
    if missing:
        raise node.error(f"{', '.join(missing)} can be enrolled but is in no stratum",
                         allowed="strata covering every enrolled category")
    out.update(dict.fromkeys(left, len(node.value)))  # never enrolled: a stratum of their own, never seen
    return _canonical(out)


def default_strata(cells: Cells) -> dict[int, int] | None:
    """What an absent ``strata`` means: by_category (by IHC category, over HR status when the factor is present)."""
    return _keyword_strata("by_category", cells)


def _canonical(strata: dict[int, int]) -> dict[int, int]:
    # Number strata by their lowest category so the result never depends on mapping key order
    # (YAML writers may sort keys).
    order: dict[int, int] = {}
    for code in sorted(strata):
        order.setdefault(strata[code], len(order))
    return {code: order[strata[code]] for code in sorted(strata)}


def _flags(node: Node, n_looks: int) -> tuple[bool, ...]:
    items = node.elements()
    if len(items) != n_looks:
        raise node.error(f"needs one true/false per look ({n_looks})", allowed=f"a list of {n_looks} true/false")
    return tuple(i.boolean() for i in items)


def _sequential(node: Node, alpha: float, sided: int = 1) -> SequentialPlan:
    node.mapping(SEQUENTIAL_FIELDS)
    frac_node = node.require("information_fractions", "e.g. [0.5, 1.0]")
    fractions = frac_node.numbers(low=0.0, high=1.0, low_open=True)
    if len(fractions) < 2 or len(fractions) > 20:
        raise frac_node.error("needs 2 to 20 looks", allowed="a list such as [0.5, 1.0]")
    if any(b <= a for a, b in zip(fractions, fractions[1:], strict=False)) or abs(fractions[-1] - 1.0) > 1e-9:
        raise frac_node.error("must increase strictly and end at 1", allowed="e.g. [0.33, 0.67, 1.0]")
    k = len(fractions)
    spending = node.child("efficacy_spending").text(SPENDING) if node.get("efficacy_spending") else "asOF"
    gamma = rho = None
    for name, needed, bounds in (("gamma", "asHSD", GAMMA_RANGE), ("rho", "asKD", RHO_RANGE)):
        child = node.get(name)
        if spending == needed and child is None:
            raise node.child(name).error(f"{needed} spending needs {name}", allowed=f"a number in {list(bounds)}")
        if child is not None:
            if spending != needed:
                raise child.error(f"{name} applies only to {needed} spending", allowed=f"remove it, or use {needed}")
            value = child.number(low=bounds[0], high=bounds[1])
            gamma, rho = (value, rho) if name == "gamma" else (gamma, value)
    efficacy_looks = _flags(node.child("efficacy_looks"), k) if node.get("efficacy_looks") else None
    if efficacy_looks is not None and not efficacy_looks[-1]:
        raise node.child("efficacy_looks").error("the final look must allow an efficacy decision",
                                                 allowed="last value true")
    futility = node.child("futility").text(("none", "beta_spending", "z", "hr")) if node.get("futility") else "none"
    used = {"beta_spending": futility == "beta_spending", "beta_gamma": futility == "beta_spending",
            "beta_rho": futility == "beta_spending", "futility_z": futility == "z", "futility_hr": futility == "hr",
            "futility_looks": futility != "none", "binding_futility": futility != "none"}
    for name, ok in used.items():
        if node.get(name) is not None and not ok:
            raise node.child(name).error(f"{name} does not apply with futility {futility}",
                                         allowed="remove it, or choose the matching futility rule")
    beta_name = beta_gamma = beta_rho = None
    fut_z = fut_hr = None
    if futility == "beta_spending":
        if spending in ("OF", "P"):
            raise node.child("efficacy_spending").error("beta spending needs an alpha-spending function",
                                                        allowed="asOF | asP | asHSD | asKD")
        beta_name = node.require("beta_spending", one_of(BETA_SPENDING)).text(BETA_SPENDING)
        for name, needed, bounds in (("beta_gamma", "bsHSD", GAMMA_RANGE), ("beta_rho", "bsKD", RHO_RANGE)):
            child = node.get(name)
            if beta_name == needed and child is None:
                raise node.child(name).error(f"{needed} needs {name}", allowed=f"a number in {list(bounds)}")
            if child is not None:
                if beta_name != needed:
                    raise child.error(f"{name} applies only to {needed}", allowed=f"remove it, or use {needed}")
                value = child.number(low=bounds[0], high=bounds[1])
                beta_gamma, beta_rho = (value, beta_rho) if name == "beta_gamma" else (beta_gamma, value)
    elif futility in ("z", "hr"):
        name = f"futility_{futility}"
        child = node.require(name, f"{k - 1} values, one per interim look")
        values = child.numbers(low=0.0, low_open=True) if futility == "hr" else child.numbers()
        if len(values) > k - 1:
            # Bounds are read by look from the first interim on; later interim looks without one have none.
            raise child.error(f"at most one value per interim look ({k - 1})",
                              allowed=f"a list of 1 to {k - 1} numbers")
        fut_z, fut_hr = (values, None) if futility == "z" else (None, values)
    futility_looks = _flags(node.child("futility_looks"), k) if node.get("futility_looks") else None
    if futility_looks is not None and futility_looks[-1]:
        raise node.child("futility_looks").error("the final look tests efficacy only: a futility stop there has no "
                                                 "effect", allowed="last value false")
    binding = node.child("binding_futility").boolean() if node.get("binding_futility") is not None else False
    if binding and futility == "hr":
        # an HR bound is a Z bound only at a given number of events, which each trial observes: the
        # efficacy bounds cannot assume it (binding: true had no effect here, so it is refused)
        raise node.child("binding_futility").error(
            "binding futility needs Z bounds: an HR bound's Z depends on the events observed at each look",
            allowed="binding_futility: false, or futility: z with futility_z")
    if binding and futility == "z" and sided == 2 and spending in ("OF", "P"):
        raise node.child("binding_futility").error(
            f"a two-sided plan with binding futility_z needs an alpha-spending function (each side keeps "
            f"its alpha), got efficacy_spending {spending}",
            allowed="binding_futility: false, or efficacy_spending asOF | asP | asHSD | asKD")
    harm = _harm(node, alpha, sided, spending, futility, efficacy_looks)
    return SequentialPlan(
        information_fractions=tuple(fractions), efficacy_spending=spending, gamma=gamma, rho=rho,
        efficacy_looks=efficacy_looks, futility=None if futility == "none" else futility,
        futility_looks=futility_looks, beta_spending=beta_name, beta_gamma=beta_gamma, beta_rho=beta_rho,
        binding_futility=binding, futility_z=fut_z, futility_hr=fut_hr, **harm,
        calendar_months=_look_calendar_months(node, k),
    )


def _look_calendar_months(node: Node, n_looks: int) -> tuple[float | None, ...] | None:
    """``sequential.calendar_months``: one calendar maximum per look (null: none), not decreasing."""
    child = node.get("calendar_months")
    if child is None:
        return None
    allowed = f"a list of {n_looks} months > 0 or null, not decreasing, e.g. [30, 60]"
    items = child.elements()
    if len(items) != n_looks:
        raise child.error(f"needs one value per look ({n_looks}), got {len(items)}", allowed=allowed)
    values = tuple(None if item.value is None else item.number(low=0.0, low_open=True) for item in items)
    given = [v for v in values if v is not None]
    if not given:
        raise child.error("every look is null: no look has a calendar maximum",
                          allowed=f"{allowed}; or remove calendar_months")
    for a, b in zip(given, given[1:], strict=False):
        if b < a:
            # a later look due before an earlier one: the later maximum would silently cap the earlier look
            raise child.error(f"decreases from {a:g} to {b:g} months", allowed=allowed)
    return values


def _harm(node: Node, alpha: float, sided: int, spending: str, futility: str,
          efficacy_looks: tuple[bool, ...] | None) -> dict[str, Any]:
    """The lower (harm) bound of a two-sided plan; {} when symmetric or one-sided."""
    names = ("harm_alpha", "harm_spending", "harm_gamma", "harm_rho")
    if sided == 1:
        for name in names:
            if node.get(name) is not None:
                raise node.child(name).error(f"{name} applies only to two-sided plans (analysis.sided: 2)",
                                             allowed=f"remove {name}, or set sided: 2")
        return {}
    if efficacy_looks is not None and not all(efficacy_looks):
        raise node.child("efficacy_looks").error("a two-sided plan tests both sides at every look",
                                                 allowed="remove efficacy_looks")
    out: dict[str, Any] = {}
    if (child := node.get("harm_alpha")) is not None:
        out["harm_alpha"] = child.number(low=0.0, high=alpha, low_open=True, high_open=True)
    if (child := node.get("harm_spending")) is not None:
        out["harm_spending"] = child.text(("asOF", "asP", "asHSD", "asKD"))
    harm_spending = out.get("harm_spending")
    for name, needed, bounds in (("harm_gamma", "asHSD", GAMMA_RANGE), ("harm_rho", "asKD", RHO_RANGE)):
        child = node.get(name)
        if harm_spending == needed and child is None:
            raise node.child(name).error(f"harm_spending {needed} needs {name}", allowed=f"a number in {list(bounds)}")
        if child is not None:
            if harm_spending != needed:
                raise child.error(f"{name} applies only to harm_spending {needed}",
                                  allowed=f"remove it, or use harm_spending: {needed}")
            out[name] = child.number(low=bounds[0], high=bounds[1])
    if out and spending in ("OF", "P"):
        raise node.child("efficacy_spending").error("an asymmetric harm bound needs an alpha-spending function",
                                                    allowed="asOF | asP | asHSD | asKD")
    if out and futility == "beta_spending":
        raise node.child("futility").error("two-sided beta-spending futility needs symmetric bounds (as rpact)",
                                           allowed="remove harm_alpha / harm_spending, or futility: none")
    return out


def analysis(node: Node, *, design: str, endpoint: str, assessable: tuple[int, ...],
             cells: Cells = IHC_ONLY) -> Analysis:
    """Read the analysis block; ``assessable`` are the categories (cells) enrolled patients can be assessed as."""
    if node.missing or node.value is None:
        node = Node({}, file=node.file, path=node.path, mark=node.mark)
    node.mapping(ANALYSIS_FIELDS)
    tte = endpoint == "time_to_event"
    tests = valid_tests(design, endpoint)
    test_node = node.child("test")
    if test_node.missing:
        test = tests[0]
    else:
        test = test_node.text(SURVIVAL_TESTS + BINARY_TESTS + SINGLE_ARM_TTE_TESTS)
        if test not in tests:
            raise test_node.error(f"test {test!r} does not fit design {design} with a {endpoint} endpoint",
                                  allowed=one_of(tests))
    out: dict[str, Any] = {"test": test}

    def only(name: str, ok: bool, why: str) -> Node | None:
        child = node.get(name)
        if child is not None and not ok:
            raise child.error(f"{name} applies only to {why}", allowed=f"remove {name}")
        return child

    if (child := node.get("alpha")) is not None:
        out["alpha"] = child.number(low=0.0, high=0.5, low_open=True, high_open=True)
    if (child := node.get("sided")) is not None:
        out["sided"] = child.integer(low=1, high=2)
        if out["sided"] == 2 and design in ("noninferiority", *SINGLE_ARM):
            raise child.error("non-inferiority and single-arm (exact binomial, Simon) tests are one-sided",
                              allowed="1")
    if (child := only("target_events", tte, "time-to-event endpoints")) is not None:
        out["target_events"] = child.integer(low=1)
    if (child := only("calendar_months", tte, "time-to-event endpoints")) is not None:
        out["calendar_months"] = child.number(low=0.0, low_open=True)
    is_ni = design == "noninferiority"
    if (child := only("ni_margin", is_ni, "design noninferiority")) is not None:
        if tte:
            out["ni_margin"] = child.number(low=1.0, low_open=True)
        else:
            out["ni_margin"] = child.number(low=0.0, high=1.0, low_open=True, high_open=True)
    elif is_ni:
        allowed = "a hazard ratio > 1, e.g. 1.3" if tte else "a risk difference in (0, 1), e.g. 0.1"
        raise node.child("ni_margin").error("design noninferiority needs ni_margin", allowed=allowed)
    child = node.get("population")
    is_overall = child is not None and isinstance(child.value, str) and child.value.strip().lower() in ("overall", "all")
    if child is not None and not is_overall:
        only("population", design not in SINGLE_ARM, "two-arm designs (a single-arm design analyses everyone it "
             "enrols)")
    if child is not None:
        if isinstance(child.value, str) and child.value.strip().lower() in ("overall", "all"):
            pass
        else:
            codes, name = _population(child, cells)
            _check_reachable(child, codes, assessable, cells)
            out["population"], out["population_name"] = codes, name
    if (child := only("strata", test in STRATIFIED_TESTS, f"stratified tests ({one_of(STRATIFIED_TESTS)}); "
                      f"test {test} does not use analysis strata")) is not None:
        out["strata"] = _strata(child, assessable, cells)
    elif test in STRATIFIED_TESTS and cells.hr_status:
        out["strata"] = default_strata(cells)
    if (child := node.get("subgroups")) is not None:
        subgroups = []
        if isinstance(child.value, list) and len(child.value) > MAX_LIST_LENGTH:
            raise child.error(f"{len(child.value)} subgroups", allowed=f"at most {MAX_LIST_LENGTH}")
        for item in child.elements():
            sub = subgroup(item, cells)
            _check_reachable(item, sub.categories, assessable, cells)
            subgroups.append(sub)
        names = [s.name for s in subgroups]
        if len(set(names)) != len(names):
            raise child.error("subgroup names must be distinct", allowed="distinct names")
        out["subgroups"] = tuple(subgroups)
    if (child := only("multiplicity", bool(out.get("subgroups")), "a family of subgroups (give subgroups)")) is not None:
        out["multiplicity"] = child.text(MULTIPLICITY)
    if (child := only("interaction", design == "biomarker", "design biomarker")) is not None:
        child.mapping(("groups",), "a mapping {groups: [A, B]}")
        groups = child.require("groups", "two groups, e.g. [HER2-positive, HER2-low]").elements()
        if len(groups) != 2:
            raise child.child("groups").error("needs exactly two groups", allowed="[A, B]")
        pair = tuple(subgroup(g, cells) for g in groups)
        if set(pair[0].categories) & set(pair[1].categories):
            raise child.child("groups").error("the two groups overlap", allowed="disjoint groups")
        for g, sub in zip(groups, pair, strict=True):
            _check_reachable(g, sub.categories, assessable, cells)
        out["interaction"] = pair
    if design == "biomarker" and not (out.get("subgroups") or out.get("interaction")):
        raise node.child("subgroups").error("a biomarker design needs subgroups or an interaction test",
                                            allowed="subgroups: [...] and/or interaction: {groups: [A, B]}")
    fh = only("fleming_harrington", test == "fleming_harrington", "test fleming_harrington")
    if test == "fleming_harrington":
        fh = node.require("fleming_harrington", "{rho: >= 0, gamma: >= 0}")
        fh.mapping(("rho", "gamma"))
        # beyond 10 the weights S^rho (1 - S)^gamma underflow to 0 for most event times: no statistic left
        out["fh_rho"] = fh.require("rho").number(low=0.0, high=10.0)
        out["fh_gamma"] = fh.require("gamma").number(low=0.0, high=10.0)
    _nph_fields(node, test, out)
    if (child := only("landmark_months", tte, "time-to-event endpoints")) is not None:
        times = child.numbers(low=0.0, low_open=True)
        if len(times) > MAX_LIST_LENGTH:
            raise child.error(f"{len(times)} landmarks", allowed=f"at most {MAX_LIST_LENGTH}")
        out["landmark_months"] = tuple(sorted(times))
    single = design in SINGLE_ARM and design != "single_arm_tte"  # the binary single-arm designs: p0
    if (child := only("p0", single, "single-arm designs")) is not None:
        out["p0"] = child.number(low=0.0, high=1.0, low_open=True, high_open=True)
    elif single:
        raise node.child("p0").error(f"design {design} needs p0", allowed="a response rate in (0, 1)")
    simon = design == "simon_two_stage"
    if (child := only("p1", simon, "design simon_two_stage")) is not None:
        out["p1"] = child.number(low=0.0, high=1.0, low_open=True, high_open=True)
        if out["p1"] <= out["p0"]:
            raise child.error(f"p1 must exceed p0 ({out['p0']:g})", allowed=f"a rate in ({out['p0']:g}, 1)")
    elif simon:
        raise node.child("p1").error("design simon_two_stage needs p1", allowed="a target response rate > p0")
    seq = node.get("sequential")
    beta_ok = simon or (seq is not None and seq.get("futility") is not None and seq.child("futility").value
                        == "beta_spending")
    if (child := only("beta", beta_ok, "Simon designs and sequential beta spending")) is not None:
        out["beta"] = child.number(low=0.0, high=1.0, low_open=True, high_open=True)
    elif simon:
        out["beta"] = 0.2
    if (child := only("simon_kind", simon, "design simon_two_stage")) is not None:
        out["simon_kind"] = child.text(("optimal", "minimax"))
    if node.get("sequential") is not None and out.get("subgroups"):
        raise node.child("subgroups").error(
            "subgroup tests are not defined for group-sequential designs (at which look would they be tested?)",
            allowed="remove subgroups, or the sequential block")
    if (child := only("sequential", tte, "time-to-event endpoints")) is not None:
        out["sequential"] = _sequential(child, out.get("alpha", 0.025), out.get("sided", 1))
        _final_calendar_maximum(node, out)
    out.update(_cut_rules(node, design, tte, "sequential" in out))
    _single_arm_tte(node, design, test, out)
    analysis = Analysis(**out)
    if (problem := weighted_sequential_problem(analysis)) is not None:
        raise node.child("sequential").error(problem, allowed="the settings the message names")
    return analysis


def _single_arm_tte(node: Node, design: str, test: str, out: dict[str, Any]) -> None:
    """Design single_arm_tte: the reference curve / rate, the log-rank variance, patient-year futility looks."""
    from simtrial.scenario._models import survival_spec
    from simtrial.survival import PiecewiseExponential

    ours = design == "single_arm_tte"
    for name in ("reference", "reference_rate_per_patient_year", "interim_futility", "logrank_variance"):
        child = node.get(name)
        if child is not None and not ours:
            raise child.error(f"{name} applies only to design single_arm_tte", allowed=f"remove {name}")
    if not ours:
        return
    if (child := node.get("reference")) is not None:
        ref = survival_spec(child)
        out["reference"] = ref.value
        out["reference_sources"] = tuple(ref.sources or ())
        out["reference_note"] = ref.note
    if (child := node.get("reference_rate_per_patient_year")) is not None:
        out["reference_rate_per_patient_year"] = child.number(low=0.0, low_open=True)
    if test == "one_sample_logrank" and "reference" not in out:
        raise node.child("reference").error("test one_sample_logrank needs the reference survival curve",
                                            allowed="a survival model, e.g. {median_months: 24} or {from_evidence: id}")
    if test == "exact_poisson" and "reference_rate_per_patient_year" not in out:
        ref = out.get("reference")
        if isinstance(ref, PiecewiseExponential) and len(ref.hazard_per_month) == 1:
            out["reference_rate_per_patient_year"] = 12.0 * ref.hazard_per_month[0]
        else:
            why = "no reference is given" if ref is None else "the reference curve's hazard is not constant"
            raise node.child("reference_rate_per_patient_year").error(
                f"test exact_poisson needs a reference rate ({why})",
                allowed="events per patient-year > 0, or an exponential reference ({median_months: m})")
    child = node.get("logrank_variance")
    if child is not None:
        if test != "one_sample_logrank":
            raise child.error("logrank_variance applies only to test one_sample_logrank",
                              allowed="remove logrank_variance")
        out["logrank_variance"] = child.text(LOGRANK_VARIANCES)
    if (child := node.get("interim_futility")) is not None:
        items = child.elements()
        if not 1 <= len(items) <= 20:
            raise child.error(f"{len(items)} looks", allowed="1 to 20 looks {patient_years, max_events}")
        looks = []
        for item in items:
            item.mapping(("patient_years", "max_events"), "a mapping {patient_years, max_events}")
            looks.append((item.require("patient_years", "patient-years > 0").number(low=0.0, low_open=True),
                          item.require("max_events", "a whole number >= 0").integer(low=0)))
        if any(b[0] <= a[0] for a, b in zip(looks, looks[1:], strict=False)):
            raise child.error("patient_years must increase from look to look", allowed="increasing patient_years")
        out["interim_futility"] = tuple(looks)


_NPH_PARAMETERS = {
    "rmst_tau_months": ("rmst", "stratified_rmst"),
    "milestone_months": ("milestone", "milestone_cloglog"),
    "mwlr_t_star_months": ("modestly_weighted_logrank",),
}


def _nph_fields(node: Node, test: str, out: dict[str, Any]) -> None:
    """The non-proportional-hazards tests' parameters (issue 15), each required with its test only."""
    for name, tests in _NPH_PARAMETERS.items():
        child = node.get(name)
        if child is not None and test not in tests:
            raise child.error(f"{name} applies only to test {' / '.join(tests)}", allowed=f"remove {name}")
        if test in tests:
            out[name] = node.require(name, "a time in months > 0").number(low=0.0, low_open=True)
    child = node.get("maxcombo")
    if child is not None and test != "maxcombo":
        raise child.error("maxcombo applies only to test maxcombo", allowed="remove maxcombo")
    if test == "maxcombo":
        if node.get("sided") is not None and node.child("sided").value == 2:
            raise node.child("sided").error("MaxCombo is a one-sided test for benefit here (the p-value is "
                                            "P(max of the efficacy-scale Z's >= observed))", allowed="1")
        if child is not None:
            items = child.elements()
            if not 2 <= len(items) <= 4:
                raise child.error(f"{len(items)} components", allowed="2 to 4 components {rho, gamma}")
            comps = []
            for item in items:
                item.mapping(("rho", "gamma"), "a mapping {rho, gamma}")
                comps.append((item.require("rho").number(low=0.0, high=10.0),
                              item.require("gamma").number(low=0.0, high=10.0)))
            out["maxcombo"] = tuple(comps)
    if test in FIXED_DESIGN_TESTS and node.get("sequential") is not None:
        raise node.child("sequential").error(
            f"test {test} is fixed-design only here: its group-sequential form needs the joint law of the "
            "statistic across looks, which simtrial does not estimate (log-rank, Cox, fleming_harrington, "
            "modestly_weighted_logrank and maxcombo have one)",
            allowed="remove sequential, or a log-rank-type test")


def _check_reachable(node: Node, codes: tuple[int, ...], assessable: tuple[int, ...],
                     cells: Cells = IHC_ONLY) -> None:
    if not set(codes) & set(assessable):
        raise node.error("no enrolled patient can belong to this population",
                         allowed="categories that can be enrolled: " + ", ".join(cells.name(c) for c in assessable))


def strata_dict(strata: Mapping[int, int] | None, cells: Cells = IHC_ONLY) -> str | dict[str, list[str]]:
    """Strata (category -> stratum, None = each category or cell) written out as ``_strata`` reads them back."""
    if strata is None:
        return "by_category_and_hr_status" if cells.hr_status else "by_category"
    if cells.hr_status:  # a keyword reads better than twelve cell names (and reads back the same)
        for kind in ("by_category", "by_group", "by_hr_status", "by_group_and_hr_status", "none"):
            if _keyword_strata(kind, cells) == dict(strata):
                return kind
    by_index: dict[int, list[int]] = {}
    for code, index in strata.items():
        by_index.setdefault(index, []).append(code)
    return {keys.codes_name(tuple(v), cells=cells): keys.names(tuple(v), cells) for _, v in sorted(by_index.items())}


def _final_calendar_maximum(node: Node, out: dict[str, Any]) -> None:
    """The final entry of ``sequential.calendar_months`` is ``analysis.calendar_months``: equal, or it supplies it."""
    per_look = out["sequential"].calendar_months
    if per_look is None:
        return
    final = per_look[-1]
    given = out.get("calendar_months")
    if given is None:
        if final is not None:
            out["calendar_months"] = final
        return
    if final != given:
        said = "null (no maximum)" if final is None else f"{final:g}"
        raise node.child("sequential").child("calendar_months").error(
            f"the final look's calendar maximum ({said}) contradicts analysis.calendar_months ({given:g})",
            allowed=f"a final entry of {given:g}, or remove analysis.calendar_months")


def _cut_rules(node: Node, design: str, tte: bool, sequential: bool) -> dict[str, float]:
    """The floors of the cut rules: minimum follow-up after the last entry, minimum gap between looks."""
    out: dict[str, float] = {}
    why = "two-arm time-to-event designs (single_arm_tte has its own looks: interim_futility)"
    two_arm_tte = tte and design not in SINGLE_ARM
    for name in ("min_followup_after_last_entry_months", "min_months_after_previous_look"):
        child = node.get(name)
        if child is None:
            continue
        if not two_arm_tte:
            raise child.error(f"{name} applies only to {why}", allowed=f"remove {name}")
        if name == "min_months_after_previous_look" and not sequential:
            raise child.error("a minimum time between looks needs group-sequential looks",
                              allowed="an analysis.sequential block, or remove min_months_after_previous_look")
        out[name] = child.number(low=0.0, low_open=True)
    return out


def analysis_dict(a: Analysis, cells: Cells = IHC_ONLY) -> dict[str, Any]:
    """The analysis block written out in full (defaults filled, names canonical)."""
    out: dict[str, Any] = {"test": a.test, "alpha": a.alpha, "sided": a.sided}
    for name in ("target_events", "calendar_months", "min_followup_after_last_entry_months",
                 "min_months_after_previous_look", "ni_margin"):
        if getattr(a, name) is not None:
            out[name] = getattr(a, name)
    out["population"] = "overall" if a.population is None else {
        "name": a.population_name, "categories": keys.names(a.population, cells)}
    if a.test in STRATIFIED_TESTS:
        out["strata"] = strata_dict(a.strata, cells)
    out["subgroups"] = [{"name": s.name, "categories": keys.names(s.categories, cells)} for s in a.subgroups]
    if a.subgroups:
        out["multiplicity"] = a.multiplicity
    if a.interaction is not None:
        out["interaction"] = {"groups": [{"name": s.name, "categories": keys.names(s.categories, cells)}
                                         for s in a.interaction]}
    if a.test == "fleming_harrington":
        out["fleming_harrington"] = {"rho": a.fh_rho, "gamma": a.fh_gamma}
    for name in _NPH_PARAMETERS:
        if getattr(a, name) is not None:
            out[name] = getattr(a, name)
    if a.test == "maxcombo":
        from simtrial.spec.engine import DEFAULT_MAXCOMBO

        out["maxcombo"] = [{"rho": r, "gamma": g} for r, g in (a.maxcombo or DEFAULT_MAXCOMBO)]
    if a.landmark_months:
        out["landmark_months"] = list(a.landmark_months)
    for name in ("p0", "p1", "beta"):
        if getattr(a, name) is not None:
            out[name] = getattr(a, name)
    if a.p1 is not None:
        out["simon_kind"] = a.simon_kind
    if a.reference is not None:
        from simtrial.scenario._models import model_spec

        ref = model_spec(a.reference)
        if a.reference_sources:
            ref["source"] = list(a.reference_sources)
        if a.reference_note:
            ref["note"] = a.reference_note
        out["reference"] = ref
    if a.reference_rate_per_patient_year is not None:
        out["reference_rate_per_patient_year"] = a.reference_rate_per_patient_year
    if a.logrank_variance is not None:
        out["logrank_variance"] = a.logrank_variance
    if a.interim_futility:
        out["interim_futility"] = [{"patient_years": py, "max_events": k} for py, k in a.interim_futility]
    if a.sequential is not None:
        s = a.sequential
        seq: dict[str, Any] = {"information_fractions": list(s.information_fractions),
                               "efficacy_spending": s.efficacy_spending,
                               "futility": s.futility or "none"}
        for name in ("gamma", "rho", "efficacy_looks", "futility_looks", "beta_spending", "beta_gamma",
                     "beta_rho", "futility_z", "futility_hr", "harm_alpha", "harm_spending", "harm_gamma",
                     "harm_rho", "calendar_months"):
            value = getattr(s, name)
            if value is not None:
                seq[name] = list(value) if isinstance(value, tuple) else value
        if s.futility is not None:
            seq["binding_futility"] = s.binding_futility
        out["sequential"] = seq
    return out
