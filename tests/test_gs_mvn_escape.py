"""The escape term of a group-sequential MaxCombo bound: cached per look, and what it costs.

A look's bound solves P(look below c) - escape(c) = 1 - alpha_k, escape(c) = P(look below c, some
earlier variable above its bound) as a sum of disjoint pieces, piece r = {earlier variables 0 .. r-1
below, r above, look below c}.  The kernel integrates each piece's earlier variables once per look
and redoes only the look's J variables per trial c.  The twin here integrates every piece whole, in
numpy (scipy's normal quantile, not the kernel's), at each c, with the same lattice points and the
same variable order: the cache must not change the number.  The accuracy of the bounds themselves
is checked against pmvnorm in test_gs_mvn_bounds_reference.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from simtrial.engine import gs_mvn

HERE = Path(__file__).parent / "fixtures" / "r"
CASES = {c["name"]: c for c in json.loads((HERE / "gs_mvn_bounds_cases.json").read_text())}
N_SHIFTS = gs_mvn.DEFAULT_SHIFTS
ROW = gs_mvn.lattice_row(gs_mvn.DEFAULT_POINTS)


def _coordinates(n_dims):
    """[shift, point, coordinate] of the tent-transformed shifted rank-1 lattice."""
    n = int(gs_mvn._LATTICE_N[ROW])
    z = gs_mvn._LATTICE_Z[ROW, :n_dims]
    base = (np.arange(n)[:, None] * z[None, :] % n) / n
    v = base[None, :, :] + gs_mvn._SHIFTS[:N_SHIFTS, None, :n_dims]
    return np.abs(2.0 * (v - np.floor(v)) - 1.0)


def _piece_order(sub, upper_nat, c, n_pre, J, r):
    """Piece r's ordered Cholesky factor and limits: its earlier variables first, the look's last."""
    dr = J + r + 1
    perm = np.r_[np.arange(r + 1), n_pre + np.arange(J)]
    lower = np.where(perm == r, upper_nat[perm], -np.inf)
    upper = np.where(perm >= n_pre, c, np.where(perm == r, np.inf, upper_nat[perm]))
    corr = np.ascontiguousarray(sub[np.ix_(perm, perm)])
    order = np.empty(dr, np.int64)
    chol, lo, up, work, y = np.empty((dr, dr)), np.empty(dr), np.empty(dr), np.empty((dr, dr)), np.empty(dr)
    gs_mvn.genz_order(corr, lower, upper, dr, r + 1, order, chol, lo, up, work, y)
    return chol, lo, up, perm[order] >= n_pre


def _piece_mean(chol, lo, up, look, c):
    """Genz's recursion over all of a piece's variables at once, the look's upper limits set to c."""
    up = np.where(look, c, up)
    dr = chol.shape[0]
    u = _coordinates(dr)
    y = np.zeros(u.shape)
    f = np.ones(u.shape[:2])
    for i in range(dr):
        acc = y[:, :, :i] @ chol[i, :i]
        a = ndtr((lo[i] - acc) / chol[i, i])
        b = ndtr((up[i] - acc) / chol[i, i])
        f *= b - a
        y[:, :, i] = ndtri(np.clip(a + u[:, :, i] * (b - a), 1e-300, 1.0 - 1e-16))
    return f.mean(axis=1)  # per shift


def _setup(case, look):
    """The kernel's inputs at ``look`` (>= 1): correlation, earlier bounds (the kernel's), start c, target."""
    corr = np.array(case["corr"])
    cum = np.array(case["cum_alpha"])
    J = case["components"]
    k = cum.size
    bounds, error = np.empty(k), np.empty(k)
    gs_mvn.combo_bounds(corr, J, np.ones(k, bool), cum, np.full(k, -np.inf), gs_mvn.DEFAULT_POINTS, N_SHIFTS,
                        bounds, error)
    n_pre = look * J
    d = n_pre + J
    sub = np.ascontiguousarray(corr[:d, :d])
    upper_nat = np.r_[np.repeat(bounds[:look], J), np.full(J, np.inf)]
    blk = np.ascontiguousarray(sub[n_pre:, n_pre:])
    target = 1.0 - cum[look]
    sb, sc, dens = np.empty(3), np.empty((3, 3)), np.zeros(1)
    block_cdf = lambda c: gs_mvn._block_cdf(c, J, blk, sb, sc, dens)  # noqa: E731
    c0 = brentq(lambda c: block_cdf(c) - target, 0.0, 8.0, xtol=1e-14)
    return sub, upper_nat, c0, n_pre, J, target, block_cdf, bounds


def _kernel_escape(sub, upper_nat, c0, n_pre, J):
    n_q = N_SHIFTS * int(gs_mvn._LATTICE_N[ROW])
    d = n_pre + J
    esc_f, esc_mu, blk_chol = np.empty((n_q, n_pre)), np.empty((n_q, n_pre, J)), np.empty((n_pre, J, J))
    gs_mvn._escape_prefix(sub, upper_nat, c0, n_pre, J, ROW, N_SHIFTS, np.empty(d, np.int64), np.empty((d, d)),
                          np.empty(d), np.empty(d), np.empty(d, np.int64), np.empty((d, d)), np.empty(d),
                          np.empty(d), np.empty((d, d)), np.empty(d), blk_chol, esc_f, esc_mu)
    err = np.zeros(1)

    def escape(c):
        return gs_mvn._escape_mean(c, blk_chol, n_pre, J, ROW, N_SHIFTS, esc_f, esc_mu, np.empty(J), err), err[0]
    return escape


def _twin_escape(sub, upper_nat, c0, n_pre, J):
    pieces = [_piece_order(sub, upper_nat, c0, n_pre, J, r) for r in range(n_pre)]

    def escape(c):
        per_shift = sum(_piece_mean(*p, c) for p in pieces)
        return per_shift.mean(), 3.5 * per_shift.std(ddof=1) / np.sqrt(N_SHIFTS)
    return escape


@pytest.mark.parametrize("name, look", [("w86_3looks", 1), ("w86_3looks", 2), ("w85_t50", 1), ("pair_t50", 1)])
def test_cached_escape_equals_whole_pieces(name, look):
    sub, upper_nat, c0, n_pre, J, _, _, _ = _setup(CASES[name], look)
    fast = _kernel_escape(sub, upper_nat, c0, n_pre, J)
    slow = _twin_escape(sub, upper_nat, c0, n_pre, J)
    for c in (c0 - 0.3, c0, c0 + 0.05, c0 + 0.4):
        (h, e), (h_ref, e_ref) = fast(c), slow(c)
        assert h > 1e-5  # a real escape, not two zeros
        # 1e-8 relative: the kernel draws by Acklam's quantile (1.2e-9 relative), the twin by ndtri; a
        # cache read at the wrong point, coordinate or order moves the sum by the lattice error, ~1e-2
        assert abs(h - h_ref) <= 1e-8 * h_ref
        assert abs(e - e_ref) <= 1e-6 * e_ref


def test_three_look_bound_is_the_root_of_the_whole_piece_path():
    # the last look's bound from the kernel's cached, secant-accelerated Newton equals the root, to
    # 1e-12 by brentq, of the same equation with every piece integrated whole at each c
    sub, upper_nat, c0, n_pre, J, target, block_cdf, bounds = _setup(CASES["w86_3looks"], 2)
    slow = _twin_escape(sub, upper_nat, c0, n_pre, J)
    root = brentq(lambda c: block_cdf(c) - target - slow(c)[0], c0, c0 + 1.0, xtol=1e-12)
    assert abs(bounds[2] - root) <= 1e-8


def test_three_look_solve_is_a_few_escape_evaluations_per_look():
    # one c-free pass over the earlier variables per look, then at most 5 evaluations of the look's own
    # variables (each J per piece per point); before the cache every evaluation redid the J + r + 1
    # variables of every piece r, and the contraction without the escape's slope took 6 at the third look
    case = CASES["w86_3looks"]
    corr, cum = np.array(case["corr"]), np.array(case["cum_alpha"])
    k = cum.size
    args = (corr, case["components"], np.ones(k, bool), cum, np.full(k, -np.inf), gs_mvn.DEFAULT_POINTS, N_SHIFTS)
    bounds, error, passes = np.empty(k), np.empty(k), np.zeros(k, np.int64)
    gs_mvn.combo_bounds_counted(*args, bounds, error, passes)
    assert passes[0] == 0  # the first look is exact
    assert np.all((passes[1:] >= 3) & (passes[1:] <= 6))
    plain_b, plain_e = np.empty(k), np.empty(k)
    gs_mvn.combo_bounds(*args, plain_b, plain_e)
    assert np.array_equal(bounds, plain_b) and np.array_equal(error, plain_e)
