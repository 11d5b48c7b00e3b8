"""Is the simulation driver already compiled in numba's on-disk cache?  Answered without importing numba.

A first run on an empty cache compiles the kernels (``cache=True``) for a
while before the first trial is simulated; the CLI uses :func:`kernels_cached`
to say so once instead of staying silent.  The check mirrors how numba
(``numba.core.caching``) names and places a cached function's index file::

    <cache dir>/<module>.<qualname>-<first line>.py<major><minor><abiflags>.nbi

where ``<first line>`` is the code object's first line (the decorator's line
for a decorated function) and ``<cache dir>`` is the first usable of

* ``$NUMBA_CACHE_DIR/<parent dir name>_<sha1 of the source's directory>``;
* ``__pycache__`` next to the source file, if it is writable;
* ``<user cache dir>/numba/<parent dir name>_<sha1 of the source's directory>``.

The driver's index is enough: the kernels it calls are compiled into it.  An
index written for an older version of ``driver.py`` does not count (numba
stamps the index with a SHA-256 of the source, or with its mtime in older
numba releases).  This is a cheap heuristic, not a guarantee: a cache written
by another numba or Python version, or edits to the kernels the driver calls,
still make numba recompile.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
from functools import lru_cache
from pathlib import Path

DRIVER_FILE = Path(__file__).with_name("driver.py")
DRIVER_FUNCTION = "simulate_block_range"

#: Seconds a cold compile of the driver took on the development machine (2 cores,
#: numba 0.68, Python 3.11): 13.6-15.0 s measured from the first driver call to its return.
COMPILE_SECONDS = 15


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


@lru_cache(maxsize=8)
def _first_line(source: bytes, function: str) -> int | None:
    """``co_firstlineno`` of the top-level function ``function``: its first decorator's line, else its ``def``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            return min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return None


def _subpath(py_file: str) -> str:
    # numba's _CacheLocator.get_suitable_cache_subpath
    directory = os.path.dirname(os.path.abspath(py_file))
    return "_".join([os.path.split(directory)[-1], hashlib.sha1(directory.encode()).hexdigest()])


def _user_cache_dir() -> str:
    # numba's AppDirs("numba").user_cache_dir on Linux/BSD; macOS and Windows differ
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/numba")
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "numba", "Cache")
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "numba")


def _usable(directory: str) -> bool:
    """Could numba create and write ``directory`` (its locators' ``ensure_cache_path`` test)?"""
    path = os.path.abspath(directory)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def cache_dir(py_file: str | os.PathLike = DRIVER_FILE) -> str:
    """The directory numba caches ``py_file``'s functions in: the first usable one, in its locators' order."""
    py_file = os.fspath(py_file)
    user_dir = os.environ.get("NUMBA_CACHE_DIR", "")
    candidates = [os.path.join(user_dir, _subpath(py_file))] if user_dir else []
    candidates.append(os.path.join(os.path.dirname(py_file), "__pycache__"))
    for directory in candidates:
        if _usable(directory):
            return directory
    return os.path.join(_user_cache_dir(), _subpath(py_file))


def expected_index_path(py_file: str | os.PathLike = DRIVER_FILE, function: str = DRIVER_FUNCTION) -> Path | None:
    """Where numba would put ``function``'s ``.nbi`` index (None if ``py_file`` has no such function)."""
    py_file = os.fspath(py_file)
    try:
        line = _first_line(Path(py_file).read_bytes(), function)
    except (OSError, SyntaxError, ValueError):
        return None
    if line is None:
        return None
    module = os.path.splitext(os.path.basename(py_file))[0]
    version = f"{sys.version_info[0]}{sys.version_info[1]}{getattr(sys, 'abiflags', '')}"
    return Path(cache_dir(py_file)) / f"{module}.{function}-{line}.py{version}.nbi"


def index_path(py_file: str | os.PathLike = DRIVER_FILE, function: str = DRIVER_FUNCTION) -> Path | None:
    """The ``.nbi`` index numba would use for ``function`` in ``py_file``, if it exists (else None)."""
    path = expected_index_path(py_file, function)
    return path if path is not None and path.is_file() else None


def kernels_cached(py_file: str | os.PathLike = DRIVER_FILE, function: str = DRIVER_FUNCTION) -> bool:
    """True if the simulation driver looks compiled in numba's disk cache (or JIT is disabled).

    Cheap: a few ``stat`` calls, reading ``driver.py`` and the small index file.
    Never raises; an unreadable cache counts as not cached.
    """
    if _truthy("NUMBA_DISABLE_JIT"):
        return True
    path = index_path(py_file, function)
    if path is None:
        return False
    try:
        index = path.read_bytes()
        source = Path(py_file).read_bytes()
        fresh_by_mtime = path.stat().st_mtime >= Path(py_file).stat().st_mtime
    except OSError:
        return False
    # numba 0.68 pickles the source's SHA-256 into the index (older releases: its mtime)
    return hashlib.sha256(source).digest() in index or fresh_by_mtime
