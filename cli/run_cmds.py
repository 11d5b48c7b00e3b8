"""`simtrial run`, `simtrial samplesize`, `simtrial validate`: scenario files in, operating characteristics out."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import sys
import threading

import click
from simtrial_cli._backend import (
    backend_options,
    check_precision_options,
    executor_for,
    precision_rows,
)
from simtrial_cli.output import (
    OUTPUT_NAMES,
    OutputError,
    dump_json,
    dump_yaml,
    fmt,
    grid,
    progress_bar,
    staged_output,
    table,
)

from simtrial.errors import BudgetExhausted, InvalidInput, check_n_sims, check_seed
from simtrial.power import PowerResult, run
from simtrial.samplesize import SampleSizeResult, sample_size
from simtrial.scenario import Scenario, load_scenario
from simtrial.scenario.errors import MISSING, ScenarioError


class UserError(click.ClickException):
    """Bad input: printed without a traceback, exit code 2."""

    exit_code = 2


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: stop, leave no partial output, exit 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _stop_on_signals():
    """SIGINT and SIGTERM raise ``Interrupted`` in the main thread (once; repeats are ignored while stopping).

    The simulation runs in chunks (every command passes a progress callback),
    and numba kernels release the GIL, so the handler runs between chunks:
    a run stops within about a chunk's time, and ``staged_output`` removes
    its staging directory on the way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit: list[int] = []

    def handler(signum, frame):
        if hit:
            return
        hit.append(signum)
        raise Interrupted(signum)

    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _no_progress(n_done: int) -> None:
    """The progress callback when no bar is shown: passing one makes the library run in chunks."""


def _progress(update):
    return _no_progress if update is None else update


def _guard(fn):
    """Map failures to exit codes: user mistakes 2, anything else 1 with a short message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with _stop_on_signals():
                return fn(*args, **kwargs)
        except Interrupted as exc:
            name = signal.Signals(exc.signum).name
            click.echo(f"Error: interrupted ({name}): stopped; no partial output was left", err=True)
            sys.exit(128 + exc.signum)
        except click.ClickException:
            raise
        except BrokenPipeError:
            # the reader (e.g. `| head`) went away: not an error of ours or the user's
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
            sys.exit(0)
        except (InvalidInput, OutputError) as exc:
            # only validation errors are the user's; any other ValueError is a bug of ours (exit 1)
            raise UserError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            click.echo(f"Error: internal error ({type(exc).__name__}): {exc}", err=True)
            sys.exit(1)

    return wrapper


def _load(path: str) -> Scenario:
    try:
        return load_scenario(path)
    except ScenarioError:
        raise
    except InvalidInput as exc:
        # a library check reached while resolving (e.g. a model parameter derived from the file's
        # values): name the file, since the library cannot
        problem, _, got = str(exc).rpartition(", got ")
        raise ScenarioError(problem or str(exc), file=str(path), field_path="(resolving the scenario)",
                            value=got if problem else MISSING,
                            allowed="values for which every model parameter is finite and in range") from None


def _positive(ctx, param, value):
    if value is not None and value < 1:
        raise click.BadParameter(f"must be an integer >= 1, got {value}")
    return value


def _checked(check, option: str):
    """A click callback applying one of simtrial.errors' shared bounds (the library uses the same)."""

    def callback(ctx, param, value):
        if value is None:
            return value
        try:
            return check(value, option)
        except InvalidInput as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


_n_sims = _checked(check_n_sims, "--sims")
_seed = _checked(check_seed, "--seed")


def common_options(fn):
    options = [
        click.argument("scenario", type=click.Path(dir_okay=False)),
        click.option("--sims", type=int, default=None, callback=_n_sims, help="Simulated trials (default: the scenario's n_sims)."),
        click.option("--seed", type=int, default=None, callback=_seed, help="Random seed (default: the scenario's seed)."),
        click.option("--threads", type=int, default=None, callback=_positive, help="Worker threads (results do not depend on it)."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Directory for summary JSON, per-trial CSV and the resolved scenario."),
        click.option("--format", "fmt_", type=click.Choice(["table", "json"]), default="table", show_default=True),
        click.option("--quiet", is_flag=True, help="No progress bar."),
        click.option("--overwrite", is_flag=True,
                     help="Replace an earlier run's output set in --out as a whole (default: refuse to mix)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _median_text(value, not_reached: float | None) -> str:
    if value is None:
        return f"not reached ({_pct(not_reached)} of trials)" if not_reached else "-"
    text = fmt(value, 1)
    return f"{text} (not reached in {_pct(not_reached)} of trials)" if not_reached else text


def _analysis_rows(d: dict) -> list[tuple[str, str]]:
    a = d.get("analysis") or {}
    if not a:
        return []
    sided = "one-sided" if a.get("sided") == 1 else "two-sided"
    rows = [("test", f"{a['test']}, alpha {fmt(a['alpha'], 4)} {sided}")]
    if a.get("ni_margin") is not None:
        rows.append(("non-inferiority margin", fmt(a["ni_margin"], 3)))
    if a.get("population") is not None:
        rows.append(("analysis population", a["population"]))
    if a.get("strata") is not None:
        strata = a["strata"]
        rows.append(("strata", strata if isinstance(strata, str) else "; ".join(
            f"{k}: {', '.join(v)}" for k, v in strata.items())))
    if a.get("subgroups"):
        rows.append(("subgroups", f"{', '.join(a['subgroups'])} ({a['multiplicity']}; tested after the primary)"
                     if d["design"] != "biomarker" else f"{', '.join(a['subgroups'])} ({a['multiplicity']})"))
    return rows


def _per_arm_rows(d: dict) -> list[tuple[str, str]]:
    arms = d.get("per_arm") or {}
    if not arms:
        return []
    binary = d.get("target_events") is None and d.get("mean_duration_months") is None
    what = "responders" if binary else "events"
    rows = []
    for arm, v in arms.items():
        label = f" ({v['label']})" if v.get("label") and v["label"] != arm else ""
        rows.append((f"{arm}{label}", f"patients {fmt(v['mean_patients'], 1)}, {what} {fmt(v['mean_events'], 1)} (means over trials)"))
    return rows


def _sequential_rows(d: dict) -> list[tuple[str, str]]:
    gs = (d.get("details") or {}).get("group_sequential_design")
    if not gs:
        return []
    planned = d.get("target_events")
    rows = [("alpha spent per look", ", ".join(fmt(x, 4) for x in gs["alpha_spent"]))]
    # an HR futility rule is not in the planned design (its Z bound depends on the events at the look)
    hr_rule = any(look.get("hr_futility") is not None for look in (d.get("details") or {}).get("looks") or [])
    if planned:
        rows.append(("expected events under H0 / H1 (design" + ("; HR futility rule not in it)" if hr_rule else ")"),
                     f"{fmt(gs['expected_information_h0'] * planned, 1)} / {fmt(gs['expected_information_h1'] * planned, 1)}"))
    if gs.get("beta_spending"):
        rows.append(("futility bounds built for beta", fmt(gs["beta"], 3)))
    elif any(z is not None and math.isfinite(z) for z in (gs.get("z_futility") or [])[:-1]):
        # a fixed rule does not use beta: beta only sets the design alternative, the drift at which the
        # design (its futility stops obeyed) has power 1 - beta, and so the inflation factor
        rows.append(("design power 1 - beta (futility stops obeyed)", fmt(1.0 - gs["beta"], 3)))
    elif hr_rule:
        rows.append(("design power 1 - beta (HR futility rule not in it)", fmt(1.0 - gs["beta"], 3)))
    return rows


def _simon_rows(d: dict) -> list[tuple[str, str]]:
    s = (d.get("details") or {}).get("simon_design")
    if not s:
        return []
    return [
        ("Simon design", f"{s['kind']}: stage 1 r1/n1 = {s['r1']}/{s['n1']}, overall r/n = {s['r']}/{s['n']}"),
        ("under H0: EN0 / PET0", f"{fmt(s['en0'], 2)} / {fmt(s['pet0'], 3)}"),
    ]


def _analytic_alpha_label(d: dict) -> str | None:
    """The alpha the analytic power lines use, in words (the favourable side's own for an asymmetric plan)."""
    a = d.get("analysis") or {}
    if a.get("alpha") is None:
        return None
    alpha, sided = a["alpha"], a.get("sided", 1)
    gs = (d.get("details") or {}).get("group_sequential_design") or {}
    if sided == 2 and gs.get("alpha_upper") is not None and not gs.get("symmetric", True):
        return (f"two-sided alpha {alpha:g}: efficacy side {gs['alpha_upper']:g}, harm side {gs['alpha_lower']:g}")
    if sided == 2:
        return f"two-sided alpha {alpha:g} ({alpha / 2:g} per side)"
    return f"one-sided alpha {alpha:g}"


def _summary_rows(d: dict) -> list[tuple[str, str]]:
    label = d.get("power_label") or ("type I error" if d.get("null") else "power")
    rows = [
        ("scenario", d["scenario"]),
        ("design", d["design"]),
        ("hypothesis", d["hypothesis"]),
        *_analysis_rows(d),
        ("simulated trials", f"{d['n_sims']} (seed {d['seed']})"),
        (label, f"{fmt(d['power'])}  (MC SE {fmt(d['power_mc_se'], 4)}, 95% CI {fmt(d['power_ci'][0])}-{fmt(d['power_ci'][1])})"),
    ]
    analytic_word = "type I error" if d.get("null") else "power"
    details = d.get("details") or {}
    level = _analytic_alpha_label(d)
    for name, value in (d.get("analytic_powers") or {}).items():
        rows.append((f"analytic {analytic_word} ({name})", f"{fmt(value)}  (at {level})" if level else fmt(value)))
    if details.get("analytic_power_note"):
        rows.append(("analytic note", details["analytic_power_note"]))
    timed = d.get("target_events") is not None or d.get("mean_duration_months") is not None
    rows += [
        ("patients (planned)", fmt(d.get("n_patients"))),
        *([("target events", fmt(d.get("target_events")))] if d.get("target_events") is not None else []),
        ("mean events" if timed else "mean responders", fmt(d["mean_events"], 1)),
        *_per_arm_rows(d),
        *([("mean duration (months)", fmt(d["mean_duration_months"], 1))] if timed else []),
        ("mean enrolled", fmt(d["mean_enrolled"], 1)),
    ]
    if d.get("hr_median") is not None:
        rows.append(("HR estimates across simulated trials", f"median {fmt(d['hr_median'])}, 2.5-97.5% of trials "
                     f"[{fmt(d['hr_p2_5'])}, {fmt(d['hr_p97_5'])}] (spread of estimates, not a CI)"))
    nr = d.get("median_not_reached_fraction") or {}
    if nr:
        rows.append(("KM median control (months, median over trials)", _median_text(d.get("median_control_months"), nr.get("control"))))
        rows.append(("KM median experimental (months, median over trials)", _median_text(d.get("median_experimental_months"), nr.get("experimental"))))
    for name, v in (d.get("decisions") or {}).items():
        rows.append((f"P({name})", f"{fmt(v['probability'])}  (MC SE {fmt(v['mc_se'], 4)})"))
    rows += _simon_rows(d)
    rows += _sequential_rows(d)
    for key in ("expected_screened", "expected_screen_failures", "inflation_factor", "true_hazard_ratio",
                "events_weighted_mean_hazard_ratio"):
        if details.get(key) is not None:
            rows.append((key.replace("_", " "), fmt(details[key], 3)))
    flagged = {k: v for k, v in (d.get("flags") or {}).items() if v}
    if flagged:
        rows.append(("flagged trials", ", ".join(f"{k}: {v}" for k, v in flagged.items())))
    return rows


def _landmarks_table(landmarks: list[dict]) -> str:
    header = ["population", "arm", "months", "KM S(t) mean", "MC SE", "2.5%", "97.5%", "model S(t)", "not estimable"]
    rows = [
        [lm["population"], lm["arm"], fmt(lm["months"], 1), fmt(lm["mean"]), fmt(lm["mc_se"], 4), fmt(lm["p2_5"]),
         fmt(lm["p97_5"]), fmt(lm["model"]), _pct(lm["not_estimable_fraction"])]
        for lm in landmarks
    ]
    return grid(header, rows)


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
    if looks and "p_stop_harm" in looks[0]:  # two-sided plans: the lower (harm) bound and its stops
        header[4:4] = ["z_harm"]
        header[-1:-1] = ["P(harm)"]
        for row, lk in zip(rows, looks, strict=True):
            row[4:4] = [fmt(lk["z_harm"])]
            row[-1:-1] = [fmt(lk["p_stop_harm"])]
    if looks and "flags" in looks[0]:  # looks using the cut rules: trials per rule that set (or delayed) the look
        header.append("cut by (trials)")
        for row, lk in zip(rows, looks, strict=True):
            row.append(", ".join(f"{_CUT_RULE_LABELS.get(k, k)} {v}" for k, v in lk["flags"].items() if v) or "-")
    return grid(header, rows)


_CUT_RULE_LABELS = {"cut_at_calendar_maximum": "calendar max",
                    "cut_delayed_by_min_months_after_previous_look": "min gap",
                    "cut_delayed_by_min_followup_after_last_entry": "min follow-up"}


def _warn_flagged(d: dict) -> None:
    """More than 1% of trials with an undefined statistic or a cut short of its target: say so on stderr."""
    n = d.get("n_sims") or 0
    flags = d.get("flags") or {}
    for name, what in (("primary_statistic_undefined", "an undefined primary statistic (counted as not rejecting)"),
                       ("target_events_not_reached", "fewer events than target_events at the analysis")):
        k = flags.get(name) or 0
        if n and k > 0.01 * n:
            click.echo(f"warning: {k} of {n} trials ({100 * k / n:.1f}%) had {what}", err=True)


def _print(d: dict, fmt_: str, extra_rows: list[tuple[str, str]] | None = None) -> None:
    if fmt_ == "json":
        click.echo(dump_json(d), nl=False)
        return
    rows = list(extra_rows or []) + _summary_rows(d)
    click.echo(table(rows))
    _warn_flagged(d)
    if d.get("landmarks"):
        click.echo("\n  landmark survival (Kaplan-Meier at each landmark, over simulated trials)")
        click.echo(_landmarks_table(d["landmarks"]))
    if d.get("looks"):
        click.echo("\n  group-sequential looks")
        click.echo(_looks_table(d["looks"]))


_RUN_FILES = ("summary.json", "trials.csv", "scenario.resolved.yaml")


def _write_outputs(write, summary: dict, result: PowerResult, scenario: Scenario) -> None:
    write("summary.json", dump_json(summary))
    write("trials.csv", result.per_trial_frame().to_csv(index=False))
    write("scenario.resolved.yaml", _scenario_header(scenario) + dump_yaml(dict(scenario.resolved)))


def _scenario_header(scenario: Scenario) -> str:
    """The scenario file's leading comment block (question, sources), kept atop scenario.resolved.yaml for reports."""
    from simtrial.report.inputs import header_comment

    return header_comment(scenario.path)


@click.command("run")
@common_options
@click.option("--null", is_flag=True, help="Simulate under H0 (type I error) instead of H1.")
@backend_options
@_guard
def run_command(scenario, sims, seed, threads, out_dir, fmt_, quiet, null, overwrite=False, backend="local",
                scheduler=None, workers=None, block_trials=None, target_mc_se=None, max_sims=None):
    """Simulate SCENARIO's design: power (or type I error with --null) and operating characteristics."""
    check_precision_options(target_mc_se, max_sims)
    sc = _load(scenario)
    extra = None
    with staged_output(out_dir, _RUN_FILES, overwrite=overwrite) as write:
        with executor_for(backend, scheduler, workers, block_trials, threads) as (executor, threads):
            if target_mc_se is None:
                n = sims or sc.simulation.n_sims
                with progress_bar(n, "simulating", quiet, compiles=sc.endpoint == "time_to_event") as update:
                    # without --out nothing per trial is written: summarise block by block (memory flat in n)
                    result = run(sc, n_sims=sims, seed=seed, null=null, threads=threads, executor=executor,
                                 progress=_progress(update), per_trial=write is not None)
            else:
                from simtrial.precision import (
                    DEFAULT_BLOCK_SIMS,
                    DEFAULT_MAX_SIMS,
                    run_to_precision,
                )

                cap = max_sims or DEFAULT_MAX_SIMS
                with progress_bar(cap, "simulating to the MC SE target", quiet,
                                  compiles=sc.endpoint == "time_to_event") as update:
                    result, precision = run_to_precision(
                        sc, target_mc_se, block_sims=sims or DEFAULT_BLOCK_SIMS, max_sims=cap, seed=seed, null=null,
                        threads=threads, executor=executor, progress=update,
                    )
                extra = precision_rows(precision.to_dict())
        summary = result.to_dict()
        if target_mc_se is not None:
            summary["precision"] = precision.to_dict()
        if write is not None:
            _write_outputs(write, summary, result, sc)
    _print(summary, fmt_, extra)
    if sc.prior is not None and fmt_ == "table" and not null:
        click.echo("\n  note: power at the scenario's assumed effects; this file's prior: block is what "
                   "`simtrial assurance` averages over")


@click.command("samplesize")
@common_options
@click.option("--power", "target_power", type=float, default=None, help="Target power (default: the scenario's, else 0.8).")
@click.option("--target", "target_quantity", type=click.Choice(["power", "assurance"]), default="power", show_default=True,
              help="What must reach the target: power, or assurance over the scenario's prior: block.")
@click.option("--value", "target_value", type=float, default=None,
              help="The target's value (same as --power; for --target assurance, e.g. 0.7).")
@click.option("--solve-for", type=click.Choice(["n_patients", "events"]), default=None, help="What to solve for (default: the scenario's).")
@click.option("--precision", type=float, default=0.02, show_default=True,
              help="95% Monte-Carlo half-width of the answer, as a fraction of it.")
@click.option("--max-sims", type=int, default=None, callback=_positive,
              help="Budget: simulated trials in the whole search (exit 1 if it runs out before confirmation).")
@click.option("--max-seconds", type=float, default=None, help="Budget: seconds for the whole search (exit 1 if exceeded).")
@click.option("--text", "as_text", is_flag=True,
              help="Print the sample-size justification paragraph (the one `simtrial report` writes) instead of the table.")
@_guard
def samplesize_command(scenario, sims, seed, threads, out_dir, fmt_, quiet, target_power, target_quantity, target_value, solve_for, precision,
                       max_sims, max_seconds, overwrite=False, as_text=False):
    """Smallest N (or number of events) for SCENARIO to reach the target power, confirmed by an independent run."""
    if target_value is not None:
        if target_power is not None and target_power != target_value:
            raise click.BadParameter(f"--power {target_power} and --value {target_value} disagree: give one",
                                     param_hint="--value")
        target_power = target_value
    if target_power is not None and not 0.0 < target_power < 1.0:
        raise click.BadParameter(f"must be in (0, 1), got {target_power}", param_hint="--value" if target_value else "--power")
    if not 0.0 < precision < 1.0:
        raise click.BadParameter(f"must be a fraction in (0, 1), e.g. 0.02, got {precision}", param_hint="--precision")
    if max_seconds is not None and not max_seconds > 0:
        raise click.BadParameter(f"must be > 0, got {max_seconds}", param_hint="--max-seconds")
    sc = _load(scenario)
    with staged_output(out_dir, OUTPUT_NAMES, overwrite=overwrite) as write:
        try:
            with progress_bar(30, "searching", quiet, compiles=sc.endpoint == "time_to_event") as update:
                options = dict(solve_for=solve_for, n_sims=sims, seed=seed, threads=threads, progress=_progress(update),
                               precision=precision, max_sims=max_sims, max_seconds=max_seconds)
                if target_quantity == "assurance":
                    from simtrial.probability_of_success import assurance_sample_size

                    target = target_power if target_power is not None else 0.8
                    result: SampleSizeResult = assurance_sample_size(sc, target=target, **options)
                else:
                    result = sample_size(sc, target_power=target_power, **options)
        except BudgetExhausted as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        summary = result.to_dict()
        if write is not None:
            write("summary.json", dump_json(summary))
            write("trials.csv", result.confirmation.per_trial_frame().to_csv(index=False))
            write("scenario.resolved.yaml", _scenario_header(sc) + dump_yaml(result.resolved_scenario()))
            write("power_curve.csv", result.to_frame().to_csv(index=False))
    key = summary["solve_for"]
    answer = summary["events_required"] if key == "events" else summary["n_required"]
    from simtrial.timeline.sizes import efficacy_alpha

    alpha_label = efficacy_alpha(sc.analysis).label
    unc = summary.get("uncertainty")
    rel = summary.get("uncertainty_relative")
    extra = [
        (f"target {summary.get('target_quantity', 'power')}", fmt(summary["target_power"])),
        ("solved for", key),
        (f"{'events' if key == 'events' else 'patients'} required",
         f"{fmt(answer)}" + (f"  (Monte-Carlo uncertainty ± {fmt(unc, 1)}, {100 * rel:.1f}%, 95%)" if unc and rel else "")),
        ("patients required" if key == "events" else "events required",
         fmt(summary["n_required"] if key == "events" else summary["events_required"])),
        ("confirmation (independent run)",
         f"{summary.get('target_quantity', 'power')} {fmt(summary['achieved_power'])} "
         f"(MC SE {fmt(summary['achieved_power_mc_se'], 4)}, "
         f"{summary['n_sims']} trials, seed {summary['seed']})"),
        ("confirmed", "yes: the independent run reaches the target" if summary["confirmed"] else "NO"),
        ("analytic events (Schoenfeld" + (" assurance)" if summary.get("target_quantity") == "assurance" else ")"),
         f"{fmt(summary['analytic_events'], 1)}  (at {alpha_label})" if summary["analytic_events"] is not None
         else fmt(None)),
        ("points evaluated", f"{len(summary['power_curve'])} + {len(summary.get('confirmations') or [])} confirmation(s)"),
    ]
    if summary.get("analytic_sample_sizes"):
        from simtrial.timeline.sizes import format_sizes

        extra[-1:-1] = [("analytic" if i == 0 else "", line)
                        for i, line in enumerate(format_sizes(summary["analytic_sample_sizes"], alpha_label))]
    if as_text:
        from simtrial_cli.report_cmds import justification_text

        click.echo(justification_text(result, sc))
        return
    _print(summary, fmt_, extra)
    if fmt_ == "table" and summary["power_curve"]:
        click.echo("\n  power curve (per stage: one seed, common random numbers; 'monotone' is the isotonic fit,")
        click.echo("  since true power never decreases while each stage's raw points wiggle by MC error)")
        rows = [[p["stage"], str(p[key]), str(p.get("n_sims", "-")), fmt(p["power"]), fmt(p["mc_se"], 4),
                 fmt(p.get("power_monotone"))] for p in summary["power_curve"]]
        click.echo(grid(["stage", key, "trials", "power", "mc_se", "monotone"], rows))
        for c in summary.get("confirmations") or []:
            verdict = "reaches target" if c["reached_target"] else "short of target: answer moved up"
            click.echo(f"  confirmation at {c[key]}: power {fmt(c['power'])} (MC SE {fmt(c['mc_se'], 4)}), {verdict}")


@click.command("validate")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--format", "fmt_", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--for", "command", type=click.Choice(["run", "samplesize", "assurance"]), default="run", show_default=True,
              help="The command the file is for: a sample-size-only file (no n_patients or target_events) "
                   "validates for samplesize, not for run.")
@_guard
def validate_command(scenario, fmt_, command):
    """Load and check SCENARIO without simulating; print the resolved scenario."""
    sc = _load(scenario)
    missing = _run_needs(sc)
    if command == "assurance" and sc.prior is None:
        raise UserError(f"{scenario}: `simtrial assurance` needs a prior: block, which this file has not; "
                        "allowed: add one (scenarios/README.md, prior)")
    if missing and command in ("run", "assurance"):
        # a file that validates must run: this one only the sample-size search can use as it is
        raise UserError(
            f"{scenario}: `simtrial {command}` needs {' and '.join(missing)}, which this file leaves to a sample-size "
            "search; allowed: give it, or check the file with `simtrial validate --for samplesize`"
        )
    if fmt_ == "json":
        click.echo(dump_json({"scenario": sc.name, "design": sc.design, "valid": True, "runnable": not missing,
                              "run_needs": missing, "resolved": dict(sc.resolved)}), nl=False)
    else:
        click.echo(f"{scenario}: valid ({sc.design}, {sc.endpoint})")
        if missing:
            click.echo(f"  for `simtrial samplesize` only: `simtrial run` needs {' and '.join(missing)} "
                       "(the sample-size search supplies it; its --out scenario.resolved.yaml runs)")
        click.echo(dump_yaml(dict(sc.resolved)), nl=False)


def _run_needs(sc: Scenario) -> list[str]:
    """Fields a sample-size-only scenario leaves out that `simtrial run` needs (validate says so up front)."""
    needs = []
    if sc.n_patients is None and sc.design != "simon_two_stage":
        needs.append("n_patients")
    a = sc.analysis
    derived = sc.sample_size is not None and sc.sample_size.events_per_patient is not None
    if sc.endpoint == "time_to_event" and a.target_events is None and a.calendar_months is None and not derived:
        needs.append("analysis.target_events")
    return needs
