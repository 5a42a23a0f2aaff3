"""The hand-off's COE column and open corrective actions (issue 19): pure, no Prefect."""

from __future__ import annotations

from datetime import timedelta

from oncall.coe_action_filing import ActionMarker
from oncall.coe_doc import blocks_from_markdown
from oncall.coe_review import read_entries
from oncall.coe_sections import completeness
from oncall.handoff import summarize_shift
from oncall.handoff_coe import CoeNotes, incident_coes, open_actions, to_read_for
from oncall.handoff_render import render_markdown, render_slack
from oncall.models import IssueRef
from oncall.tracker import TRACKER_HEADER
from tests.factories import END, START, context, incident, on_call

TEMPLATE = blocks_from_markdown("## Impact\n\n- Who was affected?\n\n## Root cause\n\n_What broke?_\n")
HALF = blocks_from_markdown(
    "## Impact\n\nEvery learner on mitx, 40 minutes.\n\n## Root cause\n\n_What broke?_\n"
)
DOC = "https://docs.google.com/document/d/1AbCdEfGhIjKlMnOpQrStUv/edit"


def _row(incident_id: str, status: str, link: str = DOC) -> list[object]:
    cells = dict.fromkeys(TRACKER_HEADER, "")
    cells.update({"Incident ID": incident_id, "Title": "t", "COE doc": link, "Status": status})
    return [cells[name] for name in TRACKER_HEADER]


def _issue(number: int, state: str, body: str, age_days: float | None, **kw: object) -> IssueRef:
    created = END - timedelta(days=age_days) if age_days is not None else None
    return IssueRef(
        number=number,
        title=f"COE action: fix {number}",
        body=body,
        state=state,
        html_url=f"https://github.com/acme/ops/issues/{number}",
        created_at=created,
        **kw,
    )


LONG = incident(id="i-long", resolved_at=START + timedelta(days=1, minutes=45))
TRACKED = incident(id="i-tracked", resolved_at=START + timedelta(days=1, minutes=30))
SHORT = incident(id="i-short", resolved_at=START + timedelta(days=1, minutes=4))
OPEN = incident(id="i-open", status="open")


def test_each_incident_says_whether_a_coe_is_owed_and_how_far_the_tracked_one_is() -> None:
    entries = read_entries([list(TRACKER_HEADER), _row("i-tracked", "In review")], "UTC")
    read = {"i-tracked": completeness(TEMPLATE, HALF)}
    coes = incident_coes([LONG, TRACKED, SHORT, OPEN], entries, read, timedelta(minutes=10))
    assert coes["i-long"].needed and coes["i-long"].link is None
    assert coes["i-tracked"].status == "In review" and coes["i-tracked"].link == DOC
    assert coes["i-tracked"].written == "1/2 sections (50%)"
    assert not coes["i-short"].needed and "under 10m" in coes["i-short"].reason
    assert not coes["i-open"].needed and "still open" in coes["i-open"].reason
    # Only the shift's incidents with a COE that is not Done are read.
    done = read_entries([_row("i-long", "Done"), _row("i-tracked", "Draft"), _row("other", "Draft")], "UTC")
    assert [e.incident_id for e in to_read_for([LONG, TRACKED], done)] == ["i-tracked"]


def test_open_actions_are_the_open_action_issues_oldest_first_with_their_age() -> None:
    marker = ActionMarker(doc="doc1", fp="abc", incident="i-old").encode()
    issues = [
        _issue(1, "open", f"x\n{marker}", 2),
        _issue(2, "closed", marker, 9),
        _issue(3, "open", marker, 9.5),
        _issue(4, "open", "filed by a person, no marker", None),
        _issue(5, "open", marker, 20, is_pull_request=True),
    ]
    found = open_actions(issues, END)
    assert [(a.number, a.age) for a in found] == [(3, timedelta(days=9.5)), (1, timedelta(days=2)), (4, None)]
    assert found[0].incident_id == "i-old" and found[2].incident_id == ""
    assert found[0].title == "fix 3"


def _summary(notes: CoeNotes | None):  # type: ignore[no-untyped-def]
    return summarize_shift(
        context(), [], [], [LONG, TRACKED, SHORT], on_call("dana"), on_call("alice"), coe=notes
    )


def test_the_report_shows_the_coe_column_and_the_open_actions_escaped() -> None:
    entries = read_entries([_row("i-tracked", "In review")], "UTC")
    hostile = _issue(7, "open", "", 3).model_copy(update={"title": "COE action: <b>|drop| table</b> @here"})
    notes = CoeNotes(
        incidents=incident_coes(
            [LONG, TRACKED, SHORT],
            entries,
            {"i-tracked": completeness(TEMPLATE, HALF)},
            timedelta(minutes=10),
        ),
        open_actions=open_actions([hostile], END),
    )
    md = render_markdown(_summary(notes))
    header = next(line for line in md.splitlines() if line.startswith("| duration"))
    assert "| COE |" in header and header.endswith("| title |")
    assert f"[In review, 1/2 sections (50%)]({DOC})" in md
    assert "needed, none yet" in md and "not needed" in md
    section = md.split("## Open corrective actions (1)")[1]
    assert "3d" in section and "[#7](https://github.com/acme/ops/issues/7)" in section
    assert "\\<b>" in section and "\\|drop\\|" in section  # shown as typed, never a tag or a cell
    slack = render_slack(_summary(notes))
    text = "\n".join(
        str(b["text"]["text"]) for b in slack["blocks"] if "text" in b and b.get("type") == "section"
    )
    assert "COE: In review, 1/2 sections (50%)" in text and "Open corrective actions (1)" in text
    assert "<b>" not in text and "@here" not in text.replace("@\u200bhere", "")


def test_without_a_tracker_the_report_is_as_before() -> None:
    md = render_markdown(_summary(None))
    assert "COE" not in md.split("## Incidents")[1] and "corrective" not in md
