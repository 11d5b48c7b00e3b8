"""Effect maps: the review's conclusions per therapy class x HER2 category, as hazard ratios with sources.

Every entry carries its **status**, so a reader sees at once what the review
says and what simtrial adds on top of it:

* ``reported`` -- the review reports this (a figure, or a direction for a
  direction-only entry);
* ``derived: <how>`` -- computed from reported figures, and how (e.g. a ratio
  of two cohorts' medians under exponential PFS);
* ``assumption: <why>`` -- not in the review; the reason it was chosen.

Where the review allows more than one reading, the alternatives are named
variants of a map (``T-DXd ultralow=DB-06``, ``TKI no IHC effect``, ...), each
listed by ``effect_maps()`` and ``simtrial evidence --maps`` beside the default.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

import pandas as pd

from simtrial.calibrate.hazard_ratios import hazard_ratio_from_medians
from simtrial.errors import InvalidInput
from simtrial.evidence import get_row, load_evidence
from simtrial.her2 import CATEGORIES, GROUPS, IHC0, IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3, ULTRALOW

# --- effect maps: therapy class x HER2 category ----------------------------------

STATUS_KINDS: tuple[str, ...] = ("reported", "derived", "assumption")


def check_status(status: str) -> str:
    """``status`` if it is ``reported``, ``derived: <how>`` or ``assumption: <why>``; else an error."""
    text = str(status)
    if text == "reported":
        return text
    kind, sep, why = text.partition(":")
    if sep and kind in ("derived", "assumption") and why.strip() and why.startswith(" "):
        return text
    raise InvalidInput(
        f"an effect-map status is 'reported', 'derived: <how>' or 'assumption: <why>', got {text!r}"
    )


def status_kind(status: str) -> str:
    """``reported``, ``derived`` or ``assumption``."""
    return check_status(status).partition(":")[0]


@dataclass(frozen=True)
class EffectEntry:
    """One HER2 category's effect in a map; ``hazard_ratio`` is None when the review gives only a direction.

    ``status`` is ``reported``, ``derived: <how>`` or ``assumption: <why>`` (``check_status``);
    ``note`` adds what a reader needs beyond it (optional).
    """

    category: int
    hazard_ratio: float | None
    median_months: float | None
    source_ids: tuple[str, ...]
    status: str
    direction: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        check_status(self.status)
        if not self.source_ids:
            raise InvalidInput(f"effect entry for {self.category_name} cites no evidence id")

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.category]

    @property
    def status_kind(self) -> str:
        return status_kind(self.status)

    @property
    def assumption(self) -> str:
        """What the entry rests on: its status, then its note (the text a resolved scenario prints)."""
        return f"{self.status}; {self.note}" if self.note else self.status

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["category_name"] = self.category_name
        out["status_kind"] = self.status_kind
        out["source_ids"] = list(self.source_ids)
        return out


@dataclass(frozen=True)
class EffectMap:
    """How one therapy class's effect varies with HER2 IHC category, on one stated scale.

    ``scope`` says which drugs and trials the map's figures come from (and where
    using it is itself an assumption); ``variant_of`` names the default map a
    variant is an alternative reading of, ``variant`` says what it changes.
    """

    name: str
    therapy_class: str
    endpoint: str
    scale: str
    entries: tuple[EffectEntry, ...] = field(default=())
    scope: str = ""
    variant_of: str | None = None
    variant: str = ""

    def __post_init__(self) -> None:
        codes = [e.category for e in self.entries]
        if len(set(codes)) != len(codes):
            raise InvalidInput(f"effect map {self.name!r} lists a category twice")

    @property
    def categories(self) -> tuple[int, ...]:
        return tuple(e.category for e in self.entries)

    def __getitem__(self, category: int) -> EffectEntry:
        for entry in self.entries:
            if entry.category == category:
                return entry
        have = ", ".join(e.category_name for e in self.entries)
        name = CATEGORIES[category] if 0 <= category < len(CATEGORIES) else repr(category)
        raise KeyError(f"effect map {self.name!r} has no evidence for {name}; it covers {have}")

    def __contains__(self, category: object) -> bool:
        return category in self.categories

    def hazard_ratio(self, category: int) -> float:
        """The entry's hazard ratio; an error if the review gives only a direction."""
        entry = self[category]
        if entry.hazard_ratio is None:
            raise InvalidInput(
                f"effect map {self.name!r}: {entry.category_name} has a direction only "
                f"({entry.direction}); {entry.assumption}"
            )
        return entry.hazard_ratio

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "therapy_class": self.therapy_class,
            "endpoint": self.endpoint,
            "scale": self.scale,
            "scope": self.scope,
            "variant_of": self.variant_of,
            "variant": self.variant,
            "entries": [e.to_dict() for e in self.entries],
        }

    def to_frame(self) -> pd.DataFrame:
        rows = [{"map": self.name, "scale": self.scale, **e.to_dict()} for e in self.entries]
        frame = pd.DataFrame(rows)
        frame["source_ids"] = frame["source_ids"].map(", ".join)
        return frame


def _value(ev: pd.DataFrame, evidence_id: str) -> float:
    return float(get_row(evidence_id, ev)["value"])


def _sorted(entries: list[EffectEntry]) -> tuple[EffectEntry, ...]:
    return tuple(sorted(entries, key=lambda e: e.category))


# --- T-DXd: DAISY's three cohorts ---------------------------------------------------

_DAISY = tuple(f"DAISY.TDXd.PFS.median.{t}" for t in ("HER2pos", "HER2low", "IHC0"))
_DB06 = ("DB06.TDXd.PFS.median.HER2low", "DB06.TDXd.PFS.median.HER2ultralow")
_TDXD_SCOPE = (
    "T-DXd, from the phase 2 DAISY trial's three cohorts [28] (single-arm: the review gives no comparator): "
    "ratios between cohorts, not effects against a control arm; DB-01 [23] for IHC 2+/ISH+ vs IHC 3+"
)
_TDXD_SCALE = "hazard ratio vs IHC 3+ on T-DXd"


def _t_dxd_entries(ev: pd.DataFrame, ultralow: str) -> list[EffectEntry]:
    pos, low, null = _DAISY
    m_ref, m_low, m_null = _value(ev, pos), _value(ev, low), _value(ev, null)
    low_hr = hazard_ratio_from_medians(m_low, m_ref).hazard_ratio
    null_hr = hazard_ratio_from_medians(m_null, m_ref).hazard_ratio
    entries = [
        EffectEntry(
            IHC3, 1.0, m_ref, (pos,),
            f"derived: reference category, HR 1 by definition; its median {m_ref:g} months is DAISY's "
            "'HER2 IHC 3+ or ISH+' cohort, which pools IHC 3+ with ISH-positive tumours",
        ),
        EffectEntry(
            IHC2_ISH_POS, 1.0, m_ref, (pos, "DB01.TDXd.ORR.IHC3", "DB01.TDXd.ORR.IHC2ISHpos"),
            "derived: HR 1 because DAISY reports one 'HER2 IHC 3+ or ISH+' cohort and, for DB-01, the review "
            "says HER2 protein expression level (IHC 3+ vs. IHC 2+/ISH+) 'did not affect the treatment "
            "benefit' (ORR 63% vs 46%, P>0.05)",
        ),
        *(
            EffectEntry(
                code, low_hr, m_low, (low,),
                f"derived: {m_ref:g} / {m_low:g}, the ratio of DAISY's cohort medians under exponential PFS; "
                "the cohorts are separate single-arm cohorts (no randomised comparison between HER2 "
                "categories), and both HER2-low categories share the one 'IHC 1+-2+/ISH-' cohort median",
            )
            for code in GROUPS["HER2-low"]
        ),
        EffectEntry(
            IHC0, null_hr, m_null, (null,),
            f"derived: {m_ref:g} / {m_null:g}, the ratio of DAISY's cohort medians under exponential PFS "
            "(DAISY's 'HER2 IHC 0' cohort as the review labels it); a ratio between T-DXd-treated cohorts, "
            "not T-DXd's effect against a control",
        ),
    ]
    if ultralow == "HER2-low":
        entries.append(EffectEntry(
            ULTRALOW, low_hr, m_low, (low, *_DB06),
            "assumption: DAISY has no ultralow cohort, so ultralow takes the HER2-low value. DB-06's 13.2 "
            "months in both HER2-low and ultralow does not show they are equal: the review adds 'no direct "
            "comparison has been made between the two groups'. Alternatives: the variants "
            '"T-DXd ultralow=IHC 0" (pessimistic) and "T-DXd ultralow=DB-06" (optimistic)',
        ))
    elif ultralow == "IHC 0":
        entries.append(EffectEntry(
            ULTRALOW, null_hr, m_null, (null,),
            "assumption: pessimistic bound; ultralow (0+<IHC<1+) lies between IHC 0 and IHC 1+, so if T-DXd's "
            "benefit rises with HER2 expression, as the review suggests ('potentially correlated with HER2 "
            "expression levels'), ultralow does no worse than DAISY's IHC 0 cohort",
        ))
    elif ultralow == "DB-06":
        m_ul = _value(ev, _DB06[1])
        entries.append(EffectEntry(
            ULTRALOW, hazard_ratio_from_medians(m_ul, m_ref).hazard_ratio, m_ul, (pos, _DB06[1]),
            f"derived: {m_ref:g} / {m_ul:g}, DAISY's HER2-positive cohort median over DB-06's ultralow median "
            "under exponential PFS: a ratio across two trials with different populations, as the review sets "
            "DB-series medians side by side. Optimistic: it puts ultralow above IHC 3+, which the review's "
            "reading ('IHC 3+ and IHC 2+/ISH+ patients appear to experience greater benefit') does not support",
        ))
    else:  # pragma: no cover - the builders below pass one of the three
        raise ValueError(ultralow)
    return entries


def _t_dxd_map(ev: pd.DataFrame) -> EffectMap:
    return EffectMap("T-DXd", "ADC", "PFS", _TDXD_SCALE, _sorted(_t_dxd_entries(ev, "HER2-low")), _TDXD_SCOPE)


def _t_dxd_ultralow_ihc0(ev: pd.DataFrame) -> EffectMap:
    return EffectMap(
        "T-DXd ultralow=IHC 0", "ADC", "PFS", _TDXD_SCALE, _sorted(_t_dxd_entries(ev, "IHC 0")), _TDXD_SCOPE,
        "T-DXd", "ultralow takes DAISY's IHC 0 ratio instead of HER2-low's (pessimistic)",
    )


def _t_dxd_ultralow_db06(ev: pd.DataFrame) -> EffectMap:
    return EffectMap(
        "T-DXd ultralow=DB-06", "ADC", "PFS", _TDXD_SCALE, _sorted(_t_dxd_entries(ev, "DB-06")), _TDXD_SCOPE,
        "T-DXd", "ultralow from DB-06's 13.2 months instead of DAISY's HER2-low 6.7 (optimistic, cross-trial)",
    )


def _t_dxd_vs_her2_low(ev: pd.DataFrame) -> EffectMap:
    base = _t_dxd_map(ev)
    low_hr = base.hazard_ratio(IHC1)
    entries = []
    for e in base.entries:
        hr = e.hazard_ratio / low_hr if e.hazard_ratio is not None else None
        if e.category in GROUPS["HER2-low"]:
            status = "derived: reference category of this variant, HR 1 by definition (DAISY's HER2-low cohort)"
        else:
            status = f"{e.status} [re-expressed relative to HER2-low: HR / {low_hr:.4g}]"
        entries.append(replace(e, hazard_ratio=hr, status=status))
    return EffectMap(
        "T-DXd vs HER2-low", "ADC", "PFS", "hazard ratio vs HER2-low on T-DXd", tuple(entries), _TDXD_SCOPE,
        "T-DXd",
        "the default map's ratios re-expressed relative to HER2-low, so the reference model can be a "
        "HER2-low arm (e.g. DB-04's T-DXd median)",
    )


# --- TKIs: NALA's pooled arms -------------------------------------------------------

_NALA = ("NALA.pooled.PFS.median.IHC3", "NALA.pooled.PFS.median.IHC2ISHpos")
_TKI_SCOPE = (
    "NALA's neratinib + capecitabine and lapatinib + capecitabine arms pooled [30] (the review: 'there is no "
    "separate analysis' by drug); PHILA (pyrotinib) points the same way [32] without a statistical analysis; "
    "for tucatinib 'no studies have assessed the relationship' with HER2 expression. Using the map for any "
    "one TKI, pyrotinib or tucatinib included, is an assumption"
)


def _tki_map(ev: pd.DataFrame) -> EffectMap:
    ref, pos2 = _NALA
    m3, m2 = _value(ev, ref), _value(ev, pos2)
    hr = hazard_ratio_from_medians(m2, m3).hazard_ratio
    return EffectMap(
        "TKI", "TKI", "PFS", "hazard ratio vs IHC 3+ on the TKI",
        (
            EffectEntry(
                IHC2_ISH_POS, hr, m2,
                (pos2, ref, "PHILA.pyrotinib.progression.IHC1or2ISHpos", "PHILA.pyrotinib.progression.IHC3"),
                f"derived: {m3:g} / {m2:g}, the ratio of NALA's pooled-arm medians by IHC under exponential "
                "PFS (no per-drug split reported)",
            ),
            EffectEntry(IHC3, 1.0, m3, (ref,), "derived: reference category, HR 1 by definition"),
        ),
        _TKI_SCOPE,
    )


def _tki_no_ihc_effect(ev: pd.DataFrame) -> EffectMap:
    ref, _ = _NALA
    return EffectMap(
        "TKI no IHC effect", "TKI", "PFS", "hazard ratio vs IHC 3+ on the TKI",
        (
            EffectEntry(
                IHC2_ISH_POS, 1.0, None, (ref, "NALA.pooled.PFS.median.IHC2ISHpos"),
                "assumption: no IHC dependence, for a TKI the review has no IHC data on ('no studies have "
                "assessed the relationship between tucatinib efficacy and HER2 protein expression'); NALA's "
                "pooled split is then not taken to carry over",
            ),
            EffectEntry(IHC3, 1.0, None, (ref,), "derived: reference category, HR 1 by definition"),
        ),
        _TKI_SCOPE,
        "TKI",
        "HR 1 in IHC 2+/ISH+: the null reading for a TKI without IHC data (e.g. tucatinib)",
    )


# --- T-DM1: KATHERINE and ATEMPT ------------------------------------------------------


def _t_dm1_map(ev: pd.DataFrame) -> EffectMap:
    r3, r2 = (
        _value(ev, "KATHERINE.TDM1.iDFS.3y.IHC3"),
        _value(ev, "KATHERINE.TDM1.iDFS.3y.IHC2ISHpos"),
    )
    data_hr = math.log(r2) / math.log(r3)
    sources = (
        "KATHERINE.TDM1.iDFS.IHC3_vs_IHC2ISHpos",
        "KATHERINE.TDM1.iDFS.3y.IHC3",
        "KATHERINE.TDM1.iDFS.3y.IHC2ISHpos",
        "ATEMPT.TDM1.iDFS.5y.IHC3",
        "ATEMPT.TDM1.iDFS.5y.IHCle2",
    )
    low_status = "reported"
    low_note = (
        "direction only: the review calls T-DM1's efficacy 'limited' in HER2-low, in a sentence that cites "
        "no trial and gives no size, so the map holds no number and a scenario must state one"
    )
    return EffectMap(
        "T-DM1", "ADC", "iDFS", "hazard ratio vs IHC 3+ on T-DM1",
        (
            EffectEntry(IHC1, None, None, ("REVIEW.TDM1.HER2low",), low_status, "limited", low_note),
            EffectEntry(IHC2_ISH_NEG, None, None, ("REVIEW.TDM1.HER2low",), low_status, "limited", low_note),
            EffectEntry(
                IHC2_ISH_POS, 1.0, None, sources,
                "derived: HR 1 from the review's reading of KATHERINE ('benefit similarly', 85% vs 88% iDFS at "
                "3 years) and ATEMPT (96.9% vs 96.7% at 5 years, IHC 3+ vs IHC <=2+); exponential fits to "
                f"KATHERINE's two rates alone would give {data_hr:.2f}",
                "similar",
            ),
            EffectEntry(IHC3, 1.0, None, sources[1:2], "derived: reference category, HR 1 by definition"),
        ),
        "T-DM1 in HER2-positive early breast cancer: KATHERINE (residual disease after neoadjuvant therapy) and "
        "ATEMPT (stage I) [21-22]",
    )


# --- trastuzumab: direction-only evidence -------------------------------------------

_TRAS_SCALE = "hazard ratio of adding trastuzumab vs not (within the category)"
_TRAS_SCOPE = (
    "trastuzumab with or without pertuzumab; direction-only evidence (no hazard ratio in the review): "
    "N9831 [18], NSABP B-47 [20], Atallah [4], CLEOPATRA [19], neoadjuvant pCR studies [8-17]"
)
_TRAS_IHC3_SOURCES = (
    "N9831.trastuzumab.DFS.IHC3",
    "CLEOPATRA.long_term_response.IHC3",
    "NEOADJ.mAb.pCR.IHC3",
    "ATALLAH.antiHER2.BCSS.IHC3",
)


def _trastuzumab_common() -> list[EffectEntry]:
    return [
        *(
            EffectEntry(
                code, 1.0, None, ("B47.trastuzumab.iDFS.HER2low",),
                "derived: NSABP B-47's 'no invasive DFS (iDFS) benefit' (no HR or CI in the review) read as HR "
                "exactly 1; the review's summary agrees ('patients with low HER2 expression (IHC 1+ or "
                "2+/FISH–) had no benefit')",
                "no benefit",
            )
            for code in GROUPS["HER2-low"]
        ),
        EffectEntry(
            IHC3, None, None, _TRAS_IHC3_SOURCES, "reported", "benefit",
            "direction only: benefit (HR < 1); the review gives no size, so a scenario must state one",
        ),
    ]


def _trastuzumab_map(ev: pd.DataFrame) -> EffectMap:
    del ev  # direction-only evidence: nothing numeric to read
    return EffectMap(
        "trastuzumab", "mAb", "DFS/iDFS", _TRAS_SCALE,
        _sorted([
            *_trastuzumab_common(),
            EffectEntry(
                IHC2_ISH_POS, None, None,
                ("N9831.trastuzumab.DFS.IHC0to2ISHpos", "ATALLAH.antiHER2.BCSS.ERneg_IHC2",
                 "ATALLAH.antiHER2.BCSS.ERpos_IHC2", "NEOADJ.mAb.pCR.IHC3"),
                "reported", "graded",
                "direction only, and mixed: the review's summary is graded ('HER2 IHC 3+ tumors showed better "
                "outcomes than those with HER2 IHC 2+/FISH+ tumors'); N9831 'suggests' no benefit for IHC "
                "0–2+/FISH+; Atallah reports a benefit in ER-/HER-2 IHC2+ and none in ER+/HER-2 IHC2+. No size: "
                'a scenario must state one (or use the variant "trastuzumab N9831")',
            ),
        ]),
        _TRAS_SCOPE,
    )


def _trastuzumab_n9831(ev: pd.DataFrame) -> EffectMap:
    del ev
    return EffectMap(
        "trastuzumab N9831", "mAb", "DFS/iDFS", _TRAS_SCALE,
        _sorted([
            *_trastuzumab_common(),
            EffectEntry(
                IHC2_ISH_POS, 1.0, None, ("N9831.trastuzumab.DFS.IHC0to2ISHpos",),
                "assumption: N9831's 'no benefit for HER2 IHC 0–2+/FISH+ patients' (a 'suggests' sentence, over "
                "a group of categories) read as HR exactly 1 in IHC 2+/ISH+; it sets aside the review's graded "
                "summary and Atallah's benefit in ER-negative IHC 2+ tumours",
                "no benefit",
            ),
        ]),
        _TRAS_SCOPE,
        "trastuzumab",
        "no benefit in IHC 2+/ISH+ (HR 1), N9831's reading",
    )


_BUILDERS = (
    _t_dxd_map,
    _t_dxd_ultralow_ihc0,
    _t_dxd_ultralow_db06,
    _t_dxd_vs_her2_low,
    _t_dm1_map,
    _tki_map,
    _tki_no_ihc_effect,
    _trastuzumab_map,
    _trastuzumab_n9831,
)


@lru_cache(maxsize=1)
def _default_effect_maps() -> dict[str, EffectMap]:
    return effect_maps(load_evidence())


def effect_maps(evidence: pd.DataFrame | None = None) -> dict[str, EffectMap]:
    """All effect maps, built from the evidence table (default: the review's)."""
    if evidence is None:
        return dict(_default_effect_maps())
    return {m.name: m for m in (build(evidence) for build in _BUILDERS)}


def effect_map(name: str) -> EffectMap:
    """One effect map by name (case-insensitive): "T-DXd", "T-DM1", "TKI", "trastuzumab" or a named variant."""
    maps = _default_effect_maps()
    for key, value in maps.items():
        if key.lower() == str(name).strip().lower():
            return value
    raise KeyError(f"unknown effect map {name!r}; available: {', '.join(maps)}")

__all__ = [
    "STATUS_KINDS",
    "check_status",
    "status_kind",
    "EffectEntry",
    "EffectMap",
    "effect_maps",
    "effect_map",
]
