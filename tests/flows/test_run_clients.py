"""One set of clients per flow run: a JSM run looks its cloud id up once, however many tasks
read from JSM, and the next run looks it up again (its clients were closed with the run)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import flow

from flows.shift_handoff import shift_handoff
from oncall.models import Incident, TimelineEntry, stand_in_id
from oncall.sandbox.server import Sandbox
from tasks.clients import run_clients
from tasks.coe import fetch_incident, fetch_timelines
from tasks.config import resolve_settings

CLOUD_ID_PATH = "/_edge/tenant_info"


@pytest.fixture
def jsm(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    for key in [k for k in os.environ if k.startswith("ONCALL_")]:
        monkeypatch.delenv(key)
    for key, value in sandbox.env("jsm").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path))
    yield sandbox


def _lookups(sandbox: Sandbox, since: int) -> int:
    return sum(1 for s in sandbox.app.served[since:] if s.path.endswith(CLOUD_ID_PATH))


@flow
def _story(alert_id: str) -> tuple[Incident, list[TimelineEntry]]:
    """Two tasks on JSM Operations: the alert standing in for an incident, and its log."""
    settings = resolve_settings()
    with run_clients(settings):
        incident = fetch_incident(settings, stand_in_id(alert_id))
        return incident, fetch_timelines(settings, incident, [alert_id])


def test_a_run_s_tasks_share_one_jsm_client(jsm: Sandbox) -> None:
    ops = jsm.state.jsm.ops
    alert = next(a["id"] for a in ops.alerts if a["status"] == "closed" and ops.alert_logs.get(a["id"]))
    before = len(jsm.app.served)
    incident, timeline = _story(alert)
    assert incident.id == stand_in_id(alert) and timeline  # both tasks read JSM
    assert _lookups(jsm, before) == 1
    _story(alert)
    assert _lookups(jsm, before) == 2  # a new run, new clients


def test_a_jsm_hand_off_looks_its_cloud_id_up_once(jsm: Sandbox) -> None:
    before = len(jsm.app.served)
    markdown = shift_handoff(shift_end="2026-11-24T10:00", deliver=["file"])
    assert "source: jsm" in markdown
    assert _lookups(jsm, before) == 1  # schedule, alerts twice, incidents, on call twice: one client
