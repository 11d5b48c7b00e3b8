"""The evidence table: every figure traceable to the review, checked by hand, validated on load."""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from simtrial.evidence import (
    COLUMNS,
    DEFAULT_PATH,
    UNCITED,
    EvidenceError,
    UnknownEvidenceId,
    get_row,
    load_evidence,
    subgroup_codes,
)
from simtrial.her2 import parse_group

REVIEW_PATH = Path(
    os.environ.get(
        "SIMTRIAL_REVIEW_TEXT",
        Path(__file__).resolve().parents[2] / "shared/seeds/000_f12bfbb3c8a88054.txt",
    )
)
FRACTIONS = ("rate_at_months", "proportion")


@pytest.fixture(scope="module")
def review_text() -> str:
    if not REVIEW_PATH.exists():
        pytest.skip(f"review text not found at {REVIEW_PATH} (set SIMTRIAL_REVIEW_TEXT)")
    return " ".join(REVIEW_PATH.read_text(encoding="utf-8").split())


@pytest.fixture(scope="module")
def evidence():
    return load_evidence()


def _numbers(text: str) -> list[float]:
    # Unsigned numbers only: "1-2+" is a range, not minus two.
    return [float(m) for m in re.findall(r"\d+(?:\.\d+)?", text)]


def _contains(numbers: list[float], x: float) -> bool:
    return any(math.isclose(x, n, rel_tol=0, abs_tol=1e-9) for n in numbers)


def test_every_quote_is_verbatim_in_the_review(evidence, review_text: str) -> None:
    for row_id, quote in evidence["source_quote"].items():
        assert " ".join(quote.split()) in review_text, row_id


def test_every_number_appears_in_its_quote(evidence) -> None:
    for row_id, row in evidence.iterrows():
        quoted = _numbers(row["source_quote"])
        scale = 100.0 if row["statistic"] in FRACTIONS else 1.0
        for col in ("value", "ci_low", "ci_high"):
            if not math.isnan(row[col]):
                assert _contains(quoted, scale * row[col]), (
                    f"{row_id}: {col}={row[col]} not in {row['source_quote']!r}"
                )
        for col in ("numerator", "denominator"):
            if not pd.isna(row[col]):
                assert _contains(quoted, float(row[col])), f"{row_id}: {col}"
        if not math.isnan(row["p_value"]):
            assert _contains(quoted, row["p_value"]), f"{row_id}: p_value"
            assert f"P{row['p_value_relation']}" in row["source_quote"].replace(" ", ""), row_id


def test_every_landmark_time_appears_in_the_review(evidence, review_text: str) -> None:
    for row_id, row in evidence[evidence["time_months"].notna()].iterrows():
        months = row["time_months"]
        spelled = [f"{months:g}-month"]
        if months % 12 == 0:
            spelled.append(f"{months / 12:g}-year")
        assert any(s in review_text for s in spelled), f"{row_id}: {spelled}"


def test_every_reference_is_cited_in_the_review(evidence, review_text: str) -> None:
    cited: set[int] = set()
    for first, last in re.findall(r"\((\d+)(?:[\u2013-](\d+))?\)", review_text):
        cited.update(range(int(first), int(last or first) + 1))
    for row_id, reference in evidence["reference"].items():
        if reference == UNCITED:  # the review's sentence cites nothing: it must really cite nothing
            quote = " ".join(evidence.loc[row_id, "source_quote"].split())
            after = [review_text[m.end():] for m in re.finditer(re.escape(quote), review_text)]
            assert after and not any(re.match(r"\s*\(\d", a) for a in after), row_id
            continue
        numbers = [int(n) for n in re.findall(r"\d+", reference)]
        assert numbers and set(numbers) <= cited, f"{row_id}: reference {reference!r}"


def test_every_trial_the_review_gives_numbers_for_is_present(evidence) -> None:
    trials = set(evidence["trial"])
    for trial in (
        "N9831",
        "NSABP B-47",
        "KATHERINE",
        "ATEMPT",
        "DESTINY-Breast01",
        "DESTINY-Breast02",
        "DESTINY-Breast03",
        "DESTINY-Breast04",
        "DESTINY-Breast06",
        "DAISY",
        "NALA",
        "Panphila",
        "PHILA",
        "CLEOPATRA",
    ):
        assert trial in trials


def test_nct_numbers_are_the_reviews(evidence, review_text: str) -> None:
    for row_id, nct in evidence["nct"].items():
        if nct:
            assert f"({nct})" in review_text, row_id


# (id, statistic, value, ci_low, ci_high, time_months, numerator, denominator, her2_subgroup)
# typed by hand from the review's text.
HAND_CHECKED = [
    ("DB03.TDXd.PFS.median", "median_months", 28.8, None, None, None, None, None, "HER2-positive"),
    ("DB03.TDM1.PFS.median", "median_months", 6.8, None, None, None, None, None, "HER2-positive"),
    ("DB03.TDXd.PFS.12m", "rate_at_months", 0.758, None, None, 12, None, None, "HER2-positive"),
    ("DB03.TDM1.PFS.12m", "rate_at_months", 0.341, None, None, 12, None, None, "HER2-positive"),
    ("DB03.TDXd.ORR", "proportion", 0.797, None, None, None, None, None, "HER2-positive"),
    ("DB01.TDXd.PFS.median", "median_months", 16.4, None, None, None, None, None, "HER2-positive"),
    ("DB01.TDXd.ORR", "proportion", 0.609, None, None, None, None, None, "HER2-positive"),
    ("DB02.TPC.PFS.median", "median_months", 6.9, None, None, None, None, None, "HER2-positive"),
    ("DB04.TDXd.PFS.median", "median_months", 9.9, None, None, None, None, None, "HER2-low"),
    ("DB04.TPC.PFS.median", "median_months", 5.1, None, None, None, None, None, "HER2-low"),
    (
        "DB06.TDXd.PFS.median.HER2ultralow",
        "median_months",
        13.2,
        None,
        None,
        None,
        None,
        None,
        "HER2-ultralow",
    ),
    (
        "DAISY.TDXd.PFS.median.HER2pos",
        "median_months",
        9.7,
        6.8,
        13.0,
        None,
        None,
        None,
        "HER2-positive",
    ),
    ("DAISY.TDXd.PFS.median.HER2low", "median_months", 6.7, 4.4, 8.3, None, None, None, "HER2-low"),
    ("DAISY.TDXd.PFS.median.IHC0", "median_months", 4.2, 2.0, 5.7, None, None, None, "IHC 0"),
    ("DAISY.TDXd.ORR.HER2pos", "proportion", 0.706, 0.583, 0.81, None, None, None, "HER2-positive"),
    ("DAISY.TDXd.ORR.IHC0", "proportion", 0.297, 0.159, 0.47, None, None, None, "IHC 0"),
    ("KATHERINE.TDM1.iDFS.3y.IHC3", "rate_at_months", 0.85, None, None, 36, None, None, "IHC 3+"),
    (
        "KATHERINE.TDM1.iDFS.3y.IHC2ISHpos",
        "rate_at_months",
        0.88,
        None,
        None,
        36,
        None,
        None,
        "IHC 2+/ISH+",
    ),
    ("ATEMPT.TDM1.iDFS.5y.IHC3", "rate_at_months", 0.969, None, None, 60, None, None, "IHC 3+"),
    (
        "ATEMPT.TDM1.RFI.5y.IHCle2",
        "rate_at_months",
        0.978,
        None,
        None,
        60,
        None,
        None,
        "IHC 0; ultralow; IHC 1+; IHC 2+/ISH+",  # "IHC ≤2+" in a HER2-positive trial
    ),
    ("ATEMPT.TDM1.BCSS.5y", "rate_at_months", 0.994, None, None, 60, None, None, "HER2-positive"),
    ("NALA.pooled.PFS.median.IHC3", "median_months", 5.59, None, None, None, None, None, "IHC 3+"),
    (
        "NALA.pooled.PFS.median.IHC2ISHpos",
        "median_months",
        4.17,
        None,
        None,
        None,
        None,
        None,
        "IHC 2+/ISH+",
    ),
    ("NALA.enrolled", "count", 621, None, None, None, None, None, "HER2-positive"),
    ("Panphila.TCbHPy.pCR.IHC3", "proportion", 0.607, None, None, None, 34, 56, "IHC 3+"),
    ("Panphila.TCbHPy.pCR.IHC2ISHpos", "proportion", 0.308, None, None, None, 4, 13, "IHC 2+/ISH+"),
    (
        "PHILA.pyrotinib.progression.IHC1or2ISHpos",
        "proportion",
        0.393,
        None,
        None,
        None,
        24,
        61,
        "IHC 1+; IHC 2+/ISH+",  # "HER2 IHC1+ or 2+/ISH+": a group over two categories
    ),
    ("PHILA.pyrotinib.progression.IHC3", "proportion", 0.318, None, None, None, 75, 236, "IHC 3+"),
]


@pytest.mark.parametrize("expected", HAND_CHECKED, ids=[e[0] for e in HAND_CHECKED])
def test_rows_against_hand_typed_values(evidence, expected) -> None:
    row_id, statistic, value, lo, hi, time, num, den, subgroup = expected
    row = get_row(row_id, evidence)
    assert row["statistic"] == statistic
    assert row["value"] == pytest.approx(value, abs=1e-12)
    for col, want in (("ci_low", lo), ("ci_high", hi), ("time_months", time)):
        if want is None:
            assert math.isnan(row[col]), col
        else:
            assert row[col] == pytest.approx(want, abs=1e-12), col
    if num is None:
        assert pd.isna(row["numerator"]) and pd.isna(row["denominator"])
    else:
        assert (row["numerator"], row["denominator"]) == (num, den)
    assert row["her2_subgroup"] == subgroup


def test_p_values_by_hand(evidence) -> None:
    assert tuple(get_row("DB03.TDXd.PFS.12m", evidence)[["p_value", "p_value_relation"]]) == (
        0.001,
        "<",
    )
    assert tuple(
        get_row("NALA.neratinib.PFS.median", evidence)[["p_value", "p_value_relation"]]
    ) == (0.059, "=")
    assert tuple(
        get_row("NALA.pooled.PFS.median.IHC3", evidence)[["p_value", "p_value_relation"]]
    ) == (0.0001, "<")
    assert tuple(get_row("DB01.TDXd.ORR.IHC3", evidence)[["p_value", "p_value_relation"]]) == (
        0.05,
        ">",
    )


def test_qualitative_rows(evidence) -> None:
    b47 = get_row("B47.trastuzumab.iDFS.HER2low", evidence)
    assert (b47["statistic"], b47["direction"], b47["reference"]) == (
        "direction",
        "no benefit",
        "20",
    )
    assert math.isnan(b47["value"])
    assert get_row("N9831.trastuzumab.DFS.IHC3", evidence)["direction"] == "benefit"
    assert get_row("N9831.trastuzumab.DFS.IHC0to2ISHpos", evidence)["direction"] == "no benefit"
    assert get_row("CLEOPATRA.long_term_response.IHC3", evidence)["direction"] == "higher"


def test_table_invariants(evidence) -> None:
    assert evidence["id"].is_unique
    assert list(evidence.columns[: len(COLUMNS)]) == list(COLUMNS)
    fractions = evidence[evidence["statistic"].isin(FRACTIONS)]
    assert ((fractions["value"] >= 0) & (fractions["value"] <= 1)).all()
    with_ci = evidence[evidence["ci_low"].notna()]
    assert (
        (with_ci["ci_low"] <= with_ci["value"]) & (with_ci["value"] <= with_ci["ci_high"])
    ).all()
    for subgroup in evidence["her2_subgroup"]:
        assert subgroup_codes(subgroup)
    # a group over several categories is written as its categories, each one a known name
    assert subgroup_codes("IHC 1+; IHC 2+/ISH+") == (2, 4)
    assert subgroup_codes("HER2-low; IHC 0") == (0, 2, 3)
    assert all(parse_group(part.strip()) for s in evidence["her2_subgroup"] for part in s.split(";"))


def test_default_table_is_a_copy() -> None:
    first = load_evidence()
    first.loc["DB03.TDXd.PFS.median", "value"] = 99.0
    assert load_evidence().loc["DB03.TDXd.PFS.median", "value"] == 28.8


def test_unknown_id_lists_close_matches() -> None:
    with pytest.raises(UnknownEvidenceId, match="DB03.TDXd.PFS.median") as err:
        get_row("DB03.TDXd.PFS.medain")
    assert isinstance(err.value, KeyError)
    with pytest.raises(KeyError, match="case-sensitive"):
        get_row("db03.tdxd.pfs.median")


# --- malformed files ---------------------------------------------------------------


def _rows() -> list[dict[str, str]]:
    with DEFAULT_PATH.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write(tmp_path: Path, rows: list[dict[str, str]], columns=COLUMNS) -> Path:
    path = tmp_path / "bad_evidence.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _edit(tmp_path: Path, row_id: str, **changes: str) -> tuple[Path, int]:
    rows = _rows()
    index = next(i for i, r in enumerate(rows) if r["id"] == row_id)
    rows[index].update(changes)
    return _write(tmp_path, rows), index + 2  # header is line 1


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, _rows(), [c for c in COLUMNS if c != "ci_high"])
    with pytest.raises(EvidenceError, match="missing required column.*ci_high") as err:
        load_evidence(path)
    assert err.value.column == "ci_high"
    assert "bad_evidence.csv" in str(err.value)


def test_ci_low_above_ci_high(tmp_path: Path) -> None:
    path, line = _edit(tmp_path, "DAISY.TDXd.PFS.median.HER2low", ci_low="8.5", ci_high="4.4")
    with pytest.raises(EvidenceError) as err:
        load_evidence(path)
    message = str(err.value)
    assert "bad_evidence.csv" in message
    assert f"line {line}" in message
    assert "DAISY.TDXd.PFS.median.HER2low" in message
    assert "'ci_low'" in message and "above ci_high" in message
    assert (err.value.line, err.value.row_id, err.value.column) == (
        line,
        "DAISY.TDXd.PFS.median.HER2low",
        "ci_low",
    )


def test_rate_above_one(tmp_path: Path) -> None:
    path, line = _edit(tmp_path, "KATHERINE.TDM1.iDFS.3y.IHC3", value="1.3")
    with pytest.raises(EvidenceError, match=r"fraction in \[0, 1\]") as err:
        load_evidence(path)
    assert (err.value.line, err.value.row_id, err.value.column) == (
        line,
        "KATHERINE.TDM1.iDFS.3y.IHC3",
        "value",
    )
    assert f"line {line}" in str(err.value) and "'value'" in str(err.value)


def test_percent_instead_of_fraction(tmp_path: Path) -> None:
    path, _ = _edit(tmp_path, "DB03.TDXd.ORR", value="79.7")
    with pytest.raises(EvidenceError, match="0.758, not 75.8"):
        load_evidence(path)


@pytest.mark.parametrize(
    ("row_id", "changes", "column", "fragment"),
    [
        ("DB03.TDXd.PFS.median", {"her2_subgroup": "IHC 4+"}, "her2_subgroup", "unknown HER2"),
        ("DB03.TDXd.PFS.median", {"statistic": "mean"}, "statistic", "allowed"),
        ("DB03.TDXd.PFS.median", {"value": "abc"}, "value", "must be a number"),
        ("DB03.TDXd.PFS.median", {"value": "-3"}, "value", "median must be > 0"),
        ("DB03.TDXd.PFS.median", {"setting": "palliative"}, "setting", "allowed"),
        ("DB03.TDXd.PFS.12m", {"time_months": ""}, "time_months", "landmark rate needs its time"),
        ("DAISY.TDXd.ORR.IHC0", {"ci_high": ""}, "ci_high", "both ci_low and ci_high"),
        ("DAISY.TDXd.ORR.IHC0", {"ci_high": "0.2"}, "ci_high", "below the value"),
        ("Panphila.TCbHPy.pCR.IHC3", {"numerator": "30"}, "value", "does not match 30/56"),
        ("Panphila.TCbHPy.pCR.IHC3", {"denominator": "12.5"}, "denominator", "whole number"),
        ("NALA.neratinib.PFS.median", {"p_value": "1.5"}, "p_value", "p-value"),
        ("B47.trastuzumab.iDFS.HER2low", {"direction": "maybe"}, "direction", "allowed"),
        ("B47.trastuzumab.iDFS.HER2low", {"value": "1.0"}, "value", "carries no value"),
        ("DB03.TDXd.ORR", {"source_quote": ""}, "source_quote", "must not be empty"),
        ("DB03.TDXd.ORR", {"reference": "see text"}, "reference", "uncited"),
        ("PHILA.pyrotinib.progression.IHC1or2ISHpos", {"her2_subgroup": "IHC 1+; "}, "her2_subgroup", "empty part"),
        ("PHILA.pyrotinib.progression.IHC1or2ISHpos", {"her2_subgroup": "IHC 1+; IHC 2+"}, "her2_subgroup",
         "ISH result"),
    ],
)
def test_bad_cells_name_row_and_column(tmp_path: Path, row_id, changes, column, fragment) -> None:
    path, line = _edit(tmp_path, row_id, **changes)
    with pytest.raises(EvidenceError, match=re.escape(fragment)) as err:
        load_evidence(path)
    assert (err.value.line, err.value.row_id, err.value.column) == (line, row_id, column)
    assert str(path) in str(err.value)


def test_duplicate_id(tmp_path: Path) -> None:
    rows = _rows()
    rows.append(dict(rows[0]))
    path = _write(tmp_path, rows)
    with pytest.raises(EvidenceError, match="duplicate id .first on line 2") as err:
        load_evidence(path)
    assert err.value.line == len(rows) + 1


def test_missing_file_is_an_evidence_error(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="cannot open"):
        load_evidence(tmp_path / "nope.csv")
