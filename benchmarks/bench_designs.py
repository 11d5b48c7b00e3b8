"""Seconds per shipped scenario at 10,000 simulations, and a sample-size search on the flagship.

    python benchmarks/bench_designs.py --json [--sims 10000] [--check] [--target NAME=VALUE]

Warm timings (a warm-up run first loads or compiles the kernels; its time is
reported as warmup_seconds), wall and process CPU seconds, at the default
thread count (``threads``). Targets from issue 4, on wall time: the flagship
under 2 s (flagship_seconds), its sample-size search under 15 s
(samplesize_seconds). ``"targets"`` holds the verdicts, ``--check`` exits 1
when one fails; ``machine`` records cores and load before and after.
"""

from __future__ import annotations

import argparse
import sys
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--search-sims", type=int, default=None, help="simulations per search point (default: the scenario's)")
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
        }
    flagship = load_scenario(ROOT / "scenarios" / FLAGSHIP)
    search = timed(lambda: sample_size(flagship, n_sims=args.search_sims), 1)
    ss = search.out
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
    }
    return finish(out, targets, args)


if __name__ == "__main__":
    sys.exit(main())
