"""incident-watch: emit the event that starts coe-prep for every long incident that closed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow
from prefect.events import emit_event
from prefect.logging import get_run_logger
from prefect.variables import Variable

from oncall.clock import now
from oncall.errors import InputError
from oncall.models import AlertQuery, Priority, TimeWindow
from oncall.watch import EVENT, coe_candidates, watch_start
from tasks.alerts import fetch_alerts, fetch_resolved_incidents
from tasks.config import resolve_settings

WATERMARK = "oncall-incident-watch-watermark"


@flow(name="incident-watch")
def incident_watch(
    lookback_minutes: int = 60,
    threshold_minutes: int | None = None,
    include_alerts: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Find incidents (and P1/P2 alerts) closed since the last successful run that lasted long
    enough for a COE, and emit one `oncall.incident.closed` event each; the coe-prep deployment
    is triggered by it. The watermark moves only after every event went out, so a missed or
    failed run is caught up by the next. A watermark that is unreadable or not in the past (a
    clock that jumped, a hand edit) is logged and not used: the run looks back 7 days (or
    lookback_minutes, if longer) and rewrites it when it succeeds.

    Args:
        lookback_minutes: How far back the first run looks (later runs start at the watermark, or look back at least 7 days when it cannot be trusted)
        threshold_minutes: COE threshold; default ONCALL_COE_THRESHOLD_MINUTES (10)
        include_alerts: Also closed P1/P2 alerts outside any incident (teams that page without incidents)
        dry_run: Log the events it would emit; emit nothing and keep the watermark
    """
    log = get_run_logger()
    settings = resolve_settings()
    if threshold_minutes is not None and threshold_minutes < 0:
        raise InputError(f"threshold_minutes {threshold_minutes} is negative")
    threshold = timedelta(
        minutes=settings.coe_threshold_minutes if threshold_minutes is None else threshold_minutes
    )
    if lookback_minutes <= 0:
        raise InputError(f"lookback_minutes {lookback_minutes} is not positive")
    until = now()
    start = watch_start(Variable.get(WATERMARK, default=None), until, timedelta(minutes=lookback_minutes))
    since = start.since
    if start.problem:
        log.warning(
            "The %s Variable is not used: %s. Looking back %g days, to %s, so that nothing which "
            "closed meanwhile is missed (an event already sent repeats with the same id); %s.",
            WATERMARK,
            start.problem,
            (until - since) / timedelta(days=1),
            since.isoformat(),
            "a dry run keeps the watermark"
            if dry_run
            else "the watermark is rewritten when this run succeeds",
        )
    window = TimeWindow(start=since, end=until)

    incidents = fetch_resolved_incidents.submit(settings, window)
    alerts = (
        fetch_alerts(
            settings, AlertQuery(status="closed", priorities=(Priority.P1, Priority.P2), updated=window)
        ).items
        if include_alerts
        else []
    )
    candidates = coe_candidates(incidents.result(), alerts, threshold)
    log.info("Closed since %s: %d candidate(s) for a COE", since.isoformat(), len(candidates))
    for c in candidates:
        if dry_run:
            log.info(
                "Dry run: would emit %s for %s (%s, %.0f min)",
                EVENT,
                c.incident_id,
                c.priority,
                c.duration_minutes,
            )
            continue
        emit_event(
            event=EVENT,
            resource=c.resource,
            payload=c.model_dump(),
            id=c.event_id,
        )
        log.info("Emitted %s for %s", EVENT, c.incident_id)
    if not dry_run:
        Variable.set(WATERMARK, until.isoformat(), overwrite=True)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "watermark_problem": start.problem,
        "events": [c.incident_id for c in candidates],
    }
