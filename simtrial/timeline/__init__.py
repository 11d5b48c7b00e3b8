"""Analytic timelines: expected enrolment and events over calendar time, look times, solved durations.

No simulation (except where a result is confirmed by one): numerical
integration over the scenario's models, mix, misclassification, accrual and
dropout (``projection``), the accrual duration / follow-up / N that reach the
target events (``solve``), and the analytic sample sizes printed beside the
simulated one (``sizes``).
"""

from simtrial.timeline.projection import (
    Look,
    Timeline,
    expected_events,
    observed_event_probability,
    timeline,
)

__all__ = ["Look", "Timeline", "expected_events", "observed_event_probability", "timeline"]
