"""`simtrial report`: the HTML design report, its numbers, figures, paragraph, --from and bad input.

Kept lean (few simulated trials, small calibration cohorts): the numbers checked are
the report's faithfulness to summary.json, not the statistics themselves.
"""

from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from simtrial_cli.main import main

from simtrial.power import run
from simtrial.report import (
    Inputs,
    collect,
    output_set_from_power,
    output_set_from_samplesize,
    render_html,
)
from simtrial.report.inputs import header_comment
from simtrial.samplesize import sample_size
from simtrial.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
FLAGSHIP = ROOT / "scenarios" / "ihc3_deescalation_ni.yaml"
GS = ROOT / "scenarios" / "ihc3_deescalation_ni_gs.yaml"
SIMS = 200
PRECISION = 0.3  # a coarse sample-size search: fast, and the report only has to show it faithfully
CAL_N = 1000

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|<script[^>]*\bsrc\s*=|<link\b|@import|url\(\s*["']?https?:""",
                      re.IGNORECASE)


def _sets(path: Path, sims: int = SIMS):
    sc = load_scenario(path)
    header = header_comment(path)
    sets = [output_set_from_power(run(sc, n_sims=sims), header),
            output_set_from_power(run(sc, n_sims=sims, null=True), header)]
    if sc.sample_size is not None:
        sets.append(output_set_from_samplesize(sample_size(sc, n_sims=sims, precision=PRECISION), header))
    return sets


def _values(page: str) -> dict[tuple[str, str], float]:
    """Numbers the page marks with data-value (and data-h: h0 / h1), as printed."""
    out = {}
    for m in re.finditer(r'data-value="([^"]+)"(?: data-h="(h[01])")?>([^<]+)<', page):
        out[(m.group(1), m.group(2) or "")] = m.group(3).strip()
    return out


def _close(printed: str, value: float) -> bool:
    digits = len(printed.split(".")[1]) if "." in printed else 0
    return abs(float(printed.replace(",", "")) - value) <= 0.5 * 10 ** (-digits) + 1e-12


def check_page(page: str, sets) -> None:
    """The HTML checks every report must pass."""
    assert page.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.search(page), EXTERNAL.search(page).group(0)
    assert "<script" not in page.lower()
    kinds = {s.kind: s for s in sets}
    oc = kinds.get("power") or kinds.get("samplesize")
    expected = ["question", "assumptions", "calibration", "operating", "justification", "reproducibility"]
    if oc.summary.get("looks"):
        expected.append("sequential")
    if "samplesize" in kinds:
        expected.append("sample_size")
    for name in expected:
        assert f'<section id="{name}">' in page, name
    figures = ["fig-calibration"]
    if oc.summary.get("looks"):
        figures.append("fig-sequential")
    if "samplesize" in kinds and kinds["samplesize"].summary.get("power_curve"):
        figures.append("fig-sample-size")
    if oc.summary.get("mean_duration_months") is not None or oc.summary.get("hr_median") is not None:
        figures.append("fig-distributions")
    for fig in figures:
        m = re.search(rf'<svg role="img" aria-label="{fig}"[^>]*>(.*?)</svg>', page, re.S)
        assert m, fig
        assert m.group(1).count("<path") + m.group(1).count("<use") > 10, f"{fig} looks empty"
    # every marked number equals summary.json
    values = _values(page)
    for s in sets:
        if s.kind == "samplesize":
            d = s.summary
            assert values[("answer", "")] == str(d["events_required"] if d["solve_for"] == "events" else d["n_required"])
            assert _close(values[("achieved_power", "")], d["achieved_power"])
            continue
        h = "h0" if s.kind == "null" else "h1"
        if s.kind == "power" or ("power", h) in values:
            d = s.summary
            assert _close(values[("power", h)], d["power"])
            assert _close(values[("power_mc_se", h)], d["power_mc_se"])
            assert _close(values[("mean_enrolled", h)], d["mean_enrolled"])
            assert _close(values[("mean_events", h)], d["mean_events"])
            if ("mean_duration_months", h) in values and d.get("mean_duration_months") is not None:
                assert _close(values[("mean_duration_months", h)], d["mean_duration_months"])
            for name, v in (d.get("decisions") or {}).items():
                assert _close(values[(f"decision:{name}", h)], v["probability"])
    for lk in oc.summary.get("looks") or []:
        printed = values[(f"look{lk['look']}:p_stop_efficacy", "")].split()[0]
        assert _close(printed, lk["p_stop_efficacy"])


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_builds_a_checked_report(path: Path) -> None:
    sets = _sets(path)
    page = render_html(collect(Inputs.from_sets(sets, calibration_patients=CAL_N)))
    check_page(page, sets)


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d[\d,]*\.?\d*", text)


def test_justification_numbers_equal_the_summary() -> None:
    sets = _sets(FLAGSHIP)
    report = collect(Inputs.from_sets(sets, calibration_patients=CAL_N))
    text = report.section("justification")["text"]
    power, null, search = (next(s.summary for s in sets if s.kind == k) for k in ("power", "null", "samplesize"))
    m = re.search(r"under H1 the power is ([\d.]+) \(Monte-Carlo SE ([\d.]+); 95% CI ([\d.]+) to ([\d.]+)\)", text)
    assert m, text
    for printed, value in zip(m.groups(), [power["power"], power["power_mc_se"], *power["power_ci"]], strict=True):
        assert _close(printed, value)
    assert re.search(rf"In {power['n_sims']} simulated trials \(seed {power['seed']}\) under H1", text)
    m = re.search(r"under H0 the type I error is ([\d.]+) \(Monte-Carlo SE ([\d.]+); 95% CI ([\d.]+) to ([\d.]+)\)", text)
    for printed, value in zip(m.groups(), [null["power"], null["power_mc_se"], *null["power_ci"]], strict=True):
        assert _close(printed, value)
    m = re.search(r"To reach a power of ([\d.]+), (\d+) events \((\d+) patients\) are required \(Monte-Carlo uncertainty "
                  r"\+/- ([\d.]+), 95%\), confirmed by an independent simulation of (\d+) trials giving power ([\d.]+) "
                  r"\(Monte-Carlo SE ([\d.]+)\)", text)
    assert m, text
    assert _close(m.group(1), search["target_power"])
    assert int(m.group(2)) == search["events_required"] and int(m.group(3)) == search["n_required"]
    assert _close(m.group(4), search["uncertainty"])
    assert int(m.group(5)) == search["n_sims"]
    assert _close(m.group(6), search["achieved_power"]) and _close(m.group(7), search["achieved_power_mc_se"])
    m = re.search(r"mean of ([\d.]+) events|on average ([\d.]+) events and a study duration of ([\d.]+) months", text)
    assert _close(m.group(2), power["mean_events"]) and _close(m.group(3), power["mean_duration_months"])
    # the design as the scenario file states it, and the evidence it rests on
    assert "margin" in text and ">= 1.30" in text and "one-sided alpha 0.0250" in text
    assert "DB03.TDXd.PFS.median (DESTINY-Breast03, ref. [25])" in text
    assert "5.0% by 12 months" in text and "30.0 months" in text


def test_sequential_paragraph_names_the_bounds() -> None:
    sets = _sets(GS)
    report = collect(Inputs.from_sets(sets, calibration_patients=CAL_N))
    text = report.section("justification")["text"]
    looks = next(s.summary for s in sets if s.kind == "power")["looks"]
    for lk in looks:
        if lk["z_efficacy"] is not None:
            assert f"Z >= {lk['z_efficacy']:.3f}" in text and f"p {lk['nominal_p']:.4f}" in text
    rows = report.section("sequential")["rows"]
    assert [r["events"] for r in rows] == [250, 375, 500]
    months = [r["expected_month"] for r in rows]
    assert months == sorted(months) and months[-1] > 30.0  # after accrual ends, increasing
    # the design integrates all three looks (the futility-only first one spends nothing): ~2e-9 of grid error
    assert rows[0]["cumulative_alpha"] is None and rows[1]["cumulative_alpha"] == pytest.approx(0.00964932, abs=1e-8)
    assert rows[-1]["cumulative_alpha"] == pytest.approx(0.025, abs=1e-8)


@pytest.mark.parametrize("path", [FLAGSHIP, ROOT / "scenarios" / "tki_ihc_stratified.yaml",
                                  ROOT / "scenarios" / "db03_replay.yaml"], ids=lambda p: p.stem)
def test_calibration_km_median_within_mc_error_of_the_model(path: Path) -> None:
    sc = load_scenario(path)
    sets = [output_set_from_power(run(sc, n_sims=20), header_comment(path))]
    data = collect(Inputs.from_sets(sets, calibration_patients=6000), only=("calibration",)).section("calibration")
    checked = 0
    for panel in data["panels"]:
        for c in panel["curves"]:
            if c["model_median"] is None:
                continue
            # the model median comes from the model's own formula (independent of the simulated cohort)
            assert c["km_median"] is not None
            assert abs(c["km_median"] - c["model_median"]) <= 4.0 * c["km_median_se"], (panel["category"], c["arm"])
            checked += 1
    assert checked >= 4


def _invoke(args, **kw):
    return CliRunner().invoke(main, args, catch_exceptions=False, **kw)


def test_from_gives_byte_identical_html(tmp_path: Path) -> None:
    common = ["--sims", str(SIMS), "--quiet"]
    for name, extra in (("h1", []), ("h0", ["--null"])):
        r = _invoke(["run", str(GS), *common, "--out", str(tmp_path / name), *extra])
        assert r.exit_code == 0, r.output
    r = _invoke(["samplesize", str(GS), *common, "--precision", str(PRECISION), "--out", str(tmp_path / "ss")])
    assert r.exit_code == 0, r.output
    cal = ["--calibration-patients", str(CAL_N)]
    r = _invoke(["report", str(GS), *common, "--precision", str(PRECISION), *cal, "--out", str(tmp_path / "a.html")])
    assert r.exit_code == 0, r.output
    r = _invoke(["report", "--from", str(tmp_path / "h1"), "--from", str(tmp_path / "h0"), "--from",
                 str(tmp_path / "ss"), "--quiet", *cal, "--out", str(tmp_path / "b.html")])
    assert r.exit_code == 0, r.output
    a, b = (tmp_path / "a.html").read_bytes(), (tmp_path / "b.html").read_bytes()
    assert a == b
    page = a.decode()
    assert "Question: the flagship IHC 3+ de-escalation" in page  # the header comment survives into --out
    assert not list(tmp_path.glob(".*.tmp"))


def test_samplesize_text_prints_the_reports_paragraph(tmp_path: Path) -> None:
    args = ["samplesize", str(FLAGSHIP), "--sims", str(SIMS), "--precision", str(PRECISION), "--quiet"]
    r = _invoke([*args, "--text", "--out", str(tmp_path / "ss")])
    assert r.exit_code == 0, r.output
    r2 = _invoke(["report", "--from", str(tmp_path / "ss"), "--quiet", "--calibration-patients", "500",
                  "--out", str(tmp_path / "r.html")])
    assert r2.exit_code == 0, r2.output
    page = (tmp_path / "r.html").read_text()
    paragraph = html_lib.unescape(re.search(r'<p id="justification-text">(.*?)</p>', page, re.S).group(1))
    assert r.output.strip() == paragraph.strip()
    assert "events (" in paragraph and "are required" in paragraph


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ["report", str(FLAGSHIP), "--out", str(empty)],  # a directory
        ["report", str(FLAGSHIP), "--out", str(tmp_path / "missing" / "r.html")],  # no such directory
        ["report", "--from", str(empty), "--out", str(tmp_path / "r.html")],  # no results there
        ["report", "--from", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.html")],
        ["report", "--out", str(tmp_path / "r.html")],  # neither SCENARIO nor --from
        ["report", str(FLAGSHIP), "--from", str(empty), "--out", str(tmp_path / "r.html")],  # both
    ]
    for args in cases:
        r = CliRunner().invoke(main, [*args, "--quiet"])
        assert r.exit_code == 2, (args, r.output)
        assert "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
    assert list(empty.iterdir()) == []


def test_unwritable_out_exits_2(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os

        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root): permissions cannot be tested")
        r = CliRunner().invoke(main, ["report", str(FLAGSHIP), "--out", str(locked / "r.html"), "--quiet"])
        assert r.exit_code == 2, r.output
    finally:
        locked.chmod(0o700)


def test_incomplete_output_set_is_refused(tmp_path: Path) -> None:
    r = _invoke(["run", str(FLAGSHIP), "--sims", "50", "--quiet", "--out", str(tmp_path / "h1")])
    assert r.exit_code == 0
    (tmp_path / "h1" / "summary.json").write_text((tmp_path / "h1" / "summary.json").read_text() + " ")
    r = CliRunner().invoke(main, ["report", "--from", str(tmp_path / "h1"), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "manifest" in r.output
    assert not (tmp_path / "r.html").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_renders_in_chromium_without_console_errors(tmp_path: Path) -> None:
    sets = _sets(GS)
    page = render_html(collect(Inputs.from_sets(sets, calibration_patients=CAL_N)))
    out = tmp_path / "report.html"
    out.write_text(page, encoding="utf-8")
    shot = tmp_path / "report.png"
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}"]
    done = subprocess.run([*base, f"--screenshot={shot}", "--window-size=1200,3000", out.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000, done.stderr[-2000:]
    assert "CONSOLE" not in done.stderr and "Uncaught" not in done.stderr, done.stderr[-2000:]
    dom = subprocess.run([*base, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert "CONSOLE" not in dom.stderr
    for section in ("question", "assumptions", "calibration", "operating", "sequential", "sample_size",
                    "justification", "reproducibility"):
        assert f'id="{section}"' in dom.stdout
    assert dom.stdout.count("<svg") >= 4


def test_hr_status_section_states_the_cell_prevalences() -> None:
    """The report's hormone-receptor block: P(HR+ | IHC) as given, cells = mix x fraction, the HR+ share."""
    path = ROOT / "scenarios" / "antiher2_ihc_by_hr_stratified.yaml"
    sc = load_scenario(path)
    data = collect(Inputs.from_sets(_sets(path, sims=200), calibration_patients=CAL_N))
    hr = data.section("assumptions")["hr_status"]
    fraction = {"IHC 3+": 0.5, "IHC 2+/ISH+": 0.6}  # the file's positive_fraction
    mix = {"IHC 3+": 0.75, "IHC 2+/ISH+": 0.25}
    assert hr["positive_fraction"] == fraction
    want = {f"{c}/HR+": mix[c] * f for c, f in fraction.items()} | {f"{c}/HR-": mix[c] * (1 - f) for c, f in fraction.items()}
    got = {row["cell"]: row["screened"] for row in hr["cells"]}
    assert got == pytest.approx(want, rel=1e-12)
    assert hr["hr_positive_screened"] == pytest.approx(0.75 * 0.5 + 0.25 * 0.6, rel=1e-12)
    assert sc.population.hr_positive_fraction is not None
    page = render_html(data)
    assert "HR+" in page and "IHC 2+/ISH+/HR-" in page
