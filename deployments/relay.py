"""The webhook relay: OpsGenie's outgoing webhook in, the `oncall.incident.closed` event out.

Prefect OSS has no webhooks, so this small ASGI app stands between OpsGenie and the Prefect
server. It checks a shared secret (header `X-Oncall-Relay-Secret` or `?token=`, compared in
constant time), refuses oversize and malformed bodies, and for a closed incident or a closed
P1/P2 alert posts the same event incident-watch emits, with the same event id, to the
server's events API. Everything refused is logged with its reason and never forwarded.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from oncall.watch import EVENT, CoeCandidate

log = logging.getLogger("oncall.relay")
MAX_BODY = 64 * 1024
CLOSING = {"Close", "Delete", "IncidentClose", "IncidentResolve", "Resolve", "close", "resolve"}


def _ms(value: Any) -> int | None:
    """OpsGenie sends createdAt in ms and updatedAt in ns; normalise to ms."""
    if not isinstance(value, int | float):
        return None
    number = int(value)
    while number > 10**14:  # larger than any ms timestamp this century: ns or µs
        number //= 1000
    return number


def candidate_from_webhook(body: dict[str, Any], threshold_minutes: float) -> tuple[CoeCandidate | None, str]:
    """The COE candidate a webhook describes, or None with the reason it is ignored."""
    action = str(body.get("action", ""))
    if action not in CLOSING:
        return None, f"action {action!r} is not a close"
    item = body.get("incident") or body.get("alert")
    if not isinstance(item, dict):
        return None, "payload has no alert or incident object"
    kind = "incident" if "incident" in body else "alert"
    ident = item.get("incidentId") or item.get("alertId") or item.get("id")
    created, updated = _ms(item.get("createdAt")), _ms(item.get("updatedAt"))
    if not isinstance(ident, str) or not ident or created is None or updated is None:
        return None, "payload lacks an id, createdAt or updatedAt"
    priority = str(item.get("priority") or "")
    if kind == "alert" and priority and priority not in ("P1", "P2"):
        return None, f"alert {ident} is {priority}; COEs are for P1/P2"
    minutes = (updated - created) / 60_000
    if minutes < threshold_minutes:
        return None, f"{kind} {ident} lasted {minutes:.1f} min, under {threshold_minutes:g}"
    incident_id = ident if kind == "incident" else f"alert-{ident}"
    return CoeCandidate(
        incident_id=incident_id,
        kind=kind,
        title=str(item.get("message", ""))[:300],
        priority=priority or "unknown",
        duration_minutes=round(minutes, 1),
    ), "closed long enough"


def event_body(c: CoeCandidate, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": str(c.event_id),
            "occurred": now.isoformat(),
            "event": EVENT,
            "resource": {"prefect.resource.id": c.resource_id, "prefect.resource.name": c.title[:100]},
            "payload": c.model_dump(),
            "related": [],
        }
    ]


def build_relay(
    secret: str,
    api_url: str,
    *,
    threshold_minutes: float = 10,
    api_key: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Starlette:
    if not secret:
        raise ValueError("the relay needs a shared secret (ONCALL_RELAY_SECRET)")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def prefect() -> httpx.AsyncClient:
        # One client per forwarded webhook: closes are rare, and this leaves no socket behind.
        return httpx.AsyncClient(
            base_url=api_url.rstrip("/"), headers=headers, timeout=10, transport=transport
        )

    async def opsgenie(request: Request) -> Response:
        given = request.headers.get("x-oncall-relay-secret") or request.query_params.get("token") or ""
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("relay: refused a webhook with a wrong or missing secret from %s", request.client)
            return JSONResponse({"error": "forbidden"}, status_code=401)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            log.warning("relay: refused a %s-byte body", declared)
            return JSONResponse({"error": "body too large"}, status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            log.warning("relay: refused a %d-byte body", len(raw))
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            body = json.loads(raw)
        except ValueError:
            log.warning("relay: refused a body that is not JSON")
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
        candidate, reason = candidate_from_webhook(body, threshold_minutes)
        if candidate is None:
            log.info("relay: ignored webhook: %s", reason)
            return JSONResponse({"ignored": reason}, status_code=202)
        try:
            async with prefect() as client:
                response = await client.post("/events", json=event_body(candidate, clock()))
        except httpx.HTTPError as exc:
            log.error("relay: Prefect unreachable for %s: %s", candidate.incident_id, type(exc).__name__)
            return JSONResponse({"error": "Prefect unreachable"}, status_code=502)
        if response.status_code >= 300:
            log.error(
                "relay: Prefect refused the event for %s: HTTP %d",
                candidate.incident_id,
                response.status_code,
            )
            return JSONResponse({"error": "Prefect did not take the event"}, status_code=502)
        log.info("relay: emitted %s for %s", EVENT, candidate.incident_id)
        return JSONResponse({"emitted": candidate.incident_id}, status_code=202)

    return Starlette(routes=[Route("/opsgenie", opsgenie, methods=["POST"])])
