"""Entry shapes (issue 16, item 5): truncated exponential entry and a linear ramp-up to a steady rate.

Independent references, written here from the definitions rather than read
from ``simtrial.spec.accrual``:

- the entry CDFs in closed form: truncated exponential
  G(t) = (1 - exp(-g t)) / (1 - exp(-g R)); a ramp from rate r0 to the steady
  profile, G(t) = integral of the rate up to t over N (``_ramp_cdf``);
- sampled entry times: sorted, Kolmogorov-Smirnov against those CDFs at a
  fixed seed, and -- because the engine maps the same uniform order statistics
  through the inverse CDF whatever the law -- G(entry) equals, to rounding,
  the entries of the same trial under uniform entry over [0, 1];
- analytic enrolment and events (``simtrial.timeline``) within 4 MC SE of
  the simulated means on a design with each new shape;
- Lachin-Foulkes with exponential entry: the event probability against a
  numerical integral over the entry density (``scipy.integrate.quad``), the
  sample size against the formula written out here.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats
from scipy.integrate import quad

from simtrial.errors import InvalidInput
from simtrial.scenario import scenario_from_dict
from simtrial.scenario.errors import ScenarioError
from simtrial.simulate import patient_data, simulate
from simtrial.spec import Accrual, Arm, Cut, Population, TrialSpec
from simtrial.survival import Exponential

ROOT = Path(__file__).resolve().parents[1]
N = 4000
MODELS = {c: Exponential(median_months=12.0) for c in range(6)}


def _spec(accrual: Accrual, n: int = N, cuts: tuple[Cut, ...] | None = None) -> TrialSpec:
    return TrialSpec(population=Population(mix={5: 1.0}), control=Arm("c", MODELS, 0.0),
                     experimental=Arm("e", MODELS, 0.0), n_patients=n, accrual=accrual, cuts=cuts or (Cut(100),))


def _expo_cdf(gamma: float, r: float):
    return lambda t: np.clip((1.0 - np.exp(-gamma * np.asarray(t))) / (1.0 - math.exp(-gamma * r)), 0.0, 1.0)


def _ramp_cdf(rates, starts, ramp, r0, n):
    """G(t) for piecewise rates ramped up linearly from r0 over ``ramp`` months, by quad of the rate."""
    f0 = r0 / rates[0]

    def rate(t: float) -> float:
        j = max(k for k, s in enumerate(starts) if s <= t)
        return rates[j] * (f0 + (1.0 - f0) * t / ramp if t < ramp else 1.0)

    def enrolled(t: float) -> float:
        pts = sorted({*starts, ramp} - {0.0})
        return quad(rate, 0.0, t, points=[p for p in pts if p < t] or None, limit=200)[0]

    return lambda t: np.array([min(enrolled(float(x)), n) / n for x in np.atleast_1d(t)])


def _duration_ramp_cdf(duration: float, ramp: float):
    """Rate 0 -> 1 over ``ramp``, then 1 until ``duration``: G by the triangle and rectangle areas."""
    total = 0.5 * ramp + (duration - ramp)

    def cdf(t):
        t = np.clip(np.asarray(t, dtype=float), 0.0, duration)
        return np.where(t < ramp, 0.5 * t * t / ramp, 0.5 * ramp + (t - ramp)) / total

    return cdf


SHAPES: dict[str, tuple[Accrual, Any]] = {
    "expo_front": (Accrual(duration_months=24, exponential_gamma_per_month=0.15), _expo_cdf(0.15, 24.0)),
    "expo_back": (Accrual(duration_months=24, exponential_gamma_per_month=-0.08), _expo_cdf(-0.08, 24.0)),
    "ramp_duration": (Accrual(duration_months=24, ramp_up_months=6), _duration_ramp_cdf(24.0, 6.0)),
    "ramp_whole_duration": (Accrual(duration_months=24, ramp_up_months=24), _duration_ramp_cdf(24.0, 24.0)),
    "ramp_rate": (Accrual(rates_per_month=(40.0,), ramp_up_months=6), _ramp_cdf((40.0,), (0.0,), 6.0, 0.0, N)),
    "ramp_pieces_from_r0": (
        Accrual(rates_per_month=(20.0, 60.0), start_months=(0.0, 8.0), ramp_up_months=12, ramp_start_rate_per_month=4),
        _ramp_cdf((20.0, 60.0), (0.0, 8.0), 12.0, 4.0, N),
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_sampled_entry_follows_the_exact_cdf_and_stays_sorted(name: str) -> None:
    accrual, cdf = SHAPES[name]
    law = accrual.entry_distribution(N)
    uniform = patient_data(_spec(Accrual(duration_months=1.0)), seed=11, trial=2)["entry_months"].to_numpy()
    for trial in (0, 2):
        entry = patient_data(_spec(accrual), seed=11, trial=trial)["entry_months"].to_numpy()
        assert np.all(np.diff(entry) >= 0.0)
        assert entry[0] >= 0.0 and entry[-1] <= law.duration_months
        assert stats.kstest(entry, cdf).pvalue > 0.001
    # the same uniform order statistics, through the exact inverse: G(entry) is the uniform-entry draw
    np.testing.assert_allclose(cdf(entry), uniform, rtol=0.0, atol=1e-9)
    # and the spec's own CDF is the independent one
    grid = np.linspace(0.0, law.duration_months, 97)
    np.testing.assert_allclose(law.cdf(grid), cdf(grid), atol=1e-9)


def test_ramp_durations_from_the_rates() -> None:
    # 40 / month after a 6-month ramp from 0: 120 in the ramp, then (N - 120) / 40
    assert SHAPES["ramp_rate"][0].duration_for(N) == pytest.approx(6.0 + (N - 120.0) / 40.0, rel=1e-12)
    # 20 -> 60 at month 8, ramp from 4 over 12 months: areas of two trapezoids, then 60 / month
    f = lambda t: 0.2 + 0.8 * t / 12  # noqa: E731
    in_ramp = 0.5 * (20 * f(0) + 20 * f(8)) * 8 + 0.5 * (60 * f(8) + 60) * 4
    assert SHAPES["ramp_pieces_from_r0"][0].duration_for(N) == pytest.approx(12.0 + (N - in_ramp) / 60.0, rel=1e-12)
    # a ramp that is not reached: every patient enrols inside it (rate 2t: t^2 = 30 patients at sqrt(30))
    short = Accrual(rates_per_month=(12.0,), ramp_up_months=6)
    assert short.duration_for(30) == pytest.approx(math.sqrt(30.0), rel=1e-12)


def test_quantile_inverts_the_cdf_on_every_piece() -> None:
    u = np.linspace(0.0, 1.0, 2001)
    for accrual, _ in SHAPES.values():
        law = accrual.entry_distribution(N)
        np.testing.assert_allclose(law.cdf(law.quantile(u)), u, atol=1e-12)
        assert np.all(np.diff(law.quantile(u)) >= 0.0)


def test_extreme_shapes_stay_sorted_and_inside_the_accrual() -> None:
    for gamma in (8.0, -8.0, 1e-9, -1e-9):
        entry = patient_data(_spec(Accrual(duration_months=24, exponential_gamma_per_month=gamma)),
                             seed=5)["entry_months"].to_numpy()
        assert np.all(np.diff(entry) >= 0.0) and entry[0] >= 0.0 and entry[-1] <= 24.0
    # gamma -> 0 is uniform entry
    near = patient_data(_spec(Accrual(duration_months=24, exponential_gamma_per_month=1e-9)), seed=5)
    flat = patient_data(_spec(Accrual(duration_months=24)), seed=5)
    np.testing.assert_allclose(near["entry_months"], flat["entry_months"], atol=1e-6)


def test_old_accruals_have_only_uniform_pieces_and_the_same_table() -> None:
    for acc in (Accrual(duration_months=18), Accrual(rates_per_month=(10.0, 30.0), start_months=(0.0, 6.0))):
        law = acc.entry_distribution(600)
        breaks, cum = acc.entry_law(600)
        assert (law.kind == 0).all() and (law.shape == 0.0).all()
        np.testing.assert_array_equal(law.breaks, breaks)
        np.testing.assert_array_equal(law.cum, cum)
        # the quantile is np.interp on the table: what every analytic caller computed before shapes
        u = np.random.default_rng(1).random(50)
        np.testing.assert_array_equal(law.quantile(u), np.interp(u, cum, breaks))
    with pytest.raises(InvalidInput, match="entry_distribution"):
        Accrual(duration_months=18, ramp_up_months=3).entry_law(600)


def test_same_numbers_whatever_the_threads() -> None:
    spec = _spec(SHAPES["ramp_pieces_from_r0"][0], n=500, cuts=(Cut(200), Cut(None, 30.0)))
    a = simulate(spec, 64, 7, threads=1)
    b = simulate(spec, 64, 7, threads=2)
    np.testing.assert_array_equal(a.stats, b.stats)
    np.testing.assert_array_equal(a.cut_months, b.cut_months)


# --- the scenario file --------------------------------------------------------------------------

def _scenario(accrual: dict[str, Any], **over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "entry shapes",
        "design": "superiority",
        "population": {"mix": {"IHC 3+": 1.0}},
        "arms": {"control": {"survival": {"all": {"median_months": 12}}, "dropout": {"hazard_per_month": 0.005}},
                 "experimental": {"survival": {"all": {"hazard_ratio": 0.7}},
                                  "dropout": {"hazard_per_month": 0.005}}},
        "n_patients": 500,
        "accrual": accrual,
        "analysis": {"target_events": 300},
        "simulation": {"n_sims": 200, "seed": 16},
    }
    d.update(over)
    return d


GOOD = {
    "expo": {"duration_months": 20, "exponential_gamma_per_month": 0.1},
    "ramp": {"duration_months": 20, "ramp_up_months": 6},
    "ramp_rates": {"rates_per_month": [10, 40], "start_months": [0, 4], "ramp_up_months": 6,
                   "ramp_start_rate_per_month": 2},
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_resolved_scenario_round_trips(name: str) -> None:
    sc = scenario_from_dict(_scenario(GOOD[name]), "s.yaml")
    again = scenario_from_dict(sc.resolved, "resolved.yaml")
    assert again.accrual == sc.accrual
    assert again.resolved["accrual"] == sc.resolved["accrual"]
    for key, value in GOOD[name].items():
        assert sc.resolved["accrual"][key] == value
    from simtrial.designs._survival import build_spec

    a = simulate(build_spec(sc), 20, 3)
    b = simulate(build_spec(again), 20, 3)
    np.testing.assert_array_equal(a.stats, b.stats)


def test_uniform_accrual_resolves_as_before() -> None:
    sc = scenario_from_dict(_scenario({"duration_months": 20}))
    assert sc.resolved["accrual"] == {"duration_months": 20.0}


BAD = {
    "gamma zero": ({"duration_months": 20, "exponential_gamma_per_month": 0}, "accrual.exponential_gamma_per_month",
                   "uniform"),
    "gamma too steep": ({"duration_months": 20, "exponential_gamma_per_month": 11},
                        "accrual.exponential_gamma_per_month", "200"),
    "gamma not a number": ({"duration_months": 20, "exponential_gamma_per_month": "fast"},
                           "accrual.exponential_gamma_per_month", "number"),
    "gamma with rates": ({"rates_per_month": [20], "exponential_gamma_per_month": 0.1},
                         "accrual.exponential_gamma_per_month", "duration_months"),
    "two shapes": ({"duration_months": 20, "exponential_gamma_per_month": 0.1, "ramp_up_months": 3},
                   "accrual.ramp_up_months", "one entry shape"),
    "ramp negative": ({"duration_months": 20, "ramp_up_months": -2}, "accrual.ramp_up_months", "> 0"),
    "ramp beyond duration": ({"duration_months": 20, "ramp_up_months": 30}, "accrual.ramp_up_months",
                             "must not exceed duration_months"),
    "start rate with duration": ({"duration_months": 20, "ramp_up_months": 3, "ramp_start_rate_per_month": 2},
                                 "accrual.ramp_start_rate_per_month", "rates_per_month"),
    "start rate above rate": ({"rates_per_month": [20], "ramp_up_months": 3, "ramp_start_rate_per_month": 25},
                              "accrual.ramp_start_rate_per_month", "below the first rates_per_month"),
    "start rate without ramp": ({"rates_per_month": [20], "ramp_start_rate_per_month": 5},
                                "accrual.ramp_start_rate_per_month", "ramp_up_months"),
    "ramp to a zero rate": ({"rates_per_month": [0, 20], "start_months": [0, 3], "ramp_up_months": 6},
                            "accrual.ramp_up_months", "which is 0"),
    "misspelt": ({"duration_months": 20, "ramp_months": 6}, "accrual.ramp_months", "ramp_up_months"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_entry_shapes_are_refused_naming_the_field(case: str) -> None:
    accrual, path, allowed = BAD[case]
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_scenario(accrual), "bad.yaml")
    text = str(err.value)
    assert "bad.yaml" in text and path in text and allowed in text, text


def test_cli_refuses_a_bad_gamma_with_exit_2(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from simtrial_cli.main import main

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_scenario({"duration_months": 20, "exponential_gamma_per_month": 0})))
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    assert "accrual.exponential_gamma_per_month" in res.output and "Traceback" not in res.output


# --- analytic side --------------------------------------------------------------------------------

def _simulated_vs_analytic(sc, times: list[float], n_sims: int, seed: int) -> None:
    from simtrial.designs._survival import build_spec
    from simtrial.engine import layout
    from simtrial.timeline import expected_events, timeline

    spec = build_spec(sc)
    spec = TrialSpec(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__},
                        "cuts": tuple(Cut(None, t) for t in times)})
    res = simulate(spec, n_sims, seed)
    ev = res.stats[:, :, 0, layout.EVENTS_CONTROL] + res.stats[:, :, 0, layout.EVENTS_EXPERIMENTAL]
    ours = expected_events(sc, times)["total"]
    tl = timeline(sc, times)
    law = sc.accrual.entry_distribution(sc.n_patients)
    for j, t in enumerate(times):
        se = ev[:, j].std(ddof=1) / math.sqrt(n_sims)
        assert abs(ev[:, j].mean() - ours[j]) <= 4 * se, (t, ev[:, j].mean(), ours[j], se)
        n_in = res.enrolled[:, j]
        expected_in = sc.n_patients * float(law.cdf(t))
        se_in = max(n_in.std(ddof=1), 1e-12) / math.sqrt(n_sims)
        assert abs(n_in.mean() - expected_in) <= 4 * se_in + 1e-9, (t, n_in.mean(), expected_in)
        assert tl.enrolled[j] == pytest.approx(expected_in)


@pytest.mark.mc
@pytest.mark.parametrize("name", sorted(GOOD))
def test_mc_analytic_enrolment_and_events_within_4_se(name: str) -> None:
    sc = scenario_from_dict(_scenario(GOOD[name]))
    _simulated_vs_analytic(sc, [4.0, 8.0, 14.0, 20.0, 30.0], 800, 4100 + len(name))


def test_back_loaded_exponential_differs_from_uniform() -> None:
    """The shape has a visible effect: back-loaded entry gives fewer events early than uniform entry."""
    from simtrial.timeline import expected_events

    back = scenario_from_dict(_scenario({"duration_months": 20, "exponential_gamma_per_month": -0.15}))
    flat = scenario_from_dict(_scenario({"duration_months": 20}))
    assert expected_events(back, [12.0])["total"][0] < 0.8 * expected_events(flat, [12.0])["total"][0]


def _p_event_by_quad(lam: float, eta: float, r: float, t: float, gamma: float) -> float:
    """P(event observed by study time t): integral over entry u of g(u) x P(event within t - u of entry)."""
    mu = lam + eta
    density = lambda u: gamma * math.exp(-gamma * u) / (1.0 - math.exp(-gamma * r))  # noqa: E731
    within = lambda s: lam / mu * (1.0 - math.exp(-mu * s))  # noqa: E731
    return quad(lambda u: density(u) * within(t - u), 0.0, r, epsabs=1e-13, epsrel=1e-12)[0]


@pytest.mark.parametrize("gamma", [0.2, -0.1, 0.05])
def test_lachin_foulkes_exponential_entry_against_a_numerical_integral(gamma: float) -> None:
    from simtrial.stats.lachin_foulkes import event_probability

    for lam, eta, r, t in ((0.05, 0.0, 18.0, 30.0), (0.1, 0.01, 24.0, 36.0)):
        ours = event_probability(lam, r, t, eta, entry="exponential", entry_gamma=gamma)
        assert ours == pytest.approx(_p_event_by_quad(lam, eta, r, t, gamma), rel=1e-9)


def test_samplesize_prints_lachin_foulkes_with_the_scenarios_exponential_entry() -> None:
    from scipy.stats import norm

    from simtrial.timeline.sizes import analytic_sample_sizes, format_sizes

    lam, hr, eta, r, t, gamma = math.log(2) / 12, 0.7, 0.005, 20.0, 40.0, 0.1
    sc = scenario_from_dict(_scenario({"duration_months": r, "exponential_gamma_per_month": gamma},
                                      analysis={"calendar_months": t}))
    sizes = analytic_sample_sizes(sc, 0.9)
    lf = sizes["methods"]["lachin_foulkes"]
    # Lachin-Foulkes (1986) written out: 1:1, variance under H0 from the pooled hazard
    p_c, p_e = _p_event_by_quad(lam, eta, r, t, gamma), _p_event_by_quad(hr * lam, eta, r, t, gamma)
    p_bar = _p_event_by_quad(0.5 * (1 + hr) * lam, eta, r, t, gamma)
    z_a, z_b = norm.isf(0.025), norm.isf(0.1)
    n = ((z_a * math.sqrt(1 / (0.25 * p_bar)) + z_b * math.sqrt(2 / p_c + 2 / p_e)) / math.log(hr)) ** 2
    assert lf["patients_exact"] == pytest.approx(n, rel=1e-8)
    assert lf["events_exact"] == pytest.approx(n * 0.5 * (p_c + p_e), rel=1e-8)
    assert lf["entry"] == "exponential" and lf["entry_gamma_per_month"] == gamma
    assert any("Lachin-Foulkes" in line and "exponential entry" in line for line in format_sizes(sizes))
    # uniform entry needs more patients than front-loaded entry at the same study length
    flat = analytic_sample_sizes(scenario_from_dict(_scenario({"duration_months": r},
                                                              analysis={"calendar_months": t})), 0.9)
    assert flat["methods"]["lachin_foulkes"]["patients_exact"] > lf["patients_exact"]
    assert "entry" not in flat["methods"]["lachin_foulkes"]


def test_lachin_foulkes_refuses_a_ramp_saying_why() -> None:
    from simtrial.timeline.sizes import analytic_sample_sizes

    sc = scenario_from_dict(_scenario({"duration_months": 20, "ramp_up_months": 6}, analysis={"calendar_months": 40}))
    sizes = analytic_sample_sizes(sc, 0.9)
    assert "lachin_foulkes" not in sizes["methods"]
    assert "ramp" in sizes["notes"]["lachin_foulkes"]


# --- solving the timeline with a shape ---------------------------------------------------------------

def test_solve_accrual_duration_keeps_the_shape() -> None:
    from simtrial.timeline import expected_events
    from simtrial.timeline.solve import solve_timeline

    for accrual in ({"duration_months": 20, "exponential_gamma_per_month": -0.1},
                    {"duration_months": 20, "ramp_up_months": 6}):
        sc = scenario_from_dict(_scenario(accrual))
        sol = solve_timeline(sc, "accrual_months", target_events=300, followup_months=12,
                             accrual_rate_per_month=30)
        acc = copy.copy(accrual)
        acc["duration_months"] = sol.accrual_months
        n = 30 * (sol.accrual_months - 0.5 * accrual.get("ramp_up_months", 0.0))
        assert sol.n_patients_exact == pytest.approx(n, rel=1e-9)
        stretched = scenario_from_dict(_scenario(acc, n_patients=int(round(n))))
        # the expected events per patient at the solved analysis time is the target over N
        frac = expected_events(stretched, [sol.analysis_months], n_patients=10_000)["total"][0] / 10_000
        assert frac * n == pytest.approx(300, rel=1e-6)


def test_solve_followup_with_a_ramp_given_by_rates_uses_its_own_law() -> None:
    from simtrial.timeline import expected_events
    from simtrial.timeline.solve import solve_timeline

    sc = scenario_from_dict(_scenario(GOOD["ramp_rates"]))
    sol = solve_timeline(sc, "followup_months", target_events=300)
    assert sol.accrual_months == pytest.approx(sc.accrual.duration_for(500))
    assert expected_events(sc, [sol.analysis_months])["total"][0] == pytest.approx(300, rel=1e-6)
    for what, kw in (("accrual_months", {"followup_months": 12, "accrual_rate_per_month": 30}),
                     ("n_patients", {"accrual_months": 20, "study_months": 40})):
        with pytest.raises(InvalidInput, match="ramp-up given by rates_per_month"):
            solve_timeline(sc, what, target_events=300, **kw)
