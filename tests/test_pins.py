"""Regression pins: each shipped scenario's full summary at a fixed seed, compared bit for bit.

Pins guard refactors; they are NOT correctness oracles: their numbers come
from our own code, as it was when they were made, so a matching pin means
"behaviour unchanged", not "behaviour right" (correctness is what the R
reference fixtures and the Monte-Carlo tests check).

One test per scenario in ``scenarios/*.yaml`` x hypothesis (H1: power, H0:
type I error), ``simtrial.power.run`` at ``n_sims=200`` and a fixed seed,
comparing the whole ``to_dict()`` (without ``versions``), the per-trial
frame's SHA-256 (``to_csv(float_format="%.17g")``), columns, dtypes and first
five rows; plus two ``simtrial.samplesize.sample_size`` searches (the flagship
``ihc3_deescalation_ni.yaml`` solving for events, ``tki_ihc_stratified.yaml``
for N at power 0.8).  What is pinned and how it is compared is defined once,
in ``tests/fixtures/make_pins.py``.

A failure lists the first differing paths with the pinned and the current
value.  If the change of behaviour is intended, regenerate with
``python tests/fixtures/make_pins.py`` (``--check`` compares without writing)
and explain every changed pin in the closing note.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("make_pins", Path(__file__).parent / "fixtures" / "make_pins.py")
make_pins = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(make_pins)


@pytest.mark.parametrize("name", make_pins.pin_names())
def test_pin(name: str) -> None:
    fresh = make_pins.compute(name)
    differences = make_pins.compare(name, make_pins.load(name), fresh)
    if differences:
        pytest.fail(make_pins.report(name, differences), pytrace=False)


def test_no_orphan_pins() -> None:
    """Every pin file belongs to a current scenario or sample-size pin (a renamed scenario leaves one)."""
    expected = set(make_pins.pin_names())
    orphans = sorted(p.name for p in make_pins.PIN_DIR.glob("*.json") if p.stem not in expected)
    assert not orphans, (
        f"pin files without a scenario: {orphans}; regenerate with `{make_pins.REGENERATE}` "
        "(which deletes them) and explain the change in the closing note"
    )


def test_comparison_is_bit_for_bit() -> None:
    """The comparison itself: floats by their bits, types strictly, NaN/inf/None kept apart, key order seen."""
    rt = make_pins.roundtrip
    x = 0.1 + 0.2
    assert not make_pins.diff(rt({"a": [x, math.nan, math.inf, None, -0.0, 1, True]}),
                              rt({"a": [x, math.nan, math.inf, None, -0.0, 1, True]}))
    for old, new in [
        (x, math.nextafter(x, 1.0)),  # one ulp
        (0.0, -0.0),
        (1, 1.0),
        (1, True),
        (math.nan, None),
        (math.inf, -math.inf),
        (math.nan, 0.0),
    ]:
        assert make_pins.diff(rt({"v": old}), rt({"v": new})) == [("v", rt(old), rt(new))], (old, new)
    paths = [p for p, _, _ in make_pins.diff(rt({"a": {"b": [1, 2], "c": 1}, "d": 1}),
                                             rt({"a": {"b": [1, 3, 4]}, "d": 1, "e": 2}))]
    assert paths == ["a.b[1]", "a.b.<length>", "a.c", "e"]
    assert make_pins.diff({"a": 1, "b": 2}, {"b": 2, "a": 1}) == [("<key order>", ["a", "b"], ["b", "a"])]
