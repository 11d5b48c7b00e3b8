"""The figures the HER2 review reports, one row per figure, and their loader.

``her2_review.csv`` holds every number the review gives per trial, arm and HER2
subgroup, plus rows for findings it states only as a direction of effect.
Proportions and landmark rates are fractions (0.758, not 75.8).  Each row keeps
the review's reference number (``uncited`` where the review's sentence cites
none) and a short verbatim quote, so a reader can check it against the text.

``her2_subgroup`` is one category, one group (``HER2-low``) or, where the
review's label covers several categories that are no group ("IHC 0–2+/FISH+",
"IHC 1+ or 2+/ISH+"), the categories it covers separated by ``;``
(``IHC 1+; IHC 2+/ISH+``); ``subgroup_codes`` reads all three.  ``note`` (optional)
says what a reader must know beyond the quote: a coarsened label, a figure
that disagrees with the primary publication, a pooled arm.

``hr_status`` (optional) is the hormone-receptor status a figure is
restricted to, as the review reports it: ``HR+`` / ``HR-``, or ``ER+`` /
``ER-`` where the review reports oestrogen-receptor status (Atallah); empty
for a figure over every status.  ``row_hr_status`` reads it as the
scenario's HR axis: ER+ is HR+ by definition (HR+ means ER+ and/or PR+);
ER- is read as HR-, an approximation the row's reader must accept, since the
review gives no PR status.

The loader validates everything on the way in: a wrong file must fail loudly
with the file, the line, the row id and the column, never flow on into a
calibrated model.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pandas as pd

from simtrial.errors import InvalidInput
from simtrial.her2 import HR_NEGATIVE, HR_POSITIVE, parse_group

DEFAULT_PATH = Path(__file__).with_name("her2_review.csv")

COLUMNS: tuple[str, ...] = (
    "id",
    "trial",
    "nct",
    "setting",
    "therapy_class",
    "regimen",
    "arm_role",
    "her2_subgroup",
    "subgroup_reported",
    "endpoint",
    "statistic",
    "value",
    "ci_low",
    "ci_high",
    "time_months",
    "numerator",
    "denominator",
    "p_value",
    "p_value_relation",
    "comparator",
    "direction",
    "reference",
    "source_quote",
    "note",
    "hr_status",
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "id",
    "trial",
    "setting",
    "therapy_class",
    "regimen",
    "arm_role",
    "her2_subgroup",
    "endpoint",
    "statistic",
    "value",
    "ci_low",
    "ci_high",
    "time_months",
    "numerator",
    "denominator",
    "p_value",
    "direction",
    "reference",
    "source_quote",
)
FLOAT_COLUMNS = ("value", "ci_low", "ci_high", "time_months", "p_value")
INT_COLUMNS = ("numerator", "denominator")

# "unspecified": the review's sentence names no treatment setting (a synthesis, or prevalence).
SETTINGS = ("metastatic", "adjuvant", "neoadjuvant", "unspecified")
# "none": an epidemiological figure, about patients rather than a therapy.
THERAPY_CLASSES = ("mAb", "ADC", "TKI", "chemotherapy", "physician's choice", "none")
ARM_ROLES = ("experimental", "control", "single-arm", "pooled", "population")
ENDPOINTS = (
    "PFS",
    "iDFS",
    "DFS",
    "RFI",
    "OS",
    "BCSS",
    "ORR",
    "pCR",
    "progression",
    "long-term response",
    "efficacy",
    "enrolment",
    "prevalence",
)
STATISTICS = ("median_months", "rate_at_months", "proportion", "count", "direction")
DIRECTIONS = ("benefit", "no benefit", "higher", "lower", "similar", "limited")
P_RELATIONS = ("=", "<", ">")
# "ER+" / "ER-": the review reports oestrogen-receptor status only (read as HR status by row_hr_status)
HR_STATUS_VALUES = ("HR+", "HR-", "ER+", "ER-")
TIME_TO_EVENT_ENDPOINTS = ("PFS", "iDFS", "DFS", "RFI", "OS", "BCSS")
UNCITED = "uncited"  # the reference of a row whose sentence in the review cites no reference
SUBGROUP_SEPARATOR = ";"

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")
_NCT_PATTERN = re.compile(r"^NCT\d{8}$")
# Review figures are rounded to 0.1 %: a proportion and its counts may differ by that.
_COUNT_ROUNDING = 0.0006


class EvidenceError(ValueError):
    """A malformed evidence file: names the file, line, row id and column."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        row_id: str | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.row_id = row_id
        self.column = column
        where = [self.path or "<evidence>"]
        if line is not None:
            where.append(f"line {line}")
        if row_id:
            where.append(f"row id {row_id!r}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(", ".join(where) + ": " + message)


class UnknownEvidenceId(KeyError):
    """An evidence id that is not in the file; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput("not a finite number")
    return value


def _parse_int(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise InvalidInput("not a whole number")
    return int(value)


def subgroup_codes(text: str) -> tuple[int, ...]:
    """The HER2 category codes a row's ``her2_subgroup`` covers, in category order.

    One category ("IHC 3+"), one group ("HER2-low") or several of either joined by
    ``;`` ("IHC 1+; IHC 2+/ISH+") for a label that covers several categories.
    """
    parts = [part.strip() for part in str(text).split(SUBGROUP_SEPARATOR)]
    if not all(parts):
        raise InvalidInput(f"empty part in HER2 subgroup {text!r} (parts are separated by {SUBGROUP_SEPARATOR!r})")
    codes: set[int] = set()
    for part in parts:
        codes.update(parse_group(part))
    return tuple(sorted(codes))


def row_hr_status(row) -> int | None:
    """The HR status a row is restricted to (``simtrial.her2.HR_POSITIVE`` / ``HR_NEGATIVE``), None if none.

    ER+ is HR+ by definition; ER- is read as HR- (the review gives no PR status).
    """
    text = str(row["hr_status"] if "hr_status" in row else "").strip()
    if not text:
        return None
    return HR_POSITIVE if text in ("HR+", "ER+") else HR_NEGATIVE


def _check_row(raw: dict[str, str], fail: Callable[[str, str], None]) -> dict[str, object]:
    """Type-convert one row and check the rules a reported figure must obey."""
    row: dict[str, object] = {col: (raw.get(col) or "").strip() for col in COLUMNS}

    if not _ID_PATTERN.match(str(row["id"])):
        fail("id", f"id must be non-empty letters, digits and . _ + - only, got {row['id']!r}")
    for col in ("trial", "regimen", "reference", "source_quote"):
        if not row[col]:
            fail(col, "must not be empty")
    if row["reference"] != UNCITED and not re.fullmatch(r"\d+(?:-\d+)?", str(row["reference"])):
        fail("reference", f"a reference number, a range such as 8-17, or {UNCITED!r}; got {row['reference']!r}")
    if row["nct"] and not _NCT_PATTERN.match(str(row["nct"])):
        fail("nct", f"must look like NCT01234567, got {row['nct']!r}")
    for col, allowed in (
        ("setting", SETTINGS),
        ("therapy_class", THERAPY_CLASSES),
        ("arm_role", ARM_ROLES),
        ("endpoint", ENDPOINTS),
        ("statistic", STATISTICS),
    ):
        if row[col] not in allowed:
            fail(col, f"{row[col]!r} is not allowed; allowed: {', '.join(allowed)}")
    try:
        subgroup_codes(str(row["her2_subgroup"]))
    except ValueError as err:
        fail("her2_subgroup", str(err))
    if row["hr_status"] and row["hr_status"] not in HR_STATUS_VALUES:
        fail("hr_status", f"{row['hr_status']!r} is not allowed; allowed: {', '.join(HR_STATUS_VALUES)} or empty "
             "(a figure over every hormone-receptor status)")

    for col in FLOAT_COLUMNS:
        text = str(row[col])
        try:
            row[col] = _parse_float(text) if text else math.nan
        except ValueError:
            fail(col, f"must be a number, got {text!r}")
    for col in INT_COLUMNS:
        text = str(row[col])
        try:
            row[col] = _parse_int(text) if text else None
        except ValueError:
            fail(col, f"must be a whole number, got {text!r}")

    statistic = row["statistic"]
    value = row["value"]
    if statistic == "direction":
        if not math.isnan(value):
            fail("value", "a direction row carries no value (leave it empty)")
        if row["direction"] not in DIRECTIONS:
            fail(
                "direction",
                f"{row['direction']!r} is not allowed; allowed: {', '.join(DIRECTIONS)}",
            )
    else:
        if math.isnan(value):
            fail("value", f"a {statistic} row needs a value")
        if row["direction"]:
            fail("direction", "only statistic=direction rows carry a direction")
    if statistic == "median_months" and not value > 0:
        fail("value", f"a median must be > 0 months, got {value!r}")
    if statistic in ("rate_at_months", "proportion") and not 0.0 <= value <= 1.0:
        fail("value", f"a {statistic} is a fraction in [0, 1] (0.758, not 75.8), got {value!r}")
    if statistic == "count" and not (value >= 0 and float(value).is_integer()):
        fail("value", f"a count must be a whole number >= 0, got {value!r}")
    if statistic == "rate_at_months" and not row["time_months"] > 0:
        fail("time_months", "a landmark rate needs its time in months (> 0)")
    if (
        statistic in ("median_months", "rate_at_months")
        and row["endpoint"] not in TIME_TO_EVENT_ENDPOINTS
    ):
        fail(
            "endpoint",
            f"a {statistic} needs a time-to-event endpoint ({', '.join(TIME_TO_EVENT_ENDPOINTS)})",
        )

    lo, hi = row["ci_low"], row["ci_high"]
    if math.isnan(lo) != math.isnan(hi):
        fail("ci_high" if math.isnan(hi) else "ci_low", "give both ci_low and ci_high, or neither")
    if not math.isnan(lo):
        if lo > hi:
            fail("ci_low", f"ci_low {lo!r} is above ci_high {hi!r}")
        if not lo <= value:
            fail("ci_low", f"ci_low {lo!r} is above the value {value!r}")
        if not value <= hi:
            fail("ci_high", f"ci_high {hi!r} is below the value {value!r}")
        if statistic in ("rate_at_months", "proportion") and not (0.0 <= lo and hi <= 1.0):
            fail("ci_high" if hi > 1.0 else "ci_low", "CI limits of a fraction must lie in [0, 1]")
        if statistic == "median_months" and not lo > 0:
            fail("ci_low", "CI limits of a median must be > 0 months")

    num, den = row["numerator"], row["denominator"]
    if (num is None) != (den is None):
        fail(
            "denominator" if den is None else "numerator",
            "give both numerator and denominator, or neither",
        )
    if num is not None:
        if not (den > 0 and 0 <= num <= den):
            fail(
                "numerator",
                f"need 0 <= numerator <= denominator and denominator > 0, got {num}/{den}",
            )
        if statistic == "proportion" and abs(num / den - value) > _COUNT_ROUNDING:
            fail("value", f"{value!r} does not match {num}/{den} = {num / den:.4f}")

    p = row["p_value"]
    if not math.isnan(p):
        if not 0.0 <= p <= 1.0:
            fail("p_value", f"a p-value lies in [0, 1], got {p!r}")
        if not row["p_value_relation"]:
            row["p_value_relation"] = "="
    if row["p_value_relation"] and row["p_value_relation"] not in P_RELATIONS:
        fail(
            "p_value_relation",
            f"{row['p_value_relation']!r} is not allowed; allowed: {' '.join(P_RELATIONS)}",
        )
    if row["p_value_relation"] and math.isnan(p):
        fail("p_value", "p_value_relation given without a p_value")
    return row


def load_evidence(path: Path | str | None = None) -> pd.DataFrame:
    """Read and validate an evidence CSV (default: the review's figures shipped with simtrial).

    Raises ``EvidenceError`` naming the file, line, row id and column of the
    first problem found.
    """
    if path is None:
        return _load_default().copy()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _load_default() -> pd.DataFrame:
    return _load(DEFAULT_PATH)


def _load(path: Path) -> pd.DataFrame:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as err:
        raise EvidenceError(f"cannot open the evidence file: {err.strerror}", path=path) from err
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise EvidenceError(
                f"missing required column(s) {', '.join(missing)}; the header has {', '.join(header) or 'nothing'}",
                path=path,
                line=1,
                column=missing[0],
            )
        rows: list[dict[str, object]] = []
        lines: dict[str, int] = {}
        start = 2
        for raw in reader:
            row_id = (raw.get("id") or "").strip()

            def fail(column: str, message: str, _line: int = start, _id: str = row_id) -> None:
                raise EvidenceError(message, path=path, line=_line, row_id=_id, column=column)

            if None in raw:  # csv puts surplus fields under the key None
                fail(
                    "id", f"{len(header) + len(raw[None])} fields, but the header has {len(header)}"
                )
            row = _check_row(raw, fail)
            if row_id in lines:
                fail("id", f"duplicate id (first on line {lines[row_id]})")
            lines[row_id] = start
            row["line"] = start
            rows.append(row)
            start = reader.line_num + 1
    if not rows:
        raise EvidenceError("the evidence file has no rows", path=path)
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "line"])
    frame[list(INT_COLUMNS)] = frame[list(INT_COLUMNS)].astype("Int64")
    return frame.set_index("id", drop=False)


def get_row(row_id: str, evidence: pd.DataFrame | None = None) -> pd.Series:
    """One evidence row by its id, e.g. ``get_row("DB03.TDXd.PFS.median")``."""
    frame = load_evidence() if evidence is None else evidence
    if row_id in frame.index:
        return frame.loc[row_id]
    ids = [str(i) for i in frame.index]
    lowered = {i.lower(): i for i in ids}
    if str(row_id).lower() in lowered:
        hint = f"did you mean {lowered[str(row_id).lower()]!r}? (ids are case-sensitive)"
    else:
        close = difflib.get_close_matches(str(row_id), ids, n=5, cutoff=0.5)
        hint = "close matches: " + ", ".join(close) if close else "no close match"
    raise UnknownEvidenceId(
        f"unknown evidence id {row_id!r}; {hint}. There are {len(ids)} ids, e.g. {', '.join(ids[:3])}"
    )


__all__ = [
    "COLUMNS",
    "HR_STATUS_VALUES",
    "DEFAULT_PATH",
    "EvidenceError",
    "REQUIRED_COLUMNS",
    "row_hr_status",
    "SUBGROUP_SEPARATOR",
    "UNCITED",
    "UnknownEvidenceId",
    "get_row",
    "load_evidence",
    "subgroup_codes",
]
