"""Atomic output files and terminal tables for the CLI (no statistics here)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import yaml


class OutputError(Exception):
    """The --out directory cannot be used."""


#: every file name a simtrial command writes into --out: what makes up "an output set"
MANIFEST_NAME = "simtrial-manifest.json"
# the manifest first: moving it out first and in last makes a set without it an incomplete one
OUTPUT_NAMES = (MANIFEST_NAME, "summary.json", "trials.csv", "scenario.resolved.yaml", "power_curve.csv",
                "sweep.json", "sweep.csv", "sweep.parquet")
STAGING_PREFIX = ".simtrial-staging-"
LOCK_NAME = ".simtrial.lock"
#: a staging directory this old is from a crashed run even if its pid is alive again (reused)
STALE_SECONDS = 3600.0


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, another user's
    return True


def _staging_pid(name: str) -> int | None:
    head = name[len(STAGING_PREFIX):].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def clean_stale_staging(target: Path, *, now: float | None = None) -> list[str]:
    """Remove ``.simtrial-staging-*`` directories left by crashed runs (pid dead, or older than an hour)."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(target))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(STAGING_PREFIX):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid = _staging_pid(entry.name)
        if age > STALE_SECONDS or pid is None or pid == os.getpid() or not _pid_alive(pid):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _acquire_lock(target: Path, out_dir: str) -> Path:
    """``D/.simtrial.lock`` created with O_EXCL: one run at a time per --out directory.

    A lock whose pid is dead (a killed run) is taken over.
    """
    lock = target / LOCK_NAME
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                text = lock.read_text(encoding="utf-8", errors="replace").strip()
                age = time.time() - lock.stat().st_mtime
            except OSError:
                continue  # released meanwhile: try again
            pid = int(text.split()[0]) if text[:1].isdigit() else None
            if (pid is not None and not _pid_alive(pid)) or (pid is None and age > 60) or age > 24 * STALE_SECONDS:
                with contextlib.suppress(OSError):
                    lock.unlink()
                continue
            raise OutputError(
                f"--out {out_dir}: another simtrial run (pid {pid if pid is not None else '?'}) is writing there; "
                "nothing was written; allowed: wait for it to finish, or choose another --out directory"
            ) from None
        except OSError as exc:
            raise OutputError(
                f"--out {out_dir}: cannot write in the directory ({exc.strerror or exc}); nothing was written"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        return lock
    raise OutputError(f"--out {out_dir}: cannot take the directory's lock {lock}; nothing was written")


def _existing_set(target: Path) -> list[str]:
    return [name for name in OUTPUT_NAMES if os.path.lexists(target / name)]


def _check_targets(target: Path, out_dir: str, names, overwrite: bool) -> None:
    """Refuse, before anything moves, a set that cannot be switched in whole."""
    for name in names:
        path = target / name
        if os.path.isdir(path) and not os.path.islink(path):
            raise OutputError(
                f"--out {out_dir}: {path} is a directory where the file {name} must go; nothing was written; "
                f"allowed: remove it or choose another --out directory"
            )
        if os.path.lexists(path) and not (os.path.isfile(path) or os.path.islink(path)):
            raise OutputError(
                f"--out {out_dir}: {path} is not a regular file; nothing was written; "
                "allowed: remove it or choose another --out directory"
            )
    existing = _existing_set(target)
    if existing and not overwrite:
        raise OutputError(
            f"--out {out_dir} already holds the output of a run ({', '.join(existing)}); nothing was written; "
            "allowed: --overwrite to replace that set as a whole, or another (empty) --out directory"
        )


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT / SIGTERM while the set is switched in (delivered right after)."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = mask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, previous)


def _write_manifest(staging: Path, staged: list[str]) -> None:
    """``simtrial-manifest.json``: the set's files and their sha256, switched in last."""
    files = {}
    for name in staged:
        files[name] = hashlib.sha256((staging / name).read_bytes()).hexdigest()
    text = json.dumps({"simtrial_output_set": 1, "files": files}, indent=2) + "\n"
    with open(staging / MANIFEST_NAME, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def output_set_complete(directory: str | Path) -> bool:
    """Whether ``directory`` holds a whole output set: a manifest whose every file is present and unchanged.

    A run killed (SIGKILL) in the middle of switching its set in leaves no
    manifest, since the manifest leaves first and arrives last.
    """
    path = Path(directory)
    try:
        manifest = json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
        return all(
            hashlib.sha256((path / name).read_bytes()).hexdigest() == digest
            for name, digest in manifest["files"].items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _switch_in(staging: Path, target: Path, staged: list[str]) -> None:
    """Replace the previous output set by the staged one; on failure put the previous set back."""
    _write_manifest(staging, staged)
    backup = staging / ".previous"
    backup.mkdir()
    moved_out: list[str] = []
    moved_in: list[str] = []
    try:
        for name in _existing_set(target):
            os.replace(target / name, backup / name)
            moved_out.append(name)
        for name in [*staged, MANIFEST_NAME]:
            os.replace(staging / name, target / name)
            moved_in.append(name)
    except OSError:
        for name in moved_in:
            with contextlib.suppress(OSError):
                os.replace(target / name, staging / name)
        for name in moved_out:
            with contextlib.suppress(OSError):
                os.replace(backup / name, target / name)
        raise
    _fsync_dir(target)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def staged_output(out_dir: str | None, names=None, *, overwrite: bool = False):
    """Yield a writer ``write(name, text)``; the files appear in ``out_dir`` as one set, only if everything succeeds.

    * an empty ``out_dir`` is refused; the directory is created if needed;
    * ``D/.simtrial.lock`` (O_EXCL) makes concurrent runs into one directory
      fail with a clear message instead of mixing their files;
    * staging directories of crashed runs (``D/.simtrial-staging-<pid>-*``,
      pid dead or older than an hour) are removed;
    * ``names`` (the files the command will write), when given, are checked
      before the work starts: a directory where a file must go, or an
      existing output set without ``overwrite``, fails before anything runs;
    * files are staged in ``D/.simtrial-staging-<pid>-*`` (same file system)
      and switched in with ``os.replace`` while SIGINT/SIGTERM are held; the
      previous set (every file simtrial writes, see ``OUTPUT_NAMES``) is
      replaced as a whole, so no file of an earlier run stays beside the new
      ones; on any failure the previous set is put back and staging removed.
    """
    if out_dir is None:
        yield None
        return
    if not str(out_dir).strip():
        raise OutputError("--out: an empty path; allowed: a directory path such as results/ (use . for here)")
    target = Path(out_dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out_dir}: cannot create or write the directory ({exc.strerror or exc})") from None
    if not target.is_dir():
        raise OutputError(f"--out {out_dir}: not a directory")
    lock = _acquire_lock(target, out_dir)
    staging: Path | None = None
    try:
        clean_stale_staging(target)
        if names is not None:
            _check_targets(target, out_dir, names, overwrite)
        try:
            staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=target))
        except OSError as exc:
            raise OutputError(
                f"--out {out_dir}: cannot create or write the directory ({exc.strerror or exc})"
            ) from None
        staged: list[str] = []

        def write(name: str, text: str | bytes) -> None:
            binary = isinstance(text, bytes)  # e.g. Parquet
            with open(staging / name, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            staged.append(name)

        try:
            yield write
            _check_targets(target, out_dir, staged, overwrite)
            with _signals_deferred():
                _switch_in(staging, target, staged)
        except OSError as exc:
            raise OutputError(
                f"--out {out_dir}: writing failed ({exc.strerror or exc}); no files were written"
            ) from None
    finally:
        with _signals_deferred():
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                lock.unlink()


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


@contextlib.contextmanager
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
