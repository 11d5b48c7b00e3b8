"""The layers of docs/DESIGN.md, checked on the import statements (parsed with ``ast``, not run).

designs/* know the trial (simtrial.spec), never the file it came from (simtrial.scenario);
spec/* is the bottom of the trial-as-data stack; scenario/* builds a trial and asks the
design registry what a design accepts, never a design's internals.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simtrial"


def _imports(path: Path) -> set[str]:
    """Absolute names of what ``path`` imports: ``import a.b`` gives a.b, ``from a.b import c`` gives a.b.c."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


def _modules(sub: str) -> list[Path]:
    return sorted(p for p in (PACKAGE / sub).rglob("*.py") if "__pycache__" not in p.parts)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _offending(sub: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> dict[str, list[str]]:
    out = {}
    for path in _modules(sub):
        bad = sorted(
            name for name in _imports(path)
            if any(_within(name, f) for f in forbidden) and not any(_within(name, a) for a in allowed)
        )
        if bad:
            out[str(path.relative_to(ROOT))] = bad
    return out


def test_the_walk_finds_the_packages() -> None:
    for sub in ("designs", "spec", "scenario"):
        assert len(_modules(sub)) >= 3, sub
    assert "simtrial.spec.trial.Trial" in _imports(PACKAGE / "spec" / "__init__.py")


def test_designs_never_import_the_scenario_loader() -> None:
    assert not _offending("designs", ("simtrial.scenario",))


@pytest.mark.parametrize("module", ["power.py", "samplesize.py"])
def test_power_and_sample_size_take_the_trial_from_spec(module: str) -> None:
    assert not {n for n in _imports(PACKAGE / module) if _within(n, "simtrial.scenario")}


def test_spec_imports_no_layer_above_it() -> None:
    forbidden = ("simtrial.designs", "simtrial.scenario", "simtrial.sequential", "simtrial.engine",
                 "simtrial.calibrate", "numba", "scipy")
    assert not _offending("spec", forbidden)


def test_scenario_reads_only_the_design_registry() -> None:
    assert not _offending("scenario", ("simtrial.designs",), allowed=("simtrial.designs.registry",))
    assert any(_within(n, "simtrial.designs.registry") for n in _imports(PACKAGE / "scenario" / "loader.py"))


def test_sequential_takes_its_names_from_spec() -> None:
    names = _imports(PACKAGE / "sequential" / "spending.py")
    assert "simtrial.spec.analysis.BETA_SPENDING" in names
