"""PagerDuty's official Python client (`pagerduty` on PyPI, formerly pdpyras) driving the fake.

The client insists on an https base URL, so it keeps `https://api.pagerduty.com` and a transport
carries its requests to the sandbox's `/pagerduty` mount: what it sends and how it reads the
answers (paging, `more`, its 10,000-record stop, errors, 429 retries) are the real client's.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta

import httpx2
import pagerduty
import pytest

from oncall.sandbox.seed import DEFAULT_ANCHOR, synthetic_state
from oncall.sandbox.server import Sandbox
from oncall.sources.pagerduty import API_TOKEN
from oncall.sources.pagerduty.fake import CAP_TEXT
from oncall.sources.pagerduty.fake import State as PagerDutyState

WEEK = (DEFAULT_ANCHOR - timedelta(days=7)).isoformat(), DEFAULT_ANCHOR.isoformat()


class ToSandbox(httpx2.BaseTransport):
    """Sends what the client addresses to api.pagerduty.com to the sandbox's PagerDuty fake."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.base = httpx2.URL(f"{sandbox.url}/pagerduty")
        self.inner = httpx2.HTTPTransport()
        self.paths: list[str] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url.host == "api.pagerduty.com"
        self.paths.append(request.url.path)
        request.url = request.url.copy_with(
            scheme=self.base.scheme,
            host=self.base.host,
            port=self.base.port,
            path=self.base.path + request.url.path,
        )
        request.headers["host"] = f"{self.base.host}:{self.base.port}"
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


_OPEN: list[pagerduty.RestApiV2Client] = []


def _client(sandbox: Sandbox, token: str = API_TOKEN) -> tuple[pagerduty.RestApiV2Client, ToSandbox]:
    transport = ToSandbox(sandbox)
    client = pagerduty.RestApiV2Client(token, transport=transport)
    client.sleep_timer = 0.0  # its 429 cool-down, so the test does not wait
    client.sleep_timer_base = 0
    _OPEN.append(client)
    return client, transport


@pytest.fixture(autouse=True)
def _closed() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


@pytest.fixture
def sdk(sandbox: Sandbox) -> pagerduty.RestApiV2Client:
    return _client(sandbox)[0]


def _answer(caught: pytest.ExceptionInfo[pagerduty.HttpError]) -> httpx2.Response:
    response = caught.value.response
    assert isinstance(response, httpx2.Response)
    return response


def _state(sb: Sandbox) -> PagerDutyState:
    state: PagerDutyState = sb.state.sources["pagerduty"]
    return state


def test_the_official_client_lists_and_reads_the_seeded_week(
    sdk: pagerduty.RestApiV2Client, sandbox: Sandbox
) -> None:
    since, until = WEEK
    incidents = sdk.list_all("incidents", params={"since": since, "until": until})
    inside = [i for i in _state(sandbox).incidents if since <= i["created_at"].replace("Z", "+00:00") < until]
    assert [i["id"] for i in incidents] == [i["id"] for i in inside] and len(
        incidents
    ) > 100  # paged by `more`
    assert sdk.get_total("incidents", params={"since": since, "until": until}) == len(inside)
    long = sdk.rget("incidents/inc-7f3a-0001")
    assert isinstance(long, dict) and long["incident_type"]["name"] == "major_incident"
    assert long["priority"]["summary"] == "P1" and long["status"] == "resolved"
    entries = sdk.list_all("incidents/inc-7f3a-0001/log_entries")
    assert entries[0]["type"] == "trigger_log_entry" and "resolve_log_entry" in {e["type"] for e in entries}
    assert [p["name"] for p in sdk.list_all("priorities")] == ["P1", "P2", "P3", "P4", "P5"]
    schedule = sdk.find("schedules", "Primary On Call Schedule", attribute="name")
    assert schedule is not None
    oncalls = sdk.list_all(
        "oncalls",
        params={
            "schedule_ids[]": [schedule["id"]],
            "since": "2026-11-20T05:00:00Z",
            "until": "2026-11-20T05:00:00Z",
        },
    )
    user = sdk.rget(f"users/{oncalls[0]['user']['id']}")
    assert isinstance(user, dict) and user["email"] == "emil.varga@example.edu"  # the override


def test_the_official_client_reads_pagerdutys_errors(sandbox: Sandbox) -> None:
    client, _ = _client(sandbox, token="pagerduty-canary-token-0c4f")
    with pytest.raises(pagerduty.HttpError) as caught:
        client.rget("incidents/inc-7f3a-0001")
    assert _answer(caught).status_code == 401
    assert _answer(caught).json()["error"] == {"message": "Authentication failed", "code": 2006}
    client, _ = _client(sandbox)
    with pytest.raises(pagerduty.HttpError) as missing:
        client.rget("incidents/nope")
    assert _answer(missing).status_code == 404 and _answer(missing).json()["error"]["code"] == 2100


def test_the_official_client_retries_a_429_until_it_passes(sandbox: Sandbox) -> None:
    client, transport = _client(sandbox)
    _state(sandbox).throttle = 2
    try:
        assert client.rget("abilities") == ["teams", "urgencies", "incident_types"]
    finally:
        _state(sandbox).throttle = 0
    assert transport.paths.count("/abilities") == 3


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    """12,000 pages in a week: past the 10,000 that classic paging reaches."""
    start = DEFAULT_ANCHOR - timedelta(days=7)
    with Sandbox(synthetic_state(12_000, start, DEFAULT_ANCHOR)) as sb:
        yield sb


def test_the_fakes_cap_is_where_the_official_client_stops(big: Sandbox) -> None:
    client, transport = _client(big)
    since, until = WEEK
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = list(client.iter_all("incidents", params={"since": since, "until": until}))
    assert len(got) == 10_000 and any("exceeds the maximum permitted" in str(w.message) for w in caught)
    assert transport.paths.count("/incidents") == 100  # 100 full pages, not one refused
    with pytest.raises(pagerduty.HttpError) as refused:
        client.jget("incidents", params={"since": since, "until": until, "limit": 100, "offset": 10_000})
    assert _answer(refused).status_code == 400
    assert _answer(refused).json()["error"]["errors"] == [CAP_TEXT]
