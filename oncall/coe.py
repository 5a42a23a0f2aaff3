"""COE (Clarification of Error) data: incident facts in, one dict of placeholder values out.

Pure. The flow gathers the incident, its related alerts, their logs and notes, and who was
on call; `coe_values` turns that into the `{{placeholder}}` values the template is filled
with, in one place (the Netflix/dispatch pattern). Values are escaped so alert text can
never form a placeholder, or be expanded by a later replacement.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from oncall import escape
from oncall.clock import fmt_duration, fmt_local, local
from oncall.kinds import alert_kind, one_line
from oncall.models import (
    Alert,
    Incident,
    OnCall,
    Person,
    Priority,
    Responder,
    TimelineEntry,
    priority_label,
    priority_rank,
    stand_in_id,
    stood_in_by,
)

TEMPLATE = Path(__file__).with_name("templates") / "coe.md"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")
VALUE_LIMIT = 30_000  # per value; Docs accepts more, reviewers read less

PLACEHOLDERS: dict[str, str] = {
    "incident.id": "the source's incident id",
    "incident.tiny_id": "short incident number",
    "incident.title": "incident title",
    "incident.priority": "P1..P5",
    "incident.status": "status when the COE was prepared",
    "incident.link": "link to the incident in the alert source",
    "incident.services": "impacted services",
    "incident.responders": "responders (users and teams)",
    "incident.acknowledged_by": "who acknowledged first",
    "incident.start": "start, as the source records the incident (the same start the hand-off and tracker show)",
    "incident.detected": "first related alert",
    "incident.acknowledged": "first acknowledgement",
    "incident.resolved": "resolution",
    "incident.duration": "start to resolution (Incident.duration: the same everywhere)",
    "incident.time_to_detect": "start to the first related alert (0s when an alert came first)",
    "incident.time_to_acknowledge": "detection to acknowledgement",
    "incident.time_to_resolve": "start to resolution",
    "oncall.at_start": "who was on call when it started",
    "alerts.count": "number of related alerts",
    "alerts.list": "related alerts by kind, with counts",
    "timeline": "incident log, alert logs and notes merged, oldest first, in the team's zone",
    "timeline.table": "the same timeline as a table (time, who, what): a native Docs table when it "
    "stands alone in its paragraph, else a text table",
    "source.name": "the alert source, by its name (e.g. OpsGenie)",
    "coe.date": "the date the COE was prepared",
    "coe.timezone": "the zone times are shown in",
}
REQUIRED = frozenset({"incident.title", "incident.duration", "timeline"})
# A required placeholder a template may give in another form instead.
ALTERNATIVES = {"timeline": "timeline.table"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CoeFacts(_Frozen):
    """Everything gathered about one incident."""

    incident: Incident
    related: list[Alert]
    timeline: list[TimelineEntry]
    on_call: OnCall | None
    timezone: str
    source: str
    prepared_at: datetime


# The alerts that may stand in for an incident (teams that page without incidents).
STAND_IN_PRIORITIES = frozenset({Priority.P1, Priority.P2})


def coe_refusal(
    kind: str, ident: str, lasted: timedelta | None, threshold: timedelta, priority: Priority | None = None
) -> str | None:
    """The COE rule, for every place that decides (coe-prep, incident-watch, the webhook relay):
    None when the handbook asks for a COE, else why not. An incident qualifies when it lasted at
    least `threshold`; an alert (`kind` "alert") the same way, and only when it is P1/P2.
    `lasted` is None when the source gives no resolve time."""
    if kind == "alert" and priority not in STAND_IN_PRIORITIES:
        shown = "has no priority" if priority is None else f"is {priority.value}"
        return f"alert {ident} {shown}; COEs are for P1/P2"
    if lasted is None:
        return f"{kind} {ident} has no resolve time in the source"
    if lasted < threshold:
        return f"{kind} {ident} lasted {fmt_duration(lasted)}, under {fmt_duration(threshold)}"
    return None


def needs_coe(incident: Incident, threshold: timedelta) -> tuple[bool, str]:
    """Whether the handbook asks for a COE, with the reason either way."""
    if incident.status not in ("resolved", "closed"):
        return (
            False,
            f"incident {incident.id} is still {incident.status}; a COE is prepared once it is resolved",
        )
    if refused := coe_refusal("incident", incident.id, incident.duration, threshold):
        return False, refused
    return True, f"incident {incident.id} lasted {fmt_duration(incident.duration)}"


def incident_from_alert(alert: Alert) -> Incident:
    """Teams that page without incidents: a closed P1/P2 alert stands in for one."""
    resolved = alert.created_at + alert.close_after if alert.close_after is not None else None
    return Incident(
        id=stand_in_id(alert.id),
        tiny_id=alert.tiny_id,
        message=alert.message,
        status="closed" if not alert.is_open else "open",
        priority=alert.priority,
        tags=alert.tags,
        created_at=alert.created_at,
        updated_at=alert.updated_at,
        resolved_at=resolved,
        owner=alert.owner,
        responders=alert.responders,
        url=alert.url,
    )


RELATED_LEAD = timedelta(minutes=30)  # how long before an incident its alerts may start


def related_alerts(
    incident: Incident, candidates: list[Alert], lead: timedelta = RELATED_LEAD
) -> list[Alert]:
    """Alerts that belong to the incident: tagged with it when any are, else the urgent ones around it."""
    end = incident.resolved_at or incident.updated_at or incident.created_at
    window = [a for a in candidates if incident.created_at - lead <= a.created_at <= end]
    marks = {f"incident-{incident.tiny_id}", f"incident-{incident.id}", incident.id}
    tagged = [a for a in window if marks & set(a.tags)]
    if tagged or (alert_id := stood_in_by(incident.id)) is not None:
        return tagged or [a for a in window if a.id == alert_id]
    if incident.priority is None or all(a.priority is None for a in window):
        return window  # no priorities to tell urgent from routine: everything around it
    rank = priority_rank(incident.priority)
    return [a for a in window if priority_rank(a.priority) <= rank + 1]


def _safe(text: str, limit: int = 2_000) -> str:
    """Docs text that cannot form `{{...}}` with itself or with the template text around it."""
    return escape.doc(text, limit)


def _when(dt: datetime | None, tz: str) -> str:
    return fmt_local(dt, tz) if dt else "not available"


def coe_values(facts: CoeFacts) -> dict[str, str]:
    """The value of every documented placeholder for this incident, escaped for the document."""
    inc, tz = facts.incident, facts.timezone
    first_alert = min((a.created_at for a in facts.related), default=None)
    start = inc.start
    detected = first_alert or start
    acks = [(a.created_at + a.ack_after, a.acknowledged_by) for a in facts.related if a.ack_after is not None]
    acks += [(e.at, e.actor) for e in facts.timeline if e.origin == "incident" and "ack" in e.kind.lower()]
    ack_at, ack_by = min(acks, key=lambda x: x[0]) if acks else (None, None)
    resolved = inc.end

    def span(a: datetime | None, b: datetime | None) -> str:
        return fmt_duration(b - a) if a and b else "not available"

    to_detect = span(start, detected)
    if detected < start:
        to_detect = f"0s; the first related alert came {fmt_duration(start - detected)} before the incident"

    kinds = Counter(alert_kind(a.message) for a in facts.related)
    counts = Counter(alert_kind(a.message) for a in facts.related for _ in range(a.count))
    alerts_list = (
        "\n".join(f"• {k}: {n} alert(s), {counts[k]} occurrence(s)" for k, n in kinds.most_common()) or "none"
    )
    entries = timeline_entries(facts)
    timeline = "\n".join(" · ".join(e) for e in entries) or "no entries"
    people = facts.on_call.people if facts.on_call else ()
    responders = ", ".join(responder_label(r, people) for r in inc.responders) or "not available"
    values = {
        "incident.id": inc.id,
        "incident.tiny_id": inc.tiny_id or inc.id,
        "incident.title": inc.message,
        "incident.priority": priority_label(inc.priority),
        "incident.status": inc.status,
        "incident.link": inc.url or "not available",
        "incident.services": ", ".join(inc.impacted_services) or "not available",
        "incident.responders": responders,
        "incident.acknowledged_by": ack_by or "not available",
        "incident.start": _when(start, tz),
        "incident.detected": _when(detected, tz),
        "incident.acknowledged": _when(ack_at, tz),
        "incident.resolved": _when(resolved, tz),
        "incident.duration": fmt_duration(inc.duration) if inc.duration is not None else "not available",
        "incident.time_to_detect": to_detect,
        "incident.time_to_acknowledge": span(detected, ack_at),
        "incident.time_to_resolve": span(start, resolved),  # = incident.duration, by definition
        "oncall.at_start": facts.on_call.names if facts.on_call else "not available",
        "alerts.count": str(len(facts.related)),
        "alerts.list": alerts_list,
        "timeline": timeline,
        "source.name": source_title(facts.source),
        "coe.date": local(facts.prepared_at, tz).format("YYYY-MM-DD"),
        "coe.timezone": tz,
    }
    safe = {
        k: _safe(v, VALUE_LIMIT if k in ("timeline", "alerts.list") else 2_000) for k, v in values.items()
    }
    safe["timeline.table"] = _text_table(timeline_table(facts))
    return safe


def timeline_entries(facts: CoeFacts) -> list[tuple[str, str, str]]:
    """The merged timeline, oldest first: (time in the team's zone, who, what), unescaped."""
    return [
        (local(e.at, facts.timezone).format("YYYY-MM-DD HH:mm:ss"), e.actor or "system", e.text)
        for e in sorted(facts.timeline, key=lambda e: (e.at, e.origin))
    ]


def timeline_table(facts: CoeFacts) -> list[tuple[str, ...]]:
    """The timeline as table rows, the header first, each cell escaped for Docs and bounded; rows
    stop once the table holds `VALUE_LIMIT` characters, and a last row says how many were left
    out (the incident's own log has them all)."""
    rows: list[tuple[str, ...]] = [(f"time ({facts.timezone})", "who", "what")]
    entries = timeline_entries(facts)
    size = 0
    for n, (at, who, what) in enumerate(entries):
        row = (_safe(at, 40), _safe(who, 200), _safe(what, 2_000))
        size += sum(len(c) for c in row)
        if size > VALUE_LIMIT:
            rows.append(("…", "", f"{len(entries) - n} more entries: see the incident's log"))
            break
        rows.append(row)
    if not entries:
        rows.append(("", "", "no entries"))
    return rows


def _text_table(rows: list[tuple[str, ...]]) -> str:
    """The rows as a pipe table, for a template whose `{{timeline.table}}` shares its paragraph
    (or a markdown COE): a `|` or a line break in a cell cannot end it."""
    lines = ["| " + " | ".join(c.replace("|", "∣").replace("\n", " ") for c in r) + " |" for r in rows]
    return "\n".join([lines[0], "|" + "---|" * len(rows[0]), *lines[1:]])


def source_title(name: str) -> str:
    """The source's name as people know it (the registry's title), or `name` if none is registered."""
    from oncall.errors import ConfigError
    from oncall.sources import source_spec  # the registry loads on first use; this module stays light

    try:
        return source_spec(name).title
    except ConfigError:
        return name


def responder_label(responder: Responder, people: Iterable[Person] = ()) -> str:
    """A responder's name; else the name of the person with its id among `people` (who was on call,
    as the same source listed them); else its id, labelled as one (OpsGenie incidents name
    responders by id only)."""
    if responder.name:
        return responder.name
    named = next((p.name for p in people if p.id and p.id == responder.id), None)
    return named or f"{responder.type} id {responder.id}"


def coe_title(incident: Incident, tz: str) -> str:
    """`COE 2026-11-21 <title>`: the document's name in Drive."""
    return escape.cut(
        f"COE {local(incident.created_at, tz).format('YYYY-MM-DD')} {one_line(incident.message)}", 200
    )


class TemplateCheck(_Frozen):
    used: list[str]
    missing: list[str]  # documented placeholders the template lacks
    unknown: list[str]  # placeholders in the template the flow does not fill

    @property
    def missing_required(self) -> list[str]:
        return [p for p in self.missing if p in REQUIRED and ALTERNATIVES.get(p) not in self.used]


def check_template(text: str) -> TemplateCheck:
    found = sorted(set(PLACEHOLDER.findall(text)))
    return TemplateCheck(
        used=[p for p in found if p in PLACEHOLDERS],
        missing=[p for p in PLACEHOLDERS if p not in found],
        unknown=[p for p in found if p not in PLACEHOLDERS],
    )


def fill(text: str, values: dict[str, str]) -> str:
    """The template with every known placeholder replaced, in one pass (values are never re-read)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def leftover_placeholders(text: str) -> list[str]:
    return sorted(set(PLACEHOLDER.findall(text)))
