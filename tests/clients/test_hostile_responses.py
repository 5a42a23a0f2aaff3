"""Broken and hostile answers from every alert source: a clear error or a skipped record, never a hang.
Each vendor's own (a cursor or page number that does not move) are in tests/sources/<name>/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from oncall.clients.http import ApiClient, RetryPolicy
from oncall.errors import MalformedError, UnavailableError
from oncall.models import AlertQuery
from oncall.sandbox.server import Sandbox
from oncall.sources import DEFAULT_SOURCE, REGISTRY, SOURCE_NAMES, AlertSource
from tests.conftest import FakeSleep
from tests.sources.helpers import source_with_sleep

# Each source's alert list, as the sandbox serves it ("/opsgenie/v2/alerts").
PREFIX = {name: f"/{spec.fake.mount}{spec.fake.alerts_path}" for name, spec in REGISTRY.items()}


@pytest.fixture(params=SOURCE_NAMES)
def source(
    request: pytest.FixtureRequest, sandbox: Sandbox, fake_sleep: FakeSleep
) -> Iterator[tuple[str, AlertSource]]:
    src = source_with_sleep(sandbox, request.param, fake_sleep)
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


def test_a_huge_answer_is_refused_without_holding_it(sandbox: Sandbox) -> None:
    fake = REGISTRY[DEFAULT_SOURCE].fake
    sandbox.script(PREFIX[DEFAULT_SOURCE], 200, body=b'{"data": ["' + b"x" * 3_000_000 + b'"]}')
    with (
        ApiClient(
            system=REGISTRY[DEFAULT_SOURCE].title,
            base_url=sandbox.source_url(DEFAULT_SOURCE),
            credential_setting="S",
            max_response_bytes=1 << 20,
        ) as api,
        pytest.raises(MalformedError, match="larger than 1 MB"),
    ):
        api.get_json(fake.alerts_path, what="alerts")


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
