"""shift-handoff: the summary the incoming on-call engineer reads at the start of a shift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from prefect import flow
from prefect.context import FlowRunContext
from prefect.logging import get_run_logger

from oncall import alert_quality
from oncall.clock import BusinessHours, SleepHours, fmt_local, zone
from oncall.coverage import Matcher
from oncall.errors import NotAvailableError
from oncall.handoff import ShiftContext, summarize_shift
from oncall.handoff_render import render_markdown, render_slack
from oncall.models import AlertQuery
from oncall.runbook import Runbook
from oncall.sources import source_spec
from oncall.sre_requests import engineer
from tasks.alerts import fetch_alerts, fetch_incidents, fetch_on_call, fetch_schedule, resolve_shift_window
from tasks.clients import run_clients
from tasks.coe_review import read_coe_notes
from tasks.config import resolve_settings
from tasks.delivery import artifact_key, post_once, publish_markdown, write_output
from tasks.github import read_runbook
from tasks.locks import exclusive
from tasks.slack_requests import read_requests
from tasks.trends import shift_trend

Delivery = Literal["artifact", "slack", "file"]


def _fired_at() -> datetime | None:
    """When the deployment's schedule fired this run (`prefect.runtime.flow_run.scheduled_start_time`),
    or None for a run started by hand. A retry or a second worker gets the same flow run, and so
    the same time; a run by hand has no such time of its own."""
    run = ctx.flow_run if (ctx := FlowRunContext.get()) else None
    if run is None or not run.auto_scheduled or run.expected_start_time is None:
        return None
    return datetime.fromtimestamp(run.expected_start_time.timestamp(), UTC)


@flow(name="shift-handoff", log_prints=False)
def shift_handoff(
    schedule: str | None = None,
    shift_end: str = "now",
    shift_start: str | None = None,
    timezone: str | None = None,
    business_hours: str | None = None,
    deliver: list[Delivery] = ["artifact", "slack"],  # noqa: B006 - Prefect parameters must be JSON defaults
    dry_run: bool = False,
    repost: bool = False,
) -> str:
    """Summarise the shift that is ending for the engineer who takes over.

    Who was and is on call; what paged (by priority, noisiest kinds first, after-hours
    count); what is still open, how old and whose; what escalated; MTTA and MTTR; the
    shift's incidents. Delivered as a markdown artifact and a Slack message.

    Args:
        schedule: On-call schedule name; default: ONCALL_SCHEDULE
        shift_end: End of the shift: ISO-8601 time in the team's zone (not in the future), or 'now': a scheduled run's fire time, by hand the last hand-off that has passed
        shift_start: Start of the shift: ISO time or a span back from the end like '-24h'; default: the schedule's previous hand-off
        timezone: Team time zone (IANA); default: ONCALL_TEAM_TIMEZONE
        business_hours: Working hours, e.g. 'Mon-Fri 09:00-17:00'; pages outside count as after hours
        deliver: Where to send it: artifact, slack, file (under ONCALL_OUT_DIR)
        dry_run: Compute and show the hand-off; send nothing to Slack
        repost: Post to Slack even if this shift's hand-off was posted, or attempted with no clear answer, already
    """
    log = get_run_logger()
    settings = resolve_settings()
    with run_clients(settings):  # one set of outside clients for the whole run
        tz = timezone or settings.team_timezone
        zone(tz)
        hours = BusinessHours.parse(business_hours or settings.business_hours)
        name = schedule or settings.schedule

        # Gather
        sched = fetch_schedule(settings, name)
        window = resolve_shift_window(sched, shift_end, shift_start, tz, _fired_at())
        shift_alerts = fetch_alerts.submit(settings, AlertQuery(created=window))
        open_alerts = fetch_alerts.submit(settings, AlertQuery(status="open", created_before=window.start))
        incidents = fetch_incidents.submit(settings, window)
        outgoing = fetch_on_call.submit(settings, name, window.end - timedelta(seconds=1))
        incoming = fetch_on_call.submit(settings, name, window.end)
        book = read_runbook.submit(settings, settings.runbook) if settings.runbook else None
        person, email = engineer(outgoing.result())
        asks = read_requests.submit(settings, window, oncall=person, oncall_email=email)

        # Decide
        missing = dict(source_spec(settings.source).lacks)
        found = incidents.result(raise_on_failure=False)
        if isinstance(found, NotAvailableError):
            missing["incidents"] = str(found).removeprefix(f"{found.system}: ")
            found = []
        elif isinstance(found, BaseException):
            raise found
        # The shift's incidents' COEs (tracker, their documents) and the open corrective actions
        coe = read_coe_notes(settings, [i for i in found if window.contains(i.created_at)], window.end)
        ctx = ShiftContext(
            schedule=name,
            window=window,
            timezone=tz,
            business_hours=hours,
            escalation_after=timedelta(minutes=settings.escalation_minutes),
            source=settings.source,
            missing=missing,
        )
        matcher = None
        if book is not None:
            runbook = book.result(raise_on_failure=False)
            if isinstance(runbook, Runbook):
                matcher = Matcher(runbook)
            else:  # the hand-off still goes out, without its runbook column
                log.warning(
                    "Runbook unavailable; the hand-off goes out without its runbook column: %s", runbook
                )
        summary = summarize_shift(
            ctx,
            shift_alerts.result(),
            open_alerts.result(),
            found,
            outgoing.result(),
            incoming.result(),
            matcher,
            coe,
        )
        trend = shift_trend(
            settings,
            name,
            window,
            shift_alerts.result(),
            tz,
            hours,
            summary.runbook_coverage,
            store=not dry_run,
        )
        requests = asks.result(raise_on_failure=False)
        unread = None
        if isinstance(requests, BaseException):  # the hand-off still goes out, saying why
            log.warning("@SRE requests unavailable; the hand-off goes out without them: %s", requests)
            requests, unread = None, str(requests)
        findings = alert_quality.findings(
            shift_alerts.result(),
            None if "incidents" in missing else found,
            window=window,
            thresholds=alert_quality.Thresholds.from_settings(settings),
            tz=tz,
            business=hours,
            sleep=SleepHours.parse(settings.sleep_hours),
            now=window.end,
            rotation=name,
            per_person=settings.ops_per_person,
        )
        summary = summary.model_copy(
            update={
                "trend": trend,
                "findings": [f for f in findings if f.kind.fileable],
                "requests": requests.report if requests is not None else None,
                "requests_unread": unread,
            }
        )
        markdown = render_markdown(summary)
        payload = render_slack(summary)
        log.info(
            "Hand-off for %r: %d alerts, %d kinds, %d open, %d escalated, %d incidents",
            name,
            summary.alerts,
            len(summary.kinds),
            len(summary.still_open),
            len(summary.escalated),
            len(summary.incidents),
        )

        # Apply
        # One key per schedule, so /artifacts/key/<key> is its history; each version says its shift.
        key = artifact_key("shift-handoff", name, "dry-run" if dry_run else "")
        label = f"hand-off for {name}, shift {fmt_local(window.start, tz)} → {fmt_local(window.end, tz)}"
        if "artifact" in deliver or dry_run:
            publish_markdown(markdown, key, f"Dry run: {label}" if dry_run else label[0].upper() + label[1:])
        if "file" in deliver:
            write_output(settings.out_dir, "handoff.md", markdown)
            write_output(settings.out_dir, "slack-handoff.json", [payload])
        if "slack" in deliver:
            if dry_run:
                log.info("Dry run: not posting to Slack (%d blocks ready)", len(payload["blocks"]))
                return markdown
            # At most one message per shift, however many runs start for it: the check, the
            # recorded attempt and the post happen under one lock (the rule: tasks/delivery.py).
            shift = f"{window.start.isoformat()}/{window.end.isoformat()}"
            with exclusive("shift-handoff", name):
                hint = "to post it anyway, run again with repost=true (oncall handoff --repost)"
                earlier = post_once(settings, payload, name, shift, repost=repost, repost_hint=hint)
            if earlier is not None and earlier.confirmed:
                log.info("This shift's hand-off was %s; not posting it again", earlier)
        return markdown
