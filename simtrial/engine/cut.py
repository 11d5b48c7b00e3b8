"""Data cuts and the ordered analysis stream of one look.

Array contract::

    sorted_x[j], sorted_idx[j]   x (time to event/dropout) ascending, with patient index
    stream_time[j], stream_code[j]  j = 0..m-1, the analysis data at a cut, ascending in time:
                                    follow-up (months) and packed (category, arm, status)

The one sort of a trial is the sort of ``x``.  At a calendar cut ``c`` a
patient entered at ``e < c`` is followed for ``min(x, c - e)``: those whose
event or dropout comes first are read off the sorted ``x`` in order; those
still in follow-up at the cut are censored at ``c - e``, which is already
ascending when patients are walked from the latest entry back to the first.
Merging these two sorted streams gives the analysis data in time order in
O(n), for every look, without sorting again.
"""

from __future__ import annotations

import numpy as np

from simtrial.engine._jit import kernel
from simtrial.engine.sort import kth_smallest

FLAG_TARGET_EVENTS_NOT_REACHED = 1


@kernel
def event_calendar_times(entry, x, pcode, n, out):
    """Calendar times of the events (entry + x for patients whose event came first); returns count."""
    m = 0
    for i in range(n):
        if pcode[i] & 1:
            out[m] = entry[i] + x[i]
            m += 1
    return m


@kernel
def look_cut_times(calendar_events, n_events, look_events, look_calendar, out_cut, out_flags):
    """Cut time of every look: the k-th event or the calendar time, whichever comes first.

    ``look_events[l]`` = 0 means no event target.  A target beyond the events
    that ever occur cuts at the last event (or at the calendar time if given)
    and raises FLAG_TARGET_EVENTS_NOT_REACHED.  ``calendar_events`` is
    reordered; targets must be non-decreasing so each selection reuses the
    partition of the previous one.
    """
    last_event = -np.inf
    for i in range(n_events):
        if calendar_events[i] > last_event:
            last_event = calendar_events[i]
    lo = 0
    for look in range(look_events.shape[0]):
        k = look_events[look]
        cut = look_calendar[look]
        flags = 0
        if k > 0:
            if k <= n_events:
                event_cut = kth_smallest(calendar_events[lo:], n_events - lo, k - lo)
                lo = k - 1
            else:
                flags |= FLAG_TARGET_EVENTS_NOT_REACHED
                event_cut = last_event if n_events > 0 else 0.0
                if not np.isfinite(cut):
                    cut = event_cut
            if event_cut < cut:
                cut = event_cut
        out_cut[look] = cut
        out_flags[look] = flags


@kernel
def count_enrolled(entry, n, cut):
    """Patients entered strictly before the cut (entry is sorted): a binary search."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if entry[mid] < cut:
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def analysis_stream(entry, x, pcode, sorted_x, sorted_idx, n, cut, stream_time, stream_code):
    """Write the look's analysis data in time order; returns the number enrolled."""
    n_enrolled = count_enrolled(entry, n, cut)
    a = 0  # position in sorted x
    b = n_enrolled - 1  # walks entries backwards: censoring times c - e ascend
    m = 0
    time_a = np.inf
    time_b = np.inf
    # advance both streams to their first item
    while a < n:
        i = sorted_idx[a]
        if i < n_enrolled and entry[i] + sorted_x[a] <= cut:
            time_a = sorted_x[a]
            break
        a += 1
    while b >= 0:
        if entry[b] + x[b] > cut:
            time_b = cut - entry[b]
            break
        b -= 1
    while a < n or b >= 0:
        if a < n and (b < 0 or time_a <= time_b):
            stream_time[m] = time_a
            stream_code[m] = pcode[sorted_idx[a]]
            m += 1
            a += 1
            time_a = np.inf
            while a < n:
                i = sorted_idx[a]
                if i < n_enrolled and entry[i] + sorted_x[a] <= cut:
                    time_a = sorted_x[a]
                    break
                a += 1
        else:
            stream_time[m] = time_b
            stream_code[m] = pcode[b] & ~1  # administratively censored at the cut
            m += 1
            b -= 1
            time_b = np.inf
            while b >= 0:
                if entry[b] + x[b] > cut:
                    time_b = cut - entry[b]
                    break
                b -= 1
    return n_enrolled
