"""Same seed, same numbers for a group-sequential MaxCombo run with 1 and 2 threads (fresh subprocesses):
the engine's scores block and the per-trial bounds (a deterministic lattice, one trial per prange
iteration) are bit-identical."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = textwrap.dedent(
    f"""
    import hashlib
    from dataclasses import replace
    import numpy as np
    import simtrial as st
    from simtrial.designs import DESIGNS
    sc = st.load_scenario({str(ROOT / "scenarios" / "adjuvant_nph_waning_maxcombo_gs.yaml")!r})
    sc = replace(sc, n_patients=300, analysis=replace(sc.analysis, target_events=90, calendar_months=None))
    out = DESIGNS["superiority"].run(sc, n_sims=64, seed=99)
    h = hashlib.sha256()
    for k in ("z_efficacy_look1", "z_efficacy_look2"):
        h.update(np.ascontiguousarray(out.estimates[k]).tobytes())
    h.update(np.ascontiguousarray(out.success).tobytes())
    h.update(repr([lk["z_efficacy"] for lk in out.details["looks"]]).encode())
    print(h.hexdigest())
    """
)


def _digest(threads: int) -> str:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_same_numbers_with_one_and_two_threads():
    assert _digest(1) == _digest(2)
