"""`simtrial report --sweep DIR`: a sensitivity-sweep section with a line plot (one field) or a heat map (two)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from simtrial_cli.main import main

FLAGSHIP = "scenarios/ihc3_deescalation_ni.yaml"


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep_report")
    assert _invoke("run", FLAGSHIP, "--sims", "100", "--quiet", "--out", str(root / "h1")).exit_code == 0
    r = _invoke("sweep", FLAGSHIP, "--vary", "analysis.ni_margin=1.2,1.3", "--sims", "100", "--quiet",
                "--out", str(root / "one"))
    assert r.exit_code == 0, r.output
    r = _invoke("sweep", FLAGSHIP, "--vary", "analysis.ni_margin=1.2,1.3",
                "--vary", 'population.misclassification["IHC 2+/ISH+"]["IHC 3+"]=0,0.1', "--sims", "100", "--quiet",
                "--out", str(root / "two"))
    assert r.exit_code == 0, r.output
    return root


@pytest.mark.parametrize("which, shape", [("one", "errorbar"), ("two", "heat")])
def test_sweep_section_figure_and_numbers(runs, which, shape):
    out = runs / f"{which}.html"
    r = _invoke("report", "--from", str(runs / "h1"), "--sweep", str(runs / which), "--out", str(out), "--quiet",
                "--calibration-patients", "300")
    assert r.exit_code == 0, r.output
    page = out.read_text()
    section = page[page.index('<section id="sweep">'):]
    section = section[: section.index("</section>")]
    assert "<svg" in section
    assert "http://" not in section.replace("http://www.w3.org", "") and "https://" not in section
    rows = json.loads((runs / which / "sweep.json").read_text())["rows"]
    shown = {int(i): float(v) for i, v in re.findall(r'data-value="sweep:(\d+)">([0-9.]+)<', section)}
    assert len(shown) == len(rows)
    for i, row in enumerate(rows):
        assert shown[i] == pytest.approx(row["power"], abs=5e-5)


def test_sweep_of_another_scenario_or_no_sweep_is_refused(runs, tmp_path):
    other = tmp_path / "other"
    r = _invoke("sweep", "scenarios/tki_ihc_stratified.yaml", "--vary", "n_patients=600,700", "--sims", "50",
                "--quiet", "--out", str(other))
    assert r.exit_code == 0, r.output
    out = tmp_path / "r.html"
    r = _invoke("report", "--from", str(runs / "h1"), "--sweep", str(other), "--out", str(out), "--quiet")
    assert r.exit_code == 2 and "same scenario" in r.output and not out.exists()
    r = _invoke("report", "--from", str(runs / "h1"), "--sweep", str(runs / "h1"), "--out", str(out), "--quiet")
    assert r.exit_code == 2 and "sweep.json" in r.output and not out.exists()
