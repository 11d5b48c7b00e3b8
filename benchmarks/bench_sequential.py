"""Cost of group-sequential looks: a 3-look design against the fixed design at 10,000 trials.

    python benchmarks/bench_sequential.py --json [--check] [--target NAME=VALUE]

The looks share one generated cohort and one sort per trial; each extra look
costs a cut, a stream merge and the statistics.  Target (issue 5): ratio <= 1.5,
checked on both the engine ratio (``simulate``) and the whole-design ratio
(``run``, boundaries and decisions included).  Ratios are medians of per-pair
ratios, in wall seconds (``*_ratio``) and in process CPU seconds
(``*_ratio_cpu``); both sides of a pair run at the same thread count.
Warm-up (loading or compiling the kernels) is timed separately.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import Target, add_arguments, clock, finish, machine, resolve, since  # noqa: E402
from _reference_design import TARGET_EVENTS, reference_spec  # noqa: E402

from simtrial.scenario import scenario_from_dict  # noqa: E402
from simtrial.simulate import simulate  # noqa: E402
from simtrial.spec import Cut  # noqa: E402

FRACTIONS = (0.5, 0.75, 1.0)
TARGET_RATIO = 1.5
TARGETS = [
    Target("engine_ratio", "<=", TARGET_RATIO, "issue 5: 3 looks cost <= 1.5x the fixed design (engine, wall)"),
    Target("design_ratio", "<=", TARGET_RATIO, "issue 5: 3 looks cost <= 1.5x the fixed design (run, wall)"),
]


def _scenario(sequential: bool):
    data = {
        "name": "reference design", "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {
            "control": {"label": "control", "survival": {"all": {"median_months": 6.8}},
                        "dropout": {"probability": 0.05, "by_months": 12}},
            "experimental": {"label": "experimental", "survival": {"all": {"hazard_ratio": 0.7}},
                             "dropout": {"probability": 0.05, "by_months": 12}},
        },
        "n_patients": 1000, "accrual": {"duration_months": 24},
        "analysis": {"test": "logrank", "alpha": 0.025, "target_events": TARGET_EVENTS},
        "simulation": {"n_sims": 1000, "seed": 1},
    }
    if sequential:
        data["analysis"]["sequential"] = {"information_fractions": list(FRACTIONS), "efficacy_spending": "asOF"}
    return scenario_from_dict(data)


def paired_times(fixed, sequential, repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds of each, and the medians of per-pair ratios.

    The two are timed alternately, so a load that comes and goes on a shared
    machine hits both sides of a pair alike.
    """
    start = clock()
    fixed()  # warm-up: load or compile outside the timing
    sequential()
    warm_wall, warm_cpu = since(start)
    rows = []
    for _ in range(max(1, repeats)):
        start = clock()
        fixed()
        a = since(start)
        start = clock()
        sequential()
        b = since(start)
        rows.append((a[0], a[1], b[0], b[1], b[0] / a[0], b[1] / a[1] if a[1] > 0 else float("nan")))
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    keys = ("fixed", "fixed_cpu", "seq", "seq_cpu", "ratio", "ratio_cpu")
    return {"warmup": warm_wall, "warmup_cpu": warm_cpu, **dict(zip(keys, med, strict=True))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    targets = resolve(TARGETS, args.target, parser)
    host = machine()
    import numba

    from simtrial.power import run

    fixed_spec = reference_spec()
    gs_spec = reference_spec(cuts=tuple(Cut(round(f * TARGET_EVENTS)) for f in FRACTIONS))
    engine = paired_times(
        lambda: simulate(fixed_spec, args.sims, 3), lambda: simulate(gs_spec, args.sims, 3), args.repeats
    )
    fixed_sc, gs_sc = _scenario(False), _scenario(True)
    design = paired_times(
        lambda: run(fixed_sc, n_sims=args.sims, seed=3), lambda: run(gs_sc, n_sims=args.sims, seed=3), args.repeats
    )
    out = {
        "n_sims": args.sims,
        "repeats": args.repeats,
        "threads": numba.get_num_threads(),
        "machine": host,
        "looks": list(FRACTIONS),
        "warmup_seconds": round(engine["warmup"] + design["warmup"], 3),
        "warmup_cpu_seconds": round(engine["warmup_cpu"] + design["warmup_cpu"], 3),
        "engine_fixed_seconds": round(engine["fixed"], 4),
        "engine_fixed_cpu_seconds": round(engine["fixed_cpu"], 4),
        "engine_3_look_seconds": round(engine["seq"], 4),
        "engine_3_look_cpu_seconds": round(engine["seq_cpu"], 4),
        "engine_ratio": round(engine["ratio"], 3),
        "engine_ratio_cpu": round(engine["ratio_cpu"], 3),
        "design_fixed_seconds": round(design["fixed"], 4),
        "design_fixed_cpu_seconds": round(design["fixed_cpu"], 4),
        "design_3_look_seconds": round(design["seq"], 4),
        "design_3_look_cpu_seconds": round(design["seq_cpu"], 4),
        "design_ratio": round(design["ratio"], 3),
        "design_ratio_cpu": round(design["ratio_cpu"], 3),
        "target_ratio": next(t.bound for t in targets if t.name == "engine_ratio"),
    }
    return finish(out, targets, args)


if __name__ == "__main__":
    sys.exit(main())
