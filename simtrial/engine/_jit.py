"""Numba settings in one place.

``cache=True`` so a second process loads compiled kernels from disk; no
``fastmath``: NaN and inf are legitimate values here (an unreached median is
+inf, an undefined statistic is NaN) and fastmath would let LLVM assume them
away.
"""

from __future__ import annotations

from numba import njit

kernel = njit(cache=True, nogil=True, error_model="numpy")
# inlined into its callers at numba's IR level: a call that passes records (namedtuples of arrays)
# costs a reference-count update per array they hold, each way (~0.5 us a call of generate_cohort)
inlined_kernel = njit(cache=True, nogil=True, error_model="numpy", inline="always")
parallel_kernel = njit(cache=True, nogil=True, parallel=True, error_model="numpy")
