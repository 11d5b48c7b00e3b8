"""HER2 category and group names as they appear in scenario files."""

from __future__ import annotations

from simtrial.her2 import (
    CATEGORIES,
    GROUPS,
    HR_STATUSES,
    IHC_ONLY,
    N_CATEGORIES,
    Cells,
    parse_category,
    parse_group,
    split_hr_key,
)
from simtrial.scenario.errors import Node

ALLOWED_CATEGORIES = ", ".join(CATEGORIES)
ALLOWED_GROUPS = ", ".join(GROUPS)
ALLOWED_CATEGORY_OR_GROUP = f"a category ({ALLOWED_CATEGORIES}) or a group ({ALLOWED_GROUPS})"
ALLOWED_CELL_KEYS = (ALLOWED_CATEGORY_OR_GROUP + ", each optionally with /HR+ or /HR- (e.g. IHC 3+/HR+, "
                     "HER2-low/HR-), or HR+ / HR- alone")

# How specific a key is (higher wins where keys overlap): the HER2 part decides
# first (category > group > all), and at the same HER2 level a key that names an
# HR status beats one that does not.  Without hr_status only 0, 2 and 4 occur,
# in today's order (category beats group beats all).
RANK_ALL, RANK_HR, RANK_GROUP, RANK_GROUP_HR, RANK_CATEGORY, RANK_CELL = range(6)


def _as_text(value: object) -> object:
    # YAML reads a bare `0:` or `3:` key as an integer; the HER2 parser wants text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def category(node: Node, value: object | None = None) -> int:
    """One IHC category code from a spelling such as "IHC 3+" or "2+/ISH-"."""
    raw = node.value if value is None else value
    if isinstance(raw, str) and split_hr_key(raw)[1] is not None:
        raise node.error("this field is by IHC category; the HR status is given under population.hr_status",
                         allowed=ALLOWED_CATEGORIES, value=raw)
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
    if isinstance(raw, str) and split_hr_key(raw)[1] is not None:
        # only reached without hr_status: with it, cells_of strips the HR part first
        raise node.error(f"{raw!r} names a hormone-receptor status, but the population has no hr_status",
                         allowed=ALLOWED_CATEGORY_OR_GROUP + " (or add population.hr_status)", value=raw)
    if isinstance(raw, str):
        try:
            return (parse_category(raw),), True
        except ValueError:
            pass
    try:
        return tuple(parse_group(raw)), False
    except ValueError as err:
        raise node.error(_first_sentence(err), allowed=ALLOWED_CATEGORY_OR_GROUP, value=raw) from None


def cells_of(node: Node, cells: Cells, value: object | None = None) -> tuple[tuple[int, ...], int]:
    """(engine indices, rank) of a key: a category or group, optionally /HR+ or /HR-, or HR+ / HR- alone.

    The indices are IHC categories without hr_status and IHC x HR-status cells
    with it; ``rank`` orders overlapping keys (``RANK_*``).
    """
    raw = _as_text(node.value if value is None else value)
    her2, hr = split_hr_key(raw) if isinstance(raw, str) else (raw, None)
    if hr is not None and not cells.hr_status:
        raise node.error(f"{raw!r} names a hormone-receptor status, but the population has no hr_status",
                         allowed=ALLOWED_CATEGORY_OR_GROUP + " (or add population.hr_status)", value=raw)
    if her2 is None:
        return cells.of_categories(range(N_CATEGORIES), hr), RANK_HR
    codes, single = category_or_group(node, her2)
    if hr is None:
        return cells.of_categories(codes), RANK_CATEGORY if single else RANK_GROUP
    return cells.of_categories(codes, hr), RANK_CELL if single else RANK_GROUP_HR


def codes_name(codes: tuple[int, ...], *, group: bool = False, cells: Cells = IHC_ONLY) -> str:
    """The canonical name of a set of categories (or cells): a group, a category, "HR+", "HER2-low/HR-" or a list.

    ``group``: the user wrote a group, so a one-category group keeps its group name.
    """
    return cells.codes_name(codes, group=group)


def names(codes: tuple[int, ...], cells: Cells = IHC_ONLY) -> list[str]:
    return cells.names_of(codes)


def hr_names() -> str:
    return " / ".join(HR_STATUSES)


def _first_sentence(err: Exception) -> str:
    # parse_category's message lists every accepted spelling; `allowed` says it shorter.
    text = str(err)
    cut = text.find(" Accepted")
    text = text[:cut] if cut > 0 else text
    return text.rstrip(". ")
