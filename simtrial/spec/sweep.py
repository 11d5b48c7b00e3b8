"""A sensitivity sweep as data: which scenario fields vary, over which values, as a grid or zipped.

A field path names a value in the scenario file, in the file's own words::

    arms.experimental.survival["IHC 2+/ISH+"].hazard_ratio
    population.misclassification["IHC 2+/ISH+"]["IHC 3+"]
    accrual.duration_months        analysis.ni_margin        n_patients

(dotted names; keys that are not plain names in double or single quotes in
brackets; a list element by its index, ``analysis.landmark_months[0]``).

Values are a list (``0.8,1.0,1.3`` on the command line, ``[0.8, 1.0, 1.3]``
in a file) or an inclusive range ``start:stop:step`` (``1.0:1.6:0.2`` is 1.0,
1.2, 1.4, 1.6; computed in decimal, so 0.1 steps give 0.3, not
0.30000000000000004; whole numbers stay whole).  Several varied paths make
the full grid (the first path varies slowest); ``zip`` pairs the i-th values
instead (all lists the same length).

In a scenario file::

    sweep:
      vary:
        analysis.ni_margin: [1.2, 1.3]
        'population.misclassification["IHC 2+/ISH+"]["IHC 3+"]': "0:0.2:0.1"
      zip: false

Errors raise ``InvalidInput`` naming the path and the value.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from simtrial.errors import InvalidInput

#: grid points one sweep may hold (each is a full run)
MAX_POINTS = 10_000
#: values one range may expand to
MAX_VALUES = 10_000

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX = re.compile(r"\[\s*(-?[0-9]+)\s*\]")
_QUOTED = re.compile(r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\]""")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")

Key = str | int
Value = int | float | str | bool


def parse_path(text: str) -> tuple[Key, ...]:
    """``'arms.control.survival["IHC 3+"].median_months'`` -> ``("arms", "control", "survival", "IHC 3+", "median_months")``."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"sweep path must be a field path such as analysis.ni_margin, got {text!r}")
    s = text.strip()
    parts: list[Key] = []
    i = 0
    while i < len(s):
        if s[i] == ".":
            if not parts or i + 1 >= len(s):
                raise InvalidInput(f"sweep path {text!r}: a '.' must sit between two names")
            i += 1
            m = _NAME.match(s, i)
            if m is None:
                raise InvalidInput(f"sweep path {text!r}: expected a field name after '.' at position {i + 1}")
            parts.append(m.group())
            i = m.end()
        elif s[i] == "[":
            m = _QUOTED.match(s, i)
            if m is not None:
                raw = m.group(1) if m.group(1) is not None else m.group(2)
                parts.append(re.sub(r"\\(.)", r"\1", raw))
                i = m.end()
                continue
            m = _INDEX.match(s, i)
            if m is None:
                raise InvalidInput(
                    f"sweep path {text!r}: a bracket at position {i + 1} must hold a quoted key such as "
                    '["IHC 3+"] or a list index such as [0]'
                )
            parts.append(int(m.group(1)))
            i = m.end()
        elif not parts:
            m = _NAME.match(s, i)
            if m is None:
                raise InvalidInput(f"sweep path {text!r}: must start with a field name such as analysis")
            parts.append(m.group())
            i = m.end()
        else:
            raise InvalidInput(f"sweep path {text!r}: unexpected {s[i]!r} at position {i + 1} (use . or [\"key\"])")
    return tuple(parts)


def format_path(parts: Iterable[Key]) -> str:
    """The inverse of :func:`parse_path` (names dotted, other keys quoted in brackets)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}" if out else part
        else:
            out += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


def _scalar(text: str) -> Value:
    t = text.strip()
    if _INT.match(t):
        return int(t)
    if _FLOAT.match(t):
        v = float(t)
        if not math.isfinite(v):
            raise InvalidInput(f"{text!r} is not a finite number")
        return v
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return t[1:-1]
    return t


def _decimal(text: str, path: str, what: str) -> Decimal:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(f"sweep {path}: the range's {what} {text.strip()!r} is not a number") from None
    if not d.is_finite():
        raise InvalidInput(f"sweep {path}: the range's {what} {text.strip()!r} is not a finite number")
    return d


def expand_range(text: str, path: str = "value") -> tuple[Value, ...]:
    """``"start:stop:step"`` -> the values from start to stop inclusive (InvalidInput if empty or malformed)."""
    pieces = text.split(":")
    if len(pieces) != 3:
        raise InvalidInput(f"sweep {path}: a range is start:stop:step, got {text!r}")
    start, stop, step = (_decimal(p, path, w) for p, w in zip(pieces, ("start", "stop", "step"), strict=True))
    if step <= 0:
        raise InvalidInput(f"sweep {path}: the range {text!r} has step {step}; allowed: a step > 0")
    if stop < start:
        raise InvalidInput(f"sweep {path}: the range {text!r} is empty (stop < start); allowed: start <= stop")
    count = int((stop - start) / step) + 1
    if count > MAX_VALUES:
        raise InvalidInput(f"sweep {path}: the range {text!r} has {count:,} values; allowed: at most {MAX_VALUES:,}")
    whole = all(_INT.match(p.strip()) for p in pieces)
    values = [start + k * step for k in range(count)]
    return tuple(int(v) if whole else float(v) for v in values)


def parse_values(values: Any, path: str = "value") -> tuple[Value, ...]:
    """A list, a ``start:stop:step`` range or comma-separated text -> the tuple of values (never empty)."""
    if isinstance(values, str):
        text = values.strip()
        if not text:
            raise InvalidInput(f"sweep {path}: no values; allowed: a list such as 0.8,1.0,1.3 or a range start:stop:step")
        if ":" in text and "," not in text:
            out = expand_range(text, path)
        else:
            items = [t for t in text.split(",")]
            if any(not t.strip() for t in items):
                raise InvalidInput(f"sweep {path}: an empty value in {text!r}; allowed: values separated by commas")
            out = tuple(_scalar(t) for t in items)
    elif isinstance(values, Sequence) and not isinstance(values, bytes | bytearray):
        out = tuple(values)
        for v in out:
            if isinstance(v, float) and not math.isfinite(v):
                raise InvalidInput(f"sweep {path}: {v!r} is not a finite number")
            if not isinstance(v, int | float | str | bool):
                raise InvalidInput(f"sweep {path}: each value must be a number or text, got {v!r}")
    elif isinstance(values, int | float | bool) and not (isinstance(values, float) and not math.isfinite(values)):
        out = (values,)
    else:
        raise InvalidInput(f"sweep {path}: values must be a list or a range start:stop:step, got {values!r}")
    if not out:
        raise InvalidInput(f"sweep {path}: the list of values is empty; allowed: at least one value")
    return out


@dataclass(frozen=True)
class SweepAxis:
    """One varied field: its path (text and parsed keys) and its values."""

    path: str
    keys: tuple[Key, ...]
    values: tuple[Value, ...]

    @classmethod
    def parse(cls, path: str, values: Any) -> SweepAxis:
        keys = parse_path(path)
        return cls(format_path(keys), keys, parse_values(values, format_path(keys)))


@dataclass(frozen=True)
class SweepPlan:
    """The varied fields and how their values combine (full grid, or ``zip``: the i-th values together)."""

    axes: tuple[SweepAxis, ...]
    zip: bool = False

    def __post_init__(self) -> None:
        if not self.axes:
            raise InvalidInput("sweep: nothing varies; allowed: at least one --vary PATH=VALUES (or sweep.vary)")
        seen: dict[str, int] = {}
        for axis in self.axes:
            if axis.path in seen:
                raise InvalidInput(f"sweep {axis.path}: varied twice; allowed: each path once")
            seen[axis.path] = 1
        if self.zip:
            lengths = {len(a.values) for a in self.axes}
            if len(lengths) != 1:
                shown = ", ".join(f"{a.path}: {len(a.values)}" for a in self.axes)
                raise InvalidInput(f"sweep: zip pairs values, so every path needs as many values ({shown})")
        if self.n_points > MAX_POINTS:
            raise InvalidInput(f"sweep: {self.n_points:,} grid points; allowed: at most {MAX_POINTS:,}")

    @classmethod
    def from_mapping(cls, vary: Mapping[str, Any], zip: bool = False) -> SweepPlan:
        return cls(tuple(SweepAxis.parse(p, v) for p, v in vary.items()), bool(zip))

    @classmethod
    def from_cli(cls, vary: Iterable[str], zip: bool = False) -> SweepPlan:
        """From ``--vary PATH=VALUES`` texts (the last '=' that is outside brackets splits them)."""
        axes = []
        for text in vary:
            path, sep, values = _split_vary(text)
            if not sep:
                raise InvalidInput(f"--vary {text!r}: expected PATH=VALUES, e.g. analysis.ni_margin=1.2,1.3")
            axes.append(SweepAxis.parse(path, values))
        return cls(tuple(axes), bool(zip))

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(a.path for a in self.axes)

    @property
    def n_points(self) -> int:
        if self.zip:
            return len(self.axes[0].values)
        return math.prod(len(a.values) for a in self.axes)

    def points(self) -> list[tuple[Value, ...]]:
        """The grid points, each the tuple of values in ``axes`` order."""
        if self.zip:
            return list(zip(*(a.values for a in self.axes), strict=True))
        return list(itertools.product(*(a.values for a in self.axes)))

    def to_dict(self) -> dict[str, Any]:
        return {"vary": {a.path: list(a.values) for a in self.axes}, "zip": self.zip}


def _split_vary(text: str) -> tuple[str, str, str]:
    depth, quote = 0, None
    split = -1
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "=" and depth == 0:
            split = i
            break
    if split < 0:
        return text, "", ""
    return text[:split], "=", text[split + 1:]
