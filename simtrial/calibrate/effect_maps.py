"""Effect maps: the review's conclusions per therapy class x HER2 category, as hazard ratios with sources."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from simtrial.calibrate.hazard_ratios import hazard_ratio_from_medians
from simtrial.errors import InvalidInput
from simtrial.evidence import get_row, load_evidence
from simtrial.her2 import CATEGORIES, GROUPS, IHC0, IHC1, IHC2_ISH_NEG, IHC2_ISH_POS, IHC3, ULTRALOW

# --- effect maps: therapy class x HER2 category ----------------------------------


@dataclass(frozen=True)
class EffectEntry:
    """One HER2 category's effect in a map; ``hazard_ratio`` is None when the review gives only a direction."""

    category: int
    hazard_ratio: float | None
    median_months: float | None
    source_ids: tuple[str, ...]
    assumption: str
    direction: str | None = None

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.category]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["category_name"] = self.category_name
        out["source_ids"] = list(self.source_ids)
        return out


@dataclass(frozen=True)
class EffectMap:
    """How one therapy class's effect varies with HER2 IHC category, on one stated scale."""

    name: str
    therapy_class: str
    endpoint: str
    scale: str
    entries: tuple[EffectEntry, ...] = field(default=())

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
            "entries": [e.to_dict() for e in self.entries],
        }

    def to_frame(self) -> pd.DataFrame:
        rows = [{"map": self.name, "scale": self.scale, **e.to_dict()} for e in self.entries]
        frame = pd.DataFrame(rows)
        frame["source_ids"] = frame["source_ids"].map(", ".join)
        return frame


def _value(ev: pd.DataFrame, evidence_id: str) -> float:
    return float(get_row(evidence_id, ev)["value"])


def _t_dxd_map(ev: pd.DataFrame) -> EffectMap:
    pos, low, null = (f"DAISY.TDXd.PFS.median.{t}" for t in ("HER2pos", "HER2low", "IHC0"))
    m_ref = _value(ev, pos)
    exp_note = "exponential PFS in each DAISY cohort, so HR vs IHC 3+ = median(IHC 3+ or ISH+) / median(cohort)"
    low_hr = hazard_ratio_from_medians(_value(ev, low), m_ref).hazard_ratio
    low_entry = {"hazard_ratio": low_hr, "median_months": _value(ev, low)}
    entries = [
        EffectEntry(
            IHC3,
            1.0,
            m_ref,
            (pos,),
            "reference: DAISY pools IHC 3+ with ISH+ in one cohort (median 9.7 months)",
        ),
        EffectEntry(
            IHC2_ISH_POS,
            1.0,
            m_ref,
            (pos, "DB01.TDXd.ORR.IHC3", "DB01.TDXd.ORR.IHC2ISHpos"),
            "same as IHC 3+: DAISY reports one IHC 3+ or ISH+ cohort and DB-01 found no significant ORR difference",
        ),
        *(
            EffectEntry(
                code,
                source_ids=(low,),
                assumption=exp_note + "; both HER2-low categories share the cohort median",
                **low_entry,
            )
            for code in GROUPS["HER2-low"]
        ),
        EffectEntry(
            ULTRALOW,
            source_ids=(low, "DB06.TDXd.PFS.median.HER2low", "DB06.TDXd.PFS.median.HER2ultralow"),
            assumption="DAISY has no ultralow cohort; DB-06 reports the same median for HER2-low and HER2-ultralow, "
            "so ultralow takes the HER2-low value",
            **low_entry,
        ),
        EffectEntry(
            IHC0,
            hazard_ratio_from_medians(_value(ev, null), m_ref).hazard_ratio,
            _value(ev, null),
            (null,),
            exp_note + "; DAISY's IHC 0 cohort as the review labels it",
        ),
    ]
    return EffectMap(
        "T-DXd",
        "ADC",
        "PFS",
        "hazard ratio vs IHC 3+ on T-DXd",
        tuple(sorted(entries, key=lambda e: e.category)),
    )


def _tki_map(ev: pd.DataFrame) -> EffectMap:
    ref, pos2 = "NALA.pooled.PFS.median.IHC3", "NALA.pooled.PFS.median.IHC2ISHpos"
    hr = hazard_ratio_from_medians(_value(ev, pos2), _value(ev, ref)).hazard_ratio
    return EffectMap(
        "TKI",
        "TKI",
        "PFS",
        "hazard ratio vs IHC 3+ on the TKI",
        (
            EffectEntry(
                IHC2_ISH_POS,
                hr,
                _value(ev, pos2),
                (
                    pos2,
                    ref,
                    "PHILA.pyrotinib.progression.IHC1or2ISHpos",
                    "PHILA.pyrotinib.progression.IHC3",
                ),
                "exponential PFS: HR = 5.59 / 4.17 from NALA's neratinib and lapatinib arms pooled (no per-drug "
                "split reported), applied to every TKI; PHILA (pyrotinib) points the same way",
            ),
            EffectEntry(IHC3, 1.0, _value(ev, ref), (ref,), "reference category"),
        ),
    )


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
    low_note = (
        "direction only: the review calls T-DM1's efficacy 'limited' in HER2-low; it gives no size, so the "
        "map holds no number and a scenario must state one"
    )
    return EffectMap(
        "T-DM1",
        "ADC",
        "iDFS",
        "hazard ratio vs IHC 3+ on T-DM1",
        (
            EffectEntry(IHC1, None, None, ("REVIEW.TDM1.HER2low",), low_note, "limited"),
            EffectEntry(IHC2_ISH_NEG, None, None, ("REVIEW.TDM1.HER2low",), low_note, "limited"),
            EffectEntry(
                IHC2_ISH_POS,
                1.0,
                None,
                sources,
                "the review reads KATHERINE (85% vs 88% at 3 years) and ATEMPT (96.9% vs 96.7% at 5 years) as "
                f"similar benefit, so HR 1; exponential fits to KATHERINE alone would give {data_hr:.2f}",
                "similar",
            ),
            EffectEntry(IHC3, 1.0, None, sources[1:2], "reference category"),
        ),
    )


def _trastuzumab_map(ev: pd.DataFrame) -> EffectMap:
    del ev  # direction-only evidence: nothing numeric to read
    return EffectMap(
        "trastuzumab",
        "mAb",
        "DFS/iDFS",
        "hazard ratio of adding trastuzumab vs not (within the category)",
        (
            *(
                EffectEntry(
                    code,
                    1.0,
                    None,
                    ("B47.trastuzumab.iDFS.HER2low",),
                    "NSABP B-47's 'no iDFS benefit' taken as HR exactly 1",
                    "no benefit",
                )
                for code in GROUPS["HER2-low"]
            ),
            EffectEntry(
                IHC2_ISH_POS,
                1.0,
                None,
                ("N9831.trastuzumab.DFS.IHC0to2ISHpos",),
                "N9831's 'no benefit' for IHC 0-2+/FISH+ taken as HR 1 and placed in IHC 2+/ISH+, the only "
                "ISH-positive category below 3+; ER status is ignored (Atallah saw a BCSS benefit in ER-negative "
                "IHC 2+ tumours only)",
                "no benefit",
            ),
            EffectEntry(
                IHC3,
                None,
                None,
                (
                    "N9831.trastuzumab.DFS.IHC3",
                    "CLEOPATRA.long_term_response.IHC3",
                    "NEOADJ.mAb.pCR.IHC3",
                    "ATALLAH.antiHER2.BCSS.IHC3",
                ),
                "direction only: benefit (HR < 1); the review gives no size, so a scenario must state one",
                "benefit",
            ),
        ),
    )


@lru_cache(maxsize=1)
def _default_effect_maps() -> dict[str, EffectMap]:
    return effect_maps(load_evidence())


def effect_maps(evidence: pd.DataFrame | None = None) -> dict[str, EffectMap]:
    """All effect maps, built from the evidence table (default: the review's)."""
    if evidence is None:
        return dict(_default_effect_maps())
    builders = (_t_dxd_map, _t_dm1_map, _tki_map, _trastuzumab_map)
    return {m.name: m for m in (build(evidence) for build in builders)}


def effect_map(name: str) -> EffectMap:
    """One effect map by name: "T-DXd", "T-DM1", "TKI" or "trastuzumab" (case-insensitive)."""
    maps = _default_effect_maps()
    for key, value in maps.items():
        if key.lower() == str(name).strip().lower():
            return value
    raise KeyError(f"unknown effect map {name!r}; available: {', '.join(maps)}")

__all__ = [
    "EffectEntry",
    "EffectMap",
    "effect_maps",
    "effect_map",
]
