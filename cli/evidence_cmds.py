"""`simtrial evidence` and `simtrial calibrate`: show the review's figures and check their models.

Listed in cli/main.py's ``COMMANDS``, which imports this module only when one
of these commands runs.  No statistics here: parse, call the API, print.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from pathlib import Path

import click
import pandas as pd

from simtrial.calibrate import DEFAULT_SEED, TOLERANCE_MC_SE, calibration_report
from simtrial.evidence import ENDPOINTS, EvidenceError, load_evidence, row_hr_status, subgroup_codes
from simtrial.her2 import parse_group, parse_hr_status

_TABLE_COLUMNS = (
    "id",
    "trial",
    "arm_role",
    "her2_subgroup",
    "endpoint",
    "statistic",
    "shown",
    "ci",
    "p",
)


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _trial_matches(frame: pd.DataFrame, trial: str) -> pd.Series:
    # "DB-03", "db03" and "DESTINY-Breast03" all name the same trial.
    wanted = _squash(trial).replace("destinybreast", "db")
    names = frame["trial"].map(lambda t: _squash(t).replace("destinybreast", "db"))
    return names == wanted


def _load(path: str | None) -> pd.DataFrame:
    try:
        return load_evidence(path)
    except EvidenceError as err:
        raise click.ClickException(str(err)) from err


def _format_value(row: pd.Series) -> str:
    value = row["value"]
    if row["statistic"] == "direction":
        return (
            f"{row['direction']} vs {row['comparator']}" if row["comparator"] else row["direction"]
        )
    if row["statistic"] == "median_months":
        return f"{value:g} mo"
    if row["statistic"] == "rate_at_months":
        return f"{100 * value:.1f}% at {row['time_months']:g} mo"
    if row["statistic"] == "proportion":
        counts = (
            f" ({row['numerator']}/{row['denominator']})" if not pd.isna(row["numerator"]) else ""
        )
        return f"{100 * value:.1f}%{counts}"
    return f"{value:g}"


def _format_ci(row: pd.Series) -> str:
    if math.isnan(row["ci_low"]):
        return ""
    scale = 100.0 if row["statistic"] in ("proportion", "rate_at_months") else 1.0
    return f"{scale * row['ci_low']:g}-{scale * row['ci_high']:g}"


def _format_p(row: pd.Series) -> str:
    if math.isnan(row["p_value"]):
        return ""
    return f"P{row['p_value_relation']}{row['p_value']:g}"


@click.command("evidence")
@click.option("--trial", help="Only this trial (e.g. DESTINY-Breast03, DB-03, DAISY, NALA).")
@click.option(
    "--subgroup",
    help="Only rows whose population includes this HER2 category or group (e.g. 'IHC 3+', HER2-low).",
)
@click.option("--endpoint", help=f"Only this endpoint ({', '.join(ENDPOINTS)}).")
@click.option(
    "--hr-status",
    help="Only figures restricted to this hormone-receptor status (HR+ or HR-; the review's ER+ / ER- rows "
    "count as HR+ / HR-).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False),
    help="Another evidence CSV (default: the review's).",
)
@click.option(
    "--maps",
    is_flag=True,
    help="Show the effect maps instead: per therapy class and HER2 category, the hazard ratio, its status "
    "(reported / derived: how / assumption: why) and its evidence ids; variants beside their default.",
)
@click.option("--map", "map_name", help="With --maps: only this map (e.g. T-DXd, TKI, 'T-DXd ultralow=DB-06').")
@click.option(
    "--unsupported",
    is_flag=True,
    help="Show, per scenario, every assumption with no evidence id behind it (and every evidence figure "
    "used beyond what it reports), plus header numbers that are neither evidence nor marked as assumptions.",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="With --unsupported: this scenario file (repeatable; default: every shipped scenario).",
)
def evidence_command(
    trial: str | None,
    subgroup: str | None,
    endpoint: str | None,
    hr_status: str | None,
    fmt: str,
    path: str | None,
    maps: bool,
    map_name: str | None,
    unsupported: bool,
    scenarios: tuple[str, ...],
) -> None:
    """The figures the HER2 review reports, per trial, arm and HER2 subgroup.

    With --maps, the effect maps built on them; with --unsupported, what each
    scenario assumes beyond them.
    """
    if maps and unsupported:
        raise click.UsageError("give --maps or --unsupported, not both")
    if maps or unsupported:
        given = [name for name, value in (("--trial", trial), ("--subgroup", subgroup), ("--endpoint", endpoint),
                                          ("--hr-status", hr_status)) if value is not None]
        if given:
            raise click.UsageError(f"{', '.join(given)}: these filter the evidence table and do not apply to "
                                   f"{'--maps' if maps else '--unsupported'}")
    if map_name is not None and not maps:
        raise click.UsageError("--map goes with --maps")
    if scenarios and not unsupported:
        raise click.UsageError("--scenario goes with --unsupported")
    if maps:
        _show_maps(_load(path), map_name, fmt)
        return
    if unsupported:
        if path is not None:
            raise click.UsageError("--file does not apply to --unsupported (scenarios are checked against the "
                                   "review's evidence table)")
        _show_unsupported(scenarios, fmt)
        return
    frame = _load(path)
    if trial is not None:
        mask = _trial_matches(frame, trial)
        if not mask.any():
            raise click.BadParameter(
                f"unknown trial {trial!r}; trials: {', '.join(dict.fromkeys(frame['trial']))}",
                param_hint="--trial",
            )
        frame = frame[mask]
    if subgroup is not None:
        try:
            wanted = set(parse_group(subgroup))
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--subgroup") from err
        frame = frame[frame["her2_subgroup"].map(lambda s: bool(wanted & set(subgroup_codes(s))))]
    if endpoint is not None:
        by_key = {e.lower(): e for e in ENDPOINTS}
        if endpoint.strip().lower() not in by_key:
            raise click.BadParameter(
                f"unknown endpoint {endpoint!r}; endpoints: {', '.join(ENDPOINTS)}",
                param_hint="--endpoint",
            )
        frame = frame[frame["endpoint"] == by_key[endpoint.strip().lower()]]

    if hr_status is not None:
        try:
            wanted_hr = parse_hr_status(hr_status)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--hr-status") from err
        frame = frame[frame.apply(lambda r: row_hr_status(r) == wanted_hr, axis=1)]

    out = frame.drop(columns=["line"])
    if fmt == "json":
        records = json.loads(out.to_json(orient="records"))
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        click.echo(out.to_csv(index=False), nl=False)
    elif out.empty:
        click.echo("no evidence rows match")
    else:
        shown = out.assign(
            # a figure restricted to one receptor status says so beside its HER2 subgroup
            her2_subgroup=out.apply(lambda r: f"{r['her2_subgroup']} ({r['hr_status']})" if r["hr_status"]
                                    else r["her2_subgroup"], axis=1),
            shown=out.apply(_format_value, axis=1),
            ci=out.apply(_format_ci, axis=1),
            p=out.apply(_format_p, axis=1),
        )
        click.echo(
            shown[list(_TABLE_COLUMNS)].rename(columns={"shown": "value"}).to_string(index=False)
        )


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent + "  ")


def _show_maps(frame: pd.DataFrame, map_name: str | None, fmt: str) -> None:
    from simtrial.calibrate import effect_maps

    maps = effect_maps(frame)
    if map_name is not None:
        by_key = {name.lower(): name for name in maps}
        if map_name.strip().lower() not in by_key:
            raise click.BadParameter(f"unknown effect map {map_name!r}; maps: {', '.join(maps)}",
                                     param_hint="--map")
        maps = {by_key[map_name.strip().lower()]: maps[by_key[map_name.strip().lower()]]}
    if fmt == "json":
        click.echo(json.dumps([m.to_dict() for m in maps.values()], indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        rows = [{**row, "variant_of": m.variant_of or ""}
                for m in maps.values() for row in m.to_frame().to_dict("records")]
        click.echo(pd.DataFrame(rows).to_csv(index=False), nl=False)
        return
    blocks = []
    for m in maps.values():
        lines = [f"{m.name}  ({m.therapy_class}, {m.endpoint}; {m.scale})"]
        if m.variant_of:
            lines.append(_wrap(f"variant of {m.variant_of}: {m.variant}", "  "))
        lines.append(_wrap(f"scope: {m.scope}", "  "))
        for e in m.entries:
            hr = "direction only" if e.hazard_ratio is None else f"HR {e.hazard_ratio:.4g}"
            direction = f" ({e.direction})" if e.direction else ""
            lines.append(f"  {e.category_name:<12} {hr}{direction}  [{e.status_kind}]")
            lines.append(_wrap(e.status, "      "))
            if e.note:
                lines.append(_wrap(f"note: {e.note}", "      "))
            lines.append(_wrap(f"sources: {', '.join(e.source_ids)}", "      "))
        blocks.append("\n".join(lines))
    click.echo("\n\n".join(blocks))


def _show_unsupported(paths: tuple[str, ...], fmt: str) -> None:
    import yaml

    from simtrial.calibrate.audit import (
        evidence_and_assumptions,
        header_problems,
        shipped_scenarios,
    )
    from simtrial.scenario import ScenarioError, load_scenario

    files = [Path(p) for p in paths] or shipped_scenarios()
    if not files:
        raise click.UsageError("no shipped scenarios found (an installed package has none): give --scenario FILE")
    reports = []
    for file in files:
        try:
            load_scenario(file)
        except (ScenarioError, ValueError) as err:
            raise click.BadParameter(str(err), param_hint="--scenario") from err
        text = file.read_text(encoding="utf-8")
        uses, assumptions = evidence_and_assumptions(yaml.safe_load(text))
        reports.append({
            "scenario": str(file),
            "assumptions": [a.to_dict() for a in assumptions],
            "evidence_uses": [u.to_dict() for u in uses],
            "header_problems": header_problems(text),
        })
    if fmt == "json":
        click.echo(json.dumps(reports, indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        rows = [{"scenario": r["scenario"], **a, "evidence_ids": ", ".join(a["evidence_ids"])}
                for r in reports for a in r["assumptions"]]
        columns = ["scenario", "path", "value", "why", "evidence_ids"]
        click.echo(pd.DataFrame(rows, columns=columns).to_csv(index=False), nl=False)
        return
    blocks = []
    for r in reports:
        lines = [f"{r['scenario']}: {len(r['assumptions'])} assumption(s)"]
        for a in r["assumptions"]:
            lines.append(_wrap(f"{a['path']}: {a['value']}", "  "))
            cites = f" (cites {', '.join(a['evidence_ids'])})" if a["evidence_ids"] else " (no evidence id)"
            lines.append(_wrap(f"why: {a['why']}{cites}", "      "))
        for problem in r["header_problems"]:
            lines.append(_wrap(f"header: {problem}", "  "))
        blocks.append("\n".join(lines))
    click.echo("\n\n".join(blocks))


def _format_parameters(parameters: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in parameters.items())


@click.command("calibrate")
@click.option(
    "--patients",
    type=click.IntRange(min=1000),
    default=100_000,
    show_default=True,
    help="Simulated patients per figure.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=DEFAULT_SEED,
    show_default=True,
    help="Report seed.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False),
    help="Another evidence CSV (default: the review's).",
)
def calibrate_command(patients: int, seed: int, fmt: str, path: str | None) -> None:
    """Check that each calibrated model reproduces its reported figure, exactly and in a simulated cohort.

    Exits with status 1 if any figure falls outside its tolerance.
    """
    frame = _load(path)
    report = calibration_report(n_patients=patients, seed=seed, evidence=frame)
    if fmt == "json":
        click.echo(json.dumps([c.to_dict() for c in report], indent=2))
    else:
        rows = [
            {
                "id": c.id,
                "reported": f"{c.reported:g}",
                "model": f"{c.model}({_format_parameters(c.parameters)})",
                "implied": f"{c.implied:.6g}",
                "simulated": f"{c.simulated:.4f} ± {c.mc_se:.4f}",
                "tolerance": f"{c.tolerance:.4f}",
                "result": "OK" if c.ok else "FAIL",
            }
            for c in report
        ]
        click.echo(pd.DataFrame(rows).to_string(index=False))
        failed = sum(not c.ok for c in report)
        click.echo(
            f"\n{len(report) - failed}/{len(report)} figures reproduced within {TOLERANCE_MC_SE:g} Monte-Carlo SE "
            f"({patients} simulated patients each, seed {seed})"
        )
    if not report.all_ok:
        click.get_current_context().exit(1)
