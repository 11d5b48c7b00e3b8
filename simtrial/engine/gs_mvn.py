"""Multivariate normal rectangle probabilities up to dimension 20, and group-sequential bounds from them.

``mvn_rectangle(lower, upper, corr, n_points, n_shifts)`` = P(lower < X < upper) for
X ~ N(0, corr), by Genz's separation of variables (Genz 1992; Genz & Bretz 2009, ch. 4):
with corr = L L' (Cholesky) and X = L Y, the probability is the integral over the unit cube of
prod_i (Phi(b_i') - Phi(a_i')), the limits a_i', b_i' of Y_i given the earlier Y's, which are
drawn by inversion from the cube coordinates.  The cube integral is a randomised Richtmyer
lattice rule: point j of shift s has coordinates frac(j sqrt(p_i) + shift_s,i), p_i the i-th
prime, under the tent (baker's) transform |2u - 1| (which makes the rule second order for
smooth integrands).  The shifts are fixed constants of this module, so a probability is a
deterministic function of its arguments: the same inputs give the same bits on every thread,
backend and run.  The error estimate is 3.5 standard errors of the mean over the shifts
(~99% with 8 shifts, as ``mvtnorm``'s "estimated absolute error").  Variables are taken in
the order given (no reordering), so a caller can fix the first ones and vary the last.

A singular matrix is defined: a variable whose conditional variance is (numerically) zero is a
linear function of the earlier ones, and its factor is the indicator of its limits.

Group-sequential efficacy bounds of a statistic made of J components observed at K looks
(:func:`combo_bounds`): at the k-th testing look the bound c_k solves

    P(max_j Z_{m,j} < c_m for the earlier looks m, max_j Z_{k,j} < c_k) = 1 - alpha_k

(alpha_k the cumulative alpha spent), i.e. the probability of crossing first at look k is the
alpha spent there, under the (K J)-variate normal with the given correlation.  With J = 1 and
the log-rank correlation sqrt(t_k / t_l) this is the classical spending bound.  For each look
the lattice values of the earlier looks (their factors and their Y's) are computed once and
reused at every trial value of c_k, so a root search costs J dimensions per point per step.
Dimension <= 3 without lower limits uses the exact routines of ``simtrial.engine.mvn``
(Drezner-Wesolowsky / Genz BVN, conditioned trivariate) instead of the lattice.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from simtrial.engine._jit import kernel, parallel_kernel
from simtrial.engine.mvn import bvn_cdf, norm_cdf, tvn_cdf

MAX_DIMENSION = 20
MAX_SHIFTS = 16
#: lattice points per shift and shifts of a group-sequential bound (the designs' default)
DEFAULT_POINTS = 256
DEFAULT_SHIFTS = 8
_PRIMES = np.array([2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71], dtype=np.float64)
#: Richtmyer generators frac(sqrt(p)) of the first primes
_GENERATOR = np.sqrt(_PRIMES) - np.floor(np.sqrt(_PRIMES))
#: the fixed random shifts (a constant of the method, not of a run: no stream is consumed)
_SHIFTS = np.random.default_rng(0x5EED_6E57).random((MAX_SHIFTS, MAX_DIMENSION))
#: 3.5 standard errors of the mean over the shifts: ~99% coverage with 8 shifts (t with 7 df)
_ERROR_FACTOR = 3.5
_TINY = 1e-10  # conditional variance below which a variable is a function of the earlier ones
_SQRT2 = math.sqrt(2.0)

# Acklam's rational approximation of the normal quantile (relative error 1.15e-9), refined below
_A = np.array([-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
               -3.066479806614716e01, 2.506628277459239e00])
_B = np.array([-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
               -1.328068155288572e01])
_C = np.array([-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
               4.374664141464968e00, 2.938163982698783e00])
_D = np.array([7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00])
_P_LOW = 0.02425


@kernel
def _acklam(p):
    """Acklam's approximation of Phi^{-1}(p), 0 < p < 1 (relative error < 1.2e-9).

    Enough for drawing the lattice variables: the map from the cube only has to be a smooth
    monotone function of the coordinate, and a 1e-9 relative error moves a probability by less.
    """
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    elif p <= 1.0 - _P_LOW:
        q = p - 0.5
        r = q * q
        x = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / (
            ((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    return x


@kernel
def norm_quantile(p):
    """Phi^{-1}(p) to ~1e-15 relative (Acklam's approximation + one Halley step on erfc); +-inf at 0 and 1."""
    if not p > 0.0:
        return -np.inf
    if not p < 1.0:
        return np.inf
    x = _acklam(p)
    # Halley on the tail that is small (erfc keeps its relative precision there)
    if x < 0.0:
        e = 0.5 * math.erfc(-x / _SQRT2) - p
    else:
        e = -(0.5 * math.erfc(x / _SQRT2) - (1.0 - p))
    u = e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


@kernel
def cholesky_lower(corr, d, out):
    """Lower Cholesky factor of corr[:d, :d] into out[:d, :d]; a pivot <= _TINY gives a zero column.

    A (numerically) singular or slightly indefinite estimated correlation keeps its defined
    meaning: that variable is a linear function of the earlier ones.
    """
    for i in range(d):
        for j in range(d):
            out[i, j] = 0.0
    for j in range(d):
        s = corr[j, j]
        for k in range(j):
            s -= out[j, k] * out[j, k]
        if s <= _TINY:
            continue  # out[:, j] stays 0
        ljj = math.sqrt(s)
        out[j, j] = ljj
        for i in range(j + 1, d):
            s = corr[i, j]
            for k in range(j):
                s -= out[i, k] * out[j, k]
            out[i, j] = s / ljj


@kernel
def _tent(u):
    v = u - math.floor(u)
    return abs(2.0 * v - 1.0)


@kernel
def _genz_steps(chol, lower, upper, first, last, d, j, s, y, f):
    """Continue Genz's recursion from variable ``first`` to ``last`` - 1 for lattice point (j, s); returns f.

    ``y[:first]`` holds the earlier variables' draws; ``f`` the product of their factors.
    """
    for i in range(first, last):
        acc = 0.0
        for k in range(i):
            acc += chol[i, k] * y[k]
        lii = chol[i, i]
        if lii == 0.0:
            # a function of the earlier variables: its factor is the indicator of its limits
            if acc < lower[i] or acc > upper[i]:
                return 0.0
            y[i] = 0.0
            continue
        a = norm_cdf((lower[i] - acc) / lii) if lower[i] > -np.inf else 0.0
        b = norm_cdf((upper[i] - acc) / lii) if upper[i] < np.inf else 1.0
        width = b - a
        if not width > 0.0:
            return 0.0
        f *= width
        if i < d - 1:
            u = _tent(j * _GENERATOR[i] + _SHIFTS[s, i])
            q = a + u * width
            q = min(max(q, 1e-300), 1.0 - 1e-16)
            y[i] = _acklam(q)
    return f


@kernel
def mvn_rectangle(lower, upper, corr, n_points, n_shifts):
    """(P(lower < X < upper), its estimated error) for X ~ N(0, corr), dimension <= MAX_DIMENSION."""
    d = lower.shape[0]
    chol = np.empty((d, d))
    lo = np.empty(d)
    up = np.empty(d)
    order = np.empty(d, dtype=np.int64)
    work = np.empty((d, d))
    y = np.empty(d)
    genz_order(corr, lower, upper, d, order, chol, lo, up, work, y)
    return _lattice_mean(chol, lo, up, d, n_points, n_shifts, y)


@kernel
def _lattice_mean(chol, lower, upper, d, n_points, n_shifts, y):
    """(mean over the shifted lattices of Genz's integrand, 3.5 standard errors) for ordered limits."""
    mean = 0.0
    sq = 0.0
    for s in range(n_shifts):
        acc = 0.0
        for j in range(n_points):
            acc += _genz_steps(chol, lower, upper, 0, d, d, j, s, y, 1.0)
        v = acc / n_points
        delta = v - mean
        mean += delta / (s + 1)
        sq += delta * (v - mean)
    err = _ERROR_FACTOR * math.sqrt(sq / (n_shifts * (n_shifts - 1))) if n_shifts > 1 else np.nan
    return mean, err


@kernel
def genz_order(corr, lower, upper, d, order, chol, lo, up, work, y):
    """Genz & Bretz's variable ordering with the Cholesky factor of the reordered matrix.

    At each step the variable whose interval, given the expected values of the variables already
    placed (truncated-normal means), has the smallest probability goes next: the integrand then
    varies least along the later coordinates, which is what makes the lattice rule accurate for
    the strongly correlated statistics of a group-sequential combination test.  ``order[i]`` is
    the variable placed i-th; ``chol``, ``lo``, ``up`` are in that order; ``work`` (d x d) holds
    the factor's rows by original variable, ``y`` the expected values.
    """
    placed = np.zeros(d, dtype=np.bool_)
    for i in range(d):
        for k in range(d):
            work[i, k] = 0.0
    for i in range(d):
        best = -1
        best_p = 2.0
        best_sd = 0.0
        best_a = 0.0
        best_b = 0.0
        for r in range(d):
            if placed[r]:
                continue
            var = corr[r, r]
            acc = 0.0
            for k in range(i):
                var -= work[r, k] * work[r, k]
                acc += work[r, k] * y[k]
            sd = math.sqrt(var) if var > _TINY else 0.0
            if sd > 0.0:
                a = (lower[r] - acc) / sd
                b = (upper[r] - acc) / sd
                pr = (norm_cdf(b) if b < np.inf else 1.0) - (norm_cdf(a) if a > -np.inf else 0.0)
            else:
                a = -np.inf
                b = np.inf
                pr = 1.0 + 1e-9  # a function of the placed variables: last, its factor is an indicator
            if pr < best_p:
                best_p = pr
                best = r
                best_sd = sd
                best_a = a
                best_b = b
        placed[best] = True
        order[i] = best
        work[best, i] = best_sd
        if best_sd > 0.0:
            for r in range(d):
                if not placed[r]:
                    acc = corr[r, best]
                    for k in range(i):
                        acc -= work[r, k] * work[best, k]
                    work[r, i] = acc / best_sd
            # the truncated-normal mean of the placed variable on its standardised interval
            pa = norm_cdf(best_a) if best_a > -np.inf else 0.0
            pb = norm_cdf(best_b) if best_b < np.inf else 1.0
            da = math.exp(-0.5 * best_a * best_a) / math.sqrt(2.0 * math.pi) if best_a > -np.inf else 0.0
            db = math.exp(-0.5 * best_b * best_b) / math.sqrt(2.0 * math.pi) if best_b < np.inf else 0.0
            if pb - pa > 1e-300:
                y[i] = (da - db) / (pb - pa)
            else:
                y[i] = best_a if best_a > -np.inf else best_b
        else:
            y[i] = 0.0
    for i in range(d):
        lo[i] = lower[order[i]]
        up[i] = upper[order[i]]
        for k in range(d):
            chol[i, k] = work[order[i], k] if k <= i else 0.0


def mvn_rectangle_py(lower, upper, corr, n_points: int = 4096, n_shifts: int = 8) -> tuple[float, float]:
    """Python entry of :func:`mvn_rectangle`: (probability, estimated absolute error, ~99%)."""
    lo = np.ascontiguousarray(lower, dtype=np.float64).ravel()
    up = np.ascontiguousarray(upper, dtype=np.float64).ravel()
    c = np.ascontiguousarray(corr, dtype=np.float64)
    d = lo.shape[0]
    if not 1 <= d <= MAX_DIMENSION or up.shape != (d,) or c.shape != (d, d):
        raise ValueError(f"dimension 1..{MAX_DIMENSION} with matching limits and correlation, got {d}, {c.shape}")
    if not 2 <= n_shifts <= MAX_SHIFTS or n_points < 1:
        raise ValueError(f"n_shifts in 2..{MAX_SHIFTS} and n_points >= 1, got {n_shifts}, {n_points}")
    p, e = mvn_rectangle(lo, up, c, int(n_points), int(n_shifts))
    return float(p), float(e)


# ----------------------------------------------------------------------------- group-sequential bounds

_XTOL = 1e-6
#: a lattice bound's tolerance: its probability is known to ~1e-4 (about 1e-3 in Z), so a
#: tighter search only spends evaluations fitting the lattice error
_XTOL_LATTICE = 1e-4
_MAX_ITER = 100
_Z_FAR = 40.0


@kernel
def _look_cdf(c, block, d, chol, lower, upper, corr, exact, n_points, n_shifts, y, sub_b, sub_c, err):
    """P(every variable within its limits) with the variables flagged in ``block`` below c.

    ``lower``/``upper``/``chol`` are in the lattice order (``block`` too); with ``exact`` (d <= 3, no lower
    limits) they are in the natural order and the exact routines answer.  ``err[0]``: the error estimate.
    """
    for i in range(d):
        if block[i]:
            upper[i] = c
    if exact:
        err[0] = 0.0
        if d == 1:
            return norm_cdf(upper[0])
        if d == 2:
            return bvn_cdf(upper[0], upper[1], corr[0, 1])
        for i in range(3):
            sub_b[i] = upper[i]
            for k in range(3):
                sub_c[i, k] = corr[i, k]
        return tvn_cdf(sub_b, sub_c)
    mean, e = _lattice_mean(chol, lower, upper, d, n_points, n_shifts, y)
    err[0] = e
    return mean


@kernel
def _solve_look(target, block, d, chol, lower, upper, corr, exact, n_points, n_shifts, y, sub_b, sub_c, err, lo, hi):
    """c in [lo, hi] with _look_cdf(c) = target, by Brent's method (the function increases in c)."""
    xtol = _XTOL if exact else _XTOL_LATTICE
    a = lo
    b = hi
    fa = _look_cdf(a, block, d, chol, lower, upper, corr, exact, n_points, n_shifts, y, sub_b, sub_c, err) - target
    fb = _look_cdf(b, block, d, chol, lower, upper, corr, exact, n_points, n_shifts, y, sub_b, sub_c, err) - target
    # widen until the root is bracketed (the spending bracket holds but for lattice error or binding stops)
    n_widen = 0
    while fa > 0.0 and n_widen < 40:
        a -= 0.5
        fa = _look_cdf(a, block, d, chol, lower, upper, corr, exact, n_points, n_shifts, y, sub_b, sub_c,
                       err) - target
        n_widen += 1
    while fb < 0.0 and b < _Z_FAR:
        b = min(b + 0.5, _Z_FAR)
        fb = _look_cdf(b, block, d, chol, lower, upper, corr, exact, n_points, n_shifts, y, sub_b, sub_c,
                       err) - target
    if fb < 0.0:
        return np.inf  # the alpha left cannot be spent here: never reject at this look
    if fa > 0.0:
        return a
    c = a
    fc = fa
    e = b - a
    dd = e
    for _ in range(_MAX_ITER):
        if (fb > 0.0) == (fc > 0.0):
            c = a
            fc = fa
            e = b - a
            dd = e
        if abs(fc) < abs(fb):
            a = b
            b = c
            c = a
            fa = fb
            fb = fc
            fc = fa
        tol = 2.0 * 2.2e-16 * abs(b) + 0.5 * xtol
        m = 0.5 * (c - b)
        if abs(m) <= tol or fb == 0.0:
            break
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p = 2.0 * m * s
                q = 1.0 - s
            else:
                q = fa / fc
                r = fb / fc
                p = s * (2.0 * m * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if 2.0 * p < min(3.0 * m * q - abs(tol * q), abs(e * q)):
                e = dd
                dd = p / q
            else:
                dd = m
                e = m
        else:
            dd = m
            e = m
        a = b
        fa = fb
        b += dd if abs(dd) > tol else (tol if m > 0.0 else -tol)
        fb = _look_cdf(b, block, d, chol, lower, upper, corr, exact, n_points, n_shifts, y, sub_b, sub_c,
                       err) - target
    _look_cdf(b, block, d, chol, lower, upper, corr, exact, n_points, n_shifts, y, sub_b, sub_c, err)
    return b


@kernel
def combo_bounds(corr, n_components, active, cum_alpha, futility, n_points, n_shifts, out_bounds, out_error):
    """Efficacy bounds of one trial (efficacy scale: reject at look k when max_j Z_kj >= out_bounds[k]).

    ``corr`` [K J, K J]: the correlation of the components at every look (look-major: variable
    k J + j is component j at look k).  ``active[k]``: look k tests efficacy (looks that do not
    are left out of the joint law; their bound is +inf).  ``cum_alpha[k]``: cumulative alpha to
    spend by look k (non-decreasing over the active looks; the caller puts all of alpha at the
    last).  ``futility[k]``: a binding futility bound (the trial stops when Z_k < futility[k];
    -inf for none; one component only).  ``out_error[k]``: the lattice error estimate of the
    probability solved at look k (0 when computed exactly).

    The variables of the looks so far are ordered by Genz & Bretz's rule once per look, at the
    middle of the bracket of c_k, and kept in that order while c_k is searched, so the lattice
    probability is a smooth function of c_k.
    """
    n_looks = active.shape[0]
    J = n_components
    n_active = 0
    for k in range(n_looks):
        out_bounds[k] = np.inf
        out_error[k] = 0.0
        if active[k]:
            n_active += 1
    d_max = max(n_active * J, 1)
    var_look = np.empty(d_max, dtype=np.int64)  # the active look (0, 1, ...) of each variable
    sub = np.empty((d_max, d_max))  # the correlation of the active looks' variables
    nat_lower = np.full(d_max, -np.inf)
    nat_upper = np.full(d_max, np.inf)
    idx = np.empty(d_max, dtype=np.int64)
    q = 0
    for k in range(n_looks):
        if active[k]:
            for j in range(J):
                idx[q] = k * J + j
                var_look[q] = q // J
                q += 1
    for a in range(q):
        for b in range(q):
            sub[a, b] = corr[idx[a], idx[b]]
    chol = np.empty((d_max, d_max))
    work = np.empty((d_max, d_max))
    order = np.empty(d_max, dtype=np.int64)
    lower = np.empty(d_max)
    upper = np.empty(d_max)
    block = np.zeros(d_max, dtype=np.bool_)
    y = np.empty(d_max)
    sub_b = np.empty(3)
    sub_c = np.empty((3, 3))
    err = np.zeros(1)
    blk_corr = np.empty((J, J))
    blk_lower = np.full(J, -np.inf)
    blk_upper = np.empty(J)
    blk_block = np.zeros(J, dtype=np.bool_)
    prev_alpha = 0.0
    m = 0  # active looks so far
    any_lower = False
    for k in range(n_looks):
        if not active[k]:
            continue
        d = (m + 1) * J
        step = cum_alpha[k] - prev_alpha
        if step > 0.0:
            # bracket: crossing first at this look has probability between Phi(-c) - prev_alpha and J Phi(-c)
            lo = -norm_quantile(min(cum_alpha[k], 0.5))
            hi = -norm_quantile(max(step / J, 1e-300))
            exact = d <= 3 and not any_lower
            if m > 0 and not exact and not any_lower and J <= 3:
                # The look's own components bracket the root exactly and cheaply: with A(c) = {max_j Z_mj >= c}
                # and no earlier crossing having probability 1 - prev_alpha, step - ... <= P(A(c)) - prev_alpha
                # <= P(no earlier crossing, A(c)) <= P(A(c)), so the root lies between the c with
                # P(A(c)) = step + prev_alpha and the c with P(A(c)) = step (a J-dimensional exact CDF):
                # a bracket of width ~prev_alpha / density instead of the spending bracket's several units.
                for a in range(J):
                    blk_upper[a] = np.inf
                    blk_block[a] = True
                    for b in range(J):
                        blk_corr[a, b] = sub[m * J + a, m * J + b]
                lo = max(lo, _solve_look(1.0 - step - prev_alpha, blk_block, J, chol, blk_lower, blk_upper,
                                         blk_corr, True, n_points, n_shifts, y, sub_b, sub_c, err, lo, hi) - 1e-3)
                hi = min(hi, _solve_look(1.0 - step, blk_block, J, chol, blk_lower, blk_upper, blk_corr, True,
                                         n_points, n_shifts, y, sub_b, sub_c, err, lo, hi) + 1e-3)
            if exact:
                for i in range(d):
                    lower[i] = nat_lower[i]
                    upper[i] = nat_upper[i]
                    block[i] = var_look[i] == m
            else:
                for i in range(d):
                    nat_upper[i] = 0.5 * (lo + hi) if var_look[i] == m else nat_upper[i]
                genz_order(sub, nat_lower, nat_upper, d, order, chol, lower, upper, work, y)
                for i in range(d):
                    block[i] = var_look[order[i]] == m
            # continuing so far has probability 1 - prev_alpha (less with binding futility stops)
            cont = 1.0 - prev_alpha
            if any_lower:
                for i in range(d):
                    if block[i]:
                        upper[i] = np.inf
                cont, e0 = _lattice_mean(chol, lower, upper, d, n_points, n_shifts, y)
            c = _solve_look(cont - step, block, d, chol, lower, upper, sub, exact, n_points, n_shifts, y, sub_b,
                            sub_c, err, lo, hi)
            out_bounds[k] = c
            out_error[k] = err[0]
            prev_alpha = cum_alpha[k]
        for i in range(m * J, d):
            nat_upper[i] = out_bounds[k]
        if J == 1 and futility[k] > -np.inf:
            nat_lower[m] = futility[k]
            any_lower = True
        m += 1


@parallel_kernel
def combo_bounds_trials(corr, n_components, active, cum_alpha, futility, n_points, n_shifts, out_bounds, out_error):
    """:func:`combo_bounds` for every trial t: corr[t], active[t], cum_alpha[t] (futility shared)."""
    for t in prange(corr.shape[0]):
        combo_bounds(corr[t], n_components, active[t], cum_alpha[t], futility, n_points, n_shifts,
                     out_bounds[t], out_error[t])
