"""The COE tracker row's one home: its width, how a row is read back, the header check and the
merge rule a rerun follows."""

from __future__ import annotations

import pytest

from oncall.tracker import (
    DOC_COLUMN,
    HEADER_RANGE,
    TRACKER_COLUMNS,
    TRACKER_HEADER,
    TRACKER_RANGE,
    Merge,
    header_mismatches,
    merge,
    read_cells,
)


def test_the_ranges_span_the_header() -> None:
    assert TRACKER_COLUMNS == len(TRACKER_HEADER) == 9
    assert (TRACKER_RANGE, HEADER_RANGE) == ("A:I", "A1:I1")
    assert TRACKER_HEADER[DOC_COLUMN] == "COE doc"


def test_a_row_read_back_is_padded_and_cut_to_the_width() -> None:
    assert read_cells(["inc-1", 2.5]) == ["inc-1", "2.5"] + [""] * 7
    assert read_cells([str(n) for n in range(12)]) == [str(n) for n in range(9)]


def test_the_header_check_names_each_wrong_column() -> None:
    assert header_mismatches([f"  {h.upper()} " for h in TRACKER_HEADER]) == []
    wrong = list(TRACKER_HEADER)
    wrong[5] = "Doc"
    assert header_mismatches(wrong) == ["F is 'Doc', expected 'COE doc'"]
    assert header_mismatches(list(TRACKER_HEADER[:7])) == [
        "H is '', expected 'Status'",
        "I is '', expected 'Review date'",
    ]
    assert header_mismatches([*TRACKER_HEADER, "Notes"]) == ["J is 'Notes', expected ''"]


@pytest.mark.parametrize(
    ("found", "link", "outcome"),
    [(None, "", Merge.ADD), (4, "", Merge.LINK), (4, "  ", Merge.LINK), (4, "https://doc", Merge.KEEP)],
)
def test_a_rerun_adds_once_and_fills_only_an_empty_link(found: int | None, link: str, outcome: Merge) -> None:
    current = [] if found is None else ["inc-1", "by hand", "", "", "", link, "", "", ""]
    assert merge(found, current) is outcome
