"""`simtrial run`, `simtrial samplesize`, `simtrial validate`: scenario files in, operating characteristics out."""

from __future__ import annotations

import functools
import os
import sys

import click
from simtrial_cli.output import (
    OutputError,
    dump_json,
    dump_yaml,
    fmt,
    grid,
    progress_bar,
    staged_output,
    table,
)

from simtrial.power import PowerResult, run
from simtrial.samplesize import SampleSizeResult, sample_size
from simtrial.scenario import Scenario, ScenarioError, load_scenario


class UserError(click.ClickException):
    """Bad input: printed without a traceback, exit code 2."""

    exit_code = 2


def _guard(fn):
    """Map failures to exit codes: user mistakes 2, anything else 1 with a short message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except BrokenPipeError:
            # the reader (e.g. `| head`) went away: not an error of ours or the user's
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
            sys.exit(0)
        except (ScenarioError, OutputError) as exc:
            raise UserError(str(exc)) from None
        except ValueError as exc:
            raise UserError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            click.echo(f"Error: internal error ({type(exc).__name__}): {exc}", err=True)
            sys.exit(1)

    return wrapper


def _load(path: str) -> Scenario:
    return load_scenario(path)


def _positive(ctx, param, value):
    if value is not None and value < 1:
        raise click.BadParameter(f"must be an integer >= 1, got {value}")
    return value


def _seed(ctx, param, value):
    if value is not None and not 0 <= value < 2**63:
        raise click.BadParameter(f"must be an integer in [0, 2**63), got {value}")
    return value


def common_options(fn):
    options = [
        click.argument("scenario", type=click.Path(dir_okay=False)),
        click.option("--sims", type=int, default=None, callback=_positive, help="Simulated trials (default: the scenario's n_sims)."),
        click.option("--seed", type=int, default=None, callback=_seed, help="Random seed (default: the scenario's seed)."),
        click.option("--threads", type=int, default=None, callback=_positive, help="Worker threads (results do not depend on it)."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Directory for summary JSON, per-trial CSV and the resolved scenario."),
        click.option("--format", "fmt_", type=click.Choice(["table", "json"]), default="table", show_default=True),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _summary_rows(d: dict) -> list[tuple[str, str]]:
    rows = [
        ("scenario", d["scenario"]),
        ("design", d["design"]),
        ("hypothesis", d["hypothesis"]),
        ("simulated trials", f"{d['n_sims']} (seed {d['seed']})"),
        ("probability of success", f"{fmt(d['power'])}  (MC SE {fmt(d['power_mc_se'], 4)}, 95% CI {fmt(d['power_ci'][0])}-{fmt(d['power_ci'][1])})"),
    ]
    for name, value in (d.get("analytic_powers") or {}).items():
        rows.append((f"analytic power ({name})", fmt(value)))
    rows += [
        ("patients (planned)", fmt(d.get("n_patients"))),
        ("target events", fmt(d.get("target_events"))),
        ("mean responders" if d.get("target_events") is None and d.get("mean_duration_months") is None else "mean events", fmt(d["mean_events"], 1)),
        ("mean duration (months)", fmt(d["mean_duration_months"], 1)),
        ("mean enrolled", fmt(d["mean_enrolled"], 1)),
    ]
    if d.get("hr_median") is not None:
        rows.append(("hazard ratio, median [2.5%, 97.5%]", f"{fmt(d['hr_median'])} [{fmt(d['hr_p2_5'])}, {fmt(d['hr_p97_5'])}]"))
    if d.get("median_control_months") is not None:
        rows.append(("KM median control / experimental (months)", f"{fmt(d['median_control_months'], 1)} / {fmt(d['median_experimental_months'], 1)}"))
    for name, v in (d.get("decisions") or {}).items():
        rows.append((f"P({name})", f"{fmt(v['probability'])}  (MC SE {fmt(v['mc_se'], 4)})"))
    details = d.get("details") or {}
    for key in ("expected_screened", "expected_screen_failures", "inflation_factor", "true_hazard_ratio"):
        if details.get(key) is not None:
            rows.append((key.replace("_", " "), fmt(details[key], 3)))
    flagged = {k: v for k, v in (d.get("flags") or {}).items() if v}
    if flagged:
        rows.append(("flagged trials", ", ".join(f"{k}: {v}" for k, v in flagged.items())))
    return rows


def _looks_table(looks: list[dict]) -> str:
    header = ["look", "info", "events", "z_eff", "z_fut", "nominal_p", "HR_eff", "P(eff)", "P(fut)", "cum. power"]
    rows = [
        [
            str(lk["look"]), fmt(lk["information_fraction"], 2), fmt(lk["mean_events"], 1), fmt(lk["z_efficacy"]),
            fmt(lk["z_futility"]), fmt(lk["nominal_p"], 4), fmt(lk["hr_efficacy"]), fmt(lk["p_stop_efficacy"]),
            fmt(lk["p_stop_futility"]), fmt(lk["cumulative_power"]),
        ]
        for lk in looks
    ]
    return grid(header, rows)


def _print(d: dict, fmt_: str, extra_rows: list[tuple[str, str]] | None = None) -> None:
    if fmt_ == "json":
        click.echo(dump_json(d), nl=False)
        return
    rows = list(extra_rows or []) + _summary_rows(d)
    click.echo(table(rows))
    if d.get("looks"):
        click.echo("\n  group-sequential looks")
        click.echo(_looks_table(d["looks"]))


def _write_outputs(write, summary: dict, result: PowerResult, scenario: Scenario) -> None:
    write("summary.json", dump_json(summary))
    write("trials.csv", result.per_trial_frame().to_csv(index=False))
    write("scenario.resolved.yaml", dump_yaml(dict(scenario.resolved)))


@click.command("run")
@common_options
@click.option("--null", is_flag=True, help="Simulate under H0 (type I error) instead of H1.")
@_guard
def run_command(scenario, sims, seed, threads, out_dir, fmt_, quiet, null):
    """Simulate SCENARIO's design: power (or type I error with --null) and operating characteristics."""
    sc = _load(scenario)
    with staged_output(out_dir) as write:
        n = sims or sc.simulation.n_sims
        with progress_bar(n, "simulating", quiet) as update:
            result = run(sc, n_sims=sims, seed=seed, null=null, threads=threads, progress=update)
        summary = result.to_dict()
        if write is not None:
            _write_outputs(write, summary, result, sc)
    _print(summary, fmt_)


@click.command("samplesize")
@common_options
@click.option("--power", "target_power", type=float, default=None, help="Target power (default: the scenario's, else 0.8).")
@click.option("--solve-for", type=click.Choice(["n_patients", "events"]), default=None, help="What to solve for (default: the scenario's).")
@_guard
def samplesize_command(scenario, sims, seed, threads, out_dir, fmt_, quiet, target_power, solve_for):
    """Smallest N (or number of events) for SCENARIO to reach the target power."""
    if target_power is not None and not 0.0 < target_power < 1.0:
        raise click.BadParameter(f"must be in (0, 1), got {target_power}", param_hint="--power")
    sc = _load(scenario)
    with staged_output(out_dir) as write:
        with progress_bar(40, "searching", quiet) as update:
            result: SampleSizeResult = sample_size(
                sc, target_power=target_power, solve_for=solve_for, n_sims=sims, seed=seed, threads=threads,
                progress=update,
            )
        summary = result.to_dict()
        if write is not None:
            _write_outputs(write, summary, result.confirmation, sc)
            write("power_curve.csv", result.to_frame().to_csv(index=False))
    extra = [
        ("target power", fmt(summary["target_power"])),
        ("solved for", summary["solve_for"]),
        ("patients required", fmt(summary["n_required"])),
        ("events required", fmt(summary["events_required"])),
        ("Monte-Carlo uncertainty of the answer", f"± {fmt((summary.get('search') or {}).get('mc_uncertainty'), 1)}"),
        ("achieved power (independent run)", f"{fmt(summary['achieved_power'])} (MC SE {fmt(summary['achieved_power_mc_se'], 4)})"),
        ("analytic events (Schoenfeld)", fmt(summary["analytic_events"], 1)),
        ("points evaluated", str(len(summary["power_curve"]))),
    ]
    _print(summary, fmt_, extra)
    if fmt_ == "table" and summary["power_curve"]:
        key = summary["solve_for"]
        click.echo("\n  power curve (common random numbers)")
        click.echo(grid([key, "power", "mc_se"], [[str(p[key]), fmt(p["power"]), fmt(p["mc_se"], 4)] for p in summary["power_curve"]]))


@click.command("validate")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--format", "fmt_", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_guard
def validate_command(scenario, fmt_):
    """Load and check SCENARIO without simulating; print the resolved scenario."""
    sc = _load(scenario)
    if fmt_ == "json":
        click.echo(dump_json({"scenario": sc.name, "design": sc.design, "valid": True, "resolved": dict(sc.resolved)}), nl=False)
    else:
        click.echo(f"{scenario}: valid ({sc.design}, {sc.endpoint})")
        click.echo(dump_yaml(dict(sc.resolved)), nl=False)
