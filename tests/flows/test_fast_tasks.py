"""The alert tasks' own logic, on the in-memory source through the wiring seam: `task.fn()`, no
Prefect server, no HTTP.

What is under test is what the tasks decide (which alerts to read once more, what a failed read
leaves out), not how the clients speak HTTP: tests/clients covers that against the fakes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prefect.logging import disable_run_logger

from oncall.errors import UnavailableError
from oncall.kinds import alert_kind
from oncall.models import Alert, AlertQuery, TimelineEntry, TimeWindow
from oncall.sandbox.memory import MemorySource, MemoryWeek, seeded_week
from oncall.sandbox.seed import DEFAULT_ANCHOR, SCHEDULE
from oncall.settings import Settings, load_settings
from tasks.alerts import (
    NOTE_CHARS,
    NOTES_PER_ALERT,
    fetch_alert_notes,
    fetch_alerts,
    fetch_incidents,
    fetch_on_call,
    fetch_resolved_incidents,
    fetch_runbook_links,
    fetch_schedule,
)
from tasks.clients import use_source

NEEDS_PREFECT = False  # task.fn() only: tests/flows/conftest.py starts no server for it

WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings that name a source nobody could reach: only the seam's source can answer."""
    monkeypatch.setenv("ONCALL_OPSGENIE_API_KEY", "never-sent-key")
    monkeypatch.setenv("ONCALL_OPSGENIE_BASE_URL", "http://127.0.0.1:9/opsgenie")
    monkeypatch.setenv("ONCALL_HTTP_ATTEMPTS", "1")
    return load_settings(layers=[])


@pytest.fixture
def memory() -> Iterator[MemorySource]:
    source = MemorySource(seeded_week(DEFAULT_ANCHOR))
    with use_source(source), disable_run_logger():
        yield source


def _samples(source: MemorySource) -> list[Alert]:
    """One alert per kind, as runbook-gaps picks them from a list answer."""
    seen: dict[str, Alert] = {}
    for alert in source.fetch_alerts(AlertQuery(created=WEEK)):
        seen.setdefault(alert_kind(alert.message), alert)
    return list(seen.values())


def test_the_read_tasks_answer_from_the_given_source(settings: Settings, memory: MemorySource) -> None:
    name, week = SCHEDULE["name"], AlertQuery(created=WEEK)
    want = (
        memory.get_schedule(name),
        memory.fetch_alerts(week),
        memory.fetch_incidents(WEEK),
        memory.fetch_resolved_incidents(WEEK),
        memory.on_call(name, WEEK.end),
    )
    memory.calls.clear()
    got = (
        fetch_schedule.fn(settings, name),
        fetch_alerts.fn(settings, week),
        fetch_incidents.fn(settings, WEEK),
        fetch_resolved_incidents.fn(settings, WEEK),
        fetch_on_call.fn(settings, name, WEEK.end),
    )
    assert got == want and len(want[1]) > 100
    assert set(memory.calls) == {
        "get_schedule",
        "fetch_alerts",
        "fetch_incidents",
        "fetch_resolved_incidents",
        "on_call",
    }


def test_a_sample_without_details_costs_one_alert_read_and_no_more(
    settings: Settings, memory: MemorySource
) -> None:
    samples = _samples(memory)
    assert len(samples) > 10 and all(s.details is None for s in samples)
    memory.calls.clear()
    fetch_runbook_links.fn(settings, samples + samples[:3])  # a sample twice is read once
    assert memory.calls == {"get_alert": len(samples)}


def test_a_sample_with_its_details_is_not_read_again(settings: Settings, memory: MemorySource) -> None:
    full = [memory.get_alert(s.id) for s in _samples(memory)]
    assert all(a.details is not None for a in full)
    memory.calls.clear()
    assert fetch_runbook_links.fn(settings, full) == {}  # the seeded alerts carry no runbook link
    assert memory.calls == {}


def test_runbook_links_read_from_the_details_the_list_left_out(settings: Settings) -> None:
    week = seeded_week(DEFAULT_ANCHOR)
    first, second = MemorySource(week).fetch_alerts(AlertQuery(created=WEEK))[:2]
    url = "https://wiki.example.edu/runbooks#disk"
    linked = dataclasses.replace(
        week,
        alerts=tuple(
            a.model_copy(update={"details": {"runbook_url": url}}) if a.id == first.id else a
            for a in week.alerts
        ),
    )
    source = MemorySource(linked)
    with use_source(source), disable_run_logger():
        links = fetch_runbook_links.fn(settings, source.fetch_alerts(AlertQuery(created=WEEK))[:2])
    assert links == {first.id: url} and second.id not in links
    assert source.calls["get_alert"] == 2


def test_a_failed_alert_read_leaves_its_link_out_and_the_task_goes_on(
    settings: Settings, memory: MemorySource
) -> None:
    memory.failing["get_alert"] = UnavailableError("Memory", "alert reads are down")
    assert fetch_runbook_links.fn(settings, _samples(memory)) == {}


def _with_notes(week: MemoryWeek, notes: dict[str, list[str]]) -> MemoryWeek:
    timelines = dict(week.alert_timelines)
    for alert_id, texts in notes.items():
        at = next(a.created_at for a in week.alerts if a.id == alert_id)
        timelines[alert_id] = timelines[alert_id] + tuple(
            TimelineEntry(
                at=at + timedelta(minutes=i + 1), origin="alert-note", kind="note", text=t, ref=alert_id
            )
            for i, t in enumerate(texts)
        )
    return dataclasses.replace(week, alert_timelines=timelines)


def test_notes_are_the_oldest_cut_to_size_and_an_unreadable_alert_has_none(settings: Settings) -> None:
    week = seeded_week(DEFAULT_ANCHOR)
    busy, quiet = week.alerts[0].id, week.alerts[1].id
    many = [f"note {i}" for i in range(NOTES_PER_ALERT + 5)]
    source = MemorySource(_with_notes(week, {busy: [" " + "x" * (NOTE_CHARS + 50) + " ", *many], quiet: []}))
    with use_source(source), disable_run_logger():
        notes = fetch_alert_notes.fn(settings, [busy, quiet, "no-such-alert", busy])
    assert list(notes) == [busy, quiet, "no-such-alert"]
    assert notes[busy][0] == "x" * NOTE_CHARS
    assert notes[busy][1:] == many[: NOTES_PER_ALERT - 1]
    assert notes[quiet] == [] and notes["no-such-alert"] == []
    assert source.calls["alert_timeline"] == 3  # each alert once, the repeated one too
