"""Reading YAML while remembering where each key and list item was written, within bounds.

PyYAML's plain ``safe_load`` loses positions and silently keeps the last of
two duplicate keys; a scenario error should point at the line, and a duplicate
key is nearly always a copy-paste mistake, so both are handled here.

Scenario files are small, so the reader is strict and bounded: it refuses
(with a ``ScenarioError`` naming the file, the line and what is allowed)

* anything that is not a regular file (a FIFO, a device such as /dev/zero,
  a directory) and files larger than ``MAX_BYTES``, before reading them;
* control characters and NUL, in the file or in a quoted string's escapes;
* more than ``MAX_NODES`` values per file, counted *after* alias expansion
  (an alias bomb is measured on the node graph, never built), nesting deeper
  than ``MAX_DEPTH`` and recursive aliases;
* null and non-text mapping keys;
* YAML 1.1 number forms that are surprises: only plain decimal numbers
  (``400``, ``-2``, ``0.25``, ``1e-3``) are numbers.  ``8:44`` (sexagesimal),
  ``0x20C``, ``0o17`` / ``017`` (octal), ``0b101``, ``1_000``, ``.inf`` and
  ``.nan`` are read as text, so a numeric field refuses them with its path.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from simtrial.scenario.errors import ScenarioError

#: the largest scenario file read (bytes); the shipped ones are a few KB
MAX_BYTES = 1_000_000
#: values (scalars, lists, mappings) per file after alias expansion
MAX_NODES = 100_000
#: nesting depth of lists and mappings (after alias expansion)
MAX_DEPTH = 64
#: digits of an integer (Python refuses to convert more than 4300)
MAX_DIGITS = 400

_DECIMAL_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_DECIMAL_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?$")
_DECIMAL_NUMBER = re.compile(f"{_DECIMAL_FLOAT.pattern}|{_DECIMAL_INT.pattern}")
_NUMBER_ALLOWED = "a plain decimal number such as 400, 0.25 or 1e-3 (no 0x, 0o, 1_000, 8:44, .inf or .nan)"
# what YAML itself refuses, plus C1 controls and DEL: the printable set is tab, newlines and text
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL_IN_STRING = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TEXT_ALLOWED = "printable UTF-8 text: tabs and newlines, no NUL or other control characters"


class LineDict(dict):
    """A dict that knows the (line, column) of each key, 1-based."""

    key_marks: dict[Any, tuple[int, int]]


class LineList(list):
    """A list that knows the (line, column) of each item, 1-based."""

    marks: list[tuple[int, int]]


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _char_name(ch: str) -> str:
    return f"U+{ord(ch):04X}" + (" (NUL)" if ch == "\x00" else "")


class _Loader(yaml.SafeLoader):
    file_name = "<yaml>"

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._lines = stream.splitlines()
        self._depth = 0
        self._composed = 0

    def _refuse(self, problem: str, mark, allowed: str, value: Any = None) -> ScenarioError:
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        if value is None and mark is not None and mark.line < len(self._lines):
            value = self._lines[mark.line].strip()
        return ScenarioError(problem, file=self.file_name, field_path="(YAML)",
                             value=value if value is not None else "", allowed=allowed,
                             line=line, column=column)

    def compose_node(self, parent, index):
        # bounded before anything is built: nesting depth and the number of values written
        self._depth += 1
        self._composed += 1
        try:
            if self._depth > MAX_DEPTH:
                raise self._refuse(f"nesting deeper than {MAX_DEPTH} levels", self.peek_event().start_mark,
                                   f"lists and mappings nested at most {MAX_DEPTH} deep")
            if self._composed > MAX_NODES:
                raise self._refuse(f"more than {MAX_NODES} values in one file", self.peek_event().start_mark,
                                   f"at most {MAX_NODES} values (scenarios are small)")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        self._measure(node)
        return self.construct_document(node)

    def _measure(self, root: yaml.Node) -> None:
        """Refuse alias expansion beyond MAX_NODES values or MAX_DEPTH levels, or a recursive alias.

        Works on the node graph (an alias is the same node object as its
        anchor), memoising each node's expanded size and height, so the cost
        is linear in the file however large the expansion would be.
        """
        size: dict[int, int] = {}
        height: dict[int, int] = {}
        open_nodes: set[int] = set()

        def deep(node: yaml.Node) -> ScenarioError:
            return self._refuse(f"nesting deeper than {MAX_DEPTH} levels once aliases are expanded",
                                node.start_mark, f"lists and mappings nested at most {MAX_DEPTH} deep")

        def visit(node: yaml.Node, depth: int) -> int:
            key = id(node)
            if key in size:
                if depth + height[key] - 1 > MAX_DEPTH:
                    raise deep(node)
                return size[key]
            if depth > MAX_DEPTH:
                raise deep(node)
            if key in open_nodes:
                raise self._refuse("a recursive alias (an anchor used inside itself)", node.start_mark,
                                   "aliases (*name) of values defined before and outside them")
            if isinstance(node, SequenceNode):
                children = list(node.value)
            elif isinstance(node, MappingNode):
                children = [part for pair in node.value for part in pair]
            else:
                children = []
            open_nodes.add(key)
            total, tallest = 1, 1
            for child in children:
                total += visit(child, depth + 1)
                tallest = max(tallest, 1 + height[id(child)])
                if total > MAX_NODES:
                    raise self._refuse(f"aliases expand to more than {MAX_NODES} values", node.start_mark,
                                       f"at most {MAX_NODES} values after alias expansion (scenarios are small)")
            open_nodes.discard(key)
            size[key], height[key] = total, tallest
            return total

        visit(root, 1)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.key_marks = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line, column = _mark(key_node)
        if key is None:
            raise ScenarioError(
                "a mapping key is empty or null", file=loader.file_name, field_path="(YAML)",
                value=key, allowed="text keys such as 'n_patients: 400'", line=line, column=column,
            )
        if not isinstance(key, str):
            raise ScenarioError(
                f"a mapping key must be text, not {type(key).__name__}", file=loader.file_name,
                field_path="(YAML)", value=key,
                allowed="text keys (quote keys such as '1', 'yes' or 'on')", line=line, column=column,
            )
        if key in out:
            first = out.key_marks[key][0]
            raise ScenarioError(
                f"duplicate key {key!r} (first written on line {first})", file=loader.file_name,
                field_path="(YAML)", value=key, allowed="each key once per mapping", line=line, column=column,
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_marks[key] = (line, column)
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.marks = [_mark(child) for child in node.value]
    return out


def _construct_str(loader: _Loader, node: ScalarNode) -> str:
    value = loader.construct_scalar(node)
    bad = _CONTROL_IN_STRING.search(value)
    if bad:
        line, column = _mark(node)
        raise ScenarioError(
            f"a control character ({_char_name(bad.group())}) in a string", file=loader.file_name,
            field_path="(YAML)", value=value, allowed=_TEXT_ALLOWED, line=line, column=column,
        )
    return value


def _strict_number(loader: _Loader, node: ScalarNode, pattern: re.Pattern[str]) -> str:
    value = loader.construct_scalar(node)
    if not pattern.match(value) or len(value) > MAX_DIGITS:
        line, column = _mark(node)
        raise ScenarioError(
            "not a plain decimal number" if len(value) <= MAX_DIGITS else f"a number of more than {MAX_DIGITS} digits",
            file=loader.file_name, field_path="(YAML)", value=value, allowed=_NUMBER_ALLOWED,
            line=line, column=column,
        )
    return value


def _construct_int(loader: _Loader, node: ScalarNode) -> int:
    return int(_strict_number(loader, node, _DECIMAL_INT))


def _construct_float(loader: _Loader, node: ScalarNode) -> float:
    return float(_strict_number(loader, node, _DECIMAL_NUMBER))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)

# implicit resolution: PyYAML's (YAML 1.1) int and float forms replaced by plain decimal ones;
# everything else (null, true/false, timestamps, merge keys) is PyYAML's
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_FLOAT_TAG, _DECIMAL_FLOAT, list("-+.0123456789"))
_Loader.add_implicit_resolver(_INT_TAG, _DECIMAL_INT, list("-+0123456789"))


def _check_text(text: str, file_name: str) -> None:
    if len(text) > MAX_BYTES:
        raise ScenarioError(
            f"the text is larger than {MAX_BYTES:,} characters", file=file_name, field_path="(file)",
            value=f"{len(text):,} characters", allowed=f"a scenario of at most {MAX_BYTES:,} bytes",
        )
    bad = _NON_PRINTABLE.search(text)
    if bad:
        start = bad.start()
        line = text.count("\n", 0, start) + 1
        line_start = text.rfind("\n", 0, start) + 1
        column = start - line_start + 1
        line_end = text.find("\n", start)
        raise ScenarioError(
            f"a control character ({_char_name(bad.group())}) in the file", file=file_name, field_path="(YAML)",
            value=text[line_start: line_end if line_end >= 0 else len(text)].strip(), allowed=_TEXT_ALLOWED, line=line, column=column,
        )


def load_yaml(text: str, file_name: str) -> Any:
    """Parse YAML text; syntax errors and refused content become ScenarioError with line and column."""
    _check_text(text, file_name)
    loader = _Loader(text)
    loader.file_name = file_name
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        snippet = text.splitlines()[mark.line].strip() if mark and mark.line < len(text.splitlines()) else ""
        problem = " ".join(p for p in (err.context, err.problem) if p)
        raise ScenarioError(
            f"YAML syntax error: {problem}", file=file_name, field_path="(YAML syntax)", value=snippet,
            allowed="valid YAML (indent with spaces, 'key: value', lists as [a, b] or '- item')",
            line=line, column=column,
        ) from None
    except yaml.YAMLError as err:
        raise ScenarioError(
            f"YAML error: {err}", file=file_name, field_path="(YAML syntax)", allowed="valid YAML"
        ) from None
    except RecursionError:
        raise ScenarioError(
            "nesting too deep to read", file=file_name, field_path="(YAML)",
            allowed=f"lists and mappings nested at most {MAX_DEPTH} deep",
        ) from None
    finally:
        loader.dispose()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_file_bounded(path: str | Path, name: str, *, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, checked before reading.

    Opened without blocking (a FIFO with no writer would block ``open``), then
    checked on the open descriptor, so a file swapped after the check is not read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    allowed = f"a regular scenario .yaml file of at most {limit:,} bytes"
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ScenarioError("file not found", file=name, field_path="(file)", value=name,
                            allowed="the path of a scenario .yaml file") from None
    except IsADirectoryError:
        raise ScenarioError("is a directory, not a file", file=name, field_path="(file)", value=name,
                            allowed=allowed) from None
    except OSError as err:
        raise ScenarioError(f"cannot read the file ({err.__class__.__name__}: {err.strerror or err})", file=name,
                            field_path="(file)", value=name, allowed=allowed) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError(f"is {_kind(info.st_mode)}, not a regular file", file=name, field_path="(file)",
                                value=name, allowed=allowed)
        if info.st_size > limit:
            raise ScenarioError(f"the file is too large ({info.st_size:,} bytes)", file=name, field_path="(file)",
                                value=name, allowed=allowed)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise ScenarioError(f"the file is too large (more than {limit:,} bytes)", file=name,
                                field_path="(file)", value=name, allowed=allowed)
        return b"".join(chunks)
    except OSError as err:
        raise ScenarioError(f"cannot read the file ({err.__class__.__name__}: {err.strerror or err})", file=name,
                            field_path="(file)", value=name, allowed=allowed) from None
    finally:
        os.close(fd)


def read_yaml_file(path: str | Path) -> tuple[Any, str]:
    """The parsed content of a scenario file and the name used for it in messages."""
    name = str(path)
    data = read_file_bounded(path, name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ScenarioError(f"not UTF-8 text (byte 0x{data[err.start]:02x})", file=name, field_path="(file)",
                            value=f"line {line}", allowed="a readable UTF-8 text file", line=line) from None
    return load_yaml(text, name), name
