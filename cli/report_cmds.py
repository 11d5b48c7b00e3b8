"""`simtrial report`: one self-contained HTML design report, from a scenario or from earlier results."""

from __future__ import annotations

import click
from simtrial_cli.run_cmds import (
    UserError,
    _guard,
    _load,
    _n_sims,
    _no_progress,
    _positive,
    _run_needs,
    _seed,
)

DEFAULT_CALIBRATION_PATIENTS = 20_000


@click.command("report")
@click.argument("scenario", type=click.Path(dir_okay=False), required=False)
@click.option("--out", "out_path", type=click.Path(), required=True, help="The HTML file to write (atomically).")
@click.option("--from", "from_dirs", type=click.Path(), multiple=True,
              help="Build from earlier --out directories of `simtrial run` (H1 and/or --null), "
                   "`simtrial samplesize` and `simtrial assurance`, without simulating; repeat for each.")
@click.option("--sims", type=int, default=None, callback=_n_sims, help="Simulated trials (default: the scenario's n_sims).")
@click.option("--seed", type=int, default=None, callback=_seed, help="Random seed (default: the scenario's seed).")
@click.option("--threads", type=int, default=None, callback=_positive, help="Worker threads (results do not depend on it).")
@click.option("--precision", type=float, default=0.02, show_default=True,
              help="Sample-size search: 95% Monte-Carlo half-width of the answer, as a fraction of it.")
@click.option("--calibration-patients", type=int, default=DEFAULT_CALIBRATION_PATIENTS, callback=_positive,
              show_default=True, help="Patients per HER2 category in the calibration figure's simulated cohort.")
@click.option("--sweep", "sweep_dir", type=click.Path(), default=None,
              help="Add a sensitivity-sweep section from a `simtrial sweep --out` directory of the same scenario.")
@click.option("--quiet", is_flag=True, help="No progress messages.")
@_guard
def report_command(scenario, out_path, from_dirs, sims, seed, threads, precision, calibration_patients, quiet,
                   sweep_dir=None):
    """Write a self-contained HTML design report for SCENARIO (or from earlier results with --from).

    Runs what the scenario asks: power, the null run for type I error, the
    sample-size search when the scenario has a sample_size block, and assurance
    when it has a prior block; then writes
    one HTML file (inline SVG figures, no external resources).  With --from,
    the same page is built from `simtrial run --out` / `--null --out` /
    `simtrial samplesize --out` directories, byte for byte.
    """
    from simtrial.report import (
        Inputs,
        check_html_target,
        collect,
        read_output_set,
        render_html,
        write_html,
    )

    if (scenario is None) == (not from_dirs):
        raise UserError("give either SCENARIO (simulate now) or --from DIR (earlier results), not both or neither")
    if not 0.0 < precision < 1.0:
        raise click.BadParameter(f"must be a fraction in (0, 1), e.g. 0.02, got {precision}", param_hint="--precision")
    check_html_target(out_path)  # before any work: a directory or an unwritable path fails now
    from simtrial.report.inputs import read_sweep

    sweep = read_sweep(sweep_dir) if sweep_dir is not None else None  # before any simulation, too
    if from_dirs:
        if sims is not None or seed is not None:
            raise UserError("--sims / --seed apply when simulating; --from reads the results as they are")
        sets = [read_output_set(d) for d in from_dirs]
    else:
        sets = _simulate(scenario, sims, seed, threads, precision, quiet)
    inputs = Inputs.from_sets(sets, calibration_patients=calibration_patients, sweep=sweep)
    if not quiet:
        click.echo("drawing figures and writing the report", err=True)
    page = render_html(collect(inputs))
    write_html(out_path, page)
    if not quiet:
        click.echo(f"wrote {out_path}", err=True)


def _simulate(path, sims, seed, threads, precision, quiet):
    from simtrial.power import run
    from simtrial.report import header_comment, output_set_from_power, output_set_from_samplesize
    from simtrial.samplesize import sample_size

    sc = _load(path)
    header = header_comment(path)

    def say(text: str) -> None:
        if not quiet:
            click.echo(text, err=True)

    sets = []
    runnable = not _run_needs(sc)
    if runnable:
        say("simulating under H1 (power)")
        sets.append(output_set_from_power(run(sc, n_sims=sims, seed=seed, threads=threads, progress=_no_progress),
                                          header))
        say("simulating under H0 (type I error)")
        sets.append(output_set_from_power(
            run(sc, n_sims=sims, seed=seed, null=True, threads=threads, progress=_no_progress), header))
    if sc.prior is not None and runnable:
        from simtrial.probability_of_success import assurance
        from simtrial.report import output_set_from_assurance

        say("simulating over the prior (assurance)")
        sets.append(output_set_from_assurance(
            assurance(sc, n_sims=sims, seed=seed, threads=threads, progress=_no_progress), header))
    if sc.sample_size is not None or not runnable:
        say("searching the sample size")
        result = sample_size(sc, n_sims=sims, seed=seed, threads=threads, precision=precision, progress=_no_progress)
        sets.append(output_set_from_samplesize(result, header))
    return sets


def justification_text(result, scenario) -> str:
    """The justification paragraph of a sample-size result, as `simtrial report` writes it (for `samplesize --text`)."""
    from simtrial.report import (
        TEXT_SECTIONS,
        Inputs,
        collect,
        header_comment,
        output_set_from_samplesize,
    )

    inputs = Inputs.from_sets([output_set_from_samplesize(result, header_comment(scenario.path))])
    return collect(inputs, only=TEXT_SECTIONS).section("justification")["text"]
