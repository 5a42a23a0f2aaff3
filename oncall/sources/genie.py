"""The alert API OpsGenie defined and JSM Operations kept: its search syntax and its alert
and schedule records, read into the shared models.

JSM's Operations API answers in OpsGenie's shapes (with Atlassian account ids where OpsGenie
had names), so both clients use this module; it belongs to neither, and OpsGenie's package
can go after its shutdown (2027-04-05) without touching JSM. Field names and units are
OpsGenie's: `report.ackTime` is milliseconds after creation.
"""

from __future__ import annotations

from typing import Any

from oncall.clients.records import iso
from oncall.clock import epoch_ms
from oncall.models import Alert, AlertQuery, Rotation, Schedule, TimeWindow


def build_query(q: AlertQuery, window: TimeWindow | None = None) -> str:
    """The search syntax (OpsGenie's, JSM Operations' too) for `q`, restricted to `window` when given."""
    parts: list[str] = []
    created = window or q.created
    if created is not None:
        parts += [f"createdAt>={epoch_ms(created.start)}", f"createdAt<{epoch_ms(created.end)}"]
    if q.created_before is not None:
        parts.append(f"createdAt<{epoch_ms(q.created_before)}")
    if q.updated is not None:
        parts += [f"updatedAt>={epoch_ms(q.updated.start)}", f"updatedAt<{epoch_ms(q.updated.end)}"]
    if q.status:
        parts.append(f"status:{q.status}")
    if q.priorities:
        parts.append("priority:(" + " OR ".join(p.value for p in q.priorities) + ")")
    parts += [f'tag:"{t}"' for t in q.tags]
    return " AND ".join(parts)


def responders(raw: Any) -> list[dict[str, Any]]:
    return [
        {"type": r["type"], "id": r.get("id") or r.get("name", ""), "name": r.get("name")} for r in raw or ()
    ]


def _seconds(ms: Any) -> float | None:
    return None if ms is None else int(ms) / 1000


def alert_from_raw(raw: dict[str, Any], web_base: str = "") -> Alert:
    """One alert record (OpsGenie's shape, also JSM Operations').

    Pydantic parses the timestamps (fast, and strict about zones); `Alert.lean`, because a
    flow holds a window of these at once."""
    report = raw.get("report") or {}
    integration = raw.get("integration") or {}
    return Alert.lean(
        id=raw["id"],
        tiny_id=raw.get("tinyId"),
        alias=raw.get("alias"),
        message=raw["message"],
        status=raw["status"],
        acknowledged=bool(raw.get("acknowledged", False)),
        priority=raw.get("priority", "P3"),
        tags=raw.get("tags") or (),
        source=raw.get("source"),
        owner=raw.get("owner") or None,
        count=raw.get("count", 1),
        created_at=raw["createdAt"],
        updated_at=raw.get("updatedAt"),
        last_occurred_at=raw.get("lastOccurredAt"),
        ack_after=_seconds(report.get("ackTime")),
        close_after=_seconds(report.get("closeTime")),
        acknowledged_by=report.get("acknowledgedBy"),
        closed_by=report.get("closedBy"),
        responders=responders(raw.get("responders")),
        integration=integration.get("name"),
        url=f"{web_base}/alert/detail/{raw['id']}/details" if web_base else None,
        description=raw.get("description"),
        details=raw.get("details"),
    )


def schedule_from_raw(raw: dict[str, Any]) -> Schedule:
    return Schedule(
        id=raw["id"],
        name=raw["name"],
        timezone=raw.get("timezone") or "UTC",
        enabled=bool(raw.get("enabled", True)),
        rotations=tuple(
            Rotation(
                name=r.get("name") or r.get("id", "rotation"),
                start=iso(r["startDate"]),
                end=iso(r.get("endDate")),
                unit=r["type"],
                length=int(r.get("length", 1)),
                participants=tuple(
                    p.get("username") or p.get("name") or f"{p.get('type', 'user')} id {p.get('id', '?')}"
                    for p in r.get("participants") or ()
                ),
            )
            for r in raw.get("rotations") or ()
        ),
    )
