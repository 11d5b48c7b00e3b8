"""The dask backend gives the local backend's numbers bit for bit, also when a worker is killed mid-run.

One LocalCluster of 2 single-threaded worker processes for the module.
Compared: per-trial arrays of the engine (``simulate``), the per-trial frames
and the whole summaries of ``power.run`` for a time-to-event, a
group-sequential and a binary scenario, at odd block sizes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from click.testing import CliRunner  # noqa: E402
from simtrial_cli.main import main  # noqa: E402
from test_executors import _spec, assert_same  # noqa: E402

from simtrial.distributed import DASK_MISSING, DaskExecutor, block_cuts  # noqa: E402
from simtrial.errors import InvalidInput  # noqa: E402
from simtrial.power import run  # noqa: E402
from simtrial.scenario import load_scenario  # noqa: E402
from simtrial.simulate import simulate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
SCENARIOS = {
    "time_to_event": ("ihc3_deescalation_ni.yaml", 400, 37),
    "group_sequential": ("ihc3_deescalation_ni_gs.yaml", 300, 53),
    "binary": ("neoadjuvant_pcr_by_ihc.yaml", 2500, 1),  # blocks round up to the 1024-trial seeding blocks
}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=50)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _summary(result) -> dict:
    d = result.to_dict()
    d.pop("versions")
    return d


def _same_runs(a, b) -> None:
    assert _summary(a) == _summary(b)
    fa, fb = a.per_trial_frame(), b.per_trial_frame()
    assert list(fa.columns) == list(fb.columns)
    for col in fa.columns:
        np.testing.assert_array_equal(fa[col].to_numpy(), fb[col].to_numpy(), err_msg=col)


@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_local_and_two_dask_workers_give_identical_per_trial_arrays_and_summaries(client, kind):
    name, n, block = SCENARIOS[kind]
    sc = load_scenario(ROOT / name)
    executor = DaskExecutor(client, block_trials=block)
    counted: list[int] = []
    _same_runs(run(sc, n_sims=n), run(sc, n_sims=n, executor=executor, progress=counted.append))
    assert sum(counted) == n and len(counted) >= 3  # progress per completed block
    _same_runs(run(sc, n_sims=n, null=True), run(sc, n_sims=n, null=True, executor=executor))


def test_engine_arrays_identical_for_any_block_size(client):
    reference = simulate(_spec(), 300, 20240611)
    for block in (1, 7, 300, 1000):
        assert_same(simulate(_spec(), 300, 20240611, executor=DaskExecutor(client, block_trials=block)), reference)


def test_workers_warmed_the_numba_cache_once_each(client):
    DaskExecutor(client)  # registers the warm-up plugin (idempotent)
    warmed = client.run(lambda dask_worker: getattr(dask_worker, "simtrial_warm_seconds", None))
    assert len(warmed) == 2 and all(isinstance(v, float) for v in warmed.values())


def test_a_worker_killed_mid_run_has_its_blocks_recomputed_with_identical_results(client):
    sc = load_scenario(ROOT / "ihc3_deescalation_ni.yaml")
    n = 3000
    reference = run(sc, n_sims=n)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    executor = DaskExecutor(client, block_trials=150)
    killed: list[int] = []

    def progress(k: int) -> None:
        if not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    result = run(sc, n_sims=n, executor=executor, progress=progress)
    assert killed
    _same_runs(reference, result)
    # the killed worker really held blocks: the scheduler sent them back from "processing" to be run again
    lost = [t for t in client.cluster.scheduler.transition_log
            if str(t[0]).startswith("simtrial-block-") and t[1] == "processing" and t[2] == "released"]
    assert lost
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it; the next test gets two workers again
    assert victim not in client.run(os.getpid).values()


def test_block_cuts_cover_every_trial_once_at_aligned_boundaries():
    assert block_cuts([(0, 10), (10, 25)], 10) == [(0, 10), (10, 20), (20, 25)]
    assert block_cuts([(5, 12), (30, 31)], 4) == [(5, 8), (8, 12), (30, 31)]
    assert block_cuts([(0, 3000)], 1000, align=1024) == [(0, 1024), (1024, 2048), (2048, 3000)]


def test_cli_run_on_a_dask_scheduler_prints_the_local_numbers(client):
    runner = CliRunner()
    path = str(ROOT / "ihc3_deescalation_ni_gs.yaml")
    local = json.loads(runner.invoke(main, ["run", path, "--sims", "200", "--format", "json"]).output)
    got = runner.invoke(main, ["run", path, "--sims", "200", "--format", "json", "--backend", "dask",
                               "--scheduler", client.scheduler.address, "--block-trials", "64"])
    assert got.exit_code == 0, got.output
    remote = json.loads(got.output)
    local.pop("versions"), remote.pop("versions")
    assert remote == local
    swept = runner.invoke(main, ["sweep", path, "--vary", "analysis.ni_margin=1.25,1.3", "--sims", "100", "--format",
                                 "json", "--backend", "dask", "--scheduler", client.scheduler.address])
    plain = runner.invoke(main, ["sweep", path, "--vary", "analysis.ni_margin=1.25,1.3", "--sims", "100",
                                 "--format", "json"])
    assert swept.exit_code == 0, swept.output
    assert json.loads(swept.output)["rows"] == json.loads(plain.output)["rows"]


def test_backend_options_are_checked():
    runner = CliRunner()
    path = str(ROOT / "ihc3_deescalation_ni.yaml")
    for args in (["--workers", "2"], ["--backend", "dask"], ["--backend", "dask", "--workers", "2", "--scheduler",
                                                            "tcp://127.0.0.1:1"]):
        got = runner.invoke(main, ["run", path, "--sims", "10", *args])
        assert got.exit_code == 2, got.output


def test_without_dask_the_backend_exits_2_saying_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    with pytest.raises(InvalidInput, match=r"pip install '\.\[dask\]'"):
        DaskExecutor(workers=1)
    got = CliRunner().invoke(main, ["run", str(ROOT / "ihc3_deescalation_ni.yaml"), "--sims", "10", "--backend",
                                    "dask", "--workers", "1"])
    assert got.exit_code == 2 and "pip install '.[dask]'" in got.output
    assert DASK_MISSING in got.output.replace("\n", " ") or "pip install" in got.output


def test_a_parameter_sweep_as_one_engine_run_on_dask_equals_local(client):
    """The sweep's points as variants of one engine run: identical rows on a 2-worker cluster (blocks crossing
    a variant boundary included) and locally."""
    from simtrial.spec.sweep import SweepPlan
    from simtrial.sweeps import sweep

    plan = SweepPlan.from_cli(['arms.experimental.survival["IHC 2+/ISH+"].hazard_ratio=1.0,1.3'])
    sc = load_scenario(ROOT / "ihc3_deescalation_ni.yaml")
    local = sweep(sc, plan, n_sims=130, seed=4)
    remote = sweep(sc, plan, n_sims=130, seed=4, executor=DaskExecutor(client, block_trials=45))
    assert local.rows == remote.rows
