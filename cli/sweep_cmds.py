"""`simtrial sweep`: operating characteristics over a grid of scenario values (no statistics here)."""

from __future__ import annotations

import io

import click
from simtrial_cli._backend import (
    backend_options,
    check_precision_options,
    executor_for,
)
from simtrial_cli.output import dump_json, dump_yaml, fmt, grid, progress_bar, staged_output
from simtrial_cli.run_cmds import _guard, _load, _n_sims, _positive, _progress, _seed

_SWEEP_FILES = ("sweep.json", "sweep.csv", "sweep.parquet", "scenario.resolved.yaml")


def _parquet_bytes(frame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=False)
    return buffer.getvalue()


def _value_text(v) -> str:
    return fmt(v, 4) if isinstance(v, float) else str(v)


def _table(d: dict) -> str:
    label = "type_I_error" if d["null"] else "power"
    rows = d["rows"]
    decisions = [k for k in (rows[0] if rows else {}) if k.startswith("p_") and not k.endswith("_mc_se")]
    timed = any(r.get("mean_duration_months") is not None for r in rows)
    assured = any("assurance" in r for r in rows)
    header = [*d["varied"], "type I error" if d["null"] else "power", "MC SE", "analytic",
              *(["assurance", "MC SE"] if assured else []), "trials",
              "events" if timed else "responders", *(["months"] if timed else []), "N",
              *[f"P({k[2:]})" for k in decisions]]
    body = []
    for r in rows:
        body.append([
            *[_value_text(r[p]) for p in d["varied"]], fmt(r[label]), fmt(r[f"{label}_mc_se"], 4),
            fmt(r.get(f"analytic_{label}")),
            *([fmt(r.get("assurance")), fmt(r.get("assurance_mc_se"), 4)] if assured else []),
            str(r["n_sims"]), fmt(r.get("mean_events"), 1),
            *([fmt(r.get("mean_duration_months"), 1)] if timed else []),
            fmt(r.get("n_patients")), *[fmt(r.get(k)) for k in decisions],
        ])
    return grid(header, body)


def _worst_text(worst: dict) -> str:
    point = ", ".join(f"{p}={_value_text(v)}" for p, v in worst["point"].items())
    alpha = f"; alpha {fmt(worst['alpha'], 4)}" if worst.get("alpha") is not None else ""
    return f"worst-case type I error {fmt(worst['type_I_error'], 4)} (MC SE {fmt(worst['mc_se'], 4)}) at {point}{alpha}"


@click.command("sweep")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--vary", "vary", multiple=True, metavar="PATH=VALUES",
              help='A field path and its values, e.g. analysis.ni_margin=1.2,1.3 or '
                   'arms.experimental.survival["IHC 2+/ISH+"].hazard_ratio=1.0:1.6:0.2 (repeat for a grid; '
                   "default: the scenario's sweep: block).")
@click.option("--zip", "zip_", is_flag=True, help="Pair the i-th values of every --vary instead of a full grid.")
@click.option("--null", is_flag=True, help="Simulate under H0: type I error per point and its worst case.")
@click.option("--sims", type=int, default=None, callback=_n_sims,
              help="Simulated trials per point (default: the scenario's n_sims; the block size with --target-mc-se).")
@click.option("--seed", type=int, default=None, callback=_seed, help="Random seed of every point (default: the scenario's).")
@click.option("--threads", type=int, default=None, callback=_positive, help="Worker threads (results do not depend on it).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for sweep.csv, sweep.parquet, sweep.json and the resolved base scenario.")
@click.option("--format", "fmt_", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--overwrite", is_flag=True,
              help="Replace an earlier run's output set in --out as a whole (default: refuse to mix).")
@backend_options
@_guard
def sweep_command(scenario, vary, zip_, null, sims, seed, threads, out_dir, fmt_, quiet, overwrite, backend,
                  scheduler, workers, block_trials, target_mc_se, max_sims):
    """Operating characteristics of SCENARIO over a grid of its values (same seed at every point).

    Each --vary PATH=VALUES names a field of the scenario file and its values
    (a list 0.8,1.0,1.3 or a range start:stop:step, stop included); several
    make a full grid, --zip pairs them.  Every point is validated before
    anything runs.  Writes sweep.csv, sweep.parquet and sweep.json under --out.
    """
    from simtrial.spec.sweep import SweepPlan
    from simtrial.sweeps import grid_points, sweep

    check_precision_options(target_mc_se, max_sims)
    sc = _load(scenario)
    plan = SweepPlan.from_cli(vary, zip_) if vary else sc.sweep
    if plan is None:
        raise click.UsageError("nothing to vary: give --vary PATH=VALUES (or a sweep: block in the scenario)")
    if zip_ and not vary:
        plan = SweepPlan(plan.axes, True)
    n_points = len(grid_points(sc, plan))  # every point validated before the output directory is touched
    with staged_output(out_dir, _SWEEP_FILES, overwrite=overwrite) as write:
        with executor_for(backend, scheduler, workers, block_trials, threads) as (executor, threads):
            if target_mc_se is None:
                per_point = sims or sc.simulation.n_sims
            else:
                from simtrial.precision import DEFAULT_MAX_SIMS

                per_point = max_sims or DEFAULT_MAX_SIMS
            with progress_bar(n_points * per_point, "sweeping", quiet,
                              compiles=sc.endpoint == "time_to_event") as update:
                result = sweep(sc, plan, n_sims=sims, seed=seed, null=null, threads=threads, executor=executor,
                               progress=_progress(update), target_mc_se=target_mc_se, max_sims=max_sims)
        d = result.to_dict()
        if write is not None:
            frame = result.to_frame()
            write("sweep.json", dump_json(d))
            write("sweep.csv", frame.to_csv(index=False))
            write("sweep.parquet", _parquet_bytes(frame))
            write("scenario.resolved.yaml", dump_yaml(dict(sc.resolved)))
    if fmt_ == "json":
        click.echo(dump_json(d), nl=False)
        return
    what = "type I error (H0)" if null else "power (H1)"
    click.echo(f"  {d['scenario']}: {what} at {d['n_points']} points, seed {d['seed']}"
               + (", zipped" if d["zip"] else ""))
    click.echo(_table(d))
    if d.get("worst_case"):
        click.echo("\n  " + _worst_text(d["worst_case"]))
    for p in d.get("precision") or []:
        if not p["reached"]:
            click.echo(f"  MC SE target {p['target_mc_se']:g} not reached at --max-sims {p['max_sims']:,} for "
                       + ", ".join(f"{k}={_value_text(p[k])}" for k in d["varied"]), err=True)
