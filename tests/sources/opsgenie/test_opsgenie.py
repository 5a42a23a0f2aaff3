"""The OpsGenie client against the sandbox fake, and the fake against the official spec."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import jsonschema
import pytest

from oncall.clients.http import RetryPolicy
from oncall.errors import (
    AuthError,
    MalformedError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from oncall.models import AlertQuery, Priority, TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR, synthetic_alerts
from oncall.sandbox.server import Sandbox, SandboxState
from oncall.sources.opsgenie.client import OpsGenieSource, build_query
from oncall.sources.opsgenie.fake import State as OpsGenieState
from tests.conftest import FakeSleep
from tests.factories import FIXTURES

SPEC = FIXTURES / "specs" / "opsgenie-swagger.json"
WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)


def _in_week(sandbox: Sandbox) -> int:
    return len(sandbox.state.opsgenie.matching(build_query(AlertQuery(created=WEEK))))


@pytest.fixture
def source(sandbox: Sandbox, fake_sleep: FakeSleep) -> Iterator[OpsGenieSource]:
    src = OpsGenieSource(sandbox.state.opsgenie.api_key, base_url=sandbox.opsgenie_url, sleep=fake_sleep)
    yield src
    src.close()


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    """45,000 alerts in one week: more than twice OpsGenie's offset cap."""
    state = SandboxState(opsgenie=OpsGenieState())
    state.opsgenie.set_alerts(synthetic_alerts(45_000, WEEK.start, WEEK.end))
    with Sandbox(state) as sb:
        yield sb


def test_fetches_every_alert_past_the_offset_cap_with_few_requests(big: Sandbox) -> None:
    with OpsGenieSource(big.state.opsgenie.api_key, base_url=big.opsgenie_url, concurrency=8) as src:
        alerts = src.fetch_alerts(AlertQuery(created=WEEK))
    assert len(alerts) == 45_000
    assert len({a.id for a in alerts}) == 45_000
    assert alerts == sorted(alerts, key=lambda a: (a.created_at, a.id))
    pages = big.app.count("opsgenie", path_prefix="/opsgenie/v2/alerts") - big.app.count(
        path_prefix="/opsgenie/v2/alerts/count"
    )
    assert 450 <= pages <= 460  # 450 is the minimum at 100 per page
    assert big.app.count(path_prefix="/opsgenie/v2/alerts/count") <= 5
    # No request ever asked past the cap; the fake would have answered 422.
    assert all(s.status == 200 for s in big.app.served)


def test_window_query_syntax_and_filters(source: OpsGenieSource, sandbox: Sandbox) -> None:
    q = AlertQuery(created=WEEK, priorities=(Priority.P1, Priority.P2), status="closed")
    assert build_query(q).endswith("AND status:closed AND priority:(P1 OR P2)")
    alerts = source.fetch_alerts(q)
    expected = [
        a
        for a in sandbox.state.opsgenie.alerts
        if a["priority"] in ("P1", "P2")
        and a["status"] == "closed"
        and WEEK.start.isoformat()[:10] <= a["createdAt"][:10]
    ]
    assert alerts and {a.priority for a in alerts} <= {Priority.P1, Priority.P2}
    assert all(a.status == "closed" and WEEK.contains(a.created_at) for a in alerts)
    assert len(alerts) <= len(expected)


def test_429_with_retry_after_is_honoured(
    source: OpsGenieSource, sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    sandbox.script("/opsgenie/v2/alerts/count", 429, times=2, headers={"Retry-After": "7"})
    alerts = source.fetch_alerts(AlertQuery(created=WEEK))
    assert len(alerts) == _in_week(sandbox)
    assert fake_sleep.calls[:2] == [7.0, 7.0]


def test_a_429_holds_the_requests_that_start_after_it(
    source: OpsGenieSource, sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    """The vendor's pause covers the whole client: other threads' new requests wait it out."""
    source.list_schedules()
    assert fake_sleep.calls == []  # no 429, no hold
    sandbox.script("/opsgenie/v2/schedules", 429, times=1, headers={"Retry-After": "7"})
    source.list_schedules()  # 429, its own backoff of 7 s (the fake sleep does not pass time), 200
    source.list_schedules()  # a new request, started inside the 7 s
    assert fake_sleep.calls[0] == 7.0
    assert len(fake_sleep.calls) == 2 and 6.0 < fake_sleep.calls[1] <= 7.0


def test_5xx_then_success_backs_off(source: OpsGenieSource, sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    sandbox.script("/opsgenie/v2/schedules", 503, times=2)
    assert source.get_schedule("Primary On Call Schedule").name == "Primary On Call Schedule"
    assert len(fake_sleep.calls) == 2 and fake_sleep.calls[0] < fake_sleep.calls[1] * 2


def test_persistent_failure_is_a_clear_bounded_error(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    src = OpsGenieSource(
        sandbox.state.opsgenie.api_key,
        base_url=sandbox.opsgenie_url,
        sleep=fake_sleep,
        retry=RetryPolicy(attempts=4),
    )
    sandbox.script("/opsgenie/v2/schedules", 502, times=10)
    with pytest.raises(UnavailableError, match=r"schedule 'Primary On Call Schedule': HTTP 502"):
        src.get_schedule("Primary On Call Schedule")
    assert len(fake_sleep.calls) == 3
    sandbox.script("/opsgenie/v2/alerts/count", 429, times=10)
    with pytest.raises(RateLimitedError, match="still rate limited"):
        src.fetch_alerts(AlertQuery(created=WEEK))
    src.close()


def test_timeouts_are_retried(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    src = OpsGenieSource(
        sandbox.state.opsgenie.api_key,
        base_url=sandbox.opsgenie_url,
        sleep=fake_sleep,
        timeout=0.2,
        retry=RetryPolicy(attempts=3),
    )
    sandbox.faults("opsgenie", rate_timeout=1.0, timeout_seconds=1.0)
    with pytest.raises(UnavailableError, match="ReadTimeout"):
        src.list_schedules()
    src.close()


def test_bad_key_names_the_setting_and_hides_the_key(sandbox: Sandbox) -> None:
    with (
        OpsGenieSource("canary-secret-4242", base_url=sandbox.opsgenie_url) as src,
        pytest.raises(AuthError) as err,
    ):
        src.list_schedules()
    assert "ONCALL_OPSGENIE_API_KEY" in str(err.value) and "canary-secret-4242" not in str(err.value)


def test_not_found_and_rejected_queries(source: OpsGenieSource) -> None:
    with pytest.raises(NotFoundError, match="alert nope was not found"):
        source.get_alert("nope")
    with pytest.raises(RejectedError, match="422"):
        source.api.get_json("/v2/alerts", params={"limit": 101}, what="oversized page")
    with pytest.raises(RejectedError, match="Sum of offset and limit should be lower than 20000"):
        source.api.get_json("/v2/alerts", params={"limit": 100, "offset": 19_900}, what="past the cap")


def test_a_malformed_record_is_skipped_with_its_reason_and_a_bad_page_is_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = [
        {"id": f"ok{i}", "message": "m", "status": "open", "createdAt": "2026-11-20T10:00:00Z"}
        for i in range(3)
    ]
    bad = [
        {"id": f"bad{i}", "message": "m", "status": "open", "createdAt": "yesterday"} for i in range(7, 10)
    ]
    page: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/count"):
            return httpx.Response(200, json={"data": {"count": len(page)}, "took": 0, "requestId": "r"})
        return httpx.Response(200, json={"data": page, "took": 0, "requestId": "r"})

    with OpsGenieSource("k", base_url="http://og.test", transport=httpx.MockTransport(handler)) as src:
        page[:] = [*good, bad[0]]  # one bad record in four: the run goes on without it, and says why
        assert [a.id for a in src.fetch_alerts(AlertQuery(created=WEEK))] == ["ok0", "ok1", "ok2"]
        assert (
            "alert bad7 (alerts page offset=0): field created_at: Input should be a valid datetime"
            in caplog.text
        )
        assert "skipped" in caplog.text
        page[:] = [good[0], *bad]  # mostly bad: the vendor's shape changed; an empty report would lie
        with pytest.raises(MalformedError, match=r"alert bad7 \(alerts page offset=0\): field created_at"):
            src.fetch_alerts(AlertQuery(created=WEEK))


def test_incidents_timeline_and_resolve_time(source: OpsGenieSource) -> None:
    incidents = {i.id: i for i in source.fetch_incidents(WEEK)}
    assert incidents["inc-7f3a-0001"].duration == timedelta(minutes=47)
    assert incidents["inc-7f3a-0002"].duration == timedelta(minutes=6)
    assert incidents["inc-7f3a-0003"].duration is None and incidents["inc-7f3a-0003"].status == "open"
    assert incidents["inc-7f3a-0001"].impacted_services == ("svc-xpro", "svc-xpro-api")
    timeline = source.incident_timeline("inc-7f3a-0001")
    assert next(e.kind for e in timeline) == "IncidentCreated" and timeline == sorted(
        timeline, key=lambda e: e.at
    )
    assert source.get_incident("inc-7f3a-0001").duration == timedelta(minutes=47)


def test_alert_logs_and_notes_page_by_cursor(source: OpsGenieSource, sandbox: Sandbox) -> None:
    alert_id = sandbox.state.opsgenie.alerts[5]["id"]
    sandbox.state.opsgenie.alert_notes[alert_id] = [
        {
            "note": f"note {i}",
            "owner": "dana",
            "createdAt": f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}Z",
            "offset": f"n{i}",
        }
        for i in range(130)
    ]
    entries = source.alert_timeline(alert_id)
    notes = [e for e in entries if e.origin == "alert-note"]
    assert len(notes) == 130 and {e.origin for e in entries} == {"alert-note", "alert-log"}
    del sandbox.state.opsgenie.alert_notes[alert_id]


def test_on_call_with_override_and_next(source: OpsGenieSource) -> None:
    name = "Primary On Call Schedule"
    normal = source.on_call(name, DEFAULT_ANCHOR - timedelta(days=1))
    override = source.on_call(
        name, DEFAULT_ANCHOR - timedelta(days=5) + timedelta(hours=9)
    )  # Thu 19:00 New York
    assert [p.name for p in normal.people] == ["dana.okafor@example.edu", "bruno.diaz@example.edu"]
    assert [p.name for p in override.people] == ["emil.varga@example.edu"]
    assert (
        source.next_on_call(name, DEFAULT_ANCHOR - timedelta(days=1)).names
        == "alice.ng@example.edu, emil.varga@example.edu"
    )
    schedule = source.get_schedule(name)
    assert schedule.timezone == "America/New_York" and len(schedule.rotations) == 2


def _validate(body: Any, definition: str) -> None:
    spec = json.loads(SPEC.read_text())
    schema = {"definitions": spec["definitions"], "$ref": f"#/definitions/{definition}"}
    jsonschema.Draft4Validator(schema).validate(body)


@pytest.mark.parametrize(
    ("path", "params", "definition"),
    [
        ("/v2/alerts", {"limit": 100}, "ListAlertsResponse"),
        ("/v2/alerts/count", {}, "GetCountAlertsResponse"),
        ("/v1/incidents/", {"query": "status:closed"}, "ListIncidentsResponse"),
        ("/v1/incidents/inc-7f3a-0001", {}, "GetIncidentResponse"),
        ("/v2/schedules", {"expand": "rotation"}, "ListSchedulesResponse"),
        ("/v2/schedules/Primary On Call Schedule", {"identifierType": "name"}, "GetScheduleResponse"),
        (
            "/v2/schedules/Primary On Call Schedule/on-calls",
            {"scheduleIdentifierType": "name"},
            "GetOnCallResponse",
        ),
        (
            "/v2/schedules/Primary On Call Schedule/next-on-calls",
            {"scheduleIdentifierType": "name"},
            "GetNextOnCallResponse",
        ),
    ],
)
def test_fake_responses_match_the_official_spec(
    source: OpsGenieSource, path: str, params: dict[str, Any], definition: str
) -> None:
    _validate(source.api.get_json(path, params=params, what=path), definition)


def test_fake_alert_logs_notes_and_errors_match_the_spec(source: OpsGenieSource, sandbox: Sandbox) -> None:
    alert_id = sandbox.state.opsgenie.alerts[0]["id"]
    _validate(source.api.get_json(f"/v2/alerts/{alert_id}", what="a"), "GetAlertResponse")
    _validate(source.api.get_json(f"/v2/alerts/{alert_id}/logs", what="l"), "ListAlertLogsResponse")
    _validate(source.api.get_json(f"/v2/alerts/{alert_id}/notes", what="n"), "ListAlertNotesResponse")
    error = httpx.get(f"{sandbox.opsgenie_url}/v2/alerts/nope", headers={"Authorization": "GenieKey wrong"})
    assert error.status_code == 401
    _validate(error.json(), "ErrorResponse")


def test_the_sandbox_sends_small_answers_at_once(sandbox: Sandbox) -> None:
    """Nagle's algorithm is off on every connection the sandbox accepts. With it on, each small
    answer waited 40 ms for the client's delayed ACK: a delay no vendor adds, in every test
    and every benchmark baseline."""
    with httpx.Client() as client:
        client.get(f"{sandbox.url}/_sandbox/health")  # the connection stays open (keep-alive)
        connections = sandbox._server.server_state.connections  # uvicorn keeps its open connections here
        sockets = [c.transport.get_extra_info("socket") for c in connections]  # type: ignore[attr-defined]
        assert sockets
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)


@pytest.fixture(scope="module")
def many_incidents() -> Iterator[Sandbox]:
    """20,500 open incidents in one week: more than OpsGenie's offset cap on the incident list."""
    step = (WEEK.end - WEEK.start) / 20_500
    incidents = [
        {
            "id": f"inc-{i:05d}",
            "tinyId": str(i),
            "message": f"incident {i}",
            "status": "open",
            "priority": "P3",
            "tags": [],
            "createdAt": (WEEK.start + step * i).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "updatedAt": (WEEK.start + step * i).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "impactedServices": [],
        }
        for i in range(20_500)
    ]
    with Sandbox(SandboxState(opsgenie=OpsGenieState(incidents=incidents))) as sb:
        yield sb


def test_incident_windows_past_the_offset_cap_are_split_as_alert_windows_are(many_incidents: Sandbox) -> None:
    with OpsGenieSource(
        many_incidents.state.opsgenie.api_key, base_url=many_incidents.opsgenie_url, concurrency=8
    ) as src:
        incidents = src.fetch_incidents(WEEK)
    assert len(incidents) == 20_500 == len({i.id for i in incidents})
    assert [i.id for i in incidents] == sorted(i.id for i in incidents)
    # Every page stayed under the cap (the fake answers 422 past it), and few requests were spent.
    assert all(s.status == 200 for s in many_incidents.app.served)
    pages = many_incidents.app.count(path_prefix="/opsgenie/v1/incidents")
    assert 205 <= pages <= 225
