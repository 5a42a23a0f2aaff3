"""Tasks that read the alert source. Each makes its calls through the source interface only.

The clients already retry 429/5xx/timeouts with backoff, so task-level retries are few and
slow: they cover a source that was down for a minute, not a flaky request.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from oncall import clock
from oncall.clients.records import gc_paused
from oncall.errors import InputError
from oncall.models import Alert, AlertQuery, Incident, OnCall, Schedule, TimeWindow
from oncall.settings import Settings
from oncall.sources import build_source
from tasks.retry import outage_only


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_schedule(settings: Settings, name: str) -> Schedule:
    """The on-call schedule with its rotations (for hand-off boundaries)."""
    with closing(build_source(settings)) as source:
        return source.get_schedule(name)


@task(cache_policy=NO_CACHE)
def resolve_shift_window(
    schedule: Schedule,
    shift_end: str,
    shift_start: str | None,
    timezone: str,
    fired_at: datetime | None = None,
) -> TimeWindow:
    """The shift to report on: ends at `shift_end`, starts at `shift_start` or the previous hand-off.

    `now` (the default) names a shift, never the instant a run started, so every run for one
    shift gets the same window, and Slack's once-per-shift record the same key. A scheduled
    run ends at its fire time (`fired_at`, the same for every retry and worker); a run by hand
    ends at the last hand-off that has passed. An explicit end must not be in the future.
    """
    current = clock.now()
    if shift_end.strip().lower() != "now":
        end = clock.parse_instant(shift_end, timezone)
        if end > current:
            raise InputError(
                f"shift_end {clock.fmt_local(end, timezone)} is in the future (it is "
                f"{clock.fmt_local(current, timezone)}); a hand-off reports a shift that has ended: "
                "pass a time that has passed, or 'now' for the last finished shift"
            )
    elif fired_at is not None:
        end = fired_at
    else:
        end = _hand_off(
            clock.last_boundary(schedule.rotations, current, schedule.timezone),
            f"schedule {schedule.name!r} has had no hand-off yet, so no shift has ended; "
            "pass shift_end and shift_start explicitly",
        )
    if shift_start:
        start = clock.parse_start(shift_start, end, timezone)
    else:
        start = _hand_off(
            clock.previous_boundary(schedule.rotations, end, schedule.timezone),
            f"schedule {schedule.name!r} has no rotation that started before {end.isoformat()}; "
            "pass shift_start explicitly",
        )
    if start >= end:
        raise InputError(f"shift_start {start.isoformat()} is not before shift_end {end.isoformat()}")
    get_run_logger().info(
        "Shift window %s → %s", clock.fmt_local(start, timezone), clock.fmt_local(end, timezone)
    )
    return TimeWindow(start=start, end=end)


def _hand_off(boundary: datetime | None, problem: str) -> datetime:
    """A hand-off the window needs, or the InputError saying which one is missing."""
    if boundary is None:
        raise InputError(problem)
    return boundary


@dataclass(frozen=True)
class Alerts:
    """A task's alerts in one box.

    Prefect links every item of a list a task returns to the task's state: one walk and one
    weak reference per item, half a second for a 50,000-alert week. A box is linked once.
    """

    items: list[Alert]


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_alerts(settings: Settings, query: AlertQuery) -> Alerts:
    """Every alert matching the query, however many (the source splits past its paging caps)."""
    with closing(build_source(settings)) as source, gc_paused():
        alerts = source.fetch_alerts(query)
    get_run_logger().info("Read %d alerts from %s", len(alerts), source.name)
    return Alerts(alerts)


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_incidents(settings: Settings, window: TimeWindow) -> list[Incident]:
    """Incidents created in the window, with their resolve times."""
    with closing(build_source(settings)) as source:
        incidents = source.fetch_incidents(window)
    get_run_logger().info("Read %d incidents from %s", len(incidents), source.name)
    return incidents


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_on_call(settings: Settings, schedule: str, at: datetime) -> OnCall:
    """Who was on call at one instant, overrides applied."""
    with closing(build_source(settings)) as source:
        return source.on_call(schedule, at)


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_resolved_incidents(settings: Settings, window: TimeWindow) -> list[Incident]:
    """Incidents that were resolved or closed within the window."""
    with closing(build_source(settings)) as source:
        incidents = source.fetch_resolved_incidents(window)
    get_run_logger().info("Read %d incidents resolved in the window from %s", len(incidents), source.name)
    return incidents
