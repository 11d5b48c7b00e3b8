"""Seconds per shipped scenario at 10,000 simulations, and a sample-size search on the flagship.

    python benchmarks/bench_designs.py --json [--sims 10000]

Warm timings (a warm-up run first loads or compiles the kernels). Targets from
issue 4: the flagship under 2 s, its sample-size search under 15 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from simtrial.power import run
from simtrial.samplesize import sample_size
from simtrial.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = "ihc3_deescalation_ni.yaml"


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--search-sims", type=int, default=None, help="simulations per search point (default: the scenario's)")
    args = parser.parse_args()

    scenarios = {}
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        sc = load_scenario(path)
        run(sc, n_sims=50)  # warm-up
        seconds, result = timed(lambda sc=sc: run(sc, n_sims=args.sims), args.repeats)
        scenarios[path.name] = {"seconds": round(seconds, 3), "design": sc.design, "power": result.power}
    flagship = load_scenario(ROOT / "scenarios" / FLAGSHIP)
    seconds, ss = timed(lambda: sample_size(flagship, n_sims=args.search_sims), 1)
    out = {
        "n_sims": args.sims,
        "scenarios": scenarios,
        "flagship": FLAGSHIP,
        "flagship_seconds": scenarios[FLAGSHIP]["seconds"],
        "flagship_target_seconds": 2.0,
        "samplesize_seconds": round(seconds, 3),
        "samplesize_target_seconds": 15.0,
        "samplesize_points": len(ss.curve),
        "samplesize_n_sims_per_point": ss.details["n_sims_per_point"],
        "samplesize_solve_for": ss.solve_for,
        "samplesize_answer": ss.events_required if ss.solve_for == "events" else ss.n_required,
        "samplesize_achieved_power": ss.achieved_power,
    }
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
