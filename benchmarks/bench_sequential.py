"""Cost of group-sequential looks: a 3-look design against the fixed design at 10,000 trials.

    python benchmarks/bench_sequential.py --json

The looks share one generated cohort and one sort per trial; each extra look
costs a cut, a stream merge and the statistics.  Target (issue 5): ratio <= 1.5.
Engine time (``simulate``) and whole-design time (``run``, boundaries and
decisions included) are both reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _reference_design import TARGET_EVENTS, reference_spec  # noqa: E402

from simtrial.scenario import scenario_from_dict  # noqa: E402
from simtrial.simulate import simulate  # noqa: E402
from simtrial.spec import Cut  # noqa: E402

FRACTIONS = (0.5, 0.75, 1.0)


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


def paired_times(fixed, sequential, repeats: int) -> tuple[float, float, float]:
    """Median seconds of each, and the median of per-pair ratios.

    The two are timed alternately, so a load that comes and goes on a shared
    machine hits both sides of a pair alike.
    """
    fixed()  # warm-up: load or compile outside the timing
    sequential()
    t_fixed, t_seq, ratios = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        fixed()
        a = time.perf_counter() - t
        t = time.perf_counter()
        sequential()
        b = time.perf_counter() - t
        t_fixed.append(a)
        t_seq.append(b)
        ratios.append(b / a)
    return statistics.median(t_fixed), statistics.median(t_seq), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    from simtrial.power import run

    fixed_spec = reference_spec()
    gs_spec = reference_spec(cuts=tuple(Cut(round(f * TARGET_EVENTS)) for f in FRACTIONS))
    engine_fixed, engine_gs, engine_ratio = paired_times(
        lambda: simulate(fixed_spec, args.sims, 3), lambda: simulate(gs_spec, args.sims, 3), args.repeats
    )
    fixed_sc, gs_sc = _scenario(False), _scenario(True)
    design_fixed, design_gs, design_ratio = paired_times(
        lambda: run(fixed_sc, n_sims=args.sims, seed=3), lambda: run(gs_sc, n_sims=args.sims, seed=3), args.repeats
    )
    out = {
        "n_sims": args.sims,
        "looks": list(FRACTIONS),
        "engine_fixed_seconds": round(engine_fixed, 4),
        "engine_3_look_seconds": round(engine_gs, 4),
        "engine_ratio": round(engine_ratio, 3),
        "design_fixed_seconds": round(design_fixed, 4),
        "design_3_look_seconds": round(design_gs, 4),
        "design_ratio": round(design_ratio, 3),
        "target_ratio": 1.5,
    }
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
