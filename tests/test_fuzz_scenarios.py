"""A fixed-seed fuzz of the shipped scenarios through `simtrial validate` (issue 10).

About 200 mutations (deleted fields, swapped types, extreme numbers, control
characters, alias bombs, deep nesting, huge lists, YAML 1.1 number forms):
every outcome is exit 0, or exit 2 with a message naming the file; never
exit 1, a traceback, or more than a few seconds per case.
"""

from __future__ import annotations

import copy
import random
import re
import resource
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from simtrial_cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
SEED = 20260310
N_CASES = 200
SECONDS_PER_CASE = 10.0

# cases whose exit 1 lies in code this test's author may not change: (case id) -> reason
KNOWN: dict[str, str] = {}

_SWAPS: tuple[Any, ...] = (
    "junk", "", -1, 0, None, [], {}, True, False, 1e308, -1e308, 5e-324, 10**30, -(10**30), 2**63, 2**64,
    [1, 2, 3], {"a": 1}, "8:44", "0x20C", "1_000", ".inf", ".nan", [[[]]], 0.5, 1e-300, 1e9, 10**9,
)
_EXTREME: tuple[Any, ...] = (0, -0.0, -1, 1e308, -1e308, 5e-324, 1e-12, 1e15, 10**18, 2**63 - 1, 2**63, 10**100,
                             1e9, 0.999999999, 1.000000001, 1e-300, 1e300)
_CONTROL = ("\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x9b", "\ufffe")


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in the (nested) data, the root excluded."""
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*prefix, key))
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.append((*prefix, i))
            out += _paths(value, (*prefix, i))
    return out


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: tuple, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _delete(data: Any, path: tuple) -> None:
    parent = _get(data, path[:-1])
    del parent[path[-1]]


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)


def _alias_bomb(levels: int, width: int) -> str:
    lines = [f"b0: &b0 [{', '.join(['x'] * width)}]"]
    lines += [f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _replace_value_text(text: str, key: str, new: str) -> str:
    """Replace the first numeric value of ``key`` (block or flow style) at the text level.

    Text level, because safe_dump would quote forms such as ``8:44``.
    """
    pattern = re.compile(r"(?<![\w+/-])(" + re.escape(key) + r"):[ \t]*[-+0-9.][^,}\]\n#]*")
    return pattern.sub(lambda m: f"{m.group(1)}: {new}", text, count=1)


def _mutate(rng: random.Random, name: str, text: str, data: dict) -> tuple[str, str]:
    """One mutation: (a short description, the new file text)."""
    kind = rng.choice(["delete", "delete", "swap", "swap", "extreme", "extreme", "control", "alias", "deep",
                       "huge_list", "yaml11", "duplicate", "text_cut"])
    paths = _paths(data)
    data = copy.deepcopy(data)
    if kind == "delete":
        path = rng.choice(paths)
        _delete(data, path)
        return f"delete {path}", _dump(data)
    if kind == "swap":
        path = rng.choice(paths)
        value = copy.deepcopy(rng.choice(_SWAPS))
        _set(data, path, value)
        return f"swap {path} -> {value!r}", _dump(data)
    if kind == "extreme":
        numeric = [p for p in paths if isinstance(_get(data, p), int | float) and not isinstance(_get(data, p), bool)]
        path = rng.choice(numeric or paths)
        value = rng.choice(_EXTREME)
        _set(data, path, value)
        return f"extreme {path} -> {value!r}", _dump(data)
    if kind == "control":
        char = rng.choice(_CONTROL)
        at = rng.randrange(len(text))
        return f"control {char!r} at {at}", text[:at] + char + text[at:]
    if kind == "alias":
        levels, width = rng.choice([(9, 9), (6, 10), (20, 2), (4, 30)])
        leaf = rng.choice([p for p in paths if len(p) >= 1])
        _set(data, leaf, "__BOMB__")
        return f"alias bomb {levels}x{width} at {leaf}", _alias_bomb(levels, width) + _dump(data).replace(
            "__BOMB__", f"*b{levels - 1}")
    if kind == "deep":
        depth = rng.choice([63, 65, 200, 1000, 3000])
        path = rng.choice(paths)
        nested: Any = 1
        for _ in range(min(depth, 60)):
            nested = [nested]
        _set(data, path, "__DEEP__")
        flow = "[" * depth + "1" + "]" * depth
        return f"deep {depth} at {path}", _dump(data).replace("'__DEEP__'", flow).replace("__DEEP__", flow)
    if kind == "huge_list":
        path = rng.choice(paths)
        size = rng.choice([1_000, 50_000, 120_000])
        _set(data, path, "__LIST__")
        flow = "[" + ", ".join(["0.5"] * size) + "]"
        return f"list of {size} at {path}", _dump(data).replace("'__LIST__'", flow).replace("__LIST__", flow)
    if kind == "yaml11":
        form = rng.choice(["8:44", "0x20C", "0o17", "017", "1_000", ".inf", "-.inf", ".nan", "!!float .inf",
                           "!!int 0x1F", "0b11", "1e999", "-1e999", "+.5e-3"])
        keys = [str(p[-1]) for p in paths if isinstance(p[-1], str) and isinstance(_get(data, p), int | float)]
        key = rng.choice(keys) if keys else "n_patients"
        return f"yaml11 {key}: {form}", _replace_value_text(text, key, form)
    if kind == "duplicate":
        lines = text.splitlines()
        i = rng.randrange(len(lines))
        return f"duplicate line {i + 1}", "\n".join(lines[: i + 1] + lines[i:]) + "\n"
    cut = rng.randrange(len(text))
    return f"truncate at {cut}", text[:cut]


def _cases() -> list[tuple[str, str, str]]:
    rng = random.Random(SEED)
    sources = [(p.name, p.read_text(encoding="utf-8")) for p in SHIPPED]
    parsed = {name: yaml.safe_load(text) for name, text in sources}
    cases = []
    for i in range(N_CASES):
        name, text = sources[i % len(sources)]
        what, mutated = _mutate(rng, name, text, parsed[name])
        cases.append((f"{i:03d}-{name.removesuffix('.yaml')}", what, mutated))
    return cases


CASES = _cases()


def _param(case_id: str, what: str, text: str):
    marks = [pytest.mark.xfail(reason=KNOWN[case_id], strict=False)] if case_id in KNOWN else []
    return pytest.param(what, text, id=case_id, marks=marks)


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("what, text", [_param(*case) for case in CASES])
def test_mutated_scenario_validates_or_is_refused_cleanly(
    runner: CliRunner, tmp_path: Path, what: str, text: str
) -> None:
    path = tmp_path / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.perf_counter()
    result = runner.invoke(main, ["validate", str(path)])
    elapsed = time.perf_counter() - start
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mb < 500, f"{what}: the process peak grew by {grown_mb:.0f} MB"
    out = result.output
    assert result.exit_code in (0, 2), f"{what}: exit {result.exit_code}: {out[-500:]} {result.exception!r}"
    assert "Traceback" not in out and "internal error" not in out, f"{what}: {out[-500:]}"
    if result.exit_code == 2:
        assert str(path) in out, f"{what}: the message does not name the file: {out[-500:]}"
        assert "allowed:" in out, f"{what}: the message does not say what is allowed: {out[-500:]}"
        assert len(out) < 2000, f"{what}: a {len(out)}-character message"
    assert elapsed < SECONDS_PER_CASE, f"{what}: {elapsed:.1f} s"


def test_the_fuzz_covers_every_kind_and_scenario() -> None:
    kinds = {what.split()[0] for _, what, _ in CASES}
    assert kinds >= {"delete", "swap", "extreme", "control", "alias", "deep", "list", "yaml11"}
    assert {case_id.split("-", 1)[1] for case_id, _, _ in CASES} == {p.stem for p in SHIPPED}
