"""The in-memory source answers as the HTTP client does, on the same seeded week.

MemorySource stands in for a source in the fast flow tests, so it must not be kinder than the
clients: each answer here is compared with the OpsGenie client's, read over HTTP from the
sandbox's fake of the same week (queries, windows, not-found errors, on-call turns), and the
hand-off built from each is the same, number for number.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from typing import Any

import pytest

from oncall.clock import BusinessHours
from oncall.errors import NotFoundError
from oncall.handoff import ShiftContext, summarize_shift
from oncall.handoff_render import render_markdown, render_slack
from oncall.models import AlertQuery, Priority, TimeWindow
from oncall.sandbox.memory import MemorySource
from oncall.sandbox.seed import DEFAULT_ANCHOR, SCHEDULE
from oncall.sandbox.server import Sandbox
from oncall.settings import load_settings
from oncall.sources import REGISTRY, AlertSource, build_source

NEEDS_PREFECT = False  # no flow runs here: tests/flows/conftest.py starts no server for it

WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)
DAY = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=1), end=DEFAULT_ANCHOR)
NAME = SCHEDULE["name"]


@pytest.fixture(scope="module")
def memory() -> MemorySource:
    return MemorySource.seeded(DEFAULT_ANCHOR)


@pytest.fixture
def http(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertSource]:
    """The OpsGenie client on the sandbox's fake of the same week."""
    for key, value in sandbox.source_env("opsgenie").items():
        monkeypatch.setenv(key, value)
    with closing(build_source(load_settings(layers=[]))) as source:
        yield source


def test_it_is_an_alert_source(memory: MemorySource) -> None:
    assert isinstance(memory, AlertSource)
    assert len(memory.fetch_alerts(AlertQuery(created=WEEK))) > 100


QUERIES = {
    "the week": AlertQuery(created=WEEK),
    "a day": AlertQuery(created=DAY),
    "open before the day": AlertQuery(status="open", created_before=DAY.start),
    "closed P1/P2 changed in the day": AlertQuery(
        status="closed", priorities=(Priority.P1, Priority.P2), updated=DAY
    ),
    "a tag": AlertQuery(created=WEEK, tags=("incident-101",)),
    "two tags": AlertQuery(created=WEEK, tags=("pingdom", "p1")),
    "P4 or P5": AlertQuery(created=WEEK, priorities=(Priority.P4, Priority.P5)),
    "nothing": AlertQuery(created=WEEK, tags=("no-such-tag",)),
}


@pytest.mark.parametrize("name", QUERIES)
def test_alert_queries_answer_as_the_client(memory: MemorySource, http: AlertSource, name: str) -> None:
    """The same alerts, field for field (a list answer without description and details), in the
    same order."""
    want = http.fetch_alerts(QUERIES[name])
    assert memory.fetch_alerts(QUERIES[name]) == want
    if name != "nothing":
        assert want, f"{name}: the query should find alerts in the seeded week"


def test_alerts_and_their_timelines_read_one_by_one(memory: MemorySource, http: AlertSource) -> None:
    listed = http.fetch_alerts(AlertQuery(created=DAY))
    assert all(a.description is None and a.details is None for a in listed)
    for alert in listed[:5] + listed[-5:]:
        full = http.get_alert(alert.id)
        assert full.description is not None
        assert memory.get_alert(alert.id) == full
        assert memory.get_alert(f"#{alert.tiny_id}") == full
        assert memory.alert_timeline(alert.id) == http.alert_timeline(alert.id)


def test_incidents_answer_as_the_client(memory: MemorySource, http: AlertSource) -> None:
    assert memory.fetch_incidents(WEEK) == http.fetch_incidents(WEEK)
    assert [i.id for i in memory.fetch_incidents(WEEK)] == ["inc-7f3a-0002", "inc-7f3a-0001", "inc-7f3a-0003"]
    for window in (WEEK, DAY, TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=3), end=DEFAULT_ANCHOR)):
        assert memory.fetch_resolved_incidents(window) == http.fetch_resolved_incidents(window)
    for incident in http.fetch_incidents(WEEK):
        assert memory.get_incident(incident.id) == http.get_incident(incident.id)
        assert memory.get_incident(f"#{incident.tiny_id}") == http.get_incident(f"#{incident.tiny_id}")
        assert memory.incident_timeline(incident.id) == http.incident_timeline(incident.id)
    long = memory.get_incident("inc-7f3a-0001")
    assert long.duration == timedelta(minutes=47)


def test_schedules_and_who_is_on_call_answer_as_the_client(memory: MemorySource, http: AlertSource) -> None:
    assert memory.list_schedules() == http.list_schedules()
    assert memory.get_schedule(NAME) == http.get_schedule(NAME)
    # Each hour of the week, the Thursday override among them.
    instants = [WEEK.start + timedelta(hours=h) for h in range(0, 7 * 24, 5)] + [WEEK.end]
    for at in instants:
        assert memory.on_call(NAME, at) == http.on_call(NAME, at), at
        assert memory.next_on_call(NAME, at) == http.next_on_call(NAME, at), at
    names = {memory.on_call(NAME, at).names for at in instants}
    assert "emil.varga@example.edu" in names  # the override's


@pytest.mark.parametrize(
    ("read", "ref"),
    [
        ("get_alert", "no-such-alert"),
        ("get_alert", "#999999"),
        ("alert_timeline", "no-such-alert"),
        ("get_incident", "inc-none"),
        ("get_incident", "#999"),
        ("incident_timeline", "inc-none"),
        ("get_schedule", "No Such Schedule"),
    ],
)
def test_what_it_does_not_hold_is_not_found_as_on_the_client(
    memory: MemorySource, http: AlertSource, read: str, ref: str
) -> None:
    with pytest.raises(NotFoundError):
        getattr(http, read)(ref)
    with pytest.raises(NotFoundError, match=ref.removeprefix("#")):
        getattr(memory, read)(ref)


def test_on_call_for_an_unknown_schedule_is_not_found(memory: MemorySource, http: AlertSource) -> None:
    for source in (http, memory):
        for ask in (source.on_call, source.next_on_call):
            with pytest.raises(NotFoundError):
                ask("No Such Schedule", DEFAULT_ANCHOR)


@pytest.mark.parametrize("name", [n for n, spec in REGISTRY.items() if spec.lacks])
def test_like_a_source_it_lacks_what_that_source_lacks(name: str) -> None:
    """`like` a source, the models hold nothing that source does not record."""
    lacks = REGISTRY[name].lacks
    source = MemorySource.seeded(DEFAULT_ANCHOR, like=name)
    assert source.name == name and set(source.lacks) == set(lacks)
    alerts = source.fetch_alerts(AlertQuery(created=WEEK))
    full = MemorySource.seeded(DEFAULT_ANCHOR).fetch_alerts(AlertQuery(created=WEEK))
    assert [a.id for a in alerts] == [a.id for a in full]
    if "priority" in lacks:
        assert {a.priority for a in alerts} == {None}
        assert {i.priority for i in source.fetch_incidents(WEEK)} == {None}
        assert source.fetch_alerts(AlertQuery(created=WEEK, priorities=(Priority.P1,))) == []
    if "dedup count" in lacks:
        assert {a.count for a in alerts} == {1} and max(a.count for a in full) > 1
    if "tags" in lacks:
        assert {a.tags for a in alerts} == {()} and {i.tags for i in source.fetch_incidents(WEEK)} == {()}


def test_a_lack_it_cannot_show_is_refused() -> None:
    with pytest.raises(ValueError, match="'escalations'"):
        MemorySource(MemorySource.seeded().week, lacks=("escalations",))


def test_it_records_what_it_was_asked_and_fails_when_told(memory: MemorySource) -> None:
    source = MemorySource(memory.week)
    source.fetch_alerts(AlertQuery(created=DAY))
    source.get_alert(source.fetch_alerts(AlertQuery(created=DAY))[0].id)
    assert source.calls == {"fetch_alerts": 2, "get_alert": 1}
    source.failing["fetch_incidents"] = NotFoundError("Memory", "incidents were not found")
    with pytest.raises(NotFoundError, match="incidents were not found"):
        source.fetch_incidents(DAY)


def _handoff(source: AlertSource, window: TimeWindow) -> tuple[Any, str, dict[str, Any]]:
    """The hand-off as shift-handoff gathers and decides it (its reads, then summarize_shift)."""
    ctx = ShiftContext(
        schedule=NAME,
        window=window,
        timezone="America/New_York",
        business_hours=BusinessHours.parse("Mon-Fri 09:00-17:00"),
    )
    summary = summarize_shift(
        ctx,
        source.fetch_alerts(AlertQuery(created=window)),
        source.fetch_alerts(AlertQuery(status="open", created_before=window.start)),
        source.fetch_incidents(window),
        source.on_call(NAME, window.end - timedelta(seconds=1)),
        source.on_call(NAME, window.end),
    )
    return summary, render_markdown(summary), render_slack(summary)


@pytest.mark.parametrize("window", [WEEK, DAY], ids=["week", "day"])
def test_the_hand_off_is_the_same_from_memory_and_over_http(
    memory: MemorySource, http: AlertSource, window: TimeWindow
) -> None:
    """Every number of the hand-off (alerts, kinds, still open, escalated, incidents, MTTA, MTTR,
    after hours) and every line of its markdown and Slack message."""
    summary, markdown, slack = _handoff(memory, window)
    want_summary, want_markdown, want_slack = _handoff(http, window)
    assert summary.alerts == want_summary.alerts > 10
    assert len(summary.incidents) == len(want_summary.incidents)
    assert summary == want_summary
    assert markdown == want_markdown and slack == want_slack
