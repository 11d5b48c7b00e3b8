"""HER2 IHC categories and their clinical groups.

Category codes are the integer indices the engine uses for strata; their order
is fixed (from no expression to overexpression) and never changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from simtrial.errors import InvalidInput

CATEGORIES: tuple[str, ...] = (
    "IHC 0",
    "ultralow",
    "IHC 1+",
    "IHC 2+/ISH-",
    "IHC 2+/ISH+",
    "IHC 3+",
)
N_CATEGORIES = len(CATEGORIES)

IHC0, ULTRALOW, IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3 = range(N_CATEGORIES)

GROUPS: dict[str, tuple[int, ...]] = {
    "HER2-positive": (IHC2_ISH_POS, IHC3),
    "HER2-low": (IHC1, IHC2_ISH_NEG),
    "HER2-ultralow": (ULTRALOW,),
    "HER2-null": (IHC0,),
}

# --- Parsing the spellings people write -------------------------------------
#
# Papers, protocols and spreadsheets spell the same category many ways
# ("IHC 2+/FISH+", "2+/ISH+", "IHC2+/ISH−" with a unicode minus).  Everything is
# folded to one compact key, so the tables below only list the keys.

_DASHES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-"})

_CATEGORY_KEYS: dict[str, int] = {
    "0": IHC0,
    "null": IHC0,
    "ultralow": ULTRALOW,
    "0<ihc<1+": ULTRALOW,
    "0+<ihc<1+": ULTRALOW,
    ">0<1+": ULTRALOW,
    "1+": IHC1,
    "1": IHC1,
    "2+/ish-": IHC2_ISH_NEG,
    "2/ish-": IHC2_ISH_NEG,
    "2+ish-": IHC2_ISH_NEG,
    "2+/ish+": IHC2_ISH_POS,
    "2/ish+": IHC2_ISH_POS,
    "2+ish+": IHC2_ISH_POS,
    "3+": IHC3,
    "3": IHC3,
}

_GROUP_KEYS: dict[str, str] = {
    "positive": "HER2-positive",
    "+": "HER2-positive",
    "low": "HER2-low",
    "ultralow": "HER2-ultralow",
    "null": "HER2-null",
    "zero": "HER2-null",
}

# Ranges the literature writes for a whole group (the review: "IHC 1+-2+/ISH-",
# "IHC 1+ or 2+/FISH-", "IHC 3+ or ISH+").
_RANGE_KEYS: dict[str, str] = {
    "1-2+/ish-": "HER2-low",
    "1+-2+/ish-": "HER2-low",
    "1+or2+/ish-": "HER2-low",
    "1+-2+": "HER2-low",
    "3+orish+": "HER2-positive",
}

_CATEGORY_EXAMPLES = (
    "IHC 0 (0, IHC0)",
    "ultralow (0<IHC<1+, 0+<IHC<1+)",
    "IHC 1+ (1+, IHC1+)",
    "IHC 2+/ISH- (2+/ISH-, IHC 2+/FISH-, IHC2+/ISH\u2212)",
    "IHC 2+/ISH+ (2+/ISH+, IHC 2+/FISH+)",
    "IHC 3+ (3+, IHC3+, ihc3)",
)


def _fold(text: str) -> str:
    """Lower-case, ASCII dashes, no blanks, FISH/SISH/CISH -> ISH, words -> signs."""
    key = text.translate(_DASHES).lower()
    key = re.sub(r"\s+", "", key)
    key = re.sub(r"(?<![a-z])[fsc]ish", "ish", key)
    key = key.replace("negative", "-").replace("positive", "+")
    key = key.replace("ultra-low", "ultralow")
    return key


def _category_key(text: str) -> str:
    key = _fold(text)
    key = re.sub(r"^her-?2[-_:]?", "", key)
    if key.startswith("ihc") and key != "ihc":
        key = key[3:]
    return key


def parse_category(text: str) -> int:
    """The category code (index into CATEGORIES) for a spelling such as "IHC 2+/FISH+" or "3+"."""
    if not isinstance(text, str):
        raise InvalidInput(f"a HER2 category must be text, got {text!r}")
    code = _CATEGORY_KEYS.get(_category_key(text))
    if code is None:
        hint = ""
        if _category_key(text) in ("2+", "2"):
            # IHC 2+ is HER2-positive or HER2-low depending on ISH: refuse to guess.
            hint = " IHC 2+ needs its ISH result (2+/ISH+ or 2+/ISH-)."
        raise InvalidInput(
            f"unknown HER2 category {text!r}.{hint} Accepted: " + "; ".join(_CATEGORY_EXAMPLES)
        )
    return code


def category_name(code: int) -> str:
    """The canonical name of a category code, e.g. 5 -> "IHC 3+"."""
    if isinstance(code, bool) or not isinstance(code, int | np.integer):
        raise InvalidInput(f"a HER2 category code must be an integer, got {code!r}")
    if not 0 <= int(code) < N_CATEGORIES:
        raise InvalidInput(
            f"unknown HER2 category code {code!r}; codes are 0..{N_CATEGORIES - 1}: "
            + ", ".join(f"{i}={name}" for i, name in enumerate(CATEGORIES))
        )
    return CATEGORIES[int(code)]


def parse_group(text: str) -> tuple[int, ...]:
    """Category codes of a group ("HER2-low", "her2 low") or of a single category ("IHC 3+")."""
    if not isinstance(text, str):
        raise InvalidInput(f"a HER2 group or category must be text, got {text!r}")
    key = _fold(text)
    stripped = re.sub(r"^her-?2[-_:]?", "", key)
    if stripped != key:  # "her2 low", "HER2-positive": a group word follows the HER2 prefix
        group = _GROUP_KEYS.get(stripped.strip("-_"))
        if group is not None:
            return GROUPS[group]
    group = _RANGE_KEYS.get(_category_key(text))
    if group is not None:
        return GROUPS[group]
    try:
        return (parse_category(text),)
    except ValueError as err:
        hint = (
            " IHC 2+ needs its ISH result (2+/ISH+ or 2+/ISH-)." if "ISH result" in str(err) else ""
        )
    raise InvalidInput(
        f"unknown HER2 group or category {text!r}.{hint} Accepted groups: "
        + ", ".join(
            f"{name} ({', '.join(CATEGORIES[c] for c in codes)})" for name, codes in GROUPS.items()
        )
        + "; ranges such as IHC 1+-2+/ISH- or IHC 3+ or ISH+"
        + "; or a category: "
        + "; ".join(_CATEGORY_EXAMPLES)
    )


# --- Hormone-receptor status: the optional second patient factor ------------------
#
# Without it, the engine's category index is the IHC category (0..5), exactly as
# above.  With it, the index is a *cell*, ``ihc * N_HR_STATUSES + hr`` (0..11):
# every table the engine reads (prevalence pairs, models per arm, strata) is
# then indexed by cell, and names such as "IHC 3+/HR+" stand for one cell.

HR_STATUSES: tuple[str, ...] = ("HR+", "HR-")
N_HR_STATUSES = len(HR_STATUSES)
HR_POSITIVE, HR_NEGATIVE = range(N_HR_STATUSES)
MAX_CELLS = N_CATEGORIES * N_HR_STATUSES

# "HR+", "HR-", "HR positive", "HR-negative", "HR pos" ... after _fold
_HR_RE = re.compile(r"^hr-?([+-])$")
_HR_SUFFIX_RE = re.compile(r"^(.*?)[/,;]hr-?([+-])$")


def parse_hr_status(text: str) -> int:
    """``HR_POSITIVE`` or ``HR_NEGATIVE`` for "HR+", "HR-", "HR-positive", "HR negative"."""
    if not isinstance(text, str):
        raise InvalidInput(f"a hormone-receptor status must be text, got {text!r}")
    match = _HR_RE.match(_fold(text).replace("pos", "+").replace("neg", "-"))
    if match is None:
        raise InvalidInput(f"unknown hormone-receptor status {text!r}. Accepted: HR+ (HR-positive), HR- (HR-negative)")
    return HR_POSITIVE if match.group(1) == "+" else HR_NEGATIVE


def split_hr_key(text: str) -> tuple[str | None, int | None]:
    """(HER2 part, HR status) of a key: "IHC 3+/HR+" -> ("IHC 3+", 0); "HR-" -> (None, 1); "IHC 0" -> ("IHC 0", None)."""
    folded = _fold(text).replace("pos", "+").replace("neg", "-")
    if _HR_RE.match(folded):
        return None, parse_hr_status(text)
    match = _HR_SUFFIX_RE.match(folded)
    if match is None:
        return text, None
    # cut the original text at its last separator, so the HER2 part keeps the user's spelling
    cut = max(text.rfind("/"), text.rfind(","), text.rfind(";"))
    return text[:cut].strip(), HR_POSITIVE if match.group(2) == "+" else HR_NEGATIVE


def cell_code(category: int, hr: int) -> int:
    """The engine index of an (IHC category, HR status) cell."""
    return category * N_HR_STATUSES + hr


@dataclass(frozen=True)
class Cells:
    """What the engine's category index means for one population: IHC categories, or IHC x HR-status cells.

    ``Cells(False)`` is today's layout (index = IHC category); ``Cells(True)``
    indexes ``ihc * 2 + hr``.  Every name written or read for an index goes
    through here, so a scenario without ``hr_status`` reads and writes exactly
    what it did before the factor existed.
    """

    hr_status: bool = False

    @property
    def n(self) -> int:
        return MAX_CELLS if self.hr_status else N_CATEGORIES

    def category(self, code: int) -> int:
        """The IHC category of an index."""
        return int(code) // N_HR_STATUSES if self.hr_status else int(code)

    def hr(self, code: int) -> int | None:
        return int(code) % N_HR_STATUSES if self.hr_status else None

    def name(self, code: int) -> str:
        if not 0 <= int(code) < self.n:
            raise InvalidInput(f"index {code!r} is outside 0..{self.n - 1}")
        if not self.hr_status:
            return CATEGORIES[int(code)]
        return f"{CATEGORIES[self.category(code)]}/{HR_STATUSES[self.hr(code)]}"

    def of_categories(self, categories, hr: int | None = None) -> tuple[int, ...]:
        """Indices of IHC ``categories`` (with HR status ``hr`` only, if given)."""
        if not self.hr_status:
            if hr is not None:
                raise InvalidInput("a hormone-receptor status needs the population's hr_status")
            return tuple(sorted(int(c) for c in categories))
        statuses = range(N_HR_STATUSES) if hr is None else (hr,)
        return tuple(sorted(cell_code(int(c), h) for c in categories for h in statuses))

    def names_of(self, codes) -> list[str]:
        return [self.name(c) for c in sorted(codes)]

    def codes_name(self, codes, *, group: bool = False) -> str:
        """A readable name of a set of indices: "HER2-low", "HR+", "IHC 3+/HR-", "HER2-low/HR+" or a ' + ' list."""
        codes = tuple(sorted(int(c) for c in codes))
        if not self.hr_status:
            return _categories_name(codes, group=group)
        cats = tuple(sorted({self.category(c) for c in codes}))
        for hr in (None, *range(N_HR_STATUSES)):
            if self.of_categories(cats, hr) == codes:
                base = _categories_name(cats, group=group)
                if hr is None:
                    return base
                return HR_STATUSES[hr] if base == "all" else f"{base}/{HR_STATUSES[hr]}"
        return " + ".join(self.name(c) for c in codes)


def _categories_name(codes: tuple[int, ...], *, group: bool = False) -> str:
    for name, members in GROUPS.items():
        if tuple(sorted(members)) == codes and (len(codes) > 1 or group):
            return name
    if len(codes) == 1:
        return CATEGORIES[codes[0]]
    if codes == tuple(range(N_CATEGORIES)):
        return "all"
    return " + ".join(CATEGORIES[c] for c in codes)


IHC_ONLY = Cells(False)
IHC_BY_HR = Cells(True)
