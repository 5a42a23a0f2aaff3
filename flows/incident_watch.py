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
from oncall.watch_render import start_reason, watch_markdown
from tasks.alerts import fetch_alerts, fetch_resolved_incidents
from tasks.clients import run_clients
from tasks.config import resolve_settings
from tasks.delivery import artifact_key, publish_markdown

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
    failed run is caught up by the next; once it exists, lookback_minutes is not used (the log
    and the `incident-watch` artifact say so). Each run publishes what it found and emitted. A watermark that is unreadable or not in the past (a
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
    with run_clients(settings):  # one set of outside clients for the whole run
        if threshold_minutes is not None and threshold_minutes < 0:
            raise InputError(f"threshold_minutes {threshold_minutes} is negative")
        threshold = timedelta(
            minutes=settings.coe_threshold_minutes if threshold_minutes is None else threshold_minutes
        )
        if lookback_minutes <= 0:
            raise InputError(f"lookback_minutes {lookback_minutes} is not positive")
        until = now()
        stored = Variable.get(WATERMARK, default=None)
        start = watch_start(stored, until, timedelta(minutes=lookback_minutes))
        since = start.since
        reason = start_reason(start, stored, lookback_minutes, WATERMARK)
        if not start.problem:
            log.info("Window from %s: %s", since.isoformat(), reason)
        else:
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
            )
            if include_alerts
            else []
        )
        found = incidents.result()
        candidates = coe_candidates(found, alerts, threshold)
        log.info("Closed since %s: %d candidate(s) for a COE", since.isoformat(), len(candidates))
        emitted: set[str] = set()
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
            sent = emit_event(
                event=EVENT,
                resource=c.resource,
                payload=c.model_dump(),
                id=c.event_id,
            )
            if sent is None:  # Prefect returns None when this client sends no events
                log.warning("Prefect sent no %s for %s: events are off for this client", EVENT, c.incident_id)
                continue
            emitted.add(c.incident_id)
            log.info("Emitted %s for %s", EVENT, c.incident_id)
        if not dry_run:
            Variable.set(WATERMARK, until.isoformat(), overwrite=True)
        report = watch_markdown(
            since=since,
            until=until,
            reason=reason,
            threshold=threshold,
            incidents=found,
            alerts=alerts,
            candidates=candidates,
            emitted=emitted,
            dry_run=dry_run,
            event=EVENT,
            timezone=settings.team_timezone,
        )
        publish_markdown(
            report,
            artifact_key("incident-watch", "dry-run" if dry_run else ""),
            f"incident-watch: {len(candidates)} COE event(s) {'to emit' if dry_run else 'emitted'}, "
            f"{len(found)} closed incident(s) found",
        )
        return {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "watermark_problem": start.problem,
            "events": [c.incident_id for c in candidates],
        }
