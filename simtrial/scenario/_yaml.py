"""Reading YAML while remembering where each key and list item was written.

PyYAML's plain ``safe_load`` loses positions and silently keeps the last of
two duplicate keys; a scenario error should point at the line, and a duplicate
key is nearly always a copy-paste mistake, so both are handled here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simtrial.scenario.errors import ScenarioError


class LineDict(dict):
    """A dict that knows the (line, column) of each key, 1-based."""

    key_marks: dict[Any, tuple[int, int]]


class LineList(list):
    """A list that knows the (line, column) of each item, 1-based."""

    marks: list[tuple[int, int]]


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Loader(yaml.SafeLoader):
    file_name = "<yaml>"


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.key_marks = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line, column = _mark(key_node)
        try:
            hash(key)
        except TypeError:
            raise ScenarioError(
                "a mapping key must be a plain value", file=loader.file_name, field_path="(YAML)",
                value=key, allowed="text or a number", line=line, column=column,
            ) from None
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


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(text: str, file_name: str) -> Any:
    """Parse YAML text; syntax errors become ScenarioError with line and column."""
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
    finally:
        loader.dispose()


def read_yaml_file(path: str | Path) -> tuple[Any, str]:
    """The parsed content of a scenario file and the name used for it in messages."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("file not found", file=name, field_path="(file)", value=name,
                            allowed="the path of a scenario .yaml file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"cannot read the file ({err.__class__.__name__}: {err})", file=name,
                            field_path="(file)", value=name, allowed="a readable UTF-8 text file") from None
    return load_yaml(text, name), name
