"""The Rootly client against the sandbox fake, and the fake against Rootly's published OpenAPI spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import jsonschema
import pytest

from oncall.errors import AuthError, MalformedError, NotFoundError
from oncall.models import AlertQuery, Priority, TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR, synthetic_state
from oncall.sandbox.server import Sandbox
from oncall.sources.rootly.client import RootlySource
from tests.conftest import FakeSleep
from tests.factories import FIXTURES
from tests.sources.helpers import openapi_30

SPEC = FIXTURES / "specs" / "rootly-openapi.json"
WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)
SCHEDULE = "Primary On Call Schedule"


@pytest.fixture
def source(sandbox: Sandbox, fake_sleep: FakeSleep) -> Iterator[RootlySource]:
    src = RootlySource(sandbox.state.rootly.api_token, base_url=f"{sandbox.url}/rootly", sleep=fake_sleep)
    yield src
    src.close()


@pytest.fixture(scope="module")
def validate() -> Any:
    spec = openapi_30(json.loads(SPEC.read_text()))

    def check(body: Any, schema: str) -> None:
        jsonschema.Draft7Validator({**spec, "$ref": f"#/components/schemas/{schema}"}).validate(body)

    return check


def test_fake_responses_match_the_published_spec(sandbox: Sandbox, validate: Any) -> None:
    base = f"{sandbox.url}/rootly"
    alert = sandbox.state.rootly.alerts[0]["id"]
    schedule = sandbox.state.rootly.schedules[0]["id"]
    cases = {
        "/v1/alerts?page[size]=5&filter[status][in]=triggered,acknowledged": "alert_list",
        f"/v1/alerts/{alert}": "alert_response",
        f"/v1/alerts/{alert}/events": "alert_event_list",
        "/v1/alert_events?filter[action]=acknowledged&page[size]=50": "alert_event_feed_list",
        "/v1/incidents?sort=started_at": "incident_list",
        "/v1/incidents/inc-7f3a-0001": "incident_response",
        "/v1/incidents/inc-7f3a-0001/events": "incident_event_list",
        "/v1/schedules": "schedule_list",
        f"/v1/schedules/{schedule}": "schedule_response",
        f"/v1/schedules/{schedule}/schedule_rotations": "schedule_rotation_list",
        f"/v1/oncalls?since=2026-11-20T12:00:00Z&until=2026-11-20T12:00:00Z&include=user&filter[schedule_ids]={schedule}": "oncall_list",
        "/v1/users/me": "user_response",
    }
    headers = {"Authorization": f"Bearer {sandbox.state.rootly.api_token}"}
    for path, schema in cases.items():
        response = httpx.get(base + path, headers=headers)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("application/vnd.api+json")
        body = response.json()
        assert body["data"], path
        validate(body, schema)
    for path, status in (("/v1/alerts", 401), ("/v1/alerts?filter[nope]=1", 400), ("/v1/incidents/x", 404)):
        response = httpx.get(base + path, headers=headers if status != 401 else {})
        assert response.status_code == status
        validate(response.json(), "errors_list")


def test_the_seeded_week_reads_as_on_opsgenie(source: RootlySource, sandbox: Sandbox) -> None:
    alerts = source.fetch_alerts(AlertQuery(created=WEEK))
    opsgenie = [a for a in sandbox.state.opsgenie.alerts if WEEK.start.isoformat() <= a["createdAt"]]
    assert len(alerts) == len([a for a in opsgenie if a["createdAt"] < DEFAULT_ANCHOR.isoformat()])
    assert all(a.priority is None and a.count == 1 for a in alerts)  # absent, never made up
    acked = [a for a in alerts if a.ack_after is not None]
    assert acked and all(a.acknowledged_by and a.acknowledged_by.endswith("@example.edu") for a in acked)
    closed = [a for a in alerts if a.status == "closed"]
    assert closed and all(a.close_after is not None for a in closed)
    assert source.fetch_alerts(AlertQuery(created=WEEK, priorities=(Priority.P1,))) == []
    still_open = source.fetch_alerts(AlertQuery(status="open", created_before=WEEK.start))
    assert len(still_open) == 1 and still_open[0].is_open


def test_incidents_severity_timeline_and_on_call(source: RootlySource) -> None:
    incidents = {i.id: i for i in source.fetch_incidents(WEEK)}
    long = incidents["inc-7f3a-0001"]
    assert long.priority is Priority.P1 and long.duration == timedelta(minutes=47)
    assert long.tiny_id == "101" and long.impacted_services == ("svc-xpro", "svc-xpro-api")
    assert incidents["inc-7f3a-0003"].resolved_at is None
    timeline = source.incident_timeline("inc-7f3a-0001")
    assert [e.text for e in timeline][-1] == "Incident closed" and timeline == sorted(
        timeline, key=lambda e: e.at
    )
    resolved = source.fetch_resolved_incidents(WEEK)
    assert {i.id for i in resolved} == {"inc-7f3a-0001", "inc-7f3a-0002"}
    schedule = source.get_schedule(SCHEDULE)
    assert schedule.timezone == "America/New_York" and [r.unit for r in schedule.rotations] == ["weekly"] * 2
    thursday_night = DEFAULT_ANCHOR - timedelta(days=4, hours=10)  # the override
    assert source.on_call(SCHEDULE, thursday_night).names == "emil.varga@example.edu"
    assert source.next_on_call(SCHEDULE, DEFAULT_ANCHOR).people
    with pytest.raises(NotFoundError, match=r"schedule 'Nope' was not found .*Primary On Call Schedule"):
        source.on_call("Nope", DEFAULT_ANCHOR)


def test_bad_token_names_the_setting_and_hides_the_token(sandbox: Sandbox) -> None:
    with (
        RootlySource("rootly-canary-token-91b2", base_url=f"{sandbox.url}/rootly") as src,
        pytest.raises(AuthError) as caught,
    ):
        src.check()
    assert "ONCALL_ROOTLY_API_TOKEN" in str(caught.value) and "canary" not in str(caught.value)


def test_429_waits_for_the_rate_limit_reset(
    source: RootlySource, sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    sandbox.script("/rootly/v1/incidents", 429, times=2)
    assert source.fetch_incidents(WEEK)
    assert len(fake_sleep.calls) == 2 and all(
        0 <= s <= 2 for s in fake_sleep.calls
    )  # X-RateLimit-Reset is now+1


def test_malformed_alert_names_the_record() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        body = {
            "data": [{"id": "a-1", "type": "alerts", "attributes": {"created_at": "2026-11-20T00:00:00Z"}}],
            "meta": {"total_count": 1, "total_pages": 1, "next_page": None},
        }
        return httpx.Response(
            200, json=body if request.url.path == "/v1/alerts" else {"data": [], "meta": {}}
        )

    with (
        RootlySource("t", base_url="http://rootly.test", transport=httpx.MockTransport(reply)) as src,
        pytest.raises(MalformedError, match=r"alert a-1.*summary"),
    ):
        src.fetch_alerts(AlertQuery(created=WEEK))


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    """25,000 alerts in a week: past the 10,000 that page numbers reach."""
    with Sandbox(synthetic_state(25_000, WEEK.start, WEEK.end)) as sb:
        yield sb


def test_fetches_past_the_page_number_limit_by_splitting_the_window(big: Sandbox) -> None:
    with RootlySource(big.state.rootly.api_token, base_url=f"{big.url}/rootly") as src:
        alerts = src.fetch_alerts(AlertQuery(created=WEEK))
    assert len({a.id for a in alerts}) == 25_000
    pages = big.app.count("rootly", path_prefix="/rootly/v1/alerts")
    assert 250 <= pages <= 260  # 250 full pages, the first probe and one count per sub-window
