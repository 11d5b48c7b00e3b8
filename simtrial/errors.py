"""What counts as the user's mistake, and the bounds every entry point shares.

``InvalidInput`` is the one exception class meaning "the input is wrong": the
CLI maps it (and its subclass ``ScenarioError``) to exit code 2.  Any other
exception, a plain ``ValueError`` included, is a bug of ours and exits 1.  It
subclasses ``ValueError`` so code written against the earlier API keeps
catching it.

The bounds on ``seed`` and ``n_sims`` live here and nowhere else: the scenario
loader, ``run``, ``simulate``, ``sample_size`` and the CLI options all call
``check_seed`` / ``check_n_sims``.
"""

from __future__ import annotations

import numpy as np

MAX_SEED = 2**63 - 1
MAX_SIMS = 10_000_000
# Sizes a scenario may ask for (documented in scenarios/README.md); beyond them a run cannot fit
# a machine or the kernels' integer types, so validation refuses them before anything runs.
MAX_PATIENTS = 1_000_000
MAX_ALLOCATION = 1_000
MAX_BLOCK_MULTIPLE = 1_000
MAX_LIST_LENGTH = 50  # landmark_months, subgroups, rates_per_month


class InvalidInput(ValueError):
    """A value given by the user is outside what is allowed (the message says what is)."""


class BudgetExhausted(RuntimeError):
    """A search stopped at its simulation or time budget before its answer was confirmed."""


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_seed(value: object, name: str = "seed") -> int:
    """A seed: a whole number in [0, 2**63 - 1]."""
    if not _is_int(value) or not 0 <= int(value) <= MAX_SEED:
        raise InvalidInput(f"{name} must be a whole number in [0, 2**63 - 1], got {value!r}")
    return int(value)


def check_n_sims(value: object, name: str = "n_sims") -> int:
    """A number of simulated trials: a whole number in [1, 10,000,000]."""
    if not _is_int(value) or not 1 <= int(value) <= MAX_SIMS:
        raise InvalidInput(f"{name} must be a whole number in [1, {MAX_SIMS:,}], got {value!r}")
    return int(value)


def available_memory_bytes() -> int | None:
    """Memory the machine can give a new allocation (MemAvailable), or None where it cannot tell."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_memory(estimate_bytes: float, what: str) -> None:
    """Refuse a run whose estimated peak memory exceeds what the machine has available."""
    available = available_memory_bytes()
    if available is not None and estimate_bytes > 0.8 * available:
        raise InvalidInput(
            f"{what} would need about {estimate_bytes / 2**30:.3g} GiB, more than this machine has available "
            f"({available / 2**30:.3g} GiB); use fewer simulated trials (--sims) or a smaller design"
        )


def derive_seed(seed: int, stream: int) -> int:
    """A seed for a further independent run (a confirmation, a refinement) derived from ``seed``.

    splitmix64 of (seed, stream), folded into [0, 2**63 - 1]: never overflows,
    whatever the user's seed, and distinct streams give unrelated seeds.
    """
    mask = (1 << 64) - 1
    z = (int(seed) + 0x9E3779B97F4A7C15 * (int(stream) + 1)) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return z >> 1


__all__ = [
    "MAX_ALLOCATION",
    "MAX_BLOCK_MULTIPLE",
    "MAX_LIST_LENGTH",
    "MAX_PATIENTS",
    "MAX_SEED",
    "MAX_SIMS",
    "BudgetExhausted",
    "InvalidInput",
    "available_memory_bytes",
    "check_memory",
    "check_n_sims",
    "check_seed",
    "derive_seed",
]
