"""Multivariate normal orthant probabilities for MaxCombo p-values, in compiled code.

``mvn_cdf_equal(m, corr, k)`` = P(X_1 <= m, ..., X_k <= m) for X ~ N(0, corr), k <= 4:

- k = 1: Phi(m);
- k = 2: Genz's BVNU (Drezner-Wesolowsky with Gauss-Legendre rules of 6, 12 or 20
  points by |r|, and the asymptotic expansion for |r| >= 0.925; ~1e-15);
- k = 3: conditioning on one component x (the one least correlated with the
  others), P = int_{-inf}^{m} phi(x) BVN((m - r_1 x)/s_1, (m - r_2 x)/s_2; r_c) dx,
  by adaptive Gauss-Kronrod (G7-K15) to an absolute 1e-11;
- k = 4: the same conditioning with the k = 3 routine inside (nested adaptive
  Gauss-Kronrod, to 1e-9); slower (~1 ms), which is why more components are refused.

Components that are perfectly correlated (r > 1 - 1e-10) are merged first (they share
the threshold, so the event is the same), so singular matrices are defined.  Checked
against R ``mvtnorm::pmvnorm`` (TVPACK / GenzBretz) in ``tests/test_nph_reference.py``.
"""

from __future__ import annotations

import math

import numpy as np

from simtrial.engine._jit import kernel

MAX_COMPONENTS = 4
_LOW = -8.5  # Phi(-8.5) ~ 1e-17
_SQRT2 = math.sqrt(2.0)
_TWO_PI = 2.0 * math.pi
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# Gauss-Legendre half-rules (points in (0, 1), weights) of 6, 12 and 20 points
_GL_W6 = np.array([0.1713244923791705, 0.3607615730481384, 0.4679139345726904])
_GL_X6 = np.array([0.9324695142031522, 0.6612093864662647, 0.2386191860831970])
_GL_W12 = np.array([0.04717533638651177, 0.1069393259953183, 0.1600783285433464,
                    0.2031674267230659, 0.2334925365383547, 0.2491470458134029])
_GL_X12 = np.array([0.9815606342467191, 0.9041172563704750, 0.7699026741943050,
                    0.5873179542866171, 0.3678314989981802, 0.1252334085114692])
_GL_W20 = np.array([0.01761400713915212, 0.04060142980038694, 0.06267204833410906,
                    0.08327674157670475, 0.1019301198172404, 0.1181945319615184,
                    0.1316886384491766, 0.1420961093183821, 0.1491729864726037,
                    0.1527533871307259])
_GL_X20 = np.array([0.9931285991850949, 0.9639719272779138, 0.9122344282513259,
                    0.8391169718222188, 0.7463319064601508, 0.6360536807265150,
                    0.5108670019508271, 0.3737060887154196, 0.2277858511416451,
                    0.07652652113349733])


@kernel
def norm_cdf(x):
    return 0.5 * math.erfc(-x / _SQRT2)


@kernel
def norm_sf(x):
    return 0.5 * math.erfc(x / _SQRT2)


@kernel
def _bvnu(dh, dk, r):
    """P(X > dh, Y > dk) for standard bivariate normals with correlation r (Genz's BVNU)."""
    if dh == np.inf or dk == np.inf:
        return 0.0
    if dh == -np.inf:
        return 1.0 if dk == -np.inf else norm_cdf(-dk)
    if dk == -np.inf:
        return norm_cdf(-dh)
    if r == 0.0:
        return norm_cdf(-dh) * norm_cdf(-dk)
    if abs(r) < 0.3:
        w = _GL_W6
        x = _GL_X6
    elif abs(r) < 0.75:
        w = _GL_W12
        x = _GL_X12
    else:
        w = _GL_W20
        x = _GL_X20
    ng = w.shape[0]
    h = dh
    k = dk
    hk = h * k
    bvn = 0.0
    if abs(r) < 0.925:
        hs = (h * h + k * k) / 2.0
        asr = math.asin(r) / 2.0
        for i in range(ng):
            for sgn in (-1.0, 1.0):
                sn = math.sin(asr * (1.0 + sgn * x[i]))
                bvn += w[i] * math.exp((sn * hk - hs) / (1.0 - sn * sn))
        return max(0.0, min(1.0, bvn * asr / _TWO_PI + norm_cdf(-h) * norm_cdf(-k)))
    if r < 0.0:
        k = -k
        hk = -hk
    if abs(r) < 1.0:
        a_s = (1.0 - r) * (1.0 + r)
        a = math.sqrt(a_s)
        bs = (h - k) ** 2
        c = (4.0 - hk) / 8.0
        d = (12.0 - hk) / 16.0
        asr = -(bs / a_s + hk) / 2.0
        if asr > -100.0:
            bvn = a * math.exp(asr) * (1.0 - c * (bs - a_s) * (1.0 - d * bs / 5.0) / 3.0 + c * d * a_s * a_s / 5.0)
        if hk > -100.0:
            b = math.sqrt(bs)
            sp = math.sqrt(_TWO_PI) * norm_cdf(-b / a)
            bvn -= math.exp(-hk / 2.0) * sp * b * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0)
        a = a / 2.0
        for i in range(ng):
            for sgn in (-1.0, 1.0):
                xs = (a * (1.0 + sgn * x[i])) ** 2
                asr = -(bs / xs + hk) / 2.0
                if asr > -100.0:
                    rs = math.sqrt(1.0 - xs)
                    sp = 1.0 + c * xs * (1.0 + d * xs)
                    ep = math.exp(-hk * (1.0 - rs) / (2.0 * (1.0 + rs))) / rs
                    bvn += a * w[i] * math.exp(asr) * (ep - sp)
        bvn = -bvn / _TWO_PI
    if r > 0.0:
        bvn += norm_cdf(-max(h, k))
    elif h >= k:
        bvn = -bvn
    else:
        if h < 0.0:
            big_l = norm_cdf(k) - norm_cdf(h)
        else:
            big_l = norm_cdf(-h) - norm_cdf(-k)
        bvn = big_l - bvn
    return max(0.0, min(1.0, bvn))


@kernel
def bvn_cdf(a, b, r):
    """P(X <= a, Y <= b) for standard bivariate normals with correlation r."""
    if r > 1.0 - 1e-12:
        return norm_cdf(min(a, b))
    if r < -1.0 + 1e-12:
        return max(0.0, norm_cdf(a) - norm_cdf(-b))
    return _bvnu(-a, -b, r)


@kernel
def _tvn_integrand(x, b1, b2, r1, r2, s1, s2, rc):
    return math.exp(-0.5 * x * x) * _INV_SQRT_2PI * bvn_cdf((b1 - r1 * x) / s1, (b2 - r2 * x) / s2, rc)


@kernel
def tvn_cdf(b, corr):
    """P(X_0 <= b[0], X_1 <= b[1], X_2 <= b[2]) for X ~ N(0, corr) (3 x 3 correlation)."""
    # merge perfectly correlated pairs (the smaller threshold decides)
    for i in range(3):
        for j in range(i + 1, 3):
            if corr[i, j] > 1.0 - 1e-10:
                k = 3 - i - j
                lo = min(b[i], b[j])
                return bvn_cdf(lo, b[k], corr[i, k] if b[i] <= b[j] else corr[j, k])
    # pivot: the component whose largest correlation with the others is smallest
    piv = 0
    best = 2.0
    for i in range(3):
        worst = 0.0
        for j in range(3):
            if j != i and abs(corr[i, j]) > worst:
                worst = abs(corr[i, j])
        if worst < best:
            best = worst
            piv = i
    o1 = 1 if piv == 0 else 0
    o2 = 2 if piv != 2 else 1
    r1 = corr[piv, o1]
    r2 = corr[piv, o2]
    s1 = math.sqrt((1.0 - r1) * (1.0 + r1))
    s2 = math.sqrt((1.0 - r2) * (1.0 + r2))
    rc = (corr[o1, o2] - r1 * r2) / (s1 * s2)
    rc = max(-1.0, min(1.0, rc))
    b1 = b[o1]
    b2 = b[o2]
    hi = min(b[piv], -_LOW)
    if hi <= _LOW:
        return 0.0
    return _adaptive_tvn(_LOW, hi, b1, b2, r1, r2, s1, s2, rc, _TVN_TOL)


# Gauss-Kronrod 7-15 nodes (non-negative half) and weights
_GK_X = np.array([0.991455371120812639, 0.949107912342758525, 0.864864423359769073, 0.741531185599394440,
                  0.586087235467691130, 0.405845151377397167, 0.207784955007898468, 0.0])
_GK_WK = np.array([0.022935322010529225, 0.063092092629978553, 0.104790010322250184, 0.140653259715525919,
                   0.169004726639267903, 0.190350578064785410, 0.204432940075298892, 0.209482141084727828])
_GK_WG = np.array([0.0, 0.129484966168869693, 0.0, 0.279705391489276668, 0.0, 0.381830050505118945, 0.0,
                   0.417959183673469388])
_MAX_PANELS = 48
# absolute error target of the k = 3 probability, on |Kronrod - Gauss|: that bounds the G7 rule's error,
# the K15 sum returned is far more accurate (measured: 1e-16 at a 1e-8 target on MaxCombo correlations),
# so 1e-10 keeps the answer at rounding level while bisecting a third fewer panels than 1e-11
_TVN_TOL = 1e-10
_QVN_TOL = 1e-9  # and of the k = 4 one


@kernel
def _gk15_tvn(a, b, b1, b2, r1, r2, s1, s2, rc):
    """(Kronrod estimate, |Kronrod - Gauss|) of the k = 3 integrand on [a, b]."""
    c = 0.5 * (a + b)
    h = 0.5 * (b - a)
    fc = _tvn_integrand(c, b1, b2, r1, r2, s1, s2, rc)
    k = fc * _GK_WK[7]
    g = fc * _GK_WG[7]
    for i in range(7):
        f = _tvn_integrand(c - h * _GK_X[i], b1, b2, r1, r2, s1, s2, rc) + _tvn_integrand(
            c + h * _GK_X[i], b1, b2, r1, r2, s1, s2, rc)
        k += _GK_WK[i] * f
        g += _GK_WG[i] * f
    return k * h, abs((k - g) * h)


@kernel
def _adaptive_tvn(lo, hi, b1, b2, r1, r2, s1, s2, rc, tol):
    """Adaptive Gauss-Kronrod (G7-K15) of ``_tvn_integrand`` on [lo, hi]: bisect the worst panel."""
    pa = np.empty(_MAX_PANELS)
    pb = np.empty(_MAX_PANELS)
    pv = np.empty(_MAX_PANELS)
    pe = np.empty(_MAX_PANELS)
    v, e = _gk15_tvn(lo, hi, b1, b2, r1, r2, s1, s2, rc)
    pa[0] = lo
    pb[0] = hi
    pv[0] = v
    pe[0] = e
    n = 1
    total_e = e
    while total_e > tol and n < _MAX_PANELS:
        worst = 0
        for i in range(1, n):
            if pe[i] > pe[worst]:
                worst = i
        a = pa[worst]
        b = pb[worst]
        m = 0.5 * (a + b)
        v1, e1 = _gk15_tvn(a, m, b1, b2, r1, r2, s1, s2, rc)
        v2, e2 = _gk15_tvn(m, b, b1, b2, r1, r2, s1, s2, rc)
        pb[worst] = m
        pv[worst] = v1
        pe[worst] = e1
        pa[n] = m
        pb[n] = b
        pv[n] = v2
        pe[n] = e2
        n += 1
        total_e = 0.0
        for i in range(n):
            total_e += pe[i]
    total = 0.0
    for i in range(n):
        total += pv[i]
    return max(0.0, min(1.0, total))


@kernel
def _qvn_integrand(x, piv, b, corr, cb, cc, others):
    """phi(x) P(X_others <= b | X_piv = x) with the conditional 3-variate normal."""
    for i in range(3):
        oi = others[i]
        ri = corr[piv, oi]
        si = math.sqrt(max((1.0 - ri) * (1.0 + ri), 1e-300))
        cb[i] = (b[oi] - ri * x) / si
    val = tvn_cdf(cb, cc)
    return math.exp(-0.5 * x * x) * _INV_SQRT_2PI * val


@kernel
def qvn_cdf(b, corr):
    """P(X_i <= b[i], i < 4) for X ~ N(0, corr) (4 x 4), by conditioning on one component."""
    for i in range(4):
        for j in range(i + 1, 4):
            if corr[i, j] > 1.0 - 1e-10:
                keep = np.empty(3, dtype=np.int64)
                q = 0
                drop = j if b[i] <= b[j] else i
                for k in range(4):
                    if k != drop:
                        keep[q] = k
                        q += 1
                sub_b = np.empty(3)
                sub_c = np.empty((3, 3))
                for p in range(3):
                    sub_b[p] = b[keep[p]]
                    for s in range(3):
                        sub_c[p, s] = corr[keep[p], keep[s]]
                return tvn_cdf(sub_b, sub_c)
    piv = 0
    best = 2.0
    for i in range(4):
        worst = 0.0
        for j in range(4):
            if j != i and abs(corr[i, j]) > worst:
                worst = abs(corr[i, j])
        if worst < best:
            best = worst
            piv = i
    others = np.empty(3, dtype=np.int64)
    q = 0
    for k in range(4):
        if k != piv:
            others[q] = k
            q += 1
    cc = np.empty((3, 3))
    for p in range(3):
        rp = corr[piv, others[p]]
        sp = math.sqrt(max((1.0 - rp) * (1.0 + rp), 1e-300))
        for s in range(3):
            rs = corr[piv, others[s]]
            ss = math.sqrt(max((1.0 - rs) * (1.0 + rs), 1e-300))
            cc[p, s] = 1.0 if p == s else max(-1.0, min(1.0, (corr[others[p], others[s]] - rp * rs) / (sp * ss)))
    cb = np.empty(3)
    hi = min(b[piv], -_LOW)
    if hi <= _LOW:
        return 0.0
    # adaptive Gauss-Kronrod over the pivot; the inner k = 3 probability is itself adaptive
    tol = _QVN_TOL
    pa = np.empty(_MAX_PANELS)
    pb = np.empty(_MAX_PANELS)
    pv = np.empty(_MAX_PANELS)
    pe = np.empty(_MAX_PANELS)
    v, e = _gk15_qvn(_LOW, hi, piv, b, corr, cb, cc, others)
    pa[0] = _LOW
    pb[0] = hi
    pv[0] = v
    pe[0] = e
    n = 1
    total_e = e
    while total_e > tol and n < _MAX_PANELS:
        worst = 0
        for i in range(1, n):
            if pe[i] > pe[worst]:
                worst = i
        a = pa[worst]
        bb = pb[worst]
        m = 0.5 * (a + bb)
        v1, e1 = _gk15_qvn(a, m, piv, b, corr, cb, cc, others)
        v2, e2 = _gk15_qvn(m, bb, piv, b, corr, cb, cc, others)
        pb[worst] = m
        pv[worst] = v1
        pe[worst] = e1
        pa[n] = m
        pb[n] = bb
        pv[n] = v2
        pe[n] = e2
        n += 1
        total_e = 0.0
        for i in range(n):
            total_e += pe[i]
    total = 0.0
    for i in range(n):
        total += pv[i]
    return max(0.0, min(1.0, total))


@kernel
def _gk15_qvn(a, bb, piv, b, corr, cb, cc, others):
    c = 0.5 * (a + bb)
    h = 0.5 * (bb - a)
    fc = _qvn_integrand(c, piv, b, corr, cb, cc, others)
    k = fc * _GK_WK[7]
    g = fc * _GK_WG[7]
    for i in range(7):
        f = _qvn_integrand(c - h * _GK_X[i], piv, b, corr, cb, cc, others) + _qvn_integrand(
            c + h * _GK_X[i], piv, b, corr, cb, cc, others)
        k += _GK_WK[i] * f
        g += _GK_WG[i] * f
    return k * h, abs((k - g) * h)


@kernel
def mvn_cdf(b, corr, k):
    """P(X_i <= b[i], i < k) for X ~ N(0, corr[:k, :k]), k <= 4 (NaN beyond)."""
    if k == 1:
        return norm_cdf(b[0])
    if k == 2:
        return bvn_cdf(b[0], b[1], corr[0, 1])
    if k == 3:
        return tvn_cdf(b, corr)
    if k == 4:
        return qvn_cdf(b, corr)
    return np.nan


def mvn_cdf_py(upper, corr) -> float:
    """Python entry: P(X <= upper) for X ~ N(0, corr), dimension 1..4 (ValueError beyond)."""
    b = np.ascontiguousarray(upper, dtype=np.float64).ravel()
    c = np.ascontiguousarray(corr, dtype=np.float64)
    k = b.shape[0]
    if not 1 <= k <= MAX_COMPONENTS or c.shape != (k, k):
        raise ValueError(f"dimension 1..{MAX_COMPONENTS} with a matching correlation matrix, got {k} and {c.shape}")
    return float(mvn_cdf(b, c, k))
