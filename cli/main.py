"""`simtrial`: the click front end.  Parse, call the library, print; no statistics here.

Exit codes: 0 success; 1 a check failed or an internal error; 2 bad input
(file, field path, value and what is allowed, never a traceback).

Subcommands load lazily: ``simtrial --help`` and ``--version`` import only click
and this module (no numpy, scipy, pandas or numba); a command's module is
imported when that command runs or its own help is asked for.
"""

from __future__ import annotations

import importlib
import warnings

import click

from simtrial._version import __version__

# name -> (module, attribute, one-line help shown by `simtrial --help`).  The help
# is the first paragraph of the command's docstring; tests/test_cli_startup.py
# checks the two agree.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "evidence": (
        "simtrial_cli.evidence_cmds",
        "evidence_command",
        "The figures the HER2 review reports, per trial, arm and HER2 subgroup.",
    ),
    "calibrate": (
        "simtrial_cli.evidence_cmds",
        "calibrate_command",
        "Check that each calibrated model reproduces its reported figure, exactly and in a simulated cohort.",
    ),
    "run": (
        "simtrial_cli.run_cmds",
        "run_command",
        "Simulate SCENARIO's design: power (or type I error with --null) and operating characteristics.",
    ),
    "samplesize": (
        "simtrial_cli.run_cmds",
        "samplesize_command",
        "Smallest N (or number of events) for SCENARIO to reach the target power, confirmed by an independent run.",
    ),
    "assurance": (
        "simtrial_cli.assurance_cmds",
        "assurance_command",
        "Assurance of SCENARIO: the probability of success averaged over its prior, with power at the prior's centre.",
    ),
    "report": (
        "simtrial_cli.report_cmds",
        "report_command",
        "Write a self-contained HTML design report for SCENARIO (or from earlier results with --from).",
    ),
    "sweep": (
        "simtrial_cli.sweep_cmds",
        "sweep_command",
        "Operating characteristics of SCENARIO over a grid of its values (same seed at every point).",
    ),
    "timeline": (
        "simtrial_cli.timeline_cmds",
        "timeline_command",
        "Expected enrolment, events per arm and category, and look times of SCENARIO, by numerical integration.",
    ),
    "validate": (
        "simtrial_cli.run_cmds",
        "validate_command",
        "Load and check SCENARIO without simulating; print the resolved scenario.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; its help lists them from ``COMMANDS``."""

    def __init__(self, *args, lazy_commands: dict[str, tuple[str, str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module, attribute, _ = self.lazy_commands[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context):
        # numpy's RuntimeWarnings (overflow, invalid value in a reduction of extreme inputs) are not
        # the user's business on stderr: results carry flags for undefined statistics instead
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return super().invoke(ctx)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own version calls get_command (an import) per row; the stored help avoids that
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
            else:
                command = click.Command(name, help=self.lazy_commands[name][2])
            if not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="simtrial")
def main() -> None:
    """In-silico trials of HER2-targeted breast-cancer therapy, stratified by HER2 IHC."""
