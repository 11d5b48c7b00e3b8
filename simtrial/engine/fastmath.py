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
# are polynomials written branch-free so that LLVM vectorises the loop: fdlibm's log, and exp as
# 2**n times a degree-13 Taylor polynomial on [-ln2/2, ln2/2] (truncation 4e-18 relative), in
# Horner form with fused multiply-adds, which replaces fdlibm exp's division.  Plain doubles: log E
# is within 1 ulp, which costs up to |a log E| * 2**-52 relative in t, the rounding of
# y = a log E + c another |y| * 2**-53, exp a few ulps: below (4 + 2 |a log E| + |y|) * 2**-53,
# ~1e-15 for the shipped shapes (about 1) and Exp(1) draws, 5e-14 at worst for shape 0.2 and
# E = 2**-60 (a double-double pass, kept to 1e-15 everywhere, cost ~2 ns more a patient; a
# relative error of 1e-14 in an event time is far below anything a trial's statistics can show).
# Measured against an 80-bit long double evaluation in tests/test_engine_speed.py.
#
# ``_fma`` is LLVM's fused multiply-add: one instruction on every x86-64 CPU since 2013 and on
# ARM64, and correctly rounded wherever it runs (a libm call on a CPU without it), so the numbers
# do not depend on the machine.

_INV_LN2 = 1.44269504088896338700e00
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it rounds |v| < 2**51 to an integer in the low bits
_EXP_ARG_MAX = 1000.0  # exp of more is +inf, of less than -1000 is 0, as exp(+-1000) already are
_EXPONENT_BIAS = np.int64(1023)
# 1 / k! for k = 2 .. 13, each the double nearest
_E2 = 0.5
_E3 = 1.0 / 6.0
_E4 = 1.0 / 24.0
_E5 = 1.0 / 120.0
_E6 = 1.0 / 720.0
_E7 = 1.0 / 5040.0
_E8 = 1.0 / 40320.0
_E9 = 1.0 / 362880.0
_E10 = 1.0 / 3628800.0
_E11 = 1.0 / 39916800.0
_E12 = 1.0 / 479001600.0
_E13 = 1.0 / 6227020800.0
_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two 26-bit halves


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma.f64``, which vectorises)."""
    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return types.float64(types.float64, types.float64, types.float64), codegen


@kernel
def _split(v):
    """(hi, lo) with hi + lo = v exactly and 26 significant bits in each (Veltkamp)."""
    t = _SPLIT * v
    hi = t - (t - v)
    return hi, v - hi


@kernel
def weibull_coefficients(scale, hazard_ratio, shape, out):
    """``out[:2]`` = (a, c) of t = exp(a log E + c) = scale * (E / h) ** a, a = 1 / shape.

    Once per model and trial (libm here: only the loop over patients must vectorise);
    c = log(scale) - a log(h) summed as a double-double, each log correctly rounded by
    libm and the product exact, then rounded once: c is within ~1 ulp.
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
    out[1] = s + (e + pe)


@kernel
def weibull_times(e, model, coef, n, out, work_a, work_c):
    """``out[i] = exp(a log e[i] + c)`` for ``i < n``, (a, c) from row ``model[i]`` of ``coef``.

    ``coef`` rows start with :func:`weibull_coefficients`' two numbers; ``e`` positive,
    normal and finite (the Exp(1) draws).  The coefficients are gathered into the
    ``work_*`` arrays first ([n] each): a gather inside the arithmetic keeps LLVM
    from vectorising it.  No branch in the loop: results beyond the double range are
    +inf or 0 (subnormal results are rounded twice).
    """
    for i in range(n):
        j = model[i]
        work_a[i] = coef[j, 0]
        work_c[i] = coef[j, 1]
    weibull_times_gathered(e, work_a, work_c, out, n)


@kernel
def weibull_times_gathered(e, a, c, out, n):
    """``out[i] = exp(a[i] log e[i] + c[i])`` for ``i < n``: :func:`weibull_times` with the coefficients gathered."""
    _weibull_times_contiguous(e, a, c, out, 0, n)


@kernel
def _weibull_times_contiguous(e, pa, pc, out, lo, hi):
    """``out[i] = exp(pa[i] log e[i] + pc[i])`` for ``lo <= i < hi``: the vectorised loop."""
    ee = e[lo:hi]
    pa_ = pa[lo:hi]
    pc_ = pc[lo:hi]
    oo = out[lo:hi]
    for i in range(hi - lo):  # from 0 over slices: see neg_log_inplace
        x = ee[i]
        # log x = k ln2 + f - (hfsq - s (hfsq + R)) (fdlibm), R's polynomial with fused multiply-adds
        ix = _bits(x)
        k = (ix - _SQRT_HALF_BITS) >> 52
        f = _from_bits(ix - (k << 52)) - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = _fma(z, _fma(w, _fma(w, _fma(w, _LG7, _LG5), _LG3), _LG1), w * _fma(w, _fma(w, _LG6, _LG4), _LG2))
        hfsq = 0.5 * f * f
        dk = np.float64(k)
        log_x = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
        y = min(max(_fma(pa_[i], log_x, pc_[i]), -_EXP_ARG_MAX), _EXP_ARG_MAX)
        # exp(y) = 2**n exp(rr), rr = y - n ln2 in [-ln2/2, ln2/2] (ln2 in two parts: rr is exact to ~2**-60)
        kd = y * _INV_LN2 + _ROUND_MAGIC
        n = _bits(kd) - _bits(_ROUND_MAGIC)
        kd -= _ROUND_MAGIC
        rr = _fma(kd, -_LN2_LO, _fma(kd, -_LN2_HI, y))
        p = _fma(rr, _E13, _E12)
        p = _fma(p, rr, _E11)
        p = _fma(p, rr, _E10)
        p = _fma(p, rr, _E9)
        p = _fma(p, rr, _E8)
        p = _fma(p, rr, _E7)
        p = _fma(p, rr, _E6)
        p = _fma(p, rr, _E5)
        p = _fma(p, rr, _E4)
        p = _fma(p, rr, _E3)
        p = _fma(p, rr, _E2)
        p = _fma(p, rr, 1.0)
        q = _fma(p, rr, 1.0)
        # 2**n in two normal factors, so that overflow and underflow round as a product does
        n1 = n >> 1
        oo[i] = q * _from_bits((n1 + _EXPONENT_BIAS) << 52) * _from_bits((n - n1 + _EXPONENT_BIAS) << 52)
