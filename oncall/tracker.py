"""The COE tracker row: its one home. The columns, the formats of the numbers written there,
the width the Sheets client reads, how coe-prep builds an incident's row, and what a rerun may
change in a row that is already there.

Pure. The flow builds the row, the task asks `merge` what to write, and the Google client
writes it; the sandbox seeds `TRACKER_HEADER` and doctor compares a sheet's header with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from oncall import escape
from oncall.clock import local
from oncall.models import Incident, priority_label

Cell = str | float

# The tracker's columns, in tracker_row's order.
TRACKER_HEADER = (
    "Incident ID",
    "Title",
    "Start",
    "Duration",
    "Priority",
    "COE doc",
    "On call",
    "Status",
    "Review date",
)
TRACKER_COLUMNS = len(TRACKER_HEADER)
KEY_COLUMN = 0  # A: the incident id, how a rerun finds the row
DOC_COLUMN = TRACKER_HEADER.index("COE doc")  # F: the document's link, the one cell a rerun may fill
# Column (0-based) -> Sheets number format (type, pattern) of the numbers written there.
TRACKER_FORMATS: dict[int, tuple[str, str]] = {
    2: ("DATE_TIME", "yyyy-mm-dd hh:mm"),  # C: start
    3: ("TIME", "[h]:mm"),  # D: duration, summable past 24 hours
    8: ("DATE", "yyyy-mm-dd"),  # I: review date
}
SHEETS_EPOCH = datetime(1899, 12, 30)  # serial day 0 of Sheets (and Excel) dates
DAY = timedelta(days=1)


def column_letter(column: int) -> str:
    """The A1 letter of a 0-based column (the tracker is narrower than 26 columns)."""
    return chr(ord("A") + column)


LAST_COLUMN = column_letter(TRACKER_COLUMNS - 1)
TRACKER_RANGE = f"A:{LAST_COLUMN}"  # every row, all its columns: what a row lookup reads
HEADER_RANGE = f"A1:{LAST_COLUMN}1"  # the header row


def read_cells(values: list[object]) -> list[str]:
    """A row as Sheets answers it, at the tracker's full width: Sheets leaves a row's empty
    trailing cells out, so an empty cell reads as "" wherever it is."""
    cells = [str(v) for v in values][:TRACKER_COLUMNS]
    return cells + [""] * (TRACKER_COLUMNS - len(cells))


def header_mismatches(header: list[str]) -> list[str]:
    """How a sheet's first row differs from TRACKER_HEADER, a line per column (case and
    surrounding spaces do not count); empty when it matches."""
    if [h.strip().casefold() for h in header] == [h.casefold() for h in TRACKER_HEADER]:
        return []
    wanted = list(TRACKER_HEADER) + [""] * max(0, len(header) - TRACKER_COLUMNS)
    return [
        f"{column_letter(i)} is {got!r}, expected {want!r}"
        for i, (got, want) in enumerate(zip(header + [""] * TRACKER_COLUMNS, wanted, strict=False))
        if got.strip().casefold() != want.casefold()
    ]


def review_date(resolved: datetime, weekday: int = 3) -> datetime:
    """The next team review meeting after resolution (Thursdays by default)."""
    days = (weekday - resolved.weekday()) % 7 or 7
    return resolved + timedelta(days=days)


def serial_days(at: datetime, tz: str) -> float:
    """`at` as Sheets' date serial number: days since 1899-12-30, of the wall clock in `tz`
    (a sheet's cells carry no zone)."""
    wall = local(at, tz).naive()
    return (datetime(*wall.timetuple()[:6], wall.microsecond) - SHEETS_EPOCH) / DAY


def tracker_row(
    key: str, incident: Incident, document: str, on_call: str, tz: str, prepared_at: datetime
) -> list[Cell]:
    """The incident's tracker row: text as text, and start, duration and review date as numbers
    (formatted by TRACKER_FORMATS) so the sheet sorts and sums them."""
    resolved = incident.end or prepared_at
    review = local(review_date(resolved), tz).date()
    return [
        key,
        escape.cut(incident.message, 300),
        serial_days(incident.start, tz),
        incident.duration / DAY if incident.duration is not None else "not available",
        priority_label(incident.priority),
        document,
        on_call,
        "Draft",
        float((datetime(review.year, review.month, review.day) - SHEETS_EPOCH).days),
    ]


class Merge(StrEnum):
    """What a run writes to the tracker, given the row it found (the value is what it reports)."""

    ADD = "added"  # no row: append the whole row
    LINK = "linked"  # a row without a document link (added by hand): write the link only
    KEEP = "unchanged"  # a row with a link: it belongs to people now


def merge(found: int | None, current: list[str]) -> Merge:
    """The merge rule. coe-prep appends an incident's row once; an existing row belongs to
    people, so a rerun writes only the document link, and only into an empty cell."""
    if found is None:
        return Merge.ADD
    return Merge.KEEP if current[DOC_COLUMN].strip() else Merge.LINK
