"""Rootly's JSON:API resources as shared models.

What Rootly does not have stays absent: alerts carry no priority and no dedup count (a
repeat is folded into the same alert), so `priority` is None and `count` is 1. Incident
severity (critical/high/medium/low) maps onto P1-P4, Rootly's own ordering. Labels are
key/value pairs; a label whose value is `true` reads as a plain tag, as OpsGenie tags do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oncall.clients.records import iso
from oncall.models import Alert, Incident, Priority, Rotation, Schedule, TimelineEntry

SEVERITY = {"critical": Priority.P1, "high": Priority.P2, "medium": Priority.P3, "low": Priority.P4}
OPEN_STATUSES = ("open", "triggered", "acknowledged", "deferred")
INCIDENT_DONE = {"resolved": "resolved", "closed": "closed", "cancelled": "closed"}
_DATA_KEYS, _DATA_DEPTH, _DATA_ITEMS, _DATA_VALUE = 200, 6, 20, 4096
ROTATION_UNITS = {
    "ScheduleDailyRotation": ("daily", 1),
    "ScheduleWeeklyRotation": ("weekly", 1),
    "ScheduleBiweeklyRotation": ("weekly", 2),
}


def label_tags(labels: Any) -> tuple[str, ...]:
    """Rootly labels (a list of {key, value} on alerts, an object on incidents) as tags."""
    pairs = labels.items() if isinstance(labels, dict) else ((x["key"], x["value"]) for x in labels or ())
    return tuple(str(k) if v is True or v == "true" else f"{k}:{v}" for k, v in pairs)


def _names(items: Any) -> tuple[str, ...]:
    """Names of embedded resources, whether bare or wrapped in a JSON:API `data` document."""
    out = []
    for item in items or ():
        attrs = (item.get("data") or item).get("attributes", item) if isinstance(item, dict) else {}
        if attrs.get("name"):
            out.append(str(attrs["name"]))
    return tuple(out)


def flat_data(data: dict[str, Any]) -> dict[str, str]:
    """The alert's `data` (whatever the sender posted, nested for Alertmanager's webhook body:
    `commonAnnotations`, `alerts[].annotations`) as dotted keys with text values, so a runbook
    link inside it is found. Bounded: a sender's huge payload must not bloat a week of alerts."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any, depth: int) -> None:
        if len(out) >= _DATA_KEYS:
            return
        if isinstance(value, dict) and depth < _DATA_DEPTH:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v, depth + 1)
        elif isinstance(value, list) and depth < _DATA_DEPTH:
            for n, v in enumerate(value[:_DATA_ITEMS]):
                walk(f"{prefix}.{n}" if prefix else str(n), v, depth + 1)
        elif value is not None and len(text := str(value)) <= _DATA_VALUE:
            out[prefix] = text

    walk("", data, 0)
    return out


def alert_from_resource(res: dict[str, Any], ack: tuple[datetime, str | None] | None = None) -> Alert:
    """One `alerts` resource; `ack` is (when, by whom) from the alert's `acknowledged` event."""
    a = res["attributes"]
    created = iso(a["created_at"])
    assert created is not None
    ended = iso(a.get("ended_at"))
    status = "closed" if a.get("status") == "resolved" else "open"
    data = a.get("data") if isinstance(a.get("data"), dict) else None
    return Alert.lean(
        id=res["id"],
        tiny_id=a.get("short_id"),
        alias=a.get("deduplication_key"),
        message=a["summary"],
        status=status,
        acknowledged=ack is not None or a.get("status") == "acknowledged",
        priority=None,
        tags=label_tags(a.get("labels")),
        source=a.get("source"),
        created_at=created,
        updated_at=iso(a.get("updated_at")),
        last_occurred_at=iso(a.get("started_at")) or created,
        ack_after=ack[0] - created if ack else None,
        close_after=ended - created if ended is not None and status == "closed" else None,
        acknowledged_by=ack[1] if ack else None,
        integration=a.get("source"),
        url=a.get("url") or a.get("external_url"),
        description=a.get("description"),
        details=flat_data(data) if data else None,
    )


def incident_from_resource(res: dict[str, Any]) -> Incident:
    a = res["attributes"]
    severity = ((a.get("severity") or {}).get("data") or {}).get("attributes") or {}
    started = iso(a.get("started_at")) or iso(a["created_at"])
    assert started is not None
    status = INCIDENT_DONE.get(str(a.get("status")), "open")
    user = (a.get("user") or {}).get("data", {}).get("attributes", {}) if a.get("user") else {}
    return Incident(
        id=res["id"],
        tiny_id=str(a["sequential_id"]) if a.get("sequential_id") is not None else None,
        message=a["title"],
        status=status,
        priority=SEVERITY.get(str(severity.get("severity"))),
        tags=label_tags(a.get("labels")),
        created_at=started,
        updated_at=iso(a.get("updated_at")),
        resolved_at=iso(a.get("resolved_at")) or (iso(a.get("closed_at")) if status != "open" else None),
        owner=user.get("email") or user.get("full_name"),
        impacted_services=_names(a.get("services")),
        url=a.get("url"),
        extra={"severity": str(severity["name"])} if severity.get("name") else {},
    )


def event_from_resource(res: dict[str, Any], incident_id: str) -> TimelineEntry:
    a = res["attributes"]
    at = iso(a["occurred_at"])
    assert at is not None
    return TimelineEntry(
        at=at,
        origin="incident",
        kind="event",
        text=a["event"],
        ref=incident_id,
    )


def schedule_from_resources(res: dict[str, Any], rotations: list[dict[str, Any]]) -> Schedule:
    """A schedule with its rotations; a rotation type Rootly has beyond daily/weekly is left out."""
    out = []
    zones = []
    for r in rotations:
        a = r["attributes"]
        unit = ROTATION_UNITS.get(a["schedule_rotationable_type"])
        zones.append(a.get("time_zone") or "Etc/UTC")
        if unit is None or not a.get("start_time"):
            continue
        start = iso(a["start_time"])
        assert start is not None
        out.append(
            Rotation(name=a["name"], start=start, end=iso(a.get("end_time")), unit=unit[0], length=unit[1])
        )
    return Schedule(
        id=res["id"],
        name=res["attributes"]["name"],
        timezone=zones[0] if zones else "UTC",
        rotations=tuple(out),
    )
