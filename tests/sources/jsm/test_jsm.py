"""The JSM Operations client (Operations API plus the Jira site) against the sandbox fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from oncall.errors import AuthError, MalformedError, NotAvailableError
from oncall.models import AlertQuery, Priority, TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR, synthetic_state
from oncall.sandbox.server import Sandbox
from oncall.sources.jsm.client import JsmSource
from tests.conftest import FakeSleep

WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)
SCHEDULE = "Primary On Call Schedule"


def _source(sb: Sandbox, **kw: object) -> JsmSource:
    jsm = sb.state.jsm
    options: dict[str, object] = {
        "site_url": f"{sb.url}/atlassian",
        "api_url": f"{sb.url}/atlassian",
        "incident_project": jsm.project,
        **kw,
    }
    return JsmSource(jsm.email, jsm.api_token, **options)  # type: ignore[arg-type]


@pytest.fixture
def source(sandbox: Sandbox, fake_sleep: FakeSleep) -> Iterator[JsmSource]:
    with _source(sandbox, sleep=fake_sleep) as src:
        yield src


def _served(sb: Sandbox, fragment: str, since: int) -> int:
    return sum(1 for s in sb.app.served[since:] if fragment in s.path)


def test_alerts_read_with_names_resolved_once(source: JsmSource, sandbox: Sandbox) -> None:
    mark = len(sandbox.app.served)
    alerts = source.fetch_alerts(AlertQuery(created=WEEK))
    assert len(alerts) == len({a.id for a in alerts}) > 100
    assert all(a.priority is not None for a in alerts)
    owners = {a.owner for a in alerts if a.owner}
    assert owners and all(o.endswith("@example.edu") for o in owners)  # account ids became emails
    assert _served(sandbox, "/_edge/tenant_info", mark) == 1  # the cloud id, read from the site once
    assert _served(sandbox, "/user/bulk", mark) == 1  # five people, one call
    source.fetch_alerts(AlertQuery(created=WEEK))
    assert _served(sandbox, "/user/bulk", mark) == 1 and _served(sandbox, "/_edge", mark) == 1  # cached
    timeline = source.alert_timeline(alerts[0].id)
    assert timeline[0].kind == "system" and all(
        not e.actor.startswith("712020:") for e in timeline if e.actor
    )


def test_incidents_from_jira_with_priority_resolution_and_changelog(source: JsmSource) -> None:
    incidents = {i.id: i for i in source.fetch_incidents(WEEK)}
    assert set(incidents) == {"OPS-101", "OPS-102", "OPS-103"}
    long = incidents["OPS-101"]
    assert long.priority is Priority.P1 and long.duration == timedelta(minutes=47) and long.status == "closed"
    assert (
        long.owner
        and long.owner.endswith("@example.edu")
        and long.url
        and long.url.endswith("/browse/OPS-101")
    )
    assert incidents["OPS-103"].resolved_at is None and incidents["OPS-103"].status == "open"
    assert {i.id for i in source.fetch_resolved_incidents(WEEK)} == {"OPS-101", "OPS-102"}
    # Exact bounds: JQL is asked a day wider, then cut to the window.
    narrow = TimeWindow(start=long.created_at, end=long.created_at + timedelta(seconds=1))
    assert [i.id for i in source.fetch_incidents(narrow)] == ["OPS-101"]
    timeline = source.incident_timeline("OPS-101")
    assert timeline[0].kind == "created" and timeline[-1].text == "Closed"
    assert "Investigating; first mitigation under way" in [e.text for e in timeline]


def test_on_call_with_override_and_next(source: JsmSource) -> None:
    thursday_night = DEFAULT_ANCHOR - timedelta(days=4, hours=10)
    assert source.on_call(SCHEDULE, thursday_night).names == "emil.varga@example.edu"
    assert source.next_on_call(SCHEDULE, DEFAULT_ANCHOR).people
    schedule = source.get_schedule(SCHEDULE)
    assert schedule.timezone == "America/New_York" and len(schedule.rotations) == 2


def test_incidents_not_available_say_why(sandbox: Sandbox) -> None:
    with (
        _source(sandbox, incident_project=None) as src,
        pytest.raises(NotAvailableError, match="ONCALL_JSM_INCIDENT_PROJECT"),
    ):
        src.fetch_incidents(WEEK)
    sandbox.state.jsm.incident_type = False
    try:
        with (
            _source(sandbox) as src,
            pytest.raises(NotAvailableError, match=r"issuetype.*incident management"),
        ):
            src.fetch_incidents(WEEK)
    finally:
        sandbox.state.jsm.incident_type = True


def test_bad_token_names_the_settings_and_hides_the_token(sandbox: Sandbox) -> None:
    jsm = sandbox.state.jsm
    with (
        JsmSource(
            jsm.email,
            "jsm-canary-token-55aa",
            site_url=f"{sandbox.url}/atlassian",
            cloud_id=jsm.cloud_id,
            api_url=f"{sandbox.url}/atlassian",
        ) as src,
        pytest.raises(AuthError) as caught,
    ):
        src.fetch_alerts(AlertQuery(created=WEEK))
    message = str(caught.value)
    assert "ONCALL_JSM_API_TOKEN" in message and "canary" not in message


def test_a_next_link_off_the_api_is_not_followed() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/logs"):
            return httpx.Response(200, json={"values": [], "links": {"next": "https://evil.example/steal"}})
        return httpx.Response(200, json={"values": [], "links": {}})

    with (
        JsmSource(
            "e", "t", site_url="http://site.test", cloud_id="c", transport=httpx.MockTransport(reply)
        ) as src,
        pytest.raises(MalformedError, match="not an API path"),
    ):
        src.alert_timeline("a-1")


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    """25,000 alerts in a week: past JSM's offset + size cap of 20,000."""
    with Sandbox(synthetic_state(25_000, WEEK.start, WEEK.end)) as sb:
        yield sb


def test_fetches_past_the_offset_cap_by_splitting_the_window(big: Sandbox) -> None:
    with _source(big) as src:
        alerts = src.fetch_alerts(AlertQuery(created=WEEK))
    assert len({a.id for a in alerts}) == 25_000
    pages = big.app.count("atlassian", path_prefix="/atlassian/jsm/ops/api/sandbox-cloud-0001/v1/alerts")
    assert 250 <= pages <= 260


def test_schedules_are_paged_and_every_page_is_read(fake_sleep: FakeSleep) -> None:
    """JSM pages the schedule list (`offset`/`size`, `links.next`); a schedule past page 1 is found."""
    with Sandbox.seeded(DEFAULT_ANCHOR) as sb:
        ops = sb.state.jsm.ops
        extra = [
            {**ops.schedules[0], "id": f"sch-extra-{i:03d}", "name": f"Extra {i:03d}"} for i in range(130)
        ]
        ops.schedules[:0] = extra  # the team's schedule is now the 131st
        first = httpx.get(
            f"{sb.url}/atlassian/jsm/ops/api/{sb.state.jsm.cloud_id}/v1/schedules",
            auth=(sb.state.jsm.email, sb.state.jsm.api_token),
        ).json()
        assert len(first["values"]) == 20 and first["links"]["next"].startswith("/v1/schedules?")
        with _source(sb, sleep=fake_sleep) as src:
            assert len(src.list_schedules()) == len(ops.schedules)
            assert src.get_schedule(SCHEDULE).name == SCHEDULE
            assert src.on_call(SCHEDULE, DEFAULT_ANCHOR - timedelta(days=1)).people
