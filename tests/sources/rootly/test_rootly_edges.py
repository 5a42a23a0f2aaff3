"""Rootly's own edges against its fake: a sequential id through the documented filter, a page
number that does not move, dropped connections. Moved from the shared lookup and hostile-response tests."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import timedelta

import pytest

from oncall.errors import MalformedError
from oncall.models import TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tests.conftest import FakeSleep
from tests.sources.helpers import source_from_env, source_with_sleep

WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)


def test_rootly_finds_a_sequential_id_by_the_documented_filter(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /v1/incidents/{id} takes a UUID or a slug (the spec); a number goes through
    `filter[sequential_id]` on the list, which the spec documents."""
    mark = len(sandbox.app.served)
    with closing(source_from_env(sandbox, monkeypatch, "rootly")) as source:
        assert source.get_incident("101").tiny_id == "101"
    asked = [s for s in sandbox.app.served[mark:] if s.path.startswith("/rootly/v1/incidents")]
    assert [s.path for s in asked] == ["/rootly/v1/incidents"] and "filter%5Bsequential_id%5D=101" in asked[
        0
    ].query


def test_a_page_number_that_does_not_move_stops_with_an_error(
    sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    stuck = json.dumps({"data": [], "meta": {"next_page": 1, "total_count": 9}}).encode()
    sandbox.script("/rootly/v1/incidents", 200, body=stuck, times=100)
    before = sandbox.app.count("rootly", path_prefix="/rootly/v1/incidents")  # the session's sandbox
    with (
        closing(source_with_sleep(sandbox, "rootly", fake_sleep)) as src,
        pytest.raises(MalformedError, match="does not move"),
    ):
        src.fetch_incidents(WEEK)
    assert sandbox.app.count("rootly", path_prefix="/rootly/v1/incidents") - before == 1


def test_dropped_connections_are_retried(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    # Three in ten answers drop: twenty answered whole has odds of 1 in 1,250, and one request
    # dropped on all its tries 1 in 70 (a reseeded sandbox makes the run repeat either way).
    sandbox.app.reseed()
    sandbox.faults("rootly", rate_drop=0.3)
    before = len(sandbox.app.served)
    with closing(source_with_sleep(sandbox, "rootly", fake_sleep)) as src:
        for _ in range(20):  # one request each
            assert len(src.fetch_incidents(WEEK)) == 3
    drops = sum(s.status == -1 for s in sandbox.app.served[before:])
    assert drops >= 1 and len(fake_sleep.calls) >= drops
