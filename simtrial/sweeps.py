"""Sensitivity sweeps: operating characteristics over a grid of scenario values, with common random numbers.

``sweep(scenario, plan)`` sets each grid point's values (``simtrial.spec.sweep``:
field paths such as ``arms.experimental.survival["IHC 2+/ISH+"].hazard_ratio``)
in the scenario's mapping, validates every point through the scenario loader
before anything runs (a bad point raises ``InvalidInput`` naming its path,
value and what the loader says), then runs each point with the same seed and
number of trials, so differences between points are not noise.

Which mapping: the scenario file as written (read again from
``scenario.path``) when every varied path leads to an existing field there
(the last key may be new); otherwise the resolved scenario
(``scenario.resolved``, where every category and default is written out).
A category key matches any spelling of the category (``"2+/ISH+"`` finds
``IHC 2+/ISH+``).  Varying an off-diagonal entry of a misclassification row,
``population.misclassification[TRUE][ASSESSED]``, moves the row's diagonal
(``[TRUE][TRUE]``) so the row still sums to 1.

Each point is a separate ``simtrial.power.run`` (or
``simtrial.precision.run_to_precision`` with ``target_mc_se``) on the same
executor: a point's numbers equal a plain run of that scenario with that
seed.  The result is one tidy row per point: the varied values, power (type I
error with ``null``) with its MC SE and 95% interval, the analytic figure,
expected events, duration and enrolment, N, and the probability of every
named decision (per subgroup) with its MC SE.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from simtrial.errors import InvalidInput
from simtrial.her2 import parse_category
from simtrial.power import PowerResult, run
from simtrial.scenario import load_scenario
from simtrial.scenario._yaml import read_yaml_file
from simtrial.scenario.loader import scenario_from_dict
from simtrial.spec import Scenario
from simtrial.spec.sweep import SweepPlan, Value, format_path


def _category(key: Any) -> int | None:
    if not isinstance(key, str):
        return None
    try:
        return parse_category(key)
    except ValueError:
        return None


def _match_key(mapping: Mapping, key: Any) -> Any | None:
    """The key of ``mapping`` that ``key`` names: itself, the same HER2 category spelt otherwise, or None."""
    if key in mapping:
        return key
    code = _category(key)
    if code is not None:
        for k in mapping:
            if _category(k) == code:
                return k
    return None


class _MissingField(InvalidInput):
    """A path leads through a field the mapping does not have."""


def set_path(data: Any, keys: tuple, value: Value, path: str) -> None:
    """Set ``value`` at ``keys`` in ``data`` (dicts and lists, in place); InvalidInput naming ``path`` if it cannot."""
    node = data
    for i, key in enumerate(keys[:-1]):
        where = format_path(keys[: i + 1])
        if isinstance(node, Mapping):
            found = _match_key(node, key)
            if found is None:
                known = ", ".join(str(k) for k in node) or "none"
                raise _MissingField(f"sweep {path}: the scenario has no field {where} (fields there: {known})")
            node = node[found]
        elif isinstance(node, list):
            if not isinstance(key, int) or not -len(node) <= key < len(node):
                raise _MissingField(f"sweep {path}: {where} is not an element of a list of {len(node)}")
            node = node[key]
        else:
            raise _MissingField(f"sweep {path}: {format_path(keys[:i])} is a value ({node!r}), not a mapping or list")
    last = keys[-1]
    if isinstance(node, Mapping):
        found = _match_key(node, last)
        node[last if found is None else found] = value
        _rebalance_misclassification(node, keys, found if found is not None else last)
    elif isinstance(node, list):
        if not isinstance(last, int) or not -len(node) <= last < len(node):
            raise _MissingField(f"sweep {path}: {format_path(keys)} is not an element of a list of {len(node)}")
        node[last] = value
    else:
        raise _MissingField(f"sweep {path}: {format_path(keys[:-1])} is a value ({node!r}), not a mapping or list")


def _rebalance_misclassification(row: dict, keys: tuple, written: Any) -> None:
    """``population.misclassification[T][A] = v`` with A != T: the diagonal ``[T][T]`` takes ``1 - (the rest)``."""
    if len(keys) != 4 or tuple(keys[:2]) != ("population", "misclassification"):
        return
    true, assessed = _category(keys[2]), _category(keys[3])
    if true is None or assessed is None or true == assessed:
        return
    diagonal = next((k for k in row if _category(k) == true), keys[2])
    try:
        rest = sum(Decimal(str(v)) for k, v in row.items() if k != diagonal)
    except (ArithmeticError, ValueError, TypeError):
        return  # a non-number: the loader names it
    row[diagonal] = float(Decimal(1) - rest)


def _point_text(plan: SweepPlan, values: tuple) -> str:
    return ", ".join(f"{p}={v!r}" for p, v in zip(plan.paths, values, strict=True))


@dataclass(frozen=True)
class SweepPoint:
    values: tuple[Value, ...]
    scenario: Scenario


def _raw(scenario: Scenario) -> dict | None:
    if not scenario.path or not Path(scenario.path).is_file():
        return None
    data, _ = read_yaml_file(scenario.path)
    return data if isinstance(data, dict) else None


def _base_mapping(scenario: Scenario, plan: SweepPlan) -> tuple[dict, str]:
    """The mapping the points are written into: the file as written if every path is there, else the resolved one."""
    candidates = []
    raw = _raw(scenario)
    if raw is not None:
        candidates.append((raw, "file"))
    candidates.append((copy.deepcopy(dict(scenario.resolved)), "resolved"))
    first_error = None
    for data, kind in candidates:
        trial = copy.deepcopy(data)
        try:
            for axis in plan.axes:
                set_path(trial, axis.keys, axis.values[0], axis.path)
        except _MissingField as err:
            first_error = first_error or err
            continue
        return data, kind
    raise InvalidInput(f"{first_error}; allowed: a field path of the scenario file, e.g. analysis.ni_margin") from None


def grid_points(scenario: Scenario, plan: SweepPlan) -> list[SweepPoint]:
    """Every grid point as a validated scenario (InvalidInput naming the first bad point's path and value)."""
    if not isinstance(plan, SweepPlan):
        raise InvalidInput(f"plan must be a SweepPlan, got {type(plan).__name__}")
    base, _kind = _base_mapping(scenario, plan)
    base.pop("sweep", None)
    where = scenario.path or "<scenario>"
    points = []
    for values in plan.points():
        data = copy.deepcopy(base)
        text = _point_text(plan, values)
        try:
            for axis, v in zip(plan.axes, values, strict=True):
                set_path(data, axis.keys, v, axis.path)
            point = scenario_from_dict(data, path=where)
        except InvalidInput as err:
            raise InvalidInput(f"sweep point {text}: {err}") from None
        points.append(SweepPoint(tuple(values), point))
    return points


def point_row(plan: SweepPlan, values: tuple, result: PowerResult, precision: dict | None = None) -> dict[str, Any]:
    """One tidy row: the varied values, then the operating characteristics of that point."""
    d = result.to_dict()
    label = "type_I_error" if result.null else "power"
    row: dict[str, Any] = {p: v for p, v in zip(plan.paths, values, strict=True)}
    row.update({
        "n_sims": result.n_sims,
        "seed": result.seed,
        label: result.power,
        f"{label}_mc_se": result.power_mc_se,
        f"{label}_ci_low": result.power_ci[0],
        f"{label}_ci_high": result.power_ci[1],
        f"analytic_{label}": d.get("analytic_power"),
        "mean_events": d.get("mean_events"),
        "mean_duration_months": d.get("mean_duration_months"),
        "mean_enrolled": d.get("mean_enrolled"),
        "n_patients": result.n_patients,
        "target_events": result.target_events,
        "hr_median": d.get("hr_median"),
    })
    for name, dec in (d.get("decisions") or {}).items():
        row[f"p_{name}"] = dec["probability"]
        row[f"p_{name}_mc_se"] = dec["mc_se"]
    if precision is not None:
        row["target_mc_se_reached"] = precision["reached"]
    return row


@dataclass(frozen=True)
class SweepResult:
    """A sweep's rows (one per grid point, in grid order) and the runs behind them."""

    scenario: str
    varied: tuple[str, ...]
    zip: bool
    null: bool
    seed: int
    alpha: float | None
    rows: tuple[dict[str, Any], ...]
    results: tuple[PowerResult, ...] = field(repr=False, compare=False, default=())
    precision: tuple[dict[str, Any], ...] | None = None

    @property
    def label(self) -> str:
        return "type_I_error" if self.null else "power"

    def worst_case(self) -> dict[str, Any] | None:
        """Under H0: the largest type I error over the grid, its point and MC SE (None under H1)."""
        if not self.null or not self.rows:
            return None
        i = max(range(len(self.rows)), key=lambda j: self.rows[j]["type_I_error"])
        row = self.rows[i]
        return {
            "type_I_error": row["type_I_error"], "mc_se": row["type_I_error_mc_se"], "alpha": self.alpha,
            "point": {p: row[p] for p in self.varied}, "index": i,
        }

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows))

    def to_dict(self) -> dict[str, Any]:
        from simtrial.power import _clean

        out = {
            "scenario": self.scenario, "varied": list(self.varied), "zip": self.zip, "null": self.null,
            "hypothesis": "H0 (type I error)" if self.null else "H1 (power)", "seed": self.seed,
            "n_points": len(self.rows), "rows": [dict(r) for r in self.rows],
        }
        if self.null:
            out["worst_case"] = self.worst_case()
        if self.precision is not None:
            out["precision"] = list(self.precision)
        return _clean(out)


def _one_engine_run(points, n_sims, seed, null, threads, executor, progress) -> list[PowerResult] | None:
    """Every point's run as parameter variants of one engine run, or None where the structure differs.

    Only parameters (arm models, dropout, accrual, the mix) may differ between
    points for this; a sweep over N, events, looks, misclassification or the
    analysis runs its points separately (each on the same seed, so the numbers
    are the same either way: a trial's numbers depend only on the seed, its
    index and its parameters).
    """
    from simtrial.designs import get_design
    from simtrial.errors import check_n_sims, check_seed
    from simtrial.power import summarize

    if len(points) < 2:
        return None
    first = points[0].scenario
    design = get_design(first.design, first.endpoint)
    if not hasattr(design, "run_variants") or any(
        (p.scenario.design, p.scenario.endpoint) != (first.design, first.endpoint) for p in points
    ):
        return None
    try:
        outcomes = design.run_variants([p.scenario for p in points], n_sims=check_n_sims(n_sims),
                                       seed=check_seed(seed), null=null, threads=threads, executor=executor,
                                       progress=progress)
    except ValueError as err:
        if isinstance(err, InvalidInput):
            raise
        return None  # the specs differ in structure: separate runs
    return [summarize(p.scenario, o) for p, o in zip(points, outcomes, strict=True)]


def sweep(
    scenario: Scenario | str | Path,
    plan: SweepPlan | None = None,
    *,
    n_sims: int | None = None,
    seed: int | None = None,
    null: bool = False,
    threads: int | None = None,
    executor: Any = None,
    progress: Callable[[int], None] | None = None,
    target_mc_se: float | None = None,
    max_sims: int | None = None,
    on_point: Callable[[int, int], None] | None = None,
    with_assurance: bool = True,
) -> SweepResult:
    """Run every point of ``plan`` (default: the scenario's ``sweep:`` block) with one seed; see the module docstring.

    ``n_sims`` / ``seed``: for every point (default: the base scenario's).
    ``target_mc_se``: each point runs to that MC SE (``simtrial.precision``;
    ``n_sims`` is then the block size, ``max_sims`` the cap).
    ``on_point(i, n)`` is called before point ``i`` of ``n`` runs.
    Where a point has a ``prior:`` block (and not under ``null``), its row
    also gets assurance over that prior, at the point's run size and seed
    (``with_assurance=False`` skips it).
    """
    from simtrial.probability_of_success import assurance

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    plan = scenario.sweep if plan is None else plan
    if plan is None:
        raise InvalidInput("sweep: nothing varies; allowed: --vary PATH=VALUES, or a sweep: block in the scenario")
    n_sims = scenario.simulation.n_sims if n_sims is None else n_sims
    seed = scenario.simulation.seed if seed is None else seed
    if target_mc_se is not None:
        from simtrial.precision import DEFAULT_BLOCK_SIMS, DEFAULT_MAX_SIMS, check_precision_args

        block = DEFAULT_BLOCK_SIMS if n_sims is None else n_sims
        check_precision_args(target_mc_se, block, DEFAULT_MAX_SIMS if max_sims is None else max_sims)
    points = grid_points(scenario, plan)  # everything validated before anything runs
    shared = None if target_mc_se is not None else _one_engine_run(points, n_sims, seed, null, threads, executor,
                                                                   progress)
    rows, results, precision = [], [], []
    for i, point in enumerate(points):
        if on_point is not None:
            on_point(i, len(points))
        if shared is not None:
            result = shared[i]
            info = None
        elif target_mc_se is None:
            result = run(point.scenario, n_sims=n_sims, seed=seed, null=null, threads=threads, executor=executor,
                         progress=progress)
            info = None
        else:
            from simtrial.precision import DEFAULT_MAX_SIMS, run_to_precision

            result, prec = run_to_precision(
                point.scenario, target_mc_se, block_sims=n_sims, max_sims=DEFAULT_MAX_SIMS if max_sims is None else max_sims,
                seed=seed, null=null, threads=threads, executor=executor, progress=progress,
            )
            info = prec.to_dict()
            precision.append({**{p: v for p, v in zip(plan.paths, point.values, strict=True)}, **info})
        row = point_row(plan, point.values, result, info)
        if point.scenario.prior is not None and not null and with_assurance:
            # the same seed: the point's trials again, each with its own draw from the prior
            a = assurance(point.scenario, n_sims=result.n_sims, seed=seed, threads=threads, executor=executor,
                          progress=progress, central_sims=0)
            row.update({"assurance": a.assurance, "assurance_mc_se": a.assurance_mc_se,
                        "analytic_assurance": a.analytic_assurance})
        rows.append(row)
        results.append(result)
    return SweepResult(
        scenario=scenario.name, varied=plan.paths, zip=plan.zip, null=bool(null), seed=int(seed),
        alpha=float(scenario.analysis.alpha) if scenario.analysis.alpha is not None else None,
        rows=tuple(rows), results=tuple(results), precision=tuple(precision) if target_mc_se is not None else None,
    )
