"""Hostile and huge input through the CLI (issue 10): bounded parsing, Ctrl-C, atomic output sets.

Every refusal is exit 2 with a message naming the file (and, for YAML
content, the line) and what is allowed; never exit 1 or a traceback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from simtrial_cli import output
from simtrial_cli.main import main

from simtrial.scenario.errors import show

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = """\
name: reliability test
design: superiority
population:
  mix: {IHC 3+: 0.7, IHC 2+/ISH+: 0.3}
arms:
  control:
    survival:
      all: {median_months: 10}
    dropout: {probability: 0.05, by_months: 12}
  experimental:
    survival:
      all: {hazard_ratio: 0.7}
allocation: {control: 1, experimental: 1}
n_patients: 400
accrual: {duration_months: 20}
analysis:
  test: logrank
  alpha: 0.025
  target_events: 250
simulation: {n_sims: 300, seed: 7}
"""

RUN_FILES = ["scenario.resolved.yaml", "simtrial-manifest.json", "summary.json", "trials.csv"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "trial.yaml"
    path.write_text(SCENARIO)
    return path


def _write(tmp_path: Path, text: str | bytes, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _refused(runner: CliRunner, path: Path | str, *words: str, args: tuple[str, ...] = ("validate",)) -> str:
    """Run, require exit 2 naming the file, no traceback; return the output."""
    result = runner.invoke(main, [*args, str(path)])
    assert result.exit_code == 2, (result.exit_code, result.output)
    out = result.output
    assert "Traceback" not in out and "internal error" not in out, out
    assert str(path) in out, out
    for word in words:
        assert word in out, (word, out)
    return out


def _line_of(out: str, path: Path) -> int:
    match = re.search(re.escape(str(path)) + r":(\d+)", out)
    assert match, out
    return int(match.group(1))


# --- 1. a bounded, strict YAML loader --------------------------------------------------------


def test_alias_bomb_is_refused_quickly(runner: CliRunner, tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = _write(tmp_path, "\n".join(lines) + "\n" + SCENARIO.replace("name: reliability test", "name: *a9"))
    assert path.stat().st_size < 2000
    start = time.perf_counter()
    out = _refused(runner, path, "aliases expand to more than", "allowed:")
    assert time.perf_counter() - start < 5.0
    assert len(out) < 600  # the expansion is never echoed


def test_alias_chain_nesting_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    chain = "\n".join(["x0: &x0 [1]"] + [f"x{i}: &x{i} [*x{i - 1}]" for i in range(1, 100)])
    _refused(runner, _write(tmp_path, SCENARIO + chain + "\n"), "nesting deeper than", "allowed:")


def test_recursive_alias_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    _refused(runner, _write(tmp_path, SCENARIO + "loop: &loop [*loop]\n"), "recursive alias", "allowed:")


@pytest.mark.parametrize("depth", [65, 500, 5000])
def test_deep_nesting_is_refused(runner: CliRunner, tmp_path: Path, depth: int) -> None:
    path = _write(tmp_path, SCENARIO.replace("n_patients: 400", "n_patients: " + "[" * depth + "]" * depth))
    out = _refused(runner, path, "nesting deeper than 64", "allowed:")
    assert _line_of(out, path) == SCENARIO.splitlines().index("n_patients: 400") + 1


def test_moderate_nesting_is_still_read(runner: CliRunner, tmp_path: Path) -> None:
    # 30 levels parse; the loader then refuses the field's type, not the nesting
    path = _write(tmp_path, SCENARIO.replace("n_patients: 400", "n_patients: " + "[" * 30 + "]" * 30))
    out = _refused(runner, path, "n_patients")
    assert "nesting deeper" not in out


def test_too_many_values_are_refused(runner: CliRunner, tmp_path: Path) -> None:
    huge = "[" + ", ".join(["1"] * 110_000) + "]"
    path = _write(tmp_path, SCENARIO.replace("n_patients: 400", f"n_patients: {huge}"))
    _refused(runner, path, "more than 100000 values", "allowed:")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(runner: CliRunner, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    start = time.perf_counter()
    _refused(runner, fifo, "FIFO", "not a regular file", "allowed:")
    assert time.perf_counter() - start < 5.0


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused(runner: CliRunner) -> None:
    start = time.perf_counter()
    _refused(runner, "/dev/zero", "device", "not a regular file", "allowed:")
    assert time.perf_counter() - start < 5.0


def test_directory_is_refused(tmp_path: Path) -> None:
    from simtrial.scenario import load_scenario
    from simtrial.scenario.errors import ScenarioError

    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path)
    assert "directory" in str(info.value) and "allowed:" in str(info.value)


def test_large_file_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO + "# " + "x" * 1_100_000 + "\n")
    _refused(runner, path, "too large", "allowed:")


@pytest.mark.parametrize(
    "bad, code",
    [("\x00", "U+0000"), ("\x07", "U+0007"), ("\x1b[31m", "U+001B"), ("\x85", None)],
)
def test_control_characters_are_refused_with_the_line(
    runner: CliRunner, tmp_path: Path, bad: str, code: str | None
) -> None:
    text = SCENARIO.replace("name: reliability test", f"name: reliability{bad} test")
    if code is None:  # NEL is a YAML line break: whatever happens, it is exit 0 or a clean exit 2
        result = runner.invoke(main, ["validate", str(_write(tmp_path, text))])
        assert result.exit_code in (0, 2) and "Traceback" not in result.output
        return
    path = _write(tmp_path, text)
    out = _refused(runner, path, code, "control character", "allowed:")
    assert _line_of(out, path) == 1
    assert bad not in out  # never echoed raw


def test_escaped_control_character_in_a_quoted_string_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO.replace("name: reliability test", 'name: "bell\\a here"'))
    out = _refused(runner, path, "control character", "allowed:")
    assert "\x07" not in out and _line_of(out, path) == 1


def test_invalid_utf8_is_refused_with_the_line(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO.encode().replace(b"n_patients: 400", b"n_patients: \xff400"))
    out = _refused(runner, path, "UTF-8", "allowed:")
    assert _line_of(out, path) == SCENARIO.splitlines().index("n_patients: 400") + 1


@pytest.mark.parametrize(
    "edit, words",
    [
        (("allocation: {control: 1, experimental: 1}", "allocation: {control: 1, experimental: 1, null: 1}"),
         ["null", "allowed:"]),
        (("allocation: {control: 1, experimental: 1}", "allocation: {control: 1, experimental: 1, ~: 1}"),
         ["null", "allowed:"]),
        (("analysis:\n", "analysis:\n  3: 4\n"), ["must be text", "allowed:"]),
        (("analysis:\n", "analysis:\n  [a, b]: 4\n"), ["allowed:"]),
        (("analysis:\n", "analysis:\n  yes: 4\n"), ["must be text", "allowed:"]),
    ],
)
def test_null_and_non_text_keys_are_refused(runner: CliRunner, tmp_path: Path, edit, words) -> None:
    _refused(runner, _write(tmp_path, SCENARIO.replace(*edit)), *words)


@pytest.mark.parametrize("value", ["8:44", "0x20C", "0o1014", "01014", "0b1000001100", "5_24", ".inf", "-.inf",
                                   ".nan", "!!int 0x20C", "!!float .inf"])
def test_yaml11_number_forms_are_not_numbers(runner: CliRunner, tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, SCENARIO.replace("n_patients: 400", f"n_patients: {value}"))
    out = _refused(runner, path, "allowed:")
    assert "n_patients" in out or "plain decimal" in out, out
    assert _line_of(out, path) == SCENARIO.splitlines().index("n_patients: 400") + 1


@pytest.mark.parametrize("value", ["524", "+524", "5.24e2", "524.0"])
def test_plain_decimal_numbers_are_numbers(runner: CliRunner, tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, SCENARIO.replace("n_patients: 400", f"n_patients: {value}"))
    result = runner.invoke(main, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["resolved"]["n_patients"] == 524


def test_a_number_with_thousands_of_digits_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO.replace("n_patients: 400", "n_patients: " + "9" * 5000))
    out = _refused(runner, path, "digits", "allowed:")
    assert len(out) < 600


def test_shipped_scenarios_still_validate(runner: CliRunner) -> None:
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        result = runner.invoke(main, ["validate", str(path)])
        assert result.exit_code == 0, result.output


# --- 2. short messages that say what is allowed ---------------------------------------------


def test_show_is_short_escaped_and_scientific() -> None:
    assert len(show("x" * 10_000)) <= 80
    assert len(show(list(range(100_000)))) <= 80
    assert "\x00" not in show("a\x00b") and "\x1b" not in show("\x1b[31mred")
    assert show(10**40) == "1e+40" and show(-(10**20)) == "-1e+20"
    assert show(1e300) == "1e+300" and show(123456789012345678.0) == "1.23457e+17"
    assert show(400) == "400" and show(0.025) == "0.025"
    assert "e+" in show(10**400)
    assert show(10**5000).startswith("about 2^")  # str() of it would be refused by Python
    shared = [1] * 9
    for _ in range(9):
        shared = [shared] * 9  # an alias-expanded value: 9**10 leaves, rendered lazily
    start = time.perf_counter()
    assert len(show(shared)) <= 80 and time.perf_counter() - start < 1.0


def test_long_bad_value_is_truncated(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO.replace("design: superiority", "design: " + "z" * 5000))
    out = _refused(runner, path, "design", "allowed:")
    assert "z" * 100 not in out and len(out) < 800


def test_missing_required_field_says_what_is_allowed(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO.replace("name: reliability test\n", ""))
    _refused(runner, path, "name", "required field is missing", "allowed:")
    path = _write(tmp_path, SCENARIO.replace("      all: {median_months: 10}", "      all: {weibull: {scale_months: 5}}"))
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "allowed:" in result.output


def test_must_be_a_mapping_says_what_is_allowed(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO.replace("accrual: {duration_months: 20}", "accrual: 20"))
    _refused(runner, path, "accrual", "allowed:")


def test_a_model_parameter_error_names_the_file(runner: CliRunner, tmp_path: Path) -> None:
    # Weibull shape 0.001 makes the derived scale overflow: a library check, reported with the file
    path = _write(tmp_path, SCENARIO.replace("      all: {median_months: 10}",
                                             "      all: {weibull: {shape: 0.001, median_months: 10}}"))
    _refused(runner, path, "scale_months", "allowed:")


def test_huge_number_prints_in_scientific_notation(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO.replace("alpha: 0.025", "alpha: " + "1" * 60))
    out = _refused(runner, path, "alpha", "allowed:", "e+59")
    assert "1" * 20 not in out


def test_runtime_warnings_do_not_reach_stderr(monkeypatch, scenario_file: Path) -> None:
    import numpy as np
    import simtrial_cli.run_cmds as run_cmds

    real = run_cmds.run

    def noisy(*args, **kwargs):
        np.log(np.zeros(1))  # RuntimeWarning: divide by zero
        warnings.warn("overflow in something", RuntimeWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(run_cmds, "run", noisy)
    result = CliRunner().invoke(main, ["run", str(scenario_file), "--sims", "20", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "RuntimeWarning" not in result.stderr and "divide by zero" not in result.stderr


# --- 4. Ctrl-C always works -----------------------------------------------------------------


def _start_long_run(tmp_path: Path, out: Path) -> subprocess.Popen:
    scenario = ROOT / "scenarios" / "ihc3_deescalation_ni.yaml"
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", "/tmp/numba_rel_cache")
    code = "import sys; from simtrial_cli.main import main; sys.argv[0] = 'simtrial'; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "run", str(scenario), "--quiet", "--sims", "300000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path, text=True,
    )


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_signal_under_quiet_stops_within_seconds(tmp_path: Path, signum: int, code: int) -> None:
    out = tmp_path / "out"
    proc = _start_long_run(tmp_path, out)
    try:
        time.sleep(5.0)  # past start-up (imports, handlers) even on a loaded machine
        assert proc.poll() is None, "the run ended before the signal: make it longer"
        sent = time.monotonic()
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, (proc.returncode, stderr)
    assert elapsed < 10
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stdout == ""
    assert not out.exists() or list(out.iterdir()) == []  # no files, no staging, no lock


# --- 5. atomic output sets ------------------------------------------------------------------


def _run(runner: CliRunner, scenario: Path, out: Path | str, *extra: str):
    return runner.invoke(main, ["run", str(scenario), "--sims", "20", "--quiet", "--out", str(out), *extra])


def test_empty_out_is_refused(runner: CliRunner, scenario_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = _run(runner, scenario_file, "")
    assert result.exit_code == 2, result.output
    assert "--out" in result.output and "empty" in result.output and "allowed:" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_directory_where_a_file_must_go_fails_before_anything_is_written(
    runner: CliRunner, scenario_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "trials.csv").mkdir(parents=True)
    result = _run(runner, scenario_file, out)
    assert result.exit_code == 2, result.output
    assert "trials.csv" in result.output and "directory" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == ["trials.csv"]
    assert list((out / "trials.csv").iterdir()) == []
    # even with --overwrite: a directory is never removed to make room
    result = _run(runner, scenario_file, out, "--overwrite")
    assert result.exit_code == 2 and sorted(p.name for p in out.iterdir()) == ["trials.csv"]


def test_existing_output_set_is_not_mixed_without_overwrite(
    runner: CliRunner, scenario_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert runner.invoke(main, ["samplesize", str(scenario_file), "--sims", "100", "--solve-for", "events",
                                "--quiet", "--out", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {*RUN_FILES, "power_curve.csv"}
    result = _run(runner, scenario_file, out)
    assert result.exit_code == 2, result.output
    assert "already holds" in result.output and "--overwrite" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing changed
    # --overwrite replaces the set as a whole: the samplesize's power curve goes too
    result = _run(runner, scenario_file, out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    assert json.loads((out / "summary.json").read_text())["n_sims"] == 20


def test_foreign_files_in_out_are_left_alone(runner: CliRunner, scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert _run(runner, scenario_file, out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*RUN_FILES, "notes.txt"])
    assert _run(runner, scenario_file, out, "--overwrite").exit_code == 0
    assert (out / "notes.txt").read_text() == "mine"


def test_failed_switch_puts_the_previous_set_back(
    runner: CliRunner, scenario_file: Path, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "out"
    assert _run(runner, scenario_file, out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == 5:  # after the 3 old files went to the backup and one new file came in
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(output.os, "replace", flaky)
    result = runner.invoke(main, ["run", str(scenario_file), "--sims", "30", "--quiet", "--out", str(out),
                                  "--overwrite"])
    assert result.exit_code == 2 and "no files were written" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_stale_staging_and_lock_of_a_killed_run_are_cleaned(
    runner: CliRunner, scenario_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    crashed = out / f".simtrial-staging-{dead.pid}-abcd1234"
    crashed.mkdir()
    (crashed / "summary.json").write_text("{half")
    old = out / ".simtrial-staging-oldformat"
    old.mkdir()
    hour_ago = time.time() - 2 * 3600
    os.utime(old, (hour_ago, hour_ago))
    (out / ".simtrial.lock").write_text(f"{dead.pid}\n")
    result = _run(runner, scenario_file, out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES


def test_a_live_lock_refuses_a_second_run(runner: CliRunner, scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".simtrial.lock").write_text(f"{os.getppid()}\n")  # a live process holds it
    result = _run(runner, scenario_file, out)
    assert result.exit_code == 2, result.output
    assert "another simtrial run" in result.output and "nothing was written" in result.output
    assert sorted(p.name for p in out.iterdir()) == [".simtrial.lock"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")
def test_two_concurrent_runs_one_wins_whole(tmp_path: Path) -> None:
    scenario = _write(tmp_path, SCENARIO, "trial.yaml")
    out = tmp_path / "out"
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", "/tmp/numba_rel_cache")
    code = "import sys; from simtrial_cli.main import main; sys.argv[0] = 'simtrial'; main()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, "run", str(scenario), "--quiet", "--sims", str(n),
                          "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        for n in (3000, 3001)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[0] == 2)
    assert "another simtrial run" in loser[2] or "already holds" in loser[2], loser
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    winner_sims = json.loads((out / "summary.json").read_text())["n_sims"]
    trials = (out / "trials.csv").read_text().splitlines()
    assert len(trials) == 1 + winner_sims  # the files belong to one run


def test_a_set_is_complete_only_with_its_manifest(tmp_path):
    """The manifest leaves first and arrives last: a set interrupted mid-switch (SIGKILL) reads as incomplete."""
    import json as _json

    from click.testing import CliRunner
    from simtrial_cli.main import main
    from simtrial_cli.output import MANIFEST_NAME, output_set_complete

    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: m\ndesign: superiority\npopulation: {mix: {IHC 3+: 1.0}}\n"
        "arms: {control: {survival: {all: {median_months: 10}}}, experimental: {survival: {all: {hazard_ratio: 0.7}}}}\n"
        "n_patients: 200\naccrual: {duration_months: 12}\nanalysis: {test: logrank, target_events: 100}\n"
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(scenario), "--sims", "50", "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert output_set_complete(out)
    manifest = _json.loads((out / MANIFEST_NAME).read_text())
    assert set(manifest["files"]) == {"summary.json", "trials.csv", "scenario.resolved.yaml"}
    (out / "trials.csv").write_text("tampered\n")
    assert not output_set_complete(out)
    (out / MANIFEST_NAME).unlink()
    assert not output_set_complete(out)
