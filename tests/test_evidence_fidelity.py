"""Scenarios and effect maps claim only what the review supports (issue 17, item 2).

* every ``from_evidence`` model and effect-map entry a shipped scenario uses has a status
  (``reported`` / ``derived: <how>`` / ``assumption: <why>``), and the map entries carry it in
  the data;
* every number in a scenario's header comment is an evidence figure cited in the same block or
  sits in a block (or item) marked as an assumption, a design choice or a derived figure --
  the convention of ``simtrial.calibrate.audit`` and ``scenarios/README.md``;
* every quotation a header or an effect map attributes to the review is verbatim in the review;
* the specific findings of the issue stay fixed (phrases the review does not support, the
  NALA P-value, the spectrum's IHC 0 harm, the coarsened labels, the prevalence rows).

References are the review's text (``SIMTRIAL_REVIEW_TEXT``), not our own output.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
import yaml
from scipy.stats import norm

from simtrial.calibrate import effect_map, effect_maps
from simtrial.calibrate.audit import (
    evidence_and_assumptions,
    evidence_uses,
    header_blocks,
    header_lines,
    header_problems,
)
from simtrial.calibrate.effect_maps import check_status, status_kind
from simtrial.evidence import get_row, load_evidence, subgroup_codes
from simtrial.her2 import GROUPS, IHC0, IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3, ULTRALOW
from simtrial.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
REVIEW_PATH = Path(
    os.environ.get(
        "SIMTRIAL_REVIEW_TEXT",
        Path(__file__).resolve().parents[2] / "shared/seeds/000_f12bfbb3c8a88054.txt",
    )
)
# Files another change is bringing in, written before this header convention existed: their
# header test is expected to fail until they follow it (strict, so the mark must then go).
NOT_YET_CONVERTED: set[str] = set()


@pytest.fixture(scope="module")
def review_text() -> str:
    if not REVIEW_PATH.exists():
        pytest.skip(f"review text not found at {REVIEW_PATH} (set SIMTRIAL_REVIEW_TEXT)")
    return " ".join(REVIEW_PATH.read_text(encoding="utf-8").split())


def _files() -> list[Path]:
    # the checkout's own files: an installed (non-editable) simtrial has no scenarios/ beside it
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert len(files) >= 9, files  # the walk finds the shipped scenarios
    return files


def _header_params() -> list:
    return [
        pytest.param(f, id=f.name, marks=pytest.mark.xfail(strict=True, reason="header not converted yet"))
        if f.name in NOT_YET_CONVERTED else pytest.param(f, id=f.name)
        for f in _files()
    ]


def _header_text(path: Path) -> str:
    return " ".join(" ".join(body.strip() for _, body in header_lines(path.read_text())).split())


# --- statuses ----------------------------------------------------------------------------------


def test_status_grammar() -> None:
    assert check_status("reported") == "reported"
    assert status_kind("derived: 9.7 / 6.7") == "derived"
    assert status_kind("assumption: no data") == "assumption"
    for bad in ("", "Reported", "derived", "derived:", "assumption:  ", "guess: x", "assumption:x"):
        with pytest.raises(ValueError):
            check_status(bad)


def test_every_effect_map_entry_has_a_status_and_its_variants_name_their_default() -> None:
    maps = effect_maps()
    defaults = {name for name, m in maps.items() if m.variant_of is None}
    assert defaults == {"T-DXd", "T-DM1", "TKI", "trastuzumab"}
    for m in maps.values():
        assert m.scope, m.name
        if m.variant_of is not None:
            assert m.variant_of in defaults and m.variant, m.name
        for entry in m.entries:
            check_status(entry.status)
            assert entry.to_dict()["status"] == entry.status  # carried in the data
            if entry.hazard_ratio is None:
                assert entry.direction, (m.name, entry.category_name)


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_every_evidence_use_of_a_shipped_scenario_has_a_status(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    uses = evidence_uses(data)
    has_evidence = "from_evidence" in path.read_text() or "effect_map" in path.read_text()
    assert uses or not has_evidence, path.name
    for use in uses:
        check_status(use.status)
        if use.kind == "effect_map":
            name = re.match(r"arms\.\w+\.effect_map\['([^']+)'\]", use.path).group(1)
            entry = effect_map(name)[CATEGORY_CODES[use.categories[0]]]
            assert use.status == entry.status
        else:
            (evidence_id,) = use.evidence_ids
            reported = set(subgroup_codes(get_row(evidence_id)["her2_subgroup"]))
            inside = {CATEGORY_CODES[c] for c in use.categories} <= reported
            assert (use.status == "reported") == inside, use


CATEGORY_CODES = {"IHC 0": IHC0, "ultralow": ULTRALOW, "IHC 1+": IHC1, "IHC 2+/ISH-": IHC2_ISH_NEG,
                  "IHC 2+/ISH+": IHC2_ISH_POS, "IHC 3+": IHC3}


def test_evidence_used_beyond_its_subgroup_is_an_assumption() -> None:
    uses, assumptions = evidence_and_assumptions(yaml.safe_load((SCENARIOS / "tdxd_her2_spectrum.yaml").read_text()))
    control_all = next(u for u in uses if u.path == "arms.control.survival['all']")
    assert control_all.evidence_ids == ("DB04.TPC.PFS.median",)
    assert control_all.status.startswith("assumption: DB04.TPC.PFS.median reports HER2-low")
    assert set(control_all.categories) == {"IHC 0", "ultralow", "IHC 1+", "IHC 2+/ISH-"}
    assert "ultralow" in control_all.status and "IHC 0" in control_all.status
    paths = {a.path for a in assumptions}
    assert "arms.experimental.effect_map['T-DXd vs HER2-low']['ultralow']" in paths
    assert "population.mix" in paths and "accrual" in paths


# --- header numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", _header_params())
def test_every_header_number_is_evidence_or_marked(path: Path) -> None:
    assert header_problems(path.read_text()) == []


def test_header_check_can_fail() -> None:
    ok = ("# Sources: DB03.TDXd.PFS.median (28.8 months) [25]\n"
          "# Assumptions: accrual 30 months\n"
          "# Design: alpha 0.025\n"
          "# Derived: 4 x 2 = 8\n"
          "name: x\n")
    assert header_problems(ok) == []
    for bad, fragment in (
        ("# Sources: DB03.TDXd.PFS.median (28.9 months)\n", "28.9 is not a figure"),
        ("# Question: a median of 28.8 months\n", "no evidence id in this block"),
        ("# Sources: DB03.TDXd.PFS.median [99]\n", "reference [99]"),
        ("# Derived: about 83%\n", "must say how"),
        ("# Sources: DB03.TDXd.PFS.median\n#   - accrual 30 months\n", "30 is not a figure"),
        ("#   orphan continuation\n", "neither a heading"),
    ):
        problems = header_problems(bad + "name: x\n")
        assert problems and fragment in problems[0], (bad, problems)
    # an item marked as an assumption inside an evidence block, and a sibling id shortened
    marked = ("# Sources: DB01.TDXd.ORR.IHC3 / .IHC2ISHpos: 63% vs 46%\n"
              "#   - assumption: mix 0.8 / 0.2, rounded\n"
              "#     from one trial\nname: x\n")
    assert header_problems(marked) == []
    kinds = [b.kind for b in header_blocks(ok)]
    assert kinds == ["evidence", "assumption", "assumption", "derived"]


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_header_quotes_are_verbatim_in_the_review(path: Path, review_text: str) -> None:
    names = set(effect_maps())
    for quote in re.findall(r'"([^"]+)"', _header_text(path)):
        if quote in names:
            continue
        for part in quote.split("..."):
            assert " ".join(part.split()) in review_text, (path.name, part)


def test_effect_map_quotes_are_verbatim_in_the_review(review_text: str) -> None:
    single = re.compile(r"(?<![\w])'([^']+?)'(?![\w])")
    count = 0
    for m in effect_maps().values():
        for text in (m.scope, m.variant, *(e.status for e in m.entries), *(e.note for e in m.entries)):
            for quote in single.findall(text):
                count += 1
                assert " ".join(quote.split()) in review_text, (m.name, quote)
    assert count >= 20


def test_flagship_derived_schoenfeld_figures() -> None:
    """The flagship's Derived block: 4 (z_0.975 + z_0.8)^2 / log(1.3)^2 events, and power at 500."""
    text = _header_text(SCENARIOS / "ihc3_deescalation_ni.yaml")
    events = 4 * (norm.isf(0.025) + norm.isf(0.2)) ** 2 / math.log(1.3) ** 2
    power = norm.cdf(math.sqrt(500 * math.log(1.3) ** 2 / 4) - norm.isf(0.025))
    assert round(events) == 456 and "= 456 events for 80% power" in text
    assert f"about {round(100 * power)}%" in text and round(100 * power) == 83


# --- the findings of issue 17 ------------------------------------------------------------------

UNSUPPORTED_PHRASES = (
    "heavily pre-treated",
    "after trastuzumab and a taxane",
    "depends strongly",
    "most patients are cured",
    "monitored the way",
    "5.4 mg/kg",
)


def test_phrases_the_review_does_not_support_are_gone(review_text: str) -> None:
    for phrase in UNSUPPORTED_PHRASES:
        assert phrase.lower() not in review_text.lower(), phrase  # why they had to go
        for path in _files():
            if path.name in NOT_YET_CONVERTED:
                continue
            assert phrase.lower() not in path.read_text().lower(), (path.name, phrase)


def test_flagship_states_the_regimen_and_hr_as_assumptions(review_text: str) -> None:
    for name in ("ihc3_deescalation_ni.yaml", "ihc3_deescalation_ni_gs.yaml"):
        text = (SCENARIOS / name).read_text()
        data = yaml.safe_load(text)
        notes = data["arms"]["experimental"]["survival"]
        assert notes["IHC 2+/ISH+"]["hazard_ratio"] == 1.3
        assert notes["IHC 2+/ISH+"]["note"].startswith("assumption:")
        assert notes["IHC 3+"]["note"].startswith("assumption:")
        assert "assumed" in data["arms"]["experimental"]["label"]
    header = _header_text(SCENARIOS / "ihc3_deescalation_ni.yaml")
    assert "reducing reliance on cytotoxic drugs" in header and "reducing reliance on cytotoxic drugs" in review_text
    assert "Chemotherapy-sparing reading" in header
    assert "did not affect the treatment benefit" in header
    assert "sensitivity target" in header
    gs = _header_text(SCENARIOS / "ihc3_deescalation_ni_gs.yaml")
    assert "The review says nothing about interim analyses" in gs
    assert "interim" not in review_text.lower()  # the reason


def test_spectrum_gives_every_group_a_benefit_and_uses_db02(review_text: str) -> None:
    s = load_scenario(SCENARIOS / "tdxd_her2_spectrum.yaml")
    hrs = {c: s.control.models[c].median() / s.experimental.models[c].median() for c in s.control.models}
    assert all(hr < 1 for hr in hrs.values()), hrs  # "All patients ... benefited from T-DXd"
    # larger benefit with more HER2 expression: positive < low = ultralow < null
    assert hrs[IHC3] == pytest.approx(6.9 / 17.8) and hrs[IHC2_ISH_POS] == pytest.approx(6.9 / 17.8)
    assert hrs[IHC1] == pytest.approx(5.1 / 9.9) and hrs[ULTRALOW] == pytest.approx(5.1 / 9.9)
    assert hrs[IHC0] == pytest.approx(5.1 / (9.9 * 4.2 / 6.7))
    assert hrs[IHC3] < hrs[IHC1] <= hrs[ULTRALOW] < hrs[IHC0] < 1
    resolved = s.resolved["arms"]
    assert resolved["control"]["survival"]["IHC 3+"]["source"] == ["DB02.TPC.PFS.median"]
    assert resolved["experimental"]["survival"]["IHC 3+"]["source"] == ["DB02.TDXd.PFS.median"]
    positive = sum(s.population.mix[c] for c in GROUPS["HER2-positive"])
    low, high = (get_row(f"EPI.HER2pos.prevalence.{b}")["value"] for b in ("low", "high"))
    assert low <= positive <= high
    header = _header_text(SCENARIOS / "tdxd_her2_spectrum.yaml")
    assert "EPI.HER2pos.prevalence.low" in header and "EPI.HER2pos.prevalence.high" in header


def test_nala_p_value_discrepancy_is_recorded_and_the_control_is_pooled() -> None:
    row = get_row("NALA.neratinib.PFS.median")
    assert row["p_value"] == 0.059  # the review's figure, as printed
    assert ".0059" in row["note"] and "do not argue from 0.059" in row["note"]
    text = (SCENARIOS / "tki_ihc_stratified.yaml").read_text()
    data = yaml.safe_load(text)
    assert "pooled" in data["arms"]["control"]["label"]
    header = _header_text(SCENARIOS / "tki_ihc_stratified.yaml")
    assert header.count("0.059") == header.count(".0059") == 1  # named only beside its correction
    for rid in ("NALA.pooled.PFS.median.IHC3", "NALA.pooled.PFS.median.IHC2ISHpos"):
        assert "pooled" in get_row(rid)["note"]


@pytest.mark.parametrize(
    ("row_id", "codes"),
    [
        ("N9831.trastuzumab.DFS.IHC0to2ISHpos", (IHC0, ULTRALOW, IHC1, IHC2_ISH_POS)),
        ("ATEMPT.TDM1.iDFS.5y.IHCle2", (IHC0, ULTRALOW, IHC1, IHC2_ISH_POS)),
        ("ATEMPT.TDM1.RFI.5y.IHCle2", (IHC0, ULTRALOW, IHC1, IHC2_ISH_POS)),
        ("PHILA.pyrotinib.progression.IHC1or2ISHpos", (IHC1, IHC2_ISH_POS)),
        ("ATALLAH.antiHER2.BCSS.ERneg_IHC2", (IHC2_ISH_NEG, IHC2_ISH_POS)),
        ("ATALLAH.antiHER2.BCSS.ERpos_IHC2", (IHC2_ISH_NEG, IHC2_ISH_POS)),
    ],
)
def test_coarsened_labels_are_groups_over_categories(row_id: str, codes: tuple[int, ...]) -> None:
    row = get_row(row_id)
    assert subgroup_codes(row["her2_subgroup"]) == codes
    assert row["note"].startswith("a group, not one category")


def test_uncited_synthesis_sentence(review_text: str) -> None:
    row = get_row("REVIEW.TDM1.HER2low")
    assert (row["reference"], row["setting"]) == ("uncited", "unspecified")
    quote = " ".join(row["source_quote"].split())
    for match in re.finditer(re.escape(quote), review_text):
        assert not re.match(r"\s*\(\d", review_text[match.end():]), "the sentence cites a reference"


def test_prevalence_rows(review_text: str) -> None:
    evidence = load_evidence()
    rows = evidence[evidence["endpoint"] == "prevalence"]
    assert sorted(rows["value"]) == [0.15, 0.2]
    assert set(rows["reference"]) == {"3-7"}
    assert "15–20% of all breast cancers" in review_text
    from simtrial.calibrate import calibrate_response

    with pytest.raises(ValueError, match="prevalence"):
        calibrate_response("EPI.HER2pos.prevalence.low")


def test_effect_map_findings() -> None:
    tdxd = effect_map("T-DXd")
    assert tdxd[ULTRALOW].status_kind == "assumption"
    assert "no direct comparison has been made between the two groups" in tdxd[ULTRALOW].status
    for code in (IHC1, IHC0):
        assert tdxd[code].status.startswith("derived: 9.7 / ")
        assert "exponential" in tdxd[code].status
    db06 = effect_map("T-DXd ultralow=DB-06")
    assert db06.hazard_ratio(ULTRALOW) == pytest.approx(9.7 / 13.2)
    assert db06.variant_of == "T-DXd"
    assert effect_map("T-DXd ultralow=IHC 0").hazard_ratio(ULTRALOW) == pytest.approx(9.7 / 4.2)
    tki = effect_map("TKI")
    assert "tucatinib" in tki.scope and "assumption" in tki.scope
    assert effect_map("TKI no IHC effect").hazard_ratio(IHC2_ISH_POS) == 1.0
    trast = effect_map("trastuzumab")
    assert trast[IHC2_ISH_POS].hazard_ratio is None and trast[IHC2_ISH_POS].direction == "graded"
    assert "ATALLAH.antiHER2.BCSS.ERneg_IHC2" in trast[IHC2_ISH_POS].source_ids
    n9831 = effect_map("trastuzumab N9831")
    assert n9831.hazard_ratio(IHC2_ISH_POS) == 1.0 and n9831[IHC2_ISH_POS].status_kind == "assumption"
