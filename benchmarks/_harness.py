"""What the benchmark scripts share: wall + CPU timing, machine load, targets with a verdict.

Every timing is taken twice: wall seconds (``time.perf_counter``) and the
process's CPU seconds (``time.process_time``, all threads of this process), so
a figure measured on a shared machine can be read per core.

A target is a named value of the script's JSON output and a bound on it.  The
output gets a ``"targets"`` object ``{name: {"target": "<= 2.0", "value": x,
"ok": bool, "source": ...}}``; a target whose value could not be measured (rpact
without R) goes to ``"targets_skipped"`` with the reason instead.  ``--check``
makes the script exit 1 when any target fails, naming the failures on stderr;
``--target NAME=VALUE`` replaces a target's bound (CI on another machine, and
the tests, which force a failure with it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EXIT_TARGET_FAILED = 1


@dataclass(frozen=True)
class Target:
    name: str  # key of the measured value in the script's output
    op: str  # "<=" or ">="
    bound: float
    source: str  # where the bound comes from

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">="):
            raise ValueError(f"target {self.name}: op must be '<=' or '>=', got {self.op!r}")

    def holds(self, value: float) -> bool:
        return value <= self.bound if self.op == "<=" else value >= self.bound


@dataclass(frozen=True)
class Timing:
    wall: float  # median wall seconds over the repeats
    cpu: float  # median process CPU seconds over the repeats
    out: Any = None  # what the last call returned


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def timed(fn: Callable[[], Any], repeats: int) -> Timing:
    """Median wall and median CPU seconds of ``repeats`` calls (warm up before calling this)."""
    walls, cpus, out = [], [], None
    for _ in range(max(1, repeats)):
        start = clock()
        out = fn()
        wall, cpu = since(start)
        walls.append(wall)
        cpus.append(cpu)
    return Timing(statistics.median(walls), statistics.median(cpus), out)


def machine() -> dict[str, Any]:
    """Cores and load, taken when the script starts; ``finish`` adds the load at the end."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count()
    return {"cpu_count": os.cpu_count(), "cpus_available": available, "loadavg_before": _load()}


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on one line")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails (named on stderr)")
    parser.add_argument(
        "--target", action="append", default=[], metavar="NAME=VALUE",
        help="replace the bound of target NAME (repeatable)",
    )


def resolve(targets: list[Target], overrides: list[str], parser: argparse.ArgumentParser) -> list[Target]:
    """The targets with ``--target NAME=VALUE`` bounds applied; an unknown name is a usage error."""
    by_name = {t.name: t for t in targets}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or name not in by_name:
            parser.error(f"--target {item!r}: expected NAME=VALUE with NAME one of {sorted(by_name)}")
        try:
            bound = float(value)
        except ValueError:
            parser.error(f"--target {item!r}: {value!r} is not a number")
        old = by_name[name]
        by_name[name] = Target(old.name, old.op, bound, f"--target override (was {old.op} {old.bound:g})")
    return [by_name[t.name] for t in targets]


def evaluate(
    targets: list[Target], result: dict[str, Any], skipped: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Verdicts for the targets whose value is in ``result``; the others with the reason."""
    verdicts: dict[str, Any] = {}
    not_measured: dict[str, str] = {}
    for t in targets:
        value = result.get(t.name)
        if value is None:
            not_measured[t.name] = (skipped or {}).get(t.name, "value not measured")
            continue
        verdicts[t.name] = {
            "target": f"{t.op} {t.bound:g}", "value": value, "ok": bool(t.holds(float(value))),
            "source": t.source,
        }
    return verdicts, not_measured


def finish(
    result: dict[str, Any], targets: list[Target], args: argparse.Namespace,
    skipped: dict[str, str] | None = None,
) -> int:
    """Add the verdicts and the end load to ``result``, print it, return the exit code."""
    verdicts, not_measured = evaluate(targets, result, skipped)
    result["targets"] = verdicts
    result["targets_skipped"] = not_measured
    result["all_targets_ok"] = all(v["ok"] for v in verdicts.values())
    result.setdefault("machine", {})["loadavg_after"] = _load()
    print(json.dumps(result, indent=None if args.json else 2))
    failed = [name for name, v in verdicts.items() if not v["ok"]]
    if args.check and failed:
        for name in failed:
            v = verdicts[name]
            print(f"target failed: {name} = {v['value']} (target {v['target']}; {v['source']})", file=sys.stderr)
        return EXIT_TARGET_FAILED
    return 0
