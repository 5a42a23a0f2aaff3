"""The COE tracker's typed row: text as text, dates and durations as numbers with a number format.

Confirmed against Sheets v4's reference: `RAW` input is "not parsed and stored as-is" (a string
stays a string, a number a number); date serial numbers count days since 1899-12-30 (1900-01-01
12:00 is 2.5); `appendCells` adds rows "after the last row with data in a sheet" and needs at
least one field in `fields`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from oncall.clients.google import GoogleWorkspace, a1
from oncall.errors import NotFoundError
from oncall.sandbox.server import Sandbox
from oncall.sandbox.sheets_fake import Number
from oncall.tracker import TRACKER_FORMATS, tracker_row
from tests.factories import incident

TAB = "COE tracker"
START = datetime(2026, 11, 21, 19, 5, tzinfo=UTC)  # Sat 14:05 New York


@pytest.fixture
def gw(sandbox: Sandbox) -> Iterator[GoogleWorkspace]:
    with GoogleWorkspace(sandbox.state.service_account, base_url=sandbox.google_url) as client:
        yield client


def _row(key: str) -> list[str | float]:
    inc = incident(
        id=key,
        message='=HYPERLINK("http://evil")',
        created_at=START,
        resolved_at=START + timedelta(minutes=47),
    )
    return tracker_row(key, inc, "https://docs.example/d", "dana", "America/New_York", START)


def test_the_row_reads_back_as_the_sheet_shows_it_and_stores_numbers(
    gw: GoogleWorkspace, sandbox: Sandbox
) -> None:
    sheet = sandbox.state.coe_sheet
    gw.append_row(sheet, TAB, _row("inc-t1"), TRACKER_FORMATS)
    number, shown = gw.find_row(sheet, TAB, "inc-t1")
    assert number is not None
    assert shown[1] == '=HYPERLINK("http://evil")'  # a stringValue: never a formula
    assert shown[2:4] == ["2026-11-21 14:05", "0:47"] and shown[8] == "2026-11-26"
    stored = sandbox.state.sheets[sheet][TAB][number - 1]
    assert all(isinstance(stored[i], Number) for i in TRACKER_FORMATS)
    assert isinstance(stored[1], str) and not isinstance(stored[1], Number)
    assert round(stored[3] * 24 * 60, 6) == 47  # sums as minutes
    # UNFORMATTED_VALUE gives the numbers themselves, as Sheets does
    rng = f"'{TAB}'!A{number}:I{number}"
    raw = gw._sheets.values_get(sheet, rng, params={"valueRenderOption": "UNFORMATTED_VALUE"})
    assert raw["values"][0][2] == pytest.approx(46347.586805555555) and raw["values"][0][1].startswith("=")


def test_durations_over_a_day_keep_counting_hours(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    sheet = sandbox.state.coe_sheet
    row = _row("inc-t2")
    row[3] = timedelta(hours=26, minutes=5) / timedelta(days=1)
    gw.append_row(sheet, TAB, row, TRACKER_FORMATS)
    assert gw.find_row(sheet, TAB, "inc-t2")[1][3] == "26:05"


def test_raw_values_writes_keep_numbers_as_numbers(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    sheet = sandbox.state.coe_sheet
    gw.append_row(sheet, TAB, ["inc-t3", "t"])
    number, _ = gw.find_row(sheet, TAB, "inc-t3")
    assert number is not None
    gw._sheets.values_update(sheet, f"'{TAB}'!C{number}", {"valueInputOption": "RAW"}, {"values": [[2.5]]})
    stored = sandbox.state.sheets[sheet][TAB][number - 1][2]
    assert isinstance(stored, Number) and stored == 2.5
    assert gw.find_row(sheet, TAB, "inc-t3")[1][2] == "2.5"


def test_an_unknown_tab_is_named(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    with pytest.raises(NotFoundError, match="no tab 'Nope'; check ONCALL_COE_SHEET_TAB"):
        gw.append_row(sandbox.state.coe_sheet, "Nope", ["x"])


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"appendCells": {"sheetId": 0, "rows": []}}, "At least one field must be specified"),
        ({"appendCells": {"sheetId": 99, "rows": [], "fields": "*"}}, "No grid with id: 99"),
    ],
)
def test_the_fake_refuses_what_sheets_refuses(
    gw: GoogleWorkspace, sandbox: Sandbox, request_: dict[str, object], message: str
) -> None:
    token = gw.credentials
    gw._grid_id(sandbox.state.coe_sheet, TAB)  # a valid token
    answer = httpx.post(
        f"{sandbox.google_url}/sheets/v4/spreadsheets/{sandbox.state.coe_sheet}:batchUpdate",
        json={"requests": [request_]},
        headers={"Authorization": f"Bearer {token.token}"},
    )
    assert answer.status_code == 400 and message in answer.text


def test_a_tab_named_with_a_quote_is_read_and_written(gw: GoogleWorkspace, sandbox: Sandbox) -> None:
    """Sheets reads `'O''Neil COEs'!A:I` as tab O'Neil COEs: every range the client sends quotes it."""
    sheet, tab = sandbox.state.coe_sheet, "O'Neil COEs"
    assert a1(tab, "A1:I1") == "'O''Neil COEs'!A1:I1"
    sandbox.state.sheets[sheet][tab] = [["Incident ID", "Title"]]
    gw.append_row(sheet, tab, ["inc-q1", "quoted"])
    number, _ = gw.find_row(sheet, tab, "inc-q1")
    assert number == 2 and gw.sheet_header(sheet, tab) == ["Incident ID", "Title"]
    gw.write_cell(sheet, tab, number, 5, "https://doc")
    assert sandbox.state.sheets[sheet][tab][1][5] == "https://doc"
