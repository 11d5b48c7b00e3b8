"""Assurance vs a power run of the same size on the flagship assurance scenario.

    python benchmarks/bench_assurance.py --json [--sims 100000] [--repeats 3] [--check] [--target NAME=VALUE]

The assurance run is what ``simtrial assurance`` simulates for its headline
figure: the prior's draws for every trial plus the engine run in which each
trial reads its own parameters (``simtrial.priors.draw`` +
``simtrial.power.run(trial_parameters=...)``).  The power run is
``simtrial.power.run`` on the same scenario, size and seed.  Both are warm
(a small run first loads or compiles the kernels), interleaved over the
repeats, medians reported, wall and process CPU seconds.  Target (issue 11):
``assurance_ratio_cpu`` = assurance CPU / power CPU <= 1.2.  The whole
``assurance()`` call (which adds power at the prior's centre on its first
10,000 trials' streams) is timed too and reported, not targeted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import Target, add_arguments, clock, finish, machine, resolve, since  # noqa: E402

from simtrial.power import run  # noqa: E402
from simtrial.priors import draw  # noqa: E402
from simtrial.probability_of_success import assurance  # noqa: E402
from simtrial.scenario import load_scenario  # noqa: E402

ROOT = HERE.parent
SCENARIO = "ihc3_deescalation_ni_assurance.yaml"
TARGETS = [
    Target("assurance_ratio_cpu", "<=", 1.2,
           "issue 11: assurance at 100,000 trials costs no more than 1.2x a power run of the same size"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    targets = resolve(TARGETS, args.target, parser)
    host = machine()
    import numba

    sc = load_scenario(ROOT / "scenarios" / SCENARIO)
    seed = sc.simulation.seed
    warm = clock()
    run(sc, n_sims=64, seed=seed)
    run(sc, n_sims=64, seed=seed, trial_parameters=draw(sc, 64, seed).trial_parameters)
    warmup_wall, warmup_cpu = since(warm)

    def assurance_run():
        return run(sc, n_sims=args.sims, seed=seed, trial_parameters=draw(sc, args.sims, seed).trial_parameters)

    def power_run():
        return run(sc, n_sims=args.sims, seed=seed)

    times: dict[str, list[tuple[float, float]]] = {"assurance": [], "power": []}
    last = {}
    for _ in range(max(1, args.repeats)):
        for name, fn in (("power", power_run), ("assurance", assurance_run)):  # interleaved
            start = clock()
            last[name] = fn()
            times[name].append(since(start))
    med = {name: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for name, v in times.items()}
    start = clock()
    full = assurance(sc, n_sims=args.sims, seed=seed)
    full_wall, full_cpu = since(start)
    out = {
        "scenario": SCENARIO,
        "n_sims": args.sims,
        "repeats": args.repeats,
        "threads": numba.get_num_threads(),
        "machine": host,
        "warmup_seconds": round(warmup_wall, 3),
        "warmup_cpu_seconds": round(warmup_cpu, 3),
        "power_seconds": round(med["power"][0], 3),
        "power_cpu_seconds": round(med["power"][1], 3),
        "assurance_seconds": round(med["assurance"][0], 3),
        "assurance_cpu_seconds": round(med["assurance"][1], 3),
        "assurance_ratio_wall": med["assurance"][0] / med["power"][0],
        "assurance_ratio_cpu": med["assurance"][1] / med["power"][1],
        "assurance_call_seconds": round(full_wall, 3),
        "assurance_call_cpu_seconds": round(full_cpu, 3),
        "assurance": full.assurance,
        "assurance_mc_se": full.assurance_mc_se,
        "power": last["power"].power,
        "power_at_prior_mean": full.power_at_prior_mean["power"],
    }
    return finish(out, targets, args)


if __name__ == "__main__":
    sys.exit(main())
