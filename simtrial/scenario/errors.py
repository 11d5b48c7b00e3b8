"""Scenario errors that name the file, the field path, the value and what is allowed.

A user's mistake in a scenario file must never surface as a Python traceback:
every check in the loader raises ``ScenarioError`` through a ``Node``, the
cursor that remembers where in the file a value came from.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from simtrial.errors import InvalidInput

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "(missing)"})()

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_SHOWN = 80
_MAPPING_ALLOWED = "a mapping of 'key: value' lines"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def format_path(parts: Iterable[str | int]) -> str:
    """``("arms", "control", "survival", "IHC 3+")`` -> ``arms.control.survival["IHC 3+"]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}" if out else part
        else:
            part = _CONTROL.sub("?", str(part))
            part = part if len(part) <= 40 else part[:37] + "..."
            out += '["' + part.replace('"', '\\"') + '"]'
    return out or "(top level)"


def _number_text(value: int | float) -> str:
    """An int or float for a message: huge or tiny magnitudes in scientific notation."""
    if isinstance(value, float):
        if value != value or value in (math.inf, -math.inf) or value == 0 or 1e-4 <= abs(value) < 1e15:
            return repr(value)
        return f"{value:.6g}"
    digits = str(abs(value)) if value.bit_length() < 13000 else None  # str() of > 4300 digits is refused
    if digits is None:
        return ("-" if value < 0 else "") + f"about 2^{value.bit_length()}"
    if len(digits) <= 15:
        return str(value)
    mantissa = digits[0] + "." + digits[1:6].rstrip("0") if digits[1:6].rstrip("0") else digits[0]
    return ("-" if value < 0 else "") + f"{mantissa}e+{len(digits) - 1}"


def _escape(text: str) -> str:
    """``repr`` of a string with every control character escaped (repr already escapes C0/C1)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
                        repr(text))


def _render(value: Any, out: list[str], budget: list[int]) -> None:
    """Append a short rendering of ``value`` to ``out``, stopping once ``budget[0]`` characters are spent.

    Walks containers lazily, so a value with a huge (or shared, alias-expanded)
    structure costs only what is shown.
    """
    if budget[0] <= 0:
        return

    def put(text: str) -> None:
        out.append(text)
        budget[0] -= len(text)

    if isinstance(value, bool) or value is None:
        put(repr(value))
    elif isinstance(value, int | float):
        put(_number_text(value))
    elif isinstance(value, str):
        put(_escape(value[: budget[0] + 2]) if len(value) > budget[0] + 2 else _escape(value))
    elif isinstance(value, Mapping):
        put("{")
        for i, (k, v) in enumerate(value.items()):
            if budget[0] <= 0:
                return
            if i:
                put(", ")
            _render(k, out, budget)
            put(": ")
            _render(v, out, budget)
        put("}")
    elif isinstance(value, list | tuple | set | frozenset):
        put("[")
        for i, v in enumerate(value):
            if budget[0] <= 0:
                return
            if i:
                put(", ")
            _render(v, out, budget)
        put("]")
    else:
        text = repr(value)
        put(_escape(text[: budget[0] + 2]) if len(text) > budget[0] + 2 else _CONTROL.sub("?", text))


def show(value: Any) -> str:
    """A short, plain rendering of a user value for messages (at most ~80 characters, no control characters)."""
    if value is MISSING:
        return "(missing)"
    out: list[str] = []
    _render(value, out, [_MAX_SHOWN + 1])
    text = "".join(out)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


class ScenarioError(InvalidInput):
    """A mistake in a scenario: ``<file>: <field path>: <problem>; got <value>; allowed: <allowed>``.

    ``line`` / ``column`` (1-based) are set when the value came from a YAML file.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str = "<dict>",
        field_path: str = "(top level)",
        value: Any = MISSING,
        allowed: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.field_path = field_path
        self.value = value
        self.allowed = allowed
        self.line = line
        self.column = column
        where = file
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        text = f"{where}: {field_path}: {problem}; got {show(value)}"
        if allowed:
            text += f"; allowed: {allowed}"
        super().__init__(text)


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close match, else empty."""
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    if str(word).lower() in lowered:
        return f" (did you mean {lowered[str(word).lower()]!r}?)"
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def one_of(choices: Iterable[str]) -> str:
    return " | ".join(str(c) for c in choices)


class Node:
    """A value read from a scenario, with its path and (when known) its place in the file."""

    def __init__(
        self,
        value: Any,
        *,
        file: str,
        path: tuple[str | int, ...] = (),
        mark: tuple[int, int] | None = None,
    ) -> None:
        self.value = value
        self.file = file
        self.path = path
        self.mark = mark
        # set by ``require`` on a missing field given no ``allowed``: the first typed
        # check (number, text, mapping, ...) reports it, with that check's allowed values
        self.required_missing = False

    # --- errors ---------------------------------------------------------------

    @property
    def path_text(self) -> str:
        return format_path(self.path)

    def error(self, problem: str, allowed: str | None = None, value: Any = None) -> ScenarioError:
        line, column = self.mark if self.mark else (None, None)
        return ScenarioError(
            problem,
            file=self.file,
            field_path=self.path_text,
            value=self.value if value is None else value,
            allowed=allowed,
            line=line,
            column=column,
        )

    @property
    def missing(self) -> bool:
        return self.value is MISSING

    # --- structure ------------------------------------------------------------

    def child(self, key: str | int) -> Node:
        self._check_required("a value")
        container = self.value
        mark = self.mark
        value: Any = MISSING
        if isinstance(container, Mapping) and key in container:
            value = container[key]
            mark = getattr(container, "key_marks", {}).get(key, mark)
        elif isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container):
            value = container[key]
            marks = getattr(container, "marks", None)
            mark = marks[key] if marks else mark
        return Node(value, file=self.file, path=(*self.path, key), mark=mark)

    def mapping(self, fields: Mapping[str, str] | Iterable[str], what: str = "a mapping") -> Node:
        """Check this is a mapping whose keys are all in ``fields`` (unknown ones get a suggestion)."""
        self._check_required("{" + ", ".join(fields) + "}")
        if not isinstance(self.value, Mapping):
            raise self.error(f"must be {what}", allowed="{" + ", ".join(fields) + "}")
        names = list(fields)
        for key in self.value:
            if not isinstance(key, str) or key not in names:
                raise self.child(key).error(
                    f"unknown field {key!r}{suggest(str(key), names)}", allowed=", ".join(names), value=key
                )
        return self

    def items(self) -> Iterator[tuple[Any, Node]]:
        self._check_required(_MAPPING_ALLOWED)
        if not isinstance(self.value, Mapping):
            raise self.error("must be a mapping", allowed=_MAPPING_ALLOWED)
        for key in self.value:
            yield key, self.child(key)

    def elements(self, *, allow_scalar: bool = False) -> list[Node]:
        """The items of a list (a lone scalar counts as a one-item list when ``allow_scalar``)."""
        self._check_required("a value or a list such as [a, b]" if allow_scalar else "a YAML list such as [a, b]")
        if allow_scalar and not isinstance(self.value, list | Mapping):
            return [self]
        if not isinstance(self.value, list):
            raise self.error("must be a list", allowed="a YAML list such as [a, b]")
        return [self.child(i) for i in range(len(self.value))]

    def has(self, key: str) -> bool:
        self._check_required("a mapping")
        return isinstance(self.value, Mapping) and key in self.value

    def get(self, key: str) -> Node | None:
        """The child, or None when absent or null."""
        self._check_required("a mapping")
        node = self.child(key)
        return None if node.missing or node.value is None else node

    def require(self, key: str, allowed: str | None = None) -> Node:
        """The child ``key``; missing or null is an error.

        Without ``allowed`` the error is raised by the next check on the
        returned node (``number``, ``text``, ``mapping``, ...), which knows
        what is allowed; any other use of the node raises it at once.
        """
        node = self.child(key)
        if node.missing or node.value is None:
            if allowed is None:
                node.required_missing = True
                return node
            raise node.error("required field is missing", allowed=allowed)
        return node

    def _check_required(self, allowed: str | None) -> None:
        if self.required_missing:
            raise self.error("required field is missing", allowed=allowed or "a value")

    # --- scalars --------------------------------------------------------------

    def text(self, choices: Iterable[str] | None = None) -> str:
        choices = None if choices is None else list(choices)
        self._check_required(one_of(choices) if choices else "non-empty text")
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.error("must be text", allowed=one_of(choices) if choices else "non-empty text")
        if choices is not None:
            choices = list(choices)
            if self.value not in choices:
                raise self.error(f"unknown value{suggest(self.value, choices)}", allowed=one_of(choices))
        return self.value

    def boolean(self) -> bool:
        self._check_required("true | false")
        if not isinstance(self.value, bool):
            raise self.error("must be true or false", allowed="true | false")
        return self.value

    def number(
        self,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        """A finite number within the bounds (open or closed)."""
        allowed = _range_text(low, high, low_open, high_open)
        self._check_required(allowed)
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise self.error("must be a number", allowed=allowed)
        x = float(self.value)
        if not math.isfinite(x):
            raise self.error("must be a finite number", allowed=allowed)
        too_low = low is not None and (x <= low if low_open else x < low)
        too_high = high is not None and (x >= high if high_open else x > high)
        if too_low or too_high:
            raise self.error("out of range", allowed=allowed)
        return x

    def integer(self, *, low: int | None = None, high: int | None = None) -> int:
        allowed = _range_text(low, high, False, False, integer=True)
        self._check_required(allowed)
        value = self.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error("must be a whole number", allowed=allowed)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.error("out of range", allowed=allowed)
        return value

    def numbers(self, **bounds: Any) -> tuple[float, ...]:
        self._check_required(_range_text(bounds.get("low"), bounds.get("high"), bounds.get("low_open", False),
                                         bounds.get("high_open", False)) + " or a list of them")
        nodes = self.elements(allow_scalar=True)
        if not nodes:
            raise self.error("must not be empty", allowed="at least one number")
        return tuple(n.number(**bounds) for n in nodes)


def _range_text(
    low: float | None, high: float | None, low_open: bool, high_open: bool, *, integer: bool = False
) -> str:
    kind = "a whole number" if integer else "a number"

    def fmt(v: float) -> str:
        return str(int(v)) if integer else f"{v:g}"

    if low is not None and high is not None:
        return f"{kind} in {'(' if low_open else '['}{fmt(low)}, {fmt(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {fmt(low)}"
    if high is not None:
        return f"{kind} {'<' if high_open else '<='} {fmt(high)}"
    return kind
