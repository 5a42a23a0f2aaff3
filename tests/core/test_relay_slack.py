"""The relay's Slack route without Prefect or Slack: Events API requests signed by the sandbox
sender, Prefect's /events as an httpx MockTransport."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from slack_sdk.signature import Clock, SignatureVerifier

from deployments.relay import MAX_BODY, SRE_TICKET_EVENT, SlackRoute, build_relay
from oncall.sandbox.slack_events import reaction_added, signed_request, url_verification
from tests.core.test_relay import Client

SECRET = "8f3c0d5e-slack-signing-canary"
NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
STAMP = int(NOW.timestamp())
CHANNEL, TS = "C0SRE00001", "1764871200.000100"
ROUTE = SlackRoute(
    signing_secret=SECRET, channels=frozenset({CHANNEL, "C0SRE00002"}), ticket_reaction="ticket"
)


class Relay:
    def __init__(self, prefect: httpx.MockTransport | None = None, **kw: object) -> None:
        self.sent: list[dict[str, object]] = []
        self.timeouts: list[dict[str, float]] = []
        self.now = NOW

        def events(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/api/events"
            self.timeouts.append(request.extensions["timeout"])
            self.sent.extend(json.loads(request.content))
            return httpx.Response(204)

        app = build_relay(
            None,
            "http://prefect.test/api",
            transport=prefect or httpx.MockTransport(events),
            clock=lambda: self.now,
            slack=ROUTE,
            **kw,  # type: ignore[arg-type]
        )
        self.client = Client(app)

    def post(
        self,
        body: dict[str, object],
        *,
        timestamp: int = STAMP,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        raw, signed = signed_request(body, secret, timestamp=timestamp)
        return self.client.post("/slack/events", content=raw, headers={**signed, **(headers or {})})


@pytest.fixture
def relay(caplog: pytest.LogCaptureFixture) -> Relay:
    caplog.set_level(logging.INFO, logger="oncall.relay")
    return Relay()


def _lines(caplog: pytest.LogCaptureFixture, part: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if part in r.getMessage()]


class _At(Clock):
    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


def test_slack_sdk_accepts_the_senders_signatures() -> None:
    """slack_sdk's verifier is the judge, so the sender cannot drift from Slack's scheme."""
    body = reaction_added(CHANNEL, TS, "ticket", "U0ALICE")
    raw, headers = signed_request(body, SECRET, timestamp=STAMP)
    assert json.loads(raw) == body
    assert SignatureVerifier(SECRET, _At(STAMP + 10)).is_valid_request(raw, headers)
    assert not SignatureVerifier("another-secret", _At(STAMP)).is_valid_request(raw, headers)
    assert not SignatureVerifier(SECRET, _At(STAMP)).is_valid_request(raw + b" ", headers)
    assert not SignatureVerifier(SECRET, _At(STAMP + 301)).is_valid_request(raw, headers)
    assert headers["X-Slack-Signature"] == SignatureVerifier(SECRET).generate_signature(
        timestamp=str(STAMP), body=raw
    )


def test_the_sender_builds_slacks_documented_envelope() -> None:
    # The keys of the example on Slack's reaction_added reference page (wrapper and event).
    body = reaction_added(CHANNEL, TS, "ticket", "U0ALICE", event_id="Ev0TEST", event_time=STAMP)
    assert {"token", "team_id", "api_app_id", "event", "type", "event_id", "event_time"} <= body.keys()
    assert body["type"] == "event_callback" and body["event_id"] == "Ev0TEST" and body["event_time"] == STAMP
    event = body["event"]
    assert event.keys() == {"type", "user", "reaction", "item_user", "item", "event_ts"}
    assert (event["type"], event["user"], event["reaction"]) == ("reaction_added", "U0ALICE", "ticket")
    assert event["item"] == {"type": "message", "channel": CHANNEL, "ts": TS}
    assert url_verification("c-1").keys() == {"token", "challenge", "type"}


def test_a_ticket_reaction_becomes_one_prefect_event(relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    r = relay.post(reaction_added(CHANNEL, TS, "ticket", "U0ALICE"))
    assert r.status_code == 200, r.text
    [event] = relay.sent
    assert event["event"] == SRE_TICKET_EVENT == "oncall.sre.request.ticket"
    assert event["resource"] == {
        "prefect.resource.id": f"slack.message.{CHANNEL}.{TS}",
        "channel": CHANNEL,
        "ts": TS,
        "reactor": "U0ALICE",
    }
    assert uuid.UUID(str(event["id"])).version == 5
    assert event["occurred"] == NOW.isoformat()
    assert all(t["read"] <= 2.0 for t in relay.timeouts), "Slack wants an answer within 3 s"
    assert len(_lines(caplog, f"emitted oncall.sre.request.ticket for {CHANNEL}/{TS}")) == 1


def test_retries_and_duplicates_make_the_same_event_id(
    relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    first = reaction_added(CHANNEL, TS, "ticket", "U0ALICE", event_id="Ev0FIRST")
    assert relay.post(first).status_code == 200
    retried = relay.post(first, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retried.status_code == 200
    relay.now = NOW + timedelta(minutes=1)  # a second person's ticket reaction, a minute later
    other = reaction_added(CHANNEL, TS, "ticket", "U0BOB", event_id="Ev0SECOND")
    assert relay.post(other, timestamp=STAMP + 60).status_code == 200
    assert len({e["id"] for e in relay.sent}) == 1 and len(relay.sent) == 3
    assert _lines(caplog, "Slack's retry 1")
    # Another message, or the same ts in another channel, is another event.
    assert relay.post(reaction_added(CHANNEL, "1764871200.000200", "ticket", "U0ALICE"), timestamp=STAMP + 60)
    assert relay.post(reaction_added("C0SRE00002", TS, "ticket", "U0ALICE"), timestamp=STAMP + 60)
    assert len({e["id"] for e in relay.sent}) == 3


def test_url_verification_returns_the_challenge(relay: Relay) -> None:
    r = relay.post(url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    unsigned = relay.client.post("/slack/events", json=url_verification("x"))
    assert unsigned.status_code == 401 and "x" not in unsigned.text.replace("forbidden", "")
    assert relay.sent == []


def _raw(body: bytes, stamp: int = STAMP) -> dict[str, str]:
    """Headers that sign raw bytes, for bodies the sender does not build."""
    import hashlib
    import hmac

    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": f"v0={digest}"}


GOOD = reaction_added(CHANNEL, TS, "ticket", "U0ALICE")
GOOD_RAW, GOOD_HEADERS = signed_request(GOOD, SECRET, timestamp=STAMP)
REFUSED: dict[str, tuple[bytes, dict[str, str], int, str]] = {
    "forged": (GOOD_RAW, signed_request(GOOD, "not-the-secret", timestamp=STAMP)[1], 401, "does not match"),
    "tampered": (GOOD_RAW.replace(b"U0ALICE", b"U0MALLORY"), GOOD_HEADERS, 401, "does not match"),
    "stale, 6 min old": (
        GOOD_RAW,
        signed_request(GOOD, SECRET, timestamp=STAMP - 360)[1],
        401,
        "stale X-Slack-Request-Timestamp",
    ),
    "6 min ahead": (
        GOOD_RAW,
        signed_request(GOOD, SECRET, timestamp=STAMP + 360)[1],
        401,
        "stale X-Slack-Request-Timestamp",
    ),
    "no headers": (GOOD_RAW, {}, 401, "no X-Slack-Signature"),
    "no signature": (
        GOOD_RAW,
        {"X-Slack-Request-Timestamp": str(STAMP)},
        401,
        "no X-Slack-Signature",
    ),
    "no timestamp": (GOOD_RAW, {"X-Slack-Signature": GOOD_HEADERS["X-Slack-Signature"]}, 401, "no X-Slack"),
    "timestamp not a number": (
        GOOD_RAW,
        {**GOOD_HEADERS, "X-Slack-Request-Timestamp": "1e9"},
        401,
        "not a Unix time",
    ),
    "oversize by Content-Length": (b"x" * (MAX_BODY + 1), _raw(b"x" * (MAX_BODY + 1)), 413, "byte body"),
    "signed, not JSON": (b"{not json", _raw(b"{not json"), 400, "not JSON"),
    "signed, not UTF-8": (b'{"type": "\xff"}', _raw(b'{"type": "\xff"}'), 401, "not UTF-8"),
    "signed, a JSON array": (b"[1, 2]", _raw(b"[1, 2]"), 400, "not a JSON object"),
    "signed, NaN": (b'{"type": NaN}', _raw(b'{"type": NaN}'), 400, "NaN"),
    "url_verification without a challenge": (
        b'{"type": "url_verification"}',
        _raw(b'{"type": "url_verification"}'),
        400,
        "without a challenge",
    ),
}


@pytest.mark.parametrize(("body", "headers", "status", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_refusals_are_4xx_logged_and_never_forwarded(  # type: ignore[no-untyped-def]
    relay, caplog, body, headers, status, reason
) -> None:
    r = relay.client.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert r.status_code == status, r.text
    assert relay.sent == []
    [line] = _lines(caplog, "relay: refused")
    assert reason in line
    assert not [rec for rec in caplog.records if rec.exc_info], "a traceback was logged"


def test_a_streamed_body_is_read_only_up_to_the_limit(relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    """No Content-Length: reading stops past 64 KiB, before any signature is checked."""
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(1_000):  # 64 MiB if it were all read
            pulled.append(1)
            yield b" " * 65_536

    r = relay.client.post("/slack/events", content=chunks(), headers=GOOD_HEADERS)
    assert r.status_code == 413 and relay.sent == []
    assert len(pulled) <= 3, f"read {len(pulled)} chunks of 64 KiB"
    assert _lines(caplog, f"past {MAX_BODY} bytes")


def test_the_replay_window_is_five_minutes_on_the_relays_clock(relay: Relay) -> None:
    relay.now = NOW + timedelta(seconds=299)
    assert relay.post(GOOD).status_code == 200
    relay.now = NOW + timedelta(seconds=301)
    assert relay.post(GOOD).status_code == 401
    assert len(relay.sent) == 1


IGNORED: dict[str, tuple[dict[str, object], str]] = {
    "another reaction": (reaction_added(CHANNEL, TS, "eyes", "U0ALICE"), "reaction 'eyes' is not 'ticket'"),
    "a channel not configured": (
        reaction_added("C0RANDOM01", TS, "ticket", "U0ALICE"),
        "channel 'C0RANDOM01' is not an @SRE channel",
    ),
    "another event type": (
        {**GOOD, "event": {"type": "message", "channel": CHANNEL, "user": "U0ALICE", "text": "hi", "ts": TS}},
        "event type 'message' is not reaction_added",
    ),
    "a reaction on a file": (
        {**GOOD, "event": {**GOOD["event"], "item": {"type": "file", "file": "F0FILE"}}},
        "not on a message",
    ),
    "a message ts that is not a ts": (
        reaction_added(CHANNEL, "yesterday", "ticket", "U0ALICE"),
        "not a Slack ts",
    ),
    "no event object": ({"type": "event_callback", "event_id": "Ev0X"}, "no event object"),
}


@pytest.mark.parametrize(("body", "reason"), IGNORED.values(), ids=IGNORED.keys())
def test_a_signed_event_not_for_us_is_a_200_and_a_log_line(  # type: ignore[no-untyped-def]
    relay, caplog, body, reason
) -> None:
    r = relay.post(body)
    assert r.status_code == 200
    ignored = r.json()["ignored"]
    assert reason in ignored and relay.sent == []
    assert _lines(caplog, "relay: ignored a Slack event") == [f"relay: ignored a Slack event: {ignored}"]


def test_another_request_type_is_a_200(relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    r = relay.post(
        {"type": "app_rate_limited", "minute_rate_limited": 1, "team_id": "T0", "api_app_id": "A0"}
    )
    assert r.status_code == 200 and relay.sent == []
    assert _lines(caplog, "ignored a Slack request of type 'app_rate_limited'")


def test_a_newline_in_a_field_cannot_forge_a_log_line(relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    r = relay.post(reaction_added(CHANNEL, TS, "eyes\nrelay: emitted oncall.sre.request.ticket", "U0ALICE"))
    assert r.status_code == 200 and relay.sent == []
    assert not [rec for rec in caplog.records if "\n" in rec.getMessage()]


@pytest.mark.parametrize(
    "prefect",
    [
        httpx.MockTransport(
            lambda request: (_ for _ in ()).throw(httpx.ConnectTimeout("down", request=request))
        ),
        httpx.MockTransport(lambda request: httpx.Response(500)),
    ],
    ids=["unreachable", "refusing"],
)
def test_prefect_down_is_a_503_so_slack_retries(
    prefect: httpx.MockTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="oncall.relay")
    relay = Relay(prefect)
    r = relay.post(GOOD, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    assert r.status_code == 503
    [line] = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.ERROR]
    assert f"{CHANNEL}/{TS} (Slack's retry 2)" in line


def test_the_signing_secret_never_reaches_logs_or_answers(
    relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    answers = [
        relay.post(GOOD),
        relay.post(url_verification("c")),
        relay.post(IGNORED["another reaction"][0]),
    ]
    answers += [relay.post(GOOD, timestamp=STAMP - 600), relay.post(GOOD, secret="wrong")]
    answers += [
        relay.client.post("/slack/events", content=body, headers=h) for body, h, _, _ in REFUSED.values()
    ]
    assert len(caplog.records) > len(answers)
    for r in answers:
        assert SECRET not in r.text and SECRET not in str(r.headers)
    assert not [rec for rec in caplog.records if SECRET in rec.getMessage()]
    assert SECRET not in repr(ROUTE)


def test_either_route_alone_runs_the_relay() -> None:
    with pytest.raises(ValueError, match=r"ONCALL_RELAY_SECRET.*ONCALL_SLACK_SIGNING_SECRET"):
        build_relay(None, "http://prefect.test/api")
    with pytest.raises(ValueError, match="ONCALL_SLACK_SIGNING_SECRET"):
        SlackRoute(signing_secret=" ", channels=frozenset(), ticket_reaction="ticket")
    slack_only = Client(build_relay("", "http://prefect.test/api", slack=ROUTE))
    assert slack_only.post("/opsgenie", json={}, headers={"X-Oncall-Relay-Secret": ""}).status_code == 404
    raw, headers = signed_request(url_verification("c"), SECRET)
    assert slack_only.post("/slack/events", content=raw, headers=headers).json() == {"challenge": "c"}
    opsgenie_only = Client(build_relay("s3cret-relay", "http://prefect.test/api"))
    assert opsgenie_only.post("/slack/events", content=raw, headers=headers).status_code == 404
