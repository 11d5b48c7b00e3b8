"""What each design accepts, declared once: endpoints, tests, required and refused fields.

The loader (``simtrial.scenario``), ``simtrial validate``, the sample-size
search and the docs' test table (``scenarios/README.md``, checked by
``tests/test_registry.py``) all read ``REGISTRY``; ``get_design`` routes a
(design, endpoint) pair to its implementation through it.  This module
imports only ``simtrial.spec`` (no design implementation, no scipy, no
numba), so the loader can use it cheaply.

Field paths are ``Trial`` attribute paths (``analysis.ni_margin``,
``population.eligible``, ``control_response``); ``validate(trial)`` returns
``(field_path, message)`` pairs for what the registry can express.  The
loader makes finer checks (ranges, reachability) with file positions.

Adding a design: its module under ``simtrial/designs``, its implementation in
``simtrial.designs.DESIGNS``, a ``DesignInfo`` here (and its name in
``simtrial.spec.DESIGNS``), a row in the README table, tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from simtrial.spec.analysis import SINGLE_ARM_TTE_TESTS, SURVIVAL_TESTS
from simtrial.spec.trial import DESIGNS, ENDPOINTS, Trial

TIME_TO_EVENT = "time_to_event"
BINARY = "binary"


@dataclass(frozen=True)
class DesignInfo:
    """One design's declaration.

    ``endpoints``: the endpoints it runs on, the default first.  ``tests``:
    per endpoint, the tests that answer its question, the default first.
    ``single_arm``: no control arm.  ``sequential``: accepts a
    group-sequential plan (``analysis.sequential``).  ``requires`` /
    ``refuses``: field paths that must be given / must be absent;
    ``requires_one_of``: groups of which at least one must be given.
    ``runs_as``: per endpoint, the implementation in
    ``simtrial.designs.DESIGNS`` when it is not the design's own name.
    ``endpoint_notes``: why an endpoint is refused, where there is more to say.
    """

    name: str
    endpoints: tuple[str, ...]
    tests: Mapping[str, tuple[str, ...]]
    single_arm: bool = False
    sequential: bool = False
    requires: tuple[str, ...] = ()
    refuses: tuple[str, ...] = ()
    summary: str = ""
    requires_one_of: tuple[tuple[str, ...], ...] = ()
    runs_as: Mapping[str, str] = field(default_factory=dict)
    endpoint_notes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("tests", "runs_as", "endpoint_notes"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        assert self.endpoints and set(self.endpoints) <= set(ENDPOINTS), self.endpoints
        assert set(self.tests) == set(self.endpoints), (self.name, tuple(self.tests))
        assert all(self.tests[e] for e in self.endpoints), self.name

    @property
    def default_endpoint(self) -> str:
        return self.endpoints[0]

    def valid_tests(self, endpoint: str) -> tuple[str, ...]:
        """Tests for ``endpoint``, the default first; () for an endpoint the design does not run on."""
        return self.tests.get(endpoint, ())

    def implementation(self, endpoint: str) -> str:
        """The name in ``simtrial.designs.DESIGNS`` that runs this design on ``endpoint``."""
        return self.runs_as.get(endpoint, self.name)

    def endpoint_error(self, endpoint: str) -> str | None:
        """Why ``endpoint`` is refused (None when the design runs on it)."""
        if endpoint in self.endpoints:
            return None
        if endpoint in self.endpoint_notes:
            return self.endpoint_notes[endpoint]
        if len(self.endpoints) == 1:
            return f"design {self.name} has a {self.endpoints[0]} endpoint"
        return f"design {self.name} runs on {' or '.join(self.endpoints)} endpoints, not {endpoint}"


# fields only one kind of design uses: refused by every other
# the single-arm time-to-event fields (analysis.logrank_variance defaults to None, so it can be refused too)
_SINGLE_ARM_TTE_FIELDS = ("analysis.reference", "analysis.reference_rate_per_patient_year",
                          "analysis.logrank_variance", "analysis.interim_futility")
_TWO_ARM_REFUSES = ("analysis.p0", "analysis.p1", *_SINGLE_ARM_TTE_FIELDS)
_NOT_NI = ("analysis.ni_margin",)
_NOT_BIOMARKER = ("analysis.interaction",)
_TWO_ARM_BINARY = {BINARY: ("chi_square", "cmh")}

REGISTRY: Mapping[str, DesignInfo] = MappingProxyType({info.name: info for info in (
    DesignInfo(
        "superiority", (TIME_TO_EVENT, BINARY), {TIME_TO_EVENT: SURVIVAL_TESTS, **_TWO_ARM_BINARY},
        sequential=True, refuses=(*_NOT_NI, *_NOT_BIOMARKER, *_TWO_ARM_REFUSES),
        summary="experimental better than control in the primary analysis population",
        runs_as={BINARY: "binary"},
    ),
    DesignInfo(
        "noninferiority", (TIME_TO_EVENT, BINARY),
        # the margin is on the hazard ratio estimate (Cox) or on the risk difference
        {TIME_TO_EVENT: ("cox", "stratified_cox"), BINARY: ("risk_difference_ni",)},
        sequential=True, requires=("analysis.ni_margin",), refuses=(*_NOT_BIOMARKER, *_TWO_ARM_REFUSES),
        summary="experimental not worse than control by more than ni_margin (IHC-stratified de-escalation)",
        runs_as={BINARY: "binary"},
    ),
    DesignInfo(
        "biomarker", (TIME_TO_EVENT,), {TIME_TO_EVENT: SURVIVAL_TESTS},
        refuses=(*_NOT_NI, *_TWO_ARM_REFUSES),
        requires_one_of=(("analysis.subgroups", "analysis.interaction"),),
        summary="all-comers: overall and subgroup tests under a multiplicity rule, treatment x biomarker interaction",
        endpoint_notes={BINARY: "design: biomarker subgroup and interaction tests are time-to-event only; "
                                "for a binary endpoint use design binary with test cmh (stratified by IHC)"},
    ),
    DesignInfo(
        "enrichment", (TIME_TO_EVENT, BINARY), {TIME_TO_EVENT: SURVIVAL_TESTS, **_TWO_ARM_BINARY},
        sequential=True, requires=("population.eligible",),
        refuses=("population.fixed_counts", *_NOT_NI, *_NOT_BIOMARKER, *_TWO_ARM_REFUSES),
        summary="superiority in a trial enrolling only the eligible assessed categories",
        runs_as={BINARY: "binary"},
    ),
    DesignInfo(
        "binary", (BINARY,), dict(_TWO_ARM_BINARY),
        refuses=(*_NOT_NI, *_NOT_BIOMARKER, *_TWO_ARM_REFUSES),
        summary="two-arm randomised trial on a binary endpoint (pCR, ORR)",
    ),
    DesignInfo(
        "single_arm_binary", (BINARY,), {BINARY: ("exact_binomial",)}, single_arm=True,
        requires=("analysis.p0",),
        refuses=("analysis.p1", "analysis.population", *_NOT_NI, *_NOT_BIOMARKER, *_SINGLE_ARM_TTE_FIELDS),
        summary="single-arm exact one-sided binomial test against p0",
    ),
    DesignInfo(
        "simon_two_stage", (BINARY,), {BINARY: ("exact_binomial",)}, single_arm=True,
        requires=("analysis.p0", "analysis.p1"),
        refuses=("n_patients", "sample_size", "population.fixed_counts", "analysis.population",
                 *_NOT_NI, *_NOT_BIOMARKER, *_SINGLE_ARM_TTE_FIELDS),
        summary="Simon (1989) optimal or minimax two-stage single-arm design",
    ),
    DesignInfo(
        "single_arm_tte", (TIME_TO_EVENT,), {TIME_TO_EVENT: SINGLE_ARM_TTE_TESTS}, single_arm=True,
        requires_one_of=(("analysis.reference", "analysis.reference_rate_per_patient_year"),),
        refuses=("analysis.p0", "analysis.p1", "analysis.population", "analysis.subgroups", "analysis.landmark_months",
                 "analysis.beta", *_NOT_NI, *_NOT_BIOMARKER),
        summary="single-arm time to event: one-sample log-rank against a reference curve, or the exact Poisson "
                "test of events per patient-year against a reference rate, with patient-year futility looks",
        endpoint_notes={BINARY: "design single_arm_tte has a time-to-event endpoint; for a binary endpoint use "
                                "single_arm_binary or simon_two_stage"},
    ),
)})

assert tuple(REGISTRY) == DESIGNS, "simtrial.spec.DESIGNS and the registry must name the same designs"

SINGLE_ARM: tuple[str, ...] = tuple(name for name, info in REGISTRY.items() if info.single_arm)

# per endpoint: the arm fields it uses and the fields it has no use for
_ENDPOINT_ARMS = {TIME_TO_EVENT: ("control", "experimental"), BINARY: ("control_response", "experimental_response")}
_ENDPOINT_REFUSES = {
    TIME_TO_EVENT: ("control_response", "experimental_response"),
    BINARY: ("control", "experimental", "accrual", "analysis.target_events", "analysis.calendar_months",
             "analysis.landmark_months", "analysis.sequential"),
}


def info(design: str) -> DesignInfo:
    """The registration of ``design``; KeyError naming the designs when there is none."""
    try:
        return REGISTRY[design]
    except KeyError:
        raise KeyError(f"design must be one of {', '.join(REGISTRY)}; got {design!r}") from None


def valid_tests(design: str, endpoint: str) -> tuple[str, ...]:
    """Tests that answer ``design``'s question on ``endpoint``, the default first."""
    return info(design).valid_tests(endpoint)


def _get(trial: Any, path: str) -> Any:
    value = trial
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _given(trial: Any, path: str) -> bool:
    value = _get(trial, path)
    if value is None:
        return False
    if isinstance(value, tuple | list | Mapping | str) and len(value) == 0:
        return False
    return True


def problems(trial: Trial) -> list[tuple[str, str, str]]:
    """``(field_path, problem, allowed)`` for every way ``trial`` breaks its design's registration."""
    design = REGISTRY.get(trial.design)
    if design is None:
        return [("design", f"unknown design {trial.design!r}", " | ".join(REGISTRY))]
    out: list[tuple[str, str, str]] = []
    endpoint = trial.endpoint
    if (why := design.endpoint_error(endpoint)) is not None:
        return [("endpoint", why, " | ".join(design.endpoints))]  # tests and fields depend on the endpoint
    tests = design.valid_tests(endpoint)
    if trial.analysis.test not in tests:
        out.append(("analysis.test", f"test {trial.analysis.test!r} does not fit design {design.name} with a "
                                     f"{endpoint} endpoint", " | ".join(tests)))
    control, experimental = _ENDPOINT_ARMS[endpoint]
    needed = (experimental,) if design.single_arm else (control, experimental)
    for path in (*needed, *design.requires):
        if not _given(trial, path):
            out.append((path, f"design {design.name} needs {path}", "a value"))
    for group in design.requires_one_of:
        if not any(_given(trial, path) for path in group):
            out.append((group[0], f"design {design.name} needs {' or '.join(group)}", "at least one of them"))
    refused = dict.fromkeys(design.refuses, f"design {design.name} does not use {{}}")
    for path in _ENDPOINT_REFUSES[endpoint]:
        refused.setdefault(path, f"a {endpoint} endpoint does not use {{}}")
    if design.single_arm:
        for path in ("control", "control_response"):
            refused.setdefault(path, f"design {design.name} is single-arm: it has no {{}}")
    if not design.sequential:
        refused.setdefault("analysis.sequential", f"design {design.name} has no group-sequential form ({{}})")
    for path, why in refused.items():
        if _given(trial, path):
            out.append((path, why.format(path), "remove it"))
    return out


def validate(trial: Trial) -> list[tuple[str, str]]:
    """``(field_path, message)`` for every way ``trial`` breaks its design's registration; [] if none."""
    return [(path, f"{problem}; allowed: {allowed}") for path, problem, allowed in problems(trial)]


__all__ = ["REGISTRY", "SINGLE_ARM", "DesignInfo", "info", "problems", "valid_tests", "validate"]
