"""Broken and hostile answers from every alert source: a clear error or a skipped record, never a hang."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta

import httpx
import pytest

from oncall.clients.http import ApiClient, RetryPolicy
from oncall.clients.records import gc_paused, records_held
from oncall.errors import MalformedError, UnavailableError
from oncall.models import AlertQuery, TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from oncall.settings import Settings
from oncall.sources import REGISTRY, SOURCE_NAMES, AlertSource, build_source
from tests.conftest import FakeSleep

WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)
# Each source's alert list, as the sandbox serves it ("/opsgenie/v2/alerts").
PREFIX = {name: f"/{spec.fake.mount}{spec.fake.alerts_path}" for name, spec in REGISTRY.items()}


def _source(sandbox: Sandbox, name: str, sleep: FakeSleep) -> AlertSource:
    env = sandbox.source_env(name)
    settings = Settings(**{k.removeprefix("ONCALL_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    return build_source(settings, sleep=sleep)


@pytest.fixture(params=SOURCE_NAMES)
def source(
    request: pytest.FixtureRequest, sandbox: Sandbox, fake_sleep: FakeSleep
) -> Iterator[tuple[str, AlertSource]]:
    src = _source(sandbox, request.param, fake_sleep)
    yield request.param, src
    src.close()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"data": [{"message": "\xff\xfe broken"}], "values": [], "count": 1}', "not JSON"),
        (b"<html>502 from a proxy</html>", "not JSON"),
        (
            json.dumps({"data": "oops", "values": "oops", "count": 1, "meta": {"total_count": 1}}).encode(),
            "has no",
        ),
        (json.dumps({"took": 0}).encode(), "has no"),
    ],
    ids=["invalid-utf8", "html", "wrong-type", "missing-list"],
)
def test_a_broken_alert_list_is_a_clear_error(
    source: tuple[str, AlertSource], sandbox: Sandbox, body: bytes, problem: str
) -> None:
    name, src = source
    sandbox.script(PREFIX[name], 200, body=body, times=50)
    with pytest.raises(MalformedError, match=problem):
        src.fetch_alerts(AlertQuery(status="open"))


def test_endless_next_links_stop_with_an_error(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    alert = sandbox.state.jsm.ops.alerts[0]["id"]
    loop = json.dumps({"values": [], "links": {"next": f"/v1/alerts/{alert}/logs?after=x&size=100"}}).encode()
    sandbox.script(f"{PREFIX['jsm']}/{alert}/logs", 200, body=loop, times=100)
    before = sandbox.app.count("atlassian", path_prefix=f"{PREFIX['jsm']}/{alert}/logs")
    with (
        closing(_source(sandbox, "jsm", fake_sleep)) as src,
        pytest.raises(MalformedError, match="came back again"),
    ):
        src.alert_timeline(alert)
    assert sandbox.app.count("atlassian", path_prefix=f"{PREFIX['jsm']}/{alert}/logs") - before == 2


def test_a_page_number_that_does_not_move_stops_with_an_error(
    sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    stuck = json.dumps({"data": [], "meta": {"next_page": 1, "total_count": 9}}).encode()
    sandbox.script("/rootly/v1/incidents", 200, body=stuck, times=100)
    before = sandbox.app.count("rootly", path_prefix="/rootly/v1/incidents")  # the session's sandbox
    with (
        closing(_source(sandbox, "rootly", fake_sleep)) as src,
        pytest.raises(MalformedError, match="does not move"),
    ):
        src.fetch_incidents(WEEK)
    assert sandbox.app.count("rootly", path_prefix="/rootly/v1/incidents") - before == 1


def test_an_opsgenie_cursor_that_does_not_move_stops_with_an_error(
    sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    alert = sandbox.state.opsgenie.alerts[0]["id"]
    entries = [
        {
            "log": "x",
            "type": "system",
            "owner": "System",
            "createdAt": "2026-11-20T10:00:00Z",
            "offset": "same",
        }
    ]
    page = json.dumps({"data": entries * 100, "took": 0, "requestId": "r"}).encode()
    sandbox.script(f"/opsgenie/v2/alerts/{alert}/logs", 200, body=page, times=100)
    with (
        closing(_source(sandbox, "opsgenie", fake_sleep)) as src,
        pytest.raises(MalformedError, match="does not move"),
    ):
        src.alert_timeline(alert)


def test_a_huge_answer_is_refused_without_holding_it(sandbox: Sandbox) -> None:
    sandbox.script("/opsgenie/v2/schedules", 200, body=b'{"data": ["' + b"x" * 3_000_000 + b'"]}')
    with (
        ApiClient(
            system="OpsGenie",
            base_url=sandbox.opsgenie_url,
            credential_setting="S",
            max_response_bytes=1 << 20,
        ) as api,
        pytest.raises(MalformedError, match="larger than 1 MB"),
    ):
        api.get_json("/v2/schedules", what="schedules")


def test_an_answer_that_drips_forever_times_out_and_is_retried(fake_sleep: FakeSleep) -> None:
    class Drip(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            while True:
                time.sleep(0.02)
                yield b" "

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Drip())

    api = ApiClient(
        system="Rootly",
        base_url="http://drip.test",
        credential_setting="S",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=2),
        sleep=fake_sleep,
    )
    api.deadline = 0.2
    started = time.monotonic()
    with api, pytest.raises(UnavailableError, match="ReadTimeout"):
        api.get_json("/v1/alerts", what="alerts")
    assert time.monotonic() - started < 2 and len(fake_sleep.calls) == 1


def test_dropped_connections_are_retried(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    sandbox.faults("rootly", rate_drop=0.5)
    before = len(sandbox.app.served)
    with closing(_source(sandbox, "rootly", fake_sleep)) as src:
        for _ in range(20):  # one request each: all twenty answered whole has odds of one in a million
            assert len(src.fetch_incidents(WEEK)) == 3
    drops = sum(s.status == -1 for s in sandbox.app.served[before:])
    assert drops >= 1 and len(fake_sleep.calls) >= drops


def test_the_collector_pause_ends_with_the_last_of_overlapping_pauses() -> None:
    assert gc.isenabled()
    inner_started, outer_may_end = threading.Event(), threading.Event()

    def other_thread() -> None:
        with gc_paused():
            inner_started.set()
            outer_may_end.wait(5)

    with gc_paused():
        t = threading.Thread(target=other_thread)
        t.start()
        inner_started.wait(5)
    assert not gc.isenabled()  # the other thread's pause still holds
    outer_may_end.set()
    t.join()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector someone else turned off stays off
    finally:
        gc.enable()


def test_records_held_are_out_of_the_collectors_sight_until_the_flow_ends() -> None:
    def frozen(obj: object) -> bool:  # tracked, yet in none of the collector's generations
        return gc.is_tracked(obj) and not any(o is obj for o in gc.get_objects())

    with records_held():
        with gc_paused():
            records = [{"id": str(i)} for i in range(1000)]
        assert frozen(records) and gc.isenabled()
        with records_held():  # a second flow in the same process ends first
            pass
        assert frozen(records)
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # garbage made after the read is collected as usual
    assert not frozen(records) and gc.get_freeze_count() == 0  # handed back when the flow ends
