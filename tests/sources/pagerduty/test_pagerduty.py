"""The PagerDuty client against the sandbox fake: the seeded week as OpsGenie tells it, paging
past the 10,000 cap, priorities or urgency, not-found, 401/403/429/5xx and hostile answers."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from oncall.errors import AuthError, MalformedError, NotFoundError, RateLimitedError, UnavailableError
from oncall.models import AlertQuery, Priority, TimeWindow
from oncall.retry import RetryPolicy
from oncall.sandbox.seed import DEFAULT_ANCHOR, seed_state, synthetic_state
from oncall.sandbox.server import Sandbox
from oncall.sources.opsgenie.client import OpsGenieSource
from oncall.sources.pagerduty import API_TOKEN, SOURCE
from oncall.sources.pagerduty.client import PagerDutySource
from oncall.sources.pagerduty.fake import CAP_TEXT
from oncall.sources.pagerduty.fake import State as PagerDutyState
from tests.conftest import FakeSleep
from tests.sources.helpers import source_from_env

WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)
SCHEDULE = "Primary On Call Schedule"


def _pd(sb: Sandbox) -> PagerDutyState:
    state: PagerDutyState = sb.state.sources["pagerduty"]
    return state


def _client(sb: Sandbox, **kw: object) -> PagerDutySource:
    return PagerDutySource(_pd(sb).api_token, base_url=f"{sb.url}/pagerduty", **kw)  # type: ignore[arg-type]


@pytest.fixture
def source(sandbox: Sandbox, fake_sleep: FakeSleep) -> Iterator[PagerDutySource]:
    with _client(sandbox, sleep=fake_sleep) as src:
        yield src


@pytest.fixture
def own() -> Iterator[Sandbox]:
    """A seeded sandbox of its own, for tests that change the fake's state."""
    with Sandbox(seed_state(DEFAULT_ANCHOR)) as sb:
        yield sb


def test_the_seeded_week_reads_as_on_opsgenie(source: PagerDutySource, sandbox: Sandbox) -> None:
    og = sandbox.state.sources["opsgenie"]
    with OpsGenieSource(og.api_key, base_url=f"{sandbox.url}/opsgenie") as ops:
        expected = {a.id: a for a in ops.fetch_alerts(AlertQuery(created=WEEK))}
    alerts = source.fetch_alerts(AlertQuery(created=WEEK))
    assert [a.id for a in alerts] == sorted(expected, key=lambda i: (expected[i].created_at, i))
    for a in alerts:
        o = expected[a.id]
        assert (a.message, a.status, a.priority, a.created_at) == (
            o.message,
            o.status,
            o.priority,
            o.created_at,
        )
        assert (a.ack_after, a.acknowledged_by) == (o.ack_after, o.acknowledged_by), a.id
        assert (a.close_after, a.closed_by) == (o.close_after, o.closed_by), a.id
        assert a.count == 1 and a.tags == ()  # absent from PagerDuty, never made up
    assert any(a.ack_after for a in alerts) and any(a.close_after for a in alerts)
    p1 = source.fetch_alerts(AlertQuery(created=WEEK, priorities=(Priority.P1,)))
    assert p1 and {a.id for a in p1} == {i for i, o in expected.items() if o.priority is Priority.P1}
    still_open = source.fetch_alerts(AlertQuery(status="open", created_before=WEEK.start))
    with OpsGenieSource(og.api_key, base_url=f"{sandbox.url}/opsgenie") as ops:
        assert [a.id for a in still_open] == [
            a.id for a in ops.fetch_alerts(AlertQuery(status="open", created_before=WEEK.start))
        ]
    assert SOURCE.lacks.keys() == {"dedup count", "tags"}


def test_an_alert_read_adds_its_alerts_dedup_key_and_details(
    source: PagerDutySource, sandbox: Sandbox
) -> None:
    [listed] = [a for a in source.fetch_alerts(AlertQuery(created=WEEK)) if a.close_after][:1]
    assert listed.details is None  # a list holds no alert bodies
    alert = source.get_alert(listed.id)
    raw = next(a for a in sandbox.state.sources["opsgenie"].alerts if a["id"] == listed.id)
    assert alert.alias == raw["alias"] and alert.details == raw["details"]
    assert alert.description == raw["description"] and alert.ack_after == listed.ack_after
    timeline = source.alert_timeline(listed.id)
    assert timeline[0].kind == "trigger" and "resolve" in [e.kind for e in timeline]
    assert source.get_alert(f"#{listed.tiny_id}").id == listed.id


def test_major_incidents_timeline_schedules_and_on_call(source: PagerDutySource) -> None:
    incidents = {i.id: i for i in source.fetch_incidents(WEEK)}
    assert set(incidents) == {"inc-7f3a-0001", "inc-7f3a-0002", "inc-7f3a-0003"}  # no page is one
    long = incidents["inc-7f3a-0001"]
    assert long.priority is Priority.P1 and long.duration == timedelta(minutes=47)
    assert long.status == "closed" and long.tiny_id == "101" and long.impacted_services == ("svc-xpro",)
    assert incidents["inc-7f3a-0003"].resolved_at is None and incidents["inc-7f3a-0003"].status == "open"
    assert source.get_incident("101") == source.get_incident("inc-7f3a-0001") == long
    timeline = source.incident_timeline("inc-7f3a-0001")
    assert [e.text for e in timeline][-1] == "Incident closed" and timeline == sorted(
        timeline, key=lambda e: e.at
    )
    assert timeline[0].kind == "trigger" and timeline[0].actor == "dana.okafor@example.edu"
    assert {i.id for i in source.fetch_resolved_incidents(WEEK)} == {"inc-7f3a-0001", "inc-7f3a-0002"}
    schedule = source.get_schedule(SCHEDULE)
    assert schedule.timezone == "America/New_York" and [r.unit for r in schedule.rotations] == ["weekly"] * 2
    assert "alice.ng@example.edu" in schedule.rotations[0].participants
    thursday_night = DEFAULT_ANCHOR - timedelta(days=4, hours=10)  # the override
    assert source.on_call(SCHEDULE, thursday_night).names == "emil.varga@example.edu"
    assert source.next_on_call(SCHEDULE, DEFAULT_ANCHOR).people
    with pytest.raises(NotFoundError, match=r"schedule 'Nope' was not found .*Primary On Call Schedule"):
        source.on_call("Nope", DEFAULT_ANCHOR)


def test_users_are_resolved_by_id_once(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    before = sandbox.app.count("pagerduty", path_prefix="/pagerduty/users/")
    with _client(sandbox, sleep=fake_sleep) as src:
        src.fetch_alerts(AlertQuery(created=WEEK))
        src.fetch_incidents(WEEK)
    reads = sandbox.app.count("pagerduty", path_prefix="/pagerduty/users/") - before
    assert 1 <= reads <= len(_pd(sandbox).users)


def test_not_found_names_what_was_asked(source: PagerDutySource) -> None:
    with pytest.raises(NotFoundError, match=r"incident nope was not found \(HTTP 404: Not Found\)"):
        source.get_incident("nope")
    with pytest.raises(NotFoundError):
        source.get_alert("999999")


def test_an_account_without_priorities_ranks_by_urgency(own: Sandbox) -> None:
    _pd(own).priorities = []
    with _client(own) as src:
        alerts = src.fetch_alerts(AlertQuery(created=WEEK))
    high = {i["id"] for i in _pd(own).incidents if i["urgency"] == "high"}
    assert alerts and {a.id for a in alerts if a.priority is Priority.P1} == high - {
        "inc-7f3a-0001",
        "inc-7f3a-0002",
        "inc-7f3a-0003",
    }
    assert {a.priority for a in alerts} == {Priority.P1, Priority.P3}
    _pd(own).fail.append(("/priorities", 402))  # no priorities ability at all
    with _client(own) as src:
        assert {a.priority for a in src.fetch_alerts(AlertQuery(created=WEEK))} == {Priority.P1, Priority.P3}


def test_priorities_with_their_own_names_rank_by_their_order(own: Sandbox) -> None:
    state = _pd(own)
    names = ["SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5"]
    for p, name in zip(state.priorities, names, strict=True):
        p["name"] = p["summary"] = name
    for inc in state.incidents:
        if inc.get("priority"):
            inc["priority"]["summary"] = names[int(inc["priority"]["id"][-1]) - 1]
    with _client(own) as src:
        incidents = {i.id: i for i in src.fetch_incidents(WEEK)}
    assert (
        incidents["inc-7f3a-0001"].priority is Priority.P1
        and incidents["inc-7f3a-0002"].priority is Priority.P2
    )


def test_bad_token_names_the_setting_and_hides_the_token(sandbox: Sandbox) -> None:
    with (
        PagerDutySource("pagerduty-canary-token-5e1d", base_url=f"{sandbox.url}/pagerduty") as src,
        pytest.raises(AuthError) as caught,
    ):
        src.check()
    text = str(caught.value)
    assert "ONCALL_PAGERDUTY_API_TOKEN" in text and "HTTP 401: Authentication failed" in text
    assert "canary" not in text and caught.value.status == 401


def test_403_is_an_auth_error_naming_the_setting(own: Sandbox) -> None:
    _pd(own).fail.append(("/incidents", 403))
    with (
        _client(own) as src,
        pytest.raises(AuthError, match=r"HTTP 403: Access Denied.*ONCALL_PAGERDUTY_API_TOKEN"),
    ):
        src.fetch_incidents(WEEK)


def test_429_waits_for_the_rate_limit_reset(own: Sandbox, fake_sleep: FakeSleep) -> None:
    _pd(own).throttle = 2
    with _client(own, sleep=fake_sleep) as src:
        assert src.fetch_incidents(WEEK)
    throttled = [s for s in own.app.served if s.status == 429]
    assert len(throttled) == 2 and _pd(own).throttle == 0
    # ratelimit-reset said 1 s: every wait (the retry's and the client-wide hold's) is at most that
    assert fake_sleep.calls and max(fake_sleep.calls) <= 1.0


def test_429_that_never_ends_is_rate_limited(own: Sandbox, fake_sleep: FakeSleep) -> None:
    _pd(own).throttle = 100
    with (
        _client(own, sleep=fake_sleep, retry=RetryPolicy(attempts=3)) as src,
        pytest.raises(RateLimitedError, match="still rate limited after 3 tries"),
    ):
        src.check()


def test_5xx_is_retried_then_unavailable(own: Sandbox, fake_sleep: FakeSleep) -> None:
    _pd(own).fail += [("/schedules", 503), ("/schedules", 500)]
    with _client(own, sleep=fake_sleep) as src:
        assert src.get_schedule(SCHEDULE).name == SCHEDULE
    assert len(fake_sleep.calls) == 2
    _pd(own).fail += [("/users/me", 502)] * 3
    with (
        _client(own, sleep=fake_sleep, retry=RetryPolicy(attempts=3)) as src,
        pytest.raises(UnavailableError, match=r"HTTP 502 \(Internal Error\)"),
    ):
        src.check()


def test_an_account_key_checks_without_a_user(own: Sandbox) -> None:
    _pd(own).me = None  # an account-level key has no user: /users/me is a 400
    with _client(own) as src:
        assert f"token accepted (an account key), {len(_pd(own).services)} service(s) visible" in src.check()
    _pd(own).me = "PUALICE"
    _pd(own).fail.append(("/users/me", 403))  # or a 403, as some keys get
    with _client(own) as src:
        assert f"token accepted (an account key), {len(_pd(own).services)} service(s) visible" in src.check()
        assert (
            f"token accepted (user alice.ng@example.edu), {len(_pd(own).services)} service(s)" in src.check()
        )


def _answer(body: object, status: int = 200) -> httpx.Response:
    """JSON as a vendor may send it: a lone surrogate is a valid JSON escape (`\\ud800`)."""
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def _replay(incidents: list[dict[str, object]]) -> httpx.MockTransport:
    """A PagerDuty that lists `incidents` and nothing else (no priorities, no log entries)."""

    def reply(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/incidents":
            q = parse_qs(urlsplit(str(request.url)).query)
            if q.get("total") == ["true"]:
                return _answer(
                    {
                        "incidents": incidents[:1],
                        "limit": 1,
                        "offset": 0,
                        "more": True,
                        "total": len(incidents),
                    }
                )
            return _answer({"incidents": incidents, "limit": 100, "offset": 0, "more": False, "total": None})
        return _answer(
            {path.strip("/").split("/")[0]: [], "limit": 100, "offset": 0, "more": False, "total": 0}
        )

    return httpx.MockTransport(reply)


def _incident(n: int, **kw: object) -> dict[str, object]:
    return {
        "id": f"PINC{n}",
        "incident_number": n,
        "title": f"page {n}",
        "status": "triggered",
        "urgency": "high",
        "created_at": "2026-11-20T00:00:00Z",
        **kw,
    }


def test_hostile_text_is_kept_as_text_and_bad_records_are_named(caplog: pytest.LogCaptureFixture) -> None:
    hostile = "<script>alert(1)</script> **bold** {{placeholder}} | pipe \ud800 lone " + "x" * 20_000
    incidents = [_incident(1, title=hostile), _incident(2), _incident(3), _incident(4, status="exploded")]
    with (
        PagerDutySource("t", base_url="https://pd.test", transport=_replay(incidents)) as src,
        caplog.at_level(logging.WARNING),
    ):
        alerts = src.fetch_alerts(AlertQuery(created=WEEK))
    assert [a.id for a in alerts] == ["PINC1", "PINC2", "PINC3"]
    assert alerts[0].message.startswith("<script>") and "\ud800" not in alerts[0].message  # valid Unicode
    assert "incident PINC4: ValueError: status 'exploded' is not triggered" in caplog.text
    broken = [_incident(1, created_at="yesterday"), _incident(2, title=None), _incident(3)]
    with (
        PagerDutySource("t", base_url="https://pd.test", transport=_replay(broken)) as src,
        pytest.raises(MalformedError, match=r"incident PINC1"),
    ):
        src.fetch_alerts(AlertQuery(created=WEEK))


def test_an_answer_not_in_pagerdutys_shape_is_malformed() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"incidents": "nope", "total": 3})

    with (
        PagerDutySource("t", base_url="https://pd.test", transport=httpx.MockTransport(reply)) as src,
        pytest.raises(MalformedError, match=r"response has no 'incidents' list"),
    ):
        src.fetch_incidents(WEEK)


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    """25,000 pages in a week: past the 10,000 that offsets reach."""
    with Sandbox(synthetic_state(25_000, WEEK.start, WEEK.end)) as sb:
        yield sb


def test_the_fake_refuses_offsets_past_the_cap_as_pagerduty_does(big: Sandbox) -> None:
    headers = {"Authorization": f"Token token={API_TOKEN}"}
    params: dict[str, str | int] = {
        "since": WEEK.start.isoformat(),
        "until": WEEK.end.isoformat(),
        "limit": 100,
    }
    ok = httpx.get(f"{big.url}/pagerduty/incidents", params={**params, "offset": 9_900}, headers=headers)
    assert ok.status_code == 200 and ok.json()["more"] is True
    refused = httpx.get(f"{big.url}/pagerduty/incidents", params={**params, "offset": 9_901}, headers=headers)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": {"message": "Arguments Caused Error", "code": 2002, "errors": [CAP_TEXT]}
    }
    assert refused.headers["ratelimit-limit"] == "960"


def test_fetches_past_the_offset_cap_by_splitting_the_window(big: Sandbox) -> None:
    before = len(big.app.served)
    with PagerDutySource(API_TOKEN, base_url=f"{big.url}/pagerduty", concurrency=4) as src:
        alerts = src.fetch_alerts(AlertQuery(created=WEEK))
    assert len({a.id for a in alerts}) == 25_000 and all(a.ack_after == timedelta(minutes=1) for a in alerts)
    served = list(big.app.served)[before:]
    listed = [s for s in served if s.path == "/pagerduty/incidents"]
    windows = {(q["since"][0], q["until"][0]) for s in listed if (q := parse_qs(s.query))}
    assert len(windows) >= 3  # split by creation time: no sub-window holds more than the cap
    offsets = [int(parse_qs(s.query).get("offset", ["0"])[0]) for s in listed]
    assert max(offsets) + 100 <= 10_000 and all(s.status == 200 for s in served)
    assert 250 <= sum(1 for s in listed if "limit=100" in s.query) <= 262  # 250 full pages, little more


def test_the_source_spec_points_the_sandbox_at_the_fake(sandbox: Sandbox) -> None:
    env = SOURCE.fake.env(_pd(sandbox), f"{sandbox.url}/pagerduty")
    assert env == {
        "ONCALL_PAGERDUTY_BASE_URL": f"{sandbox.url}/pagerduty",
        "ONCALL_PAGERDUTY_API_TOKEN": API_TOKEN,
    }
    headers, body = SOURCE.fake.error(429)
    assert headers["ratelimit-remaining"] == "0" and body["error"]["code"] == 2020
    state = copy.deepcopy(_pd(sandbox))
    assert json.dumps(state.incidents)  # the fake's state is plain JSON


def test_settings_build_the_client_the_registry_names(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source_from_env(
        sandbox, monkeypatch, "pagerduty", ONCALL_PAGERDUTY_INCIDENT_TYPE="incident_default"
    )
    try:
        assert isinstance(src, PagerDutySource) and src.incident_type == "incident_default"
        # the routine pages are now the incidents, and the major ones the alerts
        assert {a.id for a in src.fetch_alerts(AlertQuery(created=WEEK))} == {
            "inc-7f3a-0001",
            "inc-7f3a-0002",
            "inc-7f3a-0003",
        }
        assert f"(user alice.ng@example.edu), {len(_pd(sandbox).services)} service(s) visible" in src.check()
    finally:
        src.close()
