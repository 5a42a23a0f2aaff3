"""The webhook relay without Prefect: what it accepts, refuses and forwards."""

from __future__ import annotations

import asyncio
import json

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
    }
    again = client.post("/opsgenie?token=s3cret-relay", json=webhook())
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
