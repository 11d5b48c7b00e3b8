"""`simtrial --help`/`--version` stay light, and a cold numba cache is announced once (no wall-clock asserts)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from simtrial_cli import output
from simtrial_cli.main import COMMANDS, main

from simtrial import __version__
from simtrial.engine import warm

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "ihc3_deescalation_ni.yaml"
HEAVY = ("scipy", "pandas", "numba", "numpy")


def _modules_after(code: str) -> set[str]:
    """Top-level packages of the modules a fresh interpreter has imported after running ``code``."""
    probe = (
        "import sys\n"
        f"{code}\n"
        "import json\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_cli_imports_no_heavy_package() -> None:
    loaded = _modules_after("import simtrial_cli.main")
    assert "scipy.stats" not in loaded
    assert "pandas" not in loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}, sorted(m for m in loaded if m.split(".")[0] in HEAVY)[:10]


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_import_no_heavy_package(option: str) -> None:
    code = (
        "from simtrial_cli.main import main\n"
        "try:\n"
        f"    main([{option!r}], prog_name='simtrial')\n"
        "except SystemExit:\n"
        "    pass"
    )
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_help_lists_every_command_with_its_one_line_help() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:", 1)[1]
    for name, (_, _, short_help) in COMMANDS.items():
        line = next((ln for ln in listed.splitlines() if ln.split()[:1] == [name]), None)
        assert line is not None, f"{name} missing from --help:\n{result.output}"
        assert line.split(None, 1)[1].strip() == short_help


def test_stored_help_matches_each_commands_docstring() -> None:
    # main.py keeps the one-line help so that --help imports nothing; it must not drift
    ctx = click.Context(main)
    for name, (_, _, short_help) in COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(1000) == click.Command(name, help=short_help).get_short_help_str(1000)
    assert set(main.list_commands(ctx)) == set(COMMANDS)


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["nosuch"])
    assert result.exit_code == 2 and "No such command" in result.output


def test_version_prints_the_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"simtrial, version {__version__}"
    code = "from simtrial_cli.main import main; main(prog_name='simtrial')"
    done = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"simtrial, version {__version__}"


def test_version_has_one_source() -> None:
    from simtrial._version import __version__ as source

    assert __version__ == source
    assert 'attr = "simtrial._version.__version__"' in (ROOT / "pyproject.toml").read_text()


def test_z_975_literal_is_scipys_value() -> None:
    from scipy.stats import norm

    from simtrial.calibrate.models import Z_975

    assert Z_975 == float(norm.ppf(0.975))


# --- the compile notice ------------------------------------------------------------


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_announces_a_cold_cache_once_unless_quiet(monkeypatch, capsys, quiet: bool) -> None:
    monkeypatch.setattr(output, "_kernels_cached", lambda: False)
    with output.progress_bar(10, "simulating", quiet) as update:
        assert update is None  # stderr is not a terminal under pytest: no bar, same callback as before
    err = capsys.readouterr().err
    assert err == ("" if quiet else output.compile_notice() + "\n")


def test_progress_bar_is_silent_on_a_warm_cache(monkeypatch, capsys) -> None:
    monkeypatch.setattr(output, "_kernels_cached", lambda: True)
    with output.progress_bar(10, "simulating", False) as update:
        assert update is None
    assert capsys.readouterr().err == ""


def test_progress_bar_skips_the_check_for_work_that_does_not_compile(monkeypatch, capsys) -> None:
    monkeypatch.setattr(output, "_kernels_cached", lambda: False)
    with output.progress_bar(10, "simulating", False, compiles=False) as update:
        assert update is None
    assert capsys.readouterr().err == ""


def test_compile_notice_names_the_estimate() -> None:
    assert output.compile_notice() == f"compiling simulation kernels, once: about {warm.COMPILE_SECONDS} s"


@pytest.mark.parametrize("quiet", [False, True])
def test_run_prints_the_notice_on_stderr_only_when_not_quiet(monkeypatch, quiet: bool) -> None:
    monkeypatch.setattr(output, "_kernels_cached", lambda: False)
    args = ["run", str(SCENARIO), "--sims", "20", "--format", "json"] + (["--quiet"] if quiet else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    notice = output.compile_notice()
    assert result.stderr.count(notice) == (0 if quiet else 1)
    assert notice not in result.stdout
    json.loads(result.stdout)  # stdout stays clean JSON


class _FakeBar:
    def __init__(self, start: float) -> None:
        self.start = self.last_eta = start
        self.avg: list[float] = []
        self.pos = 0

    def update(self, n: int) -> None:
        self.pos += n


def test_eta_ignores_the_time_before_the_first_update(monkeypatch) -> None:
    clock = iter([100.0, 102.0, 103.0])  # bar created at 0, kernels compiled until 100
    monkeypatch.setattr(output.time, "time", lambda: next(clock))
    bar = _FakeBar(start=0.0)
    update = output._eta_after_compilation(bar)
    update(50)  # the first chunk arrives after compilation
    assert bar.pos == 50 and bar.start == 0.0 and bar.last_eta == 100.0  # no ETA computed from it
    update(100)  # 100 trials in 2 s: 0.02 s per trial, so the first 50 are dated back 1 s
    assert bar.start == pytest.approx(99.0) and bar.avg == [] and bar.last_eta == 0.0
    update(100)
    assert bar.start == pytest.approx(99.0) and bar.pos == 250


# --- is the driver in numba's disk cache? -----------------------------------------------


def test_kernels_cached_false_on_an_empty_cache_dir(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    assert warm.index_path() is None
    assert warm.kernels_cached() is False


def test_kernels_cached_reads_the_index_numba_would_write(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    expected = warm.expected_index_path()
    assert expected is not None and expected.parent.parent == tmp_path
    assert expected.name.startswith("driver.simulate_block_range-") and expected.suffix == ".nbi"
    expected.parent.mkdir(parents=True)
    digest = hashlib.sha256(warm.DRIVER_FILE.read_bytes()).digest()
    expected.write_bytes(b"\x80\x04header" + digest + b"overloads")
    assert warm.kernels_cached() is True
    # an index written for another version of driver.py, older than the source, does not count
    expected.write_bytes(b"\x80\x04header" + b"\0" * 32)
    old = warm.DRIVER_FILE.stat().st_mtime - 60
    os.utime(expected, (old, old))
    assert warm.kernels_cached() is False


def test_kernels_cached_true_when_jit_is_disabled(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    assert warm.kernels_cached() is True


def test_expected_index_path_agrees_with_numbas_own_locator() -> None:
    from numba.core.caching import FunctionCache

    from simtrial.engine.driver import simulate_block_range

    numba_index = Path(FunctionCache(simulate_block_range.py_func)._cache_file._index_path)
    assert warm.expected_index_path() == numba_index


@pytest.mark.parametrize("scenario", ["ihc3_deescalation_ni", "ihc3_deescalation_ni_gs", "db04_replay"])
def test_a_run_does_not_import_scipy_stats(scenario: str) -> None:
    # scipy.stats takes ~1 s to import, more than the run itself (issue 14, whole-process time)
    code = (
        "from simtrial_cli.main import main\n"
        "try:\n"
        f"    main(['run', {str(ROOT / 'scenarios' / (scenario + '.yaml'))!r}, '--sims', '40', '--quiet'],"
        " prog_name='simtrial')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
    )
    loaded = _modules_after(code)
    assert "simtrial.engine.driver" in loaded  # the run did simulate
    assert "scipy.stats" not in loaded, "scipy.stats is imported on the run path"


def test_the_normal_functions_are_scipy_stats_norm_bit_for_bit() -> None:
    import numpy as np
    from scipy.stats import norm as scipy_norm

    from simtrial.stats import normal

    rng = np.random.default_rng(14)
    x = np.r_[np.linspace(-40.0, 40.0, 20_001), rng.normal(size=10_000) * 3, 0.0, -0.0, np.inf, -np.inf, np.nan]
    q = np.r_[rng.random(10_000), 0.0, 1.0, 1e-300, 0.025, 0.0125, 0.5, 1.0 - 1e-16, np.nan]
    for name, arg in (("cdf", x), ("sf", x), ("pdf", x), ("ppf", q), ("isf", q)):
        want = getattr(scipy_norm, name)(arg)
        got = getattr(normal, name)(arg)
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert float(getattr(normal, name)(arg[3])) == float(getattr(scipy_norm, name)(arg[3])), name  # scalars too
