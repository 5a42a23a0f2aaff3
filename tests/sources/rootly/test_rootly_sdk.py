"""Rootly's official SDK (`rootly` on PyPI, `rootly_sdk`) parses every answer the fake gives.

Every request our RootlySource makes in a hand-off, a gap run and a COE is replayed through the
SDK's own HTTP client and parsed by the SDK's model for that endpoint, so the fake cannot answer
a shape the vendor's own client would refuse. The SDK's natural calls are driven too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from rootly_sdk import AuthenticatedClient
from rootly_sdk.api.alert_events import list_alert_events, list_alert_events_feed
from rootly_sdk.api.alerts import get_alert, list_alerts
from rootly_sdk.api.incident_events import list_incident_events
from rootly_sdk.api.incidents import get_incident, list_incidents
from rootly_sdk.api.on_calls import list_oncalls
from rootly_sdk.api.schedule_rotations import list_schedule_rotations
from rootly_sdk.api.schedules import list_schedules
from rootly_sdk.api.users import get_current_user
from rootly_sdk.types import Unset

from oncall.models import AlertQuery, TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from oncall.sources.rootly.client import RootlySource

WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)
SCHEDULE = "Primary On Call Schedule"
_ENDPOINTS: list[tuple[re.Pattern[str], ModuleType]] = [
    (re.compile(r"^/v1/alerts$"), list_alerts),
    (re.compile(r"^/v1/alerts/[^/]+$"), get_alert),
    (re.compile(r"^/v1/alerts/[^/]+/events$"), list_alert_events),
    (re.compile(r"^/v1/alert_events$"), list_alert_events_feed),
    (re.compile(r"^/v1/incidents$"), list_incidents),
    (re.compile(r"^/v1/incidents/[^/]+$"), get_incident),
    (re.compile(r"^/v1/incidents/[^/]+/events$"), list_incident_events),
    (re.compile(r"^/v1/schedules$"), list_schedules),
    (re.compile(r"^/v1/schedules/[^/]+/schedule_rotations$"), list_schedule_rotations),
    (re.compile(r"^/v1/oncalls$"), list_oncalls),
    (re.compile(r"^/v1/users/me$"), get_current_user),
]


@pytest.fixture
def sdk(sandbox: Sandbox) -> Iterator[AuthenticatedClient]:
    client = AuthenticatedClient(
        base_url=f"{sandbox.url}/rootly",
        token=sandbox.state.rootly.api_token,
        raise_on_unexpected_status=True,
    )
    with client:
        yield client


def _parse(sdk: AuthenticatedClient, path: str, query: str) -> Any:
    module = next((m for pattern, m in _ENDPOINTS if pattern.match(path)), None)
    assert module is not None, f"no SDK endpoint known for {path}"
    response = sdk.get_httpx_client().get(f"{path}?{query}" if query else path)
    assert response.status_code == 200, (path, response.text[:300])
    parsed = module._parse_response(client=sdk, response=response)  # the SDK's own parsing
    assert parsed is not None and type(parsed).__name__ != "ErrorsList", path
    return parsed


def test_every_request_the_client_makes_is_parsed_by_the_official_sdk(
    sandbox: Sandbox, sdk: AuthenticatedClient
) -> None:
    mark = len(sandbox.app.served)
    with RootlySource(sandbox.state.rootly.api_token, base_url=f"{sandbox.url}/rootly") as src:
        alerts = src.fetch_alerts(AlertQuery(created=WEEK))
        src.fetch_alerts(AlertQuery(created=WEEK, status="open"))
        src.get_alert(alerts[0].id)
        src.alert_timeline(alerts[0].id)
        incidents = src.fetch_incidents(WEEK)
        src.fetch_resolved_incidents(WEEK)
        src.get_incident(incidents[0].id)
        src.incident_timeline(incidents[0].id)
        src.get_schedule(SCHEDULE)
        src.on_call(SCHEDULE, DEFAULT_ANCHOR - timedelta(days=1))
        src.next_on_call(SCHEDULE, DEFAULT_ANCHOR - timedelta(days=1))
        src.check()
    calls = {
        (s.path.removeprefix("/rootly"), s.query) for s in sandbox.app.served[mark:] if s.system == "rootly"
    }
    kinds = {next(m.__name__ for p, m in _ENDPOINTS if p.match(path)) for path, _ in calls}
    assert len(kinds) == len(_ENDPOINTS)  # every endpoint the project reads was exercised
    for path, query in sorted(calls):
        _parse(sdk, path, query)


def test_system_alert_events_carry_no_user_and_the_sdk_reads_them(
    sandbox: Sandbox, sdk: AuthenticatedClient
) -> None:
    """The spec lists `user` as optional (not required) and nullable; the SDK reads only its absence."""
    events = [e for evs in sandbox.state.rootly.alert_events.values() for e in evs]
    alert_id = next(e["attributes"]["alert_id"] for e in events if e["attributes"]["source"] == "system")
    served = sdk.get_httpx_client().get(f"/v1/alerts/{alert_id}/events", params={"page[size]": 100}).json()
    system = [e for e in served["data"] if e["attributes"]["source"] == "system"]
    assert system and all("user" not in e["attributes"] for e in system)
    assert all(e["attributes"]["user"] for e in served["data"] if "user" in e["attributes"])
    parsed = list_alert_events.sync(alert_id, client=sdk, pagesize=100)
    assert parsed is not None and [e.id for e in parsed.data] == [e["id"] for e in served["data"]]
    assert all(isinstance(e.attributes.user, Unset) for e in parsed.data if e.id in {s["id"] for s in system})


def test_the_sdk_s_own_calls_are_answered(sandbox: Sandbox, sdk: AuthenticatedClient) -> None:
    state = sandbox.state.rootly
    page = list_alerts.sync(
        client=sdk,
        filtercreated_atgte=WEEK.start.isoformat(),
        filtercreated_atlt=WEEK.end.isoformat(),
        pagenumber=2,
        pagesize=50,
    )
    assert page is not None and len(page.data) == 50
    one = get_alert.sync(state.alerts[0]["id"], client=sdk)
    assert one is not None and one.data.id == state.alerts[0]["id"]
    feed = list_alert_events_feed.sync(client=sdk, pagesize=10)
    assert feed is not None and len(feed.data) == 10
    incidents = list_incidents.sync(client=sdk, pagesize=100)
    assert incidents is not None and {i.id for i in incidents.data} == {i["id"] for i in state.incidents}
    incident = state.incidents[0]["id"]
    assert get_incident.sync(incident, client=sdk) is not None
    assert list_incident_events.sync(incident, client=sdk) is not None
    schedules = list_schedules.sync(client=sdk)
    assert schedules is not None and {s.id for s in schedules.data} == {s["id"] for s in state.schedules}
    assert list_schedule_rotations.sync(state.schedules[0]["id"], client=sdk) is not None
    since = (DEFAULT_ANCHOR - timedelta(days=1)).isoformat()
    oncalls = list_oncalls.sync(client=sdk, since=since, until=since)
    assert oncalls is not None and oncalls.data
    me = get_current_user.sync(client=sdk)
    assert me is not None and me.data.id == str(state.me)
