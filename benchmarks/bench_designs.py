"""Seconds per shipped scenario at 10,000 simulations, and a sample-size search on the flagship.

    python benchmarks/bench_designs.py --json [--sims 10000] [--check] [--target NAME=VALUE]

Warm timings (a warm-up run first loads or compiles the kernels; its time is
reported as warmup_seconds), wall and process CPU seconds, at the default
thread count (``threads``). Targets from issue 4, on wall time: the flagship
under 2 s (flagship_seconds), its sample-size search under 15 s
(samplesize_seconds). ``"targets"`` holds the verdicts, ``--check`` exits 1
when one fails; ``machine`` records cores and load before and after.

Per scenario also ``cpu_us_per_trial``: process CPU microseconds per trial (all
threads), i.e. the cost per core.

``whole_process`` (issue 14 item 3; ``--no-whole-process`` skips it): for each
shipped scenario with an rpact equivalent (bench_engine.RPACT_SCENARIOS, the
approximations named there), ``simtrial run SCENARIO --sims N --quiet`` as a
fresh process (start-up, scenario loading and calibration, kernels from the
numba cache, the run, the printed table) against ``Rscript -e
'library(rpact); getSimulationSurvival(...)'`` as a fresh process, N =
``--process-sims`` (default ``--sims``); median wall and CPU (user + system of
the child) seconds over ``--repeats`` runs taken alternately, and
``rpact_over_simtrial_wall`` (> 1: simtrial's whole process is faster).
``whole_process_min_ratio`` is the smallest ratio, judged against issue 14's
bound (> 1) under ``whole_process_target`` (kept out of ``targets``: R may be
missing); without Rscript the rpact side is null with the reason.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import Target, add_arguments, clock, finish, machine, resolve, since, timed  # noqa: E402

from simtrial.power import run  # noqa: E402
from simtrial.samplesize import sample_size  # noqa: E402
from simtrial.scenario import load_scenario  # noqa: E402

ROOT = HERE.parent
FLAGSHIP = "ihc3_deescalation_ni.yaml"
FLAGSHIP_TARGET_SECONDS = 2.0
SAMPLESIZE_TARGET_SECONDS = 15.0
TARGETS = [
    Target("flagship_seconds", "<=", FLAGSHIP_TARGET_SECONDS, "issue 4: flagship scenario under 2 s (wall)"),
    Target("samplesize_seconds", "<=", SAMPLESIZE_TARGET_SECONDS, "issue 4: its sample-size search under 15 s (wall)"),
]


#: issue 14: simtrial's whole process faster than Rscript's on each comparable scenario
WHOLE_PROCESS_MIN_RATIO = 1.0


def _child(cmd: list[str]) -> tuple[float, float, str | None]:
    """Wall and CPU (user + system) seconds of one child process; a failure's reason instead of raising."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        return wall, cpu, f"{cmd[0]} failed: {tail}"
    return wall, cpu, None


def whole_process(n_sims: int, repeats: int) -> dict:
    """``simtrial run`` vs ``Rscript -e <rpact call>`` as whole processes, per comparable scenario, interleaved."""
    from bench_engine import RPACT_SCENARIOS, rpact_call, scenario_spec

    rscript = shutil.which("Rscript")
    simtrial_cmd = [sys.executable, "-c", "import sys; from simtrial_cli.main import main; sys.exit(main())"]
    cmds = {}
    for name in RPACT_SCENARIOS:
        sc, spec = scenario_spec(name)
        r_code = f"suppressPackageStartupMessages(library(rpact)); x <- {rpact_call(name, spec, sc, n_sims)}"
        cmds[name] = (
            [*simtrial_cmd, "run", str(ROOT / "scenarios" / f"{name}.yaml"), "--sims", str(n_sims), "--quiet"],
            [rscript, "-e", r_code] if rscript else None,
        )
    for sim_cmd, _ in cmds.values():
        _child(sim_cmd)  # warm: a first process may fill the numba cache
    times: dict[str, dict[str, list]] = {name: {"simtrial": [], "rpact": []} for name in cmds}
    errors: dict[str, dict[str, str | None]] = {name: {"simtrial": None, "rpact": None} for name in cmds}
    for _ in range(max(1, repeats)):
        for name, (sim_cmd, r_cmd) in cmds.items():  # alternately, so load changes hit both sides alike
            for side, cmd in (("simtrial", sim_cmd), ("rpact", r_cmd)):
                if cmd is None:
                    continue
                wall, cpu, err = _child(cmd)
                errors[name][side] = errors[name][side] or err
                times[name][side].append((wall, cpu))
    out = {}
    for name, (_, r_cmd) in cmds.items():
        row: dict = {"approximation": RPACT_SCENARIOS[name], "n_sims": n_sims}
        for side in ("simtrial", "rpact"):
            got = times[name][side]
            ok = got and errors[name][side] is None
            row[f"{side}_process_seconds"] = round(statistics.median(w for w, _ in got), 3) if ok else None
            row[f"{side}_process_cpu_seconds"] = round(statistics.median(c for _, c in got), 3) if ok else None
        reason = errors[name]["rpact"] or (None if r_cmd else "Rscript not found (install r-base-core r-cran-rpact)")
        row["rpact_unavailable_reason"] = reason
        row["simtrial_error"] = errors[name]["simtrial"]
        sim, rp = row["simtrial_process_seconds"], row["rpact_process_seconds"]
        row["rpact_over_simtrial_wall"] = round(rp / sim, 2) if sim and rp else None
        out[name] = row
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--search-sims", type=int, default=None, help="simulations per search point (default: the scenario's)")
    parser.add_argument("--process-sims", type=int, default=None,
                        help="trials of each whole-process run (default: --sims)")
    parser.add_argument("--no-whole-process", action="store_true",
                        help="skip the whole-process simtrial vs Rscript timings")
    args = parser.parse_args(argv)
    targets = resolve(TARGETS, args.target, parser)
    host = machine()

    import numba

    scenarios = {}
    warmup_wall = warmup_cpu = 0.0
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        sc = load_scenario(path)
        start = clock()
        run(sc, n_sims=50)  # warm-up: load or compile the kernels outside the timing
        wall, cpu = since(start)
        warmup_wall, warmup_cpu = warmup_wall + wall, warmup_cpu + cpu
        t = timed(lambda sc=sc: run(sc, n_sims=args.sims), args.repeats)
        scenarios[path.name] = {
            "seconds": round(t.wall, 3), "cpu_seconds": round(t.cpu, 3), "design": sc.design, "power": t.out.power,
            "cpu_us_per_trial": round(t.cpu / args.sims * 1e6, 2),
        }
    flagship = load_scenario(ROOT / "scenarios" / FLAGSHIP)
    search = timed(lambda: sample_size(flagship, n_sims=args.search_sims), 1)
    ss = search.out
    processes = None if args.no_whole_process else whole_process(args.process_sims or args.sims, args.repeats)
    ratios = [r["rpact_over_simtrial_wall"] for r in (processes or {}).values()]
    min_ratio = min(ratios) if processes and all(r is not None for r in ratios) else None
    out = {
        "n_sims": args.sims,
        "repeats": args.repeats,
        "threads": numba.get_num_threads(),
        "machine": host,
        "warmup_seconds": round(warmup_wall, 3),
        "warmup_cpu_seconds": round(warmup_cpu, 3),
        "scenarios": scenarios,
        "flagship": FLAGSHIP,
        "flagship_seconds": scenarios[FLAGSHIP]["seconds"],
        "flagship_cpu_seconds": scenarios[FLAGSHIP]["cpu_seconds"],
        "flagship_target_seconds": next(t.bound for t in targets if t.name == "flagship_seconds"),
        "samplesize_seconds": round(search.wall, 3),
        "samplesize_cpu_seconds": round(search.cpu, 3),
        "samplesize_target_seconds": next(t.bound for t in targets if t.name == "samplesize_seconds"),
        "samplesize_points": len(ss.curve),
        "samplesize_n_sims_coarse": ss.details["n_sims_coarse"],
        "samplesize_n_sims_refine": ss.details["n_sims_refine"],
        "samplesize_simulated_trials": ss.details["simulated_trials_total"],
        "samplesize_uncertainty": ss.uncertainty,
        "samplesize_confirmations": len(ss.confirmations),
        "samplesize_solve_for": ss.solve_for,
        "samplesize_answer": ss.events_required if ss.solve_for == "events" else ss.n_required,
        "samplesize_achieved_power": ss.achieved_power,
        "whole_process": processes,
        "whole_process_min_ratio": min_ratio,
        "whole_process_target": None if min_ratio is None else {
            "target": f"> {WHOLE_PROCESS_MIN_RATIO:g}", "value": min_ratio, "ok": min_ratio > WHOLE_PROCESS_MIN_RATIO,
            "source": "issue 14: simtrial run as a whole process faster than Rscript's rpact call",
        },
    }
    return finish(out, targets, args)


if __name__ == "__main__":
    sys.exit(main())
