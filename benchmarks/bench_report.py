"""Seconds to build `simtrial report` on top of the simulations, for the flagship at 10,000 simulations.

    python benchmarks/bench_report.py --json [--sims 10000] [--repeats 3] [--check] [--target NAME=VALUE]

The simulations (H1 and H0 runs, as the report command does them; no sample-size
search, whose cost is bench_designs.py's) are timed once and reported apart
(simulate_seconds); then, warm (a first build draws every figure once, loading
matplotlib), the median of ``--repeats`` builds of the report from those results:
collecting the numbers (report_collect_seconds, including the calibration
figure's simulated cohorts), drawing the SVG figures (report_figures_seconds)
and rendering the HTML (report_html_seconds).  Target from issue 13, on wall
time: figures and HTML (report_seconds = collect + figures + HTML) under 3 s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import Target, add_arguments, clock, finish, machine, resolve, since  # noqa: E402

from simtrial.power import run  # noqa: E402
from simtrial.report import Inputs, collect, output_set_from_power, render_html  # noqa: E402
from simtrial.report.figures import draw_all  # noqa: E402
from simtrial.report.inputs import header_comment  # noqa: E402
from simtrial.scenario import load_scenario  # noqa: E402

ROOT = HERE.parent
FLAGSHIP = ROOT / "scenarios" / "ihc3_deescalation_ni.yaml"
REPORT_TARGET_SECONDS = 3.0
TARGETS = [Target("report_seconds", "<=", REPORT_TARGET_SECONDS,
                  "issue 13: figures and HTML under 3 s on top of the simulations (wall)")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calibration-patients", type=int, default=20_000)
    args = parser.parse_args(argv)
    targets = resolve(TARGETS, args.target, parser)
    host = machine()
    import statistics

    import numba

    sc = load_scenario(FLAGSHIP)
    warm = clock()
    run(sc, n_sims=50)  # warm-up: load or compile the kernels
    warmup_wall, warmup_cpu = since(warm)
    start = clock()
    header = header_comment(FLAGSHIP)
    sets = [output_set_from_power(run(sc, n_sims=args.sims), header),
            output_set_from_power(run(sc, n_sims=args.sims, null=True), header)]
    sim_wall, sim_cpu = since(start)
    inputs = Inputs.from_sets(sets, calibration_patients=args.calibration_patients)
    warm = clock()
    render_html(collect(inputs))  # warm-up: imports matplotlib and jinja2, compiles the template
    w, c = since(warm)
    warmup_wall, warmup_cpu = warmup_wall + w, warmup_cpu + c
    phases: dict[str, list[tuple[float, float]]] = {"collect": [], "figures": [], "html": []}
    size = 0
    for _ in range(max(1, args.repeats)):
        start = clock()
        data = collect(inputs)
        phases["collect"].append(since(start))
        start = clock()
        figures = draw_all(data)
        phases["figures"].append(since(start))
        start = clock()
        page = render_html(data, figures)
        phases["html"].append(since(start))
        size = len(page.encode())
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in phases.items()}
    total = sum(w for w, _ in med.values())
    out = {
        "scenario": FLAGSHIP.name,
        "n_sims": args.sims,
        "repeats": args.repeats,
        "threads": numba.get_num_threads(),
        "warmup_seconds": round(warmup_wall, 3),
        "warmup_cpu_seconds": round(warmup_cpu, 3),
        "machine": host,
        "calibration_patients": args.calibration_patients,
        "simulate_seconds": round(sim_wall, 3),
        "simulate_cpu_seconds": round(sim_cpu, 3),
        "report_collect_seconds": round(med["collect"][0], 3),
        "report_collect_cpu_seconds": round(med["collect"][1], 3),
        "report_figures_seconds": round(med["figures"][0], 3),
        "report_figures_cpu_seconds": round(med["figures"][1], 3),
        "report_html_seconds": round(med["html"][0], 3),
        "report_html_cpu_seconds": round(med["html"][1], 3),
        "report_seconds": round(total, 3),
        "report_cpu_seconds": round(sum(c for _, c in med.values()), 3),
        "report_target_seconds": next(t.bound for t in targets if t.name == "report_seconds"),
        "html_bytes": size,
        "figures": len(figures),
    }
    return finish(out, targets, args)


if __name__ == "__main__":
    sys.exit(main())
