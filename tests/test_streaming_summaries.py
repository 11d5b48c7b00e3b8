"""Block-wise summaries (``run(per_trial=False)``, ``simtrial.summaries``) against the per-trial path.

The reference is numpy on the whole per-trial array (``np.median``,
``np.percentile``, ``np.mean``, ``np.std``) and ``power.run(per_trial=True)``
(which summarises its outcomes as one block).  Counts, integer-valued means
and order statistics must match bit for bit; means of real values (duration,
landmark survival, its SE, the observed information fraction, the average
hazard ratio at the mean final analysis time) within 1e-12 relative, the
summation order being the only difference.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

import simtrial.summaries as summaries
from simtrial.errors import InvalidInput
from simtrial.power import run
from simtrial.scenario import load_scenario, scenario_from_dict
from simtrial.summaries import BandMissed, Mean, Moments, OrderStatistics, median_at, percentile_at

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
#: figures that are means of real values: equal up to summation order
REAL_MEANS = ("mean_duration_months", "mean", "mc_se", "observed_information_fraction", "average_hazard_ratio",
              "events_weighted_mean_hazard_ratio", "schoenfeld_approximate", "analytic_power")


def _differences(a, b, path=""):
    """(path, a, b) where a and b differ: bitwise for everything but REAL_MEANS, rel 1e-12 for those."""
    out = []
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (path, list(a), list(b))
        for key in a:
            out += _differences(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _differences(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        last = path.rsplit(".", 1)[-1]
        if last in REAL_MEANS or path.startswith(".analytic_power"):
            if not (a == b or abs(a - b) <= 1e-12 * abs(a)):
                out.append((path, a, b))
        elif not (a == b or (math.isnan(a) and math.isnan(b))):
            out.append((path, a, b))
    elif type(a) is not type(b) or a != b:
        out.append((path, a, b))
    return out


def _summary(result) -> dict:
    d = result.to_dict()
    d.pop("versions")
    return d


# --- numpy's order statistics, reproduced ------------------------------------------------------


def _samples(rng):
    for m in list(range(1, 40)) + [99, 100, 1001, 4096]:
        yield rng.normal(size=m)
        yield rng.integers(0, 5, size=m).astype(float)  # ties
        v = rng.exponential(size=m)
        v[rng.random(m) < 0.3] = np.inf  # "median not reached"
        yield v
        w = rng.normal(size=m)
        w[rng.random(m) < 0.1] = -np.inf
        yield w


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf, in numpy's percentile as in ours
def test_median_and_percentile_of_a_sorted_stream_are_numpys_bits() -> None:
    rng = np.random.default_rng(11)
    for v in _samples(rng):
        s = np.sort(v)

        def at(i, s=s):
            return float(s[i])

        for want, got in [(np.median(v), median_at(v.size, at))] + [
            (np.percentile(v, q), percentile_at(v.size, q, at)) for q in (2.5, 95, 97.5, 50, 0.0, 100.0)
        ]:
            assert np.array_equal(np.float64(want), np.float64(got), equal_nan=True), (v.size, want, got)
    ints = rng.integers(1000, 1100, size=777)
    s = np.sort(ints)
    assert percentile_at(ints.size, 95, lambda i: float(s[i])) == float(np.percentile(ints, 95))


@pytest.mark.parametrize("kind", ["normal", "ties", "inf", "nan", "lognormal"])
def test_order_statistics_over_blocks_are_exact_and_keep_a_band(monkeypatch, kind: str) -> None:
    monkeypatch.setattr(summaries, "MIN_PILOT", 500)
    rng = np.random.default_rng(hash(kind) % 2**32)
    n = 60_000
    v = {"normal": rng.normal(1.0, 0.2, n), "ties": np.round(rng.normal(0, 1, n), 1),
         "lognormal": rng.lognormal(0, 2, n)}.get(kind)
    if kind == "inf":
        v = rng.exponential(20, n)
        v[rng.random(n) < 0.45] = np.inf
    if kind == "nan":
        v = rng.uniform(0, 1, n)
        v[rng.random(n) < 0.2] = np.nan
    order = OrderStatistics((0.025, 0.5, 0.975), n)
    for start in range(0, n, 1000):
        order.add(v[start:start + 1000])
    ok = v[~np.isnan(v)]
    assert order.count == ok.size
    assert order.median() == float(np.median(ok))
    for q in (2.5, 97.5):
        assert np.array_equal(order.percentile(q), np.percentile(ok, q), equal_nan=True), q
    # kept: a band of w = 10 sqrt(2 q (1 - q) / p) + 2 / p either side of each quantile of the p = 1000-value pilot
    # (45% of the values at the median, 14% at each tail), far from every value
    bound = sum(2 * (10 * math.sqrt(2 * q * (1 - q) / 1000) + 2 / 1000) for q in (0.025, 0.5, 0.975)) + 0.02
    assert order.kept <= bound * n


def test_one_piece_keeps_every_value_and_a_miss_is_reported(monkeypatch) -> None:
    v = np.random.default_rng(3).normal(size=5000)
    whole = OrderStatistics((0.5,), 5000)
    whole.add(v)
    assert whole.bands is None and whole.kept == 5000 and whole.median() == float(np.median(v))
    monkeypatch.setattr(summaries, "MIN_PILOT", 100)
    drifting = OrderStatistics((0.5,), 5000, band_sigmas=1.0)
    drifting.add(v[:1000] - 5.0)  # a pilot from another distribution: the band lies far below the median
    drifting.add(v[1000:])
    with pytest.raises(BandMissed):
        drifting.median()


def test_means_and_moments_are_numpys_for_one_block_and_merge_across_blocks() -> None:
    rng = np.random.default_rng(5)
    v = rng.uniform(0.3, 0.9, 10_001)
    v[rng.random(v.size) < 0.05] = np.nan
    one, nan_one, mom = Mean(), Mean(nan=True), Moments()
    one.add(v)
    nan_one.add(v)
    ok = v[~np.isnan(v)]
    mom.add(ok)
    assert math.isnan(one.value()) and nan_one.value() == float(np.nanmean(v))
    assert mom.mean() == float(ok.mean()) and mom.std() == float(ok.std(ddof=1))
    blocks, merged = Mean(nan=True), Moments()
    for start in range(0, v.size, 777):
        blocks.add(v[start:start + 777])
        piece = v[start:start + 777]
        merged.add(piece[~np.isnan(piece)])
    assert blocks.value() == pytest.approx(float(np.nanmean(v)), rel=1e-13)
    assert merged.mean() == pytest.approx(float(ok.mean()), rel=1e-13)
    assert merged.std() == pytest.approx(float(ok.std(ddof=1)), rel=1e-12)
    counts = Mean()
    for start in range(0, 10_001, 333):
        counts.add(np.arange(start, min(start + 333, 10_001)))
    assert counts.value() == float(np.mean(np.arange(10_001)))  # integers: exact in any order


# --- runs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ihc3_deescalation_ni", "ihc3_deescalation_ni_gs", "tdxd_her2_spectrum",
                                  "adjuvant_nph_waning_rmst"])
@pytest.mark.parametrize("null", [False, True])
def test_streamed_run_equals_the_per_trial_run(monkeypatch, name: str, null: bool) -> None:
    monkeypatch.setattr(summaries, "MIN_PILOT", 300)  # so the bands are chosen after the first block
    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    full = run(sc, n_sims=2503, seed=17, null=null)
    streamed = run(sc, n_sims=2503, seed=17, null=null, per_trial=False, block_trials=400)
    assert streamed.outcomes is None and full.outcomes is not None
    assert not _differences(_summary(full), _summary(streamed))
    one_block = run(sc, n_sims=2503, seed=17, null=null, per_trial=False)
    assert _summary(one_block) == _summary(full)  # one block: bit for bit, NaN-free JSON
    with pytest.raises(InvalidInput, match="per_trial=True"):
        streamed.per_trial_frame()


def _two_sided_capped(seed: int) -> dict:
    """Two-sided group-sequential, the final look capped by a calendar time: trials differ in information."""
    return {
        "name": "two-sided GS, calendar-capped",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"median_months": 12}}},
                 "experimental": {"survival": {"all": {"hazard_ratio": 0.75}}}},
        "n_patients": 400,
        "accrual": {"duration_months": 24},
        "analysis": {"alpha": 0.05, "sided": 2, "target_events": 300, "calendar_months": 34,
                     "landmark_months": [12],
                     "sequential": {"information_fractions": [0.5, 0.75, 1.0]}},
        "simulation": {"n_sims": 1000, "seed": seed},
    }


@pytest.mark.parametrize("sided", [1, 2])
def test_looks_with_trial_specific_information_merge_exactly(monkeypatch, sided: int) -> None:
    monkeypatch.setattr(summaries, "MIN_PILOT", 300)
    d = _two_sided_capped(23)
    d["analysis"]["sided"] = sided
    sc = scenario_from_dict(d)
    full = run(sc, n_sims=1801, seed=23)
    fractions = full.outcomes.estimates["analysis_population_events"] / 300
    assert np.unique(np.round(fractions, 12)).size > 5  # the final look's information varies between trials
    streamed = run(sc, n_sims=1801, seed=23, per_trial=False, block_trials=250)
    assert not _differences(_summary(full), _summary(streamed))
    assert full.looks[-1]["z_efficacy"] == streamed.looks[-1]["z_efficacy"]


def test_enrichment_screening_figures_equal_one_draw_of_every_trial(monkeypatch) -> None:
    import simtrial.designs.time_to_event as tte

    d = copy.deepcopy(dict(load_scenario(SCENARIOS / "tki_ihc_stratified.yaml").resolved))
    d["design"] = "enrichment"
    d["population"]["eligible"] = ["IHC 3+", "IHC 2+/ISH+"]
    sc = scenario_from_dict(d)
    monkeypatch.setattr(tte, "_SCREENING_CHUNK", 97)
    result = run(sc, n_sims=1500, seed=9)
    streamed = run(sc, n_sims=1500, seed=9, per_trial=False, block_trials=600)
    n, p = result.outcomes.n_patients, sc.population.eligible_fraction
    screened = n + np.random.default_rng([9, 0x5C4EE7]).negative_binomial(n, p, size=1500)
    assert result.details["screened_mean"] == float(np.mean(screened))
    assert result.details["screened_p95"] == float(np.percentile(screened, 95))
    assert streamed.details["screened_mean"] == result.details["screened_mean"]
    assert streamed.details["screened_p95"] == result.details["screened_p95"]


def test_a_missed_band_reruns_keeping_every_trial(monkeypatch) -> None:
    sc = load_scenario(SCENARIOS / "ihc3_deescalation_ni.yaml")
    full = run(sc, n_sims=900, seed=4)

    def missed(self, rank):
        raise BandMissed("forced")

    monkeypatch.setattr(OrderStatistics, "value", missed)
    with pytest.raises(BandMissed):
        run(sc, n_sims=900, seed=4)  # the per-trial path has nothing to fall back on
    monkeypatch.undo()
    calls = []
    original = OrderStatistics.value

    def once(self, rank):
        if not calls:
            calls.append(rank)
            raise BandMissed("forced")
        return original(self, rank)

    monkeypatch.setattr(OrderStatistics, "value", once)
    again = run(sc, n_sims=900, seed=4, per_trial=False, block_trials=300)
    assert calls and again.outcomes is not None  # the rerun kept the trials
    assert _summary(again) == _summary(full)


def test_binary_designs_and_assurance_parameters_keep_the_per_trial_path() -> None:
    sc = load_scenario(SCENARIOS / "neoadjuvant_pcr_by_ihc.yaml")
    a = run(sc, n_sims=700, seed=2, per_trial=False)
    assert a.outcomes is not None and _summary(a) == _summary(run(sc, n_sims=700, seed=2))


def test_streamed_memory_is_one_block_plus_the_bands(monkeypatch) -> None:
    """What grows with n_sims is only the values kept for order statistics: a few % of the trials."""
    from simtrial.designs import get_design

    sc = load_scenario(SCENARIOS / "ihc3_deescalation_ni.yaml")
    design = get_design(sc.design, sc.endpoint)
    streamed = design.run_streamed(sc, n_sims=24_000, seed=8, block_trials=4_000)
    s = streamed.summary
    assert streamed.blocks == 6

    def band(q: float, p: int = 4_000) -> float:  # share of the trials a band keeps (summaries module docstring)
        w = 10 * math.sqrt(2 * q * (1 - q) / p) + 2 / p
        return min(q + w, 1.0) - max(q - w, 0.0)

    hr = band(0.025) + band(0.5) + band(0.975)
    assert s.hazard_ratio.bands is not None and s.hazard_ratio.kept <= (hr + 0.02) * 24_000
    # hazard ratio, two KM medians, 2 populations x 2 landmarks x 2 arms at their 2.5 and 97.5 percentiles
    everything = hr + 2 * band(0.5) + 8 * (band(0.025) + band(0.975))
    assert s.kept_values <= (everything + 0.1) * 24_000 < 11 * 24_000


def test_block_trials_must_be_a_positive_integer() -> None:
    sc = load_scenario(SCENARIOS / "ihc3_deescalation_ni.yaml")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(InvalidInput, match="block_trials"):
            run(sc, n_sims=10, per_trial=False, block_trials=bad)


def test_cli_run_summarises_block_by_block_unless_trials_are_written(monkeypatch, tmp_path: Path) -> None:
    import json

    import simtrial_cli.run_cmds as run_cmds
    from click.testing import CliRunner
    from simtrial_cli.main import main

    seen = []
    real = run_cmds.run

    def spy(*args, **kwargs):
        seen.append(kwargs.get("per_trial"))
        return real(*args, **kwargs)

    monkeypatch.setattr(run_cmds, "run", spy)
    scenario = str(SCENARIOS / "ihc3_deescalation_ni.yaml")
    runner = CliRunner()
    printed = runner.invoke(main, ["run", scenario, "--sims", "300", "--seed", "5", "--format", "json", "--quiet"])
    assert printed.exit_code == 0, printed.output
    out = tmp_path / "out"
    written = runner.invoke(main, ["run", scenario, "--sims", "300", "--seed", "5", "--out", str(out), "--quiet"])
    assert written.exit_code == 0, written.output
    assert seen == [False, True]
    streamed, kept = json.loads(printed.stdout), json.loads((out / "summary.json").read_text())
    streamed.pop("versions")
    kept.pop("versions")
    assert streamed == kept
    assert (out / "trials.csv").read_text().count("\n") == 301
