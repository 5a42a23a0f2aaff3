"""Tasks that read the alert source. Each makes its calls through the source interface only.

The clients already retry 429/5xx/timeouts with backoff, so task-level retries are few and
slow: they cover a source that was down for a minute, not a flaky request.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from oncall import clock
from oncall.errors import InputError, OncallError
from oncall.links import runbook_url
from oncall.models import Alert, AlertQuery, Incident, OnCall, Schedule, TimeWindow
from oncall.settings import Settings
from oncall.sources import AlertSource
from tasks.clients import clients
from tasks.retry import outage_only

T = TypeVar("T")
NOTES_PER_ALERT = 20  # the oldest notes; a pull request's starting point needs no more
NOTE_CHARS = 2000


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_schedule(settings: Settings, name: str) -> Schedule:
    """The on-call schedule with its rotations (for hand-off boundaries)."""
    with clients(settings) as run:
        return run.source().get_schedule(name)


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


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_alerts(settings: Settings, query: AlertQuery) -> list[Alert]:
    """Every alert matching the query, however many (the source splits past its paging caps)."""
    with clients(settings) as run:
        source = run.source()
        alerts = source.fetch_alerts(query)
    get_run_logger().info("Read %d alerts from %s", len(alerts), source.name)
    return alerts


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_incidents(settings: Settings, window: TimeWindow) -> list[Incident]:
    """Incidents created in the window, with their resolve times."""
    with clients(settings) as run:
        source = run.source()
        incidents = source.fetch_incidents(window)
    get_run_logger().info("Read %d incidents from %s", len(incidents), source.name)
    return incidents


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_on_call(settings: Settings, schedule: str, at: datetime) -> OnCall:
    """Who was on call at one instant, overrides applied."""
    with clients(settings) as run:
        return run.source().on_call(schedule, at)


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def fetch_resolved_incidents(settings: Settings, window: TimeWindow) -> list[Incident]:
    """Incidents that were resolved or closed within the window."""
    with clients(settings) as run:
        source = run.source()
        incidents = source.fetch_resolved_incidents(window)
    get_run_logger().info("Read %d incidents resolved in the window from %s", len(incidents), source.name)
    return incidents


# -- what responders need beyond the list: runbook links and notes -------------------------------


def _warn_once(what: str, failures: list[tuple[str, OncallError]], total: int) -> None:
    """One warning for every failed read: a detail that could not be read degrades, it never fails."""
    if failures:
        first_id, first = failures[0]
        get_run_logger().warning(
            "Could not read %s of %d of %d alert(s) (first: alert %s, %s: %s); carrying on without",
            what,
            len(failures),
            total,
            first_id,
            type(first).__name__,
            first,
        )


def _each(
    source: AlertSource, ids: list[str], read: Callable[[AlertSource, str], T], what: str, in_flight: int
) -> dict[str, T]:
    """`read` once per id, a bounded number in flight, each failure kept out of the answer."""
    if not ids:
        return {}
    got: dict[str, T] = {}
    failures: list[tuple[str, OncallError]] = []
    with ThreadPoolExecutor(min(in_flight, len(ids)), thread_name_prefix="detail") as pool:

        def one(alert_id: str) -> tuple[str, T | OncallError]:
            try:
                return alert_id, read(source, alert_id)
            except OncallError as exc:
                return alert_id, exc

        for alert_id, result in pool.map(one, ids):
            if isinstance(result, OncallError):
                failures.append((alert_id, result))
            else:
                got[alert_id] = result
    _warn_once(what, failures, len(ids))
    return got


@task(cache_policy=NO_CACHE)
def fetch_runbook_links(settings: Settings, samples: list[Alert]) -> dict[str, str]:
    """The runbook link each sample alert carries (alert id -> URL), for alerts that have one.

    The list answer is read first; a sample whose list data lacks the detail fields (OpsGenie
    and JSM leave out description and details there) costs one alert read, and only that one:
    the caller passes one sample per kind, so this stays within one request per kind."""
    links: dict[str, str] = {}
    need: list[str] = []
    for alert in samples:
        url = runbook_url(alert)
        if url:
            links[alert.id] = url
        elif alert.details is None and alert.description is None and alert.id not in need:
            need.append(alert.id)
    if need:
        with clients(settings) as run:
            source = run.source()
            if not getattr(source, "lists_carry_details", False):
                read = _each(
                    source, need, lambda s, i: s.get_alert(i), "the details", settings.max_concurrency
                )
                links.update({i: url for i, full in read.items() if (url := runbook_url(full))})
    get_run_logger().info("%d of %d sample alert(s) carry a runbook link", len(links), len(samples))
    return links


@task(cache_policy=NO_CACHE)
def fetch_alert_notes(settings: Settings, alert_ids: list[str]) -> dict[str, list[str]]:
    """What responders wrote on each alert (OpsGenie and JSM alert notes, Rootly note events),
    oldest first, as a starting point for a new runbook entry. Untrusted text: escape it where
    it lands. An alert whose notes could not be read gets none."""
    ids = list(dict.fromkeys(alert_ids))

    def notes(source: AlertSource, alert_id: str) -> list[str]:
        entries = source.alert_timeline(alert_id)
        texts = [e.text.strip()[:NOTE_CHARS] for e in entries if e.origin == "alert-note" and e.text.strip()]
        return texts[:NOTES_PER_ALERT]

    if not ids:
        return {}
    with clients(settings) as run:
        got = _each(run.source(), ids, notes, "the notes", settings.max_concurrency)
    return {alert_id: got.get(alert_id, []) for alert_id in ids}
