"""OpsGenie's Create Alert (`POST /v2/alerts`) for the fake: the checks, the dedup, the request status.

What OpsGenie does, as its Alert API docs and spec say: `message` is required (130 characters),
`alias` 512, `description` 15,000, `entity` 512, `priority` P1-P5 (default P3); at most 20 tags
of 50 characters and 10 actions of 50 characters, the rest dropped and long ones cut. A body it
cannot use is a 422 naming each field in `errors` (the shape of the opsgenie-go-sdk's 422
fixture). A valid request is a 202 `{"result": "Request will be processed"}`; the alert is then
listed with `createdAt` now, or, when an open alert has the same alias, that alert's `count` goes
up instead. `GET /v2/alerts/requests/{requestId}` tells which.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oncall.sources.opsgenie.fake import State

_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
_LIMITS = {"message": 130, "alias": 512, "description": 15_000, "entity": 512}
_LIST_LIMITS = {"tags": (20, 50), "actions": (10, 50)}  # (most items, most characters each)
_STRINGS = ("message", "alias", "description", "entity", "source", "user", "note")
_RESPONDER_TYPES = ("team", "user", "escalation", "schedule")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create_errors(body: dict[str, Any]) -> dict[str, str]:
    """Field -> reason for every field OpsGenie would refuse; empty when the body is valid."""
    errors: dict[str, str] = {}
    for name in _STRINGS:
        if name in body and not isinstance(body[name], str):
            errors[name] = f"{name.capitalize()} should be a string."
    message = body.get("message")
    if "message" not in errors and (not isinstance(message, str) or not message.strip()):
        errors["message"] = "Message can not be empty."
    for name, limit in _LIMITS.items():
        value = body.get(name)
        if name not in errors and isinstance(value, str) and len(value) > limit:
            errors[name] = f"{name.capitalize()} can not be longer than {limit} characters."
    if "priority" in body and body["priority"] not in _PRIORITIES:
        errors["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]."
    for name in _LIST_LIMITS:
        value = body.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            errors[name] = f"{name.capitalize()} should be a list of strings."
    details = body.get("details")
    if details is not None and not (
        isinstance(details, dict) and all(isinstance(v, str) for v in details.values())
    ):
        errors["details"] = "Details should be a map of strings."
    for name in ("responders", "visibleTo"):
        for r in body.get(name) or ():
            kind = r.get("type") if isinstance(r, dict) else None
            if kind not in _RESPONDER_TYPES:
                errors[f"{name}#type"] = f"Invalid recipient type '{kind}'"
    return errors


def _cut(values: list[str], most: int, chars: int) -> list[str]:
    return [v[:chars] for v in values[:most]]


def create_alert(state: State, body: dict[str, Any], *, now: datetime, source: str) -> str:
    """Apply a valid Create Alert body; returns the request id whose status tells the outcome."""
    at = _iso(now)
    alias = body.get("alias") or None
    existing = next(
        (a for a in state.alerts if alias is not None and a.get("alias") == alias and a["status"] == "open"),
        None,
    )
    request_id = str(uuid.uuid4())
    if existing is not None:
        existing.update(count=int(existing.get("count", 1)) + 1, lastOccurredAt=at, updatedAt=at)
        state.set_alerts(state.alerts)  # the list views are computed once; recompute them
        alert = existing
    else:
        alert_id = str(uuid.uuid4())
        tiny = 1 + max(
            (int(a["tinyId"]) for a in state.alerts if str(a.get("tinyId", "")).isdigit()), default=0
        )
        alert = {
            "id": alert_id,
            "tinyId": str(tiny),
            "alias": alias or alert_id,
            "message": body["message"],
            "status": "open",
            "acknowledged": False,
            "isSeen": False,
            "tags": _cut(body.get("tags") or [], *_LIST_LIMITS["tags"]),
            "snoozed": False,
            "count": 1,
            "lastOccurredAt": at,
            "createdAt": at,
            "updatedAt": at,
            "source": body.get("source") or source,
            "owner": "",
            "priority": body.get("priority") or "P3",
            "responders": list(body.get("responders") or []),
            "integration": {"id": "int-api", "name": "API", "type": "API"},
            "report": {},
            "actions": _cut(body.get("actions") or [], *_LIST_LIMITS["actions"]),
            "entity": body.get("entity") or "",
            "description": body.get("description") or "",
            "details": dict(body.get("details") or {}),
        }
        state.set_alerts([*state.alerts, alert])
    state.requests[request_id] = {
        "success": True,
        "action": "Create",
        "processedAt": at,
        "integrationId": "int-api",
        "isSuccess": True,
        "status": "Created alert",
        "alertId": alert["id"],
        "alias": alert["alias"],
    }
    return request_id
