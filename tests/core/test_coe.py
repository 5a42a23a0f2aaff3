from __future__ import annotations

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
    review_date,
)
from oncall.models import Priority, TimelineEntry
from oncall.watch import coe_candidates
from tests.factories import START, alert, coe_facts, incident, on_call

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
    assert v["incident.duration"] == "49m 00s"  # from the first alert, two minutes before the incident
    assert v["incident.time_to_detect"] == "0s"
    assert v["incident.time_to_acknowledge"] == "3m 00s" and v["incident.acknowledged_by"] == "dana"
    assert v["incident.time_to_resolve"] == "49m 00s"
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
    assert check.missing == [] and check.unknown == []
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
    assert set(PLACEHOLDER.findall(docx_text(DOCX))) == set(PLACEHOLDERS)
