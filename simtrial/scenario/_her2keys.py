"""HER2 category and group names as they appear in scenario files."""

from __future__ import annotations

from simtrial.her2 import CATEGORIES, GROUPS, parse_category, parse_group
from simtrial.scenario.errors import Node

ALLOWED_CATEGORIES = ", ".join(CATEGORIES)
ALLOWED_GROUPS = ", ".join(GROUPS)
ALLOWED_CATEGORY_OR_GROUP = f"a category ({ALLOWED_CATEGORIES}) or a group ({ALLOWED_GROUPS})"


def _as_text(value: object) -> object:
    # YAML reads a bare `0:` or `3:` key as an integer; the HER2 parser wants text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def category(node: Node, value: object | None = None) -> int:
    """One IHC category code from a spelling such as "IHC 3+" or "2+/ISH-"."""
    raw = node.value if value is None else value
    try:
        return parse_category(_as_text(raw))
    except ValueError as err:
        problem = _first_sentence(err)
        try:
            parse_group(_as_text(raw))
            problem += " (a group: list its categories one by one here)"
        except ValueError:
            pass
        raise node.error(problem, allowed=ALLOWED_CATEGORIES, value=raw) from None


def category_or_group(node: Node, value: object | None = None) -> tuple[tuple[int, ...], bool]:
    """(codes, is_single_category) of a category or group name."""
    raw = _as_text(node.value if value is None else value)
    if isinstance(raw, str):
        try:
            return (parse_category(raw),), True
        except ValueError:
            pass
    try:
        return tuple(parse_group(raw)), False
    except ValueError as err:
        raise node.error(_first_sentence(err), allowed=ALLOWED_CATEGORY_OR_GROUP, value=raw) from None


def codes_name(codes: tuple[int, ...], *, group: bool = False) -> str:
    """The canonical name of a set of categories: a group name, a category name or a ' + ' list.

    ``group``: the user wrote a group, so a one-category group keeps its group name.
    """
    codes = tuple(sorted(codes))
    for name, members in GROUPS.items():
        if tuple(sorted(members)) == codes and (len(codes) > 1 or group):
            return name
    if len(codes) == 1:
        return CATEGORIES[codes[0]]
    if codes == tuple(range(len(CATEGORIES))):
        return "all"
    return " + ".join(CATEGORIES[c] for c in codes)


def names(codes: tuple[int, ...]) -> list[str]:
    return [CATEGORIES[c] for c in sorted(codes)]


def _first_sentence(err: Exception) -> str:
    # parse_category's message lists every accepted spelling; `allowed` says it shorter.
    text = str(err)
    cut = text.find(" Accepted")
    text = text[:cut] if cut > 0 else text
    return text.rstrip(". ")
