"""coe-prep and incident-watch end to end: one document and one row per incident, whatever happens."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.variables import Variable

from flows.coe_prep import coe_prep
from flows.incident_watch import WATERMARK, incident_watch
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tests.flows.conftest import LONG, coes, rows, wait_for_runs

SHORT = "inc-7f3a-0002"  # 6 minutes
OPEN = "inc-7f3a-0003"
ROOT = Path(__file__).resolve().parents[2]


def _google_api_calls(sandbox: Sandbox, since: int) -> int:
    return sum(
        1 for s in sandbox.app.served[since:] if s.system == "google" and not s.path.endswith("/token")
    )


def test_a_new_coe_costs_six_requests_and_an_existing_one_three(google: Sandbox) -> None:
    mark = len(google.app.served)
    result = coe_prep(incident_id=LONG)
    assert result["status"] == "created" and _google_api_calls(google, mark) <= 6
    [doc] = coes(google, LONG)
    text = google.state.google.text(doc["id"])
    assert "{{" not in text and "COE: xPro unavailable" in text and "(49m 00s)" in text
    assert doc["name"] == "COE 2026-11-21 xPro unavailable: RDS storage exhausted on the xpro applications db"
    [row] = rows(google, LONG)
    assert row[4:6] == ["P1", f"https://docs.google.com/document/d/{doc['id']}/edit"] and row[7] == "Draft"
    assert (
        len(google.state.slack.messages) == 1
        and "next review meeting" in google.state.slack.messages[0]["text"]
    )

    mark = len(google.app.served)
    again = coe_prep(incident_id=LONG)
    assert again["status"] == "exists" and _google_api_calls(google, mark) <= 3
    assert (
        len(coes(google, LONG)) == 1
        and len(rows(google, LONG)) == 1
        and len(google.state.slack.messages) == 1
    )


def test_a_crash_between_copy_and_fill_is_finished_by_the_rerun(google: Sandbox) -> None:
    """The batchUpdate never arrives (the process died): the rerun fills the copy it finds."""
    google.script("/google/docs/v1/documents/", 503, method="POST", times=20)
    state = coe_prep(incident_id=LONG, return_state=True)
    assert state.is_failed()
    assert len(coes(google, LONG)) == 1 and rows(google, LONG) == []
    google.app.script.clear()
    assert coe_prep(incident_id=LONG)["status"] == "exists"
    [doc] = coes(google, LONG)
    assert "{{" not in google.state.google.text(doc["id"]) and len(rows(google, LONG)) == 1


def test_a_rerun_after_the_slack_post_tells_the_team_nothing_more(google: Sandbox) -> None:
    """Slack is told, then the tracker row fails: the rerun writes the row and posts nothing."""
    google.script("/google/sheets/v4/spreadsheets/", 400, method="POST", times=1)
    assert coe_prep(incident_id=LONG, return_state=True).is_failed()
    assert len(google.state.slack.messages) == 1 and rows(google, LONG) == []
    assert coe_prep(incident_id=LONG)["status"] == "exists"
    assert len(rows(google, LONG)) == 1 and len(google.state.slack.messages) == 1


def test_a_lost_answer_to_the_copy_makes_no_second_document(google: Sandbox) -> None:
    google.script(f"/google/drive/v3/files/{google.state.coe_template}/copy", 502, method="POST", after=True)
    assert coe_prep(incident_id=LONG)["status"] == "exists"
    assert len(coes(google, LONG)) == 1 and len(rows(google, LONG)) == 1


def test_two_runs_at_once_make_one_document_and_one_row(google: Sandbox) -> None:
    google.faults("google", latency_ms=30)
    results: list[dict[str, Any]] = []
    runs = [threading.Thread(target=lambda: results.append(coe_prep(incident_id=LONG))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    assert sorted(r["status"] for r in results) == ["created", "exists"]
    assert len(coes(google, LONG)) == 1 and len(rows(google, LONG)) == 1


def test_short_open_and_unknown_incidents(google: Sandbox) -> None:
    skipped = coe_prep(incident_id=SHORT)
    assert skipped["status"] == "skipped" and "6m 00s" in skipped["reason"] and coes(google, SHORT) == []
    assert coe_prep(incident_id=SHORT, force=True)["status"] == "created"
    with pytest.raises(Exception, match="still open"):
        coe_prep(incident_id=OPEN)
    with pytest.raises(Exception, match="incident nope was not found"):
        coe_prep(incident_id="nope")
    with pytest.raises(Exception, match="exactly one of incident_id or alert_id"):
        coe_prep()


def test_bad_template_or_folder_leave_nothing_behind(google: Sandbox) -> None:
    with pytest.raises(Exception, match="folder-my-drive is in a My Drive"):
        coe_prep(incident_id=LONG, folder_id="folder-my-drive")
    with pytest.raises(Exception, match="ONCALL_COE_TEMPLATE_ID"):
        coe_prep(incident_id=LONG, template_doc_id="no-such-template")
    assert coes(google, LONG) == [] and rows(google, LONG) == []


def test_unknown_placeholders_are_named_after_the_known_ones_are_filled(google: Sandbox) -> None:
    google.state.google.add_doc(
        "doc-custom", "Custom COE", "# {{incident.title}}\n{{team.escalation_path}}\n{{timeline}}"
    )
    with pytest.raises(Exception, match=r"placeholders coe-prep does not know: team\.escalation_path"):
        coe_prep(incident_id=LONG, template_doc_id="doc-custom")
    [doc] = coes(google, LONG)
    assert "{{incident.title}}" not in google.state.google.text(doc["id"])
    assert len(rows(google, LONG)) == 1  # recorded, so nothing is half-written without a trace


def test_dry_run_writes_nothing(google: Sandbox) -> None:
    mark = len(google.app.served)
    result = coe_prep(incident_id=LONG, dry_run=True)
    assert (
        result["status"] == "dry-run" and "{{" not in result["text"] and "xPro unavailable" in result["text"]
    )
    assert _google_api_calls(google, mark) == 0


def test_incident_watch_triggers_coe_prep_through_the_deployment_trigger(
    google: Sandbox, coe_deployment: UUID
) -> None:
    Variable.set(WATERMARK, (DEFAULT_ANCHOR.replace(day=17)).isoformat(), overwrite=True)

    first = incident_watch()
    assert LONG in first["events"] and SHORT not in first["events"] and OPEN not in first["events"]
    assert wait_for_runs(coe_deployment, LONG)
    assert Variable.get(WATERMARK) == first["until"]
    second = incident_watch()
    assert second["events"] == [] and second["since"] == first["until"]
    # Teams that page without incidents: long closed P1/P2 alerts outside incidents get events too.
    Variable.set(WATERMARK, (DEFAULT_ANCHOR.replace(day=17)).isoformat(), overwrite=True)
    with_alerts = incident_watch(include_alerts=True, dry_run=True)
    assert LONG in with_alerts["events"] and any(e.startswith("alert-") for e in with_alerts["events"])
    assert Variable.get(WATERMARK) == (DEFAULT_ANCHOR.replace(day=17)).isoformat()  # a dry run keeps it


def test_two_watches_at_once_end_as_one(google: Sandbox, coe_deployment: UUID) -> None:
    """Both runs find the incident and emit its event; whatever runs the trigger starts, the
    end state is one COE and one row, and the watermark has moved past the incident."""
    since = (DEFAULT_ANCHOR.replace(day=17)).isoformat()
    Variable.set(WATERMARK, since, overwrite=True)
    google.faults("opsgenie", latency_ms=30)
    results: list[dict[str, Any]] = []
    runs = [threading.Thread(target=lambda: results.append(incident_watch())) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    # Overlapping, both emit the event; staggered, the second starts past the first's watermark.
    assert len(results) == 2 and all(r["events"] in ([LONG], []) for r in results)
    assert any(r["events"] == [LONG] for r in results)
    assert Variable.get(WATERMARK) in {r["until"] for r in results}
    triggered = wait_for_runs(coe_deployment, LONG)
    assert triggered
    for flow_run in triggered:  # what workers would do with them, one after the other or not
        coe_prep(**flow_run.parameters)
    assert len(coes(google, LONG)) == 1 and len(rows(google, LONG)) == 1
