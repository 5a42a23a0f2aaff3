from __future__ import annotations

from datetime import timedelta

from oncall.handoff import is_escalated, summarize_shift
from oncall.models import Priority
from tests.factories import END, START, alert, context, incident, on_call

DISK = "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ext4 ip-10-7-0-{} integrations/linux_host warning)"
MEM = "[Prometheus]: [FIRING:1] MemoryUsageWarning operations-qa (memory ip-10-1-3-{} integrations/linux_host warning)"


def summarize(alerts, open_alerts=(), incidents=(), **ctx):  # type: ignore[no-untyped-def]
    return summarize_shift(
        context(**ctx), list(alerts), list(open_alerts), list(incidents), on_call("dana"), on_call("alice")
    )


def test_kinds_group_across_hosts_and_rank_by_occurrences() -> None:
    alerts = [alert(DISK.format(i), count=1) for i in range(3)] + [alert(MEM.format(1), count=10)]
    s = summarize(alerts)
    assert [(k.kind, k.alerts, k.occurrences) for k in s.kinds] == [
        ("MemoryUsageWarning memory", 1, 10),
        ("DiskUsageWarning xqwatcher filesystem ext4", 3, 3),
    ]
    assert s.alerts == 4 and s.occurrences == 13


def test_only_alerts_created_in_the_window_count() -> None:
    s = summarize([alert(at=START - timedelta(seconds=1)), alert(at=START), alert(at=END)])
    assert s.alerts == 1


def test_after_hours_uses_team_zone() -> None:
    # 14:00 UTC Tuesday is 09:00 New York (business); 13:59 UTC is 08:59 (after hours).
    inside = alert(at=START - timedelta(hours=1) + timedelta(days=1))
    outside = alert(at=START - timedelta(hours=1, minutes=1) + timedelta(days=1))
    s = summarize([inside, outside])
    assert s.after_hours == 1
    assert summarize([inside, outside], timezone="UTC").after_hours == 0


def test_still_open_includes_alerts_older_than_the_shift_and_sorts_by_priority() -> None:
    old = alert(at=START - timedelta(days=3), status="open", priority=Priority.P3)
    fresh = alert(at=START + timedelta(days=2), status="open", priority=Priority.P1)
    closed = alert(at=START + timedelta(days=2), status="closed")
    s = summarize([fresh, closed], open_alerts=[old])
    assert [a.id for a in s.still_open] == [fresh.id, old.id]


def test_mtta_mttr_are_means_over_acknowledged_and_closed() -> None:
    a = alert(ack_after=timedelta(minutes=2), close_after=timedelta(minutes=10))
    b = alert(ack_after=timedelta(minutes=4), close_after=timedelta(minutes=30))
    c = alert(status="open")
    s = summarize([a, b, c])
    assert s.mtta == timedelta(minutes=3)
    assert s.mttr == timedelta(minutes=20)
    assert (s.acknowledged, s.closed) == (2, 2)
    assert summarize([c]).mtta is None


def test_escalation_rules() -> None:
    after = timedelta(minutes=5)
    assert is_escalated(alert(ack_after=timedelta(minutes=6)), after, END)
    assert not is_escalated(alert(ack_after=timedelta(minutes=4)), after, END)
    # A P1 nobody acknowledged for 20 minutes escalated; a P4 auto-resolved did not.
    assert is_escalated(alert(priority=Priority.P1, close_after=timedelta(minutes=20)), after, END)
    assert not is_escalated(alert(priority=Priority.P4, close_after=timedelta(minutes=20)), after, END)
    assert is_escalated(alert(priority=Priority.P2, status="open", at=END - timedelta(minutes=6)), after, END)
    assert not is_escalated(
        alert(priority=Priority.P2, status="open", at=END - timedelta(minutes=4)), after, END
    )


def test_priorities_are_counted_and_incidents_filtered_to_the_shift() -> None:
    alerts = [alert(priority=Priority.P1), alert(priority=Priority.P1), alert(priority=Priority.P4)]
    inside = incident(id="in", created_at=START + timedelta(hours=1), resolved_at=START + timedelta(hours=2))
    before = incident(id="before", created_at=START - timedelta(hours=1))
    s = summarize(alerts, incidents=[inside, before])
    assert s.by_priority == {"P1": 2, "P2": 0, "P3": 0, "P4": 1, "P5": 0}
    assert [i.id for i in s.incidents] == ["in"]
    assert s.incidents[0].duration == timedelta(hours=1)
