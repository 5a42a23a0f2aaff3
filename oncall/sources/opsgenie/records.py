"""OpsGenie's own records (incidents, on-call participants) as shared models; its alert and
schedule records are the ones JSM kept, in `oncall.sources.genie`.

Field names and units are OpsGenie's: `report.ackTime` is milliseconds after creation, an
incident carries no resolve time (the client reads it off the timeline), and on-call users may
be nested under escalation or team participants.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from oncall.clients.records import iso
from oncall.models import Incident, Person, Responder
from oncall.sources.genie import responders


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
        responders=tuple(Responder(**r) for r in responders(raw.get("responders"))),
        impacted_services=tuple(raw.get("impactedServices") or ()),
        url=links.get("web"),
        extra=dict(raw.get("extraProperties") or {}),
    )


def on_call_people(participants: Any) -> Iterator[Person]:
    """Users on call, descending into escalation/team participants as OpsGenie nests them."""
    for p in participants or ():
        if p.get("type") == "user":
            # OpsGenie names on-call users; one without a name is shown by its id, labelled as one.
            yield Person(id=p.get("id"), name=p.get("name") or f"user id {p.get('id', '?')}")
        yield from on_call_people(p.get("onCallParticipants"))
