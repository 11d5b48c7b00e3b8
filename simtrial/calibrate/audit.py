"""What a scenario file rests on: the evidence it uses (with each figure's status) and its assumptions.

Two checks a reviewer (and ``simtrial evidence --unsupported``) can run on a
scenario without simulating it:

* ``evidence_uses(data)`` -- every ``from_evidence`` model and every effect-map
  entry the scenario actually uses, each with its status: ``reported`` (the
  figure, in the subgroup the review reports it for), ``derived: <how>`` or
  ``assumption: <why>`` (e.g. a HER2-low figure applied to IHC 0 patients);
* ``scenario_assumptions(data)`` -- every value the simulation uses that has no
  evidence id (prevalence mix, misclassification, accrual, dropout, models
  given as numbers) and every use whose status is an assumption;
* ``header_problems(text)`` -- the numbers of a file's header comment that are
  neither evidence figures nor marked as assumptions (the convention below).

``data`` is the scenario's YAML mapping as written (``yaml.safe_load``); the
file is validated by ``simtrial.scenario.load_scenario``, not here (this
module sits below the scenario layer and never imports it).

Header convention (``scenarios/README.md``, "Evidence and assumptions")
-------------------------------------------------------------------------
The header is the comment lines before the first YAML line.  It is made of
blocks: a block opens with a heading line ``# Heading`` (one space after
``#``, then text) and runs over the lines below it indented further
(``#   ...``); a bare ``#`` ends it.  The heading's first word is its kind:

* ``Assumption`` / ``Assumptions`` -- every number in the block is an
  assumption; each item says why it was chosen;
* ``Design`` -- the trial's own choices (margin, alpha, events, looks): as
  assumptions, but of the design rather than of the world;
* ``Derived`` -- numbers computed from the header's other numbers, or measured
  by running the file; the block says how (a formula with ``=``) or names the
  test that checks it (``tests/....py``);
* any other heading (``Question:``, ``Sources ...:``, ``Design:``) -- every
  number must be a figure of an evidence row whose id the *same block* names:
  its value, CI limits, numerator or denominator, landmark time (in months or
  whole years) or p-value, fractions also in percent (0.758 as 75.8).  Inside
  such a block an item (a line starting ``- ``, with its more-indented
  continuation lines) that starts ``- assumption:`` or ``- derived:`` counts as
  that kind.  A sibling id may be shortened to its last part after the full
  one: ``DB01.TDXd.ORR.IHC3 / .IHC2ISHpos``.

Not numbers: evidence ids, review references in brackets (``[25]``,
``[8-17]``, which must be references of the evidence table), HER2 labels
(``IHC 3+``, ``2+/ISH+``, ``HER2``), trial names (``DB-03``, ``N9831``,
``NSABP B-47``), file paths and ``95% CI``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simtrial.calibrate.effect_maps import check_status, effect_map
from simtrial.errors import InvalidInput
from simtrial.evidence import UNCITED, load_evidence, subgroup_codes
from simtrial.her2 import CATEGORIES, parse_category, parse_group, split_hr_key

# --- the scenarios shipped with the source tree ------------------------------------------

SHIPPED_SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def shipped_scenarios() -> list[Path]:
    """The shipped scenario files: ``scenarios/*.yaml`` of the source tree, else of the working directory.

    An installed (non-editable) package has no source tree beside it; run from a
    checkout, the checkout's ``scenarios/`` is the shipped set.
    """
    for directory in (SHIPPED_SCENARIOS_DIR, Path.cwd() / "scenarios"):
        if directory.is_dir():
            return sorted(directory.glob("*.yaml"))
    return []


# --- header comments -------------------------------------------------------------------

ASSUMPTION_HEADINGS = ("assumption", "assumptions", "design")
DERIVED_HEADINGS = ("derived",)
_FRACTIONS = ("proportion", "rate_at_months")

_NOT_NUMBERS = (
    r"\b95% CI\b",
    r"\b(?:IHC|ihc)\s*[0-3]\+?(?:\s*(?:[-\u2013]|or)\s*(?:IHC\s*)?[0-3]\+)?(?:/[FSC]?ISH[+\-\u2212\u2013])?",
    r"(?<![\w.])[0-3]\+(?:/[FSC]?ISH[+\-\u2212\u2013])?",
    r"\b0\+<IHC<1\+",
    r"\bHER-?2\b",
    r"\bDB-?0\d\b",
    r"\bDESTINY-Breast0\d\b",
    r"\bN9831\b",
    r"\bB-47\b",
    r"\S+\.(?:yaml|py|csv|md)\b",
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
_REFERENCE = re.compile(r"\[(\d+(?:\s*[-\u2013]\s*\d+)?(?:\s*,\s*\d+(?:\s*[-\u2013]\s*\d+)?)*)\]")


@dataclass(frozen=True)
class HeaderBlock:
    """One block of a header comment: its heading line, kind and text lines (with file line numbers)."""

    heading: str
    kind: str  # "assumption", "derived" or "evidence"
    lines: tuple[tuple[int, str], ...]

    @property
    def text(self) -> str:
        return "\n".join(t for _, t in self.lines)


def header_lines(text: str) -> list[tuple[int, str]]:
    """The header's comment lines (1-based line number, text after ``#``), up to the first YAML line."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        out.append((number, stripped[1:]))
    return out


def _kind(heading: str) -> str:
    word = re.match(r"\s*([A-Za-z]+)", heading)
    first = word.group(1).lower() if word else ""
    if first in ASSUMPTION_HEADINGS:
        return "assumption"
    if first in DERIVED_HEADINGS:
        return "derived"
    return "evidence"


def header_blocks(text: str) -> list[HeaderBlock]:
    """The header split into blocks; a continuation line with no heading above it is an error."""
    blocks: list[HeaderBlock] = []
    current: list[tuple[int, str]] = []

    def close() -> None:
        if current:
            blocks.append(HeaderBlock(current[0][1].strip(), _kind(current[0][1]), tuple(current)))
            current.clear()

    for number, body in header_lines(text):
        if not body.strip():
            close()
        elif body.startswith(" ") and not body.startswith("  "):
            close()
            current.append((number, body))
        elif body.startswith("  ") and current:
            current.append((number, body))
        else:
            raise InvalidInput(
                f"header line {number}: {('#' + body)!r} is neither a heading ('# Heading') nor indented "
                "below one ('#   text')"
            )
    close()
    return blocks


def _items(block: HeaderBlock) -> list[tuple[str, list[tuple[int, str]]]]:
    """The block's parts with their kind: items '- assumption:' / '- derived:' take theirs, the rest the block's."""
    parts: list[tuple[str, list[tuple[int, str]]]] = []
    item_indent: int | None = None
    for number, body in block.lines:
        indent = len(body) - len(body.lstrip())
        content = body.strip()
        if content.startswith("- "):
            marker = re.match(r"-\s+(assumption|derived):", content)
            kind = marker.group(1) if marker else block.kind
            parts.append((kind, [(number, body)]))
            item_indent = indent
        elif item_indent is not None and indent > item_indent and parts:
            parts[-1][1].append((number, body))
        else:
            item_indent = None
            parts.append((block.kind, [(number, body)]))
    return parts


def _row_figures(row: pd.Series) -> list[float]:
    scale = 100.0 if row["statistic"] in _FRACTIONS else 1.0
    out: list[float] = []
    for col in ("value", "ci_low", "ci_high"):
        value = row[col]
        if not pd.isna(value):
            out += [float(value), scale * float(value)]
    for col in ("numerator", "denominator"):
        if not pd.isna(row[col]):
            out.append(float(row[col]))
    if not pd.isna(row["time_months"]):
        months = float(row["time_months"])
        out.append(months)
        if months % 12 == 0:
            out.append(months / 12)
    if not pd.isna(row["p_value"]):
        out.append(float(row["p_value"]))
    return out


def _references(evidence: pd.DataFrame) -> set[int]:
    refs: set[int] = set()
    for reference in evidence["reference"]:
        if reference == UNCITED:
            continue
        first, _, last = str(reference).partition("-")
        refs.update(range(int(first), int(last or first) + 1))
    return refs


def _strip(text: str, ids: Iterable[str]) -> str:
    for evidence_id in sorted(ids, key=len, reverse=True):
        text = text.replace(evidence_id, " ")
    for pattern in _NOT_NUMBERS:
        text = re.sub(pattern, " ", text)
    return text


def header_problems(text: str, evidence: pd.DataFrame | None = None) -> list[str]:
    """Numbers of the header that break the convention above, one message each (empty: the header is clean)."""
    frame = load_evidence() if evidence is None else evidence
    ids = [str(i) for i in frame.index]
    refs = _references(frame)
    problems: list[str] = []
    try:
        blocks = header_blocks(text)
    except InvalidInput as err:
        return [str(err)]
    for block in blocks:
        block_text = block.text
        cited = [i for i in ids if re.search(rf"(?<![\w.]){re.escape(i)}(?![\w+\-]|\.\w)", block_text)]
        # a sibling abbreviated after its id, "DB06.TDXd.PFS.median.HER2low / .HER2ultralow", counts too
        for stem in re.findall(r"(?<![\w.])\.([A-Za-z][A-Za-z0-9_+\-]*)", block_text):
            cited += [sib for c in list(cited) if (sib := c.rsplit(".", 1)[0] + "." + stem) in frame.index]
        figures = [f for i in cited for f in _row_figures(frame.loc[i])]
        if block.kind == "derived" and "=" not in block_text and "tests/" not in block_text:
            problems.append(f"line {block.lines[0][0]}: a Derived block must say how (a formula with '=') "
                            "or name the test that checks it (tests/...)")
        for kind, lines in _items(block):
            for number, body in lines:
                for match in _REFERENCE.finditer(body):
                    for part in re.split(r"\s*,\s*", match.group(1)):
                        bounds = [int(b) for b in re.split(r"\s*[-\u2013]\s*", part)]
                        if not set(range(bounds[0], bounds[-1] + 1)) <= refs:
                            problems.append(f"line {number}: review reference [{match.group(1)}] is not in the "
                                            "evidence table")
                stripped = _strip(_REFERENCE.sub(" ", body), ids)
                if kind != "evidence":
                    continue
                for found in _NUMBER.findall(stripped):
                    x = float(found)
                    if not any(math.isclose(x, f, rel_tol=0, abs_tol=1e-9) for f in figures):
                        where = f"{', '.join(cited)}" if cited else "no evidence id in this block"
                        problems.append(
                            f"line {number}: {found} is not a figure of the evidence rows this block cites "
                            f"({where}) and is not marked as an assumption: {('#' + body).strip()!r}"
                        )
    return problems


# --- what a scenario uses --------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceUse:
    """One ``from_evidence`` model or effect-map entry a scenario uses, for the categories it covers."""

    path: str
    categories: tuple[str, ...]
    evidence_ids: tuple[str, ...]
    status: str
    kind: str  # "from_evidence" or "effect_map"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScenarioAssumption:
    """A value the simulation uses that rests on an assumption; ``evidence_ids`` empty when none is cited."""

    path: str
    value: str
    why: str
    evidence_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_MODEL_NUMBERS = ("median_months", "hazard_per_month", "weibull", "piecewise", "cure_fraction",
                  "uncured", "hazard_ratio", "probability", "risk_difference")


def population_categories(data: Mapping[str, Any]) -> tuple[int, ...]:
    """The true categories the scenario's population can contain (from ``mix`` or ``fixed_counts``)."""
    population = data.get("population") or {}
    keys = population.get("mix") or population.get("fixed_counts") or {}
    return tuple(sorted({parse_category(str(k)) for k, v in keys.items() if float(v) > 0}))


def _chosen_keys(block: Mapping[str, Any], codes: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """For each key of a survival/response block, the population categories it decides (the loader's precedence).

    Keys may name an HR status ("IHC 2+/ISH+/HR-", "HR+"): the key then decides IHC x HR cells, ranked
    as the loader ranks them (cell > category > group/HR > group > HR > all), and is reported by the IHC
    categories of the cells it decides.
    """
    rank: dict[tuple[int, int], tuple[int, str]] = {}
    for key in block:
        text = str(key).strip()
        if text.lower() == "all":
            level, covers, statuses = 0, codes, (0, 1)
        else:
            her2, hr = split_hr_key(text)
            statuses = (0, 1) if hr is None else (hr,)
            if her2 is None:
                level, covers = 1, codes
            else:
                covers = parse_group(her2)
                level = 4 if len(covers) == 1 and _is_category(her2) else 2
            level += hr is not None and her2 is not None
        for code in covers:
            for status in statuses:
                cell = (code, status)
                if code in codes and (cell not in rank or rank[cell][0] < level):
                    rank[cell] = (level, str(key))
    out: dict[str, set[int]] = {}
    for (code, _), (_, key) in sorted(rank.items()):
        out.setdefault(key, set()).add(code)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _is_category(key: str) -> bool:
    try:
        parse_category(key)
    except ValueError:
        return False
    return True


def _names(codes: Iterable[int]) -> tuple[str, ...]:
    return tuple(CATEGORIES[c] for c in codes)


def _from_evidence_status(evidence_id: str, codes: tuple[int, ...], frame: pd.DataFrame) -> str:
    row = frame.loc[evidence_id]
    reported = set(subgroup_codes(str(row["her2_subgroup"])))
    beyond = [c for c in codes if c not in reported]
    if not beyond:
        return "reported"
    return (f"assumption: {evidence_id} reports {row['her2_subgroup']}; applied to "
            f"{', '.join(_names(beyond))} as well")


def _spec_value(spec: Mapping[str, Any]) -> str:
    parts = [f"{k}: {spec[k]}" for k in _MODEL_NUMBERS if k in spec]
    return ", ".join(parts) or str(dict(spec))


def _sources(spec: Mapping[str, Any]) -> tuple[str, ...]:
    source = spec.get("source")
    if source is None:
        return ()
    return tuple(str(s) for s in (source if isinstance(source, list) else [source]))


def _walk_spec(path: str, spec: Any, codes: tuple[int, ...], frame: pd.DataFrame,
               uses: list[EvidenceUse], assumptions: list[ScenarioAssumption]) -> None:
    if not isinstance(spec, Mapping):
        return
    note = str(spec.get("note") or "")
    if "from_evidence" in spec:
        evidence_id = str(spec["from_evidence"])
        status = _from_evidence_status(evidence_id, codes, frame)
        uses.append(EvidenceUse(path, _names(codes), (evidence_id,), status, "from_evidence"))
        if status != "reported":
            assumptions.append(ScenarioAssumption(path, f"from_evidence: {evidence_id}",
                                                  status.partition(": ")[2], (evidence_id,)))
        if "cure_fraction" in spec:
            assumptions.append(ScenarioAssumption(
                f"{path}.cure_fraction", str(spec["cure_fraction"]),
                note or "a cure fraction the review does not report", _sources(spec)))
        return
    if any(k in spec for k in _MODEL_NUMBERS):
        sources = _sources(spec)
        assumptions.append(ScenarioAssumption(path, _spec_value(spec), note or "no reason given in the file",
                                              sources))


def evidence_and_assumptions(
    data: Mapping[str, Any], evidence: pd.DataFrame | None = None
) -> tuple[list[EvidenceUse], list[ScenarioAssumption]]:
    """Every evidence use (with its status) and every assumption of one scenario mapping."""
    frame = load_evidence() if evidence is None else evidence
    codes = population_categories(data)
    uses: list[EvidenceUse] = []
    assumptions: list[ScenarioAssumption] = []
    population = data.get("population") or {}
    if population.get("mix"):
        mix = ", ".join(f"{k} {v}" for k, v in population["mix"].items())
        assumptions.append(ScenarioAssumption("population.mix", mix,
                                              "a prevalence mix (the file holds no evidence id; see its header)"))
    if population.get("hr_status"):
        assumptions.append(ScenarioAssumption("population.hr_status", str(population["hr_status"]),
                                              "P(HR+ | IHC category): the review gives no hormone-receptor "
                                              "prevalence"))
    if population.get("misclassification"):
        assumptions.append(ScenarioAssumption("population.misclassification",
                                              str(population["misclassification"]),
                                              "IHC scoring error rates: the review names the problem, gives no rates"))
    if data.get("accrual"):
        assumptions.append(ScenarioAssumption("accrual", str(data["accrual"]), "accrual is a design assumption"))
    for role, arm in (data.get("arms") or {}).items():
        if not isinstance(arm, Mapping):
            continue
        for block_name in ("survival", "response"):
            block = arm.get(block_name)
            covered: set[int] = set()
            if isinstance(block, Mapping):
                for key, used in _chosen_keys(block, codes).items():
                    covered.update(used)
                    _walk_spec(f"arms.{role}.{block_name}[{key!r}]", block[key], used, frame, uses, assumptions)
            if block_name == "survival" and isinstance(arm.get("effect_map"), Mapping):
                emap_spec = arm["effect_map"]
                emap = effect_map(str(emap_spec.get("name")))
                left = tuple(c for c in codes if c not in covered)
                _walk_spec(f"arms.{role}.effect_map.reference", emap_spec.get("reference"),
                           tuple(c for c in left if c in emap), frame, uses, assumptions)
                for entry in emap.entries:
                    if entry.category not in left:
                        continue
                    path = f"arms.{role}.effect_map[{emap.name!r}][{entry.category_name!r}]"
                    uses.append(EvidenceUse(path, (entry.category_name,), entry.source_ids, entry.status,
                                            "effect_map"))
                    if entry.status_kind == "assumption":
                        hr = "direction only" if entry.hazard_ratio is None else f"HR {entry.hazard_ratio:.4g}"
                        assumptions.append(ScenarioAssumption(path, hr, entry.status.partition(": ")[2],
                                                              entry.source_ids))
        if arm.get("dropout"):
            assumptions.append(ScenarioAssumption(f"arms.{role}.dropout", str(arm["dropout"]),
                                                  "loss to follow-up is a design assumption"))
    for use in uses:
        check_status(use.status)
    return uses, assumptions


def evidence_uses(data: Mapping[str, Any], evidence: pd.DataFrame | None = None) -> list[EvidenceUse]:
    """Every ``from_evidence`` model and effect-map entry the scenario uses, with its status."""
    return evidence_and_assumptions(data, evidence)[0]


def scenario_assumptions(
    data: Mapping[str, Any], evidence: pd.DataFrame | None = None
) -> list[ScenarioAssumption]:
    """Every value of the scenario that rests on an assumption (with the evidence ids it cites, if any)."""
    return evidence_and_assumptions(data, evidence)[1]


__all__ = [
    "ASSUMPTION_HEADINGS",
    "DERIVED_HEADINGS",
    "EvidenceUse",
    "HeaderBlock",
    "SHIPPED_SCENARIOS_DIR",
    "ScenarioAssumption",
    "evidence_and_assumptions",
    "evidence_uses",
    "header_blocks",
    "header_lines",
    "header_problems",
    "population_categories",
    "scenario_assumptions",
    "shipped_scenarios",
]
