"""`simtrial assurance`: the probability of success over the prior of the unknowns."""

from __future__ import annotations

import click
from simtrial_cli.output import dump_json, dump_yaml, fmt, grid, progress_bar, staged_output, table
from simtrial_cli.run_cmds import _guard, _load, _progress, _warn_flagged, common_options

from simtrial.probability_of_success import AssuranceResult, assurance

_FILES = ("summary.json", "trials.csv", "scenario.resolved.yaml")


def _pct_ci(ci) -> str:
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def _rows(d: dict) -> list[tuple[str, str]]:
    a = d["analysis"]
    rows = [
        ("scenario", d["scenario"]),
        ("design", d["design"]),
        ("test", f"{a.get('test')}, alpha {fmt(a.get('alpha'))}, {a.get('sided')}-sided"
         + (f", NI margin {fmt(a['ni_margin'])}" if a.get("ni_margin") else "")),
        ("simulated trials", f"{d['n_sims']:,} (seed {d['seed']}), each with its own draw from the prior"),
        ("assurance (probability of success)",
         f"{fmt(d['assurance'])}  (MC SE {fmt(d['assurance_mc_se'], 4)}, 95% CI {_pct_ci(d['assurance_ci'])})"),
        ("analytic assurance", fmt(d["analytic_assurance"]) if d["analytic_assurance"] is not None
         else f"- ({d['analytic_note']})"),
    ]
    pm = d.get("power_at_prior_mean")
    if pm:
        at = ", ".join(f"{k} {fmt(v)}" for k, v in pm["at"].items())
        rows.append(("power at the prior's centre", f"{fmt(pm['power'])}  (MC SE {fmt(pm['mc_se'], 4)}, "
                                                     f"{pm['n_sims']:,} trials; {at})"))
    if d.get("assurance_plateau") is not None:
        rows.append(("assurance plateau (infinite size)", fmt(d["assurance_plateau"])))
    ms = d.get("meaningful_success")
    if ms:
        rows.append((f"meaningful success ({ms['rule']})", f"{fmt(ms['probability'])}  (MC SE {fmt(ms['mc_se'], 4)})"))
    rows += [("mean events analysed", fmt(d["mean_events"], 1)),
             ("mean duration (months)", fmt(d["mean_duration_months"], 1)),
             ("mean enrolled", fmt(d["mean_enrolled"], 1))]
    return rows


def _print(d: dict, fmt_: str) -> None:
    if fmt_ == "json":
        click.echo(dump_json(d), nl=False)
        return
    click.echo(table(_rows(d)))
    _warn_flagged(d)
    if d.get("p_success_by_look"):
        click.echo("\n  success by look (over the prior)")
        click.echo(grid(["look", "P(success here)", "cumulative", "P(stop futility)"],
                        [[str(lk["look"]), fmt(lk["p_success"]), fmt(lk["cumulative_p_success"]),
                          fmt(lk["p_stop_futility"])] for lk in d["p_success_by_look"]]))
    given = d.get("true_hr_given_success") or {}
    if given:
        click.echo("\n  what a success says about the truth: the drawn values among successful / failed trials")
        rows = []
        for name, parts in given.items():
            for outcome in ("success", "failure"):
                q = parts[outcome]
                rows.append([name, outcome, f"{q['n']:,}", fmt(q["p5"]), fmt(q["p25"]), fmt(q["p50"]),
                             fmt(q["p75"]), fmt(q["p95"])])
        click.echo(grid(["drawn", "trials", "n", "5%", "25%", "median", "75%", "95%"], rows))


@click.command("assurance")
@common_options
@click.option("--meaningful-hr", "meaningful_hr", type=float, default=None,
              help="Also report success with an estimated HR below this (default: the prior's meaningful_hr_below).")
@_guard
def assurance_command(scenario, sims, seed, threads, out_dir, fmt_, quiet, meaningful_hr, overwrite=False):
    """Assurance of SCENARIO: the probability of success averaged over its prior, with power at the prior's centre.

    Each simulated trial draws its unknowns (hazard ratios, control median,
    response probabilities) from the scenario's prior: block and is simulated
    and analysed exactly as in `simtrial run`.  --out adds a per-trial CSV of
    the drawn values and outcomes.
    """
    if meaningful_hr is not None and not meaningful_hr > 0:
        raise click.BadParameter(f"must be a hazard ratio > 0, got {meaningful_hr}", param_hint="--meaningful-hr")
    sc = _load(scenario)
    with staged_output(out_dir, _FILES, overwrite=overwrite) as write:
        n = sims or sc.simulation.n_sims
        with progress_bar(n, "simulating", quiet, compiles=sc.endpoint == "time_to_event") as update:
            result: AssuranceResult = assurance(sc, n_sims=sims, seed=seed, threads=threads,
                                                meaningful_hr_below=meaningful_hr, progress=_progress(update))
        summary = result.to_dict()
        if write is not None:
            write("summary.json", dump_json(summary))
            write("trials.csv", result.per_trial_frame().to_csv(index=False))
            write("scenario.resolved.yaml", dump_yaml(dict(sc.resolved)))
    _print(summary, fmt_)
