"""The hand-off's last shifts: read from their one Variable, the missing ones computed once.

Once the history exists a trend costs one Variable read and one write, and no alert read beyond
the hand-off's own. The first run (or one after a shift went missing or was found malformed)
reads the missing shifts' alerts in one query spanning them, not one per shift.
"""

from __future__ import annotations

from prefect.logging import get_run_logger
from prefect.variables import Variable

from oncall.clock import BusinessHours, SleepHours
from oncall.models import Alert, AlertQuery, TimeWindow
from oncall.settings import Settings
from oncall.trends import ShiftStats, decode, encode, history_key, past_windows, shift_stats
from tasks.alerts import fetch_alerts


def shift_trend(
    settings: Settings,
    schedule: str,
    window: TimeWindow,
    shift_alerts: list[Alert],
    tz: str,
    business: BusinessHours,
    coverage: float | None,
    *,
    store: bool = True,
) -> list[ShiftStats]:
    """This shift and the `trend_shifts - 1` before it that could be had, oldest first (this one
    last). A dry run (`store=False`) computes what is missing without keeping it."""
    log = get_run_logger()
    sleep = SleepHours.parse(settings.sleep_hours)
    name = history_key(schedule, window)
    history, dropped = decode(Variable.get(name, default=None))
    if dropped:
        log.warning("The stored trend %s held %d malformed shift(s); recomputing them", name, dropped)
    past = past_windows(window, settings.trend_shifts - 1)
    missing = history.missing(past)
    computed: list[ShiftStats] = []
    if missing:
        span = TimeWindow(start=missing[0].start, end=missing[-1].end)
        alerts = fetch_alerts(settings, AlertQuery(created=span))
        computed = [shift_stats(w, alerts, tz, business, sleep) for w in missing]
        log.info(
            "Computed %d past shift(s) for the trend from one read of %d alerts", len(missing), len(alerts)
        )
    now = shift_stats(window, shift_alerts, tz, business, sleep, coverage)
    kept = history.with_shifts([*computed, now], keep=settings.trend_shifts)
    if store and (computed or history.get(window) != now):
        Variable.set(name, encode(kept), overwrite=True)
    return [s for w in [*past, window] if (s := kept.get(w)) is not None]
