"""incident-watch against a watermark it cannot trust."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.variables import Variable

import flows.incident_watch as watch_module
from flows.incident_watch import WATERMARK, incident_watch
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tests.flows.conftest import LONG

NOW = DEFAULT_ANCHOR + timedelta(days=1)  # the seeded 47-minute incident closed 3 days before


def test_a_watermark_in_the_future_is_logged_and_the_gap_is_caught_up(
    google: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A clock that jumped ahead left the watermark a year in the future: the run says so,
    looks back far enough to find the incident that closed meanwhile, and only then moves
    the watermark back to its own end."""
    monkeypatch.setattr(watch_module, "now", lambda: NOW)
    ahead = (NOW + timedelta(days=365)).isoformat()
    Variable.set(WATERMARK, ahead, overwrite=True)

    state = incident_watch(dry_run=True, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert LONG in result["events"] and result["watermark_problem"]
    assert Variable.get(WATERMARK) == ahead  # a dry run keeps it
    [warning] = [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING" and WATERMARK in r.getMessage()
    ]
    assert ahead in warning and "7 days" in warning

    done = incident_watch()
    assert LONG in done["events"] and Variable.get(WATERMARK) == NOW.isoformat() == done["until"]
    monkeypatch.setattr(watch_module, "now", lambda: NOW + timedelta(minutes=5))
    later = incident_watch(dry_run=True)  # the rewritten watermark is trusted again
    assert later["watermark_problem"] is None and later["since"] == NOW.isoformat()
