"""incident-watch against a watermark it cannot trust."""

from __future__ import annotations

import re
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


def _artifact(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert found, f"no artifact {key}"
    # as the Prefect UI shows it: marked's backslash escapes read (see oncall/escape.py)
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(max(found, key=lambda a: a.created).data))


def test_each_run_publishes_what_it_found_and_emitted_and_where_its_window_began(
    google: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The first run looks back lookback_minutes; a later one starts at the watermark, and says
    that lookback_minutes was not used and why (in the log and in the artifact)."""
    monkeypatch.setattr(watch_module, "now", lambda: NOW)
    Variable.unset(WATERMARK)
    first = incident_watch(lookback_minutes=7 * 24 * 60)
    assert LONG in first["events"]
    report = _artifact("incident-watch")
    assert "lookback_minutes (10080)" in report and "no watermark" in report
    row = next(ln for ln in report.splitlines() if f"| {LONG} |" in ln)
    assert row.startswith("| emitted | 47 min |")

    monkeypatch.setattr(watch_module, "now", lambda: NOW + timedelta(minutes=5))
    caplog.clear()
    again = incident_watch(lookback_minutes=7 * 24 * 60, dry_run=True)
    assert again["events"] == [] and again["since"] == NOW.isoformat()
    report = _artifact("incident-watch-dry-run")
    assert f"the watermark {NOW.isoformat()}" in report
    assert "lookback_minutes (10080) is not used" in report
    said = [r.getMessage() for r in caplog.records if "lookback_minutes" in r.getMessage()]
    assert said and "watermark" in said[0] and "not used" in said[0]
