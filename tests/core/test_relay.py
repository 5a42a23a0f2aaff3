"""The webhook relay without Prefect: what it accepts, refuses and forwards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from deployments.relay import MAX_BODY, build_relay, candidate_from_webhook

CREATED = 1_763_740_000_000  # ms


def webhook(action: str = "Close", minutes: float = 47, **alert: object) -> dict[str, object]:
    # OpsGenie sends createdAt in milliseconds and updatedAt in nanoseconds.
    return {
        "action": action,
        "source": {"name": "web", "type": "API"},
        "integrationName": "relay",
        "alert": {
            "alertId": "a-1",
            "message": "DB down",
            "createdAt": CREATED,
            "updatedAt": int((CREATED + minutes * 60_000) * 1_000_000),
            "priority": "P1",
            **alert,
        },
    }


def test_candidates_from_opsgenie_webhooks() -> None:
    c, _ = candidate_from_webhook(webhook(), 10)
    assert c is not None and c.incident_id == "alert-a-1" and c.duration_minutes == 47
    assert candidate_from_webhook(webhook(action="Acknowledge"), 10)[0] is None
    assert "under 10" in candidate_from_webhook(webhook(minutes=6), 10)[1]
    assert "P1/P2" in candidate_from_webhook(webhook(priority="P3"), 10)[1]
    incident = {
        "action": "IncidentResolve",
        "incident": {"id": "inc-9", "message": "x", "createdAt": CREATED, "updatedAt": CREATED + 30 * 60_000},
    }
    c, _ = candidate_from_webhook(incident, 10)
    assert c is not None and c.resource_id == "oncall.incident.inc-9"


class Client:
    """Posts to the ASGI app in-process (starlette's TestClient warns about httpx)."""

    def __init__(self, app: object) -> None:
        self.app = app

    def post(self, url: str, **kw: object) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://relay.test") as client:
                return await client.post(url, **kw)  # type: ignore[arg-type]

        return asyncio.run(go())


@pytest.fixture
def relay() -> tuple[Client, list[dict[str, object]]]:
    sent: list[dict[str, object]] = []

    def prefect(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/events"
        sent.extend(json.loads(request.content))
        return httpx.Response(204)

    app = build_relay("s3cret-relay", "http://prefect.test/api", transport=httpx.MockTransport(prefect))
    return Client(app), sent


def test_forwards_a_long_close_as_the_watch_event(relay) -> None:  # type: ignore[no-untyped-def]
    client, sent = relay
    r = client.post("/opsgenie", json=webhook(), headers={"X-Oncall-Relay-Secret": "s3cret-relay"})
    assert r.status_code == 202 and r.json() == {"emitted": "alert-a-1"}
    [event] = sent
    assert event["event"] == "oncall.incident.closed"
    assert event["resource"] == {
        "prefect.resource.id": "oncall.incident.alert-a-1",
        "prefect.resource.name": "DB down",
        "oncall.incident.id": "alert-a-1",
    }
    again = client.post("/opsgenie", json=webhook(), headers={"X-Oncall-Relay-Secret": "s3cret-relay"})
    assert again.status_code == 202 and sent[1]["id"] == event["id"]  # same incident, same event id


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, json.dumps(webhook()), 401),
        ({"X-Oncall-Relay-Secret": "wrong"}, json.dumps(webhook()), 401),
        ({"X-Oncall-Relay-Secret": "s3cret-relay"}, "{not json", 400),
        ({"X-Oncall-Relay-Secret": "s3cret-relay"}, "[1, 2]", 400),
        ({"X-Oncall-Relay-Secret": "s3cret-relay"}, "x" * (MAX_BODY + 1), 413),
        ({"X-Oncall-Relay-Secret": "s3cret-relay"}, json.dumps(webhook(minutes=3)), 202),
    ],
)
def test_refusals_are_4xx_and_never_forwarded(relay, headers, body, status) -> None:  # type: ignore[no-untyped-def]
    client, sent = relay
    r = client.post("/opsgenie", content=body, headers={"Content-Type": "application/json", **headers})
    assert r.status_code == status
    assert sent == []


HOSTILE_JSON = {
    "a huge exponent": json.dumps(webhook()).replace(str(CREATED), "1e999"),
    "NaN": json.dumps(webhook()).replace(str(CREATED), "NaN"),
    "Infinity": json.dumps(webhook()).replace(str(CREATED), "Infinity"),
    "-Infinity": json.dumps(webhook()).replace(str(CREATED), "-Infinity"),
    "deep nesting": '{"action": "Close", "alert": ' + "[" * 30_000 + "]" * 30_000 + "}",
    "a lone surrogate": json.dumps(webhook()).replace("DB down", "DB \\ud800 down"),
    "a lone surrogate in a key": json.dumps(webhook()).replace('"source"', '"\\udfff"'),
}


@pytest.mark.parametrize("body", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
def test_hostile_json_is_a_400_without_a_traceback(relay, body, caplog) -> None:  # type: ignore[no-untyped-def]
    client, sent = relay
    assert len(body.encode()) <= MAX_BODY
    r = client.post(
        "/opsgenie",
        content=body.encode(),
        headers={"Content-Type": "application/json", "X-Oncall-Relay-Secret": "s3cret-relay"},
    )
    assert r.status_code == 400, r.text
    assert sent == []
    assert not [rec for rec in caplog.records if rec.exc_info], "a traceback was logged"


def test_a_timestamp_out_of_range_is_ignored_not_a_crash(relay, caplog) -> None:  # type: ignore[no-untyped-def]
    client, sent = relay
    for stamp in ("-" + "9" * 400, "9" * 400, "true"):
        body = json.dumps(webhook()).replace(str(CREATED), stamp)
        r = client.post("/opsgenie", content=body, headers={"X-Oncall-Relay-Secret": "s3cret-relay"})
        assert r.status_code == 202 and "ignored" in r.json(), (stamp[:5], r.text)
    assert sent == [] and not [rec for rec in caplog.records if rec.exc_info]


def test_a_chunked_body_is_read_only_up_to_the_limit(relay) -> None:  # type: ignore[no-untyped-def]
    """No Content-Length to refuse up front: the relay stops reading at 64 KiB, not at the end."""
    client, sent = relay
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4_800):  # 300 MiB in 64 KiB chunks, if it were all read
            pulled.append(1)
            yield b" " * 65_536

    r = client.post("/opsgenie", content=chunks(), headers={"X-Oncall-Relay-Secret": "s3cret-relay"})
    assert r.status_code == 413 and sent == []
    assert len(pulled) <= 3, f"read {len(pulled)} chunks of 64 KiB"


def test_a_body_that_stalls_is_a_408() -> None:
    app = build_relay("s3cret-relay", "http://prefect.test/api", body_timeout=0.2)

    async def stalls() -> AsyncIterator[bytes]:
        yield b'{"action": '
        await asyncio.sleep(30)
        yield b'"Close"}'

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://relay.test"
        ) as c:
            return await asyncio.wait_for(
                c.post("/opsgenie", content=stalls(), headers={"X-Oncall-Relay-Secret": "s3cret-relay"}), 5
            )

    assert asyncio.run(go()).status_code == 408


def test_the_secret_in_the_url_is_refused(relay, caplog) -> None:  # type: ignore[no-untyped-def]
    """URLs end up in access logs (ours, a proxy's, a load balancer's): only the header counts."""
    client, sent = relay
    r = client.post("/opsgenie?token=s3cret-relay", json=webhook())
    assert r.status_code == 401 and "X-Oncall-Relay-Secret" in r.json()["error"]
    both = client.post(
        "/opsgenie?token=s3cret-relay", json=webhook(), headers={"X-Oncall-Relay-Secret": "s3cret-relay"}
    )
    assert both.status_code == 401 and sent == []
    assert not [rec for rec in caplog.records if "s3cret-relay" in rec.getMessage()]


def test_an_id_with_dots_is_carried_whole_in_the_event(relay) -> None:  # type: ignore[no-untyped-def]
    client, sent = relay
    dotted = {
        "action": "IncidentResolve",
        "incident": {
            "id": "inc.7f3a.01",
            "message": "x",
            "createdAt": CREATED,
            "updatedAt": CREATED + 30 * 60_000,
        },
    }
    r = client.post("/opsgenie", json=dotted, headers={"X-Oncall-Relay-Secret": "s3cret-relay"})
    assert r.status_code == 202
    [event] = sent
    assert event["resource"]["oncall.incident.id"] == "inc.7f3a.01"
    assert event["payload"]["incident_id"] == "inc.7f3a.01"


def test_a_sender_that_hangs_up_mid_body_is_no_crash(caplog) -> None:  # type: ignore[no-untyped-def]
    app = build_relay("s3cret-relay", "http://prefect.test/api")
    sent: list[dict[str, object]] = []
    messages: list[dict[str, object]] = [
        {"type": "http.request", "body": b'{"action": ', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/opsgenie",
        "raw_path": b"/opsgenie",
        "query_string": b"",
        "headers": [(b"x-oncall-relay-secret", b"s3cret-relay"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
        "server": ("relay.test", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
    assert not [rec for rec in caplog.records if rec.exc_info]


def test_the_relay_and_the_watch_apply_one_coe_rule() -> None:
    # The same alert, closed after the same time, is a candidate for both emitters or for neither.
    from datetime import UTC, datetime, timedelta

    from oncall.models import Alert, Priority
    from oncall.watch import coe_candidates

    ten = timedelta(minutes=10)
    for minutes, priority in [(10, "P1"), (9.999, "P1"), (47, "P2"), (47, "P3"), (47, "")]:
        body = webhook(minutes=minutes, priority=priority)
        relayed, _ = candidate_from_webhook(body, 10)
        closed = Alert(
            id="a-1",
            message="DB down",
            status="closed",
            priority=Priority(priority) if priority else None,
            created_at=datetime.fromtimestamp(CREATED / 1000, UTC),
            close_after=timedelta(milliseconds=minutes * 60_000),
        )
        watched = coe_candidates([], [closed], ten)
        assert [c.incident_id for c in watched] == ([relayed.incident_id] if relayed else []), (
            minutes,
            priority,
        )
    assert candidate_from_webhook(webhook(minutes=10), 10)[0] is not None  # the threshold itself qualifies
