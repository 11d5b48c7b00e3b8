"""HTML design reports: the numbers of a scenario's runs, their sources, figures and a justification paragraph.

The report reads results (output sets: ``summary.json``, ``trials.csv``,
``scenario.resolved.yaml``), never runs the design itself; the only simulation
here is the calibration figure's cohort, drawn from the resolved models.

    sets = [read_output_set("results/h1"), read_output_set("results/h0")]
    report = collect(Inputs.from_sets(sets))
    write_html("report.html", render_html(report))

Pages: ``inputs`` (output sets), ``data`` (sections), ``figures`` (SVG),
``text`` (justification paragraph), ``html`` (template, atomic write).
Importing this package imports neither matplotlib nor jinja2.
"""

from __future__ import annotations

from simtrial.report.data import SECTIONS, TEXT_SECTIONS, Inputs, ReportData, Section, collect
from simtrial.report.html import check_html_target, render_html, write_html
from simtrial.report.inputs import (
    OutputSet,
    header_comment,
    output_set_from_assurance,
    output_set_from_power,
    output_set_from_samplesize,
    read_output_set,
    resolved_scenario_text,
)
from simtrial.report.text import justification_paragraph

__all__ = [
    "SECTIONS",
    "TEXT_SECTIONS",
    "Inputs",
    "OutputSet",
    "ReportData",
    "Section",
    "check_html_target",
    "collect",
    "header_comment",
    "justification_paragraph",
    "output_set_from_power",
    "output_set_from_assurance",
    "output_set_from_samplesize",
    "read_output_set",
    "render_html",
    "resolved_scenario_text",
    "write_html",
]
