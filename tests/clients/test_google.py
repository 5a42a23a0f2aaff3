"""Google clients against the sandbox fakes; google-api-python-client and gspread check the fakes' shapes."""

from __future__ import annotations

from collections.abc import Iterator

import gspread
import pytest
from google.oauth2 import service_account
from googleapiclient.discovery import build

from oncall.clients.google import INCIDENT_KEY, GoogleWorkspace, _sheets_client, load_key
from oncall.errors import (
    AuthError,
    ConfigError,
    MalformedError,
    NotFoundError,
    RejectedError,
    UnavailableError,
)
from oncall.sandbox.google_fake import DOC_MIME
from oncall.sandbox.server import Sandbox


@pytest.fixture
def gw(sandbox: Sandbox) -> Iterator[GoogleWorkspace]:
    with GoogleWorkspace(sandbox.state.service_account, base_url=sandbox.google_url) as client:
        yield client


def test_copy_find_fill_and_read_back(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    assert gw.find_coe("inc-g1") is None
    doc = gw.copy_template(sandbox.state.coe_template, sandbox.state.coe_folder, "COE 2026-11-21 X", "inc-g1")
    assert doc.appProperties == {INCIDENT_KEY: "inc-g1"} and doc.mimeType == DOC_MIME
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


def test_tracker_rows_find_append_update(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    sheet = sandbox.state.coe_sheet
    assert gw.find_row(sheet, "COE tracker", "inc-g4") == (None, [])
    gw.append_row(sheet, "COE tracker", ["inc-g4", '=HYPERLINK("http://evil")', "x"])
    number, row = gw.find_row(sheet, "COE tracker", "inc-g4")
    assert number is not None and row[1].startswith("=HYPERLINK")  # stored RAW: never a formula
    gw.update_row(sheet, "COE tracker", number, ["inc-g4", "fixed"])
    assert gw.find_row(sheet, "COE tracker", "inc-g4")[1][:2] == ["inc-g4", "fixed"]
    with pytest.raises(NotFoundError, match="ONCALL_COE_SHEET_ID"):
        gw.find_row("no-such-sheet", "COE tracker", "x")


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
