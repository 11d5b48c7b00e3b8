"""HER2 category spellings -> the integer codes the engine uses."""

from __future__ import annotations

import pytest

from simtrial.her2 import (
    CATEGORIES,
    GROUPS,
    IHC0,
    IHC1,
    IHC2_ISH_NEG,
    IHC2_ISH_POS,
    IHC3,
    ULTRALOW,
    category_name,
    parse_category,
    parse_group,
)


def test_codes_are_unchanged() -> None:
    # The engine indexes strata by these codes: a reorder would silently swap strata.
    assert CATEGORIES == ("IHC 0", "ultralow", "IHC 1+", "IHC 2+/ISH-", "IHC 2+/ISH+", "IHC 3+")
    assert (IHC0, ULTRALOW, IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3) == (0, 1, 2, 3, 4, 5)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("IHC3+", IHC3),
        ("3+", IHC3),
        ("ihc3", IHC3),
        ("IHC 3+", IHC3),
        ("HER2 IHC 3+", IHC3),
        ("IHC 2+/FISH+", IHC2_ISH_POS),
        ("2+/ISH+", IHC2_ISH_POS),
        ("IHC2+/ISH+", IHC2_ISH_POS),
        ("IHC 2+/SISH+", IHC2_ISH_POS),
        ("2+/ISH-", IHC2_ISH_NEG),
        ("IHC2+/ISH\u2212", IHC2_ISH_NEG),  # unicode minus
        ("IHC 2+/FISH\u2013", IHC2_ISH_NEG),  # en dash, as in the review
        ("IHC 2+/ISH negative", IHC2_ISH_NEG),
        ("IHC 0", IHC0),
        ("0", IHC0),
        ("ihc0", IHC0),
        ("ultralow", ULTRALOW),
        ("ultra-low", ULTRALOW),
        ("0<IHC<1+", ULTRALOW),
        ("0+<IHC<1+", ULTRALOW),
        ("IHC 1+", IHC1),
        ("1+", IHC1),
        ("  ihc 1+ ", IHC1),
    ],
)
def test_parse_category_spellings(text: str, code: int) -> None:
    assert parse_category(text) == code


@pytest.mark.parametrize("name", CATEGORIES)
def test_canonical_names_round_trip(name: str) -> None:
    assert category_name(parse_category(name)) == name


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("HER2-positive", (IHC2_ISH_POS, IHC3)),
        ("HER2 positive", (IHC2_ISH_POS, IHC3)),
        ("HER2-low", (IHC1, IHC2_ISH_NEG)),
        ("her2 low", (IHC1, IHC2_ISH_NEG)),
        ("HER2-ultralow", (ULTRALOW,)),
        ("HER2-null", (IHC0,)),
        ("IHC 1+-2+/ISH-", (IHC1, IHC2_ISH_NEG)),
        ("IHC 1+ or 2+/FISH\u2013", (IHC1, IHC2_ISH_NEG)),
        ("HER2 IHC 3+ or ISH+", (IHC2_ISH_POS, IHC3)),
        ("IHC 3+", (IHC3,)),
        ("2+/ISH-", (IHC2_ISH_NEG,)),
    ],
)
def test_parse_group(text: str, codes: tuple[int, ...]) -> None:
    assert parse_group(text) == codes


def test_groups_match_parse_group() -> None:
    for name, codes in GROUPS.items():
        assert parse_group(name) == codes


@pytest.mark.parametrize("text", ["4+", "IHC 4+", "HER2-high", "", "positive-ish", "2+/ISH?"])
def test_unknown_category_lists_accepted_spellings(text: str) -> None:
    with pytest.raises(ValueError, match="unknown HER2 category") as err:
        parse_category(text)
    message = str(err.value)
    for name in CATEGORIES:
        assert name in message


def test_ihc2_without_ish_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="needs its ISH result"):
        parse_category("IHC 2+")
    with pytest.raises(ValueError, match="needs its ISH result"):
        parse_group("2+")


def test_unknown_group_lists_groups() -> None:
    with pytest.raises(ValueError, match="HER2-positive.*HER2-low.*HER2-ultralow.*HER2-null"):
        parse_group("HER2-enriched")


@pytest.mark.parametrize("bad", [6, -1, 2.0, "3", True])
def test_category_name_rejects_bad_codes(bad: object) -> None:
    with pytest.raises(ValueError, match="code"):
        category_name(bad)  # type: ignore[arg-type]


def test_non_text_is_refused() -> None:
    with pytest.raises(ValueError, match="must be text"):
        parse_category(3)  # type: ignore[arg-type]
