"""Engine throughput on the reference design, as ratios measured in the same run.

    python benchmarks/bench_engine.py --json [--sims 10000] [--repeats 5]

Prints one JSON object: n_sims, n_patients, threads, compile_seconds (cold,
fresh numba cache, in a subprocess), seconds (warm, median of repeats),
trials_per_second, floor_seconds (numpy: one exponential draw per patient and
a sort per trial, same volume) and floor_ratio, lifelines_speedup (lifelines
``logrank_test`` per trial, timed on >= 100 trials and scaled), rpact_seconds
and rpact_speedup (``rpact::getSimulationSurvival`` via Rscript, timed inside R,
or null with the reason), peak_rss_mb_10k and peak_rss_mb_100k (separate
processes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _reference_design import N_PATIENTS, RPACT_CALL, Z_CRITICAL, reference_spec  # noqa: E402


def _run_child(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, **(env or {})}, cwd=str(HERE),
    )
    return out.stdout.strip().splitlines()[-1]


def compile_seconds() -> float:
    """First call in a fresh process with an empty numba cache: compilation dominates."""
    cache = tempfile.mkdtemp(prefix="simtrial-numba-")
    try:
        code = (
            "import time; t = time.perf_counter();"
            "from _reference_design import reference_spec; from simtrial.simulate import simulate;"
            "simulate(reference_spec(), 1, 1); print(time.perf_counter() - t)"
        )
        return float(_run_child(code, {"NUMBA_CACHE_DIR": cache}))
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def peak_rss_mb(n_sims: int) -> float:
    code = (
        "import resource;"
        "from _reference_design import reference_spec; from simtrial.simulate import simulate;"
        f"r = simulate(reference_spec(), {n_sims}, 7);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    return float(_run_child(code))


def engine_seconds(n_sims: int, repeats: int) -> tuple[float, float]:
    from simtrial.simulate import simulate

    spec = reference_spec()
    simulate(spec, 64, 1)  # warm-up: load or compile kernels outside the timing
    times = []
    power = float("nan")
    for r in range(repeats):
        t = time.perf_counter()
        result = simulate(spec, n_sims, 1000 + r)
        times.append(time.perf_counter() - t)
        power = float((result.field("logrank_z") < -Z_CRITICAL).mean())
    return statistics.median(times), power


def floor_seconds(n_sims: int, repeats: int) -> float:
    rng = np.random.default_rng(1)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n_sims):
            x = rng.standard_exponential(N_PATIENTS)
            x.sort()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def lifelines_seconds_per_trial(n_trials: int = 200) -> float:
    from lifelines.statistics import logrank_test

    from simtrial.simulate import patient_data

    spec = reference_spec()
    data = []
    for trial in range(n_trials):
        p = patient_data(spec, 5, trial)
        # analyse at 400 events, as the engine does
        calendar = (p.entry_months + p.time_to_event_or_dropout_months)[p.event == 1].sort_values()
        cut = calendar.iloc[399]
        enrolled = p[p.entry_months < cut]
        time_obs = np.minimum(enrolled.time_to_event_or_dropout_months, cut - enrolled.entry_months)
        event = (enrolled.event == 1) & (enrolled.entry_months + enrolled.time_to_event_or_dropout_months <= cut)
        arm = enrolled.arm.to_numpy()
        data.append((time_obs.to_numpy(), event.to_numpy(), arm))
    t = time.perf_counter()
    for time_obs, event, arm in data:
        logrank_test(time_obs[arm == 1], time_obs[arm == 0], event[arm == 1], event[arm == 0])
    return (time.perf_counter() - t) / n_trials


def rpact_seconds(n_sims: int) -> tuple[float | None, str | None]:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None, "Rscript not found (install r-base-core r-cran-rpact)"
    code = (
        "suppressPackageStartupMessages(library(rpact));"
        f"t <- system.time(x <- {RPACT_CALL.format(n_sims=n_sims)})[['elapsed']];"
        "cat(t, '\\n')"
    )
    try:
        out = subprocess.run([rscript, "-e", code], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return None, "rpact timed out after 900 s"
    if out.returncode != 0:
        return None, f"rpact failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'unknown'}"
    return float(out.stdout.split()[-1]), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: also JSON)")
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-rpact", action="store_true", help="skip the rpact comparison")
    args = parser.parse_args()

    import numba

    cold = compile_seconds()
    seconds, power = engine_seconds(args.sims, args.repeats)
    floor = floor_seconds(args.sims, args.repeats)
    lifelines_per_trial = lifelines_seconds_per_trial()
    if args.no_rpact:
        rp, reason = None, "skipped (--no-rpact)"
    else:
        rp, reason = rpact_seconds(args.sims)
    result = {
        "n_sims": args.sims,
        "n_patients": N_PATIENTS,
        "threads": numba.get_num_threads(),
        "compile_seconds": round(cold, 3),
        "seconds": round(seconds, 4),
        "trials_per_second": round(args.sims / seconds, 1),
        "power": power,
        "floor_seconds": round(floor, 4),
        "floor_ratio": round(seconds / floor, 3),
        "lifelines_seconds": round(lifelines_per_trial * args.sims, 3),
        "lifelines_speedup": round(lifelines_per_trial * args.sims / seconds, 1),
        "rpact_seconds": None if rp is None else round(rp, 3),
        "rpact_speedup": None if rp is None else round(rp / seconds, 2),
        "rpact_unavailable_reason": reason,
        "peak_rss_mb_10k": round(peak_rss_mb(10_000), 1),
        "peak_rss_mb_100k": round(peak_rss_mb(100_000), 1),
    }
    result["peak_rss_ratio_100k_over_10k"] = round(result["peak_rss_mb_100k"] / result["peak_rss_mb_10k"], 3)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
