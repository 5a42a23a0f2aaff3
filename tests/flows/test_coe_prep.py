"""coe-prep and incident-watch end to end: one document and one row per incident, whatever happens."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.variables import Variable

from flows.coe_prep import coe_prep
from flows.incident_watch import WATERMARK, incident_watch
from oncall import escape
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tasks.coe import copy_record_name
from tests.flows.conftest import LONG, coes, rows, wait_for_runs

SHORT = "inc-7f3a-0002"  # 6 minutes
OPEN = "inc-7f3a-0003"
ROOT = Path(__file__).resolve().parents[2]


def _google_api_calls(sandbox: Sandbox, since: int) -> int:
    return sum(
        1 for s in sandbox.app.served[since:] if s.system == "google" and not s.path.endswith("/token")
    )


def test_a_new_coe_costs_eight_requests_and_an_existing_one_three(google: Sandbox) -> None:
    from oncall.sandbox.google_fake import Table

    mark = len(google.app.served)
    result = coe_prep(incident_id=LONG)
    # find, copy, read, the timeline table's read, fill; the sheet's read, the tab's id, the append
    assert result["status"] == "created" and _google_api_calls(google, mark) <= 8
    [doc] = coes(google, LONG)
    text = google.state.google.text(doc["id"])
    assert "{{" not in text and "COE: xPro unavailable" in text and "(47m 00s)" in text
    # the timeline is a native table: a header and a row per entry, oldest first
    [timeline] = [
        e
        for e in google.state.google.docs[doc["id"]].body
        if isinstance(e, Table) and e.rows[0][0].text.startswith("time (")
    ]
    assert [c.text for c in timeline.rows[0]] == ["time (America/New_York)", "who", "what"]
    times = [r[0].text for r in timeline.rows[1:]]
    assert len(times) > 3 and times == sorted(times) and all(len(r) == 3 for r in timeline.rows)
    assert doc["name"] == "COE 2026-11-21 xPro unavailable: RDS storage exhausted on the xpro applications db"
    [row] = rows(google, LONG)
    assert (
        row[4:6] == ["P1", f"https://sandbox.invalid/google/document/d/{doc['id']}/edit"]
        and row[7] == "Draft"
    )
    assert [str(c) for c in row[2:4]] == ["2026-11-21 14:05", "0:47"]  # numbers, as the sheet shows them
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


def test_a_lost_answer_to_the_tracker_append_writes_no_second_row(google: Sandbox) -> None:
    """Sheets appended the row and the answer was lost (a 502): appendCells is never sent blind
    again; the run fails, and the rerun finds the row instead of appending a second one."""
    sheet = google.state.coe_sheet
    google.script(f"/google/sheets/v4/spreadsheets/{sheet}:batchUpdate", 502, method="POST", after=True)
    state = coe_prep(incident_id=LONG, return_state=True)
    assert state.is_failed() and "a rerun finds the row first" in str(state.message)
    assert len(rows(google, LONG)) == 1  # the append happened
    assert coe_prep(incident_id=LONG)["status"] == "exists"
    assert len(rows(google, LONG)) == 1 and len(google.state.slack.messages) == 1


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
    with pytest.raises(Exception, match="fill the incident_id parameter"):
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
    # The preview in the UI shows the filled text literally: alert text renders no HTML or link.
    with get_client(sync_client=True) as client:
        [preview] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"coe-prep-{LONG}-dry-run"])),
            limit=1,
        )
    assert str(preview.data) == escape.literal_block(result["text"])


def test_a_run_reads_the_incident_s_timeline_once(google: Sandbox) -> None:
    """OpsGenie keeps the resolve time on the incident's timeline, and the COE quotes the same
    timeline: one read serves both (the bench's minimum counts one)."""
    mark = len(google.app.served)
    assert coe_prep(incident_id=LONG, dry_run=True)["status"] == "dry-run"
    timeline = f"/opsgenie/v2/incident-timelines/{LONG}/entries"
    assert [s.path for s in google.app.served[mark:]].count(timeline) == 1


def test_incident_watch_triggers_coe_prep_through_the_deployment_trigger(
    google: Sandbox, coe_deployment: UUID
) -> None:
    Variable.set(WATERMARK, (DEFAULT_ANCHOR.replace(day=17)).isoformat(), overwrite=True)

    first = incident_watch()
    assert LONG in first["events"] and SHORT not in first["events"] and OPEN not in first["events"]
    assert wait_for_runs(coe_deployment, incident_id=LONG)
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
    triggered = wait_for_runs(coe_deployment, incident_id=LONG)
    assert triggered
    for flow_run in triggered:  # what workers would do with them, one after the other or not
        coe_prep(**flow_run.parameters)
    assert len(coes(google, LONG)) == 1 and len(rows(google, LONG)) == 1


def _tracker_row(sandbox: Sandbox, incident: str) -> list[str]:
    [row] = rows(sandbox, incident)
    return row


def test_a_rerun_keeps_what_people_wrote_in_the_tracker_row(google: Sandbox) -> None:
    """People retitle, reprioritise, name the on-call and clear the status; reruns keep all of it.
    The cleared cells are the row's last ones, which Sheets leaves out of its answer."""
    coe_prep(incident_id=LONG)
    row = _tracker_row(google, LONG)
    row[1], row[4] = "Checkout: RDS full (edited)", "P2"
    row[6:] = ["", "", ""]
    for _ in range(2):
        assert coe_prep(incident_id=LONG)["tracked"] == "unchanged"
        assert _tracker_row(google, LONG)[:9] + [""] * (9 - len(_tracker_row(google, LONG))) == row[:9]


def test_a_row_made_by_hand_gets_only_the_document_link(google: Sandbox) -> None:
    google.state.sheets[google.state.coe_sheet]["COE tracker"].append([LONG, "Added by hand"])
    first = coe_prep(incident_id=LONG)
    assert first["tracked"] == "linked"
    assert _tracker_row(google, LONG) == [LONG, "Added by hand", "", "", "", first["document"]]
    assert coe_prep(incident_id=LONG)["tracked"] == "unchanged"


def test_a_lost_copy_answer_with_lagging_search_makes_one_document(
    google: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drive made the copy, the answer was lost, and Drive search does not show the copy yet:
    reruns in that time copy nothing, and the first rerun after it finds the one copy."""
    monkeypatch.setenv("ONCALL_COE_COPY_SETTLE_SECONDS", "30")
    google.state.google.search_lag_seconds = 3600.0
    try:
        google.script(
            f"/google/drive/v3/files/{google.state.coe_template}/copy", 502, method="POST", after=True
        )
        assert coe_prep(incident_id=LONG, return_state=True).is_failed()
        rerun = coe_prep(incident_id=LONG, return_state=True)
        assert rerun.is_failed() and "copies again only after" in str(rerun.message)
        assert len(coes(google, LONG)) == 1
        google.state.google.search_lag_seconds = 0.0  # search has caught up
        assert coe_prep(incident_id=LONG)["status"] == "exists"
        assert len(coes(google, LONG)) == 1 and len(rows(google, LONG)) == 1
    finally:
        google.state.google.search_lag_seconds = 0.0


def test_a_copy_answer_in_no_shape_drive_sends_keeps_the_attempt(
    google: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drive made the copy and a proxy answered 200 with its own page: the copy may exist, so
    reruns wait for search instead of copying again."""
    monkeypatch.setenv("ONCALL_COE_COPY_SETTLE_SECONDS", "30")
    google.state.google.search_lag_seconds = 3600.0
    try:
        google.script(
            f"/google/drive/v3/files/{google.state.coe_template}/copy",
            200,
            method="POST",
            after=True,
            body=b"<html>Proxy says hello</html>",
        )
        assert coe_prep(incident_id=LONG, return_state=True).is_failed()
        assert Variable.get(copy_record_name(LONG))["copy_sent_at"] is not None
        rerun = coe_prep(incident_id=LONG, return_state=True)
        assert rerun.is_failed() and "copies again only after" in str(rerun.message)
        assert len(coes(google, LONG)) == 1
    finally:
        google.state.google.search_lag_seconds = 0.0


def test_a_copy_that_never_happened_is_made_once_the_wait_is_over(
    google: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 to the copy may or may not hide a copy; when the wait passes and search still shows
    none, there is none, and the rerun copies."""
    monkeypatch.setenv("ONCALL_COE_COPY_SETTLE_SECONDS", "600")
    google.script(f"/google/drive/v3/files/{google.state.coe_template}/copy", 503, method="POST", times=1)
    assert coe_prep(incident_id=LONG, return_state=True).is_failed() and coes(google, LONG) == []
    blocked = coe_prep(incident_id=LONG, return_state=True)
    assert blocked.is_failed() and "copies again only after" in str(blocked.message)
    assert coes(google, LONG) == []
    # Ten minutes later, as far as the record is concerned:
    record = Variable.get(copy_record_name(LONG))
    sent = datetime.fromisoformat(record["copy_sent_at"]) - timedelta(seconds=601)
    Variable.set(copy_record_name(LONG), {**record, "copy_sent_at": sent.isoformat()}, overwrite=True)
    assert coe_prep(incident_id=LONG)["status"] == "created" and len(coes(google, LONG)) == 1


def test_a_known_copy_is_read_by_its_id_not_searched(google: Sandbox) -> None:
    """Once a run knows its copy's id, later runs read the file by id: search may lag, reads do not."""
    coe_prep(incident_id=LONG)
    google.state.google.search_lag_seconds = 3600.0  # search would see nothing for an hour
    try:
        mark = len(google.app.served)
        assert coe_prep(incident_id=LONG)["status"] == "exists" and len(coes(google, LONG)) == 1
        assert not any(s.path.endswith("/drive/v3/files") for s in google.app.served[mark:])
    finally:
        google.state.google.search_lag_seconds = 0.0


def test_the_number_the_hand_off_shows_prepares_the_incident_s_one_coe(google: Sandbox) -> None:
    """`oncall coe prep 101`: the document, the row and the lock are the incident's id's, so a
    run by number and one by id (as incident-watch triggers) end with one COE."""
    by_number = coe_prep(incident_id="101")
    assert by_number["incident"] == LONG and by_number["status"] == "created"
    assert coe_prep(incident_id=LONG)["status"] == "exists"
    assert len(coes(google, LONG)) == 1 and len(rows(google, LONG)) == 1


def test_the_cli_s_dry_run_of_a_short_incident_says_it_is_skipped(
    google: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was KeyError: 'text': a skipped incident's result has no document text to print."""
    from deployments import commands
    from deployments.cli import main

    monkeypatch.setattr(commands, "flow_env", lambda: None)  # this session's test server
    assert main(["coe", "prep", "102", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"incident: {SHORT}" in out and "status: skipped" in out and "6m 00s" in out
    assert coes(google, SHORT) == []


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({}, "incident_id"),
        ({"incident_id": " ", "alert_id": ""}, "incident_id"),
        ({"incident_id": LONG, "alert_id": "a-1"}, "alert_id"),
    ],
    ids=["nothing", "blank", "both"],
)
def test_a_run_from_the_ui_without_an_id_names_the_parameter_to_fill(
    google: Sandbox, given: dict[str, str], named: str
) -> None:
    state = coe_prep(**given, return_state=True)  # type: ignore[arg-type]
    assert state.is_failed()
    message = str(state.message)
    assert named in message and "parameter" in message and coes(google, LONG) == []
