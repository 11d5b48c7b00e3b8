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
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

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


@intrinsic
def _bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64 (a register move, unlike a view of an array)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, b):
    """The float64 whose IEEE-754 bits are the int64 ``b``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@kernel
def neg_log_inplace(values, lo, hi):
    """``values[i] = -log(values[i])`` for ``lo <= i < hi`` (domain: see the module docstring)."""
    # a slice and a loop from 0: with ``range(lo, hi)`` numba's negative-index wraparound
    # gives the load and the store addresses LLVM cannot prove equal, and it does not vectorise
    v = values[lo:hi]
    for i in range(hi - lo):
        ix = _bits(v[i])
        # k: exponent such that m = x / 2**k lies in [sqrt(1/2), sqrt(2))
        k = (ix - _SQRT_HALF_BITS) >> 52
        f = _from_bits(ix - (k << 52)) - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
        hfsq = 0.5 * f * f
        dk = np.float64(k)
        v[i] = ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f) - dk * _LN2_HI


# --- Weibull inversion without libm pow -------------------------------------------------------
#
# t = scale * (E / h) ** (1 / shape) = exp(a * log(E) + c), a = 1 / shape, c = log(scale) - a * log(h).
# libm's pow is one call per patient (~12 ns, most of the flagship's generation); here log and exp
# are fdlibm's polynomials written branch-free so that LLVM vectorises the loop.  Done in plain
# doubles, the rounding of log(E) alone costs |a log E| * 2**-53 relative in t (8e-15 at E = 1e-16,
# shape 0.5), so log(E) is kept as a double-double (hi + lo, the last two sums of fdlibm's log done
# exactly), a * log(E) + c as a double-double too (Dekker's exact product, no FMA: LLVM does not
# contract without fastmath), and exp takes the low part into its argument reduction.  What is left
# is fdlibm exp's error (< 1 ulp) and log's polynomial (2**-58 relative to log E).  Measured
# against an 80-bit long double evaluation (tests/test_engine_speed.py): below 1e-15 relative over
# E in [2**-60, 2**60], shape in [0.2, 20] and the Exp(1) draws of a trial.

_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two 26-bit halves
_INV_LN2 = 1.44269504088896338700e00
_P1 = 1.66666666666666019037e-01
_P2 = -2.77777777770155933842e-03
_P3 = 6.61375632143793436117e-05
_P4 = -1.65339022054652515390e-06
_P5 = 4.13813679705723846039e-08
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it rounds |v| < 2**51 to an integer in the low bits
_EXP_ARG_MAX = 1000.0  # exp of more is +inf, of less than -1000 is 0, as exp(+-1000) already are
_EXPONENT_BIAS = np.int64(1023)


@kernel
def _split(v):
    """(hi, lo) with hi + lo = v exactly and 26 significant bits in each (Veltkamp)."""
    t = _SPLIT * v
    hi = t - (t - v)
    return hi, v - hi


@kernel
def weibull_coefficients(scale, hazard_ratio, shape, out):
    """``out[:3]`` = (a, c_hi, c_lo) of t = exp(a log E + c) = scale * (E / h) ** a, a = 1 / shape.

    Once per model and trial (libm here: only the loop over patients must vectorise);
    c = log(scale) - a log(h) as a double-double, each log correctly rounded by libm
    and the product exact, so c is good to ~1 ulp of max(|log scale|, |a log h|).
    """
    a = 1.0 / shape
    a_hi, a_lo = _split(a)
    ls = np.log(scale)
    lh = np.log(hazard_ratio)
    # -a * lh exactly as p + pe (Dekker), then ls + p exactly as s + e (Knuth's two-sum)
    p = -a * lh
    l_hi, l_lo = _split(lh)
    pe = ((-a_hi * l_hi - p) - a_hi * l_lo - a_lo * l_hi) - a_lo * l_lo
    s = ls + p
    bb = s - ls
    e = (ls - (s - bb)) + (p - bb)
    out[0] = a
    out[1] = s
    out[2] = e + pe


@kernel
def weibull_times(e, model, coef, n, out, work_a, work_c_hi, work_c_lo):
    """``out[i] = exp(a log e[i] + c)`` for ``i < n``, (a, c) from row ``model[i]`` of ``coef``.

    ``coef`` rows start with :func:`weibull_coefficients`' three numbers; ``e`` positive,
    normal and finite (the Exp(1) draws).  The coefficients are gathered into the
    ``work_*`` arrays first ([n] each): a gather inside the arithmetic keeps LLVM
    from vectorising it.  No branch in the loop: results beyond the double range are
    +inf or 0 (subnormal results are rounded twice).
    """
    for i in range(n):
        j = model[i]
        work_a[i] = coef[j, 0]
        work_c_hi[i] = coef[j, 1]
        work_c_lo[i] = coef[j, 2]
    _weibull_times_contiguous(e, work_a, work_c_hi, work_c_lo, out, 0, n)


@kernel
def _weibull_times_contiguous(e, pa, pchi, pclo, out, lo, hi):
    """``out[i] = exp(pa[i] log e[i] + pchi[i] + pclo[i])`` for ``lo <= i < hi``: the vectorised loop."""
    ee = e[lo:hi]
    pa_ = pa[lo:hi]
    pchi_ = pchi[lo:hi]
    pclo_ = pclo[lo:hi]
    oo = out[lo:hi]
    for i in range(hi - lo):  # from 0 over slices: see neg_log_inplace
        x = ee[i]
        # log x = k ln2_hi + f - g (fdlibm), the last two sums exactly: H + L
        ix = _bits(x)
        k = (ix - _SQRT_HALF_BITS) >> 52
        m = _from_bits(ix - (k << 52))
        f = m - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
        hfsq = 0.5 * f * f
        dk = np.float64(k)
        g = hfsq - (s * (hfsq + r) + dk * _LN2_LO)
        t1 = f - g
        bb = t1 - f
        e1 = (f - (t1 - bb)) + (-g - bb)
        big = dk * _LN2_HI  # exact: ln2_hi has 32 trailing zero bits
        h_ = big + t1
        bb = h_ - big
        e2 = (big - (h_ - bb)) + (t1 - bb)
        l_ = e1 + e2
        # y = a (H + L) + c: the product a H exactly (Dekker), its sum with c_hi exactly
        a = pa_[i]
        a_hi, a_lo = _split(a)
        p = a * h_
        hh, hl = _split(h_)
        pe = ((a_hi * hh - p) + a_hi * hl + a_lo * hh) + a_lo * hl
        c_hi = pchi_[i]
        y = p + c_hi
        bb = y - p
        y_lo = ((p - (y - bb)) + (c_hi - bb)) + (pe + a * l_ + pclo_[i])
        y = min(max(y, -_EXP_ARG_MAX), _EXP_ARG_MAX)
        # exp(y + y_lo) = 2**n exp(rr), rr = y - n ln2 + y_lo in [-ln2/2, ln2/2] (fdlibm's exp)
        kd = y * _INV_LN2 + _ROUND_MAGIC
        n = _bits(kd) - _bits(_ROUND_MAGIC)
        kd -= _ROUND_MAGIC
        r_hi = y - kd * _LN2_HI
        r_lo = kd * _LN2_LO - y_lo
        rr = r_hi - r_lo
        z = rr * rr
        c = rr - z * (_P1 + z * (_P2 + z * (_P3 + z * (_P4 + z * _P5))))
        q = 1.0 - ((r_lo - (rr * c) / (2.0 - c)) - r_hi)
        # 2**n in two normal factors, so that overflow and underflow round as a product does
        n1 = n >> 1
        oo[i] = q * _from_bits((n1 + _EXPONENT_BIAS) << 52) * _from_bits((n - n1 + _EXPONENT_BIAS) << 52)
