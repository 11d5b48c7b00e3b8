"""Atomic output files and terminal tables for the CLI (no statistics here)."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import click
import yaml


class OutputError(Exception):
    """The --out directory cannot be used."""


@contextmanager
def staged_output(out_dir: str | None):
    """Yield a writer ``write(name, text)``; files appear in ``out_dir`` only if everything succeeds.

    Files are staged in a temporary directory inside ``out_dir`` (same file
    system), then moved into place with ``os.replace``; on any failure the
    staging directory is removed, so nothing half-written is left behind.
    """
    if out_dir is None:
        yield None
        return
    target = Path(out_dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".simtrial-staging-", dir=target))
    except OSError as exc:
        raise OutputError(f"--out {out_dir}: cannot create or write the directory ({exc.strerror or exc})") from None
    staged: list[str] = []

    def write(name: str, text: str) -> None:
        with open(staging / name, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        staged.append(name)

    try:
        yield write
        for name in staged:
            os.replace(staging / name, target / name)
    except OSError as exc:
        raise OutputError(f"--out {out_dir}: writing failed ({exc.strerror or exc}); no files were written") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def dump_json(obj) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def dump_yaml(obj) -> str:
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)


def fmt(x, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        if math.isinf(x):
            return "not reached" if x > 0 else "-inf"
        return f"{x:.{digits}f}"
    return str(x)


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))
    body = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(["  " + line, *("  " + b for b in body)])


def show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def _kernels_cached() -> bool:
    """Whether the simulation kernels are in numba's disk cache (a seam for tests)."""
    from simtrial.engine.warm import kernels_cached

    return kernels_cached()


def compile_notice() -> str:
    from simtrial.engine.warm import COMPILE_SECONDS

    return f"compiling simulation kernels, once: about {COMPILE_SECONDS} s"


def _eta_after_compilation(bar) -> Callable[[int], None]:
    """``bar.update``, but the ETA ignores the time before the first update (kernel compilation).

    The first update only moves the bar (no ETA yet).  At the second, click's
    start time is moved back so that the first chunk counts at the rate of the
    second; from then on click's own estimate (elapsed / done) is unbiased.
    """
    first: list[float] = []  # [time of the first update, trials it reported]

    def update(n_steps: int) -> None:
        # click's ProgressBar: start, avg (rolling s/trial), last_eta (no new ETA within 1 s of it);
        # should a click release rename them, these assignments do nothing and click's ETA stands
        now = time.time()
        if not first:
            first[:] = [now, n_steps]
            bar.last_eta = now
        elif len(first) == 2:
            t1, k1 = first
            first.append(now)
            if n_steps > 0 and now > t1:
                bar.start = t1 - (now - t1) / n_steps * k1
                bar.avg = []
                bar.last_eta = 0.0
        bar.update(n_steps)

    return update


@contextmanager
def progress_bar(length: int, label: str, quiet: bool, *, compiles: bool = True):
    """A click progress bar on stderr when it is a terminal; a no-op callback (None) otherwise.

    Unless ``quiet``, a cold numba cache is announced with one line on stderr
    (terminal or not) before the kernels compile; the bar's ETA starts after.
    ``compiles=False`` (work that never reaches the numba driver) skips the check.
    """
    if quiet:
        yield None
        return
    if compiles and not _kernels_cached():
        click.echo(compile_notice(), err=True)
    if not show_progress(quiet):
        yield None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield _eta_after_compilation(bar)
