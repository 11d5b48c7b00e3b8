"""Same seed, same numbers: whatever the thread count, chunking or trial offset.

Each trial's random stream depends only on (seed, trial index), so a run is
bit-identical across thread counts (checked in fresh subprocesses with
NUMBA_NUM_THREADS=1 and 2, comparing a SHA-256 of the output arrays), with or
without a progress callback (which splits the run into chunks), and a run
starting at ``first_trial`` reproduces the matching rows of a longer run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from simtrial.simulate import simulate

SPEC_SOURCE = textwrap.dedent(
    """
    from simtrial.spec import Accrual, Arm, Cut, Population, Subgroup, TrialSpec, dropout_hazard
    from simtrial.survival import CureMixture, Exponential, Weibull

    def make_spec():
        ctrl = {1: Exponential(median_months=8.0), 3: Weibull(1.3, 12.0),
                5: CureMixture(0.2, Exponential(median_months=6.0))}
        expt = {k: m.with_hazard_ratio(0.75) for k, m in ctrl.items()}
        h = dropout_hazard(0.05, 12)
        return TrialSpec(
            population=Population(mix={1: 0.3, 3: 0.3, 5: 0.4}),
            control=Arm("control", ctrl, h), experimental=Arm("experimental", expt, h),
            n_patients=300, accrual=Accrual(duration_months=18), allocation=(1, 2),
            cuts=(Cut(60), Cut(120, calendar_months=30.0), Cut(calendar_months=36.0)),
            subgroups=(Subgroup("ihc3", (5,)),), fh_rho=0.0, fh_gamma=1.0, landmark_months=(6.0, 12.0),
        )
    """
)
namespace: dict = {}
exec(SPEC_SOURCE, namespace)  # the subprocesses build the very same spec from this source
make_spec = namespace["make_spec"]

N_SIMS = 300
SEED = 4242


def digest(result) -> str:
    h = hashlib.sha256()
    for a in (result.stats, result.cut_months, result.enrolled, result.flags):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


CHILD = SPEC_SOURCE + textwrap.dedent(
    f"""
    import hashlib, numba, numpy as np
    from simtrial.simulate import simulate
    r = simulate(make_spec(), {N_SIMS}, {SEED})
    h = hashlib.sha256()
    for a in (r.stats, r.cut_months, r.enrolled, r.flags):
        h.update(np.ascontiguousarray(a).tobytes())
    print(numba.get_num_threads(), h.hexdigest())
    """
)


def _run_child(threads: int) -> tuple[int, str]:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300, check=True
    ).stdout.split()
    return int(out[-2]), out[-1]


@pytest.fixture(scope="module")
def reference():
    return simulate(make_spec(), N_SIMS, SEED)


def test_identical_across_thread_counts_in_fresh_processes(reference):
    one = _run_child(1)
    two = _run_child(2)
    assert one[0] == 1 and two[0] == 2  # the child really ran with that many threads
    assert one[1] == two[1] == digest(reference)


def test_identical_with_the_threads_argument(reference):
    assert digest(simulate(make_spec(), N_SIMS, SEED, threads=1)) == digest(reference)


def test_identical_with_and_without_progress(reference):
    calls: list[int] = []
    chunked = simulate(make_spec(), N_SIMS, SEED, progress=calls.append)
    assert sum(calls) == N_SIMS and len(calls) >= 2  # the run really was split into chunks
    assert digest(chunked) == digest(reference)


def test_first_trial_offset_reproduces_rows_of_a_longer_run(reference):
    tail = simulate(make_spec(), 100, SEED, first_trial=200)
    np.testing.assert_array_equal(tail.stats, reference.stats[200:])
    np.testing.assert_array_equal(tail.cut_months, reference.cut_months[200:])
    np.testing.assert_array_equal(tail.enrolled, reference.enrolled[200:])
    np.testing.assert_array_equal(tail.flags, reference.flags[200:])
    # a shorter run is a prefix of a longer one
    head = simulate(make_spec(), 37, SEED)
    np.testing.assert_array_equal(head.stats, reference.stats[:37])


def test_different_seeds_and_trials_differ(reference):
    other = simulate(make_spec(), N_SIMS, SEED + 1)
    assert not np.array_equal(other.cut_months, reference.cut_months)
    assert digest(other) != digest(reference)
    # trials within a run are not copies of each other
    assert np.unique(reference.cut_months[:, 0]).size == N_SIMS


def test_result_records_its_seed_and_spec(reference):
    assert reference.seed == SEED and reference.n_sims == N_SIMS
    again = simulate(reference.spec, reference.n_sims, reference.seed)
    assert digest(again) == digest(reference)

