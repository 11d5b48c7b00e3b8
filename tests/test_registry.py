"""The design registry: one declaration per design, read by the loader, get_design and the docs' table."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from simtrial_cli.main import main

from simtrial.designs import DESIGNS, get_design
from simtrial.designs.registry import REGISTRY, SINGLE_ARM, DesignInfo, validate
from simtrial.scenario import scenario_from_dict
from simtrial.scenario._analysis import valid_tests
from simtrial.spec import (
    BINARY_TESTS,
    SURVIVAL_TESTS,
    Accrual,
    Analysis,
    Arm,
    Population,
    Simulation,
    Trial,
)
from simtrial.spec import DESIGNS as DESIGN_NAMES
from simtrial.spec.analysis import SINGLE_ARM_TTE_TESTS
from simtrial.survival import Exponential

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "scenarios" / "README.md"
ENDPOINT_WORDS = {"time to event": "time_to_event", "binary": "binary"}


def _readme_table() -> dict[tuple[str, str], tuple[str, ...]]:
    """(design, endpoint) -> tests, from the "Valid tests by design" table of scenarios/README.md."""
    text = README.read_text()
    start = text.index("Valid tests by design")
    rows: dict[tuple[str, str], tuple[str, ...]] = {}
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0].startswith("---") or cells[0] == "design / endpoint":
            continue
        designs, _, endpoint = cells[0].partition(" — ")
        tests = tuple(re.findall(r"`([a-z_]+)`", cells[1]))
        for design in (d.strip() for d in designs.split(",")):
            endpoints = [ENDPOINT_WORDS[endpoint.strip()]] if endpoint else list(REGISTRY[design].endpoints)
            for ep in endpoints:
                assert (design, ep) not in rows, f"README lists {design} / {ep} twice"
                rows[(design, ep)] = tests
    return rows


def test_the_readme_table_is_the_registry() -> None:
    table = _readme_table()
    declared = {(name, ep): info.tests[ep] for name, info in REGISTRY.items() for ep in info.endpoints}
    assert table == declared


def test_every_design_name_is_registered_once_with_known_tests() -> None:
    assert tuple(REGISTRY) == DESIGN_NAMES
    for name, info in REGISTRY.items():
        assert isinstance(info, DesignInfo) and info.name == name and info.summary
        for ep, tests in info.tests.items():
            known = SURVIVAL_TESTS + SINGLE_ARM_TTE_TESTS if ep == "time_to_event" else BINARY_TESTS
            assert set(tests) <= set(known), (name, ep)
            assert valid_tests(name, ep) == tests
    assert SINGLE_ARM == ("single_arm_binary", "simon_two_stage", "single_arm_tte")


def test_every_registered_design_has_an_implementation() -> None:
    for name, info in REGISTRY.items():
        for ep in info.endpoints:
            impl = info.implementation(ep)
            assert impl in DESIGNS, f"{name} on {ep} runs as {impl!r}, which simtrial.designs.DESIGNS lacks"
            assert get_design(name, ep) is DESIGNS[impl]
    # the documented route: two-arm designs on a binary endpoint run the two-arm binary test
    for name in ("superiority", "noninferiority", "enrichment"):
        assert get_design(name, "binary") is DESIGNS["binary"]
    assert set(DESIGNS) <= set(REGISTRY)


def test_get_design_refuses_what_the_registry_refuses() -> None:
    with pytest.raises(ValueError, match="time-to-event only"):
        get_design("biomarker", "binary")
    with pytest.raises(ValueError, match="design must be one of"):
        get_design("nosuch")


def test_the_registry_loads_without_the_implementations() -> None:
    import subprocess
    import sys

    code = ("import sys, simtrial.designs.registry, simtrial.scenario; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'scipy') "
            "or m in ('simtrial.designs.time_to_event', 'simtrial.designs.binary', 'simtrial.simulate')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


SCENARIO = {
    "name": "registry",
    "design": "noninferiority",
    "population": {"mix": {"IHC 3+": 1.0}},
    "arms": {"control": {"survival": {"all": {"median_months": 10}}},
             "experimental": {"survival": {"all": {"hazard_ratio": 1.0}}}},
    "n_patients": 300,
    "accrual": {"duration_months": 12},
    "analysis": {"test": "cox", "ni_margin": 1.3, "target_events": 200},
    "simulation": {"n_sims": 10, "seed": 1},
}


def _valid(design: str) -> dict:
    """A valid scenario of ``design`` on its default endpoint."""
    analysis: dict = {"target_events": 200}
    data = {**SCENARIO, "design": design, "analysis": analysis}
    if design == "noninferiority":
        analysis.update(test="cox", ni_margin=1.3)
    if design == "biomarker":
        data["population"] = {"mix": {"IHC 3+": 0.5, "IHC 1+": 0.5}}
        analysis["subgroups"] = ["IHC 3+"]
    if design == "enrichment":
        data["population"] = {"mix": {"IHC 3+": 0.5, "IHC 1+": 0.5}, "eligible": ["IHC 3+"]}
    if REGISTRY[design].default_endpoint == "binary":
        data.pop("accrual")
        data["arms"] = {"control": {"response": {"all": {"probability": 0.3}}},
                        "experimental": {"response": {"all": {"probability": 0.5}}}}
        data["analysis"] = analysis = {}
        if REGISTRY[design].single_arm:
            del data["arms"]["control"]
            analysis.update(p0=0.3)
        if design == "simon_two_stage":
            del data["n_patients"]
            analysis.update(p1=0.5, alpha=0.05)
    if design == "single_arm_tte":
        data["arms"] = {"experimental": {"survival": {"all": {"median_months": 14}}}}
        analysis["reference"] = {"median_months": 10}
    return data


@pytest.mark.parametrize("design", sorted(REGISTRY))
def test_the_loader_refuses_a_test_the_registry_does_not_list(design: str, tmp_path: Path) -> None:
    info = REGISTRY[design]
    endpoint = info.default_endpoint
    data = _valid(design)
    assert validate(scenario_from_dict(data)) == []
    assert scenario_from_dict(data).analysis.test == info.tests[endpoint][0]  # the default comes first
    wrong = next(t for t in SURVIVAL_TESTS + BINARY_TESTS if t not in info.tests[endpoint])
    data["analysis"]["test"] = wrong
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "analysis.test" in result.output and f"does not fit design {design}" in result.output
    assert "allowed: " + " | ".join(info.tests[endpoint]) in result.output


def test_the_loader_refuses_an_endpoint_the_registry_does_not_list(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**SCENARIO, "design": "binary", "endpoint": "time_to_event"}))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and "endpoint" in result.output and "has a binary endpoint" in result.output


def _trial(**changes) -> Trial:
    control = Arm("control", {5: Exponential(median_months=10.0)})
    base = Trial(
        name="hand-built", description="", design="noninferiority", endpoint="time_to_event",
        population=Population(mix={5: 1.0}), analysis=Analysis(test="cox", ni_margin=1.3, target_events=200),
        simulation=Simulation(n_sims=10, seed=1), n_patients=300, control=control, experimental=control,
        accrual=Accrual(duration_months=12),
    )
    return replace(base, **changes)


def test_validate_accepts_a_valid_hand_built_trial() -> None:
    assert validate(_trial()) == []


def test_validate_names_the_field_paths_of_a_hand_built_invalid_trial() -> None:
    bad = _trial(analysis=Analysis(test="logrank", target_events=200, p0=0.2), control=None)
    paths = dict(validate(bad))
    assert set(paths) == {"analysis.test", "analysis.ni_margin", "analysis.p0", "control"}
    assert "logrank" in paths["analysis.test"] and "cox | stratified_cox" in paths["analysis.test"]
    assert "needs analysis.ni_margin" in paths["analysis.ni_margin"]

    single = _trial(design="simon_two_stage", endpoint="binary", control=None, experimental=None, accrual=None,
                    analysis=Analysis(test="exact_binomial", p0=0.2), experimental_response={5: 0.4},
                    control_response={5: 0.2})
    paths = dict(validate(single))
    assert set(paths) == {"analysis.p1", "n_patients", "control_response"}
    assert "single-arm" in paths["control_response"]

    assert [p for p, _ in validate(_trial(endpoint="binary", design="biomarker"))] == ["endpoint"]
    assert [p for p, _ in validate(_trial(design="nosuch"))] == ["design"]
    assert dict(validate(_trial(design="biomarker", analysis=Analysis(target_events=200)))) == {
        "analysis.subgroups": "design biomarker needs analysis.subgroups or analysis.interaction; "
                              "allowed: at least one of them"}
