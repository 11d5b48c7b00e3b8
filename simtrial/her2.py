"""HER2 IHC categories and their clinical groups.

Category codes are the integer indices the engine uses for strata; their order
is fixed (from no expression to overexpression) and never changes.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = ("IHC 0", "ultralow", "IHC 1+", "IHC 2+/ISH-", "IHC 2+/ISH+", "IHC 3+")
N_CATEGORIES = len(CATEGORIES)

IHC0, ULTRALOW, IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3 = range(N_CATEGORIES)

GROUPS: dict[str, tuple[int, ...]] = {
    "HER2-positive": (IHC2_ISH_POS, IHC3),
    "HER2-low": (IHC1, IHC2_ISH_NEG),
    "HER2-ultralow": (ULTRALOW,),
    "HER2-null": (IHC0,),
}
