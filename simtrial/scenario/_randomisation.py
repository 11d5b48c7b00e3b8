"""The ``randomisation`` block: how patients are allocated to the arms.

``randomisation: {method: permuted_blocks | simple, strata: by_category | by_group | none | {name: [...]}}``

* ``permuted_blocks`` (the default): permuted blocks of ``block_multiple x (a + b)``
  patients within each randomisation stratum of *assessed* HER2 categories;
  ``strata`` defaults to ``by_category`` (each assessed category its own
  stratum), and is read exactly as ``analysis.strata`` is.
* ``simple``: every patient is experimental with probability ``b / (a + b)``,
  independently of everyone else; it has no strata and no blocks, so
  ``strata`` and the top-level ``block_multiple`` are refused with it.

Absent, the block means ``{method: permuted_blocks, strata: by_category}``,
which is how every trial was randomised before the field existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simtrial.her2 import IHC_ONLY, Cells
from simtrial.scenario._analysis import SINGLE_ARM, _strata, default_strata, strata_dict
from simtrial.scenario.errors import Node, one_of
from simtrial.spec import RANDOMISATION_METHODS

DEFAULT_METHOD = "permuted_blocks"
RANDOMISATION_FIELDS: dict[str, str] = {
    "method": one_of(RANDOMISATION_METHODS) + " (default permuted_blocks)",
    "strata": "permuted_blocks only: by_category | by_group | none | {stratum name: [categories or groups]}",
}
ALLOWED = "{method: permuted_blocks | simple, strata: by_category | by_group | none | {name: [categories or groups]}}"


def randomisation(
    node: Node | None, *, design: str, assessable: tuple[int, ...], block_multiple: Node | None = None,
    cells: Cells = IHC_ONLY,
) -> tuple[str, Mapping[int, int] | None]:
    """``(method, strata)`` of the ``randomisation`` block (``node`` None when absent).

    ``strata`` is a category -> stratum mapping, or None for each assessed
    category its own stratum.  ``block_multiple`` is the top-level
    ``block_multiple`` node if the file gives one: it belongs with permuted blocks.
    """
    method = DEFAULT_METHOD
    strata = None
    given = False
    if node is not None:
        if design in SINGLE_ARM:
            raise node.error(f"design {design} is single-arm: nobody is randomised", allowed="remove randomisation")
        node.mapping(RANDOMISATION_FIELDS, "a mapping {method, strata}")
        if (child := node.get("method")) is not None:
            method = child.text(RANDOMISATION_METHODS)
        if (child := node.get("strata")) is not None:
            if method == "simple":
                raise child.error(
                    "strata apply to permuted_blocks randomisation; simple randomisation allocates every "
                    "patient on its own, whatever its category",
                    allowed="remove strata, or method: permuted_blocks",
                )
            strata = _strata(child, assessable, cells)
            given = True
    if method == "simple" and block_multiple is not None:
        raise block_multiple.error(
            "block_multiple applies to permuted_blocks randomisation, not to randomisation.method simple",
            allowed="remove block_multiple, or randomisation: {method: permuted_blocks}",
        )
    if method == "permuted_blocks" and not given and cells.hr_status:
        strata = default_strata(cells)  # by_category: by IHC category, over HR status
    return method, strata


def randomisation_dict(method: str, strata: Mapping[int, int] | None, cells: Cells = IHC_ONLY) -> dict[str, Any]:
    """The block written out in full, as ``randomisation`` reads it back."""
    if method == "simple":
        return {"method": method}
    return {"method": method, "strata": strata_dict(strata, cells)}
