"""`simtrial timeline`: expected enrolment, events and look times of a scenario, by numerical integration."""

from __future__ import annotations

import math

import click
from simtrial_cli.output import dump_json, fmt, grid, table
from simtrial_cli.run_cmds import _guard, _load

from simtrial.errors import InvalidInput


def _times(ctx, param, value):
    if value is None:
        return None
    try:
        times = [float(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"must be comma-separated months, e.g. 6,12,24; got {value!r}") from None
    if not times or any(not (t >= 0 and math.isfinite(t)) for t in times):
        raise click.BadParameter(f"must be months >= 0, e.g. 6,12,24; got {value!r}")
    return sorted(set(times))


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


@click.command("timeline")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--times", callback=_times, default=None,
              help="Calendar months to tabulate, comma-separated (default: 25 points to past the last look).")
@click.option("--n-patients", type=int, default=None, help="N to project (default: the scenario's).")
@click.option("--null", is_flag=True, help="Under H0: the experimental arm as the control (as `run --null`).")
@click.option("--simulate", "simulate_n", type=int, default=0, show_default=True,
              help="Also simulate this many trials: look-time quantiles and mean events beside the analytic values.")
@click.option("--seed", type=int, default=None, help="Seed of --simulate / --confirm (default: the scenario's).")
@click.option("--solve", "solve_for", type=click.Choice(["accrual_months", "followup_months", "n_patients"]),
              default=None, help="Solve this for --target-events (analytically), instead of projecting.")
@click.option("--target-events", type=float, default=None, help="With --solve: the events (default: the scenario's).")
@click.option("--accrual-rate", type=float, default=None, help="With --solve accrual_months: patients per month.")
@click.option("--accrual-months", type=float, default=None, help="With --solve followup_months / n_patients.")
@click.option("--followup-months", type=float, default=None, help="With --solve accrual_months (or n_patients).")
@click.option("--study-months", type=float, default=None, help="With --solve n_patients: analysis time.")
@click.option("--confirm", "confirm_n", type=int, default=0, show_default=True,
              help="With --solve: simulate this many trials of the solved design to confirm it.")
@click.option("--format", "fmt_", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_guard
def timeline_command(scenario, times, n_patients, null, simulate_n, seed, solve_for, target_events, accrual_rate,
                     accrual_months, followup_months, study_months, confirm_n, fmt_):
    """Expected enrolment, events per arm and category, and look times of SCENARIO, by numerical integration.

    No simulation unless asked (--simulate, --confirm): the expected events
    come from the survival models, the HER2 mix and misclassification, accrual
    and dropout.  --solve finds the accrual duration, the follow-up or N at
    which the expected events reach --target-events, as rpact and SAS do.
    """
    if simulate_n < 0 or confirm_n < 0:
        raise InvalidInput("--simulate and --confirm take a number of trials >= 0")
    sc = _load(scenario)
    if solve_for is not None:
        from simtrial.timeline.solve import solve_timeline

        res = solve_timeline(sc, solve_for, target_events=target_events, n_patients=n_patients,
                             accrual_months=accrual_months, followup_months=followup_months,
                             study_months=study_months, accrual_rate_per_month=accrual_rate,
                             confirm_n_sims=confirm_n, seed=seed)
        if fmt_ == "json":
            click.echo(dump_json(_clean(res.to_dict())), nl=False)
            return
        rows = [("solved for", res.solved_for), ("target events", fmt(res.target_events, 1)),
                ("patients", f"{res.n_patients}  ({res.n_patients_exact:.3f})"),
                ("accrual", f"{res.accrual_months:.3f} months at {res.accrual_rate_per_month:.3f} per month"),
                ("follow-up after accrual", f"{res.followup_months:.3f} months"),
                ("analysis at", f"{res.analysis_months:.3f} months"),
                ("expected events there", fmt(res.expected_events, 2)),
                ("computed in", f"{res.seconds:.3f} s (no simulation)")]
        c = res.confirmation
        if c:
            q = c["time_of_target_event_quantiles"]
            rows += [("confirmation", f"{c['n_sims']} simulated trials, seed {c['seed']}, N = {c['n_patients']}"),
                     ("  simulated events at analysis", f"{c['simulated_mean_events_at_analysis']:.2f} "
                      f"(MC SE {c['mc_se']:.2f}; within 4 SE: {'yes' if c['within_4_mc_se'] else 'NO'})"),
                     ("  month of the target event", f"median {fmt(q['p50'], 2)} (90%: {fmt(q['p5'], 2)} to "
                      f"{fmt(q['p95'], 2)})")]
        click.echo(table(rows))
        return
    from simtrial.timeline import timeline

    tl = timeline(sc, times, n_patients=n_patients, null=null, simulate_n=simulate_n, seed=seed)
    if fmt_ == "json":
        click.echo(dump_json(_clean(tl.to_dict())), nl=False)
        return
    click.echo(table([("scenario", tl.scenario), ("patients", str(tl.n_patients)),
                      ("accrual", f"{tl.accrual_months:.2f} months"),
                      ("events with unlimited follow-up", fmt(tl.events_eventually, 1)),
                      ("computed in", f"{tl.seconds:.3f} s" + ("" if simulate_n else " (no simulation)"))]))
    head = ["look", "target events", "calendar cut", "expected month", "cut by", "expected events", "enrolled"]
    if simulate_n:
        head += ["sim p5", "sim median", "sim p95"]
    rows = []
    for lk in tl.looks:
        row = [str(lk.look), fmt(lk.target_events), fmt(lk.calendar_months, 1), fmt(lk.expected_time_months, 2),
               lk.cut_by, fmt(lk.expected_events, 1), fmt(lk.expected_enrolled, 1)]
        if simulate_n:
            q = lk.simulated_time_quantiles or {}
            row += [fmt(q.get("p5"), 2), fmt(q.get("p50"), 2), fmt(q.get("p95"), 2)]
        rows.append(row)
    click.echo("\n  looks")
    click.echo(grid(head, rows))
    sim = (tl.simulated or {}).get("events_at_times") or {}
    sim_at = dict(zip(sim.get("times_months", []), zip(sim.get("mean_events", []), sim.get("mc_se", []),
                                                        strict=True), strict=True))
    head = ["month", "enrolled", "events control", "events experimental", "events"]
    if simulate_n:
        head += ["simulated (MC SE)"]
    rows = []
    for j, t in enumerate(tl.times_months):
        row = [fmt(t, 1), fmt(tl.enrolled[j], 1), fmt(tl.events_by_arm["control"][j], 1),
               fmt(tl.events_by_arm["experimental"][j], 1), fmt(tl.events[j], 1)]
        if simulate_n:
            m = sim_at.get(t)
            row.append("-" if m is None else f"{m[0]:.1f} ({m[1]:.2f})")
        rows.append(row)
    click.echo("\n  expected over calendar time")
    click.echo(grid(head, rows))
    cats = sorted({c for arm in tl.events_by_arm_and_category.values() for c in arm})
    if len(cats) > 1:
        rows = [[c] + [fmt(tl.events_by_arm_and_category[arm].get(c, (0.0,) * len(tl.times_months))[-1], 1)
                       for arm in ("control", "experimental")] for c in cats]
        click.echo(f"\n  expected events by true HER2 category at month {fmt(tl.times_months[-1], 1)}")
        click.echo(grid(["category", "control", "experimental"], rows))
