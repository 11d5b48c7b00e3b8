"""The dask backend against local threads, a sweep against separate runs, and memory against n_sims.

    python benchmarks/bench_distributed.py --json [--sims 200000] [--check] [--target NAME=VALUE]

Measured on the flagship (``scenarios/ihc3_deescalation_ni.yaml``), warm
(a warm-up run loads the kernels first, reported as warmup_seconds):

- local_seconds: ``--sims`` trials with the local backend at the default
  numba thread count (``threads``);
- dask_seconds: the same run on a dask LocalCluster of ``--workers``
  single-threaded worker processes in blocks of ``--block-trials``, cluster
  start (cluster_start_seconds) and worker warm-up excluded; its CPU
  (dask_cpu_seconds) is this process's plus the workers';
  dask_efficiency = local_seconds / dask_seconds (issue 12: >= 0.8 at
  blocks of >= 10,000 trials); per_block_overhead_ms: the extra wall time per
  block of the same run cut into ``--small-blocks``-trial blocks, over the
  large-block run;
- sweep_seconds: a ``--points``-point sweep (accrual.duration_months) at
  ``--sweep-sims`` trials per point, against separate_seconds: the same
  points as separate ``power.run`` calls (sweep_over_separate_ratio, issue
  12: no slower than the sum; 10% allowed for noise; each timed twice,
  alternating, the faster kept);
- peak memory (fresh child processes, after a warm-up): ``power.run`` of the
  flagship at the two ``--rss-sims`` sizes without per-trial output
  (``per_trial=False``: blocks of ``simtrial.power.BLOCK_TRIALS`` trials
  summarised and dropped); peak_memory_ratio = large / small peak RSS (issue
  12: within 10%), and bytes_per_trial = growth / extra trials; the same with
  per-trial outcomes kept (``per_trial=True``, what ``--out`` writes as
  trials.csv) as per_trial_peak_memory_ratio / per_trial_bytes_per_trial.
  ``--rss-only`` measures memory alone.

Results are the same on both backends (checked: dask_identical).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import Target, add_arguments, clock, finish, machine, resolve, since  # noqa: E402

ROOT = HERE.parent
FLAGSHIP = ROOT / "scenarios" / "ihc3_deescalation_ni.yaml"
TARGETS = [
    Target("dask_efficiency", ">=", 0.8, "issue 12: >= 0.8 of the local two-thread run at blocks of >= 10,000 trials"),
    Target("sweep_over_separate_ratio", "<=", 1.1, "issue 12: a sweep no slower than separate runs (10% for noise)"),
    Target("peak_memory_ratio", "<=", 1.1, "issue 12: peak memory at 10^6 vs 10^5 trials within 10%"),
]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _vm_hwm_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def rss_child(n_sims: int, per_trial: bool) -> None:
    from simtrial.power import run
    from simtrial.scenario import load_scenario

    sc = load_scenario(FLAGSHIP)
    run(sc, n_sims=64, per_trial=per_trial)
    gc.collect()
    reset = _reset_peak()
    baseline = _vm_hwm_mb() or _maxrss_mb()
    start = clock()
    result = run(sc, n_sims=n_sims, per_trial=per_trial)
    wall, _ = since(start)
    peak = _vm_hwm_mb() or _maxrss_mb()
    print(json.dumps({"n_sims": n_sims, "per_trial": per_trial, "baseline_mb": round(baseline, 1),
                      "peak_mb": round(peak, 1), "peak_reset_after_warmup": reset, "seconds": round(wall, 2),
                      "power": result.power}))


def peak_rss(n_sims: int, per_trial: bool = False) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--rss-child", str(n_sims)]
    if per_trial:
        command.append("--rss-per-trial")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory(sizes: list[int], per_trial_too: bool = True) -> dict:
    """Peak RSS of the flagship at two sizes, without (and with) per-trial outcomes, each in a fresh process."""
    small_n, large_n = sorted(sizes)
    out: dict = {"rss_sims": [small_n, large_n]}
    for per_trial in (False, True) if per_trial_too else (False,):
        rss = {n: peak_rss(n, per_trial) for n in (small_n, large_n)}
        growth = (rss[large_n]["peak_mb"] - rss[small_n]["peak_mb"]) * 2**20 / (large_n - small_n)
        prefix = "per_trial_" if per_trial else ""
        out[prefix + "rss"] = {str(n): r for n, r in rss.items()}
        out[prefix + "peak_memory_ratio"] = round(rss[large_n]["peak_mb"] / rss[small_n]["peak_mb"], 3)
        out[prefix + "bytes_per_trial"] = round(growth, 1)
    return out


def _workers_cpu(client) -> float:
    return sum(client.run(time.process_time).values())


def _timed_dask(client, fn):
    cpu0 = _workers_cpu(client)
    start = clock()
    out = fn()
    wall, cpu = since(start)
    return out, wall, cpu + _workers_cpu(client) - cpu0


def _summary(result) -> dict:
    d = result.to_dict()
    d.pop("versions")
    return d


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--sims", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--block-trials", type=int, default=10_000)
    parser.add_argument("--small-blocks", type=int, default=500, help="block size of the overhead measurement")
    parser.add_argument("--overhead-sims", type=int, default=20_000, help="trials of the overhead measurement")
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--sweep-sims", type=int, default=5_000)
    parser.add_argument("--rss-sims", type=int, nargs=2, default=[100_000, 1_000_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--rss-only", action="store_true", help="measure peak memory alone")
    parser.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rss-per-trial", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child is not None:
        rss_child(args.rss_child, args.rss_per_trial)
        return 0
    targets = resolve(TARGETS, args.target, parser)
    host = machine()
    if args.rss_only:
        targets = [t for t in targets if t.name == "peak_memory_ratio"]
        return finish({"scenario": FLAGSHIP.name, "machine": host, **memory(args.rss_sims), "pid": os.getpid()},
                      targets, args)

    import distributed
    import numba

    from simtrial.distributed import DaskExecutor
    from simtrial.power import run
    from simtrial.scenario import load_scenario, scenario_from_dict
    from simtrial.spec.sweep import SweepPlan
    from simtrial.sweeps import grid_points, sweep

    sc = load_scenario(FLAGSHIP)
    start = clock()
    run(sc, n_sims=200)
    warm_wall, warm_cpu = since(start)

    start = clock()
    local = run(sc, n_sims=args.sims)
    local_wall, local_cpu = since(start)

    start = clock()
    cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=50)
    client = distributed.Client(cluster)
    executor = DaskExecutor(client, block_trials=args.block_trials)
    run(sc, n_sims=200, executor=executor)  # every worker warm and holding the code
    start_wall, start_cpu = since(start)
    try:
        remote, dask_wall, dask_cpu = _timed_dask(client, lambda: run(sc, n_sims=args.sims, executor=executor))
        identical = _summary(remote) == _summary(local)
        small = DaskExecutor(client, block_trials=args.small_blocks)
        big = DaskExecutor(client, block_trials=max(args.overhead_sims // args.workers, 1))
        _, small_wall, small_cpu = _timed_dask(client, lambda: run(sc, n_sims=args.overhead_sims, executor=small))
        _, big_wall, big_cpu = _timed_dask(client, lambda: run(sc, n_sims=args.overhead_sims, executor=big))
        extra_blocks = small.blocks_run - big.blocks_run
        overhead_ms = 1000.0 * (small_wall - big_wall) / extra_blocks if extra_blocks > 0 else None
    finally:
        client.close()
        cluster.close()

    durations = [round(12 + 24 * i / max(args.points - 1, 1), 3) for i in range(args.points)]
    plan = SweepPlan.from_cli(["accrual.duration_months=" + ",".join(str(d) for d in durations)])
    scenarios = [p.scenario for p in grid_points(sc, plan)]
    timings: dict[str, list[tuple[float, float]]] = {"sweep": [], "separate": []}
    for order in (("sweep", "separate"), ("separate", "sweep")):  # alternated: a shared machine's load drifts
        for what in order:
            start = clock()
            if what == "sweep":
                swept = sweep(sc, plan, n_sims=args.sweep_sims)
            else:
                separate = [run(scenario_from_dict(dict(s.resolved)), n_sims=args.sweep_sims) for s in scenarios]
            timings[what].append(since(start))
    sweep_wall, sweep_cpu = min(timings["sweep"])
    separate_wall, separate_cpu = min(timings["separate"])
    sweep_identical = [r["power"] for r in swept.rows] == [r.power for r in separate]

    mem = memory(args.rss_sims)

    out = {
        "scenario": FLAGSHIP.name, "sims": args.sims, "threads": numba.get_num_threads(), "workers": args.workers,
        "block_trials": args.block_trials, "machine": host,
        "warmup_seconds": round(warm_wall, 3), "warmup_cpu_seconds": round(warm_cpu, 3),
        "local_seconds": round(local_wall, 3), "local_cpu_seconds": round(local_cpu, 3),
        "local_us_per_trial": round(1e6 * local_wall / args.sims, 2),
        "cluster_start_seconds": round(start_wall, 3), "cluster_start_cpu_seconds": round(start_cpu, 3),
        "dask_seconds": round(dask_wall, 3), "dask_cpu_seconds": round(dask_cpu, 3),
        "dask_efficiency": round(local_wall / dask_wall, 3), "dask_identical": identical,
        "overhead_sims": args.overhead_sims, "small_blocks": args.small_blocks,
        "small_blocks_seconds": round(small_wall, 3), "small_blocks_cpu_seconds": round(small_cpu, 3),
        "large_blocks_seconds": round(big_wall, 3), "large_blocks_cpu_seconds": round(big_cpu, 3),
        "per_block_overhead_ms": None if overhead_ms is None else round(overhead_ms, 2),
        "points": args.points, "sweep_sims": args.sweep_sims,
        "sweep_seconds": round(sweep_wall, 3), "sweep_cpu_seconds": round(sweep_cpu, 3),
        "separate_seconds": round(separate_wall, 3), "separate_cpu_seconds": round(separate_cpu, 3),
        "sweep_over_separate_ratio": round(sweep_wall / separate_wall, 3), "sweep_identical": sweep_identical,
        **mem,
        "pid": os.getpid(),
    }
    return finish(out, targets, args)


if __name__ == "__main__":
    sys.exit(main())
