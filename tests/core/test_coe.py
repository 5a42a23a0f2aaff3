from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from oncall.coe import (
    PLACEHOLDERS,
    TEMPLATE,
    CoeFacts,
    check_template,
    coe_title,
    coe_values,
    fill,
    incident_from_alert,
    leftover_placeholders,
    needs_coe,
    related_alerts,
    responder_label,
)
from oncall.handoff import summarize_shift
from oncall.handoff_render import render_markdown, render_slack
from oncall.models import Incident, OnCall, Person, Priority, Responder, TimelineEntry
from oncall.tracker import (
    SHEETS_EPOCH,
    TRACKER_FORMATS,
    TRACKER_HEADER,
    review_date,
    serial_days,
    tracker_row,
)
from oncall.watch import coe_candidates
from tests.factories import START, alert, coe_facts, context, incident, on_call

T0 = START + timedelta(days=2)
NY = "America/New_York"


def _incident(**kw):  # type: ignore[no-untyped-def]
    fields = {
        "id": "inc-1",
        "tiny_id": "101",
        "message": "Checkout down",
        "status": "closed",
        "priority": Priority.P1,
        "created_at": T0,
        "resolved_at": T0 + timedelta(minutes=47),
        "impacted_services": ("svc-shop",),
    }
    fields.update(kw)
    return incident(**fields)


def test_needs_coe_by_threshold_and_state() -> None:
    ten = timedelta(minutes=10)
    assert needs_coe(_incident(), ten)[0]
    short, reason = needs_coe(_incident(resolved_at=T0 + timedelta(minutes=6)), ten)
    assert not short and "6m 00s, under 10m 00s" in reason
    open_, reason = needs_coe(_incident(status="open", resolved_at=None), ten)
    assert not open_ and "still open" in reason


def test_values_times_and_durations() -> None:
    first = alert(
        "DiskFull",
        at=T0 - timedelta(minutes=2),
        tags=("incident-101",),
        ack_after=timedelta(minutes=3),
        acknowledged_by="dana",
    )
    other = alert("Noise", at=T0 + timedelta(minutes=1))
    related = related_alerts(_incident(), [first, other])
    assert related == [first]
    facts = CoeFacts(
        incident=_incident(),
        related=related,
        timeline=[
            TimelineEntry(at=T0, origin="incident", kind="IncidentCreated", text="created", actor="dana"),
            TimelineEntry(
                at=T0 + timedelta(minutes=47), origin="incident", kind="IncidentResolved", text="resolved"
            ),
        ],
        on_call=on_call("dana", "bruno"),
        timezone=NY,
        source="opsgenie",
        prepared_at=T0 + timedelta(hours=1),
    )
    v = coe_values(facts)
    assert set(v) == set(PLACEHOLDERS)
    # The incident's own start, not the first alert two minutes earlier: the hand-off's duration.
    assert v["incident.duration"] == "47m 00s"
    assert v["incident.time_to_detect"] == "0s; the first related alert came 2m 00s before the incident"
    assert v["incident.time_to_acknowledge"] == "3m 00s" and v["incident.acknowledged_by"] == "dana"
    assert v["incident.time_to_resolve"] == "47m 00s"
    assert v["incident.start"].startswith("Thu 2026-11-19 10:00")
    assert v["oncall.at_start"] == "dana, bruno" and v["source.name"] == "OpsGenie"
    assert v["timeline"].splitlines()[0].endswith("10:00:00 · dana · created")
    assert "DiskFull: 1 alert(s)" in v["alerts.list"]


def test_untagged_incidents_take_urgent_alerts_around_them() -> None:
    p1 = alert("A", at=T0 + timedelta(minutes=5), priority=Priority.P2)
    p4 = alert("B", at=T0 + timedelta(minutes=5), priority=Priority.P4)
    late = alert("C", at=T0 + timedelta(hours=3), priority=Priority.P1)
    assert related_alerts(_incident(), [p1, p4, late]) == [p1]


def test_alert_text_cannot_form_or_reexpand_a_placeholder() -> None:
    hostile = _incident(message="{{incident.title}} {{timeline}} }}{{ @here {")
    facts = coe_facts(hostile, timezone=NY, prepared_at=T0)
    values = coe_values(facts)
    filled = fill("Title: {{incident.title}}{x}} and {{incident.title}}", values)
    assert leftover_placeholders(filled) == []
    assert "{{" not in filled and "@here" in filled  # Docs pings nobody: the text stays as typed
    # Filling again changes nothing: no value became a placeholder.
    assert fill(filled, values) == filled


def test_default_template_uses_every_placeholder() -> None:
    check = check_template(TEMPLATE.read_text())
    # the timeline is there as a table (`timeline.table`), which takes the place of its text form
    assert check.missing == ["timeline"] and check.unknown == [] and check.missing_required == []
    custom = check_template("{{incident.title}} {{team.name}}")
    assert custom.unknown == ["team.name"] and "timeline" in custom.missing_required


def test_alert_stand_in_and_title_and_review_date() -> None:
    a = alert("DB down", at=T0, priority=Priority.P1, close_after=timedelta(minutes=30), status="closed")
    inc = incident_from_alert(a)
    assert inc.id == f"alert-{a.id}" and inc.duration == timedelta(minutes=30)
    assert coe_title(inc, NY) == "COE 2026-11-19 DB down"
    saturday = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    assert review_date(saturday).date().isoformat() == "2026-11-26"  # the next Thursday


def test_watch_candidates_skip_short_ones_and_alerts_of_incidents() -> None:
    ten = timedelta(minutes=10)
    tagged = alert(
        "In incident", at=T0, priority=Priority.P1, close_after=timedelta(minutes=40), tags=("incident-101",)
    )
    lone = alert("Lone P2", at=T0, priority=Priority.P2, close_after=timedelta(minutes=15))
    short = alert("Short P1", at=T0, priority=Priority.P1, close_after=timedelta(minutes=5))
    p3 = alert("Long P3", at=T0, priority=Priority.P3, close_after=timedelta(minutes=50))
    found = coe_candidates(
        [_incident(), _incident(id="inc-2", resolved_at=T0 + timedelta(minutes=3))],
        [tagged, lone, short, p3],
        ten,
    )
    assert [(c.incident_id, c.kind) for c in found] == [("inc-1", "incident"), (f"alert-{lone.id}", "alert")]
    assert found[0].resource_id == "oncall.incident.inc-1"
    assert found[0].event_id == coe_candidates([_incident()], [], ten)[0].event_id  # stable across runs


def test_the_shipped_docx_is_built_from_the_markdown_template(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET
    import zipfile

    from oncall.coe import PLACEHOLDER
    from oncall.template_docx import DOCX, build_docx, docx_text

    fresh = build_docx(TEMPLATE.read_text(), tmp_path / "coe.docx")
    assert fresh.read_bytes() == DOCX.read_bytes(), (
        "run `python -m oncall.template_docx` and commit the result"
    )
    with zipfile.ZipFile(DOCX) as z:
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                ET.fromstring(z.read(name))  # well-formed
    assert set(PLACEHOLDER.findall(docx_text(DOCX))) == set(PLACEHOLDERS) - {"timeline"}


def _story() -> tuple[CoeFacts, Incident]:
    """The seeded week's shape: three tagged alerts fire up to two minutes before the incident."""
    inc = _incident()
    related = [
        alert("RDS full", at=T0 - timedelta(minutes=2 - j), tags=("incident-101",), priority=Priority.P1)
        for j in range(3)
    ]
    return coe_facts(inc, related=related, timezone=NY), inc


def test_one_incident_has_one_duration_in_every_output() -> None:
    """Hand-off (markdown and Slack), COE, tracker row and incident-watch all tell 47 minutes."""
    facts, inc = _story()
    assert inc.duration == timedelta(minutes=47) and inc.start == T0 and inc.end == T0 + timedelta(minutes=47)
    summary = summarize_shift(context(), list(facts.related), [], [inc], on_call("dana"), on_call("alice"))
    [line] = [row for row in render_markdown(summary).splitlines() if "Checkout down" in row]
    slack = json.dumps(render_slack(summary))
    coe = coe_values(facts)
    row = tracker_row("inc-1", inc, "https://doc", "dana", NY, T0 + timedelta(hours=1))
    [watched] = coe_candidates([inc], [], timedelta(minutes=10))
    cells = [c.strip() for c in line.strip(" |").split(" | ")]
    assert "47m 00s" in cells and not any("49m" in c for c in cells)
    assert "Checkout down" in slack and "47m 00s" in slack and "49m" not in slack
    assert coe["incident.duration"] == coe["incident.time_to_resolve"] == "47m 00s"
    assert isinstance(row[3], float) and round(row[3] * 24 * 60, 6) == 47
    assert watched.duration_minutes == 47
    # and one start: the hand-off's "started" cell, the COE's start and the tracker's serial date
    assert "Thu 2026-11-19 10:00 EST" in cells and coe["incident.start"] == "Thu 2026-11-19 10:00 EST"
    assert isinstance(row[2], float)
    assert SHEETS_EPOCH + timedelta(days=row[2]) == datetime(2026, 11, 19, 10, 0)


def test_tracker_row_writes_numbers_where_the_sheet_sorts_and_sums() -> None:
    inc = _incident(message='=HYPERLINK("http://x")  a\ttitle')
    row = tracker_row("inc-1", inc, "https://doc", "dana", NY, T0)
    assert len(row) == len(TRACKER_HEADER) == 9 and set(TRACKER_FORMATS) == {2, 3, 8}
    assert all(isinstance(row[i], float) for i in TRACKER_FORMATS)
    assert all(isinstance(row[i], str) for i in range(9) if i not in TRACKER_FORMATS)
    assert [TRACKER_HEADER[i] for i in TRACKER_FORMATS] == ["Start", "Duration", "Review date"]
    assert row[1].startswith("=HYPERLINK")  # text stays text: RAW keeps it from becoming a formula
    # Sheets' documented example: 1900-01-01 12:00 is serial 2.5
    assert serial_days(datetime(1900, 1, 1, 17, 0, tzinfo=UTC), NY) == 2.5
    # the review date is the Thursday after resolution, a whole day number
    assert SHEETS_EPOCH + timedelta(days=row[8]) == datetime(2026, 11, 26)
    open_ = tracker_row("inc-2", _incident(resolved_at=None), "https://doc", "dana", NY, T0)
    assert open_[3] == "not available"


def test_responders_show_names_where_the_source_resolves_them() -> None:
    people = (Person(id="u-dana", name="dana.okafor@example.edu"), Person(id=None, name="nobody-id"))
    inc = _incident(
        responders=(
            Responder(type="team", id="team-ops-0001"),
            Responder(type="user", id="u-dana"),
            Responder(type="user", id="u-x", name="x@example.edu"),
            Responder(type="user", id="u-gone"),
        )
    )
    on = OnCall(schedule="Primary", at=T0, people=people)
    v = coe_values(coe_facts(inc, on_call=on))
    assert v["incident.responders"] == (
        "team id team-ops-0001, dana.okafor@example.edu, x@example.edu, user id u-gone"
    )
    assert responder_label(Responder(type="user", id="u-dana")) == "user id u-dana"


def test_opsgenie_on_call_users_without_a_name_show_their_id_labelled() -> None:
    from oncall.sources.opsgenie.records import on_call_people

    people = list(
        on_call_people([{"type": "user", "id": "u-1", "name": "a@x"}, {"type": "user", "id": "u-2"}])
    )
    assert [p.name for p in people] == ["a@x", "user id u-2"]


def test_the_timeline_table_has_a_row_per_entry_escaped_and_bounded() -> None:
    from oncall.clock import local
    from oncall.coe import VALUE_LIMIT, timeline_table

    inc = _incident()
    entries = [
        TimelineEntry(
            at=T0 + timedelta(minutes=n), origin="incident", kind="note", text=f"step {n}", actor="ada"
        )
        for n in (2, 1)
    ]
    hostile = TimelineEntry(
        at=T0 + timedelta(minutes=3),
        origin="alert-log",
        kind="log",
        text="a | b\n{{incident.title}}",
        actor=None,
    )
    facts = coe_facts(inc, timezone=NY, prepared_at=T0, timeline=[*entries, hostile])
    rows = timeline_table(facts)
    assert rows[0] == (f"time ({NY})", "who", "what")
    assert [r[2] for r in rows[1:3]] == ["step 1", "step 2"]  # oldest first
    assert rows[1][0] == local(T0 + timedelta(minutes=1), NY).format("YYYY-MM-DD HH:mm:ss")
    assert rows[3][1] == "system" and "{{" not in rows[3][2]
    text = coe_values(facts)["timeline.table"]
    lines = text.splitlines()
    assert lines[1] == "|---|---|---|" and len(lines) == 5
    assert all(line.count("|") == 4 for line in lines)  # a pipe or a line break in a cell cannot split it
    many = [
        TimelineEntry(at=T0 + timedelta(seconds=n), origin="alert-log", kind="log", text="x" * 1_000)
        for n in range(100)
    ]
    cut = timeline_table(coe_facts(inc, timeline=many))
    assert sum(len(c) for r in cut for c in r) < VALUE_LIMIT + 3_000
    assert cut[-1][0] == "…" and cut[-1][2].startswith(f"{100 - (len(cut) - 2)} more entries")
    assert timeline_table(coe_facts(inc))[1] == ("", "", "no entries")


def test_a_template_with_the_timeline_as_a_table_lacks_no_required_placeholder() -> None:
    assert (
        check_template("{{incident.title}} {{incident.duration}}\n{{timeline.table}}").missing_required == []
    )
