"""Flows on the in-memory source: the orchestration under the Prefect test server, without the
alert source's HTTP.

The source comes in through the wiring seam (`tasks.clients.use_source`), so a flow runs as it
does in production, each task taking the run's clients; only the alert source is the in-memory
week. GitHub, Slack and Google stay the sandbox's fakes. The end-to-end paths over HTTP are in
test_shift_handoff.py, test_runbook_gaps.py and test_sources.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.runbook_gaps import runbook_gaps
from flows.shift_handoff import shift_handoff
from oncall.errors import NotAvailableError, NotFoundError
from oncall.sandbox.memory import MemorySource, seeded_week
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tasks.clients import use_source

END = "2026-11-24T10:00"


@pytest.fixture
def env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path))
    monkeypatch.setenv("ONCALL_GITHUB_WRITE_INTERVAL", "0")
    return sandbox


@pytest.fixture
def memory(env: Sandbox) -> Iterator[MemorySource]:
    """The seeded week in memory, for every run the test makes; the OpsGenie fake must go unasked."""
    source = MemorySource(seeded_week(DEFAULT_ANCHOR))
    asked = env.app.count("opsgenie")
    with use_source(source):
        yield source
    assert env.app.count("opsgenie") == asked, "a run read the alert source over HTTP"


def test_the_hand_off_from_memory_is_the_hand_off_over_http(env: Sandbox) -> None:
    over_http = shift_handoff(shift_end=END, shift_start="-24h", deliver=["artifact"])
    source = MemorySource(seeded_week(DEFAULT_ANCHOR))
    asked = env.app.count("opsgenie")
    with use_source(source):
        from_memory = shift_handoff(shift_end=END, shift_start="-24h", deliver=["artifact"])
    assert env.app.count("opsgenie") == asked
    assert source.calls["fetch_alerts"] == 2 and source.calls["on_call"] == 2
    assert from_memory == over_http and "## Incidents" in from_memory


def test_a_source_without_incidents_hands_off_saying_so(memory: MemorySource) -> None:
    """A source whose plan has no incidents API: the hand-off goes out and says why they are missing."""
    memory.failing["fetch_incidents"] = NotAvailableError("Memory", "incidents need the Standard plan")
    markdown = shift_handoff(shift_end=END, shift_start="-24h", deliver=["artifact"])
    assert "Incidents are not available from opsgenie: incidents need the Standard plan" in markdown
    assert "On-call hand-off" in markdown and memory.calls["fetch_alerts"] == 2


def test_a_schedule_the_source_does_not_have_fails_the_run_naming_it(memory: MemorySource) -> None:
    state = shift_handoff(schedule="Nights", shift_end=END, deliver=["artifact"], return_state=True)
    assert state.is_failed()
    with pytest.raises(NotFoundError, match="'Nights'"):
        state.result()
    assert memory.calls["fetch_alerts"] == 0  # nothing read before the schedule was known


def test_runbook_gaps_plans_the_same_gaps_from_memory_as_over_http(env: Sandbox) -> None:
    params = {"window": "-7d", "window_end": DEFAULT_ANCHOR.isoformat(), "dry_run": True}
    over_http = runbook_gaps(**params)
    source = MemorySource(seeded_week(DEFAULT_ANCHOR))
    with use_source(source):
        from_memory = runbook_gaps(**params)
    assert from_memory == over_http and from_memory["gaps"] > 10
    assert source.calls["fetch_alerts"] == 1 and source.calls["get_alert"] == from_memory["kinds"]
