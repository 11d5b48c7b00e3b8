"""`simtrial`: the click front end.  Parse, call the library, print; no statistics here.

Exit codes: 0 success; 1 a check failed or an internal error; 2 bad input
(file, field path, value and what is allowed, never a traceback).
"""

from __future__ import annotations

import click
from simtrial_cli.evidence_cmds import calibrate_command, evidence_command
from simtrial_cli.run_cmds import run_command, samplesize_command, validate_command

from simtrial import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simtrial")
def main() -> None:
    """In-silico trials of HER2-targeted breast-cancer therapy, stratified by HER2 IHC."""


main.add_command(evidence_command)
main.add_command(calibrate_command)
main.add_command(run_command)
main.add_command(samplesize_command)
main.add_command(validate_command)
