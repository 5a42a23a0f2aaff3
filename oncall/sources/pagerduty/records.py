"""PagerDuty's REST API v2 records as shared models.

PagerDuty pages with incidents: each notification a team gets is an incident, with the alerts
that were grouped into it underneath. So an `Alert` here is a PagerDuty incident, and an
`Incident` is one of the team's major incidents: a PagerDuty incident of the configured incident
type. Both read the same record; only the model differs.

What PagerDuty does not record stays absent: an incident carries no tags, and an alert has no
repeat count (events with the same dedup key are dropped into the alert without being counted),
so `tags` is empty and `count` is 1. PagerDuty's last state is `resolved`; it is the end of the
story there, so a resolved major incident reads as closed, as OpsGenie's and JSM's closed ones do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall.clients.records import iso
from oncall.models import Alert, Incident, Person, Priority, Responder, Rotation, Schedule, TimelineEntry

# An account without priorities has only urgency: high reads as P1, low as P3, so a filter on
# P1/P2 (incident-watch, the hand-off's escalations) keeps the high-urgency pages.
URGENCY = {"high": Priority.P1, "low": Priority.P3}
_PRIORITY_NAME = re.compile(r"^\s*P([1-5])\s*$", re.IGNORECASE)
ROTATION_UNITS = {3600: "hourly", 86400: "daily", 604800: "weekly"}
_DETAIL_VALUE = 4096  # one detail's text, at most: a sender's huge payload must not bloat a week
_DETAIL_KEYS = 200

Ack = tuple[datetime, str | None]
Users = Callable[[Any], str | None]  # a user reference (or anything) -> its email, or None


@dataclass(frozen=True)
class Priorities:
    """How the account ranks incidents: its priorities (ids, most severe first), or urgency alone."""

    by_id: Mapping[str, Priority]

    @classmethod
    def from_list(cls, records: Sequence[Any]) -> Priorities:
        """Priorities named P1..P5 (PagerDuty's default names) keep their number; others are
        ranked by their place in the list, which PagerDuty orders from most to least severe."""
        by_id: dict[str, Priority] = {}
        for place, rec in enumerate(r for r in records if isinstance(r, dict)):
            named = _PRIORITY_NAME.match(str(rec.get("name") or rec.get("summary") or ""))
            by_id[str(rec["id"])] = Priority(f"P{named.group(1)}") if named else list(Priority)[min(place, 4)]
        return cls(by_id)

    @property
    def has_priorities(self) -> bool:
        return bool(self.by_id)

    def of(self, raw: dict[str, Any]) -> Priority | None:
        """The incident's priority, or (an account without priorities) its urgency's stand-in."""
        ref = raw.get("priority")
        if self.has_priorities:
            if not isinstance(ref, dict):
                return None
            found = self.by_id.get(str(ref.get("id")))
            if found is None:  # a priority made after the list was read: its name may still say
                named = _PRIORITY_NAME.match(str(ref.get("name") or ref.get("summary") or ""))
                found = Priority(f"P{named.group(1)}") if named else None
            return found
        return URGENCY.get(str(raw.get("urgency")))


def instant(value: Any) -> datetime:
    """A timestamp the record must have."""
    at = iso(value)
    if at is None:
        raise ValueError("a required time is missing")
    return at


def _status(raw: dict[str, Any]) -> str:
    status = str(raw["status"])
    if status not in ("triggered", "acknowledged", "resolved"):
        raise ValueError(f"status {status[:40]!r} is not triggered, acknowledged or resolved")
    return status


def _title(raw: dict[str, Any]) -> str:
    title = raw["title"]
    if not isinstance(title, str):
        raise TypeError(f"title is {type(title).__name__}, not text")
    return title


def _summary(ref: Any) -> str | None:
    return str(ref["summary"]) if isinstance(ref, dict) and ref.get("summary") else None


def person(ref: Any, users: Users) -> str | None:
    """A user reference as the email the other sources show, else its name (a service, an integration)."""
    if not isinstance(ref, dict):
        return None
    if str(ref.get("type", "")).startswith("user"):
        return users(ref) or _summary(ref)
    return _summary(ref)


def _responders(raw: dict[str, Any], users: Users) -> tuple[Responder, ...]:
    out = [
        Responder(type="user", id=str(a["assignee"]["id"]), name=person(a["assignee"], users))
        for a in raw.get("assignments") or ()
        if isinstance(a, dict) and isinstance(a.get("assignee"), dict)
    ]
    out += [
        Responder(type="team", id=str(t["id"]), name=_summary(t))
        for t in raw.get("teams") or ()
        if isinstance(t, dict) and t.get("id")
    ]
    return tuple(out)


def _owner(raw: dict[str, Any], users: Users) -> str | None:
    """Who holds it: the first assignee, else the first to acknowledge (lists drop assignments on resolve)."""
    for key, field in (("assignments", "assignee"), ("acknowledgements", "acknowledger")):
        for item in raw.get(key) or ():
            if isinstance(item, dict) and (who := person(item.get(field), users)):
                return who
    return None


def flat_details(details: Any) -> dict[str, str] | None:
    """An alert body's `details` (the Events API's `custom_details`) as dotted keys with text values."""
    if not isinstance(details, dict) or not details:
        return None
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any, depth: int) -> None:
        if len(out) >= _DETAIL_KEYS:
            return
        if isinstance(value, dict) and depth < 6:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v, depth + 1)
        elif isinstance(value, list) and depth < 6:
            for n, v in enumerate(value[:20]):
                walk(f"{prefix}.{n}" if prefix else str(n), v, depth + 1)
        elif value is not None and len(text := str(value)) <= _DETAIL_VALUE:
            out[prefix] = text

    walk("", details, 0)
    return out or None


def alert_from_incident(
    raw: dict[str, Any],
    priorities: Priorities,
    users: Users,
    ack: Ack | None = None,
    closed_by: str | None = None,
    first_alert: dict[str, Any] | None = None,
) -> Alert:
    """One PagerDuty incident as the page it is. `ack` (when, by whom) and `closed_by` come from
    its log entries (a resolved incident's list record keeps no acknowledgements); `first_alert`
    (from the incident's alerts) adds the dedup key, the description and the sender's details."""
    created = instant(raw["created_at"])
    status = _status(raw)
    resolved = iso(raw.get("resolved_at")) if status == "resolved" else None
    if ack is None:
        acks = [a for a in raw.get("acknowledgements") or () if isinstance(a, dict) and a.get("at")]
        if acks:
            at = instant(acks[0]["at"])
            ack = (at, person(acks[0].get("acknowledger"), users))
    body = (first_alert or {}).get("body") if isinstance(first_alert, dict) else None
    body = body if isinstance(body, dict) else {}
    details = flat_details(body.get("details"))
    description = details.pop("description", None) if details else None
    return Alert.lean(
        id=str(raw["id"]),
        tiny_id=str(raw["incident_number"]) if raw.get("incident_number") is not None else None,
        alias=(first_alert or {}).get("alert_key") or raw.get("incident_key"),
        message=_title(raw),
        status="closed" if status == "resolved" else "open",
        acknowledged=ack is not None or status == "acknowledged",
        priority=priorities.of(raw),
        source=_summary(raw.get("service")),
        owner=_owner(raw, users),
        created_at=created,
        updated_at=iso(raw.get("updated_at")) or iso(raw.get("last_status_change_at")),
        last_occurred_at=created,
        ack_after=ack[0] - created if ack else None,
        close_after=resolved - created if resolved is not None else None,
        acknowledged_by=ack[1] if ack else None,
        closed_by=closed_by,
        responders=_responders(raw, users),
        integration=_summary((first_alert or {}).get("integration")) or _summary(raw.get("service")),
        url=raw.get("html_url"),
        description=description or body.get("description") or raw.get("description") or None,
        details=details or None,
    )


def incident_from_record(raw: dict[str, Any], priorities: Priorities, users: Users) -> Incident:
    created = instant(raw["created_at"])
    status = _status(raw)
    teams = [_summary(t) for t in raw.get("teams") or ()]
    extra = {"urgency": str(raw["urgency"])} if raw.get("urgency") else {}
    kind = _summary(raw.get("incident_type")) or (raw.get("incident_type") or {}).get("name")
    if kind:
        extra["incident type"] = str(kind)
    return Incident(
        id=str(raw["id"]),
        tiny_id=str(raw["incident_number"]) if raw.get("incident_number") is not None else None,
        message=_title(raw),
        status="closed" if status == "resolved" else "open",
        priority=priorities.of(raw),
        created_at=created,
        updated_at=iso(raw.get("updated_at")) or iso(raw.get("last_status_change_at")),
        resolved_at=iso(raw.get("resolved_at")) if status == "resolved" else None,
        owner=_owner(raw, users),
        owner_team=next((t for t in teams if t), None),
        responders=_responders(raw, users),
        impacted_services=tuple(s for s in [_summary(raw.get("service"))] if s),
        url=raw.get("html_url"),
        extra=extra,
    )


def entry_from_log(raw: dict[str, Any], origin: str, ref: str, users: Users) -> TimelineEntry:
    """One log entry: its kind is the type without `_log_entry`; a note's text is the note."""
    at = instant(raw["created_at"])
    kind = str(raw["type"]).removesuffix("_log_entry")
    text = raw.get("note") if kind == "annotate" and raw.get("note") else raw.get("summary")
    if not text:
        raise ValueError("the log entry has no summary")
    return TimelineEntry(
        at=at, origin=origin, kind=kind, text=str(text), actor=person(raw.get("agent"), users), ref=ref
    )


def entry_from_note(raw: dict[str, Any], ref: str, users: Users) -> TimelineEntry:
    at = instant(raw["created_at"])
    return TimelineEntry(
        at=at,
        origin="alert-note",
        kind="note",
        text=str(raw["content"]),
        actor=person(raw.get("user"), users),
        ref=ref,
    )


def schedule_from_record(raw: dict[str, Any], users: Users) -> Schedule:
    """A schedule with its layers as rotations; a turn length other than hours, days or weeks is left out."""
    rotations = []
    for layer in raw.get("schedule_layers") or ():
        seconds = int(layer["rotation_turn_length_seconds"])
        unit = next(
            ((u, seconds // s) for s, u in sorted(ROTATION_UNITS.items(), reverse=True) if seconds % s == 0),
            None,
        )
        start = iso(layer.get("rotation_virtual_start") or layer.get("start"))
        if unit is None or start is None:
            continue
        rotations.append(
            Rotation(
                name=str(layer.get("name") or layer.get("id")),
                start=start,
                end=iso(layer.get("end")),
                unit=unit[0],
                length=unit[1],
                participants=tuple(
                    who for u in layer.get("users") or () if (who := person((u or {}).get("user"), users))
                ),
            )
        )
    return Schedule(
        id=str(raw["id"]),
        name=str(raw["name"]),
        timezone=str(raw.get("time_zone") or "UTC"),
        rotations=tuple(rotations),
    )


def on_call_person(raw: dict[str, Any], users: Users) -> Person:
    user = raw["user"]
    return Person(id=str(user["id"]), name=person(user, users) or str(user["id"]))
