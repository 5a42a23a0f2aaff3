"""The shift hand-off, computed from models: who, what paged, what is open, how fast.

Pure: the flow gathers alerts, incidents and on-call data through the source, then calls
`summarize_shift`. Rendering lives in `oncall.handoff_render`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from oncall.clock import BusinessHours
from oncall.coverage import Matcher
from oncall.findings import Finding
from oncall.handoff_coe import CoeNotes
from oncall.kinds import alert_kind
from oncall.models import Alert, Incident, OnCall, Priority, TimeWindow, priority_rank
from oncall.sre_requests import RequestsReport
from oncall.trends import ShiftStats


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ShiftContext(_Frozen):
    """The parameters of one hand-off, as the flow resolved them."""

    schedule: str
    window: TimeWindow
    timezone: str
    business_hours: BusinessHours
    escalation_after: timedelta = timedelta(minutes=5)
    source: str = "opsgenie"
    missing: dict[str, str] = {}  # what the source could not provide -> why ("priority": "not recorded")


class KindStat(_Frozen):
    kind: str
    alerts: int
    occurrences: int
    top_priority: Priority | None
    after_hours: int
    still_open: int
    sample: Alert
    entry: str | None = None  # the runbook entry covering the latest alert of the kind
    entry_link: str | None = None
    entry_flags: list[str] = []  # the entry's quality flags (no Diagnosis, no Mitigation, stub)


class HandoffSummary(_Frozen):
    context: ShiftContext
    outgoing: OnCall
    incoming: OnCall
    alerts: int
    occurrences: int
    by_priority: dict[str, int]
    kinds: list[KindStat]
    after_hours: int
    still_open: list[Alert]
    escalated: list[Alert]
    acknowledged: int
    closed: int
    mtta: timedelta | None
    mttr: timedelta | None
    incidents: list[Incident]
    runbook_coverage: float | None = None  # share of kinds with an entry; None when no runbook was read
    coe: CoeNotes | None = None  # None when no COE tracker is configured (or it could not be read)
    trend: list[ShiftStats] = []  # the last shifts, oldest first, this one last (tasks/trends.py)
    findings: list[Finding] = []  # the shift's operational findings, worst first (oncall.alert_quality)
    requests: RequestsReport | None = None  # the shift's @SRE requests; None: no Slack bot token
    requests_unread: str | None = None  # why Slack could not be read this time, when it could not


def _mean(values: list[timedelta]) -> timedelta | None:
    return sum(values, timedelta()) / len(values) if values else None


def is_escalated(alert: Alert, after: timedelta, now: datetime) -> bool:
    """Acknowledged only after the first escalation step, or a P1/P2 nobody acknowledged in time.

    Alert lists carry no escalation field, so this reads the acknowledgement timing, which
    is what escalation policies act on.
    """
    if alert.ack_after is not None:
        return alert.ack_after > after
    if alert.priority not in (Priority.P1, Priority.P2):
        return False
    unattended = alert.close_after if alert.close_after is not None else now - alert.created_at
    return unattended > after


def summarize_shift(
    ctx: ShiftContext,
    shift_alerts: list[Alert],
    open_alerts: list[Alert],
    incidents: list[Incident],
    outgoing: OnCall,
    incoming: OnCall,
    matcher: Matcher | None = None,
    coe: CoeNotes | None = None,
) -> HandoffSummary:
    """Everything the incoming engineer needs, from the alerts created in the shift and all still open."""
    end = ctx.window.end
    in_shift = [a for a in shift_alerts if ctx.window.contains(a.created_at)]
    groups: dict[str, list[Alert]] = defaultdict(list)
    for alert in in_shift:
        groups[alert_kind(alert.message)].append(alert)

    def after_hours(a: Alert) -> bool:
        return not ctx.business_hours.contains(a.created_at, ctx.timezone)

    def entry_of(sample: Alert) -> dict[str, Any]:
        match = matcher.match(sample.message) if matcher else None
        if match is None:
            return {}
        return {
            "entry": match.entry.title,
            "entry_link": matcher.runbook.link(match.entry) if matcher else None,
            "entry_flags": match.entry.flags,
        }

    kinds = [
        KindStat(
            kind=kind,
            alerts=len(group),
            occurrences=sum(a.count for a in group),
            top_priority=min((a.priority for a in group), key=priority_rank),
            after_hours=sum(after_hours(a) for a in group),
            still_open=sum(a.is_open for a in group),
            sample=(sample := max(group, key=lambda a: a.created_at)),
            **entry_of(sample),
        )
        for kind, group in groups.items()
    ]
    kinds.sort(key=lambda k: (-k.occurrences, -k.alerts, priority_rank(k.top_priority), k.kind))

    open_by_id = {a.id: a for a in open_alerts if a.is_open and a.created_at < end}
    open_by_id.update({a.id: a for a in in_shift if a.is_open})
    still_open = sorted(open_by_id.values(), key=lambda a: (priority_rank(a.priority), a.created_at))

    by_priority = Counter(a.priority.value for a in in_shift if a.priority is not None)
    coverage = None
    if matcher is not None:
        coverage = sum(k.entry is not None for k in kinds) / len(kinds) if kinds else 1.0
    return HandoffSummary(
        context=ctx,
        outgoing=outgoing,
        incoming=incoming,
        alerts=len(in_shift),
        occurrences=sum(a.count for a in in_shift),
        by_priority={p.value: by_priority.get(p.value, 0) for p in Priority},
        kinds=kinds,
        after_hours=sum(after_hours(a) for a in in_shift),
        still_open=still_open,
        escalated=sorted(
            (a for a in in_shift if is_escalated(a, ctx.escalation_after, end)),
            key=lambda a: (priority_rank(a.priority), a.created_at),
        ),
        acknowledged=sum(a.ack_after is not None for a in in_shift),
        closed=sum(a.close_after is not None for a in in_shift),
        mtta=_mean([a.ack_after for a in in_shift if a.ack_after is not None]),
        mttr=_mean([a.close_after for a in in_shift if a.close_after is not None]),
        incidents=sorted(
            (i for i in incidents if ctx.window.contains(i.created_at)), key=lambda i: i.created_at
        ),
        runbook_coverage=coverage,
        coe=coe,
    )
