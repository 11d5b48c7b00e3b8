"""Vectorisable elementary functions for the generation pass (no libm call in the loop).

numba has no SVML here, so a loop calling ``np.log`` runs one libm call per
element (~4 ns).  :func:`neg_log_inplace` is fdlibm's ``log`` (argument
reduction to [sqrt(1/2), sqrt(2)), the ``s = f / (2 + f)`` series with its
degree-14 minimax polynomial; error below 1 ulp), written branch-free over an
array so that LLVM vectorises it.  Not correctly rounded: it can differ from
libm in the last bit, which changes no distribution, only the exact doubles of
a seed.

Domain: positive, normal, finite doubles (uniform draws in (0, 1), Exp(1)
draws); nothing else is ever passed (no NaN, inf, zero or subnormal handling).
"""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import kernel

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT_HALF_BITS = np.int64(0x3FE6A09E667F3BCD)  # the bits of sqrt(1/2)


@kernel
def neg_log_inplace(values, lo, hi):
    """``values[i] = -log(values[i])`` for ``lo <= i < hi`` (domain: see the module docstring)."""
    bits = values.view(np.int64)
    for i in range(lo, hi):
        ix = bits[i]
        # k: exponent such that m = x / 2**k lies in [sqrt(1/2), sqrt(2))
        k = (ix - _SQRT_HALF_BITS) >> 52
        bits[i] = ix - (k << 52)
        f = values[i] - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
        hfsq = 0.5 * f * f
        dk = np.float64(k)
        values[i] = ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f) - dk * _LN2_HI
