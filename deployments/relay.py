"""The webhook relay: OpsGenie's outgoing webhook in, the `oncall.incident.closed` event out.

Prefect OSS has no webhooks, so this small ASGI app stands between OpsGenie and the Prefect
server. It checks a shared secret (header `X-Oncall-Relay-Secret` only, compared in constant
time; a secret in the URL is refused, since URLs are written to access logs), reads at most
64 KiB of body within a deadline, refuses what is not plain JSON, and for a closed incident or
a closed P1/P2 alert posts the same event incident-watch emits, with the same event id, to the
server's events API. Everything refused is logged with its reason and never forwarded.
`deployments/relay_server.py` serves it with connection limits and timeouts.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oncall.coe import coe_refusal
from oncall.models import Priority, stand_in_id
from oncall.watch import EVENT, CoeCandidate

log = logging.getLogger("oncall.relay")
MAX_BODY = 64 * 1024
MAX_DEPTH = 32  # OpsGenie's webhook nests a few levels deep
BODY_TIMEOUT = 10.0  # seconds for the whole body, once the headers are in
AUTH_HEADER = "X-Oncall-Relay-Secret"
CLOSING = {"Close", "Delete", "IncidentClose", "IncidentResolve", "Resolve", "close", "resolve"}


class BadBody(ValueError):
    """A body the relay refuses with 400; the message says why, without echoing the body."""


def _no_constant(name: str) -> NoReturn:
    raise BadBody(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as infinity
        raise BadBody("a number is out of range")
    return value


# Python's json accepts NaN, Infinity and numbers that overflow to infinity; JSON does not.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def parse_body(raw: bytes) -> dict[str, Any]:
    """The webhook's JSON object, or BadBody. Strict where Python's json is lenient: no NaN
    or infinities, no nesting past MAX_DEPTH, and no lone surrogate (valid JSON as `\\ud800`,
    but not text: it cannot be encoded again, so it would fail the event post)."""
    try:
        body = _DECODER.decode(raw.decode("utf-8"))
    except RecursionError:
        raise BadBody("body is nested too deeply") from None
    except BadBody:
        raise
    except ValueError:  # not UTF-8, not JSON, an integer past Python's digit limit
        raise BadBody("body is not JSON") from None
    if not isinstance(body, dict):
        raise BadBody("body is not a JSON object")
    _check_tree(body)
    return body


def _check_tree(body: dict[str, Any]) -> None:
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadBody(f"body is nested deeper than {MAX_DEPTH}")
        if isinstance(value, dict):
            stack.extend((k, depth) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadBody("body holds a lone surrogate (\\ud800-\\udfff), which is not text") from None


def _ms(value: Any) -> int | None:
    """OpsGenie sends createdAt in ms and updatedAt in ns; normalise to ms."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = int(value)
    if number < 0:
        return None
    while number > 10**14:  # larger than any ms timestamp this century: ns or µs
        number //= 1000
    return number


def _priority(label: str) -> Priority | None:
    return Priority(label) if label in Priority.__members__ else None


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
    lasted = timedelta(milliseconds=updated - created)
    refused = coe_refusal(kind, ident, lasted, timedelta(minutes=threshold_minutes), _priority(priority))
    if refused is not None:
        return None, refused
    minutes = lasted / timedelta(minutes=1)
    incident_id = ident if kind == "incident" else stand_in_id(ident)
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
            "resource": c.resource,
            "payload": c.model_dump(),
            "related": [],
        }
    ]


class BodyTooLarge(Exception):
    """The body passed MAX_BODY; reading stopped there."""


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The body, read chunk by chunk: a chunked upload has no Content-Length to refuse up
    front, so reading stops at `limit` (BodyTooLarge), and at `timeout` (TimeoutError) for a
    sender that stalls."""
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout):
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
    return b"".join(chunks)


def _refuse(status: int, error: str) -> JSONResponse:
    # Connection: close, so the server stops reading whatever the sender still sends.
    return JSONResponse({"error": error}, status_code=status, headers={"Connection": "close"})


class AccessLog:
    """One line per request: method, path, status and client, never the query string (a
    secret someone put in the URL stays out of the log). Replaces uvicorn's access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            log.info(
                "relay: %s %s %d from %s",
                scope["method"],
                scope["path"],
                status,
                client[0] if client else "-",
            )


def build_relay(
    secret: str,
    api_url: str,
    *,
    threshold_minutes: float = 10,
    api_key: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    body_timeout: float = BODY_TIMEOUT,
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
        sender = request.client.host if request.client else "-"
        if "token" in request.query_params:
            log.warning("relay: refused a webhook from %s with a secret in its URL", sender)
            return _refuse(401, f"send the secret in the {AUTH_HEADER} header; URLs are logged")
        given = request.headers.get(AUTH_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("relay: refused a webhook with a wrong or missing secret from %s", sender)
            return _refuse(401, "forbidden")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            log.warning("relay: refused a %s-byte body", declared)
            return _refuse(413, "body too large")
        try:
            body = parse_body(await _read_body(request, MAX_BODY, body_timeout))
        except BodyTooLarge:
            log.warning("relay: refused a body past %d bytes (stopped reading there)", MAX_BODY)
            return _refuse(413, "body too large")
        except TimeoutError:
            log.warning("relay: refused a body not received within %g s from %s", body_timeout, sender)
            return _refuse(408, "body not received in time")
        except ClientDisconnect:
            log.info("relay: %s hung up before its body was in", sender)
            return _refuse(400, "client disconnected")
        except BadBody as exc:
            log.warning("relay: refused a webhook: %s", exc)
            return _refuse(400, str(exc))
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

    return Starlette(
        routes=[Route("/opsgenie", opsgenie, methods=["POST"])], middleware=[Middleware(AccessLog)]
    )
