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
DEFAULT_POINTS = 127
DEFAULT_SHIFTS = 8
#: the rank-1 lattice sizes: the largest prime below each power of two 2^5 .. 2^20 (a request for
#: n points uses the largest of these <= n)
_LATTICE_N = np.array([31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139,
                       524287, 1048573], dtype=np.int64)
#: product weights 1 / i^2 of the Korobov space the generating vectors are chosen in: Genz's
#: ordering puts the variables that matter most first, so later coordinates may be worse projected
_CBC_WEIGHTS = 1.0 / np.arange(1, MAX_DIMENSION + 1) ** 2
#: their generating vectors, by ``cbc_generating_vector(n, MAX_DIMENSION, _CBC_WEIGHTS)`` (a test
#: recomputes them; committed so that importing costs nothing)
_LATTICE_Z = np.array([
    [1, 18, 11, 26, 8, 23, 3, 26, 26, 3, 8, 26, 3, 23, 26, 8, 3, 26, 3, 8],
    [1, 18, 33, 48, 38, 53, 5, 10, 38, 8, 23, 48, 10, 5, 48, 38, 53, 5, 10, 38],
    [1, 98, 73, 22, 13, 81, 66, 79, 89, 8, 93, 110, 61, 48, 93, 8, 108, 61, 110, 41],
    [1, 181, 155, 53, 120, 172, 46, 19, 220, 147, 88, 136, 33, 82, 133, 109, 22, 57, 147, 65],
    [1, 300, 133, 281, 478, 48, 427, 40, 142, 356, 192, 98, 233, 220, 323, 273, 112, 422, 401, 222],
    [1, 647, 428, 568, 240, 770, 710, 838, 872, 42, 534, 206, 664, 628, 735, 554, 76, 69, 674, 158],
    [1, 1249, 284, 1386, 1493, 442, 376, 485, 824, 1042, 531, 118, 1889, 360, 1849, 1144, 1560, 1721, 559, 605],
    [1, 2883, 2551, 2308, 424, 2376, 3292, 79, 450, 194, 3725, 1075, 1894, 2713, 1933, 698, 3378, 120, 945, 1239],
    [1, 2431, 3799, 1729, 969, 5908, 848, 660, 5964, 1148, 2600, 747, 5476, 926, 5219, 2743, 3574, 7514, 3845, 1827],
    [1, 12670, 6101, 1682, 4942, 1997, 10776, 2974, 11631, 14081,
     2904, 10735, 14617, 12969, 9960, 10007, 1101, 11756, 12800, 2847],
    [1, 12509, 14514, 9245, 6878, 17438, 1421, 22017, 30152, 24805,
     5121, 3568, 11494, 18354, 18643, 3883, 22664, 20383, 16183, 22476],
    [1, 24876, 5411, 18560, 28870, 36246, 45317, 23375, 44050, 15373,
     59785, 41006, 61240, 36798, 26035, 61795, 50581, 7832, 50036, 12941],
    [1, 81308, 11743, 22156, 41024, 73569, 9563, 50935, 127932, 67338,
     71643, 14466, 127725, 95143, 16903, 62127, 21497, 31902, 125075, 122543],
    [1, 147787, 50519, 193650, 127505, 232693, 94578, 12113, 125639, 27001,
     14826, 190683, 116847, 77817, 234289, 253051, 71271, 23177, 230361, 63253],
    [1, 370978, 134071, 324740, 472386, 46911, 54196, 397252, 165021, 461982,
     355384, 37748, 231316, 456497, 362615, 132037, 432230, 430781, 413870, 396038],
    [1, 607971, 971242, 734902, 471608, 769128, 1034862, 8298, 387294, 515348,
     372611, 110853, 948069, 115236, 675260, 694135, 311185, 854112, 920820, 662892],
], dtype=np.int64)
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


def _primitive_root(n: int) -> int:
    m = n - 1
    factors = []
    x = m
    f = 2
    while f * f <= x:
        if x % f == 0:
            factors.append(f)
            while x % f == 0:
                x //= f
        f += 1
    if x > 1:
        factors.append(x)
    return next(g for g in range(2, n) if all(pow(g, m // f, n) != 1 for f in factors))


def cbc_generating_vector(n: int, d: int, weights) -> np.ndarray:
    """Generating vector z of an n-point rank-1 lattice {frac(j z / n)}, n prime, by component-by-component.

    Each z_i minimises the worst-case error of the rule in the weighted Korobov space of
    smoothness 2 given z_1 .. z_(i-1) (Sloan, Kuo & Joe 2002); with the tent transform such a rule
    integrates smooth non-periodic integrands at close to O(n^-2) (Hickernell 2002).  The squared
    error is sum_k prod_i (1 + w_i omega(frac(k z_i / n))), omega(x) = 2 pi^2 (x^2 - x + 1/6); over
    the candidates z = g^b (g a primitive root) the sums are one circular correlation, done by FFT
    (Nuyens & Cools 2006), so the construction costs O(d n log n).  z_1 = 1 (every z_1 gives the
    same one-dimensional point set).
    """
    g = _primitive_root(n)
    perm = np.empty(n - 1, dtype=np.int64)
    perm[0] = 1
    for a in range(1, n - 1):
        perm[a] = perm[a - 1] * g % n
    x = perm / n
    omega = 2.0 * math.pi ** 2 * (x * x - x + 1.0 / 6.0)
    f_omega = np.fft.fft(omega)
    prod = np.ones(n - 1)  # prod_i (1 + w_i omega(frac(g^a z_i / n))) over the chosen components
    z = np.empty(d, dtype=np.int64)
    shift = np.arange(n - 1)
    for i in range(d):
        b = 0 if i == 0 else int(np.argmin(np.fft.ifft(np.conj(np.fft.fft(prod)) * f_omega).real))
        z[i] = perm[b]
        prod *= 1.0 + weights[i] * omega[(shift + b) % (n - 1)]
    return z


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
def lattice_row(n_points):
    """Row of _LATTICE_N / _LATTICE_Z used for a request of n_points per shift (the largest size <= it)."""
    row = 0
    for r in range(_LATTICE_N.shape[0]):
        if _LATTICE_N[r] <= n_points:
            row = r
    return row


@kernel
def _coordinate(row, j, s, i):
    """Coordinate i of point j of the s-th shifted lattice, tent-transformed.

    j z_i mod n in integers: j z_i < 2^40 is exact, and the fraction is then exact to the last bit.
    """
    n = _LATTICE_N[row]
    v = ((j * _LATTICE_Z[row, i]) % n) / n + _SHIFTS[s, i]
    v -= math.floor(v)
    return abs(2.0 * v - 1.0)


@kernel
def _genz_steps(chol, lower, upper, first, last, d, j, s, y, f, row):
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
            q = a + _coordinate(row, j, s, i) * width
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
    genz_order(corr, lower, upper, d, d, order, chol, lo, up, work, y)
    return _lattice_mean(chol, lo, up, d, lattice_row(n_points), n_shifts, y)


@kernel
def _lattice_mean(chol, lower, upper, d, row, n_shifts, y):
    """(mean over the shifted lattices of Genz's integrand, 3.5 standard errors) for ordered limits."""
    n_points = _LATTICE_N[row]
    mean = 0.0
    sq = 0.0
    for s in range(n_shifts):
        acc = 0.0
        for j in range(n_points):
            acc += _genz_steps(chol, lower, upper, 0, d, d, j, s, y, 1.0, row)
        v = acc / n_points
        delta = v - mean
        mean += delta / (s + 1)
        sq += delta * (v - mean)
    err = _ERROR_FACTOR * math.sqrt(sq / (n_shifts * (n_shifts - 1))) if n_shifts > 1 else np.nan
    return mean, err


@kernel
def genz_order(corr, lower, upper, d, n_first, order, chol, lo, up, work, y):
    """Genz & Bretz's variable ordering with the Cholesky factor of the reordered matrix.

    At each step the variable whose interval, given the expected values of the variables already
    placed (truncated-normal means), has the smallest probability goes next: the integrand then
    varies least along the later coordinates, which is what makes the lattice rule accurate for
    the strongly correlated statistics of a group-sequential combination test.  ``order[i]`` is
    the variable placed i-th; ``chol``, ``lo``, ``up`` are in that order; ``work`` (d x d) holds
    the factor's rows by original variable, ``y`` the expected values.  The variables 0 .. n_first - 1
    are placed before the others (each group in Genz & Bretz's order): a group-sequential look puts
    the earlier looks, whose limits are fixed, before the look whose bound is searched.
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
            if placed[r] or (r < n_first) != (i < n_first):
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
#: a lattice bound's tolerance in Z: well inside its lattice error (~1e-4 in Z at the default
#: points), and evaluations are cheap once a look's earlier variables are cached
_XTOL_LATTICE = 1e-5
_MAX_ITER = 100
_MAX_FIXED_POINT = 30
_Z_FAR = 40.0


@kernel
def _exact_cdf(c, d, n_pre, upper, corr, sub_b, sub_c):
    """P(X_i < upper[i] for i < n_pre, X_i < c for the others) for X ~ N(0, corr[:d, :d]), d <= 3, exactly."""
    for i in range(n_pre, d):
        upper[i] = c
    if d == 1:
        return norm_cdf(c)
    if d == 2:
        return bvn_cdf(upper[0], upper[1], corr[0, 1])
    for i in range(3):
        sub_b[i] = upper[i]
        for k in range(3):
            sub_c[i, k] = corr[i, k]
    return tvn_cdf(sub_b, sub_c)


@kernel
def _block_cdf(c, J, corr, sub_b, sub_c, dens):
    """P(max_j X_j < c) for X ~ N(0, corr[:J, :J]), J <= 3, exactly; its derivative in c into dens[0].

    The derivative is sum_j phi(c) P(X_(-j) < c | X_j = c), whose conditional law is a normal of one
    dimension fewer: exact and cheap beside the trivariate CDF, so the root needs 2-3 CDFs by Newton.
    """
    pc = math.exp(-0.5 * c * c) / math.sqrt(2.0 * math.pi)
    if J == 1:
        dens[0] = pc
        return norm_cdf(c)
    if J == 2:
        r = corr[0, 1]
        sd = math.sqrt(max((1.0 - r) * (1.0 + r), 1e-300))
        dens[0] = 2.0 * pc * norm_cdf((c - r * c) / sd) if r < 1.0 - 1e-12 else pc
        return bvn_cdf(c, c, r)
    total = 0.0
    for j in range(3):
        a = 1 if j == 0 else 0
        b = 2 if j != 2 else 1
        ra = corr[j, a]
        rb = corr[j, b]
        sa = math.sqrt(max((1.0 - ra) * (1.0 + ra), 0.0))
        sb = math.sqrt(max((1.0 - rb) * (1.0 + rb), 0.0))
        if sa < 1e-7 or sb < 1e-7:
            continue  # a component equal to another: the pair's density is counted once, by the other
        rc = max(-1.0, min(1.0, (corr[a, b] - ra * rb) / (sa * sb)))
        total += pc * bvn_cdf((c - ra * c) / sa, (c - rb * c) / sb, rc)
    dens[0] = total
    for i in range(3):
        sub_b[i] = c
        for k in range(3):
            sub_c[i, k] = corr[i, k]
    return tvn_cdf(sub_b, sub_c)


@kernel
def _solve_block(target, J, corr, sub_b, sub_c, dens, lo, hi, c):
    """c with P(max_j X_j < c) = target (J <= 3), by Newton from c safeguarded by bisection in [lo, hi]."""
    for _ in range(_MAX_ITER):
        f = _block_cdf(c, J, corr, sub_b, sub_c, dens) - target
        if f > 0.0:
            hi = c
        else:
            lo = c
        step = f / dens[0] if dens[0] > 0.0 else np.inf
        nxt = c - step
        if not (lo < nxt < hi):
            nxt = 0.5 * (lo + hi)
        if abs(nxt - c) <= _XTOL * 1e-2:
            return nxt
        c = nxt
    return c


@kernel
def _prefix_points(chol, lower, upper, n_pre, d, row, n_shifts, y, pre_f, pre_mu):
    """Genz's recursion over the earlier looks' variables (fixed limits), once per lattice point.

    ``pre_f[q]``: the product of their factors at point q = s n + j; ``pre_mu[q, b]``: the mean of the
    look's b-th variable given their draws (its Cholesky row times them).  Every trial value of the
    look's bound then only redoes the look's own variables.
    """
    n = _LATTICE_N[row]
    n_block = d - n_pre
    for s in range(n_shifts):
        for j in range(n):
            q = s * n + j
            f = _genz_steps(chol, lower, upper, 0, n_pre, d, j, s, y, 1.0, row)
            pre_f[q] = f
            for b in range(n_block):
                acc = 0.0
                if f > 0.0:
                    for k in range(n_pre):
                        acc += chol[n_pre + b, k] * y[k]
                pre_mu[q, b] = acc


@kernel
def _crossing(c, chol, n_pre, d, row, n_shifts, pre_f, pre_mu, yb, err):
    """P(the earlier looks' variables within their limits, some variable of the look >= c), its error in err[0].

    The integrand is the crossing probability itself, f_pre (1 - prod_b w_b) with w_b the look's
    conditional factors, not 1 minus the probability of staying below: the latter's lattice error
    includes that of the earlier looks' mass (~1 - alpha), the crossing's only that of the small
    crossing region.
    """
    n = _LATTICE_N[row]
    n_block = d - n_pre
    mean = 0.0
    sq = 0.0
    for s in range(n_shifts):
        acc = 0.0
        for j in range(n):
            q = s * n + j
            f = pre_f[q]
            if not f > 0.0:
                continue
            stay = 1.0
            for b in range(n_block):
                i = n_pre + b
                m = pre_mu[q, b]
                for k in range(b):
                    m += chol[i, n_pre + k] * yb[k]
                lii = chol[i, i]
                if lii == 0.0:
                    if m > c:
                        stay = 0.0
                        break
                    yb[b] = 0.0
                    continue
                w = norm_cdf((c - m) / lii)
                stay *= w
                if not stay > 0.0:
                    break
                if b < n_block - 1:
                    u = min(max(_coordinate(row, j, s, i) * w, 1e-300), 1.0 - 1e-16)
                    yb[b] = _acklam(u)
            acc += f * (1.0 - stay)
        v = acc / n
        delta = v - mean
        mean += delta / (s + 1)
        sq += delta * (v - mean)
    err[0] = _ERROR_FACTOR * math.sqrt(sq / (n_shifts * (n_shifts - 1))) if n_shifts > 1 else np.nan
    return mean


@kernel
def _escape_prefix(sub, upper_nat, c, n_pre, J, row, n_shifts, perm, sub_p, lower_p, upper_p, order, chol_p,
                   lo_p, up_p, work, y, blk_chol, esc_f, esc_mu):
    """The c-free part of every escape piece at every lattice point, computed once per look.

    Piece r (see :func:`_escape_mean`) has the earlier variables 0 .. r-1 below their bounds, variable
    r above its bound, and the look's J variables below c.  Its earlier variables go first, in Genz &
    Bretz's order (r's narrow upper tail first), the look's last, so Genz's recursion over the earlier
    ones does not depend on c: ``esc_f[q, r]`` is their product of factors at point q = s n + j,
    ``esc_mu[q, r, b]`` the mean of the look's b-th variable given their draws, and ``blk_chol[r]``
    the look's Cholesky factor given them.  Every trial value of the bound then redoes only the look's
    J variables per piece (redoing each piece's J + r + 1 variables at every Newton step, with a
    piece per earlier variable, made a third look cost ~2.6 second looks per step).
    """
    n = _LATTICE_N[row]
    for r in range(n_pre):
        dr = J + r + 1
        n_first = r + 1
        for i in range(dr):
            perm[i] = i if i < n_first else n_pre + i - n_first
        for a in range(dr):
            v = perm[a]
            lower_p[a] = upper_nat[v] if v == r else -np.inf
            upper_p[a] = c if v >= n_pre else (np.inf if v == r else upper_nat[v])
            for b in range(dr):
                sub_p[a, b] = sub[v, perm[b]]
        genz_order(sub_p, lower_p, upper_p, dr, n_first, order, chol_p, lo_p, up_p, work, y)
        for a in range(J):
            for b in range(J):
                blk_chol[r, a, b] = chol_p[n_first + a, n_first + b]
        for s in range(n_shifts):
            for j in range(n):
                q = s * n + j
                f = _genz_steps(chol_p, lo_p, up_p, 0, n_first, dr, j, s, y, 1.0, row)
                esc_f[q, r] = f
                if f > 0.0:
                    for b in range(J):
                        acc = 0.0
                        for k in range(n_first):
                            acc += chol_p[n_first + b, k] * y[k]
                        esc_mu[q, r, b] = acc


@kernel
def _escape_mean(c, blk_chol, n_pre, J, row, n_shifts, esc_f, esc_mu, yb, err):
    """P(the look below c, some earlier variable above its bound), its error in err[0].

    The sum over the pieces of :func:`_escape_prefix` of their factor times the look's conditional
    probability of staying below c (Genz's recursion over the look's J variables).  Each shift's estimate
    is the sum of the pieces' on the same points, and the error is over those sums.
    """
    n = _LATTICE_N[row]
    mean = 0.0
    sq = 0.0
    for s in range(n_shifts):
        acc = 0.0
        for j in range(n):
            q = s * n + j
            for r in range(n_pre):
                stay = esc_f[q, r]
                if not stay > 0.0:
                    continue
                for b in range(J):
                    m = esc_mu[q, r, b]
                    for k in range(b):
                        m += blk_chol[r, b, k] * yb[k]
                    lii = blk_chol[r, b, b]
                    if lii == 0.0:
                        if m >= c:
                            stay = 0.0
                            break
                        yb[b] = 0.0
                        continue
                    w = norm_cdf((c - m) / lii)
                    stay *= w
                    if not stay > 0.0:
                        break
                    if b < J - 1:
                        u = min(max(_coordinate(row, j, s, r + 1 + b) * w, 1e-300), 1.0 - 1e-16)
                        yb[b] = _acklam(u)
                acc += stay
        v = acc / n
        delta = v - mean
        mean += delta / (s + 1)
        sq += delta * (v - mean)
    err[0] = _ERROR_FACTOR * math.sqrt(sq / (n_shifts * (n_shifts - 1))) if n_shifts > 1 else np.nan
    return mean


@kernel
def _evaluate(c, lattice, d, chol, n_pre, upper, corr, row, n_shifts, sub_b, sub_c, pre_f, pre_mu, yb, err):
    """An increasing function of c whose value at the root is the target of :func:`_solve_look`.

    ``lattice``: minus the lattice crossing probability (target: minus the alpha spent at the look);
    otherwise the exact CDF of the d <= 3 variables, the first n_pre below their ``upper`` (target: what
    stays below).
    """
    if lattice:
        return -_crossing(c, chol, n_pre, d, row, n_shifts, pre_f, pre_mu, yb, err)
    err[0] = 0.0
    return _exact_cdf(c, d, n_pre, upper, corr, sub_b, sub_c)


@kernel
def _solve_look(target, lattice, d, chol, n_pre, upper, corr, row, n_shifts, sub_b, sub_c, pre_f, pre_mu, yb,
                err, lo, hi):
    """c in [lo, hi] with _evaluate(c) = target, by Brent's method (the function increases in c)."""
    xtol = _XTOL_LATTICE if lattice else _XTOL
    a = lo
    b = hi
    fa = _evaluate(a, lattice, d, chol, n_pre, upper, corr, row, n_shifts, sub_b, sub_c, pre_f, pre_mu, yb,
                   err) - target
    fb = _evaluate(b, lattice, d, chol, n_pre, upper, corr, row, n_shifts, sub_b, sub_c, pre_f, pre_mu, yb,
                   err) - target
    # widen until the root is bracketed (the spending bracket holds but for lattice error or binding stops)
    n_widen = 0
    while fa > 0.0 and n_widen < 40:
        a -= 0.5
        fa = _evaluate(a, lattice, d, chol, n_pre, upper, corr, row, n_shifts, sub_b, sub_c, pre_f, pre_mu, yb,
                       err) - target
        n_widen += 1
    while fb < 0.0 and b < _Z_FAR:
        b = min(b + 0.5, _Z_FAR)
        fb = _evaluate(b, lattice, d, chol, n_pre, upper, corr, row, n_shifts, sub_b, sub_c, pre_f, pre_mu, yb,
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
        fb = _evaluate(b, lattice, d, chol, n_pre, upper, corr, row, n_shifts, sub_b, sub_c, pre_f, pre_mu, yb,
                       err) - target
    _evaluate(b, lattice, d, chol, n_pre, upper, corr, row, n_shifts, sub_b, sub_c, pre_f, pre_mu, yb, err)
    return b


@kernel
def combo_bounds(corr, n_components, active, cum_alpha, futility, n_points, n_shifts, out_bounds, out_error):
    """Efficacy bounds of one trial: :func:`combo_bounds_counted` without its evaluation counts."""
    counts = np.zeros(active.shape[0], dtype=np.int64)
    combo_bounds_counted(corr, n_components, active, cum_alpha, futility, n_points, n_shifts, out_bounds,
                         out_error, counts)


@kernel
def combo_bounds_counted(corr, n_components, active, cum_alpha, futility, n_points, n_shifts, out_bounds,
                         out_error, out_escape_passes):
    """Efficacy bounds of one trial (efficacy scale: reject at look k when max_j Z_kj >= out_bounds[k]).

    ``corr`` [K J, K J]: the correlation of the components at every look (look-major: variable
    k J + j is component j at look k).  ``active[k]``: look k tests efficacy (looks that do not
    are left out of the joint law; their bound is +inf).  ``cum_alpha[k]``: cumulative alpha to
    spend by look k (non-decreasing over the active looks; the caller puts all of alpha at the
    last).  ``futility[k]``: a binding futility bound (the trial stops when Z_k < futility[k];
    -inf for none; one component only).  ``out_error[k]``: the lattice error estimate of the
    crossing probability solved at look k (0 when computed exactly).  ``n_points`` per shift is
    rounded down to a lattice size (a prime, at least 31).

    From the second look on (or with binding futility stops) the bound solves
    P(no earlier crossing, max_j Z_kj >= c) = alpha_k - alpha_(k-1) on a lattice: the earlier looks'
    variables go first (Genz & Bretz's order among them), their part of every lattice point is
    computed once, and each trial value of c redoes only the look's own J variables (ordered at the
    middle of the bracket, and kept in that order while c is searched, so the lattice crossing
    probability is a smooth function of c).  With J <= 3 and no futility stops the lattice carries only
    the small escape term (see below); ``out_escape_passes[k]`` counts its evaluations at look k (each
    costs J variables per piece per point; 0 where the look is solved otherwise), plus one for the
    c-free pass over the earlier variables.
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
    row = lattice_row(n_points)
    n_lat = _LATTICE_N[row]
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
    y = np.empty(d_max)
    yb = np.empty(J)
    sub_b = np.empty(3)
    sub_c = np.empty((3, 3))
    err = np.zeros(1)
    blk_corr = np.empty((J, J))
    dens = np.zeros(1)
    perm = np.empty(d_max, dtype=np.int64)
    sub_p = np.empty((d_max, d_max))
    lower_p = np.empty(d_max)
    upper_p = np.empty(d_max)
    blk_chol = np.empty((max(d_max - J, 0), J, J))
    esc_f = np.empty((0, 0))
    esc_mu = np.empty((0, 0, J))
    pre_f = np.empty(0)
    pre_mu = np.empty((0, J))
    prev_alpha = 0.0
    m = 0  # active looks so far
    any_lower = False
    for k in range(n_looks):
        if not active[k]:
            continue
        d = (m + 1) * J
        n_pre = m * J
        step = cum_alpha[k] - prev_alpha
        if step > 0.0:
            # bracket: crossing first at this look has probability between Phi(-c) - prev_alpha and J Phi(-c)
            lo = -norm_quantile(min(cum_alpha[k], 0.5))
            hi = -norm_quantile(max(step / J, 1e-300))
            lattice = d > 3 or any_lower
            if lattice and not any_lower and J <= 3:
                # P(no earlier crossing, look below c) = P(look below c) - P(look below c, crossed before):
                # the first is the look's own J-dimensional exact CDF, the second a lattice integral of at
                # most prev_alpha that changes slowly with c (its slope is the density at c of the look's
                # maximum times the chance of having crossed before, a few % of the first's).  So the root
                # starts at the exact root of P(look below c) = 1 - cum_alpha, and the lattice only carries
                # the small escape term.
                for a in range(J):
                    for b in range(J):
                        blk_corr[a, b] = sub[n_pre + a, n_pre + b]
                target = 1.0 - cum_alpha[k]
                c = _solve_block(target, J, blk_corr, sub_b, sub_c, dens, lo, hi + 1.0, 0.5 * (lo + hi))
                # the earlier variables first (Genz & Bretz's order by their bounds: their pieces are
                # disjoint in that order), then the look's, ordered at the exact root
                if esc_f.shape[0] < n_shifts * n_lat or esc_f.shape[1] < n_pre:
                    esc_f = np.empty((n_shifts * n_lat, n_pre))
                    esc_mu = np.empty((n_shifts * n_lat, n_pre, J))
                _escape_prefix(sub, nat_upper, c, n_pre, J, row, n_shifts, perm, sub_p, lower_p, upper_p, order,
                               chol, lower, upper, work, y, blk_chol, esc_f, esc_mu)
                out_escape_passes[k] = 1
                # Newton on P(look below c) - escape(c) - target: the first term's slope exactly, the escape's
                # by the secant through the last two steps (both are smooth in c on the fixed lattice); with
                # the first's slope alone the contraction only gains a factor escape' / P' per step, ~0.1 at
                # a third look, where this settles in 3-4 evaluations
                c_prev = c
                h_prev = 0.0
                for it in range(_MAX_FIXED_POINT):
                    h = _escape_mean(c, blk_chol, n_pre, J, row, n_shifts, esc_f, esc_mu, yb, err)
                    out_escape_passes[k] += 1
                    f = _block_cdf(c, J, blk_corr, sub_b, sub_c, dens) - target - h
                    slope = dens[0]
                    if it > 0 and c != c_prev:
                        # the escape increases in c and more slowly than the look's CDF (their difference does)
                        slope -= min(max((h - h_prev) / (c - c_prev), 0.0), 0.9 * dens[0])
                    c_new = c - f / slope if slope > 0.0 else c
                    done = abs(c_new - c) <= _XTOL
                    c_prev = c
                    h_prev = h
                    c = c_new
                    if done:
                        break
            elif lattice:
                for i in range(n_pre, d):
                    nat_upper[i] = 0.5 * (lo + hi)
                genz_order(sub, nat_lower, nat_upper, d, n_pre, order, chol, lower, upper, work, y)
                if pre_f.shape[0] < n_shifts * n_lat:
                    pre_f = np.empty(n_shifts * n_lat)
                    pre_mu = np.empty((n_shifts * n_lat, J))
                _prefix_points(chol, lower, upper, n_pre, d, row, n_shifts, y, pre_f, pre_mu)
                c = _solve_look(-step, True, d, chol, n_pre, upper, sub, row, n_shifts, sub_b, sub_c, pre_f,
                                pre_mu, yb, err, lo, hi)
            elif n_pre == 0:
                c = _solve_block(1.0 - step, J, sub, sub_b, sub_c, dens, lo, hi, 0.5 * (lo + hi))
                err[0] = 0.0
            else:
                for i in range(n_pre):
                    upper[i] = nat_upper[i]
                c = _solve_look(1.0 - prev_alpha - step, False, d, chol, n_pre, upper, sub, row, n_shifts, sub_b,
                                sub_c, pre_f, pre_mu, yb, err, lo, hi)
            out_bounds[k] = c
            out_error[k] = err[0]
            prev_alpha = cum_alpha[k]
        for i in range(n_pre, d):
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
