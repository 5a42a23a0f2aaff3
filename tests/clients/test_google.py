"""Google clients against the sandbox fakes; google-api-python-client and gspread check the fakes' shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import count
from typing import Any

import gspread
import httpx
import pytest
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from oncall.clients.google import INCIDENT_KEY, GoogleWorkspace, _sheets_client, load_key
from oncall.errors import (
    AuthError,
    ConfigError,
    MalformedError,
    NotFoundError,
    RejectedError,
    UnavailableError,
)
from oncall.retry import RetryPolicy
from oncall.sandbox.google_fake import DOC_MIME
from oncall.sandbox.seed import sandbox_service_account
from oncall.sandbox.server import Sandbox
from oncall.sandbox.urls import SANDBOX_WEB
from tests.conftest import FakeSleep


@pytest.fixture
def gw(sandbox: Sandbox) -> Iterator[GoogleWorkspace]:
    with GoogleWorkspace(sandbox.state.service_account, base_url=sandbox.google_url) as client:
        yield client


def test_copy_find_fill_and_read_back(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    assert gw.find_coe("inc-g1") is None
    doc = gw.copy_template(sandbox.state.coe_template, sandbox.state.coe_folder, "COE 2026-11-21 X", "inc-g1")
    assert doc.appProperties == {INCIDENT_KEY: "inc-g1"} and doc.mimeType == DOC_MIME
    # The fake's document pages say they are the sandbox's: a demo never shows docs.google.com links.
    assert doc.link == f"{SANDBOX_WEB}/google/document/d/{doc.id}/edit"
    assert gw.find_coe("inc-g1") == doc
    assert "{{incident.title}}" in gw.document_text(doc.id)
    changed = gw.replace_all(
        doc.id, {"incident.title": "Checkout down", "incident.status": "closed", "nope": "x"}
    )
    assert changed == {"incident.title": 2, "incident.status": 1, "nope": 0}
    text = gw.document_text(doc.id)
    assert "{{incident.title}}" not in text and "COE: Checkout down" in text


def test_my_drive_folder_and_unwritable_folder_are_named(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    with pytest.raises(RejectedError, match=r"folder-my-drive is in a My Drive.*Shared Drive"):
        gw.copy_template(sandbox.state.coe_template, "folder-my-drive", "x", "inc-g2")
    sandbox.state.google.unwritable.add(sandbox.state.coe_folder)
    try:
        with pytest.raises(AuthError, match=f"share both with {sandbox.state.google.client_email}"):
            gw.copy_template(sandbox.state.coe_template, sandbox.state.coe_folder, "x", "inc-g2")
    finally:
        sandbox.state.google.unwritable.clear()
    with pytest.raises(NotFoundError, match="ONCALL_COE_TEMPLATE_ID"):
        gw.copy_template("no-such-doc", sandbox.state.coe_folder, "x", "inc-g2")
    assert gw.find_coe("inc-g2") is None  # nothing half-made


def test_a_template_that_is_not_a_doc_leaves_no_copy(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    sandbox.state.google.files["sheet-not-doc"] = {
        **sandbox.state.google.files[sandbox.state.coe_template],
        "id": "sheet-not-doc",
        "mimeType": "application/vnd.google-apps.spreadsheet",
    }
    with pytest.raises(RejectedError, match="not a Google Doc"):
        gw.copy_template("sheet-not-doc", sandbox.state.coe_folder, "x", "inc-g3")
    assert gw.find_coe("inc-g3") is None


def test_tracker_rows_find_append_and_write_one_cell(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    sheet = sandbox.state.coe_sheet
    assert gw.find_row(sheet, "COE tracker", "inc-g4") == (None, [])
    gw.append_row(sheet, "COE tracker", ["inc-g4", '=HYPERLINK("http://evil")', "x"])
    number, row = gw.find_row(sheet, "COE tracker", "inc-g4")
    assert number is not None and row[1].startswith("=HYPERLINK")  # stored RAW: never a formula
    gw.write_cell(sheet, "COE tracker", number, 5, "=1+1")
    assert gw.find_row(sheet, "COE tracker", "inc-g4")[1][:6] == ["inc-g4", row[1], "x", "", "", "=1+1"]
    with pytest.raises(NotFoundError, match="ONCALL_COE_SHEET_ID"):
        gw.find_row("no-such-sheet", "COE tracker", "x")


def test_a_row_whose_last_cells_are_empty_reads_back_whole(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    """Sheets leaves empty trailing cells out of its answer; the client gives every column back."""
    sheet = sandbox.state.coe_sheet
    gw.append_row(sheet, "COE tracker", ["inc-g5", "title", "", "", "", "", "", "", ""])
    assert gw.find_row(sheet, "COE tracker", "inc-g5")[1] == ["inc-g5", "title"] + [""] * 7


def _sheets_api(sandbox: Sandbox) -> Any:
    return build(
        "sheets",
        "v4",
        credentials=_official_credentials(sandbox),
        client_options={"api_endpoint": f"{sandbox.google_url}/sheets/"},
        static_discovery=True,
    )


def test_the_sheets_fake_drops_empty_trailing_cells_and_honours_major_dimension(sandbox: Sandbox) -> None:
    """As sheets.v4 documents for ValueRange: "empty trailing rows and columns will not be included"."""
    sheets = _sheets_api(sandbox)
    values = sheets.spreadsheets().values()
    sid, tab = sandbox.state.coe_sheet, "'Trailing'"
    sandbox.state.sheets[sid]["Trailing"] = []
    values.update(
        spreadsheetId=sid,
        range=f"{tab}!A1",
        valueInputOption="RAW",
        body={"values": [["a", "", "c", "", ""], ["", "", "", ""], ["d"], ["", ""]]},
    ).execute()
    rows = values.get(spreadsheetId=sid, range=f"{tab}!A1:E10").execute()
    assert rows["majorDimension"] == "ROWS" and rows["values"] == [["a", "", "c"], [], ["d"]]
    columns = values.get(spreadsheetId=sid, range=f"{tab}!A1:E10", majorDimension="COLUMNS").execute()
    assert columns["majorDimension"] == "COLUMNS" and columns["values"] == [["a", "", "d"], [], ["c"]]
    # A write in COLUMNS fills down; a null leaves its cell as it was.
    values.update(
        spreadsheetId=sid,
        range=f"{tab}!B1",
        valueInputOption="RAW",
        body={"majorDimension": "COLUMNS", "values": [[None, "b2", "b3"]]},
    ).execute()
    assert values.get(spreadsheetId=sid, range=f"{tab}!A1:C3").execute()["values"] == [
        ["a", "", "c"],
        ["", "b2"],
        ["d", "b3"],
    ]
    empty = values.get(spreadsheetId=sid, range=f"{tab}!A20:E30").execute()
    assert "values" not in empty
    # The official client refuses an unknown dimension itself; the API answers 400 INVALID_ARGUMENT.
    with AuthorizedSession(_official_credentials(sandbox)) as session:
        refused = session.get(
            f"{sandbox.google_url}/sheets/v4/spreadsheets/{sid}/values/{tab}!A1:E10",
            params={"majorDimension": "DIAGONAL"},
        )
    assert refused.status_code == 400 and refused.json()["error"]["status"] == "INVALID_ARGUMENT"
    del sandbox.state.sheets[sid]["Trailing"]
    sheets.close()


def test_bad_keys_are_config_errors_and_rejected_keys_name_the_setting(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError, match="not JSON"):
        load_key("{not json")
    with pytest.raises(ConfigError, match="service-account key file"):
        load_key('{"type": "authorized_user"}')
    other = {**sandbox.state.service_account, "client_email": "stranger@x.iam.gserviceaccount.com"}
    with GoogleWorkspace(other, base_url=sandbox.google_url) as gw, pytest.raises(AuthError) as err:
        gw.find_coe("x")
    assert "ONCALL_GOOGLE_SERVICE_ACCOUNT" in str(err.value) and "PRIVATE KEY" not in str(err.value)


def _official_credentials(sandbox: Sandbox) -> service_account.Credentials:
    info = {**sandbox.state.service_account, "token_uri": f"{sandbox.google_url}/token"}
    return service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/drive"]
    )


def test_google_api_python_client_runs_against_the_drive_and_docs_fakes(sandbox: Sandbox) -> None:
    """The official client, driven by Google's discovery documents, agrees with the fakes."""
    creds = _official_credentials(sandbox)
    drive = build(
        "drive",
        "v3",
        credentials=creds,
        client_options={"api_endpoint": f"{sandbox.google_url}/drive/v3/"},
        static_discovery=True,
    )
    docs = build(
        "docs",
        "v1",
        credentials=creds,
        client_options={"api_endpoint": f"{sandbox.google_url}/docs/"},
        static_discovery=True,
    )
    copy = (
        drive.files()
        .copy(
            fileId=sandbox.state.coe_template,
            supportsAllDrives=True,
            fields="id,name,parents,appProperties",
            body={
                "name": "COE official",
                "parents": [sandbox.state.coe_folder],
                "appProperties": {INCIDENT_KEY: "inc-official"},
            },
        )
        .execute()
    )
    found = (
        drive.files()
        .list(
            q=f"appProperties has {{ key='{INCIDENT_KEY}' and value='inc-official' }} and trashed = false",
            supportsAllDrives=True,
            includeItemsFromAllDrives=True,
            corpora="allDrives",
            fields="files(id,name)",
        )
        .execute()
    )
    assert [f["id"] for f in found["files"]] == [copy["id"]]
    got = drive.files().get(fileId=copy["id"], supportsAllDrives=True, fields="id,trashed").execute()
    assert got["id"] == copy["id"] and got["trashed"] is False
    reply = (
        docs.documents()
        .batchUpdate(
            documentId=copy["id"],
            body={
                "requests": [
                    {
                        "replaceAllText": {
                            "containsText": {"text": "{{incident.title}}", "matchCase": True},
                            "replaceText": "T",
                        }
                    }
                ]
            },
        )
        .execute()
    )
    assert reply["replies"][0]["replaceAllText"]["occurrencesChanged"] == 2
    doc = docs.documents().get(documentId=copy["id"]).execute()
    assert doc["documentId"] == copy["id"] and doc["body"]["content"][0]["sectionBreak"] == {
        "sectionStyle": {}
    }
    drive.files().delete(fileId=copy["id"], supportsAllDrives=True).execute()
    drive.close()
    docs.close()


def test_gspread_runs_against_the_sheets_fake(sandbox: Sandbox) -> None:
    creds = _official_credentials(sandbox)
    client = gspread.Client(auth=creds, http_client=_sheets_client(sandbox.google_url))
    book = client.open_by_key(sandbox.state.coe_sheet)
    sheet = book.worksheet("COE tracker")
    assert sheet.row_values(1)[0] == "Incident ID"
    sheet.append_row(["inc-gspread", "via gspread"], value_input_option="RAW")
    records = sheet.get_all_records()
    assert {"Incident ID": "inc-gspread", "Title": "via gspread"}.items() <= next(
        r for r in records if r["Incident ID"] == "inc-gspread"
    ).items()
    assert sheet.find("inc-gspread").row == len(sheet.get_all_values())
    number = sheet.find("inc-gspread").row
    sheet.update([["https://docs.example/d"]], f"F{number}", value_input_option="RAW")
    assert sheet.row_values(number) == ["inc-gspread", "via gspread", "", "", "", "https://docs.example/d"]
    assert sheet.get_values(f"A{number}:I{number}", major_dimension="COLUMNS")[-1] == [
        "https://docs.example/d"
    ]
    client.http_client.session.close()


@pytest.mark.parametrize(
    ("call", "path", "body", "error"),
    [
        ("find", "/drive/v3/files", b"<html>502 from a proxy</html>", MalformedError),
        ("find", "/drive/v3/files", b'{"files": "oops"}', MalformedError),
        ("find", "/drive/v3/files", b"[]", MalformedError),
        ("text", "/docs/v1/documents", b'{"body": {"content": [17]}}', MalformedError),
        ("fill", "/docs/v1/documents", b'{"replies": "oops"}', MalformedError),
        ("copy", "/drive/v3/files", b'["not", "a", "file"]', UnavailableError),
    ],
)
def test_a_broken_google_answer_is_a_clear_error(
    gw: GoogleWorkspace, sandbox: Sandbox, call: str, path: str, body: bytes, error: type[Exception]
) -> None:
    sandbox.script(f"/google{path}", 200, body=body, method="GET" if call in ("find", "text") else "POST")
    calls = {
        "find": lambda: gw.find_coe("inc-hostile"),
        "text": lambda: gw.document_text(sandbox.state.coe_template),
        "fill": lambda: gw.replace_all(sandbox.state.coe_template, {"a": "b"}),
        "copy": lambda: gw.copy_template(
            sandbox.state.coe_template, sandbox.state.coe_folder, "x", "inc-hostile"
        ),
    }
    with pytest.raises(error) as raised:
        calls[call]()
    assert "Google" in str(raised.value)
    if error is UnavailableError:
        assert "may have happened" in str(raised.value)


def test_drive_fake_generated_ids_copy_once_and_docs_refuse_them(sandbox: Sandbox) -> None:
    """files.generateIds and a copy that names its id, through the official client: a second copy
    with the id is 409 `duplicate`, an id Drive never gave is 400, and a Google Doc refuses any
    generated id (Drive: "Generated IDs are not supported for Docs Editors formats")."""
    drive = build(
        "drive",
        "v3",
        credentials=_official_credentials(sandbox),
        client_options={"api_endpoint": f"{sandbox.google_url}/drive/v3/"},
        static_discovery=True,
    )
    google = sandbox.state.google
    google.files["pdf-runbook"] = {
        **google.files[sandbox.state.coe_template],
        "id": "pdf-runbook",
        "mimeType": "application/pdf",
    }
    generated = drive.files().generateIds(count=2, space="drive", type="files").execute()
    assert generated["kind"] == "drive#generatedIds" and generated["space"] == "drive"
    first, second = generated["ids"]
    body = {"id": first, "name": "runbook copy", "parents": [sandbox.state.coe_folder]}
    made = drive.files().copy(fileId="pdf-runbook", supportsAllDrives=True, body=body).execute()
    assert made["id"] == first and made["mimeType"] == "application/pdf"

    def refusal(file_id: str, copy_body: dict[str, Any]) -> tuple[int, str]:
        with pytest.raises(HttpError) as refused:
            drive.files().copy(fileId=file_id, supportsAllDrives=True, body=copy_body).execute()
        return refused.value.resp.status, refused.value.error_details[0]["reason"]

    assert refusal("pdf-runbook", body) == (409, "duplicate")
    assert refusal("pdf-runbook", {**body, "id": "1madeUpByTheCaller"}) == (400, "fileIdNotUsable")
    assert refusal(sandbox.state.coe_template, {**body, "id": second}) == (403, "generatedIdNotSupported")
    assert [f for f in google.files.values() if f["name"] == "runbook copy"] == [google.files[first]]
    drive.files().delete(fileId=first, supportsAllDrives=True).execute()
    del google.files["pdf-runbook"]
    drive.close()


def test_drive_fake_search_lags_behind_a_new_file(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    """Search may miss a file made moments ago; a read by id sees it at once."""
    sandbox.state.google.search_lag_seconds = 0.5
    try:
        doc = gw.copy_template(sandbox.state.coe_template, sandbox.state.coe_folder, "x", "inc-lag")
        assert gw.find_coe("inc-lag") is None and gw.get_file(doc.id).id == doc.id
        time.sleep(0.6)
        assert gw.find_coe("inc-lag") == doc
    finally:
        sandbox.state.google.search_lag_seconds = 0.0


# The token exchange (a signed JWT for an access token) goes through the stage like every other
# request: it takes the configured attempts, backoff and transport, and google-auth's own retry
# loop (three tries, real sleeps) never runs above it.

_keys = count(1)


def _fresh_key(sandbox: Sandbox) -> dict[str, Any]:
    """The sandbox key under a key id no test used: its credentials are new, so the first call
    exchanges a token (credentials are shared per key in a process)."""
    return {**sandbox.state.service_account, "private_key_id": f"exchange-{next(_keys)}-{time.time_ns()}"}


def _token_statuses(sandbox: Sandbox) -> list[int]:
    """What the fake answered on its token endpoint, once every answer is recorded."""
    deadline = time.monotonic() + 2
    while True:
        statuses = [s.status for s in list(sandbox.app.served) if s.path == "/google/token"]
        if 0 not in statuses or time.monotonic() > deadline:
            return statuses
        time.sleep(0.01)


def test_a_5xx_on_the_token_endpoint_is_retried_by_the_stage(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    sandbox.app.served.clear()
    sandbox.script("/google/token", 503, method="POST")
    with GoogleWorkspace(
        _fresh_key(sandbox),
        base_url=sandbox.google_url,
        retry=RetryPolicy(attempts=3, base_delay=0.5),
        sleep=fake_sleep,
    ) as gw:
        assert gw.get_file(sandbox.state.coe_template).id == sandbox.state.coe_template
    assert _token_statuses(sandbox) == [503, 200]
    assert len(fake_sleep.calls) == 1 and 0.25 <= fake_sleep.calls[0] <= 0.5  # the policy's backoff


def test_a_token_endpoint_that_stays_down_is_tried_as_often_as_the_policy_says(
    sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    def tries(attempts: int) -> int:
        sandbox.app.served.clear()
        sandbox.script("/google/token", 503, method="POST", times=20)
        with (
            GoogleWorkspace(
                _fresh_key(sandbox),
                base_url=sandbox.google_url,
                retry=RetryPolicy(attempts=attempts, base_delay=0.5),
                sleep=fake_sleep,
            ) as gw,
            pytest.raises(UnavailableError, match="token exchange") as down,
        ):
            gw.find_coe("inc-token-down")
        assert down.value.status == 503
        sandbox.app.script.clear()
        return len(_token_statuses(sandbox))

    assert (tries(1), tries(4)) == (1, 4)


def test_a_dropped_token_answer_is_retried_through_the_transport_seam(fake_sleep: FakeSleep) -> None:
    """A connection lost on the token endpoint is retried like any read; and `transport` (the test
    seam every client shares) reaches the token endpoint too, not just Drive."""
    seen: list[str] = []
    token = "ya29.transport-seam-token"

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path == "/token":
            if seen.count("POST /token") == 1:
                raise httpx.RemoteProtocolError("peer closed connection", request=request)
            return httpx.Response(200, json={"access_token": token, "expires_in": 3599})
        assert request.headers["authorization"] == f"Bearer {token}"
        return httpx.Response(200, json={"id": "f1", "name": "COE", "mimeType": DOC_MIME})

    key = {**sandbox_service_account(), "private_key_id": f"seam-{time.time_ns()}"}
    with GoogleWorkspace(
        key,
        base_url="https://google.invalid",
        transport=httpx.MockTransport(answer),
        retry=RetryPolicy(attempts=3, base_delay=0.5),
        sleep=fake_sleep,
    ) as gw:
        assert gw.get_file("f1").id == "f1"
        assert gw.check_token() == key["client_email"]
    assert seen == ["POST /token", "POST /token", "GET /drive/v3/files/f1", "POST /token"]
    assert len(fake_sleep.calls) == 1


def test_read_document_gives_blocks_and_revision_and_names_the_status_of_a_failure(
    gw: GoogleWorkspace, sandbox: Sandbox
) -> None:
    from oncall.coe_doc import BlockKind

    doc = gw.copy_template(sandbox.state.coe_template, sandbox.state.coe_folder, "COE read back", "inc-g9")
    before = gw.read_document(doc.id)
    assert before.id == doc.id and before.title == "COE read back"
    headings = [b.text for b in before.blocks if b.kind is BlockKind.HEADING]
    assert "Corrective actions" in headings and "Timeline" in headings
    (table,) = [b for b in before.blocks if b.kind is BlockKind.TABLE]  # the actions table, pasted as text
    assert [c.text for c in table.rows[0]] == ["action", "owner", "issue", "due"]
    gw.replace_all(doc.id, {"incident.title": "Checkout down"})
    after = gw.read_document(doc.id)
    assert after.revision_id != before.revision_id  # every write moves the revision
    for missing, status in (("no-such-doc", 404), (sandbox.state.coe_folder, 400)):
        with pytest.raises(NotFoundError if status == 404 else RejectedError) as raised:
            gw.read_document(missing)
        assert raised.value.status == status


def test_tracker_values_is_one_read_of_every_row(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    sheet, tab = sandbox.state.coe_sheet, "COE tracker"
    gw.append_row(sheet, tab, ["inc-t1", "One", "", "", "P1"])
    gw.append_row(sheet, tab, ["inc-t2", "Two"])
    before = len(sandbox.app.served)
    values = gw.tracker_values(sheet, tab)
    del sandbox.state.sheets[sheet][tab][-2:]  # the rows this test added: later tests start without them
    assert values[0][0] == "Incident ID" and [row[0] for row in values[-2:]] == ["inc-t1", "inc-t2"]
    assert values[-1] == ["inc-t2", "Two"]  # Sheets leaves empty trailing cells out; read_cells pads
    assert len([s for s in sandbox.app.served[before:] if "/sheets/" in s.path]) == 1
