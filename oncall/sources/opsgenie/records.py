"""OpsGenie's records (alerts, incidents, schedules, on-call participants) as shared models.

Field names and units are OpsGenie's: `report.ackTime` is milliseconds after creation, an
incident carries no resolve time (the client reads it off the timeline), and on-call users may
be nested under escalation or team participants.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from oncall.clients.records import iso
from oncall.models import Alert, Incident, Person, Responder, Rotation, Schedule


def _responders(raw: Any) -> list[dict[str, Any]]:
    return [
        {"type": r["type"], "id": r.get("id") or r.get("name", ""), "name": r.get("name")} for r in raw or ()
    ]


def _seconds(ms: Any) -> float | None:
    return None if ms is None else int(ms) / 1000


def alert_from_raw(raw: dict[str, Any], web_base: str = "") -> Alert:
    """One OpsGenie alert record; pydantic parses the timestamps (fast, and strict about zones)."""
    report = raw.get("report") or {}
    integration = raw.get("integration") or {}
    return Alert.model_validate(
        {
            "id": raw["id"],
            "tiny_id": raw.get("tinyId"),
            "alias": raw.get("alias"),
            "message": raw["message"],
            "status": raw["status"],
            "acknowledged": bool(raw.get("acknowledged", False)),
            "priority": raw.get("priority", "P3"),
            "tags": raw.get("tags") or (),
            "source": raw.get("source"),
            "owner": raw.get("owner") or None,
            "count": raw.get("count", 1),
            "created_at": raw["createdAt"],
            "updated_at": raw.get("updatedAt"),
            "last_occurred_at": raw.get("lastOccurredAt"),
            "ack_after": _seconds(report.get("ackTime")),
            "close_after": _seconds(report.get("closeTime")),
            "acknowledged_by": report.get("acknowledgedBy"),
            "closed_by": report.get("closedBy"),
            "responders": _responders(raw.get("responders")),
            "integration": integration.get("name"),
            "url": f"{web_base}/alert/detail/{raw['id']}/details" if web_base else None,
            "description": raw.get("description"),
            "details": raw.get("details"),
        }
    )


def incident_from_raw(raw: dict[str, Any], resolved_at: datetime | None = None) -> Incident:
    links = raw.get("links") or {}
    return Incident(
        id=raw["id"],
        tiny_id=raw.get("tinyId"),
        message=raw["message"],
        status=raw["status"],
        priority=raw.get("priority", "P3"),
        tags=tuple(raw.get("tags") or ()),
        created_at=iso(raw["createdAt"]),
        updated_at=iso(raw.get("updatedAt")),
        resolved_at=resolved_at,
        owner=raw.get("owner") or None,
        owner_team=raw.get("ownerTeam") or None,
        responders=tuple(Responder(**r) for r in _responders(raw.get("responders"))),
        impacted_services=tuple(raw.get("impactedServices") or ()),
        url=links.get("web"),
        extra=dict(raw.get("extraProperties") or {}),
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


def on_call_people(participants: Any) -> Iterator[Person]:
    """Users on call, descending into escalation/team participants as OpsGenie nests them."""
    for p in participants or ():
        if p.get("type") == "user":
            # OpsGenie names on-call users; one without a name is shown by its id, labelled as one.
            yield Person(id=p.get("id"), name=p.get("name") or f"user id {p.get('id', '?')}")
        yield from on_call_people(p.get("onCallParticipants"))
