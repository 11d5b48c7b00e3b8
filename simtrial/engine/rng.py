"""Counter-seeded xoshiro256++ streams.

Each simulated trial gets its own stream derived from ``(seed, trial index)``
only, so a trial's numbers never depend on the thread that ran it, the block it
was scheduled in or how many trials ran before it.  The 4-word state lives in a
small uint64 array owned by the caller.
"""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import kernel

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TRIAL_SALT = np.uint64(0xD1B54A32D192ED03)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2 ** -53
_BELOW_ONE = 1.0 - _TO_UNIT  # 1 - 2 ** -53, the largest double below 1


@kernel
def _splitmix64(x):
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@kernel
def seed_stream(state, seed, trial):
    """Fill ``state`` (uint64[4]) with the stream of trial ``trial`` under ``seed``."""
    x = _splitmix64(np.uint64(seed)) ^ (_splitmix64(np.uint64(trial)) * _TRIAL_SALT)
    for i in range(4):
        x = _splitmix64(x)
        state[i] = x
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = _GOLDEN


@kernel
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@kernel
def next_u64(state):
    s0 = state[0]
    s1 = state[1]
    s2 = state[2]
    s3 = state[3]
    result = _rotl(s0 + s3, 23) + s0
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result


@kernel
def _to_unit(x):
    """The uint64 ``x`` as a double in the open interval (0, 1).

    ``k = x >> 11`` (53 bits) maps to ``(k + 0.5) * 2**-53``; the smallest value is
    ``2**-54``.  For ``k >= 2**52`` the sum ``k + 0.5`` is not representable and
    rounds half to even, which for the one odd ``k = 2**53 - 1`` gives ``2**53``,
    i.e. exactly 1.0.  Every other ``k`` stays at most ``1 - 2**-52``, so clamping to
    ``1 - 2**-53`` changes that single case and no other output (``minsd``, no branch).
    """
    return min((np.float64(x >> np.uint64(11)) + 0.5) * _TO_UNIT, _BELOW_ONE)


@kernel
def uniform(state):
    """A double in the open interval (0, 1): safe to take its log."""
    return _to_unit(next_u64(state))


@kernel
def standard_exponential(state):
    # Measured: inversion with glibc's log costs the same as a 256-layer ziggurat
    # here (~3.8 ns a draw, dominated by the generator), so the simple form stays.
    return -np.log(uniform(state))


@kernel
def _scale_below(u, n):
    """``int(u * n)`` for ``u`` in (0, 1), clamped into [0, n) (n >= 1).

    With ``u <= 1 - 2**-53`` and ``n <= 2**53`` the rounded product is already below
    ``n``; the clamp guards larger ``n``, for which ``float(n)`` itself may round up.
    """
    return min(np.int64(u * n), n - 1)


@kernel
def randint(state, n):
    """Uniform integer in [0, n), n >= 1 (n small; the bias of the multiply-shift is < n / 2**53)."""
    return _scale_below(uniform(state), n)


#: independent xoshiro256++ lanes behind :func:`fill_uniforms`: enough for LLVM to vectorise the
#: loop over them (measured: 4 or 8 lanes are not vectorised, 16 and 32 are, at ~0.55 ns a uniform
#: against 1.4 ns for the one serial stream, whose next state waits on the previous one)
LANES = 16


@kernel
def _seed_lanes(key, lanes):
    """``lanes`` (uint64[4 * LANES], word w of lane l at ``w * LANES + l``): the splitmix64 sequence from ``key``."""
    for j in range(4 * LANES):
        lanes[j] = _splitmix64(key + np.uint64(j) * _GOLDEN)
    # xoshiro's one forbidden state; splitmix64 is a bijection, so this needs four given preimages
    for lane in range(LANES):
        if lanes[lane] == 0 and lanes[LANES + lane] == 0 and lanes[2 * LANES + lane] == 0 and lanes[3 * LANES + lane] == 0:
            lanes[lane] = _GOLDEN


@kernel
def _lane_step(lanes, v, base, count):
    """Advance lanes 0 .. count - 1 by one step each, lane l's :func:`uniform` into ``v[base + l]``."""
    for lane in range(count):
        s0 = lanes[lane]
        s1 = lanes[LANES + lane]
        s2 = lanes[2 * LANES + lane]
        s3 = lanes[3 * LANES + lane]
        result = _rotl(s0 + s3, 23) + s0
        t = s1 << np.uint64(17)
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        lanes[lane] = s0
        lanes[LANES + lane] = s1
        lanes[2 * LANES + lane] = s2
        lanes[3 * LANES + lane] = s3
        v[base + lane] = _to_unit(result)


@kernel
def fill_uniforms(state, out, lo, hi):
    """``out[lo:hi]``: ``hi - lo`` uniforms in (0, 1) from ``LANES`` xoshiro256++ lanes keyed by one draw of ``state``.

    The stream advances by exactly one :func:`next_u64` (the key), whatever ``hi - lo``.
    The lanes are seeded with the splitmix64 sequence from the key (as xoshiro's
    authors seed a state), and ``out[lo + k * LANES + l]`` is lane ``l``'s k-th output
    (through :func:`_to_unit`, as :func:`uniform`); a last partial step uses lanes
    0 .. (hi - lo) % LANES - 1.  So a trial's numbers still depend only on (seed, trial)
    and the order of its calls, and a fill of any length is a few nanoseconds of set-up.
    """
    key = next_u64(state)
    lanes = np.empty(4 * LANES, dtype=np.uint64)
    _seed_lanes(key, lanes)
    # a slice from 0: see simtrial.engine.fastmath.neg_log_inplace
    v = out[lo:hi]
    m = hi - lo
    steps = m // LANES
    for k in range(steps):
        # written out, not a call of _lane_step: with the lane count a constant of this loop
        # LLVM vectorises it (through a call with count = LANES it did not: 1.1 ns a uniform)
        for lane in range(LANES):
            s0 = lanes[lane]
            s1 = lanes[LANES + lane]
            s2 = lanes[2 * LANES + lane]
            s3 = lanes[3 * LANES + lane]
            result = _rotl(s0 + s3, 23) + s0
            t = s1 << np.uint64(17)
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = _rotl(s3, 45)
            lanes[lane] = s0
            lanes[LANES + lane] = s1
            lanes[2 * LANES + lane] = s2
            lanes[3 * LANES + lane] = s3
            v[k * LANES + lane] = _to_unit(result)
    _lane_step(lanes, v, steps * LANES, m - steps * LANES)
