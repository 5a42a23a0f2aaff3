"""The webhook relay: OpsGenie's outgoing webhook in, the `oncall.incident.closed` event out.

Prefect OSS has no webhooks, so this small ASGI app stands between OpsGenie and the Prefect
server. It checks a shared secret (header `X-Oncall-Relay-Secret` only, compared in constant
time; a secret in the URL is refused, since URLs are written to access logs), reads at most
64 KiB of body within a deadline, refuses what is not plain JSON, and for a closed incident or
a closed P1/P2 alert posts the same event incident-watch emits, with the same event id, to the
server's events API. Everything refused is logged with its reason and never forwarded.

With a `SlackRoute` it also takes Slack's Events API at `POST /slack/events`: a ticket reaction
on a message in an @SRE channel becomes the `oncall.sre.request.ticket` event (see
`build_relay`). Either route alone is enough to run the relay.
`deployments/relay_server.py` serves it with connection limits and timeouts.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import httpx
from slack_sdk.signature import Clock, SignatureVerifier
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oncall.coe import coe_refusal
from oncall.models import Frozen, Priority, stand_in_id
from oncall.sre_requests import ts_time
from oncall.watch import EVENT, CoeCandidate

log = logging.getLogger("oncall.relay")
MAX_BODY = 64 * 1024
MAX_DEPTH = 32  # OpsGenie's webhook nests a few levels deep
BODY_TIMEOUT = 10.0  # seconds for the whole body, once the headers are in
AUTH_HEADER = "X-Oncall-Relay-Secret"
# The event a ticket reaction becomes; the flow that files the request's issue is triggered by it.
SRE_TICKET_EVENT = "oncall.sre.request.ticket"
SLACK_WINDOW = 5 * 60  # seconds: slack_sdk's replay window, checked here too to log "stale"
SLACK_POST_TIMEOUT = 2.0  # seconds for the post to Prefect: Slack wants its answer within 3
_TICKET_NAMESPACE = uuid.UUID("5e1d7a0c-2b9f-4c61-8d3e-71c6e7a1f0b2")
_SLACK_ID = re.compile(r"\A\w{1,64}\Z", re.ASCII)  # a user id (U…, W…) or an event id (Ev…)
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


def _events(
    event: str, event_id: object, resource: dict[str, str], payload: dict[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """The body Prefect's `POST /events` takes: one event, its id fixed by what it is about, so a
    sender's retries are the same event."""
    return [
        {
            "id": str(event_id),
            "occurred": now.isoformat(),
            "event": event,
            "resource": resource,
            "payload": payload,
            "related": [],
        }
    ]


def event_body(c: CoeCandidate, now: datetime) -> list[dict[str, Any]]:
    return _events(EVENT, c.event_id, c.resource, c.model_dump(), now)


@dataclass(frozen=True)
class SlackRoute:
    """What `POST /slack/events` needs: the Slack app's signing secret (never in a repr), the
    channels where people ask @SRE, and the reaction that files a request's issue."""

    signing_secret: str = field(repr=False)
    channels: frozenset[str]
    ticket_reaction: str

    def __post_init__(self) -> None:
        if not self.signing_secret.strip():
            raise ValueError("the Slack route needs the app's signing secret (ONCALL_SLACK_SIGNING_SECRET)")


class TicketRequest(Frozen):
    """A ticket reaction on a message in an @SRE channel, as the Events API reported it."""

    channel: str
    ts: str
    reaction: str
    reactor: str
    slack_event_id: str | None = None

    @property
    def event_id(self) -> uuid.UUID:
        # Slack's retries, a duplicate delivery and a second person's ticket reaction on the
        # same message all name the same event, which Prefect keeps once.
        return uuid.uuid5(_TICKET_NAMESPACE, f"{self.channel}:{self.ts}:{self.reaction}")

    @property
    def resource(self) -> dict[str, str]:
        # The ts holds a dot, so read `channel` and `ts`, never split the resource id.
        return {
            "prefect.resource.id": f"slack.message.{self.channel}.{self.ts}",
            "channel": self.channel,
            "ts": self.ts,
            "reactor": self.reactor,
        }


def _cut(value: object) -> str:
    """A value from Slack's body for a log line or a reason: repr'd (no newline can forge a
    log line) and short."""
    return repr(value)[:60]


def ticket_from_event(body: dict[str, Any], route: SlackRoute) -> tuple[TicketRequest | None, str]:
    """The ticket request an `event_callback` reports, or None with the reason it is ignored."""
    event = body.get("event")
    if not isinstance(event, dict):
        return None, "event_callback has no event object"
    kind = event.get("type")
    if kind != "reaction_added":
        return None, f"event type {_cut(kind)} is not reaction_added"
    reaction = event.get("reaction")
    if reaction != route.ticket_reaction:
        return None, f"reaction {_cut(reaction)} is not {route.ticket_reaction!r}"
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type") != "message":
        return None, "the reaction is not on a message"
    channel, ts, reactor = item.get("channel"), item.get("ts"), event.get("user")
    if not isinstance(channel, str) or channel not in route.channels:
        return None, f"channel {_cut(channel)} is not an @SRE channel"
    if not isinstance(ts, str) or ts_time(ts) is None:
        return None, f"message ts {_cut(ts)} is not a Slack ts"
    if not isinstance(reactor, str) or not _SLACK_ID.match(reactor):
        return None, "the reaction has no user id"
    event_id = body.get("event_id")
    return TicketRequest(
        channel=channel,
        ts=ts,
        reaction=reaction,
        reactor=reactor,
        slack_event_id=event_id if isinstance(event_id, str) and _SLACK_ID.match(event_id) else None,
    ), "a ticket reaction on a request"


def ticket_event_body(t: TicketRequest, now: datetime) -> list[dict[str, Any]]:
    return _events(SRE_TICKET_EVENT, t.event_id, t.resource, t.model_dump(), now)


class _RelayClock(Clock):
    """slack_sdk's verifier, on the relay's clock (tests move it)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock().timestamp()


def _unsigned(
    verifier: SignatureVerifier, raw: bytes, headers: Mapping[str, str], now: datetime
) -> str | None:
    """Why a request is not Slack's, or None once slack_sdk has checked its signature. The
    headers and the replay window are checked here first only to log a distinct reason."""
    stamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
    if not stamp or not signature:
        return "no X-Slack-Signature or X-Slack-Request-Timestamp header"
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return "X-Slack-Request-Timestamp is not a Unix time"
    off = now.timestamp() - int(stamp)
    if abs(off) > SLACK_WINDOW:
        return f"stale X-Slack-Request-Timestamp ({off:+.0f} s off, over {SLACK_WINDOW} s)"
    try:
        raw.decode("utf-8")  # slack_sdk decodes the body to sign it; Slack's bodies are UTF-8
    except UnicodeDecodeError:
        return "the body is not UTF-8, so not Slack's"
    if not verifier.is_valid(body=raw, timestamp=stamp, signature=signature):
        return "X-Slack-Signature does not match the body"
    return None


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


async def _take_body(request: Request, sender: str, timeout: float) -> bytes | Response:
    """The body, or the refusal to answer: too large (by Content-Length or once read past
    MAX_BODY), not received in time, or its sender gone. One reader for every route."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        log.warning("relay: refused a %s-byte body", declared)
        return _refuse(413, "body too large")
    try:
        return await _read_body(request, MAX_BODY, timeout)
    except BodyTooLarge:
        log.warning("relay: refused a body past %d bytes (stopped reading there)", MAX_BODY)
        return _refuse(413, "body too large")
    except TimeoutError:
        log.warning("relay: refused a body not received within %g s from %s", timeout, sender)
        return _refuse(408, "body not received in time")
    except ClientDisconnect:
        log.info("relay: %s hung up before its body was in", sender)
        return _refuse(400, "client disconnected")


def build_relay(
    secret: str | None,
    api_url: str,
    *,
    threshold_minutes: float = 10,
    api_key: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    body_timeout: float = BODY_TIMEOUT,
    slack: SlackRoute | None = None,
) -> Starlette:
    """The relay app: `POST /opsgenie` when `secret` is set, `POST /slack/events` when `slack`
    is; at least one of them.

    `/slack/events` takes what Slack's Events API sends. A request not signed with the signing
    secret (slack_sdk's v0 HMAC, 5-minute window on `clock`) is a 401, a body over MAX_BODY a
    413, a body that is not a JSON object a 400. A signed `url_verification` gets its challenge
    back as JSON. A signed `reaction_added` of the ticket reaction on a message in a configured
    channel becomes one `oncall.sre.request.ticket` event, with an id derived from channel, ts
    and reaction so that Slack's retries and duplicates make the same event; anything else
    signed gets a 200 and a log line, because Slack retries every non-2xx and turns delivery
    off after too many failures.

    Slack wants an answer within 3 s, so the post to Prefect has SLACK_POST_TIMEOUT (2 s). If
    Prefect is unreachable or refuses, the answer is a 503: Slack then retries (at once, after
    1 and after 5 minutes), which is what a reaction needs while Prefect restarts, and a retry
    after a post that did land is the same event id, kept once. A ticket all of whose retries
    fail is left for the sweep that finds unhandled ticket reactions.
    """
    if not secret and slack is None:
        raise ValueError(
            "the relay needs a shared secret (ONCALL_RELAY_SECRET) for OpsGenie or a Slack "
            "signing secret (ONCALL_SLACK_SIGNING_SECRET) for Slack's Events API"
        )
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def forward(events: list[dict[str, Any]], what: str, timeout: float, down: int) -> Response | None:
        """Post the events to Prefect: None once it took them, else the answer for the sender,
        `down` its status (a 503 makes Slack retry)."""
        try:
            # One client per forwarded event: they are rare, and this leaves no socket behind.
            async with httpx.AsyncClient(
                base_url=api_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
            ) as client:
                response = await client.post("/events", json=events)
        except httpx.HTTPError as exc:
            log.error("relay: Prefect unreachable for %s: %s", what, type(exc).__name__)
            return JSONResponse({"error": "Prefect unreachable"}, status_code=down)
        if response.status_code >= 300:
            log.error("relay: Prefect refused the event for %s: HTTP %d", what, response.status_code)
            return JSONResponse({"error": "Prefect did not take the event"}, status_code=down)
        return None

    def _sender(request: Request) -> str:
        return request.client.host if request.client else "-"

    async def opsgenie(request: Request) -> Response:
        assert secret  # the route exists only with a secret
        sender = _sender(request)
        if "token" in request.query_params:
            log.warning("relay: refused a webhook from %s with a secret in its URL", sender)
            return _refuse(401, f"send the secret in the {AUTH_HEADER} header; URLs are logged")
        given = request.headers.get(AUTH_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("relay: refused a webhook with a wrong or missing secret from %s", sender)
            return _refuse(401, "forbidden")
        raw = await _take_body(request, sender, body_timeout)
        if isinstance(raw, Response):
            return raw
        try:
            body = parse_body(raw)
        except BadBody as exc:
            log.warning("relay: refused a webhook: %s", exc)
            return _refuse(400, str(exc))
        candidate, reason = candidate_from_webhook(body, threshold_minutes)
        if candidate is None:
            log.info("relay: ignored webhook: %s", reason)
            return JSONResponse({"ignored": reason}, status_code=202)
        refused = await forward(event_body(candidate, clock()), candidate.incident_id, 10, 502)
        if refused is not None:
            return refused
        log.info("relay: emitted %s for %s", EVENT, candidate.incident_id)
        return JSONResponse({"emitted": candidate.incident_id}, status_code=202)

    verifier = SignatureVerifier(slack.signing_secret, _RelayClock(clock)) if slack else None

    async def slack_events(request: Request) -> Response:
        assert slack is not None and verifier is not None  # the route exists only with both
        sender = _sender(request)
        raw = await _take_body(request, sender, body_timeout)
        if isinstance(raw, Response):
            return raw
        unsigned = _unsigned(verifier, raw, request.headers, clock())
        if unsigned is not None:
            log.warning("relay: refused a Slack request from %s: %s", sender, unsigned)
            return _refuse(401, "forbidden")
        try:
            body = parse_body(raw)
        except BadBody as exc:
            log.warning("relay: refused a signed Slack request: %s", exc)
            return _refuse(400, str(exc))
        kind = body.get("type")
        if kind == "url_verification":
            challenge = body.get("challenge")
            if not isinstance(challenge, str):
                log.warning("relay: refused a Slack url_verification without a challenge")
                return _refuse(400, "url_verification without a challenge")
            log.info("relay: answered Slack's url_verification")
            return JSONResponse({"challenge": challenge})
        if kind != "event_callback":
            log.info("relay: ignored a Slack request of type %s", _cut(kind))
            return JSONResponse({"ignored": "not an event_callback"})
        ticket, reason = ticket_from_event(body, slack)
        if ticket is None:
            log.info("relay: ignored a Slack event: %s", reason)
            return JSONResponse({"ignored": reason})
        retry = request.headers.get("x-slack-retry-num", "")
        retried = (
            f" (Slack's retry {retry})" if retry.isascii() and retry.isdigit() and len(retry) < 4 else ""
        )
        message = f"{ticket.channel}/{ticket.ts}"
        refused = await forward(
            ticket_event_body(ticket, clock()), message + retried, SLACK_POST_TIMEOUT, 503
        )
        if refused is not None:
            return refused
        log.info("relay: emitted %s for %s%s", SRE_TICKET_EVENT, message, retried)
        return JSONResponse({"emitted": message})

    routes = []
    if secret:
        routes.append(Route("/opsgenie", opsgenie, methods=["POST"]))
    if slack is not None:
        if not slack.channels:
            log.warning(
                "relay: no @SRE channels configured (ONCALL_SRE_CHANNELS): every ticket reaction is ignored"
            )
        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    return Starlette(routes=routes, middleware=[Middleware(AccessLog)])
