"""Options shared by `simtrial run` and `simtrial sweep`: where trials run, and how long (no statistics here).

``--backend local`` (default: numba threads here) or ``--backend dask`` with
``--scheduler tcp://host:port`` (a running dask cluster) or ``--workers N``
(a local cluster of N single-threaded worker processes).  The results do not
depend on the backend.  ``--target-mc-se`` runs blocks of ``--sims`` trials
until the MC SE of power (type I error) reaches the target, or ``--max-sims``.
dask is imported only when ``--backend dask`` is used.
"""

from __future__ import annotations

import contextlib

import click


def _positive_int(ctx, param, value):
    if value is not None and value < 1:
        raise click.BadParameter(f"must be an integer >= 1, got {value}")
    return value


def _target(ctx, param, value):
    if value is not None and not 0.0 < value < 0.5:
        raise click.BadParameter(f"must be a standard error in (0, 0.5), e.g. 0.002, got {value}")
    return value


def backend_options(fn):
    """``--backend``, ``--scheduler``, ``--workers``, ``--block-trials``, ``--target-mc-se``, ``--max-sims``."""
    options = [
        click.option("--backend", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                     help="Where trials run: numba threads here, or dask.distributed workers (same numbers)."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="--backend dask: address of a running dask scheduler, e.g. tcp://host:8786."),
        click.option("--workers", type=int, default=None, callback=_positive_int,
                     help="--backend dask: start a local cluster of N single-threaded worker processes."),
        click.option("--block-trials", type=int, default=None, callback=_positive_int,
                     help="--backend dask: trials per dask task (default 10000)."),
        click.option("--target-mc-se", type=float, default=None, callback=_target,
                     help="Run blocks of --sims trials (default 1000) until the MC SE of power (type I error) "
                          "is at most this, e.g. 0.002."),
        click.option("--max-sims", "max_sims", type=int, default=None, callback=_positive_int,
                     help="With --target-mc-se: stop at this many trials, reported if the target is not met "
                          "(default 1000000)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@contextlib.contextmanager
def executor_for(backend: str, scheduler: str | None, workers: int | None, block_trials: int | None,
                 threads: int | None):
    """``(executor, threads)`` for the library: None and ``threads`` locally; a DaskExecutor (closed on exit) for dask.

    With dask, ``--threads`` is the numba threads of each block on a worker (default 1).
    """
    from simtrial.errors import InvalidInput

    if backend == "local":
        for name, value in (("--scheduler", scheduler), ("--workers", workers), ("--block-trials", block_trials)):
            if value is not None:
                raise InvalidInput(f"{name} applies to --backend dask; allowed: add --backend dask, or remove {name}")
        yield None, threads
        return
    if (scheduler is None) == (workers is None):
        raise InvalidInput("--backend dask: give one of --scheduler tcp://host:port or --workers N")
    from simtrial.distributed import DEFAULT_BLOCK_TRIALS, DaskExecutor

    with DaskExecutor(
        scheduler=scheduler, workers=workers, block_trials=block_trials or DEFAULT_BLOCK_TRIALS,
        numba_threads=threads or 1,
    ) as executor:
        yield executor, None


def precision_rows(precision: dict) -> list[tuple[str, str]]:
    """Terminal rows saying how a --target-mc-se run ended."""
    target = precision["target_mc_se"]
    if precision["reached"]:
        text = f"{target:g} reached at {precision['n_sims']:,} trials (blocks of {precision['block_sims']:,})"
    else:
        text = (f"{target:g} NOT reached: stopped at --max-sims {precision['max_sims']:,} trials "
                f"(MC SE {precision['mc_se']:.4f})")
    return [("MC SE target", text)]


def check_precision_options(target_mc_se, max_sims) -> None:
    if max_sims is not None and target_mc_se is None:
        raise click.BadParameter("applies with --target-mc-se", param_hint="--max-sims")
