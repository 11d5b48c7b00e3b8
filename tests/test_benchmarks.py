"""The benchmark scripts run, print JSON with a verdict per target, and ``--check`` fails when one fails.

Tiny trial counts only: these tests check the scripts' contract (keys,
verdicts, exit codes), never a wall-clock time.  Each script runs in a
subprocess, as CI runs it.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

from _harness import Target, evaluate  # noqa: E402

TINY = {
    "bench_engine.py": [
        "--sims", "40", "--repeats", "1", "--lifelines-trials", "3", "--rss-sims", "20", "60", "--no-compile",
        "--stage-sims", "40",
    ],
    "bench_designs.py": ["--sims", "20", "--repeats", "1", "--search-sims", "20"],
    "bench_sequential.py": ["--sims", "40", "--repeats", "1"],
    "bench_distributed.py": [
        "--sims", "200", "--block-trials", "50", "--overhead-sims", "200", "--small-blocks", "25", "--points", "2",
        "--sweep-sims", "20", "--rss-sims", "100", "300",
    ],
    "bench_assurance.py": ["--sims", "40", "--repeats", "1"],
    "bench_report.py": ["--sims", "50", "--repeats", "1", "--calibration-patients", "500"],
}
# a bound no measurement can meet, per script: forces a failure
IMPOSSIBLE = {
    "bench_engine.py": "lifelines_speedup_cpu=inf",
    "bench_designs.py": "flagship_seconds=-1",
    "bench_sequential.py": "engine_ratio=-1",
    "bench_distributed.py": "dask_efficiency=inf",
    "bench_assurance.py": "assurance_ratio_cpu=-1",
    "bench_report.py": "report_seconds=-1",
}
TARGET_NAMES = {
    "bench_engine.py": {
        "floor_ratio", "rss_growth_bytes_per_trial", "lifelines_speedup_cpu", "rpact_speedup_cpu",
        "reference_us_per_trial_cpu", "flagship_us_per_trial_cpu", "rpact_min_speedup_cpu",
    },
    "bench_designs.py": {"flagship_seconds", "samplesize_seconds"},
    "bench_sequential.py": {"engine_ratio", "design_ratio"},
    "bench_distributed.py": {"dask_efficiency", "sweep_over_separate_ratio", "peak_memory_ratio"},
    "bench_assurance.py": {"assurance_ratio_cpu"},
    "bench_report.py": {"report_seconds"},
}
HAS_R = shutil.which("Rscript") is not None


def _run(script: str, *extra: str) -> subprocess.CompletedProcess:
    args = [*TINY[script], *extra]
    if script == "bench_engine.py" and HAS_R:
        args.append("--no-rpact")  # keep the test fast where R is installed
    return subprocess.run(
        [sys.executable, str(BENCH / script), "--json", *args], capture_output=True, text=True, timeout=600,
    )


@functools.cache
def _forced_failure(script: str) -> subprocess.CompletedProcess:
    """Each script once, with --check and one target forced to fail."""
    return _run(script, "--check", "--target", IMPOSSIBLE[script])


@pytest.fixture(params=sorted(TINY))
def forced_failure(request):
    return request.param, _forced_failure(request.param)


def test_check_exits_1_and_names_the_failed_target(forced_failure):
    script, proc = forced_failure
    assert proc.returncode == 1, proc.stderr
    forced = IMPOSSIBLE[script].split("=")[0]
    failed_lines = [line for line in proc.stderr.splitlines() if line.startswith("target failed:")]
    assert any(f" {forced} = " in line for line in failed_lines), proc.stderr


def test_json_has_a_boolean_verdict_for_every_target(forced_failure):
    script, proc = forced_failure
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    targets, skipped = out["targets"], out["targets_skipped"]
    assert set(targets) | set(skipped) == TARGET_NAMES[script]
    assert not set(targets) & set(skipped)
    for name, verdict in targets.items():
        assert isinstance(verdict["ok"], bool), name
        assert verdict["target"].split()[0] in ("<=", ">="), name
        assert isinstance(verdict["value"], int | float) and math.isfinite(verdict["value"]), name
        assert out[name] == verdict["value"], name
    forced = IMPOSSIBLE[script].split("=")[0]
    assert targets[forced]["ok"] is False
    assert "override" in targets[forced]["source"]
    assert out["all_targets_ok"] is False
    # the load of the machine, before and after
    assert out["machine"]["cpu_count"] >= 1
    assert len(out["machine"]["loadavg_before"]) == 3 and len(out["machine"]["loadavg_after"]) == 3
    assert out["warmup_seconds"] >= 0 and out["warmup_cpu_seconds"] >= 0


def test_every_timing_has_a_cpu_twin(forced_failure):
    script, proc = forced_failure
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    walls = [k for k in out if k.endswith("_seconds") and "target" not in k and not k.endswith("cpu_seconds")]
    assert walls
    for key in walls:
        twin = key.replace("_seconds", "_cpu_seconds")
        assert twin in out, key
        assert (out[key] is None) == (out[twin] is None), key
    if script == "bench_designs.py":
        for name, row in out["scenarios"].items():
            assert row["seconds"] >= 0 and row["cpu_seconds"] >= 0, name


def test_engine_json_says_what_is_scaled_skipped_and_measured_apart():
    proc = _forced_failure("bench_engine.py")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # lifelines is timed on a subset and scaled up, and says so
    assert out["lifelines_scaled_from_trials"] == 3
    assert out["lifelines_scaled"] is True
    # rpact: skipped with a reason where R is missing (or with --no-rpact), and its target too
    if out["rpact_seconds"] is None:
        assert out["rpact_unavailable_reason"]
        assert out["rpact_speedup"] is None and out["rpact_speedup_cpu"] is None
        assert "rpact_speedup_cpu" in out["targets_skipped"]
    if not HAS_R:
        assert "Rscript not found" in out["rpact_unavailable_reason"]
    # like with like: the floor ratio is engine CPU at 1 thread over floor CPU (median of pairs)
    assert out["floor_ratio"] > 0 and out["floor_ratio_wall_1_thread"] > 0
    assert out["seconds_1_thread"] > 0 and out["cpu_seconds_1_thread"] > 0
    assert out["compile_seconds"] is None and out["compile_skipped_reason"]
    # peak RSS from two fresh children, each with its own post-warm-up baseline
    assert out["rss_sims"] == [20, 60]
    for n in ("20", "60"):
        child = out["rss"][n]
        assert child["n_sims"] == int(n)
        assert child["peak_mb"] >= child["baseline_mb"] > 0
    assert out["peak_rss_mb_10k"] == out["rss"]["20"]["peak_mb"]
    assert out["peak_rss_mb_100k"] == out["rss"]["60"]["peak_mb"]


def test_check_exits_0_when_every_target_holds():
    loose = ["--target", "engine_ratio=inf", "--target", "design_ratio=inf"]
    proc = _run("bench_sequential.py", "--check", *loose)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["all_targets_ok"] is True
    assert all(v["ok"] is True for v in out["targets"].values())
    assert "target failed" not in proc.stderr


def test_unknown_target_is_a_usage_error():
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_sequential.py"), "--json", "--target", "no_such_target=1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "no_such_target" in proc.stderr


def test_evaluate_bounds_and_missing_values():
    targets = [Target("a", "<=", 2.0, "x"), Target("b", ">=", 10.0, "y"), Target("c", ">=", 1.0, "z")]
    verdicts, skipped = evaluate(targets, {"a": 2.0, "b": 9.9, "c": None}, {"c": "R missing"})
    assert verdicts["a"]["ok"] is True  # the bound itself passes
    assert verdicts["b"]["ok"] is False
    assert skipped == {"c": "R missing"}
    with pytest.raises(ValueError):
        Target("d", "<", 1.0, "bad op")
